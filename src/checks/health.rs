//! HEALTH001–HEALTH005: does each HTTP service answer, on every address its
//! host resolves to, and how fast (httpstat-style timings per address)?

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::engine::{Check, CheckError, Context};
use crate::finding::{Finding, Fix};
use crate::net::{self, Failure, Response};
use crate::project::{parse_url, Service};

pub struct Health;

const ID: &str = "health";
/// What is asked of a service no file gives a health path: a frontend, the
/// page the browser asks for (`/`); a backend, the health routes its code
/// declares, then `/`. No sweep of guessed paths: a cold `next dev`
/// compiles a 404 page for each one (seconds each), and any HTTP answer
/// already proves a server alive.
pub const GUESSED_PATHS: &[&str] = &["/"];

impl Check for Health {
    fn id(&self) -> &'static str {
        ID
    }
    fn description(&self) -> &'static str {
        "each HTTP service answers on every resolved address, with timings"
    }
    fn codes(&self) -> &'static [&'static str] {
        &[
            "HEALTH001",
            "HEALTH002",
            "HEALTH003",
            "HEALTH004",
            "HEALTH005",
            "HEALTH006",
            "HEALTH007",
        ]
    }
    fn run(&self, ctx: &Context) -> Result<Vec<Finding>, CheckError> {
        let targets: Vec<Target> = ctx
            .project
            .services
            .iter()
            .filter_map(|s| Target::of(ctx, s))
            .collect();
        if targets.is_empty() {
            return Err(CheckError::Skipped(
                "no HTTP service with a listener to probe".into(),
            ));
        }
        let ctx_probe = Arc::new(ProbeSettings {
            timeout: ctx.config.timeout,
            slow: ctx.config.slow,
        });
        // Every service at once: a hung one costs one timeout, not one each.
        Ok(super::probe_concurrently(ctx, targets, move |t| {
            probe_service(&t, &ctx_probe)
        }))
    }
}

struct ProbeSettings {
    timeout: Duration,
    slow: Duration,
}

/// One service to probe: where, and which paths.
#[derive(Clone)]
pub struct Target {
    pub name: String,
    pub scheme: String,
    pub host: String,
    pub port: u16,
    /// A configured health path (doctor.toml, `--url`): its status counts.
    pub configured: Option<String>,
    pub source: String,
    /// Health routes the backend's source declares: tried before guesses.
    pub routes: Vec<String>,
    /// The path the project's frontend calls on this backend, as written
    /// (`http://localhost:8000/api/tasks/`): what the browser asks, tried
    /// after the health routes and before guesses.
    pub called: Option<String>,
    /// An HTML page from a backend is an SPA's catch-all, not its health.
    pub backend: bool,
    /// A dev server that compiles a page on its first request (`next dev`):
    /// a wait is its compile, not a hang.
    pub compiles_on_demand: bool,
    /// The API paths a frontend's dev server proxies: asked through it, as
    /// the browser asks.
    pub proxied: Vec<Proxied>,
    /// The URL as its source writes it, when a URL names the service.
    pub written_url: Option<String>,
    /// The project root, where `source` is found (HEALTH007's edit).
    pub root: std::path::PathBuf,
}

/// One proxied path of a frontend: `/api` → the backend on `target_port`,
/// as `source` (`frontend/vite.config.ts:10`) writes it.
#[derive(Clone, Debug)]
pub struct Proxied {
    pub path: String,
    pub target: String,
    pub target_port: u16,
    pub source: String,
}

