//! Labels: what their barcodes carry, what is refused and why, the limits,
//! and the shape of the PDF and PNG outputs.

mod common;

use common::*;
use printing::*;

fn zpl_profile() -> PrinterProfile {
    profile(PrinterLanguage::Zpl, 60.0, 40.0, Dpi::D203, LabelSymbology::DataMatrix)
}

#[test]
fn barcode_data_is_gs1_with_fnc1_first_and_between_variable_length_elements() {
    // (label, text a scanner transmits after the symbology identifier, human-readable lines)
    let cases: Vec<(LabelData, &str, Vec<&str>)> = vec![
        (lot_label(), "01095060001343521727013110LOT-2026A", vec!["(01)09506000134352", "(17)270131", "(10)LOT-2026A"]),
        (
            unit_label(),
            "01040063813339311730063010H2305\u{1d}21SN0001234",
            vec!["(01)04006381333931", "(17)300630", "(10)H2305", "(21)SN0001234"],
        ),
        (item_label(), "91MED-000123\u{1d}172611301020260501", vec!["(91)MED-000123", "(17)261130", "(10)20260501"]),
        (bin_label(), "A-01-03", vec!["A-01-03"]),
    ];
    for (label, transmitted, hri) in cases {
        let data = label_barcode(&label, today()).unwrap();
        assert_eq!(data.transmitted(), transmitted, "{:?}", label.kind);
        assert_eq!(data.is_gs1(), label.kind != LabelKind::Bin, "{:?}", label.kind);
        assert_eq!(data.human_readable(), hri, "{:?}", label.kind);
        // Every inner FNC1 is a GS in the transmitted text, and only there.
        let inner_fnc1 = data.parts.iter().skip(1).filter(|p| **p == Gs1Part::Fnc1).count();
        assert_eq!(data.transmitted().matches('\u{1d}').count(), inner_fnc1, "{:?}", label.kind);
    }
}

#[test]
fn the_barcode_engine_reads_every_label_back_to_its_fields() {
    for label in [lot_label(), unit_label(), item_label()] {
        let data = label_barcode(&label, today()).unwrap();
        let scan = udi::parse(&format!("]d2{}", data.transmitted()), &udi::Options::new(today(), Lang::En)).unwrap();
        assert_eq!(scan.reading.lot, label.lot, "{:?}", label.kind);
        assert_eq!(scan.reading.serial, label.serial, "{:?}", label.kind);
        assert_eq!(scan.reading.expiry, label.expires_on, "{:?}", label.kind);
        match label.identifier.unwrap() {
            LabelIdentifier::Gtin(gtin) => assert_eq!(scan.reading.gtin, Some(format!("{gtin:0>14}"))),
            LabelIdentifier::Internal(code) => assert_eq!(scan.reading.di, Some(code)),
        }
    }
}

