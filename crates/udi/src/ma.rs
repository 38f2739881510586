//! China's MA code (IDcode; ISO/IEC 15459 issuing agency "MA"), one of the
//! three code systems China's UDI rules accept for medical devices.
//!
//! `MA.156.M0.100761.21234561.Sx00008.M220117.L20220117.E220130.V220117.C3`:
//! the device identifier is the first five dot-separated fields (issuer,
//! country, industry, registrant, product code whose last character is a
//! check character); then come production data units, each a prefix letter
//! and a value: `L` lot, `S` serial, `M` production date (`P` before 2020),
//! `E` expiry (失效期), `V` validity date (有效期), `D` sterilisation lot,
//! `Y` medical insurance code, `C` check character. Dates are YYMMDD or
//! YYYYMMDD. The check algorithm (a Luhn variant over the characters' code
//! values) is not published by the issuer, so a mismatch is a warning.

use crate::error::{UdiError, Warning, WarningKind};
use crate::gs1::lint::full_year;
use crate::{Element, Options, Reading};
use chrono::NaiveDate;

/// The longest data unit value we accept.
const UNIT_MAX: usize = 64;

fn bad(reason: &'static str) -> UdiError {
    UdiError::BadMa { reason }
}

/// The code value of a character in the MA check algorithm.
fn value(c: u8) -> Option<u32> {
    Some(match c {
        b'0'..=b'9' => u32::from(c - b'0'),
        b'A'..=b'Z' => u32::from(c - b'A') + 10,
        b'a'..=b'g' => u32::from(c - b'a') + 36,
        b'h'..=b'z' => u32::from(c - b'h') + 45,
        _ => 64 + b"-.@$,*+%/#!^~".iter().position(|&x| x == c)? as u32,
    })
}

/// The MA check digit of `text`: the characters' code values written out in
/// decimal, then a Luhn sum from the right.
pub fn check_digit(text: &str) -> Option<char> {
    // The sum runs from the right, so the characters are taken from the
    // right and each value's digits from its last: no digit string is built.
    let mut sum = 0;
    let mut position = 0;
    for b in text.bytes().rev() {
        let v = value(b)?;
        // Code values are below 100: one or two digits.
        let digits: &[u32] = if v >= 10 { &[v % 10, v / 10] } else { &[v] };
        for &d in digits {
            sum += if position % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            };
            position += 1;
        }
    }
    char::from_digit((10 - sum % 10) % 10, 10)
}

fn date(value: &str, options: &Options) -> Result<NaiveDate, UdiError> {
    let bad_date = || UdiError::BadDate { field: "MA".to_string(), value: value.to_string() };
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad_date());
    }
    let n = |s: &str| s.parse::<u32>().unwrap_or(0);
    let (year, rest) = match value.len() {
        6 => (full_year(n(&value[..2]), options.today), &value[2..]),
        8 => (value[..4].parse::<i32>().unwrap_or(0), &value[4..]),
        _ => return Err(bad_date()),
    };
    NaiveDate::from_ymd_opt(year, n(&rest[..2]), n(&rest[2..])).ok_or_else(bad_date)
}

