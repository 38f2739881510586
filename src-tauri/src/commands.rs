//! The Tauri commands: a few lines each — DTO in, one core call, view or
//! `{code, message}` out. The acting user always comes from the session,
//! never from the front end's request.

use crate::dto::{ApiError, AppInfo, BarcodeScan, ImportProgress};
use crate::AppState;
use ledger::*;
use tauri::ipc::Channel;
use tauri::State;

type Reply<T> = Result<T, ApiError>;

pub(crate) fn lang(state: &AppState) -> Lang {
    state.session.lock().expect("session lock").language
}

/// Runs `f` on the ledger, mapping its error into the session language.
fn with_ledger<T>(state: &AppState, f: impl FnOnce(&mut Ledger) -> ledger::Result<T>) -> Reply<T> {
    let lang = lang(state);
    let mut ledger = state.ledger.lock().expect("ledger lock");
    f(&mut ledger).map_err(|e| ApiError::from_ledger(&e, lang))
}

pub(crate) fn session_user(state: &AppState) -> Reply<String> {
    let session = state.session.lock().expect("session lock");
    session
        .username
        .clone()
        .ok_or_else(|| ApiError::app("no_user", "请先选择操作员。", "Choose who is working first.", session.language))
}

#[tauri::command(async)]
pub fn app_info(state: State<'_, AppState>) -> Reply<AppInfo> {
    let (username, language) = {
        let s = state.session.lock().expect("session lock");
        (s.username.clone(), s.language)
    };
    with_ledger(&state, |l| {
        let user = username.map(|u| l.user(&u)).transpose()?;
        Ok(AppInfo {
            node: l.node_info()?,
            db_path: state.db_path.display().to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            today: l.clock().today().to_string(),
            language,
            may_edit_master_data: user.as_ref().is_some_and(|u| u.role.allows(Action::EditMasterData)),
            may_review_stocktakes: user.as_ref().is_some_and(|u| u.role.allows(Action::ReviewStocktake)),
            may_resolve_excursions: user.as_ref().is_some_and(|u| u.role.allows(Action::ReleaseQuarantine)),
            // Enrolling the workstation with the server (src-tauri/src/sync.rs checks the same).
            may_enrol_workstation: user.as_ref().is_some_and(|u| u.role.allows(Action::EditMasterData)),
            user,
        })
    })
}

#[tauri::command(async)]
pub fn list_users(state: State<'_, AppState>) -> Reply<Vec<UserView>> {
    with_ledger(&state, |l| l.users())
}

/// Chooses the local user; the session language follows the user's preference.
#[tauri::command(async)]
pub fn choose_user(state: State<'_, AppState>, username: String) -> Reply<UserView> {
    let user = with_ledger(&state, |l| l.user(&username))?;
    let mut session = state.session.lock().expect("session lock");
    session.username = Some(user.username.clone());
    session.language = user.language;
    Ok(user)
}

#[tauri::command(async)]
pub fn set_language(state: State<'_, AppState>, language: Lang) -> Reply<Lang> {
    state.session.lock().expect("session lock").language = language;
    Ok(language)
}

#[tauri::command(async)]
pub fn list_locations(state: State<'_, AppState>) -> Reply<Vec<LocationView>> {
    with_ledger(&state, |l| l.locations())
}

#[tauri::command(async)]
pub fn list_departments(state: State<'_, AppState>) -> Reply<Vec<DepartmentView>> {
    with_ledger(&state, |l| l.departments())
}

#[tauri::command(async)]
pub fn list_suppliers(state: State<'_, AppState>) -> Reply<Vec<SupplierView>> {
    with_ledger(&state, |l| l.suppliers())
}

#[tauri::command(async)]
pub fn search_items(state: State<'_, AppState>, query: String, limit: u32) -> Reply<Vec<ItemView>> {
    with_ledger(&state, |l| l.items(&query, limit.min(500) as usize))
}

#[tauri::command(async)]
pub fn find_item(state: State<'_, AppState>, identifier: String) -> Reply<ItemView> {
    with_ledger(&state, |l| l.item(&identifier))
}

