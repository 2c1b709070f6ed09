//! OAuth credentials: which copy of a token is newer (rotation safety).

pub mod freshness;
