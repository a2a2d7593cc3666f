//! Windows' socket and process tables as its own tools print them:
//! `netstat -ano` and `tasklist /FO CSV /NH`. Read from inside WSL (the
//! Windows side of the machine, through interop), and on Windows itself when
//! the TCP table API fails. Pure text readers, tested on every OS with
//! recorded output.
//!
//! netstat's headers and state words are localized (`LISTENING`, `ABHÖREN`,
//! `À L'ÉCOUTE`) and printed in the console's code page, so a row is read by
//! shape: `TCP`, two addresses, the state's words, the pid last. A listening
//! socket is the one whose foreign address has port 0, in every language.

use std::collections::HashMap;
use std::net::SocketAddr;

use super::{Owners, Socket, TcpState};

/// Every TCP row of `netstat -ano` (IPv4 and IPv6).
pub fn parse_netstat(text: &str) -> Vec<Socket> {
    text.lines().filter_map(parse_row).collect()
}

fn parse_row(line: &str) -> Option<Socket> {
    let words: Vec<&str> = line.split_whitespace().collect();
    if words.len() < 4 || !words[0].eq_ignore_ascii_case("tcp") {
        return None;
    }
    let local: SocketAddr = words[1].parse().ok()?;
    let remote: SocketAddr = words[2].parse().ok()?;
    let pid: u32 = words.last()?.parse().ok()?;
    let state_words = &words[3..words.len() - 1];
    let state = if remote.port() == 0 {
        TcpState::Listen
    } else {
        state_of(&state_words.join(" "))
    };
    let owners = match pid {
        // pid 0 is the idle process: a socket no process holds any more.
        0 if state.is_closing_leftover() => Owners::NoProcess,
        0 => Owners::Hidden,
        pid => Owners::Pids(vec![pid]),
    };
    Some(Socket {
        local,
        remote,
        state,
        uid: None,
        accept_queue: None,
        owners,
    })
}

/// The state words of English and German Windows; any other language's
/// words are `Unknown` (a listening row never needs them).
fn state_of(word: &str) -> TcpState {
    match word.to_uppercase().as_str() {
        "LISTENING" | "ABHÖREN" => TcpState::Listen,
        "SYN_SENT" | "SYN_GESENDET" => TcpState::SynSent,
        "SYN_RECEIVED" | "SYN_EMPFANGEN" => TcpState::SynRecv,
        "ESTABLISHED" | "HERGESTELLT" => TcpState::Established,
        "FIN_WAIT_1" | "FIN_WARTEN_1" => TcpState::FinWait1,
        "FIN_WAIT_2" | "FIN_WARTEN_2" => TcpState::FinWait2,
        "CLOSE_WAIT" | "SCHLIESSEN_WARTEN" => TcpState::CloseWait,
        "CLOSING" | "SCHLIESSEN" => TcpState::Closing,
        "LAST_ACK" | "LETZTES_ACK" => TcpState::LastAck,
        "TIME_WAIT" | "WARTEND" | "ZEIT_WARTEN" => TcpState::TimeWait,
        "CLOSED" | "GESCHLOSSEN" => TcpState::Close,
        _ => TcpState::Unknown,
    }
}