/// The paths a frontend proxies, from the backends whose URL its dev-server
/// config names (vite `server.proxy`, CRA's `"proxy"`, next rewrites).
fn proxied_paths(ctx: &Context, frontend: &Service) -> Vec<Proxied> {
    let Some(folder) = frontend.folder.as_deref() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for b in ctx
        .project
        .services
        .iter()
        .filter(|b| b.is_http() && !b.is_frontend() && b.port != frontend.port)
    {
        for (_, src) in &b.clients {
            let (file, line) = src.rsplit_once(':').unwrap_or((src.as_str(), "1"));
            let name = file.rsplit('/').next().unwrap_or(file);
            let config = name.starts_with("vite.config")
                || name.starts_with("next.config")
                || name.starts_with("setupProxy")
                || name == "package.json";
            let path = ctx.project.root.join(file);
            if !config || !path.starts_with(folder) {
                continue;
            }
            let text = crate::project::read_bounded(&path).unwrap_or_default();
            let n: usize = line.parse().unwrap_or(1);
            // The proxied prefix on that line or the one above it: `'/api':`,
            // `source: '/api/:path*'`; CRA proxies every non-HTML request.
            let key = text
                .lines()
                .skip(n.saturating_sub(2))
                .take(2)
                .collect::<Vec<_>>()
                .join(" ");
            let prefix = key
                .split(['\'', '"', '`'])
                .find(|w| w.starts_with('/') && w.len() > 1 && !w.starts_with("//"))
                .map(|w| {
                    w.split(":path")
                        .next()
                        .unwrap_or(w)
                        .trim_end_matches('*')
                        .trim_end_matches('/')
                        .to_string()
                })
                .unwrap_or_else(|| "/api".to_string());
            let probe = b
                .routes
                .iter()
                .find(|r| r.starts_with(&prefix))
                .cloned()
                .unwrap_or_else(|| format!("{prefix}/"));
            if !out.iter().any(|p: &Proxied| p.path == probe) {
                out.push(Proxied {
                    path: probe,
                    target: b
                        .url
                        .clone()
                        .unwrap_or_else(|| format!("http://localhost:{}", b.port)),
                    target_port: b.port,
                    source: src.clone(),
                });
            }
        }
    }
    out
}

impl Target {
    fn of(ctx: &Context, s: &Service) -> Option<Target> {
        if !s.is_http() {
            return None;
        }
        // Nothing listens at all: PORT001 already says so, and why. A URL the
        // user named (--url, doctor.toml) is probed regardless.
        let named = s.source == "--url" || s.declared;
        if !s.expected && !named {
            return None;
        }
        if let Ok(snapshot) = ctx.snapshot() {
            if !named && !snapshot.has_listener(s.port) {
                return None;
            }
        }
        // Its server dies at its next log line (PROC009 says so): a request
        // would make that line. net::send only connects to such a port.
        // A URL whose address refuses is probed as usual: no request
        // reaches that server, and the refusal is the finding.
        let accepts = || {
            let host = s
                .url
                .as_deref()
                .and_then(parse_url)
                .map_or(s.host.clone(), |u| u.host);
            net::resolve(&host, s.port).is_ok_and(|addrs| {
                addrs
                    .iter()
                    .any(|a| crate::net::connect(a, ctx.config.timeout).is_ok())
            })
        };
        if net::fragile(s.port) && accepts() {
            ctx.record_probe(json!({"check": ID, "service": s.name, "port": s.port,
                "skipped": "no HTTP request: the server's output goes nowhere and a logged request would end it (PROC009)"}));
            return None;
        }
        let url = s.url.as_deref().and_then(parse_url);
        let configured = s.health.clone().or_else(|| {
            url.as_ref()
                .filter(|u| s.source == "--url" && u.path != "/")
                .map(|u| u.path.clone())
        });
        Some(Target {
            name: s.name.clone(),
            scheme: url.as_ref().map_or("http".into(), |u| u.scheme.clone()),
            host: url.as_ref().map_or(s.host.clone(), |u| u.host.clone()),
            port: s.port,
            configured,
            source: s.source.clone(),
            routes: s.routes.clone(),
            // The first literal path of the URLs the project calls it by:
            // a template (`…/prereqs/${task.id}`) is no request, the next
            // URL may be (field gc P1 c9, round 9).
            called: url
                .iter()
                .map(|u| u.path.clone())
                .chain(
                    s.sources
                        .iter()
                        .filter(|f| f.fact == "url")
                        .filter_map(|f| parse_url(&f.value).map(|u| u.path)),
                )
                .find(|p| {
                    !s.is_frontend()
                        && p != "/"
                        && p.starts_with('/')
                        && !p.contains(['$', '{', '<', ':', '*', '?', ' '])
                }),
            backend: !s.is_frontend(),
            // Compiling, if its dev server is supervised as started (its
            // parent, `next dev`, alive): an orphaned one that hangs is hung.
            compiles_on_demand: s
                .kind
                .as_deref()
                .and_then(crate::frameworks::by_kind)
                .is_some_and(|f| f.compiles_on_demand)
                && ctx.snapshot().is_ok_and(|snap| {
                    let all = ctx.project.all_processes();
                    snap.listener_pids(s.port).iter().any(|pid| {
                        snap.process(*pid).is_some_and(|p| {
                            p.parent.is_some_and(|pp| pp > 1 && all.contains_key(&pp))
                                && super::orphaned_ancestor(all, p, &ctx.project.root).is_none()
                        })
                    })
                }),
            proxied: if s.is_frontend() {
                proxied_paths(ctx, s)
            } else {
                Vec::new()
            },
            written_url: s.url.clone(),
            root: ctx.project.root.clone(),
        })
    }

