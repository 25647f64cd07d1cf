use super::*;

/// `"a=1 b=2"` as a sorted label list.
fn ls(s: &str) -> Vec<Label> {
    let mut v: Vec<Label> = s
        .split_whitespace()
        .map(|p| {
            let (name, value) = p.split_once('=').unwrap();
            Label {
                name: name.to_owned(),
                value: value.to_owned(),
            }
        })
        .collect();
    v.sort();
    v
}

fn cfg(yaml: &str) -> RelabelConfig {
    let c: RelabelConfig = serde_yaml_ng::from_str(yaml).unwrap();
    c.validate().unwrap();
    c
}

fn err(yaml: &str) -> String {
    let c: RelabelConfig = serde_yaml_ng::from_str(yaml).unwrap();
    c.validate().unwrap_err()
}

/// Each case is `input | rule (YAML) | output`, `DROP` when the series is dropped.
fn check(cases: &[&str]) {
    for case in cases {
        let [input, rule, want]: [&str; 3] =
            case.split(" | ").collect::<Vec<_>>().try_into().unwrap();
        let mut got = ls(input);
        let kept = relabel(&mut got, &[cfg(rule)]);
        let got = if kept {
            format!("{got:?}")
        } else {
            "DROP".to_owned()
        };
        let want = if want == "DROP" {
            want.to_owned()
        } else {
            format!("{:?}", ls(want))
        };
        assert_eq!(got, want, "case: {case}");
    }
}

#[test]
fn regex_is_anchored_dotall_and_keeps_its_text() {
    let re = Regex::new("foo").unwrap();
    assert!(re.is_match("foo"));
    assert!(!re.is_match("foobar"));
    assert!(!re.is_match("xfoo"));
    let alt = Regex::new("foo|bar").unwrap();
    assert!(alt.is_match("bar"));
    assert!(!alt.is_match("foobar"));
    assert!(Regex::new("a.b").unwrap().is_match("a\nb"));
    assert_eq!(re.as_str(), "foo");
    assert_eq!(alt.to_string(), "foo|bar");
    assert_eq!(Regex::default().as_str(), "(.*)");
    assert_eq!(Regex::new("(.*)").unwrap(), Regex::default());
    assert!(Regex::new("(").is_err());
    // A YAML number or boolean is the regex of its text, as Go's decoder reads it.
    let port: RelabelConfig =
        serde_yaml_ng::from_str("{source_labels: [p], regex: 9100, action: keep}").unwrap();
    assert_eq!(port.regex.as_str(), "9100");
    assert!(port.regex.is_match("9100") && !port.regex.is_match("91000"));
    let flag: RelabelConfig =
        serde_yaml_ng::from_str("{source_labels: [p], regex: true, action: keep}").unwrap();
    assert_eq!(flag.regex.as_str(), "true");
}

#[test]
fn regex_follows_go_syntax() {
    let m = |expr: &str, s: &str| Regex::new(expr).unwrap().is_match(s);
    assert!(m(r"\d+", "123"));
    assert!(!m(r"\d+", "١٢"), "\\d is ASCII-only in Go");
    assert!(!m(r"\w+", "é"));
    assert!(m(r"[\w.]+", "a_1.b"));
    assert!(m(r"[^\D]", "7"));
    assert!(m(r"\S\s\S", "a\tb"));
    assert!(m(r".*\bx\b.*", "a x b"));
    assert!(m(r"\Qa.b\E+", "a.bb"));
    assert!(!m(r"\Qa.b\E", "axb"));
    assert!(m("a{,2}", "a{,2}"), "not a repetition in Go");
    assert!(m("a{2}", "aa"));
    assert!(m("x{", "x{"));
    assert!(m("[[]", "["));
    assert!(m("[a&&b]", "&"));
    assert!(m("[]a]", "]"));
    assert!(m("[[:alpha:]]+", "abc"));
    assert!(m(r"\p{Greek}+", "αβ"));
    assert!(m(r"\x{41}", "A"));
}

