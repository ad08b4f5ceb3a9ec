//! Stories across feeds: which entries are copies of one story, and which
//! story a new entry joins.
//!
//! Two entries are one story when they have the same canonical link, or
//! when their texts are near-duplicates ([`compare`]): the same wire copy
//! (AFP, Reuters, AP, TASS, Xinhua) re-published by several outlets with
//! small edits, or one outlet's story in two of its section feeds. The
//! decision and its thresholds were measured on pairs assembled from the
//! news-replay snapshots (see `tests/near_duplicates.rs`).
//!
//! A story (cluster) is named by the id of the entry that founded it, so
//! its id never changes as more copies arrive. Entries only ever join a
//! story when they are first stored; stories never merge or split.
//!
//! Everything here is pure: the store finds the candidates (by link and by
//! sketch band) and writes the outcome.

use super::sketch::Sketch;
use crate::model::{EntryId, FeedId};
use chrono::{DateTime, Duration, Utc};
use std::collections::{HashMap, HashSet};

/// The thresholds of [`compare`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Thresholds {
    /// Estimated 4-gram Jaccard similarity of title + lede from which two
    /// texts are one story.
    pub similarity: f32,
    /// The least headline overlap of two copies of one story: a feed that
    /// puts one summary under two headlines (it happens), or a boilerplate
    /// summary ("Five things you need to know…"), is not one story told
    /// twice.
    pub title_overlap: f32,
    /// Content words (title + lede) a text needs before its similarity means
    /// anything: "Breakingviews" vs "Breakingviews Predictions" is no
    /// evidence.
    pub min_words: u16,
}

impl Thresholds {
    /// Measured on real pairs from the news-replay snapshots (see
    /// `tests/near_duplicates.rs`, which prints the trade-off around them).
    pub const MEASURED: Thresholds = Thresholds {
        similarity: 0.40,
        title_overlap: 0.05,
        min_words: 8,
    };
}

/// How far apart in time copies of one story may appear.
pub fn window() -> Duration {
    Duration::days(3)
}

/// How long after a feed last listed an item an edited version of it is
/// recognised (see [`edit_of`]); longer than [`window`] so that a feed
/// polled every few days still has its edits recognised.
pub fn edit_window() -> Duration {
    Duration::days(7)
}

/// The outcome of comparing two texts, with the reason when they differ.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Verdict {
    Same {
        similarity: f32,
    },
    /// A title is a recurring slot ("Live updates"), whatever the text.
    Template,
    /// Too few words to judge.
    TooShort,
    /// Both headlines state numbers and none agrees.
    NumbersDiffer,
    /// The headlines share (almost) nothing.
    HeadlinesDiffer,
    Dissimilar {
        similarity: f32,
    },
}

impl Verdict {
    pub fn is_same(&self) -> bool {
        matches!(self, Verdict::Same { .. })
    }
}

/// Whether two texts are copies of one story.
pub fn compare(a: &Sketch, b: &Sketch) -> Verdict {
    compare_with(a, b, &Thresholds::MEASURED)
}

/// [`compare`] with other thresholds (to measure the trade-off).
pub fn compare_with(a: &Sketch, b: &Sketch, t: &Thresholds) -> Verdict {
    if a.template || b.template {
        return Verdict::Template;
    }
    if a.words < t.min_words || b.words < t.min_words {
        return Verdict::TooShort;
    }
    if a.numbers_conflict(b) {
        return Verdict::NumbersDiffer;
    }
    let similarity = a.similarity(b);
    if similarity < t.similarity {
        return Verdict::Dissimilar { similarity };
    }
    if a.title_similarity(b) < t.title_overlap {
        return Verdict::HeadlinesDiffer;
    }
    Verdict::Same { similarity }
}

/// A stored entry the store found as a possible copy of a new one.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub entry: EntryId,
    pub feed: FeedId,
    /// The story it belongs to.
    pub story: EntryId,
    /// When it was first stored.
    pub at: DateTime<Utc>,
    pub sketch: Sketch,
    /// Its text recurred under another id of its own feed (see
    /// [`Placement::recurring`]).
    pub recurring: bool,
}

