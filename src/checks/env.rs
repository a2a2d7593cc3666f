//! ENV001–ENV007: the env files the app reads: present, complete, well
//! formed, pointing where the services really are, kept out of git, and not
//! sent through a proxy; a variable the code reads that nothing sets
//! (ENV007, in unset.rs). Values are never read into a report: keys only.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;

use crate::engine::{Check, CheckError, Context};
use crate::finding::{Finding, Fix, FixAction, Safety, Severity};
use crate::platform;
use crate::project::{parse_url, read_bounded, Project, ENV_FILES};
use crate::run;

pub struct Env;

const ID: &str = "env";
const EXAMPLES: &[&str] = &[
    ".env.example",
    ".env.sample",
    ".env-example",
    ".env.template",
    ".env.dist",
];
const PROXY_VARS: &[&str] = &["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"];
const LOOPBACK_NAMES: &[&str] = &["localhost", "127.0.0.1", "::1"];

impl Check for Env {
    fn id(&self) -> &'static str {
        ID
    }
    fn description(&self) -> &'static str {
        "env files: missing, incomplete, malformed, pointing at the wrong port, tracked by git; proxy variables; a variable the code needs that nothing sets"
    }
    fn codes(&self) -> &'static [&'static str] {
        &[
            "ENV001", "ENV002", "ENV003", "ENV004", "ENV005", "ENV006", "ENV007",
        ]
    }
    fn run(&self, ctx: &Context) -> Result<Vec<Finding>, CheckError> {
        let project = &ctx.project;
        let mut out = Vec::new();
        let mut with_values = Vec::new();
        for dir in &project.folders {
            examples(project, dir, ctx.config.timeout, &mut out);
            for name in ENV_FILES.iter().chain(EXAMPLES) {
                let path = dir.join(name);
                let Ok(text) = read_bounded(&path) else {
                    continue;
                };
                let parsed = parse(&text);
                malformed(project, &path, &parsed, &mut out);
                // Only a file that holds a real-looking secret: `VITE_*`,
                // `NEXT_PUBLIC_*` and `REACT_APP_*` values are bundled into the
                // client by design, and a committed template of placeholders
                // (changethis, empty) is a config every clone needs.
                if ENV_FILES.contains(name) && parsed.entries.iter().any(|e| e.secret) {
                    with_values.push(path);
                }
            }
        }
        compose_env_files(ctx, &mut out);
        code_loaded_env_files(ctx, &mut out);
        deleted_frontend_env_files(ctx, &mut out);
        out.extend(not_ignored(project, &with_values, ctx.config.timeout));
        out.extend(wrong_port(ctx));
        out.extend(proxy_without_loopback());
        out.extend(super::unset::findings(ctx));
        Ok(out)
    }
}

struct Entry {
    key: String,
    line: usize,
    /// A secret-looking key, not public by its prefix, with a value that is
    /// no placeholder.
    secret: bool,
}

/// Prefixes of keys whose values frameworks bundle into the client.
const PUBLIC_PREFIXES: &[&str] = &[
    "VITE_",
    "NEXT_PUBLIC_",
    "REACT_APP_",
    "NUXT_PUBLIC_",
    "PUBLIC_",
    "EXPO_PUBLIC_",
    "GATSBY_",
];

/// Whether `key=value` holds what looks like a real secret.
fn holds_secret(key: &str, value: &str) -> bool {
    let upper = key.to_ascii_uppercase();
    if PUBLIC_PREFIXES.iter().any(|p| upper.starts_with(p)) {
        return false;
    }
    let value = value.trim().trim_matches(['"', '\'']);
    let lower = value.to_ascii_lowercase();
    let placeholder = value.len() < 4
        || [
            "change",
            "example",
            "your",
            "xxx",
            "todo",
            "replace",
            "placeholder",
            "secret",
            "password",
            "dummy",
            "test",
        ]
        .iter()
        .any(|w| lower.starts_with(w) || lower.contains(&format!("<{w}")))
        || (lower.starts_with('<') && lower.ends_with('>'))
        || (lower.starts_with("${") && lower.ends_with('}'));
    if placeholder {
        return false;
    }
    // A URL with a password is a secret whatever its key.
    let url_password = value
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once('@'))
        .and_then(|(user, _)| user.split_once(':'))
        .is_some_and(|(_, password)| {
            password.len() >= 4
                && !["postgres", "password", "changethis", "changeme"].contains(&password)
        });
    crate::redact::is_secret_name(key) || url_password
}

#[derive(Default)]
struct Parsed {
    entries: Vec<Entry>,
    /// Lines that are neither `KEY=value`, a comment nor blank.
    bad_lines: Vec<usize>,
}

/// Our own reader rather than a dotenv crate: findings need each key's line.
fn parse(text: &str) -> Parsed {
    let mut parsed = Parsed::default();
    let mut in_multiline = false;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if in_multiline {
            in_multiline = !(line.ends_with('"') || line.ends_with('\''));
            continue;
        }
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match crate::project::parse_env_line(line) {
            Some((key, value)) => {
                let rest = line.split_once('=').map_or("", |(_, v)| v.trim());
                // A quoted value that opens and does not close on this line.
                let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'');
                in_multiline = quote.is_some_and(|q| rest.len() == 1 || !rest[1..].contains(q));
                parsed.entries.push(Entry {
                    key: key.to_string(),
                    line: i + 1,
                    secret: !value.is_empty() && holds_secret(key, value),
                });
            }
            None => parsed.bad_lines.push(i + 1),
        }
    }
    parsed
}

