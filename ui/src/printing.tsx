// Printing on the screens that post documents: under a posted document's
// banner, "preview" (the A4 PDF in a dialog) and "print" to a chosen printer,
// and for a receipt "print labels" (one per unit for serial-tracked items,
// one per lot otherwise, counts editable, one label previewed as a PNG).
// Printing never waits for a printer: the job is queued and the notice under
// the buttons follows its outcome (the app's print-job event). The panel is
// not modal: scans keep going to the screen while it is open. Alt+V previews,
// Alt+P prints the document, Alt+L opens the labels; Esc closes a panel and
// the focus goes back where the clerk was.
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState, type KeyboardEvent, type ReactNode, type RefObject } from 'react';
import type { ApiError } from './bindings/ApiError';
import type { DocumentView } from './bindings/DocumentView';
import type { PrinterView } from './bindings/PrinterView';
import type { PrintJobRow } from './bindings/PrintJobRow';
import { asApiError, useBackend } from './api/backend';
import { formatQuantity, pick } from './format';
import { useI18n } from './i18n';
import { defaultPrinter, jobError, LABELS_PER_JOB_MAX, labelLines, labelRequests, parseCopies, printersFor, type Purpose } from './printingRules';
import './printing.css';

/** The printers screen's Alt+digit (App.tsx's navigation uses it too). */
export const PRINTERS_NAV_KEY = '7';

const REMEMBER_KEY = 'medledger.printer.';

/** The printer last used for `purpose` on this workstation. */
function remembered(purpose: Purpose): string | null {
  try { return window.localStorage.getItem(REMEMBER_KEY + purpose); } catch { return null; }
}

function remember(purpose: Purpose, printer: string) {
  try { window.localStorage.setItem(REMEMBER_KEY + purpose, printer); } catch { /* private mode: nothing remembered */ }
}

/** This workstation's printers, loaded once per mount. */
export function usePrinters(onError: (e: unknown) => void) {
  const backend = useBackend();
  const [printers, setPrinters] = useState<PrinterView[]>([]);
  const [loaded, setLoaded] = useState(false);
  const reload = useCallback(() => backend.listPrinters().then((all) => { setPrinters(all); setLoaded(true); }, onError), [backend, onError]);
  useEffect(() => { void reload(); }, [reload]);
  return { printers, loaded, reload };
}

/** A blob URL for bytes, revoked when the bytes change or the component goes. */
export function useObjectUrl(bytes: Uint8Array | null, type: string): string | null {
  const [url, setUrl] = useState<string | null>(null);
  useEffect(() => {
    if (!bytes) { setUrl(null); return; }
    const made = URL.createObjectURL(new Blob([bytes as BlobPart], { type }));
    setUrl(made);
    return () => URL.revokeObjectURL(made);
  }, [bytes, type]);
  return url;
}

/** How often a job still being sent is looked up, in case its event came before the screen listened. */
const JOB_POLL_MS = 1500;

/**
 * The job this screen queued, kept current by the app's print-job events
 * (listened to from mount, so a job sent in a blink is not missed) and, while
 * it is still on its way, by looking it up now and then.
 */
export function useTrackedJob() {
  const backend = useBackend();
  const [job, setShown] = useState<PrintJobRow | null>(null);
  const tracked = useRef<string | null>(null);
  const finished = useRef(new Map<string, PrintJobRow>());
  useEffect(() => backend.onPrintJob((row) => {
    finished.current.set(row.id, row);
    if (row.id === tracked.current) setShown(row);
  }), [backend]);
  const pending = job !== null && (job.sending || job.status === 'queued');
  const id = job?.id ?? null;
  useEffect(() => {
    if (!pending || !id) return;
    const timer = window.setInterval(() => {
      backend.printJobs(true).then((rows) => {
        const row = rows.find((r) => r.id === id);
        if (row && tracked.current === id && !(row.sending || row.status === 'queued')) setShown(row);
      }, () => undefined);
    }, JOB_POLL_MS);
    return () => window.clearInterval(timer);
  }, [backend, pending, id]);
  const track = useCallback((queued: PrintJobRow | null) => {
    tracked.current = queued?.id ?? null;
    setShown(queued ? finished.current.get(queued.id) ?? queued : null);
  }, []);
  return [job, track] as const;
}

