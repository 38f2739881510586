//! Posting documents: validate, plan, write — in one SQLite transaction, so a
//! document is either posted whole with all its movements or not at all.
//!
//! Each use case (receipt, issue, transfer, stocktake, reversal) first checks
//! its input in a fixed order and returns the first refusal as a typed error;
//! only a fully valid plan is written. Refusals write nothing.

use crate::balance::{balance_of, record, BalanceKey, MovementRecord};
use crate::clock::{Clock, Hlc};
use crate::error::{LedgerError, Result};
use crate::ids::IdSource;
use crate::master::lookup_id;
use crate::model::*;
use crate::query::fefo_rows;
use crate::store::{stamp, Ledger, Node};
use chrono::NaiveDate;
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use rust_decimal::Decimal;
use std::collections::HashMap;
use uuid::Uuid;

/// Most lines one document may hold.
pub const DOCUMENT_LINES_MAX: usize = 5_000;
/// Largest quantity on one line, in base units.
pub const LINE_QUANTITY_MAX: i64 = 10_000_000;
/// Longest note or reason.
pub const NOTE_MAX: usize = 1_000;

/// The identity of a posted document.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PostedRef {
    /// Document UUID.
    pub id: String,
    /// Document number, e.g. RK-S01-000001.
    pub number: String,
}

/// The number prefix of each document kind (拼音 initials, as hospitals write them).
pub fn number_prefix(kind: DocumentKind) -> &'static str {
    match kind {
        DocumentKind::Receipt => "RK",
        DocumentKind::Issue => "CK",
        DocumentKind::Transfer => "DB",
        DocumentKind::Stocktake => "PD",
        DocumentKind::Correction => "CZ",
        DocumentKind::Return => "TH",
        DocumentKind::Scrap => "BF",
        DocumentKind::Recall => "ZH",
    }
}

#[derive(Debug, Clone)]
pub(crate) struct ItemRef {
    pub id: Uuid,
    pub code: String,
    pub serialized: bool,
    pub unit_price: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct LocationRef {
    pub id: Uuid,
    pub code: String,
    pub kind: LocationKind,
}

#[derive(Debug, Clone)]
struct PlannedLine {
    item: ItemRef,
    lot: String,
    expires_on: Option<NaiveDate>,
    produced_on: Option<NaiveDate>,
    /// A lot this document creates.
    new_lot: bool,
    serial: String,
    quantity: i64,
    unit_cost: Option<String>,
}

#[derive(Debug, Clone)]
struct PlannedMovement {
    kind: MovementKind,
    key: BalanceKey,
    expires_on: Option<NaiveDate>,
    quantity: i64,
    expected_quantity: Option<i64>,
    unit_cost: Option<String>,
    corrects: Option<Uuid>,
}

#[derive(Debug, Clone)]
struct Plan {
    kind: DocumentKind,
    user_id: Uuid,
    location_id: Uuid,
    to_location_id: Option<Uuid>,
    department_id: Option<Uuid>,
    supplier_id: Option<Uuid>,
    override_by: Option<Uuid>,
    reason: Option<String>,
    corrects_document: Option<Uuid>,
    note: String,
    lines: Vec<PlannedLine>,
    movements: Vec<PlannedMovement>,
}

/// What the write phase needs besides the transaction.
struct Writer<'a> {
    clock: &'a dyn Clock,
    ids: &'a mut dyn IdSource,
    hlc: &'a mut Hlc,
    node: &'a Node,
}

impl Ledger {
    /// Validates and posts a document in one transaction.
    pub fn post(&mut self, request: &DocumentRequest) -> Result<PostedRef> {
        let node = self.node()?.clone();
        let today = self.clock.today();
        let Ledger { conn, clock, ids, hlc, data_version, .. } = self;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        crate::store::catch_up(&tx, hlc, data_version, Some(node.id))?;
        let plan = plan_request(&tx, request, today)?;
        let mut writer = Writer { clock: clock.as_ref(), ids: ids.as_mut(), hlc, node: &node };
        let posted = write_plan(&tx, &mut writer, &plan, None)?;
        tx.commit()?;
        Ok(posted)
    }

