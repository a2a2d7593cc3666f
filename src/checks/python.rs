//! PY001–PY005: can the Python backend start? Its interpreter, its declared
//! requirements, its entry module's import, its Python version, and the
//! interpreter the running server really uses.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

use super::describe_pid;
use crate::engine::{Check, CheckError, Context};
use crate::finding::{Finding, Fix, FixAction, Safety, Severity};
use crate::project::{read_bounded, Project, Service};
use crate::run::{self, RunError};

pub struct Python;

const ID: &str = "python";
const VENV_DIRS: &[&str] = &[".venv", "venv", "env", ".env"];
const REQUIREMENT_FILES: &[&str] = &[
    "requirements.txt",
    "requirements-dev.txt",
    "requirements/base.txt",
    "requirements/dev.txt",
];
/// Installed distributions and the version, in one interpreter call.
const INVENTORY: &str = r#"
import sys, json, importlib.metadata as m
names = set()
for d in m.distributions():
    n = d.metadata["Name"]
    if n:
        names.add(n)
print(json.dumps({"version": list(sys.version_info[:3]), "dists": sorted(names)}))
"#;
/// Import the entry module; report the exception and its frames.
const IMPORT: &str = r#"
import sys, os, json, traceback, importlib
for p in reversed(sys.argv[2:]):
    sys.path.insert(0, p)
try:
    if sys.argv[1].startswith("django-setup:"):
        # What `manage.py runserver` does first: the settings, then every
        # app of INSTALLED_APPS imported by django.setup().
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", sys.argv[1].split(":", 1)[1])
        import django
        django.setup()
        # Then its system checks import the URL conf, and with it every
        # view it routes to: an import error there stops runserver too.
        from django.conf import settings
        if getattr(settings, "ROOT_URLCONF", None):
            importlib.import_module(settings.ROOT_URLCONF)
    else:
        importlib.import_module(sys.argv[1])
    r = {"ok": True}
except BaseException as e:
    frames = [{"file": f.filename, "line": f.lineno} for f in traceback.extract_tb(e.__traceback__)]
    if isinstance(e, SyntaxError) and e.filename:
        frames.append({"file": e.filename, "line": e.lineno or 0})
    r = {"ok": False, "type": type(e).__name__, "message": str(e)[:8000], "frames": frames}
sys.stdout.write("\nDOCTOR-RESULT:" + json.dumps(r) + "\n")
sys.stdout.flush()
os._exit(0)
"#;

/// A start-up is not a probe: importing a FastAPI app takes 1.5–2.7 s on a
/// small machine, so the import gets its own, larger budget.
pub fn import_budget(probe_timeout: Duration) -> Duration {
    (probe_timeout * 4).max(Duration::from_secs(12))
}

impl Check for Python {
    fn id(&self) -> &'static str {
        ID
    }
    fn description(&self) -> &'static str {
        "the Python backend's interpreter, requirements, entry-module import and version"
    }
    fn codes(&self) -> &'static [&'static str] {
        &["PY001", "PY002", "PY003", "PY004", "PY005", "PY006"]
    }
    fn extra_time(&self, config: &crate::config::Config) -> Duration {
        import_budget(config.timeout).saturating_sub(config.timeout)
    }
    fn run(&self, ctx: &Context) -> Result<Vec<Finding>, CheckError> {
        // Each folder (each entry module) at once, in the same budget: three
        // backends down cost one import's time, not three.
        let folders = python_folders(&ctx.project);
        let found: Vec<Vec<Finding>> = std::thread::scope(|scope| {
            let handles: Vec<_> = folders
                .iter()
                .map(|(folder, service)| {
                    scope.spawn(move || {
                        let mut out = Vec::new();
                        check_folder(ctx, folder, *service, &mut out);
                        out
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_default())
                .collect()
        });
        Ok(found.into_iter().flatten().collect())
    }
}

/// Folders with a Python backend or Python requirements, each once.
fn python_folders(project: &Project) -> Vec<(PathBuf, Option<&Service>)> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for s in project.services.iter().filter(|s| s.is_python()) {
        if let Some(f) = &s.folder {
            if seen.insert(f.clone()) {
                out.push((f.clone(), Some(s)));
            }
        }
    }
    for f in &project.folders {
        let declares = REQUIREMENT_FILES
            .iter()
            .chain(&["pyproject.toml", "Pipfile"])
            .any(|n| f.join(n).is_file());
        if declares && seen.insert(f.clone()) {
            out.push((f.clone(), None));
        }
    }
    out
}

pub struct Interpreter {
    pub path: PathBuf,
    /// Where it was found: `backend/.venv`, `$VIRTUAL_ENV`, `PATH`.
    pub found_in: String,
    pub venv: Option<PathBuf>,
}

fn venv_python(venv: &Path) -> Option<PathBuf> {
    let p = if cfg!(windows) {
        venv.join("Scripts/python.exe")
    } else {
        venv.join("bin/python")
    };
    run::is_executable(&p).then_some(p)
}

/// The project's interpreter: a virtual environment in the service folder or
/// the root, `$VIRTUAL_ENV`, Poetry's or pipenv's environment, else PATH.
pub fn find_interpreter(project: &Project, folder: &Path, limit: Duration) -> Option<Interpreter> {
    for dir in [folder, project.root.as_path()] {
        for name in VENV_DIRS {
            let venv = dir.join(name);
            if let Some(path) = venv_python(&venv) {
                return Some(Interpreter {
                    path,
                    found_in: project.relative(&venv),
                    venv: Some(venv),
                });
            }
        }
    }
    if let Some(venv) = std::env::var_os("VIRTUAL_ENV").map(PathBuf::from) {
        if let Some(path) = venv_python(&venv) {
            return Some(Interpreter {
                path,
                found_in: "$VIRTUAL_ENV".into(),
                venv: Some(venv),
            });
        }
    }
    for (marker, tool, args) in [
        ("poetry.lock", "poetry", &["env", "info", "-p"][..]),
        ("Pipfile", "pipenv", &["--venv"][..]),
    ] {
        if folder.join(marker).is_file() {
            if let Some(exe) = run::which(tool) {
                if let Ok(ran) =
                    run::bounded(Command::new(exe).args(args).current_dir(folder), limit)
                {
                    let venv = PathBuf::from(ran.stdout.trim());
                    if let Some(path) = venv_python(&venv) {
                        return Some(Interpreter {
                            path,
                            found_in: format!("{tool}'s environment"),
                            venv: Some(venv),
                        });
                    }
                }
            }
        }
    }
    crate::shell::python_names()
        .iter()
        .find_map(|n| run::which(n))
        .map(|path| Interpreter {
            path,
            found_in: "PATH (no virtual environment)".into(),
            venv: None,
        })
}

/// The installed distributions and the Python version of a virtual
/// environment, read from its files: `pyvenv.cfg`'s version and the
/// `*.dist-info` / `*.egg-info` folders of its site-packages (the names
/// `importlib.metadata` reads too). `None` when the layout is not there.
fn venv_inventory(venv: &Path) -> Option<Value> {
    let cfg = read_bounded(&venv.join("pyvenv.cfg")).ok()?;
    let version: Vec<u64> = cfg
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once('=')?;
            matches!(k.trim(), "version" | "version_info").then(|| v.trim().to_string())
        })?
        .split('.')
        .take(3)
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let site_dirs: Vec<PathBuf> = if cfg!(windows) {
        vec![venv.join("Lib").join("site-packages")]
    } else {
        std::fs::read_dir(venv.join("lib"))
            .ok()?
            .flatten()
            .map(|e| e.path().join("site-packages"))
            .collect()
    };
    let mut dists = BTreeSet::new();
    for dir in site_dirs {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(stem) = name
                .strip_suffix(".dist-info")
                .or_else(|| name.strip_suffix(".egg-info"))
            else {
                continue;
            };
            // `{name}-{version}`: the name has no `-` of its own there.
            let dist = stem.split_once('-').map_or(stem, |(n, _)| n);
            dists.insert(dist.to_string());
        }
    }
    if dists.is_empty() {
        return None;
    }
    Some(json!({"version": version, "dists": dists}))
}

