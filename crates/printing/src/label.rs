//! Labels: one layout, computed in printer dots from the profile's size and
//! resolution, then written four ways. ZPL and TSPL name the barcodes and
//! let the printer draw them (with FNC1 as each language spells it) and print
//! text in a printer-resident font; PDF and PNG draw the same layout
//! themselves, barcodes module by module, text in the CJK font.
//!
//! ```text
//! ┌──────────────────────────────────────┐
//! │ ▓▓▓▓▓▓  一次性使用无菌注射器           │   name (two lines at most)
//! │ ▓ DM ▓  5ml 带针                     │   specification
//! │ ▓▓▓▓▓▓  批号 LOT-2026A               │   lot, expiry, serial, quantity, location
//! │         效期 2027-01-31              │
//! │ ║║│║║║│║║│║│║║║│║│║║║║│║ (GS1-128)   │   only with `Gs1_128` / `Both`
//! │ (01)09506000134352(17)270131(10)LOT… │   human-readable, broken between elements
//! └──────────────────────────────────────┘
//! ```
//!
//! Module sizes have a floor, and a label too small for it is refused
//! (`label_too_small`) rather than printed unreadable: GS1 DataMatrix
//! X ≥ 0.254 mm, the usual minimum for healthcare items; GS1-128 X ≥ 0.170 mm,
//! below the 0.25 mm GS1's healthcare tables generally ask for, so that GTIN,
//! expiry, lot and serial fit a 100 mm label at 300 dpi. zxing-cpp reads such
//! symbols (tests/readback.rs), but a verifier may grade them down: where
//! labels are wide enough, a larger X is chosen automatically (up to 0.495 mm).

use crate::canvas::{Canvas, PdfCanvas, PngCanvas};
use crate::error::PrintError;
use crate::font::Fonts;
use crate::gs1::{label_barcode, BarcodeData, Gs1Part};
use crate::model::{validate_job, LabelData, LabelKind, LabelSymbology, PrinterLanguage, PrinterProfile};
use crate::symbol::{code128_modules, code128_plan, code128_width, datamatrix, Matrix, C128};
use crate::{Lang, RenderOptions};
use std::fmt::Write as _;
use unicode_width::UnicodeWidthChar;

/// Smallest and largest module (X dimension) in millimetres.
pub const MATRIX_MODULE_MM_MIN: f32 = 0.254;
pub const MATRIX_MODULE_MM_MAX: f32 = 0.615;
pub const LINEAR_MODULE_MM_MIN: f32 = 0.170;
pub const LINEAR_MODULE_MM_MAX: f32 = 0.495;
/// Quiet zone each side of a Code 128 symbol, in modules.
const LINEAR_QUIET_MODULES: usize = 10;

/// The ZPL printer font when the profile names none (Zebra's Andale Mono WT Simplified Chinese).
pub const ZPL_DEFAULT_FONT: &str = "E:ANMDS.TTF";
/// The TSPL printer font when the profile names none: TSC's 24×24 Simplified
/// Chinese bitmap font (GB2312 code points; ASCII at half width, 12×24).
pub const TSPL_DEFAULT_FONT: &str = "TSS24.BF2";
/// TSS24.BF2's cell height in dots; text sizes are multiples of it.
const TSPL_FONT_DOTS: u32 = 24;

/// Something placed on a label, in dots from the top-left corner.
#[derive(Debug, Clone)]
pub(crate) enum Item {
    /// One line of text; `y` is the top of its line box, `height` the font size.
    Text { x: u32, y: u32, height: u32, text: String },
    /// A Data Matrix with `module` dots per module.
    Matrix { x: u32, y: u32, module: u32, matrix: Matrix },
    /// A Code 128 symbol (GS1-128 when it starts with FNC1), bars only.
    Linear { x: u32, y: u32, module: u32, height: u32, plan: Vec<C128> },
}

/// A label laid out in printer dots.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub width: u32,
    pub height: u32,
    pub items: Vec<Item>,
    pub data: BarcodeData,
}

