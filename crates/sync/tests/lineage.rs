//! A workstation whose ledger went back — restored from last night's backup,
//! or its database copied onto a second computer — over real HTTP against a
//! real server: it gets back what it had already sent and ends like the
//! server; a server whose own database went back is refused before anything
//! moves either way (ledger::lineage).

use ledger::*;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use sync::SyncError;

const SYRINGE: &str = "09506000134352";
const GAUZE: &str = "06901234567892";

struct Hospital {
    dir: tempfile::TempDir,
    server_db: PathBuf,
    server: Option<sync::ServerHandle>,
}

impl Hospital {
    fn new() -> Hospital {
        let dir = tempfile::tempdir().unwrap();
        let server_db = dir.path().join("server.sqlite");
        let mut server = Ledger::open(&server_db).unwrap();
        server.init("SRV", "").unwrap();
        let handle = sync::serve(server, "127.0.0.1:0", false).unwrap();
        Hospital { dir, server_db, server: Some(handle) }
    }

    fn url(&self) -> String {
        self.server.as_ref().unwrap().url()
    }

    /// A new workstation for `site`, enrolled, with the storeroom and the syringe.
    fn workstation(&self, site: &str) -> (PathBuf, Ledger) {
        let code = {
            let mut server = Ledger::open(&self.server_db).unwrap();
            sync::new_enrolment_code(&mut server, site).unwrap()
        };
        let path = self.dir.path().join(format!("{site}.sqlite"));
        let mut ledger = Ledger::open(&path).unwrap();
        ledger.init(site, "").unwrap();
        let access = Mutex::new(ledger);
        sync::enrol(&access, &self.url(), &code).unwrap();
        let mut ledger = access.into_inner().unwrap();
        ledger
            .add_location(&NewLocation {
                code: "MAIN".into(),
                name: "中心库".into(),
                name_en: "Main".into(),
                kind: LocationKind::Storeroom,
                department: None,
                min_temp_c: None,
                max_temp_c: None,
            })
            .unwrap();
        ledger
            .add_item(&NewItem { code: SYRINGE.into(), name: "注射器".into(), pack_size: 1, ..NewItem::default() })
            .unwrap();
        (path, ledger)
    }

    /// The server's database as a copy (the nightly backup).
    fn back_up_server(&self) -> PathBuf {
        let to = self.dir.path().join("server-backup.sqlite");
        rusqlite::Connection::open(&self.server_db).unwrap().execute("VACUUM INTO ?1", [to.to_str().unwrap()]).unwrap();
        to
    }

    /// Stops the server, puts `backup` in place of its database and starts it again.
    fn restore_server(&mut self, backup: &Path) {
        self.server.take().unwrap().stop();
        put_back(backup, &self.server_db);
        let server = Ledger::open(&self.server_db).unwrap();
        self.server = Some(sync::serve(server, "127.0.0.1:0", false).unwrap());
    }

    /// A workstation for `site` started afresh: the old one revoked, a new database enrolled.
    fn start_afresh(&self, site: &str) -> Ledger {
        let code = {
            let mut server = Ledger::open(&self.server_db).unwrap();
            server.server_revoke(site).unwrap();
            sync::new_enrolment_code(&mut server, site).unwrap()
        };
        let path = self.dir.path().join(format!("{site}-afresh.sqlite"));
        let mut ledger = Ledger::open(&path).unwrap();
        ledger.init(site, "").unwrap();
        let access = Mutex::new(ledger);
        sync::enrol(&access, &self.url(), &code).unwrap();
        let (ledger, report) = sync(access.into_inner().unwrap());
        assert!(report.unwrap().snapshot_balances.is_some());
        ledger
    }

    /// What the server holds: every movement id, every balance and every document number.
    fn server_state(&self) -> State {
        state(&rusqlite::Connection::open(&self.server_db).unwrap())
    }
}

impl Drop for Hospital {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop();
        }
    }
}

type State = (Vec<String>, Vec<String>, Vec<String>);