#[test]
fn replace() {
    check(&[
        // From Prometheus' tests.
        "a=foo b=bar | {source_labels: [a], regex: 'f(.*)', target_label: d, replacement: 'ch${1}-ch${1}'} | a=foo b=bar d=choo-choo",
        // Several sources joined by the separator; named groups.
        "a=foo b=bar | {source_labels: [a, b], separator: '/', regex: '(?P<x>.*)/(.*)', target_label: c, replacement: '${2}-$x'} | a=foo b=bar c=bar-foo",
        // No match, or only a partial one (anchored): no change.
        "a=foo d=keep | {source_labels: [a], regex: 'x(.*)', target_label: d} | a=foo d=keep",
        "a=foo d=keep | {source_labels: [a], regex: 'fo', target_label: d, replacement: x} | a=foo d=keep",
        // A missing source reads as ""; "$1" is then empty, which deletes the target.
        "a=foo t=old | {source_labels: [nope], target_label: t} | a=foo",
        "a=1 c=3 | {source_labels: [a, b, c], target_label: j} | a=1 c=3 j=1;;3",
        // A constant with no source labels sets; an empty replacement deletes.
        "a=foo | {target_label: env, replacement: prod} | a=foo env=prod",
        "a=foo | {source_labels: [a], target_label: a, replacement: ''} | ",
        // Templated target; a target expanding to "" is skipped.
        "a=some-name-value | {source_labels: [a], regex: 'some-([^-]+)-(.*)', target_label: '${1}', replacement: '${2}'} | a=some-name-value name=value",
        "a=x | {source_labels: [a], regex: '(.*)(y?)', target_label: '$2', replacement: v} | a=x",
        // `$1x` names the (missing) group "1x": empty, so delete. `$$` is a dollar.
        "a=foo b=z | {source_labels: [a], target_label: b, replacement: '$1x'} | a=foo",
        "a=foo | {source_labels: [a], target_label: b, replacement: '$$${1}'} | a=foo b=$foo",
        // Go specifics: `$01` is a name, not group 1; letters after `$1` extend the name;
        // a malformed reference stays text.
        "a=foo | {source_labels: [a], target_label: b, replacement: 'x$01'} | a=foo b=x",
        "a=foo | {source_labels: [a], target_label: b, replacement: '$1é'} | a=foo",
        "a=foo | {source_labels: [a], target_label: b, replacement: '${1}é'} | a=foo b=fooé",
        "a=foo | {source_labels: [a], target_label: b, replacement: '${1-$!'} | a=foo b=${1-$!",
    ]);
}

#[test]
fn keep_drop_keepequal_dropequal() {
    check(&[
        "job=api | {source_labels: [job], regex: api, action: keep} | job=api",
        "job=api | {source_labels: [job], regex: ap, action: keep} | DROP",
        "job=api | {source_labels: [job], regex: 'api|web', action: drop} | DROP",
        "job=api | {source_labels: [job], regex: apix, action: drop} | job=api",
        "job=api | {source_labels: [nope], regex: '.+', action: keep} | DROP",
        "job=api | {source_labels: [nope], regex: '', action: drop} | DROP",
        "a=1 b=1 c=2 | {source_labels: [a], target_label: b, action: keepequal} | a=1 b=1 c=2",
        "a=1 b=1 c=2 | {source_labels: [a], target_label: c, action: keepequal} | DROP",
        "a=1 b=1 c=2 | {source_labels: [a], target_label: b, action: dropequal} | DROP",
        "a=1 b=1 c=2 | {source_labels: [a], target_label: c, action: dropequal} | a=1 b=1 c=2",
        // Both missing: "" == "".
        "a=1 | {source_labels: [x], target_label: y, action: dropequal} | DROP",
    ]);
    // Dropping stops the chain: the later rule never runs.
    let configs = [
        cfg("{source_labels: [job], regex: api, action: drop}"),
        cfg("{target_label: x, replacement: y}"),
    ];
    let mut l = ls("job=api");
    assert!(!relabel(&mut l, &configs));
    assert_eq!(labelset::get(&l, "x"), "");
    let mut l = ls("job=web");
    assert!(relabel(&mut l, &configs));
    assert_eq!(l, ls("job=web x=y"));
}

#[test]
fn hashmod() {
    // From Prometheus' relabel_test.go: "baz" modulo 1000 is 976.
    check(&[
        "a=foo c=baz | {source_labels: [c], target_label: d, modulus: 1000, action: hashmod} | a=foo c=baz d=976",
    ]);
    // MD5("foo") = acbd18db4cc2f85c edef654fccc4a4d8: the low half, big-endian.
    let want = 0xedef_654f_ccc4_a4d8_u64 % 7919;
    let mut l = ls("a=foo");
    let rule = cfg("{source_labels: [a], target_label: h, modulus: 7919, action: HashMod}");
    assert!(relabel(&mut l, &[rule]));
    assert_eq!(labelset::get(&l, "h"), want.to_string());
}

#[test]
fn labelmap_labeldrop_labelkeep() {
    check(&[
        "__meta_kubernetes_pod_label_app=web __meta_kubernetes_pod_label_tier=db __meta_kubernetes_namespace=prod job=k8s | {regex: '__meta_kubernetes_pod_label_(.+)', action: labelmap} | __meta_kubernetes_pod_label_app=web __meta_kubernetes_pod_label_tier=db __meta_kubernetes_namespace=prod job=k8s app=web tier=db",
        // The rule sees the labels as they were before it: new ones are not mapped again.
        "a=1 | {regex: '(.*)', replacement: 'x_$1', action: labelmap} | a=1 x_a=1",
        // Anchored on the name.
        "xa=1 | {regex: 'a', replacement: b, action: labelmap} | xa=1",
        "__name__=up pod=p pod_ip=1 job=j | {regex: 'pod.*', action: labeldrop} | __name__=up job=j",
        "__name__=up pod=p pod_ip=1 job=j | {regex: 'pod', action: labeldrop} | __name__=up pod_ip=1 job=j",
        "__name__=up pod=p pod_ip=1 job=j | {regex: '__name__|job', action: labelkeep} | __name__=up job=j",
    ]);
}

