//! A randomized robustness test: thousands of templates mutated from a corpus (a
//! deterministic xorshift generator picks the edits) are parsed and executed; none may panic,
//! and every error must read as Go's (`template: …`).

use std::collections::BTreeMap;

use super::tests_exec::FakeEnv;
use super::*;

/// Marsaglia's xorshift64*.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const CORPUS: &[&str] = &[
    "{{ $labels.instance }} is {{ humanize $value }}",
    "{{ range $i, $e := query \"up\" }}{{ $i }}:{{ .Labels.job }}={{ .Value }}{{ else }}none{{ end }}",
    "{{ with query \"up\" | first }}{{ . | value | humanizePercentage }}{{ end }}",
    "{{ if and (gt $value 1.0) (lt $value 10.0) }}mid{{ else if eq $value 0.0 }}zero{{ else }}x{{ end }}",
    "{{ define \"t\" }}[{{ . }}]{{ end }}{{ template \"t\" $labels }}{{ block \"b\" 1 }}{{ . }}{{ end }}",
    "{{- printf \"%5.2f %q %v %x\" $value \"s\" $labels 255 -}}",
    "{{ range 3 }}{{ if eq . 1 }}{{ continue }}{{ end }}{{ . }}{{ break }}{{ end }}",
    "{{ reReplaceAll \"(\\\\w+):(\\\\d+)\" \"$2/$1\" $labels.instance | toUpper | title }}",
    "{{ index $labels \"job\" }}{{ len $labels }}{{ slice \"abcdef\" 1 3 }}{{ (args 1 2).arg1 }}",
    "{{ toTime $value }} {{ (toDuration 90).String }} {{ humanizeTimestamp 1.5 }} {{ now }}",
    "{{/* comment */}}{{ $x := 1 }}{{ $x = 2 }}{{ $x }}{{ with $y := 3 }}{{ $y }}{{ end }}",
    "{{ .Labels.a.b }}{{ $.Value }}{{ .ExternalURL }}{{ stripDomain \"a.b.c:80\" }}",
];

const TOKENS: &[&str] = &[
    "{{",
    "}}",
    "{{-",
    "-}}",
    " ",
    "(",
    ")",
    "|",
    "$",
    "$x",
    ".",
    ".Labels",
    "\"",
    "`",
    "'",
    ":=",
    "=",
    ",",
    "if",
    "else",
    "end",
    "range",
    "with",
    "define",
    "template",
    "block",
    "break",
    "continue",
    "nil",
    "true",
    "0x",
    "1e9",
    "-",
    "99999999999999999999",
    "printf",
    "and",
    "or",
    "index",
    "len",
    "eq",
    "query",
    "humanize",
    "%",
    "\\",
    "\n",
    "é",
    "\u{0}",
    "/*",
    "*/",
    "1",
    "{{end}}",
    "{{else}}",
    "{{range .}}",
    "{{template \"t\" .}}",
    "{{define \"t\"}}",
    "{{ 1000000 }}",
    "%*d",
    "%[9]d",
];

fn mutate(rng: &mut XorShift, text: &str) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for _ in 0..=rng.below(4) {
        let at = rng.below(chars.len() + 1);
        match rng.below(5) {
            0 => {
                let token = TOKENS[rng.below(TOKENS.len())];
                chars.splice(at..at, token.chars());
            }
            1 if !chars.is_empty() => {
                let end = (at + 1 + rng.below(8)).min(chars.len());
                chars.drain(at.min(end)..end);
            }
            2 if !chars.is_empty() => {
                let end = (at + 1 + rng.below(16)).min(chars.len());
                let piece: Vec<char> = chars[at.min(end)..end].to_vec();
                let to = rng.below(chars.len() + 1);
                chars.splice(to..to, piece);
            }
            3 if at < chars.len() => {
                chars[at] = char::from(b' ' + rng.below(95) as u8);
            }
            _ => {
                let other = CORPUS[rng.below(CORPUS.len())];
                let cut = rng.below(other.len());
                if let Some(tail) = other.get(cut..) {
                    chars.splice(at..at, tail.chars());
                }
            }
        }
    }
    chars.into_iter().collect()
}

#[test]
fn mutated_templates_never_panic() {
    let mut results = BTreeMap::new();
    results.insert(
        "up".to_string(),
        vec![QuerySample {
            labels: [("job".to_string(), "x".to_string())].into(),
            value: 2.5,
        }],
    );
    let env = FakeEnv {
        results,
        now: 1.0,
        url: "http://x/y".to_string(),
    };
    let labels: BTreeMap<String, String> =
        [("instance".to_string(), "host:9090".to_string())].into();
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut parsed = 0;
    for round in 0..6000 {
        let text = if round % 4 == 3 {
            // A template made of tokens alone.
            (0..=rng.below(20))
                .map(|_| TOKENS[rng.below(TOKENS.len())])
                .collect()
        } else {
            mutate(&mut rng, CORPUS[round % CORPUS.len()])
        };
        match check_alert_template("__alert_F", &text) {
            Ok(()) => parsed += 1,
            Err(e) => assert!(
                e.to_string().starts_with("template: __alert_F:"),
                "{text:?}: {e}"
            ),
        }
        let out = expand_alert_template(
            "__alert_F",
            &text,
            &labels,
            &labels,
            "http://x/y",
            1.5,
            &env,
        );
        if out.starts_with("<error expanding template: ") {
            assert!(out.contains("template: __alert_F:"), "{text:?}: {out}");
        }
    }
    assert!(parsed > 100, "only {parsed} mutated templates parsed");
}
