//! PROC001–PROC007: the servers that are *there* but wrong: stopped, not
//! accepting, orphaned, running old code, running twice, named by stale PID
//! files, or a reloader whose worker is gone.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use serde_json::json;

use super::{describe_pid, process_evidence, terminate_fix};
use crate::engine::{Check, CheckError, Context, Snapshot};
use crate::finding::{Finding, Fix, FixAction, Safety};
use crate::platform::{self, PortSet, ProcState, ProcessInfo, TcpState};
use crate::project::{commands, Project};
use crate::timefmt;

pub struct Processes;

const ID: &str = "processes";
/// How long to watch a non-empty accept queue before calling it stuck.
const QUEUE_RESAMPLE: Duration = Duration::from_millis(250);
/// Where start/stop scripts keep PID files (relative to the project root).
const PID_DIRS: &[&str] = &["", ".pids", "run", "tmp/pids", "pids"];

impl Check for Processes {
    fn id(&self) -> &'static str {
        ID
    }
    fn description(&self) -> &'static str {
        "listeners that are stopped, stuck, orphaned, stale or duplicated; stale PID files; reloaders without a worker"
    }
    fn codes(&self) -> &'static [&'static str] {
        &[
            "PROC001", "PROC002", "PROC003", "PROC004", "PROC005", "PROC006", "PROC007", "PROC008",
            "PROC009",
        ]
    }
    fn run(&self, ctx: &Context) -> Result<Vec<Finding>, CheckError> {
        let snapshot = ctx.snapshot()?;
        let mut out = Vec::new();
        let mut copies_seen = BTreeSet::new();
        for port in ctx.project.ports() {
            let holders = snapshot.listener_pids(port);
            if holders.is_empty() {
                continue;
            }
            let procs: Vec<&ProcessInfo> = holders
                .iter()
                .filter_map(|p| snapshot.process(*p))
                .collect();
            for p in &procs {
                if p.state == ProcState::Stopped {
                    // A reloader stopped while its worker, which shares the
                    // socket, runs on: connections are answered; edits are
                    // not picked up (field gd P3-d7, werkzeug's reloader).
                    let serving = procs.iter().find(|c| {
                        c.state != ProcState::Stopped
                            && c.pid != p.pid
                            && descends_from(ctx.all_processes(), c, p.pid)
                    });
                    out.push(stopped(snapshot, p, port, serving.map(|c| c.pid)));
                }
                if p.state == ProcState::Zombie {
                    out.push(defunct_holder(snapshot, p, port));
                }
            }
            if !procs
                .iter()
                .any(|p| matches!(p.state, ProcState::Stopped | ProcState::Zombie))
            {
                out.extend(stuck_queue(snapshot, port));
            }
            // The root of the holders' tree: a reloader or the server itself.
            // A container engine's or tunnel's forwarder is not the app: its
            // age, parent and copies say nothing about the service (PORT008
            // speaks for it).
            let roots: Vec<&ProcessInfo> = procs
                .iter()
                .copied()
                .filter(|p| p.parent.is_none_or(|pp| !holders.contains(&pp)))
                .filter(|p| !super::is_forwarder(p))
                .collect();
            for root in &roots {
                out.extend(folder_gone(ctx, snapshot, root, &procs, port));
                out.extend(output_nowhere(ctx, snapshot, root, &procs, port));
                out.extend(
                    orphan(
                        snapshot,
                        ctx.project.all_processes(),
                        &ctx.project.root,
                        root,
                        port,
                    )
                    .map(|f| with_moved_copy(ctx, f, root, port)),
                );
                out.extend(reloader_without_worker(
                    snapshot,
                    root,
                    &holders,
                    port,
                    ctx.config.timeout,
                ));
                out.extend(stale_code(ctx, snapshot, root, &procs, port));
                out.extend(copies(ctx, root, port, &mut copies_seen));
            }
        }
        out.extend(pid_files(&ctx.project));
        Ok(out)
    }
}

/// Whether `p` is a child, grandchild or great-grandchild of `ancestor`.
fn descends_from(
    all: &std::collections::HashMap<u32, ProcessInfo>,
    p: &ProcessInfo,
    ancestor: u32,
) -> bool {
    let mut at = p.parent;
    for _ in 0..3 {
        match at {
            Some(pid) if pid == ancestor => return true,
            Some(pid) => at = all.get(&pid).and_then(|q| q.parent),
            None => return false,
        }
    }
    false
}

fn stopped(snapshot: &Snapshot, p: &ProcessInfo, port: u16, serving: Option<u32>) -> Finding {
    let commands = if cfg!(windows) {
        vec![]
    } else {
        vec![format!("kill -CONT {}", p.pid)]
    };
    let what = match serving {
        Some(worker) => format!(
            "its worker pid {worker} answers on the port, but a stopped reloader restarts nothing: an edit leaves the old code running"
        ),
        None => "connections are accepted and never answered".to_string(),
    };
    Finding::new(
        "PROC001",
        ID,
        format!(
            "{} holding port {port} is stopped (state T): {what}",
            describe_pid(snapshot, p.pid)
        ),
    )
    .evidence("serving_child", serving)
    // Answered, but not reloading: a warning, the hang is not there.
    .severity(if serving.is_some() {
        crate::finding::Severity::Warning
    } else {
        crate::finding::Severity::Error
    })
    .evidence("port", port)
    .evidence("process", process_evidence(snapshot, p))
    .with_fix(Fix {
        title: format!(
            "let pid {} run again (SIGCONT); or end it and start it anew",
            p.pid
        ),
        safety: Safety::Safe,
        commands,
        action: Some(FixAction::Continue {
            pid: p.pid,
            start_time: p.start_time,
        }),
    })
}

