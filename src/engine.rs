//! The check engine: every check has the same shape, runs on its own thread
//! under a time bound, and whatever it does (finish, fail, panic, hang) ends as
//! one outcome in the report without holding up the others.

use std::any::Any;
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{mpsc, Arc, OnceLock};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::config::Config;
use crate::finding::Finding;
use crate::platform::{self, PortSet, ProcessInfo, Socket};
use crate::project::Project;

/// Why a check gave no findings of its own.
#[derive(Debug, Clone)]
pub enum CheckError {
    /// Nothing to look at (no frontend origin for CORS): said, never "ok".
    Skipped(String),
    /// It could not run: shown as `crashed` with the reason.
    Failed(String),
}

impl From<String> for CheckError {
    fn from(reason: String) -> Self {
        CheckError::Failed(reason)
    }
}

/// One diagnosis. Adding a check is one file implementing this, one line in
/// `checks::all()`, and a `checks/CODE.md` per code.
pub trait Check: Send + Sync {
    /// Stable id, used by `--only`/`--skip` and in JSON `checks[].id`.
    fn id(&self) -> &'static str;
    /// One line for `doctor checks`.
    fn description(&self) -> &'static str;
    /// The finding codes this check can emit.
    fn codes(&self) -> &'static [&'static str];
    /// Time beyond the common bound that this check may take (a start-up
    /// probe is not a network probe).
    fn extra_time(&self, _config: &Config) -> Duration {
        Duration::ZERO
    }
    /// Diagnose; read-only. `Err` is "could not run", shown as `crashed`.
    fn run(&self, ctx: &Context) -> Result<Vec<Finding>, CheckError>;
}

/// What the OS says about the project's ports, built once on first use and
/// shared by every check that asks.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub sockets: Vec<Socket>,
    /// Owners of those sockets and the owners' parents.
    pub processes: HashMap<u32, ProcessInfo>,
}

impl Snapshot {
    pub fn build(ports: &PortSet) -> Result<Snapshot, String> {
        let sockets =
            platform::sockets(ports).map_err(|e| format!("cannot list TCP sockets: {e}"))?;
        let mut pids: Vec<u32> = sockets
            .iter()
            .flat_map(|s| s.pids().iter().copied())
            .collect();
        let mut processes = platform::processes(&pids);
        pids = processes.values().filter_map(|p| p.parent).collect();
        pids.retain(|p| !processes.contains_key(p));
        processes.extend(platform::processes(&pids));
        Ok(Snapshot { sockets, processes })
    }

    pub fn on_port(&self, port: u16) -> impl Iterator<Item = &Socket> {
        self.sockets.iter().filter(move |s| s.local.port() == port)
    }

    /// Every socket with `port` at either end (a server's and its clients').
    pub fn touching(&self, port: u16) -> impl Iterator<Item = &Socket> {
        self.sockets
            .iter()
            .filter(move |s| s.local.port() == port || s.remote.port() == port)
    }

    /// Whether anything listens on `port` (owner visible or not).
    pub fn has_listener(&self, port: u16) -> bool {
        self.on_port(port)
            .any(|s| s.state == crate::platform::TcpState::Listen)
    }

    /// The pids holding a listening socket on `port`.
    pub fn listener_pids(&self, port: u16) -> std::collections::BTreeSet<u32> {
        self.on_port(port)
            .filter(|s| s.state == crate::platform::TcpState::Listen)
            .flat_map(|s| s.pids().iter().copied())
            .collect()
    }

    pub fn process(&self, pid: u32) -> Option<&ProcessInfo> {
        self.processes.get(&pid)
    }
}

pub struct Context {
    pub config: Config,
    pub project: Project,
    snapshot: OnceLock<Result<Snapshot, String>>,
    /// What probes measured (timings, statuses), passing or not: shown with
    /// `-v` and in JSON `probes`.
    probes: std::sync::Mutex<Vec<serde_json::Value>>,
    /// The newest source file of each folder walked: the processes check
    /// (PROC004) and the python check (is the running server newer than its
    /// sources?) ask about the same folders; each is walked once.
    newest: std::sync::Mutex<HashMap<std::path::PathBuf, Option<(std::path::PathBuf, u64)>>>,
}

