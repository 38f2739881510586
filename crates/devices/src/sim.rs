//! Stand-ins for the cable and the devices, for tests and benchmarks — never
//! a mock of the port: real pseudo-terminal pairs carry the bytes.
//!
//! - [`Line`], two pty pairs joined by a relay thread, so our code opens one
//!   end and a device (or its simulator) the other. The relay can pace bytes
//!   at a baud rate as on a real half-duplex RS-485 line (11 bits a
//!   character, one direction at a time, and the 3.5-character silence a
//!   receiver needs to see a frame end before the other side may answer),
//!   corrupt the next answer, or put stray bytes before it.
//! - [`ModbusPeer`], pymodbus (a Modbus implementation no one here wrote)
//!   serving XY-MD02-like thermometers on a port, from
//!   `fixtures/devices/modbus_sensors.py`.

use serialport::{SerialPort, TTYPort};
use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A simulated cable: our end and the device's end are pty slave paths.
pub struct Line {
    /// The path our code opens.
    pub ours: String,
    /// The path the device (simulator) opens.
    pub theirs: String,
    /// Corrupt the last byte of the next answer (device → us).
    pub corrupt_next: Arc<AtomicBool>,
    /// Put this many stray bytes before the next answer.
    pub stray_next: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
    // The slave ends stay open so that a side may close and reopen its path.
    _slaves: (TTYPort, TTYPort),
}

impl Line {
    /// A line that carries bytes as fast as the pty does (`baud` None) or paced at `baud`.
    pub fn new(baud: Option<u32>) -> std::io::Result<Line> {
        let (ours_master, ours_slave) = TTYPort::pair().map_err(std::io::Error::other)?;
        let (theirs_master, theirs_slave) = TTYPort::pair().map_err(std::io::Error::other)?;
        let ours = ours_slave.name().ok_or_else(|| std::io::Error::other("pty without a name"))?;
        let theirs = theirs_slave.name().ok_or_else(|| std::io::Error::other("pty without a name"))?;
        let corrupt_next = Arc::new(AtomicBool::new(false));
        let stray_next = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let byte_time = baud.map(|b| Duration::from_secs_f64(11.0 / f64::from(b)));
        let gap = baud.map(crate::modbus::frame_gap).unwrap_or_default();
        // The line is one wire pair: when it is next free, and who spoke last.
        let line_state = Arc::new(std::sync::Mutex::new((Instant::now(), false)));
        let pipe =
            |mut from: TTYPort, mut to: TTYPort, answers: bool| -> std::io::Result<std::thread::JoinHandle<()>> {
                let (corrupt, stray, stop, state) =
                    (corrupt_next.clone(), stray_next.clone(), stop.clone(), line_state.clone());
                from.set_timeout(Duration::from_millis(10)).map_err(std::io::Error::other)?;
                Ok(std::thread::spawn(move || {
                    let mut buffer = [0u8; 512];
                    while !stop.load(Ordering::Relaxed) {
                        let n = match from.read(&mut buffer) {
                            Ok(n) if n > 0 => n,
                            _ => continue,
                        };
                        let mut bytes = buffer[..n].to_vec();
                        if answers {
                            let pad = stray.swap(0, Ordering::Relaxed);
                            if pad > 0 {
                                let mut padded = vec![0xA5; pad];
                                padded.extend_from_slice(&bytes);
                                bytes = padded;
                            }
                            if corrupt.swap(false, Ordering::Relaxed) {
                                let last = bytes.len() - 1;
                                bytes[last] ^= 0x5A;
                            }
                        }
                        if let Some(byte_time) = byte_time {
                            // Bytes leave no faster than the baud rate allows, after the
                            // other side's frame and the silence that ends it.
                            let done = {
                                let mut line = state.lock().unwrap_or_else(|e| e.into_inner());
                                let (free_at, last_answers) = *line;
                                let turnaround = if last_answers != answers { gap } else { Duration::ZERO };
                                let start = (free_at + turnaround).max(Instant::now());
                                let done = start + byte_time * bytes.len() as u32;
                                *line = (done, answers);
                                done
                            };
                            std::thread::sleep(done.saturating_duration_since(Instant::now()));
                        }
                        let _ = to.write_all(&bytes);
                    }
                }))
            };
        let to_theirs = pipe(
            ours_master.try_clone_native().map_err(std::io::Error::other)?,
            theirs_master.try_clone_native().map_err(std::io::Error::other)?,
            false,
        )?;
        let to_ours = pipe(theirs_master, ours_master, true)?;
        Ok(Line {
            ours,
            theirs,
            corrupt_next,
            stray_next,
            stop,
            threads: vec![to_theirs, to_ours],
            _slaves: (ours_slave, theirs_slave),
        })
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// pymodbus serving thermometers on a port until dropped.
pub struct ModbusPeer(Child);

impl ModbusPeer {
    /// Starts `python script port baud unit:temp_x10:humidity_x10 …` and waits until it serves.
    pub fn start(
        python: &Path,
        script: &Path,
        port: &str,
        baud: u32,
        units: &[(u8, i16, u16)],
    ) -> std::io::Result<ModbusPeer> {
        let mut command = Command::new(python);
        command.arg(script).arg(port).arg(baud.to_string());
        for (unit, temperature, humidity) in units {
            command.arg(format!("{unit}:{temperature}:{humidity}"));
        }
        let mut child = command.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn()?;
        let mut line = String::new();
        let stdout = child.stdout.take().ok_or_else(|| std::io::Error::other("no stdout"))?;
        std::io::BufReader::new(stdout).read_line(&mut line)?;
        if line.trim() != "ready" {
            let _ = child.kill();
            let _ = child.wait();
            return Err(std::io::Error::other(format!("{} did not start (is pymodbus installed?)", script.display())));
        }
        // It prints before it opens the port.
        std::thread::sleep(Duration::from_millis(700));
        Ok(ModbusPeer(child))
    }

    /// The Python to use: $MEDLEDGER_PYTHON, else the repository's venv, else python3.
    pub fn python(repository: &Path) -> PathBuf {
        if let Ok(path) = std::env::var("MEDLEDGER_PYTHON") {
            return path.into();
        }
        let venv = repository.join("target/pyenv/bin/python");
        if venv.exists() {
            venv
        } else {
            "python3".into()
        }
    }
}

impl Drop for ModbusPeer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
