//! Failure classes of issue #18, each with real processes on loopback that
//! the test ends by pid: a server from a folder that is gone (PROC008), …

mod common;

use common::stack::*;
use common::*;

/// A python http.server started in a checkout that was then deleted still
/// serves the port the project's env URL names: PROC008 names it as stale
/// with its old path, the stranger finding (PORT002) and the probes fold
/// under it, and `--fix --yes` ends exactly that pid.
#[test]
fn a_server_from_a_deleted_folder_is_stale() {
    let port = free_port();
    let dir = project(&[(".env", &format!("API_URL=http://127.0.0.1:{port}\n"))]);
    let old = tempfile::tempdir().unwrap();
    let checkout = old.path().join("shop");
    std::fs::create_dir(&checkout).unwrap();
    let mut procs = Procs::new();
    let pid = http_server(&mut procs, &checkout, "127.0.0.1", port);
    std::fs::remove_dir(&checkout).unwrap();

    let (code, report) = doctor_json(dir.path(), &[]);
    assert_eq!(code, 1, "{report:#}");
    let f = findings(&report, "PROC008");
    assert_eq!(f.len(), 1, "{report:#}");
    assert_eq!(f[0]["severity"], "error");
    assert_eq!(f[0]["evidence"]["process"]["pid"], pid);
    assert_eq!(
        f[0]["evidence"]["old_cwd"],
        checkout.to_string_lossy().as_ref()
    );
    assert_eq!(f[0]["evidence"]["path_now"], "does not exist");
    assert!(f[0]["title"].as_str().unwrap().contains("is gone"));
    assert!(f[0]["caused_by"].is_null());
    let index = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .position(|x| x["code"] == "PROC008")
        .unwrap();
    for other in report["findings"].as_array().unwrap() {
        if other["code"] != "PROC008" {
            assert_eq!(other["caused_by"], index, "folds under PROC008: {other:#}");
        }
    }
    assert!(!findings(&report, "PORT002").is_empty(), "{report:#}");

    // The fix ends that pid, re-checked, and nothing else.
    let (_, after) = doctor_json(dir.path(), &["--fix", "--yes"]);
    eventually("the stale server ends", || !is_alive(pid));
    assert!(findings(&after, "PROC008").is_empty(), "{after:#}");
}

/// The same server in a folder that still exists is no PROC008.
#[test]
fn a_server_from_a_live_folder_is_not_called_gone() {
    let port = free_port();
    let dir = project(&[(".env", &format!("API_URL=http://127.0.0.1:{port}\n"))]);
    let other = tempfile::tempdir().unwrap();
    let mut procs = Procs::new();
    http_server(&mut procs, other.path(), "127.0.0.1", port);
    let (_, report) = doctor_json(dir.path(), &[]);
    assert!(findings(&report, "PROC008").is_empty(), "{report:#}");
    assert!(!findings(&report, "PORT002").is_empty(), "{report:#}");
}

/// A self-signed certificate for localhost, in a folder of its own.
fn certificate() -> (tempfile::TempDir, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    let ok = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=localhost", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl is installed")
        .success();
    assert!(ok, "openssl req failed");
    let s = |p: std::path::PathBuf| p.to_string_lossy().into_owned();
    (dir, s(cert), s(key))
}

