//! Barcode data for medical devices: from the text a scanner delivers to the
//! device identifier, lot, serial, expiry and quantity.
//!
//! Reads GS1 element strings (raw with FNC1/GS separators, with or without an
//! AIM symbology identifier, the bracketed human-readable form, and GS1
//! Digital Link URIs), HIBC (primary, secondary and combined symbols with
//! their supplementary fields), China's MA code (ISO/IEC 15459 issuer "MA"),
//! and MedLedger's own internal labels (GS1 strings keyed by AI 91).
//!
//! The crate is pure: no IO, no clock (the reference date for GS1's century
//! window comes in [`Options`]), no panics on any input. Every limit is a
//! named constant. A barcode that cannot be read is an [`UdiError`] with a
//! stable code; anything odd about one that can is a [`Warning`]. When lost
//! separators leave several valid readings, all of them come back as
//! candidates and nothing is guessed.

mod error;
/// Seeded generators of valid barcode text for the differential test and the
/// benchmark; not used by the parser.
pub mod gen;
mod gs1;
mod hibc;
mod ma;
mod symbology;

pub use error::{Lang, UdiError, Warning, WarningKind};
pub use gs1::lint::{gs1_check_digit, verify_gs1_check_digit};
pub use gs1::table::ai_title;
pub use gs1::{encode_internal_label, InternalLabel};
pub use hibc::hibc_check_character;
pub use symbology::is_gs1_symbology;

use chrono::NaiveDate;
use serde::Serialize;

/// The longest scan we read (bytes). A GS1 DataMatrix holds at most 2,335
/// alphanumerics; longer input is two scans run together or not a barcode.
pub const BARCODE_LEN_MAX: usize = 2_400;
/// At most this many candidate readings of a damaged barcode are returned.
pub const CANDIDATES_MAX: usize = 8;
/// The search for readings of a barcode with lost separators stops after this
/// many steps (bounds the time of the worst input).
pub const SEARCH_STEPS_MAX: usize = 20_000;

/// The scheme a barcode follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scheme {
    Gs1,
    Hibc,
    Ma,
    Internal,
}

/// How to read.
#[derive(Debug, Clone)]
pub struct Options {
    /// The reference date for two-digit years (GS1's century window).
    pub today: NaiveDate,
    /// The language of messages.
    pub lang: Lang,
    /// Extra text the workstation's scanners send in place of GS (e.g. `~`).
    pub separators: Vec<String>,
    /// The scanned item is known to be serial-tracked (the caller found it by
    /// its GTIN, which lost separators never change). A scan without any
    /// separator whose literal reading has no serial is then read as having
    /// lost the one before its serial (`…10LOT21SER` is lot LOT, serial SER),
    /// with the usual warning or candidates.
    pub serialized: bool,
}

impl Options {
    /// Options for `today` in `lang`, with the default separator stand-ins.
    pub fn new(today: NaiveDate, lang: Lang) -> Options {
        Options { today, lang, separators: Vec::new(), serialized: false }
    }
}

/// One element of a barcode: an identifier (GS1 AI, HIBC field, MA data unit) and its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Element {
    pub id: String,
    pub value: String,
}

/// What one reading of a barcode says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Reading {
    /// The device identifier as the scheme writes it (GTIN-14, HIBC primary, MA DI, internal code).
    pub di: Option<String>,
    /// The GTIN (GS1 only), 14 digits.
    pub gtin: Option<String>,
    pub lot: Option<String>,
    pub serial: Option<String>,
    pub expiry: Option<NaiveDate>,
    pub production_date: Option<NaiveDate>,
    pub quantity: Option<i64>,
    pub elements: Vec<Element>,
    pub warnings: Vec<Warning>,
}

