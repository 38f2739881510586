//! GS1 Digital Link URIs on any host: `https://id.gs1.org/01/…/10/…?17=…`.
//!
//! The path holds a primary key (e.g. 01) with its qualifiers (22, 10, 21)
//! after any prefix path; the query holds data attributes by AI. Values are
//! percent-decoded; GTINs of 8, 12 or 13 digits are padded to 14. The
//! convenience names of the first Digital Link version (`gtin`, `lot`, `ser`,
//! `exp`…) are read too, since old labels still carry them.

use super::{build, dedupe, table, validate, Elem};
use crate::error::{UdiError, WarningKind};
use crate::{Options, Read};
use percent_encoding::percent_decode_str;
use std::borrow::Cow;

/// Convenience names of Digital Link 1.0 and their AIs.
const ALIASES: &[(&str, &str)] = &[
    ("gtin", "01"),
    ("itip", "8006"),
    ("cpv", "22"),
    ("lot", "10"),
    ("ser", "21"),
    ("sscc", "00"),
    ("gln", "414"),
    ("exp", "17"),
    ("expdt", "7003"),
    ("bestBeforeDate", "15"),
    ("sellBy", "16"),
    ("prodDate", "11"),
    ("count", "30"),
];

fn ai_of(key: &str) -> Option<&'static table::AiSpec> {
    if key.bytes().all(|b| b.is_ascii_digit()) {
        return table::lookup(key);
    }
    ALIASES.iter().find(|(alias, _)| *alias == key).and_then(|(_, ai)| table::lookup(ai))
}

/// Percent-decodes a path segment; borrowed when it holds no escapes.
fn decode(text: &str) -> Result<Cow<'_, str>, UdiError> {
    percent_decode_str(text).decode_utf8().map_err(|_| UdiError::BadUri { reason: "percent-encoding" })
}

/// Reads a GS1 Digital Link URI.
pub fn read_digital_link(data: &str, options: &Options) -> Result<Read, UdiError> {
    let url = url::Url::parse(data).map_err(|_| UdiError::BadUri { reason: "not a URI" })?;
    let segments: Vec<&str> = url.path_segments().map(|s| s.filter(|s| !s.is_empty()).collect()).unwrap_or_default();
    // The primary key is the first segment naming a Digital Link key AI with a value after it.
    let start = (0..segments.len().saturating_sub(1))
        .find(|&i| ai_of(segments[i]).is_some_and(|spec| spec.dl_key.is_some()))
        .ok_or(UdiError::BadUri { reason: "no primary key" })?;
    let path = &segments[start..];
    if path.len() % 2 != 0 {
        return Err(UdiError::BadUri { reason: "path" });
    }
    let mut elems = Vec::new();
    let mut notes = Vec::new();
    let primary = ai_of(path[0]).expect("found above");
    let mut qualifiers = Vec::new();
    for pair in path.chunks(2) {
        let spec = ai_of(pair[0]).ok_or(UdiError::BadUri { reason: "path" })?;
        let mut value = decode(pair[1])?;
        if spec.ai == "01" && matches!(value.len(), 8 | 12 | 13) && value.bytes().all(|b| b.is_ascii_digit()) {
            value = Cow::Owned(format!("{value:0>14}"));
        }
        validate(spec, &value, options.today)?;
        if !std::ptr::eq(spec, primary) {
            qualifiers.push(spec.ai);
        }
        elems.push(Elem { spec, value });
    }
    if !qualifiers_in_order(primary.dl_key.unwrap_or(""), &qualifiers) {
        notes.push(WarningKind::QualifierOrder);
    }
    for (key, value) in url.query_pairs() {
        let Some(spec) = ai_of(&key) else {
            continue; // Not data: link types, tracking parameters.
        };
        if value.is_empty() {
            continue;
        }
        if !spec.dl_attribute {
            return Err(UdiError::BadUri { reason: "an AI that may not be a query attribute" });
        }
        validate(spec, &value, options.today)?;
        elems.push(Elem { spec, value });
    }
    let elems = dedupe(elems).map_err(|ai| UdiError::ConflictingDuplicate { ai })?;
    let (scheme, reading) = build(&elems, notes, options);
    Ok((scheme, reading, Vec::new()))
}

/// Whether qualifiers follow one of the key's allowed sequences, in order.
fn qualifiers_in_order(sequences: &str, qualifiers: &[&str]) -> bool {
    if qualifiers.is_empty() {
        return true;
    }
    sequences.split('|').any(|sequence| {
        let allowed: Vec<&str> = sequence.split(',').collect();
        let mut at = 0;
        qualifiers.iter().all(|q| match allowed[at..].iter().position(|a| a == q) {
            Some(i) => {
                at += i + 1;
                true
            }
            None => false,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualifier_order_follows_the_key() {
        assert!(qualifiers_in_order("22,10,21|235", &["10", "21"]));
        assert!(qualifiers_in_order("22,10,21|235", &["235"]));
        assert!(!qualifiers_in_order("22,10,21|235", &["21", "10"]));
        assert!(!qualifiers_in_order("22,10,21|235", &["10", "235"]));
        assert!(!qualifiers_in_order("", &["10"]));
    }
}
