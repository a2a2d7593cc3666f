//! PORT012: a dev server or a database of the project listens on every
//! interface (`0.0.0.0`, `::`) where nothing needs it: reachable from the
//! network it is on. Info for a plain dev server; a warning for a debug
//! server (Django's runserver, werkzeug's debugger, `uvicorn --reload`) or a
//! Redis that answers without a password. Never for a container engine's
//! forwarder or a port a compose file publishes (that is on purpose).

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::{describe_pid, process_evidence};
use crate::engine::{Check, CheckError, Context, Snapshot};
use crate::finding::{Finding, Fix, Severity};
use crate::platform::{self, ProcessInfo, TcpState};
use crate::project::Service;

pub struct Exposure;

const ID: &str = "exposure";

impl Check for Exposure {
    fn id(&self) -> &'static str {
        ID
    }
    fn description(&self) -> &'static str {
        "the project's dev servers and databases listening on every interface"
    }
    fn codes(&self) -> &'static [&'static str] {
        &["PORT012"]
    }
    fn run(&self, ctx: &Context) -> Result<Vec<Finding>, CheckError> {
        let snapshot = ctx.snapshot()?;
        let mut out = Vec::new();
        for service in ctx.project.services.iter().filter(|s| s.expected) {
            if published_by_compose(service) {
                continue;
            }
            if let Some(f) = exposed(ctx, snapshot, service) {
                out.push(f);
            }
        }
        Ok(out)
    }
}

/// A port a compose file publishes is published on purpose.
fn published_by_compose(s: &Service) -> bool {
    let compose =
        |src: &str| src.contains("compose") && (src.contains(".yml") || src.contains(".yaml"));
    compose(&s.source)
        || s.sources
            .iter()
            .any(|f| f.fact == "port" && compose(&f.source))
}

fn exposed(ctx: &Context, snapshot: &Snapshot, service: &Service) -> Option<Finding> {
    let port = service.port;
    let wide: Vec<SocketAddr> = snapshot
        .on_port(port)
        .filter(|s| s.state == TcpState::Listen && s.local.ip().is_unspecified())
        .map(|s| s.local)
        .collect();
    let holders: Vec<&ProcessInfo> = snapshot
        .on_port(port)
        .filter(|s| s.state == TcpState::Listen && s.local.ip().is_unspecified())
        .flat_map(|s| s.pids().iter().copied())
        .filter_map(|pid| snapshot.process(pid))
        .collect();
    let first = *holders.first()?;
    // Only the project's own server: a forwarder (containers, tunnels) or a
    // stranger is not this finding's.
    if holders.iter().any(|p| super::is_forwarder(p))
        || holders
            .iter()
            .any(|p| super::ports::belongs_to(p, service, &ctx.project) != Some(true))
    {
        return None;
    }
    // The root of the holders' tree carries the start command.
    let root = holders
        .iter()
        .copied()
        .find(|p| {
            p.parent
                .is_none_or(|pp| !holders.iter().any(|h| h.pid == pp))
        })
        .unwrap_or(first);
    let lineage: Vec<&ProcessInfo> = std::iter::once(root)
        .chain(holders.iter().copied())
        .chain(root.parent.and_then(|pp| snapshot.process(pp)))
        .collect();
    let binding = wide_binding(&lineage);
    let database = matches!(
        service.kind.as_deref(),
        Some("postgres" | "redis" | "mysql" | "mongodb")
    );
    let danger = if database {
        open_database(service, port)
    } else {
        debug_server(&lineage)
    };
    let addrs: Vec<String> = wide.iter().map(|a| a.to_string()).collect();
    let what = if database { "database" } else { "dev server" };
    let mut title = format!(
        "{} ({what}, {}) listens on every interface ({}): reachable from the network, not only from this machine",
        service.name,
        describe_pid(snapshot, root.pid),
        addrs.join(", ")
    );
    if let Some(d) = &danger {
        title = format!("{title}; {d}");
    }
    let (flag, loopback) = match binding.or_else(|| framework_default(service)) {
        Some(b) => (b.written, b.loopback),
        None => (
            "not on its command line or in its environment: a config file (vite.config server.host, redis.conf bind, postgresql.conf listen_addresses, a HOST setting)".to_string(),
            "bind it to 127.0.0.1 (or localhost) there".to_string(),
        ),
    };
    let mut f = Finding::new("PORT012", ID, title)
        .evidence("port", port)
        .evidence("service", service.name.clone())
        .evidence("listening", addrs)
        .evidence("process", process_evidence(snapshot, root))
        .evidence("bound_wide_by", flag.clone())
        .evidence("loopback", loopback.clone())
        .with_fix(Fix::manual(
            format!("restart {} bound to loopback: {loopback}", service.name),
            service
                .start_from_root()
                .map(|s| vec![format!("its start command: {}", s.join(" && "))])
                .unwrap_or_default(),
        ));
    match danger {
        Some(d) => f = f.evidence("exposes", d),
        None => {
            f = f.severity(Severity::Info).explain(
                "A dev server bound to every interface answers anyone on the same network (a café's Wi-Fi, an office LAN). That is sometimes wanted (testing from a phone); nothing of the project needs it, so doctor only mentions it.",
            )
        }
    }
    Some(f)
}

