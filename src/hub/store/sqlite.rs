//! [`SqliteStore`]: the durable [`Store`] on SQLite.
//!
//! One database file in WAL mode, opened with [`SqliteStore::open`] and
//! migrated to the current schema on the way. The schema is versioned with
//! SQLite's `user_version`: each migration runs in its own transaction, so
//! a crash during an upgrade leaves the file at the last completed
//! version, and the next open carries on from there.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Row, Transaction, TransactionBehavior, params};

use super::{
    Spooled, Store, StoreError, StoreResult, StoredItem, StoredNode, StoredSession,
    StoredSubscription,
};
use crate::jid::{BareJid, FullJid};
use crate::sasl::{ScramCredentials, ScramHash};

/// How long a statement waits for another connection's lock before
/// failing with [`StoreError::Backend`].
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The migrations, in order: applying the first `n` gives schema version
/// `n`. Never edit one that has shipped; append a new one instead. Each
/// runs inside a transaction, so none may contain `BEGIN` or `COMMIT`.
const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    //
    // Unsigned 64-bit values (`stamp_ms`) are stored as the signed integer
    // with the same bits, so that every `u64` reads back as it was written.
    "
    CREATE TABLE meta (
        key   TEXT NOT NULL PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE accounts (
        jid TEXT NOT NULL PRIMARY KEY
    ) WITHOUT ROWID;

    -- One SCRAM verifier per account and hash; never a password.
    CREATE TABLE account_verifiers (
        jid        TEXT NOT NULL REFERENCES accounts (jid) ON DELETE CASCADE,
        hash       TEXT NOT NULL, -- 'SHA-1', 'SHA-256' or 'SHA-512'
        position   INTEGER NOT NULL, -- the order put_account was given
        salt       BLOB NOT NULL,
        iterations INTEGER NOT NULL,
        stored_key BLOB NOT NULL,
        server_key BLOB NOT NULL,
        PRIMARY KEY (jid, hash)
    ) WITHOUT ROWID;

    CREATE TABLE rosters (
        jid  TEXT NOT NULL PRIMARY KEY,
        data TEXT NOT NULL
    ) WITHOUT ROWID;

    -- AUTOINCREMENT: an id is never given twice, even after the newest
    -- row was removed.
    CREATE TABLE spool (
        id       INTEGER PRIMARY KEY AUTOINCREMENT,
        user     TEXT NOT NULL,
        stanza   TEXT NOT NULL,
        stamp_ms INTEGER NOT NULL,
        session  TEXT,
        seq      INTEGER,
        CHECK ((session IS NULL) = (seq IS NULL))
    );
    CREATE INDEX spool_by_user ON spool (user);
    -- Only sent stanzas are in this index: spooling a new one skips it.
    CREATE INDEX spool_by_session ON spool (session, seq) WHERE session IS NOT NULL;

    CREATE TABLE sessions (
        id      TEXT NOT NULL PRIMARY KEY,
        jid     TEXT NOT NULL,
        inbound INTEGER NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE nodes (
        service TEXT NOT NULL,
        node    TEXT NOT NULL,
        config  TEXT NOT NULL,
        PRIMARY KEY (service, node)
    ) WITHOUT ROWID;

    -- position ascends in the order of publication: republishing an id
    -- replaces its row, which gets a new, greater position (newest).
    CREATE TABLE items (
        position  INTEGER PRIMARY KEY AUTOINCREMENT,
        service   TEXT NOT NULL,
        node      TEXT NOT NULL,
        item_id   TEXT NOT NULL,
        publisher TEXT NOT NULL,
        payload   TEXT NOT NULL,
        stamp_ms  INTEGER NOT NULL,
        UNIQUE (service, node, item_id)
    );
    CREATE INDEX items_by_node ON items (service, node, position);

    -- The rowid orders a node's subscriptions by when they were last put.
    CREATE TABLE subscriptions (
        service TEXT NOT NULL,
        node    TEXT NOT NULL,
        jid     TEXT NOT NULL,
        subid   TEXT NOT NULL,
        state   TEXT NOT NULL,
        UNIQUE (service, node, jid, subid)
    );
    ",
];

/// The schema version this build writes (and the newest it can read).
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// What a committed transaction survives (SQLite's `synchronous`
/// setting).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Durability {
    /// `synchronous=NORMAL`, the default: a committed change survives a
    /// crash of the process (what [`Store`] promises), but a power loss or
    /// a crash of the operating system may lose the last transactions
    /// (never corrupting the database). No `fsync` per transaction.
    #[default]
    Normal,
    /// `synchronous=FULL`: a committed change survives a power loss too,
    /// at the price of an `fsync` per transaction (milliseconds on many
    /// disks, during which the calling thread waits).
    Full,
}