    /// Saves a document as an editable draft (validated only for the existence
    /// of what it names); returns its id. Posting re-validates everything.
    pub fn save_draft(&mut self, request: &DocumentRequest) -> Result<String> {
        let node = self.node()?.clone();
        check_request_shape(request)?;
        let user = acting_user(&self.conn, &request.user, action_for(request.kind))?;
        let location = location_ref(&self.conn, &request.location)?;
        let to_location = request.to_location.as_deref().map(|c| location_ref(&self.conn, c)).transpose()?;
        let department_id = request.department.as_deref().map(|c| self.department_id(c)).transpose()?;
        let supplier_id = request.supplier.as_deref().map(|c| self.supplier_id(c)).transpose()?;
        let mut items = Vec::with_capacity(request.lines.len());
        for line in &request.lines {
            items.push(item_ref(&self.conn, &line.item)?);
        }
        let now = self.clock.now_ms();
        let id = self.ids.next_id(now);
        let tx = self.begin()?;
        tx.execute(
            "INSERT INTO documents (id, kind, status, node_id, created_by, created_at_ms, location_id, to_location_id,
                department_id, supplier_id, note) VALUES (?1, ?2, 'draft', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                id,
                request.kind.as_str(),
                node.id,
                user.0,
                now,
                location.id,
                to_location.map(|l| l.id),
                department_id,
                supplier_id,
                request.note
            ],
        )?;
        for (index, (line, item)) in request.lines.iter().zip(&items).enumerate() {
            tx.execute(
                "INSERT INTO document_lines (document_id, line_no, item_id, lot, expires_on, produced_on, serial, quantity, unit_cost)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    id,
                    index as i64 + 1,
                    item.id,
                    line.lot.as_deref().unwrap_or("").trim(),
                    line.expiry.map(|d| d.to_string()),
                    line.production_date.map(|d| d.to_string()),
                    line.serial.as_deref().unwrap_or("").trim(),
                    line.quantity,
                    line.unit_cost.map(|c| c.to_string())
                ],
            )?;
        }
        tx.commit()?;
        Ok(id.to_string())
    }

    /// Posts a saved draft as `user`: the draft's lines are validated like a
    /// new request and written in one transaction; the draft becomes the posted document.
    pub fn post_draft(&mut self, draft_id: &str, user: &str, override_: Option<Override>) -> Result<PostedRef> {
        let node = self.node()?.clone();
        let today = self.clock.today();
        let Ledger { conn, clock, ids, hlc, data_version, .. } = self;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        crate::store::catch_up(&tx, hlc, data_version, Some(node.id))?;
        let (id, mut request) = load_draft(&tx, draft_id)?;
        request.user = user.to_string();
        request.override_ = override_;
        let plan = plan_request(&tx, &request, today)?;
        tx.execute("DELETE FROM document_lines WHERE document_id = ?1", [id])?;
        let mut writer = Writer { clock: clock.as_ref(), ids: ids.as_mut(), hlc, node: &node };
        let posted = write_plan(&tx, &mut writer, &plan, Some(id))?;
        tx.commit()?;
        Ok(posted)
    }

    /// Cancels a draft; it stays on file, frozen.
    pub fn cancel_draft(&mut self, draft_id: &str, user: &str) -> Result<()> {
        self.node()?;
        let tx = self.begin()?;
        let (id, request) = load_draft(&tx, draft_id)?;
        acting_user(&tx, user, action_for(request.kind))?;
        tx.execute("UPDATE documents SET status = 'cancelled' WHERE id = ?1", [id])?;
        tx.commit()?;
        Ok(())
    }

    /// Reverses a posted receipt, issue or transfer with compensating movements
    /// (each naming the movement it corrects) in a new correction document.
    pub fn reverse_document(
        &mut self,
        document: &str,
        user: &str,
        reason: &str,
        override_: Option<&Override>,
    ) -> Result<PostedRef> {
        let node = self.node()?.clone();
        let Ledger { conn, clock, ids, hlc, data_version, .. } = self;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        crate::store::catch_up(&tx, hlc, data_version, Some(node.id))?;
        let plan = plan_reversal(&tx, document, user, reason, override_)?;
        let mut writer = Writer { clock: clock.as_ref(), ids: ids.as_mut(), hlc, node: &node };
        let posted = write_plan(&tx, &mut writer, &plan, None)?;
        tx.commit()?;
        Ok(posted)
    }
}

fn action_for(kind: DocumentKind) -> Action {
    match kind {
        DocumentKind::Receipt => Action::Receive,
        DocumentKind::Issue => Action::Issue,
        DocumentKind::Transfer => Action::Transfer,
        DocumentKind::Stocktake => Action::Count,
        _ => Action::Correct,
    }
}

pub(crate) fn check_note(field: &'static str, text: &str) -> Result<()> {
    if text.chars().count() > NOTE_MAX {
        return Err(LedgerError::InvalidInput { field, reason: format!("longer than {NOTE_MAX} characters") });
    }
    Ok(())
}

fn check_request_shape(request: &DocumentRequest) -> Result<()> {
    if !matches!(
        request.kind,
        DocumentKind::Receipt | DocumentKind::Issue | DocumentKind::Transfer | DocumentKind::Stocktake
    ) {
        return Err(LedgerError::InvalidInput {
            field: "kind",
            reason: format!("{} documents are not posted this way", request.kind),
        });
    }
    check_note("note", &request.note)?;
    if request.lines.is_empty() {
        return Err(LedgerError::EmptyDocument);
    }
    if request.lines.len() > DOCUMENT_LINES_MAX {
        return Err(LedgerError::TooManyLines { count: request.lines.len(), max: DOCUMENT_LINES_MAX });
    }
    Ok(())
}

