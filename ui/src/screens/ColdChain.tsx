// 冷链: every cold unit with its range, current temperature, a chart of its
// readings, its stock (quarantined while an excursion is open) and the
// excursion as an alarm a manager resolves (release or scrap, with a
// reason). A temperature measured by hand and a data logger's CSV can be
// recorded for a unit. New readings and excursions arrive as the app's
// coldchain event; the screen then reads the units again.
import { useCallback, useEffect, useState, type ChangeEvent, type FormEvent } from 'react';
import type { ColdUnitView } from '../bindings/ColdUnitView';
import type { ExcursionView } from '../bindings/ExcursionView';
import type { ReadingView } from '../bindings/ReadingView';
import { useBackend } from '../api/backend';
import { Field, Spinner } from '../components';
import { ReadingsChart } from '../coldchain';
import { formatTime, parseTemperature } from '../coldchainRules';
import { pick } from '../format';
import { useI18n, type TextKey } from '../i18n';

const HOURS = [6, 24, 24 * 7, 24 * 30];
const SOURCE_TEXT: Record<string, TextKey> = { sensor: 'sourceSensor', logger: 'sourceLogger', manual: 'sourceManual' };

function ExcursionPanel({ unit, excursion, mayResolve, onResolved, onError }: {
  unit: ColdUnitView; excursion: ExcursionView; mayResolve: boolean; onResolved: (text: string) => void; onError: (e: unknown) => void;
}) {
  const backend = useBackend();
  const { t } = useI18n();
  const [reason, setReason] = useState('');
  const [problem, setProblem] = useState(false);
  const [busy, setBusy] = useState(false);
  const resolve = async (scrap: boolean) => {
    if (!reason.trim()) { setProblem(true); return; }
    setBusy(true);
    try {
      const done = await backend.resolveExcursion(excursion.id, reason.trim(), scrap);
      onResolved(t('resolved', { location: done.location, status: t(done.status === 'scrapped' ? 'statusScrapped' : 'statusReleased') }));
    } catch (error) {
      onError(error);
    } finally {
      setBusy(false);
    }
  };
  const since = formatTime(excursion.started_at_ms);
  const text = excursion.kind === 'no_reading'
    ? t('alarmNoReading', { location: unit.code, since, units: excursion.quarantined_units })
    : t('alarmSince', { location: unit.code, since, worst: excursion.worst_c ?? '—', units: excursion.quarantined_units });
  return (
    <div className="excursion" data-testid={`excursion-${unit.code}`} data-kind={excursion.kind}>
      <p className="excursion-text"><strong>{t('alarmTitle')}</strong> {text}</p>
      {excursion.reopened_at_ms != null ? (
        <p className="banner banner-warning" data-testid={`excursion-reopened-${unit.code}`}>
          {t('alarmReopened', { at: formatTime(excursion.reopened_at_ms), reason: excursion.resolution_reason ?? '—' })}
        </p>
      ) : null}
      {mayResolve ? (
        <form className="row" onSubmit={(e) => { e.preventDefault(); void resolve(false); }} noValidate>
          <Field label={t('resolveReason')} wide hint={problem ? <span className="field-error">{t('resolveReasonRequired')}</span> : undefined}>
            <input data-testid={`resolve-reason-${unit.code}`} value={reason} onChange={(e) => { setReason(e.target.value); setProblem(false); }} autoComplete="off" />
          </Field>
          <div className="form-actions">
            <button type="submit" className="primary" data-testid={`resolve-release-${unit.code}`} disabled={busy}>{t('resolveRelease')}</button>
            <button type="button" className="danger" data-testid={`resolve-scrap-${unit.code}`} disabled={busy} onClick={() => void resolve(true)}>{t('resolveScrap')}</button>
          </div>
        </form>
      ) : <p className="muted">{t('resolveOnlyManagers')}</p>}
    </div>
  );
}

