//! Documents as a thermal receipt (ESC/POS, 58 or 80 mm paper), the way
//! Chinese receipt printers take them: initialise, Chinese character mode on,
//! text in GB18030, columns counted in display width (a CJK character is two
//! columns of the 12×24 font), the document number as a printer-drawn
//! CODE128 (`GS k`), then feed and cut.
//!
//! The printer draws its own font, so nothing here needs the PDF's font.

use crate::document::{party_caption, signature_captions, signed, words};
use crate::error::PrintError;
use crate::gs1::Gs1Part;
use crate::label::encode_lossy;
use crate::model::{format_money, DocumentData, DocumentKind, PrinterLanguage, PrinterProfile};
use crate::symbol::{code128_plan, code128_width, C128};
use crate::{Lang, RenderOptions};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

const ESC: u8 = 0x1B;
const GS: u8 = 0x1D;
const FS: u8 = 0x1C;
const LF: u8 = 0x0A;
/// Printable dots across the paper at 203 dpi (58 mm: 48 mm, 80 mm: 72 mm).
fn printable_dots(columns: usize) -> usize {
    columns * 12
}
/// Height of the document number's bars, in dots (about 8 mm).
const BARCODE_HEIGHT_DOTS: u8 = 64;

/// A receipt being written.
struct Receipt {
    bytes: Vec<u8>,
    columns: usize,
}

impl Receipt {
    fn command(&mut self, bytes: &[u8]) {
        self.bytes.extend_from_slice(bytes);
    }

    /// One line of text (already fitted to the paper), GB18030-encoded.
    fn line(&mut self, text: &str) {
        self.bytes.extend_from_slice(&encode_lossy(text, encoding_rs::GB18030));
        self.bytes.push(LF);
    }

    /// Wrapped text, continuation lines indented by `indent` columns.
    fn text(&mut self, text: &str, indent: usize) {
        for line in wrap(text, self.columns, indent) {
            self.line(&line);
        }
    }

    fn rule(&mut self, ch: char) {
        let line: String = std::iter::repeat_n(ch, self.columns).collect();
        self.line(&line);
    }

    /// Short "caption value" facts, indented: on one line when they fit, else
    /// one per line, so a caption is never split from its value.
    fn facts(&mut self, facts: &[String]) {
        if facts.is_empty() {
            return;
        }
        let joined = format!("   {}", facts.join("  "));
        if joined.width() <= self.columns {
            self.line(&joined);
        } else {
            for fact in facts {
                self.text(&format!("   {fact}"), 3);
            }
        }
    }

    /// `left` and `right` on one line, `right` flush right; on two lines if they do not fit.
    fn spread(&mut self, left: &str, right: &str) {
        let (lw, rw) = (left.width(), right.width());
        if lw + 1 + rw <= self.columns {
            self.line(&format!("{left}{}{right}", " ".repeat(self.columns - lw - rw)));
        } else {
            self.text(left, 3);
            self.line(&format!("{}{right}", " ".repeat(self.columns.saturating_sub(rw))));
        }
    }
}

/// Breaks `text` into lines of at most `columns` display columns: CJK
/// anywhere, other text at its last space when there is one; continuation
/// lines start with `indent` spaces.
pub(crate) fn wrap(text: &str, columns: usize, indent: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut line = String::new();
    let mut width = 0;
    for ch in text.chars() {
        let w = ch.width().unwrap_or(0);
        if width + w > columns && !line.trim().is_empty() {
            let pad = " ".repeat(indent);
            let carry = match line.rfind(' ') {
                Some(space) if ch != ' ' && !line[..space].trim().is_empty() && line[space..].is_ascii() => {
                    let carry = line[space + 1..].to_string();
                    line.truncate(space);
                    carry
                }
                _ => String::new(),
            };
            out.push(line.trim_end().to_string());
            line = format!("{pad}{carry}");
            width = line.width();
            if ch == ' ' {
                continue;
            }
        }
        line.push(ch);
        width += w;
    }
    if !line.trim().is_empty() || out.is_empty() {
        out.push(line.trim_end().to_string());
    }
    out
}

