//! JWT claims of ChatGPT id/access tokens, decoded without verifying signatures
//! (OpenAI verifies them when the token is used; we only read identity and times).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

const AUTH_CLAIM: &str = "https://api.openai.com/auth";
const PROFILE_CLAIM: &str = "https://api.openai.com/profile";

/// What cdxs reads from a token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Claims {
    pub email: Option<String>,
    pub plan_type: Option<String>,
    pub chatgpt_account_id: Option<String>,
    pub chatgpt_user_id: Option<String>,
    pub organization_id: Option<String>,
    pub exp: Option<i64>,
    pub iat: Option<i64>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwtError {
    #[error("not a JWT (expected three dot-separated parts)")]
    Shape,
    #[error("JWT payload is not base64url")]
    Base64,
    #[error("JWT payload is not a JSON object")]
    Json,
}

/// Decode the payload of `token` into [`Claims`].
pub fn decode(token: &str) -> Result<Claims, JwtError> {
    let payload = payload(token)?;
    Ok(claims_from(&payload))
}

fn payload(token: &str) -> Result<serde_json::Map<String, Value>, JwtError> {
    let mut parts = token.split('.');
    let (Some(_header), Some(body), Some(_sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Shape);
    };
    // Tolerate padded payloads: some issuers emit them.
    let bytes = URL_SAFE_NO_PAD
        .decode(body.trim_end_matches('='))
        .map_err(|_| JwtError::Base64)?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(JwtError::Json),
    }
}

fn claims_from(map: &serde_json::Map<String, Value>) -> Claims {
    let auth = map.get(AUTH_CLAIM).and_then(Value::as_object);
    let profile = map.get(PROFILE_CLAIM).and_then(Value::as_object);
    let auth_str = |key: &str| {
        auth.and_then(|a| a.get(key))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let email = map
        .get("email")
        .and_then(Value::as_str)
        .or_else(|| profile.and_then(|p| p.get("email")).and_then(Value::as_str))
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    Claims {
        email,
        plan_type: auth_str("chatgpt_plan_type"),
        chatgpt_account_id: auth_str("chatgpt_account_id").or_else(|| auth_str("account_id")),
        chatgpt_user_id: auth_str("chatgpt_user_id").or_else(|| auth_str("user_id")),
        organization_id: auth_str("organization_id").or_else(|| default_org(auth)),
        exp: time_claim(map.get("exp")),
        iat: time_claim(map.get("iat")),
    }
}

/// The latest time a token may name: the end of year 9999 (chrono's range, and far past
/// any real token); earlier than 1970 is no time either.
const MAX_TIME: i64 = 253_402_300_799;

/// `exp`/`iat`: whole seconds since 1970 within [`MAX_TIME`]; anything else (negative,
/// `i64::MIN`, fractions, strings) is unknown, so time arithmetic on it cannot wrap.
fn time_claim(v: Option<&Value>) -> Option<i64> {
    v?.as_i64().filter(|t| (0..=MAX_TIME).contains(t))
}

/// Real ChatGPT tokens list organizations with an `is_default` flag.
fn default_org(auth: Option<&serde_json::Map<String, Value>>) -> Option<String> {
    let orgs = auth?.get("organizations")?.as_array()?;
    let pick = orgs
        .iter()
        .find(|o| o.get("is_default").and_then(Value::as_bool) == Some(true))
        .or_else(|| orgs.first())?;
    pick.get("id").and_then(Value::as_str).map(str::to_string)
}

/// Build an unsigned JWT from claims (tests, demo, mock issuers).
pub fn unsigned(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let body = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{body}.c2ln")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn reads_chatgpt_claims() {
        let token = unsigned(&json!({
            "https://api.openai.com/profile": {"email": "me@example.com"},
            "https://api.openai.com/auth": {
                "chatgpt_plan_type": "pro",
                "chatgpt_account_id": "acct-1",
                "chatgpt_user_id": "user-1",
                "organizations": [{"id": "org-a"}, {"id": "org-b", "is_default": true}]
            },
            "iat": 10, "exp": 20
        }));
        let c = decode(&token).unwrap();
        assert_eq!(c.email.as_deref(), Some("me@example.com"));
        assert_eq!(c.plan_type.as_deref(), Some("pro"));
        assert_eq!(c.chatgpt_account_id.as_deref(), Some("acct-1"));
        assert_eq!(c.chatgpt_user_id.as_deref(), Some("user-1"));
        assert_eq!(c.organization_id.as_deref(), Some("org-b"));
        assert_eq!((c.iat, c.exp), (Some(10), Some(20)));
    }

    #[test]
    fn impossible_times_are_unknown() {
        for t in [
            json!(i64::MIN),
            json!(-1),
            json!(i64::MAX),
            json!(253_402_300_800_i64),
            json!("5"),
            json!(1.5),
        ] {
            let c = decode(&unsigned(&json!({"exp": t, "iat": t}))).unwrap();
            assert_eq!((c.exp, c.iat), (None, None), "{t}");
        }
        let c = decode(&unsigned(&json!({"exp": 1_800_000_000, "iat": 0}))).unwrap();
        assert_eq!((c.exp, c.iat), (Some(1_800_000_000), Some(0)));
    }

    #[test]
    fn rejects_non_jwts() {
        assert_eq!(decode("abc"), Err(JwtError::Shape));
        assert_eq!(decode("a.b.c.d"), Err(JwtError::Shape));
        assert_eq!(decode("a.!!!.c"), Err(JwtError::Base64));
        let not_object = format!("x.{}.y", URL_SAFE_NO_PAD.encode("[1]"));
        assert_eq!(decode(&not_object), Err(JwtError::Json));
    }

    proptest! {
        #[test]
        fn never_panics_on_garbage(s in "\\PC*") {
            let _ = decode(&s);
        }

        #[test]
        fn never_panics_on_garbage_payload(body in proptest::collection::vec(any::<u8>(), 0..200)) {
            let token = format!("h.{}.s", URL_SAFE_NO_PAD.encode(&body));
            let _ = decode(&token);
        }
    }
}
