//! The sync link over TLS, with real components: a hospital CA and server
//! certificates made at test time (rcgen), the real server on 127.0.0.1 with
//! HTTPS, and a workstation that enrols and syncs trusting that CA — or is
//! refused, with words that say what to fix, and nothing applied.

use ledger::*;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use sync::tls::{TlsFileProblem, TlsFileRole};
use sync::{ServerTls, SyncError};

/// A hospital's own CA, written as PEM into a temporary folder.
struct Pki {
    dir: tempfile::TempDir,
    ca: CertifiedIssuer<'static, KeyPair>,
}

impl Pki {
    fn new() -> Pki {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, "Hospital Root CA");
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
        Pki { dir, ca }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A server certificate for `names` signed by the CA: (cert.pem, key.pem).
    fn server(&self, prefix: &str, names: &[&str]) -> (PathBuf, PathBuf) {
        let params = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
        self.write(prefix, params)
    }

    fn write(&self, prefix: &str, mut params: CertificateParams) -> (PathBuf, PathBuf) {
        params.distinguished_name.push(DnType::CommonName, "MedLedger sync server");
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.ca).unwrap();
        let (cert_path, key_path) = (self.path(&format!("{prefix}.pem")), self.path(&format!("{prefix}.key")));
        std::fs::write(&cert_path, cert.pem()).unwrap();
        std::fs::write(&key_path, key.serialize_pem()).unwrap();
        (cert_path, key_path)
    }
}

fn location(code: &str) -> NewLocation {
    NewLocation {
        code: code.into(),
        name: "中心库".into(),
        name_en: "Main store".into(),
        kind: LocationKind::Storeroom,
        department: None,
        min_temp_c: None,
        max_temp_c: None,
    }
}

/// The hospital server on 127.0.0.1 with its catalogue, serving HTTPS with `cert`/`key`.
struct Hospital {
    _dir: tempfile::TempDir,
    db: PathBuf,
    server: sync::ServerHandle,
    codes: Vec<String>,
}

fn hospital(cert: &Path, key: &Path) -> Hospital {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.sqlite");
    let mut ledger = Ledger::open(&db).unwrap();
    ledger.init("SRV", "").unwrap();
    ledger.add_location(&location("MAIN")).unwrap();
    let codes = ["S01", "S02"].iter().map(|site| sync::new_enrolment_code(&mut ledger, site).unwrap()).collect();
    let tls = ServerTls::from_pem_files(cert, key).unwrap();
    let server = sync::serve_with(ledger, "127.0.0.1:0", Some(tls), false).unwrap();
    Hospital { _dir: dir, db, server, codes }
}

fn workstation(dir: &Path) -> Mutex<Ledger> {
    workstation_at(dir, "S01")
}

fn workstation_at(dir: &Path, site: &str) -> Mutex<Ledger> {
    let mut ledger = Ledger::open(&dir.join(format!("{site}.sqlite"))).unwrap();
    ledger.init(site, "").unwrap();
    Mutex::new(ledger)
}

fn locations(ledger: &Ledger) -> Vec<String> {
    ledger.locations().unwrap().into_iter().map(|l| l.code).collect()
}

fn no_progress() -> impl FnMut(&'static str, usize) {
    |_, _| {}
}

/// The error's code, and its words in both languages (each must say something).
fn refusal(e: &SyncError) -> (String, String, String) {
    let (zh, en) = (e.message(Lang::Zh), e.message(Lang::En));
    assert!(!zh.is_empty() && !en.is_empty() && zh != en, "{e:?}");
    (e.code(), zh, en)
}

