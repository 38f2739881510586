//! Domain types shared by the store, the CLI and the desktop app: the closed
//! sets (roles, kinds, statuses) and the read models ("views") the ledger returns.
//!
//! Views are plain serialisable data with codes and names already joined in,
//! so a shell (CLI or Tauri) can print or send them without touching SQL.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[cfg(feature = "ts")]
use ts_rs::TS;

/// Declares a closed set stored as lowercase text, with parsing and display.
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "ts", derive(TS))]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The stored (and wire) spelling.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
            /// Parses the stored spelling.
            pub fn parse(text: &str) -> Option<$name> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.pad(self.as_str())
            }
        }
    };
}

text_enum!(
    /// What a local user may do is decided by the role, in the core.
    Role {
        Clerk = "clerk",
        Stocktaker = "stocktaker",
        Department = "department",
        Manager = "manager",
        Purchasing = "purchasing",
        Auditor = "auditor",
        Admin = "admin",
    }
);

text_enum!(
    /// A user's language for screens, messages and printouts.
    Lang { Zh = "zh", En = "en" }
);

text_enum!(
    /// What a location is.
    LocationKind { Storeroom = "storeroom", Department = "department", Cold = "cold" }
);

text_enum!(
    /// Whether stock may be used.
    StockStatus { Available = "available", Quarantined = "quarantined" }
);

text_enum!(
    /// The kinds of immutable stock movement.
    MovementKind {
        Receive = "receive",
        Issue = "issue",
        TransferOut = "transfer_out",
        TransferIn = "transfer_in",
        ReturnFromDepartment = "return_from_department",
        ReturnToSupplier = "return_to_supplier",
        Adjust = "adjust",
        /// Sets the key's balance to `quantity` as of the movement's HLC.
        Count = "count",
        Quarantine = "quarantine",
        Release = "release",
        Scrap = "scrap",
        Consume = "consume",
    }
);

text_enum!(
    /// The kinds of document; each posts its movements in one transaction.
    DocumentKind {
        Receipt = "receipt",
        Issue = "issue",
        Transfer = "transfer",
        Stocktake = "stocktake",
        Correction = "correction",
        Return = "return",
        Scrap = "scrap",
        Recall = "recall",
    }
);

text_enum!(
    /// A document's life: drafts are editable, posted and cancelled ones are frozen.
    DocumentStatus { Draft = "draft", Posted = "posted", Cancelled = "cancelled" }
);

text_enum!(
    /// How an item identifier is written.
    IdentifierScheme { Gtin = "gtin", Hibc = "hibc", Ma = "ma", Internal = "internal" }
);

/// Something a user does that the role must allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Receive deliveries into stock.
    Receive,
    /// Issue stock to departments.
    Issue,
    /// Move stock between locations.
    Transfer,
    /// Count stock.
    Count,
    /// Post compensating movements.
    Correct,
    /// Allow an issue beyond on-hand stock.
    Override,
    /// Change master data (items, locations, suppliers, departments, users).
    EditMasterData,
    /// See a blind stocktake's expected quantities, ask for recounts, post or cancel a stocktake.
    ReviewStocktake,
    /// Print documents and labels, retry or cancel print jobs (every role: printing only reads).
    Print,
    /// Release (or scrap) stock a temperature excursion quarantined.
    ReleaseQuarantine,
}

impl Action {
    /// The stable name used in error codes and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Receive => "receive",
            Action::Issue => "issue",
            Action::Transfer => "transfer",
            Action::Count => "count",
            Action::Correct => "correct",
            Action::Override => "override",
            Action::EditMasterData => "edit_master_data",
            Action::ReviewStocktake => "review_stocktake",
            Action::Print => "print",
            Action::ReleaseQuarantine => "release_quarantine",
        }
    }
}

impl Role {
    /// The permission matrix. Auditors read only; department users request
    /// and receive through the storeroom, they do not move central stock.
    pub fn allows(self, action: Action) -> bool {
        use Action::*;
        if action == Print {
            return true;
        }
        match self {
            Role::Admin => true,
            Role::Manager => true,
            Role::Clerk => matches!(action, Receive | Issue | Transfer | Count | Correct),
            Role::Stocktaker => matches!(action, Count),
            Role::Purchasing => matches!(action, Receive | EditMasterData),
            Role::Department => false,
            Role::Auditor => false,
        }
    }
}