/// `http://` on a real TLS server (openssl s_server) and `https://` on a
/// real plain one (python's http.server), both the project's own (started
/// in its folder): HEALTH007 for each, named by the one bounded probe in the
/// other scheme, the "no HTTP answer" folded under it; `--fix --yes` writes
/// the scheme each server speaks, and the stack is then silent.
#[test]
fn the_url_scheme_and_what_the_server_speaks_disagree() {
    let (tls_port, plain_port) = (free_port(), free_port());
    let dir = project(&[(
        ".env",
        &format!("API_URL=http://127.0.0.1:{tls_port}\nFILES_URL=https://127.0.0.1:{plain_port}\n"),
    )]);
    let (_certs, cert, key) = certificate();
    let mut procs = Procs::new();
    procs.spawn(
        std::process::Command::new("openssl")
            .args(["s_server", "-quiet", "-www", "-accept"])
            .arg(format!("127.0.0.1:{tls_port}"))
            .args(["-cert", &cert, "-key", &key])
            .current_dir(dir.path())
            .stderr(std::process::Stdio::null()),
    );
    wait_listening(&format!("127.0.0.1:{tls_port}"));
    http_server(&mut procs, dir.path(), "127.0.0.1", plain_port);

    let (code, report) = doctor_json(dir.path(), &[]);
    assert_eq!(code, 1, "{report:#}");
    let f = findings(&report, "HEALTH007");
    assert_eq!(f.len(), 2, "{report:#}");
    let on = |port: u16| {
        *f.iter()
            .find(|x| x["evidence"]["port"] == port)
            .unwrap_or_else(|| panic!("no HEALTH007 on {port}: {report:#}"))
    };
    let tls = on(tls_port);
    assert_eq!(tls["evidence"]["url_scheme"], "http");
    assert!(tls["evidence"]["server_speaks"]
        .as_str()
        .unwrap()
        .starts_with("TLS"));
    assert!(tls["evidence"]["probe"]
        .as_str()
        .unwrap()
        .starts_with("one TLS handshake"));
    let plain = on(plain_port);
    assert_eq!(plain["evidence"]["url_scheme"], "https");
    assert_eq!(plain["evidence"]["server_speaks"], "plain HTTP (200)");
    // Every other finding is a consequence of one of the two.
    let roots: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["caused_by"].is_null())
        .map(|x| x["code"].as_str().unwrap())
        .collect();
    assert_eq!(roots, ["HEALTH007", "HEALTH007"], "{report:#}");
    assert!(!findings(&report, "HEALTH002").is_empty(), "{report:#}");

    let (code, after) = doctor_json(dir.path(), &["--fix", "--yes"]);
    assert_eq!(code, 0, "{after:#}");
    let env = std::fs::read_to_string(dir.path().join(".env")).unwrap();
    assert!(env.contains(&format!("API_URL=https://127.0.0.1:{tls_port}")));
    assert!(env.contains(&format!("FILES_URL=http://127.0.0.1:{plain_port}")));
    let (code, again) = doctor_json(dir.path(), &[]);
    assert_eq!(code, 0, "{again:#}");
    assert!(loud_codes(&again).is_empty(), "{again:#}");
}

/// Open to the network: the project's own `flask run --debug --host
/// 0.0.0.0` (the real flask of the test venv) is a warning naming the flag
/// and its loopback twin; the default loopback bind is silent.
#[test]
fn a_debug_server_open_to_the_network_is_a_warning() {
    let mut procs = Procs::new();
    let stack = Stack::new("flask-flaskenv");
    stack.link_venv(".venv");
    let api = stack.port("API_PORT");
    let pid = start_venv(
        &mut procs,
        stack.path(),
        "flask",
        &["run", "--debug", "--host", "0.0.0.0"],
        api,
        "/api/health",
    );
    let (code, report) = stack.doctor(&[]);
    let f = findings(&report, "PORT012");
    assert_eq!(f.len(), 1, "{report:#}");
    assert_eq!(f[0]["severity"], "warning");
    assert_eq!(f[0]["evidence"]["port"], api);
    assert_eq!(f[0]["evidence"]["bound_wide_by"], "--host 0.0.0.0");
    assert_eq!(f[0]["evidence"]["loopback"], "--host 127.0.0.1");
    assert!(f[0]["evidence"]["exposes"]
        .as_str()
        .unwrap()
        .contains("werkzeug's debugger"));
    assert_eq!(code, 0, "a warning is not an error: {report:#}");
    assert_eq!(loud_codes(&report), ["PORT012"], "{report:#}");
    procs.end(pid);

    // The same app on its default loopback bind (.flaskenv's 127.0.0.1).
    start_venv(
        &mut procs,
        stack.path(),
        "flask",
        &["run", "--debug"],
        api,
        "/api/health",
    );
    stack.assert_silent();
    let (_, report) = stack.doctor(&[]);
    assert!(findings(&report, "PORT012").is_empty(), "{report:#}");
}

/// vite's bare `--host` (every interface) is a plain dev server: info.
#[test]
fn a_dev_server_open_to_the_network_is_info() {
    let mut procs = Procs::new();
    let stack = Stack::new("vite-settings");
    let dir = stack.join("frontend");
    install_framework(&dir, "vite");
    let web = stack.port("WEB_PORT");
    start_tool(&mut procs, &dir, "vite", &["--host"], web);
    let (_, report) = stack.doctor(&[]);
    let f: Vec<_> = findings(&report, "PORT012")
        .into_iter()
        .filter(|f| f["evidence"]["port"] == web)
        .collect();
    assert_eq!(f.len(), 1, "{report:#}");
    assert_eq!(f[0]["severity"], "info");
    assert!(f[0]["evidence"]["bound_wide_by"]
        .as_str()
        .unwrap()
        .starts_with("--host"));
    assert!(f[0]["evidence"]["exposes"].is_null());
}