/// The flag or setting that binds wide, as written, and its loopback twin.
#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    pub written: String,
    pub loopback: String,
}

fn is_wide(v: &str) -> bool {
    matches!(v, "0.0.0.0" | "::" | "[::]" | "*" | "0")
}

/// What on a command line binds every interface: `--host 0.0.0.0`,
/// `--host=::`, vite's bare `--host`, `-b 0.0.0.0:8000` (gunicorn),
/// `runserver 0.0.0.0:8000` / `0:8000` (Django), `--bind 0.0.0.0` (redis).
pub fn wide_flag(cmdline: &[String]) -> Option<Binding> {
    // redis-server rewrites its title to `redis-server 0.0.0.0:6379`: the
    // flag is gone, the bind shows.
    let words: Vec<&str> = cmdline.iter().flat_map(|w| w.split_whitespace()).collect();
    if words.first().is_some_and(|w| w.ends_with("redis-server")) {
        if let Some(addr) = words
            .iter()
            .skip(1)
            .find(|w| w.contains(':') && is_wide(host_of(w)))
        {
            return Some(Binding {
                written: format!("bind {} (its --bind flag, or redis.conf's bind: the process title shows {addr})", host_of(addr)),
                loopback: "--bind 127.0.0.1 -::1 (or `bind 127.0.0.1 -::1` in redis.conf)".into(),
            });
        }
    }
    let host_flags = [
        "--host",
        "-h",
        "-H",
        "--bind",
        "-b",
        "--hostname",
        "--listen",
    ];
    for (i, word) in cmdline.iter().enumerate() {
        if let Some((flag, value)) = word.split_once('=') {
            if host_flags.contains(&flag) && is_wide(host_of(value)) {
                return Some(Binding {
                    written: word.clone(),
                    loopback: format!("{flag}={}", with_loopback(value)),
                });
            }
            continue;
        }
        if host_flags.contains(&word.as_str()) {
            match cmdline.get(i + 1) {
                Some(v) if is_wide(host_of(v)) => {
                    let loop_v = if word == "--bind" && cmdline.iter().any(|w| w.contains("redis"))
                    {
                        "127.0.0.1 -::1".to_string()
                    } else {
                        with_loopback(v)
                    };
                    return Some(Binding {
                        written: format!("{word} {v}"),
                        loopback: format!("{word} {loop_v}"),
                    });
                }
                // vite's `--host` alone means every interface.
                None if word == "--host" => {
                    return Some(bare_host());
                }
                Some(v) if word == "--host" && v.starts_with('-') => {
                    return Some(bare_host());
                }
                _ => {}
            }
        }
        if word == "runserver" {
            if let Some(v) = cmdline.get(i + 1).filter(|v| !v.starts_with('-')) {
                if is_wide(host_of(v)) {
                    return Some(Binding {
                        written: format!("runserver {v}"),
                        loopback: format!("runserver {}", with_loopback(v)),
                    });
                }
            }
        }
    }
    None
}

