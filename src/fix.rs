//! Applying fixes. Nothing here runs unless the user saw the fix and agreed
//! (or passed `--yes`). Processes are ended by pid only, after re-checking
//! that the pid still names the process the report was about.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::finding::FixAction;
use crate::platform::{self, ProcState, Signal};
use crate::redact;

/// What applying one fix did, line by line, for the user.
pub type Outcome = Result<Vec<String>, String>;

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub grace: Duration,
    pub force: bool,
}

/// Apply one fix for the project at `root` (where backups and logs go).
pub fn apply(action: &FixAction, limits: Limits, root: &Path) -> Outcome {
    match action {
        FixAction::Terminate {
            pid,
            start_time,
            cmdline,
        } => terminate(*pid, *start_time, cmdline, limits),
        FixAction::Continue { pid, start_time } => {
            let p = same_process(*pid, *start_time, None)?
                .ok_or(format!("pid {pid} is already gone"))?;
            guard(&p, limits)?;
            platform::send_signal(*pid, Signal::Cont)
                .map_err(|e| format!("SIGCONT to pid {pid}: {e}"))?;
            Ok(vec![format!("sent SIGCONT to pid {pid}")])
        }
        FixAction::Touch {
            path,
            watcher,
            watcher_start,
            port,
        } => touch_watched(path, *watcher, *watcher_start, *port),
        FixAction::CopyFile { from, to } => copy_file(from, to),
        FixAction::RemoveFile { path } => remove_file(root, path),
        FixAction::Run { program, args, cwd } => run_streamed(program, args, cwd),
        FixAction::AppendKeys { path, keys } => append_keys(root, path, keys),
        FixAction::EditLine {
            path,
            line,
            from,
            to,
        } => edit_line(root, path, *line, from, to),
        FixAction::Start {
            command,
            cwd,
            path_first,
            name,
            port,
        } => start(root, command, cwd, path_first.as_deref(), name, *port),
        FixAction::Restart {
            pid,
            start_time,
            cmdline,
            argv,
            cwd,
            name,
            port,
        } => {
            // Read before it ends: what it ran with is gone after.
            let Some(env) = platform::environment_of(*pid) else {
                // Started again without the variables the user's shell
                // gave it, a server may never listen (settings read from
                // the environment): the old code answering is the lesser harm.
                return Err(format!(
                    "not ended: the environment pid {pid} runs with cannot be read here, and a restart without it may never listen; restart it yourself in its terminal: {}",
                    redact::text(&argv.join(" "))
                ));
            };
            // A Python server whose current files no longer import (a key
            // deleted from its env file) would not come back: the running
            // copy, old code and all, is the lesser harm (field gb x1).
            if let Some(why) = would_not_import(argv, cwd, &env) {
                return Err(format!(
                    "not ended: pid {pid} started again with the current files would not start ({why}); fix that first, then restart it: {}",
                    redact::text(&argv.join(" "))
                ));
            }
            let mut lines = terminate(*pid, *start_time, cmdline, limits)?;
            let log = log_file(root, name)?;
            let new = platform::spawn_detached_argv(argv, cwd, Some(&env), &log)
                .map_err(|e| format!("ended pid {pid}, but could not start it again: {e}"))?;
            // The end is done whatever the start does: said with its failure.
            match wait_listening(root, &log, new, &redact::text(&argv.join(" ")), cwd, *port) {
                Ok(line) => lines.push(line),
                Err(e) => return Err(format!("{}; started again, but {e}", lines.join("; "))),
            }
            Ok(lines)
        }
    }
}

