//! `vault export|import`: what they did, in one line for people (`--json`: the outcome).

use crate::archive::{Counts, Imported, SealedWith, Taken};
use crate::error::tick;

pub fn exported(n: &Counts, file: &std::path::Path, sealed: &SealedWith) -> String {
    let how = match sealed {
        SealedWith::Passphrase { .. } => "a passphrase (Argon2id)".to_string(),
        SealedWith::SyncKey { key_id } => format!("the sync key {key_id}"),
    };
    format!(
        "exported {} account(s) ({} ChatGPT login(s), {} API key(s)) and {} placement(s) to {} (0600), sealed with {how}; `cdxs vault import {}` takes them back",
        n.accounts,
        n.chatgpt_logins,
        n.api_keys,
        n.placements,
        tick(file),
        file.display()
    )
}

pub fn imported(done: &Imported, file: &std::path::Path) -> String {
    let c = |t| done.count(t);
    let mut line = format!(
        "imported {} account(s) from {}: {} new, {} updated, {} unchanged, {} kept (this vault's copy is newer), {} refused (spent, or older than this vault has seen); {} placement(s) added",
        done.accounts.len(),
        tick(file),
        c(Taken::Created),
        c(Taken::Updated),
        c(Taken::Unchanged),
        c(Taken::KeptNewer),
        c(Taken::Spent) + c(Taken::BelowHighWater),
        done.placements_added
    );
    if c(Taken::Invalid) > 0 {
        line.push_str(&format!(
            "; {} unusable entr(ies) skipped",
            c(Taken::Invalid)
        ));
    }
    if let Some(b) = &done.backup {
        line.push_str(&format!("; the vault before: `{b}`"));
    }
    line
}
