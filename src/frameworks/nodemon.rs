//! nodemon: a supervisor (`node …/nodemon index.js`) that runs the script in
//! a child and restarts it on a change; the child listens. When the child
//! crashes nodemon stays alive, "waiting for file changes before starting".

use super::{Framework, Runtime};

pub const NODEMON: Framework = Framework {
    kind: "nodemon",
    runtime: Runtime::Node,
    default_port: None,
    titles: &[],
    env_files: &[],
    reloads_env_files: false,
    watches_sources: true,
    compiles_on_demand: false,
    worker_marker: None,
};
