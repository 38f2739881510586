//! Getting a job to a printer: raw TCP (port 9100), the system's CUPS queue
//! through `lp`, or a serial port. A printer is addressed by a URI —
//! `tcp://HOST[:PORT]`, `cups://QUEUE`, `serial:///dev/ttyUSB0?baud=9600`
//! (`serial://COM3?baud=9600` on Windows) — parsed into a [`Connection`].
//!
//! [`send`] makes one attempt and says exactly why it failed, with a typed
//! error; it neither retries nor queues. The persisted queue that keeps a
//! failed job, shows its error and retries it belongs to the ledger.

use crate::error::PrintError;
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Longest printer URI we read.
pub const URI_LEN_MAX: usize = 256;
/// Largest job sent in one call (a 5,000-label PDF stays far below it).
pub const JOB_BYTES_MAX: usize = 64 * 1024 * 1024;
/// The raw printing port of network label and receipt printers.
pub const DEFAULT_TCP_PORT: u16 = 9100;
pub const DEFAULT_BAUD: u32 = 9600;
/// Baud rates printers' serial interfaces offer.
pub const BAUD_RATES: &[u32] = &[1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600];
/// How long to wait for a printer to accept a connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one job may take to write (or for `lp` to take it).
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// Serial flow control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flow {
    None,
    /// RTS/CTS.
    Hardware,
    /// XON/XOFF.
    Software,
}

impl Flow {
    fn as_str(self) -> &'static str {
        match self {
            Flow::None => "none",
            Flow::Hardware => "hardware",
            Flow::Software => "software",
        }
    }
}

/// Where a printer is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Connection {
    /// Raw TCP: the job's bytes are written to the socket and it is closed.
    Tcp { host: String, port: u16 },
    /// A CUPS queue, through `lp -d QUEUE -o raw` (PDFs go through the queue's filters instead).
    Cups { queue: String },
    /// A serial port.
    Serial { port: String, baud: u32, flow: Flow },
}

impl std::fmt::Display for Connection {
    /// The canonical URI; parsing it gives the same connection back.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Connection::Tcp { host, port } if host.contains(':') => write!(f, "tcp://[{host}]:{port}"),
            Connection::Tcp { host, port } => write!(f, "tcp://{host}:{port}"),
            Connection::Cups { queue } => write!(f, "cups://{queue}"),
            Connection::Serial { port, baud, flow } => write!(f, "serial://{port}?baud={baud}&flow={}", flow.as_str()),
        }
    }
}

impl std::str::FromStr for Connection {
    type Err = PrintError;
    fn from_str(uri: &str) -> Result<Connection, PrintError> {
        Connection::parse(uri)
    }
}

