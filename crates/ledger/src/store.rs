//! Opening the SQLite file: pragmas, forward-only migrations gated on
//! `PRAGMA user_version`, the node identity, and HLC stamping.

use crate::clock::{Clock, Hlc, SystemClock};
use crate::error::{LedgerError, Result};
use crate::ids::{IdSource, RandomIds};
use crate::model::{NodeInfo, Role};
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use std::path::Path;
use uuid::Uuid;

/// The migrations, in order; `user_version` = how many have been applied.
const MIGRATIONS: &[&str] = &[
    include_str!("../../../migrations/0001_init.sql"),
    include_str!("../../../migrations/0002_numbers_from_documents.sql"),
    include_str!("../../../migrations/0003_stocktakes.sql"),
    include_str!("../../../migrations/0004_printing.sql"),
    include_str!("../../../migrations/0005_cold_chain.sql"),
    include_str!("../../../migrations/0006_port_roles.sql"),
    include_str!("../../../migrations/0007_sync.sql"),
    include_str!("../../../migrations/0008_sync_ca.sql"),
    include_str!("../../../migrations/0009_excursion_reopened.sql"),
    include_str!("../../../migrations/0010_sync_lineage.sql"),
    include_str!("../../../migrations/0011_stocktake_counting_ended.sql"),
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// How long a writer waits for another process's lock before failing.
pub const BUSY_TIMEOUT_MS: u64 = 5_000;

/// Prepared statements kept per connection (rusqlite's default of 16 is
/// smaller than the posting path, which would re-prepare on every post).
pub const STATEMENT_CACHE_CAPACITY: usize = 256;

/// SQLite's page cache per connection, KiB. Bigger is not better: when a
/// B-tree split renumbers pages (it parks one at the reserved lock-page number
/// for a moment), the commit that follows scans the whole cache to drop it:
/// with 64 MiB that added up to a millisecond to every post that split a page
/// of a million-movement ledger. The operating system's file cache holds the rest.
pub const PAGE_CACHE_KIB: i64 = 8 * 1024;

/// The page cache of the read connection that whole-table reports (the stock
/// list) scan through, KiB: room for the balances of a large storeroom (about
/// 8 MiB per 100,000 keys), which the writer's small cache cannot hold — a
/// sequential scan of a table just larger than an LRU cache misses on every
/// page. It never commits, so its size costs posting nothing.
pub const READ_CACHE_KIB: i64 = 32 * 1024;

/// WAL pages after which a commit copies the WAL into the database itself.
/// A fallback: with a [`Checkpointer`] running, the WAL never gets this long
/// and no post waits for a checkpoint.
pub const WAL_AUTOCHECKPOINT_PAGES: i64 = 10_000;

/// WAL pages at which the background [`Checkpointer`] starts a checkpoint.
pub const CHECKPOINT_PAGES: i64 = 1_000;

/// How often the background checkpointer looks at the WAL.
pub const CHECKPOINT_INTERVAL_MS: u64 = 200;

/// The username `init` creates, with the admin role.
pub const INITIAL_ADMIN: &str = "admin";

/// The node's identity, loaded once per open.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub id: Uuid,
    pub site_code: String,
    pub name: String,
}

/// One workstation's ledger: a SQLite file plus the injected clock and id source.
pub struct Ledger {
    /// A read-only connection to the same file for large reads, opened on
    /// first use. Declared first, so it closes first: the writer, closing
    /// last, checkpoints the WAL and removes it.
    pub(crate) reader: std::cell::OnceCell<Connection>,
    pub(crate) conn: Connection,
    pub(crate) clock: Box<dyn Clock>,
    pub(crate) ids: Box<dyn IdSource>,
    pub(crate) node: Option<Node>,
    pub(crate) hlc: Hlc,
    /// `PRAGMA data_version` when this handle last looked: it changes when another
    /// handle (the CLI beside the app) commits, and then the HLC catches up.
    pub(crate) data_version: i64,
}

impl Ledger {
    /// Opens (creating if needed) with the system clock and OS entropy.
    pub fn open(path: &Path) -> Result<Ledger> {
        Ledger::open_with(path, Box::new(SystemClock), Box::new(RandomIds::from_entropy()))
    }

