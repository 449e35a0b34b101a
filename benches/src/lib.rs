//! Shared helpers for Strata's benches: loading the shared data sets.

use std::path::PathBuf;

/// The shared data directory (`../shared/data` beside the repository), overridable with
/// `STRATA_DATA_DIR`.
pub fn shared_data_dir() -> PathBuf {
    if let Ok(d) = std::env::var("STRATA_DATA_DIR") {
        return PathBuf::from(d);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data")
}

/// Reads and decompresses one of the shared `.lp.zst` files.
pub fn load_lp(name: &str) -> std::io::Result<Vec<u8>> {
    let path = shared_data_dir().join(name);
    let file = std::fs::File::open(&path)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    zstd::stream::decode_all(file)
}
