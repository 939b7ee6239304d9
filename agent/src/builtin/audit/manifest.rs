//! Kubernetes objects from manifest files: multi-document YAML or JSON, as
//! written by hand or rendered by `helm template`.
//!
//! A directory is searched for `*.yaml`, `*.yml` and `*.json` files (no
//! symbolic links followed, at most [`MAX_DEPTH`] levels, [`MAX_FILES`]
//! files); a file is read whatever its name. `List` documents are expanded;
//! empty documents and documents without a kind and a name are skipped.
//! Parse errors name the file but never quote it (a Secret's values may be
//! in it).

use std::path::{Path, PathBuf};

use serde_json::Value;

/// Levels below a given directory searched.
pub const MAX_DEPTH: usize = 8;
/// Files read in all.
pub const MAX_FILES: usize = 5_000;
/// Largest file read.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// An object and the file it came from.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The object.
    pub object: Value,
    /// Its file.
    pub source: String,
}

/// Every object in `paths`. Fails on a missing path, an unreadable or
/// oversized file, or a file that is not YAML.
pub async fn load(paths: &[String]) -> Result<Vec<Manifest>, String> {
    let mut files = Vec::new();
    for path in paths {
        let metadata = tokio::fs::metadata(path)
            .await
            .map_err(|e| format!("manifest path {path}: {e}"))?;
        if metadata.is_dir() {
            collect(Path::new(path), &mut files).await?;
        } else {
            files.push(PathBuf::from(path));
        }
    }
    let mut manifests = Vec::new();
    for file in files {
        let source = file.display().to_string();
        let size = tokio::fs::metadata(&file)
            .await
            .map_err(|e| format!("{source}: {e}"))?
            .len();
        if size > MAX_FILE_BYTES {
            return Err(format!(
                "{source}: {size} bytes, more than the {MAX_FILE_BYTES} read"
            ));
        }
        let text = tokio::fs::read_to_string(&file)
            .await
            .map_err(|e| format!("{source}: {e}"))?;
        for object in parse(&text).map_err(|e| format!("{source}: {e}"))? {
            manifests.push(Manifest {
                object,
                source: source.clone(),
            });
        }
    }
    Ok(manifests)
}

/// The manifest files under `dir`, sorted per directory.
async fn collect(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), String> {
    let mut pending = vec![(dir.to_path_buf(), 0usize)];
    while let Some((dir, depth)) = pending.pop() {
        let mut entries = tokio::fs::read_dir(&dir)
            .await
            .map_err(|e| format!("manifest directory {}: {e}", dir.display()))?;
        let mut here = Vec::new();
        while let Some(entry) = entries
            .next_entry()
            .await
            .map_err(|e| format!("manifest directory {}: {e}", dir.display()))?
        {
            let Ok(kind) = entry.file_type().await else {
                continue;
            };
            let path = entry.path();
            let manifest = path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"));
            if kind.is_dir() && depth < MAX_DEPTH {
                pending.push((path, depth + 1));
            } else if kind.is_file() && manifest {
                here.push(path);
            }
        }
        here.sort();
        files.extend(here);
        if files.len() > MAX_FILES {
            return Err(format!(
                "more than {MAX_FILES} manifest files under {}",
                dir.display()
            ));
        }
    }
    Ok(())
}

/// The objects of a multi-document YAML (or JSON) text.
pub fn parse(text: &str) -> Result<Vec<Value>, String> {
    let options = serde_saphyr::options! {
        with_snippet: false,
    };
    let documents: Vec<Value> = serde_saphyr::from_multiple_with_options(text, options)
        .map_err(|e| format!("not valid YAML: {e}"))?;
    let mut objects = Vec::new();
    for document in documents {
        let is_list = document
            .get("kind")
            .and_then(Value::as_str)
            .is_some_and(|k| k.ends_with("List"))
            && document.get("items").is_some_and(Value::is_array);
        if is_list {
            if let Some(Value::Array(items)) = document.get("items") {
                objects.extend(items.iter().filter(|o| named(o)).cloned());
            }
        } else if named(&document) {
            objects.push(document);
        }
    }
    Ok(objects)
}

fn named(object: &Value) -> bool {
    object.get("kind").and_then(Value::as_str).is_some()
        && object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .is_some()
}
