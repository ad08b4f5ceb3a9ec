//! The command line as an admin meets it: config mistakes, exit codes, and
//! `poll --once` reporting per-feed errors without failing.

mod support;

use std::process::Command;
use support::*;

fn tidings(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tidings"))
        .args(args)
        .env_remove("TIDINGS_CONFIG")
        .output()
        .expect("run tidings")
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path.to_string_lossy().into_owned()
}

#[test]
fn check_config_and_run_report_the_same_located_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases = [
        (
            "[[feed]]\nurl = \"https://a.example/rss\"\nintervall = \"15m\"\n",
            ":3:1: unknown field `intervall`",
        ),
        (
            "[polling]\ninterval = \"soon\"\n",
            ":2:12: invalid duration \"soon\"",
        ),
        ("[polling]\nconcurrency = \"many\"\n", ":2:15: invalid type"),
        (
            "[[feed]]\nurl = \"ftp://a.example/rss\"\n",
            ":2:7: invalid URL",
        ),
        (
            "[[feed]]\nurl = \"https://a.example/rss\"\n[[feed]]\nurl = \"https://a.example/rss\"\n",
            ":4:7: duplicate feed URL",
        ),
        (
            "[[topic]]\nslug = \"x\"\nquery = \"a\"\n[[topic]]\nslug = \"x\"\nquery = \"b\"\n",
            ":5:8: duplicate topic slug",
        ),
        (
            "[[topic]]\nslug = \"x\"\nquery = \"russia AND (china OR\"\n",
            ":3:30: invalid query of topic \"x\"",
        ),
        (
            "[server]\nlisten = \"8080\"\n",
            ":2:10: invalid listen address",
        ),
        ("[server\n", ":1:8:"),
    ];
    for (i, (text, expected)) in cases.iter().enumerate() {
        let config = write(dir.path(), &format!("c{i}.toml"), text);
        for command in ["check-config", "run"] {
            let out = tidings(&[command, "--config", &config]);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{command} {text:?}: {stderr}");
            assert!(
                stderr.contains(&format!("{config}{expected}")),
                "{command} {text:?}: expected {expected:?} in:\n{stderr}"
            );
            assert!(stderr.contains('^'), "a caret under the problem:\n{stderr}");
        }
    }
    let out = tidings(&["check-config", "--config", "/nonexistent/tidings.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read the config file"));
}

#[test]
fn the_shipped_config_is_valid() {
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/config/tidings.toml");
    let out = tidings(&["check-config", "--config", config]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let feeds: usize = stdout
        .lines()
        .find_map(|l| l.trim().strip_suffix(" feeds:"))
        .and_then(|n| n.parse().ok())
        .expect("feed count line");
    assert!(feeds >= 15, "{stdout}");
    assert!(stdout.contains("/feeds/russia-china.atom"), "{stdout}");
}

#[test]
fn the_config_path_comes_from_the_environment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write(dir.path(), "env.toml", "[polling]\ninterval = \"5m\"\n");
    let out = Command::new(env!("CARGO_BIN_EXE_tidings"))
        .arg("check-config")
        .env("TIDINGS_CONFIG", &config)
        .output()
        .expect("run");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("every 5m"));
    // Without either, the system path is used (and does not exist here).
    let out = tidings(&["check-config"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("/etc/tidings/tidings.toml"));
}

#[tokio::test(flavor = "multi_thread")]
async fn poll_once_reports_failing_feeds_and_still_exits_zero() {
    let up = Upstream::start().await;
    up.set(
        "ok.xml",
        read(&replay_snapshots("theplakhovgroup-reading/gzero")[0]),
    );
    up.set(
        "login.html",
        b"<!DOCTYPE html><html><body>Please log in</body></html>".to_vec(),
    );
    // A port nothing listens on: bind, note the port, close.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let refused = format!("http://{}/feed.xml", closed.local_addr().expect("addr"));
    drop(closed);
    let feeds = [
        up.url("ok.xml"),
        up.url("missing.xml"),
        up.url("login.html"),
        refused.clone(),
    ];
    let setup = Setup::new(&feeds, "");
    let out = setup.poll_once();
    let line = |url: &str| {
        out.lines()
            .find(|l| l.split_whitespace().nth(1) == Some(url))
            .unwrap_or_else(|| panic!("no line for {url} in:\n{out}"))
            .to_owned()
    };
    assert!(line(&feeds[0]).starts_with("new"), "{out}");
    assert!(
        line(&feeds[1]).contains("error: HTTP 404 Not Found"),
        "{out}"
    );
    assert!(
        line(&feeds[2]).contains("error: not a feed: HTML page (it links to no feed"),
        "{out}"
    );
    assert!(line(&refused).contains("error: connection failed"), "{out}");
    assert!(out.contains("4 feeds polled, 3 failed"), "{out}");
}

