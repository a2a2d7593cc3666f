//! `doctor --fix`: after the report, each fixable finding in turn: show it,
//! ask (yes / no / quit), apply, re-check the check that produced it.

use std::io::{IsTerminal, Write};
use std::path::Path;

use crate::config::{Config, Format};
use crate::finding::{Finding, FixAction, Safety, Severity};
use crate::fix::{self, Limits};
use crate::report::Report;

#[derive(PartialEq, Eq)]
enum Mode {
    /// `--dry-run`: print the plan, change nothing.
    DryRun,
    /// `--yes`: apply safe and confirm fixes without asking.
    Yes,
    /// A terminal: ask for each fix.
    Ask,
    /// No terminal and no `--yes`: print the plan and how to apply it.
    PlanOnly,
}

enum Answer {
    Yes,
    No,
    Quit,
}

/// Where the fix dialogue goes: stdout for the table; stderr with `--json`,
/// and whenever doctor asks (stdout may be a file): the fix described and
/// the question about it are on the same terminal.
fn say(config: &Config, text: &str) {
    let text = crate::redact::text(text);
    let asking = config.fix
        && !config.yes
        && !config.dry_run
        && std::io::stdin().is_terminal()
        && std::io::stderr().is_terminal();
    if config.format == Format::Json || (asking && !std::io::stdout().is_terminal()) {
        crate::output::note(&text);
    } else {
        crate::output::emit(&format!("{text}\n"));
    }
}

/// Returns whether anything was applied (then the caller re-runs the report).
pub fn run(report: &Report, config: &Config, root: &Path) -> bool {
    let fixable: Vec<&Finding> = report.findings.iter().filter(|f| f.fix.is_some()).collect();
    if fixable.is_empty() {
        say(config, "\nNothing to fix: no finding has a fix.");
        return false;
    }
    let mode = if config.dry_run {
        Mode::DryRun
    } else if config.yes {
        Mode::Yes
    } else if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
        Mode::Ask
    } else {
        Mode::PlanOnly
    };
    let limits = Limits {
        grace: config.grace,
        force: config.force,
    };
    let heading = match mode {
        Mode::DryRun => "Fix plan (--dry-run: nothing will be changed)",
        Mode::PlanOnly => "Fix plan (no terminal to ask on: nothing will be changed)",
        _ => "Fixes",
    };
    say(config, &format!("\n{heading}:"));
    let mut applied = false;
    let mut all = false;
    for (n, finding) in fixable.iter().enumerate() {
        let Some(fix) = &finding.fix else { continue };
        if let Some(why) = fix.action.as_ref().and_then(|a| {
            user_named_target(finding, a, report, config)
                .or_else(|| replacement_cannot_run(finding, report, root, a))
        }) {
            say(
                config,
                &format!(
                    "\n[{}/{}] {}: not offered: {why}",
                    n + 1,
                    fixable.len(),
                    finding.code
                ),
            );
            continue;
        }
        let safety = match fix.safety {
            Safety::Safe => "safe",
            Safety::Confirm => "changes running state or files",
            Safety::Manual => "manual: doctor will not do this",
        };
        say(
            config,
            &format!(
                "\n[{}/{}] {}: {}\n    ({safety})",
                n + 1,
                fixable.len(),
                finding.code,
                fix.title
            ),
        );
        // Commands doctor would run get a prompt; a manual step is prose.
        let prompt = if fix.safety == Safety::Manual {
            "-"
        } else {
            "$"
        };
        for c in &fix.commands {
            say(config, &format!("    {prompt} {c}"));
        }
        if matches!(mode, Mode::DryRun | Mode::PlanOnly) {
            if let Some(then) = follow_up_start(report, root, fix.action.as_ref()) {
                say(config, &then);
            }
        }
        let Some(action) = &fix.action else {
            continue; // manual: the steps above are the fix
        };
        if fix.safety == Safety::Manual {
            continue;
        }

        // `--yes` acts on what the report says is wrong: the fixes of causes
        // at warning or error. An info finding is not conclusive and a
        // consequence goes with its cause; both are offered when asked.
        if mode == Mode::Yes && (finding.severity == Severity::Info || finding.caused_by.is_some())
        {
            let why = if finding.caused_by.is_some() {
                "a consequence: its cause's fix comes first"
            } else {
                "an info finding"
            };
            say(
                config,
                &format!("    not applied with --yes: {why} (run `doctor --fix` to be asked)"),
            );
            continue;
        }
        let go = match mode {
            Mode::DryRun | Mode::PlanOnly => Answer::No,
            Mode::Yes => Answer::Yes,
            Mode::Ask => ask(&mut all),
        };
        match go {
            Answer::Quit => {
                say(config, "    quit: no further fixes");
                break;
            }
            Answer::No => continue,
            Answer::Yes => {}
        }
        // The picture may have changed since the report (an earlier fix of
        // this run): the finding is diagnosed again before its fix acts.
        if let Err(why) = rejustify(config, root, finding, action) {
            say(config, &format!("    skipped: {why}"));
            continue;
        }
        match fix::apply(action, limits, root) {
            Ok(lines) => {
                applied = true;
                for l in lines {
                    say(config, &format!("    ok: {l}"));
                }
                say(
                    config,
                    &format!("    re-check: {}", recheck(config, root, finding)),
                );
            }
            Err(e) => say(config, &format!("    not applied: {e}")),
        }
        if crate::platform::interrupted() {
            say(config, "    interrupted: no further fixes");
            break;
        }
    }
    if matches!(mode, Mode::PlanOnly) {
        say(config, "\nTo apply: run `doctor --fix` in a terminal to be asked for each, or `doctor --fix --yes`.");
    }
    applied
}

