//! What crosses the IPC boundary besides the core's own views: the error
//! shape `{code, message}` and the app/session info. TypeScript types for all
//! of them are generated into ui/src/bindings (see `bindings` tests).

use ledger::{Lang, LedgerError, NodeInfo, UserView};
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
}