fn defunct_holder(snapshot: &Snapshot, p: &ProcessInfo, port: u16) -> Finding {
    Finding::new(
        "PROC002",
        ID,
        format!(
            "port {port} is held by defunct pid {}: its main thread exited, another thread still holds the socket",
            p.pid
        ),
    )
    .evidence("port", port)
    .evidence("process", process_evidence(snapshot, p))
    .evidence("seen_via", "/proc/PID/task/*/fd")
    .with_fix(terminate_fix(p))
}

/// A LISTEN socket whose accept queue is non-empty twice, `QUEUE_RESAMPLE`
/// apart, without draining: its owner does not call accept().
fn stuck_queue(snapshot: &Snapshot, port: u16) -> Vec<Finding> {
    let queued: Vec<_> = snapshot
        .on_port(port)
        .filter(|s| s.state == TcpState::Listen && s.accept_queue.unwrap_or(0) > 0)
        .collect();
    if queued.is_empty() {
        return Vec::new();
    }
    std::thread::sleep(QUEUE_RESAMPLE);
    let again = platform::sockets(&PortSet([port].into())).unwrap_or_default();
    queued
        .into_iter()
        .filter_map(|first| {
            let now = again
                .iter()
                .find(|s| s.state == TcpState::Listen && s.local == first.local)?
                .accept_queue?;
            let before = first.accept_queue?;
            (now > 0 && now >= before).then(|| {
                let owner = first.pids().first().copied();
                let mut f = Finding::new(
                    "PROC002",
                    ID,
                    format!(
                        "{} on {} is not accepting: {now} connection{} wait in its accept queue",
                        owner.map_or("the listener".into(), |p| describe_pid(snapshot, p)),
                        first.local,
                        if now == 1 { "" } else { "s" }
                    ),
                )
                .evidence("port", port)
                .evidence("listening", first.local.to_string())
                .evidence("accept_queue", json!({"first": before, "after_ms": QUEUE_RESAMPLE.as_millis() as u64, "then": now}));
                if let Some(p) = owner.and_then(|p| snapshot.process(p)) {
                    f = f.evidence("process", process_evidence(snapshot, p));
                    let compiling = process_kind(p)
                        .and_then(crate::frameworks::by_kind)
                        .is_some_and(|fw| fw.compiles_on_demand)
                        && p.state != ProcState::Stopped;
                    if compiling {
                        // `next dev` compiling a page keeps its event loop
                        // busy: connections wait, then are served.
                        f.title = format!(
                            "{} on {} is busy (compiling on demand): {now} connection{} wait in its accept queue",
                            describe_pid(snapshot, p.pid),
                            first.local,
                            if now == 1 { "" } else { "s" }
                        );
                        f = f.severity(crate::finding::Severity::Info);
                    } else {
                        f = f.with_fix(terminate_fix(p));
                    }
                }
                f
            })
        })
        .collect()
}

/// A child shares its parent's session or leads its own; any other session
/// means the process was started by someone else and handed to this parent.
fn orphan(
    snapshot: &Snapshot,
    all: &HashMap<u32, ProcessInfo>,
    project_root: &Path,
    p: &ProcessInfo,
    port: u16,
) -> Option<Finding> {
    let parent_pid = p.parent?;
    let parent = snapshot.process(parent_pid);
    let reparented = match parent {
        None => true, // the parent pid no longer exists (Windows does not reparent)
        Some(_) => {
            let own = platform::process_extras(p.pid).session?;
            let parents = platform::process_extras(parent_pid).session?;
            own != p.pid && own != parents
        }
    };
    if !reparented {
        // Its own parent is there, but higher up the launcher is gone (the
        // `sh -c next dev` of a killed `concurrently`): the whole tree is
        // orphaned, and ending it means ending from that ancestor down.
        let top = super::orphaned_ancestor(all, p, project_root)?;
        let a = all.get(&top)?;
        // The top is the user's own launcher, alive (`nohup bash start.sh &`
        // from a shell that then exited): the tree was started detached on
        // purpose and runs as its script meant. Ending it ends the user's
        // working server (field gd P1 D3-o, round 9). Said as info; a stale
        // or second copy is PROC004's or PROC005's to say.
        let ancestor = json!({"pid": top, "command": a.command()});
        let found = |title: String| {
            Finding::new("PROC003", ID, title)
                .evidence("port", port)
                .evidence("process", process_evidence(snapshot, p))
        };
        let (who, launcher) = (
            describe_pid(snapshot, p.pid),
            super::shorten(&a.command(), 40),
        );
        if is_launcher_script(a) {
            return Some(
                found(format!(
                    "{who} on port {port} runs detached from any terminal: its launcher pid {top} ({launcher}) outlived the shell that started it"
                ))
                .severity(crate::finding::Severity::Info)
                .evidence("detached_launcher", ancestor),
            );
        }
        return Some(
            found(format!(
                "{who} on port {port} is part of an orphaned tree: pid {top} ({launcher}) above it lost the process that started it"
            ))
            .evidence("orphaned_ancestor", ancestor)
            .with_fix(terminate_fix(platform::process_info(top).as_ref().unwrap_or(a))),
        );
    }
    let now_parent = parent.map_or(format!("pid {parent_pid} (gone)"), |pp| {
        format!("pid {parent_pid} ({})", super::shorten(&pp.command(), 40))
    });
    Some(
        Finding::new(
            "PROC003",
            ID,
            format!(
                "{} on port {port} is an orphan: the process that started it is gone, it now belongs to {now_parent}",
                describe_pid(snapshot, p.pid)
            ),
        )
        .evidence("port", port)
        .evidence("process", process_evidence(snapshot, p))
        .evidence("reparented_to", now_parent)
        .evidence("started", format!("{} ({})", timefmt::utc(p.start_time), timefmt::ago(p.start_time)))
        .with_fix(terminate_fix(p)),
    )
}