    /// Opens with an injected clock and id source (tests, simulations).
    pub fn open_with(path: &Path, clock: Box<dyn Clock>, ids: Box<dyn IdSource>) -> Result<Ledger> {
        let mut conn = Connection::open(path)?;
        configure(&conn)?;
        migrate(&mut conn)?;
        let node = load_node(&conn)?;
        // The high-water mark: the node's persisted mark, or this node's newest
        // movement or stocktake observation if later (posting does not rewrite
        // the mark: each movement carries its own HLC, stamped after everything
        // else in its document; a count posted later takes its scan's HLC).
        let hlc_high: i64 = match &node {
            Some(node) => conn.query_row(
                "SELECT max(hlc_high,
                            coalesce((SELECT hlc FROM movements WHERE node_id = ?1 ORDER BY hlc DESC LIMIT 1), 0),
                            coalesce((SELECT hlc FROM stocktake_observations WHERE node_id = ?1
                                      ORDER BY hlc DESC LIMIT 1), 0)) FROM node",
                [node.id],
                |r| r.get(0),
            )?,
            None => 0,
        };
        let data_version = conn.query_row("PRAGMA data_version", [], |r| r.get(0))?;
        Ok(Ledger { conn, clock, ids, node, hlc: Hlc(hlc_high), data_version, reader: std::cell::OnceCell::new() })
    }

    /// Creates this node's identity and the initial admin user.
    pub fn init(&mut self, site_code: &str, name: &str) -> Result<NodeInfo> {
        if self.node.is_some() {
            return Err(LedgerError::AlreadyInitialised);
        }
        validate_site_code(site_code)?;
        let now = self.clock.now_ms();
        let id = self.ids.next_id(now);
        let name = if name.trim().is_empty() { format!("MedLedger {site_code}") } else { name.trim().to_string() };
        let hlc = self.hlc.tick(now);
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO node (singleton, id, site_code, name, created_at_ms, hlc_high) VALUES (1, ?1, ?2, ?3, ?4, ?5)",
            params![id, site_code, name, now, hlc.0],
        )?;
        let admin_id = self.ids.next_id(now);
        tx.execute(
            "INSERT INTO users (id, username, display_name, role, language, created_hlc) VALUES (?1, ?2, ?3, ?4, 'zh', ?5)",
            params![admin_id, INITIAL_ADMIN, "系统管理员 Administrator", Role::Admin.as_str(), hlc.0],
        )?;
        let change_id = self.ids.next_id(now);
        crate::replication::capture_created(&tx, "user", admin_id, change_id, id, hlc.0)?;
        tx.commit()?;
        self.hlc = hlc;
        self.node = Some(Node { id, site_code: site_code.to_string(), name });
        self.node_info()
    }

    /// This node's identity.
    pub fn node_info(&self) -> Result<NodeInfo> {
        let node = self.node()?;
        Ok(NodeInfo { id: node.id.to_string(), site_code: node.site_code.clone(), name: node.name.clone() })
    }

    pub(crate) fn node(&self) -> Result<&Node> {
        self.node.as_ref().ok_or(LedgerError::NotInitialised)
    }

    /// The hybrid logical clock's newest value on this node (every later local event is stamped above it).
    pub fn current_hlc(&self) -> Hlc {
        self.hlc.tick(self.clock.now_ms()).max(self.hlc)
    }

    /// The injected clock.
    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    /// The raw connection, for tests and benchmarks that inspect the file.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The connection for large reads outside any write transaction: a second,
    /// read-only connection to the same file with its own large page cache
    /// ([`READ_CACHE_KIB`]); WAL lets it read beside the writer and it sees
    /// every commit. An in-memory database reads through its one connection.
    pub(crate) fn reader(&self) -> Result<&Connection> {
        if let Some(reader) = self.reader.get() {
            return Ok(reader);
        }
        let path = match self.conn.path() {
            Some(path) if !path.is_empty() => path.to_string(),
            _ => return Ok(&self.conn),
        };
        let reader = Connection::open_with_flags(
            &path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        reader.execute_batch(&format!("PRAGMA query_only = ON; PRAGMA cache_size = -{READ_CACHE_KIB};"))?;
        Ok(self.reader.get_or_init(|| reader))
    }

    /// Starts a write transaction that takes the write lock at once, so two
    /// processes never deadlock upgrading a read lock.
    pub(crate) fn begin(&mut self) -> Result<Transaction<'_>> {
        Ok(self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?)
    }
}

