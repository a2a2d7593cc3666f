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
    let modules = stack.join("frontend/node_modules");
    node_tool(&modules, "vite", "7.1.0");
    node_package(&modules, "react", "19.1.0", None);
    let data = start_postgres(procs, stack.port("DB_PORT"));
    let api = stack.port("API_PORT").to_string();
    start_venv(
        procs,
        &stack.join("backend"),
        "uvicorn",
        &["app.main:app", "--host", "127.0.0.1", "--port", &api],
        stack.port("API_PORT"),
        "/api/v1/utils/health-check/",
    );
    start_tool(
        procs,
        &stack.join("frontend"),
        "vite",
        &[],
        stack.port("WEB_PORT"),
    );
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
    assert_eq!(db[0]["evidence"]["source"], ".env:7");
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
        format!("cd backend && uvicorn app.main:app --host 127.0.0.1 --port {api}")
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
    node_tool(&stack.join("frontend/node_modules"), "vite", "6.3.0");
    let backend = pkg_root_backend(&mut procs, &stack);
    start_tool(
        &mut procs,
        &stack.join("frontend"),
        "vite",
        &[],
        stack.port("WEB_PORT"),
    );
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
