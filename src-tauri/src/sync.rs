//! Sync with the hospital server, off the UI thread (product brief §5).
//!
//! One background thread ([`SyncService`]) runs `sync::sync_once` every
//! `MEDLEDGER_SYNC_INTERVAL_MS` (default [`SYNC_INTERVAL_DEFAULT`]) once the
//! workstation is enrolled. While the server cannot be reached it retries
//! every [`RETRY_MIN`] growing to [`RETRY_MAX`], so sync happens within a few
//! seconds of the network coming back; a refusal that needs a person (revoked,
//! unknown token, another version) is retried only every [`REFUSED_RETRY`].
//! `sync_now` and an enrolment wake it at once.
//!
//! The client is handed the ledger's `Mutex`, and locks it only to read or
//! apply one batch — never while a request is on the network — so posting,
//! scanning and the device threads go on during a slow sync.
//!
//! It reports through events: [`STATUS_EVENT`] (last success, pending, the
//! error in the session language, running), [`PROGRESS_EVENT`] (each batch
//! of a round) and [`APPLIED_EVENT`] after a round that pulled something, on
//! which the screens re-read what they show.

use crate::commands::{lang, session_user};
use crate::dto::ApiError;
use crate::AppState;
use ledger::{Action, Lang, Ledger, LedgerError};
use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;
use tauri::State;
use ts_rs::TS;

/// The event that carries the status area's facts.
pub const STATUS_EVENT: &str = "sync-status";
/// The event that carries a round's progress, batch by batch.
pub const PROGRESS_EVENT: &str = "sync-progress";
/// The event sent after a round that pulled other workstations' events (or loaded the server's snapshot).
pub const APPLIED_EVENT: &str = "sync-applied";
/// Time between rounds while all is well, unless `MEDLEDGER_SYNC_INTERVAL_MS` says otherwise.
pub const SYNC_INTERVAL_DEFAULT: Duration = Duration::from_secs(5);
/// The shortest interval accepted.
pub const SYNC_INTERVAL_MIN: Duration = Duration::from_millis(50);
/// First retry after a failed round (or the interval, if shorter).
pub const RETRY_MIN: Duration = Duration::from_secs(2);
/// Retries while the server is unreachable never wait longer than this (or the interval, if shorter).
pub const RETRY_MAX: Duration = Duration::from_secs(5);
/// Retry after a refusal a person must settle (or six intervals, if shorter).
pub const REFUSED_RETRY: Duration = Duration::from_secs(60);

/// What a round is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum SyncPhase {
    /// Sending this workstation's events.
    Push,
    /// Receiving other workstations' events.
    Pull,
    /// Loading the server's snapshot (a new workstation).
    Snapshot,
}

impl SyncPhase {
    fn from_client(phase: &str) -> SyncPhase {
        match phase {
            "push" => SyncPhase::Push,
            "snapshot" => SyncPhase::Snapshot,
            _ => SyncPhase::Pull,
        }
    }
}

/// A round's progress (the [`PROGRESS_EVENT`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct SyncProgress {
    pub phase: SyncPhase,
    /// Events so far in this phase.
    #[ts(type = "number")]
    pub done: u64,
    /// Events this phase will take, when known (a push: what was pending when the round began).
    #[ts(type = "number | null")]
    pub total: Option<u64>,
}

/// Why the last round failed, in the session language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct SyncProblem {
    /// Stable code: `server_unreachable`, `revoked`, `unauthenticated`, `incompatible_version`, …
    pub code: String,
    /// What happened and what to do.
    pub message: String,
    /// The server could not be reached (the network or the server is down): work goes on offline.
    pub offline: bool,
    /// When it happened (wall ms).
    #[ts(type = "number")]
    pub at_ms: i64,
}

/// What the last successful round did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct SyncRound {
    /// When it ended (wall ms).
    #[ts(type = "number")]
    pub at_ms: i64,
    #[ts(type = "number")]
    pub pushed: u64,
    #[ts(type = "number")]
    pub pulled: u64,
    /// Conflicts found in the round.
    #[ts(type = "number")]
    pub conflicts: u64,
    /// Keys below zero after the round.
    #[ts(type = "number")]
    pub exceptions: u64,
    /// Balances this (new) workstation started from, when the round loaded the server's snapshot.
    #[ts(type = "number | null")]
    pub snapshot_balances: Option<u64>,
}

