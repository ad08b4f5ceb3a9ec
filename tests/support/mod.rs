//! Shared parts of the end-to-end tests: a fake upstream feed server, the
//! real `tidings` binary run as a child process, config files, and Atom
//! validation with `jing`. Everything listens on 127.0.0.1 only.

#![allow(dead_code)] // each test binary uses a different subset

use axum::Router;
use axum::body::Body;
use axum::extract::{Path as AxPath, State};
use axum::http::{HeaderMap, Response, header};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The shared test material next to the project (see ../shared/README.md).
pub fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared")
}

/// Snapshots of one news-replay feed, oldest first.
pub fn replay_snapshots(feed: &str) -> Vec<PathBuf> {
    let dir = shared().join("news-replay").join(feed);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        .collect();
    files.sort();
    files
}

pub fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

// ---------------------------------------------------------------- upstream

/// One document the fake upstream serves at a path, with an ETag.
#[derive(Clone)]
struct Doc {
    body: Vec<u8>,
    content_type: &'static str,
    etag: String,
}

/// A scripted answer: status, headers, body, and a delay before answering.
#[derive(Clone, Debug, Default)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub delay: Duration,
}

impl Reply {
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            ..Reply::default()
        }
    }

    pub fn ok(body: Vec<u8>) -> Reply {
        Reply {
            status: 200,
            body,
            ..Reply::default()
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn delay(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }

    pub fn redirect(status: u16, location: &str) -> Reply {
        Reply::status(status).header("location", location)
    }
}

enum Route {
    Doc(Doc),
    /// Answers in order; the last answer repeats.
    Script(std::collections::VecDeque<Reply>),
}

/// A request the upstream received.
#[derive(Clone, Debug)]
pub struct Seen {
    pub path: String,
    pub host: String,
    pub if_none_match: Option<String>,
    pub if_modified_since: Option<String>,
    pub user_agent: Option<String>,
    pub headers: HeaderMap,
    pub status: u16,
    pub at: Instant,
}

#[derive(Default)]
struct UpstreamState {
    routes: HashMap<String, Route>,
    seen: Vec<Seen>,
    version: u64,
    /// Requests being answered right now, and the most ever, per Host.
    in_flight: HashMap<String, usize>,
    max_in_flight: HashMap<String, usize>,
}

/// A fake feed server on 127.0.0.1 that records every request. Documents
/// set with [`Upstream::set`] carry an ETag and get `304` for a matching
/// `If-None-Match`, like a well-behaved publisher; [`Upstream::script`]
/// plays any sequence of answers.
pub struct Upstream {
    pub addr: SocketAddr,
    state: Arc<Mutex<UpstreamState>>,
}

impl Upstream {
    pub async fn start() -> Upstream {
        Upstream::start_on("127.0.0.1").await
    }

    /// Starts on another loopback address (e.g. 127.0.0.2: another host).
    pub async fn start_on(ip: &str) -> Upstream {
        let state = Arc::new(Mutex::new(UpstreamState::default()));
        let app = Router::new()
            .route("/{*path}", axum::routing::get(upstream_get))
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind((ip, 0))
            .await
            .expect("bind upstream");
        let addr = listener.local_addr().expect("upstream addr");
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("upstream server");
        });
        Upstream { addr, state }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{}", self.addr, path.trim_start_matches('/'))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, UpstreamState> {
        self.state.lock().expect("upstream lock")
    }

    /// Serves `body` at `path` from now on, with a fresh ETag.
    pub fn set(&self, path: &str, body: Vec<u8>) {
        let content_type = if body.first() == Some(&b'{') {
            "application/feed+json"
        } else {
            "application/xml"
        };
        let mut st = self.lock();
        st.version += 1;
        let etag = format!("\"v{}\"", st.version);
        st.routes.insert(
            path.trim_start_matches('/').to_owned(),
            Route::Doc(Doc {
                body,
                content_type,
                etag,
            }),
        );
    }

    /// Answers requests for `path` with `replies` in order, repeating the last.
    pub fn script(&self, path: &str, replies: Vec<Reply>) {
        self.lock().routes.insert(
            path.trim_start_matches('/').to_owned(),
            Route::Script(replies.into()),
        );
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.lock().seen.clone()
    }

    pub fn seen_at(&self, path: &str) -> Vec<Seen> {
        let path = path.trim_start_matches('/');
        self.seen().into_iter().filter(|s| s.path == path).collect()
    }

    pub fn requests(&self) -> usize {
        self.lock().seen.len()
    }

    /// The most requests this server ever answered at once for one Host.
    pub fn max_concurrent(&self) -> usize {
        self.lock()
            .max_in_flight
            .values()
            .copied()
            .max()
            .unwrap_or(0)
    }
}

