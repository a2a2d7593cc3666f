//! Zombie and stale listeners (SCENARIOS.md S4–S10, S19) and the fix
//! machinery, with real processes that each test ends by pid.

mod common;

use std::net::TcpStream;
use std::time::{Duration, SystemTime};

use common::*;

/// S4: the backend is stopped with SIGSTOP.
#[test]
fn s4_stopped_backend() {
    let port = free_port();
    let dir = project(&[(".env", &format!("API_URL=http://127.0.0.1:{port}\n"))]);
    let mut procs = Procs::new();
    let pid = http_server(&mut procs, dir.path(), "127.0.0.1", port);
    stop(pid);
    let (code, report) = doctor_json(dir.path(), &[]);
    assert_eq!(code, 1);
    let f = findings(&report, "PROC001");
    assert_eq!(f.len(), 1, "{report:#}");
    assert_eq!(f[0]["evidence"]["process"]["pid"], pid);
    assert_eq!(f[0]["evidence"]["process"]["state"], "stopped");
    assert_eq!(f[0]["fix"]["safety"], "safe");
    // The safe fix lets it run again.
    let (code, report) = doctor_json(dir.path(), &["--fix", "--yes"]);
    assert_eq!(code, 0, "{report:#}");
    assert!(findings(&report, "PROC001").is_empty());
    assert!(is_alive(pid));
}

/// S5: a socket in LISTEN whose owner never accepts, with connections queued.
#[test]
fn s5_listener_that_never_accepts() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let mut procs = Procs::new();
    let (pid, _) = procs.python(dir.path(), LISTEN_ONLY, &["127.0.0.1", &port.to_string()]);
    let _clients: Vec<TcpStream> = (0..4)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    let (code, report) = doctor_json(dir.path(), &["port", &port.to_string()]);
    let f = findings(&report, "PROC002");
    assert_eq!(f.len(), 1, "{report:#}");
    assert_eq!(code, 1);
    assert_eq!(f[0]["evidence"]["accept_queue"]["then"], 4);
    assert_eq!(f[0]["evidence"]["process"]["pid"], pid);
    assert!(f[0]["title"]
        .as_str()
        .unwrap()
        .contains("4 connections wait"));
}

/// S6: a launcher starts the server and is killed with SIGKILL.
#[test]
fn s6_orphaned_server() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let mut procs = Procs::new();
    let server = orphaned_server(&mut procs, dir.path(), port);
    let (_, report) = doctor_json(dir.path(), &["--port", &port.to_string()]);
    let f = findings(&report, "PROC003");
    assert_eq!(f.len(), 1, "{report:#}");
    assert_eq!(f[0]["evidence"]["process"]["pid"], server);
    assert!(f[0]["title"]
        .as_str()
        .unwrap()
        .contains("the process that started it is gone"));
    assert!(f[0]["evidence"]["reparented_to"]
        .as_str()
        .unwrap()
        .starts_with("pid "));
}

/// A server whose parent is alive is not an orphan.
#[test]
fn a_server_with_its_parent_is_not_an_orphan() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let mut procs = Procs::new();
    procs.python(dir.path(), LISTEN_ONLY, &["127.0.0.1", &port.to_string()]);
    let (code, report) = doctor_json(dir.path(), &["--port", &port.to_string()]);
    assert_eq!((code, codes(&report)), (0, vec![]), "{report:#}");
}

/// S7: the server started, then a source file of the project changed.
#[test]
fn s7_stale_code() {
    let port = free_port();
    let dir = project(&[
        ("backend/app.py", "print('v1')\n"),
        (".env", &format!("API_URL=http://127.0.0.1:{port}\n")),
    ]);
    let mut procs = Procs::new();
    let (pid, _) = procs.python(
        &dir.path().join("backend"),
        LISTEN_ONLY,
        &["127.0.0.1", &port.to_string()],
    );
    let (_, report) = doctor_json(dir.path(), &[]);
    assert!(findings(&report, "PROC004").is_empty(), "{report:#}");
    // The edit lands after the start: its mtime is set ahead, no sleeping.
    let file = std::fs::File::options()
        .write(true)
        .open(dir.path().join("backend/app.py"))
        .unwrap();
    file.set_modified(SystemTime::now() + Duration::from_secs(30))
        .unwrap();
    let (_, report) = doctor_json(dir.path(), &[]);
    let f = findings(&report, "PROC004");
    assert_eq!(f.len(), 1, "{report:#}");
    assert_eq!(f[0]["evidence"]["process"]["pid"], pid);
    assert_eq!(f[0]["evidence"]["newest_source"]["file"], "backend/app.py");
    assert!(f[0]["evidence"]["process_started"]
        .as_str()
        .unwrap()
        .ends_with("UTC"));
    let title = f[0]["title"].as_str().unwrap();
    assert!(
        title.contains("serves old code") && title.contains("backend/app.py"),
        "{title}"
    );
}

