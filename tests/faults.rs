//! Storage faults, end to end, with the real operating system: the store
//! lives on a small tmpfs mounted for the test, filled with a filler file
//! to make the disk full and emptied to free it again; a read-only mount
//! for start-up. The real daemon polls a fake upstream throughout.
//!
//! Mounting needs root (the tests and CI run as root). Without it a test
//! fails saying so: it never skips.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use support::*;

/// A tmpfs mounted for one test, unmounted when dropped (even when the
/// test fails).
struct Mount {
    dir: PathBuf,
}

impl Mount {
    fn tmpfs(dir: &Path, size: &str) -> Mount {
        std::fs::create_dir_all(dir).expect("create mount point");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .unwrap_or_else(|e| panic!("cannot run mount(8) ({e}); install util-linux"));
        assert!(
            out.status.success(),
            "cannot mount a tmpfs at {} (these tests need root, as CI runs them): {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        Mount {
            dir: dir.to_owned(),
        }
    }

    fn remount(&self, mode: &str) {
        let out = Command::new("mount")
            .args(["-o", &format!("remount,{mode}")])
            .arg(&self.dir)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "remount {mode} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Bytes still free on the mount.
    fn free(&self) -> u64 {
        let out = Command::new("df")
            .args(["--output=avail", "-B1"])
            .arg(&self.dir)
            .output()
            .expect("run df");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .nth(1)
            .and_then(|l| l.trim().parse().ok())
            .unwrap_or_else(|| panic!("unexpected df output {out:?}"))
    }

    /// Fills the mount with a filler file until `leave` bytes are free
    /// (or, with 0, until a write fails with ENOSPC).
    fn fill(&self, leave: u64) -> PathBuf {
        use std::io::Write;
        let path = self.dir.join("filler");
        let mut file = std::fs::File::create(&path).expect("create filler");
        let chunk = vec![0x5a; 64 * 1024];
        loop {
            let free = self.free();
            if free <= leave {
                break;
            }
            let n = (free - leave).min(chunk.len() as u64) as usize;
            match file.write_all(&chunk[..n]).and_then(|()| file.sync_all()) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(28) => break, // ENOSPC
                Err(e) => panic!("writing the filler: {e}"),
            }
        }
        path
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("mount")
            .args(["-o", "remount,rw"])
            .arg(&self.dir)
            .status();
        let unmounted = Command::new("umount")
            .arg(&self.dir)
            .status()
            .is_ok_and(|s| s.success());
        if !unmounted {
            // Something still holds it open: detach it now, freed once
            // the holder is gone, so no test leaves a mount behind.
            let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        }
    }
}

fn feed(items: std::ops::Range<usize>, body_bytes: usize) -> Vec<u8> {
    let body = "lorem ipsum ".repeat(body_bytes / 12);
    let items: String = items
        .map(|i| {
            format!(
                "<item><guid>item-{i}</guid><title>Story number {i} about the disk</title><link>http://news.example/{i}</link><description>{body}</description></item>"
            )
        })
        .collect();
    format!(
        r#"<?xml version="1.0"?><rss version="2.0"><channel><title>News</title><link>http://news.example/</link><description>d</description>{items}</channel></rss>"#
    )
    .into_bytes()
}

/// The value of one metric line (`name value`) in a Prometheus exposition.
fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

async fn served_entries(daemon: &Daemon) -> usize {
    let xml = daemon.get_text("/feeds/all.atom").await;
    assert_valid_atom(&xml);
    parse_atom(&xml).entries.len()
}

