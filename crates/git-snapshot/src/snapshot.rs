//! Taking a ghost snapshot: a commit of the working tree that no ref, index or stash sees.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::git::{GitCommand, Started, split_lines, split_nul};
use crate::object::FileMode;
use crate::platform::path_from_git;
use crate::scan::{Scan, scan};
use crate::store::{Store, alternates, generation_name};
use crate::{Error, ObjectId, Repository};
use crate::{exact, index};

/// The folders left out of snapshots by default when they are untracked: dependencies, build
/// output and caches, which are large, regenerated and rarely what a turn means to change.
pub const DEFAULT_EXCLUDED_DIRS: &[&str] = &[
    "node_modules",
    "bower_components",
    "target",
    ".venv",
    "venv",
    ".tox",
    ".nox",
    "__pycache__",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    "dist",
    "build",
    ".cache",
    ".gradle",
    ".next",
    ".nuxt",
    ".svelte-kit",
    ".turbo",
    ".parcel-cache",
    ".terraform",
    ".direnv",
];

/// Limits and choices for one snapshot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotOptions {
    /// Untracked files larger than this many bytes are left out. Default: 10 MiB.
    pub max_untracked_file_size: u64,
    /// A wholly untracked directory with more files than this is left out. Default: 10,000.
    pub max_untracked_dir_files: usize,
    /// Wholly untracked folders with one of these names are left out, at any depth; a folder
    /// that holds a tracked file is always read. Default: [`DEFAULT_EXCLUDED_DIRS`].
    pub excluded_dirs: Vec<String>,
    /// Past this, the snapshot is abandoned with [`Error::BudgetExceeded`]. Default: 30 s.
    pub time_budget: Duration,
    /// The home directory, which is never snapshotted. Default: the user's, from the
    /// environment.
    pub home_dir: Option<PathBuf>,
}

impl Default for SnapshotOptions {
    fn default() -> Self {
        Self {
            max_untracked_file_size: 10 * 1024 * 1024,
            max_untracked_dir_files: 10_000,
            excluded_dirs: DEFAULT_EXCLUDED_DIRS
                .iter()
                .map(|name| (*name).to_owned())
                .collect(),
            time_budget: Duration::from_secs(30),
            home_dir: std::env::home_dir(),
        }
    }
}

/// A ghost snapshot: a commit, in turnkit's own object store, of the working tree below the
/// session's directory.
///
/// Tracked files are recorded with their content in the working tree (staged or not),
/// untracked files unless ignored or left out (see [`Snapshot::skipped`]). Outside the scope
/// the tree holds what the index holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The snapshot's commit.
    pub commit: ObjectId,
    /// The commit's tree.
    pub tree: ObjectId,
    /// The commit HEAD pointed at, the snapshot's parent; `None` on an unborn branch.
    pub head: Option<ObjectId>,
    /// The directory the snapshot covers, relative to the top of the working tree (empty for
    /// the whole tree).
    pub scope: PathBuf,
    /// What was left out and why. Undo leaves these paths alone, so keep this list with the
    /// commit when a snapshot is stored.
    pub skipped: Vec<Skipped>,
    /// The permission bits git does not record (anything but `0644` and `0755`) of the
    /// untracked and changed files the snapshot read, so undo restores a private file as
    /// private.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub modes: BTreeMap<PathBuf, u32>,
    /// Files stored byte for byte, without the end-of-line conversion and clean filters git
    /// would apply, because checking the converted blob out would not give them back as they
    /// were (a CRLF file under `text=auto` whose index blob has none); undo writes them back
    /// byte for byte too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unfiltered: Vec<PathBuf>,
    /// How many paths had to be read from the working tree (changed or untracked).
    pub paths_read: usize,
    /// How long taking the snapshot took.
    pub elapsed: Duration,
}

/// A path left out of a snapshot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    /// The file or folder, relative to the top of the working tree.
    pub path: PathBuf,
    /// Why it was left out.
    pub reason: SkipReason,
}

impl Skipped {
    pub(crate) fn new(path: &[u8], reason: SkipReason) -> Self {
        Self {
            path: path_from_git(path),
            reason,
        }
    }

    /// Whether `path` is this entry or lies inside it.
    pub fn covers(&self, path: &Path) -> bool {
        path.starts_with(&self.path)
    }
}