/// How an output measures text.
pub(crate) trait Measure {
    /// The font size actually used for a wanted size.
    fn size(&self, wanted: u32) -> u32;
    /// Width of `text` at `size`, in dots.
    fn width(&self, text: &str, size: u32) -> u32;
}

/// PDF and PNG: the real font's advances.
impl Measure for Fonts {
    fn size(&self, wanted: u32) -> u32 {
        wanted
    }
    fn width(&self, text: &str, size: u32) -> u32 {
        (Fonts::width(self, text) * size as f32).ceil() as u32
    }
}

/// ZPL with a scalable printer font: CJK one em wide, the rest 0.6 em (monospaced Andale).
struct ZplMeasure;

impl Measure for ZplMeasure {
    fn size(&self, wanted: u32) -> u32 {
        wanted
    }
    fn width(&self, text: &str, size: u32) -> u32 {
        let ems: f32 = text.chars().map(|c| if c.width().unwrap_or(0) >= 2 { 1.0 } else { 0.6 }).sum();
        (ems * size as f32).ceil() as u32
    }
}

/// TSPL's bitmap font, scaled by whole multiples.
struct TsplMeasure;

impl Measure for TsplMeasure {
    fn size(&self, wanted: u32) -> u32 {
        TSPL_FONT_DOTS * ((wanted + TSPL_FONT_DOTS / 2) / TSPL_FONT_DOTS).clamp(1, 10)
    }
    fn width(&self, text: &str, size: u32) -> u32 {
        let columns: u32 = text.chars().map(|c| c.width().unwrap_or(0) as u32).sum();
        columns * size / 2
    }
}

/// Line pitch for a font size.
fn pitch(size: u32) -> u32 {
    size + size / 5
}

/// Whole dots of a length in millimetres; a tolerance of 5% lets 0.254 mm be 2 dots at 203 dpi.
fn dots_at_least(mm: f32, dots_per_mm: f32) -> u32 {
    ((mm * dots_per_mm) * 0.95).ceil().max(1.0) as u32
}

fn dots_at_most(mm: f32, dots_per_mm: f32) -> u32 {
    ((mm * dots_per_mm) * 1.05).floor().max(1.0) as u32
}

/// Cuts `text` to `max` dots, ending in "…" when cut.
fn fit(text: &str, size: u32, max: u32, measure: &dyn Measure) -> String {
    if measure.width(text, size) <= max {
        return text.to_string();
    }
    let mut chars: Vec<char> = text.chars().collect();
    while !chars.is_empty() {
        chars.pop();
        let candidate: String = chars.iter().collect::<String>() + "…";
        if measure.width(&candidate, size) <= max {
            return candidate;
        }
    }
    String::new()
}

/// Breaks `text` into at most `lines` lines of `max` dots (CJK anywhere, other text preferably at spaces).
fn wrap(text: &str, size: u32, max: u32, lines: usize, measure: &dyn Measure) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest: &str = text.trim();
    while !rest.is_empty() && out.len() < lines {
        if out.len() + 1 == lines || measure.width(rest, size) <= max {
            out.push(fit(rest, size, max, measure));
            break;
        }
        // The longest prefix that fits, backed up to a space if there is one.
        let mut end = 0;
        for (at, ch) in rest.char_indices() {
            let next = at + ch.len_utf8();
            if measure.width(&rest[..next], size) > max {
                break;
            }
            end = next;
        }
        if end == 0 {
            end = rest.chars().next().map_or(rest.len(), char::len_utf8);
        }
        if let Some(space) = rest[..end].rfind(' ').filter(|&s| s > 0 && end < rest.len()) {
            end = space;
        }
        out.push(rest[..end].trim_end().to_string());
        rest = rest[end..].trim_start();
    }
    out
}

