//! Printing from the app: this workstation's printers, previews (one label as
//! a PNG, a posted document as an A4 PDF) and print jobs.
//!
//! A job is rendered by `crates/printing` from the ledger's data
//! (`printing::from_ledger`, the same data the CLI prints), queued in the
//! ledger — which keeps its bytes until they reached the printer — and handed
//! to the [`PrintWorker`]: one thread behind a bounded channel that sends each
//! job and records the outcome, so no command waits for a printer and the
//! clerk's next scan is never held up. Each outcome goes to the window as a
//! [`PRINT_EVENT`]. The ledger is locked only to read data and to record; never
//! while rendering or while a printer is being written to.
//!
//! Printers are stored as the CLI stores them: the connection as a URI
//! (`tcp://…`, `cups://…`, `serial://…`) and the profile as
//! `printing::PrinterProfile` JSON; the front end edits them as the typed
//! [`PrinterSetup`].

use crate::commands::{lang, session_user};
use crate::dto::{udi_lang, ApiError};
use crate::AppState;
use ::printing::{
    from_ledger, Connection, Dpi, Flow, Fonts, LabelData, Paper, PrintError, PrinterProfile, RenderOptions,
};
use ledger::{Lang, Ledger, PrintJobKind, PrintJobView, PrinterRecord};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use tauri::ipc::Response;
use tauri::{AppHandle, Emitter, Manager, State};
use ts_rs::TS;

type Reply<T> = Result<T, ApiError>;

/// The event that carries a finished attempt (a [`PrintJobRow`]) to the window.
pub const PRINT_EVENT: &str = "print-job";
/// Jobs waiting for the print worker. Beyond this a new job stays queued in
/// the ledger (persisted, shown as waiting) until someone retries it.
pub const PRINT_CHANNEL_MAX: usize = 32;
/// Label lines (item, lot or serial, copies) in one request: a receipt's lines.
pub const LABEL_REQUESTS_MAX: usize = ::printing::DOCUMENT_LINES_MAX;

/// The language a printer speaks (`printing::PrinterLanguage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum PrinterLanguage {
    /// Zebra label printers.
    Zpl,
    /// TSC, Xprinter, Gprinter label printers.
    Tspl,
    /// Thermal receipt printers (documents only).
    Escpos,
    /// Any printer through a PDF (CUPS): labels and A4 documents.
    Pdf,
}

/// Which barcode labels carry (`printing::LabelSymbology`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum LabelSymbology {
    DataMatrix,
    #[serde(rename = "gs1_128")]
    Gs1_128,
    Both,
}

/// Serial flow control (`printing::Flow`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum SerialFlow {
    None,
    Hardware,
    Software,
}

/// Where a printer is: raw TCP (port 9100), a CUPS queue, or a serial port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum PrinterConnection {
    Tcp { host: String, port: u16 },
    Cups { queue: String },
    Serial { port: String, baud: u32, flow: SerialFlow },
}

/// A printer as the settings screen edits it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct PrinterSetup {
    /// Name, e.g. zebra1: letters, digits, '-', '_' or '.'.
    pub name: String,
    pub language: PrinterLanguage,
    pub connection: PrinterConnection,
    /// Label stock, mm (label printers, and the page of label PDFs).
    pub label_width_mm: f32,
    pub label_height_mm: f32,
    /// 203, 300 or 600.
    pub dpi: u16,
    /// Receipt paper width, 58 or 80 mm (ESC/POS).
    pub paper: u16,
    pub symbology: LabelSymbology,
    /// A printer-resident font; null takes the language's default.
    pub font: Option<String>,
}

/// A configured printer.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct PrinterView {
    pub name: String,
    /// The connection URI as stored.
    pub uri: String,
    /// The stored settings; null when the stored URI or profile cannot be
    /// read (written by something else): set the printer again.
    pub setup: Option<PrinterSetup>,
}

/// Labels for one item (and lot, or serial unit).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct LabelRequest {
    /// Item code or any identifier.
    pub item: String,
    pub lot: Option<String>,
    pub serial: Option<String>,
    /// How many of this label (0 leaves the line out).
    pub copies: u32,
}

/// One print job of labels, e.g. for a posted receipt's lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct PrintLabelsRequest {
    pub printer: String,
    /// The document the labels are for, shown in the job's description.
    pub document: Option<String>,
    pub labels: Vec<LabelRequest>,
}

/// A job in the queue, and whether the print worker holds it right now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct PrintJobRow {
    #[serde(flatten)]
    pub job: PrintJobView,
    /// Handed to the print worker and not finished yet: it cannot be cancelled
    /// or moved until the attempt is over. A queued job that is not sending
    /// waits for a retry (the worker was full, or the app stopped).
    pub sending: bool,
}

impl From<PrinterLanguage> for ::printing::PrinterLanguage {
    fn from(language: PrinterLanguage) -> Self {
        match language {
            PrinterLanguage::Zpl => ::printing::PrinterLanguage::Zpl,
            PrinterLanguage::Tspl => ::printing::PrinterLanguage::Tspl,
            PrinterLanguage::Escpos => ::printing::PrinterLanguage::Escpos,
            PrinterLanguage::Pdf => ::printing::PrinterLanguage::Pdf,
        }
    }
}

impl From<::printing::PrinterLanguage> for PrinterLanguage {
    fn from(language: ::printing::PrinterLanguage) -> Self {
        match language {
            ::printing::PrinterLanguage::Zpl => PrinterLanguage::Zpl,
            ::printing::PrinterLanguage::Tspl => PrinterLanguage::Tspl,
            ::printing::PrinterLanguage::Escpos => PrinterLanguage::Escpos,
            ::printing::PrinterLanguage::Pdf => PrinterLanguage::Pdf,
        }
    }
}

