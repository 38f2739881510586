//! Documents as an A4 PDF a hospital files: header with the hospital, the
//! document's title and its number as a Code 128 barcode; the parties; a
//! table of lines that breaks across pages and repeats its header on each;
//! totals; signature lines; "page n of m" on every page.
//!
//! Layout is two passes: rows are measured and assigned to pages first (so
//! every footer knows the page count), then drawn. Units are PDF points.

use crate::canvas::{Canvas, PdfCanvas};
use crate::error::PrintError;
use crate::font::Fonts;
use crate::gs1::Gs1Part;
use crate::model::{format_money, DocumentData, DocumentKind, DocumentLine, PartyRole, PrinterLanguage, Totals};
use crate::symbol::{code128_modules, code128_plan};
use crate::{Lang, RenderOptions};

const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
const MARGIN_X: f32 = 36.0;
const MARGIN_TOP: f32 = 36.0;
const MARGIN_BOTTOM: f32 = 36.0;
const CONTENT_W: f32 = PAGE_W - 2.0 * MARGIN_X;
const TABLE_SIZE: f32 = 8.5;
const INFO_SIZE: f32 = 9.5;
const CELL_PAD: f32 = 3.0;
/// Lines of text one table cell shows before cutting with "…".
const CELL_LINES_MAX: usize = 4;
const RULE: f32 = 0.5;
/// Code 128 module of the document number: 0.35 mm, narrower (down to
/// 0.21 mm) only for a long number, so the barcode stays clear of the title.
const BARCODE_MODULE: f32 = 1.0;
const BARCODE_MODULE_MIN: f32 = 0.6;
const BARCODE_WIDTH_MAX: f32 = 180.0;
const BARCODE_HEIGHT: f32 = 26.0;
const FOOTER_H: f32 = 14.0;

/// Words a document prints, in one language.
pub(crate) struct Words {
    pub title: &'static str,
    pub number: &'static str,
    pub date: &'static str,
    pub note: &'static str,
    pub total: &'static str,
    pub columns: &'static [&'static str],
    pub signatures: &'static [&'static str],
    pub lot: &'static str,
    pub expiry: &'static str,
    pub serial: &'static str,
    pub book: &'static str,
    pub counted: &'static str,
    pub variance: &'static str,
    pub amount: &'static str,
    pub quantity: &'static str,
    pub signature_date: &'static str,
}

pub(crate) fn words(kind: DocumentKind, lang: Lang) -> Words {
    let zh = lang == Lang::Zh;
    let stocktake = kind == DocumentKind::Stocktake;
    let columns: &'static [&'static str] = match (zh, stocktake) {
        (true, false) => &["序号", "品名 / 编码", "规格型号", "批号", "效期", "序列号", "数量", "单价", "金额"],
        (true, true) => {
            &["序号", "品名 / 编码", "规格型号", "批号 / 序列号", "效期", "账面", "实盘", "差异", "单价", "差异金额"]
        }
        (false, false) => {
            &["#", "Item / code", "Specification", "Lot", "Expiry", "Serial", "Qty", "Unit cost", "Amount"]
        }
        (false, true) => &[
            "#",
            "Item / code",
            "Specification",
            "Lot / serial",
            "Expiry",
            "Book",
            "Counted",
            "Variance",
            "Unit cost",
            "Var. amount",
        ],
    };
    let (title, signatures): (&str, &[&str]) = match (kind, zh) {
        (DocumentKind::Receipt, true) => ("入库单", &["库管员", "验收人", "送货人"]),
        (DocumentKind::Receipt, false) => ("Goods Receipt", &["Storekeeper", "Inspected by", "Delivered by"]),
        (DocumentKind::Issue, true) => ("出库单", &["发料人", "领用人", "科室负责人"]),
        (DocumentKind::Issue, false) => ("Issue Slip", &["Issued by", "Received by", "Department head"]),
        (DocumentKind::Transfer, true) => ("调拨单", &["调出人", "调入人", "审核人"]),
        (DocumentKind::Transfer, false) => ("Transfer Note", &["Sent by", "Received by", "Approved by"]),
        (DocumentKind::Stocktake, true) => ("盘点单", &["盘点人", "复核人", "主管"]),
        (DocumentKind::Stocktake, false) => ("Stocktake Sheet", &["Counted by", "Checked by", "Manager"]),
        (DocumentKind::Scrap, true) => ("报废单", &["申请人", "审核人", "主管"]),
        (DocumentKind::Scrap, false) => ("Scrap Record", &["Requested by", "Checked by", "Approved by"]),
    };
    if zh {
        Words {
            title,
            number: "单号",
            date: "日期",
            note: "备注",
            total: "合计",
            columns,
            signatures,
            lot: "批号",
            expiry: "效期",
            serial: "序列号",
            book: "账面",
            counted: "实盘",
            variance: "差异",
            amount: "金额",
            quantity: "数量",
            signature_date: "日期",
        }
    } else {
        Words {
            title,
            number: "No.",
            date: "Date",
            note: "Note",
            total: "Total",
            columns,
            signatures,
            lot: "Lot",
            expiry: "Exp",
            serial: "SN",
            book: "Book",
            counted: "Counted",
            variance: "Variance",
            amount: "Amount",
            quantity: "Qty",
            signature_date: "Date",
        }
    }
}

