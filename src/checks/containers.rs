//! PORT008: an expected port held by a container engine's forwarder for a
//! container that is not the service. The forwarder (`docker-proxy`,
//! `rootlessport`, …) is named from the process table; the container behind
//! it from the engine's CLI (one bounded `docker ps`, else `podman ps`).

use std::process::Command;

use serde_json::{json, Value};

use super::{describe_pid, is_forwarder, process_evidence};
use crate::engine::{Check, CheckError, Context};
use crate::finding::{Finding, Fix};
use crate::platform::ProcessInfo;
use crate::project::Service;
use crate::run;

pub struct Containers;

const ID: &str = "containers";

/// One running container, as the engine's CLI describes it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Container {
    pub id: String,
    pub name: String,
    pub image: String,
    /// Host ports it publishes.
    pub host_ports: Vec<u16>,
    /// Each published host port with the container port behind it.
    pub mappings: Vec<(u16, u16)>,
    pub compose_project: Option<String>,
    pub compose_service: Option<String>,
    /// `running`, `created`, `exited` (listed with `ps -a`).
    pub state: Option<String>,
}

impl Check for Containers {
    fn id(&self) -> &'static str {
        ID
    }
    fn description(&self) -> &'static str {
        "expected ports held by a container engine's forwarder, and the container behind it"
    }
    fn codes(&self) -> &'static [&'static str] {
        &["PORT008", "PORT015"]
    }
    fn run(&self, ctx: &Context) -> Result<Vec<Finding>, CheckError> {
        let snapshot = ctx.snapshot()?;
        let mut held: Vec<(&Service, &ProcessInfo)> = Vec::new();
        // The ports the project expects, and those its compose files
        // publish: a container that is the service is looked inside.
        for s in ctx
            .project
            .services
            .iter()
            .filter(|s| s.expected || from_compose(s))
        {
            for pid in snapshot.listener_pids(s.port) {
                if let Some(p) = snapshot.process(pid).filter(|p| is_forwarder(p)) {
                    held.push((s, p));
                }
            }
        }
        if held.is_empty() {
            return Ok(Vec::new());
        }
        // One question to the engine, only when a forwarder is there.
        let engine = ask_engine(ctx.config.timeout, false);
        let mut out = Vec::new();
        let mut looked_inside = std::collections::BTreeSet::new();
        for (service, forwarder) in held {
            let container = engine
                .as_ref()
                .ok()
                .and_then(|(_, list)| list.iter().find(|c| c.host_ports.contains(&service.port)));
            if let Some(c) = container.filter(|c| is_the_service(c, service, ctx)) {
                let inner = forwarded_to(forwarder)
                    .and_then(|t| t.rsplit(':').next()?.parse().ok())
                    .or_else(|| {
                        c.mappings
                            .iter()
                            .find(|(h, _)| *h == service.port)
                            .map(|(_, inner)| *inner)
                    });
                if let (Some(inner), Ok((cli, _))) = (inner, &engine) {
                    if looked_inside.insert(service.port) {
                        out.extend(super::container_inside::loopback_inside(
                            ctx, cli, service, c, inner,
                        ));
                    }
                }
                continue;
            }
            // A port only a compose file publishes, for a service nothing
            // else needs: another container there is not a conflict.
            if !service.expected {
                continue;
            }
            let f = held_by_container(
                snapshot,
                service,
                forwarder,
                container,
                engine.as_ref().map(|(cli, _)| cli.as_str()),
            );
            // Without the engine's answer the container may well be the
            // service itself (a database run with `docker run`, a user not
            // in the docker group): said, never blamed.
            out.push(if engine.is_err() {
                f.severity(crate::finding::Severity::Info).explain(
                    "A container engine's forwarder holds the port, and doctor could not ask the engine which container it serves, so it cannot tell whether that container is the service. If the service answers, it probably is.",
                )
            } else {
                f
            });
        }
        Ok(out)
    }
}

/// The container is the service: the project's own compose service on that
/// port, or a database of the service's kind (`postgres:16` for a
/// PostgreSQL URL) that no other compose project of the project's own
/// compose file claims.
fn from_compose(s: &Service) -> bool {
    s.source.contains("compose") || s.references.iter().any(|r| r.contains("compose"))
}

fn is_the_service(c: &Container, service: &Service, ctx: &Context) -> bool {
    let composed_here: Vec<&Service> = ctx
        .project
        .services
        .iter()
        .filter(|s| s.port == service.port && from_compose(s))
        .collect();
    if let Some(compose_service) = &c.compose_service {
        if composed_here.iter().any(|s| &s.name == compose_service) {
            return true;
        }
    }
    // Another compose project's container on a port this project's compose
    // file publishes is not this project's.
    if !composed_here.is_empty() && c.compose_project.is_some() {
        return false;
    }
    service
        .kind
        .as_deref()
        .is_some_and(|kind| image_is(&c.image, kind))
}

