//! Platforms without a socket table implementation: say so, never "free".

use std::io;

use super::{PortSet, ProcessExtras, Socket};

pub fn sockets(_ports: &PortSet) -> io::Result<Vec<Socket>> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "doctor cannot list TCP sockets on this operating system",
    ))
}

pub fn process_extras(_pid: u32) -> ProcessExtras {
    ProcessExtras::default()
}

pub fn listeners_of(_pids: &[u32]) -> io::Result<Vec<Socket>> {
    sockets(&PortSet::default())
}

pub fn children_of(_pid: u32) -> Vec<u32> {
    Vec::new()
}
