//! The workstation's serial devices, run off the UI thread and reported
//! through events. Started from the port roles stored in the ledger:
//!
//! - every port with the scanner role gets a `devices::ScannerReader` (its own
//!   thread, bounded queue, reconnection) and a forwarding thread that puts
//!   each scan in the [`ScanInbox`] and emits it as [`SCAN_EVENT`]. The front
//!   end routes it exactly like a keyboard-wedge scan (the screen reads it
//!   with `parse_barcode`, the same path) and acknowledges it; what it has not
//!   acknowledged — a scan emitted before the page listened, or while it
//!   reloaded — it fetches again, so no scan is lost and none is taken twice.
//!   When the inbox is full the forwarder waits (the reader's queue, then the
//!   operating system's buffer, hold the rest) and the device's `queue_full`
//!   counter tells the user;
//! - one cold-chain poller thread reads every sensor on a schedule
//!   (`coldchain_poll`, one bus per port), holding the ledger lock only to
//!   read the configuration and to record what was read — never while a port
//!   is waited on — and emits [`COLDCHAIN_EVENT`].
//!
//! Every device's state (connected / disconnected / reconnecting, last scan
//! or reading, error counters) is kept here and emitted as [`DEVICE_EVENT`]
//! when it changes.

use coldchain_poll::{Poller, PortHealth};
use devices::ports::PortInfo;
use devices::scanner::{ScannerConfig, ScannerEvent, ScannerReader};
use ledger::{ExcursionView, Lang, Ledger, PortRole, SensorConfig};
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;
use ts_rs::TS;

/// The event that carries one serial scan.
pub const SCAN_EVENT: &str = "serial-scan";
/// The event that carries one device's new state.
pub const DEVICE_EVENT: &str = "device-state";
/// The event that carries what a polling cycle did.
pub const COLDCHAIN_EVENT: &str = "coldchain";
/// Serial scans handed to the front end and not yet acknowledged.
pub const SERIAL_SCANS_PENDING_MAX: usize = 256;
/// Polling interval unless `MEDLEDGER_POLL_INTERVAL_MS` says otherwise.
pub const POLL_INTERVAL_DEFAULT: Duration = Duration::from_secs(60);
/// The shortest polling interval accepted (a Modbus bus needs time per sensor).
pub const POLL_INTERVAL_MIN: Duration = Duration::from_millis(200);
/// How long a sensor may take to answer.
pub const SENSOR_TIMEOUT: Duration = Duration::from_millis(500);

/// One scan from a serial scanner, numbered in the order it came.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct SerialScan {
    /// 1, 2, 3 … since the app started.
    #[ts(type = "number")]
    pub seq: u64,
    /// The port it came from.
    pub port: String,
    /// The scan's text, GS (U+001D) and AIM identifier intact.
    pub data: String,
}

/// How a device is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Connection {
    /// The port is open.
    Connected,
    /// Not open and never was since the app started (absent, busy, no permission).
    Disconnected,
    /// It was open and went away; it is being opened again.
    Reconnecting,
}

/// One device's state, for the devices screen.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct DeviceState {
    /// The port role's identity (USB identity or path).
    pub identity: String,
    /// The path in use (or last tried).
    pub path: String,
    /// scanner or thermometer.
    pub role: String,
    /// What the device calls itself.
    pub description: String,
    pub connection: Connection,
    /// When something last came from it (ms).
    #[ts(type = "number | null")]
    pub last_activity_ms: Option<i64>,
    /// Scanners: the last scan's text.
    pub last_scan: Option<String>,
    /// Thermometer buses: the last reading, °C.
    pub last_reading_c: Option<f64>,
    /// Scans or good readings.
    #[ts(type = "number")]
    pub count: u64,
    #[ts(type = "number")]
    pub timeouts: u64,
    #[ts(type = "number")]
    pub crc_errors: u64,
    /// Scanners: runs of bytes that were no scan; buses: stray bytes.
    #[ts(type = "number")]
    pub garbage: u64,
    /// Times scans had to wait because the app had not taken the earlier ones.
    #[ts(type = "number")]
    pub queue_full: u64,
    #[ts(type = "number")]
    pub reconnects: u64,
    /// The last problem, in the session language; null once it works again.
    pub last_error: Option<String>,
}

