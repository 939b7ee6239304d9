//! The `llm` executor over real HTTP against a local server speaking the
//! OpenAI and Anthropic APIs (`llm_executor/server.rs`): usage settled
//! exactly, `max_tokens` within the reservation, retries, refusals, broken
//! servers, and the API key kept out of everything the attempt reports.

#[path = "llm_executor/calls.rs"]
mod calls;
#[path = "llm_executor/failures.rs"]
mod failures;
#[path = "llm_executor/keys.rs"]
mod keys;
#[path = "llm_executor/server.rs"]
mod server;
#[path = "llm_executor/support.rs"]
mod support;