pub(crate) fn party_caption(role: PartyRole, lang: Lang) -> &'static str {
    match (role, lang) {
        (PartyRole::Supplier, Lang::Zh) => "供应商",
        (PartyRole::Department, Lang::Zh) => "领用科室",
        (PartyRole::FromLocation, Lang::Zh) => "调出库房",
        (PartyRole::ToLocation, Lang::Zh) => "调入库房",
        (PartyRole::Location, Lang::Zh) => "库房",
        (PartyRole::Operator, Lang::Zh) => "经办人",
        (PartyRole::Supplier, Lang::En) => "Supplier",
        (PartyRole::Department, Lang::En) => "Department",
        (PartyRole::FromLocation, Lang::En) => "From",
        (PartyRole::ToLocation, Lang::En) => "To",
        (PartyRole::Location, Lang::En) => "Location",
        (PartyRole::Operator, Lang::En) => "Operator",
    }
}

/// Signature captions: the document's own, else the kind's usual ones.
pub(crate) fn signature_captions(doc: &DocumentData, words: &Words) -> Vec<String> {
    if doc.signatures.is_empty() {
        words.signatures.iter().map(|s| s.to_string()).collect()
    } else {
        doc.signatures.clone()
    }
}

/// Column widths in points (they add up to the content width).
fn column_widths(kind: DocumentKind) -> &'static [f32] {
    match kind {
        DocumentKind::Stocktake => &[28.0, 110.0, 66.0, 68.0, 50.0, 36.0, 36.0, 36.0, 42.0, 51.28],
        _ => &[28.0, 114.0, 72.0, 62.0, 50.0, 60.0, 42.0, 44.0, 51.28],
    }
}

/// Columns whose text is right-aligned (numbers).
fn right_aligned(kind: DocumentKind, column: usize) -> bool {
    match kind {
        DocumentKind::Stocktake => column == 0 || column >= 5,
        _ => column == 0 || column >= 6,
    }
}

/// The text of each cell of a line, before wrapping.
fn cells(kind: DocumentKind, index: usize, line: &DocumentLine) -> Result<Vec<String>, PrintError> {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let item = match &line.code {
        Some(code) => format!("{}\n{code}", line.item),
        None => line.item.clone(),
    };
    let expiry = line.expires_on.map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default();
    let unit = line.unit.as_deref().map(|u| format!(" {u}")).unwrap_or_default();
    let cost = line.unit_cost.map(format_money).unwrap_or_default();
    let amount = line.amount(kind)?.map(format_money).unwrap_or_default();
    Ok(match kind {
        DocumentKind::Stocktake => {
            let lot = match (&line.lot, &line.serial) {
                (Some(lot), Some(serial)) => format!("{lot}\n{serial}"),
                (lot, serial) => lot.clone().or(serial.clone()).unwrap_or_default(),
            };
            let book = line.expected_quantity.map(|q| q.to_string()).unwrap_or_default();
            let variance = line.expected_quantity.map(|_| signed(line.priced_quantity(kind))).unwrap_or_default();
            vec![
                (index + 1).to_string(),
                item,
                opt(&line.specification),
                lot,
                expiry,
                book,
                format!("{}{unit}", line.quantity),
                variance,
                cost,
                amount,
            ]
        }
        _ => vec![
            (index + 1).to_string(),
            item,
            opt(&line.specification),
            opt(&line.lot),
            expiry,
            opt(&line.serial),
            format!("{}{unit}", line.quantity),
            cost,
            amount,
        ],
    })
}

