//! A small hospital for the ledger's tests: a real SQLite file in a temporary
//! folder, a manual clock at 2026-11-25, seeded ids, and master data.
#![allow(dead_code)]

use chrono::NaiveDate;
use ledger::*;
use rust_decimal::Decimal;

pub const SYRINGE: &str = "09506000134352";
pub const STENT: &str = "06901234567892";
pub const REAGENT: &str = "06901234567908";

pub struct Hospital {
    pub ledger: Ledger,
    pub clock: ManualClock,
    pub dir: tempfile::TempDir,
}

pub fn date(text: &str) -> NaiveDate {
    text.parse().expect("test date")
}

pub fn today() -> NaiveDate {
    date("2026-11-25")
}

/// An initialised ledger with locations, a department, a supplier, users and items.
pub fn hospital() -> Hospital {
    hospital_with_seed(1)
}

pub fn hospital_with_seed(seed: u64) -> Hospital {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = ManualClock::at_date(today());
    clock.advance_ms(9 * 3_600_000);
    let mut ledger = Ledger::open_with(
        &dir.path().join("ledger.sqlite"),
        Box::new(clock.clone()),
        Box::new(RandomIds::seeded(seed)),
    )
    .expect("open");
    ledger.init("S01", "test").expect("init");
    for (code, kind) in
        [("MAIN", LocationKind::Storeroom), ("ICU-STORE", LocationKind::Department), ("COLD", LocationKind::Cold)]
    {
        ledger
            .add_location(&NewLocation {
                code: code.into(),
                name: code.into(),
                name_en: code.into(),
                kind,
                department: None,
                min_temp_c: None,
                max_temp_c: None,
            })
            .expect("location");
    }
    ledger.add_department("ICU", "重症医学科", "ICU", "CC-1", Some(Decimal::new(100_000, 0))).expect("department");
    ledger.add_supplier("SUP1", "国药", "Sinopharm", "").expect("supplier");
    for (username, role) in
        [("wang", Role::Clerk), ("boss", Role::Manager), ("audit", Role::Auditor), ("counter", Role::Stocktaker)]
    {
        ledger
            .add_user(&NewUser { username: username.into(), display_name: username.into(), role, language: Lang::En })
            .expect("user");
    }
    ledger
        .add_item(&NewItem {
            code: SYRINGE.into(),
            name: "一次性使用无菌注射器".into(),
            name_en: "Syringe 5 ml".into(),
            unit: "支".into(),
            pack_size: 100,
            unit_price: Some(Decimal::new(38, 2)),
            extra_identifiers: vec!["+A99912345/$$52001510X3".into()],
            ..NewItem::default()
        })
        .expect("syringe");
    ledger
        .add_item(&NewItem {
            code: STENT.into(),
            name: "药物洗脱支架".into(),
            name_en: "Drug-eluting stent".into(),
            unit: "个".into(),
            pack_size: 1,
            serialized: true,
            implantable: true,
            ..NewItem::default()
        })
        .expect("stent");
    ledger
        .add_item(&NewItem {
            code: REAGENT.into(),
            name: "试剂盒".into(),
            name_en: "Reagent kit".into(),
            unit: "盒".into(),
            pack_size: 1,
            cold_chain: true,
            min_temp_c: Some(Decimal::new(2, 0)),
            max_temp_c: Some(Decimal::new(8, 0)),
            ..NewItem::default()
        })
        .expect("reagent");
    Hospital { ledger, clock, dir }
}

pub fn line(item: &str, lot: Option<&str>, expiry: Option<&str>, quantity: i64) -> LineRequest {
    LineRequest {
        item: item.into(),
        lot: lot.map(Into::into),
        expiry: expiry.map(date),
        quantity,
        ..LineRequest::default()
    }
}

pub fn serial_line(item: &str, lot: &str, serial: &str) -> LineRequest {
    LineRequest {
        item: item.into(),
        lot: Some(lot.into()),
        expiry: Some(date("2029-01-01")),
        serial: Some(serial.into()),
        quantity: 1,
        ..LineRequest::default()
    }
}