/// Creates an item (from the receive screen, for a barcode the ledger does not know).
#[tauri::command(async)]
pub fn add_item(state: State<'_, AppState>, item: NewItem) -> Reply<ItemView> {
    let username = session_user(&state)?;
    with_ledger(&state, |l| add_item_as(l, &username, &item))
}

/// `Ledger::add_item` takes no acting user, so the core cannot check who asks;
/// until it does, the shell applies the core's own permission matrix
/// (`Role::allows(EditMasterData)`) to the session user and answers with the
/// core's `forbidden` error.
pub(crate) fn add_item_as(ledger: &mut Ledger, username: &str, item: &NewItem) -> ledger::Result<ItemView> {
    let user = ledger.user(username)?;
    if !user.role.allows(Action::EditMasterData) {
        return Err(LedgerError::Forbidden {
            user: user.username,
            role: user.role.as_str().to_string(),
            action: Action::EditMasterData.as_str(),
        });
    }
    ledger.add_item(item)
}

/// Reads one scan and finds its item (see [`crate::scan::read`]).
#[tauri::command(async)]
pub fn parse_barcode(state: State<'_, AppState>, data: String) -> Reply<BarcodeScan> {
    let lang = lang(&state);
    let ledger = state.ledger.lock().expect("ledger lock");
    crate::scan::read(&ledger, &data, lang)
}

#[tauri::command(async)]
pub fn stock(state: State<'_, AppState>, filter: StockFilter) -> Reply<Vec<StockRow>> {
    with_ledger(&state, |l| l.stock(&filter))
}

#[tauri::command(async)]
pub fn fefo_choices(state: State<'_, AppState>, item: String, location: String) -> Reply<Vec<LotChoice>> {
    with_ledger(&state, |l| l.fefo_choices(&item, &location))
}

/// Posts a receipt, issue, transfer or count as the session user.
#[tauri::command(async)]
pub fn post_document(state: State<'_, AppState>, request: DocumentRequest) -> Reply<DocumentView> {
    let user = session_user(&state)?;
    with_ledger(&state, |l| {
        let request = DocumentRequest { user, ..request };
        let posted = l.post(&request)?;
        l.document(&posted.id)
    })
}

#[tauri::command(async)]
pub fn movements(state: State<'_, AppState>, filter: MovementFilter) -> Reply<Vec<MovementView>> {
    with_ledger(&state, |l| l.movements(&filter))
}

#[tauri::command(async)]
pub fn trace(state: State<'_, AppState>, lot_or_serial: String) -> Reply<Vec<MovementView>> {
    with_ledger(&state, |l| l.trace(&lot_or_serial))
}

#[tauri::command(async)]
pub fn document(state: State<'_, AppState>, number: String) -> Reply<DocumentView> {
    with_ledger(&state, |l| l.document(&number))
}

// Stocktakes (盘点单). Every command acts as the session user: a `user` in
// the request from the front end is overwritten.

#[tauri::command(async)]
pub fn list_stocktakes(state: State<'_, AppState>, limit: u32) -> Reply<Vec<StocktakeSummary>> {
    with_ledger(&state, |l| l.stocktakes(limit.min(500)))
}

#[tauri::command(async)]
pub fn start_stocktake(state: State<'_, AppState>, request: StocktakeRequest) -> Reply<StocktakeRef> {
    let user = session_user(&state)?;
    with_ledger(&state, |l| l.start_stocktake(&StocktakeRequest { user, ..request }))
}

/// Scope, progress and the session user's last scans.
#[tauri::command(async)]
pub fn stocktake_view(state: State<'_, AppState>, stocktake: String) -> Reply<StocktakeView> {
    let user = session_user(&state)?;
    with_ledger(&state, |l| l.stocktake(&stocktake, &user))
}

/// One scan (quantity null: one unit) or a typed quantity for a key.
#[tauri::command(async)]
pub fn record_count(state: State<'_, AppState>, stocktake: String, entry: CountEntry) -> Reply<ObservationView> {
    let user = session_user(&state)?;
    with_ledger(&state, |l| l.record_count(&stocktake, &CountEntry { user, ..entry }))
}

