//! The report: what every printer prints. Built once from the check runs,
//! redacted once (`Report::redacted`), then handed to a printer.

use serde::Serialize;
use serde_json::Value;

use crate::engine::{CheckRun, Outcome};
use crate::finding::{Finding, Severity};
use crate::project::{Service, Unreadable};
use crate::redact;

pub mod json;
pub mod summary;
pub mod table;

pub const SCHEMA: &str = "doctor/v1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProjectView {
    /// `~/code/shop`
    pub root: String,
    pub services: Vec<Service>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<Unreadable>,
    /// How long reading the project took.
    pub discovery_ms: f64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub errors: usize,
    pub warnings: usize,
    pub infos: usize,
    /// Findings that nothing else explains; the rest are their consequences.
    pub causes: usize,
}

/// One socket for `doctor port`: every state, with owners.
#[derive(Debug, Clone, Serialize)]
pub struct SocketView {
    pub local: String,
    pub remote: String,
    pub state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accept_queue: Option<u32>,
    /// `visible`, `hidden` (another user's) or `none` (TIME_WAIT and friends).
    pub owner: &'static str,
    pub processes: Vec<Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PortView {
    pub port: u16,
    /// Listeners first, then the rest, up to a cap unless `--all`.
    pub sockets: Vec<SocketView>,
    /// Every socket on the port counted by state, capped or not.
    pub counts: std::collections::BTreeMap<&'static str, usize>,
    /// How many sockets the port has in all (`sockets` may hold fewer).
    pub total: usize,
    /// Every socket that is not a listener, grouped by state and owner.
    pub groups: Vec<SocketGroup>,
}

/// `TIME_WAIT ×46, no process`: sockets of one state and one owner.
#[derive(Debug, Clone, Serialize)]
pub struct SocketGroup {
    pub state: &'static str,
    /// `visible`, `hidden` or `none`, as for a socket.
    pub owner: &'static str,
    pub count: usize,
    pub processes: Vec<Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub doctor_version: &'static str,
    pub status: Status,
    pub project: ProjectView,
    pub checks: Vec<CheckRun>,
    /// Only for `doctor port`: every socket on the ports asked about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ports: Option<Vec<PortView>>,
    pub findings: Vec<Finding>,
    pub summary: Summary,
    /// Every probe's measurements (health, CORS, database), passing or not.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub probes: Vec<Value>,
}

impl Report {
    pub fn new(
        project: ProjectView,
        mut checks: Vec<CheckRun>,
        ports: Option<Vec<PortView>>,
    ) -> Report {
        let mut findings: Vec<Finding> = checks
            .iter_mut()
            .flat_map(|c| std::mem::take(&mut c.findings))
            .collect();
        findings.sort_by(|a, b| (a.severity, a.code).cmp(&(b.severity, b.code)));
        let mut report = Report {
            schema: SCHEMA,
            doctor_version: env!("CARGO_PKG_VERSION"),
            status: Status::Ok,
            project,
            checks,
            ports,
            findings,
            summary: Summary::default(),
            probes: Vec::new(),
        };
        report.summarize();
        report
    }

    /// Counts and status, after correlation: the status (and the exit code)
    /// is decided by the causes; consequences are counted, not judged twice.
    pub fn summarize(&mut self) {
        let count = |s: Severity| self.findings.iter().filter(|f| f.severity == s).count();
        self.summary = Summary {
            errors: count(Severity::Error),
            warnings: count(Severity::Warning),
            infos: count(Severity::Info),
            causes: self
                .findings
                .iter()
                .filter(|f| f.caused_by.is_none())
                .count(),
        };
        let worst = self
            .findings
            .iter()
            .filter(|f| f.caused_by.is_none())
            .map(|f| f.severity)
            .min();
        self.status = match worst {
            Some(Severity::Error) => Status::Fail,
            Some(Severity::Warning) => Status::Warn,
            _ => Status::Ok,
        };
    }

    /// Checks that could not give an answer: never to be read as "all good".
    pub fn incomplete_checks(&self) -> impl Iterator<Item = &CheckRun> {
        self.checks
            .iter()
            .filter(|c| matches!(c.outcome, Outcome::TimedOut | Outcome::Crashed))
    }

    /// The report with every secret masked. Printers only ever get this.
    pub fn redacted(mut self) -> Report {
        for f in &mut self.findings {
            f.title = redact::text(&f.title);
            f.explanation = redact::text(&f.explanation);
            f.evidence.values_mut().for_each(redact::value);
            if let Some(fix) = &mut f.fix {
                fix.title = redact::text(&fix.title);
                fix.commands.iter_mut().for_each(|c| *c = redact::text(c));
            }
        }
        for s in &mut self.project.services {
            let intent = &mut s.intent;
            for field in [
                &mut intent.url,
                &mut intent.start,
                &mut intent.health,
                &mut intent.origin,
            ] {
                *field = field.as_deref().map(redact::text);
            }
            for f in &mut intent.sources {
                f.value = redact::text(&f.value);
            }
            for r in &mut s.running {
                r.command = redact::text(&r.command);
            }
        }
        for u in &mut self.project.unreadable {
            u.error = redact::text(&u.error);
        }
        for c in &mut self.checks {
            c.reason = c.reason.as_deref().map(redact::text);
        }
        self.probes.iter_mut().for_each(redact::value);
        for p in self.ports.iter_mut().flatten() {
            for s in &mut p.sockets {
                s.processes.iter_mut().for_each(redact::value);
            }
        }
        self
    }
}
