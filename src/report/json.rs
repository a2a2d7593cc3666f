//! `--json`: the report as one `doctor/v1` document.

use super::Report;

pub fn render(report: &Report) -> String {
    let mut text = serde_json::to_string_pretty(report).unwrap_or_else(|e| {
        // Serialising plain data cannot fail; should it, stdout must stay JSON.
        format!("{{\"schema\":\"doctor/v1\",\"error\":{:?}}}", e.to_string())
    });
    text.push('\n');
    text
}
