//! Table-driven tests of the pure planner: manifests and observations built in memory.

use std::path::{Path, PathBuf};

use super::*;
use crate::reconcile::observe::QuotaObs;
use crate::reconcile::observe::{AccountObs, AuthObs, CredObs, HomeObs};
use crate::reconcile::{ActionKind, CredentialSource, Op};
use crate::vault::AccountKind;
use crate::vault::freshness::Freshness;
use crate::vault::journal::Baseline;

fn manifest(yaml: &str) -> Manifest {
    crate::manifest::parse(yaml, Path::new("/cfg/cdxs.yaml")).unwrap_or_else(|r| panic!("{r}"))
}

fn fresh(t: i64) -> Freshness {
    Freshness {
        last_refresh: chrono::DateTime::from_timestamp(t, 0),
        issued_at: Some(t),
        expires_at: Some(t + 3600),
    }
}

fn oauth(id: &str, email: &str, t: i64) -> AccountObs {
    AccountObs {
        id: id.into(),
        kind: AccountKind::OAuth,
        name: email.into(),
        email: Some(email.into()),
        workspace: Some(format!("ws-{id}")),
        plan_type: Some("plus".into()),
        freshness: fresh(t),
        secret_fingerprint: Some(format!("sha256:rt-{id}-{t}")),
        has_credentials: true,
        requires_reauth: false,
        base_url: None,
    }
}

fn chatgpt_file(a: &AccountObs, t: i64) -> AuthObs {
    AuthObs::Credentials(CredObs::ChatGpt {
        identity_id: a.id.clone(),
        email: a.email.clone(),
        workspace: a.workspace.clone(),
        plan_type: a.plan_type.clone(),
        freshness: fresh(t),
        refresh_fingerprint: format!("sha256:rt-{}-{t}", a.id),
        account_id: Some(a.id.clone()),
    })
}

fn home(path: &str, auth: AuthObs) -> HomeObs {
    HomeObs {
        path: PathBuf::from(path),
        dir_exists: true,
        auth_fingerprint: match &auth {
            AuthObs::Missing => None,
            other => Some(format!("fp:{other:?}").chars().take(40).collect()),
        },
        auth,
        config: Default::default(),
        processes: vec![],
        shared_fs: None,
        live_threads: vec![],
    }
}

const TWO_HOMES: &str = "version: 1\naccounts:\n  me: { email: me@x.io }\n  work: { email: me@corp.io }\nhomes:\n  default: { path: /h/default, account: me }\n  work: { path: /h/work, account: work }\n";

fn observed_two(default_auth: AuthObs, work_auth: AuthObs) -> Observed {
    let mut o = Observed {
        accounts: vec![
            oauth("oauth_me", "me@x.io", 100),
            oauth("oauth_work", "me@corp.io", 100),
        ],
        ..Observed::default()
    };
    o.homes
        .insert("default".into(), home("/h/default", default_auth));
    o.homes.insert("work".into(), home("/h/work", work_auth));
    o
}

fn addresses(p: &Plan) -> Vec<(String, ActionKind)> {
    p.actions
        .iter()
        .map(|a| (a.address.to_string(), a.kind))
        .collect()
}

#[test]
fn homes_in_sync_plan_nothing() {
    let m = manifest(TWO_HOMES);
    let o = observed_two(
        chatgpt_file(&oauth("oauth_me", "me@x.io", 100), 100),
        chatgpt_file(&oauth("oauth_work", "me@corp.io", 100), 100),
    );
    let p = plan(&m, &o, &Inputs::at(1000));
    assert!(p.actions.is_empty(), "{:#?}", p.actions);
    assert!(p.errors.is_empty() && p.drift.is_empty());
    assert_eq!(p.observed.len(), 2);
}

