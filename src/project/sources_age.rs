//! How new a folder's sources are: the newest source file under it, for
//! "started before its code changed" (PROC004) and "the running server
//! proves its module imports" (PY003's skip). A project fact, kept below the
//! engine that caches it per run.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

/// Bounds of the walk for the newest source file.
const MAX_FILES: usize = 20_000;
const MAX_DEPTH: usize = 8;
const SOURCE_EXTENSIONS: &[&str] = &[
    "py", "js", "mjs", "cjs", "ts", "tsx", "jsx", "vue", "svelte", "go", "rb", "php", "java", "kt",
    "rs", "html", "css", "scss", "toml", "yaml", "yml", "json",
];

/// The newest source file under `dir` (a bounded walk that skips dependency
/// and VCS folders).
pub fn newest_source(dir: &Path) -> Option<(PathBuf, u64)> {
    let mut newest: Option<(PathBuf, u64)> = None;
    super::walk_files(
        dir,
        MAX_DEPTH,
        MAX_FILES,
        SOURCE_EXTENSIONS,
        &mut |path, meta| {
            let mtime = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map(|d| d.as_secs());
            if let Some(m) = mtime {
                if newest.as_ref().is_none_or(|(_, n)| m > *n) {
                    newest = Some((path.to_path_buf(), m));
                }
            }
        },
    );
    newest
}
