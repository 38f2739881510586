//! Seeded generators of valid barcode text, for the differential test against
//! an independent GS1 parser (`tests/differential.rs`) and for the barcode
//! benchmark (`medledger bench barcode`). The parser never uses this module.
//!
//! Every value comes from the AI table itself: each component gets a length in
//! its range, characters of its set, and content that passes its checks
//! (check digits, calendar dates, times, ISO code lists, IBAN, …), so a
//! generated element string is valid by construction. [`gs1_value`] checks
//! each value with the parser's own validation and panics on a generator bug.
//!
//! The random source is a small SplitMix64 ([`Rng`]): the same seed gives the
//! same strings on every machine, with no dependency.

use crate::gs1::codes::{ISO3166_ALPHA2, ISO3166_NUMERIC, ISO4217_NUMERIC};
use crate::gs1::lint::{self, Lint};
use crate::gs1::table::{self, AiSpec, CharSet, Part, AIS};
use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

/// GS1 AI encodable character set 82.
pub const CSET82: &[u8] = b"!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";
/// GS1 AI encodable character set 39.
pub const CSET39: &[u8] = b"#-/0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
/// File-safe base64 without the padding character.
const CSET64: &[u8] = b"-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";
const ALNUM: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const DIGITS: &[u8] = b"0123456789";
const HEX: &[u8] = b"0123456789ABCDEFabcdef";

/// The AIM symbology identifiers of GS1 symbols that a generated string may carry.
pub const AIM_PREFIXES: &[&str] = &["]d2", "]C1", "]Q3"];

/// AIs whose value carries a date as its first six digits (`YYMMDD`), as the
/// independent parser we compare with reads them.
pub const DATE_AIS: &[&str] =
    &["11", "12", "13", "15", "16", "17", "4324", "4325", "4326", "7003", "7006", "7007", "7011", "8008"];

/// A small, fast, seeded random source (SplitMix64).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `percent` / 100.
    pub fn percent(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn chars(&mut self, set: &[u8], n: usize) -> String {
        (0..n).map(|_| char::from(*self.pick(set))).collect()
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

/// One generated element: an AI and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenElement {
    pub ai: &'static str,
    pub value: String,
}

/// A generated raw element string and what it holds.
#[derive(Debug, Clone)]
pub struct GenMessage {
    /// The text a scanner would send (AIM identifier, GS separators).
    pub text: String,
    /// The elements in the order they appear.
    pub elements: Vec<GenElement>,
    /// The AIM symbology identifier in front, if any.
    pub aim: Option<&'static str>,
    /// Whether the text holds a GS between elements (a leading one is FNC1 in
    /// first position and says nothing about the separators).
    pub has_separator: bool,
}

/// Every AI of the table, in table order.
pub fn all_ais() -> impl Iterator<Item = &'static str> {
    AIS.iter().map(|spec| spec.ai)
}

/// Whether an AI's length is predefined (no separator needed after it).
pub fn is_predefined(ai: &str) -> bool {
    table::lookup(ai).is_some_and(|spec| spec.predefined)
}

/// A GTIN-14 with a valid check digit.
pub fn gtin(rng: &mut Rng) -> String {
    with_check_digit(rng.chars(DIGITS, 13))
}

fn with_check_digit(mut payload: String) -> String {
    let check = lint::gs1_check_digit(payload.as_bytes());
    payload.push(char::from(b'0' + check));
    payload
}

/// A valid value for `ai` (`None` for an AI not in the table). Dates that need
/// the century window (29 February) are valid for `today`.
pub fn gs1_value(rng: &mut Rng, ai: &str, today: NaiveDate) -> Option<String> {
    let spec = table::lookup(ai)?;
    let mut value = String::new();
    for part in spec.parts {
        // Optional components come as a run at the end: once one is left out, so are the rest.
        if part.optional && rng.percent(40) {
            break;
        }
        value.push_str(&component(rng, part, today));
    }
    if let Err(e) = crate::gs1::validate(spec, &value, today) {
        panic!("generator bug: ({ai}){value:?} is invalid: {}", e.code());
    }
    Some(value)
}

