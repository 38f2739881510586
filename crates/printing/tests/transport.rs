//! Getting a job to a printer: the URI parser (table-driven and a fuzz-style
//! property: it never panics and what it prints it reads back the same), a
//! TCP receiver on 127.0.0.1 that must get the job byte for byte, a refused
//! connection's typed error, CUPS through a stand-in `lp`, and a serial port
//! through a pseudo-terminal.

mod common;

use common::*;
use printing::*;
use proptest::prelude::*;
use std::io::Read;
use std::net::TcpListener;
use std::time::Duration;

#[test]
fn printer_uris_parse_to_their_connection() {
    let tcp = |host: &str, port| Connection::Tcp { host: host.into(), port };
    let serial = |port: &str, baud, flow| Connection::Serial { port: port.into(), baud, flow };
    let cases: Vec<(&str, Connection)> = vec![
        ("tcp://127.0.0.1:9100", tcp("127.0.0.1", 9100)),
        ("tcp://192.168.1.50", tcp("192.168.1.50", 9100)),
        ("TCP://zebra-1.ward3.hospital.local:6101", tcp("zebra-1.ward3.hospital.local", 6101)),
        ("tcp://[::1]:9100", tcp("::1", 9100)),
        ("tcp://[fe80::1]", tcp("fe80::1", 9100)),
        ("cups://Zebra_ZT410", Connection::Cups { queue: "Zebra_ZT410".into() }),
        ("cups://receipt-80@front", Connection::Cups { queue: "receipt-80@front".into() }),
        ("serial:///dev/ttyUSB0?baud=9600", serial("/dev/ttyUSB0", 9600, Flow::None)),
        ("serial:///dev/ttyS1", serial("/dev/ttyS1", 9600, Flow::None)),
        ("serial:///dev/ttyACM0?baud=115200&flow=hardware", serial("/dev/ttyACM0", 115200, Flow::Hardware)),
        ("serial://COM3?flow=xonxoff&baud=19200", serial("COM3", 19200, Flow::Software)),
    ];
    for (uri, expected) in cases {
        assert_eq!(Connection::parse(uri).unwrap(), expected, "{uri}");
        assert_eq!(uri.parse::<Connection>().unwrap(), expected, "{uri}");
    }
}

#[test]
fn bad_printer_uris_are_refused_with_a_reason() {
    let cases = [
        "",
        "127.0.0.1:9100",
        "http://127.0.0.1:9100",
        "tcp://",
        "tcp://127.0.0.1:0",
        "tcp://127.0.0.1:65536",
        "tcp://127.0.0.1:91x0",
        "tcp://host name:9100",
        "tcp://-host:9100",
        "tcp://host/path",
        "tcp://[::1",
        "tcp://[::1]x",
        "tcp://[zz]:9100",
        "cups://",
        "cups://-o",
        "cups://queue/other",
        "cups://队列",
        "serial://",
        "serial:///dev/ttyUSB0?baud=9601",
        "serial:///dev/ttyUSB0?baud=9600&baud=9600",
        "serial:///dev/ttyUSB0?parity=even",
        "serial:///dev/ttyUSB0?flow=maybe",
        "serial:///dev/ttyUSB0?baud",
        "serial:///dev/../etc/passwd",
        "serial:///dev/tty USB0",
        "tcp://127.0.0.1:9100\n",
    ];
    for uri in cases {
        let error = Connection::parse(uri).unwrap_err();
        assert_eq!(error.code(), "bad_printer_uri", "{uri:?}");
        assert!(error.message(Lang::Zh).contains("tcp://"), "{uri:?}: the message shows the forms");
    }
    let long = format!("cups://{}", "q".repeat(URI_LEN_MAX));
    assert_eq!(Connection::parse(&long).unwrap_err().code(), "bad_printer_uri");
    let at_limit = format!("serial:///dev/{}", "t".repeat(URI_LEN_MAX - "serial:///dev/".len()));
    assert!(Connection::parse(&at_limit).is_ok(), "a URI of exactly {URI_LEN_MAX} bytes");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    /// Any text: no panic, and an accepted URI prints as one that parses to the same connection.
    #[test]
    fn the_uri_parser_never_panics_and_round_trips(uri in "\\PC{0,80}") {
        if let Ok(connection) = Connection::parse(&uri) {
            prop_assert_eq!(Connection::parse(&connection.to_string()).unwrap(), connection);
        }
    }

    /// URI-shaped text, where the interesting mistakes are.
    #[test]
    fn uri_shaped_text_never_panics_and_round_trips(
        scheme in prop::sample::select(vec!["tcp", "cups", "serial", "TCP", "udp", ""]),
        body in "[a-zA-Z0-9:/\\[\\]?&=._@-]{0,40}",
    ) {
        let uri = format!("{scheme}://{body}");
        if let Ok(connection) = Connection::parse(&uri) {
            prop_assert_eq!(Connection::parse(&connection.to_string()).unwrap(), connection);
        }
    }
}

