//! A ServiceMonitor or PodMonitor → scrape jobs, as the Prometheus Operator's generator
//! (`pkg/prometheus/promcfg.go`, `generateServiceMonitorConfig` and
//! `generatePodMonitorConfig`) writes them: one job per endpoint, named
//! `serviceMonitor/<ns>/<name>/<i>` or `podMonitor/<ns>/<name>/<i>`, with the generated
//! relabelings in the operator's order. Data flow: [`Monitor`] + the Prometheus-resource
//! [`Settings`] + a [`Store`] of Secret and ConfigMap keys → one YAML mapping per endpoint in
//! Prometheus' `scrape_configs` form (kept as YAML so that it goes through the same
//! deserialization and validation as a file's jobs, [`super::jobs`]).
//!
//! Differences from the operator, on purpose (`ingest/tests/fixtures/operator/README.md`):
//! no sharding relabelings (Strata shards itself); credentials and TLS material are read into
//! memory (`ca`, `cert`, `key` inline, never files); a `bearerTokenSecret` becomes
//! `authorization` (Strata has no `bearer_token`); enforced limits go into every job, since
//! Strata has no generated `global` section; a missing Secret key, an unknown scrape class or
//! a file path in a monitor makes the monitor invalid instead of being logged and skipped.

use serde_yaml_ng::{Mapping, Value};

use super::model::{
    Authorization, Endpoint, KeySelector, Monitor, MonitorKind, ProxyConfig, Relabel, ScrapeClass,
    SecretOrConfigMap, Settings, TlsConfig,
};

/// Secret and ConfigMap keys in a namespace.
pub trait Store {
    /// The value of `selector`'s key in Secret (`config_map` false) or ConfigMap `namespace`/name.
    fn get(
        &self,
        config_map: bool,
        namespace: &str,
        selector: &KeySelector,
    ) -> Result<String, String>;
}

/// A YAML mapping built in the generator's key order.
#[derive(Default)]
struct Map(Mapping);

impl Map {
    fn put(&mut self, key: &str, value: impl Into<Value>) {
        self.0.insert(Value::String(key.into()), value.into());
    }

    fn has(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    fn done(self) -> Value {
        Value::Mapping(self.0)
    }
}

fn rule(pairs: Vec<(&str, Value)>) -> Value {
    let mut m = Map::default();
    for (k, v) in pairs {
        m.put(k, v);
    }
    m.done()
}

fn labels(names: &[&str]) -> Value {
    Value::from(names.iter().map(|n| Value::from(*n)).collect::<Vec<_>>())
}

/// Prometheus' label-name sanitizing (`[^a-zA-Z0-9_]` → `_`).
pub fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// The scrape class a monitor names, or the default one.
fn scrape_class<'a>(
    settings: &'a Settings,
    name: Option<&str>,
) -> Result<Option<&'a ScrapeClass>, String> {
    if let Some(name) = name {
        return settings
            .scrape_classes
            .iter()
            .find(|c| c.name == name)
            .map(Some)
            .ok_or_else(|| format!("scrapeClass {name:?} not found"));
    }
    Ok(settings
        .scrape_classes
        .iter()
        .find(|c| c.default == Some(true)))
}

/// The jobs of `monitor`, one per endpoint.
pub fn translate(
    monitor: &Monitor,
    settings: &Settings,
    store: &dyn Store,
) -> Result<Vec<Value>, String> {
    let spec = &monitor.spec;
    spec.selector
        .validate()
        .map_err(|e| format!("selector: {e}"))?;
    if let Some(m) = &spec.selector_mechanism
        && m != "RelabelConfig"
        && m != "RoleSelector"
    {
        return Err(format!("selectorMechanism: unknown value {m:?}"));
    }
    let class = scrape_class(settings, spec.scrape_class.as_deref())?;
    let (field, endpoints) = match monitor.kind {
        MonitorKind::ServiceMonitor => ("endpoints", &spec.endpoints),
        MonitorKind::PodMonitor => ("podMetricsEndpoints", &spec.pod_metrics_endpoints),
    };
    let cx = Cx {
        monitor,
        settings,
        class: class.cloned().unwrap_or_default(),
        store,
    };
    endpoints
        .iter()
        .enumerate()
        .map(|(i, ep)| cx.job(ep, i).map_err(|e| format!("{field}[{i}]: {e}")))
        .collect()
}

struct Cx<'a> {
    monitor: &'a Monitor,
    settings: &'a Settings,
    class: ScrapeClass,
    store: &'a dyn Store,
}