/// Groups the human-readable elements into lines of at most `max` dots, breaking only between elements.
fn hri_lines(data: &BarcodeData, size: u32, max: u32, measure: &dyn Measure) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for element in data.human_readable() {
        match lines.last_mut() {
            Some(line) if measure.width(&format!("{line}{element}"), size) <= max => line.push_str(&element),
            _ => lines.push(fit(&element, size, max, measure)),
        }
    }
    lines
}

struct Captions {
    lot: &'static str,
    expiry: &'static str,
    serial: &'static str,
    quantity: &'static str,
    location: &'static str,
}

fn captions(lang: Lang) -> Captions {
    match lang {
        Lang::Zh => {
            Captions { lot: "批号", expiry: "效期", serial: "序列号", quantity: "数量", location: "货位" }
        }
        Lang::En => Captions { lot: "LOT", expiry: "EXP", serial: "SN", quantity: "QTY", location: "LOC" },
    }
}

/// Lays out one validated label.
pub(crate) fn layout(
    label: &LabelData,
    profile: &PrinterProfile,
    options: &RenderOptions,
    measure: &dyn Measure,
) -> Result<Layout, PrintError> {
    let data = label_barcode(label, options.today)?;
    let d = profile.dpi.dots_per_mm();
    let width = (profile.label_width_mm * d).round() as u32;
    let height = (profile.label_height_mm * d).round() as u32;
    let margin = (1.5 * d).round() as u32;
    let gap = (1.5 * d).round() as u32;
    let inner_w = width - 2 * margin;
    let inner_h = height - 2 * margin;
    let body = measure.size(((inner_h as f32 * 0.1).clamp(2.0 * d, 3.2 * d)).round() as u32);
    let small = measure.size((body as f32 * 0.8).round() as u32);
    let mut items = Vec::new();
    let mut bottom = height - margin;

    let with_linear = matches!(profile.symbology, LabelSymbology::Gs1_128 | LabelSymbology::Both);
    let with_matrix = matches!(profile.symbology, LabelSymbology::DataMatrix | LabelSymbology::Both);
    // Human-readable interpretation along the bottom, centred under a GS1-128
    // (bins show their code large in the text column instead).
    if label.kind != LabelKind::Bin {
        let lines = hri_lines(&data, small, inner_w, measure);
        bottom = bottom.saturating_sub(pitch(small) * lines.len() as u32);
        for (i, line) in lines.into_iter().enumerate() {
            let indent = if with_linear { (inner_w - measure.width(&line, small).min(inner_w)) / 2 } else { 0 };
            items.push(Item::Text {
                x: margin + indent,
                y: bottom + i as u32 * pitch(small),
                height: small,
                text: line,
            });
        }
    }
    if with_linear {
        let plan = code128_plan(&data.parts);
        let modules = code128_width(&plan) + 2 * LINEAR_QUIET_MODULES;
        let min = dots_at_least(LINEAR_MODULE_MM_MIN, d);
        let module = (inner_w / modules as u32).min(dots_at_most(LINEAR_MODULE_MM_MAX, d));
        if module < min {
            return Err(PrintError::LabelTooSmall {
                symbol: "GS1-128",
                needed_mm: ((modules as u32 * min + 2 * margin) as f32 / d).ceil() as u32,
                width_mm: profile.label_width_mm as u32,
            });
        }
        let bar_height = ((inner_h as f32 * 0.22).clamp(5.0 * d, 12.0 * d)).round() as u32;
        let symbol_w = code128_width(&plan) as u32 * module;
        bottom = bottom.saturating_sub(bar_height + gap / 2);
        items.push(Item::Linear { x: margin + (inner_w - symbol_w) / 2, y: bottom, module, height: bar_height, plan });
    }
    bottom = bottom.saturating_sub(gap / 2);
    let top_h = bottom.saturating_sub(margin);

    let mut text_x = margin;
    if with_matrix {
        let matrix = datamatrix(&data.parts)?;
        let side_max = top_h.min(inner_w * 9 / 20);
        let module = (side_max / matrix.width as u32).min(dots_at_most(MATRIX_MODULE_MM_MAX, d));
        let min = dots_at_least(MATRIX_MODULE_MM_MIN, d);
        if module < min {
            let needed = matrix.width as u32 * min;
            return Err(PrintError::LabelTooSmall {
                symbol: "GS1 DataMatrix",
                needed_mm: ((needed + (height - top_h)) as f32 / d).ceil() as u32,
                width_mm: profile.label_height_mm as u32,
            });
        }
        let side = matrix.width as u32 * module;
        items.push(Item::Matrix { x: margin, y: margin, module, matrix });
        text_x = margin + side + gap;
    }
    let text_w = (width - margin).saturating_sub(text_x);

    // The text column: required lines first, optional ones while they fit.
    let c = captions(options.lang);
    let mut lines: Vec<(u32, String, bool)> = Vec::new(); // (size, text, required)
    if label.kind == LabelKind::Bin {
        let big = measure.size(body * 2);
        let code = label.location.as_deref().unwrap_or_default();
        lines.push((big, fit(code, big, text_w, measure), true));
        lines.extend(wrap(&label.name, body, text_w, 2, measure).into_iter().map(|l| (body, l, false)));
    } else {
        let mut name = wrap(&label.name, body, text_w, 2, measure).into_iter();
        if let Some(first) = name.next() {
            lines.push((body, first, true));
        }
        lines.extend(name.map(|l| (body, l, false)));
        if let Some(spec) = &label.specification {
            lines.push((body, fit(spec, body, text_w, measure), false));
        }
        let mut field = |caption: &str, value: &str, required: bool| {
            lines.push((body, fit(&format!("{caption} {value}"), body, text_w, measure), required));
        };
        if let Some(lot) = &label.lot {
            field(c.lot, lot, true);
        }
        if let Some(expiry) = label.expires_on {
            field(c.expiry, &expiry.format("%Y-%m-%d").to_string(), true);
        }
        if let Some(serial) = &label.serial {
            field(c.serial, serial, true);
        }
        if let Some(quantity) = label.quantity {
            field(c.quantity, format!("{quantity} {}", label.unit.as_deref().unwrap_or_default()).trim_end(), false);
        }
        if let Some(location) = &label.location {
            field(c.location, location, false);
        }
    }
    let used = |lines: &[(u32, String, bool)]| lines.iter().map(|(size, _, _)| pitch(*size)).sum::<u32>();
    while used(&lines) > top_h {
        match lines.iter().rposition(|(_, _, required)| !required) {
            Some(i) => {
                lines.remove(i);
            }
            None => {
                return Err(PrintError::LabelTooSmall {
                    symbol: "text",
                    needed_mm: ((used(&lines) + height - top_h) as f32 / d).ceil() as u32,
                    width_mm: profile.label_height_mm as u32,
                })
            }
        }
    }
    let mut y = margin;
    for (size, text, _) in lines {
        items.push(Item::Text { x: text_x, y, height: size, text });
        y += pitch(size);
    }
    Ok(Layout { width, height, items, data })
}

