// 出库: issue to a department. Without a chosen lot the core allocates by FEFO
// and may split across lots; the screen shows its suggestion first. Beyond
// stock the core refuses with insufficient_stock, and the screen offers a
// manager's override (username + reason) to resubmit the same request.
// A scan picks the item and, when the barcode carries one, exactly its lot
// or serial, and warns when that is not the FEFO choice.
import { useEffect, useLayoutEffect, useRef, useState, type FormEvent } from 'react';
import { flushSync } from 'react-dom';
import type { BarcodeScan } from '../bindings/BarcodeScan';
import type { DepartmentView } from '../bindings/DepartmentView';
import type { DocumentRequest } from '../bindings/DocumentRequest';
import type { DocumentView } from '../bindings/DocumentView';
import type { ItemView } from '../bindings/ItemView';
import type { LocationView } from '../bindings/LocationView';
import type { LotChoice } from '../bindings/LotChoice';
import type { Override } from '../bindings/Override';
import type { ScanReading } from '../bindings/ScanReading';
import { asApiError, useBackend } from '../api/backend';
import { enterSubmits, Field, LoadedSelect, focusTestId, ItemField, ResultBanner } from '../components';
import { pick } from '../format';
import { useI18n, type TextKey, type Translate } from '../i18n';
import { CandidateChooser, readScan, useScanHandler, useScanReport, warningTexts, type ScanReport } from '../scan';
import { LotPicker, suggestedChoice, useLotChoices } from './LotPicker';
import { TemperatureGateDialog } from '../coldchain';

/** What a scan picks at the source location, and what to tell the clerk about it. */
export interface ScanPick { lot: string; serial: string; outcome: ScanReport['outcome']; message: string }

/** Lots without expiry go last in FEFO. */
const expiryKey = (c: LotChoice) => c.expiry ?? '9999-12-31';

/**
 * The lot (or serial) a reading names among the FEFO choices at `location`:
 * refused when it is not there or has expired, warned when something else
 * expires first (the core's suggestion: the first non-expired choice), and
 * left to FEFO when the barcode names no lot.
 */
export function pickFromScan(t: Translate, reading: ScanReading, item: ItemView, itemName: string, choices: LotChoice[], location: string): ScanPick {
  const relevant = choices.filter((c) => (item.serialized ? c.serial !== null : c.serial === null));
  const label = (c: LotChoice) => (item.serialized ? t('serialLabel', { serial: c.serial ?? '' }) : t('lotLabel', { lot: c.lot ?? '—' }));
  let chosen: LotChoice | undefined;
  if (item.serialized && reading.serial !== null) {
    chosen = relevant.find((c) => c.serial === reading.serial && (reading.lot === null || c.lot === reading.lot));
    if (!chosen) return { lot: '', serial: '', outcome: 'failure', message: t('scanSerialNotHere', { serial: reading.serial, item: itemName, location }) };
  } else if (!item.serialized && reading.lot !== null) {
    chosen = relevant.find((c) => c.lot === reading.lot);
    if (!chosen) return { lot: '', serial: '', outcome: 'failure', message: t('scanLotNotHere', { lot: reading.lot, item: itemName, location }) };
  }
  if (!chosen) return { lot: '', serial: '', outcome: 'success', message: t('scanFefoLeft', { item: itemName }) };
  if (chosen.expired) {
    return { lot: '', serial: '', outcome: 'failure', message: t('scanLotExpiredIssue', { lot: chosen.lot ?? '—', expiry: chosen.expiry ?? '' }) };
  }
  const lot = item.serialized ? '' : chosen.lot ?? '';
  const serial = item.serialized ? chosen.serial ?? '' : '';
  const suggested = suggestedChoice(relevant);
  if (suggested && suggested !== chosen && expiryKey(suggested) < expiryKey(chosen)) {
    return { lot, serial, outcome: 'warning', message: t('scanNotFefo', { chosen: label(chosen), suggested: label(suggested), expiry: suggested.expiry ?? t('noExpiry') }) };
  }
  const expiry = chosen.expiry ?? t('noExpiry');
  return item.serialized
    ? { lot, serial, outcome: 'success', message: t('scanSerialPicked', { serial, item: itemName, lot: chosen.lot ?? '—', expiry }) }
    : { lot, serial, outcome: 'success', message: t('scanLotPicked', { lot, item: itemName, expiry }) };
}

