//! Plain ASCII-line thermometers: a line such as `T=+04.8C H=45%` every
//! few seconds, read by a configurable pattern whose `t` (and optional `h`)
//! named groups are the temperature in °C and the relative humidity.

use crate::error::DeviceError;
use crate::modbus::Reading;

/// The longest line read; longer input is not a thermometer's.
pub const LINE_BYTES_MAX: usize = 256;
/// The default pattern: the first signed decimal number is the temperature.
pub const DEFAULT_PATTERN: &str = r"(?P<t>[-+]?\d+(?:\.\d+)?)";

/// A compiled line pattern.
#[derive(Debug, Clone)]
pub struct LinePattern {
    regex: regex::Regex,
}

impl LinePattern {
    /// Compiles a pattern; it must have a group named `t`.
    pub fn new(pattern: &str) -> Result<LinePattern, DeviceError> {
        let regex = regex::RegexBuilder::new(pattern)
            .size_limit(1 << 16)
            .build()
            .map_err(|e| DeviceError::InvalidSetting { field: "pattern", reason: e.to_string() })?;
        if !regex.capture_names().any(|n| n == Some("t")) {
            return Err(DeviceError::InvalidSetting { field: "pattern", reason: "needs a group named t".into() });
        }
        Ok(LinePattern { regex })
    }

    /// Reads one line; None when it holds no reading (a banner, a blank line, noise).
    pub fn read(&self, line: &str) -> Option<Reading> {
        if line.len() > LINE_BYTES_MAX {
            return None;
        }
        let captures = self.regex.captures(line)?;
        let temperature_c: f64 = captures.name("t")?.as_str().trim_start_matches('+').parse().ok()?;
        if !(-100.0..=150.0).contains(&temperature_c) {
            return None;
        }
        let humidity_pct =
            captures.name("h").and_then(|h| h.as_str().parse::<f64>().ok()).filter(|h| (0.0..=100.0).contains(h));
        Some(Reading { temperature_c, humidity_pct })
    }
}
