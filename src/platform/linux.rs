//! Linux: sockets from /proc/net/tcp{,6}, owners from /proc/PID/fd.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::{Owners, PortSet, ProcessExtras, Socket, TcpState};

/// A table line, before owners are known.
pub(super) struct RawSocket {
    pub socket: Socket,
    pub inode: u64,
}

/// Sockets of both families that `keep(local_port, remote_port, state)`
/// wants: from netlink when allowed, else from the /proc text tables.
fn read_tables(keep: &dyn Fn(u16, u16, u8) -> bool) -> io::Result<Vec<RawSocket>> {
    if std::env::var_os("DOCTOR_NO_NETLINK").is_none() {
        if let Ok(raw) = super::netlink::tables(keep) {
            return Ok(raw);
        }
    }
    read_proc_tables(keep)
}

fn read_proc_tables(keep: &dyn Fn(u16, u16, u8) -> bool) -> io::Result<Vec<RawSocket>> {
    let mut raw = Vec::new();
    let mut any_table = false;
    for (path, v6) in [("/proc/net/tcp", false), ("/proc/net/tcp6", true)] {
        match fs::read_to_string(path) {
            Ok(text) => {
                any_table = true;
                raw.extend(text.lines().skip(1).filter_map(|l| parse_line(l, v6, keep)));
            }
            // tcp6 is absent when IPv6 is disabled: that is not an error.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io::Error::new(e.kind(), format!("{path}: {e}"))),
        }
    }
    if !any_table {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "/proc/net/tcp is not readable (is /proc mounted?)",
        ));
    }
    Ok(raw)
}

/// `Owners` of a table line from the inode → pids map.
fn owners_of(inode: u64, owners: &HashMap<u64, Vec<u32>>) -> Owners {
    if inode == 0 {
        return Owners::NoProcess;
    }
    match owners.get(&inode) {
        Some(pids) => Owners::Pids(pids.clone()),
        None => Owners::Hidden,
    }
}

pub fn sockets(ports: &PortSet) -> io::Result<Vec<Socket>> {
    let raw = read_tables(&|local, remote, _| ports.touches(local, remote))?;
    let targets: HashSet<u64> = raw.iter().map(|r| r.inode).filter(|&i| i != 0).collect();
    let listening: HashSet<u64> = raw
        .iter()
        .filter(|r| r.socket.state == TcpState::Listen)
        .map(|r| r.inode)
        .collect();
    let owners = find_owners(&targets, &listening);
    Ok(raw
        .into_iter()
        .map(|r| {
            let mut s = r.socket;
            s.owners = owners_of(r.inode, &owners);
            s
        })
        .collect())
}

/// One line of /proc/net/tcp:
/// `sl local rem st tx_queue:rx_queue tr:when retrnsmt uid timeout inode ...`
fn parse_line(line: &str, v6: bool, keep: &dyn Fn(u16, u16, u8) -> bool) -> Option<RawSocket> {
    let mut f = line.split_ascii_whitespace();
    let _sl = f.next()?;
    let local = f.next()?;
    let remote = f.next()?;
    // Ports first: most lines are dropped here, before any other parsing.
    let lport = u16::from_str_radix(local.rsplit_once(':')?.1, 16).ok()?;
    let rport = u16::from_str_radix(remote.rsplit_once(':')?.1, 16).ok()?;
    let state_number = u8::from_str_radix(f.next()?, 16).ok()?;
    if !keep(lport, rport, state_number) {
        return None;
    }
    let state = parse_state_number(state_number);
    let (_tx, rx) = f.next()?.split_once(':')?;
    let _tr = f.next()?;
    let _retr = f.next()?;
    let uid = f.next()?.parse().ok();
    let _timeout = f.next()?;
    let inode = f.next()?.parse().ok()?;
    Some(RawSocket {
        socket: Socket {
            local: SocketAddr::new(parse_addr(local.rsplit_once(':')?.0, v6)?, lport),
            remote: SocketAddr::new(parse_addr(remote.rsplit_once(':')?.0, v6)?, rport),
            state,
            uid,
            accept_queue: (state == TcpState::Listen)
                .then(|| u32::from_str_radix(rx, 16).ok())
                .flatten(),
            owners: Owners::NoProcess,
        },
        inode,
    })
}