/// `Flask_Login` → `flask-login` (PEP 503).
pub fn normalize(name: &str) -> String {
    let mut out = String::new();
    for c in name.trim().chars() {
        let c = if matches!(c, '_' | '.') {
            '-'
        } else {
            c.to_ascii_lowercase()
        };
        if !(c == '-' && out.ends_with('-')) {
            out.push(c);
        }
    }
    out
}

/// A requirement line's distribution name: `fastapi[all]>=0.100 ; python_version>"3"` → `fastapi`.
fn requirement_name(line: &str) -> Option<String> {
    let line = line.split('#').next()?.trim();
    if line.is_empty() || line.starts_with('-') || line.contains("://") && !line.contains(" @ ") {
        return None;
    }
    let end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || "-_.".contains(c)))
        .unwrap_or(line.len());
    let name = &line[..end];
    (!name.is_empty()).then(|| normalize(name))
}

/// Declared requirements with the file:line of each.
fn declared(project: &Project, folder: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for file in REQUIREMENT_FILES {
        let path = folder.join(file);
        let Ok(text) = read_bounded(&path) else {
            continue;
        };
        let rel = project.relative(&path);
        for (i, line) in text.lines().enumerate() {
            if let Some(name) = requirement_name(line) {
                out.entry(name).or_insert(format!("{rel}:{}", i + 1));
            }
        }
    }
    let path = folder.join("pyproject.toml");
    if let Ok(text) = read_bounded(&path) {
        let rel = project.relative(&path);
        if let Ok(doc) = text.parse::<toml::Table>() {
            let deps = doc
                .get("project")
                .and_then(|p| p.get("dependencies"))
                .and_then(|d| d.as_array());
            for dep in deps.into_iter().flatten().filter_map(|d| d.as_str()) {
                if let Some(name) = requirement_name(dep) {
                    let line = text
                        .lines()
                        .position(|l| l.contains(dep))
                        .map_or(1, |i| i + 1);
                    out.entry(name).or_insert(format!("{rel}:{line}"));
                }
            }
            let poetry = doc
                .get("tool")
                .and_then(|t| t.get("poetry"))
                .and_then(|p| p.get("dependencies"))
                .and_then(|d| d.as_table());
            for name in poetry
                .into_iter()
                .flat_map(|t| t.keys())
                .filter(|k| *k != "python")
            {
                let line = text
                    .lines()
                    .position(|l| l.trim_start().starts_with(name.as_str()))
                    .map_or(1, |i| i + 1);
                out.entry(normalize(name))
                    .or_insert(format!("{rel}:{line}"));
            }
        }
    }
    out
}

fn requires_python(project: &Project, folder: &Path) -> Option<(String, String)> {
    let path = folder.join("pyproject.toml");
    let text = read_bounded(&path).ok()?;
    let doc = text.parse::<toml::Table>().ok()?;
    let spec = doc
        .get("project")?
        .get("requires-python")?
        .as_str()?
        .to_string();
    let line = text
        .lines()
        .position(|l| l.contains("requires-python"))
        .map_or(1, |i| i + 1);
    Some((spec, format!("{}:{line}", project.relative(&path))))
}

/// PEP 440 specifiers for a plain `X.Y.Z` version: `>=3.10,<4`, `~=3.11`, `==3.11.*`.
pub fn satisfies(version: [u64; 3], spec: &str) -> Option<bool> {
    let parse = |v: &str| -> Option<Vec<u64>> {
        v.trim()
            .trim_end_matches(".*")
            .split('.')
            .map(|p| p.parse().ok())
            .collect()
    };
    let cmp = |a: &[u64], b: &[u64]| {
        let n = a.len().max(b.len());
        let get = |v: &[u64], i: usize| v.get(i).copied().unwrap_or(0);
        (0..n)
            .map(|i| get(a, i).cmp(&get(b, i)))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    };
    let have = version.to_vec();
    for clause in spec.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        let op_len = clause.find(|c: char| c.is_ascii_digit()).unwrap_or(0);
        let (op, v) = clause.split_at(op_len);
        let want = parse(v)?;
        let ord = cmp(&have, &want);
        let ok = match op.trim() {
            ">=" => ord.is_ge(),
            ">" => ord.is_gt(),
            "<=" => ord.is_le(),
            "<" => ord.is_lt(),
            "!=" => ord.is_ne(),
            "==" if v.trim().ends_with(".*") => have.starts_with(&want),
            "==" | "===" => ord.is_eq(),
            "~=" => {
                let prefix = &want[..want.len().saturating_sub(1).max(1)];
                ord.is_ge() && have.starts_with(prefix)
            }
            _ => return None,
        };
        if !ok {
            return Some(false);
        }
    }
    Some(true)
}

