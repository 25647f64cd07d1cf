//! Validation of scrape jobs, their Kubernetes discovery and HTTP client settings, with
//! Prometheus' rules and messages (plus what Strata does not support, refused by name). Data
//! flow: [`Config::parse`](super::Config::parse) checks every file job here, and the scrape
//! manager checks every monitor job the same way before running it.

use std::path::Path;

use super::{
    ConfigError, GlobalConfig, HttpClientConfig, KUBERNETES_ROLES, KubernetesSdConfig,
    ScrapeConfig, UNSUPPORTED_SD,
};

impl ScrapeConfig {
    /// Checks one job against the global defaults (Prometheus' checks, plus what Strata does
    /// not support, refused by name); `at` names a field for errors.
    pub fn validate(
        &self,
        g: &GlobalConfig,
        at: &dyn Fn(&str) -> String,
    ) -> Result<(), ConfigError> {
        let err = |path: String, message: String| Err(ConfigError { path, message });
        let sc = self;
        let s = sc.settings(g);
        if s.interval.is_zero() {
            return err(
                at("scrape_interval"),
                "scrape interval must be positive".into(),
            );
        }
        if s.timeout > s.interval {
            return err(
                at("scrape_timeout"),
                format!(
                    "scrape timeout greater than scrape interval for scrape config with job name {:?}",
                    sc.job_name
                ),
            );
        }
        if s.protocols.is_empty() {
            return err(at("scrape_protocols"), "no scrape protocols".into());
        }
        if sc.scheme != "http" && sc.scheme != "https" {
            return err(
                at("scheme"),
                format!("unknown scheme {:?} (http or https)", sc.scheme),
            );
        }
        if !sc.metrics_path.starts_with('/') {
            return err(
                at("metrics_path"),
                format!("{:?} must start with /", sc.metrics_path),
            );
        }
        validate_http(&sc.http, &at)?;
        for (j, r) in sc.relabel_configs.iter().enumerate() {
            r.validate()
                .or_else(|m| err(at(&format!("relabel_configs[{j}]")), m))?;
        }
        for (j, r) in sc.metric_relabel_configs.iter().enumerate() {
            r.validate()
                .or_else(|m| err(at(&format!("metric_relabel_configs[{j}]")), m))?;
        }
        for (j, f) in sc.file_sd_configs.iter().enumerate() {
            for (k, pattern) in f.files.iter().enumerate() {
                let name = Path::new(pattern)
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default();
                let ok = [".json", ".yml", ".yaml"]
                    .iter()
                    .any(|ext| name.ends_with(ext));
                if !ok {
                    return err(
                        at(&format!("file_sd_configs[{j}].files[{k}]")),
                        format!("{pattern:?}: file must end in .json, .yml or .yaml"),
                    );
                }
                if glob::Pattern::new(pattern).is_err() {
                    return err(
                        at(&format!("file_sd_configs[{j}].files[{k}]")),
                        format!("{pattern:?} is not a valid file pattern"),
                    );
                }
            }
        }
        for (j, h) in sc.http_sd_configs.iter().enumerate() {
            let url = url::Url::parse(&h.url);
            if !matches!(&url, Ok(u) if u.scheme() == "http" || u.scheme() == "https") {
                return err(
                    at(&format!("http_sd_configs[{j}].url")),
                    format!("{:?} is not an http(s) URL", h.url),
                );
            }
            validate_http(&h.http, &|f: &str| at(&format!("http_sd_configs[{j}].{f}")))?;
            if let Some(field) = h.other.keys().next() {
                return err(
                    at(&format!("http_sd_configs[{j}].{field}")),
                    format!("unknown field `{field}`"),
                );
            }
        }
        for (j, k) in sc.kubernetes_sd_configs.iter().enumerate() {
            let at = |f: &str| at(&format!("kubernetes_sd_configs[{j}].{f}"));
            k.validate(&at)?;
        }
        if let Some(field) = sc.other_sd.keys().next() {
            let message = if UNSUPPORTED_SD.contains(&field.as_str()) {
                "service discovery not supported by Strata yet (use static_configs, \
                 file_sd_configs, http_sd_configs or kubernetes_sd_configs)"
                    .to_string()
            } else {
                format!("unknown field `{field}`")
            };
            return err(at(field), message);
        }
        Ok(())
    }
}

