//! Semantic checks of a parsed manifest. Every problem carries labelled spans and a help
//! line; all problems are collected, not just the first.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use miette::SourceSpan;
use serde_saphyr::Spanned;

use super::diagnostics::{Problem, did_you_mean, span};
use super::model::{RawAccount, RawBinding, RawManifest, RawPoolBinding, Strategy};
use super::{
    AccountRef, Binding, DEFAULT_SWITCH_BELOW, Home, Manifest, Sessions, SyncTarget, Watch,
};

struct Checker<'a> {
    text: &'a str,
    /// The manifest's path, for problems that must not show a snippet.
    file: String,
    problems: Vec<Problem>,
    /// Things to fix before plan and apply (they stop those, not `validate`).
    warnings: Vec<Problem>,
    /// Variables in paths that are not set here.
    unset: Vec<String>,
}

impl Checker<'_> {
    fn at<T>(&self, s: &Spanned<T>) -> SourceSpan {
        span(&s.referenced, self.text)
    }

    fn push(&mut self, p: Problem) {
        self.problems.push(p);
    }

    /// Expand a path of the file. A variable that is not set here is a warning (CI sets
    /// `$CI_PROJECT_DIR` where it runs plan; validate checks the file, on any machine) and
    /// stays in the path as written; anything else wrong with it is a problem.
    fn path(&mut self, value: &Spanned<String>, base: &Path, what: &str) -> Option<PathBuf> {
        let at = self.at(value);
        match crate::paths::expand_keeping_unset(&value.value, Some(base)) {
            Ok((path, unset)) => {
                for var in unset {
                    self.warnings.push(
                        Problem::warning(format!("{what} uses `${var}`, which is not set here"))
                            .label(at, format!("`${var}` is not set"))
                            .help(format!(
                                "set `{var}` where `cdxs plan` and `apply` run (they stop until it is), or write the path out"
                            )),
                    );
                    if !self.unset.contains(&var) {
                        self.unset.push(var);
                    }
                }
                Some(path)
            }
            Err(e) => {
                self.push(
                    Problem::new(format!("cannot expand {what}"))
                        .label(at, e.to_string())
                        .help("write the path out"),
                );
                None
            }
        }
    }

    /// Names are used in addresses (`home.<name>.auth`): keep them simple.
    fn check_name(&mut self, what: &str, name: &Spanned<String>) {
        let ok = name
            .value
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
            && name
                .value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !ok {
            let at = self.at(name);
            self.push(
                Problem::new(format!("`{}` is not a valid {what} name", name.value))
                    .label(at, "invalid name")
                    .help("use letters, digits, `-`, `_` and `.`, starting with a letter or digit"),
            );
        }
    }
}

/// Is this reference an OAuth login (bindable to one home only)? Validation reads no file:
/// what a mounted `auth_file` holds is known only to plan, which refuses a ChatGPT login
/// in one bound to two homes.
fn is_oauth(r: &AccountRef) -> bool {
    match r {
        AccountRef::Email { .. } => true,
        AccountRef::Id(id) => !id.starts_with("apikey_"),
        AccountRef::ApiKeyEnv { .. } | AccountRef::AuthFile(_) => false,
    }
}

pub fn validate(
    raw: RawManifest,
    path: &Path,
    base: &Path,
    text: &str,
) -> Result<Manifest, Vec<Problem>> {
    let mut c = Checker {
        text,
        file: crate::paths::display(path),
        problems: Vec::new(),
        warnings: Vec::new(),
        unset: Vec::new(),
    };
    c.version(&raw);
    let accounts = c.accounts(&raw, base);
    let pools = c.pools(&raw);
    let homes = c.homes(&raw, base, &accounts);
    let sessions = c.sessions(&raw);
    let sync = c.sync_targets(&raw);
    let watch = c.watch(&raw);
    if !c.problems.is_empty() {
        return Err(c.problems);
    }
    Ok(Manifest {
        path: path.to_path_buf(),
        text: text.to_string(),
        warnings: c.warnings,
        unset: c.unset,
        accounts,
        pools,
        homes,
        sessions,
        sync,
        watch,
        backups: retention(&raw),
    })
}

/// Names of the aliases declared under `accounts:` (including ones with problems).
fn alias_names(raw: &RawManifest) -> Vec<&str> {
    raw.accounts.keys().map(|k| k.value.as_str()).collect()
}

/// Who holds which alias so far: an OAuth login may live in one home only.
#[derive(Default)]
struct Holders {
    /// alias -> (home, span of the binding), for aliases bound directly.
    bound: BTreeMap<String, (String, SourceSpan)>,
    /// alias -> (home, span of the pool name), for members of a pool a home uses.
    pooled: BTreeMap<String, (String, SourceSpan)>,
}