/// For a Python server command (`uvicorn main:app`, `python app.py`,
/// `fastapi dev main.py`): import its module as the server would, in its
/// folder and with its environment, under a bound. The last line of the
/// error when the import fails; None when it imports, or when the command
/// is not one doctor can check.
fn would_not_import(
    argv: &[String],
    cwd: &Path,
    env: &[(std::ffi::OsString, std::ffi::OsString)],
) -> Option<String> {
    let server = crate::project::commands::parse(&argv.join(" "))?;
    if !matches!(server.kind, "fastapi" | "flask" | "python") {
        return None;
    }
    // `flask run` loads `.flaskenv` and `.env` from its folder into its
    // environment after it starts (so /proc shows neither): the import is
    // run with them too, where the process's own environment lacks a key
    // (field gb x2: FLASK_APP=run.py in `.flaskenv`, and the check was
    // skipped, the serving server ended).
    let mut env = env.to_vec();
    if server.kind == "flask" {
        for name in crate::frameworks::flask::FLASK.env_files {
            let Ok(text) = crate::project::read_bounded(&cwd.join(name)) else {
                continue;
            };
            for line in text.lines() {
                if let Some((k, v)) = crate::project::parse_env_line(line) {
                    if !env.iter().any(|(have, _)| have.to_str() == Some(k)) {
                        env.push((k.into(), v.into()));
                    }
                }
            }
        }
    }
    let env = &env;
    // `flask run` names its app in FLASK_APP (a .flaskenv) or finds app.py.
    let flask_app = || {
        env.iter()
            .find(|(k, _)| k == "FLASK_APP")
            .map(|(_, v)| {
                v.to_string_lossy()
                    .split(':')
                    .next()
                    .unwrap_or_default()
                    .to_string()
            })
            .or_else(|| crate::frameworks::flask::default_app_module(cwd).map(str::to_string))
    };
    let module = server
        .entry
        .or_else(|| (server.kind == "flask").then(flask_app).flatten())?;
    let module = module.trim_end_matches(".py").replace('/', ".");
    // The interpreter beside the program (`.venv/bin/uvicorn` →
    // `.venv/bin/python`), or the program itself when it is a python.
    let program = Path::new(argv.first()?);
    let name = program.file_name()?.to_string_lossy().to_ascii_lowercase();
    let python = if name.starts_with("python") {
        program.to_path_buf()
    } else {
        let beside = program.parent()?.join(if cfg!(windows) {
            "python.exe"
        } else {
            "python"
        });
        beside.is_file().then_some(beside)?
    };
    let mut cmd = std::process::Command::new(&python);
    cmd.args(["-c", &format!("import {module}")])
        .current_dir(cwd)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)));
    match crate::run::bounded(&mut cmd, Duration::from_secs(15)) {
        Ok(ran) if ran.status != Some(0) => Some(redact::text(
            ran.stderr
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("the import failed"),
        )),
        _ => None,
    }
}

/// How long a started server has to listen: a dev server's first start
/// (dependency optimisation, a model import) takes seconds.
const START_BUDGET: Duration = Duration::from_secs(45);
/// How long a started server must stay alive once it listens.
const STAY_UP: Duration = Duration::from_millis(1500);

/// Whether something accepts on `port` at 127.0.0.1 or ::1.
fn accepts_on_loopback(port: u16) -> bool {
    [
        std::net::IpAddr::from(std::net::Ipv4Addr::LOCALHOST),
        std::net::IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
    ]
    .iter()
    .any(|ip| {
        let addr = std::net::SocketAddr::new(*ip, port);
        crate::net::connect(&addr, Duration::from_millis(200)).is_ok()
    })
}

/// How long a watcher has to run its app again after a touch.
const RERUN_BUDGET: Duration = Duration::from_secs(10);

