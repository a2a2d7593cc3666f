//! Ports stories of SCENARIOS.md, with real sockets and real processes.

mod common;

use std::net::TcpStream;

use common::*;

/// S2: `.env` names a port where nothing listens.
#[test]
fn s2_connection_refused_names_port_and_env_line() {
    let port = free_port();
    let dir = project(&[(
        "frontend/.env",
        &format!("# api\nVITE_API_URL=http://localhost:{port}\n"),
    )]);
    let (code, report) = doctor_json(dir.path(), &[]);
    assert_eq!(code, 1);
    let f = findings(&report, "PORT001");
    assert_eq!(f.len(), 1, "{report:#}");
    let title = f[0]["title"].as_str().unwrap();
    assert!(
        title.contains(&format!(":{port}")) && title.contains("frontend/.env:2"),
        "{title}"
    );
    assert_eq!(f[0]["evidence"]["port"], port);
    assert_eq!(f[0]["severity"], "error");
    assert_eq!(report["status"], "fail");
    assert_eq!(
        report["project"]["services"][0]["source"],
        "frontend/.env:2"
    );
}

/// S3: an unrelated process holds the backend's port.
#[test]
fn s3_address_in_use_names_the_holder() {
    let port = free_port();
    let dir = project(&[(".env", &format!("API_URL=http://127.0.0.1:{port}\n"))]);
    let elsewhere = tempfile::tempdir().unwrap();
    let mut procs = Procs::new();
    let (pid, _) = procs.python(
        elsewhere.path(),
        LISTEN_ONLY,
        &["127.0.0.1", &port.to_string()],
    );
    let (code, report) = doctor_json(dir.path(), &[]);
    assert_eq!(code, 1);
    let f = findings(&report, "PORT002");
    assert_eq!(f.len(), 1, "{report:#}");
    assert!(f[0]["title"]
        .as_str()
        .unwrap()
        .contains(&format!("pid {pid}")));
    let holder = &f[0]["evidence"]["holders"][0];
    assert_eq!(holder["pid"], pid);
    assert!(
        holder["command"]
            .as_str()
            .unwrap()
            .contains("import socket"),
        "{holder}"
    );
    assert!(holder["user"].is_string());
    let fix = &f[0]["fix"];
    assert_eq!(fix["safety"], "confirm");
    assert!(fix["commands"][0]
        .as_str()
        .unwrap()
        .contains(&pid.to_string()));
    assert!(findings(&report, "PORT001").is_empty());
}

/// The same holder started from inside the project is the project's service.
#[test]
fn a_listener_started_in_the_project_is_not_foreign() {
    let port = free_port();
    let dir = project(&[(".env", &format!("API_URL=http://127.0.0.1:{port}\n"))]);
    let mut procs = Procs::new();
    http_server(&mut procs, dir.path(), "127.0.0.1", port);
    let (code, report) = doctor_json(dir.path(), &[]);
    assert_eq!((code, codes(&report)), (0, vec![]), "{report:#}");
    assert_eq!(report["status"], "ok");
    assert_eq!(report["checks"][0]["outcome"], "ok");
}

