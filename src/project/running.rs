//! Running processes as a source of the service model: a server of the
//! project that no file gives a port (only its framework's default) takes
//! the port its running process listens on, with that process as the source
//! (`uvicorn main:app --port 8123` typed by hand).

use std::path::PathBuf;

use super::commands::{self, ServerCommand};
use super::Project;
use crate::platform::{self, ProcessInfo, TcpState};

/// The app a running process serves, as the service model names apps.
struct RunningApp<'a> {
    process: &'a ProcessInfo,
    server: ServerCommand,
    run_folder: PathBuf,
}

impl RunningApp<'_> {
    fn app_file(&self) -> Option<PathBuf> {
        let base = self
            .run_folder
            .join(self.server.entry.as_ref()?.replace('.', "/"));
        let file = base.with_extension("py");
        Some(if file.is_file() {
            file
        } else {
            base.join("__init__.py")
        })
    }
}

pub fn attach(project: &mut Project) {
    let wanting: Vec<usize> = (0..project.services.len())
        .filter(|&i| {
            let s = &project.services[i];
            // A port that only the README's documented command gives is
            // intent as weak as a default: the running server outranks it.
            let weak = s.default_port || s.source.starts_with("README");
            weak && s.kind.is_some() && !s.declared && s.folder.is_some()
        })
        .collect();
    if wanting.is_empty() {
        return;
    }
    // Found first (the process listing is borrowed from the project), applied after.
    for (i, port, source, pid) in running_ports(project, &wanting) {
        // The framework's default port held by a process that is not the
        // project's (an old copy from another folder): the app moved to the
        // next port because of it. The expected port stays the default, so
        // the holder is named there; where the app runs now is evidence.
        // Or a frontend that moves when its port is taken (next, vite)
        // runs elsewhere with no port asked for, and its own port is free
        // now (what held it is gone): it still belongs on its port.
        let default = project.services[i].port;
        if port != default
            && listeners_on(default).is_some_and(|holders| {
                held_by_a_stranger(project, &holders)
                    || (holders.is_empty() && moved_on_conflict(project, &project.services[i], pid))
            })
        {
            let s = &mut project.services[i];
            s.learn("moved_to", port.to_string(), &source);
            s.other_ports.push(super::PortClaim { port, source });
            continue;
        }
        let s = &mut project.services[i];
        // The app's code or env files call it on the default port (that is
        // how a URL joined it): those callers stay on that port, as a
        // service of their own where nothing listens, so that the mismatch
        // is seen (ENV004: the frontend calls :5000, the server runs on
        // :5001), not hidden under the running port.
        let called = (!s.clients.is_empty()).then(|| {
            // Its own name: a row and a probe of its own, never the
            // running server's answer shown on the port nobody listens on.
            let mut called = super::Service::at(
                format!("{} as called", s.name),
                default,
                s.clients[0].1.clone(),
            );
            called.url = s.url.take();
            called.host = s.host.clone();
            called.clients = std::mem::take(&mut s.clients);
            called.references = std::mem::take(&mut s.references);
            called.expected = s.expected;
            called.sources = s
                .sources
                .iter()
                .filter(|f| f.fact == "url")
                .cloned()
                .collect();
            s.sources.retain(|f| f.fact != "url");
            called
        });
        s.learn("port", port.to_string(), &source);
        s.port = port;
        s.source = source;
        s.default_port = false;
        if let Some(called) = called {
            project.services.push(called);
        }
    }
}