#[test]
fn missing_folder_and_file_are_created() {
    let m = manifest(TWO_HOMES);
    let mut o = observed_two(
        AuthObs::Missing,
        chatgpt_file(&oauth("oauth_work", "me@corp.io", 100), 100),
    );
    o.homes.get_mut("default").unwrap().dir_exists = false;
    let p = plan(&m, &o, &Inputs::at(1000));
    assert_eq!(
        addresses(&p),
        vec![
            ("home.default.dir".to_string(), ActionKind::Create),
            ("home.default.auth".to_string(), ActionKind::Create),
        ]
    );
    let write = &p.actions[1];
    assert_eq!(write.changes[0].before, None);
    assert_eq!(
        write.changes[0].after.as_deref(),
        Some("me = me@x.io (plus)")
    );
    assert!(
        matches!(&write.op, Op::WriteAuth { source: CredentialSource::Vault { account_id }, expect: None, .. } if account_id == "oauth_me")
    );
    assert_eq!(p.summary().add, 2);
}

#[test]
fn another_account_is_switched_with_a_redacted_diff() {
    let m = manifest(TWO_HOMES);
    let other = oauth("oauth_work", "me@corp.io", 100);
    let o = observed_two(chatgpt_file(&other, 100), chatgpt_file(&other, 100));
    let p = plan(&m, &o, &Inputs::at(1000));
    assert_eq!(
        addresses(&p),
        vec![("home.default.auth".to_string(), ActionKind::Update)]
    );
    let a = &p.actions[0];
    assert_eq!(a.changes[0].before.as_deref(), Some("me@corp.io (plus)"));
    assert_eq!(a.changes[0].after.as_deref(), Some("me = me@x.io (plus)"));
    assert!(
        a.description.contains("switch auth.json to me"),
        "{}",
        a.description
    );
}

#[test]
fn newer_tokens_in_a_home_are_harvested_not_overwritten() {
    let m = manifest(TWO_HOMES);
    let me = oauth("oauth_me", "me@x.io", 100);
    let o = observed_two(
        chatgpt_file(&me, 200),
        chatgpt_file(&oauth("oauth_work", "me@corp.io", 100), 100),
    );
    let p = plan(&m, &o, &Inputs::at(1000));
    assert_eq!(
        addresses(&p),
        vec![("account.me.harvest".to_string(), ActionKind::Read)]
    );
    assert!(matches!(&p.actions[0].op, Op::Harvest { home, .. } if home.to_string() == "default"));
}

#[test]
fn harvest_comes_before_writes_even_from_an_unbound_home() {
    let yaml = "version: 1\naccounts:\n  me: { email: me@x.io }\nhomes:\n  a: { path: /h/a, account: me }\n  old: { path: /h/old }\n";
    let m = manifest(yaml);
    let me = oauth("oauth_me", "me@x.io", 100);
    let mut o = Observed {
        accounts: vec![me.clone()],
        ..Observed::default()
    };
    o.homes.insert("a".into(), home("/h/a", AuthObs::Missing));
    o.homes
        .insert("old".into(), home("/h/old", chatgpt_file(&me, 300)));
    let p = plan(&m, &o, &Inputs::at(1000));
    // The newer tokens are taken first; the login is not copied into `a` while it is live
    // in `old` (two copies end in `refresh_token_reused`): that is an error naming both.
    assert_eq!(
        addresses(&p),
        vec![("account.me.harvest".to_string(), ActionKind::Read)]
    );
    assert_eq!(p.errors.len(), 1, "{:?}", p.errors);
    assert_eq!(p.errors[0].address, "home.a.auth");
    assert!(p.errors[0].message.contains("home `old`"), "{:?}", p.errors);
}

#[test]
fn a_newer_vault_copy_is_written_over_an_older_file() {
    let m = manifest(TWO_HOMES);
    let mut o = observed_two(
        chatgpt_file(&oauth("oauth_me", "me@x.io", 100), 50),
        chatgpt_file(&oauth("oauth_work", "me@corp.io", 100), 100),
    );
    o.accounts[0].freshness = fresh(100);
    let p = plan(&m, &o, &Inputs::at(1000));
    assert_eq!(
        addresses(&p),
        vec![("home.default.auth".to_string(), ActionKind::Update)]
    );
    assert!(
        p.actions[0].description.contains("newer tokens"),
        "{}",
        p.actions[0].description
    );
}