/// The status area's facts (the [`STATUS_EVENT`] and `sync_status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct SyncStatusView {
    /// Enrolled with a server.
    pub enrolled: bool,
    pub server_url: Option<String>,
    /// The last successful round (wall ms), even from before the app started.
    #[ts(type = "number | null")]
    pub last_success_ms: Option<i64>,
    /// This workstation's events the server does not have yet.
    #[ts(type = "number")]
    pub pending: i64,
    /// A round is under way.
    pub running: bool,
    /// The running round's progress.
    pub progress: Option<SyncProgress>,
    /// The last round failed: why (null once a round succeeds).
    pub error: Option<SyncProblem>,
    /// The last round since the app started that sent or received something.
    pub last_round: Option<SyncRound>,
    /// When the next round starts by itself (wall ms), if one is scheduled.
    #[ts(type = "number | null")]
    pub next_attempt_ms: Option<i64>,
}

/// What a round that pulled something brought (the [`APPLIED_EVENT`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct SyncApplied {
    /// Other workstations' events applied.
    #[ts(type = "number")]
    pub pulled: u64,
    /// Balances loaded from the server's snapshot (a new workstation's first round).
    #[ts(type = "number | null")]
    pub snapshot_balances: Option<u64>,
    #[ts(type = "number")]
    pub conflicts: u64,
    #[ts(type = "number")]
    pub exceptions: u64,
}

/// A conflict: the same key arrived with other content (stored, never applied).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct SyncConflictRow {
    /// Event kind: movement, document, lot, master.
    pub kind: String,
    /// The event's key (hex).
    pub key: String,
    /// The workstation the incoming version came from.
    pub origin: Option<String>,
    /// What this workstation had (JSON).
    pub stored: String,
    /// What arrived (JSON).
    pub incoming: String,
}

/// One movement behind a negative balance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct ExceptionMovement {
    pub id: String,
    /// The workstation that made it (node id).
    pub node: String,
    pub kind: String,
    #[ts(type = "number")]
    pub quantity: i64,
    /// Its document's number (CK-S02-000001: the site is in it), when it has one.
    pub document_number: Option<String>,
    /// Who made it.
    pub user: Option<String>,
    /// When it was recorded (RFC 3339).
    pub recorded_at: Option<String>,
}

/// A key below zero after a merge, with the movements since its last count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct NegativeExceptionRow {
    pub item: String,
    pub lot: String,
    pub serial: String,
    pub location: String,
    pub status: String,
    #[ts(type = "number")]
    pub quantity: i64,
    pub movements: Vec<ExceptionMovement>,
}

/// A competing value of a safety field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct SafetyValue {
    #[ts(type = "number")]
    pub hlc: i64,
    /// The workstation that wrote it.
    pub node: String,
    /// The value as JSON.
    pub value: String,
}

/// A safety field (storage range, cold chain, serial tracking …) edited on two workstations that had not seen each other's edit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct SafetyEditRow {
    /// item, location, …
    pub entity: String,
    pub code: String,
    pub field: String,
    pub values: Vec<SafetyValue>,
}

/// A code claimed by several records: the first created keeps it, the others show as `code~xxxxxxxx`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct DuplicateCodeRow {
    pub entity: String,
    pub code: String,
    /// The codes the records hold now.
    pub holders: Vec<String>,
}

/// A movement corrected on two workstations that had not seen each other's correction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct DoubleCorrectionRow {
    /// The corrected movement's id.
    pub corrected: String,
    /// The correcting movements' ids.
    pub corrections: Vec<String>,
}

/// A movement stamped further ahead of this computer's clock than a clock may be pulled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct FutureMovementRow {
    pub id: String,
    /// The workstation that made it (node id).
    pub node: String,
    /// Its stamp (RFC 3339).
    pub stamped_at: String,
    pub kind: String,
    pub quantity: i64,
}

/// What a manager reviews after syncing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct SyncReview {
    pub conflicts: Vec<SyncConflictRow>,
    pub exceptions: Vec<NegativeExceptionRow>,
    pub safety_edits: Vec<SafetyEditRow>,
    pub duplicate_codes: Vec<DuplicateCodeRow>,
    /// Counts with another workstation's movement within the clock-skew window.
    pub ambiguous_counts: Vec<ledger::review::AmbiguousCount>,
    pub double_corrections: Vec<DoubleCorrectionRow>,
    pub future_movements: Vec<FutureMovementRow>,
}

