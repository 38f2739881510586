//! Quarantine beats release (product brief §4), across nodes.
//!
//! An excursion's movements name it in their note, in a form only the core
//! writes (`excursion <id>[ <word> <id>…]`), so every node can tell which
//! excursion a replicated movement belongs to:
//! - a **quarantine pair** (`excursion E`): available → quarantined, what
//!   the opening node saw available;
//! - a **hold** (`excursion E2 holds E1 …`): a zero-quantity `quarantine`
//!   movement on a quarantined key, written when E2 opens on a unit where
//!   stock of E1 is still held in quarantine — E2 did not take those units
//!   (they were not available) but they were in the unit during E2;
//! - a **release pair** (`excursion E1 knew E2 …`): quarantined → available,
//!   listing the other excursions on the unit that the releasing node held
//!   when the manager released (those opened after E1, at most
//!   [`KNOWN_EXCURSIONS_MAX`]).
//!
//! A release R of E1 on a key is *concurrent* with E2 when E2 holds E1's
//! units of that key (E2 saw them quarantined, so did not take them — it had
//! not seen R) and R does not list E2 (the manager had not seen E2). Then the
//! units R released were in the unit during E2 and nobody judged them for it:
//! every node that holds both R and E2's hold derives the same compensating
//! pair (available → quarantined, note `excursion E2 over R`), with ids made
//! from R's and the hold's ids, stamped one tick after the later of the two
//! under [`DERIVED_NODE`] and the hold's user. Each excursion that held the
//! units has its own claim (two concurrent holds, two pairs: the units show
//! quarantined twice over until both are judged, and each resolution lets out
//! its own share). The movement set is grow-only and keyed by id, so however
//! many nodes derive a pair, and in whichever order R and the hold arrive, it
//! is there once. The server publishes what it derives into its event log, so
//! a node that started from a snapshot (and may lack the older of the two)
//! receives it too. On the node that opened E2 the units are handed to an
//! excursion that must judge them (`claim`): E2 while open, else the one open
//! on the unit, else E2 reopened.

use crate::balance::{record, MovementRecord};
use crate::clock::Hlc;
use crate::error::Result;
use crate::model::{MovementKind, StockStatus};
use rusqlite::{params, OptionalExtension, Transaction};
use uuid::Uuid;

/// The node id derived compensations carry: no workstation's, so no node
/// pushes them as its own, and their (HLC, node) never ties with a real
/// node's movement (a tie with a count would make the fold's order ambiguous).
pub const DERIVED_NODE: Uuid = Uuid::from_u128(0x0000_0000_0000_8000_8000_7175_6172_616e);

/// Other excursions a release lists as known, at most (the newest): a note
/// holds at most `NOTE_MAX` characters. One left out only makes a later
/// compensation possible (quarantine wins), never a missed one.
pub const KNOWN_EXCURSIONS_MAX: usize = 20;

/// The reason derived compensations carry.
pub const QUARANTINE_WINS_REASON: &str = "quarantine_wins";

const PREFIX: &str = "excursion ";

/// What an excursion movement's note says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExcursionNote {
    /// The excursion the movement belongs to.
    pub excursion: Uuid,
    /// `holds`, `knew`, `over` or empty.
    pub word: String,
    /// The ids after the word.
    pub ids: Vec<Uuid>,
}

/// Writes an excursion movement's note.
pub(crate) fn note(excursion: Uuid, word: &str, ids: &[Uuid]) -> String {
    let mut out = format!("{PREFIX}{excursion}");
    if !ids.is_empty() {
        out.push(' ');
        out.push_str(word);
        for id in ids {
            out.push(' ');
            out.push_str(&id.to_string());
        }
    }
    out
}

/// Reads an excursion movement's note; None for any other note.
pub fn parse_note(note: &str) -> Option<ExcursionNote> {
    let rest = note.strip_prefix(PREFIX)?;
    let mut parts = rest.split(' ');
    let excursion = Uuid::try_parse(parts.next()?).ok()?;
    let word = parts.next().unwrap_or_default().to_string();
    let ids = parts.map(Uuid::try_parse).collect::<std::result::Result<Vec<_>, _>>().ok()?;
    Some(ExcursionNote { excursion, word, ids })
}

