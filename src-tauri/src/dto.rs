//! What crosses the IPC boundary besides the core's own views: the error
//! shape `{code, message}`, the app/session info, and a scanned barcode as
//! the screens use it. TypeScript types for all of them are generated into
//! ui/src/bindings (see `bindings` tests).

use ledger::{ItemView, Lang, LedgerError, NodeInfo, UserView};
use serde::Serialize;
use ts_rs::TS;

/// An error for the UI: branch on `code`, show `message` (already in the user's language).
#[derive(Debug, Clone, Serialize, TS)]
pub struct ApiError {
    /// Stable code, e.g. `insufficient_stock`.
    pub code: String,
    /// What happened and what to do, in the session language.
    pub message: String,
}

impl ApiError {
    /// The core's error in `lang`.
    pub fn from_ledger(error: &LedgerError, lang: Lang) -> ApiError {
        ApiError { code: error.code().to_string(), message: error.message(lang) }
    }

    /// An app-level error (no core call behind it).
    pub fn app(code: &str, zh: &str, en: &str, lang: Lang) -> ApiError {
        ApiError { code: code.to_string(), message: if lang == Lang::Zh { zh } else { en }.to_string() }
    }
}

/// What the app shows in its header and about box.
#[derive(Debug, Clone, Serialize, TS)]
pub struct AppInfo {
    /// This workstation's identity.
    pub node: NodeInfo,
    /// The ledger file.
    pub db_path: String,
    /// App version.
    pub version: String,
    /// Today's date at the workstation (YYYY-MM-DD), for expiry colouring.
    pub today: String,
    /// The language in force.
    pub language: Lang,
    /// The chosen user, if any.
    pub user: Option<UserView>,
    /// Whether the chosen user's role may change master data (e.g. create an
    /// item for an unknown barcode). The core's permission matrix decides;
    /// the UI only uses it to offer or not offer the action.
    pub may_edit_master_data: bool,
    /// Whether the chosen user's role may review stocktakes: see expected
    /// quantities of a blind stocktake, ask for recounts, close counting,
    /// post or cancel (the core's permission matrix again).
    pub may_review_stocktakes: bool,
    /// Whether the chosen user's role may release or scrap what a cold-chain
    /// excursion quarantined (the core's matrix; the UI offers the action).
    pub may_resolve_excursions: bool,
    /// Whether the chosen user may enrol this workstation with the hospital
    /// server (the core's matrix: who may edit master data).
    pub may_enrol_workstation: bool,
}

impl ApiError {
    /// A barcode that cannot be read, in `lang`.
    pub fn from_udi(error: &udi::UdiError, lang: Lang) -> ApiError {
        ApiError { code: error.code().to_string(), message: error.message(udi_lang(lang)) }
    }
}

/// The barcode engine's language for the session language.
pub fn udi_lang(lang: Lang) -> udi::Lang {
    match lang {
        Lang::Zh => udi::Lang::Zh,
        Lang::En => udi::Lang::En,
    }
}

/// How a scanned barcode was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum BarcodeScheme {
    /// GS1 (element string, bracketed, Digital Link or a bare GTIN).
    Gs1,
    /// HIBC.
    Hibc,
    /// China's MA code.
    Ma,
    /// MedLedger's own label (GS1 keyed by AI 91).
    Internal,
    /// Not a UDI barcode, but exactly an identifier the ledger knows an item
    /// by (an old internal Code 128 label, an HIBC code stored as printed).
    ItemCode,
}

impl From<udi::Scheme> for BarcodeScheme {
    fn from(scheme: udi::Scheme) -> BarcodeScheme {
        match scheme {
            udi::Scheme::Gs1 => BarcodeScheme::Gs1,
            udi::Scheme::Hibc => BarcodeScheme::Hibc,
            udi::Scheme::Ma => BarcodeScheme::Ma,
            udi::Scheme::Internal => BarcodeScheme::Internal,
        }
    }
}

