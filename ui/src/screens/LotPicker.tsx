// The FEFO view of an item at a location: the lots in expiry order (as the
// core's fefo_choices returns them) with the first non-expired one marked as
// the suggestion and expired ones struck through, plus a select whose default
// ("") lets the core allocate by FEFO. Serialized items pick a serial instead.
import { useEffect, useState } from 'react';
import type { ItemView } from '../bindings/ItemView';
import type { LotChoice } from '../bindings/LotChoice';
import { useBackend } from '../api/backend';
import { Field, Spinner } from '../components';
import { formatQuantity } from '../format';
import { useI18n } from '../i18n';

export function useLotChoices(item: ItemView | null, location: string, refresh: number, onError: (e: unknown) => void) {
  const backend = useBackend();
  const [choices, setChoices] = useState<LotChoice[]>([]);
  const [loading, setLoading] = useState(false);
  useEffect(() => {
    if (!item || !location) { setChoices([]); return; }
    let live = true;
    setLoading(true);
    backend.fefoChoices(item.code, location).then(
      (next) => { if (live) setChoices(next); },
      (error) => { if (live) { setChoices([]); onError(error); } },
    ).finally(() => { if (live) setLoading(false); });
    return () => { live = false; };
  }, [backend, item, location, refresh, onError]);
  return { choices, loading };
}

/** The core's suggestion: the first lot (or serial) that is not expired. */
export function suggestedChoice(choices: LotChoice[]): LotChoice | undefined {
  return choices.find((c) => !c.expired);
}

export function LotPicker({
  testId, item, choices, loading, lot, onLot, serial, onSerial,
}: {
  testId: string;
  item: ItemView | null;
  choices: LotChoice[];
  loading: boolean;
  lot: string;
  onLot: (lot: string) => void;
  serial: string;
  onSerial: (serial: string) => void;
}) {
  const { t } = useI18n();
  const serialized = item?.serialized ?? false;
  const relevant = choices.filter((c) => (serialized ? c.serial !== null : c.serial === null));
  const suggested = suggestedChoice(relevant);
  const lots = relevant.filter((c) => c.lot !== null);
  const available = relevant.filter((c) => !c.expired).reduce((n, c) => n + c.quantity, 0);
  const chosen = serialized ? serial : lot;
  const isChosen = (c: LotChoice) => (serialized ? c.serial === serial : c.lot === lot);

  return (
    <div className="lot-picker">
      <div className="lot-select">
        {serialized ? (
          <Field label={t('serial')} hint={t('serialPickHint')}>
            <select data-testid={`${testId}-serial`} value={serial} onChange={(e) => onSerial(e.target.value)}>
              <option value="">{t('chooseSerial')}</option>
              {relevant.map((c) => (
                <option key={c.serial!} value={c.serial!} disabled={c.expired}>
                  {c.serial} · {c.lot ?? '—'} · {c.expiry ?? '—'}{c.expired ? ` (${t('expired')})` : c === suggested ? ` ★ ${t('suggested')}` : ''}
                </option>
              ))}
            </select>
          </Field>
        ) : (
          <Field label={t('lot')} hint={lot ? t('lotChosenHint') : t('fefoHint')}>
            <select data-testid={`${testId}-lot`} value={lot} onChange={(e) => onLot(e.target.value)}>
              <option value="">{t('fefoAuto')}</option>
              {lots.map((c) => (
                <option key={c.lot!} value={c.lot!} disabled={c.expired}>
                  {c.lot} · {c.expiry ?? '—'} · {formatQuantity(c.quantity)}{c.expired ? ` (${t('expired')})` : c === suggested ? ` ★ ${t('suggested')}` : ''}
                </option>
              ))}
            </select>
          </Field>
        )}
      </div>
      {item ? (
        <div className="fefo" data-testid={`${testId}-fefo`}>
          <div className="fefo-title">
            <span>{t('fefoLots')}</span>
            {loading ? <Spinner /> : <span className="muted">{t('availableTotal', { quantity: formatQuantity(available), unit: item.unit })}</span>}
          </div>
          {relevant.length === 0 && !loading ? <p className="muted fefo-empty">{t('noLots')}</p> : (
            <table className="mini fefo-table">
              <thead>
                <tr><th /><th>{t('lot')}</th><th>{t('expiry')}</th>{serialized ? <th>{t('serial')}</th> : null}<th className="num">{t('quantity')}</th></tr>
              </thead>
              <tbody>
                {relevant.map((c) => {
                  const state = c.expired ? 'expired' : c === suggested ? 'suggested' : 'ok';
                  return (
                    <tr
                      key={`${c.lot}|${c.serial}`}
                      className={`fefo-${state}${chosen && isChosen(c) ? ' fefo-chosen' : ''}`}
                      data-testid="fefo-row"
                      data-lot={c.lot ?? ''}
                      data-serial={c.serial ?? ''}
                      data-state={state}
                      aria-disabled={c.expired || undefined}
                      title={c.expired ? t('expiredNeverPicked') : undefined}
                      onClick={c.expired ? undefined : () => (serialized ? onSerial(c.serial ?? '') : onLot(c.lot ?? ''))}
                    >
                      <td className="fefo-mark">{state === 'suggested' ? '★' : state === 'expired' ? '⊘' : ''}</td>
                      <td className="mono">{c.lot ?? '—'}</td>
                      <td className="mono">{c.expiry ?? '—'}{c.expired ? <span className="badge badge-expired">{t('expired')}</span> : state === 'suggested' ? <span className="badge badge-suggested">{t('suggested')}</span> : null}</td>
                      {serialized ? <td className="mono">{c.serial}</td> : null}
                      <td className="num">{formatQuantity(c.quantity)}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          )}
        </div>
      ) : null}
    </div>
  );
}
