//! One target's scrape loop: fetch, parse, label, append, report — every interval.
//!
//! Data flow of one scrape: the body is fetched (gzip, `Accept` from the job's
//! `scrape_protocols`, size-limited) and parsed by [`Parser`] in the format its
//! `Content-Type` names. Each sample's series text is looked up in the loop's cache; only a
//! series never seen before is parsed into labels, merged with the target's labels
//! (`honor_labels`), passed through `metric_relabel_configs`, checked against the label
//! limits and packed into a [`SeriesKey`] (a dropped series is cached as dropped). The
//! samples of the scrape, stale markers for the series that vanished since the previous one,
//! and the five report series (`up`, `scrape_duration_seconds`, …) go to the write buffer in
//! one batch. A failed scrape (HTTP error, parse error, a limit exceeded) appends nothing
//! of the body: like Prometheus, it writes `up 0` and stale markers for every series of the
//! previous scrape.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hashbrown::hash_map::EntryRef;
use rustc_hash::FxBuildHasher;
use strata_storage::{Label, METRIC_NAME, MetricMetadataMap, STALE_NAN_BITS};
use tokio::sync::watch;

use super::config::{JobSettings, ScrapeConfig, ScrapeProtocol};
use super::http::HttpClient;
use super::labelset;
use super::relabel::{RelabelConfig, relabel};
use super::target::Target;
use crate::buffer::{SampleBatch, WriteBuffer};
use crate::exposition::{Entry, Format, Parser, fill_unknown_kinds, parse_series};
use crate::series_key::SeriesKey;

/// Report series, in the order their values are computed.
const REPORT_NAMES: [&str; 5] = [
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
];

/// Cache entries unseen for this many scrapes are forgotten.
const CACHE_GENERATIONS: u32 = 10;

/// What every loop of a job shares.
#[derive(Debug)]
pub struct JobContext {
    pub client: HttpClient,
    /// `Accept` header built from the job's scrape protocols.
    pub accept: String,
    /// Format assumed when a target sends no usable `Content-Type`.
    pub fallback: Option<Format>,
    pub honor_labels: bool,
    pub honor_timestamps: bool,
    pub track_timestamps_staleness: bool,
    pub metric_relabel: Vec<RelabelConfig>,
    pub settings: JobSettings,
    /// Added to every series that does not have the label already.
    pub external_labels: Vec<Label>,
}

impl JobContext {
    /// The shared context of the loops of job `sc` (`external`: the global external labels).
    pub fn new(
        sc: &ScrapeConfig,
        settings: &JobSettings,
        external: &[Label],
    ) -> Result<Self, String> {
        let client = HttpClient::new(&sc.http, sc.enable_compression)
            .map_err(|e| format!("job {:?}: {e}", sc.job_name))?;
        let fallback = match sc.fallback_scrape_protocol {
            Some(p) => Some(format_of_protocol(p).ok_or_else(|| {
                format!(
                    "job {:?}: fallback_scrape_protocol PrometheusProto is not supported",
                    sc.job_name
                )
            })?),
            None => None,
        };
        Ok(Self {
            client,
            accept: accept_header(&settings.protocols),
            fallback,
            honor_labels: sc.honor_labels,
            honor_timestamps: sc.honor_timestamps,
            track_timestamps_staleness: sc.track_timestamps_staleness,
            metric_relabel: sc.metric_relabel_configs.clone(),
            settings: settings.clone(),
            external_labels: external.to_vec(),
        })
    }
}

/// Health of a target, for `/api/v1/targets`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TargetHealth {
    /// "unknown" before the first scrape, then "up" or "down".
    pub health: &'static str,
    pub last_error: String,
    /// Start of the last scrape, ms since the epoch.
    pub last_scrape_ms: i64,
    pub last_duration: Duration,
}

fn format_of_protocol(p: ScrapeProtocol) -> Option<Format> {
    match p {
        ScrapeProtocol::OpenMetrics0 | ScrapeProtocol::OpenMetrics1 => Some(Format::OpenMetrics),
        ScrapeProtocol::PrometheusText0 | ScrapeProtocol::PrometheusText1 => {
            Some(Format::Prometheus)
        }
        ScrapeProtocol::PrometheusProto => None,
    }
}

/// How a loop is asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    Running,
    /// The target went away: mark its series stale.
    Gone,
    /// Reload or shutdown: stop quietly (a successor or a restart carries on).
    Quiet,
}