/// The excursions whose units are still held in quarantine on a key, as this
/// node knows it: those with units of their own left there — what they put in
/// (their quarantine, and units handed back to them by a compensation) less
/// what they let out (release, scrap; a reopened excursion may do both twice)
/// — and those other excursions' holds name that this node holds nothing of
/// on the key or that have units left there.
pub(crate) fn holders(tx: &Transaction<'_>, key_id: i64) -> Result<Vec<Uuid>> {
    let mut stmt =
        tx.prepare_cached("SELECT kind, quantity, note FROM movements WHERE key_id = ?1 AND note LIKE 'excursion %'")?;
    let rows: Vec<(String, i64, String)> =
        stmt.query_map([key_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<rusqlite::Result<_>>()?;
    let mut left: std::collections::BTreeMap<Uuid, i64> = std::collections::BTreeMap::new();
    let mut named = std::collections::BTreeSet::new();
    for (kind, quantity, text) in rows {
        let Some(parsed) = parse_note(&text) else { continue };
        if kind == "quarantine" && parsed.word == "holds" {
            named.extend(parsed.ids);
        } else if matches!(kind.as_str(), "quarantine" | "release" | "scrap") {
            *left.entry(parsed.excursion).or_default() += quantity;
        }
    }
    let mut held: std::collections::BTreeSet<Uuid> =
        left.iter().filter(|(_, units)| **units > 0).map(|(id, _)| *id).collect();
    held.extend(named.into_iter().filter(|id| left.get(id).is_none_or(|units| *units > 0)));
    Ok(held.into_iter().collect())
}

/// The excursions on `location` other than `excursion` that this node holds
/// movements of — first those whose holds name `excursion` (newest first),
/// then those stamped after `excursion` opened (newest first), at most
/// [`KNOWN_EXCURSIONS_MAX`]: what a release of `excursion` records as known.
/// A hold naming it counts whatever its stamp: a node whose clock is far
/// behind (further than a remote time may pull it) stamps an excursion it
/// opened after seeing `excursion` before `excursion`'s own movements, and a
/// manager who had seen that hold must not be overruled by it.
pub(crate) fn known_excursions(tx: &Transaction<'_>, location: Uuid, excursion: Uuid) -> Result<Vec<Uuid>> {
    let mut stmt = tx.prepare_cached(
        "SELECT m.hlc, m.note FROM movements m WHERE m.key_id IN (SELECT key_id FROM balances WHERE location_id = ?1)
           AND m.kind = 'quarantine' AND m.note LIKE 'excursion %' ORDER BY m.hlc DESC",
    )?;
    let rows: Vec<(i64, ExcursionNote)> = stmt
        .query_map([location], |r| Ok((r.get(0)?, r.get::<_, String>(1)?)))?
        .filter_map(|row| row.map(|(hlc, text)| parse_note(&text).map(|p| (hlc, p))).transpose())
        .collect::<rusqlite::Result<_>>()?;
    let opened = rows.iter().filter(|(_, p)| p.excursion == excursion).map(|(hlc, _)| *hlc).min().unwrap_or(i64::MIN);
    let holds_it = |p: &ExcursionNote| p.word == "holds" && p.ids.contains(&excursion);
    let mut out: Vec<Uuid> = Vec::new();
    for naming in [true, false] {
        for (hlc, parsed) in &rows {
            if out.len() == KNOWN_EXCURSIONS_MAX {
                return Ok(out);
            }
            let known = if naming { holds_it(parsed) } else { *hlc > opened };
            if known && parsed.excursion != excursion && !out.contains(&parsed.excursion) {
                out.push(parsed.excursion);
            }
        }
    }
    Ok(out)
}

/// A deterministic UUIDv8 from a release, a hold and a side: FNV-1a over the
/// bytes (the inputs are random ids already; the version bits set it apart
/// from every UUIDv7 a node makes).
fn derived_id(release: Uuid, hold: Uuid, side: u8) -> Uuid {
    let mut hash: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    for byte in b"quarantine-wins".iter().chain(release.as_bytes()).chain(hold.as_bytes()).chain([side].iter()) {
        hash ^= u128::from(*byte);
        hash = hash.wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013b);
    }
    // The version (8, custom) and RFC 4122 variant bits, as `Uuid::new_v8` would set them.
    let mut bytes = hash.to_be_bytes();
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    Uuid::from_bytes(bytes)
}

/// The compensating pair for release `release` (its movement into
/// available) and hold `hold` of excursion `excursion`: the same on every
/// node. Each excursion that held the units has its own claim on them (its
/// manager must judge them), so two such excursions make two pairs — the units
/// show quarantined twice over, and available below zero, until both are
/// judged; each lets out its own share.
pub fn compensation(release: &MovementRecord, hold: &MovementRecord, excursion: Uuid) -> [MovementRecord; 2] {
    let hlc = Hlc(release.hlc.0.max(hold.hlc.0) + 1);
    let recorded_at_ms = release.recorded_at_ms.max(hold.recorded_at_ms);
    let make = |side: u8, status: StockStatus, quantity: i64| MovementRecord {
        id: derived_id(release.id, hold.id, side),
        hlc,
        node_id: DERIVED_NODE,
        recorded_at_ms,
        user_id: hold.user_id,
        kind: MovementKind::Quarantine,
        key: crate::balance::BalanceKey { status, ..release.key.clone() },
        quantity,
        expected_quantity: None,
        unit_cost: None,
        department_id: None,
        supplier_id: None,
        document_id: None,
        reason: Some(QUARANTINE_WINS_REASON.to_string()),
        corrects: None,
        override_by: None,
        note: note(excursion, "over", &[release.id]),
    };
    [make(0, StockStatus::Available, -release.quantity), make(1, StockStatus::Quarantined, release.quantity)]
}

/// Whether the releasing note `release` knew of excursion `other`.
fn knew(release: &ExcursionNote, other: Uuid) -> bool {
    release.word == "knew" && release.ids.contains(&other)
}

/// After a movement is stored (applied from elsewhere): if it is a release
/// into available or a hold, derives the compensations it completes with
/// what this node already holds, stores those not stored yet and hands their
/// units to the excursion that must judge them (see [`claim`]). Returns the
/// movements it stored (a server publishes them).
pub(crate) fn derive_after(tx: &Transaction<'_>, m: &MovementRecord, now: i64) -> Result<Vec<MovementRecord>> {
    let releasing = m.kind == MovementKind::Release && m.key.status == StockStatus::Available && m.quantity > 0;
    let holding = m.kind == MovementKind::Quarantine && m.key.status == StockStatus::Quarantined && m.quantity == 0;
    if !releasing && !holding {
        return Ok(Vec::new());
    }
    let Some(parsed) = parse_note(&m.note) else { return Ok(Vec::new()) };
    let other_status = if releasing { StockStatus::Quarantined } else { StockStatus::Available };
    let other_kind = if releasing { MovementKind::Quarantine } else { MovementKind::Release };
    let mut stmt = tx.prepare_cached(&format!(
        "{} WHERE item_id = ?1 AND lot = ?2 AND serial = ?3 AND location_id = ?4 AND status = ?5 AND kind = ?6
           AND note LIKE 'excursion %' ORDER BY hlc, node_id",
        crate::apply::RECORD_SELECT
    ))?;
    let others: Vec<MovementRecord> = stmt
        .query_map(
            params![
                m.key.item_id,
                m.key.lot,
                m.key.serial,
                m.key.location_id,
                other_status.as_str(),
                other_kind.as_str()
            ],
            crate::apply::record_row,
        )?
        .collect::<rusqlite::Result<_>>()?;
    let mut stored = Vec::new();
    for other in &others {
        let Some(other_note) = parse_note(&other.note) else { continue };
        let (release, release_note, hold, hold_note) =
            if releasing { (m, &parsed, other, &other_note) } else { (other, &other_note, m, &parsed) };
        if hold.quantity != 0 || release.quantity <= 0 || hold_note.word != "holds" {
            continue;
        }
        if !hold_note.ids.contains(&release_note.excursion) || knew(release_note, hold_note.excursion) {
            continue;
        }
        let pair = compensation(release, hold, hold_note.excursion);
        // A pair is stored whole or not at all: a node that started from a snapshot may hold
        // one side as history (inside its openings) and must not add the other.
        let exists: bool = tx
            .prepare_cached("SELECT EXISTS(SELECT 1 FROM movements WHERE id = ?1 OR id = ?2)")?
            .query_row(params![pair[0].id, pair[1].id], |r| r.get(0))?;
        if !exists {
            let expires_on: Option<String> = tx
                .prepare_cached("SELECT expires_on FROM lots WHERE item_id = ?1 AND lot = ?2")?
                .query_row(params![release.key.item_id, release.key.lot], |r| r.get(0))
                .optional()?
                .flatten();
            for derived in &pair {
                record(tx, derived, expires_on.as_deref().and_then(|d| d.parse().ok()))?;
                stored.push(derived.clone());
            }
        }
        claim(tx, &pair[1], hold_note.excursion, now)?;
    }
    Ok(stored)
}

/// Hands a compensation's quarantined units (`quarantined`, the pair's
/// quarantined side) to the excursion that must judge them, once, on the node
/// that opened `excursion` (excursion rows are a node's own; elsewhere this
/// does nothing): to it while it is open; when it was resolved meanwhile, to
/// the excursion open on the unit now (its resolution takes them), and when
/// none is, it is reopened — its manager judged the stock it held then, not
/// these units, which a release elsewhere let out without knowing of it.
fn claim(tx: &Transaction<'_>, quarantined: &MovementRecord, excursion: Uuid, now: i64) -> Result<()> {
    let handed: bool = tx
        .prepare_cached(
            "SELECT NOT EXISTS(SELECT 1 FROM movements WHERE id = ?1)
                 OR EXISTS(SELECT 1 FROM excursion_movements WHERE movement_id = ?1)",
        )?
        .query_row([quarantined.id], |r| r.get(0))?;
    if handed {
        return Ok(());
    }
    let Some(open) = tx
        .prepare_cached("SELECT status = 'open' FROM excursions WHERE id = ?1")?
        .query_row([excursion], |r| r.get::<_, bool>(0))
        .optional()?
    else {
        return Ok(());
    };
    let target = if open {
        excursion
    } else {
        let open_on_unit: Option<Uuid> = tx
            .prepare_cached("SELECT id FROM excursions WHERE location_id = ?1 AND status = 'open'")?
            .query_row([quarantined.key.location_id], |r| r.get(0))
            .optional()?;
        match open_on_unit {
            Some(other) => other,
            None => {
                tx.prepare_cached("UPDATE excursions SET status = 'open', reopened_at_ms = ?2 WHERE id = ?1")?
                    .execute(params![excursion, now])?;
                excursion
            }
        }
    };
    tx.prepare_cached("INSERT OR IGNORE INTO excursion_movements (excursion_id, movement_id) VALUES (?1, ?2)")?
        .execute(params![target, quarantined.id])?;
    Ok(())
}

/// The hook the apply path calls after storing a movement from elsewhere:
/// derives what it completes (see [`derive_after`]); a server also appends
/// what it derived to its event log, so every node pulls it — a node that
/// started from a snapshot may lack the older half and could not derive it.
pub(crate) fn after_apply(tx: &Transaction<'_>, m: &MovementRecord, now: i64) -> Result<()> {
    if m.node_id == DERIVED_NODE && m.reason.as_deref() == Some(QUARANTINE_WINS_REASON) {
        // Derived elsewhere first (the server's, pulled before the release it completes, or
        // instead of it on a node that started from a snapshot): hand its units over here too.
        if let Some(parsed) = parse_note(&m.note).filter(|_| m.quantity > 0) {
            claim(tx, m, parsed.excursion, now)?;
        }
        return Ok(());
    }
    let derived = derive_after(tx, m, now)?;
    if derived.is_empty() {
        return Ok(());
    }
    let server: bool = tx.query_row(
        "SELECT EXISTS(SELECT 1 FROM sync_events) OR EXISTS(SELECT 1 FROM sync_state WHERE server_url = 'self')",
        [],
        |r| r.get(0),
    )?;
    if server {
        for d in &derived {
            let event = crate::replication::Event::Movement(crate::replication::MovementWire::from(d));
            tx.prepare_cached(
                "INSERT OR IGNORE INTO sync_events (event_kind, event_key, origin, body, received_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![event.kind(), event.key(), DERIVED_NODE, event.body(), now])?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_reads_back_what_was_written() {
        let e = Uuid::from_u128(1);
        let (a, b) = (Uuid::from_u128(2), Uuid::from_u128(3));
        assert_eq!(
            parse_note(&note(e, "holds", &[a, b])).unwrap(),
            ExcursionNote { excursion: e, word: "holds".into(), ids: vec![a, b] }
        );
        assert_eq!(
            parse_note(&note(e, "knew", &[])).unwrap(),
            ExcursionNote { excursion: e, word: String::new(), ids: vec![] }
        );
        assert_eq!(parse_note("excursion not-an-id"), None);
        assert_eq!(parse_note("a clerk's note"), None);
    }

    #[test]
    fn derived_ids_differ_by_every_input_and_are_never_a_nodes_uuidv7() {
        let (r, h) = (Uuid::now_v7(), Uuid::now_v7());
        let ids = [derived_id(r, h, 0), derived_id(r, h, 1), derived_id(h, r, 0)];
        assert_eq!(ids[0], derived_id(r, h, 0), "deterministic");
        assert!(ids[0] != ids[1] && ids[0] != ids[2] && ids[1] != ids[2]);
        assert!(ids.iter().all(|id| id.get_version_num() == 8));
    }
}