/// The pid a Terminate ends and the expected service whose port it holds:
/// the one the start round of `--fix` starts once the port is free.
fn started_after<'a>(
    report: &'a Report,
    action: &FixAction,
) -> Option<(u32, &'a crate::project::Service)> {
    let FixAction::Terminate { pid, .. } = action else {
        return None;
    };
    let ports: Vec<u16> = crate::platform::listeners_of(&[*pid])
        .ok()?
        .iter()
        .map(|s| s.local.port())
        .collect();
    let service = report
        .project
        .services
        .iter()
        .find(|s| s.expected && s.kind.is_some() && ports.contains(&s.port))?;
    Some((*pid, service))
}

/// What the plan does after ending a port's holder, said ahead in a plan
/// that is only shown: when the port is then free, the service's own start
/// command is offered (the start round of `--fix`).
fn follow_up_start(report: &Report, root: &Path, action: Option<&FixAction>) -> Option<String> {
    let (_, service) = started_after(report, action?)?;
    let command = service.start_with_venv(root)?;
    let folder = crate::project::lexical(&service.start_folder(root));
    let shown = folder
        .strip_prefix(root)
        .ok()
        .map(|p| p.display().to_string())
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| ".".into());
    Some(format!(
        "    then, with port {} free: doctor offers to start {} (detached, its output in .doctor/logs/{}.log):\n    $ {}",
        service.port,
        service.name,
        service.name,
        crate::shell::inline(&crate::shell::in_folder(&shown, &command))
    ))
}

/// A holder that a started service would replace (the start round after
/// the end), when that start cannot run here: its program is not on the
/// PATH doctor would run it with (`uv run …` with no `uv`). Ending the
/// holder, stale but answering, would leave the port with nothing on it
/// (field ga x2, round 10). A stranger (PORT002) is ended all the same:
/// it is not the project's, and the user's own start needs the port.
fn replacement_cannot_run(
    finding: &Finding,
    report: &Report,
    root: &Path,
    action: &FixAction,
) -> Option<String> {
    if finding.code == "PORT002" {
        return None;
    }
    let (pid, service) = started_after(report, action)?;
    let command = service.start_with_venv(root)?;
    let folder = crate::project::lexical(&service.start_folder(root));
    let program = command
        .split_whitespace()
        .find(|w| !w.contains('=') || w.starts_with('-'))?;
    let found = if program.contains('/') || program.contains('\\') {
        folder.join(program).exists()
    } else {
        let mut dirs: Vec<std::path::PathBuf> = service.venv_bin(root).into_iter().collect();
        if let Some(path) = std::env::var_os("PATH") {
            dirs.extend(std::env::split_paths(&path));
        }
        dirs.iter().any(|d| {
            d.join(program).is_file()
                || (cfg!(windows)
                    && ["exe", "cmd", "bat"]
                        .iter()
                        .any(|x| d.join(format!("{program}.{x}")).is_file()))
        })
    };
    (!found).then(|| {
        format!(
            "pid {pid} is left running: the start that would replace it, `{}` (from {}), cannot run here ({program} is not on the PATH doctor runs with). Make `{program}` available (or start the service yourself), then end pid {pid}",
            crate::shell::inline(&crate::shell::in_folder(
                &service.start_in.clone().unwrap_or_else(|| ".".into()),
                &command
            )),
            service.source
        )
    })
}

/// `[y/N/a/q]`: no is the default (Enter), `a` applies this and every fix
/// after it, `q` (or end of input) stops. A plain line read: the terminal's
/// modes and cursor are never changed, so Ctrl-C leaves it as it was.
fn ask(all: &mut bool) -> Answer {
    if *all {
        return Answer::Yes;
    }
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "    apply this fix? [y/N/a/q] ");
    let _ = err.flush();
    drop(err);
    let mut line = String::new();
    match std::io::stdin().read_line(&mut line) {
        Ok(0) | Err(_) => Answer::Quit,
        Ok(_) => match line.trim().to_ascii_lowercase().as_str() {
            "y" | "yes" => Answer::Yes,
            "a" | "all" => {
                *all = true;
                Answer::Yes
            }
            "q" | "quit" => Answer::Quit,
            _ => Answer::No,
        },
    }
}

