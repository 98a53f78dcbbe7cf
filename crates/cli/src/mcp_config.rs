//! Which MCP servers a session uses: `[mcp_servers.NAME]` tables in `turnkit.toml` (the user's,
//! in the state directory, then the project's, which wins for the same name) and the
//! `--mcp-server NAME=COMMAND` flags (which win over both).
//!
//! ```toml
//! [mcp_servers.files]
//! command = "npx"
//! args = ["-y", "@modelcontextprotocol/server-filesystem", "."]
//! env = { LOG_LEVEL = "warn" }
//! cwd = "tools"                 # relative to the file's directory; the session's by default
//! startup_timeout_secs = 20     # default 10
//! tool_timeout_secs = 60        # default 120
//!
//! [mcp_servers.docs]
//! url = "http://127.0.0.1:8000/mcp"
//! headers = { Authorization = "Bearer …" }
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;
use turnkit::SessionBuilder;
use turnkit::mcp::client::{McpClients, McpServerConfig, McpTransport};

use crate::Usage;

/// The variable that names the user's configuration file instead of the state directory's.
pub(crate) const CONFIG_VAR: &str = "TURNKIT_CONFIG";
/// The configuration file's name, in the state directory and in a project.
pub(crate) const CONFIG_FILE: &str = "turnkit.toml";

/// The flag that adds an MCP server, shared by every command that runs agent turns.
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct McpArgs {
    /// Offer the tools of an MCP server started as COMMAND (split as a shell would), named
    /// NAME; repeatable. A server of the same name in turnkit.toml is replaced.
    #[arg(long = "mcp-server", value_name = "NAME=COMMAND")]
    pub(crate) mcp_servers: Vec<String>,
}

/// The user's configuration file: `$TURNKIT_CONFIG`, else `<state dir>/turnkit/turnkit.toml`
/// (beside the `sessions` folder); `None` when there is no state directory.
pub(crate) fn user_config_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(CONFIG_VAR).filter(|value| !value.is_empty()) {
        return Some(PathBuf::from(path));
    }
    dirs::state_dir()
        .or_else(dirs::data_local_dir)
        .map(|dir| dir.join("turnkit").join(CONFIG_FILE))
}

/// The MCP servers configured for a session in `project_dir`, in a stable order (by name):
/// the user's file, then the project's `turnkit.toml` (same name: the project's wins), then
/// `flags` (`NAME=COMMAND`, same name: the flag wins). A missing file is no error; a file or
/// flag that cannot be read is, naming the file, the line and key, and the fix.
pub(crate) fn configured_servers(
    project_dir: &Path,
    flags: &[String],
) -> anyhow::Result<Vec<McpServerConfig>> {
    servers_from(user_config_path(), project_dir, flags)
}

fn servers_from(
    user_file: Option<PathBuf>,
    project_dir: &Path,
    flags: &[String],
) -> anyhow::Result<Vec<McpServerConfig>> {
    let mut servers = BTreeMap::new();
    let files = user_file
        .into_iter()
        .chain(std::iter::once(project_dir.join(CONFIG_FILE)));
    for path in files {
        for server in read_file(&path)? {
            servers.insert(server.name.clone(), server);
        }
    }
    for flag in flags {
        let server = parse_flag(flag)?;
        servers.insert(server.name.clone(), server);
    }
    Ok(servers.into_values().collect())
}

/// Starts the servers and offers their tools to the session `builder` configures; a server
/// that does not start becomes a warning the session prints first.
pub(crate) async fn connect(
    builder: SessionBuilder,
    servers: Vec<McpServerConfig>,
    cwd: &Path,
) -> SessionBuilder {
    if servers.is_empty() {
        return builder;
    }
    McpClients::connect(servers, cwd).await.register(builder)
}

/// One `[mcp_servers.NAME]` table as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerTable {
    command: Option<String>,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    cwd: Option<PathBuf>,
    url: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    startup_timeout_secs: Option<f64>,
    tool_timeout_secs: Option<f64>,
}

/// The parts of `turnkit.toml` this module reads; other tables are left to their readers.
#[derive(Debug, Deserialize)]
struct ConfigFile {
    #[serde(default)]
    mcp_servers: BTreeMap<String, toml::Spanned<ServerTable>>,
}

