//! XEP-0478: Stream Limits Advertisement.
//!
//! A receiving entity announces the limits it enforces on a stream in a
//! `<limits xmlns='urn:xmpp:stream-limits:0'/>` stream feature (or, on a
//! XEP-0288 bidirectional server stream, inside `<bidi/>`): the largest
//! top-level element it accepts, in bytes, and how long the stream may stay
//! silent before it checks liveness or closes it. A sender uses them to
//! refuse oversized stanzas early (with `policy-violation`) rather than
//! lose the stream.
//!
//! ```
//! use xmpp_kit::ext::Payload;
//! use xmpp_kit::ext::stream_limits::StreamLimits;
//!
//! let limits: minidom::Element = "<limits xmlns='urn:xmpp:stream-limits:0'>\
//!     <max-bytes>262144</max-bytes><idle-seconds>900</idle-seconds></limits>"
//!     .parse()
//!     .expect("well-formed");
//! let limits = StreamLimits::parse(&limits)?;
//! assert_eq!(limits.max_bytes, Some(262_144));
//! assert_eq!(limits.idle_seconds, Some(900));
//! assert!(limits.allows(10_000) && !limits.allows(300_000));
//! # Ok::<(), xmpp_kit::ext::PayloadError>(())
//! ```

use minidom::Element;

use super::{Payload, PayloadError, expect, text_element};

/// The stream limits namespace, `urn:xmpp:stream-limits:0`.
pub const NS: &str = "urn:xmpp:stream-limits:0";

/// The `<limits/>` stream feature (XEP-0478 §3). Both limits are optional;
/// an absent one is not advertised (which does not mean unlimited).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct StreamLimits {
    /// `<max-bytes/>`: the largest top-level element (including stanzas), in
    /// bytes, that the announcing entity accepts.
    pub max_bytes: Option<u32>,
    /// `<idle-seconds/>`: seconds without traffic from the initiating entity
    /// after which the stream may be considered idle.
    pub idle_seconds: Option<u32>,
}

impl StreamLimits {
    /// Whether an element of `len` bytes fits the advertised `max-bytes`
    /// (always, if none was advertised).
    pub fn allows(&self, len: usize) -> bool {
        self.max_bytes
            .is_none_or(|max| u64::try_from(len).is_ok_and(|len| len <= u64::from(max)))
    }
}

impl Payload for StreamLimits {
    fn matches(element: &Element) -> bool {
        element.is("limits", NS)
    }

    fn parse(element: &Element) -> Result<Self, PayloadError> {
        expect(element, "limits", NS)?;
        let mut limits = Self::default();
        for child in element.children().filter(|c| c.has_ns(NS)) {
            match child.name() {
                "max-bytes" if limits.max_bytes.is_none() => {
                    limits.max_bytes = Some(u32_text(child, "max-bytes")?);
                }
                "idle-seconds" if limits.idle_seconds.is_none() => {
                    limits.idle_seconds = Some(u32_text(child, "idle-seconds")?);
                }
                _ => {}
            }
        }
        Ok(limits)
    }

    fn to_element(&self) -> Element {
        let mut limits = Element::bare("limits", NS);
        if let Some(max_bytes) = self.max_bytes {
            limits.append_child(text_element("max-bytes", NS, max_bytes.to_string()));
        }
        if let Some(idle_seconds) = self.idle_seconds {
            limits.append_child(text_element("idle-seconds", NS, idle_seconds.to_string()));
        }
        limits
    }
}

