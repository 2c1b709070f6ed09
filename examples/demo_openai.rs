//! The demo's stand-in for auth.openai.com and chatgpt.com (127.0.0.1, a free port), so
//! `make demo` never reaches the network: it writes two ChatGPT logins the mock knows
//! (tokens issued now, valid for ten days, as ChatGPT's are) into the folder named by the
//! first argument, prints the base URLs to export, then answers quota and token refreshes.
//!   cargo run --example demo_openai -- /tmp/logins
#[path = "../tests/support/mock_openai.rs"]
mod mock_openai;

use mock_openai::{MockAccount, MockOpenAi, usage};

const TEN_DAYS: i64 = 10 * 86_400;

fn main() {
    let Some(out) = std::env::args_os().nth(1).map(std::path::PathBuf::from) else {
        eprintln!("usage: demo_openai <folder for the demo logins>");
        std::process::exit(2);
    };
    let mock = MockOpenAi::start();
    let logins = [
        (
            "me@example.com",
            "acct-personal",
            "plus",
            35.0,
            62.0,
            "personal-auth.json",
        ),
        (
            "me@corp.example",
            "acct-work",
            "team",
            8.0,
            21.0,
            "work-auth.json",
        ),
    ];
    for (email, id, plan, five, week, file) in logins {
        let mut a = MockAccount::new(email, id);
        a.plan = plan.into();
        a.ttl = TEN_DAYS;
        let mut u = usage(five, week);
        u["plan_type"] = plan.into();
        a.usage = Some(u);
        mock.add(a);
        let path = out.join(file);
        let written = std::fs::write(&path, mock.auth_json(email))
            .and_then(|()| cdxs::platform::fs::set_mode(&path, 0o600));
        if let Err(e) = written {
            eprintln!("cannot write {}: {e}", path.display());
            std::process::exit(1);
        }
    }
    println!("CDXS_AUTH_BASE_URL={}", mock.auth_base());
    println!("CDXS_CHATGPT_BASE_URL={}", mock.chatgpt_base());
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}
