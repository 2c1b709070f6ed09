//! `cdxs sync init|login|logout|push|pull|status|key|refresh` and the `pull`/`push`
//! shortcuts: clap definitions and handlers. The work is in `crate::sync`.

use clap::{Args, Subcommand};

use crate::cli::input::{Stdin, read_secret};
use crate::cli::shell::Shell;
use crate::error::{Error, Exit, Result};
use crate::output::prompt::{interactive, read_phrase};
use crate::output::views::{self, outcome::Outcome, sync::SyncStatus};
use crate::sync::crypto::SyncKey;
use crate::sync::ops::{self, KeyState, LoginArgs};

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

/// `sync login`'s arguments.
#[derive(Debug, Clone, Args)]
pub struct LoginCmd {
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
    /// Accept a plain `http://` server that is not on this machine (the password and the
    /// login token then cross the network in clear; loopback is always allowed)
    #[arg(long)]
    allow_insecure_http: bool,
    #[command(flatten)]
    target: TargetArg,
}

#[derive(Debug, Subcommand)]
pub enum KeyAction {
    /// Replace a leaked sync key: every record is re-encrypted under a new key (its 24 words
    /// shown; `cdxs sync key` shows them again) and the server's key id changes; the
    /// server's records and the vault are saved first, and the rotation is journaled
    #[command(
        after_help = "Examples:\n  cdxs sync key rotate               # then, on every other machine: cdxs sync key --set"
    )]
    Rotate {
        #[command(flatten)]
        target: TargetArg,
    },
}

#[derive(Debug, Subcommand)]
pub enum SyncCommand {
    /// Log in to a sync server (the token is kept in the vault)
    #[command(after_help = LOGIN_HELP)]
    Login(LoginCmd),
    /// Make the sync key (first machine only): 256 random bits shown as 24 numbered words;
    /// then push this vault's accounts
    #[command(
        after_help = "Examples:\n  cdxs sync init             # the recovery phrase: write it down (`cdxs sync key` shows it again)\n  cdxs sync init --no-push   # make the key only"
    )]
    Init {
        /// Make the key only; `cdxs sync push` sends the accounts later
        #[arg(long)]
        no_push: bool,
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
    Status,
    /// Print the sync key's recovery phrase, set it (`--set`) to join other machines, or
    /// rotate it (`rotate`) when it leaked
    #[command(
        after_help = "Examples:\n  cdxs sync key                       # on a machine that syncs: the 24 words (a numbered grid on a terminal, one line in a pipe)\n  cdxs sync key --set                 # here: type them word by word (each checked), or pipe them in\n  cdxs sync key rotate                # a new key; every other machine then runs `cdxs sync key --set`",
        args_conflicts_with_subcommands = true
    )]
    Key {
        /// Read a recovery phrase (from standard input or a prompt) and use that key
        #[arg(long)]
        set: bool,
        #[command(flatten)]
        target: TargetArg,
        #[command(subcommand)]
        action: Option<KeyAction>,
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
    /// Forget where a machine gone for good had logins live (its name or device id), then
    /// push: every machine lets those logins go at its next pull
    #[command(after_help = "Examples:\n  cdxs sync forget-device laptop-a")]
    ForgetDevice {
        /// The machine's name (as refusals name it) or its device id
        device: String,
    },
}

pub fn run(sh: &mut Shell, cmd: SyncCommand) -> Result<Exit> {
    match cmd {
        SyncCommand::Login(a) => login(sh, a),
        SyncCommand::Init { no_push, target } => init(sh, target.target, no_push),
        SyncCommand::Logout { target } => logout(sh, target.target),
        SyncCommand::Push(a) => push(sh, a),
        SyncCommand::Pull(a) => pull(sh, a),
        SyncCommand::Status => status(sh),
        SyncCommand::Key {
            action: Some(KeyAction::Rotate { target }),
            ..
        } => rotate(sh, target.target),
        SyncCommand::Key {
            set,
            target,
            action: None,
        } => key(sh, set, target.target),
        SyncCommand::Refresh { account, force } => refresh(sh, &account, force),
        SyncCommand::ForgetDevice { device } => forget_device(sh, &device),
    }
}

/// `sync forget-device`: a generation, then a push (a failed push only warns: the next
/// one carries it).
fn forget_device(sh: &mut Shell, device: &str) -> Result<Exit> {
    let report = sh.engine()?.forget_device(device)?;
    views::report::done(&sh.printer, &report);
    let mut o = Outcome::new("sync forget-device").report(&report);
    if report.generation.is_some() {
        match sh.engine()?.sync_push(None, false) {
            Ok(r) => sh.printer.say_all(views::sync::pushed(&r)),
            Err(e) => sh
                .printer
                .warn(format!("not pushed yet: {e}; `cdxs sync push` tries again")),
        }
    }
    o = o.with("device", device);
    sh.outcome(o);
    Ok(Exit::Success)
}

