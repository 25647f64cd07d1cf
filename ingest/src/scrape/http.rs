//! The HTTP client of a job (scrapes and HTTP discovery): TLS, redirects, HTTP/2 and
//! authentication from Prometheus' `http_config` fields. Credential files are read on every
//! request, so that rotated secrets are picked up without a reload, as in Prometheus.

use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderValue};

use super::config::HttpClientConfig;

/// A configured client.
#[derive(Debug, Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    config: HttpClientConfig,
}

fn read_file(path: &std::path::Path, what: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {what} {}: {e}", path.display()))
}

fn read_text(path: &std::path::Path, what: &str) -> Result<String, String> {
    let bytes = read_file(path, what)?;
    String::from_utf8(bytes)
        .map(|s| s.trim().to_string())
        .map_err(|_| format!("{what} {} is not UTF-8", path.display()))
}

impl HttpClient {
    /// Builds the client; `compression` asks for gzip responses.
    pub fn new(config: &HttpClientConfig, compression: bool) -> Result<Self, String> {
        let tls = &config.tls_config;
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("Strata/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(90))
            .danger_accept_invalid_certs(tls.insecure_skip_verify)
            .redirect(if config.follow_redirects {
                reqwest::redirect::Policy::limited(10)
            } else {
                reqwest::redirect::Policy::none()
            });
        if !compression {
            builder = builder.no_gzip();
        }
        if !config.enable_http2 {
            builder = builder.http1_only();
        }
        let ca = match (&tls.ca, &tls.ca_file) {
            (Some(pem), _) => Some(pem.as_bytes().to_vec()),
            (None, Some(path)) => Some(read_file(path, "CA file")?),
            (None, None) => None,
        };
        if let Some(pem) = ca {
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| format!("invalid CA certificate: {e}"))?;
            // A configured CA replaces the system's roots, as in Prometheus.
            builder = builder.tls_built_in_root_certs(false);
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let cert = match (&tls.cert, &tls.cert_file) {
            (Some(pem), _) => Some(pem.as_bytes().to_vec()),
            (None, Some(path)) => Some(read_file(path, "certificate file")?),
            (None, None) => None,
        };
        let key = match (&tls.key, &tls.key_file) {
            (Some(pem), _) => Some(pem.0.as_bytes().to_vec()),
            (None, Some(path)) => Some(read_file(path, "key file")?),
            (None, None) => None,
        };
        if let (Some(mut cert), Some(key)) = (cert, key) {
            cert.push(b'\n');
            cert.extend_from_slice(&key);
            let identity = reqwest::Identity::from_pem(&cert)
                .map_err(|e| format!("invalid client certificate or key: {e}"))?;
            builder = builder.identity(identity);
        }
        for (field, version) in [
            ("min_version", &tls.min_version),
            ("max_version", &tls.max_version),
        ] {
            let Some(v) = version else { continue };
            let parsed = match v.as_str() {
                "TLS12" => reqwest::tls::Version::TLS_1_2,
                "TLS13" => reqwest::tls::Version::TLS_1_3,
                other => {
                    return Err(format!(
                        "tls_config.{field}: unsupported TLS version {other:?} (TLS12 or TLS13)"
                    ));
                }
            };
            builder = if field == "min_version" {
                builder.min_tls_version(parsed)
            } else {
                builder.max_tls_version(parsed)
            };
        }
        if let Some(name) = &tls.server_name {
            return Err(format!(
                "tls_config.server_name {name:?}: not supported by Strata yet"
            ));
        }
        let client = builder
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Self {
            client,
            config: config.clone(),
        })
    }

    /// The `Authorization` header value, if any (files read now).
    fn authorization(&self) -> Result<Option<HeaderValue>, String> {
        let value = if let Some(b) = &self.config.basic_auth {
            let user = match &b.username_file {
                Some(p) => read_text(p, "username file")?,
                None => b.username.clone(),
            };
            let password = match &b.password_file {
                Some(p) => read_text(p, "password file")?,
                None => b.password.0.clone(),
            };
            use base64::Engine as _;
            let token =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            format!("Basic {token}")
        } else if let Some(a) = &self.config.authorization {
            let credentials = match &a.credentials_file {
                Some(p) => read_text(p, "credentials file")?,
                None => a.credentials.0.clone(),
            };
            format!("{} {credentials}", a.kind)
        } else {
            return Ok(None);
        };
        let mut header =
            HeaderValue::from_str(&value).map_err(|_| "credentials are not a valid header")?;
        header.set_sensitive(true);
        Ok(Some(header))
    }

    /// A GET request with the job's authentication.
    pub fn get(&self, url: &str) -> Result<reqwest::RequestBuilder, String> {
        self.authorized(self.client.get(url))
    }

    /// A POST request with the configured authentication (alerts to Alertmanager).
    pub fn post(&self, url: &str) -> Result<reqwest::RequestBuilder, String> {
        self.authorized(self.client.post(url))
    }

    fn authorized(
        &self,
        mut request: reqwest::RequestBuilder,
    ) -> Result<reqwest::RequestBuilder, String> {
        if let Some(auth) = self.authorization()? {
            request = request.header(AUTHORIZATION, auth);
        }
        Ok(request)
    }
}
