//! Linux sock_diag over netlink: the same table as /proc/net/tcp{,6} (every
//! state, the accept queue, the uid and inode of each socket) in binary, which
//! the kernel produces several times faster than the text files. Used first;
//! /proc/net/tcp is the fallback where netlink is not allowed.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::linux::{parse_state_number, RawSocket};
use super::{Owners, Socket, TcpState};

const NETLINK_SOCK_DIAG: libc::c_int = 4;
const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_DUMP: u16 = 0x300;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const HEADER: usize = 16;
/// inet_diag_msg: family, state, timer, retrans, sockid (48), expires,
/// rqueue, wqueue, uid, inode.
const DIAG_MSG: usize = 72;

/// Closes the netlink socket on every path out.
struct Fd(libc::c_int);

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: the descriptor is ours and closed once.
        unsafe { libc::close(self.0) };
    }
}

fn request(family: u8) -> [u8; HEADER + 56] {
    let mut msg = [0u8; HEADER + 56];
    msg[0..4].copy_from_slice(&((HEADER + 56) as u32).to_ne_bytes());
    msg[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    msg[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    msg[8..12].copy_from_slice(&1u32.to_ne_bytes()); // sequence
    msg[HEADER] = family;
    msg[HEADER + 1] = libc::IPPROTO_TCP as u8;
    msg[HEADER + 4..HEADER + 8].copy_from_slice(&u32::MAX.to_ne_bytes()); // every state
    msg
}

/// Every TCP socket of one address family that `keep` wants.
fn dump(
    family: u8,
    keep: &dyn Fn(u16, u16, u8) -> bool,
    out: &mut Vec<RawSocket>,
) -> io::Result<()> {
    // SAFETY: plain socket(2); the result is checked and owned by `Fd`.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            NETLINK_SOCK_DIAG,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = Fd(fd);
    let req = request(family);
    // SAFETY: sockaddr_nl is plain data; zeroed means "to the kernel".
    let mut kernel: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    kernel.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    // SAFETY: the buffer and address outlive the call; lengths are theirs.
    let sent = unsafe {
        libc::sendto(
            fd.0,
            req.as_ptr().cast(),
            req.len(),
            0,
            (&kernel as *const libc::sockaddr_nl).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        // SAFETY: recv(2) writes at most buf.len() bytes into buf.
        let n = unsafe { libc::recv(fd.0, buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut at = 0;
        let n = n as usize;
        while at + HEADER <= n {
            let len = u32::from_ne_bytes(buf[at..at + 4].try_into().expect("4 bytes")) as usize;
            let kind = u16::from_ne_bytes(buf[at + 4..at + 6].try_into().expect("2 bytes"));
            if len < HEADER || at + len > n {
                return Err(io::Error::other("malformed netlink message"));
            }
            match kind {
                NLMSG_DONE => return Ok(()),
                NLMSG_ERROR => return Err(io::Error::other("sock_diag refused the dump")),
                _ if len >= HEADER + DIAG_MSG => {
                    if let Some(raw) = parse_msg(&buf[at + HEADER..at + len], keep) {
                        out.push(raw);
                    }
                }
                _ => {}
            }
            at += (len + 3) & !3;
        }
    }
}

fn parse_msg(m: &[u8], keep: &dyn Fn(u16, u16, u8) -> bool) -> Option<RawSocket> {
    let family = m[0];
    let state_number = m[1];
    let sport = u16::from_be_bytes([m[4], m[5]]);
    let dport = u16::from_be_bytes([m[6], m[7]]);
    if !keep(sport, dport, state_number) {
        return None;
    }
    let addr = |bytes: &[u8]| -> Option<IpAddr> {
        Some(if family == libc::AF_INET as u8 {
            IpAddr::V4(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]))
        } else {
            IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(&bytes[..16]).ok()?))
        })
    };
    let word = |at: usize| u32::from_ne_bytes(m[at..at + 4].try_into().expect("4 bytes"));
    let state = parse_state_number(state_number);
    Some(RawSocket {
        socket: Socket {
            local: SocketAddr::new(addr(&m[8..24])?, sport),
            remote: SocketAddr::new(addr(&m[24..40])?, dport),
            state,
            uid: Some(word(64)),
            accept_queue: (state == TcpState::Listen).then(|| word(56)),
            owners: Owners::NoProcess,
        },
        inode: u64::from(word(68)),
    })
}

/// Both families; an error means "use /proc/net/tcp instead".
pub fn tables(keep: &dyn Fn(u16, u16, u8) -> bool) -> io::Result<Vec<RawSocket>> {
    let mut out = Vec::new();
    dump(libc::AF_INET as u8, keep, &mut out)?;
    // No IPv6 in the kernel is not an error: the v4 table stands.
    let _ = dump(libc::AF_INET6 as u8, keep, &mut out);
    Ok(out)
}
