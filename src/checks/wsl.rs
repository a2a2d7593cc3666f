//! WSL001–WSL002: what the Windows side of the machine reaches when doctor
//! runs inside WSL. The browser is on Windows; `localhost:PORT` there goes
//! through WSL's forwarding (NAT mode: only IPv4 binds that cover 127.0.0.1
//! are forwarded, by `wslrelay.exe`) or to whatever Windows process holds
//! the port itself.

use std::collections::HashMap;
use std::net::IpAddr;

use serde_json::json;

use super::ports::covers;
use crate::engine::{Check, CheckError, Context, Snapshot};
use crate::finding::{Finding, Fix, Severity};
use crate::platform::environment::{self, Wsl};
use crate::platform::{Socket, TcpState};
use crate::project::{Service, LOOPBACK_V4};

pub struct WslSide;

const ID: &str = "wsl";
const DATABASES: &[&str] = &["postgres", "redis", "mysql", "mongodb"];

impl Check for WslSide {
    fn id(&self) -> &'static str {
        ID
    }
    fn description(&self) -> &'static str {
        "inside WSL: which listeners Windows can reach, and Windows processes on the same ports"
    }
    fn codes(&self) -> &'static [&'static str] {
        &["WSL001", "WSL002", "WSL003"]
    }
    fn run(&self, ctx: &Context) -> Result<Vec<Finding>, CheckError> {
        let Some(wsl) = environment::current_wsl(ctx.config.timeout) else {
            return Err(CheckError::Skipped("not running inside WSL".into()));
        };
        let targets = targets(&ctx.project);
        if targets.is_empty() {
            return Ok(Vec::new());
        }
        let snapshot = ctx.snapshot()?;
        let mut out: Vec<Finding> = targets
            .iter()
            .filter_map(|t| unreachable_bind(&wsl, snapshot, t))
            .collect();
        let started = std::time::Instant::now();
        let windows = match environment::windows_side_sockets(ctx.config.timeout) {
            Ok(sockets) => {
                ctx.record_probe(json!({
                    "check": ID,
                    "windows_side": "netstat.exe -ano",
                    "sockets": sockets.len(),
                    "ms": started.elapsed().as_millis() as u64,
                    "networking_mode": mode(&wsl),
                }));
                sockets
            }
            Err(why) => {
                // The Windows side is not seen: said in the probes, and the
                // WSL-side findings stand on their own.
                ctx.record_probe(json!({"check": ID, "windows_side": why}));
                return Ok(out);
            }
        };
        // Forwardable servers with no listener at all on the Windows side:
        // WSL's localhost forwarding is off or not running.
        if wsl.is_nat() {
            let wslconfig = wslconfig();
            out.extend(
                targets
                    .iter()
                    .filter(|t| forwardable(snapshot, t.port))
                    .filter(|t| windows_listeners(&windows, t.port).is_empty())
                    .map(|t| not_forwarded(&wsl, t, wslconfig.as_ref())),
            );
        }
        let held: Vec<(&Target, Vec<&Socket>)> = targets
            .iter()
            .map(|t| (t, windows_listeners(&windows, t.port)))
            .filter(|(_, l)| !l.is_empty())
            .collect();
        if !held.is_empty() {
            let names = environment::windows_process_names(ctx.config.timeout);
            out.extend(
                held.into_iter()
                    .filter_map(|(t, l)| held_on_windows(&wsl, snapshot, t, &l, &names)),
            );
        }
        Ok(out)
    }
}

/// What the browser on Windows would reach: each expected service, and
/// each port examined on request (`doctor port N`, `--port N`).
struct Target<'a> {
    port: u16,
    service: Option<&'a Service>,
}

impl Target<'_> {
    fn name(&self) -> String {
        match self.service {
            Some(s) => s.name.clone(),
            None => format!("the server on port {}", self.port),
        }
    }

    fn evidence(&self, f: Finding) -> Finding {
        let f = f.evidence("port", self.port);
        match self.service {
            Some(s) => f.evidence("service", s.name.clone()),
            None => f,
        }
    }
}

fn targets(project: &crate::project::Project) -> Vec<Target<'_>> {
    let mut out: Vec<Target> = Vec::new();
    for s in project.services.iter().filter(|s| s.expected) {
        if !out.iter().any(|t| t.port == s.port) {
            out.push(Target {
                port: s.port,
                service: Some(s),
            });
        }
    }
    for &port in &project.examined_ports {
        if !out.iter().any(|t| t.port == port) {
            out.push(Target {
                port,
                service: None,
            });
        }
    }
    out
}

