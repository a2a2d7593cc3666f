//! NET003 and PORT014: what the project's compose files do once compose runs
//! them. Inside a container `localhost` is the container itself, so a
//! service's URL of a sibling written as `localhost:5432` reaches nothing
//! (NET003); and a host port a compose file publishes, held by a process
//! that is no container's forwarder, stops compose from starting that
//! service ("port is already allocated", PORT014).
//!
//! A compose file says what was intended for the containers; whether they
//! run is the engine's to say. Each finding is a warning only when the
//! engine shows the container concerned (running for NET003, created or
//! exited for PORT014); without that it is info: many projects keep a
//! compose file for deployment and run natively.

use std::path::Path;

use super::containers::{ask_engine, Container};
use super::{describe_pid, is_forwarder, process_evidence};
use crate::engine::{Check, CheckError, Context};
use crate::finding::{Finding, Fix, Severity};
use crate::project::compose::ComposeService;
use crate::project::read_bounded;

pub struct Compose;

const ID: &str = "compose";

impl Check for Compose {
    fn id(&self) -> &'static str {
        ID
    }
    fn description(&self) -> &'static str {
        "compose files: a sibling called as localhost inside a container; a published port another process holds"
    }
    fn codes(&self) -> &'static [&'static str] {
        &["NET003", "PORT014", "NET004"]
    }
    fn run(&self, ctx: &Context) -> Result<Vec<Finding>, CheckError> {
        let services = &ctx.project.compose;
        if services.is_empty() {
            return Err(CheckError::Skipped("no compose file".into()));
        }
        let calls = localhost_calls(ctx, services);
        let taken = taken_ports(ctx, services)?;
        let native = native_calls(ctx, services);
        if calls.is_empty() && taken.is_empty() && native.is_empty() {
            return Ok(Vec::new());
        }
        // One question to the engine, only when there is something to ask.
        let engine = ask_engine(ctx.config.timeout, true);
        let containers: &[Container] = engine.as_ref().map_or(&[], |(_, list)| list);
        let container_of = |s: &ComposeService| {
            containers.iter().find(|c| {
                c.compose_service.as_deref() == Some(s.name.as_str())
                    && c.compose_project.as_deref().is_none_or(|p| p == s.project)
            })
        };
        let running = |c: Option<&Container>| {
            c.is_some_and(|c| c.state.as_deref().is_none_or(|s| s == "running"))
        };
        // A file compose gives a running container (`env_file:`): the
        // service name in it is right there, whoever else reads it.
        let read_by_a_running_container = |at: &str| {
            let file = at.rsplit_once(':').map_or(at, |(f, _)| f);
            services.iter().any(|s| {
                running(container_of(s)) && env_files(ctx, s).iter().any(|(_, rel)| rel == file)
            })
        };
        // One finding per file, host and key: a vite config with four proxy
        // entries to `backend:8000` is one fact with four lines.
        let mut grouped: Vec<(&NativeCall, Vec<String>)> = Vec::new();
        for c in &native {
            let file = c.at.rsplit_once(':').map_or(c.at.as_str(), |(f, _)| f);
            match grouped.iter_mut().find(|(g, _)| {
                g.host == c.host
                    && g.key == c.key
                    && g.at.rsplit_once(':').map_or(g.at.as_str(), |(f, _)| f) == file
            }) {
                Some((_, lines)) => lines.push(c.at.clone()),
                None => grouped.push((c, Vec::new())),
            }
        }
        let mut out: Vec<Finding> = grouped
            .iter()
            .map(|(c, more)| {
                let mut f = c.finding(ctx, read_by_a_running_container(&c.at));
                if !more.is_empty() {
                    f.title = format!("{} (and at {})", f.title, more.join(", "));
                    f = f.evidence("also_at", more.clone());
                    // The fix is every line: one changed of four leaves the
                    // others failing (field gd P1 B, round 9).
                    let at = format!("in {}:", c.at);
                    let every = format!("in {} and at {}:", c.at, more.join(", "));
                    if let Some(fix) = &mut f.fix {
                        for step in &mut fix.commands {
                            if step.starts_with(&at) {
                                *step = step.replacen(&at, &every, 1);
                            }
                        }
                    }
                }
                f
            })
            .collect();
        let engine_said = |c: Option<&Container>| match (&engine, c) {
            (Err(why), _) => why.clone(),
            (Ok((cli, _)), None) => format!("`{cli} ps -a` lists no container of it"),
            (Ok((cli, _)), Some(c)) => format!(
                "`{cli} ps -a`: container {} is {}",
                c.name,
                c.state.as_deref().unwrap_or("listed")
            ),
        };
        for call in calls {
            let container = container_of(call.from);
            let running =
                container.is_some_and(|c| c.state.as_deref().is_none_or(|s| s == "running"));
            out.push(call.finding(running, engine_said(container)));
        }
        for t in taken {
            let container = container_of(t.service);
            let blocked = container.is_some_and(|c| {
                c.state
                    .as_deref()
                    .is_some_and(|s| s == "created" || s == "exited")
            });
            // The project runs that server natively, and compose never
            // tried to: nothing is in the way of anything.
            if t.own && !blocked {
                continue;
            }
            out.push(t.finding(ctx, blocked, engine_said(container)));
        }
        Ok(out)
    }
}

