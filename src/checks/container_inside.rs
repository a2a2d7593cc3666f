//! PORT015, for the `containers` check: the app inside the project's
//! container listens on the container's loopback only. The engine's
//! forwarder accepts on the host and then finds nothing on the container's
//! address: every connection is reset or closed empty (curl 52/56,
//! ERR_EMPTY_RESPONSE). The evidence is the container's own socket table,
//! read through its init process (`/proc/PID/net/tcp`, Linux engines) or
//! with `docker exec … cat /proc/net/tcp` (Docker Desktop, podman machine).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::json;

use super::containers::Container;
use crate::engine::Context;
use crate::finding::{Finding, Fix};
use crate::project::compose::ComposeService;
use crate::project::{read_bounded, Service};
use crate::{platform, run};

const ID: &str = "containers";

/// The listening addresses on `port` in a `/proc/net/tcp{,6}` table.
pub fn listeners_in_table(table: &str, port: u16) -> Vec<SocketAddr> {
    let mut out = Vec::new();
    for line in table.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // `sl local_address rem_address st …`; 0A is LISTEN.
        if fields.len() < 4 || fields[3] != "0A" {
            continue;
        }
        let Some((ip, p)) = fields[1].split_once(':') else {
            continue;
        };
        let Ok(p) = u16::from_str_radix(p, 16) else {
            continue;
        };
        if p != port {
            continue;
        }
        if let Some(ip) = hex_ip(ip) {
            out.push(SocketAddr::new(ip, p));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The kernel prints each 32-bit word of the address in host order
/// (little-endian on the machines containers run on).
fn hex_ip(hex: &str) -> Option<IpAddr> {
    let word = |i: usize| -> Option<[u8; 4]> {
        let w = u32::from_str_radix(hex.get(i * 8..i * 8 + 8)?, 16).ok()?;
        Some(w.to_le_bytes())
    };
    match hex.len() {
        8 => Some(IpAddr::V4(Ipv4Addr::from(word(0)?))),
        32 => {
            let mut bytes = [0u8; 16];
            for i in 0..4 {
                bytes[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            let v6 = Ipv6Addr::from(bytes);
            Some(match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6(v6),
            })
        }
        _ => None,
    }
}

/// The container's socket table and how it was read.
fn socket_table(
    cli: &str,
    container: &Container,
    limit: Duration,
) -> Result<(String, String), String> {
    let exe = run::which(cli).ok_or_else(|| format!("no {cli} on PATH"))?;
    let inspect = run::bounded(
        Command::new(&exe).args(["inspect", "--format", "{{.State.Pid}}", &container.id]),
        limit,
    )
    .map_err(|e| format!("`{cli} inspect` {e}"))?;
    if let Some(pid) = inspect
        .stdout
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|p| *p > 0 && inspect.status == Some(0))
    {
        if let Some(table) = platform::netns_tcp_table(pid) {
            return Ok((
                table,
                format!("/proc/{pid}/net/tcp (the container's init process, from `{cli} inspect`)"),
            ));
        }
    }
    // The engine runs in a VM (Docker Desktop) or its processes are not
    // ours to read: ask inside the container.
    let ran = run::bounded(
        Command::new(&exe).args([
            "exec",
            &container.id,
            "cat",
            "/proc/net/tcp",
            "/proc/net/tcp6",
        ]),
        limit,
    )
    .map_err(|e| format!("`{cli} exec` {e}"))?;
    if ran.stdout.contains("local_address") {
        Ok((
            ran.stdout,
            format!(
                "`{cli} exec {} cat /proc/net/tcp /proc/net/tcp6`",
                container.name
            ),
        ))
    } else {
        Err(format!(
            "`{cli} exec` could not read the container's socket table"
        ))
    }
}

/// PORT015 for the container `c` that is `service`, published on the
/// host's `service.port` and listening inside on `inner_port`.
pub fn loopback_inside(
    ctx: &Context,
    cli: &str,
    service: &Service,
    c: &Container,
    inner_port: u16,
) -> Option<Finding> {
    let (table, read_by) = socket_table(cli, c, ctx.config.timeout).ok()?;
    let listeners = listeners_in_table(&table, inner_port);
    if listeners.is_empty() || !listeners.iter().all(|a| a.ip().is_loopback()) {
        return None;
    }
    let compose = c.compose_service.as_deref().and_then(|name| {
        ctx.project
            .compose
            .iter()
            .find(|s| s.name == name && c.compose_project.as_deref().is_none_or(|p| p == s.project))
    });
    let (command, at) = start_command(ctx, compose);
    let flag = command
        .as_deref()
        .map(|cmd| wide_flag(cmd, inner_port))
        .unwrap_or_else(|| {
            "make the app listen on 0.0.0.0 (all of the container's interfaces)".to_string()
        });
    let shown: Vec<String> = listeners.iter().map(ToString::to_string).collect();
    let port = service.port;
    let mut f = Finding::new(
        "PORT015",
        ID,
        format!(
            "{} in container {} listens on {} only: the published port {port} accepts, then every connection is reset (empty reply)",
            service.name,
            c.name,
            shown.join(", ")
        ),
    )
    .evidence("port", port)
    .evidence("service", service.name.clone())
    .evidence("container", json!({"id": c.id, "name": c.name, "image": c.image, "compose_service": c.compose_service}))
    .evidence("listening_inside", shown)
    .evidence("container_port", inner_port)
    .evidence("read_by", read_by);
    if let (Some(cmd), Some(at)) = (&command, &at) {
        f = f.evidence("command", json!({"command": cmd, "at": at}));
    }
    let mut steps = vec![flag.clone()];
    if let Some(s) = compose {
        steps.push(format!("docker compose up -d --build {}", s.name));
    }
    Some(f.with_fix(Fix::manual(
        format!(
            "bind the app to 0.0.0.0 inside the container{}: {flag}",
            at.as_deref().map(|a| format!(" ({a})")).unwrap_or_default()
        ),
        steps,
    )))
}

/// The command the container runs, with where it is written: the compose
/// service's `command:`, else its Dockerfile's last `CMD`/`ENTRYPOINT`.
fn start_command(
    ctx: &Context,
    compose: Option<&ComposeService>,
) -> (Option<String>, Option<String>) {
    let Some(s) = compose else {
        return (None, None);
    };
    if let Some((cmd, line)) = &s.command {
        return (Some(cmd.clone()), Some(format!("{}:{line}", s.file)));
    }
    let Some(dir) = &s.build else {
        return (None, None);
    };
    let dockerfile = dir.join("Dockerfile");
    let Ok(text) = read_bounded(&dockerfile) else {
        return (None, None);
    };
    let lines: Vec<&str> = text.lines().collect();
    let found = lines.iter().enumerate().rev().find_map(|(i, l)| {
        let t = l.trim();
        let rest = t
            .strip_prefix("CMD")
            .or_else(|| t.strip_prefix("ENTRYPOINT"))?;
        Some((exec_form(rest.trim()), i + 1))
    });
    match found {
        Some((cmd, line)) => (Some(cmd), Some(format!("{}:{line}", rel(ctx, &dockerfile)))),
        None => (None, None),
    }
}

fn rel(ctx: &Context, p: &Path) -> String {
    ctx.project.relative(p)
}

/// `["flask", "run"]` → `flask run`; a shell form stays as written.
fn exec_form(text: &str) -> String {
    match serde_json::from_str::<Vec<String>>(text) {
        Ok(words) => words.join(" "),
        Err(_) => text.to_string(),
    }
}

/// The flag that makes this command's server listen on every interface.
fn wide_flag(cmd: &str, port: u16) -> String {
    let has = |w: &str| {
        cmd.split_whitespace()
            .any(|x| x == w || x.ends_with(&format!("/{w}")))
    };
    if cmd.contains("runserver") {
        format!("python manage.py runserver 0.0.0.0:{port}")
    } else if has("gunicorn") {
        format!("gunicorn --bind 0.0.0.0:{port} …")
    } else if has("uvicorn") || has("hypercorn") || cmd.contains("fastapi") {
        format!("add --host 0.0.0.0 to `{cmd}`")
    } else if has("flask") {
        format!("add --host 0.0.0.0 to `{cmd}` (or FLASK_RUN_HOST=0.0.0.0)")
    } else if cmd.contains("http.server") {
        format!("add --bind 0.0.0.0 to `{cmd}`")
    } else if has("next") {
        format!("add -H 0.0.0.0 to `{cmd}`")
    } else if has("vite") || cmd.contains("npm run dev") || cmd.contains("yarn dev") {
        format!("add --host 0.0.0.0 to vite (server.host: true in vite.config), run as `{cmd}`")
    } else {
        format!("make `{cmd}` listen on 0.0.0.0, not 127.0.0.1 or localhost")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proc_net_tcp_table() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1388 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0\n   1: 0100007F:1388 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 2 1\n   2: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3 1\n  sl  local_address                         remote_address                        st\n   0: 00000000000000000000000001000000:1388 00000000000000000000000000000000:0000 0A 0\n";
        assert_eq!(
            listeners_in_table(table, 5000),
            vec![
                "127.0.0.1:5000".parse().unwrap(),
                "[::1]:5000".parse().unwrap()
            ]
        );
        assert_eq!(
            listeners_in_table(table, 80),
            vec!["0.0.0.0:80".parse().unwrap()]
        );
        assert!(listeners_in_table(table, 81).is_empty());
    }

    #[test]
    fn flags_by_framework() {
        assert!(wide_flag("flask run", 5000).contains("--host 0.0.0.0"));
        assert_eq!(
            wide_flag("python manage.py runserver", 8000),
            "python manage.py runserver 0.0.0.0:8000"
        );
        assert!(wide_flag("/venv/bin/uvicorn main:app", 8000).contains("--host 0.0.0.0"));
        assert!(wide_flag("npx next dev", 3000).contains("-H 0.0.0.0"));
        assert_eq!(
            exec_form(r#"["flask", "run", "--port", "5000"]"#),
            "flask run --port 5000"
        );
    }
}
