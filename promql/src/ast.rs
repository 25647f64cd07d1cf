//! Strata's PromQL syntax tree, with Prometheus 3's extensions: duration expressions in ranges
//! and offsets, `anchored`/`smoothed` range selectors, and `fill` binary-operator modifiers.

use strata_storage::matcher::MatchOp;

/// A label matcher as written.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelMatcher {
    pub name: String,
    pub op: MatchOp,
    pub value: String,
}

/// The `@` modifier.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum At {
    /// A fixed time in ms.
    Time(i64),
    /// `@ start()`
    Start,
    /// `@ end()`
    End,
}

/// A duration expression (`5m`, `26m+4m`, `step()*2`, `min_of(range(), 1h)`), in seconds.
#[derive(Debug, Clone, PartialEq)]
pub enum DurationExpr {
    /// A literal duration or number, in seconds.
    Seconds(f64),
    Step,
    Range,
    Start,
    End,
    MinOf(Box<DurationExpr>, Box<DurationExpr>),
    MaxOf(Box<DurationExpr>, Box<DurationExpr>),
    Neg(Box<DurationExpr>),
    Binary(char, Box<DurationExpr>, Box<DurationExpr>),
}

/// The query-level values duration expressions may refer to (ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryTimes {
    pub start: i64,
    pub end: i64,
    pub step: i64,
}

impl DurationExpr {
    /// Evaluates to seconds.
    pub fn seconds(&self, q: QueryTimes) -> f64 {
        match self {
            Self::Seconds(s) => *s,
            Self::Step => q.step as f64 / 1000.0,
            Self::Range => (q.end - q.start) as f64 / 1000.0,
            Self::Start => q.start as f64 / 1000.0,
            Self::End => q.end as f64 / 1000.0,
            Self::MinOf(a, b) => a.seconds(q).min(b.seconds(q)),
            Self::MaxOf(a, b) => a.seconds(q).max(b.seconds(q)),
            Self::Neg(a) => -a.seconds(q),
            Self::Binary(op, a, b) => {
                let (a, b) = (a.seconds(q), b.seconds(q));
                match op {
                    '+' => a + b,
                    '-' => a - b,
                    '*' => a * b,
                    '/' => a / b,
                    '%' => a % b,
                    '^' => a.powf(b),
                    _ => f64::NAN,
                }
            }
        }
    }

    /// Evaluates to ms (rounded).
    pub fn millis(&self, q: QueryTimes) -> i64 {
        (self.seconds(q) * 1000.0).round() as i64
    }
}

/// An instant vector selector.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct VectorSelector {
    pub name: Option<String>,
    pub matchers: Vec<LabelMatcher>,
    pub offset: Option<DurationExpr>,
    pub at: Option<At>,
    /// `anchored`: the newest sample within the lookback window, stale markers ignored.
    pub anchored: bool,
    /// `smoothed`: the value interpolated between the samples around the evaluation time.
    pub smoothed: bool,
}

/// A range vector selector.
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixSelector {
    pub selector: VectorSelector,
    pub range: DurationExpr,
    /// `anchored`: the window also takes the last sample before its start.
    pub anchored: bool,
    /// `smoothed`: values at the window edges are interpolated.
    pub smoothed: bool,
}

/// `expr[range:step]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Subquery {
    pub expr: Expr,
    pub range: DurationExpr,
    pub step: Option<DurationExpr>,
    pub offset: Option<DurationExpr>,
    pub at: Option<At>,
}

/// `by (…)` / `without (…)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Grouping {
    pub without: bool,
    pub labels: Vec<String>,
}

/// An aggregation.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregate {
    pub op: String,
    pub expr: Expr,
    pub param: Option<Expr>,
    pub grouping: Option<Grouping>,
}

/// Vector matching cardinality.
#[derive(Debug, Clone, PartialEq)]
pub enum Card {
    OneToOne,
    ManyToOne(Vec<String>),
    OneToMany(Vec<String>),
}

/// A binary operation.
#[derive(Debug, Clone, PartialEq)]
pub struct Binary {
    pub op: String,
    pub lhs: Expr,
    pub rhs: Expr,
    pub return_bool: bool,
    /// `(true, labels)` for `on(…)`, `(false, labels)` for `ignoring(…)`.
    pub matching: Option<(bool, Vec<String>)>,
    pub card: Card,
    /// `fill_left`, `fill_right` values.
    pub fill: (Option<f64>, Option<f64>),
}

/// A PromQL expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Number(f64),
    String(String),
    /// A string literal whose escapes spell invalid UTF-8 (Go strings hold any bytes): it is
    /// a valid string expression, but never a valid label name.
    InvalidString(Vec<u8>),
    Vector(Box<VectorSelector>),
    Matrix(Box<MatrixSelector>),
    Subquery(Box<Subquery>),
    Call {
        func: String,
        args: Vec<Expr>,
    },
    Aggregate(Box<Aggregate>),
    Binary(Box<Binary>),
    Neg(Box<Expr>),
    Paren(Box<Expr>),
}

/// The type an expression evaluates to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    Scalar,
    Vector,
    Matrix,
    String,
}

/// Return types of functions that do not return an instant vector.
/// A call's result type, from the function table (calls are checked when parsed, so the name
/// is known; an unknown one is taken for a vector).
fn function_type(name: &str) -> ValueType {
    super::functions::lookup(name).map_or(ValueType::Vector, |f| f.returns.into())
}

impl Expr {
    /// The expression's type.
    pub fn value_type(&self) -> ValueType {
        match self {
            Self::Number(_) => ValueType::Scalar,
            Self::String(_) | Self::InvalidString(_) => ValueType::String,
            Self::Vector(_) | Self::Aggregate(_) => ValueType::Vector,
            Self::Matrix(_) | Self::Subquery(_) => ValueType::Matrix,
            Self::Call { func, .. } => function_type(func),
            Self::Binary(b) => {
                if b.lhs.value_type() == ValueType::Scalar
                    && b.rhs.value_type() == ValueType::Scalar
                {
                    ValueType::Scalar
                } else {
                    ValueType::Vector
                }
            }
            Self::Neg(e) | Self::Paren(e) => e.value_type(),
        }
    }
}
