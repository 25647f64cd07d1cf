//! Go's RE2 regular expressions on the `regex` crate: the one translation that PromQL
//! matchers, `label_replace` and relabeling share, so that an expression means the same in
//! all three, and as in Prometheus. Where the dialects differ, Go's meaning wins: `\d \w \s`
//! (and their negations) are ASCII classes, `\b \B` ASCII word boundaries, `\Q…\E` a
//! literal, `[[:alpha:]]` a POSIX class, a `{` that starts no repetition a literal; and
//! replacement templates expand as Go's `Regexp.Expand`.

/// Compiles `expr` (Go RE2 syntax) anchored at both ends, as Prometheus anchors matchers,
/// `label_replace` and relabeling regexes: `^(?s:expr)$`.
pub fn anchored(expr: &str) -> Result<regex::Regex, regex::Error> {
    regex::Regex::new(&format!("^(?s:{})$", translate(expr)))
}

/// Go's `\d`, `\w`, `\s` as class items (ASCII only, unlike the `regex` crate's Unicode ones).
fn perl_class_items(c: char) -> &'static str {
    match c.to_ascii_lowercase() {
        'd' => "0-9",
        'w' => "0-9A-Za-z_",
        _ => "\\t\\n\\x0C\\r ",
    }
}

/// Length of a repetition `{n}`, `{n,}` or `{n,m}` at the start of `chars`, if there is one.
fn repetition_len(chars: &[char]) -> Option<usize> {
    let mut i = 1;
    let digits = |i: &mut usize| {
        let start = *i;
        while chars.get(*i).is_some_and(char::is_ascii_digit) {
            *i += 1;
        }
        *i > start
    };
    if !digits(&mut i) {
        return None;
    }
    if chars.get(i) == Some(&',') {
        i += 1;
        digits(&mut i);
    }
    (chars.get(i) == Some(&'}')).then_some(i + 1)
}

/// Rewrites Go RE2 syntax into the `regex` crate's where their meanings differ.
pub fn translate(expr: &str) -> String {
    let chars: Vec<char> = expr.chars().collect();
    let mut out = String::with_capacity(expr.len() + 16);
    let mut in_class = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '\\' if i < chars.len() => {
                let e = chars[i];
                i += 1;
                match e {
                    'd' | 'w' | 's' if in_class => out.push_str(perl_class_items(e)),
                    'd' | 'w' | 's' => {
                        out.push('[');
                        out.push_str(perl_class_items(e));
                        out.push(']');
                    }
                    // A nested class: valid both alone and inside a class.
                    'D' | 'W' | 'S' => {
                        out.push_str("[^");
                        out.push_str(perl_class_items(e));
                        out.push(']');
                    }
                    'b' | 'B' if !in_class => {
                        out.push_str("(?-u:\\");
                        out.push(e);
                        out.push(')');
                    }
                    'Q' => {
                        let mut literal = String::new();
                        while i < chars.len() {
                            if chars[i] == '\\' && chars.get(i + 1) == Some(&'E') {
                                i += 2;
                                break;
                            }
                            literal.push(chars[i]);
                            i += 1;
                        }
                        out.push_str(&regex::escape(&literal));
                    }
                    'p' | 'P' | 'x' if chars.get(i) == Some(&'{') => {
                        out.push('\\');
                        out.push(e);
                        while i < chars.len() {
                            out.push(chars[i]);
                            i += 1;
                            if chars[i - 1] == '}' {
                                break;
                            }
                        }
                    }
                    _ => {
                        out.push('\\');
                        out.push(e);
                    }
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                if chars.get(i) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                if chars.get(i) == Some(&']') {
                    out.push_str("\\]");
                    i += 1;
                }
            }
            '[' => {
                // `[:alpha:]` inside a class is a POSIX class; any other `[` is literal in Go.
                let posix_end = (chars.get(i) == Some(&':'))
                    .then(|| {
                        (i + 1..chars.len().saturating_sub(1))
                            .find(|&j| chars[j] == ':' && chars[j + 1] == ']')
                    })
                    .flatten();
                match posix_end {
                    Some(j) => {
                        out.push('[');
                        out.extend(&chars[i..j + 2]);
                        i = j + 2;
                    }
                    None => out.push_str("\\["),
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            '&' | '~' if in_class => {
                out.push('\\');
                out.push(c);
            }
            '-' if in_class && i >= 2 && chars[i - 2] == '-' => out.push_str("\\-"),
            '{' if !in_class => match repetition_len(&chars[i - 1..]) {
                Some(len) => {
                    out.extend(&chars[i - 1..i - 1 + len]);
                    i += len - 1;
                }
                None => out.push_str("\\{"),
            },
            '}' if !in_class => out.push_str("\\}"),
            _ => out.push(c),
        }
    }
    out
}

/// Go's `Regexp.Expand`: `$$` is a dollar; `$name` and `${name}` take letters, digits and
/// `_`; an all-digit name without a leading zero is a group number; unknown or unmatched
/// groups expand to nothing; a malformed reference leaves the `$` as text. (The `regex`
/// crate's `expand` differs on `$01` and non-ASCII letters after the name.)
pub fn expand(caps: &regex::Captures<'_>, template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        rest = &rest[pos + 1..];
        if let Some(after) = rest.strip_prefix('$') {
            out.push('$');
            rest = after;
            continue;
        }
        let (braced, body) = rest.strip_prefix('{').map_or((false, rest), |b| (true, b));
        let len = body
            .find(|c: char| !c.is_alphanumeric() && c != '_')
            .unwrap_or(body.len());
        let (name, after) = body.split_at(len);
        let after = if braced {
            after.strip_prefix('}')
        } else {
            Some(after)
        };
        let Some(after) = after.filter(|_| !name.is_empty()) else {
            out.push('$');
            continue;
        };
        rest = after;
        let numbered =
            name.bytes().all(|b| b.is_ascii_digit()) && (name.len() == 1 || !name.starts_with('0'));
        let group = if numbered {
            name.parse().ok().and_then(|n| caps.get(n))
        } else {
            caps.name(name)
        };
        if let Some(m) = group {
            out.push_str(m.as_str());
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_meanings() {
        for (expr, yes, no) in [
            (r"\d+", "123", "١٢٣"),
            (r"\w+", "a_1", "é"),
            (r"a\sb", "a b", "a\u{a0}b"),
            (r"\Qa.b\E", "a.b", "axb"),
            (r"[[:alpha:]]+", "abc", "ab1"),
            (r"a{", "a{", "a"),
            (r"x{2}", "xx", "x"),
            ("foo|bar", "bar", "foobar"),
        ] {
            let re = anchored(expr).unwrap();
            assert!(re.is_match(yes), "{expr} must match {yes:?}");
            assert!(!re.is_match(no), "{expr} must not match {no:?}");
        }
    }

    #[test]
    fn expands_as_go() {
        let re = anchored("(?P<host>[a-z]+):([0-9]+)").unwrap();
        let caps = re.captures("web:80").unwrap();
        assert_eq!(expand(&caps, "$host-$2"), "web-80");
        assert_eq!(expand(&caps, "${1}x"), "webx");
        assert_eq!(expand(&caps, "$$1"), "$1");
        assert_eq!(expand(&caps, "$01"), "");
        assert_eq!(expand(&caps, "$9"), "");
    }
}
