//! MCP servers' tools in a session (the client side).
