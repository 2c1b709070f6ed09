//! cdxs.yaml: parsing and validation never panic, and a diagnostic renders without ever
//! showing a word of the file that looks like a key or token.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(report) = cdxs::manifest::parse(text, std::path::Path::new("/fuzz/cdxs.yaml")) {
        let err = cdxs::error::Error::Diagnostics(Box::new(report));
        let mut shown = String::new();
        let handler =
            miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor());
        let _ = handler.render_report(&mut shown, &err);
        for word in shown.split(|c: char| !(c.is_ascii_alphanumeric() || "_-.+=~".contains(c))) {
            assert!(
                !cdxs::secret::looks_like_secret(word),
                "a diagnostic shows `{word}`:\n{shown}"
            );
        }
    }
});
