//! The ledger benchmark behind `medledger bench ledger`: builds a database of
//! many movements over many balance keys through the real posting path, then
//! measures, in the same run, durable single-line posting against a raw
//! rusqlite insert of an equivalent row (same file, same pragmas), bulk
//! posting, the full stock list and one lot's trace. Figures, not pass/fail.

use crate::error::Result;
use crate::master::NewLocation;
use crate::model::*;
use crate::query::StockFilter;
use crate::store::{Ledger, INITIAL_ADMIN};
use serde::Serialize;
use std::path::Path;
use std::time::{Duration, Instant};

/// What to build and how often to measure.
#[derive(Debug, Clone)]
pub struct LedgerBenchOptions {
    /// Movements in the database before measuring.
    pub movements: usize,
    /// Distinct balance keys among them.
    pub keys: usize,
    /// Single-line documents posted (and raw rows inserted) for the durability comparison.
    pub single_posts: usize,
}

impl Default for LedgerBenchOptions {
    fn default() -> Self {
        LedgerBenchOptions { movements: 1_000_000, keys: 100_000, single_posts: 2_000 }
    }
}

/// The figures.
#[derive(Debug, Clone, Serialize)]
pub struct LedgerBenchReport {
    /// Movements in the database when measuring started.
    pub movements: i64,
    /// Balance keys.
    pub balance_keys: i64,
    /// Seconds spent building the database through the posting API.
    pub build_seconds: f64,
    /// Lines per second while building (1,000-line documents).
    pub build_lines_per_second: f64,
    /// Durable single-line documents per second (one transaction each).
    pub single_post_per_second: f64,
    /// Median time of one durable single-line post, µs.
    pub single_post_median_us: f64,
    /// 99th percentile of one durable single-line post, µs.
    pub single_post_p99_us: f64,
    /// Raw rusqlite inserts of an equivalent row per second (one transaction each).
    pub raw_insert_per_second: f64,
    /// Median time of one raw insert, µs.
    pub raw_insert_median_us: f64,
    /// 99th percentile of one raw insert, µs.
    pub raw_insert_p99_us: f64,
    /// Our median time over the raw median time.
    pub post_over_raw_median_ratio: f64,
    /// Our mean time over the raw mean time (target ≤ 1.5).
    pub post_over_raw_ratio: f64,
    /// Raw inserts per second into a table with the movement table's indexes too.
    pub raw_indexed_insert_per_second: f64,
    /// Median time of one raw insert with the movement table's indexes, µs.
    pub raw_indexed_insert_median_us: f64,
    /// Our mean time over the indexed raw mean time.
    pub post_over_raw_indexed_ratio: f64,
    /// The floor under any post: the rows a single-line receipt writes (its
    /// line, the document with its number, the movement with its indexes, the
    /// key's cached balance) in plain prepared SQL on the same database, one
    /// durable transaction each, with no lookups or checks. Per second.
    pub floor_per_second: f64,
    /// Median time of one such floor transaction, µs.
    pub floor_median_us: f64,
    /// The floor's mean time over the raw mean time: the best ratio a post writing these rows can reach.
    pub floor_over_raw_ratio: f64,
    /// Our mean time over the floor's: what our checks and lookups add.
    pub post_over_floor_ratio: f64,
    /// Lines per second posting one 1,000-line receipt (median of 3).
    pub receipt_1000_lines_per_second: f64,
    /// Stock rows listed.
    pub stock_rows: usize,
    /// Time to list all on-hand stock, ms (median of 5; target < 50).
    pub stock_list_ms: f64,
    /// Movements in the traced lot.
    pub trace_rows: usize,
    /// Time to trace one lot, ms (median of 50; target < 5).
    pub trace_ms: f64,
}

const BENCH_LINES: usize = 1_000;
const LOTS_PER_ITEM: usize = 100;

fn median(samples: Vec<Duration>) -> Duration {
    percentile(samples, 50)
}

fn percentile(mut samples: Vec<Duration>, p: usize) -> Duration {
    samples.sort();
    samples[(samples.len() * p / 100).min(samples.len() - 1)]
}

fn receipt(lines: Vec<LineRequest>) -> DocumentRequest {
    DocumentRequest {
        kind: DocumentKind::Receipt,
        user: INITIAL_ADMIN.into(),
        location: "MAIN".into(),
        to_location: None,
        department: None,
        supplier: None,
        lines,
        note: String::new(),
        override_: None,
    }
}

