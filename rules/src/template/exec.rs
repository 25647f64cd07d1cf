//! The executor of Go's `text/template` (`text/template/exec.go`, Go 1.24) with the option
//! Prometheus sets, `missingkey=zero`: walks a tree writing text and printed values, keeps
//! the variable stack, evaluates pipelines, fields, map keys, methods and function calls with
//! Go's argument checks, and fails as Go does: `template: NAME:LINE:COL: executing "NAME" at
//! <node>: message`. Limits (template depth, nesting, steps, output size) keep hostile
//! templates from exhausting the stack, time or memory.

use std::collections::BTreeMap;

use super::builtins::{self, BUILTINS, Ctx, Func, Param};
use super::format::{print_action, sprint};
use super::funcs::FUNCS;
use super::node::{Arg, Branch, Command, List, Node, Number, Pipe, Variable};
use super::strconv::quote;
use super::value::Value;
use super::{Env, TemplateError};

/// Depth of `{{template}}` calls (Go allows 100000, on a growable stack).
const MAX_TEMPLATE_DEPTH: usize = 100;
/// Depth of nested control structures, parenthesized pipelines and template calls together,
/// so that execution stays well within a 2 MiB thread stack, even in debug builds.
const MAX_EXEC_NESTING: usize = 150;
/// Nodes walked, commands and range iterations evaluated in one execution.
const MAX_STEPS: u64 = if cfg!(test) { 2_000_000 } else { 50_000_000 };
/// Bytes of output of one execution, and of any string a function returns.
const MAX_OUTPUT: usize = super::format::MAX_STRING;

/// The function named `name`: Prometheus' first, then Go's builtins.
pub(crate) fn lookup(name: &str) -> Option<&'static Func> {
    FUNCS.iter().chain(BUILTINS.iter()).find(|f| f.name == name)
}

/// Why a walk stopped early.
#[derive(Debug)]
pub(crate) enum Stop {
    Break,
    Continue,
    Error(TemplateError),
}

type R<T> = Result<T, Stop>;