/// How the app's code reads the keys of an example file.
#[derive(Default)]
struct KeyUse {
    /// Read with no fallback: the app needs a value.
    required: Vec<String>,
    /// Read with a fallback (`?? "/api"`, `getenv("K", "x")`, a settings
    /// field with a default).
    defaulted: Vec<String>,
}

fn key_use(project: &Project, dir: &Path, keys: &[String]) -> KeyUse {
    let mut out = KeyUse::default();
    // A root env file serves the whole project; a folder's, its folder.
    let within = if dir == project.root {
        project.root.as_path()
    } else {
        dir
    };
    for key in keys {
        let lower = key.to_ascii_lowercase();
        let mut read = false;
        let mut defaulted = false;
        for (_, text) in project.code.under(within) {
            for line in text.lines() {
                let l = line.trim();
                let names_key = l.contains(key.as_str())
                    || (l.starts_with(&lower) && l[lower.len()..].trim_start().starts_with(':'));
                if !names_key {
                    continue;
                }
                read = true;
                // A settings field is the key in lower case (pydantic-settings
                // matches env names case-insensitively): `app_name: str = "x"`.
                let after = if l.starts_with(&lower) {
                    &l[lower.len()..]
                } else {
                    l.find(key.as_str()).map_or(l, |i| &l[i + key.len()..])
                };
                let settings_default = (l.starts_with(key.as_str()) || l.starts_with(&lower))
                    && after.trim_start().starts_with(':')
                    && after.contains('=');
                if after.contains("??")
                    || after.contains("||")
                    || settings_default
                    || ((l.contains("getenv(") || l.contains(".get(")) && after.contains(','))
                {
                    defaulted = true;
                }
            }
        }
        if read {
            if defaulted {
                out.defaulted.push(key.clone());
            } else {
                out.required.push(key.clone());
            }
        }
    }
    out
}

/// Whether git tracks `path` (so a missing file was deleted, not never made).
fn tracked_by_git(dir: &Path, path: &Path, limit: std::time::Duration) -> bool {
    let Some(git) = run::which("git") else {
        return false;
    };
    let Some(name) = path.file_name() else {
        return false;
    };
    run::bounded(
        Command::new(git)
            .arg("ls-files")
            .arg("--")
            .arg(name)
            .current_dir(dir),
        limit,
    )
    .is_ok_and(|r| r.status == Some(0) && !r.stdout.trim().is_empty())
}

fn examples(project: &Project, dir: &Path, limit: std::time::Duration, out: &mut Vec<Finding>) {
    let env = dir.join(".env");
    for name in EXAMPLES {
        let example = dir.join(name);
        let Ok(text) = read_bounded(&example) else {
            continue;
        };
        let (ex_rel, env_rel) = (project.relative(&example), project.relative(&env));
        if std::fs::symlink_metadata(&env).is_err() {
            let keys: Vec<String> = parse(&text).entries.into_iter().map(|e| e.key).collect();
            let uses = key_use(project, dir, &keys);
            let deleted = tracked_by_git(dir, &env, limit);
            // The code falls back to defaults for every key it reads: the
            // file is optional, and copying the example would change what
            // the app does (a URL instead of the dev proxy), so it asks.
            let optional =
                !deleted && project.code.has_code_under(&project.root) && uses.required.is_empty();
            let mut f = Finding::new(
                "ENV001",
                ID,
                if deleted {
                    format!("{env_rel} is missing: git tracks it, so it was deleted ({ex_rel} is there)")
                } else if optional {
                    format!("{env_rel} is absent; the code has defaults for every key of {ex_rel} it reads")
                } else {
                    format!("{env_rel} is missing ({ex_rel} is there)")
                },
            )
            .evidence("example", ex_rel.clone())
            .evidence("missing", env_rel.clone());
            if !uses.required.is_empty() {
                f = f.evidence("read_without_default", uses.required.clone());
            }
            if !uses.defaulted.is_empty() {
                f = f.evidence("read_with_default", uses.defaulted.clone());
            }
            let shown_dir = project.shown(dir).unwrap_or_default();
            f = if deleted {
                f.evidence("git", "tracked, deleted from the working tree")
                    .with_fix(Fix::manual(
                        format!("restore {env_rel} from git"),
                        crate::shell::in_folder(&shown_dir, "git restore .env"),
                    ))
            } else {
                f.with_fix(Fix {
                    title: format!("copy {ex_rel} to {env_rel}, then fill in the values"),
                    safety: if optional {
                        Safety::Confirm
                    } else {
                        Safety::Safe
                    },
                    commands: vec![format!("cp -n {ex_rel} {env_rel}")],
                    action: Some(FixAction::CopyFile {
                        from: example.clone(),
                        to: env.clone(),
                    }),
                })
            };
            if optional {
                f = f.severity(Severity::Info).explain(
                    "The env file is absent, but every key of the example that the app's code reads has a default in the code, so the app runs without it. Copying the example would replace those defaults with the example's values, which can change behaviour (a frontend calling a URL instead of its dev proxy).",
                );
            }
            out.push(f);
            return;
        }
        let Ok(env_text) = read_bounded(&env) else {
            return;
        };
        let have: BTreeSet<String> = parse(&env_text)
            .entries
            .into_iter()
            .map(|e| e.key)
            .collect();
        let missing: Vec<Entry> = parse(&text)
            .entries
            .into_iter()
            .filter(|e| !have.contains(&e.key))
            .collect();
        if !missing.is_empty() {
            let keys: Vec<String> = missing.iter().map(|e| e.key.clone()).collect();
            out.push(
                Finding::new(
                    "ENV002",
                    ID,
                    format!(
                        "{env_rel} lacks {} of {ex_rel}: {}",
                        if keys.len() == 1 { "a key" } else { "keys" },
                        super::shorten(&keys.join(", "), 80)
                    ),
                )
                .evidence("env_file", env_rel.clone())
                .evidence(
                    "missing",
                    missing
                        .iter()
                        .map(|e| json!({"key": e.key, "example": format!("{ex_rel}:{}", e.line)}))
                        .collect::<Vec<_>>(),
                )
                .with_fix(Fix {
                    title: format!(
                        "add the missing keys to {env_rel} with empty values (after a backup in .doctor/backups/, which git ignores)"
                    ),
                    safety: Safety::Confirm,
                    commands: keys
                        .iter()
                        .map(|k| format!("echo '{k}=' >> {env_rel}"))
                        .collect(),
                    action: Some(FixAction::AppendKeys {
                        path: env.clone(),
                        keys,
                    }),
                }),
            );
        }
        return;
    }
}

