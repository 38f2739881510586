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
//!
//! Reading is on the path of every scan, so it avoids work that does not
//! change the result: the scan is read as bytes, one per character
//! ([`Toks`], borrowed from the input when it is ASCII, as scans are),
//! element values are slices of it until a [`Reading`] is built, the lengths
//! an element can have are a bit set rather than a list, and a value the
//! search drops is rejected without building an error message
//! ([`Invalid`]). The search is still run whenever there is no separator:
//! only it can tell whether a strong repair exists.

pub mod codes;
mod dl;
pub mod lint;
pub mod table;

pub use dl::read_digital_link;

use crate::error::{Lang, UdiError, Warning, WarningKind};
use crate::{Element, Options, Read, Reading, Scheme, CANDIDATES_MAX, SEARCH_STEPS_MAX};
use chrono::NaiveDate;
use lint::{Lint, LintFailure};
use std::borrow::Cow;
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

/// The bytes that start a stand-in: a scan with none of them (most scans)
/// needs no replacing and no copy.
static STAND_IN_START: [bool; 256] = {
    let mut starts = [false; 256];
    let mut i = 0;
    while i < SEPARATOR_STAND_INS.len() {
        starts[SEPARATOR_STAND_INS[i].as_bytes()[0] as usize] = true;
        i += 1;
    }
    starts
};

/// GS (FNC1 in a raw element string).
const GS: u8 = 0x1d;

/// One element string: an AI and its data, borrowed from the scan while it is being read.
#[derive(Debug, Clone)]
pub struct Elem<'a> {
    pub spec: &'static AiSpec,
    pub value: Cow<'a, str>,
}

impl PartialEq for Elem<'_> {
    fn eq(&self, other: &Elem) -> bool {
        self.spec.ai == other.spec.ai && self.value == other.value
    }
}

/// A scan as one byte per character, so that positions and lengths count
/// characters: ASCII characters as they are, GS (and the character a retry
/// takes for GS) as GS, any other character as DEL. No AI allows GS or DEL,
/// so a non-ASCII character behaves exactly like one; only messages need the
/// real character, which [`Toks::char_at`] finds in the text. An ASCII scan
/// is used as it is, without a copy.
struct Toks<'a> {
    bytes: Cow<'a, str>,
    text: &'a str,
}

impl<'a> Toks<'a> {
    fn new(text: &'a str, extra_separator: Option<char>) -> Toks<'a> {
        if text.is_ascii() && extra_separator.is_none() {
            return Toks { bytes: Cow::Borrowed(text), text };
        }
        let bytes = text
            .chars()
            .map(|c| match c {
                '\u{1d}' => '\u{1d}',
                c if Some(c) == extra_separator => '\u{1d}',
                c if c.is_ascii() => c,
                _ => '\u{7f}',
            })
            .collect();
        Toks { bytes: Cow::Owned(bytes), text }
    }

    fn as_bytes(&self) -> &[u8] {
        self.bytes.as_bytes()
    }

    /// The characters from `range` (all ASCII: a range that structurally matched a component).
    fn str(&self, range: std::ops::Range<usize>) -> &str {
        &self.bytes[range]
    }

    /// The character of the text at token `i` (not a separator).
    fn char_at(&self, i: usize) -> char {
        if self.text.len() == self.bytes.len() {
            char::from(self.text.as_bytes()[i])
        } else {
            self.text.chars().nth(i).expect("one token per character")
        }
    }
}

/// Replaces the stand-ins for GS that the workstation knows of; reports which
/// were seen. Borrows the text back when there are none.
fn replace_stand_ins<'d>(data: &'d str, options: &Options) -> (Cow<'d, str>, Vec<String>) {
    let configured = options.separators.iter().map(String::as_str);
    let builtin_possible = data.bytes().any(|b| STAND_IN_START[usize::from(b)]);
    if !builtin_possible && !configured.clone().any(|s| !s.is_empty() && data.contains(s)) {
        return (Cow::Borrowed(data), Vec::new());
    }
    // One stand-in after another, each over the text the previous left: a
    // configured stand-in may overlap a built-in one, and the order decides.
    let mut text = Cow::Borrowed(data);
    let mut seen = Vec::new();
    for stand_in in SEPARATOR_STAND_INS.iter().copied().chain(configured) {
        if !stand_in.is_empty() && text.contains(stand_in) {
            text = Cow::Owned(text.replace(stand_in, "\u{1d}"));
            seen.push(stand_in.to_string());
        }
    }
    (text, seen)
}

