//! Balances: the fold of product.md §4, kept incrementally in the `balances`
//! table and provable against a full recomputation.
//!
//! The balance of a key (item, lot, serial, location, status) is the fold of
//! its movements in (HLC, node) order where a `count` *sets* the running
//! quantity and every other kind *adds* its signed quantity. Incrementally:
//! a non-count movement newer than the key's newest count adds; one older is
//! absorbed by that count; a count newer than the newest count resets the
//! balance to its quantity plus every non-count movement after it.

use crate::clock::Hlc;
use crate::error::Result;
use crate::model::{MovementKind, StockStatus};
use chrono::NaiveDate;
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;
use uuid::Uuid;

/// A balance key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BalanceKey {
    /// Item id.
    pub item_id: Uuid,
    /// Lot number ('' = none).
    pub lot: String,
    /// Serial ('' = none).
    pub serial: String,
    /// Location id.
    pub location_id: Uuid,
    /// Status.
    pub status: StockStatus,
}

/// One immutable movement as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MovementRecord {
    /// UUIDv7.
    pub id: Uuid,
    /// HLC.
    pub hlc: Hlc,
    /// Recording node.
    pub node_id: Uuid,
    /// Wall time at the recording node.
    pub recorded_at_ms: i64,
    /// Acting user.
    pub user_id: Uuid,
    /// Kind.
    pub kind: MovementKind,
    /// The key it changes.
    pub key: BalanceKey,
    /// Signed change, or the counted quantity for a count.
    pub quantity: i64,
    /// For a count: the balance this station knew at count time.
    pub expected_quantity: Option<i64>,
    /// Unit cost, decimal string.
    pub unit_cost: Option<String>,
    /// Department.
    pub department_id: Option<Uuid>,
    /// Supplier.
    pub supplier_id: Option<Uuid>,
    /// Document.
    pub document_id: Option<Uuid>,
    /// Reason.
    pub reason: Option<String>,
    /// The movement this one compensates.
    pub corrects: Option<Uuid>,
    /// Manager who overrode a refusal.
    pub override_by: Option<Uuid>,
    /// Free note.
    pub note: String,
}

/// The cached balance of a key (0 when the key has never moved).
pub(crate) fn balance_of(conn: &Connection, key: &BalanceKey) -> Result<i64> {
    let mut stmt = conn.prepare_cached(
        "SELECT quantity FROM balances WHERE item_id = ?1 AND lot = ?2 AND serial = ?3 AND location_id = ?4 AND status = ?5",
    )?;
    Ok(stmt
        .query_row(params![key.item_id, key.lot, key.serial, key.location_id, key.status.as_str()], |r| r.get(0))
        .optional()?
        .unwrap_or(0))
}

/// The key's row id and newest count, creating the key (at zero) when it is new.
/// Plain lookups and rowid updates: an upsert with RETURNING cost SQLite twice
/// as much per movement.
fn balance_key(tx: &Transaction<'_>, key: &BalanceKey, expiry: Option<String>) -> Result<(i64, Option<(i64, Uuid)>)> {
    let found = tx
        .prepare_cached(
            "SELECT key_id, last_count_hlc, last_count_node FROM balances
             WHERE item_id = ?1 AND lot = ?2 AND serial = ?3 AND location_id = ?4 AND status = ?5",
        )?
        .query_row(params![key.item_id, key.lot, key.serial, key.location_id, key.status.as_str()], |r| {
            let count = match (r.get::<_, Option<i64>>(1)?, r.get::<_, Option<Uuid>>(2)?) {
                (Some(hlc), Some(node)) => Some((hlc, node)),
                _ => None,
            };
            Ok((r.get(0)?, count))
        })
        .optional()?;
    if let Some(found) = found {
        return Ok(found);
    }
    // A new key carries its lot's expiry (looked up here when the caller did not know it).
    let expiry = match expiry {
        Some(expiry) => Some(expiry),
        None if !key.lot.is_empty() => tx
            .prepare_cached("SELECT expires_on FROM lots WHERE item_id = ?1 AND lot = ?2")?
            .query_row(params![key.item_id, key.lot], |r| r.get::<_, Option<String>>(0))
            .optional()?
            .flatten(),
        None => None,
    };
    tx.prepare_cached(
        "INSERT INTO balances (item_id, lot, serial, location_id, status, expires_on, quantity)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0)",
    )?
    .execute(params![key.item_id, key.lot, key.serial, key.location_id, key.status.as_str(), expiry])?;
    Ok((tx.last_insert_rowid(), None))
}

/// Appends a movement and updates its key's cached balance, inside the caller's transaction.
pub(crate) fn record(tx: &Transaction<'_>, m: &MovementRecord, expires_on: Option<NaiveDate>) -> Result<()> {
    let key = &m.key;
    let (key_id, last_count) = balance_key(tx, key, expires_on.map(|d| d.to_string()))?;
    let after_last_count = last_count.is_none_or(|(hlc, node)| (m.hlc.0, m.node_id) > (hlc, node));
    if m.kind == MovementKind::Count {
        // A count newer than the key's newest count resets the balance to the
        // counted quantity plus every non-count movement after it.
        if after_last_count {
            tx.prepare_cached(
                "UPDATE balances SET
                    quantity = ?2 + (SELECT coalesce(sum(quantity), 0) FROM movements
                                     WHERE key_id = ?1 AND kind <> 'count' AND (hlc, node_id) > (?3, ?4)),
                    last_count_hlc = ?3, last_count_node = ?4
                 WHERE key_id = ?1",
            )?
            .execute(params![key_id, m.quantity, m.hlc.0, m.node_id])?;
        }
    } else if after_last_count {
        // Anything else adds, unless the key's newest count is later (then it
        // happened before the shelf was counted and the count absorbed it).
        tx.prepare_cached("UPDATE balances SET quantity = quantity + ?2 WHERE key_id = ?1")?
            .execute(params![key_id, m.quantity])?;
    }
    insert_row(tx, m, key_id)
}