impl Cx<'_> {
    fn namespace(&self) -> &str {
        &self.monitor.metadata.namespace
    }

    fn service(&self) -> bool {
        self.monitor.kind == MonitorKind::ServiceMonitor
    }

    fn resolve(&self, config_map: bool, selector: &KeySelector) -> Result<String, String> {
        match self.store.get(config_map, self.namespace(), selector) {
            Err(_) if selector.optional == Some(true) => Ok(String::new()),
            other => other,
        }
    }

    fn resolve_either(&self, r: &SecretOrConfigMap) -> Result<String, String> {
        match (&r.secret, &r.config_map) {
            (Some(s), _) => self.resolve(false, s),
            (None, Some(c)) => self.resolve(true, c),
            (None, None) => Ok(String::new()),
        }
    }

    /// The role of a ServiceMonitor's discovery: the monitor's, else the settings'.
    fn endpoint_role(&self) -> &'static str {
        let role = self
            .monitor
            .spec
            .service_discovery_role
            .as_deref()
            .or(self.settings.service_discovery_role.as_deref());
        if role == Some("EndpointSlice") {
            "endpointslice"
        } else {
            "endpoints"
        }
    }

    fn job(&self, ep: &Endpoint, i: usize) -> Result<Value, String> {
        let (m, s) = (self.monitor, self.settings);
        let spec = &m.spec;
        if !ep.bearer_token_file.is_empty() {
            return Err("bearerTokenFile: file paths are not read from monitors \
                        (use bearerTokenSecret or authorization)"
                .into());
        }
        let mut job = Map::default();
        job.put(
            "job_name",
            format!(
                "{}/{}/{}/{i}",
                m.kind.job_prefix(),
                self.namespace(),
                m.metadata.name
            ),
        );
        job.put("honor_labels", ep.honor_labels && !s.override_honor_labels);
        if ep.honor_timestamps.is_some() || s.override_honor_timestamps {
            job.put(
                "honor_timestamps",
                ep.honor_timestamps.unwrap_or(false) && !s.override_honor_timestamps,
            );
        }
        if let Some(t) = ep.track_timestamps_staleness {
            job.put("track_timestamps_staleness", t);
        }
        job.put("kubernetes_sd_configs", vec![self.sd_config()]);
        if !ep.interval.is_empty() {
            job.put("scrape_interval", ep.interval.as_str());
        }
        if !ep.scrape_timeout.is_empty() {
            job.put("scrape_timeout", ep.scrape_timeout.as_str());
        }
        if !ep.path.is_empty() {
            job.put("metrics_path", ep.path.as_str());
        }
        if let Some(params) = &ep.params {
            let mut p = Map::default();
            for (k, v) in params {
                p.put(k, v.clone());
            }
            job.put("params", p.done());
        }
        if let Some(scheme) = &ep.scheme {
            job.put("scheme", scheme.to_ascii_lowercase());
        }
        if let Some(f) = ep.follow_redirects {
            job.put("follow_redirects", f);
        }
        if let Some(h) = ep.enable_http2 {
            job.put("enable_http2", h);
        }
        self.proxy(&mut job, &ep.proxy)?;
        if let Some(o) = &ep.oauth2 {
            let mut oauth = Map::default();
            oauth.put("client_id", self.resolve_either(&o.client_id)?);
            oauth.put("client_secret", self.resolve(false, &o.client_secret)?);
            oauth.put("token_url", o.token_url.as_str());
            if !o.scopes.is_empty() {
                oauth.put("scopes", o.scopes.clone());
            }
            if !o.endpoint_params.is_empty() {
                let mut p = Map::default();
                for (k, v) in &o.endpoint_params {
                    p.put(k, v.as_str());
                }
                oauth.put("endpoint_params", p.done());
            }
            self.proxy(&mut oauth, &o.proxy)?;
            if let Some(tls) = &o.tls_config {
                self.no_files(tls)?;
                oauth.put("tls_config", self.tls(tls)?);
            }
            job.put("oauth2", oauth.done());
        }
        if let Some(tls) = &ep.tls_config {
            self.no_files(tls)?;
        }
        // A PodMonitor's empty tlsConfig counts as none; a ServiceMonitor's does not.
        let own_tls = ep
            .tls_config
            .as_ref()
            .filter(|t| self.service() || **t != TlsConfig::default());
        if let Some(tls) = merge_tls(own_tls, self.class.tls_config.as_ref()) {
            job.put("tls_config", self.tls(&tls)?);
        }
        if let Some(b) = ep
            .bearer_token_secret
            .as_ref()
            .filter(|b| !b.name.is_empty())
        {
            // Strata has no `bearer_token`: the same header through `authorization`.
            let token = self.resolve(false, b)?;
            job.put(
                "authorization",
                rule(vec![
                    ("type", "Bearer".into()),
                    ("credentials", token.into()),
                ]),
            );
        }
        if let Some(b) = &ep.basic_auth {
            let mut auth = Map::default();
            auth.put("username", self.resolve(false, &b.username)?);
            auth.put("password", self.resolve(false, &b.password)?);
            job.put("basic_auth", auth.done());
        }
        if ep
            .authorization
            .as_ref()
            .is_some_and(|a| !a.credentials_file.is_empty())
        {
            return Err(
                "authorization.credentialsFile: file paths are not read from monitors \
                        (use credentials)"
                    .into(),
            );
        }
        if let Some(a) = merge_authorization(ep.authorization.as_ref(), &self.class) {
            if job.has("authorization") {
                return Err("bearerTokenSecret and authorization cannot both be set".into());
            }
            let mut auth = Map::default();
            let kind = if a.kind.is_empty() { "Bearer" } else { &a.kind };
            auth.put("type", kind.trim());
            if let Some(c) = &a.credentials {
                auth.put("credentials", self.resolve(false, c)?);
            }
            if !a.credentials_file.is_empty() {
                auth.put("credentials_file", a.credentials_file.as_str());
            }
            job.put("authorization", auth.done());
        }
        job.put("relabel_configs", self.relabelings(ep));
        let limits = [
            ("sample_limit", spec.sample_limit, s.enforced_sample_limit),
            ("target_limit", spec.target_limit, s.enforced_target_limit),
            ("label_limit", spec.label_limit, s.enforced_label_limit),
            (
                "label_name_length_limit",
                spec.label_name_length_limit,
                s.enforced_label_name_length_limit,
            ),
            (
                "label_value_length_limit",
                spec.label_value_length_limit,
                s.enforced_label_value_length_limit,
            ),
            (
                "keep_dropped_targets",
                spec.keep_dropped_targets,
                s.enforced_keep_dropped_targets,
            ),
        ];
        for (key, own, enforced) in limits {
            if let Some(limit) = limit(own, enforced) {
                job.put(key, limit);
            }
        }
        if !spec.scrape_protocols.is_empty() {
            job.put("scrape_protocols", spec.scrape_protocols.clone());
        }
        if let Some(p) = spec
            .fallback_scrape_protocol
            .as_ref()
            .or(self.class.fallback_scrape_protocol.as_ref())
        {
            job.put("fallback_scrape_protocol", p.as_str());
        }
        if let Some(size) = lower_size(
            spec.body_size_limit.as_deref(),
            s.enforced_body_size_limit.as_deref(),
        )? {
            job.put("body_size_limit", size);
        }
        let metric: Vec<Value> = self
            .class
            .metric_relabelings
            .iter()
            .chain(&ep.metric_relabelings)
            .map(relabel)
            .chain(self.enforced_label())
            .collect();
        if !metric.is_empty() {
            job.put("metric_relabel_configs", metric);
        }
        Ok(job.done())
    }

    /// The `kubernetes_sd_configs` entry.
    fn sd_config(&self) -> Value {
        let spec = &self.monitor.spec;
        let role = if self.service() {
            self.endpoint_role()
        } else {
            "pod"
        };
        let mut sd = Map::default();
        sd.put("role", role);
        let ns = &spec.namespace_selector;
        let names: Vec<String> = if self.settings.ignore_namespace_selectors {
            vec![self.namespace().to_string()]
        } else if ns.any {
            Vec::new()
        } else if ns.match_names.is_empty() {
            vec![self.namespace().to_string()]
        } else {
            ns.match_names.clone()
        };
        if !names.is_empty() {
            sd.put("namespaces", rule(vec![("names", names.into())]));
        }
        if let Some(a) = spec
            .attach_metadata
            .as_ref()
            .or(self.class.attach_metadata.as_ref())
        {
            sd.put(
                "attach_metadata",
                rule(vec![("node", a.node.unwrap_or(false).into())]),
            );
        }
        if spec.selector_mechanism.as_deref() == Some("RoleSelector") {
            let label = spec.selector.to_query();
            let roles: &[&str] = if self.service() {
                &[role, "service"]
            } else {
                &["pod"]
            };
            let selectors: Vec<Value> = roles
                .iter()
                .map(|r| rule(vec![("role", (*r).into()), ("label", label.clone().into())]))
                .collect();
            sd.put("selectors", selectors);
        }
        sd.done()
    }

    fn proxy(&self, into: &mut Map, p: &ProxyConfig) -> Result<(), String> {
        if let Some(u) = &p.proxy_url {
            into.put("proxy_url", u.as_str());
        }
        if let Some(n) = &p.no_proxy {
            into.put("no_proxy", n.as_str());
        }
        if let Some(e) = p.proxy_from_environment {
            into.put("proxy_from_environment", e);
        }
        if let Some(headers) = &p.proxy_connect_header {
            let mut h = Map::default();
            for (name, refs) in headers {
                let values = refs
                    .iter()
                    .map(|r| self.resolve(false, r))
                    .collect::<Result<Vec<_>, _>>()?;
                h.put(name, values);
            }
            into.put("proxy_connect_header", h.done());
        }
        Ok(())
    }

    fn no_files(&self, tls: &TlsConfig) -> Result<(), String> {
        if [&tls.ca_file, &tls.cert_file, &tls.key_file]
            .iter()
            .any(|f| !f.is_empty())
        {
            return Err("tlsConfig: file paths are not read from monitors \
                        (use ca, cert and keySecret)"
                .into());
        }
        Ok(())
    }

    /// `tls_config`, with the Secret and ConfigMap material inline (`ca`, `cert`, `key`).
    fn tls(&self, t: &TlsConfig) -> Result<Value, String> {
        let mut tls = Map::default();
        if let Some(v) = t.insecure_skip_verify {
            tls.put("insecure_skip_verify", v);
        }
        if t.ca.is_set() {
            tls.put("ca", self.resolve_either(&t.ca)?);
        }
        if t.cert.is_set() {
            tls.put("cert", self.resolve_either(&t.cert)?);
        }
        if let Some(k) = &t.key_secret {
            tls.put("key", self.resolve(false, k)?);
        }
        if let Some(n) = t.server_name.as_ref().filter(|n| !n.is_empty()) {
            tls.put("server_name", n.as_str());
        }
        if let Some(v) = &t.min_version {
            tls.put("min_version", v.as_str());
        }
        if let Some(v) = &t.max_version {
            tls.put("max_version", v.as_str());
        }
        for (key, file) in [
            ("ca_file", &t.ca_file),
            ("cert_file", &t.cert_file),
            ("key_file", &t.key_file),
        ] {
            if !file.is_empty() {
                tls.put(key, file.as_str());
            }
        }
        Ok(tls.done())
    }

    /// The enforced namespace label's rule (`enforcedNamespaceLabel`), last of the user's.
    fn enforced_label(&self) -> Option<Value> {
        let label = &self.settings.enforced_namespace_label;
        (!label.is_empty()).then(|| {
            rule(vec![
                ("target_label", label.as_str().into()),
                ("replacement", self.namespace().into()),
            ])
        })
    }

    fn relabelings(&self, ep: &Endpoint) -> Vec<Value> {
        let service = self.service();
        let meta = if service { "service" } else { "pod" };
        let mut out = vec![rule(vec![
            ("source_labels", labels(&["job"])),
            ("target_label", "__tmp_prometheus_job_name".into()),
        ])];
        let running = rule(vec![
            ("action", "drop".into()),
            ("source_labels", labels(&["__meta_kubernetes_pod_phase"])),
            ("regex", "(Failed|Succeeded)".into()),
        ]);
        let filter_running = ep.filter_running.unwrap_or(true);
        if !service && filter_running {
            out.push(running.clone());
        }
        let spec = &self.monitor.spec;
        out.extend(selector_rules(self.monitor));
        let keep = |source: &str, regex: Value| {
            rule(vec![
                ("action", "keep".into()),
                ("source_labels", labels(&[source])),
                ("regex", regex),
            ])
        };
        let slice = service && self.endpoint_role() == "endpointslice";
        let port = ep.port.as_deref().filter(|p| !p.is_empty());
        let target_port = |out: &mut Vec<Value>| match &ep.target_port {
            Some(super::model::IntOrString::String(s)) if !s.is_empty() => {
                out.push(keep(
                    "__meta_kubernetes_pod_container_port_name",
                    s.as_str().into(),
                ));
            }
            Some(super::model::IntOrString::Int(n)) if *n != 0 => {
                out.push(keep(
                    "__meta_kubernetes_pod_container_port_number",
                    (*n).into(),
                ));
            }
            _ => {}
        };
        match port {
            Some(p) if service => out.push(keep(
                if slice {
                    "__meta_kubernetes_endpointslice_port_name"
                } else {
                    "__meta_kubernetes_endpoint_port_name"
                },
                p.into(),
            )),
            Some(p) => out.push(keep("__meta_kubernetes_pod_container_port_name", p.into())),
            None => match ep.port_number.filter(|n| *n != 0) {
                Some(n) if !service => {
                    out.push(keep(
                        "__meta_kubernetes_pod_container_port_number",
                        n.into(),
                    ));
                }
                _ => target_port(&mut out),
            },
        }
        let copy = |source: &str, target: &str| {
            rule(vec![
                ("source_labels", labels(&[source])),
                ("target_label", target.into()),
            ])
        };
        if service {
            let kind = if slice { "endpointslice" } else { "endpoint" };
            let sources = [
                format!("__meta_kubernetes_{kind}_address_target_kind"),
                format!("__meta_kubernetes_{kind}_address_target_name"),
            ];
            for (regex, target) in [("Node;(.*)", "node"), ("Pod;(.*)", "pod")] {
                out.push(rule(vec![
                    ("source_labels", labels(&[&sources[0], &sources[1]])),
                    ("separator", ";".into()),
                    ("regex", regex.into()),
                    ("replacement", "${1}".into()),
                    ("target_label", target.into()),
                ]));
            }
            out.push(copy("__meta_kubernetes_namespace", "namespace"));
            out.push(copy("__meta_kubernetes_service_name", "service"));
            out.push(copy("__meta_kubernetes_pod_name", "pod"));
            out.push(copy("__meta_kubernetes_pod_container_name", "container"));
            if filter_running {
                out.push(running);
            }
        } else {
            out.push(copy("__meta_kubernetes_namespace", "namespace"));
            out.push(copy("__meta_kubernetes_pod_container_name", "container"));
            out.push(copy("__meta_kubernetes_pod_name", "pod"));
        }
        let from = |kind: &str, l: &str, target: &str| {
            rule(vec![
                (
                    "source_labels",
                    labels(&[&format!("__meta_kubernetes_{kind}_label_{}", sanitize(l))]),
                ),
                ("target_label", target.into()),
                ("regex", "(.+)".into()),
                ("replacement", "${1}".into()),
            ])
        };
        if service {
            for l in &spec.target_labels {
                out.push(from("service", l, &sanitize(l)));
            }
        }
        for l in spec
            .pod_target_labels
            .iter()
            .chain(&self.settings.pod_target_labels)
        {
            out.push(from("pod", l, &sanitize(l)));
        }
        if service {
            out.push(rule(vec![
                ("source_labels", labels(&["__meta_kubernetes_service_name"])),
                ("target_label", "job".into()),
                ("replacement", "${1}".into()),
            ]));
        } else {
            let m = &self.monitor.metadata;
            out.push(rule(vec![
                ("target_label", "job".into()),
                ("replacement", format!("{}/{}", m.namespace, m.name).into()),
            ]));
        }
        if !spec.job_label.is_empty() {
            out.push(from(meta, &spec.job_label, "job"));
        }
        let endpoint = port.map(str::to_string).or_else(|| {
            ep.target_port
                .as_ref()
                .map(|t| t.text())
                .filter(|t| !t.is_empty())
        });
        if let Some(e) = endpoint {
            out.push(rule(vec![
                ("target_label", "endpoint".into()),
                ("replacement", e.into()),
            ]));
        }
        out.extend(self.class.relabelings.iter().map(relabel));
        out.extend(ep.relabelings.iter().map(relabel));
        out.extend(self.enforced_label());
        out
    }
}