/// This workstation's identity.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct NodeInfo {
    /// UUID made at `init`.
    pub id: String,
    /// Short site code used in document numbers.
    pub site_code: String,
    /// Human name of the workstation.
    pub name: String,
}

/// A local user.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct UserView {
    /// Login name.
    pub username: String,
    /// Name shown on screens and signatures.
    pub display_name: String,
    /// What the user may do.
    pub role: Role,
    /// Preferred language.
    pub language: Lang,
}

/// A supplier.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct SupplierView {
    /// Short code.
    pub code: String,
    /// Chinese name.
    pub name: String,
    /// English name.
    pub name_en: String,
}

/// A department (科室).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct DepartmentView {
    /// Short code.
    pub code: String,
    /// Chinese name.
    pub name: String,
    /// English name.
    pub name_en: String,
    /// Cost centre.
    pub cost_centre: String,
    /// Monthly budget in CNY, as a decimal string.
    pub monthly_budget: Option<String>,
}

/// A storage location.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct LocationView {
    /// Short code.
    pub code: String,
    /// Chinese name.
    pub name: String,
    /// English name.
    pub name_en: String,
    /// Storeroom, department store or cold unit.
    pub kind: LocationKind,
    /// The department a sub-store belongs to.
    pub department: Option<String>,
    /// Lowest allowed temperature, °C (decimal string).
    pub min_temp_c: Option<String>,
    /// Highest allowed temperature, °C (decimal string).
    pub max_temp_c: Option<String>,
}

/// A catalogue item.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct ItemView {
    /// UUID.
    pub id: String,
    /// Primary identifier (usually the GTIN).
    pub code: String,
    /// The GTIN, when the item has one.
    pub gtin: Option<String>,
    /// Every identifier the item is known by.
    pub identifiers: Vec<String>,
    /// Chinese name.
    pub name: String,
    /// English name.
    pub name_en: String,
    /// Specification / model (规格型号).
    pub specification: String,
    /// Manufacturer.
    pub manufacturer: String,
    /// NMPA registration certificate number.
    pub registration_no: String,
    /// Risk class I, II, III (or empty).
    pub risk_class: String,
    /// Category slug.
    pub category: String,
    /// Base unit.
    pub unit: String,
    /// Base units per box.
    pub pack_size: i64,
    /// Moves one serial at a time.
    pub serialized: bool,
    /// Implantable device.
    pub implantable: bool,
    /// Needs cold chain.
    pub cold_chain: bool,
    /// Storage minimum, °C.
    pub min_temp_c: Option<String>,
    /// Storage maximum, °C.
    pub max_temp_c: Option<String>,
    /// Unit price, CNY decimal string.
    pub unit_price: Option<String>,
    /// Default supplier code.
    pub default_supplier: Option<String>,
    /// Reorder point in base units.
    pub reorder_point: i64,
}

/// What the stock list says about an item: one record shared (`Arc`) by
/// every row of the item, so a list of 100,000 keys builds and drops two
/// references per row, not one per text.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct StockItem {
    /// Item UUID.
    #[serde(rename = "item")]
    pub id: String,
    /// Item primary code.
    pub code: String,
    /// GTIN, when the item has one.
    pub gtin: Option<String>,
    /// Chinese name.
    pub name: String,
    /// English name.
    pub name_en: String,
    /// Base unit.
    pub unit: String,
}

/// What the stock list says about a location, shared like [`StockItem`].
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct StockPlace {
    /// Location code.
    #[serde(rename = "location")]
    pub code: String,
    /// Location Chinese name.
    #[serde(rename = "location_name")]
    pub name: String,
    /// Location English name.
    #[serde(rename = "location_name_en")]
    pub name_en: String,
}

