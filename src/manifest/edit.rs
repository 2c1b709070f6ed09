//! In-place edits of cdxs.yaml for `switch`, `home create|bind|remove`, `init` and
//! `import legacy`: only the bytes that change are touched, so comments, order and
//! formatting elsewhere survive. Every edit is re-parsed and validated before it is written.

use std::path::Path;

use super::tree::{self, Node};
use crate::error::{Error, Result};

fn root(text: &str) -> Result<Node> {
    tree::parse(text).ok_or_else(|| {
        Error::user("cannot edit the manifest: it does not parse as YAML")
            .with_help("fix it first (`cdxs validate`)")
    })
}

/// Quote a scalar for YAML only when it needs it.
pub fn scalar(s: &str) -> String {
    let safe_char = |c: char| c.is_ascii_alphanumeric() || "_-./~@+$".contains(c);
    let safe_start = s.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '/' || c == '_')
        || (s.starts_with("~/") && s.len() > 2);
    let reserved = matches!(
        s.to_ascii_lowercase().as_str(),
        "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n"
    ) || s.parse::<f64>().is_ok();
    if safe_start && s.chars().all(safe_char) && !reserved {
        s.to_string()
    } else if s.contains('\\') && !s.contains('\'') && !s.chars().any(char::is_control) {
        // A Windows path: single quotes keep each `\` as it is (no `\\` escapes).
        format!("'{s}'")
    } else {
        serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
    }
}

/// A folder as cdxs writes it into the manifest: `~\.codex` (how Windows shows a folder in
/// the profile) is written `~/.codex`, which every OS reads, so that a cdxs.yaml kept in
/// dotfiles means the same on each machine; any other path as shown, quoted as YAML needs.
pub fn path_scalar(shown: &str) -> String {
    match shown.strip_prefix("~\\") {
        Some(rest) => scalar(&format!("~/{}", rest.replace('\\', "/"))),
        None => scalar(shown),
    }
}

/// Byte offset of the start of the line containing `pos`.
fn line_start(text: &str, pos: usize) -> usize {
    text[..pos].rfind('\n').map(|i| i + 1).unwrap_or(0)
}

/// Byte offset just past the end of the line containing `pos` (after its newline, if any).
fn line_end(text: &str, pos: usize) -> usize {
    text[pos..]
        .find('\n')
        .map(|i| pos + i + 1)
        .unwrap_or(text.len())
}

fn column(text: &str, pos: usize) -> usize {
    pos - line_start(text, pos)
}

/// Where to insert a new line after a block node ends (after its line's comment).
fn after_node(text: &str, node: &Node) -> usize {
    let end = node.range().end;
    line_end(text, end.saturating_sub(1).max(node.range().start))
}

fn ensure_trailing_newline(text: &mut String) {
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
}

/// Add `key: <value_lines>` as the last entry of the top-level mapping `section`
/// (creating the section when missing). `value` is the YAML for the value; when it spans
/// several lines, its lines after the first are indented one level deeper.
fn add_entry(text: &str, section: &str, key: &str, value: &EntryValue) -> Result<String> {
    let root = root(text)?;
    let mut out = text.to_string();
    match root.get(section) {
        Some(Node::Map {
            flow: false,
            entries,
            ..
        }) if !entries.is_empty() => {
            let (first_key, _) = &entries[0];
            let indent = column(text, first_key.range().start);
            let child = child_indent(text, entries).unwrap_or(indent + 2);
            let (_, last_value) = entries.last().expect("non-empty");
            let at = after_node(text, last_value);
            let mut insert = String::new();
            if at == text.len() && !text.ends_with('\n') {
                insert.push('\n');
            }
            insert.push_str(&value.render(key, indent, child));
            out.insert_str(at, &insert);
        }
        Some(node)
            if node.is_null()
                || matches!(node, Node::Map { entries, .. } if entries.is_empty()) =>
        {
            // `section:` or `section: {}`: replace the value with a block mapping.
            let (k, v) = root.entry(section).expect("present");
            let indent = column(text, k.range().start) + 2;
            let replace_from = if v.range().is_empty() {
                k.range().end + text[k.range().end..].find(':').map(|i| i + 1).unwrap_or(0)
            } else {
                v.range().start
            };
            let replace_to = if v.range().is_empty() {
                replace_from
            } else {
                v.range().end
            };
            let block = format!("\n{}", value.render(key, indent, indent + 2));
            let block = block.trim_end_matches('\n').to_string();
            // Drop the space before `{}` so no trailing blank remains.
            let from = if !v.range().is_empty() && text[..replace_from].ends_with(' ') {
                replace_from - 1
            } else {
                replace_from
            };
            out.replace_range(from..replace_to, &block);
        }
        Some(Node::Map { flow: true, .. }) => {
            return Err(Error::user(format!(
                "cannot add to `{section}`: it is written in flow style (`{{ ... }}`)"
            ))
            .with_help(format!(
                "rewrite `{section}` as a block mapping, then retry"
            )));
        }
        Some(_) => {
            return Err(Error::user(format!(
                "cannot add to `{section}`: it is not a mapping"
            )));
        }
        None => {
            ensure_trailing_newline(&mut out);
            out.push_str(&format!("{section}:\n"));
            out.push_str(&value.render(key, 2, 4));
        }
    }
    Ok(out)
}

