//! `cdxs vault export FILE` / `cdxs vault import FILE` (issue 21, point 11): the whole vault
//! in one file sealed under a passphrase (Argon2id) or the sync key, 0600; import takes a
//! token only by sync's rules (never a spent one, never one older than the vault holds or
//! has seen); a wrong passphrase and an altered or truncated file import nothing.

use serde_json::Value;

use crate::harness::{Env, Login, code, stderr, stdout, text};
use crate::mock_openai::{MockAccount, MockOpenAi};
use crate::sync_harness::{account_ids, first_machine, join, ok, server, vault_refresh_token};

const PASS: &str = "correct horse battery staple";

fn export(env: &Env, file: &str, pass: &str) -> std::process::Output {
    let f = env.path(file);
    let args = ["vault", "export", f.to_str().unwrap(), "--passphrase-stdin"];
    env.run_stdin(&[&args[..], &["--json"]].concat(), &format!("{pass}\n"))
}

fn import(env: &Env, file: &std::path::Path, pass: &str) -> std::process::Output {
    let args = [
        "vault",
        "import",
        file.to_str().unwrap(),
        "--passphrase-stdin",
    ];
    env.run_stdin(&[&args[..], &["--json"]].concat(), &format!("{pass}\n"))
}

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(out)))
}

/// Each account's outcome in an import's `--json`, by email or name.
fn outcomes(doc: &Value) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = doc["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let name = a["name"].as_str().unwrap().to_string();
            (name, a["outcome"].as_str().unwrap().to_string())
        })
        .collect();
    v.sort();
    v
}

fn auth_extra(env: &Env, account_id: &str) -> Option<String> {
    let conn = rusqlite::Connection::open(env.state.join("cdxs.db")).unwrap();
    conn.query_row(
        "SELECT auth_extra FROM accounts WHERE id = ?1",
        [account_id],
        |r| r.get(0),
    )
    .unwrap()
}

fn oauth_id(env: &Env) -> String {
    account_ids(env)
        .into_iter()
        .find(|i| i.starts_with("oauth_"))
        .expect("a ChatGPT login")
}

#[test]
fn vault_export_then_import_carries_every_account_token_key_member_and_placement() {
    let a = Env::new();
    let login = Login::new("ada@example.com", "acct-ada");
    a.import_login(&login);
    let key = "sk-proj-archived0key0abcd1234";
    ok(a.run_stdin(
        &[
            "account",
            "add-api-key",
            "--api-key-stdin",
            "--name",
            "ci-key",
        ],
        key,
    ));
    // A placement: the login written into the default home.
    ok(a.run(&["switch", "ada@example.com"]));
    let out = ok(export(&a, "vault.cdxs", PASS));
    let doc = json(&out);
    assert_eq!(doc["version"], 1, "{doc}");
    assert_eq!(doc["command"], "vault export");
    assert_eq!(doc["changed"], true);
    assert_eq!(doc["sealed"]["with"], "passphrase");
    assert_eq!(doc["sealed"]["kdf"], "argon2id");
    assert_eq!(doc["counts"]["accounts"], 2);
    assert_eq!(doc["counts"]["chatgpt_logins"], 1);
    assert_eq!(doc["counts"]["api_keys"], 1);
    assert_eq!(doc["counts"]["placements"], 1);
    let file = a.path("vault.cdxs");
    #[cfg(unix)]
    crate::harness::assert_mode(&file, 0o600);
    // Sealed: neither a token, a key, an email nor a member Codex wrote is readable.
    let bytes = String::from_utf8(std::fs::read(&file).unwrap()).unwrap();
    for secret in [
        login.refresh_token.as_str(),
        key,
        "ada@example.com",
        "login_owner_id",
    ] {
        assert!(!bytes.contains(secret), "{secret} in the archive");
    }
    assert!(!text(&out).contains(PASS), "the passphrase was echoed");

    let b = Env::new();
    let out = ok(import(&b, &file, PASS));
    let doc = json(&out);
    assert_eq!(doc["command"], "vault import");
    assert_eq!(doc["changed"], true);
    assert_eq!(
        outcomes(&doc),
        vec![
            ("ada@example.com".into(), "created".into()),
            ("ci-key".into(), "created".into())
        ]
    );
    assert_eq!(doc["placements_added"], 1);
    assert!(doc["backup"].is_string(), "{doc}");
    let id = oauth_id(&b);
    assert_eq!(account_ids(&a), account_ids(&b));
    assert_eq!(vault_refresh_token(&b, &id), login.refresh_token);
    // The auth.json members cdxs does not model travel too (Codex 0.164+'s login_owner_id).
    let extra = auth_extra(&b, &id).expect("auth_extra imported");
    assert_eq!(auth_extra(&a, &id).as_deref(), Some(extra.as_str()));
    assert!(extra.contains("login_owner_id"), "{extra}");
    // The same accounts, but for what is this machine's own: which one its default home
    // holds (`current`) and when it last used each.
    let same = |env: &Env| {
        let mut v = env.accounts_json()["accounts"].clone();
        for a in v.as_array_mut().unwrap() {
            a.as_object_mut().unwrap().remove("current");
            a.as_object_mut().unwrap().remove("last_used_at");
        }
        v
    };
    assert_eq!(same(&a), same(&b));
    let shown = ok(b.run(&["account", "show", "ci-key", "--json"]));
    assert!(stdout(&shown).contains("apikey_"), "{}", text(&shown));

    // Twice: nothing changes.
    let doc = json(&ok(import(&b, &file, PASS)));
    assert_eq!(doc["changed"], false, "{doc}");
    assert_eq!(
        outcomes(&doc),
        vec![
            ("ada@example.com".into(), "unchanged".into()),
            ("ci-key".into(), "unchanged".into())
        ]
    );
}

