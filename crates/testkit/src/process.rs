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

/// Whether the process `pid` is alive: it exists and is not a zombie.
pub fn process_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X")
    })
}

/// A shell script that leaves three processes that outlive their parent shell: one in a
/// session of its own (`setsid`), one forked twice by a shell in a session of its own (as a
/// daemon does), and one under `nohup`. It prints `escapees <pid> <pid> <pid>`, then runs
/// `then`.
pub fn escapees_script(then: &str) -> String {
    format!(
        "setsid sleep 30 & a=$!; \
         b=$(setsid sh -c 'sleep 31 >/dev/null 2>&1 & echo $!'); \
         nohup sleep 32 >/dev/null 2>&1 & c=$!; \
         echo escapees $a $b $c; {then}"
    )
}

/// The pids an [`escapees_script`] printed, once its line is complete.
pub fn escapee_pids(output: &str) -> Option<Vec<u32>> {
    let line = output.lines().find(|line| line.starts_with("escapees "))?;
    let pids: Vec<u32> = line
        .split_whitespace()
        .skip(1)
        .map(|pid| pid.parse().ok())
        .collect::<Option<_>>()?;
    (pids.len() == 3 && output.contains(&format!("{line}\n"))).then_some(pids)
}
