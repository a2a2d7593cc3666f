//! Across the wire (issue #5): health timing, CORS from the real origin,
//! databases, --wait, and servers that misbehave. Real servers on loopback.

mod common;

use std::process::{Command, Stdio};

use common::stack::uvicorn_with_env;
use common::*;
use serde_json::Value;

fn backend_project(port: u16, extra: &[(&str, &str)]) -> tempfile::TempDir {
    let mut files = vec![
        ("main.py", FASTAPI_APP.to_string()),
        (".env", format!("VITE_API_URL=http://127.0.0.1:{port}\n")),
    ];
    files.extend(extra.iter().map(|(a, b)| (*a, b.to_string())));
    let refs: Vec<(&str, &str)> = files.iter().map(|(a, b)| (*a, b.as_str())).collect();
    let dir = project(&refs);
    std::os::unix::fs::symlink(venv(), dir.path().join(".venv")).unwrap();
    dir
}

/// S1: a healthy stack gives no error and no warning, exit 0.
#[test]
fn s1_healthy_stack() {
    let (b, f) = (free_port(), free_port());
    let toml = format!("[[service]]\nname = \"frontend\"\nport = {f}\nkind = \"vite\"\norigin = \"http://localhost:{f}\"\n");
    let dir = backend_project(b, &[("doctor.toml", &toml)]);
    let mut procs = Procs::new();
    uvicorn(
        &mut procs,
        dir.path(),
        b,
        &format!("http://localhost:{f},http://127.0.0.1:{f}"),
    );
    http_server(&mut procs, dir.path(), "127.0.0.1", f);
    let (code, report) = doctor_json(dir.path(), &[]);
    assert_eq!((code, codes(&report)), (0, vec![]), "{report:#}");
    let outcomes: Vec<(&str, &str)> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_str().unwrap(), c["outcome"].as_str().unwrap()))
        .collect();
    for id in ["ports", "processes", "python", "health", "cors"] {
        assert!(outcomes.contains(&(id, "ok")), "{id}: {outcomes:?}");
    }
    let health = report["probes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| {
            p["check"] == "health"
                && p["status"] == 200
                && p["url"].as_str().unwrap().ends_with("/health")
        })
        .expect("a /health probe");
    assert_eq!(
        health["body"],
        serde_json::json!({"status": "ok", "version": "1.0"})
    );
    for t in ["dns_ms", "connect_ms", "ttfb_ms", "total_ms"] {
        assert!(health[t].is_number(), "{t}: {health}");
    }
    // -v shows the timings in the table too.
    let text = String::from_utf8_lossy(&doctor_in(dir.path(), &["-v"]).stdout).to_string();
    assert!(text.contains("ttfb") && text.contains("/health"), "{text}");
}

/// S15: the backend allows only http://localhost:5173; the frontend is opened as 127.0.0.1.
#[test]
fn s15_cors_origin_and_its_twin() {
    let b = free_port();
    let dir = backend_project(b, &[]);
    let mut procs = Procs::new();
    uvicorn(&mut procs, dir.path(), b, "http://localhost:5173");
    let (code, report) = doctor_json(
        dir.path(),
        &["--only", "cors", "--origin", "http://127.0.0.1:5173"],
    );
    assert_eq!(code, 1);
    let f = findings(&report, "CORS001");
    assert_eq!(f.len(), 1, "{report:#}");
    let seen = &f[0]["evidence"]["seen"]["preflight"];
    assert_eq!(seen["status"], 400);
    assert!(
        seen["body"]
            .as_str()
            .unwrap()
            .contains("Disallowed CORS origin"),
        "{seen}"
    );
    assert!(seen["headers"].get("access-control-allow-origin").is_none());
    let f = findings(&report, "CORS003");
    assert_eq!(f.len(), 1, "{report:#}");
    assert_eq!(
        (
            f[0]["evidence"]["allowed"].as_str(),
            f[0]["evidence"]["rejected"].as_str()
        ),
        (Some("http://localhost:5173"), Some("http://127.0.0.1:5173"))
    );
    assert_eq!(
        f[0]["evidence"]["seen"]["allowed"]["preflight"]["headers"]["access-control-allow-origin"],
        "http://localhost:5173"
    );
}