fn check_folder(ctx: &Context, folder: &Path, service: Option<&Service>, out: &mut Vec<Finding>) {
    let project = &ctx.project;
    let shown = project.shown(folder).unwrap_or_default();
    let limit = ctx.config.timeout;
    let Some(interp) = find_interpreter(project, folder, limit) else {
        out.push(
            Finding::new(
                "PY001",
                ID,
                format!(
                    "no Python interpreter for {shown}: no virtual environment and no {} on PATH",
                    crate::shell::python_names()[0]
                ),
            )
            .evidence("folder", shown.clone())
            .evidence(
                "looked_in",
                VENV_DIRS
                    .iter()
                    .map(|d| format!("{shown}/{d}"))
                    .chain(["$VIRTUAL_ENV".into(), "PATH".into()])
                    .collect::<Vec<_>>(),
            )
            .with_fix(Fix::manual(
                "create the environment",
                new_venv_steps(&shown, "-m pip install -r requirements.txt"),
            )),
        );
        return;
    };
    let interp_shown = crate::redact::home(&interp.path);
    let before = out.len();
    // A server that is up, answers, and is newer than its sources already
    // proves its module imports: no project code is run for it.
    let serving = service.and_then(|s| serving_evidence(ctx, s));
    if let (Some(s), Some(evidence)) = (service, &serving) {
        ctx.record_probe(
            json!({"check": ID, "service": s.name, "import": "skipped", "why": evidence}),
        );
    }
    // The port's holder is the project's server and it is stopped: its
    // state explains the failure (PROC001); importing says nothing more.
    let stopped = service.and_then(|s| stopped_holder(ctx, s));
    if let (Some(s), Some(pid)) = (service, stopped) {
        ctx.record_probe(json!({"check": ID, "service": s.name, "import": "skipped", "why": format!("pid {pid} holds port {} and is stopped: its state explains the failure", s.port)}));
    }
    let serving = serving.or(stopped.map(|pid| format!("pid {pid} is stopped")));
    // `--no-exec`: importing runs the project's top-level code; not done.
    if let (Some(s), true, None) = (service, ctx.config.no_exec, &serving) {
        if let Some(module) = &s.entry {
            ctx.record_probe(json!({"check": ID, "service": s.name, "import": "skipped", "why": format!("--no-exec: importing {module} would run the project's code")}));
        }
    }
    // The inventory and the import run at the same time.
    let entry = service
        .filter(|_| serving.is_none() && !ctx.config.no_exec)
        .and_then(|s| s.entry.clone().or_else(|| django_setup_probe(s)));
    let import_from = service
        .and_then(|s| s.run_folder().cloned())
        .unwrap_or_else(|| folder.to_path_buf());
    let budget = import_budget(limit);
    // The project's server on the port runs with an environment of its own
    // (a shell that exported the settings' keys): the import runs with it,
    // or it fails on a key the server has and doctor's shell does not.
    let server_env = service.and_then(|s| running_server_environment(ctx, s));
    let import = entry.clone().map(|module| {
        let mut cmd = Command::new(&interp.path);
        cmd.arg("-c").arg(IMPORT).arg(&module).arg(&import_from);
        if import_from.join("src").is_dir() {
            cmd.arg(import_from.join("src"));
        }
        for (key, value) in server_env.iter().flatten() {
            // Not its reloader's markers: the import is no worker of it.
            if !RELOADER_MARKERS
                .iter()
                .any(|m| key == std::ffi::OsStr::new(m))
            {
                cmd.env(key, value);
            }
        }
        cmd.current_dir(&import_from)
            .env("PYTHONDONTWRITEBYTECODE", "1");
        std::thread::spawn(move || {
            let began = std::time::Instant::now();
            (run::bounded(&mut cmd, budget), began.elapsed())
        })
    });
    // A virtual environment says what it holds in its files; only an
    // interpreter without one is asked (a process start costs ~100 ms).
    let facts: Option<Value> = interp.venv.as_deref().and_then(venv_inventory).or_else(|| {
        run::bounded(
            Command::new(&interp.path)
                .arg("-c")
                .arg(INVENTORY)
                .current_dir(folder),
            limit,
        )
        .ok()
        .and_then(|r| serde_json::from_str(r.stdout.trim()).ok())
    });
    if let Some(facts) = &facts {
        missing_requirements(project, folder, &interp, facts, out);
        version_mismatch(project, folder, &interp, facts, out);
    }
    if let (Some(handle), Some(module)) = (import, entry) {
        let import_shown = project.shown(&import_from).unwrap_or_default();
        show_progress(ctx, &handle, &module, &import_shown);
        match handle.join() {
            Ok((Ok(ran), took)) => {
                ctx.record_probe(json!({"check": ID, "import": module, "from": import_shown, "ms": took.as_millis() as u64}));
                import_failure(
                    project,
                    &import_from,
                    (&interp_shown, made_by_uv(&interp.path)),
                    &module,
                    &ran.stdout,
                    out,
                )
            }
            Ok((Err(RunError::TimedOut(d)), _)) => out.push(
                Finding::new("PY003", ID, format!("importing {module} (from {import_shown}) did not finish within {} s: the server would hang at start-up", d.as_secs()))
                    .explain("The entry module's import did not finish within its budget (four times --timeout, at least 12 s): something at import time blocks (a database connection, a large model loading, a network call). doctor ended it. Run with a larger --timeout to tell slow from hung.")
                    .evidence("module", module)
                    .evidence("imported_from", import_shown)
                    .evidence("interpreter", interp_shown.clone())
                    .evidence("budget_ms", d.as_millis() as u64),
            ),
            _ => {}
        }
    }
    if let Some(s) = service {
        out.extend(flask_cannot_locate_app(ctx, s));
    }
    // The service a finding of this folder is about: correlation links a
    // PORT001 of that service to the import failure that explains it.
    if let Some(s) = service {
        for f in &mut out[before..] {
            f.evidence.insert("service".into(), s.name.clone().into());
            // And its port: what the process checks see there (a reloader
            // with no worker, a full queue) is explained by the import.
            f.evidence.entry("port").or_insert(s.port.into());
        }
    }
    if let (Some(service), Some(venv)) = (service, &interp.venv) {
        other_interpreter(ctx, service, venv, &interp_shown, out);
    }
}

/// For a Django service: `django-setup:SETTINGS`, the settings module its
/// manage.py names (`os.environ.setdefault("DJANGO_SETTINGS_MODULE", …)`).
fn django_setup_probe(service: &Service) -> Option<String> {
    if service.kind.as_deref() != Some("django") {
        return None;
    }
    let text = read_bounded(&service.run_folder()?.join("manage.py")).ok()?;
    let line = text
        .lines()
        .find(|l| l.contains("DJANGO_SETTINGS_MODULE"))?;
    let settings = line
        .split(['"', '\''])
        .filter(|w| !w.is_empty() && *w != "DJANGO_SETTINGS_MODULE")
        .find(|w| {
            w.chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '.')
                && w.contains('.')
        })?;
    Some(format!("django-setup:{settings}"))
}

/// A heavy import (a model library: seconds at start-up) is shown while it
/// runs, on a terminal only: one stderr line with what doctor waits for and
/// the time so far, rewritten in place, cleared when done. Never on --json
/// or a pipe.
fn show_progress<T>(ctx: &Context, handle: &std::thread::JoinHandle<T>, module: &str, from: &str) {
    use std::io::{IsTerminal, Write};
    let live = std::io::stderr().is_terminal() && ctx.config.format != crate::config::Format::Json;
    let began = std::time::Instant::now();
    let mut shown = false;
    while !handle.is_finished() {
        std::thread::sleep(Duration::from_millis(100));
        if live && began.elapsed() >= Duration::from_secs(1) {
            let shown_module = module.strip_prefix("django-setup:").unwrap_or(module);
            eprint!(
                "\r\x1b[2Kdoctor: importing {shown_module} (from {from}) to see why it does not start: {:.1} s",
                began.elapsed().as_secs_f64()
            );
            let _ = std::io::stderr().flush();
            shown = true;
        }
    }
    if shown {
        eprint!("\r\x1b[2K");
        let _ = std::io::stderr().flush();
    }
}

/// The pid of a stopped process of the project holding the service's port.
fn stopped_holder(ctx: &Context, service: &Service) -> Option<u32> {
    let snapshot = ctx.snapshot().ok()?;
    snapshot
        .listener_pids(service.port)
        .into_iter()
        .find(|pid| {
            snapshot.process(*pid).is_some_and(|p| {
                p.state == crate::platform::ProcState::Stopped
                    && p.cwd
                        .as_ref()
                        .is_some_and(|c| c.starts_with(&ctx.project.root))
            })
        })
}

/// PY006: `flask run` with nothing to find the app by. Flask looks for
/// `--app`, then `FLASK_APP` (the environment, `.flaskenv`, `.env`), then
/// `app.py` or `wsgi.py` in the folder it runs in; with none of them it
/// stops with "Could not locate a Flask application". Said only when nothing
/// listens on the port: a running server proves it found its app (the
/// user's shell may export FLASK_APP).
fn flask_cannot_locate_app(ctx: &Context, service: &Service) -> Option<Finding> {
    if service.kind.as_deref() != Some("flask") {
        return None;
    }
    let start = service.start.as_deref()?;
    let words = crate::project::commands::words(start);
    let runs_flask = words.iter().any(|w| w == "flask") && words.iter().any(|w| w == "run");
    if !runs_flask
        || words
            .iter()
            .any(|w| w == "--app" || w.starts_with("--app=") || w == "-A")
    {
        return None;
    }
    if ctx.snapshot().ok()?.has_listener(service.port) {
        return None;
    }
    let folder = service.start_folder(&ctx.project.root);
    let names_app = [".flaskenv", ".env"].iter().any(|f| {
        read_bounded(&folder.join(f)).is_ok_and(|t| {
            t.lines()
                .any(|l| crate::project::parse_env_line(l).is_some_and(|(k, _)| k == "FLASK_APP"))
        })
    });
    if names_app
        || words.iter().any(|w| w.starts_with("FLASK_APP="))
        || crate::frameworks::flask::default_app_module(&folder).is_some()
    {
        return None;
    }
    // The module that makes the app, to name in the fix.
    let maker = ctx
        .project
        .code
        .under(&folder)
        .filter(|(p, _)| p.extension().is_some_and(|e| e == "py"))
        .find_map(|(p, text)| {
            let factory = text.contains("def create_app");
            (text.contains("Flask(__name__)") || factory).then(|| {
                let rel = p.strip_prefix(&folder).unwrap_or(p).with_extension("");
                let module = rel.display().to_string().replace(['/', '\\'], ".");
                if factory {
                    format!("{module}:create_app")
                } else {
                    module
                }
            })
        });
    let shown = ctx.project.shown(&folder).unwrap_or_default();
    let app = maker.clone().unwrap_or_else(|| "MODULE:app".into());
    let mut f = Finding::new(
        "PY006",
        ID,
        format!(
            "`{start}` in {shown} cannot locate the Flask app: no --app, no FLASK_APP in .flaskenv or .env, no app.py or wsgi.py there"
        ),
    )
    .evidence("port", service.port)
    .evidence("folder", shown.clone())
    .with_fix(Fix::manual(
        format!("tell flask where the app is ({app})"),
        vec![
            format!("echo 'FLASK_APP={app}' >> {}", if shown == "." { ".flaskenv".to_string() } else { format!("{shown}/.flaskenv") }),
            format!("or start it with: flask --app {app} run"),
        ],
    ));
    if let Some(m) = maker {
        f = f.evidence("app_module", m);
    }
    Some(f)
}

