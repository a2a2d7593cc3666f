//! Start scripts as users write them: Windows batch (`start.bat`), PowerShell
//! (`start.ps1`), POSIX shell (`run.sh`) and Python launchers (`start.py`)
//! in the project root and one folder down (`scripts/`). Each is read as
//! text, never run: the folder each command runs in (`cd /d %~dp0..`,
//! `Set-Location backend`, `cwd=BACKEND_DIR`), the virtual environment it
//! activates, the `PORT` it sets, and the commands that start servers, each
//! parsed by `commands::parse_words` and added to the service model with its
//! script:line.
//!
//! The shell dialects are read line by line with a small interpreter of the
//! forms users write (cd, set, call activate, start, Start-Process, `&`);
//! Python launchers are parsed by a real Python parser (`rustpython-parser`,
//! see `launchers/python.rs`) and their `cwd=`, lists and paths folded from
//! the names the script assigns.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use super::commands::{self, ServerCommand};
use super::{read_bounded, Project, Service, Unreadable};

mod python;

/// The language a start script is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Batch,
    PowerShell,
    Python,
    Shell,
}

impl Dialect {
    fn of(path: &Path) -> Option<Dialect> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        Some(match ext.as_str() {
            "bat" | "cmd" => Dialect::Batch,
            "ps1" => Dialect::PowerShell,
            "py" => Dialect::Python,
            "sh" => Dialect::Shell,
            _ => return None,
        })
    }

    /// A script of this dialect runs as it is on this platform.
    fn runs_here(self) -> bool {
        match self {
            Dialect::Batch | Dialect::PowerShell => cfg!(windows),
            Dialect::Shell => !cfg!(windows),
            Dialect::Python => true,
        }
    }

    /// Written for Windows' shells (paths with `\`, `venv\Scripts`).
    fn windows(self) -> bool {
        matches!(self, Dialect::Batch | Dialect::PowerShell)
    }
}

/// One command a start script runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Launch {
    /// 1-based line of the script.
    pub line: usize,
    /// The folder it runs in (absolute).
    pub dir: PathBuf,
    /// Its words, variables substituted, the program as written.
    pub words: Vec<String>,
    /// The virtual environment the script activated before it (absolute).
    pub venv: Option<PathBuf>,
    /// The program is the Python running the launcher (`sys.executable`).
    pub own_python: bool,
    /// `PORT` set for it (`set PORT=3001`, `$env:PORT`, `env={"PORT": …}`), with its line.
    pub env_port: Option<(u16, usize)>,
    /// The framework settings the script sets for it (`set FLASK_APP=bunshi`
    /// in `run.bat`): a start command printed or run without them fails
    /// ("Could not locate a Flask application").
    pub env: Vec<(String, String)>,
}

/// Variables a server's framework reads to find and run the app: kept with
/// the command that needs them. `FLASK_ENV=development` is how Flask < 2.3
/// turns on its debugger and reloader (field gd fd P3 A: Flask 1.1.4 under
/// `run.bat`); newer Flask ignores it, so keeping it costs nothing.
pub(crate) const FRAMEWORK_VARS: &[&str] = &[
    "FLASK_APP",
    "FLASK_ENV",
    "FLASK_DEBUG",
    "FLASK_RUN_PORT",
    "FLASK_RUN_HOST",
    "DJANGO_SETTINGS_MODULE",
];

/// What a start script says.
#[derive(Debug, Clone, PartialEq)]
pub struct Script {
    pub path: PathBuf,
    pub dialect: Dialect,
    /// The commands that start servers, in order.
    pub launches: Vec<Launch>,
    /// It finds its folders from its own place (`%~dp0`, `$PSScriptRoot`,
    /// `dirname "$0"`, `__file__`): it can be run from any folder.
    pub anchored: bool,
    /// The folder its relative paths are read from when it is not anchored:
    /// its own, or the project root when they name folders only there.
    pub runs_from: PathBuf,
}

/// Start-script names (their stem, lower case) never read as a start path.
const NOT_START: &[&str] = &[
    "test",
    "build",
    "deploy",
    "install",
    "setup",
    "migrat",
    "seed",
    "lint",
    "clean",
    "release",
    "prod",
    "docker",
    "stop",
    "kill",
    "format",
    "check",
    "publish",
    "bump",
    "backup",
    "entrypoint",
    "manage",
    "conftest",
];
/// Names that say "this starts the app" (a script's stem contains one).
const START_WORDS: &[&str] = &[
    "start", "run", "dev", "serve", "launch", "boot", "up", "backend", "frontend", "api", "server",
    "app", "stack", "all", "both", "local",
];

/// A file that may be a start script: a start-like name of a known dialect.
/// Python launchers must begin with a start word (`start_all.py`,
/// `run_dev.py`); a `server.py` or `app.py` is an app, read elsewhere.
fn is_start_script(path: &Path) -> Option<Dialect> {
    let dialect = Dialect::of(path)?;
    let stem = path.file_stem()?.to_str()?.to_ascii_lowercase();
    if NOT_START.iter().any(|w| stem.contains(w)) {
        return None;
    }
    let starts = match dialect {
        Dialect::Python => {
            ["start", "run", "dev", "launch", "boot"]
                .iter()
                .any(|w| stem.starts_with(w))
                || stem == "serve"
                || stem == "up"
        }
        _ => START_WORDS.iter().any(|w| stem.contains(w)),
    };
    starts.then_some(dialect)
}

/// Read every start script of the project root and the folders one level
/// down, and add the servers they start to the model.
pub fn scan(project: &mut Project) {
    let root = project.root.clone();
    let dirs: Vec<PathBuf> = project
        .folders
        .iter()
        .filter(|d| d.parent() == Some(root.as_path()) || **d == root)
        .cloned()
        .collect();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .map(|e| e.path())
            .filter(|p| is_start_script(p).is_some())
            .collect();
        files.sort();
        for path in files {
            let text = match read_bounded(&path) {
                Ok(t) => t,
                Err(e) => {
                    project.unreadable.push(Unreadable {
                        path: project.relative(&path),
                        error: e.to_string(),
                    });
                    continue;
                }
            };
            let script = read_script(&path, &text, &root);
            add_script(project, &script, false);
            add_browser_clients(project, &path, &text);
        }
    }
    readme(project);
}

/// The README's development commands: each fenced shell block of the
/// root's README read as a script of its own (a `cd` does not carry from
/// one block to the next), except blocks under a heading about production,
/// deployment or containers. Only Python servers are taken (a node server's
/// start is its package.json script): `uv run uvicorn main:app --reload
/// --port 8001` gives the backend its port and its start command, where no
/// other file does. The README is never run itself.
fn readme(project: &mut Project) {
    let root = project.root.clone();
    let Some(path) = [
        "README.md",
        "readme.md",
        "Readme.md",
        "README.rst",
        "README",
    ]
    .iter()
    .map(|n| root.join(n))
    .find(|p| p.is_file()) else {
        return;
    };
    let Ok(text) = read_bounded(&path) else {
        return;
    };
    let lines: Vec<&str> = text.lines().collect();
    let mut blocks: Vec<(usize, usize)> = Vec::new();
    let mut inline: Vec<(usize, String)> = Vec::new();
    let mut inline_cd: Option<String> = None;
    let (mut open, mut skipped, mut shell_block) = (None::<usize>, false, false);
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim_start();
        if let Some(lang) = t.strip_prefix("```").or_else(|| t.strip_prefix("~~~")) {
            match open.take() {
                Some(start) => {
                    if shell_block && !skipped {
                        blocks.push((start, i));
                    }
                }
                None => {
                    let lang = lang.trim().to_ascii_lowercase();
                    shell_block = matches!(
                        lang.as_str(),
                        "" | "sh"
                            | "bash"
                            | "shell"
                            | "console"
                            | "zsh"
                            | "shell-session"
                            | "terminal"
                    );
                    open = Some(i + 1);
                }
            }
            continue;
        }
        // An inline command in the prose of a development section (`1. Start
        // the API: \`uvicorn backend.main:app --reload --port 8000\``):
        // a one-line block of its own when it starts a Python server (field
        // ga fa P1, round 9: the README's only start command was inline).
        // Only a list item's (a step to do, not prose describing what a
        // script does), and a `cd` of an earlier step carries to it.
        let step = t.starts_with("- ")
            || t.starts_with("* ")
            || t.starts_with("+ ")
            || t.split_once(['.', ')'])
                .is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
        if open.is_none() && !skipped && step {
            for (k, span) in t.split('`').enumerate() {
                let span = span.trim();
                if k % 2 == 0 {
                    continue;
                }
                if let Some(dir) = span.strip_prefix("cd ") {
                    inline_cd = Some(dir.trim().to_string());
                } else if commands::parse(span)
                    .is_some_and(|c| matches!(c.kind, "fastapi" | "flask" | "django"))
                {
                    let command = match &inline_cd {
                        Some(dir) => format!("cd {dir} && {span}"),
                        None => span.to_string(),
                    };
                    inline.push((i, command));
                }
            }
        }
        if open.is_none() && t.starts_with('#') {
            inline_cd = None;
            let heading = t.to_ascii_lowercase();
            skipped = [
                "prod",
                "deploy",
                "docker",
                "container",
                "kubernetes",
                "heroku",
                "render",
                "railway",
                "fly.io",
                "vercel",
                "release",
            ]
            .iter()
            .any(|w| heading.contains(w));
        }
    }
    for (start, end) in blocks {
        // The block alone, at its own line numbers (README.md:N in evidence).
        let mut pseudo: Vec<String> = vec![String::new(); start];
        pseudo.extend(lines[start..end].iter().map(|l| {
            let t = l.trim_start();
            t.strip_prefix("$ ")
                .or_else(|| t.strip_prefix("> "))
                .unwrap_or(t)
                .to_string()
        }));
        let mut script = read_script(&path.with_extension("sh"), &pseudo.join("\n"), &root);
        script.path = path.clone();
        add_script(project, &script, true);
    }
    for (line, command) in inline {
        let mut pseudo: Vec<String> = vec![String::new(); line];
        pseudo.push(command);
        let mut script = read_script(&path.with_extension("sh"), &pseudo.join("\n"), &root);
        script.path = path.clone();
        add_script(project, &script, true);
    }
}

