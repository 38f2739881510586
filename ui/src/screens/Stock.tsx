// 库存: every balance key with its quantity, searchable (the core filters),
// by location, sortable, expiry highlighted against the workstation's today,
// with a summary line and a CSV export of the visible rows.
import { useEffect, useMemo, useState } from 'react';
import type { LocationView } from '../bindings/LocationView';
import type { StockRow } from '../bindings/StockRow';
import { useBackend } from '../api/backend';
import { Spinner } from '../components';
import { download } from '../csv';
import { expiryClass } from '../expiry';
import { formatQuantity, pick } from '../format';
import { useI18n } from '../i18n';
import { sortRows, STOCK_COLUMNS, stockCsv, summarize, type Sort } from '../stockTable';

export const SEARCH_DEBOUNCE_MS = 250;

export function StockScreen({ today, onError }: { today: string; onError: (e: unknown) => void }) {
  const backend = useBackend();
  const { t, lang } = useI18n();
  const [rows, setRows] = useState<StockRow[]>([]);
  const [locations, setLocations] = useState<LocationView[]>([]);
  const [search, setSearch] = useState('');
  const [location, setLocation] = useState('');
  const [loading, setLoading] = useState(true);
  const [sort, setSort] = useState<Sort>({ key: 'code', ascending: true });
  const [reloads, setReloads] = useState(0);

  useEffect(() => { backend.listLocations().then(setLocations, onError); }, [backend, onError]);
  // Other workstations' movements arrived (a sync round pulled them): the list is read again.
  useEffect(() => backend.onSyncApplied(() => setReloads((n) => n + 1)), [backend]);
  useEffect(() => {
    let live = true;
    setLoading(true);
    const timer = setTimeout(() => {
      backend
        .stock({ location: location || null, search: search.trim() || null, include_zero: false })
        .then((next) => { if (live) setRows(next); }, (error) => { if (live) onError(error); })
        .finally(() => { if (live) setLoading(false); });
    }, search.trim() ? SEARCH_DEBOUNCE_MS : 0);
    return () => { live = false; clearTimeout(timer); };
  }, [backend, onError, search, location, reloads]);

  const sorted = useMemo(() => sortRows(rows, sort, lang), [rows, sort, lang]);
  const summary = useMemo(() => summarize(rows, today), [rows, today]);
  const exportCsv = () => download(`medledger-stock-${location || 'all'}-${today}.csv`, stockCsv(sorted, t, lang));
  const sortBy = (key: Sort['key']) => setSort((s) => ({ key, ascending: s.key === key ? !s.ascending : true }));

  return (
    <section className="screen screen-table" aria-labelledby="stock-title">
      <div className="toolbar">
        <h1 id="stock-title">{t('navStock')}</h1>
        <input
          type="search"
          className="search"
          data-testid="stock-search"
          aria-label={t('search')}
          placeholder={t('search')}
          value={search}
          autoFocus
          spellCheck={false}
          onChange={(e) => setSearch(e.target.value)}
        />
        <select data-testid="stock-location" aria-label={t('location')} value={location} onChange={(e) => setLocation(e.target.value)}>
          <option value="">{t('allLocations')}</option>
          {locations.map((l) => <option key={l.code} value={l.code}>{l.code} · {pick(lang, l.name, l.name_en)}</option>)}
        </select>
        <button type="button" data-testid="stock-refresh" onClick={() => setReloads((n) => n + 1)}>⟳ {t('refresh')}</button>
        <button type="button" data-testid="stock-export" onClick={exportCsv} disabled={sorted.length === 0}>⤓ {t('exportCsv')}</button>
        {loading ? <Spinner /> : null}
      </div>
      <div className="summary" data-testid="stock-summary">
        <span><b className="num">{formatQuantity(summary.rows)}</b> {t('rows')}</span>
        <span>{t('total')} <b className="num">{formatQuantity(summary.total)}</b></span>
        <span className="legend" aria-label={t('legend')}>
          <span className="legend-title">{t('legend')}:</span>
          <span className="pill expired" data-testid="count-expired">{t('expiredCount')} {summary.expired}</span>
          <span className="pill within30" data-testid="count-within30">{t('within30')} {summary.within30}</span>
          <span className="pill within90" data-testid="count-within90">{t('within90')} {summary.within90}</span>
        </span>
      </div>
      <div className="table-wrap">
        <table className="grid">
          <thead>
            <tr>
              {STOCK_COLUMNS.map((c) => (
                <th
                  key={c.key}
                  className={c.numeric ? 'num sortable' : 'sortable'}
                  aria-sort={sort.key === c.key ? (sort.ascending ? 'ascending' : 'descending') : 'none'}
                  data-testid={`stock-sort-${c.key}`}
                  onClick={() => sortBy(c.key)}
                >
                  <button type="button" className="th-button">
                    {t(c.label)}
                    <span className="sort-mark" aria-hidden="true">{sort.key === c.key ? (sort.ascending ? '▲' : '▼') : '↕'}</span>
                  </button>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {sorted.map((r) => {
              const expiry = expiryClass(r.expiry, today);
              return (
                <tr
                  key={`${r.item}|${r.lot}|${r.serial}|${r.location}|${r.status}`}
                  data-testid="stock-row"
                  data-code={r.code}
                  data-lot={r.lot ?? ''}
                  data-serial={r.serial ?? ''}
                  data-location={r.location}
                  data-quantity={r.quantity}
                  data-expiry-class={expiry}
                  className={`expiry-${expiry}${r.status === 'quarantined' ? ' quarantined' : ''}`}
                >
                  <td className="mono nowrap">{r.code}</td>
                  <td>{pick(lang, r.name, r.name_en)}</td>
                  <td className="mono">{r.lot ?? ''}</td>
                  <td className={`mono nowrap expiry-cell ${expiry}`}>{r.expiry ?? ''}</td>
                  <td className="mono">{r.serial ?? ''}</td>
                  <td title={r.location}>{pick(lang, r.location_name, r.location_name_en)}</td>
                  <td><span className={`status status-${r.status}`}>{t(r.status)}</span></td>
                  <td className={r.quantity < 0 ? 'num nowrap negative' : 'num nowrap'}>
                    {formatQuantity(r.quantity)} <span className="unit">{r.unit}</span>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
        {!loading && rows.length === 0 ? <p className="empty">{t('noStock')}</p> : null}
      </div>
    </section>
  );
}
