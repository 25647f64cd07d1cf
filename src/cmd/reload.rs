//! Configuration reloads, as Prometheus does them: SIGHUP and `POST /-/reload` re-read the
//! configuration file, then apply it to each part of the process in turn — the scrape
//! manager (jobs, discovery) and the rule evaluator (rule files, Alertmanagers, external
//! labels). A part whose new configuration is invalid keeps its old one and the reload
//! reports the failure; parts that accepted theirs keep the new one (Prometheus' reloaders
//! behave the same way).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use strata_api::AsyncAction;
use strata_ingest::scrape::ScrapeManager;
use strata_rules::config::RulesConfig;
use strata_rules::evaluator::Evaluator;

use super::scrape::{StopRx, stopped};

/// The parts of a process a reload re-configures.
#[derive(Clone, Default)]
pub(crate) struct Reloadables {
    pub(crate) scraper: Option<Arc<ScrapeManager>>,
    /// The evaluator and the configuration file it reads.
    pub(crate) rules: Option<(Arc<Evaluator>, PathBuf)>,
}

impl Reloadables {
    /// Whether anything can be reloaded.
    pub(crate) fn is_empty(&self) -> bool {
        self.scraper.is_none() && self.rules.is_none()
    }

    /// Re-reads the configuration into every part; the first failure is returned after the
    /// others were tried.
    pub(crate) async fn reload(&self) -> Result<(), String> {
        let mut failures = Vec::new();
        if let Some(scraper) = &self.scraper
            && let Err(e) = scraper.reload().await
        {
            failures.push(format!("scrape configuration: {e}"));
        }
        if let Some((evaluator, path)) = &self.rules {
            let base = path.parent().unwrap_or(Path::new("."));
            if let Err(e) = RulesConfig::load(path).and_then(|c| evaluator.reload(&c, base)) {
                failures.push(format!("rules: {e}"));
            }
        }
        if failures.is_empty() {
            tracing::info!("configuration reloaded");
            Ok(())
        } else {
            let message = failures.join("; ");
            tracing::error!(error = %message, "reload failed; the previous configuration stays");
            Err(message)
        }
    }

    /// The reload as the API's `/-/reload` action.
    pub(crate) fn action(&self) -> AsyncAction {
        let me = self.clone();
        AsyncAction(Arc::new(move || {
            let me = me.clone();
            Box::pin(async move { me.reload().await })
        }))
    }

    /// Reloads on every SIGHUP until `stop`.
    pub(crate) fn on_sighup(&self, stop: &StopRx) -> Result<(), String> {
        #[cfg(unix)]
        {
            let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
                .map_err(|e| format!("cannot listen for SIGHUP: {e}"))?;
            let (me, stop) = (self.clone(), stop.clone());
            tokio::spawn(async move {
                let mut stopping = std::pin::pin!(stopped(stop));
                loop {
                    tokio::select! {
                        _ = hup.recv() => { let _ = me.reload().await; }
                        _ = &mut stopping => return,
                    }
                }
            });
        }
        #[cfg(not(unix))]
        let _ = stop;
        Ok(())
    }
}
