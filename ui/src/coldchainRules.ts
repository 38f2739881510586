// Pure rules of the cold-chain screens: reading a typed temperature, laying
// out a unit's readings as an SVG chart, and wording an excursion.
import type { ExcursionView } from './bindings/ExcursionView';
import type { ReadingView } from './bindings/ReadingView';

/** A typed temperature in °C (comma or point, optional sign), or null when it is none. */
export function parseTemperature(text: string): number | null {
  const cleaned = text.trim().replace(',', '.').replace(/\s*°?\s*C$/i, '');
  if (!/^[-+]?\d{1,3}(\.\d{1,2})?$/.test(cleaned)) return null;
  const value = Number(cleaned);
  return value >= -100 && value <= 100 ? value : null;
}

export interface ChartLayout {
  /** The polyline of readings, in SVG units. */
  points: string;
  /** The allowed band (min..max) as a rectangle's y and height. */
  band: { y: number; height: number } | null;
  /** Readings out of range, as dots. */
  outside: { x: number; y: number; t: number }[];
  /** Value axis ticks. */
  ticks: { y: number; label: string }[];
  /** Time axis: the first and last reading's time. */
  from: number;
  to: number;
}

/**
 * Lays `readings` (oldest first) out in a `width` × `height` box: time
 * across from `fromMs` to `toMs`, temperature up, the range always visible
 * with a margin.
 */
export function layoutChart(readings: ReadingView[], min: number | null, max: number | null, width: number, height: number, fromMs: number, toMs: number): ChartLayout {
  const values = readings.map((r) => r.temperature_c);
  const low = Math.min(...values, min ?? Infinity, max ?? Infinity);
  const high = Math.max(...values, min ?? -Infinity, max ?? -Infinity);
  const span = Number.isFinite(high - low) && high > low ? high - low : 10;
  const bottom = (Number.isFinite(low) ? low : 0) - span * 0.15;
  const top = (Number.isFinite(high) ? high : 10) + span * 0.15;
  const x = (at: number) => (toMs > fromMs ? ((at - fromMs) / (toMs - fromMs)) * width : 0);
  const y = (t: number) => height - ((t - bottom) / (top - bottom)) * height;
  const round = (n: number) => Math.round(n * 10) / 10;
  const points = readings.map((r) => `${round(x(r.at_ms))},${round(y(r.temperature_c))}`).join(' ');
  const band = min !== null && max !== null ? { y: round(y(max)), height: round(y(min) - y(max)) } : null;
  const outside = readings
    .filter((r) => (min !== null && r.temperature_c < min) || (max !== null && r.temperature_c > max))
    .map((r) => ({ x: round(x(r.at_ms)), y: round(y(r.temperature_c)), t: r.temperature_c }));
  const step = span > 20 ? 10 : span > 8 ? 5 : span > 3 ? 2 : 1;
  const ticks: ChartLayout['ticks'] = [];
  for (let v = Math.ceil(bottom / step) * step; v <= top; v += step) ticks.push({ y: round(y(v)), label: `${v}` });
  return { points, band, outside, ticks, from: fromMs, to: toMs };
}

/** "2026-11-25 14:05" in local time. */
export function formatTime(ms: number): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}`;
}

/** Open excursions first, newest first; one per unit. */
export function openExcursions(list: ExcursionView[]): ExcursionView[] {
  return list.filter((x) => x.status === 'open').sort((a, b) => b.detected_at_ms - a.detected_at_ms);
}
