//! Replication through a server ledger, in one process: what one workstation
//! does reaches the others whole, in any order, once.

mod common;

use common::*;
use ledger::replication::{Event, SYNC_BATCH_MAX};
use ledger::*;
use serde_json::json;
use std::collections::BTreeMap;

struct Node {
    ledger: Ledger,
    _dir: tempfile::TempDir,
}

fn node(site: &str, seed: u64, clock: &ManualClock) -> Node {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger =
        Ledger::open_with(&dir.path().join("n.sqlite"), Box::new(clock.clone()), Box::new(RandomIds::seeded(seed)))
            .unwrap();
    ledger.init(site, "").unwrap();
    Node { ledger, _dir: dir }
}

fn link(workstation: &mut Ledger, server: &Ledger) {
    let server_id = server.node_info().unwrap().id.parse().unwrap();
    workstation.set_sync_link("test://server", server_id, "token").unwrap();
}

/// Push everything, then pull everything: what `medledger sync` does over HTTP.
fn sync(workstation: &mut Ledger, server: &mut Ledger) -> (usize, usize) {
    let me = workstation.node_info().unwrap().id.parse().unwrap();
    server.server_publish_own().unwrap();
    let mut pushed = 0;
    loop {
        let outbox = workstation.outbox(50).unwrap();
        if outbox.events.is_empty() {
            break;
        }
        let report = server.server_accept(me, &outbox.events).unwrap();
        assert!(report.conflicts.is_empty(), "{:?}", report.conflicts);
        pushed += outbox.events.len();
        workstation.mark_pushed(&outbox).unwrap();
    }
    let mut pulled = 0;
    loop {
        let cursor = workstation.sync_link().unwrap().unwrap().pull_cursor;
        let (events, reached, more) = server.server_events_after(cursor, me, 70).unwrap();
        let events: Vec<Event> = events.into_iter().map(|(_, e)| e).collect();
        pulled += events.len();
        workstation.apply_events(&events, Some(reached)).unwrap();
        if !more {
            break;
        }
    }
    (pushed, pulled)
}

fn main_stocktake(ledger: &mut Ledger) -> StocktakeRef {
    ledger
        .start_stocktake(&StocktakeRequest {
            user: "boss".into(),
            locations: vec!["MAIN".into()],
            categories: vec![],
            blind: false,
            tolerance_quantity: None,
            tolerance_value: None,
            note: String::new(),
        })
        .unwrap()
}

fn counted(lot: &str, quantity: i64) -> CountEntry {
    CountEntry {
        user: "counter".into(),
        item: SYRINGE.into(),
        lot: Some(lot.into()),
        serial: None,
        expiry: None,
        location: Some("MAIN".into()),
        quantity: Some(quantity),
        barcode: String::new(),
    }
}

fn post_counts(ledger: &mut Ledger, number: &str) {
    ledger.finish_counting(number, "boss").unwrap();
    ledger
        .post_stocktake(
            number,
            &PostStocktakeRequest { user: "boss".into(), close_scope: false, accept_over_tolerance: true },
        )
        .unwrap();
}

#[test]
fn a_workstations_master_data_documents_and_stock_reach_another_through_the_server() {
    let mut a = hospital();
    let clock = a.clock.clone();
    let mut server = node("SRV", 101, &clock);
    let mut b = node("S02", 102, &clock);
    link(&mut a.ledger, &server.ledger);
    link(&mut b.ledger, &server.ledger);
    receive(&mut a, SYRINGE, "L1", "2027-06-30", 40);
    receive(&mut a, SYRINGE, "L2", "2027-01-31", 10);
    a.ledger.post(&request(DocumentKind::Issue, "wang", "MAIN", vec![line(SYRINGE, None, None, 12)])).unwrap();

    let (pushed, _) = sync(&mut a.ledger, &mut server.ledger);
    assert!(pushed > 10);
    sync(&mut b.ledger, &mut server.ledger);
    sync(&mut a.ledger, &mut server.ledger);

    assert_eq!(replica(&a.ledger), replica(&b.ledger));
    assert_eq!(replica(&a.ledger), replica(&server.ledger));
    // B can work with what it received: FEFO takes what is left of L2 first.
    let issue = b.ledger.post(&request(DocumentKind::Issue, "wang", "MAIN", vec![line(SYRINGE, None, None, 5)]));
    let issue = issue.unwrap();
    assert!(issue.number.starts_with("CK-S02-"), "{}", issue.number);
    let stock = b.ledger.stock(&StockFilter::default()).unwrap();
    let l2: i64 = stock.iter().filter(|r| r.lot.as_deref() == Some("L2")).map(|r| r.quantity).sum();
    assert_eq!(l2, 0, "the 10 of L2 were taken first: 12 issued on A, then 5 on B");
    sync(&mut b.ledger, &mut server.ledger);
    sync(&mut a.ledger, &mut server.ledger);
    assert_eq!(replica(&a.ledger), replica(&b.ledger));
    // Nothing more to move, and a second round moves nothing.
    assert_eq!(sync(&mut a.ledger, &mut server.ledger), (0, 0));
    assert_eq!(sync(&mut b.ledger, &mut server.ledger), (0, 0));
}

#[test]
fn three_admins_keep_one_name_and_the_others_are_told_apart_the_same_way_everywhere() {
    let clock = ManualClock::at_date(today());
    let mut server = node("SRV", 201, &clock);
    clock.advance_ms(10);
    let mut a = node("S01", 202, &clock);
    clock.advance_ms(10);
    let mut b = node("S02", 203, &clock);
    link(&mut a.ledger, &server.ledger);
    link(&mut b.ledger, &server.ledger);
    server.ledger.server_publish_own().unwrap();
    sync(&mut b.ledger, &mut server.ledger);
    sync(&mut a.ledger, &mut server.ledger);
    sync(&mut b.ledger, &mut server.ledger);
    for n in [&a.ledger, &b.ledger, &server.ledger] {
        let names: Vec<String> = n.users().unwrap().into_iter().map(|u| u.username).collect();
        assert_eq!(names.len(), 3);
        assert_eq!(names[0], "admin", "the server's admin was created first");
        assert!(names[1..].iter().all(|n| n.starts_with("admin~") && n.len() == 14), "{names:?}");
        assert_eq!(n.duplicate_codes().unwrap().len(), 1);
    }
    assert_eq!(replica(&a.ledger), replica(&b.ledger));
    assert_eq!(replica(&a.ledger), replica(&server.ledger));
}

