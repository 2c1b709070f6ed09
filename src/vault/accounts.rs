//! Accounts in the vault: model, upsert with rotation safety, lookup by id/email/prefix.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};

use super::{Vault, ids};
use crate::codex::auth::{AuthExtra, ChatGptTokens, Credentials};
use crate::codex::jwt;
use crate::error::Result;
use crate::secret::Secret;
use crate::vault::freshness::{self, Freshness};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountKind {
    #[serde(rename = "oauth")]
    OAuth,
    #[serde(rename = "apikey")]
    ApiKey,
}

impl AccountKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountKind::OAuth => "oauth",
            AccountKind::ApiKey => "apikey",
        }
    }

    fn parse(s: &str) -> Self {
        if s == "apikey" {
            AccountKind::ApiKey
        } else {
            AccountKind::OAuth
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthTokens {
    pub id_token: Secret,
    pub access_token: Secret,
    pub refresh_token: Secret,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: String,
    pub kind: AccountKind,
    pub email: Option<String>,
    /// Display name for accounts without an email (API keys: `api-key-xxxxxxxx`).
    pub label: Option<String>,
    pub chatgpt_account_id: Option<String>,
    pub chatgpt_user_id: Option<String>,
    pub organization_id: Option<String>,
    pub plan_type: Option<String>,
    pub tokens: Option<OAuthTokens>,
    pub access_expires_at: Option<i64>,
    pub token_issued_at: Option<i64>,
    pub last_refresh: Option<DateTime<Utc>>,
    pub api_key: Option<Secret>,
    pub base_url: Option<String>,
    /// What the login's auth.json held beyond what cdxs models, carried verbatim.
    pub auth_extra: AuthExtra,
    pub requires_reauth: bool,
    /// Where it came from: `import auth`, `login`, `legacy`, `add-api-key`.
    pub source: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_used_at: Option<i64>,
}

impl Account {
    /// Build an account from credentials found in an `auth.json` (or a login).
    pub fn from_credentials(
        creds: &Credentials,
        base_url: Option<String>,
        source: &str,
        now: i64,
    ) -> Account {
        match creds {
            Credentials::ApiKey { key, extra } => {
                let mut a = Account::api_key(key.clone(), base_url, source, now);
                a.auth_extra = extra.clone();
                a
            }
            Credentials::ChatGpt(t) => Account::oauth(t, source, now),
        }
    }

    pub fn api_key(key: Secret, base_url: Option<String>, source: &str, now: i64) -> Account {
        let base_url = base_url.filter(|b| !b.is_empty());
        let id = ids::apikey_id(key.expose(), base_url.as_deref().unwrap_or(""));
        let label = format!("api-key-{}", &id["apikey_".len().."apikey_".len() + 8]);
        Account {
            id,
            kind: AccountKind::ApiKey,
            email: None,
            label: Some(label),
            chatgpt_account_id: None,
            chatgpt_user_id: None,
            organization_id: None,
            plan_type: None,
            tokens: None,
            access_expires_at: None,
            token_issued_at: None,
            last_refresh: None,
            api_key: Some(key),
            base_url,
            auth_extra: AuthExtra::default(),
            requires_reauth: false,
            source: Some(source.into()),
            created_at: now,
            updated_at: now,
            last_used_at: None,
        }
    }

    pub fn oauth(t: &ChatGptTokens, source: &str, now: i64) -> Account {
        let id_claims = t.id_claims();
        let access = t.access_claims();
        let chatgpt_account_id = t
            .account_id
            .clone()
            .or_else(|| id_claims.chatgpt_account_id.clone())
            .or_else(|| access.chatgpt_account_id.clone());
        let email = id_claims.email.clone().or(access.email.clone());
        let id = ids::oauth_id(
            email.as_deref().unwrap_or(""),
            chatgpt_account_id.as_deref().unwrap_or(""),
            id_claims.organization_id.as_deref().unwrap_or(""),
        );
        Account {
            id,
            kind: AccountKind::OAuth,
            email,
            label: None,
            chatgpt_account_id,
            chatgpt_user_id: id_claims.chatgpt_user_id.clone(),
            organization_id: id_claims.organization_id.clone(),
            plan_type: id_claims.plan_type.clone().or(access.plan_type.clone()),
            tokens: Some(OAuthTokens {
                id_token: t.id_token.clone(),
                access_token: t.access_token.clone(),
                refresh_token: t.refresh_token.clone(),
            }),
            access_expires_at: access.exp.or(id_claims.exp),
            token_issued_at: access.iat.or(id_claims.iat),
            last_refresh: t.last_refresh,
            api_key: None,
            base_url: None,
            auth_extra: t.extra.clone(),
            requires_reauth: false,
            source: Some(source.into()),
            created_at: now,
            updated_at: now,
            last_used_at: None,
        }
    }

    /// What a person calls this account: its email, or its label.
    pub fn name(&self) -> &str {
        self.email
            .as_deref()
            .or(self.label.as_deref())
            .unwrap_or(&self.id)
    }

    /// The credentials to write into a home's `auth.json`, if complete.
    pub fn credentials(&self) -> Option<Credentials> {
        match self.kind {
            AccountKind::ApiKey => self.api_key.clone().map(|key| Credentials::ApiKey {
                key,
                extra: self.auth_extra.top_only(),
            }),
            AccountKind::OAuth => self.tokens.as_ref().map(|t| {
                Credentials::ChatGpt(ChatGptTokens {
                    id_token: t.id_token.clone(),
                    access_token: t.access_token.clone(),
                    refresh_token: t.refresh_token.clone(),
                    account_id: self.chatgpt_account_id.clone(),
                    last_refresh: self.last_refresh,
                    extra: self.auth_extra.clone(),
                })
            }),
        }
    }

    pub fn freshness(&self) -> Freshness {
        Freshness {
            last_refresh: self.last_refresh,
            issued_at: self.token_issued_at,
            expires_at: self.access_expires_at,
        }
    }

    /// A fingerprint of the secret that identifies this copy of the credentials.
    pub fn secret_fingerprint(&self) -> Option<String> {
        match self.kind {
            AccountKind::ApiKey => self.api_key.as_ref().map(Secret::fingerprint),
            AccountKind::OAuth => self.tokens.as_ref().map(|t| t.refresh_token.fingerprint()),
        }
    }

    /// Take the tokens (and token-derived fields) of `newer`, a newer copy of the same
    /// login: its carried members win, members only this copy has are kept.
    fn adopt_tokens(&mut self, newer: &Account) {
        self.tokens = newer.tokens.clone();
        self.auth_extra = newer.auth_extra.over(&self.auth_extra);
        self.access_expires_at = newer.access_expires_at;
        self.token_issued_at = newer.token_issued_at;
        self.last_refresh = newer.last_refresh;
        self.requires_reauth = false;
        if newer.plan_type.is_some() {
            self.plan_type = newer.plan_type.clone();
        }
        if newer.chatgpt_user_id.is_some() {
            self.chatgpt_user_id = newer.chatgpt_user_id.clone();
        }
    }
}

/// Freshness of tokens as found in an `auth.json`.
pub fn tokens_freshness(t: &ChatGptTokens) -> Freshness {
    let access = t.access_claims();
    let id = t.id_claims();
    Freshness {
        last_refresh: t.last_refresh,
        issued_at: access.iat.or(id.iat),
        expires_at: access.exp.or(id.exp),
    }
}

/// What an upsert did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upsert {
    Created,
    /// Existing account; its tokens or metadata changed.
    Updated,
    /// Same credentials already stored.
    Unchanged,
    /// The vault already held newer tokens; the incoming older copy was ignored.
    KeptNewer,
    /// The incoming copy's refresh token was already spent: it is dead and was ignored.
    Spent,
}

impl Upsert {
    /// A stable name for `--json` outcomes.
    pub fn code(&self) -> &'static str {
        match self {
            Upsert::Created => "created",
            Upsert::Updated => "updated",
            Upsert::Unchanged => "unchanged",
            Upsert::KeptNewer => "kept_newer",
            Upsert::Spent => "spent",
        }
    }
}

