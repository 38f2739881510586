//! `medledger barcode parse [DATA]`: reads barcodes with the `udi` engine and
//! prints one JSON object per barcode (JSON Lines when reading stdin).

use crate::Failure;
use clap::Subcommand;
use serde::Serialize;
use std::io::{BufRead, Write};

#[derive(Subcommand)]
pub enum BarcodeCommand {
    /// Read one barcode (DATA) or, with no DATA, one barcode per line of stdin.
    Parse {
        /// The scanned data (GS as ASCII 29; an AIM identifier such as ]d2 may lead).
        data: Option<String>,
        /// Text this workstation's scanners send in place of GS (repeatable), e.g. `~`.
        #[arg(long = "separator")]
        separators: Vec<String>,
        /// The item is serial-tracked: a scan without separators whose lot swallowed "21…" lost the one before the serial.
        #[arg(long)]
        serialized: bool,
    },
}

/// Today's local date: the reference for two-digit years.
fn today() -> chrono::NaiveDate {
    chrono::Local::now().date_naive()
}

pub fn options(lang: ledger::Lang, separators: &[String], serialized: bool) -> udi::Options {
    let lang = if lang == ledger::Lang::En { udi::Lang::En } else { udi::Lang::Zh };
    udi::Options { today: today(), lang, separators: separators.to_vec(), serialized }
}

/// One line of output: the reading, or `{"input", "error": {code, message}}`.
pub(crate) fn result_json(input: &str, result: &Result<udi::Scan, udi::UdiError>, lang: udi::Lang) -> String {
    #[derive(Serialize)]
    struct ErrorBody<'a> {
        code: &'a str,
        message: String,
    }
    #[derive(Serialize)]
    struct Unread<'a> {
        input: &'a str,
        error: ErrorBody<'a>,
    }
    let text = match result {
        Ok(scan) => serde_json::to_string(scan),
        Err(e) => {
            serde_json::to_string(&Unread { input, error: ErrorBody { code: e.code(), message: e.message(lang) } })
        }
    };
    text.expect("plain data serialises")
}

pub fn run(command: &BarcodeCommand, lang: ledger::Lang) -> Result<(), Failure> {
    let BarcodeCommand::Parse { data, separators, serialized } = command;
    let options = options(lang, separators, *serialized);
    let machine = |e: std::io::Error| Failure { user_error: false, message: e.to_string() };
    if let Some(data) = data {
        let result = udi::parse(data, &options);
        println!("{}", result_json(data, &result, options.lang));
        return match result {
            Ok(_) => Ok(()),
            Err(e) => Err(Failure::input(format!("[{}] {}", e.code(), e.message(options.lang)))),
        };
    }
    // One barcode a line; a line longer than any barcode is reported, not held in memory.
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut line: Vec<u8> = Vec::with_capacity(256);
    let mut overflow = 0usize;
    loop {
        let buffer = input.fill_buf().map_err(machine)?;
        if buffer.is_empty() {
            if !line.is_empty() || overflow > 0 {
                emit(&mut out, &line, overflow, &options).map_err(machine)?;
            }
            break;
        }
        let (chunk, newline) = match buffer.iter().position(|&b| b == b'\n') {
            Some(i) => (&buffer[..i], true),
            None => (buffer, false),
        };
        let room = (udi::BARCODE_LEN_MAX + 2).saturating_sub(line.len());
        line.extend_from_slice(&chunk[..chunk.len().min(room)]);
        overflow += chunk.len().saturating_sub(room);
        let consumed = chunk.len() + usize::from(newline);
        input.consume(consumed);
        if newline {
            emit(&mut out, &line, overflow, &options).map_err(machine)?;
            line.clear();
            overflow = 0;
        }
    }
    out.flush().map_err(machine)
}

fn emit(out: &mut impl Write, line: &[u8], overflow: usize, options: &udi::Options) -> std::io::Result<()> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let input = String::from_utf8_lossy(line);
    let result = if overflow > 0 {
        Err(udi::UdiError::TooLong { length: line.len() + overflow, max: udi::BARCODE_LEN_MAX })
    } else {
        udi::parse_bytes(line, options)
    };
    writeln!(out, "{}", result_json(&input, &result, options.lang))
}
