//! A scan as the screens use it: the barcode engine's reading (dates in the
//! ledger's calendar, messages in the session language) and the item the
//! ledger knows by its identifier. Reading is pure (`udi`); finding the item
//! is a lookup; neither writes anything.

use crate::dto::{udi_lang, ApiError, BarcodeScan, BarcodeScheme, ScanCandidate, ScanReading};
use ledger::{CountEntry, ItemView, Lang, Ledger, LedgerError};

/// Why a scan was not read: the engine could not read it, or the ledger failed.
enum ReadError {
    Udi(udi::UdiError),
    Ledger(LedgerError),
}

/// Reads `data` (the text a scanner typed, GS and AIM identifier intact) with
/// the ledger's today for GS1's two-digit years, and finds its item by the
/// reading's `di`, else its `gtin`. An unknown item is not an error: the scan
/// comes back with `item` null. Text that is not a readable barcode but is
/// exactly an identifier the ledger knows (an old internal Code 128 label, an
/// HIBC code stored as printed) reads as that item; anything else unreadable
/// is the engine's error in `lang`.
pub fn read(ledger: &Ledger, data: &str, lang: Lang) -> Result<BarcodeScan, ApiError> {
    read_scan(ledger, data, lang).map_err(|error| match error {
        ReadError::Udi(e) => ApiError::from_udi(&e, lang),
        ReadError::Ledger(e) => ApiError::from_ledger(&e, lang),
    })
}

/// What one scan counts in a stocktake (a batch scanner's line): the item it
/// names, its lot, serial and expiry, read as [`read`] reads a scan. A
/// barcode that reads several ways, names no item the ledger knows, or
/// cannot be read at all is an error (the clerk is not there to choose).
pub fn count_entry(ledger: &Ledger, data: &str, lang: Lang) -> ledger::Result<CountEntry> {
    let unreadable = |reason_zh: String, reason_en: String| LedgerError::UnreadableBarcode {
        data: plain_code(data).to_string(),
        reason_zh,
        reason_en,
    };
    let scan = match read_scan(ledger, data, lang) {
        Ok(scan) => scan,
        Err(ReadError::Ledger(e)) => return Err(e),
        Err(ReadError::Udi(e)) => return Err(unreadable(e.message(udi::Lang::Zh), e.message(udi::Lang::En))),
    };
    if !scan.candidates.is_empty() {
        return Err(unreadable(
            format!("条码可以读成 {} 种不同的批号或序列号（扫描枪丢失了分隔符）。请在盘点界面逐个扫描该品规。", scan.candidates.len()),
            format!(
                "it reads {} different ways (the scanner lost a separator). Scan that item on the stocktake screen instead.",
                scan.candidates.len()
            ),
        ));
    }
    let Some(item) = scan.item else {
        let named = scan.reading.di.or(scan.reading.gtin).unwrap_or_else(|| plain_code(data).to_string());
        return Err(LedgerError::UnknownItem(named));
    };
    Ok(CountEntry {
        item: item.code,
        lot: scan.reading.lot,
        serial: scan.reading.serial,
        expiry: scan.reading.expiry.and_then(|d| d.parse().ok()),
        barcode: data.to_string(),
        ..CountEntry::default()
    })
}

