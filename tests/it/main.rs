//! The one integration test binary (as ripgrep, jj and uv do): modules per area.

mod harness;

mod accounts;
mod bad_input;
mod real_codex_auth;