/// The entry being stored.
#[derive(Clone, Debug)]
pub struct Newcomer<'a> {
    pub entry: EntryId,
    pub feed: FeedId,
    pub at: DateTime<Utc>,
    pub sketch: &'a Sketch,
    /// Its fetch lists another item with near-duplicate text (see
    /// [`recurring_within`]).
    pub recurring: bool,
}

/// Which story a new entry joins.
#[derive(Clone, Debug, PartialEq)]
pub struct Placement {
    pub story: EntryId,
    pub reason: Reason,
    /// The new entry's text is a near-duplicate of another entry of its own
    /// feed: the publisher gave one text two ids, so the text is a template
    /// or boilerplate (a daily "Five things you need to know…") or a
    /// re-publication. Such an entry joins stories only by link.
    pub recurring: bool,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Reason {
    /// Another entry has the same canonical link.
    SameLink,
    NearDuplicate {
        similarity: f32,
    },
    /// A story of its own.
    Founded,
}

/// Places `new` given the entries with the same link (`same_link`) and the
/// entries sharing a sketch band (`similar`). The same link wins (the
/// oldest such story); else the most similar near-duplicate from another
/// feed within the [`window`]; else `new` founds its own story.
pub fn place(new: &Newcomer, same_link: &[Candidate], similar: &[Candidate]) -> Placement {
    let in_window = |c: &Candidate| (c.at - new.at).abs() <= window();
    let recurring = new.recurring
        || similar.iter().any(|c| {
            c.feed == new.feed && c.entry != new.entry && in_window(c) && {
                compare(new.sketch, &c.sketch).is_same()
            }
        });
    if let Some(c) = same_link
        .iter()
        .filter(|c| c.entry != new.entry)
        .min_by_key(|c| (c.at, c.story))
    {
        return Placement {
            story: c.story,
            reason: Reason::SameLink,
            recurring,
        };
    }
    let best = (!recurring)
        .then(|| {
            similar
                .iter()
                .filter(|c| c.feed != new.feed && !c.recurring && in_window(c))
                .filter_map(|c| match compare(new.sketch, &c.sketch) {
                    Verdict::Same { similarity } => Some((similarity, c)),
                    _ => None,
                })
                .max_by(|a, b| a.0.total_cmp(&b.0).then(b.1.at.cmp(&a.1.at)))
        })
        .flatten();
    match best {
        Some((similarity, c)) => Placement {
            story: c.story,
            reason: Reason::NearDuplicate { similarity },
            recurring,
        },
        None => Placement {
            story: new.entry,
            reason: Reason::Founded,
            recurring,
        },
    }
}

/// The items of one fetch whose text is a near-duplicate of another item of
/// the same fetch: the feed lists one text under two ids (a template, or
/// boilerplate such as a placeholder summary), so that text cannot tell
/// stories apart (see [`Placement::recurring`]). Compares only pairs that
/// share at least two LSH bands.
///
/// Pairs are counted per distinct text, among the texts [`compare`] can
/// judge at all: a feed listing one short title 2,000 times ("Item 1",
/// "Item 2", … all sketch to "item") would otherwise put 2 million pairs
/// in every one of its 32 band buckets (50 s for one fetch in a debug
/// build). The outcome is the same: identical sketches share every band
/// and compare alike.
pub fn recurring_within(items: &[(EntryId, &Sketch)]) -> HashSet<EntryId> {
    // Identical sketches, grouped; a template or too few words never
    // compares as the same story (see `compare_with`), so such items
    // cannot recur.
    let t = &Thresholds::MEASURED;
    let mut groups: Vec<(&Sketch, Vec<EntryId>)> = Vec::new();
    let mut group_of = HashMap::new();
    for (id, sketch) in items {
        if sketch.template || sketch.words < t.min_words {
            continue;
        }
        let key = (
            &sketch.minhash,
            &sketch.title,
            &sketch.numbers,
            sketch.words,
        );
        let g = *group_of.entry(key).or_insert_with(|| {
            groups.push((*sketch, Vec::new()));
            groups.len() - 1
        });
        groups[g].1.push(*id);
    }
    let mut recurring = vec![false; groups.len()];
    for (g, (sketch, ids)) in groups.iter().enumerate() {
        if ids.len() > 1 && compare(sketch, sketch).is_same() {
            recurring[g] = true;
        }
    }
    let mut by_band: HashMap<(u8, u64), Vec<usize>> = HashMap::new();
    for (g, (sketch, _)) in groups.iter().enumerate() {
        for band in sketch.bands() {
            by_band.entry(band).or_default().push(g);
        }
    }
    let mut shared: HashMap<(usize, usize), usize> = HashMap::new();
    for members in by_band.values().filter(|m| m.len() > 1) {
        for (n, &a) in members.iter().enumerate() {
            for &b in &members[n + 1..] {
                *shared.entry((a, b)).or_default() += 1;
            }
        }
    }
    for ((a, b), n) in shared {
        if n >= 2 && compare(groups[a].0, groups[b].0).is_same() {
            recurring[a] = true;
            recurring[b] = true;
        }
    }
    groups
        .into_iter()
        .zip(recurring)
        .filter(|(_, r)| *r)
        .flat_map(|((_, ids), _)| ids)
        .collect()
}

/// For an item of a feed without guids or usable links (identified by its
/// text), the entry of the same feed it is an edited version of: the most
/// similar near-duplicate among `candidates` (entries of that feed, also
/// identified by text, within the [`edit_window`], that the same fetch did
/// not list — an edit replaces the old version).
pub fn edit_of(new: &Newcomer, candidates: &[Candidate]) -> Option<EntryId> {
    candidates
        .iter()
        .filter(|c| c.feed == new.feed && (c.at - new.at).abs() <= edit_window())
        .filter_map(|c| match compare(new.sketch, &c.sketch) {
            Verdict::Same { similarity } => Some((similarity, c.entry)),
            _ => None,
        })
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, entry)| entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(title: &str, lede: &str) -> Sketch {
        Sketch::of(title, Some(lede))
    }

