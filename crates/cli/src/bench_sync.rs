//! `medledger bench sync`: workstations that worked offline converge through
//! a real server over loopback HTTP; a new workstation starts from a large
//! server's snapshot (in its own process, for its peak memory); and the same
//! movement sets merged as list entries of Automerge documents, the baseline.

use ledger::replication::{self, MovementWire};
use ledger::*;
use rust_decimal::Decimal;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;
use sync::client::Owned;
use uuid::Uuid;

/// What the sync benchmark measured.
#[derive(Debug, Serialize)]
pub struct SyncBenchReport {
    /// Workstations.
    pub workstations: usize,
    /// Movements each made offline.
    pub movements_each: usize,
    /// Seconds from the first push to every workstation holding everything.
    pub converge_seconds: f64,
    /// CPU seconds (user + system, server and workstations: one process) in that time.
    pub converge_cpu_seconds: f64,
    /// Movement applications (server + every workstation) per second in that time.
    pub applied_per_second: f64,
    /// Compressed bytes both ways, per movement that crossed the wire.
    pub wire_bytes_per_movement: f64,
    /// Movements that crossed the wire (pushed + pulled).
    pub movements_on_wire: usize,
    /// Automerge: seconds to merge the same movement sets into every document.
    pub automerge_seconds: Option<f64>,
    /// Automerge seconds / ours (above 1: ours is faster).
    pub ratio_vs_automerge: Option<f64>,
    /// Automerge like for like: each workstation's document syncs with a server
    /// document through Automerge's sync protocol (messages encoded and decoded),
    /// both appending their incremental save to a file and fsyncing it, in the
    /// same order and rounds as ours. Seconds.
    pub automerge_sync_seconds: Option<f64>,
    /// Automerge like-for-like seconds / ours.
    pub ratio_vs_automerge_sync: Option<f64>,
    /// The floor under any durable SQLite ledger of these movements: every
    /// database (the server and each workstation) given the movement rows it
    /// receives, with their cached balances, in plain prepared SQL, in the
    /// same batches of one durable transaction each — no wire, no checks, no
    /// lots, documents or foreign keys. Seconds.
    pub sqlite_floor_seconds: Option<f64>,
    /// Automerge seconds / that floor: the best ratio such a ledger could reach here.
    pub floor_ratio_vs_automerge: Option<f64>,
    /// The server's movements for the bootstrap.
    pub bootstrap_server_movements: Option<usize>,
    /// Balances in that server's snapshot.
    pub bootstrap_balances: Option<usize>,
    /// Seconds for a new workstation (its own process) to enrol and be usable.
    pub bootstrap_seconds: Option<f64>,
    /// That process's peak resident memory, MiB.
    pub bootstrap_peak_mib: Option<f64>,
    /// Seconds to build the bootstrap server (setup, not measured against a target).
    pub bootstrap_setup_seconds: Option<f64>,
}

const ITEMS: usize = 200;

fn site(i: usize) -> String {
    format!("W{:02}", i + 1)
}

fn item_code(i: usize) -> String {
    format!("BENCH-{i:05}")
}

fn catalogue(server: &mut Ledger, items: usize) -> Result<()> {
    for code in ["MAIN", "ICU-STORE"] {
        server.add_location(&NewLocation {
            code: code.into(),
            name: code.into(),
            name_en: code.into(),
            kind: if code == "MAIN" { LocationKind::Storeroom } else { LocationKind::Department },
            department: None,
            min_temp_c: None,
            max_temp_c: None,
        })?;
    }
    server.add_department("ICU", "重症医学科", "ICU", "", None)?;
    server.add_user(&NewUser {
        username: "wang".into(),
        display_name: "wang".into(),
        role: Role::Clerk,
        language: Lang::Zh,
    })?;
    for i in 0..items {
        server.add_item(&NewItem {
            code: item_code(i),
            name: format!("耗材 {i}"),
            unit: "支".into(),
            pack_size: 1,
            unit_price: Some(Decimal::new(250, 2)),
            ..NewItem::default()
        })?;
    }
    Ok(())
}

