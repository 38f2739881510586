//! Thermometers speaking Modbus RTU. Several sensors share one RS-485 bus
//! (one port, one address each). Frames come from `rmodbus`; the port I/O
//! is ours so that each failure is counted by kind: a timeout, a CRC error,
//! a Modbus exception, a frame that answers something else, stray bytes on
//! the line. None of them stops the poller; a read is retried a bounded
//! number of times.

use crate::error::DeviceError;
use rmodbus::{client::ModbusRequest, guess_response_frame_len, ErrorKind, ModbusProto};
use serde::Serialize;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

/// Attempts per sensor reading (one try plus retries).
pub const READ_ATTEMPTS_MAX: u32 = 3;
/// The longest RTU frame.
const FRAME_MAX: usize = 256;
/// Registers one request may ask for (the Modbus limit is 125).
pub const REGISTERS_PER_READ_MAX: u16 = 125;

/// Which table a model's registers are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RegisterTable {
    /// Function 04.
    Input,
    /// Function 03.
    Holding,
}

/// A value in one 16-bit register: raw × scale, signed or not.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RegisterValue {
    /// Register address (0-based, as on the wire).
    pub address: u16,
    /// Multiplier of the raw value, e.g. 0.1 for tenths.
    pub scale: f64,
    /// Two's complement (temperatures below zero).
    pub signed: bool,
}

/// A sensor model's register map.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SensorModel {
    /// Model name as configured, e.g. xy-md02.
    pub name: String,
    /// Input or holding registers.
    pub table: RegisterTable,
    /// Temperature, °C.
    pub temperature: RegisterValue,
    /// Relative humidity, %, if the sensor has it.
    pub humidity: Option<RegisterValue>,
}

impl SensorModel {
    /// The built-in register maps. XY-MD02 and its many SHT20 RS-485 clones:
    /// input registers 1 (temperature ×10, signed) and 2 (humidity ×10).
    pub fn builtin(name: &str) -> Result<SensorModel, DeviceError> {
        let tenths = |address, signed| RegisterValue { address, scale: 0.1, signed };
        match name.to_ascii_lowercase().as_str() {
            "xy-md02" | "sht20" => Ok(SensorModel {
                name: name.to_ascii_lowercase(),
                table: RegisterTable::Input,
                temperature: tenths(1, true),
                humidity: Some(tenths(2, false)),
            }),
            // Common panel thermometers with holding registers 0 (°C ×10) and 1 (%RH ×10).
            "holding-0-1" => Ok(SensorModel {
                name: name.to_ascii_lowercase(),
                table: RegisterTable::Holding,
                temperature: tenths(0, true),
                humidity: Some(tenths(1, false)),
            }),
            _ => Err(DeviceError::UnknownModel(name.to_string())),
        }
    }

    /// The first register and how many to read to cover every value.
    fn span(&self) -> (u16, u16) {
        let mut addresses = vec![self.temperature.address];
        addresses.extend(self.humidity.map(|h| h.address));
        let first = *addresses.iter().min().expect("a temperature register");
        let last = *addresses.iter().max().expect("a temperature register");
        (first, last - first + 1)
    }
}

/// One reading.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Reading {
    /// °C.
    pub temperature_c: f64,
    /// %RH.
    pub humidity_pct: Option<f64>,
}

/// What the bus has seen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct BusStats {
    /// Requests written.
    pub requests: u64,
    /// Good answers.
    pub answers: u64,
    /// Requests without a complete answer in time.
    pub timeouts: u64,
    /// Answers whose CRC did not match.
    pub crc_errors: u64,
    /// Modbus exception answers.
    pub exceptions: u64,
    /// Bytes on the line that belonged to no answer.
    pub garbage_bytes: u64,
}

/// The silent interval between frames: 3.5 character times (11 bits each),
/// fixed at 1.75 ms above 19,200 baud as the Modbus serial line spec says.
pub fn frame_gap(baud: u32) -> Duration {
    if baud > 19_200 {
        Duration::from_micros(1_750)
    } else {
        Duration::from_secs_f64(3.5 * 11.0 / f64::from(baud.max(1)))
    }
}

/// One RS-485 (or RS-232) line with Modbus RTU devices on it.
pub struct ModbusBus {
    port: Box<dyn serialport::SerialPort>,
    name: String,
    baud: u32,
    timeout: Duration,
    stats: BusStats,
    last_frame_end: Option<Instant>,
}

impl ModbusBus {
    /// Opens a port for a bus at `baud`, waiting up to `timeout` for each answer.
    pub fn open(path: &str, baud: u32, timeout: Duration) -> Result<ModbusBus, DeviceError> {
        let port = crate::ports::open(path, baud, Duration::from_millis(20))?;
        Ok(ModbusBus::on_port(port, path, baud, timeout))
    }

    /// A bus on a port that is already open (its read timeout is used as the poll step).
    pub fn on_port(port: Box<dyn serialport::SerialPort>, name: &str, baud: u32, timeout: Duration) -> ModbusBus {
        ModbusBus { port, name: name.to_string(), baud, timeout, stats: BusStats::default(), last_frame_end: None }
    }

    /// What the bus has seen so far.
    pub fn stats(&self) -> BusStats {
        self.stats
    }