fn state(conn: &rusqlite::Connection) -> State {
    let column = |sql: &str| -> Vec<String> {
        let mut stmt = conn.prepare(sql).unwrap();
        let rows = stmt.query_map([], |r| r.get(0)).unwrap();
        rows.collect::<rusqlite::Result<_>>().unwrap()
    };
    (
        column("SELECT lower(hex(id)) FROM movements ORDER BY 1"),
        column(
            "SELECT lower(hex(item_id)) || ' ' || lot || ' ' || lower(hex(location_id)) || ' ' || status || ' ' || quantity
             FROM balances WHERE quantity <> 0 ORDER BY 1",
        ),
        column("SELECT lower(hex(id)) || ' ' || coalesce(number, '') FROM documents ORDER BY 1"),
    )
}

fn copy_of(ledger: &Ledger, to: &Path) {
    let _ = std::fs::remove_file(to);
    ledger.connection().execute("VACUUM INTO ?1", [to.to_str().unwrap()]).unwrap();
}

/// The nightly copy of workstation S01's database.
fn nightly_copy(h: &Hospital, ws: &Ledger) -> PathBuf {
    let backup = h.dir.path().join("S01-backup.sqlite");
    copy_of(ws, &backup);
    backup
}

/// The workstation's disk dies: it closes, and IT puts `backup` in place of its database.
fn put_back_copy(ws: Ledger, backup: &Path, path: &Path) {
    drop(ws);
    put_back(backup, path);
}

/// Units on hand over every balance.
fn on_hand(ledger: &Ledger) -> i64 {
    ledger.connection().query_row("SELECT sum(quantity) FROM balances", [], |r| r.get(0)).unwrap()
}

/// Replaces the database at `path` (closed) with the copy at `from`.
fn put_back(from: &Path, path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    std::fs::copy(from, path).unwrap();
}

fn receive(ledger: &mut Ledger, lot: &str, quantity: i64) -> String {
    post(ledger, DocumentKind::Receipt, lot, quantity)
}

fn receive_item(ledger: &mut Ledger, item: &str, lot: &str, quantity: i64) -> String {
    post_item(ledger, DocumentKind::Receipt, item, lot, quantity)
}

fn post(ledger: &mut Ledger, kind: DocumentKind, lot: &str, quantity: i64) -> String {
    post_item(ledger, kind, SYRINGE, lot, quantity)
}

fn post_item(ledger: &mut Ledger, kind: DocumentKind, item: &str, lot: &str, quantity: i64) -> String {
    ledger.post(&request(kind, item, lot, quantity)).unwrap().number
}

fn request(kind: DocumentKind, item: &str, lot: &str, quantity: i64) -> DocumentRequest {
    DocumentRequest {
        kind,
        user: INITIAL_ADMIN.into(),
        location: "MAIN".into(),
        to_location: None,
        department: None,
        supplier: None,
        lines: vec![LineRequest {
            item: item.into(),
            lot: Some(lot.into()),
            expiry: Some("2028-06-30".parse().unwrap()),
            quantity,
            ..LineRequest::default()
        }],
        note: String::new(),
        override_: None,
    }
}

fn sync(ledger: Ledger) -> (Ledger, Result<sync::SyncReport, SyncError>) {
    let access = Mutex::new(ledger);
    let outcome = sync::sync_once(&access, &mut |_, _| {});
    (access.into_inner().unwrap(), outcome)
}

#[test]
fn a_workstation_restored_from_last_nights_backup_gets_back_what_it_had_sent() {
    let h = Hospital::new();
    let (path, mut ws) = h.workstation("S01");
    receive(&mut ws, "L1", 100);
    let (ws, report) = sync(ws);
    assert_eq!(report.unwrap().own_events_back, 0, "a new link finds nothing of its own on the server");
    let backup = nightly_copy(&h, &ws);
    // The day goes on. Another workstation adds a product; this one pulls it and receives it,
    // with receipts and issues of its own, all pushed as usual.
    let (_, mut other) = h.workstation("S02");
    other.add_item(&NewItem { code: GAUZE.into(), name: "纱布".into(), pack_size: 1, ..NewItem::default() }).unwrap();
    let (_other, _) = sync(other);
    let (mut ws, _) = sync(ws);
    receive(&mut ws, "L2", 40);
    post(&mut ws, DocumentKind::Receipt, "L1", 5);
    receive_item(&mut ws, GAUZE, "G1", 12);
    let (ws, report) = sync(ws);
    assert!(report.unwrap().pushed > 0);
    let before = h.server_state();
    // The disk dies; IT puts last night's copy back.
    put_back_copy(ws, &backup, &path);
    let ws = Ledger::open(&path).unwrap();
    assert_ne!(state(ws.connection()), before, "the copy lacks the day's work");
    let (ws, report) = sync(ws);
    let report = report.unwrap();
    // Its three receipts came back, after the product they refer to (in the server's order).
    assert_eq!(report.own_events_back, 3, "{report:?}");
    assert!(report.conflicts.is_empty(), "{:?}", report.conflicts);
    assert_eq!(state(ws.connection()), before, "the workstation holds what the server holds");
    assert_eq!(h.server_state(), before, "the server took nothing twice");
    assert!(ledger::balance::verify(ws.connection()).unwrap().is_empty());
    // Its number series continues after the documents that came back.
    let mut ws = ws;
    assert_eq!(receive(&mut ws, "L3", 1), "RK-S01-000005");
    // In line again: the next rounds fetch nothing back.
    let (ws, report) = sync(ws);
    assert_eq!(report.unwrap().own_events_back, 0);
    let (ws, report) = sync(ws);
    assert_eq!(report.unwrap().own_events_back, 0);
    assert_eq!(state(ws.connection()), h.server_state());
}

