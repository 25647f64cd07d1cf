//! Tests of Prometheus' template functions and of alert expansion: `$labels`, `$value`,
//! queries over a fake [`Env`], every function, and the `<error expanding template: …>` form.

use std::collections::BTreeMap;

use super::tests_exec::{FakeEnv, run_env};
use super::*;

fn sample(labels: &[(&str, &str)], value: f64) -> QuerySample {
    QuerySample {
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        value,
    }
}

fn env() -> FakeEnv {
    let mut results = BTreeMap::new();
    results.insert(
        "up".to_string(),
        vec![
            sample(
                &[("__name__", "up"), ("instance", "b:9100"), ("job", "node")],
                0.0,
            ),
            sample(
                &[("__name__", "up"), ("instance", "a:9090"), ("job", "prom")],
                1.0,
            ),
        ],
    );
    results.insert("empty".to_string(), Vec::new());
    results.insert(
        "strv".to_string(),
        vec![sample(&[("__value__", "hello")], 0.0)],
    );
    FakeEnv {
        results,
        now: 1_700_000_000.5,
        url: "http://prom.example:9090/sub/path".to_string(),
    }
}

fn expand(text: &str, value: f64) -> String {
    let labels: BTreeMap<String, String> = [
        ("instance".to_string(), "a.example.com:9090".to_string()),
        ("job".to_string(), "prom".to_string()),
    ]
    .into();
    let external: BTreeMap<String, String> = [("cluster".to_string(), "eu".to_string())].into();
    let env = env();
    expand_alert_template("__alert_T", text, &labels, &external, &env.url, value, &env)
}

#[test]
fn expands_alert_templates() {
    let col = ALERT_TEMPLATE_DEFS.len();
    for (text, value, want) in [
        (
            "{{ $labels.instance }} is {{ $value }}",
            1234567.0,
            "a.example.com:9090 is 1.234567e+06".to_string(),
        ),
        (
            "{{ humanize $value }} {{ $value | humanize }}",
            1234567.0,
            "1.235M 1.235M".to_string(),
        ),
        ("{{ $value }}", 0.00001234, "1.234e-05".to_string()),
        ("{{ humanize $value }}", 0.00001234, "12.34u".to_string()),
        (
            "{{ range query \"up\" }}{{ .Labels.instance }} {{ .Value }};{{ end }}",
            0.0,
            "b:9100 0;a:9090 1;".to_string(),
        ),
        (
            "{{ range query \"up\" | sortByLabel \"instance\" }}{{ .Labels.instance }},{{ end }}",
            0.0,
            "a:9090,b:9100,".to_string(),
        ),
        (
            "{{ with query \"up\" }}{{ . | first | value }}{{ end }}",
            0.0,
            "0".to_string(),
        ),
        (
            "{{ query \"up\" | first | label \"job\" }}",
            0.0,
            "node".to_string(),
        ),
        (
            "{{ (query \"up\" | first).Labels.instance }}",
            0.0,
            "b:9100".to_string(),
        ),
        (
            "{{ query \"up\" | first }}",
            0.0,
            "{map[__name__:up instance:b:9100 job:node] 0}".to_string(),
        ),
        (
            "{{ query \"strv\" | first | strvalue }}",
            0.0,
            "hello".to_string(),
        ),
        (
            "{{ $externalURL }} {{ $externalLabels.cluster }} {{ .ExternalURL }}",
            0.0,
            "http://prom.example:9090/sub/path eu http://prom.example:9090/sub/path".to_string(),
        ),
        (
            "{{ $labels.missing }}|{{ .Labels.missing }}|",
            0.0,
            "||".to_string(),
        ),
        (
            "{{ if gt $value 80.0 }}high{{ else }}low{{ end }}",
            1234567.0,
            "high".to_string(),
        ),
        (
            "{{ printf \"%.2f\" $value }}",
            1234567.0,
            "1234567.00".to_string(),
        ),
        (
            "{{ $value | humanizePercentage }}",
            0.1234,
            "12.34%".to_string(),
        ),
        (
            "{{ foo }}",
            0.0,
            "<error expanding template: error parsing template __alert_T: template: __alert_T:1: \
             function \"foo\" not defined>"
                .to_string(),
        ),
        (
            "{{ gt $value 80 }}",
            1.0,
            format!(
                "<error expanding template: error executing template __alert_T: template: \
                 __alert_T:1:{}: executing \"__alert_T\" at <gt $value 80>: error calling gt: \
                 incompatible types for comparison: float64 and int>",
                col + 3
            ),
        ),
        (
            "{{ query \"empty\" | first }}",
            0.0,
            format!(
                "<error expanding template: error executing template __alert_T: template: \
                 __alert_T:1:{}: executing \"__alert_T\" at <first>: error calling first: \
                 first() called on vector with no elements>",
                col + 19
            ),
        ),
    ] {
        assert_eq!(expand(text, value), want, "{text:?}");
    }
}

