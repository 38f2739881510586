//! A batch scanner's dump into a stocktake. The core splits the file into
//! lines (barcode, optional quantity and device time); each line's barcode is
//! read the way the app reads a scan (`scan::count_entry`); the core then
//! records every line in one transaction, or none. Progress is reported as
//! lines are read and as they are recorded.

use crate::dto::{ImportProgress, ImportStage};
use ledger::{parse_import, CountEntry, ImportSummary, Lang, Ledger, LedgerError};
use std::collections::HashMap;

/// Progress reports per stage at most (plus the last line).
const PROGRESS_STEPS: usize = 100;

/// Imports `text` into `stocktake` as `user`. `location` is the location
/// being counted (needed when the stocktake covers several); times without
/// an offset are the device's local time at `utc_offset_minutes`.
#[allow(clippy::too_many_arguments)]
pub fn import_counts_as(
    ledger: &mut Ledger,
    stocktake: &str,
    user: &str,
    text: &str,
    location: Option<&str>,
    utc_offset_minutes: i32,
    lang: Lang,
    progress: &mut dyn FnMut(ImportProgress),
) -> ledger::Result<ImportSummary> {
    let lines = parse_import(text, utc_offset_minutes)?;
    let total = lines.len();
    let step = total.div_ceil(PROGRESS_STEPS).max(1);
    let mut report = |stage: ImportStage, done: usize| {
        if done % step == 0 || done == total {
            progress(ImportProgress { stage, done, total });
        }
    };
    let location = location.map(str::trim).filter(|l| !l.is_empty()).map(str::to_string);
    let mut entries = HashMap::with_capacity(total);
    for (index, line) in lines.iter().enumerate() {
        let entry = crate::scan::count_entry(ledger, &line.data, lang)
            .map_err(|error| LedgerError::ImportLine { line: line.line, error: Box::new(error) })?;
        entries.insert(line.line, CountEntry { location: location.clone(), ..entry });
        report(ImportStage::Reading, index + 1);
    }
    let mut recorded = 0;
    ledger.import_counts(stocktake, user, &lines, &mut |line| {
        let entry = entries.remove(&line.line).ok_or_else(|| LedgerError::InvalidInput {
            field: "line",
            reason: format!("line {} was not read", line.line),
        })?;
        recorded += 1;
        report(ImportStage::Recording, recorded);
        Ok(entry)
    })
}

