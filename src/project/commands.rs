//! Start commands read as text: what server a command line starts, from
//! which folder, with which entry, on which port, and whether it reloads.
//! Used for Procfile lines, package.json scripts and the node or shell
//! launchers those scripts run, and for the command lines of running
//! processes (PROC005 compares apps, not strings).

use std::path::{Path, PathBuf};

/// A server a command starts.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ServerCommand {
    /// `fastapi`, `flask`, `django`, `python`, `vite`, `next`, `express`.
    pub kind: &'static str,
    /// The Python module it imports (`backend.app.main`), when it names one.
    pub entry: Option<String>,
    /// The folder it runs in, relative to where the command starts (`cd backend && …`).
    pub cd: Option<String>,
    pub port: Option<u16>,
    pub reloads: bool,
}

/// Words of a shell-ish command, quotes removed (no expansion).
pub fn words(cmd: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in cmd.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => cur.push(c),
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                any = true;
            }
            None if c.is_whitespace() => {
                if !cur.is_empty() || any {
                    out.push(std::mem::take(&mut cur));
                }
                any = false;
            }
            None => cur.push(c),
        }
    }
    if !cur.is_empty() || any {
        out.push(cur);
    }
    out
}

/// `--port 8000`, `-p 8000`, `--port=8000`, `PORT=8000`, `--bind host:8000`,
/// `runserver 0.0.0.0:8001`.
pub fn port_in_words(words: &[String]) -> Option<u16> {
    for (i, w) in words.iter().enumerate() {
        let next = words.get(i + 1).map(String::as_str).unwrap_or_default();
        let value = match w.as_str() {
            "--port" | "-p" | "--bind" | "-b" => next,
            "runserver" if !next.starts_with('-') => next,
            _ => w
                .strip_prefix("--port=")
                .or_else(|| w.strip_prefix("PORT="))
                .or_else(|| w.strip_prefix("--bind="))
                .unwrap_or_default(),
        };
        let value = value.rsplit(':').next().unwrap_or(value);
        if let Ok(p) = value.parse::<u16>() {
            if p > 0 {
                return Some(p);
            }
        }
    }
    None
}

/// `app/main.py` → `app.main` (a file path given to `fastapi dev`, `python`).
fn module_of_path(path: &str) -> Option<String> {
    let stem = path.strip_suffix(".py")?;
    let stem = stem.trim_start_matches("./");
    (!stem.is_empty() && !stem.contains("..")).then(|| stem.replace(['/', '\\'], "."))
}