impl Checker<'_> {
    fn version(&mut self, raw: &RawManifest) {
        if raw.version.value != 1 {
            let at = self.at(&raw.version);
            self.push(
                Problem::new(format!(
                    "unsupported manifest version {}",
                    raw.version.value
                ))
                .label(at, "this cdxs reads version 1")
                .help("set `version: 1`"),
            );
        }
    }

    fn accounts(&mut self, raw: &RawManifest, base: &Path) -> IndexMap<String, AccountRef> {
        let mut accounts = IndexMap::new();
        for (name, acc) in &raw.accounts {
            self.check_name("account alias", name);
            if let Some(r) = account_ref(self, name, acc, base) {
                accounts.insert(name.value.clone(), r);
            }
        }
        accounts
    }

    fn pools(&mut self, raw: &RawManifest) -> IndexMap<String, Vec<String>> {
        let alias_names = alias_names(raw);
        let mut pools = IndexMap::new();
        for (name, members) in &raw.pools {
            self.check_name("pool", name);
            if members.value.is_empty() {
                let at = self.at(name);
                self.push(
                    Problem::new(format!("pool `{}` has no members", name.value))
                        .label(at, "empty pool")
                        .help("list account aliases: `any: [spare1, spare2]`"),
                );
            }
            let mut seen: HashMap<&str, SourceSpan> = HashMap::new();
            for m in &members.value {
                let at = self.at(m);
                if let Some(first) = seen.insert(&m.value, at) {
                    self.push(
                        Problem::new(format!(
                            "`{}` is listed twice in pool `{}`",
                            m.value, name.value
                        ))
                        .label(first, "first here")
                        .label(at, "again here")
                        .help("list each member once"),
                    );
                }
                if !alias_names.contains(&m.value.as_str()) {
                    self.push(unknown_alias(&m.value, at, &alias_names, "pool member"));
                }
            }
            pools.insert(
                name.value.clone(),
                members.value.iter().map(|m| m.value.clone()).collect(),
            );
        }
        pools
    }

    fn homes(
        &mut self,
        raw: &RawManifest,
        base: &Path,
        accounts: &IndexMap<String, AccountRef>,
    ) -> IndexMap<String, Home> {
        let mut homes = IndexMap::new();
        let mut by_path: BTreeMap<PathBuf, SourceSpan> = BTreeMap::new();
        let mut holders = Holders::default();
        for (name, home) in &raw.homes {
            self.check_name("home", name);
            let path_at = self.at(&home.value.path);
            let Some(path) = self.path(
                &home.value.path,
                base,
                &format!("the path of home `{}`", name.value),
            ) else {
                continue;
            };
            if let Some(first) = by_path.insert(path.clone(), path_at) {
                self.push(
                    Problem::new(format!(
                        "two homes use the folder `{}`",
                        crate::paths::display(&path)
                    ))
                    .label(first, "first here")
                    .label(path_at, "and here")
                    .help("give each home its own folder; Codex keeps one login and one thread list per folder"),
                );
            }
            let binding = home.value.account.as_ref().map(|b| match &b.value {
                RawBinding::Alias(alias) => {
                    let at = self.at(b);
                    self.bind_alias(raw, accounts, &name.value, alias, at, &mut holders)
                }
                RawBinding::Pool(p) => self.bind_pool(raw, &name.value, p, &mut holders),
            });
            let store_file = home
                .value
                .codex_config
                .as_ref()
                .and_then(|c| c.cli_auth_credentials_store)
                .is_some_and(|s| s == super::model::CredentialsStore::File);
            homes.insert(
                name.value.clone(),
                Home {
                    name: name.value.clone(),
                    path,
                    binding,
                    store_file,
                },
            );
        }
        self.bound_and_pooled(&holders);
        homes
    }

    /// `account: <alias>`: the alias is declared, and an OAuth login is bound once.
    fn bind_alias(
        &mut self,
        raw: &RawManifest,
        accounts: &IndexMap<String, AccountRef>,
        home: &str,
        alias: &str,
        at: SourceSpan,
        holders: &mut Holders,
    ) -> Binding {
        let alias_names = alias_names(raw);
        if !alias_names.contains(&alias) {
            let mut p = unknown_alias(alias, at, &alias_names, "account");
            if raw.pools.keys().any(|k| k.value == alias) {
                p = p.help(format!(
                    "`{alias}` is a pool; bind it as `account: {{ pool: {alias} }}`"
                ));
            }
            self.push(p);
        } else if accounts.get(alias).is_some_and(is_oauth)
            && let Some((other, first)) = holders
                .bound
                .insert(alias.to_string(), (home.to_string(), at))
        {
            self.push(double_binding(alias, &other, home, first, at));
        }
        Binding::Account(alias.to_string())
    }

    /// `account: { pool: <name> }`: the pool is declared; its members are held by this home.
    fn bind_pool(
        &mut self,
        raw: &RawManifest,
        home: &str,
        p: &RawPoolBinding,
        holders: &mut Holders,
    ) -> Binding {
        let pool_at = self.at(&p.pool);
        match raw.pools.iter().find(|(k, _)| k.value == p.pool.value) {
            None => {
                let names: Vec<&str> = raw.pools.keys().map(|k| k.value.as_str()).collect();
                let prob = Problem::new(format!(
                    "home `{home}` uses pool `{}`, which is not declared",
                    p.pool.value
                ))
                .label(pool_at, "unknown pool");
                self.push(match did_you_mean(&p.pool.value, names.iter().copied()) {
                    Some(best) => prob.help(format!("did you mean `{best}`?")),
                    None => prob.help("declare it under `pools:`"),
                });
            }
            Some((_, members)) => {
                for m in &members.value {
                    holders
                        .pooled
                        .insert(m.value.clone(), (home.to_string(), pool_at));
                }
            }
        }
        Binding::Pool {
            pool: p.pool.value.clone(),
            strategy: p.strategy.unwrap_or(Strategy::MostRemaining),
            switch_below: p.switch_below.map(|s| s.0).unwrap_or(DEFAULT_SWITCH_BELOW),
        }
    }

    /// An OAuth account drawn from a pool must not also be bound directly elsewhere.
    fn bound_and_pooled(&mut self, holders: &Holders) {
        for (alias, (home, at)) in &holders.bound {
            if let Some((pool_home, pool_at)) = holders.pooled.get(alias)
                && pool_home != home
            {
                self.push(
                    Problem::new(format!(
                        "account `{alias}` is bound to home `{home}` and is also in the pool that home `{pool_home}` uses"
                    ))
                    .label(*at, "bound here")
                    .label(*pool_at, "pool used here")
                    .help("a ChatGPT login may live in one home only (Codex rotates its refresh token); take it out of the pool or bind another account"),
                );
            }
        }
    }

    fn sessions(&mut self, raw: &RawManifest) -> Sessions {
        let mut sessions = Sessions::default();
        let Some(s) = &raw.sessions else {
            return sessions;
        };
        sessions.trash_max_age = s.trash_max_age;
        sessions.auto_repair = s.auto_repair.unwrap_or(false);
        if let Some(list) = &s.share_threads {
            let names: Vec<&str> = raw.homes.keys().map(|k| k.value.as_str()).collect();
            for h in list {
                if !names.contains(&h.value.as_str()) {
                    let at = self.at(h);
                    let p = Problem::new(format!(
                        "`share_threads` names home `{}`, which is not declared",
                        h.value
                    ))
                    .label(at, "unknown home");
                    self.push(match did_you_mean(&h.value, names.iter().copied()) {
                        Some(best) => p.help(format!("did you mean `{best}`?")),
                        None => p.help("list homes declared under `homes:`"),
                    });
                }
            }
            sessions.share_threads = list.iter().map(|h| h.value.clone()).collect();
            sessions.share_threads.dedup();
        }
        sessions
    }

    fn sync_targets(&mut self, raw: &RawManifest) -> Vec<SyncTarget> {
        let mut sync = Vec::new();
        let Some(s) = &raw.sync else {
            return sync;
        };
        let mut names: HashMap<&str, SourceSpan> = HashMap::new();
        for t in &s.targets {
            let at = self.at(&t.name);
            self.check_name("sync target", &t.name);
            if let Some(first) = names.insert(&t.name.value, at) {
                self.push(
                    Problem::new(format!("two sync targets are named `{}`", t.name.value))
                        .label(first, "first here")
                        .label(at, "again here")
                        .help("give each target its own name"),
                );
            }
            let url = t.url.value.trim_end_matches('/');
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                let at = self.at(&t.url);
                self.push(
                    Problem::new(format!("`{}` is not an http(s) URL", t.url.value))
                        .label(at, "bad URL")
                        .help("write the server's URL, e.g. `https://cdxs.example.net`"),
                );
            }
            sync.push(SyncTarget {
                name: t.name.value.clone(),
                url: url.to_string(),
                user: t.user.clone(),
                share_accounts: t.share.contains(&super::model::ShareKind::Accounts),
            });
        }
        sync
    }

    fn watch(&mut self, raw: &RawManifest) -> Watch {
        let mut watch = Watch::default();
        let Some(w) = &raw.watch else {
            return watch;
        };
        if let Some(i) = w.interval {
            watch.interval = i;
        }
        if let Some(r) = &w.refresh_before_expiry {
            if let Some(p) = refresh_window_problem(r.value, self.at(r)) {
                self.push(p);
            }
            watch.refresh_before_expiry = r.value;
        }
        watch.apply = w.apply.unwrap_or_default();
        if let Some(d) = w.min_dwell {
            watch.min_dwell = d;
        }
        watch
    }
}

