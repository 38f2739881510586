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

/// The most stock rows whose room is set aside before the scan (a bound, not a limit).
const STOCK_PRESIZE_MAX: usize = 4_000_000;

impl Ledger {
    /// One row per balance key with a non-zero quantity (or all keys), ordered
    /// by item code, expiry (none last), location code, lot, serial, status.
    pub fn stock(&self, filter: &StockFilter) -> Result<Vec<StockRow>> {
        // Items and locations are few next to balance keys: load them once,
        // ranked by code, and scan the balances table alone (it carries the
        // lot's expiry). Sorting compares ranks, not strings. All of it from one
        // snapshot of the read connection, whose cache holds the whole table.
        let read = self.reader()?.unchecked_transaction()?;
        let (items, item_rank) = item_infos(&read)?;
        let (locations, location_rank) = location_infos(&read)?;
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
        let mut stmt = read.prepare_cached(
            "SELECT item_id, lot, serial, location_id, status, expires_on, quantity FROM balances
             WHERE (?1 OR quantity <> 0) AND (?2 IS NULL OR location_id = ?2)",
        )?;
        // Key ids are dense: for the whole list the greatest bounds the rows (one
        // index lookup), and vectors sized once spare the allocator a series of
        // copies and page faults. A filtered list grows as it goes.
        let room = if location_id.is_none() && search.is_none() {
            let keys: i64 =
                read.prepare_cached("SELECT coalesce(max(key_id), 0) FROM balances")?.query_row([], |r| r.get(0))?;
            usize::try_from(keys).unwrap_or(0).min(STOCK_PRESIZE_MAX)
        } else {
            0
        };
        let mut rows: Vec<StockRow> = Vec::with_capacity(room);
        // Each row's place in the order: item rank, expiry day (none last) and
        // location rank packed in one integer; lot, serial and status break ties.
        let mut order: Vec<(u64, u32)> = Vec::with_capacity(room);
        // Neighbouring keys mostly share an item (a receipt's lines): remember the last id.
        let (mut last_item, mut last_location) = (RankCache::default(), RankCache::default());
        let mut query = stmt.query(params![filter.include_zero, location_id])?;
        while let Some(r) = query.next()? {
            let (Some(item), Some(location)) =
                (last_item.rank(r.get_ref(0)?, &item_rank)?, last_location.rank(r.get_ref(3)?, &location_rank)?)
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
            let day = {
                use chrono::Datelike;
                expiry.map_or(0xF_FFFF, |d| d.num_days_from_ce().clamp(0, 0xF_FFFE) as u64)
            };
            order.push((((item as u64) << 40) | (day << 20) | (location as u64 & 0xF_FFFF), rows.len() as u32));
            rows.push(StockRow {
                item: items[item].clone(),
                lot: non_empty(lot),
                expiry,
                serial: non_empty(serial),
                location: locations[location].clone(),
                status: match r.get_ref(4)? {
                    rusqlite::types::ValueRef::Text(b"quarantined") => StockStatus::Quarantined,
                    _ => StockStatus::Available,
                },
                quantity: r.get(6)?,
            });
        }
        // Sort the small (packed key, index) pairs, not the rows; then move each
        // row to its place once, following the permutation's cycles.
        order.sort_unstable_by(|a, b| {
            a.0.cmp(&b.0).then_with(|| {
                let (x, y) = (&rows[a.1 as usize], &rows[b.1 as usize]);
                (&x.lot, &x.serial, x.status as u8).cmp(&(&y.lot, &y.serial, y.status as u8))
            })
        });
        place_in_order(&mut rows, order.into_iter().map(|(_, index)| index).collect());
        Ok(rows)
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

/// Items sorted by code, and each item id's rank in that order. Two plain
/// scans (items, then GTINs) and a sort here: a per-item subquery and the
/// code index cost four B-tree seeks per item, a fifth of the stock list's time.
fn item_infos(conn: &Connection) -> Result<(Vec<Arc<StockItem>>, UuidMap<usize>)> {
    let mut gtins: UuidMap<String> = UuidMap::default();
    let mut stmt = conn.prepare_cached(
        "SELECT item_id, identifier FROM item_identifiers WHERE scheme = 'gtin' AND length(identifier) = 14",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let identifier: String = r.get(1)?;
        match gtins.entry(r.get(0)?) {
            std::collections::hash_map::Entry::Occupied(mut lowest) => {
                if identifier < *lowest.get() {
                    lowest.insert(identifier);
                }
            }
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(identifier);
            }
        }
    }
    let mut stmt = conn.prepare_cached("SELECT id, code, name, name_en, unit FROM items")?;
    let mut items: Vec<(Uuid, StockItem)> = Vec::new();
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let id: Uuid = r.get(0)?;
        items.push((
            id,
            StockItem {
                id: id.to_string(),
                code: r.get(1)?,
                name: r.get(2)?,
                name_en: r.get(3)?,
                unit: r.get(4)?,
                gtin: gtins.remove(&id),
            },
        ));
    }
    // Codes are unique; byte order is SQLite's BINARY collation.
    items.sort_unstable_by(|a, b| a.1.code.cmp(&b.1.code));
    let mut rank = UuidMap::default();
    rank.reserve(items.len());
    let infos = items
        .into_iter()
        .enumerate()
        .map(|(n, (id, item))| {
            rank.insert(id, n);
            Arc::new(item)
        })
        .collect();
    Ok((infos, rank))
}

