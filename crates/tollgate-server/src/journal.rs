//! The history journal: an append-only file of records that the request path writes and the
//! database writer tails. It is the queue and the spool in one.
//!
//! - **Durable before done.** An exchange's record is appended (one `write` into the page cache,
//!   no fsync) before its response completes, so killing the process (even SIGKILL) loses no
//!   record whose response was completed. Power loss can lose the last seconds; that is the
//!   price of not fsyncing per request.
//! - **Never waits on the database.** The writer reads frames from its checkpoint, writes them in
//!   batches, then advances the checkpoint. While the database is down or slow, the journal
//!   simply grows on disk; when it returns, records are written in order.
//! - **Frames** are `[len u32 LE][crc32 u32 LE][postcard payload]`. A torn frame at the tail
//!   (a crash mid-write) fails its length or CRC and is cut off on open.
//! - **Compaction**: once everything written has been applied and the file is large, it is
//!   truncated. Offsets handed out are *logical* (they keep growing across truncations).
//!
//! One gateway process per data directory.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Notify;
use tollgate_store::ExchangeRecord;

const JOURNAL_FILE: &str = "history.journal";
const CHECKPOINT_FILE: &str = "history.checkpoint";
const HEADER: usize = 8;
/// Truncate the journal once it is fully applied and at least this large. Small enough that a
/// restart replays little, large enough that truncation is rare.
const COMPACT_AT: u64 = 64 * 1024 * 1024;
/// Largest frame accepted when reading (a record with 32 MiB of request body plus response).
const MAX_FRAME: u32 = 256 * 1024 * 1024;

struct Appender {
    file: File,
    /// Physical length of the file: where the next frame goes.
    len: u64,
    /// Logical offset of physical offset 0.
    base: u64,
}

pub struct Journal {
    dir: PathBuf,
    appender: Mutex<Appender>,
    /// Logical end of the last complete frame.
    written: AtomicU64,
    records: AtomicU64,
    pub(crate) notify: Notify,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal").field("dir", &self.dir).field("written", &self.written()).finish()
    }
}

/// Where the writer resumes after `open`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resume {
    /// Logical offset of the first frame not yet in the database.
    pub applied: u64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Journal {
    /// Opens (or creates) the journal in `dir`, cutting off a torn tail.
    pub fn open(dir: &Path) -> io::Result<(Self, Resume)> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(JOURNAL_FILE);
        let mut file = OpenOptions::new().create(true).read(true).append(true).open(&path)?;
        let checkpoint = read_checkpoint(dir)?;
        let file_len = file.metadata()?.len();
        // A checkpoint past the end means the file was truncated after it was written: start over.
        let mut applied = if checkpoint > file_len { 0 } else { checkpoint };
        let end = scan_valid_end(&mut file, applied)?;
        if end < file_len {
            tracing::warn!(
                cut_bytes = file_len - end,
                "history journal had a torn tail; cut it off"
            );
            file.set_len(end)?;
        }
        if applied > end {
            applied = end;
        }
        let journal = Self {
            dir: dir.to_owned(),
            appender: Mutex::new(Appender { file, len: end, base: 0 }),
            written: AtomicU64::new(end),
            records: AtomicU64::new(0),
            notify: Notify::new(),
        };
        Ok((journal, Resume { applied }))
    }

    /// Logical end of everything appended.
    /// Records appended since this process started.
    pub fn records_appended(&self) -> u64 {
        self.records.load(Ordering::Relaxed)
    }

    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Acquire)
    }

    /// Appends one record. Serialisation happens outside the lock.
    pub fn append(&self, record: &ExchangeRecord) -> io::Result<()> {
        let payload = postcard::to_stdvec(record).map_err(io::Error::other)?;
        let len = u32::try_from(payload.len()).map_err(|_| io::Error::other("record too large"))?;
        let mut frame = Vec::with_capacity(HEADER + payload.len());
        frame.extend_from_slice(&len.to_le_bytes());
        frame.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        frame.extend_from_slice(&payload);
        {
            let mut a = lock(&self.appender);
            if let Err(e) = a.file.write_all(&frame) {
                // Undo a partial write so the next frame starts on a boundary.
                let len = a.len;
                let _ = a.file.set_len(len);
                return Err(e);
            }
            a.len += frame.len() as u64;
            self.written.store(a.base + a.len, Ordering::Release);
        }
        self.records.fetch_add(1, Ordering::Relaxed);
        self.notify.notify_one();
        Ok(())
    }

    /// A reader positioned at `from` (logical).
    pub fn reader(&self, from: u64) -> io::Result<JournalReader> {
        let file = File::open(self.dir.join(JOURNAL_FILE))?;
        Ok(JournalReader { file, applied: from, base: self.base() })
    }

    /// Records `done` (logical) as written to the database, and truncates the journal when
    /// everything is applied and it has grown large (the reader, which cannot be past the end,
    /// is then re-based).
    pub fn checkpoint(&self, reader: &mut JournalReader, done: u64) -> io::Result<()> {
        let mut a = lock(&self.appender);
        let physical = done - a.base;
        if physical == a.len && a.len >= COMPACT_AT {
            // Checkpoint 0 first: a crash between the two steps replays already-written records
            // (harmless: appends are idempotent), never skips unwritten ones.
            write_checkpoint(&self.dir, 0)?;
            a.file.set_len(0)?;
            a.base += a.len;
            a.len = 0;
            reader.file = File::open(self.dir.join(JOURNAL_FILE))?;
            reader.base = a.base;
            return Ok(());
        }
        write_checkpoint(&self.dir, physical)
    }

    /// Logical offset of physical 0, for a reader created after a truncation.
    pub fn base(&self) -> u64 {
        lock(&self.appender).base
    }
}

