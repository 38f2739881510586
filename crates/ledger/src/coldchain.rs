//! The cold chain: cold units (locations of kind cold with a range) get
//! rules — how long out of range, or without any reading, makes an
//! *excursion*, and how fresh a reading must be to issue from them. Readings
//! come from sensors (the shells poll them), data-logger files or a clerk.
//!
//! An excursion quarantines every unit of stock in the cold unit (a pair of
//! `quarantine` movements per key: out of available, into quarantined,
//! linked to the excursion) — quarantined stock is never issued. A manager
//! resolves it: release (the stock goes back to available) or scrap.
//! Across nodes, a release made without knowing of a later excursion on the
//! same unit does not win over it (`crate::quarantine`): the movements' notes
//! say which excursion they belong to and what the writer knew.
//!
//! The temperature gate: issuing a cold-chain item from a gated cold unit
//! needs an in-range reading no older than the unit's gate age. A clerk who
//! measured it by hand records that reading (source `manual`); the issue
//! then keeps it as its temperature confirmation.

use crate::balance::{record, BalanceKey, MovementRecord};
use crate::error::{LedgerError, Result};
use crate::model::*;
use crate::posting::{acting_user, check_note, location_ref};
use crate::store::{stamp, Ledger};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;
use uuid::Uuid;

#[cfg(feature = "ts")]
use ts_rs::TS;

/// Readings looked back at when judging a unit (a day).
pub const READINGS_LOOKBACK_MS: i64 = 24 * 3_600_000;
/// Readings one logger file may hold (a month at one a minute).
pub const LOGGER_LINES_MAX: usize = 50_000;
/// Readings older than this are thinned to one per hour.
pub const READINGS_FULL_DETAIL_MS: i64 = 30 * 24 * 3_600_000;
/// Temperatures we accept as a reading at all.
pub const TEMPERATURE_RANGE_C: (f64, f64) = (-100.0, 100.0);

/// A cold unit's rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct ColdUnitRules {
    /// Out of range this long (minutes) is an excursion.
    pub excursion_minutes: i64,
    /// No reading this long (minutes) is an excursion.
    pub missing_minutes: i64,
    /// Issuing needs an in-range reading no older than this (minutes).
    pub gate_minutes: i64,
}

/// Where a reading came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(TS))]
#[serde(rename_all = "snake_case")]
pub enum ReadingSource {
    /// A polled sensor.
    Sensor,
    /// A data logger's file.
    Logger,
    /// Measured by hand and typed by a clerk.
    Manual,
}

impl ReadingSource {
    fn as_str(self) -> &'static str {
        match self {
            ReadingSource::Sensor => "sensor",
            ReadingSource::Logger => "logger",
            ReadingSource::Manual => "manual",
        }
    }
}

/// A sensor's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct SensorConfig {
    /// Cold unit (location code).
    pub location: String,
    /// Serial port path.
    pub port: String,
    /// modbus-rtu or ascii.
    pub protocol: String,
    /// Modbus address.
    pub slave: u8,
    /// Register map, e.g. xy-md02.
    pub model: String,
    /// Baud rate.
    pub baud: u32,
    /// ASCII thermometers: the line pattern.
    pub pattern: String,
}

/// An excursion.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct ExcursionView {
    /// UUID.
    pub id: String,
    /// Cold unit code.
    pub location: String,
    /// out_of_range or no_reading.
    pub kind: String,
    /// When it began (first reading out of range, or the last reading), ms.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub started_at_ms: i64,
    /// When it was detected, ms.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub detected_at_ms: i64,
    /// The reading furthest out of range, °C.
    pub worst_c: Option<f64>,
    /// open, released or scrapped.
    pub status: String,
    /// Units it quarantined.
    pub quarantined_units: i64,
    /// Who resolved it.
    pub resolved_by: Option<String>,
    /// Why.
    pub resolution_reason: Option<String>,
    /// When it was last reopened, ms: a release made elsewhere without
    /// knowing of it let out units it held, which went back into quarantine
    /// for it (its earlier resolution stays shown until it is resolved again).
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub reopened_at_ms: Option<i64>,
}

/// One reading.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct ReadingView {
    /// When, ms.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub at_ms: i64,
    /// °C.
    pub temperature_c: f64,
    /// %RH.
    pub humidity_pct: Option<f64>,
    /// sensor, logger or manual.
    pub source: String,
}

