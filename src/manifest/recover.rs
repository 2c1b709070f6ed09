//! Every structural problem of a manifest in one run. serde stops at the first problem it
//! meets, so the reader recovers the way a compiler does: it reports the problem, blanks the
//! entry that holds it (spaces over its bytes, so every other span keeps its offset) and
//! reads again, until the document reads or the YAML itself is broken. What follows only
//! from a blanked entry (a home that lost its `path` to a typo, a reference to an entry
//! that had to go) is not reported twice.

use std::ops::Range;

use super::diagnostics::Problem;
use super::model::RawManifest;
use super::tree::{self, Node};

/// At most this many structural problems are collected from one file...
const MAX_PROBLEMS: usize = 100;

/// ...and at most this many bytes read again in all (each problem costs one more read of
/// the file: a 4 MiB file gets a few, a cdxs.yaml of a few kilobytes all of them).
const MAX_REREAD_BYTES: usize = 32 << 20;

/// What reading a manifest found.
pub struct Recovered {
    /// The document as read once every problem's entry was blanked (`None`: the YAML is
    /// broken there, or recovery gave up).
    pub raw: Option<RawManifest>,
    /// The structural problems, in the order they were found.
    pub problems: Vec<Problem>,
    /// The text `raw` was read from: the original with blanked entries (same offsets).
    pub text: String,
    /// The names of second-level entries (`homes.work`, `accounts.me`) that lost a part: a
    /// problem pointing only at such a name ("account `me` does not say which account it
    /// is") follows from the part that went.
    touched: Vec<Range<usize>>,
    /// Names of second-level entries blanked whole.
    dropped: Vec<String>,
}

impl Recovered {
    /// Does `p` (a semantic problem of the repaired document) only follow from an entry
    /// that was blanked? Then it is not reported: it goes away with the structural fix.
    pub fn is_consequence(&self, p: &Problem) -> bool {
        let names_dropped = self
            .dropped
            .iter()
            .any(|n| p.message.contains(&format!("`{n}`")));
        let inside_touched = !p.labels.is_empty()
            && p.labels.iter().all(|(span, _)| {
                let (start, end) = (span.offset(), span.offset() + span.len());
                self.touched
                    .iter()
                    .any(|t| t.start <= start && end <= t.end)
            });
        names_dropped || inside_touched
    }
}

/// One mapping entry or sequence item on the way from the root to an offset.
#[derive(Debug, Clone)]
struct Entry {
    /// The key and its value (an item: the item).
    whole: Range<usize>,
    key: Option<Range<usize>>,
    name: Option<String>,
    /// 0 for a root key, 1 for `homes.work`, ...
    depth: usize,
    /// It sits in a flow collection (`{ a: 1, b: 2 }`, `[a, b]`).
    in_flow: bool,
}

/// The entries that contain `off`, outermost first.
fn chain(node: &Node, off: usize, depth: usize, out: &mut Vec<Entry>) {
    match node {
        Node::Map { flow, entries, .. } => {
            for (k, v) in entries {
                let (kr, vr) = (k.range(), v.range());
                let whole = kr.start..vr.end.max(kr.end);
                if whole.start <= off && off <= whole.end {
                    out.push(Entry {
                        whole,
                        key: Some(kr),
                        name: k.as_str().map(str::to_string),
                        depth,
                        in_flow: *flow,
                    });
                    chain(v, off, depth + 1, out);
                    return;
                }
            }
        }
        Node::Seq { flow, items, .. } => {
            for item in items {
                let r = item.range();
                if r.start <= off && off <= r.end {
                    out.push(Entry {
                        whole: r,
                        key: None,
                        name: None,
                        depth,
                        in_flow: *flow,
                    });
                    chain(item, off, depth + 1, out);
                    return;
                }
            }
        }
        Node::Scalar { .. } => {}
    }
}

/// What serde said, reduced to what recovery needs.
enum Kind {
    /// The problem is a key (unknown, duplicate): its entry goes.
    Key,
    /// A mapping lacks `field`: the mapping's own entry goes.
    Missing(String),
    /// A value is wrong: its entry goes.
    Value,
}