/// A compose service's URL that calls a sibling as `localhost`.
struct LocalhostCall<'a> {
    from: &'a ComposeService,
    to: &'a ComposeService,
    key: String,
    /// Where it is written: `docker-compose.yml:13` or `backend/.env:2`.
    at: String,
    /// `localhost:5432`, as written (never the rest of the value).
    written: String,
    /// The sibling's port inside the compose network.
    port: u16,
}

impl LocalhostCall<'_> {
    fn finding(&self, running: bool, engine: String) -> Finding {
        let instead = format!("{}:{}", self.to.name, self.port);
        let title = format!(
            "{} in {} calls {} as {}: inside the {} container, localhost is that container, not {}",
            self.key, self.from.name, self.to.name, self.written, self.from.name, self.to.name
        );
        Finding::new("NET003", ID, title)
            .evidence("service", self.from.name.clone())
            .evidence("sibling", self.to.name.clone())
            .evidence("key", self.key.clone())
            .evidence("at", self.at.clone())
            .evidence("written", self.written.clone())
            .evidence("compose_file", self.from.file.clone())
            .evidence("engine", engine)
            .with_fix(Fix::manual(
                format!(
                    "call {} by its compose service name: {} instead of {} in {} ({}); compose's network resolves service names",
                    self.to.name, instead, self.written, self.at, self.key
                ),
                vec![
                    if self.written.contains('=') {
                        // `DB_HOST=localhost` with `DB_PORT`: the host key gets the name.
                        format!(
                            "in {} under {}: environment: {}: {} (the container's own value; a native server keeps {})",
                            self.from.file, self.from.name, self.key, self.to.name, self.at
                        )
                    } else {
                        format!(
                            "in {} under {}: environment: {}: …{}… (the container's own value; a native server keeps {})",
                            self.from.file, self.from.name, self.key, instead, self.at
                        )
                    },
                    format!("docker compose up -d --force-recreate {}", self.from.name),
                ],
            ))
            .severity(if running {
                Severity::Warning
            } else {
                Severity::Info
            })
            .explain(if running {
                "The container runs with this URL: every call it makes to the sibling is refused."
            } else {
                "No container of this service runs now (or doctor could not ask the engine): the URL breaks only when compose runs the service. A file that both the native server and compose read needs the service name in compose's copy only (an `environment:` entry overrides an `env_file:`)."
            })
    }
}

