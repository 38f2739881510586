//! `medledger server`, `enrol`, `sync` and `node`: the hospital server and a
//! workstation's link to it (the wire is in the `sync` crate).

use crate::{print_json, Failure};
use clap::Subcommand;
use ledger::{Lang, Ledger};
use serde::Serialize;
use std::io::Write;
use std::path::Path;
use sync::client::LedgerAccess;

/// Enrolled workstations, on the server's database.
#[derive(Subcommand)]
pub enum NodeCommand {
    /// List enrolled workstations.
    List,
    /// Refuse a workstation from now on (by site code or node id).
    Revoke {
        /// Site code or node id.
        node: String,
    },
}

pub(crate) fn failed(e: sync::SyncError, lang: Lang) -> Failure {
    use sync::SyncError as E;
    // What the person typing can fix: the address, the files, the trust — exit 2.
    let user_error = matches!(
        e,
        E::BadUrl(_)
            | E::InsecureUrl(_)
            | E::InsecureListen(_)
            | E::NotEnrolled
            | E::TlsFile { .. }
            | E::CertificateUntrusted(_)
            | E::CertificateWrongHost { .. }
            | E::CertificateExpired(_)
            | E::NotHttps(_)
    ) || matches!(&e, E::Refused { code, .. } if matches!(code.as_str(), "bad_enrolment_code" | "site_mismatch" | "site_taken" | "https_required"))
        || matches!(&e, sync::SyncError::Ledger(l) if l.is_user_error());
    Failure { user_error, message: format!("[{}] {}", e.code(), e.message(lang)) }
}

fn ensure_initialised(ledger: &mut Ledger, site: &str, lang: Lang) -> Result<(), Failure> {
    if ledger.node_info().is_err() {
        ledger.init(site, "MedLedger server").map_err(|e| crate::fail(e, lang))?;
    }
    Ok(())
}

/// `server --tls-cert C --tls-key K`: the certificate and key, checked (clap
/// makes sure both or neither are given).
pub fn server_tls(cert: Option<&Path>, key: Option<&Path>, lang: Lang) -> Result<Option<sync::ServerTls>, Failure> {
    match (cert, key) {
        (Some(cert), Some(key)) => sync::ServerTls::from_pem_files(cert, key).map(Some).map_err(|e| failed(e, lang)),
        _ => Ok(None),
    }
}

/// `server --listen ADDR [--tls-cert C --tls-key K]`: runs until Ctrl+C or SIGTERM.
pub fn run_server(
    mut ledger: Ledger,
    listen: &str,
    site: &str,
    tls: Option<sync::ServerTls>,
    lang: Lang,
) -> Result<(), Failure> {
    ensure_initialised(&mut ledger, site, lang)?;
    let handle = sync::serve_with(ledger, listen, tls, true).map_err(|e| failed(e, lang))?;
    // The bound address on its own line: scripts and tests read it (port 0 picks one).
    println!("listening on {}", handle.url());
    let _ = std::io::stdout().flush();
    handle.wait();
    Ok(())
}

/// `enrol --site S02`: a one-time code for a workstation.
pub fn run_enrol(ledger: &mut Ledger, site: &str, json: bool, lang: Lang) -> Result<(), Failure> {
    ensure_initialised(ledger, "SRV", lang)?;
    let code = sync::new_enrolment_code(ledger, site).map_err(|e| failed(e, lang))?;
    if json {
        print_json(&serde_json::json!({ "code": code, "site": site }))?;
    } else {
        println!("{code}");
        let _ = writeln!(
            std::io::stderr(),
            "{}",
            if lang == Lang::Zh {
                format!("站点 {site} 的一次性注册码，24 小时内有效。")
            } else {
                format!("one-time enrolment code for site {site}, valid for 24 hours")
            }
        );
    }
    Ok(())
}

#[derive(Serialize)]
struct SyncJson<'a> {
    pushed: usize,
    pulled: usize,
    conflicts: &'a [ledger::replication::ConflictView],
    exceptions: &'a [ledger::replication::NegativeException],
    /// Set when this round started a new workstation from the server's snapshot.
    #[serde(skip_serializing_if = "Option::is_none")]
    snapshot_balances: Option<usize>,
    /// This workstation's own events that came back from the server: its
    /// ledger had gone back (restored from a backup, or a copied database).
    own_events_back: usize,
}

