//! NODE001–NODE004, NODE006: can the frontend start? node itself, node_modules, each
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
        &[
            "NODE001", "NODE002", "NODE003", "NODE004", "NODE006", "NODE007",
        ]
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
            out.extend(webpack4_on_openssl3(ctx, dir, json, &node));
            out.extend(cra_proxy_without_allowed_host(ctx, dir, json));
        }
        Ok(out)
    }
}

/// The OpenSSL 3 of Node 17+ has no md4, which webpack 4 hashes with:
/// react-scripts < 5 (and any webpack 4 dev server) dies at start with
/// `error:0308010C:digital envelope routines::unsupported`
/// (ERR_OSSL_EVP_UNSUPPORTED). Said only when its service is down, since a
/// running one proves the environment it started with has the legacy
/// provider (`NODE_OPTIONS=--openssl-legacy-provider`).
fn webpack4_on_openssl3<'n>(
    ctx: &Context,
    dir: &Path,
    json: &Value,
    node: &dyn Fn() -> &'n Result<(PathBuf, Version), String>,
) -> Option<Finding> {
    let project = &ctx.project;
    let webpack = installed_version(project, dir, "webpack")?;
    if !webpack.starts_with("4.") {
        return None;
    }
    let service = project.services.iter().find(|s| {
        s.kind.is_some()
            && s.expected
            && (s.folder.as_deref() == Some(dir) || s.start_folder(&project.root) == dir)
    })?;
    let scripts = json["scripts"].to_string();
    let legacy = "--openssl-legacy-provider";
    if scripts.contains(legacy) || std::env::var("NODE_OPTIONS").is_ok_and(|v| v.contains(legacy)) {
        return None;
    }
    if !ctx.snapshot().ok()?.listener_pids(service.port).is_empty() {
        return None;
    }
    let (_, version) = node().as_ref().ok()?;
    if version.major() < 17 {
        return None;
    }
    let react_scripts = installed_version(project, dir, "react-scripts");
    let shown = project.shown(dir).unwrap_or_default();
    let start = service.start.clone().unwrap_or_else(|| "npm start".into());
    let with_legacy = if cfg!(windows) {
        format!("set NODE_OPTIONS={legacy} && {start}")
    } else {
        format!("NODE_OPTIONS={legacy} {start}")
    };
    let what = react_scripts
        .as_ref()
        .map_or(format!("webpack {webpack}"), |r| {
            format!("react-scripts {r} (webpack {webpack})")
        });
    let mut steps = crate::shell::in_folder(&shown, &with_legacy);
    if let Some(r) = &react_scripts {
        if !r.starts_with('5') {
            steps.push(format!(
                "or upgrade (webpack 5 has no md4): npm install react-scripts@5 in {shown}"
            ));
        }
    }
    Some(
        Finding::new(
            "NODE006",
            ID,
            format!(
                "{} runs {what} on node {version}: webpack 4 dies at start on Node 17+ (ERR_OSSL_EVP_UNSUPPORTED, \"digital envelope routines::unsupported\") unless NODE_OPTIONS has {legacy}",
                service.name
            ),
        )
        .evidence("service", service.name.clone())
        .evidence("port", service.port)
        .evidence("webpack", webpack.clone())
        .evidence("react_scripts", json!(react_scripts))
        .evidence("node", version.to_string())
        // doctor can run it so, detached, with the user's consent: after a
        // stranger on its port is ended the start round needs exactly this
        // (field gb fb P1 c9: CRA was left down, NODE006 said why and
        // offered nothing).
        .with_fix(Fix {
            title: format!(
                "start {} with the OpenSSL legacy provider (doctor runs it detached; its output goes to .doctor/logs/{}.log)",
                service.name, service.name
            ),
            safety: crate::finding::Safety::Confirm,
            commands: steps,
            action: Some(crate::finding::FixAction::Start {
                command: with_legacy,
                cwd: service.start_folder(&project.root),
                path_first: None,
                name: service.name.clone(),
                port: service.port,
            }),
        }),
    )
}