impl From<LabelSymbology> for ::printing::LabelSymbology {
    fn from(symbology: LabelSymbology) -> Self {
        match symbology {
            LabelSymbology::DataMatrix => ::printing::LabelSymbology::DataMatrix,
            LabelSymbology::Gs1_128 => ::printing::LabelSymbology::Gs1_128,
            LabelSymbology::Both => ::printing::LabelSymbology::Both,
        }
    }
}

impl From<::printing::LabelSymbology> for LabelSymbology {
    fn from(symbology: ::printing::LabelSymbology) -> Self {
        match symbology {
            ::printing::LabelSymbology::DataMatrix => LabelSymbology::DataMatrix,
            ::printing::LabelSymbology::Gs1_128 => LabelSymbology::Gs1_128,
            ::printing::LabelSymbology::Both => LabelSymbology::Both,
        }
    }
}

impl From<&PrinterConnection> for Connection {
    fn from(connection: &PrinterConnection) -> Self {
        match connection {
            PrinterConnection::Tcp { host, port } => Connection::Tcp { host: host.trim().to_string(), port: *port },
            PrinterConnection::Cups { queue } => Connection::Cups { queue: queue.trim().to_string() },
            PrinterConnection::Serial { port, baud, flow } => Connection::Serial {
                port: port.trim().to_string(),
                baud: *baud,
                flow: match flow {
                    SerialFlow::None => Flow::None,
                    SerialFlow::Hardware => Flow::Hardware,
                    SerialFlow::Software => Flow::Software,
                },
            },
        }
    }
}

impl From<Connection> for PrinterConnection {
    fn from(connection: Connection) -> Self {
        match connection {
            Connection::Tcp { host, port } => PrinterConnection::Tcp { host, port },
            Connection::Cups { queue } => PrinterConnection::Cups { queue },
            Connection::Serial { port, baud, flow } => PrinterConnection::Serial {
                port,
                baud,
                flow: match flow {
                    Flow::None => SerialFlow::None,
                    Flow::Hardware => SerialFlow::Hardware,
                    Flow::Software => SerialFlow::Software,
                },
            },
        }
    }
}

impl PrinterSetup {
    /// The URI and profile to store, checked the way `printing` will read them back.
    pub fn stored(&self) -> Result<(String, PrinterProfile), PrintError> {
        let uri = Connection::from(&self.connection).to_string();
        // Parsing the URI is the check: a host with spaces, port 0, an unknown baud rate …
        let uri = Connection::parse(&uri)?.to_string();
        let dpi = Dpi::try_from(self.dpi)
            .map_err(|_| PrintError::BadProfile { field: "dpi", value: self.dpi.to_string() })?;
        let paper = Paper::try_from(self.paper)
            .map_err(|_| PrintError::BadProfile { field: "paper", value: self.paper.to_string() })?;
        let profile = PrinterProfile {
            language: self.language.into(),
            label_width_mm: self.label_width_mm,
            label_height_mm: self.label_height_mm,
            dpi,
            paper,
            symbology: self.symbology.into(),
            font: self.font.as_deref().map(str::trim).filter(|f| !f.is_empty()).map(str::to_string),
        };
        profile.validate()?;
        Ok((uri, profile))
    }
}

impl PrinterView {
    /// A stored printer with its settings read back (null when unreadable).
    pub fn from_record(record: &PrinterRecord) -> PrinterView {
        let profile = serde_json::from_str::<PrinterProfile>(&record.profile).ok();
        let connection = Connection::parse(&record.uri).ok();
        let setup = profile.zip(connection).map(|(profile, connection)| PrinterSetup {
            name: record.name.clone(),
            language: profile.language.into(),
            connection: connection.into(),
            label_width_mm: profile.label_width_mm,
            label_height_mm: profile.label_height_mm,
            dpi: profile.dpi.value(),
            paper: profile.paper.into(),
            symbology: profile.symbology.into(),
            font: profile.font,
        });
        PrinterView { name: record.name.clone(), uri: record.uri.clone(), setup }
    }
}

/// The printing crate's error in the session language.
fn print_error(error: &PrintError, lang: Lang) -> ApiError {
    ApiError { code: error.code().to_string(), message: error.message(udi_lang(lang)) }
}

fn ledger_error(lang: Lang) -> impl Fn(ledger::LedgerError) -> ApiError {
    move |error| ApiError::from_ledger(&error, lang)
}

fn lock(ledger: &Mutex<Ledger>) -> std::sync::MutexGuard<'_, Ledger> {
    ledger.lock().expect("ledger lock")
}

fn render_options(ledger: &Ledger, lang: Lang) -> RenderOptions {
    RenderOptions { today: ledger.clock().today(), lang: udi_lang(lang) }
}

fn stored_profile(record: &PrinterRecord, lang: Lang) -> Reply<PrinterProfile> {
    serde_json::from_str(&record.profile).map_err(|_| {
        ApiError::app(
            "printer_profile_unreadable",
            &format!("打印机 {} 的设置无法读取。请在打印机设置中重新保存。", record.name),
            &format!(
                "The settings of printer {} cannot be read. Save the printer again in the printer settings.",
                record.name
            ),
            lang,
        )
    })
}

// ---- the print worker --------------------------------------------------------

/// What became of handing a job to the worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handed {
    /// The worker will send it.
    Taken,
    /// The worker holds it already (a second retry while it is being sent).
    AlreadySending,
    /// The worker has `PRINT_CHANNEL_MAX` jobs waiting; this one stays queued for a retry.
    Busy,
}

/// One thread that sends queued jobs in order, behind a bounded channel.
pub struct PrintWorker {
    sender: SyncSender<String>,
    /// Jobs handed over and not finished.
    sending: Arc<Mutex<HashSet<String>>>,
}

