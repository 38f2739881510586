//! Differential test against biip (PyPI `biip`, an independent GS1 parser).
//!
//! At least 10,000 random valid GS1 element strings are generated from our AI
//! table (`udi::gen`: a GTIN plus AIs drawn from the whole table, values that
//! pass every component's character set, length and checks, random order, GS
//! where the length is not predefined and sometimes where it is, sometimes a
//! leading GS, sometimes an AIM identifier). Each is read by our engine and by
//! `scripts/biip_parse.py`; both must succeed with the same elements in the
//! same order (and the ones generated), the same dates for date AIs, the same
//! times for date-time AIs, and our expiry, production date, GTIN, lot and
//! serial must be biip's values of 17 (or 7003), 11, 01, 10 and 21.
//!
//! Every difference must be one of the named, justified kinds below, each
//! recognised by a precise condition; anything else fails the test.
//!
//! Needs Python with biip 5.2.0: `make udi-diff` (interpreter from
//! `MEDLEDGER_PYTHON`, default `python3`). Ignored by plain `cargo test`.
//!
//! No AI is excluded from generation: every one of the table's AIs is drawn
//! (the test checks that each appeared at least once).

use chrono::{NaiveDate, NaiveDateTime, Utc};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use udi::gen::{self, GenMessage, MessageShape, Rng};
use udi::{parse, Lang, Options, Reading};

const SEED: u64 = 0x4D65_644C_6564_6765;
const MESSAGES: usize = 12_000;
const MIN_COMPARED: usize = 10_000;

/// AIs left out of generation, with the reason. None: the whole table is drawn.
const EXCLUDED: &[(&str, &str)] = &[];

/// Justified kinds of difference, each with its explanation.
const KINDS: &[(&str, &str)] = &[
    (
        "biip-8010-min-length",
        "AI 8010 (CPID) shorter than 5 characters: GS1's Barcode Syntax Dictionary says Y..30 and so do we; \
         biip's pattern asks for 5 to 30, so biip fails the whole message",
    ),
    (
        "biip-8030-padding",
        "AI 8030 (digital signature, file-safe base64) ending in '=' padding: the syntax dictionary's cset 64 \
         allows trailing '='; biip's pattern [0-9A-Za-z_-] does not, so biip fails the whole message",
    ),
    (
        "biip-7007-range",
        "AI 7007 (harvest date) in its range form YYMMDDYYMMDD: biip reads the second date as a time of day \
         (hour = YY, minute = MM, second = DD), so it fails the message when that is no time, and otherwise \
         reports a bogus date-time (the first date still agrees)",
    ),
    (
        "lost-separator-candidates",
        "no GS between the elements and a variable-length value that also reads as a self-checking element \
         (e.g. a lot ending in '17' + a valid date): our engine treats the scan as one that may have lost its \
         separators and returns every valid reading as candidates instead of guessing; biip reads the literal, \
         greedy one, which is among our candidates",
    ),
];

fn script() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/biip_parse.py").to_string()
}

/// Runs the Python script over `inputs`, one JSON result per input.
fn run_biip(inputs: &[String]) -> Vec<Value> {
    let mut python = std::env::var("MEDLEDGER_PYTHON").unwrap_or_else(|_| "python3".to_string());
    // A relative path (e.g. target/pyenv/bin/python) is relative to the workspace, not to this crate.
    if python.contains('/') && !python.starts_with('/') {
        python = format!("{}/../../{python}", env!("CARGO_MANIFEST_DIR"));
    }
    let mut child = Command::new(&python)
        .arg(script())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e} (set MEDLEDGER_PYTHON or run `make udi-diff`)"));
    let mut stdin = child.stdin.take().expect("piped stdin");
    let lines: Vec<String> =
        inputs.iter().map(|input| serde_json::json!({ "input": input }).to_string() + "\n").collect();
    // Write from another thread so neither side blocks on a full pipe.
    let writer = std::thread::spawn(move || {
        for line in lines {
            stdin.write_all(line.as_bytes()).expect("write to the script");
        }
    });
    let stdout = child.stdout.take().expect("piped stdout");
    let results: Vec<Value> = BufReader::new(stdout)
        .lines()
        .map(|line| serde_json::from_str(&line.expect("read the script's output")).expect("JSON from the script"))
        .collect();
    writer.join().expect("writer thread");
    let status = child.wait().expect("wait for the script");
    assert!(status.success(), "{python} {} failed: {status} (is biip installed? run `make udi-diff`)", script());
    assert_eq!(results.len(), inputs.len(), "one result per input");
    results
}

/// biip's reading of one element.
struct Theirs {
    ai: String,
    value: String,
    date: Option<NaiveDate>,
    datetime: Option<NaiveDateTime>,
    check_error: Option<String>,
}