/// `backups:`, with the defaults for what it leaves out.
fn retention(raw: &RawManifest) -> crate::backup::Retention {
    let backups = raw.backups.as_ref();
    crate::backup::Retention {
        max_age_secs: backups
            .and_then(|b| b.max_age)
            .map(|d| d.seconds)
            .unwrap_or(crate::backup::DEFAULT_RETENTION.max_age_secs),
        keep_last: backups
            .and_then(|b| b.keep_last)
            .map(|n| n as usize)
            .unwrap_or(crate::backup::DEFAULT_RETENTION.keep_last),
    }
}

fn account_ref(
    c: &mut Checker,
    name: &Spanned<String>,
    acc: &Spanned<RawAccount>,
    base: &Path,
) -> Option<AccountRef> {
    let a = &acc.value;
    let (kind, value) = the_one_kind(c, name, a)?;
    misplaced_options(c, a, kind);
    let v = value.value.trim();
    if v.is_empty() {
        let at = c.at(value);
        c.push(
            Problem::new(format!("`{kind}` of account `{}` is empty", name.value))
                .label(at, "empty")
                .help("fill it in"),
        );
        return None;
    }
    Some(match kind {
        "email" => AccountRef::Email {
            email: v.to_string(),
            workspace: a.workspace.as_ref().map(|w| w.value.clone()),
        },
        "id" => AccountRef::Id(v.to_string()),
        "api_key_env" => {
            check_var_name(c, name, value, v);
            if let Some(b) = &a.base_url {
                check_base_url(c, name, b);
            }
            AccountRef::ApiKeyEnv {
                var: v.to_string(),
                base_url: a.base_url.as_ref().map(|b| b.value.trim().to_string()),
            }
        }
        _ => AccountRef::AuthFile(c.path(
            value,
            base,
            &format!("the auth file path of `{}`", name.value),
        )?),
    })
}

