//! NET002 (info): doctor runs in a hosted or remote runtime (Colab,
//! Codespaces, Gitpod, a dev container, an SSH session): the browser's
//! localhost is another machine, so for each service that is up doctor
//! says how the browser reaches it.

use serde_json::json;

use crate::engine::{Check, CheckError, Context};
use crate::finding::Finding;
use crate::platform::environment::current_hosted;

pub struct HostedRuntime;

const ID: &str = "hosted";

impl Check for HostedRuntime {
    fn id(&self) -> &'static str {
        ID
    }
    fn description(&self) -> &'static str {
        "in a hosted runtime or over SSH, how the browser reaches each service that is up"
    }
    fn codes(&self) -> &'static [&'static str] {
        &["NET002"]
    }
    fn run(&self, ctx: &Context) -> Result<Vec<Finding>, CheckError> {
        let Some(hosted) = current_hosted() else {
            return Err(CheckError::Skipped(
                "not in Colab, Codespaces, Gitpod, a dev container or an SSH session".into(),
            ));
        };
        let snapshot = ctx.snapshot()?;
        let mut seen = std::collections::BTreeSet::new();
        let up: Vec<(String, u16)> = ctx
            .project
            .services
            .iter()
            .filter(|s| s.is_http() && snapshot.has_listener(s.port) && seen.insert(s.port))
            .map(|s| (s.name.clone(), s.port))
            .collect();
        if up.is_empty() {
            return Ok(Vec::new());
        }
        let ways: Vec<String> = up
            .iter()
            .map(|(name, port)| format!("{name} (port {port}): {}", hosted.reach(*port)))
            .collect();
        Ok(vec![Finding::new(
            "NET002",
            ID,
            format!(
                "doctor runs in {}: the browser's localhost is another machine; {}",
                hosted.name(),
                ways.join("; ")
            ),
        )
        .evidence("runtime", hosted.name())
        .evidence(
            "services",
            up.iter()
                .map(|(n, p)| json!({"service": n, "port": p, "browser": hosted.reach(*p)}))
                .collect::<Vec<_>>(),
        )])
    }
}