/// For each wanting service: the port its running process serves, with
/// that process as the source.
fn running_ports(project: &Project, wanting: &[usize]) -> Vec<(usize, u16, String, u32)> {
    let all = project.all_processes();
    let apps: Vec<RunningApp> = all
        .values()
        .filter_map(|p| {
            let cwd = p.cwd.as_ref().filter(|c| c.starts_with(&project.root))?;
            let server = commands::parse(&p.cmdline.join(" "))?;
            let run_folder = commands::run_folder(cwd, &server);
            Some(RunningApp {
                process: p,
                server,
                run_folder,
            })
        })
        .collect();
    let mut found = Vec::new();
    if apps.is_empty() {
        return found;
    }
    let command_of = |pid: u32| {
        all.get(&pid)
            .map(|p| crate::checks::shorten(&p.command(), 60))
            .unwrap_or_default()
    };
    for &i in wanting {
        let service = &project.services[i];
        let app_file = service.app_file();
        let matching: Vec<&RunningApp> = apps
            .iter()
            .filter(|a| match (&app_file, a.app_file()) {
                (Some(x), Some(y)) => *x == y,
                _ => {
                    Some(&a.run_folder) == service.folder.as_ref()
                        && service
                            .kind
                            .as_deref()
                            .is_some_and(|k| same_family(k, a.server.kind))
                }
            })
            .collect();
        // The listening ports of those processes and their children (a
        // reloader's worker holds the socket too).
        let mut pids: Vec<u32> = matching.iter().map(|a| a.process.pid).collect();
        for a in &matching {
            pids.extend(platform::children_of(a.process.pid));
        }
        let Ok(sockets) = platform::listeners_of(&pids) else {
            continue;
        };
        // Running but listening nowhere (a reloader whose server crashed at
        // start): the port its command line names is where it was meant to be.
        if sockets.iter().all(|s| s.state != TcpState::Listen) {
            let claimed: Vec<(u16, u32)> = matching
                .iter()
                .filter_map(|a| a.server.port.map(|p| (p, a.process.pid)))
                .collect();
            if let [(port, pid)] = claimed[..] {
                let source = format!(
                    "the command line of running pid {pid} ({})",
                    command_of(pid)
                );
                found.push((i, port, source, pid));
            }
            continue;
        }
        let mut ports: Vec<(u16, u32)> = sockets
            .iter()
            .filter(|s| s.state == TcpState::Listen)
            .flat_map(|s| s.pids().iter().map(move |p| (s.local.port(), *p)))
            .collect();
        ports.sort_unstable();
        ports.dedup_by_key(|(port, _)| *port);
        // One port: that is where the app runs. Several (two copies): the
        // model keeps the default and PROC005 says the app runs twice.
        let [(port, pid)] = ports[..] else { continue };
        found.push((
            i,
            port,
            format!("running pid {pid} ({})", command_of(pid)),
            pid,
        ));
    }
    found
}

fn family(kind: &str) -> &str {
    match kind {
        "fastapi" | "flask" | "django" | "python" => "python",
        "express" => "node",
        "vite" | "next" | "cra" | "nuxt" | "astro" | "sveltekit" | "webpack" => "frontend",
        other => other,
    }
}

fn same_family(kind: &str, running: &str) -> bool {
    family(kind) == family(running)
}

/// A frontend that takes the next port when its own is taken (`next dev`,
/// vite without `strictPort`) listening off its default with no port asked
/// for (no `-p`/`--port` up its process tree, no `PORT` in its
/// environment); the caller has seen nothing listen on the default.
fn moved_on_conflict(project: &Project, service: &super::Service, pid: u32) -> bool {
    if !matches!(service.kind.as_deref(), Some("next" | "vite")) {
        return false;
    }
    let all = project.all_processes();
    let mut at = Some(pid);
    for _ in 0..6 {
        let Some(p) = at.and_then(|a| all.get(&a)) else {
            break;
        };
        if !p.cwd.as_ref().is_some_and(|c| c.starts_with(&project.root)) {
            break;
        }
        let asked = p
            .cmdline
            .iter()
            .any(|a| matches!(a.as_str(), "-p" | "--port") || a.starts_with("--port="));
        if asked || matches!(platform::env_var_of(p.pid, "PORT"), Some(Some(_)) | None) {
            return false;
        }
        at = p.parent;
    }
    true
}

/// The pids listening on `port`; `None` when the sockets cannot be read.
fn listeners_on(port: u16) -> Option<Vec<u32>> {
    let sockets = platform::sockets(&platform::PortSet([port].into_iter().collect())).ok()?;
    Some(
        sockets
            .iter()
            .filter(|s| s.state == TcpState::Listen && s.local.port() == port)
            .flat_map(|s| s.pids().to_vec())
            .collect(),
    )
}

/// Whether one of `holders` is a process outside the project.
fn held_by_a_stranger(project: &Project, holders: &[u32]) -> bool {
    let all = project.all_processes();
    holders.iter().any(|pid| {
        all.get(pid)
            .and_then(|p| p.cwd.as_ref())
            .is_some_and(|cwd| !cwd.starts_with(&project.root))
    })
}
