//! The human report: a table of findings, each with its explanation, evidence
//! and fix under the title, then a summary line.

use std::fmt::Write as _;

use comfy_table::{presets, Cell, ContentArrangement, Table};
use owo_colors::OwoColorize;
use serde_json::Value;

use super::{PortView, Report, Status};
use crate::engine::Outcome;
use crate::finding::{Safety, Severity};

/// How the terminal can show things.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
    pub unicode: bool,
    pub width: u16,
    pub verbose: bool,
    /// `doctor port --all` or `-v`: every socket on its own row.
    pub all_sockets: bool,
}

impl Style {
    pub fn paint(&self, text: &str, severity: Severity) -> String {
        if !self.color {
            return text.to_string();
        }
        match severity {
            Severity::Error => text.red().bold().to_string(),
            Severity::Warning => text.yellow().bold().to_string(),
            Severity::Info => text.cyan().to_string(),
        }
    }
    fn dim(&self, text: &str) -> String {
        if self.color {
            text.dimmed().to_string()
        } else {
            text.to_string()
        }
    }
    fn bold(&self, text: &str) -> String {
        if self.color {
            text.bold().to_string()
        } else {
            text.to_string()
        }
    }
    fn green(&self, text: &str) -> String {
        if self.color {
            text.green().bold().to_string()
        } else {
            text.to_string()
        }
    }
    pub fn symbol(&self, severity: Severity) -> &'static str {
        match (severity, self.unicode) {
            (Severity::Error, true) => "✖",
            (Severity::Warning, true) => "⚠",
            (Severity::Info, true) => "ℹ",
            (Severity::Error, false) => "x",
            (Severity::Warning, false) => "!",
            (Severity::Info, false) => "i",
        }
    }
    fn ok_symbol(&self) -> &'static str {
        if self.unicode {
            "✔"
        } else {
            "ok"
        }
    }
    fn dot(&self) -> &'static str {
        if self.unicode {
            "·"
        } else {
            "-"
        }
    }
    fn table(&self) -> Table {
        let mut t = Table::new();
        t.load_style(if self.unicode {
            presets::UTF8_FULL
        } else {
            presets::ASCII_FULL
        })
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(self.width);
        t
    }
}

/// The whole report: header, the findings (causes first, each with its
/// consequences folded under it), what did not finish, `-v`'s detail, and
/// the summary line.
pub fn render(report: &Report, style: &Style) -> String {
    let mut out = header(report, style);
    if let Some(ports) = &report.ports {
        out.push('\n');
        out.push_str(&sockets_table(ports, style));
    }
    out.push('\n');
    if !report.findings.is_empty() {
        let _ = writeln!(out, "{}", findings_table(report, style));
    }
    out.push_str(&incomplete(report, style));
    out.push_str(&not_run(report, style));
    if style.verbose {
        out.push_str(&details(report));
    }
    out.push_str(&summary_line(report, style));
    out
}

fn header(report: &Report, style: &Style) -> String {
    let mut out = String::new();
    let dot = style.dot();
    let _ = writeln!(
        out,
        "{} {} {dot} {} {dot} {} expected service{}",
        style.bold("doctor"),
        report.doctor_version,
        report.project.root,
        report.project.services.len(),
        if report.project.services.len() == 1 {
            ""
        } else {
            "s"
        }
    );
    if style.verbose {
        let _ = writeln!(
            out,
            "  {}",
            style.dim(&format!(
                "project read in {:.1} ms",
                report.project.discovery_ms
            ))
        );
        for s in &report.project.services {
            let _ = writeln!(
                out,
                "  {} {} port {} {}{}",
                dot,
                s.name,
                s.port,
                s.url
                    .as_deref()
                    .map(|u| format!("{} ", clip(u)))
                    .unwrap_or_default(),
                style.dim(&format!(
                    "(from {}){}",
                    s.source,
                    // Which reader read the JS/TS config it names.
                    s.sources
                        .iter()
                        .find(|f| f.fact == "reader"
                            && s.source.starts_with(&format!("{}:", f.source)))
                        .map(|f| format!(" read by the {}", f.value))
                        .unwrap_or_default()
                ))
            );
        }
    }
    for u in &report.project.unreadable {
        let _ = writeln!(
            out,
            "{} could not read {}: {}",
            style.paint(style.symbol(Severity::Warning), Severity::Warning),
            u.path,
            u.error
        );
    }
    out
}