/// `sync [--server URL] [--enrol CODE] [--ca ca.pem]`. With `--ca` the CA is
/// kept with the link: given with `--enrol`, for the new link; alone, it
/// replaces the CA of the link there is (the hospital renewed its CA).
pub fn run_sync(
    ledger: &mut Ledger,
    server: Option<&str>,
    enrol: Option<&str>,
    ca: Option<&Path>,
    resend: bool,
    json: bool,
    lang: Lang,
) -> Result<(), Failure> {
    let ca_pem = ca.map(sync::read_ca_file).transpose().map_err(|e| failed(e, lang))?;
    let link = ledger.sync_link().map_err(|e| crate::fail(e, lang))?;
    let access = sync::client::Owned(std::cell::RefCell::new(ledger));
    match (enrol, server, &link) {
        (Some(code), Some(url), _) => {
            sync::enrol_trusting(&access, url, code, ca_pem.as_deref()).map_err(|e| failed(e, lang))?
        }
        (Some(_), None, _) => return Err(Failure::input("--enrol needs --server URL")),
        (None, Some(url), Some(link)) if link.server_url != url => {
            return Err(Failure::input(format!(
                "this workstation syncs with {}; to move it to {url}, enrol there with --enrol CODE",
                link.server_url
            )))
        }
        (None, _, None) => return Err(failed(sync::SyncError::NotEnrolled, lang)),
        (None, _, Some(_)) => {
            if let Some(ca_pem) = &ca_pem {
                access.with(|l| l.set_sync_ca(Some(ca_pem))).map_err(|e| crate::fail(e, lang))?;
            }
        }
    }
    let mut progress = |_: &'static str, _: usize| {};
    let mut outcome = sync::sync_once(&access, &mut progress);
    // `--resend` only where the server says its database went back: elsewhere a plain round.
    if resend && matches!(&outcome, Err(e) if e.code() == "server_behind") {
        access.with(|l| l.resend_everything()).map_err(|e| crate::fail(e, lang))?;
        outcome = sync::sync_once(&access, &mut progress);
    }
    let report = outcome.map_err(|e| failed(e, lang))?;
    if json {
        print_json(&SyncJson {
            pushed: report.pushed,
            pulled: report.pulled,
            conflicts: &report.conflicts,
            exceptions: &report.exceptions,
            snapshot_balances: report.snapshot_balances,
            own_events_back: report.own_events_back,
        })?;
    } else {
        if let Some(balances) = report.snapshot_balances {
            println!("started from the server's snapshot: {balances} balances");
        }
        if report.own_events_back > 0 {
            println!(
                "this workstation's ledger had gone back (restored from a backup, or a copy of its database): \
                 {} of its own events came back from the server",
                report.own_events_back
            );
        }
        println!(
            "pushed {}, pulled {}, conflicts {}, negative keys {}",
            report.pushed,
            report.pulled,
            report.conflicts.len(),
            report.exceptions.len()
        );
        for c in &report.conflicts {
            println!("  conflict {} {}", c.kind, c.key);
        }
        for x in &report.exceptions {
            println!("  below zero: {} lot {} at {} ({}): {}", x.item, x.lot, x.location, x.status, x.quantity);
        }
    }
    Ok(())
}

/// `sync --review`: what a manager must look at, from this ledger alone.
pub fn run_review(ledger: &Ledger, json: bool, lang: Lang) -> Result<(), Failure> {
    let f = |e| crate::fail(e, lang);
    let exceptions = ledger.negative_exceptions().map_err(f)?;
    let conflicts = ledger.sync_conflicts().map_err(f)?;
    let safety = ledger.concurrent_safety_edits().map_err(f)?;
    let duplicates = ledger.duplicate_codes().map_err(f)?;
    let corrections = ledger.double_corrections().map_err(f)?;
    let future = ledger.future_movements().map_err(f)?;
    let ambiguous = ledger.ambiguous_counts().map_err(f)?;
    if json {
        return print_json(&serde_json::json!({
            "exceptions": exceptions,
            "conflicts": conflicts,
            "concurrent_safety_edits": safety,
            "duplicate_codes": duplicates,
            "double_corrections": corrections,
            "future_movements": future,
            "ambiguous_counts": ambiguous,
        }));
    }
    println!(
        "below zero {}, conflicts {}, safety fields edited at once {}, duplicate codes {}, double corrections {}, far-future movements {}, ambiguous counts {}",
        exceptions.len(),
        conflicts.len(),
        safety.len(),
        duplicates.len(),
        corrections.len(),
        future.len(),
        ambiguous.len()
    );
    for x in &exceptions {
        println!("  below zero: {} lot {} at {} ({}): {}", x.item, x.lot, x.location, x.status, x.quantity);
    }
    for c in &conflicts {
        println!("  conflict {} {}", c.kind, c.key);
    }
    for s in &safety {
        println!("  {} {} {}: {} values written at once", s.entity, s.code, s.field, s.values.len());
    }
    for (entity, code, holders) in &duplicates {
        println!("  {entity} code {code} held by {}", holders.join(", "));
    }
    for (movement, by) in &corrections {
        println!("  movement {movement} corrected {} times", by.len());
    }
    for (id, node, ms, kind, quantity) in &future {
        println!("  {kind} {quantity} ({id}) from {node} stamped {}", ledger::query::rfc3339(*ms));
    }
    for c in &ambiguous {
        println!(
            "  ambiguous count: {} lot {} at {} ({}) counted {} at {} ({}); now {}",
            c.item,
            c.lot,
            c.location,
            c.status,
            c.counted,
            ledger::query::rfc3339(c.counted_at_ms),
            c.document_number.as_deref().unwrap_or("-"),
            c.balance
        );
        for m in &c.movements {
            println!(
                "    {} {} from {} {:+} s — recount the shelf to settle it",
                m.kind,
                m.quantity,
                m.node,
                m.offset_ms / 1000
            );
        }
    }
    Ok(())
}

/// `node list|revoke` on the server's database.
pub fn run_node(ledger: &mut Ledger, command: &NodeCommand, json: bool, lang: Lang) -> Result<(), Failure> {
    let f = |e| crate::fail(e, lang);
    match command {
        NodeCommand::List => {
            let nodes = ledger.server_nodes().map_err(f)?;
            if json {
                print_json(&nodes)?;
            } else {
                for n in nodes {
                    let state = if n.revoked_ms.is_some() { "revoked" } else { "active" };
                    println!("{} {} {state}", n.site_code, n.node_id);
                }
            }
        }
        NodeCommand::Revoke { node } => {
            let revoked = ledger.server_revoke(node).map_err(f)?;
            if revoked == 0 {
                return Err(Failure::input(format!("no active workstation {node}")));
            }
            if json {
                print_json(&serde_json::json!({ "revoked": revoked }))?;
            } else {
                println!("revoked {revoked}");
            }
        }
    }
    Ok(())
}
