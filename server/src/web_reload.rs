//! The web configuration file, kept current: as Prometheus' exporter-toolkit does, a
//! change to `--web.config.file` (users, TLS settings) or to a certificate, key or client
//! CA file it names takes effect on the next request or TLS handshake, without a restart
//! or a reload signal.
//!
//! Invariants:
//! - whether the server speaks TLS is decided by the file at start (as in Prometheus);
//!   a later version without TLS settings fails TLS handshakes rather than serving plain
//!   text on the HTTPS port;
//! - the file is read again only when the modification time or length of it or of a file
//!   it names changed (one `stat` per file per request otherwise);
//! - a version that does not load is not used: requests get 500 and handshakes fail,
//!   naming the error in the log (Prometheus answers 500 "Internal Server Error" too), until
//!   the file loads again. The first version must load: the server refuses to start.

use crate::web_config::{self, WebConfigError, WebSetup};
use parking_lot::Mutex;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// What identifies one version of a file: its modification time and length (`None`
/// when it cannot be read).
type Stamp = Option<(SystemTime, u64)>;

fn stamp(p: &Path) -> Stamp {
    std::fs::metadata(p)
        .ok()
        .map(|m| (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len()))
}

struct Loaded {
    /// The configuration file and the files it names, with the stamps they had when read.
    stamps: Vec<(PathBuf, Stamp)>,
    /// The setup, or why that version did not load.
    setup: Result<WebSetup, String>,
}

/// A web configuration file read again whenever it changes.
pub struct LiveWebConfig {
    path: PathBuf,
    loaded: Mutex<Loaded>,
}

impl std::fmt::Debug for LiveWebConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveWebConfig")
            .field("path", &self.path)
            .finish()
    }
}

impl LiveWebConfig {
    /// Loads `path`, which must load.
    pub fn open(path: &Path) -> Result<LiveWebConfig, WebConfigError> {
        let (stamps, setup) = read(path);
        Ok(LiveWebConfig {
            path: path.to_owned(),
            loaded: Mutex::new(Loaded {
                stamps,
                setup: Ok(setup?),
            }),
        })
    }

    /// The current setup, read again first if a file changed.
    pub fn current(&self) -> Result<WebSetup, String> {
        let mut loaded = self.loaded.lock();
        let changed = loaded.stamps.iter().any(|(p, s)| stamp(p) != *s);
        if changed {
            let (stamps, setup) = read(&self.path);
            match &setup {
                Ok(_) => tracing::info!("web configuration {} reloaded", self.path.display()),
                Err(e) => tracing::error!("web configuration not reloaded: {e}"),
            }
            *loaded = Loaded {
                stamps,
                setup: setup.map_err(|e| e.to_string()),
            };
        }
        loaded.setup.clone()
    }
}

/// Reads `path` and the files it names, stamping each before it is read (a change made
/// while reading is seen by the next request).
fn read(path: &Path) -> (Vec<(PathBuf, Stamp)>, Result<WebSetup, WebConfigError>) {
    let mut stamps = vec![(path.to_owned(), stamp(path))];
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(source) => {
            let e = WebConfigError::Read {
                path: path.to_owned(),
                source,
            };
            return (stamps, Err(e));
        }
    };
    stamps.extend(web_config::named_files(&text, path).into_iter().map(|f| {
        let s = stamp(&f);
        (f, s)
    }));
    (stamps, web_config::parse(&text, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rewrites `p` with `text` so that its stamp surely changes (length or time).
    fn rewrite(p: &Path, text: &str) {
        std::fs::write(p, text).unwrap();
        let later = SystemTime::now() + std::time::Duration::from_secs(5);
        std::fs::File::options()
            .write(true)
            .open(p)
            .unwrap()
            .set_modified(later)
            .unwrap();
    }

    #[test]
    fn users_change_with_the_file_and_a_broken_version_is_not_used() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("web.yml");
        std::fs::write(&p, "").unwrap();
        let live = LiveWebConfig::open(&p).unwrap();
        assert!(live.current().unwrap().users.is_none());
        let hash = bcrypt::hash("secret", 4).unwrap();
        rewrite(&p, &format!("basic_auth_users:\n  alice: '{hash}'\n"));
        assert_eq!(live.current().unwrap().users.map(|u| u.len()), Some(1));
        rewrite(&p, "basic_auth_users: [not, a, map]\n");
        let err = live.current().unwrap_err();
        assert!(err.contains("web.yml"), "{err}");
        rewrite(&p, "");
        assert!(live.current().unwrap().users.is_none());
    }

    #[test]
    fn a_first_version_that_does_not_load_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("web.yml");
        std::fs::write(&p, "tls_server_config:\n  nonsense: 1\n").unwrap();
        let err = LiveWebConfig::open(&p).unwrap_err().to_string();
        assert!(err.contains("unknown field `nonsense`"), "{err}");
    }

    #[test]
    fn named_files_are_resolved_beside_the_configuration() {
        let p = Path::new("/etc/strata/web.yml");
        let files = web_config::named_files(
            "tls_server_config:\n  cert_file: a.crt\n  key_file: /k/a.key\n  client_ca_file: ca.crt\n",
            p,
        );
        assert_eq!(
            files,
            vec![
                PathBuf::from("/etc/strata/a.crt"),
                PathBuf::from("/k/a.key"),
                PathBuf::from("/etc/strata/ca.crt")
            ]
        );
    }
}
