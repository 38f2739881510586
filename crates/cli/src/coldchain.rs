//! `medledger sensor …` and `medledger coldchain …`: a cold unit's sensors,
//! polling them into the ledger (`coldchain-poll`, shared with the app),
//! logger files, manual readings, and the excursions a manager resolves.

use crate::{fail, print_json, print_rows, print_view, Failure};
use clap::Subcommand;
use coldchain_poll::{devices_lang, poll_once};
use devices::modbus::SensorModel;
use devices::thermometer::LinePattern;
use ledger::*;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Subcommand)]
pub enum SensorCommand {
    /// Add a thermometer to a cold unit.
    Add {
        #[arg(long)]
        location: String,
        #[arg(long)]
        port: String,
        /// modbus-rtu or ascii.
        #[arg(long, default_value = "modbus-rtu")]
        protocol: String,
        #[arg(long, default_value_t = 1)]
        slave: u8,
        #[arg(long, default_value = "xy-md02")]
        model: String,
        #[arg(long, default_value_t = 9600)]
        baud: u32,
        /// ASCII thermometers: the line pattern (a group `t`, optionally `h`).
        #[arg(long, default_value = "")]
        pattern: String,
    },
    /// The sensors.
    List,
}

#[derive(Subcommand)]
pub enum ColdchainCommand {
    /// Read every sensor into the ledger, then judge every cold unit (excursions quarantine stock).
    Poll {
        /// One cycle (else every --interval seconds until stopped).
        #[arg(long)]
        once: bool,
        #[arg(long, default_value_t = 60)]
        interval: u64,
        /// Answer timeout per sensor, ms.
        #[arg(long, default_value_t = 500)]
        timeout_ms: u64,
    },
    /// Import a USB data logger's CSV export (time,temperature[,humidity]) into a cold unit.
    Import {
        #[arg(long)]
        location: String,
        file: PathBuf,
        /// The logger's UTC offset in minutes (default: this computer's).
        #[arg(long, allow_hyphen_values = true)]
        utc_offset: Option<i32>,
    },
    /// Record a temperature measured by hand (it can pass the issue gate).
    Reading {
        #[arg(long)]
        location: String,
        #[arg(long, allow_hyphen_values = true)]
        temperature: f64,
    },
    /// A cold unit's readings in the last hours.
    Readings {
        #[arg(long)]
        location: String,
        #[arg(long, default_value_t = 24)]
        hours: i64,
    },
    /// Excursions (open ones, or --all).
    Excursions {
        #[arg(long)]
        all: bool,
    },
    /// Resolve an excursion: release its quarantined stock, or --scrap it (manager).
    Resolve {
        excursion: String,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        scrap: bool,
    },
}

pub fn run_sensor(
    ledger: &mut Ledger,
    command: &SensorCommand,
    user: &str,
    json: bool,
    lang: Lang,
) -> Result<(), Failure> {
    let f = |e: LedgerError| fail(e, lang);
    match command {
        SensorCommand::Add { location, port, protocol, slave, model, baud, pattern } => {
            // Refuse a configuration the poller could never read before storing it.
            match protocol.as_str() {
                "modbus-rtu" => {
                    SensorModel::builtin(model).map_err(|e| Failure::input(e.message(devices_lang(lang))))?;
                }
                "ascii" => {
                    let pattern = if pattern.is_empty() { devices::thermometer::DEFAULT_PATTERN } else { pattern };
                    LinePattern::new(pattern).map_err(|e| Failure::input(e.message(devices_lang(lang))))?;
                }
                other => return Err(Failure::input(format!("--protocol must be modbus-rtu or ascii, not {other}"))),
            }
            devices::ports::check_baud(*baud).map_err(|e| Failure::input(e.message(devices_lang(lang))))?;
            let config = SensorConfig {
                location: location.clone(),
                port: port.clone(),
                protocol: protocol.clone(),
                slave: *slave,
                model: model.clone(),
                baud: *baud,
                pattern: pattern.clone(),
            };
            let id = ledger.add_sensor(user, &config).map_err(f)?;
            print_view(&serde_json::json!({ "id": id }), json, || format!("sensor {id} on {port} for {location}"))
        }
        SensorCommand::List => {
            let rows = ledger.sensors().map_err(f)?;
            print_rows(&rows, json, |s| {
                format!("{:<8} {:<20} {} slave {} {}", s.location, s.port, s.protocol, s.slave, s.model)
            })
        }
    }
}

pub fn run(ledger: &mut Ledger, command: &ColdchainCommand, user: &str, json: bool, lang: Lang) -> Result<(), Failure> {
    let f = |e: LedgerError| fail(e, lang);
    match command {
        ColdchainCommand::Poll { once, interval, timeout_ms } => loop {
            let report = match poll_once(ledger, user, Duration::from_millis(*timeout_ms), lang) {
                Ok(report) => report,
                Err(error) if *once => return Err(f(error)),
                // Monitoring goes on: a busy database or a race with the app is tried again next cycle.
                Err(error) => {
                    eprintln!("medledger: [{}] {}", error.code(), error.message(lang));
                    std::thread::sleep(Duration::from_secs((*interval).max(1)));
                    continue;
                }
            };
            if json {
                print_json(&report)?;
            } else {
                for r in &report.readings {
                    println!("{:<8} {:>6.1} °C  {}", r.location, r.temperature_c, r.port);
                }
                for e in &report.errors {
                    println!("{:<8} [{}] {}", e.location, e.code, e.message);
                }
                for x in &report.excursions {
                    println!(
                        "EXCURSION {} {} since {} — {} units quarantined",
                        x.location, x.kind, x.started_at_ms, x.quarantined_units
                    );
                }
            }
            if *once {
                return Ok(());
            }
            std::thread::sleep(Duration::from_secs((*interval).max(1)));
        },
        ColdchainCommand::Import { location, file, utc_offset } => {
            let text = std::fs::read_to_string(file).map_err(|e| f(LedgerError::Io(e)))?;
            let offset = utc_offset.unwrap_or_else(|| chrono::Local::now().offset().local_minus_utc() / 60);
            let count = ledger.import_logger_readings(location, &text, offset).map_err(f)?;
            print_view(&serde_json::json!({ "readings": count }), json, || format!("{count} readings imported"))
        }
        ColdchainCommand::Reading { location, temperature } => {
            ledger.record_manual_reading(user, location, *temperature).map_err(f)?;
            print_view(&serde_json::json!({ "location": location, "temperature_c": temperature }), json, || {
                format!("{location}: {temperature:.1} °C recorded")
            })
        }
        ColdchainCommand::Readings { location, hours } => {
            let since = ledger.clock().now_ms() - hours.clamp(&1, &(24 * 400)) * 3_600_000;
            let rows = ledger.readings(location, since).map_err(f)?;
            print_rows(&rows, json, |r| format!("{} {:>6.1} °C {}", r.at_ms, r.temperature_c, r.source))
        }
        ColdchainCommand::Excursions { all } => {
            let rows = ledger.excursions(!all).map_err(f)?;
            print_rows(&rows, json, |x| {
                format!("{} {:<8} {:<12} {:<9} {} units", x.id, x.location, x.kind, x.status, x.quarantined_units)
            })
        }
        ColdchainCommand::Resolve { excursion, reason, scrap } => {
            let view = ledger.resolve_excursion(excursion, user, reason, *scrap).map_err(f)?;
            print_view(&view, json, || format!("excursion {} {}", view.id, view.status))
        }
    }
}
