//! Stocktakes (盘点单): counted while the storeroom keeps working, never
//! rejected because stock moved during the count.
//!
//! A stocktake is numbered when it starts (PD-SITE-000001) and has a scope
//! (locations, item categories, or everything). Counters append
//! *observations* — a scan adds one unit, a typed quantity replaces what the
//! scan said, an undo voids the counter's last observation, a batch-scanner
//! dump adds its lines — each stamped with this node's HLC at the moment the
//! shelf was seen and with the key's balance as this station knew it then.
//!
//! Per key, each counter's observations are summed; two counters who disagree
//! are flagged for a recount (never summed, never overwritten). A manager may
//! ask for a recount of any key: observations of earlier rounds then no longer
//! count. Keys in scope that nobody counted stay as they are unless the
//! manager closes the scope, which counts them as zero.
//!
//! Posting writes one `count` movement per counted key *at the HLC of the
//! key's last observation*, so an issue made after the shelf was counted (but
//! before posting) is subtracted from the count, and one made before it is
//! absorbed — on this node and on every node the movements later reach. The
//! variance table is frozen in `stocktake_results` for audit.

use crate::balance::{balance_of, record, BalanceKey, MovementRecord};
use crate::clock::Hlc;
use crate::error::{LedgerError, Result};
use crate::model::*;
use crate::posting::{
    acting_user, check_lot_text, check_note, check_same_expiry, item_ref, location_ref, lot_expiry, next_number,
    ItemRef, LINE_QUANTITY_MAX,
};
use crate::store::{stamp, Ledger};
use chrono::{NaiveDate, NaiveDateTime};
use rusqlite::{params, Connection, OptionalExtension};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr;
use uuid::Uuid;

#[cfg(feature = "ts")]
use ts_rs::TS;

/// Lines one batch-scanner file may hold.
pub const IMPORT_LINES_MAX: usize = 30_000;
/// Locations or categories one stocktake's scope may list.
pub const SCOPE_ENTRIES_MAX: usize = 200;
/// Other stations' movements this close to a count (either side) make the
/// count ambiguous: their clocks may disagree with ours by that much.
pub const AMBIGUITY_WINDOW_MS: i64 = 5 * 60 * 1000;
/// Imported scans with a device time get HLC counters from here up, above
/// the few a node uses within one millisecond, so they never equal a
/// movement's timestamp.
const IMPORT_HLC_COUNTER_BASE: i64 = 0x8000;
/// Scans shown as "last scans".
pub const LAST_SCANS_SHOWN: usize = 20;

/// Where a stocktake stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(TS))]
#[serde(rename_all = "snake_case")]
pub enum StocktakeStatus {
    /// Counters are counting.
    Counting,
    /// Counting is closed; only keys sent for a recount take scans.
    Review,
    /// Count movements written.
    Posted,
    /// Abandoned; nothing was written to stock.
    Cancelled,
}

impl StocktakeStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            StocktakeStatus::Counting => "counting",
            StocktakeStatus::Review => "review",
            StocktakeStatus::Posted => "posted",
            StocktakeStatus::Cancelled => "cancelled",
        }
    }
    fn parse(text: &str) -> StocktakeStatus {
        match text {
            "counting" => StocktakeStatus::Counting,
            "review" => StocktakeStatus::Review,
            "posted" => StocktakeStatus::Posted,
            _ => StocktakeStatus::Cancelled,
        }
    }
}

/// What `start_stocktake` needs.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct StocktakeRequest {
    /// The acting user's username.
    pub user: String,
    /// Location codes in scope; empty = every location.
    #[serde(default)]
    pub locations: Vec<String>,
    /// Item categories in scope; empty = every category.
    #[serde(default)]
    pub categories: Vec<String>,
    /// Counters never see expected quantities.
    #[serde(default)]
    pub blind: bool,
    /// A difference of more units than this asks for a recount.
    pub tolerance_quantity: Option<i64>,
    /// A difference worth more than this (CNY, decimal text) asks for a recount.
    pub tolerance_value: Option<String>,
    /// Free note.
    #[serde(default)]
    pub note: String,
}

/// A started stocktake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct StocktakeRef {
    /// Document UUID.
    pub id: String,
    /// Number, e.g. PD-S01-000001.
    pub number: String,
}

/// One observation to record.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct CountEntry {
    /// The counter's username.
    pub user: String,
    /// Item identifier (code, GTIN, HIBC …).
    pub item: String,
    /// Lot as scanned.
    pub lot: Option<String>,
    /// Serial as scanned.
    pub serial: Option<String>,
    /// Expiry as scanned (kept for a lot the ledger does not know yet).
    #[cfg_attr(feature = "ts", ts(type = "string | null"))]
    pub expiry: Option<NaiveDate>,
    /// Location code; may be left out when the stocktake covers one location.
    pub location: Option<String>,
    /// None: one scanned unit. Some(n): the counter typed n for this key.
    pub quantity: Option<i64>,
    /// The scanned text, kept for audit.
    #[serde(default)]
    pub barcode: String,
}

/// One observation as counters see it (never with an expected quantity).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct ObservationView {
    /// Observation UUID (for undo or a typed quantity).
    pub id: String,
    /// Item code.
    pub code: String,
    /// Item name (Chinese).
    pub name: String,
    /// Item name (English).
    pub name_en: String,
    /// Lot, or null.
    pub lot: Option<String>,
    /// Serial, or null.
    pub serial: Option<String>,
    /// Location code.
    pub location: String,
    /// Quantity of this observation.
    pub quantity: i64,
    /// scan, typed, import or undo.
    pub source: String,
    /// This counter's total for the key in the current round, after this observation.
    pub key_total: i64,
    /// Recount round (0 = first count).
    pub round: i64,
    /// Wall time the shelf was seen, ms.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub at_ms: i64,
}

/// Why a variance row needs attention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[cfg_attr(feature = "ts", derive(TS))]
#[serde(rename_all = "snake_case")]
pub enum VarianceFlag {
    /// In scope, counted by nobody.
    Uncounted,
    /// Two counters counted different quantities: recount.
    Disagreement,
    /// A recount was asked for and nobody has recounted yet.
    RecountPending,
    /// First count differs by more than the tolerance: recount requested.
    OverTolerance,
    /// Counted again after a recount request; the recount stands.
    Recounted,
    /// Other stations moved this key within the clock-skew window of the count.
    Ambiguous,
    /// Found on the shelf but not on the books here.
    NotOnBooks,
    /// A serial unit the books hold here, counted at another location (or
    /// under another lot) in this stocktake: posting counts it as zero here,
    /// so the unit is in one place, where it was found.
    FoundElsewhere,
    /// One serial unit counted at two keys (two locations or lots) in this
    /// stocktake: one of them is wrong; recount.
    SerialCountedTwice,
}

impl VarianceFlag {
    fn as_str(self) -> &'static str {
        match self {
            VarianceFlag::Uncounted => "uncounted",
            VarianceFlag::Disagreement => "disagreement",
            VarianceFlag::RecountPending => "recount_pending",
            VarianceFlag::OverTolerance => "over_tolerance",
            VarianceFlag::Recounted => "recounted",
            VarianceFlag::Ambiguous => "ambiguous",
            VarianceFlag::NotOnBooks => "not_on_books",
            VarianceFlag::FoundElsewhere => "found_elsewhere",
            VarianceFlag::SerialCountedTwice => "serial_counted_twice",
        }
    }
    /// Blocks posting until a recount (or, for over-tolerance, an explicit acceptance).
    fn blocks(self) -> bool {
        matches!(self, VarianceFlag::Disagreement | VarianceFlag::RecountPending | VarianceFlag::SerialCountedTwice)
    }
}

/// One key of the variance table.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct VarianceRow {
    /// Item code.
    pub code: String,
    /// Item name (Chinese).
    pub name: String,
    /// Item name (English).
    pub name_en: String,
    /// Specification.
    pub specification: String,
    /// Base unit.
    pub unit: String,
    /// Lot, or null.
    pub lot: Option<String>,
    /// Serial, or null.
    pub serial: Option<String>,
    /// Location code.
    pub location: String,
    /// What this station knew at count time (now, for uncounted keys).
    pub expected: i64,
    /// Counted quantity; null while uncounted, pending or disputed.
    pub counted: Option<i64>,
    /// counted − expected.
    pub difference: Option<i64>,
    /// Unit cost used for the value (the item's price), decimal text.
    pub unit_cost: Option<String>,
    /// difference × unit cost, decimal text.
    pub value: Option<String>,
    /// Each counter's total for the key in the current round.
    pub counters: BTreeMap<String, i64>,
    /// Recount round.
    pub round: i64,
    /// When the key was last seen, ms (its count takes effect then).
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub counted_at_ms: Option<i64>,
    /// What needs attention.
    pub flags: Vec<VarianceFlag>,
}

/// The review table of one stocktake.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct VarianceReport {
    /// Document UUID.
    pub id: String,
    /// Number.
    pub number: String,
    /// Status.
    pub status: StocktakeStatus,
    /// Blind mode.
    pub blind: bool,
    /// Keys in scope (on the books, plus any found on the shelf).
    pub keys_in_scope: usize,
    /// Keys with a count in their current round.
    pub keys_counted: usize,
    /// Keys that block posting until recounted.
    pub keys_needing_recount: usize,
    /// Keys whose first count is beyond the tolerance.
    pub keys_over_tolerance: usize,
    /// Sum of the rows' values, decimal text.
    pub total_value: String,
    /// Rows, largest absolute value (then difference) first.
    pub rows: Vec<VarianceRow>,
}