/** What became of a job, in words: handed over, waiting for a retry, printed, or failed with its error. */
export function JobNotice({ job, testId }: { job: PrintJobRow | null; testId: string }) {
  const { t } = useI18n();
  if (!job) return null;
  const error = jobError(job.last_error);
  const status = job.sending ? 'sending' : job.status;
  const text = job.status === 'sent' ? t('jobSent', { printer: job.printer, what: job.description })
    : job.status === 'failed' ? t('jobFailedNotice', { printer: job.printer, error: error?.message ?? '', key: PRINTERS_NAV_KEY })
    : job.sending ? t('jobQueued', { printer: job.printer, what: job.description })
    : t('jobWaiting');
  return (
    <p className={`job-notice job-${status}`} data-testid={testId} data-status={status} data-job={job.id} data-code={error?.code ?? ''} role="status">
      <span className="job-icon" aria-hidden="true">{job.status === 'sent' ? '✓' : job.status === 'failed' ? '✕' : '⋯'}</span>
      {text}
    </p>
  );
}

export function PrinterSelect({ purpose, printers, value, onChange, testId }: {
  purpose: Purpose; printers: PrinterView[]; value: string; onChange: (name: string) => void; testId: string;
}) {
  const { t } = useI18n();
  const able = printersFor(printers, purpose);
  return (
    <label className="printer-select">
      <span className="field-label">{t('printerChoose')}</span>
      <select data-testid={testId} value={value} onChange={(e) => { onChange(e.target.value); remember(purpose, e.target.value); }}>
        {able.map((p) => <option key={p.name} value={p.name}>{p.name} · {p.setup?.language.toUpperCase()}</option>)}
      </select>
    </label>
  );
}

/**
 * Keeps the element the clerk last worked in outside `inside` (followed as
 * the focus moves, and taken again when an action starts), to give the focus
 * back once printing is under way or a panel closes.
 */
function useFocusReturn(inside: RefObject<HTMLElement | null>) {
  const last = useRef<HTMLElement | null>(null);
  const remember = useCallback((element: Element | null = document.activeElement) => {
    if (element instanceof HTMLElement && element !== document.body && !inside.current?.contains(element) && !element.closest('.print-dialog')) {
      last.current = element;
    }
  }, [inside]);
  useLayoutEffect(() => {
    remember();
    const onFocus = (e: FocusEvent) => remember(e.target as Element | null);
    window.addEventListener('focusin', onFocus);
    return () => window.removeEventListener('focusin', onFocus);
  }, [remember]);
  const giveBack = useCallback(() => {
    const target = last.current;
    if (target && target.isConnected) target.focus();
  }, []);
  return { remember, giveBack };
}

/**
 * Printing one posted document: this workstation's printers, the one chosen
 * (remembered per workstation), the job it printed and what went wrong.
 * `afterQueued` runs once the job is queued (the print bar gives the focus back).
 */
function useDocumentPrinting(number: string, afterQueued: () => void = () => undefined) {
  const backend = useBackend();
  const [problem, setProblem] = useState<ApiError | null>(null);
  const onError = useCallback((e: unknown) => setProblem(asApiError(e)), []);
  const { printers, loaded } = usePrinters(onError);
  const [printer, setPrinter] = useState('');
  const [printing, setPrinting] = useState(false);
  const [job, setJob] = useTrackedJob();
  useEffect(() => { if (loaded) setPrinter((current) => current || defaultPrinter(printers, 'documents', remembered('documents'))); }, [loaded, printers]);
  const print = useCallback(async () => {
    if (!printer || printing) return;
    setPrinting(true);
    setProblem(null);
    try {
      setJob(await backend.printDocument(number, printer));
      afterQueued();
    } catch (e) {
      onError(e);
    } finally {
      setPrinting(false);
    }
  }, [backend, number, printer, printing, setJob, afterQueued, onError]);
  return { printers, loaded, printer, setPrinter, printing, print, job, problem };
}

