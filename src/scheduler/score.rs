//! How much a round wants to suggest a pair, as one integer weight for the matching, and the
//! plain words that tell each of the two why.

/// What a round knows about a candidate pair (joined by a follow in at least one direction).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Affinity {
    /// Each follows the other.
    pub mutual: bool,
    pub shared_interests: u32,
    /// Days since the first follow between them.
    pub connected_days: i64,
    /// Rounds each has taken part in since their last suggestion.
    pub rounds_waited_a: u32,
    pub rounds_waited_b: u32,
    /// Invitations or suggestions between them that one of them declined.
    pub earlier_declines: u32,
}

const BASE: i64 = 10;
const MUTUAL: i64 = 20;
const INTEREST_POINTS: [i64; 4] = [8, 6, 4, 2];
const DAYS_A_POINT: i64 = 30;
const MAX_CONNECTED_POINTS: i64 = 12;
const WAIT_POINTS: i64 = 4;
/// Rounds waited beyond this many add nothing to a score.
pub const MAX_ROUNDS_COUNTED: u32 = 4;
const DECLINE_POINTS: i64 = -50;

/// The pair's weight for the matching, which never pairs a weight of 0 or less. The sum of:
///
/// | term | points | at most | why |
/// |---|---|---|---|
/// | a follow, either way | 10 | 10 | every candidate is worth a coffee: a new one-way pair stays above 0 |
/// | they follow each other | 20 | 20 | both asked for the connection |
/// | shared interests | 8, 6, 4, 2 for the first four | 20 | something to talk about; a fifth shared tag says little the first four did not |
/// | connected | 1 per 30 days | 12 (a year) | an old online acquaintance is ripe for meeting; past a year age tells no more |
/// | rounds waited, each side | 4 a round | 16 (4 rounds) | fairness: someone passed over rises round by round until picked, then starts again |
/// | earlier declines between them | −50 each | — | a no is respected: a typical pair with one falls to 0 or below; two rule out any pair |
///
/// So a pair scores 10 to 94 without declines: new one-way followers with nothing in common 10,
/// mutual followers of a few months with two interests around 50. The largest term, waiting on
/// both sides, is 32 of those 94, so no term decides a round alone.
pub fn score(a: &Affinity) -> i64 {
    let mutual = if a.mutual { MUTUAL } else { 0 };
    let interests: i64 = INTEREST_POINTS.iter().take(a.shared_interests as usize).sum();
    // A negative age would be a clock gone wrong; it counts as new.
    let connected = (a.connected_days.max(0) / DAYS_A_POINT).min(MAX_CONNECTED_POINTS);
    let waited = |rounds: u32| i64::from(rounds.min(MAX_ROUNDS_COUNTED)) * WAIT_POINTS;
    let declines = i64::from(a.earlier_declines) * DECLINE_POINTS;
    BASE + mutual + interests + connected + waited(a.rounds_waited_a) + waited(a.rounds_waited_b) + declines
}

/// Who follows whom, seen from the member reading the suggestion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Follow {
    EachOther,
    YouFollowThem,
    TheyFollowYou,
}

impl Follow {
    /// From whether the viewer follows the other member and whether the other follows the
    /// viewer; `None` when neither does (such a pair is never a candidate).
    pub fn seen_by_viewer(viewer_follows: bool, follows_viewer: bool) -> Option<Follow> {
        match (viewer_follows, follows_viewer) {
            (true, true) => Some(Follow::EachOther),
            (true, false) => Some(Follow::YouFollowThem),
            (false, true) => Some(Follow::TheyFollowYou),
            (false, false) => None,
        }
    }
}

/// Shared interests as words: "climbing", "climbing and jazz", "a, b, c and 2 more"; None when
/// there are none. Also the invitation note of an accepted suggestion ("we both like ...").
pub fn listed(shared: &[String]) -> Option<String> {
    let named = &shared[..shared.len().min(INTERESTS_NAMED)];
    let more = shared.len() - named.len();
    let mut items: Vec<String> = named.to_vec();
    if more > 0 {
        items.push(format!("{more} more"));
    }
    let (last, rest) = items.split_last()?;
    Some(if rest.is_empty() { last.clone() } else { format!("{} and {last}", rest.join(", ")) })
}

/// How many shared interests the reasons name before "and N more".
const INTERESTS_NAMED: usize = 3;

