//! A lean HTTP/1.1 client for latency benchmarks: times GET requests on one keep-alive
//! loopback connection, so that what is measured is the server, not the client (Python's
//! `http.client` spends about 95 µs of CPU on each request, as much as a small query
//! costs the server; this spends a few).
//!
//! ```text
//! query_latency ADDR FILE PASSES
//! ```
//!
//! FILE holds one request target per line (`/api/v1/query_range?query=...`, already
//! URL-encoded). The client sends each line once to warm up, then PASSES times over the
//! whole list, and prints one latency per timed request (microseconds, with fractions),
//! in order. A status other than 200, or a body starting with `{"status":"error"`, stops
//! it with the answer on stderr and exit status 1. The response body is read in full
//! (`Content-Length` or chunked) and dropped.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::Instant;

struct Conn {
    addr: String,
    reader: BufReader<TcpStream>,
}

impl Conn {
    fn open(addr: &str) -> std::io::Result<Conn> {
        let s = TcpStream::connect(addr)?;
        s.set_nodelay(true)?;
        Ok(Conn {
            addr: addr.to_owned(),
            reader: BufReader::with_capacity(1 << 16, s),
        })
    }

    /// One GET: (status, body). Reconnects once if the server closed the connection.
    fn get(&mut self, target: &str) -> std::io::Result<(u16, Vec<u8>)> {
        match self.try_get(target) {
            Ok(r) => Ok(r),
            Err(_) => {
                *self = Conn::open(&self.addr)?;
                self.try_get(target)
            }
        }
    }

    fn try_get(&mut self, target: &str) -> std::io::Result<(u16, Vec<u8>)> {
        let req = format!(
            "GET {target} HTTP/1.1\r\nHost: {}\r\nAccept: */*\r\n\r\n",
            self.addr
        );
        self.reader.get_mut().write_all(req.as_bytes())?;
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(bad("connection closed"));
        }
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("no status line"))?;
        let (mut length, mut chunked, mut close) = (None, false, false);
        loop {
            line.clear();
            if self.reader.read_line(&mut line)? == 0 {
                return Err(bad("connection closed in the headers"));
            }
            let h = line.trim_end();
            if h.is_empty() {
                break;
            }
            let Some((name, value)) = h.split_once(':') else {
                continue;
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse::<usize>().ok();
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.eq_ignore_ascii_case("chunked");
            } else if name.eq_ignore_ascii_case("connection") {
                close = value.eq_ignore_ascii_case("close");
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                line.clear();
                self.reader.read_line(&mut line)?;
                let size =
                    usize::from_str_radix(line.trim_end().split(';').next().unwrap_or(""), 16)
                        .map_err(|_| bad("bad chunk size"))?;
                let at = body.len();
                body.resize(at + size + 2, 0);
                self.reader.read_exact(&mut body[at..])?;
                body.truncate(at + size);
                if size == 0 {
                    break;
                }
            }
        } else if let Some(n) = length {
            body.resize(n, 0);
            self.reader.read_exact(&mut body)?;
        } else {
            self.reader.read_to_end(&mut body)?;
            close = true;
        }
        if close {
            *self = Conn::open(&self.addr)?;
        }
        Ok((status, body))
    }
}

fn bad(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, addr, file, passes] = args.as_slice() else {
        eprintln!("usage: query_latency ADDR FILE PASSES");
        return ExitCode::from(2);
    };
    let (Ok(text), Ok(passes)) = (std::fs::read_to_string(file), passes.parse::<usize>()) else {
        eprintln!("query_latency: cannot read {file} or PASSES is not a number");
        return ExitCode::from(2);
    };
    let targets: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    let mut conn = match Conn::open(addr) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("query_latency: {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = String::new();
    for pass in 0..=passes {
        for t in &targets {
            let t0 = Instant::now();
            let r = conn.get(t);
            let us = t0.elapsed().as_secs_f64() * 1e6;
            match r {
                Ok((200, body)) if !body.starts_with(b"{\"status\":\"error\"") => {}
                Ok((status, body)) => {
                    let n = body.len().min(300);
                    eprintln!(
                        "query_latency: {status} for {t}: {}",
                        String::from_utf8_lossy(&body[..n])
                    );
                    return ExitCode::FAILURE;
                }
                Err(e) => {
                    eprintln!("query_latency: {t}: {e}");
                    return ExitCode::FAILURE;
                }
            }
            if pass > 0 {
                out.push_str(&format!("{us:.1}\n"));
            }
        }
    }
    print!("{out}");
    ExitCode::SUCCESS
}
