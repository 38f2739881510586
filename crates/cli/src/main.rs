//! `medledger`: the ledger for administrators, scripts and tests.
//!
//! A thin shell: parse arguments, make one core call, print human text or
//! JSON (`--json`). Exit 0 on success, 2 on bad input with one line on stderr
//! (the core's message in the user's language), 1 when the machine failed.

mod barcode;
mod bench;
mod bench_sync;
mod coldchain;
mod device_commands;
mod print;
mod stocktake;
mod sync_commands;

use clap::{Args, Parser, Subcommand, ValueEnum};
use ledger::*;
use rust_decimal::Decimal;
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "medledger", version, about = "MedLedger — medical device and consumable stock ledger")]
struct Cli {
    /// The workstation's SQLite ledger file.
    #[arg(long, global = true, env = "MEDLEDGER_DB")]
    db: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// Acting user (username).
    #[arg(long, global = true, default_value = INITIAL_ADMIN)]
    user: String,
    /// Language of messages: zh or en (default: from LANG).
    #[arg(long, global = true)]
    lang: Option<LangArg>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LangArg {
    Zh,
    En,
}

#[derive(Subcommand)]
enum Command {
    /// Create this node's identity (site code) and the admin user.
    Init {
        /// Site code used in document numbers, e.g. S01.
        #[arg(long)]
        site: String,
        /// Workstation name.
        #[arg(long, default_value = "")]
        name: String,
    },
    /// Storage locations.
    Location {
        #[command(subcommand)]
        command: LocationCommand,
    },
    /// Departments (科室).
    Department {
        #[command(subcommand)]
        command: DepartmentCommand,
    },
    /// Suppliers.
    Supplier {
        #[command(subcommand)]
        command: SupplierCommand,
    },
    /// Local users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Catalogue items.
    Item {
        #[command(subcommand)]
        command: ItemCommand,
    },
    /// Receive a delivery (posts a receipt 入库单).
    Receive(ReceiveArgs),
    /// Issue to a department (posts an issue slip 出库单); FEFO when no lot is given.
    Issue(IssueArgs),
    /// Move stock between locations (posts a transfer 调拨单).
    Transfer(TransferArgs),
    /// Record a count: sets the key's balance as of now (posts a stocktake 盘点单).
    Count(CountArgs),
    /// Thermometers of cold units.
    Sensor {
        #[command(subcommand)]
        command: coldchain::SensorCommand,
    },
    /// The cold chain: poll sensors, logger files, manual readings, excursions.
    Coldchain {
        #[command(subcommand)]
        command: coldchain::ColdchainCommand,
    },
    /// Serial devices: ports, scanners, thermometers.
    Devices {
        #[command(subcommand)]
        command: device_commands::DevicesCommand,
    },
    /// This workstation's printers.
    Printer {
        #[command(subcommand)]
        command: print::PrinterCommand,
    },
    /// Print labels and documents, to a file or a printer; the print queue.
    Print {
        #[command(subcommand)]
        command: print::PrintCommand,
    },
    /// Stocktakes (盘点单) counted with scanners: start, scan, import, variance, recount, post.
    Stocktake {
        #[command(subcommand)]
        command: stocktake::StocktakeCommand,
    },
    /// Reverse a posted receipt, issue or transfer with compensating movements.
    Correct {
        /// Document number or id.
        document: String,
        /// Why (required).
        #[arg(long)]
        reason: String,
        /// Manager approving a correction that takes stock below zero.
        #[arg(long)]
        override_by: Option<String>,
    },
    /// On-hand stock: one row per balance key.
    Stock {
        /// Only this location.
        #[arg(long)]
        location: Option<String>,
        /// Only rows whose item, lot or serial contains this text.
        #[arg(long)]
        search: Option<String>,
        /// Include keys whose quantity is zero.
        #[arg(long)]
        all: bool,
    },
    /// Movement history (oldest first).
    Movements {
        /// At most this many.
        #[arg(long)]
        limit: Option<u32>,
        /// Newest first.
        #[arg(long)]
        newest_first: bool,
    },
    /// Every movement of a lot or serial, oldest first.
    Trace {
        /// Lot number or serial.
        lot_or_serial: String,
    },
    /// Show one document with its lines and movements.
    Document {
        /// Document number or id.
        number: String,
    },
    /// Prove the cached balances equal the fold of the movements, and check the file.
    Verify,
    /// The demo hospital.
    Demo {
        #[command(subcommand)]
        command: DemoCommand,
    },
    /// Barcodes: read GS1, HIBC, MA and our own labels.
    Barcode {
        #[command(subcommand)]
        command: barcode::BarcodeCommand,
    },
    /// Run the hospital server (creates its database on first start): until Ctrl+C.
    Server {
        /// Address to listen on, e.g. 0.0.0.0:8443 with --tls-cert/--tls-key, or 127.0.0.1:8470
        /// (plain HTTP: loopback only).
        #[arg(long)]
        listen: String,
        /// The server's certificate chain (PEM, the server's certificate first): serve HTTPS.
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The private key of --tls-cert (PEM).
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// The server's site code, used when its database is created.
        #[arg(long, default_value = "SRV")]
        site: String,
    },
    /// On the server: print a one-time enrolment code for a workstation's site.
    Enrol {
        /// The workstation's site code.
        #[arg(long)]
        site: String,
    },
    /// Sync with the hospital server: push this node's events, then pull the others'.
    Sync {
        /// Server URL, e.g. https://sync.hospital:8443 (needed with --enrol).
        #[arg(long)]
        server: Option<String>,
        /// One-time enrolment code (first sync).
        #[arg(long)]
        enrol: Option<String>,
        /// The hospital's CA certificate (PEM) to trust for the server instead of the system's
        /// roots; kept with the link for every later sync.
        #[arg(long)]
        ca: Option<PathBuf>,
        /// Only list what a manager must look at (no network): keys below zero, conflicts,
        /// concurrent safety edits, duplicate codes, double corrections, far-future timestamps.
        #[arg(long, conflicts_with_all = ["server", "enrol", "ca"])]
        review: bool,
        /// After the server's database was restored from a backup older than what this
        /// workstation had sent, and no newer backup exists: only when the server says so
        /// (`server_behind`), send everything this workstation made again; then one holding
        /// the whole history pulls it again, one started from a snapshot must start afresh.
        #[arg(long, conflicts_with_all = ["enrol", "review"])]
        resend: bool,
    },
    /// On the server: enrolled workstations.
    Node {
        #[command(subcommand)]
        command: sync_commands::NodeCommand,
    },
    /// Benchmarks that print their figures.
    Bench {
        #[command(subcommand)]
        command: bench::BenchCommand,
    },
    /// Test support: post documents in a loop, printing each posted number (crash tests).
    #[command(hide = true)]
    PostLoop {
        /// Lines per document.
        #[arg(long, default_value_t = 5)]
        lines: usize,
        /// Stop after this many documents.
        #[arg(long, default_value_t = u64::MAX)]
        documents: u64,
    },
}

#[derive(Subcommand)]
enum LocationCommand {
    /// Add a location.
    Add {
        #[arg(long)]
        code: String,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "")]
        name_en: String,
        #[arg(long, default_value = "storeroom")]
        kind: String,
        /// Owning department code (department stores).
        #[arg(long)]
        department: Option<String>,
        #[arg(long)]
        min_temp: Option<Decimal>,
        #[arg(long)]
        max_temp: Option<Decimal>,
        /// Cold units: out of range this many minutes is an excursion (quarantines the unit's stock).
        #[arg(long)]
        excursion_minutes: Option<i64>,
        /// Cold units: no reading for this many minutes is an excursion too.
        #[arg(long, default_value_t = 60, requires = "excursion_minutes")]
        missing_minutes: i64,
        /// Cold units: issuing cold-chain items needs an in-range reading this recent (minutes).
        #[arg(long, default_value_t = 30, requires = "excursion_minutes")]
        gate_minutes: i64,
    },
    /// List locations.
    List,
}

