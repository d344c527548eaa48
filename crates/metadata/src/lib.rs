//! The metadata database: one SQLite file per strata root, in WAL mode, shared safely by
//! any number of strata processes (busy timeout, short `BEGIN IMMEDIATE` transactions).
//!
//! The schema is versioned with `PRAGMA user_version`; [`Db::open`] applies the missing
//! migrations in order, each in its own transaction, and refuses a database written by a
//! newer strata.
//!
//! Invariant kept by the callers' ordering: a record here only ever points at content
//! that is already durable on disk (blobs and snapshots are written first, records
//! inserted last; records are deleted first, files last). A crash can therefore leave
//! orphaned files, which GC removes, but never a record pointing at nothing.

mod containers;
mod error_kind;
pub mod events;
mod images;
mod networks;
mod schema;

pub use containers::{ContainerRecord, ContainerState};
pub use error_kind::ErrorKind;
pub use events::{Event, EventFilter, EventType, JournalEntry};
pub use images::{ImageRecord, LayerRecord, ListedImage, NewImage, NewLayer, RemovedImage};
pub use networks::{EndpointRecord, NetworkRecord};

use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    #[error("metadata database {path}: {source}")]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "metadata database {path} has schema version {found}, newer than this strata supports ({supported}); \
         use a newer strata with this root"
    )]
    TooNew { path: PathBuf, found: i64, supported: i64 },
    #[error("{0}")]
    Conflict(String),
}

pub type Result<T, E = MetadataError> = std::result::Result<T, E>;

/// A connection to the metadata database of one root.
pub struct Db {
    conn: Connection,
    path: PathBuf,
}

impl Db {
    /// Opens (creating and migrating as needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let err = |source| MetadataError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open(path).map_err(err)?;
        // Concurrent strata processes wait for each other instead of failing.
        conn.busy_timeout(Duration::from_secs(60)).map_err(err)?;
        // Listing a thousand images runs the same few statements a thousand times:
        // prepared once each (it was a third of an image listing's time).
        conn.set_prepared_statement_cache_capacity(64);
        set_wal(&conn).map_err(err)?;
        keep_wal(&conn).map_err(err)?;
        // Durable commits, but for `write_transient`'s.
        conn.pragma_update(None, "synchronous", "FULL").map_err(err)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(err)?;
        let mut db = Db {
            conn,
            path: path.to_path_buf(),
        };
        schema::migrate(&mut db)?;
        Ok(db)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Closes the database file until [`Db::reopen`]: SQLite keeps process-wide state
    /// for each open database file (its POSIX locks), which a forked child must not
    /// inherit. Meanwhile the connection is to an empty in-memory database.
    /// With `checkpoint`, SQLite's checkpoint when the last connection closes is made
    /// (the WAL written back and removed; a process that ends without closing leaves
    /// the next one to read the whole WAL at open); without, the file is opened again
    /// at once and the checkpoint left for later.
    pub fn close_file(&mut self, checkpoint: bool) -> Result<()> {
        self.conn
            .set_db_config(
                rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
                !checkpoint,
            )
            .map_err(|e| self.err(e))?;
        let placeholder = Connection::open_in_memory().map_err(|e| self.err(e))?;
        let real = std::mem::replace(&mut self.conn, placeholder);
        real.close().map_err(|(_, e)| self.err(e))
    }

    /// Opens the file again after [`Db::close_file`].
    pub fn reopen(&mut self) -> Result<()> {
        *self = Db::open(&self.path.clone())?;
        Ok(())
    }

    pub(crate) fn err(&self, source: rusqlite::Error) -> MetadataError {
        MetadataError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// The schema version the database is at.
    pub fn schema_version(&self) -> Result<i64> {
        self.conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    /// Runs `f` in a write transaction taken up front (`BEGIN IMMEDIATE`), so concurrent
    /// writers queue on the busy timeout instead of failing on lock upgrade.
    pub(crate) fn write<T>(&mut self, f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T>) -> Result<T> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|source| MetadataError::Sqlite {
                path: path.clone(),
                source,
            })?;
        let value = f(&tx)?;
        tx.commit().map_err(|source| MetadataError::Sqlite { path, source })?;
        Ok(value)
    }

    /// [`Db::write`] for what need not outlive a power loss, committed without waiting
    /// for the disk: SQLite's WAL keeps the database whole, and a later durable commit
    /// (or the checkpoint at close) takes it to the disk too. Events are such, and a
    /// container's run state: after a crash, a "running" record that no monitor holds is
    /// exited at the next open (`reconcile`), whatever the disk said.
    pub(crate) fn write_transient<T>(&mut self, f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T>) -> Result<T> {
        self.set_synchronous("NORMAL")?;
        let written = self.write(f);
        self.set_synchronous("FULL")?;
        written
    }

    /// Takes every commit so far to the disk, the transient ones included: the WAL file
    /// is synced (frames a checkpoint already moved were synced by it).
    pub fn sync(&self) -> Result<()> {
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        match std::fs::File::open(&wal).and_then(|f| f.sync_data()) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.err(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_IOERR_FSYNC),
                Some(format!("syncing {}: {e}", std::path::Path::new(&wal).display())),
            ))),
        }
    }

    fn set_synchronous(&self, level: &str) -> Result<()> {
        self.conn
            .pragma_update(None, "synchronous", level)
            .map_err(|e| self.err(e))
    }
}

/// Keeps the WAL file when the last connection closes (checkpointed and truncated to
/// nothing, not deleted). Each strata command is a process that opens the database and
/// closes it: SQLite created the WAL at every open and deleted it at every close, an
/// inode allocated and freed per command (and per container monitor), which is what
/// makes an unjournaled ext4 slow to create files (`recently_deleted`), and an `unlink`
/// on the way out of every `run --rm`.
fn keep_wal(conn: &Connection) -> rusqlite::Result<()> {
    let mut on: std::ffi::c_int = 1;
    // SAFETY: the handle is this open connection's; SQLITE_FCNTL_PERSIST_WAL reads and
    // writes the one int it is given.
    let rc = unsafe {
        rusqlite::ffi::sqlite3_file_control(
            conn.handle(),
            c"main".as_ptr(),
            rusqlite::ffi::SQLITE_FCNTL_PERSIST_WAL,
            (&mut on as *mut std::ffi::c_int).cast(),
        )
    };
    if rc != rusqlite::ffi::SQLITE_OK {
        return Err(rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(rc), None));
    }
    // Without a limit a kept WAL keeps its largest size; with one it is truncated after
    // each checkpoint that empties it, and to nothing when the last connection closes.
    conn.pragma_update(None, "journal_size_limit", 1 << 20)
}

/// Switches to WAL. Changing the journal mode of a new database needs an exclusive lock,
/// which SQLite does not wait for: processes opening one new root together retry.
fn set_wal(conn: &Connection) -> rusqlite::Result<()> {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut pause = Duration::from_millis(1);
    loop {
        match conn.pragma_update(None, "journal_mode", "WAL") {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests;
