//! One real `CODEX_HOME`: its `auth.json`, and (later) its state DB, rollouts, session index
//! and locks. Everything here follows what Codex itself (0.169 and 0.171) reads and writes.

pub mod auth;
pub mod config;
pub mod credential_files;
pub mod index;
pub mod jwt;
pub mod maintenance;
pub mod processes;
pub mod rollout;
pub mod schema;
pub mod settings;
pub mod state;
pub mod writer_lock;
pub mod wsl;