/// A stocktake as the counting screen shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct StocktakeView {
    /// Document UUID.
    pub id: String,
    /// Number.
    pub number: String,
    /// Status.
    pub status: StocktakeStatus,
    /// Blind mode.
    pub blind: bool,
    /// Location codes in scope (empty: all).
    pub locations: Vec<String>,
    /// Categories in scope (empty: all).
    pub categories: Vec<String>,
    /// Quantity tolerance.
    pub tolerance_quantity: Option<i64>,
    /// Value tolerance, decimal text.
    pub tolerance_value: Option<String>,
    /// Who started it.
    pub started_by: String,
    /// When, ms.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub started_at_ms: i64,
    /// Keys in scope.
    pub keys_in_scope: usize,
    /// Keys counted so far.
    pub keys_counted: usize,
    /// Observations recorded.
    pub observations: usize,
    /// The asking user's newest observations, newest first.
    pub last_scans: Vec<ObservationView>,
}

/// A stocktake in the list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct StocktakeSummary {
    /// Document UUID.
    pub id: String,
    /// Number.
    pub number: String,
    /// Status.
    pub status: StocktakeStatus,
    /// Blind mode.
    pub blind: bool,
    /// Location codes in scope (empty: all).
    pub locations: Vec<String>,
    /// When it started, ms.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub started_at_ms: i64,
}

/// How a manager posts.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct PostStocktakeRequest {
    /// The acting manager's username.
    pub user: String,
    /// The scope is closed: keys in scope that nobody counted are counted as zero
    /// (as of the end of counting, when `finish_counting` came first).
    #[serde(default)]
    pub close_scope: bool,
    /// Accept first counts beyond the tolerance without a recount.
    #[serde(default)]
    pub accept_over_tolerance: bool,
}

/// What posting wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct PostedStocktake {
    /// Document UUID.
    pub id: String,
    /// Number.
    pub number: String,
    /// Count movements written.
    pub movements: usize,
    /// Keys counted as zero because the scope was closed.
    pub zeroed: usize,
    /// Keys left as they were (uncounted, scope not closed).
    pub untouched: usize,
    /// Serial units counted at another location than the books had them:
    /// the keys they left, counted as zero.
    pub found_elsewhere: usize,
}

/// A key to send for a recount.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct RecountKey {
    /// Item identifier.
    pub item: String,
    /// Lot ('' or null: none).
    pub lot: Option<String>,
    /// Serial ('' or null: none).
    pub serial: Option<String>,
    /// Location code.
    pub location: String,
}

/// One line of a batch-scanner dump: the scanned text, an optional quantity
/// and an optional device time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportLine {
    /// 1-based line number in the file.
    pub line: usize,
    /// The scanned text.
    pub data: String,
    /// A quantity typed on the device.
    pub quantity: Option<i64>,
    /// The device's time of the scan, ms since the epoch (UTC).
    pub at_ms: Option<i64>,
}

/// What an import recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct ImportSummary {
    /// Observations recorded.
    pub observations: usize,
    /// Units they add up to.
    pub units: i64,
}

/// Clock ticks a stocktake reserves when its counting ends, one for each
/// uncounted key a closed scope zeroes as of that moment (2^20: 16 ms of HLC).
pub const ZERO_COUNT_SLOTS: i64 = 1 << 20;

/// A counted key: item, lot, serial, location (status is always available).
type CountKey = (Uuid, String, String, Uuid);

#[derive(Debug, Clone)]
struct Header {
    id: Uuid,
    number: String,
    status: StocktakeStatus,
    blind: bool,
    started_hlc: i64,
    started_by: String,
    tolerance_quantity: Option<i64>,
    tolerance_value: Option<Decimal>,
    categories: Vec<String>,
    all_locations: bool,
    locations: Vec<(Uuid, String)>,
    /// When counting ended (`finish_counting`), if it did before posting.
    counting_ended_hlc: Option<i64>,
}

impl Header {
    fn covers_location(&self, location: Uuid) -> bool {
        self.all_locations || self.locations.iter().any(|(id, _)| *id == location)
    }
    fn covers_category(&self, category: &str) -> bool {
        self.categories.is_empty() || self.categories.iter().any(|c| c == category)
    }
    /// In review only keys sent for a recount (round 1 and later) take counts.
    fn refuse_in_review(&self, round: i64) -> Result<()> {
        if self.status == StocktakeStatus::Review && round == 0 {
            return Err(LedgerError::StocktakeClosed { number: self.number.clone(), status: "review" });
        }
        Ok(())
    }
    fn refuse_unless_open(&self) -> Result<()> {
        match self.status {
            StocktakeStatus::Counting | StocktakeStatus::Review => Ok(()),
            other => Err(LedgerError::StocktakeClosed { number: self.number.clone(), status: other.as_str() }),
        }
    }
}

fn load_header(conn: &Connection, text: &str) -> Result<Header> {
    let row = conn
        .prepare_cached(
            "SELECT d.id, d.number, s.status, d.status, s.blind, s.started_hlc, u.username, s.tolerance_quantity,
                    s.tolerance_value, s.categories, s.all_locations, s.counting_ended_hlc
             FROM stocktakes s JOIN documents d ON d.id = s.document_id JOIN users u ON u.id = d.created_by
             WHERE d.number = ?1 OR d.id = ?2",
        )?
        .query_row(params![text, Uuid::parse_str(text.trim()).ok()], |r| {
            Ok((
                r.get::<_, Uuid>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, bool>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, Option<i64>>(7)?,
                r.get::<_, Option<String>>(8)?,
                r.get::<_, String>(9)?,
                r.get::<_, bool>(10)?,
                r.get::<_, Option<i64>>(11)?,
            ))
        })
        .optional()?
        .ok_or_else(|| LedgerError::UnknownDocument(text.to_string()))?;
    let (
        id,
        number,
        status,
        document_status,
        blind,
        started_hlc,
        started_by,
        tolerance_quantity,
        value,
        cats,
        all,
        counting_ended_hlc,
    ) = row;
    let mut locations = Vec::new();
    let mut stmt = conn.prepare_cached(
        "SELECT l.id, l.code FROM stocktake_locations s JOIN locations l ON l.id = s.location_id
         WHERE s.document_id = ?1 ORDER BY l.code",
    )?;
    for row in stmt.query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))? {
        locations.push(row?);
    }
    // A draft cancelled through the generic document path is cancelled here too.
    let status =
        if document_status == "cancelled" { StocktakeStatus::Cancelled } else { StocktakeStatus::parse(&status) };
    Ok(Header {
        id,
        number,
        status,
        blind,
        started_hlc,
        started_by,
        tolerance_quantity,
        tolerance_value: value.and_then(|v| Decimal::from_str(&v).ok()),
        categories: cats.split('\n').filter(|c| !c.is_empty()).map(str::to_string).collect(),
        all_locations: all,
        locations,
        counting_ended_hlc,
    })
}

/// The round a key is counted in now: one more than its last recount request.
fn current_round(conn: &Connection, doc: Uuid, key: &CountKey) -> Result<i64> {
    Ok(conn
        .prepare_cached(
            "SELECT coalesce(max(round), 0) FROM stocktake_recounts
             WHERE document_id = ?1 AND item_id = ?2 AND lot = ?3 AND serial = ?4 AND location_id = ?5",
        )?
        .query_row(params![doc, key.0, key.1, key.2, key.3], |r| r.get(0))?)
}

/// One counter's total for a key in a round: their observations that nothing voided.
fn counter_total(conn: &Connection, doc: Uuid, key: &CountKey, round: i64, counter: Uuid) -> Result<(i64, i64)> {
    Ok(conn
        .prepare_cached(
            "SELECT count(*), coalesce(sum(o.quantity), 0) FROM stocktake_observations o
             WHERE o.document_id = ?1 AND o.item_id = ?2 AND o.lot = ?3 AND o.serial = ?4 AND o.location_id = ?5
               AND o.round = ?6 AND o.counter_id = ?7 AND o.source <> 'undo'
               AND NOT EXISTS (SELECT 1 FROM stocktake_observations v WHERE v.voids = o.id)",
        )?
        .query_row(params![doc, key.0, key.1, key.2, key.3, round, counter], |r| Ok((r.get(0)?, r.get(1)?)))?)
}

