//! Barcode symbols drawn by us (PDF, PNG) and the code-set plan shared with
//! the printer languages that draw their own (ZPL, TSPL, ESC/POS).
//!
//! **Data Matrix.** The `datamatrix` crate does ECC 200's Reed-Solomon error
//! correction, module placement and symbol sizes, but only writes FNC1 in first
//! position. GS1 DataMatrix wants FNC1 (codeword 232) as the separator too, so
//! the data codewords are ours: ASCII encodation (digit pairs as 130–229,
//! characters as value + 1, FNC1 as 232), then ISO/IEC 16022's pad codewords
//! (129, then the 253-state randomised pads). That is all of ASCII mode; the
//! crate's own decoder and zxing-cpp read the results back in the tests.
//!
//! **Code 128.** [`code128_plan`] picks code sets (C for runs of digits, B for
//! the rest; FNC1 stays in either), and `barcoders` turns the plan into bars.

use crate::error::PrintError;
use crate::gs1::Gs1Part;
use datamatrix::placement::MatrixMap;
use datamatrix::{DataMatrix, SymbolList, SymbolSize};
use std::sync::OnceLock;

/// ASCII-encodation codewords.
const DM_FNC1: u8 = 232;
const DM_PAD: u8 = 129;

/// A Data Matrix as rows of modules (`true` = dark), without quiet zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matrix {
    pub width: usize,
    pub height: usize,
    pub modules: Vec<bool>,
}

impl Matrix {
    pub fn dark(&self, x: usize, y: usize) -> bool {
        self.modules[y * self.width + x]
    }
}

/// The data codewords of `parts` in ASCII encodation, before padding.
pub fn datamatrix_codewords(parts: &[Gs1Part]) -> Vec<u8> {
    let mut out = Vec::new();
    for part in parts {
        match part {
            Gs1Part::Fnc1 => out.push(DM_FNC1),
            Gs1Part::Text(text) => {
                let bytes = text.as_bytes();
                let mut i = 0;
                while i < bytes.len() {
                    let b = bytes[i];
                    if b.is_ascii_digit() && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
                        out.push(130 + (b - b'0') * 10 + (bytes[i + 1] - b'0'));
                        i += 2;
                    } else {
                        // Our data is printable ASCII (validated); upper shift is never needed.
                        out.push(b + 1);
                        i += 1;
                    }
                }
            }
        }
    }
    out
}

/// Square symbol sizes with their data capacity, smallest first. The
/// capacities come from the crate (an empty symbol of each size is padded to
/// exactly its data capacity), not from a table of ours.
fn square_sizes() -> &'static [(SymbolSize, usize)] {
    static SIZES: OnceLock<Vec<(SymbolSize, usize)>> = OnceLock::new();
    SIZES.get_or_init(|| {
        let mut sizes: Vec<(SymbolSize, usize)> = SymbolList::default()
            .iter()
            .filter(SymbolSize::is_square)
            .filter_map(|size| DataMatrix::encode(&[], size).ok().map(|dm| (size, dm.data_codewords().len())))
            .collect();
        sizes.sort_by_key(|&(_, capacity)| capacity);
        sizes
    })
}

/// The smallest square GS1 DataMatrix (ECC 200) holding `parts`.
pub fn datamatrix(parts: &[Gs1Part]) -> Result<Matrix, PrintError> {
    let mut codewords = datamatrix_codewords(parts);
    let &(size, capacity) =
        square_sizes().iter().find(|(_, capacity)| *capacity >= codewords.len()).ok_or_else(|| {
            PrintError::RenderFailed {
                output: "DataMatrix",
                reason: format!("{} codewords do not fit", codewords.len()),
            }
        })?;
    if codewords.len() < capacity {
        codewords.push(DM_PAD);
    }
    while codewords.len() < capacity {
        // ISO/IEC 16022 5.2.3: the 253-state algorithm, position counted from 1.
        let position = codewords.len() + 1;
        let pseudo = ((149 * position) % 253) + 1;
        let pad = DM_PAD as usize + pseudo;
        codewords.push(if pad <= 254 { pad } else { pad - 254 } as u8);
    }
    let ecc = datamatrix::errorcode::encode_error(&codewords, size);
    codewords.extend_from_slice(&ecc);
    let bitmap = MatrixMap::new_with_codewords(&codewords, size).bitmap();
    Ok(Matrix { width: bitmap.width(), height: bitmap.height(), modules: bitmap.bits().to_vec() })
}