fn kind_of(err: &serde_saphyr::Error) -> Kind {
    use serde_saphyr::Error as E;
    match err {
        E::SerdeUnknownField { .. } | E::DuplicateMappingKey { .. } => Kind::Key,
        E::SerdeMissingField { field, .. } => Kind::Missing(field.to_string()),
        _ => Kind::Value,
    }
}

/// An entry that was blanked.
struct Blanked {
    range: Range<usize>,
    depth: usize,
    /// Where the mapping it was in starts.
    parent: usize,
}

/// The entry a problem blanks, and for a missing key where its mapping starts and how deep
/// that mapping's keys are.
struct Target {
    entry: Option<Entry>,
    container: Option<(usize, usize)>,
}

/// Read `text`, collecting every structural problem (`describe` turns serde's error into
/// one, with spans into `text`).
pub fn read(text: &str, describe: impl Fn(&serde_saphyr::Error, &str) -> Problem) -> Recovered {
    let mut rec = Recovered {
        raw: None,
        problems: Vec::new(),
        text: text.to_string(),
        touched: Vec::new(),
        dropped: Vec::new(),
    };
    let mut blanked: Vec<Blanked> = Vec::new();
    let max_reads = (MAX_REREAD_BYTES / text.len().max(1)).clamp(1, MAX_PROBLEMS);
    for _ in 0..max_reads {
        let err = match serde_saphyr::from_str_with_options::<RawManifest>(
            &rec.text,
            serde_saphyr::Options::default(),
        ) {
            Ok(raw) => {
                rec.raw = Some(raw);
                return rec;
            }
            Err(e) => e,
        };
        let inner = err.without_snippet();
        let problem = describe(inner, text);
        let off = inner
            .location()
            .and_then(|l| l.span().byte_offset())
            .map(|o| o as usize);
        // Broken YAML (or no place to point at): report it and stop there.
        let (Some(off), Some(root)) = (off, tree::parse(&rec.text)) else {
            rec.problems.push(problem);
            return rec;
        };
        let path = path_to(&root, off);
        let kind = kind_of(inner);
        let target = target_of(&kind, &path, &root, off);
        if !follows_from_blanked(&blanked, &target) {
            rec.problems.push(problem);
        }
        let Some(entry) = target.entry else {
            // A root key is missing: only `version` can be supplied (at the end, so that no
            // offset moves) to read on.
            if matches!(&kind, Kind::Missing(f) if f == "version")
                && !rec.text.contains("\nversion: 1\n# cdxs")
            {
                rec.text
                    .push_str("\nversion: 1\n# cdxs: supplied to read on\n");
                continue;
            }
            return rec;
        };
        let range = widen(&rec.text, &entry);
        if !blank(&mut rec.text, range.clone()) {
            return rec;
        }
        blanked.push(rec.note_blanked(&path, &entry, range));
    }
    rec
}

impl Recovered {
    /// Remember what blanking `entry` (on `path`) took away.
    fn note_blanked(&mut self, path: &[Entry], entry: &Entry, range: Range<usize>) -> Blanked {
        let parent = path
            .iter()
            .rev()
            .find(|e| e.depth + 1 == entry.depth)
            .map(|e| e.whole.start)
            .unwrap_or(0);
        if let Some(key) = path
            .iter()
            .find(|e| e.depth == 1)
            .and_then(|e| e.key.clone())
        {
            self.touched.push(key);
        }
        if entry.depth == 1
            && let Some(name) = &entry.name
        {
            self.dropped.push(name.clone());
        }
        Blanked {
            range,
            depth: entry.depth,
            parent,
        }
    }
}

