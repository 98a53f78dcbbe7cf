//! A real MCP server on stdio, built with rmcp's server side, that turnkit's tests start as a
//! child process (it is an example so that `cargo test` builds it beside the tests, and it
//! never ships as a binary of the crate).
//!
//! Its tools, listed two to a page so a client must follow the cursor:
//!
//! - `read_file { path }` (read-only): the text of a file below its directory;
//! - `write_file { path, text }`: writes a file below its directory;
//! - `noop` (read-only): answers `ok` at once (the benchmark's tool);
//! - `crash`: the process exits in the middle of the call;
//! - `hang` (read-only): writes `hang-started` in its directory, then answers only when the
//!   call is cancelled, after writing `hang-cancelled` there;
//! - `never` (read-only): never answers, not even to a cancellation.
//!
//! Flags: `--exit-at-once` writes a line on stderr and exits with 2 before the handshake;
//! `--pid-file PATH` writes `<server pid> <child pid>` to PATH after starting a `sleep` child
//! in its process group (so a test can check that the whole group ends).

mod fixture;

use rmcp::ServiceExt as _;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|arg| arg == "--exit-at-once") {
        eprintln!("mcp_test_server: told to exit at once");
        std::process::exit(2);
    }
    // Kept alive (and killed with the group) for as long as the server runs.
    let mut _child = None;
    if let Some(position) = args.iter().position(|arg| arg == "--pid-file") {
        let path = args.get(position + 1).ok_or("--pid-file needs a path")?;
        let child = std::process::Command::new("sleep").arg("600").spawn()?;
        std::fs::write(path, format!("{} {}", std::process::id(), child.id()))?;
        _child = Some(child);
    }
    let server = fixture::Fixture.serve(rmcp::transport::stdio()).await?;
    server.waiting().await?;
    Ok(())
}
