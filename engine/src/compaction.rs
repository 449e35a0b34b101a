//! Compaction planning: pure functions of the manifest's segment list, the time and the
//! options, returning which segments to merge into what. The run is in `db::compact`.
//!
//! Policy: *time-partitioned*. Warm segments are small (one per rotation); once every
//! value in one is older than `warm_max_age` it is merged, together with the cold files
//! of the days it touches, into one cold file per UTC day. Days are the partition because
//! retention and most queries cut on time, and a day of a 1-s scrape interval is a
//! comfortable file size; a levelled scheme would rewrite the same cold data many times
//! for no gain, since time-series data arrives in time order and rarely overlaps old days.
//! While warm segments are young, more than [`WARM_MERGE_FAN_IN`] of them are merged
//! into one warm segment (size-tiered), bounding the files a read must visit.
//!
//! Order invariant: the segment list is ordered oldest data version first, and on equal
//! (series, field, timestamp) a later segment wins. Merged inputs are replaced by the
//! outputs at the position of the newest input, which is safe only if no segment left in
//! between overlaps in time an input positioned before it ([`placement_is_safe`]).

use crate::manifest::{SegmentRecord, Tier};
use crate::retention::{Cutoffs, RetentionGroup};
use std::collections::{HashMap, HashSet};

/// Young warm segments beyond this count are merged into one.
pub const WARM_MERGE_FAN_IN: usize = 8;

/// One UTC day in nanoseconds, the cold partition.
pub const DAY_NANOS: i64 = 86_400_000_000_000;

/// A segment straddling the retention cutoff is rewritten once this much of it has expired,
/// so the file at the boundary is not rewritten at every maintenance round.
pub const TRIM_SLACK_NANOS: i64 = 3_600_000_000_000;

/// A compaction to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    /// Segment ids to merge.
    pub inputs: Vec<u64>,
    /// The tier of the outputs: cold outputs are split per UTC day, warm is one file.
    pub output: Tier,
    /// Values older than their retention group's cutoff are dropped; `i64::MIN` keeps
    /// everything.
    pub keep_from: Cutoffs,
}

/// The time span of one retention group's series within a segment (from its block
/// index: the first block's minimum to the last block's maximum of each column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupSpan {
    /// The retention group.
    pub group: RetentionGroup,
    /// Oldest timestamp of the group's series in the segment.
    pub min_ts: i64,
    /// Newest timestamp of the group's series in the segment.
    pub max_ts: i64,
}

/// What retention planning needs: each group's cutoff now and each segment's spans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expiry {
    /// The cutoff of every retention group.
    pub cutoffs: Cutoffs,
    /// The spans of each segment, by id. A segment missing here is judged by its whole
    /// time range against the loosest cutoff (never dropping what some rule keeps).
    pub spans: HashMap<u64, Vec<GroupSpan>>,
}

impl Expiry {
    /// One cutoff for every series, no spans: the global retention alone.
    pub fn uniform(keep_from: i64) -> Expiry {
        Expiry {
            cutoffs: Cutoffs::uniform(keep_from),
            spans: HashMap::new(),
        }
    }

    /// `(group cutoff, span min, span max)` of each group in `s`.
    fn spans(&self, s: &SegmentRecord) -> Vec<(i64, i64, i64)> {
        match self.spans.get(&s.id) {
            Some(spans) => spans
                .iter()
                .map(|g| (self.cutoffs.of(g.group), g.min_ts, g.max_ts))
                .collect(),
            None => vec![(self.cutoffs.loosest(), s.min_ts, s.max_ts)],
        }
    }

    /// Whether every value of `s` is older than its series' cutoff.
    fn wholly_expired(&self, s: &SegmentRecord) -> bool {
        self.spans(s).iter().all(|&(cut, _, max)| max < cut)
    }

    /// Whether some series of `s` holds values older than its cutoff less `slack`.
    fn holds_expired(&self, s: &SegmentRecord, slack: i64) -> bool {
        self.spans(s)
            .iter()
            .any(|&(cut, min, _)| min < cut.saturating_sub(slack))
    }
}

