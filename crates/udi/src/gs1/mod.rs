//! GS1 element strings: the raw form scanners send (FNC1 as GS, ASCII 29),
//! the bracketed human-readable form, GS1 Digital Link URIs and bare GTINs
//! from EAN/UPC/ITF symbols.
//!
//! A raw string is first read *literally*: a variable-length element ends at
//! a separator, at its maximum length, or at the end of the data. When the
//! scan holds no separator at all, the separators may have been lost on the
//! way (keyboard wedges drop GS), so every segmentation into valid elements is
//! searched, bounded by [`SEARCH_STEPS_MAX`](crate::SEARCH_STEPS_MAX). An
//! inferred separator may only be followed by an AI that medical device labels
//! actually carry after a variable-length field ([`REPAIR_AIS`]): otherwise
//! every lot containing "21" or "95" would read two ways. One valid reading
//! is used (with a warning when it needed an inferred separator); several
//! are returned as candidates.

pub mod codes;
mod dl;
pub mod lint;
pub mod table;

pub use dl::read_digital_link;

use crate::error::{Lang, UdiError, Warning, WarningKind};
use crate::{Element, Options, Read, Reading, Scheme, CANDIDATES_MAX, SEARCH_STEPS_MAX};
use chrono::NaiveDate;
use lint::{Lint, LintFailure};
use table::{AiSpec, CharSet, Part};

/// AIs that may follow a separator we inferred: those found after a
/// variable-length element on medical device labels.
pub const REPAIR_AIS: &[&str] = &["01", "02", "10", "11", "17", "21", "30", "7003"];

/// AIs whose content checks itself (a check digit or a calendar date): a lot
/// whose tail reads as one of them was most likely cut from it by a lost
/// separator. Other inferred separators (before a lot or serial) are only
/// considered when the literal reading is invalid.
pub const STRONG_REPAIR_AIS: &[&str] = &["01", "02", "11", "17", "7003"];

/// Text that scanners or keyboard layouts send in place of GS.
const SEPARATOR_STAND_INS: &[&str] = &[
    "\u{241d}", "<GS>", "{GS}", "[GS]", "<gs>", "{gs}", "[gs]", "<FNC1>", "{FNC1}", "^]", "\\x1d", "\\x1D", "\\u001d",
    "\\u001D",
];

/// One element string: an AI and its data.
#[derive(Debug, Clone)]
pub struct Elem {
    pub spec: &'static AiSpec,
    pub value: String,
}

impl PartialEq for Elem {
    fn eq(&self, other: &Elem) -> bool {
        self.spec.ai == other.spec.ai && self.value == other.value
    }
}

/// A scan as tokens: characters and separators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    C(char),
    Sep,
}

/// Whether a token is a character of `set`.
fn tok_in(set: CharSet, t: &Tok) -> bool {
    matches!(t, Tok::C(c) if c.is_ascii() && lint::in_set(set, *c as u8))
}

fn tokens(data: &str, extra_separator: Option<char>) -> Vec<Tok> {
    data.chars().map(|c| if c == '\u{1d}' || Some(c) == extra_separator { Tok::Sep } else { Tok::C(c) }).collect()
}

/// Replaces the stand-ins for GS that the workstation knows of; reports which were seen.
fn replace_stand_ins(data: &str, options: &Options) -> (String, Vec<String>) {
    let mut text = data.to_string();
    let mut seen = Vec::new();
    let configured = options.separators.iter().map(String::as_str);
    for stand_in in SEPARATOR_STAND_INS.iter().copied().chain(configured) {
        if !stand_in.is_empty() && text.contains(stand_in) {
            text = text.replace(stand_in, "\u{1d}");
            seen.push(stand_in.to_string());
        }
    }
    (text, seen)
}