fn theirs(result: &Value) -> Vec<Theirs> {
    result["elements"]
        .as_array()
        .expect("elements")
        .iter()
        .map(|e| Theirs {
            ai: e["ai"].as_str().unwrap().to_string(),
            value: e["value"].as_str().unwrap().to_string(),
            date: e["date"].as_str().map(|d| d.parse().expect("ISO date")),
            datetime: e["datetime"].as_str().map(|d| d.parse().expect("ISO date-time")),
            check_error: e["check_error"].as_str().map(str::to_string),
        })
        .collect()
}

fn has(message: &GenMessage, ai: &str, condition: impl Fn(&str) -> bool) -> bool {
    message.elements.iter().any(|e| e.ai == ai && condition(&e.value))
}

/// The justified kind of biip failing on a valid message, if it is one.
fn biip_failure_kind(message: &GenMessage, error: &str) -> Option<&'static str> {
    if error.contains("(8010)") && has(message, "8010", |v| v.len() < 5) {
        return Some("biip-8010-min-length");
    }
    // biip's pattern stops before the padding, which it then takes for the next AI.
    if error.contains("from '=") && has(message, "8030", |v| v.ends_with('=')) {
        return Some("biip-8030-padding");
    }
    if error.contains("(7007)") && has(message, "7007", |v| v.len() == 12) {
        return Some("biip-7007-range");
    }
    None
}

/// Compares one message; `Err` lists what differs without justification, `Ok` the justified kinds met.
fn compare(message: &GenMessage, result: &Value, options: &Options) -> Result<Vec<&'static str>, Vec<String>> {
    let today = options.today;
    let mut kinds = Vec::new();
    let mut problems = Vec::new();
    let want: Vec<(&str, &str)> = message.elements.iter().map(|e| (e.ai, e.value.as_str())).collect();

    if !result["ok"].as_bool().unwrap() {
        let error = result["error"].as_str().unwrap_or("");
        let Some(kind) = biip_failure_kind(message, error) else {
            return Err(vec![format!("biip failed: {error}")]);
        };
        // Nothing to compare with; ours must still read what was generated.
        return match parse(&message.text, options) {
            Ok(scan) if scan.candidates.is_empty() => {
                let ours: Vec<(&str, &str)> =
                    scan.reading.elements.iter().map(|e| (e.id.as_str(), e.value.as_str())).collect();
                if ours == want {
                    Ok(vec![kind])
                } else {
                    Err(vec![format!("biip failed ({kind}); ours read {ours:?}, generated {want:?}")])
                }
            }
            Ok(scan) => Err(vec![format!("biip failed ({kind}); ours gave {} candidates", scan.candidates.len())]),
            Err(e) => Err(vec![format!("biip failed ({kind}); ours failed too: {}", e.code())]),
        };
    }
    let their = theirs(result);
    let their_pairs: Vec<(&str, &str)> = their.iter().map(|t| (t.ai.as_str(), t.value.as_str())).collect();
    if their_pairs != want {
        problems.push(format!("biip read {their_pairs:?}, generated {want:?}"));
    }
    for t in &their {
        if let Some(e) = &t.check_error {
            problems.push(format!("biip rejects the check digit of ({}){}: {e}", t.ai, t.value));
        }
    }

    let scan = match parse(&message.text, options) {
        Ok(scan) => scan,
        Err(e) => {
            problems.push(format!("ours failed: {} ({})", e.code(), e.message(Lang::En)));
            return Err(problems);
        }
    };
    let pairs = |r: &Reading| r.elements.iter().map(|e| (e.id.clone(), e.value.clone())).collect::<Vec<_>>();
    let their_owned: Vec<(String, String)> = their_pairs.iter().map(|(a, v)| (a.to_string(), v.to_string())).collect();
    let reading: &Reading = if scan.candidates.is_empty() {
        &scan.reading
    } else {
        match scan.candidates.iter().find(|c| pairs(c) == their_owned) {
            Some(c) if !message.has_separator => {
                kinds.push("lost-separator-candidates");
                c
            }
            _ => {
                problems.push(format!(
                    "ours gave {} candidates {:?}, biip {their_pairs:?}",
                    scan.candidates.len(),
                    scan.candidates.iter().map(pairs).collect::<Vec<_>>()
                ));
                return Err(problems);
            }
        }
    };
    if pairs(reading) != their_owned {
        problems.push(format!("ours read {:?}, biip {their_pairs:?}", pairs(reading)));
        return Err(problems);
    }

    // Dates and times, element by element.
    for t in &their {
        let ours_date = gen::element_date(&t.ai, &t.value, today);
        if ours_date != t.date {
            problems.push(format!("({}){}: our date {ours_date:?}, biip's {:?}", t.ai, t.value, t.date));
        }
        let ours_datetime = gen::element_datetime(&t.ai, &t.value, today);
        if ours_datetime != t.datetime {
            if t.ai == "7007" && t.value.len() == 12 && ours_datetime.is_none() {
                kinds.push("biip-7007-range");
            } else {
                problems
                    .push(format!("({}){}: our date-time {ours_datetime:?}, biip's {:?}", t.ai, t.value, t.datetime));
            }
        }
    }
    // The fields the ledger uses.
    let their_value = |ai: &str| their.iter().find(|t| t.ai == ai).map(|t| t.value.clone());
    let their_date = |ai: &str| their.iter().find(|t| t.ai == ai).and_then(|t| t.date);
    let expiry = their_date("17").or_else(|| their_date("7003"));
    let fields = [
        ("expiry", reading.expiry.map(|d| d.to_string()), expiry.map(|d| d.to_string())),
        ("production_date", reading.production_date.map(|d| d.to_string()), their_date("11").map(|d| d.to_string())),
        ("gtin", reading.gtin.clone(), their_value("01")),
        ("lot", reading.lot.clone(), their_value("10")),
        ("serial", reading.serial.clone(), their_value("21")),
    ];
    for (name, ours, theirs) in fields {
        if ours != theirs {
            problems.push(format!("{name}: ours {ours:?}, biip {theirs:?}"));
        }
    }
    if problems.is_empty() {
        kinds.dedup();
        Ok(kinds)
    } else {
        Err(problems)
    }
}

