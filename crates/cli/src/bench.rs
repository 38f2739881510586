//! `medledger bench …`: runs a benchmark from the core and prints its figures.

use clap::Subcommand;
use ledger::bench::{LedgerBenchOptions, LedgerBenchReport};
use serde::Serialize;
use std::collections::BTreeMap;
use std::hint::black_box;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use udi::gen::{self, GenElement, MessageShape, Rng};

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Ledger posting, stock list and trace on a large database.
    Ledger {
        /// Movements to build before measuring.
        #[arg(long, default_value_t = 1_000_000)]
        movements: usize,
        /// Balance keys among them.
        #[arg(long, default_value_t = 100_000)]
        keys: usize,
        /// Single-line posts (and raw inserts) to time: enough that a few
        /// slow fsyncs do not decide the mean.
        #[arg(long, default_value_t = 2_000)]
        single_posts: usize,
        /// Scratch folder (default: a temporary one, removed afterwards).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Barcode reading: throughput and latency of our engine on a mixed
    /// corpus, and biip's (an independent Python GS1 parser) throughput on
    /// the corpus's GS1 element strings and Digital Link URIs.
    Barcode {
        /// Barcodes in the corpus.
        #[arg(long, default_value_t = 100_000)]
        count: usize,
        /// Python with biip installed (default: $MEDLEDGER_PYTHON, else
        /// target/pyenv/bin/python when it exists, else python3).
        #[arg(long)]
        python: Option<PathBuf>,
        /// Do not run biip.
        #[arg(long)]
        no_biip: bool,
        /// Seed of the corpus generator.
        #[arg(long, default_value_t = 2024)]
        seed: u64,
    },
    /// Sync: workstations that worked offline converge through a server over
    /// loopback HTTP (time, rate, bytes per movement); the same movement sets
    /// merged with Automerge (the baseline); a new workstation's start from a
    /// large server's snapshot (time, peak memory).
    Sync {
        /// Workstations.
        #[arg(long, default_value_t = 4)]
        workstations: usize,
        /// Movements each makes offline.
        #[arg(long, default_value_t = 50_000)]
        movements: usize,
        /// Movements on the server a new workstation starts from (0: skip).
        #[arg(long, default_value_t = 1_000_000)]
        bootstrap_movements: usize,
        /// Skip the Automerge baseline.
        #[arg(long)]
        no_automerge: bool,
        /// Scratch folder (default: a temporary one, removed afterwards).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Devices: Modbus thermometers polled on one paced pty line (pymodbus answering)
    /// against the bus's theoretical limit, and serial scans into a durable stocktake.
    Devices {
        /// Sensors on the bus.
        #[arg(long, default_value_t = 16)]
        sensors: usize,
        /// The line's baud rate.
        #[arg(long, default_value_t = 9600)]
        baud: u32,
        /// Polling rounds over every sensor.
        #[arg(long, default_value_t = 10)]
        rounds: usize,
        /// Serial scans to time.
        #[arg(long, default_value_t = 300)]
        scans: usize,
        /// Python with pymodbus (default: $MEDLEDGER_PYTHON, else target/pyenv/bin/python).
        #[arg(long)]
        python: Option<PathBuf>,
    },
    /// A stocktake: durable scans, the variance table, posting.
    Stocktake {
        /// Keys on the books in scope.
        #[arg(long, default_value_t = 10_000)]
        keys: usize,
        /// Scans to record (every key once, the rest scattered).
        #[arg(long, default_value_t = 50_000)]
        scans: usize,
        /// Scratch folder (default: a temporary one, removed afterwards).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Printing: lot labels as one PDF and as ZPL, and an A4 receipt PDF
    /// (also its ESC/POS form and one PNG preview).
    Printing {
        /// Lot labels in the label job.
        #[arg(long, default_value_t = 1_000)]
        labels: usize,
        /// Lines of the receipt.
        #[arg(long, default_value_t = 200)]
        lines: usize,
        /// Times each output is rendered; the median is reported.
        #[arg(long, default_value_t = 5)]
        rounds: usize,
    },
}

pub fn run(command: &BenchCommand, json: bool) -> ledger::Result<()> {
    match command {
        BenchCommand::Ledger { movements, keys, single_posts, dir } => {
            let scratch = match dir {
                Some(dir) => tempfile::Builder::new().prefix("medledger-bench").tempdir_in(dir)?,
                None => tempfile::Builder::new().prefix("medledger-bench").tempdir()?,
            };
            let options =
                LedgerBenchOptions { movements: *movements, keys: *keys, single_posts: (*single_posts).max(1) };
            let report = ledger::bench::run(scratch.path(), &options, &mut |line| {
                let _ = writeln!(std::io::stderr(), "bench: {line}");
            })?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report).expect("report serialises"));
            } else {
                print_report(&report);
            }
            Ok(())
        }
        BenchCommand::Sync { workstations, movements, bootstrap_movements, no_automerge, dir } => {
            let scratch = match dir {
                Some(dir) => tempfile::Builder::new().prefix("medledger-bench").tempdir_in(dir)?,
                None => tempfile::Builder::new().prefix("medledger-bench").tempdir()?,
            };
            let report = crate::bench_sync::run(
                scratch.path(),
                (*workstations).clamp(2, 16),
                (*movements).max(10),
                *bootstrap_movements,
                !no_automerge,
                &mut |line| {
                    let _ = writeln!(std::io::stderr(), "bench: {line}");
                },
            )?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report).expect("report serialises"));
            } else {
                println!(
                    "sync benchmark: {} workstations × {} movements made offline",
                    report.workstations, report.movements_each
                );
                println!(
                    "  converge               {:.1} s ({:.1} CPU s), {:.0} movements applied/s, {:.1} bytes on the wire per movement ({} crossed)",
                    report.converge_seconds,
                    report.converge_cpu_seconds,
                    report.applied_per_second,
                    report.wire_bytes_per_movement,
                    report.movements_on_wire
                );
                if let (Some(a), Some(r)) = (report.automerge_seconds, report.ratio_vs_automerge) {
                    println!(
                        "  automerge merge        {a:.1} s for the same sets: ours is {r:.1}× as fast (target ≥ 10×)"
                    );
                }
                if let Some(f) = report.sqlite_floor_seconds {
                    let ratio = report
                        .floor_ratio_vs_automerge
                        .map(|r| format!(": Automerge / floor {r:.1}×, the best any such ledger could reach here"))
                        .unwrap_or_default();
                    println!(
                        "  SQLite floor           {f:.1} s: every database's movement rows and balances in plain SQL, same batches{ratio}"
                    );
                }
                if let (Some(a), Some(r)) = (report.automerge_sync_seconds, report.ratio_vs_automerge_sync) {
                    println!(
                        "  automerge sync + save  {a:.1} s like for like (its sync protocol, durable incremental saves): ours is {r:.1}× as fast"
                    );
                }
                if let (Some(m), Some(s)) = (report.bootstrap_server_movements, report.bootstrap_seconds) {
                    println!(
                        "  bootstrap              {s:.1} s to a usable workstation from a server of {m} movements ({} balances), peak {:.0} MiB (target < 20 s); setup {:.0} s",
                        report.bootstrap_balances.unwrap_or(0),
                        report.bootstrap_peak_mib.unwrap_or(0.0),
                        report.bootstrap_setup_seconds.unwrap_or(0.0)
                    );
                }
            }
            Ok(())
        }
        BenchCommand::Devices { sensors, baud, rounds, scans, python } => {
            let sensors = (*sensors).clamp(1, 247);
            let report =
                crate::device_commands::bench(sensors, *baud, (*rounds).max(1), (*scans).max(1), python.clone())
                    .map_err(std::io::Error::other)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report).expect("report serialises"));
            } else {
                println!("devices benchmark: {} Modbus sensors on one line at {} baud", report.sensors, report.baud);
                println!(
                    "  readings               {:.1} /s of a bus limit of {:.1} /s: ratio {:.2} ({} failed)",
                    report.readings_per_second, report.bus_limit_per_second, report.ratio, report.failed
                );
                println!(
                    "  serial scan → ledger   median {:.2} ms, p99 {:.2} ms over {} scans (durable stocktake observations)",
                    report.scan_to_ledger_median_ms, report.scan_to_ledger_p99_ms, report.scans
                );
            }
            Ok(())
        }
        BenchCommand::Stocktake { keys, scans, dir } => {
            let scratch = match dir {
                Some(dir) => tempfile::Builder::new().prefix("medledger-bench").tempdir_in(dir)?,
                None => tempfile::Builder::new().prefix("medledger-bench").tempdir()?,
            };
            let report = ledger::bench::stocktake(scratch.path(), *keys, *scans, &mut |line| {
                let _ = writeln!(std::io::stderr(), "bench: {line}");
            })?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report).expect("report serialises"));
            } else {
                println!("stocktake benchmark: {} keys, {} durable scans", report.keys, report.scans);
                println!(
                    "  record one scan        median {:.2} ms, p99 {:.2} ms (target < 5 ms); {:.0} scans/s",
                    report.scan_median_ms, report.scan_p99_ms, report.scans_per_second
                );
                println!(
                    "  variance table         {:.1} ms for {} rows (target < 200 ms)",
                    report.variance_ms, report.variance_rows
                );
                println!("  post (count movements) {:.0} ms", report.post_ms);
            }
            Ok(())
        }
        BenchCommand::Barcode { count, python, no_biip, seed } => {
            let python = (!no_biip).then(|| python.clone().unwrap_or_else(default_python));
            let report = barcode_bench(*count, *seed, python.as_deref(), &mut |line| {
                let _ = writeln!(std::io::stderr(), "bench: {line}");
            })?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report).expect("report serialises"));
            } else {
                print_barcode_report(&report);
            }
            Ok(())
        }
        BenchCommand::Printing { labels, lines, rounds } => {
            let report = printing_bench(*labels, *lines, (*rounds).max(1))
                .map_err(|e| std::io::Error::other(format!("[{}] {}", e.code(), e.message(udi::Lang::En))))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report).expect("report serialises"));
            } else {
                print_printing_report(&report);
            }
            Ok(())
        }
    }
}