/// A server a launch starts, as the model knows it.
enum Target {
    Python(ServerCommand),
    /// `npm run dev` in a folder: its package.json says what runs.
    Node,
}

fn target(launch: &Launch) -> Option<Target> {
    if npm_script(&launch.words).is_some() {
        return Some(Target::Node);
    }
    let server = commands::parse_words(&launch.words)?;
    matches!(server.kind, "fastapi" | "flask" | "django" | "python")
        .then_some(Target::Python(server))
}

fn add_script(project: &mut Project, script: &Script, documented: bool) {
    let rel = project.relative(&script.path);
    let servers: Vec<(&Launch, Target)> = script
        .launches
        .iter()
        .filter_map(|l| Some((l, target(l)?)))
        .filter(|(_, t)| !documented || matches!(t, Target::Python(_)))
        .collect();
    // A script that starts one server is that server's start path, when it
    // runs on this platform; one that starts several (a backend and a
    // frontend) is not rerun for one of them (it would start a second copy
    // of the others): the command it runs for this one is, from its folder.
    // A README documents the command; it is no script to run.
    let alone = servers.len() == 1 && !documented;
    for (launch, target) in servers {
        let source = format!("{rel}:{}", launch.line);
        let (start, start_in) = if alone && script.dialect.runs_here() {
            invocation(project, script)
        } else {
            (
                render(launch, script.dialect, &project.root),
                launch.dir.clone(),
            )
        };
        match target {
            Target::Python(mut server) => {
                server.cd = None;
                let Some(mut s) = super::sources::python_service(
                    project,
                    &launch.dir,
                    &server,
                    (source.clone(), start),
                    None,
                ) else {
                    continue;
                };
                // `set FLASK_APP=bunshi` before `flask run`: the module the
                // server imports, so the import probe runs it (field gd fd
                // P3 0: pins too old for Python 3.11 crash at `import flask`,
                // and no probe ran: the service had no entry).
                if s.entry.is_none() && s.kind.as_deref() == Some("flask") {
                    if let Some((_, app)) = launch.env.iter().find(|(k, _)| k == "FLASK_APP") {
                        let module = app.split(':').next().unwrap_or(app);
                        let module = module.trim_end_matches(".py").replace(['/', '\\'], ".");
                        s.learn("entry", format!("{module} (FLASK_APP)"), &source);
                        s.entry = Some(module);
                    }
                }
                s.start_in = project.shown(&start_in);
                project.add_server(s);
            }
            Target::Node => node_launch(project, launch, &source, (start, start_in)),
        }
    }
}

/// The page a start script opens in the browser (`start "http://127.0.0.1:5000/"`
/// in `run.bat`, `xdg-open`, `open`, `Start-Process`, `webbrowser.open`) is
/// how the user reaches the server: a client of the service on that port,
/// with its line. A server bound to `::1` only refuses it (field gd fd P3 E,
/// where the split was said only of the server's own `localhost`, as info).
fn add_browser_clients(project: &mut Project, path: &Path, text: &str) {
    let rel = project.relative(path);
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        let lower = t.to_ascii_lowercase();
        let opens = [
            "start ",
            "xdg-open ",
            "open ",
            "start-process ",
            "explorer ",
        ]
        .iter()
        .any(|w| lower.starts_with(w))
            || lower.contains("webbrowser.open");
        if !opens {
            continue;
        }
        let quoted = super::quoted_urls(t).into_iter().map(String::from);
        for url in quoted.chain(bare_urls(t)) {
            let Some(parts) = super::parse_url(&url) else {
                continue;
            };
            if !super::is_local_host(&parts.host) {
                continue;
            }
            let source = format!("{rel}:{}", i + 1);
            if let Some(s) = project.services.iter_mut().find(|s| s.port == parts.port) {
                if s.clients.is_empty() {
                    let own = (s.host.clone(), s.source.clone());
                    s.clients.push(own);
                }
                if !s.clients.iter().any(|(h, _)| *h == parts.host) {
                    s.clients.push((parts.host.clone(), source));
                }
            }
        }
    }
}

/// URLs written without quotes (`start http://localhost:3000`).
fn bare_urls(line: &str) -> impl Iterator<Item = String> + '_ {
    line.split_whitespace()
        .filter(|w| w.starts_with("http://") || w.starts_with("https://"))
        .map(|w| w.trim_end_matches([')', ';', ',']).to_string())
}

/// `npm run dev` in a folder: the package.json service there learns that
/// this script starts it, and the `PORT` the script sets (Create React App,
/// Next.js and express read it).
fn node_launch(project: &mut Project, launch: &Launch, source: &str, start: (String, PathBuf)) {
    let dir = match npm_script(&launch.words).and_then(|(_, prefix)| prefix) {
        Some(prefix) => normalize(&launch.dir.join(prefix)),
        None => launch.dir.clone(),
    };
    let Some(i) = project.services.iter().position(|s| {
        s.folder.as_deref() == Some(dir.as_path())
            && (s.is_frontend() || s.kind.as_deref() == Some("express"))
    }) else {
        return;
    };
    let start_in = project.shown(&start.1);
    let s = &mut project.services[i];
    s.learn("start", start.0.clone(), source);
    if s.start.is_none() {
        s.start = Some(start.0);
        s.start_in = start_in;
    }
    let reads_port = matches!(s.kind.as_deref(), Some("cra" | "next" | "express" | "nuxt"));
    if let (Some((port, line)), true) = (launch.env_port, reads_port) {
        let file = source.rsplit_once(':').map_or(source, |(f, _)| f);
        let mut moved = Service::at(s.name.clone(), port, format!("{file}:{line}"));
        moved.kind = s.kind.clone();
        moved.folder = s.folder.clone();
        moved.folder_shown = s.folder_shown.clone();
        moved.reloads = s.reloads;
        if s.is_frontend() {
            moved.origin = Some(format!("http://localhost:{port}"));
        }
        if s.default_port {
            project.services.remove(i);
        }
        project.add_server(moved);
    }
}

/// How the user runs the script itself, and from which folder.
fn invocation(project: &Project, script: &Script) -> (String, PathBuf) {
    let from = if script.anchored {
        project.root.clone()
    } else {
        script.runs_from.clone()
    };
    let rel = script
        .path
        .strip_prefix(&from)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| PathBuf::from(script.path.file_name().unwrap_or_default()));
    let rel = rel.to_string_lossy().replace('\\', "/");
    let command = match script.dialect {
        Dialect::Batch => format!(".\\{}", rel.replace('/', "\\")),
        Dialect::PowerShell => format!(
            "powershell -ExecutionPolicy Bypass -File .\\{}",
            rel.replace('/', "\\")
        ),
        Dialect::Shell => {
            let text = read_bounded(&script.path).unwrap_or_default();
            let shell = if text.starts_with("#!")
                && text.lines().next().is_some_and(|l| l.contains("bash"))
            {
                "bash"
            } else {
                "sh"
            };
            format!("{shell} {rel}")
        }
        Dialect::Python => format!(
            "{} {}",
            interpreter(&from, &project.root),
            crate::shell::native(&rel)
        ),
    };
    (command, from)
}

