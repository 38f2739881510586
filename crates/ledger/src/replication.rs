//! Replication between nodes (product brief §4–5): the events a node sends and
//! receives, its outbox, and applying what arrives — idempotently, in any order.
//!
//! Four kinds of event travel:
//! - **master** changes: some fields of one item, location, department,
//!   supplier or user, stamped with the writer's HLC. Each field is a
//!   last-writer-wins register ordered by (HLC, node); the entity tables are
//!   materialised from the winners. Two entities claiming the same code (two
//!   workstations created "admin" or the same item offline) are settled by
//!   creation order: the first keeps the code, the others get `code~xxxxxxxx`
//!   (the end of their id) and are listed for review — the same on every node.
//! - **lot**: a lot's expiry and production date, keyed by (item, lot).
//! - **document**: a posted document with its lines (immutable).
//! - **movement**: one immutable movement (the grow-only set of §4).
//!
//! The same key with the same content is a no-op; the same key with different
//! content is stored in `sync_conflicts` and never applied. Transport,
//! authentication and the server's HTTP side are in the `sync` crate; the
//! server's event log (`sync_events`) is kept here because it is written in
//! the same transaction as the server's own ledger.

use crate::apply::{apply_movement_in, Applied};
use crate::balance::{BalanceKey, MovementRecord};
use crate::clock::Hlc;
use crate::error::{LedgerError, Result};
use crate::model::{MovementKind, StockStatus};
use crate::store::{persist_hlc, Ledger};
use rusqlite::types::Value as SqlValue;
use rusqlite::{params, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use uuid::Uuid;

/// Events per push or pull batch, at most.
pub const SYNC_BATCH_MAX: usize = 2_000;

/// The wire protocol's version; a peer speaking another is refused.
pub const PROTOCOL_VERSION: u32 = 1;

/// Migrations (their numbers) declared to change only a workstation's own
/// state: nothing that travels, no table that replicated data is written to,
/// and no rule of how replicated events are applied (derived ids, note
/// formats, …). Only these leave [`WIRE_SCHEMA`] alone; when in doubt, a
/// migration is not local. Empty so far: 0001–0011 all count.
const LOCAL_MIGRATIONS: &[i64] = &[];

/// The newest migration at or below `schema` that is not local-only.
const fn newest_shared(schema: i64, local: &[i64]) -> i64 {
    let mut n = schema;
    'down: while n > 0 {
        let mut i = 0;
        while i < local.len() {
            if local[i] == n {
                n -= 1;
                continue 'down;
            }
            i += 1;
        }
        break;
    }
    n
}

/// What peers compare instead of the database schema: the number of the
/// newest migration that is not declared local-only ([`LOCAL_MIGRATIONS`]).
/// Every other migration moves it, as the database schema did, so a change
/// to what travels or to how it is applied still refuses a peer that has not
/// upgraded; a migration of local state only (stocktake sessions, print
/// queues, …) leaves it, and workstations need not upgrade in lockstep with
/// the server for it. The test `the_wire_shape_is_pinned` holds the shape of
/// what travels — events, snapshots, the closed sets they spell and the SQL
/// of the tables replicated data is written to — to `wire_shape.txt`, and
/// fails when it changes while this number stays.
pub const WIRE_SCHEMA: i64 = newest_shared(crate::store::SCHEMA_VERSION, LOCAL_MIGRATIONS);

/// One replicated fact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// Fields of a master-data entity.
    Master(MasterChange),
    /// A lot's dates.
    Lot(LotRecord),
    /// A posted document.
    Document(DocumentRecord),
    /// A movement.
    Movement(MovementWire),
}

impl Event {
    /// The event's kind as stored.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Master(_) => "master",
            Event::Lot(_) => "lot",
            Event::Document(_) => "document",
            Event::Movement(_) => "movement",
        }
    }
    /// The idempotency key: the same key twice is the same fact.
    pub fn key(&self) -> Vec<u8> {
        match self {
            Event::Master(c) => c.id.as_bytes().to_vec(),
            Event::Lot(l) => {
                // Each version of a lot's dates is its own fact: every node sees all of them
                // and keeps the same one (see apply_lot).
                let mut key = l.item_id.as_bytes().to_vec();
                key.extend_from_slice(l.lot.as_bytes());
                key.push(0);
                key.extend_from_slice(l.expires_on.as_deref().unwrap_or("").as_bytes());
                key.push(0);
                key.extend_from_slice(l.produced_on.as_deref().unwrap_or("").as_bytes());
                key
            }
            Event::Document(d) => d.id.as_bytes().to_vec(),
            Event::Movement(m) => m.id.as_bytes().to_vec(),
        }
    }
    /// The node that made it.
    pub fn origin(&self) -> Option<Uuid> {
        match self {
            Event::Master(c) => Some(c.node_id),
            Event::Lot(_) => None,
            Event::Document(d) => Some(d.node_id),
            Event::Movement(m) => Some(m.node_id),
        }
    }
    /// The canonical JSON body.
    pub fn body(&self) -> String {
        serde_json::to_string(self).expect("events serialise")
    }
}

/// Some fields of one master-data entity, as one node changed them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MasterChange {
    /// The change's id (UUIDv7).
    pub id: Uuid,
    /// When, on the writer's HLC.
    pub hlc: i64,
    /// The writer.
    pub node_id: Uuid,
    /// `user`, `supplier`, `department`, `location` or `item`.
    pub entity: String,
    /// The entity's id.
    pub entity_id: Uuid,
    /// Field → value. Ids are 32 hex digits, decimals text, flags 0/1.
    /// An item's identifiers are fields `identifier:TEXT` → scheme (null = removed).
    pub fields: BTreeMap<String, Value>,
    /// For safety fields: the (HLC, node) of the value this change replaced
    /// where it was made; tells a concurrent edit from a later one.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub base: BTreeMap<String, (i64, Uuid)>,
}

/// A lot's dates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LotRecord {
    /// Item.
    pub item_id: Uuid,
    /// Lot number.
    pub lot: String,
    /// Expiry, YYYY-MM-DD.
    pub expires_on: Option<String>,
    /// Production date.
    pub produced_on: Option<String>,
}

/// A posted document and its lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentRecord {
    /// Id.
    pub id: Uuid,
    /// Kind (receipt, issue, …).
    pub kind: String,
    /// Number, e.g. RK-S01-000001.
    pub number: Option<String>,
    /// The node that posted it.
    pub node_id: Uuid,
    /// Creator.
    pub created_by: Uuid,
    /// Wall time of creation.
    pub created_at_ms: i64,
    /// Poster.
    pub posted_by: Option<Uuid>,
    /// HLC of posting.
    pub posted_hlc: Option<i64>,
    /// Wall time of posting.
    pub posted_at_ms: Option<i64>,
    /// Location.
    pub location_id: Option<Uuid>,
    /// Destination.
    pub to_location_id: Option<Uuid>,
    /// Department.
    pub department_id: Option<Uuid>,
    /// Supplier.
    pub supplier_id: Option<Uuid>,
    /// Overriding manager.
    pub override_by: Option<Uuid>,
    /// Reason.
    pub reason: Option<String>,
    /// The document it corrects.
    pub corrects_document: Option<Uuid>,
    /// Note.
    pub note: String,
    /// Lines.
    pub lines: Vec<DocumentLineRecord>,
}

/// One line of a posted document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentLineRecord {
    /// Line number from 1.
    pub line_no: i64,
    /// Item.
    pub item_id: Uuid,
    /// Lot ('' none).
    pub lot: String,
    /// Expiry.
    pub expires_on: Option<String>,
    /// Production date.
    pub produced_on: Option<String>,
    /// Serial ('' none).
    pub serial: String,
    /// Quantity.
    pub quantity: i64,
    /// Unit cost.
    pub unit_cost: Option<String>,
}

/// A movement on the wire: the stored record with its closed sets as text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MovementWire {
    /// Id.
    pub id: Uuid,
    /// HLC.
    pub hlc: i64,
    /// Node.
    pub node_id: Uuid,
    /// Wall time at the node.
    pub recorded_at_ms: i64,
    /// User.
    pub user_id: Uuid,
    /// Kind.
    pub kind: String,
    /// Item.
    pub item_id: Uuid,
    /// Lot.
    pub lot: String,
    /// Serial.
    pub serial: String,
    /// Location.
    pub location_id: Uuid,
    /// Status.
    pub status: String,
    /// Signed quantity, or the counted quantity.
    pub quantity: i64,
    /// Count: what the station knew.
    pub expected_quantity: Option<i64>,
    /// Unit cost.
    pub unit_cost: Option<String>,
    /// Department.
    pub department_id: Option<Uuid>,
    /// Supplier.
    pub supplier_id: Option<Uuid>,
    /// Document.
    pub document_id: Option<Uuid>,
    /// Reason.
    pub reason: Option<String>,
    /// Compensated movement.
    pub corrects: Option<Uuid>,
    /// Overriding manager.
    pub override_by: Option<Uuid>,
    /// Note.
    pub note: String,
}

impl From<&MovementRecord> for MovementWire {
    fn from(m: &MovementRecord) -> MovementWire {
        MovementWire {
            id: m.id,
            hlc: m.hlc.0,
            node_id: m.node_id,
            recorded_at_ms: m.recorded_at_ms,
            user_id: m.user_id,
            kind: m.kind.as_str().to_string(),
            item_id: m.key.item_id,
            lot: m.key.lot.clone(),
            serial: m.key.serial.clone(),
            location_id: m.key.location_id,
            status: m.key.status.as_str().to_string(),
            quantity: m.quantity,
            expected_quantity: m.expected_quantity,
            unit_cost: m.unit_cost.clone(),
            department_id: m.department_id,
            supplier_id: m.supplier_id,
            document_id: m.document_id,
            reason: m.reason.clone(),
            corrects: m.corrects,
            override_by: m.override_by,
            note: m.note.clone(),
        }
    }
}

impl TryFrom<&MovementWire> for MovementRecord {
    type Error = LedgerError;
    fn try_from(m: &MovementWire) -> Result<MovementRecord> {
        let kind = MovementKind::parse(&m.kind).ok_or_else(|| invalid(format!("unknown movement kind {}", m.kind)))?;
        let status = StockStatus::parse(&m.status).ok_or_else(|| invalid(format!("unknown status {}", m.status)))?;
        Ok(MovementRecord {
            id: m.id,
            hlc: Hlc(m.hlc),
            node_id: m.node_id,
            recorded_at_ms: m.recorded_at_ms,
            user_id: m.user_id,
            kind,
            key: BalanceKey {
                item_id: m.item_id,
                lot: m.lot.clone(),
                serial: m.serial.clone(),
                location_id: m.location_id,
                status,
            },
            quantity: m.quantity,
            expected_quantity: m.expected_quantity,
            unit_cost: m.unit_cost.clone(),
            department_id: m.department_id,
            supplier_id: m.supplier_id,
            document_id: m.document_id,
            reason: m.reason.clone(),
            corrects: m.corrects,
            override_by: m.override_by,
            note: m.note.clone(),
        })
    }
}

fn invalid(reason: String) -> LedgerError {
    LedgerError::InvalidInput { field: "event", reason }
}

/// What a column of a master-data table holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Col {
    Text,
    Int,
    Id,
}

/// A replicated master-data table.
struct Entity {
    name: &'static str,
    table: &'static str,
    /// The column that must be unique (code or username).
    unique: &'static str,
    columns: &'static [(&'static str, Col)],
    /// Fields whose concurrent edits are listed for review.
    safety: &'static [&'static str],
}