/// The background plan at time `now`: first retention (drop segments whose every series is
/// past its cutoff, else trim one holding a series whose values reach [`TRIM_SLACK_NANOS`]
/// past its cutoff), then promote warm data older than `warm_max_age` to cold, else merge
/// young warm segments when there are too many. `expiry` gives the cutoffs and where each
/// retention group's series lie in each segment.
pub fn plan(
    segments: &[SegmentRecord],
    now: i64,
    warm_max_age: i64,
    expiry: &Expiry,
) -> Option<Task> {
    let keep_from = expiry.cutoffs.clone();
    let expired: Vec<u64> = segments
        .iter()
        .filter(|s| expiry.wholly_expired(s))
        .map(|s| s.id)
        .collect();
    if !expired.is_empty() {
        // Removing whole segments never reorders what stays: always safe.
        return Some(Task {
            inputs: expired,
            output: Tier::Warm,
            keep_from,
        });
    }
    if let Some(s) = segments
        .iter()
        .find(|s| expiry.holds_expired(s, TRIM_SLACK_NANOS))
    {
        return Some(Task {
            inputs: vec![s.id],
            output: s.tier,
            keep_from,
        });
    }
    let cutoff = now.saturating_sub(warm_max_age);
    let old: Vec<&SegmentRecord> = segments
        .iter()
        .filter(|s| s.tier == Tier::Warm && s.max_ts < cutoff)
        .collect();
    if !old.is_empty() {
        let first_day = old
            .iter()
            .map(|s| s.min_ts.div_euclid(DAY_NANOS))
            .min()
            .unwrap_or(0);
        let last_day = old
            .iter()
            .map(|s| s.max_ts.div_euclid(DAY_NANOS))
            .max()
            .unwrap_or(0);
        let mut inputs: HashSet<u64> = old.iter().map(|s| s.id).collect();
        for s in segments.iter().filter(|s| s.tier == Tier::Cold) {
            if s.max_ts.div_euclid(DAY_NANOS) >= first_day
                && s.min_ts.div_euclid(DAY_NANOS) <= last_day
            {
                inputs.insert(s.id);
            }
        }
        return Some(Task {
            inputs: widen_until_safe(segments, inputs),
            output: Tier::Cold,
            keep_from,
        });
    }
    let warm: Vec<u64> = segments
        .iter()
        .filter(|s| s.tier == Tier::Warm)
        .map(|s| s.id)
        .collect();
    if warm.len() > WARM_MERGE_FAN_IN {
        let inputs = warm.into_iter().take(WARM_MERGE_FAN_IN).collect();
        return Some(Task {
            inputs: widen_until_safe(segments, inputs),
            output: Tier::Warm,
            keep_from,
        });
    }
    None
}

/// The offline plan: everything into cold day files (`to_cold`), or every warm segment
/// into one warm segment; retention applies either way.
pub fn plan_offline(segments: &[SegmentRecord], to_cold: bool, expiry: &Expiry) -> Option<Task> {
    let keep_from = expiry.cutoffs.clone();
    let expired = segments.iter().any(|s| expiry.holds_expired(s, 0));
    if to_cold {
        let inputs: Vec<u64> = segments.iter().map(|s| s.id).collect();
        let already = segments.iter().all(|s| s.tier == Tier::Cold)
            && days_are_distinct(segments)
            && !expired;
        return (!inputs.is_empty() && !already).then_some(Task {
            inputs,
            output: Tier::Cold,
            keep_from,
        });
    }
    let warm: HashSet<u64> = segments
        .iter()
        .filter(|s| s.tier == Tier::Warm)
        .map(|s| s.id)
        .collect();
    if warm.len() > 1 {
        return Some(Task {
            inputs: widen_until_safe(segments, warm),
            output: Tier::Warm,
            keep_from,
        });
    }
    plan(segments, i64::MIN, i64::MAX, expiry)
}

fn days_are_distinct(segments: &[SegmentRecord]) -> bool {
    let mut days = HashSet::new();
    segments.iter().all(|s| {
        let d = s.min_ts.div_euclid(DAY_NANOS);
        d == s.max_ts.div_euclid(DAY_NANOS) && days.insert(d)
    })
}

