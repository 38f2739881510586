//! Arbitrary input never panics, never hangs and never grows memory without
//! bound: property tests over raw bytes, over GS1-shaped text (where the
//! separator-recovery search does its work) and over HIBC/MA-shaped text.

use chrono::NaiveDate;
use proptest::prelude::*;
use udi::{parse, parse_bytes, Lang, Options, CANDIDATES_MAX};

fn options() -> Options {
    Options::new(NaiveDate::from_ymd_opt(2026, 11, 25).unwrap(), Lang::Zh)
}

/// Every reading's invariants hold for whatever was read.
fn check(result: Result<udi::Scan, udi::UdiError>) {
    match result {
        Ok(scan) => {
            assert!(scan.candidates.len() <= CANDIDATES_MAX);
            assert!(scan.candidates.len() != 1, "one candidate is no choice");
            if let Some(gtin) = &scan.reading.gtin {
                assert_eq!(gtin.len(), 14);
                assert!(udi::verify_gs1_check_digit(gtin).is_ok());
            }
            for w in &scan.reading.warnings {
                assert!(!w.message().is_empty());
            }
            serde_json::to_string(&scan).unwrap();
        }
        Err(e) => {
            assert!(!e.code().is_empty());
            assert!(!e.message(Lang::Zh).is_empty() && !e.message(Lang::En).is_empty());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..3000)) {
        check(parse_bytes(&bytes, &options()));
    }

    #[test]
    fn gs1_shaped_text_never_panics(text in "(\\]d2|\\]C1|\\]Q3|)[0-9A-Za-z\\x1d()%/.~-]{0,160}") {
        check(parse(&text, &options()));
    }

    #[test]
    fn digit_runs_without_separators_stay_bounded(text in "(01|10|17|21|11|30|7003)[0-9]{0,200}") {
        check(parse(&text, &options()));
    }

    #[test]
    fn hibc_and_ma_shaped_text_never_panics(text in "(\\+|\\+\\$\\$|MA\\.156\\.|\\*\\+)[0-9A-Z$/+%. a-z-]{0,120}") {
        check(parse(&text, &options()));
    }

    #[test]
    fn digital_link_shaped_text_never_panics(text in "https://[a-z.]{1,12}/(01|gtin|10|21|17)/[0-9A-Za-z%/?=&]{0,120}") {
        check(parse(&text, &options()));
    }
}

#[test]
fn the_worst_separator_search_ends_with_a_bounded_answer() {
    // Lots and serials that could be split almost anywhere.
    let mut text = String::from("0109506000134352");
    for _ in 0..60 {
        text.push_str("1021");
    }
    check(parse(&text, &options()));
    let long: String = "17270131".repeat(250);
    check(parse(&long, &options()));
}
