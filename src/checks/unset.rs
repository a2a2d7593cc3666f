//! ENV007: an env variable the app's own code reads without a fallback,
//! and that nothing sets for the process that reads it: no env file of
//! the folder it runs in (nor the one its settings name), not its start
//! command, not the running process's environment (`/proc/PID/environ`,
//! keys only), and, when nothing runs, not the shell doctor runs in (the
//! one the user would start it from). Values are never read into a report.
//!
//! Healthy means silent: a running server whose environment lacks the
//! variable evidently did not crash on it (info). A service that is down
//! while a read that fails when unset runs at start-up (`os.environ["X"]`,
//! a pydantic settings field instantiated at module level, `new
//! URL(process.env.X)`, `if (!process.env.X) throw …`) is the warning that
//! explains the port nobody listens on.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::engine::Context;
use crate::finding::{Finding, Fix, Severity};
use crate::project::envreads::{js_reads, python_reads, EnvRead, PyReads};
use crate::project::{read_bounded, Project, Service, ENV_FILES};

const ID: &str = "env";
const CODE: &str = "ENV007";
/// Set by the platform, the shell, the package manager or the framework
/// itself: never the project's to set.
const PLATFORM: &[&str] = &[
    "NODE_ENV",
    "PORT",
    "HOST",
    "HOSTNAME",
    "HOME",
    "PATH",
    "PWD",
    "USER",
    "USERNAME",
    "LOGNAME",
    "SHELL",
    "LANG",
    "LC_ALL",
    "TERM",
    "TZ",
    "CI",
    "DEBUG",
    "TMPDIR",
    "TEMP",
    "TMP",
    "APPDATA",
    "LOCALAPPDATA",
    "USERPROFILE",
    "SYSTEMROOT",
    "COMSPEC",
    "NODE_OPTIONS",
    "NODE_DEBUG",
    "NODE_APP_INSTANCE",
    "FORCE_COLOR",
    "NO_COLOR",
    "PYTHONPATH",
    "PYTHONUNBUFFERED",
    "VIRTUAL_ENV",
    "WEB_CONCURRENCY",
    "DJANGO_SETTINGS_MODULE",
    "FLASK_APP",
    "FLASK_ENV",
    "FLASK_DEBUG",
    "WERKZEUG_RUN_MAIN",
    "RUN_MAIN",
    "NEXT_RUNTIME",
    "NEXT_PHASE",
    "MODE",
    "DEV",
    "PROD",
    "SSR",
    "BASE_URL",
    "INIT_CWD",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "XDG_CACHE_HOME",
];
const PLATFORM_PREFIXES: &[&str] = &[
    "npm_",
    "NPM_",
    "VERCEL",
    "NETLIFY",
    "RENDER",
    "RAILWAY_",
    "FLY_",
    "HEROKU",
    "DYNO",
    "AWS_LAMBDA",
    "K_SERVICE",
    "GITHUB_",
    "CODESPACE",
    "GITPOD",
    "REPL_",
    "JEST_",
    "VITEST",
];

fn is_platform(name: &str) -> bool {
    PLATFORM.contains(&name) || PLATFORM_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// The prefix a frontend exposes to the browser, by its kind.
fn public_prefix(kind: &str) -> &'static [&'static str] {
    match kind {
        "vite" => &["VITE_"],
        "next" => &["NEXT_PUBLIC_"],
        "cra" => &["REACT_APP_"],
        "nuxt" => &["NUXT_PUBLIC_"],
        "astro" | "sveltekit" => &["PUBLIC_"],
        _ => &[],
    }
}

/// One service's code, read.
struct Reads {
    /// Each variable's reads, in file order: (file, read).
    by_name: BTreeMap<String, Vec<(PathBuf, EnvRead)>>,
    /// Env files named in the code (pydantic's `env_file=`, `load_dotenv("…")`,
    /// `dotenv.config({ path: "…" })`), as written, with the file naming it.
    named_env_files: Vec<(PathBuf, String)>,
    /// Whether the code loads an env file at all (dotenv, pydantic's env_file).
    loads_env_file: bool,
}