/// Copies the WAL into the database from a second connection on its own
/// thread, so that no post waits for a checkpoint (a 10,000-page checkpoint
/// inside a commit stalls that post for tens of milliseconds). PASSIVE
/// checkpoints never block the writer. Stops (and joins) when dropped.
pub struct Checkpointer {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Ledger {
    /// Starts the background checkpointer for this ledger's file.
    pub fn start_checkpointer(&self) -> Result<Checkpointer> {
        let path = self.conn.path().filter(|p| !p.is_empty()).map(std::path::PathBuf::from).ok_or_else(|| {
            LedgerError::InvalidInput { field: "database", reason: "an in-memory ledger has no WAL".into() }
        })?;
        let conn = Connection::open(&path)?;
        conn.busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS))?;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new().name("wal-checkpoint".into()).spawn(move || {
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::park_timeout(std::time::Duration::from_millis(CHECKPOINT_INTERVAL_MS));
                // (busy, pages in the WAL, pages checkpointed); a failure is retried next round.
                let pending = conn
                    .query_row("PRAGMA wal_checkpoint(NOOP)", [], |r| Ok(r.get::<_, i64>(1)? - r.get::<_, i64>(2)?))
                    .unwrap_or(0);
                if pending >= CHECKPOINT_PAGES {
                    let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                }
            }
        })?;
        Ok(Checkpointer { stop, thread: Some(thread) })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

/// Brings this handle's HLC up to what other handles on the same file have
/// stamped since it last looked (their posts do not rewrite the persisted mark),
/// so two processes never stamp below each other's events — the outbox pushes
/// by HLC. Costs one pragma when nobody else wrote.
pub(crate) fn catch_up(conn: &Connection, hlc: &mut Hlc, seen: &mut i64, node: Option<Uuid>) -> Result<()> {
    let version: i64 = conn.query_row("PRAGMA data_version", [], |r| r.get(0))?;
    if version == *seen {
        return Ok(());
    }
    *seen = version;
    let Some(node) = node else { return Ok(()) };
    let newest: i64 = conn.query_row(
        "SELECT max(hlc_high,
                    coalesce((SELECT hlc FROM movements WHERE node_id = ?1 ORDER BY hlc DESC LIMIT 1), 0),
                    coalesce((SELECT hlc FROM stocktake_observations WHERE node_id = ?1
                              ORDER BY hlc DESC LIMIT 1), 0)) FROM node",
        [node],
        |r| r.get(0),
    )?;
    if newest > hlc.0 {
        *hlc = Hlc(newest);
    }
    Ok(())
}

/// The next HLC for a local event plus the wall time it was taken at.
pub(crate) fn stamp(hlc: &mut Hlc, clock: &dyn Clock) -> (Hlc, i64) {
    let now = clock.now_ms();
    *hlc = hlc.tick(now);
    (*hlc, now)
}

/// Persists the HLC high-water mark inside the caller's transaction.
pub(crate) fn persist_hlc(tx: &Transaction<'_>, hlc: Hlc) -> Result<()> {
    tx.prepare_cached("UPDATE node SET hlc_high = max(hlc_high, ?1)")?.execute([hlc.0])?;
    Ok(())
}

fn configure(conn: &Connection) -> Result<()> {
    // WAL + synchronous=FULL: a commit the app acknowledged survives a power cut.
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") && !mode.eq_ignore_ascii_case("memory") {
        return Err(LedgerError::InvalidInput {
            field: "database",
            reason: format!("cannot use WAL journal (got {mode})"),
        });
    }
    conn.execute_batch(&format!(
        "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL; PRAGMA cache_size = -{PAGE_CACHE_KIB};
         PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES};"
    ))?;
    // Posting uses a few dozen distinct statements; keep them all prepared.
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
    // Query-planner stability: plans do not depend on bound values, so cached
    // statements are not recompiled on every new binding (SQLite's STAT4 build
    // otherwise re-prepares them: a third of the posting time in profiles).
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    conn.busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS))?;
    Ok(())
}

fn migrate(conn: &mut Connection) -> Result<()> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(LedgerError::DatabaseTooNew { found, supported: SCHEMA_VERSION });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Another process may have migrated while we waited for the lock.
        let now: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if now > index as i64 {
            continue;
        }
        tx.execute_batch(sql)?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", index + 1))?;
        tx.commit()?;
    }
    Ok(())
}

fn load_node(conn: &Connection) -> Result<Option<Node>> {
    Ok(conn
        .query_row("SELECT id, site_code, name FROM node", [], |r| {
            Ok(Node { id: r.get(0)?, site_code: r.get(1)?, name: r.get(2)? })
        })
        .optional()?)
}

/// Site codes appear in every document number: 1–8 ASCII capitals or digits.
pub const SITE_CODE_MAX: usize = 8;

pub(crate) fn validate_site_code(code: &str) -> Result<()> {
    let ok = !code.is_empty()
        && code.len() <= SITE_CODE_MAX
        && code.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(LedgerError::InvalidInput {
            field: "site",
            reason: format!("'{code}' must be 1–{SITE_CODE_MAX} capital letters or digits, e.g. S01"),
        })
    }
}