const COLUMNS: &str = "id, kind, email, label, chatgpt_account_id, chatgpt_user_id, organization_id, \
    plan_type, id_token, access_token, refresh_token, access_expires_at, token_issued_at, \
    last_refresh, api_key, base_url, requires_reauth, source, created_at, updated_at, last_used_at, \
    auth_extra";

fn from_row(row: &Row) -> rusqlite::Result<Account> {
    let secret = |i: usize| -> rusqlite::Result<Option<Secret>> {
        Ok(row.get::<_, Option<String>>(i)?.map(Secret::new))
    };
    let id_token = secret(8)?;
    let access_token = secret(9)?;
    let refresh_token = secret(10)?;
    let tokens = match (id_token, access_token) {
        (Some(id_token), Some(access_token)) => Some(OAuthTokens {
            id_token,
            access_token,
            refresh_token: refresh_token.unwrap_or_else(|| Secret::new("")),
        }),
        _ => None,
    };
    let last_refresh: Option<String> = row.get(13)?;
    Ok(Account {
        id: row.get(0)?,
        kind: AccountKind::parse(&row.get::<_, String>(1)?),
        email: row.get(2)?,
        label: row.get(3)?,
        chatgpt_account_id: row.get(4)?,
        chatgpt_user_id: row.get(5)?,
        organization_id: row.get(6)?,
        plan_type: row.get(7)?,
        tokens,
        access_expires_at: row.get(11)?,
        token_issued_at: row.get(12)?,
        last_refresh: last_refresh
            .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
            .map(|d| d.with_timezone(&Utc)),
        api_key: secret(14)?,
        base_url: row.get(15)?,
        requires_reauth: row.get::<_, i64>(16)? != 0,
        source: row.get(17)?,
        created_at: row.get(18)?,
        updated_at: row.get(19)?,
        last_used_at: row.get(20)?,
        auth_extra: AuthExtra::from_json(row.get::<_, Option<String>>(21)?.as_deref()),
    })
}

