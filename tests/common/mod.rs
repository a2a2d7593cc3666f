//! Shared test helpers: real processes that are ended by pid, always, even
//! when the test fails (the guard's Drop runs during unwinding).

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const DOCTOR: &str = env!("CARGO_BIN_EXE_doctor");

/// Processes this test started. Each is ended by its own pid on drop, and
/// only those: never by name.
#[derive(Default)]
pub struct Procs {
    children: Vec<Child>,
    /// Pids started indirectly (a launcher's child), ended by pid too, each
    /// with its start time: an adopted process that has exited is no child
    /// of ours, its pid may come back as another test's server (pids wrap
    /// at 32768 here), and that one must not be ended.
    adopted: Vec<(u32, Option<u64>)>,
}

impl Procs {
    pub fn new() -> Procs {
        Procs::default()
    }

    /// Start a python script (`-c`) in `cwd`. Its first stdout line must be
    /// "ready" (or anything): the call returns once it is printed.
    pub fn python(&mut self, cwd: &Path, script: &str, args: &[&str]) -> (u32, String) {
        let mut cmd = Command::new(python());
        cmd.arg("-u")
            .arg("-c")
            .arg(script)
            .args(args)
            .current_dir(cwd);
        self.start_ready(&mut cmd)
    }

    /// Start a command whose first stdout line says it is ready; returns its
    /// pid and that line once it is printed.
    pub fn start_ready(&mut self, cmd: &mut Command) -> (u32, String) {
        let mut child = spawn_retrying(
            cmd.stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit()),
        )
        .unwrap_or_else(|e| panic!("start {cmd:?}: {e}"));
        let pid = child.id();
        let stdout = child.stdout.take().unwrap();
        // Owned by the guard before anything here can panic: a child whose
        // readiness line never comes is still ended by pid.
        self.children.push(child);
        let mut line = String::new();
        let mut reader = BufReader::new(stdout);
        reader.read_line(&mut line).expect("read readiness line");
        // The rest of its output is read as a terminal would: a server whose
        // stdout is a pipe nobody reads is a failure of its own (PROC009).
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        (pid, line.trim().to_string())
    }

    /// Start a command; the caller waits for readiness with `wait_listening`.
    pub fn spawn(&mut self, cmd: &mut Command) -> u32 {
        let child = spawn_retrying(cmd.stdin(Stdio::null()).stdout(Stdio::null()))
            .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
        let pid = child.id();
        self.children.push(child);
        pid
    }

    /// Start a command with its stdout a pipe the caller holds the read end
    /// of (dropping it leaves the child writing to a pipe nobody reads).
    pub fn spawn_piped(&mut self, cmd: &mut Command) -> (u32, std::process::ChildStdout) {
        let mut child = spawn_retrying(cmd.stdin(Stdio::null()).stdout(Stdio::piped()))
            .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
        let pid = child.id();
        let stdout = child.stdout.take().unwrap();
        self.children.push(child);
        (pid, stdout)
    }

    /// End one child alone (SIGKILL by pid), leaving what it started to be
    /// adopted: the orphan of S6.
    pub fn end_alone(&mut self, pid: u32) {
        if let Some(i) = self.children.iter().position(|c| c.id() == pid) {
            let mut child = self.children.remove(i);
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn adopt(&mut self, pid: u32) {
        self.adopted.push((pid, start_ticks(pid)));
    }

    /// End one child now and what it started (a reloader's server, `node
    /// --watch`'s script), each by pid, and reap it.
    pub fn end(&mut self, pid: u32) {
        if let Some(i) = self.children.iter().position(|c| c.id() == pid) {
            end_tree(&mut self.children.remove(i));
        }
    }
}

/// Spawn, again when the program is a script a test has just written and
/// the OS says "text file busy": another test thread forked while the file
/// was open for writing, and its child holds that descriptor until it execs.
fn spawn_retrying(cmd: &mut Command) -> std::io::Result<Child> {
    let mut tries = 0;
    loop {
        match cmd.spawn() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && tries < 50 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

/// Every descendant of `pid` (Linux), deepest last: a test's processes
/// include what they started (a reloader's workers, PostgreSQL's backends).
fn descendants(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let mut queue = vec![pid];
    while let Some(p) = queue.pop() {
        for c in children(p) {
            if !out.contains(&c) && out.len() < 1000 {
                out.push(c);
                queue.push(c);
            }
        }
    }
    out
}

/// Stop the child first so it cannot start new processes, end its
/// descendants by pid, then the child itself, and reap it.
fn end_tree(child: &mut Child) {
    #[cfg(unix)]
    {
        let pid = child.id();
        // SAFETY: kill(2) on pids this test started (directly or through them).
        unsafe { libc::kill(pid as i32, libc::SIGSTOP) };
        for d in descendants(pid) {
            unsafe { libc::kill(d as i32, libc::SIGKILL) };
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for Procs {
    fn drop(&mut self) {
        self.children.iter_mut().for_each(end_tree);
        #[cfg(unix)]
        for &(pid, started) in &self.adopted {
            if started.is_none() || start_ticks(pid) != started {
                continue; // gone, or the pid is another process's now
            }
            // SAFETY: kill(2) on a pid this test started, still that process.
            unsafe {
                libc::kill(pid as i32, libc::SIGKILL);
            }
        }
    }
}

pub fn python() -> String {
    std::env::var("DOCTOR_TEST_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// A port the OS hands out on loopback, free when returned.
/// A port the OS hands out, never one this test process was given before:
/// a port released at once can come back on the next call, and two
/// services of one test on one port would merge into one.
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

pub fn ipv6_loopback_works() -> bool {
    TcpListener::bind("[::1]:0").is_ok()
}

/// Readiness probe: poll until a connection to `addr` succeeds.
/// A connection to itself (the kernel gave the probe the very port it
/// dials, and TCP's simultaneous open "connected" with nothing listening)
/// is not readiness: it once let a test run doctor before its server was up.
pub fn wait_listening(addr: &str) {
    let addr: SocketAddr = addr.parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let up = || {
        TcpStream::connect_timeout(&addr, Duration::from_millis(200))
            .is_ok_and(|s| s.local_addr().ok() != Some(addr))
    };
    while !up() {
        assert!(
            Instant::now() < deadline,
            "nothing listened on {addr} within 20 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One HTTP/1.0 request; the server closes first, leaving its side in TIME_WAIT.
pub fn http_get(addr: &str, path: &str) -> String {
    // Refused (a server between two lives): no answer, for the caller's
    // readiness loop or assertion to judge.
    let Ok(mut s) = TcpStream::connect(addr) else {
        return String::new();
    };
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

/// One GET with the Host header a browser sends (vite answers 403 to a
/// host it does not know).
pub fn http_get_as_browser(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(addr) else {
        return String::new();
    };
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let _ = write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

pub fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

pub fn doctor(args: &[&str]) -> Output {
    let mut cmd = Command::new(DOCTOR);
    cmd.args(args).env_remove("NO_COLOR");
    // The tests' own verdicts must not depend on the machine's proxy settings.
    for var in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
        // Nor on the runtime the tests run in (CI over SSH, a codespace):
        // NET002's tests set these themselves.
        "COLAB_RELEASE_TAG",
        "CODESPACES",
        "CODESPACE_NAME",
        "GITPOD_WORKSPACE_ID",
        "REMOTE_CONTAINERS",
        "SSH_CONNECTION",
    ] {
        cmd.env_remove(var);
    }
    cmd.output().expect("run doctor")
}

pub fn doctor_in(dir: &Path, args: &[&str]) -> Output {
    let mut all = vec!["--dir", dir.to_str().unwrap()];
    all.extend_from_slice(args);
    doctor(&all)
}

/// Run with `--json` and parse; asserts stdout is one JSON document.
pub fn doctor_json(dir: &Path, args: &[&str]) -> (i32, Value) {
    let mut all = args.to_vec();
    all.push("--json");
    let out = doctor_in(dir, &all);
    let text = String::from_utf8_lossy(&out.stdout);
    let json: Value = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{text}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), json)
}

pub fn findings<'a>(report: &'a Value, code: &str) -> Vec<&'a Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == code)
        .collect()
}

pub fn codes(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect()
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A python listener that binds `host:port` and never accepts; prints "ready".
pub const LISTEN_ONLY: &str = r#"
import socket, sys, time
host, port = sys.argv[1], int(sys.argv[2])
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
if len(sys.argv) > 3 and sys.argv[3] == "reuseport":
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
if fam == socket.AF_INET6:
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
s.bind((host, port))
s.listen(64)
print("ready", flush=True)
while True:
    time.sleep(3600)
"#;

pub use frameworks::venv;

/// Children of a pid (Linux), for tests that need a supervisor's worker.
/// The parent pid of `pid` (from /proc/PID/stat), `None` when gone.
#[allow(dead_code)]
pub fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command in parentheses: state, then the parent's pid.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

pub fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let text = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        out.extend(
            text.split_whitespace()
                .filter_map(|p| p.parse::<u32>().ok()),
        );
    }
    out
}

pub fn signal(pid: u32, sig: i32) {
    // SAFETY: kill(2) on a pid this test started.
    assert_eq!(
        unsafe { libc::kill(pid as i32, sig) },
        0,
        "signal {sig} to {pid}"
    );
}

/// SIGSTOP, then wait until the process is in state T: the kernel changes
/// the state when the process next runs, which on a loaded machine is not
/// at once.
/// Whether `pid` is stopped (state T), as `/proc/PID/stat` says.
pub fn is_stopped(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .and_then(|(_, r)| r.trim_start().chars().next())
            == Some('T')
    })
}

pub fn stop(pid: u32) {
    signal(pid, libc::SIGSTOP);
    eventually(&format!("pid {pid} is stopped"), || {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
            s.rsplit_once(')')
                .and_then(|(_, r)| r.trim_start().chars().next())
                == Some('T')
        })
    });
}

pub fn is_alive(pid: u32) -> bool {
    // A zombie still has a /proc entry; its state letter says Z.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            let state = s
                .rsplit_once(')')
                .map(|(_, r)| r.trim_start().chars().next());
            state != Some(Some('Z'))
        })
        .unwrap_or(false)
}

/// Poll (a readiness probe, not a fixed sleep) until `f` holds or 10 s pass.
pub fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A process's start in clock ticks since boot (`/proc/PID/stat` field
/// 22): with the pid, what tells one process from a later one on that pid.
pub fn start_ticks(pid: u32) -> Option<u64> {
    let own = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    own.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(19)?
        .parse()
        .ok()
}

/// A process's start, in whole seconds since the epoch, as the process
/// table gives it (boot time plus its start in clock ticks).
pub fn start_secs(pid: u32) -> u64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap();
    let btime: u64 = stat
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap();
    let own = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let ticks: u64 = own
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .nth(19)
        .unwrap()
        .parse()
        .unwrap();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    btime + ticks / hz
}

