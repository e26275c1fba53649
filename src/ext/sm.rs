//! XEP-0198: Stream Management elements.
//!
//! Stream management adds acknowledgements and resumption to a stream with
//! short top-level elements ("nonzas", not stanzas) in `urn:xmpp:sm:3`:
//!
//! * the stream feature `<sm/>` ([`Feature`]);
//! * `<enable/>` / `<enabled/>` to switch it on, optionally resumable
//!   ([`Enable`], [`Enabled`]);
//! * `<r/>` / `<a h='n'/>` to request and give acknowledgements
//!   ([`Request`], [`Answer`]);
//! * `<resume/>` / `<resumed/>` to resume a broken stream ([`Resume`],
//!   [`Resumed`]);
//! * `<failed/>` when enabling or resuming fails ([`Failed`]).
//!
//! [`Nonza`] parses any of them, for a connection that receives top-level
//! elements and dispatches on them.
//!
//! ```
//! use xmpp_kit::ext::Payload;
//! use xmpp_kit::ext::sm::{Answer, Enable, Enabled, Nonza, Request};
//!
//! // Client: ask for a resumable session.
//! let enable = Enable { resume: true, max: None };
//! assert_eq!(Enable::parse(&enable.to_element())?, enable);
//!
//! // Server: granted.
//! let enabled: minidom::Element =
//!     "<enabled xmlns='urn:xmpp:sm:3' id='some-long-sm-id' resume='true'/>".parse().expect("well-formed");
//! assert_eq!(
//!     Nonza::parse(&enabled)?,
//!     Nonza::Enabled(Enabled {
//!         id: Some("some-long-sm-id".to_owned()),
//!         resume: true,
//!         max: None,
//!         location: None,
//!     })
//! );
//!
//! // Later: "how many have you handled?" "One."
//! assert!(Request::matches(&Request.to_element()));
//! assert_eq!(Answer { h: 1 }.to_element().attr("h"), Some("1"));
//! # Ok::<(), xmpp_kit::ext::PayloadError>(())
//! ```

use minidom::Element;

use super::{Payload, PayloadError, expect, required_attr, set_attr, set_opt_attr, u32_attr};
use crate::ns;
use crate::stanza::DefinedCondition;

/// The stream management namespace, `urn:xmpp:sm:3`.
pub const NS: &str = "urn:xmpp:sm:3";

/// The `<sm xmlns='urn:xmpp:sm:3'/>` stream feature: the server offers
/// stream management (XEP-0198 §2).
///
/// Older revisions allowed an `<optional/>` or `<required/>` child; it is
/// ignored when parsing and not written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Feature;

impl Payload for Feature {
    fn matches(element: &Element) -> bool {
        element.is("sm", NS)
    }

    fn parse(element: &Element) -> Result<Self, PayloadError> {
        expect(element, "sm", NS)?;
        Ok(Self)
    }

    fn to_element(&self) -> Element {
        Element::bare("sm", NS)
    }
}

/// `<enable/>`: the client switches stream management on (XEP-0198 §3).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Enable {
    /// Whether the client wants the stream to be resumable.
    pub resume: bool,
    /// The client's preferred maximum resumption time, in seconds.
    pub max: Option<u32>,
}

impl Payload for Enable {
    fn matches(element: &Element) -> bool {
        element.is("enable", NS)
    }

    fn parse(element: &Element) -> Result<Self, PayloadError> {
        expect(element, "enable", NS)?;
        Ok(Self {
            resume: resume_attr(element, "enable")?,
            max: u32_attr(element, "max", "attribute 'max'", "enable")?,
        })
    }

    fn to_element(&self) -> Element {
        let mut enable = Element::bare("enable", NS);
        set_resume(&mut enable, self.resume);
        set_opt_attr(&mut enable, "max", self.max.map(|max| max.to_string()));
        enable
    }
}

