//! Serial scanners on real pseudo-terminal pairs: a simulator writes scans
//! (GS and AIM identifiers, at a scanner's speed, with garbage between them)
//! into one end; the reader on the other end delivers every valid scan
//! exactly once, reports the garbage, and comes back after an unplug.

use devices::scanner::{ScanFramer, ScannerConfig, ScannerEvent, ScannerReader, SCAN_BYTES_MAX};
use proptest::prelude::*;
use serialport::{SerialPort, TTYPort};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

const SCANS: [&str; 4] = [
    "]d2010950600013435217300131\u{1d}10L1",
    "]C1010690123456789217290101\u{1d}21SN-0042",
    "+H724STENT2518Q/$$52001510X3K",
    "SYR-5ML",
];

/// A pty pair whose slave is reached through a link we can point elsewhere (a re-plug).
struct Cable {
    master: TTYPort,
    _slave: TTYPort,
}

fn plug(link: &Path) -> Cable {
    let (master, slave) = TTYPort::pair().expect("pty pair");
    let target = slave.name().expect("slave path");
    let _ = std::fs::remove_file(link);
    std::os::unix::fs::symlink(target, link).unwrap();
    Cable { master, _slave: slave }
}

/// Types like a scanner: one byte at a time, about 1 ms apart.
fn type_scan(master: &mut TTYPort, bytes: &[u8]) {
    for byte in bytes {
        master.write_all(&[*byte]).unwrap();
        std::thread::sleep(Duration::from_micros(800));
    }
}

fn next_events(events: &Receiver<ScannerEvent>, wanted: usize, within: Duration) -> Vec<ScannerEvent> {
    let deadline = Instant::now() + within;
    let mut out = Vec::new();
    while out.len() < wanted {
        let left = deadline.saturating_duration_since(Instant::now());
        match events.recv_timeout(left) {
            Ok(event) => out.push(event),
            Err(_) => break,
        }
    }
    out
}

fn link_path() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("scanner");
    (dir, link)
}

