//! The `medledger` command as a user runs it: the issue's invocations, JSON
//! shapes, exit codes (0 ok, 2 bad input with one line on stderr, nothing
//! written), and the demo hospital.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Db {
    dir: tempfile::TempDir,
}

impl Db {
    fn new() -> Db {
        Db { dir: tempfile::tempdir().unwrap() }
    }
    fn path(&self) -> PathBuf {
        self.dir.path().join("ledger.sqlite")
    }
    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_medledger"))
            .arg("--db")
            .arg(self.path())
            .args(args)
            .env("LANG", "en_US.UTF-8")
            .env_remove("LC_ALL")
            .output()
            .unwrap()
    }
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }
    fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        serde_json::from_str(&self.ok(&all)).unwrap()
    }
    /// Bad input: exit 2, exactly one line on stderr, nothing written.
    fn refused(&self, args: &[&str]) -> String {
        let before = self.ok(&["movements", "--json"]);
        let out = self.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?} should exit 2");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stderr.trim_end().lines().count(), 1, "one line on stderr: {stderr:?}");
        assert_eq!(self.ok(&["movements", "--json"]), before, "{args:?} wrote something");
        stderr
    }
}

fn setup() -> Db {
    let db = Db::new();
    db.ok(&["init", "--site", "S01"]);
    db.ok(&["location", "add", "--code", "MAIN", "--name", "中心库"]);
    db.ok(&["location", "add", "--code", "ICU-STORE", "--name", "重症医学科二级库", "--kind", "department"]);
    db.ok(&["department", "add", "--code", "ICU", "--name", "重症医学科"]);
    db.ok(&["supplier", "add", "--code", "SUP1", "--name", "国药控股"]);
    db.ok(&["item", "add", "--code", "09506000134352", "--name", "一次性使用无菌注射器", "--unit", "支"]);
    db
}

