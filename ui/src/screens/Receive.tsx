// 入库: receive a delivery line by line. The screen checks formats early and
// warns about short-dated lots; the core validates everything again and posts.
// After each line the location and supplier stay, the line fields clear.
// A scan (anywhere on the screen) fills the line from the barcode: the item
// by its identifier, lot, expiry, production date, serial and quantity; an
// identifier the catalogue does not know can be created on the spot.
import { useEffect, useLayoutEffect, useRef, useState, type FormEvent } from 'react';
import { flushSync } from 'react-dom';
import type { BarcodeScan } from '../bindings/BarcodeScan';
import type { DocumentView } from '../bindings/DocumentView';
import type { ItemView } from '../bindings/ItemView';
import type { LocationView } from '../bindings/LocationView';
import type { ScanReading } from '../bindings/ScanReading';
import type { SupplierView } from '../bindings/SupplierView';
import { asApiError, useBackend } from '../api/backend';
import { enterSubmits, Field, LoadedSelect, focusTestId, ItemField, ResultBanner } from '../components';
import { daysUntil, expiryClass, isIsoDate } from '../expiry';
import { pick } from '../format';
import { useI18n, type TextKey } from '../i18n';
import { CandidateChooser, describeReading, readScan, useScanHandler, useScanReport, warningTexts, type ScanReport } from '../scan';
import { NewItemDialog } from './NewItemDialog';

type Problems = Partial<Record<'item' | 'lot' | 'expiry' | 'production' | 'serial' | 'quantity' | 'unitCost', TextKey>>;

export interface ReceiveLine {
  code: string;
  item: ItemView | null;
  lot: string;
  expiry: string;
  production: string;
  serial: string;
  quantity: string;
  unitCost: string;
}

/** What the screen can tell before asking the core (which checks again). */
export function checkReceiveLine(line: ReceiveLine): Problems {
  const found: Problems = {};
  if (!line.code.trim()) found.item = 'required';
  if (line.expiry && !isIsoDate(line.expiry)) found.expiry = 'invalidDate';
  if (line.production && !isIsoDate(line.production)) found.production = 'invalidDate';
  if (!found.expiry && !found.production && line.expiry && line.production && line.production > line.expiry) found.production = 'productionAfterExpiry';
  if (line.expiry && !line.lot.trim()) found.lot = 'lotNeededForExpiry';
  if (line.item?.serialized && !line.serial.trim()) found.serial = 'serialRequired';
  if (!/^\d+$/.test(line.quantity) || Number(line.quantity) <= 0) found.quantity = 'invalidQuantity';
  else if (line.item?.serialized && Number(line.quantity) !== 1) found.quantity = 'serialQuantityOne';
  if (line.unitCost.trim() && !/^\d+(\.\d{1,6})?$/.test(line.unitCost.trim())) found.unitCost = 'invalidUnitCost';
  return found;
}

const EMPTY_LINE: ReceiveLine = { code: '', item: null, lot: '', expiry: '', production: '', serial: '', quantity: '', unitCost: '' };

/**
 * The line after a scan of `item`. What the barcode carries replaces what
 * was there. A field it does not carry keeps what the clerk typed while the
 * scan was being read, and what the line held unless that belonged to
 * another product (or another lot or serial of this one): nothing of the
 * previous product stays. `product` is the item the line last held (the item
 * field may already be cleared by the burst typing into it).
 * A serialized unit is one; else the barcode's quantity, if it has one.
 */
export function lineFromScan(reading: ScanReading, item: ItemView, start: { line: ReceiveLine; product: ItemView | null }, current: ReceiveLine): ReceiveLine {
  const before = start.line;
  const sameLine = start.product === null || (start.product.id === item.id
    && (reading.lot === null || reading.lot === before.lot) && (reading.serial === null || reading.serial === before.serial));
  const keep = (field: Exclude<keyof ReceiveLine, 'item'>) => (sameLine || current[field] !== before[field] ? current[field] : '');
  return {
    code: item.code,
    item,
    lot: reading.lot ?? keep('lot'),
    expiry: reading.expiry ?? keep('expiry'),
    production: reading.production_date ?? keep('production'),
    serial: item.serialized ? reading.serial ?? keep('serial') : '',
    quantity: item.serialized ? '1' : reading.quantity !== null ? String(reading.quantity) : keep('quantity'),
    unitCost: keep('unitCost'),
  };
}

