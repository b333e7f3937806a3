//! A real `cuppa serve` process on a free loopback port, for the tests that need what only a
//! process has: a browser talking to it over TCP, `kill -9`, SIGTERM, a database that goes away,
//! a second process on the same database (replicas).
//!
//! Its stdout and stderr go to files in a folder of its own, so nothing blocks on a full pipe
//! and a failing test can say what the server printed.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

static NEXT_DIR: AtomicUsize = AtomicUsize::new(0);

/// How long a start may take: migrations on a fresh database, or `initdb` for the embedded one.
const START_LIMIT: Duration = Duration::from_secs(60);

pub struct Served {
    child: Child,
    pub addr: SocketAddr,
    /// `http://127.0.0.1:port`, with no trailing slash.
    pub base: String,
    /// The process's own folder: its data directory (mail, the embedded cluster), stdout, stderr.
    pub dir: PathBuf,
}

/// What to start: `serve` with these options, on `database_url` or the embedded default.
pub struct Options<'a> {
    /// `None` runs on the embedded database under the process's folder.
    pub database_url: Option<&'a str>,
    /// Extra arguments after `serve` (`--no-jobs`, `--demo`).
    pub serve_args: &'a [&'a str],
    /// Extra environment, such as `RUST_LOG`.
    pub env: &'a [(&'a str, &'a str)],
}

impl Served {
    /// Starts `cuppa serve` and waits until it prints its address.
    pub fn start(options: Options<'_>) -> Served {
        let mut served = Served::spawn(options);
        served.wait_until_listening();
        served
    }

    /// Starts several `cuppa serve` processes at the same moment (replicas, usually on one
    /// database) and waits until each prints its address. Started one after the other, the
    /// first would have run its start-up jobs before the second began: spawned together,
    /// their jobs start together too.
    pub fn start_together(all: Vec<Options<'_>>) -> Vec<Served> {
        let mut started: Vec<Served> = all.into_iter().map(Served::spawn).collect();
        for served in &mut started {
            served.wait_until_listening();
        }
        started
    }

    /// Spawns the process without waiting for it: its address is unknown until
    /// [`Served::wait_until_listening`].
    fn spawn(options: Options<'_>) -> Served {
        let dir = std::env::temp_dir().join(format!(
            "cuppa-served-{}-{}",
            std::process::id(),
            NEXT_DIR.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a folder for the server");
        let mut command = Command::new(env!("CARGO_BIN_EXE_cuppa"));
        command
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.join("data"))
            .env_remove("DATABASE_URL")
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(dir.join("stdout")).expect("stdout file"))
            .stderr(std::fs::File::create(dir.join("stderr")).expect("stderr file"));
        if let Some(url) = options.database_url {
            command.args(["--database-url", url]);
        }
        command.arg("serve").args(options.serve_args);
        for (name, value) in options.env {
            command.env(name, value);
        }
        let child = command.spawn().expect("cuppa starts");
        Served { child, addr: SocketAddr::from(([127, 0, 0, 1], 0)), base: String::new(), dir }
    }

    /// Waits until the process prints the address it listens on.
    fn wait_until_listening(&mut self) {
        let started = Instant::now();
        loop {
            let stdout = std::fs::read_to_string(self.dir.join("stdout")).unwrap_or_default();
            if let Some(address) = stdout.lines().find_map(|line| line.strip_prefix("Cuppa is running at http://")) {
                self.addr = address.trim().parse().expect("the printed address parses");
                self.base = format!("http://{}", self.addr);
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("cuppa exited before listening ({status}):\n{}", self.output());
            }
            assert!(started.elapsed() < START_LIMIT, "cuppa did not start in {START_LIMIT:?}:\n{}", self.output());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `path` on this server as a full URL.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends `signal` (`"KILL"`, `"TERM"`) to the process.
    pub fn signal(&self, signal: &str) {
        let sent = Command::new("kill").arg(format!("-{signal}")).arg(self.pid().to_string()).status();
        assert!(sent.is_ok_and(|s| s.success()), "kill -{signal} failed");
    }

    /// Waits for the process to exit, at most `limit`; `None` if it is still running.
    pub fn wait_for_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("the child's status") {
                return Some(status);
            }
            if started.elapsed() >= limit {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// What the process printed so far, for failure messages.
    pub fn output(&self) -> String {
        let read = |name: &str| std::fs::read_to_string(self.dir.join(name)).unwrap_or_default();
        let stderr = read("stderr");
        // The last lines are the ones that explain a failure; a long run logs every request.
        let tail: Vec<&str> = stderr.lines().rev().take(60).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        format!("--- stdout\n{}--- stderr (last lines)\n{}", read("stdout"), tail.join("\n"))
    }

    /// Everything the process logged so far (its stderr), for tests that count log lines.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("stderr")).unwrap_or_default()
    }

    /// The folder the process writes emails to (no SMTP is configured in tests).
    pub fn mail_dir(&self) -> PathBuf {
        self.dir.join("data").join("mail")
    }

    /// The data directory, where the embedded cluster lives when no URL was given.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            // SIGTERM first so an embedded database is stopped with it; then make sure.
            self.signal("TERM");
            if self.wait_for_exit(Duration::from_secs(20)).is_none() {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
        if !std::thread::panicking() {
            remove_quietly(&self.dir);
        }
    }
}

fn remove_quietly(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
}