#[test]
fn drift_is_reported_but_a_codex_refresh_is_not() {
    let m = manifest(TWO_HOMES);
    let me = oauth("oauth_me", "me@x.io", 100);
    let work = oauth("oauth_work", "me@corp.io", 100);
    let mut o = observed_two(
        AuthObs::Credentials(CredObs::ApiKey {
            identity_id: "apikey_x".into(),
            key_fingerprint: "sha256:aaaa".into(),
            account_id: None,
        }),
        chatgpt_file(&work, 100),
    );
    o.baselines.insert(
        PathBuf::from("/h/default/auth.json"),
        Baseline {
            fingerprint: "sha256:old".into(),
            account_id: Some(me.id.clone()),
            generation: Some(3),
            account_since: 0,
        },
    );
    // Codex refreshed work's tokens: the file changed, same account: not drift.
    o.baselines.insert(
        PathBuf::from("/h/work/auth.json"),
        Baseline {
            fingerprint: "sha256:older".into(),
            account_id: Some(work.id.clone()),
            generation: Some(3),
            account_since: 0,
        },
    );
    let p = plan(&m, &o, &Inputs::at(1000));
    assert_eq!(p.drift.len(), 1, "{:#?}", p.drift);
    assert_eq!(p.drift[0].address, "home.default.auth");
    assert!(
        p.drift[0].description.contains("API key sha256:aaaa"),
        "{}",
        p.drift[0].description
    );
    assert!(p.drift[0].description.contains("generation 3"));
    assert_eq!(
        addresses(&p),
        vec![("home.default.auth".to_string(), ActionKind::Update)]
    );
}

#[test]
fn unresolvable_accounts_are_errors() {
    let yaml = "version: 1\naccounts:\n  ghost: { email: ghost@x.io }\n  ci: { api_key_env: CI_KEY }\nhomes:\n  a: { path: /h/a, account: ghost }\n  b: { path: /h/b, account: ci }\n";
    let m = manifest(yaml);
    let mut o = Observed::default();
    o.homes.insert("a".into(), home("/h/a", AuthObs::Missing));
    o.homes.insert("b".into(), home("/h/b", AuthObs::Missing));
    o.env_keys.insert("CI_KEY".into(), None);
    let p = plan(&m, &o, &Inputs::at(0));
    assert!(p.actions.is_empty());
    let messages: Vec<_> = p.errors.iter().map(|e| e.message.as_str()).collect();
    assert!(
        messages[0].contains("no login for ghost@x.io"),
        "{messages:?}"
    );
    assert!(messages[1].contains("`CI_KEY` is not set"), "{messages:?}");
}

#[test]
fn env_key_is_compared_by_fingerprint() {
    let yaml = "version: 1\naccounts:\n  ci: { api_key_env: CI_KEY }\nhomes:\n  a: { path: /h/a, account: ci }\n";
    let m = manifest(yaml);
    let mut o = Observed::default();
    let key = |fp: &str| {
        AuthObs::Credentials(CredObs::ApiKey {
            identity_id: "x".into(),
            key_fingerprint: fp.into(),
            account_id: None,
        })
    };
    o.homes
        .insert("a".into(), home("/h/a", key("sha256:11111111")));
    o.env_keys
        .insert("CI_KEY".into(), Some("sha256:11111111".into()));
    assert!(plan(&m, &o, &Inputs::at(0)).actions.is_empty());
    o.env_keys
        .insert("CI_KEY".into(), Some("sha256:22222222".into()));
    let p = plan(&m, &o, &Inputs::at(0));
    assert!(
        matches!(&p.actions[0].op, Op::WriteAuth { source: CredentialSource::Env { var, key_fingerprint }, .. } if var == "CI_KEY" && key_fingerprint == "sha256:22222222")
    );
}

