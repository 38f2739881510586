//! Modbus RTU thermometers on real pseudo-terminals, answered by pymodbus — a
//! Modbus implementation no one here wrote — through a relay we can make
//! noisy: two sensors on one bus read right, a corrupted answer is counted
//! as a CRC error and retried, stray bytes are counted, and the poller
//! survives the peer vanishing and coming back.
//!
//! Needs Python with pymodbus (`make devices-modbus` provides it in
//! target/pyenv); plain `cargo test` skips it.

use devices::modbus::{bus_limit_per_second, frame_gap, ModbusBus, SensorModel};
use devices::sim::{Line, ModbusPeer};
use devices::thermometer::{LinePattern, DEFAULT_PATTERN};
use devices::DeviceError;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Duration;

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// pymodbus serving two XY-MD02 sensors on `port`.
fn sensors(port: &str) -> ModbusPeer {
    let root = repository();
    let script = root.join("fixtures/devices/modbus_sensors.py");
    ModbusPeer::start(&ModbusPeer::python(&root), &script, port, 9600, &[(1, 52, 450), (2, -35, 610)])
        .expect("pymodbus")
}

#[test]
#[ignore = "needs Python with pymodbus: make devices-modbus"]
fn sensors_read_right_through_noise_and_a_vanishing_peer() {
    let relay = Line::new(None).unwrap();
    let peer = sensors(&relay.theirs);
    let model = SensorModel::builtin("xy-md02").unwrap();
    let mut bus = ModbusBus::open(&relay.ours, 9600, Duration::from_millis(300)).unwrap();

    let first = bus.read_sensor(1, &model).unwrap();
    assert_eq!((first.temperature_c, first.humidity_pct), (5.2, Some(45.0)));
    let second = bus.read_sensor(2, &model).unwrap();
    assert_eq!((second.temperature_c, second.humidity_pct), (-3.5, Some(61.0)), "a negative temperature");

    // A corrupted answer: counted as a CRC error, retried, read right.
    relay.corrupt_next.store(true, Ordering::Relaxed);
    assert_eq!(bus.read_sensor(1, &model).unwrap().temperature_c, 5.2);
    assert_eq!(bus.stats().crc_errors, 1);

    // Stray bytes before an answer: counted, skipped.
    relay.stray_next.store(3, Ordering::Relaxed);
    assert_eq!(bus.read_sensor(2, &model).unwrap().temperature_c, -3.5);
    assert!(bus.stats().garbage_bytes >= 3, "{:?}", bus.stats());

    // The peer vanishes: timeouts, counted, no panic.
    drop(peer);
    let error = bus.read_sensor(1, &model).unwrap_err();
    assert!(matches!(error, DeviceError::Timeout { slave: 1, .. }), "{error:?}");
    assert_eq!(error.code(), "device_timeout");
    assert_eq!(bus.stats().timeouts, 3, "one per attempt");

    // …and comes back on the same line.
    let _peer = sensors(&relay.theirs);
    assert_eq!(bus.read_sensor(1, &model).unwrap().temperature_c, 5.2);
    let stats = bus.stats();
    assert_eq!(stats.answers, 5, "{stats:?}");
    drop(relay);
}

#[test]
fn the_bus_limit_and_the_frame_gap_follow_the_baud_rate() {
    // 9600 baud: 3.5 × 11 bits ≈ 4.01 ms between frames.
    assert_eq!(frame_gap(9600).as_micros(), 4010);
    // Above 19,200 baud the gap is fixed at 1.75 ms.
    assert_eq!(frame_gap(115_200).as_micros(), 1750);
    // Two registers at 9600: 8 + 9 characters of 11 bits plus two gaps ≈ 27.5 ms a reading.
    let limit = bus_limit_per_second(9600, 2);
    assert!((35.0..37.5).contains(&limit), "{limit}");
}

#[test]
fn models_and_line_patterns_read_what_the_devices_send() {
    assert_eq!(SensorModel::builtin("XY-MD02").unwrap().name, "xy-md02");
    assert_eq!(SensorModel::builtin("acme-9000").unwrap_err().code(), "unknown_sensor_model");
    let plain = LinePattern::new(DEFAULT_PATTERN).unwrap();
    assert_eq!(plain.read("T:+04.8").unwrap().temperature_c, 4.8);
    assert_eq!(plain.read("-18.5 C").unwrap().temperature_c, -18.5);
    assert!(plain.read("READY").is_none());
    assert!(plain.read("999").is_none(), "out of any thermometer's range");
    let both = LinePattern::new(r"T=(?P<t>[-+]?\d+\.\d) H=(?P<h>\d+)%").unwrap();
    let reading = both.read("T=+04.8 H=45%").unwrap();
    assert_eq!((reading.temperature_c, reading.humidity_pct), (4.8, Some(45.0)));
    assert_eq!(LinePattern::new(r"\d+").unwrap_err().code(), "invalid_device_setting");
    assert!(plain.read(&"1".repeat(devices::thermometer::LINE_BYTES_MAX + 1)).is_none());
}