/// Every `localhost`/`127.0.0.1` URL (or `*_HOST=localhost` with its
/// `*_PORT`) in a compose service's environment or env files, whose port is
/// a sibling's, and not the service's own.
fn localhost_calls<'a>(ctx: &Context, services: &'a [ComposeService]) -> Vec<LocalhostCall<'a>> {
    let mut out = Vec::new();
    for from in services {
        // `network_mode: host` (localhost is the host) or `service:db`
        // (localhost is db's): not its own.
        if from.network_mode.is_some() {
            continue;
        }
        let own = from.container_ports();
        let mut entries: Vec<(String, String, String)> = from
            .environment
            .iter()
            .map(|(k, v, line)| (k.clone(), v.clone(), format!("{}:{line}", from.file)))
            .collect();
        // The env files it is given, after its own entries: an
        // `environment:` entry overrides an `env_file:` one.
        for (path, rel) in env_files(ctx, from) {
            let Ok(text) = read_bounded(&path) else {
                continue;
            };
            for (i, line) in text.lines().enumerate() {
                if let Some((k, v)) = crate::project::parse_env_line(line) {
                    if !entries.iter().any(|(key, _, _)| key == k) {
                        entries.push((k.to_string(), v.to_string(), format!("{rel}:{}", i + 1)));
                    }
                }
            }
        }
        let value_of = |key: &str| {
            entries
                .iter()
                .find(|(k, _, _)| k == key)
                .map(|(_, v, _)| v.as_str())
        };
        for (key, value, at) in &entries {
            // A variable the frontend's bundle carries is read by the
            // browser, on the host, where localhost is right.
            if ["VITE_", "NEXT_PUBLIC_", "REACT_APP_", "PUBLIC_"]
                .iter()
                .any(|p| key.starts_with(p))
            {
                continue;
            }
            let Some((written, port)) = localhost_port(key, value, &value_of) else {
                continue;
            };
            if own.contains(&port) {
                continue;
            }
            let sibling = services.iter().find(|s| {
                s.name != from.name
                    && s.file == from.file
                    && (s.container_ports().contains(&port) || s.host_ports().contains(&port))
            });
            let Some(to) = sibling else { continue };
            // The port inside the network: a published `5433:5432` is 5432 there.
            let inside = to
                .ports
                .iter()
                .find(|p| p.host == Some(port) || p.container == port)
                .map_or(port, |p| p.container);
            out.push(LocalhostCall {
                from,
                to,
                key: key.clone(),
                at: at.clone(),
                written,
                port: inside,
            });
        }
    }
    out
}

/// The env files compose gives a service (`env_file:`), with their paths
/// for reports.
fn env_files(ctx: &Context, s: &ComposeService) -> Vec<(std::path::PathBuf, String)> {
    let compose = ctx.project.root.join(&s.file);
    let dir = compose.parent().unwrap_or(Path::new("."));
    s.env_files
        .iter()
        .map(|f| {
            let path = dir.join(f);
            let rel = ctx.project.relative(&path);
            (path, rel)
        })
        .collect()
}

/// `postgresql://u:p@localhost:5432/db` → (`localhost:5432`, 5432);
/// `DB_HOST=localhost` with `DB_PORT=5432` → (`localhost` + `DB_PORT=5432`, 5432).
fn localhost_port<'v>(
    key: &str,
    value: &str,
    value_of: &dyn Fn(&str) -> Option<&'v str>,
) -> Option<(String, u16)> {
    if value.contains("${") {
        return None; // compose interpolates it: not what runs
    }
    for host in ["localhost", "127.0.0.1"] {
        let mut rest = value;
        while let Some(i) = rest.find(host) {
            let before = rest[..i].chars().last();
            let after = &rest[i + host.len()..];
            rest = after;
            // A host of its own (`@localhost:`, `//localhost:`), not
            // `mylocalhost`.
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-') {
                continue;
            }
            let Some(digits) = after.strip_prefix(':') else {
                continue;
            };
            let port: String = digits.chars().take_while(char::is_ascii_digit).collect();
            if let Ok(p) = port.parse::<u16>() {
                return Some((format!("{host}:{p}"), p));
            }
        }
    }
    // `DB_HOST=localhost` and `DB_PORT=5432`.
    let stem = key
        .strip_suffix("_HOST")
        .or_else(|| key.strip_suffix("HOST"))?;
    if !matches!(value.trim(), "localhost" | "127.0.0.1") {
        return None;
    }
    let port_key = format!("{stem}_PORT");
    let port = value_of(&port_key)
        .or_else(|| value_of(&format!("{stem}PORT")))?
        .trim()
        .parse()
        .ok()?;
    Some((
        format!("{key}={} with {port_key}={port}", value.trim()),
        port,
    ))
}