#[test]
fn the_walking_skeleton_receives_issues_transfers_counts_and_traces() {
    let db = setup();
    let receipt = db.json(&[
        "receive",
        "--location",
        "MAIN",
        "--item",
        "09506000134352",
        "--lot",
        "L1",
        "--expiry",
        "2099-01-31",
        "--qty",
        "10",
        "--supplier",
        "SUP1",
        "--unit-cost",
        "1.25",
    ]);
    assert_eq!(receipt["number"], "RK-S01-000001");
    assert!(receipt["id"].as_str().unwrap().len() == 36);
    assert_eq!(receipt["movements"][0]["quantity"], 10);
    assert_eq!(receipt["movements"][0]["unit_cost"], "1.25");
    db.ok(&[
        "receive",
        "--location",
        "MAIN",
        "--item",
        "9506000134352",
        "--lot",
        "L0",
        "--expiry",
        "2098-12-31",
        "--qty",
        "5",
    ]);

    // FEFO: L0 expires first, so an issue of 7 takes all of L0 and 2 of L1.
    let issue =
        db.json(&["issue", "--location", "MAIN", "--department", "ICU", "--item", "09506000134352", "--qty", "7"]);
    assert_eq!(issue["number"], "CK-S01-000001");
    let taken: Vec<(String, i64)> = issue["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["lot"].as_str().unwrap().to_string(), l["quantity"].as_i64().unwrap()))
        .collect();
    assert_eq!(taken, vec![("L0".to_string(), 5), ("L1".to_string(), 2)]);

    let transfer = db.json(&[
        "transfer",
        "--from",
        "MAIN",
        "--to",
        "ICU-STORE",
        "--item",
        "09506000134352",
        "--lot",
        "L1",
        "--qty",
        "2",
    ]);
    assert_eq!(transfer["movements"].as_array().unwrap().len(), 2);
    db.json(&["count", "--location", "MAIN", "--item", "09506000134352", "--lot", "L1", "--qty", "5"]);

    let stock = db.json(&["stock"]);
    let rows: Vec<(String, String, i64)> = stock
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (r["location"].as_str().unwrap().into(), r["lot"].as_str().unwrap().into(), r["quantity"].as_i64().unwrap())
        })
        .collect();
    assert_eq!(rows, vec![("ICU-STORE".into(), "L1".into(), 2), ("MAIN".into(), "L1".into(), 5)]);
    for field in ["item", "code", "name", "lot", "expiry", "serial", "location", "status", "quantity"] {
        assert!(stock[0].get(field).is_some(), "stock rows carry {field}");
    }
    assert_eq!(stock[0]["expiry"], "2099-01-31");

    let trace = db.json(&["trace", "L1"]);
    let kinds: Vec<&str> = trace.as_array().unwrap().iter().map(|m| m["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["receive", "issue", "transfer_out", "transfer_in", "count"]);
    assert_eq!(db.json(&["movements"]).as_array().unwrap().len(), 7);
    assert_eq!(db.json(&["verify"])["ok"], true);
}

#[test]
fn bad_input_exits_2_with_one_line_and_writes_nothing() {
    let db = setup();
    db.ok(&[
        "receive",
        "--location",
        "MAIN",
        "--item",
        "09506000134352",
        "--lot",
        "L1",
        "--expiry",
        "2099-01-31",
        "--qty",
        "3",
    ]);
    let cases: &[(&[&str], &str)] = &[
        (
            &["issue", "--location", "MAIN", "--department", "ICU", "--item", "09506000134352", "--qty", "4"],
            "insufficient_stock",
        ),
        (
            &["issue", "--location", "MAIN", "--department", "NOPE", "--item", "09506000134352", "--qty", "1"],
            "unknown_department",
        ),
        (&["receive", "--location", "MAIN", "--item", "12345", "--qty", "1"], "unknown_item"),
        (
            &["receive", "--location", "MAIN", "--item", "09506000134352", "--lot", "L1", "--qty", "0"],
            "quantity_not_positive",
        ),
        (
            &[
                "receive",
                "--location",
                "MAIN",
                "--item",
                "09506000134352",
                "--lot",
                "L9",
                "--expiry",
                "2001-01-01",
                "--qty",
                "1",
            ],
            "lot_expired",
        ),
        (&["transfer", "--from", "MAIN", "--to", "MAIN", "--item", "09506000134352", "--qty", "1"], "same_location"),
        (
            &["--user", "nobody", "receive", "--location", "MAIN", "--item", "09506000134352", "--qty", "1"],
            "unknown_user",
        ),
        (&["item", "add", "--code", "09506000134352", "--name", "dup"], "duplicate_code"),
        (&["receive", "--location", "MAIN", "--item", "09506000134352", "--qty", "lots"], "--qty"),
        (
            &[
                "receive",
                "--location",
                "MAIN",
                "--item",
                "09506000134352",
                "--expiry",
                "2027-02-30",
                "--lot",
                "X",
                "--qty",
                "1",
            ],
            "--expiry",
        ),
    ];
    for (args, expected) in cases {
        let stderr = db.refused(args);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

#[test]
fn messages_follow_the_language() {
    let db = setup();
    let out = db.run(&[
        "--lang",
        "zh",
        "issue",
        "--location",
        "MAIN",
        "--department",
        "ICU",
        "--item",
        "09506000134352",
        "--qty",
        "1",
    ]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("可用库存只有 0"), "{stderr}");
}

#[test]
fn a_command_on_a_database_that_was_never_initialised_says_what_to_do() {
    let db = Db::new();
    let out = db.run(&["stock"]);
    assert_eq!(out.status.code(), Some(0), "listing an empty ledger is fine");
    let out = db.run(&["location", "add", "--code", "X", "--name", "x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr).unwrap().contains("medledger init"));
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/demo")
}

#[test]
fn the_demo_hospital_loads_with_realistic_stock() {
    let db = Db::new();
    db.ok(&["init", "--site", "S01", "--name", "演示医院中心库"]);
    let summary = db.json(&["demo", "load", fixtures().to_str().unwrap()]);
    assert!(summary["items"].as_i64().unwrap() >= 150, "{summary}");
    let items = db.json(&["item", "list"]);
    let categories: std::collections::BTreeSet<&str> =
        items.as_array().unwrap().iter().map(|i| i["category"].as_str().unwrap()).collect();
    for needed in ["syringe", "catheter", "suture", "ivd_reagent", "implant"] {
        assert!(categories.contains(needed), "demo has {needed}");
    }
    assert!(items.as_array().unwrap().iter().any(|i| i["serialized"] == true && i["implantable"] == true));
    assert!(items.as_array().unwrap().iter().any(|i| i["cold_chain"] == true));
    let stock = db.json(&["stock"]);
    let expiries: Vec<&str> = stock.as_array().unwrap().iter().filter_map(|r| r["expiry"].as_str()).collect();
    assert!(expiries.iter().any(|e| *e < "2026-11-25"), "some stock already expired");
    assert!(expiries.iter().any(|e| *e > "2029-01-01"), "some stock years ahead");
    let locations: std::collections::BTreeSet<&str> =
        stock.as_array().unwrap().iter().map(|r| r["location"].as_str().unwrap()).collect();
    assert!(locations.contains("MAIN") && locations.contains("COLD") && locations.contains("ICU-STORE"));
    assert_eq!(db.json(&["verify"])["ok"], true);
}

#[test]
fn a_stocktake_is_counted_with_barcodes_and_a_scanner_dump_then_posted() {
    let db = setup();
    let receive = |lot: &str, qty: &str| {
        db.ok(&[
            "receive",
            "--location",
            "MAIN",
            "--item",
            "09506000134352",
            "--lot",
            lot,
            "--expiry",
            "2030-01-31",
            "--qty",
            qty,
        ]);
    };
    receive("L1", "10");
    receive("L2", "5");
    let started = db.json(&["stocktake", "start", "--location", "MAIN"]);
    let number = started["number"].as_str().unwrap().to_string();
    assert_eq!(number, "PD-S01-000001");
    // A GS1 scan with a real GS, one with brackets, and a typed quantity.
    let gs1 = "]d2010950600013435217300131\u{1d}10L1";
    assert_eq!(db.json(&["stocktake", "scan", &number, "--data", gs1])["key_total"], 1);
    assert_eq!(
        db.json(&["stocktake", "scan", &number, "--data", "(01)09506000134352(17)300131(10)L1"])["key_total"],
        2
    );
    let typed = db.json(&["stocktake", "scan", &number, "--item", "09506000134352", "--lot", "L1", "--qty", "6"]);
    assert_eq!((typed["source"].as_str(), typed["key_total"].as_i64()), (Some("typed"), Some(8)));
    // A batch scanner's dump: two more of L2 and a quantity line.
    let dump = db.dir.path().join("scanner.txt");
    std::fs::write(&dump, "(01)09506000134352(10)L2\n(01)09506000134352(10)L2\t2\n").unwrap();
    let imported = db.json(&["stocktake", "import", &number, dump.to_str().unwrap()]);
    assert_eq!((imported["observations"].as_i64(), imported["units"].as_i64()), (Some(2), Some(3)));
    // A bad line refuses the whole file.
    std::fs::write(&dump, "(01)09506000134352(10)L2\nnot-a-barcode\n").unwrap();
    let stderr = db.refused(&["stocktake", "import", &number, dump.to_str().unwrap()]);
    assert!(stderr.contains("Line 2"), "{stderr}");
    let variance = db.json(&["stocktake", "variance", &number]);
    let rows = variance["rows"].as_array().unwrap();
    let l1 = rows.iter().find(|r| r["lot"] == "L1").unwrap();
    assert_eq!(
        (l1["expected"].as_i64(), l1["counted"].as_i64(), l1["difference"].as_i64()),
        (Some(10), Some(8), Some(-2))
    );
    let posted = db.json(&["stocktake", "post", &number]);
    assert_eq!(posted["movements"], 2);
    let stock = db.json(&["stock"]);
    let quantities: Vec<(String, i64)> = stock
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["lot"].as_str().unwrap().to_string(), r["quantity"].as_i64().unwrap()))
        .collect();
    assert_eq!(quantities, vec![("L1".to_string(), 8), ("L2".to_string(), 3)]);
    let stderr = db.refused(&["stocktake", "scan", &number, "--data", gs1]);
    assert!(stderr.contains("stocktake_closed"), "{stderr}");
    // The posted stocktake prints as 盘点单 with its book and counted quantities.
    let pdf = db.dir.path().join("stocktake.pdf");
    db.json(&["--lang", "zh", "print", "document", &number, "--format", "pdf", "--out", pdf.to_str().unwrap()]);
    let text = Command::new("pdftotext").arg("-layout").arg(&pdf).arg("-").output().expect("pdftotext");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("盘点单") && text.contains(&number) && text.contains("L1"), "{text}");
}

/// A raw "printer" on 127.0.0.1: accepts one connection and returns what it received.
fn raw_printer() -> (u16, std::thread::JoinHandle<Vec<u8>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        use std::io::Read;
        let (mut stream, _) = listener.accept().unwrap();
        let mut received = Vec::new();
        stream.read_to_end(&mut received).unwrap();
        received
    });
    (port, handle)
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn labels_and_documents_print_to_files_and_printers_and_a_failed_job_waits_for_a_retry() {
    let db = setup();
    db.ok(&[
        "receive",
        "--location",
        "MAIN",
        "--item",
        "09506000134352",
        "--lot",
        "L7",
        "--expiry",
        "2030-01-31",
        "--qty",
        "10",
        "--supplier",
        "SUP1",
        "--unit-cost",
        "0.38",
    ]);
    let zpl = db.dir.path().join("lot.zpl");
    db.json(&[
        "print",
        "label",
        "--item",
        "09506000134352",
        "--lot",
        "L7",
        "--copies",
        "2",
        "--format",
        "zpl",
        "--out",
        zpl.to_str().unwrap(),
    ]);
    let zpl_bytes = std::fs::read(&zpl).unwrap();
    let text = String::from_utf8_lossy(&zpl_bytes);
    assert_eq!(text.matches("^XA").count(), 2, "two labels");
    assert!(text.contains("L7") && text.contains("09506000134352"), "{text}");
    let pdf = db.dir.path().join("receipt.pdf");
    db.json(&["print", "document", "RK-S01-000001", "--format", "pdf", "--out", pdf.to_str().unwrap()]);
    let extracted = Command::new("pdftotext")
        .arg(&pdf)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) is installed by make test");
    let extracted = String::from_utf8_lossy(&extracted.stdout);
    assert!(extracted.contains("一次性使用无菌注射器") && extracted.contains("RK-S01-000001"), "{extracted}");
    // A network label printer receives the job byte for byte.
    let (port, printer) = raw_printer();
    db.json(&["printer", "add", "--name", "zebra1", "--language", "zpl", "--uri", &format!("tcp://127.0.0.1:{port}")]);
    let sent =
        db.json(&["print", "label", "--item", "09506000134352", "--lot", "L7", "--copies", "2", "--printer", "zebra1"]);
    assert_eq!(sent["status"], "sent");
    assert_eq!(printer.join().unwrap(), zpl_bytes);
    // A printer that refuses the connection: the job stays queued with its error.
    db.json(&[
        "printer",
        "add",
        "--name",
        "offline",
        "--language",
        "zpl",
        "--uri",
        &format!("tcp://127.0.0.1:{}", closed_port()),
    ]);
    let out = db.run(&["print", "label", "--item", "09506000134352", "--lot", "L7", "--printer", "offline"]);
    assert_eq!(out.status.code(), Some(1), "a printer that is down is the machine's failure");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("stays queued"), "{stderr}");
    let jobs = db.json(&["print", "jobs"]);
    let job = &jobs.as_array().unwrap()[0];
    assert_eq!((job["status"].as_str(), job["attempts"].as_i64()), (Some("failed"), Some(1)));
    assert!(job["last_error"].as_str().unwrap().len() > 5);
    // Sent elsewhere, it goes through and leaves the queue.
    let (port, printer) = raw_printer();
    db.json(&["printer", "add", "--name", "zebra2", "--language", "zpl", "--uri", &format!("tcp://127.0.0.1:{port}")]);
    let retried = db.json(&["print", "retry", job["id"].as_str().unwrap(), "--printer", "zebra2"]);
    assert_eq!((retried["status"].as_str(), retried["printer"].as_str()), (Some("sent"), Some("zebra2")));
    assert!(String::from_utf8(printer.join().unwrap()).unwrap().contains("^XA"));
    assert_eq!(db.json(&["print", "jobs"]).as_array().unwrap().len(), 0);
    assert_eq!(db.json(&["print", "jobs", "--all"]).as_array().unwrap().len(), 2);
}