/** The document printer, its print button, the job's outcome and a refusal. */
function DocumentPrintControls({ printing: p, shortcut }: { printing: ReturnType<typeof useDocumentPrinting>; shortcut?: string }) {
  const { t } = useI18n();
  return printersFor(p.printers, 'documents').length > 0 ? (
    <>
      <PrinterSelect purpose="documents" printers={p.printers} value={p.printer} onChange={p.setPrinter} testId="document-printer" />
      <button type="button" data-testid="print-document" disabled={p.printing || !p.printer} onClick={() => void p.print()} title={shortcut}>
        {t('printDocument')}{shortcut ? <> <kbd>{shortcut}</kbd></> : null}
      </button>
    </>
  ) : p.loaded ? <span className="muted print-hint" data-testid="no-document-printer">{t('noDocumentPrinter')}</span> : null;
}

function DocumentPrintOutcome({ printing: p }: { printing: ReturnType<typeof useDocumentPrinting> }) {
  return (
    <>
      <JobNotice job={p.job} testId="document-job" />
      {p.problem ? <p className="field-error" data-testid="print-error" data-code={p.problem.code}>{p.problem.message}</p> : null}
    </>
  );
}

/**
 * Preview and print for a posted document (and labels for a receipt), shown
 * inside the document's result banner.
 */
