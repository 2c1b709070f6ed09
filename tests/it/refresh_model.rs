//! A model test of the one freshness rule (a login is refreshed once less than
//! `watch.refresh_before_expiry` of its access token is left; one request makes it fresh),
//! over a fake clock: `watch --once` stepped through hours of time in random steps, with
//! the issuer's clock and cdxs's moving together, for several windows. After every step:
//!
//! - the issuer got a refresh request exactly when the login was due (never before its
//!   window, never a cycle late), one request, and no token twice;
//! - a cycle that refreshed wrote one generation, and a converged cycle wrote none;
//! - no log line claims a refresh the issuer did not see;
//! - watch's next deadline is the refresh time of the token it holds now (or the periodic
//!   cycle), never "again in a second".
//!
//! Before the rule was shared, the planner planned a refresh from `refresh_before_expiry`
//! on and the executor skipped it until its own 5 minutes: one generation a second (296 in
//! 12 minutes with the default 10m), and 54 minutes of that with `59m`.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::Value;

use crate::harness::*;
use crate::mock_openai::{MockAccount, MockOpenAi};
use crate::rotation::{env_with, rt};

const EMAIL: &str = "rex@example.com";
/// Issued access tokens live an hour (the mock's default).
const TTL: i64 = 3600;

struct World {
    mock: MockOpenAi,
    env: Env,
    home: std::path::PathBuf,
    window: i64,
    now: i64,
    /// With sync on, refreshes go through the sync lease.
    server: Option<crate::sync_harness::SyncServer>,
}

impl World {
    fn new(window: &str, sync: bool) -> World {
        let mock = MockOpenAi::start();
        let env = env_with(&mock);
        let server = sync.then(|| {
            let s = crate::sync_harness::server(
                &env,
                &crate::sync_harness::Db::sqlite(),
                &["alice"],
                &[],
            );
            crate::sync_harness::first_machine(&env, &s.url, "alice");
            s
        });
        let now = env.now.timestamp();
        let mut a = MockAccount::new(EMAIL, "acct-rex");
        a.ttl = TTL;
        a.clock = Some(now);
        mock.add(a);
        let home = env.codex_home("h");
        let w = World {
            window: manifest_seconds(window),
            mock,
            env,
            home,
            now,
            server,
        };
        w.env.import_auth_json(&w.mock.auth_json(EMAIL));
        w.env.manifest(&format!(
            "version: 1\naccounts:\n  rex: {{ email: {EMAIL} }}\nhomes:\n  h: {{ path: {}, account: rex }}\nwatch:\n  refresh_before_expiry: {window}\n",
            w.home.display()
        ));
        let out = w.cdxs(&["apply", "--yes"]);
        assert!(out.status.success(), "{}", text(&out));
        w
    }

    /// cdxs at the model's time.
    fn cdxs(&self, args: &[&str]) -> std::process::Output {
        self.env
            .cdxs()
            .env("CDXS_NOW", self.now.to_string())
            .args(args)
            .output()
            .unwrap()
    }

    /// When the token the issuer gave last expires.
    fn exp(&self) -> i64 {
        self.mock.account(EMAIL).last_iat + TTL
    }

    fn advance(&mut self, secs: i64) {
        self.now += secs;
        let now = self.now;
        self.mock
            .with(|s| s.accounts.get_mut(EMAIL).unwrap().clock = Some(now));
    }

    fn generations(&self) -> i64 {
        rusqlite::Connection::open(self.env.state.join("cdxs.db"))
            .unwrap()
            .query_row("SELECT COUNT(*) FROM generations", [], |r| r.get(0))
            .unwrap()
    }

    fn next_cycle(&self) -> i64 {
        let status = read_json(&self.env.state.join("watch.json"));
        status["next_cycle"].as_i64().unwrap()
    }
}

fn manifest_seconds(d: &str) -> i64 {
    let (n, unit) = d.split_at(d.len() - 1);
    n.parse::<i64>().unwrap()
        * match unit {
            "m" => 60,
            "h" => 3600,
            _ => 1,
        }
}

