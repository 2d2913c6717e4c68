//! Build script: records the git commit the binaries are built from, as `CLIPSHARE_COMMIT` for
//! `svc::build::COMMIT` (shown by `./deploy.sh status`, the `clipshare_build_info` metric and
//! backup manifests).
//!
//! The commit comes from `CLIPSHARE_COMMIT` in the build's environment when set (a build from a
//! tarball, or a packager who knows better), else from `git rev-parse HEAD` in the source tree,
//! else it is `unknown`. Cargo reruns this script when HEAD moves (a commit, a checkout), not on
//! every edit: the value names the commit, not whether the tree had uncommitted changes.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo::rerun-if-env-changed=CLIPSHARE_COMMIT");
    let commit = match std::env::var("CLIPSHARE_COMMIT") {
        Ok(given) if !given.trim().is_empty() => given.trim().to_string(),
        _ => {
            let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
            watch_git(&dir);
            git(&dir, &["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".to_string())
        }
    };
    println!("cargo::rustc-env=CLIPSHARE_COMMIT={commit}");
}

/// Asks cargo to rerun this script when HEAD or the branch it points to changes. Only files that
/// exist are named: cargo reruns a script on every build when a named file is missing.
fn watch_git(dir: &Path) {
    let mut files = vec!["HEAD".to_string(), "packed-refs".to_string()];
    if let Some(branch) = git(dir, &["symbolic-ref", "-q", "HEAD"]) {
        files.push(branch);
    }
    for file in files {
        if let Some(path) = git(
            dir,
            &["rev-parse", "--path-format=absolute", "--git-path", &file],
        ) {
            if Path::new(&path).exists() {
                println!("cargo::rerun-if-changed={path}");
            }
        }
    }
}

/// The trimmed output of `git ARGS` run in `dir`, or `None` when git is missing or fails (not a
/// checkout, or one owned by another user).
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!text.is_empty()).then_some(text)
}
