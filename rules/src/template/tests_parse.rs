//! Tests of the parser: Go's parse errors and their lines, the printed form of trees, and
//! the nesting limits.

use super::parse::parse;

fn parse_err(text: &str) -> String {
    let funcs = |n: &str| matches!(n, "printf" | "len" | "eq");
    match parse("t", text, &funcs) {
        Ok(_) => "ok".to_string(),
        Err(e) => e.to_string(),
    }
}

#[test]
fn parse_errors_as_go() {
    for (text, want) in [
        ("{{foo}}", "template: t:1: function \"foo\" not defined"),
        ("a\n{{ $x }}", "template: t:2: undefined variable \"$x\""),
        ("{{if 1}}", "template: t:1: unexpected EOF"),
        ("{{end}}", "template: t:1: unexpected {{end}}"),
        ("{{else}}", "template: t:1: unexpected {{else}}"),
        ("{{ .X", "template: t:1: unclosed action"),
        ("{{ .X\n\n", "template: t:3: unclosed action started at t:1"),
        ("{{ (1 }}", "template: t:1: unclosed left paren"),
        ("{{}}", "template: t:1: missing value for command"),
        ("{{break}}", "template: t:1: {{break}} outside {{range}}"),
        ("{{range .}}{{continue}}{{end}}", "ok"),
        ("{{range .}}{{if 1}}{{break}}{{end}}{{end}}", "ok"),
        (
            "{{ 1 | 2 }}",
            "template: t:1: non executable command in pipeline stage 2",
        ),
        (
            "{{ \"a\".b }}",
            "template: t:1: unexpected . after term \"\\\"a\\\"\"",
        ),
        ("{{ 3x }}", "template: t:1: bad number syntax: \"3x\""),
        ("{{ 089 }}", "template: t:1: integer overflow: 089"),
        (
            "{{ 99999999999999999999 }}",
            "template: t:1: integer overflow: 99999999999999999999",
        ),
        ("{{ printf \"\\q\" }}", "template: t:1: invalid syntax"),
        ("{{ $x := 1 }}{{ $x }}", "ok"),
        (
            "{{ if 1 }}{{ $y := 1 }}{{ end }}{{ $y }}",
            "template: t:1: undefined variable \"$y\"",
        ),
        (
            "{{define \"a\"}}x{{end}}{{define \"a\"}}y{{end}}",
            "template: t:1: template: multiple definition of template \"a\"",
        ),
        ("{{define \"a\"}}x{{end}}{{define \"a\"}} {{end}}", "ok"),
        (
            "{{range $i, $e, $f := .}}{{end}}",
            "template: t:1: too many declarations in range",
        ),
        (
            "{{with $a, $b := .}}{{end}}",
            "template: t:1: too many declarations in with",
        ),
        (
            "{{range $i, 3}}{{end}}",
            "template: t:1: range can only initialize variables",
        ),
        (
            "{{if 1}}{{else}}{{else}}{{end}}",
            "template: t:1: expected end; found {{else}}",
        ),
        (
            "{{template .}}",
            "template: t:1: unexpected <.> in template clause",
        ),
        ("{{ \"abc\" \n }}", "ok"),
        ("{{ | }}", "template: t:1: unexpected \"|\" in command"),
        (
            "{{ 'ab' }}",
            "template: t:1: malformed character constant: 'ab'",
        ),
        (
            "{{ 1i }}",
            "template: t:1: complex constant 1i is not supported",
        ),
        ("{{ len (len 1 }}", "template: t:1: unclosed left paren"),
        (
            "a\n{{/* x */}}\n{{ foo }}",
            "template: t:3: function \"foo\" not defined",
        ),
        ("{{ printf\n\"%d\"\n1 }}", "ok"),
        ("{{ \"x\n\" }}", "template: t:1: unterminated quoted string"),
        ("\n{{ 1 }}{{ x", "template: t:2: function \"x\" not defined"),
        (
            "{{ if 1 }}\n{{ .X }}\n{{ .Y",
            "template: t:3: unclosed action",
        ),
        (
            "{{ .X\n + }}",
            "template: t:2: illegal number syntax: \"+\"",
        ),
    ] {
        assert_eq!(parse_err(text), want, "{text:?}");
    }
}