#[test]
fn bad_label_data_is_refused_with_its_code() {
    let with = |f: fn(&mut LabelData)| {
        let mut label = lot_label();
        f(&mut label);
        label
    };
    let cases: Vec<(&str, LabelData, &str)> = vec![
        ("empty name", with(|l| l.name = "  ".into()), "missing_field"),
        ("lot label without lot", with(|l| l.lot = None), "missing_field"),
        ("unit label without serial", with(|l| l.kind = LabelKind::Unit), "missing_field"),
        ("item label with a GTIN", with(|l| l.kind = LabelKind::Item), "missing_field"),
        ("bin label with an identifier", with(|l| l.kind = LabelKind::Bin), "unexpected_field"),
        ("no identifier", with(|l| l.identifier = None), "missing_field"),
        (
            "GTIN with a wrong check digit",
            with(|l| l.identifier = Some(LabelIdentifier::Gtin("09506000134353".into()))),
            "bad_gtin",
        ),
        ("GTIN of 11 digits", with(|l| l.identifier = Some(LabelIdentifier::Gtin("12345678901".into()))), "bad_gtin"),
        (
            "GTIN with letters",
            with(|l| l.identifier = Some(LabelIdentifier::Gtin("0950600013435A".into()))),
            "bad_gtin",
        ),
        ("lot with a space (not GS1 character set 82)", with(|l| l.lot = Some("LOT 1".into())), "bad_barcode_data"),
        ("lot with Chinese", with(|l| l.lot = Some("批号1".into())), "bad_barcode_data"),
        ("lot of 21 characters (AI 10 holds 20)", with(|l| l.lot = Some("A".repeat(21))), "bad_barcode_data"),
        ("expiry outside the century window", with(|l| l.expires_on = Some(date(2080, 1, 31))), "bad_barcode_data"),
        ("name with a control character", with(|l| l.name = "注射器\u{1b}".into()), "control_character"),
        ("location with a space", with(|l| l.location = Some("A 01".into())), "bad_code"),
        ("quantity beyond the limit", with(|l| l.quantity = Some(QUANTITY_ABS_MAX + 1)), "bad_quantity"),
        ("quantity at i64::MIN", with(|l| l.quantity = Some(i64::MIN)), "bad_quantity"),
    ];
    for (what, label, code) in cases {
        let error = labels_zpl(&[label], &zpl_profile(), &options(Lang::Zh)).unwrap_err();
        assert_eq!(error.code(), code, "{what}: {error}");
        assert!(error.is_user_error(), "{what}");
        assert!(!error.message(Lang::Zh).is_empty() && !error.message(Lang::En).is_empty(), "{what}");
    }
}

#[test]
fn a_gs_typed_into_a_lot_is_refused_before_it_can_split_the_element() {
    let mut label = unit_label();
    label.lot = Some("AB\u{1d}21X".into());
    let error = labels_zpl(&[label], &zpl_profile(), &options(Lang::En)).unwrap_err();
    assert_eq!(error.code(), "control_character");
}

#[test]
fn an_expiry_the_two_digit_year_would_misread_is_refused_for_gtin_and_internal_labels() {
    for mut label in [lot_label(), item_label()] {
        label.expires_on = Some(date(2080, 1, 31));
        match label_barcode(&label, today()).unwrap_err() {
            PrintError::BadBarcodeData { .. } => {}
            other => panic!("{:?}: {other:?}", label.kind),
        }
    }
}

#[test]
fn the_job_limit_is_exact() {
    let label = lot_label();
    let at_limit = vec![label.clone(); LABELS_PER_JOB_MAX];
    let zpl = labels_zpl(&at_limit, &zpl_profile(), &options(Lang::Zh)).unwrap();
    assert_eq!(String::from_utf8(zpl).unwrap().matches("^XA").count(), LABELS_PER_JOB_MAX);
    let over = vec![label; LABELS_PER_JOB_MAX + 1];
    let error = labels_zpl(&over, &zpl_profile(), &options(Lang::Zh)).unwrap_err();
    assert_eq!(error, PrintError::TooManyLabels { count: LABELS_PER_JOB_MAX + 1, max: LABELS_PER_JOB_MAX });
    assert_eq!(labels_zpl(&[], &zpl_profile(), &options(Lang::Zh)).unwrap_err().code(), "no_labels");
}

#[test]
fn text_limits_are_exact() {
    // (field, setter, limit)
    type Set = fn(&mut LabelData, String);
    let cases: &[(&str, Set, usize)] = &[
        ("name", |l, v| l.name = v, TEXT_CHARS_MAX),
        ("specification", |l, v| l.specification = Some(v), TEXT_CHARS_MAX),
        ("unit", |l, v| l.unit = Some(v), SHORT_TEXT_CHARS_MAX),
    ];
    for (field, set, max) in cases {
        let mut at = lot_label();
        set(&mut at, "械".repeat(*max));
        assert!(labels_zpl(&[at], &zpl_profile(), &options(Lang::Zh)).is_ok(), "{field} at its limit");
        let mut over = lot_label();
        set(&mut over, "械".repeat(max + 1));
        let error = labels_zpl(&[over], &zpl_profile(), &options(Lang::Zh)).unwrap_err();
        assert_eq!(error, PrintError::TextTooLong { field, length: max + 1, max: *max });
    }
    let mut at = bin_label();
    at.location = Some("B".repeat(CODE_CHARS_MAX));
    let p = profile(PrinterLanguage::Zpl, 100.0, 50.0, Dpi::D300, LabelSymbology::DataMatrix);
    assert!(labels_zpl(&[at.clone()], &p, &options(Lang::Zh)).is_ok());
    at.location = Some("B".repeat(CODE_CHARS_MAX + 1));
    assert_eq!(labels_zpl(&[at], &p, &options(Lang::Zh)).unwrap_err().code(), "bad_code");
}

