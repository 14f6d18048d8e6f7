//! What unit tests of several modules share.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cw_core::pipeline::admission::Journal;
use cw_core::pipeline::{Pipeline, Settings};

use crate::clock::SharedClock;
use crate::telemetry::Telemetry;

/// A directory of its own for one test, removed afterwards.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub fn new(test: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("cw-sidecar-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn file(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.0.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, contents).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A pipeline as unit tests use one: `namespace` as the fallback, no default dimensions, a
/// 2 s grace, no series warning; with its telemetry.
pub(crate) fn pipeline(
    namespace: Option<&str>,
    max_buffered: usize,
    clock: SharedClock,
) -> (Arc<Pipeline>, Arc<Telemetry>) {
    let telemetry = Arc::new(Telemetry::default());
    (pipeline_with(namespace, max_buffered, clock, telemetry.clone(), None), telemetry)
}

/// [`pipeline`] with given telemetry and journal.
pub(crate) fn pipeline_with(
    namespace: Option<&str>,
    max_buffered: usize,
    clock: SharedClock,
    telemetry: Arc<Telemetry>,
    journal: Option<Arc<dyn Journal>>,
) -> Arc<Pipeline> {
    Arc::new(Pipeline::new(Settings::plain(namespace, max_buffered), telemetry, clock, journal))
}
