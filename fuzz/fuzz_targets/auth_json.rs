//! auth.json: parsing never panics, keys and tokens that parse are visible ASCII, and what
//! cdxs writes back parses to the same credentials.
#![no_main]

use cdxs::codex::auth::{self, AuthState, Credentials};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(AuthState::Credentials(creds)) = auth::parse(data) {
        match &creds {
            Credentials::ApiKey { key, .. } => {
                assert!(cdxs::secret::check_api_key(key.expose()).is_ok())
            }
            Credentials::ChatGpt(t) => {
                for s in [&t.id_token, &t.access_token] {
                    assert!(cdxs::secret::check_api_key(s.expose()).is_ok());
                }
                let _ = (t.id_claims(), t.access_claims());
            }
        }
        let written = auth::render(&creds);
        assert_eq!(
            auth::parse(&written).ok(),
            Some(AuthState::Credentials(creds)),
            "cdxs's own auth.json does not read back"
        );
    }
});
