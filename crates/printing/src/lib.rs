//! Printing for MedLedger: labels and documents from plain data, and the
//! transports that take a job to a printer.
//!
//! - **Labels** ([`LabelData`]: lot, unit/serial, bin, internal item) carry a
//!   GS1 DataMatrix and/or GS1-128 with true FNC1 separators, built and read
//!   back with our barcode engine (`udi`), plus human-readable text: as ZPL
//!   ([`labels_zpl`]), TSPL ([`labels_tspl`]), a PDF with a page per label
//!   ([`labels_pdf`]) or a PNG preview ([`label_png`]), sized by a
//!   [`PrinterProfile`].
//! - **Documents** ([`DocumentData`]: 入库单, 出库单, 调拨单, 盘点单, 报废单)
//!   as an A4 PDF ([`document_pdf`]) or a 58/80 mm ESC/POS receipt
//!   ([`document_escpos`]).
//! - **Transports**: [`send`] one job to a [`Connection`] parsed from
//!   `tcp://…`, `cups://…` or `serial://…`.
//!
//! The crate holds no database and keeps no queue: the ledger fills the data
//! in and keeps failed jobs. It reads no clock: "today" (for GS1's century
//! window) comes in [`RenderOptions`]. Rendering is pure apart from reading
//! the font file (see [`Fonts`]); only `transport` talks to the outside.
//! Every limit is a named constant; bad input is a [`PrintError`] with a
//! stable code, never a panic.

mod canvas;
mod document;
mod error;
mod font;
pub mod from_ledger;
mod gs1;
mod label;
mod model;
mod receipt;
mod symbol;
mod transport;

pub use document::document_pdf;
pub use error::PrintError;
pub use font::{Fonts, FONT_CANDIDATES, FONT_ENV};
pub use gs1::{gtin14, label_barcode, BarcodeData, Gs1Part};
pub use label::{
    label_png, labels_pdf, labels_tspl, labels_zpl, LINEAR_MODULE_MM_MAX, LINEAR_MODULE_MM_MIN, MATRIX_MODULE_MM_MAX,
    MATRIX_MODULE_MM_MIN, TSPL_DEFAULT_FONT, ZPL_DEFAULT_FONT,
};
pub use model::*;
pub use receipt::document_escpos;
pub use symbol::{code128_modules, code128_plan, datamatrix, datamatrix_codewords, Matrix, C128};
pub use transport::*;
/// The language of messages, captions and documents (the barcode engine's).
pub use udi::Lang;

use chrono::NaiveDate;

/// What every rendering needs besides the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenderOptions {
    /// Today's date, the reference of GS1's two-digit-year window.
    pub today: NaiveDate,
    /// Language of captions and titles.
    pub lang: Lang,
}

/// Labels in the printer's own language: ZPL, TSPL, or a PDF for a PDF
/// (CUPS) printer. `fonts` is needed only for PDF.
pub fn render_labels(
    labels: &[LabelData],
    profile: &PrinterProfile,
    options: &RenderOptions,
    fonts: Option<&Fonts>,
) -> Result<Vec<u8>, PrintError> {
    match profile.language {
        PrinterLanguage::Zpl => labels_zpl(labels, profile, options),
        PrinterLanguage::Tspl => labels_tspl(labels, profile, options),
        PrinterLanguage::Pdf => labels_pdf(labels, profile, options, fonts_or_system(fonts)?.as_ref()),
        PrinterLanguage::Escpos => Err(PrintError::UnsupportedOutput { language: "escpos", output: "labels" }),
    }
}

/// A document in the printer's own language: ESC/POS for a receipt printer,
/// else an A4 PDF (label printers cannot print documents).
pub fn render_document(
    document: &DocumentData,
    profile: &PrinterProfile,
    options: &RenderOptions,
    fonts: Option<&Fonts>,
) -> Result<Vec<u8>, PrintError> {
    match profile.language {
        PrinterLanguage::Escpos => document_escpos(document, profile, options),
        PrinterLanguage::Pdf => document_pdf(document, options, fonts_or_system(fonts)?.as_ref()),
        language => Err(PrintError::UnsupportedOutput { language: language.as_str(), output: "documents" }),
    }
}

enum FontsRef<'a> {
    Borrowed(&'a Fonts),
    Shared(std::sync::Arc<Fonts>),
}

impl AsRef<Fonts> for FontsRef<'_> {
    fn as_ref(&self) -> &Fonts {
        match self {
            FontsRef::Borrowed(f) => f,
            FontsRef::Shared(f) => f,
        }
    }
}

fn fonts_or_system(fonts: Option<&Fonts>) -> Result<FontsRef<'_>, PrintError> {
    match fonts {
        Some(f) => Ok(FontsRef::Borrowed(f)),
        None => Fonts::system().map(FontsRef::Shared),
    }
}
