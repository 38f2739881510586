//! The file itself: immutability enforced by SQLite triggers, durable pragmas,
//! forward-only migrations that refuse a newer database, and a persisted HLC.

mod common;
use common::*;
use ledger::*;

#[test]
fn update_and_delete_of_a_movement_are_aborted_by_the_database() {
    let mut h = hospital();
    receive(&mut h, SYRINGE, "L1", "2027-06-30", 10);
    let conn = h.ledger.connection();
    for sql in ["UPDATE movements SET quantity = 1000", "DELETE FROM movements", "UPDATE movements SET note = 'x'"] {
        let error = conn.execute(sql, []).unwrap_err().to_string();
        assert!(error.contains("movements are immutable"), "{sql}: {error}");
    }
    let quantity: i64 = conn.query_row("SELECT quantity FROM movements", [], |r| r.get(0)).unwrap();
    assert_eq!(quantity, 10);
}

#[test]
fn posted_documents_and_their_lines_are_frozen() {
    let mut h = hospital();
    receive(&mut h, SYRINGE, "L1", "2027-06-30", 10);
    let conn = h.ledger.connection();
    for sql in [
        "UPDATE documents SET note = 'changed'",
        "DELETE FROM documents",
        "UPDATE document_lines SET quantity = 1",
        "DELETE FROM document_lines",
    ] {
        assert!(conn.execute(sql, []).is_err(), "{sql} must be refused");
    }
}

#[test]
fn a_posted_number_changes_only_on_an_enrolled_workstation_for_a_document_it_never_sent() {
    let mut h = hospital();
    receive(&mut h, SYRINGE, "L1", "2027-06-30", 10);
    let renumber = "UPDATE documents SET number = 'RK-S01-000009'";
    // Not enrolled (or the server itself): a posted number is final.
    assert!(h.ledger.connection().execute(renumber, []).is_err());
    h.ledger.set_sync_link("https://sync.hospital:8443", uuid::Uuid::from_u128(7), "token").unwrap();
    let conn = h.ledger.connection();
    // Sent (posted at or below the push mark): final.
    conn.execute_batch("UPDATE sync_state SET pushed_hlc = (SELECT posted_hlc FROM documents)").unwrap();
    assert!(conn.execute(renumber, []).is_err(), "a sent document keeps its number");
    // Never sent: only the number may change (a restored workstation renumbering a clash).
    conn.execute_batch("UPDATE sync_state SET pushed_hlc = 0").unwrap();
    for sql in [
        "UPDATE documents SET number = 'RK-S01-000009', note = 'x'",
        "UPDATE documents SET number = NULL",
        "UPDATE documents SET posted_hlc = posted_hlc + 1",
    ] {
        assert!(conn.execute(sql, []).is_err(), "{sql} must be refused");
    }
    conn.execute(renumber, []).unwrap();
    let number: String = conn.query_row("SELECT number FROM documents", [], |r| r.get(0)).unwrap();
    assert_eq!(number, "RK-S01-000009");
}

#[test]
fn the_file_is_wal_with_foreign_keys_and_full_sync() {
    let h = hospital();
    let conn = h.ledger.connection();
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    let fk: i64 = conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0)).unwrap();
    let sync: i64 = conn.query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap();
    assert_eq!((mode.as_str(), fk, sync), ("wal", 1, 2));
}

#[test]
fn the_stock_list_reads_every_commit_and_a_closed_ledger_leaves_no_write_ahead_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite");
    let mut ledger = Ledger::open(&path).unwrap();
    ledger.init("S01", "test").unwrap();
    ledger
        .add_location(&NewLocation {
            code: "MAIN".into(),
            name: "MAIN".into(),
            name_en: "MAIN".into(),
            kind: LocationKind::Storeroom,
            department: None,
            min_temp_c: None,
            max_temp_c: None,
        })
        .unwrap();
    ledger.add_item(&NewItem { code: "X1".into(), name: "x".into(), pack_size: 1, ..NewItem::default() }).unwrap();
    let receipt = |quantity: i64| DocumentRequest {
        kind: DocumentKind::Receipt,
        user: "admin".into(),
        location: "MAIN".into(),
        to_location: None,
        department: None,
        supplier: None,
        lines: vec![LineRequest { item: "X1".into(), lot: Some("L1".into()), quantity, ..LineRequest::default() }],
        note: String::new(),
        override_: None,
    };
    // The list reads through its own connection: each commit shows at once.
    for (quantity, total) in [(3, 3), (4, 7)] {
        ledger.post(&receipt(quantity)).unwrap();
        let stock = ledger.stock(&StockFilter::default()).unwrap();
        assert_eq!(stock.iter().map(|r| r.quantity).sum::<i64>(), total);
    }
    drop(ledger);
    // The reader closed before the writer, which checkpointed and removed the WAL.
    assert!(!dir.path().join("ledger.sqlite-wal").exists(), "a WAL file was left behind");
    let reopened = Ledger::open(&path).unwrap();
    assert_eq!(reopened.stock(&StockFilter::default()).unwrap()[0].quantity, 7);
}

