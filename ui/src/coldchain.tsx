// Cold-chain pieces used beyond the cold-chain screen: the alarm banner every
// screen shows while an excursion is open, the temperature-gate dialog of the
// issue and transfer screens, and the readings chart (SVG, no chart library).
import { useState, type FormEvent } from 'react';
import type { ExcursionView } from './bindings/ExcursionView';
import type { ReadingView } from './bindings/ReadingView';
import { asApiError } from './api/backend';
import { Field } from './components';
import { formatTime, layoutChart, parseTemperature } from './coldchainRules';
import { useI18n } from './i18n';

/** The alarm shown on every screen while excursions are open. */
export function ColdchainAlarm({ excursions, onOpen }: { excursions: ExcursionView[]; onOpen: () => void }) {
  const { t } = useI18n();
  if (excursions.length === 0) return null;
  const units = excursions.map((x) => x.location).join(', ');
  return (
    <div className="banner banner-error coldchain-alarm" role="alert" data-testid="coldchain-alarm" data-count={excursions.length}>
      <span className="banner-icon" aria-hidden="true">🌡</span>
      <div className="banner-text"><strong>{t('alarmTitle')}</strong> <span>{t('alarmBanner', { units })}</span></div>
      <button type="button" className="danger" data-testid="coldchain-alarm-open" onClick={onOpen}>{t('alarmOpen')} (Alt+8)</button>
    </div>
  );
}

/**
 * The temperature gate: the core refused an issue of a cold-chain item for
 * lack of a recent reading. The clerk types what they measured; `onConfirm`
 * records it and posts again; a refusal (out of range) shows here.
 */
export function TemperatureGateDialog({ location, message, onConfirm, onCancel }: {
  location: string; message: string; onConfirm: (temperatureC: number) => Promise<void>; onCancel: () => void;
}) {
  const { t } = useI18n();
  const [text, setText] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const [refusal, setRefusal] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (busy) return;
    const value = parseTemperature(text);
    if (value === null) { setProblem(t('manualInvalid')); return; }
    setProblem(null);
    setBusy(true);
    try {
      await onConfirm(value);
    } catch (error) {
      setRefusal(asApiError(error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="dialog-backdrop">
      <form role="dialog" aria-modal="true" aria-labelledby="gate-title" className="dialog" data-testid="temperature-gate" onSubmit={(e) => void submit(e)}
        onKeyDown={(e) => { if (e.key === 'Escape') { e.preventDefault(); onCancel(); } }} noValidate>
        <h2 id="gate-title">{t('gateTitle')}</h2>
        <p className="muted">{message}</p>
        <p>{t('gateIntro', { location })}</p>
        <Field label={t('gateTemperature')} hint={problem ? <span className="field-error">{problem}</span> : undefined} narrow>
          <input data-testid="temperature-gate-input" className="num" autoFocus inputMode="decimal" value={text}
            onChange={(e) => { setText(e.target.value); setProblem(null); setRefusal(null); }} autoComplete="off" />
        </Field>
        {refusal ? <div className="banner banner-error" role="alert" data-testid="temperature-gate-refused"><strong>{t('gateRefused')}</strong> {refusal}</div> : null}
        <div className="form-actions">
          <button type="submit" className="primary" data-testid="temperature-gate-confirm" disabled={busy}>{t('gateConfirm')}</button>
          <button type="button" data-testid="temperature-gate-cancel" onClick={onCancel}>{t('cancel')}</button>
        </div>
      </form>
    </div>
  );
}

const CHART_W = 640;
const CHART_H = 180;

/** A unit's readings over a period as a line, its range as a band, readings out of range as red dots. */
export function ReadingsChart({ readings, min, max, fromMs, toMs, testId }: {
  readings: ReadingView[]; min: number | null; max: number | null; fromMs: number; toMs: number; testId: string;
}) {
  const { t } = useI18n();
  if (readings.length === 0) return <p className="muted chart-empty" data-testid={`${testId}-empty`}>{t('coldChartEmpty')}</p>;
  const chart = layoutChart(readings, min, max, CHART_W, CHART_H, fromMs, toMs);
  return (
    <figure className="readings-chart" data-testid={testId} data-points={readings.length}>
      <svg viewBox={`-34 -6 ${CHART_W + 40} ${CHART_H + 26}`} role="img" aria-label={t('coldChart', { hours: Math.round((toMs - fromMs) / 3_600_000) })}>
        {chart.band ? <rect x={0} y={chart.band.y} width={CHART_W} height={chart.band.height} className="chart-band" /> : null}
        {chart.ticks.map((tick) => (
          <g key={tick.label}>
            <line x1={0} x2={CHART_W} y1={tick.y} y2={tick.y} className="chart-grid" />
            <text x={-6} y={tick.y + 4} textAnchor="end" className="chart-label">{tick.label}</text>
          </g>
        ))}
        <polyline points={chart.points} className="chart-line" fill="none" />
        {chart.outside.map((p) => <circle key={`${p.x},${p.y}`} cx={p.x} cy={p.y} r={3} className="chart-out"><title>{p.t} °C</title></circle>)}
        <text x={0} y={CHART_H + 18} className="chart-label">{formatTime(fromMs)}</text>
        <text x={CHART_W} y={CHART_H + 18} textAnchor="end" className="chart-label">{formatTime(toMs)}</text>
      </svg>
    </figure>
  );
}
