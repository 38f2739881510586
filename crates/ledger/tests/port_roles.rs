//! Port roles: what each serial port of the workstation is for, kept by the
//! device's identity; bad settings are refused and write nothing; only who
//! may change master data may set them.

mod common;
use common::*;
use ledger::*;

fn scanner(identity: &str) -> PortRole {
    PortRole {
        identity: identity.into(),
        path: "/dev/ttyACM0".into(),
        role: "scanner".into(),
        baud: 9600,
        terminator: "cr".into(),
        prefix: String::new(),
        description: "Honeywell 1950g".into(),
    }
}

#[test]
fn a_port_role_is_kept_by_identity_and_changed_in_place() {
    let mut h = hospital();
    h.ledger.set_port_role("boss", &scanner("usb:0c2e:0b61:A1")).unwrap();
    let moved = PortRole { path: "/dev/ttyACM1".into(), terminator: "crlf".into(), ..scanner("usb:0c2e:0b61:A1") };
    h.ledger.set_port_role("boss", &moved).unwrap();
    assert_eq!(h.ledger.port_roles().unwrap(), vec![moved]);
    assert!(h.ledger.remove_port_role("boss", "usb:0c2e:0b61:A1").unwrap());
    assert!(!h.ledger.remove_port_role("boss", "usb:0c2e:0b61:A1").unwrap());
    assert!(h.ledger.port_roles().unwrap().is_empty());
}

#[test]
fn bad_port_roles_are_refused_and_write_nothing() {
    let mut h = hospital();
    let cases: Vec<(&str, PortRole, &str)> = vec![
        ("a clerk", scanner("usb:1:2:3"), "forbidden"),
        ("no port", PortRole { identity: " ".into(), ..scanner("x") }, "invalid_input"),
        ("unknown role", PortRole { role: "printer".into(), ..scanner("usb:1:2:3") }, "invalid_input"),
        ("baud", PortRole { baud: 12, ..scanner("usb:1:2:3") }, "invalid_input"),
        ("terminator", PortRole { terminator: "etx".into(), ..scanner("usb:1:2:3") }, "invalid_input"),
        ("control prefix", PortRole { prefix: "\u{2}".into(), ..scanner("usb:1:2:3") }, "invalid_input"),
        (
            "long path",
            PortRole { path: "p".repeat(port_roles::PORT_TEXT_MAX + 1), ..scanner("usb:1:2:3") },
            "invalid_input",
        ),
    ];
    let before = snapshot(&h.ledger);
    for (name, role, code) in cases {
        let user = if name == "a clerk" { "wang" } else { "boss" };
        let error = h.ledger.set_port_role(user, &role).unwrap_err();
        assert_eq!(error.code(), code, "{name}: {error}");
    }
    assert_eq!(snapshot(&h.ledger), before);
    assert!(h.ledger.port_roles().unwrap().is_empty());
}

#[test]
fn a_workstation_keeps_at_most_the_limit_of_port_roles() {
    let mut h = hospital();
    for n in 0..port_roles::PORT_ROLES_MAX {
        h.ledger.set_port_role("boss", &scanner(&format!("/dev/ttyS{n}"))).unwrap();
    }
    // Changing one at the limit is fine; adding one more is not.
    h.ledger.set_port_role("boss", &PortRole { baud: 115_200, ..scanner("/dev/ttyS0") }).unwrap();
    let error = h.ledger.set_port_role("boss", &scanner("/dev/ttyS999")).unwrap_err();
    assert_eq!(error.code(), "invalid_input");
    assert_eq!(h.ledger.port_roles().unwrap().len(), port_roles::PORT_ROLES_MAX);
}
