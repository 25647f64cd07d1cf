//! Binary operators: arithmetic, comparison (with and without `bool`), and set operators,
//! between scalars and vectors, with `on`/`ignoring` and `group_left`/`group_right` matching.

use std::collections::HashMap;

use async_trait::async_trait;
use strata_storage::{Labels, METRIC_NAME};

use crate::engine::context::{EvalContext, Steps};
use crate::engine::node::PromOp;
use crate::engine::value::Series;
use crate::error::QueryError;

/// The binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Atan2,
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    And,
    Or,
    Unless,
    /// `min_of(a, b)` on scalars (Go's `math.Min`).
    MinOf,
    /// `max_of(a, b)` on scalars (Go's `math.Max`).
    MaxOf,
}

impl BinOp {
    pub(crate) fn from_token(t: &str) -> Option<Self> {
        Some(match t {
            "+" => Self::Add,
            "-" => Self::Sub,
            "*" => Self::Mul,
            "/" => Self::Div,
            "%" => Self::Mod,
            "^" => Self::Pow,
            "atan2" => Self::Atan2,
            "==" => Self::Eq,
            "!=" => Self::Ne,
            ">" => Self::Gt,
            "<" => Self::Lt,
            ">=" => Self::Ge,
            "<=" => Self::Le,
            "and" => Self::And,
            "or" => Self::Or,
            "unless" => Self::Unless,
            _ => return None,
        })
    }

    pub(crate) fn is_comparison(self) -> bool {
        matches!(
            self,
            Self::Eq | Self::Ne | Self::Gt | Self::Lt | Self::Ge | Self::Le
        )
    }

    pub(crate) fn is_set(self) -> bool {
        matches!(self, Self::And | Self::Or | Self::Unless)
    }

    /// `(value, keep)` for two operands (`keep` only matters for comparisons).
    pub(crate) fn apply(self, l: f64, r: f64) -> (f64, bool) {
        match self {
            Self::Add => (l + r, true),
            Self::Sub => (l - r, true),
            Self::Mul => (l * r, true),
            Self::Div => (l / r, true),
            Self::Mod => (l % r, true),
            Self::Pow => (l.powf(r), true),
            Self::Atan2 => (l.atan2(r), true),
            Self::Eq => (l, l == r),
            Self::Ne => (l, l != r),
            Self::Gt => (l, l > r),
            Self::Lt => (l, l < r),
            Self::Ge => (l, l >= r),
            Self::Le => (l, l <= r),
            Self::And | Self::Or | Self::Unless => (l, true),
            Self::MinOf if l.is_nan() || r.is_nan() => (f64::NAN, true),
            Self::MaxOf if l.is_nan() || r.is_nan() => (f64::NAN, true),
            Self::MinOf => (l.min(r), true),
            Self::MaxOf => (l.max(r), true),
        }
    }
}

/// How vectors are matched.
#[derive(Debug, Clone)]
pub(crate) enum Cardinality {
    OneToOne,
    ManyToOne(Vec<String>),
    OneToMany(Vec<String>),
    ManyToMany,
}

/// A binary operation. Scalars are series without labels with a point per step.
#[derive(Debug)]
pub(crate) struct Binary {
    pub(crate) op: BinOp,
    pub(crate) lhs_scalar: bool,
    pub(crate) rhs_scalar: bool,
    pub(crate) return_bool: bool,
    /// `Some((true, labels))` for `on(labels)`, `Some((false, labels))` for `ignoring(labels)`.
    pub(crate) matching: Option<(bool, Vec<String>)>,
    pub(crate) card: Cardinality,
    /// `fill_left(v)` / `fill_right(v)` (`fill(v)` sets both): the value a missing match on that
    /// side takes.
    pub(crate) fill: (Option<f64>, Option<f64>),
    pub(crate) steps: Steps,
}

impl Binary {
    /// An operation without matching modifiers (unary minus, `min_of`/`max_of`).
    pub(crate) fn plain(op: BinOp, lhs_scalar: bool, rhs_scalar: bool, steps: Steps) -> Self {
        Self {
            op,
            lhs_scalar,
            rhs_scalar,
            return_bool: false,
            matching: None,
            card: Cardinality::OneToOne,
            fill: (None, None),
            steps,
        }
    }

    fn signature(&self, labels: &Labels) -> Vec<(String, String)> {
        labels
            .iter()
            .filter(|l| match &self.matching {
                Some((true, on)) => on.contains(&l.name),
                Some((false, ignoring)) => l.name != METRIC_NAME && !ignoring.contains(&l.name),
                None => l.name != METRIC_NAME,
            })
            .map(|l| (l.name.clone(), l.value.clone()))
            .collect()
    }

