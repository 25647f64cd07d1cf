use super::*;

fn samples(doc: &str, format: Format) -> Result<Vec<(String, f64, Option<i64>)>, ParseError> {
    let mut p = Parser::new(doc.as_bytes(), format);
    let mut out = Vec::new();
    for e in p.by_ref() {
        if let Entry::Sample(s) = e? {
            let labels = s.labels().map_err(|m| ParseError {
                line: 0,
                message: m,
            })?;
            out.push((labels.to_string(), s.value, s.timestamp_ms));
        }
    }
    p.finish()?;
    Ok(out)
}

#[test]
fn prometheus_text() {
    let doc = "# HELP http_requests_total Total.\n# TYPE http_requests_total counter\n\
        http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n\
        http_requests_total{method=\"post\",code=\"400\",} 3 1395066363000\n\
        \n# a comment\nmetric_without_timestamp_and_labels 12.47\n\
        msdos_file_access_time_seconds{path=\"C:\\\\DIR\\\\FILE.TXT\",error=\"Cannot find file:\\n\\\"FILE.TXT\\\"\"} 1.458255915e9\n\
        something_weird{problem=\"division by zero\"} +Inf -3982045\n";
    let got = samples(doc, Format::Prometheus).unwrap();
    assert_eq!(got.len(), 5);
    assert_eq!(
        got[0],
        (
            r#"http_requests_total{code="200", method="post"}"#.into(),
            1027.0,
            Some(1_395_066_363_000)
        )
    );
    assert_eq!(
        got[1].0,
        r#"http_requests_total{code="400", method="post"}"#
    );
    assert_eq!(
        got[2],
        ("metric_without_timestamp_and_labels".into(), 12.47, None)
    );
    assert_eq!(
        got[3].0,
        r#"msdos_file_access_time_seconds{error="Cannot find file:\n\"FILE.TXT\"", path="C:\\DIR\\FILE.TXT"}"#
    );
    assert_eq!(
        got[4],
        (
            r#"something_weird{problem="division by zero"}"#.into(),
            f64::INFINITY,
            Some(-3_982_045)
        )
    );
}

#[test]
fn openmetrics_with_exemplars_and_eof() {
    let doc = "# TYPE foo counter\n# UNIT foo seconds\nfoo_total{a=\"1\"} 17.0 1520879607.789 # {trace_id=\"KOO5S4vxi0o\"} 0.67\n\
        foo_created{a=\"1\"} 1520430000.123\n# EOF\n";
    let got = samples(doc, Format::OpenMetrics).unwrap();
    assert_eq!(
        got[0],
        (r#"foo_total{a="1"}"#.into(), 17.0, Some(1_520_879_607_789))
    );
    assert_eq!(got[1].1, 1_520_430_000.123);
    assert_eq!(Format::detect(doc.as_bytes()), Format::OpenMetrics);
    assert_eq!(Format::detect(b"a 1\n"), Format::Prometheus);
    let err = samples("a 1 1\n", Format::OpenMetrics).unwrap_err();
    assert!(err.message.contains("# EOF"), "{err}");
    let err = samples("a 1 1\n# EOF\nb 2 2\n", Format::OpenMetrics).unwrap_err();
    assert_eq!(err.line, 3);
}

#[test]
fn utf8_names_and_empty_values() {
    let got = samples(
        "{\"my.metric\", \"label.x\"=\"1\", empty=\"\"} 5 10\n",
        Format::Prometheus,
    )
    .unwrap();
    assert_eq!(got[0].0, r#"{"my.metric", "label.x"="1"}"#);
}

#[test]
fn errors_name_the_line() {
    for (doc, needle) in [
        ("ok 1 1\nbad{a=1} 2 2\n", "quoted"),
        ("ok 1 1\n\nbad{a=\"1\" 2 2\n", "expected ','"),
        ("ok 1 1\nbad\n", "no value"),
        ("ok 1 1\nbad abc\n", "invalid value"),
        ("ok 1 1\nbad 1 1.5\n", "integer milliseconds"),
        ("ok 1 1\nbad{a=\"\\x\"} 1\n", "escape"),
        ("ok 1 1\n{a=\"b\"} 1\n", "no metric name"),
        ("ok 1 1\nbad 1 2 3\n", "after timestamp"),
        ("ok 1 1\n# TYPE x bogus\n", "unknown metric type"),
    ] {
        let err = samples(doc, Format::Prometheus).unwrap_err();
        let want_line = if doc.contains("\n\n") { 3 } else { 2 };
        assert_eq!(err.line, want_line, "{doc:?}: {err}");
        assert!(err.message.contains(needle), "{doc:?}: {err}");
    }
}

#[test]
fn duplicate_labels_are_an_error() {
    let mut p = Parser::new(b"m{a=\"1\",a=\"2\"} 1\n", Format::Prometheus);
    let Some(Ok(Entry::Sample(s))) = p.next() else {
        panic!("expected a sample")
    };
    assert!(s.labels().is_err());
}

#[test]
fn empty_quoted_names_are_refused() {
    // Found by the `exposition` fuzz target: `""` is no name, as a label or as the metric.
    for (doc, message) in [
        ("{x=\"0\",\"\"=\"0\"} 1\n", "empty label name"),
        ("{\"\"} 1\n", "empty metric name"),
        ("m{\"\" =\"v\"} 1\n", "empty label name"),
    ] {
        let err = samples(doc, Format::Prometheus).unwrap_err();
        assert!(err.message.contains(message), "{doc:?}: {err}");
    }
    assert!(samples("{\"a\"} 1\n", Format::Prometheus).is_ok());
}
