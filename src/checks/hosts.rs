//! NET001: the project's URLs say `localhost`, and `localhost` does not
//! resolve to this machine: the hosts file maps it elsewhere, or lost it
//! (missing, commented out) and the resolver found it somewhere else or
//! nowhere. What the resolver answers now is the evidence; the file says why.

use serde_json::json;

use crate::engine::{Check, CheckError, Context};
use crate::finding::{Finding, Fix, Severity};
use crate::platform::environment::{hosts_file_path, localhost_in_hosts, HostsLocalhost};

pub struct Hosts;

const ID: &str = "hosts";

impl Check for Hosts {
    fn id(&self) -> &'static str {
        ID
    }
    fn description(&self) -> &'static str {
        "localhost resolves to this machine where the project's URLs use it (the hosts file)"
    }
    fn codes(&self) -> &'static [&'static str] {
        &["NET001"]
    }
    fn run(&self, ctx: &Context) -> Result<Vec<Finding>, CheckError> {
        let users: Vec<(String, u16, String)> = ctx
            .project
            .services
            .iter()
            .filter_map(|s| {
                let host = s
                    .url
                    .as_deref()
                    .and_then(crate::project::parse_url)
                    .map_or_else(|| s.host.clone(), |u| u.host);
                host.eq_ignore_ascii_case("localhost").then(|| {
                    (
                        s.name.clone(),
                        s.port,
                        s.url
                            .clone()
                            .unwrap_or_else(|| format!("localhost:{}", s.port)),
                    )
                })
            })
            .collect();
        let Some((_, port, _)) = users.first().cloned() else {
            return Err(CheckError::Skipped(
                "no URL of the project uses localhost".into(),
            ));
        };
        let path = hosts_file_path();
        let text = std::fs::read_to_string(&path).ok();
        let said = text.as_deref().map(localhost_in_hosts);
        let resolved = crate::net::resolve("localhost", port);
        let addrs: Vec<std::net::IpAddr> = resolved
            .as_ref()
            .map(|a| a.iter().map(|s| s.ip()).collect())
            .unwrap_or_default();
        let foreign: Vec<String> = addrs
            .iter()
            .filter(|ip| !ip.is_loopback())
            .map(|ip| ip.to_string())
            .collect();
        ctx.record_probe(json!({"check": ID, "name": "localhost", "resolved": addrs.iter().map(|a| a.to_string()).collect::<Vec<_>>(), "hosts_file": path.display().to_string()}));
        Ok(finding(&path, said, &addrs, &foreign, &users)
            .into_iter()
            .collect())
    }
}

fn finding(
    path: &std::path::Path,
    said: Option<HostsLocalhost>,
    addrs: &[std::net::IpAddr],
    foreign: &[String],
    users: &[(String, u16, String)],
) -> Option<Finding> {
    let shown = path.display().to_string();
    let file_says = match &said {
        Some(HostsLocalhost::Elsewhere { ip, line }) => {
            Some(format!("{shown}:{line} maps localhost to {ip}"))
        }
        Some(HostsLocalhost::Commented { line }) => {
            Some(format!("{shown}:{line} has localhost only commented out"))
        }
        Some(HostsLocalhost::Missing) => Some(format!("{shown} does not name localhost")),
        Some(HostsLocalhost::Loopback) | None => None,
    };
    let urls: Vec<String> = users.iter().map(|(_, _, u)| u.clone()).collect();
    let (severity, title) = if !foreign.is_empty() {
        (
            Severity::Warning,
            format!(
                "localhost resolves to {} here, not to this machine{}: {} reach another host",
                foreign.join(", "),
                file_says
                    .as_ref()
                    .map(|w| format!(" ({w})"))
                    .unwrap_or_default(),
                urls.join(", ")
            ),
        )
    } else if addrs.is_empty() {
        (
            Severity::Warning,
            format!(
                "localhost does not resolve here{}: {} cannot be reached by name",
                file_says
                    .as_ref()
                    .map(|w| format!(" ({w})"))
                    .unwrap_or_default(),
                urls.join(", ")
            ),
        )
    } else {
        // Resolves to loopback after all. Windows' own file has it only
        // commented out by design (its resolver answers localhost itself).
        let odd = match &said {
            Some(HostsLocalhost::Commented { .. }) if cfg!(windows) => None,
            _ => file_says.clone(),
        }?;
        (
            Severity::Info,
            format!("{odd}; localhost still resolves to loopback (the resolver, not the file, answers it)"),
        )
    };
    let mut f = Finding::new("NET001", ID, title)
        .severity(severity)
        .evidence("hosts_file", shown.clone())
        .evidence(
            "resolved",
            addrs.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        )
        .evidence("urls", urls)
        .evidence(
            "ports",
            users.iter().map(|(_, p, _)| *p).collect::<Vec<_>>(),
        )
        .evidence(
            "services",
            users.iter().map(|(n, _, _)| n.clone()).collect::<Vec<_>>(),
        );
    if let Some(w) = &file_says {
        f = f.evidence("file_says", w.clone());
    }
    if severity == Severity::Warning {
        f = f.with_fix(Fix::manual(
            format!(
                "map localhost to loopback in {shown} (as root: the lines `127.0.0.1 localhost` and `::1 localhost`), or use 127.0.0.1 in the URLs"
            ),
            Vec::new(),
        ));
    }
    Some(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> Vec<(String, u16, String)> {
        vec![("api".into(), 8000, "http://localhost:8000".into())]
    }

    #[test]
    fn loopback_and_a_loopback_file_are_silent() {
        let lo = ["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()];
        assert!(finding(
            std::path::Path::new("/etc/hosts"),
            Some(HostsLocalhost::Loopback),
            &lo,
            &[],
            &users()
        )
        .is_none());
    }

    #[test]
    fn elsewhere_is_a_warning_naming_the_line() {
        let f = finding(
            std::path::Path::new("/etc/hosts"),
            Some(HostsLocalhost::Elsewhere {
                ip: "10.1.2.3".into(),
                line: 2,
            }),
            &["10.1.2.3".parse().unwrap()],
            &["10.1.2.3".into()],
            &users(),
        )
        .unwrap();
        assert_eq!(f.severity, Severity::Warning);
        assert!(
            f.title.contains("/etc/hosts:2 maps localhost to 10.1.2.3"),
            "{}",
            f.title
        );
        assert!(f.title.contains("http://localhost:8000"));
    }

    #[test]
    fn a_missing_entry_that_still_resolves_is_only_info() {
        let f = finding(
            std::path::Path::new("/etc/hosts"),
            Some(HostsLocalhost::Missing),
            &["127.0.0.1".parse().unwrap()],
            &[],
            &users(),
        )
        .unwrap();
        assert_eq!(f.severity, Severity::Info);
        let none = finding(
            std::path::Path::new("/etc/hosts"),
            Some(HostsLocalhost::Commented { line: 3 }),
            &[],
            &[],
            &users(),
        )
        .unwrap();
        assert_eq!(none.severity, Severity::Warning);
        assert!(none.title.contains("does not resolve"));
    }
}
