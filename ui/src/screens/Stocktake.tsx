// 盘点: stocktakes built for walking the shelves. The list starts one (one,
// several or all locations; blind; tolerances). Counting takes scans wherever
// the focus is: every scan counts one unit of the scanned lot or serial (in
// scan order, none lost while the previous one is being recorded); a number
// typed then Enter sets the last scan's quantity; Ctrl+Z undoes the last
// scan; a batch scanner's file imports all lines or none. Review shows the
// core's variance table (expected quantities only to those the core lets see
// them), the largest variances by value, recounts, finishing and posting.
import { memo, useCallback, useEffect, useRef, useState, type ChangeEvent, type FormEvent, type ReactNode } from 'react';
import type { BarcodeScan } from '../bindings/BarcodeScan';
import type { ImportProgress } from '../bindings/ImportProgress';
import type { ImportSummary } from '../bindings/ImportSummary';
import type { ItemView } from '../bindings/ItemView';
import type { LocationView } from '../bindings/LocationView';
import type { ObservationView } from '../bindings/ObservationView';
import type { ScanReading } from '../bindings/ScanReading';
import type { StocktakeStatus } from '../bindings/StocktakeStatus';
import type { StocktakeSummary } from '../bindings/StocktakeSummary';
import type { StocktakeView } from '../bindings/StocktakeView';
import type { VarianceReport } from '../bindings/VarianceReport';
import type { VarianceRow } from '../bindings/VarianceRow';
import { asApiError, useBackend } from '../api/backend';
import { Field, focusTestId, Spinner } from '../components';
import { formatMoney } from '../decimal';
import { formatQuantity, localTime, pick } from '../format';
import { useI18n, type TextKey, type Translate } from '../i18n';
import { CandidateChooser, readScan, SCAN_EVENT, useScanClear, useScanHandler, useScanReport, warningTexts } from '../scan';
import { SCAN_STALL_MAX_MS } from '../scanner';
import {
  FLAG_TEXT, FLAG_TONE, isOpen, isUndoKey, largestVariances, lastEffective, parseTypedQuantity, progressPercent,
  recountKey, rowKey, STATUS_TEXT, type Superseded,
} from '../stocktake';

type Mode = 'count' | 'review';

/** Where a stocktake opens: counters count; reviewers review what is no longer counting. */
export function openMode(status: StocktakeStatus, blind: boolean, mayReview: boolean): Mode {
  if (status === 'counting') return 'count';
  if (status === 'review') return mayReview ? 'review' : 'count';
  return blind && !mayReview ? 'count' : 'review';
}

/** Whether the user may see the variance table: always unless blind, where only reviewers may. */
const mayOpenReview = (blind: boolean, mayReview: boolean) => !blind || mayReview;

const at = (ms: number) => localTime(new Date(ms).toISOString());

function StatusPill({ status }: { status: StocktakeStatus }) {
  const { t } = useI18n();
  return <span className={`pill st-status st-${status}`} data-testid="stocktake-status" data-status={status}>{t(STATUS_TEXT[status])}</span>;
}

export function StocktakeScreen({ mayReview, onError, clearError }: { mayReview: boolean; onError: (e: unknown) => void; clearError: () => void }) {
  const [open, setOpen] = useState<{ id: string; mode: Mode } | null>(null);
  const clearScan = useScanClear();
  const show = useCallback((id: string, mode: Mode) => { clearError(); clearScan(); setOpen({ id, mode }); }, [clearError, clearScan]);
  const back = useCallback(() => { clearError(); clearScan(); setOpen(null); }, [clearError, clearScan]);
  if (!open) return <StocktakeList mayReview={mayReview} onOpen={show} onError={onError} clearError={clearError} />;
  return open.mode === 'count'
    ? <CountingView key={open.id} id={open.id} mayReview={mayReview} onBack={back} onReview={() => show(open.id, 'review')} onError={onError} />
    : <ReviewView key={open.id} id={open.id} mayReview={mayReview} onBack={back} onCount={() => show(open.id, 'count')} onError={onError} clearError={clearError} />;
}

// ---- the list and a new stocktake ------------------------------------------