/** The screen and the focus when a scan came in. */
interface ScanStart { item: ItemView | null; quantity: string; focus: Element | null }

export function IssueScreen({ onError, clearError }: { onError: (e: unknown) => void; clearError: () => void }) {
  const backend = useBackend();
  const { t, lang } = useI18n();
  const [locations, setLocations] = useState<LocationView[]>([]);
  const [departments, setDepartments] = useState<DepartmentView[]>([]);
  const [location, setLocation] = useState('');
  const [department, setDepartment] = useState('');
  const [code, setCode] = useState('');
  const [item, setItem] = useState<ItemView | null>(null);
  const [lot, setLot] = useState('');
  const [serial, setSerial] = useState('');
  const [quantity, setQuantity] = useState('');
  const [problem, setProblem] = useState<{ field: 'department' | 'quantity' | 'serial' | 'item'; text: TextKey } | null>(null);
  const [posting, setPosting] = useState(false);
  const [posted, setPosted] = useState<DocumentView | null>(null);
  const [refused, setRefused] = useState<DocumentRequest | null>(null);
  const [manager, setManager] = useState('');
  const [reason, setReason] = useState('');
  const [refresh, setRefresh] = useState(0);
  const [gate, setGate] = useState<{ request: DocumentRequest; message: string } | null>(null);
  const { choices, loading } = useLotChoices(item, location, refresh, onError);
  const report = useScanReport();
  const [chooser, setChooser] = useState<{ scan: BarcodeScan; start: ScanStart } | null>(null);
  const current = useRef({ item, quantity, location });
  useLayoutEffect(() => { current.current = { item, quantity, location }; }, [item, quantity, location]);
  const scanTicket = useRef(0);

  useEffect(() => {
    backend.listLocations().then((all) => {
      setLocations(all);
      setLocation((current) => current || (all.find((l) => l.code === 'MAIN') ?? all[0])?.code || '');
    }, onError);
    backend.listDepartments().then(setDepartments, onError);
  }, [backend, onError]);
  // Another item or source: the lot choice and any pending override no longer apply.
  const chooseItem = (next: ItemView | null) => { setItem(next); setLot(''); setSerial(''); setRefused(null); };
  const chooseLocation = (next: string) => { setLocation(next); setLot(''); setSerial(''); setRefused(null); };
  useEffect(() => { if (item?.serialized) setQuantity('1'); }, [item]);

  /** Puts the scanned item (and its lot or serial, if the barcode names one here) on the line. */
  const takeReading = async (reading: ScanReading, found: ItemView | null, start: ScanStart, moveFocus: boolean, ticket: number) => {
    setChooser(null);
    const details = warningTexts(reading);
    if (!found) {
      report({ outcome: 'failure', message: t('scanUnknownIssue', { code: reading.di ?? reading.gtin ?? '' }), details });
      return;
    }
    const at = current.current.location;
    let lotChoices: LotChoice[];
    try {
      lotChoices = await backend.fefoChoices(found.code, at);
    } catch (error) {
      if (ticket === scanTicket.current) report({ outcome: 'failure', message: asApiError(error).message, details });
      return;
    }
    if (ticket !== scanTicket.current) return;
    const picked = pickFromScan(t, reading, found, pick(lang, found.name, found.name_en), lotChoices, at);
    const now = current.current;
    // The quantity: the barcode's, one for a serial, else what the clerk typed meanwhile or had for this same item.
    const keepQuantity = now.quantity !== start.quantity || start.item?.id === found.id;
    flushSync(() => {
      setCode(found.code);
      setItem(found);
      setLot(picked.lot);
      setSerial(picked.serial);
      setRefused(null);
      setProblem(null);
      setQuantity(found.serialized ? '1' : reading.quantity !== null ? String(reading.quantity) : keepQuantity ? now.quantity : '');
    });
    const outcome = picked.outcome === 'success' && details.length > 0 ? 'warning' : picked.outcome;
    report({ outcome, message: picked.message, details });
    if (moveFocus || document.activeElement === start.focus || document.activeElement === document.body) {
      focusTestId(found.serialized && !picked.serial ? 'issue-serial' : 'issue-qty', true);
    }
  };

  useScanHandler((data) => {
    const start: ScanStart = { item: current.current.item, quantity: current.current.quantity, focus: document.activeElement };
    setChooser(null);
    readScan(backend, data, scanTicket, report, t, {
      ambiguous: (scan) => setChooser({ scan, start }),
      read: (scan, ticket) => void takeReading(scan.reading, scan.item, start, false, ticket),
    });
  });

  const done = (document: DocumentView) => {
    setPosted(document);
    setRefused(null);
    setGate(null);
    setManager(''); setReason('');
    setCode(''); setItem(null); setQuantity(''); setLot(''); setSerial('');
    setRefresh((n) => n + 1);
    focusTestId('issue-item');
  };

  /** The gate's measured temperature: recorded in the clerk's name, then the same issue again. */
  const confirmTemperature = async (temperatureC: number) => {
    if (!gate) return;
    await backend.recordManualReading(gate.request.location, temperatureC);
    done(await backend.postDocument(gate.request));
  };

  const send = async (request: DocumentRequest) => {
    setPosting(true);
    clearError();
    try {
      done(await backend.postDocument(request));
    } catch (error) {
      setPosted(null);
      const apiError = asApiError(error);
      if (apiError.code === 'temperature_check_required') {
        // The core wants a measured temperature: ask for it, record it, post again.
        setGate({ request, message: apiError.message });
        return;
      }
      if (apiError.code === 'insufficient_stock' && !request.override) {
        setRefused(request); // the panel's manager field takes the focus
      } else if (apiError.code === 'lot_expired') {
        // The chosen lot cannot go out: back to FEFO, with fresh choices.
        setLot(''); setSerial('');
        setRefresh((n) => n + 1);
      } else if (apiError.code === 'unknown_item') {
        focusTestId('issue-item', true);
      }
      onError(error);
    } finally {
      setPosting(false);
    }
  };

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (posting) return;
    const amount = Number(quantity);
    if (!department) { setProblem({ field: 'department', text: 'chooseDepartment' }); focusTestId('issue-department'); return; }
    if (!code.trim()) { setProblem({ field: 'item', text: 'required' }); focusTestId('issue-item'); return; }
    if (item?.serialized && !serial) { setProblem({ field: 'serial', text: 'chooseSerial' }); focusTestId('issue-serial'); return; }
    if (!/^\d+$/.test(quantity) || amount <= 0) { setProblem({ field: 'quantity', text: 'invalidQuantity' }); focusTestId('issue-qty'); return; }
    setProblem(null);
    void send({
      kind: 'issue', user: '', location, to_location: null, department, supplier: null,
      lines: [{ item: code.trim(), lot: lot || null, expiry: null, production_date: null, serial: serial || null, quantity: amount, unit_cost: null }],
      note: '', override: null,
    });
  };

  const approve = (e: FormEvent) => {
    e.preventDefault();
    if (!refused || posting) return;
    const override: Override = { manager: manager.trim(), reason: reason.trim() };
    void send({ ...refused, override });
  };

  const fieldProblem = (field: 'department' | 'quantity' | 'serial' | 'item') =>
    problem?.field === field ? <span className="field-error">{t(problem.text)}</span> : undefined;

  return (
    <section className="screen" aria-labelledby="issue-title">
      <div className="screen-head"><h1 id="issue-title">{t('navIssue')}</h1><span className="muted">{t('issueIntro')}</span></div>
      <ResultBanner testId="issue-result" title={posted ? t('issuePosted', { number: posted.number ?? '' }) : ''} document={posted} onDismiss={() => setPosted(null)} />
      <form className="form" onSubmit={submit} onKeyDown={enterSubmits} noValidate>
        <fieldset className="form-section">
          <legend>{t('documentHeader')}</legend>
          <div className="row">
            <Field label={t('issueFrom')}>
              <LoadedSelect loaded={locations.length > 0} data-testid="issue-location" autoFocus value={location} onChange={(e) => chooseLocation(e.target.value)}>
                {locations.map((l) => <option key={l.code} value={l.code}>{l.code} · {pick(lang, l.name, l.name_en)}</option>)}
              </LoadedSelect>
            </Field>
            <Field label={t('department')} hint={fieldProblem('department')}>
              <LoadedSelect loaded={departments.length > 0} data-testid="issue-department" value={department} onChange={(e) => { setDepartment(e.target.value); setProblem(null); setRefused(null); }}>
                <option value="">{t('chooseDepartment')}</option>
                {departments.map((d) => <option key={d.code} value={d.code}>{d.code} · {pick(lang, d.name, d.name_en)}</option>)}
              </LoadedSelect>
            </Field>
          </div>
        </fieldset>
        <fieldset className="form-section">
          <legend>{t('lineSection')}</legend>
          <div className="row">
            <ItemField
              testId="issue-item"
              value={code}
              onChange={(value) => { setCode(value); setProblem(null); }}
              item={item}
              onItem={chooseItem}
              onError={onError}
              onResolved={(found, viaEnter) => { if (viaEnter) focusTestId(found.serialized ? 'issue-serial' : 'issue-qty'); }}
            />
          </div>
          {fieldProblem('item') ? <p className="field-error">{t('item')}: {fieldProblem('item')}</p> : null}
          <LotPicker testId="issue" item={item} choices={choices} loading={loading} lot={lot} onLot={(l) => { setLot(l); setRefused(null); }} serial={serial} onSerial={(s) => { setSerial(s); setProblem(null); }} />
          {fieldProblem('serial') ? <p className="field-error">{fieldProblem('serial')}</p> : null}
          <div className="row">
            <Field label={item ? t('quantityIn', { unit: item.unit }) : t('quantity')} hint={fieldProblem('quantity')} narrow>
              <input
                data-testid="issue-qty"
                className={`num${problem?.field === 'quantity' ? ' invalid' : ''}`}
                value={quantity}
                inputMode="numeric"
                readOnly={item?.serialized}
                onChange={(e) => { setQuantity(e.target.value.trim()); setProblem(null); setRefused(null); }}
                autoComplete="off"
              />
            </Field>
          </div>
        </fieldset>
        <div className="form-actions">
          <button type="submit" className="primary" data-testid="issue-submit" disabled={posting}>{posting ? t('posting') : t('postIssue')}</button>
          <span className="muted">{t('enterToPost')}</span>
        </div>
      </form>
      {refused ? (
        <form className="override" data-testid="issue-override" onSubmit={approve} noValidate aria-labelledby="override-title">
          <h2 id="override-title">{t('overrideTitle')}</h2>
          <p className="muted">{t('overrideIntro', { quantity: refused.lines[0]?.quantity ?? '' })}</p>
          <div className="row">
            <Field label={t('overrideManager')}>
              <input data-testid="issue-override-manager" autoFocus value={manager} onChange={(e) => setManager(e.target.value)} autoComplete="off" spellCheck={false} />
            </Field>
            <Field label={t('overrideReason')} wide>
              <input data-testid="issue-override-reason" value={reason} onChange={(e) => setReason(e.target.value)} autoComplete="off" />
            </Field>
          </div>
          <div className="form-actions">
            <button type="submit" className="danger" data-testid="issue-override-submit" disabled={posting}>{t('overrideSubmit')}</button>
            <button type="button" data-testid="issue-override-cancel" onClick={() => setRefused(null)}>{t('cancel')}</button>
          </div>
        </form>
      ) : null}
      {gate ? (
        <TemperatureGateDialog
          location={gate.request.location}
          message={gate.message}
          onConfirm={confirmTemperature}
          onCancel={() => { setGate(null); focusTestId('issue-submit'); }}
        />
      ) : null}
      {chooser ? (
        <CandidateChooser
          scan={chooser.scan}
          onChoose={(c) => void takeReading(c.reading, c.item, chooser.start, true, scanTicket.current)}
          onCancel={() => {
            setChooser(null);
            if (chooser.start.focus instanceof HTMLElement && chooser.start.focus.isConnected) chooser.start.focus.focus();
            report({ outcome: 'warning', message: t('scanChooseCancelled'), details: [] });
          }}
        />
      ) : null}
    </section>
  );
}
