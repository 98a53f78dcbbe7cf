//! A turnkit session served as an MCP server (the server side).
