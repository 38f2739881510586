//! Property tests of the ledger's central promises, on real SQLite files:
//! - after any sequence of receive / issue / transfer / count / correction,
//!   the cached balances equal the fold of the movements, no key is negative
//!   unless a manager's override touched it, and every refusal wrote nothing;
//! - applying the same movements in any order, with duplicates, gives the
//!   same balances (the count sets its key as of its HLC, wherever it lands).

mod common;
use common::*;
use ledger::balance::MovementRecord;
use ledger::*;
use proptest::prelude::*;
use std::collections::BTreeMap;

const ITEMS: [&str; 2] = [SYRINGE, STENT];
const LOTS: [&str; 3] = ["A", "B", "C"];
const LOCATIONS: [&str; 3] = ["MAIN", "ICU-STORE", "COLD"];

#[derive(Debug, Clone)]
enum Op {
    Receive { item: usize, lot: usize, location: usize, quantity: i64, serial: u8 },
    Issue { item: usize, lot: Option<usize>, location: usize, quantity: i64, serial: u8, emergency: bool },
    Transfer { item: usize, lot: Option<usize>, from: usize, to: usize, quantity: i64, serial: u8 },
    Count { item: usize, lot: usize, location: usize, quantity: i64, serial: u8 },
    Correct { nth: usize, emergency: bool },
    Wait { ms: i64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..2usize, 0..3usize, 0..3usize, 1..40i64, 0..4u8)
            .prop_map(|(item, lot, location, quantity, serial)| Op::Receive { item, lot, location, quantity, serial }),
        3 => (0..2usize, proptest::option::of(0..3usize), 0..3usize, 1..30i64, 0..4u8, proptest::bool::weighted(0.15))
            .prop_map(|(item, lot, location, quantity, serial, emergency)| Op::Issue { item, lot, location, quantity, serial, emergency }),
        2 => (0..2usize, proptest::option::of(0..3usize), 0..3usize, 0..3usize, 1..30i64, 0..4u8)
            .prop_map(|(item, lot, from, to, quantity, serial)| Op::Transfer { item, lot, from, to, quantity, serial }),
        1 => (0..2usize, 0..3usize, 0..3usize, 0..30i64, 0..4u8)
            .prop_map(|(item, lot, location, quantity, serial)| Op::Count { item, lot, location, quantity, serial }),
        1 => (0..8usize, proptest::bool::weighted(0.3)).prop_map(|(nth, emergency)| Op::Correct { nth, emergency }),
        1 => (1..100_000i64).prop_map(|ms| Op::Wait { ms }),
    ]
}

fn serial_of(item: usize, serial: u8) -> Option<String> {
    (item == 1).then(|| format!("SN{serial}"))
}

fn quantity_of(item: usize, quantity: i64) -> i64 {
    if item == 1 {
        1
    } else {
        quantity
    }
}

fn boss() -> Option<Override> {
    Some(Override { manager: "boss".into(), reason: "emergency".into() })
}

/// Runs one op; Ok(Some(number)) when a document was posted.
fn run(h: &mut Hospital, op: &Op, posted: &[String]) -> Result<Option<String>, LedgerError> {
    let line = |item: usize, lot: Option<usize>, quantity: i64, serial: u8| LineRequest {
        item: ITEMS[item].into(),
        lot: lot.map(|l| LOTS[l].to_string()),
        expiry: lot.map(|l| date(["2027-01-31", "2027-06-30", "2028-12-31"][l])),
        serial: serial_of(item, serial),
        quantity: quantity_of(item, quantity),
        ..LineRequest::default()
    };
    let post = |h: &mut Hospital, request: DocumentRequest| h.ledger.post(&request).map(|p| Some(p.number));
    match op.clone() {
        Op::Receive { item, lot, location, quantity, serial } => post(
            h,
            request(DocumentKind::Receipt, "wang", LOCATIONS[location], vec![line(item, Some(lot), quantity, serial)]),
        ),
        Op::Issue { item, lot, location, quantity, serial, emergency } => {
            let mut r =
                request(DocumentKind::Issue, "wang", LOCATIONS[location], vec![line(item, lot, quantity, serial)]);
            r.lines[0].expiry = None;
            r.override_ = if emergency { boss() } else { None };
            post(h, r)
        }
        Op::Transfer { item, lot, from, to, quantity, serial } => {
            let mut r =
                request(DocumentKind::Transfer, "wang", LOCATIONS[from], vec![line(item, lot, quantity, serial)]);
            r.lines[0].expiry = None;
            r.to_location = Some(LOCATIONS[to].into());
            post(h, r)
        }
        Op::Count { item, lot, location, quantity, serial } => {
            let mut l = line(item, Some(lot), quantity, serial);
            l.quantity = if item == 1 { quantity % 2 } else { quantity };
            post(h, request(DocumentKind::Stocktake, "counter", LOCATIONS[location], vec![l]))
        }
        Op::Correct { nth, emergency } => match posted.get(nth) {
            Some(number) => {
                let approval = if emergency { boss() } else { None };
                h.ledger.reverse_document(number, "wang", "correction", approval.as_ref()).map(|p| Some(p.number))
            }
            None => Ok(None),
        },
        Op::Wait { ms } => {
            h.clock.advance_ms(ms);
            Ok(None)
        }
    }
}

