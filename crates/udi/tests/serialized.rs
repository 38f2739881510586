//! Serial-tracked items: when the caller knows the scanned item carries a
//! serial, a separator-less scan whose lot swallowed "21…" reads as lot and
//! serial (the most common UDI layout, (01)(17)(10)(21), after a keyboard
//! wedge dropped its GS). Without that knowledge the literal reading stands.

use chrono::NaiveDate;
use udi::{parse, Lang, Options};

fn options(serialized: bool) -> Options {
    Options { serialized, ..Options::new(NaiveDate::from_ymd_opt(2026, 11, 25).unwrap(), Lang::En) }
}

#[test]
fn a_serial_tracked_item_gets_its_serial_back_from_a_lot_that_swallowed_it() {
    let scan = parse("01095060001343521727013110LOT12321SER456", &options(true)).unwrap();
    assert_eq!(scan.reading.lot.as_deref(), Some("LOT123"));
    assert_eq!(scan.reading.serial.as_deref(), Some("SER456"));
    assert_eq!(scan.reading.warnings.iter().map(|w| w.code()).collect::<Vec<_>>(), ["separator_missing"]);
    let literal = parse("01095060001343521727013110LOT12321SER456", &options(false)).unwrap();
    assert_eq!(literal.reading.lot.as_deref(), Some("LOT12321SER456"));
    assert_eq!(literal.reading.serial, None);
}

#[test]
fn several_places_for_the_lost_separator_are_candidates_not_a_guess() {
    let scan = parse("010950600013435210A21B21C", &options(true)).unwrap();
    assert_eq!(scan.candidates.len(), 2);
    let pairs: Vec<(Option<String>, Option<String>)> =
        scan.candidates.iter().map(|c| (c.lot.clone(), c.serial.clone())).collect();
    assert!(pairs.contains(&(Some("A".into()), Some("B21C".into()))));
    assert!(pairs.contains(&(Some("A21B".into()), Some("C".into()))));
    assert_eq!(scan.reading.lot, None);
}

#[test]
fn a_scan_that_already_has_its_serial_or_its_separators_is_read_as_it_is() {
    let with_gs = parse("010950600013435210LOT1\u{1d}21SER", &options(true)).unwrap();
    assert_eq!((with_gs.reading.lot.as_deref(), with_gs.reading.serial.as_deref()), (Some("LOT1"), Some("SER")));
    assert!(with_gs.reading.warnings.is_empty());
    let serial_last = parse("01095060001343521727013121SER10", &options(true)).unwrap();
    assert_eq!(serial_last.reading.serial.as_deref(), Some("SER10"));
    assert!(serial_last.candidates.is_empty());
}
