//! What each serial port of this workstation is for (a barcode scanner, or
//! a thermometer bus whose sensors are in `sensors`), recognised by the USB
//! identity of the device on it with the path as the fallback. Local
//! configuration of this workstation's hardware: never synchronised, and
//! nothing here touches stock.

use crate::error::{LedgerError, Result};
use crate::model::Action;
use crate::posting::acting_user;
use crate::store::Ledger;
use rusqlite::params;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ts")]
use ts_rs::TS;

/// Port roles one workstation may keep.
pub const PORT_ROLES_MAX: usize = 64;
/// The longest identity, path, prefix or description.
pub const PORT_TEXT_MAX: usize = 200;

/// One port's role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct PortRole {
    /// `usb:vendor:product:serial` for a USB device, else the path.
    pub identity: String,
    /// Where the device was when the role was set (the fallback).
    pub path: String,
    /// scanner or thermometer.
    pub role: String,
    /// Baud rate.
    pub baud: u32,
    /// Scanners: cr, lf, crlf or tab.
    pub terminator: String,
    /// Scanners: text before every scan, removed.
    pub prefix: String,
    /// The device's own name (USB product), for people.
    pub description: String,
}

fn invalid(field: &'static str, reason: impl Into<String>) -> LedgerError {
    LedgerError::InvalidInput { field, reason: reason.into() }
}

impl Ledger {
    /// Sets (or changes) a port's role; who may change master data may do this.
    pub fn set_port_role(&mut self, user: &str, role: &PortRole) -> Result<()> {
        for (field, text) in [
            ("identity", &role.identity),
            ("path", &role.path),
            ("prefix", &role.prefix),
            ("description", &role.description),
        ] {
            if text.chars().count() > PORT_TEXT_MAX {
                return Err(invalid(field, format!("at most {PORT_TEXT_MAX} characters")));
            }
        }
        if role.identity.trim().is_empty() || role.path.trim().is_empty() {
            return Err(invalid("port", "choose a serial port"));
        }
        if !matches!(role.role.as_str(), "scanner" | "thermometer") {
            return Err(invalid("role", format!("'{}' is not scanner or thermometer", role.role)));
        }
        if !(1200..=230_400).contains(&role.baud) {
            return Err(invalid("baud", format!("{} is not 1200–230400", role.baud)));
        }
        if !matches!(role.terminator.as_str(), "cr" | "lf" | "crlf" | "tab") {
            return Err(invalid("terminator", format!("'{}' is not cr, lf, crlf or tab", role.terminator)));
        }
        if role.prefix.chars().any(char::is_control) {
            return Err(invalid("prefix", "printable characters only"));
        }
        acting_user(&self.conn, user, Action::EditMasterData)?;
        let exists: bool = self.conn.query_row(
            "SELECT EXISTS(SELECT 1 FROM port_roles WHERE identity = ?1)",
            [role.identity.trim()],
            |r| r.get(0),
        )?;
        let count: i64 = self.conn.query_row("SELECT count(*) FROM port_roles", [], |r| r.get(0))?;
        if !exists && count as usize >= PORT_ROLES_MAX {
            return Err(invalid("port", format!("at most {PORT_ROLES_MAX} ports may have a role; remove one first")));
        }
        let now = self.clock.now_ms();
        self.conn.execute(
            "INSERT INTO port_roles (identity, path, role, baud, terminator, prefix, description, updated_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (identity) DO UPDATE SET path = excluded.path, role = excluded.role, baud = excluded.baud,
                terminator = excluded.terminator, prefix = excluded.prefix, description = excluded.description,
                updated_at_ms = excluded.updated_at_ms",
            params![
                role.identity.trim(),
                role.path.trim(),
                role.role,
                role.baud,
                role.terminator,
                role.prefix,
                role.description.trim(),
                now
            ],
        )?;
        Ok(())
    }

    /// Takes a port's role away (the device on it is no longer used); true when there was one.
    pub fn remove_port_role(&mut self, user: &str, identity: &str) -> Result<bool> {
        acting_user(&self.conn, user, Action::EditMasterData)?;
        Ok(self.conn.execute("DELETE FROM port_roles WHERE identity = ?1", [identity.trim()])? > 0)
    }

    /// Every port role, by identity.
    pub fn port_roles(&self) -> Result<Vec<PortRole>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT identity, path, role, baud, terminator, prefix, description FROM port_roles ORDER BY identity",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(PortRole {
                identity: r.get(0)?,
                path: r.get(1)?,
                role: r.get(2)?,
                baud: r.get(3)?,
                terminator: r.get(4)?,
                prefix: r.get(5)?,
                description: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
