//! Create React App (`react-scripts start`): webpack-dev-server in one node
//! process (`node …/react-scripts/scripts/start.js`), the `"proxy"` of
//! package.json for API calls. It reads the root's env files once at start
//! (a change needs a restart) and watches sources.

use super::{Framework, Runtime};

pub const CRA: Framework = Framework {
    kind: "cra",
    runtime: Runtime::Node,
    default_port: Some(3000),
    titles: &[],
    env_files: &[
        ".env",
        ".env.development",
        ".env.local",
        ".env.development.local",
    ],
    reloads_env_files: false,
    watches_sources: true,
    compiles_on_demand: true,
    worker_marker: None,
};