/// The kernel's TCP state numbers (include/net/tcp_states.h).
pub(super) fn parse_state_number(n: u8) -> TcpState {
    match n {
        0x01 => TcpState::Established,
        0x02 => TcpState::SynSent,
        0x03 | 0x0C => TcpState::SynRecv,
        0x04 => TcpState::FinWait1,
        0x05 => TcpState::FinWait2,
        0x06 => TcpState::TimeWait,
        0x07 => TcpState::Close,
        0x08 => TcpState::CloseWait,
        0x09 => TcpState::LastAck,
        0x0A => TcpState::Listen,
        0x0B => TcpState::Closing,
        _ => TcpState::Unknown,
    }
}

/// The kernel prints each 32-bit word of the address in host byte order.
fn parse_addr(hex: &str, v6: bool) -> Option<IpAddr> {
    if !v6 {
        let word = u32::from_str_radix(hex, 16).ok()?;
        return Some(IpAddr::V4(Ipv4Addr::from(word.to_ne_bytes())));
    }
    if hex.len() != 32 {
        return None;
    }
    let mut bytes = [0u8; 16];
    for i in 0..4 {
        let word = u32::from_str_radix(&hex[i * 8..i * 8 + 8], 16).ok()?;
        bytes[i * 4..i * 4 + 4].copy_from_slice(&word.to_ne_bytes());
    }
    Some(IpAddr::V6(Ipv6Addr::from(bytes)))
}

fn numeric_dirs(path: &str) -> impl Iterator<Item = u32> {
    fs::read_dir(path)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
}

/// The socket inodes among `targets` that the fd folder holds.
fn socket_inodes_in(fd_dir: &str, targets: &HashSet<u64>, out: &mut Vec<u64>) {
    let Ok(entries) = fs::read_dir(fd_dir) else {
        return; // gone, or another user's: both are fine here
    };
    for entry in entries.flatten() {
        let Ok(link) = fs::read_link(entry.path()) else {
            continue;
        };
        let Some(inode) = link
            .to_str()
            .and_then(|l| l.strip_prefix("socket:["))
            .and_then(|l| l.strip_suffix(']'))
            .and_then(|l| l.parse::<u64>().ok())
        else {
            continue;
        };
        if targets.contains(&inode) && !out.contains(&inode) {
            out.push(inode);
        }
    }
}

/// Which pids hold each target inode.
///
/// Scanning every process's fds is what makes `ss -p` slow, so the scan stops
/// as soon as every target is found; the holders' parents and children are
/// then looked at too, since a listening socket is shared by inheritance
/// (reloader and worker, prefork masters). Sockets still unfound may belong to
/// a defunct leader whose threads hold them: only `/proc/PID/task/*/fd` shows
/// those.
fn find_owners(targets: &HashSet<u64>, listening: &HashSet<u64>) -> HashMap<u64, Vec<u32>> {
    let mut owners: HashMap<u64, Vec<u32>> = HashMap::new();
    if targets.is_empty() {
        return owners;
    }
    let mut found = Vec::new();
    let mut scanned = HashSet::new();
    let mut record = |pid: u32, fd_dir: &str, owners: &mut HashMap<u64, Vec<u32>>| {
        found.clear();
        socket_inodes_in(fd_dir, targets, &mut found);
        for &inode in &found {
            let pids = owners.entry(inode).or_default();
            if !pids.contains(&pid) {
                pids.push(pid);
            }
        }
    };
    let mut complete_scan = true;
    for pid in scan_order() {
        scanned.insert(pid);
        record(pid, &format!("/proc/{pid}/fd"), &mut owners);
        if owners.len() == targets.len() {
            complete_scan = false;
            break;
        }
    }
    if !complete_scan {
        let holders: Vec<u32> = owners
            .iter()
            .filter(|(inode, _)| listening.contains(inode))
            .flat_map(|(_, pids)| pids.iter().copied())
            .collect();
        let mut relatives = Vec::new();
        for pid in holders {
            relatives.extend(parent_of(pid));
            relatives.extend(children_of(pid));
        }
        for pid in relatives {
            if scanned.insert(pid) {
                record(pid, &format!("/proc/{pid}/fd"), &mut owners);
            }
        }
    }
    if owners.len() < targets.len() {
        for pid in numeric_dirs("/proc") {
            if proc_state(pid) == Some('Z') {
                for tid in numeric_dirs(&format!("/proc/{pid}/task")) {
                    record(pid, &format!("/proc/{pid}/task/{tid}/fd"), &mut owners);
                }
            }
        }
    }
    for pids in owners.values_mut() {
        pids.sort_unstable();
    }
    owners
}