/// A real Redis bound to every interface: with no password and protected
/// mode off it answers a neighbour's PING (warning); with a password it is
/// only info; the project's loopback Redis is silent.
#[test]
fn an_open_redis_on_every_interface_is_a_warning() {
    let start = |procs: &mut Procs, port: u16, extra: &[&str]| {
        let mut cmd = std::process::Command::new("redis-server");
        cmd.args(["--port", &port.to_string(), "--bind", "0.0.0.0"])
            .args(["--save", "", "--appendonly", "no"])
            .args(extra);
        procs.spawn(&mut cmd);
        wait_listening(&format!("127.0.0.1:{port}"));
    };
    let (open, locked, local) = (free_port(), free_port(), free_port());
    let dir = project(&[(
        ".env",
        &format!(
            "REDIS_URL=redis://localhost:{open}/0\nCACHE_REDIS_URL=redis://localhost:{locked}/0\nQUEUE_REDIS_URL=redis://127.0.0.1:{local}/0\n"
        ),
    )]);
    let mut procs = Procs::new();
    start(&mut procs, open, &["--protected-mode", "no"]);
    start(&mut procs, locked, &["--requirepass", "s3cret-for-tests"]);
    start_redis(&mut procs, local);
    let (_, report) = doctor_json(dir.path(), &[]);
    let on = |port: u16| -> Vec<&serde_json::Value> {
        findings(&report, "PORT012")
            .into_iter()
            .filter(|f| f["evidence"]["port"] == port)
            .collect()
    };
    let f = on(open);
    assert_eq!(f.len(), 1, "{report:#}");
    assert_eq!(f[0]["severity"], "warning", "{report:#}");
    // redis-server rewrites its title: the bind shows there, not the flag.
    assert!(f[0]["evidence"]["bound_wide_by"]
        .as_str()
        .unwrap()
        .starts_with("bind 0.0.0.0"));
    assert!(f[0]["evidence"]["loopback"]
        .as_str()
        .unwrap()
        .starts_with("--bind 127.0.0.1 -::1"));
    let f = on(locked);
    assert_eq!(f.len(), 1, "{report:#}");
    assert_eq!(f[0]["severity"], "info", "{report:#}");
    assert!(on(local).is_empty(), "{report:#}");
    assert!(!report.to_string().contains("s3cret-for-tests"));
}

/// Browser-blocked ports. The rule is about the port number and needs no
/// listener, and a test cannot take a blocked port for itself (they are
/// well-known ports, below the OS's ephemeral range, that the machine's own
/// services may hold), so the model comes from the project's files: a vite
/// frontend whose dev script says `--port 6000` (X11's), and its env file
/// naming the API on 6666 (IRC's) under a key the bundler hands to the
/// browser. A proxy target on a blocked port is the dev server's to reach,
/// not the browser's, and an API on a port the OS handed out is fine.
#[test]
fn ports_the_browser_refuses() {
    let free = free_port();
    let dir = project(&[
        (
            "frontend/package.json",
            r#"{"name": "web", "private": true, "scripts": {"dev": "vite --port 6000"}, "devDependencies": {"vite": "^8.4.0"}}"#,
        ),
        (
            "frontend/.env",
            &format!("VITE_API_URL=http://localhost:6666\nVITE_FILES_URL=http://localhost:{free}\n"),
        ),
        (
            "frontend/vite.config.js",
            "export default { server: { proxy: { '/auth': 'http://127.0.0.1:6667' } } }\n",
        ),
        ("frontend/src/api.js", "export const api = import.meta.env.VITE_API_URL\nexport const files = import.meta.env.VITE_FILES_URL\n"),
    ]);
    let (_, report) = doctor_json(dir.path(), &["--only", "browser"]);
    let f = findings(&report, "PORT013");
    let ports: Vec<u64> = f
        .iter()
        .map(|x| x["evidence"]["port"].as_u64().unwrap())
        .collect();
    assert_eq!(ports.len(), 2, "{report:#}");
    assert!(ports.contains(&6000) && ports.contains(&6666), "{report:#}");
    let api = f.iter().find(|x| x["evidence"]["port"] == 6666).unwrap();
    assert_eq!(api["severity"], "warning");
    assert_eq!(api["evidence"]["set_at"][0], "frontend/.env:1");
    assert!(api["fix"]["commands"][0]
        .as_str()
        .unwrap()
        .contains("change 6666 to 6670 at frontend/.env:1"));
    let web = f.iter().find(|x| x["evidence"]["port"] == 6000).unwrap();
    assert_eq!(web["evidence"]["set_at"][0], "frontend/package.json:1");
}