/// Waits until a file written now is newer than process `pid` to doctor,
/// which compares whole seconds and allows one of slack: an edit made
/// sooner is one doctor rightly cannot tell from the start. (The clock is
/// the condition here; a fixed sleep was too short when the start fell
/// late in its second.)
pub fn until_an_edit_is_newer_than(pid: u32) {
    let start = start_secs(pid);
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    // One second more than doctor needs: boot time read another way may
    // differ by one.
    eventually("an edit newer than the process by doctor's measure", || {
        now() >= start + 3
    });
}

/// A launcher that starts LISTEN_ONLY as its child, prints the child's pid
/// once it listens, then waits: killing it orphans the server (S6).
///
/// The launcher leads its own session, as a terminal's shell does: the server
/// it starts is in that session, so once the launcher is gone the server's
/// session is neither its own nor its new parent's, whoever adopts it (pid 1,
/// a subreaper, or a CI runner's init that shares the test's session).
pub const LAUNCHER: &str = r#"
import os, subprocess, sys, time
os.setsid()
child = subprocess.Popen([sys.executable, "-u", "-c", sys.argv[1], "127.0.0.1", sys.argv[2]], stdout=subprocess.PIPE)
child.stdout.readline()
print(child.pid, flush=True)
while True:
    time.sleep(3600)
