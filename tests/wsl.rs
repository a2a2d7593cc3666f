//! WSL (WSL001, WSL002) with real servers on this machine's loopback and
//! the Windows side played by stub programs on PATH: `netstat.exe` and
//! `tasklist.exe` print tables in the layout Windows prints them (CRLF
//! included), `wslinfo` prints a networking mode. doctor is told it runs in
//! WSL the way a WSL shell tells it: `WSL_DISTRO_NAME`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_json::Value;

/// The Windows side as the stubs will describe it.
struct WindowsSide {
    bin: tempfile::TempDir,
}

impl WindowsSide {
    fn new(netstat_rows: &[String], tasks: &[(&str, u32)], mode: Option<&str>) -> WindowsSide {
        let bin = tempfile::tempdir().unwrap();
        let mut table = String::from(
            "\r\nActive Connections\r\n\r\n  Proto  Local Address          Foreign Address        State           PID\r\n",
        );
        table.push_str(
            "  TCP    0.0.0.0:135            0.0.0.0:0              LISTENING       1052\r\n",
        );
        for row in netstat_rows {
            table.push_str(row);
            table.push_str("\r\n");
        }
        let mut list = String::from("\"System\",\"4\",\"Services\",\"0\",\"1,234 K\"\r\n");
        for (name, pid) in tasks {
            list.push_str(&format!(
                "\"{name}\",\"{pid}\",\"Console\",\"1\",\"9,876 K\"\r\n"
            ));
        }
        std::fs::write(bin.path().join("netstat.txt"), table).unwrap();
        std::fs::write(bin.path().join("tasklist.txt"), list).unwrap();
        stub(bin.path(), "netstat.exe", "netstat.txt");
        stub(bin.path(), "tasklist.exe", "tasklist.txt");
        if let Some(mode) = mode {
            std::fs::write(bin.path().join("mode.txt"), format!("{mode}\n")).unwrap();
            stub(bin.path(), "wslinfo", "mode.txt");
        }
        WindowsSide { bin }
    }

    /// How many times the Windows side was asked (each stub logs its run).
    fn asked(&self) -> usize {
        std::fs::read_to_string(self.bin.path().join("runs.log"))
            .map(|t| t.lines().filter(|l| l.starts_with("netstat.exe")).count())
            .unwrap_or(0)
    }

    /// `doctor --json` on `dir` with the stubs first on PATH; `in_wsl`
    /// sets WSL_DISTRO_NAME as a WSL shell does.
    fn doctor(&self, dir: &Path, in_wsl: bool) -> (i32, Value) {
        self.doctor_with(dir, in_wsl, &[])
    }

    fn doctor_with(&self, dir: &Path, in_wsl: bool, args: &[&str]) -> (i32, Value) {
        self.doctor_as(dir, in_wsl, args, None)
    }

    /// With `profile` as the Windows user's profile (`USERPROFILE`, as
    /// WSLENV passes it into WSL).
    fn doctor_as(
        &self,
        dir: &Path,
        in_wsl: bool,
        args: &[&str],
        profile: Option<&Path>,
    ) -> (i32, Value) {
        let path = std::env::join_paths(
            std::iter::once(self.bin.path().to_path_buf())
                .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
        )
        .unwrap();
        let mut cmd = Command::new(DOCTOR);
        cmd.args(args)
            .args(["--dir", dir.to_str().unwrap(), "--json"])
            .env("PATH", path)
            .env_remove("HTTP_PROXY")
            .env_remove("http_proxy");
        match profile {
            Some(p) => cmd.env("USERPROFILE", p),
            None => cmd.env_remove("USERPROFILE"),
        };
        if in_wsl {
            cmd.env("WSL_DISTRO_NAME", "Ubuntu-Test");
        } else {
            cmd.env_remove("WSL_DISTRO_NAME");
        }
        let out = cmd.output().unwrap();
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (out.status.code().unwrap_or(-1), report)
    }
}

