//! PORT001–PORT007: who holds each port the project expects, in every TCP
//! state, and why that refuses the client.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::Path;

use serde_json::{json, Value};

use super::{describe_pid, process_evidence, terminate_fix};
use crate::engine::{Check, CheckError, Context, Snapshot};
use crate::finding::{Finding, Fix};
use crate::platform::{Owners, ProcessInfo, Socket, TcpState};
use crate::project::{canonical_ip, Project, Service, LOOPBACK_V4, LOOPBACK_V6};

pub struct Ports;

const ID: &str = "ports";
/// CLOSE_WAIT sockets of one process on one port before it counts as a leak.
const CLOSE_WAIT_PILE: usize = 5;

impl Check for Ports {
    fn id(&self) -> &'static str {
        ID
    }
    fn description(&self) -> &'static str {
        "who holds each expected port, in every TCP state"
    }
    fn codes(&self) -> &'static [&'static str] {
        &[
            "PORT001", "PORT002", "PORT003", "PORT004", "PORT005", "PORT006", "PORT007", "PORT009",
            "PORT010",
        ]
    }
    fn run(&self, ctx: &Context) -> Result<Vec<Finding>, CheckError> {
        let snapshot = ctx.snapshot()?;
        let mut findings = Vec::new();
        for port in ctx.project.ports() {
            check_port(&ctx.project, snapshot, port, &mut findings);
            let mut extra = Vec::new();
            if let Some(f) = findings
                .iter_mut()
                .find(|f| f.code == "PORT001" && f.port() == Some(port))
            {
                why_nothing_listens(ctx, port, f, &mut extra);
            }
            findings.extend(extra);
        }
        Ok(findings)
    }
}

/// Counts of sockets per state, for evidence: `{"LISTEN": 1, "TIME_WAIT": 3}`.
pub fn state_counts<'a>(
    sockets: impl Iterator<Item = &'a Socket>,
) -> BTreeMap<&'static str, usize> {
    let mut counts = BTreeMap::new();
    for s in sockets {
        *counts.entry(s.state.as_str()).or_insert(0) += 1;
    }
    counts
}

fn check_port(project: &Project, snapshot: &Snapshot, port: u16, out: &mut Vec<Finding>) {
    let touching: Vec<&Socket> = snapshot.touching(port).collect();
    let listeners: Vec<&Socket> = snapshot
        .on_port(port)
        .filter(|s| s.state == TcpState::Listen)
        .collect();
    let all: Vec<&Service> = project.services_on(port).collect();
    // URLs nothing of the app reads are context: said as info, never blamed.
    let services: Vec<&Service> = all.iter().copied().filter(|s| s.expected).collect();
    let states = state_counts(touching.iter().copied());

    if listeners.is_empty() {
        // A socket bound by a live process that never listens (a reloader
        // whose server died at start) is evidence about that process, never
        // a leftover of old connections.
        let bound: Vec<Value> = touching
            .iter()
            .filter(|s| {
                s.state == TcpState::Close && s.local.port() == port && !s.pids().is_empty()
            })
            .flat_map(|s| s.pids().iter())
            .map(|pid| json!({"pid": pid, "process": describe_pid(snapshot, *pid)}))
            .collect();
        if let Some(first) = services.first() {
            let mut f = nothing_listens(project, first, &services, port, &states);
            if first.kind.is_none() && first.start.is_none() {
                point_at_the_running_server(project, snapshot, first, port, &mut f);
            }
            if !bound.is_empty() {
                f = f.evidence("bound_not_listening", bound.clone());
            }
            out.push(f);
        } else if let Some(first) = all.first() {
            let mut f = nothing_listens(project, first, &all, port, &states);
            // Nothing of the app needs it: nothing to start, nothing to edit.
            f.fix = None;
            out.push(
                f.severity(crate::finding::Severity::Info)
                    .explain("Nothing listens on this port, but no code of the app reads the URL that names it (it is used by tests or tooling, or by a container that is not running), so it is not a cause of the stack's failure."),
            );
        }
        if bound.is_empty()
            && !touching.is_empty()
            && touching.iter().all(|s| s.state.is_closing_leftover())
        {
            out.push(only_leftovers(port, &states));
        }
    } else {
        let hidden: Vec<&&Socket> = listeners
            .iter()
            .filter(|s| s.owners == Owners::Hidden)
            .collect();
        if !hidden.is_empty() {
            out.push(hidden_owner(port, &hidden));
        }
        let holders: BTreeSet<u32> = listeners
            .iter()
            .flat_map(|s| s.pids().iter().copied())
            .collect();
        if holders.len() > 1 && !is_one_process_tree(snapshot, &holders) {
            out.push(shared_listener(snapshot, port, &holders));
        }
        if let Some(first) = services.first() {
            let foreign: Vec<&ProcessInfo> = holders
                .iter()
                .filter_map(|pid| snapshot.process(*pid))
                .filter(|p| belongs_to(p, first, project) == Some(false))
                .collect();
            if !foreign.is_empty() && foreign.len() == holders.len() {
                match foreign
                    .iter()
                    .find_map(|p| squatter(p, port).map(|s| (*p, s)))
                {
                    Some((p, known)) => out.push(held_by_squatter(snapshot, first, p, known)),
                    None => out.push(held_by_other(
                        &project.root,
                        snapshot,
                        first,
                        port,
                        &foreign,
                        &states,
                    )),
                }
            }
        }
        // What the server is started with, to say its own bind flag: the
        // holders' command lines and their parents' (a uvicorn worker's
        // line is `spawn_main`; its reloader's holds the flags).
        let mut server_cmd: Vec<String> = Vec::new();
        for pid in &holders {
            let mut at = snapshot.process(*pid);
            for _ in 0..3 {
                let Some(p) = at else { break };
                server_cmd.push(p.cmdline.join(" "));
                at = p.parent.and_then(|pp| snapshot.process(pp));
            }
        }
        let server_cmd = server_cmd.join(" ");
        for service in &services {
            // Each spelling clients use (localhost, 127.0.0.1, ::1) is checked.
            let mut hosts: Vec<(String, String)> = service.clients.clone();
            if hosts.is_empty() {
                hosts.push((service.host.clone(), service.source.clone()));
            }
            hosts.dedup_by(|a, b| a.0 == b.0);
            for (host, source) in &hosts {
                // A URL can be rewritten only where one is written: not in
                // a start command's line (`flask run` in run.bat:11, whose
                // host is the framework's default; field gd fd P3 E).
                let url_written =
                    super::source_line(project, source).is_some_and(|l| l.contains("://"));
                if let Some(f) =
                    address_mismatch(host, source, port, &listeners, &server_cmd, url_written)
                {
                    out.push(f);
                }
            }
        }
    }
    out.extend(close_wait_piles(snapshot, port, &touching));
}

