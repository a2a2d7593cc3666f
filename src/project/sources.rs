//! Discovery sources: each reads one kind of file as text (never executing
//! anything) and adds what it says to the project, with file:line.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::code::{health_routes, CodeIndex};
use super::commands::{self, ServerCommand};
use super::jsconfig;
use super::{
    quoted_urls, read_bounded, service_name, Project, Service, Unreadable, ENV_FILES, VITE_CONFIGS,
};

const NEXT_CONFIGS: &[&str] = &[
    "next.config.js",
    "next.config.mjs",
    "next.config.ts",
    "next.config.cjs",
];
const COMPOSE_FILES: &[&str] = &[
    "docker-compose.yml",
    "docker-compose.yaml",
    "compose.yml",
    "compose.yaml",
    // Dev files, the ones a README runs with `-f` for local work.
    "docker-compose.dev.yml",
    "docker-compose.dev.yaml",
    "compose.dev.yml",
    "compose.dev.yaml",
    "docker-compose.local.yml",
    "docker-compose.override.yml",
    "docker-compose.override.yaml",
    "compose.override.yml",
    "compose.override.yaml",
];
/// Python entry conventions, as paths and the module each names.
const PY_ENTRIES: &[(&str, &str)] = &[
    ("main.py", "main"),
    ("app.py", "app"),
    ("app/main.py", "app.main"),
    ("server.py", "server"),
];

pub fn scan(project: &mut Project) {
    project.code = CodeIndex::build(&project.root);
    let folders = project.folders.clone();
    // Servers first, then the URLs that point at them.
    for dir in &folders {
        package_json(project, dir);
        procfile(project, dir);
        compose(project, dir);
        python(project, dir);
    }
    for dir in &folders {
        for name in VITE_CONFIGS {
            vite_config(project, &dir.join(name));
        }
        for name in NEXT_CONFIGS {
            next_config(project, &dir.join(name));
        }
        dev_server_proxies(project, &dir.join("src/setupProxy.js"), true);
        dev_server_proxies(project, &dir.join("webpack.config.js"), false);
    }
    // Start scripts (start.bat, start.ps1, run.sh, start.py), once the
    // frontends' configs have settled their services.
    super::launchers::scan(project);
    for dir in &folders {
        for name in ENV_FILES {
            env_file(project, &dir.join(name));
        }
    }
    frontend_code_urls(project);
    // Health routes the backends declare in their own source.
    let code = std::mem::take(&mut project.code);
    for s in project.services.iter_mut() {
        if s.health.is_none() && s.is_http() && !s.is_frontend() {
            if let Some(folder) = s.run_folder().cloned() {
                s.routes = health_routes(&code, &folder);
            }
        }
    }
    project.code = code;
}

fn read(project: &mut Project, path: &Path) -> Option<String> {
    if std::fs::symlink_metadata(path).is_err() {
        return None;
    }
    match read_bounded(path) {
        Ok(text) => Some(text),
        Err(e) => {
            project.unreadable.push(Unreadable {
                path: project.relative(path),
                error: e.to_string(),
            });
            None
        }
    }
}

/// The 1-based line of the first line containing `needle`, else 1.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map_or(1, |i| i + 1)
}

fn with_folder(project: &Project, mut s: Service, dir: &Path) -> Service {
    s.folder_shown = project.shown(dir);
    s.folder = Some(dir.to_path_buf());
    s
}

/// The port a command names (`--port 8000`, `-p`, `PORT=`, `--bind host:8000`).
pub fn port_in_command(cmd: &str) -> Option<u16> {
    commands::port_in_words(&commands::words(cmd))
}

fn package_json(project: &mut Project, dir: &Path) {
    let path = dir.join("package.json");
    let Some(text) = read(project, &path) else {
        return;
    };
    let rel = project.relative(&path);
    let json: Value = match serde_json::from_str(text.trim_start_matches('\u{feff}')) {
        Ok(v) => v,
        Err(e) => {
            project.unreadable.push(Unreadable {
                path: rel,
                error: format!("not valid JSON: {e}"),
            });
            return;
        }
    };
    scripts_starting_python(project, dir, &text, &json);
    let has = |dep: &str| {
        ["dependencies", "devDependencies"]
            .iter()
            .any(|k| json[k].get(dep).is_some())
    };
    let (kind, default) = if has("next") {
        ("next", 3000)
    } else if has("react-scripts") {
        ("cra", 3000)
    } else if has("nuxt") {
        ("nuxt", 3000)
    } else if has("astro") {
        ("astro", 4321)
    } else if has("@sveltejs/kit") {
        ("sveltekit", 5173)
    } else if has("vite") {
        ("vite", 5173)
    } else if has("express") || has("fastify") || has("koa") {
        ("express", 3000)
    } else {
        return;
    };
    let name = json["name"]
        .as_str()
        .map(String::from)
        .unwrap_or_else(|| folder_name(dir));
    // The script that runs this tool as a server (`"next-dev": "next dev
    // --port 3001"`), else the conventional dev/start/serve.
    let runs_tool = json["scripts"].as_object().and_then(|all| {
        all.iter().find_map(|(k, v)| {
            let cmd = v.as_str()?;
            let server = commands::parse(cmd)?;
            // `vite build` is the same tool, not the server.
            (server.kind == kind && (server.reloads || kind == "express"))
                .then(|| (k.clone(), cmd.to_string()))
        })
    });
    let script = runs_tool.or_else(|| {
        ["dev", "start", "serve"].iter().find_map(|k| {
            json["scripts"][k]
                .as_str()
                .map(|v| (k.to_string(), v.to_string()))
        })
    });
    let mut port = None;
    let mut source = format!("{rel}:{}", line_of(&text, &format!("\"{kind}\"")));
    if let Some((key, cmd)) = &script {
        if let Some(p) = port_in_command(cmd) {
            port = Some(p);
            source = format!("{rel}:{}", line_of(&text, &format!("\"{key}\"")));
        }
    }
    // Create React App reads `PORT` from the package's env files; an
    // exported PORT would win over them.
    if port.is_none() && kind == "cra" {
        let env = super::env_file_values(dir, crate::frameworks::cra::CRA.env_files);
        if let Some((value, path, line)) = env.get("PORT") {
            if let Ok(p) = value.parse::<u16>() {
                port = Some(p);
                source = format!("{}:{line}", project.relative(path));
            }
        }
    }
    // A node server's port is in its code: `app.listen(process.env.PORT ||
    // 9000)`, or a constant it passes (`const PORT = process.env.PORT ?? 4000`).
    if port.is_none() && kind == "express" {
        if let Some((file, line, p)) =
            node_listen_port(dir, &json, script.as_ref().map(|(_, c)| c.as_str()))
        {
            port = Some(p);
            source = format!("{}:{line}", project.relative(&file));
            // `process.env.PORT || 9000` in a server that loads its `.env`
            // with dotenv: the file's PORT is the port it listens on.
            if let Some((p, at)) = dotenv_port(&file, line, dir) {
                port = Some(p);
                source = format!("{}:{at}", project.relative(&dir.join(".env")));
            }
        }
    }
    let reloads = script
        .as_ref()
        .and_then(|(_, cmd)| commands::parse(cmd))
        .is_some_and(|c| c.reloads);
    let mut s = with_folder(
        project,
        Service::at(name, port.unwrap_or(default), source),
        dir,
    );
    s.kind = Some(kind.into());
    s.start = script.map(|(k, _)| format!("npm run {k}"));
    s.default_port = port.is_none();
    s.reloads = reloads;
    if s.is_frontend() {
        s.origin = Some(format!("http://localhost:{}", s.port));
    }
    project.add_server(s);
    // Create React App's dev proxy: the backend it forwards to.
    if let Some(proxy) = json["proxy"].as_str() {
        let source = format!("{rel}:{}", line_of(&text, "\"proxy\""));
        if let Some(s) = Service::from_url(proxy, "proxy target".into(), source) {
            project.add_reference(s);
        }
    }
}