#[test]
fn pipelines_print_as_go() {
    let funcs = |_: &str| true;
    let trees = parse(
        "t",
        "{{ $x := .A.b | printf \"%d\" (len $) }}{{range $i, $e := .}}{{.}}{{else}}e{{end}}{{template \"a\" .}}",
        &funcs,
    )
    .unwrap();
    assert_eq!(
        trees["t"].to_string(),
        "{{$x := .A.b | printf \"%d\" (len $)}}{{range $i, $e := .}}{{.}}{{else}}e{{end}}{{template \"a\" .}}"
    );
}

#[test]
fn deep_nesting_is_an_error() {
    let funcs = |_: &str| true;
    let text = "{{".to_string() + &"(".repeat(51) + "1" + &")".repeat(51) + "}}";
    let err = parse("t", &text, &funcs).unwrap_err().to_string();
    assert!(err.contains("depth exceeded"), "{err}");
    let text = "{{if 1}}".repeat(101);
    let err = parse("t", &text, &funcs).unwrap_err().to_string();
    assert!(err.contains("depth exceeded"), "{err}");
}

/// Go's own parse error tests (`text/template/parse`'s `errorTests`): the error of parsing
/// each text, named as the test, must contain the expected part.
#[test]
fn go_parse_error_tests() {
    let funcs = |n: &str| super::exec::lookup(n).is_some();
    for (name, text, want) in [
        ("unclosed1", "line1\n{{", "unclosed1:2: unclosed action"),
        (
            "unclosed2",
            "line1\n{{define `x`}}line2\n{{",
            "unclosed2:3: unclosed action",
        ),
        (
            "unclosed3",
            "line1\n{{\"x\"\n\"y\"\n",
            "unclosed3:4: unclosed action started at unclosed3:2",
        ),
        (
            "unclosed4",
            "{{\n\n\n\n\n",
            "unclosed4:6: unclosed action started at unclosed4:1",
        ),
        (
            "var1",
            "line1\n{{\nx\n}}",
            "var1:3: function \"x\" not defined",
        ),
        ("function", "{{foo}}", "function \"foo\" not defined"),
        ("comment1", "{{/*}}", "comment1:1: unclosed comment"),
        (
            "comment2",
            "{{/*\nhello\n}}",
            "comment2:1: unclosed comment",
        ),
        ("lparen", "{{.X (1 2 3}}", "unclosed left paren"),
        ("rparen", "{{.X 1 2 3 ) }}", "unexpected right paren"),
        ("rparen2", "{{(.X 1 2 3", "unclosed action"),
        ("space", "{{`x`3}}", "in operand"),
        ("idchar", "{{a#}}", "'#'"),
        ("charconst", "{{'a}}", "unterminated character constant"),
        ("stringconst", "{{\"a}}", "unterminated quoted string"),
        ("rawstringconst", "{{`a}}", "unterminated raw quoted string"),
        ("number", "{{0xi}}", "number syntax"),
        (
            "multidefine",
            "{{define `a`}}a{{end}}{{define `a`}}b{{end}}",
            "multiple definition of template",
        ),
        ("eof", "{{range .X}}", "unexpected EOF"),
        (
            "variable",
            "{{$x := 23}}{{with $x.y := 3}}{{$x 23}}{{end}}",
            "unexpected \":=\"",
        ),
        ("multidecl", "{{$a,$b,$c := 23}}", "too many declarations"),
        ("undefvar", "{{$a}}", "undefined variable"),
        ("wrongdot", "{{true.any}}", "unexpected . after term"),
        (
            "wrongpipeline",
            "{{12|false}}",
            "non executable command in pipeline",
        ),
        (
            "emptypipeline",
            "{{ ( ) }}",
            "missing value for parenthesized pipeline",
        ),
        (
            "multilinerawstring",
            "{{ $v := `\n` }} {{",
            "multilinerawstring:2: unclosed action",
        ),
        ("rangeundefvar", "{{range $k}}{{end}}", "undefined variable"),
        (
            "rangeundefvars",
            "{{range $k, $v}}{{end}}",
            "undefined variable",
        ),
        (
            "rangemissingvalue1",
            "{{range $k,}}{{end}}",
            "missing value for range",
        ),
        (
            "rangemissingvalue2",
            "{{range $k, $v := }}{{end}}",
            "missing value for range",
        ),
        (
            "rangenotvariable1",
            "{{range $k, .}}{{end}}",
            "range can only initialize variables",
        ),
        (
            "rangenotvariable2",
            "{{range $k, 123 := .}}{{end}}",
            "range can only initialize variables",
        ),
    ] {
        let err = parse(name, text, &funcs)
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(err.contains(want), "{name}: {err:?} lacks {want:?}");
    }
}
