//! The profile loader: YAML bytes to a validated profile document.
//!
//! Besides "never panics", checks the property apply relies on: whatever
//! validates renders as one `key = value` line per setting, so no profile
//! can smuggle a second line into the sysctl.d file.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tcptune::key::Key;

fuzz_target!(|data: &[u8]| {
    match tcptune::profile::parse("fuzz.yaml", "fuzz", data) {
        Ok(document) => {
            for setting in &document.settings {
                let key = setting.key.to_string();
                assert!(
                    !key.is_empty() && !key.chars().any(|ch| ch.is_whitespace() || ch.is_control()),
                    "key {key:?} would break the file's line grammar"
                );
                assert_eq!(Key::parse(&key).as_ref(), Ok(&setting.key), "{key:?}");
                let line = format!("{key} = {}", setting.expect);
                assert!(
                    !line.chars().any(char::is_control),
                    "setting renders with a control character: {line:?}"
                );
            }
        }
        Err(errors) => {
            assert!(!errors.0.is_empty(), "an error result with no error");
            for error in &errors.0 {
                assert!(error.line >= 1 && error.column >= 1, "{error}");
                assert_eq!(error.file, "fuzz.yaml");
            }
        }
    }
});
