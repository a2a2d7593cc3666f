//! Windows: the OS's TCP tables (GetExtendedTcpTable via netstat2) carry the
//! owning pid of every socket, so no per-process scan is needed.

use std::io;
use std::net::SocketAddr;

use netstat2::{get_sockets_info, AddressFamilyFlags, ProtocolFlags, ProtocolSocketInfo};

use super::{Owners, PortSet, ProcessExtras, Socket, TcpState};

pub fn sockets(ports: &PortSet) -> io::Result<Vec<Socket>> {
    let infos = match get_sockets_info(
        AddressFamilyFlags::IPV4 | AddressFamilyFlags::IPV6,
        ProtocolFlags::TCP,
    ) {
        Ok(infos) => infos,
        Err(api) => return netstat_text(ports, &api.to_string()),
    };
    Ok(infos
        .into_iter()
        .filter_map(|info| {
            let ProtocolSocketInfo::Tcp(tcp) = info.protocol_socket_info else {
                return None;
            };
            if !ports.touches(tcp.local_port, tcp.remote_port) {
                return None;
            }
            let pids: Vec<u32> = info
                .associated_pids
                .into_iter()
                .filter(|&p| p != 0)
                .collect();
            let state = map_state(tcp.state);
            let owners = if pids.is_empty() {
                if state.is_closing_leftover() {
                    Owners::NoProcess
                } else {
                    Owners::Hidden
                }
            } else {
                Owners::Pids(pids)
            };
            let socket = Socket {
                local: SocketAddr::new(tcp.local_addr, tcp.local_port),
                remote: SocketAddr::new(tcp.remote_addr, tcp.remote_port),
                state,
                uid: None,
                accept_queue: None,
                owners,
            };
            Some(socket)
        })
        .collect())
}

/// When the TCP table API fails, `netstat -ano` (the same table, as text;
/// read by shape, so any display language works).
fn netstat_text(ports: &PortSet, api_error: &str) -> io::Result<Vec<Socket>> {
    let ran = crate::run::bounded(
        std::process::Command::new("netstat").arg("-ano"),
        std::time::Duration::from_secs(5),
    )
    .map_err(|e| io::Error::other(format!("{api_error}; netstat -ano {e}")))?;
    Ok(super::windows_text::parse_netstat(&ran.stdout)
        .into_iter()
        .filter(|s| ports.touches(s.local.port(), s.remote.port()))
        .collect())
}

fn map_state(state: netstat2::TcpState) -> TcpState {
    use netstat2::TcpState as N;
    match state {
        N::Listen => TcpState::Listen,
        N::SynSent => TcpState::SynSent,
        N::SynReceived => TcpState::SynRecv,
        N::Established => TcpState::Established,
        N::FinWait1 => TcpState::FinWait1,
        N::FinWait2 => TcpState::FinWait2,
        N::CloseWait => TcpState::CloseWait,
        N::Closing => TcpState::Closing,
        N::LastAck => TcpState::LastAck,
        N::TimeWait => TcpState::TimeWait,
        N::Closed => TcpState::Close,
        _ => TcpState::Unknown,
    }
}

pub fn process_extras(_pid: u32) -> ProcessExtras {
    ProcessExtras::default()
}

pub fn listeners_of(pids: &[u32]) -> io::Result<Vec<Socket>> {
    let all = PortSet((1..=u16::MAX).collect());
    Ok(sockets(&all)?
        .into_iter()
        .filter(|s| s.state == TcpState::Listen && s.pids().iter().any(|p| pids.contains(p)))
        .collect())
}

pub use super::process::children_by_scan as children_of;