/// The keep/drop rules of a monitor's label selector (none with `selectorMechanism:
/// RoleSelector`, where the API server selects). They read only labels of the discovered
/// group (the pod's, or the service's), so the scrape manager can also apply them to whole
/// groups before building targets ([`crate::scrape::config::ScrapeConfig::group_filter`]).
pub fn selector_rules(monitor: &Monitor) -> Vec<Value> {
    let spec = &monitor.spec;
    if spec.selector_mechanism.as_deref() == Some("RoleSelector") {
        return Vec::new();
    }
    let meta = match monitor.kind {
        MonitorKind::ServiceMonitor => "service",
        MonitorKind::PodMonitor => "pod",
    };
    let label = |k: &str| format!("__meta_kubernetes_{meta}_label_{}", sanitize(k));
    let present = |k: &str| format!("__meta_kubernetes_{meta}_labelpresent_{}", sanitize(k));
    let keep_drop = |action: &str, k: &str, values: &str| {
        rule(vec![
            ("action", action.into()),
            ("source_labels", labels(&[&label(k), &present(k)])),
            ("regex", format!("({values});true").into()),
        ])
    };
    let mut out: Vec<Value> = spec
        .selector
        .match_labels
        .iter()
        .map(|(k, v)| keep_drop("keep", k, v))
        .collect();
    for r in &spec.selector.match_expressions {
        let values = r.values.join("|");
        out.push(match r.operator.as_str() {
            "In" => keep_drop("keep", &r.key, &values),
            "NotIn" => keep_drop("drop", &r.key, &values),
            op => rule(vec![
                (
                    "action",
                    if op == "Exists" { "keep" } else { "drop" }.into(),
                ),
                ("source_labels", labels(&[&present(&r.key)])),
                ("regex", "true".into()),
            ]),
        });
    }
    out
}