/// Dev servers that bind every interface unless told otherwise.
fn framework_default(service: &Service) -> Option<Binding> {
    // react-scripts 5 with a `"proxy"` builds its allowedHosts from the LAN
    // address: with HOST=127.0.0.1 alone it has none and exits ("options.
    // allowedHosts[0] should be a non-empty string", field ga D15).
    let proxied = service.kind.as_deref() == Some("cra")
        && service.folder.as_ref().is_some_and(|f| {
            crate::project::read_bounded(&f.join("package.json"))
                .is_ok_and(|t| t.contains("\"proxy\""))
        });
    let (written, loopback) = match service.kind.as_deref()? {
        "next" => (
            "next dev's default: it binds every interface unless -H/--hostname is given",
            "next dev -H 127.0.0.1 (in the dev script)",
        ),
        "cra" if proxied => (
            "react-scripts' default: with HOST unset it binds every interface",
            "HOST=127.0.0.1 and DANGEROUSLY_DISABLE_HOST_CHECK=true in the frontend's .env (with a \"proxy\", react-scripts 5 exits on HOST alone: allowedHosts[0] must be non-empty; the second setting turns off its Host header check, its guard against DNS rebinding from pages in your browser, so keeping the default is a fair choice too)",
        ),
        "cra" => (
            "react-scripts' default: with HOST unset it binds every interface",
            "HOST=127.0.0.1 in the frontend's .env",
        ),
        _ => return None,
    };
    Some(Binding {
        written: written.into(),
        loopback: loopback.into(),
    })
}

fn bare_host() -> Binding {
    Binding {
        written: "--host (no address: every interface)".into(),
        loopback: "drop --host (vite binds localhost by default), or --host 127.0.0.1".into(),
    }
}

/// `0.0.0.0:8000` → `0.0.0.0`; `[::]:8000` → `[::]`; `0.0.0.0` as is.
fn host_of(v: &str) -> &str {
    if v.starts_with('[') {
        return v.split_once(']').map_or(v, |(h, _)| &v[..h.len() + 1]);
    }
    match v.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') && p.chars().all(|c| c.is_ascii_digit()) => h,
        _ => v,
    }
}

fn with_loopback(v: &str) -> String {
    let host = host_of(v);
    format!("127.0.0.1{}", &v[host.len()..])
}

/// The environment variables servers take their host from.
const HOST_VARS: &[&str] = &["FLASK_RUN_HOST", "UVICORN_HOST", "HOST", "HOSTNAME"];

fn wide_binding(lineage: &[&ProcessInfo]) -> Option<Binding> {
    lineage
        .iter()
        .find_map(|p| wide_flag(&p.cmdline))
        .or_else(|| {
            lineage.iter().find_map(|p| {
                HOST_VARS.iter().find_map(|var| {
                    let value = platform::env_var_of(p.pid, var).flatten()?;
                    is_wide(&value).then(|| Binding {
                        written: format!("{var}={value} in its environment (an env file such as .flaskenv, or the shell)"),
                        loopback: format!("{var}=127.0.0.1"),
                    })
                })
            })
        })
}

/// A debug server, named: anyone who reaches it can do more than browse.
fn debug_server(lineage: &[&ProcessInfo]) -> Option<String> {
    let has = |p: &ProcessInfo, w: &str| p.cmdline.iter().any(|a| a == w);
    let runs = |p: &ProcessInfo, name: &str| {
        p.cmdline.iter().take(3).any(|a| {
            a.rsplit(['/', '\\']).next().is_some_and(|b| b == name)
                || a == &format!("{name}.__main__")
        }) || (has(p, "-m") && has(p, name))
    };
    for p in lineage {
        if has(p, "runserver") {
            return Some("it is Django's runserver, a debug server (DEBUG error pages show settings, code and tracebacks)".into());
        }
        let flask_debug = runs(p, "flask")
            && (has(p, "--debug")
                || platform::env_var_of(p.pid, "FLASK_DEBUG")
                    .flatten()
                    .is_some_and(|v| matches!(v.as_str(), "1" | "true" | "True")));
        if flask_debug
            || platform::env_var_of(p.pid, "WERKZEUG_RUN_MAIN")
                .flatten()
                .as_deref()
                == Some("true")
        {
            return Some("it runs werkzeug's debugger (flask --debug): an error page opens a Python console on this machine, behind only a PIN".into());
        }
        if (runs(p, "uvicorn") && has(p, "--reload")) || (runs(p, "fastapi") && has(p, "dev")) {
            return Some(
                "it is a uvicorn --reload development server (debug settings, auto-reload)".into(),
            );
        }
    }
    None
}