pub fn findings(ctx: &Context) -> Vec<Finding> {
    let project = &ctx.project;
    let Ok(snapshot) = ctx.snapshot() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut seen: BTreeSet<PathBuf> = BTreeSet::new();
    let folders: Vec<PathBuf> = project
        .services
        .iter()
        .filter_map(|s| s.folder.clone())
        .collect();
    for s in &project.services {
        let node = s.kind.as_deref() == Some("express");
        let python = s.is_python();
        let frontend = s.is_frontend();
        if !(node || python || frontend) {
            continue;
        }
        let Some(folder) = s.folder.clone().or_else(|| s.run_folder().cloned()) else {
            continue;
        };
        if !seen.insert(folder.clone()) {
            continue;
        }
        // The service's own code: not a nested service's folder.
        let nested: Vec<&PathBuf> = folders
            .iter()
            .filter(|f| **f != folder && f.starts_with(&folder))
            .collect();
        let files: Vec<&(PathBuf, String)> = project
            .code
            .under(&folder)
            .filter(|(p, _)| !nested.iter().any(|n| p.starts_with(n)))
            .collect();
        let reads = read_code(&files, python, frontend, s);
        if reads.by_name.is_empty() {
            continue;
        }
        // The process that serves it, if any: its folder and its environment.
        let holder = super::project_server(snapshot, &project.root, s.port).cloned();
        let listening = snapshot.has_listener(s.port);
        // A port held by something that is not the project's: not this check's story.
        if listening && holder.is_none() {
            continue;
        }
        // A reloader that holds the port with no worker left (`uvicorn
        // --reload` whose worker died at import) serves nothing: down, and
        // its environment is the one its next worker gets.
        let holders = snapshot.listener_pids(s.port);
        let worker_dead = holder.as_ref().is_some_and(|p| {
            p.command().contains("--reload")
                && !crate::platform::processes(&crate::platform::children_of(p.pid))
                    .values()
                    .any(|c| {
                        holders.contains(&c.pid)
                            && !matches!(
                                c.state,
                                crate::platform::ProcState::Stopped
                                    | crate::platform::ProcState::Zombie
                            )
                    })
        });
        let up = listening && !worker_dead;
        let environ: Option<BTreeSet<String>> = holder.as_ref().and_then(|p| {
            crate::platform::environment_of(p.pid).map(|kv| {
                kv.into_iter()
                    .map(|(k, _)| k.to_string_lossy().to_string())
                    .collect()
            })
        });
        if holder.is_some() && environ.is_none() {
            // Its environment is not readable: nothing can be said.
            ctx.record_probe(json!({"check": ID, "code": CODE, "service": s.name, "skipped": "the server's environment could not be read"}));
            continue;
        }
        let cwd = holder
            .as_ref()
            .and_then(|p| p.cwd.clone())
            .unwrap_or_else(|| {
                if frontend {
                    folder.clone()
                } else {
                    s.start_folder(&project.root)
                }
            });
        let (env_files, target) = env_files_read(project, s, &folder, &cwd, &reads, frontend);
        let file_keys = keys_of(&env_files);
        let started_with = start_texts(project, s, &folder);
        let startup_files = if frontend {
            None
        } else {
            startup_files(project, s, &folder, node)
        };
        let code_texts: Vec<&str> = files.iter().map(|(_, t)| t.as_str()).collect();
        let first_of_service = out.len();
        for (name, places) in &reads.by_name {
            let any_case = places.iter().any(|(_, r)| r.any_case);
            let matches = |k: &str| {
                if any_case {
                    k.eq_ignore_ascii_case(name)
                } else {
                    k == name
                }
            };
            let in_files: Vec<&(String, PathBuf, usize, bool)> =
                file_keys.iter().filter(|(k, ..)| matches(k)).collect();
            if in_files.iter().any(|(.., non_empty)| *non_empty) {
                continue;
            }
            if started_with.iter().any(|(_, t)| sets_in_command(t, name)) {
                continue;
            }
            if set_in_code(&code_texts, name) {
                continue;
            }
            let in_process = match &environ {
                Some(keys) => keys.iter().any(|k| matches(k)),
                None => std::env::vars_os().any(|(k, _)| matches(&k.to_string_lossy())),
            };
            if in_process {
                continue;
            }
            let django_setting = (s.kind.as_deref() == Some("django"))
                .then(|| {
                    places.iter().find_map(|(path, read)| {
                        let text = files.iter().find(|(p, _)| p == path)?.1.as_str();
                        let line = text.lines().nth(read.line.checked_sub(1)?)?;
                        crate::frameworks::django::required_setting_assigned(line)
                    })
                })
                .flatten();
            let mut f = finding(
                ctx,
                s,
                name,
                places,
                &Situation {
                    up,
                    holder: holder.as_ref(),
                    cwd: &cwd,
                    env_files: &env_files,
                    target: &target,
                    empty_in: in_files
                        .iter()
                        .map(|(_, p, l, _)| (p.clone(), *l))
                        .collect(),
                    started_with: &started_with,
                    startup_files: startup_files.as_ref(),
                    loads_env_file: reads.loads_env_file
                        || started_with
                            .iter()
                            .any(|(_, t)| t.contains("--env-file") || t.contains("dotenv"))
                        || (s.kind.as_deref() == Some("flask")
                            && s.start.as_deref().is_some_and(|c| c.contains("flask"))),
                    frontend,
                },
            );
            if frontend {
                branch_the_dev_server_needs(ctx, s, name, &files, &target, &mut f);
            }
            if let Some(setting) = django_setting {
                f.evidence.insert("django_setting".into(), json!(setting));
                if up {
                    f.title = format!(
                        "{name} is read at {} and set nowhere: Django raises ImproperlyConfigured (\"The {setting} setting must not be empty\") on every request that needs it",
                        f.evidence["read_at"].as_str().unwrap_or_default()
                    );
                }
            }
            out.push(f);
        }
        if python && !up {
            mark_sole_none_at_start(&mut out[first_of_service..]);
        }
    }
    out
}