fn save(tx: &rusqlite::Transaction, a: &Account) -> Result<()> {
    let t = a.tokens.as_ref();
    tx.execute(
        &format!(
            "INSERT INTO accounts ({COLUMNS}) VALUES \
             (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22) \
             ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, email = excluded.email, \
             label = excluded.label, chatgpt_account_id = excluded.chatgpt_account_id, \
             chatgpt_user_id = excluded.chatgpt_user_id, organization_id = excluded.organization_id, \
             plan_type = excluded.plan_type, id_token = excluded.id_token, \
             access_token = excluded.access_token, refresh_token = excluded.refresh_token, \
             access_expires_at = excluded.access_expires_at, token_issued_at = excluded.token_issued_at, \
             last_refresh = excluded.last_refresh, api_key = excluded.api_key, base_url = excluded.base_url, \
             requires_reauth = excluded.requires_reauth, source = excluded.source, \
             updated_at = excluded.updated_at, last_used_at = excluded.last_used_at, \
             auth_extra = excluded.auth_extra"
        ),
        params![
            a.id,
            a.kind.as_str(),
            a.email,
            a.label,
            a.chatgpt_account_id,
            a.chatgpt_user_id,
            a.organization_id,
            a.plan_type,
            t.map(|t| t.id_token.expose()),
            t.map(|t| t.access_token.expose()),
            t.map(|t| t.refresh_token.expose()),
            a.access_expires_at,
            a.token_issued_at,
            a.last_refresh
                .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)),
            a.api_key.as_ref().map(|k| k.expose()),
            a.base_url,
            a.requires_reauth as i64,
            a.source,
            a.created_at,
            a.updated_at,
            a.last_used_at,
            a.auth_extra.to_json(),
        ],
    )?;
    tx.execute("DELETE FROM tombstones WHERE account_id = ?1", [&a.id])?;
    Ok(())
}

