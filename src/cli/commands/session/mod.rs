//! `session ...`: list, stats, trash, trash-list, restore, purge, visibility, sync-threads.
//! Every command that writes is a plan run by the engine (one generation, backups first).

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::cli::shell::Shell;
use crate::error::{Exit, Result};
use crate::manifest::select::{self, Selection};
use crate::sessions::HomeRef;

mod browse;
mod repair;
mod trash;

/// Which homes a session command looks at.
#[derive(Debug, Clone, Default, Args)]
pub struct HomesArg {
    /// Every home in cdxs.yaml (and the default home)
    #[arg(long, conflicts_with_all = ["home", "codex_home"])]
    pub all_homes: bool,
    /// A home from cdxs.yaml (default: `default`, else `$CODEX_HOME` or `~/.codex`)
    #[arg(long, conflicts_with = "codex_home", add = crate::complete::homes())]
    pub home: Option<String>,
    /// A Codex home folder
    #[arg(long, value_name = "PATH")]
    pub codex_home: Option<PathBuf>,
}

impl HomesArg {
    /// The flags that chose the homes, for hints that name a next command.
    fn flags(&self) -> String {
        match (&self.home, &self.codex_home, self.all_homes) {
            (Some(h), _, _) => format!(" --home {h}"),
            (_, Some(p), _) => format!(" --codex-home {}", crate::paths::absolute(p).display()),
            (_, _, true) => " --all-homes".into(),
            _ => String::new(),
        }
    }

    fn selection(&self, all: bool) -> Selection {
        Selection {
            all_homes: self.all_homes || (all && self.home.is_none() && self.codex_home.is_none()),
            home: self.home.clone(),
            codex_home: self.codex_home.as_deref().map(crate::paths::absolute),
        }
    }
}

/// Which threads `session list` shows.
#[derive(Debug, Clone, Args)]
pub struct ListFilter {
    /// Only threads started in this folder or below it
    #[arg(long, value_name = "PATH")]
    cwd: Option<PathBuf>,
    /// Only threads whose name or preview holds this text (any case)
    #[arg(long, value_name = "TEXT")]
    search: Option<String>,
    /// Only threads updated since then: `2d`, `12h`, `2026-11-20` or an RFC 3339 time
    #[arg(long, value_name = "WHEN")]
    since: Option<String>,
    /// At most this many threads, the newest
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
}

