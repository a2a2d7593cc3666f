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
    /// For https: the protocol and what doctor did (not) verify.
    pub tls: Option<String>,
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
    /// Not asked over HTTP: the server's output goes to a pipe nobody
    /// reads or a terminal that hung up, and the log line a request makes
    /// would end it (see `fragile`). Only a TCP connect was made.
    Guarded { addr: SocketAddr, connected: bool },
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
            Failure::Guarded { addr, connected } => write!(
                f,
                "{addr} {}; not asked over HTTP: its server's output goes nowhere and a logged request would end it",
                if *connected { "accepts connections" } else { "refused the connection" }
            ),
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

/// One request to one address: `method path` with extra headers, over TLS
/// when `tls` (a dev server's self-signed certificate is accepted, and the
/// response says so).
pub fn request(
    addr: SocketAddr,
    host: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    timeout: Duration,
) -> Result<Response, Failure> {
    send(addr, host, false, method, path, headers, timeout)
}

/// Addresses that accepted a connection (or never completed one) and sent
/// nothing before their deadline, in this diagnosis. Asked again (the CORS
/// check's next origin, the process check's "does it answer"), such an
/// address answers the same at once: a hung server costs one timeout per
/// run, not one per probe or check.
static HUNG: std::sync::Mutex<Vec<SocketAddr>> = std::sync::Mutex::new(Vec::new());

/// A new diagnosis: what hung before may answer now (a fix resumed it).
pub fn forget_hung() {
    HUNG.lock().unwrap_or_else(|e| e.into_inner()).clear();
    FRAGILE.lock().unwrap_or_else(|e| e.into_inner()).clear();
}

/// Ports whose listener's stdout/stderr leads nowhere, learnt once per
/// diagnosis: `true` for a server that a logged request would kill.
static FRAGILE: std::sync::Mutex<Vec<(u16, bool)>> = std::sync::Mutex::new(Vec::new());

/// Whether the local listener on `port` writes its output to a pipe no
/// process reads or a terminal that hung up (PROC009): an access-log line
/// would end it with SIGPIPE/EPIPE (or EIO), so doctor never sends it an
/// HTTP request, only a TCP connect.
pub fn fragile(port: u16) -> bool {
    if let Some((_, f)) = FRAGILE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .find(|(p, _)| *p == port)
    {
        return *f;
    }
    let ports = crate::platform::PortSet([port].into_iter().collect());
    let fragile = crate::platform::sockets(&ports)
        .unwrap_or_default()
        .iter()
        .filter(|s| s.state == crate::platform::TcpState::Listen && s.local.port() == port)
        .flat_map(|s| s.pids().to_vec())
        .any(|pid| crate::platform::dead_output(pid).is_some());
    let mut known = FRAGILE.lock().unwrap_or_else(|e| e.into_inner());
    if !known.iter().any(|(p, _)| *p == port) {
        known.push((port, fragile));
    }
    fragile
}

fn known_hung(addr: SocketAddr) -> bool {
    HUNG.lock()
        .unwrap_or_else(|e| e.into_inner())
        .contains(&addr)
}

fn remember_hung(addr: SocketAddr) {
    let mut hung = HUNG.lock().unwrap_or_else(|e| e.into_inner());
    if !hung.contains(&addr) {
        hung.push(addr);
    }
}

/// A TCP connection to `addr` within `timeout`. A connection to itself is
/// refused: connecting to a loopback port nothing listens on can, rarely,
/// get that very port as its own source port, and TCP's simultaneous open
/// then "connects" with no server at all (a port that looks up and is not).
pub fn connect(addr: &SocketAddr, timeout: Duration) -> std::io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(addr, timeout)?;
    if stream.local_addr().ok() == Some(*addr) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "connected to itself: nothing listens",
        ));
    }
    Ok(stream)
}

pub fn send(
    addr: SocketAddr,
    host: &str,
    tls: bool,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    timeout: Duration,
) -> Result<Response, Failure> {
    if fragile(addr.port()) {
        let connected = connect(&addr, timeout).is_ok();
        return Err(Failure::Guarded { addr, connected });
    }
    if known_hung(addr) {
        return Err(Failure::NoAnswer {
            addr,
            connect: Duration::ZERO,
        });
    }
    let outcome = send_once(addr, host, tls, method, path, headers, timeout);
    if matches!(outcome, Err(Failure::NoAnswer { .. })) {
        remember_hung(addr);
    }
    outcome
}

