//! The real frameworks, started the way their users start them, and broken
//! the way users break them (issue #16, part 3). Every healthy baseline is
//! silent and `--fix --yes` on it changes no file and ends no process.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::stack::*;
use common::*;
use serde_json::Value;

fn titles(report: &Value, code: &str) -> Vec<String> {
    findings(report, code)
        .iter()
        .map(|f| f["title"].as_str().unwrap().to_string())
        .collect()
}

/// `npm run SCRIPT` in `dir`, as a user types it; waits until `port` answers
/// `path` with 200 (a dev server compiles its first page on demand).
fn npm_run(procs: &mut Procs, dir: &Path, script: &str, port: u16, path: &str) -> u32 {
    let pid = procs.spawn(
        Command::new("npm")
            .args(["run", script])
            .current_dir(dir)
            .env("NEXT_TELEMETRY_DISABLED", "1")
            .env("BROWSER", "none")
            .stderr(Stdio::null()),
    );
    // answers_200 polls for up to 180 s: CRA compiles before it listens.
    answers_200(port, path);
    pid
}

fn next_dev_is_the_frontend(range: &str) {
    let mut procs = Procs::new();
    let stack = Stack::new("next-dev");
    let manifest = std::fs::read_to_string(stack.join("package.json")).unwrap();
    let react = if range.starts_with("^14") {
        "^18.3.1"
    } else {
        "^19.1.0"
    };
    stack.write(
        "package.json",
        &manifest
            .replace(r#""next": "^15.5.0""#, &format!(r#""next": "{range}""#))
            .replace(r#""^19.1.0""#, &format!("\"{react}\"")),
    );
    install_framework(stack.path(), "next");
    let web = stack.port("WEB_PORT");
    npm_run(&mut procs, stack.path(), "dev", web, "/");
    // The server is `next-server (vX)`, a child of `node …/next dev`.
    let report = stack.assert_silent();
    assert!(titles(&report, "PORT002").is_empty(), "{report:#}");
    stack.assert_fix_yes_is_inert();
}

/// S31: `next dev` renames its server process `next-server (v14.2.8)`, so
/// its command line holds no path: it is still the project's frontend (its
/// cwd is the project, its parent runs the project's `next dev`).
#[test]
fn next14_dev_is_the_frontend() {
    next_dev_is_the_frontend("^14.2.8");
}

#[test]
fn next15_dev_is_the_frontend() {
    next_dev_is_the_frontend("^15.5.0");
}

/// The vite-settings stack: a FastAPI backend with `uvicorn --reload` from
/// `backend/` (the test venv as its `.venv`), vite from `frontend/`.
fn vite_settings(procs: &mut Procs) -> Stack {
    let stack = Stack::new("vite-settings");
    stack.link_venv("backend/.venv");
    let api = stack.port("API_PORT");
    start_venv(
        procs,
        &stack.join("backend"),
        "uvicorn",
        &[
            "app.main:app",
            "--reload",
            "--host",
            "127.0.0.1",
            "--port",
            &api.to_string(),
        ],
        api,
        "/api/health",
    );
    install_framework(&stack.join("frontend"), "vite");
    let web = stack.port("WEB_PORT");
    npm_run(procs, &stack.join("frontend"), "dev", web, "/");
    stack
}

fn git(dir: &Path, args: &[&str]) {
    let ok = Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .status()
        .unwrap()
        .success();
    assert!(ok, "git {args:?}");
}

/// S34, S35, S36 and a one-line vite `server` block: settings that all have
/// defaults in code (no `backend/.env`, only the template), a deploy-only
/// requirement (`uvicorn-worker`, run only by the Dockerfile's gunicorn,
/// imported nowhere, not installed), a committed `frontend/.env` of `VITE_*`
/// values: silent, and `--fix --yes` installs nothing and copies nothing.
#[test]
fn defaults_in_code_deploy_requirements_and_public_env_files_are_silent() {
    let mut procs = Procs::new();
    let stack = vite_settings(&mut procs);
    git(stack.path(), &["init", "-q"]);
    std::fs::write(
        stack.join(".gitignore"),
        "node_modules/\n.venv/\n__pycache__/\n",
    )
    .unwrap();
    git(stack.path(), &["add", "."]);
    git(stack.path(), &["commit", "-q", "-m", "init"]);

    // A package no service of the stack runs from (a mock API for demos).
    stack.write(
        "mock-server/package.json",
        r#"{"name": "mock", "private": true, "dependencies": {"json-server": "^1.0.0"}}"#,
    );
    let report = stack.assert_silent();
    let web = report["project"]["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == "vite")
        .unwrap_or_else(|| panic!("no vite service: {report:#}"));
    assert_eq!(web["port"], stack.port("WEB_PORT"), "{web:#}");
    // vite is a single process under `npm run dev`: a server and its
    // launchers, no reloader. uvicorn --reload: a reloader and its worker.
    let roles = |s: &serde_json::Value| -> Vec<String> {
        s["running"]
            .as_array()
            .unwrap_or_else(|| panic!("no running processes: {s:#}"))
            .iter()
            .map(|r| r["role"].as_str().unwrap().to_string())
            .collect()
    };
    // (npm runs the script through `sh -c`: two launchers.)
    let web_roles = roles(web);
    assert_eq!(
        web_roles.last().map(String::as_str),
        Some("server"),
        "{web:#}"
    );
    assert!(
        web_roles[..web_roles.len() - 1]
            .iter()
            .all(|r| r == "launcher")
            && web_roles.len() > 1,
        "{web:#}"
    );
    assert_eq!(
        roles(service_of(&report, "fastapi")),
        ["reloader", "worker"],
        "{report:#}"
    );
    for code in ["ENV001", "ENV005", "PY002"] {
        let loud: Vec<_> = findings(&report, code)
            .into_iter()
            .filter(|f| f["severity"] != "info")
            .collect();
        assert!(loud.is_empty(), "{code}: {loud:#?}");
    }
    stack.assert_fix_yes_is_inert();
    assert!(
        !stack.join("backend/.env").exists(),
        "the template was copied"
    );
    let shown = Command::new(venv().join("bin/python"))
        .args(["-m", "pip", "show", "-q", "uvicorn-worker"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(
        !shown.success(),
        "--fix --yes installed a deploy-only requirement"
    );
}

/// S32: vite restarts itself when its own env files change, and reads no
/// other folder's: neither edit makes vite "serve old code". The backend's
/// settings (read once at start from `backend/.env`) are its own story.
#[test]
fn vite_reloads_its_own_env_and_ignores_the_backends() {
    let mut procs = Procs::new();
    let stack = vite_settings(&mut procs);
    let web = stack.port("WEB_PORT");
    stack.assert_silent();

    // vite serves the new value once it has restarted on the change.
    let env = std::fs::read_to_string(stack.join("frontend/.env")).unwrap();
    stack.write("frontend/.env", &env.replace("=Shop", "=Shop2"));
    let addr = format!("127.0.0.1:{web}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !http_get_as_browser(&addr, "/src/main.js").contains("Shop2") {
        assert!(
            std::time::Instant::now() < deadline,
            "vite never served the new env"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    stack.write("backend/.env", "APP_NAME=shop2\n");
    stack.write(".env", "COMPOSE_PROJECT_NAME=shop\n");
    let (_, report) = stack.doctor(&[]);
    let on_vite: Vec<_> = findings(&report, "PROC004")
        .into_iter()
        .filter(|f| f["evidence"]["port"] == web)
        .collect();
    assert!(on_vite.is_empty(), "{on_vite:#?}");
}

/// S33: Flask ≥ 2.3 ignores `FLASK_ENV=development`: `flask run` without
/// `--debug` has no reloader, so an edit leaves the old code serving.
#[test]
fn flask_env_development_is_no_reloader() {
    let mut procs = Procs::new();
    let stack = Stack::new("flask-flaskenv");
    stack.link_venv(".venv");
    let api = stack.port("API_PORT");
    start_venv(
        &mut procs,
        stack.path(),
        "flask",
        &["run"],
        api,
        "/api/health",
    );
    stack.assert_silent();
    stack.assert_fix_yes_is_inert();

    let app = std::fs::read_to_string(stack.join("app.py")).unwrap();
    // A second later: the start time has a second's resolution.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    stack.write(
        "app.py",
        &format!("{app}\n\n@app.get(\"/api/v2\")\ndef v2():\n    return {{}}\n"),
    );
    let (_, report) = stack.doctor(&[]);
    let stale = titles(&report, "PROC004");
    assert_eq!(stale.len(), 1, "{report:#}");
    assert!(stale[0].contains("app.py"), "{stale:?}");
}

/// werkzeug's reloader (`flask run --debug`): the child with
/// `WERKZEUG_RUN_MAIN=true` serves and restarts on an edit: no PROC004.
#[test]
fn flask_debug_reloader_is_watching() {
    let mut procs = Procs::new();
    let stack = Stack::new("flask-flaskenv");
    stack.link_venv(".venv");
    let api = stack.port("API_PORT");
    let reloader = start_venv(
        &mut procs,
        stack.path(),
        "flask",
        &["run", "--debug"],
        api,
        "/api/health",
    );
    let report = stack.assert_silent();
    let worker = children(reloader);
    assert_eq!(worker.len(), 1, "werkzeug's reloader has one worker");
    // The state half, from the process tree: the reloader and its worker.
    let running = &service_of(&report, "flask")["running"];
    let roles: Vec<(u64, &str)> = running
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["pid"].as_u64().unwrap(), r["role"].as_str().unwrap()))
        .collect();
    assert_eq!(
        roles,
        [
            (u64::from(reloader), "reloader"),
            (u64::from(worker[0]), "worker")
        ],
        "{running:#}"
    );
    assert!(running
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["in_project"] == true));

    let app = std::fs::read_to_string(stack.join("app.py")).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2100));
    stack.write(
        "app.py",
        &format!("{app}\n\n@app.get(\"/api/v2\")\ndef v2():\n    return {{}}\n"),
    );
    // The reloader starts a new worker on the change.
    eventually("werkzeug restarts its worker", || {
        let now = children(reloader);
        now.len() == 1 && now != worker
    });
    answers_200(api, "/api/v2");
    stack.assert_silent();
}

/// S37: an old copy from another checkout holds vite's default port 5173;
/// the project's vite moved to 5174 on its own. The expected port is still
/// 5173: its holder is named there (PORT002), never the project's own vite.
/// In a network namespace of the test's own, where 5173 is free to take.
#[test]
fn frontend_moved_off_its_default_port_names_the_old_copy() {
    let Some(ns) = common::netns::Netns::new("vite-default") else {
        eprintln!("no network namespace here (needs root and ip): skipped");
        return;
    };
    let mut procs = Procs::new();
    let stack = Stack::new("vite-default");
    install_framework(stack.path(), "vite");
    let old = tempfile::tempdir().unwrap();
    let stranger = procs.spawn(
        ns.command(python())
            .args(["-m", "http.server", "5173", "--bind", "127.0.0.1"])
            .current_dir(old.path())
            .stderr(Stdio::null()),
    );
    ns.wait_listening(5173);
    let vite = procs.spawn(
        ns.command("node")
            .args(["node_modules/.bin/vite"])
            .current_dir(stack.path())
            .stderr(Stdio::null()),
    );
    ns.wait_listening(5174);
    let (code, report) = ns.doctor_json(stack.path(), &[]);
    assert_eq!(code, 1, "{report:#}");
    let held = findings(&report, "PORT002");
    assert_eq!(held.len(), 1, "{report:#}");
    assert_eq!(held[0]["evidence"]["port"], 5173);
    assert_eq!(
        held[0]["evidence"]["holders"][0]["pid"], stranger,
        "{report:#}"
    );
    assert_eq!(held[0]["evidence"]["moved_to"]["port"], 5174, "{report:#}");
    // The finding says which half its evidence came from: the holder is
    // what the running system shows, the expectation what a file says.
    let from = &held[0]["evidence_from"];
    assert!(
        from["running_system"]
            .as_array()
            .is_some_and(|k| k.contains(&"holders".into())),
        "{from:#}"
    );
    // The service's state half names the stranger on its port, outside the project.
    let running = &service_of(&report, "vite")["running"];
    assert_eq!(running[0]["pid"], stranger, "{running:#}");
    assert_eq!(running[0]["in_project"], false, "{running:#}");
    assert!(is_alive(vite));

    // Field fb P3-3: the old copy ended, :5173 is free and the project's
    // vite still runs on :5174. Not "✔ on :5174": the frontend's port
    // refuses, and the fix is to restart the vite the user runs (manual:
    // --fix --yes ends nothing and starts no second copy).
    procs.end(stranger);
    let (code, report) = ns.doctor_json(stack.path(), &[]);
    assert_eq!(code, 1, "{report:#}");
    let down = findings(&report, "PORT001");
    assert_eq!(down.len(), 1, "{report:#}");
    assert_eq!(down[0]["evidence"]["port"], 5173, "{report:#}");
    assert_eq!(down[0]["evidence"]["moved_to"]["port"], 5174, "{report:#}");
    assert_eq!(down[0]["fix"]["safety"], "manual", "{report:#}");
    ns.doctor_json(stack.path(), &["--fix", "--yes"]);
    assert!(is_alive(vite));
    assert!(!ns.accepts(5173), "a second copy was started");
}

/// Field round 7, fd P1 X (harmful): the terminal of `npm run dev` was
/// closed, its vite lives on as an orphan on :5173; the user's new
/// `npm run dev` moved to :5174. The orphan is the first cause, and names
/// the copy that moved because of it; its plan ends the orphan and says to
/// restart that copy so it takes :5173, never ends the copy, and the
/// re-check never says the copy "listens nowhere" (it listens on :5174).
#[test]
fn an_orphaned_vite_that_moved_the_users_vite() {
    let Some(ns) = common::netns::Netns::new("vite-orphan") else {
        eprintln!("no network namespace here (needs root and ip): skipped");
        return;
    };
    let mut procs = Procs::new();
    let stack = Stack::new("vite-default");
    // Vite 5 to 7 move to the next port; Vite 8 refuses to start beside
    // another dev server of the same project ("Found another Vite dev
    // process"), the field project ran Vite 7.
    stack.write(
        "package.json",
        r#"{"name": "vite-default", "private": true, "type": "module", "scripts": {"dev": "vite"}, "devDependencies": {"vite": "^5.4.0"}}"#,
    );
    install_framework(stack.path(), "vite");
    // `sh -c 'vite &'` exits at once: vite is reparented, as when the
    // terminal that ran it closed.
    let out = ns
        .command("sh")
        .args([
            "-c",
            "node node_modules/.bin/vite >/dev/null 2>&1 & echo $!",
        ])
        .current_dir(stack.path())
        .stderr(Stdio::null())
        .output()
        .unwrap();
    let orphan: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    procs.adopt(orphan);
    ns.wait_listening(5173);
    // The user's new copy: `npm run dev` (npm → sh -c vite → node vite).
    let npm = procs.spawn(
        ns.command("npm")
            .args(["run", "dev"])
            .current_dir(stack.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    ns.wait_listening(5174);
    let mut tree = vec![npm];
    let mut i = 0;
    while i < tree.len() {
        tree.extend(children(tree[i]));
        i += 1;
    }
    tree[1..].iter().for_each(|p| procs.adopt(*p));
    let copy = *tree
        .iter()
        .find(|p| {
            std::fs::read_to_string(format!("/proc/{p}/cmdline"))
                .is_ok_and(|c| c.starts_with("node\0") && c.contains(".bin/vite"))
        })
        .unwrap();

    let (_, report) = ns.doctor_json(stack.path(), &[]);
    let first = first_loud_root(&report);
    assert_eq!(first["code"], "PROC003", "{report:#}");
    assert_eq!(first["evidence"]["process"]["pid"], orphan, "{report:#}");
    assert_eq!(first["evidence"]["moved_to"]["port"], 5174, "{report:#}");
    let commands = first["fix"]["commands"].to_string();
    assert!(
        commands.contains("then restart") && commands.contains(&copy.to_string()),
        "the plan does not say to restart the moved copy: {commands}"
    );

    let out = ns
        .command(DOCTOR)
        .arg("--dir")
        .arg(stack.path())
        .args(["--fix", "--yes"])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!is_alive(orphan), "the orphan was not ended: {text}");
    assert!(is_alive(copy), "the user's vite was ended: {text}");
    assert!(
        !text.contains("listens nowhere"),
        "the moved copy is said to listen nowhere: {text}"
    );
    // Field round 8 (gd fd P1 X): no second vite of doctor's own on :5173;
    // the user's restart of their copy takes it.
    assert!(!ns.accepts(5173), "doctor started a second copy: {text}");
}

/// Field round 7 (ga P1 c6, gb P2 c2, gc P1 c6: three projects, missed or
/// partial): the backend started on another port than the one the frontend
/// calls. Its port is only the framework's default (8000), the vite proxy
/// targets :8000, and uvicorn runs `--port 8001`. The running port is where
/// the backend runs, and the proxy's :8000 is where the browser's calls go:
/// ENV004 at the proxy line is the first cause (the proxy's failure folds
/// under it), and `--fix --yes` points the proxy at :8001 (vite restarts on
/// its config), after which the API answers through vite.
#[test]
fn backend_on_another_port_than_the_proxy_target() {
    let Some(ns) = common::netns::Netns::new("proxy-port") else {
        eprintln!("no network namespace here (needs root and ip): skipped");
        return;
    };
    let mut procs = Procs::new();
    let stack = Stack::new("vite-settings");
    stack.link_venv("backend/.venv");
    let web = stack.port("WEB_PORT");
    stack.write(
        "frontend/vite.config.js",
        &format!(
            "import {{ defineConfig }} from \"vite\"\n\nexport default defineConfig({{\n  server: {{ host: \"127.0.0.1\", port: {web}, proxy: {{ \"/api\": \"http://127.0.0.1:8000\" }} }},\n}})\n"
        ),
    );
    install_framework(&stack.join("frontend"), "vite");
    procs.spawn(
        ns.command(venv().join("bin/uvicorn"))
            .args([
                "app.main:app",
                "--reload",
                "--host",
                "127.0.0.1",
                "--port",
                "8001",
            ])
            .current_dir(stack.join("backend"))
            .stderr(Stdio::null()),
    );
    ns.wait_listening(8001);
    procs.spawn(
        ns.command("node")
            .args(["node_modules/.bin/vite"])
            .current_dir(stack.join("frontend"))
            .stderr(Stdio::null()),
    );
    ns.wait_listening(web);

    let (code, report) = ns.doctor_json(stack.path(), &[]);
    assert_ne!(code, 0, "{report:#}");
    let first = first_loud_root(&report);
    assert_eq!(first["code"], "ENV004", "{report:#}");
    let roots: Vec<&str> = loud_roots(&report)
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert_eq!(roots, ["ENV004"], "one story: {report:#}");
    assert_eq!(
        first["evidence"]["source"], "frontend/vite.config.js:4",
        "{first:#}"
    );
    assert_eq!(first["evidence"]["url_port"], 8000, "{first:#}");
    assert_eq!(first["evidence"]["listening_port"], 8001, "{first:#}");
    for f in findings(&report, "HEALTH006") {
        assert!(
            !f["caused_by"].is_null(),
            "the proxy's failure is a consequence: {report:#}"
        );
    }

    ns.doctor_json(stack.path(), &["--fix", "--yes"]);
    let config = std::fs::read_to_string(stack.join("frontend/vite.config.js")).unwrap();
    assert!(config.contains("http://127.0.0.1:8001"), "{config}");
    let through_vite = || {
        ns.command("python3")
            .args([
                "-c",
                &format!("import urllib.request,sys\ntry:\n    sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:{web}/api/health', timeout=2).status == 200 else 1)\nexcept Exception:\n    sys.exit(1)"),
            ])
            .status()
            .is_ok_and(|s| s.success())
    };
    eventually("the API answers through vite", through_vite);
}

/// Field gb fb P2 D2b (round 8, partial): CRA's `"proxy"` names the
/// backend's default port while the backend runs on another one. The same
/// story as vite's proxy, with CRA's difference: it reads `"proxy"` once,
/// at start. ENV004 at the package.json line is the one root, its plan
/// edits the line and ends with the restart of the frontend, and
/// `--fix --yes` starts no second backend. Restarted as printed, the API
/// answers through CRA.
#[test]
fn cra_proxy_to_another_port_than_the_backend_runs_on() {
    let Some(ns) = common::netns::Netns::new("cra-proxy") else {
        eprintln!("no network namespace here (needs root and ip): skipped");
        return;
    };
    let mut procs = Procs::new();
    let stack = Stack::new("cra-fastapi");
    stack.link_venv("backend/.venv");
    let web = stack.port("WEB_PORT");
    stack.write("backend/Procfile", "web: uvicorn main:app\n");
    let pkg = std::fs::read_to_string(stack.join("frontend/package.json")).unwrap();
    let pkg = pkg
        .lines()
        .map(|l| {
            if l.contains("\"proxy\"") {
                "  \"proxy\": \"http://127.0.0.1:8000\",".to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    stack.write("frontend/package.json", &pkg);
    let proxy_line = pkg.lines().position(|l| l.contains("\"proxy\"")).unwrap() + 1;
    install_framework(&stack.join("frontend"), "react-scripts");
    procs.spawn(
        ns.command(venv().join("bin/uvicorn"))
            .args(["main:app", "--host", "127.0.0.1", "--port", "8001"])
            .current_dir(stack.join("backend"))
            .stderr(Stdio::null()),
    );
    ns.wait_listening(8001);
    let cra = |procs: &mut Procs| {
        procs.spawn(
            ns.command("node")
                .args(["node_modules/.bin/react-scripts", "start"])
                .env("PORT", web.to_string())
                .env("BROWSER", "none")
                .current_dir(stack.join("frontend"))
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        )
    };
    // CRA accepts before its first compile ends: ready is its page's 200
    // (polled inside the namespace, up to 120 s on a loaded machine). CRA
    // proxies only requests that do not accept HTML, as fetch's do.
    let answers = |path: &str, tries: u32| {
        ns.command("python3")
            .args([
                "-c",
                &format!("import urllib.request,sys,time\nfor _ in range({tries}):\n    try:\n        if urllib.request.urlopen(urllib.request.Request('http://127.0.0.1:{web}{path}', headers={{'Accept': 'application/json'}}), timeout=5).status == 200: sys.exit(0)\n    except Exception:\n        pass\n    time.sleep(0.2)\nsys.exit(1)"),
            ])
            .status()
            .is_ok_and(|s| s.success())
    };
    let first_cra = cra(&mut procs);
    assert!(answers("/", 600), "CRA never served its page");

    let (code, report) = ns.doctor_json(stack.path(), &[]);
    assert_ne!(code, 0, "{report:#}");
    let first = first_loud_root(&report);
    assert_eq!(first["code"], "ENV004", "{report:#}");
    assert_eq!(
        first["evidence"]["source"],
        format!("frontend/package.json:{proxy_line}"),
        "{first:#}"
    );
    assert_eq!(first["evidence"]["listening_port"], 8001, "{first:#}");
    let steps = first["fix"]["commands"].to_string();
    assert!(
        steps.contains("then restart") && steps.contains("npm run start"),
        "{steps}"
    );

    ns.doctor_json(stack.path(), &["--fix", "--yes"]);
    let pkg = std::fs::read_to_string(stack.join("frontend/package.json")).unwrap();
    assert!(pkg.contains("http://127.0.0.1:8001"), "{pkg}");
    assert!(
        !ns.accepts(8000),
        "--fix --yes started a second backend on :8000"
    );
    // The one step left, as printed: restart the frontend.
    procs.end(first_cra);
    cra(&mut procs);
    assert!(answers("/", 600), "CRA never served its page again");
    assert!(
        answers("/api/health", 50),
        "the API does not answer through CRA"
    );
}

/// Field ga N2 / D5 (rounds 7 and 8, partial): the frontend's code reads
/// `process.env.NEXT_PUBLIC_API_URL || "http://localhost:8000"`, no env
/// file sets the variable, and the backend runs on :8001. ENV004 named the
/// cause, and its fix edited the code's fallback. The fix sets the
/// variable in the frontend's `.env.local` (next reloads it by itself) and
/// leaves the code alone; afterwards doctor is silent about it.
#[test]
fn a_public_env_fallback_is_fixed_by_setting_the_variable() {
    let Some(ns) = common::netns::Netns::new("env-fallback") else {
        eprintln!("no network namespace here (needs root and ip): skipped");
        return;
    };
    let mut procs = Procs::new();
    let stack = Stack::new("next-python");
    stack.link_venv(".venv");
    let web = stack.port("WEB_PORT");
    stack.write(
        "package.json",
        &format!("{{\"name\": \"next-python\", \"private\": true, \"scripts\": {{\"fastapi-dev\": \"python3 -m uvicorn api.index:app --reload\", \"next-dev\": \"next dev --port {web}\"}}, \"dependencies\": {{\"next\": \"^15.0.0\"}}}}\n"),
    );
    stack.write("next.config.js", "module.exports = {}\n");
    let page = "const API = process.env.NEXT_PUBLIC_API_URL || \"http://localhost:8000\"\n\nexport default async function Home() {\n  const r = await fetch(`${API}/api/healthchecker`, { cache: \"no-store\" }).catch(() => null)\n  return <main>{r ? r.status : \"refused\"}</main>\n}\n";
    stack.write("app/page.js", page);
    install_framework(stack.path(), "next");
    procs.spawn(
        ns.command(venv().join("bin/python"))
            .args([
                "-m",
                "uvicorn",
                "api.index:app",
                "--reload",
                "--host",
                "127.0.0.1",
                "--port",
                "8001",
            ])
            .current_dir(stack.path())
            .stderr(Stdio::null()),
    );
    ns.wait_listening(8001);
    procs.spawn(
        ns.command("node")
            .args(["node_modules/.bin/next", "dev", "--port", &web.to_string()])
            .current_dir(stack.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    ns.wait_listening(web);

    let (_, report) = ns.doctor_json(stack.path(), &[]);
    let wrong = findings(&report, "ENV004");
    assert_eq!(wrong.len(), 1, "{report:#}");
    assert_eq!(
        wrong[0]["evidence"]["source"], "app/page.js:1",
        "{report:#}"
    );
    let title = wrong[0]["fix"]["title"].as_str().unwrap();
    assert!(
        title.starts_with("set NEXT_PUBLIC_API_URL=http://localhost:8001 in .env.local"),
        "{title}"
    );
    ns.doctor_json(stack.path(), &["--fix", "--yes"]);
    let env_local = std::fs::read_to_string(stack.join(".env.local")).unwrap();
    assert_eq!(env_local, "NEXT_PUBLIC_API_URL=http://localhost:8001\n");
    assert_eq!(
        std::fs::read_to_string(stack.join("app/page.js")).unwrap(),
        page
    );
    let (_, report) = ns.doctor_json(stack.path(), &[]);
    assert!(findings(&report, "ENV004").is_empty(), "{report:#}");
    // next reloaded `.env.local` by itself: its page reaches the backend.
    let reached = ns
        .command("python3")
        .args([
            "-c",
            &format!("import urllib.request,sys,time\nfor _ in range(120):\n    try:\n        if b'<main>200</main>' in urllib.request.urlopen('http://127.0.0.1:{web}/', timeout=30).read(): sys.exit(0)\n    except Exception:\n        pass\n    time.sleep(1)\nsys.exit(1)"),
        ])
        .status()
        .is_ok_and(|s| s.success());
    assert!(reached, "next's page does not reach the backend on :8001");
}

/// Field round 7 (gc fc P1 baseline, 1 run in 17 at load 16 on 2 cores): a
/// healthy vite whose first page takes longer than the probe waits was
/// ✖ HEALTH002. vite compiles on demand; a first answer still coming is
/// said as info, the run exits 0. The slow first page is made for real: a
/// plugin of the project's config that keeps vite's event loop busy for
/// 3 s when it first transforms index.html.
#[test]
fn a_vite_busy_with_its_first_page_is_no_hang() {
    let mut procs = Procs::new();
    let stack = Stack::new("vite-settings");
    std::fs::remove_dir_all(stack.join("backend")).unwrap();
    let web = stack.port("WEB_PORT");
    stack.write(
        "frontend/vite.config.js",
        &format!(
            "import {{ defineConfig }} from \"vite\"\n\nlet first = true\nconst slow = {{ name: \"slow-first-page\", transformIndexHtml(html) {{ if (first) {{ first = false; const t = Date.now(); while (Date.now() - t < 3000) {{}} }} return html }} }}\n\nexport default defineConfig({{\n  plugins: [slow],\n  server: {{ host: \"127.0.0.1\", port: {web}, strictPort: true }},\n}})\n"
        ),
    );
    install_framework(&stack.join("frontend"), "vite");
    start_tool(&mut procs, &stack.join("frontend"), "vite", &[], web);
    let (code, report) = stack.doctor(&["--timeout", "1s"]);
    let hang: Vec<&Value> = findings(&report, "HEALTH002");
    assert_eq!(
        hang.len(),
        1,
        "the slow first page was not seen: {report:#}"
    );
    assert_eq!(hang[0]["severity"], "info", "{report:#}");
    assert_eq!(code, 0, "{report:#}");
}

/// The Next + Express shape (field: a backend in `server/` whose port is a
/// constant in its code was never discovered): the root's `concurrently -k`
/// runs `next dev` and `nodemon server.js`. Silent and inert when healthy;
/// the Express server stopped is PROC001 on the API's port, resumed by
/// `--fix --yes`.
#[test]
fn next_and_express_under_concurrently() {
    let mut procs = Procs::new();
    let stack = Stack::new("next-express");
    install_node_tools(stack.path());
    install_framework(&stack.join("client"), "next");
    install_node_tools(&stack.join("server"));
    let (web, api) = (stack.port("WEB_PORT"), stack.port("API_PORT"));
    npm_run(&mut procs, stack.path(), "dev", web, "/");
    wait_listening(&format!("127.0.0.1:{api}"));
    answers_200(api, "/api/items");

    let report = stack.assert_silent();
    let server = report["project"]["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == "express")
        .unwrap_or_else(|| panic!("the express server is not discovered: {report:#}"));
    assert_eq!(server["port"], api, "{server:#}");
    assert_eq!(server["source"], "server/server.js:7", "{server:#}");
    stack.assert_fix_yes_is_inert();

    // Field round 7 (gb P3 c2x, gc P3 c7, harmful): an `npm install` while
    // the stack runs writes node_modules/.package-lock.json. Neither nodemon's
    // child nor next dev serves old code for it: silent, and --fix --yes
    // ends no one (it had restarted nodemon's child outside nodemon).
    for dir in ["server", "client"] {
        stack.write(
            &format!("{dir}/node_modules/.package-lock.json"),
            "{\"lockfileVersion\": 3}\n",
        );
    }
    stack.assert_silent();
    stack.assert_fix_yes_is_inert();

    let express = listener_pids(&[api]);
    assert_eq!(express.len(), 1, "{express:?}");
    stop(express[0]);
    let (code, report) = stack.doctor(&["--timeout", "1s"]);
    assert_eq!(code, 1);
    let first = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["caused_by"].is_null())
        .unwrap();
    assert_eq!(first["code"], "PROC001", "{report:#}");
    assert_eq!(first["evidence"]["port"], api, "{first:#}");
    doctor_in(stack.path(), &["--fix", "--yes", "--timeout", "1s"]);
    answers_200(api, "/api/items");

    // An env file the server reads once (nodemon watches no .env): old
    // settings. The fix lets nodemon restart its child (a touch of the
    // file it runs); never a detached copy outside nodemon.
    let child = listener_pids(&[api])[0];
    let nodemon = parent_of(child).unwrap();
    stack.write("server/.env", "GREETING=hello\n");
    let (_, report) = stack.doctor(&[]);
    let stale = findings(&report, "PROC004");
    assert_eq!(stale.len(), 1, "{report:#}");
    assert_eq!(
        stale[0]["fix"]["commands"][0], "touch server/server.js",
        "{report:#}"
    );
    doctor_in(stack.path(), &["--fix", "--yes"]);
    eventually("nodemon runs a new child on the port", || {
        listener_pids(&[api])
            .first()
            .is_some_and(|p| *p != child && parent_of(*p) == Some(nodemon))
    });
    answers_200(api, "/api/items");
}

/// Issue 19: a real vite proxying `/api` to 127.0.0.1 while the backend
/// listens on `::1` only. The browser's API calls fail through the proxy
/// (vite 8 answers 502): that failure is the evidence, folded under its
/// cause, the address split.
#[test]
fn vite_proxy_to_the_wrong_address_is_evidence_of_the_split() {
    if !ipv6_loopback_works() {
        eprintln!("no IPv6 loopback here: skipped");
        return;
    }
    let mut procs = Procs::new();
    let stack = Stack::new("vite-settings");
    stack.link_venv("backend/.venv");
    let api = stack.port("API_PORT");
    procs.spawn(
        Command::new(venv().join("bin/uvicorn"))
            .args(["app.main:app", "--host", "::1", "--port", &api.to_string()])
            .current_dir(stack.join("backend"))
            .stderr(Stdio::null()),
    );
    wait_listening(&format!("[::1]:{api}"));
    install_framework(&stack.join("frontend"), "vite");
    npm_run(
        &mut procs,
        &stack.join("frontend"),
        "dev",
        stack.port("WEB_PORT"),
        "/",
    );
    let (code, report) = stack.doctor(&[]);
    assert_eq!(code, 1);
    let all = report["findings"].as_array().unwrap();
    let proxied = findings(&report, "HEALTH006");
    assert_eq!(proxied.len(), 1, "{report:#}");
    // vite 8 answers 502 Bad Gateway when the target refuses (vite 5: 500).
    assert_eq!(proxied[0]["evidence"]["status"], 502, "{:#}", proxied[0]);
    assert_eq!(
        proxied[0]["evidence"]["proxy"]["source"],
        "frontend/vite.config.js:4"
    );
    let cause = &all[proxied[0]["caused_by"]
        .as_u64()
        .expect("folded under a cause") as usize];
    assert_eq!(cause["code"], "PORT003", "{report:#}");
    assert!(cause["caused_by"].is_null());
    // The bind step is uvicorn's own flag, the address the proxy asks.
    let steps = cause["fix"]["commands"].to_string();
    assert!(
        steps.contains("start uvicorn bound to 127.0.0.1: `--host 127.0.0.1`"),
        "{steps}"
    );
    assert!(!steps.contains("0.0.0.0"), "{steps}");
}

/// Field gc fc P1 7 (round 7, partial): `runserver -6` listens on `[::1]`
/// while the clients call 127.0.0.1. The cause was right, its fix said
/// `--host 127.0.0.1`, which runserver rejects (`unrecognized arguments`).
/// The bind step is runserver's own address argument, without `-6`, and
/// running it as printed serves the clients' address.
#[test]
fn django_on_the_other_address_is_told_its_own_bind_argument() {
    if !ipv6_loopback_works() {
        eprintln!("no IPv6 loopback here: skipped");
        return;
    }
    let mut procs = Procs::new();
    let stack = Stack::new("django-runserver");
    stack.link_venv(".venv");
    let port = stack.port("API_PORT");
    let runserver = procs.spawn(
        Command::new(venv().join("bin/python"))
            .args(["manage.py", "runserver", "-6", &port.to_string()])
            .current_dir(stack.path())
            .stderr(Stdio::null()),
    );
    wait_listening(&format!("[::1]:{port}"));
    let (code, report) = stack.doctor(&[]);
    assert_eq!(code, 1, "{report:#}");
    let split = findings(&report, "PORT003");
    assert_eq!(split.len(), 1, "{report:#}");
    let steps: Vec<String> = split[0]["fix"]["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    let want = format!("`python manage.py runserver 127.0.0.1:{port}`");
    assert!(
        steps[0].contains(&want) && steps[0].contains("without `-6`"),
        "{steps:?}"
    );
    assert!(!steps.join(" ").contains("--host"), "{steps:?}");
    // The printed command, run as the user would, serves 127.0.0.1.
    procs.end(runserver);
    procs.spawn(
        Command::new(venv().join("bin/python"))
            .args(["manage.py", "runserver", &format!("127.0.0.1:{port}")])
            .current_dir(stack.path())
            .stderr(Stdio::null()),
    );
    wait_listening(&format!("127.0.0.1:{port}"));
    let (_, report) = stack.doctor(&[]);
    assert!(findings(&report, "PORT003").is_empty(), "{report:#}");
}

/// vite-settings whose backend's port is the project's own (its Procfile's
/// `--port API_PORT`).
fn vite_settings_with_procfile() -> Stack {
    let stack = Stack::new("vite-settings");
    stack.link_venv("backend/.venv");
    let api = stack.port("API_PORT");
    stack.write(
        "backend/Procfile",
        &format!("web: uvicorn app.main:app --reload --host 127.0.0.1 --port {api}\n"),
    );
    stack
}

/// That backend under `uvicorn --reload`, started on `port`.
fn start_backend_of_procfile(procs: &mut Procs, stack: &Stack, port: u16) {
    start_venv(
        procs,
        &stack.join("backend"),
        "uvicorn",
        &[
            "app.main:app",
            "--reload",
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
        ],
        port,
        "/api/health",
    );
}

/// Field ga fa P1 c7 (round 7, partial) and gc D20: the vite proxy target
/// edited to a port no server of the project is meant for, while the
/// backend runs on its own. doctor invented a service "proxy target" and
/// said to start it. PORT001 names the backend that runs and its port, and
/// the fix points the proxy line at it; applied as printed, the API
/// answers through vite.
#[test]
fn a_proxy_target_where_nothing_runs_points_at_the_running_backend() {
    let mut procs = Procs::new();
    let stack = vite_settings_with_procfile();
    let (api, web, nowhere) = (stack.port("API_PORT"), stack.port("WEB_PORT"), free_port());
    let config = std::fs::read_to_string(stack.join("frontend/vite.config.js")).unwrap();
    stack.write(
        "frontend/vite.config.js",
        &config.replace(&format!(":{api}\""), &format!(":{nowhere}\"")),
    );
    start_backend_of_procfile(&mut procs, &stack, api);
    start_vite(&mut procs, &stack, "frontend");
    let (code, report) = stack.doctor(&[]);
    assert_eq!(code, 1, "{report:#}");
    let first = first_loud_root(&report);
    assert_eq!(first["code"], "PORT001", "{report:#}");
    let title = first["title"].as_str().unwrap();
    assert!(title.contains(&format!("listens on :{api}")), "{title}");
    let steps = first["fix"]["commands"].as_array().unwrap();
    assert_eq!(
        steps[0],
        format!("change the port at frontend/vite.config.js:4 from {nowhere} to {api}"),
        "{steps:?}"
    );
    assert!(
        !first["fix"].to_string().contains("start the service named"),
        "{first:#}"
    );
    // vite restarts itself on its config: no restart step.
    assert!(
        !first["fix"].to_string().contains("then restart"),
        "{first:#}"
    );
    // The frontend whose proxy fails is no ✔ in the plain report (field ga D4).
    let out = doctor_in(stack.path(), &["--color", "never"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let row = text
        .lines()
        .find(|l| l.contains(&format!(":{web}")) && l.contains("frontend"))
        .unwrap_or_else(|| panic!("no frontend row:\n{text}"));
    // Its f-string health route (`f"{settings.api_prefix}/health"`) is
    // asked as `/api/health`, not as written (field gd P1-d1: a 400 ✔).
    let backend_row = text
        .lines()
        .find(|l| l.contains(&format!(":{api}")) && l.contains("backend"))
        .unwrap_or_else(|| panic!("no backend row:\n{text}"));
    assert!(backend_row.contains("answers /api/health 200"), "{text}");
    assert!(
        !row.starts_with('✔') && row.contains("HEALTH006 (from PORT001)"),
        "{text}"
    );
    // As printed: vite restarts on its config, the API answers through it.
    let config = std::fs::read_to_string(stack.join("frontend/vite.config.js")).unwrap();
    stack.write(
        "frontend/vite.config.js",
        &config.replace(&format!(":{nowhere}\""), &format!(":{api}\"")),
    );
    answers_200(web, "/api/health");
}

/// Field gd fd P1 H (round 9, borderline harmful): the backend started
/// with `--port` other than the one the project's files give it. ENV004
/// points the callers at it, and `--fix --yes` then started a second
/// backend on the files' port. The server that runs on purpose elsewhere
/// is named by PORT001 and never copied: after `--fix --yes` nothing
/// listens on the files' port and the API answers through vite.
#[test]
fn a_backend_run_on_another_port_on_purpose_is_never_copied() {
    let mut procs = Procs::new();
    let stack = vite_settings_with_procfile();
    let (api, web, other) = (stack.port("API_PORT"), stack.port("WEB_PORT"), free_port());
    start_backend_of_procfile(&mut procs, &stack, other);
    start_vite(&mut procs, &stack, "frontend");
    let (code, report) = stack.doctor(&[]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(first_loud_root(&report)["code"], "ENV004", "{report:#}");
    // The deploy-only requirement (`uvicorn-worker`, the Dockerfile's) is
    // info and explains nothing: it is no cause of the proxy's failure,
    // and `--fix --yes` installs nothing (it did, into the test venv).
    for f in findings(&report, "PY002") {
        assert_eq!(f["severity"], "info", "{f:#}");
    }
    let yes = doctor_in(stack.path(), &["--fix", "--yes"]);
    let yes = String::from_utf8_lossy(&yes.stdout);
    // Whatever listens on :api now is ended with the test, passing or not.
    assert!(
        adopt_listeners(&mut procs, api).is_empty(),
        "--fix --yes started a second backend on :{api}"
    );
    let shown = Command::new(venv().join("bin/python"))
        .args(["-m", "pip", "show", "-q", "uvicorn-worker"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(
        !shown.success(),
        "--fix --yes installed a deploy-only requirement:\n{yes}"
    );
    answers_200(web, "/api/health");
    let (_, report) = stack.doctor(&[]);
    for f in findings(&report, "PORT001") {
        assert!(
            !f["fix"].to_string().contains("doctor runs it detached"),
            "a second copy is offered: {f:#}"
        );
    }
}

/// Field gd fd P1 D3-o (round 9, harmful in effect): the backend started
/// by the user's own script, `nohup bash start.sh &`, from a shell that
/// then exited. The script is alive, its parent is gone: doctor called it
/// an orphaned tree, and `--fix --yes` ended the working `uvicorn --reload`
/// and started a copy without its environment. A tree under the user's
/// live launcher script runs detached on purpose: info, no fix, and
/// `--fix --yes` ends nothing.
#[test]
fn a_server_under_a_nohup_launcher_script_is_left_alone() {
    let mut procs = Procs::new();
    let stack = Stack::new("uvicorn-procfile");
    stack.link_venv("backend/.venv");
    let api = stack.port("API_PORT");
    stack.write(
        "start.sh",
        &format!(
            "cd backend\n{} main:app --reload --host 127.0.0.1 --port {api}\n",
            venv().join("bin/uvicorn").display()
        ),
    );
    let launched = Command::new("bash")
        .args(["-c", "nohup bash start.sh >/dev/null 2>&1 &"])
        .current_dir(stack.path())
        .status()
        .unwrap();
    assert!(launched.success());
    answers_200(api, "/health");
    // Every process of the tree is this test's to end, by pid.
    let serving = adopt_listeners(&mut procs, api);
    let reloader = serving
        .iter()
        .copied()
        .find(|p| !serving.contains(&parent_of(*p).unwrap_or(0)))
        .expect("the reloader");
    let script = parent_of(reloader).expect("the launcher script");
    procs.adopt(script);
    assert!(
        std::fs::read_to_string(format!("/proc/{script}/cmdline"))
            .unwrap()
            .contains("start.sh"),
        "the reloader's parent is the script"
    );

    let (code, report) = stack.doctor(&["--only", "processes"]);
    assert_eq!(code, 0, "{report:#}");
    for f in findings(&report, "PROC003") {
        assert_eq!(f["severity"], "info", "{f:#}");
        assert!(f["fix"].is_null(), "{f:#}");
    }
    doctor_in(stack.path(), &["--fix", "--yes", "--only", "processes"]);
    assert!(
        is_alive(script) && is_alive(reloader),
        "the user's server was ended"
    );
}

/// Field gc fc P2 c7 (round 9, partial): a misspelt submodule of an
/// installed package (`rest_framework.respons`). PY003 named it first, and
/// its fix said to install the package, which is installed. Python names
/// the first part it could not import: the package imported, the
/// submodule is the typo. The fix points at the import's line.
#[test]
fn a_misspelt_submodule_is_a_typo_not_a_missing_install() {
    let stack = Stack::new("uvicorn-procfile");
    stack.link_venv("backend/.venv");
    let main = std::fs::read_to_string(stack.join("backend/main.py")).unwrap();
    stack.write(
        "backend/main.py",
        &format!("from fastapi.respons import JSONResponse\n{main}"),
    );
    let (code, report) = stack.doctor(&["--only", "python"]);
    assert_eq!(code, 1, "{report:#}");
    let first = first_loud_root(&report);
    assert_eq!(first["code"], "PY003", "{report:#}");
    let fix = &first["fix"];
    assert_eq!(
        fix["title"],
        "correct the import at backend/main.py:1: fastapi is installed and has no module respons",
        "{fix:#}"
    );
    assert!(
        !fix["commands"][0].as_str().unwrap().contains("pip"),
        "{fix:#}"
    );
}

/// Field gd fd P2 E (round 9, missed): the client chooses its API by
/// `switch (import.meta.env.VITE_ENV)`, `client/.env.development` sets
/// `VITE_ENV=dev`, whose branch calls :API, and the server's `.env` moved
/// it to another port. doctor took every branch's literal for context
/// (info) and said "no problems found". The branch the env files choose is
/// the one the browser calls: PORT001 is an error naming the server, its
/// port's line, and the client's line to change.
#[test]
fn the_url_of_the_branch_the_env_chooses_is_called() {
    let mut procs = Procs::new();
    let stack = Stack::new("express-vite");
    install_node_tools(&stack.join("server"));
    install_framework(&stack.join("client"), "vite");
    let (web, api, other) = (stack.port("WEB_PORT"), stack.port("API_PORT"), free_port());
    stack.write(
        "server/index.js",
        &format!("require(\"dotenv\").config()\nconst express = require(\"express\")\n\nconst app = express()\napp.get(\"/api/health\", (req, res) => res.json({{ status: \"ok\" }}))\napp.listen(Number(process.env.PORT || {api}), \"127.0.0.1\")\n"),
    );
    stack.write(
        "server/package.json",
        r#"{"name": "server", "private": true, "scripts": {"dev": "node index.js"}, "dependencies": {"express": "^4.21.0", "dotenv": "^16.4.0"}}"#,
    );
    stack.write("server/.env", &format!("PORT={other}\n"));
    stack.write(
        "client/vite.config.js",
        &format!("export default {{ server: {{ port: {web} }} }}\n"),
    );
    stack.write(
        "client/src/envSetup.js",
        &format!("export function getEnvironment() {{\n  const environment = import.meta.env.VITE_ENV;\n  switch (environment) {{\n    case \"dev\":\n      return \"http://localhost:{api}\";\n    case \"mock\":\n      return \"http://localhost:{web}/\";\n    default:\n      return \"https://api.example.com/\";\n  }}\n}}\n"),
    );
    stack.write(
        "client/src/main.js",
        "import { getEnvironment } from \"./envSetup.js\"\nfetch(getEnvironment() + \"/api/health\")\n",
    );
    stack.write("client/.env.development", "VITE_ENV=dev\n");
    start_node(&mut procs, &stack.join("server"), &["index.js"], &[], other);
    start_tool(&mut procs, &stack.join("client"), "vite", &[], web);

    let (code, report) = stack.doctor(&[]);
    assert_eq!(code, 1, "{report:#}");
    let first = first_loud_root(&report);
    assert_eq!(first["code"], "PORT001", "{report:#}");
    assert_eq!(first["severity"], "error", "{first:#}");
    let title = first["title"].as_str().unwrap();
    assert!(
        title.contains(&format!("listens on :{other}")) && title.contains("server/.env:1"),
        "{title}"
    );
    assert_eq!(
        first["fix"]["commands"][0],
        format!("change the port at client/src/envSetup.js:5 from {api} to {other}"),
        "{first:#}"
    );
    // With VITE_ENV=mock the dev branch is context again: silent about :API.
    stack.write("client/.env.development", "VITE_ENV=mock\n");
    let (_, report) = stack.doctor(&[]);
    assert!(
        findings(&report, "PORT001")
            .iter()
            .all(|f| f["evidence"]["port"] != api || f["severity"] == "info"),
        "{report:#}"
    );
}

/// Flask cannot locate the app: `flask run` (the Procfile's) in a folder
/// with no FLASK_APP and no app.py/wsgi.py (the app is in server.py). The
/// real flask stops with "Could not locate a Flask application"; doctor's
/// cause is PY006 naming the module, with PORT001 folded under it.
#[test]
fn flask_that_cannot_locate_its_app() {
    let api = free_port();
    let dir = project(&[
        ("requirements.txt", "flask\n"),
        ("Procfile", &format!("web: flask run --port {api}\n")),
        (
            "server.py",
            "from flask import Flask\n\napp = Flask(__name__)\n\n\n@app.get(\"/\")\ndef index():\n    return \"ok\"\n",
        ),
    ]);
    std::os::unix::fs::symlink(venv(), dir.path().join(".venv")).unwrap();
    let ran = Command::new(venv().join("bin/flask"))
        .args(["run", "--port", &api.to_string()])
        .current_dir(dir.path())
        .env_remove("FLASK_APP")
        .output()
        .unwrap();
    assert!(!ran.status.success());
    assert!(
        String::from_utf8_lossy(&ran.stderr).contains("Could not locate a Flask application"),
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    let (code, report) = doctor_json(dir.path(), &[]);
    assert_eq!(code, 1);
    let all = report["findings"].as_array().unwrap();
    let cause = all.iter().find(|f| f["caused_by"].is_null()).unwrap();
    assert_eq!(cause["code"], "PY006", "{report:#}");
    assert_eq!(cause["evidence"]["app_module"], "server", "{cause:#}");
    assert!(cause["fix"]["commands"][0]
        .as_str()
        .unwrap()
        .contains("FLASK_APP=server"));
    let down = findings(&report, "PORT001");
    assert!(down.iter().all(|f| !f["caused_by"].is_null()), "{report:#}");
}

/// Field round 7 (gc fc P2 c7, missed): an import error in a view the URL
/// conf imports. `runserver`'s system checks import ROOT_URLCONF after
/// `django.setup()`; the import probe does the same, so the cause is PY003
/// at the view's line, not "nothing listens".
#[test]
fn django_import_error_below_the_url_conf_is_named() {
    let stack = Stack::new("django-runserver");
    stack.link_venv(".venv");
    stack.write(
        "mysite/views.py",
        "from django.http import JsonRespons\n\n\ndef v2(request):\n    return JsonRespons({\"v\": 2})\n",
    );
    let urls = std::fs::read_to_string(stack.join("mysite/urls.py")).unwrap();
    stack.write(
        "mysite/urls.py",
        &urls.replace(
            "from django.urls import path\n",
            "from django.urls import path\n\nfrom mysite import views\n",
        ),
    );
    let (code, report) = stack.doctor(&["--timeout", "1s"]);
    assert_eq!(code, 1, "{report:#}");
    let cause = first_loud_root(&report);
    assert_eq!(cause["code"], "PY003", "{report:#}");
    assert_eq!(
        cause["evidence"]["location"], "mysite/views.py:1",
        "{cause:#}"
    );
}

/// Field round 7 (gb fb P1 c5, partial since round 1): `config.py` loads
/// `.env` from its own folder (`load_dotenv(path.join(basedir, '.env'))`),
/// and the file is gone. Every setting is `None`, and `flask run` dies on
/// it far from the cause (`'NoneType' object has no attribute 'split'`).
/// The missing file, with the line that loads it, is the first cause; the
/// crash folds under it.
#[test]
fn a_missing_env_file_the_code_loads_is_the_cause() {
    let stack = Stack::new("flask-flaskenv");
    stack.link_venv(".venv");
    stack.write(
        "config.py",
        "from os import environ, path\nfrom dotenv import load_dotenv\n\nbasedir = path.abspath(path.dirname(__file__))\nload_dotenv(path.join(basedir, \".env\"))\n\nDATABASE_URI = environ.get(\"DATABASE_URI\")\n",
    );
    let app = std::fs::read_to_string(stack.join("app.py")).unwrap();
    stack.write(
        "app.py",
        &format!("from config import DATABASE_URI\n\nDRIVER = DATABASE_URI.split(\":\")[0]\n{app}"),
    );
    let (code, report) = stack.doctor(&["--timeout", "1s"]);
    assert_eq!(code, 1, "{report:#}");
    let cause = first_loud_root(&report);
    assert_eq!(cause["code"], "ENV001", "{report:#}");
    assert_eq!(cause["evidence"]["missing"], ".env", "{cause:#}");
    assert_eq!(cause["evidence"]["read_at"], "config.py:5", "{cause:#}");
    for crash in findings(&report, "PY003") {
        assert!(!crash["caused_by"].is_null(), "{report:#}");
    }

    // With the file there, nothing is said of it.
    stack.write(".env", "DATABASE_URI=sqlite:///app.db\n");
    let (_, report) = stack.doctor(&["--timeout", "1s"]);
    assert!(findings(&report, "ENV001").is_empty(), "{report:#}");
}

/// Field round 9 (gb fb P1 c8, partial): the env file the code loads is
/// there, but the line of the key the app needs was deleted. The read is
/// `environ.get` (None when unset), and the app crashes on the None at
/// start (`AttributeError: 'NoneType' object has no attribute …`). The
/// root is the key the file lacks, said first with the file to add it to;
/// the crash folds under it, not a "correct the code" at the crash's line.
#[test]
fn a_key_missing_from_the_env_file_the_code_loads_is_the_cause() {
    let stack = Stack::new("flask-flaskenv");
    stack.link_venv(".venv");
    stack.write(
        "config.py",
        "from os import environ, path\nfrom dotenv import load_dotenv\n\nbasedir = path.abspath(path.dirname(__file__))\nload_dotenv(path.join(basedir, \".env\"))\n\nSECRET_KEY = environ.get(\"SECRET_KEY\")\nDATABASE_URI = environ.get(\"DATABASE_URI\")\n",
    );
    let app = std::fs::read_to_string(stack.join("app.py")).unwrap();
    stack.write(
        "app.py",
        &format!("from config import DATABASE_URI\n\nDRIVER = DATABASE_URI.split(\":\")[0]\n{app}"),
    );
    stack.write(".env", "SECRET_KEY=dev\n");
    let (code, report) = stack.doctor(&["--timeout", "1s"]);
    assert_eq!(code, 1, "{report:#}");
    let cause = first_loud_root(&report);
    assert_eq!(cause["code"], "ENV007", "{report:#}");
    assert_eq!(cause["evidence"]["variable"], "DATABASE_URI", "{cause:#}");
    assert_eq!(cause["evidence"]["should_go"], ".env", "{cause:#}");
    assert_eq!(cause["severity"], "error", "{cause:#}");
    let crashes = findings(&report, "PY003");
    assert!(!crashes.is_empty(), "{report:#}");
    for crash in crashes {
        assert!(!crash["caused_by"].is_null(), "{report:#}");
    }

    // With the key back, the app starts: nothing is said of it.
    stack.write(".env", "SECRET_KEY=dev\nDATABASE_URI=sqlite:///app.db\n");
    let (_, report) = stack.doctor(&["--timeout", "1s"]);
    assert!(
        findings(&report, "ENV007").is_empty() && findings(&report, "PY003").is_empty(),
        "{report:#}"
    );
}

/// Field round 11 (gb fb P1 c8, still partial): the same, in the
/// project's shape: a settings class (`class Config: DATABASE_URI =
/// environ.get(...)`) loaded by name with `app.config.from_object(
/// 'config.Config')`, the crash in the app's package. The class was not
/// reached from the entry's imports, so its read did not count as run at
/// start-up, and the crash stayed the cause (real flask).
#[test]
fn a_key_missing_from_a_settings_class_loaded_by_name_is_the_cause() {
    let stack = Stack::new("flask-flaskenv");
    stack.link_venv(".venv");
    stack.write(
        "config.py",
        "from os import environ, path\nfrom dotenv import load_dotenv\n\nbasedir = path.abspath(path.dirname(__file__))\nload_dotenv(path.join(basedir, \".env\"))\n\n\nclass Config:\n    SECRET_KEY = environ.get(\"SECRET_KEY\")\n    DATABASE_URI = environ.get(\"DATABASE_URI\")\n",
    );
    stack.write(
        "app.py",
        "from flask import Flask\n\napp = Flask(__name__)\napp.config.from_object(\"config.Config\")\nDRIVER = app.config[\"DATABASE_URI\"].split(\":\")[0]\n\n\n@app.get(\"/api/health\")\ndef health():\n    return {\"status\": \"ok\"}\n",
    );
    stack.write(".env", "SECRET_KEY=dev\n");
    let (_, report) = stack.doctor(&["--timeout", "1s"]);
    let cause = first_loud_root(&report);
    assert_eq!(cause["code"], "ENV007", "{report:#}");
    assert_eq!(cause["evidence"]["variable"], "DATABASE_URI", "{cause:#}");
    for crash in findings(&report, "PY003") {
        assert!(!crash["caused_by"].is_null(), "{report:#}");
    }
}

/// Field round 7/9 (gd fd P3 B, missed): every page 500, Werkzeug's
/// debugger page naming an ImportError in the project's own module. The
/// finding was "answers 500" alone, its body cut before the `<title>`
/// that names the exception. Now HEALTH003 says the exception and the
/// project's line (real `flask run --debug`), with the fix at that line.
#[test]
fn werkzeugs_debugger_page_names_its_exception() {
    let mut procs = Procs::new();
    let stack = Stack::new("flask-flaskenv");
    stack.link_venv(".venv");
    // A name the module does not have: every request fails the same way
    // (a module whose own import fails may be half-seen by a concurrent
    // request on the threaded dev server, and answer once).
    stack.write("helpers.py", "def other():\n    pass\n");
    stack.write(
        "app.py",
        "from flask import Flask\n\napp = Flask(__name__)\n\n\n@app.get(\"/api/health\")\ndef health():\n    from helpers import thing  # noqa\n    return {\"status\": \"ok\"}\n",
    );
    let api = stack.port("API_PORT");
    procs.spawn(
        Command::new(venv().join("bin/flask"))
            .args(["run", "--debug"])
            .current_dir(stack.path())
            .stderr(Stdio::null()),
    );
    wait_listening(&format!("127.0.0.1:{api}"));
    let (_, report) = stack.doctor(&["--timeout", "10s"]);
    let failing = findings(&report, "HEALTH003");
    assert_eq!(failing.len(), 1, "{report:#}");
    let exception = &failing[0]["evidence"]["exception"];
    assert_eq!(exception["type"], "ImportError", "{report:#}");
    assert_eq!(exception["location"], "app.py:8", "{report:#}");
    let title = failing[0]["title"].as_str().unwrap();
    assert!(
        title.contains("ImportError: cannot import name 'thing' from 'helpers'")
            && title.contains("app.py:8"),
        "{title}"
    );
    assert!(
        failing[0]["fix"]["commands"][0]
            .as_str()
            .is_some_and(|s| s.starts_with("correct the code at app.py:8")),
        "{:#}",
        failing[0]["fix"]
    );
}

/// Field round 7/9 (gc fc P2 c5, partial): `SECRET_KEY` deleted from the
/// env the server starts with; runserver starts, and every request is a
/// bare 500 (`ImproperlyConfigured: The SECRET_KEY setting must not be
/// empty` in its log: the message middleware signs a cookie, and the debug
/// page itself fails on the settings). The unset variable (ENV007, info
/// while the server runs) was fourth, behind "answers 500". Now ENV007 is
/// the root, saying what Django does without it; the 500 folds under it
/// (real Django runserver, startproject's middleware).
#[test]
fn djangos_500s_without_its_secret_key_fold_under_the_unset_variable() {
    let mut procs = Procs::new();
    let stack = Stack::new("django-runserver");
    stack.link_venv(".venv");
    let settings = std::fs::read_to_string(stack.join("mysite/settings.py")).unwrap();
    stack.write(
        "mysite/settings.py",
        &settings
            .replace(
                "SECRET_KEY = \"dev-only\"",
                "import os\n\nSECRET_KEY = os.environ.get(\"SECRET_KEY\")",
            )
            .replace(
                "INSTALLED_APPS = [\"django.contrib.contenttypes\"]",
                // As startproject writes them: the message middleware
                // signs a cookie on every request.
                "INSTALLED_APPS = [\"django.contrib.contenttypes\", \"django.contrib.auth\", \"django.contrib.sessions\", \"django.contrib.messages\"]\nMIDDLEWARE = [\"django.middleware.security.SecurityMiddleware\", \"django.contrib.sessions.middleware.SessionMiddleware\", \"django.middleware.common.CommonMiddleware\", \"django.middleware.csrf.CsrfViewMiddleware\", \"django.contrib.auth.middleware.AuthenticationMiddleware\", \"django.contrib.messages.middleware.MessageMiddleware\"]",
            ),
    );
    let port = stack.port("API_PORT");
    procs.spawn(
        Command::new(venv().join("bin/python"))
            .args(["manage.py", "runserver", &format!("127.0.0.1:{port}")])
            .current_dir(stack.path())
            .env_remove("SECRET_KEY")
            .stderr(Stdio::null()),
    );
    wait_listening(&format!("127.0.0.1:{port}"));
    let (_, report) = stack.doctor(&["--timeout", "10s"]);
    let cause = first_loud_root(&report);
    assert_eq!(cause["code"], "ENV007", "{report:#}");
    assert_eq!(cause["evidence"]["variable"], "SECRET_KEY", "{report:#}");
    assert!(
        cause["title"]
            .as_str()
            .is_some_and(|t| t.contains("must not be empty")),
        "{cause:#}"
    );
    let failing = findings(&report, "HEALTH003");
    assert!(!failing.is_empty(), "{report:#}");
    for f in failing {
        assert!(!f["caused_by"].is_null(), "{report:#}");
    }
}

/// Field round 8 (gc fc P2 c5, harmful): Django's autoreloader and its
/// worker (`RUN_MAIN=true`, the same command line), the worker slow to
/// answer (a 500 after seconds, on a loaded machine). The worker is never
/// "a reloader with no worker": no PROC007, and `--fix --yes` ends neither.
#[test]
fn a_slow_django_worker_is_no_reloader_without_a_worker() {
    let mut procs = Procs::new();
    let stack = Stack::new("django-runserver");
    stack.link_venv(".venv");
    let urls = std::fs::read_to_string(stack.join("mysite/urls.py")).unwrap();
    stack.write(
        "mysite/urls.py",
        &urls
            .replace("from django.urls import path\n", "import time\n\nfrom django.urls import path\n")
            .replace(
                "urlpatterns = [",
                "def slow(request):\n    time.sleep(3)\n    return JsonResponse({}, status=500)\n\n\nurlpatterns = [\n    path(\"\", slow),",
            ),
    );
    let port = stack.port("API_PORT");
    let reloader = procs.spawn(
        Command::new(venv().join("bin/python"))
            .args(["manage.py", "runserver", &format!("127.0.0.1:{port}")])
            .current_dir(stack.path())
            .stderr(Stdio::null()),
    );
    answers_200(port, "/api/health/");
    let worker = listener_pids(&[port]);
    assert_eq!(worker.len(), 1);
    let (_, report) = stack.doctor(&["--timeout", "1s"]);
    assert!(findings(&report, "PROC007").is_empty(), "{report:#}");
    doctor_in(stack.path(), &["--fix", "--yes", "--timeout", "1s"]);
    assert!(is_alive(reloader), "the autoreloader was ended");
    assert!(is_alive(worker[0]), "the worker was ended");
}

/// Field round 7/8 (gc fc P1 c9, missed): every API call answers 500 (a
/// table that does not exist), while `/` is a 404 and the health probe
/// said ✔. The path the frontend's code calls on the backend is asked too:
/// its 500 is HEALTH003. When that path answers, the stack is silent.
#[test]
fn the_path_the_frontend_calls_is_asked() {
    let mut procs = Procs::new();
    let stack = Stack::new("django-runserver");
    stack.link_venv(".venv");
    let port = stack.port("API_PORT");
    // A frontend (not running here: only its code matters) that calls the API.
    stack.write(
        "frontend/package.json",
        r#"{"name": "web-ui", "private": true, "scripts": {"dev": "vite"}, "devDependencies": {"vite": "^5.4.0"}}"#,
    );
    stack.write(
        "frontend/src/api.js",
        // A template first (round 9, gc P1 c9: the first URL found was
        // `…/${task.id}`, so no literal path was asked at all).
        &format!("export const prereqs = (id) => fetch(`http://localhost:{port}/api/prereqs/${{id}}`)\nexport const tasks = () => fetch(\"http://localhost:{port}/api/tasks/\")\n"),
    );
    let urls = std::fs::read_to_string(stack.join("mysite/urls.py")).unwrap();
    let with_tasks = |body: &str| {
        urls.replace(
            "urlpatterns = [",
            &format!("def tasks(request):\n{body}\n\n\nurlpatterns = [\n    path(\"api/tasks/\", tasks),"),
        )
    };
    stack.write(
        "mysite/urls.py",
        &with_tasks("    return JsonResponse([], safe=False)"),
    );
    procs.spawn(
        Command::new(venv().join("bin/python"))
            .args([
                "manage.py",
                "runserver",
                "--noreload",
                &format!("127.0.0.1:{port}"),
            ])
            .current_dir(stack.path())
            .stderr(Stdio::null()),
    );
    answers_200(port, "/api/tasks/");
    let (_, report) = stack.doctor(&["--only", "health"]);
    let about_the_api: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            f["evidence"]["url"]
                .as_str()
                .is_some_and(|u| u.contains(&format!(":{port}/")))
        })
        .collect();
    assert!(about_the_api.is_empty(), "{report:#}");

    // The view fails as a missing table does: every call is a 500.
    stack.write(
        "mysite/urls.py",
        &with_tasks("    raise RuntimeError(\"no such table: tasks_task\")"),
    );
    // The server running has the old code (no reloader): end it, start
    // the new one on the same port.
    for pid in listener_pids(&[port]) {
        procs.end(pid);
    }
    procs.spawn(
        Command::new(venv().join("bin/python"))
            .args([
                "manage.py",
                "runserver",
                "--noreload",
                &format!("127.0.0.1:{port}"),
            ])
            .current_dir(stack.path())
            .stderr(Stdio::null()),
    );
    wait_listening(&format!("127.0.0.1:{port}"));
    let (_, report) = stack.doctor(&["--only", "health"]);
    let failing = findings(&report, "HEALTH003");
    assert_eq!(failing.len(), 1, "{report:#}");
    assert!(
        failing[0]["title"]
            .as_str()
            .unwrap()
            .contains("/api/tasks/"),
        "{report:#}"
    );
    assert_ne!(failing[0]["severity"], "info", "{report:#}");
}

/// S41: an app in INSTALLED_APPS that is not installed. Django's real
/// autoreloader stays alive, listening nowhere, its child dead at import.
/// The cause is PY003 with the module, the settings line that names it and
/// the distribution to install; `--fix --yes` does not end the autoreloader.
#[test]
fn django_app_not_installed_names_the_settings_line() {
    let mut procs = Procs::new();
    let stack = Stack::new("django-runserver");
    stack.link_venv(".venv");
    let settings = std::fs::read_to_string(stack.join("mysite/settings.py")).unwrap();
    stack.write(
        "mysite/settings.py",
        &settings.replace(
            "INSTALLED_APPS = [\"django.contrib.contenttypes\"]",
            "INSTALLED_APPS = [\n    \"django.contrib.contenttypes\",\n    \"rest_framework\",\n]",
        ),
    );
    let port = stack.port("API_PORT");
    let reloader = procs.spawn(
        Command::new(venv().join("bin/python"))
            .args(["manage.py", "runserver", &format!("127.0.0.1:{port}")])
            .current_dir(stack.path())
            .stderr(Stdio::null()),
    );
    // The autoreloader's child starts, fails its import and exits; the
    // autoreloader waits for a file change.
    eventually("runserver's child dies at import", || {
        let kids = children(reloader);
        !kids.is_empty() && kids.iter().all(|k| !is_alive(*k))
            || (kids.is_empty()
                && is_alive(reloader)
                && std::net::TcpStream::connect(format!("127.0.0.1:{port}")).is_err())
    });
    let (code, report) = stack.doctor(&["--timeout", "1s"]);
    assert_eq!(code, 1);
    let cause = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["caused_by"].is_null())
        .unwrap();
    assert_eq!(cause["code"], "PY003", "{report:#}");
    let title = cause["title"].as_str().unwrap();
    assert!(
        title.contains("No module named 'rest_framework' at mysite/settings.py:6"),
        "{title}"
    );
    assert!(
        cause["fix"]["commands"][0]
            .as_str()
            .unwrap()
            .contains("pip install djangorestframework"),
        "{cause:#}"
    );
    doctor_in(stack.path(), &["--fix", "--yes", "--timeout", "1s"]);
    assert!(is_alive(reloader), "--fix --yes ended the autoreloader");

    // Field fc P1-2: the module is there now (as after the install), in a
    // file the autoreloader never imported, so it waits on. doctor names
    // the live runserver, starts no second copy, and touches manage.py
    // (which it watches): runserver serves again, its own tree.
    stack.write("rest_framework/__init__.py", "");
    let manage = std::fs::read(stack.join("manage.py")).unwrap();
    let out = doctor_in(stack.path(), &["--fix", "--yes", "--timeout", "1s"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(text.contains("touch manage.py"), "{text}");
    answers_200(port, "/api/health/");
    assert!(is_alive(reloader), "{text}");
    let listeners = listener_pids(&[port]);
    assert_eq!(listeners.len(), 1, "{text}");
    assert_eq!(parent_of(listeners[0]), Some(reloader), "{text}");
    assert_eq!(std::fs::read(stack.join("manage.py")).unwrap(), manage);
}

/// The seeds' 8001/8002 story from the frontend's code: the API URL is the
/// code's fallback (`import.meta.env.VITE_API_URL || "http://localhost:A"`,
/// the variable set in no env file) while the backend, started by hand,
/// listens on B. ENV004 names the line and the port the backend really has.
#[test]
fn a_url_in_the_frontends_code_pointing_where_nothing_listens() {
    let mut procs = Procs::new();
    let stack = Stack::new("vite-settings");
    stack.link_venv("backend/.venv");
    let (wrong, api) = (free_port(), stack.port("API_PORT"));
    stack.write(
        "frontend/src/api.js",
        &format!(
            "export const API = import.meta.env.VITE_API_URL || \"http://localhost:{wrong}\"\n"
        ),
    );
    start_venv(
        &mut procs,
        &stack.join("backend"),
        "uvicorn",
        &[
            "app.main:app",
            "--host",
            "127.0.0.1",
            "--port",
            &api.to_string(),
        ],
        api,
        "/api/health",
    );
    install_framework(&stack.join("frontend"), "vite");
    npm_run(
        &mut procs,
        &stack.join("frontend"),
        "dev",
        stack.port("WEB_PORT"),
        "/",
    );
    // Field round 8 (gc fc P1 c6): the wrong port in more than one place.
    stack.write(
        "frontend/src/tasks.js",
        &format!("export const tasks = () => fetch(\"http://localhost:{wrong}/api/tasks\")\n"),
    );
    // Field round 8 (ga fa P2 baseline): a docs link for the person is no
    // call of the app: nothing is said of it, and no fix edits it.
    let link = format!(
        "export const Docs = () => <a href=\"http://localhost:{wrong}/docs\">API docs</a>\n"
    );
    stack.write("frontend/src/Docs.jsx", &link);
    let (_, report) = stack.doctor(&[]);
    let f = findings(&report, "ENV004");
    assert_eq!(f.len(), 2, "{report:#}");
    let api_js = f
        .iter()
        .find(|f| f["evidence"]["source"] == "frontend/src/api.js:1")
        .unwrap_or_else(|| panic!("{report:#}"));
    assert_eq!(api_js["evidence"]["listening_port"], api);
    assert!(api_js["caused_by"].is_null(), "{report:#}");
    // `--fix --yes` changes every place, not the first only (once one
    // names a port that answers, the others read as dead branches to a
    // new diagnosis: each line is re-checked by itself).
    // The fallback of a public variable set nowhere is fixed by setting
    // the variable in the frontend's `.env.local` (round 9, ga P2 c1), the
    // code left alone; a plain literal is edited.
    assert!(
        api_js["fix"]["title"]
            .as_str()
            .unwrap()
            .starts_with(&format!(
                "set VITE_API_URL=http://localhost:{api} in frontend/.env.local"
            )),
        "{api_js:#}"
    );
    doctor_in(stack.path(), &["--fix", "--yes"]);
    let text = std::fs::read_to_string(stack.join("frontend/src/tasks.js")).unwrap();
    assert!(
        text.contains(&format!("localhost:{api}")),
        "tasks.js: {text}"
    );
    let text = std::fs::read_to_string(stack.join("frontend/src/api.js")).unwrap();
    assert!(
        text.contains(&format!("localhost:{wrong}")),
        "api.js: {text}"
    );
    let env_local = std::fs::read_to_string(stack.join("frontend/.env.local")).unwrap();
    assert_eq!(env_local, format!("VITE_API_URL=http://localhost:{api}\n"));
    assert_eq!(
        std::fs::read_to_string(stack.join("frontend/src/Docs.jsx")).unwrap(),
        link
    );
}

/// Field (harmful in round 2 and 3): the launcher of a `concurrently -k`
/// stack killed with SIGKILL (a closed terminal). Its `next dev` and
/// `nodemon` trees live on, adopted: each listener's own parent is alive,
/// but its tree lost its launcher. That is PROC003 for the tree, and
/// `--fix --yes` ends those trees from their orphaned top and starts the
/// services again with the project's own commands: the stack answers.
#[test]
fn an_orphaned_concurrently_tree_is_named_and_replaced() {
    let mut procs = Procs::new();
    let stack = Stack::new("next-express");
    install_node_tools(stack.path());
    install_framework(&stack.join("client"), "next");
    install_node_tools(&stack.join("server"));
    let (web, api) = (stack.port("WEB_PORT"), stack.port("API_PORT"));
    let npm = procs.spawn(
        Command::new("npm")
            .args(["run", "dev"])
            .current_dir(stack.path())
            .env("NEXT_TELEMETRY_DISABLED", "1")
            .stderr(Stdio::null())
            .stdout(Stdio::null()),
    );
    wait_listening(&format!("127.0.0.1:{web}"));
    wait_listening(&format!("127.0.0.1:{api}"));
    answers_200(web, "/");
    // Every process of the stack, ended by pid when the test ends.
    let mut tree = vec![npm];
    let mut i = 0;
    while i < tree.len() {
        tree.extend(children(tree[i]));
        i += 1;
    }
    for &pid in &tree[1..] {
        procs.adopt(pid);
    }
    // The terminal closes: npm and concurrently die, the servers stay.
    let concurrently: Vec<u32> = tree
        .iter()
        .copied()
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/cmdline"))
                .is_ok_and(|c| c.contains("concurrently"))
        })
        .collect();
    for &pid in concurrently.iter().chain([npm].iter()) {
        signal(pid, libc::SIGKILL);
    }
    procs.end_alone(npm);
    eventually("the stack's launchers are gone", || {
        concurrently.iter().all(|p| !is_alive(*p))
    });
    answers_200(api, "/api/items");

    let (_, report) = stack.doctor(&[]);
    let orphans = findings(&report, "PROC003");
    assert!(!orphans.is_empty(), "{report:#}");
    let out = doctor_in(stack.path(), &["--fix", "--yes"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    for port in [web, api] {
        for pid in listener_pids(&[port]) {
            procs.adopt(pid);
            let mut up = vec![pid];
            while let Some(pp) = std::fs::read_to_string(format!("/proc/{}/stat", up[up.len() - 1]))
                .ok()
                .and_then(|s| {
                    s.rsplit_once(')').and_then(|(_, r)| {
                        r.split_whitespace()
                            .nth(1)
                            .and_then(|x| x.parse::<u32>().ok())
                    })
                })
                .filter(|pp| {
                    // Only the stack's own processes (doctor's detached
                    // starts), never whoever adopted them.
                    *pp > 1
                        && up.len() < 6
                        && std::fs::read_link(format!("/proc/{pp}/cwd"))
                            .is_ok_and(|c| c.starts_with(stack.path()))
                })
            {
                procs.adopt(pp);
                up.push(pp);
            }
        }
    }
    answers_200(web, "/");
    answers_200(api, "/api/items");
    assert!(
        !tree.iter().any(|p| listener_pids(&[web, api]).contains(p)),
        "the orphaned servers still hold the ports:\n{text}"
    );
}

/// Field gc fc P1 11 (round 7, missed): django-cors-headers installed and
/// the origin listed, but `'corsheaders.middleware.CorsMiddleware'`
/// commented out of MIDDLEWARE. The fix said to allow the origin, which is
/// allowed already. It names the commented line; uncommented as printed,
/// the autoreloader restarts and the origin gets its header.
#[test]
fn django_cors_middleware_commented_out_is_named() {
    let mut procs = Procs::new();
    let stack = Stack::new("django-runserver");
    stack.link_venv(".venv");
    let api = stack.port("API_PORT");
    let origin = "http://localhost:5173";
    let settings = std::fs::read_to_string(stack.join("mysite/settings.py")).unwrap();
    stack.write(
        "mysite/settings.py",
        &format!(
            "{}\nMIDDLEWARE = [\n    # \"corsheaders.middleware.CorsMiddleware\",\n]\nCORS_ALLOWED_ORIGINS = [\"{origin}\"]\n",
            settings.replace(
                "INSTALLED_APPS = [\"django.contrib.contenttypes\"]",
                "INSTALLED_APPS = [\"django.contrib.contenttypes\", \"corsheaders\"]"
            )
        ),
    );
    start_venv(
        &mut procs,
        stack.path(),
        "python",
        &["manage.py", "runserver", &format!("127.0.0.1:{api}")],
        api,
        "/api/health/",
    );
    let (code, report) = stack.doctor(&["--only", "cors", "--origin", origin]);
    assert_eq!(code, 1, "{report:#}");
    let rejected = findings(&report, "CORS001");
    assert_eq!(rejected.len(), 1, "{report:#}");
    let steps = rejected[0]["fix"]["commands"].as_array().unwrap();
    let first = steps[0].as_str().unwrap();
    assert!(
        first.starts_with("uncomment the CORS middleware at mysite/settings.py:")
            && first.contains("corsheaders.middleware.CorsMiddleware"),
        "{steps:?}"
    );
    assert_eq!(
        steps.len(),
        1,
        "a reloading runserver needs no restart: {steps:?}"
    );
    // Uncommented as printed: the autoreloader serves the header.
    let settings = std::fs::read_to_string(stack.join("mysite/settings.py")).unwrap();
    stack.write(
        "mysite/settings.py",
        &settings.replace("    # \"corsheaders", "    \"corsheaders"),
    );
    eventually("the origin is allowed", || {
        let (_, report) = stack.doctor(&["--only", "cors", "--origin", origin]);
        findings(&report, "CORS001").is_empty()
    });
}

/// Issue 17: a CORS fix that points at where the origins really come from,
/// applied as printed, repairs it. Django with django-cors-headers' older
/// setting name (CORS_ORIGIN_WHITELIST) lacking the vite frontend's origin;
/// runserver's autoreloader picks the edit up, so no restart is asked.
#[test]
fn django_cors_fix_applied_as_printed_lets_the_origin_in() {
    let mut procs = Procs::new();
    let stack = Stack::new("django-runserver");
    stack.link_venv(".venv");
    let (api, web) = (stack.port("API_PORT"), stack.port("WEB_PORT"));
    let settings = std::fs::read_to_string(stack.join("mysite/settings.py")).unwrap();
    stack.write(
        "mysite/settings.py",
        &format!(
            "{}\nMIDDLEWARE = [\"corsheaders.middleware.CorsMiddleware\"]\nCORS_ORIGIN_WHITELIST = [\"http://localhost:3000\"]\n",
            settings.replace(
                "INSTALLED_APPS = [\"django.contrib.contenttypes\"]",
                "INSTALLED_APPS = [\"django.contrib.contenttypes\", \"corsheaders\"]"
            )
        ),
    );
    stack.write(
        "frontend/package.json",
        r#"{"name": "web", "private": true, "type": "module", "scripts": {"dev": "vite"}, "devDependencies": {"vite": "^8.4.0"}}"#,
    );
    stack.write(
        "frontend/vite.config.js",
        &format!("export default {{ server: {{ port: {web}, strictPort: true }} }}\n"),
    );
    stack.write(
        "frontend/.env",
        &format!("VITE_API_URL=http://127.0.0.1:{api}\n"),
    );
    stack.write("frontend/index.html", "<!doctype html><script type=module>fetch(import.meta.env.VITE_API_URL + '/api/health/')</script>\n");
    start_venv(
        &mut procs,
        stack.path(),
        "python",
        &["manage.py", "runserver", &format!("127.0.0.1:{api}")],
        api,
        "/api/health/",
    );
    install_framework(&stack.join("frontend"), "vite");
    npm_run(&mut procs, &stack.join("frontend"), "dev", web, "/");

    let (code, report) = stack.doctor(&["--only", "cors"]);
    assert_eq!(code, 1, "{report:#}");
    let rejected = findings(&report, "CORS001");
    let origin = format!("http://localhost:{web}");
    let mine: Vec<_> = rejected
        .iter()
        .filter(|f| f["evidence"]["origin"] == origin)
        .collect();
    assert_eq!(mine.len(), 1, "{report:#}");
    let steps = mine[0]["fix"]["commands"].as_array().unwrap();
    assert_eq!(
        steps[0],
        format!("add {origin} to CORS_ORIGIN_WHITELIST at mysite/settings.py:10"),
        "{steps:?}"
    );
    assert_eq!(
        steps.len(),
        1,
        "a reloading runserver needs no restart: {steps:?}"
    );

    // Apply it as printed; the autoreloader restarts the server.
    let settings = std::fs::read_to_string(stack.join("mysite/settings.py")).unwrap();
    stack.write(
        "mysite/settings.py",
        &settings.replace(
            "CORS_ORIGIN_WHITELIST = [\"http://localhost:3000\"]",
            &format!("CORS_ORIGIN_WHITELIST = [\"http://localhost:3000\", \"{origin}\"]"),
        ),
    );
    let allowed = || {
        use std::io::{Read, Write};
        let Ok(mut s) = std::net::TcpStream::connect(format!("127.0.0.1:{api}")) else {
            return false;
        };
        s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let _ = write!(
            s,
            "OPTIONS /api/health/ HTTP/1.0\r\nHost: 127.0.0.1\r\nOrigin: {origin}\r\nAccess-Control-Request-Method: POST\r\n\r\n"
        );
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out.to_ascii_lowercase()
            .contains(&format!("access-control-allow-origin: {origin}"))
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !allowed() {
        assert!(
            std::time::Instant::now() < deadline,
            "the origin is still rejected"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let (code, report) = stack.doctor(&["--only", "cors"]);
    assert!(
        findings(&report, "CORS001")
            .iter()
            .all(|f| f["evidence"]["origin"] != origin),
        "exit {code}: {report:#}"
    );
}

/// Create React App 5 (`react-scripts start`, webpack-dev-server) with its
/// `"proxy"` to a FastAPI backend: silent, and `--fix --yes` inert.
#[test]
fn cra_with_its_proxy_is_silent() {
    let mut procs = Procs::new();
    let stack = Stack::new("cra-fastapi");
    stack.link_venv("backend/.venv");
    let (api, web) = (stack.port("API_PORT"), stack.port("WEB_PORT"));
    start_venv(
        &mut procs,
        &stack.join("backend"),
        "uvicorn",
        &[
            "main:app",
            "--host",
            "127.0.0.1",
            "--port",
            &api.to_string(),
        ],
        api,
        "/api/health",
    );
    install_framework(&stack.join("frontend"), "react-scripts");
    npm_run(&mut procs, &stack.join("frontend"), "start", web, "/");
    let report = stack.assert_silent();
    // Field ga D15: its open-to-the-network note (info) advises what works
    // with a "proxy": HOST=127.0.0.1 alone makes react-scripts 5 exit
    // (`options.allowedHosts[0] should be a non-empty string`).
    let open = findings(&report, "PORT012");
    let cra_open: Vec<_> = open
        .iter()
        .filter(|f| f["evidence"]["port"] == web)
        .collect();
    assert_eq!(cra_open.len(), 1, "{report:#}");
    assert_eq!(cra_open[0]["severity"], "info");
    assert!(
        cra_open[0]["evidence"]["loopback"]
            .as_str()
            .unwrap()
            .starts_with("HOST=127.0.0.1 and DANGEROUSLY_DISABLE_HOST_CHECK=true"),
        "{:#}",
        cra_open[0]
    );
    let cra = report["project"]["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == "cra")
        .unwrap_or_else(|| panic!("no cra service: {report:#}"));
    assert_eq!(cra["port"], web, "{cra:#}");
    stack.assert_fix_yes_is_inert();
}

/// fastapi-cli: `fastapi dev` (a reloader and its worker) and `fastapi run`
/// (no reloader) from the backend folder: each silent, `--fix --yes` inert.
#[test]
fn fastapi_dev_and_fastapi_run_are_silent() {
    for mode in ["dev", "run"] {
        let mut procs = Procs::new();
        let stack = Stack::new("uvicorn-procfile");
        stack.link_venv("backend/.venv");
        let api = stack.port("API_PORT");
        start_venv(
            &mut procs,
            &stack.join("backend"),
            "fastapi",
            &[
                mode,
                "main.py",
                "--host",
                "127.0.0.1",
                "--port",
                &api.to_string(),
            ],
            api,
            "/health",
        );
        start_vite(&mut procs, &stack, "frontend");
        stack.assert_silent();
        stack.assert_fix_yes_is_inert();
    }
}

/// gunicorn: an arbiter and its workers sharing one listening socket (by
/// design, no PORT007), serving the Flask app: silent, `--fix --yes` inert.
#[test]
fn gunicorn_arbiter_and_workers_are_silent() {
    let mut procs = Procs::new();
    let stack = Stack::new("flask-flaskenv");
    stack.link_venv(".venv");
    let api = stack.port("API_PORT");
    start_venv(
        &mut procs,
        stack.path(),
        "gunicorn",
        &["-w", "2", "-b", &format!("127.0.0.1:{api}"), "app:app"],
        api,
        "/api/health",
    );
    let report = stack.assert_silent();
    assert!(findings(&report, "PORT007").is_empty(), "{report:#}");
    stack.assert_fix_yes_is_inert();
}

/// Field (#17, one launcher for several servers): `concurrently -k` starts
/// `next dev` and the Express server; an old server elsewhere holds the
/// API's port, so Express exits at start (EADDRINUSE) and `-k` ends next
/// with it. The first cause is what took the API's port (PORT002); the
/// frontend down folds under it, with the launcher as evidence.
#[test]
fn a_sibling_that_exited_under_concurrently_explains_the_frontend_down() {
    let mut procs = Procs::new();
    let stack = Stack::new("next-express");
    install_node_tools(stack.path());
    install_framework(&stack.join("client"), "next");
    install_node_tools(&stack.join("server"));
    // The server run without a watcher, as the project's `start` does: it
    // exits on EADDRINUSE.
    let manifest = std::fs::read_to_string(stack.join("server/package.json")).unwrap();
    stack.write(
        "server/package.json",
        &manifest.replace(
            "\"dev\": \"nodemon server.js\"",
            "\"dev\": \"node server.js\"",
        ),
    );
    let (web, api) = (stack.port("WEB_PORT"), stack.port("API_PORT"));
    let elsewhere = tempfile::tempdir().unwrap();
    let old = http_server(&mut procs, elsewhere.path(), "127.0.0.1", api);
    let launcher = procs.spawn(
        Command::new("npm")
            .args(["run", "dev"])
            .current_dir(stack.path())
            .env("NEXT_TELEMETRY_DISABLED", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    eventually("concurrently -k ended everything", || {
        std::thread::sleep(std::time::Duration::from_millis(200));
        !is_alive(launcher)
    });
    assert!(std::net::TcpStream::connect(format!("127.0.0.1:{web}")).is_err());
    let (code, report) = stack.doctor(&["--timeout", "1s"]);
    assert_eq!(code, 1, "{report:#}");
    let all = report["findings"].as_array().unwrap();
    let first = all.iter().find(|f| f["caused_by"].is_null()).unwrap();
    assert_eq!(first["code"], "PORT002", "{report:#}");
    assert_eq!(first["evidence"]["port"], api, "{first:#}");
    let index = all.iter().position(|f| std::ptr::eq(f, first)).unwrap();
    let web_down = all
        .iter()
        .find(|f| f["code"] == "PORT001" && f["evidence"]["port"] == web)
        .unwrap_or_else(|| panic!("{report:#}"));
    assert_eq!(web_down["caused_by"], index, "{report:#}");
    assert_eq!(web_down["evidence"]["launcher"]["kill_others"], true);
    assert!(is_alive(old));
}

/// `npm start` in `dir` with `unset` removed from its environment, which
/// must exit on its own (within 120 s; else its tree is ended and the test
/// fails): what it printed.
fn npm_start_exits(procs: &mut Procs, dir: &Path, unset: &[&str]) -> String {
    let log = dir.join("npm-start.log");
    // Both streams to the log (Procs gives a child no stdout of its own).
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "exec npm start >\"$0\" 2>&1"])
        .arg(&log)
        .current_dir(dir)
        .env("BROWSER", "none")
        .env("CI", "true");
    for key in unset {
        cmd.env_remove(key);
    }
    let pid = procs.spawn(&mut cmd);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while is_alive(pid) {
        if std::time::Instant::now() > deadline {
            procs.end(pid);
            panic!(
                "npm start did not exit:\n{}",
                std::fs::read_to_string(&log).unwrap()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let said = std::fs::read_to_string(&log).unwrap();
    std::fs::remove_file(&log).unwrap();
    said
}

/// Field (fb P1-0): react-scripts 4 (webpack 4) started on Node 20 without
/// the OpenSSL legacy provider dies at start (ERR_OSSL_EVP_UNSUPPORTED).
/// The cause is NODE006 with the versions, the frontend down folds under
/// it, and its command (NODE_OPTIONS=--openssl-legacy-provider) is one
/// `--fix --yes` runs: it starts it.
#[test]
fn cra4_on_openssl3_is_named_and_its_fix_starts_it() {
    let mut procs = Procs::new();
    let stack = Stack::new("cra-fastapi");
    let frontend = stack.join("frontend");
    let manifest = std::fs::read_to_string(frontend.join("package.json")).unwrap();
    stack.write(
        "frontend/package.json",
        &manifest
            .replace(
                "\"react-scripts\": \"^5.0.1\"",
                "\"react-scripts\": \"4.0.3\"",
            )
            .replace("^18.3.1", "17.0.2"),
    );
    install_framework(&frontend, "react-scripts");
    let web = stack.port("WEB_PORT");
    // The real failure first: react-scripts 4 exits with OpenSSL's error.
    let said = npm_start_exits(
        &mut procs,
        &frontend,
        &["NODE_OPTIONS", "DANGEROUSLY_DISABLE_HOST_CHECK", "HOST"],
    );
    assert!(
        said.contains("ERR_OSSL_EVP_UNSUPPORTED") || said.contains("digital envelope routines"),
        "{said}"
    );
    let (code, report) = stack.doctor(&["--only", "node,ports", "--timeout", "1s"]);
    assert_eq!(code, 1, "{report:#}");
    let all = report["findings"].as_array().unwrap();
    let first = all.iter().find(|f| f["caused_by"].is_null()).unwrap();
    assert_eq!(first["code"], "NODE006", "{report:#}");
    assert_eq!(first["evidence"]["react_scripts"], "4.0.3", "{first:#}");
    let index = all.iter().position(|f| std::ptr::eq(f, first)).unwrap();
    let down = all
        .iter()
        .find(|f| f["code"] == "PORT001" && f["evidence"]["port"] == web)
        .unwrap_or_else(|| panic!("{report:#}"));
    assert_eq!(down["caused_by"], index, "{report:#}");
    // As printed: the start command with the legacy provider.
    let printed = first["fix"]["commands"][0].as_str().unwrap();
    assert!(
        printed.contains("NODE_OPTIONS=--openssl-legacy-provider"),
        "{printed}"
    );
    // Applied by `--fix --yes` (field gb fb P1 c9: after a stranger was
    // ended, the frontend was left down): doctor starts it so, detached.
    let out = doctor_in(
        stack.path(),
        &["--fix", "--yes", "--only", "node,ports", "--timeout", "1s"],
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        !adopt_listeners(&mut procs, web).is_empty(),
        "not started: {text}"
    );
    answers_200(web, "/");
}

/// Field (#17, CRA's allowedHosts crash): react-scripts 5 with a `"proxy"`
/// and `HOST=localhost` in its `.env` exits at start (its dev server gets
/// no allowed host). NODE007 names it with the HOST line, the frontend
/// down folds under it, and the printed fix (CRA's
/// DANGEROUSLY_DISABLE_HOST_CHECK in `.env.development.local`) starts it.
#[test]
fn cra5_proxy_with_host_set_is_named_and_its_fix_starts_it() {
    let mut procs = Procs::new();
    let stack = Stack::new("cra-fastapi");
    let frontend = stack.join("frontend");
    let env = std::fs::read_to_string(frontend.join(".env")).unwrap();
    let env: String = env
        .lines()
        .filter(|l| !l.starts_with("DANGEROUSLY_DISABLE_HOST_CHECK"))
        .map(|l| format!("{l}\n"))
        .collect();
    stack.write("frontend/.env", &format!("{env}HOST=localhost\n"));
    install_framework(&frontend, "react-scripts");
    let web = stack.port("WEB_PORT");
    let said = npm_start_exits(
        &mut procs,
        &frontend,
        &["NODE_OPTIONS", "DANGEROUSLY_DISABLE_HOST_CHECK", "HOST"],
    );
    assert!(said.contains("allowedHosts[0]"), "{said}");
    let (code, report) = stack.doctor(&["--only", "node,ports", "--timeout", "1s"]);
    assert_eq!(code, 1, "{report:#}");
    let all = report["findings"].as_array().unwrap();
    let first = all.iter().find(|f| f["caused_by"].is_null()).unwrap();
    assert_eq!(first["code"], "NODE007", "{report:#}");
    assert!(
        first["evidence"]["reason"]
            .as_str()
            .unwrap()
            .contains("HOST=localhost (frontend/.env:"),
        "{first:#}"
    );
    let index = all.iter().position(|f| std::ptr::eq(f, first)).unwrap();
    let down = all
        .iter()
        .find(|f| f["code"] == "PORT001" && f["evidence"]["port"] == web)
        .unwrap_or_else(|| panic!("{report:#}"));
    assert_eq!(down["caused_by"], index, "{report:#}");
    // As printed: the switch in .env.development.local, then its start.
    assert!(first["fix"]["commands"][0]
        .as_str()
        .unwrap()
        .contains("DANGEROUSLY_DISABLE_HOST_CHECK=true to frontend/.env.development.local"));
    stack.write(
        "frontend/.env.development.local",
        "DANGEROUSLY_DISABLE_HOST_CHECK=true\n",
    );
    procs.spawn(
        Command::new("npm")
            .args(["start"])
            .current_dir(&frontend)
            .env_remove("HOST")
            .env("BROWSER", "none")
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    answers_200(web, "/");
}

/// Field (fd P1 B, fc P2 c2; issue #18): a project run natively with the
/// values written for compose. Vite's proxy target names the compose
/// service `backend`, and the backend's settings name `db`: neither
/// resolves outside compose's network (Vite answers 500, EAI_AGAIN; the
/// backend "could not translate host name"). Named, with the published
/// port to use instead; with `localhost` there is nothing to say.
#[test]
fn compose_service_names_read_by_servers_run_natively() {
    let mut procs = Procs::new();
    let stack = Stack::new("fastapi-fullstack");
    stack.link_venv("backend/.venv");
    let (api, web, db) = (
        stack.port("API_PORT"),
        stack.port("WEB_PORT"),
        stack.port("DB_PORT"),
    );
    let compose = std::fs::read_to_string(stack.join("compose.yml")).unwrap();
    stack.write(
        "compose.yml",
        &format!(
            "{compose}  backend:\n    build: ./backend\n    ports:\n      - \"{api}:{api}\"\n"
        ),
    );
    let healthy_config = format!(
        "import {{ defineConfig }} from \"vite\"\n\nexport default defineConfig({{\n  server: {{\n    port: {web},\n    proxy: {{\n      \"/api\": {{ target: \"http://localhost:{api}\" }},\n      \"/docs\": {{ target: \"http://localhost:{api}\" }},\n    }},\n  }},\n}})\n"
    );
    stack.write("frontend/vite.config.ts", &healthy_config);
    start_fullstack_backend(&mut procs, &stack);
    start_vite(&mut procs, &stack, "frontend");
    let (_, report) = stack.doctor(&["--only", "compose"]);
    assert!(findings(&report, "NET004").is_empty(), "{report:#}");

    // The compose names, as the README of such projects writes them.
    stack.write(
        "frontend/vite.config.ts",
        &healthy_config.replace("http://localhost:", "http://backend:"),
    );
    let env = std::fs::read_to_string(stack.join(".env")).unwrap();
    stack.write(
        ".env",
        &env.replace("POSTGRES_SERVER=localhost", "POSTGRES_SERVER=db"),
    );
    let (_, report) = stack.doctor(&["--only", "compose"]);
    let named = findings(&report, "NET004");
    assert_eq!(named.len(), 2, "{report:#}");
    let proxy = named
        .iter()
        .find(|f| f["evidence"]["host"] == "backend")
        .expect("the proxy target");
    assert_eq!(proxy["severity"], "warning", "{proxy:#}");
    assert_eq!(proxy["evidence"]["service"], "frontend");
    assert_eq!(proxy["evidence"]["at"], "frontend/vite.config.ts:7");
    // Field round 7 (gd fd P1 B): two proxy entries to the same compose
    // name are one finding with both lines, and vite restarts itself on its
    // config: no restart step.
    assert_eq!(
        proxy["evidence"]["also_at"][0], "frontend/vite.config.ts:8",
        "{proxy:#}"
    );
    assert!(
        !proxy["fix"]["commands"].to_string().contains("restart"),
        "{proxy:#}"
    );
    // Round 9 (gd P1 B): the fix names every line, not the first only.
    assert!(
        proxy["fix"]["commands"][0]
            .as_str()
            .unwrap()
            .starts_with("in frontend/vite.config.ts:7 and at frontend/vite.config.ts:8:"),
        "{proxy:#}"
    );
    assert!(proxy["fix"]["title"]
        .as_str()
        .unwrap()
        .contains(&format!("localhost:{api}")));
    let settings = named
        .iter()
        .find(|f| f["evidence"]["host"] == "db")
        .expect("the database host");
    assert_eq!(settings["evidence"]["at"], ".env:7");
    assert_eq!(settings["evidence"]["key"], "POSTGRES_SERVER");
    // A host key takes a bare host, not host:port (field fe c1).
    assert_eq!(
        settings["fix"]["commands"][0], "in .env:7: POSTGRES_SERVER=localhost",
        "{settings:#}"
    );
    assert!(settings["fix"]["commands"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c.as_str().unwrap().starts_with("then restart backend")));
    assert_eq!(settings["severity"], "warning", "{settings:#}");
    assert!(settings["fix"]["title"]
        .as_str()
        .unwrap()
        .contains(&format!("localhost:{db}")));
}

/// The report's service of this kind.
fn service_of<'a>(report: &'a serde_json::Value, kind: &str) -> &'a serde_json::Value {
    report["project"]["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} service: {report:#}"))
}

/// Field round 7/9 (gc fc P2 c3, partial): the compose file gives the web
/// service `env_file: .env`, the README's native steps load it into the
/// shell (`set -a; . ./.env`), and Django's settings read `os.environ`
/// only. With `.env` gone the server dies at start; ENV001 said to create
/// the file, which alone changes nothing for a server that loads none.
/// Its plan now loads the file into the shell and starts the server
/// again: applied as printed, the server answers (real Django runserver).
#[test]
fn a_compose_env_file_for_a_server_that_reads_the_environment_only() {
    let mut procs = Procs::new();
    let stack = Stack::new("django-runserver");
    stack.link_venv(".venv");
    let port = stack.port("API_PORT");
    let settings = std::fs::read_to_string(stack.join("mysite/settings.py")).unwrap();
    stack.write(
        "mysite/settings.py",
        &settings.replace(
            "SECRET_KEY = \"dev-only\"",
            "import os\n\nSECRET_KEY = os.environ[\"SECRET_KEY\"]",
        ),
    );
    stack.write(
        "docker-compose.yml",
        "services:\n  web:\n    build: .\n    env_file: .env\n",
    );
    let (_, report) = stack.doctor(&["--timeout", "2s"]);
    let missing = findings(&report, "ENV001");
    assert_eq!(missing.len(), 1, "{report:#}");
    let steps: Vec<String> = missing[0]["fix"]["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert!(
        steps.iter().any(|s| s.contains("set -a; . ./.env; set +a")),
        "{steps:#?}"
    );
    let start = steps
        .iter()
        .find_map(|s| s.strip_prefix("then start it again from that shell: "))
        .unwrap_or_else(|| panic!("{steps:#?}"));
    assert!(start.contains("runserver"), "{start}");

    // As printed: the file with the key, loaded into the shell, the start.
    stack.write(".env", "SECRET_KEY=dev-only\n");
    procs.spawn(
        Command::new("sh")
            .arg("-c")
            .arg(format!("set -a; . ./.env; set +a; exec {start}"))
            .env_remove("SECRET_KEY")
            .current_dir(stack.path())
            .stderr(Stdio::null()),
    );
    answers_200(port, "/api/health/");
}

/// Field round 10 (gc fc P1 c9, missed): `db.sqlite3` recreated empty, so
/// every API call is a 500 with Django's debug page naming
/// `OperationalError: no such table: …`. HEALTH003 said "answers 500" and
/// nothing more; it names the exception and says to migrate (real Django).
#[test]
fn a_missing_table_on_djangos_500_page_is_a_migration() {
    let mut procs = Procs::new();
    let stack = Stack::new("django-runserver");
    stack.link_venv(".venv");
    let settings = std::fs::read_to_string(stack.join("mysite/settings.py")).unwrap();
    stack.write(
        "mysite/settings.py",
        &settings.replace(
            "DATABASES = {}",
            "DATABASES = {\"default\": {\"ENGINE\": \"django.db.backends.sqlite3\", \"NAME\": \"db.sqlite3\"}}",
        ),
    );
    let urls = std::fs::read_to_string(stack.join("mysite/urls.py")).unwrap();
    stack.write(
        "mysite/urls.py",
        &urls.replace(
            "def health(request):\n    return JsonResponse({\"status\": \"ok\"})",
            "def health(request):\n    from django.db import connection\n\n    with connection.cursor() as c:\n        c.execute(\"SELECT id FROM todo_task\")\n    return JsonResponse({\"status\": \"ok\"})",
        ),
    );
    let port = stack.port("API_PORT");
    procs.spawn(
        Command::new(venv().join("bin/python"))
            .args(["manage.py", "runserver", &format!("127.0.0.1:{port}")])
            .current_dir(stack.path())
            .stderr(Stdio::null()),
    );
    wait_listening(&format!("127.0.0.1:{port}"));
    let (_, report) = stack.doctor(&["--timeout", "10s"]);
    let failing = findings(&report, "HEALTH003");
    assert_eq!(failing.len(), 1, "{report:#}");
    assert_eq!(
        failing[0]["evidence"]["exception"]["type"], "OperationalError",
        "{report:#}"
    );
    assert!(
        failing[0]["fix"]["commands"][0]
            .as_str()
            .is_some_and(|c| c.contains("python manage.py migrate")),
        "{report:#}"
    );
}

/// Field round 10 (ga fa P3 c5, partial): CRA's `frontend/.env` sets the
/// API URL to a port nothing listens on, the backend runs on its own. The
/// fix changed the `.env` line, which CRA reads once, at start: the bundle
/// still called the old port. The plan ends with CRA's restart; a vite
/// config edit, which vite picks up itself, gets none (real react-scripts
/// installed, real uvicorn).
#[test]
fn an_env_url_cra_reads_once_is_fixed_with_its_restart() {
    let mut procs = Procs::new();
    let stack = Stack::new("cra-fastapi");
    stack.link_venv("backend/.venv");
    let (api, nowhere) = (stack.port("API_PORT"), free_port());
    stack.write(
        "frontend/.env",
        &format!("BROWSER=none\nREACT_APP_API_URL=http://localhost:{nowhere}\nDANGEROUSLY_DISABLE_HOST_CHECK=true\n"),
    );
    // The code that reads it: the URL is the app's, not context.
    stack.write(
        "frontend/src/api.js",
        "export const API = process.env.REACT_APP_API_URL;\nexport function items() {\n  return fetch(`${API}/api/items`);\n}\n",
    );
    install_framework(&stack.join("frontend"), "react-scripts");
    start_venv(
        &mut procs,
        &stack.join("backend"),
        "uvicorn",
        &[
            "main:app",
            "--host",
            "127.0.0.1",
            "--port",
            &api.to_string(),
        ],
        api,
        "/api/health",
    );
    let (_, report) = stack.doctor(&[]);
    let down: Vec<&Value> = findings(&report, "PORT001")
        .into_iter()
        .filter(|f| f["evidence"]["port"] == nowhere)
        .collect();
    assert_eq!(down.len(), 1, "{report:#}");
    let steps = down[0]["fix"]["commands"].to_string();
    assert!(
        steps.contains("frontend/.env:2")
            && steps.contains("then restart")
            && steps.contains("once, at start"),
        "{steps}"
    );
}

/// Field round 10 (gd fd P1 H, partial): a root `.env` (compose's) holds
/// `VITE_API_URL`, while vite's root is `frontend/` with no envDir: vite
/// never reads it. ENV004 rewrote that file and the browser still called
/// the old port. A frontend's public key in a file no dev server of its
/// kind reads is context: no warning cites it, no fix edits it (real vite
/// and uvicorn).
#[test]
fn a_public_key_in_a_file_vite_never_reads_is_context() {
    let mut procs = Procs::new();
    let stack = vite_settings_with_procfile();
    let (web, nowhere) = (stack.port("WEB_PORT"), free_port());
    let env = format!("POSTGRES_DB=app\nVITE_API_URL=http://localhost:{nowhere}\n");
    stack.write(".env", &env);
    stack.write(
        "frontend/src/api.js",
        "export const API = import.meta.env.VITE_API_URL || \"\";\nexport const items = () => fetch(`${API}/api/items`);\n",
    );
    start_backend_of_procfile(&mut procs, &stack, stack.port("API_PORT"));
    start_vite(&mut procs, &stack, "frontend");
    answers_200(web, "/api/health");
    let (_, report) = stack.doctor(&[]);
    for f in report["findings"].as_array().unwrap() {
        if f["severity"] != "info" {
            assert!(
                !f.to_string().contains("\".env:2\""),
                "a file vite never reads is cited: {f:#}"
            );
        }
    }
    doctor_in(stack.path(), &["--fix", "--yes"]);
    assert_eq!(std::fs::read_to_string(stack.join(".env")).unwrap(), env);

    // The field's shape (round 11, still partial): the root file names the
    // backend's own port, and the backend runs on another one on purpose.
    // The proxy line is the place to change; the root `.env` is not (it
    // was folded into the backend as a caller and rewritten).
    drop(procs);
    let mut procs = Procs::new();
    let (api, other) = (stack.port("API_PORT"), free_port());
    let env = format!("POSTGRES_DB=app\nVITE_API_URL=http://localhost:{api}\n");
    stack.write(".env", &env);
    start_backend_of_procfile(&mut procs, &stack, other);
    start_vite(&mut procs, &stack, "frontend");
    let (_, report) = stack.doctor(&[]);
    for f in report["findings"].as_array().unwrap() {
        assert!(
            !f.to_string().contains("\".env:2\""),
            "a file vite never reads is cited: {f:#}"
        );
    }
    doctor_in(stack.path(), &["--fix", "--yes"]);
    assert_eq!(std::fs::read_to_string(stack.join(".env")).unwrap(), env);
}

/// Field round 7/10 (gd fd P2 G, partial): `client/.env.development`
/// (`VITE_ENV=dev`, tracked by git) deleted; the client's `switch
/// (import.meta.env.VITE_ENV)` then takes its `default:`, the production
/// host. doctor said only "VITE_ENV is set nowhere" as info. git's copy
/// says the file set it: ENV001 (warning) names the file and the key, the
/// info folds under it, and `--fix --yes` restores the file (real vite).
#[test]
fn a_deleted_tracked_env_file_of_the_frontend_is_the_cause() {
    let mut procs = Procs::new();
    let stack = Stack::new("express-vite");
    install_node_tools(&stack.join("server"));
    install_framework(&stack.join("client"), "vite");
    let (web, api) = (stack.port("WEB_PORT"), stack.port("API_PORT"));
    write_client_switching_on_vite_env(&stack, web, api);
    stack.write("client/.env.development", "VITE_ENV=dev\n");
    stack.write(".gitignore", "node_modules/\n");
    git(stack.path(), &["init", "-q"]);
    git(stack.path(), &["add", "."]);
    git(stack.path(), &["commit", "-q", "-m", "init"]);
    std::fs::remove_file(stack.join("client/.env.development")).unwrap();
    // The API runs (else `--fix --yes` starts it, detached, outside the test's hold).
    start_node(
        &mut procs,
        &stack.join("server"),
        &["index.js"],
        &[("PORT", api.to_string())],
        api,
    );
    start_tool(&mut procs, &stack.join("client"), "vite", &[], web);

    let (_, report) = stack.doctor(&[]);
    let missing: Vec<&Value> = findings(&report, "ENV001")
        .into_iter()
        .filter(|f| f["evidence"]["missing"] == "client/.env.development")
        .collect();
    assert_eq!(missing.len(), 1, "{report:#}");
    assert_eq!(missing[0]["severity"], "warning", "{report:#}");
    assert_eq!(
        missing[0]["evidence"]["sets"],
        serde_json::json!(["VITE_ENV"])
    );
    for f in findings(&report, "ENV007") {
        if f["evidence"]["variable"] == "VITE_ENV" {
            assert!(!f["caused_by"].is_null(), "{report:#}");
        }
    }
    doctor_in(stack.path(), &["--fix", "--yes"]);
    assert_eq!(
        std::fs::read_to_string(stack.join("client/.env.development")).unwrap(),
        "VITE_ENV=dev\n"
    );
}

/// Field round 7/11 (gd fd P3 0, partial in round 11): the repo's pins
/// predate the interpreter: Jinja2 2.10.1 on Python 3.10+ fails in its own
/// code (`from collections import Mapping`). PY003 named the ImportError
/// "at bunshi/__init__.py:1" with "correct the code" there, which cannot
/// fix it. The package that fails, its installed version and its pin line
/// are the place, and the fix is the upgrade (a real old Jinja2 in a venv
/// of its own).
#[test]
fn a_dependency_older_than_the_interpreter_is_named_with_its_pin() {
    let api = free_port();
    let dir = project(&[
        ("requirements.txt", "jinja2==2.10.1\nmarkupsafe==1.1.1\n"),
        ("main.py", "import jinja2  # noqa\n\napp = None\n"),
        ("Procfile", &format!("web: uvicorn main:app --port {api}\n")),
    ]);
    std::os::unix::fs::symlink(
        common::frameworks::old_pins_venv(),
        dir.path().join(".venv"),
    )
    .unwrap();
    let (_, report) = doctor_json(dir.path(), &["--only", "python"]);
    let crash = findings(&report, "PY003");
    assert_eq!(crash.len(), 1, "{report:#}");
    let title = crash[0]["title"].as_str().unwrap();
    assert!(
        title.contains("inside jinja2 2.10.1") && title.contains("requirements.txt:1"),
        "{title}"
    );
    assert_eq!(
        crash[0]["evidence"]["location"], "requirements.txt:1",
        "{report:#}"
    );
    assert!(
        crash[0]["fix"]["commands"][0]
            .as_str()
            .is_some_and(|c| c.contains("-m pip install -U jinja2")),
        "{report:#}"
    );
}

/// Field round 7/11 (gd fd P2 G, partial; the tree no git repo, as a
/// download is): `client/.env.development` gone, `VITE_ENV` set only by
/// `client/.env.production`, and the client's `switch` on it takes
/// `default:`, the production host, while `case "dev"` returns the local
/// server that runs. It was an info "set nowhere". Now a warning that names
/// the switch, the case the dev server needs and the production-only file,
/// and `--fix --yes` sets `VITE_ENV=dev` in `client/.env.development` (real
/// vite, real express).
#[test]
fn an_unset_switch_variable_that_leaves_the_local_server_is_named() {
    let mut procs = Procs::new();
    let stack = Stack::new("express-vite");
    install_node_tools(&stack.join("server"));
    install_framework(&stack.join("client"), "vite");
    let (web, api) = (stack.port("WEB_PORT"), stack.port("API_PORT"));
    write_client_switching_on_vite_env(&stack, web, api);
    stack.write("client/.env.production", "VITE_ENV=prod\n");
    start_node(
        &mut procs,
        &stack.join("server"),
        &["index.js"],
        &[("PORT", api.to_string())],
        api,
    );
    start_tool(&mut procs, &stack.join("client"), "vite", &[], web);

    let (_, report) = stack.doctor(&[]);
    let unset: Vec<&Value> = findings(&report, "ENV007")
        .into_iter()
        .filter(|f| f["evidence"]["variable"] == "VITE_ENV")
        .collect();
    assert_eq!(unset.len(), 1, "{report:#}");
    assert_eq!(unset[0]["severity"], "warning", "{report:#}");
    assert_eq!(unset[0]["evidence"]["value_needed"], "dev", "{report:#}");
    let title = unset[0]["title"].as_str().unwrap();
    assert!(title.contains("client/.env.production"), "{title}");
    doctor_in(stack.path(), &["--fix", "--yes"]);
    assert!(
        std::fs::read_to_string(stack.join("client/.env.development"))
            .is_ok_and(|t| t.contains("VITE_ENV=dev")),
        "not set"
    );
}

/// Field round 7/11 (gd fd P3 0 and B): the app's own package has a
/// `scripts/` subpackage (`bunshi/scripts/info.py`: `from bs4 import …`),
/// and requirements.txt declares the `bs4` shim beside beautifulsoup4.
/// The subpackage was left out as tooling, so bs4 was "imported nowhere"
/// (false); and where beautifulsoup4 provides the module, the missing shim
/// is nothing missing at all (real venvs: one with neither, one with
/// beautifulsoup4).
#[test]
fn a_scripts_subpackage_of_the_app_is_the_apps_code() {
    let api = free_port();
    let files = [
        (
            "requirements.txt",
            "beautifulsoup4\nbs4==0.0.1\n".to_string(),
        ),
        ("main.py", "from shop import app  # noqa\n".to_string()),
        (
            "shop/__init__.py",
            "from .scripts import info  # noqa\n\napp = None\n".to_string(),
        ),
        ("shop/scripts/__init__.py", String::new()),
        (
            "shop/scripts/info.py",
            "from bs4 import BeautifulSoup  # noqa\n".to_string(),
        ),
        ("Procfile", format!("web: uvicorn main:app --port {api}\n")),
    ];
    let refs: Vec<(&str, &str)> = files.iter().map(|(a, b)| (*a, b.as_str())).collect();
    // Neither installed: bs4 is imported, its absence is the crash's cause.
    let dir = project(&refs);
    std::os::unix::fs::symlink(venv(), dir.path().join(".venv")).unwrap();
    let (_, report) = doctor_json(dir.path(), &["--only", "python"]);
    let declared: Vec<&Value> = findings(&report, "PY002");
    assert!(!declared.is_empty(), "{report:#}");
    for f in &declared {
        assert!(
            !f["title"].as_str().unwrap().contains("imported nowhere"),
            "{report:#}"
        );
    }
    // beautifulsoup4 installed: the module is there, nothing is missing.
    let dir = project(&refs);
    std::os::unix::fs::symlink(
        common::frameworks::old_pins_venv(),
        dir.path().join(".venv"),
    )
    .unwrap();
    let (_, report) = doctor_json(dir.path(), &["--only", "python"]);
    assert!(findings(&report, "PY002").is_empty(), "{report:#}");
    assert!(findings(&report, "PY003").is_empty(), "{report:#}");
}

/// The client of gd's fd P2 (its shape, our code): vite on `web`, and a
/// `switch (import.meta.env.VITE_ENV)` whose `case "dev"` is the local API
/// on `api` and whose `default:` is a production host.
fn write_client_switching_on_vite_env(stack: &Stack, web: u16, api: u16) {
    stack.write(
        "client/vite.config.js",
        &format!("export default {{ server: {{ port: {web} }} }}\n"),
    );
    stack.write(
        "client/src/envSetup.js",
        &format!("export function getEnvironment() {{\n  const environment = import.meta.env.VITE_ENV;\n  switch (environment) {{\n    case \"dev\":\n      return \"http://localhost:{api}\";\n    default:\n      return \"https://api.example.com/\";\n  }}\n}}\n"),
    );
    stack.write(
        "client/src/main.js",
        "import { getEnvironment } from \"./envSetup.js\"\nfetch(getEnvironment() + \"/api/health\")\n",
    );
}
