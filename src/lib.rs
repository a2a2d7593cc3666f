//! doctor: why the local stack says "connection refused", with evidence.
//!
//! The engine (`engine`) runs checks (`checks`) against a project (`project`)
//! and the OS (`platform`); the report (`report`) is redacted once and printed
//! as a table or JSON. `main.rs` only parses arguments and calls [`run`].

pub mod checks;
pub mod cli;
pub mod codes;
pub mod config;
pub mod engine;
pub mod finding;
pub mod fix;
pub mod net;
pub mod platform;
pub mod project;
pub mod redact;
mod repair;
pub mod report;
pub mod run;
pub mod timefmt;

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use config::{ColorChoice, Command, Config, Format};
use engine::{Check, CheckRun, Context};
use report::{PortView, ProjectView, Report, SocketView};

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

/// Write to stdout; a closed pipe (`doctor | head -1`) is not an error.
fn emit(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
}

/// Replace the live progress line on stderr (a terminal) with `text`.
fn redraw(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "\r\x1b[2K{text}").and_then(|_| err.flush());
}

/// Write a line to stderr; a closed stderr is not worth a panic.
pub(crate) fn note(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{text}");
}

fn fail(message: &str) -> Exit {
    note(&format!("doctor: {}", redact::text(message)));
    Exit::Failure
}

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
        emit(&format!(
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

/// Check ids a user may name: those that exist and those the contract plans.
fn known_check_ids(checks: &[Arc<dyn Check>]) -> Vec<&'static str> {
    let mut ids: Vec<&'static str> = checks.iter().map(|c| c.id()).collect();
    ids.extend(codes::CODES.iter().map(|c| c.check));
    ids.sort_unstable();
    ids.dedup();
    ids
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
    let known = known_check_ids(&all);
    for id in config.only.iter().chain(&config.skip) {
        if !known.contains(&id.as_str()) {
            return fail(&format!(
                "unknown check '{id}' (known: {})",
                known.join(", ")
            ));
        }
    }

    if let Some(limit) = config.wait {
        if let Err(e) = wait_until_ready(&config, &root, limit) {
            return fail(&e);
        }
    }
    let report = match assess(&config, &root, None) {
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
    let report = match applied.then(|| assess(&config, &root, None)) {
        Some(Ok(again)) => again,
        Some(Err(e)) => return fail(&e),
        None => report,
    };
    if applied && config.format == Format::Table {
        emit("\nAfter the fixes:\n");
    }
    if applied || config.format == Format::Json {
        print_report(&report, &config);
    }
    exit_for(&report, &config)
}

/// Discover the project, run the selected checks (or only `check_ids`), and
/// build the redacted report.
pub(crate) fn assess(
    config: &Config,
    root: &Path,
    check_ids: Option<&[&str]>,
) -> Result<Report, String> {
    let began = std::time::Instant::now();
    let mut project = match project::discover(root, &config.urls, &config.ports) {
        Ok(p) => p,
        Err(e) => return Err(e.to_string()),
    };
    let discovery_ms = (began.elapsed().as_secs_f64() * 1e5).round() / 100.0;
    let focus = match &config.command {
        Command::Port(ports) => {
            project.services.retain(|s| ports.contains(&s.port));
            project.examined_ports.extend(ports);
            true
        }
        _ => false,
    };
    let mut all = checks::all();
    if let Some(ids) = check_ids {
        all.retain(|c| ids.contains(&c.id()));
    }
    let (selected, mut skipped) = select_checks(all, config, focus);
    let ctx = Arc::new(Context::new(config.clone(), project));
    // A check's own probes are bounded by --timeout; the check as a whole gets
    // a little more, so a hung server costs one timeout, not the whole run.
    let bound = ctx.config.timeout + Duration::from_millis(1500);
    let mut runs = engine::run_checks(&ctx, &selected, bound);
    runs.append(&mut skipped);

    let ports = focus.then(|| port_views(&ctx));
    let view = ProjectView {
        root: redact::home(&ctx.project.root),
        services: ctx.project.services.clone(),
        unreadable: ctx.project.unreadable.clone(),
        discovery_ms,
    };
    let mut report = Report::new(view, runs, ports);
    report.probes = ctx.probes();
    Ok(report.redacted())
}

/// `--wait`: re-run the ports, health and database checks until none reports
/// an error or `limit` passes, with one live line on a terminal. The report
/// that follows says why anything is still not ready.
fn wait_until_ready(config: &Config, root: &Path, limit: Duration) -> Result<(), String> {
    const READINESS: &[&str] = &["ports", "health", "database"];
    // Between rounds: a server that is starting gets a moment, not a busy loop.
    const ROUND_GAP: Duration = Duration::from_millis(250);
    let start = std::time::Instant::now();
    let live = std::io::stderr().is_terminal();
    let mut rounds = 0;
    let ready = loop {
        rounds += 1;
        let report = assess(config, root, Some(READINESS))?;
        let waiting: Vec<&str> = report
            .findings
            .iter()
            .filter(|f| f.severity == finding::Severity::Error)
            .map(|f| f.title.as_str())
            .collect();
        if waiting.is_empty() {
            break true;
        }
        let elapsed = start.elapsed();
        if live {
            let line = format!(
                "waiting {:.1}s/{:.0}s: {}",
                elapsed.as_secs_f64(),
                limit.as_secs_f64(),
                waiting.first().copied().unwrap_or_default()
            );
            let width = table_style(config).width as usize;
            redraw(
                &line
                    .chars()
                    .take(width.saturating_sub(1))
                    .collect::<String>(),
            );
        }
        if elapsed + ROUND_GAP >= limit {
            break false;
        }
        std::thread::sleep(ROUND_GAP);
    };
    if live {
        redraw("");
    }
    let took = start.elapsed().as_secs_f64();
    if ready {
        note(&format!(
            "doctor: ready after {took:.1}s ({rounds} round{})",
            if rounds == 1 { "" } else { "s" }
        ));
    } else {
        note(&format!(
            "doctor: not ready after {took:.1}s; the report below says why"
        ));
    }
    Ok(())
}

fn validate_dir(dir: &Path) -> Result<std::path::PathBuf, String> {
    let meta = std::fs::metadata(dir).map_err(|e| format!("--dir {}: {e}", dir.display()))?;
    if !meta.is_dir() {
        return Err(format!("--dir {}: not a folder", dir.display()));
    }
    std::fs::read_dir(dir).map_err(|e| format!("--dir {}: cannot list it: {e}", dir.display()))?;
    dir.canonicalize()
        .map_err(|e| format!("--dir {}: {e}", dir.display()))
}

fn select_checks(
    all: Vec<Arc<dyn Check>>,
    config: &Config,
    focus: bool,
) -> (Vec<Arc<dyn Check>>, Vec<CheckRun>) {
    let mut selected = Vec::new();
    let mut skipped = Vec::new();
    for check in all {
        let id = check.id();
        if config.skip.iter().any(|s| s == id) {
            skipped.push(CheckRun::skipped(id, "--skip"));
        } else if !config.only.is_empty() && !config.only.iter().any(|s| s == id) {
            skipped.push(CheckRun::skipped(id, "not in --only"));
        } else if focus && !matches!(id, "ports" | "processes") {
            skipped.push(CheckRun::skipped(
                id,
                "doctor port looks at ports and processes only",
            ));
        } else {
            selected.push(check);
        }
    }
    (selected, skipped)
}

fn port_views(ctx: &Context) -> Vec<PortView> {
    let Ok(snapshot) = ctx.snapshot() else {
        return Vec::new();
    };
    ctx.project
        .ports()
        .into_iter()
        .map(|port| PortView {
            port,
            sockets: snapshot
                .touching(port)
                .map(|s| SocketView {
                    local: s.local.to_string(),
                    remote: s.remote.to_string(),
                    state: s.state.as_str(),
                    accept_queue: s.accept_queue,
                    owner: match s.owners {
                        platform::Owners::Pids(_) => "visible",
                        platform::Owners::Hidden => "hidden",
                        platform::Owners::NoProcess => "none",
                    },
                    processes: s
                        .pids()
                        .iter()
                        .map(|pid| {
                            snapshot
                                .process(*pid)
                                .map_or(serde_json::json!({"pid": pid}), |p| {
                                    checks::process_evidence(snapshot, p)
                                })
                        })
                        .collect(),
                })
                .collect(),
        })
        .collect()
}

fn print_report(report: &Report, config: &Config) {
    match config.format {
        Format::Json => emit(&report::json::render(report)),
        Format::Table => emit(&report::table::render(report, &table_style(config))),
    }
}

pub fn table_style(config: &Config) -> report::table::Style {
    let stdout = std::io::stdout();
    let terminal = stdout.is_terminal();
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
    let color = match config.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => terminal && !no_color && !dumb,
    };
    let width = if terminal {
        comfy_table::Table::new().width().unwrap_or(100)
    } else {
        std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(100)
    };
    report::table::Style {
        color,
        unicode: utf8_terminal(),
        width: width.max(40),
        verbose: config.verbose,
    }
}

/// Whether the terminal shows UTF-8: the seeds show emoji as mojibake on a
/// Windows console, so doctor falls back to ASCII unless it is sure.
fn utf8_terminal() -> bool {
    if cfg!(windows) {
        return std::env::var_os("WT_SESSION").is_some()
            || std::env::var("TERM_PROGRAM").is_ok_and(|t| t == "vscode");
    }
    ["LC_ALL", "LC_CTYPE", "LANG"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .find(|v| !v.is_empty())
        .is_some_and(|v| {
            let v = v.to_ascii_lowercase();
            v.contains("utf-8") || v.contains("utf8")
        })
}

fn exit_for(report: &Report, config: &Config) -> Exit {
    if report.summary.errors > 0 || (config.strict && report.summary.warnings > 0) {
        Exit::Findings
    } else {
        Exit::Clean
    }
}