/// Indentation of children of the first block-mapping value among `entries`.
fn child_indent(text: &str, entries: &[(Node, Node)]) -> Option<usize> {
    entries.iter().find_map(|(_, v)| match v {
        Node::Map {
            flow: false,
            entries,
            ..
        } => entries.first().map(|(k, _)| column(text, k.range().start)),
        _ => None,
    })
}

/// The value of a new entry.
pub enum EntryValue {
    /// `key: value` on one line.
    Inline(String),
    /// `key:` then `sub: value` lines.
    Block(Vec<(String, String)>),
}

impl EntryValue {
    fn render(&self, key: &str, indent: usize, child: usize) -> String {
        let pad = " ".repeat(indent);
        match self {
            EntryValue::Inline(v) => format!("{pad}{}: {v}\n", scalar(key)),
            EntryValue::Block(fields) => {
                let cpad = " ".repeat(child.max(indent + 1));
                let mut s = format!("{pad}{}:\n", scalar(key));
                for (k, v) in fields {
                    s.push_str(&format!("{cpad}{k}: {v}\n"));
                }
                s
            }
        }
    }
}

/// Add a home: `homes: { name: { path, account? } }`.
pub fn add_home(text: &str, name: &str, path: &str, account: Option<&str>) -> Result<String> {
    let mut fields = vec![("path".to_string(), path_scalar(path))];
    if let Some(a) = account {
        fields.push(("account".into(), scalar(a)));
    }
    add_entry(text, "homes", name, &EntryValue::Block(fields))
}

/// Add an account alias: `accounts: { alias: { key: value } }` in flow style.
pub fn add_account(text: &str, alias: &str, key: &str, value: &str) -> Result<String> {
    add_entry(
        text,
        "accounts",
        alias,
        &EntryValue::Inline(format!("{{ {key}: {} }}", scalar(value))),
    )
}

/// Set (or add) `account: alias` of a home.
pub fn set_home_account(text: &str, home: &str, alias: &str) -> Result<String> {
    let root = root(text)?;
    let homes = root
        .get("homes")
        .ok_or_else(|| Error::user("the manifest declares no homes"))?;
    let node = homes
        .get(home)
        .ok_or_else(|| Error::user(format!("the manifest declares no home `{home}`")))?;
    let mut out = text.to_string();
    let value = scalar(alias);
    match node {
        Node::Map {
            flow,
            entries,
            range,
        } => match node.entry("account") {
            Some((key, current)) => match current {
                Node::Map { flow: false, .. } | Node::Seq { flow: false, .. } => {
                    // A block pool binding: replace from after `account:` to its end.
                    let colon =
                        key.range().end + text[key.range().end..].find(':').unwrap_or(0) + 1;
                    let end = current.range().end;
                    out.replace_range(colon..end, &format!(" {value}"));
                }
                _ => out.replace_range(current.range(), &value),
            },
            None if *flow => {
                let close = range.end - 1; // the `}`
                let before = text[..close].trim_end();
                let sep = if before.ends_with('{') { " " } else { ", " };
                let insert_at = before.len();
                out.insert_str(insert_at, &format!("{sep}account: {value}"));
            }
            None => {
                let first = &entries
                    .first()
                    .ok_or_else(|| Error::user(format!("home `{home}` is empty")))?
                    .0;
                let indent = column(text, first.range().start);
                let last = &entries.last().expect("non-empty").1;
                let at = after_node(text, last);
                let mut insert = String::new();
                if at == text.len() && !text.ends_with('\n') {
                    insert.push('\n');
                }
                insert.push_str(&format!("{}account: {value}\n", " ".repeat(indent)));
                out.insert_str(at, &insert);
            }
        },
        _ => {
            return Err(Error::user(format!("home `{home}` is not a mapping"))
                .with_help("write it as `name: { path: ..., account: ... }`"));
        }
    }
    Ok(out)
}

