//! `cdxs.yaml`: the desired state. Model, parsing with spans, validation, in-place edits.

pub mod diagnostics;
