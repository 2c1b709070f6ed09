//! The command line: clap definitions only. Handlers live next to this file.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use super::commands::server::ServerCommand;
use super::commands::sync::{PullArgs, PushArgs, SyncCommand};
use crate::error::EXIT_CODE_HELP;
use crate::output::ColorChoice;

const ABOUT: &str = "Keep OpenAI Codex CLI homes, accounts and sessions in the shape you declared";

const LONG_ABOUT: &str = "\
cdxs keeps OpenAI Codex CLI state in the shape you declared in `cdxs.yaml`: accounts (by \
reference into a local vault), CODEX_HOME folders and which account each uses, and session \
policies. `cdxs plan` shows what differs, `cdxs apply` fixes it with backups.";

#[derive(Debug, Parser)]
#[command(
    name = "cdxs",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = EXIT_CODE_HELP,
    propagate_version = true,
    disable_help_subcommand = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// The manifest (default: `$CDXS_MANIFEST`, `./cdxs.yaml`, `~/.config/cdxs/cdxs.yaml`)
    #[arg(short = 'f', long, global = true, value_name = "PATH")]
    pub manifest: Option<PathBuf>,

    /// Folder of the vault and cdxs's own state (default: `$CDXS_STATE_DIR`,
    /// `~/.local/share/cdxs`)
    #[arg(long, global = true, value_name = "PATH")]
    pub state_dir: Option<PathBuf>,

    /// Print only data and errors
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Print more detail (backups, locks, files read)
    #[arg(short, long, global = true)]
    pub verbose: bool,

    /// When to use colors (`NO_COLOR` is honoured by `auto`)
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Import accounts from an auth.json or from the older tool
    #[command(subcommand)]
    Import(ImportCommand),

    /// Manage accounts in the vault
    #[command(subcommand)]
    Account(AccountCommand),

    /// Log in to ChatGPT (PKCE, as Codex does) and keep the tokens in the vault
    #[command(subcommand)]
    Login(LoginCommand),

    /// Refresh an account's ChatGPT tokens now (rotation-safe)
    #[command(after_help = "Examples:\n  cdxs refresh-token me@example.com")]
    RefreshToken {
        /// Alias, id, email or unique email prefix
        account: String,
    },

    /// Show the ChatGPT quota left (5-hour and weekly windows)
    #[command(
        after_help = "Examples:\n  cdxs quota                 # the default home's account\n  cdxs quota --all --json\n  cdxs quota work"
    )]
    Quota {
        /// Alias, id, email or unique email prefix (default: the default home's account)
        account: Option<String>,
        /// Every account in the vault
        #[arg(long, conflicts_with = "account")]
        all: bool,
        /// Print versioned JSON
        #[arg(long)]
        json: bool,
    },

    /// List accounts (like `account list`)
    #[command(after_help = "Examples:\n  cdxs list\n  cdxs list --json | jq '.accounts[].id'")]
    List {
        /// Print versioned JSON
        #[arg(long)]
        json: bool,
        /// Refresh cached data even when it is fresh
        #[arg(long)]
        force: bool,
    },

    /// List accounts from the vault only, never calling the network
    Show {
        /// Print versioned JSON
        #[arg(long)]
        json: bool,
    },

    /// Remove an account from the vault (like `account remove`)
    Remove {
        /// Alias, id, email or unique email prefix
        account: String,
    },

    /// Create cdxs.yaml from the current Codex setup (refuses to overwrite)
    #[command(
        after_help = "Examples:\n  cdxs init                         # ~/.config/cdxs/cdxs.yaml\n  cdxs -f ~/dotfiles/cdxs.yaml init"
    )]
    Init,

    /// Show what apply would change (drift, switches, folders, harvested tokens)
    #[command(
        after_help = "Examples:\n  cdxs plan\n  cdxs plan --detailed-exitcode      # 0 no changes, 1 error, 2 changes\n  cdxs plan --out plan.json && cdxs apply plan.json\n  cdxs plan --target home.work --json"
    )]
    Plan {
        /// Exit 0 when there is nothing to do, 2 when there are changes, 1 on error
        #[arg(long)]
        detailed_exitcode: bool,
        /// Print the plan as versioned JSON (no secrets)
        #[arg(long)]
        json: bool,
        /// Save the plan (no secrets) for `cdxs apply FILE`
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Only actions at or under this address (repeatable), e.g. `home.work`
        #[arg(long = "target", value_name = "ADDRESS")]
        targets: Vec<String>,
        /// Never call the network (quota comes from the cache)
        #[arg(long)]
        offline: bool,
    },

    /// Make the Codex homes match cdxs.yaml (asks first on a terminal)
    #[command(
        after_help = "Examples:\n  cdxs apply\n  cdxs apply --yes                   # CI: no question\n  cdxs apply plan.json               # exactly a saved plan; refuses a stale one\n  cdxs apply --target home.work"
    )]
    Apply {
        /// A plan saved by `cdxs plan --out FILE`
        plan_file: Option<PathBuf>,
        /// Do not ask for confirmation
        #[arg(long, short = 'y', visible_alias = "auto-approve")]
        yes: bool,
        /// Only actions at or under this address (repeatable)
        #[arg(long = "target", value_name = "ADDRESS", conflicts_with = "plan_file")]
        targets: Vec<String>,
        /// Never call the network (quota comes from the cache)
        #[arg(long)]
        offline: bool,
    },

    /// List apply generations, or show one
    History {
        /// A generation number
        generation: Option<i64>,
        /// Print versioned JSON
        #[arg(long)]
        json: bool,
    },

    /// Restore the files a generation changed, from its backups (a new generation)
    #[command(
        after_help = "Examples:\n  cdxs rollback            # the latest generation that changed files\n  cdxs rollback 12 --yes"
    )]
    Rollback {
        /// The generation to undo (default: the latest that changed files)
        generation: Option<i64>,
        /// Do not ask for confirmation
        #[arg(long, short = 'y', visible_alias = "auto-approve")]
        yes: bool,
    },

    /// One screen: homes, bound accounts, token freshness, drift
    Status {
        /// Print versioned JSON
        #[arg(long)]
        json: bool,
    },

    /// Point a home at an account (edits cdxs.yaml, then applies that home)
    #[command(
        after_help = "Examples:\n  cdxs switch work                   # the default home\n  cdxs switch me@corp.com --home work\n  cdxs switch oauth_4f2a --codex-home ~/codex-homes/ci\n  cdxs switch                        # the account with the most quota left"
    )]
    Switch {
        /// Alias, id, email or unique email prefix (none: the most quota left)
        account: Option<String>,
        /// Pick the account with the most quota left
        #[arg(long, conflicts_with = "account")]
        auto: bool,
        /// The home (a name from cdxs.yaml); default: `default`
        #[arg(long, conflicts_with = "codex_home")]
        home: Option<String>,
        /// A Codex home folder (without a manifest: written directly)
        #[arg(long, value_name = "PATH")]
        codex_home: Option<PathBuf>,
    },

    /// Manage homes declared in cdxs.yaml
    #[command(subcommand)]
    Home(HomeCommand),

    /// Codex sessions (threads): list, stats, trash/restore/purge, visibility, sharing
    #[command(subcommand)]
    Session(SessionCommand),

    /// Run a command with CODEX_HOME set, after making sure that home's auth is right
    #[command(
        after_help = "Examples:\n  cdxs run --home work -- codex\n  cdxs run --account me@corp.com -- codex exec \"fix the tests\"\n  cdxs run --account ci --codex-home /tmp/ci-home -- codex login status"
    )]
    Run {
        /// A home from cdxs.yaml
        #[arg(long, conflicts_with_all = ["account", "codex_home"], required_unless_present = "account")]
        home: Option<String>,
        /// An account to write into the home first
        #[arg(long)]
        account: Option<String>,
        /// With --account: the home folder (default: `$CODEX_HOME`, else `~/.codex`)
        #[arg(long, value_name = "PATH", requires = "account")]
        codex_home: Option<PathBuf>,
        /// The command and its arguments
        #[arg(last = true, required = true, value_name = "CMD")]
        command: Vec<String>,
    },

    /// Check cdxs.yaml: every problem with file, line, column and a hint
    #[command(after_help = "Examples:\n  cdxs validate\n  cdxs -f ci/cdxs.yaml validate")]
    Validate,

    /// Print the JSON schema of cdxs.yaml (for editors: yaml-language-server)
    Schema,

    /// Sync accounts between machines through a cdxs sync server (end-to-end encrypted)
    #[command(subcommand)]
    Sync(SyncCommand),

    /// The sync server: run it, manage its users, import the older tool's users
    #[command(subcommand)]
    Server(ServerCommand),

    /// Pull synced accounts (like `sync pull`)
    Pull(PullArgs),

    /// Pull, merge and push accounts (like `sync push`)
    Push(PushArgs),

    /// Print shell completions
    #[command(
        after_help = "Examples:\n  cdxs completions bash > ~/.local/share/bash-completion/completions/cdxs\n  cdxs completions zsh > ~/.zfunc/_cdxs"
    )]
    Completions {
        /// bash, zsh, fish, elvish or powershell
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import the account in a Codex auth.json into the vault
    #[command(
        after_help = "Examples:\n  cdxs import auth                      # from $CODEX_HOME or ~/.codex\n  cdxs import auth --file ./auth.json --switch\n  cdxs import auth --codex-home ~/codex-homes/work"
    )]
    Auth {
        /// The auth.json to read (default: the home's auth.json)
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// The Codex home to read from (default: `$CODEX_HOME`, else `~/.codex`)
        #[arg(long, value_name = "PATH")]
        codex_home: Option<PathBuf>,
        /// Also make it the account of the default home
        #[arg(long)]
        switch: bool,
    },

    /// Import accounts (and homes) from the older tool's cdxs.toml
    #[command(
        after_help = "Examples:\n  cdxs import legacy                    # $CODEX_HOME/cdxs.toml or ~/.codex/cdxs.toml\n  cdxs import legacy ~/backup/cdxs.toml"
    )]
    Legacy {
        /// Path of the old cdxs.toml
        path: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Add an API-key account (the key is read from stdin or a prompt, never echoed)
    #[command(
        after_help = "Examples:\n  printf %s \"$OPENAI_API_KEY\" | cdxs account add-api-key --api-key-stdin\n  cdxs account add-api-key --api-key-stdin --base-url https://proxy.example/v1 --switch"
    )]
    AddApiKey {
        /// The key on the command line (visible to other users in `ps`; prefer --api-key-stdin)
        #[arg(long, value_name = "KEY", conflicts_with = "api_key_stdin")]
        key: Option<String>,
        /// Read the key from standard input
        #[arg(long)]
        api_key_stdin: bool,
        /// API base URL for this key (a proxy or compatible endpoint)
        #[arg(long, value_name = "URL")]
        base_url: Option<String>,
        /// Also make it the account of the default home
        #[arg(long)]
        switch: bool,
    },

    /// List accounts in the vault
    List {
        /// Print versioned JSON
        #[arg(long)]
        json: bool,
    },

    /// Show the account a Codex home is using
    Current {
        /// Print versioned JSON
        #[arg(long)]
        json: bool,
        /// The Codex home (default: `$CODEX_HOME`, else `~/.codex`)
        #[arg(long, value_name = "PATH")]
        codex_home: Option<PathBuf>,
    },

    /// Show one account
    Show {
        /// Alias, id, email or unique email prefix
        account: String,
        /// Print versioned JSON
        #[arg(long)]
        json: bool,
    },

    /// Remove an account from the vault
    Remove {
        /// Alias, id, email or unique email prefix
        account: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum HomeCommand {
    /// List the homes declared in cdxs.yaml
    List {
        /// Print versioned JSON
        #[arg(long)]
        json: bool,
    },
    /// Declare a home (and create it)
    #[command(
        after_help = "Examples:\n  cdxs home create work --path ~/codex-homes/work --account me@corp.com"
    )]
    Create {
        /// A name: letters, digits, `-`, `_`, `.`
        name: String,
        /// The folder
        #[arg(long, value_name = "PATH")]
        path: PathBuf,
        /// The account it uses
        #[arg(long)]
        account: Option<String>,
    },
    /// Bind a home to an account (like `switch ACCOUNT --home NAME`)
    Bind { name: String, account: String },
    /// Print a home's folder
    Path { name: String },
    /// Stop managing a home (its folder is kept)
    Remove { name: String },
}

