//! `/proc/net/tcp` and `tcp6`: the streaming table reader and the row parser.
//!
//! On success every data row was counted exactly once.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use tcptune::census::Census;
use tcptune::system::{count_socket_table, parse_row};

fuzz_target!(|data: &[u8]| {
    let mut census = Census::default();
    let counted = count_socket_table(data, Path::new("/proc/net/tcp"), &mut census);
    let rows = data
        .split(|byte| *byte == b'\n')
        .skip(1)
        .filter(|line| !String::from_utf8_lossy(line).trim().is_empty())
        .count() as u64;
    match counted {
        Ok(()) => assert_eq!(census.states.total(), rows),
        Err(error) => {
            let message = error.to_string();
            assert!(message.starts_with("/proc/net/tcp:"), "{message}");
        }
    }
    for line in String::from_utf8_lossy(data).lines() {
        let _ = parse_row(line);
    }
});
