//! AIM symbology identifiers (ISO/IEC 15424): the `]` + code + modifier a
//! scanner may put in front of the data. They say which symbol was read and,
//! for GS1 symbols (FNC1 in first position), that the data is a GS1 element string.

/// What the identifier says about the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    /// A GS1 element string (GS1-128, GS1 DataMatrix, GS1 QR, GS1 DataBar, GS1 DotCode).
    Gs1,
    /// An EAN/UPC or ITF symbol: a bare GTIN.
    Ean,
    /// Any other symbol: the data says what it is (HIBC, MA, a URI…).
    Other,
    /// No identifier was sent.
    Unknown,
}

/// A recognised identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Symbology {
    pub aim: &'static str,
    pub content: Content,
}

/// Identifiers whose data is a GS1 element string.
const GS1: &[&str] = &["]C1", "]e0", "]e1", "]e2", "]d2", "]d5", "]Q3", "]Q5", "]J1"];
/// Identifiers whose data is a bare GTIN.
const EAN: &[&str] = &["]E0", "]E4", "]I0", "]I1"];

/// Whether an AIM identifier names a symbol whose data is GS1 (an element
/// string or a bare GTIN), as opposed to one that carries any text.
pub fn is_gs1_symbology(aim: &str) -> bool {
    GS1.contains(&aim) || EAN.contains(&aim)
}

/// Splits a leading AIM identifier off the data.
pub fn split(data: &str) -> (Option<Symbology>, &str) {
    let bytes = data.as_bytes();
    if bytes.len() < 3 || bytes[0] != b']' || !bytes[1].is_ascii_alphabetic() || !bytes[2].is_ascii_alphanumeric() {
        return (None, data);
    }
    let head = &data[..3];
    let rest = &data[3..];
    if let Some(aim) = GS1.iter().find(|&&a| a == head) {
        return (Some(Symbology { aim, content: Content::Gs1 }), rest);
    }
    if let Some(aim) = EAN.iter().find(|&&a| a == head) {
        return (Some(Symbology { aim, content: Content::Ean }), rest);
    }
    // Any other well-formed identifier: keep its text without allocating.
    let aim: &'static str = OTHER.iter().find(|&&a| a == head).copied().unwrap_or("]??");
    (Some(Symbology { aim: if aim == "]??" { leak_free(head) } else { aim }, content: Content::Other }), rest)
}

/// The identifiers of other symbologies that healthcare scanners send.
const OTHER: &[&str] = &[
    "]A0", "]A1", "]A2", "]A3", "]A4", "]A5", "]A7", "]C0", "]C2", "]C4", "]d0", "]d1", "]d3", "]d4", "]d6", "]Q0",
    "]Q1", "]Q2", "]Q4", "]Q6", "]L0", "]L1", "]L2", "]z0", "]z1", "]z2", "]z3", "]X0", "]G0", "]F0", "]J0", "]J2",
    "]J3",
];

/// An identifier not in our lists is reported as `]` + its code letter + `?`.
fn leak_free(head: &str) -> &'static str {
    const CODES: &str = "]A?]B?]C?]D?]E?]F?]G?]H?]I?]J?]K?]L?]M?]N?]O?]P?]Q?]R?]S?]T?]U?]V?]W?]X?]Y?]Z?]a?]b?]c?]d?]e?]f?]g?]h?]i?]j?]k?]l?]m?]n?]o?]p?]q?]r?]s?]t?]u?]v?]w?]x?]y?]z?";
    let letter = head.as_bytes()[1];
    let index = if letter.is_ascii_uppercase() { letter - b'A' } else { 26 + letter - b'a' } as usize;
    &CODES[index * 3..index * 3 + 3]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_split_and_classified() {
        let (s, rest) = split("]d201095060001343521");
        assert_eq!(s.unwrap().aim, "]d2");
        assert_eq!(s.unwrap().content, Content::Gs1);
        assert_eq!(rest, "01095060001343521");
        assert_eq!(split("]E09506000134352").0.unwrap().content, Content::Ean);
        assert_eq!(split("]A0+A99912345").0.unwrap().content, Content::Other);
        assert_eq!(split("]W9abc").0.unwrap().aim, "]W?");
        assert_eq!(split("0109506000134352").0, None);
        assert_eq!(split("]").0, None);
    }
}