"#;

/// Start LISTEN_ONLY through LAUNCHER, kill the launcher: returns the orphan's pid.
pub fn orphaned_server(procs: &mut Procs, cwd: &Path, port: u16) -> u32 {
    let (launcher, line) = procs.python(cwd, LAUNCHER, &[LISTEN_ONLY, &port.to_string()]);
    let server: u32 = line.parse().expect("launcher prints the server pid");
    procs.adopt(server);
    procs.end_alone(launcher);
    eventually("the server is reparented", || {
        std::fs::read_to_string(format!("/proc/{server}/stat"))
            .ok()
            .and_then(|s| {
                s.rsplit_once(')')
                    .map(|(_, r)| r.split_whitespace().nth(1).map(String::from))
            })
            .flatten()
            .is_some_and(|ppid| ppid != launcher.to_string())
    });
    server
}

/// A real HTTP server (python's http.server) on `host:port`, serving `cwd`;
/// returns once it answers.
pub fn http_server(procs: &mut Procs, cwd: &Path, host: &str, port: u16) -> u32 {
    let pid = procs.spawn(
        Command::new(python())
            .args(["-m", "http.server", &port.to_string(), "--bind", host])
            .current_dir(cwd)
            .stderr(Stdio::null()),
    );
    let addr = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    wait_listening(&addr);
    pid
}

