//! Saved plans (`cdxs plan --out`): reading one is a plan or a clean error, never a panic,
//! through the very function `cdxs apply FILE` uses; an accepted plan survives a round
//! trip through the saved form.
#![no_main]

use libfuzzer_sys::fuzz_target;

use cdxs::reconcile::plan_file::{PlanDoc, parse};

fuzz_target!(|data: &[u8]| {
    let path = std::path::Path::new("fuzzed.json");
    let Ok(plan) = parse(data, path) else {
        return;
    };
    let text = serde_json::to_vec(&cdxs::output::versioned(&PlanDoc::new(plan.clone())))
        .expect("an accepted plan encodes");
    let again = parse(&text, path).expect("a plan cdxs wrote reads back");
    assert_eq!(
        serde_json::to_value(&again).unwrap(),
        serde_json::to_value(&plan).unwrap()
    );
});