/// `<enabled/>`: the server confirms stream management (XEP-0198 §3).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Enabled {
    /// The SM-ID to resume with; the server must give one when `resume` is set.
    pub id: Option<String>,
    /// Whether the server allows resuming the stream.
    pub resume: bool,
    /// The server's maximum resumption time, in seconds.
    pub max: Option<u32>,
    /// The server's preferred reconnection address (`host` or `host:port`,
    /// IPv6 in brackets), kept as written.
    pub location: Option<String>,
}

impl Payload for Enabled {
    fn matches(element: &Element) -> bool {
        element.is("enabled", NS)
    }

    fn parse(element: &Element) -> Result<Self, PayloadError> {
        expect(element, "enabled", NS)?;
        Ok(Self {
            id: crate::ext::attr(element, "id").map(str::to_owned),
            resume: resume_attr(element, "enabled")?,
            max: u32_attr(element, "max", "attribute 'max'", "enabled")?,
            location: crate::ext::attr(element, "location").map(str::to_owned),
        })
    }

    fn to_element(&self) -> Element {
        let mut enabled = Element::bare("enabled", NS);
        set_opt_attr(&mut enabled, "id", self.id.clone());
        set_resume(&mut enabled, self.resume);
        set_opt_attr(&mut enabled, "max", self.max.map(|max| max.to_string()));
        set_opt_attr(&mut enabled, "location", self.location.clone());
        enabled
    }
}

/// `<r/>`: a request for an acknowledgement (XEP-0198 §4).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Request;

impl Payload for Request {
    fn matches(element: &Element) -> bool {
        element.is("r", NS)
    }

    fn parse(element: &Element) -> Result<Self, PayloadError> {
        expect(element, "r", NS)?;
        Ok(Self)
    }

    fn to_element(&self) -> Element {
        Element::bare("r", NS)
    }
}

/// `<a h='n'/>`: an acknowledgement (XEP-0198 §4), requested or not.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Answer {
    /// The number of stanzas handled, modulo 2³².
    pub h: u32,
}

impl Payload for Answer {
    fn matches(element: &Element) -> bool {
        element.is("a", NS)
    }

    fn parse(element: &Element) -> Result<Self, PayloadError> {
        expect(element, "a", NS)?;
        Ok(Self {
            h: h_attr(element, "a")?,
        })
    }

    fn to_element(&self) -> Element {
        let mut a = Element::bare("a", NS);
        set_attr(&mut a, "h", self.h.to_string());
        a
    }
}

/// `<resume/>`: the client asks to resume a former stream (XEP-0198 §5).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Resume {
    /// The number of stanzas the client handled on the former stream.
    pub h: u32,
    /// The SM-ID of the former stream.
    pub previd: String,
}

impl Payload for Resume {
    fn matches(element: &Element) -> bool {
        element.is("resume", NS)
    }

    fn parse(element: &Element) -> Result<Self, PayloadError> {
        expect(element, "resume", NS)?;
        Ok(Self {
            h: h_attr(element, "resume")?,
            previd: required_attr(element, "previd", "resume")?.to_owned(),
        })
    }

    fn to_element(&self) -> Element {
        resumption_element("resume", self.h, &self.previd)
    }
}

/// `<resumed/>`: the server resumed the former stream (XEP-0198 §5).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Resumed {
    /// The number of stanzas the server handled on the former stream.
    pub h: u32,
    /// The SM-ID of the former stream.
    pub previd: String,
}

impl Payload for Resumed {
    fn matches(element: &Element) -> bool {
        element.is("resumed", NS)
    }

    fn parse(element: &Element) -> Result<Self, PayloadError> {
        expect(element, "resumed", NS)?;
        Ok(Self {
            h: h_attr(element, "resumed")?,
            previd: required_attr(element, "previd", "resumed")?.to_owned(),
        })
    }

    fn to_element(&self) -> Element {
        resumption_element("resumed", self.h, &self.previd)
    }
}