#[test]
fn concurrent_edits_converge_by_hlc_and_a_safety_field_edited_twice_is_listed() {
    let mut a = hospital();
    let clock = a.clock.clone();
    let mut server = node("SRV", 301, &clock);
    let mut b = node("S02", 302, &clock);
    link(&mut a.ledger, &server.ledger);
    link(&mut b.ledger, &server.ledger);
    sync(&mut a.ledger, &mut server.ledger);
    sync(&mut b.ledger, &mut server.ledger);
    // Both edit the reagent offline: A its name and range, B (later) its range.
    let fields = |pairs: &[(&str, serde_json::Value)]| -> BTreeMap<String, serde_json::Value> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    };
    a.ledger
        .edit_master(
            "admin",
            "item",
            REAGENT,
            fields(&[("name_en", json!("Reagent kit A")), ("max_temp_c", json!("6"))]),
        )
        .unwrap();
    clock.advance_ms(1_000);
    // B's admin is "admin~…" once it knows A's older admin.
    let b_admin = b.ledger.users().unwrap().into_iter().find(|u| u.role == Role::Admin).unwrap().username;
    let b_admin = if b_admin == "admin" { "admin".to_string() } else { b_admin };
    b.ledger.edit_master(&b_admin, "item", REAGENT, fields(&[("max_temp_c", json!("10"))])).unwrap();
    sync(&mut b.ledger, &mut server.ledger);
    sync(&mut a.ledger, &mut server.ledger);
    sync(&mut b.ledger, &mut server.ledger);
    for n in [&a.ledger, &b.ledger, &server.ledger] {
        let item = n.item(REAGENT).unwrap();
        assert_eq!(item.name_en.to_string(), "Reagent kit A", "A's name stands: nobody else edited it");
        assert_eq!(item.max_temp_c.as_deref(), Some("10"), "B wrote the range last");
        let listed = n.concurrent_safety_edits().unwrap();
        assert_eq!(listed.len(), 1, "{listed:?}");
        assert_eq!(listed[0].field, "max_temp_c");
        assert_eq!(listed[0].values.len(), 2);
    }
    // An edit made after seeing the other is not concurrent.
    a.ledger.edit_master("admin", "item", REAGENT, fields(&[("max_temp_c", json!("8"))])).unwrap();
    sync(&mut a.ledger, &mut server.ledger);
    sync(&mut b.ledger, &mut server.ledger);
    assert_eq!(b.ledger.item(REAGENT).unwrap().max_temp_c.as_deref(), Some("8"));
    assert_eq!(b.ledger.concurrent_safety_edits().unwrap().len(), 1, "still only the first pair");
    assert_eq!(replica(&a.ledger), replica(&b.ledger));
}

#[test]
fn events_in_any_order_and_twice_give_the_same_node_and_a_changed_event_is_a_conflict() {
    let mut a = hospital();
    receive(&mut a, SYRINGE, "L1", "2027-06-30", 40);
    a.ledger.post(&request(DocumentKind::Issue, "wang", "MAIN", vec![line(SYRINGE, None, None, 12)])).unwrap();
    a.ledger.set_sync_link("test://", uuid::Uuid::nil(), "t").unwrap();
    let events = a.ledger.outbox(SYNC_BATCH_MAX).unwrap().events;
    let clock = a.clock.clone();
    let mut in_order = node("S02", 401, &clock);
    in_order.ledger.apply_events(&events, None).unwrap();
    // Twice, in one batch and again: nothing changes.
    let before = replica(&in_order.ledger);
    let report = in_order.ledger.apply_events(&events, None).unwrap();
    assert_eq!((report.applied, report.duplicates, report.conflicts.len()), (0, events.len(), 0));
    assert_eq!(replica(&in_order.ledger), before);
    // Master data first (causal), the rest backwards: movements fold to the same balances.
    let mut shuffled: Vec<Event> = events.iter().filter(|e| matches!(e, Event::Master(_))).cloned().collect();
    let mut rest: Vec<Event> = events.iter().filter(|e| !matches!(e, Event::Master(_))).cloned().collect();
    rest.sort_by_key(|e| matches!(e, Event::Document(_) | Event::Lot(_)));
    rest.reverse();
    shuffled.extend(rest);
    let mut reordered = node("S03", 402, &clock);
    reordered.ledger.apply_events(&shuffled, None).unwrap();
    let strip_admins = |s: String| s.lines().filter(|l| !l.contains("admin")).collect::<Vec<_>>().join("\n");
    assert_eq!(strip_admins(replica(&reordered.ledger)), strip_admins(replica(&in_order.ledger)));
    // The same movement id with another quantity: kept aside, never applied.
    let mut forged = events.iter().rev().find(|e| matches!(e, Event::Movement(_))).unwrap().clone();
    if let Event::Movement(m) = &mut forged {
        m.quantity -= 100;
    }
    let report = in_order.ledger.apply_events(&[forged], None).unwrap();
    assert_eq!(report.conflicts.len(), 1);
    assert_eq!(replica(&in_order.ledger), before);
    assert_eq!(in_order.ledger.sync_conflicts().unwrap().len(), 1);
}

#[test]
fn a_malformed_batch_changes_nothing() {
    let mut a = hospital();
    receive(&mut a, SYRINGE, "L1", "2027-06-30", 40);
    a.ledger.set_sync_link("test://", uuid::Uuid::nil(), "t").unwrap();
    let mut events = a.ledger.outbox(SYNC_BATCH_MAX).unwrap().events;
    let clock = a.clock.clone();
    let mut b = node("S02", 501, &clock);
    let before = replica(&b.ledger);
    // A movement whose item never arrived: the foreign key fails at commit.
    events.retain(|e| !matches!(e, Event::Master(c) if c.entity == "item"));
    assert!(b.ledger.apply_events(&events, Some(9)).is_err());
    assert_eq!(replica(&b.ledger), before);
    // A field no entity has.
    let mut bad = a.ledger.outbox(SYNC_BATCH_MAX).unwrap().events;
    if let Some(Event::Master(c)) = bad.iter_mut().find(|e| matches!(e, Event::Master(_))) {
        c.fields.insert("password".into(), json!("x"));
    }
    let err = b.ledger.apply_events(&bad, None).unwrap_err();
    assert_eq!(err.code(), "invalid_input");
    assert_eq!(replica(&b.ledger), before);
}