/// A launcher the user runs: a shell running a script file (`bash
/// start.sh`, not `sh -c CMD` from a supervisor), `nohup`, or a Python
/// script that starts servers (`python start.py`).
fn is_launcher_script(p: &ProcessInfo) -> bool {
    let base = |i: usize| {
        p.cmdline
            .get(i)
            .map(|a| {
                a.rsplit(['/', '\\'])
                    .next()
                    .unwrap_or(a)
                    .to_ascii_lowercase()
            })
            .unwrap_or_default()
    };
    let program = base(0);
    let first_arg = p.cmdline.get(1).map(String::as_str).unwrap_or_default();
    match program.as_str() {
        "nohup" | "setsid" => true,
        "bash" | "sh" | "zsh" | "dash" => !first_arg.is_empty() && !first_arg.starts_with('-'),
        _ if program.starts_with("python") => {
            first_arg.ends_with(".py") && commands::parse(&p.command()).is_none()
        }
        _ => false,
    }
}

/// A supervisor that runs the server in a child it restarts: uvicorn
/// `--reload` and `fastapi dev` (the parent binds, a spawned worker
/// serves), werkzeug's reloader (`flask run --debug` or `FLASK_DEBUG`),
/// Django's autoreloader, nodemon, watchfiles. vite and next are single
/// processes, and a plain `flask run` is the server itself.
fn is_reloader(p: &ProcessInfo) -> bool {
    // Django's and werkzeug's worker runs the reloader's own command line;
    // the reloader marks it in its environment (`RUN_MAIN=true`,
    // `WERKZEUG_RUN_MAIN=true`). Field round 8 (gc fc P2 c5, harmful): the
    // worker was taken for a reloader "with no worker" and ended.
    let marked = crate::frameworks::ALL
        .iter()
        .filter_map(|f| f.worker_marker)
        .any(|(name, value)| platform::env_var_of(p.pid, name).flatten().as_deref() == Some(value));
    if marked {
        return false;
    }
    let cmd = p.cmdline.join(" ");
    if ["watchfiles", "watchmedo", "hupper", "nodemon"]
        .iter()
        .any(|w| cmd.contains(w))
    {
        return true;
    }
    let Some(server) = commands::parse(&cmd) else {
        return false;
    };
    match server.kind {
        "fastapi" | "django" => server.reloads,
        "flask" => {
            server.reloads
                || platform::env_var_of(p.pid, "FLASK_DEBUG")
                    .flatten()
                    .is_some_and(|v| matches!(v.as_str(), "1" | "true" | "True"))
        }
        _ => false,
    }
}

/// Whether anything answers HTTP on the port (any status): a server that
/// answers is serving, whatever its process tree looks like.
fn answers_http(port: u16, timeout: Duration) -> bool {
    ["127.0.0.1", "[::1]"]
        .iter()
        .any(|host| crate::net::get(&format!("http://{host}:{port}/"), timeout).is_ok())
}

fn reloader_without_worker(
    snapshot: &Snapshot,
    root: &ProcessInfo,
    holders: &BTreeSet<u32>,
    port: u16,
    timeout: Duration,
) -> Option<Finding> {
    if !is_reloader(root) {
        return None;
    }
    let children = platform::processes(&platform::children_of(root.pid));
    let serving = children.values().any(|c| {
        holders.contains(&c.pid) && !matches!(c.state, ProcState::Stopped | ProcState::Zombie)
    });
    if serving || answers_http(port, timeout) {
        return None;
    }
    let workers: Vec<_> = children
        .values()
        .map(|c| json!({"pid": c.pid, "state": c.state.as_str(), "command": c.command(), "holds_socket": holders.contains(&c.pid)}))
        .collect();
    let what = if children.is_empty() {
        "has no worker".to_string()
    } else {
        let states: Vec<String> = children
            .values()
            .map(|c| format!("pid {} {}", c.pid, c.state.as_str()))
            .collect();
        format!("has no worker serving (children: {})", states.join(", "))
    };
    Some(
        Finding::new(
            "PROC007",
            ID,
            format!(
                "reloader {} holds port {port} but {what}",
                describe_pid(snapshot, root.pid)
            ),
        )
        .evidence("port", port)
        .evidence("reloader", process_evidence(snapshot, root))
        .evidence("children", workers)
        .with_fix(terminate_fix(root)),
    )
}