/// S11: a server closed after serving connections leaves TIME_WAIT only.
#[test]
fn s11_only_time_wait_is_info_not_error() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let mut procs = Procs::new();
    let pid = procs.spawn(
        std::process::Command::new(python())
            .args([
                "-m",
                "http.server",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .current_dir(dir.path())
            .stderr(std::process::Stdio::null()),
    );
    let addr = format!("127.0.0.1:{port}");
    wait_listening(&addr);
    for _ in 0..3 {
        assert!(http_get(&addr, "/").starts_with("HTTP/1.0 200"));
    }
    procs.end(pid);
    let (code, report) = doctor_json(dir.path(), &["port", &port.to_string()]);
    assert_eq!(code, 0, "{report:#}");
    let f = findings(&report, "PORT004");
    assert_eq!(f.len(), 1, "{report:#}");
    assert_eq!(f[0]["severity"], "info");
    assert!(f[0]["evidence"]["states"]["TIME_WAIT"].as_u64().unwrap() >= 1);
    assert_eq!(report["summary"]["errors"], 0);
    let sockets = report["ports"][0]["sockets"].as_array().unwrap();
    assert!(
        sockets
            .iter()
            .all(|s| s["owner"] == "none" && s["state"] == "TIME_WAIT"),
        "{sockets:?}"
    );
}

/// S12: bound to ::1 only while the URL says 127.0.0.1, and the reverse.
#[test]
fn s12_ipv4_ipv6_split_both_ways() {
    assert!(ipv6_loopback_works(), "this test needs ::1 on loopback");
    let mut procs = Procs::new();
    for (bind, url_host) in [("::1", "127.0.0.1"), ("127.0.0.1", "[::1]")] {
        let port = free_port();
        let dir = project(&[(".env", &format!("VITE_API_URL=http://{url_host}:{port}\n"))]);
        procs.python(dir.path(), LISTEN_ONLY, &[bind, &port.to_string()]);
        let (_, report) = doctor_json(dir.path(), &[]);
        let f = findings(&report, "PORT003");
        assert_eq!(f.len(), 1, "{report:#}");
        let ev = &f[0]["evidence"];
        assert_eq!(ev["listening_on"][0], bind);
        assert_eq!(ev["refused"][0], url_host.trim_matches(['[', ']']));
        let title = f[0]["title"].as_str().unwrap();
        assert!(
            title.contains(bind) && title.contains("every client that uses .env:1 is refused"),
            "{title}"
        );
    }
}

/// PORT005: a server that never closes the connections its clients closed.
#[test]
fn close_wait_pile_names_the_leaking_process() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let script = r#"
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(64)
print("ready", flush=True)
held = []
while True:
    c, _ = s.accept(); held.append(c)
"#;
    let mut procs = Procs::new();
    let (pid, _) = procs.python(dir.path(), script, &[&port.to_string()]);
    for _ in 0..6 {
        drop(TcpStream::connect(("127.0.0.1", port)).unwrap());
    }
    // Readiness: the server has accepted all six once a seventh gets through
    // the queue; poll doctor itself until the sockets show up.
    let mut report = serde_json::Value::Null;
    for _ in 0..50 {
        report = doctor_json(dir.path(), &["port", &port.to_string()]).1;
        if !findings(&report, "PORT005").is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let f = findings(&report, "PORT005");
    assert_eq!(f.len(), 1, "{report:#}");
    assert_eq!(f[0]["evidence"]["process"]["pid"], pid);
    assert!(f[0]["evidence"]["close_wait"].as_u64().unwrap() >= 5);
}

/// PORT007: two unrelated processes listen on one port (SO_REUSEPORT).
#[test]
fn two_unrelated_listeners_on_one_port() {
    let port = free_port().to_string();
    let dir = tempfile::tempdir().unwrap();
    let mut procs = Procs::new();
    let (a, _) = procs.python(dir.path(), LISTEN_ONLY, &["127.0.0.1", &port, "reuseport"]);
    let (b, _) = procs.python(dir.path(), LISTEN_ONLY, &["127.0.0.1", &port, "reuseport"]);
    let (_, report) = doctor_json(dir.path(), &["port", &port]);
    let f = findings(&report, "PORT007");
    assert_eq!(f.len(), 1, "{report:#}");
    let pids: Vec<u64> = f[0]["evidence"]["processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["pid"].as_u64().unwrap())
        .collect();
    assert!(
        pids.contains(&(a as u64)) && pids.contains(&(b as u64)),
        "{pids:?}"
    );
}

/// `doctor port` shows every socket with its owner, and a listener's accept queue.
#[test]
fn port_command_lists_sockets_with_owners_and_queue() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let mut procs = Procs::new();
    let (pid, _) = procs.python(dir.path(), LISTEN_ONLY, &["127.0.0.1", &port.to_string()]);
    let clients: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    let (code, report) = doctor_json(dir.path(), &["port", &port.to_string()]);
    // It never accepts: the processes check says so (PROC002, an error).
    assert_eq!(
        (code, findings(&report, "PROC002").len()),
        (1, 1),
        "{report:#}"
    );
    let sockets = report["ports"][0]["sockets"].as_array().unwrap();
    let listen = sockets
        .iter()
        .find(|s| s["state"] == "LISTEN")
        .expect("a LISTEN socket");
    assert_eq!(listen["processes"][0]["pid"], pid);
    assert_eq!(listen["accept_queue"], 3);
    // The test's own client sockets are listed too, owned by this test process.
    let mine = sockets
        .iter()
        .filter(|s| s["state"] == "ESTABLISHED" && s["processes"][0]["pid"] == std::process::id())
        .count();
    assert_eq!(mine, 3, "{sockets:#?}");
    drop(clients);
    let table = doctor_in(dir.path(), &["port", &port.to_string()]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("LISTEN (queue 3)") && text.contains(&format!("pid {pid}")),
        "{text}"
    );
}

/// `doctor port` groups what is not a listener (issue #10): the listener
/// first, then one row per state and owner with a count; JSON lists at most
/// 100 sockets of a port with the counts of all, `--all` lists every one.
#[test]
fn port_report_groups_sockets_and_caps_the_json() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let mut procs = Procs::new();
    let server = http_server(&mut procs, dir.path(), "127.0.0.1", port);
    let addr = format!("127.0.0.1:{port}");
    for _ in 0..130 {
        http_get(&addr, "/");
    }
    let table = doctor_in(dir.path(), &["port", &port.to_string()]);
    let text = String::from_utf8_lossy(&table.stdout);
    let listen_row = text
        .lines()
        .position(|l| l.contains("LISTEN"))
        .expect("a LISTEN row");
    let tw_row = text
        .lines()
        .position(|l| l.contains("TIME_WAIT ×") || l.contains("TIME_WAIT x"))
        .unwrap_or_else(|| panic!("a grouped TIME_WAIT row:\n{text}"));
    assert!(listen_row < tw_row, "{text}");
    assert!(text.contains(&format!("pid {server}")), "{text}");
    assert!(
        text.lines().filter(|l| l.contains("TIME_WAIT")).count() <= 2,
        "{text}"
    );

    let (_, report) = doctor_json(dir.path(), &["port", &port.to_string()]);
    let view = &report["ports"][0];
    let total = view["total"].as_u64().unwrap();
    assert!(total >= 130, "{view:#}");
    assert!(view["sockets"].as_array().unwrap().len() <= 100);
    assert_eq!(view["sockets"][0]["state"], "LISTEN");
    assert!(view["counts"]["TIME_WAIT"].as_u64().unwrap() >= 129);
    let (_, all) = doctor_json(dir.path(), &["port", &port.to_string(), "--all"]);
    assert_eq!(
        all["ports"][0]["sockets"].as_array().unwrap().len() as u64,
        all["ports"][0]["total"].as_u64().unwrap()
    );
}