fn touch_watched(path: &Path, watcher: u32, watcher_start: u64, port: u16) -> Outcome {
    same_process(watcher, watcher_start, None)?
        .ok_or(format!("pid {watcher} is gone: nothing waits for a change"))?;
    let file = std::fs::File::options()
        .append(true)
        .open(path)
        .map_err(|e| format!("{}: {e}", redact::home(path)))?;
    file.set_modified(std::time::SystemTime::now())
        .map_err(|e| format!("{}: {e}", redact::home(path)))?;
    let touched = format!(
        "touched {} (its modification time; the content is unchanged): pid {watcher} runs the app again",
        redact::home(path)
    );
    let began = Instant::now();
    while began.elapsed() < RERUN_BUDGET && !platform::interrupted() {
        let listening = accepts_on_loopback(port);
        if listening {
            return Ok(vec![
                touched,
                format!(
                    "port {port} listens after {:.1} s",
                    began.elapsed().as_secs_f64()
                ),
            ]);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!(
        "{touched}, but port {port} does not listen after {} s: see pid {watcher}'s output in the terminal that runs it",
        RERUN_BUDGET.as_secs()
    ))
}

/// End a process doctor itself started (and its children), by pid.
fn end_started(pid: u32) -> Outcome {
    let p = platform::process_info(pid).ok_or("already gone")?;
    terminate(
        pid,
        p.start_time,
        &p.command(),
        Limits {
            grace: Duration::from_secs(3),
            force: false,
        },
    )
}

fn start(
    root: &Path,
    command: &str,
    cwd: &Path,
    path_first: Option<&Path>,
    name: &str,
    port: u16,
) -> Outcome {
    let log = log_file(root, name)?;
    let pid = platform::spawn_detached(command, cwd, path_first, &log)
        .map_err(|e| format!("could not start `{}`: {e}", redact::text(command)))?;
    Ok(vec![wait_listening(
        root,
        &log,
        pid,
        &redact::text(command),
        cwd,
        port,
    )?])
}

/// `.doctor/logs/NAME.log`.
fn log_file(root: &Path, name: &str) -> Result<std::path::PathBuf, String> {
    let logs = own_folder(root, "logs")?;
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    Ok(logs.join(format!("{safe}.log")))
}

/// Wait until `port` accepts, or the started process exits, or the budget
/// runs out; then say which, with the last lines of its log on failure.
fn wait_listening(
    root: &Path,
    log: &Path,
    pid: u32,
    command: &str,
    cwd: &Path,
    port: u16,
) -> Result<String, String> {
    let began = Instant::now();
    let shown_log = log.strip_prefix(root).unwrap_or(log).display().to_string();
    loop {
        let listening = accepts_on_loopback(port);
        let alive = || platform::process_info(pid).is_some_and(|p| p.state != ProcState::Zombie);
        if listening {
            // Listening is not yet working: a dev server can crash on its
            // first compile (webpack 4 on a new OpenSSL). It must stay up.
            let listened_at = began.elapsed();
            std::thread::sleep(STAY_UP);
            // The port may have been taken by someone else meanwhile (the
            // user restarting it by hand): then what doctor started is
            // about to fail on EADDRINUSE, and no success is claimed.
            if alive() && !listens_in_tree(pid, port) && accepts_on_loopback(port) {
                let _ = end_started(pid);
                return Err(format!(
                    "port {port} was taken by another process while `{command}` started (not by pid {pid} or its children): doctor ended what it started; `doctor` says who holds it now"
                ));
            }
            if alive() {
                return Ok(format!(
                    "started `{command}` in {} as pid {pid}, detached (its output: {shown_log}); it listens on port {port} after {:.1} s",
                    redact::home(cwd),
                    listened_at.as_secs_f64()
                ));
            }
        }
        let exited = !alive();
        if exited || began.elapsed() > START_BUDGET || platform::interrupted() {
            // What doctor started and did not come up is not left behind.
            if !exited {
                let _ = end_started(pid);
            }
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let head = log_tail(&text);
            return Err(format!(
                "`{command}` {} (its output, {shown_log}):\n      {}",
                if exited {
                    "exited (before listening, or right after)".to_string()
                } else {
                    format!(
                        "did not listen on port {port} within {} s",
                        START_BUDGET.as_secs()
                    )
                },
                redact::text(&head.join("\n      "))
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Whether `pid` or one of its descendants listens on `port`.
fn listens_in_tree(pid: u32, port: u16) -> bool {
    let tree = platform::descendants(pid, 64);
    platform::listeners_of(&tree).is_ok_and(|sockets| {
        sockets
            .iter()
            .any(|s| s.state == platform::TcpState::Listen && s.local.port() == port)
    })
}

/// The last lines of a failed start's output, and the error line above
/// them when a long stack trace pushed it out (`Error: Cannot find module
/// './apii'` above its twenty frames).
fn log_tail(text: &str) -> Vec<&str> {
    let lines: Vec<&str> = text.lines().collect();
    let from = lines.len().saturating_sub(15);
    let mut out: Vec<&str> = Vec::new();
    let is_error = |l: &str| {
        let t = l.trim_start();
        t.starts_with("Error")
            || t.starts_with("Traceback")
            || t.contains("Error:")
            || t.contains("Exception:")
    };
    if !lines[from..].iter().any(|l| is_error(l)) {
        if let Some(e) = lines[..from].iter().rev().take(200).find(|l| is_error(l)) {
            out.push(e);
            out.push("…");
        }
    }
    out.extend(&lines[from..]);
    out
}

/// doctor's own folder in the project, which git never commits: a
/// `.gitignore` of `*` inside it, so the user's `.gitignore` is not touched
/// and `git add .` leaves backups and logs out.
pub fn own_folder(root: &Path, sub: &str) -> Result<std::path::PathBuf, String> {
    let own = root.join(OWN_FOLDER);
    let dir = own.join(sub);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", redact::home(&dir)))?;
    let ignore = own.join(".gitignore");
    if !ignore.exists() {
        std::fs::write(&ignore, "# doctor's backups and logs: never committed\n*\n")
            .map_err(|e| format!("{}: {e}", redact::home(&ignore)))?;
    }
    Ok(dir)
}

/// The folder, relative to the project root, where doctor keeps backups and logs.
pub const OWN_FOLDER: &str = ".doctor";

/// A free backup name for `path`: under `.doctor/backups/` at the same
/// relative path (`.doctor/backups/frontend/.env`), then `.1`, `.2`…
fn backup_path(root: &Path, path: &Path) -> Result<std::path::PathBuf, String> {
    let dir = own_folder(root, "backups")?;
    let rel = path
        .strip_prefix(root)
        .unwrap_or_else(|_| Path::new(path.file_name().unwrap_or_default()));
    let base = dir.join(rel);
    if let Some(parent) = base.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", redact::home(parent)))?;
    }
    let mut n = 0;
    loop {
        let mut name = base.as_os_str().to_owned();
        if n > 0 {
            name.push(format!(".{n}"));
        }
        let candidate = std::path::PathBuf::from(name);
        if !candidate.exists() {
            return Ok(candidate);
        }
        n += 1;
    }
}

fn backup(root: &Path, path: &Path) -> Result<std::path::PathBuf, String> {
    let to = backup_path(root, path)?;
    std::fs::copy(path, &to)
        .map_err(|e| format!("backup of {}: {e} (nothing changed)", redact::home(path)))?;
    Ok(to)
}

/// The user agreed to run it: its output goes to stderr as it comes (stdout
/// may be carrying JSON), and there is no time limit.
fn run_streamed(program: &Path, args: &[String], cwd: &Path) -> Outcome {
    let status = std::process::Command::new(program)
        .args(args)
        .current_dir(cwd)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::from(std::io::stderr()))
        .status()
        .map_err(|e| format!("{}: {e}", program.display()))?;
    let shown = redact::text(&format!("{} {}", program.display(), args.join(" ")));
    if status.success() {
        Ok(vec![format!("ran {shown}")])
    } else {
        Err(format!("{shown} exited with {status}"))
    }
}

fn append_keys(root: &Path, path: &Path, keys: &[String]) -> Outcome {
    // A file that is not there yet (a frontend's `.env.local`) is made:
    // there is nothing of the user's to back up.
    let saved = if path.exists() {
        Some(backup(root, path)?)
    } else {
        None
    };
    let mut text = if path.exists() {
        std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", redact::home(path)))?
    } else {
        String::new()
    };
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    // `KEY` is added empty, for the user to fill; `KEY=value` as given.
    for key in keys {
        if key.contains('=') {
            text.push_str(&format!("{key}\n"));
        } else {
            text.push_str(&format!("{key}=\n"));
        }
    }
    write_whole(path, &text)?;
    let names: Vec<&str> = keys
        .iter()
        .map(|k| k.split_once('=').map_or(k.as_str(), |(n, _)| n))
        .collect();
    Ok(vec![match saved {
        Some(saved) => format!(
            "added {} to {} (backup: {})",
            names.join(", "),
            redact::home(path),
            redact::home(&saved)
        ),
        None => format!(
            "wrote {} to {} (a new file)",
            names.join(", "),
            redact::home(path)
        ),
    }])
}

/// Replace a file's content at once: written beside it, then renamed over
/// it (as `sed -i` does). A dev server that watches the file (vite's config)
/// never reads it half-written (field round 8: vite read a truncated config
/// and kept its old proxy target). The file keeps its permissions.
fn write_whole(path: &Path, text: &str) -> Result<(), String> {
    let shown = |e: std::io::Error| format!("{}: {e}", redact::home(path));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let temp = path.with_file_name(format!(".{name}.doctor-{}", std::process::id()));
    std::fs::write(&temp, text).map_err(shown)?;
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = std::fs::set_permissions(&temp, meta.permissions());
    }
    std::fs::rename(&temp, path).map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        shown(e)
    })
}

fn edit_line(root: &Path, path: &Path, line: usize, from: &str, to: &str) -> Outcome {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", redact::home(path)))?;
    let mut lines: Vec<String> = text.split('\n').map(String::from).collect();
    let Some(target) = lines.get_mut(line.wrapping_sub(1)) else {
        return Err(format!(
            "{} has no line {line} now (nothing changed)",
            redact::home(path)
        ));
    };
    if !target.contains(from) {
        return Err(format!(
            "{}:{line} changed since the report (nothing changed)",
            redact::home(path)
        ));
    }
    *target = target.replacen(from, to, 1);
    let saved = backup(root, path)?;
    write_whole(path, &lines.join("\n"))?;
    Ok(vec![format!(
        "{}:{line}: {from} → {to} (backup: {})",
        redact::home(path),
        redact::home(&saved)
    )])
}

/// The process at `pid` if it is still the one described; `Ok(None)` if the
/// pid is gone; `Err` if the pid now names another process (pid reuse).
fn same_process(
    pid: u32,
    start_time: u64,
    cmdline: Option<&str>,
) -> Result<Option<platform::ProcessInfo>, String> {
    let Some(p) = platform::process_info(pid) else {
        return Ok(None);
    };
    if p.state == ProcState::Zombie {
        return Ok(None);
    }
    if p.start_time != start_time || cmdline.is_some_and(|c| c != p.command()) {
        return Err(redact::text(&format!(
            "refused: pid {pid} is now another process ({}, started {}); it was reused since the report",
            p.command(),
            crate::timefmt::utc(p.start_time)
        )));
    }
    Ok(Some(p))
}

/// Never pid 0/1 (4 on Windows), doctor or its ancestors; another user's process only with --force.
fn guard(p: &platform::ProcessInfo, limits: Limits) -> Result<(), String> {
    guard_as(p, limits, platform::current_uid().as_deref())
}

/// `guard` for doctor running as user `me` (`None`: not known, and then
/// another user's process is refused too, since it cannot be told apart).
fn guard_as(p: &platform::ProcessInfo, limits: Limits, me: Option<&str>) -> Result<(), String> {
    if p.pid <= 1 {
        return Err(format!("refused: pid {} is the system's init", p.pid));
    }
    // Windows' System process: HTTP.sys and the kernel's own sockets.
    if cfg!(windows) && p.pid == 4 {
        return Err("refused: pid 4 is Windows' System process (HTTP.sys); stop the Windows service that registered the URL instead".to_string());
    }
    if crate::checks::is_forwarder(p) {
        return Err(format!(
            "refused: pid {} ({}) forwards a port for a container engine or tunnel; stop the container or tunnel instead",
            p.pid, p.name
        ));
    }
    if platform::self_and_ancestors().contains(&p.pid) {
        return Err(format!(
            "refused: pid {} is doctor itself or the shell that runs it",
            p.pid
        ));
    }
    if !limits.force && me != Some("0") && p.uid.is_some() && p.uid.as_deref() != me {
        return Err(format!(
            "refused: pid {} belongs to another user ({}); re-run with --force (and the rights to do it)",
            p.pid,
            p.user.as_deref().or(p.uid.as_deref()).unwrap_or("?")
        ));
    }
    Ok(())
}

/// The process and its descendants, deepest first.
fn tree(root: &platform::ProcessInfo) -> Vec<platform::ProcessInfo> {
    let mut order = vec![root.clone()];
    let mut i = 0;
    while i < order.len() && order.len() < 256 {
        let children = platform::processes(&platform::children_of(order[i].pid));
        let mut children: Vec<_> = children
            .into_values()
            .filter(|c| c.state != ProcState::Zombie)
            .collect();
        children.sort_by_key(|c| c.pid);
        order.extend(children);
        i += 1;
    }
    order.reverse();
    order
}

fn alive(p: &platform::ProcessInfo) -> bool {
    matches!(same_process(p.pid, p.start_time, None), Ok(Some(_)))
}

fn wait_gone(procs: &[platform::ProcessInfo], limit: Duration) -> Vec<platform::ProcessInfo> {
    let start = Instant::now();
    loop {
        let left: Vec<_> = procs.iter().filter(|p| alive(p)).cloned().collect();
        if left.is_empty() || start.elapsed() >= limit || platform::interrupted() {
            return left;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// SIGTERM to the process and its children (deepest first), up to `grace`
/// for them to exit, then SIGKILL to those left.
pub fn terminate(pid: u32, start_time: u64, cmdline: &str, limits: Limits) -> Outcome {
    let Some(root) = same_process(pid, start_time, Some(cmdline))? else {
        return Ok(vec![format!("pid {pid} is already gone")]);
    };
    guard(&root, limits)?;
    let procs = tree(&root);
    let began = Instant::now();
    let mut lines = Vec::new();
    for p in &procs {
        if !alive(p) {
            continue;
        }
        platform::send_signal(p.pid, Signal::Term)
            .map_err(|e| format!("SIGTERM to pid {}: {e}", p.pid))?;
        // A stopped process only acts on SIGTERM once it runs again.
        if p.state == ProcState::Stopped {
            let _ = platform::send_signal(p.pid, Signal::Cont);
        }
    }
    // Ctrl-C during the grace period: say what was done and what was not.
    platform::catch_interrupts(true);
    let stubborn = wait_gone(&procs, limits.grace);
    platform::catch_interrupts(false);
    if platform::interrupted() {
        let running: Vec<String> = stubborn.iter().map(|p| p.pid.to_string()).collect();
        return Err(format!(
            "interrupted (Ctrl-C) during the grace period: SIGTERM was sent to pid{} {}; {}; no SIGKILL was sent",
            if procs.len() == 1 { "" } else { "s" },
            procs.iter().map(|p| p.pid.to_string()).collect::<Vec<_>>().join(", "),
            if running.is_empty() {
                "all of them have ended".to_string()
            } else {
                format!("still running: pid {}", running.join(", "))
            }
        ));
    }
    let took = began.elapsed().as_millis();
    for p in procs
        .iter()
        .filter(|p| !stubborn.iter().any(|s| s.pid == p.pid))
    {
        lines.push(redact::text(&format!(
            "pid {} ({}) ended after SIGTERM ({took} ms)",
            p.pid,
            crate::checks::shorten(&p.command(), 60)
        )));
    }
    if stubborn.is_empty() {
        return Ok(lines);
    }
    for p in &stubborn {
        if alive(p) {
            platform::send_signal(p.pid, Signal::Kill)
                .map_err(|e| format!("SIGKILL to pid {}: {e}", p.pid))?;
        }
    }
    let survivors = wait_gone(&stubborn, Duration::from_secs(2));
    for p in stubborn
        .iter()
        .filter(|p| !survivors.iter().any(|s| s.pid == p.pid))
    {
        lines.push(redact::text(&format!(
            "pid {} ({}) ignored SIGTERM for {} ms; ended by SIGKILL",
            p.pid,
            crate::checks::shorten(&p.command(), 60),
            limits.grace.as_millis()
        )));
    }
    if survivors.is_empty() {
        Ok(lines)
    } else {
        let pids: Vec<String> = survivors.iter().map(|p| p.pid.to_string()).collect();
        Err(format!(
            "{}; still running after SIGKILL: pid {}",
            lines.join("; "),
            pids.join(", ")
        ))
    }
}

fn copy_file(from: &Path, to: &Path) -> Outcome {
    // create_new: never overwrite, even if the file appeared since the report.
    let mut target = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(to)
        .map_err(|e| format!("{}: {e} (nothing was overwritten)", to.display()))?;
    let mut source = std::fs::File::open(from).map_err(|e| format!("{}: {e}", from.display()))?;
    std::io::copy(&mut source, &mut target)
        .map_err(|e| format!("copy to {}: {e}", to.display()))?;
    Ok(vec![format!(
        "copied {} to {}",
        redact::home(from),
        redact::home(to)
    )])
}

/// "Remove" keeps a backup: the file is renamed, never deleted.
fn remove_file(root: &Path, path: &Path) -> Outcome {
    let backup = backup_path(root, path)?;
    std::fs::rename(path, &backup).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(vec![format!(
        "moved {} to {}",
        redact::home(path),
        redact::home(&backup)
    )])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn process(pid: u32, uid: &str) -> platform::ProcessInfo {
        platform::ProcessInfo {
            pid,
            name: "python3".into(),
            cmdline: vec!["python3".into(), "-m".into(), "http.server".into()],
            exe: None,
            cwd: None,
            uid: Some(uid.into()),
            user: Some("alice".into()),
            start_time: 1,
            parent: Some(4000),
            state: ProcState::Sleeping,
        }
    }

    fn limits(force: bool) -> Limits {
        Limits {
            grace: Duration::from_secs(1),
            force,
        }
    }

    // A pid far above any real one: the ancestor rule cannot match it.
    const PID: u32 = u32::MAX - 7;

    /// Field round 7 gd P2 C': the user's own restart took the port while
    /// doctor's start was coming up; doctor claimed it. Now: not claimed,
    /// and what doctor started is ended.
    #[cfg(unix)]
    #[test]
    fn a_port_taken_by_someone_else_is_no_successful_start() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let root = tempfile::tempdir().unwrap();
        let out = start(root.path(), "sleep 30", root.path(), None, "api", port);
        let err = out.unwrap_err();
        assert!(err.contains("was taken by another process"), "{err}");
    }

    #[test]
    fn a_start_log_keeps_the_error_above_a_long_stack() {
        let mut text = String::from("> node server.js\nnode:internal/modules/cjs/loader:1210\nError: Cannot find module './apii'\nRequire stack:\n");
        for i in 0..20 {
            text.push_str(&format!("    at frame{i} (node:internal:{i})\n"));
        }
        let tail = log_tail(&text);
        assert_eq!(tail[0], "Error: Cannot find module './apii'", "{tail:?}");
        assert_eq!(tail.len(), 17, "{tail:?}");
        assert_eq!(log_tail("a\nError: b\nc\n"), ["a", "Error: b", "c"]);
    }

    #[test]
    fn another_users_process_is_refused_without_force() {
        let err = guard_as(&process(PID, "1001"), limits(false), Some("1000")).unwrap_err();
        assert!(err.contains("belongs to another user (alice)"), "{err}");
        assert!(err.contains("--force"), "{err}");
        assert!(guard_as(&process(PID, "1001"), limits(true), Some("1000")).is_ok());
    }

    #[test]
    fn own_process_and_root_are_allowed() {
        assert!(guard_as(&process(PID, "1000"), limits(false), Some("1000")).is_ok());
        assert!(guard_as(&process(PID, "1001"), limits(false), Some("0")).is_ok());
        // Windows spells users as SIDs; the same comparison applies.
        let sid = "S-1-5-21-1-2-3-1001";
        assert!(guard_as(&process(PID, sid), limits(false), Some(sid)).is_ok());
    }

    #[test]
    fn unknown_self_refuses_a_process_with_an_owner() {
        assert!(guard_as(&process(PID, "1001"), limits(false), None).is_err());
    }

    #[test]
    fn init_and_doctor_itself_are_refused_even_with_force() {
        for pid in [0, 1] {
            let err = guard_as(&process(pid, "0"), limits(true), Some("0")).unwrap_err();
            assert!(err.contains("init"), "{err}");
        }
        let err = guard_as(&process(std::process::id(), "0"), limits(true), Some("0")).unwrap_err();
        assert!(err.contains("doctor itself"), "{err}");
    }
}
