//! uvicorn and fastapi-cli (`uvicorn app.main:app --reload`, `fastapi dev
//! app/main.py`): with `--reload` (always with `fastapi dev`) a reloader
//! parent binds the socket and spawns a worker (multiprocessing's spawn:
//! `python -c "from multiprocessing.spawn import spawn_main; …"`) that
//! serves; the worker is restarted on a `.py` change. Without it, one
//! process serves. Env files are read by the app's settings, once.

use super::{Framework, Runtime};

pub const FASTAPI: Framework = Framework {
    kind: "fastapi",
    runtime: Runtime::Python,
    default_port: Some(8000),
    titles: &[],
    env_files: &[],
    reloads_env_files: false,
    watches_sources: false,
    compiles_on_demand: false,
    worker_marker: None,
};
