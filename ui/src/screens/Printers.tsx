// 打印: this workstation's printers (who may edit master data adds and
// changes them: name, language, connection, label size, dpi, receipt paper,
// label barcode) and the print queue — each job with its status, a failed
// job's error in plain words, and retry, send to another printer of the same
// language (the rendered bytes are kept), or cancel. The queue follows the
// app's print-job events; nothing here waits for a printer.
import { useCallback, useEffect, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';
import type { PrinterView } from '../bindings/PrinterView';
import type { PrintJobRow } from '../bindings/PrintJobRow';
import { asApiError, useBackend } from '../api/backend';
import { Field, Spinner } from '../components';
import { localTime } from '../format';
import { useI18n, type TextKey } from '../i18n';
import { usePrinters } from '../printing';
import {
  BAUD_RATES, DPIS, FLOWS, formatBytes, formOf, jobError, LANGUAGES, NEW_PRINTER, PAPERS, setupOf, SYMBOLOGIES,
  type FormProblems, type PrinterForm,
} from '../printingRules';

const STATUS_TEXT: Record<PrintJobRow['status'] | 'sending', TextKey> = {
  queued: 'statusQueued', sending: 'statusSending', sent: 'statusSent', failed: 'statusFailed', cancelled: 'statusCancelled',
};

export function PrintersScreen({ mayEdit, onError }: { mayEdit: boolean; onError: (e: unknown) => void }) {
  const { t } = useI18n();
  const { printers, loaded, reload } = usePrinters(onError);
  const [editing, setEditing] = useState<{ form: PrinterForm; existing: boolean } | null>(null);
  const [saved, setSaved] = useState('');

  return (
    <section className="screen" aria-labelledby="printers-title">
      <div className="screen-head"><h1 id="printers-title">{t('printersTitle')}</h1><span className="muted">{t('printersIntro')}</span></div>
      <div className="panel" data-testid="printers-panel">
        <div className="toolbar">
          <h2>{t('printersSection')}</h2>
          {mayEdit ? (
            <button type="button" data-testid="printer-add" onClick={() => { setSaved(''); setEditing({ form: NEW_PRINTER, existing: false }); }}>
              + {t('printerAdd')}
            </button>
          ) : <span className="muted" data-testid="printers-read-only">{t('printersReadOnly')}</span>}
          {!loaded ? <Spinner /> : null}
        </div>
        {saved ? <p className="saved-note" data-testid="printer-saved" role="status">{t('printerSaved', { name: saved })}</p> : null}
        <PrinterTable printers={printers} mayEdit={mayEdit} onEdit={(p) => { setSaved(''); setEditing({ form: formOf(p), existing: true }); }} />
        {loaded && printers.length === 0 ? <p className="empty">{t('noPrinters')}</p> : null}
        {editing ? (
          <PrinterFormPanel
            key={editing.existing ? editing.form.name : 'new'}
            initial={editing.form}
            existing={editing.existing}
            onCancel={() => setEditing(null)}
            onSaved={(view) => { setEditing(null); setSaved(view.name); void reload(); }}
          />
        ) : null}
      </div>
      <PrintQueue printers={printers} onError={onError} />
    </section>
  );
}

function PrinterTable({ printers, mayEdit, onEdit }: { printers: PrinterView[]; mayEdit: boolean; onEdit: (printer: PrinterView) => void }) {
  const { t } = useI18n();
  if (printers.length === 0) return null;
  const languageText = (id: string) => LANGUAGES.find((l) => l.id === id)?.text;
  return (
    <div className="table-wrap">
      <table className="grid">
        <thead>
          <tr>
            <th>{t('printerName')}</th><th>{t('printerLanguage')}</th><th>{t('printerConnection')}</th>
            <th>{t('printerSymbology')}</th><th>{t('printerPaper')}</th><th />
          </tr>
        </thead>
        <tbody>
          {printers.map((p) => {
            const s = p.setup;
            const language = s ? languageText(s.language) : undefined;
            const symbology = s ? SYMBOLOGIES.find((x) => x.id === s.symbology)?.text : undefined;
            return (
              <tr key={p.name} data-testid="printer-row" data-name={p.name} data-language={s?.language ?? ''}>
                <td className="mono"><b>{p.name}</b></td>
                <td>{language ? t(language) : <span className="field-error">{t('printerUnreadable')}</span>}</td>
                <td className="mono">{p.uri}</td>
                <td>
                  {s && s.language !== 'escpos' ? (
                    <>{symbology ? t(symbology) : ''} <span className="muted">· {t('printerLabelSize', { width: s.label_width_mm, height: s.label_height_mm, dpi: s.dpi })}</span></>
                  ) : ''}
                </td>
                <td>{s?.language === 'escpos' ? t('paperMm', { mm: s.paper }) : ''}</td>
                <td>{mayEdit ? <button type="button" data-testid={`printer-edit-${p.name}`} onClick={() => onEdit(p)}>{t('printerEdit')}</button> : null}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function PrinterFormPanel({ initial, existing, onCancel, onSaved }: {
  initial: PrinterForm; existing: boolean; onCancel: () => void; onSaved: (view: PrinterView) => void;
}) {
  const backend = useBackend();
  const { t } = useI18n();
  const [form, setForm] = useState<PrinterForm>(initial);
  const [problems, setProblems] = useState<FormProblems>({});
  const [refused, setRefused] = useState<{ code: string; message: string } | null>(null);
  const [saving, setSaving] = useState(false);
  const first = useRef<HTMLInputElement>(null);
  const languageSelect = useRef<HTMLSelectElement>(null);
  useEffect(() => { (existing ? languageSelect.current : first.current)?.focus(); }, [existing]);

  const set = (patch: Partial<PrinterForm>) => {
    setForm((f) => ({ ...f, ...patch }));
    setRefused(null);
    setProblems((p) => {
      const next = { ...p };
      for (const k of Object.keys(patch)) delete next[k as keyof FormProblems];
      return next;
    });
  };

  const save = async (e: FormEvent) => {
    e.preventDefault();
    if (saving) return;
    const checked = setupOf(form);
    if (!checked.setup) { setProblems(checked.problems); return; }
    setSaving(true);
    try {
      onSaved(await backend.setPrinter(checked.setup));
    } catch (error) {
      setRefused(asApiError(error));
    } finally {
      setSaving(false);
    }
  };

  const onKeyDown = (e: KeyboardEvent<HTMLFormElement>) => {
    if (e.key === 'Escape') { e.preventDefault(); onCancel(); return; }
    // Enter saves from a select too (browsers submit only from text inputs).
    if (e.key === 'Enter' && e.target instanceof HTMLSelectElement && !e.nativeEvent.isComposing) { e.preventDefault(); e.currentTarget.requestSubmit(); }
  };

  const error = (key: keyof FormProblems) => (problems[key] ? <span className="field-error">{t(problems[key]!)}</span> : undefined);
  const labels = form.language !== 'escpos';
  return (
    <form className="printer-form" data-testid="printer-form" onSubmit={(e) => void save(e)} onKeyDown={onKeyDown} noValidate>
      <h3>{existing ? t('printerEditing', { name: form.name }) : t('printerNew')}</h3>
      <div className="row">
        <Field label={t('printerName')} hint={error('name') ?? t('printerNameHint')}>
          <input ref={first} data-testid="printer-name" className="mono" value={form.name} readOnly={existing} maxLength={40} autoComplete="off" spellCheck={false}
            onChange={(e) => set({ name: e.target.value })} />
        </Field>
        <Field label={t('printerLanguage')}>
          <select ref={languageSelect} data-testid="printer-language" value={form.language} onChange={(e) => set({ language: e.target.value as PrinterForm['language'] })}>
            {LANGUAGES.map((l) => <option key={l.id} value={l.id}>{t(l.text)}</option>)}
          </select>
        </Field>
        <Field label={t('printerConnection')}>
          <select data-testid="printer-connection" value={form.connection} onChange={(e) => set({ connection: e.target.value as PrinterForm['connection'] })}>
            <option value="tcp">{t('connTcp')}</option>
            <option value="cups">{t('connCups')}</option>
            <option value="serial">{t('connSerial')}</option>
          </select>
        </Field>
      </div>
      <div className="row">
        {form.connection === 'tcp' ? (
          <>
            <Field label={t('printerHost')} hint={error('host')} wide>
              <input data-testid="printer-host" className="mono" value={form.host} placeholder="192.168.1.50" autoComplete="off" spellCheck={false} onChange={(e) => set({ host: e.target.value })} />
            </Field>
            <Field label={t('printerPort')} hint={error('port')} narrow>
              <input data-testid="printer-port" className="num" value={form.port} inputMode="numeric" autoComplete="off" onChange={(e) => set({ port: e.target.value.trim() })} />
            </Field>
          </>
        ) : form.connection === 'cups' ? (
          <Field label={t('printerQueue')} hint={error('queue')} wide>
            <input data-testid="printer-queue" className="mono" value={form.queue} placeholder="Office_A4" autoComplete="off" spellCheck={false} onChange={(e) => set({ queue: e.target.value })} />
          </Field>
        ) : (
          <>
            <Field label={t('printerSerialPort')} hint={error('serialPort')}>
              <input data-testid="printer-serial-port" className="mono" value={form.serialPort} placeholder="/dev/ttyUSB0" autoComplete="off" spellCheck={false} onChange={(e) => set({ serialPort: e.target.value })} />
            </Field>
            <Field label={t('printerBaud')} narrow>
              <select data-testid="printer-baud" value={form.baud} onChange={(e) => set({ baud: e.target.value })}>
                {BAUD_RATES.map((b) => <option key={b} value={String(b)}>{b}</option>)}
              </select>
            </Field>
            <Field label={t('printerFlow')} narrow>
              <select data-testid="printer-flow" value={form.flow} onChange={(e) => set({ flow: e.target.value as PrinterForm['flow'] })}>
                {FLOWS.map((f) => <option key={f.id} value={f.id}>{t(f.text)}</option>)}
              </select>
            </Field>
          </>
        )}
      </div>
      {labels ? (
        <div className="row">
          <Field label={t('labelWidth')} hint={error('width')} narrow>
            <input data-testid="printer-width" className="num" value={form.width} inputMode="decimal" autoComplete="off" onChange={(e) => set({ width: e.target.value.trim() })} />
          </Field>
          <Field label={t('labelHeight')} hint={error('height')} narrow>
            <input data-testid="printer-height" className="num" value={form.height} inputMode="decimal" autoComplete="off" onChange={(e) => set({ height: e.target.value.trim() })} />
          </Field>
          <Field label={t('printerDpi')} narrow>
            <select data-testid="printer-dpi" value={form.dpi} onChange={(e) => set({ dpi: e.target.value })}>
              {DPIS.map((d) => <option key={d} value={String(d)}>{d}</option>)}
            </select>
          </Field>
          <Field label={t('printerSymbology')}>
            <select data-testid="printer-symbology" value={form.symbology} onChange={(e) => set({ symbology: e.target.value as PrinterForm['symbology'] })}>
              {SYMBOLOGIES.map((s) => <option key={s.id} value={s.id}>{t(s.text)}</option>)}
            </select>
          </Field>
          {form.language === 'zpl' || form.language === 'tspl' ? (
            <Field label={t('printerFont')} hint={t('printerFontHint')}>
              <input data-testid="printer-font" className="mono" value={form.font} placeholder={form.language === 'zpl' ? 'E:ANMDS.TTF' : 'TSS24.BF2'} autoComplete="off" spellCheck={false} onChange={(e) => set({ font: e.target.value })} />
            </Field>
          ) : null}
        </div>
      ) : (
        <div className="row">
          <Field label={t('printerPaper')} narrow>
            <select data-testid="printer-paper" value={form.paper} onChange={(e) => set({ paper: e.target.value })}>
              {PAPERS.map((p) => <option key={p} value={String(p)}>{t('paperMm', { mm: p })}</option>)}
            </select>
          </Field>
        </div>
      )}
      {refused ? <p className="field-error" data-testid="printer-error" data-code={refused.code}>{refused.message}</p> : null}
      <div className="form-actions">
        <button type="submit" className="primary" data-testid="printer-save" disabled={saving}>{saving ? t('printerSaving') : t('printerSave')}</button>
        <button type="button" data-testid="printer-cancel" onClick={onCancel}>{t('cancel')}</button>
        <span className="muted">Enter · Esc</span>
      </div>
    </form>
  );
}

function PrintQueue({ printers, onError }: { printers: PrinterView[]; onError: (e: unknown) => void }) {
  const backend = useBackend();
  const { t } = useI18n();
  const [all, setAll] = useState(false);
  const [jobs, setJobs] = useState<PrintJobRow[]>([]);
  const [loading, setLoading] = useState(true);
  const [targets, setTargets] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState<string | null>(null);
  const [refused, setRefused] = useState<{ job: string; code: string; message: string } | null>(null);

  const load = useCallback(async () => {
    try {
      setJobs(await backend.printJobs(all));
    } catch (e) {
      onError(e);
    } finally {
      setLoading(false);
    }
  }, [backend, all, onError]);
  useEffect(() => { void load(); }, [load]);
  // Every finished attempt (from any screen) refreshes the list.
  useEffect(() => backend.onPrintJob(() => { void load(); }), [backend, load]);

  const act = async (job: string, action: () => Promise<PrintJobRow>) => {
    setBusy(job);
    setRefused(null);
    try {
      await action();
    } catch (e) {
      setRefused({ job, ...asApiError(e) });
    } finally {
      setBusy(null);
      void load();
    }
  };

  const languageOf = (name: string) => printers.find((p) => p.name === name)?.setup?.language;
  return (
    <div className="panel" data-testid="queue-panel">
      <div className="toolbar">
        <h2>{t('queueSection')}</h2>
        <label className="check-inline">
          <input type="checkbox" data-testid="queue-all" checked={all} onChange={(e) => setAll(e.target.checked)} />
          {t('queueShowAll')}
        </label>
        <button type="button" data-testid="queue-refresh" onClick={() => void load()}>{t('refresh')}</button>
        {loading ? <Spinner /> : null}
      </div>
      {jobs.length > 0 ? (
        <div className="table-wrap">
          <table className="grid">
            <thead>
              <tr>
                <th>{t('jobQueuedAt')}</th><th>{t('jobPrinter')}</th><th>{t('jobWhat')}</th><th className="num">{t('jobSize')}</th>
                <th>{t('jobStatus')}</th><th className="num">{t('jobAttempts')}</th><th />
              </tr>
            </thead>
            <tbody>
              {jobs.map((job) => {
                const status = job.sending ? 'sending' : job.status;
                const waiting = (job.status === 'queued' || job.status === 'failed') && !job.sending;
                const error = jobError(job.last_error);
                // The kept bytes are in the printer's language: only a printer of the same language can take them.
                const language = languageOf(job.printer);
                const others = printers.filter((p) => p.name !== job.printer && p.setup && (!language || p.setup.language === language));
                const target = targets[job.id] ?? others[0]?.name ?? '';
                return (
                  <tr key={job.id} data-testid="print-job-row" data-id={job.id} data-status={status} data-printer={job.printer} data-kind={job.kind}>
                    <td className="mono time-cell">{localTime(new Date(job.created_at_ms).toISOString())}</td>
                    <td className="mono queue-printer">{job.printer}</td>
                    <td>
                      <span className="kind">{t(job.kind === 'label' ? 'jobKindLabel' : 'jobKindDocument')}</span> {job.description}
                      {error ? <div className="job-error" data-testid="print-job-error" data-code={error.code}>{error.message}</div> : null}
                      {job.status === 'queued' && !job.sending ? <div className="job-hint">{t('jobIdle')}</div> : null}
                      {job.sent_at_ms ? <div className="job-hint">{t('jobSentAt', { time: localTime(new Date(job.sent_at_ms).toISOString()) })}</div> : null}
                      {refused?.job === job.id ? <div className="job-error" data-testid="print-job-refused" data-code={refused.code}>{refused.message}</div> : null}
                    </td>
                    <td className="num">{formatBytes(job.bytes)}</td>
                    <td><span className={`job-status job-status-${status}`} data-testid="print-job-status">{t(STATUS_TEXT[status])}</span></td>
                    <td className="num">{job.attempts}</td>
                    <td>
                      {waiting ? (
                        <div className="job-actions">
                          <button type="button" data-testid="print-job-retry" disabled={busy === job.id} onClick={() => void act(job.id, () => backend.retryPrintJob(job.id, null))}>{t('jobRetry')}</button>
                          {others.length > 0 ? (
                            <>
                              <select data-testid="print-job-target" aria-label={t('jobSendToChoose')} value={target} onChange={(e) => setTargets((m) => ({ ...m, [job.id]: e.target.value }))}>
                                {others.map((p) => <option key={p.name} value={p.name}>{p.name}</option>)}
                              </select>
                              <button type="button" data-testid="print-job-send" disabled={busy === job.id || !target} onClick={() => void act(job.id, () => backend.retryPrintJob(job.id, target))}>{t('jobSendTo')}</button>
                            </>
                          ) : null}
                          <button type="button" data-testid="print-job-cancel" disabled={busy === job.id} onClick={() => void act(job.id, () => backend.cancelPrintJob(job.id))}>{t('jobCancel')}</button>
                        </div>
                      ) : null}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      ) : !loading ? <p className="empty" data-testid="queue-empty">{all ? t('queueEmptyAll') : t('queueEmpty')}</p> : null}
    </div>
  );
}
