//! An object store wrapper that misbehaves the way real stores and networks do.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    ObjectStoreExt, PutMode, PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Like Garage 2.5: `If-None-Match: *` is ignored, a create-only PUT overwrites.
    IgnoreConditions,
    /// Like a store that checks existence, then writes: not atomic under races.
    CheckThenPut,
    /// The first N create-only PUTs under `manifest/log/` land, but their response is lost.
    LoseCommitResponses(usize),
}

pub(crate) struct Faulty {
    inner: Arc<dyn ObjectStore>,
    fault: Fault,
    lost: AtomicUsize,
}

impl Faulty {
    pub(crate) fn wrap(inner: Arc<dyn ObjectStore>, fault: Fault) -> Arc<Self> {
        Arc::new(Self {
            inner,
            fault,
            lost: AtomicUsize::new(0),
        })
    }

    pub(crate) fn lost_responses(&self) -> usize {
        self.lost.load(Ordering::SeqCst)
    }
}

impl fmt::Debug for Faulty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Faulty({:?}, {})", self.fault, self.inner)
    }
}

impl fmt::Display for Faulty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[async_trait]
impl ObjectStore for Faulty {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        match (self.fault, &opts.mode) {
            (Fault::IgnoreConditions, PutMode::Create) => {
                let opts = PutOptions {
                    mode: PutMode::Overwrite,
                    ..opts
                };
                self.inner.put_opts(location, payload, opts).await
            }
            (Fault::CheckThenPut, PutMode::Create) => {
                if self.inner.head(location).await.is_ok() {
                    return Err(object_store::Error::AlreadyExists {
                        path: location.to_string(),
                        source: "exists".into(),
                    });
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                let opts = PutOptions {
                    mode: PutMode::Overwrite,
                    ..opts
                };
                self.inner.put_opts(location, payload, opts).await
            }
            (Fault::LoseCommitResponses(n), PutMode::Create)
                if location.as_ref().contains("manifest/log/")
                    && self.lost.load(Ordering::SeqCst) < n =>
            {
                self.inner.put_opts(location, payload, opts).await?;
                self.lost.fetch_add(1, Ordering::SeqCst);
                Err(object_store::Error::Generic {
                    store: "faulty",
                    source: "connection reset after the request was sent".into(),
                })
            }
            _ => self.inner.put_opts(location, payload, opts).await,
        }
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}