fn print_report(r: &LedgerBenchReport) {
    println!("ledger benchmark: {} movements over {} balance keys", r.movements, r.balance_keys);
    println!(
        "  build through the posting API     {:>10.1} s  ({:.0} lines/s)",
        r.build_seconds, r.build_lines_per_second
    );
    println!(
        "  durable single-line post          {:>10.0} /s (median {:.0} µs, p99 {:.0} µs)",
        r.single_post_per_second, r.single_post_median_us, r.single_post_p99_us
    );
    println!(
        "  raw rusqlite insert, same pragmas {:>10.0} /s (median {:.0} µs, p99 {:.0} µs)",
        r.raw_insert_per_second, r.raw_insert_median_us, r.raw_insert_p99_us
    );
    println!(
        "  ratio ours / raw (mean time)      {:>10.2}    (target ≤ 1.5; medians {:.2})",
        r.post_over_raw_ratio, r.post_over_raw_median_ratio
    );
    println!(
        "  raw insert with movement indexes  {:>10.0} /s (median {:.0} µs); ratio ours / it {:.2}",
        r.raw_indexed_insert_per_second, r.raw_indexed_insert_median_us, r.post_over_raw_indexed_ratio
    );
    println!(
        "  the same rows in plain SQL        {:>10.0} /s (median {:.0} µs); floor / raw {:.2}, ours / floor {:.2}",
        r.floor_per_second, r.floor_median_us, r.floor_over_raw_ratio, r.post_over_floor_ratio
    );
    println!("  1,000-line receipt                {:>10.0} lines/s", r.receipt_1000_lines_per_second);
    println!(
        "  list all on-hand stock            {:>10.1} ms ({} rows; target < 50 ms)",
        r.stock_list_ms, r.stock_rows
    );
    println!("  trace one lot                     {:>10.3} ms ({} movements; target < 5 ms)", r.trace_ms, r.trace_rows);
}