    /// Real pairs from the news-replay snapshots that are one story:
    /// a Straits Times article and its print-edition version the next
    /// morning, an Al Jazeera video re-issued, a Reuters story filed in two
    /// sections, a Meduza headline edited in place.
    #[test]
    fn copies_of_one_story_are_the_same() {
        let pairs = [
            (
                (
                    "Ex-lecturer who shot upskirt videos of a female student sentenced to 8 weeks' jail",
                    "August 21, 2020 2:49 PM  SINGAPORE - A former lecturer of a post-secondary institution who shot upskirt videos of a female student was sentenced on Friday (Aug 21) to eight weeks imprisonment.",
                ),
                (
                    "Ex-lecturer jailed over upskirt videos of student",
                    "August 22, 2020 5:00 AM  A former lecturer of a post-secondary institution who shot upskirt videos of a female student was sentenced yesterday to eight weeks' jail.",
                ),
            ),
            (
                (
                    "14 workplace deaths in Singapore this year, up from 9 over same period in 2019",
                    "April 27, 2020 12:53 PM  SINGAPORE - A total of 14 workplace deaths were recorded in Singapore this year from Jan 1 to April 17, up from nine in the same period in 2019.",
                ),
                (
                    "Concern as workplace deaths hit 14 so far this year",
                    "April 28, 2020 5:00 AM  A total of 14 workplace deaths were recorded in Singapore this year from Jan 1 to April 17, up from nine in the same period last year.",
                ),
            ),
            (
                (
                    "Law society investigating website offering 'mentorship' to aspiring lawyers",
                    "April 30, 2020 12:48 PM  The Law Society of Singapore has cautioned against \"hungry wolves in sheep's clothing\" while it investigates a website touting an expensive programme to help law students and graduates secure internships and jobs.",
                ),
                (
                    "Website offering law internships, jobs under investigation",
                    "May 01, 2020 5:00 AM  The Law Society of Singapore has cautioned against \"hungry wolves in sheep's clothing\" as it investigates a website touting an expensive programme to help law students and graduates secure internship and jobs.",
                ),
            ),
            (
                (
                    "Lead-up to Burundi election marred by unrest",
                    "Political campaigns in Burundi have ended ahead of a general election on Wednesday. They have been marred by violence and hate speech, with both sides blaming one another.",
                ),
                (
                    "Burundi vote: Political campaigns end ahead of elections",
                    "Political campaigns in Burundi have ended ahead of Wednesday's general election. They have been marred by violence and hate speech with both sides blaming one another.",
                ),
            ),
            (
                (
                    "Israel, US launched strikes as Iranian leader met with inner circle, sources say",
                    "WASHINGTON/DUBAI, March 1 (Reuters) - Israel and the U.S. timed their attack on Iran on Saturday to coincide with a meeting the country\u{2019}s supreme leader, Ali Khamenei, was holding with top aides",
                ),
                (
                    "Israel, US launched strikes as Iranian leader met with inner circle, sources say",
                    "WASHINGTON/DUBAI, Feb 28 (Reuters) - Israel and the U.S. timed their attack on Iran on Saturday to coincide with a meeting the country\u{2019}s supreme leader, Ali Khamenei, was holding with top aides",
                ),
            ),
            (
                (
                    "Трамп обещает устроить Ирану «ад» завтра вечером. Какой именно?",
                    "Трамп обещает устроить Ирану «ад» завтра вечером. Какой именно?",
                ),
                (
                    "Трамп обещает устроить Ирану «ад» сегодня вечером. Какой именно?",
                    "Трамп обещает устроить Ирану «ад» сегодня вечером. Какой именно?",
                ),
            ),
        ];
        for ((ta, la), (tb, lb)) in pairs {
            let v = compare(&s(ta, la), &s(tb, lb));
            assert!(v.is_same(), "{ta} / {tb}: {v:?}");
        }
    }