/// S8: the same app on two ports, `.env` pointing at one.
#[test]
fn s8_two_backends() {
    let (a, b) = (free_port(), free_port());
    let dir = project(&[
        ("app.py", LISTEN_ONLY),
        (".env", &format!("VITE_API_URL=http://127.0.0.1:{a}\n")),
    ]);
    let mut procs = Procs::new();
    let mut start = |port: u16| {
        procs.spawn(
            std::process::Command::new(python())
                .args(["-u", "app.py", "127.0.0.1", &port.to_string()])
                .current_dir(dir.path()),
        )
    };
    let (pa, pb) = (start(a), start(b));
    wait_listening(&format!("127.0.0.1:{a}"));
    wait_listening(&format!("127.0.0.1:{b}"));
    let (_, report) = doctor_json(dir.path(), &[]);
    let f = findings(&report, "PROC005");
    assert_eq!(f.len(), 1, "{report:#}");
    let copies = f[0]["evidence"]["copies"].as_array().unwrap();
    let pids: Vec<u64> = copies.iter().map(|c| c["pid"].as_u64().unwrap()).collect();
    assert_eq!(pids, [pa as u64, pb as u64]);
    assert_eq!(copies[1]["ports"][0], b);
    assert_eq!(copies[1]["expected"], false);
    // The fix names the copy nobody points at; neither is stale, so ending
    // it is the user's call (manual), never --fix --yes's.
    assert!(f[0]["fix"]["commands"][0]
        .as_str()
        .unwrap()
        .contains(&pb.to_string()));
    assert_eq!(f[0]["fix"]["safety"], "manual");
}