/// A barcode that was read. When it reads several valid ways, `candidates`
/// holds every reading and the top-level fields keep only what all agree on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Scan {
    pub input: String,
    pub scheme: Scheme,
    /// The AIM symbology identifier the scanner sent (e.g. `]d2`), if any.
    pub symbology: Option<String>,
    #[serde(flatten)]
    pub reading: Reading,
    pub candidates: Vec<Reading>,
}

impl Scan {
    /// Whether the clerk has to choose among candidates.
    pub fn is_ambiguous(&self) -> bool {
        !self.candidates.is_empty()
    }
}

/// Reads raw scanner bytes (GS and AIM identifier intact).
pub fn parse_bytes(bytes: &[u8], options: &Options) -> Result<Scan, UdiError> {
    if bytes.len() > BARCODE_LEN_MAX {
        return Err(UdiError::TooLong { length: bytes.len(), max: BARCODE_LEN_MAX });
    }
    let text = std::str::from_utf8(bytes).map_err(|_| UdiError::NotText)?;
    parse(text, options)
}

/// Reads one barcode's text.
pub fn parse(input: &str, options: &Options) -> Result<Scan, UdiError> {
    if input.len() > BARCODE_LEN_MAX {
        return Err(UdiError::TooLong { length: input.len(), max: BARCODE_LEN_MAX });
    }
    // Scanners end a scan with CR/LF or Tab; people paste with spaces, but an
    // HIBC check character may itself be a space.
    let mut trimmed = input.trim_matches(|c: char| c == '\r' || c == '\n' || c == '\t');
    if !trimmed.trim_start_matches(' ').starts_with(['+', '*']) {
        trimmed = trimmed.trim_matches(' ');
    } else {
        trimmed = trimmed.trim_start_matches(' ');
    }
    if trimmed.is_empty() {
        return Err(UdiError::Empty);
    }
    let (symbology, data) = symbology::split(trimmed);
    if data.is_empty() {
        return Err(UdiError::Empty);
    }
    let (scheme, reading, candidates) = read(data, symbology, options)?;
    Ok(Scan { input: input.to_string(), scheme, symbology: symbology.map(|s| s.aim.to_string()), reading, candidates })
}

type Read = (Scheme, Reading, Vec<Reading>);

fn read(data: &str, symbology: Option<symbology::Symbology>, options: &Options) -> Result<Read, UdiError> {
    use symbology::Content;
    let content = symbology.map(|s| s.content).unwrap_or(Content::Unknown);
    if content == Content::Gs1 {
        return gs1::read_element_string(data, options);
    }
    if content == Content::Ean {
        return gs1::read_bare_gtin(data, options).unwrap_or(Err(UdiError::UnknownFormat));
    }
    let starts_with_ignoring_case =
        |prefix: &str| data.get(..prefix.len()).is_some_and(|h| h.eq_ignore_ascii_case(prefix));
    if starts_with_ignoring_case("http://") || starts_with_ignoring_case("https://") {
        return gs1::read_digital_link(data, options);
    }
    if data.starts_with('(') {
        return gs1::read_bracketed(data, options);
    }
    let unstarred = data.strip_prefix('*').and_then(|d| d.strip_suffix('*')).unwrap_or(data);
    if unstarred.starts_with('+') {
        return hibc::read(unstarred, options).map(|r| (Scheme::Hibc, r, Vec::new()));
    }
    if data.starts_with("MA.") {
        return ma::read(data, options).map(|r| (Scheme::Ma, r, Vec::new()));
    }
    if let Some(result) = gs1::read_bare_gtin(data, options) {
        // Fourteen digits with a wrong check digit may be an element string cut short.
        if result.is_err() && data.len() == 14 {
            let elements = gs1::read_element_string(data, options);
            if elements.is_ok() || ["00", "01", "02"].iter().any(|ai| data.starts_with(ai)) {
                return elements;
            }
        }
        return result;
    }
    if data.starts_with('\u{1d}') || data.as_bytes()[0].is_ascii_digit() {
        return gs1::read_element_string(data, options);
    }
    Err(UdiError::UnknownFormat)
}