/// The script that runs biip (`scripts/biip_parse.py`), built into the binary
/// so the benchmark runs from any directory.
const BIIP_SCRIPT: &str = include_str!("../../../scripts/biip_parse.py");
/// The barcode corpus's cases; its valid HIBC, MA and internal-label inputs join the benchmark corpus.
const FIXTURE_CORPUS: &str = include_str!("../../../fixtures/barcodes/corpus.jsonl");
/// The corpus timing loop repeats until at least this long has passed.
const MIN_LOOP: Duration = Duration::from_secs(1);
/// Targets the report compares with.
const TARGET_P99_US: f64 = 10.0;
const TARGET_RATIO: f64 = 50.0;

fn default_python() -> PathBuf {
    if let Some(python) = std::env::var_os("MEDLEDGER_PYTHON") {
        return PathBuf::from(python);
    }
    let venv = PathBuf::from("target/pyenv/bin/python");
    if venv.exists() {
        venv
    } else {
        PathBuf::from("python3")
    }
}

/// The kinds of barcode in the benchmark corpus, with their share in percent.
const MIX: &[(&str, usize)] = &[
    ("gs1-raw-label", 40),  // device labels: GTIN, expiry, lot, serial; GS; AIM identifier or not
    ("gs1-raw-any-ai", 10), // GTIN plus AIs drawn from the whole table
    ("gs1-no-gs", 10),      // device labels whose separators were lost on the way
    ("gs1-bracketed", 10),  // (01)…(17)…(10)…
    ("gs1-digital-link", 10),
    ("hibc", 12),
    ("ma", 5),
    ("internal", 3),
];

