//! HEALTH007: the URL's scheme and what the server speaks disagree: an
//! `http://` URL on a TLS server, or an `https://` URL on a plain-HTTP one.
//! Part of the `health` check: when a probe of an address gets no HTTP
//! answer, or the server's own words say so, one bounded probe in the other
//! scheme (a TLS handshake, or one plain GET) tells which it is.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::finding::{Finding, Fix, FixAction, Safety};

use super::health::{AddrOutcome, Target};

/// The longest the probe in the other scheme may take: a loopback
/// handshake takes milliseconds; it follows a probe that already waited
/// `--timeout` (a TLS server silent to plain HTTP looks hung), so it must
/// keep the run within `--timeout` + 0.5 s.
pub const CROSS_PROBE: Duration = Duration::from_millis(400);

/// What the server really speaks, when it is not what the URL says.
#[derive(Debug, Clone, PartialEq)]
pub enum Crossed {
    /// `http://` URL, and the server completes a TLS handshake (the protocol),
    /// or says in its own 400 that plain HTTP came to its HTTPS port.
    Tls {
        version: String,
        said: Option<String>,
    },
    /// `https://` URL, and the server answers a plain GET with this status.
    Plain { status: u16 },
}

/// What servers answer a plain request sent to their TLS port (nginx, Apache).
const PLAIN_TO_TLS_WORDS: &[&str] = &[
    "The plain HTTP request was sent to HTTPS port",
    "speaking plain HTTP to an SSL-enabled server port",
    "Client sent an HTTP request to an HTTPS server",
];

/// The server's own words in a 400 answer, when they say it is a TLS port.
pub fn plain_to_tls_words(status: u16, body: &str) -> Option<&'static str> {
    (status == 400)
        .then(|| {
            PLAIN_TO_TLS_WORDS
                .iter()
                .copied()
                .find(|w| body.contains(w))
        })
        .flatten()
}

/// Whether what `outcome` saw calls for the probe in the other scheme.
fn suspicious(t: &Target, outcome: &AddrOutcome) -> bool {
    match outcome {
        AddrOutcome::Hung { .. } | AddrOutcome::Garbled(_) => true,
        AddrOutcome::Answered { response, .. } => {
            !tls(t) && plain_to_tls_words(response.status, &response.body).is_some()
        }
        AddrOutcome::Refused => false,
    }
}

fn tls(t: &Target) -> bool {
    t.scheme == "https" || t.scheme == "wss"
}

/// One bounded probe in the other scheme, when the first probe's outcome
/// calls for it: `Some` when the server speaks the other one.
pub(crate) fn cross_probe(addr: SocketAddr, t: &Target, outcome: &AddrOutcome) -> Option<Crossed> {
    if !suspicious(t, outcome) {
        return None;
    }
    if tls(t) {
        let r = crate::net::send(addr, &t.host, false, "GET", "/", &[], CROSS_PROBE).ok()?;
        return Some(Crossed::Plain { status: r.status });
    }
    let said = match outcome {
        AddrOutcome::Answered { response, .. } => {
            plain_to_tls_words(response.status, &response.body).map(String::from)
        }
        _ => None,
    };
    match crate::net::tls_handshake(addr, &t.host, CROSS_PROBE) {
        Ok(version) => Some(Crossed::Tls { version, said }),
        // The server said it in words: that is enough.
        Err(_) if said.is_some() => Some(Crossed::Tls {
            version: "TLS".into(),
            said,
        }),
        Err(_) => None,
    }
}

/// The URL's scheme swapped: `http://x` ↔ `https://x` (`ws` ↔ `wss`).
fn swapped(url: &str, to_tls: bool) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let new = match (scheme.to_ascii_lowercase().as_str(), to_tls) {
        ("http", true) => "https",
        ("ws", true) => "wss",
        ("https", false) => "http",
        ("wss", false) => "ws",
        _ => return None,
    };
    Some(format!("{new}://{rest}"))
}

