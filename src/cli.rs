//! Command-line parsing. clap's types end here: the rest of doctor sees `Config`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

use crate::config::{parse_duration, ColorChoice, Command, Config, Format};

#[derive(Parser, Debug)]
#[command(
    name = "doctor",
    version,
    about = "Why does my local stack say \"connection refused\"? Findings with evidence, and fixes with your consent.",
    after_help = "Examples:
  doctor                      why does my stack refuse me? (the current folder)
  doctor --dir ~/code/shop -v every finding with its evidence and explanation
  doctor port 8000 5173       every socket on those ports and who holds it
  doctor --fix                offer each fix: shown, asked, applied, re-checked
  doctor --json > report.json the same report for a bug report (no secrets in it)
  doctor --wait 30s           wait until every service is ready, then report
  doctor explain PORT002      what a finding code means

doctor imports the backend's entry module (in a child process) when the service is down,
to name the exception that stops it; --no-exec runs nothing of the project.

Exit codes: 0 no error findings, 1 at least one error finding (or a warning with --strict), 2 doctor could not run.
JSON: schema doctor/v1, described in docs/json-schema.json."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Sub>,

    /// Print the report as one JSON document (schema doctor/v1)
    #[arg(long, global = true)]
    json: bool,
    /// The project folder
    #[arg(long, global = true, value_name = "PATH", default_value = ".")]
    dir: PathBuf,
    /// An extra port to examine (repeatable)
    #[arg(long = "port", global = true, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    ports: Vec<u16>,
    /// An extra service URL to check (repeatable)
    #[arg(long = "url", global = true, value_name = "URL")]
    urls: Vec<String>,
    /// The frontend origin for CORS checks (repeatable)
    #[arg(long = "origin", global = true, value_name = "URL")]
    origins: Vec<String>,
    /// Time limit of each probe (2s, 500ms)
    #[arg(long, global = true, value_name = "DURATION", default_value = "2s", value_parser = parse_duration)]
    timeout: Duration,
    /// Run only these checks (comma-separated ids, see `doctor checks`)
    #[arg(long, global = true, value_delimiter = ',', value_name = "CHECK,...")]
    only: Vec<String>,
    /// Skip these checks
    #[arg(long, global = true, value_delimiter = ',', value_name = "CHECK,...")]
    skip: Vec<String>,
    /// Warnings fail too (exit 1)
    #[arg(long, global = true)]
    strict: bool,
    /// Run nothing of the project: no import of the backend's entry module
    /// (PY003), no doctor.toml `command` checks; the report says what was skipped
    #[arg(long, global = true)]
    no_exec: bool,
    /// When to use colour (auto honours NO_COLOR and a non-terminal stdout)
    #[arg(long, global = true, value_enum, default_value_t = ColorArg::Auto)]
    color: ColorArg,
    /// Also show passing checks, timings and the discovered services
    #[arg(short, long, global = true)]
    verbose: bool,
    /// After the report, offer each available fix
    #[arg(long, global = true, help_heading = "Fix options")]
    fix: bool,
    /// With --fix: apply safe and confirm fixes without asking
    #[arg(long, global = true, help_heading = "Fix options")]
    yes: bool,
    /// With --fix: print the plan, change nothing
    #[arg(long, global = true, help_heading = "Fix options")]
    dry_run: bool,
    /// With --fix: how long a process gets after SIGTERM before SIGKILL
    #[arg(long, global = true, value_name = "DURATION", default_value = "3s", value_parser = parse_duration, help_heading = "Fix options")]
    grace: Duration,
    /// With --fix: also end other users' processes
    #[arg(long, global = true, help_heading = "Fix options")]
    force: bool,
    /// Time to first byte above which a health endpoint counts as slow
    #[arg(long, global = true, value_name = "DURATION", default_value = "1s", value_parser = parse_duration)]
    slow: Duration,
    /// Poll until every service is healthy or DURATION passes
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    wait: Option<Duration>,
}

