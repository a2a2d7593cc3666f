//! Knowing the project (issue #4): discovery over fixtures/, doctor.toml,
//! Python and node importability and env files, with real interpreters.

mod common;

use std::time::{Duration, SystemTime};

use common::*;
use serde_json::Value;

fn services(dir: &std::path::Path) -> Vec<(String, Option<String>, u64, String)> {
    let (_, report) = doctor_json(dir, &["--only", "user"]);
    report["project"]["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_string(),
                s["kind"].as_str().map(String::from),
                s["port"].as_u64().unwrap(),
                s["source"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn svc(
    name: &str,
    kind: Option<&str>,
    port: u64,
    source: &str,
) -> (String, Option<String>, u64, String) {
    (name.into(), kind.map(String::from), port, source.into())
}

#[test]
fn discovery_over_the_fixture_projects() {
    let f = root().join("fixtures/projects");
    assert_eq!(
        services(&f.join("fastapi-vite")),
        [
            svc("backend", Some("fastapi"), 8001, "backend/app/main.py:13"),
            svc("shop-web", Some("vite"), 5174, "frontend/package.json:5")
        ]
    );
    assert_eq!(
        services(&f.join("flask-app")),
        [svc("flask-app", Some("flask"), 5050, ".flaskenv:2")]
    );
    assert_eq!(
        services(&f.join("django-app")),
        [svc("django-app", Some("django"), 8000, "manage.py:1")]
    );
    assert_eq!(
        services(&f.join("express-vite")),
        [
            svc("api", Some("express"), 4000, "server/package.json:4"),
            svc("web", Some("vite"), 5180, "web/vite.config.js:5")
        ]
    );
    assert_eq!(
        services(&f.join("next-app")),
        [
            svc("storefront", Some("next"), 3001, "package.json:3"),
            svc("rewrite", None, 8080, "next.config.js:4")
        ]
    );
    assert_eq!(
        services(&f.join("compose-stack")),
        [
            svc("web", Some("fastapi"), 8090, "Procfile:1"),
            svc("db", Some("postgres"), 5433, "docker-compose.yml:5"),
            svc("cache", Some("redis"), 6380, "docker-compose.yml:9"),
        ]
    );
    // The proxy target is a reference of the server it points at.
    let (_, report) = doctor_json(&f.join("express-vite"), &["--only", "user"]);
    assert_eq!(
        report["project"]["services"][0]["references"][0],
        "web/vite.config.js:8"
    );
    let (_, report) = doctor_json(&f.join("fastapi-vite"), &["--only", "user"]);
    assert_eq!(report["project"]["services"][0]["entry"], "app.main");
    assert_eq!(report["project"]["services"][0]["folder"], "backend");
}

#[test]
fn verbose_table_lists_services_with_sources() {
    for name in [
        "fastapi-vite",
        "flask-app",
        "django-app",
        "express-vite",
        "next-app",
        "compose-stack",
    ] {
        let out = doctor_in(
            &root().join("fixtures/projects").join(name),
            &["-v", "--only", "user"],
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let (_, report) = doctor_json(
            &root().join("fixtures/projects").join(name),
            &["--only", "user"],
        );
        for s in report["project"]["services"].as_array().unwrap() {
            let source = format!("(from {})", s["source"].as_str().unwrap());
            assert!(text.contains(&source), "{name}: {source} not in\n{text}");
        }
        if name == "express-vite" {
            assert!(
                text.contains("(from web/vite.config.js:5) read by the parser"),
                "{text}"
            );
        }
    }
}

/// CRA's src/setupProxy.js and webpack's devServer.proxy, read by the
/// parser: each target is a service of its own port with the call's line;
/// a config the parser cannot read falls back to the text scan and says so.
#[test]
fn setup_proxy_webpack_and_unparsable_vite_configs() {
    let dir = project(&[
        (
            "web/package.json",
            "{\"name\":\"web\",\"dependencies\":{\"react-scripts\":\"5.0.1\"}}",
        ),
        (
            "web/src/setupProxy.js",
            "const { createProxyMiddleware } = require('http-proxy-middleware');\n\nmodule.exports = function (app) {\n  app.use('/api', createProxyMiddleware({ target: 'http://localhost:5055', changeOrigin: true }));\n};\n",
        ),
        (
            "admin/webpack.config.js",
            "module.exports = {\n  devServer: {\n    proxy: [{ context: ['/graphql'], target: 'http://127.0.0.1:5066' }],\n  },\n}\n",
        ),
        (
            "site/package.json",
            "{\"name\":\"site\",\"devDependencies\":{\"vite\":\"^6\"}}",
        ),
        // Not JavaScript: the text scan reads what it can.
        ("site/vite.config.js", "export default {\n  server: {\n    port: 5177,\n  },\n  !!\n"),
    ]);
    let (_, report) = doctor_json(dir.path(), &["--only", "user"]);
    let services = report["project"]["services"].as_array().unwrap();
    let on = |port: u64| {
        services
            .iter()
            .find(|s| s["port"] == port)
            .unwrap_or_else(|| panic!("nothing on {port}: {report:#}"))
    };
    assert_eq!(on(5055)["source"], "web/src/setupProxy.js:4");
    assert_eq!(on(5066)["source"], "admin/webpack.config.js:3");
    let site = on(5177);
    assert_eq!(site["source"], "site/vite.config.js:3");
    assert!(
        site["sources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["fact"] == "reader" && f["value"] == "text scan"),
        "{site:#}"
    );
}

#[test]
fn doctor_toml_declares_services_and_checks() {
    let port = free_port();
    let closed = free_port();
    let dir = project(&[
        (
            "doctor.toml",
            &format!(
                "[[service]]\nname = \"api\"\nport = {port}\nhealth = \"/health\"\nkind = \"fastapi\"\n\n\
                 [[check]]\nname = \"auth up\"\nkind = \"tcp\"\nport = {closed}\n\n\
                 [[check]]\nname = \"migrations applied\"\nkind = \"command\"\nrun = \"exit 3\"\n\n\
                 [[check]]\nname = \"true passes\"\nkind = \"command\"\nrun = \"true\"\n\n\
                 [[check]]\nname = \"stripe keys\"\nkind = \"env\"\nfile = \".env\"\nkeys = [\"STRIPE_KEY\", \"A\"]\n"
            ),
        ),
        (".env", "A=1\n"),
        ("main.py", "from fastapi import FastAPI\napp = FastAPI()\n"),
    ]);
    let (code, report) = doctor_json(dir.path(), &["--only", "user,ports"]);
    assert_eq!(code, 1);
    let s = &report["project"]["services"][0];
    assert_eq!(
        (s["name"].as_str(), s["port"].as_u64(), s["source"].as_str()),
        (Some("api"), Some(port as u64), Some("doctor.toml:1"))
    );
    assert_eq!(
        report["project"]["services"].as_array().unwrap().len(),
        1,
        "the declared service overrides the discovered one"
    );
    let titles: Vec<&str> = findings(&report, "USER001")
        .iter()
        .map(|f| f["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles.len(), 3, "{titles:?}");
    assert!(titles
        .iter()
        .any(|t| t.starts_with("auth up: no TCP connection")));
    assert!(titles
        .iter()
        .any(|t| t.starts_with("migrations applied: `exit 3` exited with 3")));
    assert!(titles
        .iter()
        .any(|t| t.starts_with("stripe keys: .env lacks STRIPE_KEY")));
    assert_eq!(
        findings(&report, "USER001")[0]["evidence"]["declared_at"],
        "doctor.toml:7"
    );
}

#[test]
fn doctor_toml_errors_name_file_and_line() {
    for (text, want) in [
        (
            "[[service]]\nname = \"api\"\nprot = 8000\n",
            "doctor.toml:3",
        ),
        (
            "[[service]]\nname = \"api\"\nport = \"eighty\"\n",
            "doctor.toml:3",
        ),
        ("[[service]]\nname = \"api\"\n", "needs a port"),
        (
            "[[check]]\nname = \"x\"\nkind = \"smtp\"\n",
            "unknown kind 'smtp'",
        ),
        ("not toml at all [", "doctor.toml:1"),
    ] {
        let dir = project(&[("doctor.toml", text)]);
        let out = doctor_in(dir.path(), &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text}: {err}");
        assert!(err.contains(want), "{text}: {err}");
    }
}

fn with_venv(files: &[(&str, &str)]) -> tempfile::TempDir {
    let venv = venv();
    let dir = project(files);
    std::os::unix::fs::symlink(&venv, dir.path().join(".venv")).unwrap();
    dir
}

/// S13: the entry module imports a package that is not installed.
#[test]
fn s13_import_crash_with_file_line_and_missing_requirement() {
    let dir = with_venv(&[
        (
            "main.py",
            "from fastapi import FastAPI\nimport notinstalledpkg\n\napp = FastAPI()\n",
        ),
        ("requirements.txt", "fastapi\nnotinstalledpkg>=1.0\n"),
    ]);
    let (code, report) = doctor_json(dir.path(), &["--only", "python"]);
    assert_eq!(code, 1);
    let f = findings(&report, "PY003");
    assert_eq!(f.len(), 1, "{report:#}");
    let title = f[0]["title"].as_str().unwrap();
    assert!(
        title.contains("ModuleNotFoundError: No module named 'notinstalledpkg'")
            && title.contains("main.py:2"),
        "{title}"
    );
    assert_eq!(f[0]["evidence"]["location"], "main.py:2");
    let f = findings(&report, "PY002");
    assert_eq!(f.len(), 1, "{report:#}");
    assert_eq!(
        f[0]["evidence"]["missing"],
        serde_json::json!([{"name": "notinstalledpkg", "declared_at": "requirements.txt:2"}])
    );
    assert_eq!(f[0]["fix"]["safety"], "confirm");
    assert!(f[0]["fix"]["commands"][0]
        .as_str()
        .unwrap()
        .contains("-m pip install \"notinstalledpkg>=1.0\""));
}

#[test]
fn python_version_and_healthy_import() {
    let dir = with_venv(&[
        ("main.py", "from fastapi import FastAPI\napp = FastAPI()\n"),
        ("pyproject.toml", "[project]\nname = \"x\"\nversion = \"0\"\nrequires-python = \">=3.99\"\ndependencies = [\"fastapi\"]\n"),
    ]);
    let (_, report) = doctor_json(dir.path(), &["--only", "python"]);
    assert_eq!(codes(&report), ["PY004"], "{report:#}");
    let f = &findings(&report, "PY004")[0];
    assert_eq!(
        f["evidence"]["requires_python"]["source"],
        "pyproject.toml:4"
    );
}

#[test]
fn no_interpreter_at_all_is_py001() {
    let dir = project(&[
        ("main.py", "from fastapi import FastAPI\napp = FastAPI()\n"),
        ("requirements.txt", "fastapi\n"),
    ]);
    let out = std::process::Command::new(DOCTOR)
        .args([
            "--dir",
            dir.path().to_str().unwrap(),
            "--only",
            "python",
            "--json",
        ])
        .env("PATH", "/nonexistent")
        .env_remove("VIRTUAL_ENV")
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(codes(&report), ["PY001"], "{report:#}");
}

/// S14: `.env.example` present, `.env` absent; `--fix --yes` copies it.
#[test]
fn s14_missing_env_and_its_safe_fix() {
    let dir = project(&[("backend/.env.example", "DATABASE_URL=\nSECRET_KEY=\n")]);
    let (code, report) = doctor_json(dir.path(), &["--only", "env"]);
    assert_eq!(code, 1);
    let f = findings(&report, "ENV001");
    assert_eq!(f.len(), 1, "{report:#}");
    assert_eq!(f[0]["evidence"]["missing"], "backend/.env");
    assert_eq!(f[0]["fix"]["safety"], "safe");
    let out = doctor_in(dir.path(), &["--only", "env", "--fix", "--yes"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("re-check: ENV001 is gone"), "{text}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("backend/.env")).unwrap(),
        "DATABASE_URL=\nSECRET_KEY=\n"
    );
}

#[test]
fn env_keys_malformed_lines_git_and_proxy() {
    let dir = project(&[
        (".env.example", "A=\nB=\nC=\n"),
        (
            ".env",
            "A=1\nthis is not a line\nA=2\nAPI_TOKEN=sk-live-9f8a7d6c\n",
        ),
        (".gitignore", "node_modules\n"),
    ]);
    let git = std::process::Command::new("git")
        .args(["init", "-q"])
        .current_dir(dir.path())
        .status();
    let out = std::process::Command::new(DOCTOR)
        .args([
            "--dir",
            dir.path().to_str().unwrap(),
            "--only",
            "env",
            "--json",
        ])
        .env("HTTPS_PROXY", "http://user:hunter2@proxy.example:3128")
        .env("NO_PROXY", "localhost")
        .output()
        .unwrap();
    let all = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(!all.contains("hunter2"), "proxy credentials leaked");
    let report: Value = serde_json::from_str(&all).unwrap();
    let f = &findings(&report, "ENV002")[0];
    assert_eq!(
        f["evidence"]["missing"][0],
        serde_json::json!({"key": "B", "example": ".env.example:2"})
    );
    let f = &findings(&report, "ENV003")[0];
    assert_eq!(f["evidence"]["malformed_lines"][0], ".env:2");
    assert_eq!(
        f["evidence"]["duplicates"][0]["lines"],
        serde_json::json!([".env:1", ".env:3"])
    );
    let f = &findings(&report, "ENV006")[0];
    assert_eq!(
        f["evidence"]["no_proxy_missing"],
        serde_json::json!(["127.0.0.1", "::1"])
    );
    if git.is_ok_and(|s| s.success()) {
        // A secret-looking value (API_TOKEN) in a file git does not ignore.
        let f = findings(&report, "ENV005");
        assert_eq!(f[0]["evidence"]["file"], ".env");
        assert!(f[0]["title"].as_str().unwrap().contains("does not ignore"));
    }
    // Values never appear: not "1", not "2" as values of A, not the token.
    assert!(!all.contains("A=1") && !all.contains("A=2") && !all.contains("sk-live"));
    // ENV002's fix appends the keys after a backup.
    let out = doctor_in(dir.path(), &["--only", "env", "--fix", "--yes"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("added B, C"));
    assert_eq!(
        std::fs::read_to_string(dir.path().join(".env")).unwrap(),
        "A=1\nthis is not a line\nA=2\nAPI_TOKEN=sk-live-9f8a7d6c\nB=\nC=\n"
    );
    assert!(dir.path().join(".doctor/backups/.env").exists());
}

/// The seeds' 8001/8002 story: the frontend points at a port where nothing
/// listens while the project's backend listens on another.
#[test]
fn env_url_points_at_the_wrong_port() {
    let (real, wrong) = (free_port(), free_port());
    let dir = project(&[
        (
            "backend/main.py",
            "from fastapi import FastAPI\napp = FastAPI()\n",
        ),
        (
            "frontend/.env",
            &format!("VITE_API_URL=http://127.0.0.1:{wrong}\n"),
        ),
        // The frontend's code reads the key: the URL is the API it calls.
        (
            "frontend/src/api.js",
            "export const api = import.meta.env.VITE_API_URL;\n",
        ),
        // A vite project: vite reads the env files of its own root.
        (
            "frontend/package.json",
            r#"{"name": "web", "private": true, "scripts": {"dev": "vite"}, "devDependencies": {"vite": "^5.4.0"}}"#,
        ),
    ]);
    // The seeds' backend, started by hand on another port.
    let mut procs = Procs::new();
    uvicorn(&mut procs, &dir.path().join("backend"), real, "");
    let (_, report) = doctor_json(dir.path(), &["--only", "env"]);
    let f = findings(&report, "ENV004");
    assert_eq!(f.len(), 1, "{report:#}");
    assert_eq!(f[0]["evidence"]["listening_port"], real);
    assert_eq!(f[0]["evidence"]["source"], "frontend/.env:1");
    let out = doctor_in(dir.path(), &["--only", "env", "--fix", "--yes"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("frontend/.env")).unwrap(),
        format!("VITE_API_URL=http://127.0.0.1:{real}\n")
    );
    assert!(dir.path().join(".doctor/backups/frontend/.env").exists());
}

/// S17: package.json with dependencies, no node_modules; then a wrong
/// version and a lockfile newer than the install.
#[test]
fn s17_node_modules_versions_and_lockfile() {
    let dir = project(&[("web/package.json", "{\"name\":\"web\",\"dependencies\":{\"left-pad\":\"^1.3.0\",\"vite\":\"^5.0.0\",\"local\":\"file:../local\"}}")]);
    let (code, report) = doctor_json(dir.path(), &["--only", "node"]);
    assert_eq!(code, 1);
    let f = findings(&report, "NODE002");
    assert_eq!(f.len(), 1, "{report:#}");
    assert!(f[0]["fix"]["commands"][0]
        .as_str()
        .unwrap()
        .contains("npm install"));

    let m = dir.path().join("web/node_modules");
    std::fs::create_dir_all(m.join("left-pad")).unwrap();
    std::fs::write(m.join("left-pad/package.json"), "{\"version\":\"1.3.0\"}").unwrap();
    std::fs::create_dir_all(m.join("vite")).unwrap();
    std::fs::write(m.join("vite/package.json"), "{\"version\":\"4.5.0\"}").unwrap();
    std::fs::write(m.join(".package-lock.json"), "{}").unwrap();
    std::fs::write(dir.path().join("web/package-lock.json"), "{}").unwrap();
    let lock = std::fs::File::options()
        .write(true)
        .open(dir.path().join("web/package-lock.json"))
        .unwrap();
    lock.set_modified(SystemTime::now() + Duration::from_secs(60))
        .unwrap();
    let (_, report) = doctor_json(dir.path(), &["--only", "node"]);
    let f = findings(&report, "NODE003");
    assert_eq!(f.len(), 1, "{report:#}");
    assert_eq!(
        f[0]["evidence"]["dependencies"],
        serde_json::json!([{"name": "vite", "wanted": "^5.0.0", "installed": "4.5.0"}])
    );
    assert_eq!(findings(&report, "NODE004").len(), 1, "{report:#}");
}

/// S18 and the issue's bad input: never a panic, a finding or a note instead.
#[test]
fn s18_malformed_project_files() {
    let dir = project(&[
        ("pyproject.toml", "[project\nname = "),
        ("docker-compose.yml", "services: [unclosed\n  - : :"),
        (
            "web/vite.config.ts",
            "export default { server: { port: process.env.PORT ?? 'abc', proxy: `${x}` } }\n",
        ),
        ("web/package.json", "{\"dependencies\": 42}"),
        ("requirements.txt", "\u{0}\u{1}binary\n"),
        ("a/b/c/d/e/f/.env", "DEEP=1\n"),
    ]);
    std::os::unix::fs::symlink(dir.path(), dir.path().join("a/loop")).unwrap();
    let out = doctor_in(dir.path(), &["--json"]);
    assert!(matches!(out.status.code(), Some(0..=2)), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let unreadable = report["project"]["unreadable"].to_string();
    assert!(
        unreadable.contains("docker-compose.yml") && unreadable.contains("not valid YAML"),
        "{unreadable}"
    );
    for c in report["checks"].as_array().unwrap() {
        assert_ne!(c["outcome"], "crashed", "{c}");
    }
}

/// Issue #16 (real parsers): a FastAPI file that serves itself with a
/// `uvicorn.run(...)` spread over lines, its port from the environment with
/// a default. The line scan found no port on the `.run(` line and took
/// uvicorn's 8000: a healthy stack got a false "nothing listens on 8000".
/// Read with the Python parser, the real uvicorn on the default port is
/// the service, silent, and `-v` says which reader read it.
#[test]
fn a_server_that_runs_itself_across_lines_is_read_by_the_parser() {
    let port = free_port();
    let main = format!(
        "import os\n\nimport uvicorn\nfrom fastapi import FastAPI\n\napp = FastAPI()\nDEFAULT_PORT = {port}\n\n\n@app.get(\"/health\")\ndef health():\n    return {{\"status\": \"ok\"}}\n\n\nif __name__ == \"__main__\":\n    uvicorn.run(\n        \"main:app\",\n        host=\"127.0.0.1\",\n        port=int(os.environ.get(\"API_PORT\", DEFAULT_PORT)),\n    )\n"
    );
    let dir = with_venv(&[
        ("main.py", &main),
        ("requirements.txt", "fastapi\nuvicorn\n"),
    ]);
    let mut procs = Procs::new();
    procs.spawn(
        std::process::Command::new(venv().join("bin/python"))
            .arg("main.py")
            .current_dir(dir.path())
            .stderr(std::process::Stdio::null()),
    );
    wait_listening(&format!("127.0.0.1:{port}"));
    let (code, report) = doctor_json(dir.path(), &[]);
    let loud: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] != "info")
        .collect();
    assert!(loud.is_empty() && code == 0, "{report:#}");
    let service = report["project"]["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["port"] == port)
        .unwrap_or_else(|| panic!("no service on {port}: {report:#}"));
    assert!(
        service["sources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["fact"] == "reader"
                && f["value"] == "parser"
                && f["source"] == "main.py:16"),
        "{service:#}"
    );
    assert!(!report["project"]["services"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["port"] == 8000));
}
