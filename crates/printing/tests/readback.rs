//! Reads back what we print with tools no one here wrote.
//!
//! - PNG labels (decoded with the `png` crate) and label PDFs (rasterised by
//!   poppler's `pdftoppm`) go to zxing-cpp (PyPI `zxing-cpp`, through
//!   `tests/support/zxing_read.py`). Every GS1 DataMatrix and GS1-128 must be
//!   found, flagged as GS1 by its leading FNC1 (`]d2`, `]C1`), transmit
//!   exactly our element string with GS where we put FNC1, and read through
//!   our barcode engine to the label's GTIN (or internal code), lot, expiry
//!   and serial.
//! - A4 documents go through poppler's `pdftotext`: the Chinese header, item
//!   names and totals are there, and every page of a long receipt repeats the
//!   header and says which page it is.
//!
//! Needs Python with zxing-cpp and poppler-utils: `make printing-readback`
//! (interpreter from `MEDLEDGER_PYTHON`, default `python3`). Ignored by plain
//! `cargo test`.

mod common;

use common::*;
use printing::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn python() -> String {
    let mut python = std::env::var("MEDLEDGER_PYTHON").unwrap_or_else(|_| "python3".to_string());
    // A relative path (e.g. target/pyenv/bin/python) is relative to the workspace, not to this crate.
    if python.contains('/') && !python.starts_with('/') {
        python = format!("{}/../../{python}", env!("CARGO_MANIFEST_DIR"));
    }
    python
}

/// One symbol zxing-cpp found: (format, symbology identifier, content type, bytes).
type Found = (String, String, String, Vec<u8>);

/// zxing-cpp's findings for each PGM image.
fn zxing(images: &[PathBuf]) -> Vec<Vec<Found>> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/zxing_read.py");
    let output = Command::new(python()).arg(script).args(images).output().expect("Python runs");
    assert!(
        output.status.success(),
        "zxing-cpp failed (run `make printing-readback`, which installs it): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    stdout
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).unwrap();
            v["barcodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| {
                    let hex = b["bytes_hex"].as_str().unwrap();
                    let bytes =
                        (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
                    let s = |k: &str| b[k].as_str().unwrap().to_string();
                    (s("format"), s("symbology"), s("content_type"), bytes)
                })
                .collect()
        })
        .collect()
}

/// Writes an 8-bit grayscale PGM of a PNG decoded by the `png` crate.
fn png_to_pgm(png_bytes: &[u8], out: &Path) {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut buf).unwrap();
    let channels = frame.color_type.samples();
    let gray: Vec<u8> = buf[..frame.buffer_size()]
        .chunks(channels)
        .map(|px| {
            if channels >= 3 {
                ((px[0] as u32 * 299 + px[1] as u32 * 587 + px[2] as u32 * 114) / 1000) as u8
            } else {
                px[0]
            }
        })
        .collect();
    let mut pgm = format!("P5\n{} {}\n255\n", frame.width, frame.height).into_bytes();
    pgm.extend_from_slice(&gray);
    std::fs::write(out, pgm).unwrap();
}

/// Rasterises every page of a PDF to grayscale PGMs at `dpi`; returns them in page order.
fn pdftoppm(pdf: &Path, dpi: u16, prefix: &Path) -> Vec<PathBuf> {
    let status = Command::new("pdftoppm")
        .args(["-r", &dpi.to_string(), "-gray"])
        .arg(pdf)
        .arg(prefix)
        .status()
        .expect("pdftoppm (Debian poppler-utils) runs");
    assert!(status.success());
    let dir = prefix.parent().unwrap();
    let stem = prefix.file_name().unwrap().to_str().unwrap().to_string();
    let mut pages: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with(&format!("{stem}-")))
        .collect();
    pages.sort();
    pages
}

/// Checks one decoded symbol against the label it was printed from.
fn check_symbol(label: &LabelData, found: &Found, format: &str, aim: &str) {
    let (found_format, symbology, content_type, bytes) = found;
    let what = format!("{:?} {format}", label.kind);
    assert_eq!(found_format, format, "{what}");
    assert_eq!(symbology, aim, "{what}: flagged GS1 by FNC1 in first position");
    assert_eq!(content_type, "GS1", "{what}");
    let expected = label_barcode(label, today()).unwrap().transmitted();
    assert_eq!(String::from_utf8(bytes.clone()).unwrap(), expected, "{what}: FNC1 separators come back as GS");
    let scan = udi::parse(&format!("{symbology}{expected}"), &udi::Options::new(today(), Lang::En)).unwrap();
    assert!(!scan.is_ambiguous(), "{what}");
    assert_eq!(scan.symbology.as_deref(), Some(aim), "{what}");
    assert_eq!(scan.reading.lot, label.lot, "{what}");
    assert_eq!(scan.reading.serial, label.serial, "{what}");
    assert_eq!(scan.reading.expiry, label.expires_on, "{what}");
    match label.identifier.clone().unwrap() {
        LabelIdentifier::Gtin(gtin) => assert_eq!(scan.reading.gtin, Some(format!("{gtin:0>14}")), "{what}"),
        LabelIdentifier::Internal(code) => {
            assert_eq!(scan.scheme, udi::Scheme::Internal, "{what}");
            assert_eq!(scan.reading.di, Some(code), "{what}");
        }
    }
}