/// Receipts of `per_doc` lines, then issues of a fifth of what came in.
fn offline_work(ledger: &mut Ledger, prefix: &str, movements: usize, items: usize) -> Result<()> {
    let per_doc = 500usize;
    let receipts = movements * 4 / 5;
    let mut made = 0;
    let mut lot = 0usize;
    while made < receipts {
        let n = per_doc.min(receipts - made);
        let lines = (0..n)
            .map(|k| {
                lot += 1;
                LineRequest {
                    item: item_code((made + k) % items),
                    lot: Some(format!("{prefix}-{lot}")),
                    expiry: chrono::NaiveDate::from_ymd_opt(2028, 1 + (lot % 12) as u32, 1),
                    quantity: 20,
                    ..LineRequest::default()
                }
            })
            .collect();
        ledger.post(&doc(DocumentKind::Receipt, lines))?;
        made += n;
    }
    let mut issued = 0;
    let mut lot = 0usize;
    while made < movements {
        let n = per_doc.min(movements - made);
        let lines = (0..n)
            .map(|k| {
                lot += 1;
                LineRequest {
                    item: item_code((issued + k) % items),
                    lot: Some(format!("{prefix}-{lot}")),
                    quantity: 3,
                    ..LineRequest::default()
                }
            })
            .collect();
        ledger.post(&doc(DocumentKind::Issue, lines))?;
        made += n;
        issued += n;
    }
    Ok(())
}

fn doc(kind: DocumentKind, lines: Vec<LineRequest>) -> DocumentRequest {
    DocumentRequest {
        kind,
        user: "wang".into(),
        location: "MAIN".into(),
        to_location: None,
        department: (kind == DocumentKind::Issue).then(|| "ICU".into()),
        supplier: None,
        lines,
        note: String::new(),
        override_: None,
    }
}

fn fail(e: sync::SyncError) -> LedgerError {
    match e {
        sync::SyncError::Ledger(l) => l,
        other => LedgerError::InvalidInput { field: "sync", reason: other.to_string() },
    }
}

fn fingerprint(ledger: &Ledger) -> Result<String> {
    let conn = ledger.connection();
    let mut stmt =
        conn.prepare("SELECT item_id, lot, location_id, status, quantity FROM balances ORDER BY 1, 2, 3, 4")?;
    let rows: Vec<String> = stmt
        .query_map([], |r| {
            Ok(format!(
                "{:?}{}{:?}{}{}",
                r.get::<_, Vec<u8>>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Vec<u8>>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?
            ))
        })?
        .collect::<std::result::Result<_, _>>()?;
    Ok(rows.join("\n"))
}

