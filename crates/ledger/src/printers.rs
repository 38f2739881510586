//! This workstation's printers and its persisted print queue.
//!
//! The ledger does not render or send anything (that is `crates/printing`,
//! called by the shells): it keeps each printer's connection URI and profile
//! (JSON the shell understands), and every job's rendered bytes until they
//! reached the printer. A job that failed stays queued with its error, to be
//! retried or moved to another printer — also after a restart. Printers are
//! local configuration: they are never synchronised.

use crate::error::{LedgerError, Result};
use crate::model::Action;
use crate::posting::acting_user;
use crate::store::{stamp, Ledger};
use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use uuid::Uuid;

#[cfg(feature = "ts")]
use ts_rs::TS;

/// The largest rendered job kept in the queue (a PDF of a few thousand labels).
pub const PRINT_JOB_BYTES_MAX: usize = 64 * 1024 * 1024;
/// Printer names: short, for a drop-down.
pub const PRINTER_NAME_MAX: usize = 40;
/// Jobs listed at most.
pub const PRINT_JOBS_LISTED_MAX: u32 = 500;

/// A configured printer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct PrinterRecord {
    /// Name, e.g. zebra1.
    pub name: String,
    /// Connection URI.
    pub uri: String,
    /// The printer profile as JSON.
    pub profile: String,
}

/// What a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(TS))]
#[serde(rename_all = "snake_case")]
pub enum PrintJobKind {
    /// Labels.
    Label,
    /// A document (A4 PDF or thermal receipt).
    Document,
}

impl PrintJobKind {
    fn as_str(self) -> &'static str {
        match self {
            PrintJobKind::Label => "label",
            PrintJobKind::Document => "document",
        }
    }
}

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(TS))]
#[serde(rename_all = "snake_case")]
pub enum PrintJobStatus {
    /// Waiting to be sent.
    Queued,
    /// Reached the printer.
    Sent,
    /// The last attempt failed; kept for a retry.
    Failed,
    /// Given up by a user.
    Cancelled,
}

impl PrintJobStatus {
    fn parse(text: &str) -> PrintJobStatus {
        match text {
            "queued" => PrintJobStatus::Queued,
            "sent" => PrintJobStatus::Sent,
            "failed" => PrintJobStatus::Failed,
            _ => PrintJobStatus::Cancelled,
        }
    }
}

/// A job in the queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct PrintJobView {
    /// Job UUID.
    pub id: String,
    /// Printer name.
    pub printer: String,
    /// Label or document.
    pub kind: PrintJobKind,
    /// What it prints, e.g. "RK-S01-000012" or "3 labels, lot L1".
    pub description: String,
    /// Size of the rendered job.
    pub bytes: i64,
    /// Status.
    pub status: PrintJobStatus,
    /// Attempts made.
    pub attempts: i64,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When it was queued, ms.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub created_at_ms: i64,
    /// When it reached the printer, ms.
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub sent_at_ms: Option<i64>,
}

/// A job ready to send: its printer and bytes.
#[derive(Debug, Clone)]
pub struct PrintJobPayload {
    /// Job UUID.
    pub id: String,
    /// The printer it goes to.
    pub printer: PrinterRecord,
    /// The rendered bytes.
    pub payload: Vec<u8>,
}

impl Ledger {
    /// Adds or replaces a printer (who may change master data may do this).
    pub fn set_printer(&mut self, user: &str, name: &str, uri: &str, profile: &str) -> Result<PrinterRecord> {
        let name = name.trim();
        let valid = !name.is_empty()
            && name.chars().count() <= PRINTER_NAME_MAX
            && name.chars().all(|c| c.is_alphanumeric() || "-_.".contains(c));
        if !valid {
            return Err(LedgerError::InvalidInput {
                field: "printer name",
                reason: format!("1–{PRINTER_NAME_MAX} letters, digits, '-', '_' or '.'"),
            });
        }
        if uri.trim().is_empty() || uri.chars().count() > 500 {
            return Err(LedgerError::InvalidInput { field: "uri", reason: "a printer address is needed".into() });
        }
        if serde_json::from_str::<serde_json::Value>(profile).is_err() {
            return Err(LedgerError::InvalidInput { field: "profile", reason: "not JSON".into() });
        }
        acting_user(&self.conn, user, Action::EditMasterData)?;
        let node_id = self.node.as_ref().map(|n| n.id);
        crate::store::catch_up(&self.conn, &mut self.hlc, &mut self.data_version, node_id)?;
        let (hlc, _) = stamp(&mut self.hlc, self.clock.as_ref());
        self.conn.execute(
            "INSERT INTO printers (name, uri, profile, created_hlc) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (name) DO UPDATE SET uri = excluded.uri, profile = excluded.profile",
            params![name, uri.trim(), profile, hlc.0],
        )?;
        self.printer(name)
    }

