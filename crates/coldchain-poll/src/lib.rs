//! One cold-chain polling cycle, shared by `medledger coldchain poll` and the
//! desktop app's poller thread: read every sensor the ledger knows (one
//! Modbus bus per port, several sensors on it; ASCII-line thermometers on
//! their own port), then store what was read and judge every cold unit
//! (`Ledger::check_cold_chain`, which opens excursions and quarantines stock).
//!
//! The two halves are separate on purpose: [`Poller::read`] waits on serial
//! ports and never sees the ledger, [`record`] writes to the ledger and never
//! waits on a port — so a shell that shares its ledger behind a lock holds
//! the lock only for [`record`]. [`poll_once`] joins them for the CLI, which
//! owns its ledger.
//!
//! The [`Poller`] keeps each bus open between cycles and counts what every
//! port has seen (timeouts, CRC errors, stray bytes), also across a port that
//! went away and was opened again.

use devices::modbus::{BusStats, ModbusBus, Reading, SensorModel};
use devices::thermometer::{LinePattern, DEFAULT_PATTERN};
use devices::DeviceError;
use ledger::{ExcursionView, Lang, Ledger, SensorConfig};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::BufRead;
use std::time::{Duration, Instant};

/// An ASCII thermometer talks every few seconds: a read waits this many answer timeouts for a line.
pub const ASCII_WAIT_TIMEOUTS: u32 = 10;

/// What one polling cycle did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PollReport {
    /// Readings stored.
    pub readings: Vec<PolledReading>,
    /// Sensors that could not be read (or whose reading was refused), with why.
    pub errors: Vec<SensorFailure>,
    /// Excursions opened by this cycle.
    pub excursions: Vec<ExcursionView>,
}

/// One stored reading.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolledReading {
    /// Cold unit (location code).
    pub location: String,
    /// The port as configured on the sensor.
    pub port: String,
    /// °C.
    pub temperature_c: f64,
    /// %RH.
    pub humidity_pct: Option<f64>,
}

/// A sensor that gave nothing this cycle.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SensorFailure {
    /// Cold unit (location code).
    pub location: String,
    /// The port as configured on the sensor.
    pub port: String,
    /// Stable code (a device's or the ledger's).
    pub code: String,
    /// What happened, in the caller's language.
    pub message: String,
}

/// What one sensor gave this cycle, before the ledger saw it.
#[derive(Debug)]
pub struct SensorRead {
    /// The sensor as stored.
    pub sensor: SensorConfig,
    /// The path actually opened (the stored port, or where its device is now).
    pub path: String,
    /// The reading, or why there is none.
    pub outcome: Result<Reading, DeviceError>,
}

impl SensorRead {
    /// The probe's name in the ledger: `port#slave`, as configured (stable across re-plugs).
    pub fn probe(&self) -> String {
        format!("{}#{}", self.sensor.port, self.sensor.slave)
    }
}

/// How a port fared, over every cycle so far.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PortHealth {
    /// The path opened.
    pub path: String,
    /// Opened at the last attempt (a Modbus bus stays open between cycles; an ASCII port is opened per read).
    pub connected: bool,
    /// Counters, summed over every time the port was opened.
    pub stats: BusStats,
    /// Good readings.
    pub readings: u64,
    /// Times the port had to be opened again after it failed.
    pub reopens: u64,
    /// The last failure's code, cleared by a good reading.
    pub last_error: Option<String>,
}

/// What the poller knows of a port between cycles.
#[derive(Debug, Default)]
struct PortState {
    connected: bool,
    readings: u64,
    reopens: u64,
    last_error: Option<String>,
    /// An ASCII port's own counters (Modbus buses count their own).
    ascii: BusStats,
    /// Counters of Modbus buses on this path closed after a failure.
    closed: BusStats,
}

/// Reads sensors; keeps buses open between cycles.
pub struct Poller {
    timeout: Duration,
    buses: BTreeMap<String, ModbusBus>,
    ports: BTreeMap<String, PortState>,
}

impl Poller {
    /// A poller waiting up to `timeout` for each answer.
    pub fn new(timeout: Duration) -> Poller {
        Poller { timeout, buses: BTreeMap::new(), ports: BTreeMap::new() }
    }

    /// Reads every sensor once. `resolve` maps a sensor's stored port to the
    /// path to open now (e.g. where a USB adapter recognised by its identity is
    /// today); one sensor's failure never stops the others.
    pub fn read(&mut self, sensors: &[SensorConfig], resolve: impl Fn(&str) -> String) -> Vec<SensorRead> {
        let mut out = Vec::with_capacity(sensors.len());
        for sensor in sensors {
            let path = resolve(&sensor.port);
            let outcome = match sensor.protocol.as_str() {
                "modbus-rtu" => self.read_modbus(&path, sensor),
                _ => self.read_ascii(&path, sensor),
            };
            let port = self.ports.entry(path.clone()).or_default();
            match &outcome {
                Ok(_) => {
                    port.readings += 1;
                    port.last_error = None;
                }
                Err(error) => port.last_error = Some(error.code().to_string()),
            }
            out.push(SensorRead { sensor: sensor.clone(), path, outcome });
        }
        out
    }