/// A new ledger with one storeroom, MAIN, and (as in the app) checkpoints
/// running beside posting, not inside a commit.
fn storeroom(path: &Path) -> Result<(Ledger, crate::store::Checkpointer)> {
    let mut ledger = Ledger::open(path)?;
    ledger.init("B01", "bench")?;
    let checkpointer = ledger.start_checkpointer()?;
    ledger.add_location(&NewLocation {
        code: "MAIN".into(),
        name: "中心库".into(),
        name_en: "Central storeroom".into(),
        kind: LocationKind::Storeroom,
        department: None,
        min_temp_c: None,
        max_temp_c: None,
    })?;
    Ok((ledger, checkpointer))
}

/// Runs the benchmark in `dir` (a scratch folder the caller removes), reporting progress.
pub fn run(dir: &Path, options: &LedgerBenchOptions, progress: &mut dyn FnMut(&str)) -> Result<LedgerBenchReport> {
    let (mut ledger, _checkpointer) = storeroom(&dir.join("bench.sqlite"))?;
    ledger.add_department("ICU", "重症医学科", "ICU", "", None)?;
    let keys = options.keys.max(LOTS_PER_ITEM);
    let items = keys.div_ceil(LOTS_PER_ITEM);
    for i in 0..items {
        ledger.add_item(&NewItem {
            code: format!("BENCH{i:06}"),
            name: format!("测试耗材 {i}"),
            pack_size: 1,
            ..NewItem::default()
        })?;
    }
    let key_line = |k: usize, quantity: i64| LineRequest {
        item: format!("BENCH{:06}", k / LOTS_PER_ITEM),
        lot: Some(format!("L{:06}-{:03}", k / LOTS_PER_ITEM, k % LOTS_PER_ITEM)),
        expiry: Some(chrono::NaiveDate::from_ymd_opt(2030, 1, 1 + (k % 28) as u32).expect("valid date")),
        quantity,
        ..LineRequest::default()
    };
    // Build: first a receipt of every key, then alternate issues and receipts
    // over the keys until the movement count is reached.
    let started = Instant::now();
    let mut written = 0usize;
    let mut round = 0usize;
    while written < options.movements {
        let mut cursor = 0;
        while cursor < keys && written < options.movements {
            let end = (cursor + BENCH_LINES).min(keys).min(cursor + options.movements - written);
            let lines: Vec<LineRequest> =
                (cursor..end).map(|k| key_line(k, if round == 0 { 1_000 } else { 10 })).collect();
            let mut request = receipt(lines);
            if round % 2 == 1 {
                request.kind = DocumentKind::Issue;
                request.department = Some("ICU".into());
            }
            ledger.post(&request)?;
            written += end - cursor;
            cursor = end;
            if written % 100_000 < BENCH_LINES {
                progress(&format!("built {written} / {} movements", options.movements));
            }
        }
        round += 1;
    }
    let build = started.elapsed();

    // Durable single-line posting versus raw inserts, interleaved so both see
    // the same machine state; the raw table has the movement row's shape and key.
    const RAW_COLUMNS: &str = "(id BLOB PRIMARY KEY, hlc INTEGER NOT NULL, node_id BLOB NOT NULL,
            recorded_at_ms INTEGER NOT NULL, user_id BLOB NOT NULL, kind TEXT NOT NULL, item_id BLOB NOT NULL,
            lot TEXT NOT NULL, serial TEXT NOT NULL, location_id BLOB NOT NULL, status TEXT NOT NULL,
            quantity INTEGER NOT NULL, expected_quantity INTEGER, unit_cost TEXT, department_id BLOB,
            supplier_id BLOB, document_id BLOB, reason TEXT, corrects BLOB, override_by BLOB, note TEXT NOT NULL,
            key_id INTEGER NOT NULL) WITHOUT ROWID";
    ledger.connection().execute_batch(&format!(
        "CREATE TABLE bench_raw_indexed {RAW_COLUMNS};
         CREATE INDEX bench_raw_indexed_key ON bench_raw_indexed(key_id, hlc, node_id);
         CREATE INDEX bench_raw_indexed_hlc ON bench_raw_indexed(hlc, node_id);
         CREATE INDEX bench_raw_indexed_document ON bench_raw_indexed(document_id);
         CREATE INDEX bench_raw_indexed_lot ON bench_raw_indexed(lot) WHERE lot <> '';"
    ))?;
    ledger.connection().execute_batch(
        "CREATE TABLE bench_raw_movements (id BLOB PRIMARY KEY, hlc INTEGER NOT NULL, node_id BLOB NOT NULL,
            recorded_at_ms INTEGER NOT NULL, user_id BLOB NOT NULL, kind TEXT NOT NULL, item_id BLOB NOT NULL,
            lot TEXT NOT NULL, serial TEXT NOT NULL, location_id BLOB NOT NULL, status TEXT NOT NULL,
            quantity INTEGER NOT NULL, expected_quantity INTEGER, unit_cost TEXT, department_id BLOB,
            supplier_id BLOB, document_id BLOB, reason TEXT, corrects BLOB, override_by BLOB, note TEXT NOT NULL,
            key_id INTEGER NOT NULL) WITHOUT ROWID;",
    )?;
    let mut ours = Vec::with_capacity(options.single_posts);
    let mut raw = Vec::with_capacity(options.single_posts);
    let mut raw_indexed = Vec::with_capacity(options.single_posts);
    let mut floor = Vec::with_capacity(options.single_posts);
    let (user_id, location_id, node_id, floor_hlc): (uuid::Uuid, uuid::Uuid, uuid::Uuid, i64) =
        ledger.connection().query_row(
            "SELECT (SELECT id FROM users WHERE username = ?1), (SELECT id FROM locations WHERE code = 'MAIN'),
                (SELECT id FROM node), (SELECT max(hlc) FROM movements)",
            [INITIAL_ADMIN],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
    // Floor rows sort after every movement of the run (HLCs an hour ahead).
    let floor_hlc = floor_hlc + (3_600_000 << 16);
    for n in 0..options.single_posts {
        let request = receipt(vec![key_line((n * 7919) % keys, 1)]);
        let t = Instant::now();
        ledger.post(&request)?;
        ours.push(t.elapsed());

        let id = uuid::Uuid::now_v7();
        let t = Instant::now();
        let conn = ledger.connection();
        conn.execute_batch("BEGIN IMMEDIATE")?;
        conn.prepare_cached(
            "INSERT INTO bench_raw_movements (id, hlc, node_id, recorded_at_ms, user_id, kind, item_id, lot, serial,
                location_id, status, quantity, unit_cost, document_id, note, key_id)
             VALUES (?1, ?2, ?3, ?4, ?5, 'receive', ?6, ?7, '', ?8, 'available', 1, '1.00', ?9, '', ?10)",
        )?
        .execute(rusqlite::params![id, n as i64, id, n as i64, id, id, format!("L{n}"), id, id, n as i64])?;
        conn.execute_batch("COMMIT")?;
        raw.push(t.elapsed());

        let t = Instant::now();
        conn.execute_batch("BEGIN IMMEDIATE")?;
        conn.prepare_cached(
            "INSERT INTO bench_raw_indexed (id, hlc, node_id, recorded_at_ms, user_id, kind, item_id, lot, serial,
                location_id, status, quantity, unit_cost, document_id, note, key_id)
             VALUES (?1, ?2, ?3, ?4, ?5, 'receive', ?6, ?7, '', ?8, 'available', 1, '1.00', ?9, '', ?10)",
        )?
        .execute(rusqlite::params![id, n as i64, id, n as i64, id, id, format!("L{n}"), id, id, n as i64])?;
        conn.execute_batch("COMMIT")?;
        raw_indexed.push(t.elapsed());

        // The floor: a receipt line of another key, written as plain rows.
        let line = key_line((n * 7919 + 1) % keys, 1);
        let item_id: uuid::Uuid = conn.query_row("SELECT id FROM items WHERE code = ?1", [&line.item], |r| r.get(0))?;
        let lot = line.lot.clone().unwrap_or_default();
        let (doc_id, movement_id) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
        let hlc = floor_hlc + n as i64;
        let t = Instant::now();
        conn.execute_batch("BEGIN IMMEDIATE")?;
        conn.prepare_cached(
            "INSERT INTO document_lines (document_id, line_no, item_id, lot, expires_on, serial, quantity)
             VALUES (?1, 1, ?2, ?3, '2030-01-01', '', 1)",
        )?
        .execute(rusqlite::params![doc_id, item_id, lot])?;
        conn.prepare_cached(
            "INSERT INTO documents (id, kind, number, status, node_id, created_by, created_at_ms, posted_by,
                posted_hlc, posted_at_ms, location_id)
             VALUES (?1, 'receipt', ?2, 'posted', ?3, ?4, ?5, ?4, ?6, ?5, ?7)",
        )?
        .execute(rusqlite::params![
            doc_id,
            format!("FL-B01-{n:06}"),
            node_id,
            user_id,
            n as i64,
            hlc,
            location_id
        ])?;
        let key_id: i64 = conn
            .prepare_cached(
                "UPDATE balances SET quantity = quantity + 1
                 WHERE item_id = ?1 AND lot = ?2 AND serial = '' AND location_id = ?3 AND status = 'available'
                 RETURNING key_id",
            )?
            .query_row(rusqlite::params![item_id, lot, location_id], |r| r.get(0))?;
        conn.prepare_cached(
            "INSERT INTO movements (id, hlc, node_id, recorded_at_ms, user_id, kind, item_id, lot, serial,
                location_id, status, quantity, document_id, note, key_id)
             VALUES (?1, ?2, ?3, ?4, ?5, 'receive', ?6, ?7, '', ?8, 'available', 1, ?9, '', ?10)",
        )?
        .execute(rusqlite::params![
            movement_id,
            hlc,
            node_id,
            n as i64,
            user_id,
            item_id,
            lot,
            location_id,
            doc_id,
            key_id
        ])?;
        conn.execute_batch("COMMIT")?;
        floor.push(t.elapsed());
    }
    let mean = |v: &[Duration]| v.iter().sum::<Duration>().as_secs_f64() / v.len() as f64;
    let ours_mean = mean(&ours);
    let raw_mean = mean(&raw);
    let raw_indexed_mean = mean(&raw_indexed);
    let floor_mean = mean(&floor);
    progress("single-line posting measured");

    let mut bulk = Vec::new();
    for r in 0..3 {
        let lines: Vec<LineRequest> = (0..BENCH_LINES).map(|k| key_line((k * 31 + r * 17) % keys, 2)).collect();
        let t = Instant::now();
        ledger.post(&receipt(lines))?;
        bulk.push(t.elapsed());
    }
    let bulk = median(bulk);

    let mut stock_times = Vec::new();
    let mut stock_rows = 0;
    for _ in 0..5 {
        let t = Instant::now();
        stock_rows = ledger.stock(&StockFilter::default())?.len();
        stock_times.push(t.elapsed());
    }
    let mut trace_times = Vec::new();
    let mut trace_rows = 0;
    for n in 0..50 {
        let lot = format!("L{:06}-{:03}", (n * 37) % items, n % LOTS_PER_ITEM);
        let t = Instant::now();
        trace_rows = ledger.trace(&lot)?.len();
        trace_times.push(t.elapsed());
    }
    let movements: i64 = ledger.connection().query_row("SELECT count(*) FROM movements", [], |r| r.get(0))?;
    let balance_keys: i64 = ledger.connection().query_row("SELECT count(*) FROM balances", [], |r| r.get(0))?;
    Ok(LedgerBenchReport {
        movements,
        balance_keys,
        build_seconds: build.as_secs_f64(),
        build_lines_per_second: written as f64 / build.as_secs_f64(),
        single_post_per_second: 1.0 / ours_mean,
        single_post_median_us: median(ours.clone()).as_secs_f64() * 1e6,
        single_post_p99_us: percentile(ours.clone(), 99).as_secs_f64() * 1e6,
        post_over_raw_median_ratio: median(ours).as_secs_f64() / median(raw.clone()).as_secs_f64(),
        raw_insert_p99_us: percentile(raw.clone(), 99).as_secs_f64() * 1e6,
        raw_insert_per_second: 1.0 / raw_mean,
        raw_insert_median_us: median(raw).as_secs_f64() * 1e6,
        post_over_raw_ratio: ours_mean / raw_mean,
        raw_indexed_insert_per_second: 1.0 / raw_indexed_mean,
        raw_indexed_insert_median_us: median(raw_indexed).as_secs_f64() * 1e6,
        post_over_raw_indexed_ratio: ours_mean / raw_indexed_mean,
        floor_per_second: 1.0 / floor_mean,
        floor_median_us: median(floor).as_secs_f64() * 1e6,
        floor_over_raw_ratio: floor_mean / raw_mean,
        post_over_floor_ratio: ours_mean / floor_mean,
        receipt_1000_lines_per_second: BENCH_LINES as f64 / bulk.as_secs_f64(),
        stock_rows,
        stock_list_ms: median(stock_times).as_secs_f64() * 1e3,
        trace_rows,
        trace_ms: median(trace_times).as_secs_f64() * 1e3,
    })
}

