//! What the project expects to be running: its services, each with the port
//! and the place (file:line, flag) that says so. Project discovery (issue #4)
//! fills the same type from more sources.

use std::fs;
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use serde::Serialize;

/// `a/frontend/../backend` as `a/backend`, without asking the file system
/// (a script's `cd ../backend` from `frontend/`).
pub fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Env files read for service URLs (root and one folder down).
pub const ENV_FILES: &[&str] = &[
    ".env",
    ".env.local",
    ".env.development",
    ".env.development.local",
];
pub const VITE_CONFIGS: &[&str] = &[
    "vite.config.js",
    "vite.config.ts",
    "vite.config.mjs",
    "vite.config.mts",
    "vite.config.cjs",
];
/// Folders never worth descending into.
pub const SKIP_DIRS: &[&str] = &[
    "node_modules",
    ".git",
    ".venv",
    "venv",
    "env",
    "__pycache__",
    "dist",
    "build",
    "target",
    ".next",
    ".cache",
];
/// Whether a walk of the project descends into this folder: never into a
/// hidden, dependency or build folder, nor into any virtual environment
/// whatever its name (`venv.good`, `env311`, `.venv.bak`: a folder that holds
/// `pyvenv.cfg`, or conda's `conda-meta`), whose site-packages read as the
/// app's own code would fill a report with other people's env reads.
pub fn walks_into(path: &Path, name: &str) -> bool {
    !name.starts_with('.')
        && !SKIP_DIRS.contains(&name)
        && name != "site-packages"
        && !path.join("pyvenv.cfg").is_file()
        && !path.join("conda-meta").is_dir()
}

/// Env files are small; a huge one is read up to this many bytes.
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// One service as doctor knows it, in two halves joined by its port: what
/// the project's files say it should be ([`Intent`], filled by discovery)
/// and what the process tree shows it is (`running`, filled from the
/// snapshot the checks read). The intent's fields read through the service
/// (`service.port`), so a check names the half only where it matters.
#[derive(Debug, Clone, Serialize)]
pub struct Service {
    #[serde(flatten)]
    pub intent: Intent,
    /// The state half: the processes that serve its port, as the process
    /// tree shows them (launcher → reloader → worker). Filled by the
    /// pipeline from the snapshot the checks read; empty when nothing listens.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub running: Vec<RunningProcess>,
}

impl std::ops::Deref for Service {
    type Target = Intent;
    fn deref(&self) -> &Intent {
        &self.intent
    }
}

impl std::ops::DerefMut for Service {
    fn deref_mut(&mut self) -> &mut Intent {
        &mut self.intent
    }
}

/// The intent half of a service: what the files say (ports, URLs, start
/// command, entry, health route), each fact with the place that states it
/// in `sources`. Where a running process corrects a file (a dev server that
/// moved to the next free port), discovery records that in `sources` too.
#[derive(Debug, Clone, Serialize)]
pub struct Intent {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub port: u16,
    /// The host clients use to reach it (`localhost`, `127.0.0.1`, `::1`).
    #[serde(skip)]
    pub host: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<String>,
    /// Where doctor learned of it: `frontend/.env:1`, `--url`, `vite.config.ts:12`.
    pub source: String,
    /// The folder the service lives in, when known.
    #[serde(skip)]
    pub folder: Option<PathBuf>,
    /// The same folder relative to the project root, for reports.
    #[serde(rename = "folder", skip_serializing_if = "Option::is_none")]
    pub folder_shown: Option<String>,
    /// How it is started, when a file says so (`uvicorn main:app --port 8000`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    /// The Python module a backend's server imports (`main`, `app.main`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
    /// The origin a browser uses for a frontend (`http://localhost:5173`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// Other places that name this port (an env URL, a proxy target).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
    /// The port is a framework's default, not written anywhere.
    #[serde(skip)]
    pub default_port: bool,
    /// Declared in doctor.toml: overrides anything discovered.
    #[serde(skip)]
    pub declared: bool,
    /// The hosts clients use for it, each with where it is written.
    #[serde(skip)]
    pub clients: Vec<(String, String)>,
    /// The folder its start command runs in and its imports resolve from
    /// (`backend.app.main` run from the repository root): where PY003's
    /// import runs and where a printed start command begins.
    #[serde(skip)]
    pub package_root: Option<PathBuf>,
    /// The same folder relative to the project root, for reports.
    #[serde(rename = "package_root", skip_serializing_if = "Option::is_none")]
    pub package_root_shown: Option<String>,
    /// The folder (relative to the root) that `start` runs in, when it is
    /// not the run folder: `npm run dev` runs where its package.json is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_in: Option<String>,
    /// The entry was guessed from a file convention, not read from a start
    /// command: a start command's entry replaces it.
    #[serde(skip)]
    pub guessed_entry: bool,
    /// It restarts itself when its sources change (`--reload`, vite, nodemon…).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub reloads: bool,
    /// Something of the project needs it (a server definition, a proxy
    /// target, a URL the app's code reads). `false`: a URL nothing of the
    /// app uses, kept as context and reported as info at most.
    pub expected: bool,
    /// Health routes the backend's own source declares, best first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<String>,
    /// Other ports sources name for the same app, each with its source.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub other_ports: Vec<PortClaim>,
    /// Every fact doctor knows of it with where it learned it.
    pub sources: Vec<Fact>,
    /// A frontend's public key in an env file no dev server of its kind
    /// reads (the root `.env` beside `frontend/`'s vite): context, never a
    /// caller of the server on its port nor a place to change that port.
    #[serde(skip)]
    pub read_by_no_frontend: bool,
}

