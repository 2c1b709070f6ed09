//! Rollout lines: the head reader, the line splitter and the token_count reader never
//! panic and respect their bounds.
#![no_main]

use cdxs::codex::rollout::{self, BoundedLines, MAX_LINE_BYTES};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = rollout::read_head_from(data);
    let mut total = 0usize;
    for line in BoundedLines::new(std::io::BufReader::new(data), 1 << 20) {
        assert!(line.len() <= MAX_LINE_BYTES);
        assert!(!line.contains(&b'\n'));
        total += line.len();
        let _ = rollout::token_usage_in_line(&line);
    }
    assert!(total <= data.len());
});
