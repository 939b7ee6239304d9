//! openraft's storage conformance suite against the sled log and state machine.

use cortex_consensus::store::{self, LogStore, StateMachineStore};
use cortex_consensus::types::{StorageError, TypeConfig};
use openraft::testing::{StoreBuilder, Suite};
use openraft::StorageIOError;
use tempfile::TempDir;

struct SledStoreBuilder;

impl StoreBuilder<TypeConfig, LogStore, StateMachineStore, TempDir> for SledStoreBuilder {
    async fn build(&self) -> Result<(TempDir, LogStore, StateMachineStore), StorageError> {
        let dir = tempfile::tempdir().map_err(|e| StorageIOError::write(&e))?;
        let (log, state_machine) = store::open(dir.path())
            .await
            .map_err(|e| StorageIOError::write(&std::io::Error::other(e.to_string())))?;
        Ok((dir, log, state_machine))
    }
}

#[test]
fn sled_store_passes_openraft_conformance_suite() {
    if let Err(e) = Suite::test_all(SledStoreBuilder) {
        panic!("storage conformance: {e}");
    }
}
