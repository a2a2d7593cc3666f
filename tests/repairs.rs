//! One true story and plans that repair (issue #17), on real frameworks:
//! the root cause comes first with what it explains folded under it, and
//! `--fix --yes` leaves the stack answering, never worse.

mod common;

use std::process::{Command, Stdio};

use common::stack::*;
use common::*;
use serde_json::Value;

/// The first cause of the report (no `caused_by`), and what it explains.
fn first_cause(report: &Value) -> (&Value, Vec<&Value>) {
    let all = report["findings"].as_array().unwrap();
    let first = all
        .iter()
        .find(|f| f["caused_by"].is_null())
        .unwrap_or_else(|| panic!("no cause: {report:#}"));
    let index = all.iter().position(|f| std::ptr::eq(f, first)).unwrap();
    let folded = all
        .iter()
        .filter(|f| f["caused_by"].as_u64() == Some(index as u64))
        .collect();
    (first, folded)
}

fn codes_of(fs: &[&Value]) -> Vec<String> {
    fs.iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect()
}

/// The uvicorn-procfile stack with the test venv as `backend/.venv` and vite.
fn stack(procs: &mut Procs) -> Stack {
    let stack = Stack::new("uvicorn-procfile");
    stack.link_venv("backend/.venv");
    start_vite(procs, &stack, "frontend");
    stack
}

