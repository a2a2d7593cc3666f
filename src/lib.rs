//! doctor: why the local stack says "connection refused", with evidence.
//!
//! The flow, one module a step: project files → service model (`project`) →
//! checks gathering facts and findings (`checks`, run by `engine` against
//! `platform`) → causes (`correlate`) → the report (`report`), printed
//! (`output`) or repaired (`repair`, `fix`). `pipeline` is that flow as one
//! function; `app` is what each command does with it. `main.rs` only parses
//! arguments and calls [`run`].

pub mod app;
pub mod basis;
pub mod checks;
pub mod cli;
pub mod codes;
pub mod config;
pub mod correlate;
pub mod engine;
pub mod finding;
pub mod fix;
pub mod frameworks;
pub mod net;
pub mod output;
pub mod pipeline;
pub mod platform;
pub mod project;
pub mod redact;
mod repair;
pub mod report;
pub mod run;
pub mod shell;
pub mod timefmt;
mod wait;

use config::Config;

/// doctor's exit codes (CONTRACT.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// No error findings.
    Clean = 0,
    /// At least one error finding (or a warning with `--strict`).
    Findings = 1,
    /// doctor itself could not run.
    Failure = 2,
}

/// Run one command of doctor; the exit code is its outcome.
pub fn run(config: Config) -> Exit {
    app::run(config)
}