fn part_len(rng: &mut Rng, part: &Part) -> usize {
    rng.range(part.min as usize, part.max as usize)
}

/// A `YYMMDD` that the century window around `today` makes a real date;
/// `day_zero` allows DD = 00 (about one in six).
fn yymmdd(rng: &mut Rng, day_zero: bool, today: NaiveDate) -> String {
    let yy = rng.below(100) as u32;
    let mm = rng.range(1, 12) as u32;
    let year = lint::full_year(yy, today);
    let dd = if day_zero && rng.percent(16) { 0 } else { rng.range(1, lint::days_in_month(year, mm) as usize) as u32 };
    format!("{yy:02}{mm:02}{dd:02}")
}

fn component(rng: &mut Rng, part: &Part, today: NaiveDate) -> String {
    let has = |l: Lint| part.lints.contains(&l);
    if has(Lint::Csum) {
        let n = part_len(rng, part);
        return with_check_digit(rng.chars(DIGITS, n - 1));
    }
    if has(Lint::CsumAlpha) {
        // The pair's weights cover a payload of at most 23 characters.
        let n = rng.range((part.min as usize).max(3), (part.max as usize).min(25));
        let digits = rng.range(1, (n - 2).min(7));
        let mut payload = rng.chars(DIGITS, digits) + &rng.chars(CSET82, n - 2 - digits);
        if has(Lint::HasNonDigit) && payload.bytes().all(|b| b.is_ascii_digit()) {
            payload.replace_range(payload.len() - 1.., "A");
        }
        let pair = lint::check_pair(payload.as_bytes()).expect("payload of cset 82, at most 23 characters");
        return payload + std::str::from_utf8(&pair).expect("ASCII");
    }
    let two = |v: usize| format!("{v:02}");
    for &l in part.lints {
        let special = match l {
            Lint::YyMmD0 => Some(yymmdd(rng, true, today)),
            Lint::YyMmDd => Some(yymmdd(rng, false, today)),
            Lint::YyyyMmDd => {
                let year = rng.range(1900, 2099) as i32;
                let month = rng.range(1, 12) as u32;
                let day = rng.range(1, lint::days_in_month(year, month) as usize);
                Some(format!("{year:04}{month:02}{day:02}"))
            }
            Lint::HhMi => Some(two(rng.below(24)) + &two(rng.below(60))),
            Lint::Hh => Some(two(rng.below(24))),
            Lint::Mi | Lint::Ss => Some(two(rng.below(60))),
            Lint::Iso3166 => Some(format!("{:03}", rng.pick(ISO3166_NUMERIC))),
            Lint::Iso3166With999 => {
                Some(if rng.percent(10) { "999".to_string() } else { format!("{:03}", rng.pick(ISO3166_NUMERIC)) })
            }
            Lint::Iso3166Alpha2 => Some(rng.pick(ISO3166_ALPHA2).to_string()),
            Lint::Iso4217 => Some(format!("{:03}", rng.pick(ISO4217_NUMERIC))),
            Lint::PercentEncoded => {
                let n = part_len(rng, part);
                let mut s = String::new();
                while s.len() < n {
                    if n - s.len() >= 3 && rng.percent(10) {
                        s.push('%');
                        s.push_str(&rng.chars(HEX, 2));
                    } else {
                        let c = loop {
                            let c = *rng.pick(CSET82);
                            if c != b'%' {
                                break c;
                            }
                        };
                        s.push(char::from(c));
                    }
                }
                Some(s)
            }
            Lint::YesNo => Some(rng.below(2).to_string()),
            Lint::Hyphen => Some("-".to_string()),
            Lint::Zero => Some("0".to_string()),
            Lint::NonZero => {
                let n = part_len(rng, part);
                let mut s = rng.chars(DIGITS, n);
                if s.bytes().all(|b| b == b'0') {
                    let i = rng.below(n);
                    s.replace_range(i..=i, &rng.range(1, 9).to_string());
                }
                Some(s)
            }
            Lint::PieceOfTotal => {
                let total = rng.range(1, 99);
                let piece = rng.range(1, total);
                Some(two(piece) + &two(total))
            }
            Lint::Latitude => Some(format!("{:010}", rng.next_u64() % 1_800_000_001)),
            Lint::Longitude => Some(format!("{:010}", rng.next_u64() % 3_600_000_001)),
            Lint::Iban => Some(iban(rng)),
            Lint::ImporterIndex => Some(
                char::from(*rng.pick(b"-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz")).to_string(),
            ),
            Lint::MediaType => Some(two(rng.range(1, 10))),
            Lint::PositionInSequence => {
                let total = rng.range(1, 9);
                Some(format!("{}/{total}", rng.range(1, total)))
            }
            Lint::Iso5218 => Some(rng.pick(&["0", "1", "2", "9"]).to_string()),
            Lint::NoZeroPrefix => {
                let n = part_len(rng, part);
                Some(if rng.percent(5) {
                    "0".to_string()
                } else {
                    rng.range(1, 9).to_string() + &rng.chars(DIGITS, n - 1)
                })
            }
            Lint::Winding => Some(rng.pick(&["0", "1", "9"]).to_string()),
            // Not checked offline (company prefixes) or not relevant (coupons, package types).
            Lint::GcpPos1 | Lint::GcpPos2 | Lint::PackageType | Lint::CouponCode | Lint::CouponPosOffer => None,
            Lint::HasNonDigit | Lint::Csum | Lint::CsumAlpha => None,
        };
        if let Some(s) = special {
            return s;
        }
    }
    let n = part_len(rng, part);
    match part.set {
        CharSet::N => rng.chars(DIGITS, n),
        CharSet::Y => rng.chars(CSET39, n),
        CharSet::X => {
            // A value that carries a company prefix starts with digits.
            if has(Lint::GcpPos1) || has(Lint::GcpPos2) {
                let digits = rng.range(1, n.min(7));
                rng.chars(DIGITS, digits) + &rng.chars(CSET82, n - digits)
            } else {
                rng.chars(CSET82, n)
            }
        }
        CharSet::Z => {
            let mut s = rng.chars(CSET64, n);
            if n >= 2 && rng.percent(25) {
                let pad = rng.range(1, 2);
                s.replace_range(n - pad.., &"=".repeat(pad));
            }
            s
        }
    }
}