function StocktakeList({ mayReview, onOpen, onError, clearError }: {
  mayReview: boolean; onOpen: (id: string, mode: Mode) => void; onError: (e: unknown) => void; clearError: () => void;
}) {
  const backend = useBackend();
  const { t, lang } = useI18n();
  const [list, setList] = useState<StocktakeSummary[] | null>(null);
  const [locations, setLocations] = useState<LocationView[]>([]);
  const [all, setAll] = useState(false);
  const [chosen, setChosen] = useState<string[]>([]);
  const [blind, setBlind] = useState(false);
  const [toleranceQuantity, setToleranceQuantity] = useState('');
  const [toleranceValue, setToleranceValue] = useState('');
  const [problems, setProblems] = useState<Partial<Record<'scope' | 'quantity' | 'value', TextKey>>>({});
  const [starting, setStarting] = useState(false);

  useEffect(() => {
    backend.listStocktakes(100).then(setList, onError);
    backend.listLocations().then((found) => {
      setLocations(found);
      const first = found.find((l) => l.code === 'MAIN') ?? found[0];
      setChosen((current) => (current.length > 0 || !first ? current : [first.code]));
    }, onError);
  }, [backend, onError]);

  const toggle = (code: string) => {
    setChosen((current) => (current.includes(code) ? current.filter((c) => c !== code) : [...current, code]));
    setProblems((p) => ({ ...p, scope: undefined }));
  };

  const start = async (e: FormEvent) => {
    e.preventDefault();
    if (starting) return;
    const found: typeof problems = {};
    if (!all && chosen.length === 0) found.scope = 'stocktakeChooseScope';
    if (toleranceQuantity.trim() && !/^\d+$/.test(toleranceQuantity.trim())) found.quantity = 'invalidQuantity';
    if (toleranceValue.trim() && !/^\d+(\.\d{1,6})?$/.test(toleranceValue.trim())) found.value = 'invalidUnitCost';
    setProblems(found);
    if (Object.keys(found).length > 0) return;
    setStarting(true);
    clearError();
    try {
      const started = await backend.startStocktake({
        user: '', locations: all ? [] : chosen, categories: [], blind, note: '',
        tolerance_quantity: toleranceQuantity.trim() ? Number(toleranceQuantity.trim()) : null,
        tolerance_value: toleranceValue.trim() || null,
      });
      onOpen(started.id, 'count');
    } catch (error) {
      onError(error);
    } finally {
      setStarting(false);
    }
  };

  return (
    <section className="screen" aria-labelledby="stocktake-title">
      <div className="screen-head"><h1 id="stocktake-title">{t('navStocktake')}</h1><span className="muted">{t('stocktakeIntro')}</span></div>
      <form className="form" onSubmit={(e) => void start(e)} data-testid="stocktake-new">
        <fieldset className="form-section">
          <legend>{t('stocktakeNew')}</legend>
          <div className="field-label" id="stocktake-scope-label">{t('stocktakeScope')}</div>
          <div className="scope-choices" role="group" aria-labelledby="stocktake-scope-label">
            <label className="check scope-all">
              <input type="checkbox" data-testid="stocktake-new-all" checked={all} onChange={(e) => { setAll(e.target.checked); setProblems((p) => ({ ...p, scope: undefined })); }} />
              <b>{t('stocktakeAllLocations')}</b>
            </label>
            {locations.map((l) => (
              <label key={l.code} className="check">
                <input
                  type="checkbox"
                  data-testid={`stocktake-new-location-${l.code}`}
                  checked={all || chosen.includes(l.code)}
                  disabled={all}
                  onChange={() => toggle(l.code)}
                />
                <span className="mono">{l.code}</span> {pick(lang, l.name, l.name_en)}
              </label>
            ))}
          </div>
          {problems.scope ? <p className="field-error" data-testid="stocktake-new-scope-error">{t(problems.scope)}</p> : null}
          <label className="check st-blind">
            <input type="checkbox" data-testid="stocktake-new-blind" checked={blind} onChange={(e) => setBlind(e.target.checked)} />
            {t('stocktakeBlind')}
          </label>
          <div className="row st-options">
            <Field label={t('stocktakeToleranceQuantity')} hint={problems.quantity ? <span className="field-error">{t(problems.quantity)}</span> : t('stocktakeToleranceHint')}>
              <input data-testid="stocktake-new-tolerance-qty" className="num" inputMode="numeric" value={toleranceQuantity} onChange={(e) => setToleranceQuantity(e.target.value)} autoComplete="off" />
            </Field>
            <Field label={t('stocktakeToleranceValue')} hint={problems.value ? <span className="field-error">{t(problems.value)}</span> : t('optional')}>
              <input data-testid="stocktake-new-tolerance-value" className="num" inputMode="decimal" value={toleranceValue} onChange={(e) => setToleranceValue(e.target.value)} autoComplete="off" />
            </Field>
          </div>
        </fieldset>
        <div className="form-actions">
          <button type="submit" className="primary" data-testid="stocktake-start" disabled={starting}>{starting ? t('stocktakeStarting') : t('stocktakeStart')}</button>
        </div>
      </form>
      <h2 className="section-title">{t('stocktakeList')}</h2>
      <div className="table-wrap st-list">
        <table className="grid">
          <thead>
            <tr><th>{t('document')}</th><th>{t('status')}</th><th>{t('location')}</th><th>{t('stocktakeStartedAt')}</th><th aria-label={t('stocktakeOpen')} /></tr>
          </thead>
          <tbody>
            {(list ?? []).map((s) => (
              <tr key={s.id} data-testid="stocktake-row" data-number={s.number} data-status={s.status} onDoubleClick={() => onOpen(s.id, openMode(s.status, s.blind, mayReview))}>
                <td className="mono nowrap">{s.number}</td>
                <td className="nowrap"><StatusPill status={s.status} />{s.blind ? <span className="tag st-blind-tag">{t('stocktakeBlindTag')}</span> : null}</td>
                <td>{s.locations.length > 0 ? s.locations.join(', ') : t('stocktakeLocationsAll')}</td>
                <td className="mono nowrap">{at(s.started_at_ms)}</td>
                <td className="num">
                  <button type="button" data-testid={`stocktake-open-${s.number}`} onClick={() => onOpen(s.id, openMode(s.status, s.blind, mayReview))}>{t('stocktakeOpen')}</button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {list === null ? <p className="empty"><Spinner /></p> : list.length === 0 ? <p className="empty">{t('stocktakeNone')}</p> : null}
      </div>
    </section>
  );
}

function StocktakeHead({ view, title, children }: { view: { number: string; status: StocktakeStatus; blind: boolean } | null; title: TextKey; children: ReactNode }) {
  const { t } = useI18n();
  return (
    <div className="toolbar st-head">
      <h1 id="stocktake-title">{view ? t(title, { number: view.number }) : t('navStocktake')}</h1>
      {view ? <StatusPill status={view.status} /> : <Spinner />}
      {view?.blind ? <span className="tag st-blind-tag" data-testid="stocktake-blind">{t('stocktakeBlindTag')}</span> : null}
      <span className="toolbar-gap" />
      {children}
    </div>
  );
}

// ---- counting -------------------------------------------------------------

/** "name · lot L · serial S · MAIN": what an observation counted. */
function describe(t: Translate, lang: 'zh' | 'en', o: ObservationView): string {
  return [
    pick(lang, o.name, o.name_en),
    o.lot ? t('lotLabel', { lot: o.lot }) : null,
    o.serial ? t('serialLabel', { serial: o.serial }) : null,
    o.location,
  ].filter(Boolean).join(' · ');
}

/** How long digits typed on the page wait before they show: longer than any pause inside a scan. */
const TYPED_SHOW_MS = SCAN_STALL_MAX_MS + 30;
/**
 * Most digits a quantity typed on the page may have (999,999). More is no
 * count a person types on the shelf but a barcode that was not read as a
 * scan (a slow scanner): it changes nothing. The field takes up to the line limit.
 */
const PAGE_DIGITS_MAX = 6;

/** Whether a key went to something that takes text or choices of its own (then it is not a typed quantity). */
function typesElsewhere(target: EventTarget | null): boolean {
  return target instanceof Element && target.closest('input, textarea, select, [contenteditable="true"], [role="dialog"]') !== null;
}

/**
 * The last scan's quantity: digits then Enter, typed anywhere on the page
 * (or in the field). The focus stays off text fields while counting: a scan
 * typed into a focused field goes as slowly as the webview edits and paints
 * it (tens of ms a key under WebDriver), which no longer looks like a
 * scanner. Digits typed on the page wait TYPED_SHOW_MS before they show, so
 * a scan's digits (void as soon as the scan is recognised) never repaint the
 * page key by key. Its own small component with its own state.
 */
const TypedQuantity = memo(function TypedQuantity({ open, cleared, onSet }: { open: boolean; cleared: number; onSet: (quantity: number) => void }) {
  const { t } = useI18n();
  const [text, setText] = useState('');
  const [problem, setProblem] = useState<TextKey | null>(null);
  const pending = useRef('');
  const timer = useRef<number | undefined>(undefined);
  const clear = useCallback(() => {
    window.clearTimeout(timer.current);
    pending.current = '';
    setText('');
  }, []);
  useEffect(() => { clear(); setProblem(null); }, [cleared, clear]);

  const apply = useCallback((value: string) => {
    const typed = parseTypedQuantity(value);
    setProblem(typed === null ? 'countInvalidQuantity' : null);
    if (typed !== null) onSet(typed);
  }, [onSet]);

  useEffect(() => {
    if (!open) return undefined;
    const show = () => {
      window.clearTimeout(timer.current);
      timer.current = window.setTimeout(() => setText(pending.current), TYPED_SHOW_MS);
    };
    const onKey = (e: KeyboardEvent) => {
      if (e.defaultPrevented || e.ctrlKey || e.altKey || e.metaKey || e.isComposing || typesElsewhere(e.target)) return;
      if (/^[0-9]$/.test(e.key)) {
        pending.current = (pending.current + e.key).slice(0, 40);
        show();
      } else if ([...e.key].length === 1 && pending.current) {
        // A letter or sign among the digits: a barcode, not a quantity.
        clear();
      } else if (e.key === 'Backspace' && pending.current) {
        e.preventDefault();
        pending.current = pending.current.slice(0, -1);
        show();
      } else if (e.key === 'Escape' && pending.current) {
        clear();
      } else if (e.key === 'Enter' && pending.current) {
        e.preventDefault();
        if (pending.current.length > PAGE_DIGITS_MAX) {
          clear();
          setProblem('countTypedNotScan');
          return;
        }
        window.clearTimeout(timer.current);
        setText(pending.current);
        apply(pending.current);
      }
    };
    // A scan typed its digits on the page: they were the scanner's, not a quantity.
    window.addEventListener(SCAN_EVENT, clear);
    window.addEventListener('keydown', onKey);
    return () => {
      window.removeEventListener(SCAN_EVENT, clear);
      window.removeEventListener('keydown', onKey);
      window.clearTimeout(timer.current);
    };
  }, [open, apply, clear]);

  return (
    <form className="count-typed-form" onSubmit={(e: FormEvent) => { e.preventDefault(); apply(text); }}>
      <Field label={t('countTypedQuantity')} hint={problem ? <span className="field-error" data-testid="count-typed-error">{t(problem)}</span> : t('countTypedHint')}>
        <input
          data-testid="count-qty"
          className={`num count-qty${problem ? ' invalid' : ''}`}
          inputMode="numeric"
          value={text}
          placeholder={t('countTypedPlaceholder')}
          autoComplete="off"
          disabled={!open}
          onChange={(e) => { pending.current = e.target.value; setText(e.target.value); setProblem(null); }}
        />
      </Field>
      <button type="submit" data-testid="count-set-qty" disabled={!open || !text.trim()}>{t('countSetQuantity')}</button>
    </form>
  );
});

const SOURCE_TEXT: Record<string, TextKey> = { scan: 'countSourceScan', typed: 'countSourceTyped', import: 'countSourceImport', undo: 'countSourceUndo' };

function CountingView({ id, mayReview, onBack, onReview, onError }: {
  id: string; mayReview: boolean; onBack: () => void; onReview: () => void; onError: (e: unknown) => void;
}) {
  const backend = useBackend();
  const { t, lang } = useI18n();
  const report = useScanReport();
  const [view, setView] = useState<StocktakeView | null>(null);
  const [locations, setLocations] = useState<LocationView[]>([]);
  const [location, setLocation] = useState('');
  const [last, setLast] = useState<{ observation: ObservationView; undone: boolean } | null>(null);
  const [superseded, setSuperseded] = useState<Superseded>(new Map());
  /** Bumped to empty the typed-quantity field (after a scan, or once a typed quantity is set). */
  const [cleared, setCleared] = useState(0);
  const [chooser, setChooser] = useState<{ scan: BarcodeScan; data: string; done: () => void } | null>(null);
  const [importing, setImporting] = useState<{ name: string; progress: ImportProgress | null } | null>(null);
  const [imported, setImported] = useState<{ name: string; summary: ImportSummary } | null>(null);
  const fileInput = useRef<HTMLInputElement>(null);
  // The latest state for work that runs later, in the queue.
  const latest = useRef({ view, location, last, superseded });
  latest.current = { view, location, last, superseded };
  /** Scans, typed quantities and undos run one after another, in the order they came. */
  const queue = useRef<Promise<void>>(Promise.resolve());
  const enqueue = (job: () => Promise<void>) => { queue.current = queue.current.then(job, job); };
  const scanTicket = useRef(0);
  const viewTicket = useRef(0);
  const live = useRef(true);
  useEffect(() => () => { live.current = false; }, []);

  const refresh = useCallback(() => {
    const mine = ++viewTicket.current;
    backend.stocktakeView(id).then((next) => {
      if (mine !== viewTicket.current || !live.current) return;
      setView(next);
    }, onError);
  }, [backend, id, onError]);

  useEffect(() => {
    backend.stocktakeView(id).then((first) => {
      setView(first);
      const newest = first.last_scans[0] ?? null;
      if (newest) setLast({ observation: newest, undone: false });
      // One location: that one. Several: where this counter last counted, else they choose.
      setLocation(first.locations.length === 1 ? first.locations[0] : newest?.location ?? '');
    }, onError);
    backend.listLocations().then(setLocations, onError);
  }, [backend, id, onError]);

  const severalLocations = view !== null && view.locations.length !== 1;
  const locationChoices = view === null ? [] : view.locations.length > 0
    ? view.locations.map((code) => locations.find((l) => l.code === code) ?? { code, name: code, name_en: code })
    : locations;
  const open = view !== null && isOpen(view.status);

  /** Scans go fastest with the focus off text fields; digits typed on the page still reach the quantity. */
  const leaveQuantityField = () => {
    const active = document.activeElement;
    if (active instanceof HTMLElement && active.getAttribute('data-testid') === 'count-qty') active.blur();
  };

  const failed = (error: unknown) => {
    const e = asApiError(error);
    if (e.code === 'no_user') onError(error);
    report({ outcome: e.code === 'serial_already_counted' ? 'warning' : 'failure', message: e.message, details: [] });
  };

  /** One scanned unit of what the reading names. */
  const count = async (reading: ScanReading, item: ItemView | null, data: string) => {
    if (!item) {
      report({ outcome: 'failure', message: t('countUnknownItem', { code: reading.di ?? reading.gtin ?? data.trim() }), details: warningTexts(reading) });
      return;
    }
    const { view: current, location: chosen } = latest.current;
    const needsChoice = current !== null && current.locations.length !== 1;
    if (needsChoice && !chosen) {
      report({ outcome: 'failure', message: t('countChooseLocation'), details: [] });
      focusTestId('count-location');
      return;
    }
    try {
      const counted = await backend.recordCount(id, {
        user: '', item: item.code, lot: reading.lot, serial: reading.serial, expiry: reading.expiry,
        location: (needsChoice ? chosen : current?.locations[0]) || null, quantity: null, barcode: data,
      });
      if (!live.current) return;
      setLast({ observation: counted, undone: false });
      setCleared((n) => n + 1);
      const details = warningTexts(reading);
      report({ outcome: details.length > 0 ? 'warning' : 'success', message: t('countScanned', { what: describe(t, lang, counted), total: formatQuantity(counted.key_total) }), details });
      refresh();
      leaveQuantityField();
    } catch (error) {
      failed(error);
    }
  };

  useScanHandler((data) => {
    enqueue(() => new Promise<void>((done) => {
      let choosing = false;
      readScan(backend, data, scanTicket, (r) => { report(r); if (!choosing) done(); }, t, {
        ambiguous: (scan) => { choosing = true; setChooser({ scan, data, done }); },
        read: (scan) => { void count(scan.reading, scan.item, data).finally(done); },
      });
    }));
  });

  /** The observation a typed quantity replaces: the last scan that still counts. */
  const target = () => {
    const { last: shown, superseded: gone, view: current } = latest.current;
    if (shown && !shown.undone && !gone.has(shown.observation.id)) return shown.observation;
    return lastEffective(current?.last_scans ?? [], gone);
  };

  const setTyped = (typed: number) => {
    enqueue(async () => {
      const replaced = target();
      if (!replaced) { report({ outcome: 'warning', message: t('countScanFirst'), details: [] }); return; }
      try {
        const set = await backend.setCountQuantity(id, replaced.id, typed);
        if (!live.current) return;
        setSuperseded((m) => new Map(m).set(replaced.id, 'replaced'));
        setLast({ observation: set, undone: false });
        setCleared((n) => n + 1);
        report({ outcome: 'success', message: t('countTypedSet', { what: describe(t, lang, set), quantity: formatQuantity(typed), total: formatQuantity(set.key_total) }), details: [] });
        refresh();
      } catch (error) {
        failed(error);
      }
    });
  };

  const undo = () => enqueue(async () => {
    try {
      const undone = await backend.undoCount(id);
      if (!live.current) return;
      if (!undone) { report({ outcome: 'warning', message: t('countNothingToUndo'), details: [] }); return; }
      const remaining = undone.key_total - undone.quantity;
      setSuperseded((m) => new Map(m).set(undone.id, 'undone'));
      setLast({ observation: { ...undone, key_total: remaining }, undone: true });
      report({ outcome: 'warning', message: t('countUndoneMessage', { what: describe(t, lang, undone), quantity: formatQuantity(undone.quantity), total: formatQuantity(remaining) }), details: [] });
      refresh();
    } catch (error) {
      failed(error);
    }
  });
  const undoRef = useRef(undo);
  undoRef.current = undo;
  const typedRef = useRef(setTyped);
  typedRef.current = setTyped;
  const onTyped = useCallback((typed: number) => typedRef.current(typed), []);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (!isUndoKey(e) || document.querySelector('[role=dialog]')) return;
      e.preventDefault();
      undoRef.current();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);

  const importFile = async (e: ChangeEvent<HTMLInputElement>) => {
    const file = e.target.files?.[0];
    e.target.value = '';
    if (!file) return;
    const { view: current, location: chosen } = latest.current;
    if (current !== null && current.locations.length !== 1 && !chosen) {
      onError({ code: 'location_required', message: t('countChooseLocation') });
      focusTestId('count-location');
      return;
    }
    setImported(null);
    setImporting({ name: file.name, progress: null });
    try {
      const text = await file.text();
      const summary = await backend.importCounts(id, text, (current?.locations.length === 1 ? current.locations[0] : chosen) || null, (progress) => {
        if (live.current) setImporting({ name: file.name, progress });
      });
      if (!live.current) return;
      setImported({ name: file.name, summary });
      refresh();
    } catch (error) {
      onError(error);
    } finally {
      if (live.current) setImporting(null);
    }
  };

  const percent = view ? progressPercent(view.keys_counted, view.keys_in_scope) : 0;
  const importPercent = importing?.progress
    ? Math.round(((importing.progress.stage === 'reading' ? 0 : importing.progress.total) + importing.progress.done) / (2 * Math.max(1, importing.progress.total)) * 100)
    : 0;
  // Nothing scanned on this screen yet: the counter's newest count (an import, an earlier session).
  const shown = last?.observation ?? view?.last_scans[0] ?? null;

  return (
    <section className="screen" aria-labelledby="stocktake-title" data-testid="counting-view">
      <StocktakeHead view={view} title="stocktakeTitle">
        <button type="button" data-testid="stocktake-back" onClick={onBack}>← {t('stocktakeBack')}</button>
        {view && mayOpenReview(view.blind, mayReview) ? <button type="button" data-testid="stocktake-to-review" onClick={onReview}>{t('stocktakeToReview')}</button> : null}
      </StocktakeHead>
      {view ? (
        <div className="summary st-scope">
          <span>{view.locations.length > 0 ? view.locations.join(', ') : t('stocktakeLocationsAll')}</span>
          <span>{t('stocktakeStartedBy', { user: view.started_by, time: at(view.started_at_ms) })}</span>
          {view.status === 'review' ? <span className="field-warn" data-testid="count-recount-only">{t('countRecountOnly')}</span> : null}
          {!open ? <span className="field-error" data-testid="count-closed">{t('countClosed')}</span> : null}
        </div>
      ) : null}
      <div className="count-layout">
        <div className="count-main">
          {severalLocations ? (
            <Field label={t('countLocation')}>
              <select data-testid="count-location" className={location ? '' : 'invalid'} value={location} onChange={(e) => setLocation(e.target.value)}>
                <option value="">{t('countChooseLocationOption')}</option>
                {locationChoices.map((l) => <option key={l.code} value={l.code}>{l.code} · {pick(lang, l.name, l.name_en)}</option>)}
              </select>
            </Field>
          ) : null}
          <div className={`count-big${last?.undone ? ' count-undone' : ''}`} data-testid="count-big" aria-live="polite">
            {shown ? (
              <>
                <div className="count-big-label">{last?.undone ? t('countUndoneBig', { quantity: formatQuantity(last.observation.quantity) }) : t('countLastScan')}</div>
                <div className="count-item" data-testid="count-item">{pick(lang, shown.name, shown.name_en)}</div>
                <div className="count-key mono">
                  {shown.code}
                  {shown.lot ? ` · ${t('lotLabel', { lot: shown.lot })}` : ''}
                  {shown.serial ? ` · ${t('serialLabel', { serial: shown.serial })}` : ''}
                  {` · ${shown.location}`}
                </div>
                <div className="count-total-label">{t('countYourTotal')}</div>
                <div className="count-total" data-testid="count-total" data-total={shown.key_total}>{formatQuantity(shown.key_total)}</div>
              </>
            ) : (
              <div className="count-empty">
                <div className="count-empty-icon" aria-hidden="true">▥</div>
                <div className="count-item">{t('countScanFirst')}</div>
                <div className="muted">{t('countScanFirstHint')}</div>
              </div>
            )}
          </div>
          <div className="count-typed">
            <TypedQuantity open={open} cleared={cleared} onSet={onTyped} />
            <button type="button" data-testid="count-undo" disabled={!open} onClick={undo} title="Ctrl+Z">↶ {t('countUndo')} <kbd>Ctrl+Z</kbd></button>
          </div>
        </div>
        <div className="count-side">
          <div className="count-progress" data-testid="count-progress" data-counted={view?.keys_counted ?? 0} data-in-scope={view?.keys_in_scope ?? 0}>
            <div className="progress-text">
              <span>{view ? t('countProgress', { counted: formatQuantity(view.keys_counted), total: formatQuantity(view.keys_in_scope), percent }) : t('loading')}</span>
              <span className="muted">{view ? t('countObservations', { count: formatQuantity(view.observations) }) : ''}</span>
            </div>
            <div className="progress" role="progressbar" aria-valuemin={0} aria-valuemax={100} aria-valuenow={percent} aria-label={t('countProgress', { counted: view?.keys_counted ?? 0, total: view?.keys_in_scope ?? 0, percent })}>
              <div className="progress-fill" style={{ width: `${percent}%` }} />
            </div>
          </div>
          <div className="count-import">
            <input ref={fileInput} type="file" hidden accept=".txt,.csv,.tsv,.dat,text/plain" data-testid="count-import-file" onChange={(e) => void importFile(e)} />
            <button type="button" data-testid="count-import" disabled={!open || importing !== null} onClick={() => fileInput.current?.click()}>⤒ {t('countImport')}</button>
            <span className="muted">{t('countImportHint')}</span>
            {importing ? (
              <div className="import-progress" data-testid="import-progress">
                <span>{t('countImporting', {
                  name: importing.name,
                  stage: t(importing.progress?.stage === 'recording' ? 'countImportRecording' : 'countImportReading'),
                  done: importing.progress?.done ?? 0,
                  total: importing.progress?.total ?? '…',
                })}</span>
                <div className="progress" role="progressbar" aria-valuemin={0} aria-valuemax={100} aria-valuenow={importPercent}>
                  <div className="progress-fill" style={{ width: `${importPercent}%` }} />
                </div>
              </div>
            ) : null}
            {imported ? (
              <p className="import-summary" data-testid="import-summary">
                ✓ {t('countImported', { name: imported.name, observations: formatQuantity(imported.summary.observations), units: formatQuantity(imported.summary.units) })}
              </p>
            ) : null}
          </div>
          <h2 className="section-title">{t('countLastScans')}</h2>
          <div className="table-wrap last-scans">
            <table className="grid">
              <thead>
                <tr><th>{t('countTime')}</th><th>{t('name')}</th><th>{t('lot')} / {t('serial')}</th><th>{t('location')}</th><th className="num">{t('quantity')}</th><th className="num">{t('countTotalNow')}</th></tr>
              </thead>
              <tbody>
                {(view?.last_scans ?? []).map((o) => {
                  const gone = superseded.get(o.id);
                  return (
                    <tr key={o.id} data-testid="last-scan" data-code={o.code} data-lot={o.lot ?? ''} data-quantity={o.quantity} data-source={o.source} data-superseded={gone ?? ''} className={gone ? 'superseded' : ''}>
                      <td className="mono nowrap">{at(o.at_ms).slice(11)}</td>
                      <td>{pick(lang, o.name, o.name_en)}{gone ? <span className="tag st-gone">{t(gone === 'undone' ? 'countUndone' : 'countReplaced')}</span> : null}</td>
                      <td className="mono">{o.serial ?? o.lot ?? ''}</td>
                      <td className="mono">{o.location}</td>
                      <td className="num nowrap qty-cell">{o.source === 'typed' ? '= ' : '+'}{formatQuantity(o.quantity)} <span className="unit">{t(SOURCE_TEXT[o.source] ?? 'countSourceScan')}</span></td>
                      <td className="num">{formatQuantity(o.key_total)}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
            {view && view.last_scans.length === 0 ? <p className="empty">{t('countNoScans')}</p> : null}
          </div>
        </div>
      </div>
      {chooser ? (
        <CandidateChooser
          scan={chooser.scan}
          onChoose={(c) => { const { data, done } = chooser; setChooser(null); void count(c.reading, c.item, data).finally(done); }}
          onCancel={() => {
            const { done } = chooser;
            setChooser(null);
            report({ outcome: 'warning', message: t('countChoiceCancelled'), details: [] });
            done();
          }}
        />
      ) : null}
    </section>
  );
}

// ---- review ---------------------------------------------------------------

function FlagBadges({ row }: { row: VarianceRow }) {
  const { t } = useI18n();
  return (
    <span className="flags">
      {row.flags.map((f) => <span key={f} className={`flag flag-${FLAG_TONE[f]}`} data-testid={`flag-${f}`}>{t(FLAG_TEXT[f])}</span>)}
    </span>
  );
}

/** Bars in the chart of the largest variances. */
const CHART_BARS = 6;

function VarianceChart({ rows }: { rows: VarianceRow[] }) {
  const { t, lang } = useI18n();
  const bars = largestVariances(rows, CHART_BARS);
  return (
    <figure className="variance-chart" data-testid="variance-chart" aria-label={t('reviewChart')}>
      <figcaption>{t('reviewChart')}</figcaption>
      {bars.length === 0 ? <p className="muted chart-empty">{t('reviewChartEmpty')}</p> : bars.map((b) => (
        <div key={rowKey(b.row)} className="bar-row" data-testid="variance-bar" data-code={b.row.code} data-value={b.row.value ?? ''}>
          <span className="bar-label" title={`${b.row.code} ${b.row.lot ?? ''} ${b.row.serial ?? ''} ${b.row.location}`}>
            {pick(lang, b.row.name, b.row.name_en)} <span className="muted mono">{b.row.serial ?? b.row.lot ?? ''}</span>
          </span>
          <span className="bar-track">
            <span className="bar-half bar-left">{b.value < 0 ? <span className="bar bar-loss" style={{ width: `${Math.max(2, b.share * 100)}%` }} /> : null}</span>
            <span className="bar-half bar-right">{b.value > 0 ? <span className="bar bar-gain" style={{ width: `${Math.max(2, b.share * 100)}%` }} /> : null}</span>
          </span>
          <span className={`bar-value num ${b.value < 0 ? 'negative' : 'positive'}`}>{formatMoney(b.row.value)}</span>
        </div>
      ))}
    </figure>
  );
}

function ReviewView({ id, mayReview, onBack, onCount, onError, clearError }: {
  id: string; mayReview: boolean; onBack: () => void; onCount: () => void; onError: (e: unknown) => void; clearError: () => void;
}) {
  const backend = useBackend();
  const { t, lang } = useI18n();
  const [variance, setVariance] = useState<VarianceReport | null>(null);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [closeScope, setCloseScope] = useState(false);
  const [acceptOver, setAcceptOver] = useState(false);
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState<{ testId: string; text: string } | null>(null);
  const [confirmCancel, setConfirmCancel] = useState(false);
  const [hideUncounted, setHideUncounted] = useState(false);

  const load = useCallback(() => backend.stocktakeVariance(id).then((next) => {
    setVariance(next);
    setSelected((current) => new Set(next.rows.map(rowKey).filter((k) => current.has(k))));
  }, onError), [backend, id, onError]);
  useEffect(() => { void load(); }, [load]);

  const act = async (work: () => Promise<{ testId: string; text: string }>) => {
    if (busy) return;
    setBusy(true);
    clearError();
    setDone(null);
    try {
      setDone(await work());
      await load();
    } catch (error) {
      onError(error);
    } finally {
      setBusy(false);
    }
  };

  const all = variance?.rows ?? [];
  const uncounted = all.filter((r) => r.flags.length === 1 && r.flags[0] === 'uncounted').length;
  // Only hidden, never re-sorted: the table stays in the core's order.
  const rows = hideUncounted ? all.filter((r) => !(r.flags.length === 1 && r.flags[0] === 'uncounted')) : all;
  const serials = rows.some((r) => r.serial !== null);
  const open = variance !== null && isOpen(variance.status);
  const decides = mayReview && open;
  const chosenRows = rows.filter((r) => selected.has(rowKey(r)));
  const toggle = (key: string) => setSelected((current) => {
    const next = new Set(current);
    if (next.has(key)) next.delete(key); else next.add(key);
    return next;
  });

  const recount = () => act(async () => {
    const count = await backend.requestRecount(id, chosenRows.map(recountKey));
    setSelected(new Set());
    return { testId: 'review-done', text: t('reviewRecountRequested', { count }) };
  });
  const finish = () => act(async () => { await backend.finishCounting(id); return { testId: 'review-done', text: t('reviewFinished') }; });
  const post = () => act(async () => {
    const posted = await backend.postStocktake(id, { user: '', close_scope: closeScope, accept_over_tolerance: acceptOver });
    const found = posted.found_elsewhere > 0 ? ` ${t('reviewPostedFound', { found: posted.found_elsewhere })}` : '';
    return { testId: 'stocktake-posted', text: t('reviewPostedBanner', { number: posted.number, movements: posted.movements, zeroed: posted.zeroed, untouched: posted.untouched }) + found };
  });
  const cancel = () => act(async () => {
    await backend.cancelStocktake(id);
    setConfirmCancel(false);
    return { testId: 'review-done', text: t('reviewCancelled', { number: variance?.number ?? '' }) };
  });

  return (
    <section className="screen screen-table" aria-labelledby="stocktake-title" data-testid="review-view">
      <StocktakeHead view={variance} title="stocktakeReviewTitle">
        <button type="button" data-testid="stocktake-back" onClick={onBack}>← {t('stocktakeBack')}</button>
        {open ? <button type="button" data-testid="stocktake-to-count" onClick={onCount}>{t('stocktakeToCount')}</button> : null}
        <button type="button" data-testid="review-refresh" onClick={() => void load()}>⟳ {t('reviewRefresh')}</button>
      </StocktakeHead>
      <div role="status" aria-live="polite" className="live-region">
        {done ? (
          <div className="banner banner-ok" data-testid={done.testId}>
            <div className="banner-head">
              <span className="banner-icon" aria-hidden="true">✓</span>
              <strong className="banner-text">{done.text}</strong>
              <button type="button" className="banner-close" onClick={() => setDone(null)} aria-label={t('dismiss')} title={t('dismiss')}>×</button>
            </div>
          </div>
        ) : null}
      </div>
      {variance ? (
        <div className="summary" data-testid="review-summary">
          <span>{t('reviewKeysInScope', { count: formatQuantity(variance.keys_in_scope) })}</span>
          <span>{t('reviewKeysCounted', { count: formatQuantity(variance.keys_counted) })}</span>
          <span className={variance.keys_needing_recount > 0 ? 'flag flag-danger' : ''}>{t('reviewNeedingRecount', { count: variance.keys_needing_recount })}</span>
          <span className={variance.keys_over_tolerance > 0 ? 'flag flag-warn' : ''}>{t('reviewOverTolerance', { count: variance.keys_over_tolerance })}</span>
          <span>{t('reviewTotalValue')} <b className={`num${variance.total_value.startsWith('-') ? ' negative' : ''}`} data-testid="review-total-value">{formatMoney(variance.total_value)}</b></span>
          {variance.status === 'posted' ? <span className="muted">{t('reviewFrozen')}</span> : null}
          {variance.blind ? <span className="muted">{t('reviewBlindHidden')}</span> : null}
          {uncounted > 0 ? (
            <label className="check">
              <input type="checkbox" data-testid="review-hide-uncounted" checked={hideUncounted} onChange={(e) => setHideUncounted(e.target.checked)} />
              {t('reviewHideUncounted', { count: formatQuantity(uncounted) })}
            </label>
          ) : null}
        </div>
      ) : null}
      <div className="review-top">
        <VarianceChart rows={all} />
        {decides ? (
          <div className="review-actions">
            <button type="button" data-testid="review-recount" disabled={busy || chosenRows.length === 0} onClick={() => void recount()}>{t('reviewRecount', { count: chosenRows.length })}</button>
            {variance?.status === 'counting' ? <button type="button" data-testid="review-finish" disabled={busy} onClick={() => void finish()}>{t('reviewFinish')}</button> : null}
            <fieldset className="form-section post-section">
              <legend>{t('reviewPostSection')}</legend>
              <label className="check"><input type="checkbox" data-testid="post-close-scope" checked={closeScope} onChange={(e) => setCloseScope(e.target.checked)} /> {t('reviewCloseScope')}</label>
              <label className="check"><input type="checkbox" data-testid="post-accept-over" checked={acceptOver} onChange={(e) => setAcceptOver(e.target.checked)} /> {t('reviewAcceptOver')}</label>
              <button type="button" className="primary" data-testid="post-stocktake" disabled={busy} onClick={() => void post()}>{busy ? t('reviewPosting') : t('reviewPost')}</button>
            </fieldset>
            {confirmCancel ? (
              <button type="button" className="danger" data-testid="cancel-confirm" disabled={busy} onClick={() => void cancel()} onBlur={() => setConfirmCancel(false)} autoFocus>{t('reviewCancelConfirm')}</button>
            ) : (
              <button type="button" data-testid="cancel-stocktake" disabled={busy} onClick={() => setConfirmCancel(true)}>{t('reviewCancel')}</button>
            )}
          </div>
        ) : null}
      </div>
      <div className="table-wrap variance-wrap">
        <table className="grid variance-table">
          <thead>
            <tr>
              {decides ? (
                <th className="select-cell">
                  <input
                    type="checkbox"
                    aria-label={t('reviewSelectAll')}
                    data-testid="variance-select-all"
                    checked={rows.length > 0 && chosenRows.length === rows.length}
                    onChange={(e) => setSelected(e.target.checked ? new Set(rows.map(rowKey)) : new Set())}
                  />
                </th>
              ) : null}
              <th>{t('code')}</th><th>{t('name')}</th><th>{t('lot')}</th>{serials ? <th>{t('serial')}</th> : null}<th>{t('location')}</th>
              <th className="num">{t('reviewExpected')}</th><th className="num">{t('reviewCounted')}</th><th className="num">{t('reviewDifference')}</th>
              <th className="num">{t('reviewValue')}</th><th>{t('reviewFlags')}</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => {
              const key = rowKey(r);
              const counters = Object.entries(r.counters);
              const difference = r.difference ?? 0;
              return (
                <tr
                  key={key}
                  data-testid="variance-row"
                  data-code={r.code}
                  data-lot={r.lot ?? ''}
                  data-serial={r.serial ?? ''}
                  data-location={r.location}
                  data-expected={r.expected}
                  data-counted={r.counted ?? ''}
                  data-flags={r.flags.join(' ')}
                  className={selected.has(key) ? 'selected' : ''}
                >
                  {decides ? (
                    <td className="select-cell">
                      <input type="checkbox" data-testid="variance-select" aria-label={t('reviewSelect', { what: `${r.code} ${r.lot ?? ''} ${r.serial ?? ''} ${r.location}` })} checked={selected.has(key)} onChange={() => toggle(key)} />
                    </td>
                  ) : null}
                  <td className="mono nowrap">{r.code}</td>
                  <td className="name-cell" title={r.specification}>{pick(lang, r.name, r.name_en)}</td>
                  <td className="mono">{r.lot ?? ''}</td>
                  {serials ? <td className="mono">{r.serial ?? ''}</td> : null}
                  <td className="mono">{r.location}</td>
                  <td className="num">{formatQuantity(r.expected)}</td>
                  <td className="num" title={counters.map(([who, n]) => `${who}: ${n}`).join('\n')}>
                    {r.counted === null ? '—' : <>{formatQuantity(r.counted)} <span className="unit">{r.unit}</span></>}
                    {counters.length > 1 ? <span className="counters" data-testid="variance-counters">{counters.map(([who, n]) => `${who} ${formatQuantity(n)}`).join(' · ')}</span> : null}
                  </td>
                  <td className={`num nowrap${difference < 0 ? ' negative' : difference > 0 ? ' positive' : ''}`}>
                    {r.difference === null ? '—' : r.difference > 0 ? `+${formatQuantity(r.difference)}` : r.difference < 0 ? `−${formatQuantity(-r.difference)}` : '0'}
                  </td>
                  <td className={`num nowrap${r.value?.startsWith('-') ? ' negative' : ''}`}>{r.value === null ? '—' : formatMoney(r.value)}</td>
                  <td><FlagBadges row={r} /></td>
                </tr>
              );
            })}
          </tbody>
        </table>
        {variance === null ? <p className="empty"><Spinner /></p> : rows.length === 0 ? <p className="empty">{t('reviewNoRows')}</p> : null}
      </div>
    </section>
  );
}