fn stub(dir: &Path, name: &str, answer: &str) {
    let path: PathBuf = dir.join(name);
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\necho \"{name} $*\" >> \"$(dirname \"$0\")/runs.log\"\ncat \"$(dirname \"$0\")/{answer}\"\n"
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

/// A project whose app calls an API on `port` (a bare .env: expected).
fn api_project(port: u16) -> tempfile::TempDir {
    project(&[(".env", &format!("API_URL=http://localhost:{port}\n"))])
}

fn check_outcome<'a>(report: &'a Value, id: &str) -> &'a str {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .and_then(|c| c["outcome"].as_str())
        .unwrap_or("absent")
}

fn row(local: &str, pid: u32) -> String {
    let remote = if local.starts_with('[') {
        "[::]:0"
    } else {
        "0.0.0.0:0"
    };
    format!("  TCP    {local:<22} {remote:<22} LISTENING       {pid}")
}

#[test]
fn healthy_wsl_stack_is_silent_and_its_relay_is_wsls_own() {
    let port = free_port();
    let dir = api_project(port);
    let mut procs = Procs::new();
    http_server(&mut procs, dir.path(), "127.0.0.1", port);
    // WSL's forwarder listening on Windows for the live server is how it works.
    let windows = WindowsSide::new(
        &[
            row(&format!("127.0.0.1:{port}"), 5555),
            row(&format!("[::1]:{port}"), 5555),
        ],
        &[("wslrelay.exe", 5555)],
        Some("nat"),
    );
    let (code, report) = windows.doctor(dir.path(), true);
    assert_eq!(
        check_outcome(&report, "wsl"),
        "ok",
        "{:#}",
        report["checks"]
    );
    assert_eq!(windows.asked(), 1, "the Windows side is asked once");
    let loud: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] != "info")
        .collect();
    assert!(loud.is_empty(), "{loud:#?}");
    assert_eq!(code, 0);

    // Not in WSL: the check is skipped and nothing of Windows is run.
    let (_, report) = windows.doctor(dir.path(), false);
    assert_eq!(check_outcome(&report, "wsl"), "skipped");
    assert_eq!(windows.asked(), 1, "outside WSL netstat.exe is never run");
}

#[test]
fn an_ipv6_only_bind_is_refused_from_windows_in_nat_mode_only() {
    if !ipv6_loopback_works() {
        eprintln!("note: this machine has no IPv6 loopback; the ::1-only case cannot be made");
        return;
    }
    let port = free_port();
    let dir = api_project(port);
    let mut procs = Procs::new();
    http_server(&mut procs, dir.path(), "::1", port);

    let nat = WindowsSide::new(&[], &[], Some("nat"));
    let (_, report) = nat.doctor(dir.path(), true);
    let wsl001 = findings(&report, "WSL001");
    assert_eq!(wsl001.len(), 1, "{:#}", report["findings"]);
    assert_eq!(wsl001[0]["severity"], "warning");
    assert_eq!(
        wsl001[0]["evidence"]["listening"][0],
        format!("[::1]:{port}")
    );
    assert!(wsl001[0]["evidence"]["networking_mode"]
        .as_str()
        .unwrap()
        .starts_with("nat (wslinfo"));
    assert!(wsl001[0]["fix"]["title"]
        .as_str()
        .unwrap()
        .contains("networkingMode=mirrored"));

    // Without wslinfo, NAT is assumed and the evidence says so.
    let old_wsl = WindowsSide::new(&[], &[], None);
    let (_, report) = old_wsl.doctor(dir.path(), true);
    let wsl001 = findings(&report, "WSL001");
    assert_eq!(wsl001.len(), 1);
    assert!(wsl001[0]["evidence"]["networking_mode"]
        .as_str()
        .unwrap()
        .contains("assumed"));

    // Mirrored networking shares the interfaces: ::1 is reachable.
    let mirrored = WindowsSide::new(&[], &[], Some("mirrored"));
    let (_, report) = mirrored.doctor(dir.path(), true);
    assert!(
        findings(&report, "WSL001").is_empty(),
        "{:#}",
        report["findings"]
    );
}

