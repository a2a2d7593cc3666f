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
    /// Pids started indirectly (a launcher's child), ended by pid too.
    adopted: Vec<u32>,
}

impl Procs {
    pub fn new() -> Procs {
        Procs::default()
    }

    /// Start a python script (`-c`) in `cwd`. Its first stdout line must be
    /// "ready" (or anything): the call returns once it is printed.
    pub fn python(&mut self, cwd: &Path, script: &str, args: &[&str]) -> (u32, String) {
        let mut child = Command::new(python())
            .arg("-u")
            .arg("-c")
            .arg(script)
            .args(args)
            .current_dir(cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start python3");
        let pid = child.id();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("read readiness line");
        self.children.push(child);
        (pid, line.trim().to_string())
    }

    /// Start a command; the caller waits for readiness with `wait_listening`.
    pub fn spawn(&mut self, cmd: &mut Command) -> u32 {
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn");
        let pid = child.id();
        self.children.push(child);
        pid
    }

    pub fn adopt(&mut self, pid: u32) {
        self.adopted.push(pid);
    }

    /// End one child now (SIGKILL by pid) and reap it.
    pub fn end(&mut self, pid: u32) {
        if let Some(i) = self.children.iter().position(|c| c.id() == pid) {
            let mut child = self.children.remove(i);
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Procs {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        #[cfg(unix)]
        for &pid in &self.adopted {
            // SAFETY: kill(2) on a pid this test started; no memory involved.
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
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn ipv6_loopback_works() -> bool {
    TcpListener::bind("[::1]:0").is_ok()
}

/// Readiness probe: poll until a connection to `addr` succeeds.
pub fn wait_listening(addr: &str) {
    let addr: SocketAddr = addr.parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(
            Instant::now() < deadline,
            "nothing listened on {addr} within 20 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One HTTP/1.0 request; the server closes first, leaving its side in TIME_WAIT.
pub fn http_get(addr: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
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
    Command::new(DOCTOR)
        .args(args)
        .env_remove("NO_COLOR")
        .output()
        .expect("run doctor")
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
