//! Cold-chain rules with an injected clock: the excursion threshold's edges,
//! missing readings, quarantine of the unit's stock, release and scrap by a
//! manager, the temperature gate on issues, and logger imports.

mod common;
use common::*;
use ledger::*;
use rust_decimal::Decimal;

const MINUTE: i64 = 60_000;

/// A 2–8 °C fridge FR1 (30 min out of range, 60 min without readings, 15 min gate) with 10 reagents in it.
fn fridge() -> Hospital {
    let mut h = hospital();
    h.ledger
        .add_location(&NewLocation {
            code: "FR1".into(),
            name: "试剂冰箱".into(),
            name_en: "Reagent fridge".into(),
            kind: LocationKind::Cold,
            department: None,
            min_temp_c: Some(Decimal::new(2, 0)),
            max_temp_c: Some(Decimal::new(8, 0)),
        })
        .unwrap();
    h.ledger
        .set_cold_unit("boss", "FR1", ColdUnitRules { excursion_minutes: 30, missing_minutes: 60, gate_minutes: 15 })
        .unwrap();
    h.ledger
        .post(&request(DocumentKind::Receipt, "wang", "FR1", vec![line(REAGENT, Some("R1"), Some("2027-03-31"), 10)]))
        .unwrap();
    h
}

fn read(h: &mut Hospital, temperature: f64) {
    let now = h.clock.now_ms();
    h.ledger.record_reading("FR1", "/dev/ttyUSB0#1", now, temperature, Some(40.0)).unwrap();
}

fn minutes(h: &mut Hospital, n: i64) {
    h.clock.advance_ms(n * MINUTE);
}

fn available(h: &Hospital) -> i64 {
    on_hand(&h.ledger, REAGENT, Some("R1"), "FR1")
}

fn quarantined(h: &Hospital) -> i64 {
    h.ledger
        .stock(&StockFilter { location: Some("FR1".into()), search: None, include_zero: true })
        .unwrap()
        .into_iter()
        .filter(|r| r.status == StockStatus::Quarantined)
        .map(|r| r.quantity)
        .sum()
}

fn issue_reagent(h: &mut Hospital, quantity: i64) -> Result<PostedRef, LedgerError> {
    h.ledger.post(&request(DocumentKind::Issue, "wang", "FR1", vec![line(REAGENT, Some("R1"), None, quantity)]))
}

#[test]
fn out_of_range_for_less_than_the_threshold_is_no_excursion_and_at_the_threshold_it_is() {
    for (minutes_out, excursion) in [(29, false), (30, true)] {
        let mut h = fridge();
        read(&mut h, 5.0);
        minutes(&mut h, 1);
        read(&mut h, 9.5); // the door was left open
        minutes(&mut h, minutes_out);
        read(&mut h, 10.2);
        let opened = h.ledger.check_cold_chain("wang").unwrap();
        assert_eq!(opened.len(), usize::from(excursion), "{minutes_out} min out of range");
        if excursion {
            assert_eq!(
                (opened[0].kind.as_str(), opened[0].worst_c, opened[0].quarantined_units),
                ("out_of_range", Some(10.2), 10)
            );
            assert_eq!((available(&h), quarantined(&h)), (0, 10));
        } else {
            assert_eq!((available(&h), quarantined(&h)), (10, 0));
        }
    }
}

#[test]
fn a_reading_back_in_range_ends_the_run_and_a_second_check_opens_nothing_new() {
    let mut h = fridge();
    read(&mut h, 9.0);
    minutes(&mut h, 20);
    read(&mut h, 6.0); // back in range before the threshold
    minutes(&mut h, 20);
    read(&mut h, 9.0);
    assert!(h.ledger.check_cold_chain("wang").unwrap().is_empty());
    minutes(&mut h, 30);
    read(&mut h, 9.1);
    assert_eq!(h.ledger.check_cold_chain("wang").unwrap().len(), 1);
    minutes(&mut h, 5);
    read(&mut h, 9.2);
    assert!(h.ledger.check_cold_chain("wang").unwrap().is_empty(), "one open excursion per unit");
    assert_eq!(h.ledger.excursions(true).unwrap().len(), 1);
}

