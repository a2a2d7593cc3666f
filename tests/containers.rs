//! S30, containers (issue #12): a process named `docker-proxy` with the real
//! argument shape holds a port; a stub `docker` CLI on PATH answers with a
//! recorded `docker ps` listing. The container behind the forwarder is
//! named, and the forwarder is never a kill target.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::stack::uvicorn_with_env;
use common::*;
use serde_json::Value;

/// A forwarder like Docker's: its executable is named `docker-proxy` (the
/// process table shows that name) and it takes docker-proxy's arguments.
const PROXY: &str = r#"#!/usr/bin/env python3
import socket, sys
args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((args["-host-ip"], int(args["-host-port"])))
s.listen(16)
print("ready", flush=True)
while True:
    conn, _ = s.accept()
    conn.close()
"#;

fn executable(dir: &Path, name: &str, text: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn start_proxy(procs: &mut Procs, bin: &Path, port: u16) -> u32 {
    let proxy = executable(bin, "docker-proxy", PROXY);
    let pid = procs.spawn(Command::new(proxy).args([
        "-proto",
        "tcp",
        "-host-ip",
        "127.0.0.1",
        "-host-port",
        &port.to_string(),
        "-container-ip",
        "172.17.0.2",
        "-container-port",
        "5432",
    ]));
    wait_listening(&format!("127.0.0.1:{port}"));
    pid
}

/// A stub engine CLI answering `docker ps --format '{{json .}}'` with `listing`.
fn stub_docker(bin: &Path, listing: &str) {
    executable(
        bin,
        "docker",
        &format!("#!/bin/sh\ncat <<'JSON'\n{listing}\nJSON\n"),
    );
}

fn doctor_with_path(dir: &Path, bin: Option<&Path>, args: &[&str]) -> (i32, Value, String) {
    let path = match bin {
        Some(b) => format!("{}:/usr/bin:/bin", b.display()),
        None => "/usr/bin:/bin".into(),
    };
    let out = Command::new(DOCTOR)
        .arg("--dir")
        .arg(dir)
        .args(args)
        .env("PATH", path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), json, text)
}

fn backend_on(port: u16) -> tempfile::TempDir {
    project(&[
        (
            "backend/Procfile",
            &format!("web: uvicorn main:app --port {port}\n"),
        ),
        (
            "backend/main.py",
            "from fastapi import FastAPI\napp = FastAPI()\n",
        ),
    ])
}

/// A project whose compose file publishes a PostgreSQL `db` on `port`.
fn compose_db_on(port: u16) -> tempfile::TempDir {
    project(&[(
        "docker-compose.yml",
        &format!("services:\n  db:\n    image: postgres:16\n    ports:\n      - \"{port}:5432\"\n"),
    )])
}

/// A forwarder on `port` and a stub engine answering with one container,
/// then `doctor --json --only ONLY` on `dir`. The processes are returned so
/// that the forwarder lives until the caller is done with it.
fn with_container(dir: &Path, port: u16, container: &str, only: &str) -> (i32, Value, Procs, u32) {
    let bin = tempfile::tempdir().unwrap();
    let mut procs = Procs::new();
    let proxy = start_proxy(&mut procs, bin.path(), port);
    stub_docker(bin.path(), container);
    let (code, report, _) = doctor_with_path(dir, Some(bin.path()), &["--json", "--only", only]);
    (code, report, procs, proxy)
}

