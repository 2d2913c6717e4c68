//! What this binary was built from, for operators: `./deploy.sh status`, the
//! `clipshare_build_info` metric (`metrics`) and backup manifests read it.
//!
//! The values are fixed at compile time by `svc/build.rs`; nothing here is read at run time.

/// The git commit the binary was built from (40 hex digits), or `unknown` when it was built
/// outside a git checkout without `CLIPSHARE_COMMIT` set.
pub const COMMIT: &str = env!("CLIPSHARE_COMMIT");

/// The workspace's package version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The newest schema migration this binary applies (`migrate::MIGRATIONS`): a backup taken at a
/// newer schema cannot be restored under it.
pub const SCHEMA_VERSION: u32 = match crate::migrate::MIGRATIONS.last() {
    Some(m) => m.version,
    None => 0,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_commit_is_the_checkouts_head() {
        // Cargo reruns build.rs when HEAD moves, so a test binary built from this checkout holds
        // its current HEAD (or the override it was built with).
        let expected = match std::env::var("CLIPSHARE_COMMIT") {
            Ok(given) if !given.trim().is_empty() => given.trim().to_string(),
            _ => std::process::Command::new("git")
                .args(["-C", env!("CARGO_MANIFEST_DIR"), "rev-parse", "HEAD"])
                .output()
                .ok()
                .filter(|out| out.status.success())
                .map_or("unknown".to_string(), |out| {
                    String::from_utf8_lossy(&out.stdout).trim().to_string()
                }),
        };
        assert_eq!(COMMIT, expected);
    }

    #[test]
    fn the_schema_version_is_the_newest_migration() {
        let newest = crate::migrate::MIGRATIONS
            .iter()
            .map(|m| m.version)
            .max()
            .unwrap_or(0);
        assert_eq!(SCHEMA_VERSION, newest);
    }
}