/// What zeroing an uncounted key of a closed scope as of `at` (the end of
/// counting, or a tick reserved just after it) does, from the key's books:
/// `None` when there is nothing to write off — nothing was on the books then
/// (the key was first stocked later, or stood at zero) or a later count
/// already says what is on the shelf. Otherwise (books then, count): stock
/// that left since proves it was there, so the count is what left, at least 0.
fn zero_as_of(conn: &Connection, key_id: i64, at: i64, node: Uuid) -> Result<Option<(i64, i64)>> {
    let (now, after, counted_after): (i64, i64, bool) = conn
        .prepare_cached(
            "SELECT b.quantity,
                    (SELECT coalesce(sum(quantity), 0) FROM movements
                     WHERE key_id = ?1 AND kind <> 'count' AND (hlc, node_id) > (?2, ?3)),
                    EXISTS(SELECT 1 FROM movements WHERE key_id = ?1 AND kind = 'count' AND (hlc, node_id) > (?2, ?3))
             FROM balances b WHERE b.key_id = ?1",
        )?
        .query_row(params![key_id, at, node], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    let then = now - after;
    if counted_after || then == 0 {
        return Ok(None);
    }
    Ok(Some((then, (-after).max(0))))
}

/// The key's balance as of `hlc` by this station's movements: the newest
/// count at or before it plus everything else after that count.
fn balance_as_of(conn: &Connection, key: &BalanceKey, hlc: i64) -> Result<i64> {
    let key_id: Option<i64> = conn
        .prepare_cached(
            "SELECT key_id FROM balances WHERE item_id = ?1 AND lot = ?2 AND serial = ?3 AND location_id = ?4
             AND status = ?5",
        )?
        .query_row(params![key.item_id, key.lot, key.serial, key.location_id, key.status.as_str()], |r| r.get(0))
        .optional()?;
    let Some(key_id) = key_id else { return Ok(0) };
    let mut stmt = conn.prepare_cached(
        "SELECT kind, quantity FROM movements WHERE key_id = ?1 AND hlc <= ?2 ORDER BY hlc DESC, node_id DESC",
    )?;
    let mut rows = stmt.query(params![key_id, hlc])?;
    let mut sum = 0;
    while let Some(row) = rows.next()? {
        let quantity: i64 = row.get(1)?;
        if row.get_ref(0)?.as_str().map_err(rusqlite::Error::from)? == "count" {
            return Ok(sum + quantity);
        }
        sum += quantity;
    }
    Ok(sum)
}

/// The first timestamp from `candidate` up that no observation and no movement
/// of this node carries (imports of the same minute never share one).
fn free_past_hlc(conn: &Connection, node: Uuid, candidate: i64) -> Result<i64> {
    let mut hlc = candidate;
    loop {
        let taken: bool = conn
            .prepare_cached(
                "SELECT EXISTS(SELECT 1 FROM stocktake_observations WHERE hlc = ?1 AND node_id = ?2)
                     OR EXISTS(SELECT 1 FROM movements WHERE hlc = ?1 AND node_id = ?2)",
            )?
            .query_row(params![hlc, node], |r| r.get(0))?;
        if !taken {
            return Ok(hlc);
        }
        hlc += 1;
    }
}

struct Resolved {
    item: ItemRef,
    key: CountKey,
    expires_on: Option<NaiveDate>,
}

/// Finds what an entry names and checks it belongs to the stocktake.
fn resolve(conn: &Connection, header: &Header, entry: &CountEntry) -> Result<Resolved> {
    let item = item_ref(conn, &entry.item)?;
    let category: String =
        conn.prepare_cached("SELECT category FROM items WHERE id = ?1")?.query_row([item.id], |r| r.get(0))?;
    let location = match entry.location.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        Some(code) => location_ref(conn, code)?.id,
        None if header.locations.len() == 1 => header.locations[0].0,
        None => {
            return Err(LedgerError::InvalidInput {
                field: "location",
                reason: "this stocktake covers several locations: choose the one being counted".into(),
            })
        }
    };
    let location_code: String =
        conn.prepare_cached("SELECT code FROM locations WHERE id = ?1")?.query_row([location], |r| r.get(0))?;
    if !header.covers_location(location) || !header.covers_category(&category) {
        return Err(LedgerError::OutOfStocktakeScope {
            number: header.number.clone(),
            item: item.code.clone(),
            location: location_code,
        });
    }
    let lot = entry.lot.as_deref().map(str::trim).unwrap_or_default().to_string();
    check_lot_text(&lot)?;
    let serial = entry.serial.as_deref().map(str::trim).unwrap_or_default().to_string();
    if item.serialized && serial.is_empty() {
        return Err(LedgerError::SerialRequired { item: item.code.clone() });
    }
    if !item.serialized && !serial.is_empty() {
        return Err(LedgerError::SerialNotTracked { item: item.code.clone() });
    }
    let expires_on = if lot.is_empty() {
        None
    } else {
        match lot_expiry(conn, item.id, &lot)? {
            Some(existing) => {
                check_same_expiry(&lot, existing, entry.expiry)?;
                existing.or(entry.expiry)
            }
            None => entry.expiry,
        }
    };
    let key = (item.id, lot, serial, location);
    refuse_quarantined(conn, &key, &item.code)?;
    Ok(Resolved { key, item, expires_on })
}

/// A key with quarantined stock is not counted: the count would set only its
/// available part and the quarantined units would be counted twice. The
/// excursion (or recall) that quarantined it is resolved first.
fn refuse_quarantined(conn: &Connection, key: &CountKey, item: &str) -> Result<()> {
    let quarantined: i64 = conn
        .prepare_cached(
            "SELECT coalesce(sum(quantity), 0) FROM balances WHERE item_id = ?1 AND lot = ?2 AND serial = ?3
             AND location_id = ?4 AND status = 'quarantined'",
        )?
        .query_row(params![key.0, key.1, key.2, key.3], |r| r.get(0))?;
    if quarantined > 0 {
        let location: String =
            conn.prepare_cached("SELECT code FROM locations WHERE id = ?1")?.query_row([key.3], |r| r.get(0))?;
        return Err(LedgerError::KeyQuarantined {
            item: item.to_string(),
            lot: key.1.clone(),
            location,
            quantity: quarantined,
        });
    }
    Ok(())
}

fn balance_key(key: &CountKey) -> BalanceKey {
    BalanceKey {
        item_id: key.0,
        lot: key.1.clone(),
        serial: key.2.clone(),
        location_id: key.3,
        status: StockStatus::Available,
    }
}

/// The state of one key after folding the stocktake's observations.
#[derive(Debug, Clone, Default)]
struct KeyState {
    key_id: Option<i64>,
    on_books: i64,
    in_scope_on_books: bool,
    expires_on: Option<String>,
    round: i64,
    /// Counter → (effective observations, total).
    counters: BTreeMap<Uuid, (i64, i64)>,
    last_hlc: Option<i64>,
    last_expected: Option<i64>,
    last_counter: Option<Uuid>,
    last_at_ms: Option<i64>,
    /// Uncounted, and the books had here a serial unit this stocktake saw elsewhere.
    found: Option<Found>,
    /// Its serial unit was counted at another key of this stocktake too.
    serial_counted_twice: bool,
}

/// A serial unit seen elsewhere, for a key the books had it at.
#[derive(Debug, Clone, Copy)]
struct Found {
    /// The HLC of the sighting (the last observation of the key it was counted at).
    hlc: i64,
    /// The key's books as of then.
    then: i64,
    /// What the zero count as of then will be (more than 0 only when units left the key since).
    count: i64,
}

struct ItemFacts {
    code: String,
    name: String,
    name_en: String,
    specification: String,
    unit: String,
    category: String,
    unit_price: Option<String>,
}

/// Folds the scope and the observations into one state per key.
fn fold(conn: &Connection, header: &Header) -> Result<(BTreeMap<CountKey, KeyState>, HashMap<Uuid, ItemFacts>)> {
    let mut items = HashMap::new();
    let mut stmt =
        conn.prepare_cached("SELECT id, code, name, name_en, specification, unit, category, unit_price FROM items")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        items.insert(
            r.get::<_, Uuid>(0)?,
            ItemFacts {
                code: r.get(1)?,
                name: r.get(2)?,
                name_en: r.get(3)?,
                specification: r.get(4)?,
                unit: r.get(5)?,
                category: r.get(6)?,
                unit_price: r.get(7)?,
            },
        );
    }
    let mut keys: BTreeMap<CountKey, KeyState> = BTreeMap::new();
    let mut on_books = |r: &rusqlite::Row<'_>| -> rusqlite::Result<()> {
        let item: Uuid = r.get(1)?;
        if !items.get(&item).is_some_and(|i| header.covers_category(&i.category)) {
            return Ok(());
        }
        let key = (item, r.get(2)?, r.get(3)?, r.get(4)?);
        keys.insert(
            key,
            KeyState {
                key_id: Some(r.get(0)?),
                on_books: r.get(5)?,
                in_scope_on_books: true,
                expires_on: r.get(6)?,
                ..KeyState::default()
            },
        );
        Ok(())
    };
    const BOOKS: &str = "SELECT key_id, item_id, lot, serial, location_id, quantity, expires_on FROM balances
                         WHERE status = 'available' AND quantity <> 0";
    if header.all_locations {
        let mut stmt = conn.prepare_cached(BOOKS)?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            on_books(r)?;
        }
    } else {
        let mut stmt = conn.prepare_cached(&format!("{BOOKS} AND location_id = ?1"))?;
        for (location, _) in &header.locations {
            let mut rows = stmt.query([location])?;
            while let Some(r) = rows.next()? {
                on_books(r)?;
            }
        }
    }
    let mut rounds: HashMap<CountKey, i64> = HashMap::new();
    let mut stmt = conn.prepare_cached(
        "SELECT item_id, lot, serial, location_id, max(round) FROM stocktake_recounts WHERE document_id = ?1
         GROUP BY item_id, lot, serial, location_id",
    )?;
    let mut rows = stmt.query([header.id])?;
    while let Some(r) = rows.next()? {
        rounds.insert((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?), r.get(4)?);
    }
    for (key, round) in &rounds {
        keys.entry(key.clone()).or_default().round = *round;
    }
    struct Observation {
        id: Uuid,
        key: CountKey,
        expires_on: Option<String>,
        quantity: i64,
        round: i64,
        counter: Uuid,
        hlc: i64,
        at_ms: i64,
        undo: bool,
        expected: i64,
    }
    let mut observations = Vec::new();
    let mut voided = HashSet::new();
    let mut stmt = conn.prepare_cached(
        "SELECT id, item_id, lot, serial, location_id, expires_on, quantity, round, counter_id, hlc, recorded_at_ms,
                source, voids, expected_quantity
         FROM stocktake_observations WHERE document_id = ?1",
    )?;
    let mut rows = stmt.query([header.id])?;
    while let Some(r) = rows.next()? {
        if let Some(v) = r.get::<_, Option<Uuid>>(12)? {
            voided.insert(v);
        }
        observations.push(Observation {
            id: r.get(0)?,
            key: (r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?),
            expires_on: r.get(5)?,
            quantity: r.get(6)?,
            round: r.get(7)?,
            counter: r.get(8)?,
            hlc: r.get(9)?,
            at_ms: r.get(10)?,
            undo: r.get_ref(11)?.as_str().map_err(rusqlite::Error::from)? == "undo",
            expected: r.get(13)?,
        });
    }
    for o in observations {
        if o.undo || voided.contains(&o.id) {
            continue;
        }
        let state = keys.entry(o.key).or_default();
        if o.round != state.round {
            continue;
        }
        let entry = state.counters.entry(o.counter).or_insert((0, 0));
        entry.0 += 1;
        entry.1 += o.quantity;
        if state.last_hlc.is_none_or(|h| o.hlc > h) {
            state.last_hlc = Some(o.hlc);
            state.last_expected = Some(o.expected);
            state.last_counter = Some(o.counter);
            state.last_at_ms = Some(o.at_ms);
        }
        if state.expires_on.is_none() {
            state.expires_on = o.expires_on;
        }
    }
    // A serial unit is in one place: counted at two keys, one count is wrong.
    let mut seen: HashMap<(Uuid, String), usize> = HashMap::new();
    for (key, state) in &keys {
        if !key.2.is_empty() && state.counters.values().any(|(_, total)| *total > 0) {
            *seen.entry((key.0, key.2.clone())).or_default() += 1;
        }
    }
    for (key, state) in keys.iter_mut() {
        state.serial_counted_twice = !key.2.is_empty()
            && state.counters.values().any(|(_, total)| *total > 0)
            && seen.get(&(key.0, key.2.clone())).is_some_and(|n| *n > 1);
    }
    Ok((keys, items))
}

