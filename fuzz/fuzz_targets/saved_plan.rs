//! Saved plans (`cdxs plan --out`): reading one never panics. Mirrors how `cdxs apply
//! FILE` reads it (the envelope, then the plan).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    if value.get("version").and_then(|v| v.as_u64()) != Some(1) {
        return;
    }
    if let Some(plan) = value.get("plan") {
        let _ = serde_json::from_value::<cdxs::reconcile::Plan>(plan.clone());
    }
});