/// Variables a reloader sets for its worker, or a server for itself: the
/// import probe is neither, and must not act as one.
const RELOADER_MARKERS: &[&str] = &["RUN_MAIN", "WERKZEUG_RUN_MAIN", "WERKZEUG_SERVER_FD"];

/// The environment of the project's process listening on the service's
/// port (the youngest, when several), when the OS lets doctor read it.
fn running_server_environment(
    ctx: &Context,
    service: &Service,
) -> Option<Vec<(std::ffi::OsString, std::ffi::OsString)>> {
    let snapshot = ctx.snapshot().ok()?;
    let root = &ctx.project.root;
    let holder = super::project_server(snapshot, root, service.port)
        .or_else(|| started_for(ctx, service))?;
    crate::platform::environment_of(holder.pid)
}

/// The project's process started to serve `service` when nothing of the
/// project listens on its port: a reloader whose worker died at import
/// (uvicorn's binds the socket but only its worker listens). Its command
/// names the port, or names none and the framework's default is the
/// service's, or imports the service's module; the newest such, run from
/// the project.
fn started_for<'a>(
    ctx: &'a Context,
    service: &Service,
) -> Option<&'a crate::platform::ProcessInfo> {
    let root = &ctx.project.root;
    ctx.all_processes()
        .values()
        .filter(|p| p.cwd.as_ref().is_some_and(|c| c.starts_with(root)))
        .filter(|p| {
            let Some(c) = crate::project::commands::parse(&p.command()) else {
                return false;
            };
            if c.kind != "fastapi" && c.kind != "flask" && c.kind != "django" && c.kind != "python"
            {
                return false;
            }
            match c.port {
                Some(port) => port == service.port,
                None => {
                    crate::frameworks::default_port(c.kind) == Some(service.port)
                        || (c.entry.is_some() && c.entry == service.entry)
                }
            }
        })
        .max_by_key(|p| p.start_time)
}

/// Why the running server proves that its module imports: a project
/// process listens on the service's port, started after the newest change
/// to its sources, and answers HTTP (any status below 500) within the probe
/// timeout. `None` when any of that does not hold.
fn serving_evidence(ctx: &Context, service: &Service) -> Option<String> {
    let snapshot = ctx.snapshot().ok()?;
    let pids = snapshot.listener_pids(service.port);
    let root = &ctx.project.root;
    let holders: Vec<_> = pids.iter().filter_map(|p| snapshot.process(*p)).collect();
    if holders.is_empty()
        || holders.len() != pids.len()
        || !holders
            .iter()
            .all(|p| p.cwd.as_ref().is_some_and(|c| c.starts_with(root)))
    {
        return None;
    }
    let youngest = holders.iter().map(|p| p.start_time).max()?;
    let folder = service.run_folder()?;
    if let Some((_, mtime)) = ctx.newest_source(service.folder.as_ref().unwrap_or(folder)) {
        if mtime > youngest + 1 {
            return None;
        }
    }
    let path = service
        .health
        .clone()
        .or_else(|| service.routes.first().cloned())
        .unwrap_or_else(|| "/".into());
    let host = if service.host.contains(':') {
        format!("[{}]", service.host)
    } else {
        service.host.clone()
    };
    let url = format!("http://{host}:{}{path}", service.port);
    let answer = crate::net::get(&url, ctx.config.timeout).ok()?;
    (answer.status < 500).then(|| {
        format!(
            "pid {} serves port {} (newer than its sources) and answered {url} with {}",
            holders[0].pid, service.port, answer.status
        )
    })
}

fn missing_requirements(
    project: &Project,
    folder: &Path,
    interp: &Interpreter,
    facts: &Value,
    out: &mut Vec<Finding>,
) {
    let installed: BTreeSet<String> = facts["dists"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d.as_str())
        .map(normalize)
        .collect();
    // A distribution whose module another installed one provides (the
    // `bs4==0.0.1` shim, when beautifulsoup4 is there): the import works,
    // nothing is missing for the app (field gd fd P3: bs4 in requirements).
    let sites: Vec<PathBuf> = interp
        .venv
        .as_deref()
        .and_then(|v| std::fs::read_dir(v.join("lib")).ok())
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("site-packages"))
        .chain(
            interp
                .venv
                .as_deref()
                .map(|v| v.join("Lib").join("site-packages")),
        )
        .filter(|p| p.is_dir())
        .collect();
    let provided = |name: &str| {
        crate::project::code::modules_of_distribution(name)
            .iter()
            .any(|m| {
                sites.iter().any(|site| {
                    site.join(m).join("__init__.py").is_file()
                        || site.join(format!("{m}.py")).is_file()
                })
            })
    };
    let missing: Vec<(String, String)> = declared(project, folder)
        .into_iter()
        .filter(|(name, _)| !installed.contains(name) && !provided(name))
        .collect();
    if missing.is_empty() {
        return;
    }
    // A requirement is needed by the dev stack when the app's code imports
    // it or a start command of a service in this folder runs it; one that
    // only a deploy file uses (gunicorn in a Dockerfile's CMD) is context.
    let imports = project.code.python_imports(folder);
    let knows_code = !imports.is_empty();
    let starts: Vec<String> = project
        .services
        .iter()
        .filter(|s| {
            s.folder.as_deref() == Some(folder)
                || s.run_folder().map(|f| f.as_path()) == Some(folder)
        })
        .filter_map(|s| s.start.clone())
        .collect();
    // A module named as a string is loaded by name: Django's INSTALLED_APPS
    // (`"rest_framework"`), `importlib.import_module("x")`, Celery's apps.
    let named = |m: &str| {
        project.code.under(folder).any(|(p, text)| {
            p.extension().is_some_and(|e| e == "py")
                && [
                    format!("\"{m}\""),
                    format!("'{m}'"),
                    format!("\"{m}."),
                    format!("'{m}."),
                ]
                .iter()
                .any(|q| text.contains(q.as_str()))
        })
    };
    let needed = |name: &str| {
        !knows_code
            || crate::project::code::modules_of_distribution(name)
                .iter()
                .any(|m| imports.iter().any(|i| i.eq_ignore_ascii_case(m)) || named(m))
            || starts.iter().any(|s| {
                crate::project::commands::words(s)
                    .iter()
                    .any(|w| normalize(w) == name)
            })
    };
    let (wanted, unused): (Vec<_>, Vec<_>) = missing.iter().partition(|(n, _)| needed(n));
    let shown: Vec<&(String, String)> = if wanted.is_empty() {
        unused.clone()
    } else {
        wanted.clone()
    };
    let names: Vec<&str> = shown.iter().map(|(n, _)| n.as_str()).collect();
    let req = REQUIREMENT_FILES
        .iter()
        .map(|f| folder.join(f))
        .find(|p| p.is_file());
    let all_missing = installed.is_empty()
        || declared(project, folder)
            .keys()
            .all(|n| !installed.contains(n));
    // Only the missing distributions, as declared (`fastapi==0.115`): a whole
    // requirements file would re-pin a working environment. A fresh
    // environment with nothing installed takes the file.
    let (what, args) = match &req {
        Some(req) if all_missing => (
            "the requirements".to_string(),
            vec![
                "-r".to_string(),
                req.strip_prefix(folder)
                    .unwrap_or(req)
                    .display()
                    .to_string(),
            ],
        ),
        None if all_missing => (
            "the project".to_string(),
            vec!["-e".to_string(), ".".to_string()],
        ),
        _ => (
            names.join(", "),
            shown
                .iter()
                .map(|(n, at)| declared_spec(project, at).unwrap_or_else(|| n.clone()))
                .map(|spec| crate::shell::quote_arg(&spec))
                .collect(),
        ),
    };
    let mut fix = pip_install_fix(project, interp, &what, &args, folder);
    let mut f = Finding::new(
        "PY002",
        ID,
        if wanted.is_empty() {
            format!(
                "declared but not installed in {}, and imported nowhere in the app's code: {}",
                interp.found_in,
                super::shorten(&names.join(", "), 80)
            )
        } else {
            format!(
                "{} declared but not installed in {}: {}",
                if wanted.len() == 1 {
                    "1 requirement"
                } else {
                    "requirements"
                },
                interp.found_in,
                super::shorten(&names.join(", "), 80)
            )
        },
    )
    .evidence("interpreter", crate::redact::home(&interp.path))
    .evidence(
        "missing",
        shown
            .iter()
            .map(|(n, at)| json!({"name": n, "declared_at": at}))
            .collect::<Vec<_>>(),
    );
    if !wanted.is_empty() && !unused.is_empty() {
        f = f.evidence(
            "not_imported",
            unused.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        );
    }
    if wanted.is_empty() {
        // Deploy-only (a Dockerfile's server, an optional extra): the dev
        // stack runs without it. Installing stays one confirmed step away.
        fix.safety = Safety::Confirm;
        f = f.severity(Severity::Info).explain(
            "These requirements are declared but not installed, and no module of the app imports them and no start command of the dev stack runs them: they are likely used only by a deploy file (a Dockerfile's CMD, a Procfile) or an optional feature. The dev server runs without them; install them if a feature needs them.",
        );
    }
    out.push(f.with_fix(fix));
}