#[test]
fn homes_sharing_a_pool_get_distinct_members_by_quota() {
    let yaml = "version: 1\naccounts:\n  s1: { email: s1@x.io }\n  s2: { email: s2@x.io }\n  s3: { email: s3@x.io }\npools:\n  any: [s1, s2, s3]\nhomes:\n  a: { path: /h/a, account: { pool: any } }\n  b: { path: /h/b, account: { pool: any, switch_below: 20% } }\n";
    let m = manifest(yaml);
    let mut o = Observed {
        accounts: vec![
            oauth("id1", "s1@x.io", 1),
            oauth("id2", "s2@x.io", 1),
            oauth("id3", "s3@x.io", 1),
        ],
        ..Observed::default()
    };
    for (id, left) in [("id1", 30.0), ("id2", 90.0), ("id3", 60.0)] {
        o.quota.insert(
            id.into(),
            QuotaObs {
                five_hour: Some(left),
                weekly: Some(99.0),
                ..QuotaObs::default()
            },
        );
    }
    o.homes.insert("a".into(), home("/h/a", AuthObs::Missing));
    // b currently holds s1 at 30% >= 20%: it stays (hysteresis).
    o.homes.insert(
        "b".into(),
        home("/h/b", chatgpt_file(&o.accounts[0].clone(), 1)),
    );
    let p = plan(&m, &o, &Inputs::at(0));
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert_eq!(
        addresses(&p),
        vec![("home.a.auth".to_string(), ActionKind::Create)]
    );
    assert!(
        matches!(&p.actions[0].op, Op::WriteAuth { source: CredentialSource::Vault { account_id }, .. } if account_id == "id2")
    );
    assert!(
        p.actions[0].description.contains("picked s2 (90% left)"),
        "{}",
        p.actions[0].description
    );
    // s1 drops to 10%: b moves to the best free member, s3 (a holds s2).
    o.quota.get_mut("id1").unwrap().five_hour = Some(10.0);
    o.homes.get_mut("a").unwrap().auth = chatgpt_file(&o.accounts[1].clone(), 1);
    let p = plan(&m, &o, &Inputs::at(0));
    assert_eq!(
        addresses(&p),
        vec![("home.b.auth".to_string(), ActionKind::Update)]
    );
    assert!(
        p.actions[0]
            .description
            .contains("s1 has 10% left < 20%, moving to s3"),
        "{}",
        p.actions[0].description
    );
}

#[test]
fn targets_select_actions_under_an_address() {
    let m = manifest(TWO_HOMES);
    let mut o = observed_two(AuthObs::Missing, AuthObs::Missing);
    o.homes.get_mut("work").unwrap().dir_exists = false;
    let mut p = plan(&m, &o, &Inputs::at(0));
    assert_eq!(p.actions.len(), 3);
    p.retain_targets(&["home.work".to_string()]);
    assert_eq!(
        addresses(&p),
        vec![
            ("home.work.dir".to_string(), ActionKind::Create),
            ("home.work.auth".to_string(), ActionKind::Create)
        ]
    );
}

#[test]
fn unmanaged_home_only_gets_its_folder() {
    let m = manifest("version: 1\nhomes:\n  s: { path: /h/s }\n");
    let mut o = Observed::default();
    let mut h = home("/h/s", AuthObs::Foreign("agentIdentity".into()));
    h.dir_exists = false;
    o.homes.insert("s".into(), h);
    let p = plan(&m, &o, &Inputs::at(0));
    assert_eq!(
        addresses(&p),
        vec![("home.s.dir".to_string(), ActionKind::Create)]
    );
}

