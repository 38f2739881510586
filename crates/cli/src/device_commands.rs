//! `medledger devices …`: the serial ports, scans from a serial scanner, a
//! thermometer's reading — and `medledger bench devices`.

use crate::{print_json, print_rows, print_view, Failure};
use clap::{Subcommand, ValueEnum};
use devices::modbus::{bus_limit_per_second, ModbusBus, SensorModel};
use devices::scanner::{ScannerConfig, ScannerEvent, ScannerReader};
use devices::thermometer::{LinePattern, DEFAULT_PATTERN};
use devices::DeviceError;
use ledger::Lang;
use serde::Serialize;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, ValueEnum)]
pub enum Protocol {
    #[value(name = "modbus-rtu")]
    ModbusRtu,
    /// A line of text per reading, read with --pattern.
    Ascii,
}

#[derive(Subcommand)]
pub enum DevicesCommand {
    /// Serial ports with their USB identity.
    List,
    /// Read N scans from a serial scanner, each read as by `barcode parse`.
    Scan {
        #[arg(long)]
        port: String,
        #[arg(long, default_value_t = 9600)]
        baud: u32,
        #[arg(long, default_value_t = 1)]
        count: usize,
        /// Give up after this many seconds without the N scans.
        #[arg(long, default_value_t = 60)]
        wait_seconds: u64,
    },
    /// One reading from a thermometer.
    ReadTemperature {
        #[arg(long)]
        port: String,
        #[arg(long, value_enum, default_value = "modbus-rtu")]
        protocol: Protocol,
        /// Modbus address.
        #[arg(long, default_value_t = 1)]
        slave: u8,
        /// Register map (xy-md02, sht20, holding-0-1).
        #[arg(long, default_value = "xy-md02")]
        model: String,
        #[arg(long, default_value_t = 9600)]
        baud: u32,
        /// ASCII thermometers: a regular expression with a group `t` (and `h`).
        #[arg(long, default_value = DEFAULT_PATTERN)]
        pattern: String,
        /// Answer timeout, ms.
        #[arg(long, default_value_t = 500)]
        timeout_ms: u64,
    },
}

fn device_failure(error: DeviceError, lang: Lang) -> Failure {
    let lang = if lang == Lang::En { devices::error::Lang::En } else { devices::error::Lang::Zh };
    let user_error = matches!(error, DeviceError::UnknownModel(_) | DeviceError::InvalidSetting { .. });
    Failure { user_error, message: format!("[{}] {}", error.code(), error.message(lang)) }
}

