//! A graph-flow service reduced to its storage: the test suite drives it to prove that
//! rows written by either side load on the other through graph-flow's own serde types.
//!
//! Usage: graphflow-client --url URL --flavour 0.5|0.6 COMMAND [ARGS]
//!
//!   connect                          connect (which runs the release's DDL) and exit
//!   get ID                           the session as JSON, or null when absent
//!   save                             save the session JSON read from stdin
//!   delete ID                        delete (an absent id is not an error)
//!   resave ID                        load, then save it unchanged
//!   append ID ROLE TEXT              load, add a message stamped now (ROLE: User, Assistant, System), save
//!   write-sample ID MESSAGES LIMIT   save a session built here: MESSAGES messages with
//!                                    nanosecond timestamps and emoji, max_messages LIMIT (a number or null)
//!
//! Writes print {"rows_affected": N, "session": ...} (the session as saved). Exit codes:
//! 0 success, 1 storage error, 2 usage, 3 session conflict (0.6), 4 session not found.

mod context;
mod session;
mod storage;

use std::io::Read;
use std::process::ExitCode;

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use context::{Context, MessageRole, SerializableMessage};
use session::{v0_5, v0_6, GraphFlowSession};
use storage::{postgres_0_5, postgres_0_6, GraphError, SessionStorage};

const SAMPLE_TASK: &str =
    "insurance_claims_service::tasks::initial_claim_query::InitialClaimQueryTask";

enum Failure {
    Usage(String),
    Graph(GraphError),
}

impl From<GraphError> for Failure {
    fn from(error: GraphError) -> Self {
        Failure::Graph(error)
    }
}

fn usage(message: impl Into<String>) -> Failure {
    Failure::Usage(message.into())
}

/// What a sample session needs from either release's `Session`.
trait SampleSession: GraphFlowSession {
    fn sample(id: String, context: Context) -> Self;
}

impl SampleSession for v0_5::Session {
    fn sample(id: String, context: Context) -> Self {
        v0_5::Session {
            id,
            graph_id: "insurance_claims".to_string(),
            current_task_id: SAMPLE_TASK.to_string(),
            status_message: Some("Claim received ✅ — next: classify 🚗💥".to_string()),
            context,
        }
    }
}

impl SampleSession for v0_6::Session {
    fn sample(id: String, context: Context) -> Self {
        let v0_5::Session {
            id,
            graph_id,
            current_task_id,
            status_message,
            context,
        } = v0_5::Session::sample(id, context);
        v0_6::Session {
            id,
            graph_id,
            current_task_id,
            status_message,
            context,
            version: 0,
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => {
            eprintln!("usage error: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Graph(error)) => {
            eprintln!("{error}");
            ExitCode::from(match error {
                GraphError::StorageError(_) => 1,
                GraphError::SessionConflict(_) => 3,
                GraphError::SessionNotFound(_) => 4,
            })
        }
    }
}

fn run(args: &[String]) -> Result<(), Failure> {
    let mut url = None;
    let mut flavour = None;
    let mut rest = args;
    while let [flag, value, tail @ ..] = rest {
        match flag.as_str() {
            "--url" => url = Some(value.as_str()),
            "--flavour" => flavour = Some(value.as_str()),
            _ => break,
        }
        rest = tail;
    }
    let url = url.ok_or_else(|| usage("--url URL is required"))?;
    let (command, operands) = rest
        .split_first()
        .ok_or_else(|| usage("no command given"))?;
    match flavour {
        Some("0.5") => command_on(
            &mut postgres_0_5::PostgresSessionStorage::connect(url)?,
            command,
            operands,
        ),
        Some("0.6") => command_on(
            &mut postgres_0_6::PostgresSessionStorage::connect(url)?,
            command,
            operands,
        ),
        other => Err(usage(format!(
            "--flavour must be 0.5 or 0.6, not {other:?}"
        ))),
    }
}

fn command_on<S>(storage: &mut S, command: &str, operands: &[String]) -> Result<(), Failure>
where
    S: SessionStorage,
    S::Session: SampleSession,
{
    match (command, operands) {
        ("connect", []) => Ok(()),
        ("get", [id]) => {
            let found = storage.get(id)?;
            print_json(&serde_json::to_value(&found).expect("a session serializes"));
            Ok(())
        }
        ("save", []) => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| usage(format!("cannot read stdin: {e}")))?;
            let session: S::Session = serde_json::from_str(&text)
                .map_err(|e| usage(format!("stdin is not a Session: {e}")))?;
            save_and_report(storage, &session)
        }
        ("delete", [id]) => {
            let rows = storage.delete(id)?;
            print_json(&json!({ "rows_affected": rows }));
            Ok(())
        }
        ("resave", [id]) => {
            let session = load(storage, id)?;
            save_and_report(storage, &session)
        }
        ("append", [id, role, text]) => {
            let role: MessageRole = serde_json::from_value(Value::String(role.clone()))
                .map_err(|e| usage(format!("ROLE: {e}")))?;
            let mut session = load(storage, id)?;
            session
                .context_mut()
                .add_message(SerializableMessage::new(role, text.clone()));
            save_and_report(storage, &session)
        }
        ("write-sample", [id, messages, limit]) => {
            let messages: usize = messages
                .parse()
                .map_err(|e| usage(format!("MESSAGES: {e}")))?;
            let limit: Option<usize> = serde_json::from_str(limit)
                .map_err(|e| usage(format!("LIMIT (a number or null): {e}")))?;
            let session = S::Session::sample(id.clone(), sample_context(messages, limit));
            save_and_report(storage, &session)
        }
        _ => Err(usage(format!(
            "unknown command or wrong arguments: {command} {operands:?}"
        ))),
    }
}

