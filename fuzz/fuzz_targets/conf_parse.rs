//! The sysctl.d line parser: any bytes give entries and diagnostics.
//!
//! Checks that positions are inside the file and that every key it accepts
//! survives a round trip through its canonical spelling (the spelling
//! tcptune writes back into files).

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use tcptune::key::Key;

fuzz_target!(|data: &[u8]| {
    let parsed = tcptune::conf::parse(Path::new("/etc/sysctl.d/fuzz.conf"), data);
    let lines = data.split(|byte| *byte == b'\n').count();
    for entry in &parsed.entries {
        assert!(
            entry.line >= 1 && entry.line <= lines,
            "line {}",
            entry.line
        );
        assert!(entry.column >= 1);
        assert!(!entry.raw_key.contains('\n'));
        if let Some(key) = entry.key() {
            let spelled = key.to_string();
            assert_eq!(Key::parse(&spelled).as_ref(), Ok(key), "{spelled:?}");
        }
    }
    for diagnostic in &parsed.diagnostics {
        assert!(diagnostic.line >= 1 && diagnostic.line <= lines);
        // Rendering must not panic either.
        let _ = diagnostic.to_string();
    }
    if let Some(stop) = parsed.systemd_stops_at {
        assert!(stop >= 1 && stop <= lines);
    }
});
