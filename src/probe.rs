//! Running another program to ask it something (a shell's environment, where zsh reads its
//! files, a Python's view of the caches): stdin closed, one output captured, a time limit,
//! and a process group of its own, so that whatever it leaves behind (a background job a
//! startup file starts, which may hold the output open) is ended with it.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Result;
use wait_timeout::ChildExt;

/// Which of the program's outputs is the answer (the other is dropped).
#[derive(Clone, Copy)]
pub enum Answer {
    Stdout,
    Stderr,
}

/// Runs `cmd` and returns what it wrote to `answer`; an error when it cannot start or
/// outlives `timeout` (then it and everything it started are killed).
pub fn run(mut cmd: Command, timeout: Duration, answer: Answer) -> Result<Vec<u8>> {
    use std::os::unix::process::CommandExt;
    let (out, err) = match answer {
        Answer::Stdout => (Stdio::piped(), Stdio::null()),
        Answer::Stderr => (Stdio::null(), Stdio::piped()),
    };
    cmd.stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0);
    let started = Instant::now();
    let mut child = cmd.spawn()?;
    let group = child.id() as libc::pid_t;
    let end_group = || {
        // SAFETY: kill(2) with a negative pid signals the probe's own process group only.
        unsafe { libc::kill(-group, libc::SIGKILL) };
    };
    let mut pipe: Box<dyn Read + Send> = match answer {
        Answer::Stdout => Box::new(child.stdout.take().expect("piped stdout")),
        Answer::Stderr => Box::new(child.stderr.take().expect("piped stderr")),
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        let _ = tx.send(buf);
    });
    if child.wait_timeout(timeout)?.is_none() {
        end_group();
        let _ = child.wait();
        anyhow::bail!("timed out after {}s", timeout.as_secs());
    }
    // The program has ended; its output is complete unless something it started keeps the
    // pipe open: that is given the rest of the time (at most half a second), then ended.
    let left = timeout.saturating_sub(started.elapsed());
    let got = rx.recv_timeout(left.min(Duration::from_millis(500)));
    end_group();
    Ok(match got {
        Ok(buf) => buf,
        Err(_) => rx
            .recv_timeout(Duration::from_millis(200))
            .unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_background_job_holding_the_output_does_not_hold_the_caller() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "printf answer; (sleep 30; echo late) &"]);
        let t = Instant::now();
        let out = run(cmd, Duration::from_secs(10), Answer::Stdout).unwrap();
        assert_eq!(out, b"answer");
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    }

    #[test]
    fn stderr_is_the_answer_when_asked() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "printf out; printf err >&2"]);
        let out = run(cmd, Duration::from_secs(10), Answer::Stderr).unwrap();
        assert_eq!(out, b"err");
    }

    #[test]
    fn a_program_that_outlives_its_time_is_an_error() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "sleep 30"]);
        let t = Instant::now();
        assert!(run(cmd, Duration::from_millis(300), Answer::Stdout).is_err());
        assert!(t.elapsed() < Duration::from_secs(5));
    }
}