/// S16 and the database sniffs: a real PostgreSQL and Redis speak their
/// protocols; an HTTP server on a "database" port is DB002; a dead port is
/// DB001; the password appears in no output.
#[test]
fn s16_databases_real_and_fake() {
    let (pg, redis, http, dead) = (free_port(), free_port(), free_port(), free_port());
    let mut procs = Procs::new();
    let _data = start_postgres(&mut procs, pg);
    start_redis(&mut procs, redis);
    let dir = project(&[(
        ".env",
        &format!(
            "DATABASE_URL=postgresql://app:SECRET@127.0.0.1:{pg}/app\nREDIS_URL=redis://:SECRET@127.0.0.1:{redis}/0\nANALYTICS_DATABASE_URL=postgresql://app:SECRET@127.0.0.1:{http}/x\nTEST_DATABASE_URL=postgresql://app:SECRET@localhost:{dead}/app\nBROKEN_DATABASE_URL=postgres://app:SECRET@:port:/\n"
        ),
    )]);
    http_server(&mut procs, dir.path(), "127.0.0.1", http);
    let (code, report) = doctor_json(dir.path(), &["--only", "database"]);
    assert_eq!(code, 1);
    let titles = |code: &str| {
        findings(&report, code)
            .iter()
            .map(|f| f["title"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(titles("DB002").len(), 1, "{report:#}");
    assert!(titles("DB002")[0].contains(&http.to_string()));
    assert_eq!(titles("DB001").len(), 1, "{report:#}");
    assert!(
        titles("DB001")[0].contains("TEST_DATABASE_URL")
            && titles("DB001")[0].contains(&dead.to_string())
    );
    assert_eq!(titles("DB003").len(), 1, "{report:#}");
    let speaks: Vec<&str> = report["probes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["result"].as_str())
        .filter(|r| r.starts_with("speaks"))
        .collect();
    assert!(
        speaks.iter().any(|r| r.starts_with("speaks PostgreSQL")),
        "{speaks:?}"
    );
    assert!(
        speaks.iter().any(|r| r.starts_with("speaks Redis")),
        "{speaks:?}"
    );
    for args in [
        vec!["--json"],
        vec!["-v"],
        vec!["-v", "--fix", "--dry-run"],
        vec!["--json", "--fix"],
    ] {
        let all = all_output(dir.path(), &args);
        assert!(
            !all.contains("SECRET"),
            "{args:?} leaked the password:\n{all}"
        );
    }
}

/// S20: five hung endpoints with --timeout 1s: five HEALTH002, and the run
/// is bounded (its time is measured in BENCHMARKS.md, not asserted here).
#[test]
fn s20_many_hung_endpoints() {
    let ports: Vec<String> = (0..5).map(|_| free_port().to_string()).collect();
    let dir = tempfile::tempdir().unwrap();
    let mut procs = Procs::new();
    let args: Vec<&str> = ports.iter().map(String::as_str).collect();
    let hung = std::fs::read_to_string(root().join("scripts/hung_server.py")).unwrap();
    procs.python(dir.path(), &hung, &args);
    let urls: Vec<String> = ports
        .iter()
        .map(|p| format!("http://127.0.0.1:{p}/health"))
        .collect();
    let mut argv = vec!["--only", "health", "--timeout", "1s"];
    for u in &urls {
        argv.extend(["--url", u.as_str()]);
    }
    let (code, report) = doctor_json(dir.path(), &argv);
    assert_eq!(code, 1);
    assert_eq!(findings(&report, "HEALTH002").len(), 5, "{report:#}");
    assert_eq!(report["checks"][0]["outcome"], "findings");
}

/// Servers that misbehave: findings, never a hang past the timeout, never a panic.
const BAD: &str = r#"
import socket, sys, threading, time
def garbage(c): c.sendall(b"hello there\n"); c.close()
def midheaders(c): c.recv(4096); c.sendall(b"HTTP/1.1 200 OK\r\nContent-Ty"); c.close()
def huge(c):
    c.recv(4096); c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 104857600\r\n\r\n")
    try:
        for _ in range(1600): c.sendall(b"x" * 65536)
    except OSError: pass
    c.close()
def redirect(c): c.recv(4096); c.sendall(b"HTTP/1.1 302 Found\r\nLocation: /health\r\nContent-Length: 0\r\n\r\n"); c.close()
def tls(c): c.recv(4096); c.sendall(b"\x15\x03\x01\x00\x02\x02\x28"); c.close()
def slow(c): c.recv(4096); time.sleep(0.7); c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"); c.close()
def missing(c): c.recv(4096); c.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found"); c.close()
kinds = [garbage, midheaders, huge, redirect, tls, slow, missing]
def serve(s, f):
    while True:
        c, _ = s.accept(); threading.Thread(target=f, args=(c,), daemon=True).start()
for p, f in zip(sys.argv[1:], kinds):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", int(p))); s.listen(16)
    threading.Thread(target=serve, args=(s, f), daemon=True).start()
print("ready", flush=True)
while True: time.sleep(3600)
"#;

#[test]
fn misbehaving_servers_are_findings() {
    let names = [
        "garbage",
        "midheaders",
        "huge",
        "redirect",
        "tls",
        "slow",
        "missing",
    ];
    let ports: Vec<String> = names.iter().map(|_| free_port().to_string()).collect();
    let dir = tempfile::tempdir().unwrap();
    let mut procs = Procs::new();
    procs.python(
        dir.path(),
        BAD,
        &ports.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let mut argv = vec!["--only", "health", "--timeout", "2s", "--slow", "300ms"];
    let urls: Vec<String> = ports
        .iter()
        .map(|p| format!("http://127.0.0.1:{p}/health"))
        .collect();
    for u in &urls {
        argv.extend(["--url", u.as_str()]);
    }
    let (code, report) = doctor_json(dir.path(), &argv);
    assert_eq!(code, 1);
    let by_port = |i: usize| -> Vec<String> {
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| {
                f["title"]
                    .as_str()
                    .unwrap()
                    .contains(&format!(":{}", ports[i]))
            })
            .map(|f| f["code"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(by_port(0), ["HEALTH002"], "garbage: {report:#}");
    assert_eq!(
        by_port(2),
        Vec::<String>::new(),
        "a 100 MB body is read to a bounded prefix: {report:#}"
    );
    assert_eq!(by_port(3), ["HEALTH003"], "redirect: {report:#}");
    // The TLS server named by http:// is said as such (HEALTH007, from one
    // TLS handshake); its "no HTTP answer" folds under it.
    assert_eq!(
        by_port(4),
        ["HEALTH007", "HEALTH002"],
        "TLS on http: {report:#}"
    );
    assert_eq!(by_port(5), ["HEALTH004"], "slow: {report:#}");
    assert_eq!(
        by_port(6),
        ["HEALTH003"],
        "404 on a configured path: {report:#}"
    );
    let missing = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "HEALTH003" && f["evidence"]["status"] == 404)
        .unwrap();
    assert_eq!(missing["evidence"]["body"], "not found");
    // Closing mid-headers: the status line counts as an answer, or it is
    // HEALTH002; never anything else.
    assert!(
        by_port(1).iter().all(|c| c == "HEALTH002"),
        "mid-headers: {report:#}"
    );
    assert_ne!(report["checks"][0]["outcome"], "crashed");
}

/// --wait: succeeds on a server that comes up after a delay; times out with
/// the reasons on one that never does.
#[test]
fn wait_for_a_late_server_and_give_up_on_a_dead_one() {
    let late = free_port();
    let dir = project(&[(".env", &format!("API_URL=http://127.0.0.1:{late}\n"))]);
    let mut procs = Procs::new();
    let script = "import sys, time, http.server, socketserver\ntime.sleep(1.5)\nhttp.server.ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), http.server.SimpleHTTPRequestHandler).serve_forever()\n";
    procs.spawn(
        Command::new(python())
            .args(["-c", script, &late.to_string()])
            .current_dir(dir.path())
            .stderr(Stdio::null()),
    );
    let out = doctor_in(
        dir.path(),
        &["--wait", "20s", "--only", "ports,health", "--json"],
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("ready after"));

    let dead = free_port();
    let dir = project(&[(".env", &format!("API_URL=http://127.0.0.1:{dead}\n"))]);
    let out = doctor_in(dir.path(), &["--wait", "1s", "--json"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not ready after"));
    assert_eq!(
        findings(&report, "PORT001").len(),
        1,
        "the report says why: {report:#}"
    );
}

/// HTTPS with a self-signed certificate (a dev server's) is accepted and
/// said; plain HTTP on an https URL is a finding, not a hang.
#[test]
fn https_self_signed_and_plain_text_on_https() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .expect("openssl (scripts/test.sh installs it)");
    assert!(made.success());
    let (tls_port, plain_port) = (free_port(), free_port());
    let script = "import http.server, ssl, sys\nsrv = http.server.ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), http.server.SimpleHTTPRequestHandler)\nctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\nctx.load_cert_chain(sys.argv[2], sys.argv[3])\nsrv.socket = ctx.wrap_socket(srv.socket, server_side=True)\nsrv.serve_forever()\n";
    let mut procs = Procs::new();
    procs.spawn(
        Command::new(python())
            .args(["-c", script, &tls_port.to_string()])
            .arg(&cert)
            .arg(&key)
            .current_dir(dir.path())
            .stderr(Stdio::null()),
    );
    wait_listening(&format!("127.0.0.1:{tls_port}"));
    http_server(&mut procs, dir.path(), "127.0.0.1", plain_port);
    let tls_url = format!("https://127.0.0.1:{tls_port}/");
    let plain_url = format!("https://127.0.0.1:{plain_port}/");
    let (_, report) = doctor_json(
        dir.path(),
        &["--only", "health", "--url", &tls_url, "--url", &plain_url],
    );
    let probe = report["probes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["status"] == 200)
        .expect("the TLS server answered");
    assert!(
        probe["tls"]
            .as_str()
            .unwrap()
            .contains("certificate not verified"),
        "{probe}"
    );
    let f = findings(&report, "HEALTH002");
    assert_eq!(f.len(), 1, "{report:#}");
    assert!(f[0]["title"]
        .as_str()
        .unwrap()
        .contains(&plain_port.to_string()));
    assert!(
        f[0]["evidence"]["addresses"][0]["answer"]
            .as_str()
            .unwrap()
            .contains("TLS handshake failed"),
        "{report:#}"
    );
}

/// A URL the user names is probed even when nothing listens: HEALTH001.
#[test]
fn a_named_url_with_nothing_listening_is_refused() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{port}/health");
    let (code, report) = doctor_json(dir.path(), &["--only", "health", "--url", &url]);
    assert_eq!(code, 1);
    let f = findings(&report, "HEALTH001");
    assert_eq!(f.len(), 1, "{report:#}");
    assert_eq!(
        f[0]["evidence"]["refused"],
        serde_json::json!([format!("127.0.0.1:{port}")])
    );
}

/// The preflight asks what the frontend's code sends: its Authorization
/// header (CORS004 when not allowed) and credentials (CORS002 against `*`).
#[test]
fn cors_follows_what_the_frontend_sends() {
    let b = free_port();
    let dir = project(&[
        ("web/package.json", "{\"name\":\"web\",\"devDependencies\":{\"vite\":\"^5.0.0\"}}"),
        ("web/src/api.ts", "export const get = (t: string) => fetch('/x', { credentials: 'include', headers: { Authorization: `Bearer ${t}` } })\n"),
        ("web/.env", &format!("VITE_API_URL=http://127.0.0.1:{b}\n")),
    ]);
    let script = "import sys\nfrom http.server import BaseHTTPRequestHandler, ThreadingHTTPServer\nclass H(BaseHTTPRequestHandler):\n    def cors(self, code):\n        self.send_response(code)\n        self.send_header('Access-Control-Allow-Origin', '*')\n        self.send_header('Access-Control-Allow-Methods', 'GET, POST')\n        self.send_header('Access-Control-Allow-Headers', 'content-type')\n        self.send_header('Content-Length', '0')\n        self.end_headers()\n    def do_OPTIONS(self): self.cors(204)\n    def do_GET(self): self.cors(200)\n    def log_message(self, *a): pass\nThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()\n";
    let mut procs = Procs::new();
    procs.spawn(
        Command::new(python())
            .args(["-c", script, &b.to_string()])
            .current_dir(dir.path()),
    );
    wait_listening(&format!("127.0.0.1:{b}"));
    let (code, report) = doctor_json(dir.path(), &["--only", "cors"]);
    assert_eq!(code, 1, "{report:#}");
    let f = findings(&report, "CORS002");
    assert_eq!(f.len(), 1, "{report:#}");
    assert_eq!(f[0]["evidence"]["credentials_in"], "web/src/api.ts");
    let f = findings(&report, "CORS004");
    assert!(!f.is_empty(), "{report:#}");
    assert!(f[0]["title"]
        .as_str()
        .unwrap()
        .contains("header Authorization"));
    assert!(findings(&report, "CORS001").is_empty(), "{report:#}");
}

/// S-class 9 (issue #18): a page on a deployed https origin calls the
/// FastAPI backend on loopback. The ordinary CORS preflight allows the
/// origin; Chromium's Private Network Access preflight gets Starlette's 400
/// until `allow_private_network=True`.
#[test]
fn a_public_origin_calling_loopback_needs_private_network_access() {
    let b = free_port();
    let dir = backend_project(b, &[]);
    std::fs::write(
        dir.path().join("main.py"),
        FASTAPI_APP.replace(
            "    allow_headers=[\"*\"],\n",
            "    allow_headers=[\"*\"],\n    allow_private_network=os.environ.get(\"PNA\") == \"1\",\n",
        ),
    )
    .unwrap();
    let origin = "https://shop.example.com";
    let mut procs = Procs::new();
    let strict = uvicorn(&mut procs, dir.path(), b, origin);
    let (_, report) = doctor_json(dir.path(), &["--only", "cors", "--origin", origin]);
    assert!(findings(&report, "CORS001").is_empty(), "{report:#}");
    let pna = findings(&report, "CORS006");
    assert_eq!(pna.len(), 1, "{report:#}");
    assert_eq!(pna[0]["evidence"]["status"], 400);
    assert!(
        pna[0]["fix"]["title"]
            .as_str()
            .unwrap()
            .contains("allow_private_network=True"),
        "{report:#}"
    );
    procs.end(strict);

    // Allowed: nothing to say. And a loopback origin is never asked.
    procs.spawn(
        Command::new(venv().join("bin/uvicorn"))
            .args(["main:app", "--host", "127.0.0.1", "--port", &b.to_string()])
            .current_dir(dir.path())
            .env("ALLOWED", origin)
            .env("PNA", "1")
            .stderr(Stdio::null()),
    );
    wait_listening(&format!("127.0.0.1:{b}"));
    let (_, report) = doctor_json(dir.path(), &["--only", "cors", "--origin", origin]);
    assert!(findings(&report, "CORS006").is_empty(), "{report:#}");
    assert!(findings(&report, "CORS001").is_empty(), "{report:#}");
}

/// Field ff case 2 (round 6): `--url` on the port of a service doctor
/// already knows was merged into that service and its path was never
/// asked: a 500 there printed "no problems found". The user's URL is the
/// service's health URL: asked, and its status counts.
#[test]
fn a_url_given_on_a_known_services_port_is_asked() {
    let port = free_port();
    let dir = project(&[(".env", &format!("VITE_API_URL=http://127.0.0.1:{port}\n"))]);
    let mut procs = Procs::new();
    http_server(&mut procs, dir.path(), "127.0.0.1", port);
    let (code, report) = doctor_json(dir.path(), &["--only", "health"]);
    assert_eq!(code, 0, "{report:#}");
    let url = format!("http://127.0.0.1:{port}/api/health");
    let (code, report) = doctor_json(dir.path(), &["--only", "health", "--url", &url]);
    let failing = findings(&report, "HEALTH003");
    assert_eq!(failing.len(), 1, "{report:#}");
    assert_eq!(failing[0]["evidence"]["status"], 404);
    assert!(failing[0]["title"]
        .as_str()
        .unwrap()
        .contains("/api/health"));
    assert_eq!(code, 1);
}

/// Field ff case 1 (round 6): the backend was started with its database
/// URL exported into the shell (as a README's "without Docker" steps do),
/// and no env file holds it: "database skipped (no database URL)" while
/// every login answered 500. The running server's own environment names
/// the database: checked, and refused when it is down.
#[test]
fn a_database_url_in_the_running_servers_environment_is_checked() {
    let (api, db) = (free_port(), free_port());
    let dir = backend_project(
        api,
        &[("Procfile", &format!("web: uvicorn main:app --port {api}\n"))],
    );
    std::fs::remove_file(dir.path().join(".env")).unwrap();
    let mut procs = Procs::new();
    let data = start_postgres(&mut procs, db);
    uvicorn_with_env(
        &mut procs,
        dir.path(),
        api,
        &[],
        &[(
            "DATABASE_URL",
            format!("postgresql://app:s3cret-pw@127.0.0.1:{db}/app"),
        )],
    );
    let (code, report) = doctor_json(dir.path(), &["--only", "database"]);
    assert_eq!(code, 0, "{report:#}");
    assert!(findings(&report, "DB001").is_empty(), "{report:#}");
    // The database goes down; the backend stays up.
    let postmaster = common::stack::listener_pids(&[db]);
    for pid in &postmaster {
        procs.end(*pid);
    }
    let (_, report) = doctor_json(dir.path(), &["--only", "database"]);
    let down = findings(&report, "DB001");
    assert_eq!(down.len(), 1, "{report:#}");
    assert!(
        down[0].to_string().contains("the environment of pid"),
        "{report:#}"
    );
    assert!(!report.to_string().contains("s3cret-pw"));
    drop(data);
}

/// Field fc D7 (round 7): a foreign cluster on the project's port that
/// asks md5 passwords (`pg_hba` md5, the password stored as md5) took the
/// project's login without a word: "db :5432 ok" while the backend got
/// `password authentication failed`. doctor answers md5 as libpq does.
#[test]
fn an_md5_postgres_that_refuses_the_projects_login() {
    let (api, db) = (free_port(), free_port());
    let mut procs = Procs::new();
    let _data = start_postgres_md5(&mut procs, db, "their-pw-1");
    let app = format!("{FASTAPI_APP}\nDATABASE_URL = os.environ.get(\"DATABASE_URL\")\n");
    let dir = backend_project(
        api,
        &[
            ("main.py", &app),
            ("Procfile", &format!("web: uvicorn main:app --port {api}\n")),
        ],
    );
    let env_file = |pw: &str| {
        let url = format!("postgresql://app:{pw}@127.0.0.1:{db}/app");
        std::fs::write(dir.path().join(".env"), format!("DATABASE_URL={url}\n")).unwrap();
    };
    env_file("ours-pw-2");
    let (code, report) = doctor_json(dir.path(), &["--only", "database"]);
    let refused = findings(&report, "DB004");
    assert_eq!((code, refused.len()), (1, 1), "{report:#}");
    assert_eq!(refused[0]["evidence"]["sqlstate"], "28P01", "{report:#}");
    assert!(!report.to_string().contains("ours-pw-2"), "{report:#}");
    env_file("their-pw-1");
    let (code, report) = doctor_json(dir.path(), &["--only", "database"]);
    assert_eq!((code, codes(&report)), (0, vec![]), "{report:#}");
    assert!(report.to_string().contains("app logged in"), "{report:#}");
}

/// Field fc P2 c3 and fd P1 c4 (round 6): another PostgreSQL on the
/// project's port speaks PostgreSQL, so every sniff said "ok", while the
/// backend died with `password authentication failed`. doctor logs in as
/// the app would (SCRAM-SHA-256, a real cluster that requires it): a wrong
/// password or a missing database is DB004, named with the server's words
/// and the holder; the right password is silent; the running backend's
/// own environment outranks the env file; no password is ever printed.
#[test]
fn a_postgres_that_refuses_the_projects_login() {
    let (api, db) = (free_port(), free_port());
    let mut procs = Procs::new();
    let _data = start_postgres_with_password(&mut procs, db, Some("right-pw-7"));
    let app = format!("{FASTAPI_APP}\nDATABASE_URL = os.environ.get(\"DATABASE_URL\")\n");
    let url = |pw: &str, name: &str| format!("postgresql+asyncpg://app:{pw}@127.0.0.1:{db}/{name}");
    let dir = backend_project(
        api,
        &[
            ("main.py", &app),
            ("Procfile", &format!("web: uvicorn main:app --port {api}\n")),
        ],
    );
    let env_file = |u: &str| {
        std::fs::write(dir.path().join(".env"), format!("DATABASE_URL={u}\n")).unwrap();
    };
    let secret_free = |text: &str| {
        assert!(
            !text.contains("right-pw-7") && !text.contains("wrong-pw-3"),
            "{text}"
        );
    };

    env_file(&url("wrong-pw-3", "app"));
    let (code, report) = doctor_json(dir.path(), &["--only", "database"]);
    let refused = findings(&report, "DB004");
    assert_eq!(refused.len(), 1, "{report:#}");
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(refused[0]["severity"], "error");
    assert_eq!(refused[0]["evidence"]["sqlstate"], "28P01");
    let title = refused[0]["title"].as_str().unwrap();
    assert!(title.contains("password authentication failed"), "{title}");
    assert!(
        title.contains(".env:1") && title.contains("pid "),
        "{title}"
    );
    secret_free(&report.to_string());
    secret_free(&all_output(dir.path(), &["--only", "database", "-v"]));

    env_file(&url("right-pw-7", "app"));
    let (code, report) = doctor_json(dir.path(), &["--only", "database"]);
    assert_eq!((code, codes(&report)), (0, vec![]), "{report:#}");
    let probe = report.to_string();
    assert!(probe.contains("app logged in"), "{report:#}");

    env_file(&url("right-pw-7", "nope"));
    let (_, report) = doctor_json(dir.path(), &["--only", "database"]);
    let refused = findings(&report, "DB004");
    assert_eq!(refused.len(), 1, "{report:#}");
    assert_eq!(refused[0]["evidence"]["sqlstate"], "3D000");
    assert!(refused[0]["fix"]["title"]
        .as_str()
        .unwrap()
        .contains("create the database nope"));

    // The running backend was started with the right URL in its shell;
    // the file's stale password is not what it logs in with.
    env_file(&url("wrong-pw-3", "app"));
    uvicorn_with_env(
        &mut procs,
        dir.path(),
        api,
        &[],
        &[("DATABASE_URL", url("right-pw-7", "app"))],
    );
    let (code, report) = doctor_json(dir.path(), &["--only", "database"]);
    assert_eq!((code, codes(&report)), (0, vec![]), "{report:#}");
    secret_free(&report.to_string());
}

/// Field round 7/9 (gc fc P2 c9, partial): the postmaster stopped
/// (`kill -STOP`): the kernel still accepts on its port and nothing is
/// said. That is a stopped process (PROC001, SIGCONT), not "something that
/// does not speak PostgreSQL" (DB002, printed first, its fix "find what
/// holds the port"). Once it runs again, the database is silent.
#[test]
fn a_stopped_postgres_is_a_stopped_process_not_a_stranger() {
    let (api, db) = (free_port(), free_port());
    let mut procs = Procs::new();
    let _data = start_postgres(&mut procs, db);
    let dir = backend_project(
        api,
        &[(
            ".env",
            &format!("DATABASE_URL=postgresql://app@127.0.0.1:{db}/app\n"),
        )],
    );
    let postmaster = common::stack::listener_pids(&[db]);
    assert_eq!(postmaster.len(), 1, "{postmaster:?}");
    signal(postmaster[0], libc::SIGSTOP);
    let (_, report) = doctor_json(dir.path(), &["--timeout", "1s"]);
    signal(postmaster[0], libc::SIGCONT);
    assert!(findings(&report, "DB002").is_empty(), "{report:#}");
    let stopped = findings(&report, "PROC001");
    assert_eq!(stopped.len(), 1, "{report:#}");
    assert_eq!(stopped[0]["evidence"]["port"], db, "{report:#}");
    assert!(stopped[0]["caused_by"].is_null(), "{report:#}");
    assert_eq!(stopped[0]["severity"], "error", "{report:#}");

    let (_, report) = doctor_json(dir.path(), &["--only", "database"]);
    assert_eq!(codes(&report), Vec::<String>::new(), "{report:#}");
}
