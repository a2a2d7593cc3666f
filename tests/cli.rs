//! The command line of CONTRACT.md: JSON shape, exit codes, colour, explain,
//! and bad input that must never panic.

mod common;

use std::collections::BTreeSet;
use std::process::{Command, Stdio};

use common::*;

#[test]
fn empty_folder_gives_valid_v1_json_and_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let (code, report) = doctor_json(dir.path(), &[]);
    assert_eq!(code, 0);
    assert_eq!(report["schema"], "doctor/v1");
    assert_eq!(report["doctor_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(report["status"], "ok");
    assert!(report["project"]["root"].is_string());
    assert_eq!(report["project"]["services"], serde_json::json!([]));
    assert_eq!(report["findings"], serde_json::json!([]));
    assert_eq!(
        report["summary"],
        serde_json::json!({"errors": 0, "warnings": 0, "infos": 0, "causes": 0})
    );
    let checks = report["checks"].as_array().unwrap();
    assert!(checks
        .iter()
        .any(|c| c["id"] == "ports" && c["outcome"] == "ok"));
    for c in checks {
        assert!(c["duration_ms"].is_u64());
    }
}

#[test]
fn every_finding_has_the_contract_fields() {
    let port = free_port();
    let dir = project(&[(".env", &format!("API=http://localhost:{port}\n"))]);
    let (_, report) = doctor_json(dir.path(), &[]);
    let f = &report["findings"][0];
    for key in [
        "code",
        "check",
        "severity",
        "title",
        "explanation",
        "evidence",
    ] {
        assert!(!f[key].is_null(), "missing {key}: {f}");
    }
    assert!(["safe", "confirm", "manual"].contains(&f["fix"]["safety"].as_str().unwrap()));
    assert!(f["fix"]["commands"].is_array() && f["fix"]["title"].is_string());
}

#[test]
fn usage_errors_exit_2() {
    let file = tempfile::NamedTempFile::new().unwrap();
    let cases: Vec<Vec<&str>> = vec![
        vec!["port", "0"],
        vec!["port", "65536"],
        vec!["port"],
        vec!["--dir", "/nonexistent/doctor-test"],
        vec!["--dir", file.path().to_str().unwrap()],
        vec!["--only", "nosuchcheck"],
        vec!["--timeout", "fast"],
        vec!["--url", "not a url"],
        vec!["explain", "NOPE001"],
    ];
    for args in cases {
        let out = doctor(&args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !String::from_utf8_lossy(&out.stderr).contains("panicked"),
            "{args:?}"
        );
    }
}

#[test]
fn strict_makes_warnings_fail_and_health_sees_the_refusal() {
    // A warning only: a proxy variable without loopback in NO_PROXY (ENV006).
    let empty = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| {
        let out = Command::new(DOCTOR)
            .args(["--dir", empty.path().to_str().unwrap(), "--json"])
            .args(extra)
            .env("HTTP_PROXY", "http://proxy.invalid:3128")
            .env_remove("NO_PROXY")
            .env_remove("no_proxy")
            .output()
            .unwrap();
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (
            out.status.code(),
            report["status"].as_str().map(String::from),
        )
    };
    assert_eq!(run(&[]), (Some(0), Some("warn".into())));
    // Under --strict the status agrees with the exit code (issue #10).
    assert_eq!(run(&["--strict"]), (Some(1), Some("fail".into())));

    let port = free_port();
    let dir = project(&[(".env", &format!("API=http://[::1]:{port}\n"))]);
    let mut procs = Procs::new();
    procs.python(dir.path(), LISTEN_ONLY, &["127.0.0.1", &port.to_string()]);
    // The health probe of the same URL: ::1 refuses, so nothing answers.
    let (code, report) = doctor_json(dir.path(), &["--only", "health"]);
    assert_eq!(code, 1);
    let f = findings(&report, "HEALTH001");
    assert_eq!(
        f[0]["evidence"]["refused"],
        serde_json::json!([format!("[::1]:{port}")]),
        "{report:#}"
    );
    assert_eq!(report["probes"][0]["result"], "connection refused");
}

#[test]
fn colour_always_never_and_no_color() {
    let port = free_port();
    let dir = project(&[(".env", &format!("API=http://localhost:{port}\n"))]);
    let run = |args: &[&str], no_color: bool| {
        let mut cmd = Command::new(DOCTOR);
        cmd.arg("--dir")
            .arg(dir.path())
            .args(args)
            .env_remove("NO_COLOR");
        if no_color {
            cmd.env("NO_COLOR", "1");
        }
        String::from_utf8(cmd.output().unwrap().stdout).unwrap()
    };
    assert!(run(&["--color", "always"], false).contains("\u{1b}["));
    assert!(!run(&["--color", "never"], false).contains("\u{1b}["));
    // stdout is a pipe here: auto means no colour, and NO_COLOR agrees.
    assert!(!run(&[], false).contains("\u{1b}["));
    assert!(!run(&["--color", "auto"], true).contains("\u{1b}["));
}

#[test]
fn ascii_symbols_when_the_terminal_is_not_utf8() {
    let port = free_port();
    let dir = project(&[(".env", &format!("API=http://localhost:{port}\n"))]);
    let run = |lang: &str| {
        let out = Command::new(DOCTOR)
            .arg("--dir")
            .arg(dir.path())
            .env_remove("LC_ALL")
            .env_remove("LC_CTYPE")
            .env("LANG", lang)
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let ascii = run("C");
    assert!(ascii.is_ascii(), "{ascii}");
    assert!(ascii.contains("x PORT001"), "{ascii}");
    assert!(run("en_US.UTF-8").contains("✖ PORT001"));
}

#[test]
fn explain_prints_each_code_and_checks_lists_them() {
    let out = doctor(&["explain", "PORT001"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("# PORT001: nothing listens"), "{text}");
    assert!(text.contains("connection refused"));
    let all = String::from_utf8(doctor(&["explain", "--all"]).stdout).unwrap();
    for code in ["PORT001", "PROC007", "DB003", "CORS004"] {
        assert!(all.contains(&format!("# {code}:")), "{code}");
    }
    let checks = String::from_utf8(doctor(&["checks"]).stdout).unwrap();
    assert!(checks.contains("ports") && checks.contains("PORT007"));
    assert_eq!(doctor(&["explain", "port004"]).status.code(), Some(0));
}

/// rustc's --explain discipline: a code without a file, or a file without a
/// code, fails here.
#[test]
fn checks_folder_and_code_registry_agree() {
    let files: BTreeSet<String> = std::fs::read_dir(root().join("checks"))
        .unwrap()
        .map(|e| {
            e.unwrap()
                .file_name()
                .to_string_lossy()
                .trim_end_matches(".md")
                .to_string()
        })
        .collect();
    let registered: BTreeSet<String> = doctor::codes::CODES
        .iter()
        .map(|c| c.code.to_string())
        .collect();
    assert_eq!(files, registered);
    for c in doctor::codes::CODES {
        assert!(c.doc.starts_with(&format!("# {}: ", c.code)), "{}", c.code);
        assert!(!c.summary().is_empty() && !c.title().is_empty());
    }
    for check in doctor::checks::all() {
        for code in check.codes() {
            let doc =
                doctor::codes::lookup(code).unwrap_or_else(|| panic!("{code} not registered"));
            assert_eq!(doc.check, check.id(), "{code}");
        }
    }
}

/// The public contract's codes (CONTRACT.md's table when the codes were
/// frozen): each stays registered with its meaning's severity. Codes are
/// only ever added, so this list only grows; the README's table is held
/// against the registry by `readme_codes_table_matches_the_registry`.
const CONTRACT_CODES: &[(&str, &str)] = &[
    ("PORT001", "error"),
    ("PORT002", "error"),
    ("PORT003", "warning"),
    ("PORT004", "info"),
    ("PORT005", "warning"),
    ("PORT006", "warning"),
    ("PORT007", "warning"),
    ("PROC001", "error"),
    ("PROC002", "error"),
    ("PROC003", "warning"),
    ("PROC004", "warning"),
    ("PROC005", "warning"),
    ("PROC006", "warning"),
    ("PROC007", "error"),
    ("PY001", "error"),
    ("PY002", "error"),
    ("PY003", "error"),
    ("PY004", "warning"),
    ("PY005", "warning"),
    ("NODE001", "error"),
    ("NODE002", "error"),
    ("NODE003", "error"),
    ("NODE004", "warning"),
    ("ENV001", "error"),
    ("ENV002", "warning"),
    ("ENV003", "warning"),
    ("ENV004", "error"),
    ("ENV005", "warning"),
    ("ENV006", "warning"),
    ("CORS001", "error"),
    ("CORS002", "error"),
    ("CORS003", "warning"),
    ("CORS004", "warning"),
    ("HEALTH001", "error"),
    ("HEALTH002", "error"),
    ("HEALTH003", "error"),
    ("HEALTH004", "warning"),
    ("HEALTH005", "warning"),
    ("DB001", "error"),
    ("DB002", "error"),
    ("DB003", "warning"),
];

#[test]
fn contract_codes_are_registered() {
    for (code, severity) in CONTRACT_CODES {
        let doc = doctor::codes::lookup(code).unwrap_or_else(|| panic!("{code} not registered"));
        assert_eq!(doc.severity.as_str(), *severity, "{code}");
    }
    assert_eq!(CONTRACT_CODES.len(), 41);
}

#[test]
fn closed_pipe_exits_quietly() {
    let port = free_port();
    let dir = project(&[(".env", &format!("API=http://localhost:{port}\n"))]);
    let mut child = Command::new(DOCTOR)
        .args(["--dir", dir.path().to_str().unwrap(), "explain", "--all"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader goes away, like `| head -0`
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.code().is_some_and(|c| c <= 2),
        "{:?}",
        out.status
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}

#[test]
fn secrets_in_env_urls_never_reach_any_output() {
    let port = free_port();
    let dir = project(&[(
        "backend/.env.local",
        &format!(
            "DATABASE_URL=postgresql://app:S3CRETpw@localhost:{port}/app\nAPI_TOKEN=tok-123\n"
        ),
    )]);
    for args in [
        vec!["--json"],
        vec!["-v"],
        vec!["-v", "--color", "always"],
        vec!["port", &port.to_string()],
    ] {
        let all = all_output(dir.path(), &args);
        assert!(
            !all.contains("S3CRETpw") && !all.contains("tok-123"),
            "{args:?}:\n{all}"
        );
    }
    let (_, report) = doctor_json(dir.path(), &[]);
    assert_eq!(
        findings(&report, "PORT001")[0]["evidence"]["url"],
        format!("postgresql://app:***@localhost:{port}/app")
    );
    // S16: the database is down, said as DB001 without the password.
    let db = &findings(&report, "DB001")[0];
    assert_eq!(db["evidence"]["source"], "backend/.env.local:1");
}

#[test]
fn bad_env_files_are_findings_or_notes_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // Binary garbage, non-UTF-8, a 50 MB file, a symlink loop, a malformed package.json.
    std::fs::write(
        root.join(".env"),
        (0..=255u8).cycle().take(4096).collect::<Vec<u8>>(),
    )
    .unwrap();
    std::fs::create_dir(root.join("web")).unwrap();
    let mut big = b"API_URL=http://localhost:1\n".to_vec();
    big.resize(50 << 20, b'x');
    std::fs::write(root.join("web/.env"), big).unwrap();
    std::fs::write(
        root.join("web/.env.local"),
        b"A=\xff\xfe\nB=http://127.0.0.1:2\n",
    )
    .unwrap();
    std::fs::write(root.join("package.json"), "{ not json").unwrap();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(".env.development", root.join(".env.development")).unwrap();
        std::os::unix::fs::symlink(root, root.join("web/loop")).unwrap();
    }
    let (code, report) = doctor_json(root, &[]);
    assert!(code == 0 || code == 1, "{code}");
    let ports: Vec<u64> = report["project"]["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["port"].as_u64().unwrap())
        .collect();
    // The 50 MB file is over the read limit: said, not half-read.
    assert_eq!(ports, [2], "{report:#}");
    let unreadable: Vec<String> = report["project"]["unreadable"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            format!(
                "{}: {}",
                u["path"].as_str().unwrap(),
                u["error"].as_str().unwrap()
            )
        })
        .collect();
    assert!(
        unreadable
            .iter()
            .any(|u| u.starts_with("package.json: not valid JSON")),
        "{unreadable:?}"
    );
    assert!(
        unreadable
            .iter()
            .any(|u| u.starts_with("web/.env: 50.0 MiB, over doctor's read limit")),
        "{unreadable:?}"
    );
    #[cfg(unix)]
    assert!(
        unreadable.iter().any(|u| u.starts_with(".env.development")),
        "{unreadable:?}"
    );
    let table = doctor_in(root, &[]);
    assert!(!String::from_utf8_lossy(&table.stderr).contains("panicked"));
    assert!(String::from_utf8_lossy(&table.stdout).contains("could not read .env.development"));
}

/// The README's codes table is the registry's, row for row.
#[test]
fn readme_codes_table_matches_the_registry() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    for c in doctor::codes::CODES {
        let row = format!(
            "| {} | {} | {} | {} |",
            c.code,
            c.severity.as_str(),
            c.check,
            c.title()
        );
        assert!(readme.contains(&row), "README lacks: {row}");
    }
}

/// The answer first (issue #10): on the demo's broken stack the first three
/// lines of the report name the cause (code, port, the missing module), and
/// every fix command stands on a line of its own, whole.
#[test]
fn demo_report_leads_with_the_cause() {
    let api = free_port();
    let dir = project(&[
        ("frontend/.env", &format!("VITE_API_URL=http://127.0.0.1:{api}\n")),
        ("frontend/src/api.js", "export const api = import.meta.env.VITE_API_URL\n"),
        ("backend/requirements.txt", "fastapi\nuvicorn\nshop-payments-sdk\n"),
        (
            "backend/main.py",
            &format!("import shop_payments_sdk\nfrom fastapi import FastAPI\n\napp = FastAPI()\n\nif __name__ == \"__main__\":\n    import uvicorn\n    uvicorn.run(app, host=\"127.0.0.1\", port={api})\n"),
        ),
    ]);
    let elsewhere = tempfile::tempdir().unwrap();
    let mut procs = Procs::new();
    let stale = http_server(&mut procs, elsewhere.path(), "127.0.0.1", api);
    let out = Command::new(DOCTOR)
        .arg("--dir")
        .arg(dir.path())
        .env("COLUMNS", "120")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let head: Vec<&str> = text.lines().take(3).collect();
    let head = head.join("\n");
    assert!(
        head.contains("PORT002")
            && head.contains(&format!(":{api}"))
            && head.contains("shop-payments-sdk"),
        "the first three lines must name the cause:\n{text}"
    );
    let report: serde_json::Value = serde_json::from_slice(
        &Command::new(DOCTOR)
            .arg("--dir")
            .arg(dir.path())
            .arg("--json")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    for f in report["findings"].as_array().unwrap() {
        for c in f["fix"]["commands"].as_array().into_iter().flatten() {
            let c = c.as_str().unwrap();
            if f["fix"]["safety"] != "manual" || c.contains(" && ") {
                assert!(
                    text.lines().any(|l| l.trim() == c),
                    "`{c}` is not on a line of its own:\n{text}"
                );
            }
        }
    }
    assert!(text.contains(&format!("kill -TERM {stale}")));
}
