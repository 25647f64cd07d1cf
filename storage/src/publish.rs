//! The one path from samples to committed blocks, shared by import, the write buffer and the
//! compactor: encode → upload → commit.
//!
//! 1. **Encode and upload.** [`encode_and_upload`] encodes a window's series on a blocking
//!    thread ([`encode_block_with_options`]) and uploads both files under a fresh block id;
//!    the compactor streams large outputs through a [`StreamingUpload`] instead (the samples
//!    file goes up in parts while it is written, so memory stays bounded).
//! 2. **Commit.** [`commit`] commits the transaction that makes the uploaded blocks visible
//!    (and, for the compactor, hides its inputs).
//! 3. **On failure.** When the commit certainly did not land (a conflict, a commit too late,
//!    every seq lost), the uploads are invisible orphans and are deleted at once. When its
//!    outcome is unknown ([`StorageError::CommitOutcomeUnknown`]: a PUT that may have landed)
//!    nothing is deleted: the blocks may be committed, and garbage collection deletes uploads
//!    only once no snapshot references them.

use std::sync::Arc;

use bytes::Bytes;
use object_store::WriteMultipart;

use crate::aggregate::AggRow;
use crate::block::{
    BlockMeta, BlockWriter, EncodeOptions, EncodedBlock, MetricMetadataMap, SeriesSamples,
    encode_block_with_options, upload_block,
};
use crate::error::{Result, StorageError};
use crate::labels::Labels;
use crate::manifest::{Manifest, Transaction};
use crate::paths::Seq;
use crate::store::Store;

/// A block uploaded but not yet committed.
#[derive(Debug, Clone)]
pub struct Uploaded {
    pub meta: BlockMeta,
    /// Samples dropped because their series had another sample at the same timestamp.
    pub duplicates: usize,
}

/// Encodes one window's series (on a blocking thread) and uploads the block; it stays
/// invisible until a commit names it.
pub async fn encode_and_upload(
    store: &Store,
    series: Vec<SeriesSamples>,
    metadata: Arc<MetricMetadataMap>,
    options: EncodeOptions,
) -> Result<Uploaded> {
    let block =
        tokio::task::spawn_blocking(move || encode_block_with_options(series, &metadata, &options))
            .await
            .map_err(|e| StorageError::InvalidArgument(format!("encoding task failed: {e}")))??;
    upload(store, &block).await
}

/// Uploads an encoded block.
pub async fn upload(store: &Store, block: &EncodedBlock) -> Result<Uploaded> {
    upload_block(store, block).await?;
    Ok(Uploaded {
        meta: block.meta.clone(),
        duplicates: block.duplicates,
    })
}

/// Commits `txn`. If the commit certainly did not land, the files of the blocks it adds are
/// deleted (best effort); if its outcome is unknown they are left to garbage collection.
pub async fn commit(manifest: &Manifest, txn: Transaction) -> Result<Seq> {
    match manifest.commit(txn.clone()).await {
        Ok(seq) => Ok(seq),
        Err(e @ StorageError::CommitOutcomeUnknown(_)) => {
            tracing::warn!("commit outcome unknown; uploads left to garbage collection: {e}");
            Err(e)
        }
        Err(e) => {
            discard(manifest.store(), txn.added()).await;
            Err(e)
        }
    }
}

/// Deletes the files of blocks that were uploaded but certainly not committed (best effort:
/// garbage collection removes what this misses).
pub async fn discard(store: &Store, blocks: &[BlockMeta]) {
    for m in blocks {
        for p in [m.id.series_path(), m.id.samples_path()] {
            if let Err(e) = store.delete(&p).await {
                tracing::warn!("cleanup of {p}: {e}");
            }
        }
    }
}

/// Bytes of the samples file gathered before a part goes up.
const PART_BYTES: usize = 16 << 20;
/// Parts uploading at once.
const PARTS_IN_FLIGHT: usize = 2;

/// A block written series by series and uploaded while it grows: the samples file goes up as
/// a multipart upload in parts of [`PART_BYTES`], the series file (small: one row per series)
/// at the end. Encoding runs on blocking threads.
pub struct StreamingUpload {
    store: Store,
    writer: Option<BlockWriter>,
    upload: Option<WriteMultipart>,
}

impl std::fmt::Debug for StreamingUpload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamingUpload")
            .field("writer", &self.writer)
            .finish()
    }
}

impl StreamingUpload {
    /// A new block in `store`.
    pub fn new(store: &Store, options: &EncodeOptions) -> Result<Self> {
        Ok(Self {
            store: store.clone(),
            writer: Some(BlockWriter::new(options)?),
            upload: None,
        })
    }