impl Connection {
    /// Parses a printer URI. Never panics; anything else than the three forms is `bad_printer_uri`.
    pub fn parse(uri: &str) -> Result<Connection, PrintError> {
        let bad = |reason: &str| PrintError::BadUri {
            uri: uri.chars().take(URI_LEN_MAX).collect(),
            reason: reason.to_string(),
        };
        if uri.len() > URI_LEN_MAX {
            return Err(bad("too long"));
        }
        if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("spaces or control characters"));
        }
        let (scheme, rest) = uri.split_once("://").ok_or_else(|| bad("no scheme"))?;
        match scheme.to_ascii_lowercase().as_str() {
            "tcp" => {
                let (host, port) = split_host_port(rest).map_err(&bad)?;
                Ok(Connection::Tcp { host, port })
            }
            "cups" => {
                let ok = !rest.is_empty()
                    && rest.len() <= 127
                    && !rest.starts_with('-')
                    && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-@".contains(&b));
                if !ok {
                    return Err(bad("a queue name is letters, digits and _ . - @"));
                }
                Ok(Connection::Cups { queue: rest.to_string() })
            }
            "serial" => {
                let (port, query) = rest.split_once('?').unwrap_or((rest, ""));
                let ok = !port.is_empty()
                    && !port.starts_with('-')
                    && port.bytes().all(|b| b.is_ascii_alphanumeric() || b"_./-".contains(&b))
                    && !port.split('/').any(|segment| segment == "..");
                if !ok {
                    return Err(bad("a serial port is a device path like /dev/ttyUSB0 or COM3"));
                }
                let mut baud = None;
                let mut flow = None;
                for pair in query.split('&').filter(|p| !p.is_empty()) {
                    let (key, value) = pair.split_once('=').ok_or_else(|| bad("a setting without a value"))?;
                    match key {
                        "baud" if baud.is_none() => {
                            let rate = value.parse::<u32>().ok().filter(|r| BAUD_RATES.contains(r));
                            baud = Some(rate.ok_or_else(|| bad("baud is not a serial speed"))?);
                        }
                        "flow" if flow.is_none() => {
                            flow = Some(match value {
                                "none" => Flow::None,
                                "hardware" | "rtscts" => Flow::Hardware,
                                "software" | "xonxoff" => Flow::Software,
                                _ => return Err(bad("flow is none, hardware or software")),
                            });
                        }
                        "baud" | "flow" => return Err(bad("a setting given twice")),
                        _ => return Err(bad("unknown setting (baud and flow are known)")),
                    }
                }
                Ok(Connection::Serial {
                    port: port.to_string(),
                    baud: baud.unwrap_or(DEFAULT_BAUD),
                    flow: flow.unwrap_or(Flow::None),
                })
            }
            _ => Err(bad("the scheme is tcp, cups or serial")),
        }
    }
}

/// `host`, `host:port`, `[v6]`, `[v6]:port`.
fn split_host_port(text: &str) -> Result<(String, u16), &'static str> {
    let (host, port) = if let Some(bracketed) = text.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']').ok_or("an IPv6 address without its closing ]")?;
        if host.is_empty() || !host.bytes().all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.') {
            return Err("not an IPv6 address");
        }
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or("text after the IPv6 address")?),
        };
        (host, port)
    } else {
        let (host, port) = match text.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        };
        let label_ok = |l: &str| !l.is_empty() && l.len() <= 63 && !l.starts_with('-') && !l.ends_with('-');
        let ok = !host.is_empty()
            && host.len() <= 253
            && host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
            && host.split('.').all(label_ok);
        if !ok {
            return Err("not a host name or IPv4 address");
        }
        (host, port)
    };
    let port = match port {
        None => DEFAULT_TCP_PORT,
        Some(p) => p.parse::<u16>().ok().filter(|&p| p > 0).ok_or("the port is a number from 1 to 65535")?,
    };
    Ok((host.to_string(), port))
}

/// How [`send_with`] behaves; [`send`] uses the defaults.
#[derive(Debug, Clone)]
pub struct SendOptions {
    pub connect_timeout: Duration,
    pub write_timeout: Duration,
    /// The program CUPS jobs go through (`lp`).
    pub lp_program: PathBuf,
}

impl Default for SendOptions {
    fn default() -> Self {
        SendOptions { connect_timeout: CONNECT_TIMEOUT, write_timeout: WRITE_TIMEOUT, lp_program: PathBuf::from("lp") }
    }
}

/// Sends one job to a printer, once.
pub fn send(connection: &Connection, job: &[u8]) -> Result<(), PrintError> {
    send_with(connection, job, &SendOptions::default())
}

/// [`send`] with explicit timeouts and `lp` program.
pub fn send_with(connection: &Connection, job: &[u8], options: &SendOptions) -> Result<(), PrintError> {
    if job.len() > JOB_BYTES_MAX {
        return Err(PrintError::JobTooLarge { bytes: job.len(), max: JOB_BYTES_MAX });
    }
    match connection {
        Connection::Tcp { host, port } => send_tcp(host, *port, job, options),
        Connection::Cups { queue } => send_cups(queue, job, options),
        Connection::Serial { port, baud, flow } => send_serial(port, *baud, *flow, job, options),
    }
}

