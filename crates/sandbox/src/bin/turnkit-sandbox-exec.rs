//! `turnkit-sandbox-exec --confinement <json> -- <program> [args...]`: the helper that confines
//! itself, runs the command as its child, and ends every descendant with it.

#[cfg(target_os = "linux")]
fn main() -> std::process::ExitCode {
    turnkit_sandbox::helper_main()
}

#[cfg(not(target_os = "linux"))]
fn main() -> std::process::ExitCode {
    eprintln!("turnkit-sandbox-exec: sandboxing is only available on Linux");
    std::process::ExitCode::from(125)
}
