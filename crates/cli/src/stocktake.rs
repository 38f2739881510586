//! `medledger stocktake …`: start a stocktake, record scans (anything
//! `barcode parse` reads, or an item code with --lot/--serial), import a
//! batch scanner's dump, review the variance, ask for recounts, post.

use crate::{fail, print_json, print_rows, print_view, Failure};
use clap::Subcommand;
use ledger::*;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum StocktakeCommand {
    /// Start a stocktake (盘点单) over locations (repeat --location; none = every location).
    Start {
        #[arg(long = "location")]
        locations: Vec<String>,
        /// Item categories in scope (repeatable; none = every category).
        #[arg(long = "category")]
        categories: Vec<String>,
        /// Counters never see expected quantities.
        #[arg(long)]
        blind: bool,
        /// A difference of more units than this asks for a recount.
        #[arg(long)]
        tolerance_quantity: Option<i64>,
        /// A difference worth more than this (CNY) asks for a recount.
        #[arg(long)]
        tolerance_value: Option<String>,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Record one observation: a scan adds one unit; --qty N records N for the key.
    Scan {
        /// Stocktake number or id.
        stocktake: String,
        /// The scanned barcode (GS1, HIBC, MA code, or an item code).
        #[arg(long, conflicts_with = "item")]
        data: Option<String>,
        /// Item code instead of a barcode.
        #[arg(long, required_unless_present = "data")]
        item: Option<String>,
        #[arg(long)]
        lot: Option<String>,
        #[arg(long)]
        serial: Option<String>,
        /// Expiry of a lot the ledger does not know yet.
        #[arg(long)]
        expiry: Option<chrono::NaiveDate>,
        /// Location being counted (needed when the stocktake covers several).
        #[arg(long)]
        location: Option<String>,
        /// The counted quantity for this key (instead of one unit).
        #[arg(long, allow_hyphen_values = true)]
        qty: Option<i64>,
    },
    /// Import a batch scanner's dump: one barcode per line, optional quantity and time (all lines or none).
    Import {
        stocktake: String,
        file: PathBuf,
        /// Location being counted (needed when the stocktake covers several).
        #[arg(long)]
        location: Option<String>,
        /// The scanner's UTC offset in minutes for times without one (default: this computer's).
        #[arg(long, allow_hyphen_values = true)]
        utc_offset: Option<i32>,
    },
    /// Download a batch-memory handheld scanner's stored scans into the stocktake (all or none).
    Download {
        stocktake: String,
        /// The handheld's cradle or cable.
        #[arg(long)]
        port: String,
        #[arg(long, default_value_t = 9600)]
        baud: u32,
        /// The download is over when the line has been quiet this long, ms.
        #[arg(long, default_value_t = 2000)]
        idle_ms: u64,
        /// Give up when nothing arrives within this many seconds.
        #[arg(long, default_value_t = 60)]
        wait_seconds: u64,
        #[arg(long)]
        location: Option<String>,
        #[arg(long, allow_hyphen_values = true)]
        utc_offset: Option<i32>,
    },
    /// Undo the acting user's last observation.
    Undo { stocktake: String },
    /// Progress and the acting user's last scans.
    Show { stocktake: String },
    /// Stocktakes, newest first.
    List {
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// The variance table (expected at count time, counted, difference, value).
    Variance { stocktake: String },
    /// Send a key back for a recount.
    Recount {
        stocktake: String,
        #[arg(long)]
        item: String,
        #[arg(long)]
        lot: Option<String>,
        #[arg(long)]
        serial: Option<String>,
        #[arg(long)]
        location: String,
    },
    /// Close counting: only keys sent for a recount take scans from now on.
    Review { stocktake: String },
    /// Post: count movements at each key's last scan (manager).
    Post {
        stocktake: String,
        /// Keys in scope that nobody counted are counted as zero, as of the end of
        /// counting (`finish`) if it ended before: stock received since stays.
        #[arg(long)]
        close_scope: bool,
        /// Accept first counts beyond the tolerance without a recount.
        #[arg(long)]
        accept_over_tolerance: bool,
    },
    /// Abandon the stocktake (manager); stock is untouched.
    Cancel { stocktake: String },
}

/// Reads a scanned text into what it counts: a GS1/HIBC/MA barcode's item,
/// lot, serial and expiry, or text that is exactly an item code.
pub fn read_barcode(ledger: &Ledger, data: &str) -> ledger::Result<CountEntry> {
    let options = crate::barcode::options(Lang::En, &[], false);
    let plain = data.trim_matches(|c: char| c.is_whitespace() || c == '\u{1d}');
    match udi::parse(data, &options) {
        Ok(scan) if scan.is_ambiguous() => Err(LedgerError::UnreadableBarcode {
            data: plain.to_string(),
            reason_zh: "条码可以读成几种不同的批号或序列号（扫描枪丢失了分隔符）。请在界面上选择，或手工输入。".into(),
            reason_en: "it reads as several different lots or serials (the scanner lost a separator). Choose on screen or type it.".into(),
        }),
        Ok(scan) => {
            let reading = scan.reading;
            let mut item = None;
            for identifier in [reading.di.as_deref(), reading.gtin.as_deref()].into_iter().flatten() {
                if ledger.item(identifier).is_ok() {
                    item = Some(identifier.to_string());
                    break;
                }
            }
            let item = match item {
                Some(item) => item,
                None if ledger.item(plain).is_ok() => return Ok(plain_entry(plain, data)),
                None => {
                    let named = reading.di.or(reading.gtin).unwrap_or_else(|| plain.to_string());
                    return Err(LedgerError::UnknownItem(named));
                }
            };
            Ok(CountEntry {
                item,
                lot: reading.lot,
                serial: reading.serial,
                expiry: reading.expiry,
                barcode: data.to_string(),
                ..CountEntry::default()
            })
        }
        Err(_) if ledger.item(plain).is_ok() => Ok(plain_entry(plain, data)),
        Err(error) => Err(LedgerError::UnreadableBarcode {
            data: plain.to_string(),
            reason_zh: error.message(udi::Lang::Zh),
            reason_en: error.message(udi::Lang::En),
        }),
    }
}

/// Text that is exactly an item code (an old internal label): one unit of that item.
fn plain_entry(code: &str, data: &str) -> CountEntry {
    CountEntry { item: code.to_string(), barcode: data.to_string(), ..CountEntry::default() }
}

/// Records a batch scanner's lines (a file, or a download): each line's barcode
/// read as a scan, every line or none.
fn import_text(
    ledger: &mut Ledger,
    stocktake: &str,
    user: &str,
    text: &str,
    location: &Option<String>,
    utc_offset: Option<i32>,
) -> ledger::Result<ImportSummary> {
    let offset = utc_offset.unwrap_or_else(|| chrono::Local::now().offset().local_minus_utc() / 60);
    let lines = parse_import(text, offset)?;
    let mut entries = Vec::with_capacity(lines.len());
    for line in &lines {
        let entry = read_barcode(ledger, &line.data)
            .map(|entry| CountEntry { location: location.clone(), ..entry })
            .map_err(|error| LedgerError::ImportLine { line: line.line, error: Box::new(error) })?;
        entries.push(entry);
    }
    let mut next = entries.into_iter();
    ledger.import_counts(stocktake, user, &lines, &mut |_| Ok(next.next().unwrap_or_default()))
}

pub fn run(ledger: &mut Ledger, command: &StocktakeCommand, user: &str, json: bool, lang: Lang) -> Result<(), Failure> {
    let f = |e: LedgerError| fail(e, lang);
    match command {
        StocktakeCommand::Start { locations, categories, blind, tolerance_quantity, tolerance_value, note } => {
            let started = ledger
                .start_stocktake(&StocktakeRequest {
                    user: user.to_string(),
                    locations: locations.clone(),
                    categories: categories.clone(),
                    blind: *blind,
                    tolerance_quantity: *tolerance_quantity,
                    tolerance_value: tolerance_value.clone(),
                    note: note.clone(),
                })
                .map_err(f)?;
            print_view(&started, json, || format!("{} started ({})", started.number, started.id))
        }
        StocktakeCommand::Scan { stocktake, data, item, lot, serial, expiry, location, qty } => {
            let mut entry = match data {
                Some(data) => read_barcode(ledger, data).map_err(f)?,
                None => CountEntry {
                    item: item.clone().unwrap_or_default(),
                    lot: lot.clone(),
                    serial: serial.clone(),
                    expiry: *expiry,
                    ..CountEntry::default()
                },
            };
            entry.user = user.to_string();
            entry.location = location.clone();
            entry.quantity = *qty;
            if lot.is_some() {
                entry.lot = lot.clone();
            }
            if serial.is_some() {
                entry.serial = serial.clone();
            }
            let recorded = ledger.record_count(stocktake, &entry).map_err(f)?;
            print_view(&recorded, json, || observation_line(&recorded))
        }
        StocktakeCommand::Import { stocktake, file, location, utc_offset } => {
            let text = std::fs::read(file).map_err(|e| f(LedgerError::Io(e)))?;
            let text = String::from_utf8(text)
                .map_err(|_| f(LedgerError::InvalidInput { field: "file", reason: "not UTF-8 text".into() }))?;
            let summary = import_text(ledger, stocktake, user, &text, location, *utc_offset).map_err(f)?;
            print_view(&summary, json, || format!("{} observations, {} units", summary.observations, summary.units))
        }
        StocktakeCommand::Download { stocktake, port, baud, idle_ms, wait_seconds, location, utc_offset } => {
            let (lines, garbage) = devices::scanner::download(
                port,
                *baud,
                devices::scanner::ScannerConfig::default(),
                std::time::Duration::from_millis(*idle_ms),
                std::time::Duration::from_secs(*wait_seconds),
            )
            .map_err(|e| {
                let lang = if lang == Lang::En { devices::error::Lang::En } else { devices::error::Lang::Zh };
                Failure { user_error: false, message: format!("[{}] {}", e.code(), e.message(lang)) }
            })?;
            if garbage > 0 {
                eprintln!("medledger: {garbage} unreadable line(s) from {port} were left out");
            }
            let summary = import_text(ledger, stocktake, user, &lines.join("\n"), location, *utc_offset).map_err(f)?;
            print_view(&summary, json, || format!("{} observations, {} units", summary.observations, summary.units))
        }
        StocktakeCommand::Undo { stocktake } => {
            let undone = ledger.undo_count(stocktake, user).map_err(f)?;
            match &undone {
                Some(o) => print_view(&undone, json, || format!("undone: {}", observation_line(o))),
                None => print_view(&undone, json, || "nothing to undo".to_string()),
            }
        }
        StocktakeCommand::Show { stocktake } => {
            let view = ledger.stocktake(stocktake, user).map_err(f)?;
            print_view(&view, json, || {
                let mut text = format!(
                    "{} {} — {} of {} keys counted, {} observations",
                    view.number,
                    view.status.as_str(),
                    view.keys_counted,
                    view.keys_in_scope,
                    view.observations
                );
                for o in &view.last_scans {
                    text.push_str(&format!("\n  {}", observation_line(o)));
                }
                text
            })
        }
        StocktakeCommand::List { limit } => {
            let rows = ledger.stocktakes(*limit).map_err(f)?;
            print_rows(&rows, json, |s| {
                format!(
                    "{} {:<9} {} {}",
                    s.number,
                    s.status.as_str(),
                    if s.blind { "blind" } else { "open " },
                    s.locations.join(",")
                )
            })
        }
        StocktakeCommand::Variance { stocktake } => {
            let report = ledger.stocktake_variance(stocktake, user).map_err(f)?;
            if json {
                return print_json(&report);
            }
            println!(
                "{} {} — {} of {} keys counted, {} need a recount, {} beyond tolerance, value {}",
                report.number,
                report.status.as_str(),
                report.keys_counted,
                report.keys_in_scope,
                report.keys_needing_recount,
                report.keys_over_tolerance,
                report.total_value
            );
            for r in &report.rows {
                let flags: Vec<String> = r
                    .flags
                    .iter()
                    .map(|f| {
                        serde_json::to_value(f).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
                    })
                    .collect();
                println!(
                    "{:<16} lot {:<12} sn {:<10} {:<10} expected {:>6} counted {:>6} diff {:>6} value {:>10} {}",
                    r.code,
                    r.lot.as_deref().unwrap_or("-"),
                    r.serial.as_deref().unwrap_or("-"),
                    r.location,
                    r.expected,
                    r.counted.map(|c| c.to_string()).unwrap_or_else(|| "-".into()),
                    r.difference.map(|d| format!("{d:+}")).unwrap_or_else(|| "-".into()),
                    r.value.as_deref().unwrap_or("-"),
                    flags.join(",")
                );
            }
            Ok(())
        }
        StocktakeCommand::Recount { stocktake, item, lot, serial, location } => {
            let key =
                RecountKey { item: item.clone(), lot: lot.clone(), serial: serial.clone(), location: location.clone() };
            let keys = ledger.request_recount(stocktake, user, &[key]).map_err(f)?;
            print_view(&serde_json::json!({ "keys": keys }), json, || format!("{keys} key(s) sent for a recount"))
        }
        StocktakeCommand::Review { stocktake } => {
            ledger.finish_counting(stocktake, user).map_err(f)?;
            print_view(&serde_json::json!({ "status": "review" }), json, || "counting closed".to_string())
        }
        StocktakeCommand::Post { stocktake, close_scope, accept_over_tolerance } => {
            let request = PostStocktakeRequest {
                user: user.to_string(),
                close_scope: *close_scope,
                accept_over_tolerance: *accept_over_tolerance,
            };
            let posted = ledger.post_stocktake(stocktake, &request).map_err(f)?;
            print_view(&posted, json, || {
                format!(
                    "{} posted: {} count movement(s), {} zeroed, {} left as they were, {} serial unit(s) counted as zero where the books had them (found elsewhere)",
                    posted.number, posted.movements, posted.zeroed, posted.untouched, posted.found_elsewhere
                )
            })
        }
        StocktakeCommand::Cancel { stocktake } => {
            ledger.cancel_stocktake(stocktake, user).map_err(f)?;
            print_view(&serde_json::json!({ "status": "cancelled" }), json, || "cancelled".to_string())
        }
    }
}

fn observation_line(o: &ObservationView) -> String {
    format!(
        "{} {} lot {} sn {} {} {:+} ({}) → {}",
        o.code,
        o.name,
        o.lot.as_deref().unwrap_or("-"),
        o.serial.as_deref().unwrap_or("-"),
        o.location,
        o.quantity,
        o.source,
        o.key_total
    )
}