/// A known system squatter (issue #12): macOS's AirPlay Receiver
/// (ControlCenter) on Flask's default port 5000 is PORT009 with its own fix,
/// never a process to end. Here a process whose command line runs
/// `ControlCenter` stands in for it.
#[test]
fn airplay_on_flasks_port_is_a_known_squatter() {
    use std::os::unix::process::CommandExt;
    if std::net::TcpListener::bind("127.0.0.1:5000").is_err() {
        eprintln!("port 5000 is in use on this machine: the squatter case cannot be set up");
        return;
    }
    let dir = project(&[
        (".flaskenv", "FLASK_APP=app.py\n"),
        ("app.py", "from flask import Flask\napp = Flask(__name__)\n"),
    ]);
    // The interpreter itself, not a version manager's shim (which would
    // replace argv[0] on its way).
    let real = std::process::Command::new(python())
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .unwrap();
    let real = String::from_utf8_lossy(&real.stdout).trim().to_string();
    let mut procs = Procs::new();
    let pid = procs.spawn(
        std::process::Command::new(real)
            .arg0("ControlCenter")
            .args(["-c", LISTEN_ONLY, "127.0.0.1", "5000"]),
    );
    wait_listening("127.0.0.1:5000");
    let (code, report) = doctor_json(dir.path(), &["--only", "ports"]);
    assert_eq!(code, 1);
    let f = findings(&report, "PORT009");
    assert_eq!(f.len(), 1, "{report:#}");
    assert!(f[0]["title"].as_str().unwrap().contains("AirPlay Receiver"));
    assert_eq!(f[0]["evidence"]["holder"]["pid"], pid);
    assert_eq!(f[0]["fix"]["safety"], "manual");
    assert!(findings(&report, "PORT002").is_empty(), "{report:#}");
}

