//! S30, containers (issue #12): a process named `docker-proxy` with the real
//! argument shape holds a port; a stub `docker` CLI on PATH answers with a
//! recorded `docker ps` listing. The container behind the forwarder is
//! named, and the forwarder is never a kill target.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

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