/// Real uvicorn whose stdout (its access log) is a pipe the test closed the
/// read end of: PROC009 names it, doctor sends it no HTTP request (it is
/// still alive after doctor ran: the assertion that matters), and one
/// logged request afterwards is what would end it.
#[test]
fn a_server_on_a_pipe_nobody_reads_is_named_and_spared() {
    let port = free_port();
    let dir = project(&[
        (".env", &format!("API_URL=http://127.0.0.1:{port}\n")),
        ("requirements.txt", "fastapi\nuvicorn\n"),
        ("main.py", FASTAPI_APP),
    ]);
    let mut procs = Procs::new();
    let (pid, stdout) = procs.spawn_piped(
        std::process::Command::new(common::frameworks::venv().join("bin/uvicorn"))
            .args([
                "main:app",
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
            ])
            .current_dir(dir.path())
            .stderr(std::process::Stdio::null()),
    );
    wait_listening(&format!("127.0.0.1:{port}"));
    drop(stdout);

    let (_, report) = doctor_json(dir.path(), &[]);
    assert!(
        is_alive(pid),
        "doctor's probes killed the server: {report:#}"
    );
    let f = findings(&report, "PROC009");
    assert_eq!(f.len(), 1, "{report:#}");
    assert_eq!(f[0]["severity"], "warning");
    assert_eq!(f[0]["evidence"]["process"]["pid"], pid);
    assert_eq!(f[0]["evidence"]["output"], "stdout");
    let title = f[0]["title"].as_str().unwrap();
    assert!(title.contains("a pipe nobody reads"), "{title}");
    assert!(title.contains("detached"), "{title}");
    // The health check made no HTTP request (and so no finding of its own).
    assert!(
        findings(&report, "HEALTH001").is_empty() && findings(&report, "HEALTH002").is_empty(),
        "{report:#}"
    );
    // Still alive a moment later: no request of doctor's is in flight.
    wait_listening(&format!("127.0.0.1:{port}"));
    assert!(is_alive(pid));
}

/// The same uvicorn whose stdout the test keeps reading is no PROC009, and
/// its health is probed as usual.
#[test]
fn a_server_whose_pipe_is_read_is_not_called_fragile() {
    let port = free_port();
    let dir = project(&[
        (".env", &format!("API_URL=http://127.0.0.1:{port}\n")),
        ("requirements.txt", "fastapi\nuvicorn\n"),
        ("main.py", FASTAPI_APP),
    ]);
    let mut procs = Procs::new();
    let (_pid, _stdout) = procs.spawn_piped(
        std::process::Command::new(common::frameworks::venv().join("bin/uvicorn"))
            .args([
                "main:app",
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
            ])
            .current_dir(dir.path())
            .stderr(std::process::Stdio::null()),
    );
    wait_listening(&format!("127.0.0.1:{port}"));
    let (_, report) = doctor_json(dir.path(), &[]);
    assert!(findings(&report, "PROC009").is_empty(), "{report:#}");
    assert!(
        report["probes"].as_array().is_some_and(|p| p
            .iter()
            .any(|x| x["check"] == "health" && x.get("skipped").is_none())),
        "{report:#}"
    );
}

