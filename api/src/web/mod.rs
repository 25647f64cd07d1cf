//! `--web.config.file`, as Prometheus and its exporters read it (exporter-toolkit): basic
//! authentication with bcrypt-hashed passwords, TLS (with optional client certificates)
//! and extra security headers, for every HTTP surface of Strata.
//!
//! The file is re-read when it changes (checked at each request and each TLS handshake,
//! as exporter-toolkit re-reads it), so passwords and certificates rotate without a restart;
//! a change that does not validate is logged and the previous configuration stays. Whether
//! the listener speaks TLS is decided at start, as in Prometheus.

mod auth;
pub mod config;
mod tls;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::Router;

pub use config::{WebConfig, WebConfigError};

/// A web configuration file and its latest valid contents.
#[derive(Debug)]
pub struct WebConfigFile {
    path: PathBuf,
    current: Mutex<(Option<SystemTime>, Arc<WebConfig>)>,
    /// Successful password checks, by SHA-256 of user, hash and password (bcrypt is slow on
    /// purpose; exporter-toolkit caches the same way).
    verified: Mutex<std::collections::HashSet<[u8; 32]>>,
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

impl WebConfigFile {
    /// Reads and validates `path` (and its TLS material, when it configures TLS).
    pub fn open(path: &Path) -> Result<Arc<Self>, WebConfigError> {
        let config = WebConfig::load(path)?;
        if let Some(t) = &config.tls_server_config {
            tls::server_config(t, &config.dir, config.http_server_config.http2).map_err(
                |message| WebConfigError {
                    path: path.display().to_string(),
                    message,
                },
            )?;
        }
        Ok(Arc::new(Self {
            path: path.to_path_buf(),
            current: Mutex::new((modified(path), Arc::new(config))),
            verified: Mutex::default(),
        }))
    }

    /// The configuration now: re-read if the file changed since it was last read.
    pub fn current(&self) -> Arc<WebConfig> {
        let Ok(mut current) = self.current.lock() else {
            return Arc::new(WebConfig::default());
        };
        let now = modified(&self.path);
        if now != current.0 {
            match WebConfig::load(&self.path) {
                Ok(config) => {
                    tracing::info!(file = %self.path.display(), "web configuration reloaded");
                    if let Ok(mut v) = self.verified.lock() {
                        v.clear();
                    }
                    *current = (now, Arc::new(config));
                }
                Err(e) => {
                    tracing::error!(error = %e, "web configuration not reloaded; the previous one stays");
                    current.0 = now;
                }
            }
        }
        current.1.clone()
    }
}

/// Serves `app` on `listener` until `shutdown`, behind `web`'s authentication, headers and
/// TLS when given.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    web: Option<Arc<WebConfigFile>>,
) -> std::io::Result<()> {
    let Some(web) = web else {
        return axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await;
    };
    let app = app.layer(axum::middleware::from_fn_with_state(
        web.clone(),
        auth::check,
    ));
    if web.current().tls_server_config.is_some() {
        tls::serve(listener, app, shutdown, web).await
    } else {
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
    }
}