fn module_of_app_ref(word: &str) -> Option<String> {
    let module = word.split(':').next()?;
    let module = module.trim_end_matches("()");
    (!module.is_empty()
        && module
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.'))
    .then(|| module.to_string())
}

fn is_program(word: &str, name: &str) -> bool {
    let base = word.rsplit(['/', '\\']).next().unwrap_or(word);
    let base = base.strip_suffix(".exe").unwrap_or(base);
    base == name || base.strip_prefix(name).is_some_and(|r| r.starts_with('.'))
}

/// What server `cmd` starts, if any. `cd DIR && …` and `KEY=value` prefixes
/// are understood; the last command of a `&&` chain is the server.
pub fn parse(cmd: &str) -> Option<ServerCommand> {
    let mut cd: Option<String> = None;
    let mut found = None;
    for part in cmd.split("&&") {
        let w = words(part);
        if w.first().map(String::as_str) == Some("cd") {
            if let Some(dir) = w.get(1) {
                cd = Some(match cd {
                    Some(prev) => format!("{prev}/{dir}"),
                    None => dir.clone(),
                });
            }
            continue;
        }
        if let Some(mut s) = parse_words(&w) {
            s.cd = cd.clone();
            found = Some(s);
        }
    }
    found
}

/// What server a command's words start (a launcher's argument list).
pub fn parse_words(w: &[String]) -> Option<ServerCommand> {
    let env_reload = w
        .iter()
        // Flask 2.3 removed FLASK_ENV: `FLASK_ENV=development flask run` has no reloader.
        .any(|x| x == "FLASK_DEBUG=1" || x == "FLASK_DEBUG=true");
    let port = port_in_words(w);
    let has = |flag: &str| w.iter().any(|x| x == flag);
    // The program, after env assignments and `python -m`.
    let mut i = 0;
    while i < w.len() && w[i].contains('=') && !w[i].starts_with('-') {
        i += 1;
    }
    let mut rest = &w[i.min(w.len())..];
    let mut via_python_file = None;
    while let Some(first) = rest.first() {
        if is_program(first, "python") || is_program(first, "python3") || first == "py" {
            match rest.get(1).map(String::as_str) {
                Some("-m") => rest = &rest[2.min(rest.len())..],
                Some(file) if file.ends_with(".py") => {
                    via_python_file = Some(file.to_string());
                    break;
                }
                Some(flag) if flag.starts_with('-') => rest = &rest[1..],
                // A console script run by its interpreter, as the process
                // table shows it: `python /venv/bin/uvicorn main:app`.
                Some(script)
                    if ["uvicorn", "gunicorn", "hypercorn", "fastapi", "flask"]
                        .iter()
                        .any(|p| is_program(script, p)) =>
                {
                    rest = &rest[1..]
                }
                _ => return None,
            }
        } else if ["poetry", "pipenv", "uv", "pdm", "rye"]
            .iter()
            .any(|p| is_program(first, p))
            && rest.get(1).is_some_and(|r| r == "run")
        {
            rest = &rest[2.min(rest.len())..];
        } else {
            break;
        }
    }
    if let Some(file) = via_python_file {
        if is_program(&file, "manage.py") {
            let runs = rest.iter().any(|x| x == "runserver");
            return runs.then(|| ServerCommand {
                kind: "django",
                port,
                reloads: !has("--noreload"),
                ..Default::default()
            });
        }
        return Some(ServerCommand {
            kind: "python",
            entry: module_of_path(&file),
            port,
            reloads: false,
            ..Default::default()
        });
    }
    let program = rest.first()?;
    let args = &rest[1..];
    let first_arg = |skip_flags_with_values: &[&str]| -> Option<&String> {
        let mut j = 0;
        while j < args.len() {
            let a = &args[j];
            if a.starts_with('-') {
                if skip_flags_with_values.contains(&a.as_str()) {
                    j += 1;
                }
                j += 1;
                continue;
            }
            return Some(a);
        }
        None
    };
    const VALUED: &[&str] = &[
        "--port",
        "-p",
        "--host",
        "--bind",
        "-b",
        "--workers",
        "-w",
        "--app-dir",
        "--env-file",
        "--log-level",
        "--root-path",
        "-k",
        "--worker-class",
        "--app",
        "-A",
    ];
    if ["uvicorn", "gunicorn", "hypercorn"]
        .iter()
        .any(|p| is_program(program, p))
    {
        let app = first_arg(VALUED)?;
        return Some(ServerCommand {
            kind: "fastapi",
            entry: module_of_app_ref(app),
            port,
            reloads: has("--reload"),
            ..Default::default()
        });
    }
    if is_program(program, "fastapi") {
        let mode = args.first().map(String::as_str);
        if !matches!(mode, Some("dev" | "run")) {
            return None;
        }
        let path = args[1..]
            .iter()
            .find(|a| !a.starts_with('-') && a.ends_with(".py"));
        return Some(ServerCommand {
            kind: "fastapi",
            entry: path.and_then(|p| module_of_path(p)),
            port,
            reloads: mode == Some("dev") || has("--reload"),
            ..Default::default()
        });
    }
    if is_program(program, "flask") && args.iter().any(|a| a == "run") {
        let app = args
            .iter()
            .position(|a| a == "--app" || a == "-A")
            .and_then(|j| args.get(j + 1))
            .or_else(|| {
                args.iter()
                    .find_map(|a| a.strip_prefix("--app=").map(|_| a))
            })
            .map(|a| a.trim_start_matches("--app=").to_string());
        return Some(ServerCommand {
            kind: "flask",
            entry: app.and_then(|a| module_of_path(&a).or_else(|| module_of_app_ref(&a))),
            port,
            reloads: env_reload || has("--debug") || has("--reload"),
            ..Default::default()
        });
    }
    if is_program(program, "gunicorn") || is_program(program, "waitress-serve") {
        return None;
    }
    let js_kind = |name: &str| -> Option<&'static str> {
        Some(match name {
            "vite" => "vite",
            "next" => "next",
            "react-scripts" => "cra",
            "nuxt" | "nuxi" => "nuxt",
            "astro" => "astro",
            "webpack" | "webpack-dev-server" => "webpack",
            "nodemon" => "express",
            _ => return None,
        })
    };
    let base = program.rsplit(['/', '\\']).next().unwrap_or(program);
    if let Some(kind) = js_kind(base) {
        let serving = match kind {
            "vite" | "webpack" => !args.iter().any(|a| a == "build" || a == "preview"),
            "next" | "nuxt" => args.first().is_some_and(|a| a == "dev"),
            "cra" => args.first().is_some_and(|a| a == "start"),
            _ => true,
        };
        // nodemon runs a script of the app: that script is the entry.
        let entry = (kind == "express")
            .then(|| args.iter().find(|a| !a.starts_with('-')).cloned())
            .flatten();
        return Some(ServerCommand {
            kind,
            entry,
            port,
            reloads: serving,
            ..Default::default()
        });
    }
    if is_program(program, "node") || is_program(program, "tsx") || is_program(program, "bun") {
        let watch = has("--watch") || args.first().is_some_and(|a| a == "watch");
        let script = args.iter().find(|a| !a.starts_with('-') && *a != "watch")?;
        // `node node_modules/.bin/vite`: the tool, not a script of the app.
        let tool = script.rsplit(['/', '\\']).next().unwrap_or(script);
        if let Some(kind) = js_kind(tool) {
            return Some(ServerCommand {
                kind,
                port,
                reloads: true,
                ..Default::default()
            });
        }
        return Some(ServerCommand {
            kind: "express",
            entry: Some(script.clone()),
            port,
            reloads: watch,
            ..Default::default()
        });
    }
    None
}

