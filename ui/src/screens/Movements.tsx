// 流水: the newest movements, or the whole history of one lot or serial
// (trace, oldest first) in the same table.
import { useCallback, useEffect, useMemo, useState } from 'react';
import type { LocationView } from '../bindings/LocationView';
import type { MovementView } from '../bindings/MovementView';
import { useBackend } from '../api/backend';
import { Spinner } from '../components';
import { localTime, pick, signedQuantity } from '../format';
import { KIND_TEXT, useI18n } from '../i18n';
import { PdfPreview } from '../printing';

export const MOVEMENT_LIMIT = 500;

export function MovementsScreen({ onError }: { onError: (e: unknown) => void }) {
  const backend = useBackend();
  const { t, lang } = useI18n();
  const [rows, setRows] = useState<MovementView[]>([]);
  const [locations, setLocations] = useState<LocationView[]>([]);
  const [loading, setLoading] = useState(true);
  const [trace, setTrace] = useState('');
  const [traced, setTraced] = useState<string | null>(null);
  // A posted document opened from its number: its A4 PDF, to look at or print.
  const [opened, setOpened] = useState<string | null>(null);

  const load = useCallback(async (value: string | null) => {
    setLoading(true);
    try {
      setRows(value ? await backend.trace(value) : await backend.movements({ newest_first: true, limit: MOVEMENT_LIMIT }));
      setTraced(value);
    } catch (e) {
      onError(e);
    } finally {
      setLoading(false);
    }
  }, [backend, onError]);
  useEffect(() => { void load(null); }, [load]);
  // Movements pulled from other workstations: the list (or the trace being shown) is read again.
  useEffect(() => backend.onSyncApplied(() => { void load(traced); }), [backend, load, traced]);
  useEffect(() => { backend.listLocations().then(setLocations, onError); }, [backend, onError]);

  const locationName = useMemo(() => {
    const names = new Map(locations.map((l) => [l.code, pick(lang, l.name, l.name_en)]));
    return (code: string) => names.get(code) ?? code;
  }, [locations, lang]);

  return (
    <section className="screen screen-table" aria-labelledby="movements-title">
      <div className="toolbar">
        <h1 id="movements-title">{t('navMovements')}</h1>
        <form className="trace-form" role="search" onSubmit={(e) => { e.preventDefault(); const v = trace.trim(); void load(v || null); }}>
          <input
            className="search mono"
            data-testid="trace-input"
            aria-label={t('traceHint')}
            placeholder={t('traceHint')}
            value={trace}
            autoFocus
            spellCheck={false}
            autoComplete="off"
            onChange={(e) => setTrace(e.target.value)}
          />
          <button type="submit" data-testid="trace-submit">{t('trace')}</button>
        </form>
        {traced ? (
          <button type="button" data-testid="trace-clear" onClick={() => { setTrace(''); void load(null); }}>{t('showRecent')}</button>
        ) : (
          <button type="button" data-testid="movements-refresh" onClick={() => void load(null)}>{t('refresh')}</button>
        )}
        {loading ? <Spinner /> : null}
      </div>
      <div className="summary" data-testid="movements-summary">
        {traced
          ? <span className="trace-title">{t('traceOf', { value: traced, count: rows.length })}</span>
          : <span>{t('recentMovements', { count: rows.length, limit: MOVEMENT_LIMIT })}</span>}
      </div>
      <div className="table-wrap">
        <table className="grid">
          <thead>
            <tr>
              <th>{t('time')}</th><th>{t('kind')}</th><th>{t('document')}</th><th>{t('name')}</th><th>{t('lot')}</th>
              <th>{t('serial')}</th><th>{t('location')}</th><th className="num">{t('quantity')}</th><th>{t('user')}</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((m) => (
              <tr key={m.id} data-testid="movement-row" data-kind={m.kind} data-lot={m.lot ?? ''} data-quantity={m.quantity}>
                <td className="mono time-cell">{localTime(m.recorded_at)}</td>
                <td className="nowrap"><span className={`kind kind-${m.kind}`}>{t(KIND_TEXT[m.kind])}</span></td>
                <td className="mono nowrap">
                  {m.document_number ? (
                    <button type="button" className="link mono" data-testid="movement-document" title={t('previewPdf')} onClick={() => setOpened(m.document_number)}>{m.document_number}</button>
                  ) : ''}
                </td>
                <td title={m.item}>{pick(lang, m.item_name, m.item_name_en)}</td>
                <td className="mono">{m.lot ?? ''}</td>
                <td className="mono">{m.serial ?? ''}</td>
                <td title={m.location}>{locationName(m.location)}</td>
                <td className={`num ${m.kind === 'count' ? 'count' : m.quantity < 0 ? 'negative' : 'positive'}`}>
                  {signedQuantity(m.quantity, m.kind === 'count')}
                </td>
                <td>
                  {m.user}
                  {m.override_by ? <span className="override-mark" data-testid="override-mark" title={`${t('approvedBy', { manager: m.override_by })}${m.reason ? ` — ${m.reason}` : ''}`}>⚑ {m.override_by}</span> : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {!loading && rows.length === 0 ? <p className="empty">{traced ? t('traceEmpty', { value: traced }) : t('noMovements')}</p> : null}
      </div>
      {opened ? <PdfPreview document={opened} withPrint onClose={() => setOpened(null)} /> : null}
    </section>
  );
}