fn network_error(address: &str, error: std::io::Error) -> PrintError {
    use std::io::ErrorKind;
    match error.kind() {
        ErrorKind::ConnectionRefused => PrintError::PrinterRefused { address: address.to_string() },
        ErrorKind::TimedOut | ErrorKind::WouldBlock => PrintError::PrinterTimeout { address: address.to_string() },
        _ => PrintError::PrinterUnreachable { address: address.to_string(), reason: error.to_string() },
    }
}

fn send_tcp(host: &str, port: u16, job: &[u8], options: &SendOptions) -> Result<(), PrintError> {
    let address = if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
    let targets: Vec<_> = (host, port)
        .to_socket_addrs()
        .map_err(|e| PrintError::PrinterUnreachable { address: address.clone(), reason: e.to_string() })?
        .collect();
    let mut last = None;
    let mut stream = None;
    for target in targets {
        match TcpStream::connect_timeout(&target, options.connect_timeout) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let mut stream = match (stream, last) {
        (Some(stream), _) => stream,
        (None, Some(error)) => return Err(network_error(&address, error)),
        (None, None) => {
            return Err(PrintError::PrinterUnreachable { address, reason: "the name has no address".into() })
        }
    };
    let io = |e| network_error(&address, e);
    stream.set_write_timeout(Some(options.write_timeout)).map_err(io)?;
    stream.write_all(job).map_err(io)?;
    stream.flush().map_err(io)?;
    // Half-close: the printer sees the end of the job; then the socket is dropped.
    stream.shutdown(std::net::Shutdown::Write).map_err(io)?;
    Ok(())
}

fn send_cups(queue: &str, job: &[u8], options: &SendOptions) -> Result<(), PrintError> {
    let mut command = Command::new(&options.lp_program);
    command.arg("-d").arg(queue);
    // Printer languages go to the printer as they are; a PDF goes through the queue's filters.
    if !job.starts_with(b"%PDF-") {
        command.arg("-o").arg("raw");
    }
    command.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped());
    let mut child = command.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => PrintError::CupsUnavailable,
        _ => PrintError::CupsRejected { queue: queue.to_string(), reason: e.to_string() },
    })?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let payload = job.to_vec();
    // Written from a thread so a stalled `lp` cannot stall us past the deadline.
    let writer = std::thread::spawn(move || stdin.write_all(&payload));
    let mut stderr = child.stderr.take().expect("piped stderr");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.by_ref().take(16 * 1024).read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + options.write_timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                let _ = writer.join();
                let _ = reader.join();
                return Err(PrintError::PrinterTimeout { address: format!("cups://{queue}") });
            }
            Err(e) => return Err(PrintError::CupsRejected { queue: queue.to_string(), reason: e.to_string() }),
        }
    };
    let written = writer.join().unwrap_or(Ok(()));
    let message = reader.join().unwrap_or_default();
    if !status.success() {
        let first = message.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
        let reason =
            if first.is_empty() { format!("lp exited with {status}") } else { first.chars().take(200).collect() };
        return Err(PrintError::CupsRejected { queue: queue.to_string(), reason });
    }
    written.map_err(|e| PrintError::CupsRejected { queue: queue.to_string(), reason: e.to_string() })
}

fn send_serial(port: &str, baud: u32, flow: Flow, job: &[u8], options: &SendOptions) -> Result<(), PrintError> {
    let flow = match flow {
        Flow::None => serialport::FlowControl::None,
        Flow::Hardware => serialport::FlowControl::Hardware,
        Flow::Software => serialport::FlowControl::Software,
    };
    let mut serial = serialport::new(port, baud)
        .flow_control(flow)
        .timeout(options.write_timeout)
        .open()
        .map_err(|e| PrintError::SerialOpenFailed { port: port.to_string(), reason: e.to_string() })?;
    let failed = |e: std::io::Error| PrintError::SerialWriteFailed { port: port.to_string(), reason: e.to_string() };
    serial.write_all(job).map_err(failed)?;
    serial.flush().map_err(failed)?;
    Ok(())
}
