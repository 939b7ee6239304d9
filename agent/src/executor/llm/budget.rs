//! How many tokens a model call may use for its answer.
//!
//! The attempt stops a worker whose usage reaches its reservation, so a call
//! must end strictly below it: the answer gets what is left of the
//! reservation after a conservative estimate of the prompt, less one token:
//!
//! ```text
//! max_tokens = min(OUTPUT_CEILING, reserved − prompt_estimate − 1)
//! prompt_estimate = ⌈prompt and system bytes / 3⌉ + 16 + 8 per message
//! ```
//!
//! Tokenizers of current models average about four bytes of English or
//! code per token, so a third of the bytes over-counts typical prompts; the
//! framing terms cover role markers and chat templates. The estimate is not
//! a proof: a prompt of unusual text can tokenize larger, and then the
//! server's usage (which is what is settled) shows it.

use cortex_consensus::plan::LlmSpec;

/// Prompt bytes counted as one token (rounded up).
pub const BYTES_PER_TOKEN: u64 = 3;
/// Tokens added once per call for the chat template.
pub const FRAMING_TOKENS: u64 = 16;
/// Tokens added per message (system, user) for role markers.
pub const MESSAGE_TOKENS: u64 = 8;
/// The largest `max_tokens` sent. Every current OpenAI and Anthropic chat
/// model accepts 4,096 output tokens, while several refuse a call (HTTP
/// 400) that asks for more than their own limit, whatever the budget.
pub const OUTPUT_CEILING: u64 = 4096;

/// A conservative estimate of the tokens the prompt of `spec` (user
/// message and system prompt) takes.
pub fn prompt_estimate(spec: &LlmSpec) -> u64 {
    let system = spec.system.as_deref().unwrap_or_default();
    let messages = 1 + u64::from(!system.is_empty());
    let bytes = (spec.prompt.len() + system.len()) as u64;
    bytes.div_ceil(BYTES_PER_TOKEN) + FRAMING_TOKENS + MESSAGE_TOKENS * messages
}

/// The `max_tokens` of a call whose prompt takes about `prompt` tokens out
/// of a reservation of `reserved`; an error if nothing would be left.
pub fn output_allowance(reserved: u64, prompt: u64) -> Result<u64, String> {
    let left = reserved.saturating_sub(prompt).saturating_sub(1);
    if left == 0 {
        return Err(format!(
            "reservation of {reserved} tokens cannot cover a prompt of about {prompt} tokens \
             and an answer; give the task a larger budget or a shorter prompt"
        ));
    }
    Ok(left.min(OUTPUT_CEILING))
}