struct CacheEntry {
    /// None when metric relabeling dropped the series.
    key: Option<SeriesKey>,
    /// Last scrape the series had a sample tracked for staleness in (0: none).
    seen: u32,
    /// `seen` before the current scrape changed it (restored when the scrape fails).
    before: u32,
    /// Last scrape the entry was used in.
    used: u32,
}

impl CacheEntry {
    fn mark_seen(&mut self, iter: u32) {
        if self.seen != iter {
            self.before = self.seen;
            self.seen = iter;
        }
    }
}

/// Counts of one scrape.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    scraped: usize,
    kept: usize,
    added: usize,
}

/// The scrape loop of one target.
pub struct ScrapeLoop {
    target: Target,
    job: Arc<JobContext>,
    sink: Arc<WriteBuffer>,
    health: Arc<Mutex<TargetHealth>>,
    cache: hashbrown::HashMap<String, CacheEntry, FxBuildHasher>,
    iter: u32,
    report_keys: Vec<SeriesKey>,
    /// Size of the last body, to size the next buffer.
    last_body: usize,
}

impl std::fmt::Debug for ScrapeLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScrapeLoop")
            .field("url", &self.target.url)
            .field("series", &self.cache.len())
            .finish()
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}

/// The format a `Content-Type` names (Prometheus 3 refuses unknown ones without a fallback).
fn format_of(content_type: &str, fallback: Option<Format>) -> Result<Format, String> {
    let media = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match media.as_str() {
        "application/openmetrics-text" => Ok(Format::OpenMetrics),
        "text/plain" => Ok(Format::Prometheus),
        _ => fallback.ok_or_else(|| {
            if media.is_empty() {
                "non-compliant scrape target sending blank Content-Type and no \
                 fallback_scrape_protocol specified for target"
                    .to_string()
            } else {
                format!(
                    "received unsupported Content-Type {content_type:?} and no \
                     fallback_scrape_protocol specified for target"
                )
            }
        }),
    }
}

impl ScrapeLoop {
    pub fn new(
        target: Target,
        job: Arc<JobContext>,
        sink: Arc<WriteBuffer>,
        health: Arc<Mutex<TargetHealth>>,
    ) -> Self {
        let report_keys = REPORT_NAMES
            .iter()
            .map(|name| {
                let mut labels: Vec<Label> = target.labels.iter().cloned().collect();
                labelset::set(&mut labels, METRIC_NAME, *name);
                labelset::set_missing(&mut labels, &job.external_labels);
                SeriesKey::from_sorted(&labels)
            })
            .collect();
        Self {
            target,
            job,
            sink,
            health,
            cache: hashbrown::HashMap::default(),
            iter: 0,
            report_keys,
            last_body: 4096,
        }
    }

    /// Delay before the first scrape: spreads targets over the interval by their hash, at a
    /// stable phase relative to the wall clock.
    fn first_delay(&self, seed: u64) -> Duration {
        let interval = self.target.interval.as_millis().max(1) as u64;
        let now = now_ms() as u64;
        let base = interval - now % interval;
        let offset = (self.target.hash() ^ seed) % interval;
        let mut next = base + offset;
        if next > interval {
            next -= interval;
        }
        Duration::from_millis(next)
    }

