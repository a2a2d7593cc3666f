//! Right on real projects (issue #8): each fixture in `fixtures/stacks/`,
//! modelled on the structure of a real public template, started healthy for
//! real (silent, exit 0), then broken the way developers break it, with the
//! exact code and evidence expected.

mod common;

use std::time::{Duration, SystemTime};

use common::stack::*;
use common::*;
use serde_json::Value;

fn service<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["project"]["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no service {name}: {report:#}"))
}

fn titles(report: &Value, code: &str) -> Vec<String> {
    findings(report, code)
        .iter()
        .map(|f| f["title"].as_str().unwrap().to_string())
        .collect()
}

fn fastapi_fullstack(procs: &mut Procs) -> (Stack, tempfile::TempDir) {
    let stack = Stack::new("fastapi-fullstack");
    stack.link_venv("backend/.venv");
    let data = start_postgres(procs, stack.port("DB_PORT"));
    start_fullstack_backend(procs, &stack);
    start_vite(procs, &stack, "frontend");
    (stack, data)
}

/// Classes 1, 6, 7, 8 and 10: a Procfile and the entry module are one
/// service; a URL only the e2e tests read is context; the health route is the
/// one the routers declare (the SPA answers HTML everywhere else); split
/// POSTGRES_* keys are a database to check; a healthy run imports nothing;
/// an edited source under vite's watch is not stale code.
#[test]
fn fastapi_fullstack_healthy_then_database_down() {
    let mut procs = Procs::new();
    let (stack, _data) = fastapi_fullstack(&mut procs);
    let report = stack.assert_silent();

    let backend = service(&report, "backend");
    assert_eq!(backend["port"], stack.port("API_PORT"));
    assert_eq!(backend["source"], "backend/Procfile:1");
    assert_eq!(backend["entry"], "app.main");
    assert_eq!(backend["routes"][0], "/api/v1/utils/health-check/");
    // Each service once, with every source of every fact.
    let names: Vec<&str> = report["project"]["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names.iter().filter(|n| **n == "backend").count(),
        1,
        "{names:?}"
    );
    let facts: Vec<(&str, &str)> = backend["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["fact"].as_str().unwrap(), f["source"].as_str().unwrap()))
        .collect();
    assert!(facts.contains(&("port", "backend/Procfile:1")), "{facts:?}");
    assert!(
        facts.contains(&("entry", "backend/app/main.py:8")),
        "{facts:?}"
    );
    assert!(facts.contains(&("url", "frontend/.env:1")), "{facts:?}");
    // The mail catcher URL is context: info at most, never expected.
    let mail = report["project"]["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["port"] == stack.port("MAIL_PORT"))
        .expect("the mail catcher is kept as context");
    assert_eq!(mail["expected"], false);
    // The health probe took the declared route, not the SPA's HTML.
    let probed: Vec<&str> = report["probes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["check"] == "health")
        .filter_map(|p| p["url"].as_str())
        .collect();
    assert!(
        probed
            .iter()
            .any(|u| u.ends_with("/api/v1/utils/health-check/")),
        "{probed:?}"
    );
    // The server proves its module imports: no project code was run.
    let imports: Vec<&Value> = report["probes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["check"] == "python")
        .collect();
    assert!(
        imports.iter().all(|p| p["import"] == "skipped"),
        "{imports:?}"
    );

    // A source edited under vite's watch: hot-reloaded, not stale.
    std::fs::write(stack.join("frontend/src/routeTree.gen.ts"), "export {}\n").unwrap();
    let later = SystemTime::now() + Duration::from_secs(5);
    std::fs::File::options()
        .write(true)
        .open(stack.join("frontend/src/routeTree.gen.ts"))
        .unwrap()
        .set_modified(later)
        .unwrap();
    let (_, report) = stack.doctor(&["--only", "processes"]);
    assert!(findings(&report, "PROC004").is_empty(), "{report:#}");

    // Breakage 1: PostgreSQL stopped. The split keys name it.
    let pg = procs_pid_on(stack.port("DB_PORT"));
    procs.end(pg);
    let (code, report) = stack.doctor(&[]);
    assert_eq!(code, 1);
    let db = findings(&report, "DB001");
    assert_eq!(db.len(), 1, "{report:#}");
    assert_eq!(db[0]["evidence"]["source"], ".env:7, .env:8");
    assert!(db[0]["title"]
        .as_str()
        .unwrap()
        .contains(&stack.port("DB_PORT").to_string()));
}

/// The pid of the (test-started) process listening on `port`, via ss.
fn procs_pid_on(port: u16) -> u32 {
    let out = std::process::Command::new("ss")
        .args(["-ltnpH", &format!("sport = :{port}")])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let pid = text
        .split("pid=")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .and_then(|p| p.parse().ok());
    pid.unwrap_or_else(|| panic!("no listener on {port}: {text}"))
}

/// Breakage 2 of fastapi-fullstack: the backend is down because a module it
/// imports is not installed. PY003 names the module and the file:line, from
/// the import root the Procfile uses; PORT001 names the Procfile's start
/// command, runnable from the root.
#[test]
fn fastapi_fullstack_backend_down_at_import() {
    let stack = Stack::new("fastapi-fullstack");
    stack.link_venv("backend/.venv");
    stack.write(
        "backend/app/core/db.py",
        "import psycopg  # the driver, not installed\n\nengine = None\n",
    );
    let main = std::fs::read_to_string(stack.join("backend/app/main.py")).unwrap();
    stack.write(
        "backend/app/main.py",
        &main.replace(
            "from app.core.config import settings\n",
            "from app.core.config import settings\nfrom app.core.db import engine  # noqa: F401\n",
        ),
    );
    let (code, report) = stack.doctor(&["--skip", "database"]);
    assert_eq!(code, 1);
    let py = findings(&report, "PY003");
    assert_eq!(py.len(), 1, "{report:#}");
    assert!(
        py[0]["title"]
            .as_str()
            .unwrap()
            .contains("No module named 'psycopg' at backend/app/core/db.py:1"),
        "{:#}",
        py[0]
    );
    assert_eq!(py[0]["evidence"]["module"], "app.main");
    let port = titles(&report, "PORT001");
    let api = stack.port("API_PORT");
    let backend: Vec<&Value> = findings(&report, "PORT001")
        .into_iter()
        .filter(|f| f["evidence"]["port"] == api)
        .collect();
    assert_eq!(backend.len(), 1, "{port:?}");
    assert_eq!(
        backend[0]["fix"]["commands"][0],
        format!("cd backend && .venv/bin/uvicorn app.main:app --host 127.0.0.1 --port {api}")
    );
}

fn pkg_root_backend(procs: &mut Procs, stack: &Stack) -> u32 {
    let api = stack.port("API_PORT").to_string();
    start_venv(
        procs,
        stack.path(),
        "python",
        &[
            "-m",
            "uvicorn",
            "backend.app.main:app",
            "--host",
            "127.0.0.1",
            "--port",
            &api,
        ],
        stack.port("API_PORT"),
        "/api/health",
    )
}

/// Class 2: a backend package run from the repository root by a node
/// launcher. Healthy: silent. Broken at import: the import runs from the
/// root, so the cause is the missing module, never "No module named
/// 'backend'". Then a foreign program on the port is PORT002.
#[test]
fn fastapi_pkg_root_healthy_then_import_error_then_foreign_holder() {
    let mut procs = Procs::new();
    let stack = Stack::new("fastapi-pkg-root");
    stack.link_venv(".venv");
    let backend = pkg_root_backend(&mut procs, &stack);
    start_vite(&mut procs, &stack, "frontend");
    let report = stack.assert_silent();
    let api = service(&report, "backend");
    assert_eq!(api["entry"], "backend.app.main");
    assert_eq!(api["package_root"], ".");
    assert_eq!(api["source"], "scripts/dev.mjs:5");
    assert_eq!(api["start"], "npm run dev");

    // Broken at import, server down.
    procs.end(backend);
    stack.write(
        "backend/app/settings.py",
        "import os\n\nimport slowapi  # rate limits, not installed\n\nAPI_PREFIX = \"/api\"\n",
    );
    let (code, report) = stack.doctor(&[]);
    assert_eq!(code, 1);
    let py = titles(&report, "PY003");
    assert_eq!(py.len(), 1, "{report:#}");
    assert!(
        py[0].contains("No module named 'slowapi' at backend/app/settings.py:3"),
        "{py:?}"
    );
    assert!(!py[0].contains("No module named 'backend'"), "{py:?}");
    let down = findings(&report, "PORT001");
    assert_eq!(down[0]["fix"]["commands"][0], "npm run dev", "{report:#}");

    // A foreign program holds the backend's port.
    let outside = tempfile::tempdir().unwrap();
    let (holder, _) = procs.python(
        outside.path(),
        LISTEN_ONLY,
        &["127.0.0.1", &stack.port("API_PORT").to_string()],
    );
    let (code, report) = stack.doctor(&["--only", "ports"]);
    assert_eq!(code, 1);
    let held = findings(&report, "PORT002");
    assert_eq!(held.len(), 1, "{report:#}");
    assert_eq!(held[0]["evidence"]["holders"][0]["pid"], holder);
}

/// Class 3 and 9: `.flaskenv` names an app factory in a package; a missing
/// frontend `.env` whose code falls back to the proxy is not an error, and
/// copying the example is not "safe". A plain `flask run` that answers is
/// never a dead reloader, and `--fix --yes` leaves it answering. Broken:
/// a package missing at import is PY003 naming it; a stopped server PROC001.
#[test]
fn flask_factory_healthy_then_stopped_then_import_error() {
    let mut procs = Procs::new();
    let stack = Stack::new("flask-factory");
    stack.link_venv(".venv");
    let flask = start_flask(&mut procs, &stack);
    start_vite(&mut procs, &stack, "frontend");
    let report = stack.assert_silent();
    let backend = service(&report, "backend");
    assert_eq!(
        (&backend["kind"], &backend["entry"], &backend["source"]),
        (
            &"flask".into(),
            &"backend.app".into(),
            &".flaskenv:3".into()
        )
    );
    let env = findings(&report, "ENV001");
    assert_eq!(env.len(), 1, "{report:#}");
    assert_eq!(env[0]["severity"], "info");
    assert_eq!(env[0]["fix"]["safety"], "confirm");
    assert_eq!(
        env[0]["evidence"]["read_with_default"][0],
        "VITE_API_BASE_URL"
    );

    // --fix --yes on a healthy stack ends nothing; the server still answers.
    let out = doctor_in(stack.path(), &["--fix", "--yes", "--skip", "env"]);
    assert_eq!(out.status.code(), Some(0));
    let api = format!("127.0.0.1:{}", stack.port("API_PORT"));
    assert!(http_get(&api, "/api/health").contains("\"ok\""));
    assert!(is_alive(flask));

    // Stopped (SIGSTOP): the cause is PROC001 on the flask process.
    stop(flask);
    let (code, report) = stack.doctor(&["--only", "processes"]);
    signal(flask, libc::SIGCONT);
    assert_eq!(code, 1);
    let stopped = findings(&report, "PROC001");
    assert_eq!(stopped.len(), 1, "{report:#}");
    assert_eq!(stopped[0]["evidence"]["process"]["pid"], flask);
    assert!(findings(&report, "PROC007").is_empty(), "{report:#}");

    // Down, and a package it imports is declared but not installed.
    procs.end(flask);
    stack.write(
        "backend/requirements.txt",
        "flask\npython-dotenv\nFlask-Limiter\n",
    );
    let app = std::fs::read_to_string(stack.join("backend/app.py")).unwrap();
    stack.write(
        "backend/app.py",
        &format!("from flask_limiter import Limiter  # not installed\n{app}"),
    );
    let (code, report) = stack.doctor(&[]);
    assert_eq!(code, 1);
    let py = titles(&report, "PY003");
    assert_eq!(py.len(), 1, "{report:#}");
    assert!(
        py[0].contains("No module named 'flask_limiter' at backend/app.py:1"),
        "{py:?}"
    );
    let down = findings(&report, "PORT001");
    assert!(
        down.iter()
            .any(|f| f["fix"]["commands"][0] == ".venv/bin/flask run"),
        "{report:#}"
    );
    // One cause: the requirement not installed; the import failure and the
    // port with nothing on it are its consequences.
    let req = findings(&report, "PY002");
    assert_eq!(req.len(), 1, "{report:#}");
    assert!(req[0]["caused_by"].is_null());
    assert_eq!(
        req[0]["fix"]["commands"][0],
        // Only what is missing, as declared: the whole file would re-pin a working venv.
        "cd backend && ../.venv/bin/python -m pip install Flask-Limiter"
    );
    let py003 = findings(&report, "PY003");
    assert_eq!(
        report["findings"][py003[0]["caused_by"].as_u64().unwrap() as usize]["code"],
        "PY002"
    );
}

/// Class 9: a tracked `.env` that was deleted is a strong signal: an error
/// that says so, with git's own restore as the fix.
#[test]
fn deleted_tracked_env_file_is_said() {
    if run_ok("git", &["--version"]).is_none() {
        eprintln!("git is not installed: skipped");
        return;
    }
    let stack = Stack::new("flask-factory");
    stack.write("frontend/.env", "VITE_API_BASE_URL=/api\n");
    for args in [
        &["init", "-q"][..],
        &["add", "-A"],
        &[
            "-c",
            "user.email=t@t",
            "-c",
            "user.name=t",
            "commit",
            "-qm",
            "x",
        ],
    ] {
        let ok = std::process::Command::new("git")
            .args(args)
            .current_dir(stack.path())
            .status()
            .unwrap()
            .success();
        assert!(ok, "git {args:?}");
    }
    std::fs::remove_file(stack.join("frontend/.env")).unwrap();
    let (_, report) = stack.doctor(&["--only", "env"]);
    let env = findings(&report, "ENV001");
    assert_eq!(env.len(), 1, "{report:#}");
    assert_eq!(env[0]["severity"], "error");
    assert!(env[0]["title"].as_str().unwrap().contains("git tracks it"));
    assert_eq!(
        env[0]["fix"]["commands"][0],
        "cd frontend && git restore .env"
    );
}

fn run_ok(program: &str, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Django's `runserver` with its autoreloader (a watching parent, a serving
/// child), the port from the Procfile: silent, never a dead reloader. Then
/// down (PORT001 with the Procfile's command) and a foreign holder (PORT002).
#[test]
fn django_runserver_healthy_then_down_then_foreign_holder() {
    let mut procs = Procs::new();
    let stack = Stack::new("django-runserver");
    stack.link_venv(".venv");
    let port = stack.port("API_PORT");
    let server = start_venv(
        &mut procs,
        stack.path(),
        "python",
        &["manage.py", "runserver", &format!("127.0.0.1:{port}")],
        port,
        "/api/health/",
    );
    let report = stack.assert_silent();
    let web = service(&report, "web");
    assert_eq!(
        (&web["kind"], &web["port"]),
        (&"django".into(), &port.into())
    );
    assert_eq!(web["routes"][0], "/api/health/");

    procs.end(server);
    eventually("the autoreloader's child is gone", || {
        std::net::TcpStream::connect(format!("127.0.0.1:{port}")).is_err()
    });
    let (code, report) = stack.doctor(&["--only", "ports"]);
    assert_eq!(code, 1);
    let down = findings(&report, "PORT001");
    assert_eq!(down.len(), 1, "{report:#}");
    assert_eq!(
        down[0]["fix"]["commands"][0],
        // The venv's python: a bare `python` is not the project's until activated.
        format!(".venv/bin/python manage.py runserver 127.0.0.1:{port}")
    );

    let outside = tempfile::tempdir().unwrap();
    let (holder, _) = procs.python(
        outside.path(),
        LISTEN_ONLY,
        &["127.0.0.1", &port.to_string()],
    );
    let (code, report) = stack.doctor(&["--only", "ports"]);
    assert_eq!(code, 1);
    assert_eq!(
        findings(&report, "PORT002")[0]["evidence"]["holders"][0]["pid"],
        holder,
        "{report:#}"
    );
}

fn express_vite(procs: &mut Procs, stack: &Stack) -> u32 {
    install_node_tools(&stack.join("server"));
    install_framework(&stack.join("client"), "vite");
    let api = stack.port("API_PORT");
    let server = start_node(
        procs,
        &stack.join("server"),
        &["--watch", "index.js"],
        &[("PORT", api.to_string())],
        api,
    );
    start_tool(
        procs,
        &stack.join("client"),
        "vite",
        &[],
        stack.port("WEB_PORT"),
    );
    server
}

/// A vite config the old line scan misread: the whole server block on one
/// line and the port a constant. Read by the parser, the model has vite on
/// that port (from the config's line) and the proxy target as a reference
/// of the API; the real vite runs with that config and the stack is silent.
#[test]
fn one_line_vite_server_block_read_by_the_parser() {
    let mut procs = Procs::new();
    let stack = Stack::new("express-vite");
    let (web, api) = (stack.port("WEB_PORT"), stack.port("API_PORT"));
    stack.write(
        "client/vite.config.js",
        &format!(
            "import {{ defineConfig }} from 'vite'\n\nconst WEB_PORT = {web}\n\nexport default defineConfig({{\n  server: {{ host: '127.0.0.1', port: WEB_PORT, strictPort: true, proxy: {{ '/api': {{ target: 'http://127.0.0.1:{api}', changeOrigin: true }} }} }},\n}})\n"
        ),
    );
    express_vite(&mut procs, &stack);
    let report = stack.assert_silent();
    let client = service(&report, "client");
    assert_eq!(client["port"], web, "{report:#}");
    assert_eq!(client["source"], "client/vite.config.js:6");
    assert_eq!(client["origin"], format!("http://127.0.0.1:{web}"));
    let facts = client["sources"].as_array().unwrap();
    let has = |fact: &str, value: &str| {
        facts
            .iter()
            .any(|f| f["fact"] == fact && f["value"] == value)
    };
    assert!(
        has("reader", "parser") && has("strict_port", "true"),
        "{client:#}"
    );
    let api_service = service(&report, "api");
    assert_eq!(api_service["port"], api);
    assert!(
        api_service["references"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == "client/vite.config.js:6"),
        "{api_service:#}"
    );
}

/// Express + Vite with a proxy: silent. The API down is PORT001 for the
/// proxy's target with the server's start command; its node_modules gone is
/// NODE002.
#[test]
fn express_vite_healthy_then_api_down_then_not_installed() {
    let mut procs = Procs::new();
    let stack = Stack::new("express-vite");
    let server = express_vite(&mut procs, &stack);
    let report = stack.assert_silent();
    let api = service(&report, "api");
    assert_eq!(api["port"], stack.port("API_PORT"));
    assert_eq!(api["references"][0], "client/vite.config.js:5");

    procs.end(server);
    let (code, report) = stack.doctor(&[]);
    assert_eq!(code, 1);
    let down = findings(&report, "PORT001");
    assert_eq!(down.len(), 1, "{report:#}");
    assert_eq!(down[0]["fix"]["commands"][0], "cd server && npm run dev");

    std::fs::remove_dir_all(stack.join("server/node_modules")).unwrap();
    let (_, report) = stack.doctor(&["--only", "node"]);
    let missing = findings(&report, "NODE002");
    assert_eq!(missing.len(), 1, "{report:#}");
    assert_eq!(missing[0]["evidence"]["package"], "server/package.json");
}

fn next_python(procs: &mut Procs, stack: &Stack) -> u32 {
    install_framework(stack.path(), "next");
    install_node_tools(stack.path());
    let api = stack.port("API_PORT").to_string();
    let supervisor = start_venv(
        procs,
        stack.path(),
        "python",
        &[
            "-m",
            "uvicorn",
            "api.index:app",
            "--reload",
            "--host",
            "127.0.0.1",
            "--port",
            &api,
        ],
        stack.port("API_PORT"),
        "/api/healthchecker",
    );
    let web = stack.port("WEB_PORT").to_string();
    start_tool(
        procs,
        stack.path(),
        "next",
        &["dev", "--port", &web],
        stack.port("WEB_PORT"),
    );
    supervisor
}

/// Next.js rewriting to a Python API run with `uvicorn --reload` from the
/// root: silent (a reloader with its worker is healthy). Then the same
/// multi-threaded node app on a second port is PROC005 naming two pids and
/// no thread ids (class 4); and the worker crashing at import is PY003
/// naming the module (class 7: the import runs when the service is down).
#[test]
fn next_python_healthy_then_second_copy_then_worker_crash() {
    let mut procs = Procs::new();
    let stack = Stack::new("next-python");
    stack.link_venv(".venv");
    let supervisor = next_python(&mut procs, &stack);
    let report = stack.assert_silent();
    let api = service(&report, "backend");
    assert_eq!(api["reloads"], true);
    assert_eq!(api["start"], "npm run fastapi-dev");
    assert_eq!(api["routes"][0], "/api/healthchecker");
    assert_eq!(
        service(&report, "next-python")["port"],
        stack.port("WEB_PORT")
    );

    // The same next app on a second port.
    let second = free_port();
    let copy = start_tool(
        &mut procs,
        stack.path(),
        "next",
        &["dev", "--port", &second.to_string()],
        second,
    );
    let (_, report) = stack.doctor(&["--only", "processes"]);
    let twice = findings(&report, "PROC005");
    assert_eq!(twice.len(), 1, "{report:#}");
    let pids: Vec<u64> = twice[0]["evidence"]["copies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["pid"].as_u64().unwrap())
        .collect();
    assert_eq!(pids.len(), 2, "two processes, no threads: {pids:?}");
    // `next dev` serves from its child, `next-server (vX)`.
    let servers: Vec<u64> = children(copy).into_iter().map(u64::from).collect();
    assert!(
        pids.iter().any(|p| servers.contains(p)),
        "{pids:?} {servers:?}"
    );
    procs.end(copy);

    // The worker crashes at import: the reloader is left with no server.
    procs.end(supervisor);
    let index = std::fs::read_to_string(stack.join("api/index.py")).unwrap();
    stack.write(
        "api/index.py",
        &format!("import psycopg  # not installed\n{index}"),
    );
    let (code, report) = stack.doctor(&[]);
    assert_eq!(code, 1);
    let py = titles(&report, "PY003");
    assert_eq!(py.len(), 1, "{report:#}");
    assert!(
        py[0].contains("No module named 'psycopg' at api/index.py:1"),
        "{py:?}"
    );
    let imported: Vec<&Value> = report["probes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["check"] == "python" && p["import"] == "api.index")
        .collect();
    assert_eq!(
        imported.len(),
        1,
        "the import ran from the root: {report:#}"
    );
    assert_eq!(imported[0]["from"], ".");
}

/// npm workspaces: dependencies hoisted to the root node_modules are
/// installed (class 5): silent. A hoisted package removed is NODE003 for
/// the workspace that declares it; the API down is PORT001 from the proxy.
#[test]
fn npm_workspaces_healthy_then_missing_hoisted_package_then_api_down() {
    let mut procs = Procs::new();
    let stack = Stack::new("npm-workspaces");
    let modules = stack.join("node_modules");
    // Hoisted: the workspace's dependencies live in the root's node_modules.
    common::frameworks::link_node_modules(stack.path(), "vite8");
    install_node_tools(stack.path());
    // vite keeps its cache in the workspace's own node_modules: the folder
    // exists, yet every dependency is hoisted to the root.
    std::fs::create_dir_all(stack.join("apps/web/node_modules/.vite/deps")).unwrap();
    let api = stack.port("API_PORT");
    let server = start_node(
        &mut procs,
        &stack.join("apps/api"),
        &["index.js", "--port", &api.to_string()],
        &[],
        api,
    );
    start_tool(
        &mut procs,
        &stack.join("apps/web"),
        "vite",
        &[],
        stack.port("WEB_PORT"),
    );
    let report = stack.assert_silent();
    assert!(findings(&report, "NODE002").is_empty() && findings(&report, "NODE003").is_empty());

    std::fs::remove_dir_all(modules.join("react")).unwrap();
    let (code, report) = stack.doctor(&["--only", "node"]);
    assert_eq!(code, 1);
    let missing = titles(&report, "NODE003");
    assert_eq!(missing.len(), 1, "{report:#}");
    assert!(
        missing[0].contains("apps/web/package.json") && missing[0].contains("react (missing)"),
        "{missing:?}"
    );

    procs.end(server);
    let (_, report) = stack.doctor(&["--only", "ports"]);
    let down = findings(&report, "PORT001");
    assert_eq!(down.len(), 1, "{report:#}");
    assert_eq!(down[0]["evidence"]["port"], api);
    assert_eq!(down[0]["fix"]["commands"][0], "cd apps/api && npm run dev");
}

/// Compose databases and SQLAlchemy URLs (class 8): PostgreSQL and Redis up,
/// a `postgresql+psycopg://` URL and a sqlite URL: silent, no DB003. Redis
/// stopped is DB001 for REDIS_URL; PostgreSQL stopped, DB001 for it too.
#[test]
fn compose_db_healthy_then_redis_down_then_postgres_down() {
    let mut procs = Procs::new();
    let stack = Stack::new("compose-db");
    stack.link_venv("backend/.venv");
    let _data = start_postgres(&mut procs, stack.port("DB_PORT"));
    let redis = start_redis(&mut procs, stack.port("REDIS_PORT"));
    let api = stack.port("API_PORT").to_string();
    start_venv(
        &mut procs,
        &stack.join("backend"),
        "uvicorn",
        &["main:app", "--host", "127.0.0.1", "--port", &api],
        stack.port("API_PORT"),
        "/health",
    );
    let report = stack.assert_silent();
    assert!(findings(&report, "DB003").is_empty(), "{report:#}");

    procs.end(redis);
    let (code, report) = stack.doctor(&["--only", "database"]);
    assert_eq!(code, 1);
    let down = findings(&report, "DB001");
    assert_eq!(down.len(), 1, "{report:#}");
    assert!(down[0]["title"].as_str().unwrap().contains("REDIS_URL"));
    // The password of the SQLAlchemy URL appears nowhere.
    assert!(!all_output(stack.path(), &["--json"]).contains("app-secret"));

    let pg = procs_pid_on(stack.port("DB_PORT"));
    procs.end(pg);
    let (_, report) = stack.doctor(&["--only", "database"]);
    let down = titles(&report, "DB001");
    assert_eq!(down.len(), 2, "{down:?}");
    assert!(down.iter().any(|t| t.contains("DATABASE_URL")), "{down:?}");
}

/// Class 1: a key written twice in `.env` is one URL (the last one wins, as
/// dotenv reads it), not two services. Class 8: `--port 5432` asks about a
/// database port, so it is probed as a database.
#[test]
fn duplicate_env_key_is_one_service_and_a_database_port_is_probed() {
    let (old, new) = (free_port(), free_port());
    let dir = project(&[
        (
            "frontend/.env",
            &format!("VITE_API_URL=http://localhost:{old}\nVITE_API_URL=http://localhost:{new}\n"),
        ),
        (
            "frontend/src/api.js",
            "export const base = import.meta.env.VITE_API_URL\n",
        ),
    ]);
    let (_, report) = doctor_json(dir.path(), &["--only", "ports"]);
    let ports: Vec<u64> = report["project"]["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["port"].as_u64().unwrap())
        .collect();
    assert_eq!(ports, [u64::from(new)], "{report:#}");

    // Only meaningful where nothing listens on 5432 here.
    if std::net::TcpStream::connect("127.0.0.1:5432").is_err() {
        let (code, report) = doctor_json(dir.path(), &["--only", "database", "--port", "5432"]);
        assert_eq!(code, 1, "{report:#}");
        assert_eq!(
            findings(&report, "DB001")[0]["evidence"]["source"],
            "--port"
        );
    }
}

/// `doctor/v1` as docs/json-schema.json describes it: real reports (healthy,
/// broken, `doctor port`, `--strict`) validate against it, with the
/// jsonschema package of the test venv.
#[test]
fn reports_validate_against_the_json_schema() {
    let mut procs = Procs::new();
    let stack = Stack::new("flask-factory");
    stack.link_venv(".venv");
    start_flask(&mut procs, &stack);
    let api = stack.port("API_PORT").to_string();
    let broken = Stack::new("fastapi-pkg-root");
    let mut reports = Vec::new();
    for (dir, args) in [
        (stack.path(), vec![]),
        (stack.path(), vec!["port", api.as_str()]),
        (stack.path(), vec!["--strict"]),
        (broken.path(), vec![]),
    ] {
        let mut all = args.clone();
        all.push("--json");
        let out = doctor_in(dir, &all);
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        // The status agrees with the exit code, --strict included.
        let code = out.status.code().unwrap();
        assert_eq!(
            report["status"] == "fail",
            code == 1,
            "{args:?}: {report:#}"
        );
        reports.push(report);
    }
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), serde_json::to_string(&reports).unwrap()).unwrap();
    let check = "import json, sys, jsonschema\nschema = json.load(open(sys.argv[1]))\nfor r in json.load(open(sys.argv[2])):\n    jsonschema.validate(r, schema)\nprint('valid')\n";
    let out = std::process::Command::new(venv().join("bin/python"))
        .args(["-c", check])
        .arg(root().join("docs/json-schema.json"))
        .arg(file.path())
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("valid"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