/// This computer's offset from UTC now, in minutes (for device times without one).
pub fn local_utc_offset_minutes() -> i32 {
    chrono::Local::now().offset().local_minus_utc() / 60
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use ledger::{
        DocumentKind, DocumentRequest, IdSource, LineRequest, LocationKind, ManualClock, NewItem, NewLocation, NewUser,
        RandomIds, Role, StocktakeRequest,
    };

    const SYRINGE: &str = "09506000134352";
    const STENT: &str = "06981205304305";

    /// A ledger on 2026-11-25 with MAIN, a counter, the syringe (10 of lot L1) and a serial-tracked stent.
    fn ledger() -> (tempfile::TempDir, ManualClock, Ledger) {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::at_date(NaiveDate::from_ymd_opt(2026, 11, 25).unwrap());
        let ids: Box<dyn IdSource> = Box::new(RandomIds::seeded(11));
        let mut ledger = Ledger::open_with(&dir.path().join("import.sqlite"), Box::new(clock.clone()), ids).unwrap();
        ledger.init("T01", "import test").unwrap();
        ledger
            .add_location(&NewLocation {
                code: "MAIN".into(),
                name: "中心库".into(),
                name_en: "Central storeroom".into(),
                kind: LocationKind::Storeroom,
                department: None,
                min_temp_c: None,
                max_temp_c: None,
            })
            .unwrap();
        ledger
            .add_user(&NewUser {
                username: "counter".into(),
                display_name: "盘点员".into(),
                role: Role::Stocktaker,
                language: Lang::Zh,
            })
            .unwrap();
        for (code, serialized) in [(SYRINGE, false), (STENT, true)] {
            ledger
                .add_item(&NewItem {
                    code: code.into(),
                    name: code.into(),
                    unit: "支".into(),
                    pack_size: 1,
                    serialized,
                    ..NewItem::default()
                })
                .unwrap();
        }
        ledger
            .post(&DocumentRequest {
                kind: DocumentKind::Receipt,
                user: ledger::INITIAL_ADMIN.into(),
                location: "MAIN".into(),
                lines: vec![LineRequest {
                    item: SYRINGE.into(),
                    lot: Some("L1".into()),
                    expiry: NaiveDate::from_ymd_opt(2027, 6, 30),
                    quantity: 10,
                    ..LineRequest::default()
                }],
                to_location: None,
                department: None,
                supplier: None,
                note: String::new(),
                override_: None,
            })
            .unwrap();
        (dir, clock, ledger)
    }

    fn start(ledger: &mut Ledger) -> String {
        let request =
            StocktakeRequest { user: "counter".into(), locations: vec!["MAIN".into()], ..StocktakeRequest::default() };
        ledger.start_stocktake(&request).unwrap().id
    }

    #[test]
    fn every_line_is_read_as_a_scan_and_recorded_with_progress() {
        let (_dir, clock, mut ledger) = ledger();
        let id = start(&mut ledger);
        // 01:00 UTC. Scans with device times at UTC+8: one with an AIM id, one
        // with a quantity, one in the bracketed form; then a serial without a time.
        clock.advance_ms(60 * 60 * 1000);
        let text = format!(
            "]d201{SYRINGE}10L1,2026-11-25 08:30\n\n01{SYRINGE}10L1;2;2026-11-25 08:40\n\
             (01){SYRINGE}(10)L1\t4\t2026-11-25 08:35\n01{STENT}10B1\u{1d}21SN9\n"
        );
        let mut seen = Vec::new();
        let summary =
            import_counts_as(&mut ledger, &id, "counter", &text, None, 8 * 60, Lang::En, &mut |p| seen.push(p))
                .unwrap();
        assert_eq!((summary.observations, summary.units), (4, 8));
        assert_eq!(seen.first(), Some(&ImportProgress { stage: ImportStage::Reading, done: 1, total: 4 }));
        assert_eq!(seen.last(), Some(&ImportProgress { stage: ImportStage::Recording, done: 4, total: 4 }));
        assert_eq!(seen.len(), 8);
        let report = ledger.stocktake_variance(&id, "admin").unwrap();
        let syringe = report.rows.iter().find(|r| r.code == SYRINGE).unwrap();
        assert_eq!((syringe.expected, syringe.counted), (10, Some(7)));
        // The count takes effect when the key was last seen: 08:40 at UTC+8.
        let seen_at = chrono::DateTime::parse_from_rfc3339("2026-11-25T00:40:00Z").unwrap().timestamp_millis();
        assert_eq!(syringe.counted_at_ms, Some(seen_at));
        let stent = report.rows.iter().find(|r| r.code == STENT).unwrap();
        assert_eq!((stent.lot.as_deref(), stent.serial.as_deref(), stent.counted), (Some("B1"), Some("SN9"), Some(1)));
    }

    #[test]
    fn an_unknown_ambiguous_or_unreadable_line_refuses_the_whole_file_naming_the_line() {
        let (_dir, _clock, mut ledger) = ledger();
        let id = start(&mut ledger);
        for (text, line, code, says) in [
            (format!("01{SYRINGE}10L1\n(01)06901234567892(10)X\n"), 2, "unknown_item", "06901234567892"),
            (format!("01{SYRINGE}10L1\n]d201{SYRINGE}10AB17270131\n"), 2, "unreadable_barcode", "2 different ways"),
            ("NOT-A-BARCODE\n".to_string(), 1, "unreadable_barcode", "NOT-A-BARCODE"),
        ] {
            let error = import_counts_as(&mut ledger, &id, "counter", &text, Some("MAIN"), 0, Lang::En, &mut |_| {})
                .unwrap_err();
            assert_eq!(error.code(), "import_line", "{text:?}");
            let LedgerError::ImportLine { line: at, error: inner } = &error else { unreachable!() };
            assert_eq!((*at, inner.code()), (line, code), "{text:?}");
            let message = error.message(Lang::En);
            assert!(message.starts_with(&format!("Line {line}:")) && message.contains(says), "{message}");
        }
        let view = ledger.stocktake(&id, "counter").unwrap();
        assert_eq!(view.observations, 0, "nothing from a refused file is recorded");
    }

    #[test]
    fn a_line_outside_the_stocktakes_scope_refuses_the_file_and_its_message_comes_in_chinese() {
        let (_dir, _clock, mut ledger) = ledger();
        let id = start(&mut ledger);
        let text = format!("01{SYRINGE}10L1\n");
        let error = import_counts_as(&mut ledger, &id, "counter", &text, Some("NOWHERE"), 0, Lang::Zh, &mut |_| {})
            .unwrap_err();
        assert_eq!(error.code(), "import_line");
        assert!(error.message(Lang::Zh).starts_with("第 1 行："), "{}", error.message(Lang::Zh));
        assert_eq!(ledger.stocktake(&id, "counter").unwrap().observations, 0);
    }
}
