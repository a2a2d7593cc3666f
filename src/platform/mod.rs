//! The one place that knows the operating system: TCP sockets with their
//! owners, and facts about processes. Everything above this module works with
//! these plain types, so the checks are the same on every OS.
//!
//! - Linux: `/proc/net/tcp{,6}` (every state, the accept queue of LISTEN
//!   sockets), owners by scanning `/proc/PID/fd` only until the sockets asked
//!   about are found, and `/proc/PID/task/*/fd` for defunct leaders.
//! - Windows: netstat2 (the OS's TCP table carries the owning pid).
//! - macOS: `lsof` (always installed there; netstat2 needs the SDK to build).
//!
//! Process facts come from sysinfo everywhere, refreshed only for the pids asked.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
mod netlink;
#[cfg(target_os = "linux")]
use linux as os;

#[cfg(target_os = "macos")]
mod macos;
#[cfg(target_os = "macos")]
use macos as os;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as os;

#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
mod unsupported;
#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
use unsupported as os;

mod detached;
pub use detached::{environment_of, spawn_detached, spawn_detached_argv};
mod output;
pub use output::{dead_output, DeadOutput};
mod process;
pub use process::{all_processes, process_info, processes, ProcState, ProcessInfo};
pub mod environment;
mod signal;
pub mod windows_text;
pub use signal::{catch_interrupts, interrupted, send_signal, Signal};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TcpState {
    Listen,
    SynSent,
    SynRecv,
    Established,
    FinWait1,
    FinWait2,
    CloseWait,
    Closing,
    LastAck,
    TimeWait,
    Close,
    Unknown,
}

impl TcpState {
    pub fn as_str(self) -> &'static str {
        match self {
            TcpState::Listen => "LISTEN",
            TcpState::SynSent => "SYN_SENT",
            TcpState::SynRecv => "SYN_RECV",
            TcpState::Established => "ESTABLISHED",
            TcpState::FinWait1 => "FIN_WAIT1",
            TcpState::FinWait2 => "FIN_WAIT2",
            TcpState::CloseWait => "CLOSE_WAIT",
            TcpState::Closing => "CLOSING",
            TcpState::LastAck => "LAST_ACK",
            TcpState::TimeWait => "TIME_WAIT",
            TcpState::Close => "CLOSE",
            TcpState::Unknown => "UNKNOWN",
        }
    }

    /// States that outlive a closed connection and clear by themselves.
    pub fn is_closing_leftover(self) -> bool {
        matches!(
            self,
            TcpState::TimeWait
                | TcpState::FinWait1
                | TcpState::FinWait2
                | TcpState::Closing
                | TcpState::LastAck
                | TcpState::Close
        )
    }
}

/// Who owns a socket, as far as this user can see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owners {
    /// The processes holding it (several when inherited or passed).
    Pids(Vec<u32>),
    /// The socket belongs to no process (TIME_WAIT and friends): nothing to see.
    NoProcess,
    /// A process holds it, but not one this user may look into.
    Hidden,
}

#[derive(Debug, Clone)]
pub struct Socket {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub state: TcpState,
    /// The socket's owning uid where the OS says it (Linux).
    pub uid: Option<u32>,
    /// LISTEN only: connections waiting for accept() (Linux `rx_queue`, `ss` Recv-Q).
    pub accept_queue: Option<u32>,
    pub owners: Owners,
}

impl Socket {
    /// A LISTEN socket on `local` held by `pid`, for unit tests of the rules.
    #[cfg(test)]
    pub fn sample_listener(local: &str, pid: u32) -> Socket {
        Socket {
            local: local.parse().expect("an address:port"),
            remote: if local.starts_with('[') {
                "[::]:0"
            } else {
                "0.0.0.0:0"
            }
            .parse()
            .unwrap(),
            state: TcpState::Listen,
            uid: None,
            accept_queue: None,
            owners: Owners::Pids(vec![pid]),
        }
    }

    pub fn pids(&self) -> &[u32] {
        match &self.owners {
            Owners::Pids(p) => p,
            _ => &[],
        }
    }
}

/// Which sockets to report: those whose local or remote port is in the set.
#[derive(Debug, Clone, Default)]
pub struct PortSet(pub BTreeSet<u16>);

impl PortSet {
    pub fn contains(&self, port: u16) -> bool {
        self.0.contains(&port)
    }

    /// A socket touches the set when either end's port is in it (remote port
    /// 0 is a listener's "no peer", not a port).
    pub fn touches(&self, local: u16, remote: u16) -> bool {
        self.contains(local) || (remote != 0 && self.contains(remote))
    }
}

/// Every TCP socket (v4 and v6, every state) touching one of `ports`, with
/// owners resolved. An OS table that cannot be read is an error; a single
/// process that vanishes or cannot be read is not.
pub fn sockets(ports: &PortSet) -> std::io::Result<Vec<Socket>> {
    if ports.0.is_empty() {
        return Ok(Vec::new());
    }
    let me = std::process::id();
    let mut sockets = os::sockets(ports)?;
    // doctor's own probes (health, CORS) are not part of the user's stack.
    sockets.retain(|s| s.pids() != [me]);
    Ok(sockets)
}

/// Extra facts that only some platforms know; `None` where unknown.
#[derive(Debug, Clone, Default)]
pub struct ProcessExtras {
    /// The executable was deleted or replaced after the process started.
    pub exe_deleted: Option<bool>,
    /// The session id (Unix): a child shares its parent's session or leads
    /// its own, so any other session means it was reparented.
    pub session: Option<u32>,
    /// The working folder was removed after the process entered it (a
    /// deleted or re-cloned checkout): the path it had. Linux only: the
    /// kernel marks the link ` (deleted)` and the folder has no links left.
    pub cwd_deleted: Option<PathBuf>,
}

