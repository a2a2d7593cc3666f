//! Hostile projects and secrets (issue #11): files that would hang or blow
//! up a naive reader, and canaries that must never reach any output. The
//! large files are made by the tests, not committed.
//!
//! The time and memory bounds here are guards against a hang or a blow-up
//! (doctor is ended if it has not finished in 5 s; its peak RSS is read with
//! getrusage after it is reaped), not speed measurements: those live in
//! BENCHMARKS.md.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::*;

/// One hostile run at a time: each bound below is doctor's own, not shared
/// with a neighbour writing 100,000 files.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs doctor with a 5 s bound and reports its exit code and its own peak
/// RSS: a small process between the test and doctor, so that doctor's
/// rusage is not inflated by this test process's memory (a forked child
/// inherits the parent's resident size until it execs).
const MEASURE: &str = r#"
import json, resource, subprocess, sys
try:
    code = subprocess.run(sys.argv[2:], timeout=5).returncode
except subprocess.TimeoutExpired:
    code = "timeout"
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
open(sys.argv[1], "w").write(json.dumps({"code": code, "maxrss_kib": rss}))
"#;

/// Run doctor in `dir`; it must end by itself within 5 s with exit 0, 1 or
/// 2 (never 101, a panic) and a peak RSS under 100 MiB. Returns (exit
/// code, stdout + stderr).
fn bounded_doctor(dir: &Path, args: &[&str]) -> (i32, String) {
    let side = tempfile::NamedTempFile::new().unwrap();
    let out = Command::new(python())
        .arg("-c")
        .arg(MEASURE)
        .arg(side.path())
        .arg(DOCTOR)
        .arg("--dir")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let measured: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(side.path()).unwrap()).unwrap();
    assert_ne!(
        measured["code"],
        "timeout",
        "doctor {args:?} in {} did not end within 5 s",
        dir.display()
    );
    let code = measured["code"].as_i64().unwrap_or(-1) as i32;
    assert!(
        matches!(code, 0..=2) && !text.contains("panicked"),
        "doctor {args:?} exited {code}:\n{text}"
    );
    let peak_mib = measured["maxrss_kib"].as_u64().unwrap() / 1024;
    assert!(peak_mib < 100, "doctor {args:?}: peak RSS {peak_mib} MiB");
    (code, text)
}

fn fifo(path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo with a valid, NUL-terminated path.
    assert_eq!(
        unsafe { libc::mkfifo(c.as_ptr(), 0o644) },
        0,
        "mkfifo {}",
        path.display()
    );
}

/// A named pipe in place of every file discovery reads: nothing blocks.
#[test]
fn fifo_in_place_of_each_discovered_file() {
    let _one = serial();
    for name in [
        ".env",
        "package.json",
        "frontend/vite.config.ts",
        "docker-compose.yml",
        "doctor.toml",
        ".flaskenv",
        "Procfile",
        "backend/requirements.txt",
    ] {
        let dir = project(&[(
            "frontend/package.json",
            "{\"devDependencies\":{\"vite\":\"^6\"}}",
        )]);
        fifo(&dir.path().join(name));
        for args in [&["--json"][..], &["--only", "ports"], &["port", "1"]] {
            let (_, text) = bounded_doctor(dir.path(), args);
            if args[0] == "--json" {
                assert!(text.contains("not a regular file"), "{name}: {text}");
            }
        }
    }
}

#[test]
fn yaml_alias_bomb_is_refused_with_a_message() {
    let _one = serial();
    let bomb = std::fs::read_to_string(root().join("fixtures/hostile/alias-bomb.yml")).unwrap();
    let dir = project(&[("docker-compose.yml", &bomb)]);
    let (_, text) = bounded_doctor(dir.path(), &["--json"]);
    assert!(text.contains("aliases expand to more than"), "{text}");
}

#[test]
fn one_megabyte_line_and_binary_bytes_render_quickly() {
    let _one = serial();
    let line = format!(
        "VITE_API_URL=http://localhost:9/{}\n",
        "a".repeat(1_000_000)
    );
    let dir = project(&[(".env", &line[..1_000_000])]);
    std::fs::write(
        dir.path().join("frontend.env"),
        [0xff_u8, 0xfe, 0x00, 0x41, 0x3d, 0x80, 0x0a].repeat(1000),
    )
    .unwrap();
    std::fs::write(
        dir.path().join(".env.local"),
        [0xc3_u8, 0x28, 0x3d, 0xa0, 0xa1, 0x0a],
    )
    .unwrap();
    for args in [&[][..], &["-v"], &["--json"]] {
        bounded_doctor(dir.path(), args);
    }
}

#[test]
fn package_json_over_the_read_limit_is_said_so_and_a_bom_is_accepted() {
    let _one = serial();
    let dir = project(&[]);
    {
        use std::io::Write;
        std::fs::create_dir_all(dir.path().join("web")).unwrap();
        let mut f = std::io::BufWriter::new(
            std::fs::File::create(dir.path().join("web/package.json")).unwrap(),
        );
        write!(f, "{{\"name\": \"big\", \"description\": \"").unwrap();
        let chunk = "x".repeat(1 << 20);
        for _ in 0..48 {
            f.write_all(chunk.as_bytes()).unwrap();
        }
        write!(f, "\", \"devDependencies\": {{\"vite\": \"^6\"}}}}").unwrap();
    }
    let (_, text) = bounded_doctor(dir.path(), &["--json"]);
    assert!(
        text.contains("over doctor's read limit"),
        "{}",
        &text[..text.len().min(2000)]
    );
    assert!(!text.contains("EOF while parsing"));

    let bom = project(&[(
        "package.json",
        "\u{feff}{\"name\": \"shop\", \"scripts\": {\"dev\": \"vite --port 5999\"}, \"devDependencies\": {\"vite\": \"^6\"}}",
    )]);
    let (_, report) = doctor_json(bom.path(), &["--only", "user"]);
    assert_eq!(report["project"]["services"][0]["port"], 5999, "{report:#}");
}