/// The operator's `generateRelabelConfig` for one rule.
fn relabel(r: &Relabel) -> Value {
    let mut m = Map::default();
    if !r.source_labels.is_empty() {
        m.put("source_labels", r.source_labels.clone());
    }
    if let Some(s) = &r.separator {
        m.put("separator", s.as_str());
    }
    if !r.target_label.is_empty() {
        m.put("target_label", r.target_label.as_str());
    }
    if !r.regex.is_empty() {
        m.put("regex", r.regex.as_str());
    }
    if r.modulus != 0 {
        m.put("modulus", r.modulus);
    }
    if let Some(s) = &r.replacement {
        m.put("replacement", s.as_str());
    }
    if !r.action.is_empty() {
        m.put("action", r.action.to_ascii_lowercase());
    }
    m.done()
}

/// The endpoint's TLS settings completed field by field from the scrape class's.
fn merge_tls(own: Option<&TlsConfig>, class: Option<&TlsConfig>) -> Option<TlsConfig> {
    let Some(own) = own else {
        return class.cloned();
    };
    let mut t = own.clone();
    if let Some(c) = class {
        if t.ca_file.is_empty() && !t.ca.is_set() {
            t.ca_file = c.ca_file.clone();
        }
        if t.cert_file.is_empty() && !t.cert.is_set() {
            t.cert_file = c.cert_file.clone();
        }
        if t.key_file.is_empty() && t.key_secret.is_none() {
            t.key_file = c.key_file.clone();
        }
    }
    Some(t)
}

