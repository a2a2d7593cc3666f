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

pub fn apply(action: &FixAction, limits: Limits) -> Outcome {
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
        FixAction::CopyFile { from, to } => copy_file(from, to),
        FixAction::RemoveFile { path } => remove_file(path),
        FixAction::Run { program, args, cwd } => run_streamed(program, args, cwd),
        FixAction::AppendKeys { path, keys } => append_keys(path, keys),
        FixAction::EditLine {
            path,
            line,
            from,
            to,
        } => edit_line(path, *line, from, to),
    }
}

/// A free backup name beside `path`: `FILE.doctor-backup`, then `.1`, `.2`…
fn backup_path(path: &Path) -> std::path::PathBuf {
    let mut n = 0;
    loop {
        let mut name = path.as_os_str().to_owned();
        name.push(".doctor-backup");
        if n > 0 {
            name.push(format!(".{n}"));
        }
        let candidate = std::path::PathBuf::from(name);
        if !candidate.exists() {
            return candidate;
        }
        n += 1;
    }
}

fn backup(path: &Path) -> Result<std::path::PathBuf, String> {
    let to = backup_path(path);
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

fn append_keys(path: &Path, keys: &[String]) -> Outcome {
    let saved = backup(path)?;
    let mut text =
        std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", redact::home(path)))?;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    for key in keys {
        text.push_str(&format!("{key}=\n"));
    }
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", redact::home(path)))?;
    Ok(vec![format!(
        "added {} to {} (backup: {})",
        keys.join(", "),
        redact::home(path),
        redact::home(&saved)
    )])
}

fn edit_line(path: &Path, line: usize, from: &str, to: &str) -> Outcome {
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
    let saved = backup(path)?;
    std::fs::write(path, lines.join("\n")).map_err(|e| format!("{}: {e}", redact::home(path)))?;
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
fn remove_file(path: &Path) -> Outcome {
    let backup = backup_path(path);
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
