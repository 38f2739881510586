//! The hospital server: one ledger (SQLite) behind HTTP. It applies each
//! pushed batch to its own ledger and appends it to its event log in one
//! transaction, so its sequence is given at commit and a pull never skips an
//! event; a pull returns other nodes' events after the node's cursor.
//!
//! It serves HTTPS with a certificate and key ([`ServerTls`]) on any address,
//! or plain HTTP on a loopback address only.
//!
//! Routes (POST, JSON bodies, gzip both ways): `/v1/enrol`, `/v1/push`,
//! `/v1/pull`, `/v1/snapshot` (a new workstation's start). Push and pull need `Authorization: Bearer TOKEN`.

use crate::protocol::*;
use crate::tls::{ServerTls, TlsListener};
use crate::{random_hex, sha256, SyncError};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use ledger::lineage::LineageCheck;
use ledger::replication::SYNC_BATCH_MAX;
use ledger::{Ledger, LedgerError};
use serde::de::DeserializeOwned;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tower_http::compression::CompressionLayer;
use tower_http::decompression::RequestDecompressionLayer;
use uuid::Uuid;

/// Events a push may carry (a batch plus the lots and documents its movements need).
pub const PUSH_EVENTS_MAX: usize = 3 * SYNC_BATCH_MAX;

type Shared = Arc<Mutex<Ledger>>;

/// A running server; dropping it (or [`ServerHandle::stop`]) shuts it down.
pub struct ServerHandle {
    addr: SocketAddr,
    tls: bool,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ServerHandle {
    /// The address it listens on (the port is known once bound).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    /// The address as a URL: `https://…` with TLS, `http://…` without.
    pub fn url(&self) -> String {
        format!("{}://{}", if self.tls { "https" } else { "http" }, self.addr)
    }
    /// Stops accepting, finishes requests in flight, and returns.
    pub fn stop(mut self) {
        self.halt();
    }
    /// Blocks until the server stops (Ctrl+C or SIGTERM when run from the CLI).
    pub fn wait(mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
    fn halt(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.halt();
    }
}

/// Makes a one-time enrolment code for a site (valid 24 hours) and returns it.
pub fn new_enrolment_code(ledger: &mut Ledger, site_code: &str) -> Result<String, SyncError> {
    // 16 bytes of entropy in groups a person can read out over the phone.
    let hex = random_hex(16);
    let code =
        hex.as_bytes().chunks(4).map(|c| std::str::from_utf8(c).unwrap_or_default()).collect::<Vec<_>>().join("-");
    ledger.server_add_enrolment(site_code, &sha256(&code))?;
    Ok(code)
}

/// Starts the server on `listen` (e.g. `127.0.0.1:8470`; port 0 picks one)
/// over plain HTTP: only a loopback address is accepted.
pub fn serve(ledger: Ledger, listen: &str, on_signal: bool) -> Result<ServerHandle, SyncError> {
    serve_with(ledger, listen, None, on_signal)
}

/// The address to listen on: an IP address and port; any address with TLS,
/// a loopback one without. Callers may check it before opening the database,
/// so a refused address creates nothing.
pub fn check_listen(listen: &str, tls: bool) -> Result<SocketAddr, SyncError> {
    let addr: SocketAddr = listen.parse().map_err(|_| SyncError::BadUrl(listen.to_string()))?;
    if !tls && !addr.ip().is_loopback() {
        return Err(SyncError::InsecureListen(listen.to_string()));
    }
    Ok(addr)
}

/// Starts the server on `listen`: over HTTPS with `tls` (any address), else
/// over plain HTTP on a loopback address only (see [`check_listen`]). With `on_signal`, Ctrl+C or
/// SIGTERM stops it too.
pub fn serve_with(
    mut ledger: Ledger,
    listen: &str,
    tls: Option<ServerTls>,
    on_signal: bool,
) -> Result<ServerHandle, SyncError> {
    let addr = check_listen(listen, tls.is_some())?;
    ledger.server_publish_own()?;
    let std_listener =
        std::net::TcpListener::bind(addr).map_err(|e| SyncError::Unreachable(format!("{listen}: {e}")))?;
    std_listener.set_nonblocking(true).map_err(|e| SyncError::Unreachable(e.to_string()))?;
    let addr = std_listener.local_addr().map_err(|e| SyncError::Unreachable(e.to_string()))?;
    let state: Shared = Arc::new(Mutex::new(ledger));
    let app = Router::new()
        .route("/v1/enrol", post(enrol))
        .route("/v1/push", post(push))
        .route("/v1/pull", post(pull))
        .route("/v1/snapshot", post(snapshot))
        .layer(DefaultBodyLimit::max(BODY_MAX_BYTES))
        .layer(RequestDecompressionLayer::new())
        // Fastest deflate: about as small on this JSON, a fraction of the CPU.
        .layer(CompressionLayer::new().quality(tower_http::CompressionLevel::Fastest))
        .with_state(state);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| SyncError::Unreachable(e.to_string()))?;
    let with_tls = tls.is_some();
    let thread = std::thread::Builder::new()
        .name("sync-server".into())
        .spawn(move || {
            runtime.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(std_listener) else { return };
                let stop = async move {
                    if on_signal {
                        let mut term =
                            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
                        tokio::select! {
                            _ = rx => {}
                            _ = tokio::signal::ctrl_c() => {}
                            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
                        }
                    } else {
                        let _ = rx.await;
                    }
                };
                match tls {
                    Some(tls) => {
                        let Ok(listener) = TlsListener::new(listener, &tls) else { return };
                        let _ = axum::serve(listener, app).with_graceful_shutdown(stop).await;
                    }
                    None => {
                        let _ = axum::serve(listener, app).with_graceful_shutdown(stop).await;
                    }
                }
            });
        })
        .map_err(|e| SyncError::Unreachable(e.to_string()))?;
    Ok(ServerHandle { addr, tls: with_tls, shutdown: Some(tx), thread: Some(thread) })
}