/// A set of element lengths (at most [`table::LENGTH_MAX`]), read longest first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Lengths(u128);

impl Lengths {
    fn insert(&mut self, length: usize) {
        self.0 |= 1 << length;
    }

    /// Inserts `from..=to`.
    fn insert_range(&mut self, from: usize, to: usize) {
        self.0 |= (u128::MAX >> (127 - to)) & (u128::MAX << from);
    }

    fn longest(self) -> Option<usize> {
        (self.0 != 0).then(|| 127 - self.0.leading_zeros() as usize)
    }
}

impl Iterator for Lengths {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        let length = self.longest()?;
        self.0 &= !(1 << length);
        Some(length)
    }
}

/// The lengths at which `parts` can match the tokens from `at`, longest first
/// (character sets and lengths only; content checks come later).
fn structural_lengths(parts: &[Part], toks: &[u8], at: usize) -> Lengths {
    fn walk(parts: &[Part], toks: &[u8], at: usize, offset: usize, out: &mut Lengths) {
        let Some(part) = parts.first() else {
            out.insert(offset);
            return;
        };
        if part.optional && offset > 0 {
            out.insert(offset);
        }
        let run = toks[(at + offset).min(toks.len())..]
            .iter()
            .take(part.max as usize)
            .take_while(|&&t| lint::in_set(part.set, t))
            .count();
        let min = part.min as usize;
        if run < min {
            return;
        }
        if part.min == part.max {
            walk(&parts[1..], toks, at, offset + min, out);
        } else if parts.len() == 1 {
            // The last component: every length it can take ends the element.
            out.insert_range(offset + min, offset + run);
        } else {
            for k in (min..=run).rev() {
                walk(&parts[1..], toks, at, offset + k, out);
            }
        }
    }
    let mut out = Lengths::default();
    walk(parts, toks, at, 0, &mut out);
    out
}

/// Explains why no length of `spec` matches at `at` (for the literal reading's error).
fn diagnose(spec: &AiSpec, toks: &Toks, at: usize) -> UdiError {
    let ai = spec.ai.to_string();
    let bytes = toks.as_bytes();
    let mut offset = 0;
    for part in spec.parts {
        let mut taken = 0;
        while taken < part.max as usize {
            let i = at + offset + taken;
            match bytes.get(i) {
                None | Some(&GS) => break,
                Some(&t) => {
                    if lint::in_set(part.set, t) {
                        taken += 1;
                        continue;
                    }
                    if taken >= part.min as usize && part.min != part.max {
                        break;
                    }
                    return UdiError::BadCharacter { ai, character: toks.char_at(i) };
                }
            }
        }
        if taken < part.min as usize {
            if part.optional && taken == 0 {
                break;
            }
            let (min, max) = spec.length_range();
            return match bytes.get(at + offset + taken) {
                None => UdiError::Truncated { ai },
                _ => UdiError::BadLength { ai, length: offset + taken, min, max },
            };
        }
        offset += taken;
    }
    UdiError::Truncated { ai }
}

/// Why a value does not fit its AI, without the allocations of an
/// [`UdiError`]: the search rejects many candidate values and reports none.
enum Invalid<'v> {
    Length(usize),
    Character(char),
    Lint(LintFailure, &'v str),
    /// A date the century window makes impossible (29 February of a common year).
    Date(&'v str),
}

impl Invalid<'_> {
    fn into_error(self, spec: &AiSpec) -> UdiError {
        let field = || format!("({})", spec.ai);
        match self {
            Invalid::Length(length) => {
                let (min, max) = spec.length_range();
                UdiError::BadLength { ai: spec.ai.to_string(), length, min, max }
            }
            Invalid::Character(character) => UdiError::BadCharacter { ai: spec.ai.to_string(), character },
            Invalid::Lint(LintFailure::CheckDigit { expected }, _) => {
                UdiError::BadCheckDigit { field: field(), expected: expected.to_string() }
            }
            Invalid::Lint(LintFailure::CheckPair, component) => {
                let payload = &component.as_bytes()[..component.len().saturating_sub(2)];
                let expected =
                    lint::check_pair(payload).map(|p| String::from_utf8_lossy(&p).into_owned()).unwrap_or_default();
                UdiError::BadCheckDigit { field: field(), expected }
            }
            Invalid::Lint(LintFailure::Date, component) | Invalid::Date(component) => {
                UdiError::BadDate { field: field(), value: component.to_string() }
            }
            Invalid::Lint(LintFailure::Value(_), component) => {
                UdiError::BadValue { ai: spec.ai.to_string(), value: component.to_string() }
            }
        }
    }
}

