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