#[test]
fn a_stocktake_count_stamped_before_the_last_push_is_still_pushed() {
    let mut a = hospital();
    let clock = a.clock.clone();
    let mut server = node("SRV", 601, &clock);
    link(&mut a.ledger, &server.ledger);
    receive(&mut a, SYRINGE, "L1", "2027-06-30", 40);
    let st = main_stocktake(&mut a.ledger);
    a.ledger.record_count(&st.number, &counted("L1", 39)).unwrap();
    clock.advance_ms(60_000);
    // Something else is posted and pushed after the scan …
    receive(&mut a, SYRINGE, "L2", "2027-08-31", 5);
    sync(&mut a.ledger, &mut server.ledger);
    // … and then the stocktake is posted with the scan's (earlier) time.
    post_counts(&mut a.ledger, &st.number);
    sync(&mut a.ledger, &mut server.ledger);
    assert_eq!(replica(&a.ledger), replica(&server.ledger));
    let l1 = server.ledger.stock(&StockFilter::default()).unwrap();
    let l1: i64 = l1.iter().filter(|r| r.lot.as_deref() == Some("L1")).map(|r| r.quantity).sum();
    assert_eq!(l1, 39, "the server has the count");
}

/// Review fixes: situations that used to wedge a workstation's sync or leave nodes apart.
mod regressions {
    use super::*;

    fn two_workstations() -> (Hospital, Node, Node) {
        let mut a = hospital();
        let clock = a.clock.clone();
        let mut server = node("SRV", 701, &clock);
        let mut b = node("S02", 702, &clock);
        link(&mut a.ledger, &server.ledger);
        link(&mut b.ledger, &server.ledger);
        sync(&mut a.ledger, &mut server.ledger);
        sync(&mut b.ledger, &mut server.ledger);
        (a, server, b)
    }

    #[test]
    fn the_same_receipt_corrected_on_two_workstations_is_kept_twice_and_listed() {
        let (mut a, mut server, mut b) = two_workstations();
        let receipt = receive(&mut a, SYRINGE, "L1", "2027-06-30", 40);
        sync(&mut a.ledger, &mut server.ledger);
        sync(&mut b.ledger, &mut server.ledger);
        a.ledger.reverse_document(&receipt.number, "boss", "wrong lot", None).unwrap();
        // B, not yet knowing of A's correction, corrects the same receipt.
        b.ledger.reverse_document(&receipt.number, "boss", "wrong quantity", None).unwrap();
        sync(&mut a.ledger, &mut server.ledger);
        sync(&mut b.ledger, &mut server.ledger);
        sync(&mut a.ledger, &mut server.ledger);
        assert_eq!(replica(&a.ledger), replica(&b.ledger));
        assert_eq!(replica(&a.ledger), replica(&server.ledger));
        for n in [&a.ledger, &b.ledger, &server.ledger] {
            assert_eq!(n.double_corrections().unwrap().len(), 1);
            assert_eq!(n.negative_exceptions().unwrap().len(), 1, "40 received, 80 taken back");
        }
    }

    #[test]
    fn a_lot_received_with_two_expiries_keeps_the_earlier_everywhere() {
        let (mut a, mut server, mut b) = two_workstations();
        receive(&mut a, SYRINGE, "X1", "2027-10-31", 5);
        b.ledger
            .post(&request(
                DocumentKind::Receipt,
                "wang",
                "MAIN",
                vec![line(SYRINGE, Some("X1"), Some("2027-01-31"), 7)],
            ))
            .unwrap();
        for _ in 0..2 {
            sync(&mut a.ledger, &mut server.ledger);
            sync(&mut b.ledger, &mut server.ledger);
        }
        for n in [&a.ledger, &b.ledger, &server.ledger] {
            assert_eq!(n.lot_expiry(SYRINGE, "X1").unwrap(), Some(date("2027-01-31")));
            assert!(n.sync_conflicts().unwrap().iter().any(|c| c.kind == "lot_dates"));
        }
        assert_eq!(replica(&a.ledger), replica(&b.ledger));
    }

    #[test]
    fn a_stocktake_posted_while_a_push_waits_for_its_answer_is_pushed_next_time() {
        let (mut a, mut server, _) = two_workstations();
        receive(&mut a, SYRINGE, "L1", "2027-06-30", 40);
        let st = main_stocktake(&mut a.ledger);
        a.ledger.record_count(&st.number, &counted("L1", 38)).unwrap();
        a.clock.advance_ms(60_000);
        receive(&mut a, SYRINGE, "L2", "2027-08-31", 5);
        // The push is read and sent; before its answer arrives the stocktake is posted.
        let me = a.ledger.node_info().unwrap().id.parse().unwrap();
        let outbox = a.ledger.outbox(SYNC_BATCH_MAX).unwrap();
        post_counts(&mut a.ledger, &st.number);
        server.ledger.server_accept(me, &outbox.events).unwrap();
        a.ledger.mark_pushed(&outbox).unwrap();
        sync(&mut a.ledger, &mut server.ledger);
        assert_eq!(replica(&a.ledger), replica(&server.ledger), "the count reached the server");
    }

    #[test]
    fn enrolling_with_another_server_pushes_everything_again() {
        let (mut a, mut server, _) = two_workstations();
        receive(&mut a, SYRINGE, "L1", "2027-06-30", 40);
        sync(&mut a.ledger, &mut server.ledger);
        let clock = a.clock.clone();
        let mut other = node("SRV", 703, &clock);
        link(&mut a.ledger, &other.ledger);
        sync(&mut a.ledger, &mut other.ledger);
        let stock = |l: &Ledger| l.stock(&StockFilter::default()).unwrap().iter().map(|r| r.quantity).sum::<i64>();
        assert_eq!(stock(&other.ledger), 40);
    }

    #[test]
    fn a_code_for_another_site_or_a_site_already_syncing_is_refused() {
        use ledger::replication::Enrolment;
        let clock = ManualClock::at_date(today());
        let mut server = node("SRV", 704, &clock);
        server.ledger.server_add_enrolment("S02", b"code-1").unwrap();
        server.ledger.server_add_enrolment("S02", b"code-2").unwrap();
        server.ledger.server_add_enrolment("S02", b"code-3").unwrap();
        let (first, second) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
        assert_eq!(
            server.ledger.server_enrol(b"code-1", first, "S05", b"t1").unwrap(),
            Enrolment::SiteMismatch { code_site: "S02".into() }
        );
        assert_eq!(server.ledger.server_enrol(b"code-1", first, "S02", b"t1").unwrap(), Enrolment::Enrolled);
        assert_eq!(server.ledger.server_enrol(b"code-2", second, "S02", b"t2").unwrap(), Enrolment::SiteTaken);
        // The same workstation enrolling again (a new token) is fine.
        assert_eq!(server.ledger.server_enrol(b"code-3", first, "S02", b"t3").unwrap(), Enrolment::Enrolled);
        assert_eq!(server.ledger.server_enrol(b"code-3", first, "S02", b"t3").unwrap(), Enrolment::BadCode);
    }

