// The sync commands of the Backend (src-tauri/src/sync.rs): the status area's
// facts, "sync now", enrolment with a one-time code (and the hospital's own CA
// certificate, when it has one), replacing that CA, and what a manager
// reviews after syncing. The sync thread reports through events.
import type { CaCertificateFile } from '../bindings/CaCertificateFile';
import type { SyncApplied } from '../bindings/SyncApplied';
import type { SyncProgress } from '../bindings/SyncProgress';
import type { SyncReview } from '../bindings/SyncReview';
import type { SyncStatusView } from '../bindings/SyncStatusView';

export interface SyncBackend {
  /** Last success, pending count, the last error in the session language, running. */
  syncStatus(): Promise<SyncStatusView>;
  /** Starts a round now (rejects with `not_enrolled` before enrolment); the outcome comes as events. */
  syncNow(): Promise<SyncStatusView>;
  /**
   * Enrols this workstation (who may edit master data) with the server and a one-time code, then syncs.
   * With `ca`, the link trusts only that CA certificate; a file that is not one is refused
   * (`tls_file_invalid`, `tls_file_unreadable`) before the server is asked, and nothing is stored.
   */
  enrolWorkstation(url: string, code: string, ca: CaCertificateFile | null): Promise<SyncStatusView>;
  /** Replaces the CA certificate the link trusts (who may edit master data; the hospital renewed it), then syncs. */
  replaceSyncCa(ca: CaCertificateFile): Promise<SyncStatusView>;
  /** Conflicts, keys below zero, concurrent safety-field edits, duplicate codes. */
  syncReview(): Promise<SyncReview>;
  onSyncStatus(handler: (status: SyncStatusView) => void): () => void;
  onSyncProgress(handler: (progress: SyncProgress) => void): () => void;
  /** After a round that pulled other workstations' events: screens re-read what they show. */
  onSyncApplied(handler: (applied: SyncApplied) => void): () => void;
}

/** The app's events (src-tauri/src/sync.rs). */
export const SYNC_STATUS_EVENT = 'sync-status';
export const SYNC_PROGRESS_EVENT = 'sync-progress';
export const SYNC_APPLIED_EVENT = 'sync-applied';