/// Kinds that biip reads too (its `parse` does not read the bracketed form, HIBC or MA).
fn is_gs1_subset(kind: &str) -> bool {
    matches!(kind, "gs1-raw-label" | "gs1-raw-any-ai" | "gs1-no-gs" | "gs1-digital-link")
}

/// `count` barcodes, each with its kind, in a shuffled order.
fn barcode_corpus(count: usize, seed: u64, today: chrono::NaiveDate) -> Vec<(&'static str, String)> {
    let mut rng = Rng::new(seed);
    let mut fixtures: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in FIXTURE_CORPUS.lines() {
        let case: serde_json::Value = serde_json::from_str(line).expect("the fixture corpus is JSON Lines");
        if case.get("error").is_none() {
            if let (Some(scheme), Some(input)) = (case["scheme"].as_str(), case["input"].as_str()) {
                fixtures.entry(scheme.to_string()).or_default().push(input.to_string());
            }
        }
    }
    let mut out = Vec::with_capacity(count);
    let total: usize = MIX.iter().map(|(_, share)| share).sum();
    for (kind, share) in MIX {
        let n = count * share / total;
        for i in 0..n {
            let text = match *kind {
                "gs1-raw-label" => {
                    let aim = match rng.below(3) {
                        0 => None,
                        _ => Some(*rng.pick(gen::AIM_PREFIXES)),
                    };
                    let leading = rng.percent(10);
                    let label = gen::device_label(&mut rng, today);
                    gen::raw_message(&mut rng, label, aim, leading, 0).text
                }
                "gs1-raw-any-ai" => gen::gs1_message(&mut rng, today, &MessageShape::default()).text,
                "gs1-no-gs" => {
                    let label: Vec<GenElement> = gen::device_label(&mut rng, today);
                    gen::raw_message(&mut rng, label, None, false, 0).text.replace('\u{1d}', "")
                }
                "gs1-bracketed" => gen::bracketed(&gen::device_label(&mut rng, today)),
                "gs1-digital-link" => gen::digital_link(&gen::device_label(&mut rng, today)),
                scheme => {
                    let inputs = &fixtures[scheme];
                    inputs[i % inputs.len()].clone()
                }
            };
            out.push((*kind, text));
        }
    }
    while out.len() < count {
        let label = gen::device_label(&mut rng, today);
        out.push(("gs1-raw-label", gen::raw_message(&mut rng, label, None, false, 0).text));
    }
    for i in (1..out.len()).rev() {
        let j = rng.below(i + 1);
        out.swap(i, j);
    }
    out
}

#[derive(Serialize)]
pub struct BarcodeBenchReport {
    pub barcodes: usize,
    /// Barcodes of each kind.
    pub mix: BTreeMap<&'static str, usize>,
    /// Barcodes read with one reading, with several candidates, or refused.
    pub read: usize,
    pub ambiguous: usize,
    pub refused: usize,
    /// Whole corpus, one thread, one parse after another.
    pub ours_per_second: f64,
    /// Latency of each parse timed alone (the timer's own cost, `timer_overhead_ns`, included).
    pub ours_p50_us: f64,
    pub ours_p99_us: f64,
    pub ours_p999_us: f64,
    pub ours_max_us: f64,
    /// Latency by kind of barcode.
    pub by_kind: BTreeMap<&'static str, KindLatency>,
    pub timer_overhead_ns: f64,
    /// The GS1 subset that both parsers read: raw element strings (with and without GS) and Digital Link URIs.
    pub gs1_subset: usize,
    pub ours_gs1_per_second: f64,
    pub biip: Option<BiipFigures>,
    /// Why biip was not measured.
    pub biip_missing: Option<String>,
    /// ours_gs1_per_second / biip per_second, on identical inputs.
    pub ratio: Option<f64>,
    pub target_p99_us: f64,
    pub target_ratio: f64,
    pub release_build: bool,
}

