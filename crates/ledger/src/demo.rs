//! Loading the demo hospital from `fixtures/demo/*.csv`: master data, then the
//! opening stock as an opening stocktake per location (a count sets each key,
//! which is how a hospital enters existing shelves, expired lots included),
//! then a few everyday receipts and issues so every screen has history, and a
//! data logger's week of readings in the reagent fridge so the cold chain
//! screen has a chart.

use crate::error::{LedgerError, Result};
use crate::master::{NewLocation, NewUser};
use crate::model::*;
use crate::posting::DOCUMENT_LINES_MAX;
use crate::store::{Ledger, INITIAL_ADMIN};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::path::Path;

/// Most rows one demo file may hold.
pub const DEMO_ROWS_MAX: usize = 100_000;

/// What `load_demo` created.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct DemoSummary {
    /// Suppliers added.
    pub suppliers: usize,
    /// Departments added.
    pub departments: usize,
    /// Locations added.
    pub locations: usize,
    /// Users added.
    pub users: usize,
    /// Items added.
    pub items: usize,
    /// Documents posted.
    pub documents: usize,
    /// Movements written.
    pub movements: usize,
    /// Temperature readings imported (a data logger's).
    pub readings: usize,
}

fn read(dir: &Path, file: &str) -> Result<Vec<BTreeMap<String, String>>> {
    let path = dir.join(file);
    let mut reader = csv::Reader::from_path(&path).map_err(|e| csv_error(file, e))?;
    let headers = reader.headers().map_err(|e| csv_error(file, e))?.clone();
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| csv_error(file, e))?;
        if rows.len() == DEMO_ROWS_MAX {
            return Err(LedgerError::InvalidInput {
                field: "demo",
                reason: format!("{file} has more than {DEMO_ROWS_MAX} rows"),
            });
        }
        rows.push(headers.iter().zip(record.iter()).map(|(h, v)| (h.to_string(), v.trim().to_string())).collect());
    }
    Ok(rows)
}

fn csv_error(file: &str, error: csv::Error) -> LedgerError {
    LedgerError::InvalidInput { field: "demo", reason: format!("{file}: {error}") }
}

fn field<'a>(row: &'a BTreeMap<String, String>, name: &str) -> &'a str {
    row.get(name).map(String::as_str).unwrap_or("")
}

fn opt(row: &BTreeMap<String, String>, name: &str) -> Option<String> {
    Some(field(row, name).to_string()).filter(|s| !s.is_empty())
}

fn decimal(row: &BTreeMap<String, String>, name: &'static str) -> Result<Option<Decimal>> {
    opt(row, name)
        .map(|s| {
            s.parse::<Decimal>().map_err(|e| LedgerError::InvalidInput { field: name, reason: format!("{s}: {e}") })
        })
        .transpose()
}

fn flag(row: &BTreeMap<String, String>, name: &str) -> bool {
    matches!(field(row, name), "1" | "true" | "yes")
}

fn date(row: &BTreeMap<String, String>, name: &'static str) -> Result<Option<chrono::NaiveDate>> {
    opt(row, name)
        .map(|s| s.parse().map_err(|e| LedgerError::InvalidInput { field: name, reason: format!("{s}: {e}") }))
        .transpose()
}

fn integer(row: &BTreeMap<String, String>, name: &'static str) -> Result<i64> {
    let text = field(row, name);
    if text.is_empty() {
        return Ok(0);
    }
    text.parse().map_err(|e| LedgerError::InvalidInput { field: name, reason: format!("{text}: {e}") })
}