fn check_language(profile: &PrinterProfile, wanted: PrinterLanguage) -> Result<(), PrintError> {
    profile.validate()?;
    if profile.language == PrinterLanguage::Escpos || (wanted != PrinterLanguage::Pdf && profile.language != wanted) {
        return Err(PrintError::UnsupportedOutput { language: profile.language.as_str(), output: "labels" });
    }
    Ok(())
}

/// ZPL II for a Zebra printer: one `^XA … ^XZ` format per label, UTF-8 text (`^CI28`).
pub fn labels_zpl(
    labels: &[LabelData],
    profile: &PrinterProfile,
    options: &RenderOptions,
) -> Result<Vec<u8>, PrintError> {
    check_language(profile, PrinterLanguage::Zpl)?;
    validate_job(labels)?;
    let font = profile.font.as_deref().unwrap_or(ZPL_DEFAULT_FONT);
    let mut out = String::new();
    for label in labels {
        let layout = layout(label, profile, options, &ZplMeasure)?;
        let _ = write!(out, "^XA\n^CI28\n^PW{}\n^LL{}\n^LH0,0\n", layout.width, layout.height);
        for item in &layout.items {
            match item {
                Item::Text { x, y, height, text } => {
                    // ^FH: '^', '~' and '\' as hex, so no text can end the field or start a command.
                    let _ = writeln!(out, "^FO{x},{y}^A@N,{height},{height},{font}^FH\\^FD{}^FS", zpl_hex_escape(text));
                }
                Item::Matrix { x, y, module, .. } => {
                    // Quality 200 (ECC 200) with '_' named as the escape character: `_1` is FNC1, `__` an underscore.
                    let _ = writeln!(out, "^FO{x},{y}^BXN,{module},200,0,0,6,_^FD{}^FS", zpl_matrix_data(&layout.data));
                }
                Item::Linear { x, y, module, height, plan } => {
                    let _ = writeln!(out, "^FO{x},{y}^BY{module}^BCN,{height},N,N,N,N^FD{}^FS", zpl_code128(plan));
                }
            }
        }
        out.push_str("^PQ1\n^XZ\n");
    }
    Ok(out.into_bytes())
}

