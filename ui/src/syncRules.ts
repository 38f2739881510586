// Sync's pure rules: how long ago, what the status area says and how it
// looks, when a round counts as long (a progress bar), the enrolment form and
// its hospital CA certificate, which errors the CA or a new enrolment settles,
// and the review's small judgements. No React here: syncRules.test.ts checks them.
import type { SyncPhase } from './bindings/SyncPhase';
import type { SyncProgress } from './bindings/SyncProgress';
import type { SyncReview } from './bindings/SyncReview';
import type { SyncStatusView } from './bindings/SyncStatusView';
import type { SafetyValue } from './bindings/SafetyValue';
import type { SyncTrust } from './bindings/SyncTrust';
import type { TextKey, Translate } from './i18n';

/** A round running longer than this shows a progress bar. */
export const LONG_SYNC_MS = 1500;

/** "just now", "12 s ago", "5 min ago", "3 h ago", "2 days ago" (a clock set back reads as just now). */
export function ago(thenMs: number, nowMs: number, t: Translate): string {
  const seconds = Math.max(0, Math.floor((nowMs - thenMs) / 1000));
  if (seconds < 5) return t('agoNow');
  if (seconds < 60) return t('agoSeconds', { n: seconds });
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return t('agoMinutes', { n: minutes });
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return t('agoHours', { n: hours });
  return t('agoDays', { n: Math.floor(hours / 24) });
}

/** How the status area looks: not enrolled, running, synced, never synced, offline, failed. */
export type SyncTone = 'off' | 'running' | 'ok' | 'never' | 'offline' | 'error';

export interface SyncSummary {
  tone: SyncTone;
  /** The short words in the shell. */
  text: string;
  /** "3 to send", when something waits for the server. */
  pending: string | null;
  /** The longer words (an error's message: what happened, what to do) for the tooltip. */
  detail: string | null;
}

export const PHASE_TEXT: Record<SyncPhase, TextKey> = { push: 'phasePush', pull: 'phasePull', snapshot: 'phaseSnapshot' };

/** "Sending 1,200/5,000", "Receiving 2,000". */
export function progressText(progress: SyncProgress, t: Translate): string {
  const phase = t(PHASE_TEXT[progress.phase]);
  const done = progress.done.toLocaleString('en-US');
  return progress.total !== null && progress.total > 0
    ? t('syncProgressOf', { phase, done, total: progress.total.toLocaleString('en-US') })
    : t('syncProgress', { phase, done });
}

/** The fraction done (0..1) when the phase knows its total, else null (an indeterminate bar). */
export function progressFraction(progress: SyncProgress | null): number | null {
  if (!progress || progress.total === null || progress.total <= 0) return null;
  return Math.min(1, progress.done / progress.total);
}

/** What the status says; a running round shows as running only when `showRunning` (a long one, or never synced before). */
export function summarize(status: SyncStatusView | null, nowMs: number, t: Translate, showRunning = true): SyncSummary {
  if (!status || !status.enrolled) return { tone: 'off', text: t('syncNotEnrolled'), pending: null, detail: null };
  const pending = status.pending > 0 ? t('syncPending', { count: status.pending.toLocaleString('en-US') }) : null;
  const since = status.last_success_ms !== null ? ago(status.last_success_ms, nowMs, t) : null;
  if (status.running && (showRunning || (status.last_success_ms === null && !status.error))) {
    const text = status.progress ? progressText(status.progress, t) : t('syncRunning');
    return { tone: 'running', text, pending, detail: status.error?.message ?? null };
  }
  if (status.error) {
    if (status.error.offline) {
      return { tone: 'offline', text: since ? t('syncOfflineSince', { ago: since }) : t('syncOffline'), pending, detail: status.error.message };
    }
    return { tone: 'error', text: t('syncFailed'), pending, detail: status.error.message };
  }
  if (since === null) return { tone: 'never', text: t('syncNever'), pending, detail: null };
  return { tone: 'ok', text: t('syncOk', { ago: since }), pending, detail: null };
}

