//! Secrets never leave: the one scrubber every output goes through (table,
//! JSON, fix plans, errors). Env *values* are never put into a report in the
//! first place; this catches what travels inside URLs and command lines.

use std::path::Path;

use serde_json::Value;

pub const MASK: &str = "***";

/// Words that make a variable name secret-looking.
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
    "cookie",
    "signature",
];
/// Variable-name endings and beginnings the contract names (`*_KEY`,
/// `*_SECRET`, `*_TOKEN`, `*_SK`, `AWS_*`).
const SECRET_SUFFIXES: &[&str] = &["_key", "_secret", "_token", "_pass", "_sk"];
const SECRET_PREFIXES: &[&str] = &["aws_"];
/// Words that make a *flag* secret-looking (`--requirepass`, `--access-key`,
/// `--passphrase`): broader than for variables, since a flag's argument is
/// never evidence doctor needs.
const SECRET_FLAG_WORDS: &[&str] = &[
    "pass",
    "pwd",
    "secret",
    "token",
    "key",
    "auth",
    "credential",
    "cookie",
    "signature",
];
/// Schemes whose next word is a credential (`Authorization: Bearer X`).
const AUTH_SCHEMES: &[&str] = &["bearer", "basic", "digest"];
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

pub fn is_secret_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SECRET_WORDS.iter().any(|w| lower.contains(w))
        || SECRET_SUFFIXES.iter().any(|s| lower.ends_with(s))
        || SECRET_PREFIXES.iter().any(|p| lower.starts_with(p))
}

/// A header name whose value is a credential: `Authorization`, `Cookie`,
/// `X-Api-Key`, `x-token` (not any word before a colon in a sentence).
fn is_secret_header(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    matches!(
        lower.as_str(),
        "authorization" | "proxy-authorization" | "cookie" | "set-cookie"
    ) || (lower.starts_with("x-") && is_secret_flag(&lower))
        || lower.contains("token")
        || lower.contains("secret")
        || lower.contains("api-key")
        || lower.contains("apikey")
}

fn is_secret_flag(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SECRET_FLAG_WORDS.iter().any(|w| lower.contains(w))
}

/// Values read from the project's env files that must never leave, wherever
/// they turn up (an exception message, a helper's stderr): filled by
/// discovery, read by every scrub.
static KNOWN: std::sync::RwLock<Vec<String>> = std::sync::RwLock::new(Vec::new());

/// Remember a value of the project's env files as a secret when its name or
/// its shape says so (a secret-looking key, or a long random-looking value).
pub fn remember_env_value(key: &str, value: &str) {
    let value = value.trim();
    let random_looking = value.len() >= 12
        && value.chars().any(|c| c.is_ascii_digit())
        && value.chars().any(|c| c.is_ascii_alphabetic())
        && !value.contains(char::is_whitespace)
        && !value.contains("://");
    if value.len() >= 4 && (is_secret_name(key) || random_looking) {
        remember(value);
    }
}

/// Remember a value that must be masked wherever it appears.
pub fn remember(value: &str) {
    if value.len() < 4 {
        return;
    }
    if let Ok(mut known) = KNOWN.write() {
        if !known.iter().any(|k| k == value) {
            known.push(value.to_string());
            // Longest first: a value that contains another is masked whole.
            known.sort_by_key(|k| std::cmp::Reverse(k.len()));
        }
    }
}

fn mask_known(input: &str) -> std::borrow::Cow<'_, str> {
    let Ok(known) = KNOWN.read() else {
        return input.into();
    };
    if !known.iter().any(|k| input.contains(k.as_str())) {
        return input.into();
    }
    let mut out = input.to_string();
    for k in known.iter() {
        out = if anywhere(k) {
            out.replace(k.as_str(), MASK)
        } else {
            replace_whole(&out, k)
        };
    }
    out.into()
}

/// A long value with digits or symbols is masked wherever it appears; a
/// short or plain-word one (`postgres`, `changethis`) only as a whole
/// token, so that `/usr/lib/postgresql/15` stays readable while
/// `postgres:postgres@` is still masked.
fn anywhere(value: &str) -> bool {
    value.len() >= 12 && value.chars().any(|c| !c.is_ascii_alphabetic())
}

fn replace_whole(text: &str, value: &str) -> String {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(value) {
        let before = rest[..i].chars().next_back().or(out.chars().next_back());
        let after = rest[i + value.len()..].chars().next();
        out.push_str(&rest[..i]);
        if word(before) || word(after) {
            out.push_str(value);
        } else {
            out.push_str(MASK);
        }
        rest = &rest[i + value.len()..];
    }
    out.push_str(rest);
    out
}

