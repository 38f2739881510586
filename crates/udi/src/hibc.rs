//! HIBC, the Health Industry Bar Code (ANSI/HIBC 2.x Supplier Labeling).
//!
//! - Primary: `+` labeler code (4, first a letter) product number (1–18)
//!   unit of measure (a digit) and a mod-43 check character.
//! - Secondary, as its own symbol: `+` data, the primary's check character as
//!   the link, and its own check character. Data forms: `$$` + date format +
//!   lot, `$$+` + date format + serial (format digit 0/1 = MMYY, 2 MMDDYY,
//!   3 YYMMDD, 4 YYMMDDHH, 5 YYJJJ, 6 YYJJJHH, 7 no date, 8 two-digit and
//!   9 five-digit quantity then a format), `$` + lot, `$+` + serial, and the
//!   old five-digit Julian date + lot.
//! - Supplementary fields after `/`: `S` serial, `14D` expiry and `16D`
//!   production date (YYYYMMDD), `Q` quantity.
//! - Combined: `+` primary `/` secondary (no `+`, no link) … with one check
//!   character over everything.
//!
//! The check character sums the Code 39 values of every character from the
//! `+` on, mod 43. MMYY means the last day of that month.

use crate::error::UdiError;
use crate::gs1::lint::{days_in_month, full_year};
use crate::{Element, Options, Reading, Warning};
use chrono::NaiveDate;

/// The Code 39 character set in value order (the mod-43 table).
const CODE39: &[u8; 43] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-. $/+%";
/// The longest HIBC data (HIBC 2.6: 110 characters, plus `+` and the check character).
pub const HIBC_LEN_MAX: usize = 112;
/// The longest product number.
const PCN_MAX: usize = 18;
/// The longest lot or serial.
const LOT_MAX: usize = 18;

fn value39(b: u8) -> Option<usize> {
    CODE39.iter().position(|&c| c == b)
}

/// The mod-43 check character of `data` (from the leading `+` on); `None` if
/// it holds a character outside the Code 39 set.
pub fn hibc_check_character(data: &str) -> Option<char> {
    let mut sum = 0;
    for b in data.bytes() {
        sum += value39(b)?;
    }
    Some(char::from(CODE39[sum % 43]))
}

fn bad(reason: &'static str) -> UdiError {
    UdiError::BadHibc { reason }
}

/// Reads an HIBC symbol (starting with `+`).
pub fn read(data: &str, options: &Options) -> Result<Reading, UdiError> {
    if data.len() > HIBC_LEN_MAX {
        return Err(UdiError::TooLong { length: data.len(), max: HIBC_LEN_MAX });
    }
    if data.len() < 3 {
        return Err(bad("too short"));
    }
    if data.starts_with("+/") {
        return Err(bad("a provider (PAS) label, not a product label"));
    }
    if let Some(c) = data.chars().find(|c| !c.is_ascii() || value39(*c as u8).is_none()) {
        return Err(UdiError::BadCharacter { ai: "HIBC".to_string(), character: c });
    }
    let (body, check) = data.split_at(data.len() - 1);
    let expected = hibc_check_character(body).expect("characters checked above");
    if check.as_bytes()[0] != expected as u8 {
        return Err(UdiError::BadCheckDigit { field: "HIBC".to_string(), expected: expected.to_string() });
    }
    let body = &body[1..];
    let mut out = Fields::default();
    if body.as_bytes()[0].is_ascii_alphabetic() {
        // Primary, possibly combined with the secondary after '/'.
        let mut parts = body.split('/');
        let primary = parts.next().expect("split yields one part");
        out.primary(primary)?;
        let rest: Vec<&str> = parts.collect();
        if let Some((first, supplementary)) = rest.split_first() {
            out.secondary(first, options)?;
            for field in supplementary {
                out.supplementary(field)?;
            }
        }
    } else {
        // A secondary on its own: data, then the link character.
        let (secondary, link) = body.split_at(body.len() - 1);
        if secondary.is_empty() {
            return Err(bad("empty secondary"));
        }
        let mut parts = secondary.split('/');
        out.secondary(parts.next().expect("one part"), options)?;
        for field in parts {
            out.supplementary(field)?;
        }
        out.elements.push(element("LINK", link));
    }
    out.elements.push(element("CHK", check));
    Ok(out.into_reading())
}

fn element(id: &str, value: &str) -> Element {
    Element { id: id.to_string(), value: value.to_string() }
}

#[derive(Default)]
struct Fields {
    di: Option<String>,
    lot: Option<String>,
    serial: Option<String>,
    expiry: Option<NaiveDate>,
    production_date: Option<NaiveDate>,
    quantity: Option<i64>,
    elements: Vec<Element>,
}