/// A variance with its sign: +5, -2, 0.
pub(crate) fn signed(n: i64) -> String {
    if n > 0 {
        format!("+{n}")
    } else {
        n.to_string()
    }
}

/// Breaks `text` (which may hold '\n') into lines of at most `max` points.
fn wrap(fonts: &Fonts, text: &str, size: f32, max: f32, lines_max: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        for ch in paragraph.chars() {
            let candidate = format!("{line}{ch}");
            if !line.is_empty() && fonts.width(&candidate) * size > max {
                // Latin words break at their last space when there is one.
                let (keep, carry) = match line.rfind(' ') {
                    Some(space) if !ch.is_whitespace() && line.is_ascii() => {
                        (line[..space].to_string(), line[space + 1..].to_string())
                    }
                    _ => (line.clone(), String::new()),
                };
                out.push(keep);
                line = carry;
                if ch != ' ' {
                    line.push(ch);
                }
            } else {
                line = candidate;
            }
        }
        out.push(line);
    }
    if out.len() > lines_max {
        out.truncate(lines_max);
        let last = out.last_mut().expect("lines_max ≥ 1");
        let mut cut: Vec<char> = last.chars().collect();
        while !cut.is_empty() && fonts.width(&format!("{}…", cut.iter().collect::<String>())) * size > max {
            cut.pop();
        }
        *last = format!("{}…", cut.iter().collect::<String>());
    }
    out
}

/// One table row, measured.
struct Row {
    cells: Vec<Vec<String>>,
    height: f32,
}

/// Distance between lines of text of `size`.
fn line_pitch(size: f32) -> f32 {
    size * 1.3
}

fn measure_row(fonts: &Fonts, kind: DocumentKind, texts: Vec<String>) -> Row {
    let widths = column_widths(kind);
    let cells: Vec<Vec<String>> = texts
        .iter()
        .zip(widths)
        .map(|(text, width)| wrap(fonts, text, TABLE_SIZE, width - 2.0 * CELL_PAD, CELL_LINES_MAX))
        .collect();
    let lines = cells.iter().map(Vec::len).max().unwrap_or(1).max(1);
    Row { cells, height: lines as f32 * line_pitch(TABLE_SIZE) + 2.0 * CELL_PAD }
}

/// What goes on one page.
#[derive(Default)]
struct PagePlan {
    rows: std::ops::Range<usize>,
    totals: bool,
    signatures: bool,
}