    /// Reads a sensor: its registers, converted, with up to `READ_ATTEMPTS_MAX` attempts.
    pub fn read_sensor(&mut self, slave: u8, model: &SensorModel) -> Result<Reading, DeviceError> {
        let (first, count) = model.span();
        let mut last_error = None;
        for _ in 0..READ_ATTEMPTS_MAX {
            match self.read_registers(slave, model.table, first, count) {
                Ok(registers) => {
                    let value = |r: RegisterValue| -> f64 {
                        let raw = registers[usize::from(r.address - first)];
                        let number = if r.signed { f64::from(raw as i16) } else { f64::from(raw) };
                        (number * r.scale * 100.0).round() / 100.0
                    };
                    return Ok(Reading {
                        temperature_c: value(model.temperature),
                        humidity_pct: model.humidity.map(value),
                    });
                }
                // A refusal will not change on a retry.
                Err(error @ DeviceError::Exception { .. }) => return Err(error),
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.expect("at least one attempt"))
    }

    /// One request and its answer.
    pub fn read_registers(
        &mut self,
        slave: u8,
        table: RegisterTable,
        first: u16,
        count: u16,
    ) -> Result<Vec<u16>, DeviceError> {
        if !(1..=247).contains(&slave) {
            return Err(DeviceError::InvalidSetting { field: "slave", reason: format!("{slave} is not 1–247") });
        }
        if !(1..=REGISTERS_PER_READ_MAX).contains(&count) {
            return Err(DeviceError::InvalidSetting {
                field: "count",
                reason: format!("{count} is not 1–{REGISTERS_PER_READ_MAX}"),
            });
        }
        let mut request = ModbusRequest::new(slave, ModbusProto::Rtu);
        let mut frame: Vec<u8> = Vec::new();
        let generated = match table {
            RegisterTable::Input => request.generate_get_inputs(first, count, &mut frame),
            RegisterTable::Holding => request.generate_get_holdings(first, count, &mut frame),
        };
        generated.map_err(|e| DeviceError::InvalidSetting { field: "request", reason: format!("{e:?}") })?;
        self.quiet_line();
        if let Some(end) = self.last_frame_end {
            let gap = frame_gap(self.baud);
            let since = end.elapsed();
            if since < gap {
                std::thread::sleep(gap - since);
            }
        }
        self.port.write_all(&frame).map_err(|e| self.io_error(e))?;
        self.port.flush().map_err(|e| self.io_error(e))?;
        self.stats.requests += 1;
        let answer = self.read_answer(slave);
        self.last_frame_end = Some(Instant::now());
        let answer = answer?;
        let mut values: Vec<u16> = Vec::new();
        match request.parse_u16(&answer, &mut values) {
            Ok(()) if values.len() >= usize::from(count) => {
                self.stats.answers += 1;
                values.truncate(usize::from(count));
                Ok(values)
            }
            Ok(()) => {
                Err(DeviceError::BadFrame { slave, reason: format!("{} registers instead of {count}", values.len()) })
            }
            Err(ErrorKind::FrameCRCError) => {
                self.stats.crc_errors += 1;
                Err(DeviceError::Crc { slave })
            }
            Err(kind) if answer.len() == 5 && answer[1] & 0x80 != 0 => {
                self.stats.exceptions += 1;
                let _ = kind;
                Err(DeviceError::Exception { slave, code: answer[2] })
            }
            Err(kind) => Err(DeviceError::BadFrame { slave, reason: format!("{kind:?}") }),
        }
    }

    /// Drops whatever is waiting on the line before a request: it belongs to no answer.
    fn quiet_line(&mut self) {
        if let Ok(waiting) = self.port.bytes_to_read() {
            if waiting > 0 {
                let mut junk = vec![0u8; waiting as usize];
                if let Ok(n) = self.port.read(&mut junk) {
                    self.stats.garbage_bytes += n as u64;
                }
            }
        }
    }

    /// Reads one answer frame for `slave`: bytes before it that cannot start
    /// it are stray, the frame's length follows from its function and byte count.
    fn read_answer(&mut self, slave: u8) -> Result<Vec<u8>, DeviceError> {
        let deadline = Instant::now() + self.timeout;
        let mut buffer: Vec<u8> = Vec::with_capacity(FRAME_MAX);
        let mut chunk = [0u8; FRAME_MAX];
        loop {
            // Skip bytes that cannot start this slave's answer.
            while !buffer.is_empty() && buffer[0] != slave {
                buffer.remove(0);
                self.stats.garbage_bytes += 1;
            }
            if buffer.len() >= 2 {
                match guess_response_frame_len(&buffer, ModbusProto::Rtu) {
                    Ok(length) if buffer.len() >= usize::from(length) => {
                        let extra = buffer.len() - usize::from(length);
                        self.stats.garbage_bytes += extra as u64;
                        buffer.truncate(usize::from(length));
                        return Ok(buffer);
                    }
                    Ok(_) | Err(ErrorKind::OOB) => {}
                    Err(_) => {
                        // Not a frame start after all: drop its first byte and look again.
                        buffer.remove(0);
                        self.stats.garbage_bytes += 1;
                        continue;
                    }
                }
            }
            if Instant::now() >= deadline {
                self.stats.timeouts += 1;
                self.stats.garbage_bytes += buffer.len() as u64;
                return Err(DeviceError::Timeout { slave, timeout_ms: self.timeout.as_millis() as u64 });
            }
            match self.port.read(&mut chunk) {
                Ok(0) => {}
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(e) => return Err(self.io_error(e)),
            }
        }
    }

    fn io_error(&self, error: std::io::Error) -> DeviceError {
        DeviceError::Io { port: self.name.clone(), reason: error.to_string() }
    }
}

/// The most readings per second a bus can carry: each read is a request
/// (8 bytes) and an answer (5 + 2 × registers bytes) of 11-bit characters,
/// each frame followed by the 3.5-character gap.
pub fn bus_limit_per_second(baud: u32, registers: u16) -> f64 {
    let character = 11.0 / f64::from(baud);
    let request = 8.0 * character;
    let answer = (5.0 + 2.0 * f64::from(registers)) * character;
    let gap = frame_gap(baud).as_secs_f64();
    1.0 / (request + gap + answer + gap)
}
