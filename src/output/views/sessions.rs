//! Sessions for people: the thread list, one thread's stats, the trash, visibility
//! problems, thread copies. Titles, names and previews come from files other programs
//! write: control characters are escaped here (`--json` keeps them exact).

use serde::Serialize;

use super::View;
use crate::output::format::{self, bytes, short, when};
use crate::output::{Col, Printer, Table, sanitize};
use crate::sessions::ids::Prefixes;
use crate::sessions::list::ThreadInfo;
use crate::sessions::share::Copy;
use crate::sessions::stats::Stats;
use crate::sessions::visibility::Issue;

/// A thread id as lists show it: its unique prefix (bold, as jj shows change ids) and a few
/// more characters (dim); without colours, just those characters.
pub fn short_id(p: &Printer, prefixes: &Prefixes, id: &str) -> String {
    let (prefix, rest) = prefixes.split(id);
    if rest.is_empty() {
        return p.bold(&p.cyan(prefix));
    }
    format!("{}{}", p.bold(&p.cyan(prefix)), p.dim(rest))
}

/// `session list` as text (its JSON is streamed home by home), fit to the terminal.
pub fn thread_table(p: &Printer, all: &[ThreadInfo], prefixes: &Prefixes) -> String {
    let mut t = Table::with(vec![
        Col::new("HOME", 1).shrink(8),
        Col::new("ID", 0),
        Col::new("UPDATED", 2),
        Col::new("SOURCE", 4),
        Col::new("TOKENS", 5),
        Col::new("TITLE", 0).shrink(20),
        Col::new("HIDDEN", 3).shrink(6),
    ]);
    for th in all {
        t.row([
            sanitize(&th.home).into_owned(),
            short_id(p, prefixes, &th.id),
            when(th.updated_at),
            sanitize(&th.source).into_owned(),
            th.tokens_used.to_string(),
            short(th.title(), 60),
            if th.hidden.is_empty() {
                "-".to_string()
            } else {
                let text = th
                    .hidden
                    .iter()
                    .map(|h| h.text(&th.source, &th.model_provider));
                sanitize(&text.collect::<Vec<_>>().join(", ")).into_owned()
            },
        ]);
    }
    let legend = format::legend(
        p,
        &[
            (
                "ID",
                "each thread's shortest unique prefix (every session command takes it)",
            ),
            ("HIDDEN", "why `codex resume` would not show it"),
        ],
    );
    t.render_in(p.width()) + &legend
}

#[derive(Debug, Serialize)]
pub struct StatsView {
    pub stats: Stats,
}

impl View for StatsView {
    fn human(&self, _p: &Printer) -> String {
        let s = &self.stats;
        let rows: Vec<(&str, String)> = vec![
            ("thread", s.id.clone()),
            ("home", sanitize(&s.home).into_owned()),
            (
                "name",
                s.name
                    .as_deref()
                    .map(|n| short(n, 200))
                    .unwrap_or_else(|| "-".into()),
            ),
            ("preview", short(&s.preview, 70)),
            (
                "rollout",
                s.rollout_path
                    .as_ref()
                    .map(|p| sanitize(&p.display().to_string()).into_owned())
                    .unwrap_or_else(|| "(missing)".into()),
            ),
            ("size", s.size.map(bytes).unwrap_or_else(|| "-".into())),
            (
                "tokens",
                match s.tokens {
                    Some(u) => format!(
                        "{} total ({} input, {} cached, {} output, {} reasoning)",
                        u.total_tokens,
                        u.input_tokens,
                        u.cached_input_tokens,
                        u.output_tokens,
                        u.reasoning_output_tokens
                    ),
                    None => "no token_count in the rollout".into(),
                },
            ),
            ("tokens (db)", s.tokens_used_db.to_string()),
            (
                "turns",
                s.turns
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| "- (use --lines)".into()),
            ),
            (
                "lines",
                s.lines
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| "- (use --lines)".into()),
            ),
        ];
        let w = rows.iter().map(|(k, _)| k.len() + 1).max().unwrap_or(0);
        rows.into_iter()
            .map(|(k, v)| format!("{:w$}  {v}\n", format!("{k}:")))
            .collect()
    }
}

/// One entry of `session trash-list`.
#[derive(Debug, Serialize)]
pub struct TrashEntry {
    pub home: String,
    pub id: String,
    pub name: Option<String>,
    pub preview: Option<String>,
    pub trashed_at: i64,
    pub files: usize,
    pub size: u64,
    pub complete: bool,
}

#[derive(Debug, Serialize)]
pub struct TrashList {
    pub trash: Vec<TrashEntry>,
}

impl View for TrashList {
    fn human(&self, p: &Printer) -> String {
        if self.trash.is_empty() {
            return String::new();
        }
        let mut t = Table::with(vec![
            Col::new("HOME", 1).shrink(8),
            Col::new("ID", 0),
            Col::new("TRASHED", 2),
            Col::new("SIZE", 3),
            Col::new("TITLE", 0).shrink(16),
        ]);
        let prefixes = Prefixes::new(self.trash.iter().map(|e| e.id.clone()));
        for e in &self.trash {
            t.row([
                sanitize(&e.home).into_owned(),
                short_id(p, &prefixes, &e.id),
                when(e.trashed_at),
                bytes(e.size),
                short(e.name.as_deref().or(e.preview.as_deref()).unwrap_or(""), 50)
                    + if e.complete {
                        ""
                    } else {
                        " (interrupted: run trash again)"
                    },
            ]);
        }
        t.render_in(p.width())
    }
}

/// `session visibility check|repair` for one home.
#[derive(Debug, Serialize)]
pub struct HomeIssues {
    pub home: String,
    pub issues: Vec<Issue>,
    pub repaired: Vec<Issue>,
}

#[derive(Debug, Serialize)]
pub struct Visibility {
    /// `repair`: what it changed, as every command that changes something says it.
    #[serde(flatten)]
    pub outcome: Option<super::outcome::Outcome>,
    pub homes: Vec<HomeIssues>,
    #[serde(skip)]
    pub repair: bool,
    #[serde(skip)]
    pub dry_run: bool,
}

impl View for Visibility {
    fn human(&self, p: &Printer) -> String {
        let mut out = String::new();
        for r in &self.homes {
            let home = sanitize(&r.home);
            if r.issues.is_empty() {
                out.push_str(&format!("home `{home}`: every thread is visible\n"));
                continue;
            }
            out.push_str(&format!("home `{home}`: {} problem(s)\n", r.issues.len()));
            for i in &r.issues {
                let mark = if r.repaired.contains(i) {
                    p.green("fixed")
                } else if self.repair && i.repairable() && self.dry_run {
                    p.yellow("would fix")
                } else if i.repairable() {
                    p.yellow("repairable")
                } else {
                    p.dim("report only")
                };
                out.push_str(&format!(
                    "  [{mark}] {} {}: {}\n",
                    i.kind(),
                    i.id(),
                    sanitize(&i.describe())
                ));
            }
        }
        out
    }
}

/// `session sync-threads`.
#[derive(Debug, Serialize)]
pub struct Copies {
    pub dry_run: bool,
    pub copies: Vec<Copy>,
}

impl View for Copies {
    fn human(&self, _p: &Printer) -> String {
        self.copies
            .iter()
            .map(|c| {
                format!(
                    "{} {} from `{}` to `{}`: {}\n",
                    if self.dry_run { "would copy" } else { "copy" },
                    c.id,
                    sanitize(&c.from),
                    sanitize(&c.to),
                    short(&c.title, 50)
                )
            })
            .collect()
    }
}