fn zpl_hex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '^' => out.push_str("\\5E"),
            '~' => out.push_str("\\7E"),
            '\\' => out.push_str("\\5C"),
            other => out.push(other),
        }
    }
    out
}

fn zpl_matrix_data(data: &BarcodeData) -> String {
    let mut out = String::new();
    for part in &data.parts {
        match part {
            Gs1Part::Fnc1 => out.push_str("_1"),
            Gs1Part::Text(text) => out.push_str(&text.replace('_', "__")),
        }
    }
    out
}

/// ZPL's Code 128 invocation codes (mode N: the field data names every code set).
fn zpl_code128(plan: &[C128]) -> String {
    let mut out = String::new();
    for step in plan {
        match step {
            C128::StartB => out.push_str(">:"),
            C128::StartC => out.push_str(">;"),
            C128::CodeB => out.push_str(">6"),
            C128::CodeC => out.push_str(">5"),
            C128::Fnc1 => out.push_str(">8"),
            C128::Char(b'>') => out.push_str(">0"),
            C128::Char(b) => out.push(char::from(*b)),
            C128::Pair(p) => {
                let _ = write!(out, "{p:02}");
            }
        }
    }
    out
}

/// TSPL for a TSC (or Xprinter, Gprinter) printer. Commands are ASCII; text
/// strings are in GBK, as the printer's Chinese font expects.
pub fn labels_tspl(
    labels: &[LabelData],
    profile: &PrinterProfile,
    options: &RenderOptions,
) -> Result<Vec<u8>, PrintError> {
    check_language(profile, PrinterLanguage::Tspl)?;
    validate_job(labels)?;
    let font = profile.font.as_deref().unwrap_or(TSPL_DEFAULT_FONT);
    let mut out: Vec<u8> = Vec::new();
    for label in labels {
        let layout = layout(label, profile, options, &TsplMeasure)?;
        let mut head = String::new();
        let _ = write!(
            head,
            "SIZE {} mm,{} mm\r\nGAP 2 mm,0 mm\r\nDIRECTION 1\r\nREFERENCE 0,0\r\nCLS\r\n",
            profile.label_width_mm, profile.label_height_mm
        );
        out.extend_from_slice(head.as_bytes());
        for item in &layout.items {
            match item {
                Item::Text { x, y, height, text } => {
                    let scale = height / TSPL_FONT_DOTS;
                    out.extend_from_slice(format!("TEXT {x},{y},\"{font}\",0,{scale},{scale},\"").as_bytes());
                    out.extend_from_slice(&gbk_lossy(&text.replace('"', "\\[\"]")));
                    out.extend_from_slice(b"\"\r\n");
                }
                Item::Matrix { x, y, module, matrix } => {
                    let side = matrix.width as u32 * module;
                    // c126: '~' is the escape character, so `~1` is FNC1 (GS1 data never holds '~').
                    let data = tspl_matrix_data(&layout.data);
                    out.extend_from_slice(
                        format!("DMATRIX {x},{y},{side},{side},c126,x{module},\"{data}\"\r\n").as_bytes(),
                    );
                }
                Item::Linear { x, y, module, height, plan } => {
                    // "128M": Code 128 with the code sets given as !NNN (symbol values).
                    out.extend_from_slice(
                        format!(
                            "BARCODE {x},{y},\"128M\",{height},0,0,{module},{module},\"{}\"\r\n",
                            tspl_code128(plan)
                        )
                        .as_bytes(),
                    );
                }
            }
        }
        out.extend_from_slice(b"PRINT 1,1\r\n");
    }
    Ok(out)
}