/// A frontend's variable that a `switch` on it reads (`switch
/// (import.meta.env.VITE_ENV)`, or on a name assigned from it), unset: the
/// switch takes its `default:`. When a `case` returns a local URL where the
/// project's server listens, that case is the value the dev server needs
/// and `default:` is not it (field gd fd P2 G: the production host was
/// called, said only as info). Raised to a warning, with the value to set
/// in the dev mode's env file, and the env files of other modes that set
/// it named (`client/.env.production` is read by `vite build`, not `vite`).
fn branch_the_dev_server_needs(
    ctx: &Context,
    s: &Service,
    name: &str,
    files: &[&(PathBuf, String)],
    target: &Path,
    f: &mut Finding,
) {
    let Ok(snapshot) = ctx.snapshot() else {
        return;
    };
    let project = &ctx.project;
    for (path, text) in files {
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let Some(expr) = line
                .trim()
                .strip_prefix("switch")
                .and_then(|r| r.trim_start().strip_prefix('('))
                .and_then(|r| r.split(')').next())
                .map(str::trim)
            else {
                continue;
            };
            // The switch is on the variable, or on a name assigned from it
            // in the lines above.
            let on_it = expr.ends_with(name)
                || lines[i.saturating_sub(8)..i].iter().any(|l| {
                    l.contains(name)
                        && l.split('=')
                            .next()
                            .is_some_and(|lhs| lhs.split_whitespace().last() == Some(expr))
                });
            if !on_it {
                continue;
            }
            // Its cases, each with the first URL its branch returns.
            let mut cases: Vec<(String, String, usize)> = Vec::new();
            let mut default_url = None;
            let mut label: Option<String> = None;
            let mut is_default = false;
            for (j, l) in lines.iter().enumerate().skip(i + 1).take(60) {
                let t = l.trim();
                if let Some(v) = t.strip_prefix("case ").and_then(|r| r.split(':').next()) {
                    label = Some(v.trim().trim_matches(['"', '\'', '`']).to_string());
                    is_default = false;
                } else if t.starts_with("default") {
                    is_default = true;
                    label = None;
                }
                if let Some(url) = crate::project::quoted_urls(t).first() {
                    if let Some(l) = label.take() {
                        cases.push((l, url.to_string(), j + 1));
                    } else if is_default && default_url.is_none() {
                        default_url = Some(url.to_string());
                    }
                }
                if t.starts_with('}') && !t.starts_with("},") && t.len() == 1 {
                    break;
                }
            }
            let served = cases.iter().find(|(_, url, _)| {
                crate::project::parse_url(url).is_some_and(|u| {
                    crate::project::is_local_host(&u.host) && snapshot.has_listener(u.port)
                })
            });
            let Some((value, url, at)) = served else {
                continue;
            };
            let dev_file = target
                .parent()
                .map_or(target.to_path_buf(), |d| d.join(".env.development"));
            let other_modes: Vec<String> = [".env.production", ".env.staging", ".env.test"]
                .iter()
                .map(|n| target.parent().unwrap_or(target).join(n))
                .filter(|p| {
                    read_bounded(p).is_ok_and(|t| {
                        t.lines().any(|l| {
                            crate::project::parse_env_line(l).is_some_and(|(k, _)| k == name)
                        })
                    })
                })
                .map(|p| project.relative(&p))
                .collect();
            let shown = project.relative(&dev_file);
            let rel = project.relative(path);
            f.severity = Severity::Warning;
            f.title = format!(
                "{name} is unset for {}'s dev server{}: the switch at {rel}:{} takes `default:`{}, not `case \"{value}\"` ({url}, {rel}:{at}), where the project's server listens",
                s.name,
                if other_modes.is_empty() {
                    String::new()
                } else {
                    format!(" (only {} sets it: read by a build, not by the dev server)", other_modes.join(", "))
                },
                i + 1,
                default_url.map(|u| format!(" ({u})")).unwrap_or_default()
            );
            f.evidence
                .insert("switch_at".into(), json!(format!("{rel}:{}", i + 1)));
            f.evidence.insert("value_needed".into(), json!(value));
            if !other_modes.is_empty() {
                f.evidence.insert("set_only_in".into(), json!(other_modes));
            }
            f.fix = Some(Fix {
                title: format!("set {name}={value} in {shown}, the file the dev server reads in development mode"),
                safety: crate::finding::Safety::Confirm,
                commands: vec![format!("echo '{name}={value}' >> {shown}")],
                action: Some(crate::finding::FixAction::AppendKeys {
                    path: dev_file,
                    keys: vec![format!("{name}={value}")],
                }),
            });
            return;
        }
    }
}

