//! A network namespace of the test's own, for stories that need a
//! framework's fixed default port (vite's 5173): inside it every port is
//! free, and nothing of the machine's can clash. Needs root and `ip`
//! (iproute2); `Netns::new` returns None where they are missing, and the
//! test says it was skipped.

use std::path::Path;
use std::process::{Command, Output, Stdio};

pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new(tag: &str) -> Option<Netns> {
        let name = format!("doctor-{tag}-{}", std::process::id());
        let ok = |args: &[&str]| {
            Command::new("ip")
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        let _ = ok(&["netns", "delete", &name]);
        if !ok(&["netns", "add", &name]) {
            return None;
        }
        let ns = Netns { name };
        if !ok(&["netns", "exec", &ns.name, "ip", "link", "set", "lo", "up"]) {
            return None;
        }
        Some(ns)
    }

    /// The namespace's own hosts file: `ip netns exec` bind-mounts
    /// `/etc/netns/NAME/hosts` over `/etc/hosts` for what it runs (the
    /// folder is removed with the namespace).
    pub fn hosts(&self, text: &str) {
        let dir = Path::new("/etc/netns").join(&self.name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("hosts"), text).unwrap();
    }

    /// `program` run inside the namespace (`ip netns exec` execs it: the
    /// pid is the program's).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name]).arg(program);
        cmd
    }

    /// Readiness inside the namespace: poll until 127.0.0.1:port accepts.
    pub fn wait_listening(&self, port: u16) {
        let probe = format!(
            "import socket,sys,time\nfor _ in range(400):\n    try:\n        socket.create_connection(('127.0.0.1',{port}),0.2).close(); sys.exit(0)\n    except OSError:\n        time.sleep(0.05)\nsys.exit(1)"
        );
        let ok = self
            .command("python3")
            .args(["-c", &probe])
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "nothing listened on 127.0.0.1:{port} in {} within 20 s",
            self.name
        );
    }

    /// Whether 127.0.0.1:port accepts inside the namespace (one try).
    pub fn accepts(&self, port: u16) -> bool {
        let probe = format!(
            "import socket,sys\ntry:\n    socket.create_connection(('127.0.0.1',{port}),0.5).close()\nexcept OSError:\n    sys.exit(1)"
        );
        self.command("python3")
            .args(["-c", &probe])
            .status()
            .is_ok_and(|s| s.success())
    }

    /// `doctor --dir DIR ARGS --json` inside the namespace.
    pub fn doctor_json(&self, dir: &Path, args: &[&str]) -> (i32, serde_json::Value) {
        let out: Output = self
            .command(super::DOCTOR)
            .arg("--dir")
            .arg(dir)
            .args(args)
            .arg("--json")
            .output()
            .unwrap();
        let report = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
        (out.status.code().unwrap_or(-1), report)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // What still runs inside is this test's (a server doctor started
        // with `--fix --yes`, a copy the test's own Procs never knew):
        // ended by pid before the namespace goes, passing or failing.
        if let Ok(out) = Command::new("ip")
            .args(["netns", "pids", &self.name])
            .output()
        {
            for pid in String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .filter_map(|p| p.parse::<i32>().ok())
            {
                // SAFETY: kill has no memory preconditions; the pid is one
                // the kernel lists in this test's own namespace.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
            }
        }
        let _ = std::fs::remove_dir_all(Path::new("/etc/netns").join(&self.name));
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.name])
            .stderr(Stdio::null())
            .status();
    }
}