#[test]
fn a_database_from_a_newer_version_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.sqlite");
    drop(Ledger::open(&path).unwrap());
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(&format!("PRAGMA user_version = {}", SCHEMA_VERSION + 1)).unwrap();
    }
    let error = Ledger::open(&path).err().expect("refused");
    assert_eq!(error.code(), "database_too_new");
    assert!(error.message(Lang::En).contains("Upgrade MedLedger"));
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(version, SCHEMA_VERSION + 1);
}

#[test]
fn reopening_keeps_data_identity_and_never_reuses_a_timestamp() {
    let mut h = hospital();
    receive(&mut h, SYRINGE, "L1", "2027-06-30", 10);
    let first = h.ledger.movement_records().unwrap()[0].hlc;
    let node = h.ledger.node_info().unwrap();
    let path = h.dir.path().join("ledger.sqlite");
    drop(h.ledger);
    // The PC clock is now an hour behind: the HLC must still move forward.
    let clock = h.clock.clone();
    clock.advance_ms(-3_600_000);
    let mut ledger = Ledger::open_with(&path, Box::new(clock), Box::new(RandomIds::seeded(99))).unwrap();
    assert_eq!(ledger.node_info().unwrap().id, node.id);
    assert_eq!(ledger.init("S02", "").unwrap_err().code(), "already_initialised");
    ledger.post(&request(DocumentKind::Issue, "wang", "MAIN", vec![line(SYRINGE, None, None, 1)])).unwrap();
    let records = ledger.movement_records().unwrap();
    assert!(records[1].hlc > first, "{} must be after {}", records[1].hlc, first);
    assert_eq!(on_hand(&ledger, SYRINGE, Some("L1"), "MAIN"), 9);
}

#[test]
fn an_uninitialised_database_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = Ledger::open(&dir.path().join("new.sqlite")).unwrap();
    let error = ledger.post(&request(DocumentKind::Receipt, "admin", "MAIN", vec![])).unwrap_err();
    assert_eq!(error.code(), "not_initialised");
    assert_eq!(ledger.init("s 01", "").unwrap_err().code(), "invalid_input");
    assert_eq!(ledger.init("TOOLONGSITE", "").unwrap_err().code(), "invalid_input");
    assert_eq!(ledger.init("S01", "").unwrap().site_code, "S01");
}

#[test]
fn every_error_has_a_message_in_both_languages() {
    let errors = [
        LedgerError::NotInitialised,
        LedgerError::DatabaseTooNew { found: 9, supported: 1 },
        LedgerError::LotExpired { lot: "L42".into(), expired_on: date("2026-03-31") },
        LedgerError::InsufficientStock { item: "X".into(), location: "MAIN".into(), available: 1, requested: 2 },
        LedgerError::MovementConflict("id".into()),
        LedgerError::StocktakeNeedsRecount { number: "PD-S01-000001".into(), keys: 2 },
        LedgerError::ImportLine { line: 7, error: Box::new(LedgerError::UnknownItem("X".into())) },
        LedgerError::StocktakeClosed { number: "PD-S01-000001".into(), status: "review" },
    ];
    for e in &errors {
        let zh = e.message(Lang::Zh);
        let en = e.message(Lang::En);
        assert_ne!(zh, en);
        assert!(zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)), "{zh}");
    }
    assert_eq!(
        errors[2].message(Lang::En),
        "Lot L42 expired on 2026-03-31 — it cannot be issued. Scrap it or return it to the supplier."
    );
}

