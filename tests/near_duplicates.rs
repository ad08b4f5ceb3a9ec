//! How well tidings tells copies of one story from different stories,
//! measured on real pairs from the news-replay snapshots.
//!
//! `tests/data/near_dup_pairs.tsv` names each item by snapshot file and
//! position (the text stays in `../shared`), with a label from a careful
//! reader: `S` when one text is a version of the other (a print edition of
//! an online article, a re-uploaded video, a story filed in two sections,
//! a headline edited in place), `D` otherwise — including the same event
//! told in different words, follow-ups and recurring templates. Sets:
//! - `dev`: 250 pairs the thresholds were tuned on, and `test`: 175 other
//!   pairs, labelled before the decision was run on them. Both were drawn
//!   from every pair of different entries of a feed first seen within three
//!   days whose word overlap (Jaccard, title + summary) is at least 0.2,
//!   stratified by that overlap (`stratum`, with the `population` of each
//!   stratum), so precision and recall are estimated for that population.
//! - `edit`: versions of one entry (same guid or link) whose text changed
//!   between fetches, at random: how often an edit would still be
//!   recognised as the same story if it came from another outlet.
//!
//! The decision measured is `dedup::cluster::compare` on the entries'
//! sketches, exactly as the store runs it (time window and feeds aside).

mod support;

use std::collections::HashMap;
use tidings::dedup::cluster::{self, Thresholds, Verdict};
use tidings::dedup::sketch::Sketch;
use tidings::normalize::{self, Item, canonical};

struct Pair {
    set: String,
    stratum: String,
    population: f64,
    a: Sketch,
    b: Sketch,
    same: bool,
    describe: String,
}

fn load() -> Vec<Pair> {
    let tsv = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/near_dup_pairs.tsv"),
    )
    .expect("pairs fixture");
    let mut feeds: HashMap<String, Vec<Item>> = HashMap::new();
    let mut item = |file: &str, index: &str, link: &str| -> Item {
        let items = feeds.entry(file.to_owned()).or_insert_with(|| {
            let path = support::shared().join("news-replay").join(file);
            let base = url::Url::parse("https://replay.invalid/feed.xml").expect("url");
            normalize::parse_feed(&support::read(&path), &base)
                .unwrap_or_else(|e| panic!("{file}: {e}"))
                .items
        });
        let index: usize = index.parse().expect("index");
        let item = items
            .get(index)
            .unwrap_or_else(|| panic!("{file} has no item {index}"))
            .clone();
        // The fixture names the link too, to catch a position that moved.
        let key =
            |l: &str| canonical::canonical_link(l, None).map(|u| canonical::comparison_key(&u));
        if !link.is_empty() {
            let got = item.link.as_ref().map(canonical::comparison_key);
            assert_eq!(got, key(link), "{file} item {index}");
        }
        item
    };
    tsv.lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            assert_eq!(f.len(), 11, "{line}");
            let a = item(f[3], f[4], f[5]);
            let b = item(f[6], f[7], f[8]);
            let sketch =
                |i: &Item| Sketch::of(&i.title, i.summary.as_deref().or(i.content.as_deref()));
            Pair {
                set: f[0].to_owned(),
                stratum: f[1].to_owned(),
                population: f[2].parse().expect("population"),
                a: sketch(&a),
                b: sketch(&b),
                same: f[9] == "S",
                describe: format!("{} | {}", a.title, b.title),
            }
        })
        .collect()
}

/// Precision and recall over the population the pairs were drawn from:
/// each pair weighs its stratum's population over the stratum's sample.
#[derive(Debug, Default)]
struct Score {
    tp: f64,
    fp: f64,
    fn_: f64,
    counts: [usize; 4], // tp, fp, fn, tn in the sample
}

impl Score {
    fn of<'a>(pairs: impl Iterator<Item = &'a Pair> + Clone) -> Score {
        Score::with(pairs, &Thresholds::MEASURED)
    }

    fn with<'a>(pairs: impl Iterator<Item = &'a Pair> + Clone, t: &Thresholds) -> Score {
        let mut sampled: HashMap<&str, usize> = HashMap::new();
        for p in pairs.clone() {
            *sampled.entry(&p.stratum).or_default() += 1;
        }
        let mut s = Score::default();
        for p in pairs {
            let weight = p.population / sampled[p.stratum.as_str()] as f64;
            let said_same = cluster::compare_with(&p.a, &p.b, t).is_same();
            match (said_same, p.same) {
                (true, true) => {
                    s.tp += weight;
                    s.counts[0] += 1;
                }
                (true, false) => {
                    s.fp += weight;
                    s.counts[1] += 1;
                }
                (false, true) => {
                    s.fn_ += weight;
                    s.counts[2] += 1;
                }
                (false, false) => s.counts[3] += 1,
            }
        }
        s
    }

    fn precision(&self) -> f64 {
        self.tp / (self.tp + self.fp)
    }

    fn recall(&self) -> f64 {
        self.tp / (self.tp + self.fn_)
    }
}

#[test]
fn near_duplicate_decision_on_real_pairs() {
    let pairs = load();
    let mut report = String::new();
    for set in ["dev", "test"] {
        let s = Score::of(pairs.iter().filter(|p| p.set == set));
        report.push_str(&format!(
            "{set}: precision {:.2}, recall {:.2} (sample: {} true positives, {} false positives, {} false negatives, {} true negatives)\n",
            s.precision(),
            s.recall(),
            s.counts[0],
            s.counts[1],
            s.counts[2],
            s.counts[3]
        ));
        for p in pairs.iter().filter(|p| p.set == set) {
            let verdict = cluster::compare(&p.a, &p.b);
            if verdict.is_same() != p.same {
                let label = if p.same { "missed" } else { "merged" };
                report.push_str(&format!("  {label} {verdict:?}: {}\n", p.describe));
            }
        }
    }
    let edits: Vec<&Pair> = pairs.iter().filter(|p| p.set == "edit").collect();
    let caught = edits
        .iter()
        .filter(|p| cluster::compare(&p.a, &p.b).is_same())
        .count();
    let template = edits
        .iter()
        .filter(|p| cluster::compare(&p.a, &p.b) == Verdict::Template)
        .count();
    report.push_str(&format!(
        "edits: {caught} of {} recognised ({template} template titles)\n",
        edits.len()
    ));
    // The trade-off around the chosen thresholds.
    report.push_str("similarity threshold → dev P/R, test P/R (title overlap 0.05 / 0.10)\n");
    for step in 0..7 {
        let similarity = 0.30 + 0.05 * step as f32;
        report.push_str(&format!("  {similarity:.2}"));
        for title_overlap in [0.05, 0.10] {
            let t = Thresholds {
                similarity,
                title_overlap,
                ..Thresholds::MEASURED
            };
            for set in ["dev", "test"] {
                let s = Score::with(pairs.iter().filter(|p| p.set == set), &t);
                report.push_str(&format!("  {:.2}/{:.2}", s.precision(), s.recall()));
            }
            report.push_str(" |");
        }
        report.push('\n');
    }
    println!("{report}");

    // Floors just under what was measured (dev 0.89/0.89, test 0.93/0.91,
    // edits 57 of 88): a change that makes the decision worse fails here.
    let test = Score::of(pairs.iter().filter(|p| p.set == "test"));
    assert!(test.precision() >= 0.90, "{report}");
    assert!(test.recall() >= 0.85, "{report}");
    let dev = Score::of(pairs.iter().filter(|p| p.set == "dev"));
    assert!(dev.precision() >= 0.85 && dev.recall() >= 0.85, "{report}");
    assert!(caught * 100 >= edits.len() * 60, "{report}");
}
