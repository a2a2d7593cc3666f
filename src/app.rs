//! What each command does: `explain`, `checks`, and the report itself
//! (diagnose, then print, or repair and diagnose again).

use crate::config::{Command, Config, Format};
use crate::output::{emit, emit_raw, fail, print_report};
use crate::report::Report;
use crate::{checks, codes, engine, pipeline, project, repair, wait, Exit};

/// Keep the default panic message for doctor's own threads, but not for a
/// check's thread: its panic becomes a `crashed` outcome in the report.
fn quiet_check_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let in_check = std::thread::current()
            .name()
            .is_some_and(|n| n.starts_with(engine::CHECK_THREAD_PREFIX));
        if !in_check {
            default(info);
        }
    }));
}

pub fn run(config: Config) -> Exit {
    quiet_check_panics();
    match &config.command {
        Command::Explain(code) => explain(code.as_deref()),
        Command::Checks => list_checks(&config),
        Command::Print(text) => {
            emit_raw(text);
            Exit::Clean
        }
        Command::Report | Command::Port(_) => diagnose(config),
    }
}

fn explain(code: Option<&str>) -> Exit {
    match code {
        None => {
            let all: Vec<&str> = codes::CODES.iter().map(|c| c.doc).collect();
            emit(&all.join("\n"));
            Exit::Clean
        }
        Some(code) => match codes::lookup(code) {
            Some(doc) => {
                emit(doc.doc);
                Exit::Clean
            }
            None => fail(&format!(
                "unknown finding code '{code}' (`doctor explain --all` lists every code)"
            )),
        },
    }
}

fn list_checks(config: &Config) -> Exit {
    let checks = checks::all();
    if config.format == Format::Json {
        let list: Vec<serde_json::Value> = checks
            .iter()
            .map(|c| serde_json::json!({"id": c.id(), "description": c.description(), "codes": c.codes()}))
            .collect();
        emit_raw(&format!(
            "{}\n",
            serde_json::to_string_pretty(&list).unwrap_or_default()
        ));
    } else {
        let mut text = String::new();
        for c in &checks {
            text.push_str(&format!(
                "{:<10} {}\n           codes: {}\n",
                c.id(),
                c.description(),
                c.codes().join(", ")
            ));
        }
        emit(&text);
    }
    Exit::Clean
}

fn diagnose(config: Config) -> Exit {
    let root = match validate_dir(&config.dir) {
        Ok(root) => root,
        Err(message) => return fail(&message),
    };
    for url in &config.urls {
        if project::parse_url(url).is_none() {
            return fail(&format!(
                "--url '{url}' is not a URL like http://localhost:8000/health"
            ));
        }
    }
    let all = checks::all();
    let known = pipeline::known_check_ids(&all);
    for id in config.only.iter().chain(&config.skip) {
        if !known.contains(&id.as_str()) {
            return fail(&format!(
                "unknown check '{id}' (known: {})",
                known.join(", ")
            ));
        }
    }

    if let Some(limit) = config.wait {
        if let Err(e) = wait::wait_until_ready(&config, &root, limit) {
            return fail(&e);
        }
    }
    let report = match pipeline::diagnose(&config, &root, None) {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    if !config.fix {
        print_report(&report, &config);
        return exit_for(&report, &config);
    }
    // With --json, stdout carries only the final report; the plan goes to stderr.
    if config.format == Format::Table {
        print_report(&report, &config);
    }
    let applied = repair::run(&report, &config, &root);
    let mut report = match applied.then(|| pipeline::diagnose(&config, &root, None)) {
        Some(Ok(again)) => again,
        Some(Err(e)) => return fail(&e),
        None => report,
    };
    // A plan ends with the stack working: when the fixes above ended the
    // process that held a service's port (a stranger, a stale copy), what is
    // left is the service's own start command, offered the same way.
    if applied && !config.dry_run {
        let mut starts = report.clone();
        starts.findings.retain(|f| {
            f.caused_by.is_none()
                && f.severity != crate::finding::Severity::Info
                && f.fix.as_ref().is_some_and(|x| {
                    matches!(
                        x.action,
                        Some(
                            crate::finding::FixAction::Start { .. }
                                | crate::finding::FixAction::Touch { .. }
                        )
                    )
                })
        });
        if !starts.findings.is_empty() && repair::run(&starts, &config, &root) {
            report = match pipeline::diagnose(&config, &root, None) {
                Ok(again) => again,
                Err(e) => return fail(&e),
            };
        }
    }
    if applied && config.format == Format::Table {
        emit("\nAfter the fixes:\n");
    }
    if applied || config.format == Format::Json {
        print_report(&report, &config);
    }
    exit_for(&report, &config)
}

fn validate_dir(dir: &std::path::Path) -> Result<std::path::PathBuf, String> {
    let meta = std::fs::metadata(dir).map_err(|e| format!("--dir {}: {e}", dir.display()))?;
    if !meta.is_dir() {
        return Err(format!("--dir {}: not a folder", dir.display()));
    }
    std::fs::read_dir(dir).map_err(|e| format!("--dir {}: cannot list it: {e}", dir.display()))?;
    dir.canonicalize()
        .map(|canonical| crate::platform::environment::as_users_write_it(&canonical))
        .map_err(|e| format!("--dir {}: {e}", dir.display()))
}

/// Decided by the causes (a consequence never fails a run its cause does not).
fn exit_for(report: &Report, config: &Config) -> Exit {
    use crate::report::Status;
    match report.status {
        Status::Fail => Exit::Findings,
        Status::Warn if config.strict => Exit::Findings,
        _ => Exit::Clean,
    }
}
