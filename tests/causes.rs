//! One root cause per failure, and fixes that are always right (issue #9):
//! real processes broken the way the seed write-ups describe; the report
//! leads with the cause, folds its consequences (`caused_by`), and
//! `--fix --yes` never breaks a healthy server.

mod common;

use std::process::{Command, Stdio};

use common::stack::*;
use common::*;
use serde_json::Value;

/// The finding a consequence points at.
fn cause_of<'a>(report: &'a Value, f: &Value) -> &'a Value {
    let i = f["caused_by"].as_u64().expect("a consequence") as usize;
    &report["findings"][i]
}

fn the<'a>(report: &'a Value, code: &str) -> &'a Value {
    let all = findings(report, code);
    assert_eq!(all.len(), 1, "one {code}: {report:#}");
    all[0]
}

/// `uvicorn --reload` whose worker dies at import: the reloader lives on with
/// a bound socket that never listens. The cause is PY003 naming the missing
/// module; PORT001 is folded under it with the reloader's socket as
/// evidence; nothing calls that socket a leftover, nothing says PROC007.
#[test]
fn reloader_with_worker_dead_at_import() {
    let port = free_port();
    let dir = project(&[
        (
            "main.py",
            "import psycopg  # the driver, not installed\nfrom fastapi import FastAPI\n\napp = FastAPI()\n",
        ),
        ("requirements.txt", "fastapi\nuvicorn\n"),
    ]);
    std::os::unix::fs::symlink(venv(), dir.path().join(".venv")).unwrap();
    let mut procs = Procs::new();
    let log = dir.path().join("uvicorn.log");
    let reloader = procs.spawn(
        std::process::Command::new(venv().join("bin/uvicorn"))
            .args(["main:app", "--reload", "--port", &port.to_string()])
            .current_dir(dir.path())
            .stderr(std::fs::File::create(&log).unwrap()),
    );
    // Readiness: the worker's traceback is written (the worker is left
    // defunct beside multiprocessing's resource tracker).
    eventually("the worker has died at import", || {
        std::fs::read_to_string(&log).is_ok_and(|t| t.contains("No module named 'psycopg'"))
    });
    let (code, report) = doctor_json(dir.path(), &[]);
    assert_eq!(code, 1);
    let py = the(&report, "PY003");
    assert!(py["caused_by"].is_null(), "PY003 is the cause");
    assert!(
        py["title"]
            .as_str()
            .unwrap()
            .contains("No module named 'psycopg'"),
        "{py:#}"
    );
    let down = the(&report, "PORT001");
    assert_eq!(cause_of(&report, down)["code"], "PY003");
    assert_eq!(down["evidence"]["port"], port);
    assert_eq!(down["evidence"]["bound_not_listening"][0]["pid"], reloader);
    assert!(findings(&report, "PORT004").is_empty(), "{report:#}");
    assert!(findings(&report, "PROC007").is_empty(), "{report:#}");
    // The cause comes first.
    assert_eq!(report["findings"][0]["code"], "PY003");
    assert_eq!(report["summary"]["causes"], 1);
}

/// A stopped PostgreSQL: DB001 is the cause, the compose service's PORT001
/// for the same port is its consequence.
#[test]
fn stopped_postgres_is_one_cause() {
    let stack = Stack::new("compose-db");
    stack.link_venv("backend/.venv");
    let (code, report) = stack.doctor(&["--only", "ports,database"]);
    assert_eq!(code, 1);
    let db_port = stack.port("DB_PORT");
    let db = findings(&report, "DB001")
        .into_iter()
        .find(|f| f["evidence"]["port"] == db_port)
        .expect("DB001 for PostgreSQL");
    assert!(db["caused_by"].is_null());
    let port = findings(&report, "PORT001")
        .into_iter()
        .find(|f| f["evidence"]["port"] == db_port)
        .expect("PORT001 for the same port");
    assert_eq!(cause_of(&report, port)["code"], "DB001");
}

