//! macOS: `lsof -F` (machine-readable fields) lists sockets with their owners.
//! lsof only shows sockets that a process holds, so TIME_WAIT leftovers are
//! not seen here.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::process::Command;

use super::{Owners, PortSet, ProcessExtras, Socket, TcpState};

pub fn sockets(ports: &PortSet) -> io::Result<Vec<Socket>> {
    let list: Vec<String> = ports.0.iter().map(u16::to_string).collect();
    let output = Command::new("lsof")
        .args(["-nP", "-w", "-F", "pTn"])
        .arg(format!("-iTCP:{}", list.join(",")))
        .output()?;
    let text = String::from_utf8_lossy(&output.stdout);
    Ok(parse_lsof(&text, ports))
}

fn parse_lsof(text: &str, ports: &PortSet) -> Vec<Socket> {
    let mut out: Vec<Socket> = Vec::new();
    let mut pid = 0u32;
    let mut pending: Option<(SocketAddr, SocketAddr)> = None;
    let mut push = |pending: &mut Option<(SocketAddr, SocketAddr)>, state: TcpState, pid: u32| {
        if let Some((local, remote)) = pending.take() {
            if !ports.touches(local.port(), remote.port()) {
                return;
            }
            if let Some(s) = out
                .iter_mut()
                .find(|s| s.local == local && s.remote == remote && s.state == state)
            {
                if let Owners::Pids(p) = &mut s.owners {
                    if !p.contains(&pid) {
                        p.push(pid);
                    }
                }
                return;
            }
            out.push(Socket {
                local,
                remote,
                state,
                uid: None,
                accept_queue: None,
                owners: Owners::Pids(vec![pid]),
            });
        }
    };
    for line in text.lines() {
        let (tag, value) = line.split_at(line.len().min(1));
        match tag {
            "p" => pid = value.parse().unwrap_or(0),
            "n" => pending = parse_name(value),
            "T" => {
                if let Some(st) = value.strip_prefix("ST=") {
                    push(&mut pending, map_state(st), pid);
                }
            }
            _ => {}
        }
    }
    out
}

/// `127.0.0.1:8000->127.0.0.1:51234`, `[::1]:8000`, `*:8000`
fn parse_name(name: &str) -> Option<(SocketAddr, SocketAddr)> {
    let (local, remote) = name.split_once("->").unwrap_or((name, ""));
    let parse = |s: &str| -> Option<SocketAddr> {
        let (host, port) = s.rsplit_once(':')?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let ip: IpAddr = if host == "*" {
            IpAddr::from([0, 0, 0, 0])
        } else {
            host.parse().ok()?
        };
        Some(SocketAddr::new(ip, port.parse().ok()?))
    };
    let local = parse(local)?;
    let remote = if remote.is_empty() {
        SocketAddr::new(IpAddr::from([0, 0, 0, 0]), 0)
    } else {
        parse(remote)?
    };
    Some((local, remote))
}

fn map_state(st: &str) -> TcpState {
    match st {
        "LISTEN" => TcpState::Listen,
        "SYN_SENT" => TcpState::SynSent,
        "SYN_RCVD" => TcpState::SynRecv,
        "ESTABLISHED" => TcpState::Established,
        "FIN_WAIT_1" => TcpState::FinWait1,
        "FIN_WAIT_2" => TcpState::FinWait2,
        "CLOSE_WAIT" => TcpState::CloseWait,
        "CLOSING" => TcpState::Closing,
        "LAST_ACK" => TcpState::LastAck,
        "TIME_WAIT" => TcpState::TimeWait,
        "CLOSED" => TcpState::Close,
        _ => TcpState::Unknown,
    }
}

pub fn process_extras(pid: u32) -> ProcessExtras {
    // SAFETY: getsid(2) takes an integer and touches no memory of ours.
    let sid = unsafe { libc::getsid(pid as libc::pid_t) };
    ProcessExtras {
        exe_deleted: None,
        session: u32::try_from(sid).ok(),
        cwd_deleted: None,
    }
}

pub fn listeners_of(pids: &[u32]) -> io::Result<Vec<Socket>> {
    let list: Vec<String> = pids.iter().map(u32::to_string).collect();
    let output = Command::new("lsof")
        .args([
            "-nP",
            "-w",
            "-a",
            "-iTCP",
            "-sTCP:LISTEN",
            "-F",
            "pTn",
            "-p",
        ])
        .arg(list.join(","))
        .output()?;
    let all = PortSet((1..=u16::MAX).collect());
    Ok(parse_lsof(&String::from_utf8_lossy(&output.stdout), &all))
}

pub use super::process::children_by_scan as children_of;
