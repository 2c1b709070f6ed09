//! Reading a manifest: YAML with spans (serde-saphyr), structural errors turned into
//! diagnostics with "did you mean", then semantic validation (validate.rs), then the
//! resolved [`Manifest`] that plan works with.

use std::path::Path;

use serde_saphyr::{Location, MessageFormatter, UserMessageFormatter};

use super::Manifest;
use super::diagnostics::{Problem, Report, did_you_mean, span};
use super::validate;
use crate::error::{Error, Result, tick};

/// The most a manifest may weigh (a cdxs.yaml is a few kilobytes).
const MAX_MANIFEST_BYTES: u64 = 4 * 1024 * 1024;

/// Read and validate the manifest at `path`. Diagnostics show an excerpt of the file only
/// when it is named like a YAML manifest (`.yaml`, `.yml`): `-f auth.json` or `-f .env`
/// by mistake must not print the key lines of that file.
pub fn load(path: &Path) -> Result<Manifest> {
    let bytes = crate::fsx::read_bounded(path, MAX_MANIFEST_BYTES)
        .map_err(|e| Error::user(format!("cannot read the manifest: {e}")))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| Error::user(format!("the manifest {} is not UTF-8 text", tick(path))))?;
    parse(&text, path).map_err(|report| {
        if is_yaml_name(path) {
            Error::Diagnostics(Box::new(report))
        } else {
            Error::Diagnostics(Box::new(report.without_source()))
        }
    })
}

/// `cdxs.yaml`, `x.yml`: a file named like a YAML manifest.
pub fn is_yaml_name(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"))
}

/// Parse and validate manifest text. `path` names the file in diagnostics and anchors
/// relative paths.
pub fn parse(text: &str, path: &Path) -> std::result::Result<Manifest, Report> {
    let file_name = path.display().to_string();
    let base = crate::fsx::parent_of(path);
    // Every structural problem, then (on the document as read around them) every semantic
    // one that does not only follow from them: all of them in one run.
    let mut read = super::recover::read(text, structural_problem);
    let mut problems = read.problems.clone();
    let Some(raw) = read.raw.take() else {
        return Err(Report::new(file_name, text, problems));
    };
    if problems.is_empty() {
        return validate::validate(raw, path, &base, text)
            .map_err(|problems| Report::new(file_name, text, problems));
    }
    if let Err(semantic) = validate::validate(raw, path, &base, &read.text) {
        problems.extend(semantic.into_iter().filter(|p| !read.is_consequence(p)));
    }
    // In the order of the file (a problem without a place last).
    problems.sort_by_key(|p| {
        p.labels
            .iter()
            .map(|(s, _)| s.offset())
            .min()
            .unwrap_or(usize::MAX)
    });
    Err(Report::new(file_name, text, problems))
}

