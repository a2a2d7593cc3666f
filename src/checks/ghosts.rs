//! PORT011: a listening socket whose owner pid no longer exists. On Windows
//! the TCP table keeps naming the process that created a socket; when that
//! process exits while a child it started inherited the handle, the port
//! stays held by the child and every "who is on port X" answer names a pid
//! that is gone. The processes whose parent is that pid are the heirs.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::json;

use super::{process_evidence, shorten, terminate_commands, terminate_fix};
use crate::engine::{Check, CheckError, Context, Snapshot};
use crate::finding::{Finding, Fix, Severity};
use crate::platform::{self, PortSet, ProcessInfo, TcpState};
use crate::project::Project;

pub struct Ghosts;

const ID: &str = "ghosts";

impl Check for Ghosts {
    fn id(&self) -> &'static str {
        ID
    }
    fn description(&self) -> &'static str {
        "listeners whose owner pid is gone, held by the children that inherited them"
    }
    fn codes(&self) -> &'static [&'static str] {
        &["PORT011"]
    }
    fn run(&self, ctx: &Context) -> Result<Vec<Finding>, CheckError> {
        let snapshot = ctx.snapshot()?;
        let candidates = gone_owners(snapshot, |pid| platform::process_info(pid).is_some());
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        // A process that exits takes its sockets with it on Linux and macOS,
        // so a pid missing from the process table is usually a race; the
        // table is read again and only owners it still names are ghosts.
        let ports = PortSet(candidates.keys().copied().collect());
        let again = platform::sockets(&ports).map_err(|e| CheckError::Failed(e.to_string()))?;
        let still: BTreeSet<(u16, u32)> = again
            .iter()
            .filter(|s| s.state == TcpState::Listen)
            .flat_map(|s| s.pids().iter().map(move |pid| (s.local.port(), *pid)))
            .collect();
        let processes = ctx.all_processes();
        let mut findings = Vec::new();
        for (port, ghosts) in candidates {
            for ghost in ghosts.into_iter().filter(|g| still.contains(&(port, *g))) {
                findings.push(ghost_finding(
                    &ctx.project,
                    snapshot,
                    processes,
                    port,
                    ghost,
                ));
            }
        }
        Ok(findings)
    }
}

/// Listening pids, by port, that the snapshot has no process for and that
/// `exists` does not find either.
fn gone_owners(snapshot: &Snapshot, exists: impl Fn(u32) -> bool) -> BTreeMap<u16, BTreeSet<u32>> {
    let mut out: BTreeMap<u16, BTreeSet<u32>> = BTreeMap::new();
    for socket in snapshot
        .sockets
        .iter()
        .filter(|s| s.state == TcpState::Listen)
    {
        for &pid in socket.pids() {
            // pid 0 (idle) and 4 (System) are the kernel's, never a process that exited.
            if pid > 4 && snapshot.process(pid).is_none() && !exists(pid) {
                out.entry(socket.local.port()).or_default().insert(pid);
            }
        }
    }
    out
}

