//! CORS001–CORS004: does each backend accept the frontend's real origin, as a
//! browser would ask it (a preflight, then the request itself)?

use std::time::Duration;

use serde_json::{json, Value};

use crate::engine::{Check, CheckError, Context};
use crate::finding::{Finding, Fix, Severity};
use crate::net::{self, Response};
use crate::project::{parse_url, Service};

pub struct Cors;

const ID: &str = "cors";
const CORS_HEADERS: &[&str] = &[
    "access-control-allow-origin",
    "access-control-allow-credentials",
    "access-control-allow-methods",
    "access-control-allow-headers",
    "vary",
];

impl Check for Cors {
    fn id(&self) -> &'static str {
        ID
    }
    fn description(&self) -> &'static str {
        "the backend answers the frontend's origin (both spellings) with the CORS headers a browser needs"
    }
    fn codes(&self) -> &'static [&'static str] {
        &["CORS001", "CORS002", "CORS003", "CORS004"]
    }
    fn run(&self, ctx: &Context) -> Result<Vec<Finding>, CheckError> {
        let origins = origins(ctx);
        if origins.is_empty() {
            return Err(CheckError::Skipped(
                "no frontend origin known (give one with --origin)".into(),
            ));
        }
        let listening = |port: u16| ctx.snapshot().map(|s| s.has_listener(port)).unwrap_or(true);
        let frontend_ports: Vec<u16> = ctx
            .project
            .services
            .iter()
            .filter(|s| s.is_frontend())
            .map(|s| s.port)
            .collect();
        let mut pairs = Vec::new();
        for backend in ctx
            .project
            .services
            .iter()
            .filter(|s| s.is_http() && !s.is_frontend() && !frontend_ports.contains(&s.port))
        {
            if !listening(backend.port) {
                continue;
            }
            // The browser calls a backend directly only when the frontend's
            // env names its URL; one reached through the dev server's proxy
            // (or not from the browser at all) is same-origin: no CORS.
            let proxied = !backend.clients.iter().any(|(_, src)| {
                let file = src.rsplit_once(':').map_or(src.as_str(), |(f, _)| f);
                file.rsplit('/')
                    .next()
                    .is_some_and(|n| n.starts_with(".env"))
            });
            if proxied && ctx.config.origins.is_empty() {
                ctx.record_probe(json!({"check": ID, "service": backend.name, "result": "not applicable: the frontend reaches it through its dev-server proxy (same origin)"}));
                continue;
            }
            for origin in &origins {
                let fix = allow_origin_fix(ctx, backend, origin);
                pairs.push((backend.clone(), origin.clone(), fix));
            }
        }
        if pairs.is_empty() {
            return Err(CheckError::Skipped(
                "no backend with a listener to ask".into(),
            ));
        }
        let timeout = ctx.config.timeout;
        let sends = Sends::scan(ctx);
        Ok(super::probe_concurrently(
            ctx,
            pairs,
            move |(backend, origin, fix)| {
                let (findings, probes) = check_pair(&backend, &origin, &sends, timeout, fix);
                let findings = findings
                    .into_iter()
                    .map(|f| {
                        f.evidence("port", backend.port)
                            .evidence("service", backend.name.clone())
                    })
                    .collect();
                (findings, probes)
            },
        ))
    }
}

/// What the frontend's requests carry, read from its sources (a bounded
/// scan): the preflight asks for the same, as the browser would.
#[derive(Debug, Clone, Default)]
struct Sends {
    /// An `Authorization` header, with the file that sets it.
    authorization: Option<String>,
    /// `credentials: 'include'` / `withCredentials`, with the file.
    credentials: Option<String>,
}

const FRONTEND_SOURCES: &[&str] = &["js", "jsx", "ts", "tsx", "mjs", "vue", "svelte"];

impl Sends {
    fn scan(ctx: &Context) -> Sends {
        let mut sends = Sends::default();
        for folder in ctx
            .project
            .services
            .iter()
            .filter(|s| s.is_frontend())
            .filter_map(|s| s.folder.as_ref())
        {
            crate::project::walk_files(folder, 6, 5_000, FRONTEND_SOURCES, &mut |path, meta| {
                if meta.len() > 512 * 1024 {
                    return;
                }
                let Ok(text) = std::fs::read_to_string(path) else {
                    return;
                };
                let rel = ctx.project.relative(path);
                if sends.authorization.is_none() && text.contains("Authorization") {
                    sends.authorization = Some(rel.clone());
                }
                let credentialed = [
                    "credentials: 'include'",
                    "credentials: \"include\"",
                    "withCredentials: true",
                    "withCredentials = true",
                ];
                if sends.credentials.is_none() && credentialed.iter().any(|c| text.contains(c)) {
                    sends.credentials = Some(rel);
                }
            });
        }
        sends
    }

