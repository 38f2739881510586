//! The GS1 data a label's barcode carries, built and checked with our own
//! barcode engine (`udi`) so that what we print is what we read: internal
//! items through `udi::encode_internal_label` (AI 91), GTIN labels as
//! (01)(17)(10)(21) with a separator after every element whose length GS1
//! does not predefine (`udi::gen::is_predefined`, from the engine's AI table),
//! and then every element string is read back with `udi::parse` and must give
//! the same GTIN, lot, expiry and serial. No AI table of our own.
//!
//! Separators are kept as [`Gs1Part::Fnc1`]; each output writes FNC1 its own
//! way (codeword 232 in a Data Matrix, the FNC1 symbol in Code 128, `_1` in
//! ZPL, `~1` in TSPL) and the text a scanner sends has ASCII GS (29) there.

use crate::error::PrintError;
use crate::model::{LabelData, LabelIdentifier, LabelKind};
use crate::Lang;
use chrono::NaiveDate;

/// One piece of a barcode's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gs1Part {
    /// The function character FNC1: first, it marks GS1 data; later, it ends a variable-length element.
    Fnc1,
    /// Data characters (printable ASCII).
    Text(String),
}

/// What a label's barcode encodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BarcodeData {
    /// GS1 data (starts with FNC1) or, for bin labels, plain text (no FNC1).
    pub parts: Vec<Gs1Part>,
    /// `(AI, value)` pairs for the human-readable line; empty for plain text.
    pub elements: Vec<(String, String)>,
}

impl BarcodeData {
    /// Whether this is GS1 data (FNC1 in first position).
    pub fn is_gs1(&self) -> bool {
        self.parts.first() == Some(&Gs1Part::Fnc1)
    }

    /// The text a scanner transmits: FNC1 separators become GS (29); the leading FNC1 is the symbology's flag.
    pub fn transmitted(&self) -> String {
        let mut out = String::new();
        for (i, part) in self.parts.iter().enumerate() {
            match part {
                Gs1Part::Fnc1 if i == 0 => {}
                Gs1Part::Fnc1 => out.push('\u{1d}'),
                Gs1Part::Text(text) => out.push_str(text),
            }
        }
        out
    }

    /// The human-readable interpretation, one entry per element: `(01)09506000134352`.
    /// Plain (bin) data is one entry as it is.
    pub fn human_readable(&self) -> Vec<String> {
        if self.elements.is_empty() {
            return vec![self.transmitted()];
        }
        self.elements.iter().map(|(ai, value)| format!("({ai}){value}")).collect()
    }
}

/// Builds and checks the barcode data of a validated label. `today` is the
/// reference date of GS1's century window: an expiry the two-digit year
/// would read back as another date is refused.
pub fn label_barcode(label: &LabelData, today: NaiveDate) -> Result<BarcodeData, PrintError> {
    if label.kind == LabelKind::Bin {
        let code = label.location.clone().ok_or(PrintError::MissingField { field: "location" })?;
        return Ok(BarcodeData { parts: vec![Gs1Part::Text(code)], elements: Vec::new() });
    }
    let identifier = label.identifier.as_ref().ok_or(PrintError::MissingField { field: "identifier" })?;
    let transmitted = match identifier {
        LabelIdentifier::Internal(code) => {
            let internal = udi::InternalLabel {
                code: code.clone(),
                lot: label.lot.clone(),
                expiry: label.expires_on,
                serial: label.serial.clone(),
            };
            udi::encode_internal_label(&internal, today).map_err(|e| PrintError::from_udi(&e))?
        }
        LabelIdentifier::Gtin(gtin) => {
            let gtin14 = gtin14(gtin)?;
            let mut elements: Vec<(&str, String)> = vec![("01", gtin14)];
            if let Some(expiry) = label.expires_on {
                elements.push(("17", expiry.format("%y%m%d").to_string()));
            }
            if let Some(lot) = &label.lot {
                elements.push(("10", lot.clone()));
            }
            if let Some(serial) = &label.serial {
                elements.push(("21", serial.clone()));
            }
            let mut out = String::new();
            let last = elements.len() - 1;
            for (i, (ai, value)) in elements.iter().enumerate() {
                out.push_str(ai);
                out.push_str(value);
                if i != last && !udi::gen::is_predefined(ai) {
                    out.push('\u{1d}');
                }
            }
            out
        }
    };
    read_back(label, identifier, &transmitted, today)
}

/// Reads the element string with our engine and keeps it only if it says exactly what the label says.
fn read_back(
    label: &LabelData,
    identifier: &LabelIdentifier,
    transmitted: &str,
    today: NaiveDate,
) -> Result<BarcodeData, PrintError> {
    let options = udi::Options::new(today, Lang::En);
    let scan = udi::parse(transmitted, &options).map_err(|e| PrintError::from_udi(&e))?;
    let reading = &scan.reading;
    let identifier_ok = match identifier {
        LabelIdentifier::Gtin(gtin) => reading.gtin.as_deref() == gtin14(gtin).ok().as_deref(),
        LabelIdentifier::Internal(code) => {
            scan.scheme == udi::Scheme::Internal && reading.di.as_deref() == Some(code.as_str())
        }
    };
    let same = identifier_ok
        && !scan.is_ambiguous()
        && reading.lot == label.lot
        && reading.serial == label.serial
        && reading.expiry == label.expires_on;
    if !same {
        // The engine read something else (an expiry outside the century
        // window, a value that swallowed the next element): refuse rather than print it.
        return Err(PrintError::BadBarcodeData {
            code: "read_back_differs",
            message_zh: "条码读回的内容与标签不一致（有效期超出两位年份可表示的范围，或批号、序列号含有会被误读的内容）。".into(),
            message_en: "the barcode would read back differently from the label (an expiry outside the two-digit-year window, or a lot or serial that reads as something else).".into(),
        });
    }
    let mut parts = vec![Gs1Part::Fnc1];
    for (i, piece) in transmitted.split('\u{1d}').enumerate() {
        if i > 0 {
            parts.push(Gs1Part::Fnc1);
        }
        parts.push(Gs1Part::Text(piece.to_string()));
    }
    let elements = reading.elements.iter().map(|e| (e.id.clone(), e.value.clone())).collect();
    Ok(BarcodeData { parts, elements })
}

/// A GTIN of 8, 12, 13 or 14 digits with a valid check digit, as GTIN-14.
pub fn gtin14(gtin: &str) -> Result<String, PrintError> {
    let ok = matches!(gtin.len(), 8 | 12 | 13 | 14)
        && gtin.bytes().all(|b| b.is_ascii_digit())
        && udi::verify_gs1_check_digit(gtin).is_ok();
    if !ok {
        return Err(PrintError::BadGtin { value: gtin.chars().take(20).collect() });
    }
    Ok(format!("{gtin:0>14}"))
}
