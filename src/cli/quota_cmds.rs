//! `quota`, and `switch` without an account (the most quota left).

use std::path::PathBuf;

use super::Ctx;
use crate::error::{Error, Exit, Result};
use crate::manifest::Manifest;
use crate::vault::Vault;

pub fn switch_auto(
    _ctx: &Ctx,
    _m: Option<&Manifest>,
    _vault: &mut Vault,
    _home: Option<String>,
    _codex_home: Option<PathBuf>,
) -> Result<Exit> {
    Err(Error::user(
        "`switch` without an account needs quota data, which this build does not fetch yet",
    )
    .with_help("name the account: `cdxs switch ACCOUNT`"))
}
