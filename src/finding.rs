//! What a check reports: a finding with a stable code, its evidence and an optional fix.

use serde::Serialize;
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    // Declaration order is the report order: errors first.
    Error,
    Warning,
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// How much a fix can cost the user if it goes wrong (CONTRACT.md, "A fix").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Safety {
    /// Cannot lose work.
    Safe,
    /// Changes running state or existing files: asks unless `--yes`.
    Confirm,
    /// doctor prints the steps and does not run them.
    Manual,
}

/// What doctor itself would do to apply a fix. Kept apart from `commands`
/// (which are for the human) so that nothing is ever run by parsing text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FixAction {
    /// End this process (and its children) after re-checking its identity.
    Terminate {
        pid: u32,
        start_time: u64,
        cmdline: String,
    },
    /// Copy `from` to `to`; refuses when `to` exists.
    CopyFile {
        from: std::path::PathBuf,
        to: std::path::PathBuf,
    },
    /// Remove a file (only ever a PID file whose process is gone).
    RemoveFile { path: std::path::PathBuf },
    /// Send SIGCONT to a stopped process.
    Continue { pid: u32, start_time: u64 },
    /// Run a program (pip install, npm install), its output streamed.
    Run {
        program: std::path::PathBuf,
        args: Vec<String>,
        cwd: std::path::PathBuf,
    },
    /// Append `KEY=` lines to an env file, after a backup copy.
    AppendKeys {
        path: std::path::PathBuf,
        keys: Vec<String>,
    },
    /// Start a service with the project's own start command, detached from
    /// doctor's terminal, its output in `.doctor/logs/NAME.log`; done when
    /// `port` accepts connections.
    Start {
        /// The command as run from `cwd` (`npm run dev`, `uvicorn app.main:app --port 8000`).
        command: String,
        cwd: std::path::PathBuf,
        /// A virtual environment's `bin` to put first on PATH.
        path_first: Option<std::path::PathBuf>,
        /// The service's name: the log file's.
        name: String,
        port: u16,
    },
    /// End this process (as `Terminate`), then run its own command line
    /// again, detached, in its folder and with its environment: a server
    /// that serves old code comes back as the user started it (`--reload`
    /// and exported variables kept).
    Restart {
        pid: u32,
        start_time: u64,
        cmdline: String,
        argv: Vec<String>,
        cwd: std::path::PathBuf,
        name: String,
        port: u16,
    },
    /// Set a watched file's modification time to now (its content is not
    /// touched): a watcher that waits for a change (`nodemon` after its
    /// app crashed) runs the app again. Only while `watcher` is the same
    /// process; then wait until `port` listens.
    Touch {
        path: std::path::PathBuf,
        watcher: u32,
        watcher_start: u64,
        port: u16,
    },
    /// Replace `from` with `to` on one line (1-based) of a file, after a backup copy.
    EditLine {
        path: std::path::PathBuf,
        line: usize,
        from: String,
        to: String,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct Fix {
    pub title: String,
    pub safety: Safety,
    /// What would be run, exactly as shown to the user before anything happens.
    pub commands: Vec<String>,
    #[serde(skip)]
    pub action: Option<FixAction>,
}

impl Fix {
    pub fn manual(title: impl Into<String>, commands: Vec<String>) -> Fix {
        Fix {
            title: title.into(),
            safety: Safety::Manual,
            commands,
            action: None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub code: &'static str,
    pub check: &'static str,
    pub severity: Severity,
    pub title: String,
    pub explanation: String,
    pub evidence: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<Fix>,
    /// The index (in the report's `findings`) of the finding that explains
    /// this one: a consequence, folded under its cause, never dropped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caused_by: Option<usize>,
    /// Which evidence keys were read off the running system and which from
    /// the project's files (`basis.rs`); set when the report is built.
    #[serde(skip_serializing_if = "crate::basis::EvidenceFrom::is_empty")]
    pub evidence_from: crate::basis::EvidenceFrom,
}

impl Finding {
    /// A finding whose severity and default explanation come from the code's
    /// registry entry, so the two can never disagree.
    pub fn new(code: &'static str, check: &'static str, title: impl Into<String>) -> Finding {
        let doc = crate::codes::lookup(code)
            .unwrap_or_else(|| panic!("finding code {code} is not registered in codes.rs"));
        Finding {
            code,
            check,
            severity: doc.severity,
            title: title.into(),
            explanation: doc.summary().to_string(),
            evidence: Map::new(),
            fix: None,
            caused_by: None,
            evidence_from: Default::default(),
        }
    }

    pub fn explain(mut self, text: impl Into<String>) -> Finding {
        self.explanation = text.into();
        self
    }

    pub fn evidence(mut self, key: &str, value: impl Into<Value>) -> Finding {
        self.evidence.insert(key.to_string(), value.into());
        self
    }

    /// Lower the code's severity when the evidence is weaker than the code
    /// assumes (a URL no code reads, an optional file): say less, never more.
    pub fn severity(mut self, severity: Severity) -> Finding {
        self.severity = self.severity.max(severity);
        self
    }

    /// The port the finding is about, when it names one.
    pub fn port(&self) -> Option<u16> {
        self.evidence
            .get("port")
            .and_then(serde_json::Value::as_u64)
            .and_then(|p| u16::try_from(p).ok())
    }

    /// The services it is about (`service`, or PORT001's `expected_by`).
    pub fn services(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self
            .evidence
            .get("service")
            .and_then(serde_json::Value::as_str)
            .into_iter()
            .collect();
        if let Some(list) = self.evidence.get("expected_by").and_then(|v| v.as_array()) {
            out.extend(list.iter().filter_map(|e| e["service"].as_str()));
        }
        out
    }

    pub fn with_fix(mut self, fix: Fix) -> Finding {
        self.fix = Some(fix);
        self
    }
}