/// PROC009: a holder of the port writes its output to a pipe nobody reads
/// or a terminal that hung up: it dies at its next log line (SIGPIPE/EPIPE)
/// or with its terminal (SIGHUP). doctor's probes only TCP-connect to it
/// (`net::fragile`): a logged request would be that line.
fn output_nowhere(
    ctx: &Context,
    snapshot: &Snapshot,
    root: &ProcessInfo,
    procs: &[&ProcessInfo],
    port: u16,
) -> Option<Finding> {
    let (p, dead) = std::iter::once(root)
        .chain(procs.iter().copied().filter(|p| p.pid != root.pid))
        .find_map(|p| platform::dead_output(p.pid).map(|d| (p, d)))?;
    let service = ctx.project.services_on(port).find(|s| s.expected);
    let name = service.map_or_else(|| format!("port-{port}"), |s| s.name.clone());
    let (what, detail) = match &dead {
        platform::DeadOutput::Pipe {
            inode, unreadable, ..
        } => (
            format!("a pipe nobody reads (pipe:[{inode}]: no process holds its read end)"),
            if *unreadable > 0 {
                format!("{unreadable} processes of other users could not be looked into; one of them could be the reader")
            } else {
                "every process was looked into".to_string()
            },
        ),
        platform::DeadOutput::Terminal { path, why, .. } => {
            (format!("a terminal that hung up ({path})"), why.clone())
        }
    };
    let dies = match &dead {
        platform::DeadOutput::Pipe { .. } => "its next write there fails with EPIPE/SIGPIPE, which ends a node server (vite, next, express) and any unguarded print()",
        platform::DeadOutput::Terminal { .. } => "its next log line fails (EIO) or SIGHUP ends it",
    };
    let mut f = Finding::new(
        "PROC009",
        ID,
        format!(
            "{} on port {port} writes its {} to {what}: {dies}; start it detached (nohup/setsid, output to a file)",
            describe_pid(snapshot, p.pid),
            dead.fd_name(),
        ),
    )
    .severity(crate::finding::Severity::Warning)
    .evidence("port", port)
    .evidence("process", process_evidence(snapshot, p))
    .evidence("output", dead.fd_name())
    .evidence("other_end", what)
    .evidence("seen", detail)
    .evidence(
        "probes",
        "TCP connect only: doctor sent it no HTTP request (an access-log line would end it)",
    )
    .evidence(
        "start_detached",
        format!(
            "nohup {} > {name}.log 2>&1 &   (or setsid; doctor --fix starts it detached)",
            p.command()
        ),
    );
    if let Some(fix) = super::restart_fix(root, port, &name) {
        f = f.with_fix(fix);
    }
    if let Some(s) = service {
        f = f.evidence("service", s.name.clone());
    }
    Some(f)
}

/// PROC008: a holder of the port runs in a folder that was deleted after
/// it started (a removed or re-cloned checkout): it serves code that is no
/// longer on disk, and the project's own server cannot bind the port.
fn folder_gone(
    ctx: &Context,
    snapshot: &Snapshot,
    root: &ProcessInfo,
    procs: &[&ProcessInfo],
    port: u16,
) -> Option<Finding> {
    let (p, old) = procs.iter().find_map(|p| {
        platform::process_extras(p.pid)
            .cwd_deleted
            .map(|old| (*p, old))
    })?;
    let service = ctx.project.services_on(port).find(|s| s.expected);
    let old_shown = crate::redact::home(&old);
    let again = old.is_dir();
    let mut fix = terminate_fix(root);
    if let Some(start) = service.and_then(|s| s.start_from_root()) {
        fix.title = format!(
            "{}; then start the project's own {} ({})",
            fix.title,
            service.map_or("server", |s| s.name.as_str()),
            start.join(" && ")
        );
    } else if let Some(s) = service {
        fix.title = format!("{}; then start the project's own {}", fix.title, s.name);
    }
    let mut f = Finding::new(
        "PROC008",
        ID,
        format!(
            "{} on port {port} serves from a folder that is gone: {old_shown} was deleted{} after it started; it is a stale server",
            describe_pid(snapshot, p.pid),
            if again { " (and made again: a new checkout)" } else { "" },
        ),
    )
    .evidence("port", port)
    .evidence("process", process_evidence(snapshot, p))
    .evidence("old_cwd", old_shown)
    .evidence(
        "path_now",
        if again {
            "exists again: another folder at the same path (a re-clone)"
        } else {
            "does not exist"
        },
    )
    .with_fix(fix);
    if let Some(s) = service {
        f = f.evidence("service", s.name.clone());
    } else {
        // Only examined (`--port`), not expected: nothing of the project waits for it.
        f = f.severity(crate::finding::Severity::Warning);
    }
    Some(f)
}

