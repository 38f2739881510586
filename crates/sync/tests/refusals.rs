//! The server refuses, over real HTTP, what it must not apply — a wrong
//! token, a revoked node, another protocol or schema, malformed and oversized
//! bodies, events of another node — each with a stable code, and nothing of
//! the request lands in its ledger.

use ledger::replication::{Event, WIRE_SCHEMA};
use ledger::*;
use serde_json::{json, Value};
use std::io::Write;
use sync::protocol::{Versions, BODY_MAX_BYTES};

struct Setup {
    _dir: tempfile::TempDir,
    server: sync::ServerHandle,
    server_db: std::path::PathBuf,
    workstation: Ledger,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let server_db = dir.path().join("server.sqlite");
    let mut server = Ledger::open(&server_db).unwrap();
    server.init("SRV", "").unwrap();
    let code = sync::new_enrolment_code(&mut server, "S01").unwrap();
    let handle = sync::serve(server, "127.0.0.1:0", false).unwrap();
    let mut workstation = Ledger::open(&dir.path().join("ws.sqlite")).unwrap();
    workstation.init("S01", "").unwrap();
    let url = format!("http://{}", handle.addr());
    let access = std::sync::Mutex::new(workstation);
    sync::enrol(&access, &url, &code).unwrap();
    let mut workstation = access.into_inner().unwrap();
    workstation
        .add_location(&NewLocation {
            code: "MAIN".into(),
            name: "中心库".into(),
            name_en: "Main".into(),
            kind: LocationKind::Storeroom,
            department: None,
            min_temp_c: None,
            max_temp_c: None,
        })
        .unwrap();
    Setup { _dir: dir, server: handle, server_db, workstation }
}

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(body).unwrap();
    gz.finish().unwrap()
}

fn post(s: &Setup, path: &str, token: Option<&str>, body: Vec<u8>) -> (u16, Value) {
    let client = reqwest::blocking::Client::new();
    let mut request = client
        .post(format!("http://{}/{path}", s.server.addr()))
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(gzip(&body));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().unwrap();
    let status = response.status().as_u16();
    let value = response.json().unwrap_or(Value::Null);
    (status, value)
}

fn push_body(s: &Setup, versions: Value) -> Vec<u8> {
    let events: Vec<Event> = s.workstation.outbox(100).unwrap().events;
    let mut body = json!({ "events": events });
    for (k, v) in versions.as_object().unwrap() {
        body[k] = v.clone();
    }
    serde_json::to_vec(&body).unwrap()
}

fn server_locations(s: &Setup) -> i64 {
    let conn = rusqlite::Connection::open(&s.server_db).unwrap();
    conn.query_row("SELECT count(*) FROM locations", [], |r| r.get(0)).unwrap()
}

fn ours() -> Value {
    let v = Versions::ours();
    json!({ "protocol": v.protocol, "schema": v.schema })
}

#[test]
fn each_refusal_has_its_code_and_applies_nothing() {
    let s = setup();
    let token = s.workstation.sync_link().unwrap().unwrap().token;
    // Wrong or missing token.
    let (status, body) = post(&s, "v1/push", Some("not-a-token"), push_body(&s, ours()));
    assert_eq!((status, body["code"].as_str()), (401, Some("unauthenticated")));
    let (status, body) = post(
        &s,
        "v1/pull",
        None,
        serde_json::to_vec(&json!({"protocol": 1, "schema": WIRE_SCHEMA, "cursor": 0, "limit": 10})).unwrap(),
    );
    assert_eq!((status, body["code"].as_str()), (401, Some("unauthenticated")));
    // Another protocol, another schema.
    for versions in [json!({"protocol": 99, "schema": WIRE_SCHEMA}), json!({"protocol": 1, "schema": WIRE_SCHEMA + 1})]
    {
        let (status, body) = post(&s, "v1/push", Some(&token), push_body(&s, versions));
        assert_eq!((status, body["code"].as_str()), (409, Some("incompatible_version")), "{body}");
        assert!(body["message"].as_str().unwrap().contains("schema"));
    }
    // Not JSON; JSON of the wrong shape; an event with a field no item has.
    let (status, body) = post(&s, "v1/push", Some(&token), b"{not json".to_vec());
    assert_eq!((status, body["code"].as_str()), (400, Some("malformed")));
    let mut wrong = ours();
    wrong["events"] = json!([{"event": "movement", "id": 5}]);
    let (status, body) = post(&s, "v1/push", Some(&token), serde_json::to_vec(&wrong).unwrap());
    assert_eq!((status, body["code"].as_str()), (400, Some("malformed")));
    let mut events: Vec<Event> = s.workstation.outbox(100).unwrap().events;
    let good = events.clone();
    if let Some(Event::Master(c)) = events.iter_mut().rev().find(|e| matches!(e, Event::Master(_))) {
        c.fields.insert("password".into(), json!("x"));
    }
    let mut forged = ours();
    forged["events"] = serde_json::to_value(&events).unwrap();
    let (status, body) = post(&s, "v1/push", Some(&token), serde_json::to_vec(&forged).unwrap());
    assert_eq!((status, body["code"].as_str()), (400, Some("malformed")), "{body}");
    // Events of another node.
    let mut foreign = good.clone();
    if let Some(Event::Master(c)) = foreign.iter_mut().find(|e| matches!(e, Event::Master(_))) {
        c.node_id = uuid::Uuid::now_v7();
    }
    let mut body = ours();
    body["events"] = serde_json::to_value(&foreign).unwrap();
    let (status, answer) = post(&s, "v1/push", Some(&token), serde_json::to_vec(&body).unwrap());
    assert_eq!((status, answer["code"].as_str()), (400, Some("malformed")), "{answer}");
    // Oversized (after decompression: a small gzip of a huge body is refused too).
    let mut huge = format!(r#"{{"protocol":1,"schema":{WIRE_SCHEMA},"events":[],"pad":""#).into_bytes();
    huge.extend(std::iter::repeat_n(b'a', BODY_MAX_BYTES + 10));
    huge.extend_from_slice(b"\"}");
    let (status, _) = post(&s, "v1/push", Some(&token), huge);
    assert_eq!(status, 413);
    assert_eq!(server_locations(&s), 0, "nothing of a refused request landed");
    // The same batch, well formed: lands.
    let mut body = ours();
    body["events"] = serde_json::to_value(&good).unwrap();
    let (status, answer) = post(&s, "v1/push", Some(&token), serde_json::to_vec(&body).unwrap());
    assert_eq!(status, 200, "{answer}");
    assert_eq!(server_locations(&s), 1);
}

#[test]
fn a_revoked_node_is_refused_and_the_client_says_so() {
    let s = setup();
    {
        let mut server = Ledger::open(&s.server_db).unwrap();
        assert_eq!(server.server_revoke("S01").unwrap(), 1);
    }
    let access = std::sync::Mutex::new(s.workstation);
    let err = sync::sync_once(&access, &mut |_, _| {}).unwrap_err();
    assert_eq!(err.code(), "revoked");
    assert!(err.message(Lang::Zh).contains("停用"));
    let conn = rusqlite::Connection::open(&s.server_db).unwrap();
    let locations: i64 = conn.query_row("SELECT count(*) FROM locations", [], |r| r.get(0)).unwrap();
    assert_eq!(locations, 0);
    let link = access.lock().unwrap().sync_link().unwrap().unwrap();
    assert!(link.last_error.unwrap().contains("revoked"), "the status area shows why");
}
