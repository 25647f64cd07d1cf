//! The web configuration file of Prometheus' `--web.config.file` (the exporter-toolkit
//! format): `tls_server_config`, `http_server_config` and `basic_auth_users` (bcrypt
//! hashes). Read strictly: an unknown field, or one Strata does not implement
//! (`cipher_suites`, `curve_preferences`, `client_allowed_sans`, TLS below 1.2), is refused
//! by name rather than ignored, so that a file never protects less than it says.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// A web configuration file that cannot be used; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("web configuration {path}: {message}")]
pub struct WebConfigError {
    pub path: String,
    pub message: String,
}

/// `tls_server_config`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsServerConfig {
    /// Certificate chain (PEM), inline or from a file.
    #[serde(default)]
    pub cert: String,
    #[serde(default)]
    pub cert_file: String,
    /// Private key (PEM), inline or from a file.
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub key_file: String,
    /// `NoClientCert` (default), `RequestClientCert`, `RequireAnyClientCert`,
    /// `VerifyClientCertIfGiven` or `RequireAndVerifyClientCert`.
    #[serde(default)]
    pub client_auth_type: String,
    /// CA certificates (PEM) that client certificates are verified against.
    #[serde(default)]
    pub client_ca: String,
    #[serde(default)]
    pub client_ca_file: String,
    /// `TLS12` (default) or `TLS13`.
    #[serde(default)]
    pub min_version: String,
    #[serde(default)]
    pub max_version: String,
    #[serde(default)]
    pub cipher_suites: Vec<String>,
    #[serde(default)]
    pub curve_preferences: Vec<String>,
    #[serde(default)]
    pub prefer_server_cipher_suites: Option<bool>,
    #[serde(default)]
    pub client_allowed_sans: Vec<String>,
}

/// `http_server_config`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpServerConfig {
    /// HTTP/2 over TLS (on by default in Prometheus; Strata's TLS listener speaks HTTP/1.1
    /// and HTTP/2).
    #[serde(default)]
    pub http2: Option<bool>,
    /// Headers added to every response (the security headers Prometheus allows).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebConfig {
    #[serde(default)]
    pub tls_server_config: Option<TlsServerConfig>,
    #[serde(default)]
    pub http_server_config: HttpServerConfig,
    /// User name → bcrypt hash of the password.
    #[serde(default)]
    pub basic_auth_users: BTreeMap<String, String>,
    /// The directory relative file names are read from.
    #[serde(skip)]
    pub dir: PathBuf,
}

/// The response headers `http_server_config.headers` may set (exporter-toolkit's list).
const ALLOWED_HEADERS: [&str; 5] = [
    "Content-Security-Policy",
    "X-Frame-Options",
    "X-Content-Type-Options",
    "X-XSS-Protection",
    "Strict-Transport-Security",
];

/// Client certificate policies, as Go's `tls.ClientAuthType` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    None,
    Request,
    RequireAny,
    VerifyIfGiven,
    RequireAndVerify,
}

impl WebConfig {
    /// Reads and validates `path`.
    pub fn load(path: &Path) -> Result<Self, WebConfigError> {
        let error = |message: String| WebConfigError {
            path: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| error(e.to_string()))?;
        let mut config = Self::parse(&text).map_err(error)?;
        config.dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        Ok(config)
    }

    /// Parses and validates a configuration's text.
    pub fn parse(text: &str) -> Result<Self, String> {
        let config: Self = if text.trim().is_empty() {
            Self::default()
        } else {
            serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?
        };
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), String> {
        for (user, hash) in &self.basic_auth_users {
            if !(hash.starts_with("$2a$") || hash.starts_with("$2b$") || hash.starts_with("$2y$")) {
                return Err(format!(
                    "basic_auth_users: the password of {user:?} is not a bcrypt hash ($2a$, $2b$ or $2y$)"
                ));
            }
        }
        for name in self.http_server_config.headers.keys() {
            if !ALLOWED_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name)) {
                return Err(format!(
                    "http_server_config.headers: {name:?} cannot be set (allowed: {})",
                    ALLOWED_HEADERS.join(", ")
                ));
            }
        }
        if let Some(tls) = &self.tls_server_config {
            tls.validate()?;
        }
        Ok(())
    }
}

