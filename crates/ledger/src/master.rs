//! Master data: users, suppliers, departments, locations, items and their
//! identifiers. Codes are unique; an item is found by any of its identifiers.

use crate::error::{LedgerError, Result};
use crate::model::*;
use crate::store::{persist_hlc, stamp, Ledger};
use rusqlite::{params, Connection, OptionalExtension, Row};
use rust_decimal::Decimal;
use uuid::Uuid;

/// Longest code, name or identifier accepted.
pub const TEXT_FIELD_MAX: usize = 200;

/// A new local user.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Login name.
    pub username: String,
    /// Shown name.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// Language.
    pub language: Lang,
}

/// A new location.
#[derive(Debug, Clone)]
pub struct NewLocation {
    /// Short code.
    pub code: String,
    /// Chinese name.
    pub name: String,
    /// English name.
    pub name_en: String,
    /// Kind.
    pub kind: LocationKind,
    /// Owning department code.
    pub department: Option<String>,
    /// Cold range.
    pub min_temp_c: Option<Decimal>,
    /// Cold range.
    pub max_temp_c: Option<Decimal>,
}

/// Is `text` a GTIN-8/12/13/14 with a correct GS1 mod-10 check digit?
pub fn is_valid_gtin(text: &str) -> bool {
    let bytes = text.as_bytes();
    if !matches!(bytes.len(), 8 | 12 | 13 | 14) || !bytes.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let (body, check) = bytes.split_at(bytes.len() - 1);
    let sum: u32 =
        body.iter().rev().enumerate().map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 3 } else { 1 }).sum();
    (10 - sum % 10) % 10 == u32::from(check[0] - b'0')
}

/// The GTIN-14 form of a valid GTIN (left-padded with zeros).
pub fn gtin14(text: &str) -> Option<String> {
    is_valid_gtin(text).then(|| format!("{text:0>14}"))
}

fn check_text(field: &'static str, value: &str, required: bool) -> Result<()> {
    if required && value.trim().is_empty() {
        return Err(LedgerError::InvalidInput { field, reason: "must not be empty".into() });
    }
    if value.chars().count() > TEXT_FIELD_MAX {
        return Err(LedgerError::InvalidInput { field, reason: format!("longer than {TEXT_FIELD_MAX} characters") });
    }
    if value.chars().any(char::is_control) {
        return Err(LedgerError::InvalidInput { field, reason: "contains control characters".into() });
    }
    Ok(())
}

fn unique(conn: &Connection, sql: &str, code: &str, entity: &'static str) -> Result<()> {
    let taken: bool = conn.query_row(sql, [code], |r| r.get(0))?;
    if taken {
        Err(LedgerError::DuplicateCode { entity, code: code.to_string() })
    } else {
        Ok(())
    }
}

fn dec(value: Option<Decimal>) -> Option<String> {
    value.map(|d| d.normalize().to_string())
}

impl Ledger {
    fn new_master_id(&mut self) -> Result<(Uuid, i64)> {
        self.node()?;
        let node_id = self.node.as_ref().map(|n| n.id);
        crate::store::catch_up(&self.conn, &mut self.hlc, &mut self.data_version, node_id)?;
        let (hlc, now) = stamp(&mut self.hlc, self.clock.as_ref());
        Ok((self.ids.next_id(now), hlc.0))
    }

    /// The id of the change that records a new entity, and this node.
    fn new_change(&mut self) -> Result<(Uuid, Uuid)> {
        let node = self.node()?.id;
        Ok((self.ids.next_id(self.clock.now_ms()), node))
    }

    /// Adds a local user.
    pub fn add_user(&mut self, user: &NewUser) -> Result<UserView> {
        check_text("username", &user.username, true)?;
        check_text("display_name", &user.display_name, false)?;
        unique(&self.conn, "SELECT EXISTS(SELECT 1 FROM users WHERE username = ?1)", &user.username, "user")?;
        let (id, hlc) = self.new_master_id()?;
        let (change, node) = self.new_change()?;
        let display = if user.display_name.trim().is_empty() { &user.username } else { &user.display_name };
        let tx = self.begin()?;
        tx.execute(
            "INSERT INTO users (id, username, display_name, role, language, created_hlc) VALUES (?1,?2,?3,?4,?5,?6)",
            params![id, user.username, display, user.role.as_str(), user.language.as_str(), hlc],
        )?;
        persist_hlc(&tx, crate::clock::Hlc(hlc))?;
        crate::replication::capture_created(&tx, "user", id, change, node, hlc)?;
        tx.commit()?;
        self.user(&user.username)
    }