/// Reads the review lists. A negative key's movements are looked up by its
/// lot (or serial) for their document, user and time, which say more to a
/// manager than ids.
pub fn review(ledger: &Ledger) -> ledger::Result<SyncReview> {
    let mut traces: std::collections::HashMap<String, Vec<ledger::MovementView>> = std::collections::HashMap::new();
    let exceptions = ledger.negative_exceptions()?;
    for x in &exceptions {
        let needle = if x.lot.is_empty() { &x.serial } else { &x.lot };
        if !needle.is_empty() && !traces.contains_key(needle) {
            traces.insert(needle.clone(), ledger.trace(needle).unwrap_or_default());
        }
    }
    let found = |needle: &str, id: &str| traces.get(needle).and_then(|list| list.iter().find(|m| m.id == id)).cloned();
    Ok(SyncReview {
        conflicts: ledger
            .sync_conflicts()?
            .into_iter()
            .map(|c| SyncConflictRow {
                kind: c.kind,
                key: c.key,
                origin: c.origin,
                stored: c.stored,
                incoming: c.incoming,
            })
            .collect(),
        exceptions: exceptions
            .into_iter()
            .map(|x| {
                let needle = if x.lot.is_empty() { x.serial.clone() } else { x.lot.clone() };
                NegativeExceptionRow {
                    movements: x
                        .movements
                        .into_iter()
                        .map(|(id, node, kind, quantity)| {
                            let view = found(&needle, &id);
                            ExceptionMovement {
                                document_number: view.as_ref().and_then(|m| m.document_number.clone()),
                                user: view.as_ref().map(|m| m.user.clone()),
                                recorded_at: view.map(|m| m.recorded_at),
                                id,
                                node,
                                kind,
                                quantity,
                            }
                        })
                        .collect(),
                    item: x.item,
                    lot: x.lot,
                    serial: x.serial,
                    location: x.location,
                    status: x.status,
                    quantity: x.quantity,
                }
            })
            .collect(),
        safety_edits: ledger
            .concurrent_safety_edits()?
            .into_iter()
            .map(|s| SafetyEditRow {
                entity: s.entity,
                code: s.code,
                field: s.field,
                values: s.values.into_iter().map(|(hlc, node, value)| SafetyValue { hlc, node, value }).collect(),
            })
            .collect(),
        duplicate_codes: ledger
            .duplicate_codes()?
            .into_iter()
            .map(|(entity, code, holders)| DuplicateCodeRow { entity, code, holders })
            .collect(),
        ambiguous_counts: ledger.ambiguous_counts()?,
        double_corrections: ledger
            .double_corrections()?
            .into_iter()
            .map(|(corrected, corrections)| DoubleCorrectionRow { corrected, corrections })
            .collect(),
        future_movements: ledger
            .future_movements()?
            .into_iter()
            .map(|(id, node, ms, kind, quantity)| FutureMovementRow {
                id,
                node,
                stamped_at: ledger::query::rfc3339(ms),
                kind,
                quantity,
            })
            .collect(),
    })
}

/// What the sync thread tells the front end.
#[derive(Debug, Clone)]
pub enum SyncEvent {
    Status(SyncStatusView),
    Progress(SyncProgress),
    Applied(SyncApplied),
}

/// Where events go (the app emits them; tests collect them).
pub type Emit = Arc<dyn Fn(SyncEvent) + Send + Sync>;
/// The session language, asked each time words are needed.
pub type LangSource = Arc<dyn Fn() -> Lang + Send + Sync>;

/// The last failure, worded in both languages (the session's may change).
#[derive(Debug, Clone)]
struct Failure {
    code: String,
    zh: String,
    en: String,
    at_ms: i64,
}

impl Failure {
    fn of(error: &::sync::SyncError) -> Failure {
        Failure { code: error.code(), zh: error.message(Lang::Zh), en: error.message(Lang::En), at_ms: now_ms() }
    }
    fn offline(&self) -> bool {
        self.code == "server_unreachable"
    }
    fn view(&self, lang: Lang) -> SyncProblem {
        SyncProblem {
            code: self.code.clone(),
            message: if lang == Lang::Zh { &self.zh } else { &self.en }.clone(),
            offline: self.offline(),
            at_ms: self.at_ms,
        }
    }
}

/// The thread's own facts (the ledger keeps the rest).
#[derive(Debug, Default)]
struct Runtime {
    running: bool,
    progress: Option<SyncProgress>,
    failure: Option<Failure>,
    failures: u32,
    last_round: Option<SyncRound>,
    next_attempt_ms: Option<i64>,
}

