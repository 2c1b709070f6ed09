//! Short thread ids, as jj shows change ids: Codex 0.171's ids are UUIDv7, so threads made
//! in the same minute share their first 8 to 13 characters and "the first 8" is rarely
//! unique. Each id gets the shortest prefix no other id of the homes shares (at least
//! [`MIN_PREFIX`] characters, what every session command accepts), and lists show that.

use std::path::{Path, PathBuf};

use super::HomeRef;
use crate::error::Result;

/// The shortest prefix commands accept (`session stats 01a2`).
pub const MIN_PREFIX: usize = 4;

/// Lists show at least this many characters of an id.
pub const MIN_SHOWN: usize = 8;

/// Every id of some homes, sorted, to find each one's unique prefix.
#[derive(Debug, Default)]
pub struct Prefixes {
    sorted: Vec<String>,
}

impl Prefixes {
    pub fn new(ids: impl IntoIterator<Item = String>) -> Prefixes {
        let mut sorted: Vec<String> = ids.into_iter().map(|i| i.to_ascii_lowercase()).collect();
        sorted.sort();
        sorted.dedup();
        Prefixes { sorted }
    }

    /// The ids of every thread row in `homes` (one indexed read per home).
    pub fn of_homes(homes: &[HomeRef]) -> Result<Prefixes> {
        let mut ids = Vec::new();
        for h in homes {
            ids.extend(ids_of(&h.path)?);
        }
        Ok(Prefixes::new(ids))
    }

    /// How many leading characters of `id` no other id shares (at least [`MIN_PREFIX`]).
    pub fn unique_len(&self, id: &str) -> usize {
        let id = id.to_ascii_lowercase();
        let common = |other: &str| {
            id.bytes()
                .zip(other.bytes())
                .take_while(|(a, b)| a == b)
                .count()
        };
        let at = self.sorted.partition_point(|x| x.as_str() < id.as_str());
        let before = at
            .checked_sub(1)
            .map(|i| common(&self.sorted[i]))
            .unwrap_or(0);
        let after_at = if self.sorted.get(at).is_some_and(|x| *x == id) {
            at + 1
        } else {
            at
        };
        let after = self.sorted.get(after_at).map(|x| common(x)).unwrap_or(0);
        (before.max(after) + 1).max(MIN_PREFIX).min(id.len())
    }

    /// `(prefix, rest)` of `id` as a list shows it: the unique prefix, then more characters
    /// up to [`MIN_SHOWN`].
    pub fn split<'a>(&self, id: &'a str) -> (&'a str, &'a str) {
        let n = self.unique_len(id).min(id.len());
        let shown = n.max(MIN_SHOWN).min(id.len());
        (&id[..n], &id[n..shown])
    }
}

/// The thread ids of a home's state DB (none when Codex never ran there).
fn ids_of(home: &Path) -> Result<Vec<String>> {
    use crate::error::OnCodexDb;
    let Some(db) = super::open_state(home, false)? else {
        return Ok(Vec::new());
    };
    let mut stmt = db.conn.prepare("SELECT id FROM threads").on_db(&db.path)?;
    let rows = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .on_db(&db.path)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().on_db(&db.path)
}

/// Which threads `session list` shows: in a folder (or below it), whose name or preview
/// holds some text, updated since a time, at most so many (the newest).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub cwd: Option<PathBuf>,
    /// Lower-case text to find in the name or preview.
    pub search: Option<String>,
    /// Unix time.
    pub since: Option<i64>,
    pub limit: Option<usize>,
}

impl Filter {
    /// Whether any filter is set (else listing streams everything as it is read).
    pub fn is_empty(&self) -> bool {
        self.cwd.is_none() && self.search.is_none() && self.since.is_none() && self.limit.is_none()
    }

    pub fn keeps(&self, t: &super::list::ThreadView) -> bool {
        self.cwd
            .as_ref()
            // Windows: `\\?\C:\src` (the desktop app's spelling) is under `c:\src`.
            .is_none_or(|c| crate::platform::path::under(Path::new(t.cwd), c))
            && self.since.is_none_or(|s| t.updated_at >= s)
            && self.search.as_ref().is_none_or(|s| {
                t.name.is_some_and(|n| n.to_lowercase().contains(s))
                    || t.preview.to_lowercase().contains(s)
            })
    }

    /// Keep the newest [`Filter::limit`] threads, in the order they were listed.
    pub fn limit(&self, threads: &mut Vec<super::list::ThreadInfo>) {
        let Some(n) = self.limit.filter(|n| *n < threads.len()) else {
            return;
        };
        let mut newest: Vec<usize> = (0..threads.len()).collect();
        newest.sort_by(|&a, &b| threads[b].updated_at.cmp(&threads[a].updated_at));
        let keep: std::collections::BTreeSet<usize> = newest.into_iter().take(n).collect();
        let mut i = 0;
        threads.retain(|_| {
            i += 1;
            keep.contains(&(i - 1))
        });
    }

    /// `--since`: a duration back from `now` (`2d`, `12h`), a date (`2026-11-20`, midnight
    /// UTC) or an RFC 3339 time.
    pub fn parse_since(text: &str, now: i64) -> std::result::Result<i64, String> {
        let t = text.trim();
        if let Ok(d) = crate::manifest::Duration::parse(t) {
            return Ok(now.saturating_sub(i64::try_from(d.seconds).unwrap_or(i64::MAX)));
        }
        if let Ok(day) = chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d") {
            return Ok(day.and_time(chrono::NaiveTime::MIN).and_utc().timestamp());
        }
        chrono::DateTime::parse_from_rfc3339(t)
            .map(|d| d.timestamp())
            .map_err(|_| {
                format!("`{t}` is neither a duration (`2d`, `12h`), a date (`2026-11-20`) nor an RFC 3339 time")
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_v7_ids_of_one_minute_get_the_prefix_that_tells_them_apart() {
        let p = Prefixes::new([
            "01a24b6c-1111-7990-89b7-d72a059f1914".to_string(),
            "01a24b6c-1122-7990-89b7-d72a059f1915".to_string(),
            "01a24b6d-0000-7000-8000-000000000000".to_string(),
            "ffff0000-0000-7000-8000-000000000000".to_string(),
        ]);
        assert_eq!(p.unique_len("01a24b6c-1111-7990-89b7-d72a059f1914"), 12);
        assert_eq!(p.unique_len("01a24b6d-0000-7000-8000-000000000000"), 8);
        assert_eq!(
            p.unique_len("ffff0000-0000-7000-8000-000000000000"),
            MIN_PREFIX
        );
        assert_eq!(
            p.split("01a24b6c-1122-7990-89b7-d72a059f1915"),
            ("01a24b6c-112", "")
        );
        assert_eq!(
            p.split("ffff0000-0000-7000-8000-000000000000"),
            ("ffff", "0000")
        );
        // An id that is not in the set still gets a prefix that tells it apart.
        assert_eq!(p.unique_len("01a24b6c-9999-0000-0000-000000000000"), 10);
    }

    #[test]
    fn since_takes_durations_dates_and_times() {
        let now = 1_800_000_000;
        assert_eq!(Filter::parse_since("2d", now), Ok(now - 2 * 86_400));
        assert_eq!(
            Filter::parse_since("2026-11-20", now),
            Ok(chrono::NaiveDate::from_ymd_opt(2026, 11, 20)
                .unwrap()
                .and_time(chrono::NaiveTime::MIN)
                .and_utc()
                .timestamp())
        );
        assert!(Filter::parse_since("2026-11-20T10:00:00Z", now).is_ok());
        assert!(Filter::parse_since("last tuesday", now).is_err());
    }
}
