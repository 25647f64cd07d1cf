//! Counting object-store requests: every [`Store`](crate::Store) wraps its backend in
//! [`CountingStore`] so that servers can export request counts and benchmarks can report GETs
//! per query.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};

/// Object-store operations counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// A GET, whole object or byte range (HEAD requests count here too).
    Get,
    Put,
    List,
    Delete,
    Copy,
}

impl Operation {
    /// Every operation, in a fixed order.
    pub const ALL: [Operation; 5] = [
        Operation::Get,
        Operation::Put,
        Operation::List,
        Operation::Delete,
        Operation::Copy,
    ];

    /// Lower-case name (a metric label value).
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Get => "get",
            Operation::Put => "put",
            Operation::List => "list",
            Operation::Delete => "delete",
            Operation::Copy => "copy",
        }
    }
}

/// Request counters of one store handle (shared by its clones).
#[derive(Debug, Default)]
pub struct RequestCounts {
    counts: [AtomicU64; 5],
    get_bytes: AtomicU64,
}

impl RequestCounts {
    fn add(&self, op: Operation) {
        self.counts[op as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Requests of `op` so far.
    pub fn get(&self, op: Operation) -> u64 {
        self.counts[op as usize].load(Ordering::Relaxed)
    }

    /// Bytes requested by GETs so far (the sizes of the ranges asked for).
    pub fn get_bytes(&self) -> u64 {
        self.get_bytes.load(Ordering::Relaxed)
    }
}

/// An object store that counts the requests it forwards.
pub struct CountingStore {
    inner: Arc<dyn ObjectStore>,
    counts: Arc<RequestCounts>,
}

impl CountingStore {
    /// Wraps `inner`, counting into `counts`.
    pub fn new(inner: Arc<dyn ObjectStore>, counts: Arc<RequestCounts>) -> Self {
        Self { inner, counts }
    }
}

impl fmt::Debug for CountingStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CountingStore({})", self.inner)
    }
}

impl fmt::Display for CountingStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)
    }
}

#[async_trait]
impl ObjectStore for CountingStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.counts.add(Operation::Put);
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.counts.add(Operation::Put);
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.counts.add(Operation::Get);
        if let Some(object_store::GetRange::Bounded(r)) = &options.range {
            self.counts
                .get_bytes
                .fetch_add(r.end.saturating_sub(r.start), Ordering::Relaxed);
        }
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        let counts = self.counts.clone();
        self.inner.delete_stream(
            locations
                .inspect(move |_| counts.add(Operation::Delete))
                .boxed(),
        )
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.counts.add(Operation::List);
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        self.counts.add(Operation::List);
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.counts.add(Operation::List);
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.counts.add(Operation::Copy);
        self.inner.copy_opts(from, to, options).await
    }
}
