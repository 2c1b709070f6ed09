//! `vault export FILE` and `vault import FILE`: the whole vault in one sealed file (the work
//! is in `crate::archive`).

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::archive::{self, Key, SealedWith};
use crate::cli::input::read_passphrase;
use crate::cli::shell::Shell;
use crate::error::{Exit, Result};
use crate::output::views::{self, outcome::Outcome};

#[derive(Debug, Subcommand)]
pub enum VaultCommand {
    /// Write the whole vault (accounts with their tokens and keys, placements, spent
    /// tokens) into FILE (0600), sealed under a passphrase (Argon2id) or the sync key
    #[command(
        after_help = "Examples:\n  cdxs vault export ~/vault.cdxs                 # asks for a passphrase twice\n  printf '%s\\n' \"$PASS\" | cdxs vault export vault.cdxs --passphrase-stdin\n  cdxs vault export vault.cdxs --passphrase-file /run/secrets/pass\n  cdxs vault export vault.cdxs --sync-key        # sealed with this machine's sync key"
    )]
    Export(ExportArgs),
    /// Take a vault archive's accounts into this vault: never older or spent tokens
    #[command(
        after_help = "Examples:\n  cdxs vault import ~/vault.cdxs                 # asks for the passphrase\n  printf '%s\\n' \"$PASS\" | cdxs vault import vault.cdxs --passphrase-stdin\n  cdxs vault import vault.cdxs --json            # what each account did"
    )]
    Import(ImportArgs),
}

/// Where a passphrase comes from (never argv): a file, standard input, else a prompt.
#[derive(Debug, Args)]
pub struct PassphraseArgs {
    /// Read the passphrase from the first line of standard input
    #[arg(long, conflicts_with = "passphrase_file")]
    passphrase_stdin: bool,
    /// Read the passphrase from the first line of a file (a Docker secret, a 0600 file)
    #[arg(long, value_name = "PATH", env = "CDXS_PASSPHRASE_FILE")]
    passphrase_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    file: PathBuf,
    #[command(flatten)]
    pass: PassphraseArgs,
    /// Seal it with the sync key (`--target` picks which) instead of a passphrase
    #[arg(long, conflicts_with_all = ["passphrase_stdin", "passphrase_file"])]
    sync_key: bool,
    /// The sync target whose key seals it (default: the only one)
    #[arg(long, value_name = "NAME", requires = "sync_key")]
    target: Option<String>,
    /// Replace FILE if it exists
    #[arg(long)]
    force: bool,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    file: PathBuf,
    #[command(flatten)]
    pass: PassphraseArgs,
}

pub fn export(sh: &mut Shell, a: ExportArgs) -> Result<Exit> {
    archive::refuse_existing(&a.file, a.force)?;
    let (sync_key, pass);
    let key = if a.sync_key {
        sync_key = archive::export_key(sh.vault()?, a.target.as_deref())?;
        Key::SyncKey(&sync_key)
    } else {
        let p = &a.pass;
        let min = archive::MIN_PASSPHRASE_CHARS;
        pass = read_passphrase(p.passphrase_file.as_deref(), p.passphrase_stdin, true, min)?;
        Key::Passphrase(&pass)
    };
    let now = sh.now();
    let contents = archive::contents(sh.vault()?, now)?;
    let (bytes, sealed) = archive::seal(&contents, &key)?;
    archive::write(&a.file, &bytes)?;
    let (n, file) = (contents.counts(), &a.file);
    sh.printer.status(views::vault::exported(&n, file, &sealed));
    let o = Outcome::new("vault export")
        .changed(true)
        .with("file", file);
    sh.outcome(o.with("sealed", sealed).with("counts", n));
    Ok(Exit::Success)
}

pub fn import(sh: &mut Shell, a: ImportArgs) -> Result<Exit> {
    let archive = archive::read(&a.file)?;
    let contents = match &archive.sealed {
        SealedWith::SyncKey { key_id } => {
            archive.open(&Key::SyncKey(&archive::import_key(sh.vault()?, key_id)?))?
        }
        SealedWith::Passphrase { .. } => {
            let p = &a.pass;
            let pass = read_passphrase(p.passphrase_file.as_deref(), p.passphrase_stdin, false, 1)?;
            archive.open(&Key::Passphrase(&pass))?
        }
    };
    let m = sh.manifest_for_aliases()?;
    let done = sh.engine()?.import_archive(m.as_ref(), &a.file, contents)?;
    sh.printer.status(views::vault::imported(&done, &a.file));
    let o = Outcome::new("vault import").changed(done.changed());
    sh.outcome(o.with("file", &a.file).fields(&done));
    Ok(Exit::Success)
}
