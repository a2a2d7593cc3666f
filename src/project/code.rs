//! The app's own source text, read once per run (bounded): which env keys
//! its code reads, and which health routes its backends declare. Tests,
//! end-to-end suites and tool configs are not "the app": a URL only they
//! use is context, not a service the stack needs.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::{read_bounded, walk_files};

const CODE_EXTENSIONS: &[&str] = &[
    "py", "js", "mjs", "cjs", "ts", "tsx", "jsx", "vue", "svelte", "astro",
];
/// Folders whose code is tooling or tests, not the running app.
const NOT_APP: &[&str] = &[
    "tests",
    "test",
    "e2e",
    "__tests__",
    "playwright",
    "cypress",
    "scripts",
    "migrations",
    "alembic",
];
const MAX_FILES: usize = 3_000;
const MAX_ENTRIES: usize = 40_000;
const MAX_BYTES: usize = 16 << 20;

#[derive(Debug, Default, Clone)]
pub struct CodeIndex {
    pub files: Vec<(PathBuf, String)>,
}

impl CodeIndex {
    pub fn build(root: &Path) -> CodeIndex {
        let mut files = Vec::new();
        let mut bytes = 0usize;
        walk_files(root, 8, MAX_ENTRIES, CODE_EXTENSIONS, &mut |path, meta| {
            if files.len() >= MAX_FILES || bytes > MAX_BYTES || meta.len() > 512 * 1024 {
                return;
            }
            let rel = path.strip_prefix(root).unwrap_or(path);
            if !is_app_code(rel) && !in_app_package(root, rel) {
                return;
            }
            if let Ok(text) = read_bounded(path) {
                bytes += text.len();
                files.push((path.to_path_buf(), text));
            }
        });
        files.sort_by(|a, b| a.0.cmp(&b.0));
        CodeIndex { files }
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The top-level modules the Python code under `within` imports
    /// (`import a.b`, `from a import b`, `import a, c`; relative imports are
    /// the project's own). Lines inside strings are rare enough to be read too.
    pub fn python_imports(&self, within: &Path) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for (path, text) in self.under(within) {
            if path.extension().is_none_or(|e| e != "py") {
                continue;
            }
            for line in text.lines() {
                let l = line.trim_start();
                let names: Vec<&str> = if let Some(rest) = l.strip_prefix("import ") {
                    rest.split(',').collect()
                } else if let Some(rest) = l.strip_prefix("from ") {
                    rest.split_whitespace().next().into_iter().collect()
                } else {
                    continue;
                };
                for name in names {
                    let module = name.split_whitespace().next().unwrap_or("");
                    let top = module.split('.').next().unwrap_or("");
                    if !top.is_empty() && top.chars().all(|c| c.is_alphanumeric() || c == '_') {
                        out.insert(top.to_string());
                    }
                }
            }
        }
        out
    }

    /// Whether code under `within` reads `key` (the name as written, or as
    /// a settings field in lower case).
    pub fn reads_key(&self, within: &Path, key: &str) -> bool {
        let lower = key.to_ascii_lowercase();
        self.under(within)
            .any(|(_, text)| text.contains(key) || (lower != key && contains_word(text, &lower)))
    }

    pub fn has_code_under(&self, within: &Path) -> bool {
        self.under(within).next().is_some()
    }

    pub fn under<'a>(&'a self, within: &'a Path) -> impl Iterator<Item = &'a (PathBuf, String)> {
        // A folder reached by `cd ../backend` (`frontend/../backend`) holds
        // the same files as `backend`: compared lexically normalised (field
        // gc P1 c1: no settings line was found under such a folder).
        let within = if within
            .components()
            .any(|c| c == std::path::Component::ParentDir)
        {
            super::lexical(within)
        } else {
            within.to_path_buf()
        };
        self.files
            .iter()
            .filter(move |(p, _)| p.starts_with(&within))
    }
}

fn is_app_code(rel: &Path) -> bool {
    let name = rel
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    if name.contains(".test.")
        || name.contains(".spec.")
        || name.starts_with("test_")
        || name.starts_with("playwright.config")
        || name.starts_with("vitest.config")
        || name.starts_with("jest.config")
        || name == "conftest.py"
    {
        return false;
    }
    !rel.components().any(|c| {
        let c = c.as_os_str().to_string_lossy();
        NOT_APP.contains(&c.as_ref())
    })
}

