//! The workstation's side: enrol once with a code, then sync — push this
//! node's events in bounded batches (idempotent: a batch whose answer was lost
//! is simply sent again), then pull other nodes' events page by page, each
//! page applied together with its cursor in one transaction.
//!
//! The ledger is reached through [`LedgerAccess`], so the desktop app can
//! hold its ledger lock only while reading or applying a batch, never while
//! the network is slow.

use crate::protocol::*;
use crate::SyncError;
use ledger::replication::{ConflictView, NegativeException, SYNC_BATCH_MAX};
use ledger::Ledger;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// How long one request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// The largest snapshot a new workstation accepts, decompressed.
pub const SNAPSHOT_MAX_BYTES: usize = 1 << 30;
/// How long connecting may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Short access to the ledger.
pub trait LedgerAccess {
    /// Runs `f` with the ledger.
    fn with<R>(&self, f: impl FnOnce(&mut Ledger) -> R) -> R;
}

impl LedgerAccess for Mutex<Ledger> {
    fn with<R>(&self, f: impl FnOnce(&mut Ledger) -> R) -> R {
        let mut guard = self.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut guard)
    }
}

/// A ledger owned by the caller (the CLI).
pub struct Owned<'a>(pub std::cell::RefCell<&'a mut Ledger>);

impl LedgerAccess for Owned<'_> {
    fn with<R>(&self, f: impl FnOnce(&mut Ledger) -> R) -> R {
        f(&mut self.0.borrow_mut())
    }
}

/// What one sync round did.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SyncReport {
    /// Events pushed (new at the server or not).
    pub pushed: usize,
    /// Events pulled and applied.
    pub pulled: usize,
    /// Conflicts found in this round (either side).
    pub conflicts: Vec<ConflictView>,
    /// Keys below zero after the merge.
    pub exceptions: Vec<NegativeException>,
    /// Compressed bytes sent to the server.
    #[serde(default)]
    pub bytes_sent: u64,
    /// Compressed bytes received from the server.
    #[serde(default)]
    pub bytes_received: u64,
    /// Balances a new workstation started from, when it did in this round.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_balances: Option<usize>,
    /// This workstation's own events that came back from the server because
    /// its ledger had gone back (restored from a backup, or a copied database).
    #[serde(default)]
    pub own_events_back: usize,
}

/// Progress of a long sync: (phase, events so far).
pub type Progress<'a> = &'a mut dyn FnMut(&'static str, usize);

struct Http {
    client: reqwest::blocking::Client,
    base: reqwest::Url,
    token: Option<String>,
    /// Compressed bytes sent and received (bodies, as on the wire).
    /// (Atomic: the pull pages are fetched on a second thread.)
    sent: AtomicU64,
    received: AtomicU64,
}

/// Checks the server address: https anywhere, plain http only to this computer.
pub fn check_url(url: &str) -> Result<reqwest::Url, SyncError> {
    let parsed = reqwest::Url::parse(url).map_err(|_| SyncError::BadUrl(url.to_string()))?;
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" => {
            let loopback = match parsed.host() {
                Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                None => false,
            };
            if loopback {
                Ok(parsed)
            } else {
                Err(SyncError::InsecureUrl(url.to_string()))
            }
        }
        _ => Err(SyncError::BadUrl(url.to_string())),
    }
}

impl Http {
    /// A client for `url`. Over https it trusts `ca_pem`'s certificates only
    /// (a hospital's own CA), or without one the operating system's roots
    /// (reqwest's rustls-platform-verifier: the Windows or macOS trust store, on
    /// Linux the system's CA bundle), where IT installs the CAs it trusts.
    fn new(url: &str, token: Option<String>, ca_pem: Option<&str>) -> Result<Http, SyncError> {
        let base = check_url(url)?;
        // rustls with ring: no C toolchain beyond cc, no aws-lc build.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::blocking::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            // Decompressed here, so the bytes on the wire can be counted.
            .gzip(false);
        if base.scheme() == "http" {
            // Loopback in the clear: no roots to load (a machine without a CA bundle syncs too).
            builder = builder.tls_certs_only(Vec::new());
        } else if let Some(ca_pem) = ca_pem {
            builder = builder.tls_certs_only(crate::tls::ca_certificates(ca_pem)?);
        }
        let client = builder.build().map_err(|e| SyncError::Unreachable(short(&e)))?;
        Ok(Http { client, base, token, sent: Default::default(), received: Default::default() })
    }