/// The settings Codex acts on in a home whose config.toml is `text`, over `machine`.
fn settings_of(machine: &[(Layer, &str)], text: Option<&str>) -> crate::codex::config::ConfigObs {
    let machine = MachineLayers {
        sources: machine
            .iter()
            .map(|(layer, t)| Source {
                layer: *layer,
                place: format!("/etc/codex/{layer:?}.toml"),
                text: Some(Ok(t.to_string())),
            })
            .collect(),
        secrets_by_default: false,
    };
    crate::codex::config::ConfigObs {
        settings: effective(
            &machine,
            text.map(|t| Ok(t.to_string())).as_ref(),
            "/h/default/config.toml",
        ),
        credentials_store: text.and_then(|t| {
            t.parse::<toml::Table>()
                .ok()?
                .get("cli_auth_credentials_store")?
                .as_str()
                .map(str::to_string)
        }),
        text: text.map(str::to_string),
        fingerprint: text.map(|_| "sha256:config".to_string()),
        ..Default::default()
    }
}

use crate::codex::settings::{Layer, MachineLayers, Source, effective};

#[test]
fn a_home_whose_codex_ignores_auth_json_is_an_error_and_gets_nothing() {
    let m = manifest(TWO_HOMES);
    for (machine, text, names) in [
        (
            vec![],
            Some("cli_auth_credentials_store = \"keyring\"\n"),
            "/h/default/config.toml",
        ),
        (
            vec![(Layer::System, "cli_auth_credentials_store = \"auto\"\n")],
            None,
            "/etc/codex/System.toml",
        ),
        (
            vec![(
                Layer::Requirements,
                "cli_auth_credentials_store = \"keyring\"\n",
            )],
            Some("cli_auth_credentials_store = \"file\"\n"),
            "only an administrator",
        ),
    ] {
        let mut o = observed_two(AuthObs::Missing, AuthObs::Missing);
        o.homes.get_mut("default").unwrap().config = settings_of(&machine, text);
        let p = plan(&m, &o, &Inputs::at(0));
        assert!(
            !p.actions
                .iter()
                .any(|a| a.address.to_string().starts_with("home.default")),
            "{:?}",
            addresses(&p)
        );
        assert_eq!(p.errors.len(), 1, "{:?}", p.errors);
        let e = &p.errors[0];
        assert_eq!(e.address, "home.default.auth");
        assert!(e.message.contains("cli_auth_credentials_store"), "{e:?}");
        assert!(
            e.message.contains(names) || e.help.contains(names),
            "{names}: {e:?}"
        );
        // The other home is planned as usual.
        assert!(p.actions.iter().any(|a| a.address == "home.work.auth"));
    }
}

#[test]
fn a_declared_file_store_is_written_before_the_login() {
    let m = manifest(&TWO_HOMES.replace(
        "default: { path: /h/default, account: me }",
        "default: { path: /h/default, account: me, codex_config: { cli_auth_credentials_store: file } }",
    ));
    let mut o = observed_two(AuthObs::Missing, AuthObs::Missing);
    o.homes.get_mut("default").unwrap().config = settings_of(
        &[],
        Some("# mine\ncli_auth_credentials_store = \"keyring\"\n"),
    );
    let p = plan(&m, &o, &Inputs::at(0));
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    let at = |address: &str| {
        p.actions
            .iter()
            .position(|a| a.address == *address)
            .unwrap()
    };
    assert!(at("home.default.codex_config") < at("home.default.auth"));
    let a = &p.actions[at("home.default.codex_config")];
    assert_eq!(a.kind, ActionKind::Update);
    assert!(
        matches!(&a.op, Op::SetCredentialsStore { expect: Some(fp), .. } if fp == "sha256:config")
    );
    let diff = a.changes[0].diff.as_ref().unwrap();
    assert!(format!("{diff:?}").contains("keyring"), "{diff:?}");
    // Once it says file, nothing more to do there.
    o.homes.get_mut("default").unwrap().config =
        settings_of(&[], Some("cli_auth_credentials_store = \"file\"\n"));
    let p = plan(&m, &o, &Inputs::at(0));
    assert!(
        !p.actions
            .iter()
            .any(|a| a.address == "home.default.codex_config")
    );
    // A pin the home cannot override stays an error, whatever the home declares.
    o.homes.get_mut("default").unwrap().config = settings_of(
        &[(Layer::Managed, "cli_auth_credentials_store = \"keyring\"\n")],
        None,
    );
    let p = plan(&m, &o, &Inputs::at(0));
    assert_eq!(p.errors.len(), 1, "{:?}", p.errors);
    assert!(
        p.errors[0].help.contains("only an administrator"),
        "{:?}",
        p.errors
    );
}