fn send_once(
    addr: SocketAddr,
    host: &str,
    tls: bool,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    timeout: Duration,
) -> Result<Response, Failure> {
    let deadline = Instant::now() + timeout;
    let start = Instant::now();
    let stream = connect(&addr, timeout).map_err(|e| match e.kind() {
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
    let left = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(1));
    stream.set_read_timeout(Some(left)).ok();
    stream.set_write_timeout(Some(left)).ok();
    let exchanged = if tls {
        tls::exchange(stream, host, req.as_bytes(), deadline)
    } else {
        exchange(stream, req.as_bytes(), deadline)
    };
    let (buf, first_byte, tls_note) = exchanged.map_err(|e| match e {
        Exchange::Silent => Failure::NoAnswer { addr, connect },
        Exchange::Io(e) => Failure::Other(format!("{addr}: {e}")),
    })?;
    let mut response = parse_response(&buf, addr, connect, first_byte)?;
    response.tls = tls_note;
    Ok(response)
}

/// Whether the server at `addr` speaks TLS, learnt by one TLS handshake
/// under `timeout` and nothing more (no request is sent): `Ok` with the
/// protocol when the handshake completes or the server answers it with a TLS
/// alert (a TLS server that refuses this client), `Err` with what came back
/// otherwise.
pub fn tls_handshake(addr: SocketAddr, host: &str, timeout: Duration) -> Result<String, String> {
    let stream = connect(&addr, timeout).map_err(|e| format!("{addr}: {e}"))?;
    stream.set_read_timeout(Some(timeout)).ok();
    stream.set_write_timeout(Some(timeout)).ok();
    tls::handshake(stream, host, Instant::now() + timeout)
}

pub(crate) enum Exchange {
    /// Nothing came back before the deadline.
    Silent,
    Io(String),
}

/// Write the request, read a bounded response until the deadline.
pub(crate) fn exchange<S: Read + Write>(
    mut stream: S,
    req: &[u8],
    deadline: Instant,
) -> Result<(Vec<u8>, Duration, Option<String>), Exchange> {
    let start = Instant::now();
    stream.write_all(req).map_err(|e| {
        if is_timeout(&e) {
            Exchange::Silent
        } else {
            Exchange::Io(e.to_string())
        }
    })?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let mut first_byte = None;
    while Instant::now() < deadline {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                first_byte.get_or_insert_with(|| start.elapsed());
                buf.extend_from_slice(&chunk[..n]);
                if buf.len() >= MAX_RESPONSE || complete(&buf) {
                    break;
                }
            }
            Err(e) if is_timeout(&e) => break,
            Err(e) if buf.is_empty() => return Err(Exchange::Io(e.to_string())),
            Err(_) => break,
        }
    }
    match first_byte {
        Some(t) => Ok((buf, t, None)),
        None => Err(Exchange::Silent),
    }
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

#[cfg(feature = "https")]
mod tls {
    use std::net::TcpStream;
    use std::sync::{Arc, OnceLock};
    use std::time::{Duration, Instant};

    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{
        ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme, StreamOwned,
    };

    use super::Exchange;

    /// Dev servers use self-signed certificates: doctor checks that the
    /// server speaks TLS and HTTP, not who signed its certificate, and says so.
    #[derive(Debug)]
    struct AcceptAnyCertificate(Arc<rustls::crypto::CryptoProvider>);

    impl ServerCertVerifier for AcceptAnyCertificate {
        fn verify_server_cert(
            &self,
            _: &CertificateDer<'_>,
            _: &[CertificateDer<'_>],
            _: &ServerName<'_>,
            _: &[u8],
            _: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }
        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }
        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }

    fn config() -> Result<Arc<ClientConfig>, String> {
        static CONFIG: OnceLock<Result<Arc<ClientConfig>, String>> = OnceLock::new();
        CONFIG
            .get_or_init(|| {
                let provider = Arc::new(rustls::crypto::ring::default_provider());
                let config = ClientConfig::builder_with_provider(Arc::clone(&provider))
                    .with_safe_default_protocol_versions()
                    .map_err(|e| e.to_string())?
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
                    .with_no_client_auth();
                Ok(Arc::new(config))
            })
            .clone()
    }

    pub(super) fn handshake(
        tcp: TcpStream,
        host: &str,
        deadline: Instant,
    ) -> Result<String, String> {
        let config = config()?;
        let name = ServerName::try_from(host.to_string()).map_err(|e| format!("TLS: {e}"))?;
        let conn = ClientConnection::new(config, name).map_err(|e| format!("TLS: {e}"))?;
        let mut stream = StreamOwned::new(conn, tcp);
        while stream.conn.is_handshaking() {
            if Instant::now() >= deadline {
                return Err("no answer to a TLS handshake in time".into());
            }
            match stream.conn.complete_io(&mut stream.sock) {
                Ok((0, 0)) if stream.conn.is_handshaking() => {
                    return Err("the connection closed during a TLS handshake".into())
                }
                Ok(_) => {}
                Err(e) => {
                    // The server's own TLS alert: it speaks TLS and refused us.
                    if let Some(rustls::Error::AlertReceived(alert)) = e
                        .get_ref()
                        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                    {
                        return Ok(format!(
                            "it answered the handshake with the TLS alert {alert:?}"
                        ));
                    }
                    return Err(format!("no TLS handshake: {e}"));
                }
            }
        }
        Ok(stream
            .conn
            .protocol_version()
            .map_or("TLS".to_string(), |v| format!("{v:?}")))
    }