/// The PORT a node server's own `.env` gives it, when its entry loads that
/// file (`require("dotenv").config()`, `import "dotenv/config"`) and the
/// port line reads `process.env.PORT`: (port, line of `.env`).
fn dotenv_port(entry: &Path, port_line: usize, dir: &Path) -> Option<(u16, usize)> {
    let text = read_bounded(entry).ok()?;
    let reads_port = text
        .lines()
        .nth(port_line.checked_sub(1)?)
        .is_some_and(|l| l.contains("process.env.PORT"));
    let loads_dotenv = text.lines().any(|l| {
        let l = l.trim();
        !l.starts_with("//")
            && l.contains("dotenv")
            && (l.contains(".config(") || l.contains("dotenv/config"))
    });
    if !reads_port || !loads_dotenv {
        return None;
    }
    let env = super::env_file_values(dir, &[".env"]);
    let (value, _, line) = env.get("PORT")?;
    Some((value.parse().ok()?, *line))
}

/// The port a node server's entry file passes to `listen(…)`: a number,
/// the fallback of `process.env.X || N` / `?? N`, or a constant set so.
/// The entry is the file the start script runs, else `main`, else the usual
/// names. A bounded text scan of one file (the entry), line by line.
fn node_listen_port(
    dir: &Path,
    json: &Value,
    script: Option<&str>,
) -> Option<(PathBuf, usize, u16)> {
    let from_script = script.and_then(|cmd| {
        commands::words(cmd).into_iter().find(|w| {
            [".js", ".mjs", ".cjs", ".ts"]
                .iter()
                .any(|e| w.ends_with(e))
        })
    });
    let candidates = from_script
        .into_iter()
        .chain(json["main"].as_str().map(String::from))
        .chain(
            [
                "server.js",
                "index.js",
                "app.js",
                "src/server.js",
                "src/index.js",
                "src/app.js",
                "src/server.ts",
                "src/index.ts",
            ]
            .map(String::from),
        );
    for name in candidates {
        let file = dir.join(&name);
        let Ok(text) = read_bounded(&file) else {
            continue;
        };
        let fallback = |expr: &str| -> Option<u16> {
            let expr = expr.trim().trim_end_matches([';', ')', ',']);
            if let Ok(p) = expr.parse::<u16>() {
                return Some(p);
            }
            let tail = expr.rsplit(['|', '?']).next()?.trim();
            let digits: String = tail
                .trim_start_matches(['(', ' '])
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits
                .parse::<u16>()
                .ok()
                .filter(|_| expr.contains("||") || expr.contains("??"))
        };
        for (i, line) in text.lines().enumerate() {
            let Some(at) = line.find(".listen(") else {
                continue;
            };
            let arg: String = line[at + 8..]
                .chars()
                .take_while(|c| *c != ',' && *c != ')')
                .collect();
            let arg = arg.trim();
            if let Some(p) = fallback(arg).or_else(|| arg.parse().ok()) {
                return Some((file, i + 1, p));
            }
            // A constant: `const PORT = process.env.PORT || 9000`.
            if arg.chars().all(|c| c.is_alphanumeric() || c == '_') && !arg.is_empty() {
                for (j, l) in text.lines().enumerate() {
                    let l = l.trim();
                    let decl = ["const ", "let ", "var "]
                        .iter()
                        .find_map(|k| l.strip_prefix(k));
                    if let Some(rest) = decl
                        .and_then(|r| r.strip_prefix(arg))
                        .and_then(|r| r.trim_start().strip_prefix('='))
                    {
                        if let Some(p) = fallback(rest) {
                            return Some((file, j + 1, p));
                        }
                    }
                }
            }
        }
    }
    None
}

/// Python servers that package.json scripts start, directly
/// (`"dev:api": "uvicorn app.main:app"`) or through a launcher script they
/// run (`"dev": "node scripts/dev.mjs"`). The command runs in `dir`, as npm
/// runs it, so a module named there is imported from `dir`.
fn scripts_starting_python(project: &mut Project, dir: &Path, text: &str, json: &Value) {
    let Some(scripts) = json["scripts"].as_object() else {
        return;
    };
    let rel = project.relative(&dir.join("package.json"));
    for (name, cmd) in scripts {
        let Some(cmd) = cmd.as_str() else { continue };
        let line = line_of(text, &format!("\"{name}\""));
        let start = format!("npm run {name}");
        if let Some(server) = commands::parse(cmd).filter(is_python_server) {
            let source = format!("{rel}:{line}");
            python_server(project, dir, &server, (source, start.clone()), None);
            continue;
        }
        let Some(script) = commands::local_script(cmd) else {
            continue;
        };
        let path = dir.join(&script);
        let Some(body) = read(project, &path) else {
            continue;
        };
        let script_rel = project.relative(&path);
        for (at, server) in commands::in_script(&body, script.ends_with(".sh")) {
            if is_python_server(&server) {
                let source = format!("{script_rel}:{at}");
                python_server(project, dir, &server, (source, start.clone()), None);
            }
        }
    }
}

fn is_python_server(s: &ServerCommand) -> bool {
    matches!(s.kind, "fastapi" | "flask" | "django" | "python")
}