/// The symbols a label with this symbology must show: (zxing format, AIM identifier).
fn expected_symbols(symbology: LabelSymbology) -> Vec<(&'static str, &'static str)> {
    match symbology {
        LabelSymbology::DataMatrix => vec![("Data Matrix", "]d2")],
        LabelSymbology::Gs1_128 => vec![("Code 128", "]C1")],
        LabelSymbology::Both => vec![("Data Matrix", "]d2"), ("Code 128", "]C1")],
    }
}

fn check_page(label: &LabelData, symbology: LabelSymbology, found: &[Found]) {
    let expected = expected_symbols(symbology);
    assert_eq!(found.len(), expected.len(), "{:?}: {found:?}", label.kind);
    for (format, aim) in expected {
        let symbol = found.iter().find(|f| f.0 == format).unwrap_or_else(|| panic!("{:?}: no {format}", label.kind));
        check_symbol(label, symbol, format, aim);
    }
}

/// (label, width mm, height mm, dpi, symbology)
fn label_cases() -> Vec<(LabelData, f32, f32, Dpi, LabelSymbology)> {
    vec![
        (lot_label(), 60.0, 40.0, Dpi::D203, LabelSymbology::DataMatrix),
        (unit_label(), 60.0, 40.0, Dpi::D203, LabelSymbology::DataMatrix),
        (item_label(), 50.0, 30.0, Dpi::D203, LabelSymbology::DataMatrix),
        (unit_label(), 100.0, 50.0, Dpi::D300, LabelSymbology::Both),
        (lot_label(), 100.0, 40.0, Dpi::D300, LabelSymbology::Gs1_128),
        (item_label(), 100.0, 50.0, Dpi::D600, LabelSymbology::Both),
        (unit_label(), 30.0, 20.0, Dpi::D300, LabelSymbology::DataMatrix),
    ]
}

#[test]
#[ignore = "needs zxing-cpp (PyPI): make printing-readback"]
fn png_labels_decode_with_zxing_cpp_to_the_labels_gs1_data() {
    let fonts = fonts();
    let dir = tempfile::tempdir().unwrap();
    let mut images = Vec::new();
    for (i, (label, w, h, dpi, symbology)) in label_cases().iter().enumerate() {
        let p = profile(PrinterLanguage::Zpl, *w, *h, *dpi, *symbology);
        let png = label_png(label, &p, &options(Lang::Zh), &fonts).unwrap();
        let path = dir.path().join(format!("label-{i}.pgm"));
        png_to_pgm(&png, &path);
        images.push(path);
    }
    let results = zxing(&images);
    for ((label, .., symbology), found) in label_cases().iter().zip(&results) {
        check_page(label, *symbology, found);
    }
}

#[test]
#[ignore = "needs zxing-cpp (PyPI) and pdftoppm (poppler-utils): make printing-readback"]
fn pdf_labels_rasterised_by_poppler_decode_with_zxing_cpp_to_the_labels_gs1_data() {
    let fonts = fonts();
    let dir = tempfile::tempdir().unwrap();
    // (size, dpi of the printer, dpi of the raster, symbology)
    let profiles =
        [(100.0, 50.0, Dpi::D300, 300, LabelSymbology::Both), (60.0, 40.0, Dpi::D203, 203, LabelSymbology::DataMatrix)];
    for (n, (w, h, dpi, raster, symbology)) in profiles.into_iter().enumerate() {
        let labels = [lot_label(), unit_label(), item_label()];
        let p = profile(PrinterLanguage::Pdf, w, h, dpi, symbology);
        let pdf = dir.path().join(format!("labels-{n}.pdf"));
        std::fs::write(&pdf, labels_pdf(&labels, &p, &options(Lang::Zh), &fonts).unwrap()).unwrap();
        let pages = pdftoppm(&pdf, raster, &dir.path().join(format!("page{n}")));
        assert_eq!(pages.len(), labels.len(), "one page per label");
        for (label, found) in labels.iter().zip(zxing(&pages)) {
            check_page(label, symbology, &found);
        }
    }
}

