//! `session list` and `session stats`: read only.

use super::{HomesArg, homes};
use crate::cli::shell::Shell;
use crate::error::{Exit, Result};
use crate::output::JsonElements;
use crate::output::views::sessions::{StatsView, thread_table};
use crate::sessions::{list, stats};

pub fn list(sh: &mut Shell, arg: &HomesArg, json: bool) -> Result<Exit> {
    let homes = homes(sh, arg, false)?;
    // Homes are read in parallel and handed over in order (home order, then newest first).
    if json {
        // Streamed home by home: 50,000 threads never sit in memory as one JSON tree.
        // Each home is encoded by the thread that read it (and its rows freed there).
        list::threads_of_homes(
            &homes,
            |threads| JsonElements::encode(threads.iter()),
            |chunks| sh.printer.json_stream("threads", chunks),
        )?;
        return Ok(Exit::Success);
    }
    let all = list::threads_of_homes(&homes, Ok, |chunks| {
        let mut all = Vec::new();
        for chunk in chunks {
            all.extend(chunk?.iter().map(|t| t.to_info()));
        }
        Ok::<_, crate::error::Error>(all)
    })?;
    if all.is_empty() {
        sh.printer.status("no threads");
        return Ok(Exit::Success);
    }
    sh.printer.out(thread_table(&all));
    Ok(Exit::Success)
}

pub fn stats(sh: &mut Shell, id: &str, arg: &HomesArg, full: bool, json: bool) -> Result<Exit> {
    // A bare id may live in any declared home.
    let homes = homes(sh, arg, true)?;
    let (home, t) = list::find(&homes, id)?;
    let s = stats::stats(&home, &t, full)?;
    sh.printer.emit(json, &StatsView { stats: s });
    Ok(Exit::Success)
}