fn malformed(project: &Project, path: &Path, parsed: &Parsed, out: &mut Vec<Finding>) {
    let rel = project.relative(path);
    let mut first: BTreeMap<&str, usize> = BTreeMap::new();
    let mut dups = Vec::new();
    for e in &parsed.entries {
        if let Some(&line) = first.get(e.key.as_str()) {
            dups.push(json!({"key": e.key, "lines": [format!("{rel}:{line}"), format!("{rel}:{}", e.line)]}));
        } else {
            first.insert(&e.key, e.line);
        }
    }
    if parsed.bad_lines.is_empty() && dups.is_empty() {
        return;
    }
    let mut what = Vec::new();
    if !parsed.bad_lines.is_empty() {
        let lines: Vec<String> = parsed
            .bad_lines
            .iter()
            .take(5)
            .map(|l| format!("{rel}:{l}"))
            .collect();
        what.push(format!(
            "{} malformed line{} ({}{})",
            parsed.bad_lines.len(),
            if parsed.bad_lines.len() == 1 { "" } else { "s" },
            lines.join(", "),
            if parsed.bad_lines.len() > 5 {
                ", …"
            } else {
                ""
            }
        ));
    }
    if !dups.is_empty() {
        let keys: Vec<&str> = dups.iter().filter_map(|d| d["key"].as_str()).collect();
        what.push(format!(
            "duplicate key{} {}",
            if keys.len() == 1 { "" } else { "s" },
            keys.join(", ")
        ));
    }
    out.push(
        Finding::new("ENV003", ID, format!("{rel}: {}", what.join("; ")))
            .evidence("file", rel.clone())
            .evidence(
                "malformed_lines",
                parsed
                    .bad_lines
                    .iter()
                    .take(50)
                    .map(|l| format!("{rel}:{l}"))
                    .collect::<Vec<_>>(),
            )
            .evidence("duplicates", dups),
    );
}

/// ENV005: one `git check-ignore` for every env file that holds values.
fn not_ignored(project: &Project, files: &[PathBuf], limit: std::time::Duration) -> Vec<Finding> {
    if files.is_empty() || !project.root.ancestors().any(|d| d.join(".git").exists()) {
        return Vec::new();
    }
    let Some(git) = run::which("git") else {
        return Vec::new();
    };
    let Ok(ran) = run::bounded(
        Command::new(git)
            .arg("check-ignore")
            .arg("--")
            .args(files)
            .current_dir(&project.root),
        limit,
    ) else {
        return Vec::new();
    };
    // Exit 0: some ignored, 1: none ignored; anything else: git could not tell.
    if !matches!(ran.status, Some(0 | 1)) {
        return Vec::new();
    }
    let ignored: BTreeSet<PathBuf> = ran
        .stdout
        .lines()
        .map(|l| project.root.join(l.trim()))
        .collect();
    files
        .iter()
        .filter(|f| {
            !ignored.contains(*f)
                && !ignored
                    .iter()
                    .any(|i| i.ends_with(f.strip_prefix(&project.root).unwrap_or(f)))
        })
        .map(|f| {
            let rel = project.relative(f);
            let tracked = f.parent().is_some_and(|dir| tracked_by_git(dir, f, limit));
            let mut steps = vec![format!("echo '{rel}' >> .gitignore")];
            if tracked {
                // Committed: ignoring it is not enough, and the secret is in
                // the history (rotate it).
                steps.push(format!("git rm --cached {rel}"));
            }
            Finding::new(
                "ENV005",
                ID,
                if tracked {
                    format!("{rel} holds a secret-looking value and git tracks it")
                } else {
                    format!("{rel} holds a secret-looking value but git does not ignore it")
                },
            )
            .evidence("file", rel.clone())
            .evidence(
                "git",
                if tracked {
                    format!("git ls-files {rel}: tracked")
                } else {
                    format!("git check-ignore {rel}: not ignored, not tracked")
                },
            )
            .with_fix(Fix::manual(
                if tracked {
                    "stop tracking it, ignore it, and rotate the secret"
                } else {
                    "ignore it"
                },
                steps,
            ))
        })
        .collect()
}

/// The env files an ENV001 already said are missing.
fn missing_said(out: &[Finding]) -> Vec<String> {
    out.iter()
        .filter(|f| f.code == "ENV001")
        .filter_map(|f| {
            f.evidence
                .get("missing")
                .and_then(|v| v.as_str())
                .map(String::from)
        })
        .collect()
}

