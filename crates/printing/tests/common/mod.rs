//! Sample labels, documents and profiles shared by the tests.
#![allow(dead_code)]

use chrono::NaiveDate;
use printing::*;
use rust_decimal::Decimal;
use std::str::FromStr;

pub fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 5, 1).unwrap()
}

pub fn options(lang: Lang) -> RenderOptions {
    RenderOptions { today: today(), lang }
}

pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

pub fn fonts() -> std::sync::Arc<Fonts> {
    Fonts::system().expect("a CJK font (Debian fonts-noto-cjk; `make deps` installs it)")
}

pub fn profile(
    language: PrinterLanguage,
    width_mm: f32,
    height_mm: f32,
    dpi: Dpi,
    symbology: LabelSymbology,
) -> PrinterProfile {
    PrinterProfile {
        label_width_mm: width_mm,
        label_height_mm: height_mm,
        dpi,
        symbology,
        ..PrinterProfile::new(language)
    }
}

/// A lot label: GTIN, Chinese name, lot with a hyphen, expiry, quantity, bin.
pub fn lot_label() -> LabelData {
    LabelData {
        kind: LabelKind::Lot,
        identifier: Some(LabelIdentifier::Gtin("09506000134352".into())),
        name: "一次性使用无菌注射器".into(),
        specification: Some("5ml 带针 0.6×25".into()),
        lot: Some("LOT-2026A".into()),
        expires_on: Some(date(2027, 1, 31)),
        serial: None,
        quantity: Some(100),
        unit: Some("支".into()),
        location: Some("A-01-03".into()),
    }
}

/// A unit label of a serial-tracked implant (GTIN-13 written as GTIN-14).
pub fn unit_label() -> LabelData {
    LabelData {
        kind: LabelKind::Unit,
        identifier: Some(LabelIdentifier::Gtin("4006381333931".into())),
        name: "髋关节假体 股骨柄".into(),
        specification: Some("Size 12 钛合金".into()),
        lot: Some("H2305".into()),
        expires_on: Some(date(2030, 6, 30)),
        serial: Some("SN0001234".into()),
        quantity: None,
        unit: None,
        location: None,
    }
}

/// An item without a manufacturer code: our internal code under AI 91.
pub fn item_label() -> LabelData {
    LabelData {
        kind: LabelKind::Item,
        identifier: Some(LabelIdentifier::Internal("MED-000123".into())),
        name: "纱布块（自制包）".into(),
        specification: None,
        lot: Some("20260501".into()),
        expires_on: Some(date(2026, 11, 30)),
        serial: None,
        quantity: Some(10),
        unit: Some("包".into()),
        location: None,
    }
}

pub fn bin_label() -> LabelData {
    LabelData {
        kind: LabelKind::Bin,
        identifier: None,
        name: "中心库 A 区 1 排 3 层".into(),
        specification: None,
        lot: None,
        expires_on: None,
        serial: None,
        quantity: None,
        unit: None,
        location: Some("A-01-03".into()),
    }
}

pub fn money(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap()
}

pub fn line(item: &str, lot: &str, quantity: i64, unit_cost: Option<&str>) -> DocumentLine {
    DocumentLine {
        item: item.into(),
        code: Some("09506000134352".into()),
        specification: Some("5ml 带针".into()),
        lot: Some(lot.into()),
        expires_on: Some(date(2027, 1, 31)),
        serial: None,
        unit: Some("支".into()),
        quantity,
        expected_quantity: None,
        unit_cost: unit_cost.map(money),
    }
}

/// A receipt (入库单) with three lines, one of them serial-tracked.
pub fn receipt() -> DocumentData {
    let mut implant = line("髋关节假体 股骨柄", "H2305", 1, Some("12800.00"));
    implant.code = Some("04006381333931".into());
    implant.specification = Some("Size 12 钛合金".into());
    implant.serial = Some("SN0001234".into());
    implant.unit = Some("个".into());
    DocumentData {
        kind: DocumentKind::Receipt,
        hospital: "演示医院 中心库".into(),
        number: "RK-S01-000001".into(),
        date: date(2026, 5, 1),
        parties: vec![
            Party { role: PartyRole::Supplier, name: "国药控股北京有限公司".into() },
            Party { role: PartyRole::Location, name: "中心库".into() },
            Party { role: PartyRole::Operator, name: "王丽".into() },
        ],
        lines: vec![
            line("一次性使用无菌注射器", "LOT-2026A", 100, Some("0.85")),
            line("医用外科口罩", "M240312", 500, Some("0.325")),
            implant,
        ],
        note: Some("随货同行单 SH-88912".into()),
        signatures: Vec::new(),
    }
}

/// A receipt of `lines` lines (for pagination and the benchmark's size).
pub fn long_receipt(lines: usize) -> DocumentData {
    let mut doc = receipt();
    doc.number = "RK-S01-000200".into();
    doc.lines = (0..lines)
        .map(|i| {
            line(
                &format!("一次性使用无菌注射器 {}", i + 1),
                &format!("L{:05}", i + 1),
                (i as i64 % 50) + 1,
                Some("1.25"),
            )
        })
        .collect();
    doc
}

/// A stocktake (盘点单) with book and counted quantities.
pub fn stocktake() -> DocumentData {
    let mut a = line("一次性使用无菌注射器", "LOT-2026A", 98, Some("0.85"));
    a.expected_quantity = Some(100);
    let mut b = line("医用外科口罩", "M240312", 505, Some("0.325"));
    b.expected_quantity = Some(500);
    DocumentData {
        kind: DocumentKind::Stocktake,
        hospital: "演示医院 中心库".into(),
        number: "PD-S01-000007".into(),
        date: date(2026, 5, 2),
        parties: vec![Party { role: PartyRole::Location, name: "中心库".into() }],
        lines: vec![a, b],
        note: None,
        signatures: Vec::new(),
    }
}

/// An issue slip (出库单) in English.
pub fn issue() -> DocumentData {
    DocumentData {
        kind: DocumentKind::Issue,
        hospital: "Demo Hospital Central Store".into(),
        number: "CK-S01-000042".into(),
        date: date(2026, 5, 3),
        parties: vec![
            Party { role: PartyRole::Location, name: "Central store".into() },
            Party { role: PartyRole::Department, name: "ICU 重症医学科".into() },
        ],
        lines: vec![DocumentLine {
            item: "Sterile syringe 5 ml with needle".into(),
            code: Some("09506000134352".into()),
            specification: None,
            lot: Some("LOT-2026A".into()),
            expires_on: Some(date(2027, 1, 31)),
            serial: None,
            unit: Some("pcs".into()),
            quantity: 20,
            expected_quantity: None,
            unit_cost: Some(money("0.85")),
        }],
        note: None,
        signatures: Vec::new(),
    }
}
