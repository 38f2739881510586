//! Every refusal the ledger can give: a typed error with a stable `code()`
//! that shells branch on, and a `message(lang)` in the user's language that
//! says what happened and what to do. Shells never match on message text.

use crate::model::Lang;
use chrono::NaiveDate;

/// The ledger's error. Variants are grouped roughly in the order posting checks them.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The database has no node identity yet.
    #[error("database not initialised")]
    NotInitialised,
    /// `init` on a database that already has a node.
    #[error("database already initialised")]
    AlreadyInitialised,
    /// Made by a newer MedLedger.
    #[error("database schema {found} is newer than supported {supported}")]
    DatabaseTooNew { found: i64, supported: i64 },
    /// A field failed validation.
    #[error("invalid {field}: {reason}")]
    InvalidInput { field: &'static str, reason: String },
    /// The acting user does not exist (or is inactive).
    #[error("unknown user {0}")]
    UnknownUser(String),
    /// The role does not allow the action.
    #[error("user {user} ({role}) may not {action}")]
    Forbidden { user: String, role: String, action: &'static str },
    /// No location with that code.
    #[error("unknown location {0}")]
    UnknownLocation(String),
    /// No department with that code.
    #[error("unknown department {0}")]
    UnknownDepartment(String),
    /// No supplier with that code.
    #[error("unknown supplier {0}")]
    UnknownSupplier(String),
    /// No item has that identifier.
    #[error("unknown item {0}")]
    UnknownItem(String),
    /// No document with that id or number.
    #[error("unknown document {0}")]
    UnknownDocument(String),
    /// A master-data code or identifier is already used.
    #[error("{entity} {code} already exists")]
    DuplicateCode { entity: &'static str, code: String },
    /// A document with no lines.
    #[error("document has no lines")]
    EmptyDocument,
    /// More lines than a document may hold.
    #[error("too many lines: {count} > {max}")]
    TooManyLines { count: usize, max: usize },
    /// Quantity zero or negative where a positive one is needed.
    #[error("quantity must be positive, got {quantity}")]
    QuantityNotPositive { quantity: i64 },
    /// Quantity above the per-line limit.
    #[error("quantity {quantity} exceeds the limit {max}")]
    QuantityTooLarge { quantity: i64, max: i64 },
    /// The document kind needs a department.
    #[error("department required")]
    DepartmentRequired,
    /// A transfer needs a destination.
    #[error("destination location required")]
    DestinationRequired,
    /// Transfer source and destination are the same.
    #[error("source and destination are both {0}")]
    SameLocation(String),
    /// Serial-tracked item without a serial.
    #[error("item {item} is serial-tracked: a serial is required")]
    SerialRequired { item: String },
    /// Serial given for an item that is not serial-tracked.
    #[error("item {item} is not serial-tracked")]
    SerialNotTracked { item: String },
    /// A serial line with a quantity other than one.
    #[error("serial {serial} moves one unit at a time, not {quantity}")]
    SerialQuantityNotOne { serial: String, quantity: i64 },
    /// The same serial twice in one document.
    #[error("serial {serial} appears twice")]
    DuplicateSerial { serial: String },
    /// Receiving a serial that is already on hand somewhere.
    #[error("serial {serial} of {item} is already in stock")]
    SerialAlreadyInStock { item: String, serial: String },
    /// The serial is not on hand at the location.
    #[error("serial {serial} of {item} is not in stock at {location}")]
    SerialNotInStock { item: String, serial: String, location: String },
    /// A known lot was given a different expiry.
    #[error("lot {lot} expires on {existing}, not {given}")]
    LotExpiryMismatch { lot: String, existing: NaiveDate, given: NaiveDate },
    /// Production date after expiry.
    #[error("production date {produced} is after expiry {expires}")]
    ProductionAfterExpiry { produced: NaiveDate, expires: NaiveDate },
    /// The lot is unknown for the item.
    #[error("lot {lot} of {item} is unknown")]
    UnknownLot { item: String, lot: String },
    /// The lot is past its expiry date.
    #[error("lot {lot} expired on {expired_on}")]
    LotExpired { lot: String, expired_on: NaiveDate },
    /// Expired stock may not be sent to a department store.
    #[error("lot {lot} expired on {expired_on}; cannot go to a department")]
    ExpiredToDepartment { lot: String, expired_on: NaiveDate },
    /// Not enough available stock.
    #[error("insufficient stock of {item} at {location}: {available} available, {requested} requested")]
    InsufficientStock { item: String, location: String, available: i64, requested: i64 },
    /// The override names someone who is not a manager.
    #[error("override by {user} refused: not a manager")]
    OverrideNotManager { user: String },
    /// An override without a reason.
    #[error("an override needs a reason")]
    OverrideReasonRequired,
    /// The document's movements were already corrected.
    #[error("document {0} was already corrected")]
    AlreadyCorrected(String),
    /// Only posted receipts, issues and transfers can be reversed.
    #[error("document {number} ({kind}) cannot be reversed")]
    NotReversible { number: String, kind: String },
    /// The operation needs a draft.
    #[error("document {0} is not a draft")]
    NotADraft(String),
    /// A movement id already stored with different content.
    #[error("movement {0} conflicts with the stored one")]
    MovementConflict(String),
    /// The stocktake is not taking counts (posted, cancelled, or in review for this key).
    #[error("stocktake {number} is {status}")]
    StocktakeClosed { number: String, status: &'static str },
    /// The scanned item or location is outside the stocktake's scope.
    #[error("{item} at {location} is outside stocktake {number}")]
    OutOfStocktakeScope { number: String, item: String, location: String },
    /// The counter already counted this serial in this round.
    #[error("serial {serial} of {item} already counted")]
    SerialAlreadyCounted { item: String, serial: String },
    /// No such observation (or it was already undone or replaced).
    #[error("no observation {0}")]
    UnknownObservation(String),
    /// Keys with disagreeing counters or pending recounts block posting.
    #[error("stocktake {number}: {keys} keys need a recount")]
    StocktakeNeedsRecount { number: String, keys: usize },
    /// First counts beyond the tolerance need a recount or an explicit acceptance.
    #[error("stocktake {number}: {keys} keys beyond tolerance")]
    StocktakeOverTolerance { number: String, keys: usize },
    /// A scan's device time lies outside the stocktake.
    #[error("scan time outside stocktake {number}")]
    ScanTimeOutsideStocktake { number: String },
    /// A barcode that cannot be read (the engine's reason in both languages).
    #[error("unreadable barcode {data}: {reason_en}")]
    UnreadableBarcode { data: String, reason_zh: String, reason_en: String },
    /// One line of an imported file is wrong; nothing was imported.
    #[error("line {line}: {error}")]
    ImportLine { line: usize, error: Box<LedgerError> },
    /// No printer with that name on this workstation.
    #[error("no printer {0}")]
    UnknownPrinter(String),
    /// No waiting print job with that id.
    #[error("no print job {0}")]
    UnknownPrintJob(String),
    /// A key holding quarantined stock cannot be counted until that is resolved.
    #[error("{item} lot {lot} at {location} has {quantity} quarantined")]
    KeyQuarantined { item: String, lot: String, location: String, quantity: i64 },
    /// No excursion with that id.
    #[error("no excursion {0}")]
    UnknownExcursion(String),
    /// The excursion was already released or scrapped.
    #[error("excursion {0} is already resolved")]
    ExcursionClosed(String),
    /// Issuing a cold-chain item needs a recent in-range reading of its unit.
    #[error("no reading of {location} in the last {minutes} minutes")]
    TemperatureCheckRequired { location: String, minutes: i64 },
    /// The unit's latest reading is out of range.
    #[error("{location} reads {temperature} °C, outside {range} °C")]
    TemperatureOutOfRange { location: String, temperature: String, range: String },
    /// SQLite failed; nothing was written.
    #[error("storage error: {0}")]
    Storage(#[from] rusqlite::Error),
    /// Reading a file failed.
    #[error("file error: {0}")]
    Io(#[from] std::io::Error),
}

/// Short alias used across the crate.
pub type Result<T, E = LedgerError> = std::result::Result<T, E>;

impl LedgerError {
    /// The stable code a shell branches on; never changes once released.
    pub fn code(&self) -> &'static str {
        use LedgerError::*;
        match self {
            NotInitialised => "not_initialised",
            AlreadyInitialised => "already_initialised",
            DatabaseTooNew { .. } => "database_too_new",
            InvalidInput { .. } => "invalid_input",
            UnknownUser(_) => "unknown_user",
            Forbidden { .. } => "forbidden",
            UnknownLocation(_) => "unknown_location",
            UnknownDepartment(_) => "unknown_department",
            UnknownSupplier(_) => "unknown_supplier",
            UnknownItem(_) => "unknown_item",
            UnknownDocument(_) => "unknown_document",
            DuplicateCode { .. } => "duplicate_code",
            EmptyDocument => "empty_document",
            TooManyLines { .. } => "too_many_lines",
            QuantityNotPositive { .. } => "quantity_not_positive",
            QuantityTooLarge { .. } => "quantity_too_large",
            DepartmentRequired => "department_required",
            DestinationRequired => "destination_required",
            SameLocation(_) => "same_location",
            SerialRequired { .. } => "serial_required",
            SerialNotTracked { .. } => "serial_not_tracked",
            SerialQuantityNotOne { .. } => "serial_quantity_not_one",
            DuplicateSerial { .. } => "duplicate_serial",
            SerialAlreadyInStock { .. } => "serial_already_in_stock",
            SerialNotInStock { .. } => "serial_not_in_stock",
            LotExpiryMismatch { .. } => "lot_expiry_mismatch",
            ProductionAfterExpiry { .. } => "production_after_expiry",
            UnknownLot { .. } => "unknown_lot",
            LotExpired { .. } => "lot_expired",
            ExpiredToDepartment { .. } => "expired_to_department",
            InsufficientStock { .. } => "insufficient_stock",
            OverrideNotManager { .. } => "override_not_manager",
            OverrideReasonRequired => "override_reason_required",
            AlreadyCorrected(_) => "already_corrected",
            NotReversible { .. } => "not_reversible",
            NotADraft(_) => "not_a_draft",
            MovementConflict(_) => "movement_conflict",
            StocktakeClosed { .. } => "stocktake_closed",
            OutOfStocktakeScope { .. } => "out_of_stocktake_scope",
            SerialAlreadyCounted { .. } => "serial_already_counted",
            UnknownObservation(_) => "unknown_observation",
            StocktakeNeedsRecount { .. } => "stocktake_needs_recount",
            StocktakeOverTolerance { .. } => "stocktake_over_tolerance",
            ScanTimeOutsideStocktake { .. } => "scan_time_outside_stocktake",
            UnreadableBarcode { .. } => "unreadable_barcode",
            ImportLine { .. } => "import_line",
            UnknownPrinter(_) => "unknown_printer",
            UnknownPrintJob(_) => "unknown_print_job",
            KeyQuarantined { .. } => "key_quarantined",
            UnknownExcursion(_) => "unknown_excursion",
            ExcursionClosed(_) => "excursion_closed",
            TemperatureCheckRequired { .. } => "temperature_check_required",
            TemperatureOutOfRange { .. } => "temperature_out_of_range",
            Storage(_) => "storage",
            Io(_) => "io",
        }
    }

    /// True when the error is the user's input (CLI exit 2), false for a fault of the machine.
    pub fn is_user_error(&self) -> bool {
        !matches!(self, LedgerError::Storage(_) | LedgerError::Io(_))
    }

    /// What happened and what to do, in the user's language.
    pub fn message(&self, lang: Lang) -> String {
        use LedgerError::*;
        let zh = lang == Lang::Zh;
        match self {
            NotInitialised => pick(zh,
                "数据库尚未初始化。请先运行 medledger init --site 站点代码。".into(),
                "The database is not initialised. Run `medledger init --site SITE` first.".into()),
            AlreadyInitialised => pick(zh,
                "该数据库已经初始化，站点身份不能重建。".into(),
                "This database is already initialised; its node identity cannot be made again.".into()),
            DatabaseTooNew { found, supported } => pick(zh,
                format!("数据库版本 {found} 比本程序支持的 {supported} 新。请升级 MedLedger 后再打开。"),
                format!("The database is schema version {found}, newer than this MedLedger supports ({supported}). Upgrade MedLedger to open it.")),
            InvalidInput { field, reason } => pick(zh,
                format!("{field} 无效：{reason}。请更正后重试。"),
                format!("Invalid {field}: {reason}. Correct it and try again.")),
            UnknownUser(u) => pick(zh,
                format!("没有用户 {u}。请选择已登记的用户。"),
                format!("There is no user {u}. Choose a registered user.")),
            Forbidden { user, role, action } => pick(zh,
                format!("用户 {user}（{}）无权{}。请由有权限的人员操作。", role_zh(role), action_zh(action)),
                format!("User {user} ({role}) may not {}. Ask someone with that permission.", action.replace('_', " "))),
            UnknownLocation(c) => pick(zh,
                format!("没有库位 {c}。请检查库位代码。"),
                format!("There is no location {c}. Check the location code.")),
            UnknownDepartment(c) => pick(zh,
                format!("没有科室 {c}。请检查科室代码。"),
                format!("There is no department {c}. Check the department code.")),
            UnknownSupplier(c) => pick(zh,
                format!("没有供应商 {c}。请先登记该供应商。"),
                format!("There is no supplier {c}. Register the supplier first.")),
            UnknownItem(c) => pick(zh,
                format!("没有编码为 {c} 的品规。请检查编码，或先新建该品规。"),
                format!("No item has the code {c}. Check the code or create the item first.")),
            UnknownDocument(c) => pick(zh,
                format!("没有单据 {c}。"),
                format!("There is no document {c}.")),
            DuplicateCode { entity, code } => pick(zh,
                format!("{}代码 {code} 已存在。请换一个代码。", entity_zh(entity)),
                format!("The {entity} code {code} already exists. Use another code.")),
            EmptyDocument => pick(zh,
                "单据没有明细行。请至少添加一行。".into(),
                "The document has no lines. Add at least one line.".into()),
            TooManyLines { count, max } => pick(zh,
                format!("单据有 {count} 行，超过上限 {max} 行。请拆分为多张单据。"),
                format!("The document has {count} lines, more than the limit of {max}. Split it into several documents.")),
            QuantityNotPositive { quantity } => pick(zh,
                format!("数量必须大于零（现为 {quantity}）。"),
                format!("The quantity must be greater than zero (got {quantity}).")),
            QuantityTooLarge { quantity, max } => pick(zh,
                format!("数量 {quantity} 超过单行上限 {max}。请核对数量。"),
                format!("The quantity {quantity} exceeds the per-line limit of {max}. Check the quantity.")),
            DepartmentRequired => pick(zh,
                "出库必须选择领用科室。".into(),
                "An issue needs the receiving department. Choose one.".into()),
            DestinationRequired => pick(zh,
                "调拨必须选择目标库位。".into(),
                "A transfer needs a destination location. Choose one.".into()),
            SameLocation(c) => pick(zh,
                format!("调出和调入库位都是 {c}。请选择不同的目标库位。"),
                format!("Source and destination are both {c}. Choose a different destination.")),
            SerialRequired { item } => pick(zh,
                format!("{item} 按序列号管理，必须逐个扫描或填写序列号。"),
                format!("{item} is serial-tracked: scan or enter the serial of each unit.")),
            SerialNotTracked { item } => pick(zh,
                format!("{item} 不按序列号管理，请去掉序列号。"),
                format!("{item} is not serial-tracked; leave the serial empty.")),
            SerialQuantityNotOne { serial, quantity } => pick(zh,
                format!("序列号 {serial} 每次只能移动 1 件，不能是 {quantity}。"),
                format!("Serial {serial} moves one unit at a time, not {quantity}.")),
            DuplicateSerial { serial } => pick(zh,
                format!("序列号 {serial} 在单据中出现两次。请删除重复行。"),
                format!("Serial {serial} appears twice in the document. Remove the duplicate line.")),
            SerialAlreadyInStock { item, serial } => pick(zh,
                format!("{item} 的序列号 {serial} 已在库存中，不能重复入库。请核对序列号。"),
                format!("Serial {serial} of {item} is already in stock and cannot be received again. Check the serial.")),
            SerialNotInStock { item, serial, location } => pick(zh,
                format!("{location} 没有 {item} 序列号 {serial} 的可用库存。请核对序列号和库位。"),
                format!("Serial {serial} of {item} is not available at {location}. Check the serial and the location.")),
            LotExpiryMismatch { lot, existing, given } => pick(zh,
                format!("批号 {lot} 已登记的效期是 {existing}，不是 {given}。请核对标签。"),
                format!("Lot {lot} is recorded as expiring on {existing}, not {given}. Check the label.")),
            ProductionAfterExpiry { produced, expires } => pick(zh,
                format!("生产日期 {produced} 晚于有效期 {expires}。请核对标签。"),
                format!("The production date {produced} is after the expiry {expires}. Check the label.")),
            UnknownLot { item, lot } => pick(zh,
                format!("{item} 没有批号 {lot}。请核对批号。"),
                format!("{item} has no lot {lot}. Check the lot number.")),
            LotExpired { lot, expired_on } => pick(zh,
                format!("批号 {lot} 已于 {expired_on} 过期，不能使用。请报废或退回供应商。"),
                format!("Lot {lot} expired on {expired_on} — it cannot be issued. Scrap it or return it to the supplier.")),
            ExpiredToDepartment { lot, expired_on } => pick(zh,
                format!("批号 {lot} 已于 {expired_on} 过期，不能调往科室。请报废或退回供应商。"),
                format!("Lot {lot} expired on {expired_on} and cannot go to a department. Scrap it or return it to the supplier.")),
            InsufficientStock { item, location, available, requested } => pick(zh,
                format!("{location} 的 {item} 可用库存只有 {available}，不足 {requested}。请减少数量，或由主管批准紧急出库并填写原因。"),
                format!("Only {available} of {item} available at {location}, {requested} requested. Lower the quantity, or have a manager approve an emergency issue with a reason.")),
            OverrideNotManager { user } => pick(zh,
                format!("{user} 不是主管，不能批准超库存出库。"),
                format!("{user} is not a manager and cannot approve going beyond stock.")),
            OverrideReasonRequired => pick(zh,
                "主管批准必须填写原因。".into(),
                "A manager's approval needs a reason.".into()),
            AlreadyCorrected(n) => pick(zh,
                format!("单据 {n} 已经冲正过，不能再次冲正。"),
                format!("Document {n} has already been corrected; it cannot be corrected twice.")),
            NotReversible { number, kind } => pick(zh,
                format!("单据 {number}（{kind}）不能冲正。盘点请重新盘点。"),
                format!("Document {number} ({kind}) cannot be reversed. For a count, count again.")),
            NotADraft(n) => pick(zh,
                format!("单据 {n} 不是草稿，不能修改或过账。"),
                format!("Document {n} is not a draft; it cannot be edited or posted.")),
            MovementConflict(id) => pick(zh,
                format!("变动 {id} 与已有记录内容不同，未应用。请主管在同步界面核对。"),
                format!("Movement {id} differs from the stored one and was not applied. A manager should review it on the sync screen.")),
            StocktakeClosed { number, status } => pick(zh,
                format!("盘点单 {number} {}，不再接受计数。", match *status { "posted" => "已过账", "cancelled" => "已作废", _ => "正在审核（只接受复盘的品规）" }),
                format!("Stocktake {number} is {status} and takes no more counts{}.", if *status == "review" { " except for keys sent for a recount" } else { "" })),
            OutOfStocktakeScope { number, item, location } => pick(zh,
                format!("{location} 的 {item} 不在盘点单 {number} 的范围内。请核对库位，或另开盘点单。"),
                format!("{item} at {location} is outside stocktake {number}. Check the location or start another stocktake.")),
            SerialAlreadyCounted { item, serial } => pick(zh,
                format!("{item} 序列号 {serial} 已经计过数，没有重复计入。"),
                format!("Serial {serial} of {item} is already counted; it was not counted twice.")),
            UnknownObservation(id) => pick(zh,
                format!("没有可修改的计数记录 {id}（可能已撤销）。"),
                format!("There is no count {id} to change (it may have been undone).")),
            StocktakeNeedsRecount { number, keys } => pick(zh,
                format!("盘点单 {number} 有 {keys} 个品规需要复盘（盘点人结果不一致、复盘未完成，或同一序列号在两处盘到）。请复盘后再过账。"),
                format!("Stocktake {number} has {keys} keys that need a recount (counters disagree, a recount is pending, or one serial was counted in two places). Recount them, then post.")),
            StocktakeOverTolerance { number, keys } => pick(zh,
                format!("盘点单 {number} 有 {keys} 个品规差异超出允差。请复盘，或确认接受差异后过账。"),
                format!("Stocktake {number} has {keys} keys whose difference exceeds the tolerance. Recount them, or accept the differences when posting.")),
            ScanTimeOutsideStocktake { number } => pick(zh,
                format!("扫描时间不在盘点单 {number} 的进行时间内。请检查扫描枪的时钟。"),
                format!("The scan time is outside stocktake {number}. Check the scanner's clock.")),
            UnreadableBarcode { data, reason_zh, reason_en } => pick(zh,
                format!("无法识别条码 {data}：{reason_zh}"),
                format!("Cannot read the barcode {data}: {reason_en}")),
            ImportLine { line, error } => pick(zh,
                format!("第 {line} 行：{} 文件未导入任何数据。", error.message(lang)),
                format!("Line {line}: {} Nothing from the file was imported.", error.message(lang))),
            UnknownPrinter(name) => pick(zh,
                format!("本工作站没有打印机 {name}。请先在设置中添加。"),
                format!("This workstation has no printer {name}. Add it in the settings first.")),
            UnknownPrintJob(id) => pick(zh,
                format!("没有等待中的打印任务 {id}（可能已打印或已取消）。"),
                format!("There is no waiting print job {id} (it may have been printed or cancelled).")),
            KeyQuarantined { item, lot, location, quantity } => pick(zh,
                format!("{location} 的 {item} 批号 {lot} 有 {quantity} 件处于隔离状态，不能盘点。请先处理温度超标或召回。"),
                format!("{item} lot {lot} at {location} has {quantity} in quarantine and cannot be counted. Resolve the excursion or recall first.")),
            UnknownExcursion(id) => pick(zh,
                format!("没有温度超标记录 {id}。"),
                format!("There is no excursion {id}.")),
            ExcursionClosed(id) => pick(zh,
                format!("温度超标 {id} 已处理，不能再次处理。"),
                format!("Excursion {id} has already been resolved.")),
            TemperatureCheckRequired { location, minutes } => pick(zh,
                format!("{location} 最近 {minutes} 分钟没有温度记录。出库冷链品前请测量温度并登记。"),
                format!("{location} has no temperature reading in the last {minutes} minutes. Measure the temperature and record it before issuing cold-chain items.")),
            TemperatureOutOfRange { location, temperature, range } => pick(zh,
                format!("{location} 当前温度 {temperature} °C，超出 {range} °C，冷链品不能出库。请通知主管。"),
                format!("{location} reads {temperature} °C, outside {range} °C: cold-chain items cannot be issued. Tell a manager.")),
            Storage(e) => pick(zh,
                format!("数据库错误，未写入任何数据：{e}。请重试；如反复出现请联系信息科。"),
                format!("Database error, nothing was written: {e}. Try again; if it persists, call hospital IT.")),
            Io(e) => pick(zh,
                format!("读取文件失败：{e}。"),
                format!("Could not read the file: {e}.")),
        }
    }
}

fn pick(zh: bool, zh_text: String, en_text: String) -> String {
    if zh {
        zh_text
    } else {
        en_text
    }
}

fn role_zh(role: &str) -> &'static str {
    match role {
        "clerk" => "库管员",
        "stocktaker" => "盘点员",
        "department" => "科室用户",
        "manager" => "主管",
        "purchasing" => "采购",
        "auditor" => "审计",
        "admin" => "管理员",
        _ => "未知角色",
    }
}

fn action_zh(action: &str) -> &'static str {
    match action {
        "receive" => "入库",
        "issue" => "出库",
        "transfer" => "调拨",
        "count" => "盘点",
        "correct" => "冲正",
        "override" => "批准超库存出库",
        "edit_master_data" => "修改基础数据",
        "review_stocktake" => "审核盘点",
        "print" => "打印",
        "release_quarantine" => "解除隔离",
        _ => "执行此操作",
    }
}

fn entity_zh(entity: &str) -> &'static str {
    match entity {
        "item" => "品规",
        "identifier" => "品规标识",
        "location" => "库位",
        "department" => "科室",
        "supplier" => "供应商",
        "user" => "用户",
        _ => "",
    }
}
