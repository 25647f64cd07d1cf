//! Meta labels common to every role: `__meta_kubernetes_<role>_name`, `_label_<l>`,
//! `_labelpresent_<l>`, `_annotation_<a>`, `_annotationpresent_<a>`, with label and
//! annotation names sanitized as Prometheus' `strutil.SanitizeLabelName` does.

use std::collections::BTreeMap;

use super::objects::ObjectMeta;

/// Prefix of every Kubernetes meta label.
pub const PREFIX: &str = "__meta_kubernetes_";
/// `__meta_kubernetes_namespace`.
pub const NAMESPACE: &str = "__meta_kubernetes_namespace";

/// A label set being built.
pub type LabelSet = BTreeMap<String, String>;

/// `name` with every character outside `[a-zA-Z0-9_]` replaced by `_`.
pub fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Adds the name, labels and annotations of `meta` for `role` (`pod`, `service`, …).
pub fn add_object_meta(labels: &mut LabelSet, meta: &ObjectMeta, role: &str) {
    labels.insert(format!("{PREFIX}{role}_name"), meta.name.clone());
    add_meta(labels, meta, role);
}

/// Adds the labels and annotations of `meta` for `role` (without its name: a namespace's).
pub fn add_meta(labels: &mut LabelSet, meta: &ObjectMeta, role: &str) {
    for (k, v) in &meta.labels {
        let n = sanitize(k);
        labels.insert(format!("{PREFIX}{role}_label_{n}"), v.clone());
        labels.insert(format!("{PREFIX}{role}_labelpresent_{n}"), "true".into());
    }
    for (k, v) in &meta.annotations {
        let n = sanitize(k);
        labels.insert(format!("{PREFIX}{role}_annotation_{n}"), v.clone());
        labels.insert(
            format!("{PREFIX}{role}_annotationpresent_{n}"),
            "true".into(),
        );
    }
}

/// `host:port`, with brackets around an IPv6 host (Go's `net.JoinHostPort`).
pub fn join_host_port(host: &str, port: impl std::fmt::Display) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_addresses() {
        assert_eq!(sanitize("app.kubernetes.io/name"), "app_kubernetes_io_name");
        assert_eq!(join_host_port("10.0.0.1", 80), "10.0.0.1:80");
        assert_eq!(join_host_port("fd00::1", 80), "[fd00::1]:80");
        let meta = ObjectMeta {
            name: "web".into(),
            labels: [("app.kubernetes.io/name".to_string(), "web".to_string())].into(),
            annotations: [("prometheus.io/scrape".to_string(), "true".to_string())].into(),
            ..Default::default()
        };
        let mut l = LabelSet::new();
        add_object_meta(&mut l, &meta, "pod");
        assert_eq!(l["__meta_kubernetes_pod_name"], "web");
        assert_eq!(
            l["__meta_kubernetes_pod_label_app_kubernetes_io_name"],
            "web"
        );
        assert_eq!(
            l["__meta_kubernetes_pod_labelpresent_app_kubernetes_io_name"],
            "true"
        );
        assert_eq!(
            l["__meta_kubernetes_pod_annotation_prometheus_io_scrape"],
            "true"
        );
        assert_eq!(
            l["__meta_kubernetes_pod_annotationpresent_prometheus_io_scrape"],
            "true"
        );
    }
}