#[derive(Subcommand, Debug)]
enum Sub {
    /// Every socket on these ports in every TCP state, its owner, and the findings
    Port {
        #[arg(required = true, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
        ports: Vec<u16>,
        /// Every socket, one by one (by default: listeners, then one line per
        /// state and owner with a count; JSON keeps the first 100 of each port)
        #[arg(long)]
        all: bool,
    },
    /// The long explanation of a finding code
    Explain {
        #[arg(value_name = "CODE", required_unless_present = "all")]
        code: Option<String>,
        /// Every code
        #[arg(long, conflicts_with = "code")]
        all: bool,
    },
    /// The checks and the codes each can emit
    Checks,
    /// A shell completion script (bash, zsh, fish, powershell, elvish)
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// The manual page (roff), e.g. `doctor man > doctor.1`
    Man,
}

/// What `doctor completions SHELL` and `doctor man` print: generated here,
/// where clap's description of the command line lives.
fn generated(sub: &Sub) -> Option<String> {
    let mut out = Vec::new();
    match sub {
        Sub::Completions { shell } => {
            clap_complete::generate(*shell, &mut Cli::command(), "doctor", &mut out)
        }
        Sub::Man => clap_mangen::Man::new(Cli::command())
            .render(&mut out)
            .ok()?,
        _ => return None,
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ColorArg {
    Auto,
    Always,
    Never,
}

/// Parse the process's arguments; on a usage error clap prints it and exits 2.
pub fn parse() -> Config {
    into_config(Cli::parse()).unwrap_or_else(|e| e.exit())
}

/// For tests and embedding: parse these arguments (the first is the program name).
pub fn try_parse_from<I, T>(args: I) -> Result<Config, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    Cli::try_parse_from(args).and_then(into_config)
}

fn into_config(cli: Cli) -> Result<Config, clap::Error> {
    if !cli.fix && (cli.yes || cli.dry_run || cli.force) {
        return Err(Cli::command().error(
            clap::error::ErrorKind::MissingRequiredArgument,
            "--yes, --dry-run and --force go with --fix",
        ));
    }
    let printed = cli.command.as_ref().and_then(generated);
    let all_sockets = matches!(cli.command, Some(Sub::Port { all: true, .. }));
    Ok(Config {
        command: match cli.command {
            _ if printed.is_some() => Command::Print(printed.unwrap_or_default()),
            None => Command::Report,
            Some(Sub::Port { ports, .. }) => Command::Port(ports),
            Some(Sub::Explain { code, all }) => Command::Explain(if all { None } else { code }),
            Some(Sub::Checks) => Command::Checks,
            Some(Sub::Completions { .. } | Sub::Man) => Command::Print(String::new()),
        },
        all_sockets,
        dir: cli.dir,
        ports: cli.ports,
        urls: cli.urls,
        origins: cli.origins,
        timeout: cli.timeout,
        only: cli.only,
        skip: cli.skip,
        strict: cli.strict,
        no_exec: cli.no_exec,
        color: match cli.color {
            ColorArg::Auto => ColorChoice::Auto,
            ColorArg::Always => ColorChoice::Always,
            ColorArg::Never => ColorChoice::Never,
        },
        verbose: cli.verbose,
        format: if cli.json {
            Format::Json
        } else {
            Format::Table
        },
        fix: cli.fix,
        yes: cli.yes,
        dry_run: cli.dry_run,
        wait: cli.wait,
        grace: cli.grace,
        force: cli.force,
        slow: cli.slow,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_reach_config() {
        let c = try_parse_from([
            "doctor",
            "--json",
            "--port",
            "8000",
            "--port",
            "5173",
            "--only",
            "ports,processes",
            "--timeout",
            "500ms",
        ])
        .unwrap();
        assert_eq!(c.ports, [8000, 5173]);
        assert_eq!(c.only, ["ports", "processes"]);
        assert_eq!(c.format, Format::Json);
        assert_eq!(c.timeout, Duration::from_millis(500));
        let c = try_parse_from(["doctor", "port", "8000", "8001"]).unwrap();
        assert_eq!(c.command, Command::Port(vec![8000, 8001]));
        let c = try_parse_from(["doctor", "explain", "--all"]).unwrap();
        assert_eq!(c.command, Command::Explain(None));
    }

    #[test]
    fn bad_ports_are_usage_errors() {
        for bad in ["0", "65536", "-1", "http"] {
            assert!(try_parse_from(["doctor", "port", bad]).is_err(), "{bad}");
        }
        assert!(try_parse_from(["doctor", "--yes"]).is_err());
    }
}