/// A published host port held by a process that is no forwarder.
struct TakenPort<'a> {
    service: &'a ComposeService,
    port: u16,
    line: usize,
    holder: u32,
    /// Held by the project's own process (its cwd in the project).
    own: bool,
}

impl TakenPort<'_> {
    fn finding(&self, ctx: &Context, blocked: bool, engine: String) -> Finding {
        let snapshot = ctx.snapshot().ok();
        let who = snapshot.map_or(format!("pid {}", self.holder), |s| {
            describe_pid(s, self.holder)
        });
        let at = format!("{}:{}", self.service.file, self.line);
        let title = if blocked {
            format!(
                "compose cannot start {}: its port {} ({at}) is held by {who}",
                self.service.name, self.port
            )
        } else {
            format!(
                "port {} that compose publishes for {} ({at}) is held by {who}: `docker compose up {}` would fail with \"port is already allocated\"",
                self.port, self.service.name, self.service.name
            )
        };
        let mut f = Finding::new("PORT014", ID, title)
            .evidence("port", self.port)
            .evidence("service", self.service.name.clone())
            .evidence("compose_file", at.clone())
            .evidence("engine", engine);
        if let Some(p) = snapshot.and_then(|s| s.process(self.holder).map(|p| (s, p))) {
            f = f.evidence("holder", process_evidence(p.0, p.1));
        }
        f.with_fix(Fix::manual(
            format!(
                "stop {who} (it is not compose's), or publish {} on another host port in {at}",
                self.service.name
            ),
            vec![
                format!("ss -ltnp 'sport = :{}'", self.port),
                format!(
                    "or in {at}: \"{}:{}\" and point the project at {}",
                    self.port + 1,
                    self.service
                        .ports
                        .iter()
                        .find(|p| p.host == Some(self.port))
                        .map_or(self.port, |p| p.container),
                    self.port + 1
                ),
            ],
        ))
        .severity(if blocked {
            Severity::Warning
        } else {
            Severity::Info
        })
        .explain(if blocked {
            "The engine has the service's container, not running: compose created it and could not bind the port."
        } else {
            "No container of the service was created (or doctor could not ask the engine): the project may well use this process on purpose instead."
        })
    }
}

fn taken_ports<'a>(
    ctx: &Context,
    services: &'a [ComposeService],
) -> Result<Vec<TakenPort<'a>>, CheckError> {
    let snapshot = ctx.snapshot()?;
    let mut out = Vec::new();
    for s in services {
        for p in &s.ports {
            let Some(port) = p.host else { continue };
            let holders = snapshot.listener_pids(port);
            // A forwarder on the port: the container runs (another check
            // says whether it is the right one).
            if holders
                .iter()
                .any(|pid| snapshot.process(*pid).is_some_and(is_forwarder))
            {
                continue;
            }
            // The project's own server on the port its compose service
            // would publish: the project runs natively, on purpose.
            let own = holders.iter().all(|pid| {
                snapshot.process(*pid).is_some_and(|p| {
                    p.cwd
                        .as_ref()
                        .is_some_and(|c| c.starts_with(&ctx.project.root))
                })
            });
            // The holders' root (a postmaster, not a child that briefly
            // shares its socket).
            let root = holders
                .iter()
                .find(|pid| {
                    snapshot
                        .process(**pid)
                        .and_then(|p| p.parent)
                        .is_none_or(|parent| !holders.contains(&parent))
                })
                .or(holders.iter().next());
            if let Some(&holder) = root {
                out.push(TakenPort {
                    service: s,
                    port,
                    line: p.line,
                    holder,
                    own,
                });
            }
        }
    }
    Ok(out)
}

/// A URL of a file a native server reads (an env file, a dev server's
/// proxy target) that names a compose service (`db`, `backend`): that
/// name resolves only on compose's network, and on this machine it does
/// not resolve at all.
struct NativeCall<'a> {
    to: &'a ComposeService,
    key: String,
    at: String,
    host: String,
    /// The port the URL names, when it names one.
    port: Option<u16>,
    /// A host key's bare value (`POSTGRES_HOST=db`), not a URL.
    bare: bool,
    /// The key that gives a bare host its port (`POSTGRES_PORT`).
    port_key: Option<String>,
    /// The project's server that reads the file, and whether it runs here
    /// (not in a container).
    reader: Option<(&'a crate::project::Service, bool)>,
}