    #[test]
    fn a_movement_beyond_the_limits_is_refused_whole() {
        let (mut a, _server, mut b) = two_workstations();
        receive(&mut a, SYRINGE, "L1", "2027-06-30", 40);
        let mut events = a.ledger.outbox(SYNC_BATCH_MAX).unwrap().events;
        for e in &mut events {
            if let Event::Movement(m) = e {
                m.quantity = i64::MAX;
            }
        }
        let before = replica(&b.ledger);
        assert_eq!(b.ledger.apply_events(&events, None).unwrap_err().code(), "invalid_input");
        assert_eq!(replica(&b.ledger), before);
    }

    #[test]
    fn a_second_handle_on_the_same_file_never_stamps_below_what_was_pushed() {
        let (mut a, mut server, _) = two_workstations();
        // The CLI opens the app's file while the app keeps its own handle.
        let path = a.dir.path().join("ledger.sqlite");
        let mut cli = Ledger::open_with(&path, Box::new(a.clock.clone()), Box::new(RandomIds::seeded(77))).unwrap();
        // The CLI learns of an event from a workstation whose clock is 4 minutes fast …
        let fast_clock = a.clock.clone();
        let mut other = node("S09", 705, &fast_clock);
        link(&mut other.ledger, &server.ledger);
        sync(&mut other.ledger, &mut server.ledger);
        a.clock.advance_ms(240_000);
        other
            .ledger
            .post(&request(
                DocumentKind::Receipt,
                "wang",
                "MAIN",
                vec![line(SYRINGE, Some("F1"), Some("2027-06-30"), 3)],
            ))
            .unwrap();
        a.clock.advance_ms(-240_000);
        sync(&mut other.ledger, &mut server.ledger);
        sync(&mut cli, &mut server.ledger);
        // … posts and pushes; then the app posts with the handle it opened before.
        cli.post(&request(
            DocumentKind::Receipt,
            "wang",
            "MAIN",
            vec![line(SYRINGE, Some("C1"), Some("2027-06-30"), 1)],
        ))
        .unwrap();
        sync(&mut cli, &mut server.ledger);
        receive(&mut a, SYRINGE, "A1", "2027-06-30", 2);
        sync(&mut a.ledger, &mut server.ledger);
        let at_server: i64 = server.ledger.stock(&StockFilter::default()).unwrap().iter().map(|r| r.quantity).sum();
        assert_eq!(at_server, 3 + 1 + 2, "the app's receipt reached the server");
    }

    #[test]
    fn a_movement_stamped_a_year_ahead_is_kept_applied_and_listed() {
        let (mut a, _server, mut b) = two_workstations();
        a.clock.advance_days(365);
        receive(&mut a, SYRINGE, "Y1", "2028-06-30", 9);
        a.clock.advance_days(-365);
        let events = a.ledger.outbox(SYNC_BATCH_MAX).unwrap().events;
        b.ledger.apply_events(&events, None).unwrap();
        let listed = b.ledger.future_movements().unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].4, 9);
        let on_b: i64 = b.ledger.stock(&StockFilter::default()).unwrap().iter().map(|r| r.quantity).sum();
        assert_eq!(on_b, 9, "kept and applied, never dropped");
        assert!(
            b.ledger.current_hlc().physical_ms() < a.clock.now_ms() + 86_400_000,
            "B's clock was not dragged a year ahead"
        );
    }
}

const MINUTE: i64 = 60_000;

/// FR1, a 2–8 °C fridge (30 min out of range is an excursion) — made on A, its rules set on each node.
fn add_fridge(a: &mut Hospital) {
    a.ledger
        .add_location(&NewLocation {
            code: "FR1".into(),
            name: "试剂冰箱".into(),
            name_en: "Reagent fridge".into(),
            kind: LocationKind::Cold,
            department: None,
            min_temp_c: Some(rust_decimal::Decimal::new(2, 0)),
            max_temp_c: Some(rust_decimal::Decimal::new(8, 0)),
        })
        .unwrap();
}

fn fridge_rules(ledger: &mut Ledger) {
    let rules = ColdUnitRules { excursion_minutes: 30, missing_minutes: 24 * 60, gate_minutes: 15 };
    ledger.set_cold_unit("boss", "FR1", rules).unwrap();
}

/// 31 minutes at 12 °C in FR1 as `ledger`'s sensor saw them, then the excursion it opens.
fn warm_fridge(ledger: &mut Ledger, clock: &ManualClock) -> ExcursionView {
    for _ in 0..=31 {
        ledger.record_reading("FR1", "/dev/ttyUSB0#1", clock.now_ms(), 12.0, None).unwrap();
        clock.advance_ms(MINUTE);
    }
    let mut opened = ledger.check_cold_chain("wang").unwrap();
    assert_eq!(opened.len(), 1, "one excursion opens");
    opened.remove(0)
}

/// FR1's stock as (lot, status, quantity), keys at zero left out.
fn fridge_stock(ledger: &Ledger) -> Vec<(String, StockStatus, i64)> {
    let mut rows: Vec<_> = ledger
        .stock(&StockFilter { location: Some("FR1".into()), search: None, include_zero: true })
        .unwrap()
        .into_iter()
        .filter(|r| r.quantity != 0)
        .map(|r| (r.lot.clone().unwrap_or_default(), r.status, r.quantity))
        .collect();
    rows.sort_by(|x, y| (&x.0, x.1.as_str()).cmp(&(&y.0, y.1.as_str())));
    rows
}

/// A and B (enrolled with a server, nodes `seed` and `seed + 1`) both hold the
/// 10 of R1 that A received into FR1, and both have the fridge's rules.
fn r1_in_the_fridge(seed: u64) -> (Hospital, Node, Node) {
    let mut a = hospital();
    let clock = a.clock.clone();
    let mut server = node("SRV", seed, &clock);
    let mut b = node("S02", seed + 1, &clock);
    link(&mut a.ledger, &server.ledger);
    link(&mut b.ledger, &server.ledger);
    add_fridge(&mut a);
    fridge_rules(&mut a.ledger);
    a.ledger
        .post(&request(DocumentKind::Receipt, "wang", "FR1", vec![line(REAGENT, Some("R1"), Some("2027-03-31"), 10)]))
        .unwrap();
    sync(&mut a.ledger, &mut server.ledger);
    sync(&mut b.ledger, &mut server.ledger);
    fridge_rules(&mut b.ledger);
    (a, server, b)
}

/// A and B both hold R1 (see [`r1_in_the_fridge`]), quarantined by E1, which
/// B's warm sensor opened.
fn r1_held_by_e1(seed: u64) -> (Hospital, Node, Node, ExcursionView) {
    let (mut a, mut server, mut b) = r1_in_the_fridge(seed);
    let clock = a.clock.clone();
    let e1 = warm_fridge(&mut b.ledger, &clock);
    sync(&mut b.ledger, &mut server.ledger);
    sync(&mut a.ledger, &mut server.ledger);
    (a, server, b, e1)
}