/// Serial units counted in this stocktake that the books had (available) at
/// another key too when they were seen — another location, in the scope or
/// not, or another lot: the unit was where it was counted, so each such key
/// that nobody counted (and none is to recount) is marked to be counted as
/// zero as of the sighting (`zero_as_of`: what moved there since stays, and a
/// later count there, such as another stocktake's, stands). Keys outside the
/// scope are added. One unit, one place, the latest sighting wins whichever
/// stocktake posts first. Returns the keys added.
fn mark_found_elsewhere(conn: &Connection, node: Uuid, keys: &mut BTreeMap<CountKey, KeyState>) -> Result<usize> {
    let mut added = 0;
    let sightings: Vec<(CountKey, i64)> = keys
        .iter()
        .filter(|(key, state)| !key.2.is_empty() && state.counters.values().any(|(_, total)| *total > 0))
        .filter_map(|(key, state)| state.last_hlc.map(|hlc| (key.clone(), hlc)))
        .collect();
    let mut stmt = conn.prepare_cached(
        "SELECT key_id, lot, location_id, quantity, expires_on FROM balances
         WHERE item_id = ?1 AND serial = ?2 AND status = 'available'",
    )?;
    for (seen, hlc) in sightings {
        let mut rows = stmt.query(params![seen.0, seen.2])?;
        while let Some(r) = rows.next()? {
            let key: CountKey = (seen.0, r.get(1)?, seen.2.clone(), r.get(2)?);
            let key_id: i64 = r.get(0)?;
            if key == seen || keys.get(&key).is_some_and(|s| !s.counters.is_empty() || s.round > 0) {
                continue;
            }
            let Some((then, count)) = zero_as_of(conn, key_id, hlc, node)? else { continue };
            let state = match keys.entry(key) {
                std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::btree_map::Entry::Vacant(e) => {
                    added += 1;
                    e.insert(KeyState {
                        key_id: Some(key_id),
                        on_books: r.get(3)?,
                        expires_on: r.get(4)?,
                        ..KeyState::default()
                    })
                }
            };
            // Seen in two places: the later sighting decides.
            if state.found.is_none_or(|f| hlc > f.hlc) {
                state.found = Some(Found { hlc, then, count });
            }
        }
    }
    Ok(added)
}

/// A key's counted quantity and flags.
struct Judged {
    counted: Option<i64>,
    expected: i64,
    flags: Vec<VarianceFlag>,
    value: Option<Decimal>,
    unit_cost: Option<Decimal>,
}

fn judge(conn: &Connection, header: &Header, node: Uuid, state: &KeyState, unit_price: Option<&str>) -> Result<Judged> {
    let unit_cost = unit_price.and_then(|p| Decimal::from_str(p).ok());
    if let Some(found) = state.found {
        // The unit moved, it is not missing: no tolerance applies.
        return Ok(Judged {
            counted: Some(found.count),
            expected: found.then,
            flags: vec![VarianceFlag::FoundElsewhere],
            value: unit_cost.map(|c| c * Decimal::from(found.count - found.then)),
            unit_cost,
        });
    }
    let mut flags = Vec::new();
    let totals: HashSet<i64> = state.counters.values().map(|(_, total)| *total).collect();
    let counted = match totals.len() {
        0 => {
            flags.push(if state.round > 0 { VarianceFlag::RecountPending } else { VarianceFlag::Uncounted });
            None
        }
        1 => totals.into_iter().next(),
        _ => {
            flags.push(VarianceFlag::Disagreement);
            None
        }
    };
    if state.serial_counted_twice {
        flags.push(VarianceFlag::SerialCountedTwice);
    }
    let expected = state.last_expected.unwrap_or(state.on_books);
    if counted.is_some() && !state.in_scope_on_books && expected == 0 {
        flags.push(VarianceFlag::NotOnBooks);
    }
    let difference = counted.map(|c| c - expected);
    let value = difference.and_then(|d| unit_cost.map(|c| c * Decimal::from(d)));
    if let Some(d) = difference.filter(|d| *d != 0) {
        let beyond = header.tolerance_quantity.is_some_and(|t| d.abs() > t)
            || header.tolerance_value.zip(value).is_some_and(|(t, v)| v.abs() > t);
        if beyond {
            flags.push(if state.round == 0 { VarianceFlag::OverTolerance } else { VarianceFlag::Recounted });
        }
    }
    if let (Some(key_id), Some(hlc)) = (state.key_id, state.last_hlc) {
        let window = AMBIGUITY_WINDOW_MS << crate::clock::HLC_COUNTER_BITS;
        let near: bool = conn
            .prepare_cached(
                "SELECT EXISTS(SELECT 1 FROM movements WHERE key_id = ?1 AND hlc BETWEEN ?2 AND ?3 AND node_id <> ?4)",
            )?
            .query_row(params![key_id, hlc - window, hlc + window, node], |r| r.get(0))?;
        if near {
            flags.push(VarianceFlag::Ambiguous);
        }
    }
    Ok(Judged { counted, expected, flags, value, unit_cost })
}