impl PrintWorker {
    /// Starts the app's worker: each job is sent with [`send_job`] on the
    /// app's ledger, and the outcome goes to the window as [`PRINT_EVENT`].
    pub fn start(app: AppHandle) -> std::io::Result<PrintWorker> {
        let sender_app = app.clone();
        PrintWorker::spawn(
            move |job| {
                let state = sender_app.state::<AppState>();
                let lang = lang(&state);
                // A job cancelled before its turn is no longer waiting: nothing to send.
                send_job(&state.ledger, job, lang).or_else(|_| lock(&state.ledger).print_job(job))
            },
            move |finished| {
                if let Ok(job) = finished {
                    // A closed window only misses the news; the ledger has the outcome.
                    let _ = app.emit(PRINT_EVENT, PrintJobRow { job, sending: false });
                }
            },
        )
    }

    /// A worker thread that calls `send` for each job handed over, in order,
    /// and `done` with its outcome once the job no longer counts as sending.
    pub fn spawn<T: Send + 'static>(
        mut send: impl FnMut(&str) -> T + Send + 'static,
        mut done: impl FnMut(T) + Send + 'static,
    ) -> std::io::Result<PrintWorker> {
        let (sender, receiver): (SyncSender<String>, Receiver<String>) = sync_channel(PRINT_CHANNEL_MAX);
        let sending: Arc<Mutex<HashSet<String>>> = Arc::default();
        let held = sending.clone();
        std::thread::Builder::new().name("print-worker".into()).spawn(move || {
            for job in receiver {
                let outcome = send(&job);
                held.lock().expect("print worker lock").remove(&job);
                done(outcome);
            }
        })?;
        Ok(PrintWorker { sender, sending })
    }

    /// Hands a queued job to the worker without waiting.
    pub fn hand(&self, job: &str) -> Handed {
        let mut sending = self.sending.lock().expect("print worker lock");
        if sending.contains(job) {
            return Handed::AlreadySending;
        }
        match self.sender.try_send(job.to_string()) {
            Ok(()) => {
                sending.insert(job.to_string());
                Handed::Taken
            }
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => Handed::Busy,
        }
    }

    pub fn is_sending(&self, job: &str) -> bool {
        self.sending.lock().expect("print worker lock").contains(job)
    }

    fn row(&self, job: PrintJobView) -> PrintJobRow {
        let sending = self.is_sending(&job.id);
        PrintJobRow { job, sending }
    }
}

/// Sends one waiting job and records the outcome: sent, or failed with its
/// error in `lang` (kept for a retry). The ledger is not locked while the
/// printer is written to.
pub fn send_job(ledger: &Mutex<Ledger>, job: &str, lang: Lang) -> ledger::Result<PrintJobView> {
    let waiting = lock(ledger).print_job_payload(job)?;
    let outcome = Connection::parse(&waiting.printer.uri)
        .and_then(|connection| ::printing::send(&connection, &waiting.payload))
        .map_err(|e| format!("[{}] {}", e.code(), e.message(udi_lang(lang))));
    lock(ledger).finish_print_job(job, outcome)
}

// ---- what the commands do, without Tauri --------------------------------------

/// Adds or changes a printer as `user` (who may edit master data).
pub fn set_printer_as(ledger: &Mutex<Ledger>, user: &str, setup: &PrinterSetup, lang: Lang) -> Reply<PrinterView> {
    let (uri, profile) = setup.stored().map_err(|e| print_error(&e, lang))?;
    let profile = serde_json::to_string(&profile).expect("a profile serialises");
    let record = lock(ledger).set_printer(user, &setup.name, &uri, &profile).map_err(ledger_error(lang))?;
    Ok(PrinterView::from_record(&record))
}

/// The labels of a request, read from the ledger (lots' expiry, the items' names).
fn label_data(ledger: &Ledger, labels: &[LabelRequest], lang: Lang) -> Reply<Vec<LabelData>> {
    if labels.len() > LABEL_REQUESTS_MAX {
        let error = PrintError::TooManyLines { count: labels.len(), max: LABEL_REQUESTS_MAX };
        return Err(print_error(&error, lang));
    }
    let total: u64 = labels.iter().map(|l| u64::from(l.copies)).sum();
    if total > ::printing::LABELS_PER_JOB_MAX as u64 {
        let error = PrintError::TooManyLabels { count: total as usize, max: ::printing::LABELS_PER_JOB_MAX };
        return Err(print_error(&error, lang));
    }
    let mut out = Vec::with_capacity(total as usize);
    for request in labels.iter().filter(|l| l.copies > 0) {
        let label =
            from_ledger::label_data(ledger, &request.item, request.lot.as_deref(), request.serial.as_deref(), lang)
                .map_err(ledger_error(lang))?;
        out.extend(std::iter::repeat_n(label, request.copies as usize));
    }
    if out.is_empty() {
        return Err(print_error(&PrintError::NoLabels, lang));
    }
    Ok(out)
}

/// "RK-S01-000001: 3 × 09506000134352 L7, 1 × 06981205304251 SN1" (the ledger keeps 200 characters).
fn labels_description(request: &PrintLabelsRequest) -> String {
    let parts: Vec<String> = request
        .labels
        .iter()
        .filter(|l| l.copies > 0)
        .map(|l| {
            let which = l.serial.as_deref().or(l.lot.as_deref()).unwrap_or("").trim();
            format!("{} × {} {which}", l.copies, l.item.trim()).trim_end().to_string()
        })
        .collect();
    match &request.document {
        Some(document) if !document.trim().is_empty() => format!("{}: {}", document.trim(), parts.join(", ")),
        _ => parts.join(", "),
    }
}

/// One label as a PNG, laid out for `printer` (else a 60 × 40 mm, 203 dpi label).
pub fn preview_label_as(
    ledger: &Mutex<Ledger>,
    label: &LabelRequest,
    printer: Option<&str>,
    lang: Lang,
) -> Reply<Vec<u8>> {
    let request = LabelRequest { copies: 1, ..label.clone() };
    let (data, profile, options) = {
        let ledger = lock(ledger);
        let profile = match printer.map(str::trim).filter(|p| !p.is_empty()) {
            Some(name) => stored_profile(&ledger.printer(name).map_err(ledger_error(lang))?, lang)?,
            None => PrinterProfile::new(::printing::PrinterLanguage::Pdf),
        };
        (label_data(&ledger, &[request], lang)?, profile, render_options(&ledger, lang))
    };
    let fonts = Fonts::system().map_err(|e| print_error(&e, lang))?;
    ::printing::label_png(&data[0], &profile, &options, &fonts).map_err(|e| print_error(&e, lang))
}

