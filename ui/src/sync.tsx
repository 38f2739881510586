// Sync in the shell: `useSyncStatus` follows the app's sync-status and
// sync-progress events (and asks once, and again when the language changes,
// since the error comes worded in the session language); `SyncStatusArea` is
// the always-visible status in the top bar — last success ("synced 12 s
// ago"), what waits to be sent, offline or failed in plain words, a spinner
// while a round runs — and `SyncProgressBar` shows a long round's progress.
import { useEffect, useRef, useState } from 'react';
import type { Lang } from './bindings/Lang';
import type { SyncStatusView } from './bindings/SyncStatusView';
import type { Backend } from './api/backend';
import { useI18n } from './i18n';
import { isLong, progressFraction, progressText, summarize } from './syncRules';
import './sync.css';

export interface SyncState {
  status: SyncStatusView | null;
  /** The wall clock, ticking every second (for "12 s ago"). */
  nowMs: number;
  /** A round has been running long enough for a progress bar. */
  long: boolean;
  /** Asks the app again (after enrolling, or when the page wants fresh facts). */
  refresh: () => void;
}

export function useSyncStatus(backend: Backend, lang: Lang, active: boolean): SyncState {
  const [status, setStatus] = useState<SyncStatusView | null>(null);
  const [nowMs, setNowMs] = useState(() => Date.now());
  const runningSince = useRef<number | null>(null);
  const [version, setVersion] = useState(0);

  useEffect(() => {
    const stopStatus = backend.onSyncStatus((next) => setStatus(next));
    const stopProgress = backend.onSyncProgress((progress) => setStatus((s) => (s ? { ...s, running: true, progress } : s)));
    return () => { stopStatus(); stopProgress(); };
  }, [backend]);

  useEffect(() => {
    if (!active) return;
    let live = true;
    backend.syncStatus().then((next) => { if (live) setStatus(next); }, () => undefined);
    return () => { live = false; };
  }, [backend, lang, active, version]);

  useEffect(() => {
    const timer = setInterval(() => setNowMs(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);

  const running = !!status?.running;
  if (running && runningSince.current === null) runningSince.current = Date.now();
  if (!running) runningSince.current = null;
  return { status, nowMs, long: running && isLong(runningSince.current, Math.max(nowMs, Date.now())), refresh: () => setVersion((v) => v + 1) };
}

/** The status in the top bar; a click opens the sync screen (when someone is signed in). */
export function SyncStatusArea({ sync, onOpen }: { sync: SyncState; onOpen?: () => void }) {
  const { t } = useI18n();
  // A round of a few ms every few seconds would make the words flicker: running shows once it is long.
  const summary = summarize(sync.status, sync.nowMs, t, sync.long);
  const title = [t('syncAreaTitle'), summary.detail].filter(Boolean).join('\n');
  return (
    <button
      type="button"
      className={`sync-area sync-${summary.tone}`}
      data-testid="sync-status"
      data-tone={summary.tone}
      data-pending={sync.status?.pending ?? 0}
      title={title}
      aria-label={[summary.text, summary.pending, summary.detail].filter(Boolean).join(' · ')}
      onClick={onOpen}
      disabled={!onOpen}
    >
      {summary.tone === 'running' ? <span className="sync-spinner" aria-hidden="true" /> : <span className="sync-dot" aria-hidden="true" />}
      <span data-testid="sync-status-text">{summary.text}</span>
      {summary.pending ? <span className="sync-pending" data-testid="sync-status-pending">{summary.pending}</span> : null}
    </button>
  );
}

/** A long round's progress: how far the push is, or how many events have come so far. */
export function SyncProgressBar({ sync }: { sync: SyncState }) {
  const { t } = useI18n();
  const status = sync.status;
  if (!status?.running || !sync.long) return null;
  const fraction = progressFraction(status.progress);
  return (
    <div className="sync-progress" data-testid="sync-progress-bar" role="progressbar" aria-label={t('syncRunning')}
      aria-valuemin={0} aria-valuemax={100} aria-valuenow={fraction === null ? undefined : Math.round(fraction * 100)}>
      <div className={fraction === null ? 'sync-progress-fill indeterminate' : 'sync-progress-fill'} style={fraction === null ? undefined : { width: `${fraction * 100}%` }} />
      <span className="sync-progress-text">{status.progress ? progressText(status.progress, t) : t('syncRunning')}</span>
    </div>
  );
}