#[derive(Serialize)]
pub struct KindLatency {
    pub barcodes: usize,
    pub p50_us: f64,
    pub p99_us: f64,
}

#[derive(Serialize)]
pub struct BiipFigures {
    pub python: String,
    pub version: Option<String>,
    pub per_second: f64,
    /// Parses timed (the subset, repeated `rounds` times) and seconds inside Python's loop.
    pub parses: u64,
    pub seconds: f64,
    pub rounds: u64,
    /// Inputs of the subset biip read as a GS1 message or Digital Link URI.
    pub read: u64,
}

/// Parses every input until `MIN_LOOP` has passed; barcodes per second.
fn throughput(inputs: &[&str], options: &udi::Options) -> f64 {
    for input in inputs {
        black_box(udi::parse(black_box(input), options).ok());
    }
    let mut parses = 0usize;
    let start = Instant::now();
    loop {
        for input in inputs {
            black_box(udi::parse(black_box(input), options).ok());
        }
        parses += inputs.len();
        if start.elapsed() >= MIN_LOOP {
            break;
        }
    }
    parses as f64 / start.elapsed().as_secs_f64()
}

fn barcode_bench(
    count: usize,
    seed: u64,
    python: Option<&std::path::Path>,
    progress: &mut dyn FnMut(&str),
) -> ledger::Result<BarcodeBenchReport> {
    let today = chrono::Local::now().date_naive();
    let options = udi::Options::new(today, udi::Lang::En);
    progress(&format!("generating {count} barcodes (seed {seed})"));
    let corpus = barcode_corpus(count.max(1), seed, today);
    let mut mix = BTreeMap::new();
    for (kind, _) in &corpus {
        *mix.entry(*kind).or_default() += 1;
    }
    let inputs: Vec<&str> = corpus.iter().map(|(_, text)| text.as_str()).collect();
    let (mut read, mut ambiguous, mut refused) = (0, 0, 0);
    for input in &inputs {
        match udi::parse(input, &options) {
            Ok(scan) if scan.is_ambiguous() => ambiguous += 1,
            Ok(_) => read += 1,
            Err(_) => refused += 1,
        }
    }

    progress("timing our engine on the whole corpus");
    let ours_per_second = throughput(&inputs, &options);

    // Latency: each parse timed alone. A parse takes about a microsecond and
    // reading the clock some 20 ns, so single parses can be timed directly;
    // the clock's cost is measured and reported, not subtracted.
    progress("timing each parse alone");
    let mut timer = Vec::with_capacity(10_000);
    for _ in 0..10_000 {
        let t = Instant::now();
        timer.push(black_box(t.elapsed()));
    }
    timer.sort_unstable();
    let timer_overhead_ns = timer[timer.len() / 2].as_nanos() as f64;
    let mut latencies: Vec<Duration> = Vec::with_capacity(inputs.len());
    let mut kind_latencies: BTreeMap<&'static str, Vec<Duration>> = BTreeMap::new();
    for (kind, input) in &corpus {
        let t = Instant::now();
        black_box(udi::parse(black_box(input), &options).ok());
        let elapsed = t.elapsed();
        latencies.push(elapsed);
        kind_latencies.entry(*kind).or_default().push(elapsed);
    }
    let percentile = |sorted: &[Duration], p: f64| {
        let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
        sorted[i].as_secs_f64() * 1e6
    };
    latencies.sort_unstable();
    let pct = |p: f64| percentile(&latencies, p);
    let by_kind = kind_latencies
        .into_iter()
        .map(|(kind, mut l)| {
            l.sort_unstable();
            (kind, KindLatency { barcodes: l.len(), p50_us: percentile(&l, 0.5), p99_us: percentile(&l, 0.99) })
        })
        .collect();

    let subset: Vec<&str> =
        corpus.iter().filter(|(kind, _)| is_gs1_subset(kind)).map(|(_, text)| text.as_str()).collect();
    progress(&format!("timing our engine on the GS1 subset ({} barcodes)", subset.len()));
    let ours_gs1_per_second = throughput(&subset, &options);

    let (biip, biip_missing) = match python {
        None => (None, Some("not run (--no-biip)".to_string())),
        Some(python) => {
            progress(&format!("timing biip with {} on the same {} barcodes", python.display(), subset.len()));
            match run_biip(python, &subset) {
                Ok(figures) => (Some(figures), None),
                Err(why) => (None, Some(why)),
            }
        }
    };
    let ratio = biip.as_ref().map(|b| ours_gs1_per_second / b.per_second);
    Ok(BarcodeBenchReport {
        barcodes: corpus.len(),
        mix,
        read,
        ambiguous,
        refused,
        ours_per_second,
        ours_p50_us: pct(0.50),
        ours_p99_us: pct(0.99),
        ours_p999_us: pct(0.999),
        ours_max_us: pct(1.0),
        by_kind,
        timer_overhead_ns,
        gs1_subset: subset.len(),
        ours_gs1_per_second,
        biip,
        biip_missing,
        ratio,
        target_p99_us: TARGET_P99_US,
        target_ratio: TARGET_RATIO,
        release_build: !cfg!(debug_assertions),
    })
}

