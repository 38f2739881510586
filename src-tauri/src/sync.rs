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
//! error in the session language, running, which certificates the link
//! trusts), [`PROGRESS_EVENT`] (each batch of a round) and [`APPLIED_EVENT`]
//! after a round that pulled something, on which the screens re-read what
//! they show.
//!
//! A hospital that runs its own certificate authority gives its CA
//! certificate with the enrolment, or later in place of the one kept (it was
//! renewed): the Sync screen reads the file the person picks, as the cold
//! chain screen reads a logger's CSV, and sends its text; [`read_ca_text`]
//! checks it with the core's rules before anything is stored. Sync errors are
//! worded once, by [`error_message`]: the core's words, except where those
//! name the command line's `--ca`.

use crate::commands::{lang, session_user};
use crate::dto::ApiError;
use crate::AppState;
use ::sync::tls::{TlsFileProblem, TlsFileRole};
use ::sync::SyncError;
use ledger::replication::SyncLink;
use ledger::{Action, Lang, Ledger, LedgerError};
use serde::{Deserialize, Serialize};
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
    /// This workstation's own records that came back from the server: its ledger had
    /// gone back (restored from a backup, or its database copied to another computer).
    #[ts(type = "number")]
    pub own_events_back: u64,
}

/// Which certificates the link trusts for its server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum SyncTrust {
    /// Only the hospital's own CA certificate(s), kept with the link.
    HospitalCa,
    /// The certificate authorities this computer's system trusts.
    SystemRoots,
    /// Plain http to a server on this computer: no certificate at all.
    PlainHttp,
}

impl SyncTrust {
    fn of(link: &SyncLink) -> SyncTrust {
        if link.server_url.get(..7).is_some_and(|scheme| scheme.eq_ignore_ascii_case("http://")) {
            SyncTrust::PlainHttp
        } else if link.server_ca_pem.is_some() {
            SyncTrust::HospitalCa
        } else {
            SyncTrust::SystemRoots
        }
    }
}

/// A CA certificate file picked on the Sync screen: its name (for messages) and its text.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
pub struct CaCertificateFile {
    /// The file's name, as the person picked it.
    pub name: String,
    /// Its contents (PEM text).
    pub text: String,
}

