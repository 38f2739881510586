//! Content checks ("linters") that GS1's syntax dictionary attaches to AI
//! components, character sets, check digits, and the GS1 date rules.
//!
//! Two checks are deliberately lenient: `gcppos1`/`gcppos2` need GS1's list of
//! company prefixes, which a workstation does not have offline, and the coupon
//! and package-type code lists are not relevant to hospital stock; those pass.

use super::codes::{ISO3166_ALPHA2, ISO3166_NUMERIC, ISO4217_NUMERIC};
use super::table::CharSet;
use chrono::{Datelike, NaiveDate};

/// A content check named by the syntax dictionary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lint {
    Csum,
    CsumAlpha,
    GcpPos1,
    GcpPos2,
    YyMmD0,
    YyMmDd,
    YyyyMmDd,
    HhMi,
    Hh,
    Mi,
    Ss,
    Iso3166,
    Iso3166With999,
    Iso3166Alpha2,
    Iso4217,
    PercentEncoded,
    YesNo,
    Hyphen,
    NonZero,
    Zero,
    PieceOfTotal,
    Latitude,
    Longitude,
    Iban,
    ImporterIndex,
    MediaType,
    PackageType,
    CouponCode,
    CouponPosOffer,
    PositionInSequence,
    Iso5218,
    NoZeroPrefix,
    HasNonDigit,
    Winding,
}

/// Why a component's content failed its check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LintFailure {
    /// The mod-10 check digit is wrong; `expected` is the right one.
    CheckDigit { expected: char },
    /// The alphanumeric check character pair is wrong.
    CheckPair,
    /// Not a calendar date (or time).
    Date,
    /// Not in the code list or range the AI requires.
    Value(&'static str),
}

/// GS1 AI encodable character set 82.
pub fn in_cset82(b: u8) -> bool {
    CLASSES[usize::from(b)] & X != 0
}

/// Whether `b` belongs to `set` (for [`CharSet::Z`], file-safe base64, `=`
/// too: that it is only trailing padding is checked by the caller).
pub fn in_set(set: CharSet, b: u8) -> bool {
    let bit = match set {
        CharSet::N => N,
        CharSet::X => X,
        CharSet::Y => Y,
        CharSet::Z => Z,
    };
    CLASSES[usize::from(b)] & bit != 0
}

// The character sets as bits of one table entry per byte: the parser asks
// for every character of every candidate value, so one load beats a chain of
// range comparisons.
const N: u8 = 1;
const X: u8 = 2;
const Y: u8 = 4;
const Z: u8 = 8;

/// For each byte, the sets it belongs to.
static CLASSES: [u8; 256] = {
    let mut classes = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        let mut bits = 0;
        if c.is_ascii_digit() {
            bits |= N;
        }
        if matches!(c, b'!' | b'"' | b'%'..=b'?' | b'A'..=b'Z' | b'_' | b'a'..=b'z') {
            bits |= X;
        }
        if matches!(c, b'#' | b'-' | b'/' | b'0'..=b'9' | b'A'..=b'Z') {
            bits |= Y;
        }
        if matches!(c, b'-' | b'0'..=b'9' | b'A'..=b'Z' | b'_' | b'a'..=b'z' | b'=') {
            bits |= Z;
        }
        classes[b] = bits;
        b += 1;
    }
    classes
};

/// The GS1 mod-10 check digit for `payload` (all digits but the check digit).
pub fn gs1_check_digit(payload: &[u8]) -> u8 {
    let sum: u32 =
        payload.iter().rev().enumerate().map(|(i, &d)| u32::from(d - b'0') * if i % 2 == 0 { 3 } else { 1 }).sum();
    ((10 - sum % 10) % 10) as u8
}

/// Whether a digit string ends in its correct GS1 check digit; `Err` carries the right digit.
pub fn verify_gs1_check_digit(digits: &str) -> Result<(), char> {
    let bytes = digits.as_bytes();
    if bytes.len() < 2 || !bytes.iter().all(u8::is_ascii_digit) {
        return Err('?');
    }
    let (payload, check) = bytes.split_at(bytes.len() - 1);
    let expected = gs1_check_digit(payload);
    if check[0] - b'0' == expected {
        Ok(())
    } else {
        Err(char::from(b'0' + expected))
    }
}

const CSET82: &[u8] = b"!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";
const CSET32: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
const PRIMES: [u32; 23] = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83];

/// The check character pair of an alphanumeric key (GMN, AI 8013): prime
/// weights from the right, sum mod 1021, two characters of the 32-set.
pub fn check_pair(payload: &[u8]) -> Option<[u8; 2]> {
    if payload.len() > PRIMES.len() {
        return None;
    }
    let mut sum = 0u32;
    for (i, &b) in payload.iter().rev().enumerate() {
        let value = CSET82.iter().position(|&c| c == b)? as u32;
        sum += value * PRIMES[i];
    }
    sum %= 1021;
    Some([CSET32[(sum >> 5) as usize], CSET32[(sum & 31) as usize]])
}