/// Of a Python service that is down, the one variable read at start-up in
/// a way that gives None when unset (`environ.get("X")`, `os.getenv("X")`)
/// and set nowhere: when its import dies on a None (`'NoneType' object has
/// no attribute …`), that variable is why (field gb fb P1 c8: the key's
/// line deleted from the env file the code loads). With two such
/// variables the evidence does not say which: neither is marked.
fn mark_sole_none_at_start(found: &mut [Finding]) {
    let is_none_at_start = |f: &Finding| {
        f.evidence.get("fails_when_unset") == Some(&json!(false))
            && f.evidence.get("runs_at_start") == Some(&json!(true))
    };
    let candidates: Vec<usize> = (0..found.len())
        .filter(|&i| is_none_at_start(&found[i]))
        .collect();
    if let [only] = candidates[..] {
        found[only]
            .evidence
            .insert("none_at_start".into(), json!(true));
    }
}

/// What doctor knows of the process that reads the variable.
struct Situation<'a> {
    up: bool,
    holder: Option<&'a crate::platform::ProcessInfo>,
    cwd: &'a Path,
    env_files: &'a [PathBuf],
    /// The env file a value belongs in.
    target: &'a Path,
    /// Env files that have the key with an empty value (file, line).
    empty_in: Vec<(PathBuf, usize)>,
    started_with: &'a [(String, String)],
    /// The files loaded at start-up, when the entry is known.
    startup_files: Option<&'a BTreeSet<PathBuf>>,
    loads_env_file: bool,
    frontend: bool,
}

fn read_code(files: &[&(PathBuf, String)], python: bool, frontend: bool, s: &Service) -> Reads {
    let mut by_name: BTreeMap<String, Vec<(PathBuf, EnvRead)>> = BTreeMap::new();
    let mut named_env_files = Vec::new();
    let mut loads_env_file = false;
    let prefixes = public_prefix(s.kind.as_deref().unwrap_or_default());
    for (path, text) in files {
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_string())
            .unwrap_or_default();
        let reads: Vec<EnvRead> = if ext == "py" {
            if !python
                || !["environ", "getenv", "BaseSettings"]
                    .iter()
                    .any(|w| text.contains(w))
            {
                continue;
            }
            let Some(PyReads {
                reads, env_files, ..
            }) = python_reads(text)
            else {
                continue;
            };
            loads_env_file |= !env_files.is_empty();
            named_env_files.extend(env_files.into_iter().map(|f| (path.clone(), f)));
            reads
        } else if ["js", "mjs", "cjs", "ts", "mts", "cts", "jsx", "tsx"].contains(&ext.as_str()) {
            if python {
                continue;
            }
            js_reads(text, &path.to_string_lossy()).unwrap_or_default()
        } else {
            continue;
        };
        // `load_dotenv("../.env")`, `dotenv.config({ path: "../.env" })`,
        // `require("dotenv")`, `import "dotenv/config"`.
        for line in text.lines() {
            if line.contains("dotenv") || line.contains("load_dotenv") {
                loads_env_file = true;
                for quoted in quoted_strings(line) {
                    if quoted.contains(".env") && !quoted.contains("dotenv") {
                        named_env_files.push((path.clone(), quoted.to_string()));
                    }
                }
            }
        }
        for r in reads {
            if is_platform(&r.name) {
                continue;
            }
            if frontend {
                // The browser sees only the public prefix; other names are
                // the server side's (a Next.js route) or the framework's.
                if !prefixes.iter().any(|p| r.name.starts_with(p)) {
                    continue;
                }
            }
            by_name
                .entry(r.name.clone())
                .or_default()
                .push((path.clone(), r));
        }
    }
    Reads {
        by_name,
        named_env_files,
        loads_env_file,
    }
}

fn quoted_strings(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find(['"', '\'', '`']) {
        let q = rest[i..].chars().next().unwrap_or('"');
        let after = &rest[i + 1..];
        let Some(j) = after.find(q) else {
            break;
        };
        out.push(&after[..j]);
        rest = &after[j + 1..];
    }
    out
}

