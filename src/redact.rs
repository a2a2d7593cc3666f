//! Secrets never leave: the one scrubber every output goes through (table,
//! JSON, fix plans, errors). Env *values* are never put into a report in the
//! first place; this catches what travels inside URLs and command lines.

use std::path::Path;

use serde_json::Value;

pub const MASK: &str = "***";

/// Words that make a flag or a variable name secret-looking.
const SECRET_WORDS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "apikey",
    "api_key",
    "api-key",
    "auth",
    "credential",
    "private",
];
/// Variable-name endings the contract names (`*_KEY`, `*_SECRET`, `*_TOKEN`).
const SECRET_SUFFIXES: &[&str] = &["_key", "_secret", "_token", "_pass"];
const SECRET_QUERY: &[&str] = &[
    "token",
    "access_token",
    "key",
    "api_key",
    "apikey",
    "secret",
    "password",
    "pass",
    "pwd",
    "sig",
    "signature",
    "auth",
];

fn is_secret_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SECRET_WORDS.iter().any(|w| lower.contains(w))
        || SECRET_SUFFIXES.iter().any(|s| lower.ends_with(s))
}

/// Scrub one piece of text: URL passwords, secret query values, secret flags'
/// arguments and `SECRET_NAME=value` assignments.
pub fn text(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    let mut mask_next = false;
    for piece in split_keep_space(input) {
        if piece.trim().is_empty() {
            out.push_str(piece);
            continue;
        }
        if mask_next {
            mask_next = false;
            out.push_str(MASK);
            continue;
        }
        out.push_str(&word(piece, &mut mask_next));
    }
    out
}

fn split_keep_space(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut in_space = None;
    for (i, c) in s.char_indices() {
        let space = c.is_whitespace();
        if in_space != Some(space) {
            if i > start {
                parts.push(&s[start..i]);
            }
            start = i;
            in_space = Some(space);
        }
    }
    if start < s.len() {
        parts.push(&s[start..]);
    }
    parts
}

fn word(w: &str, mask_next: &mut bool) -> String {
    // --password X, --token=X, -p is a port and left alone.
    if let Some(flag) = w
        .strip_prefix("--")
        .or_else(|| w.strip_prefix('-').filter(|f| f.len() > 1))
    {
        let (name, value) = match flag.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (flag, None),
        };
        if is_secret_name(name) {
            return match value {
                Some(_) => format!("{}={MASK}", &w[..w.len() - value.unwrap().len() - 1]),
                None => {
                    *mask_next = true;
                    w.to_string()
                }
            };
        }
    }
    // NAME=value with a secret-looking NAME.
    if let Some((name, _)) = w.split_once('=') {
        let bare = name.trim_start_matches(['"', '\'', '(', '[', '{']);
        if !bare.is_empty()
            && !bare.contains("://")
            && bare.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && is_secret_name(bare)
        {
            return format!("{name}={MASK}");
        }
    }
    url(w)
}

/// `scheme://user:SECRET@host` → `scheme://user:***@host`; `?token=X` → `?token=***`.
pub fn url(w: &str) -> String {
    let Some(scheme_end) = w.find("://") else {
        return w.to_string();
    };
    let rest_start = scheme_end + 3;
    let rest = &w[rest_start..];
    let auth_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let mut out = w[..rest_start].to_string();
    match rest[..auth_end].rfind('@') {
        Some(at) => {
            let userinfo = &rest[..at];
            match userinfo.split_once(':') {
                Some((user, _pass)) => out.push_str(&format!("{user}:{MASK}")),
                // A bare userinfo on http(s) is a token (https://TOKEN@host).
                None if w[..scheme_end].starts_with("http") => out.push_str(MASK),
                None => out.push_str(userinfo),
            }
            out.push_str(&rest[at..auth_end]);
        }
        None => out.push_str(&rest[..auth_end]),
    }
    let tail = &rest[auth_end..];
    match tail.split_once('?') {
        Some((path, query)) => {
            out.push_str(path);
            out.push('?');
            let (query, fragment) = query
                .split_once('#')
                .map_or((query, None), |(q, f)| (q, Some(f)));
            let pairs: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((k, _))
                        if SECRET_QUERY.contains(&k.to_ascii_lowercase().as_str())
                            || is_secret_name(k) =>
                    {
                        format!("{k}={MASK}")
                    }
                    _ => pair.to_string(),
                })
                .collect();
            out.push_str(&pairs.join("&"));
            if let Some(f) = fragment {
                out.push('#');
                out.push_str(f);
            }
        }
        None => out.push_str(tail),
    }
    out
}

/// Scrub every string inside a JSON value, in place.
pub fn value(v: &mut Value) {
    match v {
        Value::String(s) => *s = text(s),
        Value::Array(items) => items.iter_mut().for_each(value),
        Value::Object(map) => map.values_mut().for_each(value),
        _ => {}
    }
}

/// Paths under the home folder are written `~/…` (CONTRACT.md).
pub fn home(path: &Path) -> String {
    let shown = match crate::platform::home_dir() {
        Some(home) if home != Path::new("/") => match path.strip_prefix(&home) {
            Ok(rest) if rest.as_os_str().is_empty() => "~".to_string(),
            Ok(rest) => format!("~/{}", rest.display()),
            Err(_) => path.display().to_string(),
        },
        _ => path.display().to_string(),
    };
    shown.replace('\\', "/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_passwords_and_tokens() {
        assert_eq!(
            url("postgresql://app:SECRET@localhost:5432/app"),
            "postgresql://app:***@localhost:5432/app"
        );
        assert_eq!(
            url("redis://:hunter2@127.0.0.1:6379"),
            "redis://:***@127.0.0.1:6379"
        );
        assert_eq!(
            url("https://ghp_abc@github.com/x"),
            "https://***@github.com/x"
        );
        assert_eq!(
            url("http://localhost:8000/x?token=abc&page=2#f"),
            "http://localhost:8000/x?token=***&page=2#f"
        );
        assert_eq!(
            url("postgres://user@localhost/db"),
            "postgres://user@localhost/db"
        );
        assert_eq!(url("http://localhost:8000"), "http://localhost:8000");
    }

    #[test]
    fn command_lines() {
        assert_eq!(
            text("app --password hunter2 --port 8000"),
            "app --password *** --port 8000"
        );
        assert_eq!(text("app --token=abc -p 80"), "app --token=*** -p 80");
        assert_eq!(
            text("env API_KEY=xyz AWS_SECRET=s DB_PASSWORD=p HOME=/root run"),
            "env API_KEY=*** AWS_SECRET=*** DB_PASSWORD=*** HOME=/root run"
        );
        assert_eq!(
            text("nothing (DATABASE_URL=postgres://a:b@h/d)"),
            "nothing (DATABASE_URL=postgres://a:***@h/d)"
        );
        assert_eq!(text("  spaced\tout  "), "  spaced\tout  ");
    }

    #[test]
    fn json_values() {
        let mut v = serde_json::json!({"a": ["x --secret y"], "b": {"c": "mysql://u:p@h"}});
        value(&mut v);
        assert_eq!(
            v,
            serde_json::json!({"a": ["x --secret ***"], "b": {"c": "mysql://u:***@h"}})
        );
    }
}