/// A Python file under a `scripts/` folder that is a package of the app
/// (it holds `__init__.py`, and so does the folder above it): imported by
/// the app, not a tool run beside it (field gd fd P3: `bunshi/scripts/`,
/// whose `from bs4 import …` was "imported nowhere"). Other tooling names
/// (tests, migrations) stay out.
fn in_app_package(root: &Path, rel: &Path) -> bool {
    if rel.extension().is_none_or(|e| e != "py") {
        return false;
    }
    let mut at = root.to_path_buf();
    for c in rel.parent().into_iter().flat_map(|p| p.components()) {
        let name = c.as_os_str().to_string_lossy().to_string();
        let parent = at.clone();
        at.push(&name);
        if NOT_APP.contains(&name.as_str())
            && !(name == "scripts"
                && at.join("__init__.py").is_file()
                && parent.join("__init__.py").is_file())
        {
            return false;
        }
    }
    let name = rel
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    !(name.starts_with("test_") || name == "conftest.py")
}

fn contains_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        let boundary = |c: Option<char>| c.is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        boundary(before) && boundary(after)
    })
}

/// Routes a backend declares whose path looks like a health check, with the
/// prefixes its routers are mounted under, best guesses first:
/// FastAPI `@router.get("/health-check/")` in a router with
/// `prefix="/utils"`, included under `prefix=settings.API_V1_STR`; Flask
/// `@bp.route("/health")` with `url_prefix`; Express `app.get('/health')`
/// and `app.use('/api', router)`; Django `path("health/", …)`.
pub fn health_routes(code: &CodeIndex, within: &Path) -> Vec<String> {
    let files: Vec<&(PathBuf, String)> = code.under(within).collect();
    // Named string constants anywhere in the backend (`API_V1_STR: str = "/api/v1"`).
    let constant = |name: &str| -> Option<String> {
        files.iter().find_map(|(_, text)| {
            text.lines().find_map(|l| {
                let l = l.trim();
                let rest = l.strip_prefix(name)?;
                let rest = rest.trim_start();
                let rest = match rest.strip_prefix(':') {
                    Some(r) => r.split_once('=')?.1,
                    None => rest.strip_prefix('=')?,
                };
                first_literal(rest).filter(|v| v.starts_with('/'))
            })
        })
    };
    // Mount prefixes: include_router(..., prefix=X), register_blueprint(..., url_prefix=X), app.use('/api', …).
    let mut mounts: Vec<String> = vec![String::new()];
    for (_, text) in &files {
        for line in text.lines() {
            let l = line.trim();
            let value = if l.contains("include_router(") || l.contains("register_blueprint(") {
                keyword_value(l, "url_prefix").or_else(|| keyword_value(l, "prefix"))
            } else if l.starts_with("app.use(") || l.contains(".use(\"/") || l.contains(".use('/") {
                first_literal(l.split_once(".use(").map_or("", |x| x.1))
            } else if (l.starts_with("path(") || l.contains(" path(")) && l.contains("include(") {
                first_literal(l.split_once("path(").map_or("", |x| x.1)).map(|p| format!("/{p}"))
            } else {
                None
            };
            let Some(value) = value else { continue };
            let value = if value.starts_with('/') {
                Some(value)
            } else {
                constant(value.rsplit('.').next().unwrap_or(&value))
            };
            if let Some(v) = value {
                let v = v.trim_end_matches('/').to_string();
                if !mounts.contains(&v) {
                    mounts.push(v);
                }
            }
        }
    }
    let mut routes = Vec::new();
    for (_, text) in &files {
        // A router's own prefix: APIRouter(prefix="/utils"), Blueprint(..., url_prefix="/x").
        let own = text.lines().find_map(|l| {
            (l.contains("APIRouter(") || l.contains("Blueprint("))
                .then(|| keyword_value(l, "url_prefix").or_else(|| keyword_value(l, "prefix")))
                .flatten()
        });
        for line in text.lines() {
            let l = line.trim();
            let path = if l.starts_with('@')
                && [".get(", ".route(", ".api_route("]
                    .iter()
                    .any(|m| l.contains(m))
            {
                first_literal(l.split_once('(').map_or("", |x| x.1))
            } else if l.contains(".get(") && (l.starts_with("app.") || l.starts_with("router.")) {
                first_literal(l.split_once(".get(").map_or("", |x| x.1))
            } else if l.starts_with("path(") || l.starts_with("re_path(") {
                first_literal(l.split_once('(').map_or("", |x| x.1)).map(|p| format!("/{p}"))
            } else {
                None
            };
            let Some(path) = path.filter(|p| looks_like_health(p)) else {
                continue;
            };
            // An f-string route (`f"{settings.api_prefix}/health"`): each
            // placeholder is the constant it names; one doctor cannot read
            // makes no route (a URL with `{…}` in it is no request at all).
            let path = if path.contains('{') {
                match resolve_placeholders(&path, &constant) {
                    Some(p) => p,
                    None => continue,
                }
            } else {
                path
            };
            let own = own.clone().unwrap_or_default();
            for mount in &mounts {
                let full = format!("{mount}{}{path}", own.trim_end_matches('/'));
                let full = full.replace("//", "/");
                if !routes.contains(&full) {
                    routes.push(full);
                }
            }
        }
    }
    // The longest (most mounted) spelling first: a bare `/health-check/` on
    // a router that lives under `/api/v1/utils` is the least likely.
    routes.sort_by_key(|r| std::cmp::Reverse(r.len()));
    routes.truncate(8);
    routes
}