/// A cold location as the cold-chain screen shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct ColdUnitView {
    /// Location code.
    pub code: String,
    /// Name (Chinese).
    pub name: String,
    /// Name (English).
    pub name_en: String,
    /// Range, °C (None when the location has none: it is not judged).
    pub min_c: Option<f64>,
    /// Range, °C.
    pub max_c: Option<f64>,
    /// Its rules (None: no excursion is judged and no gate applies).
    pub rules: Option<ColdUnitRules>,
    /// The newest reading of any source.
    pub latest: Option<ReadingView>,
    /// Sensors polled for it.
    pub sensors: u32,
    /// The open excursion, if any (the unit's stock is quarantined).
    pub open_excursion: Option<ExcursionView>,
    /// Units of stock available in it.
    pub available_units: i64,
    /// Units of stock quarantined in it.
    pub quarantined_units: i64,
}

struct Unit {
    id: Uuid,
    code: String,
    min_c: f64,
    max_c: f64,
    rules: ColdUnitRules,
    since_ms: i64,
}

fn units(conn: &Connection) -> Result<Vec<Unit>> {
    let mut stmt = conn.prepare_cached(
        "SELECT l.id, l.code, l.min_temp_c, l.max_temp_c, c.excursion_minutes, c.missing_minutes, c.gate_minutes,
                c.updated_hlc
         FROM cold_units c JOIN locations l ON l.id = c.location_id ORDER BY l.code",
    )?;
    let rows = stmt.query_map([], |r| {
        let parse = |text: Option<String>| text.and_then(|t| t.parse::<f64>().ok());
        Ok((
            r.get::<_, Uuid>(0)?,
            r.get::<_, String>(1)?,
            parse(r.get(2)?),
            parse(r.get(3)?),
            ColdUnitRules { excursion_minutes: r.get(4)?, missing_minutes: r.get(5)?, gate_minutes: r.get(6)? },
            crate::clock::Hlc(r.get(7)?).physical_ms(),
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, code, min, max, rules, since_ms) = row?;
        if let (Some(min_c), Some(max_c)) = (min, max) {
            out.push(Unit { id, code, min_c, max_c, rules, since_ms });
        }
    }
    Ok(out)
}

fn unit(conn: &Connection, location: Uuid) -> Result<Option<Unit>> {
    Ok(units(conn)?.into_iter().find(|u| u.id == location))
}

/// A unit's instrument readings (sensors and loggers, not a clerk's) since
/// `since_ms`, one series per instrument, oldest first.
fn recent(conn: &Connection, location: Uuid, since_ms: i64) -> Result<Vec<Vec<(i64, f64)>>> {
    let mut stmt = conn.prepare_cached(
        "SELECT source, sensor, at_ms, temperature_c FROM temperature_readings
         WHERE location_id = ?1 AND at_ms >= ?2 AND source <> 'manual'
         ORDER BY source, sensor, at_ms LIMIT 200000",
    )?;
    let mut series: Vec<Vec<(i64, f64)>> = Vec::new();
    let mut current: Option<(String, String)> = None;
    let mut rows = stmt.query(params![location, since_ms])?;
    while let Some(r) = rows.next()? {
        let id = (r.get::<_, String>(0)?, r.get::<_, String>(1)?);
        if current.as_ref() != Some(&id) {
            series.push(Vec::new());
            current = Some(id);
        }
        series.last_mut().expect("pushed").push((r.get(2)?, r.get(3)?));
    }
    Ok(series)
}

impl Ledger {
    /// Gives a cold location its rules (who may change master data may do this).
    pub fn set_cold_unit(&mut self, user: &str, location: &str, rules: ColdUnitRules) -> Result<()> {
        for (field, value) in [
            ("excursion_minutes", rules.excursion_minutes),
            ("missing_minutes", rules.missing_minutes),
            ("gate_minutes", rules.gate_minutes),
        ] {
            if !(1..=1440).contains(&value) {
                return Err(LedgerError::InvalidInput { field, reason: format!("{value} is not 1–1440 minutes") });
            }
        }
        acting_user(&self.conn, user, Action::EditMasterData)?;
        let place = location_ref(&self.conn, location)?;
        let has_range: bool = self.conn.query_row(
            "SELECT min_temp_c IS NOT NULL AND max_temp_c IS NOT NULL FROM locations WHERE id = ?1",
            [place.id],
            |r| r.get(0),
        )?;
        if place.kind != LocationKind::Cold || !has_range {
            return Err(LedgerError::InvalidInput {
                field: "location",
                reason: format!("{location} must be a cold location with a temperature range"),
            });
        }
        let node_id = self.node.as_ref().map(|n| n.id);
        crate::store::catch_up(&self.conn, &mut self.hlc, &mut self.data_version, node_id)?;
        let (hlc, _) = stamp(&mut self.hlc, self.clock.as_ref());
        self.conn.execute(
            "INSERT INTO cold_units (location_id, excursion_minutes, missing_minutes, gate_minutes, updated_hlc)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (location_id) DO UPDATE SET excursion_minutes = excluded.excursion_minutes,
                missing_minutes = excluded.missing_minutes, gate_minutes = excluded.gate_minutes,
                updated_hlc = excluded.updated_hlc",
            params![place.id, rules.excursion_minutes, rules.missing_minutes, rules.gate_minutes, hlc.0],
        )?;
        Ok(())
    }

    /// Adds a sensor to a cold unit.
    pub fn add_sensor(&mut self, user: &str, sensor: &SensorConfig) -> Result<String> {
        acting_user(&self.conn, user, Action::EditMasterData)?;
        let place = location_ref(&self.conn, &sensor.location)?;
        if !matches!(sensor.protocol.as_str(), "modbus-rtu" | "ascii") {
            return Err(LedgerError::InvalidInput { field: "protocol", reason: "modbus-rtu or ascii".into() });
        }
        if sensor.port.trim().is_empty() || sensor.port.len() > 200 || sensor.pattern.len() > 200 {
            return Err(LedgerError::InvalidInput {
                field: "port",
                reason: "a port path of at most 200 characters".into(),
            });
        }
        let node_id = self.node.as_ref().map(|n| n.id);
        crate::store::catch_up(&self.conn, &mut self.hlc, &mut self.data_version, node_id)?;
        let (hlc, now) = stamp(&mut self.hlc, self.clock.as_ref());
        let id = self.ids.next_id(now);
        self.conn.execute(
            "INSERT INTO sensors (id, location_id, port, protocol, slave, model, baud, pattern, created_hlc)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                id,
                place.id,
                sensor.port.trim(),
                sensor.protocol,
                sensor.slave,
                sensor.model,
                sensor.baud,
                sensor.pattern,
                hlc.0
            ],
        )?;
        Ok(id.to_string())
    }

    /// Every sensor, by cold unit.
    pub fn sensors(&self) -> Result<Vec<SensorConfig>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT l.code, s.port, s.protocol, s.slave, s.model, s.baud, s.pattern FROM sensors s
             JOIN locations l ON l.id = s.location_id ORDER BY l.code, s.port, s.slave",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(SensorConfig {
                location: r.get(0)?,
                port: r.get(1)?,
                protocol: r.get(2)?,
                slave: r.get(3)?,
                model: r.get(4)?,
                baud: r.get(5)?,
                pattern: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Stores an instrument's reading (the same unit, sensor and time twice is one reading).
    /// `sensor` names the probe (e.g. `/dev/ttyUSB0#1`); a unit may have several.
    pub fn record_reading(
        &mut self,
        location: &str,
        sensor: &str,
        at_ms: i64,
        temperature_c: f64,
        humidity_pct: Option<f64>,
    ) -> Result<()> {
        let place = location_ref(&self.conn, location)?;
        let reading =
            NewReading { at_ms, temperature_c, humidity_pct, source: ReadingSource::Sensor, recorded_by: None };
        insert_reading(&self.conn, place.id, sensor, &reading)
    }

    /// A temperature a clerk measured by hand, now: it can pass the issue
    /// gate when no instrument has read the unit recently (an instrument's
    /// reading always wins), and it never decides an excursion.
    pub fn record_manual_reading(&mut self, user: &str, location: &str, temperature_c: f64) -> Result<()> {
        let (user_id, _) = acting_user(&self.conn, user, Action::Count)?;
        let place = location_ref(&self.conn, location)?;
        let now = self.clock.now_ms();
        let reading = NewReading {
            at_ms: now,
            temperature_c,
            humidity_pct: None,
            source: ReadingSource::Manual,
            recorded_by: Some(user_id),
        };
        insert_reading(&self.conn, place.id, "", &reading)
    }

    /// Imports a USB data logger's CSV export (`time,temperature[,humidity]`
    /// per line, a header line allowed; naive times at `utc_offset_minutes`):
    /// every line or none.
    pub fn import_logger_readings(&mut self, location: &str, text: &str, utc_offset_minutes: i32) -> Result<usize> {
        let place = location_ref(&self.conn, location)?;
        let mut readings = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim().trim_start_matches('\u{feff}');
            if line.is_empty() {
                continue;
            }
            let fields: Vec<&str> = line.split([',', ';', '\t']).map(str::trim).collect();
            let at = fields.first().and_then(|t| crate::stocktake::parse_device_time(t, utc_offset_minutes));
            let temperature = fields.get(1).and_then(|t| t.parse::<f64>().ok());
            match (at, temperature) {
                (Some(at), Some(t)) => readings.push((at, t, fields.get(2).and_then(|h| h.parse::<f64>().ok()))),
                // The header line, which names the columns.
                _ if index == 0 && readings.is_empty() => continue,
                _ => {
                    return Err(LedgerError::ImportLine {
                        line: index + 1,
                        error: Box::new(LedgerError::InvalidInput {
                            field: "reading",
                            reason: format!("'{line}' is not time,temperature[,humidity]"),
                        }),
                    })
                }
            }
            if readings.len() > LOGGER_LINES_MAX {
                return Err(LedgerError::TooManyLines { count: readings.len(), max: LOGGER_LINES_MAX });
            }
        }
        if readings.is_empty() {
            return Err(LedgerError::EmptyDocument);
        }
        let tx = self.begin()?;
        for (at, t, h) in &readings {
            let reading = NewReading {
                at_ms: *at,
                temperature_c: *t,
                humidity_pct: *h,
                source: ReadingSource::Logger,
                recorded_by: None,
            };
            insert_reading(&tx, place.id, "logger", &reading)?;
        }
        tx.commit()?;
        Ok(readings.len())
    }

    /// A cold unit's readings since `since_ms`, oldest first.
    pub fn readings(&self, location: &str, since_ms: i64) -> Result<Vec<ReadingView>> {
        let place = location_ref(&self.conn, location)?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT at_ms, temperature_c, humidity_pct, source FROM temperature_readings
             WHERE location_id = ?1 AND at_ms >= ?2 ORDER BY at_ms LIMIT 100000",
        )?;
        let rows = stmt.query_map(params![place.id, since_ms], |r| {
            Ok(ReadingView { at_ms: r.get(0)?, temperature_c: r.get(1)?, humidity_pct: r.get(2)?, source: r.get(3)? })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Thins readings older than `READINGS_FULL_DETAIL_MS` to the first of
    /// each hour per unit and source (bounded retention); returns how many went.
    pub fn thin_readings(&mut self) -> Result<usize> {
        let cutoff = self.clock.now_ms() - READINGS_FULL_DETAIL_MS;
        Ok(self.conn.execute(
            "DELETE FROM temperature_readings WHERE at_ms < ?1 AND EXISTS (
                SELECT 1 FROM temperature_readings k WHERE k.location_id = temperature_readings.location_id
                AND k.source = temperature_readings.source AND k.sensor = temperature_readings.sensor
                AND k.at_ms >= temperature_readings.at_ms / 3600000 * 3600000
                AND k.at_ms < temperature_readings.at_ms)",
            [cutoff],
        )?)
    }

    /// Judges every cold unit now: opens an excursion (and quarantines the
    /// unit's stock) where one began; returns the excursions it opened.
    pub fn check_cold_chain(&mut self, user: &str) -> Result<Vec<ExcursionView>> {
        let node = self.node()?.clone();
        let now = self.clock.now_ms();
        let (user_id, _) = acting_user(&self.conn, user, Action::Count)?;
        let mut opened = Vec::new();
        for unit in units(&self.conn)? {
            let open: bool = self
                .conn
                .prepare_cached("SELECT EXISTS(SELECT 1 FROM excursions WHERE location_id = ?1 AND status = 'open')")?
                .query_row([unit.id], |r| r.get(0))?;
            if open {
                continue;
            }
            // Runs before the last excursion's resolution were that excursion's
            // business; older runs than the lookback are history. A warm run in a
            // logger file from before the unit got its rules still counts: the
            // stock in it was exposed all the same.
            let resolved: Option<i64> = self
                .conn
                .prepare_cached("SELECT max(resolved_at_ms) FROM excursions WHERE location_id = ?1")?
                .query_row([unit.id], |r| r.get(0))?;
            let since = resolved.unwrap_or(i64::MIN).max(now - READINGS_LOOKBACK_MS);
            let series = recent(&self.conn, unit.id, since)?;
            let Some(found) = judge(&unit, &series, since, now) else { continue };
            let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let id = self.ids.next_id(now);
            tx.execute(
                "INSERT INTO excursions (id, location_id, kind, started_at_ms, detected_at_ms, worst_c, status)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'open')",
                params![id, unit.id, found.kind, found.started_at_ms, now, found.worst_c],
            )?;
            // Every available unit of stock in the cold unit goes to quarantine.
            let keys: Vec<(Uuid, String, String, i64, Option<String>)> = tx
                .prepare_cached(
                    "SELECT item_id, lot, serial, quantity, expires_on FROM balances
                     WHERE location_id = ?1 AND status = 'available' AND quantity > 0",
                )?
                .query_map([unit.id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?
                .collect::<rusqlite::Result<_>>()?;
            for (item_id, lot, serial, quantity, expires) in keys {
                let expires = expires.and_then(|d| d.parse().ok());
                for (status, signed) in [(StockStatus::Available, -quantity), (StockStatus::Quarantined, quantity)] {
                    let key =
                        BalanceKey { item_id, lot: lot.clone(), serial: serial.clone(), location_id: unit.id, status };
                    let movement = ExcursionMovement {
                        excursion: id,
                        node: node.id,
                        user: user_id,
                        kind: MovementKind::Quarantine,
                        key,
                        quantity: signed,
                        reason: "temperature_excursion",
                        note: crate::quarantine::note(id, "", &[]),
                    };
                    movement.write(&tx, &mut self.hlc, self.clock.as_ref(), self.ids.as_mut(), expires)?;
                }
            }
            // Stock already held in quarantine by other excursions was in the unit too: a
            // zero-quantity hold on each such key says so, so that a release of it made
            // elsewhere without knowing of this excursion is undone on every node
            // (crate::quarantine).
            let held: Vec<(i64, Uuid, String, String, Option<String>)> = tx
                .prepare_cached(
                    "SELECT key_id, item_id, lot, serial, expires_on FROM balances
                     WHERE location_id = ?1 AND status = 'quarantined' AND quantity > 0",
                )?
                .query_map([unit.id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?
                .collect::<rusqlite::Result<_>>()?;
            for (key_id, item_id, lot, serial, expires) in held {
                let mut holders = crate::quarantine::holders(&tx, key_id)?;
                holders.retain(|holder| *holder != id);
                if holders.is_empty() {
                    continue;
                }
                let movement = ExcursionMovement {
                    excursion: id,
                    node: node.id,
                    user: user_id,
                    kind: MovementKind::Quarantine,
                    key: BalanceKey { item_id, lot, serial, location_id: unit.id, status: StockStatus::Quarantined },
                    quantity: 0,
                    reason: "temperature_excursion",
                    note: crate::quarantine::note(id, "holds", &holders),
                };
                movement.write(
                    &tx,
                    &mut self.hlc,
                    self.clock.as_ref(),
                    self.ids.as_mut(),
                    expires.and_then(|d| d.parse().ok()),
                )?;
            }
            tx.commit()?;
            opened.push(self.excursion(&id.to_string())?);
        }
        Ok(opened)
    }

    /// Every cold location (kind cold), by code: range, rules, newest reading, open excursion, stock.
    pub fn cold_units(&self) -> Result<Vec<ColdUnitView>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT l.id, l.code, l.name, l.name_en, l.min_temp_c, l.max_temp_c,
                    c.excursion_minutes, c.missing_minutes, c.gate_minutes,
                    (SELECT count(*) FROM sensors s WHERE s.location_id = l.id),
                    (SELECT coalesce(sum(b.quantity), 0) FROM balances b WHERE b.location_id = l.id AND b.status = 'available'),
                    (SELECT coalesce(sum(b.quantity), 0) FROM balances b WHERE b.location_id = l.id AND b.status = 'quarantined'),
                    (SELECT e.id FROM excursions e WHERE e.location_id = l.id AND e.status = 'open')
             FROM locations l LEFT JOIN cold_units c ON c.location_id = l.id
             WHERE l.kind = 'cold' ORDER BY l.code",
        )?;
        let rows = stmt
            .query_map([], |r| {
                let parse = |text: Option<String>| text.and_then(|t| t.parse::<f64>().ok());
                let rules = match (r.get::<_, Option<i64>>(6)?, r.get(7)?, r.get(8)?) {
                    (Some(excursion_minutes), Some(missing_minutes), Some(gate_minutes)) => {
                        Some(ColdUnitRules { excursion_minutes, missing_minutes, gate_minutes })
                    }
                    _ => None,
                };
                Ok((
                    r.get::<_, Uuid>(0)?,
                    ColdUnitView {
                        code: r.get(1)?,
                        name: r.get(2)?,
                        name_en: r.get(3)?,
                        min_c: parse(r.get(4)?),
                        max_c: parse(r.get(5)?),
                        rules,
                        latest: None,
                        sensors: r.get(9)?,
                        open_excursion: None,
                        available_units: r.get(10)?,
                        quarantined_units: r.get(11)?,
                    },
                    r.get::<_, Option<Uuid>>(12)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut out = Vec::with_capacity(rows.len());
        for (id, mut view, excursion) in rows {
            view.latest = self
                .conn
                .prepare_cached(
                    "SELECT at_ms, temperature_c, humidity_pct, source FROM temperature_readings
                     WHERE location_id = ?1 ORDER BY at_ms DESC LIMIT 1",
                )?
                .query_row([id], |r| {
                    Ok(ReadingView {
                        at_ms: r.get(0)?,
                        temperature_c: r.get(1)?,
                        humidity_pct: r.get(2)?,
                        source: r.get(3)?,
                    })
                })
                .optional()?;
            view.open_excursion = excursion.map(|e| self.excursion(&e.to_string())).transpose()?;
            out.push(view);
        }
        Ok(out)
    }

    /// One excursion.
    pub fn excursion(&self, id: &str) -> Result<ExcursionView> {
        let id = Uuid::parse_str(id.trim()).map_err(|_| LedgerError::UnknownExcursion(id.to_string()))?;
        self.conn
            .prepare_cached(&format!("{EXCURSION_SELECT} WHERE e.id = ?1"))?
            .query_row([id], excursion_row)
            .optional()?
            .ok_or_else(|| LedgerError::UnknownExcursion(id.to_string()))
    }

    /// Excursions, newest first (only open ones, or all).
    pub fn excursions(&self, open_only: bool) -> Result<Vec<ExcursionView>> {
        let filter = if open_only { " WHERE e.status = 'open'" } else { "" };
        let mut stmt = self
            .conn
            .prepare_cached(&format!("{EXCURSION_SELECT}{filter} ORDER BY e.detected_at_ms DESC LIMIT 500"))?;
        let rows = stmt.query_map([], excursion_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// A manager resolves an excursion: the stock it quarantined (what is
    /// still quarantined of it) is released to available, or scrapped.
    pub fn resolve_excursion(&mut self, id: &str, user: &str, reason: &str, scrap: bool) -> Result<ExcursionView> {
        let node = self.node()?.clone();
        if reason.trim().is_empty() {
            return Err(LedgerError::InvalidInput {
                field: "reason",
                reason: "say why the stock is released or scrapped".into(),
            });
        }
        check_note("reason", reason)?;
        let excursion = self.excursion(id)?;
        let excursion_id = Uuid::parse_str(&excursion.id).map_err(|_| LedgerError::UnknownExcursion(id.to_string()))?;
        let (user_id, _) = acting_user(&self.conn, user, Action::ReleaseQuarantine)?;
        if excursion.status != "open" {
            return Err(LedgerError::ExcursionClosed(excursion.id.clone()));
        }
        let now = self.clock.now_ms();
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // The quarantined keys this excursion filled, with its own share still there: what
        // it put in (its quarantine, and units handed to it by quarantine_wins) less what it
        // let out before it was reopened, at most what the key holds. Not the key's whole
        // balance: another excursion may hold units there too (on another node, even the
        // same units, when both quarantined them offline), and its manager releases those.
        let keys: Vec<(Uuid, String, String, Uuid, i64, Option<String>)> = tx
            .prepare_cached(
                "SELECT m.item_id, m.lot, m.serial, m.location_id, min(b.quantity, sum(m.quantity)) AS share,
                        b.expires_on
                 FROM excursion_movements x JOIN movements m ON m.id = x.movement_id
                 JOIN balances b ON b.key_id = m.key_id
                 WHERE x.excursion_id = ?1 AND m.status = 'quarantined'
                 GROUP BY m.key_id HAVING share > 0",
            )?
            .query_map([excursion_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))?
            .collect::<rusqlite::Result<_>>()?;
        // The other excursions on the unit this node knows of: a release does not
        // undo what they hold (crate::quarantine); one it did not know of wins.
        let location_id: Uuid =
            tx.query_row("SELECT location_id FROM excursions WHERE id = ?1", [excursion_id], |r| r.get(0))?;
        let knew = crate::quarantine::known_excursions(&tx, location_id, excursion_id)?;
        for (item_id, lot, serial, location_id, quantity, expires) in keys {
            let expires = expires.and_then(|d| d.parse().ok());
            let moves: Vec<(MovementKind, StockStatus, i64)> = if scrap {
                vec![(MovementKind::Scrap, StockStatus::Quarantined, -quantity)]
            } else {
                vec![
                    (MovementKind::Release, StockStatus::Quarantined, -quantity),
                    (MovementKind::Release, StockStatus::Available, quantity),
                ]
            };
            for (kind, status, signed) in moves {
                let key = BalanceKey { item_id, lot: lot.clone(), serial: serial.clone(), location_id, status };
                let movement = ExcursionMovement {
                    excursion: excursion_id,
                    node: node.id,
                    user: user_id,
                    kind,
                    key,
                    quantity: signed,
                    reason: reason.trim(),
                    note: if scrap {
                        crate::quarantine::note(excursion_id, "", &[])
                    } else {
                        crate::quarantine::note(excursion_id, "knew", &knew)
                    },
                };
                movement.write(&tx, &mut self.hlc, self.clock.as_ref(), self.ids.as_mut(), expires)?;
            }
        }
        tx.execute(
            "UPDATE excursions SET status = ?2, resolved_by = ?3, resolved_at_ms = ?4, resolution_reason = ?5
             WHERE id = ?1 AND status = 'open'",
            params![excursion_id, if scrap { "scrapped" } else { "released" }, user_id, now, reason.trim()],
        )?;
        tx.commit()?;
        self.excursion(&excursion.id)
    }
}

/// The temperature gate for an issue of `item_id` from `location`: Ok(None)
/// when no check is needed or a sensor/logger reading passes it; Ok(Some(reading))
/// when a clerk's manual reading passes it (to be kept with the issue).
pub(crate) fn temperature_gate(
    conn: &Connection,
    location: Uuid,
    cold_chain_item: bool,
    now_ms: i64,
) -> Result<Option<(f64, i64, Uuid)>> {
    if !cold_chain_item {
        return Ok(None);
    }
    let Some(unit) = unit(conn, location)? else { return Ok(None) };
    let since = now_ms - unit.rules.gate_minutes * 60_000;
    let latest = |manual: bool| -> Result<Option<(i64, f64, Option<Uuid>)>> {
        Ok(conn
            .prepare_cached(
                "SELECT at_ms, temperature_c, recorded_by FROM temperature_readings
                 WHERE location_id = ?1 AND at_ms >= ?2 AND at_ms <= ?3 AND (source = 'manual') = ?4
                 ORDER BY at_ms DESC LIMIT 1",
            )?
            .query_row(params![location, since, now_ms, manual], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?)
    };
    let in_range = |t: f64| (unit.min_c..=unit.max_c).contains(&t);
    let out_of_range = |t: f64| LedgerError::TemperatureOutOfRange {
        location: unit.code.clone(),
        temperature: format!("{t:.1}"),
        range: format!("{}–{}", unit.min_c, unit.max_c),
    };
    // An instrument's recent reading decides; a clerk's measurement only stands in for none.
    match latest(false)? {
        Some((_, t, _)) if in_range(t) => Ok(None),
        Some((_, t, _)) => Err(out_of_range(t)),
        None => match latest(true)? {
            Some((at, t, Some(by))) if in_range(t) => Ok(Some((t, at, by))),
            Some((_, t, _)) if !in_range(t) => Err(out_of_range(t)),
            _ => Err(LedgerError::TemperatureCheckRequired {
                location: unit.code.clone(),
                minutes: unit.rules.gate_minutes,
            }),
        },
    }
}

/// What opened an excursion.
struct Found {
    kind: &'static str,
    started_at_ms: i64,
    worst_c: Option<f64>,
}

/// Judges a unit's instrument series (oldest first) over (`since`, `now`]:
/// any run of readings out of range lasting the threshold — still going or
/// already over, on any probe — is an excursion; so is silence from every
/// instrument for the missing time.
fn judge(unit: &Unit, series: &[Vec<(i64, f64)>], since: i64, now: i64) -> Option<Found> {
    let out = |t: f64| t < unit.min_c || t > unit.max_c;
    let distance = |t: f64| (t - unit.max_c).max(unit.min_c - t);
    let threshold = unit.rules.excursion_minutes * 60_000;
    let mut found: Option<Found> = None;
    for readings in series {
        let mut run: Option<(i64, f64)> = None; // (start, worst)
        for &(at, t) in readings.iter().filter(|(at, _)| *at <= now) {
            if out(t) {
                let (start, worst) = run.get_or_insert((at, t));
                if distance(t) > distance(*worst) {
                    *worst = t;
                }
                if at - *start >= threshold && found.as_ref().is_none_or(|f| *start < f.started_at_ms) {
                    found = Some(Found { kind: "out_of_range", started_at_ms: *start, worst_c: Some(*worst) });
                }
            } else {
                run = None;
            }
        }
    }
    if found.is_some() {
        return found;
    }
    let last_at = series.iter().filter_map(|s| s.iter().map(|(at, _)| *at).filter(|at| *at <= now).max()).max();
    let last_at = last_at.unwrap_or(since).max(unit.since_ms);
    if now - last_at >= unit.rules.missing_minutes * 60_000 {
        return Some(Found { kind: "no_reading", started_at_ms: last_at, worst_c: None });
    }
    None
}

struct NewReading {
    at_ms: i64,
    temperature_c: f64,
    humidity_pct: Option<f64>,
    source: ReadingSource,
    recorded_by: Option<Uuid>,
}

fn insert_reading(conn: &Connection, location: Uuid, sensor: &str, reading: &NewReading) -> Result<()> {
    let NewReading { at_ms, temperature_c, humidity_pct, source, recorded_by } = *reading;
    if sensor.chars().count() > 200 {
        return Err(LedgerError::InvalidInput { field: "sensor", reason: "at most 200 characters".into() });
    }
    if !temperature_c.is_finite() || !(TEMPERATURE_RANGE_C.0..=TEMPERATURE_RANGE_C.1).contains(&temperature_c) {
        return Err(LedgerError::InvalidInput {
            field: "temperature",
            reason: format!("{temperature_c} °C is not a thermometer's reading"),
        });
    }
    let humidity = humidity_pct.filter(|h| h.is_finite() && (0.0..=100.0).contains(h));
    conn.prepare_cached(
        "INSERT INTO temperature_readings (location_id, source, sensor, at_ms, temperature_c, humidity_pct, recorded_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
    )?
    .execute(params![location, source.as_str(), sensor, at_ms, temperature_c, humidity, recorded_by])?;
    Ok(())
}

/// One movement an excursion writes (its quarantine, release or scrap), linked to it.
struct ExcursionMovement<'a> {
    excursion: Uuid,
    node: Uuid,
    user: Uuid,
    kind: MovementKind,
    key: BalanceKey,
    quantity: i64,
    reason: &'a str,
    /// `excursion <id>…` (crate::quarantine reads it on every node).
    note: String,
}

impl ExcursionMovement<'_> {
    fn write(
        self,
        tx: &Transaction<'_>,
        hlc: &mut crate::clock::Hlc,
        clock: &dyn crate::clock::Clock,
        ids: &mut dyn crate::ids::IdSource,
        expires: Option<chrono::NaiveDate>,
    ) -> Result<()> {
        let (stamped, at) = stamp(hlc, clock);
        let movement = MovementRecord {
            id: ids.next_id(at),
            hlc: stamped,
            node_id: self.node,
            recorded_at_ms: at,
            user_id: self.user,
            kind: self.kind,
            key: self.key,
            quantity: self.quantity,
            expected_quantity: None,
            unit_cost: None,
            department_id: None,
            supplier_id: None,
            document_id: None,
            reason: Some(self.reason.to_string()),
            corrects: None,
            override_by: None,
            note: self.note,
        };
        record(tx, &movement, expires)?;
        tx.prepare_cached("INSERT INTO excursion_movements (excursion_id, movement_id) VALUES (?1, ?2)")?
            .execute(params![self.excursion, movement.id])?;
        Ok(())
    }
}

const EXCURSION_SELECT: &str = "SELECT e.id, l.code, e.kind, e.started_at_ms, e.detected_at_ms, e.worst_c, e.status,
    (SELECT coalesce(sum(m.quantity), 0) FROM excursion_movements x JOIN movements m ON m.id = x.movement_id
     WHERE x.excursion_id = e.id AND m.kind = 'quarantine' AND m.quantity > 0),
    u.username, e.resolution_reason, e.reopened_at_ms
    FROM excursions e JOIN locations l ON l.id = e.location_id LEFT JOIN users u ON u.id = e.resolved_by";

fn excursion_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ExcursionView> {
    Ok(ExcursionView {
        id: r.get::<_, Uuid>(0)?.to_string(),
        location: r.get(1)?,
        kind: r.get(2)?,
        started_at_ms: r.get(3)?,
        detected_at_ms: r.get(4)?,
        worst_c: r.get(5)?,
        status: r.get(6)?,
        quarantined_units: r.get(7)?,
        resolved_by: r.get(8)?,
        resolution_reason: r.get(9)?,
        reopened_at_ms: r.get(10)?,
    })
}