impl Ledger {
    /// Starts a stocktake: numbers it, records its scope and settings.
    pub fn start_stocktake(&mut self, request: &StocktakeRequest) -> Result<StocktakeRef> {
        let node = self.node()?.clone();
        check_note("note", &request.note)?;
        if request.locations.len() > SCOPE_ENTRIES_MAX || request.categories.len() > SCOPE_ENTRIES_MAX {
            return Err(LedgerError::InvalidInput {
                field: "scope",
                reason: format!("at most {SCOPE_ENTRIES_MAX} locations or categories"),
            });
        }
        if request.tolerance_quantity.is_some_and(|t| !(0..=LINE_QUANTITY_MAX).contains(&t)) {
            return Err(LedgerError::InvalidInput {
                field: "tolerance_quantity",
                reason: format!("between 0 and {LINE_QUANTITY_MAX}"),
            });
        }
        let tolerance_value = match request.tolerance_value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            None => None,
            Some(text) => match Decimal::from_str(text) {
                Ok(v) if v >= Decimal::ZERO => Some(v.normalize().to_string()),
                _ => {
                    return Err(LedgerError::InvalidInput {
                        field: "tolerance_value",
                        reason: format!("'{text}' is not an amount such as 500 or 99.50"),
                    })
                }
            },
        };
        let categories: Vec<&str> = request.categories.iter().map(|c| c.trim()).filter(|c| !c.is_empty()).collect();
        if categories.iter().any(|c| c.contains('\n')) {
            return Err(LedgerError::InvalidInput { field: "categories", reason: "one line each".into() });
        }
        let (tx, mut st) = self.split()?;
        let (user_id, _) = acting_user(&tx, &request.user, Action::Count)?;
        let mut locations = Vec::new();
        for code in request.locations.iter().map(|c| c.trim()).filter(|c| !c.is_empty()) {
            let location = location_ref(&tx, code)?;
            if !locations.contains(&location.id) {
                locations.push(location.id);
            }
        }
        let number = next_number(&tx, DocumentKind::Stocktake, &node.site_code)?;
        let (hlc, now) = st.stamp();
        let id = st.id(now);
        tx.execute(
            "INSERT INTO documents (id, kind, number, status, node_id, created_by, created_at_ms, location_id, note)
             VALUES (?1, 'stocktake', ?2, 'draft', ?3, ?4, ?5, ?6, ?7)",
            params![id, number, node.id, user_id, now, locations.first(), request.note.trim()],
        )?;
        tx.execute(
            "INSERT INTO stocktakes (document_id, status, blind, started_hlc, tolerance_quantity, tolerance_value,
                categories, all_locations)
             VALUES (?1, 'counting', ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                id,
                request.blind,
                hlc.0,
                request.tolerance_quantity,
                tolerance_value,
                categories.join("\n"),
                locations.is_empty()
            ],
        )?;
        for location in &locations {
            tx.execute(
                "INSERT INTO stocktake_locations (document_id, location_id) VALUES (?1, ?2)",
                params![id, location],
            )?;
        }
        tx.commit()?;
        Ok(StocktakeRef { id: id.to_string(), number })
    }

    /// Records one observation in its own durable transaction.
    pub fn record_count(&mut self, stocktake: &str, entry: &CountEntry) -> Result<ObservationView> {
        let node = self.node()?.clone();
        let (tx, mut st) = self.split()?;
        let header = load_header(&tx, stocktake)?;
        header.refuse_unless_open()?;
        let (user_id, _) = acting_user(&tx, &entry.user, Action::Count)?;
        let resolved = resolve(&tx, &header, entry)?;
        let round = current_round(&tx, header.id, &resolved.key)?;
        header.refuse_in_review(round)?;
        let (source, quantity) = match entry.quantity {
            None => ("scan", 1),
            Some(q) if (0..=LINE_QUANTITY_MAX).contains(&q) => ("typed", q),
            Some(q) if q < 0 => {
                return Err(LedgerError::InvalidInput {
                    field: "quantity",
                    reason: "a count cannot be negative".into(),
                })
            }
            Some(q) => return Err(LedgerError::QuantityTooLarge { quantity: q, max: LINE_QUANTITY_MAX }),
        };
        if resolved.item.serialized {
            if quantity > 1 {
                return Err(LedgerError::SerialQuantityNotOne { serial: resolved.key.2.clone(), quantity });
            }
            let (effective, total) = counter_total(&tx, header.id, &resolved.key, round, user_id)?;
            if effective > 0 && total > 0 && quantity > 0 {
                return Err(LedgerError::SerialAlreadyCounted {
                    item: resolved.item.code.clone(),
                    serial: resolved.key.2.clone(),
                });
            }
        }
        let expected = balance_of(&tx, &balance_key(&resolved.key))?;
        let (hlc, now) = st.stamp();
        let id = st.id(now);
        insert_observation(
            &tx,
            &NewObservation {
                id,
                doc: header.id,
                key: &resolved.key,
                expires_on: resolved.expires_on,
                quantity,
                round,
                counter: user_id,
                node: node.id,
                hlc: hlc.0,
                at_ms: now,
                source,
                barcode: &entry.barcode,
                voids: None,
                expected,
            },
        )?;
        let view = observation_view(&tx, header.id, id, user_id)?;
        tx.commit()?;
        Ok(view)
    }

    /// The counter typed the quantity for what they just scanned: it replaces
    /// that observation's quantity (a typed 0 means "none here").
    pub fn set_count_quantity(
        &mut self,
        stocktake: &str,
        user: &str,
        observation: &str,
        quantity: i64,
    ) -> Result<ObservationView> {
        let node = self.node()?.clone();
        if !(0..=LINE_QUANTITY_MAX).contains(&quantity) {
            return Err(LedgerError::InvalidInput {
                field: "quantity",
                reason: format!("between 0 and {LINE_QUANTITY_MAX}"),
            });
        }
        let (tx, mut st) = self.split()?;
        let header = load_header(&tx, stocktake)?;
        header.refuse_unless_open()?;
        let (user_id, _) = acting_user(&tx, user, Action::Count)?;
        let target = effective_observation(&tx, header.id, observation)?
            .filter(|t| t.counter == user_id)
            .ok_or_else(|| LedgerError::UnknownObservation(observation.to_string()))?;
        header.refuse_in_review(target.round)?;
        let serialized: bool =
            tx.prepare_cached("SELECT serialized FROM items WHERE id = ?1")?.query_row([target.key.0], |r| r.get(0))?;
        if serialized && quantity > 1 {
            return Err(LedgerError::SerialQuantityNotOne { serial: target.key.2.clone(), quantity });
        }
        let (hlc, now) = st.stamp();
        let id = st.id(now);
        insert_observation(
            &tx,
            &NewObservation {
                id,
                doc: header.id,
                key: &target.key,
                expires_on: target.expires_on,
                quantity,
                round: target.round,
                counter: user_id,
                node: node.id,
                hlc: hlc.0,
                at_ms: now,
                source: "typed",
                barcode: "",
                voids: Some(target.id),
                expected: target.expected,
            },
        )?;
        let view = observation_view(&tx, header.id, id, user_id)?;
        tx.commit()?;
        Ok(view)
    }

    /// Voids the user's newest observation in this stocktake that still
    /// counts; returns it as it was (None: nothing to undo).
    pub fn undo_count(&mut self, stocktake: &str, user: &str) -> Result<Option<ObservationView>> {
        let node = self.node()?.clone();
        let (tx, mut st) = self.split()?;
        let header = load_header(&tx, stocktake)?;
        header.refuse_unless_open()?;
        let (user_id, _) = acting_user(&tx, user, Action::Count)?;
        let newest: Option<Uuid> = tx
            .prepare_cached(
                "SELECT o.id FROM stocktake_observations o
                 WHERE o.document_id = ?1 AND o.counter_id = ?2 AND o.source <> 'undo'
                   AND NOT EXISTS (SELECT 1 FROM stocktake_observations v WHERE v.voids = o.id)
                 ORDER BY o.recorded_at_ms DESC, o.hlc DESC LIMIT 1",
            )?
            .query_row(params![header.id, user_id], |r| r.get(0))
            .optional()?;
        let Some(newest) = newest else { return Ok(None) };
        let before = observation_view(&tx, header.id, newest, user_id)?;
        let target = effective_observation(&tx, header.id, &newest.to_string())?
            .ok_or_else(|| LedgerError::UnknownObservation(newest.to_string()))?;
        header.refuse_in_review(target.round)?;
        let (hlc, now) = st.stamp();
        let id = st.id(now);
        insert_observation(
            &tx,
            &NewObservation {
                id,
                doc: header.id,
                key: &target.key,
                expires_on: target.expires_on,
                quantity: 0,
                round: target.round,
                counter: user_id,
                node: node.id,
                hlc: hlc.0,
                at_ms: now,
                source: "undo",
                barcode: "",
                voids: Some(target.id),
                expected: target.expected,
            },
        )?;
        tx.commit()?;
        Ok(Some(before))
    }

    /// Records a batch-scanner dump, all lines or none. `read` turns each
    /// line's text into an entry (the shell reads barcodes); a line's device
    /// time makes the count take effect then, and must lie between the
    /// stocktake's start and now (give or take the clock-skew window).
    pub fn import_counts(
        &mut self,
        stocktake: &str,
        user: &str,
        lines: &[ImportLine],
        read: &mut dyn FnMut(&ImportLine) -> Result<CountEntry>,
    ) -> Result<ImportSummary> {
        let node = self.node()?.clone();
        if lines.is_empty() {
            return Err(LedgerError::EmptyDocument);
        }
        if lines.len() > IMPORT_LINES_MAX {
            return Err(LedgerError::TooManyLines { count: lines.len(), max: IMPORT_LINES_MAX });
        }
        let (tx, mut st) = self.split()?;
        let header = load_header(&tx, stocktake)?;
        header.refuse_unless_open()?;
        let (user_id, _) = acting_user(&tx, user, Action::Count)?;
        let now_ms = st.now_ms();
        let earliest = Hlc(header.started_hlc).physical_ms() - AMBIGUITY_WINDOW_MS;
        let at_line = |line: usize, error: LedgerError| LedgerError::ImportLine { line, error: Box::new(error) };
        let mut summary = ImportSummary { observations: 0, units: 0 };
        // Serial units counted so far by this counter, this file included.
        let mut serial_totals: HashMap<(CountKey, i64), i64> = HashMap::new();
        for line in lines {
            let mut entry = read(line).map_err(|e| at_line(line.line, e))?;
            entry.user = user.to_string();
            entry.quantity = line.quantity;
            if entry.barcode.is_empty() {
                entry.barcode = line.data.clone();
            }
            let resolved = resolve(&tx, &header, &entry).map_err(|e| at_line(line.line, e))?;
            let round = current_round(&tx, header.id, &resolved.key)?;
            header.refuse_in_review(round).map_err(|e| at_line(line.line, e))?;
            let quantity = line.quantity.unwrap_or(1);
            if !(0..=LINE_QUANTITY_MAX).contains(&quantity) || (resolved.item.serialized && quantity > 1) {
                return Err(at_line(
                    line.line,
                    LedgerError::InvalidInput {
                        field: "quantity",
                        reason: format!("{quantity} cannot be counted for {}", resolved.item.code),
                    },
                ));
            }
            if resolved.item.serialized {
                let total = match serial_totals.entry((resolved.key.clone(), round)) {
                    std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                    std::collections::hash_map::Entry::Vacant(e) => {
                        e.insert(counter_total(&tx, header.id, &resolved.key, round, user_id)?.1)
                    }
                };
                if *total + quantity > 1 {
                    return Err(at_line(
                        line.line,
                        LedgerError::SerialAlreadyCounted {
                            item: resolved.item.code.clone(),
                            serial: resolved.key.2.clone(),
                        },
                    ));
                }
                *total += quantity;
            }
            let (hlc, expected) = match line.at_ms {
                Some(at) if at < earliest || at > now_ms + AMBIGUITY_WINDOW_MS => {
                    return Err(at_line(
                        line.line,
                        LedgerError::ScanTimeOutsideStocktake { number: header.number.clone() },
                    ))
                }
                // A device time in the past: the count takes effect then, at a
                // timestamp no movement or observation of this node has.
                Some(at) if at < now_ms => {
                    let hlc = free_past_hlc(&tx, node.id, Hlc::from_physical_ms(at).0 + IMPORT_HLC_COUNTER_BASE)?;
                    (hlc, balance_as_of(&tx, &balance_key(&resolved.key), hlc)?)
                }
                // Now (or a device clock a little ahead): stamped now, never in the future.
                _ => (st.stamp().0 .0, balance_of(&tx, &balance_key(&resolved.key))?),
            };
            let id = st.id(now_ms);
            insert_observation(
                &tx,
                &NewObservation {
                    id,
                    doc: header.id,
                    key: &resolved.key,
                    expires_on: resolved.expires_on,
                    quantity,
                    round,
                    counter: user_id,
                    node: node.id,
                    hlc,
                    at_ms: line.at_ms.unwrap_or(now_ms),
                    source: "import",
                    barcode: &entry.barcode,
                    voids: None,
                    expected,
                },
            )?;
            summary.observations += 1;
            summary.units += quantity;
        }
        tx.commit()?;
        Ok(summary)
    }

    /// The counting screen's view: scope, progress and the user's last scans.
    pub fn stocktake(&self, stocktake: &str, user: &str) -> Result<StocktakeView> {
        let header = load_header(&self.conn, stocktake)?;
        let (user_id, _) = acting_user(&self.conn, user, Action::Count)?;
        let (keys, _) = fold(&self.conn, &header)?;
        let keys_counted = keys.values().filter(|k| !k.counters.is_empty()).count();
        let observations: i64 = self
            .conn
            .prepare_cached("SELECT count(*) FROM stocktake_observations WHERE document_id = ?1")?
            .query_row([header.id], |r| r.get(0))?;
        let mut last_scans = Vec::new();
        let ids: Vec<Uuid> = self
            .conn
            .prepare_cached(
                "SELECT id FROM stocktake_observations WHERE document_id = ?1 AND counter_id = ?2 AND source <> 'undo'
                 ORDER BY recorded_at_ms DESC, hlc DESC LIMIT ?3",
            )?
            .query_map(params![header.id, user_id, LAST_SCANS_SHOWN as i64], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for id in ids {
            last_scans.push(observation_view(&self.conn, header.id, id, user_id)?);
        }
        let (tolerance_value, started_at_ms) =
            (header.tolerance_value.map(|v| v.to_string()), Hlc(header.started_hlc).physical_ms());
        Ok(StocktakeView {
            id: header.id.to_string(),
            number: header.number,
            status: header.status,
            blind: header.blind,
            locations: header.locations.into_iter().map(|(_, code)| code).collect(),
            categories: header.categories,
            tolerance_quantity: header.tolerance_quantity,
            tolerance_value,
            started_by: header.started_by,
            started_at_ms,
            keys_in_scope: keys.len(),
            keys_counted,
            observations: observations as usize,
            last_scans,
        })
    }

    /// Stocktakes, newest first.
    pub fn stocktakes(&self, limit: u32) -> Result<Vec<StocktakeSummary>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT d.id, d.number, s.status, d.status, s.blind, s.started_hlc FROM stocktakes s
             JOIN documents d ON d.id = s.document_id ORDER BY s.started_hlc DESC LIMIT ?1",
        )?;
        let rows: Vec<(Uuid, String, String, String, bool, i64)> = stmt
            .query_map([limit], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut out = Vec::new();
        for (id, number, status, document_status, blind, started) in rows {
            let locations = self
                .conn
                .prepare_cached(
                    "SELECT l.code FROM stocktake_locations s JOIN locations l ON l.id = s.location_id
                     WHERE s.document_id = ?1 ORDER BY l.code",
                )?
                .query_map([id], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let status = if document_status == "cancelled" {
                StocktakeStatus::Cancelled
            } else {
                StocktakeStatus::parse(&status)
            };
            out.push(StocktakeSummary {
                id: id.to_string(),
                number,
                status,
                blind,
                locations,
                started_at_ms: Hlc(started).physical_ms(),
            });
        }
        Ok(out)
    }

    /// The variance table. In a blind stocktake only those who may review
    /// stocktakes see it (counters never see expected quantities).
    pub fn stocktake_variance(&self, stocktake: &str, user: &str) -> Result<VarianceReport> {
        let header = load_header(&self.conn, stocktake)?;
        let action = if header.blind { Action::ReviewStocktake } else { Action::Count };
        acting_user(&self.conn, user, action)?;
        if header.status == StocktakeStatus::Posted {
            return posted_variance(&self.conn, &header);
        }
        let node = self.node()?.id;
        variance(&self.conn, &header, node, &self.location_codes()?)
    }

    /// Sends keys back for a recount: their earlier observations stop counting.
    pub fn request_recount(&mut self, stocktake: &str, user: &str, keys: &[RecountKey]) -> Result<usize> {
        if keys.is_empty() || keys.len() > IMPORT_LINES_MAX {
            return Err(LedgerError::InvalidInput {
                field: "keys",
                reason: format!("name between 1 and {IMPORT_LINES_MAX} keys"),
            });
        }
        let (tx, mut st) = self.split()?;
        let header = load_header(&tx, stocktake)?;
        header.refuse_unless_open()?;
        let (user_id, _) = acting_user(&tx, user, Action::ReviewStocktake)?;
        let (known, _) = fold(&tx, &header)?;
        for requested in keys {
            let item = item_ref(&tx, &requested.item)?;
            let location = location_ref(&tx, &requested.location)?;
            let key = (
                item.id,
                requested.lot.as_deref().unwrap_or_default().trim().to_string(),
                requested.serial.as_deref().unwrap_or_default().trim().to_string(),
                location.id,
            );
            if !known.contains_key(&key) {
                return Err(LedgerError::InvalidInput {
                    field: "keys",
                    reason: format!(
                        "{} lot '{}' at {} is neither in the stocktake's scope nor counted",
                        item.code, key.1, requested.location
                    ),
                });
            }
            let round = current_round(&tx, header.id, &key)? + 1;
            let (hlc, _) = st.stamp();
            tx.execute(
                "INSERT INTO stocktake_recounts (document_id, item_id, lot, serial, location_id, round, requested_by, hlc)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![header.id, key.0, key.1, key.2, key.3, round, user_id, hlc.0],
            )?;
        }
        tx.commit()?;
        Ok(keys.len())
    }

    /// Closes counting: only keys sent for a recount take scans from now on.
    /// The moment is kept: a closed scope's uncounted keys are zeroed as of
    /// it, so what arrives between now and the posting stays on the books.
    /// This node's clock then skips [`ZERO_COUNT_SLOTS`] ticks, which the
    /// zero counts take (no later movement of this node can fall among them).
    pub fn finish_counting(&mut self, stocktake: &str, user: &str) -> Result<()> {
        let (tx, st) = self.split()?;
        let header = load_header(&tx, stocktake)?;
        header.refuse_unless_open()?;
        acting_user(&tx, user, Action::ReviewStocktake)?;
        // Finished again (or in review since before 0011): the end stays as it was.
        let ended = match (header.counting_ended_hlc, header.status) {
            (None, StocktakeStatus::Counting) => {
                let (ended, _) = stamp(st.hlc, st.clock);
                *st.hlc = Hlc(ended.0 + ZERO_COUNT_SLOTS);
                crate::store::persist_hlc(&tx, *st.hlc)?;
                Some(ended.0)
            }
            (ended, _) => ended,
        };
        tx.execute(
            "UPDATE stocktakes SET status = 'review', counting_ended_hlc = ?2 WHERE document_id = ?1",
            params![header.id, ended],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Abandons a stocktake; its observations stay for audit, stock is untouched.
    pub fn cancel_stocktake(&mut self, stocktake: &str, user: &str) -> Result<()> {
        let (tx, _) = self.split()?;
        let header = load_header(&tx, stocktake)?;
        header.refuse_unless_open()?;
        acting_user(&tx, user, Action::ReviewStocktake)?;
        tx.execute("UPDATE stocktakes SET status = 'cancelled' WHERE document_id = ?1", [header.id])?;
        tx.execute("UPDATE documents SET status = 'cancelled' WHERE id = ?1 AND status = 'draft'", [header.id])?;
        tx.commit()?;
        Ok(())
    }

    /// Posts: one `count` movement per counted key at the time of its last
    /// observation, zero counts for uncounted keys if the scope is closed, and
    /// the variance table frozen for audit — all in one transaction.
    pub fn post_stocktake(&mut self, stocktake: &str, request: &PostStocktakeRequest) -> Result<PostedStocktake> {
        let node = self.node()?.clone();
        let (tx, mut st) = self.split()?;
        let header = load_header(&tx, stocktake)?;
        header.refuse_unless_open()?;
        let (user_id, _) = acting_user(&tx, &request.user, Action::ReviewStocktake)?;
        let (mut keys, items) = fold(&tx, &header)?;
        mark_found_elsewhere(&tx, node.id, &mut keys)?;
        let mut judged = Vec::with_capacity(keys.len());
        let (mut blocking, mut over) = (0, 0);
        for (key, state) in &keys {
            let price = items.get(&key.0).and_then(|i| i.unit_price.as_deref());
            let j = judge(&tx, &header, node.id, state, price)?;
            blocking += usize::from(j.flags.iter().any(|f| f.blocks()));
            over += usize::from(j.flags.contains(&VarianceFlag::OverTolerance));
            judged.push((key, state, j));
        }
        if blocking > 0 {
            return Err(LedgerError::StocktakeNeedsRecount { number: header.number.clone(), keys: blocking });
        }
        if over > 0 && !request.accept_over_tolerance {
            return Err(LedgerError::StocktakeOverTolerance { number: header.number.clone(), keys: over });
        }
        let mut posted = PostedStocktake {
            id: header.id.to_string(),
            number: header.number.clone(),
            movements: 0,
            zeroed: 0,
            untouched: 0,
            found_elsewhere: 0,
        };
        let mut line_no = 0;
        let mut earliest_count: Option<Hlc> = None;
        // Zero counts of a scope closed after counting ended take the ticks reserved then.
        let mut next_zero = header.counting_ended_hlc;
        for (key, state, j) in judged {
            if j.counted.is_some() && state.found.is_none() {
                let code = items.get(&key.0).map(|i| i.code.clone()).unwrap_or_default();
                refuse_quarantined(&tx, key, &code)?;
            }
            let expires_on = state.expires_on.as_deref().and_then(|d| d.parse::<NaiveDate>().ok());
            let (counted, hlc, counter, expected) = match (j.counted, state.last_hlc, state.last_counter) {
                (Some(counted), Some(hlc), Some(counter)) => (counted, Hlc(hlc), counter, j.expected),
                // Seen elsewhere: zero here as of the sighting, on a tick of its own.
                _ if state.found.is_some() => {
                    let seen = state.found.map_or(0, |f| f.hlc);
                    let at = free_past_hlc(&tx, node.id, seen + 1)?;
                    let Some((then, count)) =
                        state.key_id.map(|k| zero_as_of(&tx, k, at, node.id)).transpose()?.flatten()
                    else {
                        posted.untouched += 1;
                        continue;
                    };
                    posted.found_elsewhere += 1;
                    (count, Hlc(at), user_id, then)
                }
                _ if request.close_scope && j.flags.contains(&VarianceFlag::Uncounted) => match next_zero {
                    // Counting ends now: zero as of now.
                    None => {
                        posted.zeroed += 1;
                        (0, st.stamp().0, user_id, j.expected)
                    }
                    Some(from) => {
                        let ended = header.counting_ended_hlc.unwrap_or(from);
                        let at = free_past_hlc(&tx, node.id, from)?;
                        if at >= ended + ZERO_COUNT_SLOTS {
                            return Err(LedgerError::InvalidInput {
                                field: "stocktake",
                                reason: format!(
                                    "more than {ZERO_COUNT_SLOTS} uncounted keys to zero: post with the scope open"
                                ),
                            });
                        }
                        let zero = match state.key_id {
                            Some(key_id) => zero_as_of(&tx, key_id, at, node.id)?,
                            None => None,
                        };
                        let Some((then, count)) = zero else {
                            posted.untouched += 1;
                            continue;
                        };
                        next_zero = Some(at + 1);
                        posted.zeroed += 1;
                        (count, Hlc(at), user_id, then)
                    }
                },
                _ => {
                    posted.untouched += 1;
                    continue;
                }
            };
            if !key.1.is_empty() && lot_expiry(&tx, key.0, &key.1)?.is_none() {
                tx.prepare_cached(
                    "INSERT INTO lots (item_id, lot, expires_on, produced_on, created_hlc) VALUES (?1, ?2, ?3, NULL, ?4)",
                )?
                .execute(params![key.0, key.1, expires_on.map(|d| d.to_string()), hlc.0])?;
            }
            let now = st.now_ms();
            let movement = MovementRecord {
                id: st.id(now),
                hlc,
                node_id: node.id,
                recorded_at_ms: now,
                user_id: counter,
                kind: MovementKind::Count,
                key: balance_key(key),
                quantity: counted,
                expected_quantity: Some(expected),
                unit_cost: j.unit_cost.map(|c| c.to_string()),
                department_id: None,
                supplier_id: None,
                document_id: Some(header.id),
                reason: None,
                corrects: None,
                override_by: None,
                note: String::new(),
            };
            record(&tx, &movement, expires_on)?;
            earliest_count = Some(earliest_count.map_or(hlc, |e| e.min(hlc)));
            posted.movements += 1;
            line_no += 1;
            let flags: Vec<&str> = j.flags.iter().map(|f| f.as_str()).collect();
            tx.prepare_cached(
                "INSERT INTO stocktake_results (document_id, line_no, item_id, lot, serial, location_id, expected,
                    counted, unit_cost, count_hlc, flags, movement_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?
            .execute(params![
                header.id,
                line_no,
                key.0,
                key.1,
                key.2,
                key.3,
                expected,
                counted,
                j.unit_cost.map(|c| c.to_string()),
                hlc.0,
                flags.join(","),
                movement.id
            ])?;
        }
        if let Some(earliest) = earliest_count {
            // The counts carry their scans' (earlier) times: the next push must look back that far.
            tx.execute(
                "UPDATE sync_state SET pushed_hlc = min(pushed_hlc, ?1), push_generation = push_generation + 1",
                [earliest.0 - 1],
            )?;
        }
        let (posted_hlc, posted_at) = st.stamp();
        tx.execute(
            "UPDATE documents SET status = 'posted', posted_by = ?2, posted_hlc = ?3, posted_at_ms = ?4
             WHERE id = ?1 AND status = 'draft'",
            params![header.id, user_id, posted_hlc.0, posted_at],
        )?;
        tx.execute(
            "UPDATE stocktakes SET status = 'posted', closed_scope = ?2 WHERE document_id = ?1",
            params![header.id, request.close_scope],
        )?;
        tx.commit()?;
        Ok(posted)
    }

    fn location_codes(&self) -> Result<HashMap<Uuid, String>> {
        let mut stmt = self.conn.prepare_cached("SELECT id, code FROM locations")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// A write transaction plus what stamps its rows (clock, ids, HLC).
    fn split(&mut self) -> Result<(rusqlite::Transaction<'_>, Stamper<'_>)> {
        let node = self.node.as_ref().map(|n| n.id);
        let Ledger { conn, clock, ids, hlc, data_version, .. } = self;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        crate::store::catch_up(&tx, hlc, data_version, node)?;
        Ok((tx, Stamper { clock: &**clock, ids: &mut **ids, hlc }))
    }
}

/// Stamps rows written inside a transaction.
struct Stamper<'a> {
    clock: &'a dyn crate::clock::Clock,
    ids: &'a mut dyn crate::ids::IdSource,
    hlc: &'a mut Hlc,
}

impl Stamper<'_> {
    fn stamp(&mut self) -> (Hlc, i64) {
        stamp(self.hlc, self.clock)
    }
    fn id(&mut self, at_ms: i64) -> Uuid {
        self.ids.next_id(at_ms)
    }
    fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }
}

fn variance(conn: &Connection, header: &Header, node: Uuid, codes: &HashMap<Uuid, String>) -> Result<VarianceReport> {
    let (mut keys, items) = fold(conn, header)?;
    let outside = mark_found_elsewhere(conn, node, &mut keys)?;
    let mut rows = Vec::with_capacity(keys.len());
    let mut users: HashMap<Uuid, String> = HashMap::new();
    let mut stmt = conn.prepare_cached("SELECT id, username FROM users")?;
    for row in stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))? {
        let (id, name) = row?;
        users.insert(id, name);
    }
    let mut ordering = Vec::with_capacity(keys.len());
    let (mut counted_keys, mut needing, mut over) = (0, 0, 0);
    let mut total = Decimal::ZERO;
    for (key, state) in &keys {
        let facts = items.get(&key.0);
        let mut j = judge(conn, header, node, state, facts.and_then(|i| i.unit_price.as_deref()))?;
        // Counting has ended: an uncounted key shows its books as of then, which
        // closing the scope writes off (less what has left since).
        if let (Some(ended), Some(key_id), true) =
            (header.counting_ended_hlc, state.key_id, j.flags.contains(&VarianceFlag::Uncounted))
        {
            j.expected = zero_as_of(conn, key_id, ended, node)?.map_or(0, |(then, _)| then);
        }
        counted_keys += usize::from(!state.counters.is_empty());
        needing += usize::from(j.flags.iter().any(|f| f.blocks()));
        over += usize::from(j.flags.contains(&VarianceFlag::OverTolerance));
        total += j.value.unwrap_or_default();
        ordering.push((j.value.unwrap_or_default().abs(), j.counted.map(|c| (c - j.expected).abs()).unwrap_or(0)));
        rows.push(VarianceRow {
            code: facts.map(|i| i.code.clone()).unwrap_or_default(),
            name: facts.map(|i| i.name.clone()).unwrap_or_default(),
            name_en: facts.map(|i| i.name_en.clone()).unwrap_or_default(),
            specification: facts.map(|i| i.specification.clone()).unwrap_or_default(),
            unit: facts.map(|i| i.unit.clone()).unwrap_or_default(),
            lot: Some(key.1.clone()).filter(|l| !l.is_empty()),
            serial: Some(key.2.clone()).filter(|s| !s.is_empty()),
            location: codes.get(&key.3).cloned().unwrap_or_default(),
            expected: j.expected,
            counted: j.counted,
            difference: j.counted.map(|c| c - j.expected),
            unit_cost: j.unit_cost.map(|c| c.to_string()),
            value: j.value.map(|v| v.to_string()),
            counters: state
                .counters
                .iter()
                .map(|(id, (_, t))| (users.get(id).cloned().unwrap_or_else(|| id.to_string()), *t))
                .collect(),
            round: state.round,
            counted_at_ms: state.last_at_ms,
            flags: j.flags,
        });
    }
    let mut indexed: Vec<usize> = (0..rows.len()).collect();
    // Largest absolute value first, then largest difference; ties keep key order.
    indexed.sort_by(|a, b| ordering[*b].cmp(&ordering[*a]));
    let mut slots: Vec<Option<VarianceRow>> = rows.into_iter().map(Some).collect();
    let rows = indexed.into_iter().filter_map(|i| slots[i].take()).collect();
    Ok(VarianceReport {
        id: header.id.to_string(),
        number: header.number.clone(),
        status: header.status,
        blind: header.blind,
        keys_in_scope: keys.len() - outside,
        keys_counted: counted_keys,
        keys_needing_recount: needing,
        keys_over_tolerance: over,
        total_value: total.normalize().to_string(),
        rows,
    })
}

