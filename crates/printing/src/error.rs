//! Why a label, a document or a print job could not be made or sent: each
//! refusal a variant with a stable `code()` that shells and the job queue
//! branch on, and a `message(lang)` in Chinese or English that says what to do.
//! Variants come roughly in the order the checks run: the data, the layout,
//! the font, then the way to the printer.

use crate::Lang;

/// A printing error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("[{}] {}", self.code(), self.message(Lang::En))]
pub enum PrintError {
    /// A job with nothing to print.
    NoLabels,
    /// More labels than one job may hold.
    TooManyLabels { count: usize, max: usize },
    /// More lines than one document may hold.
    TooManyLines { count: usize, max: usize },
    /// More entries in a list (parties, signatures) than a document may show.
    TooManyEntries { field: &'static str, count: usize, max: usize },
    /// A field that must be given is missing or empty.
    MissingField { field: &'static str },
    /// A field that this kind of label or document does not carry.
    UnexpectedField { field: &'static str },
    /// Text longer than its field allows.
    TextTooLong { field: &'static str, length: usize, max: usize },
    /// Text with a control character (which a printer would take for a command).
    ControlCharacter { field: &'static str },
    /// A code that may only hold printable ASCII (document numbers, bin codes).
    BadCode { field: &'static str, value: String },
    /// Not a GTIN: wrong length, not digits, or a wrong check digit.
    BadGtin { value: String },
    /// The barcode engine refused the label's GS1 data (a lot with a character GS1 forbids, a bad date …).
    BadBarcodeData { code: &'static str, message_zh: String, message_en: String },
    /// A quantity outside what a label or line may show.
    BadQuantity { field: &'static str, quantity: i64, max: i64 },
    /// A money amount that overflows.
    AmountOverflow,
    /// A printer profile value outside what printers take.
    BadProfile { field: &'static str, value: String },
    /// The label is too small for its barcode at a scannable module size.
    LabelTooSmall { symbol: &'static str, needed_mm: u32, width_mm: u32 },
    /// The printer's language cannot print this output (a label on a receipt printer …).
    UnsupportedOutput { language: &'static str, output: &'static str },
    /// No openly licensed CJK font was found on this machine.
    FontNotFound { searched: Vec<String> },
    /// A font file that cannot be read or is not a font.
    FontUnreadable { path: String, reason: String },
    /// The PDF or PNG writer failed.
    RenderFailed { output: &'static str, reason: String },
    /// A printer address that is not `tcp://HOST:PORT`, `cups://QUEUE` or `serial://PORT?baud=N`.
    BadUri { uri: String, reason: String },
    /// The job is larger than a printer connection may be sent.
    JobTooLarge { bytes: usize, max: usize },
    /// Nothing listens at the printer's address (it is off, or the port is wrong).
    PrinterRefused { address: String },
    /// The printer did not answer in time.
    PrinterTimeout { address: String },
    /// The printer could not be reached or the connection broke.
    PrinterUnreachable { address: String, reason: String },
    /// CUPS's `lp` command is not installed.
    CupsUnavailable,
    /// CUPS refused the job (unknown queue, queue disabled …).
    CupsRejected { queue: String, reason: String },
    /// The serial port could not be opened.
    SerialOpenFailed { port: String, reason: String },
    /// Writing to the serial port failed or timed out.
    SerialWriteFailed { port: String, reason: String },
}

impl PrintError {
    /// The stable code shells and the job queue branch on.
    pub fn code(&self) -> &'static str {
        use PrintError::*;
        match self {
            NoLabels => "no_labels",
            TooManyLabels { .. } => "too_many_labels",
            TooManyLines { .. } => "too_many_lines",
            TooManyEntries { .. } => "too_many_entries",
            MissingField { .. } => "missing_field",
            UnexpectedField { .. } => "unexpected_field",
            TextTooLong { .. } => "text_too_long",
            ControlCharacter { .. } => "control_character",
            BadCode { .. } => "bad_code",
            BadGtin { .. } => "bad_gtin",
            BadBarcodeData { .. } => "bad_barcode_data",
            BadQuantity { .. } => "bad_quantity",
            AmountOverflow => "amount_overflow",
            BadProfile { .. } => "bad_profile",
            LabelTooSmall { .. } => "label_too_small",
            UnsupportedOutput { .. } => "unsupported_output",
            FontNotFound { .. } => "font_not_found",
            FontUnreadable { .. } => "font_unreadable",
            RenderFailed { .. } => "render_failed",
            BadUri { .. } => "bad_printer_uri",
            JobTooLarge { .. } => "job_too_large",
            PrinterRefused { .. } => "printer_refused",
            PrinterTimeout { .. } => "printer_timeout",
            PrinterUnreachable { .. } => "printer_unreachable",
            CupsUnavailable => "cups_unavailable",
            CupsRejected { .. } => "cups_rejected",
            SerialOpenFailed { .. } => "serial_open_failed",
            SerialWriteFailed { .. } => "serial_write_failed",
        }
    }

    /// Whether the data or settings were wrong (the user can fix them), as
    /// opposed to a printer, a font or the machine failing. A queued job that
    /// failed with a user error will fail the same way when retried.
    pub fn is_user_error(&self) -> bool {
        use PrintError::*;
        !matches!(
            self,
            FontNotFound { .. }
                | FontUnreadable { .. }
                | RenderFailed { .. }
                | PrinterRefused { .. }
                | PrinterTimeout { .. }
                | PrinterUnreachable { .. }
                | CupsUnavailable
                | CupsRejected { .. }
                | SerialOpenFailed { .. }
                | SerialWriteFailed { .. }
        )
    }

    /// What happened and what to do, in the user's language.
    pub fn message(&self, lang: Lang) -> String {
        use PrintError::*;
        let zh = lang == Lang::Zh;
        let s = |chinese: String, english: String| if zh { chinese } else { english };
        match self {
            NoLabels => s("没有要打印的标签。".into(), "There are no labels to print.".into()),
            TooManyLabels { count, max } => s(
                format!("一次最多打印 {max} 张标签，本次有 {count} 张。请分批打印。"),
                format!("A job holds at most {max} labels; this one has {count}. Print them in batches."),
            ),
            TooManyLines { count, max } => s(
                format!("单据最多打印 {max} 行，本单有 {count} 行。"),
                format!("A document prints at most {max} lines; this one has {count}."),
            ),
            TooManyEntries { field, count, max } => s(
                format!("{} 最多 {max} 项，现有 {count} 项。", field_zh(field)),
                format!("{} holds at most {max} entries; there are {count}.", field_en(field)),
            ),
            MissingField { field } => s(
                format!("缺少{}，无法打印。", field_zh(field)),
                format!("The {} is missing; nothing was printed.", field_en(field)),
            ),
            UnexpectedField { field } => s(
                format!("这种标签或单据不含{}，请去掉后再打印。", field_zh(field)),
                format!("This kind of label or document carries no {}; leave it out.", field_en(field)),
            ),
            TextTooLong { field, length, max } => s(
                format!("{}过长（{length} 个字符，最多 {max}）。请缩短后再打印。", field_zh(field)),
                format!("The {} is too long ({length} characters, at most {max}). Shorten it.", field_en(field)),
            ),
            ControlCharacter { field } => s(
                format!("{}中含有控制字符，打印机会把它当作指令。请删除后再打印。", field_zh(field)),
                format!(
                    "The {} holds a control character, which a printer would take for a command. Remove it.",
                    field_en(field)
                ),
            ),
            BadCode { field, value } => s(
                format!("{}「{value}」只能包含字母、数字和 - _ . /，最多 40 个字符。", field_zh(field)),
                format!(
                    "The {} '{value}' may only hold letters, digits and - _ . /, at most 40 characters.",
                    field_en(field)
                ),
            ),
            BadGtin { value } => s(
                format!("「{value}」不是有效的 GTIN（8、12、13 或 14 位数字，校验位正确）。请核对产品条码。"),
                format!(
                    "'{value}' is not a valid GTIN (8, 12, 13 or 14 digits with a correct check digit). Check the product's code."
                ),
            ),
            BadBarcodeData { message_zh, message_en, .. } => s(
                format!("标签数据不能编成 GS1 条码：{message_zh}"),
                format!("The label's data cannot be encoded as a GS1 barcode: {message_en}"),
            ),
            BadQuantity { field, quantity, max } => s(
                format!("{}「{quantity}」超出范围（绝对值最多 {max}）。", field_zh(field)),
                format!("The {} {quantity} is out of range (at most {max} either way).", field_en(field)),
            ),
            AmountOverflow => s(
                "金额过大，无法计算。请核对单价和数量。".into(),
                "An amount is too large to compute. Check the unit costs and quantities.".into(),
            ),
            BadProfile { field, value } => s(
                format!("打印机设置中的{}「{value}」无效。", field_zh(field)),
                format!("The printer setting {} '{value}' is not valid.", field_en(field)),
            ),
            LabelTooSmall { symbol, needed_mm, width_mm } => s(
                format!(
                    "标签太小：{symbol} 条码需要约 {needed_mm} 毫米，可用宽度只有 {width_mm} 毫米。请换用更大的标签，或改用 DataMatrix。"
                ),
                format!(
                    "The label is too small: the {symbol} needs about {needed_mm} mm and only {width_mm} mm are free. Use a larger label or a DataMatrix."
                ),
            ),
            UnsupportedOutput { language, output } => s(
                format!("{language} 打印机不能打印{}。请选择其他打印机。", output_zh(output)),
                format!("A {language} printer cannot print {output}. Choose another printer."),
            ),
            FontNotFound { searched } => s(
                format!(
                    "找不到中文字体（Noto Sans CJK 等开源字体），无法生成 PDF。请安装 fonts-noto-cjk，或用 MEDLEDGER_CJK_FONT 指定字体文件。已查找：{}",
                    searched.join("，")
                ),
                format!(
                    "No CJK font (Noto Sans CJK or another open one) was found, so no PDF can be made. Install fonts-noto-cjk or name a font file in MEDLEDGER_CJK_FONT. Looked in: {}",
                    searched.join(", ")
                ),
            ),
            FontUnreadable { path, reason } => s(
                format!("字体文件 {path} 无法读取（{reason}）。"),
                format!("The font file {path} cannot be read ({reason})."),
            ),
            RenderFailed { output, reason } => s(
                format!("生成 {output} 失败：{reason}"),
                format!("Making the {output} failed: {reason}"),
            ),
            BadUri { uri, reason } => s(
                format!(
                    "打印机地址「{uri}」无效（{reason}）。格式：tcp://主机:9100、cups://队列名 或 serial:///dev/ttyUSB0?baud=9600。"
                ),
                format!(
                    "The printer address '{uri}' is not valid ({reason}). Use tcp://HOST:9100, cups://QUEUE or serial:///dev/ttyUSB0?baud=9600."
                ),
            ),
            JobTooLarge { bytes, max } => s(
                format!("打印任务过大（{bytes} 字节，最多 {max}）。请分批打印。"),
                format!("The print job is too large ({bytes} bytes, at most {max}). Print it in batches."),
            ),
            PrinterRefused { address } => s(
                format!("打印机 {address} 拒绝连接：打印机可能未开机，或端口不对。任务已保留，可稍后重试。"),
                format!(
                    "The printer at {address} refused the connection: it may be off, or the port is wrong. The job is kept; retry later."
                ),
            ),
            PrinterTimeout { address } => s(
                format!("打印机 {address} 没有及时响应。请检查网络和打印机，任务已保留，可稍后重试。"),
                format!(
                    "The printer at {address} did not answer in time. Check the network and the printer; the job is kept for a retry."
                ),
            ),
            PrinterUnreachable { address, reason } => s(
                format!("无法连接打印机 {address}（{reason}）。任务已保留，可稍后重试。"),
                format!("The printer at {address} cannot be reached ({reason}). The job is kept; retry later."),
            ),
            CupsUnavailable => s(
                "本机没有安装 CUPS 的 lp 命令，无法使用系统打印队列。请安装 cups-client 或改用 tcp:// 地址。".into(),
                "CUPS's lp command is not installed, so the system print queue cannot be used. Install cups-client or use a tcp:// address.".into(),
            ),
            CupsRejected { queue, reason } => s(
                format!("系统打印队列 {queue} 拒绝了任务（{reason}）。请检查队列名和打印机状态。"),
                format!("The print queue {queue} refused the job ({reason}). Check the queue name and the printer."),
            ),
            SerialOpenFailed { port, reason } => s(
                format!("无法打开串口 {port}（{reason}）。请检查连接线和端口名。"),
                format!("The serial port {port} cannot be opened ({reason}). Check the cable and the port name."),
            ),
            SerialWriteFailed { port, reason } => s(
                format!("向串口 {port} 发送失败（{reason}）。请检查打印机和波特率，任务已保留。"),
                format!("Sending to the serial port {port} failed ({reason}). Check the printer and baud rate; the job is kept."),
            ),
        }
    }

    pub(crate) fn from_udi(error: &udi::UdiError) -> PrintError {
        PrintError::BadBarcodeData {
            code: error.code(),
            message_zh: error.message(Lang::Zh),
            message_en: error.message(Lang::En),
        }
    }
}

/// Field names as the Chinese messages say them.
fn field_zh(field: &str) -> &str {
    match field {
        "name" => "品名",
        "specification" => "规格型号",
        "lot" => "批号",
        "serial" => "序列号",
        "identifier" => "产品标识（GTIN 或内部码）",
        "internal_code" => "内部码",
        "location" => "货位",
        "unit" => "单位",
        "quantity" => "数量",
        "expected_quantity" => "账面数量",
        "hospital" => "医院名称",
        "number" => "单号",
        "note" => "备注",
        "parties" => "往来单位",
        "party" => "往来单位名称",
        "signatures" => "签字栏",
        "signature" => "签字栏名称",
        "lines" => "明细行",
        "item" => "品名",
        "code" => "产品编码",
        "label_width_mm" => "标签宽度",
        "label_height_mm" => "标签高度",
        "font" => "打印机字体",
        "expiry" => "有效期",
        other => other,
    }
}

/// Field names as the English messages say them.
fn field_en(field: &str) -> &str {
    match field {
        "name" | "item" => "item name",
        "identifier" => "device identifier (GTIN or internal code)",
        "internal_code" => "internal code",
        "location" => "location or bin code",
        "expected_quantity" => "book quantity",
        "hospital" => "hospital name",
        "number" => "document number",
        "parties" => "list of parties",
        "party" => "party name",
        "signatures" => "list of signature lines",
        "signature" => "signature caption",
        "lines" => "list of lines",
        "code" => "product code",
        "label_width_mm" => "label width",
        "label_height_mm" => "label height",
        "font" => "printer font",
        "expiry" => "expiry date",
        other => other,
    }
}

fn output_zh(output: &str) -> &str {
    match output {
        "labels" => "标签",
        "documents" => "单据",
        other => other,
    }
}
