//! What the project expects to be running: its services, each with the port
//! and the place (file:line, flag) that says so. Project discovery (issue #4)
//! fills the same type from more sources.

use std::fs;
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use serde::Serialize;

/// Env files read for service URLs (root and one folder down).
pub const ENV_FILES: &[&str] = &[
    ".env",
    ".env.local",
    ".env.development",
    ".env.development.local",
];
pub const VITE_CONFIGS: &[&str] = &[
    "vite.config.js",
    "vite.config.ts",
    "vite.config.mjs",
    "vite.config.mts",
    "vite.config.cjs",
];
/// Folders never worth descending into.
pub const SKIP_DIRS: &[&str] = &[
    "node_modules",
    ".git",
    ".venv",
    "venv",
    "env",
    "__pycache__",
    "dist",
    "build",
    "target",
    ".next",
    ".cache",
];
/// Env files are small; a huge one is read up to this many bytes.
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

#[derive(Debug, Clone, Serialize)]
pub struct Service {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub port: u16,
    /// The host clients use to reach it (`localhost`, `127.0.0.1`, `::1`).
    #[serde(skip)]
    pub host: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<String>,
    /// Where doctor learned of it: `frontend/.env:1`, `--url`, `vite.config.ts:12`.
    pub source: String,
    /// The folder the service lives in, when known.
    #[serde(skip)]
    pub folder: Option<PathBuf>,
}

/// A file doctor wanted to read and could not: reported, never silently "ok".
#[derive(Debug, Clone, Serialize)]
pub struct Unreadable {
    pub path: String,
    pub error: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Project {
    pub root: PathBuf,
    pub services: Vec<Service>,
    /// Ports to look at without expecting a listener (`--port`, `doctor port`).
    #[serde(skip)]
    pub examined_ports: Vec<u16>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<Unreadable>,
}

impl Project {
    /// Every port any check should look at: services first, then examined ones.
    pub fn ports(&self) -> Vec<u16> {
        let mut ports: Vec<u16> = self.services.iter().map(|s| s.port).collect();
        ports.extend(&self.examined_ports);
        ports.sort_unstable();
        ports.dedup();
        ports
    }

    pub fn services_on(&self, port: u16) -> impl Iterator<Item = &Service> {
        self.services.iter().filter(move |s| s.port == port)
    }

    /// A path relative to the project root, for sources and evidence.
    pub fn relative(&self, path: &Path) -> String {
        path.strip_prefix(&self.root)
            .unwrap_or(path)
            .to_string_lossy()
            .replace('\\', "/")
    }