/// One row of the stock list: a balance key and its quantity. On the wire
/// the item's and the location's fields sit in the row itself (flattened).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct StockRow {
    /// The item (shared by its rows).
    #[serde(flatten)]
    #[cfg_attr(feature = "ts", ts(flatten))]
    pub item: Arc<StockItem>,
    /// Lot number, or null.
    pub lot: Option<String>,
    /// Expiry date of the lot.
    #[cfg_attr(feature = "ts", ts(type = "string | null"))]
    pub expiry: Option<NaiveDate>,
    /// Serial number, or null.
    pub serial: Option<String>,
    /// The location (shared by its rows).
    #[serde(flatten)]
    #[cfg_attr(feature = "ts", ts(flatten))]
    pub location: Arc<StockPlace>,
    /// Available or quarantined.
    pub status: StockStatus,
    /// On-hand quantity in base units.
    pub quantity: i64,
}

/// One movement, joined with readable codes.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct MovementView {
    /// UUIDv7.
    pub id: String,
    /// HLC as an integer (physical ms << 16 | counter).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub hlc: i64,
    /// Wall time at the recording node, RFC 3339.
    pub recorded_at: String,
    /// Recording node UUID.
    pub node: String,
    /// Username.
    pub user: String,
    /// Movement kind.
    pub kind: MovementKind,
    /// Item primary code.
    pub item: String,
    /// Item Chinese name.
    pub item_name: String,
    /// Item English name.
    pub item_name_en: String,
    /// Lot number, or null.
    pub lot: Option<String>,
    /// Serial, or null.
    pub serial: Option<String>,
    /// Location code.
    pub location: String,
    /// Stock status of the key.
    pub status: StockStatus,
    /// Signed change; for a count, the counted quantity.
    pub quantity: i64,
    /// For a count: what this station knew at count time.
    pub expected_quantity: Option<i64>,
    /// Unit cost, decimal string.
    pub unit_cost: Option<String>,
    /// Department code.
    pub department: Option<String>,
    /// Supplier code.
    pub supplier: Option<String>,
    /// Document id.
    pub document: Option<String>,
    /// Document number.
    pub document_number: Option<String>,
    /// Reason code or text.
    pub reason: Option<String>,
    /// The movement this one compensates.
    pub corrects: Option<String>,
    /// Manager who overrode a refusal.
    pub override_by: Option<String>,
    /// Free note.
    pub note: String,
}

/// A posted (or drafted) document and its movements.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct DocumentView {
    /// UUID.
    pub id: String,
    /// Document number, e.g. RK-S01-000001 (null for drafts).
    pub number: Option<String>,
    /// Kind.
    pub kind: DocumentKind,
    /// Status.
    pub status: DocumentStatus,
    /// Source or receiving location code.
    pub location: Option<String>,
    /// Destination location code (transfers).
    pub to_location: Option<String>,
    /// Department code (issues).
    pub department: Option<String>,
    /// Supplier code (receipts).
    pub supplier: Option<String>,
    /// Who created it.
    pub created_by: String,
    /// Who posted it.
    pub posted_by: Option<String>,
    /// When it was posted, RFC 3339.
    pub posted_at: Option<String>,
    /// Reason (corrections, overrides).
    pub reason: Option<String>,
    /// Free note.
    pub note: String,
    /// The lines as posted (after FEFO allocation).
    pub lines: Vec<DocumentLineView>,
    /// The movements it wrote (empty for drafts).
    pub movements: Vec<MovementView>,
}

/// One line of a document.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct DocumentLineView {
    /// 1-based line number.
    pub line_no: i64,
    /// Item primary code.
    pub item: String,
    /// Item Chinese name.
    pub item_name: String,
    /// Item English name.
    pub item_name_en: String,
    /// Lot or null.
    pub lot: Option<String>,
    /// Lot expiry.
    #[cfg_attr(feature = "ts", ts(type = "string | null"))]
    pub expiry: Option<NaiveDate>,
    /// Serial or null.
    pub serial: Option<String>,
    /// Quantity in base units.
    pub quantity: i64,
    /// Unit cost.
    pub unit_cost: Option<String>,
}

