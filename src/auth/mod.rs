//! ChatGPT credentials: PKCE login, refresh with rotation safety, which copy of a token
//! is newer, and where the endpoints are.

pub mod callback;
pub mod oauth;
pub mod refresh;