/// Why a path was left out of a snapshot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum SkipReason {
    /// An untracked file larger than [`SnapshotOptions::max_untracked_file_size`].
    LargeFile {
        /// Its size in bytes.
        size: u64,
    },
    /// An untracked directory with more files than
    /// [`SnapshotOptions::max_untracked_dir_files`].
    TooManyFiles {
        /// How many files were counted before giving up.
        at_least: usize,
    },
    /// An untracked dependency, build or cache folder (see [`SnapshotOptions::excluded_dirs`]).
    DependencyFolder,
    /// An untracked directory that is a git repository of its own.
    NestedRepository,
    /// Neither a regular file nor a symlink (a socket, a FIFO, a device), found in a folder
    /// the snapshot read: the session's directory, or one holding a changed or untracked file.
    SpecialFile,
    /// An untracked file that cannot be read.
    Unreadable,
}

/// Takes a snapshot of the working tree below the repository's scope.
///
/// Builds the tree in a temporary index (turnkit's refreshed copy of the user's, so git's stat
/// cache spares rehashing unchanged files), refreshes only the paths `git status` reports as
/// changed or untracked, and writes the tree and a commit with a fixed identity into
/// turnkit's object store. HEAD, refs, the user's index, stash and config are never changed,
/// no file of the git directory outside turnkit's store is written or touched, and no lock of
/// the user's repository is taken. See the crate documentation for where objects live.
///
/// Fails with [`Error::RefusedDirectory`] for a home directory or filesystem root, and with
/// [`Error::BudgetExceeded`] past [`SnapshotOptions::time_budget`]; either way nothing is
/// kept.
///
/// # Cancel safety
///
/// Cancelling `cancel` or dropping the future kills the git children and removes the
/// temporary index and the unfinished objects; the store is left as it was.
pub async fn snapshot(
    repo: &Repository,
    options: &SnapshotOptions,
    cancel: &CancellationToken,
) -> Result<Snapshot, Error> {
    let started = Instant::now();
    refuse_broad_directories(repo, options)?;
    let store = repo.store();
    let generation = generation_name(SystemTime::now());
    let quarantine = store.quarantine()?;
    let building = build(
        repo,
        options,
        &store,
        &generation,
        quarantine.path(),
        cancel,
    );
    let built = match tokio::time::timeout(options.time_budget, building).await {
        Ok(result) => result?,
        Err(_) => {
            return Err(Error::BudgetExceeded {
                budget: options.time_budget,
            });
        }
    };
    // Once every object is written, moving them is quick and local: finishing it beats leaving
    // a snapshot half-moved because the budget ran out.
    store.migrate(quarantine.path(), &generation)?;
    quarantine.set_aside();
    Ok(Snapshot {
        commit: built.commit,
        tree: built.tree,
        head: built.head,
        scope: repo.scope.clone(),
        skipped: built.skipped,
        modes: built.modes,
        unfiltered: built.unfiltered,
        paths_read: built.paths_read,
        elapsed: started.elapsed(),
    })
}

struct Built {
    commit: ObjectId,
    tree: ObjectId,
    head: Option<ObjectId>,
    skipped: Vec<Skipped>,
    modes: BTreeMap<PathBuf, u32>,
    unfiltered: Vec<PathBuf>,
    paths_read: usize,
}

/// The identity and date of every snapshot commit: fixed, so the same tree on the same HEAD
/// always gives the same commit, whatever the user's configuration says.
const IDENTITY: &str = "turnkit <snapshot@turnkit.invalid> 1700000000 +0000";