/// A job with every byte value and Chinese GBK text, like an ESC/POS receipt.
fn job() -> Vec<u8> {
    let profile = PrinterProfile::new(PrinterLanguage::Escpos);
    let mut bytes = document_escpos(&receipt(), &profile, &options(Lang::Zh)).unwrap();
    bytes.extend(0u8..=255);
    bytes
}

#[test]
fn a_tcp_printer_receives_the_job_byte_for_byte() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let receiver = std::thread::spawn(move || {
        let (mut socket, _) = listener.accept().unwrap();
        socket.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut received = Vec::new();
        socket.read_to_end(&mut received).unwrap();
        received
    });
    let connection = Connection::parse(&format!("tcp://127.0.0.1:{port}")).unwrap();
    let sent = job();
    send(&connection, &sent).unwrap();
    assert_eq!(receiver.join().unwrap(), sent);
}

#[test]
fn a_large_label_job_arrives_whole() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let receiver = std::thread::spawn(move || {
        let (mut socket, _) = listener.accept().unwrap();
        let mut received = Vec::new();
        socket.read_to_end(&mut received).unwrap();
        received
    });
    let p = profile(PrinterLanguage::Zpl, 60.0, 40.0, Dpi::D203, LabelSymbology::DataMatrix);
    let sent = labels_zpl(&vec![lot_label(); 1_000], &p, &options(Lang::Zh)).unwrap();
    send(&Connection::Tcp { host: "127.0.0.1".into(), port }, &sent).unwrap();
    assert_eq!(receiver.join().unwrap(), sent);
}

#[test]
fn a_refused_connection_is_a_typed_error_the_queue_can_keep() {
    // A port that was just free: bind, note it, close.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let error = send(&Connection::Tcp { host: "127.0.0.1".into(), port }, b"^XA^XZ").unwrap_err();
    assert_eq!(error, PrintError::PrinterRefused { address: format!("127.0.0.1:{port}") });
    assert!(!error.is_user_error(), "a printer failure, worth a retry");
    assert!(error.message(Lang::Zh).contains("重试"));
}

#[test]
fn a_job_at_the_size_limit_is_sent_whole() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let receiver = std::thread::spawn(move || {
        let (mut socket, _) = listener.accept().unwrap();
        std::io::copy(&mut socket, &mut std::io::sink()).unwrap()
    });
    let job = vec![b'x'; JOB_BYTES_MAX];
    send(&Connection::Tcp { host: "127.0.0.1".into(), port }, &job).unwrap();
    assert_eq!(receiver.join().unwrap(), JOB_BYTES_MAX as u64);
}

#[test]
fn a_job_over_the_limit_is_refused_before_connecting() {
    let job = vec![0u8; JOB_BYTES_MAX + 1];
    let error = send(&Connection::Tcp { host: "127.0.0.1".into(), port: 9 }, &job).unwrap_err();
    assert_eq!(error, PrintError::JobTooLarge { bytes: JOB_BYTES_MAX + 1, max: JOB_BYTES_MAX });
}

