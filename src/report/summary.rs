//! The default human report, answer first (flutter doctor, ruff and rustc
//! are the models): one line per service with its state, then one block per
//! cause with its key evidence and the commands that fix it, each command on
//! a line of its own and never wrapped, the consequences indented under
//! their cause. Explanations and the full evidence are `-v`'s (the table)
//! and `doctor explain CODE`'s. Width follows the terminal; prose is wrapped
//! at word boundaries, long values are shortened before layout.

use std::fmt::Write as _;

use serde_json::Value;

use super::table::Style;
use super::{Report, Status};
use crate::engine::Outcome;
use crate::finding::{Finding, Safety, Severity};

pub fn render(report: &Report, style: &Style) -> String {
    let mut out = String::new();
    let width = usize::from(style.width).max(40);
    let dot = dot(style);
    let services: Vec<_> = report
        .project
        .services
        .iter()
        .filter(|s| s.expected)
        .collect();
    let names: Vec<&str> = services.iter().map(|s| s.name.as_str()).collect();
    let _ = writeln!(
        out,
        "{}",
        fit(
            &format!(
                "{} {} {dot} {} {dot} {}",
                style_bold(style, "doctor"),
                report.doctor_version,
                report.project.root,
                match names.len() {
                    0 => "no services found".to_string(),
                    1 => format!("1 service: {}", names[0]),
                    n => format!("{n} services: {}", names.join(", ")),
                }
            ),
            width
        )
    );
    let name_width = names
        .iter()
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(0)
        .min(16);
    for s in &services {
        let about: Vec<&Finding> = report
            .findings
            .iter()
            .filter(|f| f.caused_by.is_none() && f.severity != Severity::Info)
            .filter(|f| f.services().contains(&s.name.as_str()) || f.port() == Some(s.port))
            .collect();
        // A service hit only by a consequence (the frontend whose proxy
        // fails because the backend moved) is no ✔: its row says what
        // failed and which cause below explains it.
        let hit: Vec<(&Finding, &Finding)> = report
            .findings
            .iter()
            .filter(|f| f.severity != Severity::Info)
            .filter(|f| f.services().contains(&s.name.as_str()) || f.port() == Some(s.port))
            .filter_map(|f| Some((f, report.findings.get(root_index(report, f)?)?)))
            .collect();
        let worst = about
            .iter()
            .map(|f| f.severity)
            .chain(hit.iter().map(|(f, _)| f.severity))
            .min();
        let symbol = match worst {
            Some(sev) => style.paint(style.symbol(sev), sev),
            None => style_green(style, ok(style)),
        };
        let state = if about.is_empty() && !hit.is_empty() {
            hit.iter()
                .map(|(f, root)| format!("{} (from {}) {}", f.code, root.code, short(f)))
                .collect::<Vec<_>>()
                .join("; ")
        } else if about.is_empty() {
            healthy_state(report, &s.name)
        } else {
            about
                .iter()
                .map(|f| format!("{} {}", f.code, short(f)))
                .collect::<Vec<_>>()
                .join("; ")
        };
        let line = format!("{symbol} {:<name_width$} :{:<5} {state}", s.name, s.port);
        let _ = writeln!(out, "{}", fit(&line, width));
    }
    for u in &report.project.unreadable {
        let line = format!(
            "{} could not read {}: {}",
            style.paint(style.symbol(Severity::Warning), Severity::Warning),
            u.path,
            u.error
        );
        let _ = writeln!(out, "{}", fit(&line, width));
    }
    if let Some(ports) = &report.ports {
        out.push('\n');
        out.push_str(&super::table::sockets_table(ports, style));
    }
    for (i, f) in report.findings.iter().enumerate() {
        if f.caused_by.is_some() {
            continue;
        }
        out.push('\n');
        cause_block(&mut out, report, i, f, style, width);
    }
    out.push_str(&super::table::incomplete(report, style));
    out.push_str(&super::table::not_run(report, style));
    out.push('\n');
    out.push_str(&footer(report, style));
    out
}

/// The root a consequence folds under (its `caused_by`, followed to the
/// top); None for a root itself.
fn root_index(report: &Report, f: &Finding) -> Option<usize> {
    let mut at = f.caused_by?;
    for _ in 0..16 {
        match report.findings.get(at).and_then(|g| g.caused_by) {
            Some(up) => at = up,
            None => return Some(at),
        }
    }
    Some(at)
}

