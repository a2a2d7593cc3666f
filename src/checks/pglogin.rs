//! DB004: PostgreSQL answers on the project's port and refuses the
//! project's own login (a wrong password, a role or database that does not
//! exist there): most often another project's cluster on 5432, or a
//! container whose volume kept the password of its first start.
//!
//! The check logs in as the app would (the startup message with the URL's
//! user and database, then cleartext or SCRAM-SHA-256 with its password),
//! sends no query, and says goodbye (Terminate). What the server answers is
//! the evidence; a method doctor does not speak (GSS, SSPI) proves nothing
//! and is said as such in the probe, never as a finding. md5 is spoken: it
//! is `pg_hba`'s method on many clusters (`initdb --auth=md5`, older
//! images), the classic "another project's PostgreSQL on 5432".

use std::io::{Read, Write};
use std::net::TcpStream;

/// What the app would log in with.
#[derive(Debug, Clone, PartialEq)]
pub struct Login {
    pub user: String,
    pub password: Option<String>,
    pub database: Option<String>,
}

/// What the server made of the login.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Logged in: these credentials work on this server.
    Accepted,
    /// The server refused it: SQLSTATE and its message.
    Refused { sqlstate: String, message: String },
    /// Nothing conclusive (no password to give, a method doctor does not
    /// speak, a broken exchange): said in the probe only.
    Unknown(String),
}