#[test]
fn every_scan_reaches_the_queue_once_and_garbage_is_reported() {
    let (_dir, link) = link_path();
    let mut cable = plug(&link);
    let (reader, events) = ScannerReader::start(link.to_str().unwrap(), 9600, ScannerConfig::default()).unwrap();
    assert!(matches!(next_events(&events, 1, Duration::from_secs(5))[..], [ScannerEvent::Connected { .. }]));
    for scan in SCANS {
        type_scan(&mut cable.master, scan.as_bytes());
        type_scan(&mut cable.master, b"\r");
        // Line noise between scans: binary bytes, then a terminator.
        type_scan(&mut cable.master, &[0x00, 0xff, 0x13, b'\r']);
    }
    let got = next_events(&events, SCANS.len() * 2, Duration::from_secs(10));
    let scans: Vec<&str> = got
        .iter()
        .filter_map(|e| match e {
            ScannerEvent::Scan { data } => Some(data.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(scans, SCANS);
    let garbage = got.iter().filter(|e| matches!(e, ScannerEvent::Garbage { .. })).count();
    assert_eq!(garbage, SCANS.len());
    assert_eq!(reader.stats.scans.load(std::sync::atomic::Ordering::Relaxed), SCANS.len() as u64);
    // Unplugged, then plugged in again (a new pty behind the same name): scanning goes on.
    drop(cable);
    let gone = next_events(&events, 1, Duration::from_secs(5));
    assert!(matches!(gone[..], [ScannerEvent::Disconnected { .. }]), "{gone:?}");
    let mut cable = plug(&link);
    let back = next_events(&events, 1, Duration::from_secs(5));
    assert!(matches!(back[..], [ScannerEvent::Connected { .. }]), "{back:?}");
    type_scan(&mut cable.master, b"]d201095060001343521727013110L9\r");
    let after = next_events(&events, 1, Duration::from_secs(5));
    assert_eq!(after, vec![ScannerEvent::Scan { data: "]d201095060001343521727013110L9".into() }]);
    assert_eq!(reader.stats.reconnects.load(std::sync::atomic::Ordering::Relaxed), 1);
}

#[test]
fn a_full_queue_makes_the_reader_wait_and_loses_nothing() {
    let (_dir, link) = link_path();
    let mut cable = plug(&link);
    let (reader, events) = ScannerReader::start(link.to_str().unwrap(), 115200, ScannerConfig::default()).unwrap();
    let total = devices::scanner::SCAN_QUEUE_MAX + 40;
    let mut burst = Vec::new();
    for n in 0..total {
        burst.extend_from_slice(format!("(01)09506000134352(10)Q{n:04}\r").as_bytes());
    }
    // Nobody reads the queue while the scanner sends more than it holds.
    cable.master.write_all(&burst).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while reader.stats.queue_full.load(std::sync::atomic::Ordering::Relaxed) == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        reader.stats.queue_full.load(std::sync::atomic::Ordering::Relaxed) >= 1,
        "the reader said the queue filled"
    );
    let got = next_events(&events, total + 1, Duration::from_secs(10));
    let scans: Vec<String> = got
        .into_iter()
        .filter_map(|e| match e {
            ScannerEvent::Scan { data } => Some(data),
            _ => None,
        })
        .collect();
    let expected: Vec<String> = (0..total).map(|n| format!("(01)09506000134352(10)Q{n:04}")).collect();
    assert_eq!(scans, expected);
}

#[test]
fn a_prefix_is_removed_and_an_overlong_run_is_garbage() {
    let mut framer = ScanFramer::new(ScannerConfig { terminators: vec![b'\n'], prefix: b"@S".to_vec() });
    assert_eq!(framer.push(b"@S0109506000134352\n"), vec![ScannerEvent::Scan { data: "0109506000134352".into() }]);
    let long = vec![b'7'; SCAN_BYTES_MAX + 10];
    let events = framer.push(&long);
    assert!(events.is_empty());
    let events = framer.push(b"\nOK\n");
    assert!(matches!(events[0], ScannerEvent::Garbage { .. }), "{events:?}");
    assert_eq!(events[1], ScannerEvent::Scan { data: "OK".into() });
    // Exactly at the limit is still a scan.
    let mut at_limit = vec![b'8'; SCAN_BYTES_MAX];
    at_limit.push(b'\n');
    assert!(matches!(&framer.push(&at_limit)[..], [ScannerEvent::Scan { data }] if data.len() == SCAN_BYTES_MAX));
}

proptest! {
    #[test]
    fn the_framer_never_panics_and_finds_every_scan_however_the_bytes_are_split(
        noise in proptest::collection::vec(any::<u8>(), 0..200),
        cuts in proptest::collection::vec(1usize..40, 1..20),
    ) {
        let mut framer = ScanFramer::new(ScannerConfig::default());
        // Arbitrary bytes never panic.
        let _ = framer.push(&noise);
        let _ = framer.push(b"\r");
        let mut stream = Vec::new();
        for scan in SCANS {
            stream.extend_from_slice(scan.as_bytes());
            stream.push(b'\r');
        }
        let mut found = Vec::new();
        let mut rest = &stream[..];
        for cut in cuts.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (head, tail) = rest.split_at((*cut).min(rest.len()));
            for event in framer.push(head) {
                if let ScannerEvent::Scan { data } = event {
                    found.push(data);
                }
            }
            rest = tail;
        }
        prop_assert_eq!(found, SCANS.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    }
}

#[test]
fn a_handhelds_memory_downloads_in_order_until_the_line_goes_quiet() {
    let (_dir, link) = link_path();
    let mut cable = plug(&link);
    let path = link.to_str().unwrap().to_string();
    let reader = std::thread::spawn(move || {
        devices::scanner::download(
            &path,
            9600,
            ScannerConfig::default(),
            Duration::from_millis(300),
            Duration::from_secs(5),
        )
    });
    std::thread::sleep(Duration::from_millis(100));
    for scan in SCANS {
        cable.master.write_all(format!("{scan},2\r\n").as_bytes()).unwrap();
    }
    cable.master.write_all(&[0xff, 0xfe, b'\r']).unwrap();
    // The last stored scan without a terminator.
    cable.master.write_all(b"SYR-5ML").unwrap();
    let (lines, garbage) = reader.join().unwrap().unwrap();
    let mut expected: Vec<String> = SCANS.iter().map(|s| format!("{s},2")).collect();
    expected.push("SYR-5ML".into());
    assert_eq!(lines, expected);
    assert_eq!(garbage, 1);
}