/// A refusal as an HTTP answer.
struct Refusal(StatusCode, &'static str, String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.0, Json(ErrorBody { code: self.1.to_string(), message: self.2 })).into_response()
    }
}

impl From<LedgerError> for Refusal {
    fn from(e: LedgerError) -> Refusal {
        match e {
            LedgerError::InvalidInput { .. } => Refusal(StatusCode::BAD_REQUEST, "malformed", e.to_string()),
            // A reference the server does not know (a foreign key at commit): the batch is refused whole.
            LedgerError::Storage(_) => {
                Refusal(StatusCode::BAD_REQUEST, "malformed", format!("the batch could not be applied: {e}"))
            }
            _ => Refusal(StatusCode::INTERNAL_SERVER_ERROR, "server_error", e.message(ledger::Lang::En)),
        }
    }
}

/// Checks the versions first, then reads the typed body.
fn parse<T: DeserializeOwned>(body: &Bytes) -> Result<T, Refusal> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| Refusal(StatusCode::BAD_REQUEST, "malformed", format!("not JSON: {e}")))?;
    let ours = Versions::ours();
    let protocol = value.get("protocol").and_then(serde_json::Value::as_u64);
    let schema = value.get("schema").and_then(serde_json::Value::as_i64);
    if protocol != Some(u64::from(ours.protocol)) || schema != Some(ours.schema) {
        return Err(Refusal(
            StatusCode::CONFLICT,
            "incompatible_version",
            format!(
                "the server speaks protocol {} with wire schema {}, the request protocol {} with wire schema {}: upgrade the older side",
                ours.protocol,
                ours.schema,
                protocol.map_or("?".into(), |p| p.to_string()),
                schema.map_or("?".into(), |s| s.to_string())
            ),
        ));
    }
    serde_json::from_value(value).map_err(|e| Refusal(StatusCode::BAD_REQUEST, "malformed", e.to_string()))
}

/// A lineage that is not in line (`ledger::lineage`), as a refusal.
fn out_of_line(check: LineageCheck) -> Result<(), Refusal> {
    match check {
        LineageCheck::InLine => Ok(()),
        LineageCheck::Behind => Err(lineage_refusal(true)),
        LineageCheck::Unknown => Err(lineage_refusal(false)),
    }
}

/// The event at a node's pull cursor is not the one it pulled there (or there
/// is none): the server's database went back since the node pulled.
fn went_back(ledger: &Ledger, cursor: i64, key: Option<&str>) -> Result<bool, Refusal> {
    Ok(match key {
        Some(key) => ledger.server_event_key_at(cursor)?.as_deref() != Some(key),
        None => cursor > ledger.server_head()?,
    })
}

/// The refusal of a node whose ledger went back (`behind`) or whose server's did.
fn lineage_refusal(behind: bool) -> Refusal {
    if behind {
        Refusal(
            StatusCode::CONFLICT,
            "workstation_behind",
            "this workstation's ledger is older than what it already sent: pull again with its own events first".into(),
        )
    } else {
        Refusal(
            StatusCode::CONFLICT,
            "server_behind",
            "the server holds less from this workstation than it already sent: the server's database went back".into(),
        )
    }
}

fn authenticate(ledger: &mut Ledger, headers: &HeaderMap) -> Result<Uuid, Refusal> {
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| Refusal(StatusCode::UNAUTHORIZED, "unauthenticated", "no bearer token".into()))?;
    match ledger.server_authenticate(&sha256(token))? {
        None => Err(Refusal(StatusCode::UNAUTHORIZED, "unauthenticated", "unknown token".into())),
        Some((_, true)) => Err(Refusal(StatusCode::FORBIDDEN, "revoked", "this node was revoked".into())),
        Some((node, false)) => Ok(node),
    }
}

async fn blocking<T: Send + 'static>(
    state: Shared,
    f: impl FnOnce(&mut Ledger) -> Result<T, Refusal> + Send + 'static,
) -> Result<T, Refusal> {
    tokio::task::spawn_blocking(move || {
        let mut ledger = state.lock().map_err(|_| {
            Refusal(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "the ledger lock was poisoned".into())
        })?;
        f(&mut ledger)
    })
    .await
    .map_err(|e| Refusal(StatusCode::INTERNAL_SERVER_ERROR, "server_error", e.to_string()))?
}