/// WSL's own processes on the Windows side: the localhost forwarder and the
/// VM's service and host processes.
fn is_wsl_own(name: &str) -> bool {
    [
        "wslrelay.exe",
        "wslservice.exe",
        "wslhost.exe",
        "vmmem",
        "vmmemwsl",
        "vmcompute.exe",
    ]
    .iter()
    .any(|own| name.eq_ignore_ascii_case(own))
}

fn windows_listeners(sockets: &[Socket], port: u16) -> Vec<&Socket> {
    sockets
        .iter()
        .filter(|s| s.state == TcpState::Listen && s.local.port() == port)
        .collect()
}

fn mode(wsl: &Wsl) -> String {
    match &wsl.networking {
        Some(m) => format!("{m} (wslinfo --networking-mode)"),
        None => "nat (assumed: WSL 2's default; no wslinfo to ask)".to_string(),
    }
}

/// WSL001: in NAT mode, a service that listens in WSL, but on no address
/// that covers 127.0.0.1 (`::1` only, or one interface's address), is
/// refused from Windows' `localhost`.
fn unreachable_bind(wsl: &Wsl, snapshot: &Snapshot, target: &Target) -> Option<Finding> {
    if !wsl.is_nat() {
        return None;
    }
    let port = target.port;
    let listening: Vec<IpAddr> = snapshot
        .on_port(port)
        .filter(|s| s.state == TcpState::Listen)
        .map(|s| s.local.ip())
        .collect();
    if listening.is_empty() || listening.iter().any(|ip| covers(*ip, LOOPBACK_V4)) {
        return None;
    }
    let shown: Vec<String> = listening
        .iter()
        .map(|ip| std::net::SocketAddr::new(*ip, port).to_string())
        .collect();
    // The browser is on Windows; a database is mostly reached from inside.
    let database = target
        .service
        .and_then(|s| s.kind.as_deref())
        .is_some_and(|k| DATABASES.contains(&k));
    let name = target.name();
    let f = Finding::new(
        "WSL001",
        ID,
        format!(
            "{name} listens in WSL only on {}: Windows' localhost:{port} is refused (WSL's NAT mode forwards only IPv4 binds on 127.0.0.1 or 0.0.0.0)",
            shown.join(", ")
        ),
    )
    .severity(if database { Severity::Info } else { Severity::Warning });
    Some(
        target
            .evidence(f)
            .evidence("listening", shown)
            .evidence("networking_mode", mode(wsl))
            .with_fix(Fix::manual(
                format!(
                    "make {name} listen on 127.0.0.1 (or 0.0.0.0) and restart it; or set networkingMode=mirrored under [wsl2] in %UserProfile%\\.wslconfig and run `wsl --shutdown` in Windows"
                ),
                target.service.and_then(bind_command).into_iter().collect(),
            )),
    )
}

/// Whether the server in WSL listens where NAT mode forwards it (a bind
/// that covers 127.0.0.1).
fn forwardable(snapshot: &Snapshot, port: u16) -> bool {
    snapshot
        .on_port(port)
        .filter(|s| s.state == TcpState::Listen)
        .any(|s| covers(s.local.ip(), LOOPBACK_V4))
}

/// `%UserProfile%\.wslconfig` as seen from WSL, with its text.
struct WslConfig {
    shown: String,
    text: String,
}

/// The Windows user's `.wslconfig`: `$USERPROFILE` when WSLENV passes it
/// (a Windows path is read under /mnt/c), else the one `.wslconfig` under
/// /mnt/c/Users.
fn wslconfig() -> Option<WslConfig> {
    let from_env = std::env::var("USERPROFILE").ok().map(|p| {
        let p = p.replace('\\', "/");
        match p.as_bytes() {
            [d, b':', ..] => format!("/mnt/{}{}", (*d as char).to_ascii_lowercase(), &p[2..]),
            _ => p,
        }
    });
    let candidates: Vec<std::path::PathBuf> = match from_env {
        Some(dir) => vec![std::path::Path::new(&dir).join(".wslconfig")],
        None => std::fs::read_dir("/mnt/c/Users")
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path().join(".wslconfig"))
            .filter(|p| p.is_file())
            .collect(),
    };
    let [path] = candidates.as_slice() else {
        return None;
    };
    let text = crate::project::read_bounded(path).ok()?;
    Some(WslConfig {
        shown: path.display().to_string(),
        text,
    })
}

