//! What each framework does, one file a framework: how its dev server
//! names its processes, how its reloader is told apart from its worker in
//! the process tree, which env files it reads and whether it restarts
//! itself when they change. Data plus small functions; adding a framework
//! touches its file, this table and its tests.
//!
//! The checks ask these questions of a *running* process: what it is and
//! does outranks what a config file suggests (a `.flaskenv` saying
//! `FLASK_ENV=development` starts no reloader on Flask ≥ 2.3).

use crate::platform::ProcessInfo;

pub mod cra;
pub mod django;
pub mod errorpage;
pub mod flask;
pub mod gunicorn;
pub mod next;
pub mod nodemon;
pub mod uvicorn;
pub mod vite;

/// The language a server runs in: which files and packages it can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    Node,
    Python,
}

/// One framework's behaviour, as data.
pub struct Framework {
    /// The service kind doctor gives it (`vite`, `next`, `fastapi`, `flask`).
    pub kind: &'static str,
    pub runtime: Runtime,
    /// The port its server listens on when nothing names one (`next dev`:
    /// 3000, `flask run`: 5000); `None` for a watcher that runs another
    /// program (nodemon).
    pub default_port: Option<u16>,
    /// Prefixes of the process titles its server sets for itself, which
    /// leave no path on the command line (`next-server (v15.5.29)`).
    pub titles: &'static [&'static str],
    /// Env files its dev server reads from its root (its cwd), in the order
    /// it reads them: a later file's value wins. Empty when it reads none
    /// by itself.
    pub env_files: &'static [&'static str],
    /// Its dev server restarts itself when one of `env_files` changes.
    pub reloads_env_files: bool,
    /// Its dev server watches the sources it serves (vite, next dev): an
    /// edited source is served new without a restart.
    pub watches_sources: bool,
    /// Its dev server compiles a page on the first request for it (seconds
    /// on a cold start): a first probe that waits is compiling, not hung.
    pub compiles_on_demand: bool,
    /// An env var its reloader sets in the worker it spawns
    /// (`WERKZEUG_RUN_MAIN=true`, Django's `RUN_MAIN=true`).
    pub worker_marker: Option<(&'static str, &'static str)>,
}

/// Every framework doctor knows the behaviour of.
pub const ALL: &[&Framework] = &[
    &vite::VITE,
    &next::NEXT,
    &cra::CRA,
    &nodemon::NODEMON,
    &uvicorn::FASTAPI,
    &flask::FLASK,
    &django::DJANGO,
    &gunicorn::GUNICORN,
];

pub fn by_kind(kind: &str) -> Option<&'static Framework> {
    ALL.iter().copied().find(|f| f.kind == kind)
}

/// The port a server of this kind listens on when nothing names one.
pub fn default_port(kind: &str) -> Option<u16> {
    by_kind(kind).and_then(|f| f.default_port)
}

/// The framework whose server renamed this process (`next-server (v14.2.8)`).
pub fn by_title(p: &ProcessInfo) -> Option<&'static Framework> {
    let title = p.cmdline.first().map_or(p.name.as_str(), |s| s.as_str());
    ALL.iter()
        .copied()
        .find(|f| f.titles.iter().any(|t| title.starts_with(t)))
}

/// What the process tree says about reloading, when it says anything:
/// `Some(true)` for a worker its reloader marked (or a reloader with such a
/// worker), `Some(false)` for a server of a framework whose reloader always
/// marks its worker and that has no such mark. `None`: the tree cannot tell.
pub fn reload_evidence(
    p: &ProcessInfo,
    kind: Option<&str>,
    env_of: &dyn Fn(u32, &str) -> Option<String>,
    children: &[u32],
) -> Option<bool> {
    let framework = kind.and_then(by_kind)?;
    let (name, value) = framework.worker_marker?;
    let marked = |pid: u32| env_of(pid, name).as_deref() == Some(value);
    Some(marked(p.pid) || children.iter().any(|c| marked(*c)))
}

/// Whether a server of `kind` whose root (cwd) is `root` reads `file`, and
/// whether it restarts itself when it changes: `(reads, reloads)`.
pub fn env_file_use(
    kind: Option<&str>,
    root: &std::path::Path,
    file: &std::path::Path,
) -> (bool, bool) {
    let Some(framework) = kind.and_then(by_kind) else {
        // Unknown: read, once.
        return (true, false);
    };
    let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
    match framework.runtime {
        // A node dev server reads only its own root's env files.
        Runtime::Node => {
            let reads = file.parent() == Some(root) && framework.env_files.contains(&name);
            (reads, reads && framework.reloads_env_files)
        }
        // A Python server reads what its settings load (its cwd's `.env`,
        // often the root's): never a frontend's. Read once at start.
        Runtime::Python => (name.starts_with(".env"), false),
    }
}
