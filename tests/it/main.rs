//! The one integration test binary (as ripgrep, jj and uv do): modules per area.

mod harness;
mod layout;
#[path = "../support/mock_responses.rs"]
mod mock_responses;

mod accounts;
mod auth_quota;
mod bad_input;
mod crash;
mod doctor;
mod hostile;
mod install;
mod manifest;
#[path = "../support/mock_openai.rs"]
mod mock_openai;
mod ops_files;
mod plan_apply;
mod properties;
mod real_codex_auth;
mod real_codex_homes;
mod real_codex_releases;
mod real_codex_rotation;
mod real_codex_sessions;
mod rotation;
mod rotation_model;
mod sessions;
mod sync_client;
mod sync_crypto;
mod sync_deploy;
mod sync_faults;
mod sync_harness;
mod sync_hostile_clients;
mod sync_hostile_server;
mod sync_proxy;
mod sync_reads;
mod sync_server;
mod watch;