const ENTITIES: &[Entity] = &[
    Entity {
        name: "user",
        table: "users",
        unique: "username",
        columns: &[
            ("username", Col::Text),
            ("display_name", Col::Text),
            ("role", Col::Text),
            ("language", Col::Text),
            ("active", Col::Int),
        ],
        safety: &["role", "active"],
    },
    Entity {
        name: "supplier",
        table: "suppliers",
        unique: "code",
        columns: &[("code", Col::Text), ("name", Col::Text), ("name_en", Col::Text), ("contact_phone", Col::Text)],
        safety: &[],
    },
    Entity {
        name: "department",
        table: "departments",
        unique: "code",
        columns: &[
            ("code", Col::Text),
            ("name", Col::Text),
            ("name_en", Col::Text),
            ("cost_centre", Col::Text),
            ("monthly_budget", Col::Text),
        ],
        safety: &[],
    },
    Entity {
        name: "location",
        table: "locations",
        unique: "code",
        columns: &[
            ("code", Col::Text),
            ("name", Col::Text),
            ("name_en", Col::Text),
            ("kind", Col::Text),
            ("department_id", Col::Id),
            ("min_temp_c", Col::Text),
            ("max_temp_c", Col::Text),
        ],
        safety: &["kind", "min_temp_c", "max_temp_c"],
    },
    Entity {
        name: "item",
        table: "items",
        unique: "code",
        columns: &[
            ("code", Col::Text),
            ("name", Col::Text),
            ("name_en", Col::Text),
            ("specification", Col::Text),
            ("manufacturer", Col::Text),
            ("registration_no", Col::Text),
            ("risk_class", Col::Text),
            ("category", Col::Text),
            ("unit", Col::Text),
            ("pack_size", Col::Int),
            ("serialized", Col::Int),
            ("implantable", Col::Int),
            ("cold_chain", Col::Int),
            ("min_temp_c", Col::Text),
            ("max_temp_c", Col::Text),
            ("unit_price", Col::Text),
            ("default_supplier_id", Col::Id),
            ("reorder_point", Col::Int),
        ],
        safety: &["serialized", "cold_chain", "min_temp_c", "max_temp_c"],
    },
];

const IDENTIFIER_PREFIX: &str = "identifier:";
const CREATED: &str = "created_hlc";

fn entity(name: &str) -> Result<&'static Entity> {
    ENTITIES.iter().find(|e| e.name == name).ok_or_else(|| invalid(format!("unknown master-data entity {name}")))
}

fn column(entity: &Entity, field: &str) -> Option<Col> {
    if field == CREATED {
        return Some(Col::Int);
    }
    if entity.name == "item" && field.starts_with(IDENTIFIER_PREFIX) {
        return Some(Col::Text);
    }
    entity.columns.iter().find(|(name, _)| *name == field).map(|(_, col)| *col)
}

fn check_value(field: &str, col: Col, value: &Value) -> Result<()> {
    if field.chars().count() > IDENTIFIER_PREFIX.len() + crate::master::TEXT_FIELD_MAX {
        return Err(invalid("field name too long".into()));
    }
    let ok = match (col, value) {
        (_, Value::Null) => true,
        (Col::Text, Value::String(s)) => s.chars().count() <= crate::master::TEXT_FIELD_MAX,
        (Col::Int, Value::Number(n)) => n.is_i64(),
        (Col::Id, Value::String(s)) => Uuid::try_parse(s).is_ok(),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(invalid(format!("field {field} has a value of the wrong type: {value}")))
    }
}

fn sql_value(col: Col, value: &Value) -> SqlValue {
    match (col, value) {
        (_, Value::Null) => SqlValue::Null,
        (Col::Id, Value::String(s)) => {
            Uuid::try_parse(s).map(|u| SqlValue::Blob(u.as_bytes().to_vec())).unwrap_or(SqlValue::Null)
        }
        (_, Value::String(s)) => SqlValue::Text(s.clone()),
        (_, Value::Number(n)) => n.as_i64().map(SqlValue::Integer).unwrap_or(SqlValue::Null),
        (_, Value::Bool(b)) => SqlValue::Integer(i64::from(*b)),
        _ => SqlValue::Null,
    }
}

/// What applying a batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyReport {
    /// New facts stored.
    pub applied: usize,
    /// Facts already here, identical.
    pub duplicates: usize,
    /// Facts already here with other content: stored in `sync_conflicts`, not applied.
    pub conflicts: Vec<ConflictView>,
}

/// A conflict: one key, two contents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConflictView {
    /// Event kind.
    pub kind: String,
    /// Key, hex.
    pub key: String,
    /// The node the incoming version came from.
    pub origin: Option<String>,
    /// What this node had.
    pub stored: String,
    /// What arrived.
    pub incoming: String,
}

/// A batch of this node's events still to push, and how far it reaches.
#[derive(Debug, Clone, Default)]
pub struct Outbox {
    /// Events in causal order.
    pub events: Vec<Event>,
    /// The change-log sequence the batch reaches.
    pub change_seq: i64,
    /// The movement HLC the batch reaches.
    pub hlc: i64,
    /// `push_generation` when the batch was read (a stocktake moves the mark back meanwhile).
    pub generation: i64,
    /// More is waiting after this batch.
    pub more: bool,
    /// The movement mark when the batch was read: when `hlc` is above it and
    /// `events` is empty, recording it (`mark_pushed`) still saves later outboxes a walk.
    pub mark: i64,
}

impl Outbox {
    /// Nothing to send, but the mark may rise to this node's clock.
    pub fn only_raises_mark(&self) -> bool {
        self.events.is_empty() && self.hlc > self.mark
    }
}

/// The workstation's link to its server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncLink {
    /// Server URL.
    pub server_url: String,
    /// The server's node id.
    pub server_node_id: Uuid,
    /// This node's token.
    pub token: String,
    /// The CA certificates (PEM) trusted for the server instead of the system's
    /// roots, when it was enrolled with one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_ca_pem: Option<String>,
    /// Last server sequence applied.
    pub pull_cursor: i64,
    /// The server's key of its event at that sequence, when the server gave it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_cursor_key: Option<String>,
    /// Last success, wall ms.
    pub last_success_ms: Option<i64>,
    /// Last error in words.
    pub last_error: Option<String>,
}

/// A key whose balance went below zero (after a merge): the same on every node
/// that has the same movements; closed by a compensating movement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NegativeException {
    /// Item code.
    pub item: String,
    /// Lot.
    pub lot: String,
    /// Serial.
    pub serial: String,
    /// Location code.
    pub location: String,
    /// Status.
    pub status: String,
    /// Balance.
    pub quantity: i64,
    /// The movements since the key's last count (or all), oldest first: id, node, kind, quantity.
    pub movements: Vec<(String, String, String, i64)>,
}

impl Ledger {
    /// This node's events not yet on the server, at most `limit`, in causal
    /// order: master changes first, then movements by HLC, each lot and
    /// document just before the first movement that needs it.
    pub fn outbox(&self, limit: usize) -> Result<Outbox> {
        let node = self.node()?.id;
        let (change_seq, pushed_hlc, generation): (i64, i64, i64) = self
            .conn
            .query_row("SELECT pushed_change_seq, pushed_hlc, push_generation FROM sync_state", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?
            .unwrap_or((0, 0, 0));
        let mut out = Outbox { change_seq, hlc: pushed_hlc, generation, mark: pushed_hlc, ..Outbox::default() };
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, id, hlc, node_id, entity, entity_id, fields, base FROM master_changes
             WHERE node_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
        )?;
        let mut rows = stmt.query(params![node, change_seq, limit as i64 + 1])?;
        while let Some(row) = rows.next()? {
            if out.events.len() == limit {
                out.more = true;
                return Ok(out);
            }
            out.change_seq = row.get(0)?;
            out.events.push(Event::Master(master_change_row(row, 1)?));
        }
        drop(rows);
        let room = limit - out.events.len();
        let mut stmt = self.conn.prepare_cached(&format!(
            "{} WHERE hlc > ?1 AND node_id = ?2 ORDER BY hlc LIMIT ?3",
            crate::apply::RECORD_SELECT
        ))?;
        let movements: Vec<MovementRecord> = stmt
            .query_map(params![pushed_hlc, node, room as i64 + 1], crate::apply::record_row)?
            .collect::<rusqlite::Result<_>>()?;
        let mut lots: HashSet<(Uuid, String)> = HashSet::new();
        let mut documents: HashSet<Uuid> = HashSet::new();
        for m in movements {
            // A movement comes with its lot and document, so `room` may be
            // exceeded by two events: the limit is a batch size, not a protocol bound.
            if out.events.len() >= limit {
                out.more = true;
                break;
            }
            if !m.key.lot.is_empty() && lots.insert((m.key.item_id, m.key.lot.clone())) {
                if let Some(lot) = self.lot_record(m.key.item_id, &m.key.lot)? {
                    out.events.push(Event::Lot(lot));
                }
            }
            if let Some(doc) = m.document_id {
                if documents.insert(doc) {
                    if let Some(record) = self.document_record(doc)? {
                        out.events.push(Event::Document(record));
                    }
                }
            }
            out.hlc = m.hlc.0;
            out.events.push(Event::Movement(MovementWire::from(&m)));
        }
        if !out.more {
            // Nothing of ours is left above: once the server has this, the mark
            // may rise to our clock. Every movement we stamp from now on lies
            // above it (a count stamped with an older scan's HLC lowers the mark
            // and bumps the generation when it is posted), so the next outbox
            // walks only what arrived since instead of everything pulled since
            // our last own movement — on the server, which posts little, that
            // was every movement on every request.
            out.hlc = out.hlc.max(self.hlc.0);
        }
        Ok(out)
    }

    /// Records that the server has everything in `outbox`.
    pub fn mark_pushed(&mut self, outbox: &Outbox) -> Result<()> {
        let tx = self.begin()?;
        mark_pushed_in(&tx, outbox)?;
        tx.commit()?;
        Ok(())
    }

    /// Applies events that came from elsewhere, in order, in one transaction;
    /// `cursor` (the server sequence reached) is stored with them.
    pub fn apply_events(&mut self, events: &[Event], cursor: Option<i64>) -> Result<ApplyReport> {
        self.apply_events_at(events, cursor.map(|c| (c, None)))
    }

    /// `apply_events`, storing with the cursor the key of the server's event at it.
    fn apply_events_at(&mut self, events: &[Event], cursor: Option<(i64, Option<&str>)>) -> Result<ApplyReport> {
        self.node()?;
        let now = self.clock.now_ms();
        let local_hlc = self.hlc;
        let mut hlc = local_hlc;
        let tx = self.begin()?;
        tx.execute_batch("PRAGMA defer_foreign_keys = ON")?;
        let mut report = ApplyReport::default();
        for event in events {
            apply_one(&tx, event, now, &mut hlc, &mut report)?;
        }
        if let Some((cursor, key)) = cursor {
            store_cursor(&tx, cursor, key)?;
        }
        if hlc > local_hlc {
            persist_hlc(&tx, hlc)?;
        }
        tx.commit()?;
        self.hlc = self.hlc.max(hlc);
        Ok(report)
    }

    /// The link to the server, once enrolled.
    pub fn sync_link(&self) -> Result<Option<SyncLink>> {
        Ok(self
            .conn
            .query_row(
                "SELECT server_url, server_node_id, token, pull_cursor, last_success_ms, last_error, server_ca_pem,
                     pull_cursor_key
                 FROM sync_state",
                [],
                |r| {
                    Ok(SyncLink {
                        server_url: r.get(0)?,
                        server_node_id: r.get(1)?,
                        token: r.get(2)?,
                        server_ca_pem: r.get(6)?,
                        pull_cursor: r.get(3)?,
                        pull_cursor_key: r.get(7)?,
                        last_success_ms: r.get(4)?,
                        last_error: r.get(5)?,
                    })
                },
            )
            .optional()?)
    }

    /// Stores the link made by enrolling (the cursor and push marks start at zero),
    /// trusting the system's roots for the server's certificate.
    pub fn set_sync_link(&mut self, server_url: &str, server_node_id: Uuid, token: &str) -> Result<()> {
        self.set_sync_link_trusting(server_url, server_node_id, token, None)
    }