pub fn request(kind: DocumentKind, user: &str, location: &str, lines: Vec<LineRequest>) -> DocumentRequest {
    DocumentRequest {
        kind,
        user: user.into(),
        location: location.into(),
        to_location: None,
        department: (kind == DocumentKind::Issue).then(|| "ICU".into()),
        supplier: None,
        lines,
        note: String::new(),
        override_: None,
    }
}

pub fn receive(h: &mut Hospital, item: &str, lot: &str, expiry: &str, quantity: i64) -> PostedRef {
    h.ledger
        .post(&request(DocumentKind::Receipt, "wang", "MAIN", vec![line(item, Some(lot), Some(expiry), quantity)]))
        .expect("receive")
}

/// Every row of every table, as text: equal snapshots mean nothing was written.
pub fn snapshot(ledger: &Ledger) -> String {
    let conn = ledger.connection();
    let mut out = String::new();
    for table in [
        "node",
        "users",
        "suppliers",
        "departments",
        "locations",
        "items",
        "item_identifiers",
        "lots",
        "documents",
        "document_lines",
        "balances",
        "movements",
    ] {
        let mut stmt = conn.prepare(&format!("SELECT * FROM {table} ORDER BY 1")).expect("select");
        let columns = stmt.column_count();
        let mut rows = stmt.query([]).expect("query");
        while let Some(row) = rows.next().expect("row") {
            out.push_str(table);
            for i in 0..columns {
                let value: rusqlite::types::Value = row.get(i).expect("value");
                out.push_str(&format!("|{value:?}"));
            }
            out.push('\n');
        }
    }
    out
}

/// Available quantity of one key at a location (summing statuses is not wanted here).
pub fn on_hand(ledger: &Ledger, item: &str, lot: Option<&str>, location: &str) -> i64 {
    ledger
        .stock(&StockFilter { location: Some(location.into()), search: None, include_zero: true })
        .expect("stock")
        .into_iter()
        .filter(|r| r.item.code == item && r.lot.as_deref() == lot && r.status == StockStatus::Available)
        .map(|r| r.quantity)
        .sum()
}

/// The rows of each query, as text, in order.
pub fn rows(ledger: &Ledger, queries: &[&str]) -> String {
    let conn = ledger.connection();
    let mut out = String::new();
    for sql in queries {
        let mut stmt = conn.prepare(sql).expect("select");
        let columns = stmt.column_count();
        let mut rows = stmt.query([]).expect("query");
        while let Some(row) = rows.next().expect("row") {
            for i in 0..columns {
                let value: rusqlite::types::Value = row.get(i).expect("value");
                out.push_str(&format!("{value:?}|"));
            }
            out.push('\n');
        }
    }
    out
}

/// Master data as replicated (users without their local creation stamp).
pub const REPLICATED_MASTER: [&str; 7] = [
    "SELECT id, username, display_name, role, language, active FROM users ORDER BY id",
    "SELECT * FROM suppliers ORDER BY id",
    "SELECT * FROM departments ORDER BY id",
    "SELECT * FROM locations ORDER BY id",
    "SELECT * FROM items ORDER BY id",
    "SELECT * FROM item_identifiers ORDER BY identifier",
    "SELECT item_id, lot, expires_on, produced_on FROM lots ORDER BY 1, 2",
];

/// Balances without their local row ids.
pub const REPLICATED_BALANCES: &str =
    "SELECT item_id, lot, serial, location_id, status, expires_on, quantity, last_count_hlc, last_count_node
     FROM balances ORDER BY 1, 2, 3, 4, 5";

/// Everything that must be equal on nodes that have the same events
/// (local row ids such as balances.key_id left out).
pub fn replica(ledger: &Ledger) -> String {
    let mut queries: Vec<&str> = REPLICATED_MASTER.to_vec();
    queries.extend([
        "SELECT * FROM documents WHERE status = 'posted' ORDER BY id",
        "SELECT l.* FROM document_lines l JOIN documents d ON d.id = l.document_id WHERE d.status = 'posted'
         ORDER BY 1, 2",
        REPLICATED_BALANCES,
        "SELECT id, hlc, node_id, recorded_at_ms, user_id, kind, item_id, lot, serial, location_id, status, quantity,
                expected_quantity, unit_cost, department_id, supplier_id, document_id, reason, corrects, override_by, note
         FROM movements ORDER BY id",
    ]);
    rows(ledger, &queries)
}
