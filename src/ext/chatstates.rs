//! XEP-0085: Chat State Notifications.
//!
//! A message in a chat carries at most one chat state: `<active/>`,
//! `<composing/>`, `<paused/>`, `<inactive/>` or `<gone/>`, in the namespace
//! `http://jabber.org/protocol/chatstates`. Content messages carry
//! `<active/>`; a message carrying only a state is a standalone
//! notification. [`ChatState`] is all five as one payload.
//!
//! ```
//! use xmpp_kit::ext::{Payload, chatstates::ChatState};
//!
//! let element = ChatState::Composing.to_element();
//! assert!(ChatState::matches(&element));
//! assert_eq!(element.name(), "composing");
//! assert_eq!(ChatState::parse(&element)?, ChatState::Composing);
//! assert_eq!("paused".parse::<ChatState>(), Ok(ChatState::Paused));
//! # Ok::<(), xmpp_kit::ext::PayloadError>(())
//! ```

use std::fmt;
use std::str::FromStr;

use minidom::Element;

use super::{Payload, PayloadError};

/// The chat states namespace, also the service discovery feature.
pub const NS: &str = "http://jabber.org/protocol/chatstates";

/// A chat state: the element name says which.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChatState {
    /// `<active/>`: the user is actively participating in the chat.
    Active,
    /// `<composing/>`: the user is composing a message.
    Composing,
    /// `<paused/>`: the user had been composing but has stopped.
    Paused,
    /// `<inactive/>`: the user has not been actively participating for a while.
    Inactive,
    /// `<gone/>`: the user has effectively ended their participation.
    Gone,
}

impl ChatState {
    /// The five states, in the order of the enum.
    pub const ALL: [Self; 5] = [
        Self::Active,
        Self::Composing,
        Self::Paused,
        Self::Inactive,
        Self::Gone,
    ];

    /// The element name of the state.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Composing => "composing",
            Self::Paused => "paused",
            Self::Inactive => "inactive",
            Self::Gone => "gone",
        }
    }
}

impl fmt::Display for ChatState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not one of the five chat states.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown chat state {0:?}")]
pub struct UnknownChatState(pub String);

impl FromStr for ChatState {
    type Err = UnknownChatState;

    fn from_str(s: &str) -> Result<Self, UnknownChatState> {
        Self::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| UnknownChatState(s.to_owned()))
    }
}

impl Payload for ChatState {
    fn matches(element: &Element) -> bool {
        element.has_ns(NS) && element.name().parse::<Self>().is_ok()
    }

    fn parse(element: &Element) -> Result<Self, PayloadError> {
        if element.has_ns(NS)
            && let Ok(state) = element.name().parse()
        {
            return Ok(state);
        }
        Err(PayloadError::WrongElement {
            expected: "active|composing|paused|inactive|gone",
            namespace: NS,
            found: element.name().to_owned(),
            found_namespace: element.ns(),
        })
    }

    fn to_element(&self) -> Element {
        Element::bare(self.as_str(), NS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The payloads of XEP-0085 examples 3 (`<active/>`), 5 (`<composing/>`),
    /// 11 (`<paused/>`), 15 (`<inactive/>`) and 18 (`<gone/>`).
    #[test]
    fn spec_examples() {
        for (xml, state) in [
            (
                "<active xmlns='http://jabber.org/protocol/chatstates'/>",
                ChatState::Active,
            ),
            (
                "<composing xmlns='http://jabber.org/protocol/chatstates'/>",
                ChatState::Composing,
            ),
            (
                "<paused xmlns='http://jabber.org/protocol/chatstates'/>",
                ChatState::Paused,
            ),
            (
                "<inactive xmlns='http://jabber.org/protocol/chatstates'/>",
                ChatState::Inactive,
            ),
            (
                "<gone xmlns='http://jabber.org/protocol/chatstates'/>",
                ChatState::Gone,
            ),
        ] {
            let e: Element = xml.parse().unwrap();
            assert!(ChatState::matches(&e), "{xml}");
            assert_eq!(ChatState::parse(&e), Ok(state));
            assert_eq!(state.to_element(), e);
        }
    }

    #[test]
    fn names_round_trip() {
        for state in ChatState::ALL {
            assert_eq!(state.as_str().parse(), Ok(state));
            assert_eq!(state.to_string(), state.as_str());
            assert_eq!(ChatState::parse(&state.to_element()), Ok(state));
        }
        assert_eq!(
            "Active".parse::<ChatState>(),
            Err(UnknownChatState("Active".into()))
        );
        assert!("".parse::<ChatState>().is_err());
    }

    #[test]
    fn unknown_content_is_ignored() {
        let e: Element =
            "<gone xmlns='http://jabber.org/protocol/chatstates' foo='bar'>x<y/></gone>"
                .parse()
                .unwrap();
        assert_eq!(ChatState::parse(&e), Ok(ChatState::Gone));
    }

    #[test]
    fn other_elements_are_refused() {
        for xml in [
            // The removed XEP-0085 0.10 state.
            "<initial xmlns='http://jabber.org/protocol/chatstates'/>",
            "<active xmlns='urn:xmpp:csi:0'/>",
            "<composing xmlns='jabber:x:event'/>",
        ] {
            let e: Element = xml.parse().unwrap();
            assert!(!ChatState::matches(&e), "{xml}");
            assert!(
                matches!(ChatState::parse(&e), Err(PayloadError::WrongElement { .. })),
                "{xml}"
            );
        }
    }
}
