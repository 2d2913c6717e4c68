//! Scratch files: the copy of a stored video ffmpeg reads, and what it writes before anything is
//! published. Each is a flat file in `SCRATCH_DIR` (by default storage's `tmp/` for the local
//! backend, on the same filesystem as the objects, so publishing is a rename and a copy a hard
//! link; the system's temporary directory for S3) with a random name, removed when dropped
//! unless it was published first. A process killed before the drop leaves the file there,
//! never under a key anyone reads; housekeeping removes it after `UNFINISHED_TTL` (and the
//! reconciler, for the local `tmp/`, after its grace period).

use std::path::{Path, PathBuf};

use super::context::Context;

/// One scratch file, removed on drop.
pub struct Scratch {
    path: PathBuf,
    name: String,
}

impl Scratch {
    /// A new name `<uuid>.<extension>` in the scratch directory (the file is not created).
    pub fn new(ctx: &Context, extension: &str) -> Self {
        Self::named(ctx, format!("{}.{extension}", uuid::Uuid::new_v4()))
    }

    /// A scratch file beside this one, named after it with another extension (ffmpeg's side
    /// outputs: a playlist's media file, a storyboard's frame list).
    pub fn sibling(&self, ctx: &Context, extension: &str) -> Self {
        let stem = self.name.split('.').next().unwrap_or(&self.name);
        Self::named(ctx, format!("{stem}.{extension}"))
    }

    fn named(ctx: &Context, name: String) -> Self {
        Scratch {
            path: ctx.config.scratch_dir.join(&name),
            name,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file name alone: what ffmpeg, run in the scratch directory, is given, so no path
    /// ever needs escaping inside a filter graph.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
