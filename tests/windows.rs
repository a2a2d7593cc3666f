//! The Windows smoke suite: the `x86_64-pc-windows-gnu` build of doctor run
//! under Wine. Every test is `#[ignore]`d in a plain `cargo test`, because it
//! needs what `scripts/windows-smoke.sh` builds and sets up (doctor.exe, the
//! ProcessPrng shim DLL, a mingw-built listener, a Wine prefix); that script
//! runs them with `--ignored`, and CI runs that script.
//!
//! What Wine shows is asserted as Wine shows it: its TCP table names no owner
//! pid (the sockets live in wineserver), and the tests say so where it matters
//! instead of skipping.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::stack::Stack;
use common::*;
use serde_json::Value;

/// The folder holding doctor.exe and its helpers, and the Wine loader.
fn wine() -> (PathBuf, PathBuf) {
    let dir = std::env::var_os("DOCTOR_WINE_DIR")
        .map(PathBuf::from)
        .expect("DOCTOR_WINE_DIR is set by scripts/windows-smoke.sh");
    let loader = std::env::var_os("DOCTOR_WINE")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/usr/lib/wine/wine64".into());
    (loader, dir)
}

/// A Windows program from the smoke folder, under Wine, with a console
/// environment that promises no Unicode (no Windows Terminal, no VS Code).
fn windows(program: &str) -> Command {
    let (loader, dir) = wine();
    let mut cmd = Command::new(loader);
    cmd.arg(dir.join(program))
        .env("WINEDEBUG", "-all")
        .env_remove("WT_SESSION")
        .env_remove("TERM_PROGRAM")
        .env_remove("NO_COLOR");
    cmd
}

fn doctor_exe(args: &[&str]) -> Output {
    windows("doctor.exe")
        .args(args)
        .output()
        .expect("run doctor.exe under wine")
}

/// A Linux path as Wine's Windows programs see it: drive Z: is `/`.
fn windows_path(path: &Path) -> String {
    format!("Z:{}", path.display()).replace('/', "\\")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "doctor.exe stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            text(&out.stdout),
            text(&out.stderr)
        )
    })
}

fn assert_ascii(what: &str, out: &str) {
    if let Some(c) = out.chars().find(|c| !c.is_ascii()) {
        panic!("{what}: {c:?} is not ASCII on a console without Unicode:\n{out}");
    }
}

#[test]
#[ignore = "needs Wine and the Windows build: scripts/windows-smoke.sh"]
fn version_and_usage_exit_codes() {
    let out = doctor_exe(&["--version"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).trim(),
        format!("doctor {}", env!("CARGO_PKG_VERSION"))
    );

    let out = doctor_exe(&["--no-such-option"]);
    assert_eq!(out.status.code(), Some(2), "bad arguments exit 2");

    let missing = doctor_exe(&["--dir", r"Z:\no\such\folder", "--json"]);
    assert_eq!(
        missing.status.code(),
        Some(2),
        "an unreadable project exits 2"
    );
}