impl NativeCall<'_> {
    fn finding(&self, ctx: &Context, in_a_running_container: bool) -> Finding {
        let published = self
            .to
            .ports
            .iter()
            .find(|p| {
                self.port
                    .is_none_or(|want| p.container == want || p.host == Some(want))
            })
            .and_then(|p| p.host);
        let instead = match published {
            Some(p) => format!("localhost:{p}"),
            None => "localhost:PORT".to_string(),
        };
        let reader = self
            .reader
            .map_or("a server started outside compose".to_string(), |(s, _)| {
                s.name.clone()
            });
        let native = self.reader.is_some_and(|(_, native)| native) && !in_a_running_container;
        let mut f = Finding::new(
            "NET004",
            ID,
            format!(
                "{} ({}) names the compose service {} as its host: that name resolves only inside compose's network, and {} runs outside it",
                self.key, self.at, self.host, reader
            ),
        )
        .evidence("key", self.key.clone())
        .evidence("at", self.at.clone())
        .evidence("host", self.host.clone())
        .evidence("compose_service", self.to.name.clone())
        .evidence("compose_file", format!("{}:{}", self.to.file, self.to.line))
        .evidence("resolves_here", false);
        if let Some((s, _)) = self.reader {
            f = f
                .evidence("service", s.name.clone())
                .evidence("port", s.port);
        }
        let set = if self.bare {
            // A host key takes a bare host (and its port key the port).
            match (&self.port_key, published) {
                (Some(k), Some(p)) if Some(p) != self.port => {
                    format!("in {}: {}=localhost and {k}={p}", self.at, self.key)
                }
                _ => format!("in {}: {}=localhost", self.at, self.key),
            }
        } else if self.at.starts_with("the environment") {
            format!(
                "start {reader} with {}=…{instead}… (its environment names {})",
                self.key, self.host
            )
        } else {
            format!("in {}: {}=…{}…", self.at, self.key, instead)
        };
        let steps = match published {
            Some(_) => vec![
                set,
                format!(
                    "keep {}:{} for the containers in the compose file's environment: of the service that calls it",
                    self.host,
                    self.port.map_or("PORT".to_string(), |p| p.to_string())
                ),
            ],
            None => vec![format!(
                "publish it: ports: [\"{p}:{p}\"] under {} in {}, then use localhost:{p}",
                self.to.name,
                self.to.file,
                p = self.port.unwrap_or(0)
            )],
        };
        let mut steps = steps;
        // A server reads its env at start: a reloader restarts its worker
        // with the old environment. A dev server's own config (vite, next)
        // is different: it restarts itself when that file changes.
        let own_config = {
            let file = self
                .at
                .rsplit_once(':')
                .map_or(self.at.as_str(), |(f, _)| f);
            let name = file.rsplit('/').next().unwrap_or(file);
            name.starts_with("vite.config.") || name.starts_with("next.config.")
        };
        if let (Some((s, _)), false) = (self.reader, own_config) {
            // The command it runs with, as the user typed it (`uvicorn
            // main:app --reload`), over the files' (`python main.py`, which
            // drops --reload: field gd fd P1 D3).
            let running = super::cors::running_server(ctx, s.port).map(|(_, c)| c);
            steps.push(match running.as_ref().or(s.start.as_ref()) {
                Some(start) => format!(
                    "then restart {} from a shell with the new value (Ctrl-C in its terminal): {start}",
                    s.name
                ),
                None => format!("then restart {} from a shell with the new value", s.name),
            });
        }
        f.with_fix(Fix::manual(
            format!(
                "outside compose, reach {} at {instead} (the port it publishes), not {}",
                self.to.name, self.host
            ),
            steps,
        ))
        .severity(if native {
            Severity::Warning
        } else {
            Severity::Info
        })
        .explain(if native {
            "The server that reads this runs on this machine, not in a container: the name does not resolve, so every connection to it fails at the lookup (`could not translate host name`, `getaddrinfo EAI_AGAIN`, `Name or service not known`)."
        } else {
            "No server of the project that reads this was found running outside a container: the name is right for compose, and breaks only when the file is read natively."
        })
    }
}

