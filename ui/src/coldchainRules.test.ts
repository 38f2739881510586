import { describe, expect, it } from 'vitest';
import { layoutChart, parseTemperature } from './coldchainRules';
import { routeSerialScans } from './scan';
import { FakeBackend } from './api/fake';

describe('typed temperatures', () => {
  it.each([
    ['4.5', 4.5], ['-18', -18], ['+7,2', 7.2], [' 5 °C', 5], ['100', 100], ['-100', -100],
    ['', null], ['abc', null], ['4.5.1', null], ['101', null], ['1e2', null], ['4.567', null],
  ])('%j reads as %j', (text, expected) => {
    expect(parseTemperature(text)).toBe(expected);
  });
});

describe('the readings chart', () => {
  const reading = (at: number, t: number) => ({ at_ms: at, temperature_c: t, humidity_pct: null, source: 'sensor' });
  it('spans the period, keeps the range in view and marks readings out of range', () => {
    const chart = layoutChart([reading(0, 4), reading(50, 12), reading(100, 5)], 2, 8, 200, 100, 0, 100);
    expect(chart.points.split(' ').map((p) => Number(p.split(',')[0]))).toEqual([0, 100, 200]);
    expect(chart.outside).toEqual([{ x: 100, y: expect.any(Number), t: 12 }]);
    const band = chart.band!;
    expect(band.height).toBeGreaterThan(0);
    // 12 °C is above the band's top edge (smaller y is higher).
    expect(chart.outside[0].y).toBeLessThan(band.y);
    expect(chart.ticks.length).toBeGreaterThan(1);
  });
  it('draws a unit without a range', () => {
    const chart = layoutChart([reading(0, -18), reading(10, -17)], null, null, 100, 50, 0, 10);
    expect(chart.band).toBeNull();
    expect(chart.outside).toEqual([]);
  });
});

describe('serial scans', () => {
  it('are delivered once each, in order: the ones emitted before listening first, then the events', async () => {
    const backend = new FakeBackend();
    backend.coldchain.serialScan('before-1');
    backend.coldchain.serialScan('before-2');
    const seen: string[] = [];
    const stop = routeSerialScans(backend, (scan) => seen.push(scan.data));
    // An event while the pending ones are being fetched waits behind them.
    backend.coldchain.serialScan('during');
    await new Promise((resolve) => setTimeout(resolve, 10));
    backend.coldchain.serialScan('after');
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(seen).toEqual(['before-1', 'before-2', 'during', 'after']);
    // Each was acknowledged: nothing is pending any more.
    expect(await backend.pendingSerialScans()).toEqual([]);
    stop();
    backend.coldchain.serialScan('stopped');
    expect(seen).toHaveLength(4);
  });
});