#[test]
fn the_background_checkpointer_keeps_the_wal_short_without_blocking_posts() {
    let mut h = hospital();
    let checkpointer = h.ledger.start_checkpointer().unwrap();
    // Each post writes about a dozen WAL pages: 200 posts pass the threshold.
    for n in 0..200 {
        receive(&mut h, SYRINGE, &format!("C{n}"), "2027-06-30", 1);
    }
    let pending = |h: &Hospital| -> i64 {
        h.ledger
            .connection()
            .query_row("PRAGMA wal_checkpoint(NOOP)", [], |r| Ok(r.get::<_, i64>(1)? - r.get::<_, i64>(2)?))
            .unwrap()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while pending(&h) >= CHECKPOINT_PAGES && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(pending(&h) < CHECKPOINT_PAGES, "the WAL was not checkpointed: {} pages pending", pending(&h));
    drop(checkpointer);
    receive(&mut h, SYRINGE, "after", "2027-06-30", 1);
    assert!(ledger::balance::verify(h.ledger.connection()).unwrap().is_empty());
}

/// Inserts a posted document row with a given number, as another copy of this
/// node's history would hold it (numbers are dense in real use; the gaps below
/// 999,999 here do not matter: only the newest width is searched).
fn insert_numbered_document(ledger: &Ledger, kind: &str, number: &str) {
    ledger
        .connection()
        .execute(
            "INSERT INTO documents (id, kind, number, status, node_id, created_by, created_at_ms)
             SELECT randomblob(16), ?1, ?2, 'posted', (SELECT id FROM node), (SELECT id FROM users LIMIT 1), 0",
            [kind, number],
        )
        .unwrap();
}

#[test]
fn document_numbers_count_per_kind_from_one() {
    let mut h = hospital();
    assert_eq!(receive(&mut h, SYRINGE, "L1", "2027-06-30", 10).number, "RK-S01-000001");
    assert_eq!(receive(&mut h, SYRINGE, "L1", "2027-06-30", 10).number, "RK-S01-000002");
    let issue =
        h.ledger.post(&request(DocumentKind::Issue, "wang", "MAIN", vec![line(SYRINGE, None, None, 1)])).unwrap();
    assert_eq!(issue.number, "CK-S01-000001");
    assert_eq!(receive(&mut h, SYRINGE, "L1", "2027-06-30", 10).number, "RK-S01-000003");
}

#[test]
fn document_numbers_grow_a_digit_after_999999() {
    let mut h = hospital();
    insert_numbered_document(&h.ledger, "receipt", "RK-S01-999998");
    insert_numbered_document(&h.ledger, "receipt", "RK-S01-999999");
    assert_eq!(receive(&mut h, SYRINGE, "L1", "2027-06-30", 10).number, "RK-S01-1000000");
    // "RK-S01-999999" still sorts last; the newest is found in the wider counter.
    for n in 1_000_001..=1_000_012 {
        insert_numbered_document(&h.ledger, "receipt", &format!("RK-S01-{n}"));
    }
    assert_eq!(receive(&mut h, SYRINGE, "L1", "2027-06-30", 10).number, "RK-S01-1000013");
    // Other series are untouched.
    let issue =
        h.ledger.post(&request(DocumentKind::Issue, "wang", "MAIN", vec![line(SYRINGE, None, None, 1)])).unwrap();
    assert_eq!(issue.number, "CK-S01-000001");
}

#[test]
fn a_version_1_file_is_upgraded_and_its_number_series_continue() {
    let mut h = hospital();
    for _ in 0..3 {
        receive(&mut h, SYRINGE, "L1", "2027-06-30", 10);
    }
    let path = h.dir.path().join("ledger.sqlite");
    drop(h.ledger);
    // Turn the file back into what version 1 wrote: without the tables later
    // versions add, with the counter rows that version 2 no longer keeps.
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "DROP TABLE sync_lineages; DROP TABLE history_movements; DROP TABLE balance_openings;
             DROP TABLE sync_enrolments; DROP TABLE sync_nodes; DROP TABLE sync_events; DROP TABLE sync_conflicts;
             DROP TABLE sync_state; DROP TABLE master_fields; DROP TABLE master_changes;
             DROP TABLE port_roles;
             DROP TABLE temperature_confirmations; DROP TABLE excursion_movements; DROP TABLE excursions;
             DROP TABLE temperature_readings; DROP TABLE sensors; DROP TABLE cold_units;
             DROP TABLE print_jobs; DROP TABLE printers;
             DROP TABLE stocktake_results; DROP TABLE stocktake_recounts; DROP TABLE stocktake_observations;
             DROP TABLE stocktake_locations; DROP TABLE stocktakes;
             CREATE TABLE document_sequences (prefix TEXT PRIMARY KEY, last INTEGER NOT NULL) WITHOUT ROWID;
             INSERT INTO document_sequences VALUES ('RK', 3);
             PRAGMA user_version = 1;",
        )
        .unwrap();
    }
    let mut ledger = Ledger::open_with(&path, Box::new(h.clock.clone()), Box::new(RandomIds::seeded(7))).unwrap();
    let conn = ledger.connection();
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    let counters: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_schema WHERE name = 'document_sequences'", [], |r| r.get(0))
        .unwrap();
    assert_eq!((version, counters), (SCHEMA_VERSION, 0));
    // The master data that was there becomes this node's changes, ready to push.
    let (entities, changes, unpushed): (i64, i64, usize) = (
        conn.query_row(
            "SELECT (SELECT count(*) FROM users) + (SELECT count(*) FROM suppliers) + (SELECT count(*) FROM departments)
                  + (SELECT count(*) FROM locations) + (SELECT count(*) FROM items)",
            [],
            |r| r.get(0),
        )
        .unwrap(),
        conn.query_row("SELECT count(*) FROM master_changes WHERE node_id = (SELECT id FROM node)", [], |r| r.get(0))
            .unwrap(),
        ledger.outbox(10_000).unwrap().events.len(),
    );
    assert!(entities > 5);
    assert_eq!(changes, entities);
    assert_eq!(unpushed as i64, entities + 1 + 3 + 3, "changes, the lot, the 3 receipts and their 3 movements");
    let next = ledger
        .post(&request(DocumentKind::Receipt, "wang", "MAIN", vec![line(SYRINGE, Some("L1"), Some("2027-06-30"), 5)]))
        .unwrap();
    assert_eq!(next.number, "RK-S01-000004");
    assert_eq!(on_hand(&ledger, SYRINGE, Some("L1"), "MAIN"), 35);
}