/** Whether a round has run long enough to show a progress bar. */
export function isLong(runningSinceMs: number | null, nowMs: number): boolean {
  return runningSinceMs !== null && nowMs - runningSinceMs >= LONG_SYNC_MS;
}

/**
 * The largest CA certificate file read (the app's limit, sync::tls::TLS_FILE_MAX_BYTES,
 * which it checks again): a larger file is refused before it is read into the page.
 */
export const CA_FILE_MAX_BYTES = 256 * 1024;

/** A refusal worded from this file's texts. */
export interface Problem {
  key: TextKey;
  values?: Record<string, string | number>;
}

/** Why a picked file cannot be a CA certificate before it is read (empty, too large); the app checks what it holds. */
export function caFileProblem(file: { name: string; size: number }): Problem | null {
  if (file.size === 0) return { key: 'caFileEmpty', values: { name: file.name } };
  if (file.size > CA_FILE_MAX_BYTES) return { key: 'caFileTooLarge', values: { name: file.name, max: CA_FILE_MAX_BYTES / 1024 } };
  return null;
}

/** What the enrolment form refuses before asking the app: no address or code; a CA certificate with plain http (only https uses one). */
export function enrolProblem(url: string, code: string, withCa: boolean): Problem | null {
  if (!url.trim() || !code.trim()) return { key: 'enrolMissing' };
  if (withCa && /^http:\/\//i.test(url.trim())) return { key: 'enrolCaNeedsHttps' };
  return null;
}

/** Which certificates the link trusts, in words. */
export const TRUST_TEXT: Record<SyncTrust, TextKey> = {
  hospital_ca: 'trustHospitalCa', system_roots: 'trustSystemRoots', plain_http: 'trustPlainHttp',
};

/** A CA certificate file the app refused (shown at the file, not as a banner). */
export function isCaFileError(code: string | null | undefined): boolean {
  return code === 'tls_file_unreadable' || code === 'tls_file_invalid';
}

/** Failures the hospital CA certificate may settle: the CA panel asks for attention. */
export function concernsCa(code: string | null | undefined): boolean {
  return code === 'certificate_untrusted' || code === 'certificate_expired' || isCaFileError(code);
}

/** Failures only a new enrolment settles (another token, address or scheme): the form is offered again. */
export function needsEnrolAgain(code: string | null | undefined): boolean {
  return ['unauthenticated', 'revoked', 'https_required', 'certificate_wrong_host', 'insecure_url', 'server_not_https'].includes(code ?? '');
}

/** The value in force among competing safety-field values: the latest by HLC (then by node, as the core orders). */
export function valueInForce(values: SafetyValue[]): SafetyValue | null {
  return values.reduce<SafetyValue | null>((best, v) => (!best || v.hlc > best.hlc || (v.hlc === best.hlc && v.node > best.node) ? v : best), null);
}

/** Wall time of an HLC ((ms << 16) | counter). */
export function hlcMs(hlc: number): number {
  return Math.floor(hlc / 65536);
}

/** A node or movement id short enough for a table: the last 8 hex digits (a UUIDv7 begins with its time, the same for ids made together). */
export function shortId(id: string | null): string {
  return id ? id.replace(/-/g, '').slice(-8) : '—';
}

/** Everything the review lists hold. */
export function reviewCount(review: SyncReview | null): number {
  if (!review) return 0;
  return review.conflicts.length + review.exceptions.length + review.safety_edits.length + review.duplicate_codes.length
    + review.ambiguous_counts.length + review.double_corrections.length + review.future_movements.length;
}

const ENTITY_TEXT: Record<string, TextKey> = {
  item: 'entityItem', location: 'entityLocation', department: 'entityDepartment', supplier: 'entitySupplier', user: 'entityUser',
};

/** An entity's name in words (an unknown one as the core wrote it). */
export function entityText(entity: string, t: Translate): string {
  const key = ENTITY_TEXT[entity];
  return key ? t(key) : entity;
}

/** A JSON text shown readably (pretty when it parses, as it came otherwise). */
export function prettyJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}