/// The text of `element` as an unsigned integer (surrounding whitespace
/// allowed); garbage, negatives and values above `u32::MAX` are
/// [`PayloadError::InvalidValue`].
fn u32_text(element: &Element, element_name: &'static str) -> Result<u32, PayloadError> {
    let text = element.text();
    text.trim().parse().map_err(|_| PayloadError::InvalidValue {
        element: element_name,
        what: "text",
        value: text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn el(xml: &str) -> Element {
        xml.parse().unwrap()
    }

    /// XEP-0478 example 1 (§3.1, limits advertised in the stream features).
    #[test]
    fn example_1_stream_features() {
        let features = el(
            r#"<stream:features xmlns:stream='http://etherx.jabber.org/streams'>
  <mechanisms xmlns="urn:ietf:params:xml:ns:xmpp-sasl">
    <mechanism>SCRAM-SHA-1</mechanism>
    <mechanism>PLAIN</mechanism>
  </mechanisms>
  <limits xmlns="urn:xmpp:stream-limits:0">
    <max-bytes>10000</max-bytes>
    <idle-seconds>1800</idle-seconds>
  </limits>
</stream:features>"#,
        );
        let limits = features
            .children()
            .find(|c| StreamLimits::matches(c))
            .unwrap();
        let parsed = StreamLimits::parse(limits).unwrap();
        assert_eq!(
            parsed,
            StreamLimits {
                max_bytes: Some(10000),
                idle_seconds: Some(1800)
            }
        );
        let compact = el("<limits xmlns='urn:xmpp:stream-limits:0'>\
            <max-bytes>10000</max-bytes><idle-seconds>1800</idle-seconds></limits>");
        assert_eq!(parsed.to_element(), compact);
        assert_eq!(StreamLimits::parse(&parsed.to_element()), Ok(parsed));
    }

    /// XEP-0478 example 2 (§3.2, limits inside a XEP-0288 `<bidi/>`).
    #[test]
    fn example_2_bidi() {
        let bidi = el(r#"<bidi xmlns='urn:xmpp:bidi'>
  <limits xmlns="urn:xmpp:stream-limits:0">
    <max-bytes>10000</max-bytes>
    <idle-seconds>1800</idle-seconds>
  </limits>
</bidi>"#);
        let limits = bidi.get_child("limits", NS).unwrap();
        assert_eq!(
            StreamLimits::parse(limits),
            Ok(StreamLimits {
                max_bytes: Some(10000),
                idle_seconds: Some(1800)
            })
        );
    }

    /// The values of the brief (not a spec example): 256 KiB and 15 minutes.
    #[test]
    fn brief_values_round_trip_exactly() {
        let e = el("<limits xmlns='urn:xmpp:stream-limits:0'>\
            <max-bytes>262144</max-bytes><idle-seconds>900</idle-seconds></limits>");
        let limits = StreamLimits::parse(&e).unwrap();
        assert_eq!(
            limits,
            StreamLimits {
                max_bytes: Some(262_144),
                idle_seconds: Some(900)
            }
        );
        assert_eq!(limits.to_element(), e);
    }

    #[test]
    fn either_limit_may_be_absent() {
        let empty = el("<limits xmlns='urn:xmpp:stream-limits:0'/>");
        assert_eq!(StreamLimits::parse(&empty), Ok(StreamLimits::default()));
        assert_eq!(StreamLimits::default().to_element(), empty);
        let only_idle = StreamLimits {
            max_bytes: None,
            idle_seconds: Some(60),
        };
        assert_eq!(StreamLimits::parse(&only_idle.to_element()), Ok(only_idle));
        let only_bytes = StreamLimits {
            max_bytes: Some(u32::MAX),
            idle_seconds: None,
        };
        assert_eq!(
            StreamLimits::parse(&only_bytes.to_element()),
            Ok(only_bytes)
        );
    }

    #[test]
    fn parsing_is_tolerant() {
        let e = el("<limits xmlns='urn:xmpp:stream-limits:0' future='1'>\
            <max-stanzas>5</max-stanzas>\
            <max-bytes xmlns='urn:other'>oops</max-bytes>\
            <max-bytes> 5000\n</max-bytes><max-bytes>1</max-bytes></limits>");
        assert_eq!(
            StreamLimits::parse(&e),
            Ok(StreamLimits {
                max_bytes: Some(5000),
                idle_seconds: None
            })
        );
    }

    #[test]
    fn bad_numbers_are_invalid_values() {
        for (name, value) in [
            ("max-bytes", ""),
            ("max-bytes", "4294967296"),
            ("max-bytes", "-1"),
            ("idle-seconds", "15m"),
            ("idle-seconds", "1.5"),
        ] {
            let e = el(&format!(
                "<limits xmlns='urn:xmpp:stream-limits:0'><{name}>{value}</{name}></limits>"
            ));
            let element = if name == "max-bytes" {
                "max-bytes"
            } else {
                "idle-seconds"
            };
            assert_eq!(
                StreamLimits::parse(&e),
                Err(PayloadError::InvalidValue {
                    element,
                    what: "text",
                    value: value.to_owned()
                }),
                "{name} {value:?}"
            );
        }
    }

    #[test]
    fn other_elements_are_refused() {
        let e = el("<limits xmlns='urn:xmpp:stream-limits:1'/>");
        assert!(!StreamLimits::matches(&e));
        assert!(matches!(
            StreamLimits::parse(&e),
            Err(PayloadError::WrongElement { .. })
        ));
    }

    #[test]
    fn allows_compares_with_max_bytes() {
        let limits = StreamLimits {
            max_bytes: Some(100),
            idle_seconds: None,
        };
        assert!(limits.allows(0) && limits.allows(100) && !limits.allows(101));
        assert!(StreamLimits::default().allows(usize::MAX));
    }
}
