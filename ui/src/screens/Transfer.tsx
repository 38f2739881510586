// 调拨: move stock between locations; without a chosen lot the core takes
// FEFO. Expired stock may move between storerooms but never to a department
// store (the core says expired_to_department).
import { useEffect, useState, type FormEvent } from 'react';
import type { DocumentRequest } from '../bindings/DocumentRequest';
import type { DocumentView } from '../bindings/DocumentView';
import type { ItemView } from '../bindings/ItemView';
import type { LocationView } from '../bindings/LocationView';
import { asApiError, useBackend } from '../api/backend';
import { enterSubmits, Field, LoadedSelect, focusTestId, ItemField, ResultBanner } from '../components';
import { pick } from '../format';
import { useI18n, type TextKey } from '../i18n';
import { LotPicker, useLotChoices } from './LotPicker';
import { TemperatureGateDialog } from '../coldchain';

export function TransferScreen({ onError, clearError }: { onError: (e: unknown) => void; clearError: () => void }) {
  const backend = useBackend();
  const { t, lang } = useI18n();
  const [locations, setLocations] = useState<LocationView[]>([]);
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [code, setCode] = useState('');
  const [item, setItem] = useState<ItemView | null>(null);
  const [lot, setLot] = useState('');
  const [serial, setSerial] = useState('');
  const [quantity, setQuantity] = useState('');
  const [problem, setProblem] = useState<{ field: 'to' | 'item' | 'serial' | 'quantity'; text: TextKey } | null>(null);
  const [posting, setPosting] = useState(false);
  const [posted, setPosted] = useState<DocumentView | null>(null);
  const [refresh, setRefresh] = useState(0);
  const { choices, loading } = useLotChoices(item, from, refresh, onError);

  useEffect(() => {
    backend.listLocations().then((all) => {
      setLocations(all);
      const source = all.find((l) => l.code === 'MAIN') ?? all[0];
      setFrom((current) => current || source?.code || '');
      setTo((current) => current || all.find((l) => l.kind === 'department' && l.code !== source?.code)?.code || '');
    }, onError);
  }, [backend, onError]);
  useEffect(() => { setLot(''); setSerial(''); }, [item, from]);
  useEffect(() => { if (item?.serialized) setQuantity('1'); }, [item]);

  const [gate, setGate] = useState<{ request: DocumentRequest; message: string } | null>(null);
  const done = (document: DocumentView) => {
    setPosted(document);
    setGate(null);
    setCode(''); setItem(null); setQuantity(''); setLot(''); setSerial('');
    setRefresh((n) => n + 1);
    focusTestId('transfer-item');
  };
  /** The gate's measured temperature: recorded in the clerk's name, then the same transfer again. */
  const confirmTemperature = async (temperatureC: number) => {
    if (!gate) return;
    await backend.recordManualReading(gate.request.location, temperatureC);
    done(await backend.postDocument(gate.request));
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (posting) return;
    const amount = Number(quantity);
    if (!to || to === from) { setProblem({ field: 'to', text: 'chooseOtherDestination' }); focusTestId('transfer-to'); return; }
    if (!code.trim()) { setProblem({ field: 'item', text: 'required' }); focusTestId('transfer-item'); return; }
    if (item?.serialized && !serial) { setProblem({ field: 'serial', text: 'chooseSerial' }); focusTestId('transfer-serial'); return; }
    if (!/^\d+$/.test(quantity) || amount <= 0) { setProblem({ field: 'quantity', text: 'invalidQuantity' }); focusTestId('transfer-qty'); return; }
    setProblem(null);
    setPosting(true);
    clearError();
    const request: DocumentRequest = {
      kind: 'transfer', user: '', location: from, to_location: to, department: null, supplier: null,
      lines: [{ item: code.trim(), lot: lot || null, expiry: null, production_date: null, serial: serial || null, quantity: amount, unit_cost: null }],
      note: '', override: null,
    };
    try {
      done(await backend.postDocument(request));
    } catch (error) {
      setPosted(null);
      const apiError = asApiError(error);
      if (apiError.code === 'temperature_check_required') {
        setGate({ request, message: apiError.message });
        return;
      }
      if (apiError.code === 'lot_expired' || apiError.code === 'expired_to_department') {
        setLot(''); setSerial('');
        setRefresh((n) => n + 1);
      } else if (apiError.code === 'unknown_item') {
        focusTestId('transfer-item', true);
      }
      onError(error);
    } finally {
      setPosting(false);
    }
  };
  const options = (exclude: string) => locations.map((l) => (
    <option key={l.code} value={l.code} disabled={l.code === exclude}>{l.code} · {pick(lang, l.name, l.name_en)}</option>
  ));
  const fieldProblem = (field: 'to' | 'item' | 'serial' | 'quantity') =>
    problem?.field === field ? <span className="field-error">{t(problem.text)}</span> : undefined;

  return (
    <section className="screen" aria-labelledby="transfer-title">
      <div className="screen-head"><h1 id="transfer-title">{t('navTransfer')}</h1><span className="muted">{t('transferIntro')}</span></div>
      <ResultBanner testId="transfer-result" title={posted ? t('transferPosted', { number: posted.number ?? '' }) : ''} document={posted} onDismiss={() => setPosted(null)} />
      <form className="form" onSubmit={(e) => void submit(e)} onKeyDown={enterSubmits} noValidate>
        <fieldset className="form-section">
          <legend>{t('documentHeader')}</legend>
          <div className="row">
            <Field label={t('from')}>
              <LoadedSelect loaded={locations.length > 0} data-testid="transfer-from" autoFocus value={from} onChange={(e) => setFrom(e.target.value)}>{options('')}</LoadedSelect>
            </Field>
            <span className="arrow" aria-hidden="true">→</span>
            <Field label={t('to')} hint={fieldProblem('to')}>
              <LoadedSelect loaded={locations.length > 0} data-testid="transfer-to" value={to} onChange={(e) => { setTo(e.target.value); setProblem(null); }}>
                <option value="">{t('chooseDestination')}</option>
                {options(from)}
              </LoadedSelect>
            </Field>
          </div>
        </fieldset>
        <fieldset className="form-section">
          <legend>{t('lineSection')}</legend>
          <div className="row">
            <ItemField
              testId="transfer-item"
              value={code}
              onChange={(value) => { setCode(value); setProblem(null); }}
              item={item}
              onItem={setItem}
              onError={onError}
              onResolved={(found, viaEnter) => { if (viaEnter) focusTestId(found.serialized ? 'transfer-serial' : 'transfer-qty'); }}
            />
          </div>
          {fieldProblem('item') ? <p className="field-error">{t('item')}: {fieldProblem('item')}</p> : null}
          <LotPicker testId="transfer" item={item} choices={choices} loading={loading} lot={lot} onLot={setLot} serial={serial} onSerial={(s) => { setSerial(s); setProblem(null); }} />
          {fieldProblem('serial') ? <p className="field-error">{fieldProblem('serial')}</p> : null}
          <div className="row">
            <Field label={item ? t('quantityIn', { unit: item.unit }) : t('quantity')} hint={fieldProblem('quantity')} narrow>
              <input
                data-testid="transfer-qty"
                className={`num${problem?.field === 'quantity' ? ' invalid' : ''}`}
                value={quantity}
                inputMode="numeric"
                readOnly={item?.serialized}
                onChange={(e) => { setQuantity(e.target.value.trim()); setProblem(null); }}
                autoComplete="off"
              />
            </Field>
          </div>
        </fieldset>
        <div className="form-actions">
          <button type="submit" className="primary" data-testid="transfer-submit" disabled={posting}>{posting ? t('posting') : t('postTransfer')}</button>
          <span className="muted">{t('enterToPost')}</span>
        </div>
      </form>
      {gate ? (
        <TemperatureGateDialog
          location={gate.request.location}
          message={gate.message}
          onConfirm={confirmTemperature}
          onCancel={() => { setGate(null); focusTestId('transfer-submit'); }}
        />
      ) : null}
    </section>
  );
}
