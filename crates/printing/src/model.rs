//! What to print, as plain data with no database in it: the ledger (or a
//! test) fills these in, the renderers turn them into printer bytes. Every
//! text field has a limit and no control characters; [`LabelData::validate`]
//! and [`DocumentData::validate`] check them before anything is rendered.

use crate::error::PrintError;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Labels in one job. A receipt's labels (one per unit of a serial-tracked
/// item) can be many; a job beyond this is split by the caller.
pub const LABELS_PER_JOB_MAX: usize = 5_000;
/// Lines in one printed document (the ledger's `DOCUMENT_LINES_MAX`).
pub const DOCUMENT_LINES_MAX: usize = 5_000;
/// Characters in a name, specification, hospital name or party name (the ledger's `TEXT_FIELD_MAX`).
pub const TEXT_CHARS_MAX: usize = 200;
/// Characters in a document's note.
pub const NOTE_CHARS_MAX: usize = 1_000;
/// Characters in a short field: unit, signature caption.
pub const SHORT_TEXT_CHARS_MAX: usize = 20;
/// Characters in a document number or bin code (printable ASCII, drawn as Code 128).
pub const CODE_CHARS_MAX: usize = 40;
/// Parties (supplier, department, locations …) named on one document.
pub const PARTIES_MAX: usize = 6;
/// Signature lines on one document.
pub const SIGNATURES_MAX: usize = 6;
/// The largest quantity a label or line shows, either sign (the ledger's `LINE_QUANTITY_MAX`).
pub const QUANTITY_ABS_MAX: i64 = 10_000_000;

/// What a label is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LabelKind {
    /// A lot (a box or a shelf of one lot): device identifier, lot, expiry.
    Lot,
    /// One serial-tracked unit: device identifier, serial (and lot, expiry).
    Unit,
    /// A storage bin: its location code, no item.
    Bin,
    /// An item that arrived without a usable manufacturer code: our internal code (AI 91).
    Item,
}

/// The device identifier a label's barcode carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "scheme", content = "value")]
pub enum LabelIdentifier {
    /// A GS1 GTIN (8, 12, 13 or 14 digits; written as GTIN-14 under AI 01).
    Gtin(String),
    /// Our internal code, written under AI 91 by `udi::encode_internal_label`.
    Internal(String),
}

/// One label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelData {
    pub kind: LabelKind,
    /// Required for every kind but `Bin`, which must not have one.
    pub identifier: Option<LabelIdentifier>,
    /// Item name (Chinese allowed); for a bin, the location's name.
    pub name: String,
    pub specification: Option<String>,
    pub lot: Option<String>,
    pub expires_on: Option<NaiveDate>,
    pub serial: Option<String>,
    /// Quantity shown on the label (not encoded in the barcode), with its unit.
    pub quantity: Option<i64>,
    pub unit: Option<String>,
    /// Bin or location code: encoded in a bin label's barcode, shown on the others.
    pub location: Option<String>,
}

impl LabelData {
    /// Checks the fields every output relies on; the GS1 data is checked when it is built.
    pub fn validate(&self) -> Result<(), PrintError> {
        required_text("name", &self.name, TEXT_CHARS_MAX)?;
        optional_text("specification", self.specification.as_deref(), TEXT_CHARS_MAX)?;
        optional_text("unit", self.unit.as_deref(), SHORT_TEXT_CHARS_MAX)?;
        // Lot and serial are checked by the barcode engine (GS1 character set 82, ≤ 20).
        optional_text("lot", self.lot.as_deref(), TEXT_CHARS_MAX)?;
        optional_text("serial", self.serial.as_deref(), TEXT_CHARS_MAX)?;
        if let Some(location) = &self.location {
            check_code("location", location)?;
        }
        if let Some(quantity) = self.quantity {
            check_quantity("quantity", quantity)?;
        }
        match self.kind {
            LabelKind::Bin => {
                if self.identifier.is_some() {
                    return Err(PrintError::UnexpectedField { field: "identifier" });
                }
                if self.location.is_none() {
                    return Err(PrintError::MissingField { field: "location" });
                }
            }
            LabelKind::Lot | LabelKind::Unit | LabelKind::Item => {
                if self.identifier.is_none() {
                    return Err(PrintError::MissingField { field: "identifier" });
                }
            }
        }
        match self.kind {
            LabelKind::Lot if self.lot.is_none() => return Err(PrintError::MissingField { field: "lot" }),
            LabelKind::Unit if self.serial.is_none() => return Err(PrintError::MissingField { field: "serial" }),
            LabelKind::Item if !matches!(self.identifier, Some(LabelIdentifier::Internal(_))) => {
                return Err(PrintError::MissingField { field: "internal_code" })
            }
            _ => {}
        }
        Ok(())
    }
}