/// Why Cuppa suggests this pair, in plain words for the viewer, such as "you follow each other
/// and you both like climbing and jazz". Lower case with no full stop, to follow "Why:" or be
/// capitalised by the template.
pub fn reasons(follow: Follow, shared: &[String]) -> String {
    let mut why = String::from(match follow {
        Follow::EachOther => "you follow each other",
        Follow::YouFollowThem => "you follow them",
        Follow::TheyFollowYou => "they follow you",
    });
    if let Some(liked) = listed(shared) {
        why.push_str(" and you both like ");
        why.push_str(&liked);
    }
    why
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A spread of pairs, to check each property against more than one starting point.
    fn pairs() -> Vec<Affinity> {
        let mut pairs = Vec::new();
        for mutual in [false, true] {
            for shared_interests in [0, 1, 3, 6] {
                for connected_days in [0, 45, 400] {
                    for (rounds_waited_a, rounds_waited_b) in [(0, 0), (1, 5), (7, 2)] {
                        pairs.push(Affinity {
                            mutual,
                            shared_interests,
                            connected_days,
                            rounds_waited_a,
                            rounds_waited_b,
                            earlier_declines: 0,
                        });
                    }
                }
            }
        }
        pairs
    }

    #[test]
    fn mutual_follows_beat_one_way_ones_all_else_equal() {
        for pair in pairs().into_iter().filter(|p| !p.mutual) {
            assert!(score(&Affinity { mutual: true, ..pair }) > score(&pair), "{pair:?}");
        }
    }

    #[test]
    fn more_shared_interests_never_lower_the_score() {
        for pair in pairs() {
            for n in 0..20 {
                let (fewer, more) =
                    (Affinity { shared_interests: n, ..pair }, Affinity { shared_interests: n + 1, ..pair });
                assert!(score(&more) >= score(&fewer), "{more:?}");
            }
            assert!(
                score(&Affinity { shared_interests: 1, ..pair }) > score(&Affinity { shared_interests: 0, ..pair })
            );
        }
    }

    #[test]
    fn waiting_or_being_connected_longer_never_lowers_the_score() {
        for pair in pairs() {
            for n in 0..20 {
                assert!(
                    score(&Affinity { rounds_waited_a: n + 1, ..pair })
                        >= score(&Affinity { rounds_waited_a: n, ..pair })
                );
                assert!(
                    score(&Affinity { rounds_waited_b: n + 1, ..pair })
                        >= score(&Affinity { rounds_waited_b: n, ..pair })
                );
            }
            for days in (0..800).step_by(7) {
                assert!(
                    score(&Affinity { connected_days: days + 7, ..pair })
                        >= score(&Affinity { connected_days: days, ..pair })
                );
            }
        }
    }

    #[test]
    fn the_score_is_the_same_from_either_side() {
        for pair in pairs() {
            let swapped =
                Affinity { rounds_waited_a: pair.rounds_waited_b, rounds_waited_b: pair.rounds_waited_a, ..pair };
            assert_eq!(score(&swapped), score(&pair));
        }
    }

    #[test]
    fn a_decline_lowers_the_score_strongly_and_two_rule_the_pair_out() {
        let typical = Affinity { mutual: true, shared_interests: 1, connected_days: 90, ..Affinity::default() };
        assert!(score(&typical) > 0);
        assert!(score(&Affinity { earlier_declines: 1, ..typical }) <= 0);
        for pair in pairs() {
            let once = Affinity { earlier_declines: 1, ..pair };
            assert!(score(&once) <= score(&pair) - 50, "{pair:?}");
            assert!(score(&Affinity { earlier_declines: 2, ..pair }) <= 0, "{pair:?}");
        }
    }

    #[test]
    fn caps_hold() {
        let best = Affinity {
            mutual: true,
            shared_interests: 4,
            connected_days: 365,
            rounds_waited_a: 4,
            rounds_waited_b: 4,
            earlier_declines: 0,
        };
        let beyond = Affinity {
            shared_interests: 12,
            connected_days: 10_000,
            rounds_waited_a: u32::MAX,
            rounds_waited_b: 1_000,
            ..best
        };
        assert_eq!(score(&best), 94);
        assert_eq!(score(&beyond), 94);
        assert_eq!(score(&Affinity { earlier_declines: u32::MAX, ..beyond }), 94 - 50 * i64::from(u32::MAX));
    }

    #[test]
    fn pairs_without_declines_score_between_1_and_100() {
        for pair in pairs() {
            assert!((1..=100).contains(&score(&pair)), "{pair:?}");
        }
        assert_eq!(score(&Affinity::default()), 10);
        assert_eq!(score(&Affinity { connected_days: -3, ..Affinity::default() }), 10);
    }

    #[test]
    fn who_follows_whom_is_told_from_the_viewers_side() {
        assert_eq!(Follow::seen_by_viewer(true, true), Some(Follow::EachOther));
        assert_eq!(Follow::seen_by_viewer(true, false), Some(Follow::YouFollowThem));
        assert_eq!(Follow::seen_by_viewer(false, true), Some(Follow::TheyFollowYou));
        assert_eq!(Follow::seen_by_viewer(false, false), None);
        assert_eq!(reasons(Follow::YouFollowThem, &[]), "you follow them");
        assert_eq!(reasons(Follow::TheyFollowYou, &[]), "they follow you");
    }

    #[test]
    fn reasons_name_up_to_three_shared_interests() {
        let shared = |tags: &[&str]| tags.iter().map(|t| t.to_string()).collect::<Vec<_>>();
        assert_eq!(reasons(Follow::EachOther, &[]), "you follow each other");
        assert_eq!(
            reasons(Follow::EachOther, &shared(&["climbing"])),
            "you follow each other and you both like climbing"
        );
        assert_eq!(
            reasons(Follow::EachOther, &shared(&["climbing", "jazz"])),
            "you follow each other and you both like climbing and jazz"
        );
        assert_eq!(
            reasons(Follow::TheyFollowYou, &shared(&["climbing", "jazz", "tea"])),
            "they follow you and you both like climbing, jazz and tea"
        );
        assert_eq!(
            reasons(Follow::YouFollowThem, &shared(&["climbing", "jazz", "tea", "chess", "go"])),
            "you follow them and you both like climbing, jazz, tea and 2 more"
        );
    }
}