/// The env files the process reads, existing or not: the dotenv family in
/// the folder it runs in and the service's folder (and the project root,
/// which a root `.env` serves), the ones its code names, resolved against
/// its folder; a frontend's `envDir`. And the one a value belongs in: the
/// first file its code names (resolved against the folder it runs in),
/// else a frontend's first env file of its env folder, else `.env` of the
/// folder it runs in.
fn env_files_read(
    project: &Project,
    s: &Service,
    folder: &Path,
    cwd: &Path,
    reads: &Reads,
    frontend: bool,
) -> (Vec<PathBuf>, PathBuf) {
    let mut dirs: Vec<PathBuf> = Vec::new();
    let env_dir = s
        .sources
        .iter()
        .find(|f| f.fact == "env_dir")
        .filter(|_| frontend)
        .map(|dir| crate::project::lexical(&folder.join(&dir.value)));
    dirs.extend(env_dir.clone());
    let target = match reads.named_env_files.first() {
        Some((_, named)) => crate::project::lexical(&cwd.join(named)),
        None if frontend => {
            let home = env_dir.unwrap_or_else(|| folder.to_path_buf());
            ENV_FILES
                .iter()
                .map(|n| home.join(n))
                .find(|p| p.is_file())
                .unwrap_or_else(|| home.join(".env"))
        }
        None => cwd.join(".env"),
    };
    dirs.push(cwd.to_path_buf());
    dirs.push(folder.to_path_buf());
    if let Some(r) = s.run_folder() {
        dirs.push(r.clone());
    }
    dirs.push(project.root.clone());
    let mut files: Vec<PathBuf> = Vec::new();
    let mut add = |p: PathBuf| {
        let p = crate::project::lexical(&p);
        if !files.contains(&p) {
            files.push(p);
        }
    };
    for (from, named) in &reads.named_env_files {
        add(cwd.join(named));
        if let Some(dir) = from.parent() {
            add(dir.join(named));
        }
    }
    for dir in &dirs {
        for name in ENV_FILES.iter().chain(&[".flaskenv"]) {
            add(dir.join(name));
        }
    }
    (files, target)
}

/// (key, file, line, has a value) of every env file that exists.
fn keys_of(files: &[PathBuf]) -> Vec<(String, PathBuf, usize, bool)> {
    let mut out = Vec::new();
    for f in files {
        let Ok(text) = read_bounded(f) else {
            continue;
        };
        for (i, line) in text.lines().enumerate() {
            if let Some((k, v)) = crate::project::parse_env_line(line) {
                out.push((k.to_string(), f.clone(), i + 1, !v.trim().is_empty()));
            }
        }
    }
    out
}

/// What starts the service, as text, each with where it is written: its
/// start command, the package.json scripts of its folder and the root, the
/// Procfile lines, the compose files.
fn start_texts(project: &Project, s: &Service, folder: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(start) = &s.start {
        out.push(("start command".to_string(), start.clone()));
    }
    let mut dirs = vec![folder.to_path_buf(), project.root.clone()];
    if let Some(r) = s.run_folder() {
        dirs.push(r.clone());
    }
    dirs.dedup();
    for dir in dirs {
        let pkg = dir.join("package.json");
        if let Ok(text) = read_bounded(&pkg) {
            if let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) {
                if let Some(scripts) = json["scripts"].as_object() {
                    for (k, v) in scripts {
                        if let Some(v) = v.as_str() {
                            out.push((
                                format!("{} scripts.{k}", project.relative(&pkg)),
                                v.to_string(),
                            ));
                        }
                    }
                }
            }
        }
        for name in [
            "Procfile",
            "Procfile.dev",
            "docker-compose.yml",
            "docker-compose.yaml",
            "compose.yml",
            "compose.yaml",
            "docker-compose.override.yml",
            "compose.override.yml",
            "Makefile",
            "justfile",
        ] {
            let p = dir.join(name);
            if let Ok(text) = read_bounded(&p) {
                out.push((project.relative(&p), text));
            }
        }
    }
    out
}

/// Whether a command's text sets `name`: `NAME=1 node x.js`, `cross-env
/// NAME=1`, `--env NAME=…`, compose's `NAME: …` / `- NAME=…` / `- NAME`.
fn sets_in_command(text: &str, name: &str) -> bool {
    text.match_indices(name).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + name.len()..].trim_start_matches([' ', '\t']);
        let word_start = before.is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '$'));
        let set = after.starts_with('=') && !after.starts_with("==")
            || after.starts_with(':')
            || after.starts_with('\n')
            || after.starts_with('\r')
            || after.is_empty();
        word_start && set && !text[..i].ends_with("${")
    })
}

/// The code sets it itself before reading it (`os.environ.setdefault("X", …)`,
/// `process.env.X = …`).
fn set_in_code(texts: &[&str], name: &str) -> bool {
    let patterns = [
        format!("process.env.{name} ="),
        format!("process.env.{name} ??="),
        format!("process.env.{name} ||="),
        format!("process.env[\"{name}\"] ="),
        format!("process.env['{name}'] ="),
        format!("environ[\"{name}\"] ="),
        format!("environ['{name}'] ="),
        format!("setdefault(\"{name}\""),
        format!("setdefault('{name}'"),
        format!("putenv(\"{name}\""),
    ];
    texts.iter().any(|t| {
        patterns.iter().any(|p| {
            t.match_indices(p.as_str())
                .any(|(i, _)| !t[i + p.len()..].starts_with('='))
        })
    })
}