/// `tasklist /FO CSV /NH`: `"Image Name","PID",…` rows, no header; the
/// image name and pid are the first two fields in every language.
pub fn parse_tasklist(text: &str) -> HashMap<u32, String> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.trim().split("\",\"");
            let name = fields.next()?.trim_start_matches('"');
            let pid = fields.next()?.trim_end_matches('"').parse().ok()?;
            (!name.is_empty()).then(|| (pid, name.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `netstat -ano` as an English Windows prints it (columns as printed).
    const NETSTAT_EN: &str = "
Active Connections

  Proto  Local Address          Foreign Address        State           PID
  TCP    0.0.0.0:135            0.0.0.0:0              LISTENING       1052
  TCP    0.0.0.0:445            0.0.0.0:0              LISTENING       4
  TCP    127.0.0.1:5173         0.0.0.0:0              LISTENING       21716
  TCP    127.0.0.1:5173         127.0.0.1:53012        ESTABLISHED     21716
  TCP    127.0.0.1:8000         127.0.0.1:52990        TIME_WAIT       0
  TCP    192.168.1.20:52100     140.82.112.26:443      CLOSE_WAIT      9320
  TCP    [::]:135               [::]:0                 LISTENING       1052
  TCP    [::1]:3000             [::]:0                 LISTENING       14288
  TCP    [::1]:3000             [::1]:53100            ESTABLISHED     14288
  UDP    0.0.0.0:5353           *:*                                    2748
";

    /// As a German Windows prints it: localized headers and states, and
    /// `ABHÖREN` in code page 850, whose Ö arrives as a replacement
    /// character when the bytes are read as UTF-8.
    const NETSTAT_DE: &str = "
Aktive Verbindungen

  Proto  Lokale Adresse         Remoteadresse          Status           PID
  TCP    0.0.0.0:135            0.0.0.0:0              ABH\u{FFFD}REN         1052
  TCP    127.0.0.1:8000         0.0.0.0:0              ABH\u{FFFD}REN         7788
  TCP    127.0.0.1:8000         127.0.0.1:49822        HERGESTELLT     7788
  TCP    127.0.0.1:49822        127.0.0.1:8000         WARTEND         0
  TCP    [::1]:5432             [::]:0                 ABH\u{FFFD}REN         3310
";

    /// French: the listening state is two words.
    const NETSTAT_FR: &str = "
  Proto  Adresse locale         Adresse distante       État           PID
  TCP    0.0.0.0:5000           0.0.0.0:0              À L'ÉCOUTE     6120
  TCP    127.0.0.1:5000         127.0.0.1:61000        ÉTABLI         6120
";

    fn listening(sockets: &[Socket]) -> Vec<(String, Vec<u32>)> {
        sockets
            .iter()
            .filter(|s| s.state == TcpState::Listen)
            .map(|s| (s.local.to_string(), s.pids().to_vec()))
            .collect()
    }

    #[test]
    fn english_rows_with_every_state_and_family() {
        let sockets = parse_netstat(NETSTAT_EN);
        assert_eq!(sockets.len(), 9, "the UDP row and headers are not sockets");
        assert_eq!(
            listening(&sockets),
            [
                ("0.0.0.0:135".to_string(), vec![1052]),
                ("0.0.0.0:445".to_string(), vec![4]),
                ("127.0.0.1:5173".to_string(), vec![21716]),
                ("[::]:135".to_string(), vec![1052]),
                ("[::1]:3000".to_string(), vec![14288]),
            ]
        );
        let time_wait = sockets
            .iter()
            .find(|s| s.state == TcpState::TimeWait)
            .unwrap();
        assert_eq!(time_wait.owners, Owners::NoProcess, "pid 0 owns nothing");
        assert!(sockets.iter().any(|s| s.state == TcpState::CloseWait));
    }

    #[test]
    fn other_languages_by_shape() {
        let de = parse_netstat(NETSTAT_DE);
        assert_eq!(
            listening(&de),
            [
                ("0.0.0.0:135".to_string(), vec![1052]),
                ("127.0.0.1:8000".to_string(), vec![7788]),
                ("[::1]:5432".to_string(), vec![3310]),
            ]
        );
        assert!(de.iter().any(|s| s.state == TcpState::Established));
        assert!(de
            .iter()
            .any(|s| s.state == TcpState::TimeWait && s.owners == Owners::NoProcess));

        let fr = parse_netstat(NETSTAT_FR);
        assert_eq!(listening(&fr), [("0.0.0.0:5000".to_string(), vec![6120])]);
        assert_eq!(
            fr[1].state,
            TcpState::Unknown,
            "an unknown word is not guessed"
        );
        assert_eq!(fr[1].pids(), [6120]);
    }

    #[test]
    fn tasklist_names_by_pid() {
        let text = "\"System Idle Process\",\"0\",\"Services\",\"0\",\"8 K\"\r\n\
                    \"System\",\"4\",\"Services\",\"0\",\"1.234 K\"\r\n\
                    \"wslrelay.exe\",\"21716\",\"Console\",\"1\",\"9.876 K\"\r\n\
                    \"node.exe\",\"14288\",\"Console\",\"1\",\"88.000 K\"\r\n";
        let names = parse_tasklist(text);
        assert_eq!(names.get(&21716).map(String::as_str), Some("wslrelay.exe"));
        assert_eq!(names.get(&4).map(String::as_str), Some("System"));
        assert_eq!(names.len(), 4);
        assert!(parse_tasklist("INFO: No tasks are running.").is_empty());
    }
}