/// The local script a package.json script runs (`node scripts/dev.mjs`,
/// `bash ./run.sh`, `./dev.sh`), to read the commands inside it.
pub fn local_script(cmd: &str) -> Option<String> {
    for part in cmd.split("&&") {
        let w = words(part);
        let script = match w.first().map(String::as_str) {
            Some("node" | "bash" | "sh" | "zx" | "tsx" | "bun") => {
                w[1..].iter().find(|a| !a.starts_with('-'))
            }
            Some(first) if first.starts_with("./") => Some(&w[0]),
            _ => None,
        };
        if let Some(s) = script {
            if [".js", ".mjs", ".cjs", ".ts", ".sh"]
                .iter()
                .any(|ext| s.ends_with(ext))
            {
                return Some(s.trim_start_matches("./").to_string());
            }
        }
    }
    None
}

/// Server commands inside a launcher script: a shell script's lines, or a
/// node script's string literals read in order (`spawn("python", ["-m",
/// "uvicorn", "backend.app.main:app", "--port", "8000"])`).
pub fn in_script(text: &str, is_shell: bool) -> Vec<(usize, ServerCommand)> {
    let mut out = Vec::new();
    if is_shell {
        for (i, line) in text.lines().enumerate() {
            let line = line.trim().trim_end_matches('&').trim();
            if line.starts_with('#') {
                continue;
            }
            if let Some(s) = parse(line) {
                out.push((i + 1, s));
            }
        }
        return out;
    }
    // String literals with the line each starts on; a template literal or a
    // single string holding a whole command is read as one command too.
    let mut literals: Vec<(usize, String)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("//") {
            continue;
        }
        for quote in ['"', '\'', '`'] {
            let mut parts = line.split(quote);
            parts.next();
            while let Some(inside) = parts.next() {
                literals.push((i + 1, inside.to_string()));
                parts.next();
            }
        }
    }
    for (line, lit) in &literals {
        if lit.contains(' ') {
            if let Some(s) = parse(lit) {
                out.push((*line, s));
            }
        }
    }
    if !out.is_empty() {
        return out;
    }
    let tokens: Vec<String> = literals.iter().map(|(_, l)| l.clone()).collect();
    for start in 0..tokens.len() {
        let t = &tokens[start];
        if [
            "python", "python3", "uvicorn", "fastapi", "flask", "gunicorn",
        ]
        .iter()
        .any(|p| is_program(t, p))
        {
            let window: Vec<String> = tokens[start..(start + 16).min(tokens.len())].to_vec();
            if let Some(s) = parse_words(&window) {
                out.push((literals[start].0, s));
                break;
            }
        }
    }
    out
}

