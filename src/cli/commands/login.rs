//! `login oauth`: PKCE in the browser (or pasted), the tokens into the vault.

use std::net::TcpListener;

use clap::Subcommand;

use crate::auth::oauth::{self, Pkce};
use crate::cli::shell::Shell;
use crate::codex::auth::ChatGptTokens;
use crate::error::{Error, Exit, Result};
use crate::output::views::outcome::{AccountRef, Outcome};
use crate::secret::Secret;
use crate::vault::Account;

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
        /// Port of the local callback (Codex's client allows 1455; 0: any free one)
        #[arg(long, default_value_t = crate::endpoints::DEFAULT_CALLBACK_PORT, env = "CDXS_LOGIN_PORT")]
        port: u16,
        /// Do not try to open a browser
        #[arg(long)]
        no_browser: bool,
        /// Also make it the default home's account
        #[arg(long)]
        switch: bool,
    },
}

pub fn run(sh: &mut Shell, cmd: LoginCommand) -> Result<Exit> {
    let LoginCommand::Oauth {
        manual,
        port,
        no_browser,
        switch,
    } = cmd;
    let timeout = oauth::login_timeout()?;
    let pkce = Pkce::new();
    let p = &sh.printer;
    let (code, port) = if manual {
        (pasted_code(p, &pkce, port)?, port)
    } else {
        let listener = TcpListener::bind(("127.0.0.1", port)).map_err(|e| {
            Error::io(format!("cannot listen on localhost:{port} for the login callback"), e).with_help(
                "another login may be running; pass `--port N`, or `--manual` to paste the address instead",
            )
        })?;
        let port = listener
            .local_addr()
            .map_err(|e| Error::io("cannot read the callback port", e))?
            .port();
        let url = oauth::authorize_url(&pkce, port)?;
        p.ask(format!("Log in to ChatGPT in your browser:\n\n  {url}\n"));
        let remote = oauth::remote_without_display(|k| std::env::var(k).ok());
        if remote {
            p.warn(oauth::remote_hint(port));
        }
        if !no_browser && !remote && oauth::open_browser(&url) {
            p.ask("(a browser was opened; if not, open the address above yourself)");
        }
        p.ask(format!(
            "Waiting for the browser to come back to http://localhost:{port}/auth/callback (up to {} s)...",
            timeout.as_secs()
        ));
        (
            oauth::wait_for_callback(&listener, &pkce.state, timeout)?,
            port,
        )
    };
    let tokens = oauth::exchange(&code, &pkce, port)?;
    let creds = ChatGptTokens {
        id_token: Secret::new(tokens.id_token.unwrap_or_default()),
        access_token: Secret::new(tokens.access_token.unwrap_or_default()),
        refresh_token: Secret::new(tokens.refresh_token.unwrap_or_default()),
        account_id: None,
        last_refresh: Some(sh.settings.clock.now()),
        // A new login: nothing of an earlier login's members belongs to it.
        extra: Default::default(),
    };
    let mut account = Account::oauth(&creds, "login", sh.now());
    if account.email.is_none() {
        return Err(Error::user("the login's id token carries no email")
            .with_help("log in again; this account cannot be told apart"));
    }
    account.requires_reauth = false;
    let (outcome, stored) = sh.engine()?.put_new_login(account, "login oauth")?;
    let said = crate::output::views::accounts::logged_in(&outcome, &stored);
    sh.printer.status(said);
    let o = Outcome::new("login oauth")
        .changed(true)
        .with("outcome", outcome.code())
        .with("account", AccountRef::from(&stored))
        .with("plan_type", &stored.plan_type);
    let m = sh.manifest_for_aliases().ok().flatten();
    let next = crate::output::views::accounts::after_login(m.as_ref(), &stored, switch);
    let o = sh.switch_if(switch, stored, o)?;
    sh.printer.status(next);
    sh.outcome(o);
    Ok(Exit::Success)
}

/// `--manual`: the user opens the address and pastes the one the browser ended on.
fn pasted_code(p: &crate::output::Printer, pkce: &Pkce, port: u16) -> Result<String> {
    let url = oauth::authorize_url(pkce, port)?;
    p.ask(format!(
        "Open this address in a browser and log in:\n\n  {url}\n"
    ));
    p.ask(format!(
        "The browser then goes to http://localhost:{port}/auth/callback?... (the page may fail to load: that is fine).\nPaste that whole address here and press Enter:"
    ));
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::Read::take(std::io::stdin().lock(), 16 * 1024),
        &mut line,
    )
    .map_err(|e| Error::io("cannot read the pasted address", e))?;
    oauth::parse_callback(&line, &pkce.state)
}
