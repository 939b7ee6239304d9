//! The admin token: where it comes from (`super::Access` checks requests
//! against it).
//!
//! The token is a secret: it is never logged or printed (its `Debug` is
//! redacted) and files holding it are created readable by the owner only.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Shortest token accepted, so a guessable one is refused at start.
pub const MIN_TOKEN_LEN: usize = 16;

/// The admin bearer token.
#[derive(Clone)]
pub struct AdminToken(String);

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
}

/// Where the token came from, for the startup log (never the value).
#[derive(Debug, Clone)]
pub enum TokenSource {
    /// The `CORTEX_ADMIN_TOKEN` environment variable.
    Env,
    /// A file given by the operator, or generated earlier.
    File(PathBuf),
    /// Generated now and written to this file.
    Generated(PathBuf),
}

/// Why no usable token could be had.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The token is too short to be safe.
    #[error("admin token from {0} is shorter than {MIN_TOKEN_LEN} characters")]
    TooShort(String),
    /// The token file could not be read or written.
    #[error("admin token file {path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        reason: String,
    },
}

impl AdminToken {
    /// Finds the token: `CORTEX_ADMIN_TOKEN`, else `explicit_file`, else
    /// `default_file`, generating it there on first start.
    pub fn load(
        explicit_file: Option<&Path>,
        default_file: &Path,
    ) -> Result<(AdminToken, TokenSource), TokenError> {
        if let Ok(value) = std::env::var("CORTEX_ADMIN_TOKEN") {
            return Ok((AdminToken::from_env_value(&value)?, TokenSource::Env));
        }
        if let Some(path) = explicit_file {
            let token = AdminToken::read(path)?;
            return Ok((token, TokenSource::File(path.to_path_buf())));
        }
        if default_file.exists() {
            let token = AdminToken::read(default_file)?;
            return Ok((token, TokenSource::File(default_file.to_path_buf())));
        }
        let token = AdminToken::generate();
        write_private(default_file, token.0.as_bytes()).map_err(|e| TokenError::File {
            path: default_file.to_path_buf(),
            reason: e.to_string(),
        })?;
        Ok((token, TokenSource::Generated(default_file.to_path_buf())))
    }

    /// A token given in `CORTEX_ADMIN_TOKEN`.
    pub fn from_env_value(value: &str) -> Result<AdminToken, TokenError> {
        AdminToken::checked(value.trim(), "CORTEX_ADMIN_TOKEN")
    }

    /// Reads a token from a file (surrounding whitespace ignored).
    pub fn read(path: &Path) -> Result<AdminToken, TokenError> {
        let value = std::fs::read_to_string(path).map_err(|e| TokenError::File {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        AdminToken::checked(value.trim(), &path.display().to_string())
    }

    fn checked(value: &str, from: &str) -> Result<AdminToken, TokenError> {
        if value.len() < MIN_TOKEN_LEN {
            return Err(TokenError::TooShort(from.to_string()));
        }
        Ok(AdminToken(value.to_string()))
    }

    /// 256 random bits, hex.
    pub fn generate() -> AdminToken {
        let mut bytes = [0u8; 32];
        getrandom::getrandom(&mut bytes).expect("the OS random source is available");
        AdminToken(hex::encode(bytes))
    }

    /// The value, for clients that send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Writes `contents` to a new file readable only by its owner.
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_token() {
        let token = AdminToken::generate();
        assert!(!format!("{token:?}").contains(token.expose()));
    }

    #[test]
    fn generated_token_file_is_private_and_reused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("admin-token");
        // The env variable would win; these tests run without it.
        if std::env::var("CORTEX_ADMIN_TOKEN").is_ok() {
            return;
        }
        let (first, source) = AdminToken::load(None, &path).unwrap();
        assert!(matches!(source, TokenSource::Generated(_)));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let (again, source) = AdminToken::load(None, &path).unwrap();
        assert!(matches!(source, TokenSource::File(_)));
        assert_eq!(first.expose(), again.expose());
    }

    #[test]
    fn short_tokens_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t");
        std::fs::write(&path, "short").unwrap();
        assert!(matches!(
            AdminToken::read(&path),
            Err(TokenError::TooShort(_))
        ));
    }
}
