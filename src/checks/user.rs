//! USER001: the extra checks a project declares in doctor.toml (`http`,
//! `tcp`, `command`, `env`), each a finding with the user's own title.

use std::process::Command;

use crate::engine::{Check, CheckError, Context};
use crate::finding::Finding;
use crate::project::{read_bounded, UserCheck, UserCheckKind};
use crate::{net, run};

pub struct User;

const ID: &str = "user";

impl Check for User {
    fn id(&self) -> &'static str {
        ID
    }
    fn description(&self) -> &'static str {
        "the checks declared in doctor.toml (http, tcp, command, env)"
    }
    fn codes(&self) -> &'static [&'static str] {
        &["USER001"]
    }
    fn run(&self, ctx: &Context) -> Result<Vec<Finding>, CheckError> {
        let timeout = ctx.config.timeout;
        // `--no-exec`: a declared command is the project's code; not run.
        let (run, skipped): (Vec<_>, Vec<_>) =
            ctx.project.user_checks.iter().cloned().partition(|c| {
                !(ctx.config.no_exec && matches!(c.kind, UserCheckKind::Command { .. }))
            });
        for c in &skipped {
            ctx.record_probe(serde_json::json!({"check": ID, "name": c.name, "result": "skipped: --no-exec (a command check runs the project's code)"}));
        }
        // Each declared check is a probe of its own: all at once, one bound.
        let handles: Vec<_> = run
            .into_iter()
            .map(|c| std::thread::spawn(move || failure(&c, timeout).map(|why| (c, why))))
            .collect();
        Ok(handles
            .into_iter()
            .filter_map(|h| h.join().ok().flatten())
            .map(|(c, why)| {
                Finding::new("USER001", ID, format!("{}: {why}", c.name))
                    .evidence("check", c.name.clone())
                    .evidence("declared_at", c.source.clone())
                    .evidence("result", why)
            })
            .collect())
    }
}

/// Why the check failed, or `None` when it passed.
fn failure(c: &UserCheck, timeout: std::time::Duration) -> Option<String> {
    match &c.kind {
        UserCheckKind::Http { url, expect } => match net::get(url, timeout) {
            Ok(r) => {
                let ok = match expect {
                    Some(code) => r.status == *code,
                    None => (200..300).contains(&r.status),
                };
                (!ok).then(|| {
                    format!(
                        "GET {url} answered {} (expected {})",
                        r.status,
                        expect.map_or("2xx".into(), |e| e.to_string())
                    )
                })
            }
            Err(e) => Some(format!("GET {url}: {e}")),
        },
        UserCheckKind::Tcp { host, port } => {
            let addrs = net::resolve(host, *port).ok()?;
            let ok = addrs
                .iter()
                .any(|a| crate::net::connect(a, timeout).is_ok());
            (!ok).then(|| format!("no TCP connection to {host}:{port}"))
        }
        UserCheckKind::Command {
            run: line,
            timeout: limit,
        } => {
            let (shell, flag) = if cfg!(windows) {
                ("cmd", "/C")
            } else {
                ("sh", "-c")
            };
            match run::bounded(
                Command::new(shell).arg(flag).arg(line),
                limit.unwrap_or(timeout),
            ) {
                Ok(r) if r.status == Some(0) => None,
                Ok(r) => Some(format!(
                    "`{line}` exited with {}: {}",
                    r.status.map_or("a signal".into(), |s| s.to_string()),
                    super::shorten(r.stderr.trim(), 120)
                )),
                Err(e) => Some(format!("`{line}` {e}")),
            }
        }
        UserCheckKind::Env { file, keys } => {
            let text = read_bounded(file).unwrap_or_default();
            let have: Vec<&str> = text
                .lines()
                .filter_map(|l| crate::project::parse_env_line(l).map(|(k, _)| k))
                .collect();
            let missing: Vec<&str> = keys
                .iter()
                .map(String::as_str)
                .filter(|k| !have.contains(k))
                .collect();
            (!missing.is_empty()).then(|| {
                format!(
                    "{} lacks {}",
                    file.file_name()
                        .map_or(String::new(), |f| f.to_string_lossy().into_owned()),
                    missing.join(", ")
                )
            })
        }
    }
}