/// One host a native server would call, and where it is written.
struct Found {
    key: String,
    at: String,
    host: String,
    port: Option<u16>,
    /// The folder whose server reads it.
    dir: std::path::PathBuf,
    frontend: bool,
    bare: bool,
    port_key: Option<String>,
}

/// The hosts a native process would call, from the project's env files and
/// dev-server configs, that are compose service names this machine does
/// not resolve.
fn native_calls<'a>(ctx: &'a Context, services: &'a [ComposeService]) -> Vec<NativeCall<'a>> {
    let mut found: Vec<Found> = Vec::new();
    for dir in &ctx.project.folders {
        for name in crate::project::ENV_FILES {
            let path = dir.join(name);
            let Ok(text) = read_bounded(&path) else {
                continue;
            };
            let rel = ctx.project.relative(&path);
            let entries: Vec<(usize, &str, &str)> = text
                .lines()
                .enumerate()
                .filter_map(|(i, l)| crate::project::parse_env_line(l).map(|(k, v)| (i + 1, k, v)))
                .collect();
            for (line, key, value) in &entries {
                let (host, port, port_key) = match crate::project::parse_url(value) {
                    Some(u) => (u.host, Some(u.port), None),
                    None if ["HOST", "HOSTNAME", "SERVER"]
                        .iter()
                        .any(|s| key.ends_with(s)) =>
                    {
                        let stem = key
                            .trim_end_matches("NAME")
                            .trim_end_matches("HOST")
                            .trim_end_matches("SERVER")
                            .trim_end_matches('_');
                        let paired = entries.iter().find(|(_, k, _)| {
                            *k == format!("{stem}_PORT") || *k == format!("{stem}PORT")
                        });
                        let port = paired.and_then(|(_, _, v)| v.trim().parse().ok());
                        (
                            value.trim().to_string(),
                            port,
                            paired.map(|(_, k, _)| k.to_string()),
                        )
                    }
                    None => continue,
                };
                let frontend_key = ["VITE_", "NEXT_PUBLIC_", "REACT_APP_"]
                    .iter()
                    .any(|p| key.starts_with(p));
                found.push(Found {
                    key: key.to_string(),
                    at: format!("{rel}:{line}"),
                    bare: port_key.is_some() || crate::project::parse_url(value).is_none(),
                    port_key,
                    host,
                    port,
                    dir: dir.clone(),
                    frontend: frontend_key,
                });
            }
        }
        // A dev server's proxy target: `target: 'http://backend:8000'`.
        for name in crate::project::VITE_CONFIGS {
            let path = dir.join(name);
            let Ok(text) = read_bounded(&path) else {
                continue;
            };
            let rel = ctx.project.relative(&path);
            for (i, line) in text.lines().enumerate() {
                for url in crate::project::quoted_urls(line) {
                    if let Some(u) = crate::project::parse_url(url) {
                        found.push(Found {
                            key: "proxy target".into(),
                            at: format!("{rel}:{}", i + 1),
                            host: u.host,
                            port: Some(u.port),
                            dir: dir.clone(),
                            frontend: true,
                            bare: false,
                            port_key: None,
                        });
                    }
                }
            }
        }
    }
    let snapshot = ctx.snapshot().ok();
    // What a running server of the project was started with: its own
    // environment (a URL exported from the compose file into its shell)
    // outranks the files.
    if let Some(snap) = snapshot {
        for service in ctx
            .project
            .services
            .iter()
            .filter(|s| s.expected && !s.is_frontend())
        {
            let holder =
                super::project_server(snap, &ctx.project.root, service.port).map(|p| p.pid);
            let Some(pid) = holder else { continue };
            let Some(env) = crate::platform::environment_of(pid) else {
                continue;
            };
            for (k, v) in env {
                let (Some(k), Some(v)) = (k.to_str(), v.to_str()) else {
                    continue;
                };
                if let Some(u) = crate::project::parse_url(v) {
                    found.push(Found {
                        key: k.to_string(),
                        at: format!("the environment of pid {pid}"),
                        host: u.host,
                        port: Some(u.port),
                        dir: service
                            .folder
                            .clone()
                            .unwrap_or_else(|| ctx.project.root.clone()),
                        frontend: false,
                        bare: false,
                        port_key: None,
                    });
                }
            }
        }
    }
    let forwarded = |port: u16| {
        snapshot.is_some_and(|s| {
            s.listener_pids(port)
                .iter()
                .any(|pid| s.process(*pid).is_some_and(is_forwarder))
        })
    };
    let mut out = Vec::new();
    for Found {
        key,
        at,
        host,
        port,
        dir,
        frontend,
        bare,
        port_key,
    } in found
    {
        let Some(to) = services.iter().find(|s| s.name.eq_ignore_ascii_case(&host)) else {
            continue;
        };
        if resolves(&host, ctx.config.timeout) {
            continue;
        }
        // Who reads it: the project's server in that folder (or above it),
        // the frontend for a frontend's key or config.
        let reader = ctx
            .project
            .services
            .iter()
            .filter(|s| s.is_frontend() == frontend && s.expected)
            .filter(|s| {
                s.folder
                    .as_ref()
                    .is_some_and(|f| f.starts_with(&dir) || dir.starts_with(f))
            })
            .map(|s| (s, !forwarded(s.port)))
            .next();
        out.push(NativeCall {
            to,
            key,
            at,
            host,
            port,
            bare,
            port_key,
            reader,
        });
    }
    // Of one place's keys, those the reader's own code reads come first:
    // `DATABASE_URL` (the app's engine) before `DATABASE_URL_SYNC`, which
    // only alembic reads (field gd fd P1 D3).
    out.sort_by_cached_key(|c| (c.at.clone(), !read_by_app_code(ctx, c), c.key.clone()));
    out.dedup_by(|a, b| a.at == b.at && a.key == b.key);
    out
}