#[test]
fn quantity_and_label_size_limits_are_exact() {
    let mut label = lot_label();
    for quantity in [QUANTITY_ABS_MAX, -QUANTITY_ABS_MAX] {
        label.quantity = Some(quantity);
        assert!(labels_zpl(&[label.clone()], &zpl_profile(), &options(Lang::Zh)).is_ok(), "{quantity}");
    }
    // At the size limits the profile is valid (a 15 mm label may still be too small for its content);
    // just outside them it is not.
    for (w, h) in [(LABEL_MM_MIN, 40.0), (60.0, LABEL_MM_MIN), (LABEL_MM_MAX, LABEL_MM_MAX)] {
        let p = profile(PrinterLanguage::Zpl, w, h, Dpi::D203, LabelSymbology::DataMatrix);
        assert!(p.validate().is_ok(), "{w}×{h}");
        if let Err(e) = labels_zpl(&[lot_label()], &p, &options(Lang::Zh)) {
            assert_eq!(e.code(), "label_too_small", "{w}×{h}");
        }
    }
    for (w, h) in [(LABEL_MM_MIN - 0.1, 40.0), (60.0, LABEL_MM_MAX + 0.1)] {
        let p = profile(PrinterLanguage::Zpl, w, h, Dpi::D203, LabelSymbology::DataMatrix);
        assert_eq!(p.validate().unwrap_err().code(), "bad_profile", "{w}×{h}");
    }
}

#[test]
fn long_names_are_wrapped_and_cut_never_spilled() {
    let mut label = lot_label();
    label.name = "一次性使用无菌注射器带针头加长型号特别长的名字需要截断".into();
    let zpl = String::from_utf8(labels_zpl(&[label], &zpl_profile(), &options(Lang::Zh)).unwrap()).unwrap();
    let name_lines: Vec<&str> = zpl.lines().filter(|l| l.contains("一次性") || l.contains("…")).collect();
    assert_eq!(name_lines.len(), 2, "{zpl}");
    assert!(name_lines[1].ends_with("…^FS"), "{zpl}");
}

#[test]
fn label_sizes_and_printers_outside_what_we_lay_out_are_refused() {
    let cases: Vec<(&str, PrinterProfile, LabelData, &str)> = vec![
        (
            "label under 15 mm",
            profile(PrinterLanguage::Zpl, 14.0, 40.0, Dpi::D203, LabelSymbology::DataMatrix),
            lot_label(),
            "bad_profile",
        ),
        (
            "label over 250 mm",
            profile(PrinterLanguage::Zpl, 60.0, 251.0, Dpi::D203, LabelSymbology::DataMatrix),
            lot_label(),
            "bad_profile",
        ),
        (
            "not a number",
            profile(PrinterLanguage::Zpl, f32::NAN, 40.0, Dpi::D203, LabelSymbology::DataMatrix),
            lot_label(),
            "bad_profile",
        ),
        // GS1-128 of GTIN + expiry + lot + serial needs ~75 mm at 0.17 mm modules.
        (
            "GS1-128 on a 60 mm label",
            profile(PrinterLanguage::Zpl, 60.0, 40.0, Dpi::D300, LabelSymbology::Gs1_128),
            unit_label(),
            "label_too_small",
        ),
        (
            "DataMatrix on a 15 mm label",
            profile(PrinterLanguage::Zpl, 40.0, 15.0, Dpi::D203, LabelSymbology::DataMatrix),
            unit_label(),
            "label_too_small",
        ),
        (
            "labels on a receipt printer",
            PrinterProfile::new(PrinterLanguage::Escpos),
            lot_label(),
            "unsupported_output",
        ),
        (
            "a printer font with a quote",
            PrinterProfile { font: Some("X\"Y".into()), ..zpl_profile() },
            lot_label(),
            "bad_profile",
        ),
    ];
    for (what, profile, label, code) in cases {
        let result = if profile.language == PrinterLanguage::Escpos {
            render_labels(&[label], &profile, &options(Lang::Zh), None)
        } else {
            labels_zpl(&[label], &profile, &options(Lang::Zh))
        };
        assert_eq!(result.unwrap_err().code(), code, "{what}");
    }
    let tspl = profile(PrinterLanguage::Tspl, 60.0, 40.0, Dpi::D203, LabelSymbology::DataMatrix);
    assert_eq!(labels_zpl(&[lot_label()], &tspl, &options(Lang::Zh)).unwrap_err().code(), "unsupported_output");
}