fn pdftotext(pdf: &Path, page: Option<usize>) -> String {
    let mut command = Command::new("pdftotext");
    if let Some(page) = page {
        command.args(["-f", &page.to_string(), "-l", &page.to_string()]);
    }
    let output = command.arg("-layout").arg(pdf).arg("-").output().expect("pdftotext (poppler-utils) runs");
    assert!(output.status.success());
    String::from_utf8(output.stdout).unwrap()
}

#[test]
#[ignore = "needs pdftotext (poppler-utils): make printing-readback"]
fn the_a4_receipt_pdf_holds_its_chinese_header_lines_and_totals_as_text() {
    let fonts = fonts();
    let dir = tempfile::tempdir().unwrap();
    let pdf = dir.path().join("receipt.pdf");
    std::fs::write(&pdf, document_pdf(&receipt(), &options(Lang::Zh), &fonts).unwrap()).unwrap();
    let text = pdftotext(&pdf, None);
    let expected = [
        "演示医院 中心库",
        "入库单",
        "RK-S01-000001",
        "国药控股北京有限公司",
        "一次性使用无菌注射器",
        "医用外科口罩",
        "髋关节假体 股骨柄",
        "Size 12 钛合金",
        "SN0001234",
        "162.50",
        "13047.50",
        "库管员",
        "验收人",
        "第 1 页 / 共 1 页",
    ];
    for needle in expected {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }
}

#[test]
#[ignore = "needs pdftotext (poppler-utils): make printing-readback"]
fn every_page_of_a_200_line_receipt_repeats_the_header_and_numbers_itself() {
    let fonts = fonts();
    let dir = tempfile::tempdir().unwrap();
    let pdf = dir.path().join("long.pdf");
    let doc = long_receipt(200);
    std::fs::write(&pdf, document_pdf(&doc, &options(Lang::Zh), &fonts).unwrap()).unwrap();
    let pages = 9;
    let mut seen: Vec<usize> = Vec::new();
    for page in 1..=pages {
        let text = pdftotext(&pdf, Some(page));
        for needle in
            ["演示医院 中心库", "入库单", "品名 / 编码", "规格型号", "金额", &format!("第 {page} 页 / 共 {pages} 页")]
        {
            assert!(text.contains(needle), "page {page}: {needle:?} missing");
        }
        // The item names carry their line number: "一次性使用无菌注射器 17".
        for (at, _) in text.match_indices("一次性使用无菌注射器 ") {
            let digits: String = text[at..].chars().skip(11).take_while(char::is_ascii_digit).collect();
            seen.push(digits.parse().unwrap());
        }
    }
    assert_eq!(seen, (1..=200).collect::<Vec<_>>(), "every line printed once, in order");
    assert!(pdftotext(&pdf, Some(pages)).contains("合计"));
    // 200 × 1.25 × (1 + … + 50) / 50 … summed exactly: Σ quantities × 1.25.
    let total: i64 = doc.lines.iter().map(|l| l.quantity).sum();
    assert!(pdftotext(&pdf, Some(pages)).contains(&format_money(money("1.25") * rust_decimal::Decimal::from(total))));
}

#[test]
#[ignore = "needs zxing-cpp (PyPI) and pdftoppm (poppler-utils): make printing-readback"]
fn the_document_number_barcode_on_the_a4_pdf_decodes_to_the_number() {
    let fonts = fonts();
    let dir = tempfile::tempdir().unwrap();
    for (doc, lang) in [(receipt(), Lang::Zh), (issue(), Lang::En), (stocktake(), Lang::Zh)] {
        let pdf = dir.path().join(format!("{}.pdf", doc.number));
        std::fs::write(&pdf, document_pdf(&doc, &options(lang), &fonts).unwrap()).unwrap();
        let pages = pdftoppm(&pdf, 300, &dir.path().join(&doc.number));
        let found = zxing(&pages[..1]).remove(0);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "Code 128");
        assert_eq!(found[0].1, "]C0", "plain Code 128, not GS1");
        assert_eq!(found[0].3, doc.number.as_bytes());
        if lang == Lang::En {
            let text = pdftotext(&pdf, None);
            assert!(
                text.contains("Issue Slip")
                    && text.contains("Sterile syringe 5 ml with")
                    && text.contains("ICU 重症医学科")
            );
        }
    }
}