/// The value of a digit string that fits in a `u32` (up to ten digits: latitudes and longitudes have ten).
fn digits_value(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Ten digits fit in a u64; whether the value fits in a u32 is the question.
    u32::try_from(s.bytes().fold(0u64, |v, b| v * 10 + u64::from(b - b'0'))).ok()
}

fn in_range(s: &str, lo: u32, hi: u32) -> bool {
    digits_value(s).is_some_and(|v| (lo..=hi).contains(&v))
}

/// Checks one component's content; character set and length are checked by the caller.
pub fn check(lint: Lint, value: &str) -> Result<(), LintFailure> {
    use LintFailure::*;
    let ok = |cond: bool, what: &'static str| if cond { Ok(()) } else { Err(Value(what)) };
    match lint {
        Lint::Csum => verify_gs1_check_digit(value).map_err(|expected| CheckDigit { expected }),
        Lint::CsumAlpha => {
            let bytes = value.as_bytes();
            if bytes.len() < 3 {
                return Err(CheckPair);
            }
            let (payload, pair) = bytes.split_at(bytes.len() - 2);
            if check_pair(payload).is_some_and(|p| p == pair) {
                Ok(())
            } else {
                Err(CheckPair)
            }
        }
        Lint::GcpPos1 | Lint::GcpPos2 | Lint::PackageType | Lint::CouponCode | Lint::CouponPosOffer => Ok(()),
        Lint::YyMmD0 => ymd(value, true).map(|_| ()).ok_or(Date),
        Lint::YyMmDd => ymd(value, false).map(|_| ()).ok_or(Date),
        Lint::YyyyMmDd => {
            let ok = value.len() == 8
                && NaiveDate::from_ymd_opt(
                    value[..4].parse().unwrap_or(0),
                    value[4..6].parse().unwrap_or(0),
                    value[6..8].parse().unwrap_or(0),
                )
                .is_some();
            if ok {
                Ok(())
            } else {
                Err(Date)
            }
        }
        Lint::HhMi => {
            let ok = value.len() == 4 && in_range(&value[..2], 0, 23) && in_range(&value[2..], 0, 59);
            if ok {
                Ok(())
            } else {
                Err(Date)
            }
        }
        Lint::Hh => in_range(value, 0, 23).then_some(()).ok_or(Date),
        Lint::Mi | Lint::Ss => in_range(value, 0, 59).then_some(()).ok_or(Date),
        Lint::Iso3166 => ok(digits_value(value).is_some_and(|v| ISO3166_NUMERIC.contains(&(v as u16))), "iso3166"),
        Lint::Iso3166With999 => {
            ok(digits_value(value).is_some_and(|v| v == 999 || ISO3166_NUMERIC.contains(&(v as u16))), "iso3166")
        }
        Lint::Iso3166Alpha2 => ok(ISO3166_ALPHA2.contains(&value), "iso3166"),
        Lint::Iso4217 => ok(digits_value(value).is_some_and(|v| ISO4217_NUMERIC.contains(&(v as u16))), "iso4217"),
        Lint::PercentEncoded => ok(percent_encoding_ok(value), "percent"),
        Lint::YesNo => ok(value == "0" || value == "1", "yesno"),
        Lint::Hyphen => ok(value == "-", "hyphen"),
        Lint::NonZero => ok(value.bytes().any(|b| b != b'0'), "nonzero"),
        Lint::Zero => ok(value == "0", "zero"),
        Lint::PieceOfTotal => {
            let (piece, total) =
                (digits_value(value.get(..2).unwrap_or("")), digits_value(value.get(2..).unwrap_or("")));
            ok(
                value.len() == 4 && matches!((piece, total), (Some(p), Some(t)) if p >= 1 && t >= 1 && p <= t),
                "pieceoftotal",
            )
        }
        Lint::Latitude => ok(value.len() == 10 && in_range(value, 0, 1_800_000_000), "latitude"),
        Lint::Longitude => ok(value.len() == 10 && in_range(value, 0, 3_600_000_000), "longitude"),
        Lint::Iban => ok(iban_ok(value), "iban"),
        Lint::ImporterIndex => ok(
            value.len() == 1 && matches!(value.as_bytes()[0], b'-' | b'0'..=b'9' | b'A'..=b'Z' | b'_' | b'a'..=b'z'),
            "importeridx",
        ),
        Lint::MediaType => ok(in_range(value, 1, 10), "mediatype"),
        Lint::PositionInSequence => {
            let parts: Vec<&str> = value.split('/').collect();
            let good = parts.len() == 2
                && matches!((digits_value(parts[0]), digits_value(parts[1])), (Some(p), Some(t)) if p >= 1 && p <= t && !parts[0].starts_with('0') && !parts[1].starts_with('0'));
            ok(good, "posinseqslash")
        }
        Lint::Iso5218 => ok(matches!(value, "0" | "1" | "2" | "9"), "iso5218"),
        Lint::NoZeroPrefix => ok(value == "0" || !value.starts_with('0'), "nozeroprefix"),
        Lint::HasNonDigit => ok(value.bytes().any(|b| !b.is_ascii_digit()), "hasnondigit"),
        Lint::Winding => ok(matches!(value, "0" | "1" | "9"), "winding"),
    }
}