#[derive(Subcommand)]
enum DepartmentCommand {
    /// Add a department.
    Add {
        #[arg(long)]
        code: String,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "")]
        name_en: String,
        #[arg(long, default_value = "")]
        cost_centre: String,
        /// Monthly budget, CNY.
        #[arg(long)]
        budget: Option<Decimal>,
    },
    /// List departments.
    List,
}

#[derive(Subcommand)]
enum SupplierCommand {
    /// Add a supplier.
    Add {
        #[arg(long)]
        code: String,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "")]
        name_en: String,
        #[arg(long, default_value = "")]
        phone: String,
    },
    /// List suppliers.
    List,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a user.
    Add {
        #[arg(long)]
        username: String,
        #[arg(long, default_value = "")]
        name: String,
        /// clerk, stocktaker, department, manager, purchasing, auditor or admin.
        #[arg(long)]
        role: String,
        #[arg(long, default_value = "zh")]
        language: String,
    },
    /// List users.
    List,
}

#[derive(Subcommand)]
enum ItemCommand {
    /// Add an item.
    Add(ItemAddArgs),
    /// List items (optionally matching text).
    List {
        #[arg(long, default_value = "")]
        search: String,
        #[arg(long, default_value_t = 1000)]
        limit: usize,
    },
    /// Show one item by any identifier.
    Show { identifier: String },
}