/// Whether replacing `inputs` by outputs at the newest input's position keeps every
/// overlapping pair of segments in its order.
pub fn placement_is_safe(segments: &[SegmentRecord], inputs: &HashSet<u64>) -> bool {
    let Some(last) = segments.iter().rposition(|s| inputs.contains(&s.id)) else {
        return true;
    };
    for (i, y) in segments.iter().enumerate().take(last) {
        if inputs.contains(&y.id) {
            continue;
        }
        // y stays where it is; inputs older than y jump over it.
        let jumps_over_overlap = segments[..i]
            .iter()
            .filter(|x| inputs.contains(&x.id))
            .any(|x| x.min_ts <= y.max_ts && y.min_ts <= x.max_ts);
        if jumps_over_overlap {
            return false;
        }
    }
    true
}

/// `inputs` in list order, widened to every segment up to the newest input when the
/// placement would not be safe otherwise (always safe: nothing is left in between).
fn widen_until_safe(segments: &[SegmentRecord], inputs: HashSet<u64>) -> Vec<u64> {
    if placement_is_safe(segments, &inputs) {
        return segments
            .iter()
            .filter(|s| inputs.contains(&s.id))
            .map(|s| s.id)
            .collect();
    }
    let last = segments
        .iter()
        .rposition(|s| inputs.contains(&s.id))
        .unwrap_or(0);
    segments[..=last].iter().map(|s| s.id).collect()
}