#[test]
fn work_done_on_a_restored_workstation_before_it_synced_is_kept_and_its_numbers_listed() {
    let h = Hospital::new();
    let (path, ws) = h.workstation("S01");
    let (ws, _) = sync(ws);
    let backup = nightly_copy(&h, &ws);
    let mut ws = ws;
    let lost = receive(&mut ws, "L1", 30);
    let (ws, _) = sync(ws);
    put_back_copy(ws, &backup, &path);
    // Restored, and a clerk receives before the network is back: the copy gives the same number again.
    let mut ws = Ledger::open(&path).unwrap();
    assert_eq!(receive(&mut ws, "L9", 7), lost);
    let (ws, report) = sync(ws);
    let report = report.unwrap();
    assert!(report.own_events_back > 0 && report.pushed > 0, "{report:?}");
    // Both receipts count everywhere; the repeated number is listed for review.
    assert_eq!(state(ws.connection()), h.server_state());
    let on_hand = on_hand(&ws);
    assert_eq!(on_hand, 37);
    // The receipt that came back keeps its number everywhere; the one posted here since,
    // never sent, takes the next one (listed for review: its slip shows the old number).
    let number = |conn: &rusqlite::Connection, lot: &str| -> String {
        conn.query_row(
            "SELECT d.number FROM documents d JOIN movements m ON m.document_id = d.id WHERE m.lot = ?1",
            [lot],
            |r| r.get(0),
        )
        .unwrap()
    };
    let server = rusqlite::Connection::open(&h.server_db).unwrap();
    assert_eq!((number(ws.connection(), "L1"), number(ws.connection(), "L9")), (lost.clone(), "RK-S01-000002".into()));
    assert_eq!((number(&server, "L1"), number(&server, "L9")), (lost, "RK-S01-000002".into()));
    assert_eq!(
        report.conflicts.iter().map(|c| c.kind.as_str()).collect::<Vec<_>>(),
        ["document_number"],
        "{:?}",
        report.conflicts
    );
    let server_conflicts: i64 = server.query_row("SELECT count(*) FROM sync_conflicts", [], |r| r.get(0)).unwrap();
    assert_eq!(server_conflicts, 0, "the server saw no clash");
}