/// The bind probe (issue #12): nothing listens on an expected privileged
/// port and doctor, run as `nobody`, cannot bind it either: PORT010 with the
/// OS's error is the cause, PORT001 its consequence.
#[test]
fn a_port_that_cannot_be_bound_is_said_with_its_error() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root to run doctor as another user");
        return;
    }
    let port = (81..1024)
        .find(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .expect("a free privileged port");
    let dir = project(&[(".env", &format!("API_URL=http://127.0.0.1:{port}\n"))]);
    let report = doctor_json_as_nobody(dir.path(), &["--only", "ports"]);
    let f = findings(&report, "PORT010");
    assert_eq!(f.len(), 1, "{report:#}");
    assert!(
        f[0]["title"].as_str().unwrap().contains("privileges"),
        "{report:#}"
    );
    let down = findings(&report, "PORT001");
    let cause = down[0]["caused_by"].as_u64().expect("folded") as usize;
    assert_eq!(report["findings"][cause]["code"], "PORT010");
}

/// EADDRINUSE with the holder in the table: a process that bound the
/// expected port and never listens. PORT010 names it and how to end it;
/// PORT001 is its consequence.
#[test]
fn a_port_bound_but_never_listened_on_names_its_holder() {
    let port = free_port();
    let dir = project(&[(".env", &format!("API_URL=http://127.0.0.1:{port}\n"))]);
    let mut procs = Procs::new();
    let (pid, _) = procs.python(
        dir.path(),
        "import socket, sys, time\n\
         s = socket.socket()\n\
         s.bind(('127.0.0.1', int(sys.argv[1])))\n\
         print('ready', flush=True)\n\
         time.sleep(600)",
        &[&port.to_string()],
    );
    let (code, report) = doctor_json(dir.path(), &["--only", "ports"]);
    assert_eq!(code, 1);
    let f = findings(&report, "PORT010");
    assert_eq!(f.len(), 1, "{report:#}");
    let title = f[0]["title"].as_str().unwrap();
    assert!(title.contains(&format!("pid {pid} ")), "{title}");
    assert!(title.contains("does not listen"), "{title}");
    assert!(
        !title.contains('\n'),
        "a script's line breaks stay out of the title"
    );
    assert_eq!(f[0]["fix"]["commands"][0], format!("kill -TERM {pid}"));
    let down = findings(&report, "PORT001");
    let cause = down[0]["caused_by"].as_u64().expect("folded") as usize;
    assert_eq!(report["findings"][cause]["code"], "PORT010");
}