/// Scrub one piece of text: values remembered from the env files, URL
/// passwords, secret query values, secret flags' arguments (`--flag X`,
/// `--flag=X`, `-pX`), `SECRET_NAME=value` assignments, secret header
/// values (`x-token:X`, `Authorization: Bearer X`).
pub fn text(input: &str) -> String {
    let input = mask_known(input);
    let mut out = String::with_capacity(input.len());
    let mut mask_next = false;
    for piece in split_keep_space(&input) {
        if piece.trim().is_empty() {
            out.push_str(piece);
            continue;
        }
        if mask_next {
            // `--authorization Bearer X`: the scheme stays, its credential goes.
            let scheme = piece.trim_matches(['"', '\'']).to_ascii_lowercase();
            if AUTH_SCHEMES.contains(&scheme.as_str()) {
                out.push_str(piece);
                continue;
            }
            mask_next = false;
            out.push_str(MASK);
            continue;
        }
        let lower = piece.trim_matches(['"', '\'']).to_ascii_lowercase();
        if AUTH_SCHEMES.contains(&lower.as_str()) {
            out.push_str(piece);
            mask_next = true;
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
    // `-pSECRET` (mysql, redis-cli): a password glued to -p. `-p 8000` is a
    // port and left alone.
    if let Some(glued) = w.strip_prefix("-p").filter(|v| !v.is_empty()) {
        if !glued.starts_with('-') && !glued.starts_with('=') {
            return format!("-p{MASK}");
        }
    }
    // --password X, --token=X, --requirepass X, --access-key=X.
    if let Some(flag) = w
        .strip_prefix("--")
        .or_else(|| w.strip_prefix('-').filter(|f| f.len() > 1))
    {
        let (name, value) = match flag.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (flag, None),
        };
        if is_secret_flag(name) {
            return match value {
                Some(_) => format!("{}={MASK}", &w[..w.len() - value.unwrap().len() - 1]),
                None => {
                    *mask_next = true;
                    w.to_string()
                }
            };
        }
    }
    // A header: `x-token:X`, `Authorization:` (the value is the next word).
    if let Some((name, value)) = w.split_once(':') {
        let bare = name.trim_start_matches(['"', '\'']);
        if !bare.is_empty()
            && !value.starts_with("//")
            && bare
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            && is_secret_header(bare)
        {
            if value.trim_matches(['"', '\'']).is_empty() {
                *mask_next = true;
                return w.to_string();
            }
            return format!("{name}:{MASK}");
        }
    }
    // NAME=value with a secret-looking NAME; a boolean is no secret
    // (`allow_private_network=True)` is a setting to show).
    if let Some((name, value)) = w.split_once('=') {
        let bare = name.trim_start_matches(['"', '\'', '(', '[', '{']);
        let flag = value
            .trim_end_matches([')', ',', ';', ']', '}', '"', '\''])
            .to_ascii_lowercase();
        if !bare.is_empty()
            && !matches!(flag.as_str(), "true" | "false")
            && !bare.contains("://")
            && bare.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && is_secret_name(bare)
        {
            return format!("{name}={MASK}");
        }
    }
    url(w)
}

/// `scheme://user:SECRET@host` → `scheme://user:***@host`; `?token=X` → `?token=***`,
/// also on a bare path (`/health?token=X`, a configured health route).
pub fn url(w: &str) -> String {
    let Some(scheme_end) = w.find("://") else {
        if w.starts_with('/') && w.contains('?') {
            return query(w);
        }
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
    out.push_str(&query(&rest[auth_end..]));
    out
}

/// A path with its secret-looking query values masked.
fn query(tail: &str) -> String {
    let mut out = String::new();
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
    fn a_plain_word_secret_is_masked_as_a_token_only() {
        assert_eq!(
            replace_whole(
                "/usr/lib/postgresql/15/bin/postgres -D x postgres:postgres@db",
                "postgres"
            ),
            "/usr/lib/postgresql/15/bin/*** -D x ***:***@db"
        );
        assert!(anywhere("s3cr3t-t0ken-abc123"));
        assert!(!anywhere("changethis"));
    }

    #[test]
    fn a_boolean_setting_is_shown() {
        assert_eq!(
            text("CORSMiddleware(..., allow_private_network=True) and PRIVATE_KEY=abc"),
            "CORSMiddleware(..., allow_private_network=True) and PRIVATE_KEY=***"
        );
    }

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
    fn every_secret_form_of_a_command_line() {
        for (input, leaked) in [
            ("redis-server --port 6380 --requirepass C1", "C1"),
            ("tool --pass C2 --passphrase C3 --access-key C4", "C2 C3 C4"),
            (
                "curl --authorization \"Bearer C5\" -H \"Authorization: Bearer C6\"",
                "C5 C6",
            ),
            ("mysql -uroot -pC7 db", "C7"),
            ("AWS_ACCESS_KEY_ID=C8 STRIPE_SK=C9 run", "C8 C9"),
            ("uvicorn main:app --header x-token:C10", "C10"),
            ("web --pass=C11 --cookie-secret C12", "C11 C12"),
        ] {
            let out = text(input);
            for canary in leaked.split(' ') {
                assert!(!out.contains(canary), "{input} -> {out}");
            }
        }
        // What is evidence stays.
        assert_eq!(text("vite --port 5173 -p 3000"), "vite --port 5173 -p 3000");
        assert_eq!(
            text("uvicorn app.main:app --host 127.0.0.1"),
            "uvicorn app.main:app --host 127.0.0.1"
        );
        assert_eq!(
            text("stripe keys: .env lacks STRIPE_KEY"),
            "stripe keys: .env lacks STRIPE_KEY"
        );
    }

    #[test]
    fn remembered_env_values_are_masked_anywhere() {
        remember_env_value("STRIPE_SECRET", "sk_live_51Hcanary");
        remember_env_value("PORT", "8000");
        assert_eq!(
            text("ValueError: input_value='sk_live_51Hcanary' is not valid"),
            "ValueError: input_value='***' is not valid"
        );
        assert_eq!(text("listening on 8000"), "listening on 8000");
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
