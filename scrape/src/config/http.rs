//! The HTTP client settings a scrape job or an Alertmanager entry shares with
//! Prometheus (`basic_auth`, `authorization`, `bearer_token[_file]`, `tls_config`,
//! `follow_redirects`), and the client they build.

use super::ConfigError;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// `basic_auth`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    /// User name.
    pub username: String,
    /// Password, inline.
    #[serde(default)]
    pub password: Option<String>,
    /// Password read from this file at each request's client build.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
}

/// `authorization`: `Authorization: <type> <credentials>`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Authorization {
    /// Default `Bearer`.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// The credentials, inline.
    #[serde(default)]
    pub credentials: Option<String>,
    /// The credentials from a file.
    #[serde(default)]
    pub credentials_file: Option<PathBuf>,
}

/// `tls_config`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// CA certificates (PEM) to trust besides the built-in roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Client certificate (PEM), with `key_file`.
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    /// Client key (PEM), with `cert_file`.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// Accepted for compatibility; the URL's host is always the name checked.
    #[serde(default)]
    pub server_name: Option<String>,
    /// Skip certificate verification.
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// Accepted for compatibility (TLS 1.2 and 1.3 are used).
    #[serde(default)]
    pub min_version: Option<String>,
}

/// The HTTP settings of one job or Alertmanager entry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HttpClientConfig {
    /// HTTP basic authentication.
    pub basic_auth: Option<BasicAuth>,
    /// `Authorization` header (also set by the older `bearer_token[_file]`).
    pub authorization: Option<Authorization>,
    /// TLS.
    pub tls: TlsConfig,
    /// Follow redirects (default true).
    pub follow_redirects: bool,
}

impl HttpClientConfig {
    /// Builds from the YAML fields, checking what Prometheus checks.
    pub(crate) fn from_parts(
        basic_auth: Option<BasicAuth>,
        authorization: Option<Authorization>,
        bearer_token: Option<String>,
        bearer_token_file: Option<PathBuf>,
        tls: Option<TlsConfig>,
        follow_redirects: Option<bool>,
    ) -> Result<HttpClientConfig, String> {
        let mut n = 0;
        n += usize::from(basic_auth.is_some());
        n += usize::from(authorization.is_some());
        n += usize::from(bearer_token.is_some() || bearer_token_file.is_some());
        if n > 1 {
            return Err(
                "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured"
                    .into(),
            );
        }
        if bearer_token.is_some() && bearer_token_file.is_some() {
            return Err(
                "at most one of bearer_token & bearer_token_file must be configured".into(),
            );
        }
        if let Some(b) = &basic_auth
            && b.password.is_some()
            && b.password_file.is_some()
        {
            return Err(
                "at most one of basic_auth password & password_file must be configured".into(),
            );
        }
        let authorization = match (authorization, bearer_token, bearer_token_file) {
            (Some(a), _, _) => {
                if a.credentials.is_some() && a.credentials_file.is_some() {
                    return Err(
                        "at most one of authorization credentials & credentials_file must be configured"
                            .into(),
                    );
                }
                if a.kind
                    .as_deref()
                    .is_some_and(|k| k.eq_ignore_ascii_case("basic"))
                {
                    return Err(
                        "authorization type cannot be set to \"basic\", use \"basic_auth\" instead"
                            .into(),
                    );
                }
                Some(a)
            }
            (None, Some(t), _) => Some(Authorization {
                kind: None,
                credentials: Some(t),
                credentials_file: None,
            }),
            (None, None, Some(f)) => Some(Authorization {
                kind: None,
                credentials: None,
                credentials_file: Some(f),
            }),
            (None, None, None) => None,
        };
        let tls = tls.unwrap_or_default();
        if tls.cert_file.is_some() != tls.key_file.is_some() {
            return Err("tls_config: cert_file and key_file must both be set".into());
        }
        Ok(HttpClientConfig {
            basic_auth,
            authorization,
            tls,
            follow_redirects: follow_redirects.unwrap_or(true),
        })
    }

    /// Makes relative file names relative to the config file's directory.
    pub(crate) fn resolve_paths(&mut self, dir: &Path) {
        let fix = |p: &mut Option<PathBuf>| {
            if let Some(x) = p
                && x.is_relative()
            {
                *x = dir.join(&*x);
            }
        };
        if let Some(b) = &mut self.basic_auth {
            fix(&mut b.password_file);
        }
        if let Some(a) = &mut self.authorization {
            fix(&mut a.credentials_file);
        }
        fix(&mut self.tls.ca_file);
        fix(&mut self.tls.cert_file);
        fix(&mut self.tls.key_file);
    }

    /// The HTTP client these settings describe (gzip on, as Prometheus asks for it).
    pub fn client(&self, timeout: std::time::Duration) -> Result<reqwest::Client, ConfigError> {
        let mut b = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("Strata/", env!("CARGO_PKG_VERSION")))
            .redirect(if self.follow_redirects {
                reqwest::redirect::Policy::limited(10)
            } else {
                reqwest::redirect::Policy::none()
            })
            .danger_accept_invalid_certs(self.tls.insecure_skip_verify);
        if let Some(ca) = &self.tls.ca_file {
            let pem = read(ca)?;
            for cert in
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| ConfigError::Tls {
                    path: ca.clone(),
                    reason: e.to_string(),
                })?
            {
                b = b.add_root_certificate(cert);
            }
        }
        if let (Some(c), Some(k)) = (&self.tls.cert_file, &self.tls.key_file) {
            let mut pem = read(c)?;
            pem.extend_from_slice(b"\n");
            pem.extend_from_slice(&read(k)?);
            let id = reqwest::Identity::from_pem(&pem).map_err(|e| ConfigError::Tls {
                path: c.clone(),
                reason: e.to_string(),
            })?;
            b = b.identity(id);
        }
        b.build().map_err(|e| ConfigError::Tls {
            path: PathBuf::new(),
            reason: e.to_string(),
        })
    }

    /// The `Authorization` header value for a request, if any (files read now, so a
    /// rotated secret is picked up).
    pub fn auth_header(&self) -> Result<Option<String>, ConfigError> {
        if let Some(b) = &self.basic_auth {
            let password = match (&b.password, &b.password_file) {
                (Some(p), _) => p.clone(),
                (None, Some(f)) => read_secret(f)?,
                (None, None) => String::new(),
            };
            use base64::Engine as _;
            let token = base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{password}", b.username));
            return Ok(Some(format!("Basic {token}")));
        }
        if let Some(a) = &self.authorization {
            let kind = a.kind.clone().unwrap_or_else(|| "Bearer".into());
            let cred = match (&a.credentials, &a.credentials_file) {
                (Some(c), _) => c.clone(),
                (None, Some(f)) => read_secret(f)?,
                (None, None) => String::new(),
            };
            return Ok(Some(format!("{kind} {cred}")));
        }
        Ok(None)
    }
}

fn read(path: &Path) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(path).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn read_secret(path: &Path) -> Result<String, ConfigError> {
    Ok(String::from_utf8_lossy(&read(path)?).trim().to_owned())
}