    /// Every port read so far, by path, with counters summed over every time it was opened.
    pub fn health(&self) -> Vec<PortHealth> {
        self.ports
            .iter()
            .map(|(path, port)| PortHealth {
                path: path.clone(),
                connected: port.connected,
                stats: add(
                    add(port.ascii, port.closed),
                    self.buses.get(path).map(ModbusBus::stats).unwrap_or_default(),
                ),
                readings: port.readings,
                reopens: port.reopens,
                last_error: port.last_error.clone(),
            })
            .collect()
    }

    fn read_modbus(&mut self, path: &str, sensor: &SensorConfig) -> Result<Reading, DeviceError> {
        let model = SensorModel::builtin(&sensor.model)?;
        let port = self.ports.entry(path.to_string()).or_default();
        if !self.buses.contains_key(path) {
            match ModbusBus::open(path, sensor.baud, self.timeout) {
                Ok(bus) => {
                    if port.readings > 0 || port.last_error.is_some() {
                        port.reopens += 1;
                    }
                    port.connected = true;
                    self.buses.insert(path.to_string(), bus);
                }
                Err(error) => {
                    port.connected = false;
                    return Err(error);
                }
            }
        }
        let bus = self.buses.get_mut(path).expect("opened above");
        let read = bus.read_sensor(sensor.slave, &model);
        if let Err(DeviceError::Io { .. }) = &read {
            // The adapter went away: close it, keep its counters, open it again next cycle.
            let bus = self.buses.remove(path).expect("present");
            port.closed = add(port.closed, bus.stats());
            port.connected = false;
        }
        read
    }

    fn read_ascii(&mut self, path: &str, sensor: &SensorConfig) -> Result<Reading, DeviceError> {
        let pattern = LinePattern::new(if sensor.pattern.is_empty() { DEFAULT_PATTERN } else { &sensor.pattern })?;
        let port_state = self.ports.entry(path.to_string()).or_default();
        let port = match devices::ports::open(path, sensor.baud, self.timeout) {
            Ok(port) => port,
            Err(error) => {
                port_state.connected = false;
                return Err(error);
            }
        };
        port_state.connected = true;
        let mut lines = std::io::BufReader::new(port);
        let deadline = Instant::now() + self.timeout * ASCII_WAIT_TIMEOUTS;
        while Instant::now() < deadline {
            let mut line = String::new();
            if let Ok(n) = lines.read_line(&mut line) {
                if n > 0 {
                    if let Some(reading) = pattern.read(line.trim()) {
                        return Ok(reading);
                    }
                    port_state.ascii.garbage_bytes += n as u64;
                }
            }
        }
        port_state.ascii.timeouts += 1;
        Err(DeviceError::Timeout { slave: 0, timeout_ms: (self.timeout * ASCII_WAIT_TIMEOUTS).as_millis() as u64 })
    }
}

fn add(a: BusStats, b: BusStats) -> BusStats {
    BusStats {
        requests: a.requests + b.requests,
        answers: a.answers + b.answers,
        timeouts: a.timeouts + b.timeouts,
        crc_errors: a.crc_errors + b.crc_errors,
        exceptions: a.exceptions + b.exceptions,
        garbage_bytes: a.garbage_bytes + b.garbage_bytes,
    }
}

/// The devices crate's language for the ledger's.
pub fn devices_lang(lang: Lang) -> devices::error::Lang {
    match lang {
        Lang::En => devices::error::Lang::En,
        Lang::Zh => devices::error::Lang::Zh,
    }
}

/// Stores what was read (at the ledger clock's now) and judges every cold
/// unit as `user`. A reading the ledger refuses is that sensor's failure;
/// only a failure to judge the units is an error.
pub fn record(ledger: &mut Ledger, user: &str, reads: Vec<SensorRead>, lang: Lang) -> ledger::Result<PollReport> {
    let mut report = PollReport::default();
    for read in reads {
        let probe = read.probe();
        let SensorRead { sensor, outcome, .. } = read;
        let stored = outcome.map_err(|e| (e.code().to_string(), e.message(devices_lang(lang)))).and_then(|reading| {
            let now = ledger.clock().now_ms();
            ledger
                .record_reading(&sensor.location, &probe, now, reading.temperature_c, reading.humidity_pct)
                .map(|()| reading)
                .map_err(|e| (e.code().to_string(), e.message(lang)))
        });
        match stored {
            Ok(reading) => report.readings.push(PolledReading {
                location: sensor.location,
                port: sensor.port,
                temperature_c: reading.temperature_c,
                humidity_pct: reading.humidity_pct,
            }),
            Err((code, message)) => {
                report.errors.push(SensorFailure { location: sensor.location, port: sensor.port, code, message })
            }
        }
    }
    report.excursions = ledger.check_cold_chain(user)?;
    Ok(report)
}

/// One cycle for a shell that owns its ledger: every sensor read (each port
/// opened for this cycle), stored, and every cold unit judged.
pub fn poll_once(ledger: &mut Ledger, user: &str, timeout: Duration, lang: Lang) -> ledger::Result<PollReport> {
    let sensors = ledger.sensors()?;
    let reads = Poller::new(timeout).read(&sensors, str::to_string);
    record(ledger, user, reads, lang)
}