impl Fields {
    fn into_reading(self) -> Reading {
        Reading {
            di: self.di,
            gtin: None,
            lot: self.lot,
            serial: self.serial,
            expiry: self.expiry,
            production_date: self.production_date,
            quantity: self.quantity,
            elements: self.elements,
            warnings: Vec::<Warning>::new(),
        }
    }

    fn primary(&mut self, primary: &str) -> Result<(), UdiError> {
        let bytes = primary.as_bytes();
        if bytes.len() < 6 {
            return Err(bad("primary data too short"));
        }
        let (lic, rest) = primary.split_at(4);
        let (pcn, uom) = rest.split_at(rest.len() - 1);
        if !bytes[0].is_ascii_uppercase() || !lic.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()) {
            return Err(bad("labeler code"));
        }
        if pcn.is_empty() || pcn.len() > PCN_MAX || !pcn.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()) {
            return Err(bad("product number"));
        }
        if !uom.as_bytes()[0].is_ascii_digit() {
            return Err(bad("unit of measure"));
        }
        let head = format!("+{primary}");
        let check = hibc_check_character(&head).expect("Code 39 characters");
        self.di = Some(format!("{head}{check}"));
        self.elements.extend([element("LIC", lic), element("PCN", pcn), element("U/M", uom)]);
        Ok(())
    }

    fn secondary(&mut self, data: &str, options: &Options) -> Result<(), UdiError> {
        if let Some(rest) = data.strip_prefix("$$+") {
            let id = self.dated(rest, options)?;
            self.set_serial(id)?;
        } else if let Some(rest) = data.strip_prefix("$$") {
            let id = self.dated(rest, options)?;
            self.set_lot(id)?;
        } else if let Some(serial) = data.strip_prefix("$+") {
            self.set_serial(serial)?;
        } else if let Some(lot) = data.strip_prefix('$') {
            self.set_lot(lot)?;
        } else if data.len() >= 5 && data.as_bytes()[..5].iter().all(u8::is_ascii_digit) {
            // The old form: a Julian expiry date, then the lot (at most 13).
            let (date, lot) = data.split_at(5);
            self.set_expiry(julian(date, options)?, date)?;
            if lot.len() > 13 {
                return Err(bad("lot too long"));
            }
            self.set_lot(lot)?;
        } else {
            return Err(bad("secondary data"));
        }
        Ok(())
    }

    /// The `$$`/`$$+` forms: optional quantity, optional date, then the lot or serial.
    fn dated<'a>(&mut self, data: &'a str, options: &Options) -> Result<&'a str, UdiError> {
        let mut rest = data;
        let digits = |s: &str, n: usize| s.len() >= n && s.as_bytes()[..n].iter().all(u8::is_ascii_digit);
        let mut quantity_given = false;
        if let Some(after) = rest.strip_prefix('8').or_else(|| rest.strip_prefix('9')) {
            let n = if rest.starts_with('8') { 2 } else { 5 };
            if !digits(after, n) {
                return Err(bad("quantity"));
            }
            let quantity: i64 = after[..n].parse().map_err(|_| bad("quantity"))?;
            self.quantity = Some(quantity);
            self.elements.push(element("QTY", &after[..n]));
            rest = &after[n..];
            quantity_given = true;
        }
        let flag = rest.as_bytes().first().copied();
        let (date, length) = match flag {
            Some(b'0' | b'1') => {
                if !digits(rest, 4) {
                    return Err(bad("expiry date"));
                }
                (Some(month_end(&rest[..4], options)?), 4)
            }
            Some(b'2') if digits(&rest[1..], 6) => (Some(mmddyy(&rest[1..7], options)?), 7),
            Some(b'3') if digits(&rest[1..], 6) => (Some(yymmdd(&rest[1..7], options)?), 7),
            Some(b'4') if digits(&rest[1..], 8) => {
                hour(&rest[7..9])?;
                (Some(yymmdd(&rest[1..7], options)?), 9)
            }
            Some(b'5') if digits(&rest[1..], 5) => (Some(julian(&rest[1..6], options)?), 6),
            Some(b'6') if digits(&rest[1..], 7) => {
                hour(&rest[6..8])?;
                (Some(julian(&rest[1..6], options)?), 8)
            }
            Some(b'7') => (None, 1),
            Some(b'2'..=b'6') if !quantity_given => return Err(bad("expiry date")),
            // After a quantity the date is optional.
            _ if quantity_given => (None, 0),
            _ => return Err(bad("date format")),
        };
        if let Some(date) = date {
            let raw = &rest[..length];
            self.set_expiry(date, raw)?;
        }
        Ok(&rest[length..])
    }

    fn supplementary(&mut self, field: &str) -> Result<(), UdiError> {
        if let Some(date) = field.strip_prefix("14D") {
            let d = yyyymmdd(date)?;
            self.elements.push(element("/14D", date));
            if self.expiry.is_some_and(|e| e != d) {
                return Err(UdiError::ConflictingDuplicate { ai: "HIBC expiry".to_string() });
            }
            self.expiry = Some(d);
        } else if let Some(date) = field.strip_prefix("16D") {
            let d = yyyymmdd(date)?;
            self.elements.push(element("/16D", date));
            self.production_date = Some(d);
        } else if let Some(serial) = field.strip_prefix('S') {
            self.elements.push(element("/S", serial));
            self.set_serial_value(serial)?;
        } else if let Some(quantity) = field.strip_prefix('Q') {
            if quantity.is_empty() || quantity.len() > 9 || !quantity.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad("quantity"));
            }
            self.elements.push(element("/Q", quantity));
            self.quantity = Some(quantity.parse().map_err(|_| bad("quantity"))?);
        } else {
            return Err(bad("supplementary field"));
        }
        Ok(())
    }

    fn set_expiry(&mut self, date: NaiveDate, raw: &str) -> Result<(), UdiError> {
        self.elements.push(element("EXP", raw));
        self.expiry = Some(date);
        Ok(())
    }

    fn set_lot(&mut self, lot: &str) -> Result<(), UdiError> {
        if lot.len() > LOT_MAX {
            return Err(bad("lot too long"));
        }
        if !lot.is_empty() {
            self.elements.push(element("LOT", lot));
            self.lot = Some(lot.to_string());
        }
        Ok(())
    }

    fn set_serial(&mut self, serial: &str) -> Result<(), UdiError> {
        if !serial.is_empty() {
            self.elements.push(element("SN", serial));
            self.set_serial_value(serial)?;
        }
        Ok(())
    }

    fn set_serial_value(&mut self, serial: &str) -> Result<(), UdiError> {
        if serial.is_empty() || serial.len() > LOT_MAX {
            return Err(bad("serial"));
        }
        if self.serial.as_deref().is_some_and(|s| s != serial) {
            return Err(UdiError::ConflictingDuplicate { ai: "HIBC serial".to_string() });
        }
        self.serial = Some(serial.to_string());
        Ok(())
    }
}