/// A plain `flask run` (no reloader), stopped with SIGSTOP: PROC001 is the
/// cause and the hung health probe its consequence. `--fix --yes` resumes
/// it and ends nothing: the server answers afterwards.
#[test]
fn stopped_plain_flask_is_resumed_not_killed() {
    let mut procs = Procs::new();
    let stack = Stack::new("flask-factory");
    stack.link_venv(".venv");
    let port = stack.port("API_PORT");
    let flask = start_flask(&mut procs, &stack);
    start_vite(&mut procs, &stack, "frontend");
    stop(flask);
    let (code, report) = stack.doctor(&["--timeout", "1s", "--skip", "env,node"]);
    assert_eq!(code, 1);
    let stopped = the(&report, "PROC001");
    assert!(stopped["caused_by"].is_null());
    let hung = the(&report, "HEALTH002");
    assert_eq!(cause_of(&report, hung)["code"], "PROC001");
    assert!(findings(&report, "PROC007").is_empty(), "{report:#}");

    let out = doctor_in(
        stack.path(),
        &["--fix", "--yes", "--timeout", "1s", "--skip", "env,node"],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(is_alive(flask), "the server was ended:\n{text}");
    let addr = format!("127.0.0.1:{port}");
    assert!(http_get(&addr, "/api/health").contains("\"ok\""), "{text}");
}

/// Field gd fd P3-d7 (round 8, partial): `flask run --debug` with its
/// reloader stopped (SIGSTOP of the parent) while the worker, which shares
/// the socket, serves. PROC001 said "connections are accepted and never
/// answered"; they are answered. It is a warning naming the serving worker
/// (edits are not reloaded), and `--fix --yes` resumes the reloader and
/// ends nothing.
#[test]
fn stopped_reloader_whose_worker_serves_is_no_hang() {
    let mut procs = Procs::new();
    let stack = Stack::new("flask-factory");
    stack.link_venv(".venv");
    let port = stack.port("API_PORT");
    let reloader = start_venv(
        &mut procs,
        stack.path(),
        "flask",
        &["run", "--debug"],
        port,
        "/api/health",
    );
    let worker = listener_pids(&[port])
        .into_iter()
        .find(|p| *p != reloader)
        .expect("werkzeug's worker listens too");
    stop(reloader);
    let addr = format!("127.0.0.1:{port}");
    assert!(http_get(&addr, "/api/health").contains("\"ok\""));
    let (_, report) = stack.doctor(&["--timeout", "1s", "--skip", "env,node"]);
    let stopped = the(&report, "PROC001");
    assert_eq!(stopped["severity"], "warning", "{report:#}");
    let title = stopped["title"].as_str().unwrap();
    assert!(
        title.contains(&format!("its worker pid {worker} answers"))
            && !title.contains("never answered"),
        "{title}"
    );
    assert!(findings(&report, "HEALTH002").is_empty(), "{report:#}");
    doctor_in(
        stack.path(),
        &["--fix", "--yes", "--timeout", "1s", "--skip", "env,node"],
    );
    assert!(
        is_alive(reloader) && is_alive(worker),
        "a process was ended"
    );
    eventually("the reloader runs again", || !is_stopped(reloader));
}

/// A second vite of the same frontend on the next port: CORS is asked for
/// that origin too, and the fix names where the allowed origins are written
/// (the env key and its line) and that the backend must be restarted.
#[test]
fn second_frontend_instance_is_an_origin_too() {
    let mut procs = Procs::new();
    let stack = Stack::new("fastapi-fullstack");
    stack.link_venv("backend/.venv");
    // vite 5: since 8.4 vite refuses a second dev server of one project
    // ("Found another Vite dev process", its lock in node_modules/.vite/lock).
    let manifest = std::fs::read_to_string(stack.join("frontend/package.json")).unwrap();
    stack.write(
        "frontend/package.json",
        &manifest.replace(r#""vite": "^8.4.0""#, r#""vite": "^5.4.0""#),
    );
    start_fullstack_backend(&mut procs, &stack);
    start_vite(&mut procs, &stack, "frontend");
    let next = free_port();
    start_tool(
        &mut procs,
        &stack.join("frontend"),
        "vite",
        &["--port", &next.to_string()],
        next,
    );
    let (code, report) = stack.doctor(&["--only", "cors"]);
    assert_eq!(code, 1, "{report:#}");
    let rejected = the(&report, "CORS001");
    let origin = format!("http://localhost:{next}");
    assert_eq!(rejected["evidence"]["origin"], origin);
    let steps = rejected["fix"]["commands"].as_array().unwrap();
    assert_eq!(
        steps[0],
        format!("add {origin} to BACKEND_CORS_ORIGINS at .env:5")
    );
    assert!(
        steps[1].as_str().unwrap().contains("restart backend"),
        "{steps:?}"
    );
}

/// A frontend whose vite config binds 127.0.0.1: that is the origin the
/// browser has, so CORS is asked for it.
#[test]
fn frontend_bound_to_127_is_probed_as_such() {
    let mut procs = Procs::new();
    let stack = Stack::new("fastapi-fullstack");
    stack.link_venv("backend/.venv");
    let web = stack.port("WEB_PORT");
    stack.write(
        "frontend/vite.config.ts",
        &format!("export default {{\n  server: {{\n    host: \"127.0.0.1\",\n    port: {web},\n  }},\n}}\n"),
    );
    start_fullstack_backend(&mut procs, &stack);
    start_vite(&mut procs, &stack, "frontend");
    let (code, report) = stack.doctor(&["--only", "cors"]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(
        the(&report, "CORS001")["evidence"]["origin"],
        format!("http://127.0.0.1:{web}")
    );
}

/// A URL in the frontend's env that only the e2e tests read: with nothing
/// listening it is info, no ENV004, and no fix rewrites it or starts it.
#[test]
fn unrelated_url_in_frontend_env_is_context() {
    let stack = Stack::new("fastapi-fullstack");
    let mail = stack.port("MAIL_PORT");
    let (_, report) = stack.doctor(&["--only", "ports,env"]);
    assert!(findings(&report, "ENV004").is_empty(), "{report:#}");
    for f in report["findings"].as_array().unwrap() {
        if f["evidence"]["port"] == mail {
            assert_eq!(f["severity"], "info", "{f:#}");
        }
    }
    let out = doctor_in(stack.path(), &["--only", "ports,env", "--fix", "--dry-run"]);
    let text = String::from_utf8_lossy(&out.stdout);
    // A plan is printed (the backend's PORT001 has one), and it leaves the URL alone.
    let plan = text
        .split("Fix plan")
        .nth(1)
        .unwrap_or_else(|| panic!("no fix plan:\n{text}"));
    assert!(
        !plan.contains("mailcatcher") && !plan.contains(&mail.to_string()),
        "nothing to do about a URL only the tests use:\n{plan}"
    );
}

/// A stranger on the backend's port, started in the project folder: its
/// command line starts nothing the project runs, so it is PORT002.
#[test]
fn foreign_holder_in_the_project_folder() {
    let mut procs = Procs::new();
    let stack = Stack::new("compose-db");
    let port = stack.port("API_PORT");
    let (holder, _) = procs.python(
        &stack.join("backend"),
        LISTEN_ONLY,
        &["127.0.0.1", &port.to_string()],
    );
    let (code, report) = stack.doctor(&["--only", "ports,processes"]);
    assert_eq!(code, 1);
    let held = the(&report, "PORT002");
    assert_eq!(held["evidence"]["holders"][0]["pid"], holder);
}

/// A server named only with `--url` is checked, never planned for ending.
#[test]
fn url_target_is_checked_not_killed() {
    let mut procs = Procs::new();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    // A server that accepts and never answers: reported, not ended.
    let (pid, _) = procs.python(dir.path(), LISTEN_ONLY, &["127.0.0.1", &port.to_string()]);
    let url = format!("http://127.0.0.1:{port}/");
    let out = doctor_in(
        dir.path(),
        &["--url", &url, "--fix", "--dry-run", "--timeout", "1s"],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains(&format!("kill -TERM {pid}")), "{text}");
    assert!(is_alive(pid));
}

/// S-class 4 (issue #18): the backend's route raises; Starlette answers the
/// 500 from ServerErrorMiddleware, outside CORSMiddleware, with no
/// Access-Control-Allow-Origin: the browser says CORS. doctor says it is a
/// server error, with the status and the body, folded under the route's
/// own 500 (HEALTH003); no CORS001 sends the user to the CORS settings.
#[test]
fn a_500_without_cors_headers_is_a_server_error_not_cors() {
    let mut procs = Procs::new();
    let stack = Stack::new("fastapi-fullstack");
    stack.link_venv("backend/.venv");
    stack.write(
        "backend/app/api/routes/utils.py",
        "from fastapi import APIRouter\n\nrouter = APIRouter(prefix=\"/utils\", tags=[\"utils\"])\n\n\n@router.get(\"/health-check/\")\nasync def health_check() -> bool:\n    raise RuntimeError(\"the cache is not configured\")\n",
    );
    let api = stack.port("API_PORT");
    procs.spawn(
        std::process::Command::new(venv().join("bin/uvicorn"))
            .args([
                "app.main:app",
                "--host",
                "127.0.0.1",
                "--port",
                &api.to_string(),
            ])
            .current_dir(stack.join("backend"))
            .stderr(std::process::Stdio::null()),
    );
    let addr = format!("127.0.0.1:{api}");
    wait_listening(&addr);
    eventually("uvicorn answers the health route with its 500", || {
        http_get(&addr, "/api/v1/utils/health-check/").starts_with("HTTP/1.1 500")
    });
    start_vite(&mut procs, &stack, "frontend");
    let (_, report) = stack.doctor(&["--only", "cors,health"]);
    assert!(findings(&report, "CORS001").is_empty(), "{report:#}");
    let cors = findings(&report, "CORS005");
    assert_eq!(cors.len(), 1, "{report:#}");
    let f = cors[0];
    assert_eq!(f["evidence"]["status"], 500);
    assert_eq!(f["evidence"]["body"], "Internal Server Error");
    assert!(f["evidence"]["error_path"]
        .as_str()
        .unwrap()
        .contains("ServerErrorMiddleware"));
    // The 500 of the health route the code declares is the root
    // (HEALTH003); what the browser calls CORS folds under it.
    let all = report["findings"].as_array().unwrap();
    let cause = f["caused_by"]
        .as_u64()
        .unwrap_or_else(|| panic!("not folded: {report:#}"));
    assert_eq!(all[cause as usize]["code"], "HEALTH003", "{report:#}");
    assert_eq!(all[cause as usize]["evidence"]["status"], 500);
    assert_eq!(loud_codes(&report), ["HEALTH003", "CORS005"], "{report:#}");
}

/// Field round 7 (ga fa P2 c5, gd fd P1 G): the CORS fix of a backend whose
/// origins are in its code. The running server says whether the edit is
/// enough: under `uvicorn --reload` it is (no restart step); without it,
/// the restart is the running command line (its `--port`), not a guessed
/// start on the framework's default port.
#[test]
fn cors_fix_restarts_only_a_server_that_does_not_reload() {
    let stack = Stack::new("uvicorn-procfile");
    stack.link_venv("backend/.venv");
    let api = stack.port("API_PORT");
    let origin = format!("http://localhost:{}", free_port());
    for reload in [true, false] {
        let mut procs = Procs::new();
        let mut args = vec!["main:app", "--host", "127.0.0.1"];
        let port = api.to_string();
        args.extend(["--port", &port]);
        if reload {
            args.push("--reload");
        }
        start_venv(
            &mut procs,
            &stack.join("backend"),
            "uvicorn",
            &args,
            api,
            "/health",
        );
        let (_, report) = stack.doctor(&["--only", "cors", "--origin", &origin]);
        let rejected = the(&report, "CORS001");
        let steps = rejected["fix"]["commands"].to_string();
        if reload {
            assert!(
                !steps.contains("restart"),
                "a reloader needs no restart: {steps}"
            );
        } else {
            assert!(
                steps.contains(&format!("--port {api}")) && steps.contains("restart"),
                "the restart is the running command: {steps}"
            );
        }
    }
}

/// Field round 7/9 (ga fa P3 c6, partial): the allowed origins come from
/// an env variable the server was started with (`FRONTEND_ORIGINS`, read
/// with a default of `*`), and the running process's environment lacks
/// the frontend's origin. The fix said to edit the code's list; it names
/// the variable, its read line and the pid whose environment sets it, and
/// restarting with the origin added to it repairs CORS (real uvicorn).
#[test]
fn cors_origins_from_the_running_servers_environment() {
    let stack = Stack::new("uvicorn-procfile");
    stack.link_venv("backend/.venv");
    let api = stack.port("API_PORT");
    let origin = format!("http://localhost:{}", free_port());
    stack.write(
        "backend/main.py",
        "import os\n\nfrom fastapi import FastAPI\nfrom fastapi.middleware.cors import CORSMiddleware\n\napp = FastAPI()\n\nfrontend_origins = os.getenv(\"FRONTEND_ORIGINS\", \"*\")\nallow_origins = [o.strip() for o in frontend_origins.split(\",\") if o.strip()]\n\napp.add_middleware(\n    CORSMiddleware,\n    allow_origins=allow_origins,\n    allow_methods=[\"*\"],\n    allow_headers=[\"*\"],\n)\n\n\n@app.get(\"/health\")\ndef health():\n    return {\"status\": \"ok\"}\n",
    );
    let start = |procs: &mut Procs, origins: &str| {
        let pid = procs.spawn(
            Command::new(venv().join("bin/uvicorn"))
                .args([
                    "main:app",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    &api.to_string(),
                ])
                .env("FRONTEND_ORIGINS", origins)
                .current_dir(stack.join("backend"))
                .stderr(Stdio::null()),
        );
        answers_200(api, "/health");
        pid
    };
    let mut procs = Procs::new();
    let first = start(&mut procs, "http://localhost:5173");
    let (_, report) = stack.doctor(&["--only", "cors", "--origin", &origin]);
    let rejected = the(&report, "CORS001");
    let steps = rejected["fix"]["commands"].to_string();
    assert!(
        steps.contains("FRONTEND_ORIGINS")
            && steps.contains("backend/main.py:8")
            && steps.contains(&format!("pid {first}")),
        "{steps}"
    );
    // As printed: the variable with the origin added, the server restarted.
    drop(procs);
    let mut procs = Procs::new();
    start(&mut procs, &format!("http://localhost:5173,{origin}"));
    let (_, report) = stack.doctor(&["--only", "cors", "--origin", &origin]);
    assert!(findings(&report, "CORS001").is_empty(), "{report:#}");
}

/// Field round 7/9 (gd fd P1 G, partial): the CORS set-up has a branch
/// for production and one for development. The fix cited the production
/// branch's `allow_origins`, so editing it changed nothing; it cites the
/// line the development run takes, and that edit, picked up by the
/// reloader, repairs CORS (real uvicorn --reload).
#[test]
fn the_cors_fix_cites_the_development_branch() {
    let stack = Stack::new("uvicorn-procfile");
    stack.link_venv("backend/.venv");
    let api = stack.port("API_PORT");
    let origin = format!("http://localhost:{}", free_port());
    let main = |dev_origins: &str| {
        format!("import os\n\nfrom fastapi import FastAPI\nfrom fastapi.middleware.cors import CORSMiddleware\n\nENVIRONMENT = os.environ.get(\"ENVIRONMENT\", \"development\")\n\n\ndef cors_config():\n    if ENVIRONMENT == \"production\":\n        # Production CORS - restrictive\n        return dict(\n            allow_origins=[\"https://shop.example\"],\n        )\n    else:\n        return dict(\n            allow_origins=[{dev_origins}],\n        )\n\n\napp = FastAPI()\napp.add_middleware(CORSMiddleware, allow_methods=[\"*\"], allow_headers=[\"*\"], **cors_config())\n\n\n@app.get(\"/health\")\ndef health():\n    return {{\"status\": \"ok\"}}\n")
    };
    stack.write("backend/main.py", &main("\"http://localhost:3000\""));
    let mut procs = Procs::new();
    let port = api.to_string();
    start_venv(
        &mut procs,
        &stack.join("backend"),
        "uvicorn",
        &[
            "main:app",
            "--host",
            "127.0.0.1",
            "--port",
            &port,
            "--reload",
        ],
        api,
        "/health",
    );
    let (_, report) = stack.doctor(&["--only", "cors", "--origin", &origin]);
    let steps = the(&report, "CORS001")["fix"]["commands"].to_string();
    assert!(steps.contains("backend/main.py:17"), "{steps}");
    // As printed: the origin added at that line; the reloader picks it up.
    stack.write(
        "backend/main.py",
        &main(&format!("\"http://localhost:3000\", \"{origin}\"")),
    );
    eventually("the reloaded server allows the origin", || {
        let up = http_get(&format!("127.0.0.1:{api}"), "/health").contains(" 200");
        let (_, report) = stack.doctor(&["--only", "cors", "--origin", &origin]);
        // Its twin (`127.0.0.1`) is CORS003's to say.
        up && findings(&report, "CORS001").is_empty()
    });
}
