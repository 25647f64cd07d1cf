//! The parser of Go's `text/template` (`text/template/parse/parse.go`): items from the lexer
//! into trees, one per template (`{{define}}` and `{{block}}` add more), with Go's checks and
//! error texts — undefined functions and variables, `{{break}}` outside `{{range}}`, empty
//! pipelines — each `template: NAME:LINE: message` with the line Go reports.

use std::collections::BTreeMap;

use super::TemplateError;
use super::lexer::{Item, ItemType, Lexer};
use super::node::{Arg, Branch, Command, List, Node, Number, Pipe, Variable, is_empty_tree};
use super::strconv::{parse_float, parse_int, parse_uint, quote, unquote, unquote_char};

/// Go's `maxPipelineCmds`.
const MAX_PIPELINE_CMDS: usize = 100_000;
/// Nesting of control structures and parenthesized pipelines (Go has no limit for the
/// former) so that the recursive parser and executor stay well within a 2 MiB thread stack,
/// even in debug builds.
const MAX_NESTING: usize = 100;
/// Nesting of parenthesized pipelines (Go's `maxStackDepth` is 10000), for the same reason.
const MAX_PAREN_DEPTH: usize = 50;

type PResult<T> = Result<T, TemplateError>;

/// What `itemList` stops at, or a node of the list.
enum Parsed {
    Node(Node),
    End,
    Else,
}

impl Parsed {
    fn describe(&self) -> String {
        match self {
            Parsed::Node(n) => n.to_string(),
            Parsed::End => "{{end}}".to_string(),
            Parsed::Else => "{{else}}".to_string(),
        }
    }
}

/// The state of one tree being parsed (a `{{define}}` or `{{block}}` starts a fresh one).
#[derive(Debug, Default)]
struct TreeState {
    vars: Vec<String>,
    range_depth: usize,
    stack_depth: usize,
}

struct Parser<'a, 'f> {
    lex: Lexer<'a>,
    token: [Item; 3],
    peek_count: usize,
    parse_name: String,
    tree: TreeState,
    action_line: usize,
    nesting: usize,
    trees: BTreeMap<String, List>,
    has_function: &'f dyn Fn(&str) -> bool,
}

/// Parses `text` as the template `name` (Go's `parse.Parse`): the named trees, the top-level
/// one under `name`.
pub(crate) fn parse(
    name: &str,
    text: &str,
    has_function: &dyn Fn(&str) -> bool,
) -> PResult<BTreeMap<String, List>> {
    let eof = Item {
        typ: ItemType::Eof,
        pos: 0,
        val: String::new(),
        line: 0,
    };
    let mut p = Parser {
        lex: Lexer::new(text),
        token: [eof.clone(), eof.clone(), eof],
        peek_count: 0,
        parse_name: name.to_string(),
        tree: TreeState {
            vars: vec!["$".to_string()],
            ..TreeState::default()
        },
        action_line: 0,
        nesting: 0,
        trees: BTreeMap::new(),
        has_function,
    };
    let root = p.parse_top()?;
    p.add(name, root)?;
    Ok(p.trees)
}

impl Parser<'_, '_> {
    fn errorf(&self, message: impl Into<String>) -> TemplateError {
        TemplateError::Parse {
            name: self.parse_name.clone(),
            line: self.token[0].line,
            message: message.into(),
        }
    }

    fn next(&mut self) -> Item {
        if self.peek_count > 0 {
            self.peek_count -= 1;
        } else {
            self.token[0] = self.lex.next_item();
        }
        self.token[self.peek_count].clone()
    }

    fn backup(&mut self) {
        self.peek_count += 1;
    }

    fn backup2(&mut self, t1: Item) {
        self.token[1] = t1;
        self.peek_count = 2;
    }

    fn backup3(&mut self, t2: Item, t1: Item) {
        self.token[1] = t1;
        self.token[2] = t2;
        self.peek_count = 3;
    }

    fn peek(&mut self) -> Item {
        if self.peek_count > 0 {
            return self.token[self.peek_count - 1].clone();
        }
        self.peek_count = 1;
        self.token[0] = self.lex.next_item();
        self.token[0].clone()
    }

    fn next_non_space(&mut self) -> Item {
        loop {
            let t = self.next();
            if t.typ != ItemType::Space {
                return t;
            }
        }
    }

    fn peek_non_space(&mut self) -> Item {
        let t = self.next_non_space();
        self.backup();
        t
    }

