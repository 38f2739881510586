//! Documents: totals and money, what is refused, the limits, the A4 PDF's
//! pages, and the ESC/POS receipt's encoding, columns and commands.

mod common;

use common::*;
use printing::*;
use unicode_width::UnicodeWidthStr;

#[test]
fn totals_are_exact_decimals_and_quantities() {
    // (document, total quantity, total variance, total amount)
    let cases: Vec<(DocumentData, i64, Option<i64>, Option<&str>)> = vec![
        // 100 × 0.85 + 500 × 0.325 + 1 × 12800.00 = 85 + 162.5 + 12800
        (receipt(), 601, None, Some("13047.50")),
        // (98 − 100) × 0.85 + (505 − 500) × 0.325 = −1.7 + 1.625
        (stocktake(), 603, Some(3), Some("-0.075")),
        (issue(), 20, None, Some("17.00")),
        (
            {
                let mut d = issue();
                d.lines[0].unit_cost = None;
                d
            },
            20,
            None,
            None,
        ),
    ];
    for (doc, quantity, variance, amount) in cases {
        let totals = doc.totals().unwrap();
        assert_eq!(totals.quantity, quantity, "{}", doc.number);
        assert_eq!(totals.variance, variance, "{}", doc.number);
        assert_eq!(totals.amount.map(format_money).as_deref(), amount, "{}", doc.number);
    }
}

#[test]
fn money_keeps_every_decimal_and_shows_at_least_two() {
    let cases = [("12.5", "12.50"), ("0.125", "0.125"), ("3", "3.00"), ("1.2500", "1.25"), ("-0.075", "-0.075")];
    for (value, shown) in cases {
        assert_eq!(format_money(money(value)), shown);
    }
}

#[test]
fn bad_documents_are_refused_with_their_code() {
    let with = |f: fn(&mut DocumentData)| {
        let mut doc = receipt();
        f(&mut doc);
        doc
    };
    let cases: Vec<(&str, DocumentData, &str)> = vec![
        ("no lines", with(|d| d.lines.clear()), "missing_field"),
        ("empty hospital", with(|d| d.hospital = String::new()), "missing_field"),
        ("number with Chinese", with(|d| d.number = "入库-1".into()), "bad_code"),
        ("number with a space", with(|d| d.number = "RK 1".into()), "bad_code"),
        ("item with a line feed", with(|d| d.lines[0].item = "注射器\n".into()), "control_character"),
        ("book quantity on a receipt", with(|d| d.lines[0].expected_quantity = Some(1)), "unexpected_field"),
        ("quantity beyond the limit", with(|d| d.lines[0].quantity = -QUANTITY_ABS_MAX - 1), "bad_quantity"),
        (
            "an amount that overflows",
            with(|d| d.lines[0].unit_cost = Some(rust_decimal::Decimal::MAX)),
            "amount_overflow",
        ),
        ("empty signature caption", with(|d| d.signatures = vec![" ".into()]), "missing_field"),
    ];
    let fonts = fonts();
    let escpos = PrinterProfile::new(PrinterLanguage::Escpos);
    for (what, doc, code) in cases {
        assert_eq!(document_pdf(&doc, &options(Lang::Zh), &fonts).unwrap_err().code(), code, "{what} (PDF)");
        assert_eq!(document_escpos(&doc, &escpos, &options(Lang::Zh)).unwrap_err().code(), code, "{what} (ESC/POS)");
    }
}

#[test]
fn document_limits_are_exact() {
    let fonts = fonts();
    let escpos = PrinterProfile::new(PrinterLanguage::Escpos);
    let at = long_receipt(DOCUMENT_LINES_MAX);
    assert!(document_escpos(&at, &escpos, &options(Lang::Zh)).is_ok());
    let over = long_receipt(DOCUMENT_LINES_MAX + 1);
    assert_eq!(
        document_escpos(&over, &escpos, &options(Lang::Zh)).unwrap_err(),
        PrintError::TooManyLines { count: DOCUMENT_LINES_MAX + 1, max: DOCUMENT_LINES_MAX }
    );
    // (what, setter at a given count/length, limit)
    type Set = fn(&mut DocumentData, usize);
    let cases: &[(&str, Set, usize)] = &[
        ("parties", |d, n| d.parties = vec![Party { role: PartyRole::Operator, name: "王丽".into() }; n], PARTIES_MAX),
        ("signatures", |d, n| d.signatures = vec!["库管员".into(); n], SIGNATURES_MAX),
        ("note", |d, n| d.note = Some("注".repeat(n)), NOTE_CHARS_MAX),
        ("hospital", |d, n| d.hospital = "院".repeat(n), TEXT_CHARS_MAX),
        ("number", |d, n| d.number = "R".repeat(n), CODE_CHARS_MAX),
    ];
    for (what, set, max) in cases {
        let mut doc = receipt();
        set(&mut doc, *max);
        assert!(document_pdf(&doc, &options(Lang::Zh), &fonts).is_ok(), "{what} at its limit");
        let mut doc = receipt();
        set(&mut doc, max + 1);
        assert!(document_pdf(&doc, &options(Lang::Zh), &fonts).is_err(), "{what} over its limit");
    }
}