    pub(crate) fn url(&self, path: &str) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("{}://{host}:{}{path}", self.scheme, self.port)
    }
}

pub(crate) enum AddrOutcome {
    Answered {
        response: Response,
        path: String,
        total: Duration,
    },
    Refused,
    Hung {
        connect: Duration,
    },
    Garbled(String),
}

/// Try the paths on one address under one deadline; stop at the first sign
/// of a hung server.
fn probe_address(addr: SocketAddr, t: &Target, timeout: Duration) -> AddrOutcome {
    let start = Instant::now();
    let paths: Vec<&str> = match &t.configured {
        Some(p) => vec![p.as_str()],
        None => t
            .routes
            .iter()
            .filter(|_| t.backend)
            .map(String::as_str)
            .chain(t.called.as_deref())
            .chain(GUESSED_PATHS.iter().copied())
            .collect(),
    };
    let mut fallback = None;
    for path in paths {
        let left = timeout.saturating_sub(start.elapsed());
        if left.is_zero() {
            break;
        }
        match net::send(addr, &t.host, t.scheme == "https", "GET", path, &[], left) {
            Ok(r) => {
                let html = r
                    .header("content-type")
                    .is_some_and(|c| c.contains("text/html"));
                let catch_all = t.backend && html && path != "/" && t.configured.is_none();
                let done = t.configured.is_some()
                    || ((200..300).contains(&r.status) && !catch_all)
                    || !matches!(r.status, 404 | 405 | 200..=299);
                let ok = (200..300).contains(&r.status);
                let outcome = AddrOutcome::Answered {
                    response: r,
                    path: path.to_string(),
                    total: start.elapsed(),
                };
                // Healthy by its own health route: the path the frontend
                // calls is asked too, and its server error is the answer
                // (every API call failing on a missing table, the health
                // route fine).
                if let (true, true, Some(called)) = (done, ok, t.called.as_deref()) {
                    if called != path && t.configured.is_none() {
                        let left = timeout.saturating_sub(start.elapsed());
                        if let Ok(r) =
                            net::send(addr, &t.host, t.scheme == "https", "GET", called, &[], left)
                        {
                            if r.status >= 500 {
                                return AddrOutcome::Answered {
                                    response: r,
                                    path: called.to_string(),
                                    total: start.elapsed(),
                                };
                            }
                        }
                    }
                }
                if done {
                    return outcome;
                }
                fallback.get_or_insert(outcome);
            }
            Err(Failure::Refused(_)) => return AddrOutcome::Refused,
            Err(Failure::NoAnswer { connect, .. }) => {
                return fallback.unwrap_or(AddrOutcome::Hung { connect })
            }
            Err(e) => return fallback.unwrap_or(AddrOutcome::Garbled(e.to_string())),
        }
    }
    fallback.unwrap_or(AddrOutcome::Hung { connect: timeout })
}

