//! Which half of the model a piece of evidence comes from: what the running
//! system shows (processes, sockets, answers, what is installed) or what the
//! project's files say (ports, URLs, start commands, env keys, each with its
//! file:line). Principle 1 ranks the first above the second, and a reader of
//! a finding should see which one they are looking at.
//!
//! One table, keyed by evidence name, so that a check states a fact once and
//! every printer can tell its half; `tests` holds every key the checks use
//! to a place in it.

use serde::Serialize;
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// Read off the running system: a process, a socket, a probe's answer,
    /// an installed package, a container the engine lists.
    Running,
    /// Read from the project's files (or a file of the machine's, such as
    /// the hosts file): what was intended.
    Files,
    /// What the finding is about (a port, a service, a key's name), or how
    /// doctor looked: neither half.
    Subject,
}

/// The evidence keys read off the running system.
const RUNNING: &[&str] = &[
    "accept_queue",
    "address",
    "addresses",
    "allow_private_network",
    "allowed",
    "answering",
    "answers",
    "bind",
    "body",
    "bound_not_listening",
    "children",
    "close_wait",
    "container",
    "copies",
    "cwd",
    "engine",
    "error",
    "exception",
    "exe",
    "forwarder",
    "forwards_to",
    "heirs",
    "holder",
    "holders",
    "innermost_frames",
    "installed",
    "known_as",
    "listening",
    "listening_in_wsl",
    "listening_inside",
    "listening_on",
    "listening_port",
    "loopback",
    "moved_to",
    "networking_mode",
    "no_proxy_missing",
    "node",
    "old_cwd",
    "orphaned_ancestor",
    "other_end",
    "output",
    "owner_pid",
    "path_now",
    "pid",
    "probe",
    "probes",
    "process",
    "serving_child",
    "listening_server",
    "detached_launcher",
    "process_environment",
    "process_environment_read",
    "process_started",
    "processes",
    "proxy_variables",
    "refused",
    "rejected",
    "reloader",
    "reparented_to",
    "resolved",
    "resolves_here",
    "result",
    "seen",
    "server_interpreter",
    "server_says",
    "server_speaks",
    "sqlstate",
    "stale",
    "started",
    "states",
    "status",
    "supervisor",
    "timings_ms",
    "tried",
    "uids",
    "version",
    "webpack",
    "windows_holders",
    "windows_listening",
];

/// The evidence keys read from files.
const FILES: &[&str] = &[
    "also_at",
    "at",
    "bound_wide_by",
    "command",
    "compose_file",
    "compose_service",
    "container_port",
    "credentials_in",
    "database",
    "declared",
    "declared_at",
    "dependencies",
    "django_setting",
    "duplicates",
    "empty_in",
    "entry",
    "env_file",
    "env_files_checked",
    "error_path",
    "example",
    "expected_by",
    "exposes",
    "fails_when_unset",
    "file",
    "file_says",
    "file_written",
    "git",
    "hosts_file",
    "imported_from",
    "launcher",
    "location",
    "lockfile",
    "login_from",
    "looked_in",
    "malformed_lines",
    "missing",
    "newest_source",
    "node_modules",
    "none_at_start",
    "not_imported",
    "other_ports",
    "package",
    "package_json",
    "project_interpreter",
    "proxy",
    "react_scripts",
    "read_at",
    "read_by",
    "read_with_default",
    "read_without_default",
    "reads",
    "requires_python",
    "runs_at_start",
    "runtime",
    "set_at",
    "set_only_in",
    "sets",
    "should_go",
    "source",
    "specifier",
    "start_commands_checked",
    "switch_at",
    "target_port",
    "url_port",
    "url_scheme",
    "urls",
    "user",
    "value_needed",
    "wanted",
    "written",
    "wslconfig",
];

/// What a finding is about, or how doctor looked: every key in neither
/// half is read so; the list makes a new key's place a decision (tests).
#[cfg(test)]
const SUBJECT: &[&str] = &[
    "app_module",
    "blocked_by",
    "browser_reaches_it",
    "budget_ms",
    "check",
    "field",
    "folder",
    "host",
    "how",
    "interpreter",
    "key",
    "module",
    "now",
    "origin",
    "port",
    "ports",
    "reason",
    "seen_via",
    "service",
    "services",
    "sibling",
    "start_detached",
    "url",
    "variable",
];

pub fn basis_of(key: &str) -> Basis {
    if RUNNING.contains(&key) {
        Basis::Running
    } else if FILES.contains(&key) {
        Basis::Files
    } else {
        Basis::Subject
    }
}

/// A finding's evidence keys by half, in the evidence's order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EvidenceFrom {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub running_system: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
}

impl EvidenceFrom {
    pub fn of(evidence: &Map<String, Value>) -> EvidenceFrom {
        let mut out = EvidenceFrom::default();
        for key in evidence.keys() {
            match basis_of(key) {
                Basis::Running => out.running_system.push(key.clone()),
                Basis::Files => out.files.push(key.clone()),
                Basis::Subject => {}
            }
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.running_system.is_empty() && self.files.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every evidence key a check writes as a literal has a half: a new
    /// key must be placed in the table, or `--json` could not say where its
    /// evidence came from.
    #[test]
    fn every_evidence_key_in_the_source_has_a_half() {
        let mut unplaced = Vec::new();
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut stack = vec![src];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                if path.extension().and_then(|e| e.to_str()) != Some("rs")
                    || path.ends_with("basis.rs")
                {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                for piece in text.split(".evidence(").skip(1) {
                    let piece = piece.trim_start();
                    let Some(rest) = piece.strip_prefix('"') else {
                        continue;
                    };
                    let key: String = rest.chars().take_while(|c| *c != '"').collect();
                    let placed = [RUNNING, FILES, SUBJECT]
                        .iter()
                        .any(|t| t.contains(&key.as_str()));
                    if !placed {
                        unplaced.push(format!("{key} ({})", path.display()));
                    }
                }
            }
        }
        assert!(
            unplaced.is_empty(),
            "evidence keys with no half: {unplaced:?}"
        );
    }

    #[test]
    fn no_key_is_in_two_halves() {
        for k in RUNNING {
            assert!(!FILES.contains(k) && !SUBJECT.contains(k), "{k}");
        }
        for k in FILES {
            assert!(!SUBJECT.contains(k), "{k}");
        }
    }

    #[test]
    fn a_finding_lists_its_keys_by_half() {
        let mut m = Map::new();
        m.insert("port".into(), 8000.into());
        m.insert("process".into(), Value::Null);
        m.insert("source".into(), "frontend/.env:1".into());
        let from = EvidenceFrom::of(&m);
        assert_eq!(from.running_system, vec!["process"]);
        assert_eq!(from.files, vec!["source"]);
    }
}