fn stale_code(
    ctx: &Context,
    snapshot: &Snapshot,
    root: &ProcessInfo,
    procs: &[&ProcessInfo],
    port: u16,
) -> Option<Finding> {
    let project = &ctx.project;
    // A reloader's worker restarts on change: the youngest holder is the code that serves.
    let youngest = procs
        .iter()
        .map(|p| p.start_time)
        .max()
        .unwrap_or(root.start_time);
    let deleted = procs
        .iter()
        .find(|p| platform::process_extras(p.pid).exe_deleted == Some(true));
    if let Some(p) = deleted {
        return Some(
            Finding::new(
                "PROC004",
                ID,
                format!("{} on port {port} runs an executable that was deleted or replaced since it started", describe_pid(snapshot, p.pid)),
            )
            .evidence("port", port)
            .evidence("process", process_evidence(snapshot, p))
            .evidence("exe", p.exe.as_deref().map(|e| e.display().to_string()).unwrap_or_default())
            .with_fix(terminate_fix(root)),
        );
    }
    let cwd = root
        .cwd
        .as_deref()
        .filter(|c| c.starts_with(&project.root))?;
    // A server that watches its sources reloads on a change: what can be
    // stale for it is what it reads once at start (env files, installed
    // packages), not a watched file.
    let watches = is_watching(project, root, port);
    let (file, mtime) = if watches {
        newest_unwatched(project, root, cwd)?
    } else {
        ctx.newest_source(cwd)?
    };
    // Seconds are the start time's resolution: one second of slack.
    if mtime <= youngest + 1 {
        return None;
    }
    let rel = project.relative(&file);
    Some(
        Finding::new(
            "PROC004",
            ID,
            format!(
                "{} on port {port} started {} but {rel} changed {}: it serves old code",
                describe_pid(snapshot, root.pid),
                timefmt::utc(youngest),
                timefmt::utc(mtime)
            ),
        )
        .evidence("port", port)
        .evidence("process", process_evidence(snapshot, root))
        .evidence("process_started", timefmt::utc(youngest))
        .evidence(
            "newest_source",
            json!({"file": rel, "modified": timefmt::utc(mtime)}),
        )
        .with_fix(
            watcher_rerun(project, root, port)
                .or_else(|| {
                    super::restart_fix(
                        root,
                        port,
                        &project
                            .services_on(port)
                            .next()
                            .map_or_else(|| format!("port-{port}"), |s| s.name.clone()),
                    )
                })
                .unwrap_or_else(|| terminate_fix(root)),
        ),
    )
}

/// A server whose parent is a watcher (nodemon, node-dev) is restarted by
/// that watcher when a file it watches changes: its entry's modification
/// time set to now, never a detached second copy outside the watcher
/// (which the watcher's next restart would collide with: EADDRINUSE).
fn watcher_rerun(project: &Project, p: &ProcessInfo, port: u16) -> Option<Fix> {
    let parent = project.all_processes().get(&p.parent?)?;
    let command = parent.command();
    if !["nodemon", "node-dev", "ts-node-dev"]
        .iter()
        .any(|w| command.contains(w))
    {
        return None;
    }
    let file = super::watched_entry(parent)?;
    let shown = project.relative(&file);
    Some(Fix {
        title: format!(
            "let its watcher, pid {} ({}), restart it: touch {shown} (its content is not changed)",
            parent.pid,
            super::shorten(&command, 40)
        ),
        safety: Safety::Confirm,
        commands: vec![format!("touch {}", crate::shell::quote_arg(&shown))],
        action: Some(FixAction::Touch {
            path: file,
            watcher: parent.pid,
            watcher_start: parent.start_time,
            port,
        }),
    })
}

/// The framework kind a running process serves: from its command line, or
/// the title its framework gave it (`next-server (v15)`).
fn process_kind(p: &ProcessInfo) -> Option<&'static str> {
    commands::parse(&p.cmdline.join(" "))
        .map(|s| s.kind)
        .or_else(|| crate::frameworks::by_title(p).map(|f| f.kind))
}

/// Whether the server watches its sources. The process tree first (a
/// werkzeug or Django worker carries its reloader's mark, a plain `flask run`
/// none, whatever `.flaskenv` says), then the framework (vite, next dev),
/// then the command line and the model.
fn is_watching(project: &Project, p: &ProcessInfo, port: u16) -> bool {
    let kind = process_kind(p);
    let children = platform::children_of(p.pid);
    let env_of = |pid: u32, name: &str| platform::env_var_of(pid, name).flatten();
    if let Some(evidence) = crate::frameworks::reload_evidence(p, kind, &env_of, &children) {
        return evidence;
    }
    if kind
        .and_then(crate::frameworks::by_kind)
        .is_some_and(|f| f.watches_sources)
    {
        return true;
    }
    let cmd = p.cmdline.join(" ");
    // A node server watches when it was started so (`node --watch`) or its
    // parent is a watcher (nodemon): the tree says, not the dev script a
    // user may not have used (`node server.js` typed by hand).
    // The service on the port is a frontend dev server that watches its
    // sources (react-scripts start runs as `node …/scripts/start.js`).
    if project.services_on(port).any(|s| {
        s.kind
            .as_deref()
            .and_then(crate::frameworks::by_kind)
            .is_some_and(|f| f.watches_sources)
    }) {
        return true;
    }
    let is_node = p
        .cmdline
        .first()
        .is_some_and(|a| a == "node" || a.ends_with("/node") || a.ends_with("\\node.exe"));
    if is_node {
        const WATCHERS: &[&str] = &["--watch", "nodemon", "node-dev", "ts-node-dev", "tsx watch"];
        let parent = p.parent.and_then(|pp| project.all_processes().get(&pp));
        return WATCHERS.iter().any(|w| cmd.contains(w))
            || parent.is_some_and(|pp| WATCHERS.iter().any(|w| pp.command().contains(w)));
    }
    is_reloader(p)
        || commands::parse(&cmd).is_some_and(|s| s.reloads)
        || project.services_on(port).any(|s| s.reloads)
}