/// ENV001 for an env file a compose service is given (`env_file:`) that
/// is not there: compose refuses to start the service ("env file … not
/// found"), and a README's native steps load the same file into the shell.
/// A warning when the project's server that would read it is down; info
/// otherwise (a deploy-only file, `.env.prod`, is often absent in dev).
fn compose_env_files(ctx: &Context, out: &mut Vec<Finding>) {
    let project = &ctx.project;
    let mut said = missing_said(out);
    let listening = |port: u16| ctx.snapshot().map(|s| s.has_listener(port)).unwrap_or(true);
    for s in &project.compose {
        let compose = project.root.join(&s.file);
        let dir = compose.parent().unwrap_or(&project.root).to_path_buf();
        for file in &s.env_files {
            let path = dir.join(file);
            if std::fs::symlink_metadata(&path).is_ok() {
                continue;
            }
            let rel = project.relative(&path);
            if said.contains(&rel) {
                continue;
            }
            said.push(rel.clone());
            let env_dir = path.parent().unwrap_or(&dir).to_path_buf();
            // The project's server that would read it natively: in the
            // file's folder or below it.
            let reader = project
                .services
                .iter()
                .filter(|r| r.expected && !r.is_frontend())
                .find(|r| r.folder.as_ref().is_some_and(|f| f.starts_with(&env_dir)));
            let down = reader.is_some_and(|r| !listening(r.port));
            let example = EXAMPLES
                .iter()
                .map(|e| env_dir.join(e))
                .find(|e| e.is_file())
                .map(|e| project.relative(&e));
            let mut f = Finding::new(
                "ENV001",
                ID,
                format!(
                    "{rel} is missing: the compose file gives it to {} ({}:{}, env_file)",
                    s.name, s.file, s.line
                ),
            )
            .evidence("missing", rel.clone())
            .evidence("compose_service", s.name.clone())
            .evidence("compose_file", format!("{}:{}", s.file, s.line))
            .severity(if down { Severity::Warning } else { Severity::Info })
            .explain(if down {
                "The compose file names this env file for its service, and the project's server that reads the same settings natively is down: started without the file, every setting it holds is unset (a database host, a secret key). `docker compose up` refuses the service too (\"env file … not found\")."
            } else {
                "The compose file names this env file for its service; without it `docker compose up` refuses that service (\"env file … not found\"). Nothing of the project that reads it natively is down, so it may be a file for another environment."
            });
            if let Some(r) = reader {
                f = f
                    .evidence("service", r.name.clone())
                    .evidence("port", r.port);
            }
            let mut steps = match &example {
                Some(ex) => vec![
                    format!("cp {ex} {rel}"),
                    format!(
                        "then fill in its values and restart {}",
                        reader.map_or("the server", |r| r.name.as_str())
                    ),
                ],
                None => vec![format!(
                    "create {rel} with the keys the README lists (no example file is there)"
                )],
            };
            // A server whose code loads no env file gets the settings from
            // the shell it starts in (a README's `set -a; . ./.env`): the
            // file alone changes nothing for it (field gc fc P2 c3).
            if let Some(r) = reader.filter(|r| !loads_an_env_file(ctx, r)) {
                steps.push(format!(
                    "{} reads the environment only (its code loads no env file): load {rel} into the shell that starts it (`set -a; . ./{rel}; set +a`; in PowerShell, set each line with `$env:KEY = \"value\"`)",
                    r.name
                ));
                if let Some(start) = r.start_from_root_with_venv(&project.root) {
                    steps.push(format!(
                        "then start it again from that shell: {}",
                        start.join(" ; ")
                    ));
                }
            }
            out.push(f.with_fix(Fix::manual(
                format!(
                    "create {rel}: the compose service {} and the native server read it",
                    s.name
                ),
                steps,
            )));
        }
    }
}

/// Whether a server's own code loads an env file (python-dotenv,
/// django-environ, pydantic's `env_file`, node's dotenv or `--env-file`),
/// or its framework reads one by itself (`flask run`: `.env`, `.flaskenv`).
fn loads_an_env_file(ctx: &Context, server: &crate::project::Service) -> bool {
    if server.kind.as_deref() == Some("flask") {
        return true;
    }
    let Some(folder) = server.folder.as_ref() else {
        return true;
    };
    const LOADERS: &[&str] = &[
        "load_dotenv",
        "dotenv_values",
        "read_env(",
        "env_file",
        "dotenv",
        "--env-file",
    ];
    ctx.project
        .code
        .under(folder)
        .any(|(_, text)| LOADERS.iter().any(|l| text.contains(l)))
        || server
            .start
            .as_deref()
            .is_some_and(|s| s.contains("--env-file") || s.contains("dotenv"))
}