/// The Python to run a launcher with from `dir`: the project's venv in
/// `dir` or a folder above it up to `root` (a launcher that starts
/// `sys.executable` needs the venv's), else the Python on PATH.
fn interpreter(dir: &Path, root: &Path) -> String {
    for at in dir.ancestors() {
        for venv in [".venv", "venv"] {
            let bin = if cfg!(windows) {
                at.join(venv).join("Scripts").join("python.exe")
            } else {
                at.join(venv).join("bin").join("python")
            };
            if bin.exists() {
                return venv_program(&relative_to(&at.join(venv), dir), "python");
            }
        }
        if at == root || !at.starts_with(root) {
            break;
        }
    }
    crate::shell::python_names()[0].to_string()
}

/// Programs a virtual environment provides.
const VENV_PROGRAMS: &[&str] = &[
    "python",
    "python3",
    "py",
    "pip",
    "uvicorn",
    "gunicorn",
    "hypercorn",
    "flask",
    "fastapi",
];

/// `venv` + `uvicorn` → `venv/bin/uvicorn` (`venv\Scripts\uvicorn` on Windows).
fn venv_program(venv: &str, program: &str) -> String {
    let program = if program == "py" { "python" } else { program };
    if cfg!(windows) {
        format!("{}\\Scripts\\{program}", venv.replace('/', "\\"))
    } else {
        format!("{}/bin/{program}", venv.replace('\\', "/"))
    }
}

/// `venv\Scripts\python.exe`, `.venv/bin/uvicorn` → (`venv`, `python`).
fn venv_path_of(word: &str) -> Option<(String, String)> {
    let w = word.replace('\\', "/");
    let (dir, program) = w.rsplit_once('/')?;
    let (venv, bin) = dir.rsplit_once('/').unwrap_or((".", dir));
    if !(bin.eq_ignore_ascii_case("scripts") || bin == "bin") {
        return None;
    }
    let program = program_name(program);
    VENV_PROGRAMS
        .contains(&program.as_str())
        .then(|| (venv.to_string(), program))
}

/// `C:\x\python.exe` → `python`; `npm.cmd` → `npm`.
fn program_name(word: &str) -> String {
    let base = word
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(word)
        .to_ascii_lowercase();
    for ext in [".exe", ".cmd", ".bat"] {
        if let Some(b) = base.strip_suffix(ext) {
            return b.to_string();
        }
    }
    base
}

/// The command a launch runs, as this platform's user types it in its
/// folder: the activated venv's program named by its path, and a Windows
/// script's command translated for Linux/macOS (`venv\Scripts\python` →
/// `venv/bin/python`, `py` → `python3`, `\` → `/`).
pub fn render(launch: &Launch, dialect: Dialect, root: &Path) -> String {
    let foreign = dialect.windows() != cfg!(windows) && dialect != Dialect::Python;
    let mut words = launch.words.clone();
    let Some(first) = words.first().cloned() else {
        return String::new();
    };
    let program = program_name(&first);
    let venv = launch.venv.as_ref().map(|v| relative_to(v, &launch.dir));
    if launch.own_python {
        words[0] = interpreter(&launch.dir, root);
    } else if let (Some(v), true) = (&venv, VENV_PROGRAMS.contains(&program.as_str())) {
        words[0] = venv_program(v, &program);
    } else if let Some((v, p)) = venv_path_of(&first) {
        words[0] = venv_program(&v, &p);
    } else if foreign && matches!(program.as_str(), "py" | "python" | "python3") {
        words[0] = crate::shell::python_names()[0].to_string();
    } else if foreign && first != program && !first.contains(['/', '\\']) {
        words[0] = program; // npm.cmd → npm
    }
    if foreign && !cfg!(windows) {
        for w in words.iter_mut().skip(1) {
            if w.contains('\\') && !w.starts_with('-') {
                *w = w.replace('\\', "/");
            }
        }
    }
    let command = words
        .iter()
        .map(|w| {
            if w.is_empty() || w.contains([' ', '\t']) {
                format!("\"{w}\"")
            } else {
                w.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    if launch.env.is_empty() {
        return command;
    }
    // The settings the script set for it, in this shell's words.
    if cfg!(windows) {
        let sets: Vec<String> = launch
            .env
            .iter()
            .map(|(k, v)| format!("set \"{k}={v}\" &&"))
            .collect();
        format!("{} {command}", sets.join(" "))
    } else {
        let sets: Vec<String> = launch
            .env
            .iter()
            .map(|(k, v)| format!("{k}={}", crate::shell::quote_arg(v)))
            .collect();
        format!("{} {command}", sets.join(" "))
    }
}

/// `a/b/venv` from `a/b` → `venv`; from `a/b/backend` → `../venv`.
fn relative_to(path: &Path, base: &Path) -> String {
    if let Ok(rel) = path.strip_prefix(base) {
        return rel.to_string_lossy().replace('\\', "/");
    }
    let mut up = String::new();
    let mut at = base;
    while let Some(parent) = at.parent() {
        up.push_str("../");
        if let Ok(rel) = path.strip_prefix(parent) {
            return format!("{up}{}", rel.to_string_lossy().replace('\\', "/"));
        }
        at = parent;
    }
    path.to_string_lossy().into_owned()
}

/// The package.json script an `npm`/`yarn`/`pnpm` command runs, and the
/// folder `--prefix`/`-C` names: `npm run dev`, `npm start`, `yarn dev`.
pub fn npm_script(words: &[String]) -> Option<(String, Option<String>)> {
    let mut i = 0;
    while i < words.len() && words[i].contains('=') && !words[i].starts_with('-') {
        i += 1;
    }
    let program = program_name(words.get(i)?);
    if !matches!(program.as_str(), "npm" | "yarn" | "pnpm" | "bun") {
        return None;
    }
    let mut prefix = None;
    let mut rest = Vec::new();
    let mut j = i + 1;
    while j < words.len() {
        let w = &words[j];
        if w == "--prefix" || w == "-C" || w == "--cwd" || w == "--dir" {
            prefix = words.get(j + 1).cloned();
            j += 2;
            continue;
        }
        if let Some(p) = w.strip_prefix("--prefix=") {
            prefix = Some(p.to_string());
        } else if !w.starts_with('-') {
            rest.push(w.clone());
        }
        j += 1;
    }
    let script = match rest.first().map(String::as_str) {
        Some("run" | "run-script") => rest.get(1)?.clone(),
        Some("start") => "start".into(),
        Some(s)
            if program != "npm"
                && !matches!(s, "install" | "add" | "i" | "ci" | "exec" | "dlx") =>
        {
            s.to_string()
        }
        _ => return None,
    };
    let serving = ["dev", "start", "serve"].iter().any(|k| script.contains(k));
    serving.then_some((script, prefix.map(|p| p.replace('\\', "/"))))
}

/// `a/b/../c` → `a/c`, lexically.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// What a line-by-line script has done so far.
#[derive(Clone)]
struct State<'a> {
    script: &'a Path,
    root: &'a Path,
    dialect: Dialect,
    /// The folder commands run in; `None` once it is somewhere doctor cannot follow.
    dir: Option<PathBuf>,
    vars: HashMap<String, String>,
    venv: Option<PathBuf>,
    port: Option<(u16, usize)>,
    pushed: Vec<Option<PathBuf>>,
    /// Whether a folder change happened yet, and whether the first one was anchored.
    moved: Option<bool>,
    /// A variable or path used the script's own place.
    anchor_seen: bool,
    runs_from: PathBuf,
}

impl<'a> State<'a> {
    fn new(script: &'a Path, root: &'a Path, dialect: Dialect) -> State<'a> {
        let here = script.parent().unwrap_or(root).to_path_buf();
        State {
            script,
            root,
            dialect,
            dir: Some(here.clone()),
            vars: HashMap::new(),
            venv: None,
            port: None,
            pushed: Vec::new(),
            moved: None,
            anchor_seen: false,
            runs_from: here,
        }
    }

    fn script_dir(&self) -> PathBuf {
        self.script.parent().unwrap_or(self.root).to_path_buf()
    }

    fn key(&self, name: &str) -> String {
        if self.dialect.windows() {
            name.to_ascii_uppercase()
        } else {
            name.to_string()
        }
    }

    fn set(&mut self, name: &str, value: &str, line: usize) {
        let value = value.trim().to_string();
        if name.eq_ignore_ascii_case("PORT") {
            if let Ok(p) = value.parse::<u16>() {
                self.port = Some((p, line));
            }
        }
        let key = self.key(name);
        self.vars.insert(key, value);
    }

    fn get(&self, name: &str) -> Option<&String> {
        self.vars.get(&self.key(name))
    }

    /// A path as the script writes it, resolved against the current folder.
    fn path(&mut self, text: &str) -> Option<PathBuf> {
        let t = text.trim().trim_matches(['"', '\'']).replace('\\', "/");
        let p = Path::new(&t);
        // Absolute here: `%~dp0..` is `Z:/shop/scripts/..` on Windows.
        if !t.is_empty() && p.is_absolute() {
            return Some(normalize(p));
        }
        if t.is_empty() || t.starts_with('~') || t.as_bytes().get(1) == Some(&b':') {
            return None; // another machine's drive letter or a home folder: not followed
        }
        let cur = self.dir.clone()?;
        let here = normalize(&cur.join(p));
        // `cd backend` in scripts/start.sh, where only the root has a
        // backend: the script is run from the root.
        if self.moved.is_none() && cur == self.script_dir() && !here.is_dir() {
            let at_root = normalize(&self.root.join(p));
            if at_root.is_dir() {
                self.runs_from = self.root.to_path_buf();
                return Some(at_root);
            }
        }
        Some(here)
    }

    fn cd(&mut self, target: &str) {
        let anchored = self.anchor_seen_in(target);
        let new = self.path(target);
        if self.moved.is_none() {
            self.moved = Some(anchored);
        }
        self.dir = new;
    }

    /// Whether a target text was built from the script's own place.
    fn anchor_seen_in(&self, target: &str) -> bool {
        let dir = self.script_dir();
        let t = target.replace('\\', "/");
        self.anchor_seen && Path::new(t.trim_matches(['"', '\''])).starts_with(&dir)
    }

    fn push(&mut self, target: &str) {
        self.pushed.push(self.dir.clone());
        self.cd(target);
    }

    fn pop(&mut self) {
        if let Some(d) = self.pushed.pop() {
            self.dir = d;
        }
    }

    /// `venv\Scripts\activate.bat`, `.venv/bin/activate` → the venv folder.
    fn activate(&mut self, path: &str) {
        if let Some(p) = self.path(path) {
            let venv = p.parent().and_then(Path::parent).map(Path::to_path_buf);
            self.venv = venv;
        }
    }

    fn launch(&self, line: usize, mut words: Vec<String>, out: &mut Vec<Launch>) {
        let Some(dir) = self.dir.clone() else { return };
        // `PORT=3001 npm start`: the assignment is for this command only.
        let mut port = self.port;
        let mut env: Vec<(String, String)> = FRAMEWORK_VARS
            .iter()
            .filter_map(|k| self.get(k).map(|v| (k.to_string(), v.clone())))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        while let Some((k, v)) = words.first().and_then(|w| w.split_once('=')) {
            if k.is_empty()
                || k.starts_with('-')
                || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                break;
            }
            if k == "PORT" {
                port = v.parse().ok().map(|p| (p, line)).or(port);
            }
            if FRAMEWORK_VARS.contains(&k) {
                env.retain(|(name, _)| name != k);
                env.push((k.to_string(), v.to_string()));
            }
            words.remove(0);
        }
        if words.is_empty() {
            return;
        }
        let launch = Launch {
            line,
            dir,
            words,
            venv: self.venv.clone(),
            own_python: false,
            env_port: port,
            env,
        };
        if target(&launch).is_some() {
            out.push(launch);
        }
    }

    fn finish(self, launches: Vec<Launch>) -> Script {
        Script {
            path: self.script.to_path_buf(),
            dialect: self.dialect,
            launches,
            anchored: self.moved == Some(true),
            runs_from: self.runs_from,
        }
    }
}