/// The node an error is reported at.
#[derive(Debug, Clone, Copy)]
enum At<'t> {
    Node(&'t Node),
    Pipe(&'t Pipe),
    Cmd(&'t Command),
    Arg(&'t Arg),
}

impl At<'_> {
    fn pos(&self) -> usize {
        match self {
            At::Node(n) => n.pos(),
            At::Pipe(p) => p.pos,
            At::Cmd(c) => c.pos,
            At::Arg(a) => a.pos(),
        }
    }

    fn context(&self) -> String {
        match self {
            At::Node(n) => n.to_string(),
            At::Pipe(p) => p.to_string(),
            At::Cmd(c) => c.to_string(),
            At::Arg(a) => a.to_string(),
        }
    }
}

/// The state of one execution.
pub(crate) struct Exec<'t> {
    text: &'t str,
    parse_name: &'t str,
    trees: &'t BTreeMap<String, List>,
    env: &'t dyn Env,
    out: String,
    name: &'t str,
    node: Option<At<'t>>,
    vars: Vec<(&'t str, Value)>,
    depth: usize,
    nesting: usize,
    steps: u64,
}

impl<'t> Exec<'t> {
    /// Executes the tree `name` with `data` as dot.
    pub(crate) fn run(
        text: &'t str,
        name: &'t str,
        trees: &'t BTreeMap<String, List>,
        data: &Value,
        env: &'t dyn Env,
    ) -> Result<String, TemplateError> {
        let mut s = Exec {
            text,
            parse_name: name,
            trees,
            env,
            out: String::new(),
            name,
            node: None,
            vars: vec![("$", data.clone())],
            depth: 0,
            nesting: 0,
            steps: 0,
        };
        let Some(root) = trees.get(name) else {
            return Err(TemplateError::Exec(format!(
                "template: {name}: {} is an incomplete or empty template",
                quote(name)
            )));
        };
        match s.walk_list(data, root) {
            Ok(()) | Err(Stop::Break | Stop::Continue) => Ok(s.out),
            Err(Stop::Error(e)) => Err(e),
        }
    }

    fn at(&mut self, at: At<'t>) {
        self.node = Some(at);
    }

    /// Go's `state.errorf`: the message with the location and text of the current node.
    fn errorf(&self, message: impl std::fmt::Display) -> Stop {
        let Some(at) = self.node else {
            return Stop::Error(TemplateError::Exec(format!(
                "template: {}: {message}",
                self.name
            )));
        };
        let pos = at.pos().min(self.text.len());
        let before = self.text.get(..pos).unwrap_or("");
        let line = 1 + before.matches('\n').count();
        let col = before.rfind('\n').map_or(pos, |nl| pos - nl - 1);
        Stop::Error(TemplateError::Exec(format!(
            "template: {}:{line}:{col}: executing {} at <{}>: {message}",
            self.parse_name,
            quote(self.name),
            at.context()
        )))
    }

    fn step(&mut self) -> R<()> {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return Err(self.errorf(format!("exceeded maximum of {MAX_STEPS} execution steps")));
        }
        Ok(())
    }

    fn enter(&mut self) -> R<()> {
        self.nesting += 1;
        if self.nesting > MAX_EXEC_NESTING {
            return Err(self.errorf(format!(
                "exceeded maximum nesting depth ({MAX_EXEC_NESTING})"
            )));
        }
        Ok(())
    }

    fn write(&mut self, s: &str) -> R<()> {
        if self.out.len() + s.len() > MAX_OUTPUT {
            return Err(self.errorf(format!("output exceeds {MAX_OUTPUT} bytes")));
        }
        self.out.push_str(s);
        Ok(())
    }

    fn walk_list(&mut self, dot: &Value, list: &'t List) -> R<()> {
        list.nodes.iter().try_for_each(|n| self.walk(dot, n))
    }

    fn walk(&mut self, dot: &Value, node: &'t Node) -> R<()> {
        self.step()?;
        self.at(At::Node(node));
        match node {
            Node::Text { text, .. } => self.write(text),
            Node::Action { pipe, .. } => {
                let val = self.eval_pipeline(dot, pipe)?;
                if pipe.decl.is_empty() {
                    self.at(At::Node(node));
                    self.write(&print_action(&val))?;
                }
                Ok(())
            }
            Node::If(b) => self.walk_if_or_with(false, dot, b),
            Node::With(b) => self.walk_if_or_with(true, dot, b),
            Node::Range(b) => self.walk_range(dot, node, b),
            Node::Template { name, pipe, .. } => self.walk_template(dot, node, name, pipe.as_ref()),
            Node::Break { .. } => Err(Stop::Break),
            Node::Continue { .. } => Err(Stop::Continue),
        }
    }

    fn walk_if_or_with(&mut self, with: bool, dot: &Value, b: &'t Branch) -> R<()> {
        let mark = self.vars.len();
        self.enter()?;
        let val = self.eval_pipeline(dot, &b.pipe)?;
        let result = if val.is_true() {
            self.walk_list(if with { &val } else { dot }, &b.list)
        } else if let Some(e) = &b.else_list {
            self.walk_list(dot, e)
        } else {
            Ok(())
        };
        self.nesting -= 1;
        self.vars.truncate(mark);
        result
    }

    fn walk_range(&mut self, dot: &Value, node: &'t Node, b: &'t Branch) -> R<()> {
        self.at(At::Node(node));
        let mark0 = self.vars.len();
        self.enter()?;
        let val = self.eval_pipeline(dot, &b.pipe)?;
        let mark = self.vars.len();
        let items: Vec<(Value, Value)> = match &val {
            Value::List(l) => l
                .iter()
                .enumerate()
                .map(|(i, e)| (Value::Int(i as i64), e.clone()))
                .collect(),
            Value::Samples(s) => s
                .iter()
                .enumerate()
                .map(|(i, e)| (Value::Int(i as i64), Value::Sample(e.clone())))
                .collect(),
            Value::Labels(m) => m
                .iter()
                .map(|(k, v)| (Value::string(k), Value::string(v)))
                .collect(),
            Value::Map(m) => m
                .iter()
                .map(|(k, v)| (Value::string(k), v.clone()))
                .collect(),
            Value::Int(_) | Value::Byte(_) | Value::Duration(_) => {
                if b.pipe.decl.len() > 1 {
                    return Err(self.errorf(format!(
                        "can't use {} to iterate over more than one variable",
                        sprint(std::slice::from_ref(&val))
                    )));
                }
                let n = match val {
                    Value::Int(n) | Value::Duration(n) => n,
                    Value::Byte(n) => i64::from(n),
                    _ => 0,
                };
                return self.range_ints(dot, b, n, mark0, mark);
            }
            Value::Nil => Vec::new(),
            v => {
                return Err(self.errorf(format!(
                    "range can't iterate over {}",
                    sprint(std::slice::from_ref(v))
                )));
            }
        };
        let mut ran = false;
        for (index, elem) in items {
            ran = true;
            if self.one_iteration(b, mark, index, elem)? {
                break;
            }
        }
        self.finish_range(dot, b, ran, mark0)
    }

    /// `{{range n}}`: the integers `0..n` as elements.
    fn range_ints(
        &mut self,
        dot: &Value,
        b: &'t Branch,
        n: i64,
        mark0: usize,
        mark: usize,
    ) -> R<()> {
        let mut ran = false;
        for i in 0..n.max(0) {
            ran = true;
            if self.one_iteration(b, mark, Value::Nil, Value::Int(i))? {
                break;
            }
        }
        self.finish_range(dot, b, ran, mark0)
    }

    fn finish_range(&mut self, dot: &Value, b: &'t Branch, ran: bool, mark0: usize) -> R<()> {
        let result = match (&b.else_list, ran) {
            (Some(e), false) => self.walk_list(dot, e),
            _ => Ok(()),
        };
        self.nesting -= 1;
        self.vars.truncate(mark0);
        result
    }

    /// One iteration of a range; whether a `{{break}}` ended the loop.
    fn one_iteration(&mut self, b: &'t Branch, mark: usize, index: Value, elem: Value) -> R<bool> {
        self.step()?;
        let decl = &b.pipe.decl;
        if let Some(first) = decl.first() {
            if b.pipe.is_assign {
                let v = if decl.len() > 1 {
                    index.clone()
                } else {
                    elem.clone()
                };
                self.set_var(var_name(first), v)?;
            } else if let Some(top) = self.vars.last_mut() {
                top.1 = elem.clone();
            }
        }
        if let Some(second) = decl.get(1) {
            if b.pipe.is_assign {
                self.set_var(var_name(second), elem.clone())?;
            } else if let Some(n) = self.vars.len().checked_sub(2) {
                self.vars[n].1 = index;
            }
        }
        let result = self.walk_list(&elem, &b.list);
        self.vars.truncate(mark);
        match result {
            Ok(()) | Err(Stop::Continue) => Ok(false),
            Err(Stop::Break) => Ok(true),
            Err(e) => Err(e),
        }
    }

    fn walk_template(
        &mut self,
        dot: &Value,
        node: &'t Node,
        name: &'t str,
        pipe: Option<&'t Pipe>,
    ) -> R<()> {
        self.at(At::Node(node));
        let Some(tree) = self.trees.get(name) else {
            return Err(self.errorf(format!("template {} not defined", quote(name))));
        };
        if self.depth >= MAX_TEMPLATE_DEPTH {
            return Err(self.errorf(format!(
                "exceeded maximum template depth ({MAX_TEMPLATE_DEPTH})"
            )));
        }
        let dot = match pipe {
            Some(p) => self.eval_pipeline(dot, p)?,
            None => Value::Nil,
        };
        self.enter()?;
        let vars = std::mem::replace(&mut self.vars, vec![("$", dot.clone())]);
        let caller = std::mem::replace(&mut self.name, name);
        self.depth += 1;
        let result = self.walk_list(&dot, tree);
        self.depth -= 1;
        self.name = caller;
        self.vars = vars;
        self.nesting -= 1;
        match result {
            Err(Stop::Break | Stop::Continue) => Ok(()),
            r => r,
        }
    }

    fn set_var(&mut self, name: &str, value: Value) -> R<()> {
        match self.vars.iter_mut().rev().find(|(n, _)| *n == name) {
            Some(v) => {
                v.1 = value;
                Ok(())
            }
            None => Err(self.errorf(format!("undefined variable: {name}"))),
        }
    }

    fn var_value(&self, name: &str) -> R<Value> {
        match self.vars.iter().rev().find(|(n, _)| *n == name) {
            Some((_, v)) => Ok(v.clone()),
            None => Err(self.errorf(format!("undefined variable: {name}"))),
        }
    }

    fn eval_pipeline(&mut self, dot: &Value, pipe: &'t Pipe) -> R<Value> {
        self.at(At::Pipe(pipe));
        let mut value = None;
        for cmd in &pipe.cmds {
            value = Some(self.eval_command(dot, cmd, value)?);
        }
        let value = value.unwrap_or_default();
        for v in &pipe.decl {
            if pipe.is_assign {
                self.set_var(var_name(v), value.clone())?;
            } else {
                self.vars.push((var_name(v), value.clone()));
            }
        }
        Ok(value)
    }

    fn not_a_function(&self, args: &[Arg], fin: &Option<Value>) -> R<()> {
        if args.len() > 1 || fin.is_some() {
            let first = args.first().map(ToString::to_string).unwrap_or_default();
            return Err(self.errorf(format!("can't give argument to non-function {first}")));
        }
        Ok(())
    }

    fn eval_command(&mut self, dot: &Value, cmd: &'t Command, fin: Option<Value>) -> R<Value> {
        self.step()?;
        let Some(first) = cmd.args.first() else {
            return Err(self.errorf("empty command"));
        };
        match first {
            Arg::Field { .. } => return self.eval_field_node(dot, first, Some(&cmd.args), fin),
            Arg::Chain { .. } => return self.eval_chain_node(dot, first, Some(&cmd.args), fin),
            Arg::Identifier { name, .. } => {
                return self.eval_function(dot, first, At::Cmd(cmd), name, Some(&cmd.args), fin);
            }
            Arg::Pipe(p) => {
                self.not_a_function(&cmd.args, &fin)?;
                return self.eval_nested_pipeline(dot, p);
            }
            Arg::Variable(v) => {
                return self.eval_variable_node(dot, v, first, Some(&cmd.args), fin);
            }
            _ => {}
        }
        self.at(At::Arg(first));
        self.not_a_function(&cmd.args, &fin)?;
        match first {
            Arg::Bool { value, .. } => Ok(Value::Bool(*value)),
            Arg::Dot { .. } => Ok(dot.clone()),
            Arg::Nil { .. } => Err(self.errorf("nil is not a command")),
            Arg::Number(n) => self.ideal_constant(first, n),
            Arg::String { text, .. } => Ok(Value::String(text.clone())),
            other => Err(self.errorf(format!(
                "can't evaluate command {}",
                quote(&other.to_string())
            ))),
        }
    }

    fn eval_nested_pipeline(&mut self, dot: &Value, p: &'t Pipe) -> R<Value> {
        self.enter()?;
        let v = self.eval_pipeline(dot, p);
        self.nesting -= 1;
        v
    }

    /// Go's `idealConstant`: a number literal as `int` or `float64`, by its syntax.
    fn ideal_constant(&mut self, arg: &'t Arg, n: &Number) -> R<Value> {
        self.at(At::Arg(arg));
        let t = &n.text;
        let hex_int =
            t.len() > 2 && (t.starts_with("0x") || t.starts_with("0X")) && !t.contains(['p', 'P']);
        let rune = t.starts_with('\'');
        if let Some(f) = n
            .float
            .filter(|_| !hex_int && !rune && t.contains(['.', 'e', 'E', 'p', 'P']))
        {
            return Ok(Value::Float(f));
        }
        if let Some(i) = n.int {
            return Ok(Value::Int(i));
        }
        if n.uint.is_some() {
            return Err(self.errorf(format!("{t} overflows int")));
        }
        Ok(Value::Nil)
    }

    fn eval_field_node(
        &mut self,
        dot: &Value,
        node: &'t Arg,
        args: Option<&'t [Arg]>,
        fin: Option<Value>,
    ) -> R<Value> {
        self.at(At::Arg(node));
        let Arg::Field { ident, .. } = node else {
            return Ok(Value::Nil);
        };
        self.eval_field_chain(dot, dot.clone(), node, ident, args, fin)
    }

    fn eval_chain_node(
        &mut self,
        dot: &Value,
        node: &'t Arg,
        args: Option<&'t [Arg]>,
        fin: Option<Value>,
    ) -> R<Value> {
        self.at(At::Arg(node));
        let Arg::Chain {
            node: inner, field, ..
        } = node
        else {
            return Ok(Value::Nil);
        };
        if field.is_empty() {
            return Err(self.errorf("internal error: no fields in evalChainNode"));
        }
        if let Arg::Nil { .. } = inner.as_ref() {
            return Err(self.errorf(format!("indirection through explicit nil in {node}")));
        }
        let receiver = self.eval_arg(dot, None, inner)?;
        self.eval_field_chain(dot, receiver, node, field, args, fin)
    }

    fn eval_variable_node(
        &mut self,
        dot: &Value,
        v: &'t Variable,
        node: &'t Arg,
        args: Option<&'t [Arg]>,
        fin: Option<Value>,
    ) -> R<Value> {
        self.at(At::Arg(node));
        let value = self.var_value(var_name(v))?;
        if v.ident.len() == 1 {
            self.not_a_function(args.unwrap_or(&[]), &fin)?;
            return Ok(value);
        }
        self.eval_field_chain(dot, value, node, &v.ident[1..], args, fin)
    }

    fn eval_field_chain(
        &mut self,
        dot: &Value,
        mut receiver: Value,
        node: &'t Arg,
        ident: &'t [String],
        args: Option<&'t [Arg]>,
        fin: Option<Value>,
    ) -> R<Value> {
        let Some((last, init)) = ident.split_last() else {
            return Ok(receiver);
        };
        for (i, name) in init.iter().enumerate() {
            let from_map = matches!(receiver, Value::Map(_));
            receiver = self.eval_field(dot, name, node, None, None, receiver)?;
            if from_map && receiver == Value::Nil {
                // A nil `interface{}` out of a map, not a missing value.
                let next = ident.get(i + 1).map_or("", String::as_str);
                return Err(self.errorf(format!("nil pointer evaluating interface {{}}.{next}")));
            }
        }
        self.eval_field(dot, last, node, args, fin, receiver)
    }

    /// Go's `evalField`: a method, a struct field or a map key of `receiver`.
    fn eval_field(
        &mut self,
        dot: &Value,
        name: &'t str,
        node: &'t Arg,
        args: Option<&'t [Arg]>,
        fin: Option<Value>,
        receiver: Value,
    ) -> R<Value> {
        if receiver == Value::Nil {
            return Ok(Value::Nil);
        }
        if let Some(m) = builtins::method(&receiver, name) {
            return self.eval_call(dot, m, At::Arg(node), name, args, fin, Some(receiver));
        }
        let has_args = args.is_some_and(|a| a.len() > 1) || fin.is_some();
        let field = match &receiver {
            Value::Struct(s) => s
                .fields
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone()),
            Value::Sample(s) => match name {
                "Labels" => Some(Value::Labels(s.labels.clone())),
                "Value" => Some(Value::Float(s.value)),
                _ => None,
            },
            Value::Labels(m) => {
                if has_args {
                    return Err(self.errorf(format!("{name} is not a method but has arguments")));
                }
                return Ok(Value::String(m.get(name).cloned().unwrap_or_default()));
            }
            Value::Map(m) => {
                if has_args {
                    return Err(self.errorf(format!("{name} is not a method but has arguments")));
                }
                return Ok(m.get(name).cloned().unwrap_or_default());
            }
            _ => None,
        };
        match field {
            Some(_) if has_args => Err(self.errorf(format!(
                "{name} has arguments but cannot be invoked as function"
            ))),
            Some(v) => Ok(v),
            None => Err(self.errorf(format!(
                "can't evaluate field {name} in type {}",
                receiver.go_type()
            ))),
        }
    }

    fn eval_function(
        &mut self,
        dot: &Value,
        ident: &'t Arg,
        node: At<'t>,
        name: &'t str,
        args: Option<&'t [Arg]>,
        fin: Option<Value>,
    ) -> R<Value> {
        self.at(At::Arg(ident));
        let Some(f) = lookup(name) else {
            return Err(self.errorf(format!("{} is not a defined function", quote(name))));
        };
        self.eval_call(dot, f, node, name, args, fin, None)
    }

    /// Go's `evalCall`: checks the number and types of the arguments, calls the function.
    #[allow(clippy::too_many_arguments)]
    fn eval_call(
        &mut self,
        dot: &Value,
        f: &'static Func,
        node: At<'t>,
        name: &str,
        args: Option<&'t [Arg]>,
        fin: Option<Value>,
        recv: Option<Value>,
    ) -> R<Value> {
        let args: &'t [Arg] = args.map_or(&[], |a| a.get(1..).unwrap_or(&[]));
        let num_in = args.len() + usize::from(fin.is_some());
        let mut num_fixed = args.len();
        if f.variadic.is_some() {
            num_fixed = f.params.len();
            if num_in < num_fixed {
                return Err(self.errorf(format!(
                    "wrong number of args for {name}: want at least {num_fixed} got {}",
                    args.len()
                )));
            }
        } else if num_in != f.params.len() {
            return Err(self.errorf(format!(
                "wrong number of args for {name}: want {} got {num_in}",
                f.params.len()
            )));
        }
        if f.builtin && (name == "and" || name == "or") {
            let mut v = Value::Nil;
            for arg in args {
                v = self.eval_arg(dot, Some(Param::Reflect), arg)?;
                if v.is_true() == (name == "or") {
                    return Ok(v);
                }
            }
            if let Some(fin) = fin {
                v = fin;
            }
            return Ok(v);
        }
        let mut argv = Vec::with_capacity(num_in + 1);
        argv.extend(recv);
        for (i, arg) in args.iter().enumerate() {
            let typ = match f.params.get(i) {
                Some(p) if i < num_fixed => *p,
                _ => f.variadic.unwrap_or(Param::Any),
            };
            argv.push(self.eval_arg(dot, Some(typ), arg)?);
        }
        if let Some(fin) = fin {
            let typ = match f.variadic {
                Some(v) if num_in > num_fixed => v,
                _ => f.params.get(num_in - 1).copied().unwrap_or(Param::Any),
            };
            argv.push(self.validate_type(fin, Some(typ))?);
        }
        let result = if f.builtin && name == "call" {
            let callee = match (args.first(), argv.first()) {
                (Some(a), _) => a.to_string(),
                (None, Some(v)) => sprint(std::slice::from_ref(v)),
                _ => String::new(),
            };
            match argv.first() {
                None | Some(Value::Nil) => Err("call of nil".to_string()),
                Some(v) => Err(format!("non-function {callee} of type {}", v.go_type())),
            }
        } else {
            (f.imp)(&Ctx { env: self.env }, argv)
        };
        let result = result.and_then(|v| match &v {
            Value::String(s) | Value::Html(s) if s.len() > MAX_OUTPUT => {
                Err(format!("result exceeds {MAX_OUTPUT} bytes"))
            }
            _ => Ok(v),
        });
        result.map_err(|e| {
            self.at(node);
            self.errorf(format!("error calling {name}: {e}"))
        })
    }

    /// Go's `validateType`: `value` as an argument of Go type `typ`.
    fn validate_type(&self, value: Value, typ: Option<Param>) -> R<Value> {
        let Some(typ) = typ else {
            return Ok(value);
        };
        Ok(match (value, typ) {
            (v, Param::Any | Param::Reflect) => v,
            (Value::Nil, Param::Results) => Value::Samples(Vec::new()),
            (Value::Nil, Param::Sample) => Value::Nil,
            (Value::Nil, Param::Str) => {
                return Err(self.errorf("invalid value; expected string"));
            }
            (v @ Value::String(_), Param::Str)
            | (v @ Value::Samples(_), Param::Results)
            | (v @ Value::Sample(_), Param::Sample)
            | (v @ Value::Duration(_), Param::Duration)
            | (v @ Value::Time(_), Param::Time) => v,
            (Value::Nil, t @ (Param::Duration | Param::Time)) => {
                return Err(self.errorf(format!("invalid value; expected {}", t.go_type())));
            }
            (v, t) => {
                return Err(self.errorf(format!(
                    "wrong type for value; expected {}; got {}",
                    t.go_type(),
                    v.go_type()
                )));
            }
        })
    }

    /// Go's `evalArg`: an argument node evaluated for a parameter of type `typ`.
    fn eval_arg(&mut self, dot: &Value, typ: Option<Param>, n: &'t Arg) -> R<Value> {
        self.at(At::Arg(n));
        let v = match n {
            Arg::Dot { .. } => dot.clone(),
            Arg::Nil { .. } => return self.eval_nil(typ),
            Arg::Field { .. } => {
                self.eval_field_node(dot, n, Some(std::slice::from_ref(n)), None)?
            }
            Arg::Variable(v) => self.eval_variable_node(dot, v, n, None, None)?,
            Arg::Pipe(p) => self.eval_nested_pipeline(dot, p)?,
            Arg::Identifier { name, .. } => {
                self.eval_function(dot, n, At::Arg(n), name, None, None)?
            }
            Arg::Chain { .. } => self.eval_chain_node(dot, n, None, None)?,
            Arg::Bool { .. } | Arg::Number(_) | Arg::String { .. } => {
                return self.eval_literal(typ, n);
            }
        };
        self.validate_type(v, typ)
    }

    /// `nil` as an argument of Go type `typ`.
    fn eval_nil(&self, typ: Option<Param>) -> R<Value> {
        match typ {
            Some(t @ (Param::Str | Param::Duration | Param::Time)) => {
                Err(self.errorf(format!("cannot assign nil to {}", t.go_type())))
            }
            Some(Param::Results) => Ok(Value::Samples(Vec::new())),
            _ => Ok(Value::Nil),
        }
    }

    /// A literal as an argument of Go type `typ` (Go's `evalString`, `evalInteger`…).
    fn eval_literal(&mut self, typ: Option<Param>, n: &'t Arg) -> R<Value> {
        match (typ, n) {
            (Some(Param::Str), Arg::String { text, .. }) => Ok(Value::String(text.clone())),
            (Some(Param::Str), _) => Err(self.errorf(format!("expected string; found {n}"))),
            (Some(Param::Duration), Arg::Number(Number { int: Some(i), .. })) => {
                Ok(Value::Duration(*i))
            }
            (Some(Param::Duration), _) => Err(self.errorf(format!("expected integer; found {n}"))),
            (Some(t @ (Param::Results | Param::Sample | Param::Time)), _) => {
                Err(self.errorf(format!("can't handle {n} for arg of type {}", t.go_type())))
            }
            (_, Arg::Bool { value, .. }) => Ok(Value::Bool(*value)),
            (_, Arg::Number(num)) => self.ideal_constant(n, num),
            (_, Arg::String { text, .. }) => Ok(Value::String(text.clone())),
            _ => Ok(Value::Nil),
        }
    }
}

/// The name of a declared variable (`$x`).
fn var_name(v: &Variable) -> &str {
    v.ident.first().map_or("", String::as_str)
}