pub fn run(command: &DevicesCommand, json: bool, lang: Lang) -> Result<(), Failure> {
    let d = |e: DeviceError| device_failure(e, lang);
    match command {
        DevicesCommand::List => {
            let ports = devices::ports::list_ports().map_err(d)?;
            print_rows(&ports, json, |p| {
                format!(
                    "{:<20} {:<8} {}:{} {} {}",
                    p.path,
                    p.kind,
                    p.vendor_id.as_deref().unwrap_or("-"),
                    p.product_id.as_deref().unwrap_or("-"),
                    p.product.as_deref().unwrap_or(""),
                    p.serial_number.as_deref().unwrap_or("")
                )
            })
        }
        DevicesCommand::Scan { port, baud, count, wait_seconds } => {
            let (reader, events) = ScannerReader::start(port, *baud, ScannerConfig::default()).map_err(d)?;
            let options = crate::barcode::options(lang, &[], false);
            let deadline = Instant::now() + Duration::from_secs(*wait_seconds);
            let mut results = Vec::new();
            while results.len() < *count {
                let left = deadline.saturating_duration_since(Instant::now());
                match events.recv_timeout(left) {
                    Ok(ScannerEvent::Scan { data }) => {
                        let line = crate::barcode::result_json(&data, &udi::parse(&data, &options), options.lang);
                        results.push(serde_json::from_str::<serde_json::Value>(&line).expect("our JSON"));
                    }
                    Ok(ScannerEvent::Garbage { bytes, reason }) => {
                        let _ = writeln!(std::io::stderr(), "medledger: {bytes} bytes of garbage on {port} ({reason})");
                    }
                    Ok(_) => {}
                    Err(_) => {
                        drop(reader);
                        return Err(Failure {
                            user_error: false,
                            message: format!("{} of {count} scans from {port} within {wait_seconds} s", results.len()),
                        });
                    }
                }
            }
            drop(reader);
            if json {
                print_json(&results)
            } else {
                for r in &results {
                    println!("{r}");
                }
                Ok(())
            }
        }
        DevicesCommand::ReadTemperature { port, protocol, slave, model, baud, pattern, timeout_ms } => {
            let timeout = Duration::from_millis(*timeout_ms);
            let reading = match protocol {
                Protocol::ModbusRtu => {
                    let model = SensorModel::builtin(model).map_err(d)?;
                    let mut bus = ModbusBus::open(port, *baud, timeout).map_err(d)?;
                    bus.read_sensor(*slave, &model).map_err(d)?
                }
                Protocol::Ascii => {
                    let pattern = LinePattern::new(pattern).map_err(d)?;
                    let serial = devices::ports::open(port, *baud, timeout).map_err(d)?;
                    let mut lines = std::io::BufReader::new(serial);
                    let deadline = Instant::now() + timeout * 10;
                    loop {
                        if Instant::now() > deadline {
                            return Err(d(DeviceError::Timeout { slave: 0, timeout_ms: timeout_ms * 10 }));
                        }
                        let mut line = String::new();
                        if let Ok(n) = lines.read_line(&mut line) {
                            if n > 0 {
                                if let Some(reading) = pattern.read(line.trim()) {
                                    break reading;
                                }
                            }
                        }
                    }
                }
            };
            print_view(&reading, json, || match reading.humidity_pct {
                Some(h) => format!("{:.1} °C, {h:.1} %RH", reading.temperature_c),
                None => format!("{:.1} °C", reading.temperature_c),
            })
        }
    }
}

/// The device benchmark's figures.
#[derive(Debug, Serialize)]
pub struct DevicesBenchReport {
    /// Sensors on the bus.
    pub sensors: usize,
    /// Baud rate the line was paced at.
    pub baud: u32,
    /// Readings achieved per second.
    pub readings_per_second: f64,
    /// The bus's theoretical limit at that baud (frames and 3.5-character gaps).
    pub bus_limit_per_second: f64,
    /// Achieved over the limit.
    pub ratio: f64,
    /// Failed readings (timeouts, CRC errors).
    pub failed: u64,
    /// Serial scans timed.
    pub scans: usize,
    /// From the scan's last byte on the line to its stocktake observation committed, p99 ms.
    pub scan_to_ledger_p99_ms: f64,
    /// The same, median ms.
    pub scan_to_ledger_median_ms: f64,
}