/// One process of a service's tree, as the running system shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunningProcess {
    pub pid: u32,
    /// `server` (listens, no reloader above it), `worker` (listens, spawned
    /// by its reloader), `reloader`, `master` (gunicorn's arbiter), or
    /// `launcher` (npm, concurrently, a start script).
    pub role: &'static str,
    pub command: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// UTC, as in every process's evidence.
    pub started: String,
    /// Its working folder is inside the project: `false` for a stranger on
    /// the service's port (an old checkout, another project).
    pub in_project: bool,
}

/// One fact about a service and the place that states it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fact {
    pub fact: &'static str,
    pub value: String,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PortClaim {
    pub port: u16,
    pub source: String,
}

impl Service {
    /// A service named by a URL (env file, proxy target, `--url`).
    pub fn from_url(url: &str, name: String, source: String) -> Option<Service> {
        let parts = parse_url(url)?;
        if !is_local_host(&parts.host) {
            return None;
        }
        let mut s = Service::at(name, parts.port, source);
        s.kind = kind_of_scheme(&parts.scheme).map(String::from);
        s.clients = vec![(parts.host.clone(), s.source.clone())];
        s.host = parts.host;
        s.url = Some(url.trim().to_string());
        Some(s)
    }

    /// A service known by its port (a server definition, a framework default).
    pub fn at(name: impl Into<String>, port: u16, source: String) -> Service {
        Service {
            intent: Intent {
                name: name.into(),
                kind: None,
                port,
                host: "localhost".into(),
                url: None,
                health: None,
                source,
                folder: None,
                folder_shown: None,
                start: None,
                entry: None,
                origin: None,
                references: Vec::new(),
                default_port: false,
                declared: false,
                clients: Vec::new(),
                package_root: None,
                package_root_shown: None,
                start_in: None,
                guessed_entry: false,
                reloads: false,
                expected: true,
                routes: Vec::new(),
                other_ports: Vec::new(),
                sources: Vec::new(),
                read_by_no_frontend: false,
            },
            running: Vec::new(),
        }
    }
}

impl Intent {
    /// Record where a fact came from (kept once per fact, value and source).
    pub fn learn(&mut self, fact: &'static str, value: impl Into<String>, source: &str) {
        let f = Fact {
            fact,
            value: value.into(),
            source: source.to_string(),
        };
        if !self.sources.contains(&f) {
            self.sources.push(f);
        }
    }

    /// The file that holds the app's entry module, when known: two mentions
    /// of the same file are one service, whatever port each names.
    pub fn app_file(&self) -> Option<PathBuf> {
        let root = self.package_root.as_ref().or(self.folder.as_ref())?;
        let module = self.entry.as_ref()?;
        let base = root.join(module.replace('.', "/"));
        let file = base.with_extension("py");
        Some(if file.is_file() {
            file
        } else {
            base.join("__init__.py")
        })
    }

    fn learn_own_facts(&mut self) {
        let source = self.source.clone();
        let port = if self.default_port {
            format!("{} (the framework's default)", self.port)
        } else {
            self.port.to_string()
        };
        self.learn("port", port, &source);
        for (fact, value) in [
            ("kind", self.kind.clone()),
            ("start", self.start.clone()),
            ("entry", self.entry.clone()),
            ("package_root", self.package_root_shown.clone()),
            ("health", self.health.clone()),
        ] {
            if let Some(v) = value {
                self.learn(fact, v, &source);
            }
        }
        if self.reloads {
            self.learn("reloads", "yes", &source);
        }
    }

    fn is_same_app(&self, other: &Intent) -> bool {
        if let (Some(a), Some(b)) = (self.app_file(), other.app_file()) {
            return a == b;
        }
        self.folder.is_some()
            && self.folder == other.folder
            && ((self.is_frontend() && other.is_frontend())
                || (self.is_python() && other.is_python()))
    }