/// The newest of what a reloading server reads only at start and does not
/// reload by itself: the env files its framework reads (vite restarts on
/// its own; a Python server never reads a frontend's), and the packages of
/// its own runtime (a node server does not load a venv's site-packages).
fn newest_unwatched(project: &Project, p: &ProcessInfo, cwd: &Path) -> Option<(PathBuf, u64)> {
    let kind = process_kind(p);
    let runtime = kind.and_then(crate::frameworks::by_kind).map(|f| f.runtime);
    let mut candidates: Vec<PathBuf> = Vec::new();
    // A Python server reads env files only through its code (python-dotenv,
    // pydantic-settings' env_file, flask's .flaskenv): its own folder's when
    // that code is there, the root's only when the code names a path up
    // (`../.env`) or it runs from the root.
    let python_code = |needle: &str| project.code.under(cwd).any(|(_, t)| t.contains(needle));
    let python_reads_env = kind == Some("flask")
        || ["dotenv", "env_file", "BaseSettings", "load_dotenv"]
            .iter()
            .any(|n| python_code(n));
    for dir in [cwd, project.root.as_path()] {
        for name in crate::project::ENV_FILES {
            let file = dir.join(name);
            let (reads, reloads) = crate::frameworks::env_file_use(kind, cwd, &file);
            let reads = reads
                && (runtime != Some(crate::frameworks::Runtime::Python)
                    || (python_reads_env
                        && (dir == cwd || python_code("../.env") || python_code("find_dotenv"))));
            if reads && !reloads {
                candidates.push(file);
            }
        }
        // Not node_modules: an `npm install` while a watching node server
        // runs is no old code (field round 7, three times): vite
        // re-optimizes its dependencies itself, and a package the code
        // starts to require comes with the edit that restarts nodemon's
        // child. Ending that server would be the harm.
        if runtime == Some(crate::frameworks::Runtime::Node) {
            continue;
        }
        for venv in [".venv", "venv"] {
            candidates.push(dir.join(venv).join("pyvenv.cfg"));
            if let Ok(libs) = std::fs::read_dir(dir.join(venv).join("lib")) {
                for lib in libs.flatten() {
                    candidates.push(lib.path().join("site-packages"));
                }
            }
        }
    }
    candidates
        .into_iter()
        .filter_map(|p| {
            let m = std::fs::metadata(&p).ok()?.modified().ok()?;
            let secs = m.duration_since(UNIX_EPOCH).ok()?.as_secs();
            Some((p, secs))
        })
        .max_by_key(|(_, m)| *m)
}

/// The app a process serves: its folder, the server kind and entry it
/// starts (`fastapi run app/main.py` and `fastapi dev app/main.py` are the
/// same app), else its command line with the numbers blanked.
fn app_signature(p: &ProcessInfo) -> Option<(PathBuf, String)> {
    let cwd = p.cwd.clone()?;
    if p.cmdline.is_empty() {
        return None;
    }
    if let Some(server) = commands::parse(&p.cmdline.join(" ")) {
        if let Some(entry) = &server.entry {
            let family = match server.kind {
                "fastapi" | "flask" | "django" | "python" => "python",
                other => other,
            };
            return Some((
                commands::run_folder(&cwd, &server),
                format!("{family}:{entry}"),
            ));
        }
    }
    let words: Vec<String> = p
        .cmdline
        .iter()
        .map(|w| {
            let digits_at = w.trim_end_matches(|c: char| c.is_ascii_digit()).len();
            if digits_at < w.len() && (digits_at == 0 || w[..digits_at].ends_with([':', '='])) {
                format!("{}#", &w[..digits_at])
            } else {
                w.clone()
            }
        })
        .collect();
    Some((cwd, words.join(" ")))
}