/// Whether the code of the server that reads `call`'s file names its key,
/// outside migrations (`alembic/`, `migrations/`): what it runs on, not
/// what a migration tool is given.
fn read_by_app_code(ctx: &Context, call: &NativeCall) -> bool {
    let Some(folder) = call.reader.and_then(|(s, _)| s.folder.as_ref()) else {
        return false;
    };
    let migrations = |p: &std::path::Path| {
        p.components()
            .any(|c| matches!(c.as_os_str().to_str(), Some("alembic" | "migrations")))
    };
    ctx.project.code.under(folder).any(|(path, text)| {
        !migrations(path.strip_prefix(folder).unwrap_or(path))
            && text.match_indices(call.key.as_str()).any(|(i, _)| {
                let word = |c: Option<char>| c.is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
                word(text[..i].chars().next_back())
                    && word(text[i + call.key.len()..].chars().next())
            })
    })
}

/// Whether `host` resolves here, within `limit` (a lookup that hangs is
/// not an answer).
fn resolves(host: &str, limit: std::time::Duration) -> bool {
    let host = host.to_string();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(crate::net::resolve(&host, 1).is_ok_and(|a| !a.is_empty()));
    });
    rx.recv_timeout(limit).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn localhost_in_urls_and_host_keys() {
        let none = |_: &str| None;
        assert_eq!(
            localhost_port("DATABASE_URL", "postgresql://u:p@localhost:5432/db", &none),
            Some(("localhost:5432".into(), 5432))
        );
        assert_eq!(
            localhost_port("API", "http://127.0.0.1:8000/api", &none),
            Some(("127.0.0.1:8000".into(), 8000))
        );
        assert_eq!(
            localhost_port("API", "http://mylocalhost:8000", &none),
            None
        );
        assert_eq!(localhost_port("API", "http://db:5432", &none), None);
        assert_eq!(
            localhost_port("API", "http://localhost:${PORT}", &none),
            None
        );
        let port = |k: &str| (k == "DB_PORT").then_some("5432");
        assert_eq!(
            localhost_port("DB_HOST", "localhost", &port),
            Some(("DB_HOST=localhost with DB_PORT=5432".into(), 5432))
        );
    }
}