/// The requirement as the file at `declared_at` (`requirements.txt:3`)
/// writes it (`fastapi==0.115.0`), without comments, markers or options.
fn declared_spec(project: &Project, declared_at: &str) -> Option<String> {
    let (file, line) = declared_at.rsplit_once(':')?;
    let text = read_bounded(&project.root.join(file)).ok()?;
    let line = text
        .lines()
        .nth(line.parse::<usize>().ok()?.checked_sub(1)?)?;
    let spec = line
        .split('#')
        .next()?
        .split(';')
        .next()?
        .split(" --")
        .next()?
        .trim();
    // A pyproject array item is quoted.
    let spec = spec
        .trim_matches(|c| c == '"' || c == '\'' || c == ',')
        .trim();
    (!spec.is_empty() && !spec.starts_with('-')).then(|| spec.to_string())
}

/// Make `.venv` in `shown` (relative to the root) and run its python with
/// `args`: the steps as the user types them from the project root.
fn new_venv_steps(shown: &str, args: &str) -> Vec<String> {
    let mut parts: Vec<String> = crate::shell::cd(shown).into_iter().collect();
    parts.push(crate::shell::new_venv().to_string());
    parts.push(format!("{} {args}", crate::shell::venv_python()));
    crate::shell::steps(&parts)
}

/// Install into the project's virtual environment (`python -m pip install
/// ARGS`), in `folder`; the printed command runs from the project root. With
/// no virtual environment, the fix is to make one: installing into the
/// system's Python fails under PEP 668 and mixes projects.
/// A virtual environment made by uv (`uv venv`, `uv sync`) has no pip:
/// `python -m pip` fails there ("No module named pip"), `uv pip install
/// --python PY` is its installer. Told by pyvenv.cfg's `uv = …` line.
pub fn made_by_uv(python: &Path) -> bool {
    let Some(venv) = python.parent().and_then(Path::parent) else {
        return false;
    };
    // pyvenv.cfg's `uv = …` line only: a venv without pip is not always uv's.
    std::fs::read_to_string(venv.join("pyvenv.cfg"))
        .is_ok_and(|c| c.lines().any(|l| l.trim_start().starts_with("uv =")))
}

/// The words that install `args` with `python`'s own installer.
fn install_words(python: &str, uv: bool) -> String {
    if uv {
        format!("uv pip install --python {python}")
    } else {
        format!("{python} -m pip install")
    }
}

fn pip_install_fix(
    project: &Project,
    interp: &Interpreter,
    what: &str,
    args: &[String],
    folder: &Path,
) -> Fix {
    let mut full = vec!["-m".to_string(), "pip".into(), "install".into()];
    full.extend(args.iter().cloned());
    if interp.venv.is_some() && made_by_uv(&interp.path) {
        let shown = project.shown(folder).unwrap_or_else(|| ".".into());
        let python = crate::redact::home(&interp.path);
        let mut uv_args: Vec<String> = vec![
            "pip".into(),
            "install".into(),
            "--python".into(),
            interp.path.display().to_string(),
        ];
        uv_args.extend(args.iter().cloned());
        return Fix {
            title: format!(
                "install {what} into {} with uv (a uv environment has no pip)",
                interp.found_in
            ),
            safety: Safety::Confirm,
            commands: crate::shell::in_folder(
                &shown,
                &format!("{} {}", install_words(&python, true), args.join(" ")),
            ),
            action: Some(FixAction::Run {
                program: "uv".into(),
                args: uv_args,
                cwd: folder.to_path_buf(),
            }),
        };
    }
    let shown = project.shown(folder).unwrap_or_else(|| ".".into());
    if interp.venv.is_none() {
        return Fix::manual(
            format!("create a virtual environment for {shown} and install {what} into it"),
            new_venv_steps(&shown, &full.join(" ")),
        );
    }
    // The interpreter as the user types it from the folder: relative when
    // the environment is inside the project.
    let program = match (
        interp.path.strip_prefix(folder),
        interp.path.strip_prefix(&project.root),
    ) {
        (Ok(rel), _) => rel.display().to_string(),
        (_, Ok(rel)) => {
            let up = "../".repeat(
                folder
                    .strip_prefix(&project.root)
                    .map_or(0, |f| f.components().count()),
            );
            format!("{up}{}", rel.display())
        }
        _ => crate::redact::home(&interp.path),
    };
    let program = crate::shell::native(&program);
    Fix {
        title: format!("install {what} into {}", interp.found_in),
        safety: Safety::Confirm,
        commands: crate::shell::in_folder(&shown, &format!("{program} {}", full.join(" "))),
        action: Some(FixAction::Run {
            program: interp.path.clone(),
            args: full,
            cwd: folder.to_path_buf(),
        }),
    }
}

