//! What can go wrong with a device, each with a stable code and a message in
//! Chinese or English that says what to do.

/// The language of messages (the same two the ledger speaks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Zh,
    En,
}

/// A device failure. Nothing here is a panic: the poller counts and goes on.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// The port could not be opened (absent, busy, no permission).
    #[error("cannot open {port}: {reason}")]
    Open { port: String, reason: String },
    /// Reading or writing the port failed (e.g. the device was unplugged).
    #[error("port {port}: {reason}")]
    Io { port: String, reason: String },
    /// No (complete) answer within the timeout.
    #[error("no answer from slave {slave} within {timeout_ms} ms")]
    Timeout { slave: u8, timeout_ms: u64 },
    /// The answer's CRC does not match: bytes were corrupted on the line.
    #[error("CRC error in the answer of slave {slave}")]
    Crc { slave: u8 },
    /// The device answered with a Modbus exception.
    #[error("slave {slave} answered exception {code}")]
    Exception { slave: u8, code: u8 },
    /// A frame that is not what was asked for (another slave, function or length).
    #[error("unexpected answer from slave {slave}: {reason}")]
    BadFrame { slave: u8, reason: String },
    /// A sensor model we have no register map for.
    #[error("unknown sensor model {0}")]
    UnknownModel(String),
    /// A setting out of range (baud, slave address, pattern …).
    #[error("invalid {field}: {reason}")]
    InvalidSetting { field: &'static str, reason: String },
}

impl DeviceError {
    /// The stable code shells branch on.
    pub fn code(&self) -> &'static str {
        match self {
            DeviceError::Open { .. } => "port_open_failed",
            DeviceError::Io { .. } => "port_io_failed",
            DeviceError::Timeout { .. } => "device_timeout",
            DeviceError::Crc { .. } => "modbus_crc_error",
            DeviceError::Exception { .. } => "modbus_exception",
            DeviceError::BadFrame { .. } => "modbus_bad_frame",
            DeviceError::UnknownModel(_) => "unknown_sensor_model",
            DeviceError::InvalidSetting { .. } => "invalid_device_setting",
        }
    }

    /// What happened and what to do.
    pub fn message(&self, lang: Lang) -> String {
        let zh = lang == Lang::Zh;
        match self {
            DeviceError::Open { port, reason } if zh => format!("无法打开串口 {port}（{reason}）。请检查设备是否已连接、是否被其他程序占用。"),
            DeviceError::Open { port, reason } => {
                format!("Cannot open port {port} ({reason}). Check the device is plugged in and no other program uses it.")
            }
            DeviceError::Io { port, reason } if zh => format!("串口 {port} 读写失败（{reason}）。设备可能已拔出，将自动重连。"),
            DeviceError::Io { port, reason } => {
                format!("Port {port} failed ({reason}). The device may have been unplugged; it will reconnect by itself.")
            }
            DeviceError::Timeout { slave, timeout_ms } if zh => {
                format!("温度传感器（地址 {slave}）在 {timeout_ms} 毫秒内没有应答。请检查接线、地址和波特率。")
            }
            DeviceError::Timeout { slave, timeout_ms } => format!(
                "Sensor at address {slave} did not answer within {timeout_ms} ms. Check the wiring, address and baud rate."
            ),
            DeviceError::Crc { slave } if zh => format!("温度传感器（地址 {slave}）的应答校验错误，线路可能有干扰。"),
            DeviceError::Crc { slave } => {
                format!("The answer of sensor {slave} failed its CRC check: the line may be noisy.")
            }
            DeviceError::Exception { slave, code } if zh => format!("温度传感器（地址 {slave}）拒绝请求（异常码 {code}）。请检查型号设置。"),
            DeviceError::Exception { slave, code } => {
                format!("Sensor {slave} refused the request (exception {code}). Check the configured model.")
            }
            DeviceError::BadFrame { slave, reason } if zh => format!("温度传感器（地址 {slave}）应答格式不对：{reason}。"),
            DeviceError::BadFrame { slave, reason } => format!("Sensor {slave} answered something unexpected: {reason}."),
            DeviceError::UnknownModel(model) if zh => format!("没有传感器型号 {model} 的寄存器表。"),
            DeviceError::UnknownModel(model) => format!("There is no register map for sensor model {model}."),
            DeviceError::InvalidSetting { field, reason } if zh => format!("设备设置 {field} 无效：{reason}。"),
            DeviceError::InvalidSetting { field, reason } => format!("Invalid device setting {field}: {reason}."),
        }
    }
}
