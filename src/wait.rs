//! `--wait`: diagnose again until the stack is ready or the time is up.

use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use crate::config::Config;
use crate::finding;
use crate::output::{note, redraw, table_style};
use crate::pipeline;

/// `--wait`: re-run the ports, health and database checks until none reports
/// an error or `limit` passes, with one live line on a terminal. The report
/// that follows says why anything is still not ready.
pub fn wait_until_ready(config: &Config, root: &Path, limit: Duration) -> Result<(), String> {
    const READINESS: &[&str] = &["ports", "health", "database"];
    // Between rounds: a server that is starting gets a moment, not a busy loop.
    const ROUND_GAP: Duration = Duration::from_millis(250);
    let start = std::time::Instant::now();
    let live = std::io::stderr().is_terminal();
    let mut rounds = 0;
    let ready = loop {
        rounds += 1;
        let report = pipeline::diagnose(config, root, Some(READINESS))?;
        let waiting: Vec<&str> = report
            .findings
            .iter()
            .filter(|f| f.severity == finding::Severity::Error)
            .map(|f| f.title.as_str())
            .collect();
        if waiting.is_empty() {
            break true;
        }
        let elapsed = start.elapsed();
        if live {
            let line = format!(
                "waiting {:.1}s/{:.0}s: {}",
                elapsed.as_secs_f64(),
                limit.as_secs_f64(),
                waiting.first().copied().unwrap_or_default()
            );
            // The live line is on stderr: its width is stderr's terminal's,
            // less one column so that it never wraps and scrolls.
            let width = crate::platform::stderr_columns()
                .map_or(table_style(config).width as usize, usize::from);
            redraw(
                &line
                    .chars()
                    .take(width.saturating_sub(1))
                    .collect::<String>(),
            );
        }
        // `--wait 2s` waits the whole 2 s: the last gap is what is left.
        if elapsed >= limit {
            break false;
        }
        std::thread::sleep(ROUND_GAP.min(limit - elapsed));
    };
    if live {
        redraw("");
    }
    let took = start.elapsed().as_secs_f64();
    if ready {
        note(&format!(
            "doctor: ready after {took:.1}s ({rounds} round{})",
            if rounds == 1 { "" } else { "s" }
        ));
    } else {
        note(&format!(
            "doctor: not ready after {took:.1}s; the report below says why"
        ));
    }
    Ok(())
}