/// One step of a Code 128 plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum C128 {
    StartB,
    StartC,
    /// Switch to code set B / C.
    CodeB,
    CodeC,
    Fnc1,
    /// A character in code set B (printable ASCII).
    Char(u8),
    /// Two digits in code set C (00–99).
    Pair(u8),
}

/// Plans the code sets of a Code 128 symbol (ISO/IEC 15417 Annex E's rules
/// of thumb): start in C before an even run of digits or one of four or more,
/// switch to C for six or more digits (four at the end), set B for the rest,
/// an odd digit of a run in B before switching. FNC1 is written in whichever
/// set is current.
pub fn code128_plan(parts: &[Gs1Part]) -> Vec<C128> {
    // Flatten to FNC1 markers (None) and bytes.
    let mut items: Vec<Option<u8>> = Vec::new();
    for part in parts {
        match part {
            Gs1Part::Fnc1 => items.push(None),
            Gs1Part::Text(text) => items.extend(text.bytes().map(Some)),
        }
    }
    let digits_at = |i: usize| items[i..].iter().take_while(|c| c.is_some_and(|b| b.is_ascii_digit())).count();
    let mut plan = Vec::new();
    let mut in_c = false;
    let mut i = 0;
    // Leading FNC1s come after the start character; choose it by what follows them.
    let first_data = items.iter().position(Option::is_some).unwrap_or(items.len());
    let lead = if first_data < items.len() { digits_at(first_data) } else { 0 };
    if lead >= 2 && (lead % 2 == 0 || lead >= 4) {
        plan.push(C128::StartC);
        in_c = true;
    } else {
        plan.push(C128::StartB);
    }
    while i < items.len() {
        match items[i] {
            None => {
                plan.push(C128::Fnc1);
                i += 1;
            }
            Some(b) => {
                let run = digits_at(i);
                if in_c {
                    if run >= 2 {
                        plan.push(C128::Pair((b - b'0') * 10 + (items[i + 1].unwrap_or(b'0') - b'0')));
                        i += 2;
                        continue;
                    }
                    plan.push(C128::CodeB);
                    in_c = false;
                    continue;
                }
                // In B, decide once per run of digits: six or more (four at the very end) go to C,
                // an odd one out first in B; shorter runs stay in B.
                let at_end = i + run == items.len();
                if run >= 6 || (at_end && run >= 4) {
                    if run % 2 == 1 {
                        plan.push(C128::Char(b));
                        i += 1;
                    }
                    plan.push(C128::CodeC);
                    in_c = true;
                    continue;
                }
                let take = run.max(1);
                plan.extend(items[i..i + take].iter().map(|c| C128::Char(c.unwrap_or(b' '))));
                i += take;
            }
        }
    }
    plan
}

/// The bars of a planned Code 128 symbol, one entry per module (`true` = bar),
/// start to stop, without quiet zones; check character added by `barcoders`.
pub fn code128_modules(plan: &[C128]) -> Result<Vec<bool>, PrintError> {
    // barcoders' notation: 'Ɓ' / 'Ć' start or switch to set B / C, 'Ź' is FNC1,
    // set C data as its two digits.
    let mut text = String::new();
    for step in plan {
        match step {
            C128::StartB | C128::CodeB => text.push('Ɓ'),
            C128::StartC | C128::CodeC => text.push('Ć'),
            C128::Fnc1 => text.push('Ź'),
            C128::Char(b) => text.push(char::from(*b)),
            C128::Pair(p) => text.push_str(&format!("{p:02}")),
        }
    }
    let code = barcoders::sym::code128::Code128::new(&text)
        .map_err(|e| PrintError::RenderFailed { output: "Code 128", reason: e.to_string() })?;
    Ok(code.encode().into_iter().map(|m| m == 1).collect())
}