fn tspl_matrix_data(data: &BarcodeData) -> String {
    let mut out = String::new();
    for part in &data.parts {
        match part {
            Gs1Part::Fnc1 => out.push_str("~1"),
            Gs1Part::Text(text) => out.push_str(text),
        }
    }
    out
}

fn tspl_code128(plan: &[C128]) -> String {
    let mut out = String::new();
    for step in plan {
        match step {
            C128::StartB => out.push_str("!104"),
            C128::StartC => out.push_str("!105"),
            C128::CodeB => out.push_str("!100"),
            C128::CodeC => out.push_str("!099"),
            C128::Fnc1 => out.push_str("!102"),
            // '!' starts a control code; written as its own symbol value in set B.
            C128::Char(b'!') => out.push_str("!001"),
            C128::Char(b) => out.push(char::from(*b)),
            C128::Pair(p) => {
                let _ = write!(out, "{p:02}");
            }
        }
    }
    out
}

/// GBK bytes of `text`; a character GBK lacks becomes '?'.
pub(crate) fn gbk_lossy(text: &str) -> Vec<u8> {
    encode_lossy(text, encoding_rs::GBK)
}

pub(crate) fn encode_lossy(text: &str, encoding: &'static encoding_rs::Encoding) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() * 2);
    let mut buf = [0u8; 4];
    for ch in text.chars() {
        let (bytes, _, unmappable) = encoding.encode(ch.encode_utf8(&mut buf));
        if unmappable {
            out.push(b'?');
        } else {
            out.extend_from_slice(&bytes);
        }
    }
    out
}

/// Draws a layout on a canvas whose unit is one printer dot.
fn draw(layout: &Layout, canvas: &mut dyn Canvas) -> Result<(), PrintError> {
    for item in &layout.items {
        match item {
            Item::Text { x, y, height, text } => canvas.text(*x as f32, *y as f32, *height as f32, text),
            Item::Matrix { x, y, module, matrix } => {
                let m = *module as f32;
                for row in 0..matrix.height {
                    for col in 0..matrix.width {
                        if matrix.dark(col, row) {
                            canvas.rect(*x as f32 + col as f32 * m, *y as f32 + row as f32 * m, m, m);
                        }
                    }
                }
            }
            Item::Linear { x, y, module, height, plan } => {
                let modules = code128_modules(plan)?;
                let m = *module as f32;
                let mut i = 0;
                while i < modules.len() {
                    if modules[i] {
                        let run = modules[i..].iter().take_while(|&&bar| bar).count();
                        canvas.rect(*x as f32 + i as f32 * m, *y as f32, run as f32 * m, *height as f32);
                        i += run;
                    } else {
                        i += 1;
                    }
                }
            }
        }
    }
    Ok(())
}