/// Every pid, those with small fd tables first. Dev servers hold a few dozen
/// fds; the processes with thousands (browsers, databases, load generators)
/// are where a scan spends its time, and the early stop usually skips them.
fn scan_order() -> Vec<u32> {
    let mut pids: Vec<(u32, u32)> = numeric_dirs("/proc")
        .map(|pid| (fd_table_size(pid).unwrap_or(u32::MAX), pid))
        .collect();
    pids.sort_unstable();
    pids.into_iter().map(|(_, pid)| pid).collect()
}

/// `FDSize` of /proc/PID/status: the fd table's allocated size.
fn fd_table_size(pid: u32) -> Option<u32> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("FDSize:"))?
        .trim()
        .parse()
        .ok()
}

/// `/proc/PID/stat` fields after the command name, which may hold spaces and parens.
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    Some(rest.split_ascii_whitespace().map(String::from).collect())
}

fn proc_state(pid: u32) -> Option<char> {
    stat_fields(pid)?.first()?.chars().next()
}

fn parent_of(pid: u32) -> Option<u32> {
    stat_fields(pid)?.get(1)?.parse().ok()
}

pub fn children_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for tid in numeric_dirs(&format!("/proc/{pid}/task")) {
        if let Ok(text) = fs::read_to_string(format!("/proc/{pid}/task/{tid}/children")) {
            out.extend(
                text.split_ascii_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok()),
            );
        }
    }
    out
}

pub fn listeners_of(pids: &[u32]) -> io::Result<Vec<Socket>> {
    const LISTEN: u8 = 0x0A;
    let raw = read_tables(&|_, _, state| state == LISTEN)?;
    let targets: HashSet<u64> = raw.iter().map(|r| r.inode).collect();
    let mut owners: HashMap<u64, Vec<u32>> = HashMap::new();
    let mut found = Vec::new();
    for &pid in pids {
        found.clear();
        socket_inodes_in(&format!("/proc/{pid}/fd"), &targets, &mut found);
        for &inode in &found {
            owners.entry(inode).or_default().push(pid);
        }
    }
    Ok(raw
        .into_iter()
        .filter(|r| owners.contains_key(&r.inode))
        .map(|r| {
            let mut s = r.socket;
            s.owners = owners_of(r.inode, &owners);
            s
        })
        .collect())
}

pub fn process_extras(pid: u32) -> ProcessExtras {
    ProcessExtras {
        exe_deleted: fs::read_link(format!("/proc/{pid}/exe"))
            .ok()
            .map(|p| p.to_string_lossy().ends_with(" (deleted)")),
        // stat: state ppid pgrp session ...
        session: stat_fields(pid).and_then(|f| f.get(3)?.parse().ok()),
        cwd_deleted: deleted_cwd(pid),
    }
}