/// Modules a planned symbol takes: 11 per symbol character (start, data, check), 13 for stop.
pub fn code128_width(plan: &[C128]) -> usize {
    (plan.len() + 1) * 11 + 13
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Gs1Part {
        Gs1Part::Text(s.to_string())
    }

    #[test]
    fn ascii_encodation_pairs_digits_and_writes_fnc1_as_232() {
        let cases: &[(&[Gs1Part], &[u8])] = &[
            (&[Gs1Part::Fnc1, text("0109506000134352")], &[232, 131, 139, 180, 190, 130, 143, 173, 182]),
            (&[text("A1")], &[66, 50]),
            (&[text("123")], &[142, 52]),
            (&[Gs1Part::Fnc1, text("10AB"), Gs1Part::Fnc1, text("21X")], &[232, 140, 66, 67, 232, 151, 89]),
        ];
        for (parts, expected) in cases {
            assert_eq!(datamatrix_codewords(parts), *expected, "{parts:?}");
        }
    }

    #[test]
    fn a_gs1_datamatrix_reads_back_through_the_crates_decoder_with_gs_for_each_inner_fnc1() {
        let parts = [Gs1Part::Fnc1, text("0109506000134352172701311012AB"), Gs1Part::Fnc1, text("21SN-7")];
        let matrix = datamatrix(&parts).unwrap();
        assert_eq!(matrix.width, matrix.height);
        let decoded = DataMatrix::decode(&matrix.modules, matrix.width).unwrap();
        // The decoder drops the leading FNC1 and turns the others into GS.
        assert_eq!(decoded, b"0109506000134352172701311012AB\x1d21SN-7");
    }

    #[test]
    fn the_smallest_square_that_holds_the_data_is_chosen() {
        // 3 data codewords fit the 10×10 symbol; 4 need 12×12.
        assert_eq!(datamatrix(&[text("123456")]).unwrap().width, 10);
        assert_eq!(datamatrix(&[text("12345678")]).unwrap().width, 12);
        assert_eq!(square_sizes().first().map(|s| s.1), Some(3));
    }

    #[test]
    fn code_sets_follow_the_digits() {
        use C128::*;
        let cases: &[(&[Gs1Part], &[C128])] = &[
            (&[Gs1Part::Fnc1, text("0112")], &[StartC, Fnc1, Pair(1), Pair(12)]),
            (&[text("AB")], &[StartB, Char(b'A'), Char(b'B')]),
            // An odd run of 5 digits in the middle stays in B; at the end it goes to C after one digit.
            (
                &[text("A12345B")],
                &[StartB, Char(b'A'), Char(b'1'), Char(b'2'), Char(b'3'), Char(b'4'), Char(b'5'), Char(b'B')],
            ),
            (&[text("A12345")], &[StartB, Char(b'A'), Char(b'1'), CodeC, Pair(23), Pair(45)]),
            (
                &[Gs1Part::Fnc1, text("10L1"), Gs1Part::Fnc1, text("21")],
                &[StartC, Fnc1, Pair(10), CodeB, Char(b'L'), Char(b'1'), Fnc1, Char(b'2'), Char(b'1')],
            ),
            // Three leading digits: start in C would strand one; start in B.
            (&[text("123A")], &[StartB, Char(b'1'), Char(b'2'), Char(b'3'), Char(b'A')]),
        ];
        for (parts, expected) in cases {
            assert_eq!(code128_plan(parts), *expected, "{parts:?}");
        }
    }

    #[test]
    fn code128_modules_match_the_planned_width_and_end_in_the_stop_pattern() {
        let plan = code128_plan(&[Gs1Part::Fnc1, text("0109506000134352"), Gs1Part::Fnc1]);
        let modules = code128_modules(&plan).unwrap();
        assert_eq!(modules.len(), code128_width(&plan));
        // Start C is 11010011100; the stop pattern is 1100011101011.
        let bits = |s: &str| s.bytes().map(|b| b == b'1').collect::<Vec<_>>();
        assert_eq!(modules[..11], bits("11010011100")[..]);
        assert_eq!(modules[modules.len() - 13..], bits("1100011101011")[..]);
    }
}