/// ENV001 for an env file of a frontend's dev mode that git tracks and that
/// is gone from the working tree (`client/.env.development` with
/// `VITE_ENV=dev`), when the frontend's code reads a key it set: the bundle
/// gets `undefined` for it, and a `switch` on it takes its `default:`, the
/// production host (field gd fd P2 G: an info ENV007 "set nowhere", while
/// `git restore` was the whole fix). The keys are read from git's copy.
fn deleted_frontend_env_files(ctx: &Context, out: &mut Vec<Finding>) {
    let project = &ctx.project;
    let Some(git) = run::which("git") else {
        return;
    };
    let mut said = missing_said(out);
    for s in project
        .services
        .iter()
        .filter(|s| s.is_frontend() && s.expected)
    {
        let Some(folder) = s.folder.as_ref() else {
            continue;
        };
        // The files its dev server reads in development mode.
        let dev_files: &[&str] = match s.kind.as_deref() {
            Some("vite") => &[
                ".env",
                ".env.local",
                ".env.development",
                ".env.development.local",
            ],
            Some("next" | "cra") => &[
                ".env",
                ".env.local",
                ".env.development",
                ".env.development.local",
            ],
            _ => continue,
        };
        let Ok(listed) = run::bounded(
            Command::new(&git)
                .args(["ls-files", "--deleted", "--"])
                .args(dev_files)
                .current_dir(folder),
            ctx.config.timeout,
        ) else {
            continue;
        };
        if listed.status != Some(0) {
            continue;
        }
        for name in listed
            .stdout
            .lines()
            .map(str::trim)
            .filter(|n| !n.is_empty())
        {
            let path = folder.join(name);
            let rel = project.relative(&path);
            if said.contains(&rel) || path.exists() {
                continue;
            }
            let Ok(shown) = run::bounded(
                Command::new(&git)
                    .arg("show")
                    .arg(format!("HEAD:./{name}"))
                    .current_dir(folder),
                ctx.config.timeout,
            ) else {
                continue;
            };
            let keys: Vec<String> = parse(&shown.stdout)
                .entries
                .into_iter()
                .map(|e| e.key)
                .filter(|k| project.code.reads_key(folder, k))
                .collect();
            if keys.is_empty() {
                continue;
            }
            said.push(rel.clone());
            let shown_dir = project.shown(folder).unwrap_or_default();
            out.push(
                Finding::new(
                    "ENV001",
                    ID,
                    format!(
                        "{rel} is missing: git tracks it, so it was deleted; it set {}, which {}'s code reads (the bundle gets `undefined` for it)",
                        keys.join(", "),
                        s.name
                    ),
                )
                .severity(Severity::Warning)
                .evidence("missing", rel.clone())
                .evidence("service", s.name.clone())
                .evidence("port", s.port)
                .evidence("git", "tracked, deleted from the working tree")
                .evidence("sets", keys.clone())
                .with_fix(Fix {
                    title: format!("restore {rel} from git"),
                    safety: Safety::Confirm,
                    commands: crate::shell::in_folder(&shown_dir, &format!("git restore -- {name}")),
                    action: Some(FixAction::Run {
                        program: git.clone(),
                        args: vec!["restore".into(), "--".into(), name.to_string()],
                        cwd: folder.clone(),
                    }),
                }),
            );
        }
    }
}

/// ENV001 for an env file a Python server's own code loads by path
/// (`load_dotenv(path.join(basedir, '.env'))`, `load_dotenv(BASE_DIR /
/// ".env")`, `load_dotenv(".env")`) that does not exist: every setting it
/// holds is unset, and the crash that follows names a `None` (`'NoneType'
/// object has no attribute 'drivername'`), not the file. A warning when the
/// server that loads it is down, info otherwise (the shell may set them).
fn code_loaded_env_files(ctx: &Context, out: &mut Vec<Finding>) {
    let project = &ctx.project;
    let said = missing_said(out);
    let listening = |port: u16| ctx.snapshot().map(|s| s.has_listener(port)).unwrap_or(true);
    let mut seen: Vec<PathBuf> = Vec::new();
    for service in project.services.iter().filter(|s| {
        s.expected
            && matches!(
                s.kind.as_deref(),
                Some("fastapi" | "flask" | "django" | "python")
            )
    }) {
        let Some(folder) = service.folder.as_ref() else {
            continue;
        };
        let run_folder = service.run_folder().unwrap_or(folder).clone();
        for (file, text) in project.code.under(folder) {
            let Some((n, path)) = text
                .lines()
                .enumerate()
                .find_map(|(i, l)| loaded_env_file(file, text, l, &run_folder).map(|p| (i + 1, p)))
            else {
                continue;
            };
            let path = crate::project::lexical(&path);
            let rel = project.relative(&path);
            if path.exists() || seen.contains(&path) || said.contains(&rel) {
                continue;
            }
            seen.push(path.clone());
            let at = format!("{}:{n}", project.relative(file));
            let down = !listening(service.port);
            let example = EXAMPLES
                .iter()
                .filter_map(|e| path.parent().map(|d| d.join(e)))
                .find(|e| e.is_file())
                .map(|e| project.relative(&e));
            let steps = match &example {
                Some(ex) => vec![format!("cp {ex} {rel}"), format!("then fill in its values and restart {}", service.name)],
                None => vec![format!("create {rel} with the settings {at} loads from it (the README or a teammate has them), then restart {}", service.name)],
            };
            out.push(
                Finding::new(
                    "ENV001",
                    ID,
                    format!("{rel} is missing: {at} loads it (load_dotenv), so every setting it holds is unset"),
                )
                .evidence("missing", rel.clone())
                .evidence("read_at", at.clone())
                .evidence("service", service.name.clone())
                .evidence("port", service.port)
                .severity(if down { Severity::Warning } else { Severity::Info })
                .with_fix(Fix::manual(format!("create {rel}, which {} loads at start", service.name), steps)),
            );
        }
    }
}