    fn expect(&mut self, expected: ItemType, context: &str) -> PResult<Item> {
        let t = self.next_non_space();
        if t.typ != expected {
            return Err(self.unexpected(&t, context));
        }
        Ok(t)
    }

    fn unexpected(&self, token: &Item, context: &str) -> TemplateError {
        if token.typ == ItemType::Error {
            let mut extra = String::new();
            if self.action_line != 0 && self.action_line != token.line {
                extra = format!(
                    " in action started at {}:{}",
                    self.parse_name, self.action_line
                );
                if token.val.ends_with(" action") {
                    extra = extra[" in action".len()..].to_string();
                }
            }
            return self.errorf(format!("{token}{extra}"));
        }
        self.errorf(format!("unexpected {token} in {context}"))
    }

    /// Adds a tree, as Go's `Tree.add`: an empty tree never replaces a non-empty one.
    fn add(&mut self, name: &str, root: List) -> PResult<()> {
        match self.trees.get(name) {
            Some(old) if !is_empty_tree(old) => {
                if !is_empty_tree(&root) {
                    return Err(self.errorf(format!(
                        "template: multiple definition of template {}",
                        quote(name)
                    )));
                }
            }
            _ => {
                self.trees.insert(name.to_string(), root);
            }
        }
        Ok(())
    }

