//! Writing files atomically: a reader (or a resumed run) sees either the old file or the
//! complete new one, never a partial write.

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// Name prefix of the temporary files (so leftovers of a killed process can be recognised).
pub const TEMP_PREFIX: &str = ".lcb-tmp-";

/// Writes `bytes` to `path` through a temporary file in the same directory, flushed to disk
/// and then renamed over `path` (and the directory flushed, so the rename survives a crash).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let io_err = |error| Error::Io {
        path: path.to_owned(),
        error,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .tempfile_in(dir)
        .map_err(io_err)?;
    tmp.write_all(bytes).map_err(io_err)?;
    // Temporary files are created 0600; results are ordinary files readable by others.
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(io_err)?;
    }
    tmp.as_file().sync_all().map_err(io_err)?;
    tmp.persist(path).map_err(|e| io_err(e.error))?;
    // The rename is durable only once the directory is on disk too (a process kill does not
    // need this; a power cut does).
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_content_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn unwritable_directory_is_an_error_naming_the_file() {
        let err = write_atomic(Path::new("/nonexistent-dir/r.json"), b"x").unwrap_err();
        assert!(err.to_string().contains("/nonexistent-dir/r.json"), "{err}");
    }
}