/// The lengths at which `parts` can match the tokens from `at`, longest first
/// (character sets and lengths only; content checks come later).
fn structural_lengths(parts: &[Part], toks: &[Tok], at: usize) -> Vec<usize> {
    fn walk(parts: &[Part], toks: &[Tok], at: usize, offset: usize, out: &mut Vec<usize>) {
        let Some(part) = parts.first() else {
            out.push(offset);
            return;
        };
        if part.optional && offset > 0 {
            out.push(offset);
        }
        let run = toks[(at + offset).min(toks.len())..]
            .iter()
            .take(part.max as usize)
            .take_while(|t| tok_in(part.set, t))
            .count();
        if part.min == part.max {
            if run >= part.min as usize {
                walk(&parts[1..], toks, at, offset + part.min as usize, out);
            }
        } else {
            for k in (part.min as usize..=run).rev() {
                walk(&parts[1..], toks, at, offset + k, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(parts, toks, at, 0, &mut out);
    out.sort_unstable_by(|a, b| b.cmp(a));
    out.dedup();
    out
}

fn text_of(toks: &[Tok]) -> String {
    toks.iter().map(|t| if let Tok::C(c) = t { *c } else { '\u{1d}' }).collect()
}

/// Explains why no length of `spec` matches at `at` (for the literal reading's error).
fn diagnose(spec: &AiSpec, toks: &[Tok], at: usize) -> UdiError {
    let ai = spec.ai.to_string();
    let mut offset = 0;
    for part in spec.parts {
        let mut taken = 0;
        while taken < part.max as usize {
            match toks.get(at + offset + taken) {
                None | Some(Tok::Sep) => break,
                Some(t @ Tok::C(c)) => {
                    if tok_in(part.set, t) {
                        taken += 1;
                        continue;
                    }
                    if taken >= part.min as usize && part.min != part.max {
                        break;
                    }
                    return UdiError::BadCharacter { ai, character: *c };
                }
            }
        }
        if taken < part.min as usize {
            if part.optional && taken == 0 {
                break;
            }
            let (min, max) = spec.length_range();
            return match toks.get(at + offset + taken) {
                None => UdiError::Truncated { ai },
                _ => UdiError::BadLength { ai, length: offset + taken, min, max },
            };
        }
        offset += taken;
    }
    UdiError::Truncated { ai }
}

/// Checks an element's value against its AI: lengths, character sets, check
/// digits, dates and code lists.
pub fn validate(spec: &AiSpec, value: &str, today: NaiveDate) -> Result<(), UdiError> {
    let ai = || spec.ai.to_string();
    let (min, max) = spec.length_range();
    let bytes = value.as_bytes();
    if bytes.len() < min || bytes.len() > max {
        return Err(UdiError::BadLength { ai: ai(), length: value.chars().count(), min, max });
    }
    let mut rest = value;
    for part in spec.parts {
        if rest.is_empty() {
            if part.optional {
                break;
            }
            return Err(UdiError::BadLength { ai: ai(), length: value.len(), min, max });
        }
        let take = if part.min == part.max { part.min as usize } else { rest.len().min(part.max as usize) };
        if rest.len() < take || !rest.is_char_boundary(take) {
            return Err(UdiError::BadLength { ai: ai(), length: value.chars().count(), min, max });
        }
        let (component, tail) = rest.split_at(take);
        rest = tail;
        if let Some(bad) = component.chars().find(|&c| !c.is_ascii() || !lint::in_set(part.set, c as u8)) {
            return Err(UdiError::BadCharacter { ai: ai(), character: bad });
        }
        if part.set == CharSet::Z && component.trim_end_matches('=').contains('=') {
            return Err(UdiError::BadCharacter { ai: ai(), character: '=' });
        }
        for &l in part.lints {
            check_component(spec, l, component, today)?;
        }
    }
    if !rest.is_empty() {
        return Err(UdiError::BadLength { ai: ai(), length: value.chars().count(), min, max });
    }
    Ok(())
}

fn check_component(spec: &AiSpec, l: Lint, component: &str, today: NaiveDate) -> Result<(), UdiError> {
    let field = || format!("({})", spec.ai);
    match lint::check(l, component) {
        Ok(()) => {}
        Err(LintFailure::CheckDigit { expected }) => {
            return Err(UdiError::BadCheckDigit { field: field(), expected: expected.to_string() })
        }
        Err(LintFailure::CheckPair) => {
            let payload = &component.as_bytes()[..component.len().saturating_sub(2)];
            let expected =
                lint::check_pair(payload).map(|p| String::from_utf8_lossy(&p).into_owned()).unwrap_or_default();
            return Err(UdiError::BadCheckDigit { field: field(), expected });
        }
        Err(LintFailure::Date) => return Err(UdiError::BadDate { field: field(), value: component.to_string() }),
        Err(LintFailure::Value(_)) => {
            return Err(UdiError::BadValue { ai: spec.ai.to_string(), value: component.to_string() })
        }
    }
    // 29 February needs the year the century window gives.
    if matches!(l, Lint::YyMmD0 | Lint::YyMmDd) && lint::resolve_yymmdd(component, today).is_none() {
        return Err(UdiError::BadDate { field: field(), value: component.to_string() });
    }
    Ok(())
}

/// Reads tokens literally: separators are trusted, variable-length elements run to the next one.
fn literal(toks: &[Tok], today: NaiveDate) -> Result<Vec<Elem>, UdiError> {
    let mut elems = Vec::new();
    let mut pos = 0;
    while pos < toks.len() {
        if toks[pos] == Tok::Sep {
            pos += 1;
            continue;
        }
        let Some(spec) = match_ai(toks, pos) else {
            // A character no element may hold right after an element: most
            // likely what the scanner made of GS.
            if let (Some(previous), Tok::C(c)) = (elems.last(), toks[pos]) {
                if !c.is_ascii() || !lint::in_cset82(c as u8) {
                    let previous: &Elem = previous;
                    return Err(UdiError::BadCharacter { ai: previous.spec.ai.to_string(), character: c });
                }
            }
            // A variable-length element that ran past its maximum length.
            if let Some(previous) = elems.last() {
                let previous: &Elem = previous;
                let (min, max) = previous.spec.length_range();
                let start = pos - previous.value.len();
                let run = toks[start..].iter().take_while(|t| matches!(t, Tok::C(_))).count();
                if previous.value.len() == max && run > max && min != max {
                    return Err(UdiError::BadLength { ai: previous.spec.ai.to_string(), length: run, min, max });
                }
            }
            return Err(unknown_ai(toks, pos));
        };
        let start = pos + spec.ai.len();
        let length = *structural_lengths(spec.parts, toks, start).first().ok_or_else(|| diagnose(spec, toks, start))?;
        let value = text_of(&toks[start..start + length]);
        validate(spec, &value, today)?;
        elems.push(Elem { spec, value });
        pos = start + length;
    }
    Ok(elems)
}

fn match_ai(toks: &[Tok], pos: usize) -> Option<&'static AiSpec> {
    let digits: Vec<u8> = toks[pos..]
        .iter()
        .take(4)
        .map_while(|t| if let Tok::C(c) = t { c.is_ascii_digit().then_some(*c as u8) } else { None })
        .collect();
    table::match_prefix(&digits)
}

fn unknown_ai(toks: &[Tok], pos: usize) -> UdiError {
    let head: String =
        toks[pos..].iter().take(4).map_while(|t| if let Tok::C(c) = t { Some(*c) } else { None }).collect();
    UdiError::UnknownAi { ai: head }
}

/// Every segmentation of separator-less tokens into valid elements.
struct Search<'a> {
    toks: &'a [Tok],
    today: NaiveDate,
    steps: usize,
    /// (position, after an inferred separator) from which nothing valid follows.
    dead: Vec<[bool; 2]>,
    /// Elements so far, each with whether it starts after an inferred separator.
    path: Vec<(Elem, bool)>,
    found: Vec<Vec<(Elem, bool)>>,
    exhausted: bool,
}

/// Raw readings kept before duplicates are filtered (more than can be shown means "too ambiguous").
const SEARCH_FOUND_MAX: usize = 4 * CANDIDATES_MAX;

impl Search<'_> {
    fn go(&mut self, mut pos: usize, after_split: bool) -> bool {
        self.steps += 1;
        if self.steps > SEARCH_STEPS_MAX || self.found.len() >= SEARCH_FOUND_MAX {
            self.exhausted = true;
            return false;
        }
        while pos < self.toks.len() && self.toks[pos] == Tok::Sep {
            pos += 1;
        }
        if pos == self.toks.len() {
            self.found.push(self.path.clone());
            return true;
        }
        if self.dead[pos][usize::from(after_split)] {
            return false;
        }
        let Some(spec) = match_ai(self.toks, pos) else {
            self.dead[pos][usize::from(after_split)] = true;
            return false;
        };
        if after_split && !REPAIR_AIS.contains(&spec.ai) {
            return false;
        }
        let start = pos + spec.ai.len();
        let lengths = structural_lengths(spec.parts, self.toks, start);
        let greedy = lengths.first().copied();
        let mut any = false;
        for length in lengths {
            let value = text_of(&self.toks[start..start + length]);
            if validate(spec, &value, self.today).is_err() {
                continue;
            }
            let end = start + length;
            let split = end < self.toks.len() && self.toks[end] != Tok::Sep && Some(length) != greedy;
            self.path.push((Elem { spec, value }, after_split));
            any |= self.go(end, split);
            self.path.pop();
            if self.exhausted {
                return any;
            }
        }
        if !any {
            self.dead[pos][usize::from(after_split)] = true;
        }
        any
    }
}

/// Drops repeated elements with equal values; `Err` names an AI repeated with different values.
fn dedupe(elems: Vec<Elem>) -> Result<Vec<Elem>, String> {
    let mut out: Vec<Elem> = Vec::with_capacity(elems.len());
    for e in elems {
        match out.iter().find(|o| o.spec.ai == e.spec.ai) {
            Some(o) if o.value == e.value => {}
            Some(_) => return Err(e.spec.ai.to_string()),
            None => out.push(e),
        }
    }
    Ok(out)
}

/// Reads a raw element string (GS separators, optional leading FNC1).
pub fn read_element_string(data: &str, options: &Options) -> Result<Read, UdiError> {
    let (text, stand_ins) = replace_stand_ins(data, options);
    let today = options.today;
    let toks = tokens(&text, None);
    let has_separator = toks.contains(&Tok::Sep);
    let mut notes: Vec<WarningKind> =
        stand_ins.into_iter().map(|text| WarningKind::SeparatorSubstituted { text }).collect();

    if toks.iter().all(|t| *t == Tok::Sep) {
        return Err(UdiError::Empty);
    }
    let literal_result = literal(&toks, today);
    // A character no GS1 element may hold, where a separator belongs: the
    // scanner's keyboard mapping turned GS into it.
    if let Err(UdiError::BadCharacter { character, .. }) = &literal_result {
        let c = *character;
        if !c.is_ascii() || !lint::in_cset82(c as u8) {
            let retried = literal(&tokens(&text, Some(c)), today);
            if let Ok(elems) = retried {
                notes.push(WarningKind::SeparatorSubstituted { text: c.to_string() });
                let elems = dedupe(elems).map_err(|ai| UdiError::ConflictingDuplicate { ai })?;
                return Ok(single(&elems, notes, options));
            }
        }
    }
    if has_separator {
        let elems = dedupe(literal_result?).map_err(|ai| UdiError::ConflictingDuplicate { ai })?;
        return Ok(single(&elems, notes, options));
    }

    // No separator anywhere: it may have been lost. Find every valid reading.
    let mut search = Search {
        toks: &toks,
        today,
        steps: 0,
        dead: vec![[false; 2]; toks.len() + 1],
        path: Vec::new(),
        found: Vec::new(),
        exhausted: false,
    };
    search.go(0, false);
    if search.exhausted {
        return Err(UdiError::TooAmbiguous);
    }
    // Each reading: its elements, whether it needed an inferred separator,
    // and whether one was followed by a self-checking element.
    let mut readings: Vec<(Vec<Elem>, bool, bool)> = Vec::new();
    for path in search.found {
        let repaired = path.iter().any(|(_, split)| *split);
        let strong = path.iter().any(|(e, split)| *split && STRONG_REPAIR_AIS.contains(&e.spec.ai));
        let elems: Vec<Elem> = path.into_iter().map(|(e, _)| e).collect();
        if let Ok(elems) = dedupe(elems) {
            if !readings.iter().any(|(r, _, _)| *r == elems) {
                readings.push((elems, repaired, strong));
            }
        }
    }
    let literal_valid = readings.iter().any(|(_, repaired, _)| !repaired);
    let any_strong = readings.iter().any(|(_, _, strong)| *strong);
    if literal_valid || any_strong {
        readings.retain(|(_, repaired, strong)| !repaired || *strong);
    }
    let mut readings: Vec<(Vec<Elem>, bool)> = readings.into_iter().map(|(e, repaired, _)| (e, repaired)).collect();
    match readings.len() {
        0 => {
            let elems = literal_result?;
            // The literal reading is valid but repeats an AI with two values.
            let ai = dedupe(elems).err().unwrap_or_default();
            Err(UdiError::ConflictingDuplicate { ai })
        }
        1 => {
            let (elems, repaired) = readings.pop().expect("one reading");
            if repaired {
                notes.push(WarningKind::SeparatorMissing);
            }
            Ok(single(&elems, notes, options))
        }
        n if n > CANDIDATES_MAX => Err(UdiError::TooAmbiguous),
        n => {
            // Most structured first; the search already tried longer values first.
            readings.sort_by_key(|(elems, _)| std::cmp::Reverse(elems.len()));
            let built: Vec<(Scheme, Reading)> =
                readings.iter().map(|(elems, _)| build(elems, Vec::new(), options)).collect();
            let scheme = if built.iter().all(|(s, _)| *s == built[0].0) { built[0].0 } else { Scheme::Gs1 };
            let candidates: Vec<Reading> = built.into_iter().map(|(_, r)| r).collect();
            notes.push(WarningKind::Ambiguous { count: n });
            let top = agreement(&candidates, notes, options.lang);
            Ok((scheme, top, candidates))
        }
    }
}

fn single(elems: &[Elem], notes: Vec<WarningKind>, options: &Options) -> Read {
    let (scheme, reading) = build(elems, notes, options);
    (scheme, reading, Vec::new())
}

/// What all candidate readings agree on.
fn agreement(candidates: &[Reading], notes: Vec<WarningKind>, lang: Lang) -> Reading {
    fn same<T: Clone + PartialEq>(all: &[Reading], f: impl Fn(&Reading) -> &Option<T>) -> Option<T> {
        let first = f(&all[0]).clone();
        all.iter().all(|r| *f(r) == first).then_some(first).flatten()
    }
    Reading {
        di: same(candidates, |r| &r.di),
        gtin: same(candidates, |r| &r.gtin),
        lot: same(candidates, |r| &r.lot),
        serial: same(candidates, |r| &r.serial),
        expiry: same(candidates, |r| &r.expiry),
        production_date: same(candidates, |r| &r.production_date),
        quantity: same(candidates, |r| &r.quantity),
        elements: Vec::new(),
        warnings: notes.into_iter().map(|kind| Warning { kind, lang }).collect(),
    }
}

/// Whether `ai` matches a pairing pattern (`n` = any digit).
fn pattern_matches(pattern: &str, ai: &str) -> bool {
    pattern.len() == ai.len() && pattern.bytes().zip(ai.bytes()).all(|(p, a)| p == a || p == b'n')
}

/// The fields, warnings and scheme of one reading.
pub(crate) fn build(elems: &[Elem], mut notes: Vec<WarningKind>, options: &Options) -> (Scheme, Reading) {
    let today = options.today;
    let find = |ai: &str| elems.iter().find(|e| e.spec.ai == ai).map(|e| e.value.clone());
    let keyed = ["00", "01", "02", "03", "8006"].iter().any(|ai| find(ai).is_some());
    let internal_code = if keyed { None } else { find("91") };
    let scheme = if internal_code.is_some() { Scheme::Internal } else { Scheme::Gs1 };
    let gtin = find("01").or_else(|| find("03")).or_else(|| find("02"));
    let date = |ai: &str| find(ai).and_then(|v| lint::resolve_yymmdd(&v, today)).map(|(d, _)| d);
    let expiry = date("17").or_else(|| find("7003").and_then(|v| lint::resolve_yymmdd(&v[..6], today)).map(|(d, _)| d));
    let quantity = find("30").or_else(|| find("37")).and_then(|q| q.parse::<i64>().ok());

    for e in elems {
        for (part, component) in components(e) {
            if part.lints.contains(&Lint::YyMmD0) && component.ends_with("00") {
                if let Some((date, true)) = lint::resolve_yymmdd(component, today) {
                    notes.push(WarningKind::DayZero { field: format!("({})", e.spec.ai), date });
                }
            }
        }
    }
    let present: Vec<&str> = elems.iter().map(|e| e.spec.ai).collect();
    for e in elems {
        for req in e.spec.req {
            let satisfied =
                req.split(',').any(|alt| alt.split('+').all(|pat| present.iter().any(|p| pattern_matches(pat, p))));
            // Our internal labels are keyed by (91); it plays the GTIN's part.
            let internal_key = internal_code.is_some() && req.split(',').any(|alt| alt == "01");
            if !satisfied && !internal_key {
                notes.push(WarningKind::PairingMissing { ai: e.spec.ai.to_string(), needs: req.replace(',', ") / (") });
            }
        }
        for ex in e.spec.ex {
            for pat in ex.split(',') {
                if let Some(other) = present.iter().find(|p| **p != e.spec.ai && pattern_matches(pat, p)) {
                    notes.push(WarningKind::PairingExcluded { ai: e.spec.ai.to_string(), other: other.to_string() });
                }
            }
        }
    }
    let mut warnings: Vec<Warning> = Vec::new();
    for kind in notes {
        let w = Warning { kind, lang: options.lang };
        if !warnings.contains(&w) {
            warnings.push(w);
        }
    }
    let reading = Reading {
        di: internal_code.clone().or_else(|| gtin.clone()),
        gtin,
        lot: find("10"),
        serial: find("21"),
        expiry,
        production_date: date("11"),
        quantity,
        elements: elems.iter().map(|e| Element { id: e.spec.ai.to_string(), value: e.value.clone() }).collect(),
        warnings,
    };
    (scheme, reading)
}

/// An element's value split into its components.
fn components(e: &Elem) -> Vec<(&'static Part, &str)> {
    let mut out = Vec::new();
    let mut rest = e.value.as_str();
    for part in e.spec.parts {
        if rest.is_empty() {
            break;
        }
        let take = if part.min == part.max { (part.min as usize).min(rest.len()) } else { rest.len() };
        let (component, tail) = rest.split_at(take);
        out.push((part, component));
        rest = tail;
    }
    out
}

/// Reads the bracketed human-readable form `(01)…(17)…(10)…`.
pub fn read_bracketed(data: &str, options: &Options) -> Result<Read, UdiError> {
    let text: String = data.chars().filter(|c| !c.is_whitespace()).collect();
    let mut elems = Vec::new();
    let mut rest = text.as_str();
    while !rest.is_empty() {
        let (spec, after) = bracketed_ai(rest).ok_or_else(|| {
            let head: String = rest.chars().skip(1).take_while(|c| *c != ')').take(4).collect();
            UdiError::UnknownAi { ai: head }
        })?;
        // The value runs to the next "(AI)"; a bracketed number that is no AI is an error.
        let mut end = after.len();
        for (i, _) in after.match_indices('(') {
            if bracketed_ai(&after[i..]).is_some() {
                end = i;
                break;
            }
            let digits: String = after[i + 1..].chars().take_while(|c| c.is_ascii_digit()).collect();
            let closes = after[i + 1 + digits.len()..].chars().next().is_none_or(|c| c == ')');
            if (1..=4).contains(&digits.len()) && closes {
                return Err(UdiError::UnknownAi { ai: digits });
            }
        }
        let value = &after[..end];
        if value.is_empty() {
            return Err(UdiError::Truncated { ai: spec.ai.to_string() });
        }
        validate(spec, value, options.today)?;
        elems.push(Elem { spec, value: value.to_string() });
        rest = &after[end..];
    }
    let elems = dedupe(elems).map_err(|ai| UdiError::ConflictingDuplicate { ai })?;
    Ok(single(&elems, Vec::new(), options))
}

fn bracketed_ai(text: &str) -> Option<(&'static AiSpec, &str)> {
    let inner = text.strip_prefix('(')?;
    let close = inner.find(')')?;
    let ai = &inner[..close];
    if !(2..=4).contains(&ai.len()) || !ai.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    table::lookup(ai).map(|spec| (spec, &inner[close + 1..]))
}

/// Reads a bare GTIN from an EAN/UPC/ITF symbol (8, 12, 13 or 14 digits);
/// `None` when the data is not such a string.
pub fn read_bare_gtin(data: &str, options: &Options) -> Option<Result<Read, UdiError>> {
    if !matches!(data.len(), 8 | 12 | 13 | 14) || !data.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let gtin = format!("{data:0>14}");
    if let Err(expected) = lint::verify_gs1_check_digit(&gtin) {
        return Some(Err(UdiError::BadCheckDigit { field: "GTIN".to_string(), expected: expected.to_string() }));
    }
    let spec = table::lookup("01").expect("AI 01 is in the table");
    Some(Ok(single(&[Elem { spec, value: gtin }], Vec::new(), options)))
}

/// What goes on one of our internal labels (items with no manufacturer code).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InternalLabel {
    /// The item's internal code (GS1 character set 82, up to 90 characters).
    pub code: String,
    pub lot: Option<String>,
    pub expiry: Option<NaiveDate>,
    pub serial: Option<String>,
}

