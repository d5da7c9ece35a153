//! Journal records: the JSON model, and `Journal::read` on a real directory
//! (symlink refusal, schema and id checks).

#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tcptune::journal::{Journal, Record, SCHEMA_VERSION};

/// One private state directory for the whole run.
fn state_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir").keep();
        Journal::open(&dir).expect("journal");
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(entry) = serde_json::from_slice::<Record>(data) {
        // What tcptune reads it can write back unchanged.
        let bytes = serde_json::to_vec_pretty(&entry).expect("serialize");
        let again: Record = serde_json::from_slice(&bytes).expect("reparse");
        assert_eq!(again, entry);
    }
    let state = state_dir();
    std::fs::write(state.join("journal/7.json"), data).expect("write record");
    let journal = Journal::existing(state).expect("journal dir");
    match journal.read(7) {
        Ok(entry) => {
            assert_eq!(entry.id, 7);
            assert_eq!(entry.schema_version, SCHEMA_VERSION);
        }
        Err(error) => {
            let message = error.to_string();
            assert!(message.contains("7.json"), "{message}");
        }
    }
    let _ = journal.records();
});
