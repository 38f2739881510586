// 出库: issue to a department. Without a chosen lot the core allocates by FEFO
// and may split across lots; the screen shows its suggestion first. Beyond
// stock the core refuses with insufficient_stock, and the screen offers a
// manager's override (username + reason) to resubmit the same request.
import { useEffect, useState, type FormEvent } from 'react';
import type { DepartmentView } from '../bindings/DepartmentView';
import type { DocumentRequest } from '../bindings/DocumentRequest';
import type { DocumentView } from '../bindings/DocumentView';
import type { ItemView } from '../bindings/ItemView';
import type { LocationView } from '../bindings/LocationView';
import type { Override } from '../bindings/Override';
import { asApiError, useBackend } from '../api/backend';
import { enterSubmits, Field, LoadedSelect, focusTestId, ItemField, ResultBanner } from '../components';
import { pick } from '../format';
import { useI18n, type TextKey } from '../i18n';
import { LotPicker, useLotChoices } from './LotPicker';

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
  const { choices, loading } = useLotChoices(item, location, refresh, onError);

  useEffect(() => {
    backend.listLocations().then((all) => {
      setLocations(all);
      setLocation((current) => current || (all.find((l) => l.code === 'MAIN') ?? all[0])?.code || '');
    }, onError);
    backend.listDepartments().then(setDepartments, onError);
  }, [backend, onError]);
  // Another item or source: the lot choice and any pending override no longer apply.
  useEffect(() => { setLot(''); setSerial(''); setRefused(null); }, [item, location]);
  useEffect(() => { if (item?.serialized) setQuantity('1'); }, [item]);

  const send = async (request: DocumentRequest) => {
    setPosting(true);
    clearError();
    try {
      const document = await backend.postDocument(request);
      setPosted(document);
      setRefused(null);
      setManager(''); setReason('');
      setCode(''); setItem(null); setQuantity(''); setLot(''); setSerial('');
      setRefresh((n) => n + 1);
      focusTestId('issue-item');
    } catch (error) {
      setPosted(null);
      const apiError = asApiError(error);
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
              <LoadedSelect loaded={locations.length > 0} data-testid="issue-location" autoFocus value={location} onChange={(e) => setLocation(e.target.value)}>
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
              onItem={setItem}
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
    </section>
  );
}
