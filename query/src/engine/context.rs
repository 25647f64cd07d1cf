//! Per-query evaluation state shared by all plan nodes through DataFusion's session config.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use strata_storage::{Snapshot, Store};

use crate::error::QueryError;

/// Evaluation steps of a node: `start, start+step, …, end` (ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Steps {
    pub(crate) start: i64,
    pub(crate) end: i64,
    pub(crate) step: i64,
}

impl Steps {
    pub(crate) fn iter(self) -> impl Iterator<Item = i64> {
        let step = self.step.max(1);
        (0..)
            .map(move |i| self.start + i * step)
            .take_while(move |t| *t <= self.end)
    }

    pub(crate) fn len(self) -> usize {
        (self.end.saturating_sub(self.start) / self.step.max(1))
            .saturating_add(1)
            .max(0) as usize
    }
}

/// Cancels a query from outside, e.g. when its client hangs up: evaluation loops see it where
/// they check the deadline and stop with [`QueryError::Cancelled`].
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    /// Asks the queries holding this handle to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// True once [`Self::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Warnings and infos collected during evaluation.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Annotations {
    pub warnings: Vec<String>,
    pub infos: Vec<String>,
}

/// What every node can reach while evaluating one query.
#[derive(Debug)]
pub(crate) struct EvalContext {
    pub(crate) store: Store,
    pub(crate) snapshot: Arc<Snapshot>,
    pub(crate) max_samples: usize,
    pub(crate) deadline: Instant,
    /// How the store is read (retention floor).
    pub(crate) read: crate::select::ReadOptions,
    cancel: Cancel,
    /// Samples read as if stored.
    pub(crate) overlay: crate::Overlay,
    loaded: AtomicUsize,
    /// Downsampled rows read, and raw samples read to aggregate where no aggregate block
    /// answered.
    downsampled_rows: AtomicUsize,
    gap_samples: AtomicUsize,
    annotations: Mutex<Annotations>,
}

/// What a query read, as `/api/v1/query?stats=all` reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueryStats {
    /// Samples (raw samples, downsampled rows and produced points) counted against the limit.
    pub samples: usize,
    /// Rows read from aggregate blocks.
    pub downsampled_rows: usize,
    /// Raw samples read and aggregated at query time where no aggregate block answered.
    pub raw_samples_aggregated: usize,
}

impl EvalContext {
    pub(crate) fn new(
        store: Store,
        snapshot: Arc<Snapshot>,
        max_samples: usize,
        deadline: Instant,
        read: crate::select::ReadOptions,
        cancel: Cancel,
        overlay: crate::Overlay,
    ) -> Self {
        Self {
            store,
            snapshot,
            max_samples,
            deadline,
            read,
            cancel,
            overlay,
            loaded: AtomicUsize::new(0),
            downsampled_rows: AtomicUsize::new(0),
            gap_samples: AtomicUsize::new(0),
            annotations: Mutex::new(Annotations::default()),
        }
    }

    /// [`Self::check_deadline`] every 1024th call of a loop (`i` counts its iterations), so
    /// that no evaluation loop runs past the timeout for long.
    pub(crate) fn check_deadline_every(&self, i: usize) -> Result<(), QueryError> {
        if i.is_multiple_of(1024) {
            self.check_deadline()
        } else {
            Ok(())
        }
    }

    /// Fails once the query's time is up or it was cancelled.
    pub(crate) fn check_deadline(&self) -> Result<(), QueryError> {
        if self.cancel.is_cancelled() {
            Err(QueryError::Cancelled)
        } else if Instant::now() > self.deadline {
            Err(QueryError::Timeout)
        } else {
            Ok(())
        }
    }

    /// Samples the query may still load.
    pub(crate) fn remaining_samples(&self) -> usize {
        self.max_samples
            .saturating_sub(self.loaded.load(Ordering::Relaxed))
    }

    /// Accounts for `n` loaded (or produced) samples.
    pub(crate) fn account(&self, n: usize) -> Result<(), QueryError> {
        let total = self.loaded.fetch_add(n, Ordering::Relaxed) + n;
        if total > self.max_samples {
            Err(QueryError::TooManySamples {
                limit: self.max_samples,
            })
        } else {
            Ok(())
        }
    }

    /// Records what a downsampled read took.
    pub(crate) fn note_downsampled(&self, rows: usize, raw_samples: usize) {
        self.downsampled_rows.fetch_add(rows, Ordering::Relaxed);
        self.gap_samples.fetch_add(raw_samples, Ordering::Relaxed);
    }

    /// What the query read so far.
    pub(crate) fn stats(&self) -> QueryStats {
        QueryStats {
            samples: self.loaded.load(Ordering::Relaxed),
            downsampled_rows: self.downsampled_rows.load(Ordering::Relaxed),
            raw_samples_aggregated: self.gap_samples.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn warn(&self, msg: String) {
        if let Ok(mut a) = self.annotations.lock()
            && !a.warnings.contains(&msg)
        {
            a.warnings.push(msg);
        }
    }

    pub(crate) fn info(&self, msg: String) {
        if let Ok(mut a) = self.annotations.lock()
            && !a.infos.contains(&msg)
        {
            a.infos.push(msg);
        }
    }

    pub(crate) fn annotations(&self) -> Annotations {
        self.annotations
            .lock()
            .map(|a| a.clone())
            .unwrap_or_default()
    }
}