fn version_mismatch(
    project: &Project,
    folder: &Path,
    interp: &Interpreter,
    facts: &Value,
    out: &mut Vec<Finding>,
) {
    let Some((spec, at)) = requires_python(project, folder) else {
        return;
    };
    let v: Vec<u64> = facts["version"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_u64)
        .collect();
    let [a, b, c] = v[..] else { return };
    if satisfies([a, b, c], &spec) == Some(false) {
        out.push(
            Finding::new(
                "PY004",
                ID,
                format!(
                    "{} is Python {a}.{b}.{c}, but {at} requires {spec}",
                    interp.found_in
                ),
            )
            .evidence("interpreter", crate::redact::home(&interp.path))
            .evidence("version", format!("{a}.{b}.{c}"))
            .evidence("requires_python", json!({"spec": spec, "source": at}))
            .with_fix(Fix::manual(
                "recreate the environment with a matching Python",
                vec![format!(
                    "{} -m venv --clear {}",
                    crate::shell::python_version("3.X"),
                    crate::shell::native(&interp.found_in)
                )],
            )),
        );
    }
}

/// The innermost frame inside the project (not in a virtual environment or site-packages).
fn project_frame(project: &Project, frames: &[Value]) -> Option<(String, u64)> {
    frames.iter().rev().find_map(|f| {
        let file = Path::new(f["file"].as_str()?);
        let inside = file.starts_with(&project.root)
            && !file.components().any(|c| {
                let c = c.as_os_str().to_string_lossy();
                c == "site-packages" || VENV_DIRS.contains(&c.as_ref())
            });
        inside.then(|| (project.relative(file), f["line"].as_u64().unwrap_or(0)))
    })
}

/// A package whose own import fails on this interpreter.
struct TooOld {
    package: String,
    version: Option<String>,
}

/// `ImportError: cannot import name 'Mapping' from 'collections'
/// (…/lib/python3.11/collections/__init__.py)` raised in a frame of
/// site-packages: the name is one the standard library no longer has (its
/// module's path is outside any site-packages), so the installed package
/// is older than this Python. Its top-level package and installed version.
fn dependency_too_old(kind: &str, message: &str, frames: &[Value]) -> Option<TooOld> {
    if kind != "ImportError" || !message.starts_with("cannot import name") {
        return None;
    }
    let from_path = message.rsplit_once('(')?.1.trim_end_matches(')');
    if from_path.contains("site-packages") || from_path.contains("dist-packages") {
        return None;
    }
    let innermost = Path::new(frames.last()?["file"].as_str()?);
    let parts: Vec<String> = innermost
        .components()
        .map(|c| c.as_os_str().to_string_lossy().to_string())
        .collect();
    let i = parts
        .iter()
        .position(|c| c == "site-packages" || c == "dist-packages")?;
    let package = parts.get(i + 1)?.trim_end_matches(".py").to_string();
    let site: PathBuf = parts[..=i].iter().collect();
    // `Jinja2-2.10.1.dist-info`: the distribution's name and version.
    let version = std::fs::read_dir(&site).ok().and_then(|entries| {
        entries.flatten().find_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            let stem = name
                .strip_suffix(".dist-info")
                .or_else(|| name.strip_suffix(".egg-info"))?;
            let (dist, version) = stem.rsplit_once('-')?;
            (normalize(dist) == normalize(&package)).then(|| version.to_string())
        })
    });
    Some(TooOld { package, version })
}

fn import_failure(
    project: &Project,
    folder: &Path,
    (interp, uv): (&str, bool),
    module: &str,
    stdout: &str,
    out: &mut Vec<Finding>,
) {
    let Some(result) = stdout
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("DOCTOR-RESULT:"))
    else {
        return;
    };
    let Ok(r) = serde_json::from_str::<Value>(result) else {
        return;
    };
    if r["ok"] == true {
        return;
    }
    let frames = r["frames"].as_array().cloned().unwrap_or_default();
    let mut at = project_frame(project, &frames);
    let settings = module.strip_prefix("django-setup:");
    // A Django app named in INSTALLED_APPS that is not installed: its
    // traceback is all Django's; the settings line that names it is the place.
    if let (Some(settings), None) = (settings, &at) {
        let missing = r["message"]
            .as_str()
            .and_then(|m| m.strip_prefix("No module named '"))
            .and_then(|m| m.split('\'').next())
            .unwrap_or_default();
        let file = folder.join(settings.replace('.', "/")).with_extension("py");
        if let (false, Ok(text)) = (missing.is_empty(), read_bounded(&file)) {
            let top = missing.split('.').next().unwrap_or(missing);
            if let Some(i) = text.lines().position(|l| {
                l.contains(&format!("\"{missing}"))
                    || l.contains(&format!("'{missing}"))
                    || l.contains(&format!("\"{top}"))
                    || l.contains(&format!("'{top}"))
            }) {
                at = Some((project.relative(&file), i as u64 + 1));
            }
        }
    }
    let module = match settings {
        Some(settings) => {
            format!("the Django apps of {settings} (django.setup(), as runserver does first)")
        }
        None => module.to_string(),
    };
    let module = module.as_str();
    let kind = r["type"].as_str().unwrap_or("Exception");
    // An exception may echo a value of the env files back (pydantic's
    // `input_value='…'`): every such value is masked, secret-looking or not.
    let mut message = r["message"].as_str().unwrap_or_default().to_string();
    for value in &project.env_values {
        if message.contains(value.as_str()) {
            message = message.replace(value.as_str(), crate::redact::MASK);
        }
    }
    let message = message.as_str();
    let place = at
        .as_ref()
        .map(|(f, l)| format!(" at {f}:{l}"))
        .unwrap_or_default();
    let shown = project.shown(folder).unwrap_or_default();
    let mut f = Finding::new(
        "PY003",
        ID,
        format!("importing {module} fails: {kind}: {message}{place}"),
    )
    .evidence("module", module.to_string())
    .evidence("folder", shown)
    .evidence("interpreter", interp.to_string())
    .evidence("exception", json!({"type": kind, "message": message}));
    // An installed package that no longer imports on this Python: the
    // name it wants is gone from the standard library (`from collections
    // import Mapping`, removed in 3.10), raised in the package's own code.
    // The app's first import is no place to fix it; the pin is (field gd fd
    // P3 0: the repo's Jinja2 2.10.1 on Python 3.11).
    if let Some(old) = dependency_too_old(kind, message, &frames) {
        let declared_at = declared(project, folder)
            .get(&normalize(&old.package))
            .cloned();
        let version = old.version.as_deref().unwrap_or("installed");
        f.title = format!(
            "importing {module} fails inside {} {version}{}: {kind}: {message} (a release older than this Python)",
            old.package,
            declared_at
                .as_ref()
                .map(|d| format!(", pinned at {d}"))
                .unwrap_or_default()
        );
        f = f
            .evidence("package", json!({"name": old.package, "version": old.version, "declared_at": declared_at}))
            .with_fix(Fix::manual(
                format!("upgrade {}: the installed release does not import on this Python", old.package),
                vec![
                    format!(
                        "{install} -U {} (and raise its pin{}), then start the server again",
                        old.package,
                        declared_at.as_ref().map(|d| format!(" at {d}")).unwrap_or_default(),
                        install = install_words(interp, uv)
                    ),
                    "or run the app with the Python its pins were made for (a virtual environment of that version)".to_string(),
                ],
            ));
        if let Some(d) = &declared_at {
            f = f.evidence("location", d.clone());
        }
        out.push(f);
        return;
    }
    let settings_source = at
        .as_ref()
        .map(|(file, _)| settings_source(project, folder, &project.root.join(file)));
    f = f.with_fix(import_fix(
        kind,
        message,
        at.as_ref(),
        interp,
        uv,
        settings_source.as_ref(),
    ));
    if let Some((file, line)) = at {
        f = f.evidence("location", format!("{file}:{line}"));
    }
    let traceback: Vec<String> = frames
        .iter()
        .rev()
        .take(5)
        .filter(|fr| !fr["file"].as_str().unwrap_or("<").starts_with('<'))
        .filter_map(|fr| {
            Some(format!(
                "{}:{}",
                crate::redact::home(Path::new(fr["file"].as_str()?)),
                fr["line"]
            ))
        })
        .collect();
    out.push(f.evidence("innermost_frames", traceback));
}

