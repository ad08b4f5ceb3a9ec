//! What the benchmarks share: the news replay in `../shared/news-replay`.

use std::path::{Path, PathBuf};

pub fn replay_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/news-replay")
}

/// Every replay feed's snapshots, oldest first: (feed name, bodies).
pub fn replay() -> Vec<(String, Vec<Vec<u8>>)> {
    let root = replay_root();
    let mut feeds = Vec::new();
    for source in read_dir(&root) {
        for feed in read_dir(&source) {
            let mut files: Vec<PathBuf> = read_dir(&feed)
                .into_iter()
                .filter(|p| p.extension().is_some_and(|e| e == "xml"))
                .collect();
            files.sort();
            let bodies = files
                .iter()
                .map(|f| std::fs::read(f).expect("readable snapshot"))
                .collect();
            let name = feed
                .strip_prefix(&root)
                .expect("under root")
                .to_string_lossy()
                .into_owned();
            feeds.push((name, bodies));
        }
    }
    feeds.sort_by(|a, b| a.0.cmp(&b.0));
    feeds
}

fn read_dir(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    out.sort();
    out
}

/// One measurement as the JSON line `bench/run` reads.
pub fn report(scenario: &str, metric: &str, value: f64, unit: &str) {
    println!(
        "{{\"scenario\":\"{scenario}\",\"metric\":\"{metric}\",\"value\":{value:.3},\"unit\":\"{unit}\"}}"
    );
}
