//! The server binary as a child process whose log lines are collected, for tests that
//! check what it logs (the manifests watcher's, the messages a newcomer meets). The
//! process is killed when the value is dropped.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_headless-dns");

/// A running `headless-dns` with the default log filter (no `RUST_LOG`: what a user who
/// sets none sees) whose stderr lines are kept.
pub struct LoggedProcess {
    /// The process.
    pub child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

impl LoggedProcess {
    /// Runs the binary with `args`; a thread collects its stderr, line by line.
    pub fn spawn(args: &[&str]) -> Self {
        let mut child = Command::new(BIN)
            .args(args)
            .env_remove("RUST_LOG")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let collected = log.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                collected.lock().unwrap().push(line);
            }
        });
        Self { child, log }
    }

    /// The process id, as `kill` and `strace -p` take it.
    pub fn pid(&self) -> String {
        self.child.id().to_string()
    }

    /// Every line logged so far.
    pub fn lines(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// How many lines logged so far contain `needle`.
    pub fn count(&self, needle: &str) -> usize {
        self.log.lock().unwrap().iter().filter(|line| line.contains(needle)).count()
    }

    /// The first line logged so far that `matches`.
    pub fn find(&self, matches: impl Fn(&str) -> bool) -> Option<String> {
        self.log.lock().unwrap().iter().find(|line| matches(line)).cloned()
    }
}

impl Drop for LoggedProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
