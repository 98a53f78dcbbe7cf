//! The workspace as xtask sees it: its root, its packages, and how to run cargo in it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

use anyhow::{Context as _, Result, bail};

/// One member package of the workspace.
#[derive(Clone, Debug)]
pub(crate) struct Package {
    /// The package name, such as `turnkit-protocol`.
    pub(crate) name: String,
    /// The folder name, such as `protocol`.
    pub(crate) folder: String,
    /// Whether it has a `benches/` folder and at least one `[[bench]]` target.
    pub(crate) has_benches: bool,
}

/// The workspace root and its member packages.
#[derive(Clone, Debug)]
pub(crate) struct Workspace {
    /// The folder of the root `Cargo.toml`.
    pub(crate) root: PathBuf,
    /// Members found under `crates/` and `xtask/`, sorted by name.
    pub(crate) packages: Vec<Package>,
}

impl Workspace {
    /// Finds the workspace this xtask binary was built from and reads its members.
    pub(crate) fn discover() -> Result<Self> {
        // xtask lives one level below the root, and cargo runs it through the alias anyway.
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .context("xtask's manifest folder has no parent: xtask must sit in the workspace root")?
            .to_path_buf();
        let packages = read_packages(&root)?;
        Ok(Workspace { root, packages })
    }

    /// Whether a member with this package name exists.
    pub(crate) fn has(&self, name: &str) -> bool {
        self.packages.iter().any(|package| package.name == name)
    }

    /// The members whose package name starts with `prefix`.
    pub(crate) fn with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a Package> {
        self.packages
            .iter()
            .filter(move |package| package.name.starts_with(prefix))
    }

    /// A `cargo` command that runs in the workspace root.
    pub(crate) fn cargo(&self) -> Command {
        // Cargo sets `CARGO` for the programs it runs; use the same cargo for nested calls.
        let program = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut command = Command::new(program);
        command.current_dir(&self.root);
        if std::env::var_os("INSTA_UPDATE").is_none() {
            command.env("INSTA_UPDATE", "no");
        }
        command
    }
}

fn read_packages(root: &Path) -> Result<Vec<Package>> {
    let mut manifests = vec![root.join("xtask").join("Cargo.toml")];
    let crates = root.join("crates");
    if crates.is_dir() {
        for entry in
            fs::read_dir(&crates).with_context(|| format!("reading {}", crates.display()))?
        {
            let manifest = entry?.path().join("Cargo.toml");
            if manifest.is_file() {
                manifests.push(manifest);
            }
        }
    }
    let mut packages = Vec::new();
    for manifest in manifests {
        let text = fs::read_to_string(&manifest)
            .with_context(|| format!("reading {}", manifest.display()))?;
        let Some(name) = package_name(&text) else {
            bail!("{} has no `[package]` name", manifest.display());
        };
        let dir = manifest.parent().unwrap_or(root);
        let folder = dir
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let has_benches = dir.join("benches").is_dir() && text.contains("[[bench]]");
        packages.push(Package {
            name,
            folder,
            has_benches,
        });
    }
    packages.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(packages)
}

/// The `name` of a manifest's `[package]` table.
pub(crate) fn package_name(manifest: &str) -> Option<String> {
    let section = crate::features::section(manifest, "package");
    section.lines().find_map(|line| {
        let (key, value) = line.split_once('=')?;
        if key.trim() != "name" {
            return None;
        }
        let value = value.trim().trim_matches('"');
        (!value.is_empty()).then(|| value.to_owned())
    })
}

/// Runs a command with its output streamed through, failing on a non-zero exit.
pub(crate) fn run(command: &mut Command) -> Result<()> {
    let shown = show(command);
    println!("$ {shown}");
    let status = command
        .status()
        .with_context(|| format!("could not start `{shown}`"))?;
    check(&shown, status)
}

/// Runs a command and returns its standard output, failing on a non-zero exit.
pub(crate) fn output(command: &mut Command) -> Result<String> {
    let shown = show(command);
    let output = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("could not start `{shown}`"))?;
    if !output.status.success() {
        bail!(
            "`{shown}` failed with {}:\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim_end()
        );
    }
    String::from_utf8(output.stdout).with_context(|| format!("`{shown}` printed non-UTF-8 output"))
}

/// Fails with the command line when `status` is not a success.
pub(crate) fn check(shown: &str, status: ExitStatus) -> Result<()> {
    if status.success() {
        Ok(())
    } else {
        bail!("`{shown}` failed with {status}")
    }
}

/// A command as a person would type it, for messages.
pub(crate) fn show(command: &Command) -> String {
    let mut shown: Vec<String> = command
        .get_envs()
        .filter_map(|(key, value)| {
            let key = key.to_string_lossy();
            // INSTA_UPDATE is set on every cargo call; repeating it adds nothing.
            (key != "INSTA_UPDATE")
                .then(|| format!("{key}={}", value.unwrap_or_default().to_string_lossy()))
        })
        .collect();
    let program = Path::new(command.get_program());
    shown.push(
        program
            .file_name()
            .unwrap_or(program.as_os_str())
            .to_string_lossy()
            .into_owned(),
    );
    shown.extend(
        command
            .get_args()
            .map(|arg| arg.to_string_lossy().into_owned()),
    );
    shown.join(" ")
}

/// Calls `visit` for every file below `dir`, skipping `target/`, `.git/` and other hidden
/// folders.
pub(crate) fn walk(dir: &Path, visit: &mut dyn FnMut(&Path) -> Result<()>) -> Result<()> {
    let entries = fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    paths.sort();
    for path in paths {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let file_type = fs::symlink_metadata(&path)?.file_type();
        if file_type.is_dir() {
            if name == "target" || name.starts_with('.') {
                continue;
            }
            walk(&path, visit)?;
        } else if file_type.is_file() {
            visit(&path)?;
        }
    }
    Ok(())
}

/// `path` relative to `root`, with `/` separators, for messages.
pub(crate) fn relative(root: &Path, path: &Path) -> String {
    let relative = path.strip_prefix(root).unwrap_or(path);
    relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}
