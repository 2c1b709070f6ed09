//! `import auth` and `import legacy`.

use std::path::PathBuf;

use clap::Subcommand;

use crate::cli::shell::Shell;
use crate::codex::auth;
use crate::error::{Exit, Result, tick};
use crate::legacy;
use crate::output::sanitize;
use crate::output::views::outcome::{AccountRef, Outcome};
use crate::paths;
use crate::reconcile::staged::StagedAccount;
use crate::vault::Account;
use crate::vault::accounts::Upsert;

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

pub fn run(sh: &mut Shell, cmd: ImportCommand) -> Result<Exit> {
    match cmd {
        ImportCommand::Auth {
            file,
            codex_home,
            switch,
        } => import_auth(sh, file, codex_home, switch),
        ImportCommand::Legacy { path } => import_legacy(sh, path),
    }
}

fn import_auth(
    sh: &mut Shell,
    file: Option<PathBuf>,
    codex_home: Option<PathBuf>,
    switch: bool,
) -> Result<Exit> {
    let path = match file {
        Some(f) => paths::absolute(&f),
        None => auth::auth_path(&paths::codex_home_or_default(codex_home.as_deref())?),
    };
    let doc = auth::read_file(&path)?;
    let creds = doc.importable(&path)?;
    let account = Account::from_credentials(&creds, None, "import auth", sh.now());
    let (outcome, stored) = sh.engine()?.put_account(account, None, "import auth")?;
    let name = format!("{} ({})", sanitize(stored.name()), stored.id);
    sh.printer.status(match outcome {
        Upsert::Created => format!("imported {name}"),
        Upsert::Updated => format!("updated {name} with the tokens in {}", tick(&path)),
        Upsert::Unchanged => format!("{name} is already in the vault"),
        Upsert::KeptNewer => format!(
            "the vault already holds newer tokens for {name}; kept them (the file's copy is older)"
        ),
        Upsert::Spent => format!(
            "the file's copy of {name} holds a refresh token that was already spent; the vault keeps its own"
        ),
    });
    let o =
        Outcome::new("import auth").changed(matches!(outcome, Upsert::Created | Upsert::Updated));
    let o = o
        .with("file", &path)
        .with("account", AccountRef::from(&stored));
    let o = o.with("outcome", outcome.code());
    let o = sh.switch_if(switch, stored, o)?;
    sh.outcome(o);
    Ok(Exit::Success)
}

fn import_legacy(sh: &mut Shell, path: Option<PathBuf>) -> Result<Exit> {
    let path = match path {
        Some(p) => paths::absolute(&p),
        None => paths::default_codex_home()?.join("cdxs.toml"),
    };
    let store = legacy::read(&path, sh.now())?;
    let (mut created, mut updated, mut same) = (0, 0, 0);
    let mut accounts = Vec::new();
    let staged = store
        .accounts
        .iter()
        .map(|e| StagedAccount::of(e.account.clone()));
    for (outcome, stored) in sh
        .engine()?
        .put_accounts(staged.collect(), "import legacy")?
    {
        match outcome {
            Upsert::Created => created += 1,
            Upsert::Updated => updated += 1,
            Upsert::Unchanged | Upsert::KeptNewer | Upsert::Spent => same += 1,
        }
        let one =
            serde_json::json!({"account": AccountRef::from(&stored), "outcome": outcome.code()});
        accounts.push(one);
        sh.printer.detail(format!(
            "{outcome:?}: {} ({})",
            sanitize(stored.name()),
            stored.id
        ));
    }
    for why in &store.skipped {
        sh.printer.warn(format!("skipped {}", sanitize(why)));
    }
    sh.printer.status(format!(
        "imported {} accounts from {}: {created} new, {updated} updated, {same} unchanged",
        store.accounts.len(),
        tick(&path)
    ));
    let homes = match store.homes.is_empty() {
        true => Vec::new(),
        false => legacy_homes(sh, &store)?,
    };
    let o = Outcome::new("import legacy").changed(created + updated > 0 || !homes.is_empty());
    let o = o.with("file", &path).with("accounts", accounts);
    sh.outcome(
        o.with("skipped", &store.skipped)
            .with("homes_declared", homes),
    );
    Ok(Exit::Success)
}

/// The older tool's homes go into cdxs.yaml (created if there is none), with their bindings.
fn legacy_homes(sh: &mut Shell, store: &legacy::LegacyStore) -> Result<Vec<String>> {
    let existing = sh.manifest_for_aliases()?;
    let path = match &existing {
        Some(m) => m.path.clone(),
        None => paths::new_manifest_path(sh.settings.manifest_flag())?,
    };
    let accounts = sh.engine()?.vault().accounts()?;
    let text = existing.as_ref().map(|m| m.text.as_str());
    let base = text.unwrap_or(crate::manifest::init::LEGACY);
    let d = legacy::declare_homes(base, &path, store, &accounts)?;
    for w in &d.warnings {
        sh.printer.warn(w);
    }
    if !d.added.is_empty() {
        let edit = crate::reconcile::engine::ManifestEdit::new(&path, text, &d.text);
        let mut bar = sh.progress("import legacy");
        sh.engine()?
            .write_manifest(&edit, Vec::new(), "import legacy", &mut bar)?;
        let (n, names) = (d.added.len(), d.added.join(", "));
        sh.printer.status(format!(
            "declared {n} home(s) in {}: {names}; review them with `cdxs plan`",
            tick(&path)
        ));
    }
    Ok(d.added)
}
