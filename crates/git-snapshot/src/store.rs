//! turnkit's own object store beside the repository's, its daily generations and their pruning.
//!
//! Layout, under the repository's common git directory:
//!
//! ```text
//! turnkit/objects/2025-06-01/   one git object directory per UTC day ("generation")
//! turnkit/objects/2025-06-02/
//! turnkit/tmp/incoming-XXXXXX/  a snapshot's quarantine while it is being taken
//! turnkit/tmp/idle-XXXXXX/      an emptied quarantine, set aside for the next snapshot
//! turnkit/index/                turnkit's refreshed copy of each worktree's index
//! ```
//!
//! A snapshot writes its new objects into a fresh quarantine directory whose alternates are the
//! current generation and the repository's own object directory; only when the snapshot is
//! complete are its objects moved into the current generation. Each generation holds every
//! object its snapshots need that is not reachable from the HEAD commit they were taken on, so
//! deleting a whole old generation never breaks a newer one.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::{Error, Repository};

/// The layout of turnkit's store under `<common dir>/turnkit`.
#[derive(Clone, Debug)]
pub(crate) struct Store {
    root: PathBuf,
}

impl Store {
    pub(crate) fn new(root: PathBuf) -> Self {
        Self { root }
    }

    pub(crate) fn objects_root(&self) -> PathBuf {
        self.root.join("objects")
    }

    /// Where refreshed copies of the worktrees' indexes live.
    pub(crate) fn index_dir(&self) -> PathBuf {
        self.root.join("index")
    }

    pub(crate) fn generation_dir(&self, name: &str) -> PathBuf {
        self.objects_root().join(name)
    }

    /// The names of existing generations, oldest first.
    pub(crate) fn generations(&self) -> Result<Vec<String>, Error> {
        let root = self.objects_root();
        let entries = match fs::read_dir(&root) {
            Ok(entries) => entries,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(Error::io(root, error)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|error| Error::io(&root, error))?;
            if let Some(name) = entry.file_name().to_str()
                && parse_day(name).is_some()
                && entry.path().is_dir()
            {
                names.push(name.to_owned());
            }
        }
        names.sort();
        Ok(names)
    }

    /// `GIT_ALTERNATE_OBJECT_DIRECTORIES` naming every generation, for reading snapshots.
    pub(crate) fn read_alternates(&self) -> Result<Option<OsString>, Error> {
        let dirs: Vec<PathBuf> = self
            .generations()?
            .iter()
            .map(|name| self.generation_dir(name))
            .collect();
        Ok(if dirs.is_empty() {
            None
        } else {
            Some(alternates(&dirs))
        })
    }

    /// An empty quarantine object directory of this snapshot's own, removed with everything
    /// in it when dropped unless [`Quarantine::set_aside`] keeps it for the next snapshot.
    ///
    /// One set aside by an earlier snapshot is claimed by renaming it (only one claimant can
    /// win): its fan-out directories already exist, which spares git creating them again for
    /// the objects it writes, a cost that shows on a small snapshot.
    pub(crate) fn quarantine(&self) -> Result<Quarantine, Error> {
        let tmp = self.root.join("tmp");
        fs::create_dir_all(&tmp).map_err(|error| Error::io(&tmp, error))?;
        let claimed = tempfile::Builder::new()
            .prefix("incoming-")
            .make_in(&tmp, |path| {
                let idle = fs::read_dir(&tmp)?.flatten().find_map(|entry| {
                    let name = entry.file_name();
                    name.to_string_lossy()
                        .starts_with("idle-")
                        .then(|| entry.path())
                        .filter(|idle| fs::rename(idle, path).is_ok())
                });
                if idle.is_none() {
                    fs::create_dir(path)?;
                }
                Ok(())
            })
            .map_err(|error| Error::io(&tmp, error))?;
        let dir = claimed.path().to_path_buf();
        // The directory is the quarantine's to remove, not the placeholder's.
        let _ = claimed.into_temp_path().keep();
        let quarantine = Quarantine {
            dir,
            tmp,
            finished: false,
        };
        // A claimed directory is old; `prune` must not take it for a crash's leftover.
        std::fs::File::open(&quarantine.dir)
            .and_then(|dir| dir.set_modified(SystemTime::now()))
            .map_err(|error| Error::io(&quarantine.dir, error))?;
        for sub in ["pack", "info"] {
            let path = quarantine.dir.join(sub);
            match fs::create_dir(&path) {
                Err(error) if error.kind() != io::ErrorKind::AlreadyExists => {
                    return Err(Error::io(path, error));
                }
                _ => {}
            }
        }
        Ok(quarantine)
    }