/// The endpoint's authorization completed from the scrape class's.
fn merge_authorization(own: Option<&Authorization>, class: &ScrapeClass) -> Option<Authorization> {
    let own = own.filter(|a| **a != Authorization::default());
    let Some(own) = own else {
        return class.authorization.clone();
    };
    let mut a = own.clone();
    if let Some(c) = &class.authorization
        && a.credentials.is_none()
    {
        a.credentials = c.credentials.clone();
        if a.credentials.is_none() && a.credentials_file.is_empty() {
            a.credentials_file = c.credentials_file.clone();
        }
    }
    Some(a)
}

/// A monitor's limit capped by the enforced one; the enforced one when it sets none.
fn limit(own: Option<u64>, enforced: Option<u64>) -> Option<u64> {
    match (own.unwrap_or(0), enforced.unwrap_or(0)) {
        (_, 0) => own,
        (0, e) => Some(e),
        (o, e) => Some(o.min(e)),
    }
}

/// The lower of two body-size limits (as written).
fn lower_size(own: Option<&str>, enforced: Option<&str>) -> Result<Option<String>, String> {
    let own = own.filter(|s| !s.is_empty());
    let enforced = enforced.filter(|s| !s.is_empty());
    Ok(match (own, enforced) {
        (o, None) => o.map(str::to_string),
        (None, Some(e)) => Some(e.to_string()),
        (Some(o), Some(e)) => {
            let size = |s: &str| {
                crate::scrape::config::parse_byte_size(s).map_err(|m| format!("bodySizeLimit: {m}"))
            };
            Some(if size(o)? > size(e)? { e } else { o }.to_string())
        }
    })
}

#[cfg(test)]
#[path = "translate_tests.rs"]
mod tests;