fn dead_pid() -> u32 {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

/// S9: `.pids/backend.pid` names a pid that is gone; `--fix --yes` removes it.
#[test]
fn s9_stale_pid_file_and_its_safe_fix() {
    let pid = dead_pid();
    let dir = project(&[
        (".pids/backend.pid", &format!("{pid}\n")),
        (".pids/garbage.pid", "not a pid\u{0}\u{7}"),
    ]);
    let (code, report) = doctor_json(dir.path(), &[]);
    assert_eq!(code, 0, "warnings only");
    let f = findings(&report, "PROC006");
    assert_eq!(f.len(), 2, "{report:#}");
    assert!(f.iter().any(|f| f["title"]
        .as_str()
        .unwrap()
        .contains(&format!("names pid {pid}, which is gone"))));
    assert!(f.iter().all(|f| f["fix"]["safety"] == "safe"));

    // --dry-run and a run without a terminal change nothing.
    for args in [vec!["--fix", "--dry-run"], vec!["--fix"]] {
        let out = doctor_in(dir.path(), &args);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("mv .pids/backend.pid"), "{text}");
        assert!(
            dir.path().join(".pids/backend.pid").exists(),
            "{args:?} changed a file"
        );
    }
    let plan = String::from_utf8_lossy(&doctor_in(dir.path(), &["--fix"]).stdout).to_string();
    assert!(
        plan.contains("no terminal") && plan.contains("doctor --fix --yes"),
        "{plan}"
    );

    let out = doctor_in(dir.path(), &["--fix", "--yes"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("re-check: PROC006 is gone"), "{text}");
    assert!(!dir.path().join(".pids/backend.pid").exists());
    assert!(
        dir.path()
            .join(".doctor/backups/.pids/backend.pid")
            .exists(),
        "a backup is kept"
    );
    let (_, report) = doctor_json(dir.path(), &[]);
    assert!(findings(&report, "PROC006").is_empty(), "{report:#}");
}

/// S10: `uvicorn --reload` from a venv; its worker is killed.
#[test]
fn s10_reloader_with_dead_worker() {
    let venv = venv();
    let port = free_port();
    let dir = project(&[
        ("main.py", "from fastapi import FastAPI\napp = FastAPI()\n\n@app.get('/health')\ndef health():\n    return {'status': 'ok'}\n"),
        (".env", &format!("VITE_API_URL=http://127.0.0.1:{port}\n")),
    ]);
    // The project's own environment, as a user would have it.
    std::os::unix::fs::symlink(&venv, dir.path().join(".venv")).unwrap();
    let mut procs = Procs::new();
    let supervisor = procs.spawn(
        std::process::Command::new(venv.join("bin/uvicorn"))
            .args([
                "main:app",
                "--reload",
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
            ])
            .current_dir(dir.path())
            .stderr(std::process::Stdio::null()),
    );
    let addr = format!("127.0.0.1:{port}");
    wait_listening(&addr);
    eventually("the worker answers /health", || {
        TcpStream::connect(&addr).is_ok() && http_get(&addr, "/health").contains("\"ok\"")
    });
    let (code, report) = doctor_json(dir.path(), &[]);
    assert_eq!(
        (code, findings(&report, "PROC007").len()),
        (0, 0),
        "{report:#}"
    );

    let workers = children(supervisor);
    let worker = *workers
        .iter()
        .find(|p| {
            std::fs::read_to_string(format!("/proc/{p}/cmdline"))
                .unwrap_or_default()
                .contains("spawn")
        })
        .unwrap_or_else(|| panic!("no worker among {workers:?}"));
    procs.adopt(worker);
    signal(worker, libc::SIGKILL);
    eventually("the worker is dead", || !is_alive(worker));
    let (code, report) = doctor_json(dir.path(), &[]);
    let f = findings(&report, "PROC007");
    assert_eq!(f.len(), 1, "{report:#}");
    assert_eq!(code, 1);
    assert_eq!(f[0]["evidence"]["reloader"]["pid"], supervisor);
    assert!(
        f[0]["title"]
            .as_str()
            .unwrap()
            .contains("no worker serving"),
        "{}",
        f[0]["title"]
    );
}

/// S19: `--fix --yes` ends exactly the orphan on the project's port
/// (SIGTERM first); a bystander on a port named with `--port` (to be
/// checked, never ended) survives; the re-check passes.
#[test]
fn s19_guided_repair_ends_exactly_that_process() {
    let (port, other) = (free_port(), free_port());
    let dir = project(&[(".env", &format!("API_URL=http://127.0.0.1:{port}\n"))]);
    let mut procs = Procs::new();
    let orphan = orphaned_server(&mut procs, dir.path(), port);
    let (bystander, _) = procs.python(dir.path(), LISTEN_ONLY, &["127.0.0.1", &other.to_string()]);
    let out = doctor_in(
        dir.path(),
        &["--port", &other.to_string(), "--fix", "--yes"],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("pid {orphan} (")) && text.contains("ended after SIGTERM"),
        "{text}"
    );
    assert!(text.contains("re-check: PROC003 is gone"), "{text}");
    // The port is free for the project's server: what is left is to start it.
    let after = text.split("After the fixes:").nth(1).unwrap_or_default();
    assert!(
        after.contains("PORT001") && !after.contains("PROC003"),
        "{text}"
    );
    eventually("the orphan is gone", || !is_alive(orphan));
    assert!(is_alive(bystander), "the bystander must survive");
}

/// A process that ignores SIGTERM is ended by SIGKILL after the grace period.
#[test]
fn sigterm_ignored_then_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let mut procs = Procs::new();
    let script = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('ready', flush=True)\nwhile True: time.sleep(1)\n";
    let (pid, _) = procs.python(dir.path(), script, &[]);
    let info = doctor::platform::process_info(pid).unwrap();
    let limits = doctor::fix::Limits {
        grace: Duration::from_millis(300),
        force: false,
    };
    let lines = doctor::fix::terminate(pid, info.start_time, &info.command(), limits).unwrap();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("ignored SIGTERM") && l.contains("SIGKILL")),
        "{lines:?}"
    );
    eventually("the process is gone", || !is_alive(pid));
}

