//! Modbus RTU thermometers on real pseudo-terminals, answered by pymodbus — a
//! Modbus implementation no one here wrote — through a relay we can make
//! noisy: two sensors on one bus read right, a corrupted answer is counted
//! as a CRC error and retried, stray bytes are counted, and the poller
//! survives the peer vanishing and coming back.
//!
//! Needs Python with pymodbus (`make devices-modbus` provides it in
//! target/pyenv); plain `cargo test` skips it.

use devices::modbus::{bus_limit_per_second, frame_gap, ModbusBus, SensorModel};
use devices::thermometer::{LinePattern, DEFAULT_PATTERN};
use devices::DeviceError;
use serialport::{SerialPort, TTYPort};
use std::io::{BufRead, Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn python() -> PathBuf {
    if let Ok(path) = std::env::var("MEDLEDGER_PYTHON") {
        return path.into();
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/pyenv/bin/python");
    if venv.exists() {
        venv
    } else {
        "python3".into()
    }
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/devices/modbus_sensors.py")
}

/// pymodbus serving two XY-MD02 sensors on `port`.
struct Peer(Child);

impl Peer {
    fn start(port: &str) -> Peer {
        let mut child = Command::new(python())
            .arg(script())
            .args([port, "9600", "1:52:450", "2:-35:610"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python with pymodbus");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready", "pymodbus did not start");
        // Let it open the port before the first request.
        std::thread::sleep(Duration::from_millis(700));
        Peer(child)
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Copies bytes between our side and the sensors' side; can corrupt or pad answers.
struct Relay {
    corrupt_next: Arc<AtomicBool>,
    stray_next: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Relay {
    fn start(ours: TTYPort, theirs: TTYPort) -> Relay {
        let corrupt_next = Arc::new(AtomicBool::new(false));
        let stray_next = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let pipe = |mut from: TTYPort, mut to: TTYPort, answers: bool| {
            let (corrupt, stray, stop) = (corrupt_next.clone(), stray_next.clone(), stop.clone());
            std::thread::spawn(move || {
                from.set_timeout(Duration::from_millis(20)).unwrap();
                let mut buffer = [0u8; 512];
                while !stop.load(Ordering::Relaxed) {
                    match from.read(&mut buffer) {
                        Ok(n) if n > 0 => {
                            let mut bytes = buffer[..n].to_vec();
                            if answers {
                                let pad = stray.swap(0, Ordering::Relaxed);
                                if pad > 0 {
                                    let mut padded = vec![0xA5; pad];
                                    padded.extend_from_slice(&bytes);
                                    bytes = padded;
                                }
                                if corrupt.swap(false, Ordering::Relaxed) {
                                    let last = bytes.len() - 1;
                                    bytes[last] ^= 0x5A;
                                }
                            }
                            let _ = to.write_all(&bytes);
                        }
                        _ => {}
                    }
                }
            })
        };
        let threads = vec![
            pipe(ours.try_clone_native().unwrap(), theirs.try_clone_native().unwrap(), false),
            pipe(theirs, ours, true),
        ];
        Relay { corrupt_next, stray_next, stop, threads }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

#[test]
#[ignore = "needs Python with pymodbus: make devices-modbus"]
fn sensors_read_right_through_noise_and_a_vanishing_peer() {
    let (ours_master, ours_slave) = TTYPort::pair().unwrap();
    let (theirs_master, theirs_slave) = TTYPort::pair().unwrap();
    let our_port = ours_slave.name().unwrap();
    let their_port = theirs_slave.name().unwrap();
    // The relay holds the masters; pymodbus opens its slave path, we open ours.
    let relay = Relay::start(ours_master, theirs_master);
    drop(theirs_slave);
    let peer = Peer::start(&their_port);
    let model = SensorModel::builtin("xy-md02").unwrap();
    let mut bus = ModbusBus::open(&our_port, 9600, Duration::from_millis(300)).unwrap();
    drop(ours_slave);

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
    let _peer = Peer::start(&their_port);
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
