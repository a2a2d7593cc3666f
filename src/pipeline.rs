//! The diagnosis as one function: discover the project (the service model),
//! run the selected checks concurrently, correlate their findings into causes
//! and consequences, and build the redacted report. The first run, `--wait`'s
//! rounds and `--fix`'s re-checks all call [`diagnose`].

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::config::{Command, Config};
use crate::engine::{self, Check, CheckRun, Context};
use crate::report::{PortView, ProjectView, Report, SocketView};
use crate::{checks, codes, correlate, platform, project, redact};

/// Check ids a user may name: those that exist and those the contract plans.
pub fn known_check_ids(checks: &[Arc<dyn Check>]) -> Vec<&'static str> {
    let mut ids: Vec<&'static str> = checks.iter().map(|c| c.id()).collect();
    ids.extend(codes::CODES.iter().map(|c| c.check));
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Discover the project, run the selected checks (or only `check_ids`), and
/// build the redacted report.
pub fn diagnose(
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
    correlate::correlate(&mut report.findings, &ctx.project);
    report.summarize();
    // With --strict a warning fails the run: the status says the same.
    if ctx.config.strict && report.status == crate::report::Status::Warn {
        report.status = crate::report::Status::Fail;
    }
    report.probes = ctx.probes();
    Ok(report.redacted())
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
