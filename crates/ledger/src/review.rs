//! What a manager confirms after a merge, derived from the movements alone —
//! so every node holding the same movements lists the same things, and
//! nothing is stored that could disagree. (The other review lists —
//! negative exceptions, conflicts, concurrent safety edits, duplicate codes,
//! double corrections, far-future movements — live in `replication.rs`.)
//!
//! **Ambiguous counts** (product brief §4): a count sets its key's balance as
//! of its HLC; a movement another node made on the same key at nearly the
//! same time may really have happened on the other side of the count (the
//! two clocks disagree by up to the skew window), so whether the count
//! absorbed it or it adds on top is a guess the fold made for the manager.
//! Only each key's *newest* count is judged: an older count is absorbed
//! entirely by the newer one, so its ambiguity no longer changes anything.
//! That is also what resolves one: **a later count of the key** (a recount,
//! a stocktake, `medledger count`) taken once the movements have settled —
//! it becomes the newest count, and it is listed only if something lands
//! within the window of it in turn. No acknowledgement is stored: nothing
//! new has to replicate, and a recount is what a manager who doubts the
//! number should ask for anyway.

use crate::clock::Hlc;
use crate::error::Result;
use crate::store::Ledger;
use rusqlite::params;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[cfg(feature = "ts")]
use ts_rs::TS;

/// How close (either side, by the HLCs' wall-clock part) another node's
/// movement must be to a count to make it ambiguous: five minutes, the same
/// as the stocktake's own flag (`stocktake::AMBIGUITY_WINDOW_MS`) and as far
/// as a remote clock may pull ours (`apply::CLOCK_PULL_MAX_MS`). Workstations
/// keep their clocks by NTP within seconds; five minutes also covers one
/// whose clock was never set, and the minute or two a counter spends at a
/// shelf between seeing it and its last scan. Wider would flag ordinary
/// busy-day traffic; narrower would miss a badly set clock.
pub const COUNT_AMBIGUITY_WINDOW_MS: i64 = crate::stocktake::AMBIGUITY_WINDOW_MS;

/// Ambiguous counts listed, at most (the review is read on every refresh).
pub const AMBIGUOUS_COUNTS_MAX: usize = 500;

/// A key's newest count with other nodes' movements within the skew window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct AmbiguousCount {
    /// The count movement's id.
    pub count_id: String,
    /// Item code.
    pub item: String,
    /// Lot ('' none).
    pub lot: String,
    /// Serial ('' none).
    pub serial: String,
    /// Location code.
    pub location: String,
    /// available or quarantined.
    pub status: String,
    /// The node that counted.
    pub node: String,
    /// The count's time (its HLC's wall-clock part), ms.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub counted_at_ms: i64,
    /// The counted quantity.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub counted: i64,
    /// What the counting node knew at count time.
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub expected: Option<i64>,
    /// The stocktake (or count document) number.
    pub document_number: Option<String>,
    /// The balance the fold gives the key now.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub balance: i64,
    /// The other nodes' movements within the window, oldest first.
    pub movements: Vec<AmbiguousMovement>,
}

/// Another node's movement near a count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct AmbiguousMovement {
    /// Movement id.
    pub id: String,
    /// Its node.
    pub node: String,
    /// Its kind.
    pub kind: String,
    /// Its signed quantity.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub quantity: i64,
    /// Its time (HLC wall-clock part), ms.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub at_ms: i64,
    /// Its time minus the count's, ms (negative: before the count, so the count absorbed it).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub offset_ms: i64,
    /// Its document's number.
    pub document_number: Option<String>,
}

impl Ledger {
    /// Each key's newest count that has movements of other nodes within
    /// [`COUNT_AMBIGUITY_WINDOW_MS`] of it (not of its own document), by item,
    /// lot, serial, location and status; at most [`AMBIGUOUS_COUNTS_MAX`].
    pub fn ambiguous_counts(&self) -> Result<Vec<AmbiguousCount>> {
        let mut stmt = self.conn.prepare(
            "SELECT b.key_id, i.code, b.lot, b.serial, l.code, b.status, b.quantity,
                    m.id, m.node_id, m.hlc, m.quantity, m.expected_quantity, m.document_id, d.number
             FROM balances b
             JOIN movements m ON m.key_id = b.key_id AND m.hlc = b.last_count_hlc AND m.node_id = b.last_count_node
                 AND m.kind = 'count'
             JOIN items i ON i.id = b.item_id JOIN locations l ON l.id = b.location_id
             LEFT JOIN documents d ON d.id = m.document_id
             WHERE b.last_count_hlc IS NOT NULL
             ORDER BY i.code, b.lot, b.serial, l.code, b.status",
        )?;
        type Row = (i64, AmbiguousCount, Uuid, i64, Option<Uuid>);
        let counts: Vec<Row> = stmt
            .query_map([], |r| {
                let node: Uuid = r.get(8)?;
                let hlc: i64 = r.get(9)?;
                Ok((
                    r.get(0)?,
                    AmbiguousCount {
                        count_id: r.get::<_, Uuid>(7)?.to_string(),
                        item: r.get(1)?,
                        lot: r.get(2)?,
                        serial: r.get(3)?,
                        location: r.get(4)?,
                        status: r.get(5)?,
                        node: node.to_string(),
                        counted_at_ms: Hlc(hlc).physical_ms(),
                        counted: r.get(10)?,
                        expected: r.get(11)?,
                        document_number: r.get(13)?,
                        balance: r.get(6)?,
                        movements: Vec::new(),
                    },
                    node,
                    hlc,
                    r.get(12)?,
                ))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let mut out = Vec::new();
        for (key_id, mut count, node, hlc, document) in counts {
            let at = Hlc(hlc).physical_ms();
            let from = Hlc::from_physical_ms(at - COUNT_AMBIGUITY_WINDOW_MS).0;
            let to = Hlc::from_physical_ms(at + COUNT_AMBIGUITY_WINDOW_MS + 1).0 - 1;
            let mut near = self.conn.prepare_cached(
                "SELECT m.id, m.node_id, m.kind, m.quantity, m.hlc, d.number FROM movements m
                 LEFT JOIN documents d ON d.id = m.document_id
                 WHERE m.key_id = ?1 AND m.hlc BETWEEN ?2 AND ?3 AND m.node_id <> ?4 AND m.document_id IS NOT ?5
                 ORDER BY m.hlc, m.node_id",
            )?;
            count.movements = near
                .query_map(params![key_id, from, to, node, document], |r| {
                    let moved_at = Hlc(r.get(4)?).physical_ms();
                    Ok(AmbiguousMovement {
                        id: r.get::<_, Uuid>(0)?.to_string(),
                        node: r.get::<_, Uuid>(1)?.to_string(),
                        kind: r.get(2)?,
                        quantity: r.get(3)?,
                        at_ms: moved_at,
                        offset_ms: moved_at - at,
                        document_number: r.get(5)?,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            if !count.movements.is_empty() {
                out.push(count);
                if out.len() == AMBIGUOUS_COUNTS_MAX {
                    break;
                }
            }
        }
        Ok(out)
    }
}