#[test]
fn no_reading_for_too_long_is_an_excursion() {
    let mut h = fridge();
    read(&mut h, 5.0);
    minutes(&mut h, 59);
    assert!(h.ledger.check_cold_chain("wang").unwrap().is_empty());
    minutes(&mut h, 1);
    let opened = h.ledger.check_cold_chain("wang").unwrap();
    assert_eq!((opened.len(), opened[0].kind.as_str()), (1, "no_reading"));
    assert_eq!(quarantined(&h), 10);
}

#[test]
fn quarantined_stock_is_never_issued_until_a_manager_releases_it() {
    let mut h = fridge();
    read(&mut h, 12.0);
    minutes(&mut h, 31);
    read(&mut h, 12.5);
    let excursion = h.ledger.check_cold_chain("wang").unwrap().remove(0);
    minutes(&mut h, 1);
    read(&mut h, 5.0);
    assert_eq!(issue_reagent(&mut h, 1).unwrap_err().code(), "insufficient_stock");
    assert_eq!(h.ledger.resolve_excursion(&excursion.id, "wang", "checked", false).unwrap_err().code(), "forbidden");
    assert_eq!(h.ledger.resolve_excursion(&excursion.id, "boss", " ", false).unwrap_err().code(), "invalid_input");
    let released =
        h.ledger.resolve_excursion(&excursion.id, "boss", "stability data allow 4 h at 15 °C", false).unwrap();
    assert_eq!((released.status.as_str(), released.resolved_by.as_deref()), ("released", Some("boss")));
    assert_eq!((available(&h), quarantined(&h)), (10, 0));
    issue_reagent(&mut h, 2).unwrap();
    assert_eq!(available(&h), 8);
    assert_eq!(
        h.ledger.resolve_excursion(&excursion.id, "boss", "again", true).unwrap_err().code(),
        "excursion_closed"
    );
    assert!(balance::verify(h.ledger.connection()).unwrap().is_empty());
}

#[test]
fn a_manager_may_scrap_what_an_excursion_quarantined() {
    let mut h = fridge();
    read(&mut h, 25.0);
    minutes(&mut h, 45);
    read(&mut h, 24.0);
    let excursion = h.ledger.check_cold_chain("wang").unwrap().remove(0);
    let scrapped = h.ledger.resolve_excursion(&excursion.id, "boss", "fridge failed overnight", true).unwrap();
    assert_eq!(scrapped.status, "scrapped");
    assert_eq!((available(&h), quarantined(&h)), (0, 0));
}