/// Runs biip over `inputs` in the script's timing mode; `Err` says why it could not.
fn run_biip(python: &std::path::Path, inputs: &[&str]) -> Result<BiipFigures, String> {
    let mut child = Command::new(python)
        .arg("-c")
        .arg(BIIP_SCRIPT)
        .arg("--time")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", python.display()))?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let payload: String = inputs.iter().map(|input| serde_json::json!({ "input": input }).to_string() + "\n").collect();
    let writer = std::thread::spawn(move || {
        // A script that exits early (biip missing) closes the pipe; that is reported below.
        let _ = stdin.write_all(payload.as_bytes());
    });
    let mut stdout = String::new();
    let mut stderr = String::new();
    let _ = child.stdout.take().expect("piped stdout").read_to_string(&mut stdout);
    let _ = child.stderr.take().expect("piped stderr").read_to_string(&mut stderr);
    let _ = writer.join();
    let status = child.wait().map_err(|e| e.to_string())?;
    if status.code() == Some(3) {
        // The script's own message says which interpreter lacks biip and how to install it.
        return Err(stderr.trim().to_string());
    }
    if !status.success() {
        return Err(format!("{} failed ({status}): {}", python.display(), stderr.trim()));
    }
    let figures: serde_json::Value =
        serde_json::from_str(stdout.trim()).map_err(|e| format!("unreadable output from the biip script: {e}"))?;
    let number = |key: &str| figures[key].as_f64().unwrap_or(0.0);
    let seconds = number("seconds");
    let parses = number("count") as u64;
    if seconds <= 0.0 || parses == 0 {
        return Err(format!("the biip script timed nothing: {figures}"));
    }
    Ok(BiipFigures {
        python: python.display().to_string(),
        version: figures["version"].as_str().map(str::to_string),
        per_second: parses as f64 / seconds,
        parses,
        seconds,
        rounds: number("rounds") as u64,
        read: number("ok") as u64,
    })
}