/// The quantity typed for an observation (the last scan) replaces it.
#[tauri::command(async)]
pub fn set_count_quantity(
    state: State<'_, AppState>,
    stocktake: String,
    observation: String,
    quantity: i64,
) -> Reply<ObservationView> {
    let user = session_user(&state)?;
    with_ledger(&state, |l| l.set_count_quantity(&stocktake, &user, &observation, quantity))
}

/// Voids the session user's newest observation; null when there is none.
#[tauri::command(async)]
pub fn undo_count(state: State<'_, AppState>, stocktake: String) -> Reply<Option<ObservationView>> {
    let user = session_user(&state)?;
    with_ledger(&state, |l| l.undo_count(&stocktake, &user))
}

#[tauri::command(async)]
pub fn stocktake_variance(state: State<'_, AppState>, stocktake: String) -> Reply<VarianceReport> {
    let user = session_user(&state)?;
    with_ledger(&state, |l| l.stocktake_variance(&stocktake, &user))
}

#[tauri::command(async)]
pub fn request_recount(state: State<'_, AppState>, stocktake: String, keys: Vec<RecountKey>) -> Reply<usize> {
    let user = session_user(&state)?;
    with_ledger(&state, |l| l.request_recount(&stocktake, &user, &keys))
}

#[tauri::command(async)]
pub fn finish_counting(state: State<'_, AppState>, stocktake: String) -> Reply<()> {
    let user = session_user(&state)?;
    with_ledger(&state, |l| l.finish_counting(&stocktake, &user))
}

#[tauri::command(async)]
pub fn cancel_stocktake(state: State<'_, AppState>, stocktake: String) -> Reply<()> {
    let user = session_user(&state)?;
    with_ledger(&state, |l| l.cancel_stocktake(&stocktake, &user))
}

#[tauri::command(async)]
pub fn post_stocktake(
    state: State<'_, AppState>,
    stocktake: String,
    request: PostStocktakeRequest,
) -> Reply<PostedStocktake> {
    let user = session_user(&state)?;
    with_ledger(&state, |l| l.post_stocktake(&stocktake, &PostStocktakeRequest { user, ..request }))
}

/// A batch scanner's file (its text, as the front end read it): each line's
/// barcode read as a scan, all lines recorded or none; progress on `on_progress`.
#[tauri::command(async)]
pub fn import_counts(
    state: State<'_, AppState>,
    stocktake: String,
    text: String,
    location: Option<String>,
    on_progress: Channel<ImportProgress>,
) -> Reply<ImportSummary> {
    let user = session_user(&state)?;
    let lang = lang(&state);
    let offset = crate::import::local_utc_offset_minutes();
    with_ledger(&state, |l| {
        crate::import::import_counts_as(l, &stocktake, &user, &text, location.as_deref(), offset, lang, &mut |p| {
            // A closed window only loses the progress, not the import.
            let _ = on_progress.send(p);
        })
    })
}

#[cfg(test)]
mod bindings {
    //! Generates ui/src/bindings/*.ts from the Rust types that cross the IPC
    //! boundary, so the front end's types cannot drift from the core's.
    use super::*;
    use ts_rs::TS;