/// A posted document as an A4 PDF, whatever printer it will go to.
pub fn preview_document_as(ledger: &Mutex<Ledger>, user: &str, document: &str, lang: Lang) -> Reply<Vec<u8>> {
    let (data, options) = {
        let ledger = lock(ledger);
        let data = from_ledger::document_data(&ledger, document, user, lang).map_err(ledger_error(lang))?;
        (data, render_options(&ledger, lang))
    };
    let fonts = Fonts::system().map_err(|e| print_error(&e, lang))?;
    ::printing::document_pdf(&data, &options, &fonts).map_err(|e| print_error(&e, lang))
}

/// Renders labels in the printer's language, queues the job and hands it to the worker.
pub fn print_labels_as(
    ledger: &Mutex<Ledger>,
    worker: &PrintWorker,
    user: &str,
    request: &PrintLabelsRequest,
    lang: Lang,
) -> Reply<PrintJobRow> {
    let (labels, record, options) = {
        let ledger = lock(ledger);
        let record = ledger.printer(&request.printer).map_err(ledger_error(lang))?;
        (label_data(&ledger, &request.labels, lang)?, record, render_options(&ledger, lang))
    };
    let profile = stored_profile(&record, lang)?;
    let bytes = ::printing::render_labels(&labels, &profile, &options, None).map_err(|e| print_error(&e, lang))?;
    queue_and_hand(ledger, worker, user, &record.name, PrintJobKind::Label, &labels_description(request), &bytes, lang)
}

/// Renders a posted document for the printer (A4 PDF, or ESC/POS on a receipt printer) and queues it.
pub fn print_document_as(
    ledger: &Mutex<Ledger>,
    worker: &PrintWorker,
    user: &str,
    document: &str,
    printer: &str,
    lang: Lang,
) -> Reply<PrintJobRow> {
    let (data, record, options) = {
        let ledger = lock(ledger);
        let record = ledger.printer(printer).map_err(ledger_error(lang))?;
        let data = from_ledger::document_data(&ledger, document, user, lang).map_err(ledger_error(lang))?;
        (data, record, render_options(&ledger, lang))
    };
    let profile = stored_profile(&record, lang)?;
    let bytes = ::printing::render_document(&data, &profile, &options, None).map_err(|e| print_error(&e, lang))?;
    queue_and_hand(ledger, worker, user, &record.name, PrintJobKind::Document, &data.number, &bytes, lang)
}

#[allow(clippy::too_many_arguments)]
fn queue_and_hand(
    ledger: &Mutex<Ledger>,
    worker: &PrintWorker,
    user: &str,
    printer: &str,
    kind: PrintJobKind,
    description: &str,
    bytes: &[u8],
    lang: Lang,
) -> Reply<PrintJobRow> {
    let job = {
        let mut ledger = lock(ledger);
        let id = ledger.queue_print_job(user, printer, kind, description, bytes).map_err(ledger_error(lang))?;
        ledger.print_job(&id).map_err(ledger_error(lang))?
    };
    worker.hand(&job.id);
    Ok(worker.row(job))
}

/// The queue: waiting and failed jobs, or (all) also sent and cancelled ones.
pub fn print_jobs_as(ledger: &Mutex<Ledger>, worker: &PrintWorker, all: bool, lang: Lang) -> Reply<Vec<PrintJobRow>> {
    let jobs = lock(ledger).print_jobs(all).map_err(ledger_error(lang))?;
    Ok(jobs.into_iter().map(|job| worker.row(job)).collect())
}

fn refuse_while_sending(worker: &PrintWorker, job: &str, lang: Lang) -> Reply<()> {
    if worker.is_sending(job) {
        return Err(ApiError::app(
            "print_job_sending",
            "该打印任务正在发送，请等待结果后再操作。",
            "The job is being sent right now. Wait for the outcome, then try again.",
            lang,
        ));
    }
    Ok(())
}

/// Sends a waiting or failed job again, to its printer or (`printer`) another one.
pub fn retry_print_job_as(
    ledger: &Mutex<Ledger>,
    worker: &PrintWorker,
    user: &str,
    job: &str,
    printer: Option<&str>,
    lang: Lang,
) -> Reply<PrintJobRow> {
    let job = {
        let mut ledger = lock(ledger);
        match printer.map(str::trim).filter(|p| !p.is_empty()) {
            Some(printer) => {
                refuse_while_sending(worker, job, lang)?;
                ledger.move_print_job(user, job, printer).map_err(ledger_error(lang))?
            }
            None => {
                // Only a waiting or failed job may be sent (its bytes are still there).
                ledger.print_job_payload(job).map_err(ledger_error(lang))?;
                ledger.print_job(job).map_err(ledger_error(lang))?
            }
        }
    };
    worker.hand(&job.id);
    Ok(worker.row(job))
}

/// Gives up a waiting or failed job (not one being sent).
pub fn cancel_print_job_as(
    ledger: &Mutex<Ledger>,
    worker: &PrintWorker,
    user: &str,
    job: &str,
    lang: Lang,
) -> Reply<PrintJobRow> {
    refuse_while_sending(worker, job, lang)?;
    let job = lock(ledger).cancel_print_job(user, job).map_err(ledger_error(lang))?;
    Ok(worker.row(job))
}

// ---- the commands -----------------------------------------------------------

#[tauri::command(async)]
pub fn list_printers(state: State<'_, AppState>) -> Reply<Vec<PrinterView>> {
    let lang = lang(&state);
    let records = lock(&state.ledger).printers().map_err(ledger_error(lang))?;
    Ok(records.iter().map(PrinterView::from_record).collect())
}