/// `{"status": "ok", "version": "1.2"}` fields, else the first 120 characters.
fn excerpt(body: &str) -> Value {
    if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(body.trim()) {
        let picked: serde_json::Map<String, Value> = map
            .into_iter()
            .filter(|(k, _)| matches!(k.as_str(), "status" | "version" | "healthy" | "ok"))
            .collect();
        if !picked.is_empty() {
            return Value::Object(picked);
        }
    }
    Value::String(
        body.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .take(120)
            .collect(),
    )
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

fn probe_service(t: &Target, s: &ProbeSettings) -> (Vec<Finding>, Vec<Value>) {
    let dns_start = Instant::now();
    let addrs = match net::resolve(&t.host, t.port) {
        Ok(a) if !a.is_empty() => a,
        _ => {
            let probe = json!({"check": ID, "service": t.name, "url": t.url("/"), "result": format!("{} does not resolve", t.host)});
            return (Vec::new(), vec![probe]);
        }
    };
    let dns = dns_start.elapsed();
    let handles: Vec<_> = addrs
        .iter()
        .map(|&addr| {
            let target = t.clone();
            let timeout = s.timeout;
            std::thread::spawn(move || {
                let outcome = probe_address(addr, &target, timeout);
                let crossed = super::scheme::cross_probe(addr, &target, &outcome);
                (addr, outcome, crossed)
            })
        })
        .collect();
    let mut results: Vec<(SocketAddr, AddrOutcome)> = Vec::new();
    let mut crossed = Vec::new();
    for (addr, outcome, c) in handles.into_iter().filter_map(|h| h.join().ok()) {
        results.push((addr, outcome));
        crossed.extend(c.map(|c| (addr, c)));
    }
    let (mut findings, mut probes) = judge(t, s, dns, &addrs, &results);
    for (addr, c) in &crossed {
        probes.push(json!({"check": ID, "service": t.name, "address": addr.to_string(), "url": t.url("/"), "other_scheme": format!("{c:?}")}));
    }
    findings.extend(super::scheme::finding(t, &crossed, &t.root));
    // The path the browser's API calls take: through the dev server's proxy.
    let page = results.iter().find_map(|(addr, o)| match o {
        AddrOutcome::Answered { response, .. } if response.status < 500 => Some(*addr),
        _ => None,
    });
    if let Some(addr) = page {
        for p in &t.proxied {
            let (f, probe) = probe_proxied(t, addr, p, s.timeout);
            findings.extend(f);
            probes.push(probe);
        }
    }
    let findings = findings
        .into_iter()
        .map(|f| {
            f.evidence("port", t.port)
                .evidence("service", t.name.clone())
        })
        .collect();
    (findings, probes)
}

/// Ask the frontend for a proxied API path, as the browser's `fetch('/api/…')`
/// does. A 5xx there (vite 8 answers 502 when the target refuses; vite 5,
/// CRA and next 500)
/// is HEALTH006 with the proxy's target and file:line; the backend's own
/// finding, when there is one, explains it.
fn probe_proxied(
    t: &Target,
    addr: SocketAddr,
    p: &Proxied,
    timeout: Duration,
) -> (Option<Finding>, Value) {
    let started = Instant::now();
    let answer = net::send(
        addr,
        &t.host,
        t.scheme == "https",
        "GET",
        &p.path,
        &[("Accept", "application/json")],
        timeout,
    );
    let url = t.url(&p.path);
    let mut probe = json!({"check": ID, "service": t.name, "url": url, "through_proxy_to": p.target, "proxy_source": p.source, "total_ms": ms(started.elapsed())});
    let failed = match &answer {
        Ok(r) => {
            probe["status"] = json!(r.status);
            (500..600)
                .contains(&r.status)
                .then(|| format!("answers {}", r.status))
        }
        Err(net::Failure::NoAnswer { .. }) => {
            probe["result"] = json!("no answer through the proxy");
            Some(format!("sends no answer within {} ms", timeout.as_millis()))
        }
        Err(e) => {
            probe["result"] = json!(e.to_string());
            None
        }
    };
    let finding = failed.map(|what| {
        let mut f = Finding::new(
            "HEALTH006",
            ID,
            format!(
                "{} proxies {} to {} ({}), and that path {what}",
                t.name, p.path, p.target, p.source
            ),
        )
        .evidence("url", url.clone())
        .evidence(
            "proxy",
            json!({"path": p.path, "target": p.target, "source": p.source}),
        )
        .evidence("target_port", p.target_port);
        if let Ok(r) = &answer {
            f = f
                .evidence("status", r.status)
                .evidence("body", excerpt(&r.body));
        }
        f
    });
    (finding, probe)
}

/// The findings and probe records for one service, from what each of its
/// addresses did.
fn judge(
    t: &Target,
    s: &ProbeSettings,
    dns: Duration,
    addrs: &[SocketAddr],
    results: &[(SocketAddr, AddrOutcome)],
) -> (Vec<Finding>, Vec<Value>) {
    let mut findings = Vec::new();
    let mut probes = Vec::new();
    let mut answered = Vec::new();
    let mut refused = Vec::new();
    let mut hung = Vec::new();
    for (addr, outcome) in results {
        let mut probe =
            json!({"check": ID, "service": t.name, "address": addr.to_string(), "dns_ms": ms(dns)});
        match outcome {
            AddrOutcome::Answered {
                response,
                path,
                total,
            } => {
                probe["url"] = json!(t.url(path));
                probe["status"] = json!(response.status);
                probe["connect_ms"] = json!(ms(response.connect));
                probe["ttfb_ms"] = json!(ms(response.first_byte));
                probe["total_ms"] = json!(ms(*total + dns));
                probe["body"] = excerpt(&response.body);
                if let Some(tls) = &response.tls {
                    probe["tls"] = json!(tls);
                }
                answered.push((*addr, response, path.clone()));
            }
            AddrOutcome::Refused => {
                probe["result"] = json!("connection refused");
                refused.push(*addr);
            }
            AddrOutcome::Hung { connect } => {
                probe["result"] = json!(format!(
                    "connected, no HTTP answer within {} ms",
                    s.timeout.as_millis()
                ));
                hung.push(json!({"address": addr.to_string(), "connect_ms": ms(*connect), "waited_ms": s.timeout.as_millis() as u64}));
            }
            AddrOutcome::Garbled(why) => {
                probe["result"] = json!(why);
                hung.push(json!({"address": addr.to_string(), "answer": why}));
            }
        }
        probes.push(probe);
    }
    let url = t.url(t.configured.as_deref().unwrap_or("/"));
    let none_hung = hung.is_empty();
    if !hung.is_empty() {
        let garbled = hung.iter().any(|h| h.get("answer").is_some());
        let what = if garbled {
            "answers, but not with HTTP"
        } else {
            "accepts the connection but sends no HTTP answer"
        };
        let mut f = Finding::new(
            "HEALTH002",
            ID,
            format!(
                "{} ({url}) {what} within {} ms",
                t.name,
                s.timeout.as_millis()
            ),
        )
        .evidence("url", url.clone())
        .evidence("addresses", hung)
        .evidence("source", t.source.clone());
        if t.compiles_on_demand && !garbled && answered.is_empty() {
            // A stopped server is PROC001's; a running one compiles.
            f.title = format!(
                "{} ({url}) is still compiling its first page: no answer within {} ms",
                t.name,
                s.timeout.as_millis()
            );
            f = f.severity(crate::finding::Severity::Info).explain(
                "This dev server compiles each page on the first request for it, which takes seconds on a cold start: the connection is accepted and the answer comes once the compile is done. Ask again in a few seconds; a server that is stopped is reported as such (PROC001).",
            );
        }
        findings.push(f);
    }
    if answered.is_empty() && none_hung && !refused.is_empty() {
        findings.push(
            Finding::new(
                "HEALTH001",
                ID,
                format!(
                    "{} ({url}) refuses connections on {}",
                    t.name,
                    list(&refused)
                ),
            )
            .evidence("url", url.clone())
            .evidence(
                "refused",
                refused.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
            )
            .evidence("source", t.source.clone()),
        );
    }
    if !answered.is_empty() && !refused.is_empty() {
        let ok: Vec<SocketAddr> = answered.iter().map(|(a, _, _)| *a).collect();
        findings.push(
            Finding::new(
                "HEALTH005",
                ID,
                format!(
                    "{} resolves to {}; {} answer{}, {} refuse{}",
                    t.host,
                    list(addrs),
                    list(&ok),
                    if ok.len() == 1 { "s" } else { "" },
                    list(&refused),
                    if refused.len() == 1 { "s" } else { "" }
                ),
            )
            .evidence("host", t.host.clone())
            .evidence(
                "answering",
                ok.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
            )
            .evidence(
                "refused",
                refused.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
            )
            .evidence("source", t.source.clone())
            // Clients that resolve the name try the next address when one
            // refuses (browsers, curl, Python, Node 20+): the service is
            // reached. Said as PORT003 says the split it comes from: info.
            .severity(crate::finding::Severity::Info),
        );
    }
    // A configured health path's status counts whatever it is; a path
    // doctor found (a route of the code, `/`) counts when it is a server
    // error: a 404 there may be doctor's guess, a 500 is the server's.
    if let Some((addr, r, path)) = answered.iter().find(|(_, r, _)| {
        (t.configured.is_some() && !(200..300).contains(&r.status)) || r.status >= 500
    }) {
        let page = crate::frameworks::errorpage::exception(&r.body, &t.root);
        let said = page.as_ref().map_or(String::new(), |e| {
            let first = e.message.lines().next().unwrap_or_default();
            format!(
                ": {}{}{}",
                e.kind,
                if first.is_empty() {
                    String::new()
                } else {
                    format!(": {first}")
                },
                e.location
                    .as_ref()
                    .map_or(String::new(), |l| format!(" (at {l})"))
            )
        });
        let mut f = Finding::new(
            "HEALTH003",
            ID,
            format!("{} answers {} on {}{said}", t.name, r.status, t.url(path)),
        )
        .severity(if t.configured.is_some() {
            crate::finding::Severity::Error
        } else {
            crate::finding::Severity::Warning
        })
        .evidence("url", t.url(path))
        .evidence("address", addr.to_string())
        .evidence("status", r.status)
        .evidence("body", excerpt(&r.body))
        .evidence(
            "location",
            r.header("location").unwrap_or_default().to_string(),
        );
        if let Some(e) = page {
            let what = format!("{}: {}", e.kind, e.message);
            // A table the code queries is not there: the database was never
            // migrated (or was recreated empty). Django's own command makes
            // it (field gc fc P1 c9: `no such table: todo_taskordering`).
            let missing_table = e.message.contains("no such table")
                || (e.message.contains("relation \"") && e.message.contains("does not exist"));
            let django = e.page.starts_with("Django");
            let step = match &e.location {
                _ if missing_table && django => format!(
                    "the server's {} names {what}: apply the migrations (from the folder of manage.py: `python manage.py migrate`, with the project's venv)",
                    e.page
                ),
                Some(at) if e.kind.ends_with("Error") && e.kind != "OperationalError" => {
                    format!(
                        "correct the code at {at}: the server's {} names {what}",
                        e.page
                    )
                }
                Some(at) => format!("the server's {} names {what} at {at}", e.page),
                None => format!("the server's {} names {what}", e.page),
            };
            f = f
                .evidence(
                    "exception",
                    json!({"type": e.kind, "message": e.message, "location": e.location, "page": e.page}),
                )
                .with_fix(Fix::manual(
                    match &e.location {
                        _ if missing_table && django => {
                            "migrate the database: a table the code queries is not there".to_string()
                        }
                        Some(at) => format!("fix the {} at {at}", e.kind),
                        None => format!("fix what raises {}", e.kind),
                    },
                    vec![step],
                ));
        }
        findings.push(f);
    }
    if let Some((addr, r, path)) = answered.iter().find(|(_, r, _)| r.first_byte > s.slow) {
        let mut f = Finding::new(
            "HEALTH004",
            ID,
            format!(
                "{} took {} ms to answer {} (threshold {} ms)",
                t.name,
                ms(r.first_byte),
                t.url(path),
                s.slow.as_millis()
            ),
        )
        .evidence("address", addr.to_string())
        .evidence(
            "timings_ms",
            json!({"dns": ms(dns), "connect": ms(r.connect), "first_byte": ms(r.first_byte)}),
        );
        if !t.backend {
            // A dev server renders (next dev compiles) pages on request: a
            // slow page is how development mode is, not what refuses the API.
            f = f.severity(crate::finding::Severity::Info);
        }
        findings.push(f);
    }
    (findings, probes)
}

fn list(addrs: &[SocketAddr]) -> String {
    addrs
        .iter()
        .map(|a| a.ip().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        Target {
            name: "api".into(),
            scheme: "http".into(),
            host: "localhost".into(),
            port: 8000,
            configured: None,
            source: ".env:1".into(),
            routes: Vec::new(),
            called: None,
            backend: true,
            compiles_on_demand: false,
            proxied: Vec::new(),
            written_url: None,
            root: std::path::PathBuf::new(),
        }
    }

    fn answered(addr: SocketAddr, status: u16, ttfb_ms: u64) -> AddrOutcome {
        AddrOutcome::Answered {
            response: Response {
                addr,
                status,
                headers: vec![],
                body: "{\"status\": \"ok\"}".into(),
                connect: Duration::from_millis(1),
                first_byte: Duration::from_millis(ttfb_ms),
                tls: None,
            },
            path: "/health".into(),
            total: Duration::from_millis(ttfb_ms + 1),
        }
    }

    fn codes(results: &[(SocketAddr, AddrOutcome)], configured: bool) -> Vec<&'static str> {
        let mut t = target();
        t.configured = configured.then(|| "/health".into());
        let s = ProbeSettings {
            timeout: Duration::from_secs(2),
            slow: Duration::from_secs(1),
        };
        let addrs: Vec<SocketAddr> = results.iter().map(|(a, _)| *a).collect();
        judge(&t, &s, Duration::ZERO, &addrs, results)
            .0
            .iter()
            .map(|f| f.code)
            .collect()
    }

    /// localhost is ::1 and 127.0.0.1 (recorded from a machine whose resolver says both).
    #[test]
    fn split_localhost_is_health005() {
        let v4: SocketAddr = "127.0.0.1:8000".parse().unwrap();
        let v6: SocketAddr = "[::1]:8000".parse().unwrap();
        assert_eq!(
            codes(
                &[(v6, AddrOutcome::Refused), (v4, answered(v4, 200, 3))],
                false
            ),
            ["HEALTH005"]
        );
        assert_eq!(
            codes(
                &[(v6, AddrOutcome::Refused), (v4, AddrOutcome::Refused)],
                false
            ),
            ["HEALTH001"]
        );
        assert_eq!(
            codes(
                &[(
                    v4,
                    AddrOutcome::Hung {
                        connect: Duration::from_millis(1)
                    }
                )],
                false
            ),
            ["HEALTH002"]
        );
        assert_eq!(codes(&[(v4, answered(v4, 503, 3))], true), ["HEALTH003"]);
        // A guessed path's server error is said (a warning, not an error:
        // see HEALTH003's severity); its 404 is not.
        assert_eq!(codes(&[(v4, answered(v4, 503, 3))], false), ["HEALTH003"]);
        assert_eq!(
            codes(&[(v4, answered(v4, 404, 3))], false),
            Vec::<&str>::new(),
            "a guessed path's 404 is no finding"
        );
        assert_eq!(
            codes(&[(v4, answered(v4, 200, 1500))], false),
            ["HEALTH004"]
        );
    }
}
