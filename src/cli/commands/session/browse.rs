//! `session list` and `session stats`: read only.

use super::{HomesArg, ListFilter, homes};
use crate::cli::shell::Shell;
use crate::error::{Error, Exit, Result};
use crate::manifest::select;
use crate::output::JsonElements;
use crate::output::views::sessions::{StatsView, thread_table};
use crate::sessions::ids::{Filter, Prefixes};
use crate::sessions::{list, stats};

pub fn list(sh: &mut Shell, arg: &HomesArg, filter: ListFilter) -> Result<Exit> {
    let json = sh.printer.json;
    let m = super::manifest(sh, arg)?;
    let default = crate::paths::default_codex_home()?;
    let listed = select::session_homes(m.as_ref(), &arg.selection(false), &default)?;
    let since = filter
        .since
        .as_deref()
        .map(|s| Filter::parse_since(s, sh.now()));
    let f = Filter {
        cwd: filter.cwd.as_deref().map(crate::paths::absolute),
        search: filter.search.map(|s| s.to_lowercase()),
        since: since
            .transpose()
            .map_err(|e| Error::user(e).with_help("e.g. `--since 2d`"))?,
        limit: filter.limit,
    };
    // Homes are read in parallel and handed over in order (home order, then newest first).
    if json && f.is_empty() {
        // Streamed home by home: 50,000 threads never sit in memory as one JSON tree.
        // Each home is encoded by the thread that read it (and its rows freed there).
        list::threads_of_homes(
            &listed,
            |threads| JsonElements::encode(threads.iter()),
            |chunks| sh.printer.json_stream("threads", chunks),
        )?;
        return Ok(Exit::Success);
    }
    let mut all = list::threads_of_homes(&listed, Ok, |chunks| {
        let mut all = Vec::new();
        for chunk in chunks {
            all.extend(chunk?.iter().filter(|t| f.keeps(t)).map(|t| t.to_info()));
        }
        Ok::<_, Error>(all)
    })?;
    f.limit(&mut all);
    if json {
        sh.printer.json(&serde_json::json!({ "threads": all }));
        return Ok(Exit::Success);
    }
    if all.is_empty() {
        sh.printer.status("no threads");
        return Ok(Exit::Success);
    }
    // Prefixes unique among every home's threads: commands look a bare id up in all of them.
    let everywhere = HomesArg::default().selection(true);
    let mut every = select::session_homes(m.as_ref(), &everywhere, &default)?;
    every.extend(
        listed
            .into_iter()
            .filter(|h| !every.contains(h))
            .collect::<Vec<_>>(),
    );
    let prefixes = Prefixes::of_homes(&every)?;
    sh.printer.out(thread_table(&sh.printer, &all, &prefixes));
    Ok(Exit::Success)
}

pub fn stats(sh: &mut Shell, id: &str, arg: &HomesArg, full: bool) -> Result<Exit> {
    // A bare id may live in any declared home.
    let homes = homes(sh, arg, true)?;
    let (home, t) = list::find(&homes, id)?;
    let s = stats::stats(&home, &t, full)?;
    sh.printer.emit(&StatsView { stats: s });
    Ok(Exit::Success)
}
