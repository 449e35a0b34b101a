//! `--web.config.file`: TLS and users in Prometheus' web configuration format (the
//! exporter-toolkit's `web-config.yml`), served with rustls.
//!
//! ```yaml
//! tls_server_config:
//!   cert_file: server.crt            # PEM, chain first-to-last; relative to this file
//!   key_file: server.key             # PEM (PKCS#8, PKCS#1 or SEC1)
//!   client_auth_type: RequireAndVerifyClientCert   # or VerifyClientCertIfGiven, NoClientCert
//!   client_ca_file: ca.crt           # needed by the two Verify… policies
//!   min_version: TLS12               # TLS12 (default) or TLS13
//!   max_version: TLS13
//! basic_auth_users:
//!   alice: $2y$10$...                # bcrypt hash (htpasswd -nBC 10 "" | tr -d ':\n')
//! ```
//!
//! As in Prometheus: an unknown key is an error that names it; a `tls_server_config`
//! without certificate, key or client settings serves plain HTTP; `cert_file`/`cert` and
//! `key_file`/`key` come as a pair. Known keys Strata cannot honour (`cipher_suites`,
//! `curve_preferences`, `client_allowed_sans`, the two client-auth policies that accept
//! unverified certificates, `http_server_config.headers`) are errors too, never ignored;
//! `prefer_server_cipher_suites` and `http_server_config.http2` are accepted and have no
//! effect (rustls always takes the server's order; Strata serves HTTP/1.1). rustls speaks
//! TLS 1.2 and 1.3 only: `min_version: TLS10`/`TLS11` give TLS 1.2 (logged). As in
//! Prometheus the file is read again when it (or a certificate, key or CA file it names)
//! changes: see [`crate::web_reload`].

use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why a web configuration file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum WebConfigError {
    /// The file (or a file it names) could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Not YAML of the expected shape (an unknown key is named here).
    #[error("{path}: {message}")]
    Parse {
        /// The web configuration file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A key's value cannot be used.
    #[error("{path}: {key}: {message}")]
    Invalid {
        /// The web configuration file.
        path: PathBuf,
        /// The key, with its section (`tls_server_config.min_version`).
        key: String,
        /// What is wrong.
        message: String,
    },
    /// rustls refused the certificate, key or client CAs.
    #[error("{path}: tls_server_config: {source}")]
    Tls {
        /// The web configuration file.
        path: PathBuf,
        /// rustls' error.
        source: rustls::Error,
    },
}

#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct RawFile {
    tls_server_config: Option<RawTls>,
    http_server_config: Option<RawHttp>,
    basic_auth_users: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert_file: Option<String>,
    key_file: Option<String>,
    cert: Option<String>,
    key: Option<String>,
    client_auth_type: Option<String>,
    client_ca_file: Option<String>,
    client_allowed_sans: Option<Vec<String>>,
    min_version: Option<String>,
    max_version: Option<String>,
    cipher_suites: Option<Vec<String>>,
    prefer_server_cipher_suites: Option<bool>,
    curve_preferences: Option<Vec<String>>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    #[expect(
        dead_code,
        reason = "accepted for Prometheus compatibility; Strata serves HTTP/1.1 only"
    )]
    http2: Option<bool>,
    headers: Option<BTreeMap<String, String>>,
}

/// A loaded web configuration: what the connections and the auth layer use.
#[derive(Clone)]
pub struct WebSetup {
    /// The TLS settings, when the server speaks HTTPS.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// The users of `basic_auth_users`, when there are any.
    pub users: Option<Arc<crate::users::Users>>,
}

impl std::fmt::Debug for WebSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSetup")
            .field("tls", &self.tls.is_some())
            .field("users", &self.users.as_ref().map(|u| u.len()))
            .finish()
    }
}

/// Reads and checks the web configuration file at `path`.
pub fn load(path: &Path) -> Result<WebSetup, WebConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| WebConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(&text, path)
}

