//! `medledger bench …`: runs a benchmark from the core and prints its figures.

use clap::Subcommand;
use ledger::bench::{LedgerBenchOptions, LedgerBenchReport};
use std::io::Write;
use std::path::PathBuf;

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
        /// Single-line posts (and raw inserts) to time.
        #[arg(long, default_value_t = 300)]
        single_posts: usize,
        /// Scratch folder (default: a temporary one, removed afterwards).
        #[arg(long)]
        dir: Option<PathBuf>,
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
    }
}

fn print_report(r: &LedgerBenchReport) {
    println!("ledger benchmark: {} movements over {} balance keys", r.movements, r.balance_keys);
    println!(
        "  build through the posting API     {:>10.1} s  ({:.0} lines/s)",
        r.build_seconds, r.build_lines_per_second
    );
    println!(
        "  durable single-line post          {:>10.0} /s (median {:.0} µs)",
        r.single_post_per_second, r.single_post_median_us
    );
    println!(
        "  raw rusqlite insert, same pragmas {:>10.0} /s (median {:.0} µs)",
        r.raw_insert_per_second, r.raw_insert_median_us
    );
    println!("  ratio ours / raw (mean time)      {:>10.2}    (target ≤ 1.5)", r.post_over_raw_ratio);
    println!(
        "  raw insert with movement indexes  {:>10.0} /s (median {:.0} µs); ratio ours / it {:.2}",
        r.raw_indexed_insert_per_second, r.raw_indexed_insert_median_us, r.post_over_raw_indexed_ratio
    );
    println!("  1,000-line receipt                {:>10.0} lines/s", r.receipt_1000_lines_per_second);
    println!(
        "  list all on-hand stock            {:>10.1} ms ({} rows; target < 50 ms)",
        r.stock_list_ms, r.stock_rows
    );
    println!("  trace one lot                     {:>10.3} ms ({} movements; target < 5 ms)", r.trace_ms, r.trace_rows);
}