/// The acting user's id and role, refusing unknown users and forbidden actions.
pub(crate) fn acting_user(conn: &Connection, username: &str, action: Action) -> Result<(Uuid, Role)> {
    let row: Option<(Uuid, String)> = conn
        .prepare_cached("SELECT id, role FROM users WHERE username = ?1 AND active = 1")?
        .query_row([username], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let (id, role_text) = row.ok_or_else(|| LedgerError::UnknownUser(username.to_string()))?;
    let role = Role::parse(&role_text).unwrap_or(Role::Auditor);
    if !role.allows(action) {
        return Err(LedgerError::Forbidden { user: username.to_string(), role: role_text, action: action.as_str() });
    }
    Ok((id, role))
}

/// Checks a manager override: the manager exists, may override, and gave a reason.
fn override_ref(conn: &Connection, value: Option<&Override>) -> Result<Option<(Uuid, String)>> {
    let Some(value) = value else { return Ok(None) };
    let row: Option<(Uuid, String)> = conn
        .prepare_cached("SELECT id, role FROM users WHERE username = ?1 AND active = 1")?
        .query_row([&value.manager], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let (id, role) = row.ok_or_else(|| LedgerError::UnknownUser(value.manager.clone()))?;
    if !Role::parse(&role).is_some_and(|r| r.allows(Action::Override)) {
        return Err(LedgerError::OverrideNotManager { user: value.manager.clone() });
    }
    if value.reason.trim().is_empty() {
        return Err(LedgerError::OverrideReasonRequired);
    }
    check_note("reason", &value.reason)?;
    Ok(Some((id, value.reason.trim().to_string())))
}

pub(crate) fn location_ref(conn: &Connection, code: &str) -> Result<LocationRef> {
    conn.prepare_cached("SELECT id, kind FROM locations WHERE code = ?1")?
        .query_row([code], |r| {
            Ok(LocationRef {
                id: r.get(0)?,
                code: code.to_string(),
                kind: LocationKind::parse(&r.get::<_, String>(1)?).unwrap_or(LocationKind::Storeroom),
            })
        })
        .optional()?
        .ok_or_else(|| LedgerError::UnknownLocation(code.to_string()))
}

pub(crate) fn item_ref(conn: &Connection, identifier: &str) -> Result<ItemRef> {
    let found = |text: &str| -> Result<Option<ItemRef>> {
        Ok(conn
            .prepare_cached(
                "SELECT i.id, i.code, i.serialized, i.unit_price FROM item_identifiers x JOIN items i ON i.id = x.item_id
                 WHERE x.identifier = ?1",
            )?
            .query_row([text], |r| Ok(ItemRef { id: r.get(0)?, code: r.get(1)?, serialized: r.get(2)?, unit_price: r.get(3)? }))
            .optional()?)
    };
    let identifier = identifier.trim();
    if let Some(item) = found(identifier)? {
        return Ok(item);
    }
    match crate::master::gtin14(identifier) {
        Some(long) if long != identifier => found(&long)?,
        _ => None,
    }
    .ok_or_else(|| LedgerError::UnknownItem(identifier.to_string()))
}

/// A known lot's expiry (outer None: the lot does not exist).
pub(crate) fn lot_expiry(conn: &Connection, item_id: Uuid, lot: &str) -> Result<Option<Option<NaiveDate>>> {
    let row: Option<Option<String>> = conn
        .prepare_cached("SELECT expires_on FROM lots WHERE item_id = ?1 AND lot = ?2")?
        .query_row(params![item_id, lot], |r| r.get(0))
        .optional()?;
    Ok(row.map(|expiry| expiry.and_then(|d| d.parse().ok())))
}

fn check_quantity(quantity: i64) -> Result<()> {
    if quantity <= 0 {
        return Err(LedgerError::QuantityNotPositive { quantity });
    }
    if quantity > LINE_QUANTITY_MAX {
        return Err(LedgerError::QuantityTooLarge { quantity, max: LINE_QUANTITY_MAX });
    }
    Ok(())
}

fn unit_cost(line: &LineRequest, item: &ItemRef) -> Result<Option<String>> {
    match line.unit_cost {
        Some(cost) if cost.is_sign_negative() && cost != Decimal::ZERO => {
            Err(LedgerError::InvalidInput { field: "unit_cost", reason: format!("{cost} is negative") })
        }
        Some(cost) => Ok(Some(cost.normalize().to_string())),
        None => Ok(item.unit_price.clone()),
    }
}

fn text_of(value: &Option<String>) -> String {
    value.as_deref().unwrap_or("").trim().to_string()
}

/// Checks the order every use case follows: shape, user and permission, override,
/// header references, then each line.
fn plan_request(tx: &Transaction<'_>, request: &DocumentRequest, today: NaiveDate) -> Result<Plan> {
    check_request_shape(request)?;
    let (user_id, _) = acting_user(tx, &request.user, action_for(request.kind))?;
    let override_by = override_ref(tx, request.override_.as_ref())?;
    let location = location_ref(tx, &request.location)?;
    let mut plan = Plan {
        kind: request.kind,
        user_id,
        location_id: location.id,
        to_location_id: None,
        department_id: None,
        supplier_id: None,
        override_by: override_by.as_ref().map(|o| o.0),
        reason: override_by.as_ref().map(|o| o.1.clone()),
        corrects_document: None,
        note: request.note.trim().to_string(),
        lines: Vec::new(),
        movements: Vec::new(),
    };
    match request.kind {
        DocumentKind::Receipt => {
            plan.supplier_id = match request.supplier.as_deref().filter(|s| !s.is_empty()) {
                Some(code) => Some(
                    lookup_id(tx, "SELECT id FROM suppliers WHERE code = ?1", code)?
                        .ok_or_else(|| LedgerError::UnknownSupplier(code.to_string()))?,
                ),
                None => None,
            };
            plan_receipt(tx, request, &location, today, &mut plan)?;
        }
        DocumentKind::Issue => {
            let code =
                request.department.as_deref().filter(|s| !s.is_empty()).ok_or(LedgerError::DepartmentRequired)?;
            plan.department_id = Some(
                lookup_id(tx, "SELECT id FROM departments WHERE code = ?1", code)?
                    .ok_or_else(|| LedgerError::UnknownDepartment(code.to_string()))?,
            );
            plan_outgoing(tx, request, &location, None, today, &mut plan)?;
        }
        DocumentKind::Transfer => {
            let code =
                request.to_location.as_deref().filter(|s| !s.is_empty()).ok_or(LedgerError::DestinationRequired)?;
            let destination = location_ref(tx, code)?;
            if destination.id == location.id {
                return Err(LedgerError::SameLocation(location.code));
            }
            plan.to_location_id = Some(destination.id);
            plan_outgoing(tx, request, &location, Some(&destination), today, &mut plan)?;
        }
        DocumentKind::Stocktake => plan_count(tx, request, &location, &mut plan)?,
        _ => unreachable!("check_request_shape admits only the kinds above"),
    }
    Ok(plan)
}

fn plan_receipt(
    tx: &Transaction<'_>,
    request: &DocumentRequest,
    location: &LocationRef,
    today: NaiveDate,
    plan: &mut Plan,
) -> Result<()> {
    let mut new_lots: HashMap<(Uuid, String), Option<NaiveDate>> = HashMap::new();
    let mut serials: HashMap<(Uuid, String), ()> = HashMap::new();
    for line in &request.lines {
        let item = item_ref(tx, &line.item)?;
        check_quantity(line.quantity)?;
        let serial = text_of(&line.serial);
        check_serial(&item, &serial, line.quantity)?;
        if !serial.is_empty() {
            if serials.insert((item.id, serial.clone()), ()).is_some() {
                return Err(LedgerError::DuplicateSerial { serial });
            }
            let in_stock: bool = tx
                .prepare_cached("SELECT EXISTS(SELECT 1 FROM balances WHERE item_id = ?1 AND serial = ?2 AND serial <> '' AND quantity > 0)")?
                .query_row(params![item.id, serial], |r| r.get(0))?;
            if in_stock {
                return Err(LedgerError::SerialAlreadyInStock { item: item.code.clone(), serial });
            }
        }
        let lot = text_of(&line.lot);
        check_lot_text(&lot)?;
        if lot.is_empty() && line.expiry.is_some() {
            return Err(LedgerError::InvalidInput { field: "lot", reason: "an expiry date needs a lot number".into() });
        }
        if let (Some(produced), Some(expires)) = (line.production_date, line.expiry) {
            if produced > expires {
                return Err(LedgerError::ProductionAfterExpiry { produced, expires });
            }
        }
        let (expires_on, new_lot) = if lot.is_empty() {
            (None, false)
        } else if let Some(existing) = lot_expiry(tx, item.id, &lot)? {
            check_same_expiry(&lot, existing, line.expiry)?;
            (existing.or(line.expiry), false)
        } else if let Some(pending) = new_lots.get(&(item.id, lot.clone())) {
            check_same_expiry(&lot, *pending, line.expiry)?;
            (*pending, false)
        } else {
            new_lots.insert((item.id, lot.clone()), line.expiry);
            (line.expiry, true)
        };
        if let Some(expired_on) = expires_on.filter(|e| *e < today) {
            return Err(LedgerError::LotExpired { lot, expired_on });
        }
        let unit_cost = unit_cost(line, &item)?;
        plan.movements.push(PlannedMovement {
            kind: MovementKind::Receive,
            key: BalanceKey {
                item_id: item.id,
                lot: lot.clone(),
                serial: serial.clone(),
                location_id: location.id,
                status: StockStatus::Available,
            },
            expires_on,
            quantity: line.quantity,
            expected_quantity: None,
            unit_cost: unit_cost.clone(),
            corrects: None,
        });
        plan.lines.push(PlannedLine {
            item,
            lot,
            expires_on,
            produced_on: line.production_date,
            new_lot,
            serial,
            quantity: line.quantity,
            unit_cost,
        });
    }
    Ok(())
}

pub(crate) fn check_same_expiry(lot: &str, existing: Option<NaiveDate>, given: Option<NaiveDate>) -> Result<()> {
    match (existing, given) {
        (Some(existing), Some(given)) if existing != given => {
            Err(LedgerError::LotExpiryMismatch { lot: lot.to_string(), existing, given })
        }
        _ => Ok(()),
    }
}

pub(crate) fn check_lot_text(lot: &str) -> Result<()> {
    if lot.chars().count() > 40 || lot.chars().any(char::is_control) {
        return Err(LedgerError::InvalidInput { field: "lot", reason: "at most 40 printable characters".into() });
    }
    Ok(())
}

fn check_serial(item: &ItemRef, serial: &str, quantity: i64) -> Result<()> {
    if item.serialized {
        if serial.is_empty() {
            return Err(LedgerError::SerialRequired { item: item.code.clone() });
        }
        if quantity != 1 {
            return Err(LedgerError::SerialQuantityNotOne { serial: serial.to_string(), quantity });
        }
        if serial.chars().count() > 40 || serial.chars().any(char::is_control) {
            return Err(LedgerError::InvalidInput {
                field: "serial",
                reason: "at most 40 printable characters".into(),
            });
        }
    } else if !serial.is_empty() {
        return Err(LedgerError::SerialNotTracked { item: item.code.clone() });
    }
    Ok(())
}

/// One allocation of an outgoing line to a balance key.
struct Allocation {
    lot: String,
    expires_on: Option<NaiveDate>,
    serial: String,
    quantity: i64,
}

/// Issues and transfers: FEFO allocation when no lot is given, expiry and
/// stock checks, serials one at a time; several lines of one document never
/// take the same stock twice.
fn plan_outgoing(
    tx: &Transaction<'_>,
    request: &DocumentRequest,
    source: &LocationRef,
    destination: Option<&LocationRef>,
    today: NaiveDate,
    plan: &mut Plan,
) -> Result<()> {
    let mut taken: HashMap<BalanceKey, i64> = HashMap::new();
    let overridden = plan.override_by.is_some();
    for line in &request.lines {
        let item = item_ref(tx, &line.item)?;
        check_quantity(line.quantity)?;
        let serial = text_of(&line.serial);
        check_serial(&item, &serial, line.quantity)?;
        let lot = text_of(&line.lot);
        check_lot_text(&lot)?;
        let key_for = |lot: &str, serial: &str| BalanceKey {
            item_id: item.id,
            lot: lot.to_string(),
            serial: serial.to_string(),
            location_id: source.id,
            status: StockStatus::Available,
        };
        let expiry_rule = |lot: &str, expires_on: Option<NaiveDate>| -> Result<()> {
            match expires_on.filter(|e| *e < today) {
                Some(expired_on) if destination.is_none() => {
                    Err(LedgerError::LotExpired { lot: lot.to_string(), expired_on })
                }
                Some(expired_on) if destination.is_some_and(|d| d.kind == LocationKind::Department) => {
                    Err(LedgerError::ExpiredToDepartment { lot: lot.to_string(), expired_on })
                }
                _ => Ok(()),
            }
        };
        let mut allocations = Vec::new();
        if !serial.is_empty() {
            let found: Option<(String, Option<String>)> = tx
                .prepare_cached(
                    "SELECT lot, expires_on FROM balances WHERE item_id = ?1 AND serial = ?2 AND serial <> ''
                     AND location_id = ?3 AND status = 'available' AND quantity > 0",
                )?
                .query_row(params![item.id, serial, source.id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let not_in_stock = || LedgerError::SerialNotInStock {
                item: item.code.clone(),
                serial: serial.clone(),
                location: source.code.clone(),
            };
            let (found_lot, expires_on) = found.ok_or_else(not_in_stock)?;
            if !lot.is_empty() && lot != found_lot {
                return Err(not_in_stock());
            }
            let expires_on = expires_on.and_then(|d| d.parse().ok());
            expiry_rule(&found_lot, expires_on)?;
            let key = key_for(&found_lot, &serial);
            if taken.contains_key(&key) {
                return Err(LedgerError::DuplicateSerial { serial });
            }
            allocations.push(Allocation { lot: found_lot, expires_on, serial: serial.clone(), quantity: 1 });
        } else if !lot.is_empty() {
            let expires_on = lot_expiry(tx, item.id, &lot)?
                .ok_or_else(|| LedgerError::UnknownLot { item: item.code.clone(), lot: lot.clone() })?;
            expiry_rule(&lot, expires_on)?;
            let key = key_for(&lot, "");
            let available = balance_of(tx, &key)? - taken.get(&key).copied().unwrap_or(0);
            if line.quantity > available && !overridden {
                return Err(LedgerError::InsufficientStock {
                    item: item.code.clone(),
                    location: source.code.clone(),
                    available: available.max(0),
                    requested: line.quantity,
                });
            }
            allocations.push(Allocation { lot, expires_on, serial: String::new(), quantity: line.quantity });
        } else if item.serialized {
            return Err(LedgerError::SerialRequired { item: item.code.clone() });
        } else {
            let mut remaining = line.quantity;
            let mut total_available = 0;
            for choice in fefo_rows(tx, item.id, source.id, today)? {
                if choice.expired {
                    continue;
                }
                let lot = choice.lot.unwrap_or_default();
                let key = key_for(&lot, "");
                let available = choice.quantity - taken.get(&key).copied().unwrap_or(0);
                if available <= 0 {
                    continue;
                }
                total_available += available;
                let quantity = remaining.min(available);
                if quantity > 0 {
                    allocations.push(Allocation { lot, expires_on: choice.expiry, serial: String::new(), quantity });
                    remaining -= quantity;
                }
            }
            if remaining > 0 {
                if !overridden {
                    return Err(LedgerError::InsufficientStock {
                        item: item.code.clone(),
                        location: source.code.clone(),
                        available: total_available,
                        requested: line.quantity,
                    });
                }
                // Emergency issue beyond stock: the shortfall goes on the last
                // lot taken (or no lot), so the key shows negative until corrected.
                match allocations.last_mut() {
                    Some(last) => last.quantity += remaining,
                    None => allocations.push(Allocation {
                        lot: String::new(),
                        expires_on: None,
                        serial: String::new(),
                        quantity: remaining,
                    }),
                }
            }
        }
        let unit_cost = unit_cost(line, &item)?;
        for allocation in allocations {
            let key = key_for(&allocation.lot, &allocation.serial);
            *taken.entry(key.clone()).or_insert(0) += allocation.quantity;
            let out_kind = if destination.is_some() { MovementKind::TransferOut } else { MovementKind::Issue };
            plan.movements.push(PlannedMovement {
                kind: out_kind,
                key: key.clone(),
                expires_on: allocation.expires_on,
                quantity: -allocation.quantity,
                expected_quantity: None,
                unit_cost: unit_cost.clone(),
                corrects: None,
            });
            if let Some(destination) = destination {
                plan.movements.push(PlannedMovement {
                    kind: MovementKind::TransferIn,
                    key: BalanceKey { location_id: destination.id, ..key },
                    expires_on: allocation.expires_on,
                    quantity: allocation.quantity,
                    expected_quantity: None,
                    unit_cost: unit_cost.clone(),
                    corrects: None,
                });
            }
            plan.lines.push(PlannedLine {
                item: item.clone(),
                lot: allocation.lot,
                expires_on: allocation.expires_on,
                produced_on: None,
                new_lot: false,
                serial: allocation.serial,
                quantity: allocation.quantity,
                unit_cost: unit_cost.clone(),
            });
        }
    }
    Ok(())
}

/// Counts: each line sets its key's balance to the counted quantity as of the
/// count's HLC; the expected quantity (what this station knew) is kept beside it.
fn plan_count(tx: &Transaction<'_>, request: &DocumentRequest, location: &LocationRef, plan: &mut Plan) -> Result<()> {
    let mut seen: HashMap<BalanceKey, ()> = HashMap::new();
    let mut new_lots: HashMap<(Uuid, String), Option<NaiveDate>> = HashMap::new();
    for line in &request.lines {
        let item = item_ref(tx, &line.item)?;
        if line.quantity < 0 {
            return Err(LedgerError::InvalidInput { field: "quantity", reason: "a count cannot be negative".into() });
        }
        if line.quantity > LINE_QUANTITY_MAX {
            return Err(LedgerError::QuantityTooLarge { quantity: line.quantity, max: LINE_QUANTITY_MAX });
        }
        let serial = text_of(&line.serial);
        if item.serialized {
            if serial.is_empty() {
                return Err(LedgerError::SerialRequired { item: item.code.clone() });
            }
            if line.quantity > 1 {
                return Err(LedgerError::SerialQuantityNotOne { serial, quantity: line.quantity });
            }
        } else if !serial.is_empty() {
            return Err(LedgerError::SerialNotTracked { item: item.code.clone() });
        }
        let lot = text_of(&line.lot);
        check_lot_text(&lot)?;
        let (expires_on, new_lot) = if lot.is_empty() {
            (None, false)
        } else if let Some(existing) = lot_expiry(tx, item.id, &lot)? {
            check_same_expiry(&lot, existing, line.expiry)?;
            (existing.or(line.expiry), false)
        } else if let Some(pending) = new_lots.get(&(item.id, lot.clone())) {
            check_same_expiry(&lot, *pending, line.expiry)?;
            (*pending, false)
        } else {
            new_lots.insert((item.id, lot.clone()), line.expiry);
            (line.expiry, true)
        };
        let key = BalanceKey {
            item_id: item.id,
            lot: lot.clone(),
            serial: serial.clone(),
            location_id: location.id,
            status: StockStatus::Available,
        };
        if seen.insert(key.clone(), ()).is_some() {
            return Err(LedgerError::InvalidInput {
                field: "lines",
                reason: format!("{} lot '{lot}' serial '{serial}' is counted twice in one sheet", item.code),
            });
        }
        let expected = balance_of(tx, &key)?;
        let unit_cost = unit_cost(line, &item)?;
        plan.movements.push(PlannedMovement {
            kind: MovementKind::Count,
            key,
            expires_on,
            quantity: line.quantity,
            expected_quantity: Some(expected),
            unit_cost: unit_cost.clone(),
            corrects: None,
        });
        plan.lines.push(PlannedLine {
            item,
            lot,
            expires_on,
            produced_on: line.production_date,
            new_lot,
            serial,
            quantity: line.quantity,
            unit_cost,
        });
    }
    Ok(())
}

fn plan_reversal(
    tx: &Transaction<'_>,
    document: &str,
    user: &str,
    reason: &str,
    override_: Option<&Override>,
) -> Result<Plan> {
    let (user_id, _) = acting_user(tx, user, Action::Correct)?;
    let override_by = override_ref(tx, override_)?;
    if reason.trim().is_empty() {
        return Err(LedgerError::InvalidInput { field: "reason", reason: "a correction needs a reason".into() });
    }
    check_note("reason", reason)?;
    let doc_id = document_id(tx, document)?;
    let (kind, status, number, location_id, to_location_id, department_id, supplier_id): (
        String,
        String,
        Option<String>,
        Option<Uuid>,
        Option<Uuid>,
        Option<Uuid>,
        Option<Uuid>,
    ) = tx.query_row(
        "SELECT kind, status, number, location_id, to_location_id, department_id, supplier_id FROM documents WHERE id = ?1",
        [doc_id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)),
    )?;
    let number = number.unwrap_or_else(|| doc_id.to_string());
    if status != "posted" || !matches!(kind.as_str(), "receipt" | "issue" | "transfer") {
        return Err(LedgerError::NotReversible { number, kind });
    }
    let already: bool = tx.query_row(
        "SELECT EXISTS(SELECT 1 FROM movements c JOIN movements m ON c.corrects = m.id WHERE m.document_id = ?1)",
        [doc_id],
        |r| r.get(0),
    )?;
    if already {
        return Err(LedgerError::AlreadyCorrected(number));
    }
    let mut plan = Plan {
        kind: DocumentKind::Correction,
        user_id,
        location_id: location_id.expect("posted documents have a location"),
        to_location_id,
        department_id,
        supplier_id,
        override_by: override_by.as_ref().map(|o| o.0),
        reason: Some(reason.trim().to_string()),
        corrects_document: Some(doc_id),
        note: String::new(),
        lines: Vec::new(),
        movements: Vec::new(),
    };
    let mut stmt = tx.prepare(
        "SELECT m.id, m.item_id, m.lot, m.serial, m.location_id, m.status, m.quantity, m.unit_cost, b.expires_on,
                i.code, i.serialized, i.unit_price
         FROM movements m JOIN balances b ON b.key_id = m.key_id JOIN items i ON i.id = m.item_id
         WHERE m.document_id = ?1 ORDER BY m.hlc",
    )?;
    let rows = stmt
        .query_map([doc_id], |r| {
            Ok((
                r.get::<_, Uuid>(0)?,
                BalanceKey {
                    item_id: r.get(1)?,
                    lot: r.get(2)?,
                    serial: r.get(3)?,
                    location_id: r.get(4)?,
                    status: StockStatus::parse(&r.get::<_, String>(5)?).unwrap_or(StockStatus::Available),
                },
                r.get::<_, i64>(6)?,
                r.get::<_, Option<String>>(7)?,
                r.get::<_, Option<String>>(8)?,
                ItemRef { id: r.get(1)?, code: r.get(9)?, serialized: r.get(10)?, unit_price: r.get(11)? },
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut change: HashMap<BalanceKey, i64> = HashMap::new();
    for (movement_id, key, quantity, cost, expiry, item) in rows {
        let expires_on = expiry.and_then(|d| d.parse().ok());
        let delta = -quantity;
        let after = balance_of(tx, &key)? + change.get(&key).copied().unwrap_or(0) + delta;
        if after < 0 && plan.override_by.is_none() {
            let location: String =
                tx.query_row("SELECT code FROM locations WHERE id = ?1", [key.location_id], |r| r.get(0))?;
            return Err(LedgerError::InsufficientStock {
                item: item.code.clone(),
                location,
                available: (after - delta).max(0),
                requested: -delta,
            });
        }
        *change.entry(key.clone()).or_insert(0) += delta;
        plan.lines.push(PlannedLine {
            item,
            lot: key.lot.clone(),
            expires_on,
            produced_on: None,
            new_lot: false,
            serial: key.serial.clone(),
            quantity: delta,
            unit_cost: cost.clone(),
        });
        plan.movements.push(PlannedMovement {
            kind: MovementKind::Adjust,
            key,
            expires_on,
            quantity: delta,
            expected_quantity: None,
            unit_cost: cost,
            corrects: Some(movement_id),
        });
    }
    Ok(plan)
}

/// A document's id from its UUID or its number.
pub(crate) fn document_id(conn: &Connection, text: &str) -> Result<Uuid> {
    let by_number: Option<Uuid> = conn
        .prepare_cached("SELECT id FROM documents WHERE number = ?1")?
        .query_row([text.trim()], |r| r.get(0))
        .optional()?;
    if let Some(id) = by_number {
        return Ok(id);
    }
    if let Ok(id) = Uuid::parse_str(text.trim()) {
        let exists: bool =
            conn.query_row("SELECT EXISTS(SELECT 1 FROM documents WHERE id = ?1)", [id], |r| r.get(0))?;
        if exists {
            return Ok(id);
        }
    }
    Err(LedgerError::UnknownDocument(text.to_string()))
}

fn load_draft(tx: &Transaction<'_>, draft: &str) -> Result<(Uuid, DocumentRequest)> {
    let id = document_id(tx, draft)?;
    let (kind, status, location, to_location, department, supplier, note): (
        String,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        String,
    ) = tx.query_row(
        "SELECT d.kind, d.status, l.code, t.code, dp.code, s.code, d.note FROM documents d
         LEFT JOIN locations l ON l.id = d.location_id LEFT JOIN locations t ON t.id = d.to_location_id
         LEFT JOIN departments dp ON dp.id = d.department_id LEFT JOIN suppliers s ON s.id = d.supplier_id
         WHERE d.id = ?1",
        [id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)),
    )?;
    if status != "draft" {
        return Err(LedgerError::NotADraft(draft.to_string()));
    }
    let mut stmt = tx.prepare(
        "SELECT i.code, l.lot, l.expires_on, l.produced_on, l.serial, l.quantity, l.unit_cost
         FROM document_lines l JOIN items i ON i.id = l.item_id WHERE l.document_id = ?1 ORDER BY l.line_no",
    )?;
    let lines = stmt
        .query_map([id], |r| {
            let opt = |s: String| (!s.is_empty()).then_some(s);
            Ok(LineRequest {
                item: r.get(0)?,
                lot: opt(r.get(1)?),
                expiry: r.get::<_, Option<String>>(2)?.and_then(|d| d.parse().ok()),
                production_date: r.get::<_, Option<String>>(3)?.and_then(|d| d.parse().ok()),
                serial: opt(r.get(4)?),
                quantity: r.get(5)?,
                unit_cost: r.get::<_, Option<String>>(6)?.and_then(|c| c.parse().ok()),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let request = DocumentRequest {
        kind: DocumentKind::parse(&kind).unwrap_or(DocumentKind::Receipt),
        user: String::new(),
        location: location.unwrap_or_default(),
        to_location,
        department,
        supplier,
        lines,
        note,
        override_: None,
    };
    Ok((id, request))
}

/// Writes a validated plan: new lots and lines, then the document already
/// posted with its number (or a draft flipped to posted), then the movements
/// with their balances — all in the caller's transaction. Lines go first:
/// their foreign key is checked at commit. The movements are stamped last, so
/// the newest of them is the HLC high-water mark that opening recovers.
fn write_plan(tx: &Transaction<'_>, w: &mut Writer<'_>, plan: &Plan, draft: Option<Uuid>) -> Result<PostedRef> {
    let now = w.clock.now_ms();
    let confirmation = temperature_gate(tx, plan, now)?;
    let doc_id = draft.unwrap_or_else(|| w.ids.next_id(now));
    for (index, line) in plan.lines.iter().enumerate() {
        if line.new_lot {
            let (hlc, _) = stamp(w.hlc, w.clock);
            tx.prepare_cached(
                "INSERT INTO lots (item_id, lot, expires_on, produced_on, created_hlc) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                line.item.id,
                line.lot,
                line.expires_on.map(|d| d.to_string()),
                line.produced_on.map(|d| d.to_string()),
                hlc.0
            ])?;
        }
        tx.prepare_cached(
            "INSERT INTO document_lines (document_id, line_no, item_id, lot, expires_on, produced_on, serial, quantity, unit_cost)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?
        .execute(params![
            doc_id,
            index as i64 + 1,
            line.item.id,
            line.lot,
            line.expires_on.map(|d| d.to_string()),
            line.produced_on.map(|d| d.to_string()),
            line.serial,
            line.quantity,
            line.unit_cost
        ])?;
    }
    let number = next_number(tx, plan.kind, &w.node.site_code)?;
    let (posted_hlc, posted_at) = stamp(w.hlc, w.clock);
    match draft {
        None => {
            tx.prepare_cached(
                "INSERT INTO documents (id, kind, number, status, node_id, created_by, created_at_ms, posted_by, posted_hlc,
                    posted_at_ms, location_id, to_location_id, department_id, supplier_id, override_by, reason,
                    corrects_document, note)
                 VALUES (?1, ?2, ?3, 'posted', ?4, ?5, ?6, ?5, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
            )?
            .execute(params![
                doc_id,
                plan.kind.as_str(),
                number,
                w.node.id,
                plan.user_id,
                now,
                posted_hlc.0,
                posted_at,
                plan.location_id,
                plan.to_location_id,
                plan.department_id,
                plan.supplier_id,
                plan.override_by,
                plan.reason,
                plan.corrects_document,
                plan.note
            ])?;
        }
        Some(id) => {
            tx.prepare_cached(
                "UPDATE documents SET status = 'posted', number = ?2, posted_by = ?3, posted_hlc = ?4, posted_at_ms = ?5,
                    override_by = ?6, reason = ?7 WHERE id = ?1 AND status = 'draft'",
            )?
            .execute(params![id, number, plan.user_id, posted_hlc.0, posted_at, plan.override_by, plan.reason])?;
        }
    }
    for planned in &plan.movements {
        let (hlc, recorded_at_ms) = stamp(w.hlc, w.clock);
        let movement = MovementRecord {
            id: w.ids.next_id(recorded_at_ms),
            hlc,
            node_id: w.node.id,
            recorded_at_ms,
            user_id: plan.user_id,
            kind: planned.kind,
            key: planned.key.clone(),
            quantity: planned.quantity,
            expected_quantity: planned.expected_quantity,
            unit_cost: planned.unit_cost.clone(),
            department_id: plan.department_id,
            supplier_id: plan.supplier_id,
            document_id: Some(doc_id),
            reason: plan.reason.clone(),
            corrects: planned.corrects,
            override_by: plan.override_by,
            note: String::new(),
        };
        record(tx, &movement, planned.expires_on)?;
    }
    if let Some((temperature_c, at_ms, measured_by)) = confirmation {
        tx.prepare_cached(
            "INSERT INTO temperature_confirmations (document_id, location_id, temperature_c, confirmed_by, at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![doc_id, plan.location_id, temperature_c, measured_by, at_ms])?;
    }
    Ok(PostedRef { id: doc_id.to_string(), number })
}

/// The cold chain's temperature gate for an issue (see `coldchain`): the
/// clerk's manual reading that passed it (temperature, time, who measured),
/// if that is what passed it.
fn temperature_gate(tx: &Transaction<'_>, plan: &Plan, now_ms: i64) -> Result<Option<(f64, i64, Uuid)>> {
    // Stock leaves the cold unit for use: an issue, or a transfer to a department's store.
    let to_department = match (plan.kind, plan.to_location_id) {
        (DocumentKind::Transfer, Some(to)) => tx
            .prepare_cached("SELECT kind = 'department' FROM locations WHERE id = ?1")?
            .query_row([to], |r| r.get::<_, bool>(0))?,
        _ => false,
    };
    if plan.kind != DocumentKind::Issue && !to_department {
        return Ok(None);
    }
    let mut confirmation = None;
    let mut checked = false;
    for line in &plan.lines {
        let cold: bool =
            tx.prepare_cached("SELECT cold_chain FROM items WHERE id = ?1")?.query_row([line.item.id], |r| r.get(0))?;
        if cold && !checked {
            checked = true;
            confirmation = crate::coldchain::temperature_gate(tx, plan.location_id, true, now_ms)?;
        }
    }
    Ok(confirmation)
}

/// Digits a document number's counter has at least: RK-S01-000001.
pub const NUMBER_DIGITS_MIN: usize = 6;

/// The next document number for this node: PREFIX-SITE-000001, counted per
/// prefix. The count is read from the documents themselves (their unique
/// number index), not kept in a counter row: posting writes one page fewer,
/// and a node restored from a copy of its own documents continues its series.
///
/// A node's numbers under a prefix are dense — 1, 2, 3 … with no gaps — since
/// a number is given only in the transaction that posts its document. So the
/// greatest number in text order is the newest one, unless it is all nines
/// (999999 sorts after 1000005); then the counter has outgrown that width
/// and the newest number is found by a binary search over the next width.
pub(crate) fn next_number(tx: &Transaction<'_>, kind: DocumentKind, site: &str) -> Result<String> {
    let series = format!("{}-{site}-", number_prefix(kind));
    // Every counter sorts between "SERIES-" and "SERIES-:" (':' follows '9').
    let greatest: Option<String> = tx
        .prepare_cached(
            "SELECT number FROM documents WHERE number > ?1 AND number < ?1 || ':' ORDER BY number DESC LIMIT 1",
        )?
        .query_row([&series], |r| r.get(0))
        .optional()?;
    // A number may carry a suffix after its counter (a clash kept apart, or a provisional
    // number while a restored workstation recovers): the counter is the digits before it.
    let counter = |n: &str| -> Option<String> {
        let rest = n.strip_prefix(series.as_str())?;
        Some(rest[..rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len())].to_string())
    };
    let last = match greatest.as_deref().and_then(counter).as_deref() {
        None => 0,
        Some(digits) if digits.bytes().all(|b| b == b'9') && !digits.is_empty() => {
            let exists = |counter: u64| -> Result<bool> {
                Ok(tx
                    .prepare_cached("SELECT EXISTS(SELECT 1 FROM documents WHERE number = ?1)")?
                    .query_row([format_number(&series, counter)], |r| r.get(0))?)
            };
            // All nines of width w: the newest is 10^w - 1 or has width w + 1.
            let width = digits.len() as u32;
            let (mut low, mut high) = (10u64.pow(width) - 1, 10u64.pow(width + 1) - 1);
            // Invariant: `low` exists, `high` does not (it would sort last).
            while high - low > 1 {
                let middle = low + (high - low) / 2;
                if exists(middle)? {
                    low = middle;
                } else {
                    high = middle;
                }
            }
            low
        }
        Some(digits) => digits.parse::<u64>().map_err(|_| LedgerError::InvalidInput {
            field: "document number",
            reason: format!("'{}' does not end in a counter", greatest.as_deref().unwrap_or_default()),
        })?,
    };
    Ok(format_number(&series, last + 1))
}

pub(crate) fn format_number(series: &str, counter: u64) -> String {
    format!("{series}{counter:0width$}", width = NUMBER_DIGITS_MIN)
}