#[test]
fn lowercase_and_uppercase() {
    check(&[
        "a=AbC b=dEf | {source_labels: [a, b], target_label: l, action: lowercase} | a=AbC b=dEf l=abc;def",
        "a=AbC | {source_labels: [a], target_label: u, action: uppercase} | a=AbC u=ABC",
        // A missing source yields "": the target is deleted.
        "t=x | {source_labels: [nope], target_label: t, action: lowercase} | ",
    ]);
    // Go's simple case mapping: no expansion, no final-sigma context.
    assert_eq!(go_to_upper("straße"), "STRAßE");
    assert_eq!(go_to_lower("İΣΣ"), "iσσ");
    assert_eq!(go_to_upper("ᾳ"), "ᾼ");
}

#[test]
fn deserializes_prometheus_yaml() {
    let yaml = r#"
- source_labels: [__meta_a, __meta_b]
  separator: ","
  regex: "(.+),(.+)"
  target_label: ab
  replacement: "$2"
- action: Labelmap
  regex: __meta_(.+)
- action: KEEPEQUAL
  source_labels: [a]
  target_label: b
- regex: 200
  source_labels: [code]
  action: keep
- target_label: x
  regex:
"#;
    let configs: Vec<RelabelConfig> = serde_yaml_ng::from_str(yaml).unwrap();
    for c in &configs {
        c.validate().unwrap();
    }
    assert_eq!(configs[0].separator, ",");
    assert_eq!(configs[0].action, Action::Replace);
    assert_eq!(configs[0].regex.as_str(), "(.+),(.+)");
    assert_eq!(configs[1].action, Action::LabelMap);
    assert_eq!(configs[1].replacement, "$1");
    assert_eq!(configs[1].separator, ";");
    assert_eq!(configs[2].action, Action::KeepEqual);
    assert_eq!(configs[2].regex, Regex::default());
    assert_eq!(configs[3].regex.as_str(), "200");
    assert_eq!(
        configs[4].regex.as_str(),
        "",
        "null regex is the empty expression"
    );

    let parse = |y: &str| serde_yaml_ng::from_str::<Vec<RelabelConfig>>(y).unwrap_err();
    let e = parse("- action: foo");
    assert!(
        e.to_string().contains(r#"unknown relabel action "foo""#),
        "{e}"
    );
    let e = parse("- action:");
    assert!(
        e.to_string().contains("relabel action cannot be empty"),
        "{e}"
    );
    let e = parse("- regx: a");
    assert!(e.to_string().contains("unknown field"), "{e}");
    parse("- regex: '('");
}

#[test]
fn validation_errors() {
    // Each case is `rule (YAML) | error`.
    let cases = [
        "{action: replace} | relabel configuration for replace action requires 'target_label' value",
        "{action: hashmod, target_label: a} | relabel configuration for hashmod requires non-zero modulus",
        "{action: uppercase} | relabel configuration for uppercase action requires 'target_label' value",
        "{action: lowercase, target_label: a, replacement: x} | 'replacement' can not be set for lowercase action",
        "{action: keepequal, target_label: a, regex: x} | keepequal action requires only 'source_labels' and `target_label`, and no other fields",
        "{action: dropequal, target_label: a, separator: ','} | dropequal action requires only 'source_labels' and `target_label`, and no other fields",
        "{action: labeldrop, source_labels: [a]} | labeldrop action requires only 'regex', and no other fields",
        "{action: labelkeep, target_label: a} | labelkeep action requires only 'regex', and no other fields",
        "{action: labelkeep, replacement: x} | labelkeep action requires only 'regex', and no other fields",
        "{action: labelmap, replacement: ''} | \"\" is invalid 'replacement' for labelmap action",
        "{source_labels: [''], target_label: a} | \"\" is not a valid label name",
    ];
    for case in cases {
        let (yaml, want) = case.split_once(" | ").unwrap();
        assert_eq!(err(yaml), want, "{yaml}");
    }
    // UTF-8 names: anything non-empty is valid, templates included.
    cfg("{target_label: '1bad', replacement: x}");
    cfg("{target_label: 'service.name', action: hashmod, modulus: 2}");
    cfg("{target_label: 'x_${1}', regex: '(.*)'}");
    cfg("{action: labelmap, regex: 'a_(.*)', replacement: 'b.${1}'}");
}