/// Locations sorted by code, and each location id's rank in that order.
fn location_infos(conn: &Connection) -> Result<(Vec<Arc<StockPlace>>, UuidMap<usize>)> {
    let mut stmt = conn.prepare_cached("SELECT id, code, name, name_en FROM locations ORDER BY code")?;
    let mut infos = Vec::new();
    let mut rank = UuidMap::default();
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        rank.insert(r.get::<_, Uuid>(0)?, infos.len());
        infos.push(Arc::new(StockPlace { code: r.get(1)?, name: r.get(2)?, name_en: r.get(3)? }));
    }
    Ok((infos, rank))
}

/// Reorders `rows` in place so that place `i` holds the row that was at
/// `from[i]` (`from` a permutation of the indices), one swap per row moved.
fn place_in_order<T>(rows: &mut [T], mut from: Vec<u32>) {
    debug_assert_eq!(rows.len(), from.len());
    for start in 0..from.len() {
        // The row first at `start` travels along its cycle, each swap putting
        // one row in its place, until the place it belongs to comes up.
        let mut at = start;
        while from[at] as usize != start {
            let next = from[at] as usize;
            rows.swap(at, next);
            from[at] = at as u32;
            at = next;
        }
        from[at] = at as u32;
    }
}

/// The rank of the id last looked up, to skip the map for a run of equal ids.
#[derive(Default)]
struct RankCache {
    id: Option<([u8; 16], usize)>,
}

impl RankCache {
    /// The rank of the UUID in `value` (a 16-byte blob), if `ranks` knows it.
    fn rank(
        &mut self,
        value: rusqlite::types::ValueRef<'_>,
        ranks: &UuidMap<usize>,
    ) -> rusqlite::Result<Option<usize>> {
        let bytes: [u8; 16] = value.as_blob()?.try_into().map_err(|_| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Blob, "an id is 16 bytes".into())
        })?;
        Ok(match self.id {
            Some((id, rank)) if id == bytes => Some(rank),
            _ => ranks.get(&Uuid::from_bytes(bytes)).map(|&rank| {
                self.id = Some((bytes, rank));
                rank
            }),
        })
    }
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
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn rows_move_to_the_places_the_order_gives(keys in proptest::collection::vec(0u16..50, 0..200)) {
            // The order a stable sort of the keys gives, applied in place, is the sorted rows.
            let mut from: Vec<u32> = (0..keys.len() as u32).collect();
            from.sort_by_key(|&i| keys[i as usize]);
            let mut rows: Vec<(u16, usize)> = keys.iter().copied().zip(0..).collect();
            let mut expected = rows.clone();
            expected.sort_by_key(|r| r.0);
            place_in_order(&mut rows, from);
            prop_assert_eq!(rows, expected);
        }
    }

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