/// Whether an image runs the database `kind` names (`postgres:16`,
/// `postgis/postgis`, `bitnami/redis`, `mariadb:11` for mysql).
fn image_is(image: &str, kind: &str) -> bool {
    let name = image
        .rsplit('/')
        .next()
        .unwrap_or(image)
        .to_ascii_lowercase();
    let name = name.split([':', '@']).next().unwrap_or_default();
    match kind {
        "postgres" => name.starts_with("postgres") || name.starts_with("postgis"),
        "redis" => name.starts_with("redis") || name.starts_with("valkey"),
        "mysql" => name.starts_with("mysql") || name.starts_with("mariadb"),
        "mongodb" => name.starts_with("mongo"),
        _ => false,
    }
}

fn held_by_container(
    snapshot: &crate::engine::Snapshot,
    service: &Service,
    forwarder: &ProcessInfo,
    container: Option<&Container>,
    engine: Result<&str, &String>,
) -> Finding {
    let port = service.port;
    let target = forwarded_to(forwarder);
    let (who, fix) = match container {
        Some(c) => {
            let compose = match (&c.compose_project, &c.compose_service) {
                (Some(p), Some(s)) => format!(", compose project {p}, service {s}"),
                _ => String::new(),
            };
            let stop = match (&c.compose_project, &c.compose_service) {
                (Some(p), Some(s)) => format!("docker compose -p {p} stop {s}"),
                _ => format!("docker stop {}", c.name),
            };
            (
                format!("container {} (image {}{compose})", c.name, c.image),
                Fix::manual(
                    format!("stop the container {} or publish it on another port", c.name),
                    vec![
                        stop,
                        format!(
                            "or remap it in its compose file (ports: \"{}:…\") and point the project there",
                            port + 1
                        ),
                    ],
                ),
            )
        }
        // The engine answered and no container publishes the port: a
        // forwarder the engine left behind ("port is already allocated"
        // with no container left, moby #25981).
        None if engine.is_ok() => (
            format!(
                "a forwarder no running container uses{}",
                target
                    .as_deref()
                    .map(|t| format!(" (it forwards to {t})"))
                    .unwrap_or_default()
            ),
            Fix::manual(
                "restart the container engine: it ends the forwarders it left behind",
                vec![
                    "sudo systemctl restart docker".to_string(),
                    "or restart Docker Desktop".to_string(),
                ],
            ),
        ),
        None => (
            format!(
                "a container{}",
                target
                    .as_deref()
                    .map(|t| format!(" at {t}"))
                    .unwrap_or_default()
            ),
            Fix::manual(
                "stop the container that publishes the port, or publish it on another port",
                vec![format!("docker ps --filter publish={port}")],
            ),
        ),
    };
    let whose = if engine.is_ok() {
        format!(", not by {} (expected by {})", service.name, service.source)
    } else {
        format!(
            "; whether it is {} (expected by {}) doctor cannot ask the engine",
            service.name, service.source
        )
    };
    let mut f = Finding::new(
        "PORT008",
        ID,
        format!(
            "port {port} is held by {who} through {}{whose}",
            describe_pid(snapshot, forwarder.pid),
        ),
    )
    .evidence("port", port)
    .evidence("service", service.name.clone())
    .evidence("forwarder", process_evidence(snapshot, forwarder))
    .with_fix(fix);
    if let Some(t) = target {
        f = f.evidence("forwards_to", t);
    }
    f = match (container, engine) {
        (Some(c), Ok(cli)) => f.evidence(
            "container",
            json!({"id": c.id, "name": c.name, "image": c.image, "compose_project": c.compose_project, "compose_service": c.compose_service, "named_by": cli}),
        ),
        (None, Ok(cli)) => f.evidence(
            "container",
            format!("`{cli} ps` lists no container publishing port {port}"),
        ),
        (_, Err(why)) => f.evidence("container", why.clone()),
    };
    f
}

/// `-container-ip 172.17.0.2 -container-port 5432` → `172.17.0.2:5432`.
fn forwarded_to(p: &ProcessInfo) -> Option<String> {
    let arg = |flag: &str| {
        p.cmdline
            .iter()
            .position(|a| a == flag)
            .and_then(|i| p.cmdline.get(i + 1))
    };
    Some(format!(
        "{}:{}",
        arg("-container-ip")?,
        arg("-container-port")?
    ))
}

/// The running containers (with `all`, the stopped and never started ones
/// too), from the first engine CLI on PATH.
pub(super) fn ask_engine(
    limit: std::time::Duration,
    all: bool,
) -> Result<(String, Vec<Container>), String> {
    for cli in ["docker", "podman"] {
        let Some(exe) = run::which(cli) else {
            continue;
        };
        let ran = run::bounded(
            Command::new(exe)
                .arg("ps")
                .args(all.then_some("-a"))
                .args(["--format", "{{json .}}"]),
            limit,
        )
        .map_err(|e| format!("`{cli} ps` {e}"))?;
        if ran.status != Some(0) {
            return Err(format!(
                "`{cli} ps` failed: {}",
                super::shorten(ran.stderr.trim(), 120)
            ));
        }
        return Ok((cli.to_string(), parse_ps(&ran.stdout)));
    }
    Err("no container engine CLI (docker, podman) on PATH to name the container".into())
}

