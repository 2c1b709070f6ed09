//! Apply a plan.
