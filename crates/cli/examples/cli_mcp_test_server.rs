//! The MCP test server of turnkit-mcp (`crates/mcp/examples/mcp_test_server`), built again
//! here so that `cargo test -p turnkit-cli` has it for `tests/mcp.rs`: the same handler, served
//! on stdio.

#[path = "../../mcp/examples/mcp_test_server/fixture.rs"]
mod fixture;

use rmcp::ServiceExt as _;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = fixture::Fixture.serve(rmcp::transport::stdio()).await?;
    server.waiting().await?;
    Ok(())
}
