//! The crate's layers (DESIGN.md's table) as a test: every `crate::` and `super::` path in
//! `src/` (test modules aside) is an import from one file to another; no file imports a
//! layer above its own, `error` imports nothing of the crate but the `text` leaf, and the
//! import graph has no circle.
//!
//! | layer | modules |
//! |---|---|
//! | 0 primitives | `error`, `text`, `secret`, `clock`, `platform`, `fsx`, `paths`, `endpoints`, `backup` |
//! | 1 Codex's formats | `codex::*` |
//! | 2 stores, desired state | `quota`, `vault::*`, `manifest::*` |
//! | 3 domain services | `auth::*`, `resolve`, `sessions::*`, `sync::*`, `legacy`, `archive` |
//! | 4 engine | `reconcile::*` |
//! | 5 edges | `server::*`, `output::*`, `doctor` |
//! | 6 shell | `cli::*`, `complete`, `main`, `lib` |

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(rust_files(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// The module path of a file: `src/vault/lock.rs` -> `vault::lock`, `src/error/mod.rs` ->
/// `error`, `src/lib.rs` -> ``.
fn module_of(file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src()).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

fn layer(module: &[String]) -> usize {
    match module.first().map(String::as_str) {
        Some(
            "error" | "text" | "secret" | "clock" | "platform" | "fsx" | "paths" | "endpoints"
            | "backup",
        ) => 0,
        Some("codex") => 1,
        Some("quota" | "vault" | "manifest") => 2,
        Some("auth" | "resolve" | "sessions" | "sync" | "legacy" | "archive") => 3,
        Some("reconcile") => 4,
        Some("server" | "output" | "doctor") => 5,
        _ => 6,
    }
}

/// The code of a file without its comments and its unit-test module.
fn code(file: &Path) -> String {
    let text = std::fs::read_to_string(file).unwrap();
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => &text[..],
    };
    text.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every path `crate::a::b...` or `super::...` names, with `use x::{a, b::c}` groups opened.
/// Works on bytes: identifiers are ASCII, everything else is skipped.
fn paths_in(code: &str) -> Vec<(String, Vec<String>)> {
    let b = code.as_bytes();
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let word = |from: usize| {
        let mut to = from;
        while to < b.len() && ident(b[to]) {
            to += 1;
        }
        (String::from_utf8_lossy(&b[from..to]).into_owned(), to)
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let head = if b[i..].starts_with(b"crate::") {
            "crate"
        } else if b[i..].starts_with(b"super::") {
            "super"
        } else {
            i += 1;
            continue;
        };
        if i > 0 && (ident(b[i - 1]) || b[i - 1] == b':') {
            i += 1;
            continue;
        }
        let mut j = i + head.len();
        let mut segs: Vec<String> = Vec::new();
        while b[j..].starts_with(b"::") {
            j += 2;
            if b[j..].starts_with(b"{") {
                let end = b[j..]
                    .iter()
                    .position(|&c| c == b'}')
                    .map(|e| j + e)
                    .unwrap_or(b.len());
                let inner = String::from_utf8_lossy(&b[j + 1..end]).into_owned();
                for item in inner.split(',') {
                    let first = item.trim().split("::").next().unwrap_or("");
                    let first = first.split_whitespace().next().unwrap_or("");
                    if !first.is_empty() && first != "self" {
                        let mut s = segs.clone();
                        s.push(first.to_string());
                        out.push((head.to_string(), s));
                    }
                }
                j = end;
                segs.clear();
                break;
            }
            let (w, to) = word(j);
            if w.is_empty() {
                break;
            }
            segs.push(w);
            j = to;
        }
        if !segs.is_empty() {
            out.push((head.to_string(), segs));
        }
        i = j.max(i + 1);
    }
    out
}

struct Graph {
    /// module path -> file
    files: BTreeMap<Vec<String>, PathBuf>,
    edges: BTreeMap<PathBuf, BTreeSet<PathBuf>>,
}

fn graph() -> Graph {
    let all = rust_files(&src());
    let files: BTreeMap<Vec<String>, PathBuf> =
        all.iter().map(|f| (module_of(f), f.clone())).collect();
    let resolve = |parts: &[String]| -> Option<PathBuf> {
        (1..=parts.len())
            .rev()
            .find_map(|n| files.get(&parts[..n]).cloned())
    };
    let mut edges: BTreeMap<PathBuf, BTreeSet<PathBuf>> = BTreeMap::new();
    for f in &all {
        let module = module_of(f);
        let is_mod_file = matches!(
            f.file_stem().and_then(|s| s.to_str()),
            Some("mod" | "lib" | "main")
        );
        // `super` of `a::b` (file a/b.rs) is `a`; of `a` (a/mod.rs) it is the root.
        let base: Vec<String> = if is_mod_file {
            module.clone()
        } else {
            module[..module.len().saturating_sub(1)].to_vec()
        };
        let mut to = BTreeSet::new();
        for (head, segs) in paths_in(&code(f)) {
            let target = if head == "crate" {
                resolve(&segs)
            } else {
                let mut up = base.clone();
                let mut rest = segs.as_slice();
                up.pop();
                while rest.first().map(String::as_str) == Some("super") {
                    up.pop();
                    rest = &rest[1..];
                }
                let mut parts = up;
                parts.extend(rest.iter().cloned());
                resolve(&parts)
            };
            if let Some(t) = target.filter(|t| t != f) {
                to.insert(t);
            }
        }
        edges.insert(f.clone(), to);
    }
    Graph { files, edges }
}

fn shown(p: &Path) -> String {
    p.strip_prefix(src()).unwrap().display().to_string()
}

#[test]
fn no_module_imports_a_layer_above_its_own() {
    let g = graph();
    let mut problems = Vec::new();
    for (from, tos) in &g.edges {
        let lf = layer(&module_of(from));
        for to in tos {
            let lt = layer(&module_of(to));
            if lt > lf {
                problems.push(format!(
                    "{} (layer {lf}) imports {} (layer {lt})",
                    shown(from),
                    shown(to)
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(g.files.len() > 100, "the graph saw the crate");
}

#[test]
fn error_imports_nothing_but_the_text_leaf() {
    let g = graph();
    for (from, tos) in &g.edges {
        if module_of(from).first().map(String::as_str) != Some("error") {
            continue;
        }
        for to in tos {
            let m = module_of(to);
            assert!(
                matches!(m.first().map(String::as_str), Some("error" | "text")),
                "{} imports {}",
                shown(from),
                shown(to)
            );
        }
    }
}

#[test]
fn the_import_graph_has_no_circle() {
    let g = graph();
    // Tarjan's strongly connected components.
    struct T<'a> {
        g: &'a BTreeMap<PathBuf, BTreeSet<PathBuf>>,
        index: BTreeMap<&'a PathBuf, usize>,
        low: BTreeMap<&'a PathBuf, usize>,
        stack: Vec<&'a PathBuf>,
        on: BTreeSet<&'a PathBuf>,
        next: usize,
        circles: Vec<Vec<String>>,
    }
    impl<'a> T<'a> {
        fn visit(&mut self, v: &'a PathBuf) {
            self.index.insert(v, self.next);
            self.low.insert(v, self.next);
            self.next += 1;
            self.stack.push(v);
            self.on.insert(v);
            for w in self.g.get(v).into_iter().flatten() {
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let lw = self.low[w];
                    let lv = self.low.get_mut(v).unwrap();
                    *lv = (*lv).min(lw);
                } else if self.on.contains(w) {
                    let iw = self.index[w];
                    let lv = self.low.get_mut(v).unwrap();
                    *lv = (*lv).min(iw);
                }
            }
            if self.low[v] == self.index[v] {
                let mut comp = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on.remove(w);
                    comp.push(shown(w));
                    if w == v {
                        break;
                    }
                }
                if comp.len() > 1 {
                    comp.sort();
                    self.circles.push(comp);
                }
            }
        }
    }
    let mut t = T {
        g: &g.edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        next: 0,
        circles: Vec::new(),
    };
    for v in g.edges.keys() {
        if !t.index.contains_key(v) {
            t.visit(v);
        }
    }
    assert!(t.circles.is_empty(), "import circles: {:?}", t.circles);
}

#[test]
fn the_graph_sees_imports_of_every_shape() {
    let found = paths_in(
        "use crate::vault::{self, Vault};\nuse super::super::x::Y;\nfn f() { crate::text::sanitize(a); super::z(); }\nuse crate::{a, b::c};",
    );
    let text: Vec<String> = found
        .iter()
        .map(|(h, s)| format!("{h}::{}", s.join("::")))
        .collect();
    for want in [
        "crate::vault::Vault",
        "super::super::x::Y",
        "crate::text::sanitize",
        "super::z",
        "crate::a",
        "crate::b",
    ] {
        assert!(text.iter().any(|t| t == want), "{want}: {text:?}");
    }
}