fn uvicorn_args(port: u16, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = ["main:app", "--host", "127.0.0.1", "--port"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.push(port.to_string());
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

/// Poll until `GET path` on 127.0.0.1:port has `needle` in its answer.
fn answers(port: u16, path: &str, needle: &str) {
    let addr = format!("127.0.0.1:{port}");
    eventually(&format!("{addr}{path} answers {needle}"), || {
        std::net::TcpStream::connect(&addr).is_ok() && http_get(&addr, path).contains(needle)
    });
}

/// A launcher that starts the command in its argv in `backend/` with no
/// pipe to anyone (its output to /dev/null), prints the child's pid and
/// waits: SIGKILL of the launcher orphans the server.
const LAUNCHER: &str = r#"
import os, subprocess, sys, time
os.setsid()
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
print(child.pid, flush=True)
time.sleep(3600)
"#;

/// Field ga x2 (round 10, harmful in effect): an orphaned uvicorn worker
/// (its reloader killed) serving old code, the project's start command
/// `uv run uvicorn …` and no `uv` on the PATH
/// doctor runs with. `--fix --yes` ended the answering orphan, then could
/// not start the service: nothing listened on the port. The orphan is left
/// running, and the report says why (real uvicorn).
#[test]
fn a_stale_orphan_whose_replacement_cannot_run_is_left_running() {
    let mut procs = Procs::new();
    let stack = stack(&mut procs);
    let api = stack.port("API_PORT");
    stack.write(
        "backend/Procfile",
        &format!("web: uv run uvicorn main:app --host 127.0.0.1 --port {api}\n"),
    );
    // Through the project's venv, as the field's `backend/.venv` ran it:
    // the worker's command line starts with that interpreter.
    let python = stack.join("backend/.venv/bin/python");
    let mut launcher_args = vec![python.display().to_string(), "-m".into(), "uvicorn".into()];
    launcher_args.extend(uvicorn_args(api, &["--reload"]));
    let args: Vec<&str> = launcher_args.iter().map(String::as_str).collect();
    let (launcher, line) = procs.python(&stack.join("backend"), LAUNCHER, &args);
    let reloader: u32 = line.parse().unwrap();
    procs.adopt(reloader);
    answers(api, "/health", "ok");
    // The reloader killed: its worker (`spawn_main`) serves on, orphaned.
    let orphan = listener_pids(&[api])
        .into_iter()
        .find(|p| *p != reloader)
        .expect("the worker");
    procs.adopt(orphan);
    signal(reloader, libc::SIGKILL);
    procs.end_alone(launcher);
    answers(api, "/health", "ok");
    until_an_edit_is_newer_than(orphan);
    let main = std::fs::read_to_string(stack.join("backend/main.py")).unwrap();
    stack.write("backend/main.py", &format!("{main}\n# edited\n"));
    // No `uv` anywhere on the PATH doctor is given.
    let out = Command::new(DOCTOR)
        .arg("--dir")
        .arg(stack.path())
        .args(["--fix", "--yes"])
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(is_alive(orphan), "the answering orphan was ended:\n{text}");
    assert!(text.contains("uv is not on the PATH"), "{text}");
    answers(api, "/health", "ok");
}

/// S40: an orphaned backend (its launcher killed) serving old code after an
/// edit, answering. The cause is that stale orphan; `--fix --yes` ends it
/// and then runs the project's own start command (the Procfile line, with
/// the venv's uvicorn), detached: the stack answers with the new code.
#[test]
fn stale_orphan_is_ended_and_the_backend_started_again() {
    let mut procs = Procs::new();
    let stack = stack(&mut procs);
    let api = stack.port("API_PORT");
    let uvicorn = venv().join("bin/uvicorn");
    let mut launcher_args = vec![uvicorn.display().to_string()];
    launcher_args.extend(uvicorn_args(api, &[]));
    let args: Vec<&str> = launcher_args.iter().map(String::as_str).collect();
    let (launcher, line) = procs.python(&stack.join("backend"), LAUNCHER, &args);
    let orphan: u32 = line.parse().unwrap();
    procs.adopt(orphan);
    procs.end_alone(launcher);
    answers(api, "/health", "ok");

    // An edit the orphan will never serve.
    until_an_edit_is_newer_than(orphan);
    let main = std::fs::read_to_string(stack.join("backend/main.py")).unwrap();
    stack.write(
        "backend/main.py",
        &format!("{main}\n\n@app.get(\"/v2\")\ndef v2():\n    return {{\"v\": 2}}\n"),
    );
    // Warnings (the stack answers, with old code): exit 0, status warn.
    let (_, report) = stack.doctor(&[]);
    assert_eq!(report["status"], "warn", "{report:#}");
    let (first, _) = first_cause(&report);
    assert!(
        ["PROC003", "PROC004"].contains(&first["code"].as_str().unwrap()),
        "{report:#}"
    );
    assert_eq!(first["fix"]["safety"], "confirm", "{first:#}");
    // The plan shown ahead says what follows the kill: the start command.
    let dry = doctor_in(stack.path(), &["--fix", "--dry-run"]);
    let dry = String::from_utf8_lossy(&dry.stdout).to_string();
    assert!(
        dry.contains("doctor offers to start backend")
            && dry.contains(".venv/bin/uvicorn main:app"),
        "{dry}"
    );

    let out = doctor_in(stack.path(), &["--fix", "--yes"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let started = adopt_listeners(&mut procs, api);
    assert!(!is_alive(orphan), "the stale orphan lives on:\n{text}");
    assert!(
        !started.is_empty() && !started.contains(&orphan),
        "nothing started:\n{text}"
    );
    answers(api, "/v2", "\"v\":2");
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains(".venv/bin/uvicorn main:app"),
        "the start command runs the venv's uvicorn:\n{text}"
    );
    assert!(stack.join(".doctor/logs/backend.log").exists(), "{text}");
}

/// S2 with a plan: the backend is not started. PORT001's fix is the
/// project's start command, run detached with `--fix --yes`.
#[test]
fn backend_not_started_is_started_by_the_plan() {
    let mut procs = Procs::new();
    let stack = stack(&mut procs);
    let api = stack.port("API_PORT");
    let (code, report) = stack.doctor(&[]);
    assert_eq!(code, 1);
    let (first, _) = first_cause(&report);
    assert_eq!(first["code"], "PORT001", "{report:#}");
    assert_eq!(
        first["fix"]["commands"][0],
        format!("cd backend && .venv/bin/uvicorn main:app --host 127.0.0.1 --port {api}")
    );
    let out = doctor_in(stack.path(), &["--fix", "--yes"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let started = adopt_listeners(&mut procs, api);
    assert!(!started.is_empty(), "{text}");
    answers(api, "/health", "ok");
    assert_eq!(out.status.code(), Some(0), "{text}");
    // Detached: its own session, not doctor's.
    let sid = |pid: u32| {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                s.rsplit_once(')')
                    .and_then(|(_, r)| r.split_whitespace().nth(3).map(String::from))
            })
    };
    assert_ne!(sid(started[0]), sid(std::process::id()), "{text}");
}

/// S38: the backend bound to `::1` only while the frontend's env says
/// 127.0.0.1: the address split is the root (an error: every client of
/// that URL is refused), the refusal folded under it.
#[test]
fn address_split_comes_first() {
    if !ipv6_loopback_works() {
        eprintln!("no IPv6 loopback here: skipped");
        return;
    }
    let mut procs = Procs::new();
    let stack = stack(&mut procs);
    let api = stack.port("API_PORT");
    let pid = procs.spawn(
        Command::new(venv().join("bin/uvicorn"))
            .args(["main:app", "--host", "::1", "--port", &api.to_string()])
            .current_dir(stack.join("backend"))
            .stderr(Stdio::null()),
    );
    wait_listening(&format!("[::1]:{api}"));
    let (code, report) = stack.doctor(&[]);
    assert_eq!(code, 1);
    let (first, folded) = first_cause(&report);
    assert_eq!(first["code"], "PORT003", "{report:#}");
    assert_eq!(first["severity"], "error", "{first:#}");
    assert!(
        codes_of(&folded).contains(&"HEALTH001".to_string()),
        "{report:#}"
    );
    let steps = first["fix"]["commands"].to_string();
    assert!(!steps.contains("0.0.0.0"), "{steps}");
    assert!(is_alive(pid));
}

fn reloading_backend(procs: &mut Procs, stack: &Stack) -> u32 {
    let api = stack.port("API_PORT");
    start_venv(
        procs,
        &stack.join("backend"),
        "uvicorn",
        &uvicorn_args(api, &["--reload"])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        api,
        "/health",
    )
}

fn worker_of(reloader: u32) -> u32 {
    let mut worker = None;
    eventually("uvicorn's reloader has its worker", || {
        worker = children(reloader).into_iter().find(|c| {
            std::fs::read_to_string(format!("/proc/{c}/cmdline"))
                .is_ok_and(|c| c.contains("spawn_main"))
        });
        worker.is_some()
    });
    worker.unwrap()
}

/// S39: `uvicorn --reload` running, then an edit that breaks the import:
/// the reloader holds the port with no worker. The cause is the import
/// (module and file:line, with a fix); the reloader is not offered to be
/// ended and `--fix --yes` leaves it running; saving the repair brings the
/// worker back.
#[test]
fn worker_dead_at_import_is_the_code_not_the_reloader() {
    let mut procs = Procs::new();
    let stack = stack(&mut procs);
    let api = stack.port("API_PORT");
    let reloader = reloading_backend(&mut procs, &stack);
    let worker = worker_of(reloader);
    let main = std::fs::read_to_string(stack.join("backend/main.py")).unwrap();
    let broken = format!("import notinstalledpkg\n{main}");
    // An edit made before the reloader's watcher has begun is never seen
    // (the worker listens first): the edit is written again each second
    // until the reloader acts on it.
    let mut written = std::time::Instant::now() - std::time::Duration::from_secs(1);
    eventually("the worker dies at import", || {
        if written.elapsed() >= std::time::Duration::from_secs(1) {
            stack.write("backend/main.py", &broken);
            written = std::time::Instant::now();
        }
        !is_alive(worker)
    });

    let (code, report) = stack.doctor(&["--timeout", "1s"]);
    assert_eq!(code, 1);
    let (first, _) = first_cause(&report);
    assert_eq!(first["code"], "PY003", "{report:#}");
    assert!(
        first["title"]
            .as_str()
            .unwrap()
            .contains("No module named 'notinstalledpkg' at backend/main.py:1"),
        "{first:#}"
    );
    assert!(first["fix"]["commands"][0].as_str().is_some(), "{first:#}");
    for f in report["findings"].as_array().unwrap() {
        if matches!(f["code"].as_str(), Some("PROC007" | "PROC002")) {
            assert!(f["fix"].is_null(), "offers to end the reloader: {f:#}");
        }
    }
    let out = doctor_in(stack.path(), &["--fix", "--yes", "--timeout", "1s"]);
    assert!(
        is_alive(reloader),
        "--fix --yes ended the reloader:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    stack.write("backend/main.py", &main);
    answers(api, "/health", "ok");
}

/// PROC001 explains PROC007: the worker stopped (SIGSTOP), the reloader
/// alive. The cause is the stopped worker; `--fix --yes` resumes it and
/// ends nothing.
#[test]
fn stopped_worker_is_resumed_not_its_reloader_ended() {
    let mut procs = Procs::new();
    let stack = stack(&mut procs);
    let api = stack.port("API_PORT");
    let reloader = reloading_backend(&mut procs, &stack);
    let worker = worker_of(reloader);
    stop(worker);
    let (code, report) = stack.doctor(&["--timeout", "1s"]);
    assert_eq!(code, 1);
    let (first, _) = first_cause(&report);
    assert_eq!(first["code"], "PROC001", "{report:#}");
    let out = doctor_in(stack.path(), &["--fix", "--yes", "--timeout", "1s"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(is_alive(reloader) && is_alive(worker), "{text}");
    answers(api, "/health", "ok");
}

/// A server without a reloader serving old code (PROC004): `--fix --yes`
/// restarts it as the user started it, the same command line in the same
/// folder with the same environment, and it serves the new code.
#[test]
fn stale_server_is_restarted_as_it_was_started() {
    let mut procs = Procs::new();
    let stack = stack(&mut procs);
    let api = stack.port("API_PORT");
    let old = procs.spawn(
        Command::new(venv().join("bin/uvicorn"))
            .args(uvicorn_args(api, &[]))
            .current_dir(stack.join("backend"))
            .env("SHOP_GREETING", "exported-by-the-user")
            .stderr(Stdio::null()),
    );
    answers(api, "/health", "ok");
    until_an_edit_is_newer_than(old);
    let main = std::fs::read_to_string(stack.join("backend/main.py")).unwrap();
    stack.write(
        "backend/main.py",
        &format!("{main}\n\n@app.get(\"/v2\")\ndef v2():\n    return {{\"v\": 2}}\n"),
    );
    let (_, report) = stack.doctor(&[]);
    let (first, _) = first_cause(&report);
    assert_eq!(first["code"], "PROC004", "{report:#}");
    let out = doctor_in(stack.path(), &["--fix", "--yes"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let now = adopt_listeners(&mut procs, api);
    assert!(!is_alive(old), "{text}");
    assert_eq!(now.len(), 1, "{text}");
    answers(api, "/v2", "\"v\":2");
    // The same command line as the process it replaces (as /proc shows
    // it: the interpreter, then the script its shebang names).
    let cmdline = |pid: u32| {
        String::from_utf8_lossy(&std::fs::read(format!("/proc/{pid}/cmdline")).unwrap())
            .replace('\0', " ")
    };
    assert!(
        cmdline(now[0]).contains(&format!(
            "bin/uvicorn main:app --host 127.0.0.1 --port {api}"
        )),
        "{}\n{text}",
        cmdline(now[0])
    );
    let environ = std::fs::read(format!("/proc/{}/environ", now[0])).unwrap();
    assert!(
        String::from_utf8_lossy(&environ).contains("SHOP_GREETING=exported-by-the-user"),
        "the restart lost the environment the user started it with:\n{text}"
    );
}

/// Field (round 2, harmful): a root `.env` rewritten while `uvicorn
/// --reload` runs from `backend/`, whose settings read `backend/.env` only.
/// No PROC004 on it, and `--fix --yes` ends nothing. Its own `.env` changed
/// is PROC004 (read once at start; the reloader watches only .py files).
#[test]
fn a_root_env_the_backend_does_not_read_is_not_stale() {
    let mut procs = Procs::new();
    let stack = Stack::new("vite-settings");
    stack.link_venv("backend/.venv");
    let api = stack.port("API_PORT");
    let reloader = start_venv(
        &mut procs,
        &stack.join("backend"),
        "uvicorn",
        &uvicorn_args(api, &["--reload"])
            .iter()
            .map(|a| {
                if a == "main:app" {
                    "app.main:app"
                } else {
                    a.as_str()
                }
            })
            .collect::<Vec<_>>(),
        api,
        "/api/health",
    );
    let vite = start_vite(&mut procs, &stack, "frontend");
    until_an_edit_is_newer_than(vite);
    until_an_edit_is_newer_than(reloader);
    stack.write(".env", "COMPOSE_PROJECT_NAME=shop\n");
    let stale_on_api = |report: &Value| {
        findings(report, "PROC004")
            .into_iter()
            .filter(|f| f["evidence"]["port"] == api)
            .count()
    };
    let (_, report) = stack.doctor(&[]);
    assert_eq!(stale_on_api(&report), 0, "{report:#}");
    doctor_in(stack.path(), &["--fix", "--yes"]);
    assert!(is_alive(reloader));

    stack.write("backend/.env", "APP_NAME=shop2\n");
    let (_, report) = stack.doctor(&[]);
    assert_eq!(stale_on_api(&report), 1, "{report:#}");
}

/// Field (fc round 4, harmful): Django `runserver --noreload 0.0.0.0:P`
/// started from a shell that exported the settings' env (settings read
/// `os.environ[...]` only), then a view edited: PROC004. `--fix --yes`
/// restarts it with its own argv, folder and environment (the Procfile's
/// `runserver` without the env never listens), and it serves the new code.
#[test]
fn django_noreload_restarted_with_its_argv_and_environment() {
    django_noreload_restarted(false);
}

/// Field round 7 (gc P2 c6, harmful): the same server started by a launcher
/// script that detached it and exited (`setsid nohup … &`): its parent is
/// pid 1. Its argv, folder and environment are still what it runs with; the
/// restart keeps them (it had fallen back to the Procfile's bare command,
/// which never listened, and left the port refused).
#[test]
fn django_noreload_whose_launcher_exited_restarted_with_its_argv() {
    django_noreload_restarted(true);
}

fn django_noreload_restarted(detached: bool) {
    let mut procs = Procs::new();
    let stack = Stack::new("django-runserver");
    stack.link_venv(".venv");
    let settings = std::fs::read_to_string(stack.join("mysite/settings.py")).unwrap();
    stack.write(
        "mysite/settings.py",
        &format!(
            "import os\n{}",
            settings.replace(
                "SECRET_KEY = \"dev-only\"",
                "SECRET_KEY = os.environ[\"SHOP_SECRET_KEY\"]"
            )
        ),
    );
    let port = stack.port("API_PORT");
    let python = venv().join("bin/python");
    let argv = [
        "manage.py".to_string(),
        "runserver".into(),
        "--noreload".into(),
        format!("127.0.0.1:{port}"),
    ];
    let old = if detached {
        // The launcher detaches the server (a session of its own, as
        // `setsid nohup … &` gives) and exits at once.
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "setsid {} {} >/dev/null 2>&1 & echo $!",
                python.display(),
                argv.join(" ")
            ))
            .current_dir(stack.path())
            .env("SHOP_SECRET_KEY", "exported-by-the-user")
            .output()
            .unwrap();
        let pid: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        procs.adopt(pid);
        pid
    } else {
        procs.spawn(
            Command::new(&python)
                .args(&argv)
                .current_dir(stack.path())
                .env("SHOP_SECRET_KEY", "exported-by-the-user")
                .stderr(Stdio::null()),
        )
    };
    answers(port, "/api/health/", "ok");
    until_an_edit_is_newer_than(old);
    let urls = std::fs::read_to_string(stack.join("mysite/urls.py")).unwrap();
    stack.write(
        "mysite/urls.py",
        &urls
            .replace(
                "urlpatterns = [",
                "def v2(request):\n    return JsonResponse({\"v\": 2})\n\n\nurlpatterns = [\n    path(\"api/v2/\", v2),",
            ),
    );
    let (_, report) = stack.doctor(&[]);
    let (first, _) = first_cause(&report);
    assert_eq!(first["code"], "PROC004", "{report:#}");
    let dry = doctor_in(stack.path(), &["--fix", "--dry-run"]);
    let dry = String::from_utf8_lossy(&dry.stdout).to_string();
    assert!(
        dry.contains("--noreload"),
        "the plan shows the restart's command:\n{dry}"
    );
    let out = doctor_in(stack.path(), &["--fix", "--yes"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let now = adopt_listeners(&mut procs, port);
    assert!(!is_alive(old), "{text}");
    assert_eq!(now.len(), 1, "{text}");
    answers(port, "/api/v2/", "\"v\": 2");
}

/// Field (fc round 4, harmful): the user's nodemon crashed at start on
/// EADDRINUSE (an old server held the port) and waits for a file change.
/// `--fix --yes` ends the old holder, then makes the waiting nodemon run
/// the app again (its entry touched: the modification time, not the
/// content) instead of leaving the port free and the API down, and never
/// starts a second copy beside the user's nodemon.
#[test]
fn waiting_nodemon_runs_the_app_again_once_its_port_is_free() {
    let mut procs = Procs::new();
    let stack = Stack::new("next-express");
    std::fs::remove_dir_all(stack.join("client")).unwrap();
    std::fs::remove_file(stack.join("package.json")).unwrap();
    let server = stack.join("server");
    install_node_tools(&server);
    let api = stack.port("API_PORT");
    let elsewhere = tempfile::tempdir().unwrap();
    let old = http_server(&mut procs, elsewhere.path(), "127.0.0.1", api);
    let nodemon = procs.spawn(
        Command::new("node")
            .arg(server.join("node_modules/.bin/nodemon"))
            .arg("server.js")
            .current_dir(&server)
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    // nodemon's app dies on EADDRINUSE; nodemon itself waits.
    eventually("nodemon's app crashed", || {
        std::thread::sleep(std::time::Duration::from_millis(200));
        is_alive(nodemon) && children(nodemon).iter().all(|c| !is_alive(*c))
    });
    let before = std::fs::read(server.join("server.js")).unwrap();

    let out = doctor_in(stack.path(), &["--fix", "--yes"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let now = adopt_listeners(&mut procs, api);
    assert!(!is_alive(old), "{text}");
    assert!(is_alive(nodemon), "{text}");
    assert_eq!(now.len(), 1, "{text}");
    let mut up = now[0];
    let mut under_nodemon = false;
    for _ in 0..4 {
        match parent_of(up) {
            Some(p) if p == nodemon => {
                under_nodemon = true;
                break;
            }
            Some(p) => up = p,
            None => break,
        }
    }
    assert!(
        under_nodemon,
        "the listener is not the user's nodemon's app:\n{text}"
    );
    answers(api, "/api/items", "\"id\":1");
    assert_eq!(std::fs::read(server.join("server.js")).unwrap(), before);
    assert!(text.contains("$ touch server/server.js"), "{text}");
}

/// A backend whose lifespan opens the database at start-up, started with
/// `--reload` while PostgreSQL is down: uvicorn's worker exits ("Application
/// startup failed"), its reloader waits. The first cause is the database
/// (DB001, naming the backend that reads its URL), with the backend's
/// refusal and its reloader without worker folded under it; the plan says
/// to restart the backend once the database is up. Done as printed (the
/// real PostgreSQL started, the backend restarted), the backend answers.
#[test]
fn database_down_at_start_up_explains_the_backend_down() {
    let mut procs = Procs::new();
    let stack = Stack::new("uvicorn-procfile");
    stack.link_venv("backend/.venv");
    let api = stack.port("API_PORT");
    let db = free_port();
    stack.write(
        "backend/.env",
        &format!("DATABASE_URL=postgresql://app@127.0.0.1:{db}/postgres\n"),
    );
    let main = std::fs::read_to_string(stack.join("backend/main.py")).unwrap();
    stack.write(
        "backend/main.py",
        &main
            .replace(
                "app = FastAPI()",
                "def database_url():\n    for line in open(\".env\"):\n        if line.startswith(\"DATABASE_URL=\"):\n            return urlparse(line.split(\"=\", 1)[1].strip())\n\n\n@asynccontextmanager\nasync def lifespan(app):\n    url = database_url()\n    # The app opens its database before it serves.\n    socket.create_connection((url.hostname, url.port), timeout=2).close()\n    yield\n\n\napp = FastAPI(lifespan=lifespan)",
            )
            .replace(
                "from fastapi import FastAPI",
                "import socket\nfrom contextlib import asynccontextmanager\nfrom urllib.parse import urlparse\n\nfrom fastapi import FastAPI",
            ),
    );
    let reloader = procs.spawn(
        Command::new(venv().join("bin/uvicorn"))
            .args(uvicorn_args(api, &["--reload"]))
            .current_dir(stack.join("backend"))
            .stderr(Stdio::null()),
    );
    eventually("uvicorn's worker failed its start-up", || {
        std::thread::sleep(std::time::Duration::from_millis(200));
        let kids = children(reloader);
        is_alive(reloader)
            && !kids.iter().any(|k| {
                is_alive(*k)
                    && std::fs::read_to_string(format!("/proc/{k}/cmdline"))
                        .is_ok_and(|c| c.contains("spawn_main"))
            })
    });
    let (code, report) = stack.doctor(&["--timeout", "1s"]);
    assert_eq!(code, 1, "{report:#}");
    let (first, folded) = first_cause(&report);
    assert_eq!(first["code"], "DB001", "{report:#}");
    assert_eq!(first["evidence"]["read_by"][0], "backend", "{first:#}");
    let folded = codes_of(&folded);
    assert!(
        folded.iter().any(|c| c == "PORT001" || c == "PROC007"),
        "{report:#}"
    );
    assert!(
        first["fix"]["commands"]
            .to_string()
            .contains("restart backend if it is down"),
        "{first:#}"
    );
    // As printed: the database started, then the backend restarted.
    let _data = start_postgres(&mut procs, db);
    procs.end(reloader);
    start_venv(
        &mut procs,
        &stack.join("backend"),
        "uvicorn",
        &uvicorn_args(api, &[])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        api,
        "/health",
    );
    answers(api, "/health", "ok");
}

/// Field (#17, evidence as the project writes it): a FastAPI template's
/// `POSTGRES_SERVER` and `POSTGRES_PORT` on their own lines. DB001 names
/// those keys (not a PGHOST the project never mentions) and its fix points
/// at the line that holds the port.
#[test]
fn database_keys_are_named_as_the_project_writes_them() {
    let db = free_port();
    let dir = project(&[(
        ".env",
        &format!(
            "PROJECT_NAME=shop\nPOSTGRES_SERVER=localhost\nPOSTGRES_USER=app\nPOSTGRES_PORT={db}\n"
        ),
    )]);
    let (code, report) = doctor_json(dir.path(), &["--only", "database"]);
    assert_eq!(code, 1, "{report:#}");
    let f = findings(&report, "DB001");
    assert_eq!(f.len(), 1, "{report:#}");
    assert_eq!(
        f[0]["evidence"]["variable"],
        "POSTGRES_SERVER/POSTGRES_PORT"
    );
    assert_eq!(f[0]["evidence"]["source"], ".env:2, .env:4");
    assert!(!report.to_string().contains("PGHOST"), "{report:#}");
    assert_eq!(f[0]["fix"]["commands"][0], "or change the port in .env:4");
}

/// Field gb x2 (round 10, harmful in effect): the same with the app
/// named by `.flaskenv` (`FLASK_APP=run.py`, no `app.py`), the key read by
/// `environ.get` and the crash in a package the app imports. `flask run`
/// loads `.flaskenv` itself, so the process's environment has no
/// FLASK_APP: the import check was skipped and the serving server ended.
/// It is run with the files flask loads; nothing is ended (real flask
/// --debug, as Flask 2.1's FLASK_ENV=development ran it in the field).
#[test]
fn a_restart_of_a_flaskenv_app_that_would_not_start_ends_nothing() {
    let api = free_port();
    let dir = project(&[
        (".flaskenv", "FLASK_APP=run.py\n"),
        ("run.py", "from core import app  # noqa\n"),
        (
            "core/__init__.py",
            "from flask import Flask\n\nfrom config import DATABASE_URI\n\nDRIVER = DATABASE_URI.split(\":\")[0]\napp = Flask(__name__)\n\n\n@app.get(\"/health\")\ndef health():\n    return {\"ok\": True}\n",
        ),
        (
            "config.py",
            "import os\n\nfrom dotenv import load_dotenv\n\nload_dotenv(os.path.join(os.path.dirname(__file__), \".env\"))\nDATABASE_URI = os.environ.get(\"DATABASE_URI\")\n",
        ),
        (".env", "DATABASE_URI=sqlite:///app.db\n"),
        ("requirements.txt", "flask\npython-dotenv\n"),
        ("Procfile", &format!("web: flask run --debug --port {api}\n")),
    ]);
    std::os::unix::fs::symlink(venv(), dir.path().join(".venv")).unwrap();
    let mut procs = Procs::new();
    let flask = procs.spawn(
        Command::new(venv().join("bin/flask"))
            .args(["run", "--debug", "--port", &api.to_string()])
            .env_remove("FLASK_APP")
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    answers_200(api, "/health");
    remove_the_key_after_the_start(dir.path());
    let (_, report) = doctor_json(dir.path(), &["--only", "processes"]);
    assert_eq!(findings(&report, "PROC004").len(), 1, "{report:#}");
    let out = doctor_in(dir.path(), &["--fix", "--yes", "--only", "processes"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(is_alive(flask), "the serving flask was ended:\n{text}");
    assert!(text.contains("would not start"), "{text}");
    answers_200(api, "/health");
}

/// Field gb x1 (round 9, harmful in effect): `flask --debug run` serving,
/// then a key its code needs deleted from the `.env` it loads. PROC004
/// (the env file changed after its start) planned a restart, and
/// `--fix --yes` ended the healthy server; the new one crashed at import
/// and the API was left down. The restart is tried first as an import of
/// the app with the current files: it fails, so nothing is ended, and the
/// reason is said.
#[test]
fn a_restart_that_would_not_start_ends_nothing() {
    let api = free_port();
    let dir = project(&[
        (
            "app.py",
            "import os\n\nfrom dotenv import load_dotenv\nfrom flask import Flask\n\nload_dotenv()\nDATABASE_URI = os.environ[\"DATABASE_URI\"]\n\napp = Flask(__name__)\n\n\n@app.get(\"/health\")\ndef health():\n    return {\"ok\": True}\n",
        ),
        (".env", "DATABASE_URI=sqlite:///app.db\n"),
        ("requirements.txt", "flask\npython-dotenv\n"),
        ("Procfile", &format!("web: flask --debug run --port {api}\n")),
    ]);
    std::os::unix::fs::symlink(venv(), dir.path().join(".venv")).unwrap();
    let mut procs = Procs::new();
    let flask = procs.spawn(
        Command::new(venv().join("bin/flask"))
            .args(["--debug", "run", "--port", &api.to_string()])
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    answers_200(api, "/health");
    remove_the_key_after_the_start(dir.path());
    let (_, report) = doctor_json(dir.path(), &["--only", "processes"]);
    assert_eq!(findings(&report, "PROC004").len(), 1, "{report:#}");
    let out = doctor_in(dir.path(), &["--fix", "--yes", "--only", "processes"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(is_alive(flask), "the serving flask was ended:\n{text}");
    assert!(
        text.contains("would not start") && text.contains("DATABASE_URI"),
        "{text}"
    );
    answers_200(api, "/health");
}

/// The key deleted from `.env`, the edit dated a few seconds after the
/// server's start as a user's is (the start time's resolution is a
/// second): no sleep needed.
fn remove_the_key_after_the_start(dir: &std::path::Path) {
    std::fs::write(dir.join(".env"), "# DATABASE_URI removed\n").unwrap();
    std::fs::File::options()
        .append(true)
        .open(dir.join(".env"))
        .unwrap()
        .set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5))
        .unwrap();
}