    fn request_headers(&self) -> &'static str {
        if self.authorization.is_some() {
            "content-type,authorization"
        } else {
            "content-type"
        }
    }
}

/// Where the browser really is: `--origin` values, else each frontend's
/// origin (its configured host and port) and every other port a running
/// instance of it listens on (a second vite on the next port).
fn origins(ctx: &Context) -> Vec<String> {
    let mut out: Vec<String> = ctx
        .config
        .origins
        .iter()
        .map(|o| o.trim_end_matches('/').to_string())
        .collect();
    if out.is_empty() {
        for s in ctx.project.services.iter().filter(|s| s.origin.is_some()) {
            out.extend(s.origin.clone());
            let host = s.origin.as_deref().and_then(parse_url).map(|u| u.host);
            let host = host.unwrap_or_else(|| "localhost".into());
            for port in running_ports(ctx, s) {
                out.push(format!("http://{host}:{port}"));
            }
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    out.retain(|o| seen.insert(o.clone()));
    out
}

/// Ports that running instances of a frontend listen on: processes started
/// in its folder whose command line runs its dev server.
fn running_ports(ctx: &Context, frontend: &Service) -> Vec<u16> {
    let Some(folder) = &frontend.folder else {
        return Vec::new();
    };
    let pids: Vec<u32> = ctx
        .all_processes()
        .values()
        .filter(|p| p.cwd.as_ref() == Some(folder))
        .filter(|p| {
            crate::project::commands::parse(&p.command())
                .is_some_and(|c| Some(c.kind) == frontend.kind.as_deref())
        })
        .map(|p| p.pid)
        .collect();
    let mut ports: Vec<u16> = crate::platform::listeners_of(&pids)
        .unwrap_or_default()
        .iter()
        .filter(|s| s.state == crate::platform::TcpState::Listen)
        .map(|s| s.local.port())
        .filter(|p| *p != frontend.port)
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// Where the backend's allowed origins are written: an env key the backend
/// reads (`BACKEND_CORS_ORIGINS`, `CORS_ORIGINS`, `ALLOWED_ORIGINS`…) with its
/// file:line, else the line of its code that lists them.
fn allowed_origins_at(ctx: &Context, backend: &Service) -> Option<(String, Option<String>)> {
    let project = &ctx.project;
    let dirs = [
        backend.folder.as_ref(),
        backend.package_root.as_ref(),
        Some(&project.root),
    ];
    for dir in dirs.into_iter().flatten() {
        for name in crate::project::ENV_FILES {
            let path = dir.join(name);
            let Ok(text) = crate::project::read_bounded(&path) else {
                continue;
            };
            for (i, line) in text.lines().enumerate() {
                let Some((key, _)) = crate::project::parse_env_line(line) else {
                    continue;
                };
                let k = key.to_ascii_uppercase();
                if k.contains("CORS") || k.contains("ALLOWED_ORIGINS") || k.ends_with("_ORIGINS") {
                    return Some((
                        format!("{}:{}", project.relative(&path), i + 1),
                        Some(key.to_string()),
                    ));
                }
            }
        }
    }
    let folder = backend.run_folder()?;
    project.code.under(folder).find_map(|(path, text)| {
        text.lines().enumerate().find_map(|(i, l)| {
            let l = l.trim();
            (l.contains("allow_origins")
                || l.contains("CORS(")
                || l.contains("cors(")
                || l.contains("CORS_ALLOWED_ORIGINS"))
            .then(|| (format!("{}:{}", project.relative(path), i + 1), None))
        })
    })
}

/// The fix for an origin the backend rejects: where to add it, and the
/// framework's own mechanism; a value read at start needs a restart.
fn allow_origin_fix(ctx: &Context, backend: &Service, origin: &str) -> Fix {
    let mechanism = match backend.kind.as_deref() {
        Some("flask") => "flask-cors: CORS(app, origins=[...])",
        Some("django") => "django-cors-headers: CORS_ALLOWED_ORIGINS in settings",
        Some("express") => "the cors package: app.use(cors({ origin: [...] }))",
        _ => "FastAPI's CORSMiddleware: allow_origins=[...]",
    };
    let restart = match backend.start_from_root() {
        Some(start) => format!(
            "then restart {} ({}): it reads its settings once, at start",
            backend.name,
            crate::shell::inline(&start)
        ),
        None => format!(
            "then restart {}: it reads its settings once, at start",
            backend.name
        ),
    };
    let steps = match allowed_origins_at(ctx, backend) {
        Some((at, Some(key))) => vec![format!("add {origin} to {key} at {at}"), restart],
        Some((at, None)) => vec![
            format!("add {origin} to the allowed origins at {at} ({mechanism})"),
            restart,
        ],
        None => vec![format!("allow {origin} with {mechanism}"), restart],
    };
    Fix::manual(
        format!("allow {origin} in {}'s CORS settings", backend.name),
        steps,
    )
}

/// `http://localhost:5173` ↔ `http://127.0.0.1:5173`: the same page to a
/// user, two origins to a browser.
pub fn twin(origin: &str) -> Option<String> {
    if origin.contains("://localhost") {
        Some(origin.replacen("://localhost", "://127.0.0.1", 1))
    } else if origin.contains("://127.0.0.1") {
        Some(origin.replacen("://127.0.0.1", "://localhost", 1))
    } else {
        None
    }
}

struct Answer {
    preflight: Result<Response, String>,
    simple: Result<Response, String>,
}

impl Answer {
    fn allows(&self, origin: &str) -> bool {
        let ok = |r: &Result<Response, String>| {
            r.as_ref().is_ok_and(|r| {
                r.header("access-control-allow-origin")
                    .is_some_and(|a| a == origin || a == "*")
            })
        };
        ok(&self.preflight)
            && self.preflight.as_ref().is_ok_and(|r| r.status < 400)
            && ok(&self.simple)
    }

    fn evidence(&self) -> Value {
        let show = |r: &Result<Response, String>| match r {
            Ok(r) => {
                let headers: serde_json::Map<String, Value> = CORS_HEADERS
                    .iter()
                    .filter_map(|h| r.header(h).map(|v| (h.to_string(), json!(v))))
                    .collect();
                json!({"status": r.status, "headers": headers, "body": r.body.chars().take(120).collect::<String>()})
            }
            Err(e) => json!({"error": e}),
        };
        json!({"preflight": show(&self.preflight), "get": show(&self.simple)})
    }
}

fn ask(
    addr: std::net::SocketAddr,
    host: &str,
    path: &str,
    origin: &str,
    sends: &Sends,
    timeout: Duration,
) -> Answer {
    let preflight = net::request(
        addr,
        host,
        "OPTIONS",
        path,
        &[
            ("Origin", origin),
            ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", sends.request_headers()),
        ],
        timeout,
    )
    .map_err(|e| e.to_string());
    let simple = net::request(addr, host, "GET", path, &[("Origin", origin)], timeout)
        .map_err(|e| e.to_string());
    Answer { preflight, simple }
}

fn check_pair(
    backend: &Service,
    origin: &str,
    sends: &Sends,
    timeout: Duration,
    fix: Fix,
) -> (Vec<Finding>, Vec<Value>) {
    let mut out = Vec::new();
    let url = backend.url.as_deref().and_then(parse_url);
    let host = url
        .as_ref()
        .map_or(backend.host.clone(), |u| u.host.clone());
    let path = backend
        .health
        .clone()
        .unwrap_or_else(|| url.as_ref().map_or("/".into(), |u| u.path.clone()));
    let Some(addr) = net::resolve(&host, backend.port)
        .ok()
        .and_then(|a| a.into_iter().next())
    else {
        return (out, vec![]);
    };
    let first = ask(addr, &host, &path, origin, sends, timeout);
    let twin_origin = twin(origin);
    let second = twin_origin
        .as_ref()
        .map(|t| ask(addr, &host, &path, t, sends, timeout));
    let endpoint = format!("http://{addr}{path}");
    let mut probes = vec![
        json!({"check": ID, "service": backend.name, "url": endpoint, "origin": origin, "allowed": first.allows(origin), "seen": first.evidence()}),
    ];
    if let (Some(t), Some(a)) = (&twin_origin, &second) {
        probes.push(json!({"check": ID, "service": backend.name, "url": endpoint, "origin": t, "allowed": a.allows(t), "seen": a.evidence()}));
    }
    if first.preflight.is_err() && first.simple.is_err() {
        return (out, probes); // no answer at all: the health check says why
    }
    let status = |r: &Result<Response, String>| {
        r.as_ref()
            .map_or("no answer".to_string(), |r| r.status.to_string())
    };
    if !first.allows(origin) {
        let acao = first
            .preflight
            .as_ref()
            .ok()
            .and_then(|r| r.header("access-control-allow-origin").map(String::from));
        out.push(
            Finding::new(
                "CORS001",
                ID,
                format!(
                    "{} ({endpoint}) rejects origin {origin}: preflight {}, Access-Control-Allow-Origin {}",
                    backend.name,
                    status(&first.preflight),
                    acao.as_deref().map_or("missing".to_string(), |a| format!("'{a}'"))
                ),
            )
            .evidence("origin", origin.to_string())
            .evidence("url", endpoint.clone())
            .evidence("seen", first.evidence())
            .with_fix(fix.clone()),
        );
    }
    if let (Some(t), Some(a)) = (&twin_origin, &second) {
        let (mine, theirs) = (first.allows(origin), a.allows(t));
        if mine != theirs {
            let (yes, no) = if mine {
                (origin, t.as_str())
            } else {
                (t.as_str(), origin)
            };
            out.push(
                Finding::new("CORS003", ID, format!("{} allows {yes} but not {no}: opening the frontend as {no} breaks every request", backend.name))
                    .evidence("allowed", yes.to_string())
                    .evidence("rejected", no.to_string())
                    .evidence("seen", json!({ "allowed": if mine { first.evidence() } else { a.evidence() }, "rejected": if mine { a.evidence() } else { first.evidence() } }))
                    .with_fix(Fix::manual("allow both spellings", vec![format!("add {no} next to {yes} in the allowed origins")]))
                    // The origin the frontend really has is allowed: the twin
                    // matters only to whoever opens it by the other name.
                    .severity(if mine { Severity::Info } else { Severity::Warning }),
            );
        }
    }
    // Credentialed requests (cookies, withCredentials) need the exact origin echoed.
    if let (Some(file), Ok(r)) = (&sends.credentials, &first.simple) {
        if r.header("access-control-allow-origin") == Some("*") {
            out.push(
                Finding::new(
                    "CORS002",
                    ID,
                    format!("{file} sends credentials, but {} answers Access-Control-Allow-Origin: *: browsers refuse the response", backend.name),
                )
                .evidence("credentials_in", file.clone())
                .evidence("seen", first.evidence())
                .with_fix(Fix::manual(
                    "echo the origin instead of *",
                    vec![format!("FastAPI: allow_origins=[\"{origin}\"], allow_credentials=True")],
                )),
            );
        }
    }
    if first.allows(origin) {
        if let Ok(p) = &first.preflight {
            let lacks = |header: &str, want: &str| {
                p.header(header).is_some_and(|v| {
                    v != "*" && !v.split(',').any(|m| m.trim().eq_ignore_ascii_case(want))
                })
            };
            let mut missing = Vec::new();
            if lacks("access-control-allow-methods", "POST") {
                missing.push("method POST");
            }
            if lacks("access-control-allow-headers", "content-type") {
                missing.push("header Content-Type");
            }
            if sends.authorization.is_some()
                && lacks("access-control-allow-headers", "authorization")
            {
                missing.push("header Authorization");
            }
            if !missing.is_empty() {
                out.push(
                    Finding::new(
                        "CORS004",
                        ID,
                        format!(
                            "{}'s preflight does not allow {} for {origin}",
                            backend.name,
                            missing.join(" and ")
                        ),
                    )
                    .evidence("seen", first.evidence())
                    .with_fix(Fix::manual(
                        "allow them",
                        vec!["allow_methods=[\"*\"], allow_headers=[\"*\"] (or list them)".into()],
                    )),
                );
            }
        }
    }
    (out, probes)
}

#[cfg(test)]
mod tests {
    #[test]
    fn twins() {
        assert_eq!(
            super::twin("http://localhost:5173").as_deref(),
            Some("http://127.0.0.1:5173")
        );
        assert_eq!(
            super::twin("http://127.0.0.1:5173").as_deref(),
            Some("http://localhost:5173")
        );
        assert_eq!(super::twin("https://app.example.com"), None);
    }
}