fn findings_table(report: &Report, style: &Style) -> Table {
    let mut table = style.table();
    table.set_header(vec![
        Cell::new("severity"),
        Cell::new("code"),
        Cell::new("finding"),
    ]);
    for f in &report.findings {
        let sev = style.paint(
            &format!("{} {}", style.symbol(f.severity), f.severity.as_str()),
            f.severity,
        );
        let Some(cause) = f.caused_by.and_then(|i| report.findings.get(i)) else {
            table.add_row(vec![
                Cell::new(sev),
                Cell::new(f.code),
                Cell::new(cause_body(f, style)),
            ]);
            continue;
        };
        // A consequence: folded under its cause, its title and what explains it.
        let arrow = if style.unicode { "↳" } else { "->" };
        let mut body = format!(
            "{}\n{}",
            clip(&f.title),
            style.dim(&format!("a consequence of {} above", cause.code))
        );
        if style.verbose {
            let evidence = evidence_lines(&f.evidence);
            if !evidence.is_empty() {
                let _ = write!(body, "\n{}", style.dim(&evidence.join("\n")));
            }
        }
        table.add_row(vec![
            Cell::new(format!("  {arrow} {}", style.dim(f.severity.as_str()))),
            Cell::new(style.dim(f.code)),
            Cell::new(body),
        ]);
    }
    table
}

/// A cause: its title, explanation, evidence and fix.
fn cause_body(f: &crate::finding::Finding, style: &Style) -> String {
    let mut body = style.bold(&clip(&f.title));
    let _ = write!(body, "\n\n{}", clip(&f.explanation));
    let evidence = evidence_lines(&f.evidence);
    if !evidence.is_empty() {
        let _ = write!(body, "\n\n{}", style.dim(&evidence.join("\n")));
    }
    if let Some(fix) = &f.fix {
        let safety = match fix.safety {
            Safety::Safe => "safe",
            Safety::Confirm => "asks first",
            Safety::Manual => "manual",
        };
        let _ = write!(
            body,
            "\n\n{} ({safety}): {}",
            style.bold("fix"),
            clip(&fix.title)
        );
        // Commands doctor would run get a prompt; manual steps are steps.
        let prompt = if fix.safety == Safety::Manual {
            "-"
        } else {
            "$"
        };
        for c in &fix.commands {
            let _ = write!(body, "\n{prompt} {}", clip(c));
        }
    }
    body
}

pub fn incomplete(report: &Report, style: &Style) -> String {
    let mut out = String::new();
    for c in report.incomplete_checks() {
        let what = if c.outcome == Outcome::TimedOut {
            "timed out"
        } else {
            "could not run"
        };
        let _ = writeln!(
            out,
            "{} check {} {what}: {} (its part of the stack is unknown, not fine)",
            style.paint(style.symbol(Severity::Warning), Severity::Warning),
            c.id,
            c.reason.as_deref().unwrap_or("")
        );
    }
    out
}

/// What `--no-exec` kept doctor from running: never to be read as "fine".
pub fn not_run(report: &Report, style: &Style) -> String {
    let mut out = String::new();
    for p in &report.probes {
        let why = p["why"]
            .as_str()
            .or(p["result"].as_str())
            .unwrap_or_default();
        if why.contains("--no-exec") {
            let _ = writeln!(
                out,
                "{} not run: {}",
                style.paint(style.symbol(Severity::Info), Severity::Info),
                why.trim_start_matches("skipped: ")
            );
        }
    }
    out
}

/// `-v`: every probe's measurements and every check's outcome and time.
fn details(report: &Report) -> String {
    let mut out = String::new();
    for p in &report.probes {
        let _ = writeln!(out, "  {}", clip(&probe_line(p)));
    }
    for c in &report.checks {
        let outcome = match c.outcome {
            Outcome::Ok => "ok",
            Outcome::Findings => "findings",
            Outcome::Skipped => "skipped",
            Outcome::TimedOut => "timed out",
            Outcome::Crashed => "crashed",
        };
        let reason = c
            .reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  check {:<10} {outcome:<9} {:>5} ms{reason}",
            c.id, c.duration_ms
        );
    }
    out
}

