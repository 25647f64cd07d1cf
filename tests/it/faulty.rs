//! An object store wrapper that misbehaves the way real stores and networks do.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use futures::StreamExt;
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
    /// Nothing goes wrong; calls are counted ([`Faulty::calls`]).
    Count,
    /// The process dies before its call number N (0-based): that call and every later one fail
    /// without reaching the store.
    CrashAt(usize),
    /// Call number N fails: a write lands but its response is lost, any other call fails
    /// before reaching the store. Later calls succeed.
    FailCall(usize),
    /// The first write of a block file waits (see [`Faulty::pause`]) until the test resumes it.
    PauseFirstBlockWrite,
}

/// The rendezvous of [`Fault::PauseFirstBlockWrite`].
#[derive(Debug, Default)]
pub(crate) struct Pause {
    /// Notified when the write is reached.
    pub(crate) reached: tokio::sync::Notify,
    /// Notify to let it go on.
    pub(crate) resume: tokio::sync::Notify,
    taken: std::sync::atomic::AtomicBool,
}

/// What a counted call does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Pass,
    /// Fail without reaching the store.
    Refuse,
    /// Reach the store, then fail (a lost response); reads and lists are refused instead.
    Lose,
}

/// The call counter, shared with multipart uploads.
#[derive(Debug)]
struct Calls {
    fault: Fault,
    n: AtomicUsize,
}

impl Calls {
    fn next(&self) -> Action {
        let i = self.n.fetch_add(1, Ordering::SeqCst);
        match self.fault {
            Fault::CrashAt(n) if i >= n => Action::Refuse,
            Fault::FailCall(n) if i == n => Action::Lose,
            _ => Action::Pass,
        }
    }
}

fn injected() -> object_store::Error {
    object_store::Error::Generic {
        store: "faulty",
        source: "injected fault: connection reset".into(),
    }
}

pub(crate) struct Faulty {
    inner: Arc<dyn ObjectStore>,
    fault: Fault,
    lost: AtomicUsize,
    calls: Arc<Calls>,
    pause: Arc<Pause>,
}

impl Faulty {
    pub(crate) fn wrap(inner: Arc<dyn ObjectStore>, fault: Fault) -> Arc<Self> {
        Arc::new(Self {
            inner,
            fault,
            lost: AtomicUsize::new(0),
            calls: Arc::new(Calls {
                fault,
                n: AtomicUsize::new(0),
            }),
            pause: Arc::new(Pause::default()),
        })
    }

    /// The rendezvous of [`Fault::PauseFirstBlockWrite`].
    pub(crate) fn pause(&self) -> Arc<Pause> {
        self.pause.clone()
    }

    async fn maybe_pause(&self, location: &Path) {
        if self.fault == Fault::PauseFirstBlockWrite
            && location.as_ref().contains("blocks/")
            && !self.pause.taken.swap(true, Ordering::SeqCst)
        {
            self.pause.reached.notify_one();
            self.pause.resume.notified().await;
        }
    }

    pub(crate) fn lost_responses(&self) -> usize {
        self.lost.load(Ordering::SeqCst)
    }

    /// Calls made so far (with [`Fault::Count`], `CrashAt` and `FailCall`): every request,
    /// each part of a multipart upload and its completion included.
    pub(crate) fn calls(&self) -> usize {
        self.calls.n.load(Ordering::SeqCst)
    }
}

/// A multipart upload whose parts and completion are counted calls too.
#[derive(Debug)]
struct FaultyUpload {
    inner: Box<dyn MultipartUpload>,
    calls: Arc<Calls>,
}

#[async_trait]
impl MultipartUpload for FaultyUpload {
    fn put_part(&mut self, data: PutPayload) -> object_store::UploadPart {
        match self.calls.next() {
            Action::Pass => self.inner.put_part(data),
            Action::Refuse => Box::pin(async { Err(injected()) }),
            Action::Lose => {
                let part = self.inner.put_part(data);
                Box::pin(async move {
                    part.await?;
                    Err(injected())
                })
            }
        }
    }

    async fn complete(&mut self) -> Result<PutResult> {
        match self.calls.next() {
            Action::Pass => self.inner.complete().await,
            Action::Refuse => Err(injected()),
            Action::Lose => {
                self.inner.complete().await?;
                Err(injected())
            }
        }
    }

    async fn abort(&mut self) -> Result<()> {
        match self.calls.next() {
            Action::Pass => self.inner.abort().await,
            Action::Refuse => Err(injected()),
            Action::Lose => {
                self.inner.abort().await?;
                Err(injected())
            }
        }
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
        self.maybe_pause(location).await;
        match self.calls.next() {
            Action::Pass => {}
            Action::Refuse => return Err(injected()),
            Action::Lose => {
                self.inner.put_opts(location, payload, opts).await?;
                return Err(injected());
            }
        }
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
        self.maybe_pause(location).await;
        if self.calls.next() != Action::Pass {
            return Err(injected());
        }
        let inner = self.inner.put_multipart_opts(location, opts).await?;
        Ok(Box::new(FaultyUpload {
            inner,
            calls: self.calls.clone(),
        }))
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        if self.calls.next() != Action::Pass {
            return Err(injected());
        }
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        // Each deletion is a call: refused ones fail, lost ones delete and then fail.
        let calls = self.calls.clone();
        let inner = self.inner.clone();
        Box::pin(locations.then(move |location| {
            let calls = calls.clone();
            let inner = inner.clone();
            async move {
                let location = location?;
                match calls.next() {
                    Action::Pass => inner.delete(&location).await.map(|()| location),
                    Action::Refuse => Err(injected()),
                    Action::Lose => {
                        inner.delete(&location).await?;
                        Err(injected())
                    }
                }
            }
        }))
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        if self.calls.next() != Action::Pass {
            return Box::pin(futures::stream::once(async { Err(injected()) }));
        }
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        if self.calls.next() != Action::Pass {
            return Box::pin(futures::stream::once(async { Err(injected()) }));
        }
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        if self.calls.next() != Action::Pass {
            return Err(injected());
        }
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        if self.calls.next() != Action::Pass {
            return Err(injected());
        }
        self.inner.copy_opts(from, to, options).await
    }
}