    fn add(&mut self, service: Service) {
        // The same port named twice (root .env and frontend/.env) is one service;
        // the first source found is the one shown.
        if !self
            .services
            .iter()
            .any(|s| s.port == service.port && s.host == service.host)
        {
            self.services.push(service);
        }
    }
}

/// Read the project at `root`: env files and vite proxy targets in the root and
/// one level down, plus what the command line adds.
pub fn discover(root: &Path, urls: &[String], ports: &[u16]) -> Project {
    let mut project = Project {
        root: root.to_path_buf(),
        ..Project::default()
    };
    for dir in candidate_dirs(root) {
        for name in ENV_FILES {
            let path = dir.join(name);
            if path.is_file() || fs::symlink_metadata(&path).is_ok() {
                scan_file(&mut project, &path, FileKind::Env);
            }
        }
        for name in VITE_CONFIGS {
            let path = dir.join(name);
            if path.is_file() {
                scan_file(&mut project, &path, FileKind::ViteConfig);
            }
        }
    }
    for url in urls {
        if let Some(service) = service_from_url(url, "url".into(), "--url".into(), None) {
            project.add(service);
        }
    }
    project.examined_ports = ports.to_vec();
    project
}

/// The root and its direct sub-folders (not hidden, not dependency folders).
fn candidate_dirs(root: &Path) -> Vec<PathBuf> {
    let mut dirs = vec![root.to_path_buf()];
    if let Ok(entries) = fs::read_dir(root) {
        let mut subs: Vec<PathBuf> = entries
            .flatten()
            .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
            .filter(|e| {
                let name = e.file_name();
                let name = name.to_string_lossy();
                !name.starts_with('.') && !SKIP_DIRS.contains(&name.as_ref())
            })
            .map(|e| e.path())
            .collect();
        subs.sort();
        dirs.extend(subs);
    }
    dirs
}

#[derive(Clone, Copy, PartialEq)]
enum FileKind {
    Env,
    ViteConfig,
}

/// Read at most `MAX_CONFIG_BYTES`; non-UTF-8 bytes become U+FFFD.
pub fn read_bounded(path: &Path) -> std::io::Result<String> {
    let file = fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG_BYTES).read_to_end(&mut bytes)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn scan_file(project: &mut Project, path: &Path, kind: FileKind) {
    let rel = project.relative(path);
    let text = match read_bounded(path) {
        Ok(t) => t,
        Err(e) => {
            project.unreadable.push(Unreadable {
                path: rel,
                error: e.to_string(),
            });
            return;
        }
    };
    let folder = path.parent().map(Path::to_path_buf);
    for (index, line) in text.lines().enumerate() {
        let source = format!("{rel}:{}", index + 1);
        match kind {
            FileKind::Env => {
                let Some((key, value)) = parse_env_line(line) else {
                    continue;
                };
                if let Some(service) =
                    service_from_url(value, service_name(key), source, folder.clone())
                {
                    project.add(service);
                }
            }
            FileKind::ViteConfig => {
                for url in quoted_urls(line) {
                    if let Some(service) =
                        service_from_url(url, "proxy target".into(), source.clone(), None)
                    {
                        project.add(service);
                    }
                }
            }
        }
    }
}

/// `KEY=value`, `export KEY="value"`; comments and blank lines give `None`.
pub fn parse_env_line(line: &str) -> Option<(&str, &str)> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let line = line.strip_prefix("export ").unwrap_or(line);
    let (key, value) = line.split_once('=')?;
    let key = key.trim();
    if key.is_empty()
        || !key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
    {
        return None;
    }
    let mut value = value.trim();
    if let Some(q) = value.chars().next().filter(|c| *c == '"' || *c == '\'') {
        value = value[1..].split(q).next().unwrap_or_default();
    } else if let Some((v, _comment)) = value.split_once(" #") {
        value = v.trim();
    }
    Some((key, value))
}

/// `VITE_API_URL` → `api`, `DATABASE_URL` → `database`.
fn service_name(key: &str) -> String {
    let mut name = key.to_ascii_lowercase();
    for prefix in [
        "vite_",
        "react_app_",
        "next_public_",
        "nuxt_public_",
        "public_",
    ] {
        if let Some(rest) = name.strip_prefix(prefix) {
            name = rest.to_string();
        }
    }
    for suffix in ["_base_url", "_url", "_uri", "_endpoint", "_host", "_origin"] {
        if let Some(rest) = name.strip_suffix(suffix) {
            if !rest.is_empty() {
                name = rest.to_string();
                break;
            }
        }
    }
    name
}

/// String literals in a line of JS/TS that hold an http(s)/ws URL.
fn quoted_urls(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for quote in ['\'', '"', '`'] {
        let mut parts = line.split(quote);
        parts.next();
        while let Some(inside) = parts.next() {
            if ["http://", "https://", "ws://", "wss://"]
                .iter()
                .any(|p| inside.starts_with(p))
            {
                out.push(inside);
            }
            parts.next();
        }
    }
    out
}

/// The parts of a URL doctor needs, parsed by hand so a broken URL is a `None`
/// and never a panic. Accepts `scheme://[user[:pass]@]host[:port][/...]`.
#[derive(Debug, Clone, PartialEq)]
pub struct UrlParts {
    pub scheme: String,
    pub host: String,
    pub port: u16,
    pub path: String,
}