#[test]
fn a_wrong_passphrase_or_an_altered_or_truncated_archive_imports_nothing() {
    let a = Env::new();
    a.import_login(&Login::new("ada@example.com", "acct-ada"));
    ok(export(&a, "vault.cdxs", PASS));
    let good = std::fs::read_to_string(a.path("vault.cdxs")).unwrap();
    let b = Env::new();
    b.import_login(&Login::new("bob@example.com", "acct-bob"));
    let before = b.accounts_json();

    // A wrong passphrase: a JSON error under --json, exit 1, nothing imported.
    let out = import(&b, &a.path("vault.cdxs"), "correct horse battery stapler");
    assert_eq!(code(&out), 1, "{}", text(&out));
    let err = json(&out);
    assert_eq!(err["error"]["kind"], "user", "{err}");
    let msg = err["error"]["message"].as_str().unwrap();
    assert!(msg.contains("does not open with this passphrase"), "{msg}");

    // Crafted files: each a clear error, never a panic, never a partial import.
    let mut altered: Vec<(&str, String)> = Vec::new();
    let v: Value = serde_json::from_str(&good).unwrap();
    let mut flipped = v.clone();
    let ct = v["ciphertext"].as_str().unwrap();
    let mid = ct.len() / 2;
    let swap = if &ct[mid..mid + 1] == "A" { "B" } else { "A" };
    flipped["ciphertext"] = format!("{}{swap}{}", &ct[..mid], &ct[mid + 1..]).into();
    altered.push(("does not open with this passphrase", flipped.to_string()));
    let mut salt = v.clone();
    salt["sealed"]["salt"] = "AAAAAAAAAAAAAAAAAAAAAA==".into();
    altered.push(("does not open with this passphrase", salt.to_string()));
    let mut weaker = v.clone();
    weaker["sealed"]["t"] = 1.into();
    altered.push(("does not open with this passphrase", weaker.to_string()));
    let mut huge = v.clone();
    huge["sealed"]["m_kib"] = (4u64 * 1024 * 1024).into();
    altered.push(("more than cdxs ever uses", huge.to_string()));
    let mut short_ct = v.clone();
    short_ct["ciphertext"] = "AAAA".into();
    altered.push(("does not open with this passphrase", short_ct.to_string()));
    let mut nonce = v.clone();
    nonce["nonce"] = "AAAA".into();
    altered.push(("does not open with this passphrase", nonce.to_string()));
    let mut not_b64 = v.clone();
    not_b64["ciphertext"] = "!!not base64!!".into();
    altered.push(("not a cdxs vault archive", not_b64.to_string()));
    let mut other = v.clone();
    other["format"] = "something-else\u{1b}[31m".into();
    altered.push(("not a cdxs vault archive", other.to_string()));
    altered.push((
        "not a cdxs vault archive",
        good[..good.len() / 2].to_string(),
    ));
    altered.push(("not a cdxs vault archive", String::new()));
    altered.push(("not a cdxs vault archive", "\u{0}\u{1}binary".into()));
    for (i, (want, content)) in altered.iter().enumerate() {
        let f = b.path(&format!("altered-{i}.cdxs"));
        std::fs::write(&f, content).unwrap();
        let out = import(&b, &f, PASS);
        assert_eq!(code(&out), 1, "case {i}: {}", text(&out));
        let err = json(&out);
        let msg = err["error"]["message"].as_str().unwrap_or_default();
        assert!(msg.contains(want), "case {i}: wanted {want:?}: {err}");
        assert!(!msg.contains('\u{1b}'), "case {i}: raw escape in {msg:?}");
    }
    assert_eq!(b.accounts_json(), before, "the vault changed");
    // Missing files and folders too.
    let out = import(&b, &b.path("nope/vault.cdxs"), PASS);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert_eq!(b.accounts_json(), before);
}