#[derive(Args)]
struct ItemAddArgs {
    /// Primary identifier (GTIN, or an internal code).
    #[arg(long)]
    code: String,
    #[arg(long)]
    name: String,
    #[arg(long, default_value = "")]
    name_en: String,
    #[arg(long, default_value = "")]
    spec: String,
    #[arg(long, default_value = "")]
    manufacturer: String,
    #[arg(long, default_value = "")]
    registration_no: String,
    #[arg(long, default_value = "")]
    risk_class: String,
    #[arg(long, default_value = "")]
    category: String,
    /// Base unit, e.g. 支.
    #[arg(long, default_value = "")]
    unit: String,
    #[arg(long, default_value_t = 1)]
    pack_size: i64,
    /// Serial-tracked (high-value).
    #[arg(long)]
    serialized: bool,
    #[arg(long)]
    implantable: bool,
    #[arg(long)]
    cold_chain: bool,
    #[arg(long, allow_hyphen_values = true)]
    min_temp: Option<Decimal>,
    #[arg(long, allow_hyphen_values = true)]
    max_temp: Option<Decimal>,
    #[arg(long)]
    price: Option<Decimal>,
    /// Default supplier code.
    #[arg(long)]
    supplier: Option<String>,
    #[arg(long, default_value_t = 0)]
    reorder_point: i64,
    /// A further identifier (HIBC, internal); repeatable.
    #[arg(long = "identifier")]
    identifiers: Vec<String>,
}

#[derive(Args)]
struct ReceiveArgs {
    #[arg(long)]
    location: String,
    /// Any identifier of the item.
    #[arg(long)]
    item: String,
    #[arg(long)]
    lot: Option<String>,
    /// YYYY-MM-DD.
    #[arg(long)]
    expiry: Option<chrono::NaiveDate>,
    /// YYYY-MM-DD.
    #[arg(long)]
    production_date: Option<chrono::NaiveDate>,
    #[arg(long, allow_hyphen_values = true)]
    qty: i64,
    #[arg(long)]
    serial: Option<String>,
    #[arg(long)]
    supplier: Option<String>,
    #[arg(long, allow_hyphen_values = true)]
    unit_cost: Option<Decimal>,
    #[arg(long, default_value = "")]
    note: String,
}

#[derive(Args)]
struct IssueArgs {
    #[arg(long)]
    location: String,
    #[arg(long)]
    department: String,
    #[arg(long)]
    item: String,
    #[arg(long, allow_hyphen_values = true)]
    qty: i64,
    /// Lot; omitted = FEFO.
    #[arg(long)]
    lot: Option<String>,
    #[arg(long)]
    serial: Option<String>,
    /// Manager approving an emergency issue beyond on-hand stock.
    #[arg(long, requires = "reason")]
    override_by: Option<String>,
    /// Reason for the override.
    #[arg(long)]
    reason: Option<String>,
    #[arg(long, default_value = "")]
    note: String,
}

