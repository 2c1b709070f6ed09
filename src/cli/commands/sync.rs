//! `cdxs sync init|login|logout|push|pull|status|key|refresh` and the `pull`/`push`
//! shortcuts: clap definitions and handlers. The work is in `crate::sync`.

use clap::{Args, Subcommand};

use super::{Stdin, read_password};
use crate::cli::Ctx;
use crate::error::{Error, Exit, Result};
use crate::output::{Table, stdin_is_terminal};
use crate::sync::crypto::SyncKey;
use crate::sync::ops::{self, KeyState, LoginArgs};
use crate::sync::{Guarded, LeaseOptions, refresh_guard};

const LOGIN_HELP: &str = "\
Examples:
  printf '%s\\n' \"$PASSWORD\" | cdxs sync login --server https://cdxs.example.net --user alice --password-stdin
  cdxs sync login --server http://127.0.0.1:8765 --user alice          # prompts for the password
  printf '%s\\n%s\\n' \"$PASSWORD\" \"$PHRASE\" | cdxs sync login --server URL --user alice --password-stdin --key-stdin

With both --password-stdin and --key-stdin, the first line of standard input is the password
and the rest is the 24-word recovery phrase. Then: `cdxs sync init` on the first machine,
`cdxs sync key --set` (or --key-stdin here) on the others.";

/// Which target (server and user) a sync command works on.
#[derive(Debug, Clone, Args)]
pub struct TargetArg {
    /// The sync target (a name from `sync.targets` in cdxs.yaml; default: the only one)
    #[arg(long, value_name = "NAME")]
    pub target: Option<String>,
}

/// `sync push` and the `push` shortcut.
#[derive(Debug, Clone, Args)]
pub struct PushArgs {
    /// Overwrite the server's accounts with this vault's, as new revisions, after saving the
    /// server's records to a backup
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub target: TargetArg,
}

/// `sync pull` and the `pull` shortcut.
#[derive(Debug, Clone, Args)]
pub struct PullArgs {
    /// Ignore every cursor and make the vault's accounts the server's, after a backup of the
    /// vault
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub target: TargetArg,
}

#[derive(Debug, Subcommand)]
pub enum SyncCommand {
    /// Log in to a sync server (the token is kept in the vault)
    #[command(after_help = LOGIN_HELP)]
    Login {
        /// The server's URL (default: the manifest's sync target)
        #[arg(long, value_name = "URL")]
        server: Option<String>,
        /// The user on that server (default: the manifest's sync target)
        #[arg(long, value_name = "NAME")]
        user: Option<String>,
        /// Read the password from the first line of standard input
        #[arg(long, conflicts_with = "password")]
        password_stdin: bool,
        /// The password on the command line (kept for the older tool; visible in `ps`)
        #[arg(long, value_name = "PASSWORD")]
        password: Option<String>,
        /// Join with an existing sync key: its recovery phrase on standard input
        #[arg(long)]
        key_stdin: bool,
        /// A name for this machine (default: the host name)
        #[arg(long, value_name = "NAME")]
        device: Option<String>,
        #[command(flatten)]
        target: TargetArg,
    },
    /// Make the sync key (first machine only): 256 random bits, shown once as 24 words
    #[command(
        after_help = "Examples:\n  cdxs sync init             # prints the recovery phrase once: write it down"
    )]
    Init {
        #[command(flatten)]
        target: TargetArg,
    },
    /// Log out: revoke this machine's token on the server (the sync key stays)
    Logout {
        #[command(flatten)]
        target: TargetArg,
    },
    /// Pull, merge, then push this machine's account changes (end-to-end encrypted)
    #[command(
        after_help = "Examples:\n  cdxs sync push\n  cdxs sync push --force     # the server becomes this vault (after a backup of its records)"
    )]
    Push(PushArgs),
    /// Pull the accounts other machines pushed and merge them into the vault
    #[command(
        after_help = "Examples:\n  cdxs sync pull\n  cdxs sync pull --force     # a full resync: the vault becomes the server's (after a backup)"
    )]
    Pull(PullArgs),
    /// Server, user, device, revisions, last push/pull, pending changes, leases held
    #[command(after_help = "Examples:\n  cdxs sync status\n  cdxs sync status --json")]
    Status {
        /// Print versioned JSON
        #[arg(long)]
        json: bool,
    },
    /// Print the sync key's recovery phrase, or set it (`--set`) to join other machines
    #[command(
        after_help = "Examples:\n  cdxs sync key                       # on a machine that syncs: the 24 words\n  cdxs sync key --set                 # here: paste them (or pipe them in)"
    )]
    Key {
        /// Read a recovery phrase (from standard input or a prompt) and use that key
        #[arg(long)]
        set: bool,
        #[command(flatten)]
        target: TargetArg,
    },
    /// Refresh a ChatGPT login under the sync lease, so that two machines never spend the
    /// same refresh token
    #[command(
        after_help = "Examples:\n  cdxs sync refresh me@example.com\n  cdxs sync refresh work --force"
    )]
    Refresh {
        /// Alias, id, email or unique email prefix
        account: String,
        /// Refresh even when the token is not about to expire
        #[arg(long)]
        force: bool,
    },
}