    /// Real pairs that look alike but are different stories, each with the
    /// rule that tells them apart.
    #[test]
    fn different_stories_are_kept_apart() {
        /// (title, lede) of each side, and the expected verdict.
        type Case = (
            (&'static str, &'static str),
            (&'static str, &'static str),
            fn(&Verdict) -> bool,
        );
        let pairs: [Case; 7] = [
            (
                // A daily template title.
                (
                    "Morning Briefing: Top stories from The Straits Times on June 9",
                    "June 09, 2020 7:45 AM  Good morning! Here are our top stories to kick-start your Tuesday, June 9.",
                ),
                (
                    "Morning Briefing: Top stories from The Straits Times on June 10",
                    "June 10, 2020 7:45 AM  Good morning! Here are our top stories to kick-start your Wednesday, June 10.",
                ),
                |v| *v == Verdict::Template,
            ),
            (
                ("Опрос дня", "Как вы относитесь к переходу на зимнее время?"),
                (
                    "Опрос дня",
                    "Как вы относитесь к переходу на зимнее время? Голосуйте",
                ),
                |v| *v == Verdict::Template,
            ),
            (
                // Two days' case counts.
                (
                    "354 new Covid-19 cases in Singapore, including 8 in the community and 5 imported",
                    "July 23, 2020 3:14 PM  The community cases comprise four Singaporeans or permanent residents and four work pass holders.",
                ),
                (
                    "481 new Covid-19 cases in Singapore, including 5 in the community and 4 imported",
                    "July 26, 2020 3:42 PM  The 5 community cases are work pass holders and the 4 imported cases had been placed on stay-home notices upon arrival in Singapore.",
                ),
                |v| *v == Verdict::NumbersDiffer,
            ),
            (
                // Two earthquakes, one Reuters template.
                (
                    "Earthquake of magnitude 5.5 strikes Indonesia's southern Sumatra region, GFZ says",
                    "March 7 (Reuters) - An earthquake of magnitude 5.5 struck Indonesia's southern Sumatra region on Sunday, the German Research Center for Geosciences (GFZ) said.",
                ),
                (
                    "Earthquake of magnitude 5.2 strikes Afghanistan's Hindu Kush region, GFZ says",
                    "March 7 (Reuters) - An earthquake of magnitude 5.2 struck Afghanistan's Hindu Kush region on Saturday, the German Research Center for Geosciences (GFZ) said.",
                ),
                |v| !v.is_same(),
            ),
            (
                // Al Jazeera's feed put one summary under two stories.
                (
                    "Gaza declares lockdown after first COVID-19 cases found",
                    "A 48-hour lockdown has been declared in Gaza after the first few cases of the coronavirus community transmission were found.",
                ),
                (
                    "Belarus Supreme Court refuses to annul results of disputed vote",
                    "A 48-hour lockdown has been declared in Gaza after the first few cases of the coronavirus community transmission were found.",
                ),
                |v| *v == Verdict::HeadlinesDiffer,
            ),
            (
                // One Test match day: a report and a video, two texts.
                (
                    "Brilliant Broad leaves England poised for series win - highlights & report",
                    "Stuart Broad's six wickets leave England on the verge of a series victory over West Indies on the third day of the deciding Test at Emirates Old Trafford.",
                ),
                (
                    "England v West Indies: Stuart Broad puts England on verge of series victory",
                    "Watch Stuart Broad pick up six wickets across two innings as England close in on victory against West Indies in the third Test at Old Trafford.",
                ),
                |v| matches!(v, Verdict::Dissimilar { .. }),
            ),
            (
                ("Breakingviews", "Breakingviews"),
                ("Breakingviews Predictions", "Breakingviews Predictions"),
                |v| *v == Verdict::TooShort,
            ),
        ];
        for ((ta, la), (tb, lb), expected) in pairs {
            let v = compare(&s(ta, la), &s(tb, lb));
            assert!(expected(&v), "{ta} / {tb}: {v:?}");
        }
    }

