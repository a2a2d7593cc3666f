//! Flask (`flask run`): `--debug` (or `FLASK_DEBUG=1`) starts werkzeug's
//! reloader, a parent that re-runs the same command in a child with
//! `WERKZEUG_RUN_MAIN=true`; the child serves. Flask 2.3 removed
//! `FLASK_ENV`: `FLASK_ENV=development` in `.flaskenv` starts no reloader,
//! so an edit leaves the old code serving. `flask run` reads `.flaskenv`
//! and `.env` (python-dotenv) from its cwd, once.

use super::{Framework, Runtime};

pub const FLASK: Framework = Framework {
    kind: "flask",
    runtime: Runtime::Python,
    default_port: Some(5000),
    titles: &[],
    env_files: &[".flaskenv", ".env"],
    reloads_env_files: false,
    watches_sources: false,
    compiles_on_demand: false,
    worker_marker: Some(("WERKZEUG_RUN_MAIN", "true")),
};

/// The modules `flask run` imports when neither `--app` nor `FLASK_APP`
/// names one: `app.py`, then `wsgi.py`, in the folder it runs in.
pub const DEFAULT_APP_MODULES: &[&str] = &["app", "wsgi"];

/// The module `flask run` in `folder` would import by default, if any.
pub fn default_app_module(folder: &std::path::Path) -> Option<&'static str> {
    DEFAULT_APP_MODULES
        .iter()
        .copied()
        .find(|m| folder.join(format!("{m}.py")).is_file())
}