/// The user, password and database of a `postgresql://` URL.
pub fn login_of_url(url: &str) -> Option<Login> {
    let rest = url.trim().split_once("://")?.1;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (userinfo, _) = authority.rsplit_once('@')?;
    let (user, password) = match userinfo.split_once(':') {
        Some((u, p)) => (u, Some(percent_decode(p))),
        None => (userinfo, None),
    };
    let user = percent_decode(user);
    if user.is_empty() {
        return None;
    }
    let database = tail
        .strip_prefix('/')
        .map(|p| p.split(['?', '#']).next().unwrap_or_default())
        .filter(|d| !d.is_empty())
        .map(percent_decode);
    Some(Login {
        user,
        password,
        database,
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Log in on `stream` (already connected, timeouts set) and end the session.
pub fn try_login(stream: &mut TcpStream, login: &Login) -> Outcome {
    let mut params = Vec::new();
    for (k, v) in [
        ("user", Some(login.user.as_str())),
        ("database", login.database.as_deref()),
        ("application_name", Some("doctor")),
    ] {
        if let Some(v) = v {
            params.extend_from_slice(k.as_bytes());
            params.push(0);
            params.extend_from_slice(v.as_bytes());
            params.push(0);
        }
    }
    params.push(0);
    let mut startup = Vec::with_capacity(params.len() + 8);
    startup.extend_from_slice(&((params.len() + 8) as u32).to_be_bytes());
    startup.extend_from_slice(&196608u32.to_be_bytes()); // protocol 3.0
    startup.extend_from_slice(&params);
    if stream.write_all(&startup).is_err() {
        return Outcome::Unknown("the connection closed at the startup message".into());
    }
    let outcome = exchange(stream, login);
    // Terminate: the server ends the session without logging an error.
    let _ = stream.write_all(&[b'X', 0, 0, 0, 4]);
    outcome
}

fn exchange(stream: &mut TcpStream, login: &Login) -> Outcome {
    let mut scram: Option<Scram> = None;
    // A bounded number of messages: a server that sends more without an
    // answer is not one doctor understands.
    for _ in 0..64 {
        let (kind, body) = match read_message(stream) {
            Ok(m) => m,
            Err(why) => return Outcome::Unknown(why),
        };
        match kind {
            b'E' => return refused(&body),
            b'Z' => return Outcome::Accepted,
            b'R' if body.len() >= 4 => {
                let code = u32::from_be_bytes([body[0], body[1], body[2], body[3]]);
                let data = &body[4..];
                match code {
                    0 => {} // AuthenticationOk: ReadyForQuery or an error follows
                    3 => {
                        let Some(pw) = &login.password else {
                            return Outcome::Unknown(
                                "it asks for a password and none is set".into(),
                            );
                        };
                        let mut msg = pw.as_bytes().to_vec();
                        msg.push(0);
                        if send(stream, b'p', &msg).is_err() {
                            return Outcome::Unknown("the connection closed".into());
                        }
                    }
                    5 if data.len() >= 4 => {
                        let Some(pw) = &login.password else {
                            return Outcome::Unknown(
                                "it asks for a password and none is set".into(),
                            );
                        };
                        let mut msg = md5_response(pw, &login.user, &data[..4]).into_bytes();
                        msg.push(0);
                        if send(stream, b'p', &msg).is_err() {
                            return Outcome::Unknown("the connection closed".into());
                        }
                    }
                    10 => {
                        let Some(pw) = &login.password else {
                            return Outcome::Unknown(
                                "it asks for a password and none is set".into(),
                            );
                        };
                        let offers_scram = data.split(|b| *b == 0).any(|m| m == b"SCRAM-SHA-256");
                        if !offers_scram {
                            return Outcome::Unknown(
                                "it offers no SASL method doctor speaks".into(),
                            );
                        }
                        let Some(s) = Scram::new(pw) else {
                            return Outcome::Unknown("no random nonce".into());
                        };
                        let first = s.client_first();
                        let mut msg = b"SCRAM-SHA-256\0".to_vec();
                        msg.extend_from_slice(&(first.len() as u32).to_be_bytes());
                        msg.extend_from_slice(first.as_bytes());
                        if send(stream, b'p', &msg).is_err() {
                            return Outcome::Unknown("the connection closed".into());
                        }
                        scram = Some(s);
                    }
                    11 => {
                        let Some(s) = scram.as_mut() else {
                            return Outcome::Unknown("SASL without a start".into());
                        };
                        let Some(fin) = s.client_final(&String::from_utf8_lossy(data)) else {
                            return Outcome::Unknown("a SCRAM challenge doctor cannot read".into());
                        };
                        if send(stream, b'p', fin.as_bytes()).is_err() {
                            return Outcome::Unknown("the connection closed".into());
                        }
                    }
                    12 => {} // SASLFinal: AuthenticationOk follows
                    other => {
                        return Outcome::Unknown(format!(
                            "it asks for authentication method {other} (not checked)"
                        ))
                    }
                }
            }
            // ParameterStatus, BackendKeyData, NoticeResponse: read on.
            _ => {}
        }
    }
    Outcome::Unknown("too many messages before the session was ready".into())
}

fn refused(body: &[u8]) -> Outcome {
    let mut sqlstate = String::new();
    let mut message = String::new();
    for field in body.split(|b| *b == 0) {
        let Some((&tag, text)) = field.split_first() else {
            continue;
        };
        let text = String::from_utf8_lossy(text).into_owned();
        match tag {
            b'C' => sqlstate = text,
            b'M' => message = text,
            _ => {}
        }
    }
    Outcome::Refused { sqlstate, message }
}

fn send(stream: &mut TcpStream, kind: u8, body: &[u8]) -> std::io::Result<()> {
    let mut msg = Vec::with_capacity(body.len() + 5);
    msg.push(kind);
    msg.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
    msg.extend_from_slice(body);
    stream.write_all(&msg)
}

fn read_message(stream: &mut TcpStream) -> Result<(u8, Vec<u8>), String> {
    let mut head = [0u8; 5];
    stream
        .read_exact(&mut head)
        .map_err(|_| "it said nothing more within the timeout".to_string())?;
    let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
    if !(4..=64 * 1024).contains(&len) {
        return Err("a message doctor cannot read".into());
    }
    let mut body = vec![0u8; len - 4];
    stream
        .read_exact(&mut body)
        .map_err(|_| "the connection closed mid-message".to_string())?;
    Ok((head[0], body))
}

/// PostgreSQL's md5 answer: `"md5" + md5hex(md5hex(password + user) + salt)`.
fn md5_response(password: &str, user: &str, salt: &[u8]) -> String {
    let inner = hex(&md5(format!("{password}{user}").as_bytes()));
    let mut outer = inner.into_bytes();
    outer.extend_from_slice(salt);
    format!("md5{}", hex(&md5(&outer)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// MD5 (RFC 1321), for PostgreSQL's md5 login only: ring has none, and
/// the login needs no more than this.
fn md5(data: &[u8]) -> [u8; 16] {
    const S: [u32; 64] = [
        7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5,
        9, 14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10,
        15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
    ];
    // K[i] = floor(abs(sin(i + 1)) * 2^32), as the RFC defines it.
    let k: Vec<u32> = (0..64)
        .map(|i| ((i as f64 + 1.0).sin().abs() * 4294967296.0) as u32)
        .collect();
    let mut state: [u32; 4] = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];
    let mut msg = data.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&((data.len() as u64).wrapping_mul(8)).to_le_bytes());
    for block in msg.chunks(64) {
        let m: Vec<u32> = block
            .chunks(4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            .collect();
        let [mut a, mut b, mut c, mut d] = state;
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let rotated = a
                .wrapping_add(f)
                .wrapping_add(k[i])
                .wrapping_add(m[g])
                .rotate_left(S[i]);
            a = d;
            d = c;
            c = b;
            b = b.wrapping_add(rotated);
        }
        for (s, v) in state.iter_mut().zip([a, b, c, d]) {
            *s = s.wrapping_add(v);
        }
    }
    let mut out = [0u8; 16];
    for (i, s) in state.iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&s.to_le_bytes());
    }
    out
}

/// SCRAM-SHA-256 as PostgreSQL speaks it (RFC 5802, RFC 7677): no channel
/// binding, the user name taken from the startup message.
struct Scram {
    password: String,
    client_nonce: String,
    client_first_bare: String,
}

impl Scram {
    fn new(password: &str) -> Option<Scram> {
        let client_nonce = base64(&random_bytes()?);
        Some(Scram {
            password: password.to_string(),
            client_first_bare: format!("n=,r={client_nonce}"),
            client_nonce,
        })
    }

    fn client_first(&self) -> String {
        format!("n,,{}", self.client_first_bare)
    }

    fn client_final(&self, server_first: &str) -> Option<String> {
        let field = |k: &str| {
            server_first
                .split(',')
                .find_map(|kv| kv.strip_prefix(k).and_then(|v| v.strip_prefix('=')))
        };
        let nonce = field("r")?;
        if !nonce.starts_with(&self.client_nonce) {
            return None;
        }
        let salt = unbase64(field("s")?)?;
        let iterations: u32 = field("i")?.parse().ok().filter(|i| *i > 0)?;
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{server_first},{without_proof}", self.client_first_bare);
        let proof = scram_proof(self.password.as_bytes(), &salt, iterations, &auth_message);
        Some(format!("{without_proof},p={}", base64(&proof)))
    }
}

#[cfg(feature = "db-login")]
fn scram_proof(password: &[u8], salt: &[u8], iterations: u32, auth_message: &str) -> Vec<u8> {
    use ring::{digest, hmac, pbkdf2};
    let mut salted = [0u8; 32];
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        std::num::NonZeroU32::new(iterations).unwrap_or(std::num::NonZeroU32::MIN),
        salt,
        password,
        &mut salted,
    );
    let key = hmac::Key::new(hmac::HMAC_SHA256, &salted);
    let client_key = hmac::sign(&key, b"Client Key");
    let stored_key = digest::digest(&digest::SHA256, client_key.as_ref());
    let signature = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, stored_key.as_ref()),
        auth_message.as_bytes(),
    );
    client_key
        .as_ref()
        .iter()
        .zip(signature.as_ref())
        .map(|(a, b)| a ^ b)
        .collect()
}

