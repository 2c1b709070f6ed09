//! Sync between machines (SPEC 8), the client side: wire types shared with the server,
//! end-to-end encryption of records, the record encoding, the per-account merge, the
//! blocking HTTP client, refresh leases, the vault's sync state, and the plan actions of
//! `sync.targets`. Synchronous throughout: tokio is for the server only.

pub mod client;
pub mod crypto;
pub mod lease;
pub mod merge;
pub mod ops;
pub mod phrase;
pub mod plan;
pub mod record;
pub mod state;
pub mod wire;

pub use lease::{Guarded, LeaseOptions, refresh_guard};