fn balances(ledger: &Ledger) -> BTreeMap<(Vec<u8>, String, String, Vec<u8>, String), i64> {
    let conn = ledger.connection();
    let mut stmt = conn.prepare("SELECT item_id, lot, serial, location_id, status, quantity FROM balances").unwrap();
    stmt.query_map([], |r| Ok(((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?), r.get(5)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// The stock list as text lines, in its order.
fn stock_lines(ledger: &Ledger, filter: &StockFilter) -> Vec<String> {
    let rows = ledger.stock(filter).unwrap();
    rows.iter()
        .map(|r| {
            format!(
                "{} {} {:?} {} {} {} {} {} {}",
                r.item.code,
                r.item.name,
                r.lot,
                r.expiry.map(|d| d.to_string()).unwrap_or_default(),
                r.location.code,
                r.location.name,
                r.serial.as_deref().unwrap_or(""),
                r.status,
                r.quantity
            )
        })
        .collect()
}

/// The same list from one plain SQL join and ORDER BY: item code, expiry (none
/// last), location code, lot, serial, status. A search (trimmed, any case) matches
/// the item's code or names, the lot or the serial (the needles here are not
/// digits, so the GTIN, which is the code here, cannot match alone).
fn stock_by_sql(ledger: &Ledger, filter: &StockFilter) -> Vec<String> {
    let mut stmt = ledger
        .connection()
        .prepare(
            "SELECT i.code, i.name, b.lot, coalesce(b.expires_on, ''), l.code, l.name, b.serial, b.status, b.quantity
             FROM balances b JOIN items i ON i.id = b.item_id JOIN locations l ON l.id = b.location_id
             WHERE (?1 OR b.quantity <> 0) AND (?2 IS NULL OR l.code = ?2)
               AND (?3 IS NULL OR instr(lower(i.code), ?3) OR instr(lower(i.name), ?3) OR instr(lower(i.name_en), ?3)
                    OR instr(lower(b.lot), ?3) OR instr(lower(b.serial), ?3))
             ORDER BY i.code, b.expires_on IS NULL, b.expires_on, l.code, b.lot, b.serial, b.status",
        )
        .unwrap();
    let needle = filter.search.as_deref().map(|s| s.trim().to_lowercase());
    stmt.query_map(rusqlite::params![filter.include_zero, filter.location, needle], |r| {
        let lot: String = r.get(2)?;
        Ok(format!(
            "{} {} {:?} {} {} {} {} {} {}",
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            (!lot.is_empty()).then_some(lot),
            r.get::<_, String>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, String>(5)?,
            r.get::<_, String>(6)?,
            r.get::<_, String>(7)?,
            r.get::<_, i64>(8)?
        ))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

fn negative_keys_without_override(ledger: &Ledger) -> i64 {
    ledger
        .connection()
        .query_row(
            "SELECT count(*) FROM balances b WHERE b.quantity < 0 AND NOT EXISTS
               (SELECT 1 FROM movements m WHERE m.key_id = b.key_id AND m.override_by IS NOT NULL)",
            [],
            |r| r.get(0),
        )
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, max_shrink_iters: 200, ..ProptestConfig::default() })]

    #[test]
    fn cached_balances_equal_the_fold_and_refusals_write_nothing(ops in proptest::collection::vec(op(), 1..40)) {
        let mut h = hospital();
        let mut posted = Vec::new();
        for op in &ops {
            let before = snapshot(&h.ledger);
            match run(&mut h, op, &posted) {
                Ok(Some(number)) => posted.push(number),
                Ok(None) => {}
                Err(e) => {
                    prop_assert!(e.is_user_error(), "{op:?} failed in the machine: {e}");
                    prop_assert_eq!(&snapshot(&h.ledger), &before, "refused {:?} ({}) but wrote", op, e.code());
                }
            }
            prop_assert_eq!(balance::verify(h.ledger.connection()).unwrap(), vec![], "after {:?}", op);
            prop_assert_eq!(negative_keys_without_override(&h.ledger), 0, "after {:?}", op);
        }
        let filters = [(false, None, None), (true, None, None), (false, Some("ICU-STORE"), None), (true, None, Some(" b ")), (false, None, Some("Sn1"))];
        for (include_zero, location, search) in filters {
            let filter = StockFilter { location: location.map(Into::into), search: search.map(Into::into), include_zero };
            prop_assert_eq!(stock_lines(&h.ledger, &filter), stock_by_sql(&h.ledger, &filter));
        }
    }

    #[test]
    fn any_arrival_order_with_duplicates_gives_the_same_balances(
        ops in proptest::collection::vec(op(), 1..30),
        order_seed in any::<u64>(),
    ) {
        let mut a = hospital();
        let mut posted = Vec::new();
        for op in &ops {
            if let Ok(Some(number)) = run(&mut a, op, &posted) {
                posted.push(number);
            }
        }
        // Documents and corrections' links stay behind: only the fold is compared.
        let mut records: Vec<MovementRecord> = a.ledger.movement_records().unwrap()
            .into_iter()
            .map(|m| MovementRecord { document_id: None, corrects: None, ..m })
            .collect();
        let mut state = order_seed | 1;
        for i in (1..records.len()).rev() {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17;
            records.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let mut b = hospital();
        for (i, m) in records.iter().enumerate() {
            prop_assert_eq!(b.ledger.apply_movement(m).unwrap(), apply::Applied::Inserted);
            if i % 3 == 0 {
                prop_assert_eq!(b.ledger.apply_movement(m).unwrap(), apply::Applied::Duplicate);
            }
        }
        prop_assert_eq!(balance::verify(b.ledger.connection()).unwrap(), vec![]);
        prop_assert_eq!(balances(&b.ledger), balances(&a.ledger));
    }
}

#[test]
fn the_same_id_with_different_content_is_a_conflict_and_changes_nothing() {
    let mut a = hospital();
    receive(&mut a, SYRINGE, "A", "2027-01-31", 10);
    let original = MovementRecord { document_id: None, ..a.ledger.movement_records().unwrap().remove(0) };
    let mut b = hospital();
    b.ledger.apply_movement(&original).unwrap();
    let before = snapshot(&b.ledger);
    let forged = MovementRecord { quantity: 99, ..original };
    assert_eq!(b.ledger.apply_movement(&forged).unwrap_err().code(), "movement_conflict");
    assert_eq!(snapshot(&b.ledger), before);
}

#[test]
fn a_count_arriving_late_absorbs_earlier_movements_and_keeps_later_ones() {
    // Station A counts 7 at t1; station B issued 2 before t1 and 3 after it.
    let mut a = hospital();
    receive(&mut a, SYRINGE, "A", "2027-01-31", 10);
    a.clock.advance_ms(1_000);
    a.ledger.post(&request(DocumentKind::Issue, "wang", "MAIN", vec![line(SYRINGE, Some("A"), None, 2)])).unwrap();
    a.clock.advance_ms(1_000);
    a.ledger
        .post(&request(DocumentKind::Stocktake, "counter", "MAIN", vec![line(SYRINGE, Some("A"), None, 7)]))
        .unwrap();
    a.clock.advance_ms(1_000);
    a.ledger.post(&request(DocumentKind::Issue, "wang", "MAIN", vec![line(SYRINGE, Some("A"), None, 3)])).unwrap();
    assert_eq!(on_hand(&a.ledger, SYRINGE, Some("A"), "MAIN"), 4);
    let records: Vec<MovementRecord> =
        a.ledger.movement_records().unwrap().into_iter().map(|m| MovementRecord { document_id: None, ..m }).collect();
    // Arrival order: the later issue, the receipt, the count, then the earlier issue.
    let mut b = hospital();
    for i in [3, 0, 2, 1] {
        b.ledger.apply_movement(&records[i]).unwrap();
    }
    assert_eq!(on_hand(&b.ledger, SYRINGE, Some("A"), "MAIN"), 4);
    assert!(balance::verify(b.ledger.connection()).unwrap().is_empty());
}
