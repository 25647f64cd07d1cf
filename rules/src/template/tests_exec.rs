//! Tests of parsing and executing Go templates: every construct, variable scoping, Go's
//! builtins, printing of values, and the texts of execution errors.

use std::collections::BTreeMap;

use super::*;

/// An environment with canned query results.
#[derive(Debug, Default)]
pub(super) struct FakeEnv {
    pub(super) results: BTreeMap<String, Vec<QuerySample>>,
    pub(super) now: f64,
    pub(super) url: String,
}

impl Env for FakeEnv {
    fn query(&self, q: &str) -> Result<Vec<QuerySample>, String> {
        self.results
            .get(q)
            .cloned()
            .ok_or_else(|| format!("unknown query {q}"))
    }

    fn now(&self) -> f64 {
        self.now
    }

    fn external_url(&self) -> &str {
        &self.url
    }
}

/// The output of `text` over `data`, or the error's text.
pub(super) fn run(text: &str, data: &Value) -> String {
    run_env(text, data, &FakeEnv::default())
}

pub(super) fn run_env(text: &str, data: &Value, env: &dyn Env) -> String {
    match Template::parse("t", text) {
        Err(e) => e.to_string(),
        Ok(t) => t.execute(data, env).unwrap_or_else(|e| e.to_string()),
    }
}

fn map(entries: &[(&str, Value)]) -> Value {
    Value::Map(
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    )
}