#[test]
fn another_projects_container_holds_the_backends_port() {
    let port = free_port();
    let dir = backend_on(port);
    let bin = tempfile::tempdir().unwrap();
    let mut procs = Procs::new();
    let proxy = start_proxy(&mut procs, bin.path(), port);
    stub_docker(
        bin.path(),
        &format!(
            r#"{{"ID":"4f2c1b9a8e7d6c5b","Image":"postgres:16","Names":"other-db-1","Ports":"127.0.0.1:{port}->5432/tcp","Labels":"com.docker.compose.project=other,com.docker.compose.service=db"}}"#
        ),
    );
    let (code, report, _) = doctor_with_path(
        dir.path(),
        Some(bin.path()),
        &["--json", "--only", "ports,processes,containers"],
    );
    assert_eq!(code, 1, "{report:#}");
    let held = findings(&report, "PORT008");
    assert_eq!(held.len(), 1, "{report:#}");
    let f = held[0];
    assert!(
        f["title"]
            .as_str()
            .unwrap()
            .contains("container other-db-1"),
        "{f:#}"
    );
    assert_eq!(f["evidence"]["forwarder"]["pid"], proxy);
    assert_eq!(f["evidence"]["forwards_to"], "172.17.0.2:5432");
    assert_eq!(f["evidence"]["container"]["compose_service"], "db");
    assert_eq!(f["fix"]["commands"][0], "docker compose -p other stop db");
    // Not a stranger to end: no PORT002, and no plan ends the forwarder.
    assert!(findings(&report, "PORT002").is_empty(), "{report:#}");
    let (_, _, plan) = doctor_with_path(dir.path(), Some(bin.path()), &["--fix", "--dry-run"]);
    assert!(!plan.contains(&format!("kill -TERM {proxy}")), "{plan}");
    assert!(is_alive(proxy));
}

#[test]
fn without_an_engine_cli_the_forwarder_is_still_named() {
    let port = free_port();
    let dir = backend_on(port);
    let bin = tempfile::tempdir().unwrap();
    let mut procs = Procs::new();
    start_proxy(&mut procs, bin.path(), port);
    std::fs::remove_file(bin.path().join("docker-proxy")).ok();
    let (code, report, _) = doctor_with_path(dir.path(), None, &["--json", "--only", "containers"]);
    let held = findings(&report, "PORT008");
    assert_eq!(held.len(), 1, "{report:#}");
    // Which container it is cannot be asked: said, not blamed.
    assert_eq!(held[0]["severity"], "info", "{report:#}");
    assert_eq!(code, 0);
    assert!(held[0]["evidence"]["container"]
        .as_str()
        .unwrap()
        .contains("no container engine CLI"));
    assert!(held[0]["title"]
        .as_str()
        .unwrap()
        .contains("172.17.0.2:5432"));
}

#[test]
fn the_projects_own_compose_database_is_the_service() {
    let port = free_port();
    let dir = compose_db_on(port);
    let (_, report, _procs, _) = with_container(
        dir.path(),
        port,
        &format!(
            r#"{{"ID":"1","Image":"postgres:16","Names":"shop-db-1","Ports":"0.0.0.0:{port}->5432/tcp","Labels":"com.docker.compose.project=shop,com.docker.compose.service=db"}}"#
        ),
        "ports,containers",
    );
    assert!(findings(&report, "PORT008").is_empty(), "{report:#}");
    assert!(findings(&report, "PORT002").is_empty(), "{report:#}");
}

/// A database run with `docker run -p PORT:5432 postgres:16` (no compose
/// labels) for a project whose `.env` names a PostgreSQL URL on that port:
/// the container is the database, silent.
#[test]
fn a_database_container_of_the_urls_kind_is_the_service() {
    let port = free_port();
    let dir = project(&[(
        ".env",
        &format!("DATABASE_URL=postgresql://app:secret@localhost:{port}/app\n"),
    )]);
    let (code, report, _procs, _) = with_container(
        dir.path(),
        port,
        &format!(
            r#"{{"ID":"9","Image":"postgres:16-alpine","Names":"pg","Ports":"127.0.0.1:{port}->5432/tcp","Labels":""}}"#
        ),
        "ports,processes,containers",
    );
    assert!(findings(&report, "PORT008").is_empty(), "{report:#}");
    assert_eq!(code, 0, "{report:#}");
}

