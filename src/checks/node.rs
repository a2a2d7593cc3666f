//! NODE001–NODE004: can the frontend start? node itself, node_modules, each
//! dependency's installed version, and a lockfile newer than the install.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use nodejs_semver::{Range, Version};
use serde_json::{json, Value};

use crate::engine::{Check, CheckError, Context};
use crate::finding::{Finding, Fix, FixAction, Safety};
use crate::project::{read_bounded, Project};
use crate::run;

pub struct Node;

const ID: &str = "node";
/// Lockfile → (install command, the file the install writes last).
const LOCKFILES: &[(&str, &str, &str)] = &[
    (
        "package-lock.json",
        "npm install",
        "node_modules/.package-lock.json",
    ),
    (
        "pnpm-lock.yaml",
        "pnpm install",
        "node_modules/.modules.yaml",
    ),
    ("yarn.lock", "yarn install", "node_modules/.yarn-state.yml"),
];

impl Check for Node {
    fn id(&self) -> &'static str {
        ID
    }
    fn description(&self) -> &'static str {
        "the frontend's node version, node_modules, installed dependency versions and lockfile"
    }
    fn codes(&self) -> &'static [&'static str] {
        &["NODE001", "NODE002", "NODE003", "NODE004"]
    }
    fn run(&self, ctx: &Context) -> Result<Vec<Finding>, CheckError> {
        let mut out = Vec::new();
        let packages: Vec<(PathBuf, Value, String)> = ctx
            .project
            .folders
            .iter()
            .filter_map(|dir| {
                let text = read_bounded(&dir.join("package.json")).ok()?;
                let json: Value = serde_json::from_str(&text).ok()?;
                Some((dir.clone(), json, text))
            })
            .collect();
        if packages.is_empty() {
            return Ok(out);
        }
        // `node --version` costs a process start: asked only when a package
        // wants a version; otherwise being on PATH is all that matters.
        let version = std::cell::OnceCell::new();
        let node = || version.get_or_init(|| node_version(ctx.config.timeout));
        for (dir, json, text) in &packages {
            check_package(&ctx.project, dir, json, text, &node, &mut out);
        }
        Ok(out)
    }
}

/// `node --version`, once per run.
fn node_version(limit: Duration) -> Result<(PathBuf, Version), String> {
    let exe = run::which("node").ok_or("node is not on PATH")?;
    let ran = run::bounded(Command::new(&exe).arg("--version"), limit)
        .map_err(|e| format!("node --version {e}"))?;
    let v = ran.stdout.trim().trim_start_matches('v');
    let version = Version::parse(v).map_err(|_| format!("node --version printed '{v}'"))?;
    Ok((exe, version))
}

/// The node range the project asks for: engines.node, .nvmrc, .node-version.
fn wanted_node(
    project: &Project,
    dir: &Path,
    json: &Value,
    text: &str,
) -> Option<(String, String)> {
    if let Some(r) = json["engines"]["node"].as_str() {
        let line = text
            .lines()
            .position(|l| l.contains("\"node\""))
            .map_or(1, |i| i + 1);
        return Some((
            r.to_string(),
            format!("{}:{line}", project.relative(&dir.join("package.json"))),
        ));
    }
    for name in [".nvmrc", ".node-version"] {
        for folder in [dir, project.root.as_path()] {
            if let Ok(t) = read_bounded(&folder.join(name)) {
                let r = t
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .trim_start_matches('v')
                    .to_string();
                // `lts/*` and named releases need nvm's list: not a range.
                if !r.is_empty()
                    && !r.starts_with("lts")
                    && !r.chars().next().is_some_and(char::is_alphabetic)
                {
                    return Some((r, format!("{}:1", project.relative(&folder.join(name)))));
                }
            }
        }
    }
    None
}

fn dependencies(json: &Value) -> Vec<(String, String)> {
    ["dependencies", "devDependencies"]
        .iter()
        .filter_map(|k| json[k].as_object())
        .flatten()
        .filter_map(|(name, spec)| Some((name.clone(), spec.as_str()?.to_string())))
        .collect()
}

/// node_modules here or in a parent up to the root (workspaces hoist).
fn node_modules(project: &Project, dir: &Path) -> Option<PathBuf> {
    dir.ancestors()
        .take_while(|d| d.starts_with(&project.root))
        .map(|d| d.join("node_modules"))
        .find(|p| p.is_dir())
}

/// The installed version of `name` as Node resolves it: the nearest
/// `node_modules/NAME` from the package's folder up to the project root
/// (workspaces hoist dependencies to the root).
fn installed_version(project: &Project, dir: &Path, name: &str) -> Option<String> {
    dir.ancestors()
        .take_while(|d| d.starts_with(&project.root))
        .find_map(|d| {
            let text =
                read_bounded(&d.join("node_modules").join(name).join("package.json")).ok()?;
            let json: Value = serde_json::from_str(text.trim_start_matches('\u{feff}')).ok()?;
            json["version"].as_str().map(String::from)
        })
}