fn cause_block(
    out: &mut String,
    report: &Report,
    index: usize,
    f: &Finding,
    style: &Style,
    width: usize,
) {
    let head = format!(
        "{} {} ",
        style.paint(style.symbol(f.severity), f.severity),
        style_bold(style, f.code)
    );
    let _ = writeln!(out, "{}", wrap(&format!("{head}{}", f.title), width, 2));
    if let Some(evidence) = key_evidence(f) {
        let _ = writeln!(out, "{}", wrap(&style_dim(style, &evidence), width, 2));
    }
    if let Some(fix) = &f.fix {
        let how = match fix.safety {
            Safety::Safe => "fix (safe, doctor --fix applies it)",
            Safety::Confirm => "fix (doctor --fix asks first)",
            Safety::Manual => "to fix",
        };
        let _ = writeln!(
            out,
            "{}",
            wrap(&format!("  {how}: {}", fix.title), width, 4)
        );
        for c in &fix.commands {
            if fix.safety == Safety::Manual && !looks_like_command(c) {
                // A manual step is prose: wrapped, not presented as a command.
                let _ = writeln!(out, "{}", wrap(&format!("    {c}"), width, 4));
            } else {
                // A command is printed whole on its own line: pasteable.
                let _ = writeln!(out, "    {c}");
            }
        }
    }
    let arrow = if style.unicode { "↳" } else { "->" };
    for (j, c) in report.findings.iter().enumerate() {
        if c.caused_by == Some(index) && j != index {
            let line = format!("  {arrow} {} {}", c.code, c.title);
            let _ = writeln!(out, "{}", style_dim(style, &fit(&line, width)));
            // A consequence's own consequences, one level further in.
            for d in report.findings.iter().filter(|d| d.caused_by == Some(j)) {
                let line = format!("    {arrow} {} {}", d.code, d.title);
                let _ = writeln!(out, "{}", style_dim(style, &fit(&line, width)));
            }
        }
    }
}

fn footer(report: &Report, style: &Style) -> String {
    let s = &report.summary;
    let ran = report
        .checks
        .iter()
        .filter(|c| c.outcome != Outcome::Skipped)
        .count();
    let dot = dot(style);
    let counts = format!(
        "{} error{}, {} warning{}, {} info",
        s.errors,
        if s.errors == 1 { "" } else { "s" },
        s.warnings,
        if s.warnings == 1 { "" } else { "s" },
        s.infos
    );
    let line = match report.status {
        Status::Fail | Status::Warn => {
            let sev = if report.status == Status::Fail {
                Severity::Error
            } else {
                Severity::Warning
            };
            style.paint(
                &format!(
                    "{} {} cause{} ({counts})",
                    style.symbol(sev),
                    s.causes,
                    if s.causes == 1 { "" } else { "s" }
                ),
                sev,
            )
        }
        Status::Ok if report.incomplete_checks().next().is_some() => format!(
            "{} no problems in the checks that finished ({counts}); the others are unknown, not fine",
            style.paint(style.symbol(Severity::Warning), Severity::Warning)
        ),
        Status::Ok if report.project.services.is_empty() && report.ports.is_none() => format!(
            "{} no services found to check: name one with --port or --url",
            style.paint(style.symbol(Severity::Info), Severity::Info)
        ),
        Status::Ok => style_green(style, &format!("{} no problems found ({counts})", ok(style))),
    };
    let more = if report.findings.is_empty() {
        "doctor -v for every check and probe".to_string()
    } else {
        "doctor -v for evidence and explanations, doctor explain CODE".to_string()
    };
    let text = format!(
        "{line} {dot} {ran} check{} ran {dot} {more}",
        if ran == 1 { "" } else { "s" }
    );
    format!("{}\n", wrap(&text, usize::from(style.width).max(40), 2))
}

/// The state of a service with no finding: what its probe saw.
fn healthy_state(report: &Report, name: &str) -> String {
    let probe = report
        .probes
        .iter()
        .find(|p| p["service"] == name && p["status"].is_u64());
    match probe {
        Some(p) => format!(
            "answers {} {} ({} ms)",
            p["url"]
                .as_str()
                .and_then(|u| u.split_once("://"))
                .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
                .unwrap_or("/"),
            p["status"],
            p["ttfb_ms"]
                .as_f64()
                .map_or("?".into(), |m| format!("{m:.0}"))
        ),
        None if report
            .probes
            .iter()
            .any(|p| p["service"] == name && p["speaks"].is_string()) =>
        {
            "answers its protocol".into()
        }
        None => "ok".into(),
    }
}

/// A few words for the service line: the heart of the finding.
fn short(f: &Finding) -> String {
    let pid = |key: &str| -> Option<String> {
        let v = &f.evidence.get(key)?;
        let p = if v.is_array() { &v[0] } else { v };
        Some(format!(
            "pid {} ({})",
            p["pid"],
            crate::checks::shorten(p["command"].as_str().unwrap_or(""), 24)
        ))
    };
    let names = |key: &str| -> Option<String> {
        let list: Vec<&str> = f
            .evidence
            .get(key)?
            .as_array()?
            .iter()
            .filter_map(|m| m["name"].as_str())
            .collect();
        Some(crate::checks::shorten(&list.join(", "), 50))
    };
    match f.code {
        "PORT001" => Some("nothing listens".to_string()),
        "PORT002" => pid("holders").map(|p| format!("held by {p}")),
        "PY002" => names("missing").map(|n| format!("not installed: {n}")),
        "PY003" => f.evidence.get("exception").map(|e| {
            format!(
                "import fails: {}",
                crate::checks::shorten(e["message"].as_str().unwrap_or_default(), 60)
            )
        }),
        "PROC001" => pid("process").map(|p| format!("stopped: {p}")),
        "PROC008" => f
            .evidence
            .get("old_cwd")
            .and_then(|p| p.as_str())
            .map(|p| format!("stale server, its folder {p} is gone")),
        _ => None,
    }
    .unwrap_or_else(|| crate::checks::shorten(&f.title, 70))
}