/// Runs the benchmark.
pub fn run(
    dir: &Path,
    workstations: usize,
    movements_each: usize,
    bootstrap_movements: usize,
    automerge: bool,
    log: &mut dyn FnMut(String),
) -> Result<SyncBenchReport> {
    let mut server = Ledger::open(&dir.join("server.sqlite"))?;
    server.init("SRV", "bench server")?;
    catalogue(&mut server, ITEMS)?;
    let mut codes = Vec::new();
    for i in 0..workstations {
        codes.push(sync::new_enrolment_code(&mut server, &site(i)).map_err(fail)?);
    }
    let handle = sync::serve(server, "127.0.0.1:0", false).map_err(fail)?;
    let url = format!("http://{}", handle.addr());
    let mut nodes = Vec::new();
    for (i, code) in codes.iter().enumerate() {
        let mut ledger = Ledger::open(&dir.join(format!("{}.sqlite", site(i))))?;
        ledger.init(&site(i), "")?;
        {
            let access = Owned(std::cell::RefCell::new(&mut ledger));
            sync::enrol(&access, &url, code).map_err(fail)?;
            sync::sync_once(&access, &mut |_, _| {}).map_err(fail)?;
        }
        log(format!("{}: making {movements_each} movements offline", site(i)));
        offline_work(&mut ledger, &site(i), movements_each, ITEMS)?;
        nodes.push(ledger);
    }
    let mut sets: Vec<Vec<MovementWire>> = Vec::new();
    for node in &nodes {
        let me = node.node_info()?.id;
        sets.push(
            node.movement_records()?.iter().filter(|m| m.node_id.to_string() == me).map(MovementWire::from).collect(),
        );
    }
    log("syncing to convergence".into());
    let started = Instant::now();
    let cpu_started = self_cpu_seconds();
    let (mut wire, mut crossed) = (0u64, 0usize);
    // Round 1 pushes (and pulls what is there); round 2 pulls the rest.
    for _ in 0..2 {
        for node in nodes.iter_mut() {
            let access = Owned(std::cell::RefCell::new(node));
            let report = sync::sync_once(&access, &mut |_, _| {}).map_err(fail)?;
            wire += report.bytes_sent + report.bytes_received;
            crossed += report.pushed + report.pulled;
        }
    }
    let converge_seconds = started.elapsed().as_secs_f64();
    let converge_cpu_seconds = self_cpu_seconds() - cpu_started;
    let expected = fingerprint(&nodes[0])?;
    for (i, node) in nodes.iter().enumerate().skip(1) {
        if fingerprint(node)? != expected {
            return Err(LedgerError::InvalidInput { field: "bench", reason: format!("{} did not converge", site(i)) });
        }
    }
    let total = workstations * movements_each;
    let applied = total + workstations * (total - movements_each);
    let moved_on_wire = total + workstations * (total - movements_each);
    let mut report = SyncBenchReport {
        workstations,
        movements_each,
        converge_seconds,
        converge_cpu_seconds,
        applied_per_second: applied as f64 / converge_seconds,
        wire_bytes_per_movement: wire as f64 / moved_on_wire as f64,
        movements_on_wire: crossed,
        automerge_seconds: None,
        ratio_vs_automerge: None,
        automerge_sync_seconds: None,
        ratio_vs_automerge_sync: None,
        sqlite_floor_seconds: None,
        floor_ratio_vs_automerge: None,
        bootstrap_server_movements: None,
        bootstrap_balances: None,
        bootstrap_seconds: None,
        bootstrap_peak_mib: None,
        bootstrap_setup_seconds: None,
    };
    log(format!(
        "converged in {:.1} s ({:.1} CPU s): {:.0} applications/s, {:.1} wire bytes per movement",
        report.converge_seconds, report.converge_cpu_seconds, report.applied_per_second, report.wire_bytes_per_movement
    ));
    drop(handle);
    drop(nodes);
    log("the SQLite floor: the same movement rows and balances in plain SQL".into());
    let floor = sqlite_floor(dir, &sets)?;
    report.sqlite_floor_seconds = Some(floor);
    log(format!("plain SQL wrote what every database receives in {floor:.1} s"));
    if automerge {
        log("automerge: the same movement sets as list entries".into());
        let seconds = automerge_merge(&sets)?;
        report.automerge_seconds = Some(seconds);
        report.ratio_vs_automerge = Some(seconds / converge_seconds);
        report.floor_ratio_vs_automerge = Some(seconds / floor);
        log(format!("automerge merged the same sets in {seconds:.1} s"));
        log("automerge: the same sets through its sync protocol, saved durably".into());
        let seconds = automerge_sync(dir, &sets)?;
        report.automerge_sync_seconds = Some(seconds);
        report.ratio_vs_automerge_sync = Some(seconds / converge_seconds);
        log(format!("automerge synced and saved the same sets in {seconds:.1} s"));
    }
    if bootstrap_movements > 0 {
        bootstrap(dir, bootstrap_movements, &mut report, log)?;
    }
    Ok(report)
}