#[test]
fn a_login_the_home_would_delete_is_refused_and_pools_skip_it() {
    let m = manifest(TWO_HOMES);
    let mut o = observed_two(AuthObs::Missing, AuthObs::Missing);
    o.homes.get_mut("default").unwrap().config =
        settings_of(&[], Some("forced_login_method = \"api\"\n"));
    let p = plan(&m, &o, &Inputs::at(0));
    assert_eq!(p.errors.len(), 1, "{:?}", p.errors);
    assert!(
        p.errors[0]
            .message
            .contains("forced_login_method = \"api\""),
        "{:?}",
        p.errors
    );
    assert!(
        p.errors[0].message.contains("deletes a ChatGPT login"),
        "{:?}",
        p.errors
    );
    // A pool whose first member the home refuses picks the next one, and says so.
    let m = manifest(
        "version: 1\naccounts:\n  a: { email: a@x.io }\n  b: { email: b@x.io }\npools:\n  p: [a, b]\nhomes:\n  default: { path: /h/default, account: { pool: p, strategy: first } }\n",
    );
    let mut o = Observed {
        accounts: vec![
            oauth("oauth_a", "a@x.io", 100),
            oauth("oauth_b", "b@x.io", 100),
        ],
        ..Observed::default()
    };
    o.homes
        .insert("default".into(), home("/h/default", AuthObs::Missing));
    o.homes.get_mut("default").unwrap().config =
        settings_of(&[], Some("forced_chatgpt_workspace_id = \"ws-oauth_b\"\n"));
    let p = plan(&m, &o, &Inputs::at(0));
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    let write = p
        .actions
        .iter()
        .find(|a| a.address == "home.default.auth")
        .unwrap();
    assert!(
        matches!(&write.op, Op::WriteAuth { source: CredentialSource::Vault { account_id }, .. } if account_id == "oauth_b")
    );
    assert!(
        p.notes
            .iter()
            .any(|n| n.message.contains("skips") && n.message.contains("`a`")),
        "{:?}",
        p.notes
    );
}

#[test]
fn running_processes_are_noted() {
    let m = manifest(TWO_HOMES);
    let mut o = observed_two(
        AuthObs::Missing,
        chatgpt_file(&oauth("oauth_me", "me@x.io", 1), 1),
    );
    use crate::codex::processes::{CodexProcess, Role};
    o.homes.get_mut("work").unwrap().processes = vec![
        CodexProcess {
            pid: 42,
            command: "codex".into(),
            role: Role::Session,
        },
        CodexProcess {
            pid: 43,
            command: "codex app-server --listen".into(),
            role: Role::AppServer {
                listen: Some("ws://127.0.0.1:4500".into()),
            },
        },
    ];
    let p = plan(&m, &o, &Inputs::at(0));
    let notes: Vec<_> = p.notes.iter().map(|n| n.message.as_str()).collect();
    assert!(notes.iter().any(|n| n.contains("pid 42")), "{notes:?}");
    assert!(
        notes.iter().any(|n| n.contains(
            "pid 43 `codex app-server --listen` (an app-server on ws://127.0.0.1:4500: `codex exec --remote` clients use its cached credentials)"
        )),
        "{notes:?}"
    );
}