impl Ledger {
    /// Loads the demo dataset from `dir` into an initialised, empty ledger.
    pub fn load_demo(&mut self, dir: &Path) -> Result<DemoSummary> {
        let mut summary = DemoSummary::default();
        for row in read(dir, "suppliers.csv")? {
            self.add_supplier(
                field(&row, "code"),
                field(&row, "name"),
                field(&row, "name_en"),
                field(&row, "contact_phone"),
            )?;
            summary.suppliers += 1;
        }
        for row in read(dir, "departments.csv")? {
            self.add_department(
                field(&row, "code"),
                field(&row, "name"),
                field(&row, "name_en"),
                field(&row, "cost_centre"),
                decimal(&row, "monthly_budget")?,
            )?;
            summary.departments += 1;
        }
        for row in read(dir, "locations.csv")? {
            let kind = LocationKind::parse(field(&row, "kind")).ok_or_else(|| LedgerError::InvalidInput {
                field: "kind",
                reason: format!("unknown location kind {}", field(&row, "kind")),
            })?;
            self.add_location(&NewLocation {
                code: field(&row, "code").into(),
                name: field(&row, "name").into(),
                name_en: field(&row, "name_en").into(),
                kind,
                department: opt(&row, "department"),
                min_temp_c: decimal(&row, "min_temp")?,
                max_temp_c: decimal(&row, "max_temp")?,
            })?;
            summary.locations += 1;
        }
        for row in read(dir, "users.csv")? {
            let role = Role::parse(field(&row, "role")).ok_or_else(|| LedgerError::InvalidInput {
                field: "role",
                reason: format!("unknown role {}", field(&row, "role")),
            })?;
            self.add_user(&NewUser {
                username: field(&row, "username").into(),
                display_name: field(&row, "display_name").into(),
                role,
                language: Lang::parse(field(&row, "language")).unwrap_or(Lang::Zh),
            })?;
            summary.users += 1;
        }
        for row in read(dir, "items.csv")? {
            self.add_item(&NewItem {
                code: field(&row, "code").into(),
                name: field(&row, "name").into(),
                name_en: field(&row, "name_en").into(),
                specification: field(&row, "specification").into(),
                manufacturer: field(&row, "manufacturer").into(),
                registration_no: field(&row, "registration_no").into(),
                risk_class: field(&row, "risk_class").into(),
                category: field(&row, "category").into(),
                unit: field(&row, "unit").into(),
                pack_size: integer(&row, "pack_size")?.max(1),
                serialized: flag(&row, "serialized"),
                implantable: flag(&row, "implantable"),
                cold_chain: flag(&row, "cold_chain"),
                min_temp_c: decimal(&row, "min_temp")?,
                max_temp_c: decimal(&row, "max_temp")?,
                unit_price: decimal(&row, "unit_price")?,
                default_supplier: opt(&row, "default_supplier"),
                reorder_point: integer(&row, "reorder_point")?,
                extra_identifiers: opt(&row, "hibc").into_iter().collect(),
            })?;
            summary.items += 1;
        }
        // Opening stock: one stocktake per location, equal keys summed.
        let mut by_location: BTreeMap<String, BTreeMap<(String, String, String), LineRequest>> = BTreeMap::new();
        for row in read(dir, "opening_stock.csv")? {
            let key =
                (field(&row, "item").to_string(), field(&row, "lot").to_string(), field(&row, "serial").to_string());
            let quantity = integer(&row, "quantity")?;
            let line =
                by_location.entry(field(&row, "location").to_string()).or_default().entry(key).or_insert(LineRequest {
                    item: field(&row, "item").into(),
                    lot: opt(&row, "lot"),
                    expiry: date(&row, "expiry")?,
                    production_date: date(&row, "production_date")?,
                    serial: opt(&row, "serial"),
                    quantity: 0,
                    unit_cost: decimal(&row, "unit_cost")?,
                });
            line.quantity += quantity;
        }
        for (location, lines) in by_location {
            let lines: Vec<LineRequest> = lines.into_values().collect();
            for chunk in lines.chunks(DOCUMENT_LINES_MAX) {
                self.post(&DocumentRequest {
                    kind: DocumentKind::Stocktake,
                    user: INITIAL_ADMIN.into(),
                    location: location.clone(),
                    to_location: None,
                    department: None,
                    supplier: None,
                    lines: chunk.to_vec(),
                    note: "期初盘点 Opening balance".into(),
                    override_: None,
                })?;
                summary.documents += 1;
                summary.movements += chunk.len();
            }
        }
        summary.readings = self.load_demo_readings(dir)?;
        Ok(summary)
    }