/// The durable [`Store`]: one SQLite database (a file in WAL mode), one
/// connection behind a mutex.
///
/// Every method is one transaction, and blocks the calling thread while it
/// runs (tens of microseconds for a write on a local disk with
/// [`Durability::Normal`]). Changes survive a crash of the process as soon
/// as the method returns; see [`Durability`] for power losses.
/// Several processes may open the same file (SQLite locks it; a writer
/// waits up to 5 seconds for another), but the hub expects to be the only
/// writer.
pub struct SqliteStore {
    conn: Mutex<Connection>,
    /// The file (`None` in memory), for `Debug` without taking the lock.
    path: Option<PathBuf>,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens the database at `path` (creating it if missing) with
    /// [`Durability::Normal`], and migrates it to [`SCHEMA_VERSION`].
    ///
    /// # Errors
    /// [`StoreError::Version`] if a newer build wrote the file;
    /// [`StoreError::Backend`] if it cannot be opened or migrated.
    pub fn open(path: impl AsRef<Path>) -> StoreResult<Self> {
        Self::open_with(path, Durability::default())
    }

    /// Opens the database at `path` (creating it if missing) with the
    /// given durability, and migrates it to [`SCHEMA_VERSION`].
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub fn open_with(path: impl AsRef<Path>, durability: Durability) -> StoreResult<Self> {
        Self::setup(Connection::open(path).map_err(db_err)?, durability)
    }

    /// A fresh database in memory, lost when the store is dropped (for
    /// tests).
    ///
    /// # Errors
    /// [`StoreError::Backend`] if SQLite fails.
    pub fn open_in_memory() -> StoreResult<Self> {
        Self::setup(
            Connection::open_in_memory().map_err(db_err)?,
            Durability::default(),
        )
    }