/// Polls `sensors` pymodbus thermometers on one line paced at `baud`, and
/// times serial scans into a durable stocktake.
pub fn bench(
    sensors: usize,
    baud: u32,
    rounds: usize,
    scans: usize,
    python: Option<PathBuf>,
) -> Result<DevicesBenchReport, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = python.unwrap_or_else(|| devices::sim::ModbusPeer::python(&root));
    let line = devices::sim::Line::new(Some(baud)).map_err(|e| e.to_string())?;
    let units: Vec<(u8, i16, u16)> = (1..=sensors as u8).map(|u| (u, 40 + i16::from(u), 450)).collect();
    let script = root.join("fixtures/devices/modbus_sensors.py");
    let _peer =
        devices::sim::ModbusPeer::start(&python, &script, &line.theirs, baud, &units).map_err(|e| e.to_string())?;
    let model = SensorModel::builtin("xy-md02").map_err(|e| e.to_string())?;
    let mut bus = ModbusBus::open(&line.ours, baud, Duration::from_millis(500)).map_err(|e| e.to_string())?;
    // One round first: the peer's first answers are slow while Python warms up.
    for unit in 1..=sensors as u8 {
        let _ = bus.read_sensor(unit, &model);
    }
    let before = bus.stats();
    let started = Instant::now();
    let mut good = 0u64;
    for _ in 0..rounds {
        for unit in 1..=sensors as u8 {
            if bus.read_sensor(unit, &model).is_ok() {
                good += 1;
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let after = bus.stats();
    let readings_per_second = good as f64 / elapsed;
    let limit = bus_limit_per_second(baud, 2);
    let (median, p99) = scan_latency(scans)?;
    Ok(DevicesBenchReport {
        sensors,
        baud,
        readings_per_second,
        bus_limit_per_second: limit,
        ratio: readings_per_second / limit,
        failed: (after.timeouts - before.timeouts) + (after.crc_errors - before.crc_errors),
        scans,
        scan_to_ledger_p99_ms: p99,
        scan_to_ledger_median_ms: median,
    })
}

/// Scans typed into a pty at a scanner's speed, read by the scanner reader,
/// read by the barcode engine and recorded in a stocktake (one durable
/// transaction each): the time from each scan's terminator to its commit.
fn scan_latency(scans: usize) -> Result<(f64, f64), String> {
    use ledger::*;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut ledger = Ledger::open(&dir.path().join("scans.sqlite")).map_err(|e| e.to_string())?;
    let err = |e: LedgerError| e.to_string();
    ledger.init("B01", "bench").map_err(err)?;
    ledger
        .add_location(&NewLocation {
            code: "MAIN".into(),
            name: "中心库".into(),
            name_en: "Storeroom".into(),
            kind: LocationKind::Storeroom,
            department: None,
            min_temp_c: None,
            max_temp_c: None,
        })
        .map_err(err)?;
    ledger
        .add_item(&NewItem {
            code: "09506000134352".into(), name: "注射器".into(), pack_size: 1, ..NewItem::default()
        })
        .map_err(err)?;
    let stocktake = ledger
        .start_stocktake(&StocktakeRequest {
            user: INITIAL_ADMIN.into(),
            locations: vec!["MAIN".into()],
            ..StocktakeRequest::default()
        })
        .map_err(err)?;
    let line = devices::sim::Line::new(None).map_err(|e| e.to_string())?;
    let (reader, events) =
        ScannerReader::start(&line.ours, 115_200, ScannerConfig::default()).map_err(|e| e.to_string())?;
    let mut scanner =
        devices::ports::open(&line.theirs, 115_200, Duration::from_millis(50)).map_err(|e| e.to_string())?;
    let (sent_tx, sent_rx) = std::sync::mpsc::channel::<Instant>();
    let writer = std::thread::spawn(move || {
        for n in 0..scans {
            let scan = format!("]d2010950600013435217300131\u{1d}10B{:05}\r", n % 40);
            for byte in scan.as_bytes() {
                let _ = scanner.write_all(&[*byte]);
            }
            let _ = scanner.flush();
            let _ = sent_tx.send(Instant::now());
            // A clerk scans a few times a second at most.
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    let options = udi::Options::new(ledger.clock().today(), udi::Lang::En);
    let mut latencies = Vec::with_capacity(scans);
    while latencies.len() < scans {
        match events.recv_timeout(Duration::from_secs(10)).map_err(|_| "the scanner stopped delivering".to_string())? {
            ScannerEvent::Scan { data } => {
                let sent = sent_rx.recv_timeout(Duration::from_secs(10)).map_err(|e| e.to_string())?;
                let reading = udi::parse(&data, &options).map_err(|e| e.message(udi::Lang::En))?.reading;
                let entry = CountEntry {
                    user: INITIAL_ADMIN.into(),
                    item: reading.gtin.unwrap_or_default(),
                    lot: reading.lot,
                    expiry: reading.expiry,
                    barcode: data,
                    ..CountEntry::default()
                };
                ledger.record_count(&stocktake.id, &entry).map_err(err)?;
                latencies.push(sent.elapsed());
            }
            ScannerEvent::Garbage { reason, .. } => return Err(format!("garbage on a clean line: {reason}")),
            _ => {}
        }
    }
    let _ = writer.join();
    drop(reader);
    latencies.sort();
    let at = |p: usize| latencies[(latencies.len() * p / 100).min(latencies.len() - 1)].as_secs_f64() * 1e3;
    Ok((at(50), at(99)))
}