/// `<failed/>`: enabling or resuming failed (XEP-0198 §3, §5, §6).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Failed {
    /// After a failed resumption, the number of stanzas the server handled
    /// before the former session timed out, if it still knows.
    pub h: Option<u32>,
    /// The stanza error condition, such as `item-not-found` (unknown
    /// session) or `unexpected-request` (enable before binding).
    pub condition: Option<DefinedCondition>,
}

impl Payload for Failed {
    fn matches(element: &Element) -> bool {
        element.is("failed", NS)
    }

    /// Parses `<failed/>`; the condition is the first child in the stanza
    /// error namespace that names a defined condition (other children, such
    /// as `<text/>`, are ignored).
    fn parse(element: &Element) -> Result<Self, PayloadError> {
        expect(element, "failed", NS)?;
        Ok(Self {
            h: u32_attr(element, "h", "attribute 'h'", "failed")?,
            condition: element
                .children()
                .filter(|child| child.has_ns(ns::STANZA_ERRORS))
                .find_map(|child| child.name().parse().ok()),
        })
    }

    fn to_element(&self) -> Element {
        let mut failed = Element::bare("failed", NS);
        set_opt_attr(&mut failed, "h", self.h.map(|h| h.to_string()));
        if let Some(condition) = self.condition {
            failed.append_child(Element::bare(condition.as_str(), ns::STANZA_ERRORS));
        }
        failed
    }
}

/// Any stream management nonza, for dispatching on a received top-level
/// element. The stream feature is not a nonza and is not included.
///
/// ```
/// use xmpp_kit::ext::Payload;
/// use xmpp_kit::ext::sm::{Answer, Nonza};
///
/// let a: minidom::Element = "<a xmlns='urn:xmpp:sm:3' h='5'/>".parse().expect("well-formed");
/// assert!(Nonza::matches(&a));
/// assert_eq!(Nonza::parse(&a)?, Nonza::Answer(Answer { h: 5 }));
/// # Ok::<(), xmpp_kit::ext::PayloadError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Nonza {
    /// `<enable/>`.
    Enable(Enable),
    /// `<enabled/>`.
    Enabled(Enabled),
    /// `<r/>`.
    Request(Request),
    /// `<a/>`.
    Answer(Answer),
    /// `<resume/>`.
    Resume(Resume),
    /// `<resumed/>`.
    Resumed(Resumed),
    /// `<failed/>`.
    Failed(Failed),
}

impl Payload for Nonza {
    fn matches(element: &Element) -> bool {
        element.has_ns(NS)
            && matches!(
                element.name(),
                "enable" | "enabled" | "r" | "a" | "resume" | "resumed" | "failed"
            )
    }

    /// Parses whichever nonza `element` is.
    ///
    /// # Errors
    /// [`PayloadError::WrongElement`] (expecting `<enable/>`, the first
    /// nonza of a session) for any other element, or the error of the
    /// nonza's own parser.
    fn parse(element: &Element) -> Result<Self, PayloadError> {
        if element.has_ns(NS) {
            match element.name() {
                "enable" => return Enable::parse(element).map(Self::Enable),
                "enabled" => return Enabled::parse(element).map(Self::Enabled),
                "r" => return Request::parse(element).map(Self::Request),
                "a" => return Answer::parse(element).map(Self::Answer),
                "resume" => return Resume::parse(element).map(Self::Resume),
                "resumed" => return Resumed::parse(element).map(Self::Resumed),
                "failed" => return Failed::parse(element).map(Self::Failed),
                _ => {}
            }
        }
        Err(PayloadError::WrongElement {
            expected: "enable",
            namespace: NS,
            found: element.name().to_owned(),
            found_namespace: element.ns(),
        })
    }

    fn to_element(&self) -> Element {
        match self {
            Self::Enable(x) => x.to_element(),
            Self::Enabled(x) => x.to_element(),
            Self::Request(x) => x.to_element(),
            Self::Answer(x) => x.to_element(),
            Self::Resume(x) => x.to_element(),
            Self::Resumed(x) => x.to_element(),
            Self::Failed(x) => x.to_element(),
        }
    }
}