fn percent_encoding_ok(value: &str) -> bool {
    let bytes = value.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if i + 2 >= bytes.len() {
                return false;
            }
            if !(bytes[i + 1].is_ascii_hexdigit() && bytes[i + 2].is_ascii_hexdigit()) {
                return false;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    true
}

fn iban_ok(value: &str) -> bool {
    let bytes = value.as_bytes();
    if bytes.len() < 5
        || !bytes[..2].iter().all(u8::is_ascii_uppercase)
        || !bytes[2..4].iter().all(u8::is_ascii_digit)
        || !bytes.iter().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        || !ISO3166_ALPHA2.contains(&&value[..2])
    {
        return false;
    }
    let rearranged = bytes[4..].iter().chain(&bytes[..4]);
    let mut remainder = 0u32;
    for &b in rearranged {
        let v = if b.is_ascii_digit() { u32::from(b - b'0') } else { u32::from(b - b'A') + 10 };
        remainder = if v >= 10 { (remainder * 100 + v) % 97 } else { (remainder * 10 + v) % 97 };
    }
    remainder == 1
}

/// A six-digit `YYMMDD` as (two-digit year, month, day), checked against the
/// calendar; `day_zero` allows DD = 00 ("the last day of the month").
fn ymd(value: &str, day_zero: bool) -> Option<(u32, u32, u32)> {
    let b = value.as_bytes();
    if b.len() != 6 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let two = |i: usize| u32::from(b[i] - b'0') * 10 + u32::from(b[i + 1] - b'0');
    let (yy, mm, dd) = (two(0), two(2), two(4));
    if !(1..=12).contains(&mm) {
        return None;
    }
    if dd == 0 {
        return day_zero.then_some((yy, mm, dd));
    }
    // Any year that the century window can give has the same calendar for
    // day-of-month purposes except 29 February, which needs the real year;
    // accept it here and let `resolve_yymmdd` make the final call.
    if dd > days_in_month(2000 + yy as i32, mm) {
        return None;
    }
    Some((yy, mm, dd))
}

/// Days in a month of a (proleptic Gregorian) year.
pub fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if year.rem_euclid(4) == 0 && (year.rem_euclid(100) != 0 || year.rem_euclid(400) == 0) => 29,
        2 => 28,
        _ => panic!("month {month} is not 1..=12"),
    }
}

/// The full year of a two-digit year by GS1's century window (General
/// Specifications 7.12): up to 49 years back and 50 ahead of `today`.
pub fn full_year(yy: u32, today: NaiveDate) -> i32 {
    let current = today.year();
    let century = current - current.rem_euclid(100);
    let diff = yy as i32 - current.rem_euclid(100);
    if (51..=99).contains(&diff) {
        century - 100 + yy as i32
    } else if (-99..=-50).contains(&diff) {
        century + 100 + yy as i32
    } else {
        century + yy as i32
    }
}