/// A and B both hold R1 quarantined by E1 (opened on B); then, offline, B's
/// manager releases E1 while A's sensor opens E2 on the same fridge (taking
/// the R2 that A alone received, and holding R1, which A sees quarantined).
fn release_beside_a_new_excursion() -> (Hospital, Node, Node, ExcursionView, ExcursionView) {
    let (mut a, server, mut b, e1) = r1_held_by_e1(301);
    let clock = a.clock.clone();
    let held = vec![("R1".to_string(), StockStatus::Quarantined, 10)];
    assert_eq!(fridge_stock(&a.ledger), held);
    assert_eq!(fridge_stock(&b.ledger), held);
    // Offline from here.
    a.ledger
        .post(&request(DocumentKind::Receipt, "wang", "FR1", vec![line(REAGENT, Some("R2"), Some("2027-05-31"), 5)]))
        .unwrap();
    let e2 = warm_fridge(&mut a.ledger, &clock);
    assert_eq!(e2.quarantined_units, 5, "E2 takes what A saw available: R2, not E1's R1");
    b.ledger.resolve_excursion(&e1.id, "boss", "stability data allow 4 h at 12 °C", false).unwrap();
    assert_eq!(fridge_stock(&b.ledger), vec![("R1".to_string(), StockStatus::Available, 10)]);
    (a, b, server, e1, e2)
}