/// Without the crypto (`--no-default-features`) no proof is made: the
/// server refuses it, and doctor must not call that a wrong password.
#[cfg(not(feature = "db-login"))]
fn scram_proof(_: &[u8], _: &[u8], _: u32, _: &str) -> Vec<u8> {
    Vec::new()
}

#[cfg(feature = "db-login")]
fn random_bytes() -> Option<[u8; 18]> {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 18];
    ring::rand::SystemRandom::new().fill(&mut b).ok()?;
    Some(b)
}

#[cfg(not(feature = "db-login"))]
fn random_bytes() -> Option<[u8; 18]> {
    None
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn unbase64(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in text.trim_end_matches('=').bytes() {
        let v = B64.iter().position(|x| *x == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_credentials_are_decoded() {
        let l =
            login_of_url("postgresql+asyncpg://app:p%40ss@localhost:5432/app_db?sslmode=disable")
                .unwrap();
        assert_eq!(l.user, "app");
        assert_eq!(l.password.as_deref(), Some("p@ss"));
        assert_eq!(l.database.as_deref(), Some("app_db"));
        assert_eq!(login_of_url("postgresql://localhost/app"), None);
        let l = login_of_url("postgres://bob@127.0.0.1").unwrap();
        assert_eq!((l.password, l.database), (None, None));
    }

    #[test]
    fn base64_round_trips() {
        for s in [&b""[..], b"f", b"fo", b"foo", b"foob", b"n,,"] {
            assert_eq!(unbase64(&base64(s)).unwrap(), s);
        }
        assert_eq!(base64(b"n,,"), "biws");
    }

    /// RFC 1321's test suite, and PostgreSQL's own md5 form of a role's
    /// password (`md5` + md5(password + user), as `pg_authid` stores it).
    #[test]
    fn md5_matches_rfc_1321() {
        for (input, want) in [
            ("", "d41d8cd98f00b204e9800998ecf8427e"),
            ("a", "0cc175b9c0f1b6a831c399e269772661"),
            ("abc", "900150983cd24fb0d6963f7d28e17f72"),
            ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
            (
                "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
                "57edf4a22be3c955ac49da2e2107b67a",
            ),
        ] {
            assert_eq!(hex(&md5(input.as_bytes())), want, "{input:?}");
        }
        // SELECT 'md5' || md5('secretapp'): the inner half of the answer;
        // the answer to salt 01 02 03 04, as psql's libpq makes it.
        assert_eq!(hex(&md5(b"secretapp")), "6a422f785c9e20873908ce25d1736ae2");
        assert_eq!(
            md5_response("secret", "app", &[1, 2, 3, 4]),
            "md5911f527656472583a006e7727877b33e"
        );
    }

    /// RFC 7677's example exchange (user "user", password "pencil").
    #[cfg(feature = "db-login")]
    #[test]
    fn scram_proof_matches_rfc_7677() {
        let s = Scram {
            password: "pencil".into(),
            client_nonce: "rOprNGfwEbeRWgbNEkqO".into(),
            client_first_bare: "n=user,r=rOprNGfwEbeRWgbNEkqO".into(),
        };
        let server_first =
            "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        assert_eq!(
            s.client_final(server_first).unwrap(),
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
    }
}