/// Read one start script (never run).
pub fn read_script(path: &Path, text: &str, root: &Path) -> Script {
    let dialect = Dialect::of(path).unwrap_or(Dialect::Shell);
    match dialect {
        Dialect::Python => python::read(path, text, root),
        Dialect::Batch => batch(path, text, root),
        Dialect::PowerShell => powershell(path, text, root),
        Dialect::Shell => shell(path, text, root),
    }
}

/// Split a command line on `&&`, `||`, `&` (and `;` for POSIX/PowerShell)
/// outside quotes and parentheses. What follows `||` (an error branch) or a
/// pipe (`| tee log`) is dropped. In PowerShell a lone `&` is the call
/// operator, not a separator (`amp` false).
fn split_chain(line: &str, semicolons: bool, amp: bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut depth = 0i32;
    let mut skipping = false;
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let doubled = chars.get(i + 1) == Some(&c);
        let separator = quote.is_none()
            && depth <= 0
            && match c {
                ';' => semicolons,
                '|' => true,
                // `2>&1`, `>&2`: a redirection, not a separator.
                '&' => (doubled || amp) && !(i > 0 && chars[i - 1] == '>'),
                _ => false,
            };
        if separator {
            if !skipping {
                out.push(std::mem::take(&mut cur));
            }
            cur.clear();
            // `a || b` and `a | b`: b is not a start command of the script.
            skipping = c == '|';
            if doubled {
                i += 1;
            }
            i += 1;
            continue;
        }
        match (quote, c) {
            (Some(q), _) if c == q => quote = None,
            (None, '"' | '\'') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') => depth -= 1,
            _ => {}
        }
        if !skipping {
            cur.push(c);
        }
        i += 1;
    }
    if !skipping {
        out.push(cur);
    }
    out.into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

// ---- Windows batch ----

fn batch(path: &Path, text: &str, root: &Path) -> Script {
    let mut st = State::new(path, root, Dialect::Batch);
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim().trim_start_matches('@').trim();
        batch_line(&mut st, line, i + 1, &mut out);
    }
    st.finish(out)
}