/// A token Codex (or cdxs) rotated away never comes back from an older archive, nor does
/// one older than the vault holds or has seen (sync's high-water mark).
#[test]
fn an_older_archive_never_overwrites_a_newer_or_brings_back_a_spent_token() {
    let mock = MockOpenAi::start();
    mock.add(MockAccount::new("uma@example.com", "acct-uma"));
    let a = Env::new();
    a.set_env("CDXS_AUTH_BASE_URL", &mock.auth_base());
    a.set_env("CDXS_CHATGPT_BASE_URL", &mock.chatgpt_base());
    a.import_auth_json(&mock.auth_json("uma@example.com"));
    let id = oauth_id(&a);
    ok(export(&a, "old.cdxs", PASS));
    // The login is refreshed: rt_1 is spent, rt_2 is the live one.
    ok(a.run(&["refresh-token", "uma"]));
    assert_eq!(vault_refresh_token(&a, &id), "rt_acct-uma_2");
    ok(export(&a, "new.cdxs", PASS));

    // Here: the old archive's token is spent.
    let doc = json(&ok(import(&a, &a.path("old.cdxs"), PASS)));
    assert_eq!(
        outcomes(&doc),
        vec![("uma@example.com".into(), "spent".into())]
    );
    assert_eq!(doc["changed"], false);
    assert_eq!(vault_refresh_token(&a, &id), "rt_acct-uma_2");

    // Elsewhere: the newer archive first, then the older: the newer token stays.
    let b = Env::new();
    ok(import(&b, &a.path("new.cdxs"), PASS));
    let doc = json(&ok(import(&b, &a.path("old.cdxs"), PASS)));
    assert_eq!(
        outcomes(&doc),
        vec![("uma@example.com".into(), "spent".into())]
    );
    assert_eq!(vault_refresh_token(&b, &id), "rt_acct-uma_2");

    // A vault that never saw the refresh: a newer login imported by hand stays over an
    // older archive (kept_newer), and once seen, an older copy stays out even after the
    // account was removed (below_high_water).
    let c = Env::new();
    let old = Login::new("eve@example.com", "acct-eve");
    c.import_login(&old);
    ok(export(&c, "eve-old.cdxs", PASS));
    let mut newer = old.clone();
    newer.iat += 600;
    newer.refresh_token = "rt_acct-eve_2".into();
    c.import_login(&newer);
    let eve = oauth_id(&c);
    ok(export(&c, "eve-new.cdxs", PASS));
    let doc = json(&ok(import(&c, &c.path("eve-old.cdxs"), PASS)));
    assert_eq!(
        outcomes(&doc),
        vec![("eve@example.com".into(), "kept_newer".into())]
    );
    assert_eq!(vault_refresh_token(&c, &eve), "rt_acct-eve_2");
    let d = Env::new();
    ok(import(&d, &c.path("eve-new.cdxs"), PASS));
    ok(d.run(&["account", "remove", &eve, "--yes"]));
    let doc = json(&ok(import(&d, &c.path("eve-old.cdxs"), PASS)));
    assert_eq!(
        outcomes(&doc),
        vec![("eve@example.com".into(), "below_high_water".into())]
    );
    assert!(account_ids(&d).is_empty(), "an older copy came back");
    // The newer one is welcome back.
    let doc = json(&ok(import(&d, &c.path("eve-new.cdxs"), PASS)));
    assert_eq!(
        outcomes(&doc),
        vec![("eve@example.com".into(), "created".into())]
    );
}