/// Which barcode a label carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LabelSymbology {
    /// GS1 DataMatrix: small, fits every label size we take.
    #[default]
    DataMatrix,
    /// GS1-128: needs a wide label (about 75 mm for GTIN + expiry + lot + serial).
    Gs1_128,
    /// Both, the DataMatrix beside the text and the GS1-128 across the bottom.
    Both,
}

/// The language a printer speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrinterLanguage {
    /// Zebra ZPL II label printers.
    Zpl,
    /// TSC TSPL/TSPL2 label printers (also Xprinter, Gprinter).
    Tspl,
    /// ESC/POS thermal receipt printers.
    Escpos,
    /// Any printer, through a PDF (CUPS, or saved and printed by hand).
    Pdf,
}

impl PrinterLanguage {
    pub fn as_str(self) -> &'static str {
        match self {
            PrinterLanguage::Zpl => "zpl",
            PrinterLanguage::Tspl => "tspl",
            PrinterLanguage::Escpos => "escpos",
            PrinterLanguage::Pdf => "pdf",
        }
    }
}

/// Print resolution of a label printer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u16", into = "u16")]
pub enum Dpi {
    D203,
    D300,
    D600,
}

impl Dpi {
    pub fn value(self) -> u16 {
        match self {
            Dpi::D203 => 203,
            Dpi::D300 => 300,
            Dpi::D600 => 600,
        }
    }

    /// Printer dots per millimetre (203 dpi printers are 8 dots/mm by design).
    pub fn dots_per_mm(self) -> f32 {
        match self {
            Dpi::D203 => 8.0,
            Dpi::D300 => 300.0 / 25.4,
            Dpi::D600 => 600.0 / 25.4,
        }
    }
}

impl TryFrom<u16> for Dpi {
    type Error = String;
    fn try_from(value: u16) -> Result<Dpi, String> {
        match value {
            203 => Ok(Dpi::D203),
            300 => Ok(Dpi::D300),
            600 => Ok(Dpi::D600),
            other => Err(format!("dpi must be 203, 300 or 600, not {other}")),
        }
    }
}

impl From<Dpi> for u16 {
    fn from(dpi: Dpi) -> u16 {
        dpi.value()
    }
}

/// Paper width of a thermal receipt printer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u16", into = "u16")]
pub enum Paper {
    Mm58,
    Mm80,
}

impl Paper {
    /// Characters per line in the printer's standard 12×24 font (CJK characters take two).
    pub fn columns(self) -> usize {
        match self {
            Paper::Mm58 => 32,
            Paper::Mm80 => 48,
        }
    }
}

impl TryFrom<u16> for Paper {
    type Error = String;
    fn try_from(value: u16) -> Result<Paper, String> {
        match value {
            58 => Ok(Paper::Mm58),
            80 => Ok(Paper::Mm80),
            other => Err(format!("paper must be 58 or 80 mm, not {other}")),
        }
    }
}

impl From<Paper> for u16 {
    fn from(paper: Paper) -> u16 {
        match paper {
            Paper::Mm58 => 58,
            Paper::Mm80 => 80,
        }
    }
}

/// Label sizes we lay out, in millimetres, each side.
pub const LABEL_MM_MIN: f32 = 15.0;
pub const LABEL_MM_MAX: f32 = 250.0;

/// How one printer is set up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrinterProfile {
    pub language: PrinterLanguage,
    /// Label stock size (label printers, and the page size of label PDFs).
    pub label_width_mm: f32,
    pub label_height_mm: f32,
    pub dpi: Dpi,
    /// Receipt paper width (ESC/POS).
    pub paper: Paper,
    pub symbology: LabelSymbology,
    /// The printer-resident font for text (Chinese included); `None` takes the
    /// language's default: `E:ANMDS.TTF` on ZPL printers (Zebra's Andale Mono WT
    /// Simplified Chinese, installed on Zebra's Asian-font models), `TSS24.BF2`
    /// on TSPL printers (the 24×24 GB2312 font of TSC and its clones).
    pub font: Option<String>,
}

