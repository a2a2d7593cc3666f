//! The plain settings every part of doctor reads. The CLI (clap) ends here.

use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// The whole report (`doctor`).
    Report,
    /// The focused report for these ports (`doctor port 8000`).
    Port(Vec<u16>),
    /// `doctor explain CODE`; `None` is `--all`.
    Explain(Option<String>),
    /// `doctor checks`
    Checks,
    /// Text made from the command line's own description (`doctor
    /// completions SHELL`, `doctor man`), printed as it is.
    Print(String),
}

#[derive(Debug, Clone)]
pub struct Config {
    pub command: Command,
    pub dir: PathBuf,
    pub ports: Vec<u16>,
    pub urls: Vec<String>,
    pub origins: Vec<String>,
    /// Per probe.
    pub timeout: Duration,
    pub only: Vec<String>,
    pub skip: Vec<String>,
    pub strict: bool,
    /// Run nothing of the project (`--no-exec`).
    pub no_exec: bool,
    /// `doctor port --all`: every socket, not grouped, not capped.
    pub all_sockets: bool,
    pub color: ColorChoice,
    pub verbose: bool,
    pub format: Format,
    pub fix: bool,
    pub yes: bool,
    pub dry_run: bool,
    pub wait: Option<Duration>,
    /// How long a process gets after SIGTERM before SIGKILL.
    pub grace: Duration,
    /// End other users' processes too.
    pub force: bool,
    /// Time to first byte above which a health endpoint is slow (HEALTH004).
    pub slow: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            command: Command::Report,
            dir: PathBuf::from("."),
            ports: Vec::new(),
            urls: Vec::new(),
            origins: Vec::new(),
            timeout: Duration::from_secs(2),
            only: Vec::new(),
            skip: Vec::new(),
            strict: false,
            no_exec: false,
            all_sockets: false,
            color: ColorChoice::Auto,
            verbose: false,
            format: Format::Table,
            fix: false,
            yes: false,
            dry_run: false,
            wait: None,
            grace: Duration::from_secs(3),
            force: false,
            slow: Duration::from_secs(1),
        }
    }
}

/// `2s`, `500ms`, `1.5s`, `1m`, or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (number, unit) = match t.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a duration (try 2s, 500ms, 1m)"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        _ => return Err(format!("'{text}': unknown unit '{unit}' (use ms, s or m)")),
    };
    if !seconds.is_finite() || seconds <= 0.0 || seconds > 3600.0 {
        return Err(format!(
            "'{text}' is out of range (more than 0, at most 1h)"
        ));
    }
    Ok(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("3h").is_err());
    }
}