/// A `YYMMDD` as a date with GS1's century window; DD = 00 is the month's last
/// day, reported through the flag. `None` when it is no calendar date.
pub fn resolve_yymmdd(value: &str, today: NaiveDate) -> Option<(NaiveDate, bool)> {
    let (yy, mm, dd) = ymd(value, true)?;
    let year = full_year(yy, today);
    if dd == 0 {
        let last = days_in_month(year, mm);
        return NaiveDate::from_ymd_opt(year, mm, last).map(|d| (d, true));
    }
    NaiveDate::from_ymd_opt(year, mm, dd).map(|d| (d, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gs1_check_digits_of_known_keys() {
        assert_eq!(verify_gs1_check_digit("09506000134352"), Ok(()));
        assert_eq!(verify_gs1_check_digit("09506000134353"), Err('2'));
        assert_eq!(verify_gs1_check_digit("4006381333931"), Ok(()));
        assert_eq!(verify_gs1_check_digit("106141411234567897"), Ok(()));
    }

    #[test]
    fn check_pair_of_gs1_example_gmn() {
        // GS1 General Specifications' example GMN: 1987654Ad4X4bL5ttr2310c2K
        assert_eq!(check(Lint::CsumAlpha, "1987654Ad4X4bL5ttr2310c2K"), Ok(()));
        assert_eq!(check(Lint::CsumAlpha, "1987654Ad4X4bL5ttr2310c3K"), Err(LintFailure::CheckPair));
    }

    #[test]
    fn century_window_follows_general_specifications() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        assert_eq!(full_year(76, today), 2076);
        assert_eq!(full_year(77, today), 1977);
        assert_eq!(full_year(0, today), 2000);
        assert_eq!(full_year(26, today), 2026);
        let late = NaiveDate::from_ymd_opt(2080, 1, 1).unwrap();
        assert_eq!(full_year(10, late), 2110);
        assert_eq!(full_year(31, late), 2031);
        assert_eq!(full_year(30, late), 2130);
    }

    #[test]
    fn dates_day_zero_and_leap_years() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        assert_eq!(resolve_yymmdd("240200", today), Some((NaiveDate::from_ymd_opt(2024, 2, 29).unwrap(), true)));
        assert_eq!(resolve_yymmdd("250229", today), None);
        assert_eq!(resolve_yymmdd("240229", today).map(|d| d.0), NaiveDate::from_ymd_opt(2024, 2, 29));
        assert_eq!(resolve_yymmdd("241301", today), None);
        assert_eq!(check(Lint::YyMmDd, "240100"), Err(LintFailure::Date));
        assert_eq!(check(Lint::YyMmD0, "240100"), Ok(()));
    }

    #[test]
    fn days_in_month_follows_the_calendar() {
        for year in -500..=3000 {
            for month in 1..=12 {
                let first = NaiveDate::from_ymd_opt(year, month, 1).unwrap();
                let next = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
                let days = (NaiveDate::from_ymd_opt(next.0, next.1, 1).unwrap() - first).num_days();
                assert_eq!(days_in_month(year, month), days as u32, "{year}-{month}");
            }
        }
    }

    #[test]
    fn character_sets_are_gs1s() {
        let cset82 = b"!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";
        let cset39 = b"#-/0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        let cset64 = b"-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz=";
        for b in 0..=255u8 {
            assert_eq!(in_set(CharSet::N, b), b.is_ascii_digit(), "{b}");
            assert_eq!(in_cset82(b), cset82.contains(&b), "{b}");
            assert_eq!(in_set(CharSet::X, b), cset82.contains(&b), "{b}");
            assert_eq!(in_set(CharSet::Y, b), cset39.contains(&b), "{b}");
            assert_eq!(in_set(CharSet::Z, b), cset64.contains(&b), "{b}");
        }
        for s in ["0", "42", "4294967295", "4294967296", "9999999999", "0000000001", "12345678901", "", "1a"] {
            assert_eq!(digits_value(s), if s.len() <= 10 { s.parse().ok() } else { None }, "{s}");
        }
    }

    #[test]
    fn small_linters() {
        assert_eq!(check(Lint::Iban, "GB82WEST12345698765432"), Ok(()));
        assert!(check(Lint::Iban, "GB82WEST12345698765433").is_err());
        assert_eq!(check(Lint::Iso3166, "156"), Ok(()));
        assert!(check(Lint::Iso3166, "999").is_err());
        assert_eq!(check(Lint::Iso3166With999, "999"), Ok(()));
        assert_eq!(check(Lint::Iso4217, "156"), Ok(()));
        assert_eq!(check(Lint::PieceOfTotal, "0203"), Ok(()));
        assert!(check(Lint::PieceOfTotal, "0302").is_err());
        assert!(check(Lint::PercentEncoded, "ab%2").is_err());
        assert_eq!(check(Lint::PercentEncoded, "ab%2Fc"), Ok(()));
        assert_eq!(check(Lint::PositionInSequence, "1/2"), Ok(()));
        assert!(check(Lint::PositionInSequence, "3/2").is_err());
        assert_eq!(check(Lint::HhMi, "2359"), Ok(()));
        assert!(check(Lint::HhMi, "2460").is_err());
        // Ten digits each (AI 4309): up to 180 and 360 degrees in units of 10^-7.
        assert_eq!(check(Lint::Latitude, "0107270729"), Ok(()));
        assert_eq!(check(Lint::Latitude, "1800000000"), Ok(()));
        assert!(check(Lint::Latitude, "1800000001").is_err());
        assert_eq!(check(Lint::Longitude, "3600000000"), Ok(()));
        assert!(check(Lint::Longitude, "3600000001").is_err());
        assert!(check(Lint::Longitude, "9999999999").is_err());
    }
}