    /// Merge another mention of the same service: a written port beats a
    /// framework default; a start command's entry beats a guessed one; two
    /// written ports that disagree are both kept, with their sources.
    fn absorb(&mut self, other: Intent) {
        // A URL-only mention met its server: the server's definition leads.
        if self.kind.is_none() && other.kind.is_some() && !self.declared {
            self.name = other.name.clone();
            if !self.references.contains(&self.source) {
                self.references.push(self.source.clone());
            }
            self.source = other.source.clone();
        }
        if self.default_port && !other.default_port {
            self.port = other.port;
            self.source = other.source.clone();
            self.default_port = false;
        } else if !other.default_port
            && other.port != self.port
            && !self.other_ports.iter().any(|c| c.port == other.port)
        {
            self.other_ports.push(PortClaim {
                port: other.port,
                source: other.source.clone(),
            });
        }
        if self.guessed_entry && !other.guessed_entry && other.entry.is_some() {
            self.entry = other.entry;
            self.package_root = other.package_root;
            self.package_root_shown = other.package_root_shown;
            self.start = other.start.or(self.start.take());
            self.start_in = other.start_in;
            self.guessed_entry = false;
        } else {
            self.entry = self.entry.take().or(other.entry);
            self.package_root = self.package_root.take().or(other.package_root);
            self.package_root_shown = self.package_root_shown.take().or(other.package_root_shown);
            if self.start.is_none() {
                self.start = other.start;
                self.start_in = other.start_in;
            }
        }
        self.kind = self.kind.take().or(other.kind);
        self.folder = self.folder.take().or(other.folder);
        self.folder_shown = self.folder_shown.take().or(other.folder_shown);
        self.health = self.health.take().or(other.health);
        self.origin = self.origin.take().or(other.origin);
        self.reloads |= other.reloads;
        self.expected |= other.expected;
        if self.routes.is_empty() {
            self.routes = other.routes;
        }
        for f in other.sources {
            if !self.sources.contains(&f) {
                self.sources.push(f);
            }
        }
        if !self.references.contains(&other.source) && self.source != other.source {
            self.references.push(other.source);
        }
    }

    /// Where its start command runs and its imports resolve.
    pub fn run_folder(&self) -> Option<&PathBuf> {
        self.package_root.as_ref().or(self.folder.as_ref())
    }

    /// `cd FOLDER && START` from the project root (on Windows, two lines),
    /// when a start is known.
    pub fn start_from_root(&self) -> Option<Vec<String>> {
        let start = self.start.as_ref()?;
        let folder = self
            .start_in
            .as_deref()
            .or(self.run_folder_shown())
            .unwrap_or(".");
        Some(crate::shell::in_folder(folder, start))
    }

    /// The start command as typed from the project root, with the venv's
    /// programs (`cd src && ../.venv/bin/python manage.py runserver`).
    pub fn start_from_root_with_venv(&self, root: &Path) -> Option<Vec<String>> {
        let start = self.start_with_venv(root)?;
        let folder = self
            .start_in
            .as_deref()
            .or(self.run_folder_shown())
            .unwrap_or(".");
        Some(crate::shell::in_folder(folder, &start))
    }

    /// The folder its start command runs in (start_in, else its run folder).
    pub fn start_folder(&self, root: &Path) -> PathBuf {
        match self.start_in.as_deref().or(self.run_folder_shown()) {
            Some(rel) if rel != "." => lexical(&root.join(rel)),
            _ => root.to_path_buf(),
        }
    }

    /// The `bin` (`Scripts` on Windows) of the virtual environment a Python
    /// service's start command should run from: in its start folder, its
    /// folder, then the project root.
    pub fn venv_bin(&self, root: &Path) -> Option<PathBuf> {
        if !self.is_python() {
            return None;
        }
        let bin = if cfg!(windows) { "Scripts" } else { "bin" };
        let python = if cfg!(windows) {
            "python.exe"
        } else {
            "python"
        };
        let mut dirs = vec![self.start_folder(root)];
        dirs.extend(self.folder.clone());
        dirs.push(root.to_path_buf());
        dirs.iter().find_map(|d| {
            [".venv", "venv", "env"]
                .iter()
                .map(|v| d.join(v).join(bin))
                .find(|b| b.join(python).exists())
        })
    }