/// The entries from the root to `off`, outermost first.
fn path_to(root: &Node, off: usize) -> Vec<Entry> {
    let mut path = Vec::new();
    chain(root, off, 0, &mut path);
    if path.is_empty() {
        // A value left empty by a blank reads as null where the next key starts: the
        // root entry before that place is the one in question.
        if let Node::Map { flow, entries, .. } = root
            && let Some((k, v)) = entries.iter().rev().find(|(k, _)| k.range().start <= off)
        {
            path.push(Entry {
                whole: k.range().start..v.range().end.max(k.range().end),
                key: Some(k.range()),
                name: k.as_str().map(str::to_string),
                depth: 0,
                in_flow: *flow,
            });
        }
    }
    path
}

/// The entry that goes for a problem of `kind` at `off`.
fn target_of(kind: &Kind, path: &[Entry], root: &Node, off: usize) -> Target {
    let key_at = path.iter().rposition(|e| {
        e.key
            .as_ref()
            .is_some_and(|k| k.start <= off && off <= k.end)
    });
    let (entry, container) = match kind {
        Kind::Key => (key_at.map(|i| path[i].clone()), None),
        Kind::Missing(_) => match key_at {
            Some(0) => (None, Some((root.range().start, 0))),
            Some(i) => (
                Some(path[i - 1].clone()),
                Some((path[i - 1].whole.start, path[i].depth)),
            ),
            None => (path.last().cloned(), None),
        },
        Kind::Value => (path.last().cloned(), None),
    };
    Target { entry, container }
}

/// A key missing from a mapping that lost an entry (`pth:` for `path:`), or a problem in an
/// entry that lost a part, follows from the problem reported there.
fn follows_from_blanked(blanked: &[Blanked], target: &Target) -> bool {
    match target.container {
        Some((start, depth)) => blanked
            .iter()
            .any(|b| b.depth == depth && (b.parent == start || depth == 0)),
        // An entry that lost a part (or a child that lost its last key: `work:` left
        // empty reads as null, not as a home).
        None => target.entry.as_ref().is_some_and(|t| {
            blanked.iter().any(|b| {
                b.parent == t.whole.start
                    || (b.range.start < t.whole.end.max(t.whole.start + 1)
                        && t.whole.start < b.range.end)
            })
        }),
    }
}

/// The bytes that go with an entry: in a flow collection its comma too (`{ a: 1, b: 2 }`
/// stays valid YAML), in a block sequence its dash.
fn widen(text: &str, e: &Entry) -> Range<usize> {
    let bytes = text.as_bytes();
    let mut r = e.whole.clone();
    let is_space = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    // A key with an empty value (`work:`) ends before its colon.
    let mut colon = r.end;
    while colon < bytes.len() && matches!(bytes[colon], b' ' | b'\t') {
        colon += 1;
    }
    if e.key.is_some() && colon < bytes.len() && bytes[colon] == b':' {
        r.end = colon + 1;
    }
    if e.in_flow {
        let mut after = r.end;
        while after < bytes.len() && is_space(bytes[after]) {
            after += 1;
        }
        if after < bytes.len() && bytes[after] == b',' {
            r.end = after + 1;
        } else {
            let mut before = r.start;
            while before > 0 && is_space(bytes[before - 1]) {
                before -= 1;
            }
            if before > 0 && bytes[before - 1] == b',' {
                r.start = before - 1;
            }
        }
    } else if e.key.is_none() {
        let mut before = r.start;
        while before > 0 && matches!(bytes[before - 1], b' ' | b'\t') {
            before -= 1;
        }
        if before > 0 && bytes[before - 1] == b'-' {
            r.start = before - 1;
        }
    }
    r
}

