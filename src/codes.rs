//! The finding codes of CONTRACT.md: the product's vocabulary. Each code's long
//! explanation is `checks/CODE.md`, compiled in (as rustc does for `--explain`).

use crate::finding::Severity;

pub struct CodeDoc {
    pub code: &'static str,
    pub severity: Severity,
    /// The check that emits it (the same id as in `doctor checks`).
    pub check: &'static str,
    /// The Markdown of `checks/CODE.md`.
    pub doc: &'static str,
}

impl CodeDoc {
    /// The heading's text after "CODE: ".
    pub fn title(&self) -> &'static str {
        let first = self.doc.lines().next().unwrap_or_default();
        first
            .trim_start_matches('#')
            .trim()
            .split_once(": ")
            .map(|(_, t)| t)
            .unwrap_or(first)
    }

    /// The first paragraph after the heading: why this breaks the stack.
    pub fn summary(&self) -> &'static str {
        self.doc
            .split("\n\n")
            .nth(1)
            .map(str::trim)
            .unwrap_or_default()
    }
}

macro_rules! code_table {
    ($(($code:literal, $sev:ident, $check:literal)),* $(,)?) => {
        pub static CODES: &[CodeDoc] = &[
            $(CodeDoc {
                code: $code,
                severity: Severity::$sev,
                check: $check,
                doc: include_str!(concat!("../checks/", $code, ".md")),
            }),*
        ];
    };
}

code_table![
    ("PORT001", Error, "ports"),
    ("PORT002", Error, "ports"),
    ("PORT003", Warning, "ports"),
    ("PORT004", Info, "ports"),
    ("PORT005", Warning, "ports"),
    ("PORT006", Warning, "ports"),
    ("PORT007", Warning, "ports"),
    ("PROC001", Error, "processes"),
    ("PROC002", Error, "processes"),
    ("PROC003", Warning, "processes"),
    ("PROC004", Warning, "processes"),
    ("PROC005", Warning, "processes"),
    ("PROC006", Warning, "processes"),
    ("PROC007", Error, "processes"),
    ("PY001", Error, "python"),
    ("PY002", Error, "python"),
    ("PY003", Error, "python"),
    ("PY004", Warning, "python"),
    ("PY005", Warning, "python"),
    ("NODE001", Error, "node"),
    ("NODE002", Error, "node"),
    ("NODE003", Error, "node"),
    ("NODE004", Warning, "node"),
    ("ENV001", Error, "env"),
    ("ENV002", Warning, "env"),
    ("ENV003", Warning, "env"),
    ("ENV004", Error, "env"),
    ("ENV005", Warning, "env"),
    ("ENV006", Warning, "env"),
    ("CORS001", Error, "cors"),
    ("CORS002", Error, "cors"),
    ("CORS003", Warning, "cors"),
    ("CORS004", Warning, "cors"),
    ("HEALTH001", Error, "health"),
    ("HEALTH002", Error, "health"),
    ("HEALTH003", Error, "health"),
    ("HEALTH004", Warning, "health"),
    ("HEALTH005", Warning, "health"),
    ("DB001", Error, "database"),
    ("DB002", Error, "database"),
    ("DB003", Warning, "database"),
    // Added after the first contract: codes only grow.
    ("USER001", Error, "user"),
    ("PORT008", Error, "containers"),
    ("PORT009", Error, "ports"),
    ("PORT010", Error, "ports"),
    ("PORT011", Error, "ghosts"),
    ("WSL001", Warning, "wsl"),
    ("WSL002", Error, "wsl"),
    ("HEALTH006", Error, "health"),
    ("PY006", Error, "python"),
    ("PROC008", Error, "processes"),
    ("HEALTH007", Error, "health"),
    ("PORT012", Warning, "exposure"),
    ("PORT013", Warning, "browser"),
    ("NODE005", Error, "nodestart"),
    ("NODE006", Error, "node"),
    ("NODE007", Error, "node"),
    ("PROC009", Warning, "processes"),
    ("NET001", Warning, "hosts"),
    ("NET002", Info, "hosted"),
    ("NET003", Warning, "compose"),
    ("PORT014", Warning, "compose"),
    ("PORT015", Error, "containers"),
    ("CORS005", Warning, "cors"),
    ("WSL003", Warning, "wsl"),
    ("CORS006", Warning, "cors"),
    ("NET004", Warning, "compose"),
    ("ENV007", Warning, "env"),
    ("DB004", Error, "database"),
];

/// Case-insensitive, so `doctor explain port001` works.
pub fn lookup(code: &str) -> Option<&'static CodeDoc> {
    CODES.iter().find(|c| c.code.eq_ignore_ascii_case(code))
}