/// One element of a barcode (GS1 AI, HIBC field, MA data unit) and its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct ScanElement {
    pub id: String,
    pub value: String,
}

/// Something odd about a barcode that was read: branch on `code`, show `message`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct ScanWarning {
    /// Stable code, e.g. `day_zero`, `separator_missing`, `ambiguous`.
    pub code: String,
    /// What it means for the clerk, in the session language.
    pub message: String,
}

/// What one reading of a barcode says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct ScanReading {
    /// The device identifier as the scheme writes it (GTIN-14, HIBC primary, MA DI, internal code).
    pub di: Option<String>,
    /// The GTIN-14 (GS1 only).
    pub gtin: Option<String>,
    pub lot: Option<String>,
    pub serial: Option<String>,
    /// Expiry, YYYY-MM-DD.
    pub expiry: Option<String>,
    /// Production date, YYYY-MM-DD.
    pub production_date: Option<String>,
    /// Quantity the barcode carries (GS1 AI 30 / 37, HIBC quantity), in base units as printed.
    pub quantity: Option<i64>,
    pub elements: Vec<ScanElement>,
    pub warnings: Vec<ScanWarning>,
}

impl ScanReading {
    /// The engine's reading, dates as YYYY-MM-DD.
    pub fn from_udi(reading: &udi::Reading) -> ScanReading {
        let date = |d: Option<chrono::NaiveDate>| d.map(|d| d.format("%Y-%m-%d").to_string());
        ScanReading {
            di: reading.di.clone(),
            gtin: reading.gtin.clone(),
            lot: reading.lot.clone(),
            serial: reading.serial.clone(),
            expiry: date(reading.expiry),
            production_date: date(reading.production_date),
            quantity: reading.quantity,
            elements: reading
                .elements
                .iter()
                .map(|e| ScanElement { id: e.id.clone(), value: e.value.clone() })
                .collect(),
            warnings: reading
                .warnings
                .iter()
                .map(|w| ScanWarning { code: w.code().to_string(), message: w.message() })
                .collect(),
        }
    }

    /// A reading that says only which item: a plain identifier.
    pub fn identifier(code: &str) -> ScanReading {
        ScanReading {
            di: Some(code.to_string()),
            gtin: None,
            lot: None,
            serial: None,
            expiry: None,
            production_date: None,
            quantity: None,
            elements: Vec::new(),
            warnings: Vec::new(),
        }
    }
}

/// One valid reading of a barcode that reads several ways, with its item.
#[derive(Debug, Clone, Serialize, TS)]
pub struct ScanCandidate {
    pub reading: ScanReading,
    /// The item its identifier names, if the ledger knows it.
    pub item: Option<ItemView>,
}

/// A scanned barcode: what it says and which item it is.
#[derive(Debug, Clone, Serialize, TS)]
pub struct BarcodeScan {
    /// The text as the scanner sent it.
    pub input: String,
    pub scheme: BarcodeScheme,
    /// The AIM symbology identifier the scanner sent (e.g. `]d2`), if any.
    pub symbology: Option<String>,
    /// The reading; when `candidates` is not empty, only what all of them agree on.
    pub reading: ScanReading,
    /// The item named by the reading's `di` (else its `gtin`); null when the ledger does not know it.
    pub item: Option<ItemView>,
    /// Every valid reading when lost separators leave several: the clerk chooses one.
    pub candidates: Vec<ScanCandidate>,
}

/// Where a batch-scanner import stands: its lines are read first (barcodes),
/// then recorded in one transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ImportStage {
    /// Reading each line's barcode.
    Reading,
    /// Recording the observations.
    Recording,
}

/// Progress of a batch-scanner import, sent while it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
pub struct ImportProgress {
    pub stage: ImportStage,
    /// Lines done in this stage.
    pub done: usize,
    /// Lines in the file (blank lines left out).
    pub total: usize,
}
