//! Batch file names: `<state>_<epoch seconds>_<uuid>.db`.

use std::fmt;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum BatchState {
    /// Being written by one writer.
    Load,
    /// Complete, waiting for a reader.
    Ready,
    /// Taken by one reader.
    Unload,
}

impl BatchState {
    pub fn as_str(self) -> &'static str {
        match self {
            BatchState::Load => "load",
            BatchState::Ready => "ready",
            BatchState::Unload => "unload",
        }
    }
}

/// A parsed batch file name. Names of other files in the folder do not parse.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct BatchName {
    pub epoch: u64,
    pub id: String,
    pub state: BatchState,
}

impl BatchName {
    pub fn new_load() -> Self {
        let epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        BatchName {
            epoch,
            id: uuid::Uuid::new_v4().to_string(),
            state: BatchState::Load,
        }
    }

    pub fn parse(file_name: &str) -> Option<Self> {
        let stem = file_name.strip_suffix(".db")?;
        let (state, rest) = stem.split_once('_')?;
        let (epoch, id) = rest.split_once('_')?;
        let state = match state {
            "load" | "loading" => BatchState::Load,
            "ready" => BatchState::Ready,
            "unload" => BatchState::Unload,
            _ => return None,
        };
        Some(BatchName {
            epoch: epoch.parse().ok()?,
            id: id.to_owned(),
            state,
        })
    }

    pub fn from_path(path: &Path) -> Option<Self> {
        BatchName::parse(path.file_name()?.to_str()?)
    }

    pub fn with_state(&self, state: BatchState) -> Self {
        BatchName { state, ..self.clone() }
    }
}

impl fmt::Display for BatchName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_{}_{}.db", self.state.as_str(), self.epoch, self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_accepts_turbo_queues_documented_loading_state() {
        let name = BatchName::new_load();
        assert_eq!(BatchName::parse(&name.to_string()), Some(name.clone()));
        let ready = name.with_state(BatchState::Ready).to_string();
        assert!(ready.starts_with("ready_"));
        assert_eq!(BatchName::parse("loading_17_ab.db").map(|n| n.state), Some(BatchState::Load));
        assert_eq!(BatchName::parse("ready_x_ab.db"), None);
        assert_eq!(BatchName::parse("notes.txt"), None);
    }
}