/// ESC/POS bytes of the document for the profile's paper width.
pub fn document_escpos(
    doc: &DocumentData,
    profile: &PrinterProfile,
    options: &RenderOptions,
) -> Result<Vec<u8>, PrintError> {
    crate::document::check_document_language(profile.language, PrinterLanguage::Escpos)?;
    doc.validate()?;
    let totals = doc.totals()?;
    let lang = options.lang;
    let w = words(doc.kind, lang);
    let sep = if lang == Lang::Zh { "：" } else { ": " };
    let mut r = Receipt { bytes: Vec::new(), columns: profile.paper.columns() };

    r.command(&[ESC, b'@']); // initialise
    r.command(&[FS, b'&']); // Chinese (double-byte) character mode
    r.command(&[ESC, b'a', 1]); // centre
    r.command(&[GS, b'!', 0x11]); // double width and height
    for line in wrap(&doc.hospital, r.columns / 2, 0) {
        r.line(&line);
    }
    r.command(&[GS, b'!', 0x01]); // double height
    r.command(&[ESC, b'E', 1]);
    r.line(w.title);
    r.command(&[ESC, b'E', 0]);
    r.command(&[GS, b'!', 0x00]);
    r.command(&[ESC, b'a', 0]); // left
    r.text(&format!("{}{sep}{}", w.number, doc.number), 2);
    r.text(&format!("{}{sep}{}", w.date, doc.date.format("%Y-%m-%d")), 2);
    for party in &doc.parties {
        r.text(&format!("{}{sep}{}", party_caption(party.role, lang), party.name), 2);
    }
    if let Some(note) = &doc.note {
        r.text(&format!("{}{sep}{note}", w.note), 2);
    }
    r.rule('-');
    for (i, line) in doc.lines.iter().enumerate() {
        r.text(&format!("{}. {}", i + 1, line.item), 3);
        if let Some(code) = &line.code {
            r.text(&format!("   {code}"), 3);
        }
        if let Some(spec) = &line.specification {
            r.text(&format!("   {spec}"), 3);
        }
        let mut facts = Vec::new();
        if let Some(lot) = &line.lot {
            facts.push(format!("{} {lot}", w.lot));
        }
        if let Some(expiry) = line.expires_on {
            facts.push(format!("{} {}", w.expiry, expiry.format("%Y-%m-%d")));
        }
        if let Some(serial) = &line.serial {
            facts.push(format!("{} {serial}", w.serial));
        }
        r.facts(&facts);
        let unit = line.unit.as_deref().map(|u| format!(" {u}")).unwrap_or_default();
        let amount = line.amount(doc.kind)?.map(format_money).unwrap_or_default();
        match (doc.kind, line.expected_quantity) {
            (DocumentKind::Stocktake, Some(book)) => {
                r.facts(&[
                    format!("{} {book}", w.book),
                    format!("{} {}{unit}", w.counted, line.quantity),
                    format!("{} {}", w.variance, signed(line.priced_quantity(doc.kind))),
                ]);
                if !amount.is_empty() {
                    r.spread("", &amount);
                }
            }
            _ => {
                let quantity = match line.unit_cost {
                    Some(cost) => format!("   {}{unit} × {}", line.quantity, format_money(cost)),
                    None => format!("   {}{unit}", line.quantity),
                };
                r.spread(&quantity, &amount);
            }
        }
    }
    r.rule('-');
    let total_quantity = match totals.variance {
        Some(variance) => format!("{} {} {}", w.total, w.variance, signed(variance)),
        None => format!("{} {} {}", w.total, w.quantity, totals.quantity),
    };
    let total_amount = totals.amount.map(|a| format!("{} {}", w.amount, format_money(a))).unwrap_or_default();
    r.command(&[ESC, b'E', 1]);
    r.spread(&total_quantity, &total_amount);
    r.command(&[ESC, b'E', 0]);
    r.line("");
    for caption in signature_captions(doc, &w) {
        let text = format!("{caption}{sep}");
        let blanks = r.columns.saturating_sub(text.width()).min(r.columns);
        r.line(&format!("{text}{}", "_".repeat(blanks)));
        r.line("");
    }
    barcode(&mut r, &doc.number);
    r.command(&[ESC, b'd', 4]); // feed past the cutter
    r.command(&[GS, b'V', 66, 0]); // partial cut
    Ok(r.bytes)
}

/// The document number as CODE128 drawn by the printer (`GS k 73`), centred,
/// human-readable digits below; left out if it cannot fit the paper (the
/// number is printed as text above in any case).
fn barcode(r: &mut Receipt, number: &str) {
    let plan = code128_plan(&[Gs1Part::Text(number.to_string())]);
    let modules = code128_width(&plan);
    let Some(module) = [2usize, 1].into_iter().find(|m| modules * m <= printable_dots(r.columns)) else {
        return;
    };
    // ESC/POS CODE128 data: "{B" / "{C" select code sets, "{1" is FNC1, set C digits go as one byte per pair.
    let mut data: Vec<u8> = Vec::new();
    for step in &plan {
        match step {
            C128::StartB | C128::CodeB => data.extend_from_slice(b"{B"),
            C128::StartC | C128::CodeC => data.extend_from_slice(b"{C"),
            C128::Fnc1 => data.extend_from_slice(b"{1"),
            C128::Char(b'{') => data.extend_from_slice(b"{{"),
            C128::Char(b) => data.push(*b),
            C128::Pair(p) => data.push(*p),
        }
    }
    let Ok(length) = u8::try_from(data.len()) else { return };
    r.command(&[ESC, b'a', 1]);
    r.command(&[GS, b'h', BARCODE_HEIGHT_DOTS]);
    r.command(&[GS, b'w', module as u8]);
    r.command(&[GS, b'H', 2]); // human-readable below
    r.command(&[GS, b'k', 73, length]);
    r.command(&data);
    r.command(&[LF, ESC, b'a', 0]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_counts_chinese_as_two_columns() {
        let cases: &[(&str, usize, usize, &[&str])] = &[
            ("一次性使用无菌注射器", 8, 0, &["一次性使", "用无菌注", "射器"]),
            ("1. 一次性使用无菌注射器", 12, 3, &["1. 一次性使", "   用无菌注", "   射器"]),
            ("Sterile syringe with needle", 12, 2, &["Sterile", "  syringe", "  with", "  needle"]),
            ("", 12, 0, &[""]),
        ];
        for (text, columns, indent, expected) in cases {
            let lines = wrap(text, *columns, *indent);
            assert_eq!(lines, *expected, "{text}");
            assert!(lines.iter().all(|l| l.width() <= *columns), "{lines:?}");
        }
    }
}
