//! Vite's dev server (`vite`, `vite dev`): one node process, `node
//! node_modules/.bin/vite`. It reads env files from its `envDir` (its root
//! by default) and restarts itself when one changes (".env changed,
//! restarting server"); it serves edited sources at once. Since 8.4 a second
//! dev server of the same project refuses to start ("Found another Vite dev
//! process", its lock in `node_modules/.vite/lock/`). Default port 5173;
//! without `strictPort` it moves to the next free port. It compiles on
//! demand: a module is transformed when first asked for.

use super::{Framework, Runtime};

pub const VITE: Framework = Framework {
    kind: "vite",
    runtime: Runtime::Node,
    default_port: Some(5173),
    titles: &[],
    env_files: &[
        ".env",
        ".env.local",
        ".env.development",
        ".env.development.local",
    ],
    reloads_env_files: true,
    watches_sources: true,
    // It transforms each module when it is first asked for, and bundles the
    // dependencies on the first page load of a cold start: under load the
    // first answer can take longer than a probe waits (field round 7, a
    // healthy vite on a machine at load 16).
    compiles_on_demand: true,
    worker_marker: None,
};

pub const DEFAULT_PORT: u16 = 5173;