/// The line of `.wslconfig`'s `[wsl2]` section that sets `key`, with its
/// value: `localhostForwarding=false` at line 3.
fn wslconfig_setting(text: &str, key: &str) -> Option<(usize, String)> {
    let mut in_wsl2 = false;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.starts_with('[') {
            in_wsl2 = t.eq_ignore_ascii_case("[wsl2]");
            continue;
        }
        if !in_wsl2 || t.starts_with('#') || t.starts_with(';') {
            continue;
        }
        if let Some((k, v)) = t.split_once('=') {
            if k.trim().eq_ignore_ascii_case(key) {
                let v = v.split(['#', ';']).next().unwrap_or_default();
                return Some((i + 1, v.trim().to_ascii_lowercase()));
            }
        }
    }
    None
}

/// WSL003: in NAT mode the server listens in WSL where WSL forwards, and
/// Windows has no listener on the port: no relay, so Windows' localhost
/// refuses. `localhostForwarding=false` in `.wslconfig` says why.
fn not_forwarded(wsl: &Wsl, target: &Target, config: Option<&WslConfig>) -> Finding {
    let port = target.port;
    let name = target.name();
    let off = config.and_then(|c| {
        wslconfig_setting(&c.text, "localhostForwarding")
            .filter(|(_, v)| v == "false")
            .map(|(line, _)| (c, line))
    });
    let (title, fix) = match off {
        Some((c, line)) => (
            format!(
                "{name} answers in WSL, but Windows' localhost:{port} is refused: localhostForwarding=false in {}:{line}",
                c.shown
            ),
            Fix::manual(
                format!(
                    "turn WSL's localhost forwarding back on: remove the line or set localhostForwarding=true under [wsl2] in {}:{line}, then run `wsl --shutdown` in Windows and start the service again",
                    c.shown
                ),
                vec!["wsl --shutdown   (in a Windows terminal)".to_string()],
            ),
        ),
        None => (
            format!(
                "{name} answers in WSL, but nothing listens on port {port} on the Windows side: WSL's localhost forwarding is not running, and Windows' localhost:{port} is refused"
            ),
            Fix::manual(
                "restart WSL (its forwarding stops after sleep, a VPN, or a crashed relay; this ends every WSL process), or reach the server at WSL's own address from Windows",
                vec![
                    "wsl --shutdown   (in a Windows terminal), then start the service again".to_string(),
                    format!("or from Windows: http://<the address `hostname -I` prints in WSL>:{port}"),
                    "or networkingMode=mirrored under [wsl2] in %UserProfile%\\.wslconfig".to_string(),
                ],
            ),
        ),
    };
    let mut f = target
        .evidence(Finding::new("WSL003", ID, title).severity(Severity::Warning))
        .evidence("networking_mode", mode(wsl))
        .evidence("windows_listening", Vec::<String>::new())
        .with_fix(fix);
    f = match (config, off) {
        (_, Some((c, line))) => f.evidence(
            "wslconfig",
            format!("{}:{line}: localhostForwarding=false", c.shown),
        ),
        (Some(c), None) => f.evidence(
            "wslconfig",
            format!("{}: localhostForwarding not set to false", c.shown),
        ),
        (None, None) => f.evidence(
            "wslconfig",
            "no .wslconfig found (USERPROFILE unset and none under /mnt/c/Users)",
        ),
    };
    f
}

/// How this kind of server is told to listen on 127.0.0.1, when doctor
/// knows the kind; otherwise the fix's prose is all there is.
fn bind_command(service: &Service) -> Option<String> {
    let kind = service.kind.as_deref()?;
    Some(match kind {
        "vite" | "astro" | "sveltekit" | "nuxt" => "npm run dev -- --host 127.0.0.1".to_string(),
        "next" => "npm run dev -- -H 127.0.0.1".to_string(),
        "fastapi" | "uvicorn" => format!("{} --host 127.0.0.1", service.start.as_deref()?),
        "flask" => format!("flask run --host 127.0.0.1 --port {}", service.port),
        "django" => format!("python manage.py runserver 127.0.0.1:{}", service.port),
        _ => return None,
    })
}