async fn enrol(State(state): State<Shared>, body: Bytes) -> Result<Json<EnrolResponse>, Refusal> {
    let request: EnrolRequest = parse(&body)?;
    blocking(state, move |ledger| {
        let token = random_hex(32);
        match ledger.server_enrol(&sha256(request.code.trim()), request.node_id, &request.site_code, &sha256(&token))? {
            ledger::replication::Enrolment::Enrolled => {}
            ledger::replication::Enrolment::BadCode => {
                return Err(Refusal(
                    StatusCode::FORBIDDEN,
                    "bad_enrolment_code",
                    "unknown, used or expired code".into(),
                ))
            }
            ledger::replication::Enrolment::SiteMismatch { code_site } => {
                return Err(Refusal(
                    StatusCode::FORBIDDEN,
                    "site_mismatch",
                    format!("the code is for site {code_site}, this workstation is {}", request.site_code),
                ))
            }
            ledger::replication::Enrolment::SiteTaken => {
                return Err(Refusal(
                    StatusCode::CONFLICT,
                    "site_taken",
                    format!("another workstation already syncs as site {}", request.site_code),
                ))
            }
        }
        let server_node_id = ledger.node_info()?.id.parse().unwrap_or_default();
        Ok(Json(EnrolResponse { versions: Versions::ours(), token, server_node_id }))
    })
    .await
}

async fn push(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Result<Json<PushResponse>, Refusal> {
    let request: PushRequest = parse(&body)?;
    if request.events.len() > PUSH_EVENTS_MAX {
        return Err(Refusal(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("{} events in one push; at most {PUSH_EVENTS_MAX}", request.events.len()),
        ));
    }
    blocking(state, move |ledger| {
        let node = authenticate(ledger, &headers)?;
        // (A batch sent again after the server went back presents a cursor it no longer knows.)
        if !request.resend && went_back(ledger, request.cursor, request.cursor_key.as_deref())? {
            return Err(lineage_refusal(false));
        }
        if let Some(foreign) = request.events.iter().find_map(|e| e.origin().filter(|o| *o != node)) {
            return Err(Refusal(
                StatusCode::BAD_REQUEST,
                "malformed",
                format!("a node pushes only its own events; this batch holds one of {foreign}"),
            ));
        }
        let report = match &request.lineage {
            Some(lineage) => match ledger.server_accept_checked(node, lineage, &request.events, request.resend)? {
                Ok(report) => report,
                Err(check) => return Err(lineage_refusal(check == LineageCheck::Behind)),
            },
            None => {
                out_of_line(ledger.server_lineage_check(node, None)?)?;
                ledger.server_accept(node, &request.events)?
            }
        };
        Ok(Json(PushResponse {
            versions: Versions::ours(),
            applied: report.applied,
            duplicates: report.duplicates,
            conflicts: report.conflicts,
        }))
    })
    .await
}

async fn pull(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Result<Json<PullResponse>, Refusal> {
    let request: PullRequest = parse(&body)?;
    blocking(state, move |ledger| {
        let node = authenticate(ledger, &headers)?;
        match ledger.server_lineage_check(node, request.lineage.as_ref())? {
            // A node that went back pulls again with its own events (it recovers).
            LineageCheck::Behind if request.recover => {}
            check => out_of_line(check)?,
        }
        if went_back(ledger, request.cursor, request.cursor_key.as_deref())? {
            return Err(lineage_refusal(false));
        }
        // Master data edited on the server's own database (with the CLI) goes out too.
        ledger.server_publish_own()?;
        let limit = request.limit.clamp(1, SYNC_BATCH_MAX);
        let (events, cursor, more) = if request.recover {
            ledger.server_events_for_recovery(request.cursor, limit)?
        } else {
            ledger.server_events_after(request.cursor, node, limit)?
        };
        let events: Vec<_> = events.into_iter().map(|(_, e)| e).collect();
        let history = match request.horizon {
            Some(horizon) => ledger.server_history(&events, horizon)?,
            None => Vec::new(),
        };
        let lineage = if request.recover && !more { Some(ledger.server_lineage_for_recovery(node)?) } else { None };
        let cursor_key = ledger.server_event_key_at(cursor)?;
        Ok(Json(PullResponse { versions: Versions::ours(), events, cursor, more, history, lineage, cursor_key }))
    })
    .await
}

async fn snapshot(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<SnapshotResponse>, Refusal> {
    let request: SnapshotRequest = parse(&body)?;
    blocking(state, move |ledger| {
        let node = authenticate(ledger, &headers)?;
        let snapshot = ledger.server_snapshot_for(Some(node), request.since_hlc)?;
        Ok(Json(SnapshotResponse { versions: Versions::ours(), snapshot }))
    })
    .await
}
