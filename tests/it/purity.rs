//! `plan()` reads nothing: every read happens in observe. A grep of the planner's own files
//! cannot see a read made by something it calls (a `canonicalize` three calls down), so this
//! test runs `plan()` in a child process whose kernel filter (seccomp) kills it on the first
//! system call that touches the file system: open, stat, readlink, access, getdents,
//! mkdir, unlink, rename. The plan exercises every phase: harvest, refresh, pools, Codex
//! settings, one live copy, session policies (thread copies, trash, repairs).
//!
//! Linux only: the filter is Linux's (the planner is the same code everywhere).

#![cfg(target_os = "linux")]

use std::path::{Path, PathBuf};

use cdxs::reconcile::observe::{
    AccountObs, AuthObs, CredObs, HomeObs, LiveCopy, Observed, SessionsObs,
};
use cdxs::reconcile::plan::{Inputs, plan};
use cdxs::sessions::share::HomeThreads;
use cdxs::vault::AccountKind;
use cdxs::vault::freshness::Freshness;

const CHILD: &str = "CDXS_PURITY_CHILD";

fn account(id: &str, email: &str, kind: AccountKind) -> AccountObs {
    AccountObs {
        id: id.into(),
        kind,
        name: email.into(),
        email: Some(email.into()),
        workspace: Some(format!("ws-{id}")),
        plan_type: Some("plus".into()),
        freshness: Freshness {
            last_refresh: None,
            issued_at: Some(100_000),
            expires_at: Some(200_100), // due at 200_000: the plan refreshes it
        },
        secret_fingerprint: Some(format!("sha256:{id}")),
        has_credentials: true,
        requires_reauth: false,
        base_url: None,
    }
}

fn home(path: &str, auth: AuthObs, settings_text: &str) -> HomeObs {
    HomeObs {
        path: PathBuf::from(path),
        dir_exists: true,
        auth_fingerprint: Some("sha256:auth".into()),
        auth,
        config: cdxs::codex::config::ConfigObs {
            settings: cdxs::codex::settings::effective(
                &cdxs::codex::settings::MachineLayers::none(),
                Some(&Ok(settings_text.to_string())),
                &format!("{path}/config.toml"),
            ),
            credentials_store: None,
            text: Some(settings_text.to_string()),
            fingerprint: Some("sha256:config".into()),
            ..Default::default()
        },
        processes: vec![],
        shared_fs: None,
        live_threads: vec![],
    }
}

fn threads(home: &str, ids: &[&str]) -> HomeThreads {
    let mut t = HomeThreads {
        has_db: true,
        canonical: PathBuf::from(home),
        ..HomeThreads::default()
    };
    for id in ids {
        let file = Path::new(home).join(format!(
            "sessions/2026/11/26/rollout-2026-11-26T00-00-00-{id}.jsonl"
        ));
        t.present
            .insert(id.to_string(), (file.clone(), "a title".into()));
        t.known.insert(id.to_string());
        t.files.insert(file);
    }
    t
}

