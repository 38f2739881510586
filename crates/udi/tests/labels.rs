//! Our internal labels read back through the same engine that reads
//! manufacturers' barcodes: encode → parse gives the same item, lot, expiry
//! and serial, in every form a scanner or a person may deliver it.

use chrono::NaiveDate;
use udi::{encode_internal_label, parse, InternalLabel, Lang, Options, Scheme};

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()
}

#[test]
fn internal_labels_read_back_exactly() {
    let options = Options::new(today(), Lang::En);
    let cases = [
        InternalLabel {
            code: "INT-000123".into(),
            lot: Some("L2026-11".into()),
            expiry: NaiveDate::from_ymd_opt(2028, 2, 29),
            serial: None,
        },
        InternalLabel { code: "KIT/7".into(), lot: None, expiry: None, serial: Some("SN0001".into()) },
        InternalLabel {
            code: "X".into(),
            lot: Some("A".into()),
            expiry: NaiveDate::from_ymd_opt(2027, 1, 31),
            serial: Some("S".into()),
        },
    ];
    for label in cases {
        let data = encode_internal_label(&label, today()).unwrap();
        for form in [data.clone(), format!("]d2{data}"), format!("]C1{data}")] {
            let scan = parse(&form, &options).unwrap();
            assert_eq!(scan.scheme, Scheme::Internal, "{form:?}");
            assert_eq!(scan.reading.di.as_deref(), Some(label.code.as_str()));
            assert_eq!(scan.reading.lot, label.lot);
            assert_eq!(scan.reading.serial, label.serial);
            assert_eq!(scan.reading.expiry, label.expiry);
            assert!(scan.reading.warnings.is_empty(), "{:?}", scan.reading.warnings);
            assert!(scan.candidates.is_empty());
        }
    }
}

#[test]
fn an_internal_label_that_would_not_read_back_is_refused() {
    let too_far =
        InternalLabel { code: "X".into(), expiry: NaiveDate::from_ymd_opt(2099, 1, 1), ..InternalLabel::default() };
    assert_eq!(encode_internal_label(&too_far, today()).unwrap_err().code(), "bad_date");
    let bad_code = InternalLabel { code: "编码".into(), ..InternalLabel::default() };
    assert_eq!(encode_internal_label(&bad_code, today()).unwrap_err().code(), "bad_character");
    let long_lot = InternalLabel { code: "X".into(), lot: Some("L".repeat(21)), ..InternalLabel::default() };
    assert_eq!(encode_internal_label(&long_lot, today()).unwrap_err().code(), "bad_length");
}
