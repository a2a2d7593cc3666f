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
    "access-control-allow-private-network",
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
        &[
            "CORS001", "CORS002", "CORS003", "CORS004", "CORS005", "CORS006",
        ]
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
            // The browser calls a backend directly when the frontend's env
            // or its own code names its URL; one reached only through the
            // dev server's proxy (or not from the browser at all) is
            // same-origin: no CORS.
            let proxied = !backend.clients.iter().any(|(_, src)| {
                let file = src.rsplit_once(':').map_or(src.as_str(), |(f, _)| f);
                let name = file.rsplit('/').next().unwrap_or(file);
                name.starts_with(".env")
                    || (!name.starts_with("vite.config")
                        && !name.starts_with("next.config")
                        && !name.starts_with("setupProxy")
                        && !name.starts_with("webpack.config")
                        && name != "package.json"
                        && ["js", "jsx", "ts", "tsx", "mjs", "vue", "svelte"]
                            .iter()
                            .any(|e| name.ends_with(&format!(".{e}"))))
            });
            if proxied && ctx.config.origins.is_empty() {
                ctx.record_probe(json!({"check": ID, "service": backend.name, "result": "not applicable: the frontend reaches it through its dev-server proxy (same origin)"}));
                continue;
            }
            for origin in &origins {
                let fix = allow_origin_fix(ctx, backend, origin);
                let mut backend = backend.clone();
                if backend.kind.is_none() {
                    backend.kind = framework_in_code(ctx, &backend);
                }
                pairs.push((backend, origin.clone(), fix));
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
    // Where the origins really come from: a settings name as the project
    // writes it (django-cors-headers' current CORS_ALLOWED_ORIGINS or its
    // older CORS_ORIGIN_WHITELIST), flask-cors' init_app(app, origins=…)
    // (which overrides the constructor's), then any CORS set-up line.
    const SETTINGS: &[&str] = &[
        "CORS_ALLOWED_ORIGINS",
        "CORS_ORIGIN_WHITELIST",
        "CORS_ALLOWED_ORIGIN_REGEXES",
        "BACKEND_CORS_ORIGINS",
    ];
    let find = |pred: &dyn Fn(&str) -> Option<Option<String>>| {
        project.code.under(folder).find_map(|(path, text)| {
            text.lines().enumerate().find_map(|(i, l)| {
                pred(l.trim()).map(|key| (format!("{}:{}", project.relative(path), i + 1), key))
            })
        })
    };
    find(&|l| {
        SETTINGS
            .iter()
            .find(|k| l.starts_with(*k) && l[k.len()..].trim_start().starts_with(['=', ':']))
            .map(|k| Some(k.to_string()))
    })
    .or_else(|| find(&|l| (l.contains("init_app(") && l.contains("origins")).then_some(None)))
    .or_else(|| {
        // Of the set-up lines, one in a branch the development run takes:
        // `if settings.environment == "production": allow_origins=[…]`
        // then `else: allow_origins=[…]` (field gd fd P1 G cited the first).
        let setup = |l: &str| {
            l.contains("allow_origins")
                || l.contains("origins=")
                || l.contains("CORS(")
                || l.contains("cors(")
        };
        let all: Vec<(String, bool)> = project
            .code
            .under(folder)
            .flat_map(|(path, text)| {
                let lines: Vec<&str> = text.lines().collect();
                (0..lines.len())
                    .filter(|&i| setup(lines[i].trim()))
                    .map(|i| {
                        (
                            format!("{}:{}", project.relative(path), i + 1),
                            in_production_branch(&lines, i),
                        )
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        all.iter()
            .find(|(_, prod)| !prod)
            .or(all.first())
            .map(|(at, _)| (at.clone(), None))
    })
}

/// Whether line `i` is inside an `if`/`elif` branch taken in production
/// only (`if settings.environment == "production":`, `if IS_PROD:`), or
/// the `else` of a branch taken only outside it.
fn in_production_branch(lines: &[&str], i: usize) -> bool {
    let indent = |l: &str| l.len() - l.trim_start().len();
    let prod = |cond: &str| {
        let c = cond.to_ascii_lowercase();
        c.contains("prod") && !c.contains("!=") && !c.contains(" not ")
    };
    let mut want = indent(lines[i]);
    for j in (0..i).rev() {
        let l = lines[j];
        if l.trim().is_empty() || indent(l) >= want {
            continue;
        }
        let t = l.trim();
        if t.starts_with("if ") || t.starts_with("elif ") {
            return prod(t);
        }
        if t.starts_with("else") {
            // The else of an `if … != "production"` is production's.
            let at = indent(l);
            let head = lines[..j]
                .iter()
                .rev()
                .find(|h| indent(h) == at && h.trim().starts_with("if "));
            return head.is_some_and(|h| {
                let c = h.to_ascii_lowercase();
                c.contains("prod") && (c.contains("!=") || c.contains(" not "))
            });
        }
        if t.starts_with("def ") || t.starts_with("class ") {
            return false;
        }
        want = indent(l);
    }
    false
}

/// The env variable the allowed origins at `at` are read from, when the
/// running server's environment sets it (`FRONTEND_ORIGINS` read by
/// `os.getenv("FRONTEND_ORIGINS", "*")`): the list in force is that
/// value, not the code's default (field ga fa P3 c6). With its read line
/// and the pid whose environment has it.
fn origins_from_running_env(
    ctx: &Context,
    backend: &Service,
    at: &str,
) -> Option<(String, String, u32)> {
    let (file, _) = at.rsplit_once(':')?;
    let path = ctx.project.root.join(file);
    let text = ctx
        .project
        .code
        .under(&ctx.project.root)
        .find(|(p, _)| *p == path)?
        .1
        .clone();
    let snapshot = ctx.snapshot().ok()?;
    let server = super::project_server(snapshot, &ctx.project.root, backend.port)?;
    let env = crate::platform::environment_of(server.pid)?;
    // Every read, with or without a default (`os.getenv("X", "*")`): the
    // env reader skips defaulted ones, which are this shape's whole point.
    text.lines().enumerate().find_map(|(i, line)| {
        let name = ["getenv(", "environ.get(", "environ["]
            .iter()
            .find_map(|call| {
                let rest = &line[line.find(call)? + call.len()..];
                let rest = rest.trim_start().strip_prefix(['"', '\''])?;
                Some(rest[..rest.find(['"', '\''])?].to_string())
            })?;
        let upper = name.to_ascii_uppercase();
        let about_origins = upper.contains("ORIGIN") || upper.contains("CORS");
        let set = env.iter().any(|(k, _)| k.to_str() == Some(name.as_str()));
        (about_origins && set).then(|| (name, format!("{file}:{}", i + 1), server.pid))
    })
}

/// A CORS middleware the backend's code has commented out, with no live
/// line that installs it: the origin may well be listed already, so adding
/// it again fixes nothing (field gc 11: `# 'corsheaders.middleware.CorsMiddleware'`).
fn disabled_cors_middleware(ctx: &Context, backend: &Service) -> Option<(String, String)> {
    let folder = backend.run_folder()?;
    // The mark of each framework's middleware being installed.
    const MARKS: &[&str] = &[
        "corsheaders.middleware.CorsMiddleware",
        "CORSMiddleware",
        "CORS(app",
        "cors(",
    ];
    let code = || ctx.project.code.under(folder);
    let live = |mark: &str| {
        code().any(|(_, text)| {
            text.lines().map(str::trim).any(|l| {
                l.contains(mark)
                    && !l.starts_with('#')
                    && !l.starts_with("//")
                    && !l.starts_with("from ")
                    && !l.starts_with("import ")
                    && !l.contains("require(")
            })
        })
    };
    for mark in MARKS {
        let commented = code().find_map(|(path, text)| {
            text.lines().enumerate().find_map(|(i, l)| {
                let l = l.trim();
                let body = l.strip_prefix('#').or_else(|| l.strip_prefix("//"))?.trim();
                let is_use = body.contains(mark)
                    && !body.starts_with("from ")
                    && !body.starts_with("import ")
                    && (*mark != "cors(" || body.contains(".use("));
                is_use.then(|| {
                    (
                        format!("{}:{}", ctx.project.relative(path), i + 1),
                        l.to_string(),
                    )
                })
            })
        });
        if let Some(found) = commented {
            // flask-cors set up as `cors.init_app(app)` is installed too.
            let installed = live(mark) || (*mark == "CORS(app" && live("init_app("));
            if !installed {
                return Some(found);
            }
        }
    }
    None
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
    // The running server says whether it reloads and how it was started
    // (`uv run uvicorn main:app --reload --port 8001`), over the files.
    let running = running_server(ctx, backend.port);
    let reloads = running.as_ref().map_or(backend.reloads, |(r, _)| *r);
    let restart = match running
        .as_ref()
        .map(|(_, c)| c.clone())
        .or_else(|| backend.start_from_root().map(|s| crate::shell::inline(&s)))
    {
        Some(start) => format!(
            "then restart {} ({start}): it reads its settings once, at start",
            backend.name
        ),
        None => format!(
            "then restart {}: it reads its settings once, at start",
            backend.name
        ),
    };
    if let Some((at, line)) = disabled_cors_middleware(ctx, backend) {
        let mut steps = vec![format!(
            "uncomment the CORS middleware at {at} (`{line}`): while it is commented out no origin is allowed, whatever the settings list"
        )];
        if !reloads {
            steps.push(restart);
        }
        return Fix::manual(
            format!("turn {}'s CORS middleware back on ({at})", backend.name),
            steps,
        );
    }
    let found = allowed_origins_at(ctx, backend);
    // A reloading server picks up an edit of its code by itself; a value
    // from an env file is read once, at start.
    let in_env = found.as_ref().is_some_and(|(at, _)| at.contains(".env"));
    if let Some((variable, read_at, pid)) = found
        .as_ref()
        .and_then(|(at, _)| origins_from_running_env(ctx, backend, at))
    {
        return Fix::manual(
            format!("allow {origin} in {variable}, which {}'s allowed origins come from", backend.name),
            vec![
                format!("the allowed origins come from {variable} (read at {read_at}), and the environment of pid {pid} sets it: add {origin} to {variable} where it is set for the server (the shell, launcher or env file that starts it), or unset it to use the code's default"),
                restart,
            ],
        );
    }
    let mut steps = match found {
        Some((at, Some(key))) => vec![format!("add {origin} to {key} at {at}")],
        Some((at, None)) => vec![format!(
            "add {origin} to the allowed origins at {at} ({mechanism})"
        )],
        None => vec![format!("allow {origin} with {mechanism}")],
    };
    if in_env || !reloads {
        steps.push(restart);
    }
    Fix::manual(
        format!("allow {origin} in {}'s CORS settings", backend.name),
        steps,
    )
}

/// The project's server on `port` as it runs: whether it (or the
/// reloader above it) reloads on an edit, and its command line from its
/// folder, as the user would type it again.
pub(crate) fn running_server(ctx: &Context, port: u16) -> Option<(bool, String)> {
    let snapshot = ctx.snapshot().ok()?;
    let listener = super::project_server(snapshot, &ctx.project.root, port)?;
    let parent = listener.parent.and_then(|pp| ctx.all_processes().get(&pp));
    let server = [Some(listener), parent]
        .into_iter()
        .flatten()
        .find(|p| crate::project::commands::parse(&p.command()).is_some())?;
    let parsed = crate::project::commands::parse(&server.command())?;
    let folder = server
        .cwd
        .as_deref()
        .map(|c| ctx.project.relative(c))
        .filter(|f| !f.is_empty() && f != ".");
    let command = match folder {
        Some(f) => format!("cd {f} && {}", server.command()),
        None => server.command(),
    };
    Some((parsed.reloads, command))
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
        // A 404/405 on the path doctor picked, with the origin echoed, is
        // the path's answer, not a rejection: the CORS layer allowed it.
        ok(&self.preflight)
            && self
                .preflight
                .as_ref()
                .is_ok_and(|r| r.status < 400 || matches!(r.status, 404 | 405))
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
    // A route the backend serves: its health path, a route its code
    // declares, else `/` (a URL's path is often only a base, `/api/v1`).
    let path = backend
        .health
        .clone()
        .or_else(|| backend.routes.first().cloned())
        .unwrap_or_else(|| "/".into());
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
    // A server error is not CORS: an error page built outside the CORS
    // layer carries no Access-Control-Allow-Origin, and the browser says
    // "CORS" about a 500. The server's own finding (PY003, HEALTH003) speaks.
    let server_error = first.simple.as_ref().is_ok_and(|r| r.status >= 500)
        || first.preflight.as_ref().is_ok_and(|r| r.status >= 500);
    if server_error {
        probes.push(json!({"check": ID, "service": backend.name, "url": endpoint, "origin": origin, "result": "server error, not CORS: the answer is a 5xx"}));
        out.extend(server_error_as_cors(backend, origin, &endpoint, &first));
        return (out, probes);
    }
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
    if first.allows(origin) {
        if let Some(f) = private_network(addr, &host, &path, origin, sends, timeout, backend) {
            out.push(f.evidence("url", endpoint.clone()));
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

/// The web framework a backend of unknown kind is written with, from the
/// imports of the code in its folder: what names the settings in a fix.
fn framework_in_code(ctx: &Context, backend: &Service) -> Option<String> {
    let folder = backend.folder.as_ref().unwrap_or(&ctx.project.root);
    let imports = ctx.project.code.python_imports(folder);
    for fw in ["fastapi", "flask", "django", "starlette"] {
        if imports
            .iter()
            .any(|m| m == fw || m.starts_with(&format!("{fw}.")))
        {
            return Some(if fw == "starlette" { "fastapi" } else { fw }.to_string());
        }
    }
    ctx.project
        .code
        .under(folder)
        .any(|(_, text)| {
            text.contains("require(\"express\")")
                || text.contains("require('express')")
                || text.contains("from \"express\"")
                || text.contains("from 'express'")
        })
        .then(|| "express".to_string())
}

/// CORS006: a page on a non-loopback origin (a deployed site, a LAN
/// address) calls this loopback backend. Chromium's Private Network Access
/// preflight asks `Access-Control-Request-Private-Network: true` and
/// blocks unless the answer allows it. Asked only then: for a loopback
/// origin the browser sends no such preflight.
fn private_network(
    addr: std::net::SocketAddr,
    host: &str,
    path: &str,
    origin: &str,
    sends: &Sends,
    timeout: Duration,
    backend: &Service,
) -> Option<Finding> {
    if !addr.ip().is_loopback() {
        return None;
    }
    let origin_host = parse_url(origin)?.host;
    let origin_host = origin_host.trim_start_matches('[').trim_end_matches(']');
    let loopback_origin = origin_host.eq_ignore_ascii_case("localhost")
        || origin_host.to_ascii_lowercase().ends_with(".localhost")
        || origin_host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if loopback_origin {
        return None;
    }
    let r = net::request(
        addr,
        host,
        "OPTIONS",
        path,
        &[
            ("Origin", origin),
            ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", sends.request_headers()),
            ("Access-Control-Request-Private-Network", "true"),
        ],
        timeout,
    )
    .ok()?;
    let allowed = r
        .header("access-control-allow-private-network")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    if allowed && r.status < 400 {
        return None;
    }
    let kind = backend.kind.as_deref().unwrap_or_default();
    let start = backend.start.as_deref().unwrap_or_default();
    let is = |k: &str| kind == k || start.contains(k);
    let how = if is("fastapi") || is("uvicorn") {
        "CORSMiddleware(..., allow_private_network=True) (Starlette 0.37+)"
    } else if is("flask") {
        "CORS(app, allow_private_network=True) (Flask-CORS 4+)"
    } else if is("django") {
        "CORS_ALLOW_PRIVATE_NETWORK = True (django-cors-headers 4+)"
    } else if is("express") || is("node") || is("nodemon") {
        "answer the preflight with the header: res.setHeader('Access-Control-Allow-Private-Network', 'true') before cors() (the cors package does not set it)"
    } else {
        "answer the preflight with Access-Control-Allow-Private-Network: true"
    };
    Some(
        Finding::new(
            "CORS006",
            ID,
            format!(
                "{} does not allow Private Network Access for {origin}: a page there calling this loopback API is blocked by Chromium (preflight {}, Access-Control-Allow-Private-Network {})",
                backend.name,
                r.status,
                r.header("access-control-allow-private-network")
                    .map_or("missing".to_string(), |v| format!("'{v}'"))
            ),
        )
        .severity(Severity::Warning)
        .evidence("origin", origin.to_string())
        .evidence("status", r.status)
        .evidence(
            "allow_private_network",
            r.header("access-control-allow-private-network")
                .unwrap_or_default()
                .to_string(),
        )
        .with_fix(Fix::manual(
            format!("allow private network requests: {how}"),
            vec![
                how.to_string(),
                "serve the page over https: Chromium sends private network requests only from secure contexts".to_string(),
            ],
        )),
    )
}

/// CORS005: a 5xx answered without `Access-Control-Allow-Origin`, where
/// the browser shows a CORS error for what is a server error. A 5xx that
/// carries the header is shown by the browser as the 500 it is: then the
/// server's own findings speak (HEALTH003, PY003).
fn server_error_as_cors(
    backend: &Service,
    origin: &str,
    endpoint: &str,
    answer: &Answer,
) -> Option<Finding> {
    let r = [&answer.simple, &answer.preflight]
        .into_iter()
        .filter_map(|r| r.as_ref().ok())
        .find(|r| r.status >= 500)?;
    if r.header("access-control-allow-origin").is_some() {
        return None;
    }
    let excerpt: String = crate::redact::text(r.body.trim())
        .chars()
        .take(160)
        .collect();
    let (place, fix) = error_path_of(backend);
    Some(
        Finding::new(
            "CORS005",
            ID,
            format!(
                "{} ({endpoint}) answers {} without Access-Control-Allow-Origin: the browser will say CORS, but it is a server error",
                backend.name, r.status
            ),
        )
        .evidence("origin", origin.to_string())
        .evidence("url", endpoint.to_string())
        .evidence("status", r.status)
        .evidence("body", excerpt)
        .evidence("seen", answer.evidence())
        .evidence("error_path", place.to_string())
        .with_fix(Fix::manual(
            "fix the server error (its traceback is in the server's log); the CORS settings are not the cause",
            vec![fix.to_string()],
        )),
    )
}

/// Where the backend's framework builds error responses outside its CORS
/// layer, and what keeps the headers on them.
fn error_path_of(backend: &Service) -> (&'static str, &'static str) {
    let start = backend.start.as_deref().unwrap_or_default();
    let kind = backend.kind.as_deref().unwrap_or_default();
    let is = |k: &str| kind == k || start.contains(k);
    if is("fastapi") || is("uvicorn") || is("hypercorn") {
        (
            "Starlette answers an unhandled exception from ServerErrorMiddleware, the outermost layer, outside CORSMiddleware: its 500 has no CORS headers (an @app.exception_handler(Exception) runs there too)",
            "handle the exception inside the app (an @app.exception_handler for its own exception class, which runs inside CORSMiddleware), or fix what raises",
        )
    } else if is("flask") {
        (
            "Flask-CORS adds its headers in after_request; in debug mode an unhandled exception is rendered by Werkzeug's debugger outside Flask, with no after_request",
            "fix what raises (Werkzeug's debugger page in the server's log shows it); an @app.errorhandler(500) response gets Flask-CORS's headers",
        )
    } else if is("django") {
        (
            "Django builds the 500 in its handler; django-cors-headers adds its headers only when corsheaders.middleware.CorsMiddleware is listed in MIDDLEWARE above the middleware that failed",
            "fix what raises; keep corsheaders.middleware.CorsMiddleware as high in MIDDLEWARE as it will go",
        )
    } else if is("express") || is("node") || is("nodemon") {
        (
            "Express answers an error with its final handler; an error raised before app.use(cors()) runs, or an error handler registered before it, answers without CORS headers",
            "register app.use(cors(...)) before the routes and error handlers, and fix what raises",
        )
    } else {
        (
            "the error response is built outside the server's CORS layer",
            "fix what raises; answer errors through the layer that adds the CORS headers",
        )
    }
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
