//! Checks on processes that do not trust the code under test: read straight from `/proc`.

/// Live (not zombie) processes whose process group is `pgid`, read from `/proc`.
///
/// Zombies are left out: an orphan's zombie lingers until init reaps it, which on some
/// machines takes seconds, and it holds no resources. On a system without `/proc` the list is
/// empty.
pub fn live_group_members(pgid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let wanted = pgid.to_string();
    let mut members = Vec::new();
    for entry in entries.flatten() {
        let Ok(process) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{process}/stat")) else {
            continue;
        };
        // The command name may hold spaces and parentheses; the fields after its last ')'
        // are state, parent pid, process group, ….
        let Some((_, after_name)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        if fields.len() > 2 && fields[2] == wanted && fields[0] != "Z" && fields[0] != "X" {
            members.push(process);
        }
    }
    members
}

/// Waits until a command under test has written its process id (`echo $$ > pid`) to `path`,
/// and returns it; a shell started by exec leads its own process group, so this is also the
/// group to watch with [`live_group_members`].
///
/// # Cancel safety
///
/// Cancel safe: it only reads the file.
pub async fn wait_for_pid_file(path: &std::path::Path) -> u32 {
    loop {
        if let Some(pid) = std::fs::read_to_string(path)
            .ok()
            .and_then(|text| text.trim().parse().ok())
        {
            return pid;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}
