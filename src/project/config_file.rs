//! `doctor.toml`: services a user declares (they override discovery) and
//! extra checks of built-in kinds. A wrong key or type is an error naming
//! the file and line, and doctor stops (exit 2) rather than guess.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::{parse_url, Project, Service};

pub const FILE: &str = "doctor.toml";

#[derive(Debug, Clone)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    service: Vec<DeclaredService>,
    #[serde(default)]
    check: Vec<DeclaredCheck>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeclaredService {
    name: String,
    port: Option<u16>,
    url: Option<String>,
    health: Option<String>,
    origin: Option<String>,
    start: Option<String>,
    folder: Option<String>,
    kind: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeclaredCheck {
    name: String,
    kind: String,
    url: Option<String>,
    expect: Option<u16>,
    host: Option<String>,
    port: Option<u16>,
    run: Option<String>,
    timeout: Option<String>,
    file: Option<String>,
    #[serde(default)]
    keys: Vec<String>,
}

#[derive(Debug, Clone)]
pub enum UserCheckKind {
    /// GET the URL; the status must be `expect` (default: any 2xx).
    Http { url: String, expect: Option<u16> },
    /// A TCP connection must open.
    Tcp { host: String, port: u16 },
    /// The command (run by the shell, in the root) must exit 0 in time.
    Command {
        run: String,
        timeout: Option<Duration>,
    },
    /// The env file must define these keys.
    Env { file: PathBuf, keys: Vec<String> },
}

#[derive(Debug, Clone)]
pub struct UserCheck {
    pub name: String,
    pub kind: UserCheckKind,
    /// `doctor.toml:12`
    pub source: String,
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The line of the `n`-th `[[table]]` header, for sources and errors.
fn header_line(text: &str, table: &str, n: usize) -> usize {
    let header = format!("[[{table}]]");
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.trim_start().starts_with(&header))
        .nth(n)
        .map_or(1, |(i, _)| i + 1)
}

pub fn load(project: &mut Project) -> Result<(), ConfigError> {
    let path = project.root.join(FILE);
    let text = match super::read_bounded(&path) {
        Ok(text) => text,
        // No doctor.toml: discovery alone.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        // There but not readable (a FIFO, over the limit): said, then discovery alone.
        Err(e) => {
            project.unreadable.push(super::Unreadable {
                path: FILE.into(),
                error: e.to_string(),
            });
            return Ok(());
        }
    };
    let file: File = toml::from_str(&text).map_err(|e| {
        let line = e.span().map_or(1, |s| line_of(&text, s.start));
        ConfigError(format!("{FILE}:{line}: {}", e.message()))
    })?;
    for (n, d) in file.service.into_iter().enumerate() {
        let line = header_line(&text, "service", n);
        let at = format!("{FILE}:{line}");
        let port = match (d.port, d.url.as_deref().and_then(parse_url)) {
            (Some(p), _) => p,
            (None, Some(u)) => u.port,
            (None, None) => {
                return Err(ConfigError(format!(
                    "{at}: service '{}' needs a port or a URL with one",
                    d.name
                )))
            }
        };
        if d.url.as_deref().is_some_and(|u| parse_url(u).is_none()) {
            return Err(ConfigError(format!(
                "{at}: service '{}': url is not a URL",
                d.name
            )));
        }
        let mut s = Service::at(d.name, port, at);
        if let Some(u) = d.url.as_deref().and_then(parse_url) {
            s.host = u.host;
        }
        s.url = d.url;
        s.health = d.health;
        s.origin = d.origin;
        s.start = d.start;
        s.kind = d.kind;
        if let Some(folder) = d.folder {
            let full = project.root.join(&folder);
            s.folder_shown = Some(folder);
            s.folder = Some(full);
        }
        s.declared = true;
        project.services.push(s);
    }
    for (n, c) in file.check.into_iter().enumerate() {
        let line = header_line(&text, "check", n);
        let at = format!("{FILE}:{line}");
        let missing = |what: &str| {
            ConfigError(format!(
                "{at}: check '{}' of kind {} needs `{what}`",
                c.name, c.kind
            ))
        };
        let kind = match c.kind.as_str() {
            "http" => UserCheckKind::Http {
                url: c.url.clone().ok_or_else(|| missing("url"))?,
                expect: c.expect,
            },
            "tcp" => UserCheckKind::Tcp {
                host: c.host.clone().unwrap_or_else(|| "localhost".into()),
                port: c.port.ok_or_else(|| missing("port"))?,
            },
            "command" => UserCheckKind::Command {
                run: c.run.clone().ok_or_else(|| missing("run"))?,
                timeout: match &c.timeout {
                    Some(t) => Some(
                        crate::config::parse_duration(t)
                            .map_err(|e| ConfigError(format!("{at}: timeout {e}")))?,
                    ),
                    None => None,
                },
            },
            "env" => UserCheckKind::Env {
                file: project
                    .root
                    .join(c.file.clone().unwrap_or_else(|| ".env".into())),
                keys: c.keys.clone(),
            },
            other => {
                return Err(ConfigError(format!(
                    "{at}: check '{}': unknown kind '{other}' (http, tcp, command, env)",
                    c.name
                )))
            }
        };
        project.user_checks.push(UserCheck {
            name: c.name,
            kind,
            source: at,
        });
    }
    Ok(())
}