/// The files the service loads when it starts, from its entry: Node's
/// relative imports from the file its start script runs; Python's imports
/// of the project's modules from the module its server imports. `None` when
/// the entry is not known.
fn startup_files(
    project: &Project,
    s: &Service,
    folder: &Path,
    node: bool,
) -> Option<BTreeSet<PathBuf>> {
    let mut seen = BTreeSet::new();
    let mut queue = VecDeque::new();
    if node {
        let run = s.run_folder().unwrap_or(&folder.to_path_buf()).clone();
        let script = s.start.as_deref().and_then(|c| c.strip_prefix("npm run "));
        let entry = super::nodestart::node_entry(&run, script)?;
        queue.push_back(entry.file);
    } else {
        let module = s.entry.as_deref()?;
        let module = module.split(':').next().unwrap_or(module);
        let base = s
            .run_folder()
            .cloned()
            .unwrap_or_else(|| folder.to_path_buf());
        let first = python_module(&[base, folder.to_path_buf()], module)?;
        queue.push_back(first);
    }
    let bases = vec![
        s.run_folder()
            .cloned()
            .unwrap_or_else(|| folder.to_path_buf()),
        folder.to_path_buf(),
        project.root.clone(),
    ];
    while let Some(file) = queue.pop_front() {
        if seen.len() > 300 || !seen.insert(file.clone()) {
            continue;
        }
        let Ok(text) = read_bounded(&file) else {
            continue;
        };
        let dir = file.parent().unwrap_or(folder).to_path_buf();
        if node {
            let Some(requests) =
                crate::project::jsconfig::module_requests(&text, &file.to_string_lossy())
            else {
                continue;
            };
            for r in requests {
                if r.spec.starts_with("./") || r.spec.starts_with("../") {
                    if let Some(found) = super::nodestart::resolve_file(&dir.join(&r.spec)) {
                        if found.starts_with(&project.root)
                            && !found.components().any(|c| c.as_os_str() == "node_modules")
                        {
                            queue.push_back(found);
                        }
                    }
                }
            }
        } else {
            // Modules loaded by name at start: Flask's
            // `app.config.from_object('config.Config')`, importlib's
            // `import_module("x")` (field gb fb P1 c8: the settings class
            // that reads the key was reached only so).
            for named in modules_named_in_calls(&text) {
                let parts: Vec<&str> = named.split('.').collect();
                for k in (1..=parts.len()).rev() {
                    if let Some(p) = python_module(&bases, &parts[..k].join(".")) {
                        if p.starts_with(&project.root) {
                            queue.push_back(p);
                        }
                        break;
                    }
                }
            }
            let Some(parsed) = python_reads(&text) else {
                continue;
            };
            for (level, module, names) in parsed.imports {
                let roots: Vec<PathBuf> = if level == 0 {
                    bases.clone()
                } else {
                    let mut d = dir.clone();
                    for _ in 1..level {
                        d.pop();
                    }
                    vec![d]
                };
                let mut candidates = vec![module.clone()];
                for n in &names {
                    candidates.push(if module.is_empty() {
                        n.clone()
                    } else {
                        format!("{module}.{n}")
                    });
                }
                for m in candidates.iter().filter(|m| !m.is_empty()) {
                    // The packages on the way are imported too.
                    let parts: Vec<&str> = m.split('.').collect();
                    for k in 1..=parts.len() {
                        if let Some(p) = python_module(&roots, &parts[..k].join(".")) {
                            if p.starts_with(&project.root) {
                                queue.push_back(p);
                            }
                        }
                    }
                }
            }
        }
    }
    Some(seen)
}

/// The dotted names a module loads by name at its top level:
/// `from_object("config.Config")`, `import_module('app.settings')`.
fn modules_named_in_calls(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with([' ', '\t'])) {
        for call in ["from_object(", "import_module("] {
            let Some(at) = line.find(call) else { continue };
            let rest = line[at + call.len()..].trim_start();
            let Some(rest) = rest.strip_prefix(['"', '\'']) else {
                continue;
            };
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '.')
                .collect();
            if !name.is_empty() {
                out.push(name);
            }
        }
    }
    out
}

fn python_module(bases: &[PathBuf], module: &str) -> Option<PathBuf> {
    let rel: PathBuf = module.split('.').collect();
    bases.iter().find_map(|b| {
        let file = b.join(&rel).with_extension("py");
        let init = b.join(&rel).join("__init__.py");
        [file, init].into_iter().find(|p| p.is_file())
    })
}

