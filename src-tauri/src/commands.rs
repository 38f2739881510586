//! The Tauri commands: a few lines each — DTO in, one core call, view or
//! `{code, message}` out. The acting user always comes from the session,
//! never from the front end's request.

use crate::dto::{ApiError, AppInfo};
use crate::AppState;
use ledger::*;
use tauri::State;

type Reply<T> = Result<T, ApiError>;

fn lang(state: &AppState) -> Lang {
    state.session.lock().expect("session lock").language
}

/// Runs `f` on the ledger, mapping its error into the session language.
fn with_ledger<T>(state: &AppState, f: impl FnOnce(&mut Ledger) -> ledger::Result<T>) -> Reply<T> {
    let lang = lang(state);
    let mut ledger = state.ledger.lock().expect("ledger lock");
    f(&mut ledger).map_err(|e| ApiError::from_ledger(&e, lang))
}

fn session_user(state: &AppState) -> Reply<String> {
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
        Ok(AppInfo {
            node: l.node_info()?,
            db_path: state.db_path.display().to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            today: l.clock().today().to_string(),
            language,
            user: username.map(|u| l.user(&u)).transpose()?,
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
        assert!(dir.join("DocumentRequest.ts").exists());
    }
}
