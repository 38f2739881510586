// Scans in the app. The shell installs the detector (scanner.ts) once and
// passes each scan to the screen that registered for scans with
// useScanHandler; the screen reports what came of it with useScanReport,
// and the shell shows that in one banner with a colour flash and a sound
// (sound.ts). Also here: the chooser for a barcode that reads several ways.
import { createContext, useContext, useEffect, useRef, useState, type KeyboardEvent, type MutableRefObject } from 'react';
import { asApiError, type Backend } from './api/backend';
import type { BarcodeScan } from './bindings/BarcodeScan';
import type { ScanCandidate } from './bindings/ScanCandidate';
import type { ScanReading } from './bindings/ScanReading';
import type { SerialScan } from './bindings/SerialScan';
import { pick } from './format';
import { useI18n, type Translate } from './i18n';
import type { Tone } from './sound';

/** What came of a scan: the sound and colour, the sentence, and the barcode's own warnings. */
export interface ScanReport { outcome: Tone; message: string; details: string[] }

interface ScanContextValue {
  /** Makes `handler` the taker of scans; returns the function that withdraws it. */
  register: (handler: (data: string) => void) => () => void;
  report: (report: ScanReport) => void;
  /** Takes the last scan's banner away (a screen moved on to another view). */
  clear: () => void;
}

export const ScanContext = createContext<ScanContextValue>({ register: () => () => undefined, report: () => undefined, clear: () => undefined });

/** While the calling screen is mounted, scans go to `handler` (always its latest version). */
export function useScanHandler(handler: (data: string) => void) {
  const { register } = useContext(ScanContext);
  const latest = useRef(handler);
  useEffect(() => { latest.current = handler; });
  useEffect(() => register((data) => latest.current(data)), [register]);
}

export function useScanReport() {
  return useContext(ScanContext).report;
}

export function useScanClear() {
  return useContext(ScanContext).clear;
}

/**
 * Reads a scan for a screen: only the newest scan counts (`ticket` is the
 * screen's counter), a barcode that reads several ways goes to `ambiguous`
 * (the chooser), a readable one to `read`, an unreadable one is reported.
 */
export function readScan(
  backend: Backend,
  data: string,
  ticket: MutableRefObject<number>,
  report: (report: ScanReport) => void,
  t: Translate,
  on: { ambiguous: (scan: BarcodeScan) => void; read: (scan: BarcodeScan, ticket: number) => void },
) {
  const mine = ++ticket.current;
  backend.parseBarcode(data).then((scan) => {
    if (mine !== ticket.current) return;
    if (scan.candidates.length > 0) {
      on.ambiguous(scan);
      report({ outcome: 'warning', message: t('scanChooseNeeded', { count: scan.candidates.length }), details: [] });
    } else {
      on.read(scan, mine);
    }
  }, (error) => {
    if (mine === ticket.current) report({ outcome: 'failure', message: asApiError(error).message, details: [] });
  });
}

/** The barcode's warnings (day 00, a lost separator, …) as the clerk reads them. */
export function warningTexts(reading: ScanReading): string[] {
  return reading.warnings.map((w) => w.message);
}

/** "item · lot L · 2027-01-31 · serial S": what a reading says, for messages. */
export function describeReading(t: Translate, reading: ScanReading, itemName: string | null): string {
  return [
    itemName ?? reading.di ?? reading.gtin ?? '',
    reading.lot !== null ? t('lotLabel', { lot: reading.lot }) : null,
    reading.expiry,
    reading.serial !== null ? t('serialLabel', { serial: reading.serial }) : null,
  ].filter(Boolean).join(' · ');
}

const ICONS: Record<Tone, string> = { success: '✓', warning: '!', failure: '✕' };

/** The last scan's outcome; `seq` changes with every scan so the flash replays. */
export function ScanBanner({ report, seq, onDismiss }: { report: ScanReport | null; seq: number; onDismiss: () => void }) {
  const { t } = useI18n();
  return (
    <div role="status" aria-live="polite" className="live-region">
      {report ? (
        <>
          <div key={`flash-${seq}`} className={`scan-flash scan-flash-${report.outcome}`} aria-hidden="true" />
          <div key={`banner-${seq}`} className={`banner scan-banner scan-${report.outcome}`} data-testid="scan-feedback" data-outcome={report.outcome}>
            <span className="banner-icon" aria-hidden="true">{ICONS[report.outcome]}</span>
            <div className="banner-text">
              <span className="scan-label">{t('scanBanner')}</span>
              <span data-testid="scan-feedback-message">{report.message}</span>
              {report.details.length > 0 ? (
                <ul className="scan-details">
                  {report.details.map((d) => <li key={d} data-testid="scan-warning">{d}</li>)}
                </ul>
              ) : null}
            </div>
            <button type="button" className="banner-close" onClick={onDismiss} aria-label={t('dismiss')} title={t('dismiss')}>×</button>
          </div>
        </>
      ) : null}
    </div>
  );
}

/** How long a number key in the chooser waits for a following key before it chooses (a scanner types faster). */
export const CHOICE_SETTLE_MS = 90;

/** Dispatched on the window the moment a scan is recognised (before it is read): a pending choice is void. */
export const SCAN_EVENT = 'medledger:scan';