/// LISTEN sockets (any port) held by these pids: the other ports of a
/// process doctor already knows about.
pub fn listeners_of(pids: &[u32]) -> std::io::Result<Vec<Socket>> {
    if pids.is_empty() {
        return Ok(Vec::new());
    }
    os::listeners_of(pids)
}

/// One variable of a process's environment: `None` when it cannot be read
/// (another user's process, or an OS that does not show it), `Some(None)`
/// when it is not set.
pub fn env_var_of(pid: u32, name: &str) -> Option<Option<String>> {
    #[cfg(target_os = "linux")]
    {
        let bytes = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
        let prefix = format!("{name}=");
        Some(
            bytes
                .split(|b| *b == 0)
                .find_map(|kv| kv.strip_prefix(prefix.as_bytes()))
                .map(|v| String::from_utf8_lossy(v).into_owned()),
        )
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (pid, name);
        None
    }
}

/// The TCP socket table of the network namespace process `pid` is in, as
/// Linux prints it (`/proc/PID/net/tcp` then `tcp6`): a container's own
/// table when `pid` is its init process. `None` where it cannot be read.
pub fn netns_tcp_table(pid: u32) -> Option<String> {
    #[cfg(target_os = "linux")]
    {
        let v4 = std::fs::read_to_string(format!("/proc/{pid}/net/tcp")).ok()?;
        let v6 = std::fs::read_to_string(format!("/proc/{pid}/net/tcp6")).unwrap_or_default();
        Some(v4 + &v6)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = pid;
        None
    }
}

/// Direct children of a process.
pub fn children_of(pid: u32) -> Vec<u32> {
    os::children_of(pid)
}

/// A process and its descendants, breadth first, at most `most` of them
/// (a watcher's server is its grandchild, under `sh -c`).
pub fn descendants(pid: u32, most: usize) -> Vec<u32> {
    let mut tree = vec![pid];
    let mut i = 0;
    while i < tree.len() && tree.len() < most {
        tree.extend(children_of(tree[i]));
        i += 1;
    }
    tree.truncate(most);
    tree
}

pub fn process_extras(pid: u32) -> ProcessExtras {
    os::process_extras(pid)
}

/// The pids of doctor itself and all its ancestors: never to be ended.
pub fn self_and_ancestors() -> BTreeSet<u32> {
    let mut out = BTreeSet::new();
    let mut pid = std::process::id();
    for _ in 0..64 {
        out.insert(pid);
        match process_info(pid).and_then(|p| p.parent) {
            Some(parent) if parent != pid && parent != 0 => pid = parent,
            _ => break,
        }
    }
    out
}

/// The user doctor runs as, spelled as `ProcessInfo::uid` spells it: the
/// effective uid on Unix, the user's SID on Windows (from doctor's own process).
pub fn current_uid() -> Option<String> {
    #[cfg(unix)]
    {
        // SAFETY: geteuid(2) cannot fail and touches no memory.
        Some(unsafe { libc::geteuid() }.to_string())
    }
    #[cfg(not(unix))]
    {
        process_info(std::process::id()).and_then(|p| p.uid)
    }
}

/// The width of the terminal on stderr, when stderr is one (the `--wait`
/// live line is drawn there, whatever stdout is).
pub fn stderr_columns() -> Option<u16> {
    #[cfg(unix)]
    {
        // SAFETY: TIOCGWINSZ fills a winsize we own; fd 2 may not be a tty,
        // then the call fails and nothing is read.
        let mut size: libc::winsize = unsafe { std::mem::zeroed() };
        let ok = unsafe { libc::ioctl(2, libc::TIOCGWINSZ, &mut size) } == 0;
        (ok && size.ws_col > 0).then_some(size.ws_col)
    }
    #[cfg(not(unix))]
    {
        std::env::var("COLUMNS").ok()?.parse().ok()
    }
}

/// A home folder to shorten paths with (`~/…`).
pub fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .or_else(|| std::env::var_os("USERPROFILE"))
        .map(PathBuf::from)
        .filter(|p| !p.as_os_str().is_empty())
}

/// The machine's IPv4 addresses with their interface names, in the order
/// the OS lists them (what Node's `os.networkInterfaces()` shows). `None`
/// where doctor cannot list them.
pub fn ipv4_interfaces() -> Option<Vec<(String, std::net::Ipv4Addr)>> {
    #[cfg(unix)]
    {
        let mut out = Vec::new();
        let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
        // SAFETY: getifaddrs fills `head` with a list it allocated; it is
        // read below and freed with freeifaddrs exactly once.
        if unsafe { libc::getifaddrs(&mut head) } != 0 {
            return None;
        }
        let mut at = head;
        while !at.is_null() {
            // SAFETY: `at` is a node of the list getifaddrs returned.
            let ifa = unsafe { &*at };
            if !ifa.ifa_addr.is_null()
                // SAFETY: ifa_addr points at a sockaddr of the list.
                && i32::from(unsafe { (*ifa.ifa_addr).sa_family }) == libc::AF_INET
            {
                // SAFETY: an AF_INET address is a sockaddr_in.
                let sin = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
                let ip = std::net::Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
                // SAFETY: ifa_name is a NUL-terminated C string of the list.
                let name = unsafe { std::ffi::CStr::from_ptr(ifa.ifa_name) }
                    .to_string_lossy()
                    .into_owned();
                out.push((name, ip));
            }
            at = ifa.ifa_next;
        }
        // SAFETY: `head` came from getifaddrs and is freed once.
        unsafe { libc::freeifaddrs(head) };
        Some(out)
    }
    #[cfg(not(unix))]
    {
        None
    }
}
