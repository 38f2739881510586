// The scan detector: bursts from a scanner versus people typing, GS from
// Ctrl+], the AIM prefix, and, through installScanner on a real (jsdom)
// page, a field given back its value and an Enter that submits nothing.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { GS, installScanner, ScanDetector, SCAN_SETTLE_MS, type KeyVerdict, type ScanKey } from './scanner';

/** Feeds `text` one key every `gapMs` from `start`, then the terminator (if any); the verdicts. */
function feed(detector: ScanDetector, text: string, gapMs: number, terminator: string | null = 'Enter', start = 1000, target: unknown = 'body'): KeyVerdict[] {
  const keys: ScanKey[] = [...text].map((key, i) => ({ key, time: start + i * gapMs, target }));
  if (terminator) keys.push({ key: terminator, time: start + text.length * gapMs, target });
  return keys.map((k) => detector.key(k));
}

const last = (verdicts: KeyVerdict[]) => verdicts[verdicts.length - 1];

describe('ScanDetector', () => {
  it('takes a fast burst ending in Enter or Tab for a scan', () => {
    expect(last(feed(new ScanDetector(), '0109506000134352', 8))).toEqual({ kind: 'scan', data: '0109506000134352' });
    expect(last(feed(new ScanDetector(), 'SYR-5ML', 30, 'Tab'))).toEqual({ kind: 'scan', data: 'SYR-5ML' });
  });

  it('never takes typing by hand for a scan, however it ends', () => {
    // A quick typist: 60–120 ms between keys.
    const detector = new ScanDetector();
    const typed = [...'09506000134352'].map((key, i) => detector.key({ key, time: i * 60 + (i % 3) * 30, target: 'input' }));
    expect(typed.every((v) => v.kind === 'char')).toBe(true);
    expect(detector.key({ key: 'Enter', time: 14 * 60 + 40, target: 'input' })).toEqual({ kind: 'other' });
    // Just above the limit between every two keys is not a scan, however long.
    expect(last(feed(new ScanDetector(), '0109506000134352', 36))).toEqual({ kind: 'other' });
    // A rolled chord, two quick pairs and Enter: fast moments, but a person's average.
    const rolled = new ScanDetector();
    const keys: [string, number][] = [['a', 0], ['b', 10], ['c', 20], ['d', 130], ['e', 140], ['f', 250], ['Enter', 260]];
    expect(keys.map(([key, time]) => rolled.key({ key, time, target: 'input' })).pop()).toEqual({ kind: 'other' });
    // A fast roll of a few keys and Enter is still typing.
    expect(last(feed(new ScanDetector(), '25', 5))).toEqual({ kind: 'other' });
    expect(last(feed(new ScanDetector(), 'stent', 5))).toEqual({ kind: 'other' });
  });

  it('survives two short stalls of a busy page, but not a third or a long pause', () => {
    const withStalls = (stalls: number[]) => {
      const detector = new ScanDetector();
      let time = 0;
      const verdicts = [...'0109506000134352'].map((key, i) => {
        time += stalls.includes(i) ? 90 : 3;
        return detector.key({ key, time, target: 'select' });
      });
      return [...verdicts, detector.key({ key: 'Enter', time: time + 3, target: 'select' })];
    };
    expect(last(withStalls([5]))).toEqual({ kind: 'scan', data: '0109506000134352' });
    expect(last(withStalls([5, 11]))).toEqual({ kind: 'scan', data: '0109506000134352' });
    // A third stall ends the burst: what follows it ("34352") is too short to be a scan.
    expect(last(withStalls([3, 7, 11]))).toEqual({ kind: 'other' });
    const paused = new ScanDetector();
    feed(paused, '0109506', 3, null, 0);
    expect(last(feed(paused, '000134352', 3, 'Enter', 18 + 200))).toEqual({ kind: 'scan', data: '000134352' });
  });

  it('ends a burst that pauses and counts only what follows the pause', () => {
    const detector = new ScanDetector();
    feed(detector, 'ABC', 10, null, 0);
    expect(last(feed(detector, '0109506000134352', 10, 'Enter', 500))).toEqual({ kind: 'scan', data: '0109506000134352' });
  });

  it('marks the first key of each burst, so the caller can remember the field before it', () => {
    const verdicts = feed(new ScanDetector(), 'ABCDEFG', 10);
    expect(verdicts.slice(0, 3)).toEqual([{ kind: 'char', startsBurst: true }, { kind: 'char', startsBurst: false }, { kind: 'char', startsBurst: false }]);
  });

  it('reads Ctrl+] as GS, by key or by physical key, but not AltGr+] of other layouts', () => {
    const detector = new ScanDetector();
    const verdicts = [
      ...feed(detector, '010950600013435210AB', 5, null, 0),
      detector.key({ key: ']', ctrlKey: true, time: 100, target: 'body' }),
      ...feed(detector, '17270131', 5, null, 105),
      detector.key({ key: 'Dead', code: 'BracketRight', ctrlKey: true, time: 145, target: 'body' }),
      ...feed(detector, '21X', 5, 'Enter', 150),
    ];
    expect(verdicts[20]).toEqual({ kind: 'separator', startsBurst: false });
    expect(last(verdicts)).toEqual({ kind: 'scan', data: `010950600013435210AB${GS}17270131${GS}21X` });
    // German layout: AltGr+9 types ] with Ctrl and Alt both down.
    const altGraph = new ScanDetector();
    feed(altGraph, ']C1', 5, null, 0);
    expect(altGraph.key({ key: ']', ctrlKey: true, altKey: true, time: 15, target: 'body' })).toEqual({ kind: 'char', startsBurst: false });
  });

  it('ignores Shift between the keys of a scan, and breaks the burst on key repeat, composition and shortcuts', () => {
    const detector = new ScanDetector();
    const keys: ScanKey[] = [];
    [...'ABC123'].forEach((key, i) => {
      keys.push({ key: 'Shift', shiftKey: true, time: i * 6, target: 'body' }, { key, shiftKey: /[A-Z]/.test(key), time: i * 6 + 2, target: 'body' });
    });
    keys.push({ key: 'Enter', time: 40, target: 'body' });
    expect(last(keys.map((k) => detector.key(k)))).toEqual({ kind: 'scan', data: 'ABC123' });

    for (const breaker of [{ key: 'a', repeat: true }, { key: 'Process', isComposing: true }, { key: 's', ctrlKey: true }, { key: 'Backspace' }, { key: 'Enter', shiftKey: true }]) {
      const d = new ScanDetector();
      feed(d, 'ABCDEF', 5, null, 0);
      expect(d.key({ ...breaker, time: 32, target: 'body' })).toEqual({ kind: 'other' });
      expect(d.key({ key: 'Enter', time: 34, target: 'body' })).toEqual({ kind: 'other' });
    }
  });

  it('does not run one burst across two fields', () => {
    const detector = new ScanDetector();
    feed(detector, 'SHORT', 1, null, 0, 'lot');
    expect(last(feed(detector, '2027', 1, 'Enter', 6, 'expiry'))).toEqual({ kind: 'other' });
  });

  it('takes a burst that starts with an AIM identifier as a scan, even with no terminator once the keys stop', () => {
    const detector = new ScanDetector();
    feed(detector, ']d20109506000134352', 4, null);
    expect(detector.settle()).toBe(']d20109506000134352');
    expect(detector.settle()).toBeNull();
    // Short AIM bursts end with Enter as scans; without one, or without the prefix, nothing settles.
    expect(last(feed(new ScanDetector(), ']C0AB', 4))).toEqual({ kind: 'scan', data: ']C0AB' });
    const plain = new ScanDetector();
    feed(plain, '0109506000134352', 4, null);
    expect(plain.settle()).toBeNull();
  });

  it('leaves a burst longer than any barcode alone', () => {
    expect(last(feed(new ScanDetector(35, 6, 10), '0123456789X', 1))).toEqual({ kind: 'other' });
  });
});

