//! graph-flow's `Context`, `ChatHistory` and `SerializableMessage`, with the same serde
//! contract: the context serializes through a helper struct `{data, chat_history}`, the
//! history derives its serde (`messages`, `max_messages: Option<usize>`), a message is
//! `{role, content, timestamp}` with a chrono `DateTime<Utc>`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// What a new graph-flow context keeps before the oldest messages are dropped.
pub const DEFAULT_MAX_MESSAGES: usize = 1000;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum MessageRole {
    User,
    Assistant,
    System,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SerializableMessage {
    pub role: MessageRole,
    pub content: String,
    pub timestamp: DateTime<Utc>,
}

impl SerializableMessage {
    /// A message stamped now, as graph-flow's `SerializableMessage::new` does.
    pub fn new(role: MessageRole, content: String) -> Self {
        Self::at(role, content, Utc::now())
    }

    pub fn at(role: MessageRole, content: String, timestamp: DateTime<Utc>) -> Self {
        Self {
            role,
            content,
            timestamp,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChatHistory {
    messages: Vec<SerializableMessage>,
    max_messages: Option<usize>,
}

impl ChatHistory {
    pub fn with_limit(max_messages: Option<usize>) -> Self {
        Self {
            messages: Vec::new(),
            max_messages,
        }
    }

    /// Append, then drop the oldest beyond `max_messages`: the only place graph-flow trims.
    pub fn add_message(&mut self, message: SerializableMessage) {
        self.messages.push(message);
        if let Some(max) = self.max_messages {
            if self.messages.len() > max {
                let excess = self.messages.len() - max;
                self.messages.drain(0..excess);
            }
        }
    }
}

/// The JSON shape of a context; `Context` (de)serializes through it, as graph-flow's does.
#[derive(Serialize, Deserialize)]
struct ContextData {
    data: HashMap<String, Value>,
    chat_history: ChatHistory,
}

#[derive(Debug, Clone)]
pub struct Context {
    data: HashMap<String, Value>,
    chat_history: ChatHistory,
}

impl Context {
    pub fn new() -> Self {
        Self::with_max_chat_messages(Some(DEFAULT_MAX_MESSAGES))
    }

    pub fn with_max_chat_messages(max_messages: Option<usize>) -> Self {
        Self {
            data: HashMap::new(),
            chat_history: ChatHistory::with_limit(max_messages),
        }
    }

    pub fn set(&mut self, key: &str, value: Value) {
        self.data.insert(key.to_string(), value);
    }

    pub fn add_message(&mut self, message: SerializableMessage) {
        self.chat_history.add_message(message);
    }
}

impl Default for Context {
    fn default() -> Self {
        Self::new()
    }
}

impl Serialize for Context {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        ContextData {
            data: self.data.clone(),
            chat_history: self.chat_history.clone(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Context {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let ContextData { data, chat_history } = ContextData::deserialize(deserializer)?;
        Ok(Self { data, chat_history })
    }
}