fn copies(
    ctx: &Context,
    root: &ProcessInfo,
    port: u16,
    seen: &mut BTreeSet<Vec<u32>>,
) -> Option<Finding> {
    let project = &ctx.project;
    let cwd = root.cwd.as_deref()?;
    if !cwd.starts_with(&project.root) {
        return None;
    }
    let signature = app_signature(root)?;
    let all = ctx.all_processes();
    let twins: Vec<u32> = all
        .values()
        .filter(|p| p.pid != root.pid && p.parent != Some(root.pid) && Some(p.pid) != root.parent)
        .filter(|p| app_signature(p).as_ref() == Some(&signature))
        .map(|p| p.pid)
        .collect();
    if twins.is_empty() {
        return None;
    }
    let listeners = platform::listeners_of(&twins).ok()?;
    let mut ports_of: BTreeMap<u32, BTreeSet<u16>> = BTreeMap::new();
    for s in &listeners {
        for pid in s.pids() {
            if s.local.port() != port {
                ports_of.entry(*pid).or_default().insert(s.local.port());
            }
        }
    }
    if ports_of.is_empty() {
        return None;
    }
    let mut group: Vec<u32> = ports_of.keys().copied().chain([root.pid]).collect();
    group.sort_unstable();
    if !seen.insert(group) {
        return None;
    }
    let twin_infos: HashMap<u32, ProcessInfo> =
        platform::processes(&ports_of.keys().copied().collect::<Vec<_>>());
    let expected: BTreeSet<u16> = project.services.iter().map(|s| s.port).collect();
    let mut entries = vec![
        json!({"pid": root.pid, "ports": [port], "started": timefmt::utc(root.start_time), "command": root.command(), "expected": expected.contains(&port)}),
    ];
    let mut listing = vec![format!("pid {} on :{port}", root.pid)];
    for (pid, ports) in &ports_of {
        let started = twin_infos
            .get(pid)
            .map(|p| timefmt::utc(p.start_time))
            .unwrap_or_default();
        let command = twin_infos.get(pid).map(|p| p.command()).unwrap_or_default();
        entries.push(json!({"pid": pid, "ports": ports, "started": started, "command": command, "expected": ports.iter().any(|p| expected.contains(p))}));
        let ports: Vec<String> = ports.iter().map(|p| format!(":{p}")).collect();
        listing.push(format!("pid {pid} on {}", ports.join(", ")));
    }
    let mut f = Finding::new(
        "PROC005",
        ID,
        format!(
            "the same app runs {} times: {}",
            listing.len(),
            listing.join(", ")
        ),
    )
    .evidence("copies", entries)
    .evidence("cwd", crate::redact::home(cwd));
    // The copy to end is the stale one: orphaned (its launcher is gone) or
    // started before the newest change to its sources. The fresh one (the
    // one the user just started, or a reloader's) is kept even when the
    // frontend points at the other port; then the fix says to repoint.
    let newest = ctx.newest_source(cwd).map(|(_, m)| m);
    let all = ctx.project.all_processes();
    // Orphaned anywhere up its tree (`concurrently` killed, its `sh -c next
    // dev` adopted by init), or older than its code when it does not watch
    // it (a watching dev server writes files of its own at start).
    let is_stale = |p: &ProcessInfo| {
        let orphaned = super::orphaned_ancestor(all, p, &ctx.project.root).is_some()
            || snapshot_orphan(ctx, p, port);
        orphaned
            || (!is_watching(&ctx.project, p, port) && newest.is_some_and(|m| m > p.start_time + 1))
    };
    let mut copies: Vec<&ProcessInfo> = twin_infos.values().collect();
    copies.push(root);
    let (stale, fresh): (Vec<&ProcessInfo>, Vec<&ProcessInfo>) =
        copies.iter().copied().partition(|p| is_stale(p));
    f = f.evidence("stale", stale.iter().map(|p| p.pid).collect::<Vec<_>>());
    // Neither stale: both serve the same code, and the copy on a port
    // nothing expects is the one to end, when there is one.
    let unexpected: Vec<&ProcessInfo> = ports_of
        .iter()
        .filter(|(_, ports)| !ports.iter().any(|p| expected.contains(p)))
        .filter_map(|(pid, _)| twin_infos.get(pid))
        .collect();
    match (&stale[..], &fresh[..], &unexpected[..]) {
        ([old], [_], _) => f = f.with_fix(terminate_fix(old)),
        // Neither stale: the copy on a port nothing expects is the one to
        // end, the user's call (manual): the newer may be the one they work with.
        ([], _, [spare]) if expected.contains(&port) => {
            f = f.with_fix(Fix::manual(
                format!(
                    "end pid {} (nobody points at its port) if you do not need a second copy",
                    spare.pid
                ),
                super::terminate_commands(spare.pid),
            ))
        }
        _ => {}
    }
    Some(f)
}

/// The user's own copy of the orphan's app, started after it and moved to
/// another port because the orphan held this one (vite and next take the
/// next free port): the orphan's end leaves this port free and the copy
/// still elsewhere, so the plan says to restart it, and what the browser
/// sees at that copy's origin (a CORS refusal) is the orphan's doing.
fn with_moved_copy(ctx: &Context, mut f: Finding, orphan: &ProcessInfo, port: u16) -> Finding {
    // The same command from the same folder, paths as written or as npm
    // spells them (`node_modules/.bin/vite`, `/abs/…/node_modules/.bin/vite`).
    let words = |p: &ProcessInfo| -> Vec<String> {
        p.cmdline
            .iter()
            .map(|w| w.rsplit(['/', '\\']).next().unwrap_or(w).to_string())
            .collect()
    };
    let copy = ctx.all_processes().values().find(|p| {
        p.pid != orphan.pid
            && p.cwd == orphan.cwd
            && words(p) == words(orphan)
            && p.start_time >= orphan.start_time
    });
    let Some(copy) = copy else { return f };
    let Some(moved) = platform::listeners_of(&[copy.pid]).ok().and_then(|l| {
        l.iter()
            .filter(|s| s.state == platform::TcpState::Listen)
            .map(|s| s.local.port())
            .find(|p| *p != port)
    }) else {
        return f;
    };
    let service = ctx.project.services_on(port).next();
    let name = service.map_or("the app".to_string(), |s| s.name.clone());
    let start = service
        .and_then(|s| s.start.clone())
        .unwrap_or_else(|| copy.command());
    f.title = format!(
        "{}; the copy you run, pid {} ({}), moved to :{moved} because of it",
        f.title,
        copy.pid,
        super::shorten(&copy.command(), 40)
    );
    f = f.evidence(
        "moved_to",
        json!({"port": moved, "process": process_evidence_of(ctx, copy)}),
    );
    if let Some(fix) = &mut f.fix {
        // Ending the orphan frees the port; the copy the user works with
        // is theirs to restart in its terminal, so that it takes it.
        fix.commands.push(format!(
            "then restart {name} in the terminal that runs pid {} (Ctrl-C, then {start}) so that it takes :{port} again (it runs on :{moved} now)",
            copy.pid
        ));
    }
    f
}