/// An A4 PDF of the document.
pub fn document_pdf(doc: &DocumentData, options: &RenderOptions, fonts: &Fonts) -> Result<Vec<u8>, PrintError> {
    doc.validate()?;
    let totals = doc.totals()?;
    let w = words(doc.kind, options.lang);
    let lang = options.lang;

    let header_rows = measure_row(fonts, doc.kind, w.columns.iter().map(|s| s.to_string()).collect());
    let rows: Vec<Row> = doc
        .lines
        .iter()
        .enumerate()
        .map(|(i, line)| Ok(measure_row(fonts, doc.kind, cells(doc.kind, i, line)?)))
        .collect::<Result<_, PrintError>>()?;
    let totals_row = measure_row(fonts, doc.kind, totals_cells(doc.kind, &totals, &w));
    let info: Vec<String> =
        info_lines(doc, &w, lang).iter().flat_map(|l| wrap(fonts, l, INFO_SIZE, CONTENT_W, 3)).collect();
    let info_h = info.len() as f32 * line_pitch(INFO_SIZE) + 6.0;
    let head_h = page_head_height();
    let signature_h = 56.0;
    let bottom = PAGE_H - MARGIN_BOTTOM - FOOTER_H;

    // Pass 1: which rows, totals and signatures go on which page.
    let mut pages: Vec<PagePlan> = Vec::new();
    let mut start = 0usize;
    let mut first = true;
    loop {
        let mut y = MARGIN_TOP + head_h + if first { info_h } else { 0.0 } + header_rows.height;
        let mut end = start;
        while end < rows.len() && y + rows[end].height <= bottom {
            y += rows[end].height;
            end += 1;
        }
        if end == start && start < rows.len() && y + rows[end].height > bottom {
            // A row taller than a page cannot happen (cells are capped), but never loop forever.
            end += 1;
            y += rows[start].height;
        }
        let mut plan = PagePlan { rows: start..end, ..PagePlan::default() };
        if end == rows.len() && y + totals_row.height <= bottom {
            plan.totals = true;
            y += totals_row.height;
            if y + signature_h <= bottom {
                plan.signatures = true;
            }
        }
        let done = plan.signatures;
        let totals_placed = plan.totals;
        pages.push(plan);
        start = end;
        first = false;
        if done {
            break;
        }
        if totals_placed {
            // Signatures alone on a last page.
            pages.push(PagePlan { rows: end..end, totals: false, signatures: true });
            break;
        }
    }

    // Pass 2: draw.
    let page_count = pages.len();
    let mut document = krilla::Document::new();
    for (number, plan) in pages.iter().enumerate() {
        let settings = krilla::page::PageSettings::from_wh(PAGE_W, PAGE_H).expect("A4 is a valid size");
        let mut page = document.start_page_with(settings);
        let mut surface = page.surface();
        let mut canvas = PdfCanvas::new(&mut surface, fonts, 1.0);
        let mut y = draw_page_head(&mut canvas, fonts, doc, &w)?;
        if number == 0 {
            for line in &info {
                canvas.text(MARGIN_X, y, INFO_SIZE, line);
                y += line_pitch(INFO_SIZE);
            }
            y += 6.0;
        }
        let signatures_only = plan.rows.is_empty() && !plan.totals;
        if !signatures_only {
            y = draw_row(&mut canvas, fonts, doc.kind, &header_rows, y, true);
            for row in &rows[plan.rows.clone()] {
                y = draw_row(&mut canvas, fonts, doc.kind, row, y, false);
            }
            if plan.totals {
                y = draw_row(&mut canvas, fonts, doc.kind, &totals_row, y, true);
            }
        }
        if plan.signatures {
            draw_signatures(&mut canvas, fonts, doc, &w, lang, y + 18.0);
        }
        let footer = match lang {
            Lang::Zh => format!("{}  第 {} 页 / 共 {} 页", doc.number, number + 1, page_count),
            Lang::En => format!("{}  Page {} of {}", doc.number, number + 1, page_count),
        };
        let footer_w = fonts.width(&footer) * 8.0;
        canvas.text((PAGE_W - footer_w) / 2.0, PAGE_H - MARGIN_BOTTOM - 8.0, 8.0, &footer);
        canvas.finish();
        surface.finish();
        page.finish();
    }
    document.finish().map_err(|e| PrintError::RenderFailed { output: "PDF", reason: format!("{e:?}") })
}

fn totals_cells(kind: DocumentKind, totals: &Totals, w: &Words) -> Vec<String> {
    let amount = totals.amount.map(format_money).unwrap_or_default();
    let mut cells = vec![String::new(), w.total.to_string()];
    match kind {
        DocumentKind::Stocktake => {
            cells.extend(["", "", "", "", ""].map(String::from));
            cells.push(totals.variance.map(signed).unwrap_or_default());
            cells.push(String::new());
        }
        _ => {
            cells.extend(["", "", "", ""].map(String::from));
            cells.push(totals.quantity.to_string());
            cells.push(String::new());
        }
    }
    cells.push(amount);
    cells
}

fn info_lines(doc: &DocumentData, w: &Words, lang: Lang) -> Vec<String> {
    let sep = if lang == Lang::Zh { "：" } else { ": " };
    let mut lines =
        vec![format!("{}{sep}{}        {}{sep}{}", w.number, doc.number, w.date, doc.date.format("%Y-%m-%d"))];
    for pair in doc.parties.chunks(2) {
        let text: Vec<String> =
            pair.iter().map(|p| format!("{}{sep}{}", party_caption(p.role, lang), p.name)).collect();
        lines.push(text.join("        "));
    }
    if let Some(note) = &doc.note {
        lines.push(format!("{}{sep}{note}", w.note));
    }
    lines
}

fn page_head_height() -> f32 {
    line_pitch(15.0) + BARCODE_HEIGHT + 1.0 + line_pitch(8.0) + 8.0
}