async fn upstream_get(
    State(state): State<Arc<Mutex<UpstreamState>>>,
    AxPath(path): AxPath<String>,
    headers: HeaderMap,
) -> Response<Body> {
    let header = |name| {
        headers
            .get(name)
            .and_then(|v: &axum::http::HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    let host = header(header::HOST).unwrap_or_default();
    let if_none_match = header(header::IF_NONE_MATCH);
    let reply = {
        let mut st = state.lock().expect("upstream lock");
        let in_flight = {
            let n = st.in_flight.entry(host.clone()).or_default();
            *n += 1;
            *n
        };
        let max = st.max_in_flight.entry(host.clone()).or_default();
        *max = (*max).max(in_flight);
        match st.routes.get_mut(&path) {
            None => Reply::status(404),
            Some(Route::Doc(doc)) if if_none_match.as_deref() == Some(doc.etag.as_str()) => {
                Reply::status(304).header("etag", &doc.etag)
            }
            Some(Route::Doc(doc)) => Reply::ok(doc.body.clone())
                .header("content-type", doc.content_type)
                .header("etag", &doc.etag),
            Some(Route::Script(replies)) => {
                if replies.len() > 1 {
                    replies.pop_front().unwrap_or_default()
                } else {
                    replies
                        .front()
                        .cloned()
                        .unwrap_or_else(|| Reply::status(404))
                }
            }
        }
    };
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let mut st = state.lock().expect("upstream lock");
    if let Some(n) = st.in_flight.get_mut(&host) {
        *n -= 1;
    }
    st.seen.push(Seen {
        path,
        host,
        if_none_match,
        if_modified_since: header(header::IF_MODIFIED_SINCE),
        user_agent: header(header::USER_AGENT),
        headers: headers.clone(),
        status: reply.status,
        at: Instant::now(),
    });
    let mut response = Response::builder().status(reply.status);
    for (name, value) in &reply.headers {
        response = response.header(name.as_str(), value.as_str());
    }
    response
        .body(Body::from(reply.body))
        .expect("valid response")
}

// ---------------------------------------------------------------- config

/// A temporary directory holding a config file (and the store, `data/`).
pub struct Setup {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
}

impl Setup {
    /// Writes a config polling `feeds` (URLs) with the given extra TOML
    /// (topics etc.). The daemon listens on a random port.
    pub fn new(feeds: &[String], extra: &str) -> Setup {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut toml = String::from(
            "[server]\nlisten = \"127.0.0.1:0\"\n\n[storage]\npath = \"data\"\n\n[polling]\ninterval = \"1h\"\nconcurrency = 4\ntimeout = \"10s\"\n\n",
        );
        for url in feeds {
            toml.push_str(&format!("[[feed]]\nurl = \"{url}\"\n\n"));
        }
        toml.push_str(extra);
        let config = dir.path().join("tidings.toml");
        std::fs::write(&config, toml).expect("write config");
        Setup { dir, config }
    }

    /// Runs `tidings <args> --config <this config>` to completion.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_tidings"))
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .output()
            .expect("run tidings")
    }

    /// `tidings poll --once`; returns stdout, asserting exit 0.
    pub fn poll_once(&self) -> String {
        let out = self.cli(&["poll", "--once"]);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "poll --once failed: {}\nstdout:\n{stdout}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    pub fn start_daemon(&self) -> Daemon {
        Daemon::start(&self.config, &[])
    }

    /// Starts the daemon with extra environment variables.
    pub fn start_daemon_with_env(&self, env: &[(&str, &str)]) -> Daemon {
        Daemon::start(&self.config, env)
    }

    /// Rewrites the config file.
    pub fn write_config(&self, text: &str) {
        std::fs::write(&self.config, text).expect("write config");
    }

    pub fn config_text(&self) -> String {
        std::fs::read_to_string(&self.config).expect("read config")
    }

    /// Polls every feed this often instead of the default hour.
    pub fn poll_every(&self, interval: &str) {
        let text = self
            .config_text()
            .replace("interval = \"1h\"", &format!("interval = \"{interval}\""));
        self.write_config(&text);
    }
}

/// Sums the "N new" / "N updated" figures of a `poll --once` total line.
pub fn poll_totals(stdout: &str) -> (usize, usize) {
    let total = stdout
        .lines()
        .find(|l| l.starts_with("total:"))
        .unwrap_or_else(|| panic!("no total line in:\n{stdout}"));
    let number_before = |word: &str| -> usize {
        let idx = total
            .find(word)
            .unwrap_or_else(|| panic!("no {word:?} in {total:?}"));
        total[..idx]
            .split_whitespace()
            .last()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no number before {word:?} in {total:?}"))
    };
    (number_before(" new"), number_before(" updated"))
}

// ---------------------------------------------------------------- daemon

/// The real `tidings run` as a child process.
pub struct Daemon {
    child: Child,
    pub base: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Daemon {
    pub fn start(config: &Path, env: &[(&str, &str)]) -> Daemon {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tidings"))
            .args(["run", "--config"])
            .arg(config)
            .envs(env.iter().copied())
            .env("TIDINGS_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn tidings run");
        let stderr = child.stderr.take().expect("stderr piped");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = line.split("listening on http://").nth(1) {
                    let _ = tx.send(addr.split_whitespace().next().unwrap_or("").to_owned());
                }
                sink.lock().expect("log lock").push(line);
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "daemon did not report its address; log:\n{}",
                    log.lock().expect("log").join("\n")
                );
            }
        };
        Daemon {
            child,
            base: format!("http://{addr}"),
            log,
        }
    }

    pub fn log(&self) -> String {
        self.log.lock().expect("log lock").join("\n")
    }

    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        tidings::fetch::install_crypto_provider();
        reqwest::get(format!("{}{}", self.base, path))
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    pub async fn get_text(&self, path: &str) -> String {
        let resp = self.get(path).await;
        assert_eq!(resp.status(), 200, "GET {path}");
        resp.text().await.expect("body")
    }

    /// Waits (up to 30 s) until `/healthz` reports at least `n` entries.
    pub async fn wait_for_entries(&self, n: usize) -> usize {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let body = self.get_text("/healthz").await;
            let count: usize = body
                .split_whitespace()
                .nth(1)
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("unexpected /healthz body {body:?}"));
            if count >= n {
                return count;
            }
            assert!(
                Instant::now() < deadline,
                "only {count} of {n} entries after 30s; log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sends a signal (`"HUP"`, `"TERM"`, …) to the daemon.
    pub fn signal(&self, name: &str) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill")
            .args([&format!("-{name}"), &pid])
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits (up to 30 s) until the log has a line containing `needle`.
    pub async fn wait_for_log(&self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.log().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "no {needle:?} in the log after 30s:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL (no chance to flush or finish anything), then waits for the
    /// process to be gone; returns the log.
    pub fn kill9(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Let the reader thread drain the last lines.
        std::thread::sleep(Duration::from_millis(50));
        self.log()
    }

    /// SIGTERM, then waits for a clean exit; returns the log.
    pub fn stop(mut self) -> String {
        self.signal("TERM");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                // Let the reader thread drain the last lines.
                std::thread::sleep(Duration::from_millis(50));
                let log = self.log();
                assert!(status.success(), "daemon exited with {status}; log:\n{log}");
                return log;
            }
            assert!(Instant::now() < deadline, "daemon did not stop within 30s");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------- Atom

/// Validates an Atom document against RFC 4287's RELAX NG schema with
/// `jing`. `jing` must be installed (`scripts/test` installs it): a test
/// never silently skips validation.
pub fn assert_valid_atom(xml: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("feed.atom");
    std::fs::write(&file, xml).expect("write feed");
    let schema = shared().join("schema/atom.rnc");
    let out = Command::new("jing")
        .arg("-c")
        .arg(&schema)
        .arg(&file)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run jing ({e}); install it with scripts/test or `apt-get install jing`")
        });
    assert!(
        out.status.success() && out.stdout.is_empty(),
        "served feed is not valid Atom:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Parses a served Atom document with feed-rs (an independent reader).
pub fn parse_atom(xml: &str) -> feed_rs::model::Feed {
    feed_rs::parser::parse(xml.as_bytes()).expect("served feed parses")
}
