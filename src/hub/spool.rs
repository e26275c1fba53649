//! The message spool as the router sees it: which messages are kept until
//! their recipient acknowledges them, how they are written to and read
//! from the store, and how a late delivery is stamped (XEP-0203).

use minidom::Element;

use crate::ext::Payload as _;
use crate::ext::delay::{DateTime, Delay};
use crate::jid::Jid;
use crate::stanza::{Message, MessageType, Stanza};
use crate::xml::StreamNamespace;

/// Chat state notifications (XEP-0085): never kept for later.
const NS_CHATSTATES: &str = "http://jabber.org/protocol/chatstates";

/// Whether a routed message is spooled: chat and normal messages to an
/// account (RFC 6121 section 8.5.2.2 leaves storage to the server; we keep
/// those until acknowledged, or for later).
pub(crate) fn is_spooled(stanza: &Stanza) -> bool {
    matches!(stanza, Stanza::Message(m) if matches!(m.kind, MessageType::Chat | MessageType::Normal))
}

/// Whether a spooled message is worth keeping for an account with no
/// available resource (XEP-0160): not one that only carries chat states.
pub(crate) fn keep_offline(message: &Message) -> bool {
    !message.bodies.is_empty()
        || !message.subjects.is_empty()
        || message.payloads.iter().any(|p| !p.has_ns(NS_CHATSTATES))
}

/// The stanza as stored: written straight from its typed fields, its
/// payloads still kept as bytes written as they came.
pub(crate) fn serialize(stanza: &Stanza) -> Option<String> {
    let mut out = bytes::BytesMut::new();
    crate::xml::StreamWriter::new()
        .write_stanza(stanza, StreamNamespace::Client, &mut out)
        .ok()?;
    String::from_utf8(out.to_vec()).ok()
}

/// Whether the stanza sent with XEP-0198 sequence number `seq` is
/// acknowledged by `h` (counters wrap at 2^32: "up to" means within the
/// half of the circle behind `h`).
pub(crate) fn is_acked(seq: u32, h: u32) -> bool {
    i32::try_from(h.wrapping_sub(seq)).is_ok()
}

/// A stored stanza read back; `None` if it no longer parses.
pub(crate) fn parse(text: &str) -> Option<Stanza> {
    let element: Element = text.parse().ok()?;
    Stanza::try_from(element).ok()
}

/// Stamps a message delivered late (XEP-0203) with the time the hub
/// accepted it, once.
pub(crate) fn with_delay(stanza: Stanza, stamp_ms: u64, by: &str) -> Stanza {
    let Stanza::Message(mut message) = stanza else {
        return stanza;
    };
    let already = message
        .payloads
        .iter()
        .any(|p| p.is("delay", crate::ext::delay::NS));
    let seconds = i64::try_from(stamp_ms / 1000).unwrap_or(i64::MAX);
    if !already && let Ok(stamp) = DateTime::from_unix_timestamp(seconds) {
        let mut delay = Delay::new(stamp).with_reason("Offline Storage");
        if let Ok(from) = by.parse::<Jid>() {
            delay = delay.with_from(from);
        }
        message.payloads.push(delay.to_element().into());
    }
    Stanza::Message(message)
}
