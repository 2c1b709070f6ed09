//! What cdxs changes in a text file someone else also edits (cdxs.yaml, a home's
//! config.toml), as a unified diff for the plan: computed from the two texts (pure), with
//! anything that looks like a key or a token masked before it is kept or shown.

use serde::{Deserialize, Serialize};
use similar::{ChangeTag, TextDiff as Diff};

/// A redacted unified diff of one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextDiff {
    /// The file, for people (`~/...`).
    pub file: String,
    /// `@@ ... @@` hunk headers and lines starting with `+`, `-` or ` `.
    pub lines: Vec<String>,
}

/// Lines of context around each change.
const CONTEXT: usize = 2;

/// The diff from `old` to `new`, or `None` when they are the same.
pub fn between(file: &str, old: &str, new: &str) -> Option<TextDiff> {
    if old == new {
        return None;
    }
    let diff = Diff::from_lines(old, new);
    let mut lines = Vec::new();
    for hunk in diff.unified_diff().context_radius(CONTEXT).iter_hunks() {
        lines.push(hunk.header().to_string());
        for change in hunk.iter_changes() {
            let sign = match change.tag() {
                ChangeTag::Delete => '-',
                ChangeTag::Insert => '+',
                ChangeTag::Equal => ' ',
            };
            let text = change.to_string_lossy();
            let text = text.trim_end_matches(['\n', '\r']);
            lines.push(format!("{sign}{}", crate::secret::mask(text)));
        }
    }
    Some(TextDiff {
        file: file.to_string(),
        lines,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_one_line_change_with_context_and_secrets_masked() {
        let old = "model = \"o3\"\nopenai_base_url = \"https://a.example/v1\"\n# token sk-proj-abcdefghijklmnopqrstuv\nx = 1\ny = 2\nz = 3\n";
        let new = old.replace("https://a.example/v1", "https://b.example/v1");
        let d = between("~/.codex/config.toml", old, &new).unwrap();
        assert_eq!(d.lines[0], "@@ -1,4 +1,4 @@");
        assert!(
            d.lines
                .contains(&"-openai_base_url = \"https://a.example/v1\"".to_string())
        );
        assert!(
            d.lines
                .contains(&"+openai_base_url = \"https://b.example/v1\"".to_string())
        );
        assert!(d.lines.contains(&" model = \"o3\"".to_string()));
        // Context, redacted: the key never reaches the plan.
        let joined = d.lines.join("\n");
        assert!(
            !joined.contains("sk-proj-abcdefghijklmnopqrstuv"),
            "{joined}"
        );
        assert!(
            !joined.contains("z = 3"),
            "two lines of context only: {joined}"
        );
        assert_eq!(between("f", old, old), None);
    }

    #[test]
    fn a_new_file_is_all_additions() {
        let d = between("f", "", "a = 1\n").unwrap();
        assert_eq!(d.lines, ["@@ -0,0 +1 @@", "+a = 1"]);
    }
}