/// Where a pydantic-settings class reads its values: its `env_file`,
/// resolved against the folder the server starts in (pydantic reads it
/// relative to the working directory, so `"../.env"` is a classic), and
/// its `env_prefix`.
#[derive(Debug, Clone, Default, PartialEq)]
struct SettingsSource {
    /// The env file as the project writes it, relative to the project, and
    /// whether it is there.
    env_file: Option<(String, bool)>,
    prefix: String,
    /// The settings file, project-relative (what a reloader's touch takes).
    file: String,
}

fn settings_source(project: &Project, start_folder: &Path, settings_file: &Path) -> SettingsSource {
    let text = read_bounded(settings_file).unwrap_or_default();
    let literal_after = |key: &str| {
        text.lines().find_map(|l| {
            let rest = l
                .split_once(key)?
                .1
                .trim_start()
                .strip_prefix('=')?
                .trim_start();
            let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
            rest[1..].split(quote).next().map(str::to_string)
        })
    };
    let env_file = literal_after("env_file").map(|name| {
        let path = start_folder.join(&name);
        let exists = path.is_file();
        (project.relative(&path), exists)
    });
    SettingsSource {
        env_file,
        prefix: literal_after("env_prefix").unwrap_or_default(),
        file: project.relative(settings_file),
    }
}

/// The fields a pydantic ValidationError names, each with its error line:
/// `database_url\n  Field required [type=missing, …]`.
fn validation_fields(message: &str) -> Vec<(String, String)> {
    let lines: Vec<&str> = message.lines().collect();
    lines
        .windows(2)
        .skip(1)
        .filter(|w| !w[0].starts_with(' ') && !w[0].is_empty() && w[1].starts_with(' '))
        .map(|w| (w[0].trim().to_string(), w[1].trim().to_string()))
        .collect()
}

/// What repairs an import failure: the package a missing module comes from,
/// the settings that need values, or the line to change. A reloader picks
/// the repair up by itself; a plain server needs its start command again.
/// `uv`: the interpreter's environment is uv's (installed into with uv).
fn import_fix(
    kind: &str,
    message: &str,
    at: Option<&(String, u64)>,
    interp: &str,
    uv: bool,
    settings: Option<&SettingsSource>,
) -> Fix {
    let place = at.map(|(f, l)| format!("{f}:{l}"));
    let env_file = settings.and_then(|s| s.env_file.clone());
    let file_words = match &env_file {
        Some((f, true)) => f.clone(),
        Some((f, false)) => format!(
            "{f} (it is not there: the settings read it from the folder the server starts in)"
        ),
        None => {
            "the environment the server starts with (the settings name no env_file)".to_string()
        }
    };
    // A reloader watches the code, not the env file: an edit of the env
    // file starts nothing until a .py file changes.
    let restart = settings.map(|s| {
        format!(
            "then restart the server: a reloader does not watch the env file, so save {} (`touch {}`) or run its start command again",
            s.file, s.file
        )
    });
    let fields = validation_fields(message);
    let missing = message
        .strip_prefix("No module named '")
        .and_then(|m| m.split(['\'', '.']).next())
        .filter(|_| kind == "ModuleNotFoundError");
    // `No module named 'rest_framework.respons'`: Python names the first
    // component it could not import, so a dotted name means its package
    // imported and the submodule is not there: a misspelt import, not a
    // missing install (field gc P2 c7, round 9). Namespace packages
    // (`google.protobuf`) are the exception: their parts come as
    // distributions of their own.
    let full = message
        .strip_prefix("No module named '")
        .and_then(|m| m.split('\'').next())
        .filter(|_| kind == "ModuleNotFoundError")
        .unwrap_or_default();
    const NAMESPACES: &[&str] = &[
        "google",
        "azure",
        "jaraco",
        "zope",
        "sphinxcontrib",
        "backports",
        "ruamel",
        "mpl_toolkits",
        "opentelemetry",
    ];
    if let Some((top, sub)) = full.split_once('.') {
        if !NAMESPACES.contains(&top) {
            let python = crate::shell::native(interp);
            let dist = crate::project::code::distribution_of_module(top);
            let at = place
                .clone()
                .unwrap_or_else(|| "the line the traceback names".into());
            return Fix::manual(
                format!("correct the import at {at}: {top} is installed and has no module {sub}"),
                vec![
                    format!("fix the module name at {at} (a typo in `{full}`), then save: a reloader restarts the worker; a plain server needs its start command again"),
                    format!("or, if {top}'s version should have it: {} --upgrade {dist}", install_words(&python, uv)),
                ],
            );
        }
    }
    if let Some(module) = missing {
        let python = crate::shell::native(interp);
        let dist = crate::project::code::distribution_of_module(module);
        let mut steps = vec![format!("{} {dist}", install_words(&python, uv))];
        if let Some(place) = &place {
            steps.push(format!(
                "or remove the import at {place} if the app no longer needs it"
            ));
        }
        return Fix::manual(
            format!("install the package that provides `{module}` into {interp}"),
            steps,
        );
    }
    if kind == "ValidationError" && message.contains("Extra inputs are not permitted") {
        // The env file holds keys the settings class does not declare (a
        // root .env.example copied into backend/), and it forbids extras.
        let extra: Vec<&str> = fields
            .iter()
            .filter(|(_, why)| why.starts_with("Extra inputs"))
            .map(|(f, _)| f.as_str())
            .collect();
        let keys = if extra.is_empty() {
            "each key the message names as 'Extra inputs are not permitted'".to_string()
        } else {
            extra.join(", ")
        };
        let mut steps = vec![format!(
            "delete {keys} from {file_words}: they are no fields of the settings class; or set extra=\"ignore\" in its model_config{}",
            place.map(|p| format!(" ({p})")).unwrap_or_default()
        )];
        steps.extend(restart);
        return Fix::manual(
            match &env_file {
                Some((f, _)) => format!("remove the keys the settings do not declare from {f}"),
                None => "remove the keys the settings do not declare from the env file they read"
                    .to_string(),
            },
            steps,
        );
    }
    if kind == "ValidationError" {
        let prefix = settings.map(|s| s.prefix.as_str()).unwrap_or_default();
        let required: Vec<String> = fields
            .iter()
            .filter(|(_, why)| why.starts_with("Field required"))
            .map(|(f, _)| format!("{prefix}{}", f.to_ascii_uppercase()))
            .collect();
        let mut steps = vec![if required.is_empty() {
            format!(
                "give each field the message names a valid value in {file_words}{}",
                place
                    .map(|p| format!("; the settings are at {p}"))
                    .unwrap_or_default()
            )
        } else {
            format!(
                "set {} in {file_words}{}",
                required
                    .iter()
                    .map(|k| format!("{k}=…"))
                    .collect::<Vec<_>>()
                    .join(", "),
                place
                    .map(|p| format!("; the settings are at {p}"))
                    .unwrap_or_default()
            )
        }];
        steps.extend(restart);
        return Fix::manual(
            if required.is_empty() {
                "give the settings the values they require".to_string()
            } else {
                format!("set {} for the settings", required.join(", "))
            },
            steps,
        );
    }
    Fix::manual(
        format!("fix {}", place.clone().unwrap_or_else(|| "the module".into())),
        vec![format!(
            "correct the code at {} ({kind}), then save: a reloader restarts the worker; a plain server needs its start command again",
            place.unwrap_or_else(|| "the line the traceback names".into())
        )],
    )
}

