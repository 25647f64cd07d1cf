//! The lexer of Go's `text/template` (`text/template/parse/lex.go`, Go 1.22+): text and
//! `{{ … }}` actions with trim markers (`{{- ` and ` -}}`) and comments, turned into items
//! with their byte offset and line. Its error texts (`unclosed action`, `bad number syntax`,
//! `unterminated quoted string`, …) are Go's, since parse errors show them verbatim.

use super::strconv::{is_print, quote};

const LEFT_DELIM: &str = "{{";
const RIGHT_DELIM: &str = "}}";
const LEFT_COMMENT: &str = "/*";
const RIGHT_COMMENT: &str = "*/";
/// A trim marker and the space next to it.
const TRIM_MARKER_LEN: usize = 2;

/// The kind of a lexed item; keywords come after `Keyword`, as in Go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum ItemType {
    Error,
    Bool,
    Char,
    CharConstant,
    Comment,
    Complex,
    Assign,
    Declare,
    Eof,
    Field,
    Identifier,
    LeftDelim,
    LeftParen,
    Number,
    Pipe,
    RawString,
    RightDelim,
    RightParen,
    Space,
    String,
    Text,
    Variable,
    Keyword,
    Block,
    Break,
    Continue,
    Dot,
    Define,
    Else,
    End,
    If,
    Nil,
    Range,
    Template,
    With,
}

/// A token: its kind, byte offset, text and starting line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Item {
    pub(crate) typ: ItemType,
    pub(crate) pos: usize,
    pub(crate) val: String,
    pub(crate) line: usize,
}

impl std::fmt::Display for Item {
    /// Go's `item.String()`, as parse errors print items.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.typ {
            ItemType::Eof => f.write_str("EOF"),
            ItemType::Error => f.write_str(&self.val),
            t if t > ItemType::Keyword => write!(f, "<{}>", self.val),
            _ if self.val.len() > 10 => {
                let head: String = self.val.chars().take(10).collect();
                write!(f, "{}...", quote(&head))
            }
            _ => f.write_str(&quote(&self.val)),
        }
    }
}

fn keyword(word: &str) -> Option<ItemType> {
    Some(match word {
        "block" => ItemType::Block,
        "break" => ItemType::Break,
        "continue" => ItemType::Continue,
        "define" => ItemType::Define,
        "else" => ItemType::Else,
        "end" => ItemType::End,
        "if" => ItemType::If,
        "range" => ItemType::Range,
        "nil" => ItemType::Nil,
        "template" => ItemType::Template,
        "with" => ItemType::With,
        _ => return None,
    })
}

/// Go's `isSpace`: the ASCII spaces a template separates arguments with.
fn is_space(c: Option<char>) -> bool {
    matches!(c, Some(' ' | '\t' | '\r' | '\n'))
}

/// Go's `isAlphaNumeric`: `_`, letters and digits.
fn is_alpha_numeric(c: Option<char>) -> bool {
    c.is_some_and(|c| c == '_' || c.is_alphabetic() || c.is_numeric())
}

fn has_left_trim_marker(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2 && b[0] == b'-' && is_space(Some(b[1] as char))
}

fn has_right_trim_marker(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2 && is_space(Some(b[0] as char)) && b[1] == b'-'
}

const SPACE_CHARS: [char; 4] = [' ', '\t', '\r', '\n'];

/// Go's `%#U`: `U+0041 'A'`.
fn rune_u(c: Option<char>) -> String {
    match c {
        None => "U+FFFFFFFFFFFFFFFF".to_string(),
        Some(c) if is_print(c) => format!("U+{:04X} '{c}'", c as u32),
        Some(c) => format!("U+{:04X}", c as u32),
    }
}

/// A state of the scanner (Go's `stateFn`s).
#[derive(Debug, Clone, Copy)]
enum State {
    Text,
    LeftDelim,
    Comment,
    RightDelim,
    InsideAction,
    Space,
    Identifier,
    Field,
    Variable,
    Char,
    Number,
    Quote,
    RawQuote,
}

/// What a state function does next: go to a state, or hand an item to the parser.
enum Step {
    Next(State),
    Emit(Item),
}