/// The status area's facts (the [`STATUS_EVENT`] and `sync_status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct SyncStatusView {
    /// Enrolled with a server.
    pub enrolled: bool,
    pub server_url: Option<String>,
    /// Which certificates the link trusts (null before enrolment).
    pub trust: Option<SyncTrust>,
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
    /// This workstation's own records that came back from the server (its ledger had gone back).
    #[ts(type = "number")]
    pub own_events_back: u64,
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
    fn of(error: &SyncError) -> Failure {
        Failure {
            code: error.code(),
            zh: error_message(error, Lang::Zh),
            en: error_message(error, Lang::En),
            at_ms: now_ms(),
        }
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
        let (facts, trust) = {
            let ledger = self.ledger.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            (::sync::client::status(&ledger), ledger.sync_link().ok().flatten().map(|link| SyncTrust::of(&link)))
        };
        let runtime = self.runtime.lock().expect("sync runtime lock");
        let (server_url, last_success_ms, pending) = match facts {
            Ok(s) => (s.server_url, s.last_success_ms, s.pending),
            Err(_) => (None, None, 0),
        };
        SyncStatusView {
            enrolled: server_url.is_some(),
            server_url,
            trust,
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
                Ok(report)
                    if report.pushed + report.pulled + report.own_events_back == 0
                        && report.snapshot_balances.is_none() =>
                {
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
                        own_events_back: report.own_events_back as u64,
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
                outcome
                    .as_ref()
                    .ok()
                    .filter(|r| r.pulled + r.own_events_back > 0 || r.snapshot_balances.is_some())
                    .map(|r| SyncApplied {
                        pulled: r.pulled as u64,
                        snapshot_balances: r.snapshot_balances.map(|n| n as u64),
                        own_events_back: r.own_events_back as u64,
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

/// Refuses who may not edit master data (the core's role matrix): they may
/// not enrol the workstation or change which certificates it trusts.
fn may_link(ledger: &Mutex<Ledger>, username: &str, lang: Lang) -> Result<(), ApiError> {
    let guard = ledger.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let user = guard.user(username).map_err(|e| ApiError::from_ledger(&e, lang))?;
    if user.role.allows(Action::EditMasterData) {
        return Ok(());
    }
    let error = LedgerError::Forbidden {
        user: user.username,
        role: user.role.as_str().to_string(),
        action: Action::EditMasterData.as_str(),
    };
    Err(ApiError::from_ledger(&error, lang))
}

/// Checks a picked CA file as `sync::read_ca_file` checks one given with
/// `--ca` (at most `TLS_FILE_MAX_BYTES`, only certificates, each usable as a
/// root — a private key is refused) and returns the PEM text to keep.
pub fn read_ca_text(file: &CaCertificateFile) -> Result<String, SyncError> {
    let refused = |problem| SyncError::TlsFile { path: file.name.clone(), role: TlsFileRole::Ca, problem };
    if file.text.len() as u64 > ::sync::tls::TLS_FILE_MAX_BYTES {
        return Err(refused(TlsFileProblem::TooLarge));
    }
    let text = file.text.trim();
    ::sync::tls::ca_certificates(text).map_err(|e| match e {
        SyncError::TlsFile { problem, .. } => refused(problem),
        e => e,
    })?;
    Ok(text.to_string())
}

/// Enrols the workstation as `username` (who must be allowed to edit master
/// data: the core's role matrix) with the server at `url` and its one-time code,
/// trusting only the hospital's CA in `ca` when one is given (checked before
/// the network is used; a bad file stores nothing). The network is used
/// without the ledger lock.
pub fn enrol_as(
    ledger: &Mutex<Ledger>,
    username: &str,
    url: &str,
    code: &str,
    ca: Option<&CaCertificateFile>,
    lang: Lang,
) -> Result<(), ApiError> {
    may_link(ledger, username, lang)?;
    let (url, code) = (url.trim(), code.trim());
    if url.is_empty() || code.is_empty() {
        return Err(ApiError::app(
            "invalid_input",
            "请填写服务器地址和注册码。",
            "Enter the server address and the enrolment code.",
            lang,
        ));
    }
    let ca_pem = ca.map(read_ca_text).transpose().map_err(|e| api_error(&e, lang))?;
    ::sync::enrol_trusting(ledger, url, code, ca_pem.as_deref()).map_err(|e| api_error(&e, lang))
}

/// Replaces the CA the enrolled workstation trusts for its server (the
/// hospital renewed it, or IT now runs its own) — as `username`, who must be
/// allowed to edit master data. The link, its token and its marks stay.
pub fn replace_ca_as(
    ledger: &Mutex<Ledger>,
    username: &str,
    ca: &CaCertificateFile,
    lang: Lang,
) -> Result<(), ApiError> {
    may_link(ledger, username, lang)?;
    let ca_pem = read_ca_text(ca).map_err(|e| api_error(&e, lang))?;
    let mut guard = ledger.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if !matches!(guard.sync_link(), Ok(Some(_))) {
        return Err(not_enrolled(lang));
    }
    guard.set_sync_ca(Some(&ca_pem)).map_err(|e| ApiError::from_ledger(&e, lang))
}

fn api_error(error: &SyncError, lang: Lang) -> ApiError {
    ApiError { code: error.code(), message: error_message(error, lang) }
}

/// A sync error in the app's words, for the status area and the Sync screen.
/// The core words each error once for the command line and the app; where its
/// words name the command line's `--ca`, or a remedy the app gives differently
/// (a new address means enrolling again), the app says it here instead.
pub fn error_message(error: &SyncError, lang: Lang) -> String {
    let zh = lang == Lang::Zh;
    match error {
        SyncError::CertificateUntrusted(detail) => {
            if zh {
                format!("本机不信任服务器的证书（{detail}），没有连接。如果医院使用自己的证书颁发机构（CA）或自签名证书：请向信息科要医院的 CA 证书（.pem 或 .crt 文件），在“同步”页（Alt+0）的“医院 CA 证书”处添加。")
            } else {
                format!("The server's certificate is not trusted by this workstation ({detail}); nothing was sent. If the hospital uses its own certificate authority or a self-signed certificate, ask IT for the hospital's CA certificate (a .pem or .crt file) and add it under \"Hospital CA certificate\" on the Sync screen (Alt+0).")
            }
        }
        SyncError::CertificateExpired(detail) => {
            if zh {
                format!("服务器证书已过期或尚未生效（{detail}），没有连接。请先检查本机的日期和时间；时间正确的话，请信息科更新服务器证书，或在“同步”页（Alt+0）换上信息科新发的 CA 证书。")
            } else {
                format!("The server's certificate has expired or is not valid yet ({detail}); nothing was sent. Check this computer's date and time; if they are right, ask IT to renew the server's certificate, or replace the hospital CA certificate on the Sync screen (Alt+0) with the one IT renewed.")
            }
        }
        SyncError::CertificateWrongHost { url, detail } => {
            if zh {
                format!("服务器证书上的名称与地址 {url} 不符（{detail}），没有连接。请向信息科问证书上写的服务器名称（例如 https://sync.hospital:8443），用这个地址注册本机。")
            } else {
                format!("The server's certificate is not for the address {url} ({detail}); nothing was sent. Ask IT for the server name written in its certificate (e.g. https://sync.hospital:8443) and enrol with that address.")
            }
        }
        SyncError::Refused { code, .. } if code == "https_required" => {
            if zh {
                "服务器只接受 https：请用 https:// 开头的服务器地址（主机和端口不变）注册本机。".into()
            } else {
                "The server speaks https only: enrol with the server address starting https:// (same host and port)."
                    .into()
            }
        }
        SyncError::TlsFile { path, role: TlsFileRole::Ca, problem } => ca_file_message(path, problem, zh),
        e => e.message(lang),
    }
}

/// A CA certificate file that cannot be used, and what to give instead.
fn ca_file_message(name: &str, problem: &TlsFileProblem, zh: bool) -> String {
    let max_kib = ::sync::tls::TLS_FILE_MAX_BYTES / 1024;
    match (problem, zh) {
        (TlsFileProblem::Unreadable(e), true) => format!("CA 证书文件 {name} 无法读取（{e}）。请重新选择文件。"),
        (TlsFileProblem::Unreadable(e), false) => format!("The CA certificate file {name} cannot be read ({e}). Choose the file again."),
        (TlsFileProblem::TooLarge, true) => format!("文件 {name} 太大（最多 {max_kib} KiB），不是 CA 证书。请向信息科要医院的 CA 证书（.pem 或 .crt 文件）。"),
        (TlsFileProblem::TooLarge, false) => format!("The file {name} is too large (at most {max_kib} KiB) to be a CA certificate. Ask IT for the hospital's CA certificate (a .pem or .crt file)."),
        (TlsFileProblem::NotPem(found), true) => format!("文件 {name} 不是 PEM 格式的证书（{found}）。CA 证书是以 -----BEGIN CERTIFICATE----- 开头的文本文件，请向信息科要。"),
        (TlsFileProblem::NotPem(found), false) => format!("The file {name} is not a PEM certificate ({found}). A CA certificate is a text file starting with -----BEGIN CERTIFICATE-----; ask IT for it."),
        (TlsFileProblem::NotOnlyCertificates, true) => format!("文件 {name} 里除了证书还有别的内容（例如私钥），没有保存。只选 CA 证书；私钥不能离开服务器，请告诉信息科。"),
        (TlsFileProblem::NotOnlyCertificates, false) => format!("The file {name} holds more than certificates (a private key?); nothing was kept. Choose the CA certificate only; private keys must not leave the server, so tell IT."),
        (TlsFileProblem::Unusable(e), true) => format!("文件 {name} 里的证书无法使用（{e}）。请向信息科要医院的 CA 证书。"),
        (TlsFileProblem::Unusable(e), false) => format!("The certificate in {name} cannot be used ({e}). Ask IT for the hospital's CA certificate."),
        (TlsFileProblem::KeyMismatch, true) => format!("文件 {name} 不能用作 CA 证书。"),
        (TlsFileProblem::KeyMismatch, false) => format!("The file {name} cannot be used as a CA certificate."),
    }
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
    ca: Option<CaCertificateFile>,
) -> Result<SyncStatusView, ApiError> {
    let user = session_user(&state)?;
    let lang = lang(&state);
    let ledger = state.ledger.clone();
    // reqwest's blocking client may not run on the async runtime's threads.
    tauri::async_runtime::spawn_blocking(move || enrol_as(&ledger, &user, &url, &code, ca.as_ref(), lang))
        .await
        .map_err(|e| ApiError::app("unexpected", &e.to_string(), &e.to_string(), lang))??;
    sync.sync_now();
    Ok(sync.status(lang))
}

/// Replaces the hospital CA certificate the link trusts (who may edit master data) and syncs at once.
#[tauri::command(async)]
pub fn replace_sync_ca(
    state: State<'_, AppState>,
    sync: State<'_, SyncService>,
    ca: CaCertificateFile,
) -> Result<SyncStatusView, ApiError> {
    let user = session_user(&state)?;
    let lang = lang(&state);
    replace_ca_as(&state.ledger, &user, &ca, lang)?;
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
        rows.iter().filter(|r| r.item.code == SYRINGE).map(|r| r.quantity).sum()
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

        let refused = enrol_as(&first, "wangli", &url, &codes[0], None, Lang::En).unwrap_err();
        assert_eq!(refused.code, "forbidden");
        assert!(first.lock().unwrap().sync_link().unwrap().is_none(), "a clerk's attempt stored nothing");
        enrol_as(&first, "zhaoqiang", &url, &codes[0], None, Lang::En).unwrap();
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
        enrol_as(&second, "admin", &url, &codes[1], None, Lang::En).unwrap();
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

    /// A hospital's own CA, made at test time, and server certificates it signs.
    struct Pki {
        ca: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
    }

    impl Pki {
        fn new(name: &str) -> Pki {
            let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
            params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
            params.distinguished_name.push(rcgen::DnType::CommonName, name);
            Pki { ca: rcgen::CertifiedIssuer::self_signed(params, rcgen::KeyPair::generate().unwrap()).unwrap() }
        }

        /// The CA certificate as the person picks it on the Sync screen.
        fn file(&self) -> CaCertificateFile {
            CaCertificateFile { name: "hospital-ca.pem".into(), text: self.ca.pem() }
        }

        /// The hospital server on 127.0.0.1 serving HTTPS with a certificate this CA signed.
        fn server(&self, dir: &std::path::Path, sites: &[&str]) -> (::sync::ServerHandle, Vec<String>) {
            let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
            let key = rcgen::KeyPair::generate().unwrap();
            let cert = params.signed_by(&key, &self.ca).unwrap();
            let (cert_path, key_path) = (dir.join("server.pem"), dir.join("server.key"));
            std::fs::write(&cert_path, cert.pem()).unwrap();
            std::fs::write(&key_path, key.serialize_pem()).unwrap();
            let mut ledger = Ledger::open(&dir.join("server.sqlite")).unwrap();
            ledger.init("SRV", "").unwrap();
            let codes = sites.iter().map(|site| ::sync::new_enrolment_code(&mut ledger, site).unwrap()).collect();
            let tls = ::sync::ServerTls::from_pem_files(&cert_path, &key_path).unwrap();
            (::sync::serve_with(ledger, "127.0.0.1:0", Some(tls), false).unwrap(), codes)
        }
    }

    /// A workstation enrols over https trusting the hospital CA picked on the
    /// Sync screen, through the function the command calls: refused first
    /// without it (words that send the person to the CA field, nothing
    /// stored), enrolled with it (the link says it trusts its own CA) and
    /// synced by the thread; a CA replaced by one that did not sign the server
    /// is refused at the next round, and replacing it back (no new
    /// enrolment) syncs again.
    #[test]
    fn a_workstation_enrols_over_https_trusting_the_hospital_ca_and_can_replace_it() {
        let dir = tempfile::tempdir().unwrap();
        let pki = Pki::new("Hospital Root CA");
        let (handle, codes) = pki.server(dir.path(), &["S01"]);
        let url = handle.url();
        assert!(url.starts_with("https://127.0.0.1:"), "{url}");
        let ws = workstation(dir.path(), "S01", true);
        receive(&ws, "L1", 4);

        let untrusted = enrol_as(&ws, "zhaoqiang", &url, &codes[0], None, Lang::Zh).unwrap_err();
        assert_eq!(untrusted.code, "certificate_untrusted");
        assert!(untrusted.message.contains("“同步”页（Alt+0）的“医院 CA 证书”处添加"), "{}", untrusted.message);
        assert!(!untrusted.message.contains("--ca"), "no command-line words in the app: {}", untrusted.message);
        assert!(ws.lock().unwrap().sync_link().unwrap().is_none(), "nothing stored");

        enrol_as(&ws, "zhaoqiang", &url, &codes[0], Some(&pki.file()), Lang::En).unwrap();
        let link = ws.lock().unwrap().sync_link().unwrap().unwrap();
        assert_eq!(link.server_ca_pem.as_deref(), Some(pki.ca.pem().trim()));
        let (emit, events) = collector();
        let service = SyncService::start(ws.clone(), emit, Arc::new(|| Lang::En), Duration::from_millis(100));
        assert_eq!(service.status(Lang::En).trust, Some(SyncTrust::HospitalCa));
        wait_for("the push over https", Duration::from_secs(10), || {
            let s = service.status(Lang::En);
            s.pending == 0 && s.last_success_ms.is_some() && s.error.is_none()
        });

        // A clerk may not change what the workstation trusts.
        let other = Pki::new("Another CA");
        assert_eq!(replace_ca_as(&ws, "wangli", &other.file(), Lang::En).unwrap_err().code, "forbidden");
        replace_ca_as(&ws, "zhaoqiang", &other.file(), Lang::En).unwrap();
        receive(&ws, "L2", 1);
        service.sync_now();
        wait_for("the refusal under the wrong CA", Duration::from_secs(10), || {
            last_status(&events).and_then(|s| s.error).is_some_and(|e| e.code == "certificate_untrusted")
        });
        let problem = service.status(Lang::En).error.unwrap();
        assert!(!problem.offline, "a person must act");
        assert!(
            problem.message.contains("add it under \"Hospital CA certificate\" on the Sync screen"),
            "{}",
            problem.message
        );
        assert_eq!(service.status(Lang::En).pending, 1, "nothing was sent");

        replace_ca_as(&ws, "zhaoqiang", &pki.file(), Lang::En).unwrap();
        let replaced = ws.lock().unwrap().sync_link().unwrap().unwrap();
        assert_eq!(
            (replaced.server_url, replaced.token),
            (link.server_url, link.token),
            "the same link, not a new enrolment"
        );
        service.sync_now();
        wait_for("the push after the CA was replaced", Duration::from_secs(10), || {
            let s = service.status(Lang::En);
            s.pending == 0 && s.error.is_none()
        });
        service.stop();
        drop(handle);
    }

    /// A CA file that is not one — a private key, a certificate with its key,
    /// no PEM, too large, empty — is refused before the network is used, with
    /// words in both languages, and nothing is stored: not at enrolment, not
    /// in place of the CA an enrolled workstation keeps.
    #[test]
    fn a_key_or_other_file_given_as_the_ca_is_refused_and_nothing_is_stored() {
        let dir = tempfile::tempdir().unwrap();
        let pki = Pki::new("Hospital Root CA");
        let key = rcgen::KeyPair::generate().unwrap().serialize_pem();
        let file = |name: &str, text: String| CaCertificateFile { name: name.into(), text };
        let too_large = "A".repeat(::sync::tls::TLS_FILE_MAX_BYTES as usize + 1);
        let cases = [
            (file("server.key", key.clone()), "tls_file_invalid", "私钥", "private key"),
            (file("bundle.pem", format!("{}\n{key}", pki.ca.pem())), "tls_file_invalid", "私钥", "private key"),
            (
                file("notes.txt", "hospital CA: ask IT".into()),
                "tls_file_invalid",
                "不是 PEM 格式的证书",
                "is not a PEM certificate",
            ),
            (file("empty.pem", String::new()), "tls_file_invalid", "不是 PEM 格式的证书", "is not a PEM certificate"),
            (file("backup.tar", too_large), "tls_file_unreadable", "太大", "too large"),
        ];
        // The server is never asked: an address nothing listens on.
        let url = format!("http://{}", TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap());
        let ws = workstation(dir.path(), "S01", true);
        for (ca, code, zh, en) in &cases {
            let refused = enrol_as(&ws, "zhaoqiang", &url, "code", Some(ca), Lang::Zh).unwrap_err();
            assert_eq!(refused.code, *code, "{}: {}", ca.name, refused.message);
            assert!(refused.message.contains(zh) && refused.message.contains(&ca.name), "{}", refused.message);
            let refused = enrol_as(&ws, "zhaoqiang", &url, "code", Some(ca), Lang::En).unwrap_err();
            assert!(refused.message.contains(en) && !refused.message.contains("--ca"), "{}", refused.message);
        }
        assert!(ws.lock().unwrap().sync_link().unwrap().is_none(), "nothing stored");

        // Enrolled with the CA: a key offered in its place leaves it as it was.
        let (handle, codes) = pki.server(dir.path(), &["S01"]);
        enrol_as(&ws, "zhaoqiang", &handle.url(), &codes[0], Some(&pki.file()), Lang::En).unwrap();
        for (ca, code, _, _) in &cases {
            assert_eq!(replace_ca_as(&ws, "zhaoqiang", ca, Lang::En).unwrap_err().code, *code);
        }
        let kept = ws.lock().unwrap().sync_link().unwrap().unwrap().server_ca_pem;
        assert_eq!(kept.as_deref(), Some(pki.ca.pem().trim()));
        drop(handle);
    }

    #[test]
    fn the_link_says_which_certificates_it_trusts() {
        let link = |url: &str, ca: Option<&str>| SyncLink {
            server_url: url.into(),
            server_node_id: Default::default(),
            token: String::new(),
            server_ca_pem: ca.map(str::to_string),
            pull_cursor: 0,
            pull_cursor_key: None,
            last_success_ms: None,
            last_error: None,
        };
        assert_eq!(SyncTrust::of(&link("https://sync.hospital:8443", Some("PEM"))), SyncTrust::HospitalCa);
        assert_eq!(SyncTrust::of(&link("https://sync.hospital:8443", None)), SyncTrust::SystemRoots);
        assert_eq!(SyncTrust::of(&link("HTTP://127.0.0.1:8470", None)), SyncTrust::PlainHttp);
    }

    /// The new sync errors the status area may show, worded for the app in
    /// both languages, each saying what to do — never the command line's flags.
    #[test]
    fn tls_refusals_say_what_to_do_in_the_apps_words() {
        let cases = [
            (
                SyncError::CertificateUntrusted("UnknownIssuer".into()),
                "certificate_untrusted",
                "医院 CA 证书",
                "Hospital CA certificate",
            ),
            (SyncError::CertificateExpired("Expired".into()), "certificate_expired", "日期和时间", "date and time"),
            (
                SyncError::CertificateWrongHost {
                    url: "https://10.0.0.5:8443".into(),
                    detail: "NotValidForName".into(),
                },
                "certificate_wrong_host",
                "证书上写的服务器名称",
                "server name written in its certificate",
            ),
            (
                SyncError::NotHttps("https://127.0.0.1:8470".into()),
                "server_not_https",
                "不支持 https",
                "does not speak https",
            ),
            (
                SyncError::Refused { code: "https_required".into(), message: "use https".into() },
                "https_required",
                "https://",
                "starting https://",
            ),
            (SyncError::InsecureUrl("http://10.0.0.5:8470".into()), "insecure_url", "请用 https", "use https"),
            (
                SyncError::TlsFile {
                    path: "ca.pem".into(),
                    role: TlsFileRole::Ca,
                    problem: TlsFileProblem::Unreadable("gone".into()),
                },
                "tls_file_unreadable",
                "重新选择文件",
                "Choose the file again",
            ),
            (
                SyncError::TlsFile {
                    path: "ca.pem".into(),
                    role: TlsFileRole::Ca,
                    problem: TlsFileProblem::Unusable("bad".into()),
                },
                "tls_file_invalid",
                "向信息科要",
                "Ask IT",
            ),
        ];
        for (error, code, zh, en) in &cases {
            assert_eq!(error.code(), *code);
            let (in_zh, in_en) = (error_message(error, Lang::Zh), error_message(error, Lang::En));
            assert!(in_zh.contains(zh), "{code}: {in_zh}");
            assert!(in_en.contains(en), "{code}: {in_en}");
            assert!(!in_zh.contains("--") && !in_en.contains("--"), "{code}: no command-line flags");
        }
    }

    /// A server that accepts connections and never answers: the round waits on
    /// the network, and meanwhile the ledger stays free for posting.
    #[test]
    fn a_round_waiting_on_the_network_does_not_hold_the_ledger() {
        let dir = tempfile::tempdir().unwrap();
        let (handle, codes) = server(dir.path(), "127.0.0.1:0", &["S01"]);
        let ws = workstation(dir.path(), "S01", true);
        enrol_as(&ws, "admin", &format!("http://{}", handle.addr()), &codes[0], None, Lang::En).unwrap();
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