    /// Moves every object of a finished quarantine into the generation `name`.
    ///
    /// Loose objects first, then packs with their index last, so a reader never sees an index
    /// whose pack is not there yet.
    pub(crate) fn migrate(&self, quarantine: &Path, name: &str) -> Result<(), Error> {
        let generation = self.generation_dir(name);
        for sub in ["pack", "info"] {
            let path = generation.join(sub);
            fs::create_dir_all(&path).map_err(|error| Error::io(path, error))?;
        }
        let entries = fs::read_dir(quarantine).map_err(|error| Error::io(quarantine, error))?;
        for entry in entries {
            let entry = entry.map_err(|error| Error::io(quarantine, error))?;
            let name = entry.file_name();
            let is_fanout = name.len() == 2
                && name
                    .to_str()
                    .is_some_and(|n| n.bytes().all(|b| b.is_ascii_hexdigit()));
            if is_fanout {
                move_files(&entry.path(), &generation.join(&name), |_| true)?;
            }
        }
        let pack = quarantine.join("pack");
        move_files(&pack, &generation.join("pack"), |name| {
            !has_extension(name, "idx")
        })?;
        move_files(&pack, &generation.join("pack"), |name| {
            has_extension(name, "idx")
        })?;
        Ok(())
    }

    /// Removes generations older than `keep_days` days and quarantines left by a crash.
    pub(crate) fn prune(
        &self,
        options: &PruneOptions,
        now: SystemTime,
    ) -> Result<PruneReport, Error> {
        let today = day_number(now);
        let keep_days = i64::from(options.keep_days.max(1));
        let mut report = PruneReport::default();
        for name in self.generations()? {
            let Some(day) = parse_day(&name) else {
                continue;
            };
            if today - day >= keep_days {
                let dir = self.generation_dir(&name);
                fs::remove_dir_all(&dir).map_err(|error| Error::io(dir, error))?;
                report.removed.push(name);
            } else {
                report.kept.push(name);
            }
        }
        let tmp = self.root.join("tmp");
        if let Ok(entries) = fs::read_dir(&tmp) {
            for entry in entries.flatten() {
                let stale = entry
                    .metadata()
                    .and_then(|metadata| metadata.modified())
                    .ok()
                    .and_then(|modified| now.duration_since(modified).ok())
                    .is_some_and(|age| age > STALE_QUARANTINE);
                if stale {
                    let path = entry.path();
                    match fs::remove_dir_all(&path) {
                        Ok(()) => report.removed_quarantines += 1,
                        // A snapshot claimed it meanwhile.
                        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                        Err(error) => return Err(Error::io(path, error)),
                    }
                }
            }
        }
        Ok(report)
    }
}

/// A snapshot's quarantine object directory.
#[derive(Debug)]
pub(crate) struct Quarantine {
    dir: PathBuf,
    tmp: PathBuf,
    finished: bool,
}

impl Quarantine {
    pub(crate) fn path(&self) -> &Path {
        &self.dir
    }

    /// Keeps the directory, emptied by [`Store::migrate`], for the next snapshot.
    pub(crate) fn set_aside(mut self) {
        let idle = tempfile::Builder::new()
            .prefix("idle-")
            .make_in(&self.tmp, |path| fs::rename(&self.dir, path));
        self.finished = idle.is_ok_and(|idle| {
            // The name is taken by the rename; the placeholder must not remove it.
            let _ = idle.into_temp_path().keep();
            true
        });
    }
}

