//! Real stacks from `fixtures/stacks/`: a fixture copied to a temporary
//! folder with its port placeholders (`@API_PORT@` …) replaced by ports the
//! OS hands out, and helpers that start its parts for real: Python servers
//! from the test venv, the real dev servers (tests/common/frameworks.rs),
//! PostgreSQL, Redis.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use super::frameworks;
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
        // Silent means `--fix --yes` has nothing to act on: every healthy
        // baseline of the suite is held to it.
        self.assert_fix_yes_changes_nothing();
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

/// The real framework `tool` (vite, next, react-scripts) that `dir`'s
/// package.json asks for, at the pinned version of its major, linked into
/// `dir/node_modules` as npm installs it.
pub fn install_framework(dir: &Path, tool: &str) {
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("package.json")).unwrap()).unwrap();
    let range = manifest["devDependencies"][tool]
        .as_str()
        .or(manifest["dependencies"][tool].as_str())
        .unwrap_or_else(|| panic!("{}/package.json does not ask for {tool}", dir.display()));
    frameworks::link_node_modules(dir, frameworks::pinned_set(tool, range));
}

/// express, cors, nodemon and concurrently, linked into `dir/node_modules`.
pub fn install_node_tools(dir: &Path) {
    frameworks::link_node_modules(dir, "tools");
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

/// The real vite installed in `folder/node_modules` and started there
/// on the stack's WEB_PORT (from its vite config).
pub fn start_vite(procs: &mut Procs, stack: &Stack, folder: &str) -> u32 {
    let dir = stack.join(folder);
    if !dir.join("node_modules/.bin/vite").exists() {
        install_framework(&dir, "vite");
    }
    let port = stack.port("WEB_PORT");
    let pid = start_tool(procs, &dir, "vite", &[], port);
    // Listening is not yet settled: vite 8 optimises its dependencies on
    // the first page and may restart its server once (a moment with no
    // listener). Ready is: the page answers, twice, a moment apart.
    let addr = format!("127.0.0.1:{port}");
    let page = || http_get_as_browser(&addr, "/").starts_with("HTTP/");
    eventually("vite answers its page", &page);
    std::thread::sleep(std::time::Duration::from_millis(300));
    eventually("vite answers its page again", &page);
    pid
}

/// A digest of every file of the tree but what servers and installs write
/// themselves (node_modules, .venv, .next, __pycache__, .git): what a user's
/// `git status` would show changed.
pub fn tree_digest(dir: &Path) -> String {
    fn walk(dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name();
            if [
                "node_modules",
                ".venv",
                "venv",
                ".next",
                "__pycache__",
                ".git",
            ]
            .iter()
            .any(|s| name == *s)
            {
                continue;
            }
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                walk(&e.path(), out);
            } else if ft.is_file() {
                out.push((e.path(), std::fs::read(e.path()).unwrap_or_default()));
            } else {
                out.push((e.path(), Vec::new()));
            }
        }
    }
    let mut files = Vec::new();
    walk(dir, &mut files);
    files
        .iter()
        .map(|(p, bytes)| {
            let mut h: u64 = 0xcbf2_9ce4_8422_2325;
            for b in bytes {
                h ^= u64::from(*b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
            format!("{} {h:016x}\n", p.strip_prefix(dir).unwrap().display())
        })
        .collect()
}

/// Every process listening on one of the stack's ports, by pid.
pub fn listener_pids(ports: &[u16]) -> Vec<u32> {
    let out = Command::new("ss").args(["-ltnpH"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let mut pids: Vec<u32> = text
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .nth(3)
                .and_then(|a| a.rsplit(':').next())
                .and_then(|p| p.parse::<u16>().ok())
                .is_some_and(|p| ports.contains(&p))
        })
        .flat_map(|l| {
            l.split("pid=")
                .skip(1)
                .filter_map(|s| s.split(',').next()?.parse::<u32>().ok())
                .collect::<Vec<_>>()
        })
        .collect();
    pids.sort_unstable();
    pids.dedup();
    pids
}

impl Stack {
    /// `doctor --fix --yes` on a healthy stack: no file of the tree changes
    /// and every process listening on the stack's ports lives on.
    pub fn assert_fix_yes_is_inert(&self) {
        let ports: Vec<u16> = self.ports.values().copied().collect();
        assert!(
            !listener_pids(&ports).is_empty(),
            "nothing listens on the stack's ports"
        );
        self.assert_fix_yes_changes_nothing();
    }

    /// `doctor --fix --yes`: exit 0, no file of the tree changed, and every
    /// process listening on the stack's ports lives on.
    pub fn assert_fix_yes_changes_nothing(&self) {
        let ports: Vec<u16> = self.ports.values().copied().collect();
        let before = tree_digest(self.path());
        let pids = listener_pids(&ports);
        let out = doctor_in(self.path(), &["--fix", "--yes"]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{text}");
        assert_eq!(
            before,
            tree_digest(self.path()),
            "--fix --yes changed files:\n{text}"
        );
        for pid in &pids {
            assert!(is_alive(*pid), "--fix --yes ended pid {pid}:\n{text}");
        }
        assert_eq!(pids, listener_pids(&ports), "{text}");
    }
}

/// Whoever listens on `port` now is ended by pid when the test ends: a
/// server doctor started (detached, by the plan) belongs to the test too.
pub fn adopt_listeners(procs: &mut Procs, port: u16) -> Vec<u32> {
    let pids = listener_pids(&[port]);
    for &pid in &pids {
        for child in children(pid) {
            procs.adopt(child);
        }
        procs.adopt(pid);
    }
    pids
}

/// `uvicorn main:app --host 127.0.0.1 --port PORT EXTRA…` of the test venv
/// in `cwd`, started with `env` added to its environment (a shell that
/// exported the app's settings), waiting until it listens.
pub fn uvicorn_with_env(
    procs: &mut Procs,
    cwd: &Path,
    port: u16,
    extra: &[&str],
    env: &[(&str, String)],
) -> u32 {
    let port_arg = port.to_string();
    let mut cmd = Command::new(venv().join("bin/uvicorn"));
    cmd.args(["main:app", "--host", "127.0.0.1", "--port", &port_arg])
        .args(extra)
        .current_dir(cwd)
        .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let pid = procs.spawn(&mut cmd);
    wait_listening(&format!("127.0.0.1:{port}"));
    pid
}
