//! Sync between workstations and the hospital server (product brief §5):
//! hub and spokes over HTTP. A workstation pushes its own events (master
//! changes, lots, posted documents, movements) in bounded, idempotent batches,
//! then pulls everyone else's by the server's sequence. What the events mean
//! and how they are applied lives in `ledger::replication`; this crate is the
//! wire: [`protocol`], the [`server`] (axum) and the [`client`] (reqwest),
//! with [`tls`] between them (plain HTTP only on loopback).

pub mod client;
mod error;
pub mod protocol;
pub mod server;
pub mod tls;

pub use client::{enrol, enrol_trusting, sync_once, SyncReport};
pub use error::SyncError;
pub use server::{check_listen, new_enrolment_code, serve, serve_with, ServerHandle};
pub use tls::{read_ca_file, ServerTls};

use sha2::{Digest, Sha256};

/// The SHA-256 of a secret (tokens and enrolment codes are stored only so).
pub(crate) fn sha256(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// A random secret of `bytes` bytes as lowercase hex.
pub(crate) fn random_hex(bytes: usize) -> String {
    use rand::RngCore;
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}
