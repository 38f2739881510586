//! The serial ports this machine has, with the USB identity of what is
//! plugged in, and opening one with the settings a device needs.

use crate::error::DeviceError;
use serde::Serialize;
use std::time::Duration;

/// Baud rates serial devices offer.
pub const BAUD_RATES: &[u32] = &[1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400];

/// One serial port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortInfo {
    /// Path or name to open: /dev/ttyUSB0, /dev/ttyACM0, COM3.
    pub path: String,
    /// usb, pci, bluetooth or unknown.
    pub kind: String,
    /// USB vendor id, e.g. "0c2e" (Honeywell).
    pub vendor_id: Option<String>,
    /// USB product id.
    pub product_id: Option<String>,
    /// The device's own serial number: the same device gets the same role after a re-plug.
    pub serial_number: Option<String>,
    /// Manufacturer as the device reports it.
    pub manufacturer: Option<String>,
    /// Product name as the device reports it.
    pub product: Option<String>,
}

impl PortInfo {
    /// A stable identity for assigning a role: vendor:product:serial when USB, else the path.
    pub fn identity(&self) -> String {
        match (&self.vendor_id, &self.product_id) {
            (Some(v), Some(p)) => format!("usb:{v}:{p}:{}", self.serial_number.as_deref().unwrap_or("")),
            _ => self.path.clone(),
        }
    }
}

/// The machine's serial ports.
pub fn list_ports() -> Result<Vec<PortInfo>, DeviceError> {
    let ports = serialport::available_ports()
        .map_err(|e| DeviceError::Io { port: "(enumeration)".into(), reason: e.to_string() })?;
    let mut out: Vec<PortInfo> = ports
        .into_iter()
        .map(|p| {
            let mut info = PortInfo {
                path: p.port_name,
                kind: "unknown".into(),
                vendor_id: None,
                product_id: None,
                serial_number: None,
                manufacturer: None,
                product: None,
            };
            match p.port_type {
                serialport::SerialPortType::UsbPort(usb) => {
                    info.kind = "usb".into();
                    info.vendor_id = Some(format!("{:04x}", usb.vid));
                    info.product_id = Some(format!("{:04x}", usb.pid));
                    info.serial_number = usb.serial_number;
                    info.manufacturer = usb.manufacturer;
                    info.product = usb.product;
                }
                serialport::SerialPortType::PciPort => info.kind = "pci".into(),
                serialport::SerialPortType::BluetoothPort => info.kind = "bluetooth".into(),
                serialport::SerialPortType::Unknown => {}
            }
            info
        })
        .collect();
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// Checks a baud rate against what serial devices offer.
pub fn check_baud(baud: u32) -> Result<u32, DeviceError> {
    if BAUD_RATES.contains(&baud) {
        Ok(baud)
    } else {
        Err(DeviceError::InvalidSetting { field: "baud", reason: format!("{baud} is not one of {BAUD_RATES:?}") })
    }
}

/// Opens a port 8N1 at `baud` with a read timeout.
pub fn open(path: &str, baud: u32, timeout: Duration) -> Result<Box<dyn serialport::SerialPort>, DeviceError> {
    check_baud(baud)?;
    serialport::new(path, baud)
        .timeout(timeout)
        .open()
        .map_err(|e| DeviceError::Open { port: path.to_string(), reason: e.to_string() })
}