    /// Whether a vector-vector operation drops the metric name (Prometheus' `resultMetric`):
    /// every operator but a comparison without `bool`.
    fn drops_name(&self) -> bool {
        !self.op.is_comparison() || self.return_bool
    }

    /// Whether a vector-scalar operation drops it (Prometheus' `VectorscalarBinop`:
    /// `shouldDropMetricName(op) || returnBool`): `+ - * / % ^` and `bool` comparisons, not
    /// `atan2` (`node_load1 atan2 1` keeps `node_load1`).
    fn drops_name_with_scalar(&self) -> bool {
        matches!(
            self.op,
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod | BinOp::Pow
        ) || self.return_bool
    }

    fn scalar_vector(&self, scalar: &Series, vector: Vec<Series>, swap: bool) -> Vec<Series> {
        let mut out = Vec::new();
        for s in vector {
            let mut r = Series::new(s.labels.clone());
            r.drop_name = s.drop_name || self.drops_name_with_scalar();
            for (&t, &v) in s.timestamps.iter().zip(&s.values) {
                let Some(sv) = scalar.at(t) else { continue };
                let (l, rr) = if swap { (sv, v) } else { (v, sv) };
                let Some(mut value) = self.result_value(l, rr) else {
                    continue;
                };
                // A comparison keeps the vector's value, even when the scalar is on the left.
                if self.op.is_comparison() && swap && !self.return_bool {
                    value = v;
                }
                r.push(t, value);
            }
            if !r.timestamps.is_empty() {
                out.push(r);
            }
        }
        out
    }

    fn result_labels(&self, lhs: &Labels, rhs: &Labels) -> Labels {
        let mut pairs: Vec<(String, String)> = lhs
            .iter()
            .filter(|l| match (&self.card, &self.matching) {
                (Cardinality::OneToOne, Some((true, on))) => on.contains(&l.name),
                (Cardinality::OneToOne, Some((false, ignoring))) => !ignoring.contains(&l.name),
                _ => true,
            })
            .map(|l| (l.name.clone(), l.value.clone()))
            .collect();
        let include = match &self.card {
            Cardinality::ManyToOne(l) | Cardinality::OneToMany(l) => l.as_slice(),
            _ => &[],
        };
        for name in include {
            pairs.retain(|(n, _)| n != name);
            if let Some(v) = rhs.get(name) {
                pairs.push((name.clone(), v.to_string()));
            }
        }
        Labels::from_pairs(pairs).unwrap_or_default()
    }