#[derive(Args)]
struct TransferArgs {
    #[arg(long)]
    from: String,
    #[arg(long)]
    to: String,
    #[arg(long)]
    item: String,
    #[arg(long, allow_hyphen_values = true)]
    qty: i64,
    #[arg(long)]
    lot: Option<String>,
    #[arg(long)]
    serial: Option<String>,
    #[arg(long, default_value = "")]
    note: String,
}

#[derive(Args)]
struct CountArgs {
    #[arg(long)]
    location: String,
    #[arg(long)]
    item: String,
    #[arg(long)]
    lot: Option<String>,
    /// Expiry of a lot found on the shelf that the ledger does not know yet.
    #[arg(long)]
    expiry: Option<chrono::NaiveDate>,
    #[arg(long)]
    serial: Option<String>,
    /// The counted quantity.
    #[arg(long, allow_hyphen_values = true)]
    qty: i64,
}

#[derive(Subcommand)]
enum DemoCommand {
    /// Load the demo hospital from a fixtures folder into an initialised ledger.
    Load {
        /// Folder with suppliers.csv, departments.csv, locations.csv, users.csv, items.csv, opening_stock.csv.
        dir: PathBuf,
    },
}

/// A failure: the user's (exit 2) or the machine's (exit 1).
pub(crate) struct Failure {
    pub(crate) user_error: bool,
    pub(crate) message: String,
}

impl Failure {
    fn input(message: impl Into<String>) -> Failure {
        Failure { user_error: true, message: message.into() }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) if !error.use_stderr() => {
            // --help and --version print normally and succeed.
            let _ = error.print();
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            // Bad arguments: one line, exit 2, like every other bad input.
            let rendered = error.to_string();
            let first = rendered.lines().next().unwrap_or("invalid arguments");
            let _ = writeln!(std::io::stderr(), "medledger: {}", first.trim_start_matches("error: "));
            return ExitCode::from(2);
        }
    };
    let lang = match cli.lang {
        Some(LangArg::Zh) => Lang::Zh,
        Some(LangArg::En) => Lang::En,
        None => lang_from_env(),
    };
    match run(&cli, lang) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            let line = failure.message.replace('\n', " ");
            let _ = writeln!(std::io::stderr(), "medledger: {line}");
            ExitCode::from(if failure.user_error { 2 } else { 1 })
        }
    }
}

fn lang_from_env() -> Lang {
    let locale = std::env::var("LC_ALL")
        .ok()
        .filter(|v| !v.is_empty())
        .or_else(|| std::env::var("LANG").ok())
        .unwrap_or_default();
    if locale.starts_with("zh") {
        Lang::Zh
    } else {
        Lang::En
    }
}

fn open(cli: &Cli, lang: Lang) -> Result<Ledger, Failure> {
    let path = cli.db.as_ref().ok_or_else(|| Failure::input("--db PATH is required"))?;
    Ledger::open(path).map_err(|e| fail(e, lang))
}

fn fail(error: LedgerError, lang: Lang) -> Failure {
    Failure { user_error: error.is_user_error(), message: format!("[{}] {}", error.code(), error.message(lang)) }
}

fn print_json<T: Serialize>(value: &T) -> Result<(), Failure> {
    let text =
        serde_json::to_string_pretty(value).map_err(|e| Failure { user_error: false, message: e.to_string() })?;
    println!("{text}");
    Ok(())
}