export function DocumentPrintBar({ document }: { document: DocumentView }) {
  const { t } = useI18n();
  const [previewing, setPreviewing] = useState(false);
  const [labelsOpen, setLabelsOpen] = useState(false);
  const bar = useRef<HTMLDivElement>(null);
  const { remember: rememberFocus, giveBack: giveFocusBack } = useFocusReturn(bar);
  const number = document.number ?? document.id;
  const isReceipt = document.kind === 'receipt';
  const printing = useDocumentPrinting(number, giveFocusBack);
  const { print, printers, loaded } = printing;

  // Alt+V preview, Alt+P print, Alt+L labels: from anywhere on the screen while the banner shows.
  useEffect(() => {
    const onKey = (e: globalThis.KeyboardEvent) => {
      if (!e.altKey || e.ctrlKey || e.metaKey) return;
      const key = e.code.startsWith('Key') ? e.code.slice(3) : e.key.toUpperCase();
      if (key === 'V' || key === 'P' || key === 'L') rememberFocus();
      if (key === 'V') { e.preventDefault(); setPreviewing(true); }
      else if (key === 'P') { e.preventDefault(); void print(); }
      else if (key === 'L' && isReceipt) { e.preventDefault(); setLabelsOpen(true); }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [print, isReceipt, rememberFocus]);

  return (
    // Pressing a button moves the focus onto it: what had the focus just before is where it goes back.
    <div className="print-bar" ref={bar} data-testid="print-bar" onPointerDownCapture={() => rememberFocus()}>
      <div className="print-actions">
        <button type="button" data-testid="preview-document" onClick={() => setPreviewing(true)} title="Alt+V">
          {t('previewPdf')} <kbd>Alt+V</kbd>
        </button>
        <DocumentPrintControls printing={printing} shortcut="Alt+P" />
        {isReceipt ? (
          <button type="button" data-testid="print-labels" aria-expanded={labelsOpen} onClick={() => setLabelsOpen((open) => !open)} title="Alt+L">
            {t('printLabels')} <kbd>Alt+L</kbd>
          </button>
        ) : null}
      </div>
      <DocumentPrintOutcome printing={printing} />
      {labelsOpen && isReceipt ? (
        <ReceiptLabels document={document} printers={printers} loaded={loaded} onClose={() => { setLabelsOpen(false); giveFocusBack(); }} onQueued={giveFocusBack} />
      ) : null}
      {previewing ? <PdfPreview document={number} onClose={() => { setPreviewing(false); giveFocusBack(); }} /> : null}
    </div>
  );
}

/** The labels of a posted receipt: counts per line, the printer, one label previewed. */
export function ReceiptLabels({ document, printers, loaded, onClose, onQueued }: {
  document: DocumentView; printers: PrinterView[]; loaded: boolean; onClose: () => void; onQueued: () => void;
}) {
  const backend = useBackend();
  const { t, lang } = useI18n();
  const rows = useMemo(() => labelLines(document), [document]);
  const [counts, setCounts] = useState<string[]>(() => labelLines(document).map((r) => String(r.copies)));
  const [printer, setPrinter] = useState('');
  const [shown, setShown] = useState(0);
  const [png, setPng] = useState<Uint8Array | null>(null);
  // The printer the shown preview was laid out for ('' = the default label).
  const [pngPrinter, setPngPrinter] = useState('');
  const [previewProblem, setPreviewProblem] = useState<ApiError | null>(null);
  const [problem, setProblem] = useState<ApiError | null>(null);
  const [printing, setPrinting] = useState(false);
  const [job, setJob] = useTrackedJob();
  const first = useRef<HTMLInputElement>(null);
  const pngUrl = useObjectUrl(png, 'image/png');

  useEffect(() => { if (loaded) setPrinter((current) => current || defaultPrinter(printers, 'labels', remembered('labels'))); }, [loaded, printers]);
  useEffect(() => { first.current?.focus(); first.current?.select(); }, []);

  const row = rows[shown] ?? rows[0];
  useEffect(() => {
    if (!row) return;
    let current = true;
    setPng(null);
    setPreviewProblem(null);
    backend.previewLabel({ item: row.item, lot: row.lot, serial: row.serial, copies: 1 }, printer || null)
      .then((bytes) => { if (current) { setPng(bytes); setPngPrinter(printer); } }, (e) => { if (current) setPreviewProblem(asApiError(e)); });
    return () => { current = false; };
  }, [backend, row, printer]);

  const parsed = counts.map(parseCopies);
  const total = parsed.reduce<number>((n, c) => n + (c ?? 0), 0);
  const valid = parsed.every((c) => c !== null) && total > 0 && total <= LABELS_PER_JOB_MAX;

  const print = async () => {
    if (!valid || !printer || printing) return;
    setPrinting(true);
    setProblem(null);
    try {
      const wanted = rows.map((r, i) => ({ ...r, copies: parsed[i] ?? 0 }));
      setJob(await backend.printLabels({ printer, document: document.number, labels: labelRequests(wanted) }));
      onQueued();
    } catch (e) {
      setProblem(asApiError(e));
    } finally {
      setPrinting(false);
    }
  };

  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    if (e.key === 'Escape') { e.preventDefault(); onClose(); }
    else if (e.key === 'Enter' && e.target instanceof HTMLInputElement && !e.nativeEvent.isComposing) { e.preventDefault(); void print(); }
  };

  const labelPrinters = printersFor(printers, 'labels');
  return (
    <div className="labels-panel" data-testid="labels-panel" onKeyDown={onKeyDown}>
      <div className="labels-head">
        <strong>{t('labelsTitle')}</strong>
        <span className="muted">{t('labelsIntro')}</span>
        <button type="button" className="banner-close" data-testid="labels-close" onClick={onClose} aria-label={t('close')} title={`${t('close')} (Esc)`}>×</button>
      </div>
      <div className="labels-body">
        <table className="mini labels-table">
          <thead>
            <tr><th>#</th><th>{t('name')}</th><th>{t('lot')}</th><th>{t('expiry')}</th><th>{t('serial')}</th><th className="num">{t('labelCopies')}</th><th /></tr>
          </thead>
          <tbody>
            {rows.map((r, i) => (
              <tr key={`${r.item}|${r.lot}|${r.serial}`} data-testid="label-line" data-lot={r.lot ?? ''} data-serial={r.serial ?? ''} className={i === shown ? 'label-shown' : undefined}>
                <td className="num">{r.line}</td>
                <td>{pick(lang, r.name, r.nameEn)}</td>
                <td className="mono">{r.lot ?? '—'}</td>
                <td className="mono">{r.expiry ?? '—'}</td>
                <td className="mono">{r.serial ?? ''}</td>
                <td className="num">
                  <input
                    ref={i === 0 ? first : undefined}
                    data-testid={`label-copies-${i}`}
                    className={`num copies${parsed[i] === null ? ' invalid' : ''}`}
                    value={counts[i]}
                    inputMode="numeric"
                    aria-label={`${t('labelCopies')} ${r.line}`}
                    onFocus={() => setShown(i)}
                    onChange={(e) => { const next = [...counts]; next[i] = e.target.value.trim(); setCounts(next); }}
                  />
                </td>
                <td><button type="button" className="link" data-testid={`label-preview-${i}`} onClick={() => setShown(i)}>{t('labelPreview')}</button></td>
              </tr>
            ))}
          </tbody>
        </table>
        <figure className="label-preview" data-testid="label-preview" data-loaded={pngUrl ? 'true' : 'false'} data-printer={pngPrinter}>
          {pngUrl ? <img src={pngUrl} alt={t('labelPreviewOf', { line: row?.line ?? '' })} data-testid="label-preview-image" />
            : previewProblem ? <span className="field-error" data-testid="label-preview-error" data-code={previewProblem.code}>{previewProblem.message}</span>
            : <span className="muted">{t('labelPreviewLoading')}</span>}
          <figcaption className="muted">{row ? t('labelPreviewOf', { line: row.line }) : ''}</figcaption>
        </figure>
      </div>
      {parsed.some((c) => c === null) ? <p className="field-error">{t('copiesInvalid', { max: formatQuantity(LABELS_PER_JOB_MAX) })}</p> : null}
      <div className="print-actions">
        {labelPrinters.length > 0 ? (
          <>
            <PrinterSelect purpose="labels" printers={printers} value={printer} onChange={setPrinter} testId="label-printer" />
            <button type="button" className="primary" data-testid="labels-print" disabled={!valid || !printer || printing} onClick={() => void print()}>
              {total === 1 ? t('labelsPrintOne') : total > 0 ? t('labelsPrint', { count: formatQuantity(total) }) : t('labelsNone')}
            </button>
          </>
        ) : loaded ? <span className="muted print-hint" data-testid="no-label-printer">{t('noLabelPrinter')}</span> : null}
      </div>
      <JobNotice job={job} testId="labels-job" />
      {problem ? <p className="field-error" data-testid="labels-error" data-code={problem.code}>{problem.message}</p> : null}
    </div>
  );
}

/**
 * A posted document's A4 PDF on screen (the webview's own PDF viewer shows it
 * in a frame); `withPrint` adds the printer and a print button (where no
 * print bar is beside it, as on the movements screen).
 */
export function PdfPreview({ document: number, onClose, withPrint = false }: { document: string; onClose: () => void; withPrint?: boolean }) {
  const backend = useBackend();
  const { t } = useI18n();
  const [pdf, setPdf] = useState<Uint8Array | null>(null);
  const [problem, setProblem] = useState<ApiError | null>(null);
  const url = useObjectUrl(pdf, 'application/pdf');
  const close = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    let current = true;
    backend.previewDocument(number).then((bytes) => { if (current) setPdf(bytes); }, (e) => { if (current) setProblem(asApiError(e)); });
    return () => { current = false; };
  }, [backend, number]);
  useEffect(() => { close.current?.focus(); }, []);
  return (
    <Dialog title={t('previewTitle', { number })} onClose={onClose} closeRef={close} testId="pdf-preview">
      <p className="muted">{t('previewHint')}</p>
      {withPrint ? <PreviewPrintControls document={number} /> : null}
      {url ? <iframe className="pdf-frame" src={url} title={t('previewTitle', { number })} data-testid="pdf-frame" data-bytes={pdf?.length ?? 0} />
        : problem ? <p className="field-error" data-testid="pdf-error" data-code={problem.code}>{problem.message}</p>
        : <p className="muted pdf-loading">{t('previewLoading')}</p>}
    </Dialog>
  );
}

/** Printing from the preview, where no print bar is beside it. */
function PreviewPrintControls({ document: number }: { document: string }) {
  const printing = useDocumentPrinting(number);
  return (
    <>
      <div className="print-actions"><DocumentPrintControls printing={printing} /></div>
      <DocumentPrintOutcome printing={printing} />
    </>
  );
}

function Dialog({ title, onClose, closeRef, testId, children }: {
  title: string; onClose: () => void; closeRef: RefObject<HTMLButtonElement | null>; testId: string; children: ReactNode;
}) {
  const { t } = useI18n();
  return (
    <div className="dialog-backdrop print-dialog" onKeyDown={(e) => { if (e.key === 'Escape') { e.preventDefault(); onClose(); } }}>
      <div role="dialog" aria-modal="true" aria-label={title} className="dialog dialog-wide" data-testid={testId}>
        <div className="labels-head">
          <h2>{title}</h2>
          <button type="button" ref={closeRef} className="banner-close" data-testid={`${testId}-close`} onClick={onClose} aria-label={t('close')} title={`${t('close')} (Esc)`}>×</button>
        </div>
        {children}
      </div>
    </div>
  );
}
