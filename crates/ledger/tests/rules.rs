//! Posting rules as a table: each case sets up stock, posts one request and
//! expects a refusal code; every refusal must leave the file byte-for-byte
//! unchanged in content (no partial documents, no lots, no HLC advance).

mod common;
use common::*;
use ledger::*;

struct Case {
    name: &'static str,
    request: DocumentRequest,
    code: &'static str,
}

fn issue(lines: Vec<LineRequest>) -> DocumentRequest {
    request(DocumentKind::Issue, "wang", "MAIN", lines)
}

fn transfer(to: &str, lines: Vec<LineRequest>) -> DocumentRequest {
    DocumentRequest { to_location: Some(to.into()), ..request(DocumentKind::Transfer, "wang", "MAIN", lines) }
}

fn receipt(lines: Vec<LineRequest>) -> DocumentRequest {
    request(DocumentKind::Receipt, "wang", "MAIN", lines)
}

fn cases() -> Vec<Case> {
    let ok_line = || line(SYRINGE, Some("L1"), Some("2027-06-30"), 5);
    vec![
        Case { name: "empty document", request: receipt(vec![]), code: "empty_document" },
        Case {
            name: "too many lines",
            request: receipt((0..=DOCUMENT_LINES_MAX).map(|_| ok_line()).collect()),
            code: "too_many_lines",
        },
        Case {
            name: "unknown user",
            request: DocumentRequest { user: "ghost".into(), ..receipt(vec![ok_line()]) },
            code: "unknown_user",
        },
        Case {
            name: "auditor cannot receive",
            request: DocumentRequest { user: "audit".into(), ..receipt(vec![ok_line()]) },
            code: "forbidden",
        },
        Case {
            name: "stocktaker cannot issue",
            request: DocumentRequest { user: "counter".into(), ..issue(vec![line(SYRINGE, None, None, 1)]) },
            code: "forbidden",
        },
        Case {
            name: "unknown location",
            request: DocumentRequest { location: "NOWHERE".into(), ..receipt(vec![ok_line()]) },
            code: "unknown_location",
        },
        Case {
            name: "unknown supplier",
            request: DocumentRequest { supplier: Some("SUPX".into()), ..receipt(vec![ok_line()]) },
            code: "unknown_supplier",
        },
        Case {
            name: "unknown item",
            request: receipt(vec![line("00000000000000", Some("L1"), None, 1)]),
            code: "unknown_item",
        },
        Case {
            name: "zero quantity",
            request: receipt(vec![line(SYRINGE, Some("L1"), None, 0)]),
            code: "quantity_not_positive",
        },
        Case {
            name: "negative quantity",
            request: receipt(vec![line(SYRINGE, Some("L1"), None, -3)]),
            code: "quantity_not_positive",
        },
        Case {
            name: "quantity above the line limit",
            request: receipt(vec![line(SYRINGE, Some("L1"), None, LINE_QUANTITY_MAX + 1)]),
            code: "quantity_too_large",
        },
        Case {
            name: "expiry without lot",
            request: receipt(vec![line(SYRINGE, None, Some("2027-01-01"), 1)]),
            code: "invalid_input",
        },
        Case {
            name: "receiving an expired lot",
            request: receipt(vec![line(SYRINGE, Some("OLD"), Some("2026-11-24"), 1)]),
            code: "lot_expired",
        },
        Case {
            name: "known lot with another expiry",
            request: receipt(vec![line(SYRINGE, Some("L1"), Some("2027-07-01"), 1)]),
            code: "lot_expiry_mismatch",
        },
        Case {
            name: "one new lot with two expiries in one receipt",
            request: receipt(vec![
                line(SYRINGE, Some("N1"), Some("2028-01-01"), 1),
                line(SYRINGE, Some("N1"), Some("2028-02-01"), 1),
            ]),
            code: "lot_expiry_mismatch",
        },
        Case {
            name: "production after expiry",
            request: receipt(vec![LineRequest {
                production_date: Some(date("2029-01-01")),
                ..line(SYRINGE, Some("N2"), Some("2028-01-01"), 1)
            }]),
            code: "production_after_expiry",
        },
        Case {
            name: "serialized item without serial",
            request: receipt(vec![line(STENT, Some("S1"), Some("2029-01-01"), 1)]),
            code: "serial_required",
        },
        Case {
            name: "serial on a lot-only item",
            request: receipt(vec![LineRequest { serial: Some("X".into()), ..ok_line() }]),
            code: "serial_not_tracked",
        },
        Case {
            name: "serial with quantity two",
            request: receipt(vec![LineRequest { quantity: 2, ..serial_line(STENT, "S1", "SN-NEW") }]),
            code: "serial_quantity_not_one",
        },
        Case {
            name: "serial already in stock",
            request: receipt(vec![serial_line(STENT, "S1", "SN1")]),
            code: "serial_already_in_stock",
        },
        Case {
            name: "same serial twice in one receipt",
            request: receipt(vec![serial_line(STENT, "S1", "SN9"), serial_line(STENT, "S1", "SN9")]),
            code: "duplicate_serial",
        },
        Case {
            name: "negative unit cost",
            request: receipt(vec![LineRequest { unit_cost: Some("-1.5".parse().unwrap()), ..ok_line() }]),
            code: "invalid_input",
        },
        Case {
            name: "issue without department",
            request: DocumentRequest { department: None, ..issue(vec![line(SYRINGE, None, None, 1)]) },
            code: "department_required",
        },
        Case {
            name: "issue to unknown department",
            request: DocumentRequest { department: Some("XX".into()), ..issue(vec![line(SYRINGE, None, None, 1)]) },
            code: "unknown_department",
        },
        Case {
            name: "issue beyond on-hand",
            request: issue(vec![line(SYRINGE, Some("L1"), None, 11)]),
            code: "insufficient_stock",
        },
        Case {
            name: "FEFO issue beyond all fresh stock",
            request: issue(vec![line(SYRINGE, None, None, 16)]),
            code: "insufficient_stock",
        },
        Case {
            name: "two lines jointly beyond on-hand",
            request: issue(vec![line(SYRINGE, Some("L1"), None, 6), line(SYRINGE, Some("L1"), None, 5)]),
            code: "insufficient_stock",
        },
        Case {
            name: "issue of an expired lot",
            request: issue(vec![line(SYRINGE, Some("EXP"), None, 1)]),
            code: "lot_expired",
        },
        Case {
            name: "issue of an unknown lot",
            request: issue(vec![line(SYRINGE, Some("NOPE"), None, 1)]),
            code: "unknown_lot",
        },
        Case {
            name: "issue of a serialized item without serial",
            request: issue(vec![line(STENT, None, None, 1)]),
            code: "serial_required",
        },
        Case {
            name: "issue of a serial not in stock",
            request: issue(vec![LineRequest { serial: Some("SN404".into()), ..line(STENT, None, None, 1) }]),
            code: "serial_not_in_stock",
        },
        Case {
            name: "issue of a serial from another location",
            request: DocumentRequest {
                location: "ICU-STORE".into(),
                ..issue(vec![LineRequest { serial: Some("SN1".into()), ..line(STENT, None, None, 1) }])
            },
            code: "serial_not_in_stock",
        },
        Case {
            name: "override by a clerk",
            request: DocumentRequest {
                override_: Some(Override { manager: "wang".into(), reason: "emergency".into() }),
                ..issue(vec![line(SYRINGE, Some("L1"), None, 50)])
            },
            code: "override_not_manager",
        },
        Case {
            name: "override without reason",
            request: DocumentRequest {
                override_: Some(Override { manager: "boss".into(), reason: " ".into() }),
                ..issue(vec![line(SYRINGE, Some("L1"), None, 50)])
            },
            code: "override_reason_required",
        },
        Case {
            name: "override never issues expired stock",
            request: DocumentRequest {
                override_: Some(Override { manager: "boss".into(), reason: "emergency".into() }),
                ..issue(vec![line(SYRINGE, Some("EXP"), None, 1)])
            },
            code: "lot_expired",
        },
        Case {
            name: "transfer without destination",
            request: request(DocumentKind::Transfer, "wang", "MAIN", vec![line(SYRINGE, None, None, 1)]),
            code: "destination_required",
        },
        Case {
            name: "transfer to itself",
            request: transfer("MAIN", vec![line(SYRINGE, None, None, 1)]),
            code: "same_location",
        },
        Case {
            name: "transfer to unknown location",
            request: transfer("MARS", vec![line(SYRINGE, None, None, 1)]),
            code: "unknown_location",
        },
        Case {
            name: "expired stock to a department store",
            request: transfer("ICU-STORE", vec![line(SYRINGE, Some("EXP"), None, 1)]),
            code: "expired_to_department",
        },
        Case {
            name: "transfer beyond on-hand",
            request: transfer("COLD", vec![line(SYRINGE, Some("L1"), None, 99)]),
            code: "insufficient_stock",
        },
        Case {
            name: "negative count",
            request: request(DocumentKind::Stocktake, "counter", "MAIN", vec![line(SYRINGE, Some("L1"), None, -1)]),
            code: "invalid_input",
        },
        Case {
            name: "same key counted twice on one sheet",
            request: request(
                DocumentKind::Stocktake,
                "counter",
                "MAIN",
                vec![line(SYRINGE, Some("L1"), None, 1), line(SYRINGE, Some("L1"), None, 2)],
            ),
            code: "invalid_input",
        },
        Case {
            name: "auditor cannot count",
            request: request(DocumentKind::Stocktake, "audit", "MAIN", vec![line(SYRINGE, Some("L1"), None, 1)]),
            code: "forbidden",
        },
        Case {
            name: "serial count above one",
            request: request(
                DocumentKind::Stocktake,
                "counter",
                "MAIN",
                vec![LineRequest { quantity: 2, ..serial_line(STENT, "S1", "SN1") }],
            ),
            code: "serial_quantity_not_one",
        },
        Case {
            name: "lot number with a control character",
            request: receipt(vec![line(SYRINGE, Some("L\u{1d}9"), Some("2028-01-01"), 1)]),
            code: "invalid_input",
        },
        Case {
            name: "note too long",
            request: DocumentRequest { note: "x".repeat(1_001), ..receipt(vec![ok_line()]) },
            code: "invalid_input",
        },
        Case {
            name: "correction documents are not posted directly",
            request: DocumentRequest { kind: DocumentKind::Correction, ..receipt(vec![ok_line()]) },
            code: "invalid_input",
        },
    ]
}