impl TlsServerConfig {
    fn validate(&self) -> Result<(), String> {
        let field = |name: &str, set: bool| -> Result<(), String> {
            if set {
                Err(format!(
                    "tls_server_config.{name} is not supported by Strata (rustls chooses among its own secure defaults)"
                ))
            } else {
                Ok(())
            }
        };
        field("cipher_suites", !self.cipher_suites.is_empty())?;
        field("curve_preferences", !self.curve_preferences.is_empty())?;
        field("client_allowed_sans", !self.client_allowed_sans.is_empty())?;
        if self.cert.is_empty() && self.cert_file.is_empty() {
            return Err("tls_server_config: missing cert_file or cert".into());
        }
        if self.key.is_empty() && self.key_file.is_empty() {
            return Err("tls_server_config: missing key_file or key".into());
        }
        if !self.cert.is_empty() && !self.cert_file.is_empty() {
            return Err("tls_server_config: at most one of cert and cert_file must be set".into());
        }
        if !self.key.is_empty() && !self.key_file.is_empty() {
            return Err("tls_server_config: at most one of key and key_file must be set".into());
        }
        let auth = self.client_auth()?;
        if matches!(auth, ClientAuth::Request | ClientAuth::RequireAny) {
            return Err(format!(
                "tls_server_config: client_auth_type {} is not supported by Strata (client certificates are always verified): use VerifyClientCertIfGiven or RequireAndVerifyClientCert",
                self.client_auth_type
            ));
        }
        let has_ca = !self.client_ca.is_empty() || !self.client_ca_file.is_empty();
        if has_ca && auth == ClientAuth::None {
            return Err(
                "tls_server_config: Client CA's have been configured without a Client Auth Policy"
                    .into(),
            );
        }
        if matches!(
            auth,
            ClientAuth::VerifyIfGiven | ClientAuth::RequireAndVerify
        ) && !has_ca
        {
            return Err(format!(
                "tls_server_config: client_auth_type {} needs client_ca_file",
                self.client_auth_type
            ));
        }
        self.versions()?;
        Ok(())
    }

    /// The client certificate policy.
    pub fn client_auth(&self) -> Result<ClientAuth, String> {
        Ok(match self.client_auth_type.as_str() {
            "" | "NoClientCert" => ClientAuth::None,
            "RequestClientCert" => ClientAuth::Request,
            "RequireAnyClientCert" => ClientAuth::RequireAny,
            "VerifyClientCertIfGiven" => ClientAuth::VerifyIfGiven,
            "RequireAndVerifyClientCert" => ClientAuth::RequireAndVerify,
            other => return Err(format!("tls_server_config: invalid ClientAuth {other:?}")),
        })
    }

    /// Whether TLS 1.2 and TLS 1.3 are allowed.
    pub fn versions(&self) -> Result<(bool, bool), String> {
        let rank = |name: &str, field: &str, default: u8| -> Result<u8, String> {
            match name {
                "" => Ok(default),
                "TLS12" => Ok(12),
                "TLS13" => Ok(13),
                "TLS10" | "TLS11" => Err(format!(
                    "tls_server_config.{field}: {name} is not supported (TLS 1.2 and 1.3 only)"
                )),
                other => Err(format!(
                    "tls_server_config.{field}: unknown TLS version {other:?}"
                )),
            }
        };
        let min = rank(&self.min_version, "min_version", 12)?;
        let max = rank(&self.max_version, "max_version", 13)?;
        if min > max {
            return Err("tls_server_config: max_version is below min_version".into());
        }
        Ok((min <= 12, max >= 13))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_as_prometheus_reads_them() {
        let c = WebConfig::parse(
            "basic_auth_users:\n  alice: $2y$10$X0h1gDsPszWURQaxFh.zoubFi6DXncSjhoQNJgRrnGs7EsimhC7zG\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n",
        )
        .unwrap();
        assert_eq!(c.basic_auth_users.len(), 1);
        assert!(c.tls_server_config.is_none());
        assert_eq!(WebConfig::parse("").unwrap(), WebConfig::default());
        for (text, message) in [
            ("basic_auth_users:\n  bob: plain\n", "not a bcrypt hash"),
            ("bogus: 1\n", "unknown field `bogus`"),
            (
                "http_server_config:\n  headers:\n    Server: x\n",
                "cannot be set",
            ),
            ("tls_server_config:\n  key_file: k\n", "missing cert_file"),
            ("tls_server_config:\n  cert_file: c\n", "missing key_file"),
            (
                "tls_server_config:\n  cert_file: c\n  key_file: k\n  client_ca_file: ca\n",
                "without a Client Auth Policy",
            ),
            (
                "tls_server_config:\n  cert_file: c\n  key_file: k\n  client_auth_type: RequireAndVerifyClientCert\n",
                "needs client_ca_file",
            ),
            (
                "tls_server_config:\n  cert_file: c\n  key_file: k\n  client_auth_type: Sometimes\n",
                "invalid ClientAuth",
            ),
            (
                "tls_server_config:\n  cert_file: c\n  key_file: k\n  client_auth_type: RequireAnyClientCert\n",
                "always verified",
            ),
            (
                "tls_server_config:\n  cert_file: c\n  key_file: k\n  min_version: TLS10\n",
                "not supported",
            ),
            (
                "tls_server_config:\n  cert_file: c\n  key_file: k\n  cipher_suites: [TLS_AES_128_GCM_SHA256]\n",
                "cipher_suites is not supported",
            ),
        ] {
            let err = WebConfig::parse(text).unwrap_err();
            assert!(err.contains(message), "{text}: {err}");
        }
    }
}
