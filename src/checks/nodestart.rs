//! NODE005: a Node backend that exits at start. Its entry's imports are
//! resolved as node resolves them, read with oxc, before node runs
//! (a package not installed, a relative file missing); where running the
//! project's code is allowed (not `--no-exec`) the entry is started once,
//! bounded, on a port the OS hands out, and its crash (the error and the
//! first frame in project code) is the evidence. nodemon alive with its
//! child crashed waits for a file change: said, with the cause.

use std::collections::{BTreeSet, VecDeque};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::engine::{Check, CheckError, Context};
use crate::finding::{Finding, Fix};
use crate::project::jsconfig::{module_requests, Request};
use crate::project::{read_bounded, Project, Service};
use crate::run;

pub struct NodeStart;

const ID: &str = "nodestart";
/// How long the started entry may run: a server that starts listens well
/// within it (and is ended as soon as it does).
const START_BOUND: Duration = Duration::from_secs(3);
/// Files of the project followed through relative imports from the entry.
const MAX_FILES: usize = 200;
const EXTENSIONS: &[&str] = &[
    ".js", ".mjs", ".cjs", ".json", ".node", ".ts", ".mts", ".cts",
];
const INDEXES: &[&str] = &[
    "index.js",
    "index.mjs",
    "index.cjs",
    "index.json",
    "index.ts",
];
/// Node's built-in modules (`fs`, `node:fs`, `fs/promises`).
const BUILTINS: &[&str] = &[
    "assert",
    "async_hooks",
    "buffer",
    "child_process",
    "cluster",
    "console",
    "constants",
    "crypto",
    "dgram",
    "diagnostics_channel",
    "dns",
    "domain",
    "events",
    "fs",
    "http",
    "http2",
    "https",
    "inspector",
    "module",
    "net",
    "os",
    "path",
    "perf_hooks",
    "process",
    "punycode",
    "querystring",
    "readline",
    "repl",
    "stream",
    "string_decoder",
    "sys",
    "timers",
    "tls",
    "trace_events",
    "tty",
    "url",
    "util",
    "v8",
    "vm",
    "wasi",
    "worker_threads",
    "zlib",
];

impl Check for NodeStart {
    fn id(&self) -> &'static str {
        ID
    }
    fn description(&self) -> &'static str {
        "a Node backend that is down: its entry's imports resolved, and its start-up run once, bounded"
    }
    fn codes(&self) -> &'static [&'static str] {
        &["NODE005"]
    }
    fn extra_time(&self, _config: &crate::config::Config) -> Duration {
        START_BOUND
    }
    fn run(&self, ctx: &Context) -> Result<Vec<Finding>, CheckError> {
        let mut out = Vec::new();
        let Ok(snapshot) = ctx.snapshot() else {
            return Ok(out);
        };
        let mut seen = BTreeSet::new();
        for s in &ctx.project.services {
            if s.kind.as_deref() != Some("express") || s.is_frontend() {
                continue;
            }
            // Up: whatever it imports, it started. Silent.
            if snapshot.has_listener(s.port) {
                continue;
            }
            let Some(folder) = s.run_folder().or(s.folder.as_ref()) else {
                continue;
            };
            let script = s.start.as_deref().and_then(|c| c.strip_prefix("npm run "));
            let Some(entry) = node_entry(folder, script) else {
                continue;
            };
            if !seen.insert(entry.file.clone()) {
                continue;
            }
            if let Some(f) = check_service(ctx, s, folder, &entry) {
                out.push(f);
            }
        }
        Ok(out)
    }
}

/// How the backend is started: the file its start script runs, the
/// options node gets before it (`-r dotenv/config`, `--env-file=.env`) and
/// the arguments after it (`--port 4000`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub file: PathBuf,
    pub node_args: Vec<String>,
    pub args: Vec<String>,
}

