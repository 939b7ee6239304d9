//! Binary encoding of stored and transported values.
//!
//! One place decides the format (bincode with a size limit), so the log, the
//! snapshots and the wire agree, and a corrupt or hostile input yields an error
//! instead of an unbounded allocation.

use bincode::Options;
use serde::{de::DeserializeOwned, Serialize};

/// The largest value we ever decode: a snapshot chunk or a batch of entries.
pub const MAX_DECODED_BYTES: u64 = 256 * 1024 * 1024;

fn options() -> impl Options {
    bincode::DefaultOptions::new()
        .with_limit(MAX_DECODED_BYTES)
        .with_fixint_encoding()
        .reject_trailing_bytes()
}

/// Encodes a value.
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, bincode::Error> {
    options().serialize(value)
}

/// Bytes `value` encodes to, without encoding it.
pub fn encoded_len<T: Serialize>(value: &T) -> Result<u64, bincode::Error> {
    options().serialized_size(value)
}

/// Decodes a value, failing on trailing bytes or anything over the limit.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, bincode::Error> {
    options().deserialize(bytes)
}