    fn enter(&mut self) -> PResult<()> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return Err(self.errorf("max nesting depth exceeded"));
        }
        Ok(())
    }

    fn parse_top(&mut self) -> PResult<List> {
        let mut root = List::default();
        while self.peek().typ != ItemType::Eof {
            if self.peek().typ == ItemType::LeftDelim {
                let delim = self.next();
                if self.next_non_space().typ == ItemType::Define {
                    self.parse_definition()?;
                    continue;
                }
                self.backup2(delim);
            }
            match self.text_or_action()? {
                Parsed::Node(n) => root.nodes.push(n),
                other => return Err(self.errorf(format!("unexpected {}", other.describe()))),
            }
        }
        Ok(root)
    }

    /// Parses a sub-tree's body with fresh variables (a `{{define}}` or `{{block}}`).
    fn fresh_tree(&mut self) -> PResult<(List, Parsed)> {
        let saved = std::mem::replace(
            &mut self.tree,
            TreeState {
                vars: vec!["$".to_string()],
                ..TreeState::default()
            },
        );
        self.enter()?;
        let result = self.item_list();
        self.nesting -= 1;
        self.tree = saved;
        result
    }

    fn parse_definition(&mut self) -> PResult<()> {
        const CONTEXT: &str = "define clause";
        let t = self.next_non_space();
        if t.typ != ItemType::String && t.typ != ItemType::RawString {
            return Err(self.unexpected(&t, CONTEXT));
        }
        let name = unquote(&t.val).map_err(|e| self.errorf(e.text()))?;
        self.expect(ItemType::RightDelim, CONTEXT)?;
        let (root, end) = self.fresh_tree()?;
        if !matches!(end, Parsed::End) {
            return Err(self.errorf(format!("unexpected {} in {CONTEXT}", end.describe())));
        }
        self.add(&name, root)
    }

    fn item_list(&mut self) -> PResult<(List, Parsed)> {
        let mut list = List::default();
        while self.peek_non_space().typ != ItemType::Eof {
            match self.text_or_action()? {
                Parsed::Node(n) => list.nodes.push(n),
                stop => return Ok((list, stop)),
            }
        }
        Err(self.errorf("unexpected EOF"))
    }

    fn text_or_action(&mut self) -> PResult<Parsed> {
        let token = self.next_non_space();
        match token.typ {
            ItemType::Text => Ok(Parsed::Node(Node::Text {
                pos: token.pos,
                text: token.val,
            })),
            ItemType::LeftDelim => {
                self.action_line = token.line;
                let result = self.action();
                self.action_line = 0;
                result
            }
            _ => Err(self.unexpected(&token, "input")),
        }
    }

    fn action(&mut self) -> PResult<Parsed> {
        let token = self.next_non_space();
        let node = match token.typ {
            ItemType::Block => self.block_control()?,
            ItemType::Break | ItemType::Continue => {
                let word = if token.typ == ItemType::Break {
                    "break"
                } else {
                    "continue"
                };
                let next = self.next_non_space();
                if next.typ != ItemType::RightDelim {
                    return Err(self.unexpected(&next, &format!("{{{{{word}}}}}")));
                }
                if self.tree.range_depth == 0 {
                    return Err(self.errorf(format!("{{{{{word}}}}} outside {{{{range}}}}")));
                }
                if token.typ == ItemType::Break {
                    Node::Break { pos: token.pos }
                } else {
                    Node::Continue { pos: token.pos }
                }
            }
            ItemType::Else => {
                let peek = self.peek_non_space();
                if peek.typ == ItemType::If || peek.typ == ItemType::With {
                    return Ok(Parsed::Else);
                }
                self.expect(ItemType::RightDelim, "else")?;
                return Ok(Parsed::Else);
            }
            ItemType::End => {
                self.expect(ItemType::RightDelim, "end")?;
                return Ok(Parsed::End);
            }
            ItemType::If => Node::If(self.parse_control("if")?),
            ItemType::Range => Node::Range(self.parse_control("range")?),
            ItemType::With => Node::With(self.parse_control("with")?),
            ItemType::Template => self.template_control()?,
            _ => {
                self.backup();
                let token = self.peek();
                let pipe = self.pipeline("command", ItemType::RightDelim)?;
                Node::Action {
                    pos: token.pos,
                    pipe,
                }
            }
        };
        Ok(Parsed::Node(node))
    }

    fn pipeline(&mut self, context: &str, end: ItemType) -> PResult<Pipe> {
        let token = self.peek_non_space();
        let mut pipe = Pipe {
            pos: token.pos,
            is_assign: false,
            decl: Vec::new(),
            cmds: Vec::new(),
        };
        loop {
            let v = self.peek_non_space();
            if v.typ != ItemType::Variable {
                break;
            }
            self.next();
            let after = self.peek();
            let next = self.peek_non_space();
            if next.typ == ItemType::Assign || next.typ == ItemType::Declare {
                pipe.is_assign = next.typ == ItemType::Assign;
                self.next_non_space();
                pipe.decl.push(Variable {
                    pos: v.pos,
                    ident: vec![v.val.clone()],
                });
                self.tree.vars.push(v.val);
            } else if next.typ == ItemType::Char && next.val == "," {
                self.next_non_space();
                pipe.decl.push(Variable {
                    pos: v.pos,
                    ident: vec![v.val.clone()],
                });
                self.tree.vars.push(v.val);
                if context == "range" && pipe.decl.len() < 2 {
                    match self.peek_non_space().typ {
                        ItemType::Variable | ItemType::RightDelim | ItemType::RightParen => {
                            continue;
                        }
                        _ => return Err(self.errorf("range can only initialize variables")),
                    }
                }
                return Err(self.errorf(format!("too many declarations in {context}")));
            } else if after.typ == ItemType::Space {
                self.backup3(v, after);
            } else {
                self.backup2(v);
            }
            break;
        }
        loop {
            let token = self.next_non_space();
            if token.typ == end {
                self.check_pipeline(&pipe, context)?;
                return Ok(pipe);
            }
            match token.typ {
                ItemType::Bool
                | ItemType::CharConstant
                | ItemType::Complex
                | ItemType::Dot
                | ItemType::Field
                | ItemType::Identifier
                | ItemType::Number
                | ItemType::Nil
                | ItemType::RawString
                | ItemType::String
                | ItemType::Variable
                | ItemType::LeftParen => {
                    self.backup();
                    let cmd = self.command()?;
                    pipe.cmds.push(cmd);
                    if pipe.cmds.len() > MAX_PIPELINE_CMDS {
                        return Err(self.errorf("pipeline too long"));
                    }
                }
                _ => return Err(self.unexpected(&token, context)),
            }
        }
    }

    fn check_pipeline(&self, pipe: &Pipe, context: &str) -> PResult<()> {
        if pipe.cmds.is_empty() {
            return Err(self.errorf(format!("missing value for {context}")));
        }
        for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
            if matches!(
                c.args.first(),
                Some(
                    Arg::Bool { .. }
                        | Arg::Dot { .. }
                        | Arg::Nil { .. }
                        | Arg::Number(_)
                        | Arg::String { .. }
                )
            ) {
                return Err(self.errorf(format!(
                    "non executable command in pipeline stage {}",
                    i + 1
                )));
            }
        }
        Ok(())
    }

    fn parse_control(&mut self, context: &str) -> PResult<Branch> {
        let vars = self.tree.vars.len();
        self.enter()?;
        let pipe = self.pipeline(context, ItemType::RightDelim)?;
        if context == "range" {
            self.tree.range_depth += 1;
        }
        let (list, next) = self.item_list()?;
        if context == "range" {
            self.tree.range_depth -= 1;
        }
        let mut else_list = None;
        if let Parsed::Else = next {
            let chained = match (context, self.peek().typ) {
                ("if", ItemType::If) => Some("if"),
                ("with", ItemType::With) => Some("with"),
                _ => None,
            };
            if let Some(keyword) = chained {
                self.next();
                let branch = self.parse_control(keyword)?;
                let node = if keyword == "if" {
                    Node::If(branch)
                } else {
                    Node::With(branch)
                };
                else_list = Some(List { nodes: vec![node] });
            } else {
                let (list, next) = self.item_list()?;
                if !matches!(next, Parsed::End) {
                    return Err(self.errorf(format!("expected end; found {}", next.describe())));
                }
                else_list = Some(list);
            }
        }
        self.nesting -= 1;
        self.tree.vars.truncate(vars);
        Ok(Branch {
            pos: pipe.pos,
            pipe,
            list,
            else_list,
        })
    }

    fn parse_template_name(&self, token: &Item, context: &str) -> PResult<String> {
        match token.typ {
            ItemType::String | ItemType::RawString => {
                unquote(&token.val).map_err(|e| self.errorf(e.text()))
            }
            _ => Err(self.unexpected(token, context)),
        }
    }

    fn block_control(&mut self) -> PResult<Node> {
        const CONTEXT: &str = "block clause";
        let token = self.next_non_space();
        let name = self.parse_template_name(&token, CONTEXT)?;
        let pipe = self.pipeline(CONTEXT, ItemType::RightDelim)?;
        let parent_line = self.token[0].line;
        let (root, end) = self.fresh_tree()?;
        if !matches!(end, Parsed::End) {
            return Err(TemplateError::Parse {
                name: self.parse_name.clone(),
                line: parent_line,
                message: format!("unexpected {} in {CONTEXT}", end.describe()),
            });
        }
        self.add(&name, root)?;
        Ok(Node::Template {
            pos: token.pos,
            name,
            pipe: Some(pipe),
        })
    }

    fn template_control(&mut self) -> PResult<Node> {
        const CONTEXT: &str = "template clause";
        let token = self.next_non_space();
        let name = self.parse_template_name(&token, CONTEXT)?;
        let mut pipe = None;
        if self.next_non_space().typ != ItemType::RightDelim {
            self.backup();
            pipe = Some(self.pipeline(CONTEXT, ItemType::RightDelim)?);
        }
        Ok(Node::Template {
            pos: token.pos,
            name,
            pipe,
        })
    }

    fn command(&mut self) -> PResult<Command> {
        let mut cmd = Command {
            pos: self.peek_non_space().pos,
            args: Vec::new(),
        };
        loop {
            self.peek_non_space();
            if let Some(op) = self.operand()? {
                cmd.args.push(op);
            }
            let token = self.next();
            match token.typ {
                ItemType::Space => continue,
                ItemType::RightDelim | ItemType::RightParen => self.backup(),
                ItemType::Pipe => {}
                _ => return Err(self.unexpected(&token, "operand")),
            }
            break;
        }
        if cmd.args.is_empty() {
            return Err(self.errorf("empty command"));
        }
        Ok(cmd)
    }

    fn operand(&mut self) -> PResult<Option<Arg>> {
        let Some(node) = self.term()? else {
            return Ok(None);
        };
        if self.peek().typ != ItemType::Field {
            return Ok(Some(node));
        }
        let pos = self.peek().pos;
        let mut fields = Vec::new();
        while self.peek().typ == ItemType::Field {
            let f = self.next();
            fields.push(f.val[1..].to_string());
        }
        Ok(Some(match node {
            Arg::Field { mut ident, .. } => {
                ident.extend(fields);
                Arg::Field { pos, ident }
            }
            Arg::Variable(mut v) => {
                v.ident.extend(fields);
                Arg::Variable(Variable {
                    pos,
                    ident: v.ident,
                })
            }
            Arg::Bool { .. }
            | Arg::String { .. }
            | Arg::Number(_)
            | Arg::Nil { .. }
            | Arg::Dot { .. } => {
                return Err(self.errorf(format!(
                    "unexpected . after term {}",
                    quote(&node.to_string())
                )));
            }
            node => Arg::Chain {
                pos,
                node: Box::new(node),
                field: fields,
            },
        }))
    }

    fn term(&mut self) -> PResult<Option<Arg>> {
        let token = self.next_non_space();
        let pos = token.pos;
        Ok(Some(match token.typ {
            ItemType::Identifier => {
                if !(self.has_function)(&token.val) {
                    return Err(self.errorf(format!("function {} not defined", quote(&token.val))));
                }
                Arg::Identifier {
                    pos,
                    name: token.val,
                }
            }
            ItemType::Dot => Arg::Dot { pos },
            ItemType::Nil => Arg::Nil { pos },
            ItemType::Variable => {
                let ident: Vec<String> = token.val.split('.').map(str::to_string).collect();
                if !self.tree.vars.iter().any(|v| Some(v) == ident.first()) {
                    let name = ident.first().map(String::as_str).unwrap_or("");
                    return Err(self.errorf(format!("undefined variable {}", quote(name))));
                }
                Arg::Variable(Variable { pos, ident })
            }
            ItemType::Field => Arg::Field {
                pos,
                ident: token.val[1..].split('.').map(str::to_string).collect(),
            },
            ItemType::Bool => Arg::Bool {
                pos,
                value: token.val == "true",
            },
            ItemType::CharConstant | ItemType::Complex | ItemType::Number => {
                Arg::Number(self.number(pos, &token.val, token.typ)?)
            }
            ItemType::LeftParen => {
                if self.tree.stack_depth >= MAX_PAREN_DEPTH {
                    return Err(self.errorf("max expression depth exceeded"));
                }
                self.tree.stack_depth += 1;
                self.enter()?;
                let pipe = self.pipeline("parenthesized pipeline", ItemType::RightParen)?;
                self.nesting -= 1;
                self.tree.stack_depth -= 1;
                Arg::Pipe(Box::new(pipe))
            }
            ItemType::String | ItemType::RawString => {
                let text = unquote(&token.val).map_err(|e| self.errorf(e.text()))?;
                Arg::String {
                    pos,
                    quoted: token.val,
                    text,
                }
            }
            _ => {
                self.backup();
                return Ok(None);
            }
        }))
    }

    /// Go's `newNumber`: every interpretation of a number literal.
    fn number(&self, pos: usize, text: &str, typ: ItemType) -> PResult<Number> {
        let mut n = Number {
            pos,
            text: text.to_string(),
            int: None,
            uint: None,
            float: None,
        };
        if typ == ItemType::CharConstant {
            let (c, tail) = unquote_char(&text[1..], '\'').map_err(|e| self.errorf(e.text()))?;
            if tail != "'" {
                return Err(self.errorf(format!("malformed character constant: {text}")));
            }
            n.int = Some(i64::from(u32::from(c)));
            n.uint = Some(u64::from(u32::from(c)));
            n.float = Some(f64::from(u32::from(c)));
            return Ok(n);
        }
        let imaginary = text
            .strip_suffix('i')
            .is_some_and(|t| parse_float(t).is_ok());
        if typ == ItemType::Complex || imaginary {
            return Err(self.errorf(format!("complex constant {text} is not supported")));
        }
        let u = parse_uint(text);
        n.uint = u.ok();
        if let Ok(i) = parse_int(text) {
            n.int = Some(i);
            if i == 0 {
                n.uint = Some(u.unwrap_or(0));
            }
        }
        if let Some(i) = n.int {
            n.float = Some(i as f64);
        } else if let Some(u) = n.uint {
            n.float = Some(u as f64);
        } else if let Ok(f) = parse_float(text) {
            if !text.contains(['.', 'e', 'E', 'p', 'P']) {
                return Err(self.errorf(format!("integer overflow: {text}")));
            }
            n.float = Some(f);
            if (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f)
                && (f as i64) as f64 == f
            {
                n.int = Some(f as i64);
            }
            if (0.0..1.844_674_407_370_955_2e19).contains(&f) && (f as u64) as f64 == f {
                n.uint = Some(f as u64);
            }
        }
        if n.int.is_none() && n.uint.is_none() && n.float.is_none() {
            return Err(self.errorf(format!("illegal number syntax: {}", quote(text))));
        }
        Ok(n)
    }
}
