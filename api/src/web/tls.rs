//! TLS for the HTTP surfaces: rustls with the certificate chain and key of
//! `tls_server_config`, TLS 1.2 and 1.3 (bounded by `min_version`/`max_version`), HTTP/2
//! and HTTP/1.1 by ALPN, and client certificates verified against `client_ca_file` when
//! `client_auth_type` asks for them. The files are read at each handshake, so a renewed
//! certificate is served without a restart.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;

use super::WebConfigFile;
use super::config::{ClientAuth, TlsServerConfig};

/// A handshake that takes longer is dropped (a client that connects and says nothing).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The rustls configuration of `tls` (relative files under `dir`).
pub(super) fn server_config(
    tls: &TlsServerConfig,
    dir: &Path,
    http2: Option<bool>,
) -> Result<rustls::ServerConfig, String> {
    let read = |inline: &str, file: &str, what: &str| -> Result<Vec<u8>, String> {
        if !inline.is_empty() {
            return Ok(inline.as_bytes().to_vec());
        }
        std::fs::read(dir.join(file))
            .map_err(|e| format!("tls_server_config: cannot read {what} {file:?}: {e}"))
    };
    let cert_pem = read(&tls.cert, &tls.cert_file, "cert_file")?;
    let certs = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("tls_server_config: cert_file: {e}"))?;
    if certs.is_empty() {
        return Err("tls_server_config: cert_file holds no certificate".into());
    }
    let key_pem = read(&tls.key, &tls.key_file, "key_file")?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| format!("tls_server_config: key_file: {e}"))?;
    let (tls12, tls13) = tls.versions()?;
    let mut versions: Vec<&'static rustls::SupportedProtocolVersion> = Vec::new();
    if tls13 {
        versions.push(&rustls::version::TLS13);
    }
    if tls12 {
        versions.push(&rustls::version::TLS12);
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| format!("tls_server_config: {e}"))?;
    let auth = tls.client_auth()?;
    let builder = if auth == ClientAuth::None {
        builder.with_no_client_auth()
    } else {
        let ca_pem = read(&tls.client_ca, &tls.client_ca_file, "client_ca_file")?;
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(&ca_pem) {
            let cert = cert.map_err(|e| format!("tls_server_config: client_ca_file: {e}"))?;
            roots
                .add(cert)
                .map_err(|e| format!("tls_server_config: client_ca_file: {e}"))?;
        }
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
        let verifier = if auth == ClientAuth::VerifyIfGiven {
            verifier.allow_unauthenticated()
        } else {
            verifier
        };
        builder.with_client_cert_verifier(
            verifier
                .build()
                .map_err(|e| format!("tls_server_config: client_ca_file: {e}"))?,
        )
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| format!("tls_server_config: {e}"))?;
    config.alpn_protocols = if http2 == Some(false) {
        vec![b"http/1.1".to_vec()]
    } else {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    };
    Ok(config)
}

/// Accepts TLS connections until `shutdown`; each is served by `app` on its own task.
pub(super) async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    web: Arc<WebConfigFile>,
) -> std::io::Result<()> {
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => return Ok(()),
        };
        let config = web.current();
        let Some(tls) = &config.tls_server_config else {
            // TLS was removed from the file: the listener stays TLS until a restart.
            tracing::warn!(
                "tls_server_config removed from the web configuration; restart to serve plain HTTP"
            );
            continue;
        };
        let server = match server_config(tls, &config.dir, config.http_server_config.http2) {
            Ok(s) => Arc::new(s),
            Err(e) => {
                tracing::error!(error = %e, "TLS configuration unusable; connection refused");
                continue;
            }
        };
        let app = app.clone();
        tokio::spawn(async move {
            let acceptor = tokio_rustls::TlsAcceptor::from(server);
            let stream =
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => return,
                };
            let service = TowerToHyperService::new(app);
            if let Err(e) = Builder::new(TokioExecutor::new())
                .serve_connection_with_upgrades(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
}