fn two(s: &str) -> u32 {
    s.parse().unwrap_or(99)
}

fn bad_date(value: &str) -> UdiError {
    UdiError::BadDate { field: "HIBC".to_string(), value: value.to_string() }
}

fn month_end(mmyy: &str, options: &Options) -> Result<NaiveDate, UdiError> {
    let (mm, yy) = (two(&mmyy[..2]), two(&mmyy[2..]));
    if !(1..=12).contains(&mm) {
        return Err(bad_date(mmyy));
    }
    let year = full_year(yy, options.today);
    NaiveDate::from_ymd_opt(year, mm, days_in_month(year, mm)).ok_or_else(|| bad_date(mmyy))
}

fn mmddyy(s: &str, options: &Options) -> Result<NaiveDate, UdiError> {
    NaiveDate::from_ymd_opt(full_year(two(&s[4..]), options.today), two(&s[..2]), two(&s[2..4]))
        .ok_or_else(|| bad_date(s))
}

fn yymmdd(s: &str, options: &Options) -> Result<NaiveDate, UdiError> {
    NaiveDate::from_ymd_opt(full_year(two(&s[..2]), options.today), two(&s[2..4]), two(&s[4..]))
        .ok_or_else(|| bad_date(s))
}

fn julian(s: &str, options: &Options) -> Result<NaiveDate, UdiError> {
    let day: u32 = s[2..].parse().map_err(|_| bad_date(s))?;
    NaiveDate::from_yo_opt(full_year(two(&s[..2]), options.today), day).ok_or_else(|| bad_date(s))
}

fn yyyymmdd(s: &str) -> Result<NaiveDate, UdiError> {
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad_date(s));
    }
    NaiveDate::from_ymd_opt(s[..4].parse().unwrap_or(0), two(&s[4..6]), two(&s[6..])).ok_or_else(|| bad_date(s))
}

fn hour(s: &str) -> Result<(), UdiError> {
    if two(s) <= 23 {
        Ok(())
    } else {
        Err(bad_date(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_characters_of_published_examples() {
        assert_eq!(hibc_check_character("+A123BJC5D6E71"), Some('G'));
        assert_eq!(hibc_check_character("+$$52001510X3G"), Some('D'));
        assert_eq!(hibc_check_character("+A99912345/$$52001510X3"), Some('3'));
        assert_eq!(hibc_check_character("+a"), None);
    }
}