/// A PDF with one page per label, each page the size of the label.
pub fn labels_pdf(
    labels: &[LabelData],
    profile: &PrinterProfile,
    options: &RenderOptions,
    fonts: &Fonts,
) -> Result<Vec<u8>, PrintError> {
    profile.validate()?;
    if profile.language == PrinterLanguage::Escpos {
        return Err(PrintError::UnsupportedOutput { language: profile.language.as_str(), output: "labels" });
    }
    validate_job(labels)?;
    let layouts: Vec<Layout> = labels.iter().map(|l| layout(l, profile, options, fonts)).collect::<Result<_, _>>()?;
    let point_per_dot = 72.0 / 25.4 / profile.dpi.dots_per_mm();
    let mut document = krilla::Document::new();
    for layout in &layouts {
        let (w, h) = (layout.width as f32 * point_per_dot, layout.height as f32 * point_per_dot);
        let settings = krilla::page::PageSettings::from_wh(w, h)
            .ok_or(PrintError::RenderFailed { output: "PDF", reason: format!("bad page {w}×{h}") })?;
        let mut page = document.start_page_with(settings);
        let mut surface = page.surface();
        let mut canvas = PdfCanvas::new(&mut surface, fonts, point_per_dot);
        draw(layout, &mut canvas)?;
        canvas.finish();
        surface.finish();
        page.finish();
    }
    document.finish().map_err(|e| PrintError::RenderFailed { output: "PDF", reason: format!("{e:?}") })
}

/// A PNG preview of one label at the printer's resolution (one pixel per dot).
pub fn label_png(
    label: &LabelData,
    profile: &PrinterProfile,
    options: &RenderOptions,
    fonts: &Fonts,
) -> Result<Vec<u8>, PrintError> {
    profile.validate()?;
    validate_job(std::slice::from_ref(label))?;
    let layout = layout(label, profile, options, fonts)?;
    let mut canvas = PngCanvas::new(layout.width, layout.height, fonts)?;
    draw(&layout, &mut canvas)?;
    canvas.encode()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tspl_text_sizes_are_whole_multiples_of_the_24_dot_font() {
        let cases = [(10, 24), (24, 24), (35, 24), (36, 48), (60, 72), (1000, 240)];
        for (wanted, size) in cases {
            assert_eq!(TsplMeasure.size(wanted), size, "{wanted}");
        }
        assert_eq!(TsplMeasure.width("批号 L1", 24), (2 + 2 + 1 + 2) * 12);
    }

    #[test]
    fn wrapping_breaks_chinese_anywhere_and_latin_at_spaces() {
        let m = TsplMeasure; // 12 dots per column at size 24
        let cases: &[(&str, u32, usize, &[&str])] = &[
            ("一次性使用无菌注射器", 192, 2, &["一次性使用无菌注", "射器"]),
            ("sterile syringe 5ml", 96, 2, &["sterile", "syringe…"]),
            ("sterile syringe", 192, 2, &["sterile syringe"]),
            ("一次性使用无菌注射器带针头加长型号", 192, 2, &["一次性使用无菌注", "射器带针头加长…"]),
        ];
        for (text, max, lines, expected) in cases {
            assert_eq!(wrap(text, 24, *max, *lines, &m), *expected, "{text}");
        }
    }

    #[test]
    fn fit_cuts_with_an_ellipsis_only_when_needed() {
        let m = TsplMeasure;
        assert_eq!(fit("L1", 24, 24, &m), "L1");
        assert_eq!(fit("ABCDEF", 24, 48, &m), "ABC…");
        assert_eq!(fit("中文", 24, 10, &m), "");
    }

    #[test]
    fn gbk_keeps_chinese_and_marks_what_it_lacks() {
        assert_eq!(gbk_lossy("中A"), vec![0xD6, 0xD0, b'A']);
        assert_eq!(gbk_lossy("😀"), b"?".to_vec());
    }

    #[test]
    fn printer_side_code128_names_each_code_set_and_fnc1() {
        use C128::*;
        let plan = [StartC, Fnc1, Pair(1), Pair(9), CodeB, Char(b'A'), Char(b'>'), Char(b'!'), Fnc1, CodeC, Pair(21)];
        assert_eq!(zpl_code128(&plan), ">;>80109>6A>0!>8>521");
        assert_eq!(tspl_code128(&plan), "!105!1020109!100A>!001!102!09921");
    }
}