/// doctor in a PID namespace of its own (as in a container that shares the
/// host's network): the listener's socket is in the table, its owner is not
/// among the processes doctor can see. The port is held (PORT006), never
/// free, and nothing is offered to end.
#[test]
fn an_owner_in_another_pid_namespace_is_hidden_not_free() {
    let unshare = std::path::Path::new("/usr/bin/unshare");
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 || !unshare.exists() {
        eprintln!("note: needs root and unshare(1) to run doctor in its own PID namespace");
        return;
    }
    let port = free_port();
    let dir = project(&[(".env", &format!("API_URL=http://127.0.0.1:{port}\n"))]);
    let mut procs = Procs::new();
    http_server(&mut procs, dir.path(), "127.0.0.1", port);
    let out = std::process::Command::new(unshare)
        .args(["--pid", "--fork", "--mount-proc", DOCTOR, "--dir"])
        .arg(dir.path())
        .args(["--json", "--only", "ports"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stderr));
    });
    let hidden = findings(&report, "PORT006");
    assert_eq!(hidden.len(), 1, "{report:#}");
    assert_eq!(hidden[0]["evidence"]["port"], port);
    assert!(findings(&report, "PORT001").is_empty(), "{report:#}");
    assert!(hidden[0]["fix"]["safety"] == "manual", "{report:#}");
}

/// Field ff c0' (round 6): `localhost` resolves to ::1 and 127.0.0.1 (a
/// Debian-style hosts file), the server listens on 127.0.0.1 only. Every
/// client that resolves `localhost` tries the next address when ::1
/// refuses (browsers, curl, Python, Node 20+): the stack works. The split
/// is said, as info, and the stack is silent. In a network namespace of
/// the test's own, with its own hosts file.
#[test]
fn a_split_that_clients_fall_back_from_is_info() {
    let Some(ns) = common::netns::Netns::new("split") else {
        eprintln!("skipped: no network namespaces here (needs root and ip)");
        return;
    };
    ns.hosts("::1 localhost\n127.0.0.1 localhost\n");
    let dir = project(&[(".env", "VITE_API_URL=http://localhost:8000\n")]);
    let mut procs = Procs::new();
    procs.start_ready(
        ns.command(python())
            .args(["-u", "-c", LISTEN_ONLY, "127.0.0.1", "8000"])
            .current_dir(dir.path()),
    );
    let (code, report) = ns.doctor_json(dir.path(), &["--only", "ports"]);
    let split = findings(&report, "PORT003");
    assert_eq!(split.len(), 1, "{report:#}");
    assert_eq!(split[0]["severity"], "info", "{report:#}");
    assert_eq!(split[0]["evidence"]["refused"][0], "::1");
    assert_eq!(code, 0);
}

/// Field round 7 (gd fd P1 0'): the same split with a server that answers
/// HTTP, and every check: the health probe sees ::1 refuse and 127.0.0.1
/// answer (HEALTH005). That is the split PORT003 already says, as info:
/// the run is silent (it was a warning, raised by HEALTH005 folded under
/// PORT003).
#[test]
fn a_split_that_clients_fall_back_from_is_silent_in_a_full_run() {
    let Some(ns) = common::netns::Netns::new("split-http") else {
        eprintln!("skipped: no network namespaces here (needs root and ip)");
        return;
    };
    ns.hosts("::1 localhost\n127.0.0.1 localhost\n");
    let dir = project(&[(".env", "VITE_API_URL=http://localhost:8000\n")]);
    let mut procs = Procs::new();
    procs.spawn(
        ns.command(python())
            .args(["-m", "http.server", "8000", "--bind", "127.0.0.1"])
            .current_dir(dir.path())
            .stderr(std::process::Stdio::null()),
    );
    ns.wait_listening(8000);
    let (code, report) = ns.doctor_json(dir.path(), &[]);
    let loud: Vec<&serde_json::Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] != "info")
        .collect();
    assert!(loud.is_empty(), "{report:#}");
    assert_eq!(code, 0, "{report:#}");
    assert!(!findings(&report, "HEALTH005").is_empty(), "{report:#}");
}
