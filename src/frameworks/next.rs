//! `next dev`: `node node_modules/.bin/next dev` starts a child that sets
//! its title to `next-server (vX.Y.Z)` (13 and later; the child has
//! `NEXT_PRIVATE_WORKER=1` in its environment) and listens on every
//! address (`*:3000`). The child's command line holds no path: its cwd and
//! its parent say whose it is. It reloads the root's `.env*` files itself
//! and compiles each page on its first request (seconds on a cold start).
//! Without `-p`/`PORT` it moves to the next port when 3000 is taken.

use super::{Framework, Runtime};

pub const NEXT: Framework = Framework {
    kind: "next",
    runtime: Runtime::Node,
    default_port: Some(3000),
    titles: &["next-server", "next-router-worker", "next-render-worker"],
    env_files: &[
        ".env",
        ".env.development",
        ".env.local",
        ".env.development.local",
    ],
    reloads_env_files: true,
    watches_sources: true,
    compiles_on_demand: true,
    worker_marker: None,
};

pub const DEFAULT_PORT: u16 = 3000;