pub fn parse_url(url: &str) -> Option<UrlParts> {
    let (scheme, rest) = url.trim().split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme.is_empty()
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    {
        return None;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        (host, after.strip_prefix(':'))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    if host.is_empty() {
        return None;
    }
    let port = match port {
        Some(p) => p.parse::<u16>().ok().filter(|p| *p != 0)?,
        None => default_port(&scheme)?,
    };
    Some(UrlParts {
        scheme,
        host: host.to_ascii_lowercase(),
        port,
        path: if path.is_empty() {
            "/".into()
        } else {
            path.into()
        },
    })
}

pub fn default_port(scheme: &str) -> Option<u16> {
    Some(match scheme {
        "http" | "ws" => 80,
        "https" | "wss" => 443,
        "postgres" | "postgresql" => 5432,
        "mysql" | "mariadb" => 3306,
        "redis" => 6379,
        "rediss" => 6380,
        "mongodb" => 27017,
        "amqp" => 5672,
        _ => return None,
    })
}

fn kind_of_scheme(scheme: &str) -> Option<&'static str> {
    Some(match scheme {
        "postgres" | "postgresql" => "postgres",
        "mysql" | "mariadb" => "mysql",
        "redis" | "rediss" => "redis",
        "mongodb" => "mongodb",
        "amqp" => "rabbitmq",
        _ => return None,
    })
}

/// Hosts that mean "this machine": the only services doctor can look at.
pub fn is_local_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host.ends_with(".localhost")
        || host
            .parse::<IpAddr>()
            .map(|ip| ip.is_loopback() || ip.is_unspecified() || is_mapped_loopback(ip))
            .unwrap_or(false)
}

fn is_mapped_loopback(ip: IpAddr) -> bool {
    matches!(ip, IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()))
}

/// `::ffff:127.0.0.1` is 127.0.0.1 for every purpose here.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

pub const LOOPBACK_V4: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
pub const LOOPBACK_V6: IpAddr = IpAddr::V6(Ipv6Addr::LOCALHOST);

fn service_from_url(
    url: &str,
    name: String,
    source: String,
    folder: Option<PathBuf>,
) -> Option<Service> {
    let parts = parse_url(url)?;
    if !is_local_host(&parts.host) {
        return None;
    }
    Some(Service {
        name,
        kind: kind_of_scheme(&parts.scheme).map(String::from),
        port: parts.port,
        host: parts.host,
        url: Some(url.trim().to_string()),
        health: None,
        source,
        folder,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_lines() {
        assert_eq!(parse_env_line("A=b"), Some(("A", "b")));
        assert_eq!(parse_env_line("export A=\"b c\" # x"), Some(("A", "b c")));
        assert_eq!(parse_env_line("A=b # comment"), Some(("A", "b")));
        assert_eq!(parse_env_line("# A=b"), None);
        assert_eq!(parse_env_line("not a line"), None);
        assert_eq!(parse_env_line("=x"), None);
    }

    #[test]
    fn urls() {
        let u = parse_url("postgresql://app:SECRET@localhost:5433/app").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("localhost", 5433));
        let u = parse_url("http://[::1]:8000/health").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("::1", 8000, "/health")
        );
        assert_eq!(parse_url("http://localhost").unwrap().port, 80);
        assert!(parse_url("http://localhost:99999").is_none());
        assert!(parse_url("http://localhost:0").is_none());
        assert!(parse_url("nonsense").is_none());
        assert!(parse_url("http://").is_none());
        assert!(parse_url("weird://localhost").is_none());
    }

    #[test]
    fn names_and_hosts() {
        assert_eq!(service_name("VITE_API_URL"), "api");
        assert_eq!(service_name("DATABASE_URL"), "database");
        assert_eq!(service_name("URL"), "url");
        assert!(
            is_local_host("127.0.0.1") && is_local_host("[::1]") && is_local_host("app.localhost")
        );
        assert!(!is_local_host("example.com") && !is_local_host("10.0.0.1"));
        assert_eq!(
            quoted_urls("target: 'http://localhost:8000', x: \"ws://127.0.0.1:9\""),
            ["http://localhost:8000", "ws://127.0.0.1:9"]
        );
    }
}
