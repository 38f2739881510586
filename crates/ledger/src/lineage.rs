//! Lineage: telling a workstation whose ledger went back from one in line.
//!
//! The server never sends a node its own events back, so a workstation
//! restored from last week's backup (or a copy of its database started on a
//! second computer) would otherwise never see again the receipts and issues it
//! had pushed since — its stock would differ from the server's for good, and its
//! document numbers would repeat ones already given.
//!
//! Each push attempt carries the node's current lineage value and a next one
//! chosen at random for this attempt and stored before sending — after the
//! batch was read, so a copy of the database that holds the value also holds
//! the batch — with the next values of earlier attempts whose answer never came
//! (one of them may have been stored). The server, in the transaction that
//! stores the batch, moves the node on to the attempt's next value and remembers
//! every value it has seen. A request is then:
//! - **in line** when one of the values it presents is the server's;
//! - **behind** when it presents an older value the server has seen: the node's
//!   ledger went back. It fetches its own events back from the server
//!   ([`Ledger::server_own_events_after`]), applies them like any pulled events
//!   (the same id twice is a no-op) and adopts the server's value;
//! - **unknown** when the server never saw the value: the *server's* database
//!   went back. Refused, with words for IT: nothing the node holds is lost.
//!
//! A link without a value (just enrolled, or from before lineage existed)
//! fetches back its own events first too, then starts a lineage.

use crate::error::Result;
use crate::model::DocumentKind;
use crate::replication::{ApplyReport, ConflictView, Event, Outbox};
use crate::store::Ledger;
use rusqlite::{params, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use uuid::Uuid;

/// What a workstation presents with a push or pull.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lineage {
    /// The value the node last knew the server to hold.
    pub current: Uuid,
    /// The value this push moves the server to (chosen for this attempt, before sending).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<Uuid>,
    /// Next values of earlier attempts not answered: the server may hold one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tried: Vec<Uuid>,
}

/// At most this many unanswered attempts are remembered; a node with more
/// (a long outage of answers, not of requests) is taken for behind and
/// fetches back its own events once — harmless, only slower.
pub const TRIED_MAX: usize = 16;

impl Lineage {
    fn presents(&self, value: Uuid) -> bool {
        self.current == value || self.next == Some(value) || self.tried.contains(&value)
    }

    fn values(&self) -> impl Iterator<Item = Uuid> + '_ {
        std::iter::once(self.current).chain(self.next).chain(self.tried.iter().copied())
    }
}

fn pack(values: &[Uuid]) -> Option<Vec<u8>> {
    (!values.is_empty()).then(|| values.iter().flat_map(|v| *v.as_bytes()).collect())
}

fn unpack(bytes: Option<Vec<u8>>) -> Vec<Uuid> {
    bytes.unwrap_or_default().chunks_exact(16).map(|c| Uuid::from_bytes(c.try_into().expect("16 bytes"))).collect()
}

/// How a node's lineage stands against the server's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineageCheck {
    /// Where the server last saw the node (or its last push's answer was lost).
    InLine,
    /// The node presents a value the server moved past: its ledger went back.
    Behind,
    /// The server never saw the node's value: the server's database went back.
    Unknown,
}