/// A posted stocktake's frozen variance table.
fn posted_variance(conn: &Connection, header: &Header) -> Result<VarianceReport> {
    let mut stmt = conn.prepare_cached(
        "SELECT i.code, i.name, i.name_en, i.specification, i.unit, r.lot, r.serial, l.code, r.expected, r.counted,
                r.unit_cost, r.count_hlc, r.flags
         FROM stocktake_results r JOIN items i ON i.id = r.item_id JOIN locations l ON l.id = r.location_id
         WHERE r.document_id = ?1 ORDER BY r.line_no",
    )?;
    let mut rows = Vec::new();
    let mut total = Decimal::ZERO;
    let mut query = stmt.query([header.id])?;
    while let Some(r) = query.next()? {
        let (expected, counted): (i64, i64) = (r.get(8)?, r.get(9)?);
        let unit_cost: Option<String> = r.get(10)?;
        let value =
            unit_cost.as_deref().and_then(|c| Decimal::from_str(c).ok()).map(|c| c * Decimal::from(counted - expected));
        total += value.unwrap_or_default();
        let flags: String = r.get(12)?;
        rows.push(VarianceRow {
            code: r.get(0)?,
            name: r.get(1)?,
            name_en: r.get(2)?,
            specification: r.get(3)?,
            unit: r.get(4)?,
            lot: Some(r.get::<_, String>(5)?).filter(|l| !l.is_empty()),
            serial: Some(r.get::<_, String>(6)?).filter(|s| !s.is_empty()),
            location: r.get(7)?,
            expected,
            counted: Some(counted),
            difference: Some(counted - expected),
            unit_cost,
            value: value.map(|v| v.to_string()),
            counters: BTreeMap::new(),
            round: 0,
            counted_at_ms: Some(Hlc(r.get(11)?).physical_ms()),
            flags: flags.split(',').filter_map(parse_flag).collect(),
        });
    }
    // Keys where a serial unit was found elsewhere were zeroed, not counted; outside the scope they were no part of it.
    let found = |r: &&VarianceRow| r.flags.contains(&VarianceFlag::FoundElsewhere);
    let in_scope =
        |r: &&VarianceRow| header.all_locations || header.locations.iter().any(|(_, code)| *code == r.location);
    let keys = rows.iter().filter(|r| !found(r) || in_scope(r)).count();
    let counted = rows.iter().filter(|r| !found(r)).count();
    let over = rows.iter().filter(|r| r.flags.contains(&VarianceFlag::OverTolerance)).count();
    Ok(VarianceReport {
        id: header.id.to_string(),
        number: header.number.clone(),
        status: header.status,
        blind: header.blind,
        keys_in_scope: keys,
        keys_counted: counted,
        keys_needing_recount: 0,
        keys_over_tolerance: over,
        total_value: total.normalize().to_string(),
        rows,
    })
}

