//! Property tests for the parsers of untrusted input: the manifest (with the positions its
//! diagnostics point at), usage answers, the older tool's cdxs.toml, OAuth callbacks.

use std::path::Path;

use proptest::prelude::*;
use serde_json::Value;

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or(Value::Null)),
        prop_oneof![
            Just("NaN".to_string()),
            Just("inf".to_string()),
            Just("-1e400".to_string()),
            "[0-9.e+-]{0,8}",
            "\\PC{0,8}"
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("rate_limit".to_string()),
                    Just("primary_window".to_string()),
                    Just("secondary_window".to_string()),
                    Just("used_percent".to_string()),
                    Just("reset_after_seconds".to_string()),
                    Just("reset_at".to_string()),
                    Just("limit_window_seconds".to_string()),
                    Just("limit_reached".to_string()),
                    Just("plan_type".to_string()),
                    "[a-z_]{1,8}",
                ],
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A usage answer with the real shape and hostile values in its slots.
fn usage_answer() -> impl Strategy<Value = Value> {
    (json_value(), json_value(), json_value(), json_value()).prop_map(|(u1, r1, u2, r2)| {
        serde_json::json!({"rate_limit": {
            "primary_window": {"used_percent": u1, "reset_after_seconds": r1, "limit_window_seconds": 18000},
            "secondary_window": {"used_percent": u2, "reset_at": r2},
        }})
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A diagnostic always points inside the text, on character boundaries.
    #[test]
    fn manifest_diagnostics_point_inside_the_text(
        alias in "[a-z0-9_.\\- ]{0,8}",
        key in prop_oneof!["email", "id", "api_key_env", "auth_file", "workspace", "pathh", "bogus"],
        value in "\\PC{0,12}",
        indent in 0usize..4,
        tail in "\\PC{0,16}",
    ) {
        let text = format!(
            "version: 1\naccounts:\n{}{alias}: {{ {key}: \"{}\" }}\nhomes:\n  h: {{ path: /h, account: {alias} }}\n{tail}",
            " ".repeat(indent),
            value.replace('"', "")
        );
        if let Err(report) = cdxs::manifest::parse(&text, Path::new("/x/cdxs.yaml")) {
            prop_assert!(!report.to_string().is_empty());
            for d in report.diagnostics() {
                for label in d.labels().into_iter().flatten() {
                    let (start, len) = (label.offset(), label.len());
                    prop_assert!(start + len <= text.len(), "{start}+{len} > {} in {text:?}", text.len());
                    prop_assert!(text.is_char_boundary(start) && text.is_char_boundary(start + len));
                }
            }
        }
    }

    /// Usage answers: never a panic, percentages always finite and within 0..=100.
    #[test]
    fn usage_answers_give_finite_percentages(body in usage_answer(), now in any::<i64>()) {
        let q = cdxs::quota::parse(&body, now);
        for w in [q.five_hour, q.weekly].into_iter().flatten() {
            prop_assert!(w.used_percent.is_finite() && (0.0..=100.0).contains(&w.used_percent));
            prop_assert!(w.remaining_percent.is_finite() && (0.0..=100.0).contains(&w.remaining_percent));
        }
        if let Some(r) = q.remaining() {
            prop_assert!(r.is_finite());
        }
    }

    #[test]
    fn any_json_is_a_usage_answer_or_nothing(body in json_value(), now in any::<i64>()) {
        let _ = cdxs::quota::parse(&body, now);
    }

    /// The older tool's cdxs.toml: any text is an error or a store, never a panic.
    #[test]
    fn legacy_files_never_panic(text in "\\PC{0,400}", now in any::<i64>()) {
        let _ = cdxs::legacy::parse(&text, now);
    }

    #[test]
    fn legacy_shaped_files_never_panic(
        id in "\\PC{0,10}",
        key in "\\PC{0,10}",
        field in prop_oneof!["api_key", "refresh_token", "access_token", "id_token", "email", "codex_home", "bound"],
    ) {
        let text = format!(
            "[[accounts]]\nid = \"{}\"\n{field} = \"{}\"\n[[homes]]\nname = \"x\"\npath = \"/h\"\n",
            id.replace(['"', '\\'], ""),
            key.replace(['"', '\\'], "")
        );
        let _ = cdxs::legacy::parse(&text, 0);
    }

    /// A pasted callback: the code comes back only with the right state.
    #[test]
    fn callbacks_need_the_right_state(
        code in "[A-Za-z0-9_-]{1,20}",
        state in "[A-Za-z0-9_-]{8,20}",
        other in "[A-Za-z0-9_-]{8,20}",
        junk in "\\PC{0,40}",
    ) {
        let url = format!("http://localhost:1455/auth/callback?code={code}&state={state}");
        prop_assert_eq!(cdxs::auth::oauth::parse_callback(&url, &state).unwrap(), code.clone());
        if other != state {
            let wrong = format!("http://localhost:1455/auth/callback?code={code}&state={other}");
            prop_assert!(cdxs::auth::oauth::parse_callback(&wrong, &state).is_err());
        }
        let _ = cdxs::auth::oauth::parse_callback(&junk, &state);
    }
}