/// A FastAPI app with CORS for the origins in $ALLOWED (comma-separated).
pub const FASTAPI_APP: &str = r#"import os

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

app = FastAPI()
app.add_middleware(
    CORSMiddleware,
    allow_origins=[o for o in os.environ.get("ALLOWED", "").split(",") if o],
    allow_methods=["*"],
    allow_headers=["*"],
)


@app.get("/health")
def health():
    return {"status": "ok", "version": "1.0"}
"#;

/// uvicorn from the test venv serving `main:app` from `dir` on 127.0.0.1:port.
pub fn uvicorn(procs: &mut Procs, dir: &Path, port: u16, allowed: &str) -> u32 {
    let venv = venv();
    let pid = procs.spawn(
        Command::new(venv.join("bin/uvicorn"))
            .args([
                "main:app",
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
            ])
            .current_dir(dir)
            .env("ALLOWED", allowed)
            .stderr(Stdio::null()),
    );
    wait_listening(&format!("127.0.0.1:{port}"));
    pid
}

/// stdout and stderr of one run, for tests that look for what must never be printed.
pub fn all_output(dir: &Path, args: &[&str]) -> String {
    let out = doctor_in(dir, args);
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub fn postgres_bin(name: &str) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .map(|e| e.path().join("bin").join(name))
        .filter(|p| p.exists())
        .collect();
    found.sort();
    found.pop()
}

/// A real PostgreSQL on `port`, run as the postgres user when we are root:
/// superuser `app` (trust) and a database `app`, as the fixtures log in.
pub fn start_postgres(procs: &mut Procs, port: u16) -> tempfile::TempDir {
    start_postgres_with_password(procs, port, None)
}

/// The same, with `password` for `app` and SCRAM-SHA-256 required of
/// every login when one is given.
pub fn start_postgres_with_password(
    procs: &mut Procs,
    port: u16,
    password: Option<&str>,
) -> tempfile::TempDir {
    start_postgres_auth(procs, port, password, "scram-sha-256")
}

/// A cluster as `initdb --auth-host=md5` and `password_encryption=md5`
/// make it (older images, many hand-made clusters): every TCP login is
/// asked an md5 password; the local socket is trusted.
pub fn start_postgres_md5(procs: &mut Procs, port: u16, password: &str) -> tempfile::TempDir {
    start_postgres_auth(procs, port, Some(password), "md5")
}