#[test]
fn a_database_copied_onto_a_second_computer_is_caught_and_both_end_like_the_server() {
    let h = Hospital::new();
    let (path, ws) = h.workstation("S01");
    let (ws, _) = sync(ws);
    // Someone copies the workstation's database onto a second computer.
    let copy = h.dir.path().join("copy.sqlite");
    copy_of(&ws, &copy);
    let mut a = ws;
    let mut b = Ledger::open(&copy).unwrap();
    receive(&mut a, "A1", 10);
    receive(&mut b, "B1", 20);
    let (a, report) = sync(a);
    assert_eq!(report.unwrap().own_events_back, 0);
    // The copy presents a lineage the server has moved past: it gets back what the other sent.
    let (b, report) = sync(b);
    let report = report.unwrap();
    assert!(report.own_events_back > 0, "{report:?}");
    // Both had given RK-S01-000001: the copy's receipt, never sent, takes the next number.
    assert_eq!(report.conflicts.len(), 1, "{:?}", report.conflicts);
    assert_eq!(report.conflicts[0].incoming, r#"{"renumbered_to":"RK-S01-000002"}"#);
    let (a, report) = sync(a);
    let report = report.unwrap();
    assert!(report.own_events_back > 0, "the first computer is now behind the copy");
    assert!(report.conflicts.is_empty(), "{:?}", report.conflicts);
    let server = h.server_state();
    assert_eq!(state(a.connection()), server);
    assert_eq!(state(b.connection()), server);
    drop((a, b, path));
}

#[test]
fn a_server_restored_from_an_older_backup_is_refused_and_nothing_moves() {
    let mut h = Hospital::new();
    let (_, mut ws) = h.workstation("S01");
    receive(&mut ws, "L1", 100);
    let (ws, _) = sync(ws);
    let backup = h.back_up_server();
    let mut ws = ws;
    receive(&mut ws, "L2", 40);
    let (ws, _) = sync(ws);
    // The server's disk dies; IT restores an older copy of its database.
    h.restore_server(&backup);
    let url = h.url();
    ws.connection().execute("UPDATE sync_state SET server_url = ?1", [&url]).unwrap();
    let mut ws = ws;
    receive(&mut ws, "L3", 1);
    let held = state(ws.connection());
    let server = h.server_state();
    let (ws, outcome) = sync(ws);
    let e = outcome.unwrap_err();
    assert_eq!(e.code(), "server_behind", "{e}");
    assert!(e.message(Lang::Zh).contains("信息科"), "{}", e.message(Lang::Zh));
    assert!(e.message(Lang::En).contains("restore the server's newest backup"), "{}", e.message(Lang::En));
    assert_eq!(state(ws.connection()), held, "nothing was received");
    assert_eq!(h.server_state(), server, "nothing was applied");
    assert!(ws.pending_push_count().unwrap() > 0, "the new receipt still waits to be sent");
    // No newer copy of the server exists: the workstation sends everything again.
    let mut ws = ws;
    ws.resend_everything().unwrap();
    let (ws, report) = sync(ws);
    let report = report.unwrap();
    assert!(report.conflicts.is_empty(), "{:?}", report.conflicts);
    assert_eq!(state(ws.connection()), h.server_state(), "the server holds again all this workstation made");
    let on_hand = on_hand(&ws);
    assert_eq!(on_hand, 141);
    let (_, report) = sync(ws);
    assert_eq!((report.as_ref().unwrap().pushed, report.as_ref().unwrap().own_events_back), (0, 0));
}

#[test]
fn a_copy_taken_before_the_first_sync_starts_from_the_snapshot_without_counting_twice() {
    let h = Hospital::new();
    let (path, ws) = h.workstation("S01");
    // The copy: enrolled, nothing synced yet.
    let backup = nightly_copy(&h, &ws);
    let mut ws = ws;
    receive(&mut ws, "L1", 100);
    let (mut ws, _) = sync(ws);
    post(&mut ws, DocumentKind::Receipt, "L1", 5);
    let (ws, _) = sync(ws);
    put_back_copy(ws, &backup, &path);
    let (ws, report) = sync(Ledger::open(&path).unwrap());
    let report = report.unwrap();
    assert!(report.snapshot_balances.is_some(), "it holds no movements: it starts from the snapshot ({report:?})");
    assert_eq!(report.own_events_back, 0, "its past is in the snapshot's balances, not added again");
    assert_eq!(state(ws.connection()).1, h.server_state().1, "the same balances as the server");
    let on_hand = on_hand(&ws);
    assert_eq!(on_hand, 105);
    assert!(ledger::balance::verify(ws.connection()).unwrap().is_empty());
    // The snapshot carried its own documents: its number series goes on, not over.
    let mut ws = ws;
    assert_eq!(receive(&mut ws, "L2", 1), "RK-S01-000003");
    let (ws, report) = sync(ws);
    assert!(report.unwrap().conflicts.is_empty());
    assert_eq!(state(ws.connection()).2, h.server_state().2);
}

#[test]
fn a_draft_posted_after_the_copy_comes_back_posted_and_cannot_be_posted_twice() {
    let h = Hospital::new();
    let (path, mut ws) = h.workstation("S01");
    let draft = ws.save_draft(&request(DocumentKind::Receipt, SYRINGE, "D1", 60)).unwrap();
    let (ws, _) = sync(ws);
    let backup = nightly_copy(&h, &ws);
    let mut ws = ws;
    let posted = ws.post_draft(&draft, INITIAL_ADMIN, None).unwrap();
    let (ws, _) = sync(ws);
    put_back_copy(ws, &backup, &path);
    let (mut ws, report) = sync(Ledger::open(&path).unwrap());
    let report = report.unwrap();
    assert!(report.conflicts.is_empty(), "{:?}", report.conflicts);
    assert_eq!(state(ws.connection()), h.server_state());
    let (status, number): (String, String) = ws
        .connection()
        .query_row("SELECT status, number FROM documents WHERE lower(hex(id)) = ?1", [draft.replace('-', "")], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!((status.as_str(), number.as_str()), ("posted", posted.number.as_str()));
    assert!(ws.post_draft(&draft, INITIAL_ADMIN, None).is_err(), "the receipt is in once");
    assert_eq!(receive(&mut ws, "L2", 1), "RK-S01-000002");
}

#[test]
fn a_stocktake_posted_after_the_copy_comes_back_posted_under_its_number_and_is_closed() {
    let h = Hospital::new();
    let (path, mut ws) = h.workstation("S01");
    receive(&mut ws, "L1", 100);
    let (mut ws, _) = sync(ws);
    let started = ws
        .start_stocktake(&StocktakeRequest {
            user: INITIAL_ADMIN.into(),
            locations: vec!["MAIN".into()],
            ..StocktakeRequest::default()
        })
        .unwrap();
    ws.record_count(
        &started.id,
        &CountEntry {
            user: INITIAL_ADMIN.into(),
            item: SYRINGE.into(),
            lot: Some("L1".into()),
            quantity: Some(95),
            ..CountEntry::default()
        },
    )
    .unwrap();
    let backup = nightly_copy(&h, &ws);
    let request = PostStocktakeRequest { user: INITIAL_ADMIN.into(), close_scope: false, accept_over_tolerance: true };
    ws.post_stocktake(&started.number, &request).unwrap();
    let (ws, _) = sync(ws);
    put_back_copy(ws, &backup, &path);
    let (mut ws, report) = sync(Ledger::open(&path).unwrap());
    let report = report.unwrap();
    assert!(report.conflicts.is_empty(), "{:?}", report.conflicts);
    assert_eq!(state(ws.connection()), h.server_state(), "its number kept, as on the server");
    let view = ws.stocktake(&started.number, INITIAL_ADMIN).unwrap();
    assert_eq!(view.status, StocktakeStatus::Posted);
    assert!(ws.post_stocktake(&started.number, &request).is_err(), "the counts are in once");
    let on_hand = on_hand(&ws);
    assert_eq!(on_hand, 95);
}

#[test]
fn a_workstation_in_line_that_pushes_to_a_server_gone_back_is_told_so_not_malformed() {
    let mut h = Hospital::new();
    let (_, mut maker) = h.workstation("S01");
    let (_, mut user) = h.workstation("S02");
    receive(&mut maker, "M1", 1);
    let (maker, _) = sync(maker);
    receive(&mut user, "U1", 1);
    let (user, _) = sync(user);
    let backup = h.back_up_server();
    // After the copy: a new product made elsewhere, which this workstation pulls and then issues.
    let mut maker = maker;
    maker.add_item(&NewItem { code: GAUZE.into(), name: "纱布".into(), pack_size: 1, ..NewItem::default() }).unwrap();
    receive_item(&mut maker, GAUZE, "G1", 10);
    let (_maker, _) = sync(maker);
    let (user, _) = sync(user);
    h.restore_server(&backup);
    user.connection().execute("UPDATE sync_state SET server_url = ?1", [&h.url()]).unwrap();
    let mut user = user;
    receive_item(&mut user, GAUZE, "G1", 3);
    let server = h.server_state();
    let (_, outcome) = sync(user);
    let e = outcome.unwrap_err();
    assert_eq!(e.code(), "server_behind", "{e}");
    assert_eq!(h.server_state(), server, "nothing applied");
}

#[test]
fn a_server_log_that_went_back_and_grew_again_is_caught_by_the_key_at_the_cursor() {
    let mut h = Hospital::new();
    let (_, reader) = h.workstation("S01");
    let (_, mut writer) = h.workstation("S02");
    let (_, mut third) = h.workstation("S03");
    // The reader starts from a snapshot (nothing posted before its first sync) and receives once.
    let (mut reader, _) = sync(reader);
    assert!(reader.sync_horizon().unwrap().is_some());
    receive(&mut reader, "R1", 4);
    let (reader, _) = sync(reader);
    receive(&mut third, "T1", 5);
    let (third, _) = sync(third);
    receive(&mut writer, "A1", 10);
    let (writer, _) = sync(writer);
    let backup = h.back_up_server();
    // After the copy: the writer sends more, the reader pulls it all (it only pulls).
    let mut writer = writer;
    for lot in ["B1", "B2", "B3"] {
        receive(&mut writer, lot, 1);
    }
    let (writer, _) = sync(writer);
    let (reader, _) = sync(reader);
    h.restore_server(&backup);
    let url = h.url();
    for ws in [&reader, &writer, &third] {
        ws.connection().execute("UPDATE sync_state SET server_url = ?1", [&url]).unwrap();
    }
    // The third workstation, in line with the old copy, sends new work; the writer, refused,
    // sends everything again: the log grows past the reader's cursor, other events there.
    let mut third = third;
    receive(&mut third, "T2", 7);
    let (third, report) = sync(third);
    report.unwrap();
    let (mut writer, outcome) = sync(writer);
    assert_eq!(outcome.unwrap_err().code(), "server_behind");
    // It posted before its first sync, so it holds the whole history: it pulls it all again.
    assert_eq!(writer.resend_everything().unwrap(), ledger::lineage::Resending::ThenPullAll);
    let (writer, report) = sync(writer);
    report.unwrap();
    let head: i64 = rusqlite::Connection::open(&h.server_db)
        .unwrap()
        .query_row("SELECT max(seq) FROM sync_events", [], |r| r.get(0))
        .unwrap();
    assert!(head >= reader.sync_link().unwrap().unwrap().pull_cursor, "the log grew past the reader's cursor");
    let held = state(reader.connection());
    let (mut reader, outcome) = sync(reader);
    assert_eq!(outcome.unwrap_err().code(), "server_behind", "its cursor names another event now");
    assert_eq!(state(reader.connection()), held, "nothing was received");
    // Started from a snapshot: it sends its records again, then must start afresh.
    assert_eq!(reader.resend_everything().unwrap(), ledger::lineage::Resending::ThenStartAfresh);
    let (reader, outcome) = sync(reader);
    let e = outcome.unwrap_err();
    assert_eq!(e.code(), "start_afresh", "{e}");
    assert!(e.message(Lang::En).contains("enrols with a new database file"));
    drop(reader);
    let mut reader = h.start_afresh("S01");
    assert_eq!(receive(&mut reader, "C1", 2), "RK-S01-000002", "its site's number series goes on");
    let (reader, _) = sync(reader);
    let (writer, _) = sync(writer);
    let (third, _) = sync(third);
    let balances = h.server_state().1;
    for ws in [&reader, &writer, &third] {
        assert_eq!(state(ws.connection()).1, balances);
    }
    let on_hand = on_hand(&third);
    assert_eq!(on_hand, 4 + 5 + 10 + 3 + 7 + 2, "nothing lost, nothing twice");
}

#[test]
fn a_workstation_holding_the_whole_history_sends_everything_again_and_goes_on() {
    let mut h = Hospital::new();
    let (path, mut ws) = h.workstation("S01");
    // It posts before its first sync: it holds the whole history (no snapshot).
    receive(&mut ws, "L1", 100);
    let (ws, _) = sync(ws);
    assert_eq!(ws.sync_horizon().unwrap(), None);
    let backup = h.back_up_server();
    let mut ws = ws;
    receive(&mut ws, "L2", 40);
    let (ws, _) = sync(ws);
    h.restore_server(&backup);
    ws.connection().execute("UPDATE sync_state SET server_url = ?1", [&h.url()]).unwrap();
    let (mut ws, outcome) = sync(ws);
    assert_eq!(outcome.unwrap_err().code(), "server_behind");
    assert_eq!(ws.resend_everything().unwrap(), ledger::lineage::Resending::ThenPullAll);
    let (ws, report) = sync(ws);
    report.unwrap();
    assert_eq!(state(ws.connection()), h.server_state(), "the server holds again all this workstation made");
    let (ws, report) = sync(ws);
    assert_eq!(report.unwrap().pushed, 0, "in line again");
    drop((ws, path));
}
