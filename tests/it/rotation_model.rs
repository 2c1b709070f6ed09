//! A model-based test of rotation safety: random interleavings of Codex refreshing logins
//! in homes (through the mock issuer, with Codex's clock up to an hour off), cdxs refresh,
//! switch, run, apply and rollback (with cdxs's clock up to an hour off), and cdxs waiting
//! for its lock while Codex rotates. After every step: the refresh token in every folder is
//! the newest the issuer gave for that login (never a spent one), a login in no folder is
//! the newest in the vault, and the issuer never saw a reused token.

use std::path::PathBuf;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::harness::*;
use crate::mock_openai::{MockAccount, MockOpenAi};
use crate::rotation::{env_with, hold_vault_lock, rt, vault_rt};

const EMAILS: [&str; 3] = ["ana@example.com", "ben@example.com", "cyd@example.com"];
const ALIASES: [&str; 3] = ["ana", "ben", "cyd"];

struct World {
    mock: MockOpenAi,
    env: Env,
    homes: Vec<PathBuf>,
}

impl World {
    fn new() -> World {
        let mock = MockOpenAi::start();
        for (e, a) in EMAILS.iter().zip(["acct-ana", "acct-ben", "acct-cyd"]) {
            mock.add(MockAccount::new(e, a));
        }
        let env = env_with(&mock);
        for e in EMAILS {
            env.import_auth_json(&mock.auth_json(e));
        }
        let homes = vec![env.codex_home("h1"), env.codex_home("h2")];
        let w = World { mock, env, homes };
        w.manifest("ana", "ben");
        let out = w.env.run(&["apply", "--yes"]);
        assert!(out.status.success(), "{}", text(&out));
        w
    }

    fn manifest(&self, h1: &str, h2: &str) {
        self.env.manifest(&format!(
            "version: 1\naccounts:\n  ana: {{ email: {} }}\n  ben: {{ email: {} }}\n  cyd: {{ email: {} }}\nhomes:\n  h1: {{ path: {}, account: {h1} }}\n  h2: {{ path: {}, account: {h2} }}\n",
            EMAILS[0],
            EMAILS[1],
            EMAILS[2],
            self.homes[0].display(),
            self.homes[1].display()
        ));
    }

    /// The login a home's auth.json holds (by email in its id token).
    fn holder(&self, i: usize) -> Option<&'static str> {
        let doc = std::fs::read_to_string(self.homes[i].join("auth.json")).ok()?;
        EMAILS
            .iter()
            .find(|e| {
                let acct = format!("acct-{}", &e[..3]);
                doc.contains(&format!("\"account_id\": \"{acct}\""))
            })
            .copied()
    }

    fn check(&self, trace: &[String]) {
        let why = || trace.join("\n  ");
        let mut held = Vec::new();
        for i in 0..self.homes.len() {
            if let Some(email) = self.holder(i) {
                held.push(email);
                assert_eq!(
                    rt(&self.homes[i]),
                    self.mock.current_token(email),
                    "home h{} holds a stale token of {email} after:\n  {}",
                    i + 1,
                    why()
                );
            }
        }
        for email in EMAILS.iter().filter(|e| !held.contains(e)) {
            assert_eq!(
                vault_rt(&self.env, email),
                self.mock.current_token(email),
                "the vault lost the newest token of {email} after:\n  {}",
                why()
            );
        }
        assert!(
            self.mock.refusals().is_empty(),
            "the issuer saw a reused token after:\n  {}\n{:?}",
            why(),
            self.mock.refusals()
        );
    }

    /// A cdxs command with its clock `skew` seconds off.
    fn cdxs(&self, args: &[&str], skew: i64) -> std::process::Output {
        self.env
            .cdxs()
            .env("CDXS_NOW", format!("{skew:+}"))
            .args(args)
            .output()
            .unwrap()
    }
}

fn step(w: &World, rng: &mut StdRng, trace: &mut Vec<String>) {
    let skew = rng.random_range(-3600i64..=3600);
    let home = rng.random_range(0..2usize);
    let who = rng.random_range(0..3usize);
    match rng.random_range(0..7u32) {
        0 | 1 => {
            trace.push(format!(
                "codex refreshes in h{} (clock {skew:+}s)",
                home + 1
            ));
            if w.holder(home).is_some() {
                w.mock
                    .rotate_as_codex(&w.homes[home], skew)
                    .unwrap_or_else(|e| panic!("{e} after:\n  {}", trace.join("\n  ")));
            }
        }
        2 => {
            trace.push(format!(
                "cdxs refresh-token {} (clock {skew:+}s)",
                ALIASES[who]
            ));
            let out = w.cdxs(&["refresh-token", ALIASES[who]], skew);
            assert!(
                out.status.success(),
                "{}\n  {}",
                text(&out),
                trace.join("\n  ")
            );
        }
        3 => {
            trace.push(format!(
                "cdxs switch {} --home h{} (clock {skew:+}s)",
                ALIASES[who],
                home + 1
            ));
            // Binding a login that the other home has is refused by validation: fine.
            let _ = w.cdxs(
                &["switch", ALIASES[who], "--home", &format!("h{}", home + 1)],
                skew,
            );
        }
        4 => {
            trace.push(format!("cdxs run --home h{} (clock {skew:+}s)", home + 1));
            let out = w.cdxs(
                &["run", "--home", &format!("h{}", home + 1), "--", "true"],
                skew,
            );
            assert!(
                out.status.success(),
                "{}\n  {}",
                text(&out),
                trace.join("\n  ")
            );
        }
        5 => {
            trace.push(format!("cdxs rollback --yes (clock {skew:+}s)"));
            // It may undo a switch (cdxs.yaml included) or a refresh: either is fine.
            let _ = w.cdxs(&["rollback", "--yes"], skew);
        }
        _ => {
            // cdxs waits for its lock while Codex rotates the home's login.
            trace.push(format!(
                "cdxs refresh-token {} waits for the vault lock while codex refreshes in h{} (clocks {skew:+}s)",
                ALIASES[who],
                home + 1
            ));
            let lock = hold_vault_lock(&w.env);
            let child = w.env.spawn(
                &["refresh-token", ALIASES[who]],
                &[("CDXS_NOW", &format!("{skew:+}"))],
            );
            std::thread::sleep(Duration::from_millis(rng.random_range(20..120)));
            if w.holder(home).is_some() {
                w.mock
                    .rotate_as_codex(&w.homes[home], -skew)
                    .unwrap_or_else(|e| panic!("{e} after:\n  {}", trace.join("\n  ")));
            }
            drop(lock);
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{}\n  {}",
                text(&out),
                trace.join("\n  ")
            );
        }
    }
}

#[test]
fn random_interleavings_never_lose_or_reuse_a_rotated_token() {
    for seed in 1..=6u64 {
        let w = World::new();
        let mut rng = StdRng::seed_from_u64(seed);
        let mut trace = vec![format!("seed {seed}: apply (h1 = ana, h2 = ben)")];
        w.check(&trace);
        for _ in 0..25 {
            step(&w, &mut rng, &mut trace);
            w.check(&trace);
        }
    }
}