/// Adds or changes a printer as the session user.
#[tauri::command(async)]
pub fn set_printer(state: State<'_, AppState>, setup: PrinterSetup) -> Reply<PrinterView> {
    let user = session_user(&state)?;
    set_printer_as(&state.ledger, &user, &setup, lang(&state))
}

/// One label as PNG bytes (the front end gets an ArrayBuffer).
#[tauri::command(async)]
pub fn preview_label(state: State<'_, AppState>, label: LabelRequest, printer: Option<String>) -> Reply<Response> {
    preview_label_as(&state.ledger, &label, printer.as_deref(), lang(&state)).map(Response::new)
}

/// A posted document as A4 PDF bytes.
#[tauri::command(async)]
pub fn preview_document(state: State<'_, AppState>, document: String) -> Reply<Response> {
    let user = session_user(&state)?;
    preview_document_as(&state.ledger, &user, &document, lang(&state)).map(Response::new)
}

#[tauri::command(async)]
pub fn print_labels(
    state: State<'_, AppState>,
    worker: State<'_, PrintWorker>,
    request: PrintLabelsRequest,
) -> Reply<PrintJobRow> {
    let user = session_user(&state)?;
    print_labels_as(&state.ledger, &worker, &user, &request, lang(&state))
}

#[tauri::command(async)]
pub fn print_document(
    state: State<'_, AppState>,
    worker: State<'_, PrintWorker>,
    document: String,
    printer: String,
) -> Reply<PrintJobRow> {
    let user = session_user(&state)?;
    print_document_as(&state.ledger, &worker, &user, &document, &printer, lang(&state))
}

#[tauri::command(async)]
pub fn print_jobs(state: State<'_, AppState>, worker: State<'_, PrintWorker>, all: bool) -> Reply<Vec<PrintJobRow>> {
    print_jobs_as(&state.ledger, &worker, all, lang(&state))
}

#[tauri::command(async)]
pub fn retry_print_job(
    state: State<'_, AppState>,
    worker: State<'_, PrintWorker>,
    job: String,
    printer: Option<String>,
) -> Reply<PrintJobRow> {
    let user = session_user(&state)?;
    retry_print_job_as(&state.ledger, &worker, &user, &job, printer.as_deref(), lang(&state))
}

