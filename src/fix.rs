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
    }
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

/// Never pid 0/1, doctor or its ancestors; another user's process only with --force.
fn guard(p: &platform::ProcessInfo, limits: Limits) -> Result<(), String> {
    if p.pid <= 1 {
        return Err(format!("refused: pid {} is the system's init", p.pid));
    }
    if platform::self_and_ancestors().contains(&p.pid) {
        return Err(format!(
            "refused: pid {} is doctor itself or the shell that runs it",
            p.pid
        ));
    }
    let me = platform::current_uid();
    if !limits.force && me.as_deref() != Some("0") && p.uid.is_some() && p.uid != me {
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
        if left.is_empty() || start.elapsed() >= limit {
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
    let stubborn = wait_gone(&procs, limits.grace);
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
    let mut backup = path.as_os_str().to_owned();
    backup.push(".doctor-backup");
    let mut backup = std::path::PathBuf::from(backup);
    let mut n = 1;
    while backup.exists() {
        let mut b = path.as_os_str().to_owned();
        b.push(format!(".doctor-backup.{n}"));
        backup = b.into();
        n += 1;
    }
    std::fs::rename(path, &backup).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(vec![format!(
        "moved {} to {}",
        redact::home(path),
        redact::home(&backup)
    )])
}