/// react-scripts 5 with a `"proxy"` gives webpack-dev-server 4 the LAN
/// address as its one allowed host, and that address exists only when
/// `HOST` is unset (or 0.0.0.0/::) and the machine's first LAN IPv4 is a
/// private one (10/8, 172.16/12, 192.168/16, as react-dev-utils tests it).
/// Otherwise it is undefined and the dev server exits at start:
/// `options.allowedHosts[0] should be a non-empty string`. Said only when
/// its service is down. `DANGEROUSLY_DISABLE_HOST_CHECK=true` turns the
/// check off.
fn cra_proxy_without_allowed_host(ctx: &Context, dir: &Path, json: &Value) -> Option<Finding> {
    let project = &ctx.project;
    json["proxy"].as_str()?;
    let version = installed_version(project, dir, "react-scripts")?;
    if !version.starts_with("5.") {
        return None;
    }
    let service = project.services.iter().find(|s| {
        s.kind.as_deref() == Some("cra")
            && (s.folder.as_deref() == Some(dir) || s.start_folder(&project.root) == dir)
    })?;
    // CRA's env files, the environment over all of them.
    let mut env: std::collections::BTreeMap<String, (String, String)> =
        crate::project::env_file_values(dir, crate::frameworks::cra::CRA.env_files)
            .into_iter()
            .map(|(k, (v, path, line))| (k, (v, format!("{}:{line}", project.relative(&path)))))
            .collect();
    for key in ["DANGEROUSLY_DISABLE_HOST_CHECK", "HOST"] {
        if let Ok(v) = std::env::var(key) {
            env.insert(key.to_string(), (v, "the environment".into()));
        }
    }
    if env
        .get("DANGEROUSLY_DISABLE_HOST_CHECK")
        .is_some_and(|(v, _)| v == "true")
    {
        return None;
    }
    if !ctx.snapshot().ok()?.listener_pids(service.port).is_empty() {
        return None;
    }
    let why = match env
        .get("HOST")
        .filter(|(v, _)| !matches!(v.as_str(), "" | "0.0.0.0" | "::"))
    {
        Some((host, at)) => format!("HOST={host} ({at}) leaves it no LAN address"),
        None => {
            let interfaces = crate::platform::ipv4_interfaces()?;
            let named = interfaces
                .iter()
                .find(|(n, _)| n.starts_with("eth") || n.starts_with("en"))
                .or_else(|| interfaces.iter().find(|(_, ip)| !ip.is_loopback()));
            match named {
                Some((_, ip)) if ip.is_private() => return None,
                Some((name, ip)) => {
                    format!("this machine's LAN address {ip} ({name}) is not a private one")
                }
                None => "this machine has no LAN address".into(),
            }
        }
    };
    let shown = project.shown(dir).unwrap_or_default();
    let local = if shown.is_empty() || shown == "." {
        ".env.development.local".to_string()
    } else {
        format!("{shown}/.env.development.local")
    };
    Some(
        Finding::new(
            "NODE007",
            ID,
            format!(
                "{} (react-scripts {version}) with a \"proxy\" exits at start: {why}, so its dev server gets no allowed host (\"options.allowedHosts[0] should be a non-empty string\")",
                service.name
            ),
        )
        .evidence("service", service.name.clone())
        .evidence("port", service.port)
        .evidence("react_scripts", version.clone())
        .evidence("reason", why.clone())
        .with_fix(Fix::manual(
            format!("let {} start with its proxy", service.name),
            vec![
                format!("add DANGEROUSLY_DISABLE_HOST_CHECK=true to {local} (CRA's switch: the dev server stops checking the Host header, which is safe while it listens on loopback)"),
                "or move the proxy to src/setupProxy.js (http-proxy-middleware), which leaves the host check as it is".into(),
            ],
        )),
    )
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
        let mut f = Finding::new(
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
        .with_fix(install_fix(project, dir));
        if !in_dev_stack(project, dir) {
            // A package no service of the dev stack runs from (a mock
            // server, docs, an e2e suite): the stack runs without it.
            f = f.severity(crate::finding::Severity::Info).explain(
                "No service of the dev stack runs from this folder and no script of the project's root starts it: the stack works without its packages. Install them when you work on it.",
            );
        }
        out.push(f);
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

/// Whether a package folder is part of the dev stack: the root, a
/// service's folder, or a folder the root's scripts or workspaces name.
fn in_dev_stack(project: &Project, dir: &Path) -> bool {
    if dir == project.root {
        return true;
    }
    if project.services.iter().any(|s| {
        s.folder.as_deref() == Some(dir)
            || s.run_folder().map(|f| f.as_path()) == Some(dir)
            || s.start_folder(&project.root) == dir
    }) {
        return true;
    }
    let Ok(text) = read_bounded(&project.root.join("package.json")) else {
        return false;
    };
    let Ok(json) = serde_json::from_str::<Value>(&text) else {
        return false;
    };
    let rel = project.relative(dir);
    let scripts = json["scripts"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(_, v)| v.as_str());
    let workspaces = json["workspaces"]
        .as_array()
        .or_else(|| json["workspaces"]["packages"].as_array())
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str());
    scripts.chain(workspaces).any(|s| {
        s.split(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == '=')
            .any(|w| {
                let w = w.trim_start_matches("./").trim_end_matches('/');
                w == rel || (w.ends_with("/*") && rel.starts_with(w.trim_end_matches('*')))
            })
    })
}
