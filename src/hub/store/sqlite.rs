//! [`SqliteStore`]: the durable [`Store`](super::Store) on SQLite (being written).

use std::path::Path;

use super::{MemoryStore, StoreResult};

/// Placeholder until the SQLite store lands: memory only.
pub type SqliteStore = MemoryStore;

impl MemoryStore {
    /// Placeholder.
    ///
    /// # Errors
    /// Never.
    pub fn open(_path: impl AsRef<Path>) -> StoreResult<Self> {
        Ok(Self::new())
    }
}
