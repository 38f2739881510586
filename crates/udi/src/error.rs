//! Why a barcode could not be read, and what was odd about one that could:
//! each with a stable `code()` that shells branch on and a `message(lang)` in
//! Chinese or English that tells the clerk what to do.

use chrono::NaiveDate;
use serde::{Serialize, Serializer};

/// The language of messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Zh,
    En,
}

/// A barcode that cannot be read. Nothing is guessed: the clerk rescans or types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UdiError {
    /// Nothing was scanned.
    Empty,
    /// More data than any barcode we read can hold.
    TooLong { length: usize, max: usize },
    /// The bytes are not text.
    NotText,
    /// Not GS1, HIBC, an MA code or one of our labels.
    UnknownFormat,
    /// A GS1 Application Identifier that does not exist.
    UnknownAi { ai: String },
    /// The data ends inside an element.
    Truncated { ai: String },
    /// A character the element may not hold.
    BadCharacter { ai: String, character: char },
    /// An element whose value is too short or too long.
    BadLength { ai: String, length: usize, min: usize, max: usize },
    /// A wrong check digit or check character: the barcode was misread or misprinted.
    BadCheckDigit { field: String, expected: String },
    /// A date that is not on the calendar.
    BadDate { field: String, value: String },
    /// A value outside its code list or range.
    BadValue { ai: String, value: String },
    /// The same AI twice with different values.
    ConflictingDuplicate { ai: String },
    /// Too many ways to read a barcode whose separators were lost.
    TooAmbiguous,
    /// A GS1 Digital Link URI that does not carry GS1 data.
    BadUri { reason: &'static str },
    /// An HIBC symbol that does not follow the HIBC structure.
    BadHibc { reason: &'static str },
    /// An MA code that does not follow the MA structure.
    BadMa { reason: &'static str },
}

impl UdiError {
    /// The stable code shells branch on.
    pub fn code(&self) -> &'static str {
        match self {
            UdiError::Empty => "empty",
            UdiError::TooLong { .. } => "too_long",
            UdiError::NotText => "not_text",
            UdiError::UnknownFormat => "unknown_format",
            UdiError::UnknownAi { .. } => "unknown_ai",
            UdiError::Truncated { .. } => "truncated",
            UdiError::BadCharacter { .. } => "bad_character",
            UdiError::BadLength { .. } => "bad_length",
            UdiError::BadCheckDigit { .. } => "bad_check_digit",
            UdiError::BadDate { .. } => "bad_date",
            UdiError::BadValue { .. } => "bad_value",
            UdiError::ConflictingDuplicate { .. } => "conflicting_duplicate",
            UdiError::TooAmbiguous => "too_ambiguous",
            UdiError::BadUri { .. } => "bad_uri",
            UdiError::BadHibc { .. } => "bad_hibc",
            UdiError::BadMa { .. } => "bad_ma",
        }
    }

    /// What happened and what to do, in the user's language.
    pub fn message(&self, lang: Lang) -> String {
        let zh = lang == Lang::Zh;
        match self {
            UdiError::Empty => pick(zh, "没有扫描到任何内容，请重新扫描。", "Nothing was scanned. Scan again."),
            UdiError::TooLong { length, max } => {
                if zh {
                    format!("扫描内容过长（{length} 个字符，最多 {max}），不是可识别的条码。请只扫描一个条码。")
                } else {
                    format!("The scan is too long ({length} characters, at most {max}) to be a barcode we read. Scan one barcode at a time.")
                }
            }
            UdiError::NotText => pick(
                zh,
                "扫描内容不是文本，请检查扫描枪的接口设置后重新扫描。",
                "The scan is not text. Check the scanner's interface settings and scan again.",
            ),
            UdiError::UnknownFormat => pick(
                zh,
                "无法识别的条码：不是 GS1、HIBC、MA 码或本系统标签。请扫描产品的 UDI 条码，或手工输入。",
                "Unrecognised barcode: not GS1, HIBC, an MA code or one of our labels. Scan the product's UDI barcode or type the data.",
            ),
            UdiError::UnknownAi { ai } => {
                if zh {
                    format!("条码中含有不存在的 GS1 应用标识符（{ai}…），可能是误读。请重新扫描。")
                } else {
                    format!("The barcode holds a GS1 Application Identifier that does not exist ({ai}…); it was probably misread. Scan again.")
                }
            }
            UdiError::Truncated { ai } => {
                if zh {
                    format!("条码在 ({ai}) 处中断，数据不完整。请重新扫描。")
                } else {
                    format!("The barcode stops in the middle of ({ai}); the data is incomplete. Scan again.")
                }
            }
            UdiError::BadCharacter { ai, character } => {
                let shown = if character.is_control() { format!("U+{:04X}", *character as u32) } else { character.to_string() };
                if zh {
                    format!("({ai}) 中含有不允许的字符「{shown}」。请检查扫描枪的键盘布局或分隔符设置后重新扫描。")
                } else {
                    format!("({ai}) holds a character it may not hold: '{shown}'. Check the scanner's keyboard layout or separator setting and scan again.")
                }
            }
            UdiError::BadLength { ai, length, min, max } => {
                let range = if min == max { min.to_string() } else { format!("{min}–{max}") };
                if zh {
                    format!("({ai}) 的长度是 {length}，应为 {range}。请重新扫描。")
                } else {
                    format!("({ai}) is {length} characters long but must be {range}. Scan again.")
                }
            }
            UdiError::BadCheckDigit { field, expected } => {
                if zh {
                    format!("{field} 的校验位错误（应为 {expected}），条码被误读或印刷有误。请重新扫描，仍失败请手工核对。")
                } else {
                    format!("The check digit of {field} is wrong (it should be {expected}): the barcode was misread or misprinted. Scan again; if it still fails, check the label by hand.")
                }
            }
            UdiError::BadDate { field, value } => {
                if zh {
                    format!("{field} 的日期「{value}」不是有效日期。请重新扫描或手工输入日期。")
                } else {
                    format!("The date '{value}' in {field} is not a calendar date. Scan again or type the date.")
                }
            }
            UdiError::BadValue { ai, value } => {
                if zh {
                    format!("({ai}) 的值「{value}」不在允许的范围内。请重新扫描。")
                } else {
                    format!("The value '{value}' of ({ai}) is not one it may hold. Scan again.")
                }
            }
            UdiError::ConflictingDuplicate { ai } => {
                if zh {
                    format!("条码中 ({ai}) 出现两次且值不同，无法确定哪个正确。请重新扫描。")
                } else {
                    format!("({ai}) appears twice with different values; neither can be trusted. Scan again.")
                }
            }
            UdiError::TooAmbiguous => pick(
                zh,
                "条码缺少分隔符，可能的读法太多。请把扫描枪设置为传送 GS 分隔符，或手工输入。",
                "The barcode's separators were lost and it can be read too many ways. Set the scanner to send the GS separator, or type the data.",
            ),
            UdiError::BadUri { reason } => {
                if zh {
                    format!("这个网址不是有效的 GS1 数字链接（{reason}）。请扫描产品上的其他条码。")
                } else {
                    format!("This web address is not a valid GS1 Digital Link ({reason}). Scan another barcode on the product.")
                }
            }
            UdiError::BadHibc { reason } => {
                if zh {
                    format!("HIBC 条码结构错误（{reason}）。请重新扫描。")
                } else {
                    format!("The HIBC barcode is malformed ({reason}). Scan again.")
                }
            }
            UdiError::BadMa { reason } => {
                if zh {
                    format!("MA 码结构错误（{reason}）。请重新扫描。")
                } else {
                    format!("The MA code is malformed ({reason}). Scan again.")
                }
            }
        }
    }
}

impl std::fmt::Display for UdiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}] {}", self.code(), self.message(Lang::En))
    }
}