/** Where the clerk goes on after a scan: the first field still to fill, else the quantity. */
function nextField(line: ReceiveLine): string {
  if (!line.lot) return 'receive-lot';
  if (!line.expiry) return 'receive-expiry';
  if (line.item?.serialized && !line.serial) return 'receive-serial';
  return 'receive-qty';
}

/** The line, the product it last held, and the focus when a scan came in. */
interface ScanStart { line: ReceiveLine; product: ItemView | null; focus: Element | null }

export function ReceiveScreen({ today, mayCreateItems, onError, clearError }: { today: string; mayCreateItems: boolean; onError: (e: unknown) => void; clearError: () => void }) {
  const backend = useBackend();
  const { t, lang } = useI18n();
  const [locations, setLocations] = useState<LocationView[]>([]);
  const [suppliers, setSuppliers] = useState<SupplierView[]>([]);
  const [suppliersLoaded, setSuppliersLoaded] = useState(false);
  const [location, setLocation] = useState('');
  const [supplier, setSupplier] = useState('');
  const [line, setLine] = useState<ReceiveLine>(EMPTY_LINE);
  const [problems, setProblems] = useState<Problems>({});
  const [posting, setPosting] = useState(false);
  const [posted, setPosted] = useState<DocumentView | null>(null);
  const itemInput = useRef<HTMLInputElement>(null);
  const report = useScanReport();
  const [chooser, setChooser] = useState<{ scan: BarcodeScan; start: ScanStart } | null>(null);
  const [creating, setCreating] = useState<{ reading: ScanReading; code: string; start: ScanStart } | null>(null);
  const lineRef = useRef(line);
  const productRef = useRef<ItemView | null>(null);
  useLayoutEffect(() => {
    lineRef.current = line;
    if (line.item) productRef.current = line.item;
    else if (line === EMPTY_LINE) productRef.current = null;
  }, [line]);
  const scanTicket = useRef(0);

  useEffect(() => {
    backend.listLocations().then((all) => {
      setLocations(all);
      setLocation((current) => current || (all.find((l) => l.code === 'MAIN') ?? all[0])?.code || '');
    }, onError);
    backend.listSuppliers().then((all) => { setSuppliers(all); setSuppliersLoaded(true); }, onError);
  }, [backend, onError]);

  const set = (patch: Partial<ReceiveLine>) => {
    setLine((current) => ({ ...current, ...patch }));
    const touched = Object.keys(patch) as (keyof ReceiveLine)[];
    if (touched.some((k) => k !== 'item')) {
      setProblems((current) => {
        const next = { ...current };
        for (const k of touched) delete next[k === 'code' ? 'item' : k as keyof Problems];
        return next;
      });
    }
  };

  const onItem = (item: ItemView | null) => {
    setLine((current) => ({
      ...current,
      item,
      // A serial-tracked unit is received one at a time.
      quantity: item?.serialized ? '1' : current.item?.serialized ? '' : current.quantity,
      serial: item?.serialized ? current.serial : '',
    }));
  };

  /** Fills the line from a reading whose item is known; says how it went (sound, colour, message). */
  const applyReading = (reading: ScanReading, item: ItemView, start: ScanStart, moveFocus: boolean, prefix = '') => {
    const next = lineFromScan(reading, item, start, lineRef.current);
    flushSync(() => {
      setLine(next);
      setProblems({});
      setChooser(null);
      setCreating(null);
    });
    const details = warningTexts(reading);
    let outcome: ScanReport['outcome'] = details.length > 0 ? 'warning' : 'success';
    let message = t('scanRead', { what: describeReading(t, reading, pick(lang, item.name, item.name_en)) });
    const state = next.expiry && isIsoDate(next.expiry) ? expiryClass(next.expiry, today) : null;
    if (state === 'expired') {
      outcome = 'failure';
      message = t('scanLotExpiredReceive', { lot: next.lot || '—', expiry: next.expiry });
    } else if (state === 'within30' || state === 'within90') {
      outcome = 'warning';
      message = `${message} ${t('scanLotExpiresSoon', { lot: next.lot || '—', expiry: next.expiry, days: daysUntil(next.expiry, today) })}`;
    }
    report({ outcome, message: prefix ? `${prefix} ${message}` : message, details });
    // Move on only if the clerk has not gone elsewhere meanwhile (or just closed one of our dialogs).
    if (moveFocus || document.activeElement === start.focus || document.activeElement === document.body) focusTestId(nextField(next), true);
  };

  /** A reading with or without a known item: fill the line, or offer to create the item. */
  const takeReading = (reading: ScanReading, item: ItemView | null, start: ScanStart, moveFocus: boolean) => {
    if (item) { applyReading(reading, item, start, moveFocus); return; }
    const code = reading.di ?? reading.gtin ?? '';
    if (mayCreateItems) {
      setChooser(null);
      setCreating({ reading, code, start });
      report({ outcome: 'warning', message: t('scanUnknownCreate', { code }), details: warningTexts(reading) });
    } else {
      report({ outcome: 'failure', message: t('scanUnknownAskManager', { code }), details: warningTexts(reading) });
    }
  };

  useScanHandler((data) => {
    const start: ScanStart = { line: lineRef.current, product: productRef.current, focus: document.activeElement };
    setChooser(null);
    setCreating(null);
    readScan(backend, data, scanTicket, report, t, {
      ambiguous: (scan) => setChooser({ scan, start }),
      read: (scan) => takeReading(scan.reading, scan.item, start, false),
    });
  });

  const restoreFocus = (start: ScanStart) => {
    if (start.focus instanceof HTMLElement && start.focus.isConnected) start.focus.focus();
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (posting) return;
    const found = checkReceiveLine(line);
    setProblems(found);
    if (Object.keys(found).length > 0) {
      const first = (['item', 'lot', 'expiry', 'production', 'serial', 'quantity', 'unitCost'] as const).find((k) => found[k]);
      const ids = { item: 'receive-item', lot: 'receive-lot', expiry: 'receive-expiry', production: 'receive-production-date', serial: 'receive-serial', quantity: 'receive-qty', unitCost: 'receive-unit-cost' };
      if (first) focusTestId(ids[first]);
      return;
    }
    setPosting(true);
    clearError();
    try {
      const document = await backend.postDocument({
        kind: 'receipt', user: '', location, to_location: null, department: null, supplier: supplier || null,
        lines: [{
          item: line.code.trim(), lot: line.lot.trim() || null, expiry: line.expiry || null, production_date: line.production || null,
          serial: line.serial.trim() || null, quantity: Number(line.quantity), unit_cost: line.unitCost.trim() || null,
        }],
        note: '', override: null,
      });
      setPosted(document);
      setLine(EMPTY_LINE);
      setProblems({});
      focusTestId('receive-item');
    } catch (error) {
      setPosted(null);
      const code = asApiError(error).code;
      if (code === 'unknown_item') focusTestId('receive-item', true);
      else if (code === 'lot_expired' || code === 'lot_expiry_mismatch') focusTestId('receive-expiry', true);
      else if (code === 'production_after_expiry') focusTestId('receive-production-date', true);
      else if (code.startsWith('serial')) focusTestId('receive-serial', true);
      else if (code.startsWith('quantity')) focusTestId('receive-qty', true);
      onError(error);
    } finally {
      setPosting(false);
    }
  };

  const expiryState = line.expiry && isIsoDate(line.expiry) ? expiryClass(line.expiry, today) : null;
  const expiryHint = problems.expiry ? <span className="field-error">{t(problems.expiry)}</span>
    : expiryState === 'expired' ? <span className="field-error" data-testid="receive-expiry-warning">{t('warnExpired')}</span>
    : expiryState === 'within30' || expiryState === 'within90'
      ? <span className={`field-warn ${expiryState}`} data-testid="receive-expiry-warning">{t('warnExpirySoon', { days: daysUntil(line.expiry, today) })}</span>
    : t('dateFormat');
  const error = (key: keyof Problems) => (problems[key] ? <span className="field-error">{t(problems[key]!)}</span> : undefined);
  const serialized = line.item?.serialized ?? false;

  return (
    <section className="screen" aria-labelledby="receive-title">
      <div className="screen-head"><h1 id="receive-title">{t('navReceive')}</h1><span className="muted">{t('receiveIntro')}</span></div>
      <ResultBanner testId="receive-result" title={posted ? t('receiptPosted', { number: posted.number ?? '' }) : ''} document={posted} onDismiss={() => setPosted(null)} />
      <form className="form" onSubmit={(e) => void submit(e)} onKeyDown={enterSubmits} noValidate>
        <fieldset className="form-section">
          <legend>{t('documentHeader')}</legend>
          <div className="row">
            <Field label={t('receiveLocation')}>
              <LoadedSelect loaded={locations.length > 0} data-testid="receive-location" autoFocus value={location} onChange={(e) => setLocation(e.target.value)}>
                {locations.map((l) => <option key={l.code} value={l.code}>{l.code} · {pick(lang, l.name, l.name_en)}</option>)}
              </LoadedSelect>
            </Field>
            <Field label={t('supplier')} hint={t('optional')}>
              <LoadedSelect loaded={suppliersLoaded} data-testid="receive-supplier" value={supplier} onChange={(e) => setSupplier(e.target.value)}>
                <option value="">{t('noSupplier')}</option>
                {suppliers.map((s) => <option key={s.code} value={s.code}>{s.code} · {pick(lang, s.name, s.name_en)}</option>)}
              </LoadedSelect>
            </Field>
          </div>
        </fieldset>
        <fieldset className="form-section">
          <legend>{t('lineSection')}</legend>
          <div className="row">
            <ItemField
              testId="receive-item"
              inputRef={itemInput}
              value={line.code}
              onChange={(code) => set({ code })}
              item={line.item}
              onItem={onItem}
              onError={onError}
              onResolved={(_, viaEnter) => { if (viaEnter) focusTestId('receive-lot'); }}
            />
          </div>
          {problems.item ? <p className="field-error">{t('item')}: {t(problems.item)}</p> : null}
          <div className="row">
            <Field label={t('lot')} hint={error('lot')}>
              <input data-testid="receive-lot" className="mono" value={line.lot} onChange={(e) => set({ lot: e.target.value })} autoComplete="off" spellCheck={false} />
            </Field>
            <Field label={t('expiry')} hint={expiryHint}>
              <input
                data-testid="receive-expiry"
                data-expiry={expiryState ?? ''}
                className={`mono${problems.expiry ? ' invalid' : ''}${expiryState ? ` expiry-${expiryState}` : ''}`}
                value={line.expiry}
                placeholder="YYYY-MM-DD"
                maxLength={10}
                inputMode="numeric"
                onChange={(e) => set({ expiry: e.target.value.trim() })}
                autoComplete="off"
              />
            </Field>
            <Field label={t('productionDate')} hint={error('production') ?? t('dateFormatOptional')}>
              <input
                data-testid="receive-production-date"
                className={`mono${problems.production ? ' invalid' : ''}`}
                value={line.production}
                placeholder="YYYY-MM-DD"
                maxLength={10}
                inputMode="numeric"
                onChange={(e) => set({ production: e.target.value.trim() })}
                autoComplete="off"
              />
            </Field>
          </div>
          <div className="row">
            {serialized ? (
              <Field label={t('serial')} hint={error('serial') ?? t('serialReceiveHint')}>
                <input data-testid="receive-serial" className="mono" value={line.serial} onChange={(e) => set({ serial: e.target.value })} autoComplete="off" spellCheck={false} />
              </Field>
            ) : null}
            <Field label={line.item ? t('quantityIn', { unit: line.item.unit }) : t('quantity')} hint={error('quantity')} narrow>
              <input
                data-testid="receive-qty"
                className={`num${problems.quantity ? ' invalid' : ''}`}
                value={line.quantity}
                inputMode="numeric"
                readOnly={serialized}
                onChange={(e) => set({ quantity: e.target.value.trim() })}
                autoComplete="off"
              />
            </Field>
            <Field label={t('unitCost')} hint={error('unitCost') ?? (line.item?.unit_price ? t('listPrice', { price: line.item.unit_price }) : t('optional'))} narrow>
              <input data-testid="receive-unit-cost" className="num" value={line.unitCost} inputMode="decimal" onChange={(e) => set({ unitCost: e.target.value })} autoComplete="off" />
            </Field>
          </div>
        </fieldset>
        <div className="form-actions">
          <button type="submit" className="primary" data-testid="receive-submit" disabled={posting}>{posting ? t('posting') : t('postReceipt')}</button>
          <span className="muted">{t('enterToPost')}</span>
        </div>
      </form>
      {chooser ? (
        <CandidateChooser
          scan={chooser.scan}
          onChoose={(c) => takeReading(c.reading, c.item, chooser.start, true)}
          onCancel={() => {
            setChooser(null);
            restoreFocus(chooser.start);
            report({ outcome: 'warning', message: t('scanChooseCancelled'), details: [] });
          }}
        />
      ) : null}
      {creating ? (
        <NewItemDialog
          code={creating.code}
          onCreated={(item) => applyReading(creating.reading, item, creating.start, true, t('newItemCreated', { code: item.code }))}
          onCancel={() => { setCreating(null); restoreFocus(creating.start); }}
        />
      ) : null}
    </section>
  );
}