fn ghost_finding(
    project: &Project,
    snapshot: &Snapshot,
    processes: &HashMap<u32, ProcessInfo>,
    port: u16,
    ghost: u32,
) -> Finding {
    let mut heirs: Vec<&ProcessInfo> = processes
        .values()
        .filter(|p| p.parent == Some(ghost))
        .collect();
    heirs.sort_by_key(|p| p.pid);
    let service = project.services_on(port).find(|s| s.expected);
    // The service's own worker serving on after its launcher exited is an
    // orphan worth knowing about; the health check says whether it answers.
    // Anything else holding the expected port keeps the service out of it.
    let own = service.is_some_and(|s| {
        !heirs.is_empty()
            && heirs
                .iter()
                .all(|p| super::ports::belongs_to(p, s, project) == Some(true))
    });
    let severity = match service {
        Some(_) if !own => Severity::Error,
        _ => Severity::Warning,
    };
    let named = match heirs.as_slice() {
        [] => "no running process names it as its parent".to_string(),
        [one] => format!(
            "held by its child pid {} ({})",
            one.pid,
            shorten(&one.command(), 60)
        ),
        many => format!(
            "held by its children {}",
            many.iter()
                .map(|p| format!("pid {}", p.pid))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut f = Finding::new(
        "PORT011",
        ID,
        format!("port {port} is held by pid {ghost}, which no longer exists: {named}"),
    )
    .severity(severity)
    .evidence("port", port)
    .evidence("owner_pid", ghost)
    .evidence(
        "heirs",
        heirs
            .iter()
            .map(|p| process_evidence(snapshot, p))
            .collect::<Vec<_>>(),
    );
    if let Some(s) = service {
        f = f.evidence(
            "expected_by",
            json!({"service": s.name, "source": s.source}),
        );
    }
    match heirs.as_slice() {
        [one] => f.with_fix(terminate_fix(one)),
        [] => f.with_fix(Fix::manual(
            "find the process that inherited the socket: it started from pid {ghost} or one of its children; the port is free once it exits",
            vec![if cfg!(windows) {
                format!("Get-CimInstance Win32_Process | Where-Object ParentProcessId -eq {ghost}")
            } else {
                format!("ps -o pid,ppid,command -e | awk '$2 == {ghost}'")
            }],
        )),
        many => f.with_fix(Fix::manual(
            "end the children that inherited the socket, by pid",
            many.iter().flat_map(|p| terminate_commands(p.pid)).collect(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::Socket;
    use crate::project::Service;

    fn listener(port: u16, pid: u32) -> Socket {
        Socket::sample_listener(&format!("127.0.0.1:{port}"), pid)
    }

    fn child(pid: u32, parent: u32, cmd: &[&str], cwd: &str) -> ProcessInfo {
        let mut p = ProcessInfo::sample(pid, cmd);
        p.parent = Some(parent);
        p.cwd = Some(cwd.into());
        p
    }

    fn project_expecting(port: u16) -> Project {
        let mut project = Project::default();
        project.root = "/p".into();
        let mut api = Service::at("backend", port, "backend/app/main.py:1".into());
        api.kind = Some("fastapi".into());
        api.expected = true;
        project.services.push(api);
        project
    }

    #[test]
    fn an_owner_still_running_or_the_kernel_is_no_ghost() {
        let mut snapshot = Snapshot {
            sockets: vec![listener(8000, 700), listener(80, 4), listener(8001, 0)],
            ..Snapshot::default()
        };
        snapshot
            .processes
            .insert(700, ProcessInfo::sample(700, &["node", "server.js"]));
        assert!(gone_owners(&snapshot, |_| false).is_empty());

        // Missing from the snapshot but found on a second look: a race, not a ghost.
        snapshot.sockets.push(listener(9000, 900));
        assert!(gone_owners(&snapshot, |pid| pid == 900).is_empty());
        let gone = gone_owners(&snapshot, |_| false);
        assert_eq!(gone.get(&9000), Some(&BTreeSet::from([900])));
    }

    /// Modeled on bun #36936: the launcher (pid 4120) exited, its
    /// child kept the listening handle of an expected port.
    #[test]
    fn a_stranger_heir_on_an_expected_port_is_an_error_with_its_kill() {
        let project = project_expecting(3000);
        let snapshot = Snapshot::default();
        let heir = child(
            5332,
            4120,
            &["bun.exe", "run", "build:watch"],
            "C:/elsewhere",
        );
        let processes = HashMap::from([(5332, heir)]);
        let f = ghost_finding(&project, &snapshot, &processes, 3000, 4120);
        assert_eq!(f.code, "PORT011");
        assert_eq!(f.severity, Severity::Error);
        assert!(
            f.title.contains("pid 4120, which no longer exists"),
            "{}",
            f.title
        );
        assert!(
            f.title.contains("pid 5332 (bun.exe run build:watch)"),
            "{}",
            f.title
        );
        assert_eq!(f.evidence["heirs"][0]["pid"], 5332);
        let fix = f.fix.expect("the heir is the kill target");
        assert!(matches!(
            fix.action,
            Some(crate::finding::FixAction::Terminate { pid: 5332, .. })
        ));
    }

    #[test]
    fn the_services_own_orphaned_worker_is_a_warning() {
        let project = project_expecting(8000);
        let worker = child(
            812,
            640,
            &[
                "python.exe",
                "-m",
                "uvicorn",
                "app.main:app",
                "--port",
                "8000",
            ],
            "/p/backend",
        );
        let processes = HashMap::from([(812, worker)]);
        let f = ghost_finding(&project, &Snapshot::default(), &processes, 8000, 640);
        assert_eq!(f.severity, Severity::Warning, "{}", f.title);
    }

    #[test]
    fn no_heir_is_said_and_the_fix_is_a_search_not_a_kill() {
        let project = Project::default();
        let f = ghost_finding(&project, &Snapshot::default(), &HashMap::new(), 5173, 777);
        assert_eq!(
            f.severity,
            Severity::Warning,
            "an examined port is not expected"
        );
        assert!(f
            .title
            .contains("no running process names it as its parent"));
        let fix = f.fix.unwrap();
        assert!(fix.action.is_none());
        assert!(fix.commands[0].contains("777"));
    }
}
