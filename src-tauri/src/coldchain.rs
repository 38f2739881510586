//! The commands of the devices and cold-chain screens: serial ports with
//! their USB identity and role, sensors, device states, serial scans the
//! front end has not acknowledged, cold units, readings, excursions and
//! their resolution, manual readings and logger files. Thin, like the
//! others: the acting user comes from the session, rules are the core's.

use crate::commands::{lang, session_user};
use crate::devices::{locate, DeviceState, Devices, SerialScan};
use crate::dto::{ApiError, ImportProgress, ImportStage};
use crate::AppState;
use devices::ports::PortInfo;
use ledger::*;
use serde::Serialize;
use tauri::ipc::Channel;
use tauri::State;
use ts_rs::TS;

type Reply<T> = Result<T, ApiError>;

/// Hours of readings the chart may ask for (400 days).
pub const READINGS_HOURS_MAX: u32 = 24 * 400;
/// The largest logger file taken (a month at one reading a minute is ~1.5 MB).
pub const LOGGER_FILE_BYTES_MAX: usize = 8 * 1024 * 1024;

/// A serial port as the settings show it: what is plugged in, and its role.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct SerialPortView {
    /// Path to open (/dev/ttyUSB0, COM3); for a stored role whose device is absent, where it was.
    pub path: String,
    /// usb, pci, bluetooth, unknown — or absent (a stored role whose device is not plugged in).
    pub kind: String,
    pub vendor_id: Option<String>,
    pub product_id: Option<String>,
    pub serial_number: Option<String>,
    pub manufacturer: Option<String>,
    pub product: Option<String>,
    /// What a role is kept by: usb:vendor:product:serial, else the path.
    pub identity: String,
    /// Its role, if one is set.
    pub role: Option<PortRole>,
    /// Sensors configured on this port.
    pub sensors: Vec<SensorConfig>,
}

fn port_view(info: &PortInfo, role: Option<PortRole>, sensors: &[SensorConfig]) -> SerialPortView {
    SerialPortView {
        path: info.path.clone(),
        kind: info.kind.clone(),
        vendor_id: info.vendor_id.clone(),
        product_id: info.product_id.clone(),
        serial_number: info.serial_number.clone(),
        manufacturer: info.manufacturer.clone(),
        product: info.product.clone(),
        identity: info.identity(),
        role,
        sensors: sensors.iter().filter(|s| s.port == info.path).cloned().collect(),
    }
}

/// The ports of this machine with their roles, then stored roles whose device is absent.
pub fn serial_port_views(ports: &[PortInfo], roles: &[PortRole], sensors: &[SensorConfig]) -> Vec<SerialPortView> {
    let located: Vec<Option<String>> = roles.iter().map(|r| locate(r, ports)).collect();
    let mut taken = vec![false; roles.len()];
    let mut out: Vec<SerialPortView> = ports
        .iter()
        .map(|info| {
            let index = located.iter().position(|path| path.as_deref() == Some(info.path.as_str()));
            let role = index.map(|i| {
                taken[i] = true;
                roles[i].clone()
            });
            port_view(info, role, sensors)
        })
        .collect();
    for (role, _) in roles.iter().zip(taken).filter(|(_, taken)| !taken) {
        let absent = PortInfo {
            path: role.path.clone(),
            kind: "absent".into(),
            vendor_id: None,
            product_id: None,
            serial_number: None,
            manufacturer: None,
            product: (!role.description.is_empty()).then(|| role.description.clone()),
        };
        let mut view = port_view(&absent, Some(role.clone()), sensors);
        view.identity = role.identity.clone();
        out.push(view);
    }
    out
}

fn with_ledger<T>(state: &AppState, f: impl FnOnce(&mut Ledger) -> ledger::Result<T>) -> Reply<T> {
    let lang = lang(state);
    let mut ledger = state.ledger.lock().expect("ledger lock");
    f(&mut ledger).map_err(|e| ApiError::from_ledger(&e, lang))
}

fn device_error(error: &devices::DeviceError, lang: Lang) -> ApiError {
    ApiError { code: error.code().to_string(), message: error.message(coldchain_poll::devices_lang(lang)) }
}

#[tauri::command(async)]
pub fn serial_ports(state: State<'_, AppState>) -> Reply<Vec<SerialPortView>> {
    let lang = lang(&state);
    let ports = devices::ports::list_ports().map_err(|e| device_error(&e, lang))?;
    let (roles, sensors) = with_ledger(&state, |l| Ok((l.port_roles()?, l.sensors()?)))?;
    Ok(serial_port_views(&ports, &roles, &sensors))
}