fn process_evidence_of(ctx: &Context, p: &ProcessInfo) -> serde_json::Value {
    match ctx.snapshot() {
        Ok(snapshot) => process_evidence(snapshot, p),
        Err(_) => json!({"pid": p.pid, "command": p.command()}),
    }
}

/// Whether PROC003's session rule calls `p` an orphan (its launcher gone,
/// adopted by a subreaper rather than pid 1).
fn snapshot_orphan(ctx: &Context, p: &ProcessInfo, port: u16) -> bool {
    ctx.snapshot().is_ok_and(|snapshot| {
        orphan(
            snapshot,
            ctx.project.all_processes(),
            &ctx.project.root,
            p,
            port,
        )
        .is_some()
    })
}

fn pid_files(project: &Project) -> Vec<Finding> {
    let mut out = Vec::new();
    for dir in PID_DIRS {
        let folder = project.root.join(dir);
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "pid") && p.is_file())
            .collect();
        files.sort();
        for path in files {
            out.extend(pid_file(project, &path));
        }
    }
    out
}

fn pid_file(project: &Project, path: &Path) -> Option<Finding> {
    let rel = project.relative(path);
    let text = crate::project::read_bounded(path).ok()?;
    let written = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_secs());
    let remove = |safety: Safety| Fix {
        title: format!("remove {rel} (kept as .doctor/backups/{rel}, which git ignores)"),
        safety,
        commands: vec![format!(
            "mkdir -p .doctor/backups/{dir} && mv {rel} .doctor/backups/{rel}",
            dir = Path::new(&rel)
                .parent()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        )],
        action: Some(FixAction::RemoveFile {
            path: path.to_path_buf(),
        }),
    };
    let Some(pid) = text.trim().parse::<u32>().ok().filter(|p| *p > 0) else {
        let shown: String = text
            .trim()
            .chars()
            .take(20)
            .filter(|c| !c.is_control())
            .collect();
        return Some(
            Finding::new("PROC006", ID, format!("{rel} holds no pid (\"{shown}\")"))
                .evidence("file", rel.clone())
                .with_fix(remove(Safety::Safe)),
        );
    };
    let finding = |what: String| {
        Finding::new(
            "PROC006",
            ID,
            format!("{rel} names pid {pid}, which {what}"),
        )
        .evidence("file", rel.clone())
        .evidence("pid", pid)
    };
    match platform::process_info(pid) {
        None => Some(finding("is gone".into()).with_fix(remove(Safety::Safe))),
        Some(p) if p.state == ProcState::Zombie => {
            Some(finding("has exited (defunct)".into()).with_fix(remove(Safety::Safe)))
        }
        // The file was written when its process started: a process that
        // started later is another program that got the same pid.
        Some(p) if written.is_some_and(|w| p.start_time > w + 2) => Some(
            finding(format!(
                "is now a different program: {} (started after the file was written)",
                super::shorten(&p.command(), 60)
            ))
            .evidence(
                "now",
                json!({"command": p.command(), "started": timefmt::utc(p.start_time)}),
            )
            .evidence("file_written", timefmt::utc(written.unwrap_or(0)))
            .with_fix(remove(Safety::Confirm)),
        ),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proc_with(cmd: &[&str]) -> ProcessInfo {
        ProcessInfo::sample(10, cmd)
    }

    #[test]
    fn signatures_ignore_ports_only() {
        let a = app_signature(&proc_with(&["uvicorn", "main:app", "--port", "8000"]));
        let b = app_signature(&proc_with(&["uvicorn", "main:app", "--port", "8001"]));
        let c = app_signature(&proc_with(&["uvicorn", "other:app", "--port", "8001"]));
        let d = app_signature(&proc_with(&["uvicorn", "main:app", "--port=8002"]));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(
            app_signature(&proc_with(&["x", "--bind", "127.0.0.1:80"])),
            app_signature(&proc_with(&["x", "--bind", "127.0.0.1:81"]))
        );
        assert_eq!(d.unwrap().1, "python:main");
        // The same app started two ways (class 11 of issue #8).
        assert_eq!(
            app_signature(&proc_with(&[
                "fastapi",
                "run",
                "app/main.py",
                "--port",
                "8000"
            ])),
            app_signature(&proc_with(&[
                "fastapi",
                "dev",
                "app/main.py",
                "--port",
                "8001"
            ]))
        );
        assert_eq!(
            app_signature(&proc_with(&["node", "server.js", "--port", "1"])),
            app_signature(&proc_with(&["nodemon", "server.js"]))
        );
    }

    #[test]
    fn reloaders() {
        assert!(is_reloader(&proc_with(&[
            "uvicorn", "main:app", "--reload"
        ])));
        assert!(is_reloader(&proc_with(&[
            "python", "-m", "flask", "run", "--debug"
        ])));
        assert!(is_reloader(&proc_with(&["fastapi", "dev", "app/main.py"])));
        assert!(is_reloader(&proc_with(&[
            "python",
            "manage.py",
            "runserver"
        ])));
        // A plain `flask run`, vite and uvicorn without --reload serve themselves.
        assert!(!is_reloader(&proc_with(&["python", "-m", "flask", "run"])));
        assert!(!is_reloader(&proc_with(&[
            "node",
            "/p/node_modules/.bin/vite"
        ])));
        assert!(!is_reloader(&proc_with(&["uvicorn", "main:app"])));
    }
}
