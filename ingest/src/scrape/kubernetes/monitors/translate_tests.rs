use super::*;
use crate::scrape::kubernetes::monitors::model::Settings;
use crate::scrape::kubernetes::monitors::store::MapStore;

#[test]
fn limits_are_capped_and_filled_by_the_enforced_ones() {
    assert_eq!(limit(None, None), None);
    assert_eq!(limit(Some(500), None), Some(500));
    assert_eq!(limit(Some(500), Some(1000)), Some(500));
    assert_eq!(limit(Some(2000), Some(1000)), Some(1000));
    assert_eq!(limit(None, Some(1000)), Some(1000));
    assert_eq!(
        lower_size(Some("2GB"), Some("4000MB")).unwrap(),
        Some("2GB".into())
    );
    assert_eq!(
        lower_size(Some("8GB"), Some("4000MB")).unwrap(),
        Some("4000MB".into())
    );
    assert!(lower_size(Some("lots"), Some("1GB")).is_err());
}

#[test]
fn sanitizing_matches_the_operator() {
    assert_eq!(sanitize("app.kubernetes.io/name"), "app_kubernetes_io_name");
    assert_eq!(sanitize("a-b_c9"), "a_b_c9");
}

fn monitor(yaml: &str) -> Monitor {
    serde_yaml_ng::from_str(yaml).unwrap()
}

fn store() -> MapStore {
    let mut s = MapStore::default();
    let data = [("user", "alice"), ("token", "t0k")]
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .into();
    s.0.insert((false, "ns".into(), "auth".into()), Ok(data));
    s
}

fn reason(yaml: &str) -> String {
    translate(&monitor(yaml), &Settings::default(), &store()).unwrap_err()
}

#[test]
fn invalid_monitors_give_their_reason() {
    let head = "kind: ServiceMonitor\nmetadata: {name: m, namespace: ns}\nspec:\n";
    let cases = [
        (
            "  selector: {matchExpressions: [{key: app, operator: Equals, values: [a]}]}\n  endpoints: [{port: web}]\n",
            "selector: \"app\": \"Equals\" is not a valid label selector operator",
        ),
        (
            "  endpoints: [{port: web, basicAuth: {username: {name: auth, key: user}, password: {name: auth, key: pass}}}]\n",
            "endpoints[0]: secret ns/auth has no key \"pass\"",
        ),
        (
            "  endpoints: [{port: web, bearerTokenSecret: {name: gone, key: token}}]\n",
            "endpoints[0]: secret ns/gone not found",
        ),
        (
            "  endpoints: [{port: web, tlsConfig: {caFile: /var/run/secrets/kubernetes.io/serviceaccount/ca.crt}}]\n",
            "endpoints[0]: tlsConfig: file paths are not read from monitors (use ca, cert and keySecret)",
        ),
        (
            "  endpoints: [{port: web, bearerTokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token}]\n",
            "endpoints[0]: bearerTokenFile: file paths are not read from monitors (use bearerTokenSecret or authorization)",
        ),
        (
            "  scrapeClass: missing\n  endpoints: [{port: web}]\n",
            "scrapeClass \"missing\" not found",
        ),
        (
            "  endpoints: [{port: web, bearerTokenSecret: {name: auth, key: token}, authorization: {credentials: {name: auth, key: token}}}]\n",
            "endpoints[0]: bearerTokenSecret and authorization cannot both be set",
        ),
    ];
    for (spec, expected) in cases {
        assert_eq!(reason(&format!("{head}{spec}")), expected);
    }
    // An optional key that is missing is empty, as in the operator.
    let optional = monitor(&format!(
        "{head}  endpoints: [{{port: web, bearerTokenSecret: {{name: gone, key: t, optional: true}}}}]\n"
    ));
    let jobs = translate(&optional, &Settings::default(), &store()).unwrap();
    assert_eq!(jobs[0]["authorization"]["credentials"], "");
}

#[test]
fn secrets_are_inline_and_endpoints_become_numbered_jobs() {
    let m = monitor(
        "kind: PodMonitor\nmetadata: {name: m, namespace: ns}\nspec:\n  podMetricsEndpoints:\n  - {port: a, bearerTokenSecret: {name: auth, key: token}}\n  - {port: b, basicAuth: {username: {name: auth, key: user}, password: {name: auth, key: token}}}\n",
    );
    let jobs = translate(&m, &Settings::default(), &store()).unwrap();
    assert_eq!(jobs.len(), 2);
    assert_eq!(jobs[0]["job_name"], "podMonitor/ns/m/0");
    assert_eq!(jobs[1]["job_name"], "podMonitor/ns/m/1");
    assert_eq!(jobs[0]["authorization"]["type"], "Bearer");
    assert_eq!(jobs[0]["authorization"]["credentials"], "t0k");
    assert_eq!(jobs[1]["basic_auth"]["username"], "alice");
    // The job label defaults to `<namespace>/<name>` for PodMonitors.
    let rules = jobs[0]["relabel_configs"].as_sequence().unwrap();
    assert!(
        rules
            .iter()
            .any(|r| r["target_label"] == "job" && r["replacement"] == "ns/m")
    );
}