impl DeviceState {
    fn new(role: &PortRole, path: &str) -> DeviceState {
        DeviceState {
            identity: role.identity.clone(),
            path: path.to_string(),
            role: role.role.clone(),
            description: role.description.clone(),
            connection: Connection::Disconnected,
            last_activity_ms: None,
            last_scan: None,
            last_reading_c: None,
            count: 0,
            timeouts: 0,
            crc_errors: 0,
            garbage: 0,
            queue_full: 0,
            reconnects: 0,
            last_error: None,
        }
    }
}

/// A reading a polling cycle stored.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct PolledReading {
    pub location: String,
    pub port: String,
    pub temperature_c: f64,
    pub humidity_pct: Option<f64>,
}

/// A sensor that gave nothing this cycle.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct SensorProblem {
    pub location: String,
    pub port: String,
    pub code: String,
    pub message: String,
}

/// What one polling cycle did (the [`COLDCHAIN_EVENT`]).
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct ColdchainUpdate {
    /// When the cycle ended (ms).
    #[ts(type = "number")]
    pub at_ms: i64,
    pub readings: Vec<PolledReading>,
    pub errors: Vec<SensorProblem>,
    /// Excursions this cycle opened (each quarantined its unit's stock).
    pub excursions: Vec<ExcursionView>,
}

/// What the devices tell the front end.
#[derive(Debug, Clone)]
pub enum DeviceEvent {
    Scan(SerialScan),
    State(DeviceState),
    Coldchain(ColdchainUpdate),
}

/// Where events go (the app emits them; tests collect them).
pub type Emit = Arc<dyn Fn(DeviceEvent) + Send + Sync>;

/// Serial scans between the scanners and the front end, in order, until acknowledged.
#[derive(Default)]
pub struct ScanInbox {
    state: Mutex<InboxState>,
    space: Condvar,
}

#[derive(Default)]
struct InboxState {
    next_seq: u64,
    pending: VecDeque<SerialScan>,
}

impl ScanInbox {
    /// Puts a scan in; while the inbox is full, calls `full` once and waits
    /// for room (None when `stop` is set meanwhile).
    pub fn push(&self, port: &str, data: String, stop: &AtomicBool, full: impl FnOnce()) -> Option<SerialScan> {
        let mut state = self.state.lock().expect("inbox lock");
        let mut full = Some(full);
        while state.pending.len() >= SERIAL_SCANS_PENDING_MAX {
            if let Some(full) = full.take() {
                full();
            }
            if stop.load(Ordering::Relaxed) {
                return None;
            }
            state = self.space.wait_timeout(state, Duration::from_millis(50)).expect("inbox lock").0;
        }
        state.next_seq += 1;
        let scan = SerialScan { seq: state.next_seq, port: port.to_string(), data };
        state.pending.push_back(scan.clone());
        Some(scan)
    }

    /// The front end has taken every scan up to `seq`.
    pub fn acknowledge(&self, seq: u64) {
        let mut state = self.state.lock().expect("inbox lock");
        while state.pending.front().is_some_and(|s| s.seq <= seq) {
            state.pending.pop_front();
        }
        self.space.notify_all();
    }

    /// Scans not acknowledged yet, oldest first.
    pub fn pending(&self) -> Vec<SerialScan> {
        self.state.lock().expect("inbox lock").pending.iter().cloned().collect()
    }
}

/// The path a stored role's device is at now: a USB device by its identity
/// (several identical devices without a serial number are told apart by the
/// stored path), any other port by its path; None when it is not here. Another
/// USB device now at the stored path never takes the role.
pub fn locate(role: &PortRole, ports: &[PortInfo]) -> Option<String> {
    if !role.identity.starts_with("usb:") {
        return ports.iter().find(|p| p.path == role.path).map(|p| p.path.clone());
    }
    let same: Vec<&PortInfo> = ports.iter().filter(|p| p.identity() == role.identity).collect();
    match same.as_slice() {
        [one] => Some(one.path.clone()),
        several => several.iter().find(|p| p.path == role.path).map(|p| p.path.clone()),
    }
}