fn finding(
    ctx: &Context,
    s: &Service,
    name: &str,
    places: &[(PathBuf, EnvRead)],
    at: &Situation,
) -> Finding {
    let project = &ctx.project;
    // The read that matters most: one that fails at start-up, else the first.
    let reaches_startup =
        |f: &PathBuf, r: &EnvRead| r.startup && at.startup_files.is_some_and(|set| set.contains(f));
    let (file, read) = places
        .iter()
        .find(|(f, r)| r.fatal && reaches_startup(f, r))
        .or_else(|| places.iter().find(|(_, r)| r.url_base))
        .or_else(|| places.iter().find(|(_, r)| r.fatal))
        .unwrap_or(&places[0]);
    let location = format!("{}:{}", project.relative(file), read.line);
    let fatal_at_start = read.fatal && reaches_startup(file, read);
    let empty = !at.empty_in.is_empty();
    // Warning only where the evidence is conclusive (principle 0).
    let severity = if at.frontend {
        if read.url_base && !empty {
            Severity::Warning
        } else {
            Severity::Info
        }
    } else if !at.up && fatal_at_start && !empty {
        Severity::Warning
    } else {
        Severity::Info
    };
    let cwd_shown = project.shown(at.cwd).unwrap_or_else(|| ".".into());
    // Where it should go: the first env file of the folder it runs in that
    // its code names, else that folder's `.env` (a frontend: its envDir's).
    let target = at.target;
    let target_shown = project.relative(target);
    let example = example_line(project, target, name);
    let checked: Vec<String> = at
        .env_files
        .iter()
        .filter(|p| p.exists())
        .map(|p| project.relative(p))
        .collect();
    let server = match at.holder {
        Some(p) => format!("pid {} ({})", p.pid, super::shorten(&p.command(), 50)),
        None => s
            .start
            .clone()
            .map(|c| format!("`{}`", super::shorten(&c, 50)))
            .unwrap_or_else(|| s.name.clone()),
    };
    let environment = match at.holder {
        Some(p) => format!("read /proc/{}/environ: {name} is not among its keys", p.pid),
        None => format!(
            "no process serves port {}: doctor's own environment (the shell the server would start from) lacks {name}",
            s.port
        ),
    };
    let how = &read.how;
    let state = if at.frontend {
        if read.url_base {
            format!("it starts a URL at {location}: unset, the browser calls `undefined/…`")
        } else {
            "the bundle gets `undefined` for it".to_string()
        }
    } else if at.up {
        format!("{} serves port {} without it", server, s.port)
    } else if fatal_at_start {
        format!(
            "the read fails when it is unset and runs at start-up: {} cannot start, so nothing answers on port {}",
            s.name, s.port
        )
    } else {
        format!("nothing listens on port {}", s.port)
    };
    let title = format!(
        "{name} is read at {location} ({how}) and set nowhere{}: {state}",
        if empty { " (its key is empty)" } else { "" }
    );
    let explanation = if severity == Severity::Warning && !at.frontend {
        format!("The {} reads {name} when it starts, in a way that fails when the variable is unset ({how}), and nothing sets it: no env file of the folder it runs in ({cwd_shown}), not its start command, not the environment it would start with. It exits at start-up (a reloader that holds the port is left without a worker), so nothing answers on port {}.", s.name, s.port)
    } else if at.frontend {
        format!("The frontend's code reads {name} and no env file of its env folder sets it, so the value built into the page is `undefined`.{}", if read.url_base { " It begins a URL, so requests go to a path starting with `undefined/` on the dev server instead of the API." } else { "" })
    } else {
        format!("The {}'s code reads {name} without a fallback and nothing sets it (no env file it reads, not its start command, not its environment). {}", s.name, if at.up { "It runs, so the read has not crashed it: the code that reads it may not have run yet, or copes with a missing value." } else { "Whether that stops it depends on the code that reads it." })
    };
    let mut steps = vec![if at.loads_env_file || at.frontend {
        format!("add a line `{name}=<value>` to {target_shown}")
    } else {
        format!("export {name}=<value> in the shell that starts it, or add it to its start command (its code loads no env file; {target_shown} is read only by a loader such as dotenv or --env-file)")
    }];
    if let Some(ex) = &example {
        steps.push(format!("its example value is described at {ex}"));
    }
    if let Some(p) = at.holder {
        steps.push(format!(
            "then restart pid {} ({}): it reads its environment once, at start",
            p.pid,
            super::shorten(&p.command(), 50)
        ));
    } else if let Some(start) = s.start_from_root_with_venv(&project.root) {
        steps.push(format!("then start it again: {}", start.join(" ; ")));
    }
    let mut f = Finding::new(CODE, ID, title)
        .severity(severity)
        .explain(explanation)
        .evidence("variable", name)
        .evidence("service", s.name.clone())
        .evidence("port", s.port)
        .evidence("read_at", location.clone())
        .evidence("how", how.clone())
        .evidence(
            "reads",
            places
                .iter()
                .take(8)
                .map(|(f, r)| json!({"at": format!("{}:{}", project.relative(f), r.line), "how": r.how, "fails_when_unset": r.fatal, "at_import": r.startup}))
                .collect::<Vec<_>>(),
        )
        .evidence("fails_when_unset", read.fatal)
        .evidence("runs_at_start", fatal_at_start || reaches_startup(file, read))
        .evidence("env_files_checked", checked)
        .evidence("process_environment", environment)
        .evidence("process_environment_read", at.holder.is_some())
        .evidence(
            "start_commands_checked",
            at.started_with
                .iter()
                .map(|(w, _)| w.clone())
                .collect::<Vec<_>>(),
        )
        .evidence("cwd", cwd_shown.clone())
        .evidence("should_go", target_shown.clone())
        .with_fix(Fix::manual(
            if at.loads_env_file || at.frontend {
                format!(
                    "set {name} in {target_shown} (the file {} reads from {cwd_shown}){}",
                    if at.frontend { s.name.clone() } else { server.clone() },
                    if at.holder.is_some() { ", then restart it" } else { "" }
                )
            } else {
                format!(
                    "export {name} in the shell that starts {server} (its code loads no env file){}",
                    if at.holder.is_some() { ", then restart it" } else { "" }
                )
            },
            steps,
        ));
    if let Some(ex) = example {
        f = f.evidence("example", ex);
    }
    if empty {
        f = f.evidence(
            "empty_in",
            at.empty_in
                .iter()
                .map(|(p, l)| format!("{}:{l}", project.relative(p)))
                .collect::<Vec<_>>(),
        );
    }
    if read.any_case {
        // pydantic names the field in its error, in lower case.
        if let Some(field) = read.how.strip_prefix("pydantic field ") {
            f = f.evidence(
                "field",
                field
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_string(),
            );
        }
    }
    f
}