async fn build(
    repo: &Repository,
    options: &SnapshotOptions,
    store: &Store,
    generation: &str,
    quarantine: &Path,
    cancel: &CancellationToken,
) -> Result<Built, Error> {
    let workspace = tempfile::Builder::new()
        .prefix("turnkit-snapshot-")
        .tempdir()
        .map_err(|error| Error::io(std::env::temp_dir(), error))?;
    let temp_index = workspace.path().join("index");

    let generation_dir = store.generation_dir(generation);
    let generation_alternate: Vec<PathBuf> = if generation_dir.is_dir() {
        vec![generation_dir]
    } else {
        Vec::new()
    };
    let envs = envs(repo, workspace.path(), quarantine, &generation_alternate);
    let (write_env, full_env) = (&envs.write, &envs.full);

    // Started now, so that its start-up overlaps the scan; it writes the commit object once
    // the tree is known.
    let commit_writer = commit_command(repo, write_env).start()?;
    let flags = ["--add", "--remove", "--replace"];
    let Scanned {
        head,
        scan,
        unmerged,
        early,
    } = scan_and_stage(repo, options, workspace.path(), &envs, &flags, cancel).await?;
    let mut update = scan.update;
    update.extend(unmerged);
    let paths_read = update.len() + scan.force_remove.len();

    // git keeps the CRLF of a file whose index blob has CRLF, which it must be able to read:
    // the repository's objects are hidden from the writing git, so such blobs are copied in.
    let with_cr = exact::files_with_cr(&repo.work_tree, &update);
    let crlf_blobs: Vec<ObjectId> = (scan.index_blobs.iter())
        .filter(|(path, _)| with_cr.contains(path))
        .map(|(_, oid)| oid.clone())
        .collect();
    if !crlf_blobs.is_empty() {
        copy_missing(repo, crlf_blobs, quarantine, &generation_alternate, cancel).await?;
    }

    let mut env = write_env;
    let mut fell_back = false;
    let first = async {
        early.finish(nul_terminated(&update), cancel).await?;
        update_index(repo, env, &scan.force_remove, &["--force-remove"], cancel).await
    };
    if let Err(error) = first.await {
        if error.is_cancelled() {
            return Err(error);
        }
        // A sparse index must read trees from the repository to expand.
        env = full_env;
        fell_back = true;
        index::prepare(repo, workspace.path(), &temp_index, cancel).await?;
        update_index(repo, env, &update, &flags, cancel).await?;
        update_index(repo, env, &scan.force_remove, &["--force-remove"], cancel).await?;
    }

    let unfiltered = if with_cr.is_empty() {
        Vec::new()
    } else {
        exact::keep_unconverted(repo, full_env, env, &with_cr, cancel).await?
    };
    let tree = write_tree(repo, env, cancel).await?;

    // Every object the new tree names and HEAD does not reach must end up in turnkit's store.
    let kept = Kept {
        head: head.as_ref(),
        tree: &tree,
        quarantine,
        generation: &generation_alternate,
        workspace: workspace.path(),
    };
    let replaced: BTreeSet<&[u8]> = update
        .iter()
        .chain(&scan.force_remove)
        .map(Vec::as_slice)
        .collect();
    let wanted: Vec<ObjectId> = (scan.staged.iter())
        .filter(|(path, _)| !replaced.contains(path.as_slice()))
        .map(|(_, oid)| oid.clone())
        .collect();
    // The scan saw only the scope; beyond it, `diff-tree` finds what HEAD does not reach.
    let whole_scan = !fell_back && repo.scope.as_os_str().is_empty();
    let keep = kept.keep(repo, whole_scan.then_some(wanted), cancel);
    let commit = async {
        let output = commit_writer
            .finish(commit_text(repo, &tree, head.as_ref()), cancel)
            .await?;
        let line = split_lines(&output.stdout).next().unwrap_or_default();
        ObjectId::from_hex_bytes(line)
            .ok_or_else(|| command_unexpected("git hash-object -t commit", "not an object id"))
    };
    let ((), commit) = tokio::try_join!(keep, commit)?;
    Ok(Built {
        commit,
        tree,
        head,
        skipped: scan.skipped,
        modes: scan.modes,
        unfiltered,
        paths_read,
    })
}

/// What the scan found, with the `update-index` that waits for its paths.
struct Scanned {
    head: Option<ObjectId>,
    scan: Scan,
    unmerged: Vec<Vec<u8>>,
    early: Started,
}

