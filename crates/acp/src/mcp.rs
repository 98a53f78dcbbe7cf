//! The editor's MCP servers, converted to [`McpServerConfig`].

use std::collections::BTreeMap;

use agent_client_protocol::v1::schema::McpServer;
use turnkit_mcp::client::{McpServerConfig, McpTransport};

use crate::Error;

/// Converts the `mcpServers` of `session/new` or `session/load`.
///
/// Stdio and streamable HTTP servers are kept with the default timeouts; an SSE server is
/// refused with an error saying so, since the agent does not advertise SSE.
pub fn mcp_servers_from_acp(servers: &[McpServer]) -> Result<Vec<McpServerConfig>, Error> {
    servers.iter().map(convert).collect()
}

fn convert(server: &McpServer) -> Result<McpServerConfig, Error> {
    let config = match server {
        McpServer::Stdio(stdio) => {
            let mut config = McpServerConfig::stdio(
                stdio.name.clone(),
                stdio.command.to_string_lossy().into_owned(),
                stdio.args.iter().cloned(),
            );
            if let McpTransport::Stdio { env, .. } = &mut config.transport {
                *env = stdio
                    .env
                    .iter()
                    .map(|variable| (variable.name.clone(), variable.value.clone()))
                    .collect();
            }
            config
        }
        McpServer::Http(http) => {
            let mut config = McpServerConfig::streamable_http(http.name.clone(), http.url.clone());
            if let McpTransport::StreamableHttp { headers, .. } = &mut config.transport {
                *headers = http
                    .headers
                    .iter()
                    .map(|header| (header.name.clone(), header.value.clone()))
                    .collect::<BTreeMap<_, _>>();
            }
            config
        }
        McpServer::Sse(sse) => {
            return Err(Error::invalid_params(format!(
                "the MCP server `{}` uses SSE, which turnkit does not speak; give its streamable HTTP endpoint (type \"http\") or a stdio command instead",
                sse.name
            )));
        }
        _ => {
            return Err(Error::invalid_params(
                "an MCP server of a transport turnkit does not know; use stdio or http",
            ));
        }
    };
    if config.name.is_empty()
        || !config
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(Error::invalid_params(format!(
            "the MCP server name `{}` cannot prefix tool names; use ASCII letters, digits, `-` and `_`",
            config.name
        )));
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use agent_client_protocol::v1::schema::{
        EnvVariable, HttpHeader, McpServerHttp, McpServerSse, McpServerStdio,
    };

    use super::*;

    #[test]
    fn stdio_and_http_servers_convert_and_sse_is_refused() {
        let servers = vec![
            McpServer::Stdio(
                McpServerStdio::new("files", "/usr/bin/files-mcp")
                    .args(vec!["--root".into(), "/tmp".into()])
                    .env(vec![EnvVariable::new("TOKEN", "t")]),
            ),
            McpServer::Http(
                McpServerHttp::new("web", "http://127.0.0.1:9/mcp")
                    .headers(vec![HttpHeader::new("Authorization", "Bearer x")]),
            ),
        ];
        let configs = mcp_servers_from_acp(&servers).expect("both convert");
        let mut expected_stdio =
            McpServerConfig::stdio("files", "/usr/bin/files-mcp", ["--root", "/tmp"]);
        if let McpTransport::Stdio { env, .. } = &mut expected_stdio.transport {
            env.insert("TOKEN".into(), "t".into());
        }
        let mut expected_http = McpServerConfig::streamable_http("web", "http://127.0.0.1:9/mcp");
        if let McpTransport::StreamableHttp { headers, .. } = &mut expected_http.transport {
            headers.insert("Authorization".into(), "Bearer x".into());
        }
        assert_eq!(configs, vec![expected_stdio, expected_http]);

        let sse = McpServer::Sse(McpServerSse::new("old", "http://127.0.0.1:9/sse"));
        let error = mcp_servers_from_acp(&[sse]).expect_err("SSE is refused");
        assert!(error.to_string().contains("SSE"), "{error}");
    }

    #[test]
    fn a_name_that_cannot_prefix_tools_is_refused() {
        let server = McpServer::Stdio(McpServerStdio::new("my server", "/bin/true"));
        let error = mcp_servers_from_acp(&[server]).expect_err("a space is refused");
        assert!(error.to_string().contains("my server"), "{error}");
    }
}
