//! `tcptune lint`: sysctl.conf and sysctl.d files audited as data, with no
//! live system, the way a configuration repository is checked in CI.
//!
//! This module owns the checks that need nothing but the files: lines the
//! loaders skip or read differently (`invalid-line`), keys that mainline
//! kernels removed (`obsolete-key`) or never had (`unknown-key`), values a
//! key does not accept (`invalid-value`), values known to do harm
//! (`harmful-value`), and keys set more than once (`duplicate-key`), with the
//! winner picked the way the boot-time loaders pick it: files sorted by file
//! name, the last assignment wins. Parsing belongs to [`crate::conf`] and
//! what a key means to [`crate::knowledge`]; [`lint`] is a pure function of
//! the files' paths and bytes and opens nothing itself.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::conf::{self, Action, Diagnostic, DiagnosticKind, LONG_LINE_MAX, ParsedFile, Target};
use crate::finding::{Code, Finding, Severity};
use crate::key::{Key, Value};
use crate::knowledge::{self, KernelVersionText, KeyInfo, Range};
use crate::suggest;