function UnitCard({ unit, hours, mayResolve, refresh, onChanged, onError }: {
  unit: ColdUnitView; hours: number; mayResolve: boolean; refresh: number; onChanged: (text: string) => void; onError: (e: unknown) => void;
}) {
  const backend = useBackend();
  const { t, lang } = useI18n();
  const [readings, setReadings] = useState<ReadingView[] | null>(null);
  const [manual, setManual] = useState('');
  const [manualProblem, setManualProblem] = useState(false);
  const [progress, setProgress] = useState<string | null>(null);
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    let live = true;
    backend.readings(unit.code, hours).then((rows) => { if (live) { setReadings(rows); setNow(Date.now()); } }, onError);
    return () => { live = false; };
  }, [backend, unit.code, hours, refresh, onError]);

  const recordManual = async (e: FormEvent) => {
    e.preventDefault();
    const value = parseTemperature(manual);
    if (value === null) { setManualProblem(true); return; }
    try {
      await backend.recordManualReading(unit.code, value);
      setManual('');
      onChanged(t('manualRecorded', { location: unit.code, temperature: value }));
    } catch (error) {
      onError(error);
    }
  };

  const importFile = async (e: ChangeEvent<HTMLInputElement>) => {
    const file = e.target.files?.[0];
    e.target.value = '';
    if (!file) return;
    setProgress(t('loggerReading'));
    try {
      const text = await file.text();
      const count = await backend.importLoggerReadings(unit.code, text, -new Date().getTimezoneOffset(), (p) => setProgress(t('loggerImporting', { done: p.done, total: p.total })));
      onChanged(t('loggerImported', { count }));
    } catch (error) {
      onError(error);
    } finally {
      setProgress(null);
    }
  };

  const latest = unit.latest;
  const outside = latest && unit.min_c !== null && unit.max_c !== null && (latest.temperature_c < unit.min_c || latest.temperature_c > unit.max_c);
  const alarm = unit.open_excursion;
  return (
    <article className={`cold-unit${alarm ? ' cold-unit-alarm' : ''}`} data-testid={`cold-unit-${unit.code}`} data-alarm={alarm ? 'open' : 'none'}
      data-quarantined={unit.quarantined_units} data-available={unit.available_units}>
      <header className="cold-unit-head">
        <h2>{unit.code} · {pick(lang, unit.name, unit.name_en)}</h2>
        <span className="muted">
          {unit.min_c !== null && unit.max_c !== null ? t('coldRange', { min: unit.min_c, max: unit.max_c }) : t('coldNoRange')}
          {unit.rules ? '' : ` · ${t('coldNoRules')}`} · {t('coldSensors', { count: unit.sensors })}
        </span>
      </header>
      <div className="cold-unit-now">
        <div className={`cold-temp${outside ? ' cold-temp-out' : ''}`} data-testid={`cold-temp-${unit.code}`}>
          {latest ? `${latest.temperature_c.toFixed(1)} °C` : t('coldNoReading')}
        </div>
        {latest ? <div className="muted">{t('coldReadingAt', { time: formatTime(latest.at_ms), source: t(SOURCE_TEXT[latest.source] ?? 'sourceSensor') })}</div> : null}
        <div className={unit.quarantined_units > 0 ? 'cold-stock cold-stock-quarantined' : 'cold-stock'} data-testid={`cold-stock-${unit.code}`}>
          {t('coldStock', { available: unit.available_units, quarantined: unit.quarantined_units })}
        </div>
      </div>
      {alarm ? <ExcursionPanel unit={unit} excursion={alarm} mayResolve={mayResolve} onResolved={onChanged} onError={onError} /> : null}
      {readings === null ? <Spinner /> : (
        <ReadingsChart testId={`cold-chart-${unit.code}`} readings={readings} min={unit.min_c} max={unit.max_c} fromMs={now - hours * 3_600_000} toMs={now} />
      )}
      <div className="cold-unit-actions row">
        <form className="row" onSubmit={(e) => void recordManual(e)} noValidate>
          <Field label={t('manualTemperature')} narrow hint={manualProblem ? <span className="field-error">{t('manualInvalid')}</span> : undefined}>
            <input data-testid={`manual-temp-${unit.code}`} className="num" inputMode="decimal" value={manual} onChange={(e) => { setManual(e.target.value); setManualProblem(false); }} autoComplete="off" />
          </Field>
          <button type="submit" data-testid={`manual-record-${unit.code}`}>{t('manualRecord')}</button>
        </form>
        <label className="file-button" title={t('loggerIntro')}>
          <span>{t('loggerTitle')}</span>
          <input type="file" accept=".csv,.txt,text/csv" data-testid={`logger-file-${unit.code}`} onChange={(e) => void importFile(e)} />
        </label>
        {progress ? <span className="muted" role="status" data-testid={`logger-progress-${unit.code}`}><progress /> {progress}</span> : null}
      </div>
    </article>
  );
}

/** `onResolved`: an excursion was resolved here (the shell's alarm reads them again). */
export function ColdChainScreen({ mayResolve, onError, clearError, onResolved }: { mayResolve: boolean; onError: (e: unknown) => void; clearError: () => void; onResolved: () => void }) {
  const backend = useBackend();
  const { t } = useI18n();
  const [units, setUnits] = useState<ColdUnitView[] | null>(null);
  const [hours, setHours] = useState(24);
  const [refresh, setRefresh] = useState(0);
  const [notice, setNotice] = useState<string | null>(null);
  const load = useCallback(() => { backend.coldUnits().then(setUnits, onError); setRefresh((n) => n + 1); }, [backend, onError]);
  useEffect(() => { load(); }, [load]);
  useEffect(() => backend.onColdchain(() => load()), [backend, load]);
  // A sync can reopen an excursion here (stock released elsewhere came back into quarantine).
  useEffect(() => backend.onSyncApplied(() => load()), [backend, load]);
  const changed = (text: string) => { clearError(); setNotice(text); load(); onResolved(); };
  return (
    <section className="screen" aria-labelledby="coldchain-title">
      <div className="screen-head">
        <h1 id="coldchain-title">{t('coldchainTitle')}</h1>
        <span className="muted">{t('coldchainIntro')}</span>
      </div>
      <div className="row toolbar">
        <Field label={t('coldHours')} narrow>
          <select data-testid="cold-hours" value={hours} onChange={(e) => setHours(Number(e.target.value))}>
            {HOURS.map((h) => <option key={h} value={h}>{h < 48 ? `${h} h` : `${h / 24} d`}</option>)}
          </select>
        </Field>
        <button type="button" data-testid="cold-read-now" onClick={() => { backend.pollNow().catch(onError); }}>{t('readNow')}</button>
        {notice ? <span className="notice" role="status" data-testid="coldchain-notice">{notice}</span> : null}
      </div>
      {units === null ? <Spinner /> : units.length === 0 ? <p className="muted">{t('noColdUnits')}</p> : (
        <div className="cold-units">
          {units.map((u) => <UnitCard key={u.code} unit={u} hours={hours} mayResolve={mayResolve} refresh={refresh} onChanged={changed} onError={onError} />)}
        </div>
      )}
    </section>
  );
}
