//! The restrictions the helper applies to itself before it starts the command: read-only
//! mounts over protected paths, Landlock, and the seccomp socket filter.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use landlock::{
    ABI, Access, AccessFs, CompatLevel, Compatible, Ruleset, RulesetAttr, RulesetCreatedAttr,
    RulesetStatus, Scope, path_beneath_rules,
};
use nix::mount::{MsFlags, mount};
use nix::sched::{CloneFlags, unshare};
use nix::sys::statvfs::{FsFlags, statvfs};
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

use crate::Error;
use crate::plan::Confinement;

/// The newest Landlock ABI this crate asks for; an older kernel gets the best it offers.
const ABI_WANTED: ABI = ABI::V10;

/// Devices every command may write to (writing to them changes no file).
///
/// Terminals are left out on purpose: a command that could write to, or send ioctls to, the
/// user's terminal could type into the user's shell (`TIOCSTI`) outside the sandbox.
const WRITABLE_DEVICES: &[&str] = &["/dev/null", "/dev/zero", "/dev/full"];

/// Why Landlock cannot be used here, or nothing when it can.
pub(crate) fn landlock_support() -> Result<(), String> {
    let created = Ruleset::default()
        .set_compatibility(CompatLevel::HardRequirement)
        .handle_access(AccessFs::from_all(ABI::V1))
        .and_then(Ruleset::create);
    match created {
        Ok(_) => Ok(()),
        Err(error) => Err(format!("Landlock is not available: {error}")),
    }
}

/// Applies every restriction of `confinement` to the calling process, with `temp_dir`
/// writable. Must run while the process has one thread (a user namespace needs it).
pub(crate) fn apply(confinement: &Confinement, temp_dir: &Path) -> Result<(), Error> {
    if !confinement.protected.is_empty() {
        protect(&confinement.protected)?;
    }
    restrict_file_system(&confinement.writable, temp_dir)?;
    if !confinement.network {
        refuse_sockets()?;
    }
    Ok(())
}

fn confine_error(step: &str, error: impl std::fmt::Display) -> Error {
    Error::Confine {
        step: format!("{step}: {error}"),
    }
}

/// Makes `paths` read-only in a new mount namespace, inside a new user namespace so no
/// privilege is needed.
///
/// Landlock cannot do this: its rules only add rights, and a right on a directory holds for
/// everything below it. Landlock also forbids a confined process to change mounts, so the
/// command cannot undo these.
fn protect(paths: &[PathBuf]) -> Result<(), Error> {
    let uid = nix::unistd::getuid();
    let gid = nix::unistd::getgid();
    unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS).map_err(|error| {
        confine_error(
            "making .git/hooks and .git/config read-only needs an unprivileged user namespace, which this system refuses",
            error,
        )
    })?;
    match std::fs::write("/proc/self/setgroups", "deny") {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            return Err(confine_error("writing /proc/self/setgroups", error));
        }
        _ => {}
    }
    std::fs::write("/proc/self/uid_map", format!("{uid} {uid} 1"))
        .map_err(|error| confine_error("writing /proc/self/uid_map", error))?;
    std::fs::write("/proc/self/gid_map", format!("{gid} {gid} 1"))
        .map_err(|error| confine_error("writing /proc/self/gid_map", error))?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|error| confine_error("making the mounts private", error))?;
    for path in paths {
        let step = || format!("mounting {} read-only", path.display());
        mount(
            Some(path),
            path,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .map_err(|error| confine_error(&step(), error))?;
        // A remount in a user namespace must keep the flags the original mount has locked.
        let kept = statvfs(path).map_or(MsFlags::empty(), |stat| locked_flags(stat.flags()));
        mount(
            None::<&str>,
            path,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | kept,
            None::<&str>,
        )
        .map_err(|error| confine_error(&step(), error))?;
    }
    Ok(())
}

fn locked_flags(flags: FsFlags) -> MsFlags {
    let pairs = [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ];
    pairs
        .into_iter()
        .filter(|(statvfs_flag, _)| flags.contains(*statvfs_flag))
        .fold(MsFlags::empty(), |all, (_, mount_flag)| all | mount_flag)
}

/// Read (and execute) anywhere; write only below `writable` and `temp_dir`; write to a few
/// devices; send signals only inside the sandbox.
///
/// Device ioctls (Landlock ABI 5) are allowed only below the writable roots: a terminal the
/// command opens for reading cannot be sent `TIOCSTI`.
fn restrict_file_system(writable: &[PathBuf], temp_dir: &Path) -> Result<(), Error> {
    let read = AccessFs::from_read(ABI_WANTED) | AccessFs::ResolveUnix;
    let all = AccessFs::from_all(ABI_WANTED);
    let devices = WRITABLE_DEVICES
        .iter()
        .map(Path::new)
        .filter(|path| path.exists());
    let status = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(all)
        .and_then(|ruleset| ruleset.scope(Scope::Signal))
        .and_then(Ruleset::create)
        .and_then(|ruleset| ruleset.add_rules(path_beneath_rules(["/"], read)))
        .and_then(|ruleset| {
            ruleset.add_rules(path_beneath_rules(
                devices,
                read | AccessFs::WriteFile | AccessFs::Truncate,
            ))
        })
        .and_then(|ruleset| {
            ruleset.add_rules(path_beneath_rules(
                writable.iter().map(PathBuf::as_path).chain([temp_dir]),
                all,
            ))
        })
        .and_then(landlock::RulesetCreated::restrict_self)
        .map_err(|error| confine_error("applying Landlock", error))?;
    if status.ruleset == RulesetStatus::NotEnforced {
        return Err(Error::Unsupported {
            reason: "the kernel did not enforce the Landlock rules".into(),
        });
    }
    Ok(())
}

/// A seccomp filter: `socket` for any family but `AF_UNIX` fails with `EACCES`, and so does
/// `io_uring_setup` (an `io_uring` can open sockets without calling `socket`); on `x86_64` the
/// x32 numbers of both fail whatever their arguments.
fn refuse_sockets() -> Result<(), Error> {
    let arch = TargetArch::try_from(std::env::consts::ARCH)
        .map_err(|error| confine_error("building the socket filter", error))?;
    let not_unix = SeccompRule::new(vec![
        SeccompCondition::new(
            0,
            SeccompCmpArgLen::Dword,
            SeccompCmpOp::Ne,
            nix::libc::AF_UNIX as u64,
        )
        .map_err(|error| confine_error("building the socket filter", error))?,
    ])
    .map_err(|error| confine_error("building the socket filter", error))?;
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::from([
        (nix::libc::SYS_socket, vec![not_unix]),
        (nix::libc::SYS_io_uring_setup, Vec::new()),
    ]);
    // The x32 ABI reaches the same calls under other numbers on x86_64 (32-bit calls of another
    // architecture kill the process: seccompiler checks the architecture first).
    #[cfg(target_arch = "x86_64")]
    {
        const X32_SYSCALL_BIT: i64 = 0x4000_0000;
        rules.insert(X32_SYSCALL_BIT | nix::libc::SYS_socket, Vec::new());
        rules.insert(X32_SYSCALL_BIT | nix::libc::SYS_io_uring_setup, Vec::new());
    }
    let filter: BpfProgram = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(nix::libc::EACCES as u32),
        arch,
    )
    .and_then(TryInto::try_into)
    .map_err(|error| confine_error("building the socket filter", error))?;
    seccompiler::apply_filter(&filter)
        .map_err(|error| confine_error("applying the socket filter", error))
}