/// The folder a Python app's requirements and environment belong to: the
/// nearest folder from the app's own up to where it is run that declares
/// requirements or holds a virtual environment, else where it is run.
fn python_home(run_dir: &Path, app_file: Option<&Path>) -> std::path::PathBuf {
    let mut at = app_file.and_then(Path::parent);
    while let Some(dir) = at {
        if !dir.starts_with(run_dir) {
            break;
        }
        let declares = [
            "requirements.txt",
            "pyproject.toml",
            "Pipfile",
            ".venv",
            "venv",
        ]
        .iter()
        .any(|n| dir.join(n).exists());
        if declares {
            return dir.to_path_buf();
        }
        if dir == run_dir {
            break;
        }
        at = dir.parent();
    }
    run_dir.to_path_buf()
}

/// A Python server a start command names, run from `base` (+ its `cd`).
fn python_server(
    project: &mut Project,
    base: &Path,
    server: &ServerCommand,
    source_and_start: (String, String),
    name: Option<&str>,
) {
    if let Some(s) = python_service(project, base, server, source_and_start, name) {
        project.add_server(s);
    }
}

/// The service of a Python server a start command names, run from `base`
/// (+ its `cd`). `python main.py` serves the app of a file that runs
/// itself (`uvicorn.run(app, port=8001)`, `app.run(port=5001)`), on the
/// port that call names.
pub(super) fn python_service(
    project: &mut Project,
    base: &Path,
    server: &ServerCommand,
    (source, start): (String, String),
    name: Option<&str>,
) -> Option<Service> {
    let run_dir = commands::run_folder(base, server);
    let mut kind = server.kind;
    let mut server = server.clone();
    if kind == "python" {
        let file = server
            .entry
            .as_ref()
            .map(|m| run_dir.join(format!("{}.py", m.replace('.', "/"))));
        let text = file.and_then(|f| read_bounded(&f).ok()).unwrap_or_default();
        kind = if text.contains("FastAPI(") {
            "fastapi"
        } else if text.contains("Flask(") {
            "flask"
        } else {
            return None;
        };
        if let Some((run, _)) = super::pyserve::run_call(&text) {
            server.port = server.port.or(run.port);
            server.reloads |= run.reloads;
        }
    }
    // The framework's own default when the command names no port.
    let default = crate::frameworks::default_port(kind).unwrap_or(8000);
    let mut s = Service::at(
        name.unwrap_or("backend"),
        server.port.unwrap_or(default),
        source,
    );
    s.kind = Some(kind.into());
    s.entry = server.entry.clone();
    s.package_root_shown = project.shown(&run_dir);
    s.package_root = Some(run_dir.clone());
    let home = python_home(&run_dir, s.app_file().as_deref());
    if home != project.root {
        s.name = folder_name(&home);
    }
    s = with_folder(project, s, &home);
    s.default_port = server.port.is_none();
    s.reloads = server.reloads;
    s.start = Some(start);
    s.start_in = project.shown(base);
    if kind == "django" {
        s.entry = None;
    }
    Some(s)
}

fn folder_name(dir: &Path) -> String {
    dir.file_name()
        .map_or("app".into(), |n| n.to_string_lossy().into_owned())
}

fn procfile(project: &mut Project, dir: &Path) {
    let path = dir.join("Procfile");
    let Some(text) = read(project, &path) else {
        return;
    };
    let rel = project.relative(&path);
    for (i, line) in text.lines().enumerate() {
        let Some((name, cmd)) = line.split_once(':') else {
            continue;
        };
        let (name, cmd) = (name.trim(), cmd.trim());
        if name.is_empty() || name.starts_with('#') || name.contains(' ') {
            continue;
        }
        let Some(port) = commands::parse(cmd)
            .and_then(|c| c.port)
            .or_else(|| port_in_command(cmd))
        else {
            continue;
        };
        let source = format!("{rel}:{}", i + 1);
        if let Some(server) = commands::parse(cmd).filter(is_python_server) {
            python_server(project, dir, &server, (source, cmd.to_string()), Some(name));
            continue;
        }
        let mut s = with_folder(project, Service::at(name, port, source), dir);
        s.kind = kind_of_command(cmd).map(String::from);
        s.entry = asgi_module(cmd);
        s.reloads = commands::parse(cmd).is_some_and(|c| c.reloads);
        s.start = Some(cmd.to_string());
        project.add_server(s);
    }
}

fn kind_of_command(cmd: &str) -> Option<&'static str> {
    Some(if cmd.contains("uvicorn") || cmd.contains("fastapi") {
        "fastapi"
    } else if cmd.contains("flask") {
        "flask"
    } else if cmd.contains("manage.py") || cmd.contains("django") {
        "django"
    } else if cmd.contains("gunicorn") || cmd.contains("python") {
        "python"
    } else if cmd.contains("node") || cmd.contains("npm") {
        "express"
    } else {
        return None;
    })
}

/// `uvicorn main:app` / `gunicorn app.main:app` → the module part.
fn asgi_module(cmd: &str) -> Option<String> {
    cmd.split_whitespace()
        .skip_while(|w| {
            !(w.contains("uvicorn") || w.contains("gunicorn") || w.contains("hypercorn"))
        })
        .skip(1)
        .find(|w| !w.starts_with('-') && w.contains(':') && !w.contains('/'))
        .map(|w| w.split(':').next().unwrap_or(w).to_string())
}

fn compose(project: &mut Project, dir: &Path) {
    for name in COMPOSE_FILES {
        let path = dir.join(name);
        let Some(text) = read(project, &path) else {
            continue;
        };
        let rel = project.relative(&path);
        let docs = match super::yaml::load(&text) {
            Ok(d) => d,
            Err(error) => {
                project.unreadable.push(Unreadable { path: rel, error });
                continue;
            }
        };
        if let Some(doc) = docs.first() {
            let model = super::compose::parse(doc, &text, &rel, dir);
            project.compose.extend(model);
        }
        let Some(services) = docs.first().and_then(|d| d["services"].as_hash()) else {
            continue;
        };
        for (key, def) in services {
            let Some(svc) = key.as_str() else { continue };
            let image = def["image"]
                .as_str()
                .unwrap_or_default()
                .to_ascii_lowercase();
            let kind = ["postgres", "redis", "mysql", "mariadb", "mongo", "rabbitmq"]
                .iter()
                .find(|k| image.contains(*k) || svc.contains(*k))
                .map(|k| match *k {
                    "mariadb" => "mysql",
                    "mongo" => "mongodb",
                    k => k,
                });
            for entry in def["ports"].as_vec().into_iter().flatten() {
                let (published, needle) = match entry {
                    yaml_rust2::Yaml::String(s) => (published_port(s), s.clone()),
                    yaml_rust2::Yaml::Integer(_) => (None, String::new()), // container port only
                    other => {
                        let p = other["published"]
                            .as_i64()
                            .or_else(|| other["published"].as_str()?.parse().ok());
                        (p.and_then(|p| u16::try_from(p).ok()), "published".into())
                    }
                };
                let Some(port) = published else { continue };
                let line = if needle.is_empty() {
                    1
                } else {
                    line_of(&text, &needle)
                };
                let mut s = Service::at(svc, port, format!("{rel}:{line}"));
                s.kind = kind.map(String::from);
                // A container that is neither a database nor one of the
                // project's own servers (a mail catcher, an admin UI, a
                // proxy) is only needed when the whole compose stack runs.
                s.expected = kind.is_some()
                    || project
                        .services
                        .iter()
                        .any(|e| e.port == port && e.expected);
                project.add_server(s);
            }
        }
    }
}