pub struct JournalReader {
    file: File,
    /// Logical offset of the next unread frame.
    pub applied: u64,
    base: u64,
}

impl JournalReader {
    /// Reads whole frames from `applied` up to `upto` (logical), at most `max_records`. Returns
    /// the records and the logical offset after the last one read. Does not move `applied`.
    pub fn read_batch(
        &mut self,
        upto: u64,
        max_records: usize,
    ) -> io::Result<(Vec<ExchangeRecord>, u64)> {
        let mut out = Vec::new();
        let mut pos = self.applied;
        self.file.seek(SeekFrom::Start(pos - self.base))?;
        let mut header = [0u8; HEADER];
        while pos < upto && out.len() < max_records {
            self.file.read_exact(&mut header)?;
            let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
            let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
            if len > MAX_FRAME {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "journal frame too large"));
            }
            let mut payload = vec![0u8; len as usize];
            self.file.read_exact(&mut payload)?;
            pos += (HEADER + payload.len()) as u64;
            if crc32fast::hash(&payload) != crc {
                tracing::error!(offset = pos, "history journal frame failed its checksum; skipped");
                continue;
            }
            match postcard::from_bytes::<ExchangeRecord>(&payload) {
                Ok(r) => out.push(r),
                Err(e) => {
                    tracing::error!(error = %e, "history journal frame could not be decoded; skipped")
                }
            }
        }
        Ok((out, pos))
    }
}

fn read_checkpoint(dir: &Path) -> io::Result<u64> {
    match std::fs::read(dir.join(CHECKPOINT_FILE)) {
        Ok(b) if b.len() == 8 => {
            Ok(u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
        }
        Ok(_) => Ok(0),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(e),
    }
}

fn write_checkpoint(dir: &Path, physical: u64) -> io::Result<()> {
    // Write-then-rename keeps the checkpoint whole even if the process dies mid-write.
    let tmp = dir.join(format!("{CHECKPOINT_FILE}.tmp"));
    std::fs::write(&tmp, physical.to_le_bytes())?;
    std::fs::rename(tmp, dir.join(CHECKPOINT_FILE))
}

/// The end of the last whole, valid frame at or after `from`.
fn scan_valid_end(file: &mut File, from: u64) -> io::Result<u64> {
    let len = file.metadata()?.len();
    file.seek(SeekFrom::Start(from))?;
    let mut pos = from;
    let mut header = [0u8; HEADER];
    loop {
        if pos + HEADER as u64 > len {
            return Ok(pos);
        }
        file.read_exact(&mut header)?;
        let flen = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        if flen > MAX_FRAME || pos + HEADER as u64 + u64::from(flen) > len {
            return Ok(pos);
        }
        let mut payload = vec![0u8; flen as usize];
        file.read_exact(&mut payload)?;
        if crc32fast::hash(&payload) != crc {
            return Ok(pos);
        }
        pos += HEADER as u64 + u64::from(flen);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(i: u32) -> ExchangeRecord {
        ExchangeRecord {
            id: format!("{i:04}"),
            request_id: format!("r{i}"),
            outcome: "ok".into(),
            request_body: Some(bytes::Bytes::from(vec![b'x'; 100])),
            ..Default::default()
        }
    }

    #[test]
    fn appends_reads_checkpoints_and_recovers_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let (j, resume) = Journal::open(dir.path()).unwrap();
        assert_eq!(resume.applied, 0);
        for i in 0..5 {
            j.append(&rec(i)).unwrap();
        }
        let mut r = j.reader(resume.applied).unwrap();
        let (batch, end) = r.read_batch(j.written(), 3).unwrap();
        assert_eq!(
            batch.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            ["0000", "0001", "0002"]
        );
        assert_eq!(batch[0], rec(0));
        r.applied = end;
        j.checkpoint(&mut r, end).unwrap();
        drop((j, r));

        // A crash mid-write leaves half a frame.
        let path = dir.path().join(JOURNAL_FILE);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&[200, 0, 0, 0, 1, 2, 3, 4, 5]).unwrap();
        drop(f);

        let (j, resume) = Journal::open(dir.path()).unwrap();
        assert_eq!(resume.applied, end);
        let mut r = j.reader(resume.applied).unwrap();
        let (batch, _) = r.read_batch(j.written(), 100).unwrap();
        assert_eq!(batch.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["0003", "0004"]);
        // New appends land after the cut, on a frame boundary.
        j.append(&rec(9)).unwrap();
        let (batch, _) = r.read_batch(j.written(), 100).unwrap();
        assert_eq!(batch.len(), 3);
    }
}
