//! graph-flow's `PostgresSessionStorage` of 0.5.1 and of 0.6, statement for statement.
//!
//! As sqlx does, every statement goes through the extended protocol, prepared with the
//! parameter types sqlx binds: a Rust `String` (or `Option<String>`) as `text`, the
//! context (`serde_json::Value`) as `jsonb`, the 0.6 version (`i64`) as `int8`. Rows come
//! back as `serde_json::Value` (serde_json's default parser, no arbitrary precision) and
//! load through serde.

use std::fmt;

use tokio::runtime::{Builder, Runtime};
use tokio_postgres::types::Type;
use tokio_postgres::{Client, NoTls, Row};

use crate::session::{v0_5, v0_6, GraphFlowSession};

/// The storage errors of graph-flow's `GraphError`, worded as it words them.
#[derive(Debug)]
pub enum GraphError {
    StorageError(String),
    SessionNotFound(String),
    SessionConflict(String),
}

impl fmt::Display for GraphError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GraphError::StorageError(message) => write!(f, "Storage error: {message}"),
            GraphError::SessionNotFound(message) => write!(f, "Session not found: {message}"),
            GraphError::SessionConflict(message) => write!(f, "Session conflict: {message}"),
        }
    }
}

pub type Result<T> = std::result::Result<T, GraphError>;

fn storage_error(what: &str) -> impl Fn(tokio_postgres::Error) -> GraphError + '_ {
    move |e| GraphError::StorageError(format!("{what}: {e}"))
}

/// One connection and the single-threaded runtime that drives it; graph-flow's pool of
/// five is pointless for a process that runs one command.
pub struct Connection {
    runtime: Runtime,
    client: Client,
}

impl Connection {
    /// Connect, then run a release's connect-time DDL, one statement at a time.
    fn connect(url: &str, migration: &[&str]) -> Result<Self> {
        let runtime = Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| GraphError::StorageError(format!("Failed to start a runtime: {e}")))?;
        let (client, connection) = runtime
            .block_on(tokio_postgres::connect(url, NoTls))
            .map_err(storage_error("Failed to connect to Postgres"))?;
        runtime.spawn(async move {
            let _ = connection.await;
        });
        for statement in migration {
            runtime
                .block_on(client.execute(*statement, &[]))
                .map_err(storage_error("Migration failed"))?;
        }
        Ok(Self { runtime, client })
    }

    fn delete(&self, sql: &str, id: &str) -> Result<u64> {
        self.execute(sql, &[Type::TEXT], &[&id], "Failed to delete session")
    }

    /// One prepared statement, its parameters typed as given; the rows it affected.
    fn execute(
        &self,
        sql: &str,
        types: &[Type],
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
        what: &str,
    ) -> Result<u64> {
        self.runtime
            .block_on(async {
                let statement = self.client.prepare_typed(sql, types).await?;
                self.client.execute(&statement, params).await
            })
            .map_err(storage_error(what))
    }

    /// Like `execute`, in a transaction of its own (graph-flow 0.5.1's save).
    fn execute_in_transaction(
        &mut self,
        sql: &str,
        types: &[Type],
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
        what: &str,
    ) -> Result<u64> {
        let client = &mut self.client;
        self.runtime
            .block_on(async {
                let transaction = client.transaction().await?;
                let statement = transaction.prepare_typed(sql, types).await?;
                let rows = transaction.execute(&statement, params).await?;
                transaction.commit().await?;
                Ok(rows)
            })
            .map_err(storage_error(what))
    }

    fn query_opt(&self, sql: &str, id: &str) -> Result<Option<Row>> {
        self.runtime
            .block_on(async {
                let statement = self.client.prepare_typed(sql, &[Type::TEXT]).await?;
                self.client.query_opt(&statement, &[&id]).await
            })
            .map_err(storage_error("Failed to fetch session"))
    }
}

/// graph-flow's `SessionStorage`, with the rows a write affected (graph-flow drops that
/// number; 0.5.1's save affecting none is a silent no-op the tests need to see).
pub trait SessionStorage {
    type Session: GraphFlowSession;
    fn save(&mut self, session: &Self::Session) -> Result<u64>;
    fn get(&mut self, id: &str) -> Result<Option<Self::Session>>;
    fn delete(&mut self, id: &str) -> Result<u64>;
}

fn context_json<T: serde::Serialize>(context: &T) -> Result<serde_json::Value> {
    serde_json::to_value(context)
        .map_err(|e| GraphError::StorageError(format!("Context serialization failed: {e}")))
}

fn context_from(row: &Row, index: usize) -> Result<crate::context::Context> {
    let value: serde_json::Value = column(row, index)?;
    serde_json::from_value(value)
        .map_err(|e| GraphError::StorageError(format!("Context deserialization failed: {e}")))
}

fn column<'a, T: tokio_postgres::types::FromSql<'a>>(row: &'a Row, index: usize) -> Result<T> {
    row.try_get(index)
        .map_err(|e| GraphError::StorageError(format!("Failed to fetch session: {e}")))
}

pub mod postgres_0_5 {
    use super::*;

    pub const MIGRATE: &str = r#"
            CREATE TABLE IF NOT EXISTS sessions (
                id UUID PRIMARY KEY,
                graph_id TEXT NOT NULL,
                current_task_id TEXT NOT NULL,
                status_message TEXT,
                context JSONB NOT NULL,
                created_at TIMESTAMPTZ DEFAULT NOW(),
                updated_at TIMESTAMPTZ DEFAULT NOW()
            );
            "#;