/// Sets a port's role (who may edit master data) and restarts the scanners.
#[tauri::command(async)]
pub fn set_port_role(state: State<'_, AppState>, devices: State<'_, Devices>, role: PortRole) -> Reply<()> {
    let user = session_user(&state)?;
    devices::ports::check_baud(role.baud).map_err(|e| device_error(&e, lang(&state)))?;
    with_ledger(&state, |l| l.set_port_role(&user, &role))?;
    restart(&state, &devices)
}

#[tauri::command(async)]
pub fn remove_port_role(state: State<'_, AppState>, devices: State<'_, Devices>, identity: String) -> Reply<()> {
    let user = session_user(&state)?;
    with_ledger(&state, |l| l.remove_port_role(&user, &identity))?;
    restart(&state, &devices)
}

fn restart(state: &AppState, devices: &Devices) -> Reply<()> {
    devices.start_scanners().map_err(|e| ApiError::from_ledger(&e, lang(state)))?;
    devices.poll_now();
    Ok(())
}

/// Adds a thermometer to a cold unit; a configuration the poller could never read is refused first.
#[tauri::command(async)]
pub fn add_sensor(state: State<'_, AppState>, devices: State<'_, Devices>, sensor: SensorConfig) -> Reply<String> {
    let user = session_user(&state)?;
    let lang = lang(&state);
    let check = || -> Result<(), devices::DeviceError> {
        devices::ports::check_baud(sensor.baud)?;
        match sensor.protocol.as_str() {
            "modbus-rtu" => {
                devices::modbus::SensorModel::builtin(&sensor.model)?;
                if !(1..=247).contains(&sensor.slave) {
                    return Err(devices::DeviceError::InvalidSetting {
                        field: "slave",
                        reason: format!("{} is not 1–247", sensor.slave),
                    });
                }
            }
            "ascii" => {
                let pattern =
                    if sensor.pattern.is_empty() { devices::thermometer::DEFAULT_PATTERN } else { &sensor.pattern };
                devices::thermometer::LinePattern::new(pattern)?;
            }
            _ => {}
        }
        Ok(())
    };
    check().map_err(|e| device_error(&e, lang))?;
    let id = with_ledger(&state, |l| l.add_sensor(&user, &sensor))?;
    devices.poll_now();
    Ok(id)
}

#[tauri::command(async)]
pub fn device_states(devices: State<'_, Devices>) -> Reply<Vec<DeviceState>> {
    Ok(devices.states())
}

/// Serial scans emitted and not acknowledged yet (the front end asks once it listens).
#[tauri::command(async)]
pub fn pending_serial_scans(devices: State<'_, Devices>) -> Reply<Vec<SerialScan>> {
    Ok(devices.inbox.pending())
}

/// The front end has routed every serial scan up to `seq`.
#[tauri::command(async)]
pub fn acknowledge_serial_scans(devices: State<'_, Devices>, seq: u64) -> Reply<()> {
    devices.inbox.acknowledge(seq);
    Ok(())
}

/// Reads every sensor now instead of at the next tick.
#[tauri::command(async)]
pub fn poll_now(devices: State<'_, Devices>) -> Reply<()> {
    devices.poll_now();
    Ok(())
}

#[tauri::command(async)]
pub fn cold_units(state: State<'_, AppState>) -> Reply<Vec<ColdUnitView>> {
    with_ledger(&state, |l| l.cold_units())
}

/// A unit's readings over the last `hours`, oldest first.
#[tauri::command(async)]
pub fn readings(state: State<'_, AppState>, location: String, hours: u32) -> Reply<Vec<ReadingView>> {
    with_ledger(&state, |l| {
        let since = l.clock().now_ms() - i64::from(hours.clamp(1, READINGS_HOURS_MAX)) * 3_600_000;
        l.readings(&location, since)
    })
}

#[tauri::command(async)]
pub fn excursions(state: State<'_, AppState>, all: bool) -> Reply<Vec<ExcursionView>> {
    with_ledger(&state, |l| l.excursions(!all))
}

/// A manager releases or scraps what an excursion quarantined, with a reason.
#[tauri::command(async)]
pub fn resolve_excursion(state: State<'_, AppState>, id: String, reason: String, scrap: bool) -> Reply<ExcursionView> {
    let user = session_user(&state)?;
    with_ledger(&state, |l| l.resolve_excursion(&id, &user, &reason, scrap))
}

