//! Start scripts as users write them (issue #16): a project whose only start
//! path is a launcher script (`start.py`, `start.ps1`, `start_backend.bat`)
//! has its services read from it, each with the script:line that says so.

mod common;

use std::process::{Command, Stdio};

use common::stack::*;
use common::*;
use serde_json::Value;

fn service<'a>(report: &'a Value, kind: &str) -> &'a Value {
    report["project"]["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} service: {report:#}"))
}

fn start_fact(service: &Value) -> Vec<&Value> {
    service["sources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["fact"] == "start")
        .collect()
}

/// The command line of a process (Linux).
fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

/// `python start.py` from the test venv starts uvicorn from `backend/` and
/// vite from `frontend/`: doctor finds both (no Procfile, no npm script
/// names the backend) and is silent. With the API killed, PORT001's fix is
/// the command the launcher runs for it, from its folder, with start.py:16
/// as the evidence; the launcher itself is not rerun (it would start a
/// second frontend).
#[test]
fn python_launcher_is_the_start_path() {
    let mut procs = Procs::new();
    let stack = Stack::new("launcher-py");
    stack.link_venv(".venv");
    install_framework(&stack.join("frontend"), "vite");
    let api = stack.port("API_PORT");
    let launcher = procs.spawn(
        Command::new(venv().join("bin/python"))
            .arg("start.py")
            .current_dir(stack.path())
            .stderr(Stdio::null()),
    );
    let addr = format!("127.0.0.1:{api}");
    wait_listening(&addr);
    eventually("the API answers", || {
        http_get(&addr, "/api/health")
            .lines()
            .next()
            .is_some_and(|l| l.contains(" 200"))
    });
    wait_listening(&format!("127.0.0.1:{}", stack.port("WEB_PORT")));

    let report = stack.assert_silent();
    let backend = service(&report, "fastapi");
    assert_eq!(backend["port"], api, "{report:#}");
    assert_eq!(backend["folder"], "backend");
    assert_eq!(backend["entry"], "main");
    let start = format!("../.venv/bin/python -m uvicorn main:app --host 127.0.0.1 --port {api}");
    assert_eq!(backend["start"], start.as_str());
    assert_eq!(backend["start_in"], "backend");
    assert!(
        start_fact(backend)
            .iter()
            .any(|f| f["source"] == "start.py:16"),
        "{backend:#}"
    );
    let web = service(&report, "vite");
    assert!(
        start_fact(web).iter().any(|f| f["source"] == "start.py:20"),
        "{web:#}"
    );

    // The API dies; the launcher and the frontend go on.
    let server = children(launcher)
        .into_iter()
        .find(|c| cmdline(*c).contains("uvicorn"))
        .expect("the launcher's uvicorn child");
    signal(server, libc::SIGKILL);
    eventually("the API is gone", || {
        std::net::TcpStream::connect(&addr).is_err()
    });
    let (code, report) = stack.doctor(&[]);
    assert_eq!(code, 1, "{report:#}");
    let down = findings(&report, "PORT001");
    assert_eq!(down.len(), 1, "{report:#}");
    assert_eq!(
        down[0]["fix"]["commands"][0],
        format!("cd backend && {start}").as_str(),
        "{report:#}"
    );
    assert_eq!(
        down[0]["evidence"]["expected_by"][0]["source"],
        "start.py:16"
    );
}

/// A launcher that starts one server is that server's start path: `python
/// start.py` (with the project's venv) is what PORT001 says to run.
#[test]
fn a_launcher_of_one_server_is_rerun_whole() {
    let stack = Stack::new("launcher-py");
    stack.link_venv(".venv");
    let api = stack.port("API_PORT");
    stack.write(
        "start.py",
        &format!(
            "import subprocess, sys\nfrom pathlib import Path\n\nHERE = Path(__file__).parent\nsubprocess.run([sys.executable, \"-m\", \"uvicorn\", \"main:app\", \"--port\", \"{api}\"], cwd=HERE / \"backend\")\n"
        ),
    );
    let (code, report) = stack.doctor(&["--only", "ports"]);
    assert_eq!(code, 1, "{report:#}");
    let down = findings(&report, "PORT001");
    let backend = down
        .iter()
        .find(|f| f["evidence"]["port"] == api)
        .unwrap_or_else(|| panic!("{report:#}"));
    assert_eq!(backend["fix"]["commands"][0], ".venv/bin/python start.py");
    assert_eq!(
        backend["evidence"]["expected_by"][0]["source"],
        "start.py:5"
    );
}

/// A Windows pair, read on Linux: `start.ps1` (Start-Process npm with
/// `$env:PORT`, then `& $python -m uvicorn` from backend/) and
/// `scripts\start_backend.bat` (`cd /d %~dp0..`, `call venv\Scripts\activate.bat`).
/// The model has the API on the scripts' port in backend/, started as the
/// scripts run it translated for this shell (venv/bin/python), and the
/// Create React App frontend on the PORT the script sets.
#[test]
fn windows_scripts_give_the_model() {
    let stack = Stack::new("launcher-windows");
    let (api, web) = (stack.port("API_PORT"), stack.port("WEB_PORT"));
    let (_, report) = stack.doctor(&[]);
    let backend = service(&report, "fastapi");
    assert_eq!(backend["port"], api, "{report:#}");
    assert_eq!(backend["folder"], "backend");
    assert_eq!(backend["source"], "start.ps1:7");
    assert_eq!(
        backend["start"],
        format!("venv/bin/python -m uvicorn main:app --port {api} --reload").as_str()
    );
    assert_eq!(backend["start_in"], "backend");
    assert_eq!(backend["reloads"], true);
    let sources: Vec<&str> = start_fact(backend)
        .iter()
        .map(|f| f["source"].as_str().unwrap())
        .collect();
    assert!(
        sources.contains(&"start.ps1:7") && sources.contains(&"scripts/start_backend.bat:6"),
        "{backend:#}"
    );
    let frontend = service(&report, "cra");
    assert_eq!(frontend["port"], web, "{report:#}");
    assert_eq!(frontend["folder"], "frontend");
    assert_eq!(frontend["source"], "start.ps1:3");
    let down = findings(&report, "PORT001");
    let api_down = down
        .iter()
        .find(|f| f["evidence"]["port"] == api)
        .unwrap_or_else(|| panic!("{report:#}"));
    assert_eq!(
        api_down["fix"]["commands"][0],
        format!("cd backend && venv/bin/python -m uvicorn main:app --port {api} --reload").as_str()
    );
}

/// `py main.py` in a batch script runs a file that serves itself
/// (`uvicorn.run(app, port=…)`): the port is the file's, the start is the
/// script's command. Without a script, such a file starts as `python main.py`,
/// never as a `uvicorn main:app` it does not run.
#[test]
fn a_file_that_serves_itself() {
    let port = free_port();
    let main = format!(
        "from fastapi import FastAPI\nimport uvicorn\n\napp = FastAPI()\n\nif __name__ == \"__main__\":\n    uvicorn.run(app, host=\"127.0.0.1\", port={port})\n"
    );
    let dir = project(&[
        ("api/main.py", &main),
        ("api/requirements.txt", "fastapi\nuvicorn\n"),
        (
            "run_api.bat",
            "@echo off\r\ncd api\r\nstart /B py main.py\r\n",
        ),
    ]);
    let (_, report) = doctor_json(dir.path(), &["--only", "ports"]);
    let api = service(&report, "fastapi");
    assert_eq!(api["port"], port, "{report:#}");
    assert_eq!(api["folder"], "api");
    assert_eq!(api["start"], "python3 main.py", "{report:#}");
    assert!(start_fact(api)
        .iter()
        .any(|f| f["source"] == "run_api.bat:3"));

    let dir = project(&[
        ("main.py", &main),
        ("requirements.txt", "fastapi\nuvicorn\n"),
    ]);
    let (_, report) = doctor_json(dir.path(), &["--only", "ports"]);
    assert_eq!(
        service(&report, "fastapi")["start"],
        "python main.py",
        "{report:#}"
    );
}

/// Field round 7 (ga fa P2 c6, c7; harmful): the backend's port is written
/// only in the README's development command (`uvicorn main:app --reload
/// --port N`); its production section runs :8000, FastAPI's default. The
/// README's dev block gives the service its port and its start command
/// (never the production one, never the README run as a script), so the
/// backend that is down is expected on N, and `--fix --yes` starts it there.
#[test]
fn the_readmes_dev_command_gives_the_backend_its_port() {
    let stack = Stack::new("fastapi-readme");
    stack.link_venv(".venv");
    let api = stack.port("API_PORT");
    let (code, report) = stack.doctor(&[]);
    assert_eq!(code, 1, "{report:#}");
    let backend = service(&report, "fastapi");
    assert_eq!(backend["port"], api, "{backend:#}");
    let starts = start_fact(backend);
    assert!(
        starts.iter().any(|f| f["source"] == "README.md:13"
            && f["value"].as_str().is_some_and(|v| v.contains("--reload"))),
        "{backend:#}"
    );
    let down = findings(&report, "PORT001");
    assert_eq!(down.len(), 1, "{report:#}");
    assert_eq!(down[0]["evidence"]["port"], api, "{report:#}");
    assert!(
        !report.to_string().contains("0.0.0.0 --port 8000"),
        "the production command was taken: {report:#}"
    );

    let mut procs = Procs::new();
    let out = doctor_in(stack.path(), &["--fix", "--yes"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    adopt_listeners(&mut procs, api);
    answers_200(api, "/health");
    assert!(text.contains(&format!("--port {api}")), "{text}");
}

/// Field ga fa P1 (round 9): the README's start command is inline code in
/// a numbered list, not a fenced block: its `--reload` and port were not
/// read, and the restart dropped them. An inline Python server command of
/// a development section is read as its own one-line block; one under a
/// production heading is not.
#[test]
fn the_readmes_inline_dev_command_is_read_too() {
    let stack = Stack::new("fastapi-readme");
    stack.link_venv(".venv");
    let api = stack.port("API_PORT");
    stack.write(
        "README.md",
        &format!("# app\n\n## Getting started\n\n1. Install: `pip install -r requirements.txt`\n2. Start the API: `uvicorn main:app --reload --port {api}`\n\n## Production\n\nRun `uvicorn main:app --host 0.0.0.0 --port 8000` behind a proxy.\n"),
    );
    let (_, report) = stack.doctor(&[]);
    let backend = service(&report, "fastapi");
    assert_eq!(backend["port"], api, "{backend:#}");
    let starts = start_fact(backend);
    assert!(
        starts.iter().any(|f| f["source"] == "README.md:6"
            && f["value"].as_str().is_some_and(|v| v.contains("--reload"))),
        "{backend:#}"
    );
    assert!(
        !report.to_string().contains("0.0.0.0 --port 8000"),
        "the production command was taken: {report:#}"
    );
}

/// Field round 7 (gd fd P3 A, partial since round 3): `run.bat` sets
/// `FLASK_APP` (the app is the package `shop/`: no `app.py`, no
/// `.flaskenv`) before `flask run`. The start command doctor prints and
/// runs keeps that setting (`FLASK_APP=shop venv/bin/flask run …`); without
/// it Flask cannot locate the app and the backend stays down.
#[test]
fn a_batch_scripts_flask_app_is_kept_in_the_start_command() {
    let stack = Stack::new("flask-runbat");
    stack.link_venv("venv");
    let api = stack.port("API_PORT");
    let (code, report) = stack.doctor(&[]);
    assert_eq!(code, 1, "{report:#}");
    let backend = service(&report, "flask");
    assert_eq!(backend["port"], api, "{backend:#}");
    let start = backend["start"].as_str().unwrap_or_default();
    assert!(start.contains("FLASK_APP=shop"), "{backend:#}");
    // Flask < 2.3's debugger and reloader (field gd fd P3 A, round 9).
    assert!(start.contains("FLASK_ENV=development"), "{backend:#}");

    let mut procs = Procs::new();
    let out = doctor_in(stack.path(), &["--fix", "--yes"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        !adopt_listeners(&mut procs, api).is_empty(),
        "not started: {text}"
    );
    answers_200(api, "/health");
}

/// Field round 7/9 (gd fd P3 E, partial): `flask run -h ::1`, while
/// `run.bat` opens `http://127.0.0.1:5000/` in the browser. That page is
/// refused; the split was said only of the server's own `localhost` (whose
/// clients fall back to ::1), as info. The page the script opens is a
/// client: PORT003 cites its line, a warning, with Flask's own bind flag
/// (real flask).
#[test]
fn the_page_a_start_script_opens_is_a_client() {
    let stack = Stack::new("flask-runbat");
    stack.link_venv("venv");
    let api = stack.port("API_PORT");
    let bat = std::fs::read_to_string(stack.join("run.bat")).unwrap();
    stack.write(
        "run.bat",
        &bat.replace(
            "set FLASK_APP=shop",
            &format!("start \"http://127.0.0.1:{api}/\"\r\nset FLASK_APP=shop"),
        ),
    );
    let line = std::fs::read_to_string(stack.join("run.bat"))
        .unwrap()
        .lines()
        .position(|l| l.starts_with("start "))
        .unwrap()
        + 1;
    let mut procs = Procs::new();
    procs.spawn(
        Command::new(venv().join("bin/flask"))
            .args(["run", "--host", "::1", "--port", &api.to_string()])
            .env("FLASK_APP", "shop")
            .current_dir(stack.path())
            .stderr(Stdio::null()),
    );
    wait_listening(&format!("[::1]:{api}"));
    let (_, report) = stack.doctor(&["--timeout", "2s"]);
    let split: Vec<&Value> = findings(&report, "PORT003")
        .into_iter()
        .filter(|f| f["evidence"]["source"] == format!("run.bat:{line}"))
        .collect();
    assert_eq!(split.len(), 1, "{report:#}");
    assert_ne!(split[0]["severity"], "info", "{report:#}");
    assert!(
        split[0]["fix"]["commands"][0]
            .as_str()
            .is_some_and(|c| c.contains("--host 127.0.0.1")),
        "{report:#}"
    );
    // The `flask run` line holds no URL: none is to be written there
    // (field gd fd P3 E, round 11).
    let flask_line = std::fs::read_to_string(stack.join("run.bat"))
        .unwrap()
        .lines()
        .position(|l| l.starts_with("flask run"))
        .unwrap()
        + 1;
    for f in findings(&report, "PORT003") {
        assert!(
            !f["fix"]["commands"]
                .to_string()
                .contains(&format!("write the URL in run.bat:{flask_line}")),
            "{f:#}"
        );
    }
}

/// Field round 7/10 (gd fd P3 0, missed): `run.bat` sets `FLASK_APP=bunshi`
/// and the repo's pins predate Python 3.10 (`from collections import
/// Mapping` in the old Jinja2): `flask run` dies at import. The service had
/// no entry (the app is named only by the script's `set`), so no import was
/// tried and PORT001 said "start it". The script's FLASK_APP is the module
/// the probe imports: PY003 names the ImportError (real flask).
#[test]
fn a_batch_scripts_flask_app_is_imported_by_the_probe() {
    let stack = Stack::new("flask-runbat");
    stack.link_venv("venv");
    let init = std::fs::read_to_string(stack.join("shop/__init__.py")).unwrap();
    stack.write(
        "shop/__init__.py",
        &format!("from collections import Mapping  # what old pins do on 3.10+\n{init}"),
    );
    let (code, report) = stack.doctor(&[]);
    assert_eq!(code, 1, "{report:#}");
    let first = first_loud_root(&report);
    assert_eq!(first["code"], "PY003", "{report:#}");
    assert!(
        first["title"]
            .as_str()
            .is_some_and(|t| t.contains("cannot import name 'Mapping' from 'collections'")),
        "{first:#}"
    );
}

/// Field round 11 (gd fd P3 D, residual): `run.bat`'s `flask run` with
/// `FLASK_APP=bunshi` in its environment serves old code (no reloader). The
/// restart doctor runs keeps that environment; the command it prints for a
/// person lacked it and failed by hand ("Could not locate a Flask
/// application"). The printed command carries the framework's settings
/// the process has and this shell does not (real flask).
#[test]
fn a_printed_restart_keeps_the_frameworks_settings() {
    let stack = Stack::new("flask-runbat");
    stack.link_venv("venv");
    let api = stack.port("API_PORT");
    let mut procs = Procs::new();
    let flask = procs.spawn(
        Command::new(venv().join("bin/flask"))
            .args(["run", "--port", &api.to_string()])
            .env("FLASK_APP", "shop")
            .current_dir(stack.path())
            .stderr(Stdio::null()),
    );
    answers_200(api, "/health");
    until_an_edit_is_newer_than(flask);
    let init = std::fs::read_to_string(stack.join("shop/__init__.py")).unwrap();
    stack.write("shop/__init__.py", &format!("{init}\n# edited\n"));
    let (_, report) = stack.doctor(&["--only", "processes"]);
    let stale = findings(&report, "PROC004");
    assert_eq!(stale.len(), 1, "{report:#}");
    let printed = stale[0]["fix"]["commands"].to_string();
    assert!(printed.contains("FLASK_APP=shop"), "{printed}");
}
