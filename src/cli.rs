//! Command-line parsing. clap's types end here: the rest of doctor sees `Config`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

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
    #[command(flatten)]
    report: ReportArgs,
    #[command(flatten)]
    diagnose: DiagnoseArgs,
    /// Poll until every service is healthy or DURATION passes
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    wait: Option<Duration>,
}

/// How a report is printed: the report and `doctor port`.
#[derive(Args, Debug, Default)]
struct ReportArgs {
    /// Print the report as one JSON document (schema doctor/v1)
    #[arg(long)]
    json: bool,
    /// The project folder [default: .]
    #[arg(long, value_name = "PATH")]
    dir: Option<PathBuf>,
    /// When to use colour (auto honours NO_COLOR and a non-terminal stdout) [default: auto]
    #[arg(long, value_enum)]
    color: Option<ColorArg>,
    /// Also show passing checks, timings, explanations and the discovered services
    #[arg(short, long)]
    verbose: bool,
}

/// What a diagnosis looks at and how: the report and `doctor port`. Given
/// before a subcommand or after it; not offered where it does nothing.
#[derive(Args, Debug, Default)]
struct DiagnoseArgs {
    /// An extra port to examine (repeatable)
    #[arg(long = "port", value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    ports: Vec<u16>,
    /// An extra service URL to check (repeatable)
    #[arg(long = "url", value_name = "URL")]
    urls: Vec<String>,
    /// The frontend origin for CORS checks (repeatable)
    #[arg(long = "origin", value_name = "URL")]
    origins: Vec<String>,
    /// Time limit of each probe (2s, 500ms) [default: 2s]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    timeout: Option<Duration>,
    /// Run only these checks (comma-separated ids, see `doctor checks`)
    #[arg(long, value_delimiter = ',', value_name = "CHECK,...")]
    only: Vec<String>,
    /// Skip these checks
    #[arg(long, value_delimiter = ',', value_name = "CHECK,...")]
    skip: Vec<String>,
    /// Warnings fail too (exit 1)
    #[arg(long)]
    strict: bool,
    /// Run nothing of the project: no import of the backend's entry module
    /// (PY003), no doctor.toml `command` checks; the report says what was skipped
    #[arg(long)]
    no_exec: bool,
    /// Time to first byte above which a health endpoint counts as slow [default: 1s]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    slow: Option<Duration>,
    /// After the report, offer each available fix
    #[arg(long, help_heading = "Fix options")]
    fix: bool,
    /// With --fix: apply safe and confirm fixes without asking
    #[arg(long, help_heading = "Fix options")]
    yes: bool,
    /// With --fix: print the plan, change nothing
    #[arg(long, help_heading = "Fix options")]
    dry_run: bool,
    /// With --fix: how long a process gets after SIGTERM before SIGKILL [default: 3s]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, help_heading = "Fix options")]
    grace: Option<Duration>,
    /// With --fix: also end other users' processes
    #[arg(long, help_heading = "Fix options")]
    force: bool,
}

impl ReportArgs {
    /// What the subcommand says wins; what is given only before it holds.
    fn merge(self, sub: ReportArgs) -> ReportArgs {
        ReportArgs {
            json: self.json || sub.json,
            dir: sub.dir.or(self.dir),
            color: sub.color.or(self.color),
            verbose: self.verbose || sub.verbose,
        }
    }
}

impl DiagnoseArgs {
    fn merge(mut self, sub: DiagnoseArgs) -> DiagnoseArgs {
        self.ports.extend(sub.ports);
        self.urls.extend(sub.urls);
        self.origins.extend(sub.origins);
        self.only.extend(sub.only);
        self.skip.extend(sub.skip);
        DiagnoseArgs {
            timeout: sub.timeout.or(self.timeout),
            slow: sub.slow.or(self.slow),
            grace: sub.grace.or(self.grace),
            strict: self.strict || sub.strict,
            no_exec: self.no_exec || sub.no_exec,
            fix: self.fix || sub.fix,
            yes: self.yes || sub.yes,
            dry_run: self.dry_run || sub.dry_run,
            force: self.force || sub.force,
            ..self
        }
    }
}

// Parsed once per run: the size of the `port` variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
enum Sub {
    /// Every socket on these ports in every TCP state, its owner, and the findings
    Port {
        #[arg(required = true, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
        asked: Vec<u16>,
        #[command(flatten)]
        report: ReportArgs,
        #[command(flatten)]
        diagnose: DiagnoseArgs,
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
    Checks {
        /// As JSON
        #[arg(long)]
        json: bool,
    },
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
fn completions(shell: clap_complete::Shell) -> String {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "doctor", &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn man_page() -> String {
    let mut out = Vec::new();
    // Rendering into memory cannot fail for want of room.
    let _ = clap_mangen::Man::new(Cli::command()).render(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[derive(Clone, Copy, Debug, ValueEnum, Default)]
enum ColorArg {
    #[default]
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
    let Cli {
        command,
        report,
        diagnose,
        wait,
    } = cli;
    let mut checks_json = false;
    let mut all_sockets = false;
    let (command, report, d) = match command {
        None => (Command::Report, report, diagnose),
        Some(Sub::Port {
            asked: ports,
            report: r,
            diagnose: sub,
            all,
        }) => {
            all_sockets = all;
            (Command::Port(ports), report.merge(r), diagnose.merge(sub))
        }
        Some(Sub::Explain { code, all }) => (
            Command::Explain(if all { None } else { code }),
            report,
            diagnose,
        ),
        Some(Sub::Checks { json }) => {
            checks_json = json;
            (Command::Checks, report, diagnose)
        }
        Some(Sub::Completions { shell }) => (Command::Print(completions(shell)), report, diagnose),
        Some(Sub::Man) => (Command::Print(man_page()), report, diagnose),
    };
    if !d.fix && (d.yes || d.dry_run || d.force) {
        return Err(Cli::command().error(
            clap::error::ErrorKind::MissingRequiredArgument,
            "--yes, --dry-run and --force go with --fix",
        ));
    }
    let defaults = Config::default();
    Ok(Config {
        command,
        all_sockets,
        dir: report.dir.unwrap_or(defaults.dir),
        ports: d.ports,
        urls: d.urls,
        origins: d.origins,
        timeout: d.timeout.unwrap_or(defaults.timeout),
        only: d.only,
        skip: d.skip,
        strict: d.strict,
        no_exec: d.no_exec,
        color: match report.color.unwrap_or(ColorArg::Auto) {
            ColorArg::Auto => ColorChoice::Auto,
            ColorArg::Always => ColorChoice::Always,
            ColorArg::Never => ColorChoice::Never,
        },
        verbose: report.verbose,
        format: if report.json || checks_json {
            Format::Json
        } else {
            Format::Table
        },
        fix: d.fix,
        yes: d.yes,
        dry_run: d.dry_run,
        wait,
        grace: d.grace.unwrap_or(defaults.grace),
        force: d.force,
        slow: d.slow.unwrap_or(defaults.slow),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn options_before_and_after_a_subcommand() {
        let c = try_parse_from(["doctor", "--timeout", "1s", "port", "80", "--json"]).unwrap();
        assert_eq!(
            (c.timeout, c.format),
            (Duration::from_secs(1), Format::Json)
        );
        // Options that do nothing there are not offered.
        assert!(try_parse_from(["doctor", "explain", "PORT001", "--fix"]).is_err());
        assert!(try_parse_from(["doctor", "checks", "--dir", "x"]).is_err());
        assert!(try_parse_from(["doctor", "checks", "--json"]).is_ok());
    }

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
