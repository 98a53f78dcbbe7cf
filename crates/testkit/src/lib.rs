//! Test any turnkit task, ours or a downstream crate's, through a real session.
//!
//! [`TestSession`] starts a session in a fresh temporary directory with the task kinds and
//! services you choose, submits ops, and collects events until a terminal event, failing
//! loudly (with every event seen so far) when one does not come in time. [`Normalizer`] turns
//! events into JSON with submission ids, call ids, sequence numbers, durations, times and the
//! temporary directory replaced by stable placeholders, ready for `insta::assert_json_snapshot!`.
//! [`FnTask`] makes a task out of a closure and counts its abort hook calls. [`git`] makes real
//! repositories isolated from the machine's git configuration, and [`process`] checks process
//! groups straight from `/proc`.
//!
//! Add it to a downstream crate's dev-dependencies through the facade,
//! `turnkit = { version = "0.1", features = ["testkit"] }`, and reach it as `turnkit::testkit`:
//!
//! ```
//! use turnkit::testkit::{FnTask, TestSession};
//! use turnkit::{EventMsg, Op, TaskKind};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! // A downstream task kind: it greets whoever the payload names.
//! let greet = FnTask::new(TaskKind::new("greet"), |ctx, _input, _token| async move {
//!     ctx.send_event(EventMsg::AgentMessage { message: "hello".into() });
//!     Ok(Some("hello".to_owned()))
//! });
//! let mut session = TestSession::builder().task(greet.registration()).build();
//! let events = session
//!     .run(Op::Custom { name: "greet".into(), payload: turnkit::serde_json::json!({"who": "world"}) })
//!     .await;
//! let normalised = session.normalize(&events);
//! assert_eq!(normalised[0]["msg"]["type"], "task_started");
//! assert_eq!(normalised[2]["msg"]["last_agent_message"], "hello");
//! # }
//! ```

mod fn_task;
pub mod git;
mod normalize;
pub mod process;
mod session;

pub use fn_task::FnTask;
pub use normalize::Normalizer;
pub use session::{DEFAULT_EVENT_TIMEOUT, TestSession, TestSessionBuilder};
