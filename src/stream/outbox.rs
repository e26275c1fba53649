//! The ordered outputs of a connection machine.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};

/// An output type with a variant for bytes to transmit.
pub(crate) trait Transmit: Sized {
    /// Wraps bytes to write.
    fn transmit(bytes: Bytes) -> Self;
    /// The number of bytes, if this is a transmit output.
    fn transmit_len(&self) -> Option<usize>;
}

/// What a connection machine has to say, in order.
///
/// Bytes written into [`buf`](Self::buf) are coalesced into one transmit
/// output until another output is pushed, so that output follows them.
/// The closing output is queued once, by [`close`](Self::close), and
/// nothing is queued after it: the invariant every machine promises
/// ("`Closed` comes last and once") lives here, not in each machine.
#[derive(Debug)]
pub(crate) struct Outbox<O> {
    bytes: BytesMut,
    queue: VecDeque<O>,
    /// Bytes in `queue`'s transmit outputs.
    queued_bytes: usize,
    closed: bool,
}

impl<O: Transmit> Outbox<O> {
    pub(crate) fn new() -> Self {
        Self {
            bytes: BytesMut::new(),
            queue: VecDeque::new(),
            queued_bytes: 0,
            closed: false,
        }
    }

    /// Where to write bytes for the peer. Writes after the close are
    /// dropped when polled.
    pub(crate) fn buf(&mut self) -> &mut BytesMut {
        &mut self.bytes
    }

    /// Moves the written bytes into the queue as one transmit output.
    pub(crate) fn flush(&mut self) {
        if !self.bytes.is_empty() && !self.closed {
            let bytes = self.bytes.split().freeze();
            self.queued_bytes += bytes.len();
            self.queue.push_back(O::transmit(bytes));
        }
    }

    /// Queues an output after the bytes written so far. Ignored once closed.
    pub(crate) fn push(&mut self, output: O) {
        if self.closed {
            return;
        }
        self.flush();
        self.queue.push_back(output);
    }

    /// Queues the closing output after the bytes written so far, once.
    /// Returns whether this call closed the outbox.
    pub(crate) fn close(&mut self, output: O) -> bool {
        if self.closed {
            return false;
        }
        self.flush();
        self.queue.push_back(output);
        self.closed = true;
        true
    }

    /// Whether the closing output was queued.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed
    }

    /// Bytes written and not yet taken by [`poll`](Self::poll).
    pub(crate) fn pending_bytes(&self) -> usize {
        self.queued_bytes + self.bytes.len()
    }

    /// The next output.
    pub(crate) fn poll(&mut self) -> Option<O> {
        if let Some(output) = self.queue.pop_front() {
            if let Some(len) = output.transmit_len() {
                self.queued_bytes = self.queued_bytes.saturating_sub(len);
            }
            return Some(output);
        }
        if self.closed {
            self.bytes.clear();
            return None;
        }
        (!self.bytes.is_empty()).then(|| O::transmit(self.bytes.split().freeze()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    enum Out {
        Bytes(Bytes),
        Event(u8),
        Closed,
    }

    impl Transmit for Out {
        fn transmit(bytes: Bytes) -> Self {
            Self::Bytes(bytes)
        }
        fn transmit_len(&self) -> Option<usize> {
            match self {
                Self::Bytes(b) => Some(b.len()),
                _ => None,
            }
        }
    }

    #[test]
    fn bytes_coalesce_outputs_keep_order_and_closed_is_last_and_once() {
        let mut outbox = Outbox::<Out>::new();
        outbox.buf().extend_from_slice(b"ab");
        outbox.buf().extend_from_slice(b"c");
        outbox.push(Out::Event(1));
        outbox.buf().extend_from_slice(b"d");
        assert_eq!(outbox.pending_bytes(), 4);
        assert!(outbox.close(Out::Closed));
        assert!(!outbox.close(Out::Closed));
        outbox.push(Out::Event(2));
        outbox.buf().extend_from_slice(b"late");
        let all: Vec<Out> = std::iter::from_fn(|| outbox.poll()).collect();
        assert_eq!(
            all,
            vec![
                Out::Bytes(Bytes::from_static(b"abc")),
                Out::Event(1),
                Out::Bytes(Bytes::from_static(b"d")),
                Out::Closed
            ]
        );
        assert_eq!(outbox.pending_bytes(), 0);
    }
}