fn quarantine_won(a: &Hospital, b: &Node, server: &Node) {
    let expected =
        vec![("R1".to_string(), StockStatus::Quarantined, 10), ("R2".to_string(), StockStatus::Quarantined, 5)];
    assert_eq!(fridge_stock(&a.ledger), expected, "A");
    assert_eq!(fridge_stock(&b.ledger), expected, "B");
    assert_eq!(fridge_stock(&server.ledger), expected, "server");
    assert_eq!(replica(&a.ledger), replica(&b.ledger));
    assert_eq!(replica(&a.ledger), replica(&server.ledger));
    for ledger in [&a.ledger, &b.ledger, &server.ledger] {
        assert!(balance::verify(ledger.connection()).unwrap().is_empty());
        assert!(ledger.negative_exceptions().unwrap().is_empty());
        let derived: i64 = ledger
            .connection()
            .query_row("SELECT count(*) FROM movements WHERE reason = 'quarantine_wins'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(derived, 2, "one compensating pair, however many nodes derived it");
    }
}

#[test]
fn quarantine_wins_over_a_concurrent_release_when_the_excursion_reaches_the_server_first() {
    let (mut a, mut b, mut server, _, e2) = release_beside_a_new_excursion();
    sync(&mut a.ledger, &mut server.ledger);
    sync(&mut b.ledger, &mut server.ledger);
    sync(&mut a.ledger, &mut server.ledger);
    quarantine_won(&a, &b, &server);
    // Nothing left to move: the derived pair is no node's to push.
    assert_eq!(sync(&mut a.ledger, &mut server.ledger), (0, 0));
    assert_eq!(sync(&mut b.ledger, &mut server.ledger), (0, 0));
    // A's manager resolving E2 releases the R1 it holds now, too.
    a.ledger.resolve_excursion(&e2.id, "boss", "checked", false).unwrap();
    assert_eq!(
        fridge_stock(&a.ledger),
        vec![("R1".to_string(), StockStatus::Available, 10), ("R2".to_string(), StockStatus::Available, 5)]
    );
}

#[test]
fn quarantine_wins_over_a_concurrent_release_when_the_release_reaches_the_server_first() {
    let (mut a, mut b, mut server, _, _) = release_beside_a_new_excursion();
    sync(&mut b.ledger, &mut server.ledger);
    sync(&mut a.ledger, &mut server.ledger);
    sync(&mut b.ledger, &mut server.ledger);
    quarantine_won(&a, &b, &server);
    assert_eq!(sync(&mut a.ledger, &mut server.ledger), (0, 0));
    assert_eq!(sync(&mut b.ledger, &mut server.ledger), (0, 0));
}

#[test]
fn a_node_starting_from_a_snapshot_gets_the_compensation_the_server_derived() {
    let (mut a, mut b, mut server, _, _) = release_beside_a_new_excursion();
    let clock = a.clock.clone();
    sync(&mut a.ledger, &mut server.ledger);
    // C starts now: the snapshot holds E2's hold summed up in balances, not as a movement.
    let mut c = node("S03", 303, &clock);
    link(&mut c.ledger, &server.ledger);
    let snapshot = server.ledger.server_snapshot(c.ledger.current_hlc().0).unwrap();
    c.ledger.bootstrap(&snapshot).unwrap();
    sync(&mut b.ledger, &mut server.ledger);
    sync(&mut a.ledger, &mut server.ledger);
    sync(&mut c.ledger, &mut server.ledger);
    quarantine_won(&a, &b, &server);
    assert_eq!(fridge_stock(&c.ledger), fridge_stock(&a.ledger));
}

#[test]
fn an_excursion_on_a_node_that_started_from_a_snapshot_holds_what_was_quarantined_before_it() {
    let (mut a, mut server, mut b, e1) = r1_held_by_e1(371);
    let clock = a.clock.clone();
    // C starts from a snapshot while E1 holds R1: it holds none of E1's movements but
    // the snapshot's record of who holds what is in quarantine.
    let mut c = node("S03", 373, &clock);
    link(&mut c.ledger, &server.ledger);
    let snapshot = server.ledger.server_snapshot(c.ledger.current_hlc().0).unwrap();
    c.ledger.bootstrap(&snapshot).unwrap();
    fridge_rules(&mut c.ledger);
    // Offline: C's sensor opens E3, which holds R1 for E1; B's manager releases E1 not knowing of E3.
    let e3 = warm_fridge(&mut c.ledger, &clock);
    assert_eq!(e3.quarantined_units, 0);
    b.ledger.resolve_excursion(&e1.id, "boss", "checked", false).unwrap();
    sync(&mut b.ledger, &mut server.ledger);
    sync(&mut c.ledger, &mut server.ledger);
    sync(&mut a.ledger, &mut server.ledger);
    sync(&mut b.ledger, &mut server.ledger);
    let held = vec![("R1".to_string(), StockStatus::Quarantined, 10)];
    for ledger in [&a.ledger, &b.ledger, &c.ledger, &server.ledger] {
        assert_eq!(fridge_stock(ledger), held);
        assert_eq!(derived_count(ledger), 2, "one pair");
    }
    // C's E3 judges R1 now.
    assert_eq!(c.ledger.excursion(&e3.id).unwrap().quarantined_units, 10);
}

#[test]
fn a_release_made_knowing_of_the_later_excursion_stands() {
    let (mut a, mut b, mut server, e1, _) = {
        let (mut a, server, b, e1) = r1_held_by_e1(311);
        let clock = a.clock.clone();
        let e2 = warm_fridge(&mut a.ledger, &clock);
        assert_eq!(e2.quarantined_units, 0, "A sees nothing available: E2 only holds R1");
        (a, b, server, e1, e2)
    };
    // B has seen E2's hold before its manager releases E1: the release names E2 as known.
    sync(&mut a.ledger, &mut server.ledger);
    sync(&mut b.ledger, &mut server.ledger);
    b.ledger.resolve_excursion(&e1.id, "boss", "judged with E2 in view", false).unwrap();
    sync(&mut b.ledger, &mut server.ledger);
    sync(&mut a.ledger, &mut server.ledger);
    let released = vec![("R1".to_string(), StockStatus::Available, 10)];
    assert_eq!(fridge_stock(&a.ledger), released);
    assert_eq!(fridge_stock(&b.ledger), released);
    assert_eq!(replica(&a.ledger), replica(&b.ledger));
}

#[test]
fn an_excursion_that_found_nothing_available_still_wins_over_a_concurrent_release() {
    let (mut a, mut server, mut b, e1) = r1_held_by_e1(321);
    let clock = a.clock.clone();
    // Offline: B releases E1, A's E2 finds only E1's quarantined R1 — it writes just its hold.
    b.ledger.resolve_excursion(&e1.id, "boss", "checked", false).unwrap();
    let e2 = warm_fridge(&mut a.ledger, &clock);
    assert_eq!(e2.quarantined_units, 0);
    sync(&mut b.ledger, &mut server.ledger);
    sync(&mut a.ledger, &mut server.ledger);
    sync(&mut b.ledger, &mut server.ledger);
    let held = vec![("R1".to_string(), StockStatus::Quarantined, 10)];
    assert_eq!(fridge_stock(&a.ledger), held);
    assert_eq!(fridge_stock(&b.ledger), held);
    assert_eq!(fridge_stock(&server.ledger), held);
    assert_eq!(replica(&a.ledger), replica(&b.ledger));
}

/// The quarantine_wins movements a ledger holds.
fn derived_count(ledger: &Ledger) -> i64 {
    ledger
        .connection()
        .query_row("SELECT count(*) FROM movements WHERE reason = 'quarantine_wins'", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn each_excursion_that_held_a_released_unit_keeps_its_claim_and_the_open_one_judges_them() {
    let (mut a, mut server, mut b, e1) = r1_held_by_e1(341);
    let clock = a.clock.clone();
    // Offline: A's fridge warms twice — E2 holds R1 and is resolved, then E3 holds it
    // again — while B's manager releases E1 knowing of neither.
    let e2 = warm_fridge(&mut a.ledger, &clock);
    a.ledger.resolve_excursion(&e2.id, "boss", "nothing of its own", false).unwrap();
    clock.advance_ms(10 * MINUTE);
    let e3 = warm_fridge(&mut a.ledger, &clock);
    assert_eq!(e3.quarantined_units, 0, "E3 only holds R1 too");
    b.ledger.resolve_excursion(&e1.id, "boss", "checked", false).unwrap();
    sync(&mut b.ledger, &mut server.ledger);
    sync(&mut a.ledger, &mut server.ledger);
    sync(&mut b.ledger, &mut server.ledger);
    // Two holds were concurrent with the release: each claim puts the 10 units back, so
    // they show quarantined twice over (available −10, listed) until they are judged.
    let claimed =
        vec![("R1".to_string(), StockStatus::Available, -10), ("R1".to_string(), StockStatus::Quarantined, 20)];
    for ledger in [&a.ledger, &b.ledger, &server.ledger] {
        assert_eq!(fridge_stock(ledger), claimed);
        assert_eq!(derived_count(ledger), 4, "one pair per claim");
        assert!(balance::verify(ledger.connection()).unwrap().is_empty());
    }
    assert_eq!(replica(&a.ledger), replica(&b.ledger));
    // On A both claims go to E3, the excursion open on the fridge (E2 stays resolved);
    // judging it lets the 10 units out once.
    assert_eq!(a.ledger.excursion(&e3.id).unwrap().quarantined_units, 20);
    assert_eq!(a.ledger.excursion(&e2.id).unwrap().status, "released");
    a.ledger.resolve_excursion(&e3.id, "boss", "checked with E3 in view", false).unwrap();
    sync(&mut a.ledger, &mut server.ledger);
    sync(&mut b.ledger, &mut server.ledger);
    let released = vec![("R1".to_string(), StockStatus::Available, 10)];
    for ledger in [&a.ledger, &b.ledger, &server.ledger] {
        assert_eq!(fridge_stock(ledger), released);
        assert!(ledger.negative_exceptions().unwrap().is_empty());
    }
}

#[test]
fn claims_on_two_nodes_are_each_judged_there_and_the_units_come_out_once() {
    let (mut a, mut server, mut b, e1) = r1_held_by_e1(381);
    let clock = a.clock.clone();
    let mut c = node("S03", 383, &clock);
    link(&mut c.ledger, &server.ledger);
    sync(&mut c.ledger, &mut server.ledger);
    fridge_rules(&mut c.ledger);
    // Offline: A's E2 and C's E3 both hold R1 for E1; B's manager releases E1 knowing of neither.
    let e2 = warm_fridge(&mut a.ledger, &clock);
    let e3 = warm_fridge(&mut c.ledger, &clock);
    b.ledger.resolve_excursion(&e1.id, "boss", "checked", false).unwrap();
    for _ in 0..2 {
        sync(&mut b.ledger, &mut server.ledger);
        sync(&mut a.ledger, &mut server.ledger);
        sync(&mut c.ledger, &mut server.ledger);
    }
    assert_eq!(a.ledger.excursion(&e2.id).unwrap().quarantined_units, 10);
    assert_eq!(c.ledger.excursion(&e3.id).unwrap().quarantined_units, 10);
    // A's manager judges E2: R1 stays held for E3 until C's manager judges it too.
    a.ledger.resolve_excursion(&e2.id, "boss", "checked", false).unwrap();
    sync(&mut a.ledger, &mut server.ledger);
    sync(&mut c.ledger, &mut server.ledger);
    assert_eq!(fridge_stock(&c.ledger), vec![("R1".to_string(), StockStatus::Quarantined, 10)]);
    c.ledger.resolve_excursion(&e3.id, "boss", "checked", false).unwrap();
    for _ in 0..2 {
        sync(&mut c.ledger, &mut server.ledger);
        sync(&mut a.ledger, &mut server.ledger);
        sync(&mut b.ledger, &mut server.ledger);
    }
    let released = vec![("R1".to_string(), StockStatus::Available, 10)];
    for ledger in [&a.ledger, &b.ledger, &c.ledger, &server.ledger] {
        assert_eq!(fridge_stock(ledger), released);
        assert!(ledger.negative_exceptions().unwrap().is_empty());
    }
    assert_eq!(replica(&a.ledger), replica(&c.ledger));
}

#[test]
fn a_resolved_excursion_reopens_when_a_release_it_did_not_see_let_out_units_it_held() {
    let (mut a, mut server, mut b, e1) = r1_held_by_e1(351);
    let clock = a.clock.clone();
    // Offline: A's E2 holds R1 and its manager resolves it (nothing of its own to judge);
    // B's manager releases E1 without knowing of E2.
    let e2 = warm_fridge(&mut a.ledger, &clock);
    a.ledger.resolve_excursion(&e2.id, "boss", "nothing of its own", false).unwrap();
    b.ledger.resolve_excursion(&e1.id, "boss", "checked", false).unwrap();
    sync(&mut b.ledger, &mut server.ledger);
    sync(&mut a.ledger, &mut server.ledger);
    sync(&mut b.ledger, &mut server.ledger);
    // R1 was in the fridge during E2 and nobody judged it for E2: back in quarantine,
    // and E2 is open again on A, the node that opened it, with R1 to judge.
    let held = vec![("R1".to_string(), StockStatus::Quarantined, 10)];
    assert_eq!(fridge_stock(&a.ledger), held);
    assert_eq!(fridge_stock(&b.ledger), held);
    let reopened = a.ledger.excursion(&e2.id).unwrap();
    assert_eq!((reopened.status.as_str(), reopened.quarantined_units), ("open", 10));
    assert!(reopened.reopened_at_ms.is_some());
    assert_eq!(a.ledger.excursions(true).unwrap().len(), 1);
    // Pulling again changes nothing; resolving it lets R1 out everywhere.
    sync(&mut a.ledger, &mut server.ledger);
    assert_eq!(a.ledger.excursion(&e2.id).unwrap().reopened_at_ms, reopened.reopened_at_ms);
    let resolved = a.ledger.resolve_excursion(&e2.id, "boss", "R1 judged for E2", false).unwrap();
    assert_eq!(resolved.status, "released");
    sync(&mut a.ledger, &mut server.ledger);
    sync(&mut b.ledger, &mut server.ledger);
    let released = vec![("R1".to_string(), StockStatus::Available, 10)];
    assert_eq!(fridge_stock(&a.ledger), released);
    assert_eq!(fridge_stock(&b.ledger), released);
    assert_eq!(fridge_stock(&server.ledger), released);
    assert_eq!(replica(&a.ledger), replica(&b.ledger));
}

#[test]
fn a_reopened_excursion_that_had_let_out_units_of_its_own_still_holds_what_came_back() {
    let (mut a, mut server, mut b, e1) = r1_held_by_e1(391);
    let clock = a.clock.clone();
    // Offline: A receives 5 more of R1; its E2 takes those 5 and holds E1's 10 on the same
    // key; A's manager releases E2's 5. B's manager releases E1 knowing nothing of E2.
    a.ledger
        .post(&request(DocumentKind::Receipt, "wang", "FR1", vec![line(REAGENT, Some("R1"), Some("2027-03-31"), 5)]))
        .unwrap();
    let e2 = warm_fridge(&mut a.ledger, &clock);
    assert_eq!(e2.quarantined_units, 5);
    a.ledger.resolve_excursion(&e2.id, "boss", "its own 5 checked", false).unwrap();
    b.ledger.resolve_excursion(&e1.id, "boss", "checked", false).unwrap();
    for _ in 0..2 {
        sync(&mut b.ledger, &mut server.ledger);
        sync(&mut a.ledger, &mut server.ledger);
    }
    let reopened = a.ledger.excursion(&e2.id).unwrap();
    assert_eq!((reopened.status.as_str(), reopened.quarantined_units), ("open", 15));
    assert_eq!(
        fridge_stock(&b.ledger),
        vec![("R1".to_string(), StockStatus::Available, 5), ("R1".to_string(), StockStatus::Quarantined, 10)]
    );
    // B's sensor now opens E3: E2, though it let units out of this key before, holds the 10
    // that came back, so E3's hold names it.
    clock.advance_ms(10 * MINUTE);
    let e3 = warm_fridge(&mut b.ledger, &clock);
    let hold: String = b
        .ledger
        .connection()
        .query_row(
            "SELECT note FROM movements WHERE kind = 'quarantine' AND quantity = 0 AND note LIKE ?1",
            [format!("excursion {} holds %", e3.id)],
            |r| r.get(0),
        )
        .unwrap();
    assert!(hold.contains(&e2.id), "{hold}");
    // A's manager judges E2 again: its share is the 10 that came back, not more.
    a.ledger.resolve_excursion(&e2.id, "boss", "R1 judged for E2", false).unwrap();
    assert_eq!(fridge_stock(&a.ledger), vec![("R1".to_string(), StockStatus::Available, 15)]);
}

#[test]
fn two_excursions_that_quarantined_the_same_units_offline_each_release_only_their_own() {
    let (mut a, mut server, mut b) = r1_in_the_fridge(361);
    let clock = a.clock.clone();
    // Offline, both sensors see the fridge warm: each excursion takes the 10 units it saw.
    let e1 = warm_fridge(&mut a.ledger, &clock);
    let e2 = warm_fridge(&mut b.ledger, &clock);
    assert_eq!((e1.quarantined_units, e2.quarantined_units), (10, 10));
    sync(&mut b.ledger, &mut server.ledger);
    sync(&mut a.ledger, &mut server.ledger);
    // A holds both: the same units quarantined twice (available −10 is listed for review).
    assert_eq!(
        fridge_stock(&a.ledger),
        vec![("R1".to_string(), StockStatus::Available, -10), ("R1".to_string(), StockStatus::Quarantined, 20)]
    );
    // A's manager releases E1 knowing of E2: E1's 10, not the 20 on the key (E2's are B's to judge).
    a.ledger.resolve_excursion(&e1.id, "boss", "checked", false).unwrap();
    assert_eq!(fridge_stock(&a.ledger), vec![("R1".to_string(), StockStatus::Quarantined, 10)], "available back to 0");
    b.ledger.resolve_excursion(&e2.id, "boss", "checked", false).unwrap();
    sync(&mut a.ledger, &mut server.ledger);
    sync(&mut b.ledger, &mut server.ledger);
    sync(&mut a.ledger, &mut server.ledger);
    // Ten units in the fridge, ten available: nothing let out twice, nothing below zero.
    let released = vec![("R1".to_string(), StockStatus::Available, 10)];
    for ledger in [&a.ledger, &b.ledger, &server.ledger] {
        assert_eq!(fridge_stock(ledger), released);
        assert!(ledger.negative_exceptions().unwrap().is_empty());
    }
    assert_eq!(replica(&a.ledger), replica(&b.ledger));
}

fn count_main(ledger: &mut Ledger, lot: &str, quantity: i64) -> PostedRef {
    ledger
        .post(&request(DocumentKind::Stocktake, "boss", "MAIN", vec![line(SYRINGE, Some(lot), None, quantity)]))
        .unwrap()
}

#[test]
fn a_count_with_another_nodes_movement_within_the_skew_window_is_ambiguous_everywhere_until_recounted() {
    let mut a = hospital();
    let clock = a.clock.clone();
    let mut server = node("SRV", 401, &clock);
    let mut b = node("S02", 402, &clock);
    link(&mut a.ledger, &server.ledger);
    link(&mut b.ledger, &server.ledger);
    receive(&mut a, SYRINGE, "L1", "2027-06-30", 40);
    receive(&mut a, SYRINGE, "L2", "2027-06-30", 40);
    sync(&mut a.ledger, &mut server.ledger);
    sync(&mut b.ledger, &mut server.ledger);
    // Offline: A counts L1 and L2; B issues 5 of L1 two minutes later and 5 of L2 six minutes later.
    count_main(&mut a.ledger, "L1", 38);
    count_main(&mut a.ledger, "L2", 40);
    let counted_at = clock.now_ms();
    clock.advance_ms(2 * MINUTE);
    b.ledger.post(&request(DocumentKind::Issue, "wang", "MAIN", vec![line(SYRINGE, Some("L1"), None, 5)])).unwrap();
    clock.advance_ms(4 * MINUTE);
    b.ledger.post(&request(DocumentKind::Issue, "wang", "MAIN", vec![line(SYRINGE, Some("L2"), None, 5)])).unwrap();
    // A's own movement right after its count is not ambiguous: A knew of it.
    a.ledger.post(&request(DocumentKind::Issue, "wang", "MAIN", vec![line(SYRINGE, Some("L1"), None, 1)])).unwrap();
    assert!(a.ledger.ambiguous_counts().unwrap().is_empty(), "nothing from another node yet");
    sync(&mut a.ledger, &mut server.ledger);
    sync(&mut b.ledger, &mut server.ledger);
    sync(&mut a.ledger, &mut server.ledger);

    let listed = a.ledger.ambiguous_counts().unwrap();
    assert_eq!(listed, b.ledger.ambiguous_counts().unwrap(), "the same on every node");
    assert_eq!(listed, server.ledger.ambiguous_counts().unwrap());
    assert_eq!(listed.len(), 1, "L2's issue came 6 minutes after its count, beyond the window: {listed:?}");
    let count = &listed[0];
    assert_eq!((count.item.as_str(), count.lot.as_str(), count.location.as_str()), (SYRINGE, "L1", "MAIN"));
    assert_eq!((count.counted, count.expected, count.balance), (38, Some(40), 32));
    assert_eq!(count.node, a.ledger.node_info().unwrap().id);
    assert!(count.document_number.as_deref().is_some_and(|n| n.starts_with("PD-S01-")));
    assert_eq!(count.movements.len(), 1);
    let issue = &count.movements[0];
    assert_eq!((issue.kind.as_str(), issue.quantity), ("issue", -5));
    assert_eq!(issue.node, b.ledger.node_info().unwrap().id);
    assert_eq!(issue.offset_ms, 2 * MINUTE);
    assert_eq!(issue.at_ms, count.counted_at_ms + 2 * MINUTE);
    assert!(count.counted_at_ms <= counted_at);

    // A recount once things have settled resolves it, on every node.
    clock.advance_ms(10 * MINUTE);
    count_main(&mut a.ledger, "L1", 32);
    sync(&mut a.ledger, &mut server.ledger);
    sync(&mut b.ledger, &mut server.ledger);
    assert!(a.ledger.ambiguous_counts().unwrap().is_empty());
    assert!(b.ledger.ambiguous_counts().unwrap().is_empty());
}

#[test]
fn a_release_made_knowing_of_an_excursion_stamped_earlier_by_a_slow_clock_stands() {
    // B's clock is a day slow: the remote times it pulls are too far ahead to move its
    // clock, so E2, opened on B after B saw E1, is stamped a day before E1's quarantine.
    let mut a = hospital();
    let clock = a.clock.clone();
    let slow = ManualClock::at_date(today());
    slow.advance_ms(clock.now_ms() - slow.now_ms() - 24 * 60 * MINUTE);
    let mut server = node("SRV", 331, &clock);
    let mut b = node("S02", 332, &slow);
    link(&mut a.ledger, &server.ledger);
    link(&mut b.ledger, &server.ledger);
    add_fridge(&mut a);
    fridge_rules(&mut a.ledger);
    a.ledger
        .post(&request(DocumentKind::Receipt, "wang", "FR1", vec![line(REAGENT, Some("R1"), Some("2027-03-31"), 10)]))
        .unwrap();
    let e1 = warm_fridge(&mut a.ledger, &clock);
    sync(&mut a.ledger, &mut server.ledger);
    sync(&mut b.ledger, &mut server.ledger);
    fridge_rules(&mut b.ledger);
    let e2 = warm_fridge(&mut b.ledger, &slow);
    assert_eq!(e2.quarantined_units, 0, "B sees nothing available: E2 only holds R1");
    // A has seen E2's hold before its manager releases E1: the release names E2 and stands.
    sync(&mut b.ledger, &mut server.ledger);
    sync(&mut a.ledger, &mut server.ledger);
    a.ledger.resolve_excursion(&e1.id, "boss", "judged with E2 in view", false).unwrap();
    sync(&mut a.ledger, &mut server.ledger);
    sync(&mut b.ledger, &mut server.ledger);
    sync(&mut a.ledger, &mut server.ledger);
    let released = vec![("R1".to_string(), StockStatus::Available, 10)];
    assert_eq!(fridge_stock(&a.ledger), released, "A");
    assert_eq!(fridge_stock(&b.ledger), released, "B");
    assert_eq!(fridge_stock(&server.ledger), released, "server");
    assert_eq!(replica(&a.ledger), replica(&b.ledger));
}