#[test]
fn symlink_loop_and_a_hundred_thousand_files() {
    let _one = serial();
    // On tmpfs when there is one: 100,000 inodes take seconds there and
    // over a minute on a slow disk, and what is measured is doctor's walk.
    let dir = if Path::new("/dev/shm").is_dir() {
        tempfile::tempdir_in("/dev/shm").unwrap()
    } else {
        tempfile::tempdir().unwrap()
    };
    std::fs::create_dir_all(dir.path().join("backend")).unwrap();
    std::fs::write(
        dir.path().join("backend/main.py"),
        "from fastapi import FastAPI\napp = FastAPI()\n",
    )
    .unwrap();
    std::os::unix::fs::symlink("b", dir.path().join("a")).unwrap();
    std::os::unix::fs::symlink("a", dir.path().join("b")).unwrap();
    std::os::unix::fs::symlink(".", dir.path().join("backend/self")).unwrap();
    let many = dir.path().join("data");
    for d in 0..100 {
        let sub = many.join(format!("d{d}"));
        std::fs::create_dir_all(&sub).unwrap();
        for f in 0..1000 {
            std::fs::File::create(sub.join(format!("f{f}.js"))).unwrap();
        }
    }
    for args in [&["--json"][..], &[]] {
        bounded_doctor(dir.path(), args);
    }
}

/// Canaries in every place a secret can come from; every output mode; not
/// one byte of any canary may appear.
#[test]
fn canaries_never_leave() {
    let _one = serial();
    let (port, web) = (free_port(), free_port());
    let dir = project(&[
        (
            ".env",
            &format!(
                "VITE_API_URL=http://localhost:{port}\nSECRET_KEY=CANARYenvSecret1\nAPI_TOKEN=CANARYenvToken2\nDATABASE_URL=postgresql://app:CANARYdbPass3@localhost:1/app\n"
            ),
        ),
        ("src/api.js", "export const u = import.meta.env.VITE_API_URL\n"),
        (
            "Procfile",
            &format!("web: uvicorn main:app --port {port} --ssl-keyfile-password CANARYproc4 --pass CANARYproc5\n"),
        ),
        (
            "doctor.toml",
            &format!(
                "[[service]]\nname = \"api\"\nport = {port}\nhealth = \"/health?token=CANARYhealth6\"\nstart = \"API_TOKEN=CANARYstart7 uvicorn main:app --port {port}\"\n\n[[service]]\nname = \"web\"\nport = {web}\nkind = \"vite\"\norigin = \"http://u:CANARYorigin8@localhost:{web}\"\n"
            ),
        ),
        (
            "main.py",
            "import pathlib\nfor line in pathlib.Path('.env').read_text().splitlines():\n    if line.startswith('SECRET_KEY='):\n        raise ValueError(f\"1 validation error: input_value='{line[11:]}' is not valid\")\n",
        ),
    ]);
    std::os::unix::fs::symlink(venv(), dir.path().join(".venv")).unwrap();
    // A stranger on the API's port whose command line carries every form.
    let outside = tempfile::tempdir().unwrap();
    let mut procs = Procs::new();
    procs.python(
        outside.path(),
        LISTEN_ONLY,
        &[
            "127.0.0.1",
            &port.to_string(),
            "--requirepass",
            "CANARYargA",
            "-pCANARYargB",
            "--authorization",
            "Bearer CANARYargC",
            "AWS_ACCESS_KEY_ID=CANARYargD",
            "STRIPE_SK=CANARYargE",
            "--header",
            "x-token:CANARYargF",
            "--access-key=CANARYargG",
        ],
    );
    let p = port.to_string();
    for args in [
        &[][..],
        &["-v"],
        &["--json"],
        &["-v", "--color", "always"],
        &["--fix", "--dry-run"],
        &["--fix", "--dry-run", "--json"],
        &["port", &p],
        &["port", &p, "--json"],
        &["--wait", "1s"],
        &["--url", "http://localhost:1/?token=CANARYurl9"],
    ] {
        // The stranger never answers: one short probe timeout keeps each run brief.
        let args = [args, &["--timeout", "1s"][..]].concat();
        let (_, text) = bounded_doctor(dir.path(), &args);
        assert!(
            !text.contains("CANARY"),
            "{args:?} leaked:\n{}",
            leaked_lines(&text)
        );
    }
    // Each source really was seen (the test would pass vacuously otherwise).
    let (_, seen) = bounded_doctor(dir.path(), &["port", &p, "--json"]);
    for masked in [
        "--requirepass ***",
        "-p***",
        "Bearer ***",
        "STRIPE_SK=***",
        "x-token:***",
    ] {
        assert!(seen.contains(masked), "{masked} not in:\n{seen}");
    }
    let (_, seen) = bounded_doctor(dir.path(), &["--json", "--timeout", "1s"]);
    assert!(seen.contains("/health?token=***"), "{seen}");
    let (_, report) = doctor_json(dir.path(), &["--only", "python"]);
    let py = findings(&report, "PY003");
    assert!(
        py.iter()
            .any(|f| f["title"].as_str().unwrap().contains("input_value='***'")),
        "{report:#}"
    );
}

fn leaked_lines(text: &str) -> String {
    text.lines()
        .filter(|l| l.contains("CANARY"))
        .collect::<Vec<_>>()
        .join("\n")
}
