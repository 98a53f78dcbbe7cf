//! What differs between operating systems: path bytes, file identity, modes and symlinks.
//!
//! git stores paths as bytes and knows two file modes and symlinks; Unix maps onto that
//! exactly. Elsewhere paths must be UTF-8, the executable bit is not kept and a symlink is
//! never restored (undo reports it as a conflict instead).

use std::ffi::OsStr;
use std::fs::{File, Metadata, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// A path as git prints it, relative to the top of the working tree.
#[cfg(unix)]
pub(crate) fn path_from_git(bytes: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    PathBuf::from(OsStr::from_bytes(bytes))
}

/// A path as git prints it, relative to the top of the working tree.
#[cfg(not(unix))]
pub(crate) fn path_from_git(bytes: &[u8]) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(bytes).into_owned())
}

/// A relative path in the form git reads it: bytes with `/` separators.
#[cfg(unix)]
pub(crate) fn path_to_git(path: &Path) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    path.as_os_str().as_bytes().to_vec()
}

/// A relative path in the form git reads it: bytes with `/` separators.
#[cfg(not(unix))]
pub(crate) fn path_to_git(path: &Path) -> Vec<u8> {
    path.to_string_lossy().replace('\\', "/").into_bytes()
}

/// Whether a regular file counts as executable for git.
#[cfg(unix)]
pub(crate) fn is_executable(metadata: &Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    metadata.permissions().mode() & 0o100 != 0
}

/// Whether a regular file counts as executable for git.
#[cfg(not(unix))]
pub(crate) fn is_executable(_metadata: &Metadata) -> bool {
    false
}

/// The permission bits of a regular file when they are not what git restores by itself
/// (`0644`, or `0755` for an executable): a private key's `0600`, a script's `0750`.
#[cfg(unix)]
pub(crate) fn private_mode(metadata: &Metadata) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    let mode = metadata.permissions().mode() & 0o777;
    (metadata.is_file() && mode != 0o644 && mode != 0o755).then_some(mode)
}

/// The permission bits git does not record; none are kept here.
#[cfg(not(unix))]
pub(crate) fn private_mode(_metadata: &Metadata) -> Option<u32> {
    None
}

/// Whether a directory entry is neither a file, a directory nor a symlink.
pub(crate) fn is_special(kind: std::fs::FileType) -> bool {
    !kind.is_file() && !kind.is_dir() && !kind.is_symlink()
}

/// Everything about a file that changes when someone writes, replaces or chmods it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Fingerprint {
    len: u64,
    modified: (i64, i64),
    changed: (i64, i64),
    inode: (u64, u64),
    mode: u32,
}

impl Fingerprint {
    /// The fingerprint as a short text fit for a file name.
    pub(crate) fn token(&self) -> String {
        format!(
            "{:x}-{:x}.{:x}-{:x}.{:x}-{:x}.{:x}-{:x}",
            self.len,
            self.modified.0,
            self.modified.1,
            self.changed.0,
            self.changed.1,
            self.inode.0,
            self.inode.1,
            self.mode
        )
    }

    #[cfg(unix)]
    pub(crate) fn of(metadata: &Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        Self {
            len: metadata.len(),
            modified: (metadata.mtime(), metadata.mtime_nsec()),
            changed: (metadata.ctime(), metadata.ctime_nsec()),
            inode: (metadata.dev(), metadata.ino()),
            mode: metadata.mode(),
        }
    }

    #[cfg(not(unix))]
    pub(crate) fn of(metadata: &Metadata) -> Self {
        let modified = metadata
            .modified()
            .ok()
            .and_then(|time| time.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or((0, 0), |since| {
                (since.as_secs() as i64, i64::from(since.subsec_nanos()))
            });
        Self {
            len: metadata.len(),
            modified,
            changed: (0, 0),
            inode: (0, 0),
            mode: u32::from(metadata.permissions().readonly()),
        }
    }
}

/// Creates a new file for restored content: with the permission bits a snapshot recorded when
/// there are some, else executable or not with the umask applied, or the permission bits of
/// the file it replaces kept with only the executable bits changed.
#[cfg(unix)]
pub(crate) fn create_restored_file(
    path: &Path,
    executable: bool,
    replaced: Option<&Metadata>,
    recorded: Option<u32>,
) -> io::Result<File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    // Created private, so the content is never readable by more than it was for a moment.
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(match recorded {
            Some(_) => 0o600,
            None if executable => 0o777,
            None => 0o666,
        })
        .open(path)?;
    if let Some(mode) = recorded {
        file.set_permissions(std::fs::Permissions::from_mode(mode & 0o777))?;
    } else if let Some(old) = replaced.filter(|old| old.is_file()) {
        let old_mode = old.permissions().mode() & 0o7777;
        // Like git: executable means x wherever r is set.
        let mode = if executable {
            old_mode | ((old_mode & 0o444) >> 2)
        } else {
            old_mode & !0o111
        };
        file.set_permissions(std::fs::Permissions::from_mode(mode))?;
    }
    Ok(file)
}

/// Creates a new file for restored content.
#[cfg(not(unix))]
pub(crate) fn create_restored_file(
    path: &Path,
    _executable: bool,
    _replaced: Option<&Metadata>,
    _recorded: Option<u32>,
) -> io::Result<File> {
    OpenOptions::new().write(true).create_new(true).open(path)
}

/// Creates a symlink at `path` whose target is the given bytes, never following anything.
#[cfg(unix)]
pub(crate) fn create_symlink(target: &[u8], path: &Path) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    std::os::unix::fs::symlink(OsStr::from_bytes(target), path)
}

/// Creates a symlink at `path`; not supported here, so undo reports a conflict instead.
#[cfg(not(unix))]
pub(crate) fn create_symlink(_target: &[u8], _path: &Path) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "symlinks are restored on Unix only",
    ))
}