    /// A failed request in the user's terms: a TLS refusal says what to fix.
    fn failed(&self, e: &reqwest::Error) -> SyncError {
        match crate::tls::tls_error(e) {
            Some(tls) => crate::tls::handshake_error(tls, self.base.as_str().trim_end_matches('/')),
            None => SyncError::Unreachable(short(e)),
        }
    }

    fn post<Q: Serialize, A: DeserializeOwned>(&self, path: &str, body: &Q) -> Result<A, SyncError> {
        self.post_capped(path, body, BODY_MAX_BYTES)
    }

    /// `post` whose answer may reach `cap` bytes once decompressed (a snapshot is larger than a batch).
    fn post_capped<Q: Serialize, A: DeserializeOwned>(&self, path: &str, body: &Q, cap: usize) -> Result<A, SyncError> {
        let url = self.base.join(path).map_err(|_| SyncError::BadUrl(self.base.to_string()))?;
        let json = serde_json::to_vec(body).map_err(|e| SyncError::BadAnswer(e.to_string()))?;
        let mut gz = flate2::write::GzEncoder::new(Vec::with_capacity(json.len() / 4), flate2::Compression::fast());
        gz.write_all(&json).map_err(|e| SyncError::BadAnswer(e.to_string()))?;
        let compressed = gz.finish().map_err(|e| SyncError::BadAnswer(e.to_string()))?;
        let request = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::CONTENT_ENCODING, "gzip")
            .header(reqwest::header::ACCEPT_ENCODING, "gzip");
        self.sent.fetch_add(compressed.len() as u64, Ordering::Relaxed);
        let mut request = request.body(compressed);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request.send().map_err(|e| self.failed(&e))?;
        let status = response.status();
        let gzipped = response
            .headers()
            .get(reqwest::header::CONTENT_ENCODING)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
        let raw = response.bytes().map_err(|e| self.failed(&e))?;
        self.received.fetch_add(raw.len() as u64, Ordering::Relaxed);
        let bytes = if gzipped {
            let mut out = Vec::with_capacity(raw.len() * 4);
            std::io::Read::read_to_end(
                &mut std::io::Read::take(flate2::read::GzDecoder::new(&raw[..]), cap as u64 + 1),
                &mut out,
            )
            .map_err(|e| SyncError::BadAnswer(format!("gzip: {e}")))?;
            if out.len() > cap {
                return Err(SyncError::BadAnswer(format!("an answer over {cap} bytes")));
            }
            out
        } else {
            raw.to_vec()
        };
        if !status.is_success() {
            return Err(match serde_json::from_slice::<ErrorBody>(&bytes) {
                Ok(body) => SyncError::Refused { code: body.code, message: body.message },
                Err(_) => SyncError::BadAnswer(format!("HTTP {status}")),
            });
        }
        // The versions first (a small look at the top level), then the typed body in one pass.
        let versions: VersionsOnly = serde_json::from_slice(&bytes).map_err(|e| SyncError::BadAnswer(e.to_string()))?;
        let ours = Versions::ours();
        let (protocol, schema) = (versions.protocol, versions.schema);
        if protocol != Some(u64::from(ours.protocol)) || schema != Some(ours.schema) {
            return Err(SyncError::Refused {
                code: "incompatible_version".into(),
                message: format!(
                    "this workstation speaks protocol {} with wire schema {}, the server {} with {}: upgrade the older side",
                    ours.protocol,
                    ours.schema,
                    protocol.map_or("?".into(), |p| p.to_string()),
                    schema.map_or("?".into(), |s| s.to_string())
                ),
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| SyncError::BadAnswer(e.to_string()))
    }
}

/// The versions of any answer, the rest skipped.
#[derive(Deserialize)]
struct VersionsOnly {
    protocol: Option<u64>,
    schema: Option<i64>,
}

fn short(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    text
}

/// Enrols this workstation with a one-time code; stores the server and token
/// (an https server's certificate is checked against the system's roots).
pub fn enrol(ledger: &impl LedgerAccess, url: &str, code: &str) -> Result<(), SyncError> {
    enrol_trusting(ledger, url, code, None)
}

/// Enrols this workstation with a one-time code, trusting only the CA
/// certificates in `ca_pem` (see [`crate::read_ca_file`]) for an https server —
/// or, with `None`, the system's roots. The CA is stored with the link, so every
/// later sync (the CLI's or the desktop app's) checks the server the same way.
pub fn enrol_trusting(
    ledger: &impl LedgerAccess,
    url: &str,
    code: &str,
    ca_pem: Option<&str>,
) -> Result<(), SyncError> {
    let (node_id, site_code) = ledger.with(|l| l.node_info()).map(|n| (n.id, n.site_code))?;
    let node_id = node_id.parse().map_err(|_| SyncError::BadAnswer("node id".into()))?;
    let http = Http::new(url, None, ca_pem)?;
    let answer: EnrolResponse = http.post(
        "v1/enrol",
        &EnrolRequest { versions: Versions::ours(), code: code.trim().to_string(), node_id, site_code },
    )?;
    ledger.with(|l| l.set_sync_link_trusting(url, answer.server_node_id, &answer.token, ca_pem))?;
    Ok(())
}

/// One sync round: push everything pending, then pull everything new.
pub fn sync_once(ledger: &impl LedgerAccess, progress: Progress<'_>) -> Result<SyncReport, SyncError> {
    let outcome = run(ledger, progress);
    let note = outcome.as_ref().err().map(|e| e.to_string());
    let _ = ledger.with(|l| l.note_sync_outcome(note.as_deref()));
    outcome
}

fn run(ledger: &impl LedgerAccess, progress: Progress<'_>) -> Result<SyncReport, SyncError> {
    let link = ledger.with(|l| l.sync_link())?.ok_or(SyncError::NotEnrolled)?;
    let http = Http::new(&link.server_url, Some(link.token.clone()), link.server_ca_pem.as_deref())?;
    let mut report = SyncReport::default();
    let resending = ledger.with(|l| l.resending())?;
    // A new workstation starts from a snapshot rather than the whole history.
    if resending.is_none() && ledger.with(|l| l.is_fresh())? {
        let since_hlc = ledger.with(|l| l.current_hlc().0);
        progress("snapshot", 0);
        let answer: SnapshotResponse = http.post_capped(
            "v1/snapshot",
            &SnapshotRequest { versions: Versions::ours(), since_hlc },
            SNAPSHOT_MAX_BYTES,
        )?;
        ledger.with(|l| l.bootstrap(&answer.snapshot))?;
        report.snapshot_balances = Some(answer.snapshot.balances.len());
        progress("snapshot", answer.snapshot.balances.len());
    }
    // A new link (or one from before lineages): first what the server holds from this node.
    let mut fetched_back = false;
    if resending.is_none() && ledger.with(|l| l.lineage())?.is_none() {
        recover(ledger, &http, &mut report, progress)?;
        fetched_back = true;
    }
    loop {
        let outbox = ledger.with(|l| l.outbox(SYNC_BATCH_MAX))?;
        if outbox.events.is_empty() {
            if outbox.only_raises_mark() {
                ledger.with(|l| l.mark_pushed(&outbox))?;
            }
            break;
        }
        // Chosen after the batch was read: a copy of the database holding this value holds the batch.
        let lineage = ledger.with(|l| l.push_lineage())?;
        let at = pull_start(ledger)?;
        let request = PushRequest {
            versions: Versions::ours(),
            events: outbox.events.clone(),
            lineage: lineage.clone(),
            resend: resending.is_some(),
            cursor: at.cursor,
            cursor_key: at.cursor_key,
        };
        let answer: PushResponse = match http.post("v1/push", &request) {
            // This ledger went back: recover what it had sent, then push what is still new.
            Err(e) if is_behind(&e) && !fetched_back => {
                recover(ledger, &http, &mut report, progress)?;
                fetched_back = true;
                continue;
            }
            answer => answer?,
        };
        report.pushed += outbox.events.len();
        report.conflicts.extend(answer.conflicts);
        ledger.with(|l| l.mark_pushed_in_line(&outbox, lineage.as_ref()))?;
        progress("push", report.pushed);
        if !outbox.more {
            break;
        }
    }
    match resending {
        // Everything is on the server again; a workstation holding the whole history pulls it
        // all again, one started from a snapshot must start afresh.
        Some(ledger::lineage::Resending::ThenPullAll) => ledger.with(|l| l.resent())?,
        Some(ledger::lineage::Resending::ThenStartAfresh) => return Err(SyncError::StartAfresh),
        None => {}
    }
    match pull(ledger, &http, &mut report, progress) {
        // Nothing was pushed to find it out: the pull did.
        Err(e) if is_behind(&e) && !fetched_back => {
            recover(ledger, &http, &mut report, progress)?;
            pull(ledger, &http, &mut report, progress)?;
        }
        pulled => pulled?,
    }
    report.exceptions = ledger.with(|l| l.negative_exceptions())?;
    report.bytes_sent = http.sent.load(Ordering::Relaxed);
    report.bytes_received = http.received.load(Ordering::Relaxed);
    Ok(report)
}

fn is_behind(e: &SyncError) -> bool {
    matches!(e, SyncError::Refused { code, .. } if code == "workstation_behind")
}

/// Where a pull starts, and what it presents.
struct PullStart {
    lineage: Option<ledger::lineage::Lineage>,
    horizon: Option<i64>,
    cursor: i64,
    cursor_key: Option<String>,
}

impl PullStart {
    /// The request for the page after the cursor (`recover`: with this node's own events).
    fn request(&self, recover: bool) -> PullRequest {
        PullRequest {
            versions: Versions::ours(),
            cursor: self.cursor,
            limit: SYNC_BATCH_MAX,
            horizon: self.horizon,
            lineage: self.lineage.clone(),
            recover,
            cursor_key: self.cursor_key.clone(),
        }
    }
}

fn pull_start(ledger: &impl LedgerAccess) -> Result<PullStart, SyncError> {
    let link = ledger.with(|l| l.sync_link())?;
    Ok(PullStart {
        lineage: ledger.with(|l| l.lineage())?,
        horizon: ledger.with(|l| l.sync_horizon())?,
        cursor: link.as_ref().map_or(0, |s| s.pull_cursor),
        cursor_key: link.and_then(|s| s.pull_cursor_key),
    })
}

/// Recovers a node whose ledger went back (or whose link is new): pulls from
/// its cursor with its own events included, in the server's order — what it
/// had sent since its copy was made comes back after what that refers to —
/// then takes the lineage value the server gives with the last page.
fn recover(
    ledger: &impl LedgerAccess,
    http: &Http,
    report: &mut SyncReport,
    progress: Progress<'_>,
) -> Result<(), SyncError> {
    let mut start = pull_start(ledger)?;
    loop {
        let answer: PullResponse = http.post("v1/pull", &start.request(true))?;
        let (applied, back) = ledger.with(|l| {
            l.apply_recovered_page(&answer.events, &answer.history, answer.cursor, answer.cursor_key.as_deref())
        })?;
        report.own_events_back += back;
        report.pulled += answer.events.len();
        report.conflicts.extend(applied.conflicts);
        progress("pull", report.pulled);
        (start.cursor, start.cursor_key) = (answer.cursor, answer.cursor_key);
        if !answer.more {
            let value = answer.lineage.ok_or_else(|| SyncError::BadAnswer("a recovery without a lineage".into()))?;
            let renumbered = ledger.with(|l| l.finish_recovery(value))?;
            report.conflicts.extend(renumbered);
            return Ok(());
        }
    }
}

/// Pulls page after page. The next page is fetched (the server reads it, the
/// wire carries it, it is parsed) on a second thread while this one applies
/// the last: each page is still applied whole, in order, with its cursor, and
/// nothing is applied after a failure. At most two pages wait in memory.
fn pull(
    ledger: &impl LedgerAccess,
    http: &Http,
    report: &mut SyncReport,
    progress: Progress<'_>,
) -> Result<(), SyncError> {
    let mut start = pull_start(ledger)?;
    let (pages, arriving) = std::sync::mpsc::sync_channel::<Result<PullResponse, SyncError>>(1);
    std::thread::scope(|scope| {
        scope.spawn(move || {
            loop {
                let answer: Result<PullResponse, SyncError> = http.post("v1/pull", &start.request(false));
                let next = answer.as_ref().ok().filter(|a| a.more).map(|a| (a.cursor, a.cursor_key.clone()));
                // The applying side hung up (it failed): stop fetching.
                if pages.send(answer).is_err() {
                    return;
                }
                match next {
                    Some(reached) => (start.cursor, start.cursor_key) = reached,
                    None => return,
                }
            }
        });
        for answer in arriving {
            let answer = answer?;
            let applied = ledger.with(|l| {
                l.apply_page_at(&answer.events, &answer.history, answer.cursor, answer.cursor_key.as_deref())
            })?;
            report.pulled += answer.events.len();
            report.conflicts.extend(applied.conflicts);
            progress("pull", report.pulled);
        }
        Ok(())
    })
}

/// The status area's facts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncStatus {
    /// Server URL, if enrolled.
    pub server_url: Option<String>,
    /// Last success (wall ms).
    pub last_success_ms: Option<i64>,
    /// Last error, in words.
    pub last_error: Option<String>,
    /// Own events not yet on the server.
    pub pending: i64,
}

/// Reads the status area's facts.
pub fn status(ledger: &Ledger) -> Result<SyncStatus, SyncError> {
    let link = ledger.sync_link()?;
    Ok(SyncStatus {
        server_url: link.as_ref().map(|l| l.server_url.clone()),
        last_success_ms: link.as_ref().and_then(|l| l.last_success_ms),
        last_error: link.and_then(|l| l.last_error),
        pending: ledger.pending_push_count()?,
    })
}