    /// One user by username.
    pub fn user(&self, username: &str) -> Result<UserView> {
        self.conn
            .query_row(
                "SELECT username, display_name, role, language FROM users WHERE username = ?1 AND active = 1",
                [username],
                user_row,
            )
            .optional()?
            .ok_or_else(|| LedgerError::UnknownUser(username.to_string()))
    }

    /// All active users, by username.
    pub fn users(&self) -> Result<Vec<UserView>> {
        let mut stmt = self
            .conn
            .prepare("SELECT username, display_name, role, language FROM users WHERE active = 1 ORDER BY username")?;
        let rows = stmt.query_map([], user_row)?.collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Adds a supplier.
    pub fn add_supplier(&mut self, code: &str, name: &str, name_en: &str, contact_phone: &str) -> Result<SupplierView> {
        check_text("code", code, true)?;
        check_text("name", name, true)?;
        check_text("name_en", name_en, false)?;
        check_text("contact_phone", contact_phone, false)?;
        unique(&self.conn, "SELECT EXISTS(SELECT 1 FROM suppliers WHERE code = ?1)", code, "supplier")?;
        let (id, hlc) = self.new_master_id()?;
        let (change, node) = self.new_change()?;
        let tx = self.begin()?;
        tx.execute(
            "INSERT INTO suppliers (id, code, name, name_en, contact_phone, created_hlc) VALUES (?1,?2,?3,?4,?5,?6)",
            params![id, code, name, name_en, contact_phone, hlc],
        )?;
        persist_hlc(&tx, crate::clock::Hlc(hlc))?;
        crate::replication::capture_created(&tx, "supplier", id, change, node, hlc)?;
        tx.commit()?;
        Ok(SupplierView { code: code.into(), name: name.into(), name_en: name_en.into() })
    }

    /// All suppliers, by code.
    pub fn suppliers(&self) -> Result<Vec<SupplierView>> {
        let mut stmt = self.conn.prepare("SELECT code, name, name_en FROM suppliers ORDER BY code")?;
        let rows = stmt
            .query_map([], |r| Ok(SupplierView { code: r.get(0)?, name: r.get(1)?, name_en: r.get(2)? }))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Adds a department.
    pub fn add_department(
        &mut self,
        code: &str,
        name: &str,
        name_en: &str,
        cost_centre: &str,
        monthly_budget: Option<Decimal>,
    ) -> Result<DepartmentView> {
        check_text("code", code, true)?;
        check_text("name", name, true)?;
        check_text("name_en", name_en, false)?;
        check_text("cost_centre", cost_centre, false)?;
        if monthly_budget.is_some_and(|b| b.is_sign_negative()) {
            return Err(LedgerError::InvalidInput { field: "monthly_budget", reason: "must not be negative".into() });
        }
        unique(&self.conn, "SELECT EXISTS(SELECT 1 FROM departments WHERE code = ?1)", code, "department")?;
        let (id, hlc) = self.new_master_id()?;
        let (change, node) = self.new_change()?;
        let tx = self.begin()?;
        tx.execute(
            "INSERT INTO departments (id, code, name, name_en, cost_centre, monthly_budget, created_hlc) VALUES (?1,?2,?3,?4,?5,?6,?7)",
            params![id, code, name, name_en, cost_centre, dec(monthly_budget), hlc],
        )?;
        persist_hlc(&tx, crate::clock::Hlc(hlc))?;
        crate::replication::capture_created(&tx, "department", id, change, node, hlc)?;
        tx.commit()?;
        Ok(DepartmentView {
            code: code.into(),
            name: name.into(),
            name_en: name_en.into(),
            cost_centre: cost_centre.into(),
            monthly_budget: dec(monthly_budget),
        })
    }

    /// All departments, by code.
    pub fn departments(&self) -> Result<Vec<DepartmentView>> {
        let mut stmt = self
            .conn
            .prepare("SELECT code, name, name_en, cost_centre, monthly_budget FROM departments ORDER BY code")?;
        let rows = stmt
            .query_map([], |r| {
                Ok(DepartmentView {
                    code: r.get(0)?,
                    name: r.get(1)?,
                    name_en: r.get(2)?,
                    cost_centre: r.get(3)?,
                    monthly_budget: r.get(4)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Adds a location.
    pub fn add_location(&mut self, location: &NewLocation) -> Result<LocationView> {
        check_text("code", &location.code, true)?;
        check_text("name", &location.name, true)?;
        check_text("name_en", &location.name_en, false)?;
        if let (Some(min), Some(max)) = (location.min_temp_c, location.max_temp_c) {
            if min > max {
                return Err(LedgerError::InvalidInput {
                    field: "min_temp",
                    reason: format!("minimum {min} °C is above maximum {max} °C"),
                });
            }
        }
        unique(&self.conn, "SELECT EXISTS(SELECT 1 FROM locations WHERE code = ?1)", &location.code, "location")?;
        let department_id = match &location.department {
            Some(code) => Some(self.department_id(code)?),
            None => None,
        };
        let (id, hlc) = self.new_master_id()?;
        let (change, node) = self.new_change()?;
        let tx = self.begin()?;
        tx.execute(
            "INSERT INTO locations (id, code, name, name_en, kind, department_id, min_temp_c, max_temp_c, created_hlc)
             VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)",
            params![
                id,
                location.code,
                location.name,
                location.name_en,
                location.kind.as_str(),
                department_id,
                dec(location.min_temp_c),
                dec(location.max_temp_c),
                hlc
            ],
        )?;
        persist_hlc(&tx, crate::clock::Hlc(hlc))?;
        crate::replication::capture_created(&tx, "location", id, change, node, hlc)?;
        tx.commit()?;
        Ok(LocationView {
            code: location.code.clone(),
            name: location.name.clone(),
            name_en: location.name_en.clone(),
            kind: location.kind,
            department: location.department.clone(),
            min_temp_c: dec(location.min_temp_c),
            max_temp_c: dec(location.max_temp_c),
        })
    }

    /// All locations, by code.
    pub fn locations(&self) -> Result<Vec<LocationView>> {
        let mut stmt = self.conn.prepare(
            "SELECT l.code, l.name, l.name_en, l.kind, d.code, l.min_temp_c, l.max_temp_c
             FROM locations l LEFT JOIN departments d ON d.id = l.department_id ORDER BY l.code",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok(LocationView {
                    code: r.get(0)?,
                    name: r.get(1)?,
                    name_en: r.get(2)?,
                    kind: LocationKind::parse(&r.get::<_, String>(3)?).unwrap_or(LocationKind::Storeroom),
                    department: r.get(4)?,
                    min_temp_c: r.get(5)?,
                    max_temp_c: r.get(6)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Adds an item with its identifiers. A valid GTIN code is also indexed in
    /// its 14-digit form, so a scanned (01) element finds a GTIN-13 item.
    pub fn add_item(&mut self, item: &NewItem) -> Result<ItemView> {
        check_text("code", &item.code, true)?;
        check_text("name", &item.name, true)?;
        for (field, value) in [
            ("name_en", &item.name_en),
            ("specification", &item.specification),
            ("manufacturer", &item.manufacturer),
            ("registration_no", &item.registration_no),
            ("category", &item.category),
            ("unit", &item.unit),
        ] {
            check_text(field, value, false)?;
        }
        if !matches!(item.risk_class.as_str(), "" | "I" | "II" | "III") {
            return Err(LedgerError::InvalidInput { field: "risk_class", reason: "must be I, II or III".into() });
        }
        if item.pack_size < 1 {
            return Err(LedgerError::InvalidInput { field: "pack_size", reason: "must be at least 1".into() });
        }
        if item.reorder_point < 0 {
            return Err(LedgerError::InvalidInput { field: "reorder_point", reason: "must not be negative".into() });
        }
        if item.unit_price.is_some_and(|p| p.is_sign_negative()) {
            return Err(LedgerError::InvalidInput { field: "unit_price", reason: "must not be negative".into() });
        }
        if let (Some(min), Some(max)) = (item.min_temp_c, item.max_temp_c) {
            if min > max {
                return Err(LedgerError::InvalidInput {
                    field: "min_temp",
                    reason: format!("minimum {min} °C is above maximum {max} °C"),
                });
            }
        }
        if item.cold_chain && (item.min_temp_c.is_none() || item.max_temp_c.is_none()) {
            return Err(LedgerError::InvalidInput {
                field: "cold_chain",
                reason: "a cold-chain item needs its storage range (min and max °C)".into(),
            });
        }
        if item.code.chars().all(|c| c.is_ascii_digit())
            && matches!(item.code.len(), 8 | 12 | 13 | 14)
            && !is_valid_gtin(&item.code)
        {
            return Err(LedgerError::InvalidInput {
                field: "code",
                reason: format!("{} looks like a GTIN but its check digit is wrong", item.code),
            });
        }
        unique(&self.conn, "SELECT EXISTS(SELECT 1 FROM items WHERE code = ?1)", &item.code, "item")?;
        let mut identifiers: Vec<(String, IdentifierScheme)> = Vec::new();
        let mut push = |text: &str| {
            let scheme = if is_valid_gtin(text) {
                IdentifierScheme::Gtin
            } else if text.starts_with('+') {
                IdentifierScheme::Hibc
            } else if text.starts_with("MA.") {
                IdentifierScheme::Ma
            } else {
                IdentifierScheme::Internal
            };
            for form in [Some(text.to_string()), gtin14(text)].into_iter().flatten() {
                if !identifiers.iter().any(|(t, _)| *t == form) {
                    identifiers.push((form, scheme));
                }
            }
        };
        push(&item.code);
        for extra in &item.extra_identifiers {
            check_text("identifier", extra, true)?;
            push(extra);
        }
        for (text, _) in &identifiers {
            unique(
                &self.conn,
                "SELECT EXISTS(SELECT 1 FROM item_identifiers WHERE identifier = ?1)",
                text,
                "identifier",
            )?;
        }
        let supplier_id = match &item.default_supplier {
            Some(code) if !code.is_empty() => Some(self.supplier_id(code)?),
            _ => None,
        };
        let (id, hlc) = self.new_master_id()?;
        let (change, node) = self.new_change()?;
        let tx = self.begin()?;
        tx.execute(
            "INSERT INTO items (id, code, name, name_en, specification, manufacturer, registration_no, risk_class,
                category, unit, pack_size, serialized, implantable, cold_chain, min_temp_c, max_temp_c, unit_price,
                default_supplier_id, reorder_point, created_hlc)
             VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20)",
            params![
                id,
                item.code,
                item.name,
                item.name_en,
                item.specification,
                item.manufacturer,
                item.registration_no,
                item.risk_class,
                item.category,
                item.unit,
                item.pack_size,
                item.serialized,
                item.implantable,
                item.cold_chain,
                dec(item.min_temp_c),
                dec(item.max_temp_c),
                dec(item.unit_price),
                supplier_id,
                item.reorder_point,
                hlc
            ],
        )?;
        for (text, scheme) in &identifiers {
            tx.execute(
                "INSERT INTO item_identifiers (identifier, scheme, item_id) VALUES (?1, ?2, ?3)",
                params![text, scheme.as_str(), id],
            )?;
        }
        persist_hlc(&tx, crate::clock::Hlc(hlc))?;
        crate::replication::capture_created(&tx, "item", id, change, node, hlc)?;
        tx.commit()?;
        self.item(&item.code)
    }

    /// Finds an item by any identifier (a GTIN in any length finds its GTIN-14 form).
    pub fn item(&self, identifier: &str) -> Result<ItemView> {
        let id =
            resolve_item(&self.conn, identifier)?.ok_or_else(|| LedgerError::UnknownItem(identifier.to_string()))?;
        let mut stmt = self.conn.prepare_cached(&format!("{ITEM_SELECT} WHERE i.id = ?1"))?;
        let mut view = stmt.query_row([id], item_row)?;
        view.identifiers = self.identifiers_of(id)?;
        Ok(view)
    }

    /// Items whose code, identifier, or Chinese or English name contains `query`
    /// (all items when empty), by code, at most `limit`.
    pub fn items(&self, query: &str, limit: usize) -> Result<Vec<ItemView>> {
        let pattern = format!("%{}%", query.trim().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
        let mut stmt = self.conn.prepare_cached(&format!(
            "{ITEM_SELECT} WHERE ?1 = '%%' OR i.code LIKE ?1 ESCAPE '\\' OR i.name LIKE ?1 ESCAPE '\\'
               OR i.name_en LIKE ?1 ESCAPE '\\' OR i.specification LIKE ?1 ESCAPE '\\'
               OR EXISTS (SELECT 1 FROM item_identifiers x WHERE x.item_id = i.id AND x.identifier LIKE ?1 ESCAPE '\\')
             ORDER BY i.code LIMIT ?2"
        ))?;
        let mut items: Vec<ItemView> =
            stmt.query_map(params![pattern, limit as i64], item_row)?.collect::<rusqlite::Result<_>>()?;
        for item in &mut items {
            let id = Uuid::parse_str(&item.id).expect("ids are UUIDs");
            item.identifiers = self.identifiers_of(id)?;
        }
        Ok(items)
    }

    fn identifiers_of(&self, id: Uuid) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT identifier FROM item_identifiers WHERE item_id = ?1 ORDER BY identifier")?;
        let rows = stmt.query_map([id], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    pub(crate) fn department_id(&self, code: &str) -> Result<Uuid> {
        lookup_id(&self.conn, "SELECT id FROM departments WHERE code = ?1", code)?
            .ok_or_else(|| LedgerError::UnknownDepartment(code.to_string()))
    }

    pub(crate) fn supplier_id(&self, code: &str) -> Result<Uuid> {
        lookup_id(&self.conn, "SELECT id FROM suppliers WHERE code = ?1", code)?
            .ok_or_else(|| LedgerError::UnknownSupplier(code.to_string()))
    }
}

/// The item id for any identifier, trying the GTIN-14 form of a shorter GTIN.
pub(crate) fn resolve_item(conn: &Connection, identifier: &str) -> Result<Option<Uuid>> {
    let identifier = identifier.trim();
    let mut stmt = conn.prepare_cached("SELECT item_id FROM item_identifiers WHERE identifier = ?1")?;
    if let Some(id) = stmt.query_row([identifier], |r| r.get(0)).optional()? {
        return Ok(Some(id));
    }
    match gtin14(identifier) {
        Some(long) if long != identifier => Ok(stmt.query_row([long], |r| r.get(0)).optional()?),
        _ => Ok(None),
    }
}

pub(crate) fn lookup_id(conn: &Connection, sql: &str, code: &str) -> Result<Option<Uuid>> {
    Ok(conn.prepare_cached(sql)?.query_row([code], |r| r.get(0)).optional()?)
}

const ITEM_SELECT: &str = "SELECT i.id, i.code, i.name, i.name_en, i.specification, i.manufacturer, i.registration_no,
    i.risk_class, i.category, i.unit, i.pack_size, i.serialized, i.implantable, i.cold_chain, i.min_temp_c,
    i.max_temp_c, i.unit_price, s.code, i.reorder_point,
    (SELECT min(identifier) FROM item_identifiers g WHERE g.item_id = i.id AND g.scheme = 'gtin' AND length(g.identifier) = 14)
    FROM items i LEFT JOIN suppliers s ON s.id = i.default_supplier_id";

fn item_row(r: &Row<'_>) -> rusqlite::Result<ItemView> {
    Ok(ItemView {
        id: r.get::<_, Uuid>(0)?.to_string(),
        code: r.get(1)?,
        name: r.get(2)?,
        name_en: r.get(3)?,
        specification: r.get(4)?,
        manufacturer: r.get(5)?,
        registration_no: r.get(6)?,
        risk_class: r.get(7)?,
        category: r.get(8)?,
        unit: r.get(9)?,
        pack_size: r.get(10)?,
        serialized: r.get(11)?,
        implantable: r.get(12)?,
        cold_chain: r.get(13)?,
        min_temp_c: r.get(14)?,
        max_temp_c: r.get(15)?,
        unit_price: r.get(16)?,
        default_supplier: r.get(17)?,
        reorder_point: r.get(18)?,
        gtin: r.get(19)?,
        identifiers: Vec::new(),
    })
}

fn user_row(r: &Row<'_>) -> rusqlite::Result<UserView> {
    Ok(UserView {
        username: r.get(0)?,
        display_name: r.get(1)?,
        role: Role::parse(&r.get::<_, String>(2)?).unwrap_or(Role::Auditor),
        language: Lang::parse(&r.get::<_, String>(3)?).unwrap_or(Lang::Zh),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gtin_check_digits_are_verified() {
        for (text, valid) in [
            ("09506000134352", true),
            ("9506000134352", true),
            ("09506000134353", false),
            ("96385074", true),
            ("614141000036", true),
            ("0950600013435", false),
            ("abcdefghijklmn", false),
            ("", false),
        ] {
            assert_eq!(is_valid_gtin(text), valid, "{text}");
        }
        assert_eq!(gtin14("9506000134352").as_deref(), Some("09506000134352"));
    }
}
