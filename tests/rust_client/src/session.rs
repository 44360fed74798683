//! graph-flow's `Session` as each release declares it: 0.5.1 has no version, 0.6 adds
//! `version: u64` with `#[serde(default)]` (a 0.5 session's JSON still loads, at 0).

use serde::{Deserialize, Serialize};

use crate::context::Context;

/// What a command needs of either release's session.
pub trait GraphFlowSession: Serialize + for<'de> Deserialize<'de> {
    fn context_mut(&mut self) -> &mut Context;
}

/// Both releases' sessions hold the context under the same name.
macro_rules! graph_flow_session {
    ($session:ty) => {
        impl GraphFlowSession for $session {
            fn context_mut(&mut self) -> &mut Context {
                &mut self.context
            }
        }
    };
}

pub mod v0_5 {
    use super::*;

    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct Session {
        pub id: String,
        pub graph_id: String,
        pub current_task_id: String,
        pub status_message: Option<String>,
        pub context: Context,
    }

    graph_flow_session!(Session);
}

pub mod v0_6 {
    use super::*;

    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct Session {
        pub id: String,
        pub graph_id: String,
        pub current_task_id: String,
        pub status_message: Option<String>,
        pub context: Context,
        #[serde(default)]
        pub version: u64,
    }

    graph_flow_session!(Session);
}
