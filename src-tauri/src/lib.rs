//! The desktop shell: opens the workstation's ledger and exposes thin Tauri
//! commands over it. Each command takes a DTO, makes one core call and returns
//! the core's view or `{code, message}`. Only this crate knows Tauri; rules
//! (permissions, expiry, FEFO, stock checks) live in `ledger`.

mod commands;
pub mod dto;
mod import;
mod printing;
mod scan;

use ledger::{Lang, Ledger};
use std::path::PathBuf;
use std::sync::Mutex;
use tauri::Manager;

/// The file name of the ledger in the user's data directory.
pub const DEFAULT_DB_FILE: &str = "medledger.sqlite";

/// Shared state: the open ledger and the session (chosen user, language).
pub struct AppState {
    pub(crate) ledger: Mutex<Ledger>,
    pub(crate) session: Mutex<Session>,
    pub(crate) db_path: PathBuf,
    /// Copies the WAL into the database beside posting; stops with the app.
    _checkpointer: ledger::Checkpointer,
}

/// Who is working and in which language.
#[derive(Debug, Clone)]
pub struct Session {
    /// The chosen user.
    pub username: Option<String>,
    /// The language for messages.
    pub language: Lang,
}

/// The ledger path: `--db PATH` or `MEDLEDGER_DB`, else the user's data directory.
fn ledger_path(app: &tauri::App) -> Result<PathBuf, Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--db" {
            if let Some(path) = args.next() {
                return Ok(PathBuf::from(path));
            }
        }
    }
    if let Some(path) = std::env::var_os("MEDLEDGER_DB").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    let dir = app.path().app_data_dir()?;
    std::fs::create_dir_all(&dir)?;
    Ok(dir.join(DEFAULT_DB_FILE))
}

/// Chinese when the system locale is Chinese, English otherwise (product brief §2.8).
fn system_language() -> Lang {
    match sys_locale::get_locale() {
        Some(locale) if locale.to_lowercase().starts_with("zh") => Lang::Zh,
        _ => Lang::En,
    }
}

/// Starts the app.
pub fn run() {
    tauri::Builder::default()
        .setup(|app| {
            let db_path = ledger_path(app)?;
            let mut ledger = Ledger::open(&db_path)?;
            if ledger.node_info().is_err() {
                // A new workstation: its identity is made here, once.
                let site = std::env::var("MEDLEDGER_SITE").unwrap_or_else(|_| "S01".into());
                ledger.init(&site, "")?;
            }
            let checkpointer = ledger.start_checkpointer()?;
            app.manage(AppState {
                _checkpointer: checkpointer,
                ledger: Mutex::new(ledger),
                session: Mutex::new(Session { username: None, language: system_language() }),
                db_path,
            });
            app.manage(printing::PrintWorker::start(app.handle().clone())?);
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::app_info,
            commands::list_users,
            commands::choose_user,
            commands::set_language,
            commands::list_locations,
            commands::list_departments,
            commands::list_suppliers,
            commands::search_items,
            commands::find_item,
            commands::stock,
            commands::fefo_choices,
            commands::post_document,
            commands::movements,
            commands::trace,
            commands::document,
            commands::add_item,
            commands::parse_barcode,
            commands::list_stocktakes,
            commands::start_stocktake,
            commands::stocktake_view,
            commands::record_count,
            commands::set_count_quantity,
            commands::undo_count,
            commands::stocktake_variance,
            commands::request_recount,
            commands::finish_counting,
            commands::cancel_stocktake,
            commands::post_stocktake,
            commands::import_counts,
            printing::list_printers,
            printing::set_printer,
            printing::preview_label,
            printing::preview_document,
            printing::print_labels,
            printing::print_document,
            printing::print_jobs,
            printing::retry_print_job,
            printing::cancel_print_job,
        ])
        .run(tauri::generate_context!())
        .expect("MedLedger could not start");
}