fn summary_line(report: &Report, style: &Style) -> String {
    let dot = style.dot();
    let s = &report.summary;
    let counts = format!(
        "{} error{}, {} warning{}, {} info",
        s.errors,
        if s.errors == 1 { "" } else { "s" },
        s.warnings,
        if s.warnings == 1 { "" } else { "s" },
        s.infos
    );
    let counts = if s.causes < report.findings.len() {
        format!(
            "{counts} ({} cause{}, the rest their consequences)",
            s.causes,
            if s.causes == 1 { "" } else { "s" }
        )
    } else {
        counts
    };
    let ran = report
        .checks
        .iter()
        .filter(|c| c.outcome != Outcome::Skipped)
        .count();
    let line = match report.status {
        Status::Fail => style.paint(&format!("{} {counts}", style.symbol(Severity::Error)), Severity::Error),
        Status::Warn => style.paint(&format!("{} {counts}", style.symbol(Severity::Warning)), Severity::Warning),
        Status::Ok if report.incomplete_checks().next().is_some() => format!(
            "{} no problems in the checks that finished ({counts}); {} did not finish, see above",
            style.paint(style.symbol(Severity::Warning), Severity::Warning),
            report.incomplete_checks().map(|c| c.id).collect::<Vec<_>>().join(", ")
        ),
        Status::Ok if report.project.services.is_empty() && report.ports.is_none() => format!(
            "{} no services found to check: doctor read the project's env files, package.json, configs and Python entry points here; name one with --port or --url",
            style.paint(style.symbol(Severity::Info), Severity::Info)
        ),
        Status::Ok if ran == 0 => format!(
            "{} nothing was checked: every check was skipped",
            style.paint(style.symbol(Severity::Info), Severity::Info)
        ),
        Status::Ok => style.green(&format!("{} no problems found ({counts})", style.ok_symbol())),
    };
    format!(
        "{line} {dot} {ran} check{} ran\n",
        if ran == 1 { "" } else { "s" }
    )
}

/// `doctor port`: per port, every listener with its owner, then one row per
/// (state, owner) with a count (`TIME_WAIT ×46`); `--all` and `-v` list every
/// socket.
pub fn sockets_table(ports: &[PortView], style: &Style) -> String {
    let mut table = style.table();
    table.set_header(vec!["port", "state", "local", "remote", "owner"]);
    for p in ports {
        if p.sockets.is_empty() {
            table.add_row(vec![
                p.port.to_string(),
                "-".into(),
                "no socket on this port".into(),
                String::new(),
                String::new(),
            ]);
            continue;
        }
        for s in &p.sockets {
            let state = match s.accept_queue {
                Some(q) if q > 0 => format!("{} (queue {q})", s.state),
                _ => s.state.to_string(),
            };
            if style.all_sockets || s.state == "LISTEN" {
                table.add_row(vec![
                    p.port.to_string(),
                    state,
                    s.local.clone(),
                    s.remote.clone(),
                    owner_text(s.owner, &s.processes),
                ]);
            }
        }
        if style.all_sockets && p.total > p.sockets.len() {
            table.add_row(vec![
                p.port.to_string(),
                format!("+{}", p.total - p.sockets.len()),
                "more sockets".into(),
                String::new(),
                "not listed: doctor port --all".into(),
            ]);
        }
        if !style.all_sockets {
            let times = if style.unicode { "×" } else { "x" };
            for g in &p.groups {
                table.add_row(vec![
                    p.port.to_string(),
                    format!("{} {times}{}", g.state, g.count),
                    String::new(),
                    String::new(),
                    owner_text(g.owner, &g.processes),
                ]);
            }
        }
    }
    format!("{table}\n")
}