/// The framing a scanner role names.
pub fn scanner_config(role: &PortRole) -> ScannerConfig {
    let terminators = match role.terminator.as_str() {
        "lf" => vec![b'\n'],
        "tab" => vec![b'\t'],
        "crlf" => vec![b'\r', b'\n'],
        _ => vec![b'\r'],
    };
    ScannerConfig { terminators, prefix: role.prefix.as_bytes().to_vec() }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// A scanner being read: its reader and the thread that forwards its events.
struct RunningScanner {
    stop: Arc<AtomicBool>,
    reader: Option<ScannerReader>,
    forwarder: Option<std::thread::JoinHandle<()>>,
}

impl Drop for RunningScanner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // The reader's thread ends first; its queue's end then wakes the forwarder.
        drop(self.reader.take());
        if let Some(thread) = self.forwarder.take() {
            let _ = thread.join();
        }
    }
}

/// The devices of this workstation while the app runs.
pub struct Devices {
    ledger: Arc<Mutex<Ledger>>,
    emit: Emit,
    lang: Arc<dyn Fn() -> Lang + Send + Sync>,
    /// Scans on their way to the front end.
    pub inbox: Arc<ScanInbox>,
    states: Arc<Mutex<BTreeMap<String, DeviceState>>>,
    scanners: Mutex<Vec<RunningScanner>>,
    poller: Mutex<Option<PollerThread>>,
}