/// Another compose project's PostgreSQL on the port this project's own
/// compose file publishes its database on: not this project's database.
#[test]
fn another_compose_projects_database_on_our_compose_port_is_said() {
    let port = free_port();
    let dir = compose_db_on(port);
    let (code, report, _procs, _) = with_container(
        dir.path(),
        port,
        &format!(
            r#"{{"ID":"2","Image":"postgres:15","Names":"blog-db-1","Ports":"0.0.0.0:{port}->5432/tcp","Labels":"com.docker.compose.project=blog,com.docker.compose.service=database"}}"#
        ),
        "ports,containers",
    );
    let held = findings(&report, "PORT008");
    assert_eq!(held.len(), 1, "{report:#}");
    assert_eq!(
        held[0]["fix"]["commands"][0],
        "docker compose -p blog stop database"
    );
    assert_eq!(code, 1);
}

/// The engine answers and no container publishes the port: a forwarder the
/// engine left behind ("port is already allocated", moby #25981).
#[test]
fn a_forwarder_no_container_uses_is_left_behind() {
    let port = free_port();
    let dir = backend_on(port);
    let (code, report, _procs, proxy) = with_container(dir.path(), port, "", "ports,containers");
    let held = findings(&report, "PORT008");
    assert_eq!(held.len(), 1, "{report:#}");
    assert!(
        held[0]["title"]
            .as_str()
            .unwrap()
            .contains("a forwarder no running container uses"),
        "{report:#}"
    );
    assert_eq!(
        held[0]["fix"]["commands"][0],
        "sudo systemctl restart docker"
    );
    assert_eq!(code, 1);
    assert!(is_alive(proxy), "a forwarder is never ended by doctor");
}

/// The compose project name compose derives from a folder.
fn compose_project_of(dir: &Path) -> String {
    dir.file_name()
        .unwrap()
        .to_string_lossy()
        .to_ascii_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect()
}

/// S-class 12 (issue #18): a PostgreSQL installed on the machine holds the
/// port the project's compose file publishes its database on. Compose
/// created the container and could not start it: said, with the holder.
/// Without such a container the native server may be used on purpose:
/// info, and the stack is healthy.
#[test]
fn a_native_database_on_the_port_compose_publishes() {
    let port = free_port();
    let dir = compose_db_on(port);
    let mut procs = Procs::new();
    let _data = start_postgres(&mut procs, port);
    let holder = common::stack::listener_pids(&[port]);
    let bin = tempfile::tempdir().unwrap();
    let name = compose_project_of(dir.path());
    stub_docker(
        bin.path(),
        &format!(
            r#"{{"ID":"7","Image":"postgres:16","Names":"{name}-db-1","Ports":"","State":"created","Labels":"com.docker.compose.project={name},com.docker.compose.service=db"}}"#
        ),
    );
    let (code, report, _) = doctor_with_path(dir.path(), Some(bin.path()), &["--json"]);
    let taken = findings(&report, "PORT014");
    assert_eq!(taken.len(), 1, "{report:#}");
    let f = taken[0];
    assert_eq!(f["severity"], "warning", "{f:#}");
    assert!(
        f["title"]
            .as_str()
            .unwrap()
            .starts_with("compose cannot start db"),
        "{f:#}"
    );
    assert_eq!(f["evidence"]["compose_file"], "docker-compose.yml:5");
    let pid = f["evidence"]["holder"]["pid"].as_u64().unwrap() as u32;
    assert!(holder.contains(&pid), "{f:#}");
    assert!(f["evidence"]["engine"]
        .as_str()
        .unwrap()
        .contains("is created"));
    // A warning: the exit code stays 0 (1 is for errors, or --strict).
    assert_eq!(code, 0, "{report:#}");
    // Never a process doctor ends: it is not the project's.
    let (_, _, plan) = doctor_with_path(dir.path(), Some(bin.path()), &["--fix", "--dry-run"]);
    for pid in &holder {
        assert!(!plan.contains(&format!("kill -TERM {pid}")), "{plan}");
    }

    // No container was ever created: the native database may be the one
    // the project uses. Info, and nothing louder.
    stub_docker(bin.path(), "");
    let (code, report, _) = doctor_with_path(dir.path(), Some(bin.path()), &["--json"]);
    let taken = findings(&report, "PORT014");
    assert_eq!(taken.len(), 1, "{report:#}");
    assert_eq!(taken[0]["severity"], "info");
    assert_eq!(code, 0, "{report:#}");
}