/// `%~dp0`, `%CD%`, `%NAME%`, `!NAME!` substituted.
fn batch_expand(st: &mut State, line: &str) -> String {
    let dir = st.script_dir().to_string_lossy().replace('\\', "/");
    let mut s = line.to_string();
    for anchor in ["%~dp0", "%~DP0", "%~sdp0"] {
        if s.contains(anchor) {
            st.anchor_seen = true;
            s = s.replace(anchor, &format!("{dir}/"));
        }
    }
    let mut out = String::new();
    let mut rest = s.as_str();
    while let Some(i) = rest.find(['%', '!']) {
        let mark = rest.as_bytes()[i] as char;
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        match after.find(mark) {
            Some(end) if end > 0 && !after[..end].contains([' ', '"']) => {
                let name = &after[..end];
                if name.eq_ignore_ascii_case("CD") {
                    if let Some(d) = &st.dir {
                        out.push_str(&d.to_string_lossy());
                    }
                } else if let Some(v) = st.get(name) {
                    out.push_str(v);
                } else {
                    out.push(mark);
                    out.push_str(name);
                    out.push(mark);
                }
                rest = &after[end + 1..];
            }
            _ => {
                out.push(mark);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn batch_line(st: &mut State, line: &str, n: usize, out: &mut Vec<Launch>) {
    let lower = line.to_ascii_lowercase();
    if line.is_empty()
        || line.starts_with("::")
        || line.starts_with(':')
        || lower == "rem"
        || lower.starts_with("rem ")
    {
        return;
    }
    let line = batch_expand(st, line);
    for part in split_chain(&line, false, true) {
        batch_command(st, &part, n, out);
    }
}

fn first_word(s: &str) -> (String, &str) {
    let s = s.trim_start();
    let end = s.find(char::is_whitespace).unwrap_or(s.len());
    (s[..end].to_ascii_lowercase(), s[end..].trim_start())
}

fn batch_command(st: &mut State, part: &str, n: usize, out: &mut Vec<Launch>) {
    let part = part
        .trim()
        .trim_start_matches('(')
        .trim_end_matches(')')
        .trim();
    let part = part.trim_start_matches('@');
    let (cmd, rest) = first_word(part);
    match cmd.as_str() {
        "" | "echo" | "echo." | "title" | "pause" | "timeout" | "color" | "cls" | "goto"
        | "exit" | "setlocal" | "endlocal" | "choice" | "where" | "chcp" | "ping" | "rem"
        | "else" | "del" | "mkdir" | "md" | "copy" | "xcopy" | "taskkill" | "for" | "shift"
        | "type" => {}
        "cd" | "chdir" => {
            let target = rest
                .trim_start_matches("/d")
                .trim_start_matches("/D")
                .trim();
            if !target.is_empty() {
                st.cd(target);
            }
        }
        "pushd" => st.push(rest),
        "popd" => st.pop(),
        "set" => {
            if rest.starts_with("/a")
                || rest.starts_with("/A")
                || rest.starts_with("/p")
                || rest.starts_with("/P")
            {
                return;
            }
            let assignment = rest.trim().trim_matches('"');
            if let Some((k, v)) = assignment.split_once('=') {
                st.set(k.trim(), v, n);
            }
        }
        "call" => {
            let (target, _) = first_word(rest);
            if target.trim_matches('"').ends_with("activate.bat")
                || target.trim_matches('"').ends_with("activate")
            {
                st.activate(rest.split_whitespace().next().unwrap_or_default());
            } else {
                batch_command(st, rest, n, out);
            }
        }
        "if" => {
            // `if exist X CMD`, `if defined X CMD`: the command is read;
            // an `if not …` is a setup branch (create the venv) and skipped.
            let (word, mut rest) = first_word(rest);
            let mut word = word;
            if word == "/i" {
                (word, rest) = first_word(rest);
            }
            if word == "not" {
                return;
            }
            let rest = match word.as_str() {
                "exist" | "defined" | "errorlevel" => first_word(rest).1,
                _ => return,
            };
            batch_command(st, rest, n, out);
        }
        "start" => {
            let mut rest = rest.trim_start();
            // A quoted first argument is the window title.
            if rest.starts_with('"') {
                rest = rest[1..]
                    .split_once('"')
                    .map_or("", |(_, r)| r)
                    .trim_start();
            }
            let mut sub = st.clone();
            loop {
                let (flag, after) = first_word(rest);
                if !flag.starts_with('/') {
                    break;
                }
                rest = after;
                if flag == "/d" {
                    let (dir, after) = first_word(rest);
                    let dir = rest[..dir.len()].to_string();
                    sub.cd(&dir);
                    rest = after;
                } else if matches!(flag.as_str(), "/affinity" | "/node") {
                    rest = first_word(rest).1;
                }
            }
            let (program, after) = first_word(rest);
            if program == "cmd" || program == "cmd.exe" {
                let mut inner = after.trim();
                while inner.starts_with('/') {
                    inner = first_word(inner).1;
                }
                let inner = inner
                    .strip_prefix('"')
                    .and_then(|s| s.strip_suffix('"'))
                    .unwrap_or(inner);
                for p in split_chain(inner, false, true) {
                    batch_command(&mut sub, &p, n, out);
                }
            } else {
                batch_command(&mut sub, rest, n, out);
            }
        }
        _ => {
            let w = commands::words(part);
            if w.first().is_some_and(|p| program_name(p) == "activate") {
                st.activate(&w[0]);
                return;
            }
            st.launch(n, w, out);
        }
    }
}

// ---- POSIX shell ----

fn shell(path: &Path, text: &str, root: &Path) -> Script {
    let mut st = State::new(path, root, Dialect::Shell);
    let mut out = Vec::new();
    let mut pending = String::new();
    let mut start_line = 0;
    for (i, raw) in text.lines().enumerate() {
        if pending.is_empty() {
            start_line = i + 1;
        }
        if let Some(cont) = raw.strip_suffix('\\') {
            pending.push_str(cont);
            pending.push(' ');
            continue;
        }
        pending.push_str(raw);
        let line = std::mem::take(&mut pending);
        shell_line(&mut st, &line, start_line, &mut out);
    }
    st.finish(out)
}

/// A `#` comment starting a word, outside quotes, removed.
fn strip_comment(line: &str) -> &str {
    let mut quote = None;
    let mut prev = ' ';
    for (i, c) in line.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == '#' && prev.is_whitespace() => return &line[..i],
            None => {}
        }
        prev = c;
    }
    line
}

fn shell_line(st: &mut State, line: &str, n: usize, out: &mut Vec<Launch>) {
    let line = strip_comment(line).trim();
    if line.is_empty() {
        return;
    }
    // `$(cd "$(dirname "$0")" && pwd)` is one value: expanded first.
    let line = shell_expand(st, line);
    for part in split_chain(&line, true, true) {
        let part = part.trim();
        // `( cd frontend && npm run dev )`: a subshell's cd stays inside.
        if let Some(inner) = part.strip_prefix('(').and_then(|p| p.strip_suffix(')')) {
            let mut sub = st.clone();
            for p in split_chain(inner, true, true) {
                shell_command(&mut sub, &p, n, out);
            }
            continue;
        }
        shell_command(st, part, n, out);
    }
}

/// `$VAR`, `${VAR}`, `${VAR:-default}`, `$(dirname "$0")`, `$(pwd)`.
fn shell_expand(st: &mut State, text: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let mut single = false;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            single = !single;
            out.push(c);
            i += 1;
            continue;
        }
        if c != '$' || single || i + 1 >= chars.len() {
            out.push(c);
            i += 1;
            continue;
        }
        let next = chars[i + 1];
        if next == '(' {
            // Find the matching parenthesis.
            let mut depth = 0;
            let mut j = i + 1;
            while j < chars.len() {
                match chars[j] {
                    '(' => depth += 1,
                    ')' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            let inner: String = chars[i + 2..j.min(chars.len())].iter().collect();
            match shell_subst(st, &inner) {
                Some(v) => out.push_str(&v),
                None => out.push('\u{1}'), // unknown: poisons a path
            }
            i = j + 1;
            continue;
        }
        let (name, default, end) = if next == '{' {
            let close = chars[i + 2..]
                .iter()
                .position(|&c| c == '}')
                .map(|p| p + i + 2);
            let Some(close) = close else {
                out.push(c);
                i += 1;
                continue;
            };
            let inner: String = chars[i + 2..close].iter().collect();
            let (name, default) = match inner.split_once(":-").or_else(|| inner.split_once('-')) {
                Some((n, d)) => (n.to_string(), Some(d.to_string())),
                None => (inner, None),
            };
            (name, default, close + 1)
        } else {
            let mut j = i + 1;
            while j < chars.len() && (chars[j].is_ascii_alphanumeric() || chars[j] == '_') {
                j += 1;
                if chars[i + 1].is_ascii_digit() {
                    break;
                }
            }
            (chars[i + 1..j].iter().collect::<String>(), None, j)
        };
        let value = match name.as_str() {
            "0" | "BASH_SOURCE" | "BASH_SOURCE[0]" => {
                st.anchor_seen = true;
                Some(st.script.to_string_lossy().into_owned())
            }
            "PWD" => st.dir.as_ref().map(|d| d.to_string_lossy().into_owned()),
            _ => st.get(&name).cloned().or(default),
        };
        match value {
            Some(v) => out.push_str(&v),
            None => out.push_str(&format!("${name}")),
        }
        i = end;
    }
    out
}

/// The value of `$(…)`: `dirname X`, `cd X && pwd`, `pwd`, `realpath X`.
fn shell_subst(st: &mut State, inner: &str) -> Option<String> {
    let expanded = shell_expand(st, inner);
    let parts = split_chain(&expanded, true, true);
    let mut sub = st.clone();
    let mut value = None;
    for part in parts {
        let w = commands::words(&part);
        let arg = w.get(1).map(|a| a.as_str());
        value = match w.first().map(String::as_str) {
            Some("dirname") => Some(
                Path::new(arg?.trim_end_matches('/'))
                    .parent()?
                    .to_string_lossy()
                    .into_owned(),
            ),
            Some("realpath" | "readlink") => w.last().cloned(),
            Some("pwd") => Some(sub.dir.as_ref()?.to_string_lossy().into_owned()),
            Some("cd") => {
                sub.dir = sub.path(arg?);
                None
            }
            _ => return None,
        };
    }
    st.anchor_seen |= sub.anchor_seen;
    value
}

fn shell_command(st: &mut State, part: &str, n: usize, out: &mut Vec<Launch>) {
    let expanded = shell_expand(st, part);
    if expanded.contains('\u{1}') && !expanded.trim_start().starts_with("cd") {
        return;
    }
    let mut w = Vec::new();
    let mut target_next = false;
    for x in commands::words(&expanded) {
        // Redirections go, with their file (`> log.txt`, `2>&1`, `>log`).
        let redirect = x.starts_with('>') || x.starts_with("2>") || x.starts_with("1>") || x == "<";
        if std::mem::take(&mut target_next) {
            continue;
        }
        if redirect {
            target_next = matches!(x.as_str(), ">" | ">>" | "2>" | "1>" | "<" | "2>>");
            continue;
        }
        w.push(x);
    }
    while let Some(first) = w.first() {
        if matches!(
            first.as_str(),
            "then" | "else" | "do" | "exec" | "nohup" | "command" | "env" | "time" | "{" | "}"
        ) {
            w.remove(0);
        } else {
            break;
        }
    }
    let Some(first) = w.first().cloned() else {
        return;
    };
    match first.as_str() {
        "cd" => {
            if let Some(target) = w.get(1) {
                if target.contains('\u{1}') {
                    st.dir = None;
                } else {
                    st.cd(target);
                }
            }
        }
        "pushd" => {
            if let Some(t) = w.get(1) {
                st.push(t);
            }
        }
        "popd" => st.pop(),
        "source" | "." => {
            if let Some(t) = w.get(1).filter(|t| t.ends_with("activate")) {
                st.activate(t);
            }
        }
        "export" | "local" | "readonly" | "declare" => {
            for a in &w[1..] {
                if let Some((k, v)) = a.split_once('=') {
                    st.set(k, v, n);
                }
            }
        }
        "if" | "fi" | "while" | "for" | "done" | "esac" | "case" | "trap" | "wait" | "echo"
        | "printf" | "set" | "kill" | "sleep" | "read" | "exit" | "return" | "shift"
        | "function" | "mkdir" | "rm" | "cp" | "mv" | "test" | "[" | "[[" | "true" | "false" => {}
        _ => {
            if w.iter().all(|x| x.contains('=') && !x.starts_with('-')) {
                for a in &w {
                    if let Some((k, v)) = a.split_once('=') {
                        st.set(k, v, n);
                    }
                }
                return;
            }
            st.launch(n, w, out);
        }
    }
}

// ---- PowerShell ----

fn powershell(path: &Path, text: &str, root: &Path) -> Script {
    let mut st = State::new(path, root, Dialect::PowerShell);
    let mut out = Vec::new();
    let mut in_comment = false;
    let mut pending = String::new();
    let mut start_line = 0;
    for (i, raw) in text.lines().enumerate() {
        let mut line = raw.trim();
        if in_comment {
            match line.find("#>") {
                Some(end) => {
                    in_comment = false;
                    line = line[end + 2..].trim();
                }
                None => continue,
            }
        }
        if let Some(start) = line.find("<#") {
            in_comment = !line[start..].contains("#>");
            line = line[..start].trim();
        }
        if pending.is_empty() {
            start_line = i + 1;
        }
        // A backtick at the end continues the line; so does a trailing comma.
        if let Some(cont) = line.strip_suffix('`') {
            pending.push_str(cont);
            pending.push(' ');
            continue;
        }
        pending.push_str(line);
        if line.ends_with(',') {
            pending.push(' ');
            continue;
        }
        let line = std::mem::take(&mut pending);
        let line = strip_comment(&line).to_string();
        for part in split_chain(&line, true, false) {
            ps_statement(&mut st, &part, start_line, &mut out);
        }
    }
    st.finish(out)
}

/// A PowerShell token: its text (variables substituted) and whether it was
/// a separate comma.
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// A word and whether it was quoted (a quoted `"-m"` is no parameter name).
    Word(String, bool),
    Comma,
}

/// `$name`, `${name}`, `$env:NAME`, `$PSScriptRoot`, `$MyInvocation.MyCommand.Path`.
fn ps_var(st: &mut State, name: &str) -> Option<String> {
    let lower = name.to_ascii_lowercase();
    let script = st.script.to_string_lossy().into_owned();
    Some(match lower.as_str() {
        "psscriptroot" => {
            st.anchor_seen = true;
            st.script_dir().to_string_lossy().into_owned()
        }
        "pscommandpath" | "myinvocation.mycommand.path" | "myinvocation.mycommand.definition" => {
            st.anchor_seen = true;
            script
        }
        "pwd" => st.dir.as_ref()?.to_string_lossy().into_owned(),
        _ => st.get(&lower).cloned()?,
    })
}

/// Tokens of a statement: quotes removed, `"$x\y"` and `$x` expanded,
/// commas and `@(` `)` as list punctuation.
fn ps_tokens(st: &mut State, stmt: &str) -> Vec<Tok> {
    let chars: Vec<char> = stmt.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let var_end = |chars: &[char], mut j: usize| {
        while j < chars.len()
            && (chars[j].is_ascii_alphanumeric() || matches!(chars[j], '_' | ':' | '.'))
        {
            j += 1;
        }
        // `$x.` at the end of a word: the dot is not the name's.
        while j > 0 && chars[j - 1] == '.' {
            j -= 1;
        }
        j
    };
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() || c == '(' || c == ')' || c == '{' || c == '}' {
            i += 1;
            continue;
        }
        if c == ',' {
            out.push(Tok::Comma);
            i += 1;
            continue;
        }
        if c == '@' && chars.get(i + 1) == Some(&'(') {
            i += 2;
            continue;
        }
        let mut word = String::new();
        let mut poisoned = false;
        let quoted = c == '"' || c == '\'';
        while i < chars.len() {
            let c = chars[i];
            if c.is_whitespace() || c == ',' || c == ')' || c == '(' {
                break;
            }
            if c == '\'' {
                let end = chars[i + 1..]
                    .iter()
                    .position(|&x| x == '\'')
                    .map_or(chars.len(), |p| p + i + 1);
                word.extend(&chars[i + 1..end.min(chars.len())]);
                i = end + 1;
                continue;
            }
            if c == '"' {
                let end = chars[i + 1..]
                    .iter()
                    .position(|&x| x == '"')
                    .map_or(chars.len(), |p| p + i + 1);
                let inner: Vec<char> = chars[i + 1..end.min(chars.len())].to_vec();
                let mut j = 0;
                while j < inner.len() {
                    if inner[j] == '$' {
                        let (name, next) = if inner.get(j + 1) == Some(&'{') {
                            let close = inner[j..]
                                .iter()
                                .position(|&x| x == '}')
                                .map_or(inner.len(), |p| p + j);
                            (inner[j + 2..close].iter().collect::<String>(), close + 1)
                        } else {
                            let e = var_end(&inner, j + 1);
                            (inner[j + 1..e].iter().collect::<String>(), e)
                        };
                        match ps_var(st, &name) {
                            Some(v) => word.push_str(&v),
                            None => poisoned = true,
                        }
                        j = next;
                        continue;
                    }
                    word.push(inner[j]);
                    j += 1;
                }
                i = end + 1;
                continue;
            }
            if c == '$' {
                let (name, next) = if chars.get(i + 1) == Some(&'{') {
                    let close = chars[i..]
                        .iter()
                        .position(|&x| x == '}')
                        .map_or(chars.len(), |p| p + i);
                    (chars[i + 2..close].iter().collect::<String>(), close + 1)
                } else {
                    let e = var_end(&chars, i + 1);
                    (chars[i + 1..e].iter().collect::<String>(), e)
                };
                // `$x = …`: the name itself, for the assignment.
                let rest: String = chars[next..].iter().collect();
                if out.is_empty()
                    && word.is_empty()
                    && rest.trim_start().starts_with('=')
                    && !rest.trim_start().starts_with("==")
                {
                    out.push(Tok::Word(format!("${}", name.to_ascii_lowercase()), false));
                    out.push(Tok::Word("=".into(), false));
                    i = next + rest.find('=').unwrap_or(0) + 1;
                    break;
                }
                match ps_var(st, &name) {
                    Some(v) => word.push_str(&v),
                    None => poisoned = true,
                }
                i = next;
                continue;
            }
            word.push(c);
            i += 1;
        }
        if poisoned {
            word = "\u{1}".into();
        }
        if !word.is_empty() || quoted {
            out.push(Tok::Word(word, quoted));
        }
    }
    out
}