#[test]
fn an_enrolled_version_7_file_keeps_its_link_and_trusts_the_system_roots_until_given_a_ca() {
    let mut h = hospital();
    let server = uuid::Uuid::from_u128(7);
    assert!(h.ledger.set_sync_ca(Some("PEM")).is_err(), "no link to keep a CA with");
    h.ledger.set_sync_link("https://sync.hospital:8443", server, "token").unwrap();
    let path = h.dir.path().join("ledger.sqlite");
    drop(h.ledger);
    // What version 7 wrote: the link without a CA column (and no later columns).
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "ALTER TABLE sync_state DROP COLUMN server_ca_pem; ALTER TABLE excursions DROP COLUMN reopened_at_ms;
             ALTER TABLE sync_state DROP COLUMN lineage; ALTER TABLE sync_state DROP COLUMN lineage_next;
             ALTER TABLE sync_state DROP COLUMN lineage_tried; ALTER TABLE sync_nodes DROP COLUMN lineage;
             ALTER TABLE sync_state DROP COLUMN pull_cursor_key; ALTER TABLE sync_state DROP COLUMN resending;
             DROP TABLE sync_lineages; ALTER TABLE stocktakes DROP COLUMN counting_ended_hlc;
             PRAGMA user_version = 7;",
        )
        .unwrap();
    }
    let mut ledger = Ledger::open_with(&path, Box::new(h.clock.clone()), Box::new(RandomIds::seeded(7))).unwrap();
    let link = ledger.sync_link().unwrap().unwrap();
    assert_eq!(
        (link.server_url.as_str(), link.token.as_str(), link.server_ca_pem),
        ("https://sync.hospital:8443", "token", None)
    );
    // Enrolling with a CA keeps it; replacing it keeps the link; enrolling without one forgets it.
    ledger.set_sync_link_trusting("https://sync.hospital:8443", server, "token2", Some("CA1")).unwrap();
    assert_eq!(ledger.sync_link().unwrap().unwrap().server_ca_pem.as_deref(), Some("CA1"));
    ledger.set_sync_ca(Some("CA2")).unwrap();
    let link = ledger.sync_link().unwrap().unwrap();
    assert_eq!((link.token.as_str(), link.server_ca_pem.as_deref()), ("token2", Some("CA2")));
    ledger.set_sync_link("https://sync.hospital:8443", server, "token3").unwrap();
    assert_eq!(ledger.sync_link().unwrap().unwrap().server_ca_pem, None);
}