impl std::error::Error for UdiError {}

fn pick(zh: bool, chinese: &str, english: &str) -> String {
    if zh { chinese } else { english }.to_string()
}

/// Something the clerk should know about a barcode that was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WarningKind {
    /// A date with DD = 00, read as the last day of its month.
    DayZero { field: String, date: NaiveDate },
    /// A separator was missing; the one valid reading was used.
    SeparatorMissing,
    /// Something stood in for the GS separator and was read as one.
    SeparatorSubstituted { text: String },
    /// Several readings are valid; the clerk chooses.
    Ambiguous { count: usize },
    /// An AI without the AI it needs beside it.
    PairingMissing { ai: String, needs: String },
    /// Two AIs that may not appear together.
    PairingExcluded { ai: String, other: String },
    /// Digital Link qualifiers in an order GS1 does not allow.
    QualifierOrder,
    /// A check character that does not match (MA codes, whose algorithm is not published).
    CheckMismatch { field: String, expected: String },
}

/// A warning with its code and message, as shells show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub kind: WarningKind,
    pub lang: Lang,
}

impl Warning {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self.kind {
            WarningKind::DayZero { .. } => "day_zero",
            WarningKind::SeparatorMissing => "separator_missing",
            WarningKind::SeparatorSubstituted { .. } => "separator_substituted",
            WarningKind::Ambiguous { .. } => "ambiguous",
            WarningKind::PairingMissing { .. } => "pairing_missing",
            WarningKind::PairingExcluded { .. } => "pairing_excluded",
            WarningKind::QualifierOrder => "qualifier_order",
            WarningKind::CheckMismatch { .. } => "check_mismatch",
        }
    }

    /// The message in the warning's language.
    pub fn message(&self) -> String {
        let zh = self.lang == Lang::Zh;
        match &self.kind {
            WarningKind::DayZero { field, date } => {
                if zh {
                    format!("{field} 的日为 00，按当月最后一天 {date} 处理；医疗器械标签不应再使用这种写法，请核对标签。")
                } else {
                    format!("{field} has day 00, read as the month's last day, {date}; medical device labels should no longer use this. Check the label.")
                }
            }
            WarningKind::SeparatorMissing => pick(
                zh,
                "条码缺少分隔符，已按唯一有效的读法识别。请核对批号和序列号，并把扫描枪设置为传送 GS 分隔符。",
                "The barcode's separator was missing; the only valid reading was used. Check lot and serial, and set the scanner to send the GS separator.",
            ),
            WarningKind::SeparatorSubstituted { text } => {
                if zh {
                    format!("「{text}」被当作 GS 分隔符。请把扫描枪设置为传送 GS 分隔符。")
                } else {
                    format!("'{text}' was read as the GS separator. Set the scanner to send the GS separator itself.")
                }
            }
            WarningKind::Ambiguous { count } => {
                if zh {
                    format!("条码缺少分隔符，有 {count} 种有效读法，请选择与标签上文字一致的一种。")
                } else {
                    format!("The barcode's separators were lost and it reads {count} valid ways; choose the one that matches the printed label.")
                }
            }
            WarningKind::PairingMissing { ai, needs } => {
                if zh {
                    format!("({ai}) 应与 ({needs}) 一起出现，但条码中没有。")
                } else {
                    format!("({ai}) should come with ({needs}), which the barcode lacks.")
                }
            }
            WarningKind::PairingExcluded { ai, other } => {
                if zh {
                    format!("({ai}) 不应与 ({other}) 同时出现。")
                } else {
                    format!("({ai}) should not appear together with ({other}).")
                }
            }
            WarningKind::QualifierOrder => pick(
                zh,
                "GS1 数字链接中的限定符顺序不符合规定，已按内容识别。",
                "The GS1 Digital Link's qualifiers are out of order; they were read by their identifiers.",
            ),
            WarningKind::CheckMismatch { field, expected } => {
                if zh {
                    format!("{field} 的校验位与计算值 {expected} 不一致，请核对标签。")
                } else {
                    format!("The check character of {field} differs from the computed {expected}. Check the label.")
                }
            }
        }
    }
}

impl Serialize for Warning {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("Warning", 2)?;
        s.serialize_field("code", self.code())?;
        s.serialize_field("message", &self.message())?;
        s.end()
    }
}