#[test]
fn more_mistakes_say_what_to_do_and_both_commands_agree() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases = [
        (
            "[polling]\ninterval = 15\n",
            ":2:12: a duration needs a unit and quotes: write \"15s\" or \"15m\", not 15",
        ),
        (
            "[[feed]]\ntitle = \"No URL\"\n",
            ":1:1: missing field `url`: add it to this table",
        ),
        (
            "[storage]\ncache_mb = -1\n",
            ":2:12: invalid value: integer `-1`, expected u64: write a whole number",
        ),
        (
            "feed = \"https://a.example/rss\"\n",
            ":1:8: invalid type: string \"https://a.example/rss\", expected a sequence: write a list",
        ),
        (
            "[[feed]]\nurl = \"https://a.example/rss\"\nheaders = \"X-Key: 1\"\n",
            ":3:11: invalid type: string \"X-Key: 1\", expected a map: write a table",
        ),
        (
            "[[topic]]\nslug = \"Russia China\"\nquery = \"a\"\n",
            ":2:8: invalid slug \"Russia China\": use lower-case letters",
        ),
        (
            "[server]\nlisten = \"127.0.0.1:99999\"\n",
            ":2:10: invalid listen address",
        ),
    ];
    for (i, (text, expected)) in cases.iter().enumerate() {
        let config = write(dir.path(), &format!("m{i}.toml"), text);
        for command in ["check-config", "run"] {
            let out = tidings(&[command, "--config", &config]);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{command} {text:?}: {stderr}");
            assert!(
                stderr.contains(&format!("{config}{expected}")),
                "{command} {text:?}: expected {expected:?} in:\n{stderr}"
            );
            assert_eq!(
                stderr.matches("error:").count(),
                1,
                "one message:\n{stderr}"
            );
        }
    }
}

#[test]
fn an_unusable_store_or_port_is_located_in_the_config() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "a-file", "x");
    // A store path below a file can never be a directory.
    let config = write(
        dir.path(),
        "store.toml",
        "[server]\nlisten = \"127.0.0.1:0\"\n[storage]\npath = \"a-file/store\"\n",
    );
    let expected = format!("{config}:4:8: cannot open the store at");
    let check = tidings(&["check-config", "--config", &config]);
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert_eq!(check.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(
        stderr.contains("set [storage] path to a directory"),
        "{stderr}"
    );
    let run = tidings(&["run", "--config", &config]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(
        stderr.contains("set [storage] path to a directory"),
        "{stderr}"
    );

    // A port in use: `run` fails at the listen line; `check-config` (which
    // an admin runs while the daemon holds the port) only warns.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr");
    let config = write(
        dir.path(),
        "port.toml",
        &format!("[storage]\npath = \"data\"\n\n[server]\nlisten = \"{addr}\"\n"),
    );
    let run = tidings(&["run", "--config", &config]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("{config}:5:10: cannot listen on {addr}")),
        "{stderr}"
    );
    assert!(
        stderr.contains("set [server] listen to a free port"),
        "{stderr}"
    );
    let check = tidings(&["check-config", "--config", &config]);
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert!(check.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("warning: {addr} is not free right now")),
        "{stderr}"
    );

    // A store held by a running daemon: `run` names the likely cause.
    let config = write(
        dir.path(),
        "held.toml",
        "[server]\nlisten = \"127.0.0.1:0\"\n[storage]\npath = \"held\"\n",
    );
    let daemon = Daemon::start(std::path::Path::new(&config), &[]);
    let second = tidings(&["poll", "--once", "--config", &config]);
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("{config}:4:8: cannot open the store"))
            && stderr.contains("is the daemon running?"),
        "{stderr}"
    );
    daemon.stop();
}