impl Ledger {
    /// Workstation: the link's lineage; `None` when it has none yet (fetch back own events first).
    pub fn lineage(&self) -> Result<Option<Lineage>> {
        let found: Option<(Option<Uuid>, Option<Uuid>, Option<Vec<u8>>)> = self
            .conn
            .query_row("SELECT lineage, lineage_next, lineage_tried FROM sync_state", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?;
        Ok(found
            .and_then(|(current, next, tried)| current.map(|current| Lineage { current, next, tried: unpack(tried) })))
    }

    /// Workstation: the lineage for a push attempt, read *after* the attempt's
    /// batch — the current value and a next one chosen now and stored (an
    /// earlier attempt's next, never answered, joins the tried ones). `None`
    /// when the link has no lineage yet.
    pub fn push_lineage(&mut self) -> Result<Option<Lineage>> {
        let Some(mut lineage) = self.lineage()? else { return Ok(None) };
        lineage.tried.extend(lineage.next.take());
        let excess = lineage.tried.len().saturating_sub(TRIED_MAX);
        lineage.tried.drain(..excess);
        let next = self.random_lineage();
        lineage.next = Some(next);
        self.conn.execute(
            "UPDATE sync_state SET lineage_next = ?1, lineage_tried = ?2 WHERE lineage IS NOT NULL",
            params![next, pack(&lineage.tried)],
        )?;
        Ok(Some(lineage))
    }

    /// Workstation: records that the server has `outbox` (as `mark_pushed`) and,
    /// when it was pushed with `lineage`, that the server moved on to its next value.
    pub fn mark_pushed_in_line(&mut self, outbox: &Outbox, lineage: Option<&Lineage>) -> Result<()> {
        let tx = self.begin()?;
        crate::replication::mark_pushed_in(&tx, outbox)?;
        if let Some(Lineage { next: Some(next), .. }) = lineage {
            tx.execute(
                "UPDATE sync_state SET lineage = lineage_next, lineage_next = NULL, lineage_tried = NULL
                 WHERE lineage_next = ?1",
                [next],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Workstation: after fetching back its own events, takes the server's
    /// value (or, when the server holds none for it, a new one) as current.
    pub fn adopt_lineage(&mut self, server: Option<Uuid>) -> Result<Lineage> {
        let current = match server {
            Some(value) => value,
            None => self.random_lineage(),
        };
        let changed = self.conn.execute(
            "UPDATE sync_state SET lineage = ?1, lineage_next = NULL, lineage_tried = NULL",
            params![current],
        )?;
        if changed == 0 {
            return Err(crate::LedgerError::InvalidInput {
                field: "lineage",
                reason: "this workstation is not enrolled".into(),
            });
        }
        Ok(Lineage { current, next: None, tried: Vec::new() })
    }

    /// Workstation: applies a page of its own events fetched back from the
    /// server (the pull cursor stays where it is).
    ///
    /// A document posted here since the copy was made, never sent, may carry
    /// the number one of these was given first: that one keeps it everywhere,
    /// and the document here takes the next free number of its series — listed
    /// for review (`document_number`), since its slip may be printed with the old one.
    pub fn apply_own_events(&mut self, events: &[Event]) -> Result<ApplyReport> {
        let renumbered = self.renumber_clashes(events)?;
        let mut report = self.apply_events(events, None)?;
        report.conflicts.splice(0..0, renumbered);
        Ok(report)
    }

    fn renumber_clashes(&mut self, events: &[Event]) -> Result<Vec<ConflictView>> {
        let (node, site) = {
            let node = self.node()?;
            (node.id, node.site_code.clone())
        };
        let now = self.clock.now_ms();
        let incoming: HashSet<&str> = events
            .iter()
            .filter_map(|e| match e {
                Event::Document(d) => d.number.as_deref(),
                _ => None,
            })
            .collect();
        let tx = self.begin()?;
        let mut renumbered = Vec::new();
        for doc in events.iter().filter_map(|e| match e {
            Event::Document(d) => Some(d),
            _ => None,
        }) {
            let Some(number) = &doc.number else { continue };
            let holder: Option<(Uuid, String)> = tx
                .prepare_cached(
                    "SELECT id, kind FROM documents WHERE number = ?1 AND id <> ?2 AND node_id = ?3
                       AND NOT EXISTS (SELECT 1 FROM documents WHERE id = ?2)",
                )?
                .query_row(params![number, doc.id, node], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let Some((id, kind)) = holder else { continue };
            let kind = DocumentKind::parse(&kind)
                .ok_or_else(|| crate::LedgerError::InvalidInput { field: "document kind", reason: kind.clone() })?;
            let mut next = crate::posting::next_number(&tx, kind, &site)?;
            let series = format!("{}-{site}-", crate::posting::number_prefix(kind));
            let mut counter: u64 = next.strip_prefix(series.as_str()).and_then(|c| c.parse().ok()).unwrap_or(1);
            while incoming.contains(next.as_str()) {
                counter += 1;
                next = crate::posting::format_number(&series, counter);
            }
            tx.prepare_cached("UPDATE documents SET number = ?2 WHERE id = ?1")?.execute(params![id, next])?;
            let conflict = crate::replication::conflict_view(
                "document_number",
                id.as_bytes(),
                Some(node),
                serde_json::json!({ "number": number }).to_string(),
                serde_json::json!({ "renumbered_to": next, "number_kept_by": doc.id }).to_string(),
            );
            crate::replication::store_conflict(&tx, &conflict, id.as_bytes(), now)?;
            renumbered.push(conflict);
        }
        tx.commit()?;
        Ok(renumbered)
    }

    fn random_lineage(&mut self) -> Uuid {
        let now = self.clock.now_ms();
        self.ids.next_id(now)
    }

    /// Server: how `node`'s presented lineage stands. No value presented counts
    /// as in line only while the server holds none for the node either.
    pub fn server_lineage_check(&self, node: Uuid, lineage: Option<&Lineage>) -> Result<LineageCheck> {
        check(&self.conn, node, lineage)
    }

    /// Server: accepts `node`'s batch if its lineage is in line, moving the node
    /// on to the lineage's next value in the same transaction; otherwise applies
    /// nothing and says how it stands.
    pub fn server_accept_in_line(
        &mut self,
        node: Uuid,
        lineage: &Lineage,
        events: &[Event],
    ) -> Result<std::result::Result<ApplyReport, LineageCheck>> {
        match check(&self.conn, node, Some(lineage))? {
            LineageCheck::InLine => Ok(Ok(self.server_accept_moving(node, events, Some(lineage))?)),
            other => Ok(Err(other)),
        }
    }

    /// Server: the events `node` itself pushed, after `cursor`, at most
    /// `limit`, with the sequence reached, whether more follow, and the node's
    /// lineage value on the server.
    pub fn server_own_events_after(
        &self,
        cursor: i64,
        node: Uuid,
        limit: usize,
    ) -> Result<(Vec<Event>, i64, bool, Option<Uuid>)> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT seq, body FROM sync_events WHERE origin = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3")?;
        let mut rows = stmt.query(params![node, cursor, limit as i64 + 1])?;
        let mut events = Vec::new();
        let mut reached = cursor;
        let mut more = false;
        while let Some(row) = rows.next()? {
            if events.len() == limit {
                more = true;
                break;
            }
            reached = row.get(0)?;
            let body: String = row.get(1)?;
            events.push(serde_json::from_str(&body).map_err(|e| crate::LedgerError::InvalidInput {
                field: "stored event",
                reason: format!("{reached}: {e}"),
            })?);
        }
        Ok((events, reached, more, server_value(&self.conn, node)?))
    }
}

fn server_value(conn: &rusqlite::Connection, node: Uuid) -> Result<Option<Uuid>> {
    Ok(conn
        .prepare_cached("SELECT lineage FROM sync_nodes WHERE node_id = ?1")?
        .query_row([node], |r| r.get::<_, Option<Uuid>>(0))
        .optional()?
        .flatten())
}

fn check(conn: &rusqlite::Connection, node: Uuid, lineage: Option<&Lineage>) -> Result<LineageCheck> {
    let Some(held) = server_value(conn, node)? else { return Ok(LineageCheck::InLine) };
    let Some(lineage) = lineage else { return Ok(LineageCheck::Behind) };
    if lineage.presents(held) {
        return Ok(LineageCheck::InLine);
    }
    let mut seen =
        conn.prepare_cached("SELECT EXISTS(SELECT 1 FROM sync_lineages WHERE node_id = ?1 AND lineage = ?2)")?;
    for value in lineage.values() {
        if seen.query_row(params![node, value], |r| r.get::<_, bool>(0))? {
            return Ok(LineageCheck::Behind);
        }
    }
    Ok(LineageCheck::Unknown)
}

/// Server, inside the transaction storing a push: the node moves on to the
/// lineage's next value; both values are remembered.
pub(crate) fn server_move_on(tx: &Transaction<'_>, node: Uuid, lineage: &Lineage) -> Result<()> {
    let to = lineage.next.unwrap_or(lineage.current);
    tx.prepare_cached("UPDATE sync_nodes SET lineage = ?2 WHERE node_id = ?1")?.execute(params![node, to])?;
    let mut remember =
        tx.prepare_cached("INSERT INTO sync_lineages (node_id, lineage) VALUES (?1, ?2) ON CONFLICT DO NOTHING")?;
    remember.execute(params![node, lineage.current])?;
    remember.execute(params![node, to])?;
    Ok(())
}