/// Which of `email`, `id`, `api_key_env` and `auth_file` names the account: exactly one.
fn the_one_kind<'a>(
    c: &mut Checker,
    name: &Spanned<String>,
    a: &'a RawAccount,
) -> Option<(&'static str, &'a Spanned<String>)> {
    let kinds: Vec<(&str, &Spanned<String>)> = [
        ("email", a.email.as_ref()),
        ("id", a.id.as_ref()),
        ("api_key_env", a.api_key_env.as_ref()),
        ("auth_file", a.auth_file.as_ref()),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k, v)))
    .collect();
    let name_at = c.at(name);
    if kinds.is_empty() {
        c.push(
            Problem::new(format!("account `{}` does not say which account it is", name.value))
                .label(name_at, "needs `email`, `id`, `api_key_env` or `auth_file`")
                .help("e.g. `personal: { email: me@example.com }` or `ci: { api_key_env: OPENAI_API_KEY }`"),
        );
        return None;
    }
    if kinds.len() > 1 {
        let mut p = Problem::new(format!(
            "account `{}` mixes {}",
            name.value,
            kinds
                .iter()
                .map(|(k, _)| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(" and ")
        ));
        for (k, v) in &kinds {
            p = p.label(c.at(v), format!("`{k}`"));
        }
        c.push(p.help("an alias names one account: keep one of them"));
        return None;
    }
    Some(kinds[0])
}

/// `workspace` belongs to `email` and `base_url` to `api_key_env`.
fn misplaced_options(c: &mut Checker, a: &RawAccount, kind: &str) {
    if let Some(ws) = &a.workspace
        && kind != "email"
    {
        let at = c.at(ws);
        c.push(
            Problem::new("`workspace` goes with `email`")
                .label(at, "only meaningful with `email`")
                .help("remove it, or name the account by `email` and `workspace`"),
        );
    }
    if let Some(b) = &a.base_url
        && kind != "api_key_env"
    {
        let at = c.at(b);
        c.push(
            Problem::new("`base_url` goes with `api_key_env`")
                .label(at, "only meaningful with `api_key_env`")
                .help("a vault API-key account keeps its own base URL (`cdxs account add-api-key --base-url`)"),
        );
    }
}