/// Checks an element's value against its AI: lengths, character sets, check
/// digits, dates and code lists.
pub fn validate(spec: &AiSpec, value: &str, today: NaiveDate) -> Result<(), UdiError> {
    check_value(spec, value, today).map_err(|invalid| invalid.into_error(spec))
}

fn check_value<'v>(spec: &AiSpec, value: &'v str, today: NaiveDate) -> Result<(), Invalid<'v>> {
    let (min, max) = spec.length_range();
    let bytes = value.as_bytes();
    if bytes.len() < min || bytes.len() > max {
        return Err(Invalid::Length(value.chars().count()));
    }
    let mut rest = value;
    for part in spec.parts {
        if rest.is_empty() {
            if part.optional {
                break;
            }
            return Err(Invalid::Length(value.len()));
        }
        let take = if part.min == part.max { part.min as usize } else { rest.len().min(part.max as usize) };
        if rest.len() < take || !rest.is_char_boundary(take) {
            return Err(Invalid::Length(value.chars().count()));
        }
        let (component, tail) = rest.split_at(take);
        rest = tail;
        // Every byte before the first one outside the set is ASCII, so it starts a character.
        if let Some(i) = component.bytes().position(|b| !lint::in_set(part.set, b)) {
            return Err(Invalid::Character(component[i..].chars().next().expect("a character at a boundary")));
        }
        if part.set == CharSet::Z && component.trim_end_matches('=').contains('=') {
            return Err(Invalid::Character('='));
        }
        for &l in part.lints {
            check_component(l, component, today)?;
        }
    }
    if !rest.is_empty() {
        return Err(Invalid::Length(value.chars().count()));
    }
    Ok(())
}

fn check_component<'v>(l: Lint, component: &'v str, today: NaiveDate) -> Result<(), Invalid<'v>> {
    lint::check(l, component).map_err(|failure| Invalid::Lint(failure, component))?;
    // 29 February needs the year the century window gives.
    if matches!(l, Lint::YyMmD0 | Lint::YyMmDd) && lint::resolve_yymmdd(component, today).is_none() {
        return Err(Invalid::Date(component));
    }
    Ok(())
}

/// Reads tokens literally: separators are trusted, variable-length elements run to the next one.
fn literal<'t>(toks: &'t Toks, today: NaiveDate) -> Result<Vec<Elem<'t>>, UdiError> {
    let bytes = toks.as_bytes();
    // Room for a device label (GTIN, dates, lot, serial, count) without regrowing.
    let mut elems: Vec<Elem<'t>> = Vec::with_capacity(8);
    let mut pos = 0;
    while pos < bytes.len() {
        if bytes[pos] == GS {
            pos += 1;
            continue;
        }
        let Some(spec) = table::match_prefix(&bytes[pos..]) else {
            if let Some(previous) = elems.last() {
                // A character no element may hold right after an element: most
                // likely what the scanner made of GS.
                let c = toks.char_at(pos);
                if !c.is_ascii() || !lint::in_cset82(c as u8) {
                    return Err(UdiError::BadCharacter { ai: previous.spec.ai.to_string(), character: c });
                }
                // A variable-length element that ran past its maximum length.
                let (min, max) = previous.spec.length_range();
                let start = pos - previous.value.len();
                let run = bytes[start..].iter().take_while(|&&t| t != GS).count();
                if previous.value.len() == max && run > max && min != max {
                    return Err(UdiError::BadLength { ai: previous.spec.ai.to_string(), length: run, min, max });
                }
            }
            return Err(unknown_ai(toks, pos));
        };
        let start = pos + spec.ai.len();
        let length =
            structural_lengths(spec.parts, bytes, start).longest().ok_or_else(|| diagnose(spec, toks, start))?;
        let value = toks.str(start..start + length);
        validate(spec, value, today)?;
        elems.push(Elem { spec, value: Cow::Borrowed(value) });
        pos = start + length;
    }
    Ok(elems)
}