/// `{settings.api_prefix}/health` → `/api/health`, each `{…}` by the
/// string constant its last name gives; None when one is unknown.
fn resolve_placeholders(path: &str, constant: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let mut out = String::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}')? + open;
        let expr = rest[open + 1..close].trim();
        let name = expr.rsplit('.').next()?;
        if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
            return None;
        }
        out.push_str(constant(name)?.trim_end_matches('/'));
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    Some(out)
}

fn looks_like_health(path: &str) -> bool {
    let p = path.to_ascii_lowercase();
    p.contains("health") || p.ends_with("/ping") || p == "/ping" || p.contains("healthz")
}

/// The first string literal of `text`.
fn first_literal(text: &str) -> Option<String> {
    let start = text.find(['"', '\''])?;
    let quote = text[start..].chars().next()?;
    let rest = &text[start + 1..];
    let end = rest.find(quote)?;
    Some(rest[..end].to_string())
}

/// `prefix="/api"` → `/api`; `prefix=settings.API_V1_STR` → `settings.API_V1_STR`.
fn keyword_value(line: &str, key: &str) -> Option<String> {
    let mut from = 0;
    while let Some(i) = line[from..].find(key) {
        let at = from + i;
        from = at + key.len();
        let before = line[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let rest = line[at + key.len()..].trim_start();
        let Some(rest) = rest.strip_prefix('=') else {
            continue;
        };
        let rest = rest.trim_start();
        if rest.starts_with(['"', '\'']) {
            return first_literal(rest);
        }
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '.')
            .collect();
        return (!name.is_empty()).then_some(name);
    }
    None
}

/// The distribution that installs a module, for the ones named otherwise
/// (`rest_framework` → `djangorestframework`); else the module's own name.
pub fn distribution_of_module(module: &str) -> String {
    KNOWN_MODULES
        .iter()
        .find(|(_, m)| *m == module)
        .map_or_else(|| module.replace('_', "-"), |(d, _)| d.to_string())
}

/// Distributions whose module is named otherwise.
const KNOWN_MODULES: &[(&str, &str)] = &[
    ("pyyaml", "yaml"),
    ("python-dotenv", "dotenv"),
    ("beautifulsoup4", "bs4"),
    ("pillow", "PIL"),
    ("scikit-learn", "sklearn"),
    ("psycopg2-binary", "psycopg2"),
    ("psycopg-binary", "psycopg"),
    ("opencv-python", "cv2"),
    ("opencv-python-headless", "cv2"),
    ("python-jose", "jose"),
    ("python-multipart", "multipart"),
    ("pyjwt", "jwt"),
    ("django-cors-headers", "corsheaders"),
    ("djangorestframework", "rest_framework"),
    ("flask-cors", "flask_cors"),
    ("flask-sqlalchemy", "flask_sqlalchemy"),
    ("pymysql", "pymysql"),
    ("mysqlclient", "MySQLdb"),
    ("google-generativeai", "google"),
    ("protobuf", "google"),
    ("attrs", "attr"),
    ("pydantic-settings", "pydantic_settings"),
    ("email-validator", "email_validator"),
    ("sentry-sdk", "sentry_sdk"),
    ("uvicorn-worker", "uvicorn_worker"),
];