/// Prepares the temporary index, then scans the working tree against it, and starts the
/// `update-index` that will take the scan's paths.
async fn scan_and_stage(
    repo: &Repository,
    options: &SnapshotOptions,
    workspace: &Path,
    envs: &Envs,
    flags: &[&str],
    cancel: &CancellationToken,
) -> Result<Scanned, Error> {
    let (index_env, write_env) = (envs.index.as_slice(), envs.write.as_slice());
    let scanning = async {
        let scan_index = workspace.join("scan-index");
        let prepared = index::prepare(repo, workspace, &scan_index, cancel).await?;
        if scan_index.exists() {
            index::copy_keeping_time(&scan_index, &workspace.join("index"))?;
        }
        // Started once the index is there, so that it reads it while the scan runs and only
        // hashes and writes once the paths are known. Dropped on an early return, it is killed
        // before it writes anything.
        let early = update_index_command(repo, write_env, flags).start()?;
        let (scanned, unmerged) = tokio::try_join!(
            scan(repo, options, index_env, cancel),
            unmerged_outside_scope(repo, index_env, cancel),
        )?;
        prepared.keep(repo, &scan_index);
        Ok::<_, Error>((early, scanned, unmerged))
    };
    let (early, scan, unmerged) = scanning.await?;
    Ok(Scanned {
        head: scan.head.clone(),
        scan,
        unmerged,
        early,
    })
}

/// What a finished tree needs kept in turnkit's store.
struct Kept<'a> {
    head: Option<&'a ObjectId>,
    tree: &'a ObjectId,
    quarantine: &'a Path,
    generation: &'a [PathBuf],
    workspace: &'a Path,
}

impl Kept<'_> {
    /// Copies into the quarantine every object the tree names that HEAD does not reach and
    /// that git did not write there: `staged` when the scan found them, otherwise whatever
    /// `diff-tree` against HEAD finds.
    ///
    /// Trees and the blobs just hashed were written into the quarantine; what else the index
    /// holds beyond HEAD (staged content, a merge in progress) is what the scan's `status`
    /// listed, less what the snapshot's own paths replaced.
    async fn keep(
        &self,
        repo: &Repository,
        staged: Option<Vec<ObjectId>>,
        cancel: &CancellationToken,
    ) -> Result<(), Error> {
        let wanted = if let Some(staged) = staged {
            staged
        } else {
            let base = self
                .head
                .cloned()
                .unwrap_or_else(|| repo.object_format.empty_tree());
            let no_index = self.workspace.join("no-index");
            new_objects(
                repo,
                &base,
                self.tree,
                self.quarantine,
                self.generation,
                &no_index,
                cancel,
            )
            .await?
        };
        copy_missing(repo, wanted, self.quarantine, self.generation, cancel).await
    }
}

/// Writes the temporary index's tree.
async fn write_tree(
    repo: &Repository,
    env: &[(OsString, OsString)],
    cancel: &CancellationToken,
) -> Result<ObjectId, Error> {
    // Every entry of the index names an object that exists (in turnkit's store or the
    // repository's); skipping the check spares a lookup per entry of every rebuilt tree.
    let output = repo
        .git()
        .envs(env)
        .args(index::WHOLE_INDEX)
        .args(["write-tree", "--missing-ok"])
        .run(cancel)
        .await?;
    let line = split_lines(&output.stdout).next().unwrap_or_default();
    ObjectId::from_hex_bytes(line)
        .ok_or_else(|| command_unexpected("git write-tree", "not an object id"))
}

/// The environments of a snapshot's git children.
struct Envs {
    /// Reading (and, for the scan's `status`, refreshing) the scan's copy of the index.
    index: Vec<(OsString, OsString)>,
    /// Writing objects into the quarantine, seeing only turnkit's store.
    write: Vec<(OsString, OsString)>,
    /// Writing objects into the quarantine, seeing the repository's objects too.
    full: Vec<(OsString, OsString)>,
}

fn envs(
    repo: &Repository,
    workspace: &Path,
    quarantine: &Path,
    generation_alternate: &[PathBuf],
) -> Envs {
    let index_env = vec![(
        OsString::from("GIT_INDEX_FILE"),
        workspace.join("scan-index").into_os_string(),
    )];
    let build_env = vec![(
        OsString::from("GIT_INDEX_FILE"),
        workspace.join("index").into_os_string(),
    )];
    let mut write_env = build_env.clone();
    write_env.push((
        "GIT_OBJECT_DIRECTORY".into(),
        quarantine.as_os_str().to_owned(),
    ));
    // The repository's objects are not among the alternates while writing, so every blob and
    // tree the snapshot makes lands in turnkit's store even when the repository has a copy
    // that only its index reaches.
    if !generation_alternate.is_empty() {
        write_env.push((
            "GIT_ALTERNATE_OBJECT_DIRECTORIES".into(),
            alternates(generation_alternate),
        ));
    }
    let mut full_env = build_env;
    full_env.push((
        "GIT_OBJECT_DIRECTORY".into(),
        quarantine.as_os_str().to_owned(),
    ));
    let mut full_alternates = generation_alternate.to_vec();
    full_alternates.push(repo.objects_dir.clone());
    full_env.push((
        "GIT_ALTERNATE_OBJECT_DIRECTORIES".into(),
        alternates(&full_alternates),
    ));
    Envs {
        index: index_env,
        write: write_env,
        full: full_env,
    }
}