fn read_file(path: &Path) -> anyhow::Result<Vec<McpServerConfig>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => {
            return Err(error).with_context(|| format!("cannot read {}", path.display()));
        }
    };
    let file: ConfigFile = toml::from_str(&text).map_err(|error| {
        anyhow::Error::new(Usage).context(format!(
            "{} is not a valid turnkit configuration: {}",
            path.display(),
            error.to_string().trim_end()
        ))
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut servers = Vec::new();
    for (name, table) in file.mcp_servers {
        let line = text[..table.span().start].matches('\n').count() + 1;
        let place = format!("{}, line {line}, [mcp_servers.{name}]", path.display());
        servers.push(
            server_from_table(&name, table.into_inner(), base).map_err(|problem| {
                anyhow::Error::new(Usage).context(format!("{place}: {problem}"))
            })?,
        );
    }
    Ok(servers)
}

fn server_from_table(
    name: &str,
    table: ServerTable,
    base: &Path,
) -> Result<McpServerConfig, String> {
    check_name(name)?;
    let mut server = match (table.command, table.url) {
        (Some(command), None) => {
            if !table.headers.is_empty() {
                return Err("`headers` is for a server reached by `url`; remove it, or use `env` for a command".into());
            }
            let mut server = McpServerConfig::stdio(name, command, table.args);
            if let McpTransport::Stdio { env, cwd, .. } = &mut server.transport {
                *env = table.env;
                *cwd = table.cwd.map(|dir| base.join(dir));
            }
            server
        }
        (None, Some(url)) => {
            if !table.args.is_empty() || !table.env.is_empty() || table.cwd.is_some() {
                return Err("`args`, `env` and `cwd` are for a server started by `command`; remove them, or use `headers` for a `url`".into());
            }
            let mut server = McpServerConfig::streamable_http(name, url);
            if let McpTransport::StreamableHttp { headers, .. } = &mut server.transport {
                *headers = table.headers;
            }
            server
        }
        (Some(_), Some(_)) => {
            return Err(
                "give either `command` (a server on stdio) or `url` (streamable HTTP), not both"
                    .into(),
            );
        }
        (None, None) => {
            return Err("give `command` (a server on stdio) or `url` (streamable HTTP)".into());
        }
    };
    if let Some(seconds) = table.startup_timeout_secs {
        server.startup_timeout = positive_seconds("startup_timeout_secs", seconds)?;
    }
    if let Some(seconds) = table.tool_timeout_secs {
        server.call_timeout = positive_seconds("tool_timeout_secs", seconds)?;
    }
    Ok(server)
}

fn positive_seconds(key: &str, seconds: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(seconds)
        .ok()
        .filter(|duration| !duration.is_zero())
        .ok_or_else(|| format!("`{key}` must be a positive number of seconds, such as 30"))
}

fn check_name(name: &str) -> Result<(), String> {
    if !name.is_empty()
        && name
            .chars()
            .all(|character| character.is_ascii_alphanumeric() || "_-".contains(character))
    {
        Ok(())
    } else {
        Err(format!(
            "the server name `{name}` must be made of ASCII letters, digits, `-` and `_` (it prefixes its tools' names); rename it"
        ))
    }
}

/// `NAME=COMMAND`, the command split as a shell would.
fn parse_flag(flag: &str) -> anyhow::Result<McpServerConfig> {
    let usage = |problem: String| {
        anyhow::Error::new(Usage).context(format!("--mcp-server {flag:?}: {problem}"))
    };
    let Some((name, command)) = flag.split_once('=') else {
        return Err(usage(
            "write it as NAME=COMMAND, for example --mcp-server 'files=npx -y @modelcontextprotocol/server-filesystem .'".into(),
        ));
    };
    check_name(name).map_err(usage)?;
    let words = shell_words::split(command).map_err(|error| {
        usage(format!(
            "the command cannot be split as a shell would ({error}); check its quotes"
        ))
    })?;
    let Some((program, args)) = words.split_first() else {
        bail!(usage(
            "the command is empty; give the program that starts the server".into()
        ));
    };
    Ok(McpServerConfig::stdio(
        name,
        program.clone(),
        args.iter().cloned(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> anyhow::Result<Vec<McpServerConfig>> {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join(CONFIG_FILE);
        std::fs::write(&path, text).expect("write the file");
        read_file(&path).map_err(|error| {
            // Paths differ per run; the tests compare what follows them.
            anyhow::anyhow!(format!("{error:#}").replace(&path.display().to_string(), "<file>"))
        })
    }

    #[test]
    fn both_kinds_of_server_are_read_with_their_settings() {
        let servers = parse(
            r#"
[mcp_servers.files]
command = "npx"
args = ["-y", "server"]
env = { LEVEL = "warn" }
tool_timeout_secs = 2.5

[mcp_servers.docs]
url = "http://127.0.0.1:8000/mcp"
headers = { Authorization = "Bearer x" }
startup_timeout_secs = 3
"#,
        )
        .expect("a valid file");
        assert_eq!(servers.len(), 2);
        assert_eq!(servers[0].name, "docs");
        assert_eq!(servers[0].startup_timeout, Duration::from_secs(3));
        assert_eq!(servers[1].name, "files");
        assert_eq!(servers[1].call_timeout, Duration::from_millis(2500));
        let McpTransport::Stdio {
            command, args, env, ..
        } = &servers[1].transport
        else {
            panic!("a stdio server");
        };
        assert_eq!(
            (command.as_str(), args.len(), env["LEVEL"].as_str()),
            ("npx", 2, "warn")
        );
    }

    #[test]
    fn a_misspelt_key_names_the_file_line_and_key() {
        let error = parse("[mcp_servers.files]\ncomand = \"npx\"\n").expect_err("rejected");
        let text = format!("{error:#}");
        assert!(
            text.starts_with(
                "<file> is not a valid turnkit configuration: TOML parse error at line 2"
            ) && text.contains("unknown field `comand`"),
            "{text}"
        );
    }

    #[test]
    fn a_table_with_command_and_url_says_which_to_keep() {
        let error =
            parse("\n[mcp_servers.both]\ncommand = \"x\"\nurl = \"http://127.0.0.1:1/mcp\"\n")
                .expect_err("rejected");
        assert_eq!(
            format!("{error:#}"),
            "<file>, line 2, [mcp_servers.both]: give either `command` (a server on stdio) or `url` (streamable HTTP), not both: bad usage"
        );
    }

    #[test]
    fn a_non_positive_timeout_is_refused() {
        let error = parse("[mcp_servers.a]\ncommand = \"x\"\ntool_timeout_secs = 0\n")
            .expect_err("rejected");
        assert!(
            format!("{error:#}")
                .contains("`tool_timeout_secs` must be a positive number of seconds")
        );
    }

    #[test]
    fn the_flag_splits_its_command_as_a_shell_would() {
        let server = parse_flag("files=npx -y 'server files' .").expect("a valid flag");
        let McpTransport::Stdio { command, args, .. } = server.transport else {
            panic!("a stdio server");
        };
        assert_eq!(command, "npx");
        assert_eq!(args, ["-y", "server files", "."]);
        for bad in ["files", "=npx", "files=", "files=npx 'open", "my files=npx"] {
            assert!(parse_flag(bad).is_err(), "{bad} is refused");
        }
    }

    #[test]
    fn the_project_wins_over_the_user_and_the_flag_over_both() {
        let state = tempfile::tempdir().expect("a temp dir");
        let project = tempfile::tempdir().expect("a temp dir");
        let user_file = state.path().join(CONFIG_FILE);
        std::fs::write(&user_file, "[mcp_servers.a]\ncommand = \"user-a\"\n[mcp_servers.b]\ncommand = \"user-b\"\n[mcp_servers.c]\ncommand = \"user-c\"\n").expect("write");
        std::fs::write(
            project.path().join(CONFIG_FILE),
            "[mcp_servers.b]\ncommand = \"project-b\"\n[mcp_servers.c]\ncommand = \"project-c\"\n",
        )
        .expect("write");
        let servers =
            servers_from(Some(user_file), project.path(), &["c=flag-c".to_owned()]).expect("valid");
        let commands: Vec<String> = servers
            .iter()
            .map(|server| match &server.transport {
                McpTransport::Stdio { command, .. } => command.clone(),
                McpTransport::StreamableHttp { url, .. } => url.clone(),
            })
            .collect();
        assert_eq!(commands, ["user-a", "project-b", "flag-c"]);
    }
}