    /// A USB data logger's export per cold unit (`cold_readings.csv`, times on
    /// the dataset's own timeline), moved forward in time so that its newest
    /// reading is now: the chart shows the last hours and days of the unit.
    ///
    /// No demo unit gets cold-chain rules (`set_cold_unit`), so none is
    /// judged and the poller never raises an alarm in the demo. A unit with
    /// rules but without a sensor opens a "no reading" excursion — and
    /// quarantines its stock — once its missing-reading time (at most a day)
    /// has passed since the last reading, and the demo database is built
    /// once and opened again by every later `make run`: a day later the demo
    /// would greet its user with a false alarm. Rules belong with a live
    /// sensor: a unit added with `location add … --excursion-minutes` and
    /// given one with `sensor add`.
    fn load_demo_readings(&mut self, dir: &Path) -> Result<usize> {
        const FORMAT: &str = "%Y-%m-%d %H:%M";
        let mut by_location: BTreeMap<String, Vec<(chrono::NaiveDateTime, String, String)>> = BTreeMap::new();
        for row in read(dir, "cold_readings.csv")? {
            let time = chrono::NaiveDateTime::parse_from_str(field(&row, "time"), FORMAT).map_err(|e| {
                LedgerError::InvalidInput { field: "time", reason: format!("{}: {e}", field(&row, "time")) }
            })?;
            by_location.entry(field(&row, "location").to_string()).or_default().push((
                time,
                field(&row, "temperature").to_string(),
                field(&row, "humidity").to_string(),
            ));
        }
        let Some(newest) = by_location.values().flatten().map(|(time, _, _)| *time).max() else { return Ok(0) };
        let now = self.clock.now_ms();
        let shift = chrono::Duration::milliseconds(now - now % 60_000 - newest.and_utc().timestamp_millis());
        let mut imported = 0;
        for (location, readings) in by_location {
            // The logger's own file format, in UTC (offset 0).
            let text: String = readings
                .iter()
                .map(|(time, temperature, humidity)| {
                    format!("{},{temperature},{humidity}\n", (*time + shift).format("%Y-%m-%d %H:%M:%S"))
                })
                .collect();
            imported += self.import_logger_readings(&location, &text, 0)?;
        }
        Ok(imported)
    }
}

#[cfg(test)]
mod tests {
    use crate::clock::{Clock, ManualClock};
    use crate::ids::RandomIds;
    use crate::store::{Ledger, INITIAL_ADMIN};
    use std::path::Path;

    #[test]
    fn the_demo_fridge_has_a_week_of_readings_up_to_now_and_never_raises_an_alarm() {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::at_date("2027-03-02".parse().unwrap());
        clock.advance_ms(9 * 3_600_000 + 17 * 60_000 + 42_000);
        let ids = Box::new(RandomIds::seeded(5));
        let mut ledger = Ledger::open_with(&dir.path().join("demo.sqlite"), Box::new(clock.clone()), ids).unwrap();
        ledger.init("S01", "demo").unwrap();
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/demo");
        let summary = ledger.load_demo(&fixtures).unwrap();
        assert_eq!(summary.readings, 7 * 24 * 6 + 1);

        let now = clock.now_ms();
        let readings = ledger.readings("FR1", 0).unwrap();
        assert_eq!(readings.len(), summary.readings);
        assert_eq!(readings.last().unwrap().at_ms, now - now % 60_000, "the newest reading is this minute's");
        assert_eq!(readings[0].at_ms, readings.last().unwrap().at_ms - 7 * 24 * 3_600_000);
        assert!(readings.iter().all(|r| (2.0..=8.0).contains(&r.temperature_c) && r.source == "logger"));
        let fridge = ledger.cold_units().unwrap().into_iter().find(|u| u.code == "FR1").unwrap();
        assert!(fridge.available_units > 0 && fridge.rules.is_none(), "{fridge:?}");

        // Judged now and days later (a demo database opened again), no unit raises an alarm.
        for _ in 0..2 {
            assert!(ledger.check_cold_chain(INITIAL_ADMIN).unwrap().is_empty());
            clock.advance_ms(3 * 24 * 3_600_000);
        }
        assert!(ledger.excursions(false).unwrap().is_empty());
    }
}