fn read_scan(ledger: &Ledger, data: &str, lang: Lang) -> Result<BarcodeScan, ReadError> {
    let ledger_error = ReadError::Ledger;
    let mut options = udi::Options::new(ledger.clock().today(), udi_lang(lang));
    match udi::parse(data, &options) {
        Ok(mut scan) => {
            let item = scanned_item(ledger, &scan.reading).map_err(ledger_error)?;
            // A serial-tracked item read without a serial: its lot may have
            // swallowed the serial when the scanner dropped the separator.
            if item.as_ref().is_some_and(|i| i.serialized)
                && scan.reading.serial.is_none()
                && scan.candidates.is_empty()
            {
                options.serialized = true;
                if let Ok(again) = udi::parse(data, &options) {
                    if again.reading.serial.is_some() || !again.candidates.is_empty() {
                        scan = again;
                    }
                }
            }
            // Not found by what the barcode says: text that is exactly a known
            // identifier (a numeric internal code that also reads as GS1 data,
            // e.g. "2100345") is that item, unless a GS1 or EAN symbol said otherwise.
            let gs1_symbol = scan.symbology.as_deref().is_some_and(udi::is_gs1_symbology);
            if item.is_none() && scan.candidates.is_empty() && !gs1_symbol {
                let code = plain_code(data);
                if let Some(known) = known_item(ledger, code).map_err(ledger_error)? {
                    return Ok(BarcodeScan {
                        input: data.to_string(),
                        scheme: BarcodeScheme::ItemCode,
                        symbology: scan.symbology,
                        reading: ScanReading::identifier(code),
                        item: Some(known),
                        candidates: Vec::new(),
                    });
                }
            }

            let candidates = scan
                .candidates
                .iter()
                .map(|c| Ok(ScanCandidate { reading: ScanReading::from_udi(c), item: scanned_item(ledger, c)? }))
                .collect::<ledger::Result<Vec<_>>>()
                .map_err(ledger_error)?;
            Ok(BarcodeScan {
                input: scan.input,
                scheme: scan.scheme.into(),
                symbology: scan.symbology,
                reading: ScanReading::from_udi(&scan.reading),
                item,
                candidates,
            })
        }
        Err(error) => {
            let code = plain_code(data);
            match known_item(ledger, code).map_err(ledger_error)? {
                Some(item) => Ok(BarcodeScan {
                    input: data.to_string(),
                    scheme: BarcodeScheme::ItemCode,
                    symbology: None,
                    reading: ScanReading::identifier(code),
                    item: Some(item),
                    candidates: Vec::new(),
                }),
                None => Err(ReadError::Udi(error)),
            }
        }
    }
}

/// The item a reading names: by its device identifier, else its GTIN.
fn scanned_item(ledger: &Ledger, reading: &udi::Reading) -> ledger::Result<Option<ItemView>> {
    for identifier in [reading.di.as_deref(), reading.gtin.as_deref()].into_iter().flatten() {
        if let Some(item) = known_item(ledger, identifier)? {
            return Ok(Some(item));
        }
    }
    Ok(None)
}

/// The item with exactly this identifier, if any (unknown is not an error here).
fn known_item(ledger: &Ledger, identifier: &str) -> ledger::Result<Option<ItemView>> {
    if identifier.is_empty() || identifier.chars().count() > ledger::master::TEXT_FIELD_MAX {
        return Ok(None);
    }
    match ledger.item(identifier) {
        Ok(item) => Ok(Some(item)),
        Err(LedgerError::UnknownItem(_)) => Ok(None),
        Err(error) => Err(error),
    }
}