/// A compose project whose `api` is given the database's URL as localhost.
fn compose_api_calling(db_host: &str, port: u16) -> tempfile::TempDir {
    project(&[
        (
            "docker-compose.yml",
            &format!(
                "services:\n  db:\n    image: postgres:16\n    ports:\n      - \"{port}:5432\"\n  api:\n    build: ./backend\n    environment:\n      DATABASE_URL: postgresql://app:hunter2secret@{db_host}/app\n    env_file: backend/.env\n"
            ),
        ),
        ("backend/.env", "REDIS_HOST=localhost\nREDIS_PORT=6379\n"),
        (
            "backend/main.py",
            "from fastapi import FastAPI\napp = FastAPI()\n",
        ),
    ])
}

/// S-class 2 (issue #18): inside the api container, localhost is the api
/// container. The running container is named from the engine; the fix is
/// the sibling's service name; the URL's password never shows.
#[test]
fn a_compose_service_calls_its_database_as_localhost() {
    let port = free_port();
    let dir = compose_api_calling("localhost:5432", port);
    let bin = tempfile::tempdir().unwrap();
    let name = compose_project_of(dir.path());
    stub_docker(
        bin.path(),
        &format!(
            r#"{{"ID":"8","Image":"{name}-api","Names":"{name}-api-1","Ports":"","State":"running","Labels":"com.docker.compose.project={name},com.docker.compose.service=api"}}"#
        ),
    );
    let (code, report, text) = doctor_with_path(
        dir.path(),
        Some(bin.path()),
        &["--json", "--only", "compose"],
    );
    let calls = findings(&report, "NET003");
    assert_eq!(calls.len(), 1, "{report:#}");
    let f = calls[0];
    assert_eq!(f["severity"], "warning", "{f:#}");
    assert_eq!(f["evidence"]["sibling"], "db");
    assert_eq!(f["evidence"]["at"], "docker-compose.yml:9");
    assert_eq!(f["evidence"]["written"], "localhost:5432");
    assert!(
        f["fix"]["title"].as_str().unwrap().contains("db:5432"),
        "{f:#}"
    );
    assert_eq!(code, 0);
    assert!(!text.contains("hunter2secret"), "{text}");
    // REDIS_HOST=localhost names no sibling: the project has no redis service.
    assert!(!text.contains("REDIS_HOST"), "{text}");

    // The same file with no container of api running: info.
    stub_docker(bin.path(), "");
    let (code, report, _) = doctor_with_path(
        dir.path(),
        Some(bin.path()),
        &["--json", "--only", "compose"],
    );
    assert_eq!(findings(&report, "NET003")[0]["severity"], "info");
    assert_eq!(code, 0);

    // Written with the service name: nothing to say.
    let fixed = compose_api_calling("db:5432", port);
    let (code, report, _) = doctor_with_path(
        fixed.path(),
        Some(bin.path()),
        &["--json", "--only", "compose"],
    );
    assert!(findings(&report, "NET003").is_empty(), "{report:#}");
    assert_eq!(code, 0);
}

/// `DB_HOST=localhost` and `DB_PORT=5433` in the env file compose gives
/// the service, where the database publishes 5433:5432: the fix names the
/// port inside compose's network, 5432.
#[test]
fn a_host_and_port_pair_in_an_env_file_compose_reads() {
    let port = free_port();
    let dir = project(&[
        (
            "docker-compose.yml",
            &format!(
                "services:\n  db:\n    image: postgres:16\n    ports:\n      - \"{port}:5432\"\n  api:\n    build: ./backend\n    env_file:\n      - backend/.env\n"
            ),
        ),
        ("backend/.env", &format!("DB_HOST=localhost\nDB_PORT={port}\n")),
    ]);
    let bin = tempfile::tempdir().unwrap();
    stub_docker(bin.path(), "");
    let (_, report, _) = doctor_with_path(
        dir.path(),
        Some(bin.path()),
        &["--json", "--only", "compose"],
    );
    let calls = findings(&report, "NET003");
    assert_eq!(calls.len(), 1, "{report:#}");
    assert_eq!(calls[0]["evidence"]["at"], "backend/.env:1");
    assert!(calls[0]["fix"]["title"]
        .as_str()
        .unwrap()
        .contains("db:5432"));
}

