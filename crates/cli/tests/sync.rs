//! Sync as people run it: a `medledger server` process on a loopback port and
//! three workstation databases driven by the `medledger` command — offline
//! work on each, then sync, then the same `stock --json` everywhere; and the
//! server over HTTPS with a hospital CA's certificate.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

fn medledger(db: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_medledger"))
        .arg("--db")
        .arg(db)
        .args(args)
        .env("LANG", "en_US.UTF-8")
        .env_remove("LC_ALL")
        .output()
        .unwrap()
}

fn ok(db: &Path, args: &[&str]) -> String {
    let out = medledger(db, args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn json(db: &Path, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    serde_json::from_str(&ok(db, &all)).unwrap()
}

/// The server process; killed when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(db: &Path) -> Server {
        Server::start_with(db, &[])
    }

    fn start_with(db: &Path, args: &[&Path]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_medledger"))
            .arg("--db")
            .arg(db)
            .args(["server", "--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let url = line.trim().strip_prefix("listening on ").expect("the server prints its address").to_string();
        Server { child, url }
    }

    /// SIGTERM, as a service manager stops it: the server finishes and exits cleanly.
    fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(std::time::Instant::now() < deadline, "the server did not stop on SIGTERM");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Site {
    db: PathBuf,
}

fn stock(db: &Path) -> Value {
    json(db, &["stock"])
}

#[test]
fn three_workstations_work_offline_then_sync_to_the_same_stock() {
    let dir = tempfile::tempdir().unwrap();
    let server_db = dir.path().join("server.sqlite");
    let server = Server::start(&server_db);
    // The catalogue is kept on the server; workstations enrol and receive it.
    ok(&server_db, &["location", "add", "--code", "MAIN", "--name", "中心库"]);
    ok(&server_db, &["location", "add", "--code", "ICU-STORE", "--name", "重症二级库", "--kind", "department"]);
    ok(&server_db, &["department", "add", "--code", "ICU", "--name", "重症医学科"]);
    ok(&server_db, &["user", "add", "--username", "wang", "--role", "clerk"]);
    ok(&server_db, &["item", "add", "--code", "09506000134352", "--name", "一次性使用无菌注射器", "--unit", "支"]);
    let sites: Vec<Site> = ["S01", "S02", "S03"]
        .iter()
        .map(|site| {
            let db = dir.path().join(format!("{site}.sqlite"));
            ok(&db, &["init", "--site", site]);
            let code = json(&server_db, &["enrol", "--site", site])["code"].as_str().unwrap().to_string();
            let report = json(&db, &["sync", "--server", &server.url, "--enrol", &code]);
            // A new workstation starts from the server's snapshot, not its history.
            assert_eq!(report["snapshot_balances"].as_u64(), Some(0), "{report}");
            assert!(ok(&db, &["location", "list"]).contains("ICU-STORE"));
            Site { db }
        })
        .collect();
    // Offline: each works on its own.
    let item = "09506000134352";
    ok(
        &sites[0].db,
        &[
            "--user",
            "wang",
            "receive",
            "--location",
            "MAIN",
            "--item",
            item,
            "--lot",
            "A1",
            "--expiry",
            "2027-03-31",
            "--qty",
            "50",
        ],
    );
    ok(
        &sites[1].db,
        &[
            "--user",
            "wang",
            "receive",
            "--location",
            "MAIN",
            "--item",
            item,
            "--lot",
            "B1",
            "--expiry",
            "2027-01-31",
            "--qty",
            "20",
        ],
    );
    ok(
        &sites[2].db,
        &[
            "--user",
            "wang",
            "receive",
            "--location",
            "ICU-STORE",
            "--item",
            item,
            "--lot",
            "C1",
            "--expiry",
            "2028-01-31",
            "--qty",
            "5",
        ],
    );
    ok(
        &sites[1].db,
        &["--user", "wang", "issue", "--location", "MAIN", "--department", "ICU", "--item", item, "--qty", "4"],
    );
    // A master-data edit on a workstation travels too.
    ok(&sites[2].db, &["location", "add", "--code", "OR-STORE", "--name", "手术室二级库", "--kind", "department"]);
    // Sync all, twice round so everyone has everyone's.
    for _ in 0..2 {
        for site in &sites {
            json(&site.db, &["sync"]);
        }
    }
    // Each workstation's own `admin` never acted before it joined: the server's took its place,
    // so nobody's login is renamed after the sync.
    for site in &sites {
        let users = json(&site.db, &["user", "list"]);
        let names: Vec<&str> = users.as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap()).collect();
        assert_eq!(names, ["admin", "wang"], "{users}");
    }
    let expected = stock(&sites[0].db);
    assert_eq!(expected.as_array().unwrap().len(), 3, "{expected}");
    for site in &sites[1..] {
        assert_eq!(stock(&site.db), expected);
    }
    assert_eq!(stock(&server_db), expected);
    // Each workstation can now move what another received: S03 issues from S01's lot A1.
    ok(
        &sites[2].db,
        &[
            "--user",
            "wang",
            "issue",
            "--location",
            "MAIN",
            "--department",
            "ICU",
            "--item",
            item,
            "--lot",
            "A1",
            "--qty",
            "10",
        ],
    );
    let report = json(&sites[2].db, &["sync"]);
    assert_eq!(report["pushed"].as_u64(), Some(3), "a lot, the slip, its movement: {report}");
    let report = json(&sites[0].db, &["sync"]);
    assert_eq!(report["pulled"].as_u64(), Some(2), "the slip and its movement (S01 made the lot): {report}");
    assert_eq!(stock(&sites[0].db), stock(&sites[2].db));
    let a1 = stock(&sites[0].db)
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["lot"] == "A1")
        .map(|r| r["quantity"].as_i64().unwrap());
    assert_eq!(a1, Some(40));
    // The trace of a lot shows its whole life wherever it is asked.
    let trace = json(&sites[0].db, &["trace", "A1"]);
    assert_eq!(trace.as_array().unwrap().len(), 2);
    // Nothing pending: a further round moves nothing.
    let report = json(&sites[1].db, &["sync"]);
    assert_eq!((report["pushed"].as_u64(), report["conflicts"].as_array().map(Vec::len)), (Some(0), Some(0)));
    // Nothing for a manager to look at.
    let review = json(&sites[0].db, &["sync", "--review"]);
    for list in [
        "exceptions",
        "conflicts",
        "concurrent_safety_edits",
        "duplicate_codes",
        "double_corrections",
        "future_movements",
        "ambiguous_counts",
    ] {
        assert_eq!(review[list].as_array().map(Vec::len), Some(0), "{list}: {review}");
    }
    // A workstation that joins now starts from the snapshot and shows the same stock at once.
    for site in &sites {
        json(&site.db, &["sync"]);
    }
    let late = dir.path().join("S04.sqlite");
    ok(&late, &["init", "--site", "S04"]);
    let code = json(&server_db, &["enrol", "--site", "S04"])["code"].as_str().unwrap().to_string();
    let report = json(&late, &["sync", "--server", &server.url, "--enrol", &code]);
    assert_eq!(report["snapshot_balances"].as_u64(), Some(3), "{report}");
    assert_eq!(stock(&late), stock(&sites[0].db));
    // It works on from there, and the others see it.
    ok(
        &late,
        &[
            "--user",
            "wang",
            "issue",
            "--location",
            "MAIN",
            "--department",
            "ICU",
            "--item",
            item,
            "--lot",
            "A1",
            "--qty",
            "1",
        ],
    );
    json(&late, &["sync"]);
    json(&sites[1].db, &["sync"]);
    assert_eq!(stock(&late), stock(&sites[1].db));
    // `--resend` where the server did not go back is a plain round: nothing is sent again.
    let report = json(&late, &["sync", "--resend"]);
    assert_eq!((report["pushed"].as_u64(), report["own_events_back"].as_u64()), (Some(0), Some(0)), "{report}");
    let report = json(&late, &["sync"]);
    assert_eq!(report["pushed"].as_u64(), Some(0), "{report}");
    assert_eq!(stock(&late), stock(&sites[1].db));
}

#[test]
fn refused_workstations_are_told_why_and_nothing_moves() {
    let dir = tempfile::tempdir().unwrap();
    let server_db = dir.path().join("server.sqlite");
    let server = Server::start(&server_db);
    let db = dir.path().join("ws.sqlite");
    ok(&db, &["init", "--site", "S09"]);
    // A wrong code.
    let out = medledger(&db, &["sync", "--server", &server.url, "--enrol", "0000-0000"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad_enrolment_code") && stderr.contains("enrolment code"), "{stderr}");
    // Not enrolled.
    let out = medledger(&db, &["sync"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not_enrolled"));
    // Plain http to another computer.
    let out = medledger(&db, &["sync", "--server", "http://192.0.2.7:8470", "--enrol", "x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("https"));
    // Enrolled, then revoked: refused, and its own work stays to push later.
    let code = json(&server_db, &["enrol", "--site", "S09"])["code"].as_str().unwrap().to_string();
    json(&db, &["sync", "--server", &server.url, "--enrol", &code]);
    ok(&db, &["location", "add", "--code", "MAIN", "--name", "中心库"]);
    ok(&server_db, &["node", "revoke", "S09"]);
    let before = json(&server_db, &["movements"]);
    let out = medledger(&db, &["sync"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("[revoked]") && stderr.contains("revoked on the server"), "{stderr}");
    assert_eq!(json(&server_db, &["movements"]), before);
    let locations = ok(&server_db, &["location", "list"]);
    assert!(!locations.contains("MAIN"), "nothing of a revoked node lands: {locations}");
    // The server gone: a plain-words error, and the ledger keeps working.
    drop(server);
    let out = medledger(&db, &["sync"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be reached"));
    ok(&db, &["location", "add", "--code", "SUB", "--name", "二级库", "--kind", "department"]);
}

/// A hospital CA and a server certificate for 127.0.0.1 it signed, as PEM files in `dir`:
/// (ca.pem, server.pem, server.key, a key of another certificate).
fn hospital_pki(dir: &Path) -> (PathBuf, PathBuf, PathBuf, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, "Hospital Root CA");
    let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap().signed_by(&key, &ca).unwrap();
    let paths = ["ca.pem", "server.pem", "server.key", "other.key"].map(|name| dir.join(name));
    std::fs::write(&paths[0], ca.pem()).unwrap();
    std::fs::write(&paths[1], cert.pem()).unwrap();
    std::fs::write(&paths[2], key.serialize_pem()).unwrap();
    std::fs::write(&paths[3], KeyPair::generate().unwrap().serialize_pem()).unwrap();
    let [ca, cert, key, other] = paths;
    (ca, cert, key, other)
}

fn refused(db: &Path, args: &[&str]) -> String {
    let out = medledger(db, args);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stdout.is_empty(), "{args:?}: {}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn a_workstation_syncs_over_https_trusting_the_hospital_ca() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key, _) = hospital_pki(dir.path());
    let server_db = dir.path().join("server.sqlite");
    let server = Server::start_with(&server_db, &[Path::new("--tls-cert"), &cert, Path::new("--tls-key"), &key]);
    assert!(server.url.starts_with("https://127.0.0.1:"), "{}", server.url);
    ok(&server_db, &["location", "add", "--code", "MAIN", "--name", "中心库"]);
    let db = dir.path().join("S01.sqlite");
    ok(&db, &["init", "--site", "S01"]);
    let code = json(&server_db, &["enrol", "--site", "S01"])["code"].as_str().unwrap().to_string();
    // Without the hospital's CA: not trusted, said in both languages, nothing stored.
    let stderr = refused(&db, &["sync", "--server", &server.url, "--enrol", &code]);
    assert!(stderr.contains("[certificate_untrusted]") && stderr.contains("--ca"), "{stderr}");
    let stderr = refused(&db, &["--lang", "zh", "sync", "--server", &server.url, "--enrol", &code]);
    assert!(stderr.contains("不信任") && stderr.contains("--ca"), "{stderr}");
    assert!(refused(&db, &["sync"]).contains("[not_enrolled]"));
    // Plain http to the TLS port: told to use https.
    let plain = server.url.replace("https://", "http://");
    let stderr = refused(&db, &["sync", "--server", &plain, "--enrol", &code]);
    assert!(stderr.contains("[https_required]") && stderr.contains("https://"), "{stderr}");
    // With it: enrolled, the snapshot arrives, and later rounds need no --ca.
    let ca_arg = ca.to_str().unwrap();
    let report = json(&db, &["sync", "--server", &server.url, "--enrol", &code, "--ca", ca_arg]);
    assert_eq!(report["snapshot_balances"].as_u64(), Some(0), "{report}");
    assert!(ok(&db, &["location", "list"]).contains("MAIN"));
    ok(&db, &["location", "add", "--code", "ICU-STORE", "--name", "重症二级库", "--kind", "department"]);
    assert_eq!(json(&db, &["sync"])["pushed"].as_u64(), Some(1));
    assert!(ok(&server_db, &["location", "list"]).contains("ICU-STORE"));
    // A CA file that is not one is refused before anything is sent.
    let stderr = refused(&db, &["sync", "--ca", key.to_str().unwrap()]);
    assert!(stderr.contains("[tls_file_invalid]") && stderr.contains("private keys stay on the server"), "{stderr}");
    json(&db, &["sync", "--ca", ca_arg]);
    // SIGTERM stops the HTTPS server gracefully.
    assert!(server.terminate().success());
}

#[test]
fn a_server_with_bad_tls_files_or_no_tls_beyond_loopback_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let (_, cert, key, other_key) = hospital_pki(dir.path());
    let db = dir.path().join("server.sqlite");
    let missing = dir.path().join("missing.pem");
    let server = |cert: &Path, key: &Path, lang: &str| {
        refused(
            &db,
            &[
                "--lang",
                lang,
                "server",
                "--listen",
                "127.0.0.1:0",
                "--tls-cert",
                cert.to_str().unwrap(),
                "--tls-key",
                key.to_str().unwrap(),
            ],
        )
    };
    let stderr = server(&missing, &key, "en");
    assert!(stderr.contains("[tls_file_unreadable]") && stderr.contains("missing.pem"), "{stderr}");
    let stderr = server(&missing, &key, "zh");
    assert!(stderr.contains("无法读取"), "{stderr}");
    let stderr = server(&key, &cert, "en");
    assert!(stderr.contains("[tls_file_invalid]") && stderr.contains("not a PEM certificate"), "{stderr}");
    let stderr = server(&cert, &other_key, "en");
    assert!(stderr.contains("[tls_key_mismatch]") && stderr.contains("does not belong"), "{stderr}");
    let stderr = server(&cert, &other_key, "zh");
    assert!(stderr.contains("不匹配"), "{stderr}");
    // Checked before the database is created.
    assert!(!db.exists());
    // Both files or neither.
    refused(&db, &["server", "--listen", "127.0.0.1:0", "--tls-cert", cert.to_str().unwrap()]);
    // Without TLS, only this computer.
    let stderr = refused(&db, &["server", "--listen", "192.0.2.7:8470"]);
    assert!(
        stderr.contains("[insecure_listen]") && stderr.contains("--tls-cert") && stderr.contains("--tls-key"),
        "{stderr}"
    );
    // A refused address creates nothing either.
    assert!(!db.exists());
}
