"""The SQL a Rust graph-flow service runs against the shared table, for interop tests."""

# Verbatim from graph-flow's graph-flow/src/storage_postgres.rs (its indentation aside).
RUST_INSERT = """
INSERT INTO sessions (id, graph_id, current_task_id, status_message, context, updated_at)
VALUES ($1::uuid, $2, $3, $4, $5, NOW())
ON CONFLICT (id) DO UPDATE
SET graph_id = EXCLUDED.graph_id,
    current_task_id = EXCLUDED.current_task_id,
    status_message = EXCLUDED.status_message,
    context = EXCLUDED.context,
    updated_at = NOW()
"""
RUST_SELECT = """
SELECT id::text, graph_id, current_task_id, status_message, context
FROM sessions
WHERE id = $1::uuid
"""
RUST_DELETE = """
DELETE FROM sessions WHERE id = $1::uuid
"""