fn structural_problem(err: &serde_saphyr::Error, text: &str) -> Problem {
    use serde_saphyr::Error as E;
    let inner = err.without_snippet();
    let at = |loc: &Location| span(loc, text);
    match inner {
        E::SerdeUnknownField {
            field,
            expected,
            location,
        } => {
            let mut help = String::new();
            if let Some(best) = did_you_mean(field, expected.iter().copied()) {
                help.push_str(&format!("did you mean `{best}`? "));
            }
            if expected.is_empty() {
                help.push_str("no keys are allowed here");
            } else {
                help.push_str(&format!("valid keys here: {}", expected.join(", ")));
            }
            Problem::new(format!("unknown key `{field}`"))
                .label(at(location), "not a known key")
                .help(help)
        }
        E::DuplicateMappingKey { key, location } => {
            let name = key.as_deref().unwrap_or("?");
            Problem::new(format!("duplicate key `{name}`"))
                .label(at(location), "this key appears earlier in the same mapping")
                .help("each key may appear once per mapping; merge the two entries")
        }
        E::SerdeMissingField { field, location } => Problem::new(format!("missing key `{field}`"))
            .label(at(location), format!("needs `{field}`"))
            .help(format!("add `{field}:` here")),
        E::SerdeUnknownVariant {
            variant,
            expected,
            location,
        } => {
            let mut help = format!("use one of: {}", expected.join(", "));
            if let Some(best) = did_you_mean(variant, expected.iter().copied()) {
                help = format!("did you mean `{best}`? {help}");
            }
            Problem::new(format!("unknown value `{variant}`"))
                .label(at(location), "not allowed here")
                .help(help)
        }
        other => {
            let message = UserMessageFormatter.format_message(other).into_owned();
            let message = message
                .strip_prefix("error: ")
                .unwrap_or(&message)
                .to_string();
            // The parser's wording is terse; say what the manifest expects.
            let message = match message.as_str() {
                "expected mapping start" => "expected a mapping (`key: value`) here".to_string(),
                "expected sequence start" => {
                    "expected a list (`[a, b]` or `- a` lines) here".to_string()
                }
                _ => message,
            };
            let help = if message.contains("duration") || message.contains("unit") {
                "durations are a number and a unit: `45s`, `10m`, `12h`, `30d`, `1w`"
            } else if message.contains('%') || message.contains("percentage") {
                "percentages go from `0%` to `100%`, e.g. `switch_below: 10%`"
            } else {
                "see `cdxs schema` or the examples in docs/manifest.md for the manifest's shape"
            };
            let mut problem = Problem::new(first_lower(&message)).help(help);
            if let Some(loc) = other.location() {
                problem = problem.label(at(&loc), "not a valid value");
            }
            problem
        }
    }
}

fn first_lower(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Where the manifest lives, for commands that need one.
pub fn require(flag: Option<&Path>) -> Result<Manifest> {
    let loc = crate::paths::manifest_location(flag);
    if !loc.exists {
        return Err(missing(&loc.path, loc.explicit));
    }
    load(&loc.path)
}

/// The manifest if there is one; an error only if one was named and is missing or bad.
pub fn optional(flag: Option<&Path>) -> Result<Option<Manifest>> {
    let loc = crate::paths::manifest_location(flag);
    match (loc.exists, loc.explicit) {
        (true, _) => load(&loc.path).map(Some),
        (false, true) => Err(missing(&loc.path, true)),
        (false, false) => Ok(None),
    }
}

fn missing(path: &Path, explicit: bool) -> Error {
    Error::NoManifest {
        path: path.to_path_buf(),
        explicit,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Untrusted text never panics the parser or the validator.
        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
            let _ = parse(&text, Path::new("/x/cdxs.yaml"));
        }

        /// Nor does text that looks like a manifest with random values in its slots.
        #[test]
        fn manifest_shaped_text_never_panics(
            version in "[0-9a-z%]{0,4}",
            alias in "[a-z0-9_.\\- ]{0,8}",
            key in prop_oneof!["email", "id", "api_key_env", "auth_file", "workspace", "bogus"],
            value in "[ -~]{0,20}",
            path in "[ -~]{0,20}",
            binding in prop_oneof![Just("a".to_string()), Just("{ pool: p }".to_string()), "[ -~]{0,12}"],
            pct in "[0-9%.\\-a-z]{0,5}",
            dur in "[0-9a-z ]{0,5}",
        ) {
            let text = format!(
                "version: {version}\naccounts:\n  {alias}: {{ {key}: \"{value}\" }}\n  a: {{ email: a@x.io }}\npools:\n  p: [a, {alias}]\nhomes:\n  h: {{ path: \"{path}\", account: {binding} }}\n  g: {{ path: /g, account: {{ pool: p, switch_below: {pct} }} }}\nsessions:\n  trash_max_age: {dur}\n",
                value = value.replace('"', ""),
                path = path.replace('"', ""),
            );
            let _ = parse(&text, Path::new("/x/cdxs.yaml"));
        }
    }
}