    /// The start command as typed from its folder with the venv's programs
    /// (`.venv/bin/uvicorn app.main:app`): a bare `uvicorn` is not on PATH
    /// until the venv is activated.
    pub fn start_with_venv(&self, root: &Path) -> Option<String> {
        let start = self.start.as_ref()?;
        let Some(bin) = self.venv_bin(root) else {
            return Some(start.clone());
        };
        let mut words = start.splitn(2, ' ');
        let program = words.next().unwrap_or_default();
        let rest = words.next().unwrap_or_default();
        let tools = [
            "python",
            "python3",
            "uvicorn",
            "flask",
            "fastapi",
            "gunicorn",
            "django-admin",
            "hypercorn",
            "daphne",
        ];
        if !tools.contains(&program)
            || !bin
                .join(if program == "python3" {
                    "python"
                } else {
                    program
                })
                .exists()
                && !bin.join(format!("{program}.exe")).exists()
        {
            return Some(start.clone());
        }
        let folder = self.start_folder(root);
        let rel = bin
            .strip_prefix(&folder)
            .map(Path::to_path_buf)
            .unwrap_or_else(|_| {
                let up = folder
                    .strip_prefix(root)
                    .map_or(0, |f| f.components().count());
                let from_root = bin.strip_prefix(root).unwrap_or(&bin).to_path_buf();
                let mut p = PathBuf::new();
                for _ in 0..up {
                    p.push("..");
                }
                p.join(from_root)
            });
        let program = if program == "python3" {
            "python"
        } else {
            program
        };
        let shown =
            crate::shell::native(&rel.join(program).display().to_string().replace('\\', "/"));
        Some(if rest.is_empty() {
            shown
        } else {
            format!("{shown} {rest}")
        })
    }

    /// The same thing, relative to the project root (`.` for the root).
    pub fn run_folder_shown(&self) -> Option<&str> {
        self.package_root_shown
            .as_deref()
            .or(self.folder_shown.as_deref())
    }

    pub fn is_http(&self) -> bool {
        !matches!(
            self.kind.as_deref(),
            Some("postgres" | "mysql" | "redis" | "mongodb" | "rabbitmq")
        ) && self
            .url
            .as_deref()
            .is_none_or(|u| u.starts_with("http") || u.starts_with("ws"))
    }

    pub fn is_python(&self) -> bool {
        matches!(
            self.kind.as_deref(),
            Some("fastapi" | "flask" | "django" | "python")
        )
    }

    pub fn is_frontend(&self) -> bool {
        matches!(
            self.kind.as_deref(),
            Some("vite" | "next" | "cra" | "nuxt" | "astro" | "sveltekit")
        )
    }
}

/// A file doctor wanted to read and could not: reported, never silently "ok".
#[derive(Debug, Clone, Serialize)]
pub struct Unreadable {
    pub path: String,
    pub error: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Project {
    pub root: PathBuf,
    pub services: Vec<Service>,
    /// Ports to look at without expecting a listener (`--port`, `doctor port`).
    #[serde(skip)]
    pub examined_ports: Vec<u16>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<Unreadable>,
    /// Folders looked at: the root and up to two levels down.
    #[serde(skip)]
    pub folders: Vec<PathBuf>,
    /// Extra checks declared in doctor.toml.
    #[serde(skip)]
    pub user_checks: Vec<config_file::UserCheck>,
    /// Every value of the env files (not printed): masked where a program
    /// echoes it back, as pydantic does in `input_value='…'`.
    #[serde(skip)]
    pub env_values: Vec<String>,
    /// The app's own source text, read once (env keys it reads, routes).
    #[serde(skip)]
    pub code: code::CodeIndex,
    /// The compose files' services: what runs inside the containers.
    #[serde(skip)]
    pub compose: Vec<compose::ComposeService>,
    /// Every process (command line, folder), listed once per run on first
    /// use, by discovery (running servers) or by a check.
    #[serde(skip)]
    processes: std::sync::OnceLock<std::collections::HashMap<u32, crate::platform::ProcessInfo>>,
}

impl Project {
    /// Every process of the machine with its command line and folder.
    pub fn all_processes(&self) -> &std::collections::HashMap<u32, crate::platform::ProcessInfo> {
        self.processes.get_or_init(crate::platform::all_processes)
    }

    /// Every port any check should look at: services first, then examined ones.
    pub fn ports(&self) -> Vec<u16> {
        let mut ports: Vec<u16> = self.services.iter().map(|s| s.port).collect();
        ports.extend(&self.examined_ports);
        ports.sort_unstable();
        ports.dedup();
        ports
    }

    pub fn services_on(&self, port: u16) -> impl Iterator<Item = &Service> {
        self.services.iter().filter(move |s| s.port == port)
    }

    /// A path relative to the project root, for sources and evidence.
    pub fn relative(&self, path: &Path) -> String {
        // `frontend/../backend/settings.py` (a folder reached by `cd ..`)
        // as the user writes it: `backend/settings.py`.
        let path = if path
            .components()
            .any(|c| c == std::path::Component::ParentDir)
        {
            lexical(path)
        } else {
            path.to_path_buf()
        };
        path.strip_prefix(&self.root)
            .unwrap_or(&path)
            .to_string_lossy()
            .replace('\\', "/")
    }