/// `api_key_env` names a variable; a key pasted there is never quoted back.
fn check_var_name(c: &mut Checker, name: &Spanned<String>, value: &Spanned<String>, v: &str) {
    if crate::secret::looks_like_secret(v) {
        let at = c.at(value);
        c.push(
            Problem::new(format!(
                "`api_key_env` of account `{}` holds what looks like a key, not the name of a variable",
                name.value
            ))
            .label(at, "expected a name like OPENAI_API_KEY")
            .help("keys never go into cdxs.yaml: remove it from the file (and from its history, and rotate the key if the file was shared), then name the variable that holds it"),
        );
    } else if !v.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_') {
        let at = c.at(value);
        c.push(
            Problem::new(format!("`{v}` is not an environment variable name"))
                .label(at, "expected a name like OPENAI_API_KEY")
                .help("name the variable, not its value: keys never go into cdxs.yaml"),
        );
    }
}

/// The `base_url` of an API-key account is an endpoint Codex can call.
fn check_base_url(c: &mut Checker, name: &Spanned<String>, b: &Spanned<String>) {
    let Err(why) = crate::codex::config::check_base_url(b.value.trim()) else {
        return;
    };
    let (line, column) = (b.referenced.line(), b.referenced.column());
    let problem = Problem::new(format!(
        "bad `base_url` of account `{}` at {}:{line}:{column}: {why}",
        name.value, c.file
    ))
    .help("write the endpoint Codex should call, like https://proxy.example.com/v1");
    // A URL with a password, a query or a fragment is not shown back (no snippet of that
    // line).
    let holds_secret = url::Url::parse(b.value.trim()).is_ok_and(|u| {
        !u.username().is_empty()
            || u.password().is_some()
            || u.query().is_some()
            || u.fragment().is_some()
    });
    c.push(if holds_secret {
        problem
    } else {
        let at = c.at(b);
        problem.label(at, "not a usable endpoint")
    });
}

fn unknown_alias(alias: &str, at: SourceSpan, known: &[&str], what: &str) -> Problem {
    let p = Problem::new(format!(
        "{what} `{alias}` is not declared under `accounts:`"
    ))
    .label(at, "undeclared alias");
    match did_you_mean(alias, known.iter().copied()) {
        Some(best) => p.help(format!("did you mean `{best}`?")),
        None => p.help(format!(
            "declare it, e.g. `accounts: {{ {alias}: {{ email: you@example.com }} }}`"
        )),
    }
}

fn double_binding(
    alias: &str,
    first_home: &str,
    second_home: &str,
    first: SourceSpan,
    second: SourceSpan,
) -> Problem {
    Problem::new(format!(
        "ChatGPT account `{alias}` is bound to two homes, `{first_home}` and `{second_home}`"
    ))
    .label(first, "bound here")
    .label(second, "and here")
    .help("Codex rotates refresh tokens, so two live copies of one login end in `refresh_token_reused`; bind another account, or use a pool")
}

/// The longest `watch.refresh_before_expiry` that makes sense.
pub const MAX_REFRESH_WINDOW_SECS: u64 = 86_400;

/// `watch.refresh_before_expiry` outside the range where it means something: below Codex's
/// own 5 minutes it would never be the refresh that happens (Codex, and cdxs before it
/// writes a login, refresh within 5 minutes anyway); longer than a day it refreshes a login
/// far ahead of need, and as long as an access token lives it would refresh on every cycle.
fn refresh_window_problem(value: super::Duration, at: SourceSpan) -> Option<Problem> {
    let codex = crate::vault::freshness::CODEX_WINDOW_SECS as u64;
    if value.seconds < codex {
        return Some(
            Problem::new(format!(
                "`refresh_before_expiry: {value}` is shorter than Codex's own refresh window (5m)"
            ))
            .label(at, "too short")
            .help("Codex refreshes a token that expires within 5 minutes itself, and cdxs refreshes one before it writes it into a home; a shorter window never fires first. Write at least `5m` (or leave it out: 10m)"),
        );
    }
    if value.seconds > MAX_REFRESH_WINDOW_SECS {
        return Some(
            Problem::new(format!(
                "`refresh_before_expiry: {value}` is longer than a day"
            ))
            .label(at, "too long")
            .help("a login is refreshed this long before its access token expires: a window as long as a token lives refreshes it at every cycle. Write `1d` or less (the default is 10m)"),
        );
    }
    None
}