fn run(cli: &Cli, lang: Lang) -> Result<(), Failure> {
    let en = lang == Lang::En;
    let json = cli.json;
    if let Command::Bench { command } = &cli.command {
        return bench::run(command, json).map_err(|e| fail(e, lang));
    }
    if let Command::Barcode { command } = &cli.command {
        return barcode::run(command, lang);
    }
    if let Command::Devices { command } = &cli.command {
        return device_commands::run(command, json, lang);
    }
    if let Command::Server { listen, site, tls_cert, tls_key } = &cli.command {
        // The certificate, the key and the address are checked before the database is opened or created.
        let tls = sync_commands::server_tls(tls_cert.as_deref(), tls_key.as_deref(), lang)?;
        sync::check_listen(listen, tls.is_some()).map_err(|e| sync_commands::failed(e, lang))?;
        return sync_commands::run_server(open(cli, lang)?, listen, site, tls, lang);
    }
    let mut ledger = open(cli, lang)?;
    let f = |e: LedgerError| fail(e, lang);
    match &cli.command {
        Command::Init { site, name } => {
            let node = ledger.init(site, name).map_err(f)?;
            if json {
                print_json(&node)?;
            } else {
                println!("node {} site {} ({})", node.id, node.site_code, node.name);
            }
        }
        Command::Location { command } => match command {
            LocationCommand::Add {
                code,
                name,
                name_en,
                kind,
                department,
                min_temp,
                max_temp,
                excursion_minutes,
                missing_minutes,
                gate_minutes,
            } => {
                let kind = LocationKind::parse(kind).ok_or_else(|| {
                    Failure::input(format!("--kind must be storeroom, department or cold, not {kind}"))
                })?;
                // Checked before anything is written: a cold unit's rules need a cold location with a range.
                let rules = excursion_minutes.map(|excursion_minutes| ColdUnitRules {
                    excursion_minutes,
                    missing_minutes: *missing_minutes,
                    gate_minutes: *gate_minutes,
                });
                if let Some(rules) = rules {
                    if kind != LocationKind::Cold || min_temp.is_none() || max_temp.is_none() {
                        return Err(Failure::input(
                            "--excursion-minutes needs --kind cold with --min-temp and --max-temp",
                        ));
                    }
                    for value in [rules.excursion_minutes, rules.missing_minutes, rules.gate_minutes] {
                        if !(1..=1440).contains(&value) {
                            return Err(Failure::input(format!("minutes must be 1 to 1440, not {value}")));
                        }
                    }
                    let role = ledger.user(&cli.user).map_err(f)?.role;
                    if !role.allows(Action::EditMasterData) {
                        return Err(f(LedgerError::Forbidden {
                            user: cli.user.clone(),
                            role: role.as_str().into(),
                            action: Action::EditMasterData.as_str(),
                        }));
                    }
                }
                let view = ledger
                    .add_location(&NewLocation {
                        code: code.clone(),
                        name: name.clone(),
                        name_en: name_en.clone(),
                        kind,
                        department: department.clone(),
                        min_temp_c: *min_temp,
                        max_temp_c: *max_temp,
                    })
                    .map_err(f)?;
                if let Some(rules) = rules {
                    ledger.set_cold_unit(&cli.user, code, rules).map_err(f)?;
                }
                print_view(&view, json, || format!("location {} {}", view.code, view.name))?;
            }
            LocationCommand::List => {
                print_rows(&ledger.locations().map_err(f)?, json, |l| {
                    format!("{:<12} {:<10} {}", l.code, l.kind, if en { &l.name_en } else { &l.name })
                })?;
            }
        },
        Command::Department { command } => match command {
            DepartmentCommand::Add { code, name, name_en, cost_centre, budget } => {
                let view = ledger.add_department(code, name, name_en, cost_centre, *budget).map_err(f)?;
                print_view(&view, json, || format!("department {} {}", view.code, view.name))?;
            }
            DepartmentCommand::List => {
                print_rows(&ledger.departments().map_err(f)?, json, |d| {
                    format!("{:<8} {}", d.code, if en { &d.name_en } else { &d.name })
                })?;
            }
        },
        Command::Supplier { command } => match command {
            SupplierCommand::Add { code, name, name_en, phone } => {
                let view = ledger.add_supplier(code, name, name_en, phone).map_err(f)?;
                print_view(&view, json, || format!("supplier {} {}", view.code, view.name))?;
            }
            SupplierCommand::List => {
                print_rows(&ledger.suppliers().map_err(f)?, json, |s| {
                    format!("{:<8} {}", s.code, if en { &s.name_en } else { &s.name })
                })?;
            }
        },
        Command::User { command } => match command {
            UserCommand::Add { username, name, role, language } => {
                let role = Role::parse(role).ok_or_else(|| Failure::input(format!("unknown role {role}")))?;
                let language = Lang::parse(language).ok_or_else(|| Failure::input("--language must be zh or en"))?;
                let view = ledger
                    .add_user(&NewUser { username: username.clone(), display_name: name.clone(), role, language })
                    .map_err(f)?;
                print_view(&view, json, || format!("user {} ({})", view.username, view.role))?;
            }
            UserCommand::List => {
                print_rows(&ledger.users().map_err(f)?, json, |u| {
                    format!("{:<12} {:<10} {}", u.username, u.role, u.display_name)
                })?;
            }
        },
        Command::Item { command } => match command {
            ItemCommand::Add(a) => {
                let view = ledger
                    .add_item(&NewItem {
                        code: a.code.clone(),
                        name: a.name.clone(),
                        name_en: a.name_en.clone(),
                        specification: a.spec.clone(),
                        manufacturer: a.manufacturer.clone(),
                        registration_no: a.registration_no.clone(),
                        risk_class: a.risk_class.clone(),
                        category: a.category.clone(),
                        unit: a.unit.clone(),
                        pack_size: a.pack_size,
                        serialized: a.serialized,
                        implantable: a.implantable,
                        cold_chain: a.cold_chain,
                        min_temp_c: a.min_temp,
                        max_temp_c: a.max_temp,
                        unit_price: a.price,
                        default_supplier: a.supplier.clone(),
                        reorder_point: a.reorder_point,
                        extra_identifiers: a.identifiers.clone(),
                    })
                    .map_err(f)?;
                print_view(&view, json, || format!("item {} {}", view.code, view.name))?;
            }
            ItemCommand::List { search, limit } => {
                print_rows(&ledger.items(search, *limit).map_err(f)?, json, |i| {
                    format!("{:<16} {}", i.code, if en { &i.name_en } else { &i.name })
                })?;
            }
            ItemCommand::Show { identifier } => {
                let view = ledger.item(identifier).map_err(f)?;
                print_view(&view, json, || {
                    format!("{} {} {} {}", view.code, view.name, view.specification, view.unit)
                })?;
            }
        },
        Command::Receive(a) => {
            let mut request = one_line(
                DocumentKind::Receipt,
                &cli.user,
                &a.location,
                LineRequest {
                    item: a.item.clone(),
                    lot: a.lot.clone(),
                    expiry: a.expiry,
                    production_date: a.production_date,
                    serial: a.serial.clone(),
                    quantity: a.qty,
                    unit_cost: a.unit_cost,
                },
            );
            request.supplier = a.supplier.clone();
            request.note = a.note.clone();
            post_and_print(&mut ledger, &request, json, lang)?;
        }
        Command::Issue(a) => {
            let mut request = one_line(
                DocumentKind::Issue,
                &cli.user,
                &a.location,
                LineRequest {
                    item: a.item.clone(),
                    lot: a.lot.clone(),
                    serial: a.serial.clone(),
                    quantity: a.qty,
                    ..LineRequest::default()
                },
            );
            request.department = Some(a.department.clone());
            request.note = a.note.clone();
            request.override_ = a
                .override_by
                .as_ref()
                .map(|manager| Override { manager: manager.clone(), reason: a.reason.clone().unwrap_or_default() });
            post_and_print(&mut ledger, &request, json, lang)?;
        }
        Command::Transfer(a) => {
            let mut request = one_line(
                DocumentKind::Transfer,
                &cli.user,
                &a.from,
                LineRequest {
                    item: a.item.clone(),
                    lot: a.lot.clone(),
                    serial: a.serial.clone(),
                    quantity: a.qty,
                    ..LineRequest::default()
                },
            );
            request.to_location = Some(a.to.clone());
            request.note = a.note.clone();
            post_and_print(&mut ledger, &request, json, lang)?;
        }
        Command::Count(a) => {
            let request = one_line(
                DocumentKind::Stocktake,
                &cli.user,
                &a.location,
                LineRequest {
                    item: a.item.clone(),
                    lot: a.lot.clone(),
                    expiry: a.expiry,
                    serial: a.serial.clone(),
                    quantity: a.qty,
                    ..LineRequest::default()
                },
            );
            post_and_print(&mut ledger, &request, json, lang)?;
        }
        Command::Enrol { site } => sync_commands::run_enrol(&mut ledger, site, json, lang)?,
        Command::Sync { review: true, .. } => sync_commands::run_review(&ledger, json, lang)?,
        Command::Sync { server, enrol, ca, resend, .. } => sync_commands::run_sync(
            &mut ledger,
            server.as_deref(),
            enrol.as_deref(),
            ca.as_deref(),
            *resend,
            json,
            lang,
        )?,
        Command::Node { command } => sync_commands::run_node(&mut ledger, command, json, lang)?,
        Command::Server { .. } => unreachable!("handled above"),
        Command::Stocktake { command } => stocktake::run(&mut ledger, command, &cli.user, json, lang)?,
        Command::Sensor { command } => coldchain::run_sensor(&mut ledger, command, &cli.user, json, lang)?,
        Command::Coldchain { command } => coldchain::run(&mut ledger, command, &cli.user, json, lang)?,
        Command::Printer { command } => print::run_printer(&mut ledger, command, &cli.user, json, lang)?,
        Command::Print { command } => print::run(&mut ledger, command, &cli.user, json, lang)?,
        Command::Correct { document, reason, override_by } => {
            let override_ = override_by.as_ref().map(|m| Override { manager: m.clone(), reason: reason.clone() });
            let posted = ledger.reverse_document(document, &cli.user, reason, override_.as_ref()).map_err(f)?;
            print_document(&ledger, &posted, json, lang)?;
        }
        Command::Stock { location, search, all } => {
            let rows = ledger
                .stock(&StockFilter { location: location.clone(), search: search.clone(), include_zero: *all })
                .map_err(f)?;
            if json {
                print_json(&rows)?;
            } else {
                for r in rows {
                    println!(
                        "{:<16} {:<24} lot {:<12} exp {:<10} sn {:<10} {:<10} {:<11} {:>8}",
                        r.item.code,
                        if en { &r.item.name_en } else { &r.item.name },
                        r.lot.as_deref().unwrap_or("-"),
                        r.expiry.map(|d| d.to_string()).unwrap_or_else(|| "-".into()),
                        r.serial.as_deref().unwrap_or("-"),
                        r.location.code,
                        r.status,
                        r.quantity
                    );
                }
            }
        }
        Command::Movements { limit, newest_first } => {
            let rows = ledger.movements(&MovementFilter { newest_first: *newest_first, limit: *limit }).map_err(f)?;
            print_movements(&rows, json)?;
        }
        Command::Trace { lot_or_serial } => {
            let rows = ledger.trace(lot_or_serial).map_err(f)?;
            print_movements(&rows, json)?;
        }
        Command::Document { number } => {
            let view = ledger.document(number).map_err(f)?;
            if json {
                print_json(&view)?;
            } else {
                println!("{} {} {}", view.number.as_deref().unwrap_or("(draft)"), view.kind, view.status);
                for l in &view.lines {
                    println!(
                        "  {:>3} {} lot {} qty {}",
                        l.line_no,
                        l.item,
                        l.lot.as_deref().unwrap_or("-"),
                        l.quantity
                    );
                }
            }
        }
        Command::Verify => {
            let mismatches = balance::verify(ledger.connection()).map_err(f)?;
            let integrity: String =
                ledger.connection().query_row("PRAGMA integrity_check", [], |r| r.get(0)).map_err(|e| f(e.into()))?;
            let ok = mismatches.is_empty() && integrity == "ok";
            if json {
                print_json(&serde_json::json!({"ok": ok, "integrity": integrity, "mismatches": mismatches}))?;
            } else {
                println!("integrity {integrity}; {} balance mismatches", mismatches.len());
            }
            if !ok {
                return Err(Failure { user_error: false, message: "verification failed".into() });
            }
        }
        Command::Demo { command: DemoCommand::Load { dir } } => {
            let summary = ledger.load_demo(dir).map_err(f)?;
            if json {
                print_json(&summary)?;
            } else {
                println!(
                    "demo: {} items, {} locations, {} departments, {} suppliers, {} users, {} documents, {} movements",
                    summary.items,
                    summary.locations,
                    summary.departments,
                    summary.suppliers,
                    summary.users,
                    summary.documents,
                    summary.movements
                );
            }
        }
        Command::PostLoop { lines, documents } => post_loop(&mut ledger, *lines, *documents).map_err(f)?,
        Command::Bench { .. } | Command::Barcode { .. } | Command::Devices { .. } => {
            unreachable!("handled before opening a database")
        }
    }
    Ok(())
}

