//! Polling cycles on real pseudo-terminals (never a mocked port): an ASCII
//! thermometer's lines read into a cold unit, a port that is not there
//! counted as disconnected without stopping the other sensors, a warm run
//! that opens an excursion and quarantines the unit's stock; and, with
//! pymodbus (`make devices-modbus`), two Modbus sensors on one bus read by
//! a poller that keeps the bus open across cycles and survives the peer
//! going away.

use coldchain_poll::{record, Poller};
use devices::sim::{Line, ModbusPeer};
use ledger::*;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

const REAGENT: &str = "06958841004890";

/// A ledger with a cold unit FR1 (2–8 °C, 1 minute out of range is an excursion) holding 5 reagents.
fn ledger(dir: &Path, clock: ManualClock) -> Ledger {
    let ids: Box<dyn IdSource> = Box::new(RandomIds::seeded(11));
    let mut ledger = Ledger::open_with(&dir.join("poll.sqlite"), Box::new(clock), ids).unwrap();
    ledger.init("T01", "poll test").unwrap();
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
    ledger
        .add_item(&NewItem {
            code: REAGENT.into(),
            name: "肌钙蛋白检测试剂盒".into(),
            unit: "盒".into(),
            pack_size: 1,
            cold_chain: true,
            min_temp_c: Some(rust_decimal::Decimal::from(2)),
            max_temp_c: Some(rust_decimal::Decimal::from(8)),
            ..NewItem::default()
        })
        .unwrap();
    ledger
        .post(&DocumentRequest {
            kind: DocumentKind::Receipt,
            user: INITIAL_ADMIN.into(),
            location: "FR1".into(),
            to_location: None,
            department: None,
            supplier: None,
            lines: vec![LineRequest {
                item: REAGENT.into(),
                lot: Some("R1".into()),
                expiry: Some("2099-01-31".parse().unwrap()),
                quantity: 5,
                ..LineRequest::default()
            }],
            note: String::new(),
            override_: None,
        })
        .unwrap();
    ledger
}

fn ascii_sensor(port: &str) -> SensorConfig {
    SensorConfig {
        location: "FR1".into(),
        port: port.into(),
        protocol: "ascii".into(),
        slave: 0,
        model: String::new(),
        baud: 9600,
        pattern: r"T=(?P<t>[-+]?\d+(?:\.\d+)?)C".into(),
    }
}

/// Writes `lines` into the thermometer's end of the cable, one every 50 ms, from another thread.
fn thermometer(path: String, lines: Vec<&'static str>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut port = serialport::new(&path, 9600).timeout(Duration::from_millis(100)).open().unwrap();
        for line in lines {
            std::thread::sleep(Duration::from_millis(50));
            port.write_all(line.as_bytes()).unwrap();
        }
        std::thread::sleep(Duration::from_millis(300));
    })
}

#[test]
fn an_ascii_thermometer_is_read_into_its_cold_unit_and_noise_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::at_date("2026-11-25".parse().unwrap());
    let mut ledger = ledger(dir.path(), clock.clone());
    let line = Line::new(None).unwrap();
    let device = thermometer(line.theirs.clone(), vec!["banner v1.2\r\n", "T=+04.8C H=45%\r\n"]);
    let mut poller = Poller::new(Duration::from_millis(200));
    let reads = poller.read(&[ascii_sensor(&line.ours)], str::to_string);
    let report = record(&mut ledger, INITIAL_ADMIN, reads, Lang::En).unwrap();
    device.join().unwrap();

    assert_eq!(report.readings.len(), 1, "{report:?}");
    assert_eq!(report.readings[0].temperature_c, 4.8);
    assert!(report.errors.is_empty() && report.excursions.is_empty(), "{report:?}");
    let stored = ledger.readings("FR1", 0).unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!((stored[0].temperature_c, stored[0].source.as_str()), (4.8, "sensor"));
    let health = poller.health();
    assert_eq!(health.len(), 1);
    assert!(health[0].connected && health[0].last_error.is_none(), "{health:?}");
    assert_eq!(health[0].readings, 1);
    assert_eq!(health[0].stats.garbage_bytes, "banner v1.2\r\n".len() as u64, "the banner is no reading");
}