    pub const SAVE: &str = r#"
            INSERT INTO sessions (id, graph_id, current_task_id, status_message, context, updated_at)
            VALUES ($1::uuid, $2, $3, $4, $5, NOW())
            ON CONFLICT (id) DO UPDATE
            SET graph_id = EXCLUDED.graph_id,
                current_task_id = EXCLUDED.current_task_id,
                status_message = EXCLUDED.status_message,
                context = EXCLUDED.context,
                updated_at = NOW()
            WHERE sessions.updated_at <= EXCLUDED.updated_at  -- Prevent overwriting newer data
            "#;

    pub const GET: &str = r#"
            SELECT id::text, graph_id, current_task_id, status_message, context
            FROM sessions
            WHERE id = $1::uuid
            "#;

    pub const DELETE: &str = r#"
            DELETE FROM sessions WHERE id = $1::uuid
            "#;

    pub struct PostgresSessionStorage {
        connection: Connection,
    }

    impl PostgresSessionStorage {
        /// Connect and create the table if it is not there, as every 0.5 service start does.
        pub fn connect(url: &str) -> Result<Self> {
            Ok(Self {
                connection: Connection::connect(url, &[MIGRATE])?,
            })
        }
    }

    impl SessionStorage for PostgresSessionStorage {
        type Session = v0_5::Session;

        fn save(&mut self, session: &v0_5::Session) -> Result<u64> {
            let context = context_json(&session.context)?;
            self.connection.execute_in_transaction(
                SAVE,
                &[Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::JSONB],
                &[
                    &session.id,
                    &session.graph_id,
                    &session.current_task_id,
                    &session.status_message,
                    &context,
                ],
                "Failed to save session",
            )
        }

        fn get(&mut self, id: &str) -> Result<Option<v0_5::Session>> {
            let row = match self.connection.query_opt(GET, id)? {
                Some(row) => row,
                None => return Ok(None),
            };
            Ok(Some(v0_5::Session {
                id: column(&row, 0)?,
                graph_id: column(&row, 1)?,
                current_task_id: column(&row, 2)?,
                status_message: column(&row, 3)?,
                context: context_from(&row, 4)?,
            }))
        }

        fn delete(&mut self, id: &str) -> Result<u64> {
            self.connection.delete(DELETE, id)
        }
    }
}

pub mod postgres_0_6 {
    use super::*;

    pub const MIGRATE: [&str; 3] = [
        r#"
            CREATE TABLE IF NOT EXISTS sessions (
                id TEXT PRIMARY KEY,
                graph_id TEXT NOT NULL,
                current_task_id TEXT NOT NULL,
                status_message TEXT,
                context JSONB NOT NULL,
                version BIGINT NOT NULL DEFAULT 0,
                created_at TIMESTAMPTZ DEFAULT NOW(),
                updated_at TIMESTAMPTZ DEFAULT NOW()
            );
            "#,
        r#"ALTER TABLE sessions ALTER COLUMN id TYPE TEXT;"#,
        r#"ALTER TABLE sessions ADD COLUMN IF NOT EXISTS version BIGINT NOT NULL DEFAULT 0;"#,
    ];

    pub const SAVE: &str = r#"
            INSERT INTO sessions (id, graph_id, current_task_id, status_message, context, version, updated_at)
            VALUES ($1, $2, $3, $4, $5, $6 + 1, NOW())
            ON CONFLICT (id) DO UPDATE
            SET graph_id = EXCLUDED.graph_id,
                current_task_id = EXCLUDED.current_task_id,
                status_message = EXCLUDED.status_message,
                context = EXCLUDED.context,
                version = sessions.version + 1,
                updated_at = NOW()
            WHERE sessions.version = $6
            "#;

    pub const GET: &str = r#"
            SELECT id, graph_id, current_task_id, status_message, context, version
            FROM sessions
            WHERE id = $1
            "#;

    pub const DELETE: &str = r#"
            DELETE FROM sessions WHERE id = $1
            "#;

    pub struct PostgresSessionStorage {
        connection: Connection,
    }

    impl PostgresSessionStorage {
        /// Connect and create or upgrade the table, as every 0.6 service start does.
        pub fn connect(url: &str) -> Result<Self> {
            Ok(Self {
                connection: Connection::connect(url, &MIGRATE)?,
            })
        }
    }

    impl SessionStorage for PostgresSessionStorage {
        type Session = v0_6::Session;

        fn save(&mut self, session: &v0_6::Session) -> Result<u64> {
            let context = context_json(&session.context)?;
            let version = i64::try_from(session.version)
                .map_err(|e| GraphError::StorageError(format!("Session version overflow: {e}")))?;
            let rows = self.connection.execute(
                SAVE,
                &[
                    Type::TEXT,
                    Type::TEXT,
                    Type::TEXT,
                    Type::TEXT,
                    Type::JSONB,
                    Type::INT8,
                ],
                &[
                    &session.id,
                    &session.graph_id,
                    &session.current_task_id,
                    &session.status_message,
                    &context,
                    &version,
                ],
                "Failed to save session",
            )?;
            if rows == 0 {
                return Err(GraphError::SessionConflict(format!(
                    "Session '{}' was modified concurrently (attempted save from version {})",
                    session.id, session.version
                )));
            }
            Ok(rows)
        }

        fn get(&mut self, id: &str) -> Result<Option<v0_6::Session>> {
            let row = match self.connection.query_opt(GET, id)? {
                Some(row) => row,
                None => return Ok(None),
            };
            let version: i64 = column(&row, 5)?;
            Ok(Some(v0_6::Session {
                id: column(&row, 0)?,
                graph_id: column(&row, 1)?,
                current_task_id: column(&row, 2)?,
                status_message: column(&row, 3)?,
                context: context_from(&row, 4)?,
                version: version as u64,
            }))
        }

        fn delete(&mut self, id: &str) -> Result<u64> {
            self.connection.delete(DELETE, id)
        }
    }
}
