//! `--redis-url`: checked before anything starts, and never shown with its
//! password (logs, errors and `Debug` all print the redacted form).

use std::fmt;

/// Schemes the bridge connects with: plain TCP and Unix sockets. TLS
/// (`rediss://`) is not built in: the client's TLS stack would bring a
/// second crypto provider next to the one the rest of Cortex uses.
const SCHEMES: [&str; 3] = ["redis", "unix", "redis+unix"];

/// Query parameters that carry a secret (`unix:///s.sock?pass=...`).
const SECRET_PARAMS: [&str; 2] = ["pass", "password"];

/// What stands in for a secret.
const HIDDEN: &str = "***";

/// A `--redis-url` that is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--redis-url {url}: {reason}")]
pub struct BadRedisUrl {
    /// The URL, redacted.
    pub url: String,
    /// What is wrong with it.
    pub reason: String,
}

/// A validated Redis URL, with the client it configures.
#[derive(Clone)]
pub struct RedisUrl {
    /// The URL as given, secrets included: shown only redacted.
    full: String,
    /// The client for it (which connects only when asked).
    client: redis::Client,
}

impl RedisUrl {
    /// Checks `text` (scheme, host or socket path, database number) without
    /// connecting: an unreachable Redis is not a configuration error.
    pub fn parse(text: &str) -> Result<RedisUrl, BadRedisUrl> {
        let text = text.trim();
        let bad = |reason: &str| BadRedisUrl {
            url: redact(text),
            reason: reason.to_string(),
        };
        let Some((scheme, _)) = text.split_once("://") else {
            return Err(bad(
                "expected redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] or unix:///PATH",
            ));
        };
        match scheme.to_ascii_lowercase().as_str() {
            "rediss" => {
                return Err(bad(
                    "TLS (rediss://) is not supported; reach Redis over a trusted network or a TLS sidecar",
                ))
            }
            s if !SCHEMES.contains(&s) => {
                return Err(bad("the scheme must be redis://, unix:// or redis+unix://"))
            }
            _ => {}
        }
        // The client's own parser decides the rest (host, port, db); its
        // messages name the part that is wrong, never the password.
        let client = redis::Client::open(text).map_err(|e| {
            // "Missing hostname - InvalidClientConfig": the kind adds nothing.
            let message = e.to_string();
            bad(message.split(" - ").next().unwrap_or_default())
        })?;
        Ok(RedisUrl {
            full: text.to_string(),
            client,
        })
    }

    /// The client for this URL.
    pub(super) fn client(&self) -> &redis::Client {
        &self.client
    }
}

impl fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact(&self.full))
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedisUrl({self})")
    }
}

/// `url` with any password hidden: the password of `user:pass@` (or the
/// whole user info when it has no `:`, since some clients read a lone
/// `redis://secret@host` as a password) and `pass`/`password` query values.
/// Works on text that does not parse, so error messages can use it too:
/// everything up to the *last* `@` counts as user info, so a password with
/// an unescaped `/`, `?` or `@` is hidden whole (over-hiding is harmless).
pub fn redact(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, url),
    };
    let (user_info, rest) = match rest.rsplit_once('@') {
        Some((user_info, rest)) => (Some(user_info), rest),
        None => (None, rest),
    };
    let user_info = user_info.map(|info| match info.split_once(':') {
        Some((user, _)) if !user.contains(['/', '?', '#']) => format!("{user}:{HIDDEN}@"),
        _ => format!("{HIDDEN}@"),
    });
    let rest = match rest.split_once('?') {
        Some((path, query)) => format!("{path}?{}", redact_query(query)),
        None => rest.to_string(),
    };
    format!(
        "{}{}{rest}",
        scheme.map(|s| format!("{s}://")).unwrap_or_default(),
        user_info.unwrap_or_default()
    )
}

fn redact_query(query: &str) -> String {
    let (query, fragment) = match query.split_once('#') {
        Some((query, fragment)) => (query, Some(fragment)),
        None => (query, None),
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if SECRET_PARAMS.contains(&key.to_ascii_lowercase().as_str()) => {
                format!("{key}={HIDDEN}")
            }
            _ => pair.to_string(),
        })
        .collect();
    match fragment {
        Some(fragment) => format!("{}#{fragment}", pairs.join("&")),
        None => pairs.join("&"),
    }
}