/// A lot that an issue could take, in FEFO order.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct LotChoice {
    /// Lot number, or null.
    pub lot: Option<String>,
    /// Expiry.
    #[cfg_attr(feature = "ts", ts(type = "string | null"))]
    pub expiry: Option<NaiveDate>,
    /// Serial, for serialized items.
    pub serial: Option<String>,
    /// Available quantity at the location.
    pub quantity: i64,
    /// True when the lot is past its expiry date (never picked).
    pub expired: bool,
}

/// A request for one line of a document.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct LineRequest {
    /// Any identifier of the item (code, GTIN, HIBC, internal).
    pub item: String,
    /// Lot number; for an issue or transfer, omit to let FEFO choose.
    pub lot: Option<String>,
    /// Lot expiry, for receipts.
    #[cfg_attr(feature = "ts", ts(type = "string | null"))]
    pub expiry: Option<NaiveDate>,
    /// Lot production date, for receipts.
    #[cfg_attr(feature = "ts", ts(type = "string | null"))]
    pub production_date: Option<NaiveDate>,
    /// Serial, for serialized items (quantity must then be 1).
    pub serial: Option<String>,
    /// Quantity in base units (for a count: the counted quantity).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub quantity: i64,
    /// Unit cost, decimal.
    #[cfg_attr(feature = "ts", ts(type = "string | null"))]
    pub unit_cost: Option<Decimal>,
}

/// A manager's permission to go beyond a rule (e.g. issue beyond on-hand in an emergency).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct Override {
    /// The manager's username.
    pub manager: String,
    /// Why (required, recorded on every movement).
    pub reason: String,
}

/// A document to post (or save as a draft).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct DocumentRequest {
    /// Receipt, issue, transfer or stocktake.
    pub kind: DocumentKind,
    /// The acting user's username.
    pub user: String,
    /// Receiving location (receipt), source location (issue, transfer), counted location.
    pub location: String,
    /// Destination (transfer).
    pub to_location: Option<String>,
    /// Receiving department (issue).
    pub department: Option<String>,
    /// Supplier (receipt).
    pub supplier: Option<String>,
    /// The lines.
    pub lines: Vec<LineRequest>,
    /// Free note.
    #[serde(default)]
    pub note: String,
    /// Manager override for an emergency issue beyond on-hand.
    #[serde(rename = "override")]
    #[cfg_attr(feature = "ts", ts(rename = "override"))]
    pub override_: Option<Override>,
}

/// New item master data.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct NewItem {
    /// Primary identifier (a GTIN-14/13/12/8 is recognised as such).
    pub code: String,
    /// Chinese name.
    pub name: String,
    /// English name.
    #[serde(default)]
    pub name_en: String,
    /// Specification / model.
    #[serde(default)]
    pub specification: String,
    /// Manufacturer.
    #[serde(default)]
    pub manufacturer: String,
    /// NMPA registration number.
    #[serde(default)]
    pub registration_no: String,
    /// I, II, III or empty.
    #[serde(default)]
    pub risk_class: String,
    /// Category slug.
    #[serde(default)]
    pub category: String,
    /// Base unit.
    #[serde(default)]
    pub unit: String,
    /// Base units per box (≥ 1).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub pack_size: i64,
    /// Serial-tracked.
    #[serde(default)]
    pub serialized: bool,
    /// Implantable.
    #[serde(default)]
    pub implantable: bool,
    /// Cold chain.
    #[serde(default)]
    pub cold_chain: bool,
    /// Storage minimum °C.
    #[cfg_attr(feature = "ts", ts(type = "string | null"))]
    pub min_temp_c: Option<Decimal>,
    /// Storage maximum °C.
    #[cfg_attr(feature = "ts", ts(type = "string | null"))]
    pub max_temp_c: Option<Decimal>,
    /// Unit price.
    #[cfg_attr(feature = "ts", ts(type = "string | null"))]
    pub unit_price: Option<Decimal>,
    /// Default supplier code.
    pub default_supplier: Option<String>,
    /// Reorder point.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub reorder_point: i64,
    /// Further identifiers (HIBC, internal codes).
    #[serde(default)]
    pub extra_identifiers: Vec<String>,
}