    fn candidate(n: u8, feed: u64, story: u8, hours: i64, sketch: &Sketch) -> Candidate {
        Candidate {
            entry: EntryId([n; 16]),
            feed: FeedId(feed),
            story: EntryId([story; 16]),
            at: t0() + Duration::hours(hours),
            sketch: sketch.clone(),
            recurring: false,
        }
    }

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    const WIRE: (&str, &str) = (
        "China and Russia sign gas pipeline deal during Xi visit to Moscow",
        "MOSCOW (Reuters) - China and Russia signed an agreement on the Power of Siberia 2 gas pipeline on Tuesday during a state visit by Chinese President Xi Jinping to Moscow, the Kremlin said.",
    );
    const EDITED: (&str, &str) = (
        "China, Russia sign gas pipeline deal as Xi visits Moscow",
        "MOSCOW (Reuters) - China and Russia signed an agreement on the Power of Siberia 2 gas pipeline on Tuesday during a state visit by President Xi Jinping to Moscow, the Kremlin said on Tuesday.",
    );

    #[test]
    fn a_copy_joins_the_story_of_another_feed() {
        let wire = s(WIRE.0, WIRE.1);
        let edited = s(EDITED.0, EDITED.1);
        let new = Newcomer {
            entry: EntryId([9; 16]),
            feed: FeedId(2),
            at: t0() + Duration::hours(5),
            sketch: &edited,
            recurring: false,
        };
        let placed = place(&new, &[], &[candidate(1, 1, 1, 0, &wire)]);
        assert!(matches!(placed.reason, Reason::NearDuplicate { .. }));
        assert_eq!(placed.story, EntryId([1; 16]));
        assert!(!placed.recurring);

        // Outside the window, or from the same feed: a story of its own.
        let late = Newcomer {
            at: t0() + Duration::days(4),
            ..new.clone()
        };
        assert_eq!(
            place(&late, &[], &[candidate(1, 1, 1, 0, &wire)]).reason,
            Reason::Founded
        );
        let same_feed = place(&new, &[], &[candidate(1, 2, 1, 0, &wire)]);
        assert_eq!(same_feed.reason, Reason::Founded);
        assert!(
            same_feed.recurring,
            "one text under two ids of one feed recurs"
        );
    }

    #[test]
    fn the_same_link_wins_and_picks_the_oldest_story() {
        let wire = s(WIRE.0, WIRE.1);
        let other = s(
            "Something else entirely",
            "Nothing in common with the wire.",
        );
        let new = Newcomer {
            entry: EntryId([9; 16]),
            feed: FeedId(3),
            at: t0(),
            sketch: &other,
            recurring: false,
        };
        let same_link = [candidate(4, 1, 4, 3, &wire), candidate(5, 2, 5, -2, &wire)];
        let placed = place(&new, &same_link, &[candidate(1, 1, 1, 0, &wire)]);
        assert_eq!(placed.reason, Reason::SameLink);
        assert_eq!(placed.story, EntryId([5; 16]));
    }