    /// Scrapes until asked to stop.
    pub async fn run(mut self, seed: u64, mut stop: watch::Receiver<Stop>) {
        let start = tokio::time::Instant::now() + self.first_delay(seed);
        let mut ticker = tokio::time::interval_at(start, self.target.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mode = loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = stop.changed() => break *stop.borrow(),
            }
            // An in-flight scrape completes (it is bounded by the scrape timeout).
            self.scrape_once().await;
            if *stop.borrow() != Stop::Running {
                break *stop.borrow();
            }
        };
        if mode == Stop::Gone {
            self.end_of_run();
        }
    }

    /// Stale markers for every series of the last scrape and for the report series.
    fn end_of_run(&mut self) {
        let t = now_ms();
        let stale = f64::from_bits(STALE_NAN_BITS);
        let mut batch = SampleBatch::default();
        for e in self.cache.values() {
            if let Some(key) = &e.key
                && e.seen > 0
                && e.seen == self.iter
            {
                batch.push(key.clone(), t, stale);
            }
        }
        if self.iter > 0 {
            for key in &self.report_keys {
                batch.push(key.clone(), t, stale);
            }
        }
        if let Err(e) = self.sink.append_samples(&batch) {
            tracing::warn!(target = %self.target.url, error = %e, "stale markers dropped");
        }
    }

    async fn fetch(&self) -> Result<(Vec<u8>, Format), String> {
        let timeout = self.target.timeout;
        let request = self
            .job
            .client
            .get(&self.target.url)?
            .header(reqwest::header::ACCEPT, &self.job.accept)
            .header(
                "X-Prometheus-Scrape-Timeout-Seconds",
                timeout.as_secs_f64().to_string(),
            )
            .timeout(timeout);
        let mut response = request.send().await.map_err(|e| error_chain(&e))?;
        let status = response.status();
        if status != reqwest::StatusCode::OK {
            return Err(format!("server returned HTTP status {status}"));
        }
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let format = format_of(content_type, self.job.fallback)?;
        let limit = self.job.settings.body_size_limit as usize;
        let mut body = Vec::with_capacity(self.last_body + self.last_body / 8);
        while let Some(chunk) = response.chunk().await.map_err(|e| error_chain(&e))? {
            if limit > 0 && body.len() + chunk.len() > limit {
                return Err(format!("body size limit exceeded ({limit} bytes)"));
            }
            body.extend_from_slice(&chunk);
        }
        Ok((body, format))
    }

    /// One scrape, reported and appended.
    pub async fn scrape_once(&mut self) {
        let started = Instant::now();
        let t = now_ms();
        // The outcome is reported through the `up` series and the target's health.
        let _ = match self.fetch().await {
            Ok((body, format)) => {
                self.last_body = body.len();
                self.ingest(Ok((&body, format)), t, started)
            }
            Err(e) => self.ingest(Err(e), t, started),
        };
    }

    /// Appends the outcome of one scrape started at `started` with timestamp `t` (ms): the
    /// body's samples (or the fetch error), stale markers and report series. Returns the
    /// samples kept, or the scrape's error.
    pub fn ingest(
        &mut self,
        fetched: Result<(&[u8], Format), String>,
        t: i64,
        started: Instant,
    ) -> Result<usize, String> {
        self.iter += 1;
        let mut batch = SampleBatch::default();
        let mut counts = Counts::default();
        let result = match fetched {
            Ok((body, format)) => {
                let r = self.append_body(body, format, t, &mut batch, &mut counts);
                if r.is_err() {
                    batch = SampleBatch::default();
                    let iter = self.iter;
                    for e in self.cache.values_mut().filter(|e| e.seen == iter) {
                        e.seen = e.before;
                    }
                }
                r
            }
            Err(e) => Err(e),
        };
        // Series of the previous scrape missing from this one (all of them when it failed).
        let stale = f64::from_bits(STALE_NAN_BITS);
        for e in self.cache.values() {
            if let Some(key) = &e.key
                && e.seen > 0
                && e.seen + 1 == self.iter
            {
                batch.push(key.clone(), t, stale);
            }
        }
        let duration = started.elapsed();
        let up = if result.is_ok() { 1.0 } else { 0.0 };
        let values = [
            up,
            duration.as_secs_f64(),
            counts.scraped as f64,
            counts.kept as f64,
            counts.added as f64,
        ];
        for (key, v) in self.report_keys.iter().zip(values) {
            batch.push(key.clone(), t, v);
        }
        if let Err(e) = self.sink.append_samples(&batch) {
            tracing::warn!(target = %self.target.url, error = %e, "scrape dropped");
        }
        if let Err(e) = &result {
            tracing::debug!(target = %self.target.url, error = %e, "scrape failed");
        }
        if let Ok(mut h) = self.health.lock() {
            *h = TargetHealth {
                health: if result.is_ok() { "up" } else { "down" },
                last_error: result.clone().err().unwrap_or_default(),
                last_scrape_ms: t,
                last_duration: duration,
            };
        }
        if self.iter.is_multiple_of(CACHE_GENERATIONS) {
            let iter = self.iter;
            self.cache.retain(|_, e| e.used + CACHE_GENERATIONS > iter);
        }
        result.map(|()| counts.kept)
    }

    /// Parses a body into `batch`. On error the caller discards the batch.
    fn append_body(
        &mut self,
        body: &[u8],
        format: Format,
        t: i64,
        batch: &mut SampleBatch,
        counts: &mut Counts,
    ) -> Result<(), String> {
        let mut parser = Parser::new(body, format);
        let mut metadata: Vec<Entry<'_>> = Vec::new();
        let sample_limit = self.job.settings.sample_limit as usize;
        let iter = self.iter;
        for entry in parser.by_ref() {
            let sample = match entry.map_err(|e| e.to_string())? {
                Entry::Sample(s) => s,
                other => {
                    metadata.push(other);
                    continue;
                }
            };
            counts.scraped += 1;
            let entry = match self.cache.entry_ref(sample.series) {
                EntryRef::Occupied(e) => e.into_mut(),
                EntryRef::Vacant(v) => {
                    let key = series_key(&self.job, &self.target, sample.series)?;
                    counts.added += usize::from(key.is_some());
                    v.insert(CacheEntry {
                        key,
                        seen: 0,
                        before: 0,
                        used: 0,
                    })
                }
            };
            entry.used = iter;
            if entry.key.is_none() {
                continue;
            }
            counts.kept += 1;
            if sample_limit > 0 && counts.kept > sample_limit {
                return Err(format!("sample_limit exceeded (limit: {sample_limit})"));
            }
            let ts = match sample.timestamp_ms {
                Some(ts) if self.job.honor_timestamps => {
                    if self.job.track_timestamps_staleness {
                        entry.mark_seen(iter);
                    }
                    ts
                }
                _ => {
                    entry.mark_seen(iter);
                    t
                }
            };
            if let Some(key) = &entry.key {
                batch.push(key.clone(), ts, sample.value);
            }
        }
        parser.finish().map_err(|e| e.to_string())?;
        if counts.added > 0 || iter == 1 {
            self.sink.add_metadata(collect_metadata(&metadata));
        }
        Ok(())
    }
}