fn unknown_ai(toks: &Toks, pos: usize) -> UdiError {
    let bytes = toks.as_bytes();
    let head = (pos..bytes.len()).take(4).take_while(|&i| bytes[i] != GS).map(|i| toks.char_at(i)).collect();
    UdiError::UnknownAi { ai: head }
}

/// Every segmentation of separator-less tokens into valid elements.
struct Search<'t> {
    /// The scan's tokens ([`Toks`]), all ASCII.
    toks: &'t str,
    today: NaiveDate,
    steps: usize,
    /// (position, after an inferred separator) from which nothing valid follows.
    dead: Vec<[bool; 2]>,
    /// Elements so far, each with whether it starts after an inferred separator.
    path: Vec<(Elem<'t>, bool)>,
    found: Vec<Found<'t>>,
    exhausted: bool,
}

/// A reading the search found.
struct Found<'t> {
    elems: Vec<Elem<'t>>,
    /// It needed an inferred separator.
    repaired: bool,
    /// An inferred separator was followed by a self-checking element.
    strong: bool,
}

/// Raw readings kept before duplicates are filtered (more than can be shown means "too ambiguous").
const SEARCH_FOUND_MAX: usize = 4 * CANDIDATES_MAX;

impl<'t> Search<'t> {
    fn go(&mut self, mut pos: usize, after_split: bool) -> bool {
        self.steps += 1;
        if self.steps > SEARCH_STEPS_MAX || self.found.len() >= SEARCH_FOUND_MAX {
            self.exhausted = true;
            return false;
        }
        let toks: &'t str = self.toks;
        let bytes = toks.as_bytes();
        while pos < bytes.len() && bytes[pos] == GS {
            pos += 1;
        }
        if pos == bytes.len() {
            let path = &self.path;
            self.found.push(Found {
                elems: path.iter().map(|(e, _)| e.clone()).collect(),
                repaired: path.iter().any(|(_, split)| *split),
                strong: path.iter().any(|(e, split)| *split && STRONG_REPAIR_AIS.contains(&e.spec.ai)),
            });
            return true;
        }
        if self.dead[pos][usize::from(after_split)] {
            return false;
        }
        let Some(spec) = table::match_prefix(&bytes[pos..]) else {
            self.dead[pos][usize::from(after_split)] = true;
            return false;
        };
        if after_split && !REPAIR_AIS.contains(&spec.ai) {
            return false;
        }
        let start = pos + spec.ai.len();
        let lengths = structural_lengths(spec.parts, bytes, start);
        let greedy = lengths.longest();
        let mut any = false;
        for length in lengths {
            let value = &toks[start..start + length];
            // A structural match of a plain AI is valid as it stands.
            if !spec.plain() && check_value(spec, value, self.today).is_err() {
                continue;
            }
            let end = start + length;
            let split = end < bytes.len() && bytes[end] != GS && Some(length) != greedy;
            self.path.push((Elem { spec, value: Cow::Borrowed(value) }, after_split));
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

/// Drops repeated elements with equal values (in place); `Err` names an AI
/// repeated with different values.
fn dedupe(mut elems: Vec<Elem>) -> Result<Vec<Elem>, String> {
    let mut kept = 0;
    for i in 0..elems.len() {
        match elems[..kept].iter().find(|o| o.spec.ai == elems[i].spec.ai) {
            Some(o) if o.value == elems[i].value => {}
            Some(_) => return Err(elems[i].spec.ai.to_string()),
            None => {
                elems.swap(kept, i);
                kept += 1;
            }
        }
    }
    elems.truncate(kept);
    Ok(elems)
}

/// Reads a raw element string (GS separators, optional leading FNC1).
pub fn read_element_string(data: &str, options: &Options) -> Result<Read, UdiError> {
    let (text, stand_ins) = replace_stand_ins(data, options);
    let today = options.today;
    let toks = Toks::new(&text, None);
    let bytes = toks.as_bytes();
    // A leading GS is FNC1 in first position and a trailing one is padding some
    // scanners add: neither says that the separators between elements arrived.
    let inner_start = bytes.iter().position(|&t| t != GS).unwrap_or(bytes.len());
    let inner_end = bytes.iter().rposition(|&t| t != GS).map_or(inner_start, |i| i + 1);
    let has_separator = bytes[inner_start..inner_end].contains(&GS);
    let mut notes: Vec<WarningKind> =
        stand_ins.into_iter().map(|text| WarningKind::SeparatorSubstituted { text }).collect();

    if bytes.iter().all(|&t| t == GS) {
        return Err(UdiError::Empty);
    }
    let literal_result = literal(&toks, today);
    // A character no GS1 element may hold, where a separator belongs: the
    // scanner's keyboard mapping turned GS into it.
    if let Err(UdiError::BadCharacter { character, .. }) = &literal_result {
        let c = *character;
        if !c.is_ascii() || !lint::in_cset82(c as u8) {
            let retry = Toks::new(&text, Some(c));
            if let Ok(elems) = literal(&retry, today) {
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
        toks: &toks.bytes,
        today,
        steps: 0,
        dead: vec![[false; 2]; bytes.len() + 1],
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
    for Found { elems, repaired, strong } in search.found {
        if let Ok(elems) = dedupe(elems) {
            if !readings.iter().any(|(r, _, _)| *r == elems) {
                readings.push((elems, repaired, strong));
            }
        }
    }
    let has_serial = |elems: &[Elem]| elems.iter().any(|e| e.spec.ai == "21");
    let literal_valid = readings.iter().any(|(_, repaired, _)| !repaired);
    let literal_has_serial = readings.iter().any(|(elems, repaired, _)| !repaired && has_serial(elems));
    let any_strong = readings.iter().any(|(_, _, strong)| *strong);
    if options.serialized && !literal_has_serial && readings.iter().any(|(elems, _, _)| has_serial(elems)) {
        // The item is serial-tracked, so a reading without a serial is wrong:
        // a lot that swallowed "21…" lost the separator before the serial.
        readings.retain(|(elems, _, _)| has_serial(elems));
    } else if literal_valid || any_strong {
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
    // Values stay borrowed until the reading takes its own copies.
    let find = |ai: &str| elems.iter().find(|e| e.spec.ai == ai).map(|e| &*e.value);
    let keyed = elems.iter().any(|e| matches!(e.spec.ai, "00" | "01" | "02" | "03" | "8006"));
    let internal_code = if keyed { None } else { find("91") };
    let scheme = if internal_code.is_some() { Scheme::Internal } else { Scheme::Gs1 };
    let gtin = find("01").or_else(|| find("03")).or_else(|| find("02"));
    let date = |ai: &str| find(ai).and_then(|v| lint::resolve_yymmdd(v, today)).map(|(d, _)| d);
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
    let present = || elems.iter().map(|e| e.spec.ai);
    for e in elems {
        for req in e.spec.req {
            let satisfied =
                req.split(',').any(|alt| alt.split('+').all(|pat| present().any(|p| pattern_matches(pat, p))));
            // Our internal labels are keyed by (91); it plays the GTIN's part.
            let internal_key = internal_code.is_some() && req.split(',').any(|alt| alt == "01");
            if !satisfied && !internal_key {
                notes.push(WarningKind::PairingMissing { ai: e.spec.ai.to_string(), needs: req.replace(',', ") / (") });
            }
        }
        for ex in e.spec.ex {
            for pat in ex.split(',') {
                if let Some(other) = present().find(|p| *p != e.spec.ai && pattern_matches(pat, p)) {
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
        di: internal_code.or(gtin).map(str::to_string),
        gtin: gtin.map(str::to_string),
        lot: find("10").map(str::to_string),
        serial: find("21").map(str::to_string),
        expiry,
        production_date: date("11"),
        quantity,
        elements: elems.iter().map(|e| Element { id: e.spec.ai.to_string(), value: String::from(&*e.value) }).collect(),
        warnings,
    };
    (scheme, reading)
}

/// An element's value split into its components.
fn components<'e>(e: &'e Elem) -> impl Iterator<Item = (&'static Part, &'e str)> {
    let mut rest: &'e str = &e.value;
    e.spec.parts.iter().map_while(move |part| {
        if rest.is_empty() {
            return None;
        }
        let take = if part.min == part.max { (part.min as usize).min(rest.len()) } else { rest.len() };
        let (component, tail) = rest.split_at(take);
        rest = tail;
        Some((part, component))
    })
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
        elems.push(Elem { spec, value: Cow::Borrowed(value) });
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
    Some(Ok(single(&[Elem { spec, value: gtin.into() }], Vec::new(), options)))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gen::Rng;

    #[test]
    fn lengths_are_read_longest_first() {
        let mut lengths = Lengths::default();
        assert_eq!(lengths.longest(), None);
        lengths.insert(14);
        lengths.insert_range(1, 3);
        lengths.insert_range(127, 127);
        lengths.insert(0);
        assert_eq!(lengths.longest(), Some(127));
        assert_eq!(lengths.collect::<Vec<_>>(), [127, 14, 3, 2, 1, 0]);
    }

    /// The lengths as the parser first computed them: every way through the parts, as a list.
    fn lengths_by_enumeration(parts: &[Part], toks: &[u8], at: usize, offset: usize, out: &mut Vec<usize>) {
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
            .take_while(|&&t| lint::in_set(part.set, t))
            .count();
        let ks: Vec<usize> = if part.min == part.max {
            if run >= part.min as usize {
                vec![part.min as usize]
            } else {
                vec![]
            }
        } else {
            (part.min as usize..=run).rev().collect()
        };
        for k in ks {
            lengths_by_enumeration(&parts[1..], toks, at, offset + k, out);
        }
    }

    #[test]
    fn structural_lengths_are_every_way_through_the_parts() {
        let mut rng = Rng::new(7);
        let alphabet = b"0123456789AZaz-#/=_!\x1d\x7f";
        for spec in table::AIS {
            for _ in 0..20 {
                let n = rng.range(0, 100);
                let toks: Vec<u8> = (0..n).map(|_| *rng.pick(alphabet)).collect();
                let at = rng.range(0, n);
                let mut want = Vec::new();
                lengths_by_enumeration(spec.parts, &toks, at, 0, &mut want);
                want.sort_unstable_by(|a, b| b.cmp(a));
                want.dedup();
                let got: Vec<usize> = structural_lengths(spec.parts, &toks, at).collect();
                assert_eq!(got, want, "({}) at {at} of {toks:?}", spec.ai);
            }
        }
    }

    #[test]
    fn plain_ais_take_any_value_of_their_set_and_length() {
        let today = NaiveDate::from_ymd_opt(2026, 3, 14).unwrap();
        let mut rng = Rng::new(11);
        let plain: Vec<&AiSpec> = table::AIS.iter().filter(|spec| spec.plain()).collect();
        assert!(plain.iter().any(|spec| spec.ai == "10") && plain.iter().any(|spec| spec.ai == "21"));
        assert!(!table::lookup("01").unwrap().plain() && !table::lookup("17").unwrap().plain());
        for spec in plain {
            let set: Vec<u8> = (0..=255u8).filter(|&b| lint::in_set(spec.parts[0].set, b)).collect();
            let (min, max) = spec.length_range();
            for length in min.max(1)..=max {
                let value: String = (0..length).map(|_| char::from(*rng.pick(&set))).collect();
                assert!(check_value(spec, &value, today).is_ok(), "({}){value}", spec.ai);
            }
        }
    }

    #[test]
    fn stand_ins_are_replaced_as_one_after_another() {
        // The replacement as first written: every stand-in in turn over the whole text.
        fn sequential(data: &str, options: &Options) -> (String, Vec<String>) {
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
        let today = NaiveDate::from_ymd_opt(2026, 3, 14).unwrap();
        let plain = Options::new(today, Lang::En);
        let mut configured = plain.clone();
        configured.separators = vec!["~".into(), String::new(), "GS".into(), "\u{1d}1".into(), "é".into()];
        let pieces = [
            "01", "10", "ABC", "<GS>", "<gs>", "{FNC1}", "^]", "\\x1d", "\\u001D", "\u{241d}", "~", "GS", "é", "<",
            "\\", "[",
        ];
        let mut rng = Rng::new(3);
        for _ in 0..2_000 {
            let n = rng.range(0, 6);
            let data: String = (0..n).map(|_| *rng.pick(&pieces)).collect();
            for options in [&plain, &configured] {
                let (text, seen) = replace_stand_ins(&data, options);
                assert_eq!((text.into_owned(), seen), sequential(&data, options), "{data:?}");
            }
        }
        assert!(matches!(replace_stand_ins("0109506000134352", &plain).0, Cow::Borrowed(_)));
    }
}
