//! Running the `git` CLI with bounded output and time.
//!
//! Every call is read-only, never prompts (`GIT_TERMINAL_PROMPT=0`), takes
//! no optional locks (`GIT_OPTIONAL_LOCKS=0`), and is killed when its future
//! is dropped (the attempt's time limit), when it runs past
//! [`COMMAND_TIMEOUT`] or when it prints more than [`MAX_OUTPUT_BYTES`].

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

/// Most stdout read from one git command.
pub const MAX_OUTPUT_BYTES: u64 = 8 * 1024 * 1024;
/// Most stderr kept for an error message (the rest is read and dropped).
const MAX_ERROR_BYTES: u64 = 4 * 1024;
/// Longest one git command may run.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs `git -C dir args...`; its stdout, or why it failed.
pub async fn git(dir: &Path, args: &[&str]) -> Result<String, String> {
    let what = format!("git {} in {}", args.first().unwrap_or(&""), dir.display());
    let mut child = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_OPTIONAL_LOCKS", "0")
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run git (is it installed?): {e}"))?;
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(format!("{what}: no output pipes"));
    };
    let run = async {
        let (out, err) = tokio::try_join!(read_output(stdout), read_error(stderr))
            .map_err(|e| format!("{what}: {e}"))?;
        let status = child.wait().await.map_err(|e| format!("{what}: {e}"))?;
        if status.success() {
            return Ok(String::from_utf8_lossy(&out).into_owned());
        }
        let message = String::from_utf8_lossy(&err);
        let first = message
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no message");
        Err(format!("{what}: {status}: {}", first.trim()))
    };
    // On any early return the child is dropped, and so killed.
    tokio::time::timeout(COMMAND_TIMEOUT, run)
        .await
        .unwrap_or_else(|_| Err(format!("{what}: no answer within {COMMAND_TIMEOUT:?}")))
}

/// All of stdout, or an error past [`MAX_OUTPUT_BYTES`].
async fn read_output(reader: impl AsyncRead + Unpin) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    reader
        .take(MAX_OUTPUT_BYTES + 1)
        .read_to_end(&mut bytes)
        .await?;
    if bytes.len() as u64 > MAX_OUTPUT_BYTES {
        return Err(std::io::Error::other(format!(
            "more than {MAX_OUTPUT_BYTES} bytes of output"
        )));
    }
    Ok(bytes)
}

/// The start of stderr; the rest is read and dropped so git never blocks.
async fn read_error(mut reader: impl AsyncRead + Unpin) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    (&mut reader)
        .take(MAX_ERROR_BYTES)
        .read_to_end(&mut bytes)
        .await?;
    tokio::io::copy(&mut reader, &mut tokio::io::sink()).await?;
    Ok(bytes)
}