fn sources(services: &[&Service]) -> String {
    services
        .iter()
        .map(|s| s.source.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The places that write `port` on their line: where a user would change it.
fn lines_naming(project: &Project, service: &Service, port: u16) -> Vec<String> {
    let port_text = port.to_string();
    std::iter::once(&service.source)
        .chain(&service.references)
        .filter(|src| {
            let Some((file, line)) = src.rsplit_once(':') else {
                return false;
            };
            let Ok(line) = line.parse::<usize>() else {
                return false;
            };
            crate::project::read_bounded(&project.root.join(file))
                .ok()
                .and_then(|t| t.lines().nth(line.saturating_sub(1)).map(String::from))
                .is_some_and(|l| l.contains(&port_text))
        })
        .cloned()
        .collect()
}

/// A `concurrently` script that starts this service and others (`"dev":
/// "concurrently -k \"npm run dev --prefix client\" \"npm run dev --prefix
/// server\""`): with `-k` (`--kill-others`, `--kill-others-on-fail`) one of
/// them exiting ends the rest, so this service being down can be what ended
/// a sibling (its port was taken). The script, whether it kills the others,
/// and the siblings it starts with their ports.
fn shared_launcher(project: &Project, service: &Service) -> Option<Value> {
    let folder = service.folder.as_ref()?;
    let names_folder = |command: &str, dir: &std::path::Path, f: &std::path::Path| {
        let Ok(rel) = f.strip_prefix(dir) else {
            return false;
        };
        let rel = rel.display().to_string();
        !rel.is_empty()
            && command
                .split(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == '=')
                .any(|w| {
                    w.trim_end_matches('/') == rel
                        || w.trim_start_matches("./").trim_end_matches('/') == rel
                })
    };
    for dir in folder.ancestors().skip(1) {
        if !dir.starts_with(&project.root) {
            break;
        }
        let Ok(text) = crate::project::read_bounded(&dir.join("package.json")) else {
            continue;
        };
        let Ok(json) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        let Some(scripts) = json["scripts"].as_object() else {
            continue;
        };
        for (name, command) in scripts {
            let Some(command) = command.as_str() else {
                continue;
            };
            if !command.contains("concurrently") {
                continue;
            }
            // `npm:dev-ui` and `npm run dev-ui` name other scripts: their
            // text says which folder they run in.
            let mut expanded = command.to_string();
            for (other, text) in scripts {
                let runs = command.contains(&format!("npm:{other}"))
                    || command.contains(&format!("npm run {other}"));
                if other != name && runs {
                    expanded.push(' ');
                    expanded.push_str(text.as_str().unwrap_or_default());
                }
            }
            if !names_folder(&expanded, dir, folder) {
                continue;
            }
            let siblings: Vec<Value> = project
                .services
                .iter()
                .filter(|o| o.name != service.name && o.port != service.port)
                .filter(|o| {
                    o.folder
                        .as_ref()
                        .is_some_and(|f| names_folder(&expanded, dir, f))
                })
                .map(|o| json!({"service": o.name, "port": o.port}))
                .collect();
            if siblings.is_empty() {
                continue;
            }
            let kill_others = command
                .split_whitespace()
                .any(|w| matches!(w, "-k" | "--kill-others" | "--kill-others-on-fail"));
            let at = dir
                .join("package.json")
                .strip_prefix(&project.root)
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| "package.json".into());
            return Some(json!({
                "script": format!("{at}: {name}"),
                "command": command,
                "kill_others": kill_others,
                "siblings": siblings,
            }));
        }
    }
    None
}

/// A URL that names a port no server of the project is meant for (a proxy
/// target edited to :8001, an env URL), while exactly one backend of the
/// project listens on its own port: "start the service named 'proxy
/// target'" invents a service (field ga D11, gc D20). The story is the
/// URL and the server that runs; the fix points the one at the other.
/// Said as a choice (manual): a second server meant for that port is
/// possible, the evidence does not exclude it.
fn point_at_the_running_server(
    project: &Project,
    snapshot: &Snapshot,
    service: &Service,
    port: u16,
    f: &mut Finding,
) {
    let running: Vec<&Service> = project
        .services
        .iter()
        .filter(|s| {
            s.kind.is_some()
                && !s.is_frontend()
                && s.is_http()
                && s.port != port
                && snapshot.has_listener(s.port)
        })
        .collect();
    let [server] = running[..] else { return };
    let places = lines_naming(project, service, port);
    if places.is_empty() {
        return;
    }
    let pids = snapshot.listener_pids(server.port);
    let who = pids
        .first()
        .map(|p| format!(" (pid {p})"))
        .unwrap_or_default();
    // Where the running server's port comes from, when a file says it
    // (`PORT=9001` in server/.env): the other place to change.
    let from = (!server.source.starts_with("running pid") && !server.default_port)
        .then(|| server.source.clone());
    // Not "no server is meant for :PORT": a default in the code or a
    // README line may well mean one (field gd fd P2 E, ga fa P2 c2).
    f.title = format!(
        "{}; the project's {} listens on :{}{who}{}",
        f.title,
        server.name,
        server.port,
        from.as_ref()
            .map(|f| format!(", its port from {f}"))
            .unwrap_or_default()
    );
    f.evidence.insert(
        "listening_server".into(),
        json!({"service": server.name, "port": server.port, "pids": pids}),
    );
    // A frontend that reads the changed file once, at start (CRA's
    // `.env`, its `"proxy"`): the edit reaches the browser after a restart
    // (field ga fa P3 c5: the bundle still called :8080).
    let restarts: Vec<String> = places
        .iter()
        .filter_map(|place| {
            let file = project.root.join(place.rsplit_once(':').map_or(place.as_str(), |(f, _)| f));
            let frontend = project.services.iter().find(|s| {
                s.is_frontend() && s.folder.as_ref().is_some_and(|d| file.starts_with(d))
            })?;
            let folder = frontend.folder.as_ref()?;
            let name = file.file_name()?.to_string_lossy().to_string();
            let once = if name.starts_with(".env") {
                let (reads, reloads) =
                    crate::frameworks::env_file_use(frontend.kind.as_deref(), folder, &file);
                reads && !reloads
            } else {
                name == "package.json" || name.starts_with("setupProxy")
            };
            once.then(|| {
                let start = frontend
                    .start_from_root()
                    .map(|s| crate::shell::inline(&s))
                    .unwrap_or_else(|| "its start command".into());
                format!(
                    "then restart {} (Ctrl-C in its terminal, then {start}): it reads {name} once, at start",
                    frontend.name
                )
            })
        })
        .collect();
    let mut steps = vec![format!(
        "change the port at {} from {port} to {}",
        places.join(", "),
        server.port
    )];
    steps.extend(restarts.into_iter().take(1));
    f.fix = Some(Fix::manual(
        format!("point the URL at {} on :{}", server.name, server.port),
        steps
            .into_iter()
            .chain([match &from {
                Some(f) => format!(
                    "or give {} :{port} again at {f} and restart it",
                    server.name
                ),
                None => format!("or, if another server is meant for :{port}, start it there"),
            }])
            .collect(),
    ));
}

fn nothing_listens(
    project: &Project,
    service: &Service,
    all: &[&Service],
    port: u16,
    states: &BTreeMap<&str, usize>,
) -> Finding {
    // The start command runs from the project root, as printed, with the
    // venv's programs when the service has one.
    let start = service.start_with_venv(&project.root);
    let folder = project
        .shown(&service.start_folder(&project.root))
        .unwrap_or_else(|| ".".into());
    let mut steps = start
        .as_deref()
        .map(|s| crate::shell::in_folder(&folder, s))
        .unwrap_or_else(|| {
            vec![format!(
                "start the service named '{}' (see its README)",
                service.name
            )]
        });
    let places = lines_naming(project, service, port);
    if !places.is_empty() {
        steps.push(format!(
            "or, if it runs on another port on purpose, change the port at {}",
            places.join(", ")
        ));
    }
    let host = display_host(&service.host);
    let mut f = Finding::new(
        "PORT001",
        ID,
        format!(
            "nothing listens on {host}:{port} ({}, from {})",
            service.name,
            sources(all)
        ),
    )
    .evidence("port", port)
    .evidence("host", service.host.clone())
    .evidence(
        "expected_by",
        all.iter()
            .map(|s| json!({"service": s.name, "source": s.source}))
            .collect::<Vec<_>>(),
    )
    .evidence("states", json!(states));
    f = f.with_fix(match &start {
        // doctor can run the project's own start command, detached from its
        // terminal, with the user's consent.
        Some(command) if service.kind.is_some() && service.expected => Fix {
            title: format!(
                "start {} so that it listens on port {port} (doctor runs it detached; its output goes to .doctor/logs/{}.log)",
                service.name, service.name
            ),
            safety: crate::finding::Safety::Confirm,
            commands: steps,
            action: Some(crate::finding::FixAction::Start {
                command: command.clone(),
                cwd: service.start_folder(&project.root),
                path_first: service.venv_bin(&project.root),
                name: service.name.clone(),
                port,
            }),
        },
        _ => Fix::manual(
            format!("start {} so that it listens on port {port}", service.name),
            steps,
        ),
    });
    if let Some(url) = &service.url {
        f = f.evidence("url", url.clone());
    }
    if let Some(launcher) = shared_launcher(project, service) {
        f = f.evidence("launcher", launcher);
    }
    // The project's frontend runs on another port: it moved there while
    // this one was taken, and this one is free now. A second copy would
    // run beside it; the fix is to restart the one the user runs.
    if let Some(moved) = service
        .other_ports
        .iter()
        .find(|c| c.source.starts_with("running pid"))
    {
        f.title = format!(
            "{}; the project's {} runs on :{} ({}): it moved there while :{port} was taken, and :{port} is free now",
            f.title, service.name, moved.port, moved.source
        );
        f = f
            .evidence(
                "moved_to",
                json!({"port": moved.port, "source": moved.source}),
            )
            .with_fix(Fix::manual(
                format!(
                    "restart {} so that it takes :{port} again (it runs on :{} now)",
                    service.name, moved.port
                ),
                vec![format!(
                    "in the terminal that runs it: Ctrl-C, then {}",
                    service
                        .start
                        .clone()
                        .unwrap_or_else(|| "its start command".into())
                )],
            ));
    }
    if !service.other_ports.is_empty() {
        // Sources disagree about the port: both are evidence.
        f = f.evidence("other_ports", json!(service.other_ports));
    }
    f
}

/// What more can be known of an expected port with no listener: a process
/// of the project started for it that holds no listener (a reloader whose
/// server crashed at start), and whether the port is bound all the same (a
/// socket bound but never listening is invisible to socket listings).
/// The command kinds that serve a Python service.
const PYTHON_SERVERS: &[&str] = &[
    "uvicorn",
    "fastapi",
    "flask",
    "django",
    "gunicorn",
    "hypercorn",
    "python",
];

/// The port `PORT` in a process's environment names, when it names one.
fn env_port(pid: u32) -> Option<u16> {
    crate::platform::env_var_of(pid, "PORT")
        .flatten()?
        .trim()
        .parse()
        .ok()
}

/// Whether `pid` itself listens on `port` (the snapshot holds the
/// project's ports only).
fn listens_on(pid: u32, port: u16) -> bool {
    crate::platform::listeners_of(&[pid]).is_ok_and(|l| {
        l.iter()
            .any(|s| s.state == crate::platform::TcpState::Listen && s.local.port() == port)
    })
}

/// One `PORT` read by two servers: the process started for this port has
/// `PORT=N` in its environment, and another process of the project that
/// has the same `PORT=N` took :N first (`PORT=4001 npm run dev` under a
/// `concurrently` that starts `next dev` and the API: next took 4001, the
/// API died with EADDRINUSE; field gb fb P3 c7). A touch would run it into
/// the same taken port: the fix is the variable. True when said.
fn shared_port_variable(ctx: &Context, port: u16, started_for: &[Value], f: &mut Finding) -> bool {
    let Ok(snapshot) = ctx.snapshot() else {
        return false;
    };
    let root = &ctx.project.root;
    for s in started_for {
        let Some(pid) = s["pid"].as_u64().and_then(|p| u32::try_from(p).ok()) else {
            continue;
        };
        let Some(n) = env_port(pid).filter(|n| *n != port) else {
            continue;
        };
        let tree = crate::platform::descendants(pid, 32);
        // The snapshot's sockets are the project's ports: :N is asked of
        // the project's processes that have the same PORT.
        let holder = ctx
            .all_processes()
            .values()
            .filter(|p| {
                p.pid != pid
                    && !tree.contains(&p.pid)
                    && p.cwd.as_ref().is_some_and(|c| c.starts_with(root))
                    && env_port(p.pid) == Some(n)
            })
            .map(|p| p.pid)
            .find(|h| listens_on(*h, n));
        let Some(holder) = holder else { continue };
        let command = s["command"].as_str().unwrap_or_default();
        f.title = format!(
            "{}; pid {pid} ({}) was started to serve it with PORT={n} in its environment, and {} took :{n} first with the same PORT: one PORT variable read by two servers",
            f.title,
            super::shorten(command, 50),
            describe_pid(snapshot, holder)
        );
        f.evidence.insert(
            "shared_port_variable".into(),
            json!({"value": n, "started_for": pid, "holder": holder}),
        );
        f.fix = Some(Fix::manual(
            format!("start the servers without PORT={n} in their shell: each takes its own port then"),
            vec![
                "in the terminal that runs them: Ctrl-C, `unset PORT` (PowerShell: `Remove-Item Env:PORT`), then the start command again".to_string(),
                format!("or give each its own port where it is started (this one :{port})"),
            ],
        ));
        return true;
    }
    false
}

/// The service is one of several a `concurrently` script starts, its own
/// process is gone, and a sibling of that launcher's tree listens on :N
/// with `PORT=N` in its environment: the launcher's shell had PORT, every
/// server it started read it, and this one lost the race for it (field gb
/// fb P3 c7, round 11: `PORT=4001 npm run dev`, next dev died with
/// EADDRINUSE). A start of this one alone would run beside the launcher;
/// the fix is the launcher without PORT. True when said.
fn port_taken_by_a_sibling(ctx: &Context, port: u16, f: &mut Finding) -> bool {
    if !f.evidence.contains_key("launcher") {
        return false;
    }
    let all = ctx.all_processes();
    let root = &ctx.project.root;
    let under_concurrently = |mut pid: u32| {
        for _ in 0..8 {
            let p = all.get(&pid)?;
            if p.command().contains("concurrently") {
                return Some(p.pid);
            }
            pid = p.parent?;
        }
        None
    };
    for p in all.values() {
        if !p.cwd.as_ref().is_some_and(|c| c.starts_with(root)) {
            continue;
        }
        let Some(n) = env_port(p.pid).filter(|n| *n != port) else {
            continue;
        };
        let Some(launcher) = under_concurrently(p.pid) else {
            continue;
        };
        if !listens_on(p.pid, n) {
            continue;
        }
        let Ok(snapshot) = ctx.snapshot() else {
            return false;
        };
        // The holder may be this service's own server, moved to :N by the
        // same PORT; else it is a sibling that took :N first.
        let own = ctx.project.services_on(port).any(|s| {
            [s.folder.clone(), Some(s.start_folder(root))]
                .into_iter()
                .flatten()
                .any(|d| p.cwd.as_deref() == Some(d.as_path()))
        });
        f.title = if own {
            format!(
                "{}; its server, {}, listens on :{n} instead: PORT={n} in its environment, the PORT the launcher (pid {launcher}) gives every server it starts",
                f.title,
                describe_pid(snapshot, p.pid)
            )
        } else {
            format!(
                "{}; {} listens on :{n} with PORT={n} in its environment, the PORT the launcher (pid {launcher}) gives every server it starts: this one read it too and lost :{n}",
                f.title,
                describe_pid(snapshot, p.pid)
            )
        };
        f.evidence.insert(
            "shared_port_variable".into(),
            json!({"value": n, "holder": p.pid, "launcher": launcher}),
        );
        f.fix = Some(Fix::manual(
            format!("start the launcher (pid {launcher}) without PORT={n}: each server takes its own port then"),
            vec![
                "in its terminal: Ctrl-C, `unset PORT` (PowerShell: `Remove-Item Env:PORT`), then its start command again".to_string(),
                "doctor does not start this one alone: it would run beside the launcher's".to_string(),
            ],
        ));
        return true;
    }
    false
}

fn why_nothing_listens(ctx: &Context, port: u16, f: &mut Finding, extra: &mut Vec<Finding>) {
    let root = &ctx.project.root;
    let folders: Vec<std::path::PathBuf> = ctx
        .project
        .services_on(port)
        .flat_map(|s| [Some(s.start_folder(root)), s.folder.clone()])
        .flatten()
        .collect();
    let mut started_for: Vec<Value> = Vec::new();
    // A process started for this port whose tree listens on another one:
    // (its pid, command, (that port, the listener's pid)).
    let mut moved: Option<(u32, String, (u16, u32))> = None;
    // A watcher whose app exited waits for a change to a file it watches:
    // its pid, start time, and the entry file it runs.
    let mut rerun: Option<(u32, u64, std::path::PathBuf)> = None;
    for p in ctx.all_processes().values() {
        if !p.cwd.as_ref().is_some_and(|c| c.starts_with(root)) {
            continue;
        }
        let command = p.command();
        let parsed = crate::project::commands::parse(&command);
        // Started for this port by its command line, or a watcher of the
        // service's folder whose server takes its port from the code
        // (`nodemon server.js`, `node --watch index.js`).
        let watcher = [
            "nodemon",
            "--watch",
            "watchfiles",
            "tsx watch",
            "ts-node-dev",
            "node-dev",
        ]
        .iter()
        .any(|w| command.contains(w))
            && p.cwd.as_ref().is_some_and(|c| folders.contains(c));
        // Django's autoreloader keeps its child alive after an import
        // error, watching the files it imported (manage.py among them).
        let django_reloader = parsed
            .as_ref()
            .is_some_and(|c| c.kind == "django" && c.reloads);
        // A server command that names no port serves the framework's
        // default: started for this port when that is the service's own.
        let default_here = parsed.as_ref().is_some_and(|c| {
            c.port.is_none()
                && p.cwd.as_ref().is_some_and(|cwd| folders.contains(cwd))
                && crate::frameworks::default_port(c.kind) == Some(port)
        });
        // A server of the project that listens on another port moved
        // there (this one was taken): it does not "listen nowhere".
        // (Its descendants too: nodemon's server is its grandchild, under
        // `sh -c`.)
        let listens_elsewhere = || {
            let tree = crate::platform::descendants(p.pid, 32);
            crate::platform::listeners_of(&tree).ok().and_then(|l| {
                l.iter()
                    .find(|s| {
                        s.state == crate::platform::TcpState::Listen && s.local.port() != port
                    })
                    .and_then(|s| Some((s.local.port(), *s.pids().first()?)))
            })
        };
        // The service's own dev server, whose port comes from its config:
        // alive while it restarts itself (vite on an env file's change), so
        // it is started for this port and a second copy is no repair
        // (our suite: `--fix --yes` appended to `.env.development`, vite
        // restarted, and the start round ran a second vite beside it).
        let own_dev_server = parsed.as_ref().is_some_and(|c| {
            matches!(c.kind, "vite" | "next" | "cra" | "nuxt" | "astro")
                && p.cwd.as_ref().is_some_and(|cwd| folders.contains(cwd))
                && ctx
                    .project
                    .services_on(port)
                    .any(|s| s.kind.as_deref() == Some(c.kind))
        });
        let started = parsed.as_ref().and_then(|s| s.port) == Some(port)
            || watcher
            || default_here
            || own_dev_server;
        // The service's own server started with another port on purpose
        // (`uvicorn main:app --reload --port 8001` in its folder): it runs,
        // there. A second copy on this port is no repair (field gd P1 H:
        // `--fix --yes` started one beside it).
        let same_server_elsewhere = parsed.as_ref().is_some_and(|c| {
            c.port.is_some_and(|q| q != port)
                && p.cwd.as_ref().is_some_and(|cwd| folders.contains(cwd))
                && ctx.project.services_on(port).any(|s| {
                    s.kind.as_deref() == Some(c.kind)
                        || (s.is_python() && PYTHON_SERVERS.contains(&c.kind))
                })
        });
        // Every process of a tree that listens elsewhere is out of "listens
        // nowhere": `sh -c nodemon`, nodemon and its node child each are
        // started for the port (field gb c6, gc P3 c2, round 9: nodemon
        // itself was called "listens nowhere" and touched).
        if started || same_server_elsewhere {
            if let Some(there) = listens_elsewhere() {
                if moved.is_none() {
                    moved = Some((p.pid, command.clone(), there));
                }
                continue;
            }
        }
        if started && moved.as_ref().is_none_or(|(pid, _, _)| *pid != p.pid) {
            started_for.push(json!({"pid": p.pid, "command": command}));
            if (watcher || django_reloader) && rerun.is_none() && !command.starts_with("sh -c") {
                rerun = super::watched_entry(p).map(|file| (p.pid, p.start_time, file));
            }
        }
    }
    if let (None, Some((pid, command, (there, listener))), false) = (
        started_for.first(),
        &moved,
        f.evidence.contains_key("moved_to"),
    ) {
        // Its server runs, on another port: a PORT in its environment
        // (`PORT=3001 npm run dev`), or a flag. Restarting it there, or
        // pointing the callers at it, is the user's choice.
        let env_port = crate::platform::env_var_of(*listener, "PORT").flatten();
        let why = env_port
            .as_deref()
            .map_or(String::new(), |v| format!(", PORT={v} in its environment"));
        f.title = format!(
            "{}; pid {pid} ({}) was started to serve it and its server, pid {listener}, listens on :{there} instead{why}",
            f.title,
            super::shorten(command, 50)
        );
        f.evidence.insert(
            "listening_elsewhere".into(),
            json!({"pid": listener, "port": there, "env_port": env_port}),
        );
        f.fix = Some(Fix::manual(
            format!("make the server and its callers agree on one port: :{port} or :{there}"),
            vec![
                format!(
                    "restart it so that it listens on :{port}{}",
                    if env_port.is_some() {
                        " (without PORT in the environment of the shell that starts it)"
                    } else {
                        ""
                    }
                ),
                format!("or point what calls :{port} at :{there}"),
            ],
        ));
        return;
    }
    if shared_port_variable(ctx, port, &started_for, f) {
        return;
    }
    if started_for.is_empty() && moved.is_none() && port_taken_by_a_sibling(ctx, port, f) {
        return;
    }
    if let Some(first) = started_for.first() {
        f.title = format!(
            "{}; pid {} ({}) was started to serve it and listens nowhere",
            f.title,
            first["pid"],
            super::shorten(first["command"].as_str().unwrap_or_default(), 50)
        );
        f.explanation = "A process of the project was started to serve this port and is alive, but no socket listens there: its server failed at start-up (a reloader stays up after its worker dies at import and waits for a file change). The reason is in the findings about the app itself, typically its import (PY003).".into();
        f.evidence
            .insert("started_for_it".into(), json!(started_for));
        // A second copy would take the port from the one the user runs as
        // soon as it recovers: the fix is what it failed on, not a start.
        if f.fix
            .as_ref()
            .is_some_and(|x| matches!(x.action, Some(crate::finding::FixAction::Start { .. })))
        {
            f.fix = Some(match &rerun {
                // A file's modification time changed is a change to the
                // watcher: it runs the app again, the same process tree the
                // user runs (a port taken at its start is free by now, or
                // the app fails as before and nothing is worse).
                Some((pid, start, file)) => {
                    let shown = crate::project::lexical(file)
                        .strip_prefix(root)
                        .map(|r| r.display().to_string())
                        .unwrap_or_else(|_| crate::redact::home(file));
                    Fix {
                        title: format!(
                            "pid {pid} is alive and waits for a change: touch {shown} (its modification time only) so that it runs the app again; if the app fails again, its output says why"
                        ),
                        safety: crate::finding::Safety::Confirm,
                        commands: vec![format!("touch {}", crate::shell::quote_arg(&shown))],
                        action: Some(crate::finding::FixAction::Touch {
                            path: file.clone(),
                            watcher: *pid,
                            watcher_start: *start,
                            port,
                        }),
                    }
                }
                None => Fix::manual(
                    format!(
                        "pid {} is alive and waits for a change: fix what it failed on (its own output and the findings below say what), save, and it restarts; doctor does not start a second copy",
                        first["pid"]
                    ),
                    vec![format!(
                        "see the output of pid {} ({}) in the terminal that runs it",
                        first["pid"],
                        super::shorten(first["command"].as_str().unwrap_or_default(), 50)
                    )],
                ),
            });
        }
    }
    if let Some(refused) = crate::net::bind_probe(port) {
        f.evidence
            .insert("bind_probe".into(), json!(refused.to_string()));
        extra.push(cannot_bind(f, port, &refused));
    }
}

/// PORT010: nothing listens on the expected port, and the port cannot be
/// bound either: the service could not start there whatever it does.
fn cannot_bind(port001: &Finding, port: u16, refused: &crate::net::BindRefused) -> Finding {
    let binders: Vec<&Value> = port001
        .evidence
        .get("bound_not_listening")
        .and_then(Value::as_array)
        .map(|b| b.iter().collect())
        .unwrap_or_default();
    let (why, fix): (String, Vec<String>) = match refused.kind {
        // The holder is in the table: bound, never listening.
        crate::net::BindError::InUse if !binders.is_empty() => (
            format!(
                "{} bound it and does not listen: a server that stopped between bind() and listen(), or a program that reserves the port",
                binders
                    .iter()
                    .filter_map(|b| b["process"].as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            binders
                .iter()
                .filter_map(|b| b["pid"].as_u64())
                .flat_map(|pid| super::terminate_commands(pid as u32))
                .chain(std::iter::once(
                    "or run the service on another port and point the project there".into(),
                ))
                .collect(),
        ),
        crate::net::BindError::InUse => (
            "it is in use by a socket doctor cannot see (another network namespace or container, or a socket that is bound but not listening)".into(),
            vec![
                format!("ss -tanp 'sport = :{port}' as root, and `docker ps --filter publish={port}`"),
                "or run the service on another port and point the project there".into(),
            ],
        ),
        crate::net::BindError::Denied => (
            if let Some(r) = crate::platform::environment::reserved_range_of(
                &crate::platform::environment::reserved_port_ranges(std::time::Duration::from_secs(2)),
                port,
            ) {
                format!(
                    "it is inside Windows' reserved range {}-{}{} (Hyper-V, WinNAT or Docker Desktop reserve such ranges, and they move between reboots)",
                    r.start,
                    r.end,
                    if r.administered { ", an administered exclusion" } else { "" }
                )
            } else if port < 1024 {
                "ports below 1024 need privileges (root, or CAP_NET_BIND_SERVICE)".into()
            } else {
                "the system forbids it (on Windows: a port inside a range Hyper-V/WinNAT reserved; `netsh int ipv4 show excludedportrange protocol=tcp`)".into()
            },
            vec!["run the service on a port above 1024 (or outside the reserved ranges) and point the project there".into()],
        ),
        crate::net::BindError::Other => (
            "the system refuses it".into(),
            vec!["run the service on another port and point the project there".into()],
        ),
    };
    Finding::new(
        "PORT010",
        ID,
        format!("port {port} cannot be bound: {} ({why})", refused.error),
    )
    .evidence("port", port)
    .evidence("bind", format!("127.0.0.1:{port}: {}", refused.error))
    .evidence(
        "expected_by",
        port001
            .evidence
            .get("expected_by")
            .cloned()
            .unwrap_or_default(),
    )
    .with_fix(Fix::manual(
        format!("make port {port} bindable, or move the service"),
        fix,
    ))
}

fn only_leftovers(port: u16, states: &BTreeMap<&str, usize>) -> Finding {
    let total: usize = states.values().sum();
    let names: Vec<&str> = states.keys().copied().collect();
    Finding::new(
        "PORT004",
        ID,
        format!(
            "only {} sockets remain on port {port} ({total}); nothing listens",
            names.join("/")
        ),
    )
    .evidence("port", port)
    .evidence("states", json!(states))
}

fn hidden_owner(port: u16, hidden: &[&&Socket]) -> Finding {
    let uids: BTreeSet<u32> = hidden.iter().filter_map(|s| s.uid).collect();
    let whose = match uids.iter().next() {
        Some(uid) => format!(" (socket owned by uid {uid})"),
        None => String::new(),
    };
    let see = if cfg!(windows) {
        format!("netstat -ano | findstr :{port}   (in an elevated prompt)")
    } else if cfg!(target_os = "macos") {
        format!("sudo lsof -nP -iTCP:{port}")
    } else {
        format!("sudo ss -tlnp 'sport = :{port}'")
    };
    Finding::new(
        "PORT006",
        ID,
        format!("port {port} is held by a process doctor cannot see{whose}; the port is not free"),
    )
    .evidence("port", port)
    .evidence(
        "listening",
        hidden
            .iter()
            .map(|s| s.local.to_string())
            .collect::<Vec<_>>(),
    )
    .evidence("uids", uids.into_iter().collect::<Vec<_>>())
    .with_fix(Fix::manual(
        "look with elevated rights",
        vec![see, format!("sudo doctor port {port}")],
    ))
}

/// A supervisor and its workers share the listening socket by design; only
/// holders that are not one parent-child tree are worth a warning.
fn is_one_process_tree(snapshot: &Snapshot, holders: &BTreeSet<u32>) -> bool {
    // A holder whose process is already gone (a PostgreSQL backend that
    // forked with the listening socket and exited before it was read) or
    // whose parent is another holder belongs to the same tree.
    let roots = holders
        .iter()
        .filter(|pid| {
            snapshot.process(**pid).is_some_and(|p| {
                p.parent.is_none_or(|parent| !holders.contains(&parent))
                    && platform_parent(p.pid).is_none_or(|parent| !holders.contains(&parent))
            })
        })
        .count();
    roots <= 1
}

/// The parent as the OS says it now (the snapshot's may predate a fork).
fn platform_parent(pid: u32) -> Option<u32> {
    crate::platform::process_info(pid).and_then(|p| p.parent)
}

fn shared_listener(snapshot: &Snapshot, port: u16, holders: &BTreeSet<u32>) -> Finding {
    let names: Vec<String> = holders.iter().map(|p| describe_pid(snapshot, *p)).collect();
    Finding::new(
        "PORT007",
        ID,
        format!(
            "{} processes listen on port {port}: {}",
            holders.len(),
            names.join(", ")
        ),
    )
    .evidence("port", port)
    .evidence(
        "processes",
        holders
            .iter()
            .map(|pid| {
                snapshot
                    .process(*pid)
                    .map_or(json!({"pid": pid}), |p| process_evidence(snapshot, p))
            })
            .collect::<Vec<_>>(),
    )
}

/// Whether `p` is (part of) the project's service: `Some(false)` only with
/// evidence that it is something else; `None` when doctor cannot tell.
pub(crate) fn belongs_to(p: &ProcessInfo, service: &Service, project: &Project) -> Option<bool> {
    if super::is_forwarder(p) {
        return None;
    }
    let name = p.name.to_ascii_lowercase();
    if let Some(kind) = &service.kind {
        let daemon = match kind.as_str() {
            "postgres" => "postgres",
            "redis" => "redis",
            "mysql" => "mysql",
            "mongodb" => "mongo",
            _ => "",
        };
        if !daemon.is_empty() {
            let cmd = p.command().to_ascii_lowercase();
            return Some(
                name.contains(daemon)
                    || cmd.contains(daemon)
                    || (kind == "mysql" && name.contains("mariadb")),
            );
        }
    }
    let under = |path: &Path| {
        path.starts_with(&project.root)
            || service
                .folder
                .as_deref()
                .is_some_and(|f| path.starts_with(f))
    };
    let cwd = p.cwd.as_deref()?;
    if under(cwd) {
        // In the project's folder is not enough: its command line must be
        // one that starts a server (`python -c '…socket…'` started there is
        // a stranger on the port), or it is the server a framework started
        // under another title (`next-server (v15)`, whose command line holds
        // no path), or its parent in the project starts one (a launcher's
        // or reloader's child).
        return Some(
            starts_a_server(p, service)
                || crate::frameworks::by_title(p).is_some_and(|f| same_runtime(f, service))
                || started_by_project_server(p, service, project)
                || runs_the_projects_env(p, project),
        );
    }
    // `python /home/me/shop/backend/main.py` started from elsewhere. The
    // interpreter alone proves nothing: `/home/me/shop/.venv/bin/python
    // main.py` run in an old checkout serves that checkout's code.
    let tooling = |arg: &str| {
        [
            "/.venv/",
            "/venv/",
            "/env/bin/",
            "/node_modules/",
            "\\.venv\\",
            "\\venv\\",
            "\\node_modules\\",
        ]
        .iter()
        .any(|d| arg.contains(d))
    };
    if p.cmdline
        .iter()
        .any(|arg| Path::new(arg).is_absolute() && under(Path::new(arg)) && !tooling(arg))
    {
        return Some(true);
    }
    Some(false)
}

/// Whether `p` runs the project's own environment's interpreter (a venv's
/// python inside the project): a reloader's orphaned worker
/// (`python -c "from multiprocessing.spawn import spawn_main …"`) is the
/// project's server though its command line starts nothing.
fn runs_the_projects_env(p: &ProcessInfo, project: &Project) -> bool {
    let first = p.cmdline.first().map(Path::new);
    [p.exe.as_deref(), first].into_iter().flatten().any(|path| {
        let path = if path.is_relative() {
            p.cwd
                .as_deref()
                .map_or(path.to_path_buf(), |c| c.join(path))
        } else {
            path.to_path_buf()
        };
        path.starts_with(&project.root)
            && path
                .components()
                .any(|c| matches!(c.as_os_str().to_str(), Some(".venv" | "venv" | "env")))
    })
}

fn same_runtime(framework: &crate::frameworks::Framework, service: &Service) -> bool {
    let runtime = |k: &str| match k {
        "fastapi" | "flask" | "django" | "python" | "gunicorn" => {
            crate::frameworks::Runtime::Python
        }
        _ => crate::frameworks::Runtime::Node,
    };
    service
        .kind
        .as_deref()
        .is_none_or(|k| runtime(k) == framework.runtime)
}

/// Whether an ancestor of `p` (up to three levels: npm, `sh -c`, the CLI),
/// itself in the project, starts a server of the service's kind.
fn started_by_project_server(p: &ProcessInfo, service: &Service, project: &Project) -> bool {
    let all = project.all_processes();
    let mut parent = p.parent;
    for _ in 0..3 {
        let Some(pp) = parent.and_then(|pid| all.get(&pid)) else {
            return false;
        };
        if pp
            .cwd
            .as_deref()
            .is_some_and(|c| c.starts_with(&project.root))
            && starts_a_server(pp, service)
        {
            return true;
        }
        parent = pp.parent;
    }
    false
}

/// Whether a process's command line is a server start, of the service's
/// kind when both are known: `uvicorn app.main:app`, `flask run`,
/// `node index.js`, `python manage.py runserver`, a dev server's CLI.
fn starts_a_server(p: &ProcessInfo, service: &Service) -> bool {
    // A service known only by a URL, or declared in doctor.toml without a
    // discovered start: nothing says how it is started, so what runs from
    // the project's folder is taken as it.
    if service.kind.is_none() || service.declared {
        return true;
    }
    let Some(server) = crate::project::commands::parse(&p.command()) else {
        return false;
    };
    let family = |k: &str| match k {
        "fastapi" | "flask" | "django" | "python" => "python",
        _ => "node",
    };
    service
        .kind
        .as_deref()
        .is_some_and(|k| family(k) == family(server.kind))
}

/// A system program known to hold ports developers want, with the right fix.
pub struct Squatter {
    /// The executable's name (or the program its command line runs).
    pub program: &'static str,
    /// The ports it is known to hold; empty: any.
    pub ports: &'static [u16],
    /// Windows: a fixed pid (System is 4).
    pub pid: Option<u32>,
    pub what: &'static str,
    pub fix: &'static [&'static str],
}

/// Data, not code: a new squatter is a new row.
pub const SQUATTERS: &[Squatter] = &[
    Squatter {
        program: "ControlCenter",
        ports: &[5000, 7000],
        pid: None,
        what: "macOS's AirPlay Receiver",
        fix: &[
            "turn off AirPlay Receiver: System Settings > General > AirDrop & Handoff",
            "or run the service on another port (flask run --port 5001) and point the project there",
        ],
    },
    Squatter {
        program: "System",
        ports: &[80, 443],
        pid: Some(4),
        what: "Windows' HTTP.sys (pid 4, System: IIS, WinRM, Skype or another http.sys user)",
        fix: &[
            "netsh http show servicestate shows who registered the URL; stop that service (W3SVC for IIS)",
            "or run the service on another port and point the project there",
        ],
    },
];

/// The known squatter `p` is, if any, on `port`.
pub fn squatter(p: &ProcessInfo, port: u16) -> Option<&'static Squatter> {
    SQUATTERS.iter().find(|s| {
        let named = p.name == s.program
            || p.cmdline
                .first()
                .is_some_and(|w| w.rsplit(['/', '\\']).next() == Some(s.program));
        named
            && s.pid.is_none_or(|pid| pid == p.pid)
            && (s.ports.is_empty() || s.ports.contains(&port))
    })
}

fn held_by_squatter(
    snapshot: &Snapshot,
    service: &Service,
    p: &ProcessInfo,
    known: &Squatter,
) -> Finding {
    let port = service.port;
    Finding::new(
        "PORT009",
        ID,
        format!(
            "port {port} is held by {} ({}), not by {} (expected by {})",
            known.what,
            describe_pid(snapshot, p.pid),
            service.name,
            service.source
        ),
    )
    .evidence("port", port)
    .evidence("service", service.name.clone())
    .evidence("holder", process_evidence(snapshot, p))
    .evidence("known_as", known.what)
    .with_fix(Fix::manual(
        format!("free port {port} from {}, or move the service", known.what),
        known.fix.iter().map(|s| s.to_string()).collect(),
    ))
}

fn held_by_other(
    root: &std::path::Path,
    snapshot: &Snapshot,
    service: &Service,
    port: u16,
    foreign: &[&ProcessInfo],
    states: &BTreeMap<&str, usize>,
) -> Finding {
    let holder = foreign[0];
    let mut f = Finding::new(
        "PORT002",
        ID,
        format!(
            "port {port} is held by {}, not by {} (expected by {})",
            describe_pid(snapshot, holder.pid),
            service.name,
            service.source
        ),
    )
    .explain(format!(
        "{} {}",
        crate::codes::lookup("PORT002").map_or("", |c| c.summary()),
        match holder.cwd.as_deref() {
            Some(cwd) if cwd.starts_with(root) => format!(
                "It runs in the project's folder, but its command line starts no server of {}'s kind.",
                service.name
            ),
            Some(_) => format!(
                "Its working folder is outside the project, so it is not this project's {}.",
                service.name
            ),
            None => format!("doctor cannot see its working folder; its command line is not {}'s.", service.name),
        }
    ))
    .evidence("port", port)
    .evidence(
        "expected_by",
        json!({"service": service.name, "source": service.source}),
    )
    .evidence(
        "holders",
        foreign
            .iter()
            .map(|p| process_evidence(snapshot, p))
            .collect::<Vec<_>>(),
    )
    .evidence("states", json!(states));
    // One holder, or one process tree (a reloader and its worker from an
    // old checkout): its root is ended, its children with it.
    let pids: Vec<u32> = foreign.iter().map(|p| p.pid).collect();
    let roots: Vec<&&ProcessInfo> = foreign
        .iter()
        .filter(|p| p.parent.is_none_or(|pp| !pids.contains(&pp)))
        .collect();
    if let [tree_root] = roots[..] {
        let mut fix = terminate_fix(tree_root);
        // The project's own server moved to another port because of it.
        if let Some(moved) = service
            .other_ports
            .iter()
            .find(|c| c.source.starts_with("running pid"))
        {
            f = f.evidence(
                "moved_to",
                json!({"port": moved.port, "source": moved.source}),
            );
            fix.commands.push(format!(
                "then restart {} (it runs on :{} now, from {}) so that it takes :{port}",
                service.name, moved.port, moved.source
            ));
        }
        f = f.with_fix(fix);
    }
    f
}

/// What the URL's host resolves to, in resolver order (the order clients try).
fn resolve(host: &str, port: u16) -> Vec<IpAddr> {
    let mut ips: Vec<IpAddr> = crate::net::resolve(host, port)
        .map(|addrs| addrs.into_iter().map(|a| a.ip()).collect())
        .unwrap_or_default();
    ips.dedup();
    // Never let a broken resolver make localhost "nothing".
    if ips.is_empty() && host == "localhost" {
        ips = vec![LOOPBACK_V4, LOOPBACK_V6];
    }
    ips
}

/// Whether a socket listening on `listen` accepts a client connecting to `client`.
pub fn covers(listen: IpAddr, client: IpAddr) -> bool {
    let (listen, client) = (canonical_ip(listen), canonical_ip(client));
    match listen {
        // `::` is dual-stack unless IPV6_V6ONLY, which /proc does not show.
        IpAddr::V6(v6) if v6.is_unspecified() => true,
        IpAddr::V4(v4) if v4.is_unspecified() => client.is_ipv4(),
        _ => listen == client,
    }
}

fn address_mismatch(
    host_name: &str,
    source: &str,
    port: u16,
    listeners: &[&Socket],
    server_cmd: &str,
    url_written: bool,
) -> Option<Finding> {
    let resolved = resolve(host_name, port);
    if resolved.is_empty() {
        return None;
    }
    let refused: Vec<IpAddr> = resolved
        .iter()
        .copied()
        .filter(|ip| !listeners.iter().any(|l| covers(l.local.ip(), *ip)))
        .collect();
    if refused.is_empty() {
        return None;
    }
    let listening: BTreeSet<String> = listeners.iter().map(|l| l.local.ip().to_string()).collect();
    let listening: Vec<String> = listening.into_iter().collect();
    let refused_text: Vec<String> = refused.iter().map(|ip| ip.to_string()).collect();
    let how = if refused.len() == resolved.len() {
        format!("every client that uses {source} is refused")
    } else {
        format!(
            "clients that try {} first are refused",
            refused_text.join(", ")
        )
    };
    let host = display_host(host_name);
    // The address to bind: the one the clients ask. A client that asks
    // ::1 of a server on 127.0.0.1 is served by binding both (`::`), never
    // ::1 alone, which would refuse the IPv4 clients instead.
    let bind_to = if refused.iter().any(IpAddr::is_ipv6) {
        "::".to_string()
    } else if refused.iter().all(|ip| ip.is_loopback()) {
        refused_text[0].clone()
    } else {
        "0.0.0.0".to_string()
    };
    // The URL is rewritten to an address the server listens on, never a
    // wildcard (`0.0.0.0` is no address a client connects to).
    let url_address = listeners
        .iter()
        .map(|l| l.local.ip())
        .map(|ip| match ip {
            IpAddr::V4(v4) if v4.is_unspecified() => LOOPBACK_V4,
            IpAddr::V6(v6) if v6.is_unspecified() => LOOPBACK_V6,
            other => other,
        })
        .min_by_key(|ip| ip.is_ipv6())
        .map(|ip| ip.to_string())
        .unwrap_or_else(|| listening[0].clone());
    let bind_step = bind_advice(server_cmd, &bind_to, port);
    Some(
        Finding::new(
            "PORT003",
            ID,
            format!(
                "port {port} listens on {} only, but {host} ({}) means {}: {how}",
                listening.join(", "),
                source,
                resolved
                    .iter()
                    .map(|ip| ip.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
        .evidence("port", port)
        .evidence("host", host_name.to_string())
        .evidence(
            "resolved",
            resolved.iter().map(|ip| ip.to_string()).collect::<Vec<_>>(),
        )
        .evidence("listening_on", listening.clone())
        .evidence("refused", refused_text)
        .evidence("source", source.to_string())
        .with_fix(Fix::manual(
            "make the listener and the URL agree on an address",
            {
                let mut steps = vec![bind_step];
                // A compose `ports:` line is a container mapping, not a URL
                // anyone writes an address into (field ga D16).
                let file = source.rsplit_once(':').map_or(source, |(f, _)| f);
                let compose = file.rsplit('/').next().is_some_and(|n| {
                    n.contains("compose") && (n.ends_with(".yml") || n.ends_with(".yaml"))
                });
                // A running process is no file to write a URL into, nor a
                // line that holds no URL.
                if !compose && url_written {
                    steps.push(format!(
                        "or write the URL in {} with the address it listens on: {}",
                        source,
                        url_host(&url_address, port)
                    ));
                }
                steps
            },
        ))
        // One of the addresses the name resolves to is served: browsers,
        // curl, Python and Node 20+ try the next address when the first
        // refuses. Not conclusive on its own (info); a probe that is
        // refused on that address raises it (it explains the refusal).
        .severity(if refused.len() < resolved.len() {
            crate::finding::Severity::Info
        } else {
            crate::finding::Severity::Warning
        }),
    )
}

/// How the server at hand is told to bind `addr`, in its own flags: a
/// `--host` that Django's runserver rejects is no fix.
fn bind_advice(server_cmd: &str, addr: &str, port: u16) -> String {
    let words: Vec<&str> = server_cmd.split_whitespace().collect();
    let has = |w: &str| words.iter().any(|x| x.ends_with(w));
    let bracketed = display_host(addr);
    if words.contains(&"runserver") {
        let ipv6 = if addr.contains(':') { "-6 " } else { "" };
        let dropped = if words.contains(&"-6") || words.contains(&"--ipv6") {
            " (without `-6`)"
        } else {
            ""
        };
        let dropped = if addr.contains(':') { "" } else { dropped };
        return format!(
            "start runserver bound to {bracketed}{dropped}: `python manage.py runserver {ipv6}{bracketed}:{port}`"
        );
    }
    if has("gunicorn") {
        return format!("start gunicorn bound to {bracketed}: `--bind {bracketed}:{port}`");
    }
    if has("next") || words.iter().any(|w| w.starts_with("next-server")) {
        return format!("start next bound to {addr}: `next dev -H {addr} -p {port}`");
    }
    for tool in ["uvicorn", "fastapi", "flask", "vite", "hypercorn"] {
        if has(tool) {
            return format!("start {tool} bound to {addr}: `--host {addr}`");
        }
    }
    format!("start the server bound to {addr} (its host setting, or the host of its listen() call)")
}

fn display_host(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

fn url_host(ip: &str, port: u16) -> String {
    format!("http://{}:{port}", display_host(ip))
}

fn close_wait_piles(snapshot: &Snapshot, port: u16, touching: &[&Socket]) -> Vec<Finding> {
    let mut per_pid: BTreeMap<u32, usize> = BTreeMap::new();
    for s in touching.iter().filter(|s| s.state == TcpState::CloseWait) {
        for pid in s.pids() {
            *per_pid.entry(*pid).or_insert(0) += 1;
        }
    }
    per_pid
        .into_iter()
        .filter(|(_, n)| *n >= CLOSE_WAIT_PILE)
        .map(|(pid, n)| {
            let process: Value = snapshot
                .process(pid)
                .map_or(json!({"pid": pid}), |p| process_evidence(snapshot, p));
            Finding::new(
                "PORT005",
                ID,
                format!(
                    "{} holds {n} CLOSE_WAIT sockets on port {port}",
                    describe_pid(snapshot, pid)
                ),
            )
            .evidence("port", port)
            .evidence("close_wait", n)
            .evidence("process", process)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn address_coverage() {
        assert!(covers(ip("0.0.0.0"), ip("127.0.0.1")));
        assert!(!covers(ip("0.0.0.0"), ip("::1")));
        assert!(covers(ip("::"), ip("127.0.0.1")));
        assert!(covers(ip("::ffff:127.0.0.1"), ip("127.0.0.1")));
        assert!(!covers(ip("127.0.0.1"), ip("::1")));
        assert!(!covers(ip("::1"), ip("127.0.0.1")));
        assert!(covers(ip("::1"), ip("::1")));
    }
}

#[cfg(test)]
mod squatter_tests {
    use super::*;

    fn process(pid: u32, name: &str) -> ProcessInfo {
        ProcessInfo::sample(pid, &[name])
    }

    #[test]
    fn known_squatters_by_name_port_and_pid() {
        assert!(squatter(&process(700, "ControlCenter"), 5000).is_some());
        assert!(squatter(&process(700, "ControlCenter"), 8000).is_none());
        assert!(squatter(&process(4, "System"), 443).is_some());
        // Another program called System is not Windows' pid 4.
        assert!(squatter(&process(4242, "System"), 80).is_none());
    }
}