fn tok_words(toks: &[Tok]) -> Vec<String> {
    toks.iter()
        .filter_map(|t| match t {
            Tok::Word(w, _) => Some(w.clone()),
            Tok::Comma => None,
        })
        .collect()
}

/// The value of an expression: a string, `Join-Path A B`, `Split-Path -Parent X`,
/// `Resolve-Path X`.
fn ps_value(toks: &[Tok]) -> Option<String> {
    let words = tok_words(toks);
    let first = words.first()?;
    let args: Vec<&String> = words[1..].iter().filter(|w| !w.starts_with('-')).collect();
    let v = match first.to_ascii_lowercase().as_str() {
        "join-path" => {
            let mut p = PathBuf::from(args.first()?.replace('\\', "/"));
            for a in &args[1..] {
                p.push(a.replace('\\', "/"));
            }
            p.to_string_lossy().into_owned()
        }
        "split-path" => {
            let p = args.first()?.replace('\\', "/");
            Path::new(&p).parent()?.to_string_lossy().into_owned()
        }
        "resolve-path" | "convert-path" => args.first()?.to_string(),
        _ => first.clone(),
    };
    (!v.contains('\u{1}')).then_some(v)
}

fn ps_statement(st: &mut State, stmt: &str, n: usize, out: &mut Vec<Launch>) {
    let toks = ps_tokens(st, stmt);
    let words = tok_words(&toks);
    let Some(first) = words.first() else { return };
    // `$python = ".venv\Scripts\python.exe"`, `$env:PORT = "8001"`.
    if first.starts_with('$') && words.get(1).is_some_and(|w| w == "=") {
        let name = first.trim_start_matches('$');
        let value = ps_value(&toks[2..]);
        if let Some(v) = value {
            st.set(name, &v, n);
            if let Some(port_name) = name.strip_prefix("env:") {
                if port_name.eq_ignore_ascii_case("port") {
                    st.set("PORT", &v, n);
                }
            }
        }
        return;
    }
    let lower = first.to_ascii_lowercase();
    match lower.as_str() {
        "set-location" | "cd" | "sl" | "chdir" | "push-location" | "pushd" => {
            // `Set-Location backend`, `cd (Join-Path $root "backend")`.
            let rest: Vec<Tok> = toks[1..]
                .iter()
                .filter(|t| !matches!(t, Tok::Word(w, false) if w.starts_with('-') && !w.contains(['/', '\\'])))
                .cloned()
                .collect();
            if rest.is_empty() {
                return;
            }
            let t = ps_value(&rest).unwrap_or_else(|| "\u{1}".into());
            if t.contains('\u{1}') {
                st.dir = None;
            } else if lower.starts_with("push") {
                st.push(&t);
            } else {
                st.cd(&t);
            }
        }
        "pop-location" | "popd" => st.pop(),
        "start-process" | "start" | "saps" => ps_start_process(st, &toks[1..], n, out),
        "&" | "." => {
            let rest: Vec<String> = words[1..].to_vec();
            ps_run(st, rest, n, out);
        }
        "write-host"
        | "write-output"
        | "echo"
        | "if"
        | "elseif"
        | "else"
        | "function"
        | "try"
        | "catch"
        | "finally"
        | "param"
        | "wait-process"
        | "stop-process"
        | "start-sleep"
        | "get-job"
        | "start-job"
        | "receive-job"
        | "remove-job"
        | "wait-job"
        | "new-item"
        | "remove-item"
        | "test-path"
        | "exit"
        | "return"
        | "foreach"
        | "while"
        | "read-host"
        | "$erroractionpreference"
        | "trap" => {}
        _ => ps_run(st, words, n, out),
    }
}