fn print_barcode_report(r: &BarcodeBenchReport) {
    println!("barcode benchmark: {} barcodes, one thread", r.barcodes);
    if !r.release_build {
        println!("  (debug build: run `make bench-barcode` or `cargo run --release` for meaningful figures)");
    }
    println!("  read {}, with several candidates {}, refused {}", r.read, r.ambiguous, r.refused);
    println!("  ours, whole corpus                {:>12.0} barcodes/s", r.ours_per_second);
    println!(
        "  ours, latency per parse           p50 {:.2} µs, p99 {:.2} µs (target < {:.0} µs), p99.9 {:.2} µs, max {:.1} µs",
        r.ours_p50_us, r.ours_p99_us, r.target_p99_us, r.ours_p999_us, r.ours_max_us
    );
    println!(
        "                                    (each parse timed alone with Instant; the clock costs {:.0} ns, included)",
        r.timer_overhead_ns
    );
    for (kind, k) in &r.by_kind {
        println!("    {kind:<20} {:>7} barcodes  p50 {:>6.2} µs  p99 {:>6.2} µs", k.barcodes, k.p50_us, k.p99_us);
    }
    println!("  GS1 subset (raw, GS-less, Digital Link): {} barcodes", r.gs1_subset);
    println!("  ours, GS1 subset                  {:>12.0} barcodes/s", r.ours_gs1_per_second);
    match (&r.biip, &r.biip_missing) {
        (Some(b), _) => {
            println!(
                "  biip {}, same GS1 subset       {:>12.0} barcodes/s  ({} parses in {:.2} s inside Python; read {} of {})",
                b.version.as_deref().unwrap_or("?"),
                b.per_second,
                b.parses,
                b.seconds,
                b.read,
                r.gs1_subset
            );
            if let Some(ratio) = r.ratio {
                println!("  ratio ours / biip                 {:>12.1}×  (target ≥ {:.0}×)", ratio, r.target_ratio);
            }
        }
        (None, Some(why)) => println!("  biip: {why}"),
        (None, None) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_barcode_corpus_has_every_kind_and_reads() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let corpus = barcode_corpus(2_000, 3, today);
        assert_eq!(corpus.len(), 2_000);
        let options = udi::Options::new(today, udi::Lang::En);
        for (kind, share) in MIX {
            let n = corpus.iter().filter(|(k, _)| k == kind).count();
            assert!(n >= 2_000 * share / 100, "{kind}: {n}");
        }
        for (kind, text) in &corpus {
            let scan = udi::parse(text, &options).unwrap_or_else(|e| panic!("{kind} {text:?}: {}", e.code()));
            let scheme = serde_json::to_value(scan.scheme).unwrap();
            let want = match *kind {
                "hibc" | "ma" | "internal" => *kind,
                _ => "gs1",
            };
            assert_eq!(scheme, want, "{text:?}");
        }
    }

    #[test]
    fn a_missing_python_is_reported_not_fatal() {
        let why = run_biip(std::path::Path::new("/nonexistent/python"), &["0109506000134352"]).err().unwrap();
        assert!(why.contains("cannot start"), "{why}");
    }
}

#[derive(Serialize)]
pub struct PrintingBenchReport {
    pub font: String,
    pub font_load_ms: f64,
    pub labels: usize,
    pub labels_pdf_ms: f64,
    pub labels_pdf_bytes: usize,
    pub labels_zpl_ms: f64,
    pub labels_zpl_bytes: usize,
    pub label_png_ms: f64,
    pub receipt_lines: usize,
    pub receipt_pdf_ms: f64,
    pub receipt_pdf_pages: usize,
    pub receipt_pdf_bytes: usize,
    pub receipt_escpos_ms: f64,
    pub rounds: usize,
    pub release_build: bool,
}

/// Median wall time of `rounds` runs of `f`, in milliseconds, and its last output.
fn median_ms<T>(rounds: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut times = Vec::with_capacity(rounds);
    let mut last = None;
    for _ in 0..rounds {
        let t = Instant::now();
        let out = black_box(f());
        times.push(t.elapsed().as_secs_f64() * 1e3);
        last = Some(out);
    }
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], last.expect("at least one round"))
}

