//! Applying movements made elsewhere (sync, imports): the movement id is the
//! idempotency key. A new id is appended and folded into its key's balance
//! wherever its HLC falls; the same id with the same content is a no-op; the
//! same id with different content is a conflict, reported and never applied.

use crate::balance::{record, BalanceKey, MovementRecord};
use crate::clock::Hlc;
use crate::error::{LedgerError, Result};
use crate::model::{MovementKind, StockStatus};
use crate::store::{persist_hlc, Ledger};
use rusqlite::{OptionalExtension, Row, Transaction};
use uuid::Uuid;

/// How far ahead of our wall clock a remote HLC may pull our own clock.
/// Beyond it the movement is still applied, but our clock is not dragged into the future.
pub const CLOCK_PULL_MAX_MS: i64 = 5 * 60 * 1000;

/// What applying one movement did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Appended and folded in.
    Inserted,
    /// Already present with the same content.
    Duplicate,
}

impl Ledger {
    /// Applies one movement made on any node, in one transaction.
    pub fn apply_movement(&mut self, movement: &MovementRecord) -> Result<Applied> {
        self.node()?;
        let now = self.clock.now_ms();
        let local_hlc = self.hlc;
        let mut hlc = local_hlc;
        let tx = self.begin()?;
        let outcome = apply_movement_in(&tx, movement, now, &mut hlc)?;
        if outcome.is_err() {
            return Err(LedgerError::MovementConflict(movement.id.to_string()));
        }
        if hlc > local_hlc {
            persist_hlc(&tx, hlc)?;
        }
        tx.commit()?;
        self.hlc = self.hlc.max(hlc);
        Ok(outcome.unwrap_or(Applied::Duplicate))
    }

    /// Every movement as stored, in (HLC, node) order.
    pub fn movement_records(&self) -> Result<Vec<MovementRecord>> {
        let mut stmt = self.conn.prepare(&format!("{RECORD_SELECT} ORDER BY hlc, node_id"))?;
        let rows = stmt.query_map([], record_row)?.collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }
}

/// Applies one movement inside the caller's transaction: `Ok(Err(stored))`
/// when the id is stored with other content (nothing applied). A remote HLC
/// ahead of `hlc` moves it, unless it lies beyond [`CLOCK_PULL_MAX_MS`] in the future.
pub(crate) fn apply_movement_in(
    tx: &Transaction<'_>,
    movement: &MovementRecord,
    now: i64,
    hlc: &mut Hlc,
) -> Result<std::result::Result<Applied, MovementRecord>> {
    check_limits(movement)?;
    let existing = tx
        .prepare_cached(&format!("{RECORD_SELECT} WHERE id = ?1"))?
        .query_row([movement.id], record_row)
        .optional()?;
    if let Some(existing) = existing {
        return Ok(if existing == *movement { Ok(Applied::Duplicate) } else { Err(existing) });
    }
    record(tx, movement, None)?;
    if movement.hlc.physical_ms() <= now + CLOCK_PULL_MAX_MS && movement.hlc > *hlc {
        *hlc = movement.hlc;
    }
    Ok(Ok(Applied::Inserted))
}

/// A movement from elsewhere is held to the limits local posting keeps.
fn check_limits(m: &MovementRecord) -> Result<()> {
    use crate::posting::{LINE_QUANTITY_MAX, NOTE_MAX};
    let bad = |reason: String| Err(LedgerError::InvalidInput { field: "movement", reason });
    if m.quantity.abs() > LINE_QUANTITY_MAX || (m.kind == crate::model::MovementKind::Count && m.quantity < 0) {
        return bad(format!("movement {} has quantity {} beyond the limits", m.id, m.quantity));
    }
    if m.expected_quantity.is_some_and(|q| q.abs() > LINE_QUANTITY_MAX * 1_000) {
        return bad(format!("movement {} has an expected quantity beyond the limits", m.id));
    }
    let long = |t: &str, max: usize| t.chars().count() > max;
    let text = crate::master::TEXT_FIELD_MAX;
    if long(&m.key.lot, text)
        || long(&m.key.serial, text)
        || long(&m.note, NOTE_MAX)
        || m.reason.as_deref().is_some_and(|r| long(r, NOTE_MAX))
        || m.unit_cost.as_deref().is_some_and(|c| long(c, 40))
    {
        return bad(format!("movement {} has text beyond the limits", m.id));
    }
    Ok(())
}

pub(crate) const RECORD_SELECT: &str =
    "SELECT id, hlc, node_id, recorded_at_ms, user_id, kind, item_id, lot, serial, location_id,
    status, quantity, expected_quantity, unit_cost, department_id, supplier_id, document_id, reason, corrects,
    override_by, note FROM movements";

pub(crate) fn record_row(r: &Row<'_>) -> rusqlite::Result<MovementRecord> {
    let kind: String = r.get(5)?;
    let status: String = r.get(10)?;
    Ok(MovementRecord {
        id: r.get::<_, Uuid>(0)?,
        hlc: Hlc(r.get(1)?),
        node_id: r.get(2)?,
        recorded_at_ms: r.get(3)?,
        user_id: r.get(4)?,
        kind: MovementKind::parse(&kind).unwrap_or(MovementKind::Adjust),
        key: BalanceKey {
            item_id: r.get(6)?,
            lot: r.get(7)?,
            serial: r.get(8)?,
            location_id: r.get(9)?,
            status: StockStatus::parse(&status).unwrap_or(StockStatus::Available),
        },
        quantity: r.get(11)?,
        expected_quantity: r.get(12)?,
        unit_cost: r.get(13)?,
        department_id: r.get(14)?,
        supplier_id: r.get(15)?,
        document_id: r.get(16)?,
        reason: r.get(17)?,
        corrects: r.get(18)?,
        override_by: r.get(19)?,
        note: r.get(20)?,
    })
}