#[test]
fn checks_alert_templates() {
    assert_eq!(
        check_alert_template("__alert_T", "{{ $labels.job }} {{ humanize $value }}"),
        Ok(())
    );
    assert_eq!(
        check_alert_template("__alert_T", "{{ foo }}")
            .unwrap_err()
            .to_string(),
        "template: __alert_T:1: function \"foo\" not defined"
    );
    assert_eq!(
        check_alert_template("__alert_T", "a\n{{ $nope }}")
            .unwrap_err()
            .to_string(),
        "template: __alert_T:2: undefined variable \"$nope\""
    );
    assert_eq!(
        check_alert_template("__alert_T", "{{ if 1 }}")
            .unwrap_err()
            .to_string(),
        "template: __alert_T:1: unexpected EOF"
    );
}

#[test]
fn prometheus_functions() {
    let env = env();
    let run = |text: &str| run_env(text, &Value::Nil, &env);
    let err = |context: &str, col: usize, message: &str| {
        format!("template: t:1:{col}: executing \"t\" at <{context}>: {message}")
    };
    for (text, want) in [
        (
            "{{ args 1 \"a\" }}|{{ (args 1 \"a\").arg1 }}",
            "map[arg0:1 arg1:a]|a".to_string(),
        ),
        (
            "{{ reReplaceAll \"(a+)\" \"<$1>\" \"baaac\" }}",
            "b<aaa>c".to_string(),
        ),
        (
            "{{ reReplaceAll \"\\\\d\" \"#\" \"a1٢\" }}",
            "a#٢".to_string(),
        ),
        (
            "{{ reReplaceAll \"(\" \"x\" \"y\" }}",
            err(
                "reReplaceAll \"(\" \"x\" \"y\"",
                3,
                "error calling reReplaceAll: regexp: Compile(`(`): error parsing regexp: missing closing ): `(`",
            ),
        ),
        ("{{ safeHtml \"<b>\" }}", "<b>".to_string()),
        (
            "{{ safeHtml \"a\" | toUpper }}",
            err(
                "toUpper",
                18,
                "wrong type for value; expected string; got template.HTML",
            ),
        ),
        (
            "{{ match \"a.c\" \"xabcx\" }} {{ match \"^abc$\" \"xabc\" }}",
            "true false".to_string(),
        ),
        (
            "{{ match \"(\" \"x\" }}",
            err(
                "match \"(\" \"x\"",
                3,
                "error calling match: error parsing regexp: missing closing ): `(`",
            ),
        ),
        (
            "{{ title \"hello world\" }} {{ toUpper \"abc\" }} {{ toLower \"ABC\" }}",
            "Hello World ABC abc".to_string(),
        ),
        (
            "{{ graphLink \"up{job=\\\"a b\\\"}\" }}",
            "/graph?g0.expr=up%7Bjob%3D%22a+b%22%7D&g0.tab=0".to_string(),
        ),
        (
            "{{ tableLink \"up\" }}",
            "/graph?g0.expr=up&g0.tab=1".to_string(),
        ),
        (
            "{{ stripPort \"host:9090\" }}|{{ stripPort \"host\" }}|{{ stripPort \"[::1]:80\" }}",
            "host|host|::1".to_string(),
        ),
        (
            "{{ stripDomain \"foo.bar.com:80\" }}|{{ stripDomain \"10.0.0.1:80\" }}",
            "foo:80|10.0.0.1:80".to_string(),
        ),
        (
            "{{ humanize 1234567 }} {{ humanize \"1234567\" }} {{ humanize 0 }}",
            "1.235M 1.235M 0".to_string(),
        ),
        (
            "{{ humanize \"abc\" }}",
            err(
                "humanize \"abc\"",
                3,
                "error calling humanize: strconv.ParseFloat: parsing \"abc\": invalid syntax",
            ),
        ),
        (
            "{{ humanize true }}",
            err(
                "humanize true",
                3,
                "error calling humanize: can't convert bool to float",
            ),
        ),
        (
            "{{ humanize1024 2048 }} {{ humanize1024 0.5 }}",
            "2ki 0.5".to_string(),
        ),
        (
            "{{ humanizeDuration 3725 }} {{ humanizeDuration \"0.5\" }}",
            "1h 2m 5s 500ms".to_string(),
        ),
        ("{{ humanizePercentage 0.5 }}", "50%".to_string()),
        (
            "{{ humanizeTimestamp 1.5 }}",
            "1970-01-01 00:00:01.5 +0000 UTC".to_string(),
        ),
        ("{{ humanizeTimestamp \"NaN\" }}", "NaN".to_string()),
        (
            "{{ humanizeTimestamp 1e300 }}",
            err(
                "humanizeTimestamp 1e300",
                3,
                "error calling humanizeTimestamp: 1e+300 cannot be represented as a nanoseconds \
                 timestamp since it overflows int64",
            ),
        ),
        (
            "{{ toTime 1.5 }}",
            "1970-01-01 00:00:01.5 +0000 UTC".to_string(),
        ),
        ("{{ (toTime 1700000000).Unix }}", "1700000000".to_string()),
        (
            "{{ (toTime 1700000000).Format \"2006-01-02\" }}",
            "2023-11-14".to_string(),
        ),
        (
            "{{ toTime \"NaN\" }}",
            err(
                "toTime \"NaN\"",
                3,
                "error calling toTime: value is NaN or Inf",
            ),
        ),
        (
            "{{ toDuration 3725 }} {{ toDuration 1.5 }} {{ toDuration 0.5 }}",
            "1h2m5s 1.5s 500ms".to_string(),
        ),
        ("{{ (toDuration 90).Minutes }}", "1.5".to_string()),
        ("{{ now }}", "1.7000000005e+09".to_string()),
        (
            "{{ pathPrefix }} {{ externalURL }}",
            "/sub/path http://prom.example:9090/sub/path".to_string(),
        ),
        (
            "{{ parseDuration \"1h\" }} {{ parseDuration \"-1m30s\" }}",
            "3600 -90".to_string(),
        ),
        (
            "{{ parseDuration \"x\" }}",
            err(
                "parseDuration \"x\"",
                3,
                "error calling parseDuration: not a valid duration string: \"x\"",
            ),
        ),
        ("{{ urlQueryEscape \"a b/c\" }}", "a+b%2Fc".to_string()),
        (
            "{{ first \"x\" }}",
            err(
                "\"x\"",
                9,
                "can't handle \"x\" for arg of type template.queryResult",
            ),
        ),
        (
            "{{ query \"nope\" }}",
            err(
                "query \"nope\"",
                3,
                "error calling query: unknown query nope",
            ),
        ),
        (
            "{{ label \"x\" nil }}",
            err(
                "label \"x\" nil",
                3,
                "error calling label: runtime error: invalid memory address or nil pointer dereference",
            ),
        ),
    ] {
        assert_eq!(run(text), want, "{text:?}");
    }
}