/// An IBAN: a country code, its two mod-97 check digits and a BBAN of 1–30 characters.
fn iban(rng: &mut Rng) -> String {
    let country = *rng.pick(ISO3166_ALPHA2);
    let n = rng.range(1, 30);
    let bban = rng.chars(ALNUM, n);
    let mut remainder = 0u32;
    for b in bban.bytes().chain(country.bytes()).chain(*b"00") {
        let v = if b.is_ascii_digit() { u32::from(b - b'0') } else { u32::from(b - b'A') + 10 };
        remainder = if v >= 10 { (remainder * 100 + v) % 97 } else { (remainder * 10 + v) % 97 };
    }
    format!("{country}{:02}{bban}", 98 - remainder)
}

/// How [`gs1_message`] draws a message.
#[derive(Debug, Clone)]
pub struct MessageShape<'a> {
    /// At most this many AIs besides the GTIN, drawn from the whole table.
    pub extra_max: usize,
    /// AIs never drawn.
    pub exclude: &'a [&'a str],
    /// Percent of messages with an AIM symbology identifier in front.
    pub aim_percent: usize,
    /// Percent of messages with a GS (FNC1) in front of the data.
    pub leading_gs_percent: usize,
    /// Percent of predefined-length elements followed by a GS they do not need.
    pub extra_gs_percent: usize,
}

impl Default for MessageShape<'_> {
    fn default() -> Self {
        MessageShape { extra_max: 6, exclude: &[], aim_percent: 30, leading_gs_percent: 10, extra_gs_percent: 10 }
    }
}