fn labels(entries: &[(&str, &str)]) -> Value {
    Value::Labels(
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

fn list(items: &[i64]) -> Value {
    Value::List(items.iter().map(|&i| Value::Int(i)).collect())
}

fn check(cases: &[(&str, Value, &str)]) {
    for (text, data, want) in cases {
        assert_eq!(run(text, data), *want, "{text:?}");
    }
}

#[test]
fn text_actions_trims_comments() {
    let x = Value::string("x");
    check(&[
        ("a{{.}}b", x.clone(), "axb"),
        ("a  {{- . -}}  \n b", x.clone(), "axb"),
        ("a {{- /* c */ -}} b", x.clone(), "ab"),
        ("a{{/* c\n d */}}b", x.clone(), "ab"),
        ("{{-3}}", x.clone(), "-3"),
        ("{{ \"a\" }}{{`b\\n`}}", x.clone(), "ab\\n"),
        ("", x.clone(), ""),
        ("{{.}}", Value::Nil, "<no value>"),
    ]);
}

#[test]
fn fields_maps_and_missing_keys() {
    let data = map(&[
        ("A", map(&[("B", Value::Int(1))])),
        ("L", labels(&[("x", "y")])),
        (
            "S",
            Value::Struct(GoStruct {
                type_name: "struct { F int }".to_string(),
                fields: vec![("F".to_string(), Value::Int(7))],
            }),
        ),
    ]);
    check(&[
        ("{{.A.B}}", data.clone(), "1"),
        ("{{.X}}", data.clone(), "<no value>"),
        (
            "{{.X.Y}}",
            data.clone(),
            "template: t:1:4: executing \"t\" at <.X.Y>: nil pointer evaluating interface {}.Y",
        ),
        ("{{.X.Y}}", Value::Nil, "<no value>"),
        ("[{{.L.x}}][{{.L.z}}]", data.clone(), "[y][]"),
        ("{{.S.F}}", data.clone(), "7"),
        ("{{.S}}", data.clone(), "{7}"),
        ("{{.L}}", data.clone(), "map[x:y]"),
        ("{{$.A.B}}", data.clone(), "1"),
        ("{{with $x := .A}}{{$x.B}}{{end}}", data.clone(), "1"),
        ("{{(.A).B}}", data.clone(), "1"),
        (
            "{{.S.G}}",
            data.clone(),
            "template: t:1:4: executing \"t\" at <.S.G>: can't evaluate field G in type struct { F int }",
        ),
        (
            "{{.Foo.Bar}}",
            Value::Int(1),
            "template: t:1:6: executing \"t\" at <.Foo.Bar>: can't evaluate field Foo in type int",
        ),
        (
            "{{.A 1}}",
            data.clone(),
            "template: t:1:2: executing \"t\" at <.A>: A is not a method but has arguments",
        ),
        (
            "{{.S.F 1}}",
            data,
            "template: t:1:4: executing \"t\" at <.S.F>: F has arguments but cannot be invoked as function",
        ),
    ]);
}

#[test]
fn variables_and_scopes() {
    let n = Value::Nil;
    check(&[
        ("{{$x := 1}}{{$x}}{{$x = 2}}{{$x}}", n.clone(), "12"),
        (
            "{{$x := 1}}{{if true}}{{$x := 2}}{{$x}}{{end}}{{$x}}",
            n.clone(),
            "21",
        ),
        (
            "{{$x := 1}}{{if true}}{{$x = 2}}{{end}}{{$x}}",
            n.clone(),
            "2",
        ),
        (
            "{{$x := 1}}{{range 2}}{{$x = .}}{{end}}{{$x}}",
            n.clone(),
            "1",
        ),
        (
            "{{$i := 0}}{{range $i = .}}{{end}}{{$i}}",
            list(&[5, 6]),
            "6",
        ),
        ("{{$ := 3}}{{$}}", n.clone(), "3"),
        (
            "{{$x := 1}}{{$x.y}}",
            n.clone(),
            "template: t:1:15: executing \"t\" at <$x.y>: can't evaluate field y in type int",
        ),
        (
            "{{if 1}}{{$y := 1}}{{end}}{{$y}}",
            n,
            "template: t:1: undefined variable \"$y\"",
        ),
    ]);
}

#[test]
fn control_structures() {
    let v = map(&[("A", Value::string("v")), ("E", Value::List(Vec::new()))]);
    check(&[
        ("{{if 0}}a{{else if \"\"}}b{{else}}c{{end}}", v.clone(), "c"),
        ("{{if 1}}a{{else if 1}}b{{end}}", v.clone(), "a"),
        ("{{if .E}}a{{else}}b{{end}}", v.clone(), "b"),
        ("{{if .A}}{{.A}}{{end}}", v.clone(), "v"),
        ("{{with .A}}{{.}}{{else}}none{{end}}", v.clone(), "v"),
        ("{{with .X}}{{.}}{{else}}none{{end}}", v.clone(), "none"),
        ("{{with .X}}x{{else with .A}}{{.}}{{end}}", v.clone(), "v"),
        ("{{with $a := .A}}{{$a}}{{.}}{{end}}", v, "vv"),
    ]);
}

#[test]
fn ranges() {
    check(&[
        ("{{range .}}{{.}},{{end}}", list(&[1, 2, 3]), "1,2,3,"),
        (
            "{{range $i, $e := .}}{{$i}}={{$e}} {{end}}",
            list(&[1, 2, 3]),
            "0=1 1=2 2=3 ",
        ),
        ("{{range $e := .}}{{$e}}{{end}}", list(&[1, 2, 3]), "123"),
        (
            "{{range $k, $v := .}}{{$k}}{{$v}}{{end}}",
            map(&[("b", Value::Int(2)), ("a", Value::Int(1))]),
            "a1b2",
        ),
        (
            "{{range $k, $v := .}}{{$k}}={{$v}};{{end}}",
            labels(&[("b", "2"), ("a", "1")]),
            "a=1;b=2;",
        ),
        (
            "{{range .}}x{{else}}empty{{end}}",
            Value::List(Vec::new()),
            "empty",
        ),
        ("{{range .}}x{{else}}empty{{end}}", Value::Nil, "empty"),
        (
            "{{range .}}{{if eq . 2}}{{continue}}{{end}}{{if eq . 4}}{{break}}{{end}}{{.}}{{end}}",
            list(&[1, 2, 3, 4, 5]),
            "13",
        ),
        (
            "{{range .}}{{range .}}{{break}}{{end}}{{.}}{{end}}",
            Value::List(vec![list(&[1]), list(&[2])]),
            "[1][2]",
        ),
        ("{{range 3}}{{.}}{{end}}", Value::Nil, "012"),
        ("{{range $e := 2}}{{$e}}{{end}}", Value::Nil, "01"),
        ("{{range 0}}x{{else}}none{{end}}", Value::Nil, "none"),
        ("{{range .}}{{$}}{{end}}", list(&[1, 2]), "[1 2][1 2]"),
        (
            "{{range $i, $e := 3}}{{end}}",
            Value::Nil,
            "template: t:1:18: executing \"t\" at <3>: can't use 3 to iterate over more than one variable",
        ),
        (
            "{{range .}}{{end}}",
            Value::string("abc"),
            "template: t:1:8: executing \"t\" at <.>: range can't iterate over abc",
        ),
    ]);
}

#[test]
fn templates_and_blocks() {
    check(&[
        (
            "{{define \"T\"}}[{{.}}]{{end}}{{template \"T\" \"x\"}}",
            Value::Nil,
            "[x]",
        ),
        (
            "{{define \"T\"}}[{{.}}]{{end}}{{template \"T\"}}",
            Value::Int(1),
            "[<no value>]",
        ),
        (
            "{{define \"T\"}}{{$}}{{end}}{{template \"T\" 5}}",
            Value::Nil,
            "5",
        ),
        ("{{block \"B\" .}}b{{.}}{{end}}", Value::string("d"), "bd"),
        ("{{define `T`}}x{{end}}", Value::Nil, ""),
        (
            "{{template \"T\" $x := 1}}{{define \"T\"}}{{.}}{{end}}{{$x}}",
            Value::Nil,
            "11",
        ),
        (
            "{{template \"nope\"}}",
            Value::Nil,
            "template: t:1:11: executing \"t\" at <{{template \"nope\"}}>: template \"nope\" not defined",
        ),
        (
            "{{define \"T\"}}\n{{.X}}{{end}}{{template \"T\" 1}}",
            Value::Nil,
            "template: t:2:2: executing \"T\" at <.X>: can't evaluate field X in type int",
        ),
    ]);
    let out = run(
        "{{define \"r\"}}{{template \"r\" .}}{{end}}{{template \"r\" .}}",
        &Value::Nil,
    );
    assert_eq!(
        out,
        "template: t:1:25: executing \"r\" at <{{template \"r\" .}}>: exceeded maximum template depth (100)"
    );
}

#[test]
fn builtins() {
    let n = Value::Nil;
    let m = map(&[("a", Value::Int(1)), ("L", list(&[1, 2]))]);
    check(&[
        (
            "{{and 1 0 2}}|{{and 1 2}}|{{or 0 \"\" \"x\"}}|{{or 0 \"\"}}|",
            n.clone(),
            "0|2|x||",
        ),
        ("{{or 1 (len nil)}}{{and 0 (len nil)}}", n.clone(), "10"),
        ("{{1 | and 2}}{{0 | or 0}}", n.clone(), "10"),
        ("{{not 0}}{{not \"a\"}}", n.clone(), "truefalse"),
        ("{{len \"abc\"}}{{len .}}{{len .L}}", m.clone(), "322"),
        (
            "{{index .L 1}}{{index . \"a\"}}{{index . \"z\"}}",
            m.clone(),
            "21<no value>",
        ),
        ("{{index \"abc\" 0}}", n.clone(), "97"),
        (
            "{{slice \"abcdef\" 1 3}}{{slice .L 1}}{{slice \"ab\"}}",
            m.clone(),
            "bc[2]ab",
        ),
        ("{{print 1 2 \"a\" \"b\" 3}}", n.clone(), "1 2ab3"),
        ("{{println 1 \"a\"}}", n.clone(), "1 a\n"),
        ("{{printf \"%d-%s\" 5 \"x\"}}", n.clone(), "5-x"),
        (
            "{{html \"<a href=\\\"x\\\">&'\"}}",
            n.clone(),
            "&lt;a href=&#34;x&#34;&gt;&amp;&#39;",
        ),
        (
            "{{js \"a'b\\\"<>&=\"}}",
            n.clone(),
            "a\\'b\\\"\\u003C\\u003E\\u0026\\u003D",
        ),
        (
            "{{urlquery \"a b&c\"}}{{html 1 2}}",
            n.clone(),
            "a+b%26c1 2",
        ),
        (
            "{{eq 1 2 3 1}}{{eq \"a\" \"a\"}}{{ne 1 2}}{{eq .x \"x\"}}{{eq nil nil}}",
            n.clone(),
            "truetruetruefalsetrue",
        ),
        (
            "{{lt 1 2}}{{le 2 2}}{{gt 1.5 1.2}}{{ge \"a\" \"b\"}}{{lt (index \"a\" 0) 98}}",
            n.clone(),
            "truetruetruefalsetrue",
        ),
        (
            "{{\"x\" | printf \"%s-%s\" \"a\"}}{{(len \"ab\") | printf \"%d\"}}",
            n.clone(),
            "a-x2",
        ),
        (
            "{{0x1F}} {{1e3}} {{'a'}} {{1.5}} {{-2}} {{1_000}} {{0o17}} {{1e21}}",
            n.clone(),
            "31 1000 97 1.5 -2 1000 15 1e+21",
        ),
        (
            "{{eq 1 1.0}}",
            n.clone(),
            "template: t:1:2: executing \"t\" at <eq 1 1.0>: error calling eq: incompatible types for comparison: int and float64",
        ),
        (
            "{{lt true false}}",
            n.clone(),
            "template: t:1:2: executing \"t\" at <lt true false>: error calling lt: invalid type for comparison",
        ),
        (
            "{{len 3}}",
            n.clone(),
            "template: t:1:2: executing \"t\" at <len 3>: error calling len: len of type int",
        ),
        (
            "{{index .L 5}}",
            m.clone(),
            "template: t:1:2: executing \"t\" at <index .L 5>: error calling index: index out of range: 5",
        ),
        (
            "{{index .L 2}}",
            m.clone(),
            "template: t:1:2: executing \"t\" at <index .L 2>: error calling index: reflect: slice index out of range",
        ),
        (
            "{{len 1 2}}",
            n.clone(),
            "template: t:1:2: executing \"t\" at <len>: wrong number of args for len: want 1 got 2",
        ),
        (
            "{{eq 1}}",
            n.clone(),
            "template: t:1:2: executing \"t\" at <eq 1>: error calling eq: missing argument for comparison",
        ),
        (
            "{{printf 1}}",
            n.clone(),
            "template: t:1:9: executing \"t\" at <1>: expected string; found 1",
        ),
        (
            "{{nil}}",
            n.clone(),
            "template: t:1:2: executing \"t\" at <nil>: nil is not a command",
        ),
        (
            "{{1 2}}",
            n.clone(),
            "template: t:1:2: executing \"t\" at <1>: can't give argument to non-function 1",
        ),
        (
            "{{call .X 1}}",
            map(&[("X", Value::string("f"))]),
            "template: t:1:2: executing \"t\" at <call .X 1>: error calling call: non-function .X of type string",
        ),
        (
            "{{printf \"%s\" nil}}{{printf nil}}",
            n,
            "template: t:1:28: executing \"t\" at <nil>: cannot assign nil to string",
        ),
    ]);
}

#[test]
fn prints_values_as_go() {
    check(&[
        ("{{.}}", Value::Float(1234567.0), "1.234567e+06"),
        ("{{.}}", Value::Float(0.00001234), "1.234e-05"),
        ("{{.}}", Value::Float(123456.0), "123456"),
        ("{{.}}", Value::Float(f64::NAN), "NaN"),
        ("{{.}}", Value::Float(f64::INFINITY), "+Inf"),
        ("{{.}}", Value::Float(f64::NEG_INFINITY), "-Inf"),
        ("{{.}}", Value::Bool(true), "true"),
        ("{{.}}", labels(&[("c", "d"), ("a", "b")]), "map[a:b c:d]"),
        (
            "{{.}}",
            Value::List(vec![Value::Int(1), Value::string("a"), Value::Nil]),
            "[1 a <nil>]",
        ),
        ("{{.}}", map(&[("k", Value::Float(0.5))]), "map[k:0.5]"),
        ("{{.}}", Value::Html("<b>".to_string()), "<b>"),
    ]);
    let data = alert_template_data(
        &[("a".to_string(), "b".to_string())].into(),
        &BTreeMap::new(),
        "http://x",
        1.0,
    );
    assert_eq!(run("{{.}}", &data), "{map[a:b] map[] http://x 1}");
    assert_eq!(
        run("{{printf \"%+v\" .}}", &data),
        "{Labels:map[a:b] ExternalLabels:map[] ExternalURL:http://x Value:1}"
    );
}

#[test]
fn hostile_templates_hit_limits() {
    let doubling = "{{$x := \"ab\"}}{{range 40}}{{$x = printf \"%s%s\" $x $x}}{{end}}{{len $x}}";
    assert!(run(doubling, &Value::Nil).ends_with("result exceeds 16777216 bytes"));
    let padding = "{{range 100}}{{printf \"%1000000d\" 1}}{{end}}";
    assert!(run(padding, &Value::Nil).ends_with("output exceeds 16777216 bytes"));
    let steps = "{{range 100000000}}{{end}}";
    assert!(run(steps, &Value::Nil).contains("exceeded maximum of 2000000 execution steps"));
}

#[test]
fn deep_templates_stay_within_the_stack() {
    // A 2 MiB stack, as test threads and Tokio's workers have by default.
    let worker = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            let nested = |open: &str, close: &str, n: usize, inner: &str| {
                open.repeat(n) + inner + &close.repeat(n)
            };
            let ifs = nested("{{if 1}}", "{{end}}", 100, "x");
            assert_eq!(run(&ifs, &Value::Nil), "x");
            let ifs = nested("{{if 1}}", "{{end}}", 101, "x");
            assert_eq!(
                run(&ifs, &Value::Nil),
                "template: t:1: max nesting depth exceeded"
            );
            let ranges = nested("{{range 1}}", "{{end}}", 100, "x");
            assert_eq!(run(&ranges, &Value::Nil), "x");
            let parens = format!("{{{{{}}}}}", nested("(len ", ")", 51, "\"ab\""));
            assert_eq!(
                run(&parens, &Value::Nil),
                "template: t:1: max expression depth exceeded"
            );
            let parens = format!("{{{{{}}}}}", nested("(print ", ")", 50, "1"));
            assert_eq!(run(&parens, &Value::Nil), "1");
            for body in [
                nested("{{range 1}}", "{{end}}", 99, "{{template \"r\" .}}"),
                format!(
                    "{parens}{}",
                    nested("{{with 1}}", "{{end}}", 99, "{{template \"r\" .}}")
                ),
            ] {
                let text = format!("{{{{define \"r\"}}}}{body}{{{{end}}}}{{{{template \"r\" .}}}}");
                let out = run(&text, &Value::Nil);
                assert!(
                    out.contains("exceeded maximum nesting depth (150)"),
                    "{out}"
                );
            }
        })
        .unwrap();
    worker.join().unwrap();
}

/// Go's `TestExecError` and `TestUnterminatedStringError`: locations in nested templates
/// and multi-line literals.
#[test]
fn go_error_locations() {
    let text = "line 1\nline 2\nline 3\n{{template \"one\" .}}\n{{define \"one\"}}{{template \"two\" .}}{{end}}\n{{define \"two\"}}{{template \"three\" .}}{{end}}\n{{define \"three\"}}{{index \"hi\" $}}{{end}}";
    let t = Template::parse("top", text).unwrap();
    let err = t.execute(&Value::Int(5), &FakeEnv::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "template: top:7:20: executing \"three\" at <index \"hi\" $>: error calling index: index out of range: 5"
    );
    let err =
        Template::parse("X", "hello\n\n{{`unterminated\n\n\n\n}}\n some more\n\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "template: X:3: unterminated raw quoted string"
    );
}