fn start_postgres_auth(
    procs: &mut Procs,
    port: u16,
    password: Option<&str>,
    method: &str,
) -> tempfile::TempDir {
    let data = tempfile::tempdir().unwrap();
    let initdb =
        postgres_bin("initdb").expect("PostgreSQL from Debian's packages (.ci/run installs it)");
    let as_postgres = |cmd: &mut Command| {
        use std::os::unix::process::CommandExt;
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            let out = Command::new("id")
                .args(["-u", "postgres"])
                .output()
                .unwrap();
            let uid: u32 = String::from_utf8_lossy(&out.stdout)
                .trim()
                .parse()
                .expect("a postgres user");
            let out = Command::new("id")
                .args(["-g", "postgres"])
                .output()
                .unwrap();
            let gid: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
            std::os::unix::fs::chown(data.path(), Some(uid), Some(gid)).unwrap();
            cmd.uid(uid).gid(gid);
        }
    };
    let mut init = Command::new(initdb);
    init.args(["-D"])
        .arg(data.path().join("db"))
        .args(["-U", "app", "--no-sync"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .current_dir("/");
    match password {
        None => {
            init.args(["-A", "trust"]);
        }
        Some(pw) => {
            let file = data.path().join("pwfile");
            std::fs::write(&file, format!("{pw}\n")).unwrap();
            if method == "md5" {
                init.args(["--auth-local=trust", "--auth-host=md5", "--pwfile"]);
            } else {
                init.args(["-A", method, "--pwfile"]);
            }
            init.arg(&file);
        }
    }
    as_postgres(&mut init);
    assert!(init.status().unwrap().success(), "initdb failed");
    let mut server = Command::new(postgres_bin("postgres").unwrap());
    server
        .arg("-D")
        .arg(data.path().join("db"))
        .args(["-p", &port.to_string(), "-k"])
        .arg(data.path())
        .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
        .args([
            "-c",
            &format!(
                "password_encryption={}",
                if method == "md5" {
                    "md5"
                } else {
                    "scram-sha-256"
                }
            ),
        ])
        .stderr(Stdio::null())
        .current_dir("/");
    as_postgres(&mut server);
    procs.spawn(&mut server);
    wait_listening(&format!("127.0.0.1:{port}"));
    // The server accepts before it takes logins: createdb is retried
    // until it is ready (its own readiness answer), a bounded number of times.
    let createdb = postgres_bin("createdb").unwrap();
    let mut made = false;
    for _ in 0..100 {
        let out = Command::new(&createdb)
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-U",
                "app",
                "app",
            ])
            .env("PGPASSWORD", password.unwrap_or_default())
            .output()
            .unwrap();
        if out.status.success() {
            made = true;
            break;
        }
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("starting up"), "createdb: {err}");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(made, "PostgreSQL on {port} never took a login");
    if method == "md5" {
        // initdb stored the password as SCRAM, which an md5 line answers
        // with SCRAM; stored again as md5, the server asks md5 (type 5).
        let out = Command::new(postgres_bin("psql").unwrap())
            .arg("-h")
            .arg(data.path())
            .args(["-p", &port.to_string(), "-U", "app", "-d", "app", "-c"])
            .arg(format!(
                "ALTER ROLE app PASSWORD '{}'",
                password.unwrap_or_default()
            ))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "psql: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    data
}

/// A real Redis on 127.0.0.1:`port`, nothing saved.
pub fn start_redis(procs: &mut Procs, port: u16) -> u32 {
    let pid = procs.spawn(std::process::Command::new("redis-server").args([
        "--port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
    ]));
    wait_listening(&format!("127.0.0.1:{port}"));
    pid
}

/// `doctor --dir DIR ARGS --json` run as the user `nobody` (the test runs as
/// root): what doctor sees and may do without privileges.
#[cfg(unix)]
pub fn doctor_json_as_nobody(dir: &Path, args: &[&str]) -> Value {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = Command::new(DOCTOR)
        .arg("--dir")
        .arg(dir)
        .args(args)
        .arg("--json")
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
}

pub mod frameworks;
pub mod netns;
pub mod stack;

/// Poll until `GET path` answers 200: a readiness probe, up to 180 s (a cold
/// `next dev` compiles the page on the first request; two cores are slow).
pub fn answers_200(port: u16, path: &str) {
    let addr = format!("127.0.0.1:{port}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
    while !http_get_as_browser(&addr, path)
        .lines()
        .next()
        .is_some_and(|l| l.contains(" 200"))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "{addr}{path} did not answer 200 within 180 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// The causes a report leads with: findings nothing explains, above info.
pub fn loud_roots(report: &Value) -> Vec<&Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["caused_by"].is_null() && f["severity"] != "info")
        .collect()
}

/// The first of them: the cause the report prints first.
pub fn first_loud_root(report: &Value) -> &Value {
    loud_roots(report)
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no cause: {report:#}"))
}
