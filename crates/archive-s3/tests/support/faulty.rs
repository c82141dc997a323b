//! An in-memory object store that fails puts on a script, to test what
//! `S3Storage` does when replies are lost or the server is down.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures_util::stream::BoxStream;
use object_store::client::{HttpError, HttpErrorKind};
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult,
};

/// What the next put does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutFault {
    /// The object is stored, then the connection drops before the reply.
    LoseReply,
    /// The connection is refused; nothing is stored.
    Refuse,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Simulated(&'static str);

/// Wraps an `InMemory` store. Puts follow the script of faults, then
/// pass through; every other request passes through.
#[derive(Debug)]
pub struct FaultyStore {
    pub inner: Arc<InMemory>,
    script: Mutex<VecDeque<PutFault>>,
}

impl FaultyStore {
    pub fn new(inner: Arc<InMemory>) -> FaultyStore {
        FaultyStore {
            inner,
            script: Mutex::new(VecDeque::new()),
        }
    }

    /// Makes the next puts fail as `faults` lists, in order.
    pub fn script(&self, faults: &[PutFault]) {
        self.script.lock().unwrap().extend(faults.iter().copied());
    }

    /// Returns the number of scripted faults not used yet.
    pub fn faults_left(&self) -> usize {
        self.script.lock().unwrap().len()
    }
}

impl fmt::Display for FaultyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FaultyStore({})", self.inner)
    }
}

fn transport(kind: HttpErrorKind, text: &'static str) -> object_store::Error {
    object_store::Error::Generic {
        store: "S3",
        source: Box::new(HttpError::new(kind, Simulated(text))),
    }
}

#[async_trait]
impl ObjectStore for FaultyStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        let fault = self.script.lock().unwrap().pop_front();
        match fault {
            None => self.inner.put_opts(location, payload, opts).await,
            Some(PutFault::Refuse) => Err(transport(
                HttpErrorKind::Connect,
                "connection refused (simulated)",
            )),
            Some(PutFault::LoseReply) => {
                self.inner.put_opts(location, payload, opts).await?;
                Err(transport(
                    HttpErrorKind::Interrupted,
                    "connection reset before the reply (simulated)",
                ))
            }
        }
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}
