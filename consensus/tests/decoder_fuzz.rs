//! Fuzzing the decoder every gRPC message between daemons and every stored
//! log entry goes through (`store::codec`): arbitrary bytes, corrupted
//! valid messages and hostile length prefixes are refused with an error,
//! never a panic or an unbounded allocation; whatever decodes re-encodes to
//! the same value.
//!
//! Bounded in CI by proptest's case count; run longer with
//! `PROPTEST_CASES=100000 cargo nextest run -p cortex-consensus --test decoder_fuzz`.

use cortex_consensus::audit::{Actor, Role};
use cortex_consensus::command::{Batch, ClusterTime, Command, Request, RequestId};
use cortex_consensus::store::codec::{decode, encode};
use cortex_consensus::transport::call::ClientCall;
use cortex_consensus::TypeConfig;
use openraft::raft::{AppendEntriesRequest, VoteRequest};
use proptest::prelude::*;
use serde::de::DeserializeOwned;
use serde::Serialize;

fn write_call() -> ClientCall {
    ClientCall::Write {
        id: RequestId("r-1".into()),
        command: Command::Put {
            key: "key".into(),
            value: "value".into(),
        },
        actor: Some(Actor {
            name: "ops".into(),
            role: Role::Operator,
        }),
    }
}

fn batch() -> Batch {
    Batch(vec![Request {
        id: RequestId("r-2".into()),
        time: ClusterTime(1_000),
        command: Command::Noop,
        actor: None,
    }])
}

/// Decodes `bytes` as `T`; if that works, the value must survive a round trip.
fn decodes_cleanly<T>(bytes: &[u8])
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    if let Ok(value) = decode::<T>(bytes) {
        let again: T = decode(&encode(&value).expect("re-encodes")).expect("decodes again");
        assert_eq!(again, value);
    }
}

/// Flips bits of `bytes` at the given positions.
fn corrupt(mut bytes: Vec<u8>, edits: &[(usize, u8)]) -> Vec<u8> {
    for &(at, mask) in edits {
        let at = at % bytes.len();
        bytes[at] ^= mask.max(1);
    }
    bytes
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        decodes_cleanly::<ClientCall>(&bytes);
        decodes_cleanly::<Batch>(&bytes);
        let _ = decode::<AppendEntriesRequest<TypeConfig>>(&bytes);
        let _ = decode::<VoteRequest<u64>>(&bytes);
    }

    #[test]
    fn corrupted_messages_are_refused_or_decode_to_a_valid_value(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
    ) {
        decodes_cleanly::<ClientCall>(&corrupt(encode(&write_call()).unwrap(), &edits));
        decodes_cleanly::<Batch>(&corrupt(encode(&batch()).unwrap(), &edits));
    }

    #[test]
    fn hostile_length_prefixes_are_refused_without_allocating(len in any::<u64>()) {
        // A batch claiming `len` requests, and a key claiming `len` bytes,
        // with almost nothing behind them.
        let mut claims_requests = len.to_le_bytes().to_vec();
        claims_requests.extend_from_slice(&[0; 16]);
        prop_assert!(decode::<Batch>(&claims_requests).is_err());
        let mut claims_bytes = encode(&write_call()).unwrap();
        // The id's length prefix sits right after the variant tag (u32).
        claims_bytes[4..12].copy_from_slice(&len.max(64).to_le_bytes());
        prop_assert!(decode::<ClientCall>(&claims_bytes).is_err());
    }
}

#[test]
fn valid_messages_round_trip() {
    let call = write_call();
    assert_eq!(decode::<ClientCall>(&encode(&call).unwrap()).unwrap(), call);
    assert_eq!(
        decode::<Batch>(&encode(&batch()).unwrap()).unwrap(),
        batch()
    );
}