/// Reads an MA code.
pub fn read(data: &str, options: &Options) -> Result<Reading, UdiError> {
    if let Some(c) = data.chars().find(|c| !c.is_ascii_graphic()) {
        return Err(UdiError::BadCharacter { ai: "MA".to_string(), character: c });
    }
    let fields: Vec<&str> = data.split('.').collect();
    if fields.len() < 5 {
        return Err(bad("device identifier"));
    }
    let (country, industry, registrant, product) = (fields[1], fields[2], fields[3], fields[4]);
    let alnum = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric());
    if country.len() != 3 || !country.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("country code"));
    }
    if industry.len() != 2 || !alnum(industry) || !alnum(registrant) || !alnum(product) || product.len() < 2 {
        return Err(bad("device identifier"));
    }
    let di = fields[..5].join(".");
    let mut warnings = Vec::new();
    let expected = check_digit(&di[..di.len() - 1]);
    if expected.is_some_and(|e| !di.ends_with(e)) {
        let expected = expected.map(String::from).unwrap_or_default();
        warnings.push(WarningKind::CheckMismatch { field: "MA DI".to_string(), expected });
    }
    let mut reading = Reading { di: Some(di.clone()), ..Reading::default() };
    reading.elements.push(Element { id: "DI".to_string(), value: di });
    let mut expiry_e = None;
    let mut expiry_v = None;
    let mut check = None;
    let mut covered = Vec::new();
    for unit in &fields[5..] {
        let Some(prefix) = unit.chars().next() else {
            return Err(bad("empty data unit"));
        };
        let value = &unit[1..];
        if value.is_empty() || value.len() > UNIT_MAX {
            return Err(bad("data unit length"));
        }
        let set = |slot: &mut Option<String>| -> Result<(), UdiError> {
            if slot.as_deref().is_some_and(|s| s != value) {
                return Err(UdiError::ConflictingDuplicate { ai: format!("MA {prefix}") });
            }
            *slot = Some(value.to_string());
            Ok(())
        };
        match prefix {
            'L' => set(&mut reading.lot)?,
            'S' => set(&mut reading.serial)?,
            'M' | 'P' => reading.production_date = Some(date(value, options)?),
            'E' => expiry_e = Some(date(value, options)?),
            'V' => expiry_v = Some(date(value, options)?),
            'C' => {
                check = Some(value.to_string());
                reading.elements.push(Element { id: "C".to_string(), value: value.to_string() });
                continue;
            }
            // Sterilisation lot, medical insurance code, and units we do not interpret.
            _ => {}
        }
        covered.push(*unit);
        reading.elements.push(Element { id: prefix.to_string(), value: value.to_string() });
    }
    reading.expiry = expiry_e.or(expiry_v);
    if let Some(check) = check {
        let expected = check_digit(&format!(".{}", covered.join(".")));
        if expected.map(String::from).as_deref() != Some(check.as_str()) {
            let expected = expected.map(String::from).unwrap_or_default();
            warnings.push(WarningKind::CheckMismatch { field: "MA".to_string(), expected });
        }
    }
    reading.warnings = warnings.into_iter().map(|kind| Warning { kind, lang: options.lang }).collect();
    Ok(reading)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_digit_is_the_luhn_sum_of_the_written_out_values() {
        // The algorithm as described: the values written out, then Luhn from the right.
        fn written_out(text: &str) -> Option<char> {
            let digits: String = text.bytes().map(|b| value(b).map(|v| v.to_string())).collect::<Option<_>>()?;
            let sum: u32 = digits
                .bytes()
                .rev()
                .enumerate()
                .map(|(i, d)| {
                    let d = u32::from(d - b'0');
                    if i % 2 == 1 {
                        (d * 2) % 10 + (d * 2) / 10
                    } else {
                        d
                    }
                })
                .sum();
            char::from_digit((10 - sum % 10) % 10, 10)
        }
        let mut rng = crate::gen::Rng::new(5);
        let chars = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-.@$,*+%/#!^~ &";
        for _ in 0..5_000 {
            let n = rng.range(0, 40);
            let text: String = (0..n).map(|_| char::from(*rng.pick(chars))).collect();
            assert_eq!(check_digit(&text), written_out(&text), "{text:?}");
        }
    }

    #[test]
    fn check_digits_of_issued_codes() {
        assert_eq!(check_digit("MA.156.M0.100350.01004YA1001"), Some('7'));
        assert_eq!(check_digit(".SLMSAGAAAC.M210628.LAY21062803.E220628.V220627"), Some('3'));
        assert_eq!(check_digit("MA.156.M0.100011.2cscp02"), Some('3'));
        assert_eq!(check_digit("é"), None);
    }
}
