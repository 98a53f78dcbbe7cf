//! Names of git objects and the entries of a tree: object ids, file modes.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The hexadecimal name of a git object (SHA-1 or SHA-256).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ObjectId(String);

impl ObjectId {
    /// The id as lowercase hexadecimal.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn from_hex_bytes(bytes: &[u8]) -> Option<Self> {
        std::str::from_utf8(bytes).ok()?.parse().ok()
    }

    /// Whether this is the all-zero id git prints for "no object".
    pub(crate) fn is_null(&self) -> bool {
        self.0.bytes().all(|byte| byte == b'0')
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// The text is not a 40- or 64-digit hexadecimal object id.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a git object id (40 or 64 hexadecimal digits)")]
pub struct InvalidObjectId(String);

impl FromStr for ObjectId {
    type Err = InvalidObjectId;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let valid = matches!(text.len(), 40 | 64) && text.bytes().all(|b| b.is_ascii_hexdigit());
        if valid {
            Ok(Self(text.to_ascii_lowercase()))
        } else {
            Err(InvalidObjectId(text.to_owned()))
        }
    }
}

impl TryFrom<String> for ObjectId {
    type Error = InvalidObjectId;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<ObjectId> for String {
    fn from(id: ObjectId) -> Self {
        id.0
    }
}

/// What kind of entry a path is in a snapshot's tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileMode {
    /// A regular file (`100644`).
    Regular,
    /// A regular file with the executable bit (`100755`).
    Executable,
    /// A symbolic link (`120000`); the blob holds the link's target.
    Symlink,
    /// A submodule's commit (`160000`).
    Submodule,
}

impl FileMode {
    /// Reads the octal mode git prints; `None` for a tree or the "no entry" mode.
    pub(crate) fn from_octal(text: &[u8]) -> Option<Self> {
        match text {
            b"100644" | b"100664" => Some(Self::Regular),
            b"100755" => Some(Self::Executable),
            b"120000" => Some(Self::Symlink),
            b"160000" => Some(Self::Submodule),
            _ => None,
        }
    }

    /// The octal mode as git writes it.
    pub fn as_octal(self) -> &'static str {
        match self {
            Self::Regular => "100644",
            Self::Executable => "100755",
            Self::Symlink => "120000",
            Self::Submodule => "160000",
        }
    }
}

/// One path's entry in a snapshot: its mode and the object holding its content.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TreeEntry {
    /// Regular, executable, symlink or submodule.
    pub mode: FileMode,
    /// The blob (or, for a submodule, the commit).
    pub oid: ObjectId,
}

/// The hash function of a repository, which decides the empty tree's name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ObjectFormat {
    Sha1,
    Sha256,
}

impl ObjectFormat {
    pub(crate) fn empty_tree(self) -> ObjectId {
        let hex = match self {
            Self::Sha1 => "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
            Self::Sha256 => "6ef19b41225c5369f1c104d45d8d85efa9b057b53b14b4b9b939dd74decc5321",
        };
        ObjectId(hex.to_owned())
    }
}