#[tauri::command(async)]
pub fn cancel_print_job(state: State<'_, AppState>, worker: State<'_, PrintWorker>, job: String) -> Reply<PrintJobRow> {
    let user = session_user(&state)?;
    cancel_print_job_as(&state.ledger, &worker, &user, &job, lang(&state))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger::{DocumentKind, DocumentRequest, LineRequest, LocationKind, NewItem, NewLocation, NewUser, Role};
    use std::io::Read;
    use std::sync::mpsc::{channel, Receiver as Outcomes};
    use std::time::Duration;

    const SYRINGE: &str = "09506000134352";
    const STENT: &str = "06981205304251";

    /// A ledger with a clerk and a manager, a syringe and a serial-tracked stent, and receipt RK-T01-000001.
    fn ledger() -> (tempfile::TempDir, Arc<Mutex<Ledger>>) {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = Ledger::open(&dir.path().join("printing.sqlite")).unwrap();
        ledger.init("T01", "测试医院").unwrap();
        for (username, role) in [("wangli", Role::Clerk), ("zhaoqiang", Role::Manager)] {
            let user = NewUser { username: username.into(), display_name: username.into(), role, language: Lang::Zh };
            ledger.add_user(&user).unwrap();
        }
        ledger
            .add_location(&NewLocation {
                code: "MAIN".into(),
                name: "中心库".into(),
                name_en: "Central storeroom".into(),
                kind: LocationKind::Storeroom,
                department: None,
                min_temp_c: None,
                max_temp_c: None,
            })
            .unwrap();
        for (code, name, serialized) in [(SYRINGE, "一次性使用无菌注射器", false), (STENT, "冠状动脉支架", true)]
        {
            let item = NewItem {
                code: code.into(),
                name: name.into(),
                unit: "支".into(),
                pack_size: 1,
                serialized,
                ..NewItem::default()
            };
            ledger.add_item(&item).unwrap();
        }
        let line = |item: &str, lot: &str, serial: Option<&str>, quantity: i64| LineRequest {
            item: item.into(),
            lot: Some(lot.into()),
            expiry: Some("2030-01-31".parse().unwrap()),
            production_date: None,
            serial: serial.map(str::to_string),
            quantity,
            unit_cost: None,
        };
        ledger
            .post(&DocumentRequest {
                kind: DocumentKind::Receipt,
                user: "wangli".into(),
                location: "MAIN".into(),
                to_location: None,
                department: None,
                supplier: None,
                lines: vec![line(SYRINGE, "L7", None, 10), line(STENT, "B1", Some("SN1"), 1)],
                note: String::new(),
                override_: None,
            })
            .unwrap();
        (dir, Arc::new(Mutex::new(ledger)))
    }

    fn setup(name: &str, language: PrinterLanguage, connection: PrinterConnection) -> PrinterSetup {
        PrinterSetup {
            name: name.into(),
            language,
            connection,
            label_width_mm: 60.0,
            label_height_mm: 40.0,
            dpi: 203,
            paper: 80,
            symbology: LabelSymbology::DataMatrix,
            font: None,
        }
    }

    fn tcp(port: u16) -> PrinterConnection {
        PrinterConnection::Tcp { host: "127.0.0.1".into(), port }
    }

    /// A raw TCP 9100 printer on a free port: what it received, once the job's connection closed.
    fn raw_printer() -> (u16, std::thread::JoinHandle<Vec<u8>>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let handle = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut received = Vec::new();
            stream.read_to_end(&mut received).unwrap();
            received
        });
        (port, handle)
    }

    /// A port nothing listens on.
    fn closed_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
    }

    /// The app's worker on this ledger, its outcomes on a channel.
    fn worker(ledger: &Arc<Mutex<Ledger>>) -> (PrintWorker, Outcomes<ledger::Result<PrintJobView>>) {
        let (tx, rx) = channel();
        let ledger = ledger.clone();
        let worker =
            PrintWorker::spawn(move |job| send_job(&ledger, job, Lang::En), move |outcome| tx.send(outcome).unwrap())
                .unwrap();
        (worker, rx)
    }

    fn receipt_labels(printer: &str, syringe_copies: u32) -> PrintLabelsRequest {
        PrintLabelsRequest {
            printer: printer.into(),
            document: Some("RK-T01-000001".into()),
            labels: vec![
                LabelRequest { item: SYRINGE.into(), lot: Some("L7".into()), serial: None, copies: syringe_copies },
                LabelRequest { item: STENT.into(), lot: Some("B1".into()), serial: Some("SN1".into()), copies: 1 },
            ],
        }
    }

    #[test]
    fn a_printer_set_in_the_app_is_stored_as_the_cli_stores_it_and_reads_back_the_same() {
        let (_dir, ledger) = ledger();
        let cases = [
            (setup("zebra1", PrinterLanguage::Zpl, tcp(9100)), "tcp://127.0.0.1:9100"),
            (
                PrinterSetup {
                    label_width_mm: 100.0,
                    label_height_mm: 50.0,
                    dpi: 300,
                    symbology: LabelSymbology::Both,
                    ..setup("tsc.1", PrinterLanguage::Tspl, PrinterConnection::Cups { queue: "TSC_TE244".into() })
                },
                "cups://TSC_TE244",
            ),
            (
                PrinterSetup {
                    paper: 58,
                    ..setup(
                        "receipt",
                        PrinterLanguage::Escpos,
                        PrinterConnection::Serial {
                            port: "/dev/ttyUSB0".into(),
                            baud: 19200,
                            flow: SerialFlow::Hardware,
                        },
                    )
                },
                "serial:///dev/ttyUSB0?baud=19200&flow=hardware",
            ),
        ];
        for (wanted, uri) in cases {
            let view = set_printer_as(&ledger, "zhaoqiang", &wanted, Lang::En).unwrap();
            assert_eq!(view.uri, uri);
            assert_eq!(view.setup.as_ref(), Some(&wanted));
            // The profile JSON is printing's own PrinterProfile, as `medledger printer add` writes it.
            let record = lock(&ledger).printer(&wanted.name).unwrap();
            let profile: PrinterProfile = serde_json::from_str(&record.profile).unwrap();
            assert_eq!(profile, wanted.stored().unwrap().1);
            assert_eq!(Connection::parse(&record.uri).unwrap(), Connection::from(&wanted.connection));
        }
        let listed: Vec<PrinterView> = lock(&ledger).printers().unwrap().iter().map(PrinterView::from_record).collect();
        assert_eq!(listed.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["receipt", "tsc.1", "zebra1"]);
        assert!(listed.iter().all(|p| p.setup.is_some()));
        // Changing a printer replaces it.
        let moved = setup("zebra1", PrinterLanguage::Zpl, tcp(9101));
        assert_eq!(set_printer_as(&ledger, "zhaoqiang", &moved, Lang::En).unwrap().uri, "tcp://127.0.0.1:9101");
        assert_eq!(lock(&ledger).printers().unwrap().len(), 3);
    }

    #[test]
    fn a_bad_address_or_profile_or_name_is_refused_and_nothing_is_stored() {
        let (_dir, ledger) = ledger();
        let good = setup("zebra1", PrinterLanguage::Zpl, tcp(9100));
        let cases = [
            (
                PrinterSetup {
                    connection: PrinterConnection::Tcp { host: "bad host".into(), port: 9100 },
                    ..good.clone()
                },
                "bad_printer_uri",
            ),
            (PrinterSetup { connection: tcp(0), ..good.clone() }, "bad_printer_uri"),
            (
                PrinterSetup { connection: PrinterConnection::Cups { queue: "-o evil".into() }, ..good.clone() },
                "bad_printer_uri",
            ),
            (
                PrinterSetup {
                    connection: PrinterConnection::Serial {
                        port: "/dev/ttyS0".into(),
                        baud: 1234,
                        flow: SerialFlow::None,
                    },
                    ..good.clone()
                },
                "bad_printer_uri",
            ),
            (PrinterSetup { dpi: 250, ..good.clone() }, "bad_profile"),
            (PrinterSetup { paper: 76, ..good.clone() }, "bad_profile"),
            (PrinterSetup { label_width_mm: 5.0, ..good.clone() }, "bad_profile"),
            (PrinterSetup { font: Some("E:ANMDS.TTF^XZ".into()), ..good.clone() }, "bad_profile"),
            (PrinterSetup { name: "zebra 1".into(), ..good.clone() }, "invalid_input"),
        ];
        for (wanted, code) in cases {
            let error = set_printer_as(&ledger, "zhaoqiang", &wanted, Lang::Zh).unwrap_err();
            assert_eq!(error.code, code, "{wanted:?}");
            assert!(!error.message.is_empty());
        }
        // Printers are master data: a clerk may not set them.
        assert_eq!(set_printer_as(&ledger, "wangli", &good, Lang::En).unwrap_err().code, "forbidden");
        assert!(lock(&ledger).printers().unwrap().is_empty());
    }

    #[test]
    fn receipt_labels_are_queued_at_once_and_reach_the_printer_byte_for_byte_from_the_worker() {
        let (_dir, ledger) = ledger();
        let (port, printer) = raw_printer();
        set_printer_as(&ledger, "zhaoqiang", &setup("zebra1", PrinterLanguage::Zpl, tcp(port)), Lang::En).unwrap();
        // The worker may not start sending until the test lets it: the command must not wait for it.
        let (go, gate) = channel::<()>();
        let (tx, outcomes) = channel();
        let sender_ledger = ledger.clone();
        let worker = PrintWorker::spawn(
            move |job| {
                gate.recv().unwrap();
                send_job(&sender_ledger, job, Lang::En)
            },
            move |outcome| tx.send(outcome).unwrap(),
        )
        .unwrap();

        let queued = print_labels_as(&ledger, &worker, "wangli", &receipt_labels("zebra1", 3), Lang::En).unwrap();
        assert_eq!((queued.job.status, queued.sending), (ledger::PrintJobStatus::Queued, true));
        assert_eq!(queued.job.kind, PrintJobKind::Label);
        assert_eq!(queued.job.description, "RK-T01-000001: 3 × 09506000134352 L7, 1 × 06981205304251 SN1");
        // While it is being sent it can neither be cancelled nor moved, and a second retry is the same attempt.
        assert_eq!(
            cancel_print_job_as(&ledger, &worker, "wangli", &queued.job.id, Lang::En).unwrap_err().code,
            "print_job_sending"
        );
        let again = retry_print_job_as(&ledger, &worker, "wangli", &queued.job.id, None, Lang::En).unwrap();
        assert!(again.sending);
        let listed = print_jobs_as(&ledger, &worker, false, Lang::En).unwrap();
        assert_eq!(listed, vec![queued.clone()]);

        go.send(()).unwrap();
        let sent = outcomes.recv_timeout(Duration::from_secs(20)).unwrap().unwrap();
        assert_eq!((sent.status, sent.attempts, sent.last_error.as_deref()), (ledger::PrintJobStatus::Sent, 1, None));
        assert!(!worker.is_sending(&sent.id));
        // Exactly the labels `printing` renders from the ledger's data: 3 of the lot, 1 of the unit.
        let received = printer.join().unwrap();
        let expected = {
            let ledger = lock(&ledger);
            let labels = label_data(&ledger, &receipt_labels("zebra1", 3).labels, Lang::En).unwrap();
            let profile = PrinterProfile::new(::printing::PrinterLanguage::Zpl);
            ::printing::render_labels(&labels, &profile, &render_options(&ledger, Lang::En), None).unwrap()
        };
        assert_eq!(received, expected);
        let text = String::from_utf8(received).unwrap();
        assert_eq!(text.matches("^XA").count(), 4);
        assert_eq!(text.matches("^FD_101095060001343521730013110L7^FS").count(), 3, "{text}");
        assert!(text.contains("10B1_121SN1"), "{text}");
        assert!(print_jobs_as(&ledger, &worker, false, Lang::En).unwrap().is_empty());
    }

    #[test]
    fn a_refused_connection_leaves_the_job_failed_with_its_error_and_it_can_go_to_another_printer() {
        let (_dir, ledger) = ledger();
        set_printer_as(&ledger, "zhaoqiang", &setup("offline", PrinterLanguage::Zpl, tcp(closed_port())), Lang::En)
            .unwrap();
        let (worker, outcomes) = worker(&ledger);
        let queued = print_labels_as(&ledger, &worker, "wangli", &receipt_labels("offline", 1), Lang::En).unwrap();
        let failed = outcomes.recv_timeout(Duration::from_secs(20)).unwrap().unwrap();
        assert_eq!(
            (failed.id.as_str(), failed.status, failed.attempts),
            (queued.job.id.as_str(), ledger::PrintJobStatus::Failed, 1)
        );
        let error = failed.last_error.clone().unwrap();
        assert!(error.starts_with("[printer_refused] "), "{error}");
        let listed = print_jobs_as(&ledger, &worker, false, Lang::En).unwrap();
        assert_eq!(listed, vec![PrintJobRow { job: failed.clone(), sending: false }]);

        // Retried to its own printer, it fails again; sent elsewhere it goes through.
        retry_print_job_as(&ledger, &worker, "wangli", &failed.id, None, Lang::En).unwrap();
        assert_eq!(outcomes.recv_timeout(Duration::from_secs(20)).unwrap().unwrap().attempts, 2);
        // Not to a printer of another language: the kept bytes are ZPL.
        set_printer_as(&ledger, "zhaoqiang", &setup("a4", PrinterLanguage::Pdf, tcp(closed_port())), Lang::En).unwrap();
        let refused = retry_print_job_as(&ledger, &worker, "wangli", &failed.id, Some("a4"), Lang::En).unwrap_err();
        assert_eq!(refused.code, "invalid_input");
        let (port, printer) = raw_printer();
        set_printer_as(&ledger, "zhaoqiang", &setup("zebra2", PrinterLanguage::Zpl, tcp(port)), Lang::En).unwrap();
        let moved = retry_print_job_as(&ledger, &worker, "wangli", &failed.id, Some("zebra2"), Lang::En).unwrap();
        assert_eq!(moved.job.printer, "zebra2");
        let sent = outcomes.recv_timeout(Duration::from_secs(20)).unwrap().unwrap();
        assert_eq!((sent.status, sent.printer.as_str(), sent.attempts), (ledger::PrintJobStatus::Sent, "zebra2", 3));
        assert!(String::from_utf8(printer.join().unwrap()).unwrap().starts_with("^XA"));
        // A sent job is no longer waiting: nothing to retry or cancel.
        assert_eq!(
            retry_print_job_as(&ledger, &worker, "wangli", &sent.id, None, Lang::En).unwrap_err().code,
            "unknown_print_job"
        );
        assert_eq!(
            cancel_print_job_as(&ledger, &worker, "wangli", &sent.id, Lang::En).unwrap_err().code,
            "unknown_print_job"
        );
    }

    #[test]
    fn a_failed_job_can_be_cancelled() {
        let (_dir, ledger) = ledger();
        set_printer_as(&ledger, "zhaoqiang", &setup("offline", PrinterLanguage::Pdf, tcp(closed_port())), Lang::En)
            .unwrap();
        let (worker, outcomes) = worker(&ledger);
        print_document_as(&ledger, &worker, "wangli", "RK-T01-000001", "offline", Lang::En).unwrap();
        let failed = outcomes.recv_timeout(Duration::from_secs(20)).unwrap().unwrap();
        assert_eq!((failed.kind, failed.description.as_str()), (PrintJobKind::Document, "RK-T01-000001"));
        let cancelled = cancel_print_job_as(&ledger, &worker, "wangli", &failed.id, Lang::En).unwrap();
        assert_eq!(cancelled.job.status, ledger::PrintJobStatus::Cancelled);
        assert!(print_jobs_as(&ledger, &worker, false, Lang::En).unwrap().is_empty());
        assert_eq!(print_jobs_as(&ledger, &worker, true, Lang::En).unwrap().len(), 1);
    }

    #[test]
    fn the_worker_holds_at_most_its_limit_and_never_takes_a_job_twice() {
        let (release, gate) = channel::<()>();
        let (tx, done) = channel();
        let worker = PrintWorker::spawn(
            move |job| {
                gate.recv().unwrap();
                job.to_string()
            },
            move |job| tx.send(job).unwrap(),
        )
        .unwrap();
        assert_eq!(worker.hand("job-0"), Handed::Taken);
        // The thread takes job-0 off the channel and waits in it.
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(worker.hand("job-0"), Handed::AlreadySending);
        for n in 1..=PRINT_CHANNEL_MAX {
            assert_eq!(worker.hand(&format!("job-{n}")), Handed::Taken, "job {n}");
        }
        assert_eq!(worker.hand("one-too-many"), Handed::Busy);
        assert!(!worker.is_sending("one-too-many"));
        for _ in 0..=PRINT_CHANNEL_MAX {
            release.send(()).unwrap();
        }
        let finished: Vec<String> =
            (0..=PRINT_CHANNEL_MAX).map(|_| done.recv_timeout(Duration::from_secs(5)).unwrap()).collect();
        assert_eq!(finished, (0..=PRINT_CHANNEL_MAX).map(|n| format!("job-{n}")).collect::<Vec<_>>(), "in order");
        assert!(!worker.is_sending("job-0"));
        assert_eq!(worker.hand("one-too-many"), Handed::Taken);
    }

    #[test]
    fn label_requests_are_checked_before_anything_is_rendered_or_queued() {
        let (_dir, ledger) = ledger();
        set_printer_as(&ledger, "zhaoqiang", &setup("zebra1", PrinterLanguage::Zpl, tcp(closed_port())), Lang::En)
            .unwrap();
        let (worker, _outcomes) = worker(&ledger);
        let label = |copies: u32| LabelRequest { item: SYRINGE.into(), lot: Some("L7".into()), serial: None, copies };
        let request = |labels: Vec<LabelRequest>, printer: &str| PrintLabelsRequest {
            printer: printer.into(),
            document: None,
            labels,
        };
        let at_limit = vec![label(::printing::LABELS_PER_JOB_MAX as u32 - 1), label(1)];
        let cases = [
            (request(vec![label(0)], "zebra1"), "no_labels"),
            (request(vec![label(::printing::LABELS_PER_JOB_MAX as u32), label(1)], "zebra1"), "too_many_labels"),
            (request(vec![label(u32::MAX), label(u32::MAX)], "zebra1"), "too_many_labels"),
            (request(vec![LabelRequest { item: "NOPE".into(), ..label(1) }], "zebra1"), "unknown_item"),
            (request(vec![label(1)], "nobody"), "unknown_printer"),
        ];
        for (wanted, code) in cases {
            assert_eq!(print_labels_as(&ledger, &worker, "wangli", &wanted, Lang::En).unwrap_err().code, code);
        }
        assert!(print_jobs_as(&ledger, &worker, true, Lang::En).unwrap().is_empty());
        // A label printer cannot print an A4 document.
        let error = print_document_as(&ledger, &worker, "wangli", "RK-T01-000001", "zebra1", Lang::En).unwrap_err();
        assert_eq!(error.code, "unsupported_output");
        // At the limit, the job is made.
        let queued = print_labels_as(&ledger, &worker, "wangli", &request(at_limit, "zebra1"), Lang::En).unwrap();
        assert_eq!(
            queued.job.description,
            format!("{} × {SYRINGE} L7, 1 × {SYRINGE} L7", ::printing::LABELS_PER_JOB_MAX - 1)
        );
    }

    #[test]
    fn previews_are_a_png_label_at_the_printers_size_and_an_a4_pdf() {
        let (_dir, ledger) = ledger();
        let big = PrinterSetup {
            label_width_mm: 100.0,
            label_height_mm: 50.0,
            dpi: 300,
            ..setup("big", PrinterLanguage::Zpl, tcp(9100))
        };
        set_printer_as(&ledger, "zhaoqiang", &big, Lang::En).unwrap();
        let label = LabelRequest { item: SYRINGE.into(), lot: Some("L7".into()), serial: None, copies: 7 };
        let png_size = |png: &[u8]| {
            assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
            (u32::from_be_bytes(png[16..20].try_into().unwrap()), u32::from_be_bytes(png[20..24].try_into().unwrap()))
        };
        // One pixel per printer dot: 60 × 40 mm at 8 dots/mm by default, 100 × 50 mm at 300 dpi on "big".
        assert_eq!(png_size(&preview_label_as(&ledger, &label, None, Lang::Zh).unwrap()), (480, 320));
        assert_eq!(png_size(&preview_label_as(&ledger, &label, Some("big"), Lang::Zh).unwrap()), (1181, 591));
        let pdf = preview_document_as(&ledger, "wangli", "RK-T01-000001", Lang::Zh).unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        assert_eq!(
            preview_document_as(&ledger, "wangli", "RK-T01-999999", Lang::En).unwrap_err().code,
            "unknown_document"
        );
        // Nothing was queued by looking.
        assert!(lock(&ledger).print_jobs(true).unwrap().is_empty());
    }
}