    /// A new aggregate block of `resolution_ms` windows covering `span` (see
    /// [`BlockWriter::new_aggregates`]).
    pub fn new_aggregates(
        store: &Store,
        options: &EncodeOptions,
        resolution_ms: i64,
        span: (i64, i64),
    ) -> Result<Self> {
        Ok(Self {
            store: store.clone(),
            writer: Some(BlockWriter::new_aggregates(options, resolution_ms, span)?),
            upload: None,
        })
    }

    fn writer(&mut self) -> Result<&mut BlockWriter> {
        self.writer
            .as_mut()
            .ok_or_else(|| StorageError::InvalidArgument("block writer already closed".into()))
    }

    /// Records metric metadata in the series file.
    pub fn set_metric_metadata(&mut self, metadata: MetricMetadataMap) -> Result<()> {
        self.writer()?.set_metric_metadata(metadata);
        Ok(())
    }

    /// Samples written so far.
    pub fn samples(&self) -> u64 {
        self.writer.as_ref().map_or(0, BlockWriter::samples)
    }

    /// Appends series in block order (encoded on a blocking thread), uploading the samples
    /// file's next part once enough bytes are waiting.
    pub async fn push(&mut self, series: Vec<SeriesSamples>) -> Result<()> {
        self.encode(move |w| series.into_iter().try_for_each(|s| w.push(s)))
            .await
    }

    /// Appends series' aggregate rows in block order to an aggregate block.
    pub async fn push_rows(&mut self, series: Vec<(Labels, Vec<AggRow>)>) -> Result<()> {
        self.encode(move |w| {
            series
                .into_iter()
                .try_for_each(|(labels, rows)| w.push_rows(labels, &rows))
        })
        .await
    }

    /// Runs `write` on the writer on a blocking thread, then uploads a part if one is ready.
    async fn encode(
        &mut self,
        write: impl FnOnce(&mut BlockWriter) -> Result<()> + Send + 'static,
    ) -> Result<()> {
        let mut writer = self
            .writer
            .take()
            .ok_or_else(|| StorageError::InvalidArgument("block writer already closed".into()))?;
        let (writer, result) = tokio::task::spawn_blocking(move || {
            let result = write(&mut writer);
            (writer, result)
        })
        .await
        .map_err(|e| StorageError::InvalidArgument(format!("encoding task failed: {e}")))?;
        self.writer = Some(writer);
        result?;
        if self.writer()?.pending_samples_bytes() >= PART_BYTES {
            let part = self.writer()?.take_samples_bytes();
            self.send(part).await?;
        }
        Ok(())
    }

    async fn send(&mut self, part: Bytes) -> Result<()> {
        let path = match &self.writer {
            Some(w) => w.id().samples_path(),
            None => return Ok(()),
        };
        if self.upload.is_none() {
            let upload = self
                .store
                .object_store()
                .put_multipart_opts(&path, Default::default())
                .await
                .map_err(|e| StorageError::store("put", &path, e))?;
            self.upload = Some(WriteMultipart::new_with_chunk_size(upload, PART_BYTES));
        }
        if let Some(upload) = &mut self.upload {
            upload
                .wait_for_capacity(PARTS_IN_FLIGHT)
                .await
                .map_err(|e| StorageError::store("put", &path, e))?;
            upload.put(part);
        }
        Ok(())
    }

    /// Closes the block and uploads what remains. `None` when no sample was written (nothing
    /// is left behind in the store).
    pub async fn finish(mut self) -> Result<Option<BlockMeta>> {
        let Some(writer) = self.writer.take() else {
            return Ok(None);
        };
        if writer.samples() == 0 {
            if let Some(upload) = self.upload.take() {
                let _ = upload.abort().await;
            }
            return Ok(None);
        }
        let block = tokio::task::spawn_blocking(move || writer.finish())
            .await
            .map_err(|e| StorageError::InvalidArgument(format!("encoding task failed: {e}")))??;
        let samples_path = block.meta.id.samples_path();
        match self.upload.take() {
            None => self.store.put(&samples_path, block.samples_file).await?,
            Some(mut upload) => {
                upload.put(block.samples_file);
                upload
                    .finish()
                    .await
                    .map_err(|e| StorageError::store("put", &samples_path, e))?;
            }
        }
        self.store
            .put(&block.meta.id.series_path(), block.series_file)
            .await?;
        Ok(Some(block.meta))
    }

    /// Gives up: aborts the multipart upload (parts already sent are discarded by the store).
    pub async fn abort(mut self) {
        if let Some(upload) = self.upload.take() {
            let _ = upload.abort().await;
        }
    }
}