/// Remove a home's entry (its key line through its last value line).
pub fn remove_home(text: &str, home: &str) -> Result<String> {
    let root = root(text)?;
    let homes = root
        .get("homes")
        .ok_or_else(|| Error::user("the manifest declares no homes"))?;
    let Node::Map { flow, entries, .. } = homes else {
        return Err(Error::user("`homes` is not a mapping"));
    };
    let index = entries
        .iter()
        .position(|(k, _)| k.as_str() == Some(home))
        .ok_or_else(|| Error::user(format!("the manifest declares no home `{home}`")))?;
    let (key, value) = &entries[index];
    let mut out = text.to_string();
    if *flow {
        // `{ a: {...}, b: {...} }`: remove the entry and one neighbouring comma.
        let start = key.range().start;
        let mut end = value.range().end;
        let rest = &text[end..];
        if let Some(i) = rest.find(',').filter(|i| rest[..*i].trim().is_empty()) {
            end += i + 1;
            end += text[end..].len() - text[end..].trim_start().len();
        } else if let Some(i) = text[..start].rfind(',') {
            out.replace_range(i..end, "");
            return Ok(out);
        }
        out.replace_range(start..end, "");
    } else {
        let start = line_start(text, key.range().start);
        let end = after_node(text, value);
        out.replace_range(start..end, "");
        if entries.len() == 1 {
            // `homes:` is left empty: make it an explicit empty mapping.
            let (hk, _) = root.entry("homes").expect("present");
            let colon = hk.range().end + out[hk.range().end..].find(':').unwrap_or(0) + 1;
            out.insert_str(colon, " {}");
        }
    }
    Ok(out)
}

/// Validate `new_text` as a manifest at `path`, then write it atomically (keeping the
/// file's mode) after backing up the current text.
pub fn write(
    path: &Path,
    new_text: &str,
    backups: &mut crate::backup::Backups,
) -> Result<super::Manifest> {
    let manifest = super::parse(new_text, path).map_err(|report| {
        Error::user(format!(
            "internal: the edited manifest would not be valid ({report}); nothing was written"
        ))
        .with_help("please report this; edit cdxs.yaml by hand meanwhile")
    })?;
    // A symlinked cdxs.yaml (a dotfiles setup) is edited where it points: the rename goes
    // next to the target and the link stays a link.
    let target = link_target(path)?;
    let mode = crate::fsx::mode_of(&target).unwrap_or(0o644);
    if let Some(old) = crate::fsx::read_optional(&target)? {
        backups.save(&target, &old)?;
    }
    crate::fsx::write_atomic(&target, new_text.as_bytes(), mode)?;
    Ok(manifest)
}

