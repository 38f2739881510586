//! `medledger printer …` and `medledger print …`: this workstation's printers,
//! labels and documents rendered by `crates/printing` from the ledger's data,
//! written to a file or queued and sent. A job that cannot be sent stays in
//! the ledger's queue with its error (`print jobs`, `print retry`).

use crate::{fail, print_rows, print_view, Failure};
use clap::{Subcommand, ValueEnum};
use ledger::*;
use printing::{
    from_ledger, Connection, Dpi, LabelSymbology, Paper, PrintError, PrinterLanguage, PrinterProfile, RenderOptions,
};
use std::path::PathBuf;

#[derive(Clone, Copy, ValueEnum)]
pub enum LanguageArg {
    Zpl,
    Tspl,
    Escpos,
    Pdf,
}

impl LanguageArg {
    fn language(self) -> PrinterLanguage {
        match self {
            LanguageArg::Zpl => PrinterLanguage::Zpl,
            LanguageArg::Tspl => PrinterLanguage::Tspl,
            LanguageArg::Escpos => PrinterLanguage::Escpos,
            LanguageArg::Pdf => PrinterLanguage::Pdf,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub enum SymbologyArg {
    Datamatrix,
    #[value(name = "gs1-128")]
    Gs1_128,
    Both,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum LabelFormat {
    Zpl,
    Tspl,
    Pdf,
    Png,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum DocumentFormat {
    Pdf,
    Escpos,
}

/// Label size, resolution and paper, for a printer profile or a file.
#[derive(clap::Args, Clone)]
pub struct ProfileArgs {
    /// Label width, mm.
    #[arg(long, default_value_t = 60.0)]
    width_mm: f32,
    /// Label height, mm.
    #[arg(long, default_value_t = 40.0)]
    height_mm: f32,
    /// 203, 300 or 600.
    #[arg(long, default_value_t = 203)]
    dpi: u16,
    /// Thermal receipt paper: 58 or 80 mm.
    #[arg(long, default_value_t = 80)]
    paper: u16,
    /// Barcode on labels.
    #[arg(long, value_enum, default_value = "datamatrix")]
    symbology: SymbologyArg,
}

impl ProfileArgs {
    fn profile(&self, language: PrinterLanguage) -> Result<PrinterProfile, PrintError> {
        let dpi = Dpi::try_from(self.dpi)
            .map_err(|_| PrintError::BadProfile { field: "dpi", value: self.dpi.to_string() })?;
        let paper = Paper::try_from(self.paper)
            .map_err(|_| PrintError::BadProfile { field: "paper", value: self.paper.to_string() })?;
        let profile = PrinterProfile {
            label_width_mm: self.width_mm,
            label_height_mm: self.height_mm,
            dpi,
            paper,
            symbology: match self.symbology {
                SymbologyArg::Datamatrix => LabelSymbology::DataMatrix,
                SymbologyArg::Gs1_128 => LabelSymbology::Gs1_128,
                SymbologyArg::Both => LabelSymbology::Both,
            },
            ..PrinterProfile::new(language)
        };
        profile.validate()?;
        Ok(profile)
    }
}

#[derive(Subcommand)]
pub enum PrinterCommand {
    /// Add (or change) a printer of this workstation.
    Add {
        #[arg(long)]
        name: String,
        /// The printer's language.
        #[arg(long, value_enum)]
        language: LanguageArg,
        /// tcp://HOST[:9100], cups://QUEUE or serial:///dev/ttyUSB0?baud=9600.
        #[arg(long)]
        uri: String,
        #[command(flatten)]
        profile: ProfileArgs,
    },
    /// This workstation's printers.
    List,
}

#[derive(Subcommand)]
pub enum PrintCommand {
    /// Labels for an item, a lot, or a serial unit: to a file (--format, --out) or a printer.
    Label {
        /// Item code or GTIN.
        #[arg(long)]
        item: String,
        #[arg(long)]
        lot: Option<String>,
        #[arg(long)]
        serial: Option<String>,
        /// Labels to print.
        #[arg(long, default_value_t = 1)]
        copies: usize,
        #[arg(long, value_enum, requires = "out", conflicts_with = "printer")]
        format: Option<LabelFormat>,
        #[arg(long, requires = "format")]
        out: Option<PathBuf>,
        #[arg(long, required_unless_present = "format")]
        printer: Option<String>,
        #[command(flatten)]
        profile: ProfileArgs,
    },
    /// A posted document (receipt, issue, transfer, stocktake, scrap) as an A4 PDF or a thermal receipt.
    Document {
        /// Number (RK-S01-000001) or id.
        number: String,
        #[arg(long, value_enum, requires = "out", conflicts_with = "printer")]
        format: Option<DocumentFormat>,
        #[arg(long, requires = "format")]
        out: Option<PathBuf>,
        #[arg(long, required_unless_present = "format")]
        printer: Option<String>,
        #[command(flatten)]
        profile: ProfileArgs,
    },
    /// Jobs waiting in the queue (--all: also sent and cancelled ones).
    Jobs {
        #[arg(long)]
        all: bool,
    },
    /// Send a waiting job again, to its printer or another one.
    Retry {
        job: String,
        #[arg(long)]
        printer: Option<String>,
    },
    /// Give up a waiting job.
    Cancel { job: String },
}

fn print_error(error: PrintError, lang: Lang) -> Failure {
    let message = error.message(if lang == Lang::En { udi::Lang::En } else { udi::Lang::Zh });
    Failure { user_error: true, message: format!("[{}] {message}", error.code()) }
}

pub fn run_printer(
    ledger: &mut Ledger,
    command: &PrinterCommand,
    user: &str,
    json: bool,
    lang: Lang,
) -> Result<(), Failure> {
    match command {
        PrinterCommand::Add { name, language, uri, profile } => {
            Connection::parse(uri).map_err(|e| print_error(e, lang))?;
            let profile = profile.profile(language.language()).map_err(|e| print_error(e, lang))?;
            let profile = serde_json::to_string(&profile).expect("a profile serialises");
            let record = ledger.set_printer(user, name, uri, &profile).map_err(|e| fail(e, lang))?;
            print_view(&record, json, || format!("{} → {}", record.name, record.uri))
        }
        PrinterCommand::List => {
            let rows = ledger.printers().map_err(|e| fail(e, lang))?;
            print_rows(&rows, json, |p| format!("{:<16} {:<40} {}", p.name, p.uri, p.profile))
        }
    }
}

pub fn run(ledger: &mut Ledger, command: &PrintCommand, user: &str, json: bool, lang: Lang) -> Result<(), Failure> {
    let f = |e: LedgerError| fail(e, lang);
    let p = |e: PrintError| print_error(e, lang);
    let options = RenderOptions {
        today: ledger.clock().today(),
        lang: if lang == Lang::En { udi::Lang::En } else { udi::Lang::Zh },
    };
    match command {
        PrintCommand::Label { item, lot, serial, copies, format, out, printer, profile } => {
            if *copies == 0 || *copies > printing::LABELS_PER_JOB_MAX {
                return Err(Failure::input(format!("--copies must be 1 to {}", printing::LABELS_PER_JOB_MAX)));
            }
            let label = from_ledger::label_data(ledger, item, lot.as_deref(), serial.as_deref(), lang).map_err(f)?;
            let labels = vec![label; *copies];
            let description = format!("{copies} × {item} {}", lot.as_deref().or(serial.as_deref()).unwrap_or(""));
            match (format, out, printer) {
                (Some(format), Some(out), _) => {
                    let bytes = match format {
                        LabelFormat::Png => {
                            let fonts = printing::Fonts::system().map_err(p)?;
                            printing::label_png(
                                &labels[0],
                                &profile.profile(PrinterLanguage::Pdf).map_err(p)?,
                                &options,
                                &fonts,
                            )
                        }
                        LabelFormat::Zpl => printing::render_labels(
                            &labels,
                            &profile.profile(PrinterLanguage::Zpl).map_err(p)?,
                            &options,
                            None,
                        ),
                        LabelFormat::Tspl => printing::render_labels(
                            &labels,
                            &profile.profile(PrinterLanguage::Tspl).map_err(p)?,
                            &options,
                            None,
                        ),
                        LabelFormat::Pdf => printing::render_labels(
                            &labels,
                            &profile.profile(PrinterLanguage::Pdf).map_err(p)?,
                            &options,
                            None,
                        ),
                    }
                    .map_err(p)?;
                    write_out(out, &bytes, json)
                }
                (_, _, Some(printer)) => {
                    let record = ledger.printer(printer).map_err(f)?;
                    let profile = stored_profile(&record)?;
                    let bytes = printing::render_labels(&labels, &profile, &options, None).map_err(p)?;
                    queue_and_send(ledger, user, &record.name, PrintJobKind::Label, &description, &bytes, json, lang)
                }
                _ => Err(Failure::input("give --format and --out, or --printer")),
            }
        }
        PrintCommand::Document { number, format, out, printer, profile } => {
            let data = from_ledger::document_data(ledger, number, user, lang).map_err(f)?;
            match (format, out, printer) {
                (Some(format), Some(out), _) => {
                    let language = match format {
                        DocumentFormat::Pdf => PrinterLanguage::Pdf,
                        DocumentFormat::Escpos => PrinterLanguage::Escpos,
                    };
                    let bytes =
                        printing::render_document(&data, &profile.profile(language).map_err(p)?, &options, None)
                            .map_err(p)?;
                    write_out(out, &bytes, json)
                }
                (_, _, Some(printer)) => {
                    let record = ledger.printer(printer).map_err(f)?;
                    let profile = stored_profile(&record)?;
                    let bytes = printing::render_document(&data, &profile, &options, None).map_err(p)?;
                    queue_and_send(ledger, user, &record.name, PrintJobKind::Document, &data.number, &bytes, json, lang)
                }
                _ => Err(Failure::input("give --format and --out, or --printer")),
            }
        }
        PrintCommand::Jobs { all } => {
            let rows = ledger.print_jobs(*all).map_err(f)?;
            print_rows(&rows, json, |j| {
                format!(
                    "{} {:<10} {:<9} {:<12} {} {}",
                    j.id,
                    j.printer,
                    serde_json::to_value(j.status)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default(),
                    j.bytes,
                    j.description,
                    j.last_error.as_deref().unwrap_or("")
                )
            })
        }
        PrintCommand::Retry { job, printer } => {
            if let Some(printer) = printer {
                ledger.move_print_job(user, job, printer).map_err(f)?;
            }
            send_job(ledger, job, json, lang)
        }
        PrintCommand::Cancel { job } => {
            let view = ledger.cancel_print_job(user, job).map_err(f)?;
            print_view(&view, json, || format!("{} cancelled", view.id))
        }
    }
}

fn stored_profile(record: &PrinterRecord) -> Result<PrinterProfile, Failure> {
    serde_json::from_str(&record.profile)
        .map_err(|e| Failure::input(format!("printer {} has an unreadable profile ({e}); add it again", record.name)))
}

fn write_out(out: &PathBuf, bytes: &[u8], json: bool) -> Result<(), Failure> {
    std::fs::write(out, bytes)
        .map_err(|e| Failure { user_error: false, message: format!("{}: {e}", out.display()) })?;
    let summary = serde_json::json!({ "out": out.display().to_string(), "bytes": bytes.len() });
    print_view(&summary, json, || format!("{} bytes written to {}", bytes.len(), out.display()))
}

#[allow(clippy::too_many_arguments)]
fn queue_and_send(
    ledger: &mut Ledger,
    user: &str,
    printer: &str,
    kind: PrintJobKind,
    description: &str,
    bytes: &[u8],
    json: bool,
    lang: Lang,
) -> Result<(), Failure> {
    let job = ledger.queue_print_job(user, printer, kind, description, bytes).map_err(|e| fail(e, lang))?;
    send_job(ledger, &job, json, lang)
}

/// Sends a waiting job and records the outcome; a failure leaves it queued
/// with its error and exits 1 (the machine, not the input, failed).
fn send_job(ledger: &mut Ledger, job: &str, json: bool, lang: Lang) -> Result<(), Failure> {
    let waiting = ledger.print_job_payload(job).map_err(|e| fail(e, lang))?;
    let outcome = Connection::parse(&waiting.printer.uri).and_then(|c| printing::send(&c, &waiting.payload));
    let ui_lang = if lang == Lang::En { udi::Lang::En } else { udi::Lang::Zh };
    let view = ledger
        .finish_print_job(
            job,
            outcome.as_ref().map(|_| ()).map_err(|e| format!("[{}] {}", e.code(), e.message(ui_lang))),
        )
        .map_err(|e| fail(e, lang))?;
    match outcome {
        Ok(()) => {
            print_view(&view, json, || format!("job {} sent to {} ({} bytes)", view.id, view.printer, view.bytes))
        }
        Err(error) => Err(Failure {
            user_error: false,
            message: format!(
                "[{}] {} — job {} stays queued: `medledger print retry {}`",
                error.code(),
                error.message(ui_lang),
                view.id,
                view.id
            ),
        }),
    }
}