/// WSL002: a Windows process listens on the service's port on the Windows
/// side, so Windows' `localhost:PORT` reaches it, not the server in WSL.
/// `wslrelay.exe` is WSL's own forwarder: right while the server listens in
/// WSL, stale when nothing does.
fn held_on_windows(
    wsl: &Wsl,
    snapshot: &Snapshot,
    target: &Target,
    listeners: &[&Socket],
    names: &HashMap<u32, String>,
) -> Option<Finding> {
    let port = target.port;
    let in_wsl = snapshot.has_listener(port);
    let holders: Vec<(u32, String)> = listeners
        .iter()
        .flat_map(|s| s.pids().iter().copied())
        .map(|pid| {
            let name = names.get(&pid).cloned().unwrap_or_default();
            (pid, name)
        })
        .collect();
    let relay_only = !holders.is_empty() && holders.iter().all(|(_, n)| is_wsl_own(n));
    // WSL's own forwarder for a live server is how it should be; in mirrored
    // mode a server that could bind its port shares it with no one.
    if in_wsl && (relay_only || !wsl.is_nat()) {
        return None;
    }
    let who = holders
        .iter()
        .map(|(pid, name)| match name.as_str() {
            "" => format!("pid {pid}"),
            name => format!("{name} (pid {pid})"),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let who = if who.is_empty() {
        "a Windows process doctor cannot name".to_string()
    } else {
        who
    };
    let addresses: Vec<String> = listeners.iter().map(|s| s.local.to_string()).collect();
    let (title, severity, fix) = if relay_only {
        (
            format!("port {port} is still held on Windows by WSL's forwarder {who}, but nothing listens on it in WSL: the relay outlived its server"),
            Severity::Warning,
            Fix::manual(
                "restart WSL's networking (this ends every WSL process), then start the service again",
                vec!["wsl --shutdown   (in a Windows terminal)".to_string()],
            ),
        )
    } else {
        let severity = if !in_wsl && !wsl.is_nat() && target.service.is_some() {
            // Mirrored mode shares the ports: the service cannot bind at all.
            Severity::Error
        } else {
            Severity::Warning
        };
        let commands = holders
            .iter()
            .map(|(pid, _)| format!("taskkill /PID {pid} /T   (in a Windows terminal)"))
            .collect();
        let instead = if in_wsl {
            format!("{} in WSL", target.name())
        } else {
            "WSL".to_string()
        };
        (
            format!(
                "port {port} is held on the Windows side by {who}: Windows' localhost:{port} reaches it, not {instead}"
            ),
            severity,
            Fix::manual(
                format!(
                    "end the Windows process on port {port} if it is an old copy, or give {} another port",
                    target.name()
                ),
                commands,
            ),
        )
    };
    Some(
        target
            .evidence(Finding::new("WSL002", ID, title).severity(severity))
            .evidence("windows_listening", addresses)
            .evidence(
                "windows_holders",
                holders
                    .iter()
                    .map(|(pid, name)| json!({"pid": pid, "name": name}))
                    .collect::<Vec<_>>(),
            )
            .evidence("listening_in_wsl", in_wsl)
            .evidence("networking_mode", mode(wsl))
            .with_fix(fix),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn windows_listener(port: u16, pid: u32) -> Socket {
        Socket::sample_listener(&format!("0.0.0.0:{port}"), pid)
    }

    fn wsl(mode: &str) -> Wsl {
        Wsl {
            distro: Some("Ubuntu".into()),
            networking: Some(mode.into()),
        }
    }

    #[test]
    fn a_windows_holder_keeps_a_mirrored_server_from_binding() {
        let api = Service::at("api", 8000, ".env:1".into());
        let service = Target {
            port: 8000,
            service: Some(&api),
        };
        let socket = windows_listener(8000, 4242);
        let names = HashMap::from([(4242, "python.exe".to_string())]);
        let empty = Snapshot::default();
        let mirrored = held_on_windows(&wsl("mirrored"), &empty, &service, &[&socket], &names)
            .expect("a finding");
        assert_eq!(mirrored.severity, Severity::Error, "{}", mirrored.title);
        let nat = held_on_windows(&wsl("nat"), &empty, &service, &[&socket], &names).unwrap();
        assert_eq!(nat.severity, Severity::Warning);
        assert!(nat.title.contains("python.exe (pid 4242)"), "{}", nat.title);
    }

    #[test]
    fn wsls_own_processes_are_not_strangers() {
        assert!(is_wsl_own("wslrelay.exe") && is_wsl_own("VmmemWSL"));
        assert!(!is_wsl_own("node.exe"));
    }

    #[test]
    fn wslconfig_settings_of_the_wsl2_section() {
        let text = "[wsl2]\nmemory=8GB\n  localhostForwarding = False  # off for the VPN\n[experimental]\nlocalhostForwarding=true\n";
        assert_eq!(
            super::wslconfig_setting(text, "localhostforwarding"),
            Some((3, "false".into()))
        );
        assert_eq!(
            super::wslconfig_setting("[boot]\nlocalhostForwarding=false\n", "localhostForwarding"),
            None
        );
    }
}