/// Spaces over `range` (line breaks kept, so lines and offsets stay where they were).
/// False when there was nothing left to blank.
fn blank(text: &mut String, range: Range<usize>) -> bool {
    let (start, end) = (range.start.min(text.len()), range.end.min(text.len()));
    if !text.is_char_boundary(start) || !text.is_char_boundary(end) {
        return false;
    }
    let part = &text[start..end];
    if part.chars().all(char::is_whitespace) {
        return false;
    }
    let spaced: String = part
        .chars()
        .map(|c| {
            if c == '\n' || c == '\r' {
                c.to_string()
            } else {
                " ".repeat(c.len_utf8())
            }
        })
        .collect();
    text.replace_range(start..end, &spaced);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(text: &str) -> Vec<String> {
        match super::super::parse(text, std::path::Path::new("/c/cdxs.yaml")) {
            Ok(_) => Vec::new(),
            Err(r) => r.messages().iter().map(|m| m.to_string()).collect(),
        }
    }

    /// The nine mistakes of issue 21's new user, all in one run (they took seven).
    #[test]
    fn nine_mistakes_in_one_run() {
        let text = "\
version: 1
acounts:
  me: { email: me@example.com }
accounts:
  work: { emial: w@corp.com }
  ci: { api_key_env: OPENAI_API_KEY, base_url: https://gw.example.com/v1 }
homes:
  default:
    pth: ~/.codex
    account: me
  work: { path: ~/w, account: wrk }
  burst: { path: ~/b, account: { pool: spares, strategy: best } }
  ci: { path: ~/ci, account: ci, codex_config: { cli_auth_credentials_store: keyring } }
sessions:
  trash_max_age: 30 days
  auto_repair: yes please
watch:
  interval: 5x
  intreval: 10s
";
        let got = messages(text);
        let want = [
            "unknown key `acounts`",
            "unknown key `emial`",
            "unknown key `pth`",
            "account `wrk` is not declared under `accounts:`",
            "unknown value `best`",
            "unknown value `keyring`",
            "30 days",
            "invalid boolean",
            "5x",
            "unknown key `intreval`",
            "pool `spares`",
        ];
        for w in want {
            assert!(
                got.iter().any(|m| m.contains(w)),
                "`{w}` missing from {got:#?}"
            );
        }
        // What only follows from a blanked entry is not reported: `work` lost its email
        // to the typo (not "does not say which account"), `default` its path.
        assert!(
            !got.iter()
                .any(|m| m.contains("does not say which account")
                    || m.contains("missing key `path`")),
            "{got:#?}"
        );
    }

    #[test]
    fn a_missing_version_and_a_bad_one_read_on() {
        let got = messages("homes:\n  a: { path: /x, acount: me }\n");
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(
            got[0].contains("missing key `version`") || got[1].contains("missing key `version`")
        );
        let got = messages("version: abc\nhomes:\n  a: { pth: /x }\n");
        assert!(got.iter().any(|m| m.contains("u32")), "{got:?}");
        assert!(
            got.iter().any(|m| m.contains("unknown key `pth`")),
            "{got:?}"
        );
        assert!(
            !got.iter().any(|m| m.contains("missing key `version`")),
            "{got:?}"
        );
    }

    #[test]
    fn broken_yaml_is_one_problem_and_block_lists_recover() {
        assert_eq!(messages("version: 1\nhomes: [\n").len(), 1);
        let got = messages(
            "version: 1\nsync:\n  targets:\n    - name: a\n      url: http://x\n    - name: b\n      url: ftp://y\n      user: u\n      bogus: 1\n",
        );
        assert!(
            got.iter().any(|m| m.contains("missing key `user`")),
            "{got:?}"
        );
        assert!(
            got.iter().any(|m| m.contains("unknown key `bogus`")),
            "{got:?}"
        );
    }

    #[test]
    fn blanking_keeps_offsets_and_flow_commas() {
        let mut t = "a: { b: 1, c: é, d: 3 }".to_string();
        let root = tree::parse(&t).unwrap();
        let mut path = Vec::new();
        let off = t.find("c:").unwrap();
        chain(&root, off, 0, &mut path);
        let e = path.last().unwrap().clone();
        let len = t.len();
        let r = widen(&t, &e);
        assert!(blank(&mut t, r));
        assert_eq!(t.len(), len);
        assert!(tree::parse(&t).is_some(), "{t}");
        assert!(!t.contains('c') && t.contains("d: 3"), "{t}");
    }
}