/// NET001 in a network namespace whose hosts file (bind-mounted by `ip
/// netns exec`) maps localhost to another address: the project's URL says
/// localhost, its server listens on 127.0.0.1, and doctor names the hosts
/// line; the same stack with the usual hosts file is no NET001.
#[test]
fn localhost_mapped_elsewhere_in_the_hosts_file() {
    let Some(ns) = common::netns::Netns::new("hosts") else {
        eprintln!("no network namespace here (needs root and ip): skipped");
        return;
    };
    let port = 8000;
    let dir = project(&[(".env", &format!("API_URL=http://localhost:{port}\n"))]);
    let mut procs = Procs::new();
    procs.spawn(
        ns.command(python())
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
    ns.wait_listening(port);

    ns.hosts("127.0.0.1 box\n10.77.0.9 localhost\n");
    let (_, report) = ns.doctor_json(dir.path(), &[]);
    let f = findings(&report, "NET001");
    assert_eq!(f.len(), 1, "{report:#}");
    // A warning of its own, raised to its consequences' error: the probes
    // of localhost:8000 reach 10.77.0.9 and fold under it.
    assert_ne!(f[0]["severity"], "info", "{report:#}");
    let index = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .position(|x| x["code"] == "NET001")
        .unwrap();
    for other in report["findings"].as_array().unwrap() {
        if other["code"].as_str().unwrap().starts_with("HEALTH") {
            assert_eq!(other["caused_by"], index, "folds under NET001: {other:#}");
        }
    }
    assert_eq!(f[0]["evidence"]["resolved"][0], "10.77.0.9", "{report:#}");
    let title = f[0]["title"].as_str().unwrap();
    assert!(
        title.contains("/etc/hosts:2 maps localhost to 10.77.0.9"),
        "{title}"
    );
    assert!(
        title.contains(&format!("http://localhost:{port}")),
        "{title}"
    );

    ns.hosts("127.0.0.1 localhost\n::1 localhost\n");
    let (_, healthy) = ns.doctor_json(dir.path(), &[]);
    assert!(findings(&healthy, "NET001").is_empty(), "{healthy:#}");
}

/// doctor with `vars` set (and the hosted runtimes' others unset), `--json`.
fn doctor_json_with(dir: &std::path::Path, vars: &[(&str, &str)]) -> serde_json::Value {
    let mut cmd = std::process::Command::new(DOCTOR);
    cmd.arg("--dir").arg(dir).arg("--json");
    for v in [
        "COLAB_RELEASE_TAG",
        "CODESPACES",
        "CODESPACE_NAME",
        "GITPOD_WORKSPACE_ID",
        "REMOTE_CONTAINERS",
        "SSH_CONNECTION",
    ] {
        cmd.env_remove(v);
    }
    cmd.envs(vars.iter().copied());
    let out = cmd.output().unwrap();
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
}

/// NET002: in Codespaces, over SSH and in Colab (their variables set), a
/// service that is up (a real listener) gets how the browser reaches it, as
/// info; the same stack with none of those variables says nothing of it.
#[test]
fn in_a_hosted_runtime_the_browser_way_to_a_service_is_said() {
    let port = free_port();
    let dir = project(&[(".env", &format!("API_URL=http://127.0.0.1:{port}\n"))]);
    let mut procs = Procs::new();
    http_server(&mut procs, dir.path(), "127.0.0.1", port);

    let cs = doctor_json_with(
        dir.path(),
        &[
            ("CODESPACES", "true"),
            ("CODESPACE_NAME", "shop-x7"),
            ("GITHUB_CODESPACES_PORT_FORWARDING_DOMAIN", "app.github.dev"),
        ],
    );
    let f = findings(&cs, "NET002");
    assert_eq!(f.len(), 1, "{cs:#}");
    assert_eq!(f[0]["severity"], "info");
    let title = f[0]["title"].as_str().unwrap();
    assert!(title.contains("GitHub Codespaces"), "{title}");
    assert!(
        title.contains(&format!("https://shop-x7-{port}.app.github.dev")),
        "{title}"
    );

    let ssh = doctor_json_with(
        dir.path(),
        &[
            ("SSH_CONNECTION", "10.0.0.2 50122 10.0.0.9 22"),
            ("USER", "ana"),
        ],
    );
    let title = findings(&ssh, "NET002")[0]["title"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        title.contains(&format!("ssh -L {port}:localhost:{port} ana@10.0.0.9")),
        "{title}"
    );

    let colab = doctor_json_with(
        dir.path(),
        &[("COLAB_RELEASE_TAG", "release-colab_20240101")],
    );
    let title = findings(&colab, "NET002")[0]["title"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        title.contains(&format!("serve_kernel_port_as_window({port})")),
        "{title}"
    );

    let local = doctor_json_with(dir.path(), &[]);
    assert!(findings(&local, "NET002").is_empty(), "{local:#}");
}