    #[test]
    fn export_typescript_bindings() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ui/src/bindings");
        // Quantities are i64 in base units but travel as JSON numbers (safe below 2^53).
        let cfg = ts_rs::Config::new().with_out_dir(&dir).with_large_int("number");
        ApiError::export_all(&cfg).unwrap();
        AppInfo::export_all(&cfg).unwrap();
        UserView::export_all(&cfg).unwrap();
        LocationView::export_all(&cfg).unwrap();
        DepartmentView::export_all(&cfg).unwrap();
        SupplierView::export_all(&cfg).unwrap();
        ItemView::export_all(&cfg).unwrap();
        StockRow::export_all(&cfg).unwrap();
        StockFilter::export_all(&cfg).unwrap();
        LotChoice::export_all(&cfg).unwrap();
        DocumentRequest::export_all(&cfg).unwrap();
        DocumentView::export_all(&cfg).unwrap();
        MovementView::export_all(&cfg).unwrap();
        MovementFilter::export_all(&cfg).unwrap();
        NewItem::export_all(&cfg).unwrap();
        BarcodeScan::export_all(&cfg).unwrap();
        StocktakeRequest::export_all(&cfg).unwrap();
        StocktakeRef::export_all(&cfg).unwrap();
        StocktakeSummary::export_all(&cfg).unwrap();
        StocktakeView::export_all(&cfg).unwrap();
        CountEntry::export_all(&cfg).unwrap();
        ObservationView::export_all(&cfg).unwrap();
        VarianceReport::export_all(&cfg).unwrap();
        RecountKey::export_all(&cfg).unwrap();
        PostStocktakeRequest::export_all(&cfg).unwrap();
        PostedStocktake::export_all(&cfg).unwrap();
        ImportSummary::export_all(&cfg).unwrap();
        ImportProgress::export_all(&cfg).unwrap();
        crate::printing::PrinterSetup::export_all(&cfg).unwrap();
        crate::printing::PrinterView::export_all(&cfg).unwrap();
        crate::printing::LabelRequest::export_all(&cfg).unwrap();
        crate::printing::PrintLabelsRequest::export_all(&cfg).unwrap();
        crate::printing::PrintJobRow::export_all(&cfg).unwrap();
        crate::coldchain::SerialPortView::export_all(&cfg).unwrap();
        crate::devices::SerialScan::export_all(&cfg).unwrap();
        crate::devices::DeviceState::export_all(&cfg).unwrap();
        crate::devices::ColdchainUpdate::export_all(&cfg).unwrap();
        ColdUnitView::export_all(&cfg).unwrap();
        ReadingView::export_all(&cfg).unwrap();
        crate::sync::SyncStatusView::export_all(&cfg).unwrap();
        crate::sync::CaCertificateFile::export_all(&cfg).unwrap();
        crate::sync::SyncApplied::export_all(&cfg).unwrap();
        crate::sync::SyncReview::export_all(&cfg).unwrap();
        assert!(dir.join("DocumentRequest.ts").exists());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger_with_users() -> (tempfile::TempDir, Ledger) {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = Ledger::open(&dir.path().join("items.sqlite")).unwrap();
        ledger.init("T01", "").unwrap();
        for (username, role) in [("wangli", Role::Clerk), ("zhaoqiang", Role::Manager)] {
            ledger
                .add_user(&NewUser {
                    username: username.into(),
                    display_name: username.into(),
                    role,
                    language: Lang::Zh,
                })
                .unwrap();
        }
        (dir, ledger)
    }

    fn new_item(code: &str) -> NewItem {
        NewItem { code: code.into(), name: "新品规".into(), unit: "个".into(), pack_size: 1, ..NewItem::default() }
    }

    #[test]
    fn a_clerk_may_not_create_an_item_and_nothing_is_written() {
        let (_dir, mut ledger) = ledger_with_users();
        let error = add_item_as(&mut ledger, "wangli", &new_item("06901234567892")).unwrap_err();
        assert_eq!(error.code(), "forbidden");
        assert!(error.message(Lang::En).contains("may not edit master data"), "{}", error.message(Lang::En));
        assert_eq!(ledger.item("06901234567892").unwrap_err().code(), "unknown_item");
    }

    #[test]
    fn a_manager_creates_an_item_that_a_scan_then_finds() {
        let (_dir, mut ledger) = ledger_with_users();
        let item = add_item_as(&mut ledger, "zhaoqiang", &new_item("06901234567892")).unwrap();
        assert_eq!(item.code, "06901234567892");
        let scan = crate::scan::read(&ledger, "]C1010690123456789210LOT7", Lang::En).unwrap();
        assert_eq!(scan.item.map(|i| i.id), Some(item.id));
        assert_eq!(scan.reading.lot.as_deref(), Some("LOT7"));
    }

    #[test]
    fn an_unknown_user_cannot_create_items() {
        let (_dir, mut ledger) = ledger_with_users();
        let error = add_item_as(&mut ledger, "nobody", &new_item("06901234567892")).unwrap_err();
        assert_eq!(error.code(), "unknown_user");
    }
}