/// The entry of the script `preferred` names (the service's `npm run KEY`),
/// else of dev/start/serve (`node server.js`, `nodemon src/index.js`), else
/// package.json's `main`, else the usual names.
pub fn node_entry(dir: &Path, preferred: Option<&str>) -> Option<Entry> {
    let json: Value = read_bounded(&dir.join("package.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    let scripts = preferred
        .into_iter()
        .chain(["dev", "start", "serve"])
        .filter_map(|k| json["scripts"][k].as_str());
    let is_script = |w: &str| {
        !w.starts_with('-')
            && [".js", ".mjs", ".cjs", ".ts"]
                .iter()
                .any(|e| w.ends_with(e))
    };
    let from_scripts = scripts.filter_map(|cmd| {
        let all = crate::project::commands::words(cmd);
        // `node populateDBscript.js && node server.js`: what runs before an
        // `&&` exits first; the server is the last command that runs a
        // file (field gd fd P2 D: the setup script was taken for the entry).
        let words: Vec<String> = all
            .split(|w| matches!(w.as_str(), "&&" | ";"))
            .rfind(|seg| seg.iter().any(|w| is_script(w)))?
            .to_vec();
        let i = words.iter().position(|w| is_script(w))?;
        let file = dir.join(&words[i]);
        if !file.is_file() {
            return None;
        }
        // The program: the first word that is not an env assignment.
        let program = words[..i].iter().position(|w| !w.contains('='));
        let node_args = match program {
            Some(p)
                if Path::new(&words[p])
                    .file_stem()
                    .is_some_and(|n| n == "node") =>
            {
                node_options(&words[p + 1..i])
            }
            _ => Vec::new(),
        };
        let args = words[i + 1..]
            .iter()
            .take_while(|w| !matches!(w.as_str(), "&&" | "||" | ";" | "|" | "&"))
            .cloned()
            .collect();
        Some(Entry {
            file,
            node_args,
            args,
        })
    });
    from_scripts
        .chain(
            json["main"]
                .as_str()
                .map(String::from)
                .into_iter()
                .chain(
                    [
                        "server.js",
                        "index.js",
                        "app.js",
                        "src/server.js",
                        "src/index.js",
                        "src/app.js",
                    ]
                    .map(String::from),
                )
                .map(|name| dir.join(name))
                .filter(|p| p.is_file())
                .map(|file| Entry {
                    file,
                    node_args: Vec::new(),
                    args: Vec::new(),
                }),
        )
        .next()
}

/// node's options for one bounded start: no watcher (`--watch`: it would
/// wait for a change instead of exiting) and no inspector (its port may be
/// a debugger's).
fn node_options(options: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut skip = false;
    for o in options {
        if std::mem::take(&mut skip) {
            continue;
        }
        if o == "--watch-path" {
            skip = true;
        } else if !o.starts_with("--watch") && !o.starts_with("--inspect") {
            out.push(o.clone());
        }
    }
    out
}

/// The script's arguments with a port's value (`--port 4000`, `-p 4000`,
/// `--port=4000`) replaced by `port`.
fn with_port(args: &[String], port: u16) -> Vec<String> {
    let mut out = Vec::new();
    let mut next_is_port = false;
    for a in args {
        if next_is_port {
            out.push(port.to_string());
            next_is_port = false;
        } else if a == "--port" || a == "-p" {
            out.push(a.clone());
            next_is_port = true;
        } else if let Some(_old) = a.strip_prefix("--port=") {
            out.push(format!("--port={port}"));
        } else {
            out.push(a.clone());
        }
    }
    out
}

/// What keeps the entry from starting: the first import that does not
/// resolve, else (when allowed) its crash when started.
fn check_service(ctx: &Context, s: &Service, folder: &Path, start: &Entry) -> Option<Finding> {
    let project = &ctx.project;
    let entry = start.file.as_path();
    let watcher = watcher_of(ctx, folder, entry);
    let mut f = match unresolved(project, entry) {
        Some(miss) => static_finding(project, folder, entry, &miss),
        None if ctx.config.no_exec => {
            ctx.record_probe(json!({"check": ID, "service": s.name, "start": "skipped", "why": format!("--no-exec: starting {} would run the project's code", project.relative(entry))}));
            return None;
        }
        None => start_probe(ctx, s, folder, start)?,
    };
    f = f
        .evidence("service", s.name.clone())
        .evidence("port", s.port)
        .evidence("entry", project.relative(entry));
    if let Some((what, pid, command)) = watcher {
        f.title = format!(
            "{}; {what} (pid {pid}) is alive and waits for a file change",
            f.title
        );
        f = f.evidence("supervisor", json!({"name": what, "pid": pid, "command": command, "waits": "for a file change (its app crashed)"}));
        if let Some(fix) = &mut f.fix {
            fix.commands.push(if what == "nodemon" {
                format!("nodemon (pid {pid}) restarts the app when a file is saved, or type `rs` and Enter in its terminal")
            } else {
                format!("{what} (pid {pid}) restarts the app when a file is saved")
            });
        }
    } else if let (Some(fix), Some(start)) = (&mut f.fix, s.start_from_root()) {
        fix.commands
            .push(format!("then start it again: {}", start.join(" ; ")));
    }
    Some(f)
}

/// A watcher of the service's folder whose child is gone: nodemon, or
/// `node --watch`. Its name, pid and command.
fn watcher_of(ctx: &Context, folder: &Path, entry: &Path) -> Option<(&'static str, u32, String)> {
    let name = entry.file_name()?.to_string_lossy().to_string();
    ctx.all_processes().values().find_map(|p| {
        let command = p.command();
        let ours = p.cwd.as_ref().is_some_and(|c| c == folder)
            || (p
                .cwd
                .as_ref()
                .is_some_and(|c| c.starts_with(&ctx.project.root))
                && command.contains(&name));
        let what = if command.contains("nodemon") {
            "nodemon"
        } else if command.contains("node") && command.contains("--watch") && command.contains(&name)
        {
            "node --watch"
        } else {
            return None;
        };
        // Its app crashed: no child left (a child alive is still starting).
        let waiting = crate::platform::children_of(p.pid).is_empty();
        (ours && waiting).then_some((what, p.pid, command))
    })
}

/// An import that does not resolve: where, what, and the path tried.
struct Miss {
    from: PathBuf,
    request: Request,
    /// The package a bare specifier names.
    package: Option<String>,
    tried: Vec<PathBuf>,
}

/// The first import of the entry (or of a project file it loads through a
/// relative import) that node cannot resolve.
fn unresolved(project: &Project, entry: &Path) -> Option<Miss> {
    let mut queue = VecDeque::from([entry.to_path_buf()]);
    let mut seen = BTreeSet::from([entry.to_path_buf()]);
    // Yarn Plug'n'Play resolves without node_modules: not read here.
    let pnp = entry
        .ancestors()
        .any(|d| d.join(".pnp.cjs").is_file() || d.join(".pnp.js").is_file());
    while let Some(file) = queue.pop_front() {
        let Ok(text) = read_bounded(&file) else {
            continue;
        };
        let Some(requests) = module_requests(&text, &file.to_string_lossy()) else {
            continue;
        };
        let dir = file.parent().unwrap_or(entry);
        for r in requests {
            let spec = r.spec.as_str();
            if is_builtin(spec) || spec.starts_with('#') || spec.contains(':') {
                continue;
            }
            if spec.starts_with("./") || spec.starts_with("../") || spec == "." || spec == ".." {
                let base = dir.join(spec);
                match resolve_file(&base) {
                    Some(found) => {
                        let js = found.extension().is_some_and(|e| {
                            ["js", "mjs", "cjs", "ts", "mts", "cts"]
                                .contains(&e.to_string_lossy().as_ref())
                        });
                        if js
                            && found.starts_with(&project.root)
                            && !found.components().any(|c| c.as_os_str() == "node_modules")
                            && seen.len() < MAX_FILES
                            && seen.insert(found.clone())
                        {
                            queue.push_back(found);
                        }
                    }
                    None => {
                        return Some(Miss {
                            from: file.clone(),
                            request: r,
                            package: None,
                            tried: vec![base],
                        })
                    }
                }
                continue;
            }
            if spec.starts_with('/') || pnp {
                continue;
            }
            let package = package_name(spec);
            let dirs: Vec<PathBuf> = dir
                .ancestors()
                .map(|d| d.join("node_modules").join(&package))
                .collect();
            if !dirs.iter().any(|d| d.exists()) {
                let tried = dirs
                    .into_iter()
                    .filter(|d| d.starts_with(&project.root))
                    .collect();
                return Some(Miss {
                    from: file.clone(),
                    request: r,
                    package: Some(package),
                    tried,
                });
            }
        }
    }
    None
}

fn is_builtin(spec: &str) -> bool {
    if spec.starts_with("node:") {
        return true;
    }
    let first = spec.split('/').next().unwrap_or(spec);
    BUILTINS.contains(&first)
}

/// `express` → `express`; `@scope/pkg/sub` → `@scope/pkg`.
fn package_name(spec: &str) -> String {
    let mut parts = spec.split('/');
    let first = parts.next().unwrap_or(spec);
    match (first.starts_with('@'), parts.next()) {
        (true, Some(second)) => format!("{first}/{second}"),
        _ => first.to_string(),
    }
}

/// A relative import as node (or a TS loader) finds it: the file, with an
/// extension added, or a folder's package.json `main` or index. Lenient:
/// any of those counts as found.
pub(crate) fn resolve_file(base: &Path) -> Option<PathBuf> {
    if base.is_file() {
        return Some(base.to_path_buf());
    }
    let text = base.to_string_lossy();
    for ext in EXTENSIONS {
        let p = PathBuf::from(format!("{text}{ext}"));
        if p.is_file() {
            return Some(p);
        }
    }
    // `./x.js` written for a TS source `x.ts`.
    if let Some(stem) = text.strip_suffix(".js") {
        let p = PathBuf::from(format!("{stem}.ts"));
        if p.is_file() {
            return Some(p);
        }
    }
    if base.is_dir() {
        if let Some(main) = read_bounded(&base.join("package.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .and_then(|j| j["main"].as_str().map(String::from))
        {
            if let Some(p) = resolve_file(&base.join(main)).filter(|p| p.is_file()) {
                return Some(p);
            }
        }
        return INDEXES.iter().map(|i| base.join(i)).find(|p| p.is_file());
    }
    None
}

/// Whether the nearest package.json declares `name`, and where.
fn declared_in(project: &Project, from: &Path, name: &str) -> Option<(PathBuf, bool)> {
    let pkg = from
        .ancestors()
        .skip(1)
        .take_while(|d| d.starts_with(&project.root))
        .map(|d| d.join("package.json"))
        .find(|p| p.is_file())?;
    let json: Value = serde_json::from_str(&read_bounded(&pkg).ok()?).ok()?;
    let declared = [
        "dependencies",
        "devDependencies",
        "optionalDependencies",
        "peerDependencies",
    ]
    .iter()
    .any(|k| json[k].get(name).is_some());
    Some((pkg, declared))
}

fn static_finding(project: &Project, folder: &Path, entry: &Path, miss: &Miss) -> Finding {
    let at = format!("{}:{}", project.relative(&miss.from), miss.request.line);
    let spec = &miss.request.spec;
    let code = if miss.request.esm {
        "ERR_MODULE_NOT_FOUND"
    } else {
        "MODULE_NOT_FOUND"
    };
    let entry_shown = project.relative(entry);
    let tried: Vec<String> = miss.tried.iter().map(|p| project.relative(p)).collect();
    let mut f = match &miss.package {
        Some(package) => {
            let declared = declared_in(project, &miss.from, package);
            let is_declared = declared.as_ref().is_some_and(|(_, d)| *d);
            let shown = project.shown(folder).unwrap_or_default();
            let fix = if is_declared {
                Fix::manual(
                    format!("install the declared dependencies in {shown} ({package} is in package.json, not in node_modules)"),
                    crate::shell::in_folder(&shown, "npm install"),
                )
            } else {
                Fix::manual(
                    format!("install {package} and add it to package.json (it is not declared there), or remove the import at {at}"),
                    crate::shell::in_folder(&shown, &format!("npm install {package}")),
                )
            };
            Finding::new(
                "NODE005",
                ID,
                format!(
                    "node {entry_shown} exits at start: Cannot find module '{spec}' ({at}); {package} is not installed{}",
                    if is_declared { "" } else { " and package.json does not declare it" }
                ),
            )
            .evidence("package", package.clone())
            .evidence("declared", is_declared)
            .evidence(
                "package_json",
                declared.map(|(p, _)| project.relative(&p)).unwrap_or_default(),
            )
            .with_fix(fix)
        }
        None => Finding::new(
            "NODE005",
            ID,
            format!(
                "node {entry_shown} exits at start: Cannot find module '{spec}' ({at}); no file {}",
                tried.first().cloned().unwrap_or_default()
            ),
        )
        .with_fix(Fix::manual(
            format!("create the file {spec} names, or correct the path at {at}"),
            vec![format!("edit {at}")],
        )),
    };
    f = f
        .evidence(
            "error",
            json!({"code": code, "message": format!("Cannot find module '{spec}'")}),
        )
        .evidence("location", at)
        .evidence("specifier", spec.clone())
        .evidence("tried", tried)
        .evidence("how", "resolved from the files (node not run)");
    f
}

/// Start the entry once with the project's node, PORT set to a port the OS
/// hands out; a server that listens (there or on its own port) is ended at
/// once, as is one still running at the bound. A crash is the finding.
fn start_probe(ctx: &Context, s: &Service, folder: &Path, start: &Entry) -> Option<Finding> {
    let project = &ctx.project;
    let entry = start.file.as_path();
    let ext = entry.extension().map(|e| e.to_string_lossy().to_string());
    if matches!(ext.as_deref(), Some("ts" | "mts" | "cts")) {
        return None; // needs a loader (tsx, ts-node): its own start
    }
    let node = run::which("node")?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let began = Instant::now();
    let args = with_port(&start.args, port);
    let mut child = Command::new(&node)
        .args(&start.node_args)
        .arg(entry)
        .args(&args)
        .current_dir(folder)
        .env("PORT", port.to_string())
        .env("NODE_ENV", "development")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    let pid = child.id();
    let mut err = child.stderr.take();
    let reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(e) = err.as_mut() {
            let _ = e.take(64 * 1024).read_to_end(&mut bytes);
            let _ = std::io::copy(e, &mut std::io::sink());
        }
        String::from_utf8_lossy(&bytes).into_owned()
    });
    let listens = |p: u16| {
        ["127.0.0.1", "[::1]"].iter().any(|h| {
            format!("{h}:{p}")
                .parse()
                .ok()
                .and_then(|a| crate::net::connect(&a, Duration::from_millis(50)).ok())
                .is_some()
        })
    };
    let mut ended = None;
    let outcome = loop {
        let listened = listens(port) || listens(s.port);
        match child.try_wait() {
            Ok(Some(status)) => break Some(status.code()),
            Ok(None) if listened || began.elapsed() >= START_BOUND => {
                ended = Some(if listened {
                    "it listened: ended at once"
                } else {
                    "still running at the bound: ended"
                });
                end_tree(pid);
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(_) => {
                end_tree(pid);
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let stderr = reader.join().unwrap_or_default();
    ctx.record_probe(json!({"check": ID, "service": s.name, "start": project.relative(entry), "node_args": start.node_args, "args": args, "port": port, "ms": began.elapsed().as_millis() as u64, "exited": outcome.flatten(), "ended": ended}));
    let code = outcome?;
    if code == Some(0) {
        return None; // a script that ends cleanly is not a crash
    }
    crash_finding(project, entry, &stderr)
}

/// End `pid` and what it started, each by pid.
fn end_tree(pid: u32) {
    for child in crate::platform::children_of(pid) {
        end_tree(child);
    }
    let _ = crate::platform::send_signal(pid, crate::platform::Signal::Kill);
}

/// The error node printed and the first frame of project code in it.
fn crash_finding(project: &Project, entry: &Path, stderr: &str) -> Option<Finding> {
    let mut text = stderr.to_string();
    for value in &project.env_values {
        if !value.is_empty() && text.contains(value.as_str()) {
            text = text.replace(value.as_str(), crate::redact::MASK);
        }
    }
    let text = crate::redact::text(&text);
    // Paths as the report shows them: relative to the project.
    let root = format!("{}{}", project.root.display(), std::path::MAIN_SEPARATOR);
    let lines_raw: Vec<String> = text.lines().map(String::from).collect();
    let shown: Vec<String> = lines_raw
        .iter()
        .map(|l| l.replace(&format!("file://{root}"), "").replace(&root, ""))
        .collect();
    let lines: Vec<&str> = lines_raw.iter().map(String::as_str).collect();
    let error = lines.iter().find(|l| is_error_line(l)).map(|l| l.trim())?;
    let code = lines.iter().find_map(|l| {
        let l = l.trim();
        l.strip_prefix("code: '")
            .and_then(|c| c.split('\'').next())
            .map(String::from)
    });
    let project_file = |path: &str| -> Option<PathBuf> {
        let path = path.strip_prefix("file://").unwrap_or(path);
        let p = PathBuf::from(path);
        (p.starts_with(&project.root) && !p.components().any(|c| c.as_os_str() == "node_modules"))
            .then_some(p)
    };
    // `/path/file.js:4` heading a SyntaxError or a throw, else the first
    // `at … (/path/file.js:4:7)` frame in project code.
    let location = lines
        .iter()
        .take_while(|l| !is_error_line(l))
        .find_map(|l| {
            let (file, line) = l.trim().rsplit_once(':')?;
            let line: u64 = line.parse().ok()?;
            Some((project_file(file)?, line))
        })
        .or_else(|| {
            lines
                .iter()
                .filter(|l| l.trim_start().starts_with("at "))
                .find_map(|l| {
                    let frame = l.trim().trim_end_matches(')');
                    let frame = frame.rsplit_once('(').map_or(&frame[3..], |(_, f)| f);
                    let (rest, _col) = frame.rsplit_once(':')?;
                    let (file, line) = rest.rsplit_once(':')?;
                    Some((project_file(file)?, line.parse().ok()?))
                })
        })
        .or_else(|| imported_from(error, &project_file))
        .map(|(f, l)| format!("{}:{l}", project.relative(&f)));
    let error = error
        .replace(&format!("file://{root}"), "")
        .replace(&root, "");
    let message = super::shorten(&error, 200);
    let place = location
        .as_ref()
        .map(|l| format!(" at {l}"))
        .unwrap_or_default();
    let entry_shown = project.relative(entry);
    let fix_steps = match &location {
        Some(l) => vec![format!("fix {l}: {message}")],
        None => vec![format!("run `node {entry_shown}` and read its first error")],
    };
    let mut f = Finding::new(
        "NODE005",
        ID,
        format!("node {entry_shown} exits at start: {message}{place}"),
    )
    .evidence("error", json!({"code": code, "message": message}))
    .evidence(
        "how",
        "started once by doctor (PORT set to a free port), bounded",
    )
    .evidence(
        "output",
        shown
            .iter()
            .take(12)
            .map(|l| super::shorten(l, 200))
            .collect::<Vec<_>>(),
    )
    .with_fix(Fix::manual(
        "fix what node failed on at start-up",
        fix_steps,
    ));
    if let Some(l) = location {
        f = f.evidence("location", l);
    }
    Some(f)
}

/// ESM's `Cannot find module '/p/routes/items' imported from /p/server.js`:
/// the importing file and the line that names the missing module.
fn imported_from(
    error: &str,
    project_file: &dyn Fn(&str) -> Option<PathBuf>,
) -> Option<(PathBuf, u64)> {
    let (head, from) = error.split_once(" imported from ")?;
    let from = from.split_whitespace().next()?.trim_end_matches('.');
    let file = project_file(from)?;
    let missing = head.rsplit_once("module '")?.1.split('\'').next()?;
    let name = Path::new(missing)
        .file_name()?
        .to_string_lossy()
        .to_string();
    let text = read_bounded(&file).ok()?;
    let line = text
        .lines()
        .position(|l| (l.contains("import") || l.contains("export")) && l.contains(&name))?;
    Some((file, line as u64 + 1))
}

/// `Error: boom`, `TypeError: x`, `Error [ERR_MODULE_NOT_FOUND]: …`.
fn is_error_line(line: &str) -> bool {
    let Some((head, _)) = line.split_once(": ") else {
        return false;
    };
    let name = head.split(" [").next().unwrap_or(head);
    !line.starts_with(' ')
        && !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && (name.ends_with("Error") || name == "Uncaught")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_and_package_names() {
        assert!(is_builtin("fs"));
        assert!(is_builtin("node:fs"));
        assert!(is_builtin("fs/promises"));
        assert!(!is_builtin("express"));
        assert_eq!(package_name("@scope/pkg/sub"), "@scope/pkg");
        assert_eq!(package_name("lodash/fp"), "lodash");
    }

    #[test]
    fn start_time_requests_only() {
        let text = "const a = require('a')\nrequire('b').config()\napp.use(require('./c'))\nfunction f() { require('lazy') }\ntry { require('optional') } catch {}\nmodule.exports = require('d')\n";
        let specs: Vec<(String, usize)> = module_requests(text, "x.js")
            .unwrap()
            .into_iter()
            .map(|r| (r.spec, r.line))
            .collect();
        assert_eq!(
            specs,
            [("a", 1), ("b", 2), ("./c", 3), ("d", 6)].map(|(s, l)| (s.to_string(), l))
        );
        let esm = "import type { T } from 'types'\nimport x from 'x'\nexport * from './y.js'\n";
        let specs: Vec<String> = module_requests(esm, "x.ts")
            .unwrap()
            .into_iter()
            .map(|r| r.spec)
            .collect();
        assert_eq!(specs, ["x", "./y.js"]);
    }

    #[test]
    fn entry_from_the_start_script() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("package.json"),
            r#"{"scripts":{"dev":"nodemon server.js","start":"node -r dotenv/config server.js --port 4000 && echo done"}}"#,
        )
        .unwrap();
        std::fs::write(dir.path().join("server.js"), "").unwrap();
        let e = node_entry(dir.path(), Some("start")).unwrap();
        assert_eq!(e.file, dir.path().join("server.js"));
        assert_eq!(e.node_args, ["-r", "dotenv/config"]);
        assert_eq!(with_port(&e.args, 5000), ["--port", "5000"]);
        let e = node_entry(dir.path(), None).unwrap();
        assert!(e.node_args.is_empty() && e.args.is_empty());
        // A setup script before the server: the server is the entry.
        std::fs::write(
            dir.path().join("package.json"),
            r#"{"scripts":{"start":"node populate.js && node server.js"}}"#,
        )
        .unwrap();
        std::fs::write(dir.path().join("populate.js"), "").unwrap();
        let e = node_entry(dir.path(), Some("start")).unwrap();
        assert_eq!(e.file, dir.path().join("server.js"));
    }

    #[test]
    fn error_lines() {
        assert!(is_error_line("Error: Cannot find module 'x'"));
        assert!(is_error_line(
            "Error [ERR_MODULE_NOT_FOUND]: Cannot find module '/a/b.js' imported from /a/c.js"
        ));
        assert!(is_error_line("SyntaxError: Unexpected token '='"));
        assert!(!is_error_line("    at Object.<anonymous> (/a/b.js:1:1)"));
        assert!(!is_error_line("Node.js v20.1.0"));
    }
}