/// The modules a distribution installs, as far as its name tells: the name
/// with `-`/`.` as `_`, and the known distributions whose module is named
/// otherwise (a missing distribution has no metadata to ask).
pub fn modules_of_distribution(normalized: &str) -> Vec<String> {
    let mut out: Vec<String> = KNOWN_MODULES
        .iter()
        .filter(|(d, _)| *d == normalized)
        .map(|(_, m)| m.to_string())
        .collect();
    out.push(normalized.replace(['-', '.'], "_"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(files: &[(&str, &str)]) -> CodeIndex {
        CodeIndex {
            files: files
                .iter()
                .map(|(p, t)| (PathBuf::from("/p").join(p), t.to_string()))
                .collect(),
        }
    }

    #[test]
    fn fastapi_routes_under_mounted_routers() {
        let code = index(&[
            ("backend/app/core/config.py", "class Settings:\n    API_V1_STR: str = \"/api/v1\"\n"),
            ("backend/app/main.py", "app.include_router(api_router, prefix=settings.API_V1_STR)\n"),
            ("backend/app/api/routes/utils.py", "router = APIRouter(prefix=\"/utils\", tags=[\"utils\"])\n\n@router.get(\"/health-check/\")\nasync def health_check() -> bool:\n    return True\n"),
        ]);
        let routes = health_routes(&code, Path::new("/p/backend"));
        assert_eq!(routes[0], "/api/v1/utils/health-check/");
    }

    /// Field gc P1 c1 (round 9): a backend folder reached through
    /// `frontend/../backend` found none of its files, so the CORS fix named
    /// a setting the project does not use.
    #[test]
    fn a_folder_with_dot_dot_holds_its_files() {
        let code = index(&[(
            "backend/backend/settings.py",
            "CORS_ORIGIN_WHITELIST = []\n",
        )]);
        assert_eq!(code.under(Path::new("/p/frontend/../backend")).count(), 1);
        assert_eq!(code.under(Path::new("/p/frontend")).count(), 0);
    }

    /// Field gd P1-d1: an f-string route probed as written
    /// (`/{settings.api_prefix}/health`, a 400 counted as an answer).
    #[test]
    fn f_string_routes_take_their_constants() {
        let code = index(&[
            ("backend/app/config.py", "class Settings(BaseSettings):\n    api_prefix: str = \"/api\"\n"),
            ("backend/app/main.py", "@app.get(f\"{settings.api_prefix}/health\")\ndef health():\n    return {}\n@app.get(f\"{unknown_thing}/healthz\")\ndef h2():\n    return {}\n"),
        ]);
        assert_eq!(
            health_routes(&code, Path::new("/p/backend")),
            ["/api/health"]
        );
    }

    #[test]
    fn flask_and_express_routes() {
        let code = index(&[
            (
                "api/app.py",
                "app.register_blueprint(bp, url_prefix='/api')\n",
            ),
            (
                "api/views.py",
                "bp = Blueprint('main', __name__)\n@bp.route('/health')\ndef h(): ...\n",
            ),
        ]);
        assert_eq!(health_routes(&code, Path::new("/p/api"))[0], "/api/health");
        let code = index(&[(
            "server/index.js",
            "app.get('/api/healthz', (req, res) => res.json({ok: true}))\n",
        )]);
        assert_eq!(
            health_routes(&code, Path::new("/p/server")),
            ["/api/healthz"]
        );
    }

    #[test]
    fn keys_read_by_code() {
        let code = index(&[
            (
                "frontend/src/api.ts",
                "const base = import.meta.env.VITE_API_URL ?? '/api'\n",
            ),
            (
                "backend/app/config.py",
                "class Settings(BaseSettings):\n    database_url: str = 'sqlite://'\n",
            ),
        ]);
        assert!(code.reads_key(Path::new("/p"), "VITE_API_URL"));
        assert!(code.reads_key(Path::new("/p"), "DATABASE_URL"));
        assert!(!code.reads_key(Path::new("/p"), "MAILCATCHER_HOST"));
        assert!(!code.reads_key(Path::new("/p/frontend"), "DATABASE_URL"));
        assert!(!is_app_code(Path::new("frontend/tests/login.spec.ts")));
        assert!(!is_app_code(Path::new("frontend/playwright.config.ts")));
    }
}