    fn vector_vector(
        &self,
        ctx: &EvalContext,
        lhs: Vec<Series>,
        rhs: Vec<Series>,
    ) -> Result<Vec<Series>, QueryError> {
        if self.op.is_set() {
            return self.set_op(ctx, lhs, rhs);
        }
        // group_right: swap sides so that the "many" side is always on the left.
        let swapped = matches!(self.card, Cardinality::OneToMany(_));
        let (many, one) = if swapped { (rhs, lhs) } else { (lhs, rhs) };
        let many_sigs: Vec<_> = many.iter().map(|s| self.signature(&s.labels)).collect();
        let one_sigs: Vec<_> = one.iter().map(|s| self.signature(&s.labels)).collect();
        // Signatures as dense ids, shared by both sides.
        let mut sig_ids: HashMap<&[(String, String)], usize> = HashMap::new();
        let mut many_ids = Vec::with_capacity(many_sigs.len());
        let mut one_ids = Vec::with_capacity(one_sigs.len());
        for (sigs, ids) in [(&many_sigs, &mut many_ids), (&one_sigs, &mut one_ids)] {
            for sig in sigs {
                let next = sig_ids.len();
                ids.push(*sig_ids.entry(sig.as_slice()).or_insert(next));
            }
        }
        let n_sigs = sig_ids.len();
        // Output series by result label set, and the result labels of each matched pair
        // (`None` for the other side: a fill).
        let mut outs = Outputs::default();
        let mut pair_labels: HashMap<(usize, Option<usize>), usize> = HashMap::new();
        let mut one_cursors = vec![0usize; one.len()];
        let mut many_cursors = vec![0usize; many.len()];
        // Per signature id: the "one"-side series present at this step, and whether a "many"
        // series of it was seen (one-to-one uniqueness).
        let mut one_at: Vec<Option<usize>> = vec![None; n_sigs];
        let mut seen_many: Vec<bool> = vec![false; n_sigs];
        let mut many_present: Vec<bool> = vec![false; n_sigs];
        for t in self.steps.iter() {
            // Each step visits every series: check the time once per step.
            ctx.check_deadline()?;
            one_at.iter_mut().for_each(|x| *x = None);
            seen_many.iter_mut().for_each(|x| *x = false);
            many_present.iter_mut().for_each(|x| *x = false);
            let one_values: Vec<Option<f64>> = one
                .iter()
                .zip(&mut one_cursors)
                .map(|(s, c)| s.at_cursor(c, t))
                .collect();
            for (j, v) in one_values.iter().enumerate() {
                if v.is_none() {
                    continue;
                }
                if let Some(prev) = one_at[one_ids[j]].replace(j) {
                    let side = if swapped { "left" } else { "right" };
                    return Err(QueryError::Execution(format!(
                        "found duplicate series for the match group {} on the {side} hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                        sig_string(&one_sigs[j]),
                        one[prev].labels,
                        one[j].labels
                    )));
                }
            }
            for (i, s) in many.iter().enumerate() {
                let Some(v) = s.at_cursor(&mut many_cursors[i], t) else {
                    continue;
                };
                let sig = many_ids[i];
                many_present[sig] = true;
                let Some(j) = one_at[sig] else {
                    // `fill_right` stands in for the missing "one"-side series.
                    if let Some(fill) = self.fill.1 {
                        let (l, r) = if swapped { (fill, v) } else { (v, fill) };
                        if let Some(value) = self.result_value(l, r) {
                            let id = *pair_labels.entry((i, None)).or_insert_with(|| {
                                outs.id(self.result_labels(&s.labels, &Labels::default()))
                            });
                            outs.push(id, self.drops_name() || s.drop_name, t, value, false)?;
                        }
                    }
                    continue;
                };
                if matches!(self.card, Cardinality::OneToOne)
                    && std::mem::replace(&mut seen_many[sig], true)
                {
                    return Err(QueryError::Execution(
                        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)".into(),
                    ));
                }
                let ov = one_values[j].unwrap_or(f64::NAN);
                let (l, r) = if swapped { (ov, v) } else { (v, ov) };
                let Some(value) = self.result_value(l, r) else {
                    continue;
                };
                let id = *pair_labels
                    .entry((i, Some(j)))
                    .or_insert_with(|| outs.id(self.result_labels(&s.labels, &one[j].labels)));
                outs.push(id, self.drops_name() || s.drop_name, t, value, true)?;
            }
            // `fill_left` stands in for a missing "many"-side series (the left one, after the
            // group_right swap).
            if let Some(fill) = self.fill.0 {
                for (j, v) in one_values.iter().enumerate() {
                    let Some(v) = *v else { continue };
                    if many_present[one_ids[j]] {
                        continue;
                    }
                    let (l, r) = if swapped { (v, fill) } else { (fill, v) };
                    if let Some(value) = self.result_value(l, r) {
                        let id = *pair_labels.entry((usize::MAX, Some(j))).or_insert_with(|| {
                            outs.id(
                                Labels::from_pairs(one_sigs[j].iter().cloned()).unwrap_or_default()
                            )
                        });
                        outs.push(id, true, t, value, false)?;
                    }
                }
            }
        }
        Ok(outs
            .series
            .into_iter()
            .filter(|s| !s.timestamps.is_empty())
            .collect())
    }

    /// The result for a pair of operands, or `None` when a comparison filters it out.
    fn result_value(&self, l: f64, r: f64) -> Option<f64> {
        let (value, keep) = self.op.apply(l, r);
        if self.return_bool {
            Some(if keep { 1.0 } else { 0.0 })
        } else {
            keep.then_some(value)
        }
    }

    fn set_op(
        &self,
        ctx: &EvalContext,
        lhs: Vec<Series>,
        rhs: Vec<Series>,
    ) -> Result<Vec<Series>, QueryError> {
        let rhs_sigs: Vec<_> = rhs.iter().map(|s| self.signature(&s.labels)).collect();
        let lhs_sigs: Vec<_> = lhs.iter().map(|s| self.signature(&s.labels)).collect();
        let mut left: Vec<Series> = lhs
            .iter()
            .map(|s| Series {
                drop_name: s.drop_name,
                ..Series::new(s.labels.clone())
            })
            .collect();
        let mut right: Vec<Series> = rhs
            .iter()
            .map(|s| Series {
                drop_name: s.drop_name,
                ..Series::new(s.labels.clone())
            })
            .collect();
        for t in self.steps.iter() {
            // Each step visits every series: check the time once per step.
            ctx.check_deadline()?;
            let rset = present_at(&rhs, &rhs_sigs, t);
            let lset = present_at(&lhs, &lhs_sigs, t);
            for (i, s) in lhs.iter().enumerate() {
                let Some(v) = s.at(t) else { continue };
                let keep = match self.op {
                    BinOp::And => rset.contains(&lhs_sigs[i]),
                    BinOp::Unless => !rset.contains(&lhs_sigs[i]),
                    _ => true,
                };
                if keep {
                    left[i].push(t, v);
                }
            }
            if self.op == BinOp::Or {
                for (j, s) in rhs.iter().enumerate() {
                    if let Some(v) = s.at(t)
                        && !lset.contains(&rhs_sigs[j])
                    {
                        right[j].push(t, v);
                    }
                }
            }
        }
        left.extend(right);
        left.retain(|s| !s.timestamps.is_empty());
        Ok(left)
    }
}