impl Vault {
    pub fn accounts(&self) -> Result<Vec<Account>> {
        let mut stmt = self.conn().prepare(&format!(
            "SELECT {COLUMNS} FROM accounts ORDER BY COALESCE(email, label, id), id"
        ))?;
        let rows = stmt.query_map([], from_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    pub fn account(&self, id: &str) -> Result<Option<Account>> {
        Ok(self
            .conn()
            .query_row(
                &format!("SELECT {COLUMNS} FROM accounts WHERE id = ?1"),
                [id],
                from_row,
            )
            .optional()?)
    }

    /// Insert or update an account. For OAuth accounts an incoming copy never replaces
    /// newer stored tokens (rotation safety). An OAuth account is matched by id, then by
    /// (email, ChatGPT account id), so re-importing a migrated account keeps its id.
    pub fn upsert(&mut self, incoming: &Account) -> Result<(Upsert, Account)> {
        self.write(|tx| upsert_in(tx, incoming))
    }

    /// [`Vault::upsert`] of a login cdxs itself just completed: when its tokens are taken,
    /// the members an earlier login carried (`login_owner_id` names that login) go.
    pub fn upsert_new_login(&mut self, incoming: &Account) -> Result<(Upsert, Account)> {
        self.write(|tx| {
            let (outcome, mut stored) = upsert_in(tx, incoming)?;
            if outcome == Upsert::Updated && stored.auth_extra != incoming.auth_extra {
                stored.auth_extra = incoming.auth_extra.clone();
                save(tx, &stored)?;
            }
            Ok((outcome, stored))
        })
    }

    /// Overwrite an account row exactly (caller did its own merging under a lock).
    pub fn put(&mut self, account: &Account) -> Result<()> {
        self.write(|tx| save(tx, account))
    }

    /// Delete an account and leave no copy of its secrets in the vault's files: the freed
    /// pages are zeroed (`secure_delete`, set at open) and the WAL, which still holds the
    /// pages as they were, is checkpointed into the file and truncated.
    pub fn remove(&mut self, id: &str) -> Result<bool> {
        let now = Utc::now().timestamp();
        let removed = self.write(|tx| {
            let n = tx.execute("DELETE FROM accounts WHERE id = ?1", [id])?;
            tx.execute("DELETE FROM remote_placements WHERE account_id = ?1", [id])?;
            if n > 0 {
                tx.execute(
                    "INSERT OR REPLACE INTO tombstones (account_id, deleted_at) VALUES (?1, ?2)",
                    params![id, now],
                )?;
            }
            Ok(n > 0)
        })?;
        if removed {
            // Another reader may keep the checkpoint from finishing (busy): the WAL is then
            // truncated by a later one; the row is gone either way.
            let _ = self
                .conn()
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        }
        Ok(removed)
    }

    /// Name an account (`account rename`, `add-api-key --name`): its label, which `list`
    /// shows and every command accepts. A name must be printable, at most 64 characters,
    /// not look like an id, and not be another account's name or email.
    pub fn rename(&mut self, id: &str, name: &str, now: i64) -> Result<()> {
        self.check_name(id, name)?;
        let name = name.trim();
        self.write(|tx| {
            tx.execute(
                "UPDATE accounts SET label = ?2, updated_at = ?3 WHERE id = ?1",
                params![id, name, now],
            )?;
            Ok(())
        })
    }

    /// Whether `name` may name account `id` (see [`Vault::rename`]); commands check before
    /// they plan the rename.
    pub fn check_name(&self, id: &str, name: &str) -> Result<()> {
        let name = name.trim();
        let taken = self.accounts()?.into_iter().any(|a| {
            a.id != id
                && (a.label.as_deref() == Some(name)
                    || a.email
                        .as_deref()
                        .is_some_and(|e| e.eq_ignore_ascii_case(name)))
        });
        let why = if name.is_empty() || name.chars().count() > 64 {
            Some("must have 1 to 64 characters")
        } else if name.chars().any(|c| c.is_control()) {
            Some("may not hold control characters")
        } else if name.starts_with("oauth_") || name.starts_with("apikey_") {
            Some("may not start like an account id (`oauth_`, `apikey_`)")
        } else if taken {
            Some("is already another account's name")
        } else {
            None
        };
        if let Some(why) = why {
            return Err(crate::error::Error::user(format!(
                "the name `{}` {why}",
                crate::text::sanitize(name)
            )));
        }
        Ok(())
    }

    pub fn touch_used(&mut self, id: &str, now: i64) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE accounts SET last_used_at = ?2 WHERE id = ?1",
                params![id, now],
            )?;
            Ok(())
        })
    }

    /// Find one account by exact id, exact email, unique id prefix or unique email/label
    /// prefix. Ambiguity is an error listing the candidates.
    pub fn find(&self, query: &str) -> Result<Account> {
        let all = self.accounts()?;
        Ok(find(&all, query)?.clone())
    }
}

pub(crate) fn upsert_in(
    tx: &rusqlite::Transaction,
    incoming: &Account,
) -> Result<(Upsert, Account)> {
    let existing = stored_copy(tx, incoming)?;
    // A copy holding a spent refresh token is dead, however new its stamps look.
    let spent = holds_spent_token(tx, incoming)?;
    let Some(mut stored) = existing else {
        if spent {
            return Ok((Upsert::Spent, incoming.clone()));
        }
        save(tx, incoming)?;
        return Ok((Upsert::Created, incoming.clone()));
    };
    if spent {
        return Ok((Upsert::Spent, stored));
    }
    let outcome = merge(&mut stored, incoming);
    if outcome == Upsert::Updated {
        stored.updated_at = incoming.updated_at;
        save(tx, &stored)?;
    }
    Ok((outcome, stored))
}