/// A stub engine CLI that lists `listing` for `ps`, gives `pid` as the
/// container's init process for `inspect`, and cannot `exec`.
fn stub_engine_with_pid(bin: &Path, listing: &str, pid: u32) {
    executable(
        bin,
        "docker",
        &format!(
            "#!/bin/sh\ncase \"$1\" in\n  ps) cat <<'JSON'\n{listing}\nJSON\n;;\n  inspect) echo {pid} ;;\n  *) exit 1 ;;\nesac\n"
        ),
    );
}

/// S-class 1 (issue #18): the project's compose service runs `flask run`,
/// which binds the container's loopback. The "container" is a real network
/// namespace running the real flask; the forwarder on the host accepts and
/// closes, as docker-proxy does when the container's address refuses.
/// doctor reads the namespace's socket table through the init pid the
/// engine names, and says which flag binds it wide.
#[test]
fn the_app_in_the_container_listens_on_its_loopback_only() {
    let Some(ns) = common::netns::Netns::new("inside") else {
        eprintln!("skipped: no network namespaces here (needs root and ip)");
        return;
    };
    let port = free_port();
    let compose = |command: &str| {
        project(&[
            (
                "docker-compose.yml",
                &format!(
                    "services:\n  web:\n    build: .\n    command: {command}\n    ports:\n      - \"{port}:5000\"\n"
                ),
            ),
            (
                "app.py",
                "from flask import Flask\napp = Flask(__name__)\n\n@app.get('/')\ndef index():\n    return 'ok'\n",
            ),
        ])
    };
    let dir = compose("flask run --port 5000");
    let mut procs = Procs::new();
    let inside = procs.spawn(
        ns.command(venv().join("bin/flask"))
            .args(["run", "--port", "5000"])
            .current_dir(dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null()),
    );
    ns.wait_listening(5000);
    let bin = tempfile::tempdir().unwrap();
    let proxy = executable(bin.path(), "docker-proxy", PROXY);
    procs.spawn(Command::new(proxy).args([
        "-proto",
        "tcp",
        "-host-ip",
        "127.0.0.1",
        "-host-port",
        &port.to_string(),
        "-container-ip",
        "172.18.0.2",
        "-container-port",
        "5000",
    ]));
    wait_listening(&format!("127.0.0.1:{port}"));
    let name = compose_project_of(dir.path());
    let listing = format!(
        r#"{{"ID":"5e1f","Image":"{name}-web","Names":"{name}-web-1","Ports":"127.0.0.1:{port}->5000/tcp","State":"running","Labels":"com.docker.compose.project={name},com.docker.compose.service=web"}}"#
    );
    stub_engine_with_pid(bin.path(), &listing, inside);
    let (code, report, _) = doctor_with_path(dir.path(), Some(bin.path()), &["--json"]);
    let inner = findings(&report, "PORT015");
    assert_eq!(inner.len(), 1, "{report:#}");
    let f = inner[0];
    assert_eq!(
        f["evidence"]["listening_inside"][0], "127.0.0.1:5000",
        "{f:#}"
    );
    assert_eq!(f["evidence"]["command"]["at"], "docker-compose.yml:4");
    assert!(
        f["fix"]["title"]
            .as_str()
            .unwrap()
            .contains("flask run --port 5000` (or FLASK_RUN_HOST=0.0.0.0)"),
        "{f:#}"
    );
    assert!(
        f["evidence"]["read_by"]
            .as_str()
            .unwrap()
            .contains(&format!("/proc/{inside}/net/tcp")),
        "{f:#}"
    );
    assert_eq!(code, 1, "{report:#}");
    // The root: the probes that get an empty reply on that port fold under it.
    let all = report["findings"].as_array().unwrap();
    let first = all
        .iter()
        .find(|f| f["caused_by"].is_null() && f["severity"] != "info")
        .unwrap();
    assert_eq!(first["code"], "PORT015", "{report:#}");
    procs.end(inside);

    // The same container with `--host 0.0.0.0`: nothing to say.
    let fixed = compose("flask run --host 0.0.0.0 --port 5000");
    let wide = procs.spawn(
        ns.command(venv().join("bin/flask"))
            .args(["run", "--host", "0.0.0.0", "--port", "5000"])
            .current_dir(fixed.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null()),
    );
    ns.wait_listening(5000);
    let name = compose_project_of(fixed.path());
    let listing = format!(
        r#"{{"ID":"5e1f","Image":"{name}-web","Names":"{name}-web-1","Ports":"127.0.0.1:{port}->5000/tcp","State":"running","Labels":"com.docker.compose.project={name},com.docker.compose.service=web"}}"#
    );
    stub_engine_with_pid(bin.path(), &listing, wide);
    let (_, report, _) = doctor_with_path(
        fixed.path(),
        Some(bin.path()),
        &["--json", "--only", "containers"],
    );
    assert!(findings(&report, "PORT015").is_empty(), "{report:#}");
}

