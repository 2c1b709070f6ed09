//! The sync server (SPEC 8).