/// The disk fills up (below the reserve) while the daemon runs: each poll
/// that would store something is refused with a clear error, everything
/// stored stays served, the status page, `/readyz` and `/metrics` say why,
/// and storing resumes by itself once space is freed. Nothing is lost
/// across a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_pauses_storing_and_freeing_space_resumes_it() {
    let up = Upstream::start().await;
    let other = Upstream::start_on("127.0.0.2").await;
    let url = up.url("news.xml");
    let setup = Setup::new(
        &[url.clone(), other.url("other.xml")],
        "", // min_free_mb set below
    );
    setup.poll_every("1s");
    let text = setup
        .config_text()
        .replace("path = \"data\"", "path = \"data\"\nmin_free_mb = 8");
    setup.write_config(&text);
    let mount = Mount::tmpfs(&setup.dir.path().join("data"), "32m");
    up.set("news.xml", feed(0..5, 2_000));
    other.set("other.xml", feed(100..101, 100));

    let daemon = setup.start_daemon();
    daemon.wait_for_entries(6).await;
    assert_eq!(
        metric(&daemon.get_text("/metrics").await, "tidings_store_writable"),
        1
    );

    // Leave 2 MiB free: below the 8 MiB reserve.
    let filler = mount.fill(2 << 20);
    up.set("news.xml", feed(0..10, 2_000));
    daemon
        .wait_for_log(&format!(
            "cannot store entries of {url}: no space left on device"
        ))
        .await;
    let log = daemon.log();
    assert!(
        log.contains("free disk space") && log.contains("tidings retries at the next poll"),
        "the error says what to do:\n{log}"
    );
    // Other work goes on: the other feed is still polled.
    let polled = other.seen_at("other.xml").len();
    let deadline = Instant::now() + Duration::from_secs(30);
    while other.seen_at("other.xml").len() < polled + 2 {
        assert!(
            Instant::now() < deadline,
            "the other feed is no longer polled"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Everything stored is still served, and the admin can see why
    // nothing new is.
    assert_eq!(served_entries(&daemon).await, 6);
    let ready = daemon.get("/readyz").await;
    assert_eq!(ready.status(), 200, "a daemon that serves stays ready");
    let ready = ready.text().await.expect("body");
    assert!(
        ready.contains("store not writable: no space left on device"),
        "{ready}"
    );
    let metrics = daemon.get_text("/metrics").await;
    assert_eq!(metric(&metrics, "tidings_store_writable"), 0);
    assert!(metric(&metrics, "tidings_store_write_errors_total") >= 1);
    let page = daemon.get_text("/").await;
    assert!(page.contains("Store not writable"), "{page}");

    // Free the space: the next poll stores, without a restart.
    std::fs::remove_file(&filler).expect("remove filler");
    daemon.wait_for_entries(11).await;
    assert_eq!(served_entries(&daemon).await, 11);
    assert_eq!(
        metric(&daemon.get_text("/metrics").await, "tidings_store_writable"),
        1
    );
    assert!(!daemon.get_text("/").await.contains("Store not writable"));

    let log = daemon.stop();
    assert!(!log.contains("panicked"), "{log}");
    let daemon = setup.start_daemon();
    assert_eq!(served_entries(&daemon).await, 11, "nothing lost");
    drop(daemon);
    drop(mount);
}

/// With no reserve, the disk really runs out under sled (ENOSPC while it
/// writes its log): sled refuses every later write to that database. The
/// daemon keeps serving and says what happened; once space is freed it
/// moves the store to a fresh database by itself and storing resumes,
/// with nothing stored before lost, then or after a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_failing_with_enospc_keeps_serving_and_recovers_without_a_restart() {
    let up = Upstream::start().await;
    let url = up.url("news.xml");
    let setup = Setup::new(std::slice::from_ref(&url), "");
    setup.poll_every("1s");
    let text = setup
        .config_text()
        .replace("path = \"data\"", "path = \"data\"\nmin_free_mb = 0");
    setup.write_config(&text);
    let mount = Mount::tmpfs(&setup.dir.path().join("data"), "32m");
    up.set("news.xml", feed(0..5, 2_000));

    let daemon = setup.start_daemon();
    daemon.wait_for_entries(5).await;
    let filler = mount.fill(0);
    // Big new entries: they need fresh pages of the (full) file system.
    up.set("news.xml", feed(0..20, 50_000));
    daemon
        .wait_for_log(&format!(
            "cannot store entries of {url}: a write failed (No space left on device"
        ))
        .await;
    let ready = daemon.get_text("/readyz").await;
    assert!(ready.contains("fresh database"), "{ready}");
    assert!(served_entries(&daemon).await >= 5, "still serving");
    assert_eq!(
        metric(&daemon.get_text("/metrics").await, "tidings_store_writable"),
        0
    );

    // Free the space: the daemon recovers on its own.
    std::fs::remove_file(&filler).expect("remove filler");
    daemon.wait_for_log("store compacted").await;
    daemon.wait_for_entries(20).await;
    let metrics = daemon.get_text("/metrics").await;
    assert_eq!(metric(&metrics, "tidings_store_writable"), 1);
    let xml = daemon.get_text("/feeds/all.atom").await;
    assert_valid_atom(&xml);
    let ids = |xml: &str| -> std::collections::HashSet<String> {
        parse_atom(xml).entries.into_iter().map(|e| e.id).collect()
    };
    let titles: Vec<String> = parse_atom(&xml)
        .entries
        .into_iter()
        .filter_map(|e| e.title.map(|t| t.content))
        .collect();
    assert_eq!(
        ids(&xml).len(),
        20,
        "every entry once: {titles:?}\n{}",
        daemon.log()
    );
    // A clean stop flushes the fresh database; the next start has it all.
    let log = daemon.stop();
    assert!(log.contains("store flushed"), "{log}");
    let daemon = setup.start_daemon();
    assert_eq!(daemon.wait_for_entries(20).await, 20);
    assert_eq!(ids(&daemon.get_text("/feeds/all.atom").await), ids(&xml));
    drop(daemon);
    drop(mount);
}

/// A store on a read-only file system is a located config error with what
/// to do, from `check-config` and `run` alike.
#[test]
fn a_read_only_store_path_is_a_located_config_error() {
    let setup = Setup::new(&[], "");
    let mount = Mount::tmpfs(&setup.dir.path().join("data"), "1m");
    mount.remount("ro");
    let config = setup.config.display().to_string();
    for command in [&["check-config"][..], &["run"][..]] {
        let out = setup.cli(command);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{command:?} must fail:\n{stderr}");
        assert!(
            stderr.contains(&format!("{config}:5:8:"))
                && stderr.contains("read-only")
                && stderr.contains("remount it read-write"),
            "{command:?}:\n{stderr}"
        );
    }
    drop(mount);
}