#[test]
fn an_expiring_login_is_refreshed_before_it_is_written() {
    let m = manifest(TWO_HOMES);
    let mut o = observed_two(
        AuthObs::Missing,
        chatgpt_file(&oauth("oauth_work", "me@corp.io", 100), 100),
    );
    o.online = true;
    // me's access token expires at 3700: at now=3500 that is within 5 minutes.
    let p = plan(&m, &o, &Inputs::at(3500));
    assert_eq!(
        addresses(&p),
        vec![
            ("account.me.refresh".to_string(), ActionKind::Update),
            ("account.work.refresh".to_string(), ActionKind::Update),
            ("home.default.auth".to_string(), ActionKind::Create),
        ]
    );
    assert!(matches!(&p.actions[0].op, Op::Refresh { account_id, .. } if account_id == "oauth_me"));
    // Offline: no refresh, a note instead.
    o.online = false;
    let p = plan(&m, &o, &Inputs::at(3500));
    assert_eq!(
        addresses(&p),
        vec![("home.default.auth".to_string(), ActionKind::Create)]
    );
    assert!(
        p.notes.iter().any(|n| n.message.contains("offline")),
        "{:?}",
        p.notes
    );
    // A login waiting for a new login is not refreshed.
    o.online = true;
    o.accounts[0].requires_reauth = true;
    let p = plan(&m, &o, &Inputs::at(3500));
    assert!(!addresses(&p).iter().any(|(a, _)| a == "account.me.refresh"));
}

fn proxy_key(id: &str, base_url: Option<&str>) -> AccountObs {
    AccountObs {
        id: id.into(),
        kind: AccountKind::ApiKey,
        name: format!("API key {id}"),
        email: None,
        workspace: None,
        plan_type: None,
        freshness: Freshness::default(),
        secret_fingerprint: Some(format!("sha256:key-{id}")),
        has_credentials: true,
        requires_reauth: false,
        base_url: base_url.map(str::to_string),
    }
}

fn key_file(a: &AccountObs) -> AuthObs {
    AuthObs::Credentials(CredObs::ApiKey {
        identity_id: a.id.clone(),
        key_fingerprint: format!("sha256:key-{}", a.id),
        account_id: Some(a.id.clone()),
    })
}

const PROXY: &str = "https://proxy.example/v1";

fn base_url_plan(bound: &str, file: AuthObs, config_url: Option<&str>) -> Plan {
    let yaml = format!(
        "version: 1\naccounts:\n  proxy: {{ id: apikey_proxy }}\n  me: {{ email: me@x.io }}\nhomes:\n  a: {{ path: /h/a, account: {bound} }}\n"
    );
    let mut o = Observed {
        accounts: vec![
            proxy_key("apikey_proxy", Some(PROXY)),
            oauth("oauth_me", "me@x.io", 100),
        ],
        ..Observed::default()
    };
    let mut h = home("/h/a", file);
    h.config.base_url = config_url.map(str::to_string);
    h.config.fingerprint = config_url.map(|_| "sha256:config".to_string());
    o.homes.insert("a".into(), h);
    plan(&manifest(&yaml), &o, &Inputs::at(1000))
}

#[test]
fn an_api_key_with_a_base_url_sets_openai_base_url() {
    let p = base_url_plan("proxy", AuthObs::Missing, None);
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert_eq!(
        addresses(&p),
        vec![
            ("home.a.base_url".to_string(), ActionKind::Create),
            ("home.a.auth".to_string(), ActionKind::Create),
        ]
    );
    assert!(matches!(
        &p.actions[0].op,
        Op::SetBaseUrl { url: Some(u), expect: None, .. } if u == PROXY
    ));
    assert_eq!(p.actions[0].changes[0].after.as_deref(), Some(PROXY));

    // Key already written, base URL already right: nothing to do.
    let proxy = proxy_key("apikey_proxy", Some(PROXY));
    assert!(
        base_url_plan("proxy", key_file(&proxy), Some(PROXY))
            .actions
            .is_empty()
    );

    // Key written but config.toml lost the URL (or points elsewhere): only the URL changes.
    let p = base_url_plan(
        "proxy",
        key_file(&proxy),
        Some("https://elsewhere.example/v1"),
    );
    assert_eq!(
        addresses(&p),
        vec![("home.a.base_url".to_string(), ActionKind::Update)]
    );
    assert!(matches!(
        &p.actions[0].op,
        Op::SetBaseUrl { url: Some(u), expect: Some(fp), .. } if u == PROXY && fp == "sha256:config"
    ));
}