/// Signatures of the series with a point at `t`.
fn present_at(
    series: &[Series],
    sigs: &[Vec<(String, String)>],
    t: i64,
) -> std::collections::HashSet<Vec<(String, String)>> {
    series
        .iter()
        .zip(sigs)
        .filter(|(s, _)| s.at(t).is_some())
        .map(|(_, sig)| sig.clone())
        .collect()
}

/// Result series of a vector-vector operation, by label set, in order of appearance.
#[derive(Default)]
struct Outputs {
    ids: HashMap<Labels, usize>,
    series: Vec<Series>,
}

impl Outputs {
    fn id(&mut self, labels: Labels) -> usize {
        if let Some(&id) = self.ids.get(&labels) {
            return id;
        }
        let id = self.series.len();
        self.series.push(Series::new(labels.clone()));
        self.ids.insert(labels, id);
        id
    }

    /// Adds a point; a second one at the same step is Prometheus' "multiple matches" error
    /// when `unique` (matched pairs; fills simply overwrite nothing).
    fn push(
        &mut self,
        id: usize,
        drop_name: bool,
        t: i64,
        v: f64,
        unique: bool,
    ) -> Result<(), QueryError> {
        let s = &mut self.series[id];
        if s.timestamps.last() == Some(&t) {
            if unique {
                return Err(QueryError::Execution(
                    "multiple matches for labels: grouping labels must ensure unique matches"
                        .into(),
                ));
            }
            return Ok(());
        }
        if s.timestamps.is_empty() {
            s.drop_name = drop_name;
        }
        s.push(t, v);
        Ok(())
    }
}

fn sig_string(sig: &[(String, String)]) -> String {
    Labels::from_pairs(sig.iter().cloned())
        .unwrap_or_default()
        .to_string()
}

#[async_trait]
impl PromOp for Binary {
    fn name(&self) -> &'static str {
        "Binary"
    }

    fn describe(&self) -> String {
        format!(
            "{:?}{} matching={:?} card={:?} steps={:?}",
            self.op,
            if self.return_bool { " bool" } else { "" },
            self.matching,
            self.card,
            self.steps
        )
    }

    async fn evaluate(
        &self,
        ctx: &EvalContext,
        inputs: Vec<Vec<Series>>,
    ) -> Result<Vec<Series>, QueryError> {
        let mut it = inputs.into_iter();
        let lhs = it.next().unwrap_or_default();
        let rhs = it.next().unwrap_or_default();
        let out = match (self.lhs_scalar, self.rhs_scalar) {
            (true, true) => {
                let (l, r) = (lhs.into_iter().next(), rhs.into_iter().next());
                let mut s = Series::new(Labels::default());
                if let (Some(l), Some(r)) = (l, r) {
                    for t in self.steps.iter() {
                        if let (Some(a), Some(b)) = (l.at(t), r.at(t)) {
                            let (v, keep) = self.op.apply(a, b);
                            s.push(
                                t,
                                if self.op.is_comparison() {
                                    f64::from(u8::from(keep))
                                } else {
                                    v
                                },
                            );
                        }
                    }
                }
                vec![s]
            }
            (true, false) => match lhs.first() {
                Some(scalar) => self.scalar_vector(scalar, rhs, true),
                None => Vec::new(),
            },
            (false, true) => match rhs.first() {
                Some(scalar) => self.scalar_vector(scalar, lhs, false),
                None => Vec::new(),
            },
            (false, false) => self.vector_vector(ctx, lhs, rhs)?,
        };
        ctx.account(out.iter().map(|s| s.timestamps.len()).sum())?;
        Ok(out)
    }
}