fn parse_flag(text: &str) -> Option<VarianceFlag> {
    use VarianceFlag::*;
    [
        Uncounted,
        Disagreement,
        RecountPending,
        OverTolerance,
        Recounted,
        Ambiguous,
        NotOnBooks,
        FoundElsewhere,
        SerialCountedTwice,
    ]
    .into_iter()
    .find(|f| f.as_str() == text)
}

struct NewObservation<'a> {
    id: Uuid,
    doc: Uuid,
    key: &'a CountKey,
    expires_on: Option<NaiveDate>,
    quantity: i64,
    round: i64,
    counter: Uuid,
    node: Uuid,
    hlc: i64,
    at_ms: i64,
    source: &'static str,
    barcode: &'a str,
    voids: Option<Uuid>,
    expected: i64,
}

fn insert_observation(conn: &Connection, o: &NewObservation<'_>) -> Result<()> {
    let barcode: String = o.barcode.chars().take(crate::master::TEXT_FIELD_MAX).collect();
    conn.prepare_cached(
        "INSERT INTO stocktake_observations (id, document_id, item_id, lot, serial, location_id, expires_on, quantity,
            round, counter_id, node_id, hlc, recorded_at_ms, source, barcode, voids, expected_quantity)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
    )?
    .execute(params![
        o.id,
        o.doc,
        o.key.0,
        o.key.1,
        o.key.2,
        o.key.3,
        o.expires_on.map(|d| d.to_string()),
        o.quantity,
        o.round,
        o.counter,
        o.node,
        o.hlc,
        o.at_ms,
        o.source,
        barcode,
        o.voids,
        o.expected
    ])?;
    Ok(())
}