/// A one-line document of `kind` at `location` by `user`; callers fill the rest.
fn one_line(kind: DocumentKind, user: &str, location: &str, line: LineRequest) -> DocumentRequest {
    DocumentRequest {
        kind,
        user: user.to_string(),
        location: location.to_string(),
        to_location: None,
        department: None,
        supplier: None,
        lines: vec![line],
        note: String::new(),
        override_: None,
    }
}

/// Prints rows as a JSON array, or one text line each.
fn print_rows<T: Serialize>(rows: &[T], json: bool, line: impl Fn(&T) -> String) -> Result<(), Failure> {
    if json {
        return print_json(&rows);
    }
    for row in rows {
        println!("{}", line(row));
    }
    Ok(())
}

/// Prints one view as JSON, or as its text line.
fn print_view<T: Serialize>(view: &T, json: bool, text: impl FnOnce() -> String) -> Result<(), Failure> {
    if json {
        print_json(view)
    } else {
        println!("{}", text());
        Ok(())
    }
}

fn post_and_print(ledger: &mut Ledger, request: &DocumentRequest, json: bool, lang: Lang) -> Result<(), Failure> {
    let posted = ledger.post(request).map_err(|e| fail(e, lang))?;
    print_document(ledger, &posted, json, lang)
}

fn print_document(ledger: &Ledger, posted: &PostedRef, json: bool, lang: Lang) -> Result<(), Failure> {
    let view = ledger.document(&posted.id).map_err(|e| fail(e, lang))?;
    if json {
        print_json(&view)
    } else {
        println!("{} posted: {} movement(s)", posted.number, view.movements.len());
        for m in &view.movements {
            println!("  {:<14} {} lot {} {:>+6}", m.kind, m.item, m.lot.as_deref().unwrap_or("-"), m.quantity);
        }
        Ok(())
    }
}