/// PY005: the server on the service's port runs another Python than the venv.
fn other_interpreter(
    ctx: &Context,
    service: &Service,
    venv: &Path,
    interp: &str,
    out: &mut Vec<Finding>,
) {
    let Ok(snapshot) = ctx.snapshot() else { return };
    for pid in snapshot.listener_pids(service.port) {
        let Some(p) = snapshot.process(pid) else {
            continue;
        };
        // A stranger on the port is PORT002's, whatever it runs.
        if super::ports::belongs_to(p, service, &ctx.project) != Some(true) {
            continue;
        }
        let Some(exe) = &p.exe else { continue };
        let name = exe
            .file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        if !name.starts_with("python") {
            continue;
        }
        // A venv's python is a link to the base interpreter, so the
        // executable alone cannot tell: look at what was started, then at the
        // environment it was started in. Without evidence, say nothing.
        let venv_real = std::fs::canonicalize(venv).unwrap_or_else(|_| venv.to_path_buf());
        let venv_of = |file: &Path| -> Option<PathBuf> {
            let file = match (&p.cwd, file.is_relative()) {
                (Some(cwd), true) => cwd.join(file),
                _ => file.to_path_buf(),
            };
            std::fs::canonicalize(file.parent()?)
                .ok()?
                .parent()
                .map(Path::to_path_buf)
        };
        let started = p.cmdline.first().map(PathBuf::from);
        let evidence = match started.as_deref() {
            Some(s) if s.components().count() > 1 => match venv_of(s) {
                Some(root) if root == venv_real => continue,
                Some(_) => format!("started as {}", crate::redact::home(s)),
                None => continue,
            },
            _ => match crate::platform::env_var_of(pid, "VIRTUAL_ENV") {
                Some(Some(active))
                    if std::fs::canonicalize(&active).ok().as_ref() == Some(&venv_real) =>
                {
                    continue
                }
                Some(Some(active)) => format!(
                    "started with another virtual environment active: {}",
                    crate::redact::home(Path::new(&active))
                ),
                Some(None) => {
                    "started as a bare `python` with no virtual environment active".to_string()
                }
                None => continue,
            },
        };
        out.push(
            Finding::new(
                "PY005",
                ID,
                format!(
                    "{} on port {} runs {}, not the project's {interp}",
                    describe_pid(snapshot, pid),
                    service.port,
                    crate::redact::home(exe)
                ),
            )
            .evidence("process", super::process_evidence(snapshot, p))
            .evidence("server_interpreter", crate::redact::home(exe))
            .evidence("how", evidence)
            .evidence("project_interpreter", interp.to_string())
            // The server works: ending it is the user's call, with the
            // restart under the project's interpreter.
            .with_fix(Fix::manual(
                format!(
                    "restart it with {interp}: end pid {pid}, then start it again from the venv"
                ),
                super::terminate_commands(pid),
            )),
        );
    }
}

#[cfg(test)]
mod tests {
    /// Field round 7 (ga fa P2 c4): a venv made by uv has no pip; its
    /// install fix is uv's. uv names itself in pyvenv.cfg: a real venv
    /// without pip is not taken for uv's until it does.
    #[test]
    fn a_venv_without_pip_is_installed_into_with_uv() {
        let dir = tempfile::tempdir().unwrap();
        let made = std::process::Command::new("python3")
            .args(["-m", "venv", "--without-pip"])
            .arg(dir.path().join("v"))
            .status()
            .unwrap();
        assert!(made.success());
        let cfg = std::fs::read_to_string(dir.path().join("v/pyvenv.cfg")).unwrap();
        assert!(!super::made_by_uv(&dir.path().join("v/bin/python")));
        std::fs::write(
            dir.path().join("v/pyvenv.cfg"),
            format!("{cfg}uv = 0.13.9\n"),
        )
        .unwrap();
        assert!(super::made_by_uv(&dir.path().join("v/bin/python")));
        let fix = super::import_fix(
            "ModuleNotFoundError",
            "No module named 'redis'",
            None,
            &dir.path().join("v/bin/python").display().to_string(),
            super::made_by_uv(&dir.path().join("v/bin/python")),
            None,
        );
        assert!(
            fix.commands[0].starts_with("uv pip install --python "),
            "{:?}",
            fix.commands
        );

        let with_pip = dir.path().join("w");
        std::fs::create_dir_all(with_pip.join("lib/python3.11/site-packages/pip")).unwrap();
        std::fs::write(with_pip.join("pyvenv.cfg"), "home = /usr/bin\n").unwrap();
        assert!(!super::made_by_uv(&with_pip.join("bin/python")));
        std::fs::write(
            with_pip.join("pyvenv.cfg"),
            "home = /usr/bin\nuv = 0.13.9\n",
        )
        .unwrap();
        assert!(super::made_by_uv(&with_pip.join("bin/python")));
    }

    use super::*;

    #[test]
    fn import_fixes_say_what_repairs_the_import() {
        let extra = import_fix(
            "ValidationError",
            "2 validation errors for Settings\nPOSTGRES_PASSWORD\n  Extra inputs are not permitted",
            Some(&("backend/app/core/config.py".into(), 43)),
            ".venv/bin/python",
            false,
            None,
        );
        assert!(
            extra.title.starts_with("remove the keys"),
            "{}",
            extra.title
        );
        let missing = import_fix(
            "ModuleNotFoundError",
            "No module named 'rest_framework'",
            None,
            ".venv/bin/python",
            false,
            None,
        );
        assert_eq!(
            missing.commands[0],
            ".venv/bin/python -m pip install djangorestframework"
        );
        let other = import_fix(
            "NameError",
            "name 'x' is not defined",
            Some(&("main.py".into(), 3)),
            "python",
            false,
            None,
        );
        assert!(
            other.commands[0].contains("main.py:3"),
            "{:?}",
            other.commands
        );
    }

    #[test]
    fn validation_error_fields() {
        let m = "2 validation errors for Settings\ndatabase_url\n  Field required [type=missing, input_value={}, input_type=dict]\npostgres_server\n  Extra inputs are not permitted [type=extra_forbidden]";
        assert_eq!(
            validation_fields(m),
            vec![
                (
                    "database_url".to_string(),
                    "Field required [type=missing, input_value={}, input_type=dict]".to_string()
                ),
                (
                    "postgres_server".to_string(),
                    "Extra inputs are not permitted [type=extra_forbidden]".to_string()
                ),
            ]
        );
    }

    #[test]
    fn requirement_names() {
        assert_eq!(
            requirement_name("FastAPI[all]>=0.100 ; python_version > '3'").as_deref(),
            Some("fastapi")
        );
        assert_eq!(
            requirement_name("Flask_Login==0.6").as_deref(),
            Some("flask-login")
        );
        assert_eq!(requirement_name("-r base.txt"), None);
        assert_eq!(requirement_name("# comment"), None);
        assert_eq!(
            requirement_name("pkg @ https://example.com/pkg.whl").as_deref(),
            Some("pkg")
        );
        assert_eq!(normalize("zope.interface"), "zope-interface");
    }

    #[test]
    fn python_specifiers() {
        assert_eq!(satisfies([3, 11, 7], ">=3.10,<4"), Some(true));
        assert_eq!(satisfies([3, 9, 1], ">=3.10"), Some(false));
        assert_eq!(satisfies([3, 11, 7], "~=3.11"), Some(true));
        assert_eq!(satisfies([3, 12, 0], "~=3.11.2"), Some(false));
        assert_eq!(satisfies([3, 11, 7], "==3.11.*"), Some(true));
        assert_eq!(satisfies([3, 11, 7], "==3.12.*"), Some(false));
        assert_eq!(satisfies([3, 11, 7], "^3"), None);
    }
}