    pub(super) fn exchange(
        tcp: TcpStream,
        host: &str,
        req: &[u8],
        deadline: Instant,
    ) -> Result<(Vec<u8>, Duration, Option<String>), Exchange> {
        let config = config().map_err(Exchange::Io)?;
        let name = ServerName::try_from(host.to_string())
            .map_err(|e| Exchange::Io(format!("TLS: {e}")))?;
        let conn =
            ClientConnection::new(config, name).map_err(|e| Exchange::Io(format!("TLS: {e}")))?;
        let mut stream = StreamOwned::new(conn, tcp);
        // Finish the handshake first, so "no TLS here" is told apart from "no answer".
        while stream.conn.is_handshaking() {
            if Instant::now() >= deadline {
                return Err(Exchange::Silent);
            }
            match stream.conn.complete_io(&mut stream.sock) {
                Ok(_) => {}
                Err(e) if super::is_timeout(&e) => return Err(Exchange::Silent),
                Err(e) => {
                    return Err(Exchange::Io(format!(
                        "TLS handshake failed ({e}): is this port plain HTTP?"
                    )))
                }
            }
        }
        let version = stream
            .conn
            .protocol_version()
            .map_or("TLS".to_string(), |v| format!("{v:?}"));
        let (buf, first, _) = super::exchange(stream, req, deadline)?;
        Ok((buf, first, Some(format!("{version}, certificate not verified (dev servers' self-signed certificates are accepted)"))))
    }
}

#[cfg(not(feature = "https"))]
mod tls {
    use super::Exchange;
    pub(super) fn handshake(
        _: std::net::TcpStream,
        _: &str,
        _: std::time::Instant,
    ) -> Result<String, String> {
        Err("this doctor was built without the https feature".into())
    }
    pub(super) fn exchange(
        _: std::net::TcpStream,
        _: &str,
        _: &[u8],
        _: std::time::Instant,
    ) -> Result<(Vec<u8>, std::time::Duration, Option<String>), Exchange> {
        Err(Exchange::Io(
            "this doctor was built without the https feature".into(),
        ))
    }
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
        // A server error's page is kept whole (the response is bounded):
        // a framework's debug page names its exception past its styles.
        body: if status >= 500 {
            body.to_string()
        } else {
            body.chars().take(2000).collect()
        },
        connect,
        first_byte,
        tls: None,
    })
}

/// GET a URL at its first resolved address (for doctor.toml `http` checks).
pub fn get(url: &str, timeout: Duration) -> Result<Response, Failure> {
    let parts = parse_url(url).ok_or_else(|| Failure::BadUrl(url.into()))?;
    if parts.scheme != "http" && parts.scheme != "https" {
        return Err(Failure::BadUrl(url.into()));
    }
    let addrs = resolve(&parts.host, parts.port)?;
    let mut last = Failure::Resolve(format!("{} has no address", parts.host));
    for addr in addrs {
        match send(
            addr,
            &parts.host,
            parts.scheme == "https",
            "GET",
            &parts.path,
            &[],
            timeout,
        ) {
            Ok(r) => return Ok(r),
            Err(e @ Failure::NoAnswer { .. }) => return Err(e), // a hung server costs one timeout
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Why a port could not be bound, by kind (the OS's own words are kept).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindError {
    /// EADDRINUSE / WSAEADDRINUSE.
    InUse,
    /// EACCES / WSAEACCES (10013): privileged, or a reserved range.
    Denied,
    Other,
}

#[derive(Debug, Clone)]
pub struct BindRefused {
    pub kind: BindError,
    pub error: String,
}

impl std::fmt::Display for BindRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "binding fails: {}", self.error)
    }
}

/// Whether `port` can be bound on loopback, learnt by binding it and
/// releasing it at once: a port nothing listens on that cannot be bound
/// either says why a server could not start there. `None`: bindable.
pub fn bind_probe(port: u16) -> Option<BindRefused> {
    match std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, port)) {
        Ok(listener) => {
            drop(listener);
            None
        }
        Err(e) => Some(BindRefused {
            kind: match e.kind() {
                std::io::ErrorKind::AddrInUse => BindError::InUse,
                std::io::ErrorKind::PermissionDenied => BindError::Denied,
                _ => BindError::Other,
            },
            error: e.to_string(),
        }),
    }
}