impl Drop for Quarantine {
    fn drop(&mut self) {
        if !self.finished {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// Deletes snapshot generations older than [`PruneOptions::keep_days`] and the leftovers of
/// snapshots abandoned by a crash.
///
/// Snapshots in a deleted generation can no longer be compared or undone. The repository's
/// own objects are never touched.
pub fn prune(repo: &Repository, options: &PruneOptions) -> Result<PruneReport, Error> {
    repo.store().prune(options, SystemTime::now())
}

/// A quarantine older than this was left by a process that died mid-snapshot.
const STALE_QUARANTINE: Duration = Duration::from_secs(24 * 60 * 60);

/// How [`prune`](crate::prune) decides what to delete.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PruneOptions {
    /// Generations (one per UTC day) older than this many days are deleted, with every
    /// snapshot in them. At least 1, so today's generation is never deleted. Default: 7.
    pub keep_days: u32,
}

impl Default for PruneOptions {
    fn default() -> Self {
        Self { keep_days: 7 }
    }
}

/// What [`prune`](crate::prune) deleted and kept.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PruneReport {
    /// Generations deleted, by name (`YYYY-MM-DD`).
    pub removed: Vec<String>,
    /// Generations kept, by name.
    pub kept: Vec<String>,
    /// Quarantines of snapshots abandoned by a crash, deleted.
    pub removed_quarantines: usize,
}

/// The generation a snapshot taken at `now` goes into: the UTC date.
pub(crate) fn generation_name(now: SystemTime) -> String {
    let (year, month, day) = civil_from_days(day_number(now));
    format!("{year:04}-{month:02}-{day:02}")
}

fn day_number(time: SystemTime) -> i64 {
    let seconds = match time.duration_since(UNIX_EPOCH) {
        Ok(since) => i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX),
    };
    seconds.div_euclid(86_400)
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let month = month as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The inverse of [`civil_from_days`] for a generation's name.
fn parse_day(name: &str) -> Option<i64> {
    let bytes = name.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let year: i64 = name[0..4].parse().ok()?;
    let month: i64 = name[5..7].parse().ok()?;
    let day: i64 = name[8..10].parse().ok()?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let shifted_year = if month <= 2 { year - 1 } else { year };
    let era = shifted_year.div_euclid(400);
    let year_of_era = shifted_year.rem_euclid(400);
    let month_index = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    Some(era * 146_097 + day_of_era - 719_468)
}

/// Joins object directories the way `GIT_ALTERNATE_OBJECT_DIRECTORIES` reads them.
pub(crate) fn alternates(dirs: &[PathBuf]) -> OsString {
    let separator = if cfg!(windows) { ';' } else { ':' };
    let mut joined = OsString::new();
    for (position, dir) in dirs.iter().enumerate() {
        if position > 0 {
            joined.push(separator.to_string());
        }
        let text = dir.to_string_lossy();
        // git reads a double-quoted entry with C-style escapes, which lets a path hold the
        // separator.
        if text.contains(separator) || text.starts_with('"') {
            let escaped = text.replace('\\', "\\\\").replace('"', "\\\"");
            joined.push(format!("\"{escaped}\""));
        } else {
            joined.push(dir.as_os_str());
        }
    }
    joined
}

fn has_extension(name: &OsStr, extension: &str) -> bool {
    Path::new(name)
        .extension()
        .is_some_and(|found| found == extension)
}

fn move_files(from: &Path, to: &Path, select: impl Fn(&OsStr) -> bool) -> Result<(), Error> {
    let entries = match fs::read_dir(from) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(Error::io(from, error)),
    };
    let mut created = false;
    for entry in entries {
        let entry = entry.map_err(|error| Error::io(from, error))?;
        let name = entry.file_name();
        if !select(&name) || !entry.file_type().is_ok_and(|kind| kind.is_file()) {
            continue;
        }
        if !created {
            fs::create_dir_all(to).map_err(|error| Error::io(to, error))?;
            created = true;
        }
        let target = to.join(&name);
        // Objects are named by their content: one already there is the same object.
        if target.exists() {
            fs::remove_file(entry.path()).map_err(|error| Error::io(entry.path(), error))?;
            continue;
        }
        fs::rename(entry.path(), &target).map_err(|error| Error::io(target, error))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_names_round_trip() {
        for day in [-1, 0, 59, 60, 365, 10_957, 11_016, 19_000, 20_000, 30_000] {
            let (year, month, date) = civil_from_days(day);
            let name = format!("{year:04}-{month:02}-{date:02}");
            assert_eq!(parse_day(&name), Some(day), "{name}");
        }
        assert_eq!(generation_name(UNIX_EPOCH), "1970-01-01");
        assert_eq!(
            generation_name(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29"
        );
    }

    #[test]
    fn alternates_quote_separators() {
        let joined = alternates(&[PathBuf::from("/a/b"), PathBuf::from("/c:d")]);
        assert_eq!(joined, OsString::from("/a/b:\"/c:d\""));
    }
}