// ---- private helpers --------------------------------------------------------

/// `<resume/>` or `<resumed/>`.
fn resumption_element(name: &'static str, h: u32, previd: &str) -> Element {
    let mut element = Element::bare(name, NS);
    set_attr(&mut element, "h", h.to_string());
    set_attr(&mut element, "previd", previd);
    element
}

/// The required `h` attribute (an `xs:unsignedInt`).
fn h_attr(element: &Element, element_name: &'static str) -> Result<u32, PayloadError> {
    u32_attr(element, "h", "attribute 'h'", element_name)?.ok_or(PayloadError::MissingAttribute {
        element: element_name,
        attribute: "h",
    })
}

/// The optional `resume` attribute, an `xs:boolean` defaulting to false.
fn resume_attr(element: &Element, element_name: &'static str) -> Result<bool, PayloadError> {
    match crate::ext::attr(element, "resume") {
        None => Ok(false),
        Some(value) => match value.trim() {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            _ => Err(PayloadError::InvalidValue {
                element: element_name,
                what: "attribute 'resume'",
                value: value.to_owned(),
            }),
        },
    }
}

/// Writes `resume='true'`, or nothing for the default false.
fn set_resume(element: &mut Element, resume: bool) {
    if resume {
        set_attr(element, "resume", "true");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn el(xml: &str) -> Element {
        xml.parse().unwrap()
    }

    /// XEP-0198 example 1 (§2, the stream feature among the stream features).
    #[test]
    fn example_1_feature() {
        let features = el(
            "<stream:features xmlns:stream='http://etherx.jabber.org/streams'>
  <bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>
  <sm xmlns='urn:xmpp:sm:3'/>
</stream:features>",
        );
        let sm = features.children().find(|c| Feature::matches(c)).unwrap();
        assert_eq!(Feature::parse(sm), Ok(Feature));
        assert_eq!(&Feature.to_element(), sm);
        assert!(!Nonza::matches(sm));
    }

    #[test]
    fn old_feature_children_are_ignored() {
        let sm = el("<sm xmlns='urn:xmpp:sm:3'><optional/></sm>");
        assert_eq!(Feature::parse(&sm), Ok(Feature));
        let sm2 = el("<sm xmlns='urn:xmpp:sm:2'/>");
        assert!(!Feature::matches(&sm2));
        assert!(matches!(
            Feature::parse(&sm2),
            Err(PayloadError::WrongElement { .. })
        ));
    }

    /// XEP-0198 examples 2 and 3 (§3, enable and enabled without resumption).
    #[test]
    fn examples_2_3_enable_enabled() {
        let enable = el("<enable xmlns='urn:xmpp:sm:3'/>");
        assert_eq!(
            Enable::parse(&enable),
            Ok(Enable {
                resume: false,
                max: None
            })
        );
        assert_eq!(Enable::default().to_element(), enable);

        let enabled = el("<enabled xmlns='urn:xmpp:sm:3'/>");
        assert_eq!(Enabled::parse(&enabled), Ok(Enabled::default()));
        assert_eq!(Enabled::default().to_element(), enabled);
    }

    /// XEP-0198 examples 4 and 8 (§3, §5, enabled with resumption), and 7 (§5, enable with resume).
    #[test]
    fn examples_4_7_8_resumable() {
        let enable = el("<enable xmlns='urn:xmpp:sm:3' resume='true'/>");
        let parsed = Enable::parse(&enable).unwrap();
        assert!(parsed.resume);
        assert_eq!(parsed.to_element(), enable);

        let enabled = el("<enabled xmlns='urn:xmpp:sm:3' id='some-long-sm-id' resume='true'/>");
        let parsed = Enabled::parse(&enabled).unwrap();
        assert_eq!(
            parsed,
            Enabled {
                id: Some("some-long-sm-id".to_owned()),
                resume: true,
                max: None,
                location: None
            }
        );
        assert_eq!(parsed.to_element(), enabled);
    }

    /// XEP-0198 example 9 (§5, server prefers reconnection at a particular location).
    #[test]
    fn example_9_location() {
        let enabled = el("<enabled xmlns='urn:xmpp:sm:3'
            id='some-long-sm-id'
            location='[2001:41D0:1:A49b::1]:9222'
            resume='true'/>");
        let parsed = Enabled::parse(&enabled).unwrap();
        assert_eq!(
            parsed.location.as_deref(),
            Some("[2001:41D0:1:A49b::1]:9222")
        );
        assert!(parsed.resume);
        assert_eq!(parsed.to_element(), enabled);
    }

    /// XEP-0198 examples 5 and 13 (§3, §6, failed with unexpected-request).
    #[test]
    fn examples_5_13_failed_unexpected_request() {
        let failed = el("<failed xmlns='urn:xmpp:sm:3'>
  <unexpected-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>
</failed>");
        let parsed = Failed::parse(&failed).unwrap();
        assert_eq!(
            parsed,
            Failed {
                h: None,
                condition: Some(DefinedCondition::UnexpectedRequest)
            }
        );
        let compact = el("<failed xmlns='urn:xmpp:sm:3'>\
            <unexpected-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed>");
        assert_eq!(parsed.to_element(), compact);
    }

    /// XEP-0198 example 12 (§5, stream timed out: failed with item-not-found and h).
    /// The example's `h='another-sequence-number'` is a placeholder; 42 stands for it.
    #[test]
    fn example_12_failed_item_not_found() {
        let failed = el("<failed xmlns='urn:xmpp:sm:3'
        h='42'>
  <item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>
</failed>");
        let parsed = Failed::parse(&failed).unwrap();
        assert_eq!(
            parsed,
            Failed {
                h: Some(42),
                condition: Some(DefinedCondition::ItemNotFound)
            }
        );
        assert_eq!(Failed::parse(&parsed.to_element()), Ok(parsed));

        let placeholder = el("<failed xmlns='urn:xmpp:sm:3' h='another-sequence-number'>\
            <item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed>");
        assert_eq!(
            Failed::parse(&placeholder),
            Err(PayloadError::InvalidValue {
                element: "failed",
                what: "attribute 'h'",
                value: "another-sequence-number".to_owned(),
            })
        );
    }

    /// XEP-0198 examples 6 and 16 to 22 (§4, §8: requests and answers).
    #[test]
    fn examples_6_16_to_22_acks() {
        let r = el("<r xmlns='urn:xmpp:sm:3'/>");
        assert_eq!(Request::parse(&r), Ok(Request));
        assert_eq!(Request.to_element(), r);
        for h in [1, 2, 3, 5, 10] {
            let a = el(&format!("<a xmlns='urn:xmpp:sm:3' h='{h}'/>"));
            assert_eq!(Answer::parse(&a), Ok(Answer { h }));
            assert_eq!(Answer { h }.to_element(), a);
        }
    }

    /// XEP-0198 examples 10 and 11 (§5, resume and resumed). The examples'
    /// `h` values are placeholders; numbers stand for them.
    #[test]
    fn examples_10_11_resume_resumed() {
        let resume = el("<resume xmlns='urn:xmpp:sm:3'
        h='7'
        previd='some-long-sm-id'/>");
        let parsed = Resume::parse(&resume).unwrap();
        assert_eq!(
            parsed,
            Resume {
                h: 7,
                previd: "some-long-sm-id".to_owned()
            }
        );
        assert_eq!(parsed.to_element(), resume);

        let resumed = el("<resumed xmlns='urn:xmpp:sm:3'
         h='0'
         previd='some-long-sm-id'/>");
        let parsed = Resumed::parse(&resumed).unwrap();
        assert_eq!(
            parsed,
            Resumed {
                h: 0,
                previd: "some-long-sm-id".to_owned()
            }
        );
        assert_eq!(parsed.to_element(), resumed);
    }

    #[test]
    fn resume_accepts_xs_boolean_forms() {
        for (value, expected) in [
            ("true", true),
            ("1", true),
            ("false", false),
            ("0", false),
            (" 1 ", true),
        ] {
            let enable = el(&format!("<enable xmlns='urn:xmpp:sm:3' resume='{value}'/>"));
            assert_eq!(
                Enable::parse(&enable).unwrap().resume,
                expected,
                "{value:?}"
            );
            let enabled = el(&format!(
                "<enabled xmlns='urn:xmpp:sm:3' resume='{value}'/>"
            ));
            assert_eq!(
                Enabled::parse(&enabled).unwrap().resume,
                expected,
                "{value:?}"
            );
        }
        for value in ["yes", "TRUE", "", "2"] {
            let enable = el(&format!("<enable xmlns='urn:xmpp:sm:3' resume='{value}'/>"));
            assert_eq!(
                Enable::parse(&enable),
                Err(PayloadError::InvalidValue {
                    element: "enable",
                    what: "attribute 'resume'",
                    value: value.to_owned(),
                }),
                "{value:?}"
            );
        }
        // Written as "true" or not at all.
        assert_eq!(
            Enable {
                resume: true,
                max: None
            }
            .to_element()
            .attr("resume"),
            Some("true")
        );
        assert_eq!(
            Enable {
                resume: false,
                max: None
            }
            .to_element()
            .attr("resume"),
            None
        );
    }

    #[test]
    fn max_is_kept() {
        let enable = el("<enable xmlns='urn:xmpp:sm:3' resume='1' max='300'/>");
        assert_eq!(
            Enable::parse(&enable),
            Ok(Enable {
                resume: true,
                max: Some(300)
            })
        );
        let enabled = Enabled {
            id: Some("x".to_owned()),
            resume: true,
            max: Some(600),
            location: Some("h:1".to_owned()),
        };
        assert_eq!(Enabled::parse(&enabled.to_element()), Ok(enabled));
        let bad = el("<enabled xmlns='urn:xmpp:sm:3' max='-5'/>");
        assert!(matches!(
            Enabled::parse(&bad),
            Err(PayloadError::InvalidValue {
                element: "enabled",
                what: "attribute 'max'",
                ..
            })
        ));
    }

    #[test]
    fn h_is_an_unsigned_int() {
        let max = el("<a xmlns='urn:xmpp:sm:3' h='4294967295'/>");
        assert_eq!(Answer::parse(&max), Ok(Answer { h: u32::MAX }));
        for value in [
            "4294967296",
            "99999999999999999999",
            "-1",
            "1e3",
            "",
            "0x10",
            "one",
        ] {
            for name in ["a", "resume", "resumed"] {
                let e = el(&format!(
                    "<{name} xmlns='urn:xmpp:sm:3' h='{value}' previd='p'/>"
                ));
                let error = PayloadError::InvalidValue {
                    element: match name {
                        "a" => "a",
                        "resume" => "resume",
                        _ => "resumed",
                    },
                    what: "attribute 'h'",
                    value: value.to_owned(),
                };
                let result = Nonza::parse(&e);
                assert_eq!(result, Err(error), "{name} h={value:?}");
            }
        }
        let spaced = el("<a xmlns='urn:xmpp:sm:3' h=' 12 '/>");
        assert_eq!(Answer::parse(&spaced), Ok(Answer { h: 12 }));
    }

    #[test]
    fn required_attributes_are_reported() {
        assert_eq!(
            Answer::parse(&el("<a xmlns='urn:xmpp:sm:3'/>")),
            Err(PayloadError::MissingAttribute {
                element: "a",
                attribute: "h"
            })
        );
        assert_eq!(
            Resume::parse(&el("<resume xmlns='urn:xmpp:sm:3' previd='x'/>")),
            Err(PayloadError::MissingAttribute {
                element: "resume",
                attribute: "h"
            })
        );
        assert_eq!(
            Resume::parse(&el("<resume xmlns='urn:xmpp:sm:3' h='1'/>")),
            Err(PayloadError::MissingAttribute {
                element: "resume",
                attribute: "previd"
            })
        );
        assert_eq!(
            Resumed::parse(&el("<resumed xmlns='urn:xmpp:sm:3' h='1'/>")),
            Err(PayloadError::MissingAttribute {
                element: "resumed",
                attribute: "previd"
            })
        );
    }

    #[test]
    fn failed_is_tolerant() {
        let bare = el("<failed xmlns='urn:xmpp:sm:3'/>");
        assert_eq!(Failed::parse(&bare), Ok(Failed::default()));
        assert_eq!(Failed::default().to_element(), bare);
        let noisy = el("<failed xmlns='urn:xmpp:sm:3' h='3' foo='bar'>\
            <text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>gone</text>\
            <not-a-condition xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>\
            <item-not-found xmlns='urn:other'/>\
            <feature-not-implemented xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>\
            <item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed>");
        assert_eq!(
            Failed::parse(&noisy),
            Ok(Failed {
                h: Some(3),
                condition: Some(DefinedCondition::FeatureNotImplemented)
            })
        );
    }

    #[test]
    fn every_condition_round_trips_in_failed() {
        for condition in DefinedCondition::ALL {
            let failed = Failed {
                h: Some(1),
                condition: Some(*condition),
            };
            assert_eq!(Failed::parse(&failed.to_element()), Ok(failed));
        }
    }

    #[test]
    fn nonza_dispatches_and_refuses_others() {
        let all = [
            Nonza::Enable(Enable {
                resume: true,
                max: Some(1),
            }),
            Nonza::Enabled(Enabled::default()),
            Nonza::Request(Request),
            Nonza::Answer(Answer { h: 9 }),
            Nonza::Resume(Resume {
                h: 1,
                previd: "a".to_owned(),
            }),
            Nonza::Resumed(Resumed {
                h: 2,
                previd: "b".to_owned(),
            }),
            Nonza::Failed(Failed::default()),
        ];
        for nonza in all {
            let element = nonza.to_element();
            assert!(Nonza::matches(&element));
            assert_eq!(Nonza::parse(&element), Ok(nonza));
        }
        for xml in [
            "<sm xmlns='urn:xmpp:sm:3'/>",
            "<a xmlns='urn:xmpp:sm:2' h='1'/>",
            "<r xmlns='jabber:client'/>",
        ] {
            let element = el(xml);
            assert!(!Nonza::matches(&element), "{xml}");
            assert!(
                matches!(
                    Nonza::parse(&element),
                    Err(PayloadError::WrongElement { .. })
                ),
                "{xml}"
            );
        }
    }

    #[test]
    fn each_type_refuses_the_others() {
        let r = Request.to_element();
        assert!(matches!(
            Answer::parse(&r),
            Err(PayloadError::WrongElement { expected: "a", .. })
        ));
        assert!(matches!(
            Enable::parse(&r),
            Err(PayloadError::WrongElement {
                expected: "enable",
                ..
            })
        ));
        assert!(matches!(
            Enabled::parse(&r),
            Err(PayloadError::WrongElement {
                expected: "enabled",
                ..
            })
        ));
        assert!(matches!(
            Resume::parse(&r),
            Err(PayloadError::WrongElement {
                expected: "resume",
                ..
            })
        ));
        assert!(matches!(
            Resumed::parse(&r),
            Err(PayloadError::WrongElement {
                expected: "resumed",
                ..
            })
        ));
        assert!(matches!(
            Failed::parse(&r),
            Err(PayloadError::WrongElement {
                expected: "failed",
                ..
            })
        ));
        assert!(matches!(
            Request::parse(&Answer { h: 0 }.to_element()),
            Err(PayloadError::WrongElement { .. })
        ));
    }
}