/// Refreshes `paths` in the temporary index with `update-index`.
async fn update_index(
    repo: &Repository,
    write_env: &[(OsString, OsString)],
    paths: &[Vec<u8>],
    flags: &[&str],
    cancel: &CancellationToken,
) -> Result<(), Error> {
    if paths.is_empty() {
        return Ok(());
    }
    update_index_command(repo, write_env, flags)
        .stdin(nul_terminated(paths))
        .run(cancel)
        .await?;
    Ok(())
}

/// `update-index` on the temporary index, reading NUL-terminated paths from stdin.
fn update_index_command(
    repo: &Repository,
    write_env: &[(OsString, OsString)],
    flags: &[&str],
) -> GitCommand {
    // Refusing the safecrlf check only stops git from failing; the conversion is unchanged.
    repo.git()
        .envs(write_env)
        .args(index::WHOLE_INDEX)
        .args(["-c", "core.safecrlf=false"])
        .args(["update-index", "-z"])
        .args(flags)
        .arg("--stdin")
}

fn nul_terminated(paths: &[Vec<u8>]) -> Vec<u8> {
    let mut input = Vec::with_capacity(paths.iter().map(|path| path.len() + 1).sum());
    for path in paths {
        input.extend_from_slice(path);
        input.push(0);
    }
    input
}

/// `hash-object` writing the snapshot's commit object from stdin: no hook, no signing, no
/// identity from the user's configuration.
fn commit_command(repo: &Repository, write_env: &[(OsString, OsString)]) -> GitCommand {
    repo.git()
        .envs(write_env)
        .args(["hash-object", "-t", "commit", "-w", "--stdin"])
}

/// The snapshot's commit: its tree, HEAD as its parent, the fixed identity and date.
fn commit_text(repo: &Repository, tree: &ObjectId, head: Option<&ObjectId>) -> Vec<u8> {
    let parent = head
        .map(|head| format!("parent {head}\n"))
        .unwrap_or_default();
    format!(
        "tree {tree}\n{parent}author {IDENTITY}\ncommitter {IDENTITY}\n\nturnkit snapshot\n\nscope: {}\n",
        repo.scope.display()
    )
    .into_bytes()
}

fn command_unexpected(command: &str, detail: &str) -> Error {
    Error::UnexpectedOutput {
        command: command.to_owned(),
        detail: detail.to_owned(),
    }
}

fn refuse_broad_directories(repo: &Repository, options: &SnapshotOptions) -> Result<(), Error> {
    let scanned = &repo.session_dir;
    if scanned.parent().is_none() {
        return Err(Error::RefusedDirectory {
            path: scanned.clone(),
            what: "a filesystem root",
        });
    }
    let home = options
        .home_dir
        .as_ref()
        .and_then(|home| std::fs::canonicalize(home).ok());
    if home.as_ref() == Some(scanned) {
        return Err(Error::RefusedDirectory {
            path: scanned.clone(),
            what: "the home directory",
        });
    }
    Ok(())
}

/// Unmerged paths outside the scope, which `write-tree` would otherwise refuse.
async fn unmerged_outside_scope(
    repo: &Repository,
    index_env: &[(OsString, OsString)],
    cancel: &CancellationToken,
) -> Result<Vec<Vec<u8>>, Error> {
    if repo.scope.as_os_str().is_empty() {
        return Ok(Vec::new());
    }
    let output = repo
        .git()
        .envs(index_env)
        .args(["ls-files", "-z", "--unmerged"])
        .run(cancel)
        .await?;
    let mut paths: Vec<Vec<u8>> = split_nul(&output.stdout)
        .filter_map(|record| {
            let tab = record.iter().position(|byte| *byte == b'\t')?;
            Some(record[tab + 1..].to_vec())
        })
        .filter(|path| !path_from_git(path).starts_with(&repo.scope))
        .collect();
    paths.dedup();
    Ok(paths)
}

