//! The messages between a workstation and the hospital server. Every body is
//! JSON, gzip-compressed, and carries the protocol and wire-schema versions
//! (the shape of what travels, not the database's migrations: peers on
//! different local schemas still sync); a peer speaking another version is
//! refused before anything is read further.

use ledger::lineage::Lineage;
use ledger::replication::{ConflictView, Event, PROTOCOL_VERSION, WIRE_SCHEMA};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The largest body either side accepts, after decompression.
pub const BODY_MAX_BYTES: usize = 32 * 1024 * 1024;

/// Versions, carried by every message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Versions {
    /// Wire protocol.
    pub protocol: u32,
    /// The shape of what travels (`ledger::replication::WIRE_SCHEMA`).
    pub schema: i64,
}

impl Versions {
    /// This build's versions.
    pub fn ours() -> Versions {
        Versions { protocol: PROTOCOL_VERSION, schema: WIRE_SCHEMA }
    }
}

/// Enrolment: a one-time code for this node's identity.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnrolRequest {
    /// Versions.
    #[serde(flatten)]
    pub versions: Versions,
    /// The code `medledger enrol` printed on the server.
    pub code: String,
    /// The workstation's node id.
    pub node_id: Uuid,
    /// Its site code.
    pub site_code: String,
}

/// The node's own token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnrolResponse {
    /// Versions.
    #[serde(flatten)]
    pub versions: Versions,
    /// Bearer token for every later request.
    pub token: String,
    /// The server's node id.
    pub server_node_id: Uuid,
}

/// A batch of the node's own events.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PushRequest {
    /// Versions.
    #[serde(flatten)]
    pub versions: Versions,
    /// Events in causal order.
    pub events: Vec<Event>,
    /// The node's lineage (`ledger::lineage`): its current value and the next
    /// one the server moves it to with this batch.
    #[serde(default)]
    pub lineage: Option<Lineage>,
    /// Sent again after the server's database went back (`sync --resend`):
    /// accepted although the server never saw the lineage.
    #[serde(default)]
    pub resend: bool,
    /// The node's pull cursor and the key of the server's event there: a push to a
    /// server whose database went back is refused before a reference it no longer
    /// holds (an item the node pulled) could make the batch look malformed.
    #[serde(default)]
    pub cursor: i64,
    /// See `cursor`.
    #[serde(default)]
    pub cursor_key: Option<String>,
}

/// What the server did with a batch.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PushResponse {
    /// Versions.
    #[serde(flatten)]
    pub versions: Versions,
    /// New events stored.
    pub applied: usize,
    /// Events the server already had.
    pub duplicates: usize,
    /// Same key, other content: kept aside.
    pub conflicts: Vec<ConflictView>,
}

/// Events after a cursor.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PullRequest {
    /// Versions.
    #[serde(flatten)]
    pub versions: Versions,
    /// The last sequence this node applied.
    pub cursor: i64,
    /// At most this many events.
    pub limit: usize,
    /// A node that started from a snapshot: the sequence it was taken at (the
    /// server adds the history such a node lacks).
    #[serde(default)]
    pub horizon: Option<i64>,
    /// The node's lineage: a node whose ledger went back recovers first.
    #[serde(default)]
    pub lineage: Option<Lineage>,
    /// A recovery (`ledger::lineage`): the node's own events come too, and the
    /// last page carries the lineage value it takes.
    #[serde(default)]
    pub recover: bool,
    /// The server's key of its event at `cursor`, as the last answer gave it: a
    /// server whose log went back (and numbered other events alike) is caught.
    #[serde(default)]
    pub cursor_key: Option<String>,
}

/// Events of other nodes in server order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PullResponse {
    /// Versions.
    #[serde(flatten)]
    pub versions: Versions,
    /// Events.
    pub events: Vec<Event>,
    /// The sequence these reach (store it with them).
    pub cursor: i64,
    /// More after these.
    pub more: bool,
    /// For a node that started from a snapshot: older movements and documents
    /// these events need (stored, not added again).
    #[serde(default)]
    pub history: Vec<Event>,
    /// A recovery's last page: the lineage value the node takes.
    #[serde(default)]
    pub lineage: Option<uuid::Uuid>,
    /// The key of the event at `cursor` (store it with the cursor; present it next time).
    #[serde(default)]
    pub cursor_key: Option<String>,
}

/// A new workstation asks for a snapshot instead of the whole history.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SnapshotRequest {
    /// Versions.
    #[serde(flatten)]
    pub versions: Versions,
    /// The node's hybrid-logical-clock value now.
    pub since_hlc: i64,
}

/// Master data, lots and balances as of a sequence.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SnapshotResponse {
    /// Versions.
    #[serde(flatten)]
    pub versions: Versions,
    /// The snapshot.
    pub snapshot: ledger::replication::Snapshot,
}

/// A refusal: a stable code and a message.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Stable code (`unauthenticated`, `revoked`, `incompatible_version`, `malformed`, `too_large`,
    /// `workstation_behind`, `server_behind`, …).
    pub code: String,
    /// What happened, in English (the client words it for its user).
    pub message: String,
}