/// A database that answers without credentials: Redis' PING answered
/// `+PONG` on the wide address. Other databases are not judged (their
/// authentication cannot be seen without credentials).
fn open_database(service: &Service, port: u16) -> Option<String> {
    if service.kind.as_deref() != Some("redis") {
        return None;
    }
    let addr = SocketAddr::new(
        outward_ip().unwrap_or(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)),
        port,
    );
    let timeout = Duration::from_millis(500);
    let mut s = crate::net::connect(&addr, timeout).ok()?;
    s.set_read_timeout(Some(timeout)).ok();
    s.write_all(b"PING\r\n").ok()?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).ok()?;
    String::from_utf8_lossy(&buf[..n])
        .starts_with("+PONG")
        .then(|| format!("Redis answers PING on {addr} without a password (no requirepass, protected mode off): anyone on the network can read and write it"))
}

/// This machine's address toward the network (no packet is sent: a UDP
/// socket's connect only picks the route), when it has one.
fn outward_ip() -> Option<IpAddr> {
    let s = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    s.connect("192.0.2.1:9").ok()?;
    let ip = s.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flag(cmd: &str) -> Option<Binding> {
        wide_flag(&cmd.split_whitespace().map(String::from).collect::<Vec<_>>())
    }

    #[test]
    fn the_flag_that_binds_wide_and_its_loopback_twin() {
        let b = flag("flask run --debug --host 0.0.0.0 --port 5000").unwrap();
        assert_eq!(b.written, "--host 0.0.0.0");
        assert_eq!(b.loopback, "--host 127.0.0.1");
        assert_eq!(
            flag("uvicorn main:app --host=:: --reload")
                .unwrap()
                .loopback,
            "--host=127.0.0.1"
        );
        assert!(flag("node node_modules/.bin/vite --host")
            .unwrap()
            .written
            .starts_with("--host"));
        assert!(flag("vite --host --port 5173")
            .unwrap()
            .loopback
            .contains("drop --host"));
        let d = flag("python manage.py runserver 0.0.0.0:8000").unwrap();
        assert_eq!(d.loopback, "runserver 127.0.0.1:8000");
        assert_eq!(
            flag("gunicorn -b 0.0.0.0:8000 app:app").unwrap().loopback,
            "-b 127.0.0.1:8000"
        );
        assert_eq!(
            flag("redis-server --port 6379 --bind 0.0.0.0")
                .unwrap()
                .loopback,
            "--bind 127.0.0.1 -::1"
        );
        let r = flag("redis-server *:6379").unwrap();
        assert!(r.written.starts_with("bind *"), "{r:?}");
        assert!(flag("redis-server 127.0.0.1:6379").is_none());
        assert_eq!(flag("flask run --host 127.0.0.1"), None);
        assert_eq!(flag("vite --host localhost"), None);
        assert_eq!(flag("python manage.py runserver 8000"), None);
    }

    #[test]
    fn compose_published_ports_are_on_purpose() {
        let mut s = Service::at("db", 5432, "docker-compose.yml:7".into());
        assert!(published_by_compose(&s));
        s.source = ".env:1".into();
        assert!(!published_by_compose(&s));
        s.learn("port", "5432", "compose.yaml:4");
        assert!(published_by_compose(&s));
    }
}
