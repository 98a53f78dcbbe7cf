//! Finding the helper binary: a configured path, an environment variable, next to the
//! running program (also from a `deps/` folder of cargo's test layout), or on `PATH`.

use std::path::{Path, PathBuf};

use crate::Error;

/// The file name of the helper binary.
pub const HELPER_NAME: &str = "turnkit-sandbox-exec";

/// The environment variable that names the helper binary's path.
pub const HELPER_ENV: &str = "TURNKIT_SANDBOX_HELPER";

/// Finds the helper binary, or says where it looked.
///
/// A `configured` path is used alone: when it is not an executable file, the search fails
/// rather than falling back to another binary. Otherwise the places are, in order: the path
/// in [`HELPER_ENV`], the directory of the running program and, when that directory is
/// cargo's `deps/` (a test binary), its parent, then each directory of `PATH`.
pub fn locate_helper(configured: Option<&Path>) -> Result<PathBuf, Error> {
    if let Some(path) = configured {
        return found(path).ok_or_else(|| Error::HelperMissing {
            searched: vec![path.to_path_buf()],
        });
    }
    if let Some(path) = std::env::var_os(HELPER_ENV).filter(|value| !value.is_empty()) {
        let path = PathBuf::from(path);
        return found(&path).ok_or(Error::HelperMissing {
            searched: vec![path],
        });
    }
    let mut searched = Vec::new();
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
    {
        if dir.file_name().is_some_and(|name| name == "deps")
            && let Some(parent) = dir.parent()
        {
            searched.push(parent.join(HELPER_NAME));
        }
        searched.insert(0, dir.join(HELPER_NAME));
    }
    if let Some(path) = std::env::var_os("PATH") {
        searched.extend(std::env::split_paths(&path).map(|dir| dir.join(HELPER_NAME)));
    }
    searched
        .iter()
        .find_map(|candidate| found(candidate))
        .ok_or(Error::HelperMissing { searched })
}

/// `path` when it is a file with an execute bit.
fn found(path: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt as _;
    let metadata = std::fs::metadata(path).ok()?;
    (metadata.is_file() && metadata.permissions().mode() & 0o111 != 0).then(|| path.to_path_buf())
}
