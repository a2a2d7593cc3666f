//! A minimal HTTP/1.1 client over std's TcpStream: one request, one bounded
//! response, every step under one deadline. Enough for health probes of local
//! dev servers, with the timings doctor reports (connect, first byte).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use crate::project::parse_url;

/// Bytes of a response kept: status line, headers and a body excerpt.
const MAX_RESPONSE: usize = 64 * 1024;

#[derive(Debug, Clone)]
pub struct Response {
    pub addr: SocketAddr,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub connect: Duration,
    pub first_byte: Duration,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone)]
pub enum Failure {
    /// The URL cannot be used (not http, no host).
    BadUrl(String),
    /// The host name did not resolve.
    Resolve(String),
    /// The connection was refused (nothing listens).
    Refused(SocketAddr),
    /// Connected, but no (complete) response before the deadline.
    NoAnswer { addr: SocketAddr, connect: Duration },
    /// Another I/O error, or an answer that is not HTTP.
    Other(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::BadUrl(u) => write!(f, "not an http:// URL: {u}"),
            Failure::Resolve(e) => write!(f, "cannot resolve: {e}"),
            Failure::Refused(a) => write!(f, "connection to {a} refused"),
            Failure::NoAnswer { addr, .. } => write!(
                f,
                "{addr} accepted the connection but did not answer in time"
            ),
            Failure::Other(e) => f.write_str(e),
        }
    }
}

/// Every address `host:port` resolves to, in resolver order.
pub fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, Failure> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    (bare, port)
        .to_socket_addrs()
        .map(|a| a.collect())
        .map_err(|e| Failure::Resolve(e.to_string()))
}

/// One request to one address: `method path` with extra headers.
pub fn request(
    addr: SocketAddr,
    host: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    timeout: Duration,
) -> Result<Response, Failure> {
    let deadline = Instant::now() + timeout;
    let start = Instant::now();
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(|e| match e.kind() {
        std::io::ErrorKind::ConnectionRefused => Failure::Refused(addr),
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => Failure::NoAnswer {
            addr,
            connect: timeout,
        },
        _ => Failure::Other(format!("{addr}: {e}")),
    })?;
    let connect = start.elapsed();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: doctor/{}\r\nAccept: */*\r\nConnection: close\r\n", env!("CARGO_PKG_VERSION"));
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    let left = |d: Instant| {
        d.saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1))
    };
    stream.set_write_timeout(Some(left(deadline))).ok();
    stream
        .write_all(req.as_bytes())
        .map_err(|e| Failure::Other(format!("{addr}: {e}")))?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let mut first_byte = None;
    loop {
        stream.set_read_timeout(Some(left(deadline))).ok();
        if Instant::now() >= deadline {
            break;
        }
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                first_byte.get_or_insert_with(|| start.elapsed());
                buf.extend_from_slice(&chunk[..n]);
                if buf.len() >= MAX_RESPONSE || complete(&buf) {
                    break;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                break
            }
            Err(e) => {
                if buf.is_empty() {
                    return Err(Failure::Other(format!("{addr}: {e}")));
                }
                break;
            }
        }
    }
    let Some(first_byte) = first_byte else {
        return Err(Failure::NoAnswer { addr, connect });
    };
    parse_response(&buf, addr, connect, first_byte)
}

/// Headers received and, when a Content-Length says so, the whole body.
fn complete(buf: &[u8]) -> bool {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
    match head.lines().find_map(|l| l.strip_prefix("content-length:")) {
        Some(n) => n
            .trim()
            .parse::<usize>()
            .is_ok_and(|n| buf.len() >= end + 4 + n),
        None => false,
    }
}

fn parse_response(
    buf: &[u8],
    addr: SocketAddr,
    connect: Duration,
    first_byte: Duration,
) -> Result<Response, Failure> {
    let text = String::from_utf8_lossy(buf);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .strip_prefix("HTTP/")
        .and_then(|rest| rest.split_whitespace().nth(1))
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| {
            Failure::Other(format!(
                "{addr} answered, but not with HTTP: {:?}",
                status_line.chars().take(40).collect::<String>()
            ))
        })?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Ok(Response {
        addr,
        status,
        headers,
        body: body.chars().take(2000).collect(),
        connect,
        first_byte,
    })
}

/// GET a URL at its first resolved address (for doctor.toml `http` checks).
pub fn get(url: &str, timeout: Duration) -> Result<Response, Failure> {
    let parts = parse_url(url).ok_or_else(|| Failure::BadUrl(url.into()))?;
    if parts.scheme != "http" {
        return Err(Failure::BadUrl(url.into()));
    }
    let addrs = resolve(&parts.host, parts.port)?;
    let mut last = Failure::Resolve(format!("{} has no address", parts.host));
    for addr in addrs {
        match request(addr, &parts.host, "GET", &parts.path, &[], timeout) {
            Ok(r) => return Ok(r),
            Err(e @ Failure::NoAnswer { .. }) => return Err(e), // a hung server costs one timeout
            Err(e) => last = e,
        }
    }
    Err(last)
}