/// The segment list after a task: inputs removed, outputs at the newest input's position.
pub fn apply(
    segments: &[SegmentRecord],
    inputs: &[u64],
    outputs: Vec<SegmentRecord>,
) -> Vec<SegmentRecord> {
    let set: HashSet<u64> = inputs.iter().copied().collect();
    let last = segments.iter().rposition(|s| set.contains(&s.id));
    let mut out = Vec::with_capacity(segments.len() + outputs.len());
    let mut outputs = Some(outputs);
    for (i, s) in segments.iter().enumerate() {
        if !set.contains(&s.id) {
            out.push(*s);
        }
        if Some(i) == last {
            out.extend(outputs.take().unwrap_or_default());
        }
    }
    out.extend(outputs.take().unwrap_or_default());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(id: u64, tier: Tier, min: i64, max: i64) -> SegmentRecord {
        SegmentRecord {
            id,
            tier,
            min_ts: min,
            max_ts: max,
            points: 1,
            bytes: 1,
        }
    }

    const D: i64 = DAY_NANOS;

    #[test]
    fn old_warm_goes_cold_with_the_cold_files_of_its_days() {
        let segs = [
            seg(1, Tier::Cold, 0, D - 1),
            seg(2, Tier::Cold, D, 2 * D - 1),
            seg(3, Tier::Warm, D + 5, D + 9),
            seg(4, Tier::Warm, 10 * D, 10 * D + 1),
        ];
        let t = plan(&segs, 5 * D, D, &Expiry::uniform(i64::MIN)).unwrap();
        assert_eq!(
            t,
            Task {
                inputs: vec![2, 3],
                output: Tier::Cold,
                keep_from: Cutoffs::uniform(i64::MIN),
            }
        );
        let after = apply(&segs, &t.inputs, vec![seg(9, Tier::Cold, D, 2 * D - 1)]);
        assert_eq!(after.iter().map(|s| s.id).collect::<Vec<_>>(), [1, 9, 4]);
        assert_eq!(
            plan(&segs, D + 20, D, &Expiry::uniform(i64::MIN)),
            None,
            "nothing old, few warm segments"
        );
    }

    #[test]
    fn unsafe_placement_widens_to_everything_in_between() {
        // 1 (old warm) and 3 (old warm) overlap 2 (young warm) in time: merging 1 and 3 to
        // 3's position would put 1's values after 2's newer ones.
        let segs = [
            seg(1, Tier::Warm, 0, 100),
            seg(2, Tier::Warm, 50, 10 * D),
            seg(3, Tier::Warm, 0, 10),
        ];
        assert!(!placement_is_safe(&segs, &[1, 3].into_iter().collect()));
        let t = plan(&segs, 5 * D, D, &Expiry::uniform(i64::MIN)).unwrap();
        assert_eq!(t.inputs, vec![1, 2, 3]);
        // Non-overlapping segments in between are fine.
        let segs = [
            seg(1, Tier::Warm, 0, 10),
            seg(2, Tier::Warm, 50, 60),
            seg(3, Tier::Warm, 0, 5),
        ];
        assert!(placement_is_safe(&segs, &[1, 3].into_iter().collect()));
    }

    #[test]
    fn many_young_warm_segments_merge() {
        let segs: Vec<_> = (1..=10)
            .map(|i| seg(i, Tier::Warm, i as i64 * 100, i as i64 * 100 + 50))
            .collect();
        let t = plan(&segs, 0, D, &Expiry::uniform(i64::MIN)).unwrap();
        assert_eq!(t.output, Tier::Warm);
        assert_eq!(t.inputs, (1..=8).collect::<Vec<u64>>());
    }

    #[test]
    fn retention_drops_expired_segments_then_trims_a_straddling_one() {
        let segs = [
            seg(1, Tier::Cold, 0, D - 1),
            seg(2, Tier::Cold, D, 2 * D - 1),
            seg(3, Tier::Warm, 2 * D, 3 * D),
        ];
        let t = plan(&segs, 3 * D, D, &Expiry::uniform(D + D / 2)).unwrap();
        assert_eq!(
            (t.inputs.clone(), t.keep_from),
            (vec![1], Cutoffs::uniform(D + D / 2))
        );
        let after = apply(&segs, &t.inputs, vec![]);
        let t = plan(&after, 3 * D, D, &Expiry::uniform(D + D / 2)).unwrap();
        assert_eq!(
            (t.inputs, t.output),
            (vec![2], Tier::Cold),
            "half of day 2 expired: trim it"
        );
        // Less than TRIM_SLACK expired: left for later (reads hide it meanwhile).
        assert_eq!(
            plan(&after[1..], 3 * D, 10 * D, &Expiry::uniform(2 * D + 10)),
            None
        );
    }

    #[test]
    fn a_rule_trims_or_drops_only_the_files_holding_its_series() {
        // Group 1 (a rule) keeps one day, the global retention keeps everything.
        let g = |group, min_ts, max_ts| GroupSpan {
            group: RetentionGroup(group),
            min_ts,
            max_ts,
        };
        let segs = [
            seg(1, Tier::Cold, 0, D - 1),
            seg(2, Tier::Cold, D, 2 * D - 1),
            seg(3, Tier::Cold, 2 * D, 3 * D - 1),
        ];
        let mut expiry = Expiry {
            cutoffs: Cutoffs(vec![i64::MIN, 2 * D + D / 2]),
            spans: HashMap::new(),
        };
        expiry.spans.insert(1, vec![g(0, 0, D - 1)]);
        expiry
            .spans
            .insert(2, vec![g(0, D, D + 5), g(1, D, 2 * D - 1)]);
        expiry
            .spans
            .insert(3, vec![g(1, 2 * D + D / 2 - 10, 3 * D - 1)]);
        // Segment 1 holds only series kept forever: never touched. Segment 2 holds
        // expired rule series beside kept ones: trimmed, not dropped.
        let t = plan(&segs, 3 * D, 10 * D, &expiry).unwrap();
        assert_eq!((t.inputs.clone(), t.output), (vec![2], Tier::Cold));
        assert_eq!(t.keep_from, expiry.cutoffs);
        // Once segment 2 holds only rule series, all past the cutoff: dropped whole.
        expiry.spans.insert(2, vec![g(1, D, 2 * D - 1)]);
        let t = plan(&segs, 3 * D, 10 * D, &expiry).unwrap();
        assert_eq!(t.inputs, vec![2]);
        assert!(expiry.wholly_expired(&segs[1]));
        assert!(!expiry.wholly_expired(&segs[0]));
        // Segment 3 straddles the rule's cutoff by less than the slack: left alone.
        let after = apply(&segs, &t.inputs, vec![]);
        assert_eq!(plan(&after, 3 * D, 10 * D, &expiry), None);
    }

    #[test]
    fn offline_to_cold_takes_everything_once() {
        let segs = [seg(1, Tier::Warm, 0, 5), seg(2, Tier::Cold, D, D + 5)];
        assert_eq!(
            plan_offline(&segs, true, &Expiry::uniform(i64::MIN))
                .unwrap()
                .inputs,
            vec![1, 2]
        );
        let done = [seg(3, Tier::Cold, 0, 5), seg(4, Tier::Cold, D, D + 5)];
        assert_eq!(plan_offline(&done, true, &Expiry::uniform(i64::MIN)), None);
        assert_eq!(
            plan_offline(&segs, false, &Expiry::uniform(i64::MIN)),
            None,
            "one warm segment: nothing to merge"
        );
    }
}