/// The floor under any durable SQLite ledger of these movements (see
/// [`SyncBenchReport::sqlite_floor_seconds`]): fresh ledger databases (the
/// same schema, pragmas and durability as ours, foreign keys off), the server
/// receiving every set and each workstation every set but its own, in
/// batches of [`replication::SYNC_BATCH_MAX`] per transaction; key ids kept
/// in memory, so each movement is one balance write and one movement insert.
fn sqlite_floor(dir: &Path, sets: &[Vec<MovementWire>]) -> Result<f64> {
    use std::collections::HashMap;
    let mut seconds = 0.0;
    for target in 0..=sets.len() {
        // Target 0 is the server; target i receives everything but set i - 1.
        let incoming: Vec<&MovementWire> =
            sets.iter().enumerate().filter(|(i, _)| *i + 1 != target).flat_map(|(_, set)| set.iter()).collect();
        let path = dir.join(format!("floor-{target}.sqlite"));
        let mut ledger = Ledger::open(&path)?;
        ledger.init(&format!("F{target:02}"), "floor")?;
        let conn = ledger.connection();
        conn.execute_batch("PRAGMA foreign_keys = OFF")?;
        let started = Instant::now();
        let mut keys: HashMap<(Uuid, &str, &str, Uuid, &str), i64> = HashMap::new();
        for batch in incoming.chunks(replication::SYNC_BATCH_MAX) {
            let tx = conn.unchecked_transaction()?;
            for m in batch {
                let key = (m.item_id, m.lot.as_str(), m.serial.as_str(), m.location_id, m.status.as_str());
                let key_id = match keys.get(&key) {
                    Some(&id) => {
                        tx.prepare_cached("UPDATE balances SET quantity = quantity + ?2 WHERE key_id = ?1")?
                            .execute(rusqlite::params![id, m.quantity])?;
                        id
                    }
                    None => {
                        tx.prepare_cached(
                            "INSERT INTO balances (item_id, lot, serial, location_id, status, quantity)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        )?
                        .execute(rusqlite::params![
                            m.item_id,
                            m.lot,
                            m.serial,
                            m.location_id,
                            m.status,
                            m.quantity
                        ])?;
                        let id = tx.last_insert_rowid();
                        keys.insert(key, id);
                        id
                    }
                };
                tx.prepare_cached(
                    "INSERT INTO movements (id, hlc, node_id, recorded_at_ms, user_id, kind, item_id, lot, serial,
                        location_id, status, quantity, expected_quantity, unit_cost, department_id, supplier_id,
                        document_id, reason, corrects, override_by, note, key_id)
                     VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21,?22)",
                )?
                .execute(rusqlite::params![
                    m.id,
                    m.hlc,
                    m.node_id,
                    m.recorded_at_ms,
                    m.user_id,
                    m.kind,
                    m.item_id,
                    m.lot,
                    m.serial,
                    m.location_id,
                    m.status,
                    m.quantity,
                    m.expected_quantity,
                    m.unit_cost,
                    m.department_id,
                    m.supplier_id,
                    m.document_id,
                    m.reason,
                    m.corrects,
                    m.override_by,
                    m.note,
                    key_id
                ])?;
            }
            tx.commit()?;
        }
        seconds += started.elapsed().as_secs_f64();
    }
    Ok(seconds)
}

fn automerge_error(e: impl std::fmt::Display) -> LedgerError {
    LedgerError::InvalidInput { field: "automerge", reason: e.to_string() }
}

/// One Automerge document per workstation, forked from a common one that
/// holds an empty list; each appends its movements (maps of their fields).
/// Returns the common document, the list and the workstations' documents.
fn automerge_docs(
    sets: &[Vec<MovementWire>],
) -> Result<(automerge::AutoCommit, automerge::ObjId, Vec<automerge::AutoCommit>)> {
    use automerge::transaction::Transactable;
    use automerge::{AutoCommit, ObjType, ReadDoc, ROOT};
    let err = automerge_error;
    let mut base = AutoCommit::new();
    let list = base.put_object(ROOT, "movements", ObjType::List).map_err(err)?;
    let mut docs = Vec::new();
    for set in sets {
        let mut doc = base.fork();
        for m in set {
            let index = doc.length(&list);
            let map = doc.insert_object(&list, index, ObjType::Map).map_err(err)?;
            doc.put(&map, "id", m.id.to_string()).map_err(err)?;
            doc.put(&map, "hlc", m.hlc).map_err(err)?;
            doc.put(&map, "node", m.node_id.to_string()).map_err(err)?;
            doc.put(&map, "kind", m.kind.as_str()).map_err(err)?;
            doc.put(&map, "item", m.item_id.to_string()).map_err(err)?;
            doc.put(&map, "lot", m.lot.as_str()).map_err(err)?;
            doc.put(&map, "location", m.location_id.to_string()).map_err(err)?;
            doc.put(&map, "status", m.status.as_str()).map_err(err)?;
            doc.put(&map, "quantity", m.quantity).map_err(err)?;
            if let Some(d) = m.document_id {
                doc.put(&map, "document", d.to_string()).map_err(err)?;
            }
        }
        doc.commit();
        docs.push(doc);
    }
    Ok((base, list, docs))
}