impl Context {
    pub fn new(config: Config, project: Project) -> Context {
        Context {
            config,
            project,
            snapshot: OnceLock::new(),
            probes: std::sync::Mutex::new(Vec::new()),
            newest: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// Every process of the machine, for checks that look for copies or for
    /// the project's own servers; listed once however many checks ask.
    pub fn all_processes(&self) -> &HashMap<u32, ProcessInfo> {
        self.project.all_processes()
    }

    /// The newest source file under `dir` and its mtime, walked once per run.
    pub fn newest_source(&self, dir: &std::path::Path) -> Option<(std::path::PathBuf, u64)> {
        if let Some(known) = self.newest.lock().ok().and_then(|m| m.get(dir).cloned()) {
            return known;
        }
        let found = crate::project::sources_age::newest_source(dir);
        if let Ok(mut m) = self.newest.lock() {
            m.insert(dir.to_path_buf(), found.clone());
        }
        found
    }

    pub fn record_probe(&self, probe: serde_json::Value) {
        if let Ok(mut p) = self.probes.lock() {
            p.push(probe);
        }
    }

    pub fn probes(&self) -> Vec<serde_json::Value> {
        self.probes.lock().map(|p| p.clone()).unwrap_or_default()
    }

    /// The socket/process snapshot; the first caller builds it, concurrent
    /// callers wait for that one build.
    /// The state half of a service: the processes serving its port, each
    /// listener with the ancestors that started it, up to the shell or
    /// terminal the user started them from. A listener whose parent runs the
    /// same program (python under python, node under node, not a package
    /// runner) is a reloader's worker.
    pub fn running_of(
        &self,
        service: &crate::project::Service,
    ) -> Vec<crate::project::RunningProcess> {
        let Ok(snapshot) = self.snapshot() else {
            return Vec::new();
        };
        let all = self.all_processes();
        let find = |pid: u32| snapshot.process(pid).or_else(|| all.get(&pid));
        let listeners = snapshot.listener_pids(service.port);
        // Each listener with its ancestors, up to the user's shell.
        let chains: Vec<Vec<&ProcessInfo>> = listeners
            .iter()
            .filter_map(|pid| find(*pid))
            .map(|listener| {
                let mut chain = vec![listener];
                while chain.len() < 5 {
                    let Some(parent) = chain.last().and_then(|p| p.parent).and_then(find) else {
                        break;
                    };
                    // The tree ends at the user's shell or terminal, or
                    // where a process works outside the project (an IDE, a
                    // test runner): what started the service from within it.
                    let inside = parent
                        .cwd
                        .as_deref()
                        .is_some_and(|c| c.starts_with(&self.project.root));
                    if parent.pid <= 1 || is_session(parent) || !inside {
                        break;
                    }
                    chain.push(parent);
                }
                chain
            })
            .collect();
        // A reloader often holds the socket too (uvicorn and werkzeug bind
        // it in the parent and hand it to the worker): its role comes from
        // its worker, not from listening.
        let mut reloaders = std::collections::BTreeSet::new();
        let mut workers = std::collections::BTreeSet::new();
        for chain in &chains {
            if let [listener, parent, ..] = chain.as_slice() {
                if same_program(listener, parent) && !is_runner(parent) {
                    workers.insert(listener.pid);
                    reloaders.insert(parent.pid);
                }
            }
        }
        let mut out: Vec<crate::project::RunningProcess> = Vec::new();
        for p in chains.iter().flatten() {
            if out.iter().any(|r| r.pid == p.pid) {
                continue;
            }
            let role = if reloaders.contains(&p.pid) {
                // gunicorn's arbiter supervises workers it forks; it reloads
                // nothing unless asked.
                if p.cmdline.iter().take(3).any(|a| a.ends_with("gunicorn")) {
                    "master"
                } else {
                    "reloader"
                }
            } else if workers.contains(&p.pid) {
                "worker"
            } else if listeners.contains(&p.pid) {
                "server"
            } else {
                "launcher"
            };
            out.push(crate::project::RunningProcess {
                pid: p.pid,
                role,
                command: p.command(),
                cwd: p.cwd.as_deref().map(crate::redact::home),
                started: crate::timefmt::utc(p.start_time),
                in_project: p
                    .cwd
                    .as_deref()
                    .is_some_and(|c| c.starts_with(&self.project.root)),
            });
        }
        // Outermost first: launcher, reloader, then who listens.
        let rank = |r: &str| match r {
            "launcher" => 0,
            "reloader" => 1,
            _ => 2,
        };
        out.sort_by_key(|r| rank(r.role));
        out
    }

    pub fn snapshot(&self) -> Result<&Snapshot, String> {
        self.snapshot
            .get_or_init(|| Snapshot::build(&PortSet(self.project.ports().into_iter().collect())))
            .as_ref()
            .map_err(Clone::clone)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    Findings,
    Skipped,
    TimedOut,
    Crashed,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckRun {
    pub id: &'static str,
    pub outcome: Outcome,
    pub duration_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip)]
    pub findings: Vec<Finding>,
}

impl CheckRun {
    pub fn skipped(id: &'static str, reason: impl Into<String>) -> CheckRun {
        CheckRun {
            id,
            outcome: Outcome::Skipped,
            duration_ms: 0,
            reason: Some(reason.into()),
            findings: Vec::new(),
        }
    }
}

/// Threads running checks are named so the panic hook can keep them quiet:
/// a check's panic is reported as `crashed`, not as a backtrace on stderr.
pub const CHECK_THREAD_PREFIX: &str = "doctor-check:";

fn panic_text(payload: Box<dyn Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panicked".into())
}

/// Run `checks` concurrently; each gets `bound`. Results come back in the
/// order of `checks`. A check still running at its bound is reported
/// `timed_out` and left behind: its thread ends with the process.
pub fn run_checks(ctx: &Arc<Context>, checks: &[Arc<dyn Check>], bound: Duration) -> Vec<CheckRun> {
    let (tx, rx) = mpsc::channel();
    let start = Instant::now();
    let mut runs: Vec<Option<CheckRun>> = vec![None; checks.len()];
    for (index, check) in checks.iter().enumerate() {
        let id = check.id();
        let (tx, ctx, check) = (tx.clone(), Arc::clone(ctx), Arc::clone(check));
        let spawned = std::thread::Builder::new()
            .name(format!("{CHECK_THREAD_PREFIX}{id}"))
            .spawn(move || {
                let began = Instant::now();
                let result = catch_unwind(AssertUnwindSafe(|| check.run(&ctx)));
                let _ = tx.send((index, result, began.elapsed()));
            });
        if let Err(e) = spawned {
            runs[index] = Some(CheckRun {
                id,
                outcome: Outcome::Crashed,
                duration_ms: 0,
                reason: Some(format!("could not start a thread: {e}")),
                findings: Vec::new(),
            });
        }
    }
    drop(tx);
    let extra = checks
        .iter()
        .map(|c| c.extra_time(&ctx.config))
        .max()
        .unwrap_or_default();
    let deadline = start + bound + extra;
    while runs.iter().any(Option::is_none) {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok((index, result, took)) = rx.recv_timeout(left) else {
            break; // deadline passed
        };
        let id = checks[index].id();
        let duration_ms = took.as_millis() as u64;
        runs[index] = Some(match result {
            Ok(Ok(mut findings)) => {
                findings.sort_by(|a, b| (a.severity, a.code).cmp(&(b.severity, b.code)));
                CheckRun {
                    id,
                    outcome: if findings.is_empty() {
                        Outcome::Ok
                    } else {
                        Outcome::Findings
                    },
                    duration_ms,
                    reason: None,
                    findings,
                }
            }
            Ok(Err(CheckError::Skipped(reason))) => CheckRun {
                duration_ms,
                ..CheckRun::skipped(id, reason)
            },
            Ok(Err(CheckError::Failed(reason))) => CheckRun {
                id,
                outcome: Outcome::Crashed,
                duration_ms,
                reason: Some(reason),
                findings: Vec::new(),
            },
            Err(payload) => CheckRun {
                id,
                outcome: Outcome::Crashed,
                duration_ms,
                reason: Some(format!("internal error: {}", panic_text(payload))),
                findings: Vec::new(),
            },
        });
    }
    runs.into_iter()
        .enumerate()
        .map(|(index, run)| {
            run.unwrap_or_else(|| CheckRun {
                id: checks[index].id(),
                outcome: Outcome::TimedOut,
                duration_ms: (bound + extra).as_millis() as u64,
                reason: Some(format!(
                    "did not finish within {} ms",
                    (bound + extra).as_millis()
                )),
                findings: Vec::new(),
            })
        })
        .collect()
}

/// An interactive shell, terminal or session manager: where a service's
/// tree ends. `sh -c 'vite'` (how npm runs a script) is a step of the
/// launcher, not the user's shell.
fn is_session(p: &ProcessInfo) -> bool {
    let name = p.name.trim_start_matches('-');
    let shell = [
        "bash",
        "sh",
        "zsh",
        "fish",
        "dash",
        "cmd.exe",
        "powershell.exe",
        "pwsh",
    ];
    if shell.contains(&name) {
        return !p
            .cmdline
            .iter()
            .any(|a| a == "-c" || a == "/c" || a == "-Command");
    }
    [
        "tmux",
        "tmux: server",
        "screen",
        "sshd",
        "login",
        "systemd",
        "init",
        "explorer.exe",
        "wininit.exe",
        "services.exe",
        "launchd",
        "su",
        "sudo",
    ]
    .contains(&name)
}

/// The program a process runs, without its version (`python3.11` → `python`).
fn program(p: &ProcessInfo) -> String {
    let exe = p
        .exe
        .as_deref()
        .and_then(|e| e.file_name())
        .and_then(|n| n.to_str())
        .unwrap_or(&p.name)
        .to_ascii_lowercase();
    exe.trim_end_matches(".exe")
        .trim_end_matches(|c: char| c.is_ascii_digit() || c == '.')
        .to_string()
}

fn same_program(a: &ProcessInfo, b: &ProcessInfo) -> bool {
    program(a) == program(b)
}

/// npm, npx, yarn, pnpm, concurrently: they start a server, they do not reload it.
fn is_runner(p: &ProcessInfo) -> bool {
    p.cmdline.iter().take(3).any(|a| {
        let base = a.rsplit(['/', '\\']).next().unwrap_or(a);
        [
            "npm",
            "npm-cli.js",
            "npx",
            "npx-cli.js",
            "yarn",
            "yarn.js",
            "pnpm",
            "pnpm.cjs",
            "concurrently",
            "concurrently.js",
            "bun",
        ]
        .contains(&base)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Finding;

    struct Fixed(&'static str, fn() -> Result<Vec<Finding>, CheckError>);
    impl Check for Fixed {
        fn id(&self) -> &'static str {
            self.0
        }
        fn description(&self) -> &'static str {
            "test"
        }
        fn codes(&self) -> &'static [&'static str] {
            &["PORT001"]
        }
        fn run(&self, _ctx: &Context) -> Result<Vec<Finding>, CheckError> {
            (self.1)()
        }
    }

    #[test]
    fn a_panicking_a_failing_and_a_hanging_check_do_not_stop_the_others() {
        let ctx = Arc::new(Context::new(Config::default(), Project::default()));
        let checks: Vec<Arc<dyn Check>> = vec![
            Arc::new(Fixed("panics", || panic!("boom"))),
            Arc::new(Fixed("fails", || {
                Err(CheckError::Failed("no /proc".into()))
            })),
            Arc::new(Fixed("hangs", || {
                std::thread::sleep(Duration::from_secs(30));
                Ok(vec![])
            })),
            Arc::new(Fixed("finds", || {
                Ok(vec![
                    Finding::new("PORT004", "finds", "info"),
                    Finding::new("PORT003", "finds", "warning"),
                    Finding::new("PORT001", "finds", "error"),
                ])
            })),
        ];
        // The bound leaves room for a panic's backtrace on a loaded machine.
        let runs = run_checks(&ctx, &checks, Duration::from_secs(3));
        let outcomes: Vec<_> = runs.iter().map(|r| r.outcome.clone()).collect();
        assert_eq!(
            outcomes,
            [
                Outcome::Crashed,
                Outcome::Crashed,
                Outcome::TimedOut,
                Outcome::Findings
            ]
        );
        assert!(runs[0].reason.as_deref().unwrap().contains("boom"));
        let codes: Vec<_> = runs[3].findings.iter().map(|f| f.code).collect();
        assert_eq!(codes, ["PORT001", "PORT003", "PORT004"]);
    }
}