/// One line of the facts a user checks first: port, pid, file:line, status.
fn key_evidence(f: &Finding) -> Option<String> {
    let mut parts = Vec::new();
    let get = |k: &str| f.evidence.get(k);
    for key in [
        "location",
        "source",
        "declared_at",
        "url",
        "status",
        "origin",
    ] {
        if let Some(v) = get(key)
            .and_then(Value::as_str)
            .map(String::from)
            .or_else(|| get(key).filter(|v| v.is_number()).map(|v| v.to_string()))
        {
            parts.push(format!("{key} {v}"));
        }
    }
    for key in ["holders", "process", "reloader"] {
        if let Some(v) = get(key) {
            let p = if v.is_array() { &v[0] } else { v };
            if let Some(pid) = p["pid"].as_u64() {
                let mut s = format!("pid {pid}");
                if let Some(cwd) = p["cwd"].as_str() {
                    let _ = write!(s, ", cwd {cwd}");
                }
                if let Some(started) = p["started"].as_str() {
                    let _ = write!(s, ", started {started}");
                }
                parts.push(s);
            }
        }
    }
    (!parts.is_empty()).then(|| format!("  {}", parts.join(" · ")))
}

/// Whether a manual step is a command to paste (not a sentence).
fn looks_like_command(step: &str) -> bool {
    let first = step.split_whitespace().next().unwrap_or_default();
    step.contains(" && ")
        || [
            "cd", "npm", "pnpm", "yarn", "python", "python3", "pip", "uvicorn", "flask", "node",
            "git", "cp", "kill", "taskkill", "nvm", "docker", "fastapi", "gunicorn", "py", "wsl",
            "sudo", "ss", "ps", "lsof", "netstat",
        ]
        .contains(&first)
        // PowerShell's verb-noun commands (Get-CimInstance …).
        || first.starts_with("Get-")
        || first.starts_with(".venv")
        || first.starts_with("../")
        || first.starts_with("..\\")
}

/// Shorten a line to `width` columns, with an ellipsis.
fn fit(line: &str, width: usize) -> String {
    // Escape sequences (colour) take no columns; count only what shows.
    let visible = strip_ansi(line);
    if visible.chars().count() <= width {
        return line.to_string();
    }
    let cut: String = visible.chars().take(width.saturating_sub(1)).collect();
    format!("{cut}…")
}

/// Wrap prose at word boundaries to `width`, continuation lines indented.
fn wrap(text: &str, width: usize, indent: usize) -> String {
    let mut lines: Vec<String> = Vec::new();
    // The first line keeps its own indentation.
    let body = text.trim_start_matches(' ');
    let lead = text.len() - body.len();
    let mut line = " ".repeat(lead);
    let mut len = lead;
    let mut first = true;
    for word in body.split(' ') {
        let w = strip_ansi(word).chars().count();
        if std::mem::take(&mut first) {
            // The first word joins the indentation, no space before it.
        } else if len + 1 + w > width {
            lines.push(std::mem::take(&mut line));
            line.push_str(&" ".repeat(indent));
            len = indent;
        } else {
            line.push(' ');
            len += 1;
        }
        // A single word longer than a line (a path, a URL) is shortened.
        if w > width.saturating_sub(indent) {
            let keep = width.saturating_sub(indent + 1);
            let short: String = strip_ansi(word).chars().take(keep).collect();
            line.push_str(&short);
            line.push('…');
            len += keep + 1;
        } else {
            line.push_str(word);
            len += w;
        }
    }
    lines.push(line);
    lines.join("\n")
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn dot(style: &Style) -> &'static str {
    if style.unicode {
        "·"
    } else {
        "-"
    }
}

fn ok(style: &Style) -> &'static str {
    if style.unicode {
        "✔"
    } else {
        "ok"
    }
}

fn style_bold(style: &Style, text: &str) -> String {
    if style.color {
        use owo_colors::OwoColorize;
        text.bold().to_string()
    } else {
        text.to_string()
    }
}

fn style_dim(style: &Style, text: &str) -> String {
    if style.color {
        use owo_colors::OwoColorize;
        text.dimmed().to_string()
    } else {
        text.to_string()
    }
}

fn style_green(style: &Style, text: &str) -> String {
    if style.color {
        use owo_colors::OwoColorize;
        text.green().bold().to_string()
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prose_wraps_at_words_and_long_words_are_shortened() {
        let w = wrap("one two three four five six seven", 12, 2);
        assert!(w.lines().all(|l| l.chars().count() <= 12), "{w}");
        assert!(w.lines().skip(1).all(|l| l.starts_with("  ")));
        let long = wrap(&"x".repeat(100), 20, 2);
        assert!(long.chars().count() <= 20, "{long}");
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("\u{1b}[1mab\u{1b}[0m", 3), "\u{1b}[1mab\u{1b}[0m");
    }
}