/// The vault's copy of `incoming`: by id, or (a ChatGPT login) by email and workspace.
fn stored_copy(tx: &rusqlite::Transaction, incoming: &Account) -> Result<Option<Account>> {
    let by_id = tx
        .query_row(
            &format!("SELECT {COLUMNS} FROM accounts WHERE id = ?1"),
            [&incoming.id],
            from_row,
        )
        .optional()?;
    Ok(match by_id {
        Some(a) => Some(a),
        None if incoming.kind == AccountKind::OAuth && incoming.email.is_some() => tx
            .query_row(
                &format!(
                    "SELECT {COLUMNS} FROM accounts WHERE kind = 'oauth' AND email = ?1 \
                     AND chatgpt_account_id IS ?2 ORDER BY created_at LIMIT 1"
                ),
                params![incoming.email, incoming.chatgpt_account_id],
                from_row,
            )
            .optional()?,
        None => None,
    })
}

/// Does `incoming` hold a refresh token that was spent?
fn holds_spent_token(tx: &rusqlite::Transaction, incoming: &Account) -> Result<bool> {
    Ok(match (&incoming.kind, &incoming.tokens) {
        (AccountKind::OAuth, Some(t)) if !t.refresh_token.is_empty() => tx
            .query_row(
                "SELECT 1 FROM spent_tokens WHERE fingerprint = ?1",
                [t.refresh_token.fingerprint()],
                |_| Ok(()),
            )
            .optional()?
            .is_some(),
        _ => false,
    })
}

/// `incoming` into the stored copy: a changed key, or newer tokens (older ones are kept
/// out), the members Codex wrote, and identity fields the stored copy lacks.
fn merge(stored: &mut Account, incoming: &Account) -> Upsert {
    // Members Codex wrote that the stored copy lacks or holds older values of.
    let carried = incoming.auth_extra.over(&stored.auth_extra);
    let outcome = match incoming.kind {
        AccountKind::ApiKey => {
            if stored.api_key == incoming.api_key && stored.base_url == incoming.base_url {
                carry_members(stored, carried)
            } else {
                stored.api_key = incoming.api_key.clone();
                stored.base_url = incoming.base_url.clone();
                stored.auth_extra = carried;
                Upsert::Updated
            }
        }
        AccountKind::OAuth => {
            if stored.tokens == incoming.tokens {
                carry_members(stored, carried)
            } else if stored.tokens.is_some()
                && freshness::compare(&incoming.freshness(), &stored.freshness()) == Ordering::Less
            {
                Upsert::KeptNewer
            } else {
                stored.adopt_tokens(incoming);
                Upsert::Updated
            }
        }
    };
    // Identity fields the incoming copy knows and the stored one lacks.
    for (slot, new) in [
        (&mut stored.email, &incoming.email),
        (&mut stored.organization_id, &incoming.organization_id),
        (&mut stored.chatgpt_account_id, &incoming.chatgpt_account_id),
    ] {
        if slot.is_none() && new.is_some() {
            *slot = new.clone();
        }
    }
    outcome
}

/// The same login seen again: take the members it carries (an upgraded Codex wrote
/// `login_owner_id` into a login the vault already had without it).
fn carry_members(stored: &mut Account, carried: AuthExtra) -> Upsert {
    if stored.auth_extra == carried {
        Upsert::Unchanged
    } else {
        stored.auth_extra = carried;
        Upsert::Updated
    }
}

/// The vault account whose credentials `creds` are, if any.
pub fn match_credentials<'a>(all: &'a [Account], creds: &Credentials) -> Option<&'a Account> {
    match creds {
        Credentials::ApiKey { key, .. } => all
            .iter()
            .find(|a| a.kind == AccountKind::ApiKey && a.api_key.as_ref() == Some(key)),
        Credentials::ChatGpt(_) => {
            let probe = Account::from_credentials(creds, None, "probe", 0);
            all.iter().find(|a| a.id == probe.id).or_else(|| {
                all.iter().find(|a| {
                    a.kind == AccountKind::OAuth
                        && a.email.is_some()
                        && a.email == probe.email
                        && a.chatgpt_account_id == probe.chatgpt_account_id
                })
            })
        }
    }
}