/// Strings random values seldom produce: a lot that ends in what reads as an
/// expiry or a GTIN, with no separator anywhere.
fn hand_made(today: NaiveDate) -> Vec<GenMessage> {
    let yy = today.format("%y").to_string();
    let element = |ai: &'static str, value: String| gen::GenElement { ai, value };
    let cases = [
        vec![element("01", "09506000134352".into()), element("10", format!("ABC17{yy}0131"))],
        vec![
            element("11", format!("{yy}0101")),
            element("01", "09506000134352".into()),
            element("21", format!("S1117{yy}0600")),
        ],
        vec![element("01", "09506000134352".into()), element("10", "L0109506000134352".into())],
    ];
    cases
        .into_iter()
        .map(|elements| {
            let text = elements.iter().map(|e| format!("{}{}", e.ai, e.value)).collect();
            GenMessage { text, elements, aim: None, has_separator: false }
        })
        .collect()
}

#[test]
#[ignore = "needs Python with biip 5.2.0: run `make udi-diff`"]
fn our_gs1_reading_agrees_with_biip() {
    // biip's century window uses the real current year (UTC); so must ours.
    let today = Utc::now().date_naive();
    let options = Options::new(today, Lang::En);
    let excluded: Vec<&str> = EXCLUDED.iter().map(|(ai, _)| *ai).collect();
    let shape = MessageShape { extra_max: 6, exclude: &excluded, ..MessageShape::default() };
    let mut rng = Rng::new(SEED);
    let mut messages: Vec<GenMessage> = (0..MESSAGES).map(|_| gen::gs1_message(&mut rng, today, &shape)).collect();
    messages.extend(hand_made(today));
    let inputs: Vec<String> = messages.iter().map(|m| m.text.clone()).collect();
    let results = run_biip(&inputs);

    let mut compared = 0;
    let mut agreed = 0;
    let mut justified: BTreeMap<&str, usize> = BTreeMap::new();
    let mut unexplained: Vec<String> = Vec::new();
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (message, result) in messages.iter().zip(&results) {
        compared += 1;
        for e in &message.elements {
            *seen.entry(e.ai).or_default() += 1;
        }
        match compare(message, result, &options) {
            Ok(kinds) if kinds.is_empty() => agreed += 1,
            Ok(kinds) => {
                for kind in kinds {
                    *justified.entry(kind).or_default() += 1;
                }
            }
            Err(problems) => unexplained.push(format!("{:?}\n    {}", message.text, problems.join("\n    "))),
        }
    }

    let never: Vec<&str> = gen::all_ais().filter(|ai| !seen.contains_key(ai) && !excluded.contains(ai)).collect();
    let with_aim = messages.iter().filter(|m| m.aim.is_some()).count();
    let without_gs = messages.iter().filter(|m| !m.has_separator).count();
    let elements: usize = seen.values().sum();
    println!("differential test against biip 5.2.0 (seed {SEED:#x}, today {today}):");
    println!(
        "  compared {compared} strings ({elements} elements, {} distinct AIs of {}; {with_aim} with an AIM \
         identifier, {without_gs} with no GS between elements)",
        seen.len(),
        gen::all_ais().count()
    );
    println!("  agreed on everything: {agreed}");
    let justified_total: usize = justified.values().sum();
    println!("  justified differences: {} strings", compared - agreed - unexplained.len());
    for (kind, explanation) in KINDS {
        println!("    {kind}: {}  — {explanation}", justified.get(kind).copied().unwrap_or(0));
    }
    println!("  unexplained: {}", unexplained.len());
    for u in unexplained.iter().take(25) {
        println!("  - {u}");
    }
    assert!(justified_total >= compared - agreed - unexplained.len());
    assert!(compared >= MIN_COMPARED, "only {compared} strings compared");
    assert!(never.is_empty(), "AIs never generated: {never:?}");
    assert!(unexplained.is_empty(), "{} unexplained differences (first ones above)", unexplained.len());
    // The comparison means something only if nearly everything agrees outright.
    assert!(agreed * 100 >= compared * 95, "only {agreed} of {compared} agreed outright");
}