/// A plan over homes that do not exist on this machine, with every phase at work.
fn world() -> (cdxs::manifest::Manifest, Observed) {
    let text = "version: 1\naccounts:\n  ada: { email: ada@x.io }\n  ben: { email: ben@x.io }\n  cyd: { email: cyd@x.io }\npools:\n  p: [ben, cyd]\nhomes:\n  a: { path: /nowhere/a, account: ada, codex_config: { cli_auth_credentials_store: file } }\n  b: { path: /nowhere/b, account: { pool: p } }\n  c: { path: /nowhere/c }\nsessions:\n  share_threads: [a, c]\n  trash_max_age: 1d\n  auto_repair: true\n";
    let m = cdxs::manifest::parse(text, Path::new("/nowhere/cdxs.yaml")).expect("manifest");
    let ada = account("oauth_ada", "ada@x.io", AccountKind::OAuth);
    let mut o = Observed {
        accounts: vec![
            ada.clone(),
            account("oauth_ben", "ben@x.io", AccountKind::OAuth),
            account("oauth_cyd", "cyd@x.io", AccountKind::OAuth),
        ],
        online: true,
        elsewhere: vec![LiveCopy {
            folder: PathBuf::from("/nowhere/else"),
            account_id: "oauth_cyd".into(),
        }],
        ..Observed::default()
    };
    let chatgpt = |a: &AccountObs| {
        AuthObs::Credentials(CredObs::ChatGpt {
            identity_id: a.id.clone(),
            email: a.email.clone(),
            workspace: a.workspace.clone(),
            plan_type: a.plan_type.clone(),
            freshness: Freshness {
                last_refresh: None,
                issued_at: Some(150_000), // newer than the vault's: a harvest
                expires_at: Some(900_000),
            },
            refresh_fingerprint: "sha256:newer".into(),
            account_id: Some(a.id.clone()),
        })
    };
    o.homes.insert(
        "a".into(),
        home(
            "/nowhere/a",
            chatgpt(&ada),
            "cli_auth_credentials_store = \"keyring\"\n",
        ),
    );
    o.homes.insert(
        "b".into(),
        home(
            "/nowhere/b",
            AuthObs::Missing,
            "forced_chatgpt_workspace_id = \"ws-oauth_ben\"\n",
        ),
    );
    o.homes
        .insert("c".into(), home("/nowhere/c", AuthObs::Missing, ""));
    let (t1, t2) = (
        "019ac1d2-0000-7000-8000-000000000001",
        "019ac1d2-0000-7000-8000-000000000002",
    );
    for (name, ids) in [("a", &[t1][..]), ("c", &[t2][..])] {
        o.sessions.insert(
            name.into(),
            SessionsObs {
                issues: Some(vec![]),
                trash: Some(vec![("t9".into(), 0)]),
                threads: Some(threads(&format!("/nowhere/{name}"), ids)),
                read_only: false,
                gate: vec![],
            },
        );
    }
    (m, o)
}

/// Kill this process on the first system call that touches the file system.
fn forbid_file_system() {
    let mut denied: Vec<i64> = vec![
        libc::SYS_openat,
        libc::SYS_openat2,
        libc::SYS_newfstatat,
        libc::SYS_statx,
        libc::SYS_readlinkat,
        libc::SYS_faccessat,
        libc::SYS_faccessat2,
        libc::SYS_getdents64,
        libc::SYS_mkdirat,
        libc::SYS_unlinkat,
        libc::SYS_renameat2,
    ];
    #[cfg(target_arch = "x86_64")]
    denied.extend([
        libc::SYS_open,
        libc::SYS_stat,
        libc::SYS_lstat,
        libc::SYS_readlink,
        libc::SYS_access,
        libc::SYS_mkdir,
        libc::SYS_unlink,
        libc::SYS_rename,
        libc::SYS_renameat,
    ]);
    let stmt = |code: u32, k: u32| libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    };
    // Load the syscall number (offset 0 of seccomp_data), then one test per denied call.
    let mut program = vec![stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 0)];
    for nr in denied {
        program.push(libc::sock_filter {
            code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
            jt: 0,
            jf: 1,
            k: nr as u32,
        });
        program.push(stmt(
            libc::BPF_RET | libc::BPF_K,
            libc::SECCOMP_RET_KILL_PROCESS,
        ));
    }
    program.push(stmt(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_ALLOW));
    let prog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_mut_ptr(),
    };
    // SAFETY: plain system calls with a valid, live filter program.
    unsafe {
        assert_eq!(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
        assert_eq!(
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                0,
                &prog as *const libc::sock_fprog
            ),
            0
        );
    }
}

#[test]
fn plan_reads_nothing_not_even_through_what_it_calls() {
    if std::env::var_os(CHILD).is_some() {
        let (m, o) = world();
        let inputs = Inputs::at(200_000);
        forbid_file_system();
        let p = plan(&m, &o, &inputs);
        // Only memory from here on: exit before the test harness does anything else.
        let ok = !p.actions.is_empty();
        std::process::exit(if ok { 0 } else { 2 });
    }
    // The world is sane outside the filter: the plan does every phase.
    let (m, o) = world();
    let p = plan(&m, &o, &Inputs::at(200_000));
    let kinds: Vec<String> = p.actions.iter().map(|a| a.address.to_string()).collect();
    for want in [
        "account.ada.harvest",
        "account.ben.refresh",
        "home.a.codex_config",
        "home.b.auth",
        "threads.a.copy",
        "threads.c.copy",
        "trash.a.purge",
    ] {
        assert!(
            kinds.iter().any(|k| k.starts_with(want)),
            "{want}: {kinds:?}"
        );
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "purity::plan_reads_nothing_not_even_through_what_it_calls",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        out.status.code(),
        Some(0),
        "plan() made a file-system call (signal {:?}): {}",
        out.status.signal(),
        String::from_utf8_lossy(&out.stderr)
    );
}