fn printing_bench(labels: usize, lines: usize, rounds: usize) -> Result<PrintingBenchReport, printing::PrintError> {
    use printing::*;
    use rust_decimal::Decimal;
    let today = chrono::Local::now().date_naive();
    let options = RenderOptions { today, lang: Lang::Zh };
    let t = Instant::now();
    let fonts = Fonts::system()?;
    let font_load_ms = t.elapsed().as_secs_f64() * 1e3;

    // Distinct lot labels: GTINs from the barcode engine's generator, a lot and expiry each.
    let mut rng = Rng::new(7);
    let names = ["一次性使用无菌注射器", "医用外科口罩", "一次性使用输液器 带针", "医用脱脂纱布块", "静脉留置针 22G"];
    let job: Vec<LabelData> = (0..labels)
        .map(|i| LabelData {
            kind: LabelKind::Lot,
            identifier: Some(LabelIdentifier::Gtin(gen::gtin(&mut rng))),
            name: names[i % names.len()].to_string(),
            specification: Some(format!("规格 {}ml", 1 + i % 20)),
            lot: Some(format!("L{:06}", i + 1)),
            expires_on: today.checked_add_days(chrono::Days::new(30 + (i as u64 * 7) % 1500)),
            serial: None,
            quantity: Some(1 + (i as i64 % 100)),
            unit: Some("支".to_string()),
            location: Some(format!("A-{:02}-{:02}", i % 20, i % 7)),
        })
        .collect();
    let label_profile = PrinterProfile::new(PrinterLanguage::Pdf);
    let zpl_profile = PrinterProfile::new(PrinterLanguage::Zpl);
    let (labels_pdf_ms, pdf) = median_ms(rounds, || labels_pdf(&job, &label_profile, &options, &fonts));
    let pdf = pdf?;
    let (labels_zpl_ms, zpl) = median_ms(rounds, || labels_zpl(&job, &zpl_profile, &options));
    let zpl = zpl?;
    let (label_png_ms, png) = median_ms(rounds, || label_png(&job[0], &label_profile, &options, &fonts));
    png?;

    let receipt = DocumentData {
        kind: DocumentKind::Receipt,
        hospital: "演示医院 中心库".to_string(),
        number: "RK-S01-000200".to_string(),
        date: today,
        parties: vec![
            Party { role: PartyRole::Supplier, name: "国药控股北京有限公司".to_string() },
            Party { role: PartyRole::Operator, name: "王丽".to_string() },
        ],
        lines: job
            .iter()
            .cycle()
            .take(lines)
            .map(|label| DocumentLine {
                item: label.name.clone(),
                code: match &label.identifier {
                    Some(LabelIdentifier::Gtin(gtin)) => Some(gtin.clone()),
                    _ => None,
                },
                specification: label.specification.clone(),
                lot: label.lot.clone(),
                expires_on: label.expires_on,
                serial: None,
                unit: label.unit.clone(),
                quantity: label.quantity.unwrap_or(1),
                expected_quantity: None,
                unit_cost: Some(Decimal::new(125 + (label.quantity.unwrap_or(1) * 37) % 5000, 2)),
            })
            .collect(),
        note: None,
        signatures: Vec::new(),
    };
    let (receipt_pdf_ms, receipt_pdf) = median_ms(rounds, || document_pdf(&receipt, &options, &fonts));
    let receipt_pdf = receipt_pdf?;
    let escpos_profile = PrinterProfile::new(PrinterLanguage::Escpos);
    let (receipt_escpos_ms, escpos) = median_ms(rounds, || document_escpos(&receipt, &escpos_profile, &options));
    escpos?;
    let pages_marker = b"/Type/Pages/Count ";
    let receipt_pdf_pages = receipt_pdf
        .windows(pages_marker.len())
        .position(|w| w == pages_marker)
        .map(|at| {
            let digits: String = receipt_pdf[at + pages_marker.len()..]
                .iter()
                .map(|&b| b as char)
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse().unwrap_or(0)
        })
        .unwrap_or(0);
    Ok(PrintingBenchReport {
        font: fonts.path().to_string(),
        font_load_ms,
        labels: job.len(),
        labels_pdf_ms,
        labels_pdf_bytes: pdf.len(),
        labels_zpl_ms,
        labels_zpl_bytes: zpl.len(),
        label_png_ms,
        receipt_lines: receipt.lines.len(),
        receipt_pdf_ms,
        receipt_pdf_pages,
        receipt_pdf_bytes: receipt_pdf.len(),
        receipt_escpos_ms,
        rounds,
        release_build: !cfg!(debug_assertions),
    })
}

fn print_printing_report(r: &PrintingBenchReport) {
    println!("printing benchmark: median of {} rounds, one thread", r.rounds);
    if !r.release_build {
        println!("  (debug build: run `make bench-printing` or `cargo run --release` for meaningful figures)");
    }
    println!("  font {} loaded in {:.1} ms", r.font, r.font_load_ms);
    println!(
        "  {} lot labels as one PDF          {:>9.1} ms  ({:.0} labels/s, {} KiB)",
        r.labels,
        r.labels_pdf_ms,
        r.labels as f64 / (r.labels_pdf_ms / 1e3),
        r.labels_pdf_bytes / 1024
    );
    println!(
        "  {} lot labels as ZPL              {:>9.1} ms  ({:.0} labels/s, {} KiB)",
        r.labels,
        r.labels_zpl_ms,
        r.labels as f64 / (r.labels_zpl_ms / 1e3),
        r.labels_zpl_bytes / 1024
    );
    println!("  one label as a PNG preview           {:>9.1} ms", r.label_png_ms);
    println!(
        "  {}-line A4 receipt PDF             {:>9.1} ms  ({} pages, {} KiB)",
        r.receipt_lines,
        r.receipt_pdf_ms,
        r.receipt_pdf_pages,
        r.receipt_pdf_bytes / 1024
    );
    println!("  {}-line receipt as ESC/POS         {:>9.1} ms", r.receipt_lines, r.receipt_escpos_ms);
}
