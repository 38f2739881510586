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
//! - **behind** when it presents only older values the server has seen (or none,
//!   while the server holds one): the node's ledger went back. It *recovers*:
//!   it pulls from its own cursor with its own events included
//!   ([`Ledger::server_events_for_recovery`]) — in the server's order, so what
//!   its lost events refer to (a user or item made elsewhere since its copy)
//!   arrives before them — applies them like any pulled events (the same id
//!   twice is a no-op) and takes the value the server gives it
//!   ([`Ledger::server_lineage_for_recovery`]);
//! - **unknown** when the server never saw any of them: the *server's* database
//!   went back. Refused, with words for IT: nothing the node holds is lost.
//!
//! A link without a value (just enrolled, or from before lineage existed)
//! recovers first too, from its cursor; a workstation that starts from a
//! snapshot does so from the snapshot's cursor, whose balances hold its past.
//!
//! A document posted on a restored node before it synced may carry a number one
//! of its documents that came back was given first. While recovering, that
//! never-sent document steps aside under a provisional number; when recovery
//! ends it takes the next free number of its series, and the change is listed
//! for review (`document_number`) — its slip was printed with the old number.

use crate::error::Result;
use crate::model::DocumentKind;
use crate::replication::{ApplyReport, ConflictView, Event, Outbox};
use crate::store::Ledger;
use rusqlite::{params, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};
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
/// recovers once — harmless, only slower.
pub const TRIED_MAX: usize = 64;

impl Lineage {
    fn presents(&self, value: Uuid) -> bool {
        self.current == value || self.next == Some(value) || self.tried.contains(&value)
    }

    fn values(&self) -> impl Iterator<Item = Uuid> + '_ {
        std::iter::once(self.current).chain(self.next).chain(self.tried.iter().copied())
    }
}

/// A workstation sending everything again after its server's database went back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resending {
    /// It holds the whole history: then it pulls it all again.
    ThenPullAll = 1,
    /// It started from a snapshot: then it must start afresh from a new database.
    ThenStartAfresh = 2,
}

/// How a node's lineage stands against the server's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineageCheck {
    /// Where the server last saw the node (or its last push's answer was lost).
    InLine,
    /// The node presents only values the server moved past: its ledger went back.
    Behind,
    /// The server never saw the node's values: the server's database went back.
    Unknown,
}

/// The separator of a provisional number (`RK-S01-000007#1a2b3c4d`).
const PROVISIONAL: char = '#';

fn pack(values: &[Uuid]) -> Option<Vec<u8>> {
    (!values.is_empty()).then(|| values.iter().flat_map(|v| *v.as_bytes()).collect())
}

fn unpack(bytes: Option<Vec<u8>>) -> Vec<Uuid> {
    bytes.unwrap_or_default().chunks_exact(16).map(|c| Uuid::from_bytes(c.try_into().expect("16 bytes"))).collect()
}