impl PrinterProfile {
    /// A profile with the usual settings for `language`: 60 × 40 mm labels, 203 dpi, 80 mm paper.
    pub fn new(language: PrinterLanguage) -> PrinterProfile {
        PrinterProfile {
            language,
            label_width_mm: 60.0,
            label_height_mm: 40.0,
            dpi: Dpi::D203,
            paper: Paper::Mm80,
            symbology: LabelSymbology::DataMatrix,
            font: None,
        }
    }

    pub fn validate(&self) -> Result<(), PrintError> {
        for (field, value) in [("label_width_mm", self.label_width_mm), ("label_height_mm", self.label_height_mm)] {
            if !(LABEL_MM_MIN..=LABEL_MM_MAX).contains(&value) {
                return Err(PrintError::BadProfile { field, value: value.to_string() });
            }
        }
        if let Some(font) = &self.font {
            let ok = !font.is_empty()
                && font.len() <= CODE_CHARS_MAX
                && font.bytes().all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b));
            if !ok {
                return Err(PrintError::BadProfile { field: "font", value: font.clone() });
            }
        }
        Ok(())
    }
}

/// What a document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// 入库单
    Receipt,
    /// 出库单
    Issue,
    /// 调拨单
    Transfer,
    /// 盘点单 (counted against book quantities, with the variance)
    Stocktake,
    /// 报废单
    Scrap,
}

/// The part someone plays on a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartyRole {
    Supplier,
    Department,
    FromLocation,
    ToLocation,
    Location,
    Operator,
}

/// A party named in a document's header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Party {
    pub role: PartyRole,
    pub name: String,
}

/// One line of a document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentLine {
    /// Item name.
    pub item: String,
    /// GTIN or internal code, shown under the name.
    pub code: Option<String>,
    pub specification: Option<String>,
    pub lot: Option<String>,
    pub expires_on: Option<NaiveDate>,
    pub serial: Option<String>,
    pub unit: Option<String>,
    /// Base units moved; on a stocktake, the counted quantity.
    pub quantity: i64,
    /// A stocktake's book quantity (what the station knew); the variance is `quantity - expected_quantity`.
    pub expected_quantity: Option<i64>,
    pub unit_cost: Option<Decimal>,
}

impl DocumentLine {
    /// Quantity the amount is for: the variance on a stocktake, else the quantity.
    pub fn priced_quantity(&self, kind: DocumentKind) -> i64 {
        match (kind, self.expected_quantity) {
            (DocumentKind::Stocktake, Some(expected)) => self.quantity - expected,
            _ => self.quantity,
        }
    }

    /// `unit_cost × priced quantity`, exactly (no rounding); `None` without a unit cost.
    pub fn amount(&self, kind: DocumentKind) -> Result<Option<Decimal>, PrintError> {
        match self.unit_cost {
            None => Ok(None),
            Some(cost) => {
                cost.checked_mul(Decimal::from(self.priced_quantity(kind))).map(Some).ok_or(PrintError::AmountOverflow)
            }
        }
    }
}

/// One document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentData {
    pub kind: DocumentKind,
    /// Printed as the header (e.g. 演示医院 中心库).
    pub hospital: String,
    /// Document number (`RK-S01-000123`), also drawn as a Code 128 barcode.
    pub number: String,
    pub date: NaiveDate,
    pub parties: Vec<Party>,
    pub lines: Vec<DocumentLine>,
    pub note: Option<String>,
    /// Captions of the signature lines; empty takes the kind's usual ones.
    pub signatures: Vec<String>,
}

/// Sums of a document's lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Totals {
    pub quantity: i64,
    /// Sum of the variances (stocktakes only).
    pub variance: Option<i64>,
    /// Sum of the amounts of lines that have a unit cost; `None` if none has.
    pub amount: Option<Decimal>,
}