/// Hospital (centred over the page), title (centred below it) and the
/// number's barcode (right, beside the title); returns where the content starts.
fn draw_page_head(canvas: &mut PdfCanvas, fonts: &Fonts, doc: &DocumentData, w: &Words) -> Result<f32, PrintError> {
    let hospital = wrap(fonts, &doc.hospital, 15.0, CONTENT_W, 1).remove(0);
    canvas.text((PAGE_W - fonts.width(&hospital) * 15.0) / 2.0, MARGIN_TOP, 15.0, &hospital);
    let y = MARGIN_TOP + line_pitch(15.0);
    canvas.text((PAGE_W - fonts.width(w.title) * 13.0) / 2.0, y, 13.0, w.title);

    // Document number as Code 128 (no FNC1: it is not GS1 data).
    let plan = code128_plan(&[Gs1Part::Text(doc.number.clone())]);
    let modules = code128_modules(&plan)?;
    let module = (BARCODE_WIDTH_MAX / modules.len() as f32).clamp(BARCODE_MODULE_MIN, BARCODE_MODULE);
    let bar_w = modules.len() as f32 * module;
    let x0 = PAGE_W - MARGIN_X - bar_w;
    let mut i = 0;
    while i < modules.len() {
        if modules[i] {
            let run = modules[i..].iter().take_while(|&&m| m).count();
            canvas.rect(x0 + i as f32 * module, y, run as f32 * module, BARCODE_HEIGHT);
            i += run;
        } else {
            i += 1;
        }
    }
    let number_w = fonts.width(&doc.number) * 8.0;
    canvas.text(x0 + (bar_w - number_w) / 2.0, y + BARCODE_HEIGHT + 1.0, 8.0, &doc.number);
    Ok(y + BARCODE_HEIGHT + 1.0 + line_pitch(8.0) + 8.0)
}

/// One table row with its cell borders; returns the y below it.
fn draw_row(canvas: &mut PdfCanvas, fonts: &Fonts, kind: DocumentKind, row: &Row, y: f32, emphasis: bool) -> f32 {
    let widths = column_widths(kind);
    let pitch = line_pitch(TABLE_SIZE);
    let mut x = MARGIN_X;
    for (column, (lines, width)) in row.cells.iter().zip(widths).enumerate() {
        for (i, text) in lines.iter().enumerate() {
            let text_w = fonts.width(text) * TABLE_SIZE;
            // Numbers are right-aligned; the header's "#" and the totals' caption are not.
            let right = right_aligned(kind, column) && !(emphasis && column == 0);
            let tx = if right { x + width - CELL_PAD - text_w } else { x + CELL_PAD };
            canvas.text(tx, y + CELL_PAD + i as f32 * pitch + (pitch - TABLE_SIZE) / 2.0, TABLE_SIZE, text);
        }
        canvas.rect(x, y, RULE, row.height);
        x += width;
    }
    canvas.rect(x - RULE, y, RULE, row.height);
    let rule = if emphasis { RULE * 2.0 } else { RULE };
    canvas.rect(MARGIN_X, y, CONTENT_W, rule);
    canvas.rect(MARGIN_X, y + row.height - rule, CONTENT_W, rule);
    y + row.height
}

fn draw_signatures(canvas: &mut PdfCanvas, fonts: &Fonts, doc: &DocumentData, w: &Words, lang: Lang, y: f32) {
    let sep = if lang == Lang::Zh { "：" } else { ": " };
    let captions = signature_captions(doc, w);
    let slot = CONTENT_W / captions.len().max(1) as f32;
    for (i, caption) in captions.iter().enumerate() {
        let x = MARGIN_X + i as f32 * slot;
        let text = format!("{caption}{sep}");
        let text_w = fonts.width(&text) * INFO_SIZE;
        canvas.text(x, y, INFO_SIZE, &text);
        let line_y = y + line_pitch(INFO_SIZE) - 2.0;
        canvas.rect(x + text_w, line_y, slot - text_w - 12.0, RULE);
        let date = format!("{}{sep}", w.signature_date);
        canvas.text(x, y + 22.0, INFO_SIZE, &date);
        let date_w = fonts.width(&date) * INFO_SIZE;
        canvas.rect(x + date_w, line_y + 22.0, slot - date_w - 12.0, RULE);
    }
}

pub(crate) fn check_document_language(language: PrinterLanguage, wanted: PrinterLanguage) -> Result<(), PrintError> {
    if language != wanted {
        return Err(PrintError::UnsupportedOutput { language: language.as_str(), output: "documents" });
    }
    Ok(())
}