/// Python with pymodbus: $MEDLEDGER_PYTHON, else the repository's venv.
fn modbus_python() -> PathBuf {
    devices::sim::ModbusPeer::python(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
}

#[test]
#[ignore = "needs Python with pymodbus: make devices-modbus"]
fn a_polled_fridge_out_of_range_quarantines_its_stock_until_a_manager_releases_it() {
    let db = setup();
    db.ok(&["user", "add", "--username", "boss", "--name", "主管", "--role", "manager"]);
    db.ok(&["user", "add", "--username", "wang", "--name", "王丽", "--role", "clerk"]);
    db.ok(&[
        "item",
        "add",
        "--code",
        "06901234567908",
        "--name",
        "试剂盒",
        "--unit",
        "盒",
        "--cold-chain",
        "--min-temp",
        "2",
        "--max-temp",
        "8",
    ]);
    let refused = db.refused(&["location", "add", "--code", "X1", "--name", "x", "--excursion-minutes", "30"]);
    assert!(refused.contains("--kind cold"), "{refused}");
    for fridge in ["FR1", "FR2"] {
        db.ok(&[
            "location",
            "add",
            "--code",
            fridge,
            "--name",
            "试剂冰箱",
            "--kind",
            "cold",
            "--min-temp",
            "2",
            "--max-temp",
            "8",
            "--excursion-minutes",
            "30",
        ]);
        db.ok(&[
            "receive",
            "--location",
            fridge,
            "--item",
            "06901234567908",
            "--lot",
            "R1",
            "--expiry",
            "2030-01-31",
            "--qty",
            "10",
        ]);
    }
    // A real Modbus peer (pymodbus) on a pseudo-terminal: two sensors on one bus, FR1 at 5.2 °C, FR2 at 12.5 °C.
    let line = devices::sim::Line::new(None).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/devices/modbus_sensors.py");
    let _peer =
        devices::sim::ModbusPeer::start(&modbus_python(), &script, &line.theirs, 9600, &[(1, 52, 450), (2, 125, 450)])
            .unwrap();
    db.ok(&["sensor", "add", "--location", "FR1", "--port", &line.ours, "--slave", "1", "--model", "xy-md02"]);
    db.ok(&["sensor", "add", "--location", "FR2", "--port", &line.ours, "--slave", "2", "--model", "xy-md02"]);
    // FR2's data logger shows it warm for the last 40 minutes.
    let now = chrono::Utc::now();
    let logger: String =
        (1..=4).map(|n| format!("{},12.0\n", (now - chrono::Duration::minutes(50 - 10 * n)).to_rfc3339())).collect();
    let file = db.dir.path().join("logger.csv");
    std::fs::write(&file, format!("time,temp\n{logger}")).unwrap();
    db.json(&["coldchain", "import", "--location", "FR2", file.to_str().unwrap()]);
    let polled = db.json(&["coldchain", "poll", "--once"]);
    let read: Vec<(String, f64)> = polled["readings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["location"].as_str().unwrap().to_string(), r["temperature_c"].as_f64().unwrap()))
        .collect();
    assert_eq!(read, vec![("FR1".to_string(), 5.2), ("FR2".to_string(), 12.5)]);
    let excursions = polled["excursions"].as_array().unwrap();
    assert_eq!(excursions.len(), 1, "{polled}");
    let excursion = &excursions[0];
    assert_eq!(
        (excursion["location"].as_str(), excursion["kind"].as_str(), excursion["quarantined_units"].as_i64()),
        (Some("FR2"), Some("out_of_range"), Some(10))
    );
    // FR1 passes the temperature gate; FR2's stock is quarantined, and a clerk cannot release it.
    let issue = |fridge: &'static str| {
        [
            "--user",
            "wang",
            "issue",
            "--location",
            fridge,
            "--department",
            "ICU",
            "--item",
            "06901234567908",
            "--lot",
            "R1",
            "--qty",
            "1",
        ]
    };
    db.ok(&issue("FR1"));
    let stderr = db.refused(&issue("FR2"));
    assert!(stderr.contains("insufficient_stock"), "{stderr}");
    let id = excursion["id"].as_str().unwrap();
    let stderr = db.refused(&["--user", "wang", "coldchain", "resolve", id, "--reason", "ok"]);
    assert!(stderr.contains("forbidden"), "{stderr}");
    let resolved = db.json(&["--user", "boss", "coldchain", "resolve", id, "--reason", "stability data allow it"]);
    assert_eq!(resolved["status"], "released");
    let stock = db.json(&["stock", "--location", "FR2"]);
    assert_eq!((stock[0]["quantity"].as_i64(), stock[0]["status"].as_str()), (Some(10), Some("available")));
}

#[test]
fn a_handheld_scanners_memory_is_downloaded_into_a_stocktake() {
    let db = setup();
    db.ok(&[
        "receive",
        "--location",
        "MAIN",
        "--item",
        "09506000134352",
        "--lot",
        "L1",
        "--expiry",
        "2030-01-31",
        "--qty",
        "10",
    ]);
    let number = db.json(&["stocktake", "start", "--location", "MAIN"])["number"].as_str().unwrap().to_string();
    // The handheld's cradle is one end of a pseudo-terminal pair; it sends its memory once the command listens.
    let line = devices::sim::Line::new(None).unwrap();
    let download = Command::new(env!("CARGO_BIN_EXE_medledger"))
        .arg("--db")
        .arg(db.path())
        .args([
            "--json",
            "stocktake",
            "download",
            &number,
            "--port",
            &line.ours,
            "--idle-ms",
            "400",
            "--wait-seconds",
            "10",
        ])
        .env("LANG", "en_US.UTF-8")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(400));
    let mut cradle = serialport::new(&line.theirs, 9600).open().unwrap();
    for stored in ["(01)09506000134352(17)300131(10)L1", "(01)09506000134352(17)300131(10)L1,4"] {
        std::io::Write::write_all(&mut cradle, format!("{stored}\r\n").as_bytes()).unwrap();
    }
    let out = download.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((summary["observations"].as_i64(), summary["units"].as_i64()), (Some(2), Some(5)));
    let variance = db.json(&["stocktake", "variance", &number]);
    assert_eq!(variance["rows"][0]["counted"], 5);
}
