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