/// Encodes an internal label as a GS1 element string keyed by AI 91 (company
/// internal information), with GS separators, so it reads back through [`crate::parse`].
pub fn encode_internal_label(label: &InternalLabel, today: NaiveDate) -> Result<String, UdiError> {
    let spec = |ai: &str| table::lookup(ai).expect("AI in the table");
    let mut parts: Vec<(&'static AiSpec, String)> = vec![(spec("91"), label.code.clone())];
    if let Some(expiry) = label.expiry {
        let yymmdd = expiry.format("%y%m%d").to_string();
        // Two-digit years read back through the century window: a date outside it would come back wrong.
        if lint::resolve_yymmdd(&yymmdd, today).map(|(d, _)| d) != Some(expiry) {
            return Err(UdiError::BadDate { field: "(17)".to_string(), value: expiry.to_string() });
        }
        parts.push((spec("17"), yymmdd));
    }
    if let Some(lot) = &label.lot {
        parts.push((spec("10"), lot.clone()));
    }
    if let Some(serial) = &label.serial {
        parts.push((spec("21"), serial.clone()));
    }
    let mut out = String::new();
    let last = parts.len() - 1;
    for (i, (spec, value)) in parts.iter().enumerate() {
        validate(spec, value, today)?;
        out.push_str(spec.ai);
        out.push_str(value);
        if !spec.predefined && i != last {
            out.push('\u{1d}');
        }
    }
    Ok(out)
}