#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// List threads of every provider and source, with why `codex resume` would hide them
    #[command(
        after_help = "Examples:\n  cdxs session list\n  cdxs session list --all-homes --cwd . --since 2d --limit 20\n  cdxs session list --search \"flaky test\"\n  cdxs session list --all-homes --json | jq '.threads[] | select(.hidden == [])'"
    )]
    List {
        #[command(flatten)]
        homes: HomesArg,
        #[command(flatten)]
        filter: ListFilter,
    },
    /// Tokens (from the rollout's last token_count), size, turns of one thread
    Stats {
        /// Thread id (or a unique prefix of at least 4 characters)
        #[arg(add = crate::complete::threads())]
        id: String,
        #[command(flatten)]
        homes: HomesArg,
        /// Also count lines and turns by reading the whole rollout
        #[arg(long)]
        lines: bool,
    },
    /// Move threads into the home's trash (`cdxs-trash/`); Codex no longer shows them
    #[command(
        after_help = "Examples:\n  cdxs session trash 01a21730-653f-7990-89b7-d72a059f1914\n  cdxs session trash 01a2173 --home work --dry-run"
    )]
    Trash {
        /// Thread ids (or unique prefixes)
        #[arg(required = true, add = crate::complete::threads())]
        ids: Vec<String>,
        #[command(flatten)]
        homes: HomesArg,
    },
    /// List trashed threads
    TrashList {
        #[command(flatten)]
        homes: HomesArg,
    },
    /// Put trashed threads back exactly (files, rows, name)
    Restore {
        #[arg(required = true, add = crate::complete::trashed())]
        ids: Vec<String>,
        #[command(flatten)]
        homes: HomesArg,
    },
    /// Delete trashed threads for good
    #[command(
        after_help = "Examples:\n  cdxs session purge --older-than 30d --all-homes --yes\n  cdxs session purge 01a21730-653f --dry-run"
    )]
    Purge {
        /// Trashed thread ids
        #[arg(required_unless_present = "older_than", conflicts_with = "older_than", add = crate::complete::trashed())]
        ids: Vec<String>,
        /// Every trash entry older than this (e.g. `30d`)
        #[arg(long, value_name = "DURATION")]
        older_than: Option<String>,
        #[command(flatten)]
        homes: HomesArg,
        /// Do not ask for confirmation
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Find (check) or fix (repair) what hides threads from Codex
    #[command(subcommand)]
    Visibility(VisibilityCommand),
    /// Copy threads a home lacks from the homes that have them (the homes in
    /// `sessions.share_threads`, `--from`/`--to`, or `--all-homes`; never by default)
    #[command(
        after_help = "Examples:\n  cdxs session sync-threads --dry-run                 # the homes in sessions.share_threads\n  cdxs session sync-threads --from laptop --to work   # what `work` lacks, from `laptop`\n  cdxs session sync-threads --all-homes --yes"
    )]
    SyncThreads {
        #[command(flatten)]
        homes: HomesArg,
        /// Copy from this home (a name in cdxs.yaml, or a folder); repeatable; needs `--to`
        #[arg(long, value_name = "HOME", requires = "to", conflicts_with_all = ["all_homes", "home", "codex_home"])]
        from: Vec<String>,
        /// Copy into this home (a name in cdxs.yaml, or a folder); repeatable; needs `--from`
        #[arg(long, value_name = "HOME", requires = "from")]
        to: Vec<String>,
        /// Do not ask for confirmation
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum VisibilityCommand {
    /// Report missing or moved rollouts, rollouts without rows, empty previews, index-only names
    Check {
        #[command(flatten)]
        homes: HomesArg,
    },
    /// Fix them in place (rows only; never the database file, never a rollout's bytes)
    Repair {
        #[command(flatten)]
        homes: HomesArg,
    },
}

pub fn run(sh: &mut Shell, cmd: SessionCommand) -> Result<Exit> {
    // `--dry-run` (a flag of every command): these show their own preview.
    let dry_run = sh.settings.dry_run;
    match cmd {
        SessionCommand::List { homes, filter } => browse::list(sh, &homes, filter),
        SessionCommand::Stats { id, homes, lines } => browse::stats(sh, &id, &homes, lines),
        SessionCommand::Trash { ids, homes } => trash::trash(sh, &ids, &homes, dry_run),
        SessionCommand::TrashList { homes } => trash::trash_list(sh, &homes),
        SessionCommand::Restore { ids, homes } => trash::restore(sh, &ids, &homes, dry_run),
        SessionCommand::Purge {
            ids,
            older_than,
            homes,
            yes,
        } => trash::purge(sh, &ids, older_than.as_deref(), &homes, yes, dry_run),
        SessionCommand::Visibility(VisibilityCommand::Check { homes }) => {
            repair::visibility(sh, &homes, false, false)
        }
        SessionCommand::Visibility(VisibilityCommand::Repair { homes }) => {
            repair::visibility(sh, &homes, true, dry_run)
        }
        SessionCommand::SyncThreads {
            homes,
            from,
            to,
            yes,
        } => repair::sync_threads(sh, &homes, [&from, &to], yes, dry_run),
    }
}

/// The homes a session command works on (`all`: every home unless one is named, for
/// commands that look a thread up by id anywhere).
fn homes(sh: &Shell, arg: &HomesArg, all: bool) -> Result<Vec<HomeRef>> {
    let m = manifest(sh, arg)?;
    select::session_homes(
        m.as_ref(),
        &arg.selection(all),
        &crate::paths::default_codex_home()?,
    )
}

/// The manifest of a session command. Without `--home` it only adds homes: a named one
/// that does not exist yet is a note, as for the other commands that can do without it.
fn manifest(sh: &Shell, arg: &HomesArg) -> Result<Option<crate::manifest::Manifest>> {
    if arg.home.is_some() {
        return sh.manifest();
    }
    let m = sh.manifest_for_aliases()?;
    if let Some(m) = &m {
        m.require_expanded()?;
    }
    Ok(m)
}

/// Print what the structural gate says about the homes a command is about to write.
fn gate_notes(sh: &Shell, homes: &[&HomeRef]) -> Result<()> {
    for h in homes {
        let (writable, notes) = crate::sessions::gate(&h.path)?;
        if writable {
            for n in notes {
                sh.printer.status(format!("note: {n}"));
            }
        }
    }
    Ok(())
}