fn load<S: SessionStorage>(storage: &mut S, id: &str) -> Result<S::Session, Failure> {
    storage
        .get(id)?
        .ok_or_else(|| Failure::Graph(GraphError::SessionNotFound(id.to_string())))
}

fn save_and_report<S: SessionStorage>(
    storage: &mut S,
    session: &S::Session,
) -> Result<(), Failure> {
    let rows = storage.save(session)?;
    let saved = serde_json::to_value(session).expect("a session serializes");
    print_json(&json!({ "rows_affected": rows, "session": saved }));
    Ok(())
}

fn print_json(value: &Value) {
    println!("{value}");
}

/// A context a busy claims service could hold: data of every JSON kind, text beyond the
/// Basic Multilingual Plane, and a history added message by message (so `limit` trims it)
/// whose timestamps carry nanoseconds.
fn sample_context(messages: usize, limit: Option<usize>) -> Context {
    let mut context = Context::with_max_chat_messages(limit);
    context.set("user_input", json!("my car 🚗 was hit 💥 — about $150"));
    context.set(
        "claim_details",
        json!({
            "insurance_type": "car",
            "description": "rear bumper, \"quoted\", back\\slash, line\nbreak, \u{2028}separator",
            "estimated_cost": 149.99,
            "additional_info": null,
        }),
    );
    context.set("insurance_type", json!("car"));
    context.set("retry_count", json!(0));
    context.set("largest_i64", json!(i64::MAX));
    context.set("largest_u64", json!(u64::MAX));
    context.set("smallest_i64", json!(i64::MIN));
    context.set("ratio", json!(0.1));
    context.set("flags", json!([true, false, null, [], {}]));
    context.set("family", json!("👩‍👩‍👧 naïve café 日本語 𝄞"));
    let base: DateTime<Utc> = "2025-06-10T12:34:56.123456789Z"
        .parse()
        .expect("a valid RFC 3339 timestamp");
    let roles = [MessageRole::User, MessageRole::Assistant];
    for index in 0..messages {
        let role = if index % 10 == 9 {
            MessageRole::System
        } else {
            roles[index % 2]
        };
        let moment = base + Duration::nanoseconds(index as i64 * 1_000_000_007);
        let content = format!("message {} 🙂 — ü “quoted” \"{}\"", index + 1, index % 7);
        context.add_message(SerializableMessage::at(role, content, moment));
    }
    context
}
