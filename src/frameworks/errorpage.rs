//! The exception a Python framework's debug page names. With its debugger
//! on (`flask run --debug`, `runserver` with `DEBUG = True`) a server that
//! fails answers 500 with a page that says why: Werkzeug's debugger puts
//! `Type: message // Werkzeug Debugger` in its `<title>` and the plain
//! traceback in an HTML comment; Django's technical 500 page has
//! `<title>Type at /path</title>`, the message in `<pre
//! class="exception_value">` and the "Exception Location". A status alone
//! (HEALTH003 "answers 500") hides that the page names an `ImportError` at
//! `scripts/info.py:2` (field gd fd P3 B) or Django's "The SECRET_KEY
//! setting must not be empty" (field gc fc P2 c5).

use std::path::Path;

/// What the page says failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageException {
    /// `ImportError`, `ImproperlyConfigured`.
    pub kind: String,
    /// The exception's message, as the page writes it (entities decoded).
    pub message: String,
    /// The deepest frame in the project's own files, relative to its root
    /// (`bunshi/scripts/info.py:2`), when the page names one.
    pub location: Option<String>,
    /// Which page said it: `Werkzeug debugger`, `Django technical 500`.
    pub page: &'static str,
}

/// The exception of a Werkzeug or Django debug page, if `body` is one.
pub fn exception(body: &str, root: &Path) -> Option<PageException> {
    werkzeug(body, root).or_else(|| django(body, root))
}

fn werkzeug(body: &str, root: &Path) -> Option<PageException> {
    let title = between(body, "<title>", "</title>")?;
    let title = title.trim().strip_suffix("// Werkzeug Debugger")?.trim();
    let (kind, message) = split_kind(&unescape(title))?;
    // The plain traceback Werkzeug leaves in a comment at the page's end,
    // else its HTML frames (`<cite class="filename">"…"</cite>, line <em
    // class="line">2</em>`).
    let mut frames = plain_frames(body);
    if frames.is_empty() {
        frames = body
            .split("<cite class=\"filename\">")
            .skip(1)
            .filter_map(|rest| {
                let file = unescape(rest.split("</cite>").next()?);
                let line = between(rest, "<em class=\"line\">", "</em>")?;
                Some((
                    file.trim_matches('"').to_string(),
                    line.trim().parse().ok()?,
                ))
            })
            .collect();
    }
    Some(PageException {
        kind,
        message,
        location: project_frame(&frames, root),
        page: "Werkzeug debugger",
    })
}

fn django(body: &str, root: &Path) -> Option<PageException> {
    let message = between(body, "<pre class=\"exception_value\">", "</pre>")?;
    let title = between(body, "<title>", "</title>")?;
    let title = title.split_whitespace().collect::<Vec<_>>().join(" ");
    let kind = title.split(" at ").next()?.trim().to_string();
    if kind.is_empty() || kind.contains(' ') {
        return None;
    }
    let mut frames = plain_frames(body);
    if frames.is_empty() {
        // The summary's "Exception Location:" row: `<span class="fname">PATH</span>, line N, in f`.
        if let Some(row) = body.split("Exception Location:").nth(1) {
            if let Some(file) = between(row, "<span class=\"fname\">", "</span>") {
                let after = row.split("</span>").nth(1).unwrap_or_default();
                let line = after
                    .trim_start_matches([',', ' '])
                    .strip_prefix("line ")
                    .and_then(|l| l.split(|c: char| !c.is_ascii_digit()).next())
                    .and_then(|n| n.parse().ok());
                if let Some(line) = line {
                    frames.push((unescape(file), line));
                }
            }
        }
    }
    Some(PageException {
        kind,
        message: unescape(message.trim()),
        location: project_frame(&frames, root),
        page: "Django technical 500",
    })
}

/// `Type: message` → (`Type`, `message`); a type is one dotted word.
fn split_kind(text: &str) -> Option<(String, String)> {
    let (kind, message) = text.split_once(": ").unwrap_or((text, ""));
    let kind = kind.rsplit('.').next().unwrap_or(kind);
    let word = !kind.is_empty()
        && kind.chars().all(|c| c.is_alphanumeric() || c == '_')
        && kind.chars().next().is_some_and(|c| c.is_ascii_uppercase());
    word.then(|| (kind.to_string(), message.trim().to_string()))
}

/// The frames of a plain traceback: `File "/path/x.py", line 2, in <module>`.
fn plain_frames(text: &str) -> Vec<(String, u64)> {
    let Some(start) = text.rfind("Traceback (most recent call last):") else {
        return Vec::new();
    };
    text[start..]
        .lines()
        .filter_map(|l| {
            let rest = unescape(l.trim()).strip_prefix("File \"")?.to_string();
            let (file, rest) = rest.split_once("\", line ")?;
            let line = rest
                .split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()?;
            Some((file.to_string(), line))
        })
        .collect()
}