/// The env file a `load_dotenv(...)` call on `line` loads, when the call
/// names it: a literal path from the server's run folder, or one joined to
/// a folder the module computes from `__file__` (`basedir =
/// path.abspath(path.dirname(__file__))`, `BASE_DIR =
/// Path(__file__).resolve().parent.parent`). `None` when it cannot be told
/// (`load_dotenv()` searches upward; a path from a variable).
fn loaded_env_file(file: &Path, text: &str, line: &str, run_folder: &Path) -> Option<PathBuf> {
    let code = line.split('#').next()?;
    let args = code.split_once("load_dotenv(")?.1;
    let args = args.rsplit_once(')').map_or(args, |(a, _)| a);
    let literal = string_literals(args).pop()?;
    if !literal.contains(".env") {
        return None;
    }
    let before = args.split(['"', '\'']).next().unwrap_or("").trim();
    if before.is_empty() || before == "dotenv_path=" {
        // A bare literal: read from the folder the server runs in.
        return Some(run_folder.join(&literal));
    }
    let here = file.parent()?;
    // `path.join(basedir, '.env')`, `BASE_DIR / '.env'`, `Path(__file__).parent / ".env"`.
    let ident: String = before
        .trim_start_matches("os.path.join(")
        .trim_start_matches("path.join(")
        .trim_end_matches([',', '/', ' '])
        .trim()
        .to_string();
    let base = if ident.contains("__file__") {
        folder_from_file_expr(&ident, here)?
    } else if !ident.is_empty() && ident.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        let definition = text.lines().find_map(|l| {
            let (name, value) = l.split_once('=')?;
            (name.trim() == ident).then(|| value.trim().to_string())
        })?;
        folder_from_file_expr(&definition, here)?
    } else {
        return None;
    };
    Some(base.join(&literal))
}

/// The string literals of a Python expression, in order (`'…'` or `"…"`).
fn string_literals(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = code.chars();
    while let Some(c) = chars.next() {
        if c == '"' || c == '\'' {
            let inside: String = chars.by_ref().take_while(|d| *d != c).collect();
            out.push(inside);
        }
    }
    out
}

/// The folder an expression of `__file__` names: each `dirname` or
/// `.parent` one level up from the file (`Path(__file__).resolve().parent`
/// is its folder).
fn folder_from_file_expr(expr: &str, here: &Path) -> Option<PathBuf> {
    if !expr.contains("__file__") {
        return None;
    }
    let ups = expr.matches("dirname").count() + expr.matches(".parent").count();
    let mut dir = here.to_path_buf();
    for _ in 1..ups.max(1) {
        dir = dir.parent()?.to_path_buf();
    }
    Some(dir)
}

/// Whether a file of the project sets `PORT` to `port` for a server: an
/// env file, a package.json script (`PORT=4001 node server.js`), a Procfile
/// or a start script (`set PORT=4001`, `$env:PORT = "4001"`).
fn port_set_in_files(project: &crate::project::Project, port: u16) -> bool {
    let port = port.to_string();
    let sets = |line: &str| {
        line.match_indices("PORT").any(|(i, _)| {
            let before = line[..i].chars().next_back();
            let rest = line[i + 4..].trim_start_matches(['"', '\'', ' ']);
            let value = rest.strip_prefix('=').map(|v| {
                v.trim_start_matches(['"', '\'', ' '])
                    .split(|c: char| !c.is_ascii_digit())
                    .next()
                    .unwrap_or_default()
            });
            before.is_none_or(|c| !(c.is_alphanumeric() || c == '_') || c == ':')
                && value == Some(port.as_str())
        })
    };
    project.folders.iter().any(|dir| {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return false;
        };
        entries.flatten().any(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            let wanted = name.starts_with(".env")
                || name == "package.json"
                || name == "Procfile"
                || name == "Makefile"
                || [".sh", ".bat", ".cmd", ".ps1"]
                    .iter()
                    .any(|x| name.ends_with(x));
            wanted && read_bounded(&e.path()).is_ok_and(|text| text.lines().any(sets))
        })
    })
}