    /// A server definition. Mentions of the same app (the same entry file,
    /// the same frontend folder) are one service whatever port each names;
    /// otherwise it merges into a service on the same port. The first one
    /// found keeps its name; every source of every fact is kept.
    pub fn add_server(&mut self, mut service: Service) {
        // `frontend/../backend` (a launcher's `cd ../backend`) is `backend`:
        // every comparison of folders below and in the checks is by prefix.
        service.folder = service.folder.take().map(|f| lexical(&f));
        service.package_root = service.package_root.take().map(|f| lexical(&f));
        service.learn_own_facts();
        // A declared service claims what discovery finds of it: the same
        // port, the same name, or the same kind of server.
        let claims = |d: &Service| {
            d.declared
                && (d.port == service.port
                    || d.name == service.name
                    || (d.kind.is_some()
                        && d.kind == service.kind
                        && (d.folder.is_none() || d.folder == service.folder)))
        };
        if let Some(declared) = self.services.iter_mut().find(|d| claims(d)) {
            let service = service.intent;
            declared.folder = declared.folder.take().or(service.folder);
            declared.folder_shown = declared.folder_shown.take().or(service.folder_shown);
            declared.entry = declared.entry.take().or(service.entry);
            declared.package_root = declared.package_root.take().or(service.package_root);
            declared.package_root_shown = declared
                .package_root_shown
                .take()
                .or(service.package_root_shown);
            declared.kind = declared.kind.take().or(service.kind);
            declared.reloads |= service.reloads;
            if declared.routes.is_empty() {
                declared.routes = service.routes;
            }
            declared.sources.extend(service.sources);
            return;
        }
        let same_app = self
            .services
            .iter()
            .position(|s| s.is_same_app(&service.intent))
            .or_else(|| self.services.iter().position(|s| s.port == service.port));
        match same_app {
            Some(i) => self.services[i].absorb(service.intent),
            None => self.services.push(service),
        }
    }

    /// A URL that names a port (env file, proxy target): a reference to the
    /// service there, or a service of its own when none is known.
    pub fn add_reference(&mut self, mut service: Service) {
        let (url, source) = (
            service.url.clone().unwrap_or_default(),
            service.source.clone(),
        );
        service.learn("url", url, &source);
        match self.services.iter_mut().find(|s| s.port == service.port) {
            // A frontend's key in a file no dev server of its kind reads: a
            // fact about the server, never its caller nor a place to change
            // its port.
            Some(existing) if service.read_by_no_frontend => {
                existing.sources.extend(service.intent.sources);
            }
            Some(existing) => {
                let service = service.intent;
                existing.clients.extend(service.clients);
                if existing.url.is_none() {
                    existing.url = service.url;
                    existing.host = service.host;
                }
                existing.expected |= service.expected;
                existing.sources.extend(service.sources);
                if !existing.references.contains(&service.source)
                    && existing.source != service.source
                {
                    existing.references.push(service.source);
                }
            }
            None => self.services.push(service),
        }
    }

    /// A URL-only service (no kind) on the port of a known server is a
    /// reference to that server: one service, all its sources.
    fn fold_references(&mut self) {
        let mut i = 0;
        while i < self.services.len() {
            let s = &self.services[i];
            let target = (s.kind.is_none() && !s.declared)
                .then(|| {
                    self.services
                        .iter()
                        .position(|o| o.port == s.port && o.kind.is_some())
                })
                .flatten();
            match target {
                Some(t) => {
                    let reference = self.services.remove(i).intent;
                    let t = if t > i { t - 1 } else { t };
                    let server = &mut self.services[t];
                    // A frontend's key in a file its dev server never reads
                    // is context: no client of the server, no place to
                    // change its port (field gd fd P1 H: the root `.env:8`
                    // was still cited).
                    if reference.read_by_no_frontend {
                        server.sources.extend(reference.sources);
                        continue;
                    }
                    server.clients.extend(reference.clients);
                    if server.url.is_none() {
                        server.url = reference.url;
                        server.host = reference.host;
                    }
                    server.expected |= reference.expected;
                    if reference.health.is_some() {
                        server.health = reference.health;
                    }
                    server.sources.extend(reference.sources);
                    if !server.references.contains(&reference.source) {
                        server.references.push(reference.source);
                    }
                    server.references.extend(reference.references);
                }
                None => i += 1,
            }
        }
    }

