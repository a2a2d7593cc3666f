//! Sending a signal to one pid. Unix: kill(2). Windows: only "kill" exists
//! (TerminateProcess, through sysinfo); a stopped state does not exist there.

use std::io;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Term,
    Kill,
    Cont,
}

impl Signal {
    pub fn name(self) -> &'static str {
        match self {
            Signal::Term => "SIGTERM",
            Signal::Kill => "SIGKILL",
            Signal::Cont => "SIGCONT",
        }
    }
}

#[cfg(unix)]
pub fn send_signal(pid: u32, signal: Signal) -> io::Result<()> {
    let number = match signal {
        Signal::Term => libc::SIGTERM,
        Signal::Kill => libc::SIGKILL,
        Signal::Cont => libc::SIGCONT,
    };
    let pid = i32::try_from(pid).map_err(|_| io::Error::other("pid out of range"))?;
    if pid <= 1 {
        return Err(io::Error::other("refusing to signal pid 0 or 1"));
    }
    // SAFETY: kill(2) takes plain integers and touches no memory of ours.
    if unsafe { libc::kill(pid, number) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(unix))]
pub fn send_signal(pid: u32, signal: Signal) -> io::Result<()> {
    use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};
    if signal == Signal::Cont {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "no stopped processes on this OS",
        ));
    }
    let mut system = System::new().map_err(|e| io::Error::other(e.to_string()))?;
    let target = Pid::from_u32(pid);
    system.refresh_processes_specifics(
        ProcessesToUpdate::Some(&[target]),
        true,
        ProcessRefreshKind::nothing(),
    );
    match system.process(target).map(|p| p.kill()) {
        Some(true) => Ok(()),
        Some(false) => Err(io::Error::other("the OS refused to end the process")),
        None => Err(io::Error::new(io::ErrorKind::NotFound, "no such process")),
    }
}

/// Ctrl-C while doctor waits out a grace period: noted, so that doctor can
/// say what state it left (SIGTERM sent, no SIGKILL) instead of dying
/// silently half-way. Outside those waits Ctrl-C ends doctor as usual.
static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

#[cfg(unix)]
extern "C" fn on_interrupt(_: libc::c_int) {
    INTERRUPTED.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// Note Ctrl-C instead of dying (`true`), or die of it again (`false`).
pub fn catch_interrupts(catch: bool) {
    #[cfg(unix)]
    {
        let handler = if catch {
            on_interrupt as extern "C" fn(libc::c_int) as libc::sighandler_t
        } else {
            libc::SIG_DFL
        };
        // SAFETY: the handler only stores to an atomic (async-signal-safe).
        unsafe { libc::signal(libc::SIGINT, handler) };
    }
    #[cfg(not(unix))]
    let _ = catch;
}

/// Whether Ctrl-C came while interrupts were caught.
pub fn interrupted() -> bool {
    INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst)
}
