//! Where doctor's words go: stdout for reports, stderr for notes and the
//! live line; the printers chosen by `--json`, the table's style by the
//! terminal, `--color` and `NO_COLOR`.

use std::io::{IsTerminal, Write};

use crate::config::{ColorChoice, Config, Format};
use crate::redact;
use crate::report::{self, Report};
use crate::Exit;

/// Write text for people to stdout; a closed pipe (`doctor | head -1`) is
/// not an error. On a console without Unicode the typography doctor adds
/// (an ellipsis where a title is cut, dashes, arrows) is spelled in ASCII.
pub fn emit(text: &str) {
    if utf8_terminal() {
        emit_raw(text)
    } else {
        emit_raw(&console_ascii(text))
    }
}

/// Write text as it is: JSON, completions and man pages are UTF-8 files,
/// whatever the console shows.
pub fn emit_raw(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
}

/// The ASCII spelling of the typographic characters doctor's own words
/// use; anything else (a path in the user's language) is left as it is.
pub fn console_ascii(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '…' => out.push_str("..."),
            '↳' | '→' => out.push_str("->"),
            '←' => out.push_str("<-"),
            '×' => out.push('x'),
            '·' | '—' | '–' => out.push('-'),
            '‘' | '’' => out.push('\''),
            '“' | '”' => out.push('"'),
            '≥' => out.push_str(">="),
            '≤' => out.push_str("<="),
            '✔' | '✓' => out.push_str("ok"),
            '✗' | '✘' => out.push('x'),
            _ => out.push(c),
        }
    }
    out
}

/// Replace the live progress line on stderr (a terminal) with `text`.
pub fn redraw(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "\r\x1b[2K{text}").and_then(|_| err.flush());
}

/// Write a line to stderr; a closed stderr is not worth a panic.
pub fn note(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{text}");
}

pub fn fail(message: &str) -> Exit {
    note(&format!("doctor: {}", redact::text(message)));
    Exit::Failure
}

pub fn print_report(report: &Report, config: &Config) {
    match config.format {
        Format::Json => emit_raw(&report::json::render(report)),
        // The answer first; `-v` is the full table with every explanation.
        Format::Table if config.verbose => {
            emit(&report::table::render(report, &table_style(config)))
        }
        Format::Table => emit(&report::summary::render(report, &table_style(config))),
    }
}

pub fn table_style(config: &Config) -> report::table::Style {
    let stdout = std::io::stdout();
    let terminal = stdout.is_terminal();
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
    let color = match config.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => terminal && !no_color && !dumb,
    };
    let width = if terminal {
        comfy_table::Table::new().width().unwrap_or(100)
    } else {
        std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(100)
    };
    report::table::Style {
        color,
        unicode: utf8_terminal(),
        width: width.max(40),
        verbose: config.verbose,
        all_sockets: config.all_sockets || config.verbose,
    }
}

/// Whether the terminal shows UTF-8: the seeds show emoji as mojibake on a
/// Windows console, so doctor falls back to ASCII unless it is sure.
fn utf8_terminal() -> bool {
    if cfg!(windows) {
        return std::env::var_os("WT_SESSION").is_some()
            || std::env::var("TERM_PROGRAM").is_ok_and(|t| t == "vscode");
    }
    ["LC_ALL", "LC_CTYPE", "LANG"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .find(|v| !v.is_empty())
        .is_some_and(|v| {
            let v = v.to_ascii_lowercase();
            v.contains("utf-8") || v.contains("utf8")
        })
}

#[cfg(test)]
mod tests {
    use super::console_ascii;

    #[test]
    fn typography_is_spelled_in_ascii_and_other_text_kept() {
        assert_eq!(
            console_ascii("refused at localhos… ↳ PORT001 · 2 × — ok"),
            "refused at localhos... -> PORT001 - 2 x - ok"
        );
        assert_eq!(console_ascii("C:/Users/Jürgen/app"), "C:/Users/Jürgen/app");
    }
}