#[derive(Debug, Subcommand)]
pub enum LoginCommand {
    /// Browser login with PKCE; the browser comes back to http://localhost:PORT/auth/callback
    #[command(
        after_help = "Examples:\n  cdxs login oauth\n  cdxs login oauth --no-browser            # print the address only\n  cdxs login oauth --manual                # paste the address the browser ended on\n  cdxs login oauth --switch                # and make it the default home's account"
    )]
    Oauth {
        /// Paste the callback address instead of listening for it
        #[arg(long)]
        manual: bool,
        /// Port of the local callback (Codex's client allows 1455)
        #[arg(long, default_value_t = crate::auth::endpoints::DEFAULT_CALLBACK_PORT)]
        port: u16,
        /// Do not try to open a browser
        #[arg(long)]
        no_browser: bool,
        /// Also make it the default home's account
        #[arg(long)]
        switch: bool,
    },
}

/// Which homes a session command looks at.
#[derive(Debug, Clone, Args)]
pub struct HomesArg {
    /// Every home in cdxs.yaml (and the default home)
    #[arg(long, conflicts_with_all = ["home", "codex_home"])]
    pub all_homes: bool,
    /// A home from cdxs.yaml (default: `default`, else `$CODEX_HOME` or `~/.codex`)
    #[arg(long, conflicts_with = "codex_home")]
    pub home: Option<String>,
    /// A Codex home folder
    #[arg(long, value_name = "PATH")]
    pub codex_home: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// List threads of every provider and source, with why `codex resume` would hide them
    #[command(
        after_help = "Examples:\n  cdxs session list\n  cdxs session list --all-homes --json | jq '.threads[] | select(.hidden == [])'"
    )]
    List {
        #[command(flatten)]
        homes: HomesArg,
        /// Print versioned JSON
        #[arg(long)]
        json: bool,
    },
    /// Tokens (from the rollout's last token_count), size, turns of one thread
    Stats {
        /// Thread id (or a unique prefix of at least 4 characters)
        id: String,
        #[command(flatten)]
        homes: HomesArg,
        /// Also count lines and turns by reading the whole rollout
        #[arg(long)]
        lines: bool,
        /// Print versioned JSON
        #[arg(long)]
        json: bool,
    },
    /// Move threads into the home's trash (`cdxs-trash/`); Codex no longer shows them
    #[command(
        after_help = "Examples:\n  cdxs session trash 01a21730-653f-7990-89b7-d72a059f1914\n  cdxs session trash 01a2173 --home work --dry-run"
    )]
    Trash {
        /// Thread ids (or unique prefixes)
        #[arg(required = true)]
        ids: Vec<String>,
        #[command(flatten)]
        homes: HomesArg,
        /// Show what would move, change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// List trashed threads
    TrashList {
        #[command(flatten)]
        homes: HomesArg,
        /// Print versioned JSON
        #[arg(long)]
        json: bool,
    },
    /// Put trashed threads back exactly (files, rows, name)
    Restore {
        #[arg(required = true)]
        ids: Vec<String>,
        #[command(flatten)]
        homes: HomesArg,
        /// Show what would come back, change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Delete trashed threads for good
    #[command(
        after_help = "Examples:\n  cdxs session purge --older-than 30d --all-homes --yes\n  cdxs session purge 01a21730-653f --dry-run"
    )]
    Purge {
        /// Trashed thread ids
        #[arg(required_unless_present = "older_than", conflicts_with = "older_than")]
        ids: Vec<String>,
        /// Every trash entry older than this (e.g. `30d`)
        #[arg(long, value_name = "DURATION")]
        older_than: Option<String>,
        #[command(flatten)]
        homes: HomesArg,
        /// Do not ask for confirmation
        #[arg(long, short = 'y')]
        yes: bool,
        /// Show what would be deleted, change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Find (check) or fix (repair) what hides threads from Codex
    #[command(subcommand)]
    Visibility(VisibilityCommand),
    /// Copy threads a home lacks from the homes that have them
    #[command(
        after_help = "Examples:\n  cdxs session sync-threads --dry-run        # the homes in sessions.share_threads, else all\n  cdxs session sync-threads --all-homes"
    )]
    SyncThreads {
        #[command(flatten)]
        homes: HomesArg,
        /// Show the copies, change nothing
        #[arg(long)]
        dry_run: bool,
        /// Print versioned JSON
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum VisibilityCommand {
    /// Report missing or moved rollouts, rollouts without rows, empty previews, index-only names
    Check {
        #[command(flatten)]
        homes: HomesArg,
        /// Print versioned JSON
        #[arg(long)]
        json: bool,
    },
    /// Fix them in place (rows only; never the database file, never a rollout's bytes)
    Repair {
        #[command(flatten)]
        homes: HomesArg,
        /// Show the fixes, change nothing
        #[arg(long)]
        dry_run: bool,
        /// Print versioned JSON
        #[arg(long)]
        json: bool,
    },
}