pub fn run(ctx: &Ctx, cmd: SyncCommand) -> Result<Exit> {
    match cmd {
        SyncCommand::Login {
            server,
            user,
            password_stdin,
            password,
            key_stdin,
            device,
            target,
        } => login(
            ctx,
            server,
            user,
            password_stdin,
            password,
            key_stdin,
            device,
            target.target,
        ),
        SyncCommand::Init { target } => init(ctx, target.target),
        SyncCommand::Logout { target } => logout(ctx, target.target),
        SyncCommand::Push(a) => push(ctx, a),
        SyncCommand::Pull(a) => pull(ctx, a),
        SyncCommand::Status { json } => status(ctx, json),
        SyncCommand::Key { set, target } => key(ctx, set, target.target),
        SyncCommand::Refresh { account, force } => refresh(ctx, &account, force),
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn date(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "-".into())
}

#[allow(clippy::too_many_arguments)]
fn login(
    ctx: &Ctx,
    server: Option<String>,
    user: Option<String>,
    password_stdin: bool,
    password: Option<String>,
    key_stdin: bool,
    device: Option<String>,
    target: Option<String>,
) -> Result<Exit> {
    let manifest = crate::manifest::optional(ctx.global.manifest.as_deref())?;
    let declared = manifest
        .as_ref()
        .map(|m| m.sync.clone())
        .unwrap_or_default();
    // The manifest's target: named, or matching the URL, or the only one.
    let from_manifest = match (&target, &server) {
        (Some(t), _) => declared.iter().find(|d| &d.name == t),
        (None, Some(url)) => declared
            .iter()
            .find(|d| d.url == crate::sync::client::normalize_url(url)),
        (None, None) if declared.len() == 1 => declared.first(),
        _ => None,
    };
    let server = server
        .or_else(|| from_manifest.map(|d| d.url.clone()))
        .ok_or_else(|| {
            Error::user("which sync server? pass `--server URL`")
                .with_help("or declare it under `sync.targets` in cdxs.yaml")
        })?;
    let user = user
        .or_else(|| from_manifest.map(|d| d.user.clone()))
        .ok_or_else(|| Error::user("which user? pass `--user NAME`"))?;
    let target = target
        .or_else(|| from_manifest.map(|d| d.name.clone()))
        .unwrap_or_else(|| ops::DEFAULT_TARGET.to_string());
    let mut stdin = Stdin::new();
    let password = read_password(
        password,
        password_stdin,
        &mut stdin,
        &ctx.printer,
        "pipe it in with `--password-stdin`, e.g. `printf '%s\\n' \"$PASSWORD\" | cdxs sync login --server URL --user NAME --password-stdin`",
    )?;
    let key = if key_stdin {
        Some(parse_phrase(&stdin.rest()?)?)
    } else {
        None
    };
    let mut vault = ctx.vault()?;
    let report = ops::login(
        &mut vault,
        LoginArgs {
            target,
            server_url: server,
            username: user,
            password,
            device_name: device,
            key,
            now: now(),
        },
    )?;
    let t = &report.target;
    ctx.printer.status(format!(
        "logged in to `{}` as `{}` from `{}`; the login expires {}",
        t.server_url,
        t.username,
        t.device_name,
        date(report.expires_at)
    ));
    match report.key {
        KeyState::Ready(kid) => ctx.printer.status(format!(
            "sync key {kid}; `cdxs sync push` syncs the accounts"
        )),
        KeyState::JoinNeeded(kid) => ctx.printer.status(format!(
            "`{}` already syncs with key {kid}: join it with `cdxs sync key --set` and the phrase `cdxs sync key` shows on a machine that syncs",
            t.username
        )),
        KeyState::InitNeeded => ctx.printer.status(
            "no sync key yet: run `cdxs sync init` to make one (first machine only)",
        ),
    }
    Ok(Exit::Success)
}

fn parse_phrase(text: &str) -> Result<SyncKey> {
    SyncKey::from_phrase(text).map_err(|e| {
        Error::user(format!("not a sync key: {e}"))
            .with_help("paste the 24 words `cdxs sync key` prints on a machine that already syncs")
    })
}

fn init(ctx: &Ctx, target: Option<String>) -> Result<Exit> {
    let mut vault = ctx.vault()?;
    let (t, phrase) = ops::init(&mut vault, target.as_deref())?;
    ctx.printer.status(format!(
        "made the sync key {} for `{}` on `{}`. Its recovery phrase follows, shown this once:",
        t.key_id.as_deref().unwrap_or(""),
        t.username,
        t.server_url
    ));
    ctx.printer.out(phrase.expose());
    ctx.printer.status(
        "write it down: other machines join with `cdxs sync key --set`; without it nobody, not even the server, can read the synced accounts",
    );
    Ok(Exit::Success)
}

fn logout(ctx: &Ctx, target: Option<String>) -> Result<Exit> {
    let mut vault = ctx.vault()?;
    let (t, revoked) = ops::logout(&mut vault, target.as_deref())?;
    ctx.printer.status(if revoked {
        format!(
            "logged out of `{}`; the server revoked this machine's token",
            t.server_url
        )
    } else {
        format!(
            "logged out of `{}` (the token was no longer valid)",
            t.server_url
        )
    });
    Ok(Exit::Success)
}

fn key(ctx: &Ctx, set: bool, target: Option<String>) -> Result<Exit> {
    let mut vault = ctx.vault()?;
    if set {
        let text = if stdin_is_terminal() {
            rpassword::prompt_password("Recovery phrase (24 words): ")
                .map_err(|e| Error::io("cannot read the phrase", e))?
        } else {
            Stdin::new().rest()?
        };
        let t = ops::set_key(&mut vault, target.as_deref(), parse_phrase(&text)?)?;
        ctx.printer.status(format!(
            "this machine now syncs with key {}; `cdxs sync pull` brings the accounts",
            t.key_id.as_deref().unwrap_or("")
        ));
        return Ok(Exit::Success);
    }
    let t = ops::pick_target(&vault, target.as_deref())?;
    let k = t.key.ok_or_else(|| {
        Error::user("this machine has no sync key")
            .with_help("make one with `cdxs sync init`, or join with `cdxs sync key --set`")
    })?;
    ctx.printer
        .warn("this phrase is the key to every synced account: show it to nobody");
    ctx.printer.out(k.phrase().expose());
    Ok(Exit::Success)
}

pub fn push(ctx: &Ctx, args: PushArgs) -> Result<Exit> {
    let mut vault = ctx.vault()?;
    let r = ops::push(&mut vault, args.target.target.as_deref(), args.force, now())?;
    if let Some(b) = &r.backup {
        ctx.printer
            .status(format!("saved the server's records to `{b}` first"));
    }
    let p = &r.pull;
    if p.created + p.updated + p.deleted > 0 {
        ctx.printer.status(format!(
            "pulled: {} new, {} updated, {} removed",
            p.created, p.updated, p.deleted
        ));
    }
    report_unreadable(ctx, p.unreadable);
    ctx.printer.status(if r.pushed + r.deleted == 0 {
        format!("nothing to push; in step at revision {}", r.revision)
    } else {
        format!(
            "pushed {} account(s) and {} deletion(s): revision {}",
            r.pushed, r.deleted, r.revision
        )
    });
    Ok(Exit::Success)
}

pub fn pull(ctx: &Ctx, args: PullArgs) -> Result<Exit> {
    let mut vault = ctx.vault()?;
    let r = ops::pull(&mut vault, args.target.target.as_deref(), args.force, now())?;
    if let Some(b) = &r.backup {
        ctx.printer
            .status(format!("saved the vault to `{b}` first"));
    }
    ctx.printer.status(format!(
        "pulled to revision {}: {} new, {} updated, {} removed{}{}",
        r.revision,
        r.created,
        r.updated,
        r.deleted,
        if r.kept_local > 0 {
            format!(", {} newer here (push them)", r.kept_local)
        } else {
            String::new()
        },
        if r.refused_older > 0 {
            format!(", {} older token(s) refused", r.refused_older)
        } else {
            String::new()
        }
    ));
    report_unreadable(ctx, r.unreadable);
    Ok(Exit::Success)
}

fn report_unreadable(ctx: &Ctx, n: usize) {
    if n > 0 {
        ctx.printer.warn(format!(
            "{n} record(s) on the server do not open with this machine's sync key and were skipped (altered, or sealed with another key)"
        ));
    }
}

fn status(ctx: &Ctx, json: bool) -> Result<Exit> {
    let vault = ctx.vault()?;
    let all = ops::status(&vault)?;
    if json {
        ctx.printer.json(&serde_json::json!({ "targets": all }));
        return Ok(Exit::Success);
    }
    if all.is_empty() {
        ctx.printer.status(
            "not set up for sync: `cdxs sync login --server URL --user NAME --password-stdin`",
        );
        return Ok(Exit::Success);
    }
    for s in &all {
        let mut t = Table::new(["", ""]);
        let when = |x: Option<i64>| x.map(date).unwrap_or_else(|| "never".into());
        t.row(["target", s.target.as_str()]);
        t.row(["server", s.server.as_str()]);
        t.row(["user", s.user.as_str()]);
        t.row(["device", &format!("{} ({})", s.device, s.device_id)]);
        t.row([
            "login",
            &match (s.logged_in, s.token_expires_at) {
                (true, Some(e)) => format!("logged in, expires {}", date(e)),
                (true, None) => "logged in".into(),
                (false, _) => "logged out".into(),
            },
        ]);
        t.row([
            "key",
            s.key_id
                .as_deref()
                .unwrap_or("none (`cdxs sync init` or `cdxs sync key --set`)"),
        ]);
        t.row(["revision", &s.revision.to_string()]);
        t.row(["records", &s.records.to_string()]);
        t.row(["last pull", &when(s.last_pull_at)]);
        t.row(["last push", &when(s.last_push_at)]);
        t.row([
            "pending",
            &s.pending
                .map(|n| format!("{n} change(s) to push"))
                .unwrap_or_else(|| "-".into()),
        ]);
        let leases = if s.leases.is_empty() {
            "none".to_string()
        } else {
            s.leases
                .iter()
                .map(|l| format!("{} until {}", l.account_id, date(l.until)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        t.row(["leases held", &leases]);
        // Drop the empty header line.
        let text = t.render();
        ctx.printer
            .out(text.lines().skip(1).collect::<Vec<_>>().join("\n"));
    }
    Ok(Exit::Success)
}

/// Is the account bound to a home of this machine's manifest (directly, or as a pool
/// member that a home may pick)?
fn bound_here(m: Option<&crate::manifest::Manifest>, account: &crate::vault::Account) -> bool {
    let Some(m) = m else { return false };
    let names = |alias: &str| {
        m.accounts.get(alias).is_some_and(|r| {
            r.names(
                &account.id,
                account.kind,
                account.email.as_deref(),
                account.chatgpt_account_id.as_deref(),
            )
        })
    };
    m.homes.values().any(|h| match &h.binding {
        Some(crate::manifest::Binding::Account(alias)) => names(alias),
        Some(crate::manifest::Binding::Pool { pool, .. }) => m
            .pools
            .get(pool)
            .is_some_and(|members| members.iter().any(|a| names(a))),
        None => false,
    })
}

fn refresh(ctx: &Ctx, query: &str, force: bool) -> Result<Exit> {
    let m = crate::manifest::optional(ctx.global.manifest.as_deref())?;
    let mut vault = ctx.vault()?;
    let account = crate::cli::homes::resolve_vault_account(m.as_ref(), &vault, query)?;
    let opts = LeaseOptions {
        bound_here: bound_here(m.as_ref(), &account),
        ..LeaseOptions::default()
    };
    let needs = |a: &crate::vault::Account| {
        force || crate::auth::refresh::expiring(a, chrono::Utc::now().timestamp())
    };
    if !needs(&account) {
        ctx.printer
            .status(format!("{}'s tokens are fresh", account.name()));
        return Ok(Exit::Success);
    }
    let outcome = refresh_guard(
        &mut vault,
        &account.id,
        &opts,
        needs,
        |v| {
            crate::cli::quota_cmds::refresh_journaled(
                ctx,
                v,
                m.as_ref(),
                &account.id,
                force,
                "sync refresh",
            )
        },
        now,
    )?;
    ctx.printer.status(match outcome {
        Guarded::Refreshed(_) => format!(
            "refreshed {} under the sync lease and pushed the new tokens",
            account.name()
        ),
        Guarded::TookNewer => format!(
            "another machine refreshed {} meanwhile; took its new tokens",
            account.name()
        ),
        Guarded::Unsynced(_) => format!("refreshed {} (not synced: no lease needed)", account.name()),
        Guarded::Offline(_) => format!(
            "the sync server is unreachable; refreshed {} here (it is bound on this machine): run `cdxs sync push` when it is back",
            account.name()
        ),
    });
    Ok(Exit::Success)
}
