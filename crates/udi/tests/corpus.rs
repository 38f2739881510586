//! The barcode corpus (`fixtures/barcodes/corpus.jsonl`): every case's
//! expected reading or error code, computed independently by the corpus's
//! generator. All mismatches are listed together.

use chrono::NaiveDate;
use serde_json::Value;
use udi::{parse, Lang, Options};

fn corpus() -> Vec<Value> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/barcodes/corpus.jsonl");
    let text = std::fs::read_to_string(path).expect("the corpus is in fixtures/barcodes");
    text.lines().map(|line| serde_json::from_str(line).expect("each line is JSON")).collect()
}

fn options() -> Options {
    Options::new(NaiveDate::from_ymd_opt(2026, 11, 25).unwrap(), Lang::En)
}

#[test]
fn the_corpus_has_at_least_300_cases_of_every_scheme_and_error() {
    let cases = corpus();
    assert!(cases.len() >= 300, "{} cases", cases.len());
    for scheme in ["gs1", "hibc", "ma", "internal"] {
        assert!(cases.iter().any(|c| c["scheme"] == scheme), "no {scheme} case");
    }
    let errors = cases.iter().filter(|c| c.get("error").is_some()).count();
    assert!(errors >= 60, "{errors} error cases");
}

#[test]
fn every_corpus_case_reads_as_expected() {
    let options = options();
    let mut failures = Vec::new();
    for case in corpus() {
        let input = case["input"].as_str().unwrap();
        let note = case["note"].as_str().unwrap_or("");
        let result = parse(input, &options);
        match (case.get("error"), result) {
            (Some(code), Err(e)) => {
                if e.code() != code.as_str().unwrap() {
                    failures.push(format!(
                        "{note}: {input:?}: error {} ({}), expected {code}",
                        e.code(),
                        e.message(Lang::En)
                    ));
                }
            }
            (Some(code), Ok(scan)) => failures.push(format!(
                "{note}: {input:?}: read {}, expected error {code}",
                serde_json::to_string(&scan).unwrap()
            )),
            (None, Err(e)) => failures.push(format!("{note}: {input:?}: error {} ({})", e.code(), e.message(Lang::En))),
            (None, Ok(scan)) => {
                let got = serde_json::to_value(&scan).unwrap();
                for field in ["scheme", "di", "gtin", "lot", "serial", "expiry", "production_date", "quantity"] {
                    if got[field] != case[field] {
                        failures.push(format!("{note}: {input:?}: {field} = {}, expected {}", got[field], case[field]));
                    }
                }
                let mut warnings: Vec<&str> =
                    got["warnings"].as_array().unwrap().iter().map(|w| w["code"].as_str().unwrap()).collect();
                warnings.sort();
                warnings.dedup();
                let expected: Vec<&str> =
                    case["warnings"].as_array().unwrap().iter().map(|w| w.as_str().unwrap()).collect();
                if warnings != expected {
                    failures.push(format!("{note}: {input:?}: warnings {warnings:?}, expected {expected:?}"));
                }
                let candidates = got["candidates"].as_array().unwrap().len() as u64;
                if Some(candidates) != case["candidates"].as_u64() {
                    failures
                        .push(format!("{note}: {input:?}: {candidates} candidates, expected {}", case["candidates"]));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} of the corpus failed:\n{}", failures.len(), failures.join("\n"));
}