describe('installScanner on a page', () => {
  let clock = 0;
  let scans: string[] = [];
  let claims = true;
  let uninstall: () => void = () => {};
  let submitted = 0;

  beforeEach(() => {
    clock = 0;
    scans = [];
    claims = true;
    submitted = 0;
    document.body.innerHTML = `<form><input id="item" value="OLD"><select id="where"><option value="A">A</option><option value="B">B</option></select></form>`;
    document.querySelector('form')!.addEventListener('submit', (e) => { e.preventDefault(); submitted++; });
    uninstall = installScanner(window, { claims: () => claims, onScan: (data) => scans.push(data), timeOf: () => clock });
  });
  afterEach(() => { uninstall(); vi.useRealTimers(); });

  /** Types like a browser does: keydown, then (unless prevented) the character into the field, or Enter submitting. */
  function type(target: HTMLElement, keys: string[], gapMs: number, init: KeyboardEventInit = {}) {
    for (const key of keys) {
      target.focus();
      const down = new KeyboardEvent('keydown', { key, bubbles: true, cancelable: true, ...init });
      const proceed = target.dispatchEvent(down);
      if (proceed && key.length === 1 && !init.ctrlKey && target instanceof HTMLInputElement) {
        target.value += key;
        target.dispatchEvent(new Event('input', { bubbles: true }));
      }
      if (proceed && key === 'Enter') target.closest('form')?.requestSubmit();
      clock += gapMs;
    }
  }

  const input = () => document.getElementById('item') as HTMLInputElement;

  it('gives the field back its value, swallows the Enter and hands the scan over', () => {
    const inputs: string[] = [];
    input().addEventListener('input', () => inputs.push(input().value));
    type(input(), [...'0109506000134352', 'Enter'], 5);
    expect(scans).toEqual(['0109506000134352']);
    expect(input().value).toBe('OLD');
    expect(inputs[inputs.length - 1]).toBe('OLD');
    expect(submitted).toBe(0);
  });

  it('leaves typing by hand exactly as typed, Enter included', () => {
    type(input(), [...'X12345678', 'Enter'], 120);
    expect(scans).toEqual([]);
    expect(input().value).toBe('OLDX12345678');
    expect(submitted).toBe(1);
  });

  it('leaves a scan as typed when no screen takes scans', () => {
    claims = false;
    type(input(), [...'0109506000134352', 'Enter'], 5);
    expect(scans).toEqual([]);
    expect(input().value).toBe('OLD0109506000134352');
    expect(submitted).toBe(1);
  });

  it('recovers GS from Ctrl+] and types nothing for it', () => {
    type(input(), [...'010950600013435210AB'], 5);
    type(input(), [']'], 5, { ctrlKey: true });
    type(input(), [...'17270131', 'Tab'], 5);
    expect(scans).toEqual([`010950600013435210AB${GS}17270131`]);
    expect(input().value).toBe('OLD');
  });

  it('puts a select back when a scan typed into it', () => {
    const select = document.getElementById('where') as HTMLSelectElement;
    const changes: string[] = [];
    select.addEventListener('change', () => changes.push(select.value));
    select.focus();
    clock = 0;
    select.dispatchEvent(new KeyboardEvent('keydown', { key: 'B', bubbles: true, cancelable: true }));
    select.value = 'B'; // type-ahead picked an option
    for (const key of [...'0950600013', 'Enter']) {
      clock += 4;
      select.dispatchEvent(new KeyboardEvent('keydown', { key, bubbles: true, cancelable: true }));
    }
    expect(scans).toEqual(['B0950600013']);
    expect(select.value).toBe('A');
    expect(changes).toEqual(['A']);
  });

  it('delivers an AIM-prefixed scan without terminator once the keys stop', () => {
    vi.useFakeTimers();
    type(document.body, [...']d20109506000134352'], 3);
    expect(scans).toEqual([]);
    vi.advanceTimersByTime(SCAN_SETTLE_MS + 1);
    expect(scans).toEqual([']d20109506000134352']);
  });

  it('forgets a burst when the mouse is used', () => {
    type(input(), [...'0109506'], 5);
    input().dispatchEvent(new MouseEvent('mousedown', { bubbles: true }));
    type(input(), [...'000134352', 'Enter'], 5);
    expect(scans).toEqual(['000134352']);
    expect(input().value).toBe('OLD0109506');
  });
});