struct PollerThread {
    stop: Arc<AtomicBool>,
    wake: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for PollerThread {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let (lock, signal) = &*self.wake;
        *lock.lock().expect("wake lock") = true;
        signal.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Devices {
    /// The devices, not started yet.
    pub fn new(ledger: Arc<Mutex<Ledger>>, emit: Emit, lang: Arc<dyn Fn() -> Lang + Send + Sync>) -> Devices {
        Devices {
            ledger,
            emit,
            lang,
            inbox: Arc::new(ScanInbox::default()),
            states: Arc::new(Mutex::new(BTreeMap::new())),
            scanners: Mutex::new(Vec::new()),
            poller: Mutex::new(None),
        }
    }

    /// Every device's state, scanners first.
    pub fn states(&self) -> Vec<DeviceState> {
        let mut all: Vec<DeviceState> = self.states.lock().expect("states lock").values().cloned().collect();
        all.sort_by(|a, b| b.role.cmp(&a.role).then(a.path.cmp(&b.path)));
        all
    }

    /// (Re)starts the scanners from the stored port roles; the ones running stop first.
    pub fn start_scanners(&self) -> ledger::Result<()> {
        let roles = self.ledger.lock().expect("ledger lock").port_roles()?;
        let ports = devices::ports::list_ports().unwrap_or_default();
        let mut running = self.scanners.lock().expect("scanners lock");
        running.clear();
        let mut states = self.states.lock().expect("states lock");
        states.retain(|_, s| s.role != "scanner");
        for role in roles.iter().filter(|r| r.role == "scanner") {
            let path = locate(role, &ports).unwrap_or_else(|| role.path.clone());
            let mut state = DeviceState::new(role, &path);
            match ScannerReader::start(&path, role.baud, scanner_config(role)) {
                Ok((reader, events)) => {
                    let stop = Arc::new(AtomicBool::new(false));
                    let forwarder = forward(
                        role.identity.clone(),
                        path.clone(),
                        events,
                        reader.stats.clone(),
                        stop.clone(),
                        self.inbox.clone(),
                        self.states.clone(),
                        self.emit.clone(),
                    );
                    running.push(RunningScanner { stop, reader: Some(reader), forwarder: Some(forwarder) });
                }
                Err(error) => state.last_error = Some(error.message(coldchain_poll::devices_lang((self.lang)()))),
            }
            (self.emit)(DeviceEvent::State(state.clone()));
            states.insert(role.identity.clone(), state);
        }
        Ok(())
    }

    /// Starts the cold-chain poller (every `interval`, the first cycle at once), acting as `user`.
    pub fn start_poller(&self, interval: Duration, user: &str) {
        let stop = Arc::new(AtomicBool::new(false));
        let wake = Arc::new((Mutex::new(false), Condvar::new()));
        let context = PollContext {
            ledger: self.ledger.clone(),
            emit: self.emit.clone(),
            lang: self.lang.clone(),
            states: self.states.clone(),
            user: user.to_string(),
        };
        let (flag, signal) = (stop.clone(), wake.clone());
        let thread = std::thread::Builder::new()
            .name("coldchain-poller".into())
            .spawn(move || {
                let mut poller = Poller::new(SENSOR_TIMEOUT);
                while !flag.load(Ordering::Relaxed) {
                    context.cycle(&mut poller);
                    let (lock, condvar) = &*signal;
                    let mut woken = lock.lock().expect("wake lock");
                    if !*woken {
                        woken = condvar.wait_timeout(woken, interval.max(POLL_INTERVAL_MIN)).expect("wake lock").0;
                    }
                    *woken = false;
                }
            })
            .ok();
        *self.poller.lock().expect("poller lock") = Some(PollerThread { stop, wake, thread });
    }

    /// Runs a polling cycle now (e.g. after a sensor was added).
    pub fn poll_now(&self) {
        if let Some(poller) = self.poller.lock().expect("poller lock").as_ref() {
            let (lock, signal) = &*poller.wake;
            *lock.lock().expect("wake lock") = true;
            signal.notify_all();
        }
    }

    /// Stops every device thread.
    pub fn stop(&self) {
        self.scanners.lock().expect("scanners lock").clear();
        self.poller.lock().expect("poller lock").take();
    }
}

impl Drop for Devices {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A scanner's events → the inbox, the state, the front end.
#[allow(clippy::too_many_arguments)]
fn forward(
    identity: String,
    path: String,
    events: std::sync::mpsc::Receiver<ScannerEvent>,
    stats: Arc<devices::scanner::ReaderStats>,
    stop: Arc<AtomicBool>,
    inbox: Arc<ScanInbox>,
    states: Arc<Mutex<BTreeMap<String, DeviceState>>>,
    emit: Emit,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let update = |change: &dyn Fn(&mut DeviceState)| {
            let state = {
                let mut states = states.lock().expect("states lock");
                let Some(state) = states.get_mut(&identity) else { return };
                change(state);
                state.queue_full = state.queue_full.max(stats.queue_full.load(Ordering::Relaxed));
                state.reconnects = stats.reconnects.load(Ordering::Relaxed);
                state.clone()
            };
            emit(DeviceEvent::State(state));
        };
        let mut inbox_full = 0u64;
        while !stop.load(Ordering::Relaxed) {
            let event = match events.recv_timeout(Duration::from_millis(100)) {
                Ok(event) => event,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => return,
            };
            match event {
                ScannerEvent::Scan { data } => {
                    let full = || {
                        inbox_full += 1;
                        let waits = inbox_full + stats.queue_full.load(Ordering::Relaxed);
                        update(&|s| s.queue_full = waits);
                    };
                    let Some(scan) = inbox.push(&path, data, &stop, full) else { return };
                    let text = scan.data.clone();
                    emit(DeviceEvent::Scan(scan));
                    update(&|s| {
                        s.count += 1;
                        s.last_scan = Some(text.clone());
                        s.last_activity_ms = Some(now_ms());
                        s.connection = Connection::Connected;
                    });
                }
                ScannerEvent::Garbage { .. } => update(&|s| {
                    s.garbage += 1;
                    s.last_activity_ms = Some(now_ms());
                }),
                ScannerEvent::Connected { .. } => update(&|s| {
                    s.connection = Connection::Connected;
                    s.last_error = None;
                }),
                ScannerEvent::Disconnected { reason, .. } => update(&|s| {
                    s.connection = Connection::Reconnecting;
                    s.last_error = Some(reason.clone());
                }),
            }
        }
    })
}

/// What the poller thread needs.
struct PollContext {
    ledger: Arc<Mutex<Ledger>>,
    emit: Emit,
    lang: Arc<dyn Fn() -> Lang + Send + Sync>,
    states: Arc<Mutex<BTreeMap<String, DeviceState>>>,
    user: String,
}

impl PollContext {
    /// One cycle: configuration (locked), reading (unlocked), recording and judging (locked), events.
    fn cycle(&self, poller: &mut Poller) {
        let lang = (self.lang)();
        let configured = {
            let ledger = self.ledger.lock().expect("ledger lock");
            ledger.sensors().and_then(|sensors| Ok((sensors, ledger.port_roles()?)))
        };
        let Ok((sensors, roles)) = configured else { return };
        let ports = if sensors.is_empty() { Vec::new() } else { devices::ports::list_ports().unwrap_or_default() };
        let buses: Vec<&PortRole> = roles.iter().filter(|r| r.role == "thermometer").collect();
        let resolve = |port: &str| -> String {
            buses
                .iter()
                .find(|r| r.path == port || r.identity == port)
                .and_then(|r| locate(r, &ports))
                .unwrap_or_else(|| port.to_string())
        };
        let reads = poller.read(&sensors, resolve);
        let last_reading: BTreeMap<String, f64> = reads
            .iter()
            .filter_map(|r| r.outcome.as_ref().ok().map(|reading| (r.path.clone(), reading.temperature_c)))
            .collect();
        let report = {
            let mut ledger = self.ledger.lock().expect("ledger lock");
            coldchain_poll::record(&mut ledger, &self.user, reads, lang)
        };
        let report = match report {
            Ok(report) => report,
            // A busy database or a race with another writer: the next cycle tries again.
            Err(error) => {
                eprintln!("medledger: cold-chain poll: [{}] {}", error.code(), error.message(lang));
                return;
            }
        };
        self.update_buses(&roles, &sensors, poller.health(), &last_reading, &report.errors);
        (self.emit)(DeviceEvent::Coldchain(ColdchainUpdate {
            at_ms: now_ms(),
            readings: report
                .readings
                .into_iter()
                .map(|r| PolledReading {
                    location: r.location,
                    port: r.port,
                    temperature_c: r.temperature_c,
                    humidity_pct: r.humidity_pct,
                })
                .collect(),
            errors: report
                .errors
                .into_iter()
                .map(|e| SensorProblem { location: e.location, port: e.port, code: e.code, message: e.message })
                .collect(),
            excursions: report.excursions,
        }));
    }