    /// A path relative to the root, `/`-separated.
    pub fn shown(&self, path: &Path) -> Option<String> {
        let rel = self.relative(path);
        Some(if rel.is_empty() { ".".into() } else { rel })
    }
}

pub mod code;
pub mod commands;
pub mod compose;
mod config_file;
pub mod envreads;
pub mod jsconfig;
pub(crate) mod launchers;
mod pyserve;
mod running;
mod sources;
pub mod sources_age;
mod yaml;
pub use config_file::{ConfigError, UserCheck, UserCheckKind};
pub use sources::module_of_file;

/// Read the project at `root` (nothing is executed): doctor.toml, package.json,
/// vite/next configs, Procfile, compose files, Python projects, env files, in
/// the root and up to two levels down; then what the command line adds.
pub fn discover(root: &Path, urls: &[String], ports: &[u16]) -> Result<Project, ConfigError> {
    let mut project = Project {
        root: root.to_path_buf(),
        ..Project::default()
    };
    project.folders = candidate_dirs(root);
    config_file::load(&mut project)?;
    sources::scan(&mut project);
    for url in urls {
        if let Some(service) = Service::from_url(url, "url".into(), "--url".into()) {
            // The user's own URL on a known service's port is that service's
            // health URL: its path is probed and its status counts (it was
            // merged into the service and its path lost).
            let path = parse_url(url).map(|u| u.path).filter(|p| p != "/");
            let port = service.port;
            project.add_reference(service);
            if let Some(path) = path {
                for s in project.services.iter_mut().filter(|s| s.port == port) {
                    s.health = Some(path.clone());
                    s.learn("health", path.clone(), "--url");
                }
            }
        }
    }
    running::attach(&mut project);
    project.fold_references();
    sources::settle_defaults(&mut project);
    project.examined_ports = ports.to_vec();
    Ok(project)
}

/// The most folders discovery looks at: a bound for huge monorepos.
const MAX_FOLDERS: usize = 300;

/// The root, its sub-folders and theirs (not hidden, not dependency folders).
fn candidate_dirs(root: &Path) -> Vec<PathBuf> {
    let mut dirs = vec![root.to_path_buf()];
    let mut level = vec![root.to_path_buf()];
    for _ in 0..2 {
        let mut next = Vec::new();
        for dir in &level {
            let Ok(entries) = fs::read_dir(dir) else {
                continue;
            };
            let mut subs: Vec<PathBuf> = entries
                .flatten()
                // file_type() does not follow symlinks: a link loop is never entered.
                .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
                .filter(|e| walks_into(&e.path(), &e.file_name().to_string_lossy()))
                .map(|e| e.path())
                .collect();
            subs.sort();
            next.extend(subs);
        }
        let room = MAX_FOLDERS.saturating_sub(dirs.len());
        next.truncate(room);
        dirs.extend(next.iter().cloned());
        level = next;
    }
    dirs
}

/// The longest one walk of the project's files may take.
const WALK_DEADLINE: std::time::Duration = std::time::Duration::from_secs(2);

/// Visit the files under `dir` whose extension is in `extensions`: at most
/// `max_depth` levels, `max_entries` directory entries and `WALK_DEADLINE`, never into
/// dependency, VCS or hidden folders, never through a symlink.
pub fn walk_files(
    dir: &Path,
    max_depth: usize,
    max_entries: usize,
    extensions: &[&str],
    visit: &mut dyn FnMut(&Path, &fs::Metadata),
) {
    let mut stack = vec![(dir.to_path_buf(), 0usize)];
    let mut seen = 0usize;
    // On a slow or network file system the entry cap alone is no bound.
    let began = std::time::Instant::now();
    while let Some((folder, depth)) = stack.pop() {
        if began.elapsed() > WALK_DEADLINE {
            return;
        }
        let Ok(entries) = fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            seen += 1;
            if seen > max_entries {
                return;
            }
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let path = entry.path();
            if kind.is_dir() {
                if depth < max_depth && walks_into(&path, &name) {
                    stack.push((path, depth + 1));
                }
            } else if kind.is_file()
                && path
                    .extension()
                    .is_some_and(|e| extensions.contains(&e.to_string_lossy().as_ref()))
            {
                if let Ok(meta) = entry.metadata() {
                    visit(&path, &meta);
                }
            }
        }
    }
}

/// The one way discovery and the checks read a project file: regular files
/// only (a FIFO named `.env`, a device or a socket is never opened for
/// reading, so it cannot block), at most `MAX_CONFIG_BYTES` (a larger file
/// is refused with a message that says so, never half-parsed), a UTF-8 BOM
/// dropped; non-UTF-8 bytes become U+FFFD.
pub fn read_bounded(path: &Path) -> std::io::Result<String> {
    use std::io::{Error, ErrorKind};
    let not_regular = || {
        Error::new(
            ErrorKind::InvalidInput,
            "not a regular file (a FIFO, device or socket is not read)",
        )
    };
    // Looked at before opening: opening a FIFO for reading waits for a writer.
    if !fs::metadata(path)?.is_file() {
        return Err(not_regular());
    }
    let mut options = fs::OpenOptions::new();
    options.read(true);
    // Should a FIFO be swapped in between, it is opened without waiting.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    let file = options.open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(not_regular());
    }
    if meta.len() > MAX_CONFIG_BYTES {
        return Err(Error::new(
            ErrorKind::InvalidData,
            format!(
                "{:.1} MiB, over doctor's read limit of {} MiB: not read",
                meta.len() as f64 / (1 << 20) as f64,
                MAX_CONFIG_BYTES >> 20
            ),
        ));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_CONFIG_BYTES).read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes);
    Ok(text.strip_prefix('\u{feff}').unwrap_or(&text).to_string())
}

