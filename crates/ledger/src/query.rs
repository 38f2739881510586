//! Read models: the stock list, movement history, traces, FEFO choices and
//! documents. Reads never write; they join codes and names in for the shells.

use crate::error::{LedgerError, Result};
use crate::model::*;
use crate::posting::document_id;
use crate::store::Ledger;
use chrono::NaiveDate;
use rusqlite::{params, Connection, Row};
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

/// What the stock list shows.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StockFilter {
    /// Only this location (code).
    pub location: Option<String>,
    /// Only items whose code, GTIN, name or lot/serial contains this text.
    pub search: Option<String>,
    /// Include keys whose quantity is zero.
    #[serde(default)]
    pub include_zero: bool,
}

/// What the movement history shows.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct MovementFilter {
    /// Newest first instead of oldest first.
    #[serde(default)]
    pub newest_first: bool,
    /// At most this many rows (none: all).
    pub limit: Option<u32>,
}

struct ItemInfo {
    id: Arc<str>,
    code: Arc<str>,
    gtin: Option<Arc<str>>,
    name: Arc<str>,
    name_en: Arc<str>,
    unit: Arc<str>,
}

struct LocationInfo {
    code: Arc<str>,
    name: Arc<str>,
    name_en: Arc<str>,
}

impl Ledger {
    /// One row per balance key with a non-zero quantity (or all keys), ordered
    /// by item code, expiry (none last), location code, lot, serial, status.
    pub fn stock(&self, filter: &StockFilter) -> Result<Vec<StockRow>> {
        // Items and locations are few next to balance keys: load them once,
        // ranked by code, and scan the balances table alone (it carries the
        // lot's expiry). Sorting compares ranks, not strings.
        let (items, item_rank) = item_infos(&self.conn)?;
        let (locations, location_rank) = location_infos(&self.conn)?;
        let location_id = match &filter.location {
            Some(code) if !code.is_empty() => Some(
                location_rank
                    .iter()
                    .find(|(_, rank)| &*locations[**rank].code == code.as_str())
                    .map(|(id, _)| *id)
                    .ok_or_else(|| LedgerError::UnknownLocation(code.clone()))?,
            ),
            _ => None,
        };
        let search = filter.search.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_lowercase);
        let item_hit: Vec<bool> = items
            .iter()
            .map(|item| match &search {
                None => true,
                Some(needle) => {
                    [&item.code, &item.name, &item.name_en]
                        .iter()
                        .any(|field| field.to_lowercase().contains(needle.as_str()))
                        || item.gtin.as_deref().is_some_and(|g| g.contains(needle.as_str()))
                }
            })
            .collect();
        struct Raw {
            item: usize,
            location: usize,
            lot: String,
            serial: String,
            status: StockStatus,
            expiry: Option<NaiveDate>,
            quantity: i64,
        }
        let mut stmt = self.conn.prepare_cached(
            "SELECT item_id, lot, serial, location_id, status, expires_on, quantity FROM balances
             WHERE (?1 OR quantity <> 0) AND (?2 IS NULL OR location_id = ?2)",
        )?;
        let mut raw = Vec::new();
        let mut query = stmt.query(params![filter.include_zero, location_id])?;
        while let Some(r) = query.next()? {
            let (Some(&item), Some(&location)) =
                (item_rank.get(&r.get::<_, Uuid>(0)?), location_rank.get(&r.get::<_, Uuid>(3)?))
            else {
                continue;
            };
            let lot: String = r.get(1)?;
            let serial: String = r.get(2)?;
            if let Some(needle) = &search {
                let hit = item_hit[item]
                    || lot.to_lowercase().contains(needle.as_str())
                    || serial.to_lowercase().contains(needle.as_str());
                if !hit {
                    continue;
                }
            }
            let expiry = match r.get_ref(5)? {
                rusqlite::types::ValueRef::Text(text) => parse_ymd(text),
                _ => None,
            };
            raw.push(Raw {
                item,
                location,
                lot,
                serial,
                status: match r.get_ref(4)? {
                    rusqlite::types::ValueRef::Text(b"quarantined") => StockStatus::Quarantined,
                    _ => StockStatus::Available,
                },
                expiry,
                quantity: r.get(6)?,
            });
        }
        // Sort small (packed key, index) pairs rather than the rows: item rank,
        // expiry day (none last) and location rank in one integer; lot, serial
        // and status only break ties.
        let packed = |r: &Raw| -> u64 {
            use chrono::Datelike;
            let day = r.expiry.map_or(0xF_FFFF, |d| d.num_days_from_ce().clamp(0, 0xF_FFFE) as u64);
            ((r.item as u64) << 40) | (day << 20) | (r.location as u64 & 0xF_FFFF)
        };
        let mut order: Vec<(u64, u32)> = raw.iter().enumerate().map(|(i, r)| (packed(r), i as u32)).collect();
        order.sort_unstable_by(|a, b| {
            a.0.cmp(&b.0).then_with(|| {
                let (x, y) = (&raw[a.1 as usize], &raw[b.1 as usize]);
                (&x.lot, &x.serial, x.status as u8).cmp(&(&y.lot, &y.serial, y.status as u8))
            })
        });
        let mut raw: Vec<Option<Raw>> = raw.into_iter().map(Some).collect();
        Ok(order
            .into_iter()
            .map(|(_, index)| {
                let r = raw[index as usize].take().expect("each row is taken once");
                let item = &items[r.item];
                let location = &locations[r.location];
                StockRow {
                    item: item.id.clone(),
                    code: item.code.clone(),
                    gtin: item.gtin.clone(),
                    name: item.name.clone(),
                    name_en: item.name_en.clone(),
                    unit: item.unit.clone(),
                    lot: non_empty(r.lot),
                    expiry: r.expiry,
                    serial: non_empty(r.serial),
                    location: location.code.clone(),
                    location_name: location.name.clone(),
                    location_name_en: location.name_en.clone(),
                    status: r.status,
                    quantity: r.quantity,
                }
            })
            .collect())
    }

    /// Movements in (HLC, node) order, oldest first unless asked otherwise.
    pub fn movements(&self, filter: &MovementFilter) -> Result<Vec<MovementView>> {
        let order = if filter.newest_first { "DESC" } else { "ASC" };
        let sql = format!("{MOVEMENT_SELECT} ORDER BY m.hlc {order}, m.node_id {order} LIMIT ?1");
        let limit = filter.limit.map_or(-1, i64::from);
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map([limit], movement_row)?.collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Every movement of a lot number or serial, oldest first.
    pub fn trace(&self, lot_or_serial: &str) -> Result<Vec<MovementView>> {
        let needle = lot_or_serial.trim();
        if needle.is_empty() {
            return Err(LedgerError::InvalidInput { field: "lot", reason: "give a lot number or a serial".into() });
        }
        let sql = format!(
            "{MOVEMENT_SELECT} WHERE m.id IN (SELECT mk.id FROM balances b JOIN movements mk ON mk.key_id = b.key_id
                                                WHERE b.lot = ?1 AND b.lot <> ''
                           UNION SELECT id FROM movements WHERE serial = ?1 AND serial <> '')
             ORDER BY m.hlc, m.node_id"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map([needle], movement_row)?.collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// The lots (and serials) of an item available at a location, in FEFO order:
    /// earliest expiry first, lots without expiry last. Expired ones are listed
    /// but marked, and never picked by an issue.
    pub fn fefo_choices(&self, item: &str, location: &str) -> Result<Vec<LotChoice>> {
        let item_id =
            crate::master::resolve_item(&self.conn, item)?.ok_or_else(|| LedgerError::UnknownItem(item.to_string()))?;
        let location_id = crate::master::lookup_id(&self.conn, "SELECT id FROM locations WHERE code = ?1", location)?
            .ok_or_else(|| LedgerError::UnknownLocation(location.to_string()))?;
        let mut rows = fefo_rows(&self.conn, item_id, location_id, self.clock.today())?;
        rows.extend(serial_rows(&self.conn, item_id, location_id, self.clock.today())?);
        Ok(rows)
    }

    /// A known lot's expiry (None: the lot has none); `unknown_lot` when the item has no such lot.
    pub fn lot_expiry(&self, item: &str, lot: &str) -> Result<Option<NaiveDate>> {
        let item = crate::posting::item_ref(&self.conn, item)?;
        crate::posting::lot_expiry(&self.conn, item.id, lot.trim())?
            .ok_or_else(|| LedgerError::UnknownLot { item: item.code.clone(), lot: lot.trim().to_string() })
    }

    /// A document with its lines and movements, by number or id.
    pub fn document(&self, number_or_id: &str) -> Result<DocumentView> {
        let id = document_id(&self.conn, number_or_id)?;
        let mut view = self.conn.query_row(
            "SELECT d.id, d.number, d.kind, d.status, l.code, t.code, dp.code, s.code, cu.username, pu.username,
                    d.posted_at_ms, d.reason, d.note
             FROM documents d
             LEFT JOIN locations l ON l.id = d.location_id LEFT JOIN locations t ON t.id = d.to_location_id
             LEFT JOIN departments dp ON dp.id = d.department_id LEFT JOIN suppliers s ON s.id = d.supplier_id
             LEFT JOIN users cu ON cu.id = d.created_by LEFT JOIN users pu ON pu.id = d.posted_by
             WHERE d.id = ?1",
            [id],
            |r| {
                Ok(DocumentView {
                    id: r.get::<_, Uuid>(0)?.to_string(),
                    number: r.get(1)?,
                    kind: DocumentKind::parse(&r.get::<_, String>(2)?).unwrap_or(DocumentKind::Receipt),
                    status: DocumentStatus::parse(&r.get::<_, String>(3)?).unwrap_or(DocumentStatus::Draft),
                    location: r.get(4)?,
                    to_location: r.get(5)?,
                    department: r.get(6)?,
                    supplier: r.get(7)?,
                    created_by: r.get::<_, Option<String>>(8)?.unwrap_or_default(),
                    posted_by: r.get(9)?,
                    posted_at: r.get::<_, Option<i64>>(10)?.map(rfc3339),
                    reason: r.get(11)?,
                    note: r.get(12)?,
                    lines: Vec::new(),
                    movements: Vec::new(),
                })
            },
        )?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT l.line_no, i.code, i.name, i.name_en, l.lot, l.expires_on, l.serial, l.quantity, l.unit_cost
             FROM document_lines l JOIN items i ON i.id = l.item_id WHERE l.document_id = ?1 ORDER BY l.line_no",
        )?;
        view.lines = stmt
            .query_map([id], |r| {
                Ok(DocumentLineView {
                    line_no: r.get(0)?,
                    item: r.get(1)?,
                    item_name: r.get(2)?,
                    item_name_en: r.get(3)?,
                    lot: non_empty(r.get(4)?),
                    expiry: r.get::<_, Option<String>>(5)?.and_then(|d| d.parse().ok()),
                    serial: non_empty(r.get(6)?),
                    quantity: r.get(7)?,
                    unit_cost: r.get(8)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        let mut stmt = self
            .conn
            .prepare_cached(&format!("{MOVEMENT_SELECT} WHERE m.document_id = ?1 ORDER BY m.hlc, m.node_id"))?;
        view.movements = stmt.query_map([id], movement_row)?.collect::<rusqlite::Result<_>>()?;
        Ok(view)
    }

    /// Recent documents, newest first (drafts included), without lines.
    pub fn documents(&self, limit: u32) -> Result<Vec<DocumentView>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id FROM documents ORDER BY coalesce(posted_at_ms, created_at_ms) DESC, number DESC LIMIT ?1",
        )?;
        let ids: Vec<Uuid> = stmt.query_map([i64::from(limit)], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
        ids.into_iter()
            .map(|id| {
                let mut doc = self.document(&id.to_string())?;
                doc.movements.clear();
                Ok(doc)
            })
            .collect()
    }
}

/// Available non-serial stock of an item at a location in FEFO order.
pub(crate) fn fefo_rows(
    conn: &Connection,
    item_id: Uuid,
    location_id: Uuid,
    today: NaiveDate,
) -> Result<Vec<LotChoice>> {
    let mut stmt = conn.prepare_cached(
        "SELECT lot, expires_on, quantity FROM balances
         WHERE item_id = ?1 AND location_id = ?2 AND status = 'available' AND serial = '' AND quantity > 0
         ORDER BY expires_on IS NULL, expires_on, lot",
    )?;
    let rows = stmt
        .query_map(params![item_id, location_id], |r| choice_row(r, None, today))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

fn serial_rows(conn: &Connection, item_id: Uuid, location_id: Uuid, today: NaiveDate) -> Result<Vec<LotChoice>> {
    let mut stmt = conn.prepare_cached(
        "SELECT lot, expires_on, quantity, serial FROM balances
         WHERE item_id = ?1 AND location_id = ?2 AND status = 'available' AND serial <> '' AND quantity > 0
         ORDER BY expires_on IS NULL, expires_on, lot, serial",
    )?;
    let rows = stmt
        .query_map(params![item_id, location_id], |r| {
            let serial: String = r.get(3)?;
            choice_row(r, Some(serial), today)
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

fn choice_row(r: &Row<'_>, serial: Option<String>, today: NaiveDate) -> rusqlite::Result<LotChoice> {
    let expiry: Option<NaiveDate> = r.get::<_, Option<String>>(1)?.and_then(|d| d.parse().ok());
    Ok(LotChoice {
        lot: non_empty(r.get(0)?),
        expiry,
        serial,
        quantity: r.get(2)?,
        expired: expiry.is_some_and(|e| e < today),
    })
}

/// Items sorted by code, and each item id's rank in that order.
fn item_infos(conn: &Connection) -> Result<(Vec<ItemInfo>, UuidMap<usize>)> {
    let mut stmt = conn.prepare_cached(
        "SELECT i.id, i.code, i.name, i.name_en, i.unit,
            (SELECT min(identifier) FROM item_identifiers g WHERE g.item_id = i.id AND g.scheme = 'gtin' AND length(g.identifier) = 14)
         FROM items i ORDER BY i.code",
    )?;
    let mut infos = Vec::new();
    let mut rank = UuidMap::default();
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let id: Uuid = r.get(0)?;
        rank.insert(id, infos.len());
        infos.push(ItemInfo {
            id: id.to_string().into(),
            code: r.get::<_, String>(1)?.into(),
            name: r.get::<_, String>(2)?.into(),
            name_en: r.get::<_, String>(3)?.into(),
            unit: r.get::<_, String>(4)?.into(),
            gtin: r.get::<_, Option<String>>(5)?.map(Into::into),
        });
    }
    Ok((infos, rank))
}

/// Locations sorted by code, and each location id's rank in that order.
fn location_infos(conn: &Connection) -> Result<(Vec<LocationInfo>, UuidMap<usize>)> {
    let mut stmt = conn.prepare_cached("SELECT id, code, name, name_en FROM locations ORDER BY code")?;
    let mut infos = Vec::new();
    let mut rank = UuidMap::default();
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        rank.insert(r.get::<_, Uuid>(0)?, infos.len());
        infos.push(LocationInfo {
            code: r.get::<_, String>(1)?.into(),
            name: r.get::<_, String>(2)?.into(),
            name_en: r.get::<_, String>(3)?.into(),
        });
    }
    Ok((infos, rank))
}

/// A map keyed by UUIDv7 ids. Their last 8 bytes are random, so they are
/// used as the hash directly: the stock list looks up two ids per balance key.
type UuidMap<V> = HashMap<Uuid, V, std::hash::BuildHasherDefault<UuidHasher>>;

#[derive(Default)]
struct UuidHasher(u64);

impl std::hash::Hasher for UuidHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Uuid hashes as its 16 bytes (after a length prefix, folded in too).
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = self.0.rotate_left(5) ^ u64::from_le_bytes(word);
        }
    }
}

/// Parses the stored `YYYY-MM-DD` without a general-purpose parser (the
/// stock list reads one per balance key); anything else falls back to chrono.
fn parse_ymd(text: &[u8]) -> Option<NaiveDate> {
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        text[range].iter().try_fold(0u32, |n, b| b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0')))
    };
    if text.len() == 10 && text[4] == b'-' && text[7] == b'-' {
        return NaiveDate::from_ymd_opt(digits(0..4)? as i32, digits(5..7)?, digits(8..10)?);
    }
    std::str::from_utf8(text).ok()?.parse().ok()
}

fn non_empty(text: String) -> Option<String> {
    (!text.is_empty()).then_some(text)
}

/// Milliseconds since the epoch as RFC 3339 in UTC.
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

const MOVEMENT_SELECT: &str = "SELECT m.id, m.hlc, m.recorded_at_ms, m.node_id, u.username, m.kind, i.code, i.name,
    i.name_en, m.lot, m.serial, l.code, m.status, m.quantity, m.expected_quantity, m.unit_cost, dp.code, s.code,
    m.document_id, d.number, m.reason, m.corrects, ou.username, m.note
    FROM movements m
    JOIN users u ON u.id = m.user_id JOIN items i ON i.id = m.item_id JOIN locations l ON l.id = m.location_id
    LEFT JOIN departments dp ON dp.id = m.department_id LEFT JOIN suppliers s ON s.id = m.supplier_id
    LEFT JOIN documents d ON d.id = m.document_id LEFT JOIN users ou ON ou.id = m.override_by";

fn movement_row(r: &Row<'_>) -> rusqlite::Result<MovementView> {
    Ok(MovementView {
        id: r.get::<_, Uuid>(0)?.to_string(),
        hlc: r.get(1)?,
        recorded_at: rfc3339(r.get(2)?),
        node: r.get::<_, Uuid>(3)?.to_string(),
        user: r.get(4)?,
        kind: MovementKind::parse(&r.get::<_, String>(5)?).unwrap_or(MovementKind::Adjust),
        item: r.get(6)?,
        item_name: r.get(7)?,
        item_name_en: r.get(8)?,
        lot: non_empty(r.get(9)?),
        serial: non_empty(r.get(10)?),
        location: r.get(11)?,
        status: StockStatus::parse(&r.get::<_, String>(12)?).unwrap_or(StockStatus::Available),
        quantity: r.get(13)?,
        expected_quantity: r.get(14)?,
        unit_cost: r.get(15)?,
        department: r.get(16)?,
        supplier: r.get(17)?,
        document: r.get::<_, Option<Uuid>>(18)?.map(|u| u.to_string()),
        document_number: r.get(19)?,
        reason: r.get(20)?,
        corrects: r.get::<_, Option<Uuid>>(21)?.map(|u| u.to_string()),
        override_by: r.get(22)?,
        note: r.get(23)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_dates_parse_on_the_fast_path_and_the_slow_one() {
        for (text, expected) in [
            ("2027-01-31", Some("2027-01-31")),
            ("2026-02-29", None),
            ("2028-02-29", Some("2028-02-29")),
            ("2027-1-31", Some("2027-01-31")), // chrono, as before the fast path
            ("20x7-01-31", None),
            ("", None),
        ] {
            assert_eq!(parse_ymd(text.as_bytes()).map(|d| d.to_string()).as_deref(), expected, "{text}");
        }
    }
}