/// The file a path names once its symlinks are followed (the path itself when it is not a
/// link; a dangling link's final target, which the write then creates).
pub fn link_target(path: &Path) -> Result<std::path::PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&current) {
            Ok(m) if m.file_type().is_symlink() => {
                let next = std::fs::read_link(&current).map_err(|e| {
                    Error::io(
                        format!("cannot read the link {}", crate::error::tick(&current)),
                        e,
                    )
                })?;
                current = if next.is_absolute() {
                    next
                } else {
                    crate::fsx::parent_of(&current).join(next)
                };
            }
            _ => return Ok(current),
        }
    }
    Err(Error::user(format!(
        "{} is a loop of symlinks",
        crate::error::tick(path)
    ))
    .with_help("point it at the real cdxs.yaml"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "# my codex setup\nversion: 1\naccounts:\n  personal: { email: me@x.io }   # main\n  work: { email: me@corp.io }\nhomes:\n  default:\n    path: ~/.codex   # the default\n    account: personal\n  work:\n    path: ~/codex-homes/work\n\n# trailing comment\n";

    fn check(text: &str) {
        crate::manifest::parse(text, Path::new("/tmp/cdxs.yaml"))
            .unwrap_or_else(|r| panic!("invalid after edit: {r}\n{text}"));
    }

    #[test]
    fn set_account_replaces_only_the_value() {
        let out = set_home_account(BASE, "default", "work").unwrap();
        assert_eq!(
            out,
            BASE.replace("    account: personal", "    account: work")
        );
        check(&out);
    }

    #[test]
    fn set_account_adds_the_key_when_missing() {
        let out = set_home_account(BASE, "work", "work").unwrap();
        assert!(
            out.contains("    path: ~/codex-homes/work\n    account: work\n\n# trailing comment"),
            "{out}"
        );
        check(&out);
    }

    #[test]
    fn set_account_in_flow_mapping() {
        let text =
            "version: 1\naccounts:\n  a: { email: a@x.io }\nhomes:\n  h: { path: /x }  # keep\n";
        let out = set_home_account(text, "h", "a").unwrap();
        assert_eq!(
            out,
            "version: 1\naccounts:\n  a: { email: a@x.io }\nhomes:\n  h: { path: /x, account: a }  # keep\n"
        );
        check(&out);
    }

    #[test]
    fn set_account_over_a_pool_binding() {
        let text = "version: 1\naccounts:\n  a: { email: a@x.io }\npools:\n  p: [a]\nhomes:\n  h:\n    path: /x\n    account:\n      pool: p\n      switch_below: 5%\n# end\n";
        let out = set_home_account(text, "h", "a").unwrap();
        assert_eq!(
            out,
            "version: 1\naccounts:\n  a: { email: a@x.io }\npools:\n  p: [a]\nhomes:\n  h:\n    path: /x\n    account: a\n# end\n"
        );
        check(&out);
    }

    #[test]
    fn add_home_keeps_comments_and_indentation() {
        let out = add_home(BASE, "burst", "~/codex-homes/burst", Some("work")).unwrap();
        assert!(out.starts_with("# my codex setup\n"));
        assert!(out.contains("  personal: { email: me@x.io }   # main\n"));
        assert!(
            out.contains("    path: ~/codex-homes/work\n  burst:\n    path: ~/codex-homes/burst\n    account: work\n"),
            "{out}"
        );
        assert!(out.ends_with("# trailing comment\n"));
        check(&out);
    }

    #[test]
    fn add_home_creates_the_section() {
        let out = add_home("version: 1\n", "a", "/tmp/a b", None).unwrap();
        assert_eq!(out, "version: 1\nhomes:\n  a:\n    path: \"/tmp/a b\"\n");
        check(&out);
        let out = add_home("version: 1\nhomes: {}\n", "a", "/tmp/a", None).unwrap();
        assert_eq!(out, "version: 1\nhomes:\n  a:\n    path: /tmp/a\n");
        check(&out);
    }

    #[test]
    fn add_account_alias() {
        let out = add_account(BASE, "spare", "id", "oauth_0123456789abcdef").unwrap();
        assert!(
            out.contains(
                "  work: { email: me@corp.io }\n  spare: { id: oauth_0123456789abcdef }\nhomes:"
            ),
            "{out}"
        );
        check(&out);
    }

    #[test]
    fn remove_home_removes_its_lines_only() {
        let out = remove_home(BASE, "default").unwrap();
        assert!(!out.contains("~/.codex"), "{out}");
        assert!(
            out.contains("homes:\n  work:\n    path: ~/codex-homes/work\n"),
            "{out}"
        );
        check(&out);
        let out = remove_home(&out, "work").unwrap();
        assert!(out.contains("homes: {}\n"), "{out}");
        check(&out);
    }

    #[test]
    #[cfg_attr(
        windows,
        ignore = "needs symbolic links: wine 8.0 makes none (CreateSymbolicLinkW is a stub), Windows only with Developer Mode"
    )]
    fn a_write_through_a_symlink_edits_its_target() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("dotfiles/cdxs.yaml");
        std::fs::create_dir_all(real.parent().unwrap()).unwrap();
        std::fs::write(&real, BASE).unwrap();
        let link = dir.path().join("cdxs.yaml");
        crate::platform::fs::symlink(Path::new("dotfiles/cdxs.yaml"), &link).unwrap();
        let hop = dir.path().join("hop.yaml");
        crate::platform::fs::symlink(&link, &hop).unwrap();
        let mut backups = crate::backup::Backups::new(&dir.path().join("state"), "t");
        let new = set_home_account(BASE, "default", "work").unwrap();
        write(&hop, &new, &mut backups).unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert!(
            std::fs::symlink_metadata(&hop)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read_to_string(&real).unwrap(), new);
        assert_eq!(backups.saved()[0].0, real);
    }

    #[test]
    fn scalars_are_quoted_when_needed() {
        assert_eq!(scalar("me@x.io"), "me@x.io");
        assert_eq!(scalar("~/codex-homes/w"), "~/codex-homes/w");
        assert_eq!(scalar("yes"), "\"yes\"");
        assert_eq!(scalar("a: b"), "\"a: b\"");
        assert_eq!(scalar("12"), "\"12\"");
        assert_eq!(scalar(""), "\"\"");
        assert_eq!(scalar("-x"), "\"-x\"");
        assert_eq!(scalar(r"D:\codex homes\w"), r"'D:\codex homes\w'");
        assert_eq!(scalar(r"C:\it's"), r#""C:\\it's""#);
    }

    #[test]
    fn folders_in_the_profile_are_written_for_every_os() {
        assert_eq!(path_scalar(r"~\.codex"), "~/.codex");
        assert_eq!(path_scalar(r"~\codex homes\w"), "\"~/codex homes/w\"");
        assert_eq!(path_scalar("~/.codex"), "~/.codex");
        assert_eq!(path_scalar(r"C:\Users\me\h"), r"'C:\Users\me\h'");
        let out = add_home("version: 1\n", "w", r"~\.codex-w", None).unwrap();
        assert!(out.contains("    path: ~/.codex-w\n"), "{out}");
        check(&out);
    }
}