/// A stand-in `lp` that writes its arguments and standard input to files, or fails like CUPS.
fn fake_lp(dir: &std::path::Path, exit: i32, message: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("lp");
    let script = format!(
        "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{dir}/args'\ncat > '{dir}/job'\necho '{message}' >&2\nexit {exit}\n",
        dir = dir.display()
    );
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn a_cups_job_goes_through_lp_raw_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let options = SendOptions { lp_program: fake_lp(dir.path(), 0, ""), ..SendOptions::default() };
    let sent = job();
    send_with(&Connection::parse("cups://Zebra_ZT410").unwrap(), &sent, &options).unwrap();
    assert_eq!(std::fs::read(dir.path().join("job")).unwrap(), sent);
    assert_eq!(std::fs::read_to_string(dir.path().join("args")).unwrap(), "-d\nZebra_ZT410\n-o\nraw\n");
}

#[test]
fn a_pdf_goes_to_cups_without_raw_so_the_queue_converts_it() {
    let dir = tempfile::tempdir().unwrap();
    let options = SendOptions { lp_program: fake_lp(dir.path(), 0, ""), ..SendOptions::default() };
    send_with(&Connection::Cups { queue: "office".into() }, b"%PDF-1.7\n...", &options).unwrap();
    assert_eq!(std::fs::read_to_string(dir.path().join("args")).unwrap(), "-d\noffice\n");
}

#[test]
fn cups_failures_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let failing = SendOptions {
        lp_program: fake_lp(dir.path(), 1, "lp: The printer or class does not exist."),
        ..SendOptions::default()
    };
    let error = send_with(&Connection::Cups { queue: "nope".into() }, b"x", &failing).unwrap_err();
    assert_eq!(
        error,
        PrintError::CupsRejected { queue: "nope".into(), reason: "lp: The printer or class does not exist.".into() }
    );
    let missing = SendOptions { lp_program: dir.path().join("no-such-lp"), ..SendOptions::default() };
    assert_eq!(
        send_with(&Connection::Cups { queue: "q".into() }, b"x", &missing).unwrap_err(),
        PrintError::CupsUnavailable
    );
}

#[test]
fn a_stalled_lp_is_stopped_at_the_deadline() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lp");
    // Reads the job, then hangs (as a stuck spooler would); killed at the deadline.
    std::fs::write(&path, "#!/bin/sh\ncat > /dev/null\nexec sleep 30\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let options = SendOptions { lp_program: path, write_timeout: Duration::from_millis(300), ..SendOptions::default() };
    let started = std::time::Instant::now();
    let error = send_with(&Connection::Cups { queue: "q".into() }, b"x", &options).unwrap_err();
    assert_eq!(error.code(), "printer_timeout");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_serial_printer_receives_the_job_byte_for_byte() {
    let (mut master, slave) = serialport::TTYPort::pair().expect("a pseudo-terminal");
    let name = serialport::SerialPort::name(&slave).expect("the terminal's path");
    // The pair's own end stays open while the test runs: a pseudo-terminal
    // whose every end is closed makes the other side's reads fail.
    let sent = job();
    let expected = sent.len();
    let reader = std::thread::spawn(move || {
        serialport::SerialPort::set_timeout(&mut master, Duration::from_secs(5)).unwrap();
        let mut received = Vec::new();
        let mut buf = [0u8; 4096];
        while received.len() < expected {
            match master.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
                Err(e) => panic!("reading the pseudo-terminal: {e}"),
            }
        }
        // The printer's end stays open until the sender's drain has returned: a
        // closed end would fail it (EIO), as a printer switched off would.
        (received, master)
    });
    let connection = Connection::parse(&format!("serial://{name}?baud=115200")).unwrap();
    send(&connection, &sent).unwrap();
    let (received, master) = reader.join().unwrap();
    assert_eq!(received, sent);
    drop((master, slave));
}

#[test]
fn a_missing_serial_port_is_a_typed_error() {
    let error = send(&Connection::parse("serial:///dev/ttyMEDLEDGER-none").unwrap(), b"x").unwrap_err();
    assert_eq!(error.code(), "serial_open_failed");
    assert!(error.message(Lang::En).contains("/dev/ttyMEDLEDGER-none"));
}