struct Effective {
    id: Uuid,
    counter: Uuid,
    key: CountKey,
    expires_on: Option<NaiveDate>,
    round: i64,
    expected: i64,
}

/// An observation of this stocktake that nothing has voided (and is no undo).
fn effective_observation(conn: &Connection, doc: Uuid, id: &str) -> Result<Option<Effective>> {
    let Ok(id) = Uuid::parse_str(id.trim()) else { return Ok(None) };
    Ok(conn
        .prepare_cached(
            "SELECT o.id, o.item_id, o.lot, o.serial, o.location_id, o.expires_on, o.round, o.expected_quantity,
                    o.counter_id
             FROM stocktake_observations o
             WHERE o.id = ?1 AND o.document_id = ?2 AND o.source <> 'undo'
               AND NOT EXISTS (SELECT 1 FROM stocktake_observations v WHERE v.voids = o.id)",
        )?
        .query_row(params![id, doc], |r| {
            Ok(Effective {
                id: r.get(0)?,
                counter: r.get(8)?,
                key: (r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?),
                expires_on: r.get::<_, Option<String>>(5)?.and_then(|d| d.parse().ok()),
                round: r.get(6)?,
                expected: r.get(7)?,
            })
        })
        .optional()?)
}

fn observation_view(conn: &Connection, doc: Uuid, id: Uuid, counter: Uuid) -> Result<ObservationView> {
    let (key, view) = conn
        .prepare_cached(
            "SELECT o.item_id, o.lot, o.serial, o.location_id, i.code, i.name, i.name_en, l.code, o.quantity, o.source,
                    o.round, o.recorded_at_ms
             FROM stocktake_observations o JOIN items i ON i.id = o.item_id JOIN locations l ON l.id = o.location_id
             WHERE o.id = ?1",
        )?
        .query_row([id], |r| {
            let key: CountKey = (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
            Ok((
                key.clone(),
                ObservationView {
                    id: id.to_string(),
                    code: r.get(4)?,
                    name: r.get(5)?,
                    name_en: r.get(6)?,
                    lot: Some(key.1.clone()).filter(|l| !l.is_empty()),
                    serial: Some(key.2.clone()).filter(|s| !s.is_empty()),
                    location: r.get(7)?,
                    quantity: r.get(8)?,
                    source: r.get(9)?,
                    key_total: 0,
                    round: r.get(10)?,
                    at_ms: r.get(11)?,
                },
            ))
        })?;
    let (_, total) = counter_total(conn, doc, &key, view.round, counter)?;
    Ok(ObservationView { key_total: total, ..view })
}

/// Reads a batch-scanner dump: one scan per line, optionally followed by a
/// quantity and then a device time, separated by tabs, commas or semicolons
/// (fields are peeled from the right, so a barcode may itself hold commas).
/// Naive times are the device's local time at `utc_offset_minutes`. Blank
/// lines are skipped; a line that cannot be read refuses the whole file.
pub fn parse_import(text: &str, utc_offset_minutes: i32) -> Result<Vec<ImportLine>> {
    let mut lines = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line_no = index + 1;
        let raw = raw.trim_end_matches(['\r', '\n']).trim_start_matches('\u{feff}');
        if raw.trim().is_empty() {
            continue;
        }
        if lines.len() == IMPORT_LINES_MAX {
            return Err(LedgerError::TooManyLines { count: lines.len() + 1, max: IMPORT_LINES_MAX });
        }
        let separator = [b'\t', b',', b';'].into_iter().find(|s| raw.as_bytes().contains(s));
        let mut fields: Vec<&str> = match separator {
            Some(s) => raw.split(s as char).collect(),
            None => vec![raw],
        };
        let mut at_ms = None;
        let mut quantity = None;
        if fields.len() > 1 {
            if let Some(ms) = parse_device_time(fields[fields.len() - 1].trim(), utc_offset_minutes) {
                at_ms = Some(ms);
                fields.pop();
            }
        }
        if fields.len() > 1 {
            let last = fields[fields.len() - 1].trim();
            if !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()) {
                let q: i64 = last.parse().map_err(|_| import_error(line_no, "quantity too large"))?;
                if q > LINE_QUANTITY_MAX {
                    return Err(import_error(line_no, &format!("quantity {q} is above {LINE_QUANTITY_MAX}")));
                }
                quantity = Some(q);
                fields.pop();
            } else if at_ms.is_some() || last.starts_with('-') {
                return Err(import_error(line_no, &format!("'{last}' is not a quantity")));
            }
        }
        let data = match separator {
            Some(s) => fields.join(&(s as char).to_string()),
            None => fields.concat(),
        };
        let data = data.trim().to_string();
        if data.is_empty() {
            return Err(import_error(line_no, "no barcode before the quantity"));
        }
        lines.push(ImportLine { line: line_no, data, quantity, at_ms });
    }
    if lines.is_empty() {
        return Err(LedgerError::EmptyDocument);
    }
    Ok(lines)
}

fn import_error(line: usize, reason: &str) -> LedgerError {
    LedgerError::ImportLine {
        line,
        error: Box::new(LedgerError::InvalidInput { field: "line", reason: reason.to_string() }),
    }
}

/// A device time: RFC 3339 with an offset, or a local date and time
/// (`2026-11-25 09:30[:15]`, `T` or `/` accepted).
pub(crate) fn parse_device_time(text: &str, utc_offset_minutes: i32) -> Option<i64> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(t.timestamp_millis());
    }
    let normal = text.replace('/', "-").replace('T', " ");
    let naive = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(&normal, format).ok())?;
    Some(naive.and_utc().timestamp_millis() - i64::from(utc_offset_minutes) * 60_000)
}