#[test]
fn a_missing_port_is_that_sensors_failure_and_the_others_are_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::at_date("2026-11-25".parse().unwrap());
    let mut ledger = ledger(dir.path(), clock.clone());
    let line = Line::new(None).unwrap();
    let device = thermometer(line.theirs.clone(), vec!["T=5.0C\r\n"]);
    let gone = dir.path().join("ttyUSB-gone").display().to_string();
    let mut missing = ascii_sensor(&gone);
    missing.protocol = "modbus-rtu".into();
    missing.model = "xy-md02".into();
    missing.slave = 1;
    let mut poller = Poller::new(Duration::from_millis(200));
    let reads = poller.read(&[missing, ascii_sensor(&line.ours)], str::to_string);
    let report = record(&mut ledger, INITIAL_ADMIN, reads, Lang::En).unwrap();
    device.join().unwrap();

    assert_eq!(report.readings.len(), 1, "{report:?}");
    assert_eq!(report.errors.len(), 1);
    assert_eq!(report.errors[0].code, "port_open_failed");
    assert!(report.errors[0].message.contains("ttyUSB-gone"), "{}", report.errors[0].message);
    let gone_health = poller.health().into_iter().find(|h| h.path == gone).unwrap();
    assert!(!gone_health.connected);
    assert_eq!(gone_health.last_error.as_deref(), Some("port_open_failed"));
}

#[test]
fn a_warm_run_longer_than_the_limit_opens_an_excursion_that_quarantines_the_stock() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::at_date("2026-11-25".parse().unwrap());
    let mut ledger = ledger(dir.path(), clock.clone());
    let line = Line::new(None).unwrap();
    let sensor = ascii_sensor(&line.ours);
    let probe = format!("{}#0", line.ours);
    // The same probe read 12.5 °C two minutes ago (limit: one minute).
    ledger.record_reading("FR1", &probe, clock.now_ms() - 120_000, 12.5, None).unwrap();
    let device = thermometer(line.theirs.clone(), vec!["T=+12.1C\r\n"]);
    let reads = Poller::new(Duration::from_millis(200)).read(&[sensor], str::to_string);
    let report = record(&mut ledger, INITIAL_ADMIN, reads, Lang::En).unwrap();
    device.join().unwrap();

    assert_eq!(report.excursions.len(), 1, "{report:?}");
    let excursion = &report.excursions[0];
    assert_eq!((excursion.location.as_str(), excursion.kind.as_str()), ("FR1", "out_of_range"));
    assert_eq!(excursion.quarantined_units, 5);
    assert_eq!(excursion.worst_c, Some(12.5));
    let quarantined: i64 = ledger
        .stock(&StockFilter { include_zero: false, ..StockFilter::default() })
        .unwrap()
        .iter()
        .filter(|r| r.location.code == "FR1" && r.status == StockStatus::Quarantined)
        .map(|r| r.quantity)
        .sum();
    assert_eq!(quarantined, 5);
}

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
#[ignore = "needs Python with pymodbus: make devices-modbus"]
fn two_modbus_sensors_share_a_bus_that_stays_open_and_survives_the_peer_going_away() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::at_date("2026-11-25".parse().unwrap());
    let mut ledger = ledger(dir.path(), clock.clone());
    let line = Line::new(None).unwrap();
    let root = repository();
    let script = root.join("fixtures/devices/modbus_sensors.py");
    let python = ModbusPeer::python(&root);
    let peer = ModbusPeer::start(&python, &script, &line.theirs, 9600, &[(1, 52, 450), (2, 61, 400)]).unwrap();
    let modbus = |slave: u8| SensorConfig {
        location: "FR1".into(),
        port: line.ours.clone(),
        protocol: "modbus-rtu".into(),
        slave,
        model: "xy-md02".into(),
        baud: 9600,
        pattern: String::new(),
    };
    let sensors = [modbus(1), modbus(2)];
    let mut poller = Poller::new(Duration::from_millis(300));
    let report = record(&mut ledger, INITIAL_ADMIN, poller.read(&sensors, str::to_string), Lang::En).unwrap();
    let temperatures: Vec<f64> = report.readings.iter().map(|r| r.temperature_c).collect();
    assert_eq!(temperatures, [5.2, 6.1], "{report:?}");

    drop(peer);
    clock.advance_ms(60_000);
    let report = record(&mut ledger, INITIAL_ADMIN, poller.read(&sensors, str::to_string), Lang::En).unwrap();
    assert!(report.readings.is_empty());
    assert_eq!(report.errors.iter().map(|e| e.code.as_str()).collect::<Vec<_>>(), ["device_timeout"; 2]);
    let health = poller.health();
    assert_eq!(health[0].stats.timeouts, 6, "three attempts per sensor: {health:?}");
    assert!(health[0].connected, "the port itself is still there");

    let _peer = ModbusPeer::start(&python, &script, &line.theirs, 9600, &[(1, 55, 450), (2, 60, 400)]).unwrap();
    clock.advance_ms(60_000);
    let report = record(&mut ledger, INITIAL_ADMIN, poller.read(&sensors, str::to_string), Lang::En).unwrap();
    assert_eq!(report.readings.len(), 2, "{report:?}");
    assert_eq!(poller.health()[0].reopens, 0, "the bus stayed open across cycles");
    assert_eq!(ledger.readings("FR1", 0).unwrap().len(), 4);
}