impl Ledger {
    /// Workstation: the link's lineage; `None` when it has none yet (recover first).
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
        let now = self.clock.now_ms();
        let next = self.ids.next_id(now);
        lineage.next = Some(next);
        self.conn.execute(
            "UPDATE sync_state SET lineage_next = ?1, lineage_tried = ?2 WHERE lineage IS NOT NULL",
            params![next, pack(&lineage.tried)],
        )?;
        Ok(Some(lineage))
    }

    /// Workstation, after its server's database went back to a copy older than
    /// what this node had sent (`server_behind`) and no newer copy exists: the
    /// next sync sends every event of this node again (the server keeps what it
    /// has and stores what it lost). A node holding the whole history then pulls
    /// it all again (the same id twice is a no-op) and goes on as before; one
    /// started from a snapshot cannot — its balances hold a past the server no
    /// longer numbers alike — and must start afresh from a new database once it
    /// has sent ([`Resending::ThenStartAfresh`]).
    pub fn resend_everything(&mut self) -> Result<Resending> {
        let mode = if self.sync_horizon()?.is_some() { Resending::ThenStartAfresh } else { Resending::ThenPullAll };
        let changed = self.conn.execute(
            "UPDATE sync_state SET resending = ?1, pushed_change_seq = 0, pushed_hlc = 0,
                 push_generation = push_generation + 1,
                 pull_cursor = CASE WHEN ?1 = 1 THEN 0 ELSE pull_cursor END,
                 pull_cursor_key = CASE WHEN ?1 = 1 THEN NULL ELSE pull_cursor_key END",
            [mode as i64],
        )?;
        if changed == 0 {
            return Err(crate::LedgerError::InvalidInput {
                field: "resend",
                reason: "this workstation is not enrolled".into(),
            });
        }
        Ok(mode)
    }

    /// Workstation: whether (and how) it is sending everything again.
    pub fn resending(&self) -> Result<Option<Resending>> {
        let mode: i64 =
            self.conn.query_row("SELECT coalesce((SELECT resending FROM sync_state), 0)", [], |r| r.get(0))?;
        Ok(match mode {
            1 => Some(Resending::ThenPullAll),
            2 => Some(Resending::ThenStartAfresh),
            _ => None,
        })
    }

    /// Workstation: everything was sent again and the history is pulled from the start.
    pub fn resent(&mut self) -> Result<()> {
        self.conn.execute("UPDATE sync_state SET resending = 0 WHERE resending = 1", [])?;
        Ok(())
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

    /// Workstation: applies a page of a recovery (events after its cursor, its
    /// own among them) with its cursor, as `apply_page` does; returns what it
    /// did and how many of its own movements came back. A never-sent document
    /// of this node whose number one of the page's documents had first steps
    /// aside under a provisional number (numbered for good by `finish_recovery`).
    pub fn apply_recovered_page(
        &mut self,
        events: &[Event],
        history: &[Event],
        cursor: i64,
        cursor_key: Option<&str>,
    ) -> Result<(ApplyReport, usize)> {
        let node = self.node()?.id;
        self.step_aside(events)?;
        let own = |ledger: &Ledger| -> Result<i64> {
            Ok(ledger.conn.query_row("SELECT count(*) FROM movements WHERE node_id = ?1", [node], |r| r.get(0))?)
        };
        let before = own(self)?;
        let report = self.apply_page_at(events, history, cursor, cursor_key)?;
        let back = (own(self)? - before).max(0) as usize;
        Ok((report, back))
    }

    /// Workstation, when a recovery has reached the server's newest event:
    /// documents that stepped aside take the next free numbers of their series
    /// (listed for review), and the link takes the server's lineage value.
    pub fn finish_recovery(&mut self, server: Uuid) -> Result<Vec<ConflictView>> {
        let (node, site) = {
            let node = self.node()?;
            (node.id, node.site_code.clone())
        };
        let now = self.clock.now_ms();
        let tx = self.begin()?;
        let aside: Vec<(Uuid, String, String)> = tx
            .prepare(
                "SELECT id, kind, number FROM documents
                 WHERE node_id = ?1 AND instr(number, ?2) > 0 AND posted_hlc > ?3 ORDER BY posted_hlc, id",
            )?
            .query_map(params![node, PROVISIONAL.to_string(), unsent_above(&tx)?], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let mut renumbered = Vec::new();
        for (id, kind, provisional) in aside {
            let kind = DocumentKind::parse(&kind)
                .ok_or_else(|| crate::LedgerError::InvalidInput { field: "document kind", reason: kind.clone() })?;
            let given = provisional.split(PROVISIONAL).next().unwrap_or_default().to_string();
            let number = crate::posting::next_number(&tx, kind, &site)?;
            tx.prepare_cached("UPDATE documents SET number = ?2 WHERE id = ?1")?.execute(params![id, number])?;
            let conflict = crate::replication::conflict_view(
                "document_number",
                id.as_bytes(),
                Some(node),
                serde_json::json!({ "number": given }).to_string(),
                serde_json::json!({ "renumbered_to": number }).to_string(),
            );
            crate::replication::store_conflict(&tx, &conflict, id.as_bytes(), now)?;
            renumbered.push(conflict);
        }
        let changed = tx.execute(
            "UPDATE sync_state SET lineage = ?1, lineage_next = NULL, lineage_tried = NULL",
            params![server],
        )?;
        if changed == 0 {
            return Err(crate::LedgerError::InvalidInput {
                field: "lineage",
                reason: "this workstation is not enrolled".into(),
            });
        }
        tx.commit()?;
        Ok(renumbered)
    }

    /// A never-sent document of this node holding the number an incoming
    /// document of this node was given first takes a provisional number.
    fn step_aside(&mut self, events: &[Event]) -> Result<()> {
        let node = self.node()?.id;
        let tx = self.begin()?;
        let above = unsent_above(&tx)?;
        for doc in events.iter().filter_map(|e| match e {
            Event::Document(d) if d.node_id == node => Some(d),
            _ => None,
        }) {
            let Some(number) = &doc.number else { continue };
            let holder: Option<Uuid> = tx
                .prepare_cached(
                    "SELECT id FROM documents WHERE number = ?1 AND id <> ?2 AND node_id = ?3 AND posted_hlc > ?4
                       AND NOT EXISTS (SELECT 1 FROM documents WHERE id = ?2 AND status <> 'draft')",
                )?
                .query_row(params![number, doc.id, node, above], |r| r.get(0))
                .optional()?;
            if let Some(id) = holder {
                let hex = id.simple().to_string();
                let provisional = format!("{number}{PROVISIONAL}{}", &hex[hex.len() - 8..]);
                tx.prepare_cached("UPDATE documents SET number = ?2 WHERE id = ?1")?
                    .execute(params![id, provisional])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Server: how `node`'s presented lineage stands.
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
    ) -> Result<std::result::Result<crate::replication::ApplyReport, LineageCheck>> {
        self.server_accept_checked(node, lineage, events, false)
    }

    /// Server: `server_accept_in_line`, or — for a batch a node sends again after
    /// the server's database went back (`resent`, `sync --resend`) — also when
    /// it presents values the server never saw (those it lost). A node behind
    /// recovers first all the same.
    pub fn server_accept_checked(
        &mut self,
        node: Uuid,
        lineage: &Lineage,
        events: &[Event],
        resent: bool,
    ) -> Result<std::result::Result<crate::replication::ApplyReport, LineageCheck>> {
        match check(&self.conn, node, Some(lineage))? {
            LineageCheck::InLine => {}
            LineageCheck::Unknown if resent => {}
            other => return Ok(Err(other)),
        }
        Ok(Ok(self.server_accept_moving(node, events, Some(lineage))?))
    }

    /// Server: the value a recovering node takes once it has pulled everything:
    /// the node's value, or — for a node that has none yet — a new one, stored,
    /// so two copies of one database recovering at once take the same one.
    pub fn server_lineage_for_recovery(&mut self, node: Uuid) -> Result<Uuid> {
        if let Some(held) = server_value(&self.conn, node)? {
            return Ok(held);
        }
        let now = self.clock.now_ms();
        let value = self.ids.next_id(now);
        let tx = self.begin()?;
        crate::lineage::server_move_on(&tx, node, &Lineage { current: value, next: None, tried: Vec::new() })?;
        tx.commit()?;
        Ok(value)
    }
}

/// A document of this node posted above this HLC was never sent (its
/// movements lie above the push mark).
fn unsent_above(tx: &Transaction<'_>) -> Result<i64> {
    Ok(tx.query_row("SELECT coalesce((SELECT pushed_hlc FROM sync_state), 0)", [], |r| r.get(0))?)
}

fn server_value(conn: &rusqlite::Connection, node: Uuid) -> Result<Option<Uuid>> {
    Ok(conn
        .prepare_cached("SELECT lineage FROM sync_nodes WHERE node_id = ?1")?
        .query_row([node], |r| r.get::<_, Option<Uuid>>(0))
        .optional()?
        .flatten())
}

fn check(conn: &rusqlite::Connection, node: Uuid, lineage: Option<&Lineage>) -> Result<LineageCheck> {
    let held = server_value(conn, node)?;
    let (held, lineage) = match (held, lineage) {
        (None, None) => return Ok(LineageCheck::InLine),
        (Some(_), None) => return Ok(LineageCheck::Behind),
        // A value comes from the server (recovery) or from a push it stored: one it has
        // no value for at all means it lost what it had.
        (None, Some(_)) => return Ok(LineageCheck::Unknown),
        (Some(held), Some(lineage)) => (held, lineage),
    };
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