/// Field fd P1 A: a compose dev file (`docker-compose.dev.yml`), run
/// natively with the compose names mapped to loopback in the hosts file, as
/// its README's "without Docker" way asks. The database URL's host `db` is
/// this machine: its database is checked (DB001 when it is down), not
/// dropped as another host's. In a network namespace of the test's own:
/// port 5432 is free there and the hosts file is the namespace's.
#[test]
fn a_compose_name_mapped_to_loopback_is_this_machine() {
    let Some(ns) = common::netns::Netns::new("dbname") else {
        eprintln!("skipped: no network namespaces here (needs root and ip)");
        return;
    };
    ns.hosts("127.0.0.1 localhost\n::1 localhost\n127.0.0.1 db backend\n");
    let dir = project(&[
        (
            "docker-compose.dev.yml",
            "services:\n  db:\n    image: postgres:16\n    ports:\n      - \"5432:5432\"\n",
        ),
        (
            "backend/.env",
            "DATABASE_URL=postgresql+asyncpg://app:changethis@db:5432/app\n",
        ),
    ]);
    let (_, report) = ns.doctor_json(dir.path(), &["--only", "database,compose"]);
    let down = findings(&report, "DB001");
    assert_eq!(down.len(), 1, "{report:#}");
    assert!(
        down[0]["title"].as_str().unwrap().contains("5432")
            && down[0].to_string().contains("backend/.env"),
        "{report:#}"
    );
    // The name resolves here: nothing to say about compose names.
    assert!(findings(&report, "NET004").is_empty(), "{report:#}");
}

/// Field ff c3 (round 6): the backend was started with the compose dev
/// file's environment exported into its shell (`DATABASE_URL=…@db:5432`)
/// and `db` does not resolve here: the running server's own environment is
/// the evidence, named as such.
#[test]
fn a_compose_name_in_the_running_servers_environment() {
    let (api, db) = (free_port(), free_port());
    let dir = project(&[
        (
            "docker-compose.dev.yml",
            &format!(
                "services:\n  db:\n    image: postgres:16\n    ports:\n      - \"{db}:5432\"\n"
            ),
        ),
        ("Procfile", &format!("web: uvicorn main:app --port {api}\n")),
        ("main.py", FASTAPI_APP),
    ]);
    let mut procs = Procs::new();
    uvicorn_with_env(
        &mut procs,
        dir.path(),
        api,
        &["--reload"],
        &[(
            "DATABASE_URL",
            "postgresql+asyncpg://postgres:hunter2pw@db:5432/app".into(),
        )],
    );
    let (_, report, text) = doctor_with_path(dir.path(), None, &["--json", "--only", "compose"]);
    let named = findings(&report, "NET004");
    assert_eq!(named.len(), 1, "{report:#}");
    assert!(
        named[0]["evidence"]["at"]
            .as_str()
            .unwrap()
            .starts_with("the environment of pid"),
        "{report:#}"
    );
    assert_eq!(named[0]["severity"], "warning");
    assert!(named[0]["fix"]["title"]
        .as_str()
        .unwrap()
        .contains(&format!("localhost:{db}")));
    assert!(!text.contains("hunter2pw"));
    // The restart is the command it runs with (`--reload` kept), not the
    // Procfile's (field gd fd P1 D3, round 11).
    assert!(
        named[0]["fix"]["commands"]
            .to_string()
            .contains("main:app --host 127.0.0.1 --port"),
        "{report:#}"
    );
    assert!(
        named[0]["fix"]["commands"].to_string().contains("--reload"),
        "{report:#}"
    );
}