#[test]
#[ignore = "needs Wine and the Windows build: scripts/windows-smoke.sh"]
fn explain_and_checks_come_from_the_binary() {
    let out = doctor_exe(&["explain", "PORT010"]);
    assert_eq!(out.status.code(), Some(0));
    let page = text(&out.stdout);
    assert!(page.starts_with("# PORT010"), "{page}");
    assert!(
        page.contains("reserved"),
        "PORT010 names Windows reserved ranges:\n{page}"
    );

    let out = doctor_exe(&["explain", "NOPE001"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown finding code"));

    let out = doctor_exe(&["checks", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let checks = json_of(&out);
    let ids: Vec<&str> = checks
        .as_array()
        .expect("a list of checks")
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    for id in [
        "ports",
        "processes",
        "python",
        "node",
        "env",
        "health",
        "cors",
        "database",
    ] {
        assert!(
            ids.contains(&id),
            "check {id} missing under Windows: {ids:?}"
        );
    }
}

/// The same project read by the Linux build and the Windows build: the same
/// services, ports and sources; the root as a Windows user writes it; no
/// secret in either output mode.
#[test]
#[ignore = "needs Wine and the Windows build: scripts/windows-smoke.sh"]
fn discovery_paths_and_redaction_match_linux() {
    let stack = Stack::new("fastapi-fullstack");
    let env = std::fs::read_to_string(stack.join(".env")).unwrap();
    stack.write(
        ".env",
        &env.replace("SECRET_KEY=changethis", "SECRET_KEY=canary-key-5f2a9")
            .replace(
                "POSTGRES_PASSWORD=changethis",
                "POSTGRES_PASSWORD=canary-pw-71c4",
            ),
    );
    let (linux_code, linux) = stack.doctor(&[]);

    let dir = windows_path(stack.path());
    let out = doctor_exe(&["--dir", &dir, "--json"]);
    let raw = text(&out.stdout);
    let report = json_of(&out);
    for canary in ["canary-key-5f2a9", "canary-pw-71c4"] {
        assert!(!raw.contains(canary), "secret {canary} in the JSON:\n{raw}");
    }

    let root = report["project"]["root"].as_str().unwrap();
    assert!(
        root.starts_with("Z:") && !root.contains('?'),
        "the root is written as users write it, not {root}"
    );
    let key = |s: &Value| {
        [
            "name", "kind", "port", "source", "folder", "start", "entry", "expected",
        ]
        .map(|k| s[k].to_string())
        .join(" ")
    };
    let services = |r: &Value| -> Vec<String> {
        r["project"]["services"]
            .as_array()
            .unwrap()
            .iter()
            .map(key)
            .collect()
    };
    assert_eq!(
        services(&report),
        services(&linux),
        "discovery differs from Linux"
    );
    assert!(services(&report).len() >= 2, "{:#}", report["project"]);

    // Nothing runs: the backend's port is refused on both, with the same
    // verdict and exit code.
    let api = stack.port("API_PORT");
    let down = |r: &Value| {
        findings(r, "PORT001")
            .iter()
            .any(|f| f["evidence"]["port"] == api)
    };
    assert!(down(&linux), "{:#}", linux["findings"]);
    assert!(down(&report), "{:#}", report["findings"]);
    assert_eq!(report["status"], linux["status"]);
    assert_eq!(out.status.code(), Some(linux_code));

    // The human report: ASCII only, no secret, the same exit code.
    let human = doctor_exe(&["--dir", &dir, "--color", "never"]);
    let shown = text(&human.stdout) + &text(&human.stderr);
    assert_ascii("doctor's report", &shown);
    for canary in ["canary-key-5f2a9", "canary-pw-71c4"] {
        assert!(!shown.contains(canary), "secret {canary} shown:\n{shown}");
    }
    assert!(shown.contains(&format!("{api}")), "{shown}");
    assert_eq!(human.status.code(), Some(linux_code));
}

/// Every fixture stack read by both builds: the same service model (names,
/// kinds, ports, sources, folders, start commands, entry modules, package
/// roots, routes), whatever Windows does to paths.
#[test]
#[ignore = "needs Wine and the Windows build: scripts/windows-smoke.sh"]
fn every_fixture_is_discovered_as_on_linux() {
    const FACTS: [&str; 13] = [
        "name",
        "kind",
        "port",
        "source",
        "folder",
        "start",
        "entry",
        "expected",
        "package_root",
        "origin",
        "url",
        "routes",
        "reloads",
    ];
    let model = |report: &Value| -> Vec<String> {
        report["project"]["services"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                FACTS
                    .map(|k| {
                        let v = s[k].to_string();
                        // The start command in each platform's words: the
                        // venv's `Scripts\python` for `bin/python`, the
                        // interpreter named `python` for `python3`.
                        // A batch script that is the service's start path runs
                        // as it is on Windows (`./run.bat`); elsewhere the
                        // command it runs is printed: each is right where it is.
                        let from_batch = s["source"]
                            .as_str()
                            .is_some_and(|src| src.contains(".bat:") || src.contains(".cmd:"));
                        let v = if k == "start" && from_batch {
                            "\"(the batch script's start)\"".to_string()
                        } else if k == "start" {
                            v.replace("\\\\", "/")
                                .replace("Scripts/", "bin/")
                                .replace("\"python3 ", "\"python ")
                        } else {
                            v
                        };
                        format!("{k}={v}")
                    })
                    .join(" ")
            })
            .collect()
    };
    let fixtures = std::fs::read_dir(root().join("fixtures/stacks")).unwrap();
    let mut names: Vec<String> = fixtures
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 8, "{names:?}");
    for name in names {
        let stack = Stack::new(&name);
        let (_, linux) = stack.doctor(&["--only", "user"]);
        let out = doctor_exe(&[
            "--dir",
            &windows_path(stack.path()),
            "--json",
            "--only",
            "user",
        ]);
        let windows = json_of(&out);
        assert!(!model(&linux).is_empty(), "{name}: no services on Linux");
        assert_eq!(
            model(&windows),
            model(&linux),
            "{name}: Windows reads it differently"
        );
    }
}

/// A virtual environment in Windows' layout (`Scripts\python.exe`,
/// `Lib\site-packages`), read from its files as on Linux: complete, the
/// python check is silent; one requirement's `.dist-info` gone, PY002 names
/// it and installs with the venv's own python, a step a line.
#[test]
#[ignore = "needs Wine and the Windows build: scripts/windows-smoke.sh"]
fn a_windows_venv_is_read_from_its_files() {
    let stack = Stack::new("fastapi-fullstack");
    let venv = stack.join("backend/.venv");
    stack.write(
        "backend/.venv/pyvenv.cfg",
        "home = C:\\Python312\nversion = 3.12.1\n",
    );
    stack.write("backend/.venv/Scripts/python.exe", "");
    for dist in ["fastapi-0.115.0", "uvicorn-0.32.0"] {
        std::fs::create_dir_all(venv.join(format!("Lib/site-packages/{dist}.dist-info"))).unwrap();
    }
    let dir = windows_path(stack.path());
    // --no-exec: the stand-in python.exe is not a program, and a complete
    // venv needs none to be judged.
    let args = [
        "--dir",
        dir.as_str(),
        "--json",
        "--only",
        "python",
        "--no-exec",
    ];
    let healthy = json_of(&doctor_exe(&args));
    assert!(
        findings(&healthy, "PY002").is_empty(),
        "{:#}",
        healthy["findings"]
    );
    assert!(
        findings(&healthy, "PY001").is_empty(),
        "{:#}",
        healthy["findings"]
    );

    std::fs::remove_dir(venv.join("Lib/site-packages/uvicorn-0.32.0.dist-info")).unwrap();
    let report = json_of(&doctor_exe(&args));
    let missing = findings(&report, "PY002");
    assert_eq!(missing.len(), 1, "{:#}", report["findings"]);
    assert_eq!(missing[0]["evidence"]["missing"][0]["name"], "uvicorn");
    assert_eq!(
        missing[0]["fix"]["commands"],
        serde_json::json!([
            "cd backend",
            // Only what is missing: the whole file would re-pin a working venv.
            ".venv\\Scripts\\python.exe -m pip install uvicorn"
        ])
    );
}

/// The fix plan as a Windows user types it: every step a line of its own
/// (Windows PowerShell 5.1 rejects `&&`, cmd.exe rejects `;`), Windows'
/// venv layout, and `python`, not `python3`.
#[test]
#[ignore = "needs Wine and the Windows build: scripts/windows-smoke.sh"]
fn fix_plans_are_written_for_windows_shells() {
    let stack = Stack::new("fastapi-fullstack");
    let dir = windows_path(stack.path());
    let out = doctor_exe(&["--dir", &dir, "--fix", "--dry-run", "--color", "never"]);
    let plan = text(&out.stdout);
    assert_ascii("the fix plan", &plan);
    assert!(
        plan.contains("--dry-run: nothing will be changed"),
        "{plan}"
    );
    assert!(!plan.contains("&&"), "no `&&` for PowerShell 5.1:\n{plan}");
    assert!(!plan.contains(".venv/bin"), "{plan}");
    let lines: Vec<&str> = plan.lines().map(str::trim).collect();
    let at = |line: &str| lines.iter().position(|l| l.ends_with(line));
    let cd = at("cd frontend").unwrap_or_else(|| panic!("no `cd frontend` step:\n{plan}"));
    assert!(lines[cd + 1].ends_with("npm install"), "{plan}");
    // Wine has no Python: the environment is made with Windows' names.
    let venv = at("python -m venv .venv").unwrap_or_else(|| panic!("{plan}"));
    assert!(lines[venv - 1].ends_with("cd backend"), "{plan}");
    assert!(
        lines[venv + 1].ends_with(".venv\\Scripts\\python -m pip install -r requirements.txt"),
        "{plan}"
    );
    assert!(plan.contains("no python on PATH"), "{plan}");
}

/// `doctor port N` on a real Windows listener built with mingw.
#[test]
#[ignore = "needs Wine and the Windows build: scripts/windows-smoke.sh"]
fn port_shows_a_windows_listener() {
    let port = free_port();
    let mut procs = Procs::new();
    let (linux_pid, ready) = procs.start_ready(windows("listener.exe").arg(port.to_string()));
    let windows_pid: u32 = ready
        .strip_prefix("ready ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("listener.exe said {ready:?}"));
    wait_listening(&format!("127.0.0.1:{port}"));

    let out = doctor_exe(&["port", &port.to_string(), "--json"]);
    let report = json_of(&out);
    let sockets = report["ports"][0]["sockets"].as_array().unwrap();
    let listen = sockets
        .iter()
        .find(|s| s["state"] == "LISTEN" && s["local"] == format!("127.0.0.1:{port}"))
        .unwrap_or_else(|| panic!("no LISTEN socket on {port}: {sockets:#?}"));

    match listen["owner"].as_str() {
        // Wine 8: the socket lives in wineserver, so GetExtendedTcpTable
        // reports owner pid 0. doctor must then say the port is held and by
        // an owner it cannot name (PORT006), never that it is free.
        Some("hidden") => {
            eprintln!(
                "note: Wine's TCP table names no owner pid (listener is Windows pid \
                 {windows_pid}, Linux pid {linux_pid}); asserting the pid-less report"
            );
            let held = findings(&report, "PORT006");
            assert_eq!(held.len(), 1, "{:#}", report["findings"]);
            assert_eq!(held[0]["evidence"]["port"], port);
            assert!(findings(&report, "PORT001").is_empty());
        }
        // A Wine that names owners: it must be the listener itself.
        Some("visible") => {
            let process = &listen["processes"][0];
            assert_eq!(process["pid"], windows_pid, "{listen:#}");
            assert!(
                process["command"]
                    .as_str()
                    .unwrap_or("")
                    .contains("listener"),
                "{listen:#}"
            );
        }
        other => panic!("owner {other:?} for a live listener: {listen:#}"),
    }
    assert_eq!(
        out.status.code(),
        Some(0),
        "a held port alone is not an error"
    );

    let human = doctor_exe(&["port", &port.to_string()]);
    let shown = text(&human.stdout);
    assert_ascii("doctor port", &shown);
    assert!(shown.contains(&format!("127.0.0.1:{port}")), "{shown}");
    assert!(shown.contains("LISTEN"), "{shown}");
    if listen["owner"] == "hidden" {
        assert!(shown.contains("names no owner pid"), "{shown}");
    }

    procs.end(linux_pid);
    eventually("the listener's port is free again", || {
        std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
    });
    let after = json_of(&doctor_exe(&["port", &port.to_string(), "--json"]));
    assert!(
        after["ports"][0]["sockets"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["state"] != "LISTEN"),
        "{after:#}"
    );
}