/// A random valid element string: a GTIN (AI 01) and up to `extra_max` other
/// AIs from the whole table (no AI twice), in random order, with a GS after
/// every element whose length is not predefined unless it is last.
pub fn gs1_message(rng: &mut Rng, today: NaiveDate, shape: &MessageShape) -> GenMessage {
    let mut chosen: Vec<&'static AiSpec> = vec![table::lookup("01").expect("01 is in the table")];
    let extra = rng.range(0, shape.extra_max);
    // The fields of device labels come more often than a uniform draw would give them.
    for ai in ["17", "10", "21", "11"] {
        if rng.percent(25) && !shape.exclude.contains(&ai) {
            chosen.push(table::lookup(ai).expect("in the table"));
        }
    }
    while chosen.len() < extra + 1 {
        let spec = rng.pick(AIS);
        if !shape.exclude.contains(&spec.ai) && !chosen.iter().any(|c| c.ai == spec.ai) {
            chosen.push(spec);
        }
    }
    chosen.dedup_by_key(|spec| spec.ai);
    rng.shuffle(&mut chosen);
    let elements: Vec<GenElement> = chosen
        .iter()
        .map(|spec| GenElement { ai: spec.ai, value: gs1_value(rng, spec.ai, today).expect("in the table") })
        .collect();
    let aim = rng.percent(shape.aim_percent).then(|| *rng.pick(AIM_PREFIXES));
    let leading = rng.percent(shape.leading_gs_percent);
    raw_message(rng, elements, aim, leading, shape.extra_gs_percent)
}

/// Writes elements as a raw element string: separators where the length is
/// not predefined (and, `extra_gs_percent` of the time, where it is).
pub fn raw_message(
    rng: &mut Rng,
    elements: Vec<GenElement>,
    aim: Option<&'static str>,
    leading_gs: bool,
    extra_gs_percent: usize,
) -> GenMessage {
    let mut text = String::new();
    let mut has_separator = false;
    if let Some(aim) = aim {
        text.push_str(aim);
    }
    if leading_gs {
        text.push('\u{1d}');
    }
    for (i, e) in elements.iter().enumerate() {
        text.push_str(e.ai);
        text.push_str(&e.value);
        let last = i + 1 == elements.len();
        if !last && (!is_predefined(e.ai) || rng.percent(extra_gs_percent)) {
            text.push('\u{1d}');
            has_separator = true;
        }
    }
    GenMessage { text, elements, aim, has_separator }
}

/// The elements of a typical medical device label: GTIN, mostly an expiry and
/// a lot, sometimes a production date, a serial or a count, with values as
/// manufacturers print them (letters, digits and a few marks).
pub fn device_label(rng: &mut Rng, today: NaiveDate) -> Vec<GenElement> {
    const LOT: &[u8] = b"0123456789ABCDEFGHJKLMNPRSTUVWXYZ-";
    let mut out = vec![GenElement { ai: "01", value: gtin(rng) }];
    if rng.percent(20) {
        out.push(GenElement { ai: "11", value: yymmdd(rng, false, today) });
    }
    if rng.percent(90) {
        out.push(GenElement { ai: "17", value: yymmdd(rng, true, today) });
    }
    if rng.percent(85) {
        let n = rng.range(3, 12);
        out.push(GenElement { ai: "10", value: rng.chars(LOT, n) });
    }
    if rng.percent(45) {
        let n = rng.range(4, 16);
        out.push(GenElement { ai: "21", value: rng.chars(LOT, n) });
    }
    if rng.percent(5) {
        out.push(GenElement { ai: "30", value: rng.range(1, 500).to_string() });
    }
    out
}

/// The bracketed human-readable form `(01)…(17)…(10)…`.
pub fn bracketed(elements: &[GenElement]) -> String {
    elements.iter().map(|e| format!("({}){}", e.ai, e.value)).collect()
}

