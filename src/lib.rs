//! cdxs: keep OpenAI Codex CLI state (accounts, `CODEX_HOME` folders, sessions) in the
//! shape its user declared in `cdxs.yaml`.
//!
//! The engine never prints and never parses argv: `cli` is the imperative shell.

pub mod account_use;
pub mod archive;
pub mod auth;
pub mod backup;
pub mod cli;
pub mod clock;
pub mod codex;
pub mod complete;
pub mod doctor;
pub mod endpoints;
pub mod error;
pub mod fsx;
pub mod legacy;
pub mod manifest;
pub mod output;
pub mod paths;
pub mod platform;
pub mod quota;
pub mod reconcile;
pub mod resolve;
pub mod secret;
pub mod server;
pub mod sessions;
pub mod sync;
pub mod text;
pub mod vault;