/**
 * A barcode whose separators were lost reads several valid ways: the clerk
 * picks the one that matches the printed label. Each choice shows its lot,
 * expiry and serial and its elements in the bracketed form printed under
 * the barcode. Keys: 1–9 choose; ↑↓ (or Tab) move, Enter chooses; Esc cancels.
 * A number key chooses only once no other key follows it within
 * CHOICE_SETTLE_MS: a scanner's burst (a new scan while the window is open,
 * `]d2…`, `01…`) types digits too, and must never make the choice.
 */
export function CandidateChooser({ scan, onChoose, onCancel }: { scan: BarcodeScan; onChoose: (candidate: ScanCandidate) => void; onCancel: () => void }) {
  const { t, lang } = useI18n();
  const [active, setActive] = useState(0);
  const buttons = useRef<(HTMLButtonElement | null)[]>([]);
  const pendingChoice = useRef<number | null>(null);
  const count = scan.candidates.length;
  useEffect(() => { buttons.current[active]?.focus(); }, [active]);
  useEffect(() => {
    // A scan ended (its terminator never reaches this dialog): the digit before it was the scanner's.
    const cancel = () => { if (pendingChoice.current !== null) { window.clearTimeout(pendingChoice.current); pendingChoice.current = null; } };
    window.addEventListener(SCAN_EVENT, cancel);
    return () => { window.removeEventListener(SCAN_EVENT, cancel); cancel(); };
  }, []);

  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    // Any key right after a number key: that was a burst, not a choice.
    if (pendingChoice.current !== null) { window.clearTimeout(pendingChoice.current); pendingChoice.current = null; }
    if (e.ctrlKey || e.altKey || e.metaKey || e.nativeEvent.isComposing) return;
    const move = (step: number) => { e.preventDefault(); setActive((a) => (a + step + count) % count); };
    if (e.key === 'Escape') { e.preventDefault(); onCancel(); }
    else if (e.key === 'ArrowDown' || (e.key === 'Tab' && !e.shiftKey)) move(1);
    else if (e.key === 'ArrowUp' || (e.key === 'Tab' && e.shiftKey)) move(-1);
    else if (e.key === 'Home') { e.preventDefault(); setActive(0); }
    else if (e.key === 'End') { e.preventDefault(); setActive(count - 1); }
    else if (e.key === 'Enter') { e.preventDefault(); onChoose(scan.candidates[active]); }
    else if (/^[1-9]$/.test(e.key) && Number(e.key) <= count) {
      e.preventDefault();
      const chosen = scan.candidates[Number(e.key) - 1];
      pendingChoice.current = window.setTimeout(() => { pendingChoice.current = null; onChoose(chosen); }, CHOICE_SETTLE_MS);
    }
  };

  return (
    <div className="dialog-backdrop">
      <div role="dialog" aria-modal="true" aria-labelledby="scan-choose-title" aria-describedby="scan-choose-intro" className="dialog" data-testid="scan-candidates" onKeyDown={onKeyDown}>
        <h2 id="scan-choose-title">{t('scanChooseTitle')}</h2>
        <p id="scan-choose-intro" className="muted">{t('scanChooseIntro')}</p>
        <div className="candidates">
          {scan.candidates.map((c, i) => (
            <button
              key={c.reading.elements.map((e) => `${e.id}=${e.value}`).join('|') || i}
              ref={(b) => { buttons.current[i] = b; }}
              type="button"
              className={i === active ? 'candidate active' : 'candidate'}
              data-testid={`scan-candidate-${i + 1}`}
              data-lot={c.reading.lot ?? ''}
              aria-current={i === active || undefined}
              onFocus={() => setActive(i)}
              onClick={() => onChoose(c)}
            >
              <kbd>{i + 1}</kbd>
              <span className="candidate-fields">
                <span>{t('lot')} <b className="mono">{c.reading.lot ?? '—'}</b></span>
                <span>{t('expiry')} <b className="mono">{c.reading.expiry ?? '—'}</b></span>
                <span>{t('serial')} <b className="mono">{c.reading.serial ?? '—'}</b></span>
                <span className="muted">{c.item ? pick(lang, c.item.name, c.item.name_en) : c.reading.di}</span>
              </span>
              <span className="candidate-hri mono">{c.reading.elements.map((e) => `(${e.id})${e.value}`).join(' ')}</span>
            </button>
          ))}
        </div>
        <p className="muted">{t('scanChooseHint', { count })}</p>
        <div className="form-actions">
          <button type="button" data-testid="scan-candidates-cancel" onClick={onCancel}>{t('cancel')}</button>
        </div>
      </div>
    </div>
  );
}

/**
 * Serial scanners' scans (the app's serial-scan event) for the shell: each
 * goes to `deliver` once, in order — scans emitted before the page listened
 * are fetched first, events that come meanwhile wait behind them — and is
 * acknowledged so the app can let go of it. Returns the function that stops.
 */
export function routeSerialScans(backend: Backend, deliver: (scan: SerialScan) => void): () => void {
  let last = 0;
  let ready = false;
  let stopped = false;
  const early: SerialScan[] = [];
  const take = (scan: SerialScan) => {
    if (stopped || scan.seq <= last) return;
    last = scan.seq;
    deliver(scan);
    backend.acknowledgeSerialScans(scan.seq).catch(() => undefined);
  };
  const unlisten = backend.onSerialScan((scan) => { if (ready) take(scan); else early.push(scan); });
  backend.pendingSerialScans().catch(() => [] as SerialScan[]).then((pending) => {
    [...pending, ...early].sort((a, b) => a.seq - b.seq).forEach(take);
    ready = true;
  });
  return () => { stopped = true; unlisten(); };
}