    /// A device state per thermometer port (a role, or simply where sensors are configured).
    fn update_buses(
        &self,
        roles: &[PortRole],
        sensors: &[SensorConfig],
        health: Vec<PortHealth>,
        last_reading: &BTreeMap<String, f64>,
        errors: &[coldchain_poll::SensorFailure],
    ) {
        let mut states = self.states.lock().expect("states lock");
        for port in health {
            let role = roles.iter().find(|r| r.role == "thermometer" && (r.path == port.path)).cloned();
            let configured =
                sensors.iter().find(|s| s.port == port.path || role.as_ref().is_some_and(|r| r.path == s.port));
            let role = role.unwrap_or_else(|| PortRole {
                identity: port.path.clone(),
                path: port.path.clone(),
                role: "thermometer".into(),
                baud: configured.map(|s| s.baud).unwrap_or(9600),
                terminator: "cr".into(),
                prefix: String::new(),
                description: String::new(),
            });
            let state = states.entry(role.identity.clone()).or_insert_with(|| DeviceState::new(&role, &port.path));
            let was = state.clone();
            state.path = port.path.clone();
            state.connection = match (port.connected, was.count > 0 || was.connection == Connection::Connected) {
                (true, _) => Connection::Connected,
                (false, true) => Connection::Reconnecting,
                (false, false) => Connection::Disconnected,
            };
            state.count = port.readings;
            state.timeouts = port.stats.timeouts;
            state.crc_errors = port.stats.crc_errors;
            state.garbage = port.stats.garbage_bytes;
            state.reconnects = port.reopens;
            if let Some(t) = last_reading.get(&port.path) {
                state.last_reading_c = Some(*t);
                state.last_activity_ms = Some(now_ms());
            }
            state.last_error = port.last_error.as_ref().and_then(|code| {
                errors.iter().find(|e| &e.code == code).map(|e| e.message.clone()).or_else(|| Some(code.clone()))
            });
            if *state != was {
                (self.emit)(DeviceEvent::State(state.clone()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use devices::sim::Line;
    use ledger::{ColdUnitRules, IdSource, LocationKind, NewLocation, RandomIds, SystemClock, INITIAL_ADMIN};
    use std::io::Write;
    use std::time::Instant;

    /// Events as the app would emit them, kept for the test to look at.
    fn collector() -> (Emit, Arc<Mutex<Vec<DeviceEvent>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        (Arc::new(move |event| sink.lock().unwrap().push(event)), seen)
    }

    fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
        let started = Instant::now();
        while !done() {
            assert!(started.elapsed() < Duration::from_secs(10), "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A ledger with a 2–8 °C cold unit FR1 (judged after a minute out of range).
    fn ledger(dir: &std::path::Path) -> Arc<Mutex<Ledger>> {
        let ids: Box<dyn IdSource> = Box::new(RandomIds::seeded(3));
        let mut ledger = Ledger::open_with(&dir.join("devices.sqlite"), Box::new(SystemClock), ids).unwrap();
        ledger.init("T01", "devices test").unwrap();
        ledger
            .add_location(&NewLocation {
                code: "FR1".into(),
                name: "试剂冰箱".into(),
                name_en: "Reagent fridge".into(),
                kind: LocationKind::Cold,
                department: None,
                min_temp_c: Some(rust_decimal::Decimal::from(2)),
                max_temp_c: Some(rust_decimal::Decimal::from(8)),
            })
            .unwrap();
        ledger
            .set_cold_unit(
                INITIAL_ADMIN,
                "FR1",
                ColdUnitRules { excursion_minutes: 1, missing_minutes: 60, gate_minutes: 30 },
            )
            .unwrap();
        Arc::new(Mutex::new(ledger))
    }

    fn scanner_role(path: &str) -> PortRole {
        PortRole {
            identity: path.into(),
            path: path.into(),
            role: "scanner".into(),
            baud: 9600,
            terminator: "cr".into(),
            prefix: "#".into(),
            description: "test scanner".into(),
        }
    }

    #[test]
    fn the_inbox_keeps_scans_in_order_until_acknowledged_and_waits_when_full() {
        let inbox = Arc::new(ScanInbox::default());
        let stop = AtomicBool::new(false);
        for n in 0..SERIAL_SCANS_PENDING_MAX {
            let scan = inbox.push("/dev/x", format!("scan {n}"), &stop, || panic!("not full yet")).unwrap();
            assert_eq!(scan.seq, n as u64 + 1);
        }
        // Full: the next push waits (and says so) until the front end takes some.
        let (waiting, told) = (inbox.clone(), Arc::new(AtomicBool::new(false)));
        let flag = told.clone();
        let pusher = std::thread::spawn(move || {
            let stop = AtomicBool::new(false);
            waiting.push("/dev/x", "one more".into(), &stop, || flag.store(true, Ordering::SeqCst)).unwrap()
        });
        wait_for("the full inbox to say so", || told.load(Ordering::SeqCst));
        assert_eq!(inbox.pending().len(), SERIAL_SCANS_PENDING_MAX);
        inbox.acknowledge(10);
        let last = pusher.join().unwrap();
        assert_eq!(last.seq, SERIAL_SCANS_PENDING_MAX as u64 + 1);
        let pending = inbox.pending();
        assert_eq!(pending.first().map(|s| s.data.as_str()), Some("scan 10"));
        assert_eq!(pending.last().map(|s| s.data.as_str()), Some("one more"));
        assert!(pending.windows(2).all(|w| w[0].seq + 1 == w[1].seq), "in order, none missing");
        // A stopped app does not wait for room.
        stop.store(true, Ordering::SeqCst);
        while inbox.pending().len() < SERIAL_SCANS_PENDING_MAX {
            inbox.push("/dev/x", "fills it".into(), &stop, || ()).unwrap();
        }
        assert!(inbox.push("/dev/x", "no room".into(), &stop, || ()).is_none());
    }

    #[test]
    fn a_serial_scanners_scans_arrive_as_events_in_order_with_garbage_counted() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = ledger(dir.path());
        let line = Line::new(None).unwrap();
        ledger.lock().unwrap().set_port_role(INITIAL_ADMIN, &scanner_role(&line.ours)).unwrap();
        let (emit, seen) = collector();
        let devices = Devices::new(ledger, emit, Arc::new(|| Lang::En));
        devices.start_scanners().unwrap();
        wait_for("the scanner to connect", || {
            devices.states().first().is_some_and(|s| s.connection == Connection::Connected)
        });

        let mut device = serialport::new(&line.theirs, 9600).timeout(Duration::from_millis(100)).open().unwrap();
        let gs1 = "]d2010950600013435217270131\u{1d}10L1";
        let scans: Vec<String> = (0..40).map(|n| format!("{gs1}{n:02}")).collect();
        for (n, scan) in scans.iter().enumerate() {
            device.write_all(format!("#{scan}\r").as_bytes()).unwrap();
            if n == 20 {
                device.write_all(b"\x01\x02\x03\r").unwrap();
            }
        }
        device.flush().unwrap();
        wait_for("every scan", || devices.inbox.pending().len() == scans.len());

        let emitted: Vec<SerialScan> = seen
            .lock()
            .unwrap()
            .iter()
            .filter_map(|e| if let DeviceEvent::Scan(s) = e { Some(s.clone()) } else { None })
            .collect();
        assert_eq!(
            emitted.iter().map(|s| s.data.clone()).collect::<Vec<_>>(),
            scans,
            "all, once, in order, prefix removed"
        );
        assert!(emitted.windows(2).all(|w| w[0].seq + 1 == w[1].seq));
        let state = devices.states().remove(0);
        assert_eq!((state.count, state.garbage), (40, 1), "{state:?}");
        assert_eq!(state.last_scan.as_deref(), Some(scans[39].as_str()));
        // The front end takes them: nothing is pending any more.
        devices.inbox.acknowledge(emitted.last().unwrap().seq);
        assert!(devices.inbox.pending().is_empty());
        devices.stop();
    }

    #[test]
    fn the_poller_records_readings_without_holding_the_ledger_while_it_waits_on_a_port() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = ledger(dir.path());
        let line = Line::new(None).unwrap();
        ledger
            .lock()
            .unwrap()
            .add_sensor(
                INITIAL_ADMIN,
                &SensorConfig {
                    location: "FR1".into(),
                    port: line.ours.clone(),
                    protocol: "ascii".into(),
                    slave: 0,
                    model: String::new(),
                    baud: 9600,
                    pattern: String::new(),
                },
            )
            .unwrap();
        let (emit, seen) = collector();
        let devices = Devices::new(ledger.clone(), emit, Arc::new(|| Lang::En));
        devices.start_poller(Duration::from_secs(60), INITIAL_ADMIN);
        // The thermometer says nothing for a while: the poller waits on the port,
        // and the ledger stays free for the clerk meanwhile.
        std::thread::sleep(Duration::from_millis(300));
        let started = Instant::now();
        let units = ledger.lock().unwrap().cold_units().unwrap();
        assert!(started.elapsed() < Duration::from_millis(100), "the ledger was held for {:?}", started.elapsed());
        assert!(units[0].latest.is_none());
        let mut thermometer = serialport::new(&line.theirs, 9600).open().unwrap();
        thermometer.write_all(b"+04.6\r\n").unwrap();
        wait_for("a cold-chain event", || seen.lock().unwrap().iter().any(|e| matches!(e, DeviceEvent::Coldchain(_))));
        let update = seen
            .lock()
            .unwrap()
            .iter()
            .find_map(|e| if let DeviceEvent::Coldchain(u) = e { Some(u.clone()) } else { None })
            .unwrap();
        assert_eq!(update.readings.iter().map(|r| r.temperature_c).collect::<Vec<_>>(), [4.6], "{update:?}");
        assert!(update.excursions.is_empty());
        let latest = ledger.lock().unwrap().cold_units().unwrap()[0].latest.clone().unwrap();
        assert_eq!(latest.temperature_c, 4.6);
        let bus = devices.states().into_iter().find(|s| s.role == "thermometer").unwrap();
        assert_eq!((bus.connection, bus.count, bus.last_reading_c), (Connection::Connected, 1, Some(4.6)));
        devices.stop();
    }
}