/// How long to wait before the next round: the interval after a success;
/// after failures, [`RETRY_MIN`] doubling up to [`RETRY_MAX`] while the
/// server is unreachable (neither longer than the interval), and
/// [`REFUSED_RETRY`] after a refusal a person must settle.
pub fn next_delay(interval: Duration, failures: u32, offline: bool) -> Duration {
    if failures == 0 {
        return interval;
    }
    if !offline {
        return REFUSED_RETRY.min(interval * 6).max(interval);
    }
    let first = RETRY_MIN.min(interval);
    let cap = RETRY_MAX.min(interval).max(first);
    first.saturating_mul(1 << (failures - 1).min(8)).min(cap)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

struct Shared {
    ledger: Arc<Mutex<Ledger>>,
    emit: Emit,
    lang: LangSource,
    interval: Duration,
    runtime: Mutex<Runtime>,
    stop: AtomicBool,
    wake: (Mutex<bool>, Condvar),
}

impl Shared {
    fn status(&self, lang: Lang) -> SyncStatusView {
        let facts = {
            let ledger = self.ledger.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            ::sync::client::status(&ledger)
        };
        let runtime = self.runtime.lock().expect("sync runtime lock");
        let (server_url, last_success_ms, pending) = match facts {
            Ok(s) => (s.server_url, s.last_success_ms, s.pending),
            Err(_) => (None, None, 0),
        };
        SyncStatusView {
            enrolled: server_url.is_some(),
            server_url,
            last_success_ms,
            pending,
            running: runtime.running,
            progress: runtime.progress.clone(),
            error: runtime.failure.as_ref().map(|f| f.view(lang)),
            last_round: runtime.last_round.clone(),
            next_attempt_ms: runtime.next_attempt_ms,
        }
    }

    fn emit_status(&self) {
        (self.emit)(SyncEvent::Status(self.status((self.lang)())));
    }

    fn enrolled(&self) -> bool {
        let ledger = self.ledger.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        matches!(ledger.sync_link(), Ok(Some(_)))
    }

    /// One round; returns how long to wait before the next.
    fn round(&self) -> Duration {
        let pending = {
            let ledger = self.ledger.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            ledger.pending_push_count().unwrap_or(0).max(0) as u64
        };
        {
            let mut runtime = self.runtime.lock().expect("sync runtime lock");
            runtime.running = true;
            runtime.progress = None;
            runtime.next_attempt_ms = None;
        }
        self.emit_status();
        let mut on_progress = |phase: &'static str, done: usize| {
            let phase = SyncPhase::from_client(phase);
            let progress = SyncProgress {
                phase,
                done: done as u64,
                total: (phase == SyncPhase::Push).then_some(pending.max(done as u64)),
            };
            self.runtime.lock().expect("sync runtime lock").progress = Some(progress.clone());
            (self.emit)(SyncEvent::Progress(progress));
        };
        let outcome = ::sync::sync_once(&*self.ledger, &mut on_progress);
        let applied = {
            let mut runtime = self.runtime.lock().expect("sync runtime lock");
            runtime.running = false;
            runtime.progress = None;
            match &outcome {
                Ok(report) if report.pushed + report.pulled == 0 && report.snapshot_balances.is_none() => {
                    runtime.failure = None;
                    runtime.failures = 0;
                }
                Ok(report) => {
                    runtime.failure = None;
                    runtime.failures = 0;
                    runtime.last_round = Some(SyncRound {
                        at_ms: now_ms(),
                        pushed: report.pushed as u64,
                        pulled: report.pulled as u64,
                        conflicts: report.conflicts.len() as u64,
                        exceptions: report.exceptions.len() as u64,
                        snapshot_balances: report.snapshot_balances.map(|n| n as u64),
                    });
                }
                Err(error) => {
                    runtime.failure = Some(Failure::of(error));
                    runtime.failures = runtime.failures.saturating_add(1);
                }
            }
            let offline = runtime.failure.as_ref().is_some_and(Failure::offline);
            let delay = next_delay(self.interval, runtime.failures, offline);
            runtime.next_attempt_ms = Some(now_ms() + delay.as_millis() as i64);
            (
                outcome.as_ref().ok().filter(|r| r.pulled > 0 || r.snapshot_balances.is_some()).map(|r| SyncApplied {
                    pulled: r.pulled as u64,
                    snapshot_balances: r.snapshot_balances.map(|n| n as u64),
                    conflicts: r.conflicts.len() as u64,
                    exceptions: r.exceptions.len() as u64,
                }),
                delay,
            )
        };
        if let Some(applied) = applied.0 {
            (self.emit)(SyncEvent::Applied(applied));
        }
        self.emit_status();
        applied.1
    }

    /// Waits `delay` or until woken (or stopped).
    fn wait(&self, delay: Duration) {
        let (lock, signal) = &self.wake;
        let mut woken = lock.lock().expect("sync wake lock");
        if !*woken && !self.stop.load(Ordering::Relaxed) {
            woken = signal.wait_timeout(woken, delay).expect("sync wake lock").0;
        }
        *woken = false;
    }

    fn wake(&self) {
        let (lock, signal) = &self.wake;
        *lock.lock().expect("sync wake lock") = true;
        signal.notify_all();
    }
}

