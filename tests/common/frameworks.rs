//! The real frameworks the integration tests run, installed at the versions
//! pinned in `tests/node/NAME/` (a package.json and its lockfile each) and
//! `tests/requirements.txt`, once per pinned set, into a cache outside the
//! clone (`$DOCTOR_TEST_CACHE`, else `~/.cache/doctor-tests`): CI's fresh
//! clones on one machine install them once.
//!
//! A test project gets a framework as npm would have installed it: a real
//! `node_modules` folder in the project whose entries link to the cached
//! packages, `.bin` included, so `node_modules/.bin/vite` is on the command
//! line as a user's is, and the dev server's own caches (`node_modules/.vite`)
//! land in the project, not in the shared install.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::root;

/// Where installed frameworks are kept between runs.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("DOCTOR_TEST_CACHE") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into());
    PathBuf::from(home).join(".cache/doctor-tests")
}

/// A short, stable digest of the files a pinned set is made from (FNV-1a):
/// a changed pin makes a new install beside the old one.
fn digest(files: &[PathBuf]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for file in files {
        for byte in std::fs::read(file).unwrap_or_default() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

/// Make `dir` once, across test threads and test binaries: the first caller
/// takes a folder lock and runs `make` (which fills `dir`), the others wait
/// for the marker it leaves.
fn once(dir: &Path, what: &str, make: impl FnOnce(&Path) -> bool) {
    let ready = dir.join(".doctor-ready");
    let lock = dir.with_extension("lock");
    std::fs::create_dir_all(dir.parent().unwrap()).unwrap();
    // Installs of react-scripts or next take minutes on a cold cache.
    let deadline = Instant::now() + Duration::from_secs(900);
    let mut make = Some(make);
    while !ready.exists() {
        if std::fs::create_dir(&lock).is_ok() {
            if ready.exists() {
                // Made by another test between our look and our lock.
                let _ = std::fs::remove_dir(&lock);
                break;
            }
            let _ = std::fs::remove_dir_all(dir);
            std::fs::create_dir_all(dir).unwrap();
            let ok = (make.take().unwrap())(dir);
            if ok {
                std::fs::write(&ready, "").unwrap();
            }
            let _ = std::fs::remove_dir(&lock);
            assert!(ok, "could not install {what} into {}", dir.display());
            break;
        }
        assert!(
            Instant::now() < deadline,
            "waited 900 s for another test to install {what}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The `node_modules` of the pinned set `tests/node/NAME`, installed with
/// `npm ci` on first use.
pub fn node_modules(name: &str) -> PathBuf {
    let pinned = root().join("tests/node").join(name);
    let files = [
        pinned.join("package.json"),
        pinned.join("package-lock.json"),
    ];
    let dir = cache_dir()
        .join("node")
        .join(format!("{name}-{}", digest(&files)));
    once(&dir, &format!("tests/node/{name}"), |dir| {
        for f in &files {
            std::fs::copy(f, dir.join(f.file_name().unwrap())).unwrap();
        }
        eprintln!(
            "installing tests/node/{name} (npm ci) into {}",
            dir.display()
        );
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(dir)
            .env("NEXT_TELEMETRY_DISABLED", "1")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    dir.join("node_modules")
}

/// Give `project_dir` the packages of the pinned set `name` as npm installs
/// them: `project_dir/node_modules/<pkg>` (scopes included) and `.bin`
/// linked to the installed ones. Several sets may be linked into one folder
/// (vite and the node tools); an entry already there is kept.
pub fn link_node_modules(project_dir: &Path, name: &str) {
    let installed = node_modules(name);
    let target = project_dir.join("node_modules");
    std::fs::create_dir_all(target.join(".bin")).unwrap();
    for entry in std::fs::read_dir(&installed).unwrap().flatten() {
        let file_name = entry.file_name();
        let text = file_name.to_string_lossy();
        if text == ".bin" {
            for bin in std::fs::read_dir(entry.path()).unwrap().flatten() {
                let link = target.join(".bin").join(bin.file_name());
                if !link.exists() {
                    let real = std::fs::canonicalize(bin.path()).unwrap();
                    std::os::unix::fs::symlink(real, link).unwrap();
                }
            }
        } else if text.starts_with('.') {
            // npm's own bookkeeping (.package-lock.json): the project's install has its own.
            continue;
        } else if text.starts_with('@') {
            std::fs::create_dir_all(target.join(&file_name)).unwrap();
            for scoped in std::fs::read_dir(entry.path()).unwrap().flatten() {
                let link = target.join(&file_name).join(scoped.file_name());
                if !link.exists() {
                    std::os::unix::fs::symlink(scoped.path(), link).unwrap();
                }
            }
        } else {
            let link = target.join(&file_name);
            if !link.exists() {
                std::os::unix::fs::symlink(entry.path(), link).unwrap();
            }
        }
    }
    // As npm leaves it after an install: doctor compares the lockfile with it (NODE004).
    let lock = installed.join(".package-lock.json");
    if lock.exists() && !target.join(".package-lock.json").exists() {
        std::fs::copy(lock, target.join(".package-lock.json")).unwrap();
    }
}

/// The pinned set for a framework and the major version a project's
/// package.json asks for (`^5.4.0` → vite5); the newest pinned major when the
/// range names none we pin.
pub fn pinned_set(tool: &str, range: &str) -> &'static str {
    let major = range
        .trim_start_matches(['^', '~', '>', '=', ' '])
        .split('.')
        .next()
        .unwrap_or("");
    match (tool, major) {
        ("vite", "5") => "vite5",
        ("vite", _) => "vite8",
        ("next", "14") => "next14",
        ("next", _) => "next15",
        ("react-scripts", "4") => "cra4",
        ("react-scripts", _) => "cra5",
        _ => "tools",
    }
}

/// The test virtual environment, made from tests/requirements.txt on first
/// use into the cache (one per pinned set).
pub fn venv() -> PathBuf {
    venv_of("tests/requirements.txt")
}

/// A virtual environment of pins older than the machine's Python
/// (tests/requirements-old-pins.txt: Jinja2 2.10.1 does not import on
/// Python 3.10+), as a repo pinned years ago installs them.
pub fn old_pins_venv() -> PathBuf {
    venv_of("tests/requirements-old-pins.txt")
}

fn venv_of(file: &str) -> PathBuf {
    let requirements = root().join(file);
    let dir = cache_dir().join("python").join(format!(
        "venv-{}",
        digest(std::slice::from_ref(&requirements))
    ));
    once(&dir, file, |dir| {
        eprintln!("creating the test venv in {}", dir.display());
        Command::new(super::python())
            .args(["-m", "venv", "--clear"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success())
            && Command::new(dir.join("bin/pip"))
                .args(["install", "-q", "--disable-pip-version-check", "-r"])
                .arg(&requirements)
                .status()
                .is_ok_and(|s| s.success())
    });
    dir
}
