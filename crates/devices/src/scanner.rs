//! Serial barcode scanners (USB-CDC or RS-232). A scanner sends each barcode
//! as bytes — GS and the AIM identifier intact — followed by a terminator
//! (CR by default), sometimes after a configured prefix. [`ScanFramer`] cuts
//! the byte stream into scans; [`ScannerReader`] runs a port on its own
//! thread, reconnects after an unplug, and hands scans to a bounded queue:
//! when the ledger falls behind, the reader waits (the bytes stay in the
//! operating system's buffer) and says so, rather than dropping a scan.

use crate::error::DeviceError;
use serde::Serialize;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::Duration;

/// The longest scan kept (as the barcode engine's limit); longer runs are garbage.
pub const SCAN_BYTES_MAX: usize = 4_096;
/// Scans waiting for the ledger before the reader waits.
pub const SCAN_QUEUE_MAX: usize = 256;
/// How long the reader waits before opening an unplugged port again.
pub const RECONNECT_DELAY: Duration = Duration::from_millis(500);

/// How a scanner frames its scans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannerConfig {
    /// Bytes that end a scan (any one of them): CR by default; CR LF works too.
    pub terminators: Vec<u8>,
    /// Bytes the scanner puts before every scan, removed (may be empty).
    pub prefix: Vec<u8>,
}

impl Default for ScannerConfig {
    fn default() -> Self {
        ScannerConfig { terminators: vec![b'\r', b'\n'], prefix: Vec::new() }
    }
}

/// What came off the line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ScannerEvent {
    /// One scan's text (GS as U+001D, AIM identifier kept).
    Scan { data: String },
    /// Bytes that are no scan: not text, control characters other than GS, or too long.
    Garbage { bytes: usize, reason: String },
    /// The port is open.
    Connected { port: String },
    /// The port went away; the reader tries again.
    Disconnected { port: String, reason: String },
}

/// Cuts a byte stream into scans.
#[derive(Debug, Default)]
pub struct ScanFramer {
    config: ScannerConfig,
    buffer: Vec<u8>,
    overlong: bool,
}

impl ScanFramer {
    /// A framer for a scanner's settings.
    pub fn new(config: ScannerConfig) -> ScanFramer {
        ScanFramer { config, buffer: Vec::new(), overlong: false }
    }

    /// Feeds bytes; returns the scans (and garbage) they complete.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<ScannerEvent> {
        let mut out = Vec::new();
        for &byte in bytes {
            if self.config.terminators.contains(&byte) {
                if let Some(event) = self.finish() {
                    out.push(event);
                }
                continue;
            }
            if self.buffer.len() >= SCAN_BYTES_MAX {
                self.overlong = true;
                self.buffer.clear();
            }
            self.buffer.push(byte);
        }
        out
    }

    fn finish(&mut self) -> Option<ScannerEvent> {
        let mut bytes = std::mem::take(&mut self.buffer);
        if std::mem::take(&mut self.overlong) {
            return Some(ScannerEvent::Garbage {
                bytes: SCAN_BYTES_MAX + bytes.len(),
                reason: format!("longer than {SCAN_BYTES_MAX} bytes"),
            });
        }
        if bytes.is_empty() {
            return None;
        }
        if !self.config.prefix.is_empty() && bytes.starts_with(&self.config.prefix) {
            bytes.drain(..self.config.prefix.len());
        }
        let length = bytes.len();
        match String::from_utf8(bytes) {
            Ok(text) if text.chars().any(|c| c.is_control() && c != '\u{1d}' && c != '\t') => {
                Some(ScannerEvent::Garbage { bytes: length, reason: "control characters".into() })
            }
            Ok(text) if text.trim().is_empty() => None,
            Ok(text) => Some(ScannerEvent::Scan { data: text }),
            Err(_) => Some(ScannerEvent::Garbage { bytes: length, reason: "not text".into() }),
        }
    }
}

/// Counters a reader keeps.
#[derive(Debug, Default)]
pub struct ReaderStats {
    /// Scans handed to the queue.
    pub scans: AtomicU64,
    /// Garbage runs seen.
    pub garbage: AtomicU64,
    /// Times the queue was full and the reader had to wait.
    pub queue_full: AtomicU64,
    /// Reconnections after the port went away.
    pub reconnects: AtomicU64,
}

/// A scanner port read on its own thread. Dropping it stops the thread.
pub struct ScannerReader {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Counters, shared with the thread.
    pub stats: Arc<ReaderStats>,
}

impl ScannerReader {
    /// Starts reading `path` at `baud`; events arrive on the returned receiver.
    pub fn start(
        path: &str,
        baud: u32,
        config: ScannerConfig,
    ) -> Result<(ScannerReader, Receiver<ScannerEvent>), DeviceError> {
        crate::ports::check_baud(baud)?;
        let (sender, receiver) = std::sync::mpsc::sync_channel(SCAN_QUEUE_MAX);
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(ReaderStats::default());
        let (flag, counters, path) = (stop.clone(), stats.clone(), path.to_string());
        let thread = std::thread::Builder::new()
            .name("scanner".into())
            .spawn(move || read_loop(&path, baud, config, &sender, &flag, &counters))
            .map_err(|e| DeviceError::Io { port: "(thread)".into(), reason: e.to_string() })?;
        Ok((ScannerReader { stop, thread: Some(thread), stats }, receiver))
    }
}