/// The path a process's working folder had when that folder is gone: the
/// link reads `PATH (deleted)` and the folder it leads to has no links (a
/// folder really named `x (deleted)` still has them).
fn deleted_cwd(pid: u32) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let link = fs::read_link(format!("/proc/{pid}/cwd")).ok()?;
    let text = link.to_string_lossy();
    let old = text.strip_suffix(" (deleted)")?;
    let meta = fs::metadata(format!("/proc/{pid}/cwd")).ok()?;
    (meta.nlink() == 0).then(|| std::path::PathBuf::from(old))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_ports(_: u16, _: u16, _: u8) -> bool {
        true
    }

    #[test]
    fn parses_a_recorded_v4_listen_line() {
        let line = "   0: 0100007F:1F40 00000000:0000 0A 00000000:00000003 00:00000000 00000000  1000        0 4242 1 0000000000000000 100 0 0 10 0";
        let r = parse_line(line, false, &all_ports).unwrap();
        assert_eq!(r.socket.local, "127.0.0.1:8000".parse().unwrap());
        assert_eq!(r.socket.state, TcpState::Listen);
        assert_eq!(r.socket.accept_queue, Some(3));
        assert_eq!(r.socket.uid, Some(1000));
        assert_eq!(r.inode, 4242);
    }

    #[test]
    fn parses_a_recorded_v6_time_wait_line() {
        let line = "   1: 00000000000000000000000001000000:1F40 00000000000000000000000001000000:A2B4 06 00000000:00000000 03:00000CE6 00000000     0        0 0 3 0000000000000000";
        let r = parse_line(line, true, &all_ports).unwrap();
        assert_eq!(r.socket.local, "[::1]:8000".parse().unwrap());
        assert_eq!(r.socket.remote.port(), 0xA2B4);
        assert_eq!(r.socket.state, TcpState::TimeWait);
        assert_eq!(r.socket.accept_queue, None);
        assert_eq!(r.inode, 0);
    }

    #[test]
    fn v4_mapped_v6_and_filtering() {
        let line = "   2: 0000000000000000FFFF00000100007F:1F40 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 77 1";
        let r = parse_line(line, true, &all_ports).unwrap();
        assert_eq!(r.socket.local.ip().to_string(), "::ffff:127.0.0.1");
        let only_9999 = PortSet([9999].into());
        assert!(parse_line(line, true, &|l, r, _| only_9999.touches(l, r)).is_none());
        assert!(parse_line("garbage", false, &all_ports).is_none());
        assert!(parse_line("0: zz:zz", false, &all_ports).is_none());
    }
}

#[cfg(test)]
mod source_agreement {
    use super::*;

    /// netlink and /proc/net/tcp describe the same sockets.
    #[test]
    fn netlink_and_proc_agree() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let keep = |l: u16, r: u16, _: u8| l == port || r == port;
        let Ok(from_netlink) = super::super::netlink::tables(&keep) else {
            return; // netlink not allowed here: /proc is what doctor uses
        };
        let from_proc = read_proc_tables(&keep).unwrap();
        let view = |v: &[RawSocket]| {
            let mut out: Vec<_> = v
                .iter()
                .map(|r| {
                    (
                        r.socket.local,
                        r.socket.state,
                        r.socket.accept_queue,
                        r.inode,
                    )
                })
                .collect();
            out.sort_by_key(|x| x.3);
            out
        };
        assert_eq!(view(&from_netlink), view(&from_proc));
        assert_eq!(view(&from_netlink).len(), 1);
    }
}

#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    proptest! {
        /// A line of /proc/net/tcp{,6} of any shape never panics the parser.
        #[test]
        fn proc_net_lines_never_panic(line in ".{0,300}", v6 in any::<bool>()) {
            let _ = super::parse_line(&line, v6, &|_, _, _| true);
        }

        #[test]
        fn proc_net_like_lines_never_panic(
            sl in 0u32..100, a in "[0-9A-F]{0,40}", p in "[0-9A-F]{0,6}", st in "[0-9A-F]{0,3}",
            rest in "[ 0-9A-F:]{0,120}",
        ) {
            let line = format!("{sl}: {a}:{p} {a}:{p} {st} {rest}");
            let _ = super::parse_line(&line, false, &|_, _, _| true);
            let _ = super::parse_line(&line, true, &|_, _, _| true);
        }
    }
}