/// Step `w` through `span` seconds; returns how many refreshes happened.
fn run(w: &mut World, rng: &mut StdRng, span: i64) -> usize {
    let end = w.now + span;
    let mut refreshes = 0;
    let mut trace: Vec<String> = Vec::new();
    while w.now < end {
        let step = rng.random_range(7..=170);
        w.advance(step);
        let exp = w.exp();
        // The one rule: due once less than the window is left.
        let due = exp - w.now < w.window;
        let (requests, generations) = (w.mock.count("/oauth/token"), w.generations());
        let out = w.cdxs(&["watch", "--once", "--json"]);
        assert!(out.status.success(), "{}", text(&out));
        let lines: Vec<Value> = stdout(&out)
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        let sent = w.mock.count("/oauth/token") - requests;
        let written = w.generations() - generations;
        trace.push(format!(
            "t={} (exp in {}s, window {}s): due={due} sent={sent} generations+{written}",
            w.now,
            exp - w.now,
            w.window
        ));
        let why = || trace.join("\n  ");
        assert_eq!(
            sent,
            usize::from(due),
            "one request exactly when due:\n  {}\n{}",
            why(),
            text(&out)
        );
        assert_eq!(
            written,
            i64::from(due),
            "a generation only when something was written:\n  {}\n{}",
            why(),
            text(&out)
        );
        let claimed = lines
            .iter()
            .filter(|l| {
                l["event"] == "action" && l["message"].as_str().unwrap_or("").contains("refreshed")
            })
            .count();
        assert_eq!(
            claimed,
            sent,
            "a log line per refresh the issuer saw:\n  {}\n{}",
            why(),
            text(&out)
        );
        assert!(
            w.mock.refusals().is_empty(),
            "a token was presented twice:\n  {}",
            why()
        );
        if due && w.server.is_some() {
            assert!(
                stdout(&out).contains("under the sync lease"),
                "the refresh went through the lease:\n  {}\n{}",
                why(),
                text(&out)
            );
        }
        if due {
            refreshes += 1;
            assert_eq!(rt(&w.home), w.mock.current_token(EMAIL), "{}", why());
        }
        // The next deadline: this token's refresh time, or the periodic cycle.
        let refresh_at = w.exp() - w.window + 1;
        assert_eq!(
            w.next_cycle(),
            refresh_at.min(w.now + 60),
            "watch wakes up for the token it holds:\n  {}",
            why()
        );
    }
    refreshes
}

#[test]
fn each_token_is_refreshed_once_per_window_and_a_converged_watch_writes_nothing() {
    let seed: u64 = std::env::var("CDXS_MODEL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("seed {seed} (CDXS_MODEL_SEED={seed} repeats it)");
    let mut rng = StdRng::seed_from_u64(seed);
    // The default, Codex's own, the 59 minutes of the report, one drawn at random.
    let random = format!("{}m", rng.random_range(5..=58));
    for window in ["10m", "5m", "59m", random.as_str()] {
        let mut w = World::new(window, false);
        // Two hours and a bit: each hour-long token comes due once.
        let refreshes = run(&mut w, &mut rng, 2 * TTL + 600);
        assert!(
            refreshes >= 2,
            "window {window} (seed {seed}): {refreshes} refreshes in two hours"
        );
        assert_eq!(
            w.mock.count("/oauth/token"),
            refreshes,
            "window {window} (seed {seed})"
        );
    }
}

/// With sync on (refreshes under the sync lease, as `watch` on a machine that syncs
/// accounts does), the same: before, each of those needless cycles also took the lease and
/// pulled, and logged "refreshed ... under the sync lease" for a refresh that never happened.
#[test]
fn with_sync_on_each_token_is_refreshed_once_under_the_lease() {
    let seed: u64 = rand::random();
    eprintln!("seed {seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let mut w = World::new("10m", true);
    let refreshes = run(&mut w, &mut rng, TTL + 600);
    assert!(refreshes >= 1, "seed {seed}");
    assert_eq!(w.mock.count("/oauth/token"), refreshes, "seed {seed}");
}