#[test]
fn a_windows_process_on_the_port_is_named_with_its_taskkill() {
    let port = free_port();
    let dir = api_project(port);
    let mut procs = Procs::new();
    http_server(&mut procs, dir.path(), "127.0.0.1", port);
    let windows = WindowsSide::new(
        &[row(&format!("0.0.0.0:{port}"), 4242)],
        &[("node.exe", 4242)],
        Some("nat"),
    );
    let (_, report) = windows.doctor(dir.path(), true);
    let wsl002 = findings(&report, "WSL002");
    assert_eq!(wsl002.len(), 1, "{:#}", report["findings"]);
    let f = wsl002[0];
    assert_eq!(f["severity"], "warning");
    assert!(
        f["title"].as_str().unwrap().contains("node.exe (pid 4242)"),
        "{f:#}"
    );
    assert_eq!(f["evidence"]["listening_in_wsl"], true);
    assert_eq!(
        f["fix"]["safety"], "manual",
        "doctor does not end Windows processes from WSL"
    );
    assert!(f["fix"]["commands"][0]
        .as_str()
        .unwrap()
        .starts_with("taskkill /PID 4242"));
}

#[test]
fn a_relay_with_nothing_behind_it_is_stale() {
    let port = free_port();
    let dir = api_project(port);
    let windows = WindowsSide::new(
        &[row(&format!("127.0.0.1:{port}"), 6010)],
        &[("wslrelay.exe", 6010)],
        Some("nat"),
    );
    let (code, report) = windows.doctor(dir.path(), true);
    let wsl002 = findings(&report, "WSL002");
    assert_eq!(wsl002.len(), 1, "{:#}", report["findings"]);
    assert!(wsl002[0]["title"]
        .as_str()
        .unwrap()
        .contains("outlived its server"));
    assert!(wsl002[0]["fix"]["commands"][0]
        .as_str()
        .unwrap()
        .starts_with("wsl --shutdown"));
    // The service itself is down: that stays the error.
    assert!(!findings(&report, "PORT001").is_empty());
    assert_eq!(code, 1);
}

/// A real full-stack project (FastAPI backend, vite frontend, PostgreSQL),
/// healthy, run in "WSL" with WSL's relay listening on Windows for each of
/// its ports: silent. Then the frontend restarted on `::1` only, as Vite on
/// Node 17+ does when `localhost` resolves to `::1` first: WSL001 names it
/// with vite's own flag.
#[test]
fn a_healthy_full_stack_in_wsl_is_silent_until_vite_binds_ipv6_only() {
    use common::stack::*;
    let mut procs = Procs::new();
    let stack = Stack::new("fastapi-fullstack");
    stack.link_venv("backend/.venv");
    let _data = start_postgres(&mut procs, stack.port("DB_PORT"));
    start_fullstack_backend(&mut procs, &stack);
    let vite = start_vite(&mut procs, &stack, "frontend");

    let (api, web, db) = (
        stack.port("API_PORT"),
        stack.port("WEB_PORT"),
        stack.port("DB_PORT"),
    );
    let relay: Vec<String> = [api, web, db]
        .iter()
        .map(|p| row(&format!("127.0.0.1:{p}"), 5555))
        .collect();
    let windows = WindowsSide::new(&relay, &[("wslrelay.exe", 5555)], Some("nat"));
    let (code, report) = windows.doctor(stack.path(), true);
    assert_eq!(check_outcome(&report, "wsl"), "ok");
    assert_eq!(
        loud_codes(&report),
        Vec::<String>::new(),
        "{:#}",
        report["findings"]
    );
    assert_eq!(code, 0);

    if !ipv6_loopback_works() {
        eprintln!("note: no IPv6 loopback here; the ::1-only vite cannot be made");
        return;
    }
    procs.end(vite);
    let bin = stack.join("frontend/node_modules/.bin/vite");
    procs.spawn(
        Command::new("node")
            .arg(bin)
            .args(["--host", "::1"])
            .current_dir(stack.join("frontend"))
            .stderr(std::process::Stdio::null()),
    );
    wait_listening(&format!("[::1]:{web}"));
    let (_, report) = windows.doctor(stack.path(), true);
    let wsl001 = findings(&report, "WSL001");
    assert_eq!(wsl001.len(), 1, "{:#}", report["findings"]);
    assert_eq!(wsl001[0]["evidence"]["service"], "frontend");
    assert_eq!(wsl001[0]["severity"], "warning");
    assert_eq!(
        wsl001[0]["fix"]["commands"][0],
        "npm run dev -- --host 127.0.0.1"
    );
}