/// The last frame in the project's own files (not a virtual environment's).
fn project_frame(frames: &[(String, u64)], root: &Path) -> Option<String> {
    frames.iter().rev().find_map(|(file, line)| {
        let rel = Path::new(file).strip_prefix(root).ok()?;
        let own = !rel.components().any(|c| {
            let c = c.as_os_str().to_string_lossy();
            c == "site-packages" || c == "dist-packages" || c == "node_modules"
        });
        own.then(|| format!("{}:{line}", rel.display()))
    })
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = text.find(open)? + open.len();
    let end = text[start..].find(close)? + start;
    Some(&text[start..end])
}

fn unescape(text: &str) -> String {
    text.replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn werkzeugs_debugger_page() {
        let root = Path::new("/srv/shop");
        let page = "<!doctype html>\n<html>\n  <head>\n    <title>ImportError: cannot import name &#x27;BeautifulSoupp&#x27; from &#x27;bs4&#x27; (/srv/shop/venv/lib/python3.11/site-packages/bs4/__init__.py) // Werkzeug Debugger</title>\n</head><body>…\n<!--\n\nTraceback (most recent call last):\n  File \"/srv/shop/venv/lib/python3.11/site-packages/flask/cli.py\", line 83, in find_best_app\n  File \"/srv/shop/bunshi/__init__.py\", line 4, in &lt;module&gt;\n    from .scripts import info\n  File \"/srv/shop/bunshi/scripts/info.py\", line 2, in &lt;module&gt;\n    from bs4 import BeautifulSoupp\nImportError: cannot import name 'BeautifulSoupp' from 'bs4'\n\n-->\n";
        let e = exception(page, root).unwrap();
        assert_eq!(e.kind, "ImportError");
        assert!(e
            .message
            .starts_with("cannot import name 'BeautifulSoupp' from 'bs4'"));
        assert_eq!(e.location.as_deref(), Some("bunshi/scripts/info.py:2"));
    }

    #[test]
    fn djangos_technical_500_page() {
        let root = Path::new("/srv/api");
        let page = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n  <title>ImproperlyConfigured\n          at /api/v1/health</title>\n<style>…</style></head><body>\n<div id=\"summary\">\n  <h1>ImproperlyConfigured\n       at /api/v1/health</h1>\n  <pre class=\"exception_value\">The SECRET_KEY setting must not be empty.</pre>\n<table class=\"meta\"><tr><th scope=\"row\">Exception Location:</th>\n      <td><span class=\"fname\">/srv/api/.venv/lib/python3.11/site-packages/django/conf/__init__.py</span>, line 97, in __getattr__</td></tr></table>";
        let e = exception(page, root).unwrap();
        assert_eq!(e.kind, "ImproperlyConfigured");
        assert_eq!(e.message, "The SECRET_KEY setting must not be empty.");
        assert_eq!(e.location, None, "a frame in the venv is not the project's");
    }

    /// Recorded from flask 3.1.2 `flask run --debug` (a view importing a
    /// module whose import fails), paths moved under /srv/shop.
    #[test]
    fn a_recorded_werkzeug_page() {
        let page = include_str!("../../fixtures/pages/werkzeug-3.1-debugger-500.html");
        let e = exception(page, Path::new("/srv/shop")).unwrap();
        assert_eq!(e.kind, "ImportError");
        assert!(
            e.message
                .starts_with("cannot import name 'pathh' from 'os'"),
            "{e:?}"
        );
        assert_eq!(e.location.as_deref(), Some("helpers.py:1"));
    }

    /// Recorded from Django 5.2.8 runserver (a view whose import fails),
    /// its request information and settings cut, paths under /srv/api.
    #[test]
    fn a_recorded_django_page() {
        let page = include_str!("../../fixtures/pages/django-5.2-technical-500.html");
        let e = exception(page, Path::new("/srv/api")).unwrap();
        assert_eq!(e.kind, "ImportError");
        assert!(
            e.message
                .starts_with("cannot import name 'pathh' from 'os'"),
            "{e:?}"
        );
        assert_eq!(e.location.as_deref(), Some("site1/urls.py:25"));
    }

    #[test]
    fn other_pages_name_no_exception() {
        let root = Path::new("/srv");
        assert_eq!(
            exception(
                "<html><title>500 Internal Server Error</title></html>",
                root
            ),
            None
        );
        assert_eq!(exception("Internal Server Error", root), None);
    }
}
