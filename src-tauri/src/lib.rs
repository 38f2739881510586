//! The desktop shell: opens the workstation's ledger and exposes thin Tauri
//! commands over it. Each command takes a DTO, makes one core call and returns
//! the core's view or `{code, message}`. Only this crate knows Tauri; rules
//! (permissions, expiry, FEFO, stock checks) live in `ledger`.

mod coldchain;
mod commands;
pub mod devices;
pub mod dto;
mod import;
mod printing;
mod scan;
pub mod sync;

use ledger::{Lang, Ledger};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tauri::{Emitter, Manager};

/// The file name of the ledger in the user's data directory.
pub const DEFAULT_DB_FILE: &str = "medledger.sqlite";

/// Shared state: the open ledger and the session (chosen user, language).
pub struct AppState {
    /// Shared with the device threads, which lock it only to read settings and record.
    pub(crate) ledger: Arc<Mutex<Ledger>>,
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

/// Starts the serial scanners and the cold-chain poller; their events go to the webview.
fn start_devices(app: tauri::AppHandle, ledger: Arc<Mutex<Ledger>>) -> devices::Devices {
    let emitter = app.clone();
    let emit: devices::Emit = Arc::new(move |event| {
        let _ = match event {
            devices::DeviceEvent::Scan(scan) => emitter.emit(devices::SCAN_EVENT, scan),
            devices::DeviceEvent::State(state) => emitter.emit(devices::DEVICE_EVENT, state),
            devices::DeviceEvent::Coldchain(update) => emitter.emit(devices::COLDCHAIN_EVENT, update),
        };
    });
    let lang = Arc::new(move || app.state::<AppState>().session.lock().expect("session lock").language);
    let devices = devices::Devices::new(ledger, emit, lang);
    if let Err(error) = devices.start_scanners() {
        eprintln!("medledger: serial scanners not started: {error}");
    }
    // Tests poll every few hundred ms; a workstation every minute.
    let interval = std::env::var("MEDLEDGER_POLL_INTERVAL_MS")
        .ok()
        .and_then(|ms| ms.parse::<u64>().ok())
        .map(std::time::Duration::from_millis)
        .unwrap_or(devices::POLL_INTERVAL_DEFAULT);
    // Excursions are judged by the system, as the workstation's administrator (as `medledger coldchain poll` does).
    devices.start_poller(interval, ledger::INITIAL_ADMIN);
    devices
}

/// Starts the sync thread; its events go to the webview.
fn start_sync(app: tauri::AppHandle, ledger: Arc<Mutex<Ledger>>) -> sync::SyncService {
    let emitter = app.clone();
    let emit: sync::Emit = Arc::new(move |event| {
        let _ = match event {
            sync::SyncEvent::Status(status) => emitter.emit(sync::STATUS_EVENT, status),
            sync::SyncEvent::Progress(progress) => emitter.emit(sync::PROGRESS_EVENT, progress),
            sync::SyncEvent::Applied(applied) => emitter.emit(sync::APPLIED_EVENT, applied),
        };
    });
    let lang = Arc::new(move || app.state::<AppState>().session.lock().expect("session lock").language);
    sync::SyncService::start(ledger, emit, lang, sync::SyncService::interval_from_env())
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
            let ledger = Arc::new(Mutex::new(ledger));
            app.manage(AppState {
                _checkpointer: checkpointer,
                ledger: ledger.clone(),
                session: Mutex::new(Session { username: None, language: system_language() }),
                db_path,
            });
            app.manage(printing::PrintWorker::start(app.handle().clone())?);
            app.manage(start_devices(app.handle().clone(), ledger.clone()));
            app.manage(start_sync(app.handle().clone(), ledger));
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
            coldchain::serial_ports,
            coldchain::set_port_role,
            coldchain::remove_port_role,
            coldchain::add_sensor,
            coldchain::device_states,
            coldchain::pending_serial_scans,
            coldchain::acknowledge_serial_scans,
            coldchain::poll_now,
            coldchain::cold_units,
            coldchain::readings,
            coldchain::excursions,
            coldchain::resolve_excursion,
            coldchain::record_manual_reading,
            coldchain::import_logger_readings,
            printing::list_printers,
            printing::set_printer,
            printing::preview_label,
            printing::preview_document,
            printing::print_labels,
            printing::print_document,
            printing::print_jobs,
            printing::retry_print_job,
            printing::cancel_print_job,
            sync::sync_status,
            sync::sync_now,
            sync::enrol_workstation,
            sync::replace_sync_ca,
            sync::sync_review,
        ])
        .run(tauri::generate_context!())
        .expect("MedLedger could not start");
}
