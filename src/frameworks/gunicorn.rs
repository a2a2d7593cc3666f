//! gunicorn: an arbiter that binds and forks workers sharing its socket
//! (by design, not PORT007). `--reload` restarts workers on a change; most
//! often it is the deploy server of a Dockerfile or Procfile, not a dev one.

use super::{Framework, Runtime};

pub const GUNICORN: Framework = Framework {
    kind: "gunicorn",
    runtime: Runtime::Python,
    default_port: Some(8000),
    titles: &[],
    env_files: &[],
    reloads_env_files: false,
    watches_sources: false,
    compiles_on_demand: false,
    worker_marker: None,
};
