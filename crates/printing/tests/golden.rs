//! Golden files: the exact bytes sent to ZPL, TSPL and ESC/POS printers for
//! representative labels and receipts (Chinese included), kept under
//! `fixtures/printing/`. A change in output fails here until the golden file
//! is looked at and rewritten with `UPDATE_GOLDEN=1 cargo test -p printing --test golden`.

mod common;

use common::*;
use printing::*;
use std::path::PathBuf;

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/printing")
}

type Render = fn() -> Result<Vec<u8>, PrintError>;

/// (golden file, what renders it).
const CASES: &[(&str, Render)] = &[
    ("labels-60x40-203dpi.zpl", || {
        let p = profile(PrinterLanguage::Zpl, 60.0, 40.0, Dpi::D203, LabelSymbology::DataMatrix);
        labels_zpl(&[lot_label(), unit_label(), item_label(), bin_label()], &p, &options(Lang::Zh))
    }),
    ("unit-100x50-300dpi-both.zpl", || {
        let p = profile(PrinterLanguage::Zpl, 100.0, 50.0, Dpi::D300, LabelSymbology::Both);
        labels_zpl(&[unit_label()], &p, &options(Lang::Zh))
    }),
    ("labels-60x40-203dpi.tspl", || {
        let p = profile(PrinterLanguage::Tspl, 60.0, 40.0, Dpi::D203, LabelSymbology::DataMatrix);
        labels_tspl(&[lot_label(), unit_label(), item_label(), bin_label()], &p, &options(Lang::Zh))
    }),
    ("lot-100x50-203dpi-gs1-128-en.tspl", || {
        let mut label = lot_label();
        label.name = "Sterile syringe 5 ml with needle".into();
        let p = profile(PrinterLanguage::Tspl, 100.0, 50.0, Dpi::D203, LabelSymbology::Gs1_128);
        labels_tspl(&[label], &p, &options(Lang::En))
    }),
    ("receipt-80mm.escpos", || {
        let p = PrinterProfile { paper: Paper::Mm80, ..PrinterProfile::new(PrinterLanguage::Escpos) };
        document_escpos(&receipt(), &p, &options(Lang::Zh))
    }),
    ("stocktake-58mm.escpos", || {
        let p = PrinterProfile { paper: Paper::Mm58, ..PrinterProfile::new(PrinterLanguage::Escpos) };
        document_escpos(&stocktake(), &p, &options(Lang::Zh))
    }),
    ("issue-58mm-en.escpos", || {
        let p = PrinterProfile { paper: Paper::Mm58, ..PrinterProfile::new(PrinterLanguage::Escpos) };
        document_escpos(&issue(), &p, &options(Lang::En))
    }),
];

/// Printable view of bytes for a failure message: text as UTF-8/GB18030 is left to the diff tool; here hex.
fn first_difference(a: &[u8], b: &[u8]) -> String {
    let at = a.iter().zip(b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
    let show = |s: &[u8]| String::from_utf8_lossy(&s[at.saturating_sub(40)..(at + 40).min(s.len())]).into_owned();
    format!("first difference at byte {at}:\n  golden: {:?}\n  now:    {:?}", show(a), show(b))
}

#[test]
fn printer_bytes_equal_the_golden_files() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1");
    let dir = golden_dir();
    let mut failures = Vec::new();
    for (name, render) in CASES {
        let bytes = render().unwrap_or_else(|e| panic!("{name}: {e}"));
        let path = dir.join(name);
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &bytes).unwrap();
            continue;
        }
        match std::fs::read(&path) {
            Ok(golden) if golden == bytes => {}
            Ok(golden) => failures.push(format!("{name}: {}", first_difference(&golden, &bytes))),
            Err(e) => failures.push(format!("{name}: cannot read the golden file ({e}); run with UPDATE_GOLDEN=1")),
        }
    }
    assert!(failures.is_empty(), "output differs from the golden files:\n{}", failures.join("\n"));
}

#[test]
fn every_golden_file_has_a_case() {
    let names: Vec<&str> = CASES.iter().map(|(name, _)| *name).collect();
    for entry in std::fs::read_dir(golden_dir()).unwrap() {
        let file = entry.unwrap().file_name().into_string().unwrap();
        let golden = [".zpl", ".tspl", ".escpos"].iter().any(|ext| file.ends_with(ext));
        assert!(!golden || names.contains(&file.as_str()), "{file} is not written by any case");
    }
}

#[test]
fn rendering_twice_gives_the_same_bytes() {
    for (name, render) in CASES {
        assert_eq!(render().unwrap(), render().unwrap(), "{name}");
    }
}