/// Re-derive token metadata after tokens change (refresh, harvest).
pub fn claims_of(tokens: &OAuthTokens) -> (jwt::Claims, jwt::Claims) {
    (
        jwt::decode(tokens.id_token.expose()).unwrap_or_default(),
        jwt::decode(tokens.access_token.expose()).unwrap_or_default(),
    )
}

/// Find one account by exact id, exact email or label, unique id prefix or unique
/// email/label prefix. Ambiguity lists the candidates.
pub fn find<'a>(
    all: &'a [Account],
    query: &str,
) -> std::result::Result<&'a Account, crate::error::ResolveError> {
    let q = query.trim();
    if q.is_empty() {
        return Err(crate::error::ResolveError::Empty);
    }
    if let Some(a) = all.iter().find(|a| a.id == q) {
        return Ok(a);
    }
    let lower = q.to_lowercase();
    let exact: Vec<&Account> = all
        .iter()
        .filter(|a| {
            a.email.as_deref().map(str::to_lowercase).as_deref() == Some(lower.as_str())
                || a.label.as_deref() == Some(q)
        })
        .collect();
    match exact.len() {
        1 => return Ok(exact[0]),
        0 => {}
        _ => return Err(ambiguous(q, &exact)),
    }
    let prefixed: Vec<&Account> = all
        .iter()
        .filter(|a| {
            a.id.starts_with(q)
                || a.email
                    .as_deref()
                    .is_some_and(|e| e.to_lowercase().starts_with(&lower))
                || a.label.as_deref().is_some_and(|l| l.starts_with(q))
        })
        .collect();
    match prefixed.len() {
        1 => Ok(prefixed[0]),
        0 => Err(crate::error::ResolveError::NoMatch {
            query: q.to_string(),
        }),
        _ => Err(ambiguous(q, &prefixed)),
    }
}

