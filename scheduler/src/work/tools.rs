//! Running ffmpeg and ffprobe: each run has a time limit and is killed if the job is dropped
//! (timeout, shutdown), so a stuck encoder never outlives its job or holds a lease forever.
//! Transcodes run through `nice` ([`run_niced`]) at a lower CPU priority than the servers, and
//! report how far they got from ffmpeg's `-progress` output ([`progress_us`]). Every tool is
//! started under `setpriv --pdeathsig KILL` where util-linux has it ([`command`]), so a tool
//! dies with the scheduler even when the scheduler itself is killed outright (SIGKILL, OOM),
//! which no drop handler survives.
//!
//! Which ffmpeg arguments to use is `encode.rs`' business; what a failed run means is
//! `context.rs`' ([`super::WorkError::from_failed_run`]).

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::LazyLock;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

/// The niceness transcodes run at: below the servers (0), so viewers are served first when
/// the CPU is short; 10 is what `nice` applies by default.
pub const NICENESS: &str = "10";

/// At most this much of a tool's error output is kept: the end, where ffmpeg says why it
/// stopped.
const STDERR_KEEP: usize = 64 * 1024;

/// Whether `setpriv --pdeathsig` works here, found out once.
static SETPRIV: LazyLock<bool> = LazyLock::new(|| {
    let works = std::process::Command::new("setpriv")
        .args(["--pdeathsig", "KILL", "true"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !works {
        tracing::warn!("setpriv not found: a killed scheduler may leave ffmpeg running");
    }
    works
});

/// Starts `program` so that the kernel kills it when the scheduler dies (`PR_SET_PDEATHSIG`
/// through util-linux's `setpriv`, which keeps it across the `exec` of `nice` and of the tool).
/// Without `setpriv` (not Linux, a minimal image) the tool runs bare, and `kill_on_drop`
/// still covers every end but a killed scheduler.
fn command(program: impl AsRef<std::ffi::OsStr>) -> tokio::process::Command {
    if *SETPRIV {
        let mut cmd = tokio::process::Command::new("setpriv");
        cmd.args(["--pdeathsig", "KILL", "--"]).arg(program);
        cmd
    } else {
        tokio::process::Command::new(program)
    }
}

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
    let child = command(program)
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
        // `setpriv` answers 127 when it cannot find the program (like `nice` below).
        Ok(Ok(output)) if output.status.code() == Some(127) && *SETPRIV => {
            Err(ToolError::Missing {
                program: program.to_path_buf(),
                var,
            })
        }
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

/// What a niced run left: how it ended and the end of its error output.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stderr: Vec<u8>,
}

/// Runs `nice -n 10 program args` in `dir` for at most `timeout`, storing each `out_time_us`
/// that ffmpeg's `-progress pipe:1` writes on stdout into `progress` (microseconds of output
/// made so far), and keeping the end of stderr. `var` names the variable that configures
/// `program`, for the "not found" message.
pub async fn run_niced(
    program: &Path,
    var: &'static str,
    args: &[&std::ffi::OsStr],
    dir: &Path,
    timeout: Duration,
    progress: &AtomicU64,
) -> Result<Finished, ToolError> {
    let mut child = command("nice")
        .args(["-n", NICENESS])
        .arg(program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| ToolError::Io {
            program: PathBuf::from("nice"),
            source,
        })?;
    let (Some(stdout), Some(mut stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(ToolError::Io {
            program: program.to_path_buf(),
            source: std::io::Error::other("no pipes to the child"),
        });
    };
    let read_progress = async {
        let mut lines = BufReader::new(stdout).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(us) = progress_us(&line) {
                progress.store(us, Ordering::Relaxed);
            }
        }
    };
    let read_errors = async {
        let mut kept = Vec::new();
        let mut buf = vec![0u8; 8192];
        while let Ok(n) = stderr.read(&mut buf).await {
            if n == 0 {
                break;
            }
            kept.extend_from_slice(&buf[..n]);
            if kept.len() > 2 * STDERR_KEEP {
                kept.drain(..kept.len() - STDERR_KEEP);
            }
        }
        kept
    };
    let run = async {
        let ((), stderr, status) = tokio::join!(read_progress, read_errors, child.wait());
        (status, stderr)
    };
    // Dropping `run` at the timeout drops nothing that owns the child; returning drops the
    // child, and kill_on_drop kills it.
    let (status, stderr) = match tokio::time::timeout(timeout, run).await {
        Ok(done) => done,
        Err(_) => {
            return Err(ToolError::Timeout {
                program: program.to_path_buf(),
                timeout,
            })
        }
    };
    let status = status.map_err(|source| ToolError::Io {
        program: program.to_path_buf(),
        source,
    })?;
    // `nice` answers 127 when it cannot find the program and 126 when it cannot run it.
    match status.code() {
        Some(127) => Err(ToolError::Missing {
            program: program.to_path_buf(),
            var,
        }),
        Some(126) => Err(ToolError::Io {
            program: program.to_path_buf(),
            source: std::io::Error::other(last_line(&stderr)),
        }),
        _ => Ok(Finished { status, stderr }),
    }
}

/// The output time in microseconds from one line of ffmpeg's `-progress` output
/// (`out_time_us=1880078`); `None` for every other line and for `N/A` (nothing made yet).
/// (`out_time_ms` is microseconds too, a long-standing ffmpeg quirk, so only `_us` is read.)
pub fn progress_us(line: &str) -> Option<u64> {
    line.trim().strip_prefix("out_time_us=")?.parse().ok()
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

/// The last `n` non-empty lines of a tool's stderr, trimmed and joined with ` | `, oldest
/// first: ffmpeg names the cause a line or two before its final "Invalid data found".
pub fn last_lines(stderr: &[u8], n: usize) -> String {
    let text = String::from_utf8_lossy(stderr);
    let mut lines: Vec<&str> = text
        .lines()
        .rev()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .take(n)
        .collect();
    if lines.is_empty() {
        return "no error output".to_string();
    }
    lines.reverse();
    lines
        .iter()
        .map(|l| l.chars().take(300).collect::<String>())
        .collect::<Vec<_>>()
        .join(" | ")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_output_time_from_progress_lines() {
        let block = "frame=50\nfps=0.00\nbitrate=  61.6kbits/s\ntotal_size=14477\n\
                     out_time_us=1880078\nout_time_ms=1880078\nout_time=00:00:01.880078\n\
                     speed=19.7x\nprogress=end\n";
        let times: Vec<u64> = block.lines().filter_map(progress_us).collect();
        assert_eq!(times, vec![1880078]);
        assert_eq!(progress_us("out_time_us=N/A"), None);
        assert_eq!(progress_us("out_time_us=-9223372036854775807"), None);
        assert_eq!(progress_us("  out_time_us=42\r"), Some(42));
        assert_eq!(progress_us("progress=continue"), None);
    }

    #[test]
    fn the_last_line_is_the_reason() {
        assert_eq!(last_line(b"a\nthe reason\n\n  \n"), "the reason");
        assert_eq!(last_line(b""), "no error output");
        let stderr = b"[mov,mp4 @ 0x1] moov atom not found\n/x: Invalid data found\n";
        assert_eq!(
            last_lines(stderr, 3),
            "[mov,mp4 @ 0x1] moov atom not found | /x: Invalid data found"
        );
        assert_eq!(last_lines(stderr, 1), "/x: Invalid data found");
        assert_eq!(last_lines(b"\n", 3), "no error output");
    }

    #[tokio::test]
    async fn a_niced_run_reports_missing_programs_and_keeps_stderr() {
        let progress = AtomicU64::new(0);
        let dir = std::env::temp_dir();
        let missing = run_niced(
            Path::new("/nonexistent/ffmpeg"),
            "FFMPEG",
            &[],
            &dir,
            Duration::from_secs(5),
            &progress,
        )
        .await
        .unwrap_err();
        assert!(
            matches!(missing, ToolError::Missing { var: "FFMPEG", .. }),
            "{missing}"
        );

        let script: [&std::ffi::OsStr; 2] = [
            "-c".as_ref(),
            "echo out_time_us=5; echo out_time_us=7; echo why >&2; nice_value=$(nice); \
             echo niceness=$nice_value >&2; exit 3"
                .as_ref(),
        ];
        let done = run_niced(
            Path::new("sh"),
            "FFMPEG",
            &script,
            &dir,
            Duration::from_secs(5),
            &progress,
        )
        .await
        .unwrap();
        assert_eq!(done.status.code(), Some(3));
        assert_eq!(progress.load(Ordering::Relaxed), 7);
        let stderr = String::from_utf8_lossy(&done.stderr);
        assert!(stderr.contains("why"), "{stderr}");
        let ours: i32 =
            String::from_utf8(std::process::Command::new("nice").output().unwrap().stdout)
                .unwrap()
                .trim()
                .parse()
                .unwrap();
        let expected = format!("niceness={}", (ours + 10).min(19));
        assert!(
            stderr.contains(&expected),
            "runs at a lower priority: {stderr}"
        );

        let slow: [&std::ffi::OsStr; 2] = ["-c".as_ref(), "exec sleep 30".as_ref()];
        let timed_out = run_niced(
            Path::new("sh"),
            "FFMPEG",
            &slow,
            &dir,
            Duration::from_millis(200),
            &progress,
        )
        .await
        .unwrap_err();
        assert!(
            matches!(timed_out, ToolError::Timeout { .. }),
            "{timed_out}"
        );
    }
}