/// HEALTH007 for the first address that speaks the other scheme.
pub(crate) fn finding(
    t: &Target,
    crossed: &[(SocketAddr, Crossed)],
    root: &std::path::Path,
) -> Option<Finding> {
    let (addr, c) = crossed.first()?;
    let url = t.written_url.clone().unwrap_or_else(|| t.url("/"));
    let (title, spoken, probe, to_tls) = match c {
        Crossed::Tls { version, said } => (
            format!(
                "{} ({url}): the URL says http://, but the server on {addr} speaks TLS ({version}){}; a plain HTTP request gets no answer",
                t.name,
                said.as_ref().map_or(String::new(), |s| format!(" and says \"{s}\"")),
            ),
            format!("TLS ({version})"),
            format!(
                "one TLS handshake to {addr} (no request sent), at most {} ms",
                CROSS_PROBE.as_millis()
            ),
            true,
        ),
        Crossed::Plain { status } => (
            format!(
                "{} ({url}): the URL says https://, but the server on {addr} speaks plain HTTP (GET / answers {status}); the TLS handshake fails",
                t.name
            ),
            format!("plain HTTP ({status})"),
            format!(
                "one plain HTTP GET / to {addr}, at most {} ms",
                CROSS_PROBE.as_millis()
            ),
            false,
        ),
    };
    let mut f = Finding::new("HEALTH007", "health", title)
        .evidence("url", url.clone())
        .evidence("address", addr.to_string())
        .evidence("url_scheme", t.scheme.clone())
        .evidence("server_speaks", spoken)
        .evidence("probe", probe)
        .evidence("source", t.source.clone());
    if let Some(fix) = edit_fix(t, &url, to_tls, root) {
        f = f.with_fix(fix);
    } else {
        f = f.with_fix(Fix::manual(
            if to_tls {
                "use https:// in the URL, or serve plain HTTP on that port (drop the server's TLS options)"
            } else {
                "use http:// in the URL, or serve TLS on that port"
            },
            vec![format!("the URL is at {}", t.source)],
        ));
    }
    Some(f)
}

/// The fix that swaps the scheme on the line that writes the URL, when the
/// source is a file line holding it (after a backup copy).
fn edit_fix(t: &Target, url: &str, to_tls: bool, root: &std::path::Path) -> Option<Fix> {
    let (file, line) = t.source.rsplit_once(':')?;
    let line: usize = line.parse().ok()?;
    let path: PathBuf = root.join(file);
    let text = crate::project::read_bounded(&path).ok()?;
    if !text.lines().nth(line.checked_sub(1)?)?.contains(url) {
        return None;
    }
    let to = swapped(url, to_tls)?;
    let (from_scheme, to_scheme) = if to_tls {
        ("http://", "https://")
    } else {
        ("https://", "http://")
    };
    Some(Fix {
        title: format!(
            "change {from_scheme} to {to_scheme} in the URL at {} (after a backup){}; then restart what reads it",
            t.source,
            if to_tls {
                ", or serve plain HTTP on that port (drop the server's TLS options)"
            } else {
                ", or serve TLS on that port"
            }
        ),
        safety: Safety::Confirm,
        commands: vec![format!(
            "sed -i.doctor-backup '{line}s#{from_scheme}#{to_scheme}#' {file}"
        )],
        action: Some(FixAction::EditLine {
            path,
            line,
            from: url.to_string(),
            to,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_servers_own_words_for_plain_http_on_its_tls_port() {
        // Recorded from nginx 1.24 and Apache 2.4.
        let nginx = "<html>\r\n<head><title>400 The plain HTTP request was sent to HTTPS port</title></head>\r\n<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n<center>The plain HTTP request was sent to HTTPS port</center>\r\n<hr><center>nginx/1.24.0</center>\r\n</body>\r\n</html>\r\n";
        let apache = "<p>Your browser sent a request that this server could not understand.<br />\nReason: You're speaking plain HTTP to an SSL-enabled server port.<br />\n Instead use the HTTPS scheme to access this URL, please.<br />\n</p>";
        assert!(plain_to_tls_words(400, nginx).is_some());
        assert!(plain_to_tls_words(400, apache).is_some());
        assert!(plain_to_tls_words(400, "Bad request").is_none());
        assert!(plain_to_tls_words(200, nginx).is_none());
    }

    #[test]
    fn schemes_swap_and_nothing_else_changes() {
        assert_eq!(
            swapped("http://localhost:8443/api", true).as_deref(),
            Some("https://localhost:8443/api")
        );
        assert_eq!(
            swapped("https://127.0.0.1:8000", false).as_deref(),
            Some("http://127.0.0.1:8000")
        );
        assert_eq!(swapped("ws://x:1", true).as_deref(), Some("wss://x:1"));
        assert_eq!(swapped("https://x:1", true), None);
    }
}