fn install_fix(project: &Project, dir: &Path) -> Fix {
    let (tool, command) = LOCKFILES
        .iter()
        .find(|(lock, _, _)| dir.join(lock).is_file() || project.root.join(lock).is_file())
        .map_or(("npm", "npm install"), |(_, cmd, _)| {
            (cmd.split(' ').next().unwrap_or("npm"), *cmd)
        });
    let shown = project.shown(dir).unwrap_or_default();
    Fix {
        title: format!("install the dependencies in {shown}"),
        safety: Safety::Confirm,
        commands: crate::shell::in_folder(&shown, command),
        action: run::which(tool).map(|program| FixAction::Run {
            program,
            args: vec!["install".into()],
            cwd: dir.to_path_buf(),
        }),
    }
}

fn mtime(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn check_package<'n>(
    project: &Project,
    dir: &Path,
    json: &Value,
    text: &str,
    node: &dyn Fn() -> &'n Result<(PathBuf, Version), String>,
    out: &mut Vec<Finding>,
) {
    let rel = project.relative(&dir.join("package.json"));
    let deps = dependencies(json);
    let wanted = wanted_node(project, dir, json, text);
    let on_path: Result<(PathBuf, Version), String>;
    let node = if wanted.is_some() {
        node()
    } else {
        on_path = run::which("node")
            .map(|exe| (exe, Version::parse("0.0.0").expect("a valid version")))
            .ok_or_else(|| "node is not on PATH".to_string());
        &on_path
    };
    match (node, &wanted) {
        (Err(why), _) if !deps.is_empty() || wanted.is_some() => out.push(
            Finding::new("NODE001", ID, format!("{rel} needs node, but {why}"))
                .evidence("package", rel.clone())
                .with_fix(Fix::manual(
                    "install node",
                    vec!["install node (https://nodejs.org, or `nvm install`)".into()],
                )),
        ),
        (Ok((exe, version)), Some((range, at))) => {
            if let Ok(r) = Range::parse(range) {
                if !version.satisfies(&r) {
                    out.push(
                        Finding::new("NODE001", ID, format!("node {version} does not satisfy {range} ({at})"))
                            .evidence("node", json!({"path": crate::redact::home(exe), "version": version.to_string()}))
                            .evidence("wanted", json!({"range": range, "source": at}))
                            .with_fix(Fix::manual("use a matching node", vec![format!("nvm install {range}"), "nvm use".into()])),
                    );
                }
            }
        }
        _ => {}
    }
    if deps.is_empty() {
        return;
    }
    let Some(modules) = node_modules(project, dir) else {
        out.push(
            Finding::new(
                "NODE002",
                ID,
                format!(
                    "node_modules is missing for {rel} ({} declared)",
                    if deps.len() == 1 {
                        "1 dependency".to_string()
                    } else {
                        format!("{} dependencies", deps.len())
                    }
                ),
            )
            .evidence("package", rel)
            .evidence(
                "looked_in",
                project.shown(&dir.join("node_modules")).unwrap_or_default(),
            )
            .with_fix(install_fix(project, dir)),
        );
        return;
    };
    let mut problems = Vec::new();
    for (name, spec) in &deps {
        let Ok(range) = Range::parse(spec) else {
            continue;
        }; // workspace:, file:, git URLs, tags
        match installed_version(project, dir, name) {
            None => problems.push(json!({"name": name, "wanted": spec, "installed": null})),
            Some(v) => {
                if Version::parse(&v).is_ok_and(|v| !v.satisfies(&range)) {
                    problems.push(json!({"name": name, "wanted": spec, "installed": v}));
                }
            }
        }
    }
    if !problems.is_empty() {
        let names: Vec<String> = problems
            .iter()
            .map(|p| match p["installed"].as_str() {
                Some(v) => format!(
                    "{} {v} (wants {})",
                    p["name"].as_str().unwrap_or(""),
                    p["wanted"].as_str().unwrap_or("")
                ),
                None => format!("{} (missing)", p["name"].as_str().unwrap_or("")),
            })
            .collect();
        out.push(
            Finding::new(
                "NODE003",
                ID,
                format!(
                    "{} of {rel} not installed as declared: {}",
                    if problems.len() == 1 {
                        "1 dependency"
                    } else {
                        "dependencies"
                    },
                    super::shorten(&names.join(", "), 100)
                ),
            )
            .evidence("package", rel.clone())
            .evidence("node_modules", project.shown(&modules).unwrap_or_default())
            .evidence("dependencies", problems)
            .with_fix(install_fix(project, dir)),
        );
    }
    for (lock, _, marker) in LOCKFILES {
        let lock_path = [dir, project.root.as_path()]
            .iter()
            .map(|d| d.join(lock))
            .find(|p| p.is_file());
        let Some(lock_path) = lock_path else { continue };
        let marker_path = modules.parent().unwrap_or(dir).join(marker);
        if let (Some(l), Some(m)) = (mtime(&lock_path), mtime(&marker_path)) {
            if l > m + Duration::from_secs(1) {
                let secs = |t: SystemTime| {
                    t.duration_since(SystemTime::UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs())
                };
                out.push(
                    Finding::new("NODE004", ID, format!("{} changed after the last install ({})", project.relative(&lock_path), project.relative(&marker_path)))
                        .evidence("lockfile", json!({"file": project.relative(&lock_path), "modified": crate::timefmt::utc(secs(l))}))
                        .evidence("installed", json!({"file": project.relative(&marker_path), "modified": crate::timefmt::utc(secs(m))}))
                        .with_fix(install_fix(project, dir)),
                );
            }
        }
        break;
    }
}
