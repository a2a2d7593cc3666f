//! Real stacks from `fixtures/stacks/`: a fixture copied to a temporary
//! folder with its port placeholders (`@API_PORT@` …) replaced by ports the
//! OS hands out, and helpers that start its parts for real: Python servers
//! from the test venv, node stand-ins for dev-server CLIs, PostgreSQL, Redis.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use super::*;

pub const PLACEHOLDERS: &[&str] = &["API_PORT", "WEB_PORT", "DB_PORT", "REDIS_PORT", "MAIL_PORT"];

pub struct Stack {
    pub dir: tempfile::TempDir,
    pub ports: BTreeMap<&'static str, u16>,
}

impl Stack {
    /// Copy `fixtures/stacks/NAME` with fresh ports.
    pub fn new(name: &str) -> Stack {
        let ports: BTreeMap<&'static str, u16> =
            PLACEHOLDERS.iter().map(|p| (*p, free_port())).collect();
        let dir = tempfile::tempdir().unwrap();
        copy_tree(
            &root().join("fixtures/stacks").join(name),
            dir.path(),
            &ports,
        );
        Stack { dir, ports }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn join(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn port(&self, name: &str) -> u16 {
        self.ports[name]
    }

    /// The test venv as the project's own environment at `rel` (`.venv`).
    pub fn link_venv(&self, rel: &str) {
        std::os::unix::fs::symlink(venv(), self.join(rel)).unwrap();
    }

    pub fn write(&self, rel: &str, text: &str) {
        let path = self.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// `doctor --json` on the stack.
    pub fn doctor(&self, args: &[&str]) -> (i32, Value) {
        doctor_json(self.path(), args)
    }

    /// A healthy stack: exit 0, no warning and no error (infos allowed).
    pub fn assert_silent(&self) -> Value {
        let (code, report) = self.doctor(&[]);
        let loud: Vec<String> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["severity"] != "info")
            .map(|f| format!("{} {}", f["code"], f["title"]))
            .collect();
        assert!(
            code == 0 && loud.is_empty(),
            "a healthy stack must be silent, got exit {code}: {loud:#?}\n{report:#}"
        );
        report
    }
}

fn copy_tree(from: &Path, to: &Path, ports: &BTreeMap<&'static str, u16>) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target, ports);
        } else {
            let mut text = std::fs::read_to_string(entry.path()).unwrap();
            for (name, port) in ports {
                text = text.replace(&format!("@{name}@"), &port.to_string());
            }
            std::fs::write(&target, text).unwrap();
        }
    }
}

/// A package in `modules` (a `node_modules` folder) with its version and,
/// when given, its main file.
pub fn node_package(modules: &Path, name: &str, version: &str, main: Option<&str>) {
    let dir = modules.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("package.json"),
        format!(r#"{{"name": "{name}", "version": "{version}", "main": "index.js"}}"#),
    )
    .unwrap();
    if let Some(main) = main {
        std::fs::write(dir.join("index.js"), main).unwrap();
    }
}

/// A dev-server CLI stand-in (`vite`, `next`) installed in `modules` with
/// its `.bin` link, as npm installs the real one.
pub fn node_tool(modules: &Path, tool: &str, version: &str) {
    node_package(modules, tool, version, None);
    let bin = modules.join(tool).join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = bin.join(format!("{tool}.js"));
    std::fs::copy(root().join("tests/support/dev-server.js"), &script).unwrap();
    std::fs::create_dir_all(modules.join(".bin")).unwrap();
    std::os::unix::fs::symlink(&script, modules.join(".bin").join(tool)).unwrap();
}

/// The `express` stand-in in `modules`.
pub fn express(modules: &Path) {
    let main = std::fs::read_to_string(root().join("tests/support/express.js")).unwrap();
    node_package(modules, "express", "4.21.2", Some(&main));
}

/// `node node_modules/.bin/TOOL ARGS` in `cwd` (the tool's node_modules
/// found upward, as npm's PATH does), waiting until `port` answers.
pub fn start_tool(procs: &mut Procs, cwd: &Path, tool: &str, args: &[&str], port: u16) -> u32 {
    let bin = cwd
        .ancestors()
        .map(|d| d.join("node_modules/.bin").join(tool))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("no node_modules/.bin/{tool} above {}", cwd.display()));
    let pid = procs.spawn(
        Command::new("node")
            .arg(bin)
            .args(args)
            .current_dir(cwd)
            .stderr(Stdio::null()),
    );
    wait_listening(&format!("127.0.0.1:{port}"));
    pid
}

/// `node SCRIPT ARGS` in `cwd` with `env`, waiting until `port` answers.
pub fn start_node(
    procs: &mut Procs,
    cwd: &Path,
    args: &[&str],
    env: &[(&str, String)],
    port: u16,
) -> u32 {
    let mut cmd = Command::new("node");
    cmd.args(args).current_dir(cwd).stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let pid = procs.spawn(&mut cmd);
    wait_listening(&format!("127.0.0.1:{port}"));
    pid
}

/// A program of the test venv (`uvicorn`, `flask`, `python`) in `cwd`,
/// waiting until `port` answers HTTP on `path`.
pub fn start_venv(
    procs: &mut Procs,
    cwd: &Path,
    program: &str,
    args: &[&str],
    port: u16,
    path: &str,
) -> u32 {
    let pid = procs.spawn(
        Command::new(venv().join("bin").join(program))
            .args(args)
            .current_dir(cwd)
            .stderr(Stdio::null()),
    );
    let addr = format!("127.0.0.1:{port}");
    wait_listening(&addr);
    eventually(&format!("{program} answers {path}"), || {
        http_get(&addr, path)
            .lines()
            .next()
            .is_some_and(|l| l.contains(" 200"))
    });
    pid
}

/// Codes of the findings that are not info.
pub fn loud_codes(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] != "info")
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect()
}

/// The fastapi-fullstack backend: `uvicorn app.main:app` from `backend/`,
/// answering its declared health route.
pub fn start_fullstack_backend(procs: &mut Procs, stack: &Stack) -> u32 {
    let api = stack.port("API_PORT");
    start_venv(
        procs,
        &stack.join("backend"),
        "uvicorn",
        &[
            "app.main:app",
            "--host",
            "127.0.0.1",
            "--port",
            &api.to_string(),
        ],
        api,
        "/api/v1/utils/health-check/",
    )
}

/// A plain `flask run` from the stack's root (it reads `.flaskenv`).
pub fn start_flask(procs: &mut Procs, stack: &Stack) -> u32 {
    start_venv(
        procs,
        stack.path(),
        "flask",
        &["run"],
        stack.port("API_PORT"),
        "/api/health",
    )
}

/// The vite stand-in installed in `folder/node_modules` and started there
/// on the stack's WEB_PORT (from its vite config).
pub fn start_vite(procs: &mut Procs, stack: &Stack, folder: &str) -> u32 {
    let dir = stack.join(folder);
    if !dir.join("node_modules/.bin/vite").exists() {
        // A version inside the range package.json asks for (`^6.0.0` → 6.9.0).
        let manifest: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("package.json")).unwrap())
                .unwrap();
        let range = manifest["devDependencies"]["vite"]
            .as_str()
            .or(manifest["dependencies"]["vite"].as_str())
            .unwrap_or("^7.0.0");
        let major = range
            .trim_start_matches(['^', '~'])
            .split('.')
            .next()
            .unwrap();
        node_tool(&dir.join("node_modules"), "vite", &format!("{major}.9.0"));
    }
    start_tool(procs, &dir, "vite", &[], stack.port("WEB_PORT"))
}
