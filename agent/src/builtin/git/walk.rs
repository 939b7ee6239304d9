//! Finding git repositories under a directory.
//!
//! A directory with a `.git` entry (a directory, or a file for worktrees and
//! submodules) is a working tree; one with `HEAD`, `objects/` and `refs/` is
//! a bare repository. The walk does not descend into a repository, never
//! follows a symbolic link (so it cannot loop), and stops at
//! [`MAX_DEPTH`] levels and [`MAX_DIRECTORIES`] directories. A path inside a
//! working tree stands for that working tree.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

/// Levels below a given path searched.
pub const MAX_DEPTH: usize = 6;
/// Directories read per given path.
pub const MAX_DIRECTORIES: usize = 20_000;
/// Repositories kept per given path.
pub const MAX_REPOSITORIES: usize = 1_000;

/// What a walk found.
#[derive(Debug, Default)]
pub struct Found {
    /// Repository directories (working tree tops or bare directories).
    pub repositories: Vec<PathBuf>,
    /// Directories that could not be read, and limits reached.
    pub notes: Vec<String>,
}

/// The repositories under `path`. Fails only if `path` is not a readable
/// directory.
pub async fn repositories(path: &str) -> Result<Found, String> {
    let root = tokio::fs::canonicalize(path)
        .await
        .map_err(|e| format!("path {path}: {e}"))?;
    if !tokio::fs::metadata(&root)
        .await
        .map_err(|e| format!("path {path}: {e}"))?
        .is_dir()
    {
        return Err(format!("path {path} is not a directory"));
    }
    let mut found = Found::default();
    for ancestor in root.ancestors().skip(1) {
        if exists(&ancestor.join(".git")).await {
            found.repositories.push(ancestor.to_path_buf());
            return Ok(found);
        }
    }
    let mut queue = VecDeque::from([(root, 0usize)]);
    let mut read = 0;
    while let Some((dir, depth)) = queue.pop_front() {
        if is_repository(&dir).await {
            if found.repositories.len() == MAX_REPOSITORIES {
                found.notes.push(format!(
                    "{path}: stopped at {MAX_REPOSITORIES} repositories"
                ));
                break;
            }
            found.repositories.push(dir);
            continue;
        }
        if depth == MAX_DEPTH {
            continue;
        }
        if read == MAX_DIRECTORIES {
            found.notes.push(format!(
                "{path}: stopped after reading {MAX_DIRECTORIES} directories"
            ));
            break;
        }
        read += 1;
        let mut entries = match tokio::fs::read_dir(&dir).await {
            Ok(entries) => entries,
            Err(e) => {
                found.notes.push(format!("{}: {e}", dir.display()));
                continue;
            }
        };
        let mut children = Vec::new();
        while let Ok(Some(entry)) = entries.next_entry().await {
            // `file_type` does not follow symbolic links: a link is never a directory here.
            if entry.file_type().await.is_ok_and(|t| t.is_dir()) {
                children.push(entry.path());
            }
        }
        children.sort();
        queue.extend(children.into_iter().map(|child| (child, depth + 1)));
    }
    Ok(found)
}

async fn exists(path: &Path) -> bool {
    tokio::fs::symlink_metadata(path).await.is_ok()
}

async fn is_repository(dir: &Path) -> bool {
    if exists(&dir.join(".git")).await {
        return true;
    }
    let is_dir = |p: PathBuf| async move { tokio::fs::metadata(p).await.is_ok_and(|m| m.is_dir()) };
    tokio::fs::metadata(dir.join("HEAD"))
        .await
        .is_ok_and(|m| m.is_file())
        && is_dir(dir.join("objects")).await
        && is_dir(dir.join("refs")).await
}