/// A GS1 Digital Link URI for elements holding a GTIN: 01, 22, 10, 21 in the
/// path, every other element as a query parameter.
pub fn digital_link(elements: &[GenElement]) -> String {
    fn encode(value: &str) -> String {
        let mut s = String::new();
        for b in value.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                s.push(char::from(b));
            } else {
                s.push_str(&format!("%{b:02X}"));
            }
        }
        s
    }
    let mut uri = "https://id.gs1.org".to_string();
    for ai in ["01", "22", "10", "21"] {
        if let Some(e) = elements.iter().find(|e| e.ai == ai) {
            uri.push_str(&format!("/{ai}/{}", encode(&e.value)));
        }
    }
    let query: Vec<String> = elements
        .iter()
        .filter(|e| !["01", "22", "10", "21"].contains(&e.ai))
        .map(|e| format!("{}={}", e.ai, encode(&e.value)))
        .collect();
    if !query.is_empty() {
        uri.push('?');
        uri.push_str(&query.join("&"));
    }
    uri
}

/// The date a date AI's value starts with (`YYMMDD`, DD = 00 the month's last
/// day) by the century window around `today`; `None` for other AIs.
pub fn element_date(ai: &str, value: &str, today: NaiveDate) -> Option<NaiveDate> {
    if !DATE_AIS.contains(&ai) {
        return None;
    }
    lint::resolve_yymmdd(value.get(..6)?, today).map(|(date, _)| date)
}

/// The date and time of an AI whose value is a date followed by a time
/// (7003, 4324, 4325, 7011 with its time, 8008); `None` for others.
pub fn element_datetime(ai: &str, value: &str, today: NaiveDate) -> Option<NaiveDateTime> {
    let date = element_date(ai, value, today)?;
    let number = |range: std::ops::Range<usize>| value.get(range).and_then(|s| s.parse::<u32>().ok());
    let time = match ai {
        "7003" | "4324" | "4325" | "7011" if value.len() == 10 => {
            NaiveTime::from_hms_opt(number(6..8)?, number(8..10)?, 0)
        }
        "8008" => NaiveTime::from_hms_opt(
            number(6..8)?,
            if value.len() >= 10 { number(8..10)? } else { 0 },
            if value.len() >= 12 { number(10..12)? } else { 0 },
        ),
        _ => None,
    }?;
    Some(date.and_time(time))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ai_gets_valid_values() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let mut rng = Rng::new(7);
        for spec in AIS {
            for _ in 0..50 {
                let value = gs1_value(&mut rng, spec.ai, today).unwrap();
                assert!(crate::gs1::validate(spec, &value, today).is_ok(), "({}){value}", spec.ai);
            }
        }
    }

    #[test]
    fn generated_messages_read_back_with_their_elements() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let options = crate::Options::new(today, crate::Lang::En);
        let mut rng = Rng::new(11);
        for _ in 0..2_000 {
            let message = gs1_message(&mut rng, today, &MessageShape::default());
            if !message.has_separator {
                continue; // may read several ways; the differential test covers these
            }
            let scan = crate::parse(&message.text, &options).unwrap();
            let got: Vec<(&str, &str)> =
                scan.reading.elements.iter().map(|e| (e.id.as_str(), e.value.as_str())).collect();
            let want: Vec<(&str, &str)> = message.elements.iter().map(|e| (e.ai, e.value.as_str())).collect();
            assert_eq!(got, want, "{:?}", message.text);
        }
    }

    #[test]
    fn dates_of_date_ais() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        assert_eq!(element_date("17", "280200", today), NaiveDate::from_ymd_opt(2028, 2, 29));
        assert_eq!(element_date("7007", "260101261231", today), NaiveDate::from_ymd_opt(2026, 1, 1));
        assert_eq!(element_date("10", "280200", today), None);
        let dt = |y, m, d, h, mi, s| NaiveDate::from_ymd_opt(y, m, d).unwrap().and_hms_opt(h, mi, s).unwrap();
        assert_eq!(element_datetime("7003", "2701312359", today), Some(dt(2027, 1, 31, 23, 59, 0)));
        assert_eq!(element_datetime("8008", "27013112", today), Some(dt(2027, 1, 31, 12, 0, 0)));
        assert_eq!(element_datetime("8008", "270131120507", today), Some(dt(2027, 1, 31, 12, 5, 7)));
        assert_eq!(element_datetime("7011", "270131", today), None);
    }
}