/// The sync thread while the app runs.
pub struct SyncService {
    shared: Arc<Shared>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl SyncService {
    /// Starts the thread: a round at once when enrolled, then every `interval`.
    pub fn start(ledger: Arc<Mutex<Ledger>>, emit: Emit, lang: LangSource, interval: Duration) -> SyncService {
        let shared = Arc::new(Shared {
            ledger,
            emit,
            lang,
            interval: interval.max(SYNC_INTERVAL_MIN),
            runtime: Mutex::new(Runtime::default()),
            stop: AtomicBool::new(false),
            wake: (Mutex::new(false), Condvar::new()),
        });
        let worker = shared.clone();
        let thread = std::thread::Builder::new()
            .name("sync".into())
            .spawn(move || {
                while !worker.stop.load(Ordering::Relaxed) {
                    let delay = if worker.enrolled() { worker.round() } else { worker.interval };
                    worker.wait(delay);
                }
            })
            .ok();
        SyncService { shared, thread: Mutex::new(thread) }
    }

    /// The interval from `MEDLEDGER_SYNC_INTERVAL_MS`, else the default.
    pub fn interval_from_env() -> Duration {
        std::env::var("MEDLEDGER_SYNC_INTERVAL_MS")
            .ok()
            .and_then(|ms| ms.trim().parse::<u64>().ok())
            .map(Duration::from_millis)
            .unwrap_or(SYNC_INTERVAL_DEFAULT)
    }

    /// The status area's facts, in `lang`.
    pub fn status(&self, lang: Lang) -> SyncStatusView {
        self.shared.status(lang)
    }

    /// Runs a round now instead of at the next tick (after the one running, if any).
    pub fn sync_now(&self) {
        self.shared.wake();
    }

    /// Stops the thread. A round in flight ends first (its requests time out at worst).
    pub fn stop(&self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        self.shared.wake();
        if let Some(thread) = self.thread.lock().expect("sync thread lock").take() {
            let _ = thread.join();
        }
    }
}

impl Drop for SyncService {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Enrols the workstation as `username` (who must be allowed to edit master
/// data: the core's role matrix) with the server at `url` and its one-time code.
/// The network is used without the ledger lock.
pub fn enrol_as(ledger: &Mutex<Ledger>, username: &str, url: &str, code: &str, lang: Lang) -> Result<(), ApiError> {
    {
        let guard = ledger.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let user = guard.user(username).map_err(|e| ApiError::from_ledger(&e, lang))?;
        if !user.role.allows(Action::EditMasterData) {
            let error = LedgerError::Forbidden {
                user: user.username,
                role: user.role.as_str().to_string(),
                action: Action::EditMasterData.as_str(),
            };
            return Err(ApiError::from_ledger(&error, lang));
        }
    }
    let (url, code) = (url.trim(), code.trim());
    if url.is_empty() || code.is_empty() {
        return Err(ApiError::app(
            "invalid_input",
            "请填写服务器地址和注册码。",
            "Enter the server address and the enrolment code.",
            lang,
        ));
    }
    ::sync::enrol(ledger, url, code).map_err(|e| ApiError { code: e.code(), message: e.message(lang) })
}

fn not_enrolled(lang: Lang) -> ApiError {
    ApiError::app(
        "not_enrolled",
        "本机尚未注册到医院服务器。请管理员在“同步”页填写服务器地址和注册码。",
        "This workstation is not enrolled with the hospital server. An administrator enters the server address and an enrolment code on the Sync screen.",
        lang,
    )
}

#[tauri::command(async)]
pub fn sync_status(state: State<'_, AppState>, sync: State<'_, SyncService>) -> Result<SyncStatusView, ApiError> {
    Ok(sync.status(lang(&state)))
}

/// Starts a round now; its outcome comes as events.
#[tauri::command(async)]
pub fn sync_now(state: State<'_, AppState>, sync: State<'_, SyncService>) -> Result<SyncStatusView, ApiError> {
    session_user(&state)?;
    let lang = lang(&state);
    if !sync.shared.enrolled() {
        return Err(not_enrolled(lang));
    }
    sync.sync_now();
    Ok(sync.status(lang))
}

/// Enrols this workstation (who may edit master data) and syncs at once.
#[tauri::command(async)]
pub async fn enrol_workstation(
    state: State<'_, AppState>,
    sync: State<'_, SyncService>,
    url: String,
    code: String,
) -> Result<SyncStatusView, ApiError> {
    let user = session_user(&state)?;
    let lang = lang(&state);
    let ledger = state.ledger.clone();
    // reqwest's blocking client may not run on the async runtime's threads.
    tauri::async_runtime::spawn_blocking(move || enrol_as(&ledger, &user, &url, &code, lang))
        .await
        .map_err(|e| ApiError::app("unexpected", &e.to_string(), &e.to_string(), lang))??;
    sync.sync_now();
    Ok(sync.status(lang))
}

/// Conflicts, keys below zero, concurrent safety-field edits, duplicate codes, ambiguous counts,
/// double corrections and far-future movements.
#[tauri::command(async)]
pub fn sync_review(state: State<'_, AppState>) -> Result<SyncReview, ApiError> {
    session_user(&state)?;
    let lang = lang(&state);
    let ledger = state.ledger.lock().expect("ledger lock");
    review(&ledger).map_err(|e| ApiError::from_ledger(&e, lang))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger::*;
    use std::net::TcpListener;
    use std::time::Instant;

    const SYRINGE: &str = "09506000134352";

    #[test]
    fn retries_come_quickly_while_offline_and_slowly_after_a_refusal() {
        let five = Duration::from_secs(5);
        assert_eq!(next_delay(five, 0, false), five);
        assert_eq!(next_delay(five, 1, true), Duration::from_secs(2));
        assert_eq!(next_delay(five, 2, true), Duration::from_secs(4));
        assert_eq!(next_delay(five, 3, true), Duration::from_secs(5));
        assert_eq!(next_delay(five, 40, true), Duration::from_secs(5));
        assert_eq!(next_delay(five, 1, false), Duration::from_secs(30));
        // A test's short interval: retries no slower than it.
        let short = Duration::from_millis(100);
        assert_eq!(next_delay(short, 5, true), short);
        assert_eq!(next_delay(short, 1, false), Duration::from_millis(600));
        // A long interval: offline retries still every few seconds.
        assert_eq!(next_delay(Duration::from_secs(60), 9, true), Duration::from_secs(5));
    }

    fn collector() -> (Emit, Arc<Mutex<Vec<SyncEvent>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        (Arc::new(move |event| sink.lock().unwrap().push(event)), seen)
    }

    fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
        let started = Instant::now();
        while !done() {
            assert!(started.elapsed() < limit, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn workstation(dir: &std::path::Path, site: &str, master: bool) -> Arc<Mutex<Ledger>> {
        let mut ledger = Ledger::open(&dir.join(format!("{site}.sqlite"))).unwrap();
        ledger.init(site, "").unwrap();
        // Master data is made once, on the first workstation, and reaches the others by sync.
        if master {
            for (username, role) in [("wangli", Role::Clerk), ("zhaoqiang", Role::Manager)] {
                let user =
                    NewUser { username: username.into(), display_name: username.into(), role, language: Lang::Zh };
                ledger.add_user(&user).unwrap();
            }
            ledger
                .add_location(&NewLocation {
                    code: "MAIN".into(),
                    name: "中心库".into(),
                    name_en: "Central storeroom".into(),
                    kind: LocationKind::Storeroom,
                    department: None,
                    min_temp_c: None,
                    max_temp_c: None,
                })
                .unwrap();
            let item = NewItem {
                code: SYRINGE.into(),
                name: "注射器".into(),
                unit: "支".into(),
                pack_size: 1,
                ..NewItem::default()
            };
            ledger.add_item(&item).unwrap();
            ledger.add_department("ICU", "重症医学科", "ICU", "", None).unwrap();
        }
        Arc::new(Mutex::new(ledger))
    }

    fn receive(ledger: &Mutex<Ledger>, lot: &str, quantity: i64) {
        post(ledger, DocumentKind::Receipt, lot, quantity);
    }

    fn post(ledger: &Mutex<Ledger>, kind: DocumentKind, lot: &str, quantity: i64) -> String {
        let department = (kind == DocumentKind::Issue).then(|| "ICU".to_string());
        ledger
            .lock()
            .unwrap()
            .post(&DocumentRequest {
                kind,
                user: "wangli".into(),
                location: "MAIN".into(),
                to_location: None,
                department,
                supplier: None,
                lines: vec![LineRequest {
                    item: SYRINGE.into(),
                    lot: Some(lot.into()),
                    expiry: Some("2030-01-31".parse().unwrap()),
                    production_date: None,
                    serial: None,
                    quantity,
                    unit_cost: None,
                }],
                note: String::new(),
                override_: None,
            })
            .unwrap()
            .number
    }

    fn on_hand(ledger: &Mutex<Ledger>) -> i64 {
        let rows = ledger.lock().unwrap().stock(&StockFilter::default()).unwrap_or_default();
        rows.iter().filter(|r| &*r.code == SYRINGE).map(|r| r.quantity).sum()
    }

    fn last_status(events: &Mutex<Vec<SyncEvent>>) -> Option<SyncStatusView> {
        events.lock().unwrap().iter().rev().find_map(|e| match e {
            SyncEvent::Status(s) => Some(s.clone()),
            _ => None,
        })
    }

    fn server(dir: &std::path::Path, listen: &str, sites: &[&str]) -> (::sync::ServerHandle, Vec<String>) {
        let mut ledger = Ledger::open(&dir.join("server.sqlite")).unwrap();
        if ledger.node_info().is_err() {
            ledger.init("SRV", "").unwrap();
        }
        let codes = sites.iter().map(|site| ::sync::new_enrolment_code(&mut ledger, site).unwrap()).collect();
        (::sync::serve(ledger, listen, false).unwrap(), codes)
    }

    /// Two workstations with sync threads against a real server on loopback:
    /// enrolment (refused for a clerk), stock converging, the server going
    /// away (worded in the session language, work goes on, pending grows)
    /// and coming back on the same port (synced within a few retries).
    #[test]
    fn the_sync_thread_converges_workstations_and_recovers_when_the_server_returns() {
        let dir = tempfile::tempdir().unwrap();
        let (handle, codes) = server(dir.path(), "127.0.0.1:0", &["S01", "S02"]);
        let addr = handle.addr();
        let url = format!("http://{addr}");
        let interval = Duration::from_millis(150);
        let zh: LangSource = Arc::new(|| Lang::Zh);

        let first = workstation(dir.path(), "S01", true);
        receive(&first, "L1", 10);
        let (emit, first_events) = collector();
        let first_sync = SyncService::start(first.clone(), emit, zh.clone(), interval);
        std::thread::sleep(Duration::from_millis(300));
        assert!(!first_sync.status(Lang::En).enrolled);
        assert!(first_events.lock().unwrap().is_empty(), "nothing happens before enrolment");

        let refused = enrol_as(&first, "wangli", &url, &codes[0], Lang::En).unwrap_err();
        assert_eq!(refused.code, "forbidden");
        assert!(first.lock().unwrap().sync_link().unwrap().is_none(), "a clerk's attempt stored nothing");
        enrol_as(&first, "zhaoqiang", &url, &codes[0], Lang::En).unwrap();
        first_sync.sync_now();
        wait_for("the first push", Duration::from_secs(10), || {
            let s = first_sync.status(Lang::En);
            s.last_round.is_some_and(|r| r.pushed > 0) && s.pending == 0 && s.error.is_none()
        });
        assert!(first_events
            .lock()
            .unwrap()
            .iter()
            .any(|e| matches!(e, SyncEvent::Progress(p) if p.phase == SyncPhase::Push)));
        let status = last_status(&first_events).unwrap();
        assert!(status.enrolled && status.last_success_ms.is_some() && !status.running, "{status:?}");

        let second = workstation(dir.path(), "S02", false);
        let (emit, second_events) = collector();
        let second_sync = SyncService::start(second.clone(), emit, zh.clone(), interval);
        enrol_as(&second, "admin", &url, &codes[1], Lang::En).unwrap();
        second_sync.sync_now();
        wait_for("the receipt on the second workstation", Duration::from_secs(10), || on_hand(&second) == 10);
        // A new workstation starts from the server's snapshot; the screens are told.
        wait_for("the applied event", Duration::from_secs(5), || {
            second_events
                .lock()
                .unwrap()
                .iter()
                .any(|e| matches!(e, SyncEvent::Applied(a) if a.snapshot_balances.is_some()))
        });

        // The server goes away: rounds fail with words in the session language, work goes on.
        handle.stop();
        wait_for("the offline status", Duration::from_secs(10), || {
            last_status(&first_events).and_then(|s| s.error).is_some_and(|e| e.offline)
        });
        let problem = last_status(&first_events).unwrap().error.unwrap();
        assert_eq!(problem.code, "server_unreachable");
        assert!(problem.message.contains("连不上医院服务器"), "{}", problem.message);
        assert!(first_sync.status(Lang::En).error.unwrap().message.contains("cannot be reached"));
        receive(&first, "L2", 5);
        assert_eq!(first_sync.status(Lang::En).pending, 1, "the receipt waits for the server");
        let success_before = first_sync.status(Lang::En).last_success_ms;

        // It comes back on the same address: synced within a few retries, no action needed.
        let back = Instant::now();
        let (handle, _) = server(dir.path(), &addr.to_string(), &[]);
        wait_for("sync after the network returned", Duration::from_secs(10), || {
            let s = first_sync.status(Lang::En);
            s.pending == 0 && s.error.is_none() && s.last_success_ms > success_before
        });
        assert!(back.elapsed() < Duration::from_secs(3), "retries keep coming while offline: {:?}", back.elapsed());
        wait_for("the second receipt on the second workstation", Duration::from_secs(10), || on_hand(&second) == 15);
        assert!(review(&second.lock().unwrap()).unwrap().exceptions.is_empty());

        // Both issue the same five units while neither hears of the other: below zero
        // after the merge, the same on both, with the documents that did it.
        first_sync.stop();
        second_sync.stop();
        let here = post(&first, DocumentKind::Issue, "L2", 5);
        let there = post(&second, DocumentKind::Issue, "L2", 5);
        let (emit, second_events) = collector();
        let first_sync = SyncService::start(first.clone(), Arc::new(|_| {}), zh.clone(), interval);
        let second_sync = SyncService::start(second.clone(), emit, zh, interval);
        wait_for("the exception on both", Duration::from_secs(10), || {
            [&first, &second].iter().all(|l| review(&l.lock().unwrap()).unwrap().exceptions.len() == 1)
        });
        let seen = review(&second.lock().unwrap()).unwrap();
        assert_eq!(seen, review(&first.lock().unwrap()).unwrap(), "every workstation shows the same");
        let exception = &seen.exceptions[0];
        assert_eq!((exception.lot.as_str(), exception.location.as_str(), exception.quantity), ("L2", "MAIN", -5));
        let documents: Vec<_> = exception.movements.iter().filter_map(|m| m.document_number.clone()).collect();
        assert!(documents.contains(&here) && documents.contains(&there), "{documents:?}");
        assert!(exception.movements.iter().all(|m| m.user.as_deref() == Some("wangli")));
        wait_for("the applied event with the exception", Duration::from_secs(5), || {
            second_events.lock().unwrap().iter().any(|e| matches!(e, SyncEvent::Applied(a) if a.exceptions == 1))
        });
        first_sync.stop();
        second_sync.stop();
        drop(handle);
    }

    /// A server that accepts connections and never answers: the round waits on
    /// the network, and meanwhile the ledger stays free for posting.
    #[test]
    fn a_round_waiting_on_the_network_does_not_hold_the_ledger() {
        let dir = tempfile::tempdir().unwrap();
        let (handle, codes) = server(dir.path(), "127.0.0.1:0", &["S01"]);
        let ws = workstation(dir.path(), "S01", true);
        enrol_as(&ws, "admin", &format!("http://{}", handle.addr()), &codes[0], Lang::En).unwrap();
        drop(handle);
        let silent = TcpListener::bind("127.0.0.1:0").unwrap();
        {
            let mut ledger = ws.lock().unwrap();
            let link = ledger.sync_link().unwrap().unwrap();
            let url = format!("http://{}", silent.local_addr().unwrap());
            ledger.set_sync_link(&url, link.server_node_id, &link.token).unwrap();
        }
        receive(&ws, "L1", 3);
        let (emit, events) = collector();
        let service = SyncService::start(ws.clone(), emit, Arc::new(|| Lang::En), Duration::from_millis(100));
        let (connection, _) = silent.accept().unwrap();
        wait_for("the round to start", Duration::from_secs(5), || service.status(Lang::En).running);
        std::thread::sleep(Duration::from_millis(200));
        let pending = service.status(Lang::En).pending;
        let started = Instant::now();
        receive(&ws, "L2", 4);
        assert!(started.elapsed() < Duration::from_millis(500), "posting waited {:?}", started.elapsed());
        assert_eq!(on_hand(&ws), 7);
        assert!(service.status(Lang::En).running, "the round is still waiting on the network");
        // The connection drops: the round fails as unreachable and the thread goes on.
        drop(connection);
        drop(silent);
        wait_for("the failure", Duration::from_secs(10), || {
            last_status(&events).and_then(|s| s.error).is_some_and(|e| e.code == "server_unreachable")
        });
        assert_eq!(service.status(Lang::En).pending, pending + 1, "nothing was marked sent");
        service.stop();
    }
}
