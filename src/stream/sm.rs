//! XEP-0198 stream management state, shared by the connection machines.
//!
//! Counters are `u32` and compared with serial-number arithmetic (RFC 1982):
//! a count wraps from 2^32 - 1 to 0, and the number of stanzas an ack
//! confirms is the wrapping difference between the new and the previous
//! `h`. An ack that would confirm more stanzas than are outstanding is a
//! protocol violation, not a reason to panic or to drop the queue.

use std::collections::VecDeque;

use crate::stanza::Stanza;

/// A handle on a stanza given to a connection's `send`.
///
/// Tokens increase in sending order and are never reused within one
/// connection (nor across a resumption, which carries the counter over).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StanzaToken(pub(crate) u64);

impl StanzaToken {
    /// The token's number, for logs.
    pub fn get(self) -> u64 {
        self.0
    }
}

/// Errors of the stream management bookkeeping.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SmError {
    /// The peer acknowledged stanzas that were never sent.
    #[error("the peer acknowledged {acked} stanzas but only {outstanding} are outstanding")]
    AckTooHigh {
        /// How many the ack would confirm.
        acked: u32,
        /// How many are unacknowledged.
        outstanding: usize,
    },
    /// The queue of unacknowledged stanzas is full.
    #[error("{0} stanzas are waiting for an acknowledgement; the queue is full")]
    QueueFull(usize),
}

/// Outbound side: what we sent and what the peer has confirmed.
#[derive(Debug, Clone)]
pub(crate) struct Outbound {
    /// The `h` of the last ack: stanzas confirmed so far, modulo 2^32.
    acked: u32,
    /// Sent and not yet confirmed, oldest first.
    unacked: VecDeque<(StanzaToken, Stanza)>,
    max_unacked: usize,
    /// Stanzas sent since we last asked for an ack.
    since_request: u32,
}

impl Outbound {
    pub(crate) fn new(max_unacked: usize) -> Self {
        Self::starting_at(0, max_unacked)
    }

    /// A counter that starts at `acked` (for resumption and for tests of
    /// the wrap-around).
    pub(crate) fn starting_at(acked: u32, max_unacked: usize) -> Self {
        Self {
            acked,
            unacked: VecDeque::new(),
            max_unacked,
            since_request: 0,
        }
    }

    /// Whether one more stanza fits.
    pub(crate) fn has_room(&self) -> bool {
        self.unacked.len() < self.max_unacked
    }

    /// Records a stanza as sent.
    pub(crate) fn sent(&mut self, token: StanzaToken, stanza: Stanza) -> Result<(), SmError> {
        if !self.has_room() {
            return Err(SmError::QueueFull(self.unacked.len()));
        }
        self.unacked.push_back((token, stanza));
        self.since_request = self.since_request.saturating_add(1);
        Ok(())
    }

    /// Applies an ack with counter `h`; returns the newly confirmed stanzas.
    pub(crate) fn ack(&mut self, h: u32) -> Result<Vec<(StanzaToken, Stanza)>, SmError> {
        let newly = h.wrapping_sub(self.acked);
        let count = usize::try_from(newly).unwrap_or(usize::MAX);
        if count > self.unacked.len() {
            return Err(SmError::AckTooHigh {
                acked: newly,
                outstanding: self.unacked.len(),
            });
        }
        self.acked = h;
        Ok(self.unacked.drain(..count).collect())
    }

    /// The `h` of the last ack.
    pub(crate) fn acked(&self) -> u32 {
        self.acked
    }

    /// How many stanzas wait for an ack.
    pub(crate) fn outstanding(&self) -> usize {
        self.unacked.len()
    }

    /// Whether `token` is still waiting for an ack.
    pub(crate) fn is_unacked(&self, token: StanzaToken) -> bool {
        self.unacked.iter().any(|(t, _)| *t == token)
    }

    /// Stanzas sent since the last ack request.
    pub(crate) fn since_request(&self) -> u32 {
        self.since_request
    }

    /// Notes that an ack was requested.
    pub(crate) fn requested(&mut self) {
        self.since_request = 0;
    }

    /// Takes every unacknowledged stanza, oldest first.
    pub(crate) fn take_unacked(&mut self) -> Vec<(StanzaToken, Stanza)> {
        self.unacked.drain(..).collect()
    }
}

/// Inbound side: how many stanzas we have handled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Inbound {
    handled: u32,
}

impl Inbound {
    pub(crate) fn starting_at(handled: u32) -> Self {
        Self { handled }
    }

    pub(crate) fn handled_one(&mut self) {
        self.handled = self.handled.wrapping_add(1);
    }

    pub(crate) fn handled(self) -> u32 {
        self.handled
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stanza::{Message, Stanza};
    use proptest::prelude::*;

    fn stanza(i: u64) -> Stanza {
        Stanza::Message(Message::default().with_id(i.to_string()))
    }

    #[test]
    fn acks_confirm_in_order_and_refuse_too_high() {
        let mut out = Outbound::new(10);
        for i in 0..3 {
            out.sent(StanzaToken(i), stanza(i)).unwrap();
        }
        let acked = out.ack(2).unwrap();
        assert_eq!(
            acked.iter().map(|(t, _)| t.0).collect::<Vec<_>>(),
            vec![0, 1]
        );
        assert_eq!(
            out.ack(2).unwrap(),
            vec![],
            "a repeated ack confirms nothing"
        );
        assert_eq!(
            out.ack(5),
            Err(SmError::AckTooHigh {
                acked: 3,
                outstanding: 1
            })
        );
        assert_eq!(out.outstanding(), 1, "a bad ack drops nothing");
    }

    #[test]
    fn the_queue_is_bounded() {
        let mut out = Outbound::new(2);
        out.sent(StanzaToken(0), stanza(0)).unwrap();
        out.sent(StanzaToken(1), stanza(1)).unwrap();
        assert_eq!(
            out.sent(StanzaToken(2), stanza(2)),
            Err(SmError::QueueFull(2))
        );
    }

    proptest! {
        /// Across the 2^32 wrap, acks confirm exactly the stanzas sent, in
        /// order, whatever the starting counter and the ack pattern.
        #[test]
        fn counters_wrap(start in prop_oneof![Just(u32::MAX - 3), Just(u32::MAX), any::<u32>()],
                         sends in 1usize..40, acks in proptest::collection::vec(0usize..8, 1..20)) {
            let mut out = Outbound::starting_at(start, 64);
            let mut confirmed = Vec::new();
            let mut next = 0u64;
            let mut peer_h = start;
            for step in acks {
                for _ in 0..step.min(sends.saturating_sub(next as usize)) {
                    out.sent(StanzaToken(next), stanza(next)).unwrap();
                    next += 1;
                }
                // The peer acks everything sent so far or a part of it.
                let outstanding = out.outstanding() as u32;
                peer_h = peer_h.wrapping_add(outstanding / 2 + outstanding % 2);
                confirmed.extend(out.ack(peer_h).unwrap().into_iter().map(|(t, _)| t.0));
            }
            let total = out.outstanding() as u32;
            confirmed.extend(out.ack(peer_h.wrapping_add(total)).unwrap().into_iter().map(|(t, _)| t.0));
            prop_assert_eq!(confirmed, (0..next).collect::<Vec<_>>());
            prop_assert_eq!(out.acked(), start.wrapping_add(next as u32));
        }
    }
}