#[test]
fn the_gate_needs_a_fresh_in_range_reading_or_a_clerks_measurement() {
    let mut h = fridge();
    // No reading at all: refused, and nothing written.
    let before = snapshot(&h.ledger);
    assert_eq!(issue_reagent(&mut h, 1).unwrap_err().code(), "temperature_check_required");
    assert_eq!(snapshot(&h.ledger), before);
    // A sensor reading 10 minutes old and in range: the issue goes.
    read(&mut h, 4.5);
    minutes(&mut h, 10);
    issue_reagent(&mut h, 1).unwrap();
    // 16 minutes old: too old.
    minutes(&mut h, 6);
    assert_eq!(issue_reagent(&mut h, 1).unwrap_err().code(), "temperature_check_required");
    // Out of range: refused with the reading.
    read(&mut h, 9.4);
    let error = issue_reagent(&mut h, 1).unwrap_err();
    assert_eq!(error.code(), "temperature_out_of_range");
    assert!(error.message(Lang::En).contains("9.4"), "{}", error.message(Lang::En));
    // A clerk's 6.1 °C does not overrule the sensor's 9.4 °C of a minute ago…
    minutes(&mut h, 1);
    h.ledger.record_manual_reading("counter", "FR1", 6.1).unwrap();
    assert_eq!(issue_reagent(&mut h, 1).unwrap_err().code(), "temperature_out_of_range");
    // …but with no recent instrument reading it passes the gate and is kept with the issue.
    minutes(&mut h, 16);
    assert_eq!(h.ledger.record_manual_reading("audit", "FR1", 6.1).unwrap_err().code(), "forbidden");
    h.ledger.record_manual_reading("counter", "FR1", 6.1).unwrap();
    let posted = issue_reagent(&mut h, 1).unwrap();
    let kept: f64 = h
        .ledger
        .connection()
        .query_row(
            "SELECT temperature_c FROM temperature_confirmations c JOIN documents d ON d.id = c.document_id WHERE d.number = ?1",
            [&posted.number],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(kept, 6.1);
    let measured_by: String = h
        .ledger
        .connection()
        .query_row(
            "SELECT u.username FROM temperature_confirmations c JOIN users u ON u.id = c.confirmed_by",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(measured_by, "counter", "who measured, not who issued");
    // Items that are not cold-chain pass without a check.
    h.ledger
        .post(&request(DocumentKind::Receipt, "wang", "FR1", vec![line(SYRINGE, Some("S1"), Some("2028-01-31"), 5)]))
        .unwrap();
    minutes(&mut h, 120);
    h.ledger.post(&request(DocumentKind::Issue, "wang", "FR1", vec![line(SYRINGE, Some("S1"), None, 1)])).unwrap();
}

#[test]
fn a_loggers_file_is_imported_whole_or_not_at_all_and_feeds_the_rules() {
    let mut h = fridge();
    // The rules were set at 2026-11-25 09:00 UTC (17:00 at UTC+8); it is now 19:00 there.
    minutes(&mut h, 120);
    let good = "Time,Temperature(C),Humidity(%)\n2026-11-25 17:30,4.9,41\n2026-11-25 17:50:00,9.1,41\n2026-11-25 18:25,9.4,40\n";
    let bad = "2026-11-25 17:30,4.9\nyesterday,5\n";
    let error = h.ledger.import_logger_readings("FR1", bad, 480).unwrap_err();
    assert_eq!(error.code(), "import_line");
    assert!(h.ledger.readings("FR1", 0).unwrap().is_empty());
    assert_eq!(h.ledger.import_logger_readings("FR1", good, 480).unwrap(), 3);
    // Importing the same file again changes nothing.
    assert_eq!(h.ledger.import_logger_readings("FR1", good, 480).unwrap(), 3);
    assert_eq!(h.ledger.readings("FR1", 0).unwrap().len(), 3);
    let opened = h.ledger.check_cold_chain("wang").unwrap();
    assert_eq!(opened[0].kind, "out_of_range", "9.1 at 17:50 to 9.4 at 18:25 is 35 minutes out of range");
}

#[test]
fn rules_belong_to_cold_locations_with_a_range_and_readings_must_be_temperatures() {
    let mut h = fridge();
    let rules = ColdUnitRules { excursion_minutes: 30, missing_minutes: 60, gate_minutes: 15 };
    assert_eq!(h.ledger.set_cold_unit("boss", "MAIN", rules).unwrap_err().code(), "invalid_input");
    assert_eq!(h.ledger.set_cold_unit("wang", "FR1", rules).unwrap_err().code(), "forbidden");
    let zero = ColdUnitRules { excursion_minutes: 0, ..rules };
    assert_eq!(h.ledger.set_cold_unit("boss", "FR1", zero).unwrap_err().code(), "invalid_input");
    assert_eq!(h.ledger.record_reading("FR1", "p", 0, f64::NAN, None).unwrap_err().code(), "invalid_input");
    assert_eq!(h.ledger.record_reading("FR1", "p", 0, 500.0, None).unwrap_err().code(), "invalid_input");
}

#[test]
fn a_clerks_readings_never_hide_an_instruments_excursion() {
    let mut h = fridge();
    read(&mut h, 12.0);
    for _ in 0..4 {
        minutes(&mut h, 10);
        h.ledger.record_manual_reading("counter", "FR1", 5.0).unwrap();
        read(&mut h, 12.0);
    }
    assert_eq!(h.ledger.check_cold_chain("wang").unwrap().len(), 1);
}

#[test]
fn an_excursion_that_already_ended_is_still_found() {
    let mut h = fridge();
    // The logger shows three warm hours that ended an hour before anyone looked.
    for m in (0..=180).step_by(30) {
        h.ledger.record_reading("FR1", "logger-7", h.clock.now_ms() + m * MINUTE, 15.0, None).unwrap();
    }
    minutes(&mut h, 200);
    for m in 0..=40 {
        if m % 10 == 0 {
            read(&mut h, 5.0);
        }
        minutes(&mut h, 1);
    }
    let opened = h.ledger.check_cold_chain("wang").unwrap();
    assert_eq!((opened.len(), opened[0].kind.as_str(), opened[0].worst_c), (1, "out_of_range", Some(15.0)));
}

#[test]
fn every_probe_of_a_unit_is_judged_on_its_own() {
    let mut h = fridge();
    for _ in 0..4 {
        let now = h.clock.now_ms();
        h.ledger.record_reading("FR1", "/dev/ttyUSB0#1", now, 5.0, None).unwrap();
        h.ledger.record_reading("FR1", "/dev/ttyUSB0#2", now + 1, 11.0, None).unwrap();
        minutes(&mut h, 11);
    }
    assert_eq!(h.ledger.check_cold_chain("wang").unwrap().len(), 1, "the warm probe's 33 minutes count");
}

#[test]
fn a_quarantined_key_is_not_counted_in_a_stocktake() {
    let mut h = fridge();
    read(&mut h, 12.0);
    minutes(&mut h, 31);
    read(&mut h, 12.0);
    h.ledger.check_cold_chain("wang").unwrap();
    let st = h
        .ledger
        .start_stocktake(&StocktakeRequest {
            user: "boss".into(),
            locations: vec!["FR1".into()],
            ..StocktakeRequest::default()
        })
        .unwrap();
    let entry = CountEntry {
        user: "counter".into(),
        item: REAGENT.into(),
        lot: Some("R1".into()),
        quantity: Some(10),
        ..CountEntry::default()
    };
    assert_eq!(h.ledger.record_count(&st.id, &entry).unwrap_err().code(), "key_quarantined");
}

#[test]
fn a_transfer_to_a_department_store_passes_the_gate_too() {
    let mut h = fridge();
    let mut transfer = request(DocumentKind::Transfer, "wang", "FR1", vec![line(REAGENT, Some("R1"), None, 1)]);
    transfer.to_location = Some("ICU-STORE".into());
    assert_eq!(h.ledger.post(&transfer).unwrap_err().code(), "temperature_check_required");
    read(&mut h, 5.0);
    h.ledger.post(&transfer).unwrap();
}

#[test]
fn the_cold_unit_view_shows_range_rules_newest_reading_and_what_an_excursion_quarantined() {
    let mut h = fridge();
    let unit = |h: &Hospital| h.ledger.cold_units().unwrap().into_iter().find(|u| u.code == "FR1").unwrap();
    let before = unit(&h);
    assert_eq!((before.min_c, before.max_c), (Some(2.0), Some(8.0)));
    assert_eq!(before.rules.map(|r| r.excursion_minutes), Some(30));
    assert_eq!((before.available_units, before.quarantined_units), (10, 0));
    assert!(before.latest.is_none() && before.open_excursion.is_none());

    read(&mut h, 12.0);
    minutes(&mut h, 31);
    read(&mut h, 12.4);
    assert_eq!(h.ledger.check_cold_chain("wang").unwrap().len(), 1);
    let warm = unit(&h);
    assert_eq!(warm.latest.as_ref().map(|r| r.temperature_c), Some(12.4));
    assert_eq!((warm.available_units, warm.quarantined_units), (0, 10));
    let excursion = warm.open_excursion.expect("open");
    h.ledger.resolve_excursion(&excursion.id, "boss", "checked: the door was ajar for 31 minutes", false).unwrap();
    let released = unit(&h);
    assert!(released.open_excursion.is_none());
    assert_eq!((released.available_units, released.quarantined_units), (10, 0));
}