fn ambiguous(q: &str, candidates: &[&Account]) -> crate::error::ResolveError {
    crate::error::ResolveError::Ambiguous {
        query: q.to_string(),
        candidates: candidates
            .iter()
            .map(|a| match &a.chatgpt_account_id {
                Some(ws) => format!("{} ({}, workspace {ws})", a.name(), a.id),
                None => format!("{} ({})", a.name(), a.id),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tokens(email: &str, acct: &str, iat: i64, rt: &str) -> ChatGptTokens {
        let claims = json!({
            "email": email,
            "https://api.openai.com/auth": {"chatgpt_plan_type": "plus", "chatgpt_account_id": acct},
            "iat": iat, "exp": iat + 3600
        });
        ChatGptTokens {
            id_token: Secret::new(jwt::unsigned(&claims)),
            access_token: Secret::new(jwt::unsigned(&claims)),
            refresh_token: Secret::new(rt),
            account_id: Some(acct.into()),
            last_refresh: None,
            extra: Default::default(),
        }
    }

    #[test]
    fn upsert_never_replaces_newer_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let mut v = Vault::open(dir.path()).unwrap();
        let newer = Account::oauth(&tokens("a@x.io", "acct-1", 2000, "rt-new"), "test", 1);
        let older = Account::oauth(&tokens("a@x.io", "acct-1", 1000, "rt-old"), "test", 2);
        assert_eq!(v.upsert(&newer).unwrap().0, Upsert::Created);
        assert_eq!(v.upsert(&older).unwrap().0, Upsert::KeptNewer);
        let stored = v.account(&newer.id).unwrap().unwrap();
        assert_eq!(stored.tokens.unwrap().refresh_token.expose(), "rt-new");
        assert_eq!(v.upsert(&newer).unwrap().0, Upsert::Unchanged);
        let newest = Account::oauth(&tokens("a@x.io", "acct-1", 3000, "rt-3"), "test", 3);
        assert_eq!(v.upsert(&newest).unwrap().0, Upsert::Updated);
    }

    fn with_members(mut t: ChatGptTokens, members: serde_json::Value) -> ChatGptTokens {
        t.extra = AuthExtra::from_value(Some(&json!({ "tokens": members })));
        t
    }

    fn owner(v: &Vault, id: &str) -> Option<String> {
        let a = v.account(id).unwrap().unwrap();
        let Some(Credentials::ChatGpt(t)) = a.credentials() else {
            panic!("a ChatGPT login");
        };
        t.extra
            .tokens()
            .get("login_owner_id")
            .map(|v| v.to_string())
    }

    #[test]
    fn members_codex_wrote_reach_the_vault_and_come_back_out() {
        let dir = tempfile::tempdir().unwrap();
        let mut v = Vault::open(dir.path()).unwrap();
        let bare = Account::oauth(&tokens("a@x.io", "acct-1", 1000, "rt-1"), "t", 1);
        v.upsert(&bare).unwrap();
        assert_eq!(owner(&v, &bare.id), None);
        // The same login again, now as an upgraded Codex wrote it: the members are taken.
        let full = with_members(
            tokens("a@x.io", "acct-1", 1000, "rt-1"),
            json!({"login_owner_id": "lo_1", "oauth_provenance": {"issuer": "i", "client_id": "c"}}),
        );
        let (outcome, _) = v.upsert(&Account::oauth(&full, "t", 2)).unwrap();
        assert_eq!(outcome, Upsert::Updated);
        assert_eq!(owner(&v, &bare.id).as_deref(), Some("\"lo_1\""));
        // A newer copy without them (written by an older Codex) keeps them.
        let newer = Account::oauth(&tokens("a@x.io", "acct-1", 2000, "rt-2"), "t", 3);
        assert_eq!(v.upsert(&newer).unwrap().0, Upsert::Updated);
        assert_eq!(owner(&v, &bare.id).as_deref(), Some("\"lo_1\""));
        let rendered = crate::codex::auth::render(
            &v.account(&bare.id).unwrap().unwrap().credentials().unwrap(),
        );
        let out: serde_json::Value = serde_json::from_slice(&rendered).unwrap();
        assert_eq!(out["tokens"]["refresh_token"], "rt-2");
        assert_eq!(out["tokens"]["oauth_provenance"]["issuer"], "i");
        // An older copy never brings its members over the newer login's.
        let old = with_members(
            tokens("a@x.io", "acct-1", 500, "rt-0"),
            json!({"login_owner_id": "lo_0"}),
        );
        assert_eq!(
            v.upsert(&Account::oauth(&old, "t", 4)).unwrap().0,
            Upsert::KeptNewer
        );
        assert_eq!(owner(&v, &bare.id).as_deref(), Some("\"lo_1\""));
        // A login cdxs made itself is a new login: the old login's owner id goes.
        let fresh = Account::oauth(&tokens("a@x.io", "acct-1", 3000, "rt-3"), "login", 5);
        assert_eq!(v.upsert_new_login(&fresh).unwrap().0, Upsert::Updated);
        assert_eq!(owner(&v, &bare.id), None);
    }

    #[test]
    fn find_by_id_email_and_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let mut v = Vault::open(dir.path()).unwrap();
        let a = Account::oauth(&tokens("alice@x.io", "acct-1", 1, "r1"), "t", 1);
        let b = Account::oauth(&tokens("alina@x.io", "acct-2", 1, "r2"), "t", 1);
        let k = Account::api_key(Secret::new("sk-1"), None, "t", 1);
        for acc in [&a, &b, &k] {
            v.upsert(acc).unwrap();
        }
        assert_eq!(v.find(&a.id).unwrap().id, a.id);
        assert_eq!(v.find("ALICE@x.io").unwrap().id, a.id);
        assert_eq!(v.find("alin").unwrap().id, b.id);
        assert_eq!(v.find(k.label.as_deref().unwrap()).unwrap().id, k.id);
        let err = v.find("ali").unwrap_err().to_string();
        assert!(err.contains("matches 2 accounts"), "{err}");
        assert!(err.contains(&a.id) && err.contains(&b.id), "{err}");
        assert!(v.find("zed").is_err());
    }

    #[test]
    fn same_email_two_workspaces_are_two_accounts() {
        let dir = tempfile::tempdir().unwrap();
        let mut v = Vault::open(dir.path()).unwrap();
        let a = Account::oauth(&tokens("me@x.io", "ws-1", 1, "r1"), "t", 1);
        let b = Account::oauth(&tokens("me@x.io", "ws-2", 1, "r2"), "t", 1);
        v.upsert(&a).unwrap();
        v.upsert(&b).unwrap();
        assert_eq!(v.accounts().unwrap().len(), 2);
        let err = v.find("me@x.io").unwrap_err().to_string();
        assert!(
            err.contains("workspace ws-1") && err.contains("workspace ws-2"),
            "{err}"
        );
    }
}