/// The key of a series new to a target's cache; None when metric relabeling drops it.
fn series_key(job: &JobContext, target: &Target, text: &str) -> Result<Option<SeriesKey>, String> {
    let mut labels = parse_series(text)?.into_vec();
    if job.honor_labels {
        labelset::set_missing(&mut labels, target.labels.iter());
    } else {
        for l in target.labels.iter() {
            let existing = labelset::get(&labels, &l.name).to_string();
            if !existing.is_empty() {
                let mut name = format!("exported_{}", l.name);
                while !labelset::get(&labels, &name).is_empty() {
                    name = format!("exported_{name}");
                }
                labelset::set(&mut labels, &name, &existing);
            }
            labelset::set(&mut labels, &l.name, &l.value);
        }
    }
    if !relabel(&mut labels, &job.metric_relabel) || labels.is_empty() {
        return Ok(None);
    }
    let s = &job.settings;
    if s.label_limit > 0 && labels.len() as u64 > s.label_limit {
        return Err(format!(
            "label_limit exceeded (metric: {}, number of labels: {}, limit: {})",
            labelset::get(&labels, METRIC_NAME),
            labels.len(),
            s.label_limit
        ));
    }
    for l in &labels {
        if s.label_name_length_limit > 0 && l.name.len() as u64 > s.label_name_length_limit {
            return Err(format!(
                "label_name_length_limit exceeded (metric: {}, label name: {}, limit: {})",
                labelset::get(&labels, METRIC_NAME),
                l.name,
                s.label_name_length_limit
            ));
        }
        if s.label_value_length_limit > 0 && l.value.len() as u64 > s.label_value_length_limit {
            return Err(format!(
                "label_value_length_limit exceeded (metric: {}, label name: {}, value: {:?}, limit: {})",
                labelset::get(&labels, METRIC_NAME),
                l.name,
                l.value,
                s.label_value_length_limit
            ));
        }
    }
    labelset::set_missing(&mut labels, &job.external_labels);
    Ok(Some(SeriesKey::from_sorted(&labels)))
}

fn collect_metadata(entries: &[Entry<'_>]) -> MetricMetadataMap {
    let mut map = MetricMetadataMap::new();
    for e in entries {
        e.record_metadata(&mut map);
    }
    fill_unknown_kinds(&mut map);
    map
}

/// The `Accept` header for scrape protocols, weighted in order as Prometheus does.
pub fn accept_header(protocols: &[ScrapeProtocol]) -> String {
    let mut weight = protocols.len() + 1;
    let mut parts = Vec::new();
    for p in protocols {
        if let Some(m) = p.media_range() {
            parts.push(format!("{m};q=0.{weight}"));
            weight -= 1;
        }
    }
    parts.push(format!("*/*;q=0.{weight}"));
    parts.join(",")
}

#[cfg(test)]
#[path = "scrape_loop_tests.rs"]
mod tests;