    #[test]
    fn recurring_entries_join_no_near_duplicates() {
        let wire = s(WIRE.0, WIRE.1);
        let mut recurring = candidate(1, 1, 1, 0, &wire);
        recurring.recurring = true;
        let new = Newcomer {
            entry: EntryId([9; 16]),
            feed: FeedId(2),
            at: t0(),
            sketch: &wire,
            recurring: false,
        };
        assert_eq!(place(&new, &[], &[recurring]).reason, Reason::Founded);
    }

    #[test]
    fn one_text_twice_in_a_fetch_recurs() {
        let wire = s(WIRE.0, WIRE.1);
        let edited = s(EDITED.0, EDITED.1);
        let other = s(
            "Something else entirely",
            "Nothing in common with the wire at all, not one word.",
        );
        let ids = [EntryId([1; 16]), EntryId([2; 16]), EntryId([3; 16])];
        let recurring = recurring_within(&[(ids[0], &wire), (ids[1], &edited), (ids[2], &other)]);
        assert_eq!(recurring, HashSet::from([ids[0], ids[1]]));
        // A recurring newcomer joins no near-duplicate of another feed.
        let new = Newcomer {
            entry: ids[0],
            feed: FeedId(2),
            at: t0(),
            sketch: &wire,
            recurring: true,
        };
        let placed = place(&new, &[], &[candidate(7, 1, 7, 0, &edited)]);
        assert_eq!(placed.reason, Reason::Founded);
        assert!(placed.recurring);
    }

    /// Every pair sharing two bands, compared: what `recurring_within`
    /// computes, without its shortcuts.
    fn recurring_pairwise(items: &[(EntryId, &Sketch)]) -> HashSet<EntryId> {
        let mut out = HashSet::new();
        for (n, (a, sa)) in items.iter().enumerate() {
            for (b, sb) in &items[n + 1..] {
                let bands: HashSet<(u8, u64)> = sa.bands().collect();
                let shared = sb.bands().filter(|band| bands.contains(band)).count();
                if shared >= 2 && compare(sa, sb).is_same() {
                    out.insert(*a);
                    out.insert(*b);
                }
            }
        }
        out
    }

    #[test]
    fn many_copies_of_one_text_recur_as_pairwise_comparison_says() {
        let wire = s(WIRE.0, WIRE.1);
        let edited = s(EDITED.0, EDITED.1);
        let other = s(
            "Something else entirely",
            "Nothing in common with the wire at all, not one word.",
        );
        // Short titles sketch alike ("item") but are too short to judge.
        let short: Vec<Sketch> = (0..200).map(|i| s(&format!("Item {i}"), "")).collect();
        let mut items: Vec<(EntryId, &Sketch)> = Vec::new();
        let id = |n: usize| {
            let mut bytes = [0u8; 16];
            bytes[..8].copy_from_slice(&(n as u64).to_be_bytes());
            EntryId(bytes)
        };
        for (n, sketch) in short.iter().enumerate() {
            items.push((id(n), sketch));
        }
        for n in 0..30 {
            items.push((id(1000 + n), &other));
        }
        items.push((id(2000), &wire));
        items.push((id(2001), &edited));
        let fast = recurring_within(&items);
        assert_eq!(fast, recurring_pairwise(&items));
        assert_eq!(fast.len(), 32, "the 30 copies, the wire and its edit");
        // One copy of each text: nothing recurs but the edit pair.
        let single = [(id(0), &short[0]), (id(1000), &other), (id(2000), &wire)];
        assert!(recurring_within(&single).is_empty());
    }

    #[test]
    fn an_edit_is_found_within_its_feed() {
        let old = s(
            "Альпинистка Наталья Наговицына потеряла в горах Тянь-Шаня мужа, а через четыре года решила вернуться",
            "",
        );
        let new_text = s(
            "Альпинистка Наталья Наговицина потеряла в горах Тянь-Шаня мужа, а через четыре года решила вернуться",
            "",
        );
        let new = Newcomer {
            entry: EntryId([9; 16]),
            feed: FeedId(1),
            at: t0() + Duration::days(1),
            sketch: &new_text,
            recurring: false,
        };
        assert_eq!(
            edit_of(&new, &[candidate(1, 1, 1, 0, &old)]),
            Some(EntryId([1; 16]))
        );
        assert_eq!(edit_of(&new, &[candidate(1, 2, 1, 0, &old)]), None);
    }
}
