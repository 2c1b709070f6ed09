//! One file per command: its arguments beside its handler.

pub mod account;
pub mod apply;
pub mod doctor;
pub mod history;
pub mod home;
pub mod import;
pub mod login;
pub mod manifest;
pub mod plan;
pub mod quota;
pub mod run;
pub mod server;
pub mod session;
pub mod status;
pub mod switch;
pub mod sync;
pub mod vault;
pub mod watch;