/// ENV004: an env URL names a port where nothing listens while the project's
/// own server of that kind listens on another port (the 8001/8002 story).
fn wrong_port(ctx: &Context) -> Vec<Finding> {
    let project = &ctx.project;
    let Ok(snapshot) = ctx.snapshot() else {
        return Vec::new();
    };
    let listening = |port: u16| snapshot.has_listener(port);
    // A URL written in the frontend's code (`fetch("http://127.0.0.1:5000")`,
    // `process.env.X || "http://localhost:8000"` with X set nowhere).
    let in_code = |src: &str| {
        let file = src.rsplit_once(':').map_or(src, |(f, _)| f);
        !file.contains(".env")
            && ["js", "jsx", "ts", "tsx", "mjs", "vue", "svelte"]
                .iter()
                .any(|e| file.ends_with(&format!(".{e}")))
            && !in_config(src)
    };
    // A dev server's proxy target (`vite.config.ts`, `setupProxy.js`, CRA's
    // `"proxy"` in package.json): what every API call through the frontend
    // reaches. vite and next restart themselves when their config changes;
    // CRA reads `"proxy"` and `setupProxy.js` once, at start.
    fn file_name(src: &str) -> &str {
        let file = src.rsplit_once(':').map_or(src, |(f, _)| f);
        file.rsplit('/').next().unwrap_or(file)
    }
    fn read_once(src: &str) -> bool {
        let n = file_name(src);
        n.starts_with("setupProxy") || n == "package.json"
    }
    fn in_config(src: &str) -> bool {
        file_name(src).contains(".config.") || read_once(src)
    }
    // A literal may sit in a branch that never runs: when another literal of
    // the frontend's code names a port that answers, none is a guess worth saying.
    let some_literal_answers = project.services.iter().any(|s| {
        !s.is_frontend() && listening(s.port) && s.clients.iter().any(|(_, src)| in_code(src))
    });
    // (service, file, line) for each env-file or code URL with no listener,
    // each place once (a service can learn one place twice).
    let mut places = BTreeSet::new();
    let dangling: Vec<(&crate::project::Service, String)> = project
        .services
        .iter()
        .filter(|s| s.is_http() && !listening(s.port))
        .flat_map(|s| s.clients.iter().map(move |(_, src)| (s, src.clone())))
        .filter(|(s, src)| {
            (s.expected && (src.contains(".env") || in_config(src)))
                || (in_code(src) && !some_literal_answers)
        })
        .filter(|(s, src)| places.insert((s.port, src.clone())))
        .collect();
    if dangling.is_empty() {
        return Vec::new();
    }
    // The project's own listeners: processes working inside the project,
    // never a frontend's dev server. A port a file of the project gives to
    // a server is that server's, not a candidate (only a port learned from
    // the running process itself is).
    let expected: BTreeSet<u16> = project
        .services
        .iter()
        .filter(|s| s.is_frontend() || !s.source.contains("running pid"))
        .map(|s| s.port)
        .collect();
    let ours: Vec<u32> = ctx
        .all_processes()
        .values()
        .filter(|p| p.cwd.as_ref().is_some_and(|c| c.starts_with(&project.root)))
        // A server start that is not a frontend's dev server: a chain of
        // evidence, not any listener that happens to run in the folder.
        .filter(|p| {
            crate::project::commands::parse(&p.command()).is_some_and(|c| {
                !matches!(
                    c.kind,
                    "vite" | "next" | "cra" | "nuxt" | "astro" | "webpack"
                )
            })
        })
        .map(|p| p.pid)
        .collect();
    let Ok(listeners) = platform::listeners_of(&ours) else {
        return Vec::new();
    };
    let elsewhere: BTreeMap<u16, Vec<u32>> = listeners
        .iter()
        .filter(|s| !expected.contains(&s.local.port()))
        .fold(BTreeMap::new(), |mut m, s| {
            m.entry(s.local.port()).or_default().extend(s.pids());
            m
        });
    if elsewhere.len() != 1 {
        return Vec::new(); // none, or more than one candidate: no guess
    }
    let (&real_port, pids) = elsewhere.iter().next().expect("one entry");
    // The server runs on that port because the shell that started it had
    // `PORT=N` (`PORT=3001 npm run dev`), and no file of the project says
    // so: a one-off of that terminal, not the port the callers should
    // follow. Rewriting a tracked proxy line to it broke the next normal
    // start (field gc fc P3 c2, gb fb P3 c6, round 10); PORT001 says the
    // variable and leaves the choice to the user.
    let port_text = real_port.to_string();
    let from_shell = pids.iter().all(|pid| {
        platform::env_var_of(*pid, "PORT")
            .flatten()
            .is_some_and(|v| v.trim() == port_text)
    }) && !port_set_in_files(project, real_port);
    if from_shell {
        return Vec::new();
    }
    let infos = platform::processes(pids);
    let who: Vec<String> = infos
        .values()
        .map(|p| format!("pid {} ({})", p.pid, super::shorten(&p.command(), 50)))
        .collect();
    dangling
        .into_iter()
        .filter_map(|(service, source)| {
            let (file, line) = source.rsplit_once(':')?;
            let line: usize = line.parse().ok()?;
            let path = project.root.join(file);
            let text = read_bounded(&path).ok()?;
            let url_line = text.lines().nth(line - 1)?;
            // Of package.json, only CRA's `"proxy"` is a target the
            // browser's calls take (a script's URL is no such thing).
            if file.ends_with("package.json") && !url_line.contains("\"proxy\"") {
                return None;
            }
            let code = in_code(&source) || in_config(&source);
            let url = if code {
                crate::project::quoted_urls(url_line)
                    .into_iter()
                    .find(|u| parse_url(u).is_some_and(|p| p.port == service.port))?
                    .to_string()
            } else {
                url_line.split_once('=')?.1.trim().trim_matches(['"', '\'']).to_string()
            };
            let parts = parse_url(&url)?;
            let from = format!(":{}", parts.port);
            let to = format!(":{real_port}");
            // `process.env.NEXT_PUBLIC_API_URL || "http://localhost:8000"`
            // with the variable set nowhere: the literal is the fallback; the
            // dev fix is the variable, in the frontend's `.env.local` (every
            // frontend dev server reads it, and it stays out of git), not an
            // edit of the code's fallback (field ga N2).
            let public_var = (code && !in_config(&source))
                .then(|| public_var_fix(project, &path, url_line, &url, &from, &to))
                .flatten();
            let fix = public_var.unwrap_or_else(|| {
                let mut commands = vec![
                    format!("mkdir -p .doctor/backups && cp {file} .doctor/backups/"),
                    format!("sed -i '{line}s/{from}/{to}/' {file}"),
                ];
                if read_once(&source) {
                    // The frontend whose proxy this is, as the user starts it.
                    let frontend = project.services.iter().find(|s| {
                        s.is_frontend() && s.folder.as_ref().is_some_and(|f| path.starts_with(f))
                    });
                    let start = frontend
                        .and_then(|f| f.start_from_root())
                        .map(|s| crate::shell::inline(&s))
                        .unwrap_or_else(|| "npm start".to_string());
                    commands.push(format!(
                        "then restart {} (Ctrl-C in its terminal, then {start}): the dev server reads its proxy once, at start",
                        frontend.map_or("the frontend", |f| f.name.as_str())
                    ));
                }
                Fix {
                    title: format!("change the port in {source} from {} to {real_port} (after a backup in .doctor/backups/, which git ignores)", service.port),
                    safety: Safety::Confirm,
                    commands,
                    action: Some(FixAction::EditLine { path, line, from, to }),
                }
            });
            Some(
                Finding::new(
                    "ENV004",
                    ID,
                    format!("{source} points at port {}, where nothing listens; the project's server listens on {real_port}: {}", service.port, who.join(", ")),
                )
                .severity(if code { Severity::Warning } else { Severity::Error })
                .evidence("source", source.clone())
                .evidence("url_port", service.port)
                .evidence("listening_port", real_port)
                .evidence("listening", who.clone())
                .with_fix(fix),
            )
        })
        .collect()
}

