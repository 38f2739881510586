//! Devices on serial ports: barcode scanners and thermometers.
//!
//! - [`ports`]: the serial ports with their USB identity (vendor/product id,
//!   serial number, product name), so a device is known by what it is, not by
//!   `/dev/ttyUSB0` or `COM3`.
//! - [`scanner`]: serial (USB-CDC / RS-232) barcode scanners — bytes framed
//!   into scans by terminator and prefix, GS and AIM identifiers intact, a
//!   bounded queue towards the ledger, reconnection after an unplug.
//! - [`modbus`]: thermometers speaking Modbus RTU on RS-485/RS-232, several
//!   on one bus, with per-model register maps; every timeout, CRC error and
//!   stray byte is counted, none stops the poller.
//! - [`thermometer`]: plain ASCII-line thermometers read by a pattern.
//! - [`sim`]: pty-pair cables and a pymodbus peer, for tests and benchmarks.
//!
//! Nothing here knows the ledger: the shells pass scans to the barcode engine
//! and readings to the cold-chain rules. All I/O is blocking and meant to run
//! on its own thread, never the UI's.

pub mod error;
pub mod modbus;
pub mod ports;
pub mod scanner;
pub mod sim;
pub mod thermometer;

pub use error::DeviceError;
