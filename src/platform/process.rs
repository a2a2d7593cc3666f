//! Process facts through sysinfo, refreshed only for the pids asked about
//! (a full refresh costs ~40x more than two pids).

use std::collections::HashMap;
use std::path::PathBuf;

use sysinfo::{Pid, ProcessRefreshKind, ProcessStatus, ProcessesToUpdate, System, UpdateKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcState {
    Running,
    Sleeping,
    /// Stopped by a signal (Ctrl-Z, SIGSTOP) or a tracer: state T.
    Stopped,
    /// Exited, not yet reaped by its parent (defunct).
    Zombie,
    Other,
}

impl ProcState {
    pub fn as_str(self) -> &'static str {
        match self {
            ProcState::Running => "running",
            ProcState::Sleeping => "sleeping",
            ProcState::Stopped => "stopped",
            ProcState::Zombie => "zombie",
            ProcState::Other => "other",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ProcessInfo {
    pub pid: u32,
    pub name: String,
    /// Empty for zombies and kernel threads.
    pub cmdline: Vec<String>,
    pub exe: Option<PathBuf>,
    pub cwd: Option<PathBuf>,
    pub uid: Option<String>,
    pub user: Option<String>,
    /// Seconds since the Unix epoch. With the pid, it names one process for good
    /// (a reused pid has another start time).
    pub start_time: u64,
    pub parent: Option<u32>,
    pub state: ProcState,
}

impl ProcessInfo {
    /// A running process with this command line, for unit tests of rules
    /// that read process facts.
    #[cfg(test)]
    pub fn sample(pid: u32, cmdline: &[&str]) -> ProcessInfo {
        ProcessInfo {
            pid,
            name: cmdline.first().map_or(String::new(), |c| c.to_string()),
            cmdline: cmdline.iter().map(|s| s.to_string()).collect(),
            exe: None,
            cwd: Some("/p".into()),
            uid: None,
            user: None,
            start_time: 0,
            parent: None,
            state: ProcState::Sleeping,
        }
    }
}

impl ProcessInfo {
    /// The command line as one string, or `[name]` when it is empty (zombies).
    pub fn command(&self) -> String {
        if self.cmdline.is_empty() {
            format!("[{}]", self.name)
        } else {
            self.cmdline.join(" ")
        }
    }
}

fn convert(pid: u32, p: &sysinfo::Process, users: Option<&sysinfo::Users>) -> ProcessInfo {
    let uid = p.user_id();
    ProcessInfo {
        pid,
        name: p.name().to_string_lossy().into_owned(),
        cmdline: p
            .cmd()
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect(),
        exe: p.exe().map(PathBuf::from),
        cwd: p.cwd().map(PathBuf::from),
        uid: uid.map(|u| u.to_string()),
        user: uid
            .zip(users)
            .and_then(|(uid, users)| users.get_user_by_id(uid))
            .map(|u| u.name().to_string()),
        start_time: p.start_time(),
        parent: p.parent().map(|p| p.as_u32()),
        state: match p.status() {
            ProcessStatus::Run => ProcState::Running,
            ProcessStatus::Sleep | ProcessStatus::Idle => ProcState::Sleeping,
            ProcessStatus::Stop | ProcessStatus::Tracing => ProcState::Stopped,
            ProcessStatus::Zombie | ProcessStatus::Dead => ProcState::Zombie,
            _ => ProcState::Other,
        },
    }
}

fn refresh_kind() -> ProcessRefreshKind {
    ProcessRefreshKind::nothing()
        .with_cmd(UpdateKind::Always)
        .with_cwd(UpdateKind::Always)
        .with_exe(UpdateKind::Always)
        .with_user(UpdateKind::Always)
}

/// Facts about each pid that exists and can be read; missing pids are absent.
pub fn processes(pids: &[u32]) -> HashMap<u32, ProcessInfo> {
    let mut wanted: Vec<Pid> = pids.iter().map(|&p| Pid::from_u32(p)).collect();
    // sysinfo drops a process when the same pid is passed twice with remove_dead.
    wanted.sort_unstable();
    wanted.dedup();
    if wanted.is_empty() {
        return HashMap::new();
    }
    let Ok(mut system) = System::new() else {
        return HashMap::new();
    };
    system.refresh_processes_specifics(ProcessesToUpdate::Some(&wanted), true, refresh_kind());
    let users = if system.processes().values().any(|p| p.user_id().is_some()) {
        sysinfo::Users::new_with_refreshed_list().ok()
    } else {
        None
    };
    system
        .processes()
        .iter()
        .filter(|(pid, _)| wanted.binary_search(pid).is_ok())
        .map(|(pid, p)| (pid.as_u32(), convert(pid.as_u32(), p, users.as_ref())))
        .collect()
}

/// Every process with its command line and folder (no user, no exe): for
/// checks that look for copies of a process across the machine.
pub fn all_processes() -> HashMap<u32, ProcessInfo> {
    let Ok(mut system) = System::new() else {
        return HashMap::new();
    };
    let kind = ProcessRefreshKind::nothing()
        .with_cmd(UpdateKind::Always)
        .with_cwd(UpdateKind::Always);
    system.refresh_processes_specifics(ProcessesToUpdate::All, true, kind);
    system
        .processes()
        .iter()
        // Threads are listed as tasks of their process: one app, one entry.
        .filter(|(_, p)| p.thread_kind() != Some(sysinfo::ThreadKind::Userland))
        .map(|(pid, p)| (pid.as_u32(), convert(pid.as_u32(), p, None)))
        .collect()
}

pub fn process_info(pid: u32) -> Option<ProcessInfo> {
    processes(&[pid]).remove(&pid)
}

/// Children found by listing every process: for OSes without a cheaper way.
#[cfg(not(target_os = "linux"))]
pub fn children_by_scan(pid: u32) -> Vec<u32> {
    all_processes()
        .values()
        .filter(|p| p.parent == Some(pid))
        .map(|p| p.pid)
        .collect()
}
