//! The helper binary's logic: read the confinement, confine itself, start the command, pass
//! signals on, end every descendant, and exit the way the command did.

use std::ffi::OsString;
use std::process::{Command, ExitCode};
use std::time::Duration;

use nix::sys::signal::{Signal, raise};
use nix::sys::wait::WaitStatus;
use nix::unistd::Pid;
use signal_hook::consts::{SIGCHLD, SIGHUP, SIGINT, SIGQUIT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::plan::Confinement;
use crate::{Error, HELPER_NAME, reaper};

/// The exit code of the helper when it refused to run the command (as `env` does).
const EXIT_CONFINE_FAILED: u8 = 125;

/// Signals the helper passes on to every descendant.
const FORWARDED: [i32; 4] = [SIGTERM, SIGINT, SIGHUP, SIGQUIT];

/// Runs the helper with this process's arguments: `--confinement <json> -- <program> [args...]`.
///
/// The binary `turnkit-sandbox-exec` is this function and nothing else; a program that wants
/// to ship the helper inside itself can call it from its own `main` when started under that
/// name. It returns only an exit code for the command's normal exit, or 125 (with a message
/// on stderr) when the command could not be confined and so did not run; a command killed by
/// a signal makes the helper kill itself with the same signal.
pub fn helper_main() -> ExitCode {
    match run(std::env::args_os().skip(1).collect()) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("{HELPER_NAME}: {error}");
            ExitCode::from(EXIT_CONFINE_FAILED)
        }
    }
}

fn parse(args: Vec<OsString>) -> Result<(Confinement, OsString, Vec<OsString>), Error> {
    let usage = |problem: &str| Error::Usage {
        problem: problem.to_owned(),
    };
    let mut args = args.into_iter();
    if args.next().as_deref() != Some("--confinement".as_ref()) {
        return Err(usage("the first argument must be --confinement"));
    }
    let json = args
        .next()
        .and_then(|json| json.into_string().ok())
        .ok_or_else(|| usage("--confinement needs a JSON value"))?;
    let confinement: Confinement =
        serde_json::from_str(&json).map_err(|error| usage(&format!("bad confinement: {error}")))?;
    if args.next().as_deref() != Some("--".as_ref()) {
        return Err(usage("the command must follow `--`"));
    }
    let program = args.next().ok_or_else(|| usage("no command after `--`"))?;
    Ok((confinement, program, args.collect()))
}

fn run(args: Vec<OsString>) -> Result<ExitCode, Error> {
    let (confinement, program, args) = parse(args)?;
    nix::sys::prctl::set_child_subreaper(true).map_err(|error| Error::Confine {
        step: format!("becoming a child subreaper: {error}"),
    })?;
    if confinement.confine {
        let temp_dir = confinement
            .temp_dir
            .as_deref()
            .ok_or_else(|| Error::Usage {
                problem: "a confinement needs a private temporary directory".into(),
            })?;
        crate::confine::apply(&confinement, temp_dir)?;
    }

    // Handled rather than blocked: a blocked signal would stay blocked in the command (the
    // mask survives exec), while a handled one reverts to its default there.
    let mut signals =
        Signals::new(FORWARDED.iter().chain([&SIGCHLD])).map_err(|error| Error::Confine {
            step: format!("handling signals: {error}"),
        })?;

    let mut command = Command::new(&program);
    command.args(&args);
    if let Some(temp_dir) = &confinement.temp_dir {
        command.env("TMPDIR", temp_dir);
    }
    let child = match command.spawn() {
        Ok(child) => child,
        Err(error) => {
            let name = program.to_string_lossy();
            let (code, what) = match error.kind() {
                std::io::ErrorKind::NotFound => (127, "command not found"),
                std::io::ErrorKind::PermissionDenied => (126, "permission denied"),
                _ => (126, "cannot run it"),
            };
            eprintln!("{name}: {what}");
            return Ok(ExitCode::from(code));
        }
    };
    let command_pid = Pid::from_raw(child.id().cast_signed());
    // One thread waits for everything: SIGCHLD says a child may be ready to reap, any other
    // signal is passed on. Checking before each wait catches a command that exited before
    // the first.
    let status = loop {
        if let Some(status) = reaper::reap_command(command_pid) {
            break status;
        }
        for signal in signals.wait() {
            if signal != SIGCHLD
                && let Ok(signal) = Signal::try_from(signal)
            {
                reaper::signal_descendants(signal);
            }
        }
    };
    reaper::end_descendants(Duration::from_millis(confinement.kill_grace_ms));
    Ok(match status {
        WaitStatus::Exited(_, code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        WaitStatus::Signaled(_, signal, _) => exit_by(signal),
        _ => ExitCode::from(1),
    })
}

/// Dies of `signal`, as the command did, so the caller sees the same status; falls back to
/// the shell's `128 + signal` exit code for a signal whose default action is not to die.
fn exit_by(signal: Signal) -> ExitCode {
    // Our own handler must not catch it: back to the default action first.
    let _ = signal_hook::low_level::emulate_default_handler(signal as i32);
    let _ = raise(signal);
    ExitCode::from(128u8.saturating_add(signal as u8))
}
