"""graph-flow's table statement and its example of a stored context, copied from its
specification, for the tests that hold the app to them (never imported from the app itself).
"""

# The "Database Schema" statement, verbatim.
SEED_STATEMENT = """CREATE TABLE IF NOT EXISTS sessions (
    id UUID PRIMARY KEY,
    graph_id TEXT NOT NULL,
    current_task_id TEXT NOT NULL,
    status_message TEXT,
    context JSONB NOT NULL,
    created_at TIMESTAMPTZ DEFAULT NOW(),
    updated_at TIMESTAMPTZ DEFAULT NOW()
);"""

# The "Example of stored context JSON", verbatim.
SEED_EXAMPLE_JSON = """{
  "data": {
    "claim_decision": {
      "approved": true,
      "decision_reason": "Auto-approved: claim amount under $1000 threshold",
      "timestamp": "2025-06-10T17:32:27.573057+00:00"
    },
    "insurance_type": "car",
    "user_input": "about $150"
  },
  "chat_history": {
    "messages": [
      {
        "role": "User",
        "content": "hello",
        "timestamp": "2025-06-10T17:30:48.727954Z"
      },
      {
        "role": "Assistant", 
        "content": "Hello! Welcome! I'm here to help you with your insurance claim.",
        "timestamp": "2025-06-10T17:30:48.727959Z"
      }
    ],
    "max_messages": null
  }
}"""  # noqa: W291 (the original has a trailing space after "Assistant",)


# What a graph-flow 0.6+ service runs on every connect, in order (its PostgresSessionStorage).
GRAPH_FLOW_06_CONNECT = [
    """CREATE TABLE IF NOT EXISTS sessions (
        id TEXT PRIMARY KEY,
        graph_id TEXT NOT NULL,
        current_task_id TEXT NOT NULL,
        status_message TEXT,
        context JSONB NOT NULL,
        version BIGINT NOT NULL DEFAULT 0,
        created_at TIMESTAMPTZ DEFAULT NOW(),
        updated_at TIMESTAMPTZ DEFAULT NOW()
    )""",
    "ALTER TABLE sessions ALTER COLUMN id TYPE TEXT",
    "ALTER TABLE sessions ADD COLUMN IF NOT EXISTS version BIGINT NOT NULL DEFAULT 0",
]

# graph-flow 0.6's save: $6 is the version the session was read at.
GRAPH_FLOW_06_SAVE = """
INSERT INTO sessions (id, graph_id, current_task_id, status_message, context, version, updated_at)
VALUES ($1, $2, $3, $4, $5, $6 + 1, NOW())
ON CONFLICT (id) DO UPDATE
SET graph_id = EXCLUDED.graph_id, current_task_id = EXCLUDED.current_task_id,
    status_message = EXCLUDED.status_message, context = EXCLUDED.context,
    version = sessions.version + 1, updated_at = NOW()
WHERE sessions.version = $6
"""
GRAPH_FLOW_06_GET = """
SELECT id, graph_id, current_task_id, status_message, context, version FROM sessions WHERE id = $1
"""

# graph-flow 0.5.1's save: it skips (silently) a row stamped later than its own NOW().
GRAPH_FLOW_051_SAVE = """
INSERT INTO sessions (id, graph_id, current_task_id, status_message, context, updated_at)
VALUES ($1::uuid, $2, $3, $4, $5, NOW())
ON CONFLICT (id) DO UPDATE
SET graph_id = EXCLUDED.graph_id, current_task_id = EXCLUDED.current_task_id,
    status_message = EXCLUDED.status_message, context = EXCLUDED.context,
    updated_at = NOW()
WHERE sessions.updated_at <= EXCLUDED.updated_at
"""
