//! The spam defences that read a submission: the signals that make a message look like spam,
//! each with what it adds to the score, and the decision the score leads to (accept, hold for
//! review, refuse). Nothing here sends anything to a third party: the proof of work is verified
//! here, the content signals are computed here, and Rspamd, when configured, is the operator's own.

pub mod pow;
pub mod rspamd;
pub mod signals;

use chrono::{DateTime, Utc};

use crate::seal::Sealer;

/// What the cached empty form holds where each response writes its own [`form_stamp`].
pub const FORM_STAMP_SLOT: &str = "0000000000.0000000000000000";

/// The stamp the form carries: when it was shown, signed so that a bot cannot claim it was
/// shown long ago. `SECONDS.MAC` (the MAC is 8 bytes of a keyed digest, hex), as long as the slot.
pub fn form_stamp(sealer: &Sealer, now: DateTime<Utc>) -> String {
    let secs = now.timestamp().max(0);
    format!("{secs:010}.{}", stamp_mac(sealer, secs))
}

/// When the form that carries `stamp` was shown; `None` for a stamp it did not issue.
pub fn form_shown_at(sealer: &Sealer, stamp: &str) -> Option<DateTime<Utc>> {
    let (secs, mac) = stamp.trim().split_once('.')?;
    let secs: i64 = secs.parse().ok()?;
    let expected = stamp_mac(sealer, secs);
    let same = mac.len() == expected.len()
        && mac
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    same.then(|| DateTime::from_timestamp(secs, 0)).flatten()
}

fn stamp_mac(sealer: &Sealer, secs: i64) -> String {
    sealer
        .keyed_digest("form-shown", secs.to_string().as_bytes())
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// How fast a form came back, as signals: a stamp the form did not issue (the post did not come
/// from the page), or less time than `min_fill_secs` between showing and sending.
pub fn fill_time(
    sealer: &Sealer,
    stamp: &str,
    now: DateTime<Utc>,
    min_fill_secs: u64,
) -> Option<Signal> {
    match form_shown_at(sealer, stamp) {
        None => Some(Signal::new("form_not_shown", 2.0)),
        Some(shown) if min_fill_secs > 0 && (now - shown).num_seconds() < min_fill_secs as i64 => {
            Some(Signal::new("filled_fast", 3.0))
        }
        Some(_) => None,
    }
}

/// One reason a message looks like spam, with what it adds to the score.
#[derive(Debug, Clone, PartialEq)]
pub struct Signal {
    /// A stable name, shown to staff and written to the log (never the message's text).
    pub name: &'static str,
    pub score: f64,
    /// A signal that holds the message for review whatever the score (no proof of work, Rspamd
    /// not answering).
    pub holds: bool,
}

impl Signal {
    pub fn new(name: &'static str, score: f64) -> Self {
        Self {
            name,
            score,
            holds: false,
        }
    }

    /// A signal that holds the message for review, adding nothing to the score.
    pub fn holding(name: &'static str) -> Self {
        Self {
            name,
            score: 0.0,
            holds: true,
        }
    }
}

/// What happens to a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// It reaches staff at once.
    Accept,
    /// It waits in the inbox's "Held" tab; nobody is told until staff approve it.
    Hold,
    /// It is refused, with a message that does not say why.
    Reject,
}

/// The score of a message, what made it, and the decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub score: f64,
    pub signals: Vec<Signal>,
    pub action: Action,
}

impl Verdict {
    /// Adds the signals up and decides against the thresholds (`hold <= reject`).
    pub fn decide(signals: Vec<Signal>, hold_score: f64, reject_score: f64) -> Self {
        let score: f64 = signals.iter().map(|s| s.score).sum();
        let action = if score >= reject_score {
            Action::Reject
        } else if score >= hold_score || signals.iter().any(|s| s.holds) {
            Action::Hold
        } else {
            Action::Accept
        };
        Self {
            score,
            signals,
            action,
        }
    }

    /// The signals as staff see them and as they are stored: `links 3.0, no_proof_of_work`.
    pub fn summary(&self) -> String {
        self.signals
            .iter()
            .map(|s| {
                if s.holds && s.score == 0.0 {
                    s.name.to_owned()
                } else {
                    format!("{} {:.1}", s.name, s.score)
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_stamp_tells_when_it_was_shown_and_cannot_be_forged() {
        let sealer = Sealer::new("t", &[7; 32], &[9; 32]).expect("a sealer");
        let shown = DateTime::from_timestamp(1_800_000_000, 0).expect("a time");
        let stamp = form_stamp(&sealer, shown);
        assert_eq!(stamp.len(), FORM_STAMP_SLOT.len());
        assert_eq!(form_shown_at(&sealer, &stamp), Some(shown));
        let later = |secs| shown + chrono::Duration::seconds(secs);
        assert_eq!(fill_time(&sealer, &stamp, later(30), 3), None);
        assert_eq!(
            fill_time(&sealer, &stamp, later(1), 3).map(|s| s.name),
            Some("filled_fast")
        );
        assert_eq!(fill_time(&sealer, &stamp, later(1), 0), None);
        // Claiming it was shown earlier breaks the MAC.
        let forged = format!("1700000000{}", &stamp[10..]);
        assert_eq!(form_shown_at(&sealer, &forged), None);
        for bad in ["", FORM_STAMP_SLOT, "x.y", "1800000000."] {
            assert_eq!(
                fill_time(&sealer, bad, later(30), 3).map(|s| s.name),
                Some("form_not_shown"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_score_decides_and_a_holding_signal_holds_whatever_the_score() {
        let decide = |signals| Verdict::decide(signals, 5.0, 15.0).action;
        assert_eq!(decide(vec![]), Action::Accept);
        assert_eq!(decide(vec![Signal::new("links", 4.9)]), Action::Accept);
        assert_eq!(decide(vec![Signal::new("links", 5.0)]), Action::Hold);
        assert_eq!(
            decide(vec![
                Signal::new("links", 10.0),
                Signal::new("phrases", 5.0)
            ]),
            Action::Reject
        );
        assert_eq!(
            decide(vec![Signal::holding("no_proof_of_work")]),
            Action::Hold
        );
        // Rspamd's negative score (it trusts the text) lowers the total.
        assert_eq!(
            decide(vec![Signal::new("links", 6.0), Signal::new("rspamd", -2.0)]),
            Action::Accept
        );
        let verdict = Verdict::decide(
            vec![
                Signal::new("links", 3.0),
                Signal::holding("no_proof_of_work"),
            ],
            5.0,
            15.0,
        );
        assert_eq!(verdict.summary(), "links 3.0, no_proof_of_work");
    }
}