#[test]
fn a_workstation_trusting_the_hospital_ca_enrols_and_syncs_over_https() {
    let pki = Pki::new();
    let (cert, key) = pki.server("server", &["127.0.0.1", "localhost"]);
    let hospital = hospital(&cert, &key);
    let url = hospital.server.url();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let ca = sync::read_ca_file(&pki.path("ca.pem")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ws = workstation(dir.path());
    sync::enrol_trusting(&ws, &url, &hospital.codes[0], Some(&ca)).unwrap();
    // The CA is kept with the link: the next syncs (the CLI's, the app's) need nothing more.
    let link = ws.lock().unwrap().sync_link().unwrap().unwrap();
    assert_eq!((link.server_url.as_str(), link.server_ca_pem.as_deref()), (url.as_str(), Some(ca.as_str())));
    let report = sync::sync_once(&ws, &mut no_progress()).unwrap();
    assert_eq!(report.snapshot_balances, Some(0));
    assert_eq!(locations(&ws.lock().unwrap()), ["MAIN"]);
    ws.lock().unwrap().add_location(&location("ICU")).unwrap();
    let report = sync::sync_once(&ws, &mut no_progress()).unwrap();
    assert_eq!(report.pushed, 1);
    assert!(locations(&Ledger::open(&hospital.db).unwrap()).contains(&"ICU".to_string()));
    // The same address by name works too (the certificate names both).
    let other = tempfile::tempdir().unwrap();
    let ws2 = workstation_at(other.path(), "S02");
    let by_name = url.replace("127.0.0.1", "localhost");
    sync::enrol_trusting(&ws2, &by_name, &hospital.codes[1], Some(&ca)).unwrap();
    sync::sync_once(&ws2, &mut no_progress()).unwrap();
    assert_eq!(locations(&ws2.lock().unwrap()), ["ICU", "MAIN"]);
    // Stopping is graceful over TLS too.
    hospital.server.stop();
}

#[test]
fn without_the_ca_the_certificate_is_not_trusted_and_nothing_is_applied() {
    let pki = Pki::new();
    let (cert, key) = pki.server("server", &["127.0.0.1"]);
    let hospital = hospital(&cert, &key);
    let url = hospital.server.url();
    let dir = tempfile::tempdir().unwrap();
    let ws = workstation(dir.path());
    // Enrolling: the system's roots do not know the hospital's CA.
    let e = sync::enrol(&ws, &url, &hospital.codes[0]).unwrap_err();
    let (code, zh, en) = refusal(&e);
    assert_eq!(code, "certificate_untrusted", "{e:?}");
    assert!(en.contains("not trusted") && en.contains("--ca"), "{en}");
    assert!(zh.contains("不信任") && zh.contains("--ca"), "{zh}");
    assert!(ws.lock().unwrap().sync_link().unwrap().is_none(), "no link is stored");
    assert!(Ledger::open(&hospital.db).unwrap().server_nodes().unwrap().is_empty(), "the code was never sent");
    // Enrolled with the CA, then the CA is taken away: the round is refused before anything is sent.
    let ca = sync::read_ca_file(&pki.path("ca.pem")).unwrap();
    sync::enrol_trusting(&ws, &url, &hospital.codes[0], Some(&ca)).unwrap();
    sync::sync_once(&ws, &mut no_progress()).unwrap();
    ws.lock().unwrap().add_location(&location("ICU")).unwrap();
    ws.lock().unwrap().set_sync_ca(None).unwrap();
    let e = sync::sync_once(&ws, &mut no_progress()).unwrap_err();
    assert_eq!(e.code(), "certificate_untrusted", "{e:?}");
    assert!(!locations(&Ledger::open(&hospital.db).unwrap()).contains(&"ICU".to_string()));
    let status = sync::client::status(&ws.lock().unwrap()).unwrap();
    assert!(status.last_error.is_some_and(|e| e.contains("not trusted")));
    assert_eq!(status.pending, 1, "the workstation's own work waits to be pushed");
    // The CA given back: the same work goes through.
    ws.lock().unwrap().set_sync_ca(Some(&ca)).unwrap();
    assert_eq!(sync::sync_once(&ws, &mut no_progress()).unwrap().pushed, 1);
}

#[test]
fn a_certificate_for_another_host_is_refused() {
    let pki = Pki::new();
    let (cert, key) = pki.server("server", &["sync.hospital.example"]);
    let hospital = hospital(&cert, &key);
    let ca = sync::read_ca_file(&pki.path("ca.pem")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ws = workstation(dir.path());
    let e = sync::enrol_trusting(&ws, &hospital.server.url(), &hospital.codes[0], Some(&ca)).unwrap_err();
    let (code, zh, en) = refusal(&e);
    assert_eq!(code, "certificate_wrong_host", "{e:?}");
    assert!(en.contains(&hospital.server.url()) && en.contains("name written in its certificate"), "{en}");
    assert!(zh.contains("证书上的名称"), "{zh}");
    assert!(ws.lock().unwrap().sync_link().unwrap().is_none());
}

#[test]
fn an_expired_certificate_is_refused_with_a_word_about_the_clock() {
    let pki = Pki::new();
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    params.not_before = rcgen::date_time_ymd(2019, 1, 1);
    params.not_after = rcgen::date_time_ymd(2020, 1, 1);
    let (cert, key) = pki.write("expired", params);
    let hospital = hospital(&cert, &key);
    let ca = sync::read_ca_file(&pki.path("ca.pem")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ws = workstation(dir.path());
    let e = sync::enrol_trusting(&ws, &hospital.server.url(), &hospital.codes[0], Some(&ca)).unwrap_err();
    let (code, zh, en) = refusal(&e);
    assert_eq!(code, "certificate_expired", "{e:?}");
    assert!(en.contains("date and time") && zh.contains("日期和时间"), "{en} / {zh}");
}

#[test]
fn a_self_signed_server_certificate_can_be_the_trusted_ca() {
    let dir = tempfile::tempdir().unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap().self_signed(&key).unwrap();
    let (cert_path, key_path) = (dir.path().join("self.pem"), dir.path().join("self.key"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    let hospital = hospital(&cert_path, &key_path);
    let ca = sync::read_ca_file(&cert_path).unwrap();
    let ws = workstation(dir.path());
    sync::enrol_trusting(&ws, &hospital.server.url(), &hospital.codes[0], Some(&ca)).unwrap();
    sync::sync_once(&ws, &mut no_progress()).unwrap();
    assert_eq!(locations(&ws.lock().unwrap()), ["MAIN"]);
}

#[test]
fn plain_http_to_the_tls_port_is_told_to_use_https() {
    let pki = Pki::new();
    let (cert, key) = pki.server("server", &["127.0.0.1"]);
    let hospital = hospital(&cert, &key);
    let plain = hospital.server.url().replace("https://", "http://");
    let dir = tempfile::tempdir().unwrap();
    let ws = workstation(dir.path());
    let e = sync::enrol(&ws, &plain, &hospital.codes[0]).unwrap_err();
    let (code, zh, en) = refusal(&e);
    assert_eq!(code, "https_required", "{e:?}");
    assert!(en.contains("https://") && zh.contains("https://"), "{en} / {zh}");
    assert!(ws.lock().unwrap().sync_link().unwrap().is_none());
    assert!(Ledger::open(&hospital.db).unwrap().server_nodes().unwrap().is_empty());
    // The server still serves https afterwards.
    let ca = sync::read_ca_file(&pki.path("ca.pem")).unwrap();
    sync::enrol_trusting(&ws, &hospital.server.url(), &hospital.codes[0], Some(&ca)).unwrap();
}

#[test]
fn https_to_a_plain_server_says_it_does_not_speak_https() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = Ledger::open(&dir.path().join("server.sqlite")).unwrap();
    ledger.init("SRV", "").unwrap();
    let code = sync::new_enrolment_code(&mut ledger, "S01").unwrap();
    let server = sync::serve(ledger, "127.0.0.1:0", false).unwrap();
    assert!(server.url().starts_with("http://"));
    let ws = workstation(dir.path());
    let e = sync::enrol(&ws, &server.url().replace("http://", "https://"), &code).unwrap_err();
    let (code, _, en) = refusal(&e);
    assert_eq!(code, "server_not_https", "{e:?}");
    assert!(en.contains("does not speak https"), "{en}");
}

#[test]
fn without_tls_the_server_listens_only_on_this_computer() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = Ledger::open(&dir.path().join("server.sqlite")).unwrap();
    ledger.init("SRV", "").unwrap();
    let Err(e) = sync::serve(ledger, "192.0.2.7:8470", false) else { panic!("a server on another address") };
    let (code, zh, en) = refusal(&e);
    assert_eq!(code, "insecure_listen");
    assert!(en.contains("--tls-cert") && en.contains("--tls-key") && en.contains("192.0.2.7:8470"), "{en}");
    assert!(zh.contains("--tls-cert") && zh.contains("--tls-key"), "{zh}");
}

#[test]
fn bad_certificate_and_key_files_are_refused_with_what_is_wrong() {
    let pki = Pki::new();
    let (cert, key) = pki.server("server", &["127.0.0.1"]);
    let (_, other_key) = pki.server("other", &["127.0.0.1"]);
    let missing = pki.path("missing.pem");
    let garbage = pki.path("garbage.pem");
    std::fs::write(&garbage, "this is not a certificate\n").unwrap();
    let large = pki.path("large.pem");
    std::fs::write(&large, vec![b'A'; sync::tls::TLS_FILE_MAX_BYTES as usize + 1]).unwrap();
    let check = |cert: &Path, key: &Path, code: &str, role: TlsFileRole, words: (&str, &str)| {
        let e = ServerTls::from_pem_files(cert, key).unwrap_err();
        let (found, zh, en) = refusal(&e);
        assert_eq!(found, code, "{cert:?} {key:?}: {e:?}");
        assert!(matches!(&e, SyncError::TlsFile { role: r, .. } if *r == role), "{e:?}");
        assert!(en.contains(words.0) && zh.contains(words.1), "{en} / {zh}");
    };
    use TlsFileRole::{Certificate, Key};
    check(&missing, &key, "tls_file_unreadable", Certificate, ("cannot be read", "无法读取"));
    check(&cert, &missing, "tls_file_unreadable", Key, ("--tls-key", "无法读取"));
    check(&large, &key, "tls_file_unreadable", Certificate, ("too large", "太大"));
    check(&garbage, &key, "tls_file_invalid", Certificate, ("not a PEM certificate", "不是 PEM"));
    check(&cert, &garbage, "tls_file_invalid", Key, ("not a PEM private key", "不是 PEM"));
    // Swapped: the certificate file holds only a key, and says so.
    check(&key, &cert, "tls_file_invalid", Certificate, ("PrivateKey", "不是 PEM"));
    check(&cert, &other_key, "tls_key_mismatch", Key, ("does not belong", "不匹配"));
    assert!(ServerTls::from_pem_files(&cert, &key).is_ok());
}

#[test]
fn a_ca_file_holds_certificates_only() {
    let pki = Pki::new();
    let (cert, key) = pki.server("server", &["127.0.0.1"]);
    let with_key = pki.path("with-key.pem");
    std::fs::write(
        &with_key,
        format!("{}{}", std::fs::read_to_string(pki.path("ca.pem")).unwrap(), std::fs::read_to_string(&key).unwrap()),
    )
    .unwrap();
    let problem = |path: &Path| match sync::read_ca_file(path) {
        Err(SyncError::TlsFile { role: TlsFileRole::Ca, problem, .. }) => problem,
        other => panic!("{path:?}: {other:?}"),
    };
    assert_eq!(problem(&with_key), TlsFileProblem::NotOnlyCertificates);
    assert!(matches!(problem(&key), TlsFileProblem::NotOnlyCertificates));
    assert!(matches!(problem(&pki.path("missing.pem")), TlsFileProblem::Unreadable(_)));
    std::fs::write(pki.path("empty.pem"), "").unwrap();
    assert!(matches!(problem(&pki.path("empty.pem")), TlsFileProblem::NotPem(_)));
    // A server certificate is a certificate: it may be trusted directly (a self-signed one).
    assert!(sync::read_ca_file(&cert).is_ok());
    let e = sync::read_ca_file(&with_key).unwrap_err();
    assert!(e.message(Lang::En).contains("private keys stay on the server"), "{}", e.message(Lang::En));
}
