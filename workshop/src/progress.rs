//! The learner's progress, kept in a JSON file: each exercise's last grade, how many hints
//! were shown, and the exercise `watch` is on. `$TUG_WORKSHOP_STATE` names the file;
//! default `~/.local/state/tug-workshop/progress.json`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// One exercise's progress.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Entry {
    /// The last grade: Some(true) passed, Some(false) failed, None never graded.
    pub passed: Option<bool>,
    /// Hints shown so far (the next one is `hints[hints_seen]`).
    pub hints_seen: usize,
}

/// Everything kept.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Progress {
    pub exercises: BTreeMap<String, Entry>,
    #[serde(skip)]
    path: PathBuf,
}

impl Progress {
    /// Where the progress lives.
    pub fn path() -> PathBuf {
        if let Some(p) = std::env::var_os("TUG_WORKSHOP_STATE").filter(|p| !p.is_empty()) {
            return PathBuf::from(p);
        }
        let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from);
        home.join(".local/state/tug-workshop/progress.json")
    }

    /// The kept progress (empty when there is none yet; a file that does not parse is an
    /// error, so that it is not overwritten).
    pub fn load() -> Result<Progress, String> {
        let path = Progress::path();
        let mut p = match std::fs::read_to_string(&path) {
            Ok(text) => {
                serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Progress::default(),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        p.path = path;
        Ok(p)
    }

    /// Writes the progress (a temporary file renamed over the old one).
    pub fn save(&self) -> Result<(), String> {
        let err = |e: std::io::Error| format!("cannot write {}: {e}", self.path.display());
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let tmp = self.path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        std::fs::write(&tmp, text).map_err(err)?;
        std::fs::rename(&tmp, &self.path).map_err(err)
    }

    pub fn entry(&mut self, name: &str) -> &mut Entry {
        self.exercises.entry(name.to_string()).or_default()
    }

    pub fn get(&self, name: &str) -> Entry {
        self.exercises.get(name).cloned().unwrap_or_default()
    }
}