    /// Stores the link made by enrolling, with the CA certificates (PEM, checked
    /// by the caller) trusted for the server; `None`: the system's roots.
    pub fn set_sync_link_trusting(
        &mut self,
        server_url: &str,
        server_node_id: Uuid,
        token: &str,
        server_ca_pem: Option<&str>,
    ) -> Result<()> {
        let tx = self.begin()?;
        tx.execute(
            "INSERT INTO sync_state (singleton, server_url, server_node_id, token, server_ca_pem)
             VALUES (1, ?1, ?2, ?3, ?4)
             ON CONFLICT(singleton) DO UPDATE SET server_url = excluded.server_url, token = excluded.token,
                 server_ca_pem = excluded.server_ca_pem,
                 -- Another server knows nothing of ours: push everything again, pull from its start.
                 pull_cursor = CASE WHEN server_node_id = excluded.server_node_id THEN pull_cursor ELSE 0 END,
                 pull_cursor_key = CASE WHEN server_node_id = excluded.server_node_id THEN pull_cursor_key END,
                 pushed_change_seq = CASE WHEN server_node_id = excluded.server_node_id THEN pushed_change_seq ELSE 0 END,
                 pushed_hlc = CASE WHEN server_node_id = excluded.server_node_id THEN pushed_hlc ELSE 0 END,
                 push_generation = push_generation + 1,
                 -- Recover what the server holds from this node first (crate::lineage).
                 lineage = NULL, lineage_next = NULL, lineage_tried = NULL, resending = 0,
                 server_node_id = excluded.server_node_id",
            params![server_url, server_node_id, token, server_ca_pem],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Replaces the CA certificates trusted for the server of an enrolled
    /// workstation (the hospital renewed its CA); `None`: the system's roots.
    pub fn set_sync_ca(&mut self, server_ca_pem: Option<&str>) -> Result<()> {
        let changed = self.conn.execute("UPDATE sync_state SET server_ca_pem = ?1", [server_ca_pem])?;
        if changed == 0 {
            return Err(LedgerError::InvalidInput { field: "ca", reason: "this workstation is not enrolled".into() });
        }
        Ok(())
    }

    /// Notes the outcome of a sync round for the status area.
    pub fn note_sync_outcome(&mut self, error: Option<&str>) -> Result<()> {
        let now = self.clock.now_ms();
        match error {
            None => self.conn.execute("UPDATE sync_state SET last_success_ms = ?1, last_error = NULL", [now])?,
            Some(e) => self.conn.execute("UPDATE sync_state SET last_error = ?1", [e])?,
        };
        Ok(())
    }

    /// Events of this node not yet pushed (for the status area).
    pub fn pending_push_count(&self) -> Result<i64> {
        let node = self.node()?.id;
        let (seq, hlc): (i64, i64) = self
            .conn
            .query_row("SELECT pushed_change_seq, pushed_hlc FROM sync_state", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?
            .unwrap_or((0, 0));
        Ok(self.conn.query_row(
            "SELECT (SELECT count(*) FROM master_changes WHERE node_id = ?1 AND seq > ?2)
                  + (SELECT count(*) FROM movements WHERE hlc > ?3 AND node_id = ?1)",
            params![node, seq, hlc],
            |r| r.get(0),
        )?)
    }

    /// Stored conflicts, newest first.
    pub fn sync_conflicts(&self) -> Result<Vec<ConflictView>> {
        let mut stmt = self
            .conn
            .prepare("SELECT event_kind, event_key, origin, stored, incoming FROM sync_conflicts ORDER BY id DESC")?;
        let rows = stmt
            .query_map([], |r| {
                Ok(ConflictView {
                    kind: r.get(0)?,
                    key: hex(&r.get::<_, Vec<u8>>(1)?),
                    origin: r.get::<_, Option<Uuid>>(2)?.map(|u| u.to_string()),
                    stored: r.get(3)?,
                    incoming: r.get(4)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Keys below zero, with the movements since their last count.
    pub fn negative_exceptions(&self) -> Result<Vec<NegativeException>> {
        let mut stmt = self.conn.prepare(
            "SELECT b.key_id, i.code, b.lot, b.serial, l.code, b.status, b.quantity, b.last_count_hlc, b.last_count_node
             FROM balances b JOIN items i ON i.id = b.item_id JOIN locations l ON l.id = b.location_id
             WHERE b.quantity < 0 ORDER BY i.code, b.lot, b.serial, l.code, b.status",
        )?;
        type Row = (i64, String, String, String, String, String, i64, Option<i64>, Option<Uuid>);
        let keys: Vec<Row> = stmt
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let mut out = Vec::with_capacity(keys.len());
        for (key_id, item, lot, serial, location, status, quantity, count_hlc, count_node) in keys {
            let mut stmt = self.conn.prepare_cached(
                "SELECT id, node_id, kind, quantity FROM movements WHERE key_id = ?1 AND (hlc, node_id) >= (?2, ?3)
                 ORDER BY hlc, node_id",
            )?;
            let movements = stmt
                .query_map(params![key_id, count_hlc.unwrap_or(i64::MIN), count_node.unwrap_or(Uuid::nil())], |r| {
                    Ok((r.get::<_, Uuid>(0)?.to_string(), r.get::<_, Uuid>(1)?.to_string(), r.get(2)?, r.get(3)?))
                })?
                .collect::<rusqlite::Result<_>>()?;
            out.push(NegativeException { item, lot, serial, location, status, quantity, movements });
        }
        Ok(out)
    }

    fn lot_record(&self, item_id: Uuid, lot: &str) -> Result<Option<LotRecord>> {
        Ok(self
            .conn
            .prepare_cached("SELECT expires_on, produced_on FROM lots WHERE item_id = ?1 AND lot = ?2")?
            .query_row(params![item_id, lot], |r| {
                Ok(LotRecord { item_id, lot: lot.to_string(), expires_on: r.get(0)?, produced_on: r.get(1)? })
            })
            .optional()?)
    }

    /// A posted document as an event (None for drafts).
    pub fn document_record(&self, id: Uuid) -> Result<Option<DocumentRecord>> {
        document_record(&self.conn, id)
    }

    /// Server: accepts a node's batch — each new event is applied to the
    /// server's ledger and appended to `sync_events` in one transaction (the
    /// sequence is given at commit, so a pull never skips one).
    pub fn server_accept(&mut self, origin: Uuid, events: &[Event]) -> Result<ApplyReport> {
        self.server_accept_moving(origin, events, None)
    }

    /// `server_accept`, moving the node's lineage on (`crate::lineage`) in the same transaction.
    pub(crate) fn server_accept_moving(
        &mut self,
        origin: Uuid,
        events: &[Event],
        lineage: Option<&crate::lineage::Lineage>,
    ) -> Result<ApplyReport> {
        self.node()?;
        let now = self.clock.now_ms();
        let local_hlc = self.hlc;
        let mut hlc = local_hlc;
        let tx = self.begin()?;
        tx.execute_batch("PRAGMA defer_foreign_keys = ON")?;
        let mut report = ApplyReport::default();
        for event in events {
            let kind = event.kind();
            let key = event.key();
            let body = event.body();
            // A movement is in sync_events exactly when it is in movements (both
            // written in one transaction here, or by server_publish_own), and
            // applying it compares the stored one: no second lookup for it.
            let stored: Option<String> = if matches!(event, Event::Movement(_)) {
                None
            } else {
                tx.prepare_cached("SELECT body FROM sync_events WHERE event_kind = ?1 AND event_key = ?2")?
                    .query_row(params![kind, key], |r| r.get(0))
                    .optional()?
            };
            match stored {
                Some(stored) if stored == body => report.duplicates += 1,
                Some(stored) => {
                    let conflict = conflict_view(kind, &key, event.origin().or(Some(origin)), stored, body);
                    store_conflict(&tx, &conflict, &key, now)?;
                    report.conflicts.push(conflict);
                }
                None => {
                    let (before, applied_before) = (report.conflicts.len(), report.applied);
                    apply_one(&tx, event, now, &mut hlc, &mut report)?;
                    let new = match event {
                        Event::Movement(_) => report.applied > applied_before,
                        _ => report.conflicts.len() == before,
                    };
                    if new {
                        tx.prepare_cached(
                            "INSERT INTO sync_events (event_kind, event_key, origin, body, received_ms)
                             VALUES (?1, ?2, ?3, ?4, ?5)",
                        )?
                        .execute(params![kind, key, origin, body, now])?;
                    }
                }
            }
        }
        if hlc > local_hlc {
            persist_hlc(&tx, hlc)?;
        }
        if let Some(lineage) = lineage {
            crate::lineage::server_move_on(&tx, origin, lineage)?;
        }
        tx.commit()?;
        self.hlc = self.hlc.max(hlc);
        Ok(report)
    }

    /// Server: events after `cursor` not made by `node`, at most `limit`;
    /// returns them with their sequence and the sequence reached.
    pub fn server_events_after(&self, cursor: i64, node: Uuid, limit: usize) -> Result<(Vec<(i64, Event)>, i64, bool)> {
        self.server_events_skipping(cursor, Some(node), limit)
    }

    /// Server: events after `cursor`, `node`'s own among them, for a node whose
    /// ledger went back (crate::lineage): it gets back, in the server's order,
    /// what it had sent since its copy was made along with what it had not pulled.
    pub fn server_events_for_recovery(&self, cursor: i64, limit: usize) -> Result<(Vec<(i64, Event)>, i64, bool)> {
        self.server_events_skipping(cursor, None, limit)
    }

    fn server_events_skipping(
        &self,
        cursor: i64,
        skip: Option<Uuid>,
        limit: usize,
    ) -> Result<(Vec<(i64, Event)>, i64, bool)> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT seq, origin, body FROM sync_events WHERE seq > ?1 ORDER BY seq LIMIT ?2")?;
        let mut rows = stmt.query(params![cursor, limit as i64 + 1])?;
        let mut events = Vec::new();
        let mut reached = cursor;
        let mut seen = 0;
        while let Some(row) = rows.next()? {
            if seen == limit {
                return Ok((events, reached, true));
            }
            seen += 1;
            let seq: i64 = row.get(0)?;
            reached = seq;
            let from: Uuid = row.get(1)?;
            if Some(from) == skip {
                continue;
            }
            let body: String = row.get(2)?;
            let event: Event = serde_json::from_str(&body).map_err(|e| invalid(format!("stored event {seq}: {e}")))?;
            events.push((seq, event));
        }
        Ok((events, reached, false))
    }

    /// Server: the key of the event at sequence `seq` (`kind:hex`), if there is one:
    /// a workstation presents it with its cursor, so a server whose log went back
    /// and numbered other events alike is caught.
    pub fn server_event_key_at(&self, seq: i64) -> Result<Option<String>> {
        Ok(self
            .conn
            .prepare_cached("SELECT event_kind, event_key FROM sync_events WHERE seq = ?1")?
            .query_row([seq], |r| Ok(format!("{}:{}", r.get::<_, String>(0)?, hex(&r.get::<_, Vec<u8>>(1)?))))
            .optional()?)
    }

    /// Server: the newest sequence.
    pub fn server_head(&self) -> Result<i64> {
        Ok(self.conn.query_row("SELECT coalesce(max(seq), 0) FROM sync_events", [], |r| r.get(0))?)
    }

    /// Server: moves this node's own new changes and movements (made with the
    /// CLI on the server's database) into its event log.
    pub fn server_publish_own(&mut self) -> Result<usize> {
        let node = self.node()?.id;
        let has_state: bool = self.conn.query_row("SELECT EXISTS(SELECT 1 FROM sync_state)", [], |r| r.get(0))?;
        if !has_state {
            self.set_sync_link("self", node, "")?;
        }
        let mut published = 0;
        loop {
            let outbox = self.outbox(SYNC_BATCH_MAX)?;
            if outbox.events.is_empty() {
                if outbox.only_raises_mark() {
                    self.mark_pushed(&outbox)?;
                }
                return Ok(published);
            }
            let now = self.clock.now_ms();
            let tx = self.begin()?;
            for event in &outbox.events {
                tx.prepare_cached(
                    "INSERT OR IGNORE INTO sync_events (event_kind, event_key, origin, body, received_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![event.kind(), event.key(), node, event.body(), now])?;
            }
            tx.commit()?;
            published += outbox.events.len();
            self.mark_pushed(&outbox)?;
            if !outbox.more {
                return Ok(published);
            }
        }
    }

    /// Edits fields of a master-data entity found by its code (username for
    /// users): a local last-writer-wins change, replicated like any other.
    pub fn edit_master(
        &mut self,
        user: &str,
        entity_name: &str,
        code: &str,
        fields: BTreeMap<String, Value>,
    ) -> Result<()> {
        crate::posting::acting_user(&self.conn, user, crate::model::Action::EditMasterData)?;
        let spec = entity(entity_name)?;
        let id: Uuid = self
            .conn
            .query_row(&format!("SELECT id FROM {} WHERE {} = ?1", spec.table, spec.unique), [code], |r| r.get(0))
            .optional()?
            .ok_or_else(|| LedgerError::InvalidInput {
                field: "code",
                reason: format!("no {entity_name} with code {code}"),
            })?;
        if fields.is_empty() {
            return Err(LedgerError::InvalidInput { field: "fields", reason: "nothing to change".into() });
        }
        for (field, value) in &fields {
            if field == CREATED {
                return Err(invalid(format!("{field} cannot be edited")));
            }
            let col = column(spec, field).ok_or_else(|| invalid(format!("{entity_name} has no field {field}")))?;
            check_value(field, col, value)?;
        }
        let node = self.node()?.id;
        let node_id = self.node.as_ref().map(|n| n.id);
        crate::store::catch_up(&self.conn, &mut self.hlc, &mut self.data_version, node_id)?;
        let (hlc, now) = crate::store::stamp(&mut self.hlc, self.clock.as_ref());
        let change_id = self.ids.next_id(now);
        let mut base = BTreeMap::new();
        for field in fields.keys().filter(|f| spec.safety.contains(&f.as_str())) {
            if let Some(version) = field_version(&self.conn, spec.name, id, field)? {
                base.insert(field.clone(), version);
            }
        }
        let change = MasterChange {
            id: change_id,
            hlc: hlc.0,
            node_id: node,
            entity: spec.name.to_string(),
            entity_id: id,
            fields,
            base,
        };
        let tx = self.begin()?;
        let mut report = ApplyReport::default();
        let mut clock = hlc;
        apply_one(&tx, &Event::Master(change), now, &mut clock, &mut report)?;
        persist_hlc(&tx, hlc)?;
        tx.commit()?;
        Ok(())
    }

    /// Master-data fields edited concurrently on different nodes (neither
    /// writer had seen the other's value) where the field is a safety field:
    /// (entity, code, field, the competing values with their nodes).
    pub fn concurrent_safety_edits(&self) -> Result<Vec<SafetyConflict>> {
        let mut out = Vec::new();
        for spec in ENTITIES.iter().filter(|e| !e.safety.is_empty()) {
            let mut stmt = self.conn.prepare(
                "SELECT entity_id, hlc, node_id, fields, base FROM master_changes WHERE entity = ?1 ORDER BY entity_id, hlc",
            )?;
            let rows: Vec<(Uuid, i64, Uuid, String, String)> = stmt
                .query_map([spec.name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?
                .collect::<rusqlite::Result<_>>()?;
            // (entity, field) → versions: (hlc, node) → (value, base)
            let mut versions: BTreeMap<(Uuid, String), Vec<((i64, Uuid), Value, Option<(i64, Uuid)>)>> =
                BTreeMap::new();
            for (entity_id, hlc, node, fields, base) in rows {
                let fields: Map<String, Value> = serde_json::from_str(&fields).unwrap_or_default();
                let base: BTreeMap<String, (i64, Uuid)> = serde_json::from_str(&base).unwrap_or_default();
                for field in spec.safety {
                    if let Some(value) = fields.get(*field) {
                        versions.entry((entity_id, field.to_string())).or_default().push((
                            (hlc, node),
                            value.clone(),
                            base.get(*field).copied(),
                        ));
                    }
                }
            }
            for ((entity_id, field), list) in versions {
                let parents: BTreeMap<(i64, Uuid), Option<(i64, Uuid)>> =
                    list.iter().map(|(v, _, b)| (*v, *b)).collect();
                let ancestors = |mut v: (i64, Uuid)| {
                    let mut seen = BTreeSet::new();
                    while let Some(Some(parent)) = parents.get(&v) {
                        if !seen.insert(*parent) {
                            break;
                        }
                        v = *parent;
                    }
                    seen
                };
                let mut competing = BTreeSet::new();
                for (i, (a, va, _)) in list.iter().enumerate() {
                    for (b, vb, _) in list.iter().skip(i + 1) {
                        // A creation (no base) is an ancestor of everything after it on its entity.
                        let first = list.first().map(|(v, _, _)| *v);
                        let related = ancestors(*b).contains(a)
                            || ancestors(*a).contains(b)
                            || Some(*a) == first
                            || Some(*b) == first;
                        if a.1 != b.1 && va != vb && !related {
                            competing.insert((*a, va.to_string()));
                            competing.insert((*b, vb.to_string()));
                        }
                    }
                }
                if !competing.is_empty() {
                    let code: String = self
                        .conn
                        .query_row(
                            &format!("SELECT {} FROM {} WHERE id = ?1", spec.unique, spec.table),
                            [entity_id],
                            |r| r.get(0),
                        )
                        .optional()?
                        .unwrap_or_default();
                    out.push(SafetyConflict {
                        entity: spec.name.to_string(),
                        code,
                        field,
                        values: competing.into_iter().map(|((hlc, node), v)| (hlc, node.to_string(), v)).collect(),
                    });
                }
            }
        }
        Ok(out)
    }

    /// Codes (or usernames) claimed by more than one entity: the first created
    /// keeps it, the others show as `code~xxxxxxxx` until someone renames them.
    pub fn duplicate_codes(&self) -> Result<Vec<(String, String, Vec<String>)>> {
        let mut out = Vec::new();
        for spec in ENTITIES {
            let mut stmt = self.conn.prepare(&format!(
                "SELECT f.value, group_concat(t.{unique}, ' ') FROM master_fields f JOIN {table} t ON t.id = f.entity_id
                 WHERE f.entity = ?1 AND f.field = ?2 GROUP BY f.value HAVING count(*) > 1",
                unique = spec.unique,
                table = spec.table
            ))?;
            let rows: Vec<(String, String)> = stmt
                .query_map(params![spec.name, spec.unique], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            for (value, holders) in rows {
                let code: String = serde_json::from_str(&value).unwrap_or(value);
                out.push((spec.name.to_string(), code, holders.split(' ').map(str::to_string).collect()));
            }
        }
        Ok(out)
    }
}

/// A new workstation joining a server gives up its own accounts whose
/// usernames the server already has (every `init` makes an `admin`) if they
/// never acted and never left this node: the hospital's accounts take over,
/// and nobody finds their login renamed `admin~…` after the first sync. An
/// account that did something here stays (and is told apart by the rule for
/// duplicate codes).
fn retire_colliding_users(tx: &Transaction<'_>, me: Uuid, snapshot: &Snapshot) -> Result<()> {
    let server_names: HashSet<&str> = snapshot
        .changes
        .iter()
        .filter(|c| c.entity == "user")
        .filter_map(|c| c.fields.get("username").and_then(Value::as_str))
        .collect();
    let pushed: i64 =
        tx.query_row("SELECT coalesce((SELECT pushed_change_seq FROM sync_state), 0)", [], |r| r.get(0))?;
    let local: Vec<(Uuid, String)> = tx
        .prepare(
            "SELECT u.id, u.username FROM users u WHERE EXISTS (
                 SELECT 1 FROM master_changes c WHERE c.entity = 'user' AND c.entity_id = u.id AND c.node_id = ?1)
             AND NOT EXISTS (SELECT 1 FROM master_changes c WHERE c.entity = 'user' AND c.entity_id = u.id
                             AND (c.node_id <> ?1 OR c.seq <= ?2))",
        )?
        .query_map(params![me, pushed], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (id, username) in local {
        if !server_names.contains(username.as_str()) {
            continue;
        }
        // Foreign keys are checked at once here: an account something refers to stays.
        tx.execute_batch("SAVEPOINT retire")?;
        let gone = tx.execute("DELETE FROM users WHERE id = ?1", [id]);
        if gone.is_ok() {
            tx.execute("DELETE FROM master_fields WHERE entity = 'user' AND entity_id = ?1", [id])?;
            tx.execute("DELETE FROM master_changes WHERE entity = 'user' AND entity_id = ?1", [id])?;
            tx.execute_batch("RELEASE retire")?;
        } else {
            tx.execute_batch("ROLLBACK TO retire; RELEASE retire")?;
        }
    }
    Ok(())
}

/// Stores history a bootstrapped node lacks: documents and lots as usual,
/// movements unfolded (the snapshot's balances include them).
fn store_history(tx: &Transaction<'_>, history: &[Event], now: i64, hlc: &mut Hlc) -> Result<()> {
    let mut ignored = ApplyReport::default();
    for event in history {
        match event {
            Event::Movement(m) => {
                let record = MovementRecord::try_from(m)?;
                let exists: bool = tx
                    .prepare_cached("SELECT EXISTS(SELECT 1 FROM movements WHERE id = ?1)")?
                    .query_row([record.id], |r| r.get(0))?;
                if !exists {
                    crate::balance::record_unfolded(tx, &record, None)?;
                }
            }
            other => apply_one(tx, other, now, hlc, &mut ignored)?,
        }
    }
    Ok(())
}

/// Two or more values of a safety field written without seeing each other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SafetyConflict {
    /// Entity kind.
    pub entity: String,
    /// Its code now.
    pub code: String,
    /// Field.
    pub field: String,
    /// (HLC, node, value as JSON) of each competing version.
    pub values: Vec<(i64, String, String)>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The pull cursor reached, with the server's key of its event there (the
/// key goes with the cursor it belongs to, so it changes only when the cursor does).
fn store_cursor(tx: &Transaction<'_>, cursor: i64, key: Option<&str>) -> Result<()> {
    tx.execute(
        "UPDATE sync_state SET pull_cursor_key = CASE WHEN ?1 > pull_cursor OR (?1 = pull_cursor AND ?2 IS NOT NULL)
                 THEN ?2 ELSE pull_cursor_key END,
             pull_cursor = max(pull_cursor, ?1)",
        params![cursor, key],
    )?;
    Ok(())
}

/// `Ledger::mark_pushed` inside a transaction.
pub(crate) fn mark_pushed_in(tx: &Transaction<'_>, outbox: &Outbox) -> Result<()> {
    tx.execute(
        "UPDATE sync_state SET pushed_change_seq = max(pushed_change_seq, ?1),
             pushed_hlc = CASE WHEN push_generation = ?3 THEN max(pushed_hlc, ?2) ELSE pushed_hlc END",
        params![outbox.change_seq, outbox.hlc, outbox.generation],
    )?;
    Ok(())
}

fn master_change_row(row: &rusqlite::Row<'_>, from: usize) -> Result<MasterChange> {
    let fields: String = row.get(from + 5)?;
    let base: String = row.get(from + 6)?;
    Ok(MasterChange {
        id: row.get(from)?,
        hlc: row.get(from + 1)?,
        node_id: row.get(from + 2)?,
        entity: row.get(from + 3)?,
        entity_id: row.get(from + 4)?,
        fields: serde_json::from_str(&fields).map_err(|e| invalid(format!("stored change: {e}")))?,
        base: serde_json::from_str(&base).map_err(|e| invalid(format!("stored change: {e}")))?,
    })
}

fn field_version(conn: &rusqlite::Connection, entity: &str, id: Uuid, field: &str) -> Result<Option<(i64, Uuid)>> {
    Ok(conn
        .prepare_cached("SELECT hlc, node_id FROM master_fields WHERE entity = ?1 AND entity_id = ?2 AND field = ?3")?
        .query_row(params![entity, id, field], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

pub(crate) fn conflict_view(
    kind: &str,
    key: &[u8],
    origin: Option<Uuid>,
    stored: String,
    incoming: String,
) -> ConflictView {
    ConflictView { kind: kind.to_string(), key: hex(key), origin: origin.map(|u| u.to_string()), stored, incoming }
}

pub(crate) fn store_conflict(tx: &Transaction<'_>, c: &ConflictView, key: &[u8], now: i64) -> Result<()> {
    let origin = c.origin.as_deref().and_then(|o| Uuid::try_parse(o).ok());
    tx.prepare_cached(
        "INSERT OR IGNORE INTO sync_conflicts (event_kind, event_key, origin, received_ms, stored, incoming)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![c.kind, key, origin, now, c.stored, c.incoming])?;
    Ok(())
}

fn apply_one(tx: &Transaction<'_>, event: &Event, now: i64, hlc: &mut Hlc, report: &mut ApplyReport) -> Result<()> {
    let conflict = match event {
        Event::Master(change) => apply_master(tx, change, hlc, now)?,
        Event::Lot(lot) => apply_lot(tx, lot)?,
        Event::Document(doc) => apply_document(tx, doc)?,
        Event::Movement(m) => {
            let record = MovementRecord::try_from(m)?;
            match apply_movement_in(tx, &record, now, hlc)? {
                Ok(Applied::Inserted) => {
                    // Quarantine beats a concurrent release: what this movement completes.
                    crate::quarantine::after_apply(tx, &record, now)?;
                    None
                }
                Ok(Applied::Duplicate) => {
                    report.duplicates += 1;
                    return Ok(());
                }
                Err(stored) => Some(Event::Movement(MovementWire::from(&stored)).body()),
            }
        }
    };
    match conflict {
        None => report.applied += 1,
        Some(stored) if stored == event.body() => report.duplicates += 1,
        Some(stored) => {
            let key = event.key();
            let c = conflict_view(event.kind(), &key, event.origin(), stored, event.body());
            store_conflict(tx, &c, &key, now)?;
            report.conflicts.push(c);
        }
    }
    Ok(())
}

/// Applies a master change; returns the stored body if the same id came with other content.
fn apply_master(tx: &Transaction<'_>, change: &MasterChange, hlc: &mut Hlc, now: i64) -> Result<Option<String>> {
    let spec = entity(&change.entity)?;
    for (field, value) in &change.fields {
        let col = column(spec, field).ok_or_else(|| invalid(format!("{} has no field {field}", spec.name)))?;
        check_value(field, col, value)?;
    }
    let existing = tx
        .prepare_cached(
            "SELECT seq, id, hlc, node_id, entity, entity_id, fields, base FROM master_changes WHERE id = ?1",
        )?
        .query_row([change.id], |r| Ok(master_change_row(r, 1)))
        .optional()?
        .transpose()?;
    if let Some(existing) = existing {
        let stored = Event::Master(existing).body();
        return Ok(Some(stored));
    }
    tx.prepare_cached(
        "INSERT INTO master_changes (id, hlc, node_id, entity, entity_id, fields, base) VALUES (?1,?2,?3,?4,?5,?6,?7)",
    )?
    .execute(params![
        change.id,
        change.hlc,
        change.node_id,
        change.entity,
        change.entity_id,
        serde_json::to_string(&change.fields).expect("json"),
        serde_json::to_string(&change.base).expect("json"),
    ])?;
    let mut changed = false;
    for (field, value) in &change.fields {
        let current = field_version(tx, spec.name, change.entity_id, field)?;
        if current.is_none_or(|v| (change.hlc, change.node_id) > v) {
            tx.prepare_cached(
                "INSERT INTO master_fields (entity, entity_id, field, value, hlc, node_id) VALUES (?1,?2,?3,?4,?5,?6)
                 ON CONFLICT(entity, entity_id, field) DO UPDATE SET value = excluded.value, hlc = excluded.hlc,
                     node_id = excluded.node_id",
            )?
            .execute(params![
                spec.name,
                change.entity_id,
                field,
                value.to_string(),
                change.hlc,
                change.node_id
            ])?;
            changed = true;
        }
    }
    if changed {
        materialise(tx, spec, change.entity_id)?;
    }
    let remote = Hlc(change.hlc);
    if remote.physical_ms() <= now + crate::apply::CLOCK_PULL_MAX_MS && remote > *hlc {
        *hlc = remote;
    }
    Ok(None)
}

/// Writes the entity's row from its winning field values (once its creation
/// has arrived), then settles who holds its code and identifiers.
fn materialise(tx: &Transaction<'_>, spec: &Entity, id: Uuid) -> Result<()> {
    let fields: BTreeMap<String, Value> = tx
        .prepare_cached("SELECT field, value FROM master_fields WHERE entity = ?1 AND entity_id = ?2")?
        .query_map(params![spec.name, id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
        .map(|row| row.map(|(f, v)| (f, serde_json::from_str(&v).unwrap_or(Value::Null))))
        .collect::<rusqlite::Result<_>>()?;
    let Some(created) = fields.get(CREATED).and_then(Value::as_i64) else {
        return Ok(()); // an edit that arrived before its entity's creation
    };
    let old_code: Option<String> = tx
        .query_row(&format!("SELECT {} FROM {} WHERE id = ?1", spec.unique, spec.table), [id], |r| r.get(0))
        .optional()?;
    let mut names = vec!["id".to_string()];
    let mut values: Vec<SqlValue> = vec![SqlValue::Blob(id.as_bytes().to_vec())];
    for (name, col) in spec.columns {
        let value = fields.get(*name).cloned().unwrap_or(Value::Null);
        names.push(name.to_string());
        if *name == spec.unique {
            // Written under a name of its own first; `settle_code` gives out the plain code.
            let plain = value.as_str().unwrap_or_default();
            values.push(SqlValue::Text(suffixed(plain, id)));
        } else {
            values.push(sql_value(*col, &value));
        }
    }
    names.push(CREATED.to_string());
    values.push(SqlValue::Integer(created));
    let placeholders: Vec<String> = (1..=names.len()).map(|i| format!("?{i}")).collect();
    let updates: Vec<String> = names[1..names.len() - 1].iter().map(|n| format!("{n} = excluded.{n}")).collect();
    let sql = format!(
        "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT(id) DO UPDATE SET {}",
        spec.table,
        names.join(", "),
        placeholders.join(", "),
        updates.join(", ")
    );
    tx.prepare_cached(&sql)?.execute(rusqlite::params_from_iter(values))?;
    let new_code = fields.get(spec.unique).and_then(Value::as_str).unwrap_or_default().to_string();
    settle_code(tx, spec, &new_code)?;
    if let Some(old) = old_code {
        let old_plain = old.split('~').next().unwrap_or_default().to_string();
        if old_plain != new_code {
            settle_code(tx, spec, &old_plain)?;
        }
    }
    if spec.name == "item" {
        let mut identifiers: BTreeSet<String> =
            fields.keys().filter_map(|f| f.strip_prefix(IDENTIFIER_PREFIX)).map(str::to_string).collect();
        let held: Vec<String> = tx
            .prepare_cached("SELECT identifier FROM item_identifiers WHERE item_id = ?1")?
            .query_map([id], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        identifiers.extend(held);
        for identifier in identifiers {
            settle_identifier(tx, &identifier)?;
        }
    }
    Ok(())
}

fn suffixed(code: &str, id: Uuid) -> String {
    let hex = id.simple().to_string();
    format!("{code}~{}", &hex[hex.len() - 8..])
}

/// Gives `code` to the first-created entity claiming it; the others keep a suffixed code.
fn settle_code(tx: &Transaction<'_>, spec: &Entity, code: &str) -> Result<()> {
    let claimants: Vec<Uuid> = tx
        .prepare_cached(&format!(
            "SELECT t.id FROM master_fields f JOIN {table} t ON t.id = f.entity_id
             WHERE f.entity = ?1 AND f.field = ?2 AND f.value = ?3 ORDER BY t.created_hlc, t.id",
            table = spec.table
        ))?
        .query_map(params![spec.name, spec.unique, Value::String(code.to_string()).to_string()], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let set = format!("UPDATE {} SET {} = ?2 WHERE id = ?1 AND {} <> ?2", spec.table, spec.unique, spec.unique);
    for id in claimants.iter().skip(1) {
        tx.prepare_cached(&set)?.execute(params![id, suffixed(code, *id)])?;
    }
    if let Some(first) = claimants.first() {
        tx.prepare_cached(&set)?.execute(params![first, code])?;
    }
    Ok(())
}

/// Gives an identifier to the first-created item that lists it.
fn settle_identifier(tx: &Transaction<'_>, identifier: &str) -> Result<()> {
    let winner: Option<(Uuid, String)> = tx
        .prepare_cached(
            "SELECT t.id, f.value FROM master_fields f JOIN items t ON t.id = f.entity_id
             WHERE f.entity = 'item' AND f.field = ?1 AND f.value <> 'null' ORDER BY t.created_hlc, t.id LIMIT 1",
        )?
        .query_row([format!("{IDENTIFIER_PREFIX}{identifier}")], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    tx.prepare_cached("DELETE FROM item_identifiers WHERE identifier = ?1")?.execute([identifier])?;
    if let Some((item, scheme)) = winner {
        let scheme: String = serde_json::from_str(&scheme).unwrap_or(scheme);
        tx.prepare_cached("INSERT INTO item_identifiers (identifier, scheme, item_id) VALUES (?1, ?2, ?3)")?
            .execute(params![identifier, scheme, item])?;
    }
    Ok(())
}

/// Records a master-data row this node just wrote as its creation change.
pub(crate) fn capture_created(
    tx: &Transaction<'_>,
    entity_name: &str,
    entity_id: Uuid,
    change_id: Uuid,
    node: Uuid,
    hlc: i64,
) -> Result<()> {
    let spec = entity(entity_name)?;
    let mut parts: Vec<String> = spec
        .columns
        .iter()
        .map(|(name, col)| match col {
            Col::Id => format!("'{name}', CASE WHEN {name} IS NULL THEN NULL ELSE lower(hex({name})) END"),
            _ => format!("'{name}', {name}"),
        })
        .collect();
    parts.push(format!("'{CREATED}', {CREATED}"));
    let object: String = tx.query_row(
        &format!("SELECT json_object({}) FROM {} WHERE id = ?1", parts.join(", "), spec.table),
        [entity_id],
        |r| r.get(0),
    )?;
    let mut fields: BTreeMap<String, Value> = serde_json::from_str(&object).map_err(|e| invalid(e.to_string()))?;
    if spec.name == "item" {
        let mut stmt = tx.prepare_cached("SELECT identifier, scheme FROM item_identifiers WHERE item_id = ?1")?;
        let rows = stmt.query_map([entity_id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        for row in rows {
            let (identifier, scheme) = row?;
            fields.insert(format!("{IDENTIFIER_PREFIX}{identifier}"), Value::String(scheme));
        }
    }
    tx.prepare_cached(
        "INSERT INTO master_changes (id, hlc, node_id, entity, entity_id, fields) VALUES (?1,?2,?3,?4,?5,?6)",
    )?
    .execute(params![
        change_id,
        hlc,
        node,
        spec.name,
        entity_id,
        serde_json::to_string(&fields).expect("json")
    ])?;
    for (field, value) in &fields {
        tx.prepare_cached(
            "INSERT INTO master_fields (entity, entity_id, field, value, hlc, node_id) VALUES (?1,?2,?3,?4,?5,?6)
             ON CONFLICT(entity, entity_id, field) DO UPDATE SET value = excluded.value, hlc = excluded.hlc,
                 node_id = excluded.node_id",
        )?
        .execute(params![spec.name, entity_id, field, value.to_string(), hlc, node])?;
    }
    Ok(())
}

fn apply_lot(tx: &Transaction<'_>, lot: &LotRecord) -> Result<Option<String>> {
    let stored: Option<(Option<String>, Option<String>)> = tx
        .prepare_cached("SELECT expires_on, produced_on FROM lots WHERE item_id = ?1 AND lot = ?2")?
        .query_row(params![lot.item_id, lot.lot], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    for date in [&lot.expires_on, &lot.produced_on].into_iter().flatten() {
        chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").map_err(|_| invalid(format!("bad date {date}")))?;
    }
    if lot.lot.chars().count() > crate::master::TEXT_FIELD_MAX {
        return Err(invalid("lot number too long".into()));
    }
    if let Some((expires_on, produced_on)) = stored {
        let stored = LotRecord { item_id: lot.item_id, lot: lot.lot.clone(), expires_on, produced_on };
        if stored == *lot {
            return Ok(Some(Event::Lot(stored).body()));
        }
        // Two workstations received the lot with different dates (a typo on one label).
        // Every node keeps the same version — the earlier expiry, the safer one — and
        // lists the disagreement for review; both versions travel.
        let rank = |l: &LotRecord| {
            (l.expires_on.is_none(), l.expires_on.clone(), l.produced_on.is_none(), l.produced_on.clone())
        };
        let (keep, other) = if rank(lot) < rank(&stored) { (lot.clone(), stored) } else { (stored, lot.clone()) };
        let conflict = conflict_view(
            "lot_dates",
            &Event::Lot(keep.clone()).key(),
            None,
            Event::Lot(keep.clone()).body(),
            Event::Lot(other).body(),
        );
        store_conflict(tx, &conflict, &Event::Lot(keep.clone()).key(), 0)?;
        tx.prepare_cached("UPDATE lots SET expires_on = ?3, produced_on = ?4 WHERE item_id = ?1 AND lot = ?2")?
            .execute(params![keep.item_id, keep.lot, keep.expires_on, keep.produced_on])?;
        tx.prepare_cached("UPDATE balances SET expires_on = ?3 WHERE item_id = ?1 AND lot = ?2")?.execute(params![
            keep.item_id,
            keep.lot,
            keep.expires_on
        ])?;
        return Ok(None);
    }
    tx.prepare_cached("INSERT INTO lots (item_id, lot, expires_on, produced_on, created_hlc) VALUES (?1,?2,?3,?4,0)")?
        .execute(params![lot.item_id, lot.lot, lot.expires_on, lot.produced_on])?;
    // Keys that arrived before their lot learn its expiry.
    tx.prepare_cached("UPDATE balances SET expires_on = ?3 WHERE item_id = ?1 AND lot = ?2")?.execute(params![
        lot.item_id,
        lot.lot,
        lot.expires_on
    ])?;
    Ok(None)
}

fn document_record(conn: &rusqlite::Connection, id: Uuid) -> Result<Option<DocumentRecord>> {
    let header = conn
        .prepare_cached(
            "SELECT kind, number, node_id, created_by, created_at_ms, posted_by, posted_hlc, posted_at_ms, location_id,
                to_location_id, department_id, supplier_id, override_by, reason, corrects_document, note
             FROM documents WHERE id = ?1 AND status = 'posted'",
        )?
        .query_row([id], |r| {
            Ok(DocumentRecord {
                id,
                kind: r.get(0)?,
                number: r.get(1)?,
                node_id: r.get(2)?,
                created_by: r.get(3)?,
                created_at_ms: r.get(4)?,
                posted_by: r.get(5)?,
                posted_hlc: r.get(6)?,
                posted_at_ms: r.get(7)?,
                location_id: r.get(8)?,
                to_location_id: r.get(9)?,
                department_id: r.get(10)?,
                supplier_id: r.get(11)?,
                override_by: r.get(12)?,
                reason: r.get(13)?,
                corrects_document: r.get(14)?,
                note: r.get(15)?,
                lines: Vec::new(),
            })
        })
        .optional()?;
    let Some(mut header) = header else { return Ok(None) };
    header.lines = conn
        .prepare_cached(
            "SELECT line_no, item_id, lot, expires_on, produced_on, serial, quantity, unit_cost FROM document_lines
             WHERE document_id = ?1 ORDER BY line_no",
        )?
        .query_map([id], |r| {
            Ok(DocumentLineRecord {
                line_no: r.get(0)?,
                item_id: r.get(1)?,
                lot: r.get(2)?,
                expires_on: r.get(3)?,
                produced_on: r.get(4)?,
                serial: r.get(5)?,
                quantity: r.get(6)?,
                unit_cost: r.get(7)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Some(header))
}

fn apply_document(tx: &Transaction<'_>, doc: &DocumentRecord) -> Result<Option<String>> {
    let local: Option<(String, Uuid)> = tx
        .prepare_cached("SELECT status, node_id FROM documents WHERE id = ?1")?
        .query_row([doc.id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    match local {
        // Drafts never travel: this node's own draft came back posted — it was posted and
        // sent after the copy this workstation was restored from was made (crate::lineage).
        // It becomes that posted document (its lines as posted), as if posted here again.
        Some((status, node)) if status == "draft" && node == doc.node_id => {
            tx.prepare_cached("DELETE FROM document_lines WHERE document_id = ?1")?.execute([doc.id])?;
            // A stocktake's session closes with it: it cannot be posted a second time.
            tx.prepare_cached("UPDATE stocktakes SET status = 'posted' WHERE document_id = ?1")?.execute([doc.id])?;
        }
        Some(_) => {
            let stored = document_record(tx, doc.id)?.map(|d| Event::Document(d).body()).unwrap_or_default();
            return Ok(Some(stored));
        }
        None => {}
    }
    if crate::model::DocumentKind::parse(&doc.kind).is_none() {
        return Err(invalid(format!("unknown document kind {}", doc.kind)));
    }
    // A number held by another document (not by this very document as a draft: a stocktake
    // is numbered when its counting starts).
    let taken = |number: &str| -> Result<bool> {
        Ok(tx
            .prepare_cached("SELECT EXISTS(SELECT 1 FROM documents WHERE number = ?1 AND id <> ?2)")?
            .query_row(params![number, doc.id], |r| r.get(0))?)
    };
    if let Some(number) = &doc.number {
        let taken = taken(number)?;
        if taken {
            // Two nodes with one site code (a restored or copied database) numbered a
            // document alike: it is kept under a number of its own, so its movements
            // apply, and the clash is listed for review.
            let conflict = conflict_view(
                "document_number",
                doc.id.as_bytes(),
                Some(doc.node_id),
                format!("{{\"number\":{}}}", Value::String(number.clone())),
                Event::Document(doc.clone()).body(),
            );
            store_conflict(tx, &conflict, doc.id.as_bytes(), 0)?;
        }
    }
    if doc.lines.len() > crate::posting::DOCUMENT_LINES_MAX || doc.note.chars().count() > crate::posting::NOTE_MAX {
        return Err(invalid(format!("document {} is over the limits", doc.id)));
    }
    if doc.lines.iter().any(|l| l.quantity.abs() > crate::posting::LINE_QUANTITY_MAX) {
        return Err(invalid(format!("document {} has a quantity over the limit", doc.id)));
    }
    let number = match &doc.number {
        Some(n) if taken(n)? => Some(suffixed(n, doc.id)),
        other => other.clone(),
    };
    for line in &doc.lines {
        tx.prepare_cached(
            "INSERT INTO document_lines (document_id, line_no, item_id, lot, expires_on, produced_on, serial, quantity,
                unit_cost) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)",
        )?
        .execute(params![
            doc.id,
            line.line_no,
            line.item_id,
            line.lot,
            line.expires_on,
            line.produced_on,
            line.serial,
            line.quantity,
            line.unit_cost
        ])?;
    }
    tx.prepare_cached(
        "INSERT INTO documents (id, kind, number, status, node_id, created_by, created_at_ms, posted_by, posted_hlc,
            posted_at_ms, location_id, to_location_id, department_id, supplier_id, override_by, reason,
            corrects_document, note)
         VALUES (?1,?2,?3,'posted',?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17)
         ON CONFLICT(id) DO UPDATE SET kind = excluded.kind, number = excluded.number, status = 'posted',
             created_by = excluded.created_by, created_at_ms = excluded.created_at_ms,
             posted_by = excluded.posted_by, posted_hlc = excluded.posted_hlc, posted_at_ms = excluded.posted_at_ms,
             location_id = excluded.location_id, to_location_id = excluded.to_location_id,
             department_id = excluded.department_id, supplier_id = excluded.supplier_id,
             override_by = excluded.override_by, reason = excluded.reason,
             corrects_document = excluded.corrects_document, note = excluded.note",
    )?
    .execute(params![
        doc.id,
        doc.kind,
        number,
        doc.node_id,
        doc.created_by,
        doc.created_at_ms,
        doc.posted_by,
        doc.posted_hlc,
        doc.posted_at_ms,
        doc.location_id,
        doc.to_location_id,
        doc.department_id,
        doc.supplier_id,
        doc.override_by,
        doc.reason,
        doc.corrects_document,
        doc.note
    ])?;
    Ok(None)
}

/// A node enrolled at the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolledNode {
    /// Node id.
    pub node_id: Uuid,
    /// Its site code.
    pub site_code: String,
    /// Wall ms of enrolment.
    pub enrolled_ms: i64,
    /// Wall ms of revocation.
    pub revoked_ms: Option<i64>,
    /// Wall ms of its last request.
    pub last_seen_ms: Option<i64>,
}

/// The outcome of an enrolment attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enrolment {
    /// The node is enrolled with a new token.
    Enrolled,
    /// Unknown, used or expired code.
    BadCode,
    /// The code was made for another site.
    SiteMismatch {
        /// The site the code is for.
        code_site: String,
    },
    /// Another active workstation (or the server) has this site code.
    SiteTaken,
}

/// How long an enrolment code stays valid.
pub const ENROLMENT_VALID_MS: i64 = 24 * 3_600_000;

impl Ledger {
    /// Server: stores a one-time enrolment code (its SHA-256) for a site.
    pub fn server_add_enrolment(&mut self, site_code: &str, code_sha256: &[u8]) -> Result<()> {
        crate::store::validate_site_code(site_code)?;
        let now = self.clock.now_ms();
        self.conn.execute(
            "INSERT INTO sync_enrolments (code_sha256, site_code, created_ms, expires_ms) VALUES (?1, ?2, ?3, ?4)",
            params![code_sha256, site_code, now, now + ENROLMENT_VALID_MS],
        )?;
        Ok(())
    }

    /// Server: uses an enrolment code for `node_id` of site `site_code`, storing its token's hash.
    pub fn server_enrol(
        &mut self,
        code_sha256: &[u8],
        node_id: Uuid,
        site_code: &str,
        token_sha256: &[u8],
    ) -> Result<Enrolment> {
        let now = self.clock.now_ms();
        let tx = self.begin()?;
        let site: Option<String> = tx
            .query_row(
                "SELECT site_code FROM sync_enrolments WHERE code_sha256 = ?1 AND used_by IS NULL AND expires_ms > ?2",
                params![code_sha256, now],
                |r| r.get(0),
            )
            .optional()?;
        let Some(site) = site else { return Ok(Enrolment::BadCode) };
        // Document numbers carry the site code: two workstations sharing one would number alike.
        if site != site_code {
            return Ok(Enrolment::SiteMismatch { code_site: site });
        }
        let taken: bool = tx.query_row(
            "SELECT EXISTS(SELECT 1 FROM sync_nodes WHERE site_code = ?1 AND node_id <> ?2 AND revoked_ms IS NULL)
                 OR EXISTS(SELECT 1 FROM node WHERE site_code = ?1)",
            params![site, node_id],
            |r| r.get(0),
        )?;
        if taken {
            return Ok(Enrolment::SiteTaken);
        }
        tx.execute(
            "UPDATE sync_enrolments SET used_by = ?2, used_ms = ?3 WHERE code_sha256 = ?1",
            params![code_sha256, node_id, now],
        )?;
        tx.execute(
            "INSERT INTO sync_nodes (node_id, site_code, token_sha256, enrolled_ms) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(node_id) DO UPDATE SET site_code = excluded.site_code, token_sha256 = excluded.token_sha256,
                 enrolled_ms = excluded.enrolled_ms, revoked_ms = NULL",
            params![node_id, site, token_sha256, now],
        )?;
        tx.commit()?;
        Ok(Enrolment::Enrolled)
    }

    /// Movements stamped further ahead of this computer's clock than a clock
    /// may be pulled (`CLOCK_PULL_MAX_MS`): kept and applied, listed for review
    /// (a workstation whose date was wrong). (id, node, HLC physical ms, kind, quantity.)
    pub fn future_movements(&self) -> Result<Vec<(String, String, i64, String, i64)>> {
        let limit = crate::clock::Hlc::from_physical_ms(self.clock.now_ms() + crate::apply::CLOCK_PULL_MAX_MS).0;
        let mut stmt = self
            .conn
            .prepare("SELECT id, node_id, hlc, kind, quantity FROM movements WHERE hlc > ?1 ORDER BY hlc, node_id")?;
        let rows = stmt
            .query_map([limit], |r| {
                Ok((
                    r.get::<_, Uuid>(0)?.to_string(),
                    r.get::<_, Uuid>(1)?.to_string(),
                    Hlc(r.get(2)?).physical_ms(),
                    r.get(3)?,
                    r.get(4)?,
                ))
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Movements corrected more than once (two workstations corrected the same
    /// document before they synced): (corrected movement, its correcting movements).
    pub fn double_corrections(&self) -> Result<Vec<(String, Vec<String>)>> {
        let mut stmt = self.conn.prepare(
            "SELECT corrects, group_concat(lower(hex(id)), ' ') FROM movements WHERE corrects IS NOT NULL
             GROUP BY corrects HAVING count(*) > 1 ORDER BY corrects",
        )?;
        let rows = stmt
            .query_map([], |r| {
                let corrected: Uuid = r.get(0)?;
                let by: String = r.get(1)?;
                Ok((corrected.to_string(), by.split(' ').map(str::to_string).collect()))
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Server: the node a token belongs to, with whether it was revoked.
    pub fn server_authenticate(&mut self, token_sha256: &[u8]) -> Result<Option<(Uuid, bool)>> {
        let now = self.clock.now_ms();
        let found: Option<(Uuid, Option<i64>)> = self
            .conn
            .prepare_cached("SELECT node_id, revoked_ms FROM sync_nodes WHERE token_sha256 = ?1")?
            .query_row([token_sha256], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        if let Some((node, None)) = found {
            self.conn
                .prepare_cached("UPDATE sync_nodes SET last_seen_ms = ?2 WHERE node_id = ?1")?
                .execute(params![node, now])?;
        }
        Ok(found.map(|(node, revoked)| (node, revoked.is_some())))
    }

    /// Server: revokes every node enrolled for a site code, or the node with that id.
    pub fn server_revoke(&mut self, site_or_node: &str) -> Result<usize> {
        let now = self.clock.now_ms();
        let node = Uuid::try_parse(site_or_node).ok();
        let changed = self.conn.execute(
            "UPDATE sync_nodes SET revoked_ms = ?3 WHERE (site_code = ?1 OR node_id = ?2) AND revoked_ms IS NULL",
            params![site_or_node, node, now],
        )?;
        Ok(changed)
    }

    /// Server: enrolled nodes.
    pub fn server_nodes(&self) -> Result<Vec<EnrolledNode>> {
        let mut stmt = self.conn.prepare(
            "SELECT node_id, site_code, enrolled_ms, revoked_ms, last_seen_ms FROM sync_nodes ORDER BY site_code",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok(EnrolledNode {
                    node_id: r.get(0)?,
                    site_code: r.get(1)?,
                    enrolled_ms: r.get(2)?,
                    revoked_ms: r.get(3)?,
                    last_seen_ms: r.get(4)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }
}

/// One balance as a snapshot carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BalanceRecord {
    /// Item.
    pub item_id: Uuid,
    /// Lot ('' none).
    pub lot: String,
    /// Serial ('' none).
    pub serial: String,
    /// Location.
    pub location_id: Uuid,
    /// Status.
    pub status: String,
    /// Quantity.
    pub quantity: i64,
    /// The key's newest count, (HLC, node).
    pub last_count: Option<(i64, Uuid)>,
}

/// What a new workstation starts from instead of replaying history: the
/// master data (its whole change log, so the same registers result), lots and
/// balances, as of the server sequence `cursor`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The server sequence the snapshot reflects.
    pub cursor: i64,
    /// Master-data changes.
    pub changes: Vec<MasterChange>,
    /// Lots.
    pub lots: Vec<LotRecord>,
    /// Balances.
    pub balances: Vec<BalanceRecord>,
    /// Movements stamped after the joining node's clock (a node whose clock
    /// runs ahead made them): a count the new node takes will fold over them.
    #[serde(default)]
    pub history: Vec<Event>,
    /// The key of the server's event at `cursor` (stored with it, presented with the next pull).
    #[serde(default)]
    pub cursor_key: Option<String>,
}

/// At most this many movements from the ambiguity window before a new
/// workstation's clock travel in its snapshot (see `Ledger::server_snapshot`).
pub const SNAPSHOT_RECENT_MAX: i64 = 10_000;

impl Ledger {
    /// Server: a snapshot of everything as of now, read in one transaction,
    /// for a node whose clock stands at `since_hlc`.
    pub fn server_snapshot(&mut self, since_hlc: i64) -> Result<Snapshot> {
        self.server_snapshot_for(None, since_hlc)
    }

    /// `server_snapshot` for `node`: it also carries the documents of its site's
    /// number series (`node`'s own, and those of workstations it replaces with
    /// the same site code) — none for a first workstation of a site; for one put
    /// back from a copy taken before its first sync, or started afresh, they keep
    /// its series from starting over.
    pub fn server_snapshot_for(&mut self, node: Option<Uuid>, since_hlc: i64) -> Result<Snapshot> {
        self.server_publish_own()?;
        let tx = self.conn.unchecked_transaction()?;
        let cursor: i64 = tx.query_row("SELECT coalesce(max(seq), 0) FROM sync_events", [], |r| r.get(0))?;
        let mut changes = Vec::new();
        {
            let mut stmt = tx
                .prepare("SELECT id, hlc, node_id, entity, entity_id, fields, base FROM master_changes ORDER BY seq")?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                changes.push(master_change_row(row, 0)?);
            }
        }
        let lots = tx
            .prepare("SELECT item_id, lot, expires_on, produced_on FROM lots ORDER BY item_id, lot")?
            .query_map([], |r| {
                Ok(LotRecord { item_id: r.get(0)?, lot: r.get(1)?, expires_on: r.get(2)?, produced_on: r.get(3)? })
            })?
            .collect::<rusqlite::Result<_>>()?;
        let balances = tx
            .prepare(
                "SELECT item_id, lot, serial, location_id, status, quantity, last_count_hlc, last_count_node
                 FROM balances ORDER BY key_id",
            )?
            .query_map([], |r| {
                let hlc: Option<i64> = r.get(6)?;
                let node: Option<Uuid> = r.get(7)?;
                Ok(BalanceRecord {
                    item_id: r.get(0)?,
                    lot: r.get(1)?,
                    serial: r.get(2)?,
                    location_id: r.get(3)?,
                    status: r.get(4)?,
                    quantity: r.get(5)?,
                    last_count: hlc.zip(node),
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        // Movements ahead of the new node's clock (a count it takes will fold over them).
        let mut ahead: Vec<MovementRecord> = tx
            .prepare(&format!("{} WHERE hlc > ?1 ORDER BY hlc, node_id", crate::apply::RECORD_SELECT))?
            .query_map([since_hlc], crate::apply::record_row)?
            .collect::<rusqlite::Result<_>>()?;
        // And the newest of those within the ambiguity window before it: a count it takes in
        // its first minutes is listed with them for review, as the server lists it
        // (crate::review). At most SNAPSHOT_RECENT_MAX: a hospital makes a few dozen movements
        // in five minutes; a bulk import just before a workstation joins would otherwise ship
        // its whole self as history.
        let bits = crate::clock::HLC_COUNTER_BITS;
        let recent = ((since_hlc >> bits) - crate::review::COUNT_AMBIGUITY_WINDOW_MS).max(0) << bits;
        ahead.extend(
            tx.prepare(&format!(
                "{} WHERE hlc >= ?1 AND hlc <= ?2 ORDER BY hlc DESC, node_id DESC LIMIT ?3",
                crate::apply::RECORD_SELECT
            ))?
            .query_map(params![recent, since_hlc, SNAPSHOT_RECENT_MAX], crate::apply::record_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?,
        );
        // Who holds the stock in quarantine now: the excursion movements of every key with
        // quarantined stock, so that an excursion the new node opens names them in its holds
        // (crate::quarantine) and a release elsewhere that did not know of it is undone.
        ahead.extend(
            tx.prepare(&format!(
                "{} WHERE key_id IN (SELECT key_id FROM balances WHERE status = 'quarantined' AND quantity <> 0)
                   AND note LIKE 'excursion %'",
                crate::apply::RECORD_SELECT
            ))?
            .query_map([], crate::apply::record_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?,
        );
        // Each key's newest count and the movements within the ambiguity window around it, so
        // that the new node lists the same ambiguous counts (crate::review) — now and when a
        // movement made offline lands in such a window later.
        ahead.extend(
            tx.prepare(&format!(
                "{} WHERE id IN (SELECT m.id FROM balances b JOIN movements m ON m.key_id = b.key_id
                     AND m.hlc BETWEEN (((b.last_count_hlc >> ?2) - ?1) << ?2)
                                   AND ((((b.last_count_hlc >> ?2) + ?1 + 1) << ?2) - 1)
                   WHERE b.last_count_hlc IS NOT NULL)",
                crate::apply::RECORD_SELECT
            ))?
            .query_map(
                params![crate::review::COUNT_AMBIGUITY_WINDOW_MS, crate::clock::HLC_COUNTER_BITS],
                crate::apply::record_row,
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?,
        );
        // The newest document of each of the node's site's number series: its series goes on.
        let mut series_heads = Vec::new();
        let site: Option<String> = match node {
            Some(node) => {
                tx.query_row("SELECT site_code FROM sync_nodes WHERE node_id = ?1", [node], |r| r.get(0)).optional()?
            }
            None => None,
        };
        if let Some(site) = site {
            for kind in crate::model::DocumentKind::ALL {
                let next = crate::posting::next_number(&tx, *kind, &site)?;
                let series = format!("{}-{site}-", crate::posting::number_prefix(*kind));
                let Some(counter) = next.strip_prefix(series.as_str()).and_then(|c| c.parse::<u64>().ok()) else {
                    continue;
                };
                if counter > 1 {
                    let newest = crate::posting::format_number(&series, counter - 1);
                    series_heads.extend(
                        tx.prepare_cached(
                            "SELECT id FROM documents WHERE number >= ?1 AND number < ?1 || ':' LIMIT 1",
                        )?
                        .query_row([&newest], |r| r.get::<_, Uuid>(0))
                        .optional()?,
                    );
                }
            }
        }
        let history = self.with_documents(ahead, series_heads, cursor)?;
        let cursor_key = self.server_event_key_at(cursor)?;
        tx.finish()?;
        Ok(Snapshot { cursor, changes, lots, balances, history, cursor_key })
    }

    /// Does this node hold nothing a snapshot would overwrite (no movements, nothing pulled)?
    pub fn is_fresh(&self) -> Result<bool> {
        let pulled: i64 =
            self.conn.query_row("SELECT coalesce((SELECT pull_cursor FROM sync_state), 0)", [], |r| r.get(0))?;
        let moved: bool = self.conn.query_row("SELECT EXISTS(SELECT 1 FROM movements)", [], |r| r.get(0))?;
        Ok(pulled == 0 && !moved)
    }

    /// Starts this (fresh) workstation from a server snapshot, in one
    /// transaction: master data, lots, balances (kept as openings), and the
    /// cursor to pull on from.
    pub fn bootstrap(&mut self, snapshot: &Snapshot) -> Result<()> {
        if !self.is_fresh()? {
            return Err(LedgerError::InvalidInput {
                field: "snapshot",
                reason: "this workstation already holds movements; it syncs from where it is".into(),
            });
        }
        let me = self.node()?.id;
        let now = self.clock.now_ms();
        let local_hlc = self.hlc;
        let mut hlc = local_hlc;
        let tx = self.begin()?;
        retire_colliding_users(&tx, me, snapshot)?;
        tx.execute_batch("PRAGMA defer_foreign_keys = ON")?;
        let mut report = ApplyReport::default();
        for change in &snapshot.changes {
            apply_one(&tx, &Event::Master(change.clone()), now, &mut hlc, &mut report)?;
        }
        for lot in &snapshot.lots {
            apply_one(&tx, &Event::Lot(lot.clone()), now, &mut hlc, &mut report)?;
        }
        for b in &snapshot.balances {
            let status =
                StockStatus::parse(&b.status).ok_or_else(|| invalid(format!("unknown status {}", b.status)))?;
            tx.prepare_cached(
                "INSERT INTO balances (item_id, lot, serial, location_id, status, expires_on, quantity, last_count_hlc,
                     last_count_node)
                 VALUES (?1, ?2, ?3, ?4, ?5, (SELECT expires_on FROM lots WHERE item_id = ?1 AND lot = ?2), ?6, ?7, ?8)",
            )?
            .execute(params![
                b.item_id,
                b.lot,
                b.serial,
                b.location_id,
                status.as_str(),
                b.quantity,
                b.last_count.map(|c| c.0),
                b.last_count.map(|c| c.1)
            ])?;
            tx.prepare_cached("INSERT INTO balance_openings (key_id, quantity) VALUES (?1, ?2)")?
                .execute(params![tx.last_insert_rowid(), b.quantity])?;
        }
        store_history(&tx, &snapshot.history, now, &mut hlc)?;
        tx.execute(
            "UPDATE sync_state SET pull_cursor = ?1, pull_cursor_key = ?2, horizon = ?1",
            params![snapshot.cursor, snapshot.cursor_key],
        )?;
        if hlc > local_hlc {
            persist_hlc(&tx, hlc)?;
        }
        tx.commit()?;
        self.hlc = self.hlc.max(hlc);
        Ok(())
    }

    /// The server sequence this workstation's snapshot was taken at, if it started from one.
    pub fn sync_horizon(&self) -> Result<Option<i64>> {
        Ok(self.conn.query_row("SELECT horizon FROM sync_state", [], |r| r.get(0)).optional()?.flatten())
    }

    /// Server: what a node bootstrapped at `horizon` lacks to apply `events`:
    /// for each count, the key's movements after it that reached the server at
    /// or before `horizon` (a count folds over them) and those within the
    /// ambiguity window before it (for review); and any document or
    /// movement an event refers to that the node's snapshot only summed up —
    /// with their documents, recursively.
    pub fn server_history(&self, events: &[Event], horizon: i64) -> Result<Vec<Event>> {
        let mut movements: Vec<MovementRecord> = Vec::new();
        let mut wanted_docs: Vec<Uuid> = Vec::new();
        let mut wanted_moves: Vec<Uuid> = Vec::new();
        let seq_of = |kind: &str, key: &[u8]| -> Result<Option<i64>> {
            Ok(self
                .conn
                .prepare_cached("SELECT seq FROM sync_events WHERE event_kind = ?1 AND event_key = ?2")?
                .query_row(params![kind, key], |r| r.get(0))
                .optional()?)
        };
        for event in events {
            match event {
                Event::Movement(m) => {
                    wanted_docs.extend(m.document_id);
                    wanted_moves.extend(m.corrects);
                    if m.kind == MovementKind::Count.as_str() {
                        let mut stmt = self.conn.prepare_cached(&format!(
                            "{} WHERE item_id = ?1 AND lot = ?2 AND serial = ?3 AND location_id = ?4 AND status = ?5
                               AND hlc >= ?6
                               AND (SELECT seq FROM sync_events WHERE event_kind = 'movement'
                                    AND event_key = movements.id) <= ?7
                             ORDER BY hlc, node_id",
                            crate::apply::RECORD_SELECT
                        ))?;
                        // From the start of the window before it that makes a count ambiguous
                        // (crate::review): the node lists the same ambiguous counts as the server.
                        let window_start =
                            Hlc::from_physical_ms(Hlc(m.hlc).physical_ms() - crate::review::COUNT_AMBIGUITY_WINDOW_MS)
                                .0;
                        let found = stmt.query_map(
                            params![m.item_id, m.lot, m.serial, m.location_id, m.status, window_start, horizon],
                            crate::apply::record_row,
                        )?;
                        for record in found {
                            movements.push(record?);
                        }
                    }
                }
                Event::Document(d) => wanted_docs.extend(d.corrects_document),
                _ => {}
            }
        }
        for id in wanted_moves {
            if seq_of("movement", id.as_bytes())?.is_some_and(|s| s <= horizon) {
                let mut stmt = self.conn.prepare_cached(&format!("{} WHERE id = ?1", crate::apply::RECORD_SELECT))?;
                if let Some(record) = stmt.query_row([id], crate::apply::record_row).optional()? {
                    movements.push(record);
                }
            }
        }
        self.with_documents(movements, wanted_docs, horizon)
    }

    /// Movements as history events, after the documents they (and documents
    /// they correct) refer to, where those reached the server by `horizon`.
    fn with_documents(
        &self,
        mut movements: Vec<MovementRecord>,
        mut wanted_docs: Vec<Uuid>,
        horizon: i64,
    ) -> Result<Vec<Event>> {
        let seq_of = |kind: &str, key: &[u8]| -> Result<Option<i64>> {
            Ok(self
                .conn
                .prepare_cached("SELECT seq FROM sync_events WHERE event_kind = ?1 AND event_key = ?2")?
                .query_row(params![kind, key], |r| r.get(0))
                .optional()?)
        };
        movements.sort_by_key(|m| (m.hlc, m.node_id));
        movements.dedup_by_key(|m| m.id);
        wanted_docs.extend(movements.iter().filter_map(|m| m.document_id));
        let mut documents: Vec<DocumentRecord> = Vec::new();
        let mut seen = HashSet::new();
        while let Some(id) = wanted_docs.pop() {
            if !seen.insert(id) || !seq_of("document", id.as_bytes())?.is_some_and(|s| s <= horizon) {
                continue;
            }
            if let Some(d) = self.document_record(id)? {
                wanted_docs.extend(d.corrects_document);
                documents.push(d);
            }
        }
        // A corrected document comes before the one that corrects it.
        documents.reverse();
        let mut out: Vec<Event> = documents.into_iter().map(Event::Document).collect();
        out.extend(movements.iter().map(|m| Event::Movement(MovementWire::from(m))));
        Ok(out)
    }

    /// Applies a pulled page: like [`Ledger::apply_events`], after storing the
    /// history a bootstrapped node lacks for it (unfolded: its snapshot's
    /// balances already include it).
    pub fn apply_page(&mut self, events: &[Event], history: &[Event], cursor: i64) -> Result<ApplyReport> {
        self.apply_page_at(events, history, cursor, None)
    }

    /// `apply_page`, storing with the cursor `cursor_key`, the server's key of
    /// its event at that sequence (`PullResponse::cursor_key`): the next pull
    /// presents it, and a server whose database went back finds it missing.
    pub fn apply_page_at(
        &mut self,
        events: &[Event],
        history: &[Event],
        cursor: i64,
        cursor_key: Option<&str>,
    ) -> Result<ApplyReport> {
        if history.is_empty() {
            return self.apply_events_at(events, Some((cursor, cursor_key)));
        }
        self.node()?;
        let now = self.clock.now_ms();
        let local_hlc = self.hlc;
        let mut hlc = local_hlc;
        let tx = self.begin()?;
        tx.execute_batch("PRAGMA defer_foreign_keys = ON")?;
        store_history(&tx, history, now, &mut hlc)?;
        let mut report = ApplyReport::default();
        for event in events {
            apply_one(&tx, event, now, &mut hlc, &mut report)?;
        }
        store_cursor(&tx, cursor, cursor_key)?;
        if hlc > local_hlc {
            persist_hlc(&tx, hlc)?;
        }
        tx.commit()?;
        self.hlc = self.hlc.max(hlc);
        Ok(report)
    }
}

#[cfg(test)]
mod wire_shape {
    use super::*;
    use crate::model::{DocumentKind, IdentifierScheme, Lang, LocationKind, MovementKind, Role, StockStatus};

    /// Every JSON path of `value` (arrays as `[]`), prefixed.
    /// A JSON value's type; arrays of plain values (tuples) with each member's.
    fn type_of(value: &Value) -> String {
        match value {
            Value::Null => "null".into(),
            Value::Bool(_) => "bool".into(),
            Value::Number(_) => "number".into(),
            Value::String(_) => "string".into(),
            Value::Array(items) => format!("[{}]", items.iter().map(type_of).collect::<Vec<_>>().join(", ")),
            Value::Object(_) => "object".into(),
        }
    }

    /// Every JSON path of `value` (arrays of objects as `[]`) with its type, prefixed.
    fn paths(prefix: &str, value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, v) in map {
                    paths(&format!("{prefix}.{key}"), v, out);
                }
            }
            Value::Array(items) if items.iter().any(|i| i.is_object() || i.is_array()) => {
                for item in items {
                    paths(&format!("{prefix}[]"), item, out);
                }
            }
            other => out.push(format!("{prefix}: {}", type_of(other))),
        }
    }

    /// What travels, one line per field, entity column and closed-set value.
    fn shape() -> Vec<String> {
        let id = Uuid::nil();
        let some = Some("x".to_string());
        let master = MasterChange {
            id,
            hlc: 1,
            node_id: id,
            entity: "item".into(),
            entity_id: id,
            // Field names are the entities' columns, listed below.
            fields: BTreeMap::from([("<field>".to_string(), Value::from("x"))]),
            base: BTreeMap::from([("<safety field>".to_string(), (1, id))]),
        };
        let lot = LotRecord { item_id: id, lot: "L".into(), expires_on: some.clone(), produced_on: some.clone() };
        let document = DocumentRecord {
            id,
            kind: "receipt".into(),
            number: some.clone(),
            node_id: id,
            created_by: id,
            created_at_ms: 1,
            posted_by: Some(id),
            posted_hlc: Some(1),
            posted_at_ms: Some(1),
            location_id: Some(id),
            to_location_id: Some(id),
            department_id: Some(id),
            supplier_id: Some(id),
            override_by: Some(id),
            reason: some.clone(),
            corrects_document: Some(id),
            note: String::new(),
            lines: vec![DocumentLineRecord {
                line_no: 1,
                item_id: id,
                lot: "L".into(),
                expires_on: some.clone(),
                produced_on: some.clone(),
                serial: String::new(),
                quantity: 1,
                unit_cost: some.clone(),
            }],
        };
        let movement = MovementWire {
            id,
            hlc: 1,
            node_id: id,
            recorded_at_ms: 1,
            user_id: id,
            kind: "receive".into(),
            item_id: id,
            lot: "L".into(),
            serial: String::new(),
            location_id: id,
            status: "available".into(),
            quantity: 1,
            expected_quantity: Some(1),
            unit_cost: some.clone(),
            department_id: Some(id),
            supplier_id: Some(id),
            document_id: Some(id),
            reason: some.clone(),
            corrects: Some(id),
            override_by: Some(id),
            note: String::new(),
        };
        let events = [
            Event::Master(master.clone()),
            Event::Lot(lot.clone()),
            Event::Document(document),
            Event::Movement(movement.clone()),
        ];
        // A new kind of event fails to compile here until it has a sample above.
        let variant = |e: &Event| match e {
            Event::Master(_) => 0,
            Event::Lot(_) => 1,
            Event::Document(_) => 2,
            Event::Movement(_) => 3,
        };
        assert_eq!(events.iter().map(variant).collect::<std::collections::BTreeSet<_>>().len(), 4);
        let mut out = Vec::new();
        for event in &events {
            let value = serde_json::to_value(event).expect("serialises");
            out.push(format!("event {} tagged {}", event.kind(), value["event"]));
            paths(&format!("event {}", event.kind()), &value, &mut out);
        }
        let snapshot = Snapshot {
            cursor: 1,
            changes: vec![master],
            lots: vec![lot],
            balances: vec![BalanceRecord {
                item_id: id,
                lot: "L".into(),
                serial: String::new(),
                location_id: id,
                status: "available".into(),
                quantity: 1,
                last_count: Some((1, id)),
            }],
            history: vec![Event::Movement(movement)],
            cursor_key: some,
        };
        paths("snapshot", &serde_json::to_value(&snapshot).expect("serialises"), &mut out);
        for entity in ENTITIES {
            for (column, col) in entity.columns {
                out.push(format!("entity {}.{column}: {col:?}", entity.name));
            }
            out.push(format!("entity {} unique {} safety {:?}", entity.name, entity.unique, entity.safety));
        }
        out.push(format!("field prefix {IDENTIFIER_PREFIX}, creation {CREATED}"));
        let sets: [(&str, Vec<&str>); 7] = [
            ("movement kind", MovementKind::ALL.iter().map(|v| v.as_str()).collect()),
            ("stock status", StockStatus::ALL.iter().map(|v| v.as_str()).collect()),
            ("document kind", DocumentKind::ALL.iter().map(|v| v.as_str()).collect()),
            ("role", Role::ALL.iter().map(|v| v.as_str()).collect()),
            ("language", Lang::ALL.iter().map(|v| v.as_str()).collect()),
            ("location kind", LocationKind::ALL.iter().map(|v| v.as_str()).collect()),
            ("identifier scheme", IdentifierScheme::ALL.iter().map(|v| v.as_str()).collect()),
        ];
        for (set, values) in sets {
            out.push(format!("{set}: {}", values.join(" ")));
        }
        // The tables replicated data is written to, with their constraints: a
        // widened CHECK would fail on a peer that has not upgraded.
        let ledger = crate::store::Ledger::open(std::path::Path::new(":memory:")).expect("an in-memory ledger");
        let mut stmt = ledger
            .connection()
            .prepare(
                // Plain indexes only speed reads up: a migration may add them locally.
                "SELECT type, name, sql FROM sqlite_master
                 WHERE sql IS NOT NULL AND (type <> 'index' OR sql LIKE 'CREATE UNIQUE INDEX%') AND tbl_name IN
                 ('users', 'suppliers', 'departments', 'locations', 'items', 'item_identifiers', 'lots', 'documents',
                  'document_lines', 'movements', 'balances', 'master_changes', 'master_fields')",
            )
            .expect("prepares");
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))
            .expect("reads");
        for row in rows {
            let (kind, name, sql) = row.expect("a row");
            let sql: Vec<&str> = sql.split_whitespace().collect();
            out.push(format!("sql {kind} {name}: {}", sql.join(" ")));
        }
        out.sort();
        out.dedup();
        out
    }

    #[test]
    fn the_wire_shape_is_pinned() {
        let pinned = include_str!("wire_shape.txt");
        let (head, body) = pinned.split_once('\n').expect("a first line");
        let number: i64 = head.strip_prefix("wire schema ").and_then(|n| n.trim().parse().ok()).expect("wire schema N");
        let body = body.replace("\r\n", "\n");
        let now = shape().join("\n") + "\n";
        assert!(
            now == body || WIRE_SCHEMA != number,
            "what travels between nodes changed while WIRE_SCHEMA stayed at {number}: a migration that changes it is \
             not local (take it out of LOCAL_MIGRATIONS), and a change without a migration needs one.\nnow:\n{now}"
        );
        if WIRE_SCHEMA != number {
            // A new shared migration: pin what travels from now on.
            assert!(
                std::env::var_os("MEDLEDGER_PIN_WIRE").is_some(),
                "WIRE_SCHEMA is {WIRE_SCHEMA}, the pin {number}: re-pin with \
                 MEDLEDGER_PIN_WIRE=1 cargo test -p ledger the_wire_shape_is_pinned"
            );
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/wire_shape.txt");
            std::fs::write(path, format!("wire schema {WIRE_SCHEMA}\n{now}")).expect("writes the pin");
        }
        assert!(WIRE_SCHEMA <= crate::store::SCHEMA_VERSION && WIRE_SCHEMA > 0);
    }
}