/// Ports the user named to be checked (`--url`, `--port`, `--origin`) and
/// that nothing of the project expects: their holders are never ended.
fn user_named_target(
    finding: &Finding,
    action: &FixAction,
    report: &Report,
    config: &Config,
) -> Option<String> {
    let (FixAction::Terminate { pid, .. } | FixAction::Restart { pid, .. }) = action else {
        return None;
    };
    let port = finding.port()?;
    let named = config
        .urls
        .iter()
        .chain(&config.origins)
        .filter_map(|u| crate::project::parse_url(u))
        .any(|u| u.port == port)
        || config.ports.contains(&port);
    let expected = report
        .project
        .services
        .iter()
        .any(|s| s.port == port && s.expected && s.source != "--url");
    (named && !expected)
        .then(|| format!("pid {pid} holds port {port}, which you named to be checked, not ended"))
}

/// The finding `finding` diagnosed again, now: `Err` says why its fix must
/// not run (the finding is gone, or the process to end serves the project
/// and answers).
fn rejustify(
    config: &Config,
    root: &Path,
    finding: &Finding,
    action: &FixAction,
) -> Result<(), String> {
    // A line to change is re-checked by the line itself: it still holds
    // what the fix replaces. (A diagnosis again is no test here: once one
    // of several URLs naming the wrong port is changed, the rest read as
    // a branch that never runs, and were skipped as "no longer found",
    // leaving the frontend split between two ports; field round 8.)
    if let FixAction::EditLine {
        path, line, from, ..
    } = action
    {
        let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
        let holds = text
            .lines()
            .nth(line.saturating_sub(1))
            .is_some_and(|l| l.contains(from.as_str()));
        return if holds {
            Ok(())
        } else {
            Err(format!("line {line} no longer holds {from}"))
        };
    }
    let ending = matches!(
        action,
        FixAction::Terminate { .. } | FixAction::Restart { .. }
    );
    let checks: Vec<&str> = if ending {
        vec![finding.check, "ports", "health"]
    } else {
        vec![finding.check]
    };
    let again = crate::pipeline::diagnose(config, root, Some(&checks))?;
    let same = |f: &&Finding| {
        f.code == finding.code && f.port() == finding.port() && target_pid(f) == target_pid(finding)
    };
    if !again.findings.iter().any(|f| same(&f)) {
        return Err(format!("{} is no longer found", finding.code));
    }
    // A stranger (PORT002), an orphan (PROC003), a server older than its
    // code (PROC004), a copy (PROC005), a ghost's heir (PORT011) or a
    // server whose folder is gone (PROC008): the
    // re-diagnosis above confirmed what the process is, and a stale or
    // foreign server answers too (a directory listing is a 200). Any other
    // finding that would end a server that answers is refused: it may be the
    // process the user is working with.
    let identity_established = matches!(
        finding.code,
        "PORT002" | "PROC003" | "PROC004" | "PROC005" | "PORT011" | "PROC008"
    );
    if let (true, false, Some(port)) = (ending, identity_established, finding.port()) {
        let expected = again
            .project
            .services
            .iter()
            .any(|s| s.port == port && s.expected);
        let answered = again.probes.iter().find(|p| {
            p["check"] == "health"
                && p["status"].as_u64().is_some_and(|s| s < 500)
                && p["url"]
                    .as_str()
                    .is_some_and(|u| u.contains(&format!(":{port}/")))
        });
        if let (true, Some(probe)) = (expected, answered) {
            return Err(format!(
                "the process serves the project on port {port} and answers ({} {}): it is not ended",
                probe["url"].as_str().unwrap_or_default(),
                probe["status"]
            ));
        }
    }
    Ok(())
}

/// The pid a fix would act on, when it acts on one.
fn target_pid(f: &Finding) -> Option<u32> {
    match f.fix.as_ref()?.action.as_ref()? {
        FixAction::Terminate { pid, .. }
        | FixAction::Continue { pid, .. }
        | FixAction::Restart { pid, .. } => Some(*pid),
        _ => None,
    }
}

/// Re-run the check that produced `finding` and say whether it is gone.
fn recheck(config: &Config, root: &Path, finding: &Finding) -> String {
    let again = match crate::pipeline::diagnose(config, root, Some(&[finding.check])) {
        Ok(r) => r,
        Err(e) => return format!("could not re-check: {e}"),
    };
    let still = again
        .findings
        .iter()
        .any(|f| f.code == finding.code && f.title == finding.title);
    if still {
        format!("{} is still reported", finding.code)
    } else {
        format!("{} is gone", finding.code)
    }
}