/// Stores a movement that the key's balance already includes (history a
/// bootstrapped node receives so that a late count can fold over it).
pub(crate) fn record_unfolded(tx: &Transaction<'_>, m: &MovementRecord, expires_on: Option<NaiveDate>) -> Result<()> {
    let (key_id, _) = balance_key(tx, &m.key, expires_on.map(|d| d.to_string()))?;
    insert_row(tx, m, key_id)?;
    tx.prepare_cached("INSERT INTO history_movements (movement_id) VALUES (?1)")?.execute([m.id])?;
    Ok(())
}

fn insert_row(tx: &Transaction<'_>, m: &MovementRecord, key_id: i64) -> Result<()> {
    let key = &m.key;
    tx.prepare_cached(
        "INSERT INTO movements (id, hlc, node_id, recorded_at_ms, user_id, kind, item_id, lot, serial, location_id,
            status, quantity, expected_quantity, unit_cost, department_id, supplier_id, document_id, reason, corrects,
            override_by, note, key_id)
         VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21,?22)",
    )?
    .execute(params![
        m.id,
        m.hlc.0,
        m.node_id,
        m.recorded_at_ms,
        m.user_id,
        m.kind.as_str(),
        key.item_id,
        key.lot,
        key.serial,
        key.location_id,
        key.status.as_str(),
        m.quantity,
        m.expected_quantity,
        m.unit_cost,
        m.department_id,
        m.supplier_id,
        m.document_id,
        m.reason,
        m.corrects,
        m.override_by,
        m.note,
        key_id
    ])?;
    Ok(())
}

/// A key whose cached balance differs from the fold of its movements.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BalanceMismatch {
    /// The balances row.
    pub key_id: i64,
    /// What the cache says.
    pub cached: i64,
    /// What the fold of the movements says.
    pub folded: i64,
}

/// Recomputes every balance from the movements (HLC order, counts set,
/// everything else adds) and lists the keys whose cache disagrees. Empty = proven.
pub fn verify(conn: &Connection) -> Result<Vec<BalanceMismatch>> {
    let mut cached = std::collections::BTreeMap::new();
    let mut stmt = conn.prepare("SELECT key_id, quantity FROM balances")?;
    for row in stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))? {
        let (key, qty) = row?;
        cached.insert(key, qty);
    }
    // A bootstrapped node holds no movements from before its snapshot: such a
    // key starts from its opening and its last count as the snapshot gave them,
    // until a count it holds takes over.
    let mut openings = std::collections::BTreeMap::new();
    let mut stmt = conn.prepare(
        "SELECT o.key_id, o.quantity, b.last_count_hlc, b.last_count_node FROM balance_openings o
         JOIN balances b ON b.key_id = o.key_id",
    )?;
    for row in stmt.query_map([], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, Option<i64>>(2)?, r.get::<_, Option<Uuid>>(3)?))
    })? {
        let (key, quantity, hlc, node) = row?;
        openings.insert(key, (quantity, hlc.zip(node)));
    }
    type Held = (i64, Uuid, bool, i64, bool);
    let mut movements: std::collections::BTreeMap<i64, Vec<Held>> = std::collections::BTreeMap::new();
    let mut stmt = conn.prepare(
        "SELECT key_id, hlc, node_id, kind, quantity, EXISTS(SELECT 1 FROM history_movements WHERE movement_id = id)
         FROM movements ORDER BY key_id, hlc, node_id",
    )?;
    for row in stmt.query_map([], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, Uuid>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, i64>(4)?,
            r.get::<_, bool>(5)?,
        ))
    })? {
        let (key, hlc, node, kind, qty, history) = row?;
        movements.entry(key).or_default().push((hlc, node, kind == MovementKind::Count.as_str(), qty, history));
    }
    let mut folded: std::collections::BTreeMap<i64, i64> = cached.keys().map(|k| (*k, 0)).collect();
    for (key, list) in &movements {
        let opening = openings.get(key).filter(|(_, count)| match count {
            // A count held as history (the snapshot's, for review) is inside the opening too:
            // only a count that arrived to be folded takes over.
            Some((hlc, node)) => {
                !list.iter().any(|(h, n, is_count, _, history)| *is_count && !history && (h, n) == (hlc, node))
            }
            None => true,
        });
        let value = match opening {
            Some((quantity, count)) => {
                quantity
                    + list
                        .iter()
                        // History a bootstrapped node keeps is inside the opening already.
                        .filter(|(h, n, is_count, _, history)| {
                            !is_count && !history && count.is_none_or(|c| (*h, *n) > c)
                        })
                        .map(|(_, _, _, q, _)| q)
                        .sum::<i64>()
            }
            None => list.iter().fold(0, |acc, (_, _, is_count, q, _)| if *is_count { *q } else { acc + q }),
        };
        folded.insert(*key, value);
    }
    for (key, (quantity, _)) in &openings {
        if !movements.contains_key(key) {
            folded.insert(*key, *quantity);
        }
    }
    Ok(folded
        .into_iter()
        .filter_map(|(key_id, folded)| {
            let cached = cached.get(&key_id).copied().unwrap_or(0);
            (cached != folded).then_some(BalanceMismatch { key_id, cached, folded })
        })
        .collect())
}
