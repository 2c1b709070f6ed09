//! Trash manifests: parsing never panics, and a manifest cdxs accepts only names rollout
//! files of its own thread inside the home, stored under plain names.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

const ID: &str = "0199aaaa-0000-7000-8000-00000000000a";

/// A fixed home (the seeds name files in it): `/tmp/cdxs-fuzz-home`.
fn home() -> &'static Path {
    static HOME: OnceLock<PathBuf> = OnceLock::new();
    HOME.get_or_init(|| {
        let home = PathBuf::from("/tmp/cdxs-fuzz-home");
        std::fs::create_dir_all(home.join("sessions/2026/11/26")).unwrap();
        std::fs::create_dir_all(home.join("archived_sessions")).unwrap();
        std::fs::canonicalize(&home).unwrap()
    })
}

fuzz_target!(|data: &[u8]| {
    let home = home();
    let Ok(m) = cdxs::sessions::trash::parse_manifest(home, ID, data) else {
        return;
    };
    assert_eq!(m.id, ID);
    for f in &m.files {
        assert!(!f.stored.is_empty() && !f.stored.contains('/') && f.stored != "..");
        let original = &f.original;
        assert!(
            original.starts_with(home.join("sessions"))
                || original.starts_with(home.join("archived_sessions")),
            "{original:?}"
        );
        assert!(
            !original
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir))
        );
        let name = original.file_name().and_then(|n| n.to_str()).unwrap_or("");
        assert_eq!(
            cdxs::codex::rollout::thread_id_of(name).as_deref(),
            Some(ID)
        );
    }
});