/// Prometheus' `Expander.Expand` over a template named `test`, errors wrapped as it wraps
/// them.
fn expand_plain(text: &str, data: &Value, env: &FakeEnv) -> Result<String, String> {
    let t =
        Template::parse("test", text).map_err(|e| format!("error parsing template test: {e}"))?;
    t.execute(data, env)
        .map_err(|e| format!("error executing template test: {e}"))
}

fn floats(v: &[f64]) -> Value {
    Value::List(v.iter().map(|&f| Value::Float(f)).collect())
}

fn ints(v: &[i64]) -> Value {
    Value::List(v.iter().map(|&i| Value::Int(i)).collect())
}

fn strings(v: &[&str]) -> Value {
    Value::List(v.iter().map(|&s| Value::string(s)).collect())
}

/// The cases of Prometheus' own `TestTemplateExpansion` (text mode, signed inputs).
#[test]
fn prometheus_upstream_cases() {
    let mut results = BTreeMap::new();
    results.insert("1.5".to_string(), vec![sample(&[], 1.5)]);
    let a11 = sample(&[("__name__", "metric"), ("instance", "a")], 11.0);
    results.insert("metric{instance='a'}".to_string(), vec![a11.clone()]);
    results.insert(
        "metric{__value__='a'}".to_string(),
        vec![sample(&[("__name__", "metric"), ("__value__", "a")], 11.0)],
    );
    results.insert(
        "metric".to_string(),
        vec![
            sample(&[("__name__", "metric"), ("instance", "b")], 21.0),
            a11,
        ],
    );
    results.insert("missing".to_string(), Vec::new());
    let env = FakeEnv {
        results,
        now: 1_353_755_652.0,
        url: "http://testhost:9090/path/prefix".to_string(),
    };
    let n = Value::Nil;
    let exec_err = |col: usize, context: &str, message: &str| {
        Err(format!(
            "error executing template test: template: test:1:{col}: executing \"test\" at <{context}>: {message}"
        ))
    };
    let ok = |s: &str| Ok(s.to_string());
    let humanize_errors = |f: &str| {
        exec_err(
            3,
            &format!("{f} \"one\""),
            &format!("error calling {f}: strconv.ParseFloat: parsing \"one\": invalid syntax"),
        )
    };
    let cases: Vec<(&str, Value, Result<String, String>)> = vec![
        ("plain text", n.clone(), ok("plain text")),
        ("{{ 1 }}", n.clone(), ok("1")),
        (
            "{{\u{a0}}}",
            n.clone(),
            Err("error parsing template test: template: test:1: unrecognized character in action: U+00A0".to_string()),
        ),
        ("{{ \"<b>\" }}", n.clone(), ok("<b>")),
        ("{{define \"x\"}}{{.arg0}} {{.arg1}}{{end}}{{template \"x\" (args 1 \"2\")}}", n.clone(), ok("1 2")),
        ("{{ query \"1.5\" | first | value }}", n.clone(), ok("1.5")),
        ("{{ query \"metric{instance='a'}\" | first | value }}", n.clone(), ok("11")),
        ("{{ query \"metric{instance='a'}\" | first | label \"instance\" }}", n.clone(), ok("a")),
        ("{{ query \"metric{__value__='a'}\" | first | strvalue }}", n.clone(), ok("a")),
        ("{{ query \"metric{instance='a'}\" | first | label \"foo\" }}", n.clone(), ok("")),
        ("{{ $x := query \"metric\" | first }}{{ $x.Labels.foo }}", n.clone(), ok("")),
        (
            "{{ range query \"metric\" | sortByLabel \"instance\" }}{{.Labels.instance}}:{{.Value}}: {{end}}",
            n.clone(),
            ok("a:11: b:21: "),
        ),
        ("{{ .Foo }}", n.clone(), ok("<no value>")),
        ("{{ .Foo }}", Value::Map(BTreeMap::new()), ok("<no value>")),
        ("{{", n.clone(), Err("error parsing template test: template: test:1: unclosed action".to_string())),
        (
            "{{ query \"missing\" | first }}",
            n.clone(),
            exec_err(21, "first", "error calling first: first() called on vector with no elements"),
        ),
        (
            "{{ (query \"missing\").banana }}",
            n.clone(),
            exec_err(10, "\"missing\"", "can't evaluate field banana in type template.queryResult"),
        ),
        ("{{ reReplaceAll \"(a)b\" \"x$1\" \"ab\" }}", n.clone(), ok("xa")),
        ("{{ range . }}{{ humanize . }}:{{ end }}", floats(&[0.0, 1.0, 1234567.0, 0.12]), ok("0:1:1.235M:120m:")),
        ("{{ range . }}{{ humanize . }}:{{ end }}", strings(&["0.0", "1.0", "1234567.0", ".12"]), ok("0:1:1.235M:120m:")),
        ("{{ humanize \"one\" }}", n.clone(), humanize_errors("humanize")),
        ("{{ range . }}{{ humanize . }}:{{ end }}", ints(&[0, -1, 1, 1234567, i64::MAX]), ok("0:-1:1:1.235M:9.223E:")),
        ("{{ range . }}{{ humanize1024 . }}:{{ end }}", floats(&[0.0, 1.0, 1048576.0, 0.12]), ok("0:1:1Mi:0.12:")),
        ("{{ range . }}{{ humanize1024 . }}:{{ end }}", strings(&["0.0", "1.0", "1048576.0", ".12"]), ok("0:1:1Mi:0.12:")),
        ("{{ humanize1024 \"one\" }}", n.clone(), humanize_errors("humanize1024")),
        ("{{ range . }}{{ humanize1024 . }}:{{ end }}", ints(&[0, -1, 1, 1234567, i64::MAX]), ok("0:-1:1:1.177Mi:8Ei:")),
        (
            "{{ range . }}{{ humanizeDuration . }}:{{ end }}",
            floats(&[0.0, 1.0, 60.0, 3600.0, 86400.0, 86400.0 + 3600.0, -(86400.0 * 2.0 + 3600.0 * 3.0 + 60.0 * 4.0 + 5.0), 899.99]),
            ok("0s:1s:1m 0s:1h 0m 0s:1d 0h 0m 0s:1d 1h 0m 0s:-2d 3h 4m 5s:14m 59s:"),
        ),
        (
            "{{ range . }}{{ humanizeDuration . }}:{{ end }}",
            strings(&["0", "1", "60", "3600", "86400"]),
            ok("0s:1s:1m 0s:1h 0m 0s:1d 0h 0m 0s:"),
        ),
        (
            "{{ range . }}{{ humanizeDuration . }}:{{ end }}",
            floats(&[0.1, 0.0001, 0.12345, 60.1, 60.5, 1.2345, 12.345]),
            ok("100ms:100us:123.5ms:1m 0s:1m 0s:1.234s:12.35s:"),
        ),
        (
            "{{ range . }}{{ humanizeDuration . }}:{{ end }}",
            strings(&[".1", ".0001", ".12345", "60.1", "60.5", "1.2345", "12.345"]),
            ok("100ms:100us:123.5ms:1m 0s:1m 0s:1.234s:12.35s:"),
        ),
        ("{{ humanizeDuration \"one\" }}", n.clone(), humanize_errors("humanizeDuration")),
        ("{{ range . }}{{ humanizeDuration . }}:{{ end }}", ints(&[0, -1, 1, 1234567]), ok("0s:-1s:1s:14d 6h 56m 7s:")),
        ("{{ humanizeDuration . }}", Value::Int(i64::MAX), ok("-106751991167300d -15h -30m -8s")),
        (
            "{{ range . }}{{ humanize . }}:{{ humanize1024 . }}:{{ humanizeDuration . }}:{{humanizeTimestamp .}}:{{ end }}",
            floats(&[f64::INFINITY, f64::NEG_INFINITY, f64::NAN]),
            ok("+Inf:+Inf:+Inf:+Inf:-Inf:-Inf:-Inf:-Inf:NaN:NaN:NaN:NaN:"),
        ),
        (
            "{{ range . }}{{ humanize . }}:{{ humanize1024 . }}:{{ humanizeDuration . }}:{{humanizeTimestamp .}}:{{ end }}",
            strings(&["+Inf", "-Inf", "NaN"]),
            ok("+Inf:+Inf:+Inf:+Inf:-Inf:-Inf:-Inf:-Inf:NaN:NaN:NaN:NaN:"),
        ),
        (
            "{{ -0.22222 | humanizePercentage }}:{{ 0.0 | humanizePercentage }}:{{ 0.1234567 | humanizePercentage }}:{{ 1.23456 | humanizePercentage }}",
            n.clone(),
            ok("-22.22%:0%:12.35%:123.5%"),
        ),
        (
            "{{ range . }}{{ humanizePercentage . }}:{{ end }}",
            ints(&[0, -1, 1, 1234567, i64::MAX]),
            ok("0%:-100%:100%:1.235e+08%:9.223e+20%:"),
        ),
        (
            "{{ \"-0.22222\" | humanizePercentage }}:{{ \"0.0\" | humanizePercentage }}:{{ \"0.1234567\" | humanizePercentage }}:{{ \"1.23456\" | humanizePercentage }}",
            n.clone(),
            ok("-22.22%:0%:12.35%:123.5%"),
        ),
        (
            "{{ \"one\" | humanizePercentage }}",
            n.clone(),
            exec_err(
                11,
                "humanizePercentage",
                "error calling humanizePercentage: strconv.ParseFloat: parsing \"one\": invalid syntax",
            ),
        ),
        (
            "{{ range . }}{{ humanizeTimestamp . }}:{{ end }}",
            ints(&[0, -1, 1, 1234567, 9223372036]),
            ok("1970-01-01 00:00:00 +0000 UTC:1969-12-31 23:59:59 +0000 UTC:1970-01-01 00:00:01 +0000 UTC:1970-01-15 06:56:07 +0000 UTC:2262-04-11 23:47:16 +0000 UTC:"),
        ),
        (
            "{{ range . }}{{ humanizeTimestamp . }}:{{ end }}",
            ints(&[i64::MIN, i64::MAX]),
            exec_err(
                16,
                "humanizeTimestamp .",
                "error calling humanizeTimestamp: -9.223372036854776e+18 cannot be represented as a nanoseconds timestamp since it overflows int64",
            ),
        ),
        ("{{ 1435065584.128 | humanizeTimestamp }}", n.clone(), ok("2015-06-23 13:19:44.128 +0000 UTC")),
        ("{{ \"1435065584.128\" | humanizeTimestamp }}", n.clone(), ok("2015-06-23 13:19:44.128 +0000 UTC")),
        ("{{ (1435065584.128 | toTime).Format \"2006\" }}", n.clone(), ok("2015")),
        ("{{ (\"1435065584.128\" | toTime).Format \"2006\" }}", n.clone(), ok("2015")),
        ("{{ (1800 | toDuration).String }}", n.clone(), ok("30m0s")),
        ("{{ (\"1800\" | toDuration).String }}", n.clone(), ok("30m0s")),
        ("{{ now }}", n.clone(), ok("1.353755652e+09")),
        ("{{ (now | toTime).Format \"Mon Jan 2 15:04:05 2006\" }}", n.clone(), ok("Sat Nov 24 11:14:12 2012")),
        ("{{ (\"-30m\" | parseDuration | toDuration | (now | toTime).Add).UnixMilli }}", n.clone(), ok("1353753852000")),
        ("{{ \"aa bb CC\" | title }}", n.clone(), ok("Aa Bb CC")),
        ("{{ \"aa bb CC\" | toUpper }}", n.clone(), ok("AA BB CC")),
        ("{{ \"aA bB CC\" | toLower }}", n.clone(), ok("aa bb cc")),
        ("{{ match \"a+\" \"aa\" }} {{ match \"a+\" \"b\" }}", n.clone(), ok("true false")),
        ("{{ graphLink \"up\" }}", n.clone(), ok("/graph?g0.expr=up&g0.tab=0")),
        ("{{ tableLink \"up\" }}", n.clone(), ok("/graph?g0.expr=up&g0.tab=1")),
        ("{{ pathPrefix }}", n.clone(), ok("/path/prefix")),
        ("{{ externalURL }}", n.clone(), ok("http://testhost:9090/path/prefix")),
        ("{{ printf \"%0.2f\" (parseDuration \"1h2m10ms\") }}", n.clone(), ok("3720.01")),
        ("{{ printf \"%0.2f\" (parseDuration \"-1h2m10ms\") }}", n.clone(), ok("-3720.01")),
    ];
    for (text, data, want) in cases {
        assert_eq!(expand_plain(text, &data, &env), want, "{text:?}");
    }
    for (host, port_stripped, domain_stripped) in [
        ("foo.example.com", "foo.example.com", "foo"),
        ("foo.example.com:12345", "foo.example.com", "foo:12345"),
        ("192.0.2.1", "192.0.2.1", "192.0.2.1"),
        ("192.0.2.1:12345", "192.0.2.1", "192.0.2.1:12345"),
        ("2001:0DB8::1", "2001:0DB8::1", "2001:0DB8::1"),
        (
            "[2001:0DB8::1]:12345",
            "2001:0DB8::1",
            "[2001:0DB8::1]:12345",
        ),
        (
            "[2001:0DB8::1]::12345",
            "[2001:0DB8::1]::12345",
            "[2001:0DB8::1]::12345",
        ),
    ] {
        let text = format!("{{{{ {host:?} | stripPort }}}}|{{{{ {host:?} | stripDomain }}}}");
        let want = format!("{port_stripped}|{domain_stripped}");
        assert_eq!(expand_plain(&text, &n, &env), Ok(want), "{host}");
    }
}
