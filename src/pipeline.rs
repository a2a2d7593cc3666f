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
    crate::net::forget_hung();
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
        services: ctx
            .project
            .services
            .iter()
            .map(|s| {
                let mut s = s.clone();
                s.running = ctx.running_of(&s);
                s
            })
            .collect(),
        unreadable: ctx.project.unreadable.clone(),
        discovery_ms,
    };
    let mut report = Report::new(view, runs, ports);
    correlate::correlate(&mut report.findings);
    for f in &mut report.findings {
        f.evidence_from = crate::basis::EvidenceFrom::of(&f.evidence);
    }
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
        } else if focus && !matches!(id, "ports" | "processes" | "ghosts" | "wsl") {
            skipped.push(CheckRun::skipped(
                id,
                "doctor port looks at who holds the ports only",
            ));
        } else {
            selected.push(check);
        }
    }
    (selected, skipped)
}

/// Sockets of one port shown one by one in `doctor port --json` unless
/// `--all`: a port with 8,000 connections is counted, not listed.
const SOCKETS_PER_PORT: usize = 100;

fn port_views(ctx: &Context) -> Vec<PortView> {
    let Ok(snapshot) = ctx.snapshot() else {
        return Vec::new();
    };
    // One evidence object per process, however many sockets it holds.
    let mut evidence: std::collections::HashMap<u32, serde_json::Value> = Default::default();
    let mut describe = |pid: u32| {
        evidence
            .entry(pid)
            .or_insert_with(|| {
                snapshot
                    .process(pid)
                    // No such process: the table names a pid that exited
                    // (a Windows ghost, PORT011) or one that just went.
                    .map_or(serde_json::json!({"pid": pid, "exited": true}), |p| {
                        checks::process_evidence(snapshot, p)
                    })
            })
            .clone()
    };
    ctx.project
        .ports()
        .into_iter()
        .map(|port| {
            let mut all: Vec<&platform::Socket> = snapshot.touching(port).collect();
            // Listeners first: the one line that matters is never cut.
            all.sort_by_key(|s| s.state != platform::TcpState::Listen);
            let counts = crate::checks::ports::state_counts(all.iter().copied());
            let total = all.len();
            let mut groups: Vec<(&'static str, &'static str, Vec<u32>, usize)> = Vec::new();
            for s in all.iter().filter(|s| s.state != platform::TcpState::Listen) {
                let owner = owner_kind(&s.owners);
                let pids = s.pids().to_vec();
                match groups
                    .iter_mut()
                    .find(|g| g.0 == s.state.as_str() && g.1 == owner && g.2 == pids)
                {
                    Some(g) => g.3 += 1,
                    None => groups.push((s.state.as_str(), owner, pids, 1)),
                }
            }
            let groups = groups
                .into_iter()
                .map(|(state, owner, pids, count)| crate::report::SocketGroup {
                    state,
                    owner,
                    count,
                    processes: pids.into_iter().map(&mut describe).collect(),
                })
                .collect();
            if !ctx.config.all_sockets {
                all.truncate(SOCKETS_PER_PORT);
            }
            PortView {
                port,
                counts,
                total,
                groups,
                sockets: all
                    .into_iter()
                    .map(|s| SocketView {
                        local: s.local.to_string(),
                        remote: s.remote.to_string(),
                        state: s.state.as_str(),
                        accept_queue: s.accept_queue,
                        owner: owner_kind(&s.owners),
                        processes: s.pids().iter().map(|pid| describe(*pid)).collect(),
                    })
                    .collect(),
            }
        })
        .collect()
}

fn owner_kind(owners: &platform::Owners) -> &'static str {
    match owners {
        platform::Owners::Pids(_) => "visible",
        platform::Owners::Hidden => "hidden",
        platform::Owners::NoProcess => "none",
    }
}
