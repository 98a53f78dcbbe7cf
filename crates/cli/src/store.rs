//! Where sessions are stored: one rollout file per session under the user's state directory.
//!
//! The directory is `$TURNKIT_SESSIONS_DIR` when set (tests use it), else
//! `<state dir>/turnkit/sessions`: `$XDG_STATE_HOME` or `~/.local/state` on Linux, the
//! platform's local data directory elsewhere. A file is named `<id>.jsonl`, and an id starts
//! with the session's start time in hexadecimal seconds, so names sort by age.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use turnkit::{EventMsg, ResponseItem, RolloutRecord, UserInput, read_rollout};

/// The variable that moves the session store.
pub(crate) const SESSIONS_DIR_VAR: &str = "TURNKIT_SESSIONS_DIR";

/// The directory holding the rollout files, created when missing.
pub(crate) fn sessions_dir() -> anyhow::Result<PathBuf> {
    let dir = match std::env::var_os(SESSIONS_DIR_VAR).filter(|value| !value.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => dirs::state_dir()
            .or_else(dirs::data_local_dir)
            .context(
                "cannot find a state directory to store sessions in; set TURNKIT_SESSIONS_DIR",
            )?
            .join("turnkit")
            .join("sessions"),
    };
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create the session store {}", dir.display()))?;
    Ok(dir)
}

/// A fresh session id: the start time, then enough of the clock and the process id to keep
/// two sessions started in the same second apart.
pub(crate) fn fresh_id() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format!(
        "{:x}-{:06x}",
        now.as_secs(),
        (now.subsec_nanos() ^ std::process::id().rotate_left(16)) & 0x00ff_ffff
    )
}

/// The rollout file of a new session with this id.
pub(crate) fn rollout_path(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}.jsonl"))
}

/// What `turnkit sessions` shows of one stored session.
#[derive(Debug, Clone)]
pub(crate) struct StoredSession {
    /// The session's id.
    pub(crate) id: String,
    /// Its working directory.
    pub(crate) cwd: PathBuf,
    /// When it started, in seconds since the epoch.
    pub(crate) started: u64,
    /// The last message of the assistant, else of the user.
    pub(crate) last_message: Option<String>,
    /// The rollout file.
    pub(crate) path: PathBuf,
}

/// Every stored session, newest first; unreadable files are skipped.
pub(crate) fn list(dir: &Path) -> anyhow::Result<Vec<StoredSession>> {
    let mut sessions = Vec::new();
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path
            .extension()
            .is_some_and(|extension| extension == "jsonl")
            && let Some(session) = summarise(&path)
        {
            sessions.push(session);
        }
    }
    sessions.sort_by(|a, b| b.started.cmp(&a.started).then_with(|| b.id.cmp(&a.id)));
    Ok(sessions)
}

/// The stored session with this id (or a unique prefix of it), or the newest one.
pub(crate) fn find(dir: &Path, id: Option<&str>) -> anyhow::Result<StoredSession> {
    let sessions = list(dir)?;
    let Some(id) = id else {
        return sessions
            .into_iter()
            .next()
            .context("no stored session yet; start one with `turnkit exec PROMPT`");
    };
    let mut matching = sessions
        .into_iter()
        .filter(|session| session.id.starts_with(id));
    match (matching.next(), matching.next()) {
        (Some(session), None) => Ok(session),
        (Some(_), Some(_)) => bail!("more than one session id starts with `{id}`; give more of it"),
        (None, _) => bail!("no stored session has the id `{id}`; `turnkit sessions` lists them"),
    }
}

/// The newest stored session whose directory is `cwd`.
pub(crate) fn latest_in(dir: &Path, cwd: &Path) -> anyhow::Result<Option<StoredSession>> {
    Ok(list(dir)?.into_iter().find(|session| session.cwd == cwd))
}

fn summarise(path: &Path) -> Option<StoredSession> {
    let (records, _warnings) = read_rollout(path).ok()?;
    let mut meta = None;
    let mut last_agent = None;
    let mut last_user = None;
    for record in &records {
        match record {
            RolloutRecord::SessionMeta {
                session_id,
                cwd,
                parent_session_id: None,
                ..
            } if meta.is_none() => meta = Some((session_id.clone(), cwd.clone())),
            RolloutRecord::UserInput { items, .. } => {
                last_user = items.iter().rev().find_map(|item| match item {
                    UserInput::Text { text } => Some(text.clone()),
                    _ => None,
                });
            }
            RolloutRecord::Event { event } => {
                if let EventMsg::AgentMessage { message } = &event.msg {
                    last_agent = Some(message.clone());
                }
            }
            _ => {}
        }
    }
    let (id, cwd) = meta?;
    let started = id
        .split('-')
        .next()
        .and_then(|secs| u64::from_str_radix(secs, 16).ok())
        .unwrap_or(0);
    Some(StoredSession {
        id,
        cwd,
        started,
        last_message: last_agent.or(last_user),
        path: path.to_owned(),
    })
}

/// The history a rollout holds, rebuilt without starting a session (so nothing is written).
pub(crate) fn history(path: &Path) -> anyhow::Result<Vec<ResponseItem>> {
    let (records, _warnings) =
        read_rollout(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut history = Vec::new();
    for record in records {
        match record {
            RolloutRecord::ResponseItem { item } => history.push(item),
            RolloutRecord::HistoryReplaced { items } => history = items,
            _ => {}
        }
    }
    Ok(history)
}

/// Seconds since the epoch as `YYYY-MM-DD HH:MM` UTC.
pub(crate) fn format_time(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(i64::try_from(days).unwrap_or(i64::MAX / 2));
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}",
        rem / 3600,
        (rem % 3600) / 60
    )
}

// Howard Hinnant's days-to-civil algorithm: exact for every date after 1970 without a
// calendar dependency for one column of output.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_time_is_utc_calendar_time() {
        assert_eq!(format_time(0), "1970-01-01 00:00");
        assert_eq!(format_time(1_709_251_199), "2024-02-29 23:59");
    }
}