/// Checks the text of a web configuration file; relative paths in it are taken from
/// `path`'s directory, as Prometheus does.
pub fn parse(text: &str, path: &Path) -> Result<WebSetup, WebConfigError> {
    let raw: RawFile = if text.trim().is_empty() {
        RawFile::default()
    } else {
        serde_yaml::from_str(text).map_err(|e| WebConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?
    };
    let invalid = |key: &str, message: String| WebConfigError::Invalid {
        path: path.to_owned(),
        key: key.to_owned(),
        message,
    };
    if let Some(h) = &raw.http_server_config
        && h.headers.as_ref().is_some_and(|h| !h.is_empty())
    {
        return Err(invalid(
            "http_server_config.headers",
            "not supported by Strata (remove it)".into(),
        ));
    }
    let tls = match raw.tls_server_config {
        Some(t) => build_tls(t, path)?,
        None => None,
    };
    let users = match raw.basic_auth_users {
        Some(u) if !u.is_empty() => Some(Arc::new(
            crate::users::Users::new(u.into_iter().collect::<HashMap<_, _>>())
                .map_err(|(user, why)| invalid(&format!("basic_auth_users.{user}"), why))?,
        )),
        _ => None,
    };
    Ok(WebSetup { tls, users })
}

/// The files the configuration at `path` (text `text`) names: certificate, key and client
/// CA files, resolved as [`parse`] resolves them. Empty when the text does not parse.
pub(crate) fn named_files(text: &str, path: &Path) -> Vec<PathBuf> {
    let Ok(raw) = serde_yaml::from_str::<RawFile>(text) else {
        return Vec::new();
    };
    let Some(t) = raw.tls_server_config else {
        return Vec::new();
    };
    [t.cert_file, t.key_file, t.client_ca_file]
        .into_iter()
        .flatten()
        .filter(|f| !f.is_empty())
        .map(|f| beside(path, &f))
        .collect()
}

/// The file a key names, relative to the configuration file's directory.
fn beside(config: &Path, file: &str) -> PathBuf {
    let p = Path::new(file);
    if p.is_absolute() {
        p.to_owned()
    } else {
        config.parent().unwrap_or(Path::new("")).join(p)
    }
}

/// PEM text from an inline key or a file key (not both), or `None` when neither is set.
fn pem(
    config: &Path,
    inline: Option<String>,
    file: Option<String>,
    keys: (&str, &str),
) -> Result<Option<Vec<u8>>, WebConfigError> {
    match (
        inline.filter(|s| !s.is_empty()),
        file.filter(|s| !s.is_empty()),
    ) {
        (Some(_), Some(_)) => Err(WebConfigError::Invalid {
            path: config.to_owned(),
            key: format!("tls_server_config.{}", keys.0),
            message: format!("give {} or {}, not both", keys.0, keys.1),
        }),
        (Some(text), None) => Ok(Some(text.into_bytes())),
        (None, Some(f)) => {
            let at = beside(config, &f);
            std::fs::read(&at)
                .map(Some)
                .map_err(|source| WebConfigError::Read { path: at, source })
        }
        (None, None) => Ok(None),
    }
}

fn version(v: Option<&str>, key: &str, default: u8, config: &Path) -> Result<u8, WebConfigError> {
    match v.unwrap_or("") {
        "" => Ok(default),
        "TLS10" => Ok(10),
        "TLS11" => Ok(11),
        "TLS12" => Ok(12),
        "TLS13" => Ok(13),
        other => Err(WebConfigError::Invalid {
            path: config.to_owned(),
            key: format!("tls_server_config.{key}"),
            message: format!("unknown TLS version {other:?} (use TLS12 or TLS13)"),
        }),
    }
}

fn build_tls(t: RawTls, path: &Path) -> Result<Option<Arc<rustls::ServerConfig>>, WebConfigError> {
    let invalid = |key: &str, message: &str| WebConfigError::Invalid {
        path: path.to_owned(),
        key: format!("tls_server_config.{key}"),
        message: message.to_owned(),
    };
    for (key, set) in [
        ("cipher_suites", t.cipher_suites.is_some()),
        ("curve_preferences", t.curve_preferences.is_some()),
        ("client_allowed_sans", t.client_allowed_sans.is_some()),
    ] {
        if set {
            return Err(invalid(
                key,
                "not supported by Strata (rustls' defaults are used; remove it)",
            ));
        }
    }
    let _ = t.prefer_server_cipher_suites;
    let client_auth = t.client_auth_type.clone().unwrap_or_default();
    let client_ca = t.client_ca_file.clone().filter(|s| !s.is_empty());
    let min = version(t.min_version.as_deref(), "min_version", 12, path)?;
    let max = version(t.max_version.as_deref(), "max_version", 13, path)?;
    if max < 12 {
        return Err(invalid(
            "max_version",
            "Strata (rustls) speaks TLS 1.2 and 1.3 only",
        ));
    }
    if min > max {
        return Err(invalid("min_version", "above max_version"));
    }
    if min < 12 {
        tracing::warn!(
            "tls_server_config.min_version: TLS 1.0 and 1.1 are not offered (rustls); the minimum is TLS 1.2"
        );
    }
    let mut versions: Vec<&'static rustls::SupportedProtocolVersion> = Vec::new();
    if min <= 12 {
        versions.push(&rustls::version::TLS12);
    }
    if max >= 13 {
        versions.push(&rustls::version::TLS13);
    }
    let verify_optional = match client_auth.as_str() {
        "" | "NoClientCert" => {
            if client_ca.is_some() {
                return Err(invalid(
                    "client_ca_file",
                    "set, but client_auth_type is NoClientCert (use VerifyClientCertIfGiven or RequireAndVerifyClientCert)",
                ));
            }
            None
        }
        "VerifyClientCertIfGiven" => Some(true),
        "RequireAndVerifyClientCert" => Some(false),
        "RequestClientCert" | "RequireAnyClientCert" => {
            return Err(invalid(
                "client_auth_type",
                &format!(
                    "{client_auth} (accepting unverified client certificates) is not supported by Strata: use VerifyClientCertIfGiven or RequireAndVerifyClientCert"
                ),
            ));
        }
        other => {
            return Err(invalid(
                "client_auth_type",
                &format!(
                    "unknown {other:?} (use NoClientCert, VerifyClientCertIfGiven or RequireAndVerifyClientCert)"
                ),
            ));
        }
    };
    let cert = pem(path, t.cert, t.cert_file, ("cert", "cert_file"))?;
    let key = pem(path, t.key, t.key_file, ("key", "key_file"))?;
    if cert.is_none() && key.is_none() && client_auth.is_empty() && client_ca.is_none() {
        // As exporter-toolkit: no certificate and no client settings is plain HTTP.
        return Ok(None);
    }
    let cert = cert.ok_or_else(|| invalid("cert_file", "missing (key_file is set)"))?;
    let key = key.ok_or_else(|| invalid("key_file", "missing (cert_file is set)"))?;
    let chain = CertificateDer::pem_slice_iter(&cert)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid("cert_file", &format!("not a PEM certificate: {e}")))?;
    if chain.is_empty() {
        return Err(invalid("cert_file", "no PEM certificate in it"));
    }
    let key = PrivateKeyDer::from_pem_slice(&key)
        .map_err(|e| invalid("key_file", &format!("not a PEM private key: {e}")))?;

    #[expect(
        deprecated,
        reason = "ring is the provider the workspace builds (reqwest's rustls-tls); aws-lc-rs, which rustls now prefers for post-quantum key exchange, needs a C toolchain build"
    )]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls_err = |source| WebConfigError::Tls {
        path: path.to_owned(),
        source,
    };
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(tls_err)?;

    let builder = match verify_optional {
        None => builder.with_no_client_auth(),
        Some(optional) => {
            let ca_file = client_ca.ok_or_else(|| {
                invalid(
                    "client_ca_file",
                    &format!("missing: client_auth_type {client_auth} verifies client certificates against it"),
                )
            })?;
            let at = beside(path, &ca_file);
            let text = std::fs::read(&at).map_err(|source| WebConfigError::Read {
                path: at.clone(),
                source,
            })?;
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_slice_iter(&text) {
                let c = c.map_err(|e| {
                    invalid("client_ca_file", &format!("not a PEM certificate: {e}"))
                })?;
                roots.add(c).map_err(tls_err)?;
            }
            if roots.is_empty() {
                return Err(invalid("client_ca_file", "no PEM certificate in it"));
            }
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
            let verifier = if optional {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            let verifier = verifier
                .build()
                .map_err(|e| invalid("client_ca_file", &format!("cannot verify with it: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_single_cert(chain, key).map_err(tls_err)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some(Arc::new(config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        parse(text, Path::new("/etc/strata/web.yml"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn empty_file_is_plain_http_without_users() {
        let s = parse("", Path::new("w.yml")).unwrap();
        assert!(s.tls.is_none() && s.users.is_none());
        let s = parse("tls_server_config: {}\n", Path::new("w.yml")).unwrap();
        assert!(s.tls.is_none());
    }

    #[test]
    fn unknown_keys_are_named() {
        let e = err("tls_server_config:\n  cert_fil: a.crt\n");
        assert!(e.contains("cert_fil"), "{e}");
        assert!(e.starts_with("/etc/strata/web.yml: "), "{e}");
        let e = err("basic_auth_user:\n  a: b\n");
        assert!(e.contains("basic_auth_user"), "{e}");
        let e = err("http_server_config:\n  http3: true\n");
        assert!(e.contains("http3"), "{e}");
    }

    #[test]
    fn unsupported_and_inconsistent_settings_are_refused() {
        let e = err("tls_server_config:\n  cipher_suites: [TLS_AES_128_GCM_SHA256]\n");
        assert!(
            e.contains("tls_server_config.cipher_suites: not supported"),
            "{e}"
        );
        let e = err("tls_server_config:\n  cert_file: a.crt\n");
        assert!(e.contains("a.crt"), "{e}"); // read first: the file does not exist
        let e = err("tls_server_config:\n  client_auth_type: Sometimes\n  cert: x\n  key: y\n");
        assert!(
            e.contains("tls_server_config.client_auth_type: unknown \"Sometimes\""),
            "{e}"
        );
        let e = err("tls_server_config:\n  client_auth_type: RequireAnyClientCert\n");
        assert!(e.contains("is not supported"), "{e}");
        let e = err("tls_server_config:\n  client_ca_file: ca.crt\n  cert: x\n  key: y\n");
        assert!(
            e.contains("client_ca_file: set, but client_auth_type is NoClientCert"),
            "{e}"
        );
        let e = err("tls_server_config:\n  cert: x\n  key: y\n");
        assert!(
            e.contains("tls_server_config.cert_file: no PEM certificate"),
            "{e}"
        );
        let e = err("tls_server_config:\n  key: y\n");
        assert!(e.contains("tls_server_config.cert_file: missing"), "{e}");
        let e = err("tls_server_config:\n  cert: x\n  cert_file: a.crt\n");
        assert!(e.contains("give cert or cert_file, not both"), "{e}");
        let e = err("tls_server_config:\n  min_version: TLS14\n  cert: x\n  key: y\n");
        assert!(e.contains("unknown TLS version \"TLS14\""), "{e}");
        let e = err("http_server_config:\n  headers:\n    X-Frame-Options: deny\n");
        assert!(e.contains("http_server_config.headers"), "{e}");
        let e = err("basic_auth_users:\n  alice: plaintext\n");
        assert!(e.contains("basic_auth_users.alice"), "{e}");
    }
}
