//! Which paths a patch may touch: only below the session's directory, never through a
//! symlink, never inside `.git`.

use std::io;
use std::path::{Component, Path, PathBuf};

use crate::Error;

/// The session's directory, as given and with symlinks resolved.
#[derive(Clone, Debug)]
pub(crate) struct Root {
    given: PathBuf,
    canonical: PathBuf,
}

impl Root {
    pub(crate) fn new(root: &Path) -> Result<Self, Error> {
        let canonical = root.canonicalize().map_err(|source| Error::Root {
            root: root.to_path_buf(),
            source,
        })?;
        Ok(Root {
            given: root.to_path_buf(),
            canonical,
        })
    }

    /// The path the patch names, checked, as an absolute path below the canonical root and as
    /// the relative path a person reads.
    pub(crate) fn resolve(&self, raw: &Path) -> Result<(PathBuf, PathBuf), Error> {
        let refuse = |reason: &str| Error::PathRefused {
            path: raw.to_path_buf(),
            reason: reason.to_owned(),
        };
        let relative = if raw.is_absolute() {
            raw.strip_prefix(&self.canonical)
                .or_else(|_| raw.strip_prefix(&self.given))
                .map_err(|_| {
                    refuse("it is outside the session's directory; use a path relative to it")
                })?
        } else {
            raw
        };
        let mut clean = PathBuf::new();
        for component in relative.components() {
            match component {
                Component::Normal(name) if name == ".git" => {
                    return Err(refuse("it is inside `.git`, which a patch never changes"));
                }
                Component::Normal(name) => clean.push(name),
                Component::CurDir => {}
                Component::ParentDir => {
                    return Err(refuse(
                        "it contains `..`; name files by their path below the session's directory",
                    ));
                }
                Component::RootDir | Component::Prefix(_) => {
                    return Err(refuse("it is outside the session's directory"));
                }
            }
        }
        if clean.as_os_str().is_empty() {
            return Err(refuse(
                "it names the session's directory itself, not a file",
            ));
        }
        let absolute = self.canonical.join(&clean);
        self.check_no_symlink(&clean, raw)?;
        Ok((absolute, clean))
    }

    /// Fails when any existing part of the path, the file included, is a symlink or when a
    /// parent is not a directory: writing there could reach outside the session's directory.
    fn check_no_symlink(&self, relative: &Path, raw: &Path) -> Result<(), Error> {
        let mut current = self.canonical.clone();
        let count = relative.components().count();
        for (index, component) in relative.components().enumerate() {
            current.push(component);
            let metadata = match std::fs::symlink_metadata(&current) {
                Ok(metadata) => metadata,
                Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
                Err(source) => {
                    return Err(Error::Read {
                        path: raw.to_path_buf(),
                        source,
                    });
                }
            };
            let shown = current.strip_prefix(&self.canonical).unwrap_or(&current);
            let reason = if metadata.file_type().is_symlink() {
                format!(
                    "`{}` is a symlink, and a patch never writes through one",
                    shown.display()
                )
            } else if index + 1 < count && !metadata.is_dir() {
                format!("`{}` is a file, not a directory", shown.display())
            } else {
                continue;
            };
            return Err(Error::PathRefused {
                path: raw.to_path_buf(),
                reason,
            });
        }
        Ok(())
    }
}