#[test]
fn a_base_url_cdxs_set_goes_away_with_its_account_but_a_hand_set_one_stays() {
    let me = chatgpt_file(&oauth("oauth_me", "me@x.io", 100), 100);
    let p = base_url_plan("me", me.clone(), Some(PROXY));
    assert_eq!(
        addresses(&p),
        vec![("home.a.base_url".to_string(), ActionKind::Delete)]
    );
    assert!(matches!(&p.actions[0].op, Op::SetBaseUrl { url: None, .. }));
    assert_eq!(p.actions[0].changes[0].before.as_deref(), Some(PROXY));

    let p = base_url_plan("me", me, Some("https://my-own-gateway.example/v1"));
    assert!(p.actions.is_empty(), "{:#?}", p.actions);
}

#[test]
fn an_unreadable_config_toml_is_a_plan_error_when_a_base_url_is_needed() {
    let yaml = "version: 1\naccounts:\n  proxy: { id: apikey_proxy }\nhomes:\n  a: { path: /h/a, account: proxy }\n";
    let mut o = Observed {
        accounts: vec![proxy_key("apikey_proxy", Some(PROXY))],
        ..Observed::default()
    };
    let mut h = home("/h/a", AuthObs::Missing);
    h.config.error = Some("expected a value, line 1".into());
    o.homes.insert("a".into(), h);
    let p = plan(&manifest(yaml), &o, &Inputs::at(0));
    assert_eq!(p.errors.len(), 1, "{:?}", p.errors);
    assert_eq!(p.errors[0].address, "home.a.base_url");
    assert!(p.errors[0].message.contains("config.toml"));
}

#[test]
fn an_env_key_takes_its_base_url_from_the_manifest() {
    let yaml = "version: 1\naccounts:\n  ci: { api_key_env: CI_KEY, base_url: 'https://gw.example/v1' }\nhomes:\n  a: { path: /h/a, account: ci }\n";
    let mut o = Observed::default();
    o.homes.insert("a".into(), home("/h/a", AuthObs::Missing));
    o.env_keys.insert("CI_KEY".into(), Some("sha256:1".into()));
    let p = plan(&manifest(yaml), &o, &Inputs::at(0));
    assert!(matches!(
        &p.actions[0].op,
        Op::SetBaseUrl { url: Some(u), .. } if u == "https://gw.example/v1"
    ));
    assert!(matches!(&p.actions[1].op, Op::WriteAuth { .. }));
}

#[test]
fn a_home_on_a_windows_drive_is_warned_about_and_still_written() {
    let m = manifest(TWO_HOMES);
    let mut o = observed_two(AuthObs::Missing, AuthObs::Missing);
    o.homes.get_mut("default").unwrap().shared_fs =
        crate::codex::wsl::risk(Path::new("/mnt/c/Users/me/.codex"), Some("9p"));
    let p = plan(&m, &o, &Inputs::at(0));
    let note = p
        .notes
        .iter()
        .find(|n| n.address == "home.default.dir")
        .expect("a note on the home");
    assert!(note.message.contains("openai/codex#23251"), "{note:?}");
    assert!(note.message.contains("LockFileEx"), "{note:?}");
    assert!(p.actions.iter().any(|a| a.address == "home.default.auth"));
}

#[test]
fn a_login_already_live_in_two_homes_is_said_with_both() {
    let m = manifest(TWO_HOMES);
    let me = oauth("oauth_me", "me@x.io", 100);
    let o = observed_two(chatgpt_file(&me, 100), chatgpt_file(&me, 100));
    let p = plan(&m, &o, &Inputs::at(1000));
    let note = p
        .notes
        .iter()
        .find(|n| n.message.contains("is live in 2 folders"))
        .expect("a note");
    assert!(
        note.message.contains("home `default`") && note.message.contains("home `work`"),
        "{note:?}"
    );
}