/// A scan as a plain identifier: without the scanner's terminator, padding
/// and AIM symbology identifier (`]` + two characters).
fn plain_code(data: &str) -> &str {
    let text = data.trim_matches(|c: char| c.is_whitespace() || c == '\u{1d}');
    match text.strip_prefix(']') {
        Some(rest) if rest.len() > 2 && rest.as_bytes()[..2].iter().all(u8::is_ascii_alphanumeric) => &rest[2..],
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use ledger::{IdSource, ManualClock, NewItem, RandomIds};

    const SYRINGE: &str = "09506000134352";

    /// A ledger on 2026-11-25 that knows the syringe (by its GTIN and an old internal label).
    fn ledger() -> (tempfile::TempDir, Ledger) {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::at_date(NaiveDate::from_ymd_opt(2026, 11, 25).unwrap());
        let ids: Box<dyn IdSource> = Box::new(RandomIds::seeded(7));
        let mut ledger = Ledger::open_with(&dir.path().join("scan.sqlite"), Box::new(clock), ids).unwrap();
        ledger.init("T01", "scan test").unwrap();
        ledger
            .add_item(&NewItem {
                code: SYRINGE.into(),
                name: "一次性使用无菌注射器".into(),
                unit: "支".into(),
                pack_size: 100,
                extra_identifiers: vec!["SYR-5ML".into()],
                ..NewItem::default()
            })
            .unwrap();
        ledger
            .add_item(&NewItem {
                code: STENT.into(),
                name: "药物洗脱冠状动脉支架系统".into(),
                serialized: true,
                pack_size: 1,
                extra_identifiers: vec!["2100345".into()],
                ..NewItem::default()
            })
            .unwrap();
        (dir, ledger)
    }

    const STENT: &str = "06981205304305";

    #[test]
    fn a_serial_tracked_item_gets_the_serial_its_lot_swallowed_when_the_gs_was_lost() {
        let (_dir, ledger) = ledger();
        let scan = read(&ledger, "01069812053043051727013110LOT12321SN0042", Lang::En).unwrap();
        assert_eq!(scan.item.map(|i| i.code).as_deref(), Some(STENT));
        assert_eq!(scan.reading.lot.as_deref(), Some("LOT123"));
        assert_eq!(scan.reading.serial.as_deref(), Some("SN0042"));
        assert_eq!(scan.reading.warnings[0].code, "separator_missing");
        // The same layout on an item without serials keeps its literal lot.
        let plain = read(&ledger, "01095060001343521727013110LOT12321SN0042", Lang::En).unwrap();
        assert_eq!(plain.reading.lot.as_deref(), Some("LOT12321SN0042"));
    }

    #[test]
    fn a_numeric_internal_code_that_also_reads_as_gs1_is_still_its_item() {
        let (_dir, ledger) = ledger();
        let scan = read(&ledger, "2100345", Lang::En).unwrap();
        assert_eq!(scan.scheme, BarcodeScheme::ItemCode);
        assert_eq!(scan.item.map(|i| i.code).as_deref(), Some(STENT));
        // A GS1 symbol means what it says: serial 00345 of no known item.
        let gs1 = read(&ledger, "]d22100345", Lang::En).unwrap();
        assert_eq!(gs1.scheme, BarcodeScheme::Gs1);
        assert!(gs1.item.is_none());
    }

    #[test]
    fn a_gs1_scan_reads_lot_and_expiry_and_finds_its_item() {
        let (_dir, ledger) = ledger();
        let scan = read(&ledger, "]d20109506000134352172701311012345\r", Lang::En).unwrap();
        assert_eq!(scan.scheme, BarcodeScheme::Gs1);
        assert_eq!(scan.symbology.as_deref(), Some("]d2"));
        assert_eq!(scan.reading.gtin.as_deref(), Some(SYRINGE));
        assert_eq!(scan.reading.lot.as_deref(), Some("12345"));
        assert_eq!(scan.reading.expiry.as_deref(), Some("2027-01-31"));
        assert_eq!(scan.item.map(|i| i.code).as_deref(), Some(SYRINGE));
        assert!(scan.candidates.is_empty());
    }

    #[test]
    fn a_two_digit_year_is_read_against_the_ledgers_today() {
        let (_dir, ledger) = ledger();
        // 2026-11-25: YY 76 is 2076 (within +50 years); 77 is 1977.
        let later = read(&ledger, "010950600013435217761231", Lang::En).unwrap();
        assert_eq!(later.reading.expiry.as_deref(), Some("2076-12-31"));
        let earlier = read(&ledger, "010950600013435217771231", Lang::En).unwrap();
        assert_eq!(earlier.reading.expiry.as_deref(), Some("1977-12-31"));
    }

    #[test]
    fn an_unknown_item_is_not_an_error_and_warnings_come_in_the_session_language() {
        let (_dir, ledger) = ledger();
        let scan = read(&ledger, "(01)06901234567892(17)270100(10)A1", Lang::Zh).unwrap();
        assert!(scan.item.is_none());
        assert_eq!(scan.reading.di.as_deref(), Some("06901234567892"));
        assert_eq!(scan.reading.expiry.as_deref(), Some("2027-01-31"));
        assert_eq!(scan.reading.warnings.len(), 1);
        assert_eq!(scan.reading.warnings[0].code, "day_zero");
        assert!(scan.reading.warnings[0].message.contains("当月最后一天"), "{}", scan.reading.warnings[0].message);
    }

    #[test]
    fn an_ambiguous_scan_returns_every_candidate_with_its_item() {
        let (_dir, ledger) = ledger();
        let scan = read(&ledger, "]d2010950600013435210AB17270131", Lang::En).unwrap();
        assert_eq!(scan.candidates.len(), 2);
        assert!(scan.candidates.iter().all(|c| c.item.as_ref().map(|i| i.code.as_str()) == Some(SYRINGE)));
        let lots: Vec<_> = scan.candidates.iter().map(|c| c.reading.lot.clone().unwrap_or_default()).collect();
        assert_eq!(lots, ["AB", "AB17270131"]);
        assert_eq!(scan.reading.lot, None, "the candidates disagree on the lot");
        assert_eq!(scan.reading.warnings[0].code, "ambiguous");
    }

    #[test]
    fn an_unreadable_scan_is_the_engines_error_in_the_session_language() {
        let (_dir, ledger) = ledger();
        let error = read(&ledger, "NOT-A-BARCODE", Lang::Zh).unwrap_err();
        assert_eq!(error.code, "unknown_format");
        assert!(error.message.contains("无法识别的条码"), "{}", error.message);
        let error = read(&ledger, "0109506000134353", Lang::En).unwrap_err();
        assert_eq!(error.code, "bad_check_digit");
        assert!(error.message.contains("check digit"), "{}", error.message);
    }

    #[test]
    fn text_that_is_exactly_a_known_identifier_reads_as_that_item() {
        let (_dir, ledger) = ledger();
        for data in ["SYR-5ML", "]C0SYR-5ML\n", " SYR-5ML\t"] {
            let scan = read(&ledger, data, Lang::En).unwrap();
            assert_eq!(scan.scheme, BarcodeScheme::ItemCode, "{data:?}");
            assert_eq!(scan.reading.di.as_deref(), Some("SYR-5ML"));
            assert_eq!(scan.item.map(|i| i.code).as_deref(), Some(SYRINGE));
        }
    }

    #[test]
    fn a_count_entry_is_what_the_scan_says_and_refuses_what_a_clerk_would_have_to_choose() {
        let (_dir, ledger) = ledger();
        let entry = count_entry(&ledger, "]d2010950600013435217270131101234", Lang::En).unwrap();
        assert_eq!(
            (entry.item.as_str(), entry.lot.as_deref(), entry.expiry, entry.serial),
            (SYRINGE, Some("1234"), NaiveDate::from_ymd_opt(2027, 1, 31), None)
        );
        assert_eq!(entry.barcode, "]d2010950600013435217270131101234");
        // The serial a lot swallowed is recovered for a serial-tracked item, as for a scan.
        let stent = count_entry(&ledger, "01069812053043051727013110LOT12321SN0042", Lang::En).unwrap();
        assert_eq!((stent.lot.as_deref(), stent.serial.as_deref()), (Some("LOT123"), Some("SN0042")));
        assert_eq!(count_entry(&ledger, "SYR-5ML", Lang::En).unwrap().item, SYRINGE);
        let ambiguous = count_entry(&ledger, "]d2010950600013435210AB17270131", Lang::Zh).unwrap_err();
        assert_eq!(ambiguous.code(), "unreadable_barcode");
        assert!(ambiguous.message(Lang::Zh).contains("2 种不同的批号"), "{}", ambiguous.message(Lang::Zh));
        let unknown = count_entry(&ledger, "(01)06901234567892(10)A1", Lang::En).unwrap_err();
        assert_eq!((unknown.code(), unknown.message(Lang::En).contains("06901234567892")), ("unknown_item", true));
        let unreadable = count_entry(&ledger, "0109506000134353", Lang::En).unwrap_err();
        assert_eq!(unreadable.code(), "unreadable_barcode");
        assert!(
            unreadable.message(Lang::Zh).contains("校验位"),
            "both languages kept: {}",
            unreadable.message(Lang::Zh)
        );
    }

    #[test]
    fn plain_code_strips_terminators_and_the_aim_identifier_only() {
        assert_eq!(plain_code("]C0ABC\r\n"), "ABC");
        assert_eq!(plain_code("]C0"), "]C0");
        assert_eq!(plain_code("\u{1d}ABC"), "ABC");
        assert_eq!(plain_code("A]BC"), "A]BC");
        assert_eq!(plain_code("]é1X"), "]é1X");
    }
}