/// The pid-reuse guard: a pid whose start time changed is refused, untouched.
#[test]
fn pid_reuse_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut procs = Procs::new();
    let (pid, _) = procs.python(
        dir.path(),
        "print('ready', flush=True)\nimport time\ntime.sleep(600)\n",
        &[],
    );
    let info = doctor::platform::process_info(pid).unwrap();
    let limits = doctor::fix::Limits {
        grace: Duration::from_millis(300),
        force: false,
    };
    let err =
        doctor::fix::terminate(pid, info.start_time - 100, &info.command(), limits).unwrap_err();
    assert!(err.contains("refused") && err.contains("reused"), "{err}");
    let err =
        doctor::fix::terminate(pid, info.start_time, "some other command", limits).unwrap_err();
    assert!(err.contains("refused"), "{err}");
    assert!(is_alive(pid));
    // Never doctor itself (here: the test process) or pid 1.
    let me = doctor::platform::process_info(std::process::id()).unwrap();
    assert!(
        doctor::fix::terminate(me.pid, me.start_time, &me.command(), limits)
            .unwrap_err()
            .contains("refused")
    );
    if let Some(init) = doctor::platform::process_info(1) {
        assert!(
            doctor::fix::terminate(1, init.start_time, &init.command(), limits)
                .unwrap_err()
                .contains("refused")
        );
    }
    // A pid that vanished is "already gone", not an error.
    let gone = dead_pid();
    let lines = doctor::fix::terminate(gone, 0, "x", limits).unwrap();
    assert!(lines[0].contains("already gone"));
}

/// PROC002's other form: the listener's main thread exited (a defunct
/// leader) while another thread still holds the socket. `ss -p` shows no
/// owner; doctor finds it under /proc/PID/task/*/fd.
#[test]
fn defunct_leader_still_holding_the_socket() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let script = "import ctypes, socket, sys, threading, time\ns = socket.socket()\ns.bind(('127.0.0.1', int(sys.argv[1])))\ns.listen(8)\nthreading.Thread(target=lambda: time.sleep(3600)).start()\nprint('ready', flush=True)\nctypes.CDLL(None).pthread_exit(None)\n";
    let mut procs = Procs::new();
    let (pid, _) = procs.python(dir.path(), script, &[&port.to_string()]);
    eventually("the leader is defunct", || !is_alive(pid));
    let (code, report) = doctor_json(dir.path(), &["port", &port.to_string()]);
    assert_eq!(code, 1);
    let f = findings(&report, "PROC002");
    assert_eq!(f.len(), 1, "{report:#}");
    assert!(f[0]["title"]
        .as_str()
        .unwrap()
        .contains(&format!("defunct pid {pid}")));
    assert_eq!(f[0]["evidence"]["seen_via"], "/proc/PID/task/*/fd");
}

/// Another user's listener: doctor (run as `nobody`) cannot see its owner,
/// says so (PORT006) and never calls the port free. (Refusing to end another
/// user's process is unit-tested in `fix::tests`: as non-root, doctor never
/// sees such an owner on Linux, so no fix targets it.)
#[test]
fn another_users_listener_is_hidden_not_free() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root to run doctor as another user");
        return;
    }
    let port = free_port();
    let dir = project(&[(".env", &format!("API_URL=http://127.0.0.1:{port}\n"))]);
    let mut procs = Procs::new();
    let (pid, _) = procs.python(dir.path(), LISTEN_ONLY, &["127.0.0.1", &port.to_string()]);
    let report = doctor_json_as_nobody(dir.path(), &["--only", "ports"]);
    let f = findings(&report, "PORT006");
    assert_eq!(f.len(), 1, "{report:#}");
    assert!(f[0]["title"]
        .as_str()
        .unwrap()
        .contains("the port is not free"));
    assert_eq!(f[0]["evidence"]["uids"][0], 0);
    assert!(
        findings(&report, "PORT001").is_empty(),
        "never 'nothing listens': {report:#}"
    );
    assert!(is_alive(pid));
}