/// `doctor port N` inside WSL looks at the Windows side too: the port
/// examined on request is held there by a Windows process, nothing listens
/// in WSL. A warning (the port is examined, not expected), exit 0.
#[test]
fn doctor_port_in_wsl_names_the_windows_holder() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let windows = WindowsSide::new(
        &[row(&format!("127.0.0.1:{port}"), 9100)],
        &[("python.exe", 9100)],
        Some("nat"),
    );
    let (code, report) = windows.doctor_with(dir.path(), true, &["port", &port.to_string()]);
    let wsl002 = findings(&report, "WSL002");
    assert_eq!(wsl002.len(), 1, "{:#}", report["findings"]);
    let title = wsl002[0]["title"].as_str().unwrap();
    assert!(title.contains("python.exe (pid 9100)"), "{title}");
    assert!(title.ends_with("reaches it, not WSL"), "{title}");
    assert_eq!(wsl002[0]["severity"], "warning");
    assert!(
        wsl002[0]["evidence"].get("service").is_none(),
        "no service is invented"
    );
    assert_eq!(code, 0);
}

/// S-class 10 (issue #18): the server answers in WSL on 127.0.0.1, where
/// NAT mode forwards it, and nothing listens on its port on the Windows
/// side. `.wslconfig` turns forwarding off: named with its line. Without
/// that line the relay is said to be not running, with `wsl --shutdown`.
#[test]
fn no_relay_on_windows_for_a_server_wsl_should_forward() {
    let port = free_port();
    let dir = api_project(port);
    let mut procs = Procs::new();
    http_server(&mut procs, dir.path(), "127.0.0.1", port);
    let windows = WindowsSide::new(&[], &[], Some("nat"));
    let profile = tempfile::tempdir().unwrap();
    std::fs::write(
        profile.path().join(".wslconfig"),
        "[wsl2]\nmemory=8GB\nlocalhostForwarding=false\n",
    )
    .unwrap();
    let (code, report) = windows.doctor_as(dir.path(), true, &[], Some(profile.path()));
    let off = findings(&report, "WSL003");
    assert_eq!(off.len(), 1, "{:#}", report["findings"]);
    let f = off[0];
    assert_eq!(f["severity"], "warning");
    let at = format!("{}:3", profile.path().join(".wslconfig").display());
    assert!(f["title"].as_str().unwrap().contains(&at), "{f:#}");
    assert!(f["fix"]["title"]
        .as_str()
        .unwrap()
        .contains("localhostForwarding=true"));
    assert_eq!(code, 0);

    // No such line: the forwarding is not running.
    std::fs::write(profile.path().join(".wslconfig"), "[wsl2]\nmemory=8GB\n").unwrap();
    let (_, report) = windows.doctor_as(dir.path(), true, &[], Some(profile.path()));
    let off = findings(&report, "WSL003");
    assert_eq!(off.len(), 1, "{:#}", report["findings"]);
    assert!(off[0]["title"].as_str().unwrap().contains("not running"));
    assert_eq!(
        off[0]["fix"]["commands"][0],
        "wsl --shutdown   (in a Windows terminal), then start the service again"
    );

    // The relay there: forwarding works, nothing to say.
    let relayed = WindowsSide::new(
        &[row(&format!("127.0.0.1:{port}"), 5555)],
        &[("wslrelay.exe", 5555)],
        Some("nat"),
    );
    let (_, report) = relayed.doctor_as(dir.path(), true, &[], Some(profile.path()));
    assert!(
        findings(&report, "WSL003").is_empty(),
        "{:#}",
        report["findings"]
    );
    // Mirrored networking has no relay: nothing to say either.
    let mirrored = WindowsSide::new(&[], &[], Some("mirrored"));
    let (_, report) = mirrored.doctor_as(dir.path(), true, &[], Some(profile.path()));
    assert!(
        findings(&report, "WSL003").is_empty(),
        "{:#}",
        report["findings"]
    );
}