fn owner_text(owner: &str, processes: &[Value]) -> String {
    match owner {
        // Windows names an owner pid for every socket a process holds; none
        // (pid 0) on a live socket means the table does not say, not "another user".
        "hidden" if cfg!(windows) => "hidden (the OS table names no owner pid)".to_string(),
        "hidden" => "hidden (another user's process)".to_string(),
        "none" => "- (no process: kernel leftover)".to_string(),
        _ => processes
            .iter()
            .map(|p| {
                if p["exited"] == true {
                    return format!("pid {} (no such process any more)", p["pid"]);
                }
                let mut text = format!("pid {} {}", p["pid"], p["command"].as_str().unwrap_or(""));
                if let Some(user) = p["user"].as_str() {
                    let _ = write!(text, " (user {user})");
                }
                text
            })
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

/// Evidence as `key: value` lines, objects flattened without JSON quoting.
/// The longest line a table cell gets: a value from a hostile file (a
/// 1 MB line in `.env`) is shortened before the layout, whose cost grows
/// with the length of what it wraps. `--json` keeps every byte.
const CELL_LINE_MAX: usize = 600;

fn clip(text: &str) -> String {
    let count = text.chars().count();
    if count <= CELL_LINE_MAX {
        return text.to_string();
    }
    let kept: String = text.chars().take(CELL_LINE_MAX).collect();
    format!(
        "{kept}… ({} more characters; --json has them all)",
        count - CELL_LINE_MAX
    )
}

fn evidence_lines(evidence: &serde_json::Map<String, Value>) -> Vec<String> {
    use crate::basis::{basis_of, Basis};
    // What the finding is about first, then what the running system shows,
    // then what the files say: the halves are named, as processes outrank files.
    let line = |k: &String, v: &Value| clip(&format!("{k}: {}", compact(v)));
    let mut out: Vec<String> = evidence
        .iter()
        .filter(|(k, _)| basis_of(k) == Basis::Subject)
        .map(|(k, v)| line(k, v))
        .collect();
    for (half, heading) in [
        (Basis::Running, "seen in the running system:"),
        (Basis::Files, "written in the project's files:"),
    ] {
        let lines: Vec<String> = evidence
            .iter()
            .filter(|(k, _)| basis_of(k) == half)
            .map(|(k, v)| format!("- {}", line(k, v)))
            .collect();
        if !lines.is_empty() {
            out.push(heading.to_string());
            out.extend(lines);
        }
    }
    out
}

fn compact(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) if items.is_empty() => "none".into(),
        Value::Array(items) => items.iter().map(compact).collect::<Vec<_>>().join("; "),
        Value::Object(map) if map.is_empty() => "none".into(),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| match v {
                Value::Object(_) => format!("{k} {{{}}}", compact(v)),
                _ => format!("{k} {}", compact(v)),
            })
            .collect::<Vec<_>>()
            .join(", "),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

/// One probe for `-v`: what was asked, what came back, how long each step took.
fn probe_line(p: &Value) -> String {
    let s = |k: &str| p[k].as_str().unwrap_or_default().to_string();
    let what = match p["check"].as_str() {
        Some("health") => format!(
            "health {} {}",
            s("service"),
            if p["url"].is_string() {
                s("url")
            } else {
                s("address")
            }
        ),
        Some("cors") => format!("cors {} origin {}", s("service"), s("origin")),
        Some("database") => format!(
            "database {} {} ({})",
            s("variable"),
            s("address"),
            s("protocol")
        ),
        _ => compact(p),
    };
    let result = if let Some(status) = p["status"].as_u64() {
        let t = |k: &str| {
            p[k].as_f64()
                .map(|v| format!("{k} {v:.1} ms"))
                .unwrap_or_default()
        };
        let times = ["dns_ms", "connect_ms", "ttfb_ms", "total_ms"]
            .iter()
            .map(|k| t(k).replace("_ms", ""))
            .filter(|x| !x.is_empty())
            .collect::<Vec<_>>()
            .join(", ");
        let tls = p["tls"]
            .as_str()
            .map(|t| format!(" [{t}]"))
            .unwrap_or_default();
        format!("{status} ({times}){tls} {}", compact(&p["body"]))
    } else if let Some(allowed) = p["allowed"].as_bool() {
        if allowed {
            "allowed".into()
        } else {
            "rejected".into()
        }
    } else {
        s("result")
    };
    format!("probe {what} -> {result}")
}
