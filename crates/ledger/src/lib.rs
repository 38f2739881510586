//! MedLedger's core: the immutable stock ledger of one workstation in SQLite.
//!
//! Stock changes only by appending movements; documents post all of their
//! movements in one transaction or none; balances are the fold of the
//! movements (a count sets, everything else adds) and are cached in the same
//! transaction. Time and ids are injected. Every refusal is a typed
//! [`LedgerError`] with a stable code and a message in Chinese or English.
//! This crate knows nothing of Tauri, HTTP or the terminal.

pub mod apply;
pub mod balance;
pub mod bench;
pub mod clock;
pub mod coldchain;
pub mod demo;
pub mod error;
pub mod ids;
pub mod lineage;
pub mod master;
pub mod model;
pub mod port_roles;
pub mod posting;
pub mod printers;
pub mod quarantine;
pub mod query;
pub mod replication;
pub mod review;
pub mod stocktake;
pub mod store;

pub use clock::{Clock, Hlc, ManualClock, SystemClock};
pub use coldchain::{ColdUnitRules, ColdUnitView, ExcursionView, ReadingSource, ReadingView, SensorConfig};
pub use error::{LedgerError, Result};
pub use ids::{IdSource, RandomIds};
pub use master::{NewLocation, NewUser};
pub use model::*;
pub use port_roles::PortRole;
pub use posting::{PostedRef, DOCUMENT_LINES_MAX, LINE_QUANTITY_MAX};
pub use printers::{PrintJobKind, PrintJobPayload, PrintJobStatus, PrintJobView, PrinterRecord};
pub use query::{MovementFilter, StockFilter};
pub use stocktake::{
    parse_import, CountEntry, ImportLine, ImportSummary, ObservationView, PostStocktakeRequest, PostedStocktake,
    RecountKey, StocktakeRef, StocktakeRequest, StocktakeStatus, StocktakeSummary, StocktakeView, VarianceFlag,
    VarianceReport, VarianceRow,
};
pub use store::{Checkpointer, Ledger, CHECKPOINT_PAGES, INITIAL_ADMIN, SCHEMA_VERSION};