fn login(sh: &mut Shell, a: LoginCmd) -> Result<Exit> {
    let manifest = sh.manifest_for_aliases()?;
    let declared = manifest.map(|m| m.sync).unwrap_or_default();
    let (target, server, user) = ops::login_target(&declared, a.target.target, a.server, a.user)?;
    let mut stdin = Stdin::new();
    let hint = "pipe it in with `--password-stdin`, e.g. `printf '%s\\n' \"$PASSWORD\" | cdxs sync login --server URL --user NAME --password-stdin`";
    let from = a.password_stdin.then_some(&mut stdin);
    let who = ("password", "--password-stdin");
    let password = read_secret(who, a.password, from, &sh.printer, hint)?;
    let key = match a.key_stdin {
        true => Some(parse_phrase(&stdin.rest()?)?),
        false => None,
    };
    let now = sh.now();
    let (username, device_name) = (user, a.device);
    let args = LoginArgs {
        target,
        server_url: server,
        username,
        password,
        device_name,
        key,
        allow_insecure_http: a.allow_insecure_http,
        now,
    };
    let report = ops::login(sh.vault()?, args)?;
    for line in views::sync::logged_in(&report) {
        sh.printer.status(line);
    }
    let t = &report.target;
    let (key, key_id) = match &report.key {
        KeyState::Ready(kid) => ("ready", Some(kid)),
        KeyState::JoinNeeded(kid) => ("join_needed", Some(kid)),
        KeyState::InitNeeded => ("init_needed", None),
    };
    let o = Outcome::new("sync login")
        .changed(true)
        .with("target", &t.name);
    let o = o.with("server", &t.server_url).with("user", &t.username);
    let o = o.with("device", &t.device_name).with("key", key);
    sh.outcome(
        o.with("key_id", key_id)
            .with("expires_at", report.expires_at),
    );
    Ok(Exit::Success)
}

fn parse_phrase(text: &str) -> Result<SyncKey> {
    SyncKey::from_phrase(text).map_err(|e| {
        Error::user(format!("not a sync key: {e}"))
            .with_help("paste the 24 words `cdxs sync key` prints on a machine that already syncs")
    })
}

/// `sync init`: make the key, show its phrase, then push (unless `--no-push`), saying what
/// it pushed. A failed push leaves the key made: a warning, and `sync push` tries again.
fn init(sh: &mut Shell, target: Option<String>, no_push: bool) -> Result<Exit> {
    let (t, phrase) = ops::init(sh.vault()?, target.as_deref())?;
    sh.printer.status(views::sync::made_key(&t));
    show_phrase(sh, &phrase);
    sh.printer.status(
        "write it down: other machines join with `cdxs sync key --set`; without it nobody, not even the server, can read the synced accounts",
    );
    let o = Outcome::new("sync init")
        .changed(true)
        .with("target", &t.name);
    let o = o.with("key_id", &t.key_id);
    if no_push {
        sh.printer
            .status("not pushed (`--no-push`): `cdxs sync push` sends this vault's accounts");
        sh.outcome(o.with("push", None::<()>));
        return Ok(Exit::Success);
    }
    match sh.engine()?.sync_push(Some(&t.name), false) {
        Ok(r) => {
            sh.printer.say_all(views::sync::pushed(&r));
            sh.outcome(o.with("push", &r));
        }
        Err(e) => {
            sh.printer.warn(format!(
                "the key is made, but pushing the accounts failed: {e}; `cdxs sync push` tries again"
            ));
            sh.outcome(o.with("push", None::<()>).with("push_error", e.to_string()));
        }
    }
    Ok(Exit::Success)
}

/// The phrase: a numbered grid for a person at a terminal, one line for a pipe.
fn show_phrase(sh: &Shell, phrase: &crate::secret::Secret) {
    match sh.printer.out_is_terminal() {
        true => sh
            .printer
            .out_raw(crate::sync::phrase::grid(phrase.expose())),
        false => sh.printer.out(phrase.expose()),
    }
}