/// Scans a template's text into items, one `next_item` at a time.
#[derive(Debug)]
pub(crate) struct Lexer<'a> {
    input: &'a str,
    pos: usize,
    start: usize,
    at_eof: bool,
    paren_depth: i64,
    line: usize,
    start_line: usize,
    inside_action: bool,
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(input: &'a str) -> Lexer<'a> {
        Lexer {
            input,
            pos: 0,
            start: 0,
            at_eof: false,
            paren_depth: 0,
            line: 1,
            start_line: 1,
            inside_action: false,
        }
    }

    /// The next item; after the end or an error, `EOF` (or another error) forever.
    pub(crate) fn next_item(&mut self) -> Item {
        let mut state = if self.inside_action {
            State::InsideAction
        } else {
            State::Text
        };
        loop {
            let step = match state {
                State::Text => self.lex_text(),
                State::LeftDelim => self.lex_left_delim(),
                State::Comment => self.lex_comment(),
                State::RightDelim => self.lex_right_delim(),
                State::InsideAction => self.lex_inside_action(),
                State::Space => self.lex_space(),
                State::Identifier => self.lex_identifier(),
                State::Field => self.lex_field_or_variable(ItemType::Field),
                State::Variable => self.lex_variable(),
                State::Char => self.lex_quoted('\'', ItemType::CharConstant),
                State::Number => self.lex_number(),
                State::Quote => self.lex_quoted('"', ItemType::String),
                State::RawQuote => self.lex_raw_quote(),
            };
            match step {
                Step::Next(s) => state = s,
                Step::Emit(item) => return item,
            }
        }
    }

    fn rest(&self) -> &'a str {
        self.input.get(self.pos..).unwrap_or("")
    }

    fn next(&mut self) -> Option<char> {
        let Some(c) = self.rest().chars().next() else {
            self.at_eof = true;
            return None;
        };
        self.pos += c.len_utf8();
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    fn peek(&mut self) -> Option<char> {
        let c = self.next();
        self.backup();
        c
    }

    fn backup(&mut self) {
        if self.at_eof {
            return;
        }
        if let Some(c) = self.input[..self.pos].chars().next_back() {
            self.pos -= c.len_utf8();
            if c == '\n' {
                self.line -= 1;
            }
        }
    }

    fn this_item(&mut self, typ: ItemType) -> Item {
        let item = Item {
            typ,
            pos: self.start,
            val: self.input[self.start..self.pos].to_string(),
            line: self.start_line,
        };
        self.start = self.pos;
        self.start_line = self.line;
        item
    }

    fn emit(&mut self, typ: ItemType) -> Step {
        Step::Emit(self.this_item(typ))
    }

    fn ignore(&mut self) {
        self.line += self.input[self.start..self.pos].matches('\n').count();
        self.start = self.pos;
        self.start_line = self.line;
    }

    fn accept(&mut self, valid: &str) -> bool {
        if self.next().is_some_and(|c| valid.contains(c)) {
            return true;
        }
        self.backup();
        false
    }

    fn accept_run(&mut self, valid: &str) {
        while self.next().is_some_and(|c| valid.contains(c)) {}
        self.backup();
    }

    /// Reports an error and ends the scan.
    fn errorf(&mut self, message: String) -> Step {
        let item = Item {
            typ: ItemType::Error,
            pos: self.start,
            val: message,
            line: self.start_line,
        };
        self.start = 0;
        self.pos = 0;
        self.input = "";
        Step::Emit(item)
    }

    fn lex_text(&mut self) -> Step {
        if let Some(x) = self.rest().find(LEFT_DELIM) {
            if x > 0 {
                self.pos += x;
                let delim_end = self.pos + LEFT_DELIM.len();
                let trim = if has_left_trim_marker(&self.input[delim_end..]) {
                    let text = &self.input[self.start..self.pos];
                    text.len() - text.trim_end_matches(SPACE_CHARS).len()
                } else {
                    0
                };
                self.pos -= trim;
                self.line += self.input[self.start..self.pos].matches('\n').count();
                let item = self.this_item(ItemType::Text);
                self.pos += trim;
                self.ignore();
                if !item.val.is_empty() {
                    return Step::Emit(item);
                }
            }
            return Step::Next(State::LeftDelim);
        }
        self.pos = self.input.len();
        if self.pos > self.start {
            self.line += self.input[self.start..self.pos].matches('\n').count();
            return self.emit(ItemType::Text);
        }
        self.emit(ItemType::Eof)
    }

    fn at_right_delim(&self) -> (bool, bool) {
        let rest = self.rest();
        if has_right_trim_marker(rest) && rest[TRIM_MARKER_LEN..].starts_with(RIGHT_DELIM) {
            return (true, true);
        }
        (rest.starts_with(RIGHT_DELIM), false)
    }

    fn left_trim_length(s: &str) -> usize {
        s.len() - s.trim_start_matches(SPACE_CHARS).len()
    }

    fn lex_left_delim(&mut self) -> Step {
        self.pos += LEFT_DELIM.len();
        let trim = has_left_trim_marker(self.rest());
        let after_marker = if trim { TRIM_MARKER_LEN } else { 0 };
        if self.rest()[after_marker..].starts_with(LEFT_COMMENT) {
            self.pos += after_marker;
            self.ignore();
            return Step::Next(State::Comment);
        }
        let item = self.this_item(ItemType::LeftDelim);
        self.inside_action = true;
        self.pos += after_marker;
        self.ignore();
        self.paren_depth = 0;
        Step::Emit(item)
    }

    fn lex_comment(&mut self) -> Step {
        self.pos += LEFT_COMMENT.len();
        let Some(x) = self.rest().find(RIGHT_COMMENT) else {
            return self.errorf("unclosed comment".to_string());
        };
        self.pos += x + RIGHT_COMMENT.len();
        let (delim, trim) = self.at_right_delim();
        if !delim {
            return self.errorf("comment ends before closing delimiter".to_string());
        }
        self.line += self.input[self.start..self.pos].matches('\n').count();
        self.this_item(ItemType::Comment);
        if trim {
            self.pos += TRIM_MARKER_LEN;
        }
        self.pos += RIGHT_DELIM.len();
        if trim {
            self.pos += Self::left_trim_length(self.rest());
        }
        self.ignore();
        Step::Next(State::Text)
    }

    fn lex_right_delim(&mut self) -> Step {
        let (_, trim) = self.at_right_delim();
        if trim {
            self.pos += TRIM_MARKER_LEN;
            self.ignore();
        }
        self.pos += RIGHT_DELIM.len();
        let item = self.this_item(ItemType::RightDelim);
        if trim {
            self.pos += Self::left_trim_length(self.rest());
            self.ignore();
        }
        self.inside_action = false;
        Step::Emit(item)
    }

    fn lex_inside_action(&mut self) -> Step {
        let (delim, _) = self.at_right_delim();
        if delim {
            if self.paren_depth == 0 {
                return Step::Next(State::RightDelim);
            }
            return self.errorf("unclosed left paren".to_string());
        }
        let c = self.next();
        match c {
            None => self.errorf("unclosed action".to_string()),
            c if is_space(c) => {
                self.backup();
                Step::Next(State::Space)
            }
            Some('=') => self.emit(ItemType::Assign),
            Some(':') => {
                if self.next() != Some('=') {
                    return self.errorf("expected :=".to_string());
                }
                self.emit(ItemType::Declare)
            }
            Some('|') => self.emit(ItemType::Pipe),
            Some('"') => Step::Next(State::Quote),
            Some('`') => Step::Next(State::RawQuote),
            Some('$') => Step::Next(State::Variable),
            Some('\'') => Step::Next(State::Char),
            Some('.')
                if !self
                    .rest()
                    .as_bytes()
                    .first()
                    .is_some_and(u8::is_ascii_digit) =>
            {
                if self.pos < self.input.len() {
                    Step::Next(State::Field)
                } else {
                    self.backup();
                    Step::Next(State::Number)
                }
            }
            Some('.' | '+' | '-' | '0'..='9') => {
                self.backup();
                Step::Next(State::Number)
            }
            c if is_alpha_numeric(c) => {
                self.backup();
                Step::Next(State::Identifier)
            }
            Some('(') => {
                self.paren_depth += 1;
                self.emit(ItemType::LeftParen)
            }
            Some(')') => {
                self.paren_depth -= 1;
                if self.paren_depth < 0 {
                    return self.errorf("unexpected right paren".to_string());
                }
                self.emit(ItemType::RightParen)
            }
            Some(c) if c.is_ascii() && is_print(c) => self.emit(ItemType::Char),
            c => self.errorf(format!("unrecognized character in action: {}", rune_u(c))),
        }
    }

    fn lex_space(&mut self) -> Step {
        let mut spaces = 0;
        while is_space(self.peek()) {
            self.next();
            spaces += 1;
        }
        let before = &self.input[self.pos - 1..];
        if has_right_trim_marker(before) && before[TRIM_MARKER_LEN..].starts_with(RIGHT_DELIM) {
            self.backup();
            if spaces == 1 {
                return Step::Next(State::RightDelim);
            }
        }
        self.emit(ItemType::Space)
    }

    fn lex_identifier(&mut self) -> Step {
        loop {
            let c = self.next();
            if is_alpha_numeric(c) {
                continue;
            }
            self.backup();
            if !self.at_terminator() {
                return self.errorf(format!("bad character {}", rune_u(c)));
            }
            let word = &self.input[self.start..self.pos];
            return match keyword(word) {
                Some(k) => self.emit(k),
                None if word == "true" || word == "false" => self.emit(ItemType::Bool),
                None => self.emit(ItemType::Identifier),
            };
        }
    }

    fn lex_variable(&mut self) -> Step {
        if self.at_terminator() {
            return self.emit(ItemType::Variable);
        }
        self.lex_field_or_variable(ItemType::Variable)
    }

    fn lex_field_or_variable(&mut self, typ: ItemType) -> Step {
        if self.at_terminator() {
            return self.emit(if typ == ItemType::Variable {
                ItemType::Variable
            } else {
                ItemType::Dot
            });
        }
        let mut c;
        loop {
            c = self.next();
            if !is_alpha_numeric(c) {
                self.backup();
                break;
            }
        }
        if !self.at_terminator() {
            return self.errorf(format!("bad character {}", rune_u(c)));
        }
        self.emit(typ)
    }

    fn at_terminator(&mut self) -> bool {
        let c = self.peek();
        if is_space(c) {
            return true;
        }
        match c {
            None | Some('.' | ',' | '|' | ':' | ')' | '(') => true,
            _ => self.rest().starts_with(RIGHT_DELIM),
        }
    }

    /// A `'…'` character constant or a `"…"` string (Go's `lexChar` and `lexQuote`).
    fn lex_quoted(&mut self, quote: char, typ: ItemType) -> Step {
        let unterminated = if quote == '"' {
            "unterminated quoted string"
        } else {
            "unterminated character constant"
        };
        loop {
            match self.next() {
                Some('\\') => {
                    if matches!(self.next(), None | Some('\n')) {
                        return self.errorf(unterminated.to_string());
                    }
                }
                None | Some('\n') => return self.errorf(unterminated.to_string()),
                Some(c) if c == quote => break,
                Some(_) => {}
            }
        }
        self.emit(typ)
    }

    fn lex_raw_quote(&mut self) -> Step {
        loop {
            match self.next() {
                None => return self.errorf("unterminated raw quoted string".to_string()),
                Some('`') => break,
                Some(_) => {}
            }
        }
        self.emit(ItemType::RawString)
    }

    fn lex_number(&mut self) -> Step {
        if !self.scan_number() {
            let text = quote(&self.input[self.start..self.pos]);
            return self.errorf(format!("bad number syntax: {text}"));
        }
        if matches!(self.peek(), Some('+' | '-')) {
            if !self.scan_number() || !self.input[..self.pos].ends_with('i') {
                let text = quote(&self.input[self.start..self.pos]);
                return self.errorf(format!("bad number syntax: {text}"));
            }
            return self.emit(ItemType::Complex);
        }
        self.emit(ItemType::Number)
    }

    fn scan_number(&mut self) -> bool {
        self.accept("+-");
        let mut digits = "0123456789_";
        if self.accept("0") {
            if self.accept("xX") {
                digits = "0123456789abcdefABCDEF_";
            } else if self.accept("oO") {
                digits = "01234567_";
            } else if self.accept("bB") {
                digits = "01_";
            }
        }
        self.accept_run(digits);
        if self.accept(".") {
            self.accept_run(digits);
        }
        if digits.len() == 11 && self.accept("eE") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        if digits.len() == 23 && self.accept("pP") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        self.accept("i");
        if is_alpha_numeric(self.peek()) {
            self.next();
            return false;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(text: &str) -> Vec<(ItemType, String)> {
        let mut l = Lexer::new(text);
        let mut out = Vec::new();
        loop {
            let i = l.next_item();
            let done = matches!(i.typ, ItemType::Eof | ItemType::Error);
            out.push((i.typ, i.val));
            if done {
                return out;
            }
        }
    }

    #[test]
    fn lexes_actions() {
        use ItemType::*;
        let got = items("a {{- .X.y | printf \"%d\" 3 -}} b{{/* c */}}{{$v := 0x1F}}");
        let want = vec![
            (Text, "a"),
            (LeftDelim, "{{"),
            (Field, ".X"),
            (Field, ".y"),
            (Space, " "),
            (Pipe, "|"),
            (Space, " "),
            (Identifier, "printf"),
            (Space, " "),
            (String, "\"%d\""),
            (Space, " "),
            (Number, "3"),
            (RightDelim, "}}"),
            (Text, "b"),
            (LeftDelim, "{{"),
            (Variable, "$v"),
            (Space, " "),
            (Declare, ":="),
            (Space, " "),
            (Number, "0x1F"),
            (RightDelim, "}}"),
            (Eof, ""),
        ];
        let want: Vec<_> = want.into_iter().map(|(t, v)| (t, v.to_string())).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn lexes_keywords_and_errors() {
        use ItemType::*;
        let got = items("{{if true}}{{else}}{{end}}");
        assert_eq!(got[1], (If, "if".to_string()));
        assert_eq!(got[3], (Bool, "true".to_string()));
        assert_eq!(
            items("{{ 3x }}").last().unwrap().1,
            "bad number syntax: \"3x\""
        );
        assert_eq!(
            items("{{ \"abc }}").last().unwrap().1,
            "unterminated quoted string"
        );
        assert_eq!(items("{{ foo").last().unwrap().1, "unclosed action");
        assert_eq!(items("{{ (foo }}").last().unwrap().1, "unclosed left paren");
        assert_eq!(
            items("{{ foo) }}").last().unwrap().1,
            "unexpected right paren"
        );
        assert_eq!(items("{{/* x }}").last().unwrap().1, "unclosed comment");
        assert_eq!(
            items("{{ \u{1} }}").last().unwrap().1,
            "unrecognized character in action: U+0001"
        );
        assert_eq!(
            items("{{ $x! }}").last().unwrap().1,
            "bad character U+0021 '!'"
        );
        assert_eq!(items("{{ : }}").last().unwrap().1, "expected :=");
    }

    #[test]
    fn trims_and_counts_lines() {
        let mut l = Lexer::new("a \n {{- 1 -}} \n b\n{{2}}");
        let text = l.next_item();
        assert_eq!((text.val.as_str(), text.line), ("a", 1));
        let delim = l.next_item();
        assert_eq!(delim.line, 2);
        l.next_item(); // 1
        l.next_item(); // }}
        let b = l.next_item();
        assert_eq!((b.val.as_str(), b.line), ("b\n", 3));
        let delim = l.next_item();
        assert_eq!(delim.line, 4);
    }

    #[test]
    fn item_strings_as_go() {
        let item = |typ, val: &str| Item {
            typ,
            pos: 0,
            val: val.to_string(),
            line: 1,
        };
        assert_eq!(item(ItemType::End, "end").to_string(), "<end>");
        assert_eq!(item(ItemType::Eof, "").to_string(), "EOF");
        assert_eq!(item(ItemType::Identifier, "abc").to_string(), "\"abc\"");
        assert_eq!(
            item(ItemType::String, "\"abcdefghijkl\"").to_string(),
            "\"\\\"abcdefghi\"..."
        );
    }
}
