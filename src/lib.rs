//! tcptune: a Linux TCP tuning advisor and applier.
//!
//! One way through: [`system`] reads the machine into [`facts::Facts`];
//! [`rules`] weigh the facts against a [`profile::Profile`] and return
//! [`finding::Finding`]s; [`plan`] turns a profile into the changes
//! [`apply`] carries out as a journaled transaction; [`report`] is the only
//! code that prints. [`knowledge`] holds what each key really does on which
//! kernels, [`conf`] how the boot-time loaders read sysctl files. The command
//! line in [`cli`] and [`commands`] only sequences these; `main.rs` maps the
//! outcome to an exit code. `ARCHITECTURE.md` maps the layers and their
//! invariants.

pub mod active;
pub mod apply;
pub mod census;
pub mod cli;
pub mod commands;
pub mod conf;
pub mod error;
pub mod facts;
pub mod finding;
pub mod input;
pub mod journal;
pub mod kernel;
pub mod key;
pub mod knowledge;
pub mod lint;
pub mod log;
pub mod manual;
pub mod plan;
pub mod profile;
pub mod rates;
pub mod recommend;
pub mod report;
pub mod rules;
pub mod suggest;
pub mod system;
pub mod text;
