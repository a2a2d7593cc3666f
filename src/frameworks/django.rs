//! Django (`manage.py runserver`): its autoreloader (on unless
//! `--noreload`) re-runs the command in a child with `RUN_MAIN=true`; the
//! child serves and is restarted on a change. After an import error the
//! parent stays alive, listening nowhere, until a file changes.

use super::{Framework, Runtime};

pub const DJANGO: Framework = Framework {
    kind: "django",
    runtime: Runtime::Python,
    default_port: Some(8000),
    titles: &[],
    env_files: &[],
    reloads_env_files: false,
    watches_sources: false,
    compiles_on_demand: false,
    worker_marker: Some(("RUN_MAIN", "true")),
};

/// Settings Django refuses to use empty: the first access raises
/// `ImproperlyConfigured` ("The SECRET_KEY setting must not be empty").
/// The default middleware signs its message cookie on every request, and
/// the debug page itself reads the settings, so runserver starts and every
/// request is a bare 500 ("A server error occurred.", wsgiref's words).
pub const REQUIRED_SETTINGS: &[&str] = &["SECRET_KEY"];

/// The required setting a settings line assigns (`SECRET_KEY = os.environ.get(…)`).
pub fn required_setting_assigned(line: &str) -> Option<&'static str> {
    let target = line.split('=').next()?.trim();
    REQUIRED_SETTINGS.iter().copied().find(|s| *s == target)
}
