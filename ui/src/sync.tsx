// Sync in the shell: a `SyncStore` follows the app's sync-status and
// sync-progress events (and asks once, and again when the language changes,
// since the error comes worded in the session language); `SyncStatusArea` is
// the always-visible status in the top bar — last success ("synced 12 s
// ago"), what waits to be sent, offline or failed in plain words, a spinner
// while a round runs — and `SyncProgressBar` shows a long round's progress.
import { useEffect, useState, useSyncExternalStore } from 'react';
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

/**
 * The sync status outside React's tree: the shell holds one, and only the
 * components that show it re-render when it changes or their clock ticks —
 * never the whole app every second, which would re-render the screen a
 * clerk is scanning into.
 */
export class SyncStore {
  private status: SyncStatusView | null = null;
  private listeners = new Set<() => void>();
  /** When the running round began (wall ms), while one runs. */
  runningSince: number | null = null;

  constructor(private backend: Backend) {}

  private set(next: SyncStatusView | null) {
    if (next?.running && this.runningSince === null) this.runningSince = Date.now();
    if (!next?.running) this.runningSince = null;
    this.status = next;
    this.listeners.forEach((l) => l());
  }

  /** Follows the app's events; returns the function that stops. */
  start(): () => void {
    const stopStatus = this.backend.onSyncStatus((next) => this.set(next));
    const stopProgress = this.backend.onSyncProgress((progress) => { if (this.status) this.set({ ...this.status, running: true, progress }); });
    return () => { stopStatus(); stopProgress(); };
  }

  /** Asks the app (at start, after enrolling, when the language changed: errors come worded in it). */
  refresh = () => { this.backend.syncStatus().then((next) => this.set(next), () => undefined); };

  subscribe = (listener: () => void) => { this.listeners.add(listener); return () => { this.listeners.delete(listener); }; };
  get = () => this.status;
}

/** The store's status with a clock ticking every second, for one component. */
export function useSync(store: SyncStore): SyncState {
  const status = useSyncExternalStore(store.subscribe, store.get);
  const [nowMs, setNowMs] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNowMs(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  const now = Math.max(nowMs, Date.now());
  return { status, nowMs: now, long: !!status?.running && isLong(store.runningSince, now), refresh: store.refresh };
}

/** The status area in the top bar (it follows the store itself). */
export function SyncStatusArea({ store, onOpen }: { store: SyncStore; onOpen?: () => void }) {
  return <SyncStatusBadge sync={useSync(store)} onOpen={onOpen} />;
}

/** The progress bar under the top bar during a long round. */
export function SyncProgressStrip({ store }: { store: SyncStore }) {
  return <SyncProgressBar sync={useSync(store)} />;
}

/** The status in the top bar; a click opens the sync screen (when someone is signed in). */
export function SyncStatusBadge({ sync, onOpen }: { sync: SyncState; onOpen?: () => void }) {
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