/// `backend/.env.example:3` when an example beside the target has the key.
fn example_line(project: &Project, target: &Path, name: &str) -> Option<String> {
    let dir = target.parent()?;
    [
        ".env.example",
        ".env.sample",
        ".env-example",
        ".env.template",
        ".env.dist",
    ]
    .iter()
    .find_map(|ex| {
        let p = dir.join(ex);
        let text = read_bounded(&p).ok()?;
        let line = text.lines().position(|l| {
            crate::project::parse_env_line(l).is_some_and(|(k, _)| k.eq_ignore_ascii_case(name))
        })?;
        Some(format!("{}:{}", project.relative(&p), line + 1))
    })
}

/// The env names a finding of ENV007 is about, for correlation: the
/// variable, and a pydantic field's name (its ValidationError names the field).
pub fn names(f: &Finding) -> Vec<String> {
    ["variable", "field"]
        .iter()
        .filter_map(|k| f.evidence.get(*k).and_then(|v| v.as_str()))
        .map(String::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_commands_that_set_a_variable() {
        assert!(sets_in_command(
            "API_UPSTREAM=http://x node server.js",
            "API_UPSTREAM"
        ));
        assert!(sets_in_command(
            "cross-env DATABASE_URL=1 nodemon",
            "DATABASE_URL"
        ));
        assert!(sets_in_command(
            "services:\n  api:\n    environment:\n      DATABASE_URL: postgres://db\n",
            "DATABASE_URL"
        ));
        assert!(sets_in_command(
            "    environment:\n      - SECRET_KEY\n",
            "SECRET_KEY"
        ));
        assert!(!sets_in_command("node server.js", "API_UPSTREAM"));
        assert!(!sets_in_command("echo $API_UPSTREAM_X=1", "API_UPSTREAM"));
        assert!(!sets_in_command("url: ${DATABASE_URL}\n", "DATABASE_URL"));
        assert!(!sets_in_command("if [ \"$X\" == 1 ]", "X"));
    }

    #[test]
    fn code_that_sets_its_own_variable() {
        assert!(set_in_code(
            &["os.environ.setdefault(\"DJANGO_X\", \"a\")"],
            "DJANGO_X"
        ));
        assert!(set_in_code(&["process.env.TZ_X = 'UTC'"], "TZ_X"));
        assert!(!set_in_code(&["if (process.env.TZ_X == 'UTC')"], "TZ_X"));
    }

    #[test]
    fn platform_variables_are_never_the_project_s() {
        assert!(is_platform("NODE_ENV"));
        assert!(is_platform("npm_package_version"));
        assert!(is_platform("VERCEL_URL"));
        assert!(!is_platform("DATABASE_URL"));
    }
}
