//! Assets an attempt discovers, written to the replicated catalog.
//!
//! Each asset line is parsed and validated here, so one bad asset from a
//! worker is logged and dropped instead of failing the whole batch. Valid
//! ones are written in batches while the attempt runs (a discovery of
//! thousands of objects shows up as it goes). Every batch is stamped with
//! the attempt as its sync pass, and a completed attempt ends the pass:
//! assets its source (the task) no longer reports are removed.

use cortex_consensus::catalog::{AssetInput, CatalogCommand};
use cortex_consensus::command::Command;
use cortex_consensus::ConsensusError;

use super::Context;
use crate::control::Control;

/// The catalog writes of one attempt.
pub struct AssetSink {
    source: String,
    sync: String,
    by: String,
    pending: Vec<AssetInput>,
    /// Assets taken from the worker (valid ones).
    pub accepted: usize,
    /// Asset lines dropped as invalid.
    pub rejected: usize,
}

impl AssetSink {
    /// The sink of the attempt in `context`.
    pub fn new(context: &Context) -> AssetSink {
        AssetSink {
            source: context.task.0.clone(),
            sync: format!("{}/{}#{}", context.run, context.task, context.attempt),
            by: format!(
                "{}/{}/{}#{}",
                context.node, context.run, context.task, context.attempt
            ),
            pending: Vec::new(),
            accepted: 0,
            rejected: 0,
        }
    }

    /// Takes one asset line (JSON text); returns a log line if it is invalid.
    pub fn take(&mut self, json: &str) -> Option<String> {
        let asset = serde_json::from_str::<AssetInput>(json)
            .map_err(|e| e.to_string())
            .and_then(|asset| asset.validate().map(|()| asset));
        match asset {
            Ok(asset) => {
                self.accepted += 1;
                self.pending.push(asset);
                None
            }
            Err(problem) => {
                self.rejected += 1;
                Some(format!("asset dropped: {problem}"))
            }
        }
    }

    /// Whether assets wait to be written.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Writes what is pending. Batches the cluster refuses are dropped (and
    /// logged); batches it cannot take now stay pending for the next flush.
    pub async fn flush(&mut self, control: &Control) {
        let pending = std::mem::take(&mut self.pending);
        let commands = CatalogCommand::upserts(&self.source, Some(&self.sync), &self.by, pending);
        for command in commands {
            let assets = match &command {
                CatalogCommand::Upsert { assets, .. } => assets.clone(),
                _ => Vec::new(),
            };
            match control.write(Command::Catalog(command)).await {
                Ok(_) => {}
                Err(ConsensusError::Rejected(why)) => {
                    tracing::warn!(source = %self.source, %why, "asset batch refused");
                }
                Err(e) => {
                    tracing::debug!(error = %e, "asset batch not written yet; keeping it");
                    self.pending.extend(assets);
                }
            }
        }
    }

    /// Writes the rest and ends the sync pass, removing what the source
    /// no longer reports.
    pub async fn finish(&mut self, control: &Control) {
        self.flush(control).await;
        if self.has_pending() {
            // The cluster did not take everything: ending the pass now would
            // remove assets that were in fact seen.
            tracing::warn!(source = %self.source, "assets left unwritten; stale assets kept");
            return;
        }
        let finish = CatalogCommand::FinishSync {
            source: self.source.clone(),
            sync: self.sync.clone(),
        };
        if let Err(e) = control.write(Command::Catalog(finish)).await {
            tracing::warn!(source = %self.source, error = %e, "cannot end the catalog pass");
        }
    }
}
