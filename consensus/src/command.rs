//! What can be written to the log, and what applying it answers.
//!
//! A [`Request`] is one log entry's payload. It carries everything `apply`
//! needs to be deterministic: the leader-stamped [`ClusterTime`] (no node reads
//! its own clock while applying) and the client's [`RequestId`], so a command
//! retried after a lost reply or a leader change is applied once.

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch as stamped by the leader that proposed an
/// entry. The state machine only ever moves its clock forward
/// (`max(previous, stamped)`), so a leader with a slow clock cannot make time
/// run backwards for the cluster.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct ClusterTime(pub u64);

impl ClusterTime {
    /// The current wall-clock time. Only the leader calls this, when it stamps
    /// an entry it proposes; `apply` never does.
    pub fn now() -> Self {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        ClusterTime(since_epoch.as_millis() as u64)
    }

    /// This time plus `millis`, saturating.
    pub fn plus_millis(self, millis: u64) -> Self {
        ClusterTime(self.0.saturating_add(millis))
    }
}

/// The idempotency key of a client request: the same key applies once, and a
/// retry gets the first application's answer back.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RequestId(pub String);

impl RequestId {
    /// Longest key accepted; keys are remembered for a while, so they are kept short.
    pub const MAX_LEN: usize = 128;

    /// A fresh random key (128 bits, hex).
    pub fn random() -> Self {
        RequestId(format!("{:032x}", rand::random::<u128>()))
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One log entry's payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// Idempotency key chosen by the client; kept across retries.
    pub id: RequestId,
    /// Stamped by the leader when it proposes the entry.
    pub time: ClusterTime,
    /// What to do.
    pub command: Command,
}

/// A state change. Later issues add the run, ledger and lease commands here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Does nothing but go through the log; used to probe and benchmark writes.
    Noop,
    /// Sets a key of the diagnostic key/value space.
    Put {
        /// The key, 1 to [`Command::MAX_KEY_LEN`] bytes.
        key: String,
        /// The value, at most [`Command::MAX_VALUE_LEN`] bytes.
        value: String,
    },
    /// Removes a key of the diagnostic key/value space.
    Delete {
        /// The key to remove.
        key: String,
    },
}

impl Command {
    /// Longest key of the key/value space.
    pub const MAX_KEY_LEN: usize = 256;
    /// Largest value of the key/value space.
    pub const MAX_VALUE_LEN: usize = 64 * 1024;

    /// Checks what can be checked without the state. The state machine runs
    /// this again on apply; callers run it first so that invalid input never
    /// reaches the log.
    pub fn check(&self) -> Result<(), Rejection> {
        match self {
            Command::Noop => Ok(()),
            Command::Put { key, value } => {
                check_key(key)?;
                if value.len() > Command::MAX_VALUE_LEN {
                    return Err(Rejection::ValueTooLarge {
                        len: value.len(),
                        max: Command::MAX_VALUE_LEN,
                    });
                }
                Ok(())
            }
            Command::Delete { key } => check_key(key),
        }
    }
}

fn check_key(key: &str) -> Result<(), Rejection> {
    if key.is_empty() || key.len() > Command::MAX_KEY_LEN {
        return Err(Rejection::BadKey {
            len: key.len(),
            max: Command::MAX_KEY_LEN,
        });
    }
    Ok(())
}

/// What a successfully applied command answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    /// The command had no answer beyond being applied.
    Done,
    /// A `Put` was applied; the value it replaced, if any.
    Put {
        /// Value before the put.
        previous: Option<String>,
    },
    /// A `Delete` was applied.
    Deleted {
        /// Whether the key existed.
        existed: bool,
    },
}

/// Why the state machine refused a command. A rejected command changes
/// nothing, but it is still a log entry, so a retry gets the same rejection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum Rejection {
    /// The idempotency key is empty or longer than [`RequestId::MAX_LEN`].
    #[error("request id must be 1 to {max} characters, got {len}")]
    BadRequestId {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A key-value key is empty or too long.
    #[error("key must be 1 to {max} bytes, got {len}")]
    BadKey {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A key-value value is too large.
    #[error("value must be at most {max} bytes, got {len}")]
    ValueTooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
}

/// The result of applying one entry, as replicated and returned to the client.
pub type Outcome = Result<Response, Rejection>;