impl DocumentData {
    pub fn validate(&self) -> Result<(), PrintError> {
        required_text("hospital", &self.hospital, TEXT_CHARS_MAX)?;
        check_code("number", &self.number)?;
        optional_text("note", self.note.as_deref(), NOTE_CHARS_MAX)?;
        if self.parties.len() > PARTIES_MAX {
            return Err(PrintError::TooManyEntries { field: "parties", count: self.parties.len(), max: PARTIES_MAX });
        }
        for party in &self.parties {
            required_text("party", &party.name, TEXT_CHARS_MAX)?;
        }
        if self.signatures.len() > SIGNATURES_MAX {
            return Err(PrintError::TooManyEntries {
                field: "signatures",
                count: self.signatures.len(),
                max: SIGNATURES_MAX,
            });
        }
        for caption in &self.signatures {
            required_text("signature", caption, SHORT_TEXT_CHARS_MAX)?;
        }
        if self.lines.is_empty() {
            return Err(PrintError::MissingField { field: "lines" });
        }
        if self.lines.len() > DOCUMENT_LINES_MAX {
            return Err(PrintError::TooManyLines { count: self.lines.len(), max: DOCUMENT_LINES_MAX });
        }
        for line in &self.lines {
            required_text("item", &line.item, TEXT_CHARS_MAX)?;
            optional_text("code", line.code.as_deref(), CODE_CHARS_MAX)?;
            optional_text("specification", line.specification.as_deref(), TEXT_CHARS_MAX)?;
            optional_text("lot", line.lot.as_deref(), TEXT_CHARS_MAX)?;
            optional_text("serial", line.serial.as_deref(), TEXT_CHARS_MAX)?;
            optional_text("unit", line.unit.as_deref(), SHORT_TEXT_CHARS_MAX)?;
            check_quantity("quantity", line.quantity)?;
            if let Some(expected) = line.expected_quantity {
                if self.kind != DocumentKind::Stocktake {
                    return Err(PrintError::UnexpectedField { field: "expected_quantity" });
                }
                check_quantity("expected_quantity", expected)?;
            }
        }
        self.totals().map(|_| ())
    }

    /// The document's totals; amounts are summed exactly.
    pub fn totals(&self) -> Result<Totals, PrintError> {
        let mut quantity = 0i64;
        let mut variance: Option<i64> = None;
        let mut amount: Option<Decimal> = None;
        for line in &self.lines {
            // |quantity| ≤ 10^7 and lines ≤ 5,000: the sums stay far inside i64.
            quantity += line.quantity;
            if self.kind == DocumentKind::Stocktake {
                *variance.get_or_insert(0) += line.priced_quantity(self.kind);
            }
            if let Some(line_amount) = line.amount(self.kind)? {
                let sum = amount.unwrap_or(Decimal::ZERO).checked_add(line_amount).ok_or(PrintError::AmountOverflow)?;
                amount = Some(sum);
            }
        }
        Ok(Totals { quantity, variance, amount })
    }
}

fn required_text(field: &'static str, value: &str, max: usize) -> Result<(), PrintError> {
    if value.trim().is_empty() {
        return Err(PrintError::MissingField { field });
    }
    optional_text(field, Some(value), max)
}

fn optional_text(field: &'static str, value: Option<&str>, max: usize) -> Result<(), PrintError> {
    let Some(value) = value else { return Ok(()) };
    let length = value.chars().count();
    if length > max {
        return Err(PrintError::TextTooLong { field, length, max });
    }
    if value.chars().any(char::is_control) {
        return Err(PrintError::ControlCharacter { field });
    }
    Ok(())
}

/// Document numbers and bin codes: drawn as Code 128 and typed by scanners, so printable ASCII from a safe set.
fn check_code(field: &'static str, value: &str) -> Result<(), PrintError> {
    let ok = !value.is_empty()
        && value.len() <= CODE_CHARS_MAX
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(PrintError::BadCode { field, value: value.chars().take(CODE_CHARS_MAX + 1).collect() })
    }
}

fn check_quantity(field: &'static str, quantity: i64) -> Result<(), PrintError> {
    if quantity.checked_abs().is_none_or(|q| q > QUANTITY_ABS_MAX) {
        return Err(PrintError::BadQuantity { field, quantity, max: QUANTITY_ABS_MAX });
    }
    Ok(())
}

/// Money as printed: exact, at least two decimals (`12.5` → `12.50`, `0.125` stays).
pub fn format_money(amount: Decimal) -> String {
    let mut amount = amount.normalize();
    if amount.scale() < 2 {
        amount.rescale(2);
    }
    amount.to_string()
}

/// The labels of a job, checked as a whole.
pub(crate) fn validate_job(labels: &[LabelData]) -> Result<(), PrintError> {
    if labels.is_empty() {
        return Err(PrintError::NoLabels);
    }
    if labels.len() > LABELS_PER_JOB_MAX {
        return Err(PrintError::TooManyLabels { count: labels.len(), max: LABELS_PER_JOB_MAX });
    }
    labels.iter().try_for_each(LabelData::validate)
}