/// Stock for the cases: L1 ×10 and L2 ×5 fresh, EXP ×4 received before it expired, serial SN1.
fn stocked() -> Hospital {
    let mut h = hospital();
    h.clock.advance_days(-400);
    receive(&mut h, SYRINGE, "EXP", "2026-01-31", 4);
    h.clock.advance_days(400);
    receive(&mut h, SYRINGE, "L1", "2027-06-30", 10);
    receive(&mut h, SYRINGE, "L2", "2027-09-30", 5);
    h.ledger.post(&request(DocumentKind::Receipt, "wang", "MAIN", vec![serial_line(STENT, "S1", "SN1")])).unwrap();
    h
}

#[test]
fn every_refusal_has_its_code_and_writes_nothing() {
    let mut failures = Vec::new();
    for case in cases() {
        let mut h = stocked();
        let before = snapshot(&h.ledger);
        match h.ledger.post(&case.request) {
            Ok(posted) => failures.push(format!("{}: posted {} instead of {}", case.name, posted.number, case.code)),
            Err(e) => {
                if e.code() != case.code {
                    failures.push(format!("{}: got {} ({e}) instead of {}", case.name, e.code(), case.code));
                }
                for lang in [Lang::Zh, Lang::En] {
                    let message = e.message(lang);
                    assert!(!message.is_empty() && !message.contains('\n'), "{}: message {message:?}", case.name);
                }
            }
        }
        if snapshot(&h.ledger) != before {
            failures.push(format!("{}: the refusal wrote to the database", case.name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn fefo_issue_takes_the_earliest_fresh_lot_first_and_splits() {
    let mut h = stocked();
    let posted = h.ledger.post(&issue(vec![line(SYRINGE, None, None, 12)])).unwrap();
    let doc = h.ledger.document(&posted.number).unwrap();
    let taken: Vec<(Option<String>, i64)> = doc.lines.iter().map(|l| (l.lot.clone(), l.quantity)).collect();
    assert_eq!(taken, vec![(Some("L1".into()), 10), (Some("L2".into()), 2)]);
    assert_eq!(on_hand(&h.ledger, SYRINGE, Some("EXP"), "MAIN"), 4, "expired stock is never picked");
    assert_eq!(on_hand(&h.ledger, SYRINGE, Some("L2"), "MAIN"), 3);
    assert!(posted.number.starts_with("CK-S01-"));
}

#[test]
fn fefo_choices_list_expired_lots_marked_and_last_to_pick() {
    let h = stocked();
    let choices = h.ledger.fefo_choices(SYRINGE, "MAIN").unwrap();
    let lots: Vec<(&str, bool)> = choices.iter().map(|c| (c.lot.as_deref().unwrap(), c.expired)).collect();
    assert_eq!(lots, vec![("EXP", true), ("L1", false), ("L2", false)]);
    let stent = h.ledger.fefo_choices(STENT, "MAIN").unwrap();
    assert_eq!(stent[0].serial.as_deref(), Some("SN1"));
}

#[test]
fn manager_override_allows_an_emergency_issue_beyond_stock_and_records_why() {
    let mut h = stocked();
    let request = DocumentRequest {
        override_: Some(Override { manager: "boss".into(), reason: "急诊抢救 emergency".into() }),
        ..issue(vec![line(SYRINGE, Some("L1"), None, 13)])
    };
    let posted = h.ledger.post(&request).unwrap();
    assert_eq!(on_hand(&h.ledger, SYRINGE, Some("L1"), "MAIN"), -3);
    let doc = h.ledger.document(&posted.id).unwrap();
    assert_eq!(doc.movements[0].override_by.as_deref(), Some("boss"));
    assert_eq!(doc.movements[0].reason.as_deref(), Some("急诊抢救 emergency"));
    assert!(balance::verify(h.ledger.connection()).unwrap().is_empty());
}

#[test]
fn serialized_items_move_one_serial_at_a_time_and_are_traceable() {
    let mut h = stocked();
    let out = DocumentRequest {
        to_location: Some("ICU-STORE".into()),
        ..request(
            DocumentKind::Transfer,
            "wang",
            "MAIN",
            vec![LineRequest { serial: Some("SN1".into()), ..line(STENT, None, None, 1) }],
        )
    };
    h.ledger.post(&out).unwrap();
    let trace = h.ledger.trace("SN1").unwrap();
    let kinds: Vec<MovementKind> = trace.iter().map(|m| m.kind).collect();
    assert_eq!(kinds, vec![MovementKind::Receive, MovementKind::TransferOut, MovementKind::TransferIn]);
    assert_eq!(trace[2].location, "ICU-STORE");
    // Received again elsewhere while it is still in stock: refused.
    let again = h.ledger.post(&request(DocumentKind::Receipt, "wang", "COLD", vec![serial_line(STENT, "S1", "SN1")]));
    assert_eq!(again.unwrap_err().code(), "serial_already_in_stock");
}

#[test]
fn a_gtin_13_or_hibc_identifier_finds_the_same_item() {
    let mut h = stocked();
    h.ledger.post(&receipt(vec![line("9506000134352", Some("L1"), None, 1)])).unwrap();
    h.ledger.post(&receipt(vec![line("+A99912345/$$52001510X3", Some("L1"), None, 1)])).unwrap();
    assert_eq!(on_hand(&h.ledger, SYRINGE, Some("L1"), "MAIN"), 12);
}

#[test]
fn document_numbers_count_per_kind_and_carry_the_site() {
    let mut h = hospital();
    let a = receive(&mut h, SYRINGE, "L1", "2027-06-30", 1);
    let b = receive(&mut h, SYRINGE, "L1", "2027-06-30", 1);
    let c = h.ledger.post(&issue(vec![line(SYRINGE, None, None, 1)])).unwrap();
    assert_eq!(
        (a.number.as_str(), b.number.as_str(), c.number.as_str()),
        ("RK-S01-000001", "RK-S01-000002", "CK-S01-000001")
    );
}

#[test]
fn reversing_a_receipt_compensates_each_movement_once() {
    let mut h = hospital();
    let posted = receive(&mut h, SYRINGE, "L1", "2027-06-30", 10);
    assert_eq!(h.ledger.reverse_document(&posted.number, "audit", "wrong lot", None).unwrap_err().code(), "forbidden");
    assert_eq!(h.ledger.reverse_document(&posted.number, "wang", " ", None).unwrap_err().code(), "invalid_input");
    let correction = h.ledger.reverse_document(&posted.number, "wang", "wrong lot", None).unwrap();
    assert!(correction.number.starts_with("CZ-S01-"));
    assert_eq!(on_hand(&h.ledger, SYRINGE, Some("L1"), "MAIN"), 0);
    let doc = h.ledger.document(&correction.id).unwrap();
    let original = h.ledger.document(&posted.id).unwrap();
    assert_eq!(doc.movements[0].corrects.as_deref(), Some(original.movements[0].id.as_str()));
    assert_eq!(doc.movements[0].quantity, -10);
    let before = snapshot(&h.ledger);
    assert_eq!(
        h.ledger.reverse_document(&posted.number, "wang", "again", None).unwrap_err().code(),
        "already_corrected"
    );
    assert_eq!(
        h.ledger.reverse_document(&correction.number, "wang", "undo", None).unwrap_err().code(),
        "not_reversible"
    );
    assert_eq!(snapshot(&h.ledger), before);
}

#[test]
fn reversing_a_receipt_already_issued_needs_a_manager() {
    let mut h = hospital();
    let posted = receive(&mut h, SYRINGE, "L1", "2027-06-30", 10);
    h.ledger.post(&issue(vec![line(SYRINGE, None, None, 4)])).unwrap();
    let refused = h.ledger.reverse_document(&posted.number, "wang", "wrong delivery", None).unwrap_err();
    assert_eq!(refused.code(), "insufficient_stock");
    let boss = Override { manager: "boss".into(), reason: "wrong delivery".into() };
    h.ledger.reverse_document(&posted.number, "wang", "wrong delivery", Some(&boss)).unwrap();
    assert_eq!(on_hand(&h.ledger, SYRINGE, Some("L1"), "MAIN"), -4);
}

#[test]
fn a_count_sets_the_balance_and_records_what_the_station_expected() {
    let mut h = hospital();
    receive(&mut h, SYRINGE, "L1", "2027-06-30", 10);
    let posted = h
        .ledger
        .post(&request(DocumentKind::Stocktake, "counter", "MAIN", vec![line(SYRINGE, Some("L1"), None, 7)]))
        .unwrap();
    assert_eq!(on_hand(&h.ledger, SYRINGE, Some("L1"), "MAIN"), 7);
    let doc = h.ledger.document(&posted.number).unwrap();
    assert_eq!((doc.movements[0].quantity, doc.movements[0].expected_quantity), (7, Some(10)));
    h.ledger.post(&issue(vec![line(SYRINGE, None, None, 2)])).unwrap();
    assert_eq!(on_hand(&h.ledger, SYRINGE, Some("L1"), "MAIN"), 5);
    assert!(balance::verify(h.ledger.connection()).unwrap().is_empty());
}

#[test]
fn drafts_are_editable_until_posted_then_frozen() {
    let mut h = hospital();
    let draft = h.ledger.save_draft(&receipt(vec![line(SYRINGE, Some("L1"), Some("2027-06-30"), 10)])).unwrap();
    assert_eq!(h.ledger.document(&draft).unwrap().status, DocumentStatus::Draft);
    assert_eq!(on_hand(&h.ledger, SYRINGE, Some("L1"), "MAIN"), 0, "a draft moves nothing");
    let posted = h.ledger.post_draft(&draft, "wang", None).unwrap();
    assert_eq!(posted.id, draft);
    assert_eq!(on_hand(&h.ledger, SYRINGE, Some("L1"), "MAIN"), 10);
    assert_eq!(h.ledger.post_draft(&draft, "wang", None).unwrap_err().code(), "not_a_draft");
    assert_eq!(h.ledger.cancel_draft(&draft, "wang").unwrap_err().code(), "not_a_draft");
}

#[test]
fn an_invalid_draft_is_refused_at_posting_and_stays_a_draft() {
    let mut h = hospital();
    let draft = h.ledger.save_draft(&issue(vec![line(SYRINGE, None, None, 10)])).unwrap();
    let before = snapshot(&h.ledger);
    assert_eq!(h.ledger.post_draft(&draft, "wang", None).unwrap_err().code(), "insufficient_stock");
    assert_eq!(snapshot(&h.ledger), before);
    h.ledger.cancel_draft(&draft, "wang").unwrap();
    assert_eq!(h.ledger.document(&draft).unwrap().status, DocumentStatus::Cancelled);
}

#[test]
fn master_data_refuses_duplicates_and_bad_values() {
    let mut h = hospital();
    let before = snapshot(&h.ledger);
    let item = |code: &str| NewItem { code: code.into(), name: "x".into(), pack_size: 1, ..NewItem::default() };
    for (result, code) in [
        (h.ledger.add_item(&item(SYRINGE)).map(|_| ()), "duplicate_code"),
        (h.ledger.add_item(&item("9506000134352")).map(|_| ()), "duplicate_code"),
        (h.ledger.add_item(&item("09506000134353")).map(|_| ()), "invalid_input"),
        (h.ledger.add_item(&NewItem { pack_size: 0, ..item("NEW1") }).map(|_| ()), "invalid_input"),
        (h.ledger.add_item(&NewItem { cold_chain: true, ..item("NEW2") }).map(|_| ()), "invalid_input"),
        (h.ledger.add_item(&NewItem { name: "".into(), ..item("NEW3") }).map(|_| ()), "invalid_input"),
        (
            h.ledger.add_item(&NewItem { default_supplier: Some("NOPE".into()), ..item("NEW4") }).map(|_| ()),
            "unknown_supplier",
        ),
        (h.ledger.add_supplier("SUP1", "again", "", "").map(|_| ()), "duplicate_code"),
        (h.ledger.add_department("ICU", "again", "", "", None).map(|_| ()), "duplicate_code"),
        (
            h.ledger
                .add_user(&NewUser {
                    username: "wang".into(),
                    display_name: "".into(),
                    role: Role::Clerk,
                    language: Lang::Zh,
                })
                .map(|_| ()),
            "duplicate_code",
        ),
    ] {
        assert_eq!(result.unwrap_err().code(), code);
    }
    assert_eq!(snapshot(&h.ledger), before);
}