/// A temperature the session user measured by hand (it can pass the issue gate).
#[tauri::command(async)]
pub fn record_manual_reading(state: State<'_, AppState>, location: String, temperature_c: f64) -> Reply<()> {
    let user = session_user(&state)?;
    with_ledger(&state, |l| l.record_manual_reading(&user, &location, temperature_c))
}

/// A data logger's CSV export into a cold unit: every line or none; returns how many readings.
#[tauri::command(async)]
pub fn import_logger_readings(
    state: State<'_, AppState>,
    location: String,
    text: String,
    utc_offset_minutes: i32,
    on_progress: Channel<ImportProgress>,
) -> Reply<usize> {
    session_user(&state)?;
    let lang = lang(&state);
    if text.len() > LOGGER_FILE_BYTES_MAX {
        return Err(ApiError::app(
            "file_too_large",
            &format!("文件超过 {} MB，请分成几个文件导入。", LOGGER_FILE_BYTES_MAX / 1024 / 1024),
            &format!("The file is larger than {} MB: import it in parts.", LOGGER_FILE_BYTES_MAX / 1024 / 1024),
            lang,
        ));
    }
    if !(-14 * 60..=14 * 60).contains(&utc_offset_minutes) {
        return Err(ApiError::app("invalid_input", "时区偏移无效。", "Invalid UTC offset.", lang));
    }
    let total = text.lines().filter(|l| !l.trim().is_empty()).count();
    let _ = on_progress.send(ImportProgress { stage: ImportStage::Recording, done: 0, total });
    let count = with_ledger(&state, |l| l.import_logger_readings(&location, &text, utc_offset_minutes))?;
    let _ = on_progress.send(ImportProgress { stage: ImportStage::Recording, done: total, total });
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usb(path: &str, serial: Option<&str>) -> PortInfo {
        PortInfo {
            path: path.into(),
            kind: "usb".into(),
            vendor_id: Some("0c2e".into()),
            product_id: Some("0b61".into()),
            serial_number: serial.map(str::to_string),
            manufacturer: Some("Honeywell".into()),
            product: Some("1950g".into()),
        }
    }

    fn role(identity: &str, path: &str) -> PortRole {
        PortRole {
            identity: identity.into(),
            path: path.into(),
            role: "scanner".into(),
            baud: 9600,
            terminator: "cr".into(),
            prefix: String::new(),
            description: "1950g".into(),
        }
    }

    #[test]
    fn a_role_follows_its_device_to_another_path_and_shows_as_absent_when_unplugged() {
        let roles = vec![role("usb:0c2e:0b61:A1", "/dev/ttyACM0")];
        // Re-plugged: the same scanner is now ttyACM1, another device took ttyACM0.
        let ports = vec![usb("/dev/ttyACM0", Some("B2")), usb("/dev/ttyACM1", Some("A1"))];
        let views = serial_port_views(&ports, &roles, &[]);
        assert_eq!(views.len(), 2);
        assert!(views[0].role.is_none(), "the other scanner has no role");
        assert_eq!(views[1].role.as_ref().map(|r| r.identity.as_str()), Some("usb:0c2e:0b61:A1"));
        // Unplugged: listed after the ports, as absent, with its role.
        let views = serial_port_views(&ports[..1], &roles, &[]);
        assert_eq!(views.len(), 2);
        assert_eq!((views[1].kind.as_str(), views[1].path.as_str()), ("absent", "/dev/ttyACM0"));
        assert_eq!(views[1].identity, "usb:0c2e:0b61:A1");
    }

    #[test]
    fn identical_devices_without_a_serial_number_are_told_apart_by_path() {
        let roles = vec![role("usb:0c2e:0b61:", "/dev/ttyACM1")];
        let ports = vec![usb("/dev/ttyACM0", None), usb("/dev/ttyACM1", None)];
        assert_eq!(locate(&roles[0], &ports).as_deref(), Some("/dev/ttyACM1"));
        let views = serial_port_views(&ports, &roles, &[]);
        assert!(views[0].role.is_none());
        assert!(views[1].role.is_some());
        // A plain serial port is known by its path.
        let plain = PortInfo { kind: "pci".into(), vendor_id: None, product_id: None, ..usb("/dev/ttyS0", None) };
        assert_eq!(locate(&role("/dev/ttyS0", "/dev/ttyS0"), &[plain]).as_deref(), Some("/dev/ttyS0"));
    }
}