impl Drop for ScannerReader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Hands an event on; waits (and counts it) when the queue is full. False when nobody listens any more.
fn deliver(sender: &SyncSender<ScannerEvent>, event: ScannerEvent, stats: &ReaderStats, stop: &AtomicBool) -> bool {
    match sender.try_send(event) {
        Ok(()) => true,
        Err(TrySendError::Disconnected(_)) => false,
        Err(TrySendError::Full(event)) => {
            stats.queue_full.fetch_add(1, Ordering::Relaxed);
            let mut pending = event;
            loop {
                if stop.load(Ordering::Relaxed) {
                    return false;
                }
                match sender.try_send(pending) {
                    Ok(()) => return true,
                    Err(TrySendError::Disconnected(_)) => return false,
                    Err(TrySendError::Full(back)) => {
                        pending = back;
                        std::thread::sleep(Duration::from_millis(5));
                    }
                }
            }
        }
    }
}

fn read_loop(
    path: &str,
    baud: u32,
    config: ScannerConfig,
    sender: &SyncSender<ScannerEvent>,
    stop: &AtomicBool,
    stats: &ReaderStats,
) {
    let mut first = true;
    while !stop.load(Ordering::Relaxed) {
        let mut port = match crate::ports::open(path, baud, Duration::from_millis(50)) {
            Ok(port) => port,
            Err(_) => {
                std::thread::sleep(RECONNECT_DELAY);
                continue;
            }
        };
        if !first {
            stats.reconnects.fetch_add(1, Ordering::Relaxed);
        }
        first = false;
        if !deliver(sender, ScannerEvent::Connected { port: path.to_string() }, stats, stop) {
            return;
        }
        let mut framer = ScanFramer::new(config.clone());
        let mut chunk = [0u8; 1024];
        let reason = loop {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            match port.read(&mut chunk) {
                Ok(0) => std::thread::sleep(Duration::from_millis(5)),
                Ok(n) => {
                    for event in framer.push(&chunk[..n]) {
                        match &event {
                            ScannerEvent::Scan { .. } => stats.scans.fetch_add(1, Ordering::Relaxed),
                            _ => stats.garbage.fetch_add(1, Ordering::Relaxed),
                        };
                        if !deliver(sender, event, stats, stop) {
                            return;
                        }
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(e) => break e.to_string(),
            }
        };
        if !deliver(sender, ScannerEvent::Disconnected { port: path.to_string(), reason }, stats, stop) {
            return;
        }
        std::thread::sleep(RECONNECT_DELAY);
    }
}

/// Lines one batch download may hold (a handheld's memory holds a few thousand).
pub const DOWNLOAD_LINES_MAX: usize = 30_000;

/// Downloads a batch-memory handheld scanner's stored scans: opens the port
/// (the handheld in its cradle, set to send its memory), reads scans until the
/// line has been quiet for `idle` after the first one (or `wait` passes without
/// any), and returns them in order with the garbage seen. Bytes are framed
/// exactly as a live scanner's; the text of each line is what the handheld
/// stored (a barcode, optionally with its quantity and time).
pub fn download(
    path: &str,
    baud: u32,
    config: ScannerConfig,
    idle: Duration,
    wait: Duration,
) -> Result<(Vec<String>, usize), DeviceError> {
    let mut port = crate::ports::open(path, baud, Duration::from_millis(20))?;
    let mut framer = ScanFramer::new(config);
    let mut lines = Vec::new();
    let mut garbage = 0;
    let started = std::time::Instant::now();
    let mut last_byte: Option<std::time::Instant> = None;
    let mut chunk = [0u8; 4096];
    loop {
        match port.read(&mut chunk) {
            Ok(n) if n > 0 => {
                last_byte = Some(std::time::Instant::now());
                for event in framer.push(&chunk[..n]) {
                    match event {
                        ScannerEvent::Scan { data } => lines.push(data),
                        ScannerEvent::Garbage { .. } => garbage += 1,
                        _ => {}
                    }
                }
                if lines.len() > DOWNLOAD_LINES_MAX {
                    return Err(DeviceError::InvalidSetting {
                        field: "download",
                        reason: format!("more than {DOWNLOAD_LINES_MAX} stored scans"),
                    });
                }
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) => return Err(DeviceError::Io { port: path.to_string(), reason: e.to_string() }),
        }
        match last_byte {
            Some(at) if at.elapsed() >= idle => break,
            None if started.elapsed() >= wait => break,
            _ => {}
        }
    }
    // A last line the handheld did not terminate is still a stored scan.
    for event in framer.push(b"\r") {
        match event {
            ScannerEvent::Scan { data } => lines.push(data),
            ScannerEvent::Garbage { .. } => garbage += 1,
            _ => {}
        }
    }
    Ok((lines, garbage))
}