fn logout(sh: &mut Shell, target: Option<String>) -> Result<Exit> {
    let vault = sh.vault()?;
    let (t, revoked) = ops::logout(vault, target.as_deref())?;
    sh.printer.status(format!(
        "logged out of `{}`{}",
        t.server_url,
        match revoked {
            true => "; the server revoked this machine's token",
            false => " (the token was no longer valid)",
        }
    ));
    let o = Outcome::new("sync logout")
        .changed(true)
        .with("target", &t.name);
    sh.outcome(o.with("revoked", revoked));
    Ok(Exit::Success)
}

/// `sync key rotate`: the new phrase, then what was done and what the other machines must
/// do (`--json`: the outcome; the phrase goes to the person on stderr, never into it).
fn rotate(sh: &mut Shell, target: Option<String>) -> Result<Exit> {
    let now = sh.now();
    let (r, phrase) = ops::rotate(sh.vault()?, target.as_deref(), now)?;
    let (before, after) = views::sync::rotated(&r);
    sh.printer.say_all(before);
    show_phrase(sh, &phrase);
    sh.printer.say_all(vec![after]);
    let mut o = Outcome::new("sync key rotate").changed(true);
    o.generation = Some(r.generation);
    sh.outcome(o.with("rotated", &r));
    Ok(Exit::Success)
}

fn key(sh: &mut Shell, set: bool, target: Option<String>) -> Result<Exit> {
    let vault = sh.vault()?;
    if set {
        let text = match interactive() {
            true => {
                read_phrase()?.ok_or_else(|| Error::user("no phrase entered: nothing changed"))?
            }
            false => zeroize::Zeroizing::new(Stdin::new().rest()?),
        };
        let t = ops::set_key(vault, target.as_deref(), parse_phrase(&text)?)?;
        let kid = t.key_id.as_deref().unwrap_or("");
        sh.printer.status(format!(
            "this machine now syncs with key {kid}; `cdxs sync pull` brings the accounts"
        ));
        let o = Outcome::new("sync key --set").changed(true);
        sh.outcome(o.with("target", &t.name).with("key_id", kid));
        return Ok(Exit::Success);
    }
    let t = ops::pick_target(vault, target.as_deref())?;
    let k = t.key.ok_or_else(|| {
        Error::user("this machine has no sync key")
            .with_help("make one with `cdxs sync init`, or join with `cdxs sync key --set`")
    })?;
    sh.printer
        .warn("this phrase is the key to every synced account: show it to nobody");
    show_phrase(sh, &k.phrase());
    Ok(Exit::Success)
}

pub fn push(sh: &mut Shell, args: PushArgs) -> Result<Exit> {
    sh.harvest_known("sync push")?;
    let target = args.target.target.as_deref();
    let r = sh.engine()?.sync_push(target, args.force)?;
    sh.printer.say_all(views::sync::pushed(&r));
    let p = &r.pull;
    let changed = r.pushed + r.deleted + p.created + p.updated + p.deleted > 0;
    sh.outcome(Outcome::new("sync push").changed(changed).fields(&r));
    Ok(Exit::Success)
}

pub fn pull(sh: &mut Shell, args: PullArgs) -> Result<Exit> {
    let target = args.target.target.as_deref();
    let r = sh.engine()?.sync_pull(target, args.force)?;
    sh.printer.say_all(views::sync::pulled(&r, args.force));
    let changed = r.created + r.updated + r.deleted > 0;
    sh.outcome(Outcome::new("sync pull").changed(changed).fields(&r));
    Ok(Exit::Success)
}

fn status(sh: &mut Shell) -> Result<Exit> {
    let targets = ops::status(sh.vault()?)?;
    if targets.is_empty() && !sh.printer.json {
        sh.printer.status(
            "not set up for sync: `cdxs sync login --server URL --user NAME --password-stdin`",
        );
        return Ok(Exit::Success);
    }
    sh.printer.emit(&SyncStatus { targets });
    Ok(Exit::Success)
}

/// A ChatGPT login refreshed through the engine, which takes the sync lease around it.
fn refresh(sh: &mut Shell, query: &str, force: bool) -> Result<Exit> {
    let m = sh.manifest_for_aliases()?;
    let mut bar = sh.progress("sync refresh");
    let engine = sh.engine()?;
    let account = crate::resolve::account(m.as_ref(), &engine.vault().accounts()?, query)?;
    let report = engine.refresh(m.as_ref(), &account.id, force, "sync refresh", &mut bar)?;
    drop(bar);
    views::report::done(&sh.printer, &report);
    let o = Outcome::new("sync refresh").report(&report);
    sh.outcome(o.with("account", views::outcome::AccountRef::from(&account)));
    Ok(Exit::Success)
}
