//! `kubeconfig_file`: the API server and credentials of a kubeconfig's current context, as
//! kubectl reads them — the cluster's `server`, `certificate-authority[-data]` and
//! `insecure-skip-tls-verify`; the user's `token[File]`, `client-certificate[-data]` and
//! `client-key[-data]`, or `username`/`password`. Relative file names are relative to the
//! kubeconfig. Exec and auth-provider plugins are refused by name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine;
use serde::Deserialize;

use crate::scrape::config::{Authorization, BasicAuth, HttpClientConfig, Secret};

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Kubeconfig {
    #[serde(rename = "current-context")]
    current_context: String,
    contexts: Vec<Named<Context>>,
    clusters: Vec<Named<Cluster>>,
    users: Vec<Named<User>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Named<T> {
    name: String,
    #[serde(alias = "context", alias = "cluster", alias = "user")]
    value: T,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Context {
    cluster: String,
    user: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
struct Cluster {
    server: String,
    certificate_authority: Option<PathBuf>,
    certificate_authority_data: Option<String>,
    insecure_skip_tls_verify: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
struct User {
    token: Option<String>,
    #[serde(rename = "tokenFile")]
    token_file: Option<PathBuf>,
    client_certificate: Option<PathBuf>,
    client_certificate_data: Option<String>,
    client_key: Option<PathBuf>,
    client_key_data: Option<String>,
    username: Option<String>,
    password: Option<String>,
    exec: Option<serde_yaml_ng::Value>,
    auth_provider: Option<serde_yaml_ng::Value>,
    #[serde(flatten)]
    other: BTreeMap<String, serde_yaml_ng::Value>,
}

fn decode(data: &str, what: &str) -> Result<String, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|e| format!("{what}: not base64: {e}"))?;
    String::from_utf8(bytes).map_err(|_| format!("{what}: not PEM text"))
}

/// The API server URL and client settings of `path`'s current context.
pub fn load(path: &Path) -> Result<(String, HttpClientConfig), String> {
    let error = |m: String| format!("kubeconfig_file {}: {m}", path.display());
    let text = std::fs::read_to_string(path).map_err(|e| error(e.to_string()))?;
    let config: Kubeconfig = serde_yaml_ng::from_str(&text).map_err(|e| error(e.to_string()))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let relative = |p: &PathBuf| {
        if p.is_absolute() {
            p.clone()
        } else {
            dir.join(p)
        }
    };
    let context = config
        .contexts
        .iter()
        .find(|c| c.name == config.current_context)
        .ok_or_else(|| error(format!("no context {:?}", config.current_context)))?;
    let cluster = config
        .clusters
        .iter()
        .find(|c| c.name == context.value.cluster)
        .map(|c| &c.value)
        .ok_or_else(|| error(format!("no cluster {:?}", context.value.cluster)))?;
    if cluster.server.is_empty() {
        return Err(error(format!(
            "cluster {:?} has no server",
            context.value.cluster
        )));
    }
    let mut http = HttpClientConfig::default();
    http.tls_config.insecure_skip_verify = cluster.insecure_skip_tls_verify;
    if let Some(data) = &cluster.certificate_authority_data {
        http.tls_config.ca = Some(decode(data, "certificate-authority-data").map_err(error)?);
    } else if let Some(file) = &cluster.certificate_authority {
        http.tls_config.ca_file = Some(relative(file));
    }
    if let Some(user) = config
        .users
        .iter()
        .find(|u| u.name == context.value.user)
        .map(|u| &u.value)
    {
        if user.exec.is_some() || user.auth_provider.is_some() {
            return Err(error(
                "exec and auth-provider credential plugins are not supported: use a token, \
                 a token file or a client certificate"
                    .into(),
            ));
        }
        if let Some(field) = user.other.keys().next() {
            return Err(error(format!("user field {field:?} is not supported")));
        }
        if user.token.is_some() || user.token_file.is_some() {
            http.authorization = Some(Authorization {
                kind: "Bearer".into(),
                credentials: Secret(user.token.clone().unwrap_or_default()),
                credentials_file: user.token_file.as_ref().map(relative),
            });
        } else if let Some(username) = &user.username {
            http.basic_auth = Some(BasicAuth {
                username: username.clone(),
                username_file: None,
                password: Secret(user.password.clone().unwrap_or_default()),
                password_file: None,
            });
        }
        if let Some(data) = &user.client_certificate_data {
            http.tls_config.cert = Some(decode(data, "client-certificate-data").map_err(error)?);
        } else if let Some(file) = &user.client_certificate {
            http.tls_config.cert_file = Some(relative(file));
        }
        if let Some(data) = &user.client_key_data {
            http.tls_config.key = Some(Secret(decode(data, "client-key-data").map_err(error)?));
        } else if let Some(file) = &user.client_key {
            http.tls_config.key_file = Some(relative(file));
        }
    }
    Ok((cluster.server.trim_end_matches('/').to_string(), http))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_context_as_kubectl_reads_it() {
        let dir = tempfile::tempdir().unwrap();
        let ca = base64::engine::general_purpose::STANDARD.encode("-----BEGIN CERTIFICATE-----\n");
        let path = dir.path().join("config");
        std::fs::write(
            &path,
            format!(
                "apiVersion: v1\nkind: Config\ncurrent-context: b\ncontexts:\n- name: a\n  context: {{cluster: one, user: u1}}\n- name: b\n  context: {{cluster: two, user: u2}}\nclusters:\n- name: one\n  cluster: {{server: 'https://one:6443'}}\n- name: two\n  cluster: {{server: 'https://two:6443/', certificate-authority-data: {ca}}}\nusers:\n- name: u1\n  user: {{token: t1}}\n- name: u2\n  user: {{tokenFile: token, client-certificate: certs/c.crt, client-key: /abs/c.key}}\n"
            ),
        )
        .unwrap();
        let (server, http) = load(&path).unwrap();
        assert_eq!(server, "https://two:6443");
        assert_eq!(
            http.tls_config.ca.as_deref(),
            Some("-----BEGIN CERTIFICATE-----\n")
        );
        let auth = http.authorization.unwrap();
        assert_eq!(auth.credentials_file, Some(dir.path().join("token")));
        assert_eq!(
            http.tls_config.cert_file,
            Some(dir.path().join("certs/c.crt"))
        );
        assert_eq!(http.tls_config.key_file, Some(PathBuf::from("/abs/c.key")));
        std::fs::write(
            &path,
            "current-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\nclusters: [{name: c, cluster: {server: 'https://c'}}]\nusers: [{name: u, user: {exec: {command: aws}}}]\n",
        )
        .unwrap();
        assert!(load(&path).unwrap_err().contains("exec and auth-provider"));
        std::fs::write(&path, "current-context: nope\n").unwrap();
        assert!(load(&path).unwrap_err().contains("no context \"nope\""));
    }
}