    /// One printer.
    pub fn printer(&self, name: &str) -> Result<PrinterRecord> {
        self.conn
            .prepare_cached("SELECT name, uri, profile FROM printers WHERE name = ?1")?
            .query_row([name.trim()], |r| Ok(PrinterRecord { name: r.get(0)?, uri: r.get(1)?, profile: r.get(2)? }))
            .optional()?
            .ok_or_else(|| LedgerError::UnknownPrinter(name.to_string()))
    }

    /// Every printer, by name.
    pub fn printers(&self) -> Result<Vec<PrinterRecord>> {
        let mut stmt = self.conn.prepare_cached("SELECT name, uri, profile FROM printers ORDER BY name")?;
        let rows = stmt.query_map([], |r| Ok(PrinterRecord { name: r.get(0)?, uri: r.get(1)?, profile: r.get(2)? }))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Queues a rendered job for a printer; returns its id.
    pub fn queue_print_job(
        &mut self,
        user: &str,
        printer: &str,
        kind: PrintJobKind,
        description: &str,
        payload: &[u8],
    ) -> Result<String> {
        if payload.is_empty() || payload.len() > PRINT_JOB_BYTES_MAX {
            return Err(LedgerError::InvalidInput {
                field: "print job",
                reason: format!("{} bytes; a job holds 1 to {PRINT_JOB_BYTES_MAX}", payload.len()),
            });
        }
        let printer = self.printer(printer)?;
        let (user_id, _) = acting_user(&self.conn, user, Action::Print)?;
        let now = self.clock.now_ms();
        let id = self.ids.next_id(now);
        let description: String = description.chars().take(200).collect();
        self.conn.execute(
            "INSERT INTO print_jobs (id, printer, kind, description, payload, bytes, status, created_by, created_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'queued', ?7, ?8)",
            params![id, printer.name, kind.as_str(), description, payload, payload.len() as i64, user_id, now],
        )?;
        Ok(id.to_string())
    }

    /// A queued or failed job's printer and bytes, to send.
    pub fn print_job_payload(&self, job: &str) -> Result<PrintJobPayload> {
        let id = job_id(job)?;
        let (printer, payload): (String, Option<Vec<u8>>) = self
            .conn
            .prepare_cached(
                "SELECT printer, payload FROM print_jobs WHERE id = ?1 AND (status = 'queued' OR status = 'failed')",
            )?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?
            .ok_or_else(|| LedgerError::UnknownPrintJob(job.to_string()))?;
        let payload = payload.ok_or_else(|| LedgerError::UnknownPrintJob(job.to_string()))?;
        Ok(PrintJobPayload { id: id.to_string(), printer: self.printer(&printer)?, payload })
    }

    /// Records an attempt: sent (the bytes are dropped) or failed with its error (kept for a retry).
    pub fn finish_print_job(&mut self, job: &str, outcome: std::result::Result<(), String>) -> Result<PrintJobView> {
        let id = job_id(job)?;
        let now = self.clock.now_ms();
        let changed = match &outcome {
            Ok(()) => self.conn.execute(
                "UPDATE print_jobs SET status = 'sent', payload = NULL, attempts = attempts + 1, last_error = NULL,
                    sent_at_ms = ?2 WHERE id = ?1 AND (status = 'queued' OR status = 'failed')",
                params![id, now],
            )?,
            Err(error) => self.conn.execute(
                "UPDATE print_jobs SET status = 'failed', attempts = attempts + 1, last_error = ?2
                 WHERE id = ?1 AND (status = 'queued' OR status = 'failed')",
                params![id, error.chars().take(500).collect::<String>()],
            )?,
        };
        if changed == 0 {
            return Err(LedgerError::UnknownPrintJob(job.to_string()));
        }
        self.print_job(job)
    }

    /// Sends a waiting job to another printer next time (same bytes: the
    /// other printer must speak the same language).
    pub fn move_print_job(&mut self, user: &str, job: &str, printer: &str) -> Result<PrintJobView> {
        let id = job_id(job)?;
        acting_user(&self.conn, user, Action::Print)?;
        let target = self.printer(printer)?;
        // The job's bytes are in its printer's language: only a printer that speaks it may take them.
        let current: String = self
            .conn
            .query_row("SELECT printer FROM print_jobs WHERE id = ?1", [id], |r| r.get(0))
            .optional()?
            .unwrap_or_default();
        let language = |profile: &str| {
            serde_json::from_str::<serde_json::Value>(profile).ok().and_then(|v| v.get("language").cloned())
        };
        if let Ok(from) = self.printer(&current) {
            if language(&from.profile) != language(&target.profile) {
                return Err(LedgerError::InvalidInput {
                    field: "printer",
                    reason: format!("{} does not speak the language of {}'s job", target.name, from.name),
                });
            }
        }
        let changed = self.conn.execute(
            "UPDATE print_jobs SET printer = ?2, status = 'queued' WHERE id = ?1 AND (status = 'queued' OR status = 'failed')",
            params![id, target.name],
        )?;
        if changed == 0 {
            return Err(LedgerError::UnknownPrintJob(job.to_string()));
        }
        self.print_job(job)
    }

    /// Gives up a waiting job.
    pub fn cancel_print_job(&mut self, user: &str, job: &str) -> Result<PrintJobView> {
        let id = job_id(job)?;
        acting_user(&self.conn, user, Action::Print)?;
        let changed = self.conn.execute(
            "UPDATE print_jobs SET status = 'cancelled', payload = NULL WHERE id = ?1 AND (status = 'queued' OR status = 'failed')",
            [id],
        )?;
        if changed == 0 {
            return Err(LedgerError::UnknownPrintJob(job.to_string()));
        }
        self.print_job(job)
    }

    /// One job.
    pub fn print_job(&self, job: &str) -> Result<PrintJobView> {
        let id = job_id(job)?;
        self.conn
            .prepare_cached(&format!("{JOB_SELECT} WHERE id = ?1"))?
            .query_row([id], job_row)
            .optional()?
            .ok_or_else(|| LedgerError::UnknownPrintJob(job.to_string()))
    }

    /// Jobs, newest first: those still waiting, or all (at most `PRINT_JOBS_LISTED_MAX`).
    pub fn print_jobs(&self, all: bool) -> Result<Vec<PrintJobView>> {
        let filter = if all { "" } else { " WHERE status = 'queued' OR status = 'failed'" };
        let mut stmt = self.conn.prepare_cached(&format!("{JOB_SELECT}{filter} ORDER BY id DESC LIMIT ?1"))?;
        let rows = stmt.query_map([PRINT_JOBS_LISTED_MAX], job_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

const JOB_SELECT: &str = "SELECT id, printer, kind, description, bytes, status, attempts, last_error, created_at_ms,
    sent_at_ms FROM print_jobs";

fn job_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PrintJobView> {
    Ok(PrintJobView {
        id: r.get::<_, Uuid>(0)?.to_string(),
        printer: r.get(1)?,
        kind: if r.get_ref(2)?.as_str()? == "label" { PrintJobKind::Label } else { PrintJobKind::Document },
        description: r.get(3)?,
        bytes: r.get(4)?,
        status: PrintJobStatus::parse(r.get_ref(5)?.as_str()?),
        attempts: r.get(6)?,
        last_error: r.get(7)?,
        created_at_ms: r.get(8)?,
        sent_at_ms: r.get(9)?,
    })
}

fn job_id(text: &str) -> Result<Uuid> {
    Uuid::parse_str(text.trim()).map_err(|_| LedgerError::UnknownPrintJob(text.to_string()))
}
