//! [`TestSession`]: a real session in a temporary directory, driven from a test.

use std::path::{Path, PathBuf};
use std::time::Duration;

use turnkit_protocol::{Event, EventMsg, Op, ResponseItem, Submission};
use turnkit_session_core::{Session, SessionBuilder, TaskRegistration};

use crate::Normalizer;

/// How long [`TestSession::next_event`] waits before it fails the test.
pub const DEFAULT_EVENT_TIMEOUT: Duration = Duration::from_secs(30);

/// Configures a [`TestSession`].
pub struct TestSessionBuilder {
    builder: SessionBuilder,
    rollout: bool,
    timeout: Duration,
}

impl TestSessionBuilder {
    /// Registers a task kind.
    pub fn task(mut self, registration: TaskRegistration) -> Self {
        self.builder = self.builder.task(registration);
        self
    }

    /// Offers a service to the session's tasks.
    pub fn service<T: Clone + Send + Sync + 'static>(mut self, value: T) -> Self {
        self.builder = self.builder.service(value);
        self
    }

    /// Journals the session to `rollout.jsonl` in the temp dir.
    pub fn with_rollout(mut self) -> Self {
        self.rollout = true;
        self
    }

    /// Changes how long to wait for an event before failing.
    pub fn event_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Changes anything else on the underlying session builder.
    pub fn configure(mut self, configure: impl FnOnce(SessionBuilder) -> SessionBuilder) -> Self {
        self.builder = configure(self.builder);
        self
    }

    /// Creates the temp dir and starts the session in it.
    ///
    /// # Panics
    ///
    /// Panics if the temp dir or the session cannot be created: a test cannot go on.
    pub fn build(self) -> TestSession {
        let dir = tempfile::tempdir().expect("a temp dir for the test session");
        let workdir = dir.path().join("work");
        std::fs::create_dir(&workdir).expect("the test session's working directory");
        let rollout_path = self.rollout.then(|| dir.path().join("rollout.jsonl"));
        let mut builder = self.builder.session_id("test-session").cwd(&workdir);
        if let Some(path) = &rollout_path {
            builder = builder.rollout(path);
        }
        let session = builder.build().expect("the test session starts");
        TestSession {
            session,
            dir,
            workdir,
            rollout_path,
            timeout: self.timeout,
            seen: Vec::new(),
        }
    }
}

/// A real session in a fresh temporary directory, with helpers to drive it from a test.
pub struct TestSession {
    session: Session,
    dir: tempfile::TempDir,
    workdir: PathBuf,
    rollout_path: Option<PathBuf>,
    timeout: Duration,
    seen: Vec<Event>,
}

impl TestSession {
    /// Configures a test session over a plain [`Session::builder`].
    pub fn builder() -> TestSessionBuilder {
        Self::from_builder(Session::builder())
    }

    /// Configures a test session over a builder you prepared (for example the facade's,
    /// with its task kinds already registered).
    pub fn from_builder(builder: SessionBuilder) -> TestSessionBuilder {
        TestSessionBuilder {
            builder,
            rollout: false,
            timeout: DEFAULT_EVENT_TIMEOUT,
        }
    }

    /// The session's working directory (`work/` inside the temp dir).
    pub fn cwd(&self) -> &Path {
        &self.workdir
    }

    /// The temp dir that holds the working directory and the rollout.
    pub fn temp_dir(&self) -> &Path {
        self.dir.path()
    }

    /// The rollout file, when the session has one.
    pub fn rollout_path(&self) -> Option<&Path> {
        self.rollout_path.as_deref()
    }

    /// The session under test.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The history as the session holds it now.
    pub fn history(&self) -> Vec<ResponseItem> {
        self.session.history()
    }

    /// Every event read so far, in order.
    pub fn seen(&self) -> &[Event] {
        &self.seen
    }

    /// Submits an op and returns its submission id.
    ///
    /// # Panics
    ///
    /// Panics if the session refuses it (it has shut down).
    pub fn submit(&self, op: Op) -> String {
        self.session
            .submit(op)
            .expect("the session takes the submission")
    }

    /// Submits an op with an id of your choosing.
    ///
    /// # Panics
    ///
    /// Panics if the session refuses it.
    pub fn submit_with_id(&self, id: &str, op: Op) {
        self.session
            .submit_with_id(Submission {
                id: id.to_owned(),
                op,
            })
            .expect("the session takes the submission");
    }

    /// The next event, or a panic naming every event seen when none comes in time.
    pub async fn next_event(&mut self) -> Event {
        match self.maybe_next_event().await {
            Some(event) => event,
            None => panic!(
                "the session's event stream ended; events so far: {:#?}",
                self.seen
            ),
        }
    }

    /// The next event, or `None` when the stream has ended; panics on timeout.
    pub async fn maybe_next_event(&mut self) -> Option<Event> {
        match tokio::time::timeout(self.timeout, self.session.next_event()).await {
            Ok(Some(event)) => {
                self.seen.push(event.clone());
                Some(event)
            }
            Ok(None) => None,
            Err(tokio::time::error::Elapsed { .. }) => panic!(
                "no event within {:?}; events so far: {:#?}",
                self.timeout, self.seen
            ),
        }
    }

    /// Reads events until `stop` says so; the returned list includes the stopping event.
    pub async fn events_until(&mut self, mut stop: impl FnMut(&Event) -> bool) -> Vec<Event> {
        let mut events = Vec::new();
        loop {
            let event = self.next_event().await;
            let done = stop(&event);
            events.push(event);
            if done {
                return events;
            }
        }
    }

    /// Reads events (of any submission) until the terminal event of `sub_id`.
    pub async fn events_until_terminal(&mut self, sub_id: &str) -> Vec<Event> {
        let sub_id = sub_id.to_owned();
        self.events_until(move |event| event.id == sub_id && event.msg.is_terminal())
            .await
    }

    /// Submits `op` and reads events until its terminal event.
    pub async fn run(&mut self, op: Op) -> Vec<Event> {
        let id = self.submit(op);
        self.events_until_terminal(&id).await
    }

    /// Shuts the session down and reads every event up to the end of the stream.
    pub async fn shutdown(&mut self) -> Vec<Event> {
        self.submit(Op::Shutdown);
        let mut events = Vec::new();
        while let Some(event) = self.maybe_next_event().await {
            let done = matches!(event.msg, EventMsg::ShutdownComplete);
            events.push(event);
            if done {
                break;
            }
        }
        events
    }

    /// The normaliser for this session: the temp dir's paths become placeholders.
    pub fn normalizer(&self) -> Normalizer {
        Normalizer::new()
            .path(&self.workdir, "<cwd>")
            .path(self.dir.path(), "<tmp>")
    }

    /// Events as stable JSON for `insta::assert_json_snapshot!`.
    pub fn normalize(&self, events: &[Event]) -> serde_json::Value {
        self.normalizer().normalize(events)
    }
}