/// Resolve `cd` of a command against the folder it runs in.
pub fn run_folder(base: &Path, server: &ServerCommand) -> PathBuf {
    match &server.cd {
        Some(cd) => base.join(cd),
        None => base.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_in_commands() {
        let s = parse("python -m uvicorn backend.app.main:app --reload --port 8000").unwrap();
        assert_eq!(
            (s.kind, s.entry.as_deref(), s.port, s.reloads),
            ("fastapi", Some("backend.app.main"), Some(8000), true)
        );
        let s = parse("cd backend && fastapi dev app/main.py --port 8001").unwrap();
        assert_eq!(
            (s.kind, s.entry.as_deref(), s.cd.as_deref(), s.reloads),
            ("fastapi", Some("app.main"), Some("backend"), true)
        );
        let s = parse("/v/bin/python3 /v/bin/uvicorn main:app --reload").unwrap();
        assert_eq!((s.entry.as_deref(), s.reloads), (Some("main"), true));
        let s = parse("fastapi run app/main.py").unwrap();
        assert!(!s.reloads && s.port.is_none());
        let s = parse("FLASK_DEBUG=1 flask --app backend.app:create_app() run -p 5002").unwrap();
        assert_eq!(
            (s.kind, s.entry.as_deref(), s.port, s.reloads),
            ("flask", Some("backend.app"), Some(5002), true)
        );
        let s = parse("python manage.py runserver 0.0.0.0:8003").unwrap();
        assert_eq!((s.kind, s.port, s.reloads), ("django", Some(8003), true));
        assert!(parse("python manage.py migrate").is_none());
        let s = parse("poetry run gunicorn app.main:app -b 0.0.0.0:9000").unwrap();
        assert_eq!((s.entry.as_deref(), s.port), (Some("app.main"), Some(9000)));
        assert_eq!(parse("vite --port 5174").unwrap().port, Some(5174));
        assert!(!parse("vite build").unwrap().reloads);
        assert_eq!(parse("nodemon server.js").unwrap().kind, "express");
        assert!(parse("eslint .").is_none());
    }

    #[test]
    fn launchers() {
        assert_eq!(
            local_script("node scripts/dev.mjs").as_deref(),
            Some("scripts/dev.mjs")
        );
        assert_eq!(local_script("./run.sh --x").as_deref(), Some("run.sh"));
        assert_eq!(local_script("vite"), None);
        let js = r#"
import { spawn } from "node:child_process";
// spawn("python", ["old"])
const api = spawn("python", ["-m", "uvicorn", "backend.app.main:app", "--port", "8000"], { stdio: "inherit" });
"#;
        let found = in_script(js, false);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, 4);
        assert_eq!(found[0].1.entry.as_deref(), Some("backend.app.main"));
        let sh = "#!/bin/sh\ncd backend && uvicorn app.main:app --port 8010 &\nnpm run dev\n";
        let found = in_script(sh, true);
        assert_eq!(found[0].1.cd.as_deref(), Some("backend"));
        assert_eq!(found[0].1.port, Some(8010));
    }
}