/// The public env variable a code URL is the fallback of
/// (`import.meta.env.VITE_API_URL || "…"`, `process.env.X ?? "…"`), when
/// no env file of the frontend sets it: the fix that sets it in the
/// frontend's `.env.local`.
fn public_var_fix(
    project: &Project,
    file: &Path,
    url_line: &str,
    url: &str,
    from: &str,
    to: &str,
) -> Option<Fix> {
    let at = url_line.find(url)?;
    let before = url_line[..at]
        .trim_end()
        .trim_end_matches(['"', '\'', '`'])
        .trim_end();
    let before = before
        .strip_suffix("||")
        .or_else(|| before.strip_suffix("??"))?
        .trim_end();
    let name_start = before
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .map_or(0, |i| i + 1);
    let name = &before[name_start..];
    if !before[..name_start].ends_with("env.")
        || !["NEXT_PUBLIC_", "VITE_", "REACT_APP_"]
            .iter()
            .any(|p| name.starts_with(p))
    {
        return None;
    }
    let frontend = project
        .services
        .iter()
        .filter(|s| s.is_frontend())
        .filter_map(|s| s.folder.as_ref().map(|f| (s, f)))
        .filter(|(_, f)| file.starts_with(f))
        .max_by_key(|(_, f)| f.components().count())?;
    let (service, folder) = frontend;
    let set_somewhere = ENV_FILES.iter().any(|n| {
        read_bounded(&folder.join(n)).is_ok_and(|text| {
            text.lines()
                .filter_map(crate::project::parse_env_line)
                .any(|(k, _)| k == name)
        })
    });
    if set_somewhere {
        return None;
    }
    let value = url.replacen(from, to, 1);
    let env_local = folder.join(".env.local");
    let shown = project.relative(&env_local);
    let mut commands = vec![format!("echo '{name}={value}' >> {shown}")];
    // vite and next reload their env files by themselves; CRA reads them
    // once, at start.
    if service.kind.as_deref() == Some("cra") {
        let start = service
            .start_from_root()
            .map(|s| crate::shell::inline(&s))
            .unwrap_or_else(|| "npm start".to_string());
        commands.push(format!(
            "then restart {} (Ctrl-C in its terminal, then {start}): it reads its env files once, at start",
            service.name
        ));
    }
    Some(Fix {
        title: format!(
            "set {name}={value} in {shown} (the code's fallback stays as it is; a backup is made if the file exists)"
        ),
        safety: Safety::Confirm,
        commands,
        action: Some(FixAction::AppendKeys {
            path: env_local,
            keys: vec![format!("{name}={value}")],
        }),
    })
}

fn proxy_without_loopback() -> Vec<Finding> {
    let get = |name: &str| {
        std::env::var(name)
            .ok()
            .or_else(|| std::env::var(name.to_ascii_lowercase()).ok())
            .filter(|v| !v.is_empty())
    };
    let set: Vec<&str> = PROXY_VARS
        .iter()
        .copied()
        .filter(|v| get(v).is_some())
        .collect();
    if set.is_empty() {
        return Vec::new();
    }
    let no_proxy = get("NO_PROXY").unwrap_or_default();
    let covered: BTreeSet<&str> = no_proxy.split(',').map(str::trim).collect();
    if covered.contains("*") {
        return Vec::new();
    }
    let missing: Vec<&str> = LOOPBACK_NAMES
        .iter()
        .copied()
        .filter(|n| !covered.contains(n))
        .collect();
    if missing.is_empty() {
        return Vec::new();
    }
    vec![Finding::new(
        "ENV006",
        ID,
        format!(
            "{} set, and NO_PROXY does not cover {}: local requests may go to the proxy",
            set.join(", "),
            missing.join(", ")
        ),
    )
    .evidence("proxy_variables", set.clone())
    .evidence("no_proxy_missing", missing.clone())
    .with_fix(Fix::manual(
        "exempt loopback from the proxy",
        vec![format!(
            "export NO_PROXY=\"${{NO_PROXY:+$NO_PROXY,}}{}\"",
            missing.join(",")
        )],
    ))]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsing_keeps_lines() {
        let p = parse("# c\nA=1\n\nnot a line\nB=\"multi\nline\"\nA=2\nexport C=\n");
        let keys: Vec<(&str, usize)> = p.entries.iter().map(|e| (e.key.as_str(), e.line)).collect();
        assert_eq!(keys, [("A", 2), ("B", 5), ("A", 7), ("C", 8)]);
        assert_eq!(p.bad_lines, [4]);
    }

    #[test]
    fn secrets_are_real_looking_values_of_secret_keys() {
        assert!(holds_secret("API_TOKEN", "sk-live-9f8a7d6c"));
        assert!(holds_secret(
            "DATABASE_URL",
            "postgres://app:s3cr3t-pw@db/app"
        ));
        // Public by design, placeholders, and plain settings are not.
        assert!(!holds_secret("VITE_API_KEY", "AIzaSyA-real-looking"));
        assert!(!holds_secret("NEXT_PUBLIC_STRIPE_KEY", "pk_live_123456"));
        assert!(!holds_secret("SECRET_KEY", "changethis"));
        assert!(!holds_secret("SECRET_KEY", ""));
        assert!(!holds_secret("POSTGRES_PASSWORD", "changeme"));
        assert!(!holds_secret(
            "DATABASE_URL",
            "postgres://postgres:postgres@localhost/app"
        ));
        assert!(!holds_secret("PORT", "8000"));
    }
}
