//! `validate` (and, later, `init`): the manifest itself.

use super::Ctx;
use crate::error::{Exit, Result};
use crate::manifest;

pub fn validate(ctx: &Ctx) -> Result<Exit> {
    let m = manifest::require(ctx.global.manifest.as_deref())?;
    ctx.printer.status(format!(
        "`{}` is valid: {} accounts, {} pools, {} homes",
        crate::paths::display(&m.path),
        m.accounts.len(),
        m.pools.len(),
        m.homes.len()
    ));
    Ok(Exit::Success)
}