/// The `/Type/Pages/Count N` and each `/MediaBox` of a PDF written by krilla.
fn pdf_pages(pdf: &[u8]) -> (usize, Vec<String>) {
    let text = String::from_utf8_lossy(pdf);
    let count = text
        .split("/Type/Pages/Count ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next().and_then(|n| n.parse().ok()));
    let boxes = text.split("/MediaBox[").skip(1).map(|rest| rest.split(']').next().unwrap().to_string()).collect();
    (count.expect("a page tree"), boxes)
}

#[test]
fn a_label_pdf_has_one_page_per_label_at_the_label_size() {
    let fonts = fonts();
    let p = profile(PrinterLanguage::Pdf, 100.0, 50.0, Dpi::D300, LabelSymbology::Both);
    let labels = [lot_label(), unit_label(), item_label()];
    let pdf = labels_pdf(&labels, &p, &options(Lang::Zh), &fonts).unwrap();
    let (count, boxes) = pdf_pages(&pdf);
    assert_eq!(count, 3);
    // 100 × 50 mm at 300 dpi: 1181 × 591 dots = 283.44 × 141.84 pt.
    assert!(boxes.iter().all(|b| b.starts_with("0 0 283.44 141.84")), "{boxes:?}");
    // The 20 MB font is embedded as a subset.
    assert!(pdf.len() < 200_000, "{} bytes", pdf.len());
    assert_eq!(pdf, labels_pdf(&labels, &p, &options(Lang::Zh), &fonts).unwrap(), "deterministic");
}

#[test]
fn a_png_preview_has_one_pixel_per_printer_dot() {
    let fonts = fonts();
    let cases =
        [(60.0, 40.0, Dpi::D203, 480, 320), (100.0, 50.0, Dpi::D300, 1181, 591), (50.0, 30.0, Dpi::D600, 1181, 709)];
    for (w, h, dpi, width, height) in cases {
        let p = profile(PrinterLanguage::Zpl, w, h, dpi, LabelSymbology::DataMatrix);
        let png = label_png(&lot_label(), &p, &options(Lang::Zh), &fonts).unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(png));
        let reader = decoder.read_info().unwrap();
        let info = reader.info();
        assert_eq!((info.width, info.height), (width, height), "{w}×{h} mm at {dpi:?}");
    }
}

#[test]
fn a_missing_font_file_is_a_typed_error_naming_where_it_looked() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("none.ttc");
    let error = Fonts::discover(None, &[missing.to_str().unwrap()]).unwrap_err();
    assert_eq!(error.code(), "font_not_found");
    assert!(error.message(Lang::En).contains("none.ttc"));
    let not_a_font = dir.path().join("font.ttf");
    std::fs::write(&not_a_font, b"not a font").unwrap();
    assert_eq!(Fonts::discover(Some(not_a_font), &[]).unwrap_err().code(), "font_unreadable");
}
