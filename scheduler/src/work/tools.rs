//! Running ffmpeg and ffprobe: each run has a time limit and is killed if the job is dropped
//! (timeout, shutdown), so a stuck encoder never outlives its job or holds a lease forever.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

/// Why a tool could not run to completion. A tool that ran and exited non-zero is not an error
/// here: its `Output` says what happened and the caller decides what it means.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("{program} not found: install ffmpeg or set {var} to its path")]
    Missing { program: PathBuf, var: &'static str },
    #[error("{program} did not finish within {timeout:?} and was killed")]
    Timeout { program: PathBuf, timeout: Duration },
    #[error("running {program} failed: {source}")]
    Io {
        program: PathBuf,
        source: std::io::Error,
    },
}

/// Runs `program` with `args`, capturing its output, for at most `timeout`. `var` names the
/// variable that configures it, for the "not found" message.
pub async fn run(
    program: &Path,
    var: &'static str,
    args: &[&std::ffi::OsStr],
    timeout: Duration,
) -> Result<Output, ToolError> {
    let child = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                ToolError::Missing {
                    program: program.to_path_buf(),
                    var,
                }
            } else {
                ToolError::Io {
                    program: program.to_path_buf(),
                    source,
                }
            }
        })?;
    match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(Ok(output)) => Ok(output),
        Ok(Err(source)) => Err(ToolError::Io {
            program: program.to_path_buf(),
            source,
        }),
        // Dropping the wait future drops the child, and kill_on_drop kills it.
        Err(_) => Err(ToolError::Timeout {
            program: program.to_path_buf(),
            timeout,
        }),
    }
}

/// Checks both tools start (`-version`), for `/readyz` and the start-up log.
pub async fn check(ffmpeg: &Path, ffprobe: &Path) -> Result<(), String> {
    let version = std::ffi::OsStr::new("-version");
    for (program, var) in [(ffmpeg, "FFMPEG"), (ffprobe, "FFPROBE")] {
        match run(program, var, &[version], Duration::from_secs(5)).await {
            Ok(out) if out.status.success() => {}
            Ok(out) => {
                return Err(format!(
                    "{} -version exited with {}",
                    program.display(),
                    out.status
                ))
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(())
}

/// The last non-empty line of a tool's stderr, trimmed: ffmpeg puts the actual reason there.
pub fn last_line(stderr: &[u8]) -> String {
    String::from_utf8_lossy(stderr)
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("no error output")
        .chars()
        .take(300)
        .collect()
}
