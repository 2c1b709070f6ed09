//! The one integration test binary (as ripgrep, jj and uv do): modules per area.

mod harness;
mod layers;
mod layout;
#[path = "../support/mock_responses.rs"]
mod mock_responses;

mod accounts;
mod auth_quota;
mod bad_input;
mod completions;
mod crash;
mod doctor;
mod dry_run;
mod history;
mod hostile;
mod install;
mod json_docs;
mod manifest;
#[path = "../support/mock_openai.rs"]
mod mock_openai;
mod one_live_copy;
mod ops_files;
mod other_providers;
mod picker;
mod plan_apply;
mod platforms;
mod properties;
mod purity;
#[cfg(unix)]
mod quick_start;
mod real_codex_auth;
mod real_codex_compressed;
mod real_codex_homes;
mod real_codex_login_shape;
mod real_codex_releases;
mod real_codex_rotation;
mod real_codex_sessions;
mod real_codex_settings;
mod refresh_model;
mod release;
mod rotation;
mod rotation_model;
mod screens;
mod session_ids;
mod sessions;
mod sessions_compressed;
mod sessions_maintenance;
mod sync_client;
mod sync_crypto;
mod sync_deploy;
mod sync_faults;
mod sync_harness;
mod sync_harvest;
mod sync_hostile_clients;
mod sync_hostile_server;
mod sync_phrase;
mod sync_placements;
mod sync_proxy;
mod sync_reads;
mod sync_server;
mod thread_copies;
mod vault_archive;
mod vault_doors;
mod watch;