#[test]
fn documents_go_only_to_pdf_and_receipt_printers() {
    let cases = [(PrinterLanguage::Zpl, "unsupported_output"), (PrinterLanguage::Tspl, "unsupported_output")];
    for (language, code) in cases {
        let profile = PrinterProfile::new(language);
        assert_eq!(render_document(&receipt(), &profile, &options(Lang::Zh), None).unwrap_err().code(), code);
    }
    let fonts = fonts();
    let pdf = render_document(&receipt(), &PrinterProfile::new(PrinterLanguage::Pdf), &options(Lang::Zh), Some(&fonts));
    assert!(pdf.unwrap().starts_with(b"%PDF-"));
}

fn page_count(pdf: &[u8]) -> usize {
    let text = String::from_utf8_lossy(pdf);
    let rest = text.split("/Type/Pages/Count ").nth(1).expect("a page tree");
    rest.split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap()
}

#[test]
fn a_long_receipt_breaks_across_a4_pages() {
    let fonts = fonts();
    // Rows of two text lines: 22 fit under the first page's header and parties, 23 on the others;
    // totals and signatures follow the last row, on a page of their own when it is full.
    let cases = [(1, 1), (3, 1), (22, 2), (46, 3), (200, 9), (DOCUMENT_LINES_MAX, 218)];
    for (lines, pages) in cases {
        let pdf = document_pdf(&long_receipt(lines), &options(Lang::Zh), &fonts).unwrap();
        assert_eq!(page_count(&pdf), pages, "{lines} lines");
        assert!(String::from_utf8_lossy(&pdf).contains("/MediaBox[0 0 595.28 841.89]"));
    }
}

/// Splits ESC/POS bytes into printed lines (GB18030 decoded) with the commands removed.
fn printed_lines(bytes: &[u8]) -> Vec<String> {
    let mut text = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            0x1B..=0x1D => {
                // ESC/GS/FS commands used here take two bytes plus fixed arguments; GS k carries data.
                let (cmd, arg) = (bytes[i], bytes.get(i + 1).copied().unwrap_or(0));
                let skip = match (cmd, arg) {
                    (0x1D, b'k') => 4 + bytes[i + 3] as usize,
                    (0x1D, b'V') => 4,
                    (0x1B, b'@') | (0x1C, b'&') => 2,
                    _ => 3,
                };
                i += skip;
            }
            b => {
                text.push(b);
                i += 1;
            }
        }
    }
    let (decoded, _, errors) = encoding_rs::GB18030.decode(&text);
    assert!(!errors, "not GB18030");
    decoded.lines().map(str::to_string).collect()
}

#[test]
fn a_receipt_is_gb18030_in_the_papers_columns_with_init_barcode_and_cut() {
    let cases = [(Paper::Mm58, 32), (Paper::Mm80, 48)];
    for (paper, columns) in cases {
        for doc in [receipt(), stocktake(), long_receipt(30)] {
            let profile = PrinterProfile { paper, ..PrinterProfile::new(PrinterLanguage::Escpos) };
            let bytes = document_escpos(&doc, &profile, &options(Lang::Zh)).unwrap();
            assert!(bytes.starts_with(&[0x1B, b'@', 0x1C, b'&']), "initialise, then Chinese mode");
            assert!(bytes.ends_with(&[0x1D, b'V', 66, 0]), "partial cut at the end");
            let lines = printed_lines(&bytes);
            // Double-width header lines count twice.
            let header = lines.iter().position(|l| l.contains(doc.number.as_str())).unwrap();
            for line in &lines[header..] {
                assert!(line.width() <= columns, "{paper:?}: {line:?} is {} columns", line.width());
            }
            assert!(lines.iter().any(|l| l.contains(&doc.lines[0].item)), "{paper:?}");
            // CODE128 of the number: GS k 73 n, code set B first.
            let k = bytes.windows(3).position(|w| w == [0x1D, b'k', 73]).expect("a CODE128 command");
            assert_eq!(&bytes[k + 4..k + 6], b"{B");
        }
    }
}

#[test]
fn the_receipt_barcode_is_left_out_only_when_the_number_cannot_fit_the_paper() {
    let profile = PrinterProfile { paper: Paper::Mm58, ..PrinterProfile::new(PrinterLanguage::Escpos) };
    let mut doc = receipt();
    // 40 letters: (40 + 3) × 11 + 13 = 486 modules > 384 dots of 58 mm paper.
    doc.number = "R".repeat(CODE_CHARS_MAX);
    let bytes = document_escpos(&doc, &profile, &options(Lang::Zh)).unwrap();
    assert!(!bytes.windows(3).any(|w| w == [0x1D, b'k', 73]));
    // Still printed as text (wrapped: 单号： and 40 letters are more than 32 columns).
    let joined: String = printed_lines(&bytes).iter().map(|l| l.trim()).collect();
    assert!(joined.contains(&doc.number), "{joined}");
    let wide = PrinterProfile { paper: Paper::Mm80, ..profile };
    let bytes = document_escpos(&doc, &wide, &options(Lang::Zh)).unwrap();
    let w = bytes.windows(2).position(|w| w == [0x1D, b'w']).expect("a module width");
    assert_eq!(bytes[w + 2], 1, "module width 1 dot on 80 mm paper");
}
