//! The journal's writer thread: appends entries and shares one `fdatasync`
//! among every entry that arrived while the previous sync ran (group
//! commit).

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;

use tokio::sync::oneshot;

use super::segments::segment_path;
use super::{JournalError, JournalPos, Shared, io_error, sync_dir};

/// Upper bound on the bytes one group commit writes before it syncs.
const MAX_BATCH_BYTES: usize = 16 << 20;

/// One append, waiting for its entry to become durable.
pub(super) struct Request {
    pub(super) entry: Vec<u8>,
    pub(super) reply: oneshot::Sender<Result<JournalPos, JournalError>>,
}

pub(super) struct Writer {
    shared: Arc<Shared>,
    file: File,
    segment: u64,
    /// Bytes of the current batch not yet written.
    buffer: Vec<u8>,
}

impl Writer {
    pub(super) fn new(shared: Arc<Shared>, file: File, segment: u64) -> Writer {
        Writer {
            shared,
            file,
            segment,
            buffer: Vec::with_capacity(1 << 20),
        }
    }

    /// Serves requests until every sender is dropped.
    pub(super) fn run(mut self, requests: Receiver<Request>) {
        while let Ok(first) = requests.recv() {
            let mut batch_bytes = first.entry.len();
            let mut batch = vec![first];
            if self.shared.options.group_commit {
                while batch_bytes < MAX_BATCH_BYTES {
                    let Ok(next) = requests.try_recv() else { break };
                    batch_bytes += next.entry.len();
                    batch.push(next);
                }
            }
            self.write_batch(batch);
        }
    }

    fn write_batch(&mut self, batch: Vec<Request>) {
        if let Some(reason) = self.shared.failure() {
            return self.fail(batch, &JournalError::Failed { reason });
        }

        let mut placed: Vec<(Request, JournalPos)> = Vec::with_capacity(batch.len());
        for request in batch {
            let len = request.entry.len() as u64;
            let used = self.active_size() + self.buffer.len() as u64;
            let segment_full = used > 0 && used + len > self.shared.options.segment_bytes;
            if segment_full
                && let Err(error) = self.commit(&mut placed).and_then(|()| self.rotate())
            {
                let mut rest = vec![request];
                rest.extend(placed.drain(..).map(|(request, _)| request));
                return self.fail(rest, &error);
            }
            let pos = JournalPos {
                segment: self.segment,
                offset: self.active_size() + self.buffer.len() as u64,
                len: request.entry.len() as u32,
            };
            self.buffer.extend_from_slice(&request.entry);
            placed.push((request, pos));
        }

        if let Err(error) = self.commit(&mut placed) {
            let failed = placed.into_iter().map(|(request, _)| request).collect();
            self.fail(failed, &error);
        }
    }

    /// Writes the buffer, syncs it, registers the placed requests and
    /// replies to them. On failure the placed requests stay in `placed`.
    fn commit(&mut self, placed: &mut Vec<(Request, JournalPos)>) -> Result<(), JournalError> {
        if placed.is_empty() {
            return Ok(());
        }
        let start = self.active_size();
        let path = segment_path(&self.shared.dir, self.segment);

        if let Err(source) = self.file.write_all_at(&self.buffer, start) {
            self.truncate_to(start);
            return Err(io_error("append to journal segment", &path, source));
        }
        if let Err(source) = self.file.sync_data() {
            // After a failed fsync the kernel may have dropped the dirty
            // pages, so nothing written since the last good sync can be
            // trusted. Stop accepting appends until a restart replays.
            let error = io_error("sync journal segment", &path, source);
            self.shared.set_failure(error.to_string());
            return Err(error);
        }

        self.shared.syncs.fetch_add(1, Ordering::Relaxed);
        self.buffer.clear();
        let mut table = self.shared.table.lock().expect("journal table lock");
        for (_, pos) in placed.iter() {
            table.appended(u64::from(pos.len));
        }
        drop(table);
        for (request, pos) in placed.drain(..) {
            let _ = request.reply.send(Ok(pos));
        }
        Ok(())
    }

    fn truncate_to(&mut self, len: u64) {
        self.buffer.clear();
        if let Err(error) = self.file.set_len(len) {
            let reason = format!("could not cut a failed append from the journal: {error}");
            self.shared.set_failure(reason);
        }
    }

    /// Closes the active segment and starts the next one.
    fn rotate(&mut self) -> Result<(), JournalError> {
        let next = self.segment + 1;
        let path = segment_path(&self.shared.dir, next);
        let file = OpenOptions::new()
            .create_new(true)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|source| io_error("create journal segment", &path, source))?;
        sync_dir(&self.shared.dir)?;

        self.file = file;
        self.segment = next;
        let retired = self
            .shared
            .table
            .lock()
            .expect("journal table lock")
            .activate(next);
        if let Some(retired) = retired {
            self.shared.retire(retired);
        }
        Ok(())
    }

    fn active_size(&self) -> u64 {
        self.shared
            .table
            .lock()
            .expect("journal table lock")
            .active_size()
    }

    fn fail(&self, requests: Vec<Request>, error: &JournalError) {
        for request in requests {
            self.shared
                .used
                .fetch_sub(request.entry.len() as u64, Ordering::AcqRel);
            let _ = request.reply.send(Err(error.duplicate()));
        }
    }
}