/// `KEY=value`, `export KEY="value"`; comments and blank lines give `None`.
/// The keys a server's env files set, read from `dir` in the order the
/// framework reads them (`files`, a later file's value wins): each key's
/// value and the file:line that gives it.
pub fn env_file_values(
    dir: &Path,
    files: &[&str],
) -> std::collections::BTreeMap<String, (String, PathBuf, usize)> {
    let mut out = std::collections::BTreeMap::new();
    for name in files {
        let path = dir.join(name);
        let Ok(text) = read_bounded(&path) else {
            continue;
        };
        for (i, line) in text.lines().enumerate() {
            if let Some((key, value)) = parse_env_line(line) {
                out.insert(key.to_string(), (value.to_string(), path.clone(), i + 1));
            }
        }
    }
    out
}

pub fn parse_env_line(line: &str) -> Option<(&str, &str)> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let line = line.strip_prefix("export ").unwrap_or(line);
    let (key, value) = line.split_once('=')?;
    let key = key.trim();
    if key.is_empty()
        || !key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
    {
        return None;
    }
    let mut value = value.trim();
    if let Some(q) = value.chars().next().filter(|c| *c == '"' || *c == '\'') {
        value = value[1..].split(q).next().unwrap_or_default();
    } else if let Some((v, _comment)) = value.split_once(" #") {
        value = v.trim();
    }
    Some((key, value))
}

/// `VITE_API_URL` → `api`, `DATABASE_URL` → `database`.
pub fn service_name(key: &str) -> String {
    let mut name = key.to_ascii_lowercase();
    for prefix in [
        "vite_",
        "react_app_",
        "next_public_",
        "nuxt_public_",
        "public_",
    ] {
        if let Some(rest) = name.strip_prefix(prefix) {
            name = rest.to_string();
        }
    }
    for suffix in ["_base_url", "_url", "_uri", "_endpoint", "_host", "_origin"] {
        if let Some(rest) = name.strip_suffix(suffix) {
            if !rest.is_empty() {
                name = rest.to_string();
                break;
            }
        }
    }
    name
}

/// String literals in a line of JS/TS that hold an http(s)/ws URL.
pub fn quoted_urls(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for quote in ['\'', '"', '`'] {
        let mut parts = line.split(quote);
        parts.next();
        while let Some(inside) = parts.next() {
            if ["http://", "https://", "ws://", "wss://"]
                .iter()
                .any(|p| inside.starts_with(p))
            {
                out.push(inside);
            }
            parts.next();
        }
    }
    out
}

/// The parts of a URL doctor needs, parsed by hand so a broken URL is a `None`
/// and never a panic. Accepts `scheme://[user[:pass]@]host[:port][/...]`.
#[derive(Debug, Clone, PartialEq)]
pub struct UrlParts {
    pub scheme: String,
    pub host: String,
    pub port: u16,
    pub path: String,
}

pub fn parse_url(url: &str) -> Option<UrlParts> {
    let (scheme, rest) = url.trim().split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme.is_empty()
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    {
        return None;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        (host, after.strip_prefix(':'))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    if host.is_empty() {
        return None;
    }
    let port = match port {
        Some(p) => p.parse::<u16>().ok().filter(|p| *p != 0)?,
        None => default_port(&scheme)?,
    };
    Some(UrlParts {
        scheme,
        host: host.to_ascii_lowercase(),
        port,
        path: if path.is_empty() {
            "/".into()
        } else {
            path.into()
        },
    })
}

pub fn default_port(scheme: &str) -> Option<u16> {
    let scheme = scheme.split('+').next().unwrap_or(scheme);
    Some(match scheme {
        "http" | "ws" => 80,
        "https" | "wss" => 443,
        "postgres" | "postgresql" => 5432,
        "mysql" | "mariadb" => 3306,
        "redis" => 6379,
        "rediss" => 6380,
        "mongodb" => 27017,
        "amqp" => 5672,
        _ => return None,
    })
}

pub fn kind_of_scheme(scheme: &str) -> Option<&'static str> {
    let scheme = scheme.split('+').next().unwrap_or(scheme);
    Some(match scheme {
        "postgres" | "postgresql" => "postgres",
        "mysql" | "mariadb" => "mysql",
        "redis" | "rediss" => "redis",
        "mongodb" => "mongodb",
        "amqp" => "rabbitmq",
        _ => return None,
    })
}

