//! `login oauth`.

use std::net::TcpListener;

use super::Ctx;
use super::homes::{Named, bind_named};
use crate::auth::oauth::{self, Pkce};
use crate::codex::auth::ChatGptTokens;
use crate::error::{Error, Exit, Result};
use crate::secret::Secret;
use crate::vault::Account;
use crate::vault::accounts::Upsert;

pub fn oauth(ctx: &Ctx, manual: bool, port: u16, no_browser: bool, switch: bool) -> Result<Exit> {
    let timeout = oauth::login_timeout()?;
    let pkce = Pkce::new();
    let (code, port) = if manual {
        let url = oauth::authorize_url(&pkce, port)?;
        eprintln!("Open this address in a browser and log in:\n\n  {url}\n");
        eprintln!(
            "The browser then goes to http://localhost:{port}/auth/callback?... (the page may fail to load: that is fine).\nPaste that whole address here and press Enter:"
        );
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| Error::io("cannot read the pasted address", e))?;
        (oauth::parse_callback(&line, &pkce.state)?, port)
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
        eprintln!("Log in to ChatGPT in your browser:\n\n  {url}\n");
        if !no_browser && oauth::open_browser(&url) {
            eprintln!("(a browser was opened; if not, open the address above yourself)");
        }
        eprintln!(
            "Waiting for the browser to come back to http://localhost:{port}/auth/callback (up to {} s)...",
            timeout.as_secs()
        );
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
        last_refresh: Some(ctx.now),
    };
    let mut account = Account::oauth(&creds, "login", ctx.ts());
    if account.email.is_none() {
        return Err(Error::user("the login's id token carries no email")
            .with_help("log in again; this account cannot be told apart"));
    }
    account.requires_reauth = false;
    let mut vault = ctx.vault()?;
    let (outcome, stored) = vault.upsert(&account)?;
    ctx.printer.status(format!(
        "{} {} ({}{})",
        match outcome {
            Upsert::Created => "logged in as",
            _ => "logged in again as",
        },
        stored.name(),
        stored.id,
        stored
            .plan_type
            .as_deref()
            .map(|p| format!(", {p}"))
            .unwrap_or_default()
    ));
    if switch {
        let m = crate::manifest::optional(ctx.global.manifest.as_deref())?;
        let alias = m.as_ref().and_then(|m| {
            m.accounts
                .iter()
                .find(|(_, r)| super::homes::ref_names(r, &stored))
                .map(|(a, _)| a.clone())
        });
        bind_named(
            ctx,
            m,
            &mut vault,
            Named::Account(Box::new(stored), alias),
            None,
            None,
        )?;
    }
    Ok(Exit::Success)
}