/// The objects of `tree` that `base` (HEAD, or the empty tree) does not reach, found with
/// `diff-tree`, which reads only the trees that differ.
async fn new_objects(
    repo: &Repository,
    base: &ObjectId,
    tree: &ObjectId,
    quarantine: &Path,
    generation: &[PathBuf],
    no_index: &Path,
    cancel: &CancellationToken,
) -> Result<Vec<ObjectId>, Error> {
    let mut readable = vec![quarantine.to_path_buf()];
    readable.extend(generation.iter().cloned());
    let output = repo
        .git()
        .env("GIT_ALTERNATE_OBJECT_DIRECTORIES", alternates(&readable))
        // `diff-tree` loads the index (for attributes, which raw output never uses): a file
        // that does not exist spares reading the user's whole index.
        .env("GIT_INDEX_FILE", no_index)
        .args(["diff-tree", "-r", "-t", "-z", "--no-renames", "--raw"])
        .args([base.as_str(), tree.as_str()])
        .run(cancel)
        .await?;
    let mut wanted = vec![tree.clone()];
    let mut records = split_nul(&output.stdout);
    while let Some(record) = records.next() {
        let Some(header) = record.strip_prefix(b":") else {
            continue;
        };
        let _path = records.next();
        let fields: Vec<&[u8]> = header.split(|byte| *byte == b' ').collect();
        let (Some(new_mode), Some(new_oid)) = (fields.get(1), fields.get(3)) else {
            continue;
        };
        if FileMode::from_octal(new_mode) == Some(FileMode::Submodule) {
            continue;
        }
        if let Some(oid) = ObjectId::from_hex_bytes(new_oid).filter(|oid| !oid.is_null()) {
            wanted.push(oid);
        }
    }
    Ok(wanted)
}

/// Copies into the quarantine those of `wanted` that neither it nor today's generation holds,
/// from the repository's objects.
///
/// Those objects exist in the user's repository only through its index (staged content and
/// the index's cached trees), and the user's `git gc` may delete them once the index moves on.
async fn copy_missing(
    repo: &Repository,
    mut wanted: Vec<ObjectId>,
    quarantine: &Path,
    generation: &[PathBuf],
    cancel: &CancellationToken,
) -> Result<(), Error> {
    if wanted.is_empty() {
        return Ok(());
    }
    wanted.sort();
    wanted.dedup();
    let mut readable = vec![quarantine.to_path_buf()];
    readable.extend(generation.iter().cloned());
    let read_env = ("GIT_ALTERNATE_OBJECT_DIRECTORIES", alternates(&readable));

    let mut question = Vec::new();
    for oid in &wanted {
        question.extend_from_slice(oid.as_str().as_bytes());
        question.push(b'\n');
    }
    let mut local = repo.git().env("GIT_OBJECT_DIRECTORY", quarantine);
    if !generation.is_empty() {
        local = local.env("GIT_ALTERNATE_OBJECT_DIRECTORIES", alternates(generation));
    }
    let output = local
        .args(["cat-file", "--batch-check=%(objectname)"])
        .stdin(question)
        .run(cancel)
        .await?;
    let mut missing = Vec::new();
    for line in split_lines(&output.stdout) {
        if let Some(oid) = line.strip_suffix(b" missing") {
            missing.extend_from_slice(oid);
            missing.push(b'\n');
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    let pack = repo
        .git()
        .env(read_env.0, &read_env.1)
        .args(["pack-objects", "--stdout", "-q"])
        .stdin(missing)
        .run(cancel)
        .await?;
    let mut unpack = repo.git().env("GIT_OBJECT_DIRECTORY", quarantine);
    if !generation.is_empty() {
        unpack = unpack.env("GIT_ALTERNATE_OBJECT_DIRECTORIES", alternates(generation));
    }
    unpack
        .args(["unpack-objects", "-q"])
        .stdin(pack.stdout)
        .run(cancel)
        .await?;
    Ok(())
}