impl KubernetesSdConfig {
    /// Prometheus' checks, plus what Strata does not discover yet, refused by name.
    pub(super) fn validate(&self, at: &dyn Fn(&str) -> String) -> Result<(), ConfigError> {
        let err = |path: String, message: &str| {
            Err(ConfigError {
                path,
                message: message.to_string(),
            })
        };
        if !KUBERNETES_ROLES.contains(&self.role.as_str()) {
            return err(at("role"), &format!("invalid role {:?}", self.role));
        }
        if let Some(field) = self.other.keys().next() {
            return err(at(field), &format!("unknown field `{field}`"));
        }
        validate_connection(
            self.api_server.as_deref(),
            self.kubeconfig_file.is_some(),
            &self.http,
            at,
        )?;
        const ATTACH: [&str; 5] = ["node", "namespace", "deployment", "job", "cronjob"];
        if let Some(key) = self
            .attach_metadata
            .keys()
            .find(|k| !ATTACH.contains(&k.as_str()))
        {
            return err(
                at(&format!("attach_metadata.{key}")),
                &format!("unknown field `{key}`"),
            );
        }
        let allowed: &[&str] = match self.role.as_str() {
            "pod" => &["pod", "node"],
            "service" => &["service"],
            "endpointslice" => &["pod", "service", "endpointslice"],
            "endpoints" => &["pod", "service", "endpoints"],
            "ingress" => &["ingress"],
            _ => &["node"],
        };
        let mut seen = Vec::new();
        for (i, sel) in self.selectors.iter().enumerate() {
            if !allowed.contains(&sel.role.as_str()) {
                return err(
                    at(&format!("selectors[{i}].role")),
                    &format!(
                        "{} role supports only {} selectors",
                        self.role,
                        allowed.join(", ")
                    ),
                );
            }
            if seen.contains(&sel.role.as_str()) {
                return err(
                    at(&format!("selectors[{i}].role")),
                    &format!("duplicated selector role: {}", sel.role),
                );
            }
            seen.push(sel.role.as_str());
        }
        Ok(())
    }
}

/// The API server settings of Kubernetes discovery and `kubernetes_monitors`: an http(s)
/// `api_server`, or a kubeconfig file without either it or custom HTTP client settings.
pub(crate) fn validate_connection(
    api_server: Option<&str>,
    kubeconfig: bool,
    http: &HttpClientConfig,
    at: &dyn Fn(&str) -> String,
) -> Result<(), ConfigError> {
    let err = |path: String, message: &str| {
        Err(ConfigError {
            path,
            message: message.to_string(),
        })
    };
    if kubeconfig {
        if api_server.is_some() {
            return err(
                at("kubeconfig_file"),
                "cannot use 'kubeconfig_file' and 'api_server' simultaneously",
            );
        }
        if *http != HttpClientConfig::default() {
            return err(
                at("kubeconfig_file"),
                "cannot use a custom HTTP client configuration together with 'kubeconfig_file'",
            );
        }
    }
    if let Some(server) = api_server {
        let url = url::Url::parse(server);
        if !matches!(&url, Ok(u) if u.scheme() == "http" || u.scheme() == "https") {
            return err(
                at("api_server"),
                &format!("{server:?} is not an http(s) URL"),
            );
        }
    }
    validate_http(http, at)
}

fn validate_http(h: &HttpClientConfig, at: &dyn Fn(&str) -> String) -> Result<(), ConfigError> {
    let err = |field: &str, message: &str| {
        Err(ConfigError {
            path: at(field),
            message: message.into(),
        })
    };
    if h.basic_auth.is_some() && h.authorization.is_some() {
        return err(
            "authorization",
            "at most one of basic_auth, oauth2 & authorization must be configured",
        );
    }
    if let Some(b) = &h.basic_auth {
        if !b.username.is_empty() && b.username_file.is_some() {
            return err(
                "basic_auth",
                "at most one of basic_auth username & username_file must be configured",
            );
        }
        if !b.password.0.is_empty() && b.password_file.is_some() {
            return err(
                "basic_auth",
                "at most one of basic_auth password & password_file must be configured",
            );
        }
    }
    if let Some(a) = &h.authorization {
        if !a.credentials.0.is_empty() && a.credentials_file.is_some() {
            return err(
                "authorization",
                "at most one of authorization credentials & credentials_file must be configured",
            );
        }
        if a.kind.eq_ignore_ascii_case("basic") {
            return err(
                "authorization.type",
                "authorization type cannot be set to \"basic\", use \"basic_auth\" instead",
            );
        }
    }
    let tls = &h.tls_config;
    if tls.ca.is_some() && tls.ca_file.is_some() {
        return err(
            "tls_config",
            "at most one of ca and ca_file must be configured",
        );
    }
    if tls.cert.is_some() && tls.cert_file.is_some() {
        return err(
            "tls_config",
            "at most one of cert and cert_file must be configured",
        );
    }
    if tls.key.is_some() && tls.key_file.is_some() {
        return err(
            "tls_config",
            "at most one of key and key_file must be configured",
        );
    }
    let has_cert = tls.cert.is_some() || tls.cert_file.is_some();
    let has_key = tls.key.is_some() || tls.key_file.is_some();
    if has_cert != has_key {
        return err(
            "tls_config",
            "exactly one of key and key_file must be configured when a client certificate is configured",
        );
    }
    for (field, set) in [
        ("oauth2", h.oauth2.is_some()),
        ("proxy_url", h.proxy_url.is_some()),
        ("no_proxy", h.no_proxy.is_some()),
        (
            "proxy_from_environment",
            h.proxy_from_environment == Some(true),
        ),
        ("proxy_connect_header", h.proxy_connect_header.is_some()),
        ("http_headers", h.http_headers.is_some()),
    ] {
        if set {
            return err(field, "not supported by Strata yet");
        }
    }
    Ok(())
}