    fn setup(mut conn: Connection, durability: Durability) -> StoreResult<Self> {
        conn.busy_timeout(BUSY_TIMEOUT).map_err(db_err)?;
        // Refuse a newer schema before changing anything in the file.
        check_version(user_version(&conn)?, SCHEMA_VERSION)?;
        // A database in memory answers "memory". Where WAL is impossible
        // (some network file systems) SQLite keeps its rollback journal,
        // as safe, only slower: not worth refusing to start for.
        let _mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(db_err)?;
        let synchronous = match durability {
            Durability::Normal => "NORMAL",
            Durability::Full => "FULL",
        };
        conn.pragma_update(None, "synchronous", synchronous)
            .map_err(db_err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(db_err)?;
        conn.set_prepared_statement_cache_capacity(64);
        migrate(&mut conn, MIGRATIONS)?;
        let path = conn.path().filter(|p| !p.is_empty()).map(PathBuf::from);
        Ok(Self {
            conn: Mutex::new(conn),
            path,
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` in a write transaction (taking the write lock at once, so
    /// that it never fails half-way for another writer), committed if `f`
    /// returns `Ok`, rolled back otherwise.
    fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> StoreResult<T>) -> StoreResult<T> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_err)?;
        let value = f(&tx)?;
        tx.commit().map_err(db_err)?;
        Ok(value)
    }
}

/// Maps a SQLite error: values that cannot be converted are
/// [`StoreError::Corrupt`], everything else [`StoreError::Backend`].
fn db_err(e: rusqlite::Error) -> StoreError {
    match e {
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::IntegralValueOutOfRange(..)
        | rusqlite::Error::InvalidColumnType(..) => StoreError::Corrupt(e.to_string()),
        e => StoreError::Backend(e.to_string()),
    }
}

fn user_version(conn: &Connection) -> StoreResult<u32> {
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(db_err)?;
    u32::try_from(version)
        .map_err(|_| StoreError::Corrupt(format!("negative schema version {version}")))
}

fn check_version(found: u32, supported: u32) -> StoreResult<()> {
    if found > supported {
        return Err(StoreError::Version { found, supported });
    }
    Ok(())
}

/// Applies the missing `migrations`, each in its own transaction (a failed
/// one leaves the database at the version before it). The version is read
/// again under the write lock, so two processes opening the same file at
/// once apply each migration once.
fn migrate(conn: &mut Connection, migrations: &[&str]) -> StoreResult<()> {
    let supported = u32::try_from(migrations.len()).unwrap_or(u32::MAX);
    loop {
        let version = user_version(conn)?;
        check_version(version, supported)?;
        if version == supported {
            return Ok(());
        }
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_err)?;
        let version = user_version(&tx)?;
        check_version(version, supported)?;
        let Some(sql) = usize::try_from(version)
            .ok()
            .and_then(|v| migrations.get(v))
        else {
            // Another connection finished the job meanwhile.
            return Ok(());
        };
        tx.execute_batch(sql).map_err(db_err)?;
        tx.pragma_update(None, "user_version", version + 1)
            .map_err(db_err)?;
        tx.commit().map_err(db_err)?;
    }
}

/// A `u64` as the SQLite integer with the same bits (see the schema).
fn to_sql_u64(v: u64) -> i64 {
    i64::from_ne_bytes(v.to_ne_bytes())
}

/// The inverse of [`to_sql_u64`].
fn from_sql_u64(v: i64) -> u64 {
    u64::from_ne_bytes(v.to_ne_bytes())
}

/// A count or limit as a SQLite integer (saturating: `LIMIT` takes an
/// `i64`).
fn to_sql_usize(v: usize) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_usize(v: i64) -> StoreResult<usize> {
    usize::try_from(v).map_err(|_| StoreError::Corrupt(format!("negative count {v}")))
}

/// A rowid (always positive) as a `u64` id.
fn to_id(v: i64) -> StoreResult<u64> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("negative id {v}")))
}

fn parse_hash(name: &str) -> StoreResult<ScramHash> {
    [ScramHash::Sha1, ScramHash::Sha256, ScramHash::Sha512]
        .into_iter()
        .find(|h| h.as_str() == name)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown SCRAM hash {name:?}")))
}

fn parse_bare(jid: &str) -> StoreResult<BareJid> {
    jid.parse()
        .map_err(|e| StoreError::Corrupt(format!("stored JID {jid:?}: {e}")))
}

fn parse_full(jid: &str) -> StoreResult<FullJid> {
    jid.parse()
        .map_err(|e| StoreError::Corrupt(format!("stored JID {jid:?}: {e}")))
}

/// Creates or updates a session.
fn upsert_session(conn: &Connection, session: &StoredSession) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO sessions (id, jid, inbound) VALUES (?1, ?2, ?3)
         ON CONFLICT (id) DO UPDATE SET jid = excluded.jid, inbound = excluded.inbound",
    )
    .and_then(|mut stmt| stmt.execute(params![session.id, session.jid.as_str(), session.inbound]))
    .map_err(db_err)?;
    Ok(())
}

/// Runs a statement; how many rows it changed.
fn execute(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> StoreResult<usize> {
    conn.prepare_cached(sql)
        .and_then(|mut stmt| stmt.execute(params))
        .map_err(db_err)
}

/// Runs a query and collects its rows, each converted by `f`.
fn collect<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    f: impl Fn(&Row<'_>) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql).map_err(db_err)?;
    let mut rows = stmt.query(params).map_err(db_err)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(db_err)? {
        out.push(f(row)?);
    }
    Ok(out)
}

/// Runs a query returning one integer (a count).
fn count(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> StoreResult<usize> {
    let n: i64 = conn
        .prepare_cached(sql)
        .and_then(|mut stmt| stmt.query_row(params, |row| row.get(0)))
        .map_err(db_err)?;
    to_usize(n)
}

/// A column, with conversion failures as [`StoreError::Corrupt`].
fn col<T: rusqlite::types::FromSql>(row: &Row<'_>, i: usize) -> StoreResult<T> {
    row.get(i).map_err(db_err)
}

impl Store for SqliteStore {
    fn meta(&self, key: &str) -> StoreResult<Option<String>> {
        self.conn()
            .prepare_cached("SELECT value FROM meta WHERE key = ?1")
            .and_then(|mut stmt| stmt.query_row([key], |row| row.get(0)).optional())
            .map_err(db_err)
    }

    fn set_meta(&self, key: &str, value: &str) -> StoreResult<()> {
        execute(
            &self.conn(),
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [key, value],
        )?;
        Ok(())
    }

    fn put_account(&self, user: &BareJid, verifiers: &[ScramCredentials]) -> StoreResult<()> {
        self.write(|tx| {
            execute(
                tx,
                "INSERT OR IGNORE INTO accounts (jid) VALUES (?1)",
                [user.as_str()],
            )?;
            execute(
                tx,
                "DELETE FROM account_verifiers WHERE jid = ?1",
                [user.as_str()],
            )?;
            for (position, v) in verifiers.iter().enumerate() {
                // A second verifier for the same hash replaces the first.
                execute(
                    tx,
                    "INSERT OR REPLACE INTO account_verifiers
                     (jid, hash, position, salt, iterations, stored_key, server_key)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![
                        user.as_str(),
                        v.hash.as_str(),
                        to_sql_usize(position),
                        v.salt,
                        v.iterations,
                        v.stored_key,
                        v.server_key,
                    ],
                )?;
            }
            Ok(())
        })
    }

    fn account(&self, user: &BareJid) -> StoreResult<Option<Vec<ScramCredentials>>> {
        // One statement, so the account and its verifiers are read together;
        // an account without verifiers is one row of NULLs.
        let rows = collect(
            &self.conn(),
            "SELECT v.hash, v.salt, v.iterations, v.stored_key, v.server_key
             FROM accounts a LEFT JOIN account_verifiers v ON v.jid = a.jid
             WHERE a.jid = ?1 ORDER BY v.position",
            [user.as_str()],
            |row| {
                let Some(hash) = col::<Option<String>>(row, 0)? else {
                    return Ok(None);
                };
                Ok(Some(ScramCredentials {
                    hash: parse_hash(&hash)?,
                    salt: col(row, 1)?,
                    iterations: col(row, 2)?,
                    stored_key: col(row, 3)?,
                    server_key: col(row, 4)?,
                }))
            },
        )?;
        if rows.is_empty() {
            return Ok(None);
        }
        Ok(Some(rows.into_iter().flatten().collect()))
    }

    fn account_exists(&self, user: &BareJid) -> StoreResult<bool> {
        let found = count(
            &self.conn(),
            "SELECT count(*) FROM accounts WHERE jid = ?1",
            [user.as_str()],
        )?;
        Ok(found > 0)
    }

    fn remove_account(&self, user: &BareJid) -> StoreResult<bool> {
        // The verifiers go with it (ON DELETE CASCADE).
        let removed = execute(
            &self.conn(),
            "DELETE FROM accounts WHERE jid = ?1",
            [user.as_str()],
        )?;
        Ok(removed > 0)
    }

    fn account_count(&self) -> StoreResult<usize> {
        count(&self.conn(), "SELECT count(*) FROM accounts", [])
    }

    fn put_roster(&self, user: &BareJid, roster: &str) -> StoreResult<()> {
        execute(
            &self.conn(),
            "INSERT INTO rosters (jid, data) VALUES (?1, ?2)
             ON CONFLICT (jid) DO UPDATE SET data = excluded.data",
            [user.as_str(), roster],
        )?;
        Ok(())
    }

    fn remove_roster(&self, user: &BareJid) -> StoreResult<()> {
        execute(
            &self.conn(),
            "DELETE FROM rosters WHERE jid = ?1",
            [user.as_str()],
        )?;
        Ok(())
    }

    fn rosters(&self) -> StoreResult<Vec<(BareJid, String)>> {
        collect(
            &self.conn(),
            "SELECT jid, data FROM rosters ORDER BY jid",
            [],
            |row| Ok((parse_bare(&col::<String>(row, 0)?)?, col(row, 1)?)),
        )
    }

    fn spool(
        &self,
        user: &BareJid,
        stanza: &str,
        stamp_ms: u64,
        limit: usize,
        sender: Option<&StoredSession>,
    ) -> StoreResult<u64> {
        self.write(|tx| {
            // Counts at most `limit` rows: the cost stays bounded even for
            // an account above a limit that was lowered.
            let spooled = count(
                tx,
                "SELECT count(*) FROM (SELECT 1 FROM spool WHERE user = ?1 LIMIT ?2)",
                params![user.as_str(), to_sql_usize(limit)],
            )?;
            if spooled >= limit {
                return Err(StoreError::Full {
                    what: "the spool of this account",
                    limit,
                });
            }
            execute(
                tx,
                "INSERT INTO spool (user, stanza, stamp_ms) VALUES (?1, ?2, ?3)",
                params![user.as_str(), stanza, to_sql_u64(stamp_ms)],
            )?;
            let id = to_id(tx.last_insert_rowid())?;
            if let Some(session) = sender {
                upsert_session(tx, session)?;
            }
            Ok(id)
        })
    }

    fn spool_sent(&self, id: u64, session: &StoredSession, seq: u32) -> StoreResult<()> {
        self.write(|tx| {
            // An id beyond SQLite's range names no stanza.
            if let Ok(id) = i64::try_from(id) {
                execute(
                    tx,
                    "UPDATE spool SET session = ?1, seq = ?2 WHERE id = ?3",
                    params![session.id, seq, id],
                )?;
            }
            upsert_session(tx, session)
        })
    }

    fn spool_remove(&self, id: u64) -> StoreResult<()> {
        let Ok(id) = i64::try_from(id) else {
            return Ok(());
        };
        execute(&self.conn(), "DELETE FROM spool WHERE id = ?1", [id])?;
        Ok(())
    }

    fn spool_acked(&self, session: &str, h: u32) -> StoreResult<()> {
        execute(
            &self.conn(),
            "DELETE FROM spool WHERE session = ?1 AND seq <= ?2",
            params![session, h],
        )?;
        Ok(())
    }

    fn spool_release(&self, session: &str) -> StoreResult<()> {
        self.write(|tx| {
            execute(
                tx,
                "UPDATE spool SET session = NULL, seq = NULL WHERE session = ?1",
                [session],
            )?;
            execute(tx, "DELETE FROM sessions WHERE id = ?1", [session])?;
            Ok(())
        })
    }

    fn spooled(&self, user: &BareJid) -> StoreResult<Vec<Spooled>> {
        // Every row has `user = ?1`: the caller's JID is the stored one.
        collect(
            &self.conn(),
            "SELECT id, stanza, stamp_ms, session, seq FROM spool
             WHERE user = ?1 ORDER BY id",
            [user.as_str()],
            |row| {
                let sent = match (col::<Option<String>>(row, 3)?, col::<Option<u32>>(row, 4)?) {
                    (Some(session), Some(seq)) => Some((session, seq)),
                    _ => None,
                };
                Ok(Spooled {
                    id: to_id(col(row, 0)?)?,
                    user: user.clone(),
                    stanza: col(row, 1)?,
                    stamp_ms: from_sql_u64(col(row, 2)?),
                    sent,
                })
            },
        )
    }

    fn spool_count(&self, user: &BareJid) -> StoreResult<usize> {
        count(
            &self.conn(),
            "SELECT count(*) FROM spool WHERE user = ?1",
            [user.as_str()],
        )
    }

    fn put_session(&self, session: &StoredSession) -> StoreResult<()> {
        upsert_session(&self.conn(), session)
    }

    fn remove_session(&self, id: &str) -> StoreResult<()> {
        execute(&self.conn(), "DELETE FROM sessions WHERE id = ?1", [id])?;
        Ok(())
    }

    fn sessions(&self) -> StoreResult<Vec<StoredSession>> {
        collect(
            &self.conn(),
            "SELECT id, jid, inbound FROM sessions ORDER BY id",
            [],
            |row| {
                Ok(StoredSession {
                    id: col(row, 0)?,
                    jid: parse_full(&col::<String>(row, 1)?)?,
                    inbound: col(row, 2)?,
                })
            },
        )
    }

    fn put_node(&self, node: &StoredNode) -> StoreResult<()> {
        execute(
            &self.conn(),
            "INSERT INTO nodes (service, node, config) VALUES (?1, ?2, ?3)
             ON CONFLICT (service, node) DO UPDATE SET config = excluded.config",
            [&node.service, &node.node, &node.config],
        )?;
        Ok(())
    }

    fn remove_node(&self, service: &str, node: &str) -> StoreResult<bool> {
        self.write(|tx| {
            let key = [service, node];
            execute(
                tx,
                "DELETE FROM items WHERE service = ?1 AND node = ?2",
                key,
            )?;
            execute(
                tx,
                "DELETE FROM subscriptions WHERE service = ?1 AND node = ?2",
                key,
            )?;
            let removed = execute(
                tx,
                "DELETE FROM nodes WHERE service = ?1 AND node = ?2",
                key,
            )?;
            Ok(removed > 0)
        })
    }

    fn nodes(&self) -> StoreResult<Vec<StoredNode>> {
        collect(
            &self.conn(),
            "SELECT service, node, config FROM nodes ORDER BY service, node",
            [],
            |row| {
                Ok(StoredNode {
                    service: col(row, 0)?,
                    node: col(row, 1)?,
                    config: col(row, 2)?,
                })
            },
        )
    }

    fn put_item(&self, item: &StoredItem, max_items: usize) -> StoreResult<()> {
        self.write(|tx| {
            // REPLACE deletes the row with the same id, and the new row gets
            // a greater position: the item is the newest.
            execute(
                tx,
                "INSERT OR REPLACE INTO items
                 (service, node, item_id, publisher, payload, stamp_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    item.service,
                    item.node,
                    item.id,
                    item.publisher,
                    item.payload,
                    to_sql_u64(item.stamp_ms),
                ],
            )?;
            // Everything from the (max_items + 1)-th newest on goes; when the
            // node holds no more than that, the subquery is NULL and the
            // comparison removes nothing.
            execute(
                tx,
                "DELETE FROM items WHERE service = ?1 AND node = ?2 AND position <= (
                     SELECT position FROM items WHERE service = ?1 AND node = ?2
                     ORDER BY position DESC LIMIT 1 OFFSET ?3)",
                params![item.service, item.node, to_sql_usize(max_items)],
            )?;
            Ok(())
        })
    }

    fn remove_item(&self, service: &str, node: &str, id: &str) -> StoreResult<bool> {
        let removed = execute(
            &self.conn(),
            "DELETE FROM items WHERE service = ?1 AND node = ?2 AND item_id = ?3",
            [service, node, id],
        )?;
        Ok(removed > 0)
    }

    fn purge_items(&self, service: &str, node: &str) -> StoreResult<()> {
        execute(
            &self.conn(),
            "DELETE FROM items WHERE service = ?1 AND node = ?2",
            [service, node],
        )?;
        Ok(())
    }

    fn items(&self, service: &str, node: &str) -> StoreResult<Vec<StoredItem>> {
        collect(
            &self.conn(),
            "SELECT item_id, publisher, payload, stamp_ms FROM items
             WHERE service = ?1 AND node = ?2 ORDER BY position",
            [service, node],
            |row| {
                Ok(StoredItem {
                    service: service.to_owned(),
                    node: node.to_owned(),
                    id: col(row, 0)?,
                    publisher: col(row, 1)?,
                    payload: col(row, 2)?,
                    stamp_ms: from_sql_u64(col(row, 3)?),
                })
            },
        )
    }

    fn put_subscription(&self, subscription: &StoredSubscription) -> StoreResult<()> {
        // REPLACE gives the row a new rowid: the latest put lists last.
        execute(
            &self.conn(),
            "INSERT OR REPLACE INTO subscriptions (service, node, jid, subid, state)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            [
                &subscription.service,
                &subscription.node,
                &subscription.jid,
                &subscription.subid,
                &subscription.state,
            ],
        )?;
        Ok(())
    }

    fn remove_subscription(
        &self,
        service: &str,
        node: &str,
        jid: &str,
        subid: Option<&str>,
    ) -> StoreResult<usize> {
        let conn = self.conn();
        match subid {
            Some(subid) => execute(
                &conn,
                "DELETE FROM subscriptions
                 WHERE service = ?1 AND node = ?2 AND jid = ?3 AND subid = ?4",
                [service, node, jid, subid],
            ),
            None => execute(
                &conn,
                "DELETE FROM subscriptions WHERE service = ?1 AND node = ?2 AND jid = ?3",
                [service, node, jid],
            ),
        }
    }

    fn subscriptions(&self, service: &str, node: &str) -> StoreResult<Vec<StoredSubscription>> {
        collect(
            &self.conn(),
            "SELECT jid, subid, state FROM subscriptions
             WHERE service = ?1 AND node = ?2 ORDER BY rowid",
            [service, node],
            |row| {
                Ok(StoredSubscription {
                    service: service.to_owned(),
                    node: node.to_owned(),
                    jid: col(row, 0)?,
                    subid: col(row, 1)?,
                    state: col(row, 2)?,
                })
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::super::conformance::{TempDb, check_sample, jid, session, write_sample};
    use super::*;

    fn version_of(path: &Path) -> u32 {
        user_version(&Connection::open(path).unwrap()).unwrap()
    }

    #[test]
    fn reopen_keeps_everything() {
        let db = TempDb::new("reopen");
        {
            let store = SqliteStore::open(db.path()).unwrap();
            write_sample(&store);
        }
        assert_eq!(version_of(db.path()), SCHEMA_VERSION);
        // Reopening (twice) migrates nothing and loses nothing.
        for _ in 0..2 {
            let store = SqliteStore::open(db.path()).unwrap();
            check_sample(&store);
        }
        assert_eq!(version_of(db.path()), SCHEMA_VERSION);
        // Spool ids go on after the last one given before the restart.
        let store = SqliteStore::open_with(db.path(), Durability::Full).unwrap();
        let alice = jid("alice@durable.example");
        let last = store.spooled(&alice).unwrap().last().unwrap().id;
        store.spool_remove(last).unwrap();
        drop(store);
        let store = SqliteStore::open(db.path()).unwrap();
        assert!(store.spool(&alice, "<m/>", 0, 10, None).unwrap() > last);
    }

    #[test]
    fn open_twice_at_once() {
        let db = TempDb::new("twice");
        let one = SqliteStore::open(db.path()).unwrap();
        let two = SqliteStore::open(db.path()).unwrap();
        one.set_meta("k", "v").unwrap();
        assert_eq!(two.meta("k").unwrap().as_deref(), Some("v"));
        let alice = jid("alice@example.org");
        let a = one.spool(&alice, "<a/>", 0, 10, None).unwrap();
        let b = two.spool(&alice, "<b/>", 0, 10, None).unwrap();
        assert!(b > a);
        assert_eq!(one.spool_count(&alice).unwrap(), 2);
    }

    #[test]
    fn newer_schema_is_refused() {
        let db = TempDb::new("newer");
        {
            let conn = Connection::open(db.path()).unwrap();
            conn.execute_batch("CREATE TABLE future (x); PRAGMA user_version = 99;")
                .unwrap();
        }
        match SqliteStore::open(db.path()) {
            Err(StoreError::Version {
                found: 99,
                supported: SCHEMA_VERSION,
            }) => {}
            other => panic!("expected Version, got {other:?}"),
        }
        // Nothing was changed.
        assert_eq!(version_of(db.path()), 99);
        let conn = Connection::open(db.path()).unwrap();
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "delete");
    }

    #[test]
    fn version_zero_is_migrated() {
        // An empty file, and a database at version 0 without tables.
        let empty = TempDb::new("empty");
        std::fs::write(empty.path(), b"").unwrap();
        let blank = TempDb::new("blank");
        {
            let conn = Connection::open(blank.path()).unwrap();
            conn.execute_batch("CREATE TABLE t (x); DROP TABLE t;")
                .unwrap();
            assert_eq!(user_version(&conn).unwrap(), 0);
        }
        for db in [&empty, &blank] {
            let store = SqliteStore::open(db.path()).unwrap();
            write_sample(&store);
            check_sample(&store);
            drop(store);
            assert_eq!(version_of(db.path()), SCHEMA_VERSION);
            let conn = Connection::open(db.path()).unwrap();
            let mode: String = conn
                .pragma_query_value(None, "journal_mode", |r| r.get(0))
                .unwrap();
            assert_eq!(mode, "wal");
        }
    }

    #[test]
    fn settings() {
        let db = TempDb::new("settings");
        let pragma = |store: &SqliteStore, name: &str| -> i64 {
            store
                .conn()
                .pragma_query_value(None, name, |r| r.get(0))
                .unwrap()
        };
        let normal = SqliteStore::open(db.path()).unwrap();
        assert_eq!(pragma(&normal, "synchronous"), 1);
        assert_eq!(pragma(&normal, "foreign_keys"), 1);
        assert_eq!(pragma(&normal, "busy_timeout"), 5000);
        let mode: String = normal
            .conn()
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        assert!(format!("{normal:?}").contains("settings"));
        let full = SqliteStore::open_with(db.path(), Durability::Full).unwrap();
        assert_eq!(pragma(&full, "synchronous"), 2);
        let memory = SqliteStore::open_in_memory().unwrap();
        assert_eq!(format!("{memory:?}"), "SqliteStore { path: None, .. }");
    }

    #[test]
    fn not_a_database() {
        let db = TempDb::new("garbage");
        std::fs::write(db.path(), [0x42; 4096]).unwrap();
        match SqliteStore::open(db.path()) {
            Err(StoreError::Backend(e)) => assert!(e.contains("not a database"), "{e}"),
            other => panic!("expected Backend, got {other:?}"),
        }
        let dir = TempDb::new("directory");
        std::fs::create_dir(dir.path()).unwrap();
        let result = SqliteStore::open(dir.path());
        std::fs::remove_dir(dir.path()).unwrap();
        assert!(matches!(result, Err(StoreError::Backend(_))), "{result:?}");
    }

    #[test]
    fn migrations_apply_in_order_one_transaction_each() {
        let table_exists = |conn: &Connection, name: &str| -> bool {
            conn.query_row(
                "SELECT count(*) FROM sqlite_schema WHERE name = ?1",
                [name],
                |r| r.get::<_, i64>(0),
            )
            .unwrap()
                == 1
        };
        let mut conn = Connection::open_in_memory().unwrap();
        let two = [
            "CREATE TABLE a (x)",
            "CREATE TABLE b (x); INSERT INTO b VALUES (1)",
        ];
        migrate(&mut conn, &two).unwrap();
        assert_eq!(user_version(&conn).unwrap(), 2);
        // Again: nothing to do (b would fail to be created twice).
        migrate(&mut conn, &two).unwrap();
        // A third that fails half-way is rolled back as a whole; the
        // version stays at 2, and a later build with a fixed third applies.
        let broken = [
            two[0],
            two[1],
            "CREATE TABLE c (x); INSERT INTO nowhere VALUES (1)",
        ];
        assert!(matches!(
            migrate(&mut conn, &broken),
            Err(StoreError::Backend(_))
        ));
        assert_eq!(user_version(&conn).unwrap(), 2);
        assert!(!table_exists(&conn, "c"));
        let fixed = [two[0], two[1], "CREATE TABLE c (x)", "CREATE TABLE d (x)"];
        migrate(&mut conn, &fixed).unwrap();
        assert_eq!(user_version(&conn).unwrap(), 4);
        assert!(table_exists(&conn, "c") && table_exists(&conn, "d"));
        // An older build refuses.
        assert!(matches!(
            migrate(&mut conn, &two),
            Err(StoreError::Version {
                found: 4,
                supported: 2
            })
        ));
    }

    #[test]
    fn undecodable_rows_are_corrupt() {
        let store = SqliteStore::open_in_memory().unwrap();
        store
            .put_session(&session("s", "alice@example.org/r", 1))
            .unwrap();
        store.put_roster(&jid("alice@example.org"), "<r/>").unwrap();
        store
            .put_account(
                &jid("alice@example.org"),
                &[ScramCredentials::derive(ScramHash::Sha1, "pw", b"salt", 1)],
            )
            .unwrap();
        {
            let conn = store.conn();
            conn.execute_batch(
                "UPDATE sessions SET jid = 'no resource@example.org';
                 UPDATE rosters SET jid = '@@';
                 UPDATE account_verifiers SET hash = 'MD5';",
            )
            .unwrap();
        }
        assert!(matches!(store.sessions(), Err(StoreError::Corrupt(_))));
        assert!(matches!(store.rosters(), Err(StoreError::Corrupt(_))));
        assert!(matches!(
            store.account(&jid("alice@example.org")),
            Err(StoreError::Corrupt(_))
        ));
        store
            .conn()
            .execute_batch("UPDATE sessions SET jid = 'a@b/c', inbound = -1")
            .unwrap();
        assert!(matches!(store.sessions(), Err(StoreError::Corrupt(_))));
    }

    #[test]
    fn queries_use_the_indexes() {
        let store = SqliteStore::open_in_memory().unwrap();
        let conn = store.conn();
        let plan = |sql: &str| -> String {
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let rows = stmt
                .query_map([], |r| r.get::<_, String>(3))
                .unwrap()
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            rows.join("; ")
        };
        for (sql, index) in [
            (
                "SELECT count(*) FROM (SELECT 1 FROM spool WHERE user = 'a' LIMIT 5)",
                "spool_by_user",
            ),
            (
                "SELECT id FROM spool WHERE user = 'a' ORDER BY id",
                "spool_by_user",
            ),
            (
                "DELETE FROM spool WHERE session = 's' AND seq <= 3",
                "spool_by_session",
            ),
            (
                "UPDATE spool SET session = NULL, seq = NULL WHERE session = 's'",
                "spool_by_session",
            ),
            (
                "SELECT item_id FROM items WHERE service = 's' AND node = 'n' ORDER BY position",
                "items_by_node",
            ),
            (
                "SELECT position FROM items WHERE service = 's' AND node = 'n'
                 ORDER BY position DESC LIMIT 1 OFFSET 3",
                "items_by_node",
            ),
            (
                "SELECT jid FROM subscriptions WHERE service = 's' AND node = 'n'",
                "sqlite_autoindex_subscriptions_1",
            ),
        ] {
            let plan = plan(sql);
            assert!(plan.contains(index), "{sql}: {plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{sql}: {plan}");
        }
    }

    /// A rough figure for the hub's hot path: spool a message, send it,
    /// have it acknowledged. Prints the time; asserts nothing about it.
    #[test]
    fn spool_round_trip_timing() {
        const N: u32 = 10_000;
        let db = TempDb::new("timing");
        let store = SqliteStore::open(db.path()).unwrap();
        let alice = jid("alice@example.org");
        let sender = session("sender", "bob@example.org/r", 0);
        let receiver = session("receiver", "alice@example.org/r", 0);
        let start = Instant::now();
        for seq in 1..=N {
            let sender = StoredSession {
                inbound: seq,
                ..sender.clone()
            };
            let id = store
                .spool(
                    &alice,
                    "<message to='alice@example.org'><body>hi</body></message>",
                    0,
                    1000,
                    Some(&sender),
                )
                .unwrap();
            store.spool_sent(id, &receiver, seq).unwrap();
            store.spool_acked("receiver", seq).unwrap();
        }
        let elapsed = start.elapsed();
        assert_eq!(store.spool_count(&alice).unwrap(), 0);
        println!(
            "{N} x (spool + spool_sent + spool_acked): {elapsed:?}, {:?} per message, {:?} per call",
            elapsed / N,
            elapsed / (3 * N)
        );
    }
}
