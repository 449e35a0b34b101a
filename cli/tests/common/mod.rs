//! Shared by the CLI's integration tests: `strata serve` started as a user starts it.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running `strata serve`; the test kills or stops it.
pub struct Server {
    pub child: Child,
    /// `http://127.0.0.1:<port>`
    pub base: String,
}

/// Starts `strata serve --data-dir DIR --listen 127.0.0.1:0 ARGS...` and waits until
/// `/ready` answers 200.
pub fn serve(dir: &Path, args: &[&str]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["serve", "--data-dir", dir.to_str().unwrap()])
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();
    // Keep draining stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = stderr.read_to_end(&mut sink);
    });
    let mut server = Server {
        child,
        base: format!("http://{addr}"),
    };
    let agent = agent();
    for _ in 0..4000 {
        if let Ok(r) = agent.get(&format!("{}/ready", server.base)).call()
            && r.status() == 200
        {
            return server;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = server.child.kill();
    let _ = server.child.wait();
    panic!("the server never became ready");
}

/// An HTTP client with the tests' timeouts.
pub fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(2))
        .timeout(Duration::from_secs(20))
        .build()
}