/// Automerge in memory: timed, merging until every document holds all movements.
fn automerge_merge(sets: &[Vec<MovementWire>]) -> Result<f64> {
    use automerge::ReadDoc;
    let err = automerge_error;
    let (_, list, mut docs) = automerge_docs(sets)?;
    let started = Instant::now();
    let (first, rest) = docs.split_at_mut(1);
    for other in rest.iter_mut() {
        first[0].merge(other).map_err(err)?;
    }
    for other in rest.iter_mut() {
        other.merge(&mut first[0]).map_err(err)?;
    }
    let seconds = started.elapsed().as_secs_f64();
    let expected: usize = sets.iter().map(Vec::len).sum();
    for doc in &docs {
        if doc.length(&list) != expected {
            return Err(LedgerError::InvalidInput { field: "automerge", reason: "did not converge".into() });
        }
    }
    Ok(seconds)
}

/// Automerge like for like: a server document and the workstations' documents
/// (each file starting from its document's full save); timed: in two rounds,
/// each workstation in turn syncs with the server through the sync protocol
/// (every message encoded and decoded, as it would cross a wire) until neither
/// has more to send, then both append their incremental save to their file
/// and fsync it, as our server and workstation commit what they applied.
fn automerge_sync(dir: &Path, sets: &[Vec<MovementWire>]) -> Result<f64> {
    use automerge::sync::{Message, State, SyncDoc};
    use automerge::ReadDoc;
    use std::io::Write;
    let (mut server, list, mut docs) = automerge_docs(sets)?;
    let open = |name: String, doc: &mut automerge::AutoCommit| -> Result<std::fs::File> {
        let mut file = std::fs::File::create(dir.join(name))?;
        file.write_all(&doc.save())?;
        file.sync_all()?;
        Ok(file)
    };
    let mut server_file = open("automerge-server.bin".into(), &mut server)?;
    let mut files = Vec::new();
    for (i, doc) in docs.iter_mut().enumerate() {
        files.push(open(format!("automerge-{i}.bin"), doc)?);
    }
    let mut server_states: Vec<State> = docs.iter().map(|_| State::new()).collect();
    let mut states: Vec<State> = docs.iter().map(|_| State::new()).collect();
    let append = |file: &mut std::fs::File, doc: &mut automerge::AutoCommit| -> Result<()> {
        file.write_all(&doc.save_incremental())?;
        file.sync_all()?;
        Ok(())
    };
    let started = Instant::now();
    for _ in 0..2 {
        for (i, doc) in docs.iter_mut().enumerate() {
            loop {
                let mut moved = false;
                if let Some(message) = doc.sync().generate_sync_message(&mut states[i]) {
                    let message = Message::decode(&message.encode()).map_err(automerge_error)?;
                    server.sync().receive_sync_message(&mut server_states[i], message).map_err(automerge_error)?;
                    moved = true;
                }
                if let Some(message) = server.sync().generate_sync_message(&mut server_states[i]) {
                    let message = Message::decode(&message.encode()).map_err(automerge_error)?;
                    doc.sync().receive_sync_message(&mut states[i], message).map_err(automerge_error)?;
                    moved = true;
                }
                if !moved {
                    break;
                }
            }
            append(&mut server_file, &mut server)?;
            append(&mut files[i], doc)?;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let expected: usize = sets.iter().map(Vec::len).sum();
    if docs.iter().chain(std::iter::once(&server)).any(|doc| doc.length(&list) != expected) {
        return Err(automerge_error("did not converge through the sync protocol"));
    }
    Ok(seconds)
}

/// A server holding `movements` movements; a new workstation (its own
/// `medledger` process) enrols and syncs: time to usable, peak memory.
fn bootstrap(dir: &Path, movements: usize, report: &mut SyncBenchReport, log: &mut dyn FnMut(String)) -> Result<()> {
    let setup = Instant::now();
    let path = dir.join("big-server.sqlite");
    let mut server = Ledger::open(&path)?;
    server.init("SRV", "bench server")?;
    let items = 1_000;
    catalogue(&mut server, items)?;
    let per_doc = 1_000;
    let mut made = 0;
    while made < movements {
        let n = per_doc.min(movements - made);
        // 100 lots per item: 100,000 balance keys for a million movements.
        let lines = (0..n)
            .map(|k| {
                let i = made + k;
                LineRequest {
                    item: item_code(i % items),
                    lot: Some(format!("L{}", (i / items) % 100)),
                    expiry: chrono::NaiveDate::from_ymd_opt(2028, 1 + ((i / items) % 100 % 12) as u32, 1),
                    quantity: 5,
                    ..LineRequest::default()
                }
            })
            .collect();
        server.post(&doc(DocumentKind::Receipt, lines))?;
        made += n;
        if made % 100_000 == 0 {
            log(format!("bootstrap server: {made} movements"));
        }
    }
    server.server_publish_own()?;
    let code = sync::new_enrolment_code(&mut server, "NEW").map_err(fail)?;
    report.bootstrap_setup_seconds = Some(setup.elapsed().as_secs_f64());
    let handle = sync::serve(server, "127.0.0.1:0", false).map_err(fail)?;
    let url = format!("http://{}", handle.addr());
    let db: PathBuf = dir.join("new.sqlite");
    let exe = std::env::current_exe()?;
    let init = Command::new(&exe).arg("--db").arg(&db).args(["init", "--site", "NEW"]).output()?;
    if !init.status.success() {
        return Err(LedgerError::InvalidInput { field: "bench", reason: "init failed".into() });
    }
    log(format!("bootstrap: a new workstation enrols with a server of {movements} movements"));
    let started = Instant::now();
    let child = Command::new(&exe)
        .arg("--db")
        .arg(&db)
        .args(["--json", "sync", "--server", &url, "--enrol", &code])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    let (out, peak_kib) = wait_with_peak(child)?;
    let seconds = started.elapsed().as_secs_f64();
    if !out.status.success() {
        return Err(LedgerError::InvalidInput {
            field: "bench",
            reason: format!("bootstrap failed: {}", String::from_utf8_lossy(&out.stderr)),
        });
    }
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    report.bootstrap_server_movements = Some(movements);
    report.bootstrap_balances = answer["snapshot_balances"].as_u64().map(|b| b as usize);
    report.bootstrap_seconds = Some(seconds);
    report.bootstrap_peak_mib = peak_kib.map(|kib| kib as f64 / 1024.0);
    drop(handle);
    // Usable: the new node's stock equals the server's.
    let new = Ledger::open(&db)?;
    let server = Ledger::open(&path)?;
    if fingerprint(&new)? != fingerprint(&server)? {
        return Err(LedgerError::InvalidInput { field: "bench", reason: "the new workstation's stock differs".into() });
    }
    Ok(())
}

/// CPU time this process has used (every thread), seconds.
fn self_cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes into the struct we pass.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return 0.0;
    }
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// Waits for a child, reading its own peak resident set (`VmHWM` in
/// /proc/PID/status, Linux) every few milliseconds while it runs; KiB.
/// (getrusage's maxrss for children is no good here: exec hands the child the
/// high-water mark of the memory it was spawned from — this benchmark's.)
fn wait_with_peak(mut child: std::process::Child) -> Result<(std::process::Output, Option<u64>)> {
    use std::io::Read;
    let status_path = format!("/proc/{}/status", child.id());
    let (mut stdout, mut stderr) = (child.stdout.take(), child.stderr.take());
    // Drained on threads, so a full pipe never stalls the child.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let out_thread = drain(stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let err_thread = drain(stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let mut peak: Option<u64> = None;
    let status = loop {
        if let Ok(text) = std::fs::read_to_string(&status_path) {
            let hwm = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
            if let Some(hwm) = hwm {
                peak = Some(peak.map_or(hwm, |p| p.max(hwm)));
            }
        }
        if let Some(status) = child.try_wait()? {
            break status;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    let stdout = out_thread.join().unwrap_or_default();
    let stderr = err_thread.join().unwrap_or_default();
    Ok((std::process::Output { status, stdout, stderr }, peak))
}