#[test]
fn vault_export_asks_for_a_passphrase_never_in_argv_and_never_overwrites_unasked() {
    let env = Env::new();
    env.import_login(&Login::new("ada@example.com", "acct-ada"));
    let file = env.path("v.cdxs");
    let f = file.to_str().unwrap();
    // No terminal, no --passphrase-stdin: refused, with the ways to give one.
    let out = env.run(&["vault", "export", f]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        stderr(&out).contains("--passphrase-stdin"),
        "{}",
        text(&out)
    );
    assert!(!file.exists());
    // No flag takes the passphrase itself.
    let out = env.run(&["vault", "export", f, "--passphrase", PASS]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(!file.exists());
    // Too short for a new archive.
    let out = env.run_stdin(&["vault", "export", f, "--passphrase-stdin"], "short\n");
    assert!(stderr(&out).contains("shorter than 8"), "{}", text(&out));
    assert!(!file.exists());
    // From a file (or $CDXS_PASSPHRASE_FILE), for scripts and Docker secrets.
    let pass_file = env.path("pass.txt");
    std::fs::write(&pass_file, format!("{PASS}\nignored second line\n")).unwrap();
    let p = pass_file.to_str().unwrap();
    ok(env.run(&["vault", "export", f, "--passphrase-file", p]));
    // An existing file stays unless --force.
    let first = std::fs::read(&file).unwrap();
    let out = env.run(&["vault", "export", f, "--passphrase-file", p]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(stderr(&out).contains("--force"), "{}", text(&out));
    assert_eq!(std::fs::read(&file).unwrap(), first);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let open = std::fs::Permissions::from_mode(0o644);
        std::fs::set_permissions(&file, open).unwrap();
    }
    env.set_env("CDXS_PASSPHRASE_FILE", p);
    ok(env.run(&["vault", "export", f, "--force"]));
    assert_ne!(
        std::fs::read(&file).unwrap(),
        first,
        "a fresh salt and nonce"
    );
    #[cfg(unix)]
    crate::harness::assert_mode(&file, 0o600);
    // It opens with the file's first line.
    let other = Env::new();
    ok(import(&other, &file, PASS));
    assert_eq!(account_ids(&other), account_ids(&env));
}

#[test]
fn an_archive_sealed_with_the_sync_key_opens_where_that_key_is_joined() {
    let env = Env::new();
    let s = server(&env, &crate::sync_harness::Db::sqlite(), &["alice"], &[]);
    let a = Env::new();
    let phrase = first_machine(&a, &s.url, "alice");
    a.import_login(&Login::new("ada@example.com", "acct-ada"));
    let file = a.path("vault.cdxs");
    let f = file.to_str().unwrap();
    let doc = json(&ok(a.run(&["vault", "export", f, "--sync-key", "--json"])));
    assert_eq!(doc["sealed"]["with"], "sync_key");
    let kid = doc["sealed"]["key_id"].as_str().unwrap().to_string();
    assert!(kid.starts_with("kid_"), "{doc}");
    let bytes = std::fs::read_to_string(&file).unwrap();
    assert!(!bytes.contains(&phrase), "the key itself is in the archive");
    // A machine without that key: told which key, and how to join it.
    let b = Env::new();
    let out = b.run(&["vault", "import", f]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(stderr(&out).contains(&kid), "{}", text(&out));
    assert!(stderr(&out).contains("sync key --set"), "{}", text(&out));
    ok(join(&b, &s.url, "alice", &phrase));
    let doc = json(&ok(b.run(&["vault", "import", f, "--json"])));
    assert_eq!(
        outcomes(&doc),
        vec![("ada@example.com".into(), "created".into())]
    );
    assert_eq!(account_ids(&a), account_ids(&b));
}
