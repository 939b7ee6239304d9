//! The API key of an `llm` call: where it comes from, and keeping it out of
//! everything the attempt reports.
//!
//! The key is read on the executing node: from the environment variable
//! named by `apiKeyEnv`, else (also when that variable is not set) from the
//! file named by `apiKeyFile`, trimmed; with neither, the call carries no
//! key (a local server). Errors name the variable or the file, never the
//! value. The key travels only in its header, marked sensitive, and is kept
//! in the attempt's redactor (`executor::secrets`), so any text that came
//! back from the server is cleaned of it before it becomes a log line, an
//! error or the result.

use std::env::VarError;
use std::fmt;

use cortex_consensus::plan::LlmSpec;
use reqwest::header::HeaderValue;

use crate::executor::secrets::{Redactor, REDACTED};

/// An API key and where it was read from.
pub(super) struct ApiKey {
    value: String,
    source: String,
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKey({REDACTED} from {})", self.source)
    }
}

impl ApiKey {
    /// The key `spec` names, read on `node`; `None` if it names none.
    pub(super) async fn load(spec: &LlmSpec, node: &str) -> Result<Option<ApiKey>, String> {
        if let Some(var) = &spec.api_key_env {
            let source = format!("environment variable {var}");
            match std::env::var(var) {
                Ok(value) => return ApiKey::new(value, source).map(Some),
                Err(VarError::NotUnicode(_)) => {
                    return Err(format!("{source} (apiKeyEnv) is not valid UTF-8"))
                }
                Err(VarError::NotPresent) if spec.api_key_file.is_none() => {
                    return Err(format!("{source} (apiKeyEnv) is not set on node {node}"))
                }
                Err(VarError::NotPresent) => {}
            }
        }
        let Some(path) = &spec.api_key_file else {
            return Ok(None);
        };
        let source = format!("file {path}");
        let value = tokio::fs::read_to_string(path).await.map_err(|e| {
            format!("cannot read the API key {source} (apiKeyFile) on node {node}: {e}")
        })?;
        ApiKey::new(value, source).map(Some)
    }

    fn new(value: String, source: String) -> Result<ApiKey, String> {
        let value = value.trim().to_string();
        if value.is_empty() {
            return Err(format!("the API key in {source} is empty"));
        }
        Ok(ApiKey { value, source })
    }

    /// The header value `{prefix}{key}`, marked sensitive so that the HTTP
    /// stack never prints it.
    pub(super) fn header(&self, prefix: &str) -> Result<HeaderValue, String> {
        let mut value =
            HeaderValue::from_str(&format!("{prefix}{}", self.value)).map_err(|_| {
                format!(
                    "the API key in {} has characters an HTTP header cannot carry",
                    self.source
                )
            })?;
        value.set_sensitive(true);
        Ok(value)
    }

    /// Redacts the key from everything the attempt reports from now on.
    pub(super) fn keep_out_of(&self, redactor: &Redactor) {
        redactor.keep(&self.value);
    }

    /// Where it was read from (`environment variable X`, `file Y`).
    pub(super) fn source(&self) -> &str {
        &self.source
    }
}