/// `docker ps --format '{{json .}}'`: one object a line; podman prints one
/// array. Ports like `0.0.0.0:5432->5432/tcp, :::5432->5432/tcp`; labels
/// like `com.docker.compose.project=shop,com.docker.compose.service=db`.
pub fn parse_ps(text: &str) -> Vec<Container> {
    let values: Vec<Value> = match serde_json::from_str::<Value>(text.trim()) {
        Ok(Value::Array(items)) => items,
        _ => text
            .lines()
            .filter_map(|l| serde_json::from_str(l.trim()).ok())
            .collect(),
    };
    values.iter().map(container_of).collect()
}

fn container_of(v: &Value) -> Container {
    let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
    let names = match &v["Names"] {
        Value::Array(a) => a
            .first()
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        other => other.as_str().unwrap_or_default().to_string(),
    };
    let mut host_ports = Vec::new();
    let mut mappings = Vec::new();
    match &v["Ports"] {
        Value::String(ports) => {
            for mapping in ports.split(',') {
                if let Some((host, inner)) = mapping.trim().split_once("->") {
                    if let Some(p) = host.rsplit(':').next().and_then(|p| p.parse().ok()) {
                        host_ports.push(p);
                        if let Some(i) = inner.split('/').next().and_then(|i| i.parse().ok()) {
                            mappings.push((p, i));
                        }
                    }
                }
            }
        }
        Value::Array(list) => {
            for m in list {
                if let Some(p) = m["host_port"].as_u64().and_then(|p| u16::try_from(p).ok()) {
                    host_ports.push(p);
                    if let Some(i) = m["container_port"]
                        .as_u64()
                        .and_then(|p| u16::try_from(p).ok())
                    {
                        mappings.push((p, i));
                    }
                }
            }
        }
        _ => {}
    }
    host_ports.dedup();
    mappings.dedup();
    let label = |name: &str| -> Option<String> {
        match &v["Labels"] {
            Value::String(all) => all.split(',').find_map(|kv| {
                let (k, val) = kv.split_once('=')?;
                (k.trim() == name).then(|| val.trim().to_string())
            }),
            Value::Object(map) => map.get(name).and_then(Value::as_str).map(String::from),
            _ => None,
        }
    };
    Container {
        id: s("ID").chars().take(12).collect(),
        name: names,
        image: s("Image"),
        host_ports,
        mappings,
        compose_project: label("com.docker.compose.project"),
        compose_service: label("com.docker.compose.service"),
        state: v["State"]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_ascii_lowercase),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_and_podman_listings() {
        let docker = r#"{"ID":"4f2c1b9a8e7d6c5b","Image":"postgres:16","Names":"other-db-1","Ports":"0.0.0.0:5432->5432/tcp, :::5432->5432/tcp","Labels":"com.docker.compose.project=other,com.docker.compose.service=db"}
{"ID":"aa","Image":"redis:7","Names":"cache","Ports":"6379/tcp","Labels":""}"#;
        let list = parse_ps(docker);
        assert_eq!(list[0].host_ports, [5432]);
        assert_eq!(list[0].compose_project.as_deref(), Some("other"));
        assert_eq!(list[0].compose_service.as_deref(), Some("db"));
        assert_eq!(list[0].id, "4f2c1b9a8e7d");
        assert!(list[1].host_ports.is_empty());
        let podman = r#"[{"Id":"x","Image":"docker.io/library/postgres:16","Names":["pg"],"Ports":[{"host_ip":"","container_port":5432,"host_port":5433,"range":1,"protocol":"tcp"}],"Labels":{"com.docker.compose.service":"db"}}]"#;
        let list = parse_ps(podman);
        assert_eq!(
            (list[0].name.as_str(), list[0].host_ports.clone()),
            ("pg", vec![5433])
        );
        assert_eq!(list[0].compose_service.as_deref(), Some("db"));
    }
}

#[cfg(test)]
mod image_tests {
    use super::image_is;

    #[test]
    fn images_by_the_database_they_run() {
        assert!(image_is("postgres:16-alpine", "postgres"));
        assert!(image_is("docker.io/postgis/postgis:16-3.4", "postgres"));
        assert!(image_is("bitnami/redis:7.2", "redis"));
        assert!(image_is("mariadb:11", "mysql"));
        assert!(image_is("mongo@sha256:abc", "mongodb"));
        assert!(!image_is("postgres:16", "redis"));
        assert!(!image_is("my-postgres-admin-ui", "postgres"));
        assert!(!image_is("node:20", "postgres"));
    }
}