/// Field round 7/9 (gd fd P1 D3, partial): two URLs in the running
/// server's environment name the compose service `db`: `DATABASE_URL`,
/// which the app's engine reads, and `DATABASE_URL_SYNC`, which only
/// alembic reads. The first said was the alembic one, in the order of the
/// environment; the one the app's code reads comes first (real uvicorn
/// with both exported; the test's alembic key sorts first, as Rust passes
/// an environment in key order).
#[test]
fn the_url_the_apps_code_reads_is_said_before_alembics() {
    let (api, db) = (free_port(), free_port());
    let app =
        format!("{FASTAPI_APP}\nimport os\n\nENGINE_URL = os.environ.get(\"DATABASE_URL\")\n");
    let dir = project(&[
        (
            "docker-compose.dev.yml",
            &format!(
                "services:\n  db:\n    image: postgres:16\n    ports:\n      - \"{db}:5432\"\n"
            ),
        ),
        ("Procfile", &format!("web: uvicorn main:app --port {api}\n")),
        ("main.py", &app),
        (
            "alembic/env.py",
            "import os\n\nurl = os.environ[\"ALEMBIC_DATABASE_URL\"]\n",
        ),
    ]);
    let mut procs = Procs::new();
    uvicorn_with_env(
        &mut procs,
        dir.path(),
        api,
        &[],
        &[
            (
                "ALEMBIC_DATABASE_URL",
                "postgresql://postgres:pw@db:5432/app".into(),
            ),
            (
                "DATABASE_URL",
                "postgresql+asyncpg://postgres:pw@db:5432/app".into(),
            ),
        ],
    );
    let (_, report) = doctor_json(dir.path(), &["--only", "compose"]);
    let named = findings(&report, "NET004");
    assert_eq!(named.len(), 2, "{report:#}");
    assert_eq!(named[0]["evidence"]["key"], "DATABASE_URL", "{report:#}");
    assert_eq!(
        named[1]["evidence"]["key"], "ALEMBIC_DATABASE_URL",
        "{report:#}"
    );
}

/// Field fe c2 (round 6): the compose file gives the web service
/// `env_file: ./.env`, and `.env` is not there (no example beside it): the
/// native backend, whose settings come from it, is down. Named as the
/// cause, with the compose line; without the file nothing says why.
#[test]
fn a_missing_env_file_that_compose_names() {
    let api = free_port();
    let dir = project(&[
        (
            "docker-compose.yml",
            "services:\n  web:\n    build: .\n    env_file: ./.env\n",
        ),
        (
            "backend/Procfile",
            &format!("web: uvicorn main:app --port {api}\n"),
        ),
        (
            "backend/main.py",
            "from fastapi import FastAPI\napp = FastAPI()\n",
        ),
    ]);
    let (_, report) = doctor_json(dir.path(), &["--only", "env,ports"]);
    let missing = findings(&report, "ENV001");
    assert_eq!(missing.len(), 1, "{report:#}");
    let f = missing[0];
    // The root of the service being down: as severe as what it explains.
    assert_eq!(f["severity"], "error", "{f:#}");
    assert_eq!(f["evidence"]["compose_file"], "docker-compose.yml:2");
    let all = report["findings"].as_array().unwrap();
    let first = all.iter().find(|f| f["caused_by"].is_null()).unwrap();
    assert_eq!(first["code"], "ENV001", "{report:#}");
    assert!(
        all.iter()
            .any(|f| f["code"] == "PORT001" && !f["caused_by"].is_null()),
        "{report:#}"
    );
}
