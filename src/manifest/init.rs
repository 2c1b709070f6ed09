//! A new cdxs.yaml, as text (for `init` and for `import legacy` when there is none).

/// The text of a new manifest: `aliases` as (alias, flow mapping), the default home at
/// `home_path` bound to `bound` if given.
pub fn render(
    aliases: &[(String, String)],
    home_path: &str,
    bound: Option<&str>,
    created: &str,
) -> String {
    let mut text = format!(
        "# cdxs.yaml: the desired state of your Codex homes (no secrets here).\n\
         # Created by `cdxs init` on {created}. Check it with `cdxs plan`; schema: `cdxs schema`.\n\
         version: 1\n"
    );
    if aliases.is_empty() {
        text.push_str("accounts: {}\n");
    } else {
        text.push_str("accounts:\n");
        for (alias, reference) in aliases {
            text.push_str(&format!("  {alias}: {reference}\n"));
        }
    }
    text.push_str("homes:\n  default:   # the home Codex uses when CODEX_HOME is unset\n");
    text.push_str(&format!(
        "    path: {}\n",
        super::edit::path_scalar(home_path)
    ));
    if let Some(alias) = bound {
        text.push_str(&format!("    account: {alias}\n"));
    }
    text
}

/// The start of a manifest `import legacy` creates for the older tool's homes.
pub const LEGACY: &str = "# cdxs.yaml: the desired state of your Codex homes (no secrets here).\n# Homes imported from the older tool's cdxs.toml by `cdxs import legacy`.\nversion: 1\naccounts: {}\nhomes: {}\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_valid_manifest() {
        let text = render(
            &[("me".into(), "{ email: me@x.io }".into())],
            "~/.codex",
            Some("me"),
            "2026-12-01",
        );
        let m = super::super::parse(&text, std::path::Path::new("/c/cdxs.yaml")).unwrap();
        assert_eq!(
            m.homes["default"].binding,
            Some(super::super::Binding::Account("me".into()))
        );
        assert!(text.contains("on 2026-12-01"));
        let empty = render(&[], "/h/.codex", None, "x");
        assert!(super::super::parse(&empty, std::path::Path::new("/c/cdxs.yaml")).is_ok());
        assert!(super::super::parse(LEGACY, std::path::Path::new("/c/cdxs.yaml")).is_ok());
    }
}