fn print_movements(rows: &[MovementView], json: bool) -> Result<(), Failure> {
    if json {
        return print_json(&rows);
    }
    for m in rows {
        println!(
            "{} {:<14} {:<16} lot {:<12} {:<10} {:>+7} {} {}",
            m.recorded_at,
            m.kind,
            m.item,
            m.lot.as_deref().unwrap_or("-"),
            m.location,
            m.quantity,
            m.document_number.as_deref().unwrap_or(""),
            m.user
        );
    }
    Ok(())
}

/// Crash-test support: receives `lines`-line documents forever (or `documents`
/// times), printing `posted NUMBER LINES` after each commit returns.
fn post_loop(ledger: &mut Ledger, lines: usize, documents: u64) -> ledger::Result<()> {
    const LOOP_LOCATION: &str = "LOOP";
    const LOOP_ITEM: &str = "LOOP-ITEM";
    if ledger.locations()?.iter().all(|l| l.code != LOOP_LOCATION) {
        ledger.add_location(&NewLocation {
            code: LOOP_LOCATION.into(),
            name: "测试库".into(),
            name_en: "Loop store".into(),
            kind: LocationKind::Storeroom,
            department: None,
            min_temp_c: None,
            max_temp_c: None,
        })?;
        ledger.add_item(&NewItem {
            code: LOOP_ITEM.into(),
            name: "测试品".into(),
            pack_size: 1,
            ..NewItem::default()
        })?;
    }
    let stdout = std::io::stdout();
    for n in 0..documents {
        let request = DocumentRequest {
            kind: DocumentKind::Receipt,
            user: INITIAL_ADMIN.into(),
            location: LOOP_LOCATION.into(),
            to_location: None,
            department: None,
            supplier: None,
            lines: (0..lines)
                .map(|i| LineRequest {
                    item: LOOP_ITEM.into(),
                    lot: Some(format!("LOT{}", (n as usize + i) % 50)),
                    quantity: 1 + i as i64,
                    ..LineRequest::default()
                })
                .collect(),
            note: String::new(),
            override_: None,
        };
        let posted = ledger.post(&request)?;
        let mut out = stdout.lock();
        writeln!(out, "posted {} {}", posted.number, lines)?;
        out.flush()?;
    }
    Ok(())
}
