//! `-v`: what tcptune reads and how long it takes, on stderr. A global flag
//! rather than a logging framework: there is one level and one sink.

use std::sync::atomic::{AtomicBool, Ordering};

static VERBOSE: AtomicBool = AtomicBool::new(false);

pub fn set_verbose(verbose: bool) {
    VERBOSE.store(verbose, Ordering::Relaxed);
}

pub fn verbose() -> bool {
    VERBOSE.load(Ordering::Relaxed)
}

/// Prints `tcptune: ...` on stderr when `-v` is on.
#[macro_export]
macro_rules! note {
    ($($arg:tt)*) => {
        if $crate::log::verbose() {
            // A note that cannot be written (stderr closed or full) is
            // dropped: it must never end the command.
            let _ = ::std::io::Write::write_fmt(
                &mut ::std::io::stderr(),
                format_args!("tcptune: {}\n", format_args!($($arg)*)),
            );
        }
    };
}