/// Hosts that mean "this machine": the only services doctor can look at.
/// A name the hosts file maps to loopback only is this machine too (`db`
/// mapped to 127.0.0.1 to run a compose project natively).
pub fn is_local_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host.ends_with(".localhost")
        || (!host.is_empty()
            && host.parse::<IpAddr>().is_err()
            && crate::platform::environment::hosts_loopback_names()
                .iter()
                .any(|n| n.eq_ignore_ascii_case(host)))
        || host
            .parse::<IpAddr>()
            .map(|ip| ip.is_loopback() || ip.is_unspecified() || is_mapped_loopback(ip))
            .unwrap_or(false)
}

fn is_mapped_loopback(ip: IpAddr) -> bool {
    matches!(ip, IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()))
}

/// `::ffff:127.0.0.1` is 127.0.0.1 for every purpose here.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

pub const LOOPBACK_V4: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
pub const LOOPBACK_V6: IpAddr = IpAddr::V6(Ipv6Addr::LOCALHOST);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_lines() {
        assert_eq!(parse_env_line("A=b"), Some(("A", "b")));
        assert_eq!(parse_env_line("export A=\"b c\" # x"), Some(("A", "b c")));
        assert_eq!(parse_env_line("A=b # comment"), Some(("A", "b")));
        assert_eq!(parse_env_line("# A=b"), None);
        assert_eq!(parse_env_line("not a line"), None);
        assert_eq!(parse_env_line("=x"), None);
    }

    #[test]
    fn urls() {
        let u = parse_url("postgresql://app:SECRET@localhost:5433/app").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("localhost", 5433));
        let u = parse_url("http://[::1]:8000/health").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("::1", 8000, "/health")
        );
        assert_eq!(parse_url("http://localhost").unwrap().port, 80);
        assert!(parse_url("http://localhost:99999").is_none());
        assert!(parse_url("http://localhost:0").is_none());
        assert!(parse_url("nonsense").is_none());
        assert!(parse_url("http://").is_none());
        assert!(parse_url("weird://localhost").is_none());
    }

    #[test]
    fn names_and_hosts() {
        assert_eq!(service_name("VITE_API_URL"), "api");
        assert_eq!(service_name("DATABASE_URL"), "database");
        assert_eq!(service_name("URL"), "url");
        assert!(
            is_local_host("127.0.0.1") && is_local_host("[::1]") && is_local_host("app.localhost")
        );
        assert!(!is_local_host("example.com") && !is_local_host("10.0.0.1"));
        assert_eq!(
            quoted_urls("target: 'http://localhost:8000', x: \"ws://127.0.0.1:9\""),
            ["http://localhost:8000", "ws://127.0.0.1:9"]
        );
    }
}

#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// An env line of any bytes never panics the parser.
        #[test]
        fn env_lines_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let text = String::from_utf8_lossy(&bytes);
            for line in text.lines() {
                let _ = super::parse_env_line(line);
            }
            let _ = super::parse_url(&text);
        }

        /// package.json, a vite config and an env file of arbitrary bytes:
        /// discovery reads them (or says why not) and never panics.
        #[test]
        fn project_files_of_any_bytes_never_panic(
            package in proptest::collection::vec(any::<u8>(), 0..600),
            vite in "(.|\n){0,400}",
            env in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("package.json"), &package).unwrap();
            std::fs::write(dir.path().join("vite.config.ts"), &vite).unwrap();
            std::fs::write(dir.path().join(".env"), &env).unwrap();
            let _ = super::discover(dir.path(), &[], &[]);
        }

        /// Structured near-misses of a package.json and a vite config.
        #[test]
        fn near_miss_configs_never_panic(
            script in "[a-z :=./-]{0,40}( --port [0-9]{0,7})?",
            port in "[0-9a-z:]{0,8}",
            host in "[\"'0-9a-z.:]{0,20}",
        ) {
            let dir = tempfile::tempdir().unwrap();
            let package = format!("{{\"name\":\"x\",\"scripts\":{{\"dev\":\"{}\"}},\"devDependencies\":{{\"vite\":\"^6\"}}}}", script.replace('"', ""));
            std::fs::write(dir.path().join("package.json"), package).unwrap();
            std::fs::write(dir.path().join("vite.config.ts"), format!("export default {{ server: {{ port: {port}, host: {host}, proxy: {{ '/api': 'http://localhost:{port}' }} }} }}")).unwrap();
            let _ = super::discover(dir.path(), &[], &[]);
        }
    }
}
