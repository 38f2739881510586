// A small dialog to create the item a scanned barcode names when the
// catalogue does not know it yet: the identifier comes prefilled, the clerk
// adds the names, the unit and the two flags that change how stock moves
// (serial-tracked; cold chain, which needs its storage range). The core
// checks everything again (and who may create items) and answers in the
// user's language.
import { useState, type FormEvent, type KeyboardEvent } from 'react';
import type { ApiError } from '../bindings/ApiError';
import type { ItemView } from '../bindings/ItemView';
import { asApiError, useBackend } from '../api/backend';
import { Field } from '../components';
import { useI18n, type TextKey } from '../i18n';

const DECIMAL = /^-?\d{1,3}(\.\d{1,2})?$/;

interface Draft { code: string; name: string; nameEn: string; unit: string; serialized: boolean; coldChain: boolean; minTemp: string; maxTemp: string }

export function NewItemDialog({ code, onCreated, onCancel }: { code: string; onCreated: (item: ItemView) => void; onCancel: () => void }) {
  const backend = useBackend();
  const { t } = useI18n();
  const [draft, setDraft] = useState<Draft>({ code, name: '', nameEn: '', unit: '', serialized: false, coldChain: false, minTemp: '', maxTemp: '' });
  const [problem, setProblem] = useState<{ field: 'code' | 'name' | 'temp'; text: TextKey } | null>(null);
  const [refused, setRefused] = useState<ApiError | null>(null);
  const [saving, setSaving] = useState(false);
  const set = (patch: Partial<Draft>) => { setDraft((d) => ({ ...d, ...patch })); setProblem(null); setRefused(null); };

  const save = async (e: FormEvent) => {
    e.preventDefault();
    if (saving) return;
    if (!draft.code.trim()) { setProblem({ field: 'code', text: 'required' }); return; }
    if (!draft.name.trim()) { setProblem({ field: 'name', text: 'required' }); return; }
    if (draft.coldChain && (!DECIMAL.test(draft.minTemp.trim()) || !DECIMAL.test(draft.maxTemp.trim()))) {
      setProblem({ field: 'temp', text: 'newItemTempNeeded' });
      return;
    }
    setSaving(true);
    try {
      const item = await backend.addItem({
        code: draft.code.trim(), name: draft.name.trim(), name_en: draft.nameEn.trim(), specification: '', manufacturer: '',
        registration_no: '', risk_class: '', category: '', unit: draft.unit.trim(), pack_size: 1, serialized: draft.serialized,
        implantable: false, cold_chain: draft.coldChain, min_temp_c: draft.coldChain ? draft.minTemp.trim() : null,
        max_temp_c: draft.coldChain ? draft.maxTemp.trim() : null, unit_price: null, default_supplier: null, reorder_point: 0,
        extra_identifiers: [],
      });
      onCreated(item);
    } catch (error) {
      setRefused(asApiError(error));
    } finally {
      setSaving(false);
    }
  };

  // Esc cancels; Tab stays inside the dialog (it is modal).
  const onKeyDown = (e: KeyboardEvent<HTMLFormElement>) => {
    if (e.key === 'Escape') { e.preventDefault(); onCancel(); return; }
    if (e.key !== 'Tab') return;
    const focusable = [...e.currentTarget.querySelectorAll<HTMLElement>('input, button')].filter((el) => !(el as HTMLInputElement).disabled);
    const first = focusable[0];
    const last = focusable[focusable.length - 1];
    if (!e.shiftKey && document.activeElement === last) { e.preventDefault(); first?.focus(); }
    else if (e.shiftKey && document.activeElement === first) { e.preventDefault(); last?.focus(); }
  };
  const hint = (field: 'code' | 'name' | 'temp') => (problem?.field === field ? <span className="field-error">{t(problem.text)}</span> : undefined);

  return (
    <div className="dialog-backdrop">
      <form role="dialog" aria-modal="true" aria-labelledby="new-item-title" className="dialog" data-testid="new-item-dialog" onSubmit={(e) => void save(e)} onKeyDown={onKeyDown} noValidate>
        <h2 id="new-item-title">{t('newItemTitle')}</h2>
        <p className="muted">{t('newItemIntro')}</p>
        {refused ? <p className="field-error" role="alert" data-testid="new-item-error" data-code={refused.code}>{refused.message}</p> : null}
        <div className="row">
          <Field label={t('newItemCode')} hint={hint('code')} wide>
            <input data-testid="new-item-code" className="mono" value={draft.code} onChange={(e) => set({ code: e.target.value })} autoComplete="off" spellCheck={false} />
          </Field>
        </div>
        <div className="row">
          <Field label={t('newItemName')} hint={hint('name')}>
            <input data-testid="new-item-name" autoFocus value={draft.name} onChange={(e) => set({ name: e.target.value })} autoComplete="off" />
          </Field>
          <Field label={t('newItemNameEn')} hint={t('optional')}>
            <input data-testid="new-item-name-en" value={draft.nameEn} onChange={(e) => set({ nameEn: e.target.value })} autoComplete="off" />
          </Field>
          <Field label={t('newItemUnit')} narrow>
            <input data-testid="new-item-unit" value={draft.unit} onChange={(e) => set({ unit: e.target.value })} autoComplete="off" />
          </Field>
        </div>
        <div className="row checks">
          <label className="check">
            <input type="checkbox" data-testid="new-item-serialized" checked={draft.serialized} onChange={(e) => set({ serialized: e.target.checked })} />
            {t('newItemSerialized')}
          </label>
          <label className="check">
            <input type="checkbox" data-testid="new-item-cold-chain" checked={draft.coldChain} onChange={(e) => set({ coldChain: e.target.checked })} />
            {t('newItemColdChain')}
          </label>
        </div>
        {draft.coldChain ? (
          <div className="row">
            <Field label={t('newItemMinTemp')} hint={hint('temp')} narrow>
              <input data-testid="new-item-min-temp" className="num" inputMode="decimal" value={draft.minTemp} onChange={(e) => set({ minTemp: e.target.value })} autoComplete="off" />
            </Field>
            <Field label={t('newItemMaxTemp')} narrow>
              <input data-testid="new-item-max-temp" className="num" inputMode="decimal" value={draft.maxTemp} onChange={(e) => set({ maxTemp: e.target.value })} autoComplete="off" />
            </Field>
          </div>
        ) : null}
        <div className="form-actions">
          <button type="submit" className="primary" data-testid="new-item-save" disabled={saving}>{saving ? t('newItemSaving') : t('newItemSave')}</button>
          <button type="button" data-testid="new-item-cancel" onClick={onCancel}>{t('cancel')}</button>
        </div>
      </form>
    </div>
  );
}