/// The stocktake benchmark's figures.
#[derive(Debug, Clone, Serialize)]
pub struct StocktakeBenchReport {
    /// Keys on the books in the stocktake's scope.
    pub keys: usize,
    /// Observations recorded (one durable transaction each).
    pub scans: usize,
    /// Median time to record one scan, ms.
    pub scan_median_ms: f64,
    /// 99th percentile time to record one scan, ms (target < 5).
    pub scan_p99_ms: f64,
    /// Scans recorded per second.
    pub scans_per_second: f64,
    /// Time to build the variance table, ms (median of 5; target < 200).
    pub variance_ms: f64,
    /// Rows in the variance table.
    pub variance_rows: usize,
    /// Time to post the stocktake (one count movement per key), ms.
    pub post_ms: f64,
}

/// A stocktake of `keys` keys at one storeroom, counted with `scans` durable
/// scans (every key at least once), then its variance table and its posting.
pub fn stocktake(
    dir: &Path,
    keys: usize,
    scans: usize,
    progress: &mut dyn FnMut(&str),
) -> Result<StocktakeBenchReport> {
    let (mut ledger, _checkpointer) = storeroom(&dir.join("stocktake.sqlite"))?;
    let keys = keys.max(LOTS_PER_ITEM);
    let items = keys.div_ceil(LOTS_PER_ITEM);
    for i in 0..items {
        ledger.add_item(&NewItem {
            code: format!("BENCH{i:06}"),
            name: format!("测试耗材 {i}"),
            pack_size: 1,
            unit_price: Some(rust_decimal::Decimal::new(125, 2)),
            ..NewItem::default()
        })?;
    }
    let key_of = |k: usize| {
        (format!("BENCH{:06}", k / LOTS_PER_ITEM), format!("L{:06}-{:03}", k / LOTS_PER_ITEM, k % LOTS_PER_ITEM))
    };
    for chunk in (0..keys).collect::<Vec<_>>().chunks(BENCH_LINES) {
        let lines = chunk
            .iter()
            .map(|&k| {
                let (item, lot) = key_of(k);
                LineRequest {
                    item,
                    lot: Some(lot),
                    expiry: chrono::NaiveDate::from_ymd_opt(2030, 1, 1 + (k % 28) as u32),
                    quantity: 5,
                    ..LineRequest::default()
                }
            })
            .collect();
        ledger.post(&receipt(lines))?;
    }
    progress(&format!("{keys} keys on the books"));
    let started = ledger.start_stocktake(&crate::stocktake::StocktakeRequest {
        user: INITIAL_ADMIN.into(),
        locations: vec!["MAIN".into()],
        ..Default::default()
    })?;
    let mut times = Vec::with_capacity(scans);
    let begun = Instant::now();
    for n in 0..scans {
        // Every key once, then again in a scattered order: 5 scans a key on average.
        let k = if n < keys { n } else { (n * 7919) % keys };
        let (item, lot) = key_of(k);
        let entry = crate::stocktake::CountEntry {
            user: INITIAL_ADMIN.into(),
            item,
            lot: Some(lot),
            barcode: String::new(),
            ..Default::default()
        };
        let t = Instant::now();
        ledger.record_count(&started.id, &entry)?;
        times.push(t.elapsed());
        if (n + 1) % 10_000 == 0 {
            progress(&format!("{} / {scans} scans", n + 1));
        }
    }
    let scanning = begun.elapsed();
    let mut variance_times = Vec::new();
    let mut variance_rows = 0;
    for _ in 0..5 {
        let t = Instant::now();
        variance_rows = ledger.stocktake_variance(&started.id, INITIAL_ADMIN)?.rows.len();
        variance_times.push(t.elapsed());
    }
    let t = Instant::now();
    ledger.post_stocktake(
        &started.id,
        &crate::stocktake::PostStocktakeRequest {
            user: INITIAL_ADMIN.into(),
            close_scope: true,
            accept_over_tolerance: true,
        },
    )?;
    let post = t.elapsed();
    Ok(StocktakeBenchReport {
        keys,
        scans,
        scan_median_ms: median(times.clone()).as_secs_f64() * 1e3,
        scan_p99_ms: percentile(times, 99).as_secs_f64() * 1e3,
        scans_per_second: scans as f64 / scanning.as_secs_f64(),
        variance_ms: median(variance_times).as_secs_f64() * 1e3,
        variance_rows,
        post_ms: post.as_secs_f64() * 1e3,
    })
}