/// `"8000:8000"`, `"127.0.0.1:5432:5432"`, `"5432:5432/tcp"` → the host port;
/// `"5432"` alone publishes nothing fixed.
fn published_port(spec: &str) -> Option<u16> {
    let spec = interpolate_defaults(spec);
    let spec = spec.split('/').next()?;
    let parts: Vec<&str> = spec.rsplitn(3, ':').collect();
    if parts.len() < 2 {
        return None;
    }
    parts[1].split('-').next()?.parse().ok()
}

/// `${POSTGRES_PORT:-5432}` → `5432`: compose's own defaults.
pub(super) fn interpolate_defaults(spec: &str) -> String {
    let mut out = String::new();
    let mut rest = spec;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[i..]);
            return out;
        };
        let inner = &after[..end];
        if let Some((_, default)) = inner.split_once(":-").or_else(|| inner.split_once('-')) {
            out.push_str(default);
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

fn python(project: &mut Project, dir: &Path) {
    let mut declared = String::new();
    for name in [
        "requirements.txt",
        "requirements-dev.txt",
        "pyproject.toml",
        "Pipfile",
    ] {
        if let Some(t) = read(project, &dir.join(name)) {
            declared.push_str(&t.to_ascii_lowercase());
        }
    }
    let rel_dir = project.relative(dir);
    let at = |file: &str| {
        if rel_dir.is_empty() {
            file.to_string()
        } else {
            format!("{rel_dir}/{file}")
        }
    };
    if dir.join("manage.py").is_file() {
        let mut s = with_folder(
            project,
            Service::at(folder_name(dir), 8000, format!("{}:1", at("manage.py"))),
            dir,
        );
        s.kind = Some("django".into());
        s.start = Some("python manage.py runserver".into());
        s.default_port = true;
        s.reloads = true;
        project.add_server(s);
        return;
    }
    if flaskenv(project, dir) {
        return;
    }
    let mut entries: Vec<String> = PY_ENTRIES.iter().map(|(f, _)| f.to_string()).collect();
    // src/<package>/main.py, importable with PYTHONPATH=src.
    if let Ok(subs) = std::fs::read_dir(dir.join("src")) {
        for sub in subs
            .flatten()
            .filter(|e| e.path().join("main.py").is_file())
        {
            let pkg = sub.file_name().to_string_lossy().into_owned();
            entries.push(format!("src/{pkg}/main.py"));
        }
    }
    for file in entries {
        let path = dir.join(&file);
        let Ok(text) = read_bounded(&path) else {
            continue;
        };
        let kind = if text.contains("FastAPI(") {
            "fastapi"
        } else if text.contains("Flask(") {
            "flask"
        } else {
            continue;
        };
        if !(declared.is_empty() || declared.contains(kind)) {
            return;
        }
        let (package_root, module) = module_of_file(dir, &path);
        let run = super::pyserve::run_call(&text);
        let reader = run.as_ref().map(|(_, r)| *r);
        let (port, line, default) = match run.filter(|(c, _)| c.port.is_some()) {
            Some((call, _)) => (call.port, call.line, false),
            None => (
                None,
                line_of(
                    &text,
                    if kind == "fastapi" {
                        "FastAPI("
                    } else {
                        "Flask("
                    },
                ),
                true,
            ),
        };
        let port = port.unwrap_or(crate::frameworks::default_port(kind).unwrap_or(8000));
        let mut s = with_folder(
            project,
            Service::at(folder_name(dir), port, format!("{}:{line}", at(&file))),
            dir,
        );
        if let Some(reader) = reader {
            // `-v` says which reader read the server's own `.run(...)`.
            s.learn("reader", reader, &format!("{}:{line}", at(&file)));
        }
        s.kind = Some(kind.into());
        s.entry = Some(module.clone());
        s.guessed_entry = true;
        s.package_root_shown = project.shown(&package_root);
        s.package_root = Some(package_root.clone());
        s.default_port = default;
        // A file that serves itself (`if __name__ == "__main__":
        // uvicorn.run(app, port=8001)`) starts as `python main.py`.
        let runs_itself =
            text.contains("__main__") && text.contains(".run(") && !file.contains('/');
        s.start = Some(match kind {
            _ if runs_itself => format!("python {file}"),
            "fastapi" => format!("uvicorn {module}:app --port {port}"),
            _ => format!("flask --app {module} run --port {port}"),
        });
        project.add_server(s);
        return;
    }
}

/// The module name of a Python file found in `dir` and the folder it is
/// imported from: `dir`, or above it while `dir` is itself a package
/// (`__init__.py`), so `backend/app/main.py` with `backend/__init__.py` is
/// `backend.app.main` imported from the repository root.
pub fn module_of_file(dir: &Path, file: &Path) -> (std::path::PathBuf, String) {
    let rel = file.strip_prefix(dir).unwrap_or(file).with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let mut root = dir.to_path_buf();
    // The src layout: `src/pkg/main.py` is `pkg.main` with `src` on the path.
    if parts.len() > 2 && parts[0] == "src" {
        parts.remove(0);
        root = dir.join("src");
    }
    while root.join("__init__.py").is_file() {
        let Some(name) = root.file_name().map(|n| n.to_string_lossy().into_owned()) else {
            break;
        };
        parts.insert(0, name);
        match root.parent() {
            Some(parent) => root = parent.to_path_buf(),
            None => break,
        }
    }
    (root, parts.join("."))
}

/// `.flaskenv`: `FLASK_APP` names the app (module, `module:app` or a
/// factory `module:create_app()`), imported from this folder, which is
/// where `flask run` reads the file; `FLASK_RUN_PORT` and `FLASK_DEBUG`.
fn flaskenv(project: &mut Project, dir: &Path) -> bool {
    let path = dir.join(".flaskenv");
    let Some(text) = read(project, &path) else {
        return false;
    };
    let rel = project.relative(&path);
    let (mut app, mut port, mut reloads) = (None, None, false);
    for (i, line) in text.lines().enumerate() {
        match super::parse_env_line(line) {
            Some(("FLASK_APP", v)) => app = Some((v.to_string(), i + 1)),
            Some(("FLASK_RUN_PORT", v)) => port = v.parse::<u16>().ok().map(|p| (p, i + 1)),
            Some(("FLASK_DEBUG", v)) => reloads = matches!(v, "1" | "true" | "True"),
            // Flask 2.3 removed FLASK_ENV: it starts no reloader.
            _ => {}
        }
    }
    let Some((app, app_line)) = app else {
        return false;
    };
    let module = app.split(':').next().unwrap_or(&app).trim();
    let module = module
        .strip_suffix(".py")
        .map(|m| m.replace(['/', '\\'], "."))
        .unwrap_or_else(|| module.to_string());
    let mut s = Service::at(
        "backend",
        port.map_or(5000, |(p, _)| p),
        match port {
            Some((_, l)) => format!("{rel}:{l}"),
            None => format!("{rel}:{app_line}"),
        },
    );
    s.kind = Some("flask".into());
    s.entry = Some(module.clone());
    s.package_root_shown = project.shown(dir);
    s.package_root = Some(dir.to_path_buf());
    let home = python_home(dir, s.app_file().as_deref());
    s.name = if home == project.root && module.contains('.') {
        module.split('.').next().unwrap_or("backend").to_string()
    } else {
        folder_name(&home)
    };
    s = with_folder(project, s, &home);
    s.default_port = port.is_none();
    s.reloads = reloads;
    s.learn(
        "entry",
        format!("{app} (FLASK_APP)"),
        &format!("{rel}:{app_line}"),
    );
    s.start = Some(match port {
        Some(_) => "flask run".into(),
        None => "flask run --port 5000".into(),
    });
    project.add_server(s);
    true
}

/// What read a JS/TS config, as the `reader` fact of what it says.
const PARSER: &str = "parser";
const TEXT_SCAN: &str = "text scan";

/// The env files' values in `dir`, as vite's `loadEnv` reads them in dev
/// (`.env.development.local` over `.env.development` over `.env.local`
/// over `.env`).
fn env_lookup(dir: &Path) -> impl Fn(&str) -> Option<String> + Sync {
    let mut values: Vec<(String, String)> = Vec::new();
    for name in ENV_FILES {
        let Ok(text) = read_bounded(&dir.join(name)) else {
            continue;
        };
        for line in text.lines() {
            if let Some((k, v)) = super::parse_env_line(line) {
                values.retain(|(key, _)| key != k);
                values.push((k.to_string(), v.to_string()));
            }
        }
    }
    move |key: &str| {
        values
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    }
}

/// Say which reader read `rel` on the frontend of `dir`.
fn learn_reader(project: &mut Project, dir: &Path, reader: &str, rel: &str) {
    let folder = Some(dir.to_path_buf());
    if let Some(s) = project
        .services
        .iter_mut()
        .find(|s| s.folder == folder && s.is_frontend())
    {
        s.learn("reader", reader, rel);
    }
}

fn vite_config(project: &mut Project, path: &Path) {
    let Some(text) = read(project, path) else {
        return;
    };
    let rel = project.relative(path);
    let dir = path.parent().unwrap_or(path);
    let file = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let lookup = env_lookup(dir);
    let Some(config) = jsconfig::vite(&text, &file, &lookup) else {
        vite_config_text_scan(project, path, &text);
        return;
    };
    let at = |line: usize| format!("{rel}:{line}");
    let folder = Some(dir.to_path_buf());
    if let Some(port) = &config.port {
        match port.port {
            // The vite service of this folder moves to the written port.
            Some(p) => {
                project.services.retain(|s| {
                    !(s.default_port && s.folder == folder && s.kind.as_deref() == Some("vite"))
                });
                let mut s = with_folder(
                    project,
                    Service::at(folder_name(dir), p, at(port.line)),
                    dir,
                );
                s.kind = Some("vite".into());
                s.origin = Some(format!("http://localhost:{p}"));
                s.start = Some("npm run dev".into());
                s.reloads = true;
                if let Some(key) = &port.env {
                    s.learn("port_env", key.clone(), &at(port.line));
                }
                project.add_server(s);
            }
            // `port: Number(process.env.PORT)`: the port is the env's.
            None => {
                if let Some(s) = project
                    .services
                    .iter_mut()
                    .find(|s| s.folder == folder && s.kind.as_deref() == Some("vite"))
                {
                    if let Some(key) = &port.env {
                        s.learn("port_env", key.clone(), &at(port.line));
                    }
                }
            }
        }
    }
    let frontend = project
        .services
        .iter_mut()
        .find(|s| s.folder == folder && s.is_frontend());
    if let Some(s) = frontend {
        // server.host: the address the dev server binds and the browser opens.
        if let Some(host) = config
            .host
            .as_ref()
            .filter(|h| super::is_local_host(&h.value))
        {
            if host.value != "0.0.0.0" && host.value != "::" {
                s.origin = Some(format!("http://{}:{}", host.value, s.port));
                s.host = host.value.clone();
            }
            s.learn("host", host.value.clone(), &at(host.line));
        }
        if let Some(strict) = &config.strict_port {
            s.learn("strict_port", strict.value.to_string(), &at(strict.line));
        }
        if let Some(preview) = config
            .preview_port
            .as_ref()
            .and_then(|p| Some((p.port?, p.line)))
        {
            s.learn("preview_port", preview.0.to_string(), &at(preview.1));
        }
        for (fact, value) in [("env_dir", &config.env_dir), ("root", &config.root)] {
            if let Some(v) = value {
                s.learn(fact, v.value.clone(), &at(v.line));
            }
        }
        s.learn("reader", PARSER, &rel);
    }
    proxy_targets(project, &rel, &config.proxies, PARSER);
}

/// Each proxy rule's target: a reference of the service it forwards to.
fn proxy_targets(project: &mut Project, rel: &str, proxies: &[jsconfig::Proxy], reader: &str) {
    for p in proxies {
        let source = format!("{rel}:{}", p.line);
        if let Some(mut s) = Service::from_url(&p.target, "proxy target".into(), source.clone()) {
            s.learn("proxy", format!("{} -> {}", p.context, p.target), &source);
            s.learn("reader", reader, rel);
            project.add_reference(s);
        }
    }
}

/// next.config: `rewrites()` destinations are references of the services
/// they forward to; the text scan's quoted URLs when the parser did not read it.
fn next_config(project: &mut Project, path: &Path) {
    let Some(text) = read(project, path) else {
        return;
    };
    let rel = project.relative(path);
    let file = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let Some(config) = jsconfig::next(&text, &file) else {
        urls_in_file(project, path, "rewrite");
        let dir = path.parent().unwrap_or(path);
        learn_reader(project, dir, TEXT_SCAN, &rel);
        return;
    };
    for r in &config.rewrites {
        let source = format!("{rel}:{}", r.line);
        if let Some(mut s) = Service::from_url(&r.value, "rewrite".into(), source) {
            s.learn("reader", PARSER, &rel);
            project.add_reference(s);
        }
    }
    let dir = path.parent().unwrap_or(path);
    let folder = Some(dir.to_path_buf());
    if let Some(s) = project
        .services
        .iter_mut()
        .find(|s| s.folder == folder && s.is_frontend())
    {
        for k in &config.env_keys {
            s.learn("env_key", k.value.clone(), &format!("{rel}:{}", k.line));
        }
        s.learn("reader", PARSER, &rel);
    }
}

/// CRA's `src/setupProxy.js` and webpack's `devServer.proxy`: their
/// targets are references of the services they forward to.
fn dev_server_proxies(project: &mut Project, path: &Path, setup_proxy: bool) {
    let Some(text) = read(project, path) else {
        return;
    };
    let rel = project.relative(path);
    let file = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let parsed = if setup_proxy {
        jsconfig::setup_proxy(&text, &file)
    } else {
        jsconfig::webpack(&text, &file)
    };
    match parsed {
        Some(config) => proxy_targets(project, &rel, &config.proxies, PARSER),
        None => urls_in_file(project, path, "proxy target"),
    }
}

/// The fallback of a vite config the parser did not read: a tolerant line
/// scan for `port:` and `host:` and every quoted URL as a proxy target.
fn vite_config_text_scan(project: &mut Project, path: &Path, text: &str) {
    let rel = project.relative(path);
    let dir = path.parent().unwrap_or(path);
    // server.port: a tolerant scan for `port: N` outside proxy targets.
    if let Some((i, port)) = text.lines().enumerate().find_map(|(i, l)| {
        let l = l.trim();
        let rest = l
            .strip_prefix("port:")
            .or_else(|| l.strip_prefix("port :"))?;
        let digits: String = rest
            .trim()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse::<u16>().ok().map(|p| (i, p))
    }) {
        // The vite service of this folder moves to the written port.
        let folder = Some(dir.to_path_buf());
        project.services.retain(|s| {
            !(s.default_port && s.folder == folder && s.kind.as_deref() == Some("vite"))
        });
        let mut s = with_folder(
            project,
            Service::at(folder_name(dir), port, format!("{rel}:{}", i + 1)),
            dir,
        );
        s.kind = Some("vite".into());
        s.origin = Some(format!("http://localhost:{port}"));
        s.start = Some("npm run dev".into());
        s.reloads = true;
        s.learn("reader", TEXT_SCAN, &rel);
        project.add_server(s);
    }
    // server.host: the address the dev server binds and the browser opens.
    if let Some(host) = text.lines().find_map(|l| {
        let rest = l.trim().strip_prefix("host:")?;
        let host = rest.trim().trim_end_matches(',').trim_matches(['"', '\'']);
        super::is_local_host(host).then(|| host.to_string())
    }) {
        let folder = Some(dir.to_path_buf());
        if let Some(s) = project
            .services
            .iter_mut()
            .find(|s| s.folder == folder && s.is_frontend())
        {
            if host != "0.0.0.0" && host != "::" {
                s.origin = Some(format!("http://{host}:{}", s.port));
                s.host = host.clone();
            }
            s.learn("host", host, &rel);
        }
    }
    urls_in_file(project, path, "proxy target");
    learn_reader(project, dir, TEXT_SCAN, &rel);
}

fn urls_in_file(project: &mut Project, path: &Path, name: &str) {
    let Some(text) = read(project, path) else {
        return;
    };
    let rel = project.relative(path);
    for (i, line) in text.lines().enumerate() {
        for url in quoted_urls(line) {
            if let Some(s) = Service::from_url(url, name.into(), format!("{rel}:{}", i + 1)) {
                project.add_reference(s);
            }
        }
    }
}

/// Whether `url` on `line` is a link's target (`href=`, `href:`, `<Link
/// to=`, `window.open(`), not a URL the code requests.
fn is_link(line: &str, url: &str) -> bool {
    let Some(at) = line.find(url) else {
        return false;
    };
    let before = line[..at].trim_end_matches(['"', '\'', '`', '{', ' ']);
    ["href=", "href:", "to=", "window.open(", "src="]
        .iter()
        .any(|k| before.ends_with(k))
}

/// Whether line `at` sits in the branch of a `switch` on an env variable
/// that the env files choose: `switch (import.meta.env.VITE_ENV)` (or on a
/// name assigned from it just above) with `case "dev":` and VITE_ENV=dev.
/// Some(false) for another branch, None when the code is no such switch.
/// An unset variable chooses `default:`.
pub fn active_branch(lines: &[&str], at: usize, values: &[(String, String)]) -> Option<bool> {
    let mut labels: Vec<String> = Vec::new();
    let mut default = false;
    // Still reading this branch's labels (the run of `case`s just above
    // the line, fall-through included); false once above them.
    let mut collecting = true;
    let mut switch_expr = None;
    let mut i = at;
    for _ in 0..60 {
        let l = lines.get(i)?.trim();
        if let Some(rest) = l.strip_prefix("switch") {
            let expr = rest
                .trim_start()
                .strip_prefix('(')?
                .split(')')
                .next()?
                .trim();
            switch_expr = Some((expr.to_string(), i));
            break;
        }
        let label = l
            .strip_prefix("case ")
            .and_then(|r| r.split(':').next())
            .map(|v| v.trim().trim_matches(['"', '\'', '`']).to_string());
        let is_default = l.starts_with("default:") || l.starts_with("default :");
        if collecting {
            if let Some(v) = label {
                labels.push(v);
            } else if is_default {
                default = true;
            } else if !labels.is_empty() || default {
                collecting = false;
            }
        }
        if i == 0 {
            return None;
        }
        i -= 1;
    }
    let (expr, line) = switch_expr?;
    if labels.is_empty() && !default {
        return None;
    }
    let name_in = |text: &str| {
        let after = text.split_once("env.")?.1;
        let name: String = after
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        (!name.is_empty()).then_some(name)
    };
    let var = name_in(&expr).or_else(|| {
        // `const environment = import.meta.env.VITE_ENV;` above the switch.
        (line.saturating_sub(20)..line).rev().find_map(|j| {
            let l = lines.get(j)?;
            let (lhs, rhs) = l.split_once('=')?;
            lhs.split_whitespace().last().filter(|n| *n == expr)?;
            name_in(rhs)
        })
    })?;
    let value = values
        .iter()
        .find(|(k, _)| *k == var)
        .map(|(_, v)| v.as_str());
    Some(match value {
        Some(v) if !v.is_empty() => labels.iter().any(|l| l == v),
        _ => default,
    })
}

/// Extensions of the code a browser runs.
const BROWSER_CODE: &[&str] = &["js", "jsx", "ts", "tsx", "mjs", "vue", "svelte"];

/// URLs of this machine written in a frontend's own code (`fetch(
/// "http://127.0.0.1:5000/api")`, `const API = "http://localhost:8000"`): the
/// browser calls them directly, as it calls an env file's URL. A literal that
/// is the fallback of an env key the frontend's env files set
/// (`import.meta.env.VITE_API_URL || "http://localhost:8000"`) is not used:
/// the env file's URL speaks for it.
fn frontend_code_urls(project: &mut Project) {
    let frontends: Vec<PathBuf> = project
        .services
        .iter()
        .filter(|s| s.is_frontend())
        .filter_map(|s| s.folder.clone())
        .collect();
    let mut found = Vec::new();
    for folder in frontends {
        // The values the dev server gives its env keys (a later file wins,
        // as vite and next read them in development).
        let mut values: Vec<(String, String)> = Vec::new();
        for name in [
            ".env",
            ".env.local",
            ".env.development",
            ".env.development.local",
        ] {
            if let Ok(t) = read_bounded(&folder.join(name)) {
                for (k, v) in t.lines().filter_map(super::parse_env_line) {
                    values.retain(|(key, _)| key != k);
                    values.push((k.to_string(), v.to_string()));
                }
            }
        }
        let set_keys: Vec<String> = ENV_FILES
            .iter()
            .filter_map(|n| read_bounded(&folder.join(n)).ok())
            .flat_map(|t| {
                t.lines()
                    .filter_map(|l| {
                        super::parse_env_line(l)
                            .filter(|(_, v)| !v.is_empty())
                            .map(|(k, _)| k.to_string())
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        for (path, text) in project.code.under(&folder) {
            if path
                .extension()
                .and_then(|e| e.to_str())
                .is_none_or(|e| !BROWSER_CODE.contains(&e))
                || path.components().any(|c| c.as_os_str() == "node_modules")
            {
                continue;
            }
            let rel = project.relative(path);
            let all_lines: Vec<&str> = text.lines().collect();
            for (i, line) in all_lines.iter().enumerate() {
                let code = line.trim_start();
                if code.starts_with("//") || code.starts_with('*') {
                    continue;
                }
                let falls_back_from_set_key = set_keys.iter().any(|k| line.contains(k.as_str()));
                if falls_back_from_set_key {
                    continue;
                }
                for url in quoted_urls(line) {
                    // A link for the person, not a call of the code
                    // (`<a href="http://localhost:8000/docs">API docs</a>`):
                    // the browser opens it when clicked; the app does not
                    // depend on it (field round 8: a docs button made a
                    // healthy stack warn, and `--fix --yes` edited it).
                    if is_link(line, url) {
                        continue;
                    }
                    if let Some(mut s) =
                        Service::from_url(url, "api".into(), format!("{rel}:{}", i + 1))
                    {
                        if s.is_http() {
                            let source = s.source.clone();
                            s.learn(
                                "note",
                                "called by the browser (a URL in the frontend's code)",
                                &source,
                            );
                            // A literal may sit in a branch that never runs
                            // (`case "mock": return "http://localhost:3000"`):
                            // it says who the browser calls when a server is
                            // there, and is context (info) when none is. The
                            // branch the env files choose is the one that
                            // runs (field gd P2 E, round 9: `case "dev":`
                            // with VITE_ENV=dev, called where nothing listens).
                            s.expected = active_branch(&all_lines, i, &values) == Some(true);
                            found.push(s);
                        }
                    }
                }
            }
        }
    }
    // A frontend's own origin written in its code (a router's base URL) is not another service.
    let own: Vec<u16> = project
        .services
        .iter()
        .filter(|s| s.is_frontend())
        .map(|s| s.port)
        .collect();
    for s in found {
        if !own.contains(&s.port) {
            project.add_reference(s);
        }
    }
}

/// Why no frontend dev server reads `key` from the env file at `path`,
/// when the key is one a frontend exposes to the browser, the file's
/// folder is not the root of a dev server of that kind, and another folder
/// of the project is (`frontend/` with its vite, the `.env` at the root).
/// None when one may read it, or when the project shows no such server.
fn public_key_read_by_no_frontend(folders: &[PathBuf], path: &Path, key: &str) -> Option<String> {
    let dir = path.parent()?;
    let reads_here = |dir: &Path| public_key_reader(dir, path, key);
    let (tool, reads) = reads_here(dir)?;
    let elsewhere = folders
        .iter()
        .filter(|f| f.as_path() != dir)
        .any(|f| reads_here(f).is_some_and(|(_, r)| r));
    (!reads && elsewhere).then(|| {
        format!(
            "{tool} reads env files from its own root only, and {} is none (no {tool} project there)",
            dir.file_name().map_or(".".into(), |n| n.to_string_lossy().to_string() + "/")
        )
    })
}

/// For a frontend's public key: the tool that exposes it, and whether
/// `dir` is the root of a project of that tool (or an envDir may point at
/// the file at `path`).
fn public_key_reader(dir: &Path, path: &Path, key: &str) -> Option<(&'static str, bool)> {
    let has = |names: &[&str]| names.iter().any(|n| dir.join(n).is_file());
    let package = read_bounded(&dir.join("package.json")).unwrap_or_default();
    Some(if key.starts_with("VITE_") {
        let configs = [
            "vite.config.js",
            "vite.config.ts",
            "vite.config.mjs",
            "vite.config.mts",
            "vite.config.cjs",
        ];
        // An envDir anywhere may point here: then nothing is said.
        let elsewhere = path.ancestors().skip(1).take(3).any(|d| {
            std::fs::read_dir(d).ok().is_some_and(|entries| {
                entries.flatten().any(|e| {
                    let p = e.path();
                    p.is_dir()
                        && configs
                            .iter()
                            .any(|c| read_bounded(&p.join(c)).is_ok_and(|t| t.contains("envDir")))
                })
            })
        });
        (
            "vite",
            has(&configs) || package.contains("\"vite\"") || elsewhere,
        )
    } else if key.starts_with("NEXT_PUBLIC_") {
        (
            "next",
            has(&["next.config.js", "next.config.mjs", "next.config.ts"])
                || package.contains("\"next\""),
        )
    } else if key.starts_with("REACT_APP_") {
        ("react-scripts", package.contains("\"react-scripts\""))
    } else {
        return None;
    })
}

fn env_file(project: &mut Project, path: &Path) {
    let Some(text) = read(project, path) else {
        return;
    };
    let rel = project.relative(path);
    // A key written twice: the last one wins (dotenv, python-dotenv, vite).
    let mut last: Vec<(String, String, usize)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let Some((key, value)) = super::parse_env_line(line) else {
            continue;
        };
        // Secret-looking values are masked in every output from now on;
        // every value is kept to mask in exception text.
        crate::redact::remember_env_value(key, value);
        if value.len() >= 3 && value.parse::<f64>().is_err() {
            project.env_values.push(value.to_string());
        }
        last.retain(|(k, _, _)| k != key);
        last.push((key.to_string(), value.to_string(), i + 1));
    }
    last.sort_by_key(|(_, _, line)| *line);
    let has_code = project.code.has_code_under(&project.root);
    for (key, value, line) in last {
        let Some(mut s) = Service::from_url(&value, service_name(&key), format!("{rel}:{line}"))
        else {
            continue;
        };
        // A URL no code of the app reads (an e2e suite's mail catcher, a
        // tool's endpoint) is context: said as info, never an error.
        s.expected = !s.is_http() || !has_code || project.code.reads_key(&project.root, &key);
        // A frontend's public key (`VITE_…`) in an env file no dev server
        // of its kind reads: vite, next and CRA read the env files of their
        // own root (vite: its envDir). The root `.env` beside a `frontend/`
        // is a compose or deploy file (field gd fd P1 H: ENV004 rewrote the
        // root `.env:8`, and the browser still called the old port).
        if s.expected {
            if let Some(why) = public_key_read_by_no_frontend(&project.folders, path, &key) {
                s.expected = false;
                s.read_by_no_frontend = true;
                let source = s.source.clone();
                s.learn("note", format!("{key}: {why}"), &source);
            }
        }
        if !s.expected {
            let source = s.source.clone();
            s.learn(
                "note",
                format!("{key}: no code of the app reads it"),
                &source,
            );
        }
        project.add_reference(s);
    }
}

/// A backend known only by its framework's default port, while the env files
/// point at one other local HTTP port that no server claims: that URL is
/// where the backend runs (`uvicorn main:app --port 8001` typed by hand).
pub fn settle_defaults(project: &mut Project) {
    let backends: Vec<usize> = (0..project.services.len())
        .filter(|&i| {
            let s = &project.services[i];
            s.default_port && !s.is_frontend() && s.kind.is_some() && s.references.is_empty()
        })
        .collect();
    let loose: Vec<usize> = (0..project.services.len())
        .filter(|&i| {
            let s = &project.services[i];
            s.kind.is_none() && s.url.is_some() && s.is_http() && !s.declared && s.expected
        })
        .collect();
    if backends.len() != 1 || loose.is_empty() {
        return;
    }
    let loose_ports: std::collections::BTreeSet<u16> =
        loose.iter().map(|&i| project.services[i].port).collect();
    if loose_ports.len() != 1 {
        return;
    }
    let backend = project.services.remove(backends[0]);
    for s in project
        .services
        .iter_mut()
        .filter(|s| s.kind.is_none() && s.url.is_some() && s.is_http() && s.expected)
    {
        s.kind = backend.kind.clone();
        s.folder = backend.folder.clone();
        s.folder_shown = backend.folder_shown.clone();
        s.entry = backend.entry.clone();
        s.package_root = backend.package_root.clone();
        s.package_root_shown = backend.package_root_shown.clone();
        s.guessed_entry = backend.guessed_entry;
        s.reloads = backend.reloads;
        s.routes = backend.routes.clone();
        s.sources
            .extend(backend.sources.iter().filter(|f| f.fact != "port").cloned());
        s.name = backend.name.clone();
        s.references.push(backend.source.clone());
        s.start = backend.start.as_ref().map(|c| {
            c.replace(
                &format!("--port {}", backend.port),
                &format!("--port {}", s.port),
            )
        });
    }
}

#[cfg(test)]
mod tests {
    /// Field gd P2 E / G (round 9): the URL of the branch the env files
    /// choose is the one the browser calls.
    #[test]
    fn the_branch_the_env_files_choose() {
        let code = "export function getEnvironment() {\n  const environment = import.meta.env.VITE_ENV;\n\n  switch (environment) {\n    case \"dev\":\n      return \"http://localhost:9000\";\n    case \"mock\":\n      return \"http://localhost:3000/\";\n    default:\n      return \"https://z3.example.com/\";\n  }\n}\n";
        let lines: Vec<&str> = code.lines().collect();
        let dev = vec![("VITE_ENV".to_string(), "dev".to_string())];
        assert_eq!(active_branch(&lines, 5, &dev), Some(true));
        assert_eq!(active_branch(&lines, 7, &dev), Some(false));
        assert_eq!(active_branch(&lines, 9, &dev), Some(false));
        assert_eq!(active_branch(&lines, 9, &[]), Some(true));
        assert_eq!(active_branch(&lines, 5, &[]), Some(false));
        let direct = "switch (import.meta.env.MODE) {\n  case 'a':\n  case 'b': return 'http://localhost:1'\n}\n";
        let lines: Vec<&str> = direct.lines().collect();
        let b = vec![("MODE".to_string(), "b".to_string())];
        assert_eq!(active_branch(&lines, 2, &b), Some(true));
        assert_eq!(
            active_branch(&["const API = \"http://localhost:1\""], 0, &b),
            None
        );
    }

    use super::*;

    #[test]
    fn ports_in_commands() {
        assert_eq!(port_in_command("vite --port 5174"), Some(5174));
        assert_eq!(port_in_command("next dev -p 3001"), Some(3001));
        assert_eq!(port_in_command("PORT=4000 node server.js"), Some(4000));
        assert_eq!(
            port_in_command("gunicorn app:app --bind 0.0.0.0:8080"),
            Some(8080)
        );
        assert_eq!(port_in_command("uvicorn main:app --port=8002"), Some(8002));
        assert_eq!(port_in_command("vite"), None);
    }

    #[test]
    fn compose_ports_and_calls() {
        assert_eq!(published_port("8000:8000"), Some(8000));
        assert_eq!(published_port("127.0.0.1:5433:5432"), Some(5433));
        assert_eq!(published_port("6379:6379/tcp"), Some(6379));
        assert_eq!(published_port("5432"), None);
        assert_eq!(
            super::super::pyserve::run_call("    uvicorn.run(app, host='0.0.0.0', port=8001)")
                .and_then(|(c, _)| c.port),
            Some(8001)
        );
        assert_eq!(
            asgi_module("uvicorn app.main:app --port 8000").as_deref(),
            Some("app.main")
        );
        assert_eq!(
            asgi_module("python -m uvicorn main:app").as_deref(),
            Some("main")
        );
    }
}