/// A command of PowerShell: an activation script, or a program and its arguments.
fn ps_run(st: &mut State, words: Vec<String>, n: usize, out: &mut Vec<Launch>) {
    let Some(first) = words.first() else { return };
    if words.iter().any(|w| w.contains('\u{1}')) {
        return;
    }
    if program_name(first).starts_with("activate") {
        st.activate(first);
        return;
    }
    st.launch(n, words, out);
}

/// `Start-Process -FilePath python -ArgumentList "-m","uvicorn" -WorkingDirectory backend`,
/// and its positional form `Start-Process npm "run dev"`.
fn ps_start_process(st: &mut State, toks: &[Tok], n: usize, out: &mut Vec<Launch>) {
    let mut file: Option<String> = None;
    let mut args: Vec<String> = Vec::new();
    let mut dir: Option<String> = None;
    let mut positional = 0;
    let mut i = 0;
    // A list value: words joined by commas.
    let list = |i: &mut usize| -> Vec<String> {
        let mut items = Vec::new();
        while let Some(Tok::Word(w, _)) = toks.get(*i) {
            items.push(w.clone());
            *i += 1;
            if !matches!(toks.get(*i), Some(Tok::Comma)) {
                break;
            }
            *i += 1;
        }
        items
    };
    while i < toks.len() {
        let Tok::Word(w, quoted) = &toks[i] else {
            i += 1;
            continue;
        };
        let flag = if *quoted {
            String::new()
        } else {
            w.to_ascii_lowercase()
        };
        let named = |prefixes: &[&str]| {
            flag.starts_with('-')
                && flag.len() > 2
                && prefixes.iter().any(|p| p.starts_with(&flag[1..]))
        };
        if named(&["filepath"]) {
            i += 1;
            file = tok_words(toks.get(i..i + 1).unwrap_or_default()).pop();
            i += 1;
        } else if named(&["argumentlist", "args"]) {
            i += 1;
            args = list(&mut i);
        } else if named(&["workingdirectory"]) {
            i += 1;
            dir = tok_words(toks.get(i..i + 1).unwrap_or_default()).pop();
            i += 1;
        } else if named(&[
            "windowstyle",
            "verb",
            "redirectstandardoutput",
            "redirectstandarderror",
            "redirectstandardinput",
            "credential",
        ]) {
            i += 2;
        } else if flag.starts_with('-') && positional == 0 {
            i += 1; // -NoNewWindow, -PassThru, -Wait
        } else if positional == 0 && file.is_none() {
            file = Some(w.clone());
            positional = 1;
            i += 1;
        } else if args.is_empty() && (*quoted || !flag.starts_with('-')) {
            args = list(&mut i);
        } else {
            i += 1;
        }
    }
    let Some(file) = file else { return };
    // A single argument string holds the whole argument line.
    if args.len() == 1 && args[0].contains(' ') {
        args = commands::words(&args[0]);
    }
    let mut sub = st.clone();
    if let Some(d) = dir {
        if d.contains('\u{1}') {
            return;
        }
        sub.cd(&d);
        // `-WorkingDirectory $PSScriptRoot\backend` anchors the script too.
        if st.moved.is_none() {
            st.moved = sub.moved;
        }
        st.runs_from = sub.runs_from.clone();
    }
    let program = program_name(&file);
    if matches!(program.as_str(), "cmd" | "powershell" | "pwsh") {
        let inner: Vec<String> = args
            .iter()
            .skip_while(|a| a.starts_with('/') || a.starts_with('-'))
            .cloned()
            .collect();
        let line = inner.join(" ");
        for part in split_chain(&line, true, true) {
            let w = commands::words(&part);
            match w.first().map(|f| f.to_ascii_lowercase()) {
                Some(f) if f == "cd" || f == "set-location" => {
                    if let Some(t) = w.get(1) {
                        sub.cd(t);
                    }
                }
                _ => ps_run(&mut sub, w, n, out),
            }
        }
        return;
    }
    let mut words = vec![file];
    words.extend(args);
    ps_run(&mut sub, words, n, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(name: &str, text: &str) -> Script {
        read_script(&Path::new("/p").join(name), text, Path::new("/p"))
    }

    fn summary(s: &Script) -> Vec<(usize, String, String)> {
        s.launches
            .iter()
            .map(|l| {
                (
                    l.line,
                    l.dir.to_string_lossy().into_owned(),
                    l.words.join(" "),
                )
            })
            .collect()
    }

    #[test]
    fn batch_scripts() {
        let s = read(
            "scripts/start_backend.bat",
            "@echo off\r\nREM start the API\r\ncd /d %~dp0..\r\ncd backend\r\ncall venv\\Scripts\\activate.bat\r\npython -m uvicorn main:app --port 8001 --reload\r\npause\r\n",
        );
        assert_eq!(
            summary(&s),
            [(
                6,
                "/p/backend".into(),
                "python -m uvicorn main:app --port 8001 --reload".into()
            )]
        );
        assert!(s.anchored);
        assert_eq!(
            s.launches[0].venv.as_deref(),
            Some(Path::new("/p/backend/venv"))
        );
        let server = commands::parse_words(&s.launches[0].words).unwrap();
        assert_eq!((server.port, server.reloads), (Some(8001), true));

        // Both halves from one script, each in its own window.
        let s = read(
            "start.bat",
            ":: dev stack\n@echo off\nstart \"\" cmd /k \"cd backend && py main.py\"\nstart \"web\" cmd /k \"cd frontend && npm run dev\"\ntimeout /t 2\n",
        );
        assert_eq!(
            summary(&s),
            [
                (3, "/p/backend".into(), "py main.py".into()),
                (4, "/p/frontend".into(), "npm run dev".into())
            ]
        );
        assert!(!s.anchored);

        // `set PORT=…` then a command; `start /B`; `if exist … call activate`.
        let s = read(
            "run_dev.cmd",
            "setlocal\nset PORT=3001\ncd web\nnpm start\ncd ..\\api\nif exist .venv\\Scripts\\activate.bat call .venv\\Scripts\\activate.bat\nif not exist .venv ( python -m venv .venv )\nstart /B py main.py\nstart /D api2 /MIN uvicorn app:app --port %PORT%\n",
        );
        let got = summary(&s);
        assert_eq!(got[0], (4, "/p/web".into(), "npm start".into()));
        assert_eq!(s.launches[0].env_port, Some((3001, 2)));
        assert_eq!(got[1], (8, "/p/api".into(), "py main.py".into()));
        assert_eq!(
            s.launches[1].venv.as_deref(),
            Some(Path::new("/p/api/.venv"))
        );
        assert_eq!(
            got[2],
            (
                9,
                "/p/api/api2".into(),
                "uvicorn app:app --port 3001".into()
            )
        );
        assert_eq!(got.len(), 3);
    }

    #[test]
    fn powershell_scripts() {
        let s = read(
            "start.ps1",
            "# Starts the API\n$ErrorActionPreference = \"Stop\"\n$root = Split-Path -Parent $MyInvocation.MyCommand.Path\nSet-Location (Join-Path $root \"backend\")\n$python = \".venv\\Scripts\\python.exe\"\n& $python -m uvicorn main:app --port 8001 --reload\n",
        );
        assert_eq!(
            summary(&s),
            [(
                6,
                "/p/backend".into(),
                ".venv\\Scripts\\python.exe -m uvicorn main:app --port 8001 --reload".into()
            )]
        );
        assert!(s.anchored);

        let s = read(
            "scripts/dev.ps1",
            "<# both servers\n#>\nStart-Process -FilePath python -ArgumentList \"-m\",\"uvicorn\",\"main:app\",\"--port\",\"8001\" -WorkingDirectory \"$PSScriptRoot\\..\\backend\" -NoNewWindow\nStart-Process npm -ArgumentList \"run\",\"dev\" -WorkingDirectory \"$PSScriptRoot\\..\\frontend\"\n",
        );
        assert_eq!(
            summary(&s),
            [
                (
                    3,
                    "/p/backend".into(),
                    "python -m uvicorn main:app --port 8001".into()
                ),
                (4, "/p/frontend".into(), "npm run dev".into())
            ]
        );
        assert!(s.anchored);

        let s = read(
            "run.ps1",
            "$env:PORT = \"3002\"\nSet-Location frontend\nnpm run dev\nSet-Location ..\\backend\n.\\venv\\Scripts\\Activate.ps1\nStart-Process python \"-m flask --app app run --port 5001\"\n",
        );
        let got = summary(&s);
        assert_eq!(got[0], (3, "/p/frontend".into(), "npm run dev".into()));
        assert_eq!(s.launches[0].env_port, Some((3002, 1)));
        assert_eq!(
            got[1],
            (
                6,
                "/p/backend".into(),
                "python -m flask --app app run --port 5001".into()
            )
        );
        assert_eq!(
            s.launches[1].venv.as_deref(),
            Some(Path::new("/p/backend/venv"))
        );
        assert!(!s.anchored);
    }

    #[test]
    fn shell_scripts() {
        let s = read(
            "run.sh",
            "#!/usr/bin/env bash\nset -euo pipefail\nROOT=\"$(cd \"$(dirname \"$0\")\" && pwd)\"\ncd \"$ROOT/backend\"\nsource .venv/bin/activate\nuvicorn app.main:app --reload --port \"${API_PORT:-8010}\" &\n(cd \"$ROOT/frontend\" && npm run dev) &\nwait\n",
        );
        assert_eq!(
            summary(&s),
            [
                (
                    6,
                    "/p/backend".into(),
                    "uvicorn app.main:app --reload --port 8010".into()
                ),
                (7, "/p/frontend".into(), "npm run dev".into())
            ]
        );
        assert!(s.anchored);
        assert_eq!(
            s.launches[0].venv.as_deref(),
            Some(Path::new("/p/backend/.venv"))
        );

        let s = read(
            "dev.sh",
            "#!/bin/sh\n# the API\ncd backend || exit 1\nexport PORT=8002\nexec python main.py --port $PORT 2>&1 | tee log.txt\n",
        );
        assert_eq!(
            summary(&s),
            [(5, "/p/backend".into(), "python main.py --port 8002".into())]
        );
        let s = read(
            "start.sh",
            "npm --prefix web run dev &\nnohup gunicorn app:app -b 127.0.0.1:9000 > g.log 2>&1 &\nnpm run build\n",
        );
        assert_eq!(
            npm_script(&s.launches[0].words),
            Some(("dev".into(), Some("web".into())))
        );
        assert_eq!(
            s.launches[1].words.join(" "),
            "gunicorn app:app -b 127.0.0.1:9000"
        );
        assert_eq!(s.launches.len(), 2, "npm run build starts no server");
    }

    #[test]
    fn commands_as_typed_here() {
        let l = Launch {
            line: 1,
            dir: "/p/backend".into(),
            words: commands::words("python -m uvicorn main:app --port 8001"),
            venv: Some("/p/backend/venv".into()),
            own_python: false,
            env_port: None,
            env: Vec::new(),
        };
        let shown = render(&l, Dialect::Batch, Path::new("/p"));
        if cfg!(windows) {
            assert_eq!(
                shown,
                "venv\\Scripts\\python -m uvicorn main:app --port 8001"
            );
        } else {
            assert_eq!(shown, "venv/bin/python -m uvicorn main:app --port 8001");
        }
        let l = Launch {
            venv: Some("/p/.venv".into()),
            words: commands::words("py app\\main.py"),
            ..l
        };
        if !cfg!(windows) {
            assert_eq!(
                render(&l, Dialect::Batch, Path::new("/p")),
                "../.venv/bin/python app/main.py"
            );
            let bare = Launch {
                venv: None,
                ..l.clone()
            };
            assert_eq!(
                render(&bare, Dialect::Batch, Path::new("/p")),
                "python3 app/main.py"
            );
            let direct = Launch {
                words: commands::words(".venv\\Scripts\\uvicorn.exe main:app"),
                venv: None,
                ..l
            };
            assert_eq!(
                render(&direct, Dialect::PowerShell, Path::new("/p")),
                ".venv/bin/uvicorn main:app"
            );
        }
        assert!(is_start_script(Path::new("start_backend.bat")).is_some());
        assert!(is_start_script(Path::new("start_all.py")).is_some());
        assert!(is_start_script(Path::new("run_tests.sh")).is_none());
        assert!(is_start_script(Path::new("deploy.ps1")).is_none());
        assert!(is_start_script(Path::new("server.py")).is_none());
    }

    #[test]
    fn chains() {
        assert_eq!(
            split_chain("cd a && b 2>&1 | tee x & c", true, true),
            ["cd a", "b 2>&1", "c"]
        );
        assert_eq!(
            split_chain("cd backend || exit 1", true, true),
            ["cd backend"]
        );
        assert_eq!(
            split_chain("start \"\" cmd /k \"cd a && b\"", false, true),
            ["start \"\" cmd /k \"cd a && b\""]
        );
        assert_eq!(
            split_chain("& $py -m x; cd b", true, false),
            ["& $py -m x", "cd b"]
        );
    }
}

#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;
    use std::path::Path;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// A start script of any text, in any dialect, never panics the readers.
        #[test]
        fn scripts_of_any_text_never_panic(
            text in "([a-z%!$~:;&|()\\\\/\"'`=., -]|\n|cd |start |set |call |Start-Process |subprocess.Popen\\(\\[|npm run dev|uvicorn ){0,60}",
        ) {
            for name in ["start.bat", "start.ps1", "run.sh", "start.py"] {
                let _ = super::read_script(&Path::new("/p/scripts").join(name), &text, Path::new("/p"));
            }
        }
    }
}
