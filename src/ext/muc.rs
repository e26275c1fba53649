//! XEP-0045: Multi-User Chat (join presence, user items, status codes).
//!
//! Two payloads ride on stanzas exchanged with a room:
//!
//! * [`Muc`], `<x xmlns='http://jabber.org/protocol/muc'/>`, in the presence
//!   a client sends to `room@service/nick` to join, optionally with the room
//!   password and a limit on the discussion history it wants.
//! * [`MucUser`], `<x xmlns='http://jabber.org/protocol/muc#user'/>`, in what
//!   the room sends back: occupant [`UserItem`]s with their [`Affiliation`]
//!   and [`Role`], [`Status`] codes (such as [`Status::SELF_PRESENCE`] and
//!   [`Status::ROOM_CREATED`]), mediated [`Invite`]s and [`Decline`]s, and the
//!   [`Destroy`] notice of a destroyed room.
//!
//! ```
//! use xmpp_kit::ext::Payload;
//! use xmpp_kit::ext::muc::{Affiliation, History, Muc, MucUser, Role, Status};
//!
//! // The payload of the join presence, asking for no history (XEP-0045 §7.2.14).
//! let join = Muc {
//!     password: Some("cauldronburn".to_owned()),
//!     history: Some(History { maxchars: Some(0), ..History::default() }),
//! };
//! assert_eq!(Muc::parse(&join.to_element())?, join);
//!
//! // The room's answer: our own presence (status 110) in a room just created (201).
//! let x: minidom::Element = "<x xmlns='http://jabber.org/protocol/muc#user'>\
//!     <item affiliation='owner' role='moderator'/>\
//!     <status code='110'/><status code='201'/></x>"
//!     .parse()
//!     .expect("well-formed");
//! let user = MucUser::parse(&x)?;
//! assert!(user.is_self_presence());
//! assert!(user.has_status(Status::ROOM_CREATED));
//! assert_eq!(user.items[0].affiliation, Affiliation::Owner);
//! assert_eq!(user.items[0].role, Role::Moderator);
//! # Ok::<(), xmpp_kit::ext::PayloadError>(())
//! ```

use std::fmt;
use std::str::FromStr;

use minidom::Element;

use super::{
    Payload, PayloadError, expect, jid_attr, required_attr, set_attr, set_opt_attr, text_element,
    u32_attr,
};
use crate::jid::Jid;

/// The namespace of the join payload, `http://jabber.org/protocol/muc`.
pub const NS: &str = "http://jabber.org/protocol/muc";

/// The namespace of the room's extended presence and messages,
/// `http://jabber.org/protocol/muc#user`.
pub const NS_USER: &str = "http://jabber.org/protocol/muc#user";

// ---- the join payload -------------------------------------------------------

/// The `<x xmlns='http://jabber.org/protocol/muc'/>` of a join presence
/// (XEP-0045 §7.2.1): it signals MUC support and may carry the room password
/// and a history request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Muc {
    /// The room password (§7.2.5), sent in clear text.
    pub password: Option<String>,
    /// How much discussion history to send on entering (§7.2.14).
    pub history: Option<History>,
}

/// The `<history/>` request of a join presence (XEP-0045 §7.2.14). The room
/// sends the least history that meets every given limit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct History {
    /// At most this many characters of complete XML stanzas (`0`: no history).
    pub maxchars: Option<u32>,
    /// At most this many messages.
    pub maxstanzas: Option<u32>,
    /// Only messages from the last this many seconds.
    pub seconds: Option<u32>,
    /// Only messages since this XEP-0082 DateTime, kept as written.
    pub since: Option<String>,
}

impl Payload for Muc {
    fn matches(element: &Element) -> bool {
        element.is("x", NS)
    }

    fn parse(element: &Element) -> Result<Self, PayloadError> {
        expect(element, "x", NS)?;
        let mut muc = Self::default();
        for child in element.children().filter(|c| c.has_ns(NS)) {
            match child.name() {
                "history" if muc.history.is_none() => muc.history = Some(History::parse(child)?),
                "password" if muc.password.is_none() => muc.password = Some(child.text()),
                _ => {}
            }
        }
        Ok(muc)
    }

    fn to_element(&self) -> Element {
        let mut x = Element::bare("x", NS);
        if let Some(history) = &self.history {
            x.append_child(history.to_element());
        }
        if let Some(password) = &self.password {
            x.append_child(text_element("password", NS, password.clone()));
        }
        x
    }
}

impl History {
    fn parse(element: &Element) -> Result<Self, PayloadError> {
        Ok(Self {
            maxchars: u32_attr(element, "maxchars", "attribute 'maxchars'", "history")?,
            maxstanzas: u32_attr(element, "maxstanzas", "attribute 'maxstanzas'", "history")?,
            seconds: u32_attr(element, "seconds", "attribute 'seconds'", "history")?,
            since: crate::ext::attr(element, "since").map(str::to_owned),
        })
    }

    fn to_element(&self) -> Element {
        let mut history = Element::bare("history", NS);
        set_opt_attr(
            &mut history,
            "maxchars",
            self.maxchars.map(|n| n.to_string()),
        );
        set_opt_attr(
            &mut history,
            "maxstanzas",
            self.maxstanzas.map(|n| n.to_string()),
        );
        set_opt_attr(&mut history, "seconds", self.seconds.map(|n| n.to_string()));
        set_opt_attr(&mut history, "since", self.since.clone());
        history
    }
}

// ---- affiliations and roles -----------------------------------------------

/// A long-lived association with a room (XEP-0045 §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Affiliation {
    /// The room's owner: may configure and destroy it.
    Owner,
    /// A room administrator: may ban users and edit the member list.
    Admin,
    /// A member: may enter a members-only room.
    Member,
    /// A banned user.
    Outcast,
    /// No affiliation.
    None,
}

impl Affiliation {
    /// Every affiliation, from the highest.
    pub const ALL: &'static [Self] = &[
        Self::Owner,
        Self::Admin,
        Self::Member,
        Self::Outcast,
        Self::None,
    ];

    /// The attribute value, such as `"owner"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Admin => "admin",
            Self::Member => "member",
            Self::Outcast => "outcast",
            Self::None => "none",
        }
    }
}

impl FromStr for Affiliation {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Ok(match s {
            "owner" => Self::Owner,
            "admin" => Self::Admin,
            "member" => Self::Member,
            "outcast" => Self::Outcast,
            "none" => Self::None,
            _ => return Err(()),
        })
    }
}

impl fmt::Display for Affiliation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A position in the room for the duration of a visit (XEP-0045 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// May kick participants and visitors and grant voice.
    Moderator,
    /// Has voice.
    Participant,
    /// Present without voice in a moderated room.
    Visitor,
    /// Not in the room (for example in the presence of one who left or was kicked).
    None,
}

impl Role {
    /// Every role, from the highest.
    pub const ALL: &'static [Self] = &[
        Self::Moderator,
        Self::Participant,
        Self::Visitor,
        Self::None,
    ];

    /// The attribute value, such as `"participant"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Moderator => "moderator",
            Self::Participant => "participant",
            Self::Visitor => "visitor",
            Self::None => "none",
        }
    }
}

impl FromStr for Role {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Ok(match s {
            "moderator" => Self::Moderator,
            "participant" => Self::Participant,
            "visitor" => Self::Visitor,
            "none" => Self::None,
            _ => return Err(()),
        })
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// ---- status codes -----------------------------------------------------------

/// A `<status code='NNN'/>` of the room: a three-digit code (100 to 999)
/// from the registry of XEP-0045 §16.6 (numbered §15.6 in older revisions).
///
/// Unregistered codes in the allowed range are kept as they come.
///
/// ```
/// use xmpp_kit::ext::muc::Status;
///
/// assert_eq!(Status::new(110), Some(Status::SELF_PRESENCE));
/// assert_eq!(Status::KICKED.code(), 307);
/// assert_eq!(Status::new(42), None); // outside 100..=999
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Status(u16);

impl Status {
    /// 100: any occupant may see the user's full JID (non-anonymous room).
    pub const NON_ANONYMOUS: Self = Self(100);
    /// 101: the user's affiliation changed while not in the room.
    pub const AFFILIATION_CHANGED: Self = Self(101);
    /// 102: the room now shows unavailable members.
    pub const SHOWS_UNAVAILABLE: Self = Self(102);
    /// 103: the room no longer shows unavailable members.
    pub const HIDES_UNAVAILABLE: Self = Self(103);
    /// 104: a non-privacy-related configuration change.
    pub const CONFIGURATION_CHANGED: Self = Self(104);
    /// 110: this presence is the user's own (self-presence).
    pub const SELF_PRESENCE: Self = Self(110);
    /// 170: room logging is now enabled (also sent on entering a logged room).
    pub const LOGGING_ENABLED: Self = Self(170);
    /// 171: room logging is now disabled.
    pub const LOGGING_DISABLED: Self = Self(171);
    /// 172: the room is now non-anonymous.
    pub const NOW_NON_ANONYMOUS: Self = Self(172);
    /// 173: the room is now semi-anonymous.
    pub const NOW_SEMI_ANONYMOUS: Self = Self(173);
    /// 174: the room is now fully anonymous (registry only; fully anonymous
    /// rooms are no longer described by XEP-0045).
    pub const NOW_FULLY_ANONYMOUS: Self = Self(174);
    /// 201: a new room has been created.
    pub const ROOM_CREATED: Self = Self(201);
    /// 210: the service assigned or modified the occupant's nickname.
    pub const NICK_ASSIGNED: Self = Self(210);
    /// 301: the user has been banned.
    pub const BANNED: Self = Self(301);
    /// 303: the occupant changed nickname (the item carries the new one).
    pub const NICK_CHANGED: Self = Self(303);
    /// 307: the user has been kicked.
    pub const KICKED: Self = Self(307);
    /// 321: removed because of an affiliation change.
    pub const REMOVED_AFFILIATION_CHANGE: Self = Self(321);
    /// 322: removed because the room became members-only.
    pub const REMOVED_MEMBERS_ONLY: Self = Self(322);
    /// 332: removed because the MUC service is shutting down.
    pub const REMOVED_SHUTDOWN: Self = Self(332);
    /// 333: removed because of an error reply (for example a failed s2s link).
    pub const REMOVED_ERROR: Self = Self(333);

    /// The lowest code XEP-0045 allows.
    pub const MIN: u16 = 100;
    /// The highest code XEP-0045 allows.
    pub const MAX: u16 = 999;

    /// The status with this code, if it is in `100..=999`.
    pub const fn new(code: u16) -> Option<Self> {
        if code >= Self::MIN && code <= Self::MAX {
            Some(Self(code))
        } else {
            None
        }
    }

    /// The numeric code.
    pub const fn code(self) -> u16 {
        self.0
    }

    fn parse(element: &Element) -> Result<Self, PayloadError> {
        let value = required_attr(element, "code", "status")?;
        value
            .trim()
            .parse::<u16>()
            .ok()
            .and_then(Self::new)
            .ok_or_else(|| PayloadError::InvalidValue {
                element: "status",
                what: "attribute 'code'",
                value: value.to_owned(),
            })
    }

    fn to_element(self) -> Element {
        let mut status = Element::bare("status", NS_USER);
        set_attr(&mut status, "code", self.0.to_string());
        status
    }
}

impl TryFrom<u16> for Status {
    type Error = u16;
    /// The status with this code; the code back if outside `100..=999`.
    fn try_from(code: u16) -> Result<Self, u16> {
        Self::new(code).ok_or(code)
    }
}

impl From<Status> for u16 {
    fn from(status: Status) -> Self {
        status.0
    }
}

impl FromStr for Status {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        s.trim().parse::<u16>().ok().and_then(Self::new).ok_or(())
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

// ---- the room's payload -----------------------------------------------------

/// The `<x xmlns='http://jabber.org/protocol/muc#user'/>` a room puts in the
/// presence and messages it sends (XEP-0045 §7 to §11), and a client in
/// mediated invitations, declines and private messages.
///
/// An empty `MucUser` is the bare `<x/>` that marks a private message
/// (§7.5).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct MucUser {
    /// Occupant information: affiliation, role, and what the room reveals.
    pub items: Vec<UserItem>,
    /// Status codes, in document order.
    pub status: Vec<Status>,
    /// Mediated invitations (§7.8.2); a client may invite several users at once.
    pub invites: Vec<Invite>,
    /// A declined invitation (§7.8.2).
    pub decline: Option<Decline>,
    /// The room was destroyed (§10.9).
    pub destroy: Option<Destroy>,
    /// The room password, added by the room to invitations (§7.8.2).
    pub password: Option<String>,
}

impl MucUser {
    /// Whether the status codes include `status`.
    pub fn has_status(&self, status: Status) -> bool {
        self.status.contains(&status)
    }

    /// Whether this is the user's own presence in the room (status 110).
    pub fn is_self_presence(&self) -> bool {
        self.has_status(Status::SELF_PRESENCE)
    }
}

impl Payload for MucUser {
    fn matches(element: &Element) -> bool {
        element.is("x", NS_USER)
    }

    fn parse(element: &Element) -> Result<Self, PayloadError> {
        expect(element, "x", NS_USER)?;
        let mut user = Self::default();
        for child in element.children().filter(|c| c.has_ns(NS_USER)) {
            match child.name() {
                "item" => user.items.push(UserItem::parse(child)?),
                "status" => user.status.push(Status::parse(child)?),
                "invite" => user.invites.push(Invite::parse(child)?),
                "decline" if user.decline.is_none() => user.decline = Some(Decline::parse(child)?),
                "destroy" if user.destroy.is_none() => user.destroy = Some(Destroy::parse(child)?),
                "password" if user.password.is_none() => user.password = Some(child.text()),
                _ => {}
            }
        }
        Ok(user)
    }

    fn to_element(&self) -> Element {
        let mut x = Element::bare("x", NS_USER);
        for item in &self.items {
            x.append_child(item.to_element());
        }
        for invite in &self.invites {
            x.append_child(invite.to_element());
        }
        if let Some(decline) = &self.decline {
            x.append_child(decline.to_element());
        }
        if let Some(destroy) = &self.destroy {
            x.append_child(destroy.to_element());
        }
        for status in &self.status {
            x.append_child(status.to_element());
        }
        if let Some(password) = &self.password {
            x.append_child(text_element("password", NS_USER, password.clone()));
        }
        x
    }
}

/// An `<item/>` of the room's extended presence: one occupant's affiliation
/// and role, and what else the room reveals about it.
///
/// XEP-0045 requires rooms to state both the affiliation and the role in
/// every item they send (§17.3), so both are required here.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserItem {
    /// The occupant's affiliation.
    pub affiliation: Affiliation,
    /// The occupant's role.
    pub role: Role,
    /// The occupant's real JID: the full JID in presence (to those allowed
    /// to see it), a bare JID in affiliation notices.
    pub jid: Option<Jid>,
    /// A nickname: the new one in a nick change (status 303).
    pub nick: Option<String>,
    /// Who kicked or banned the occupant.
    pub actor: Option<Actor>,
    /// Why the role or affiliation changed.
    pub reason: Option<String>,
}

impl UserItem {
    /// An item with only an affiliation and a role.
    pub fn new(affiliation: Affiliation, role: Role) -> Self {
        Self {
            affiliation,
            role,
            jid: None,
            nick: None,
            actor: None,
            reason: None,
        }
    }

    fn parse(element: &Element) -> Result<Self, PayloadError> {
        let affiliation = enum_attr(element, "affiliation", "attribute 'affiliation'", "item")?;
        let role = enum_attr(element, "role", "attribute 'role'", "item")?;
        let mut actor = None;
        let mut reason = None;
        for child in element.children().filter(|c| c.has_ns(NS_USER)) {
            match child.name() {
                "actor" if actor.is_none() => actor = Some(Actor::parse(child)?),
                "reason" if reason.is_none() => reason = Some(child.text()),
                _ => {}
            }
        }
        Ok(Self {
            affiliation,
            role,
            jid: jid_attr(element, "jid", "item")?,
            nick: crate::ext::attr(element, "nick").map(str::to_owned),
            actor,
            reason,
        })
    }

    fn to_element(&self) -> Element {
        let mut item = Element::bare("item", NS_USER);
        set_attr(&mut item, "affiliation", self.affiliation.as_str());
        set_opt_attr(&mut item, "jid", self.jid.as_ref().map(Jid::as_str));
        set_opt_attr(&mut item, "nick", self.nick.clone());
        set_attr(&mut item, "role", self.role.as_str());
        if let Some(actor) = &self.actor {
            item.append_child(actor.to_element());
        }
        if let Some(reason) = &self.reason {
            item.append_child(text_element("reason", NS_USER, reason.clone()));
        }
        item
    }
}

/// The `<actor/>` of an item: who kicked or banned the occupant, by real JID
/// or by room nickname.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Actor {
    /// The actor's real JID.
    pub jid: Option<Jid>,
    /// The actor's room nickname.
    pub nick: Option<String>,
}

impl Actor {
    fn parse(element: &Element) -> Result<Self, PayloadError> {
        Ok(Self {
            jid: jid_attr(element, "jid", "actor")?,
            nick: crate::ext::attr(element, "nick").map(str::to_owned),
        })
    }

    fn to_element(&self) -> Element {
        let mut actor = Element::bare("actor", NS_USER);
        set_opt_attr(&mut actor, "jid", self.jid.as_ref().map(Jid::as_str));
        set_opt_attr(&mut actor, "nick", self.nick.clone());
        actor
    }
}

/// A mediated `<invite/>` (XEP-0045 §7.8.2): `to` the invitee when the
/// inviter sends it to the room, `from` the inviter when the room forwards it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Invite {
    /// The inviter (set by the room).
    pub from: Option<Jid>,
    /// The invitee (set by the inviter).
    pub to: Option<Jid>,
    /// Why the invitee should come.
    pub reason: Option<String>,
    /// Present when the invitation continues a one-to-one chat (§7.9).
    pub continue_: Option<Continue>,
}

/// The `<continue/>` flag of an invitation that turns a one-to-one chat
/// into a room (XEP-0045 §7.9).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Continue {
    /// The ThreadID of the one-to-one chat.
    pub thread: Option<String>,
}

impl Invite {
    fn parse(element: &Element) -> Result<Self, PayloadError> {
        let mut reason = None;
        let mut continue_ = None;
        for child in element.children().filter(|c| c.has_ns(NS_USER)) {
            match child.name() {
                "reason" if reason.is_none() => reason = Some(child.text()),
                "continue" if continue_.is_none() => {
                    continue_ = Some(Continue {
                        thread: crate::ext::attr(child, "thread").map(str::to_owned),
                    });
                }
                _ => {}
            }
        }
        Ok(Self {
            from: jid_attr(element, "from", "invite")?,
            to: jid_attr(element, "to", "invite")?,
            reason,
            continue_,
        })
    }

    fn to_element(&self) -> Element {
        let mut invite = Element::bare("invite", NS_USER);
        set_opt_attr(&mut invite, "from", self.from.as_ref().map(Jid::as_str));
        set_opt_attr(&mut invite, "to", self.to.as_ref().map(Jid::as_str));
        if let Some(reason) = &self.reason {
            invite.append_child(text_element("reason", NS_USER, reason.clone()));
        }
        if let Some(continue_) = &self.continue_ {
            let mut element = Element::bare("continue", NS_USER);
            set_opt_attr(&mut element, "thread", continue_.thread.clone());
            invite.append_child(element);
        }
        invite
    }
}

/// A `<decline/>` of an invitation (XEP-0045 §7.8.2): `to` the inviter when
/// the invitee sends it to the room, `from` the invitee when the room
/// forwards it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Decline {
    /// The invitee who declines (set by the room).
    pub from: Option<Jid>,
    /// The inviter (set by the invitee).
    pub to: Option<Jid>,
    /// Why the invitation is declined.
    pub reason: Option<String>,
}

impl Decline {
    fn parse(element: &Element) -> Result<Self, PayloadError> {
        Ok(Self {
            from: jid_attr(element, "from", "decline")?,
            to: jid_attr(element, "to", "decline")?,
            reason: reason_child(element),
        })
    }

    fn to_element(&self) -> Element {
        let mut decline = Element::bare("decline", NS_USER);
        set_opt_attr(&mut decline, "from", self.from.as_ref().map(Jid::as_str));
        set_opt_attr(&mut decline, "to", self.to.as_ref().map(Jid::as_str));
        if let Some(reason) = &self.reason {
            decline.append_child(text_element("reason", NS_USER, reason.clone()));
        }
        decline
    }
}

/// The `<destroy/>` notice sent to occupants of a destroyed room
/// (XEP-0045 §10.9), optionally naming an alternate venue.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Destroy {
    /// The alternate room.
    pub jid: Option<Jid>,
    /// The password of the alternate room.
    pub password: Option<String>,
    /// Why the room was destroyed.
    pub reason: Option<String>,
}

impl Destroy {
    fn parse(element: &Element) -> Result<Self, PayloadError> {
        Ok(Self {
            jid: jid_attr(element, "jid", "destroy")?,
            password: element
                .children()
                .find(|c| c.is("password", NS_USER))
                .map(Element::text),
            reason: reason_child(element),
        })
    }

    fn to_element(&self) -> Element {
        let mut destroy = Element::bare("destroy", NS_USER);
        set_opt_attr(&mut destroy, "jid", self.jid.as_ref().map(Jid::as_str));
        if let Some(password) = &self.password {
            destroy.append_child(text_element("password", NS_USER, password.clone()));
        }
        if let Some(reason) = &self.reason {
            destroy.append_child(text_element("reason", NS_USER, reason.clone()));
        }
        destroy
    }
}

// ---- private helpers --------------------------------------------------------

/// The text of the first `<reason/>` child in the muc#user namespace.
fn reason_child(element: &Element) -> Option<String> {
    element
        .children()
        .find(|c| c.is("reason", NS_USER))
        .map(Element::text)
}

/// A required attribute holding one of the values of an enumeration.
fn enum_attr<T: FromStr>(
    element: &Element,
    name: &'static str,
    what: &'static str,
    element_name: &'static str,
) -> Result<T, PayloadError> {
    let value = required_attr(element, name, element_name)?;
    value.parse().map_err(|_| PayloadError::InvalidValue {
        element: element_name,
        what,
        value: value.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn el(xml: &str) -> Element {
        xml.parse().unwrap()
    }

    /// The first child of a stanza that is a muc#user payload.
    fn user_x(stanza: &Element) -> MucUser {
        MucUser::parse(stanza.children().find(|c| MucUser::matches(c)).unwrap()).unwrap()
    }

    fn jid(s: &str) -> Jid {
        s.parse().unwrap()
    }

    /// XEP-0045 example 18 (§7.2.1, user seeks to enter a room).
    #[test]
    fn example_18_join_presence() {
        let presence = el("<presence xmlns='jabber:client'
    from='hag66@shakespeare.lit/pda'
    id='n13mt3l'
    to='coven@chat.shakespeare.lit/thirdwitch'>
  <x xmlns='http://jabber.org/protocol/muc'/>
</presence>");
        let x = presence.children().find(|c| Muc::matches(c)).unwrap();
        let muc = Muc::parse(x).unwrap();
        assert_eq!(muc, Muc::default());
        assert_eq!(&muc.to_element(), x);
        assert!(!MucUser::matches(x));
    }

    /// XEP-0045 example 26 (§7.2.5, user provides password on entering a room).
    #[test]
    fn example_26_join_with_password() {
        let x =
            el("<x xmlns='http://jabber.org/protocol/muc'><password>cauldronburn</password></x>");
        let muc = Muc::parse(&x).unwrap();
        assert_eq!(muc.password.as_deref(), Some("cauldronburn"));
        assert_eq!(muc.history, None);
        assert_eq!(muc.to_element(), x);
    }

    /// XEP-0045 examples 35 to 39 (§7.2.14, managing discussion history).
    #[test]
    fn examples_35_to_39_history_requests() {
        let cases = [
            (
                "maxchars='65000'",
                History {
                    maxchars: Some(65000),
                    ..History::default()
                },
            ),
            (
                "maxstanzas='20'",
                History {
                    maxstanzas: Some(20),
                    ..History::default()
                },
            ),
            (
                "seconds='180'",
                History {
                    seconds: Some(180),
                    ..History::default()
                },
            ),
            (
                "since='1970-01-01T00:00:00Z'",
                History {
                    since: Some("1970-01-01T00:00:00Z".to_owned()),
                    ..History::default()
                },
            ),
            (
                "maxchars='0'",
                History {
                    maxchars: Some(0),
                    ..History::default()
                },
            ),
        ];
        for (attrs, expected) in cases {
            let x = el(&format!(
                "<x xmlns='http://jabber.org/protocol/muc'><history {attrs}/></x>"
            ));
            let muc = Muc::parse(&x).unwrap();
            assert_eq!(muc.history.as_ref(), Some(&expected), "{attrs}");
            assert_eq!(muc.to_element(), x, "{attrs}");
        }
    }

    #[test]
    fn join_with_history_and_password_round_trips() {
        let muc = Muc {
            password: Some(String::new()),
            history: Some(History {
                maxchars: Some(u32::MAX),
                maxstanzas: Some(0),
                seconds: Some(7),
                since: Some("2002-10-13T23:58:37Z".to_owned()),
            }),
        };
        assert_eq!(Muc::parse(&muc.to_element()).unwrap(), muc);
    }

    #[test]
    fn bad_history_counters_are_invalid_values() {
        for value in ["-1", "4294967296", "ten", "", "1.5"] {
            let x = el(&format!(
                "<x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='{value}'/></x>"
            ));
            assert_eq!(
                Muc::parse(&x),
                Err(PayloadError::InvalidValue {
                    element: "history",
                    what: "attribute 'maxstanzas'",
                    value: value.to_owned(),
                }),
                "{value:?}"
            );
        }
        let spaced = el("<x xmlns='http://jabber.org/protocol/muc'><history seconds=' 180 '/></x>");
        assert_eq!(
            Muc::parse(&spaced).unwrap().history.unwrap().seconds,
            Some(180)
        );
    }

    #[test]
    fn join_parsing_is_tolerant() {
        let x = el("<x xmlns='http://jabber.org/protocol/muc' foo='bar'>\
            <password>one</password><password>two</password>\
            <unknown/><history maxchars='1' extra='x'/>\
            <password xmlns='urn:other'>three</password></x>");
        let muc = Muc::parse(&x).unwrap();
        assert_eq!(muc.password.as_deref(), Some("one"));
        assert_eq!(muc.history.unwrap().maxchars, Some(1));
    }

    /// XEP-0045 example 20 (§7.2.2, presence from existing occupants to the new occupant).
    #[test]
    fn example_20_existing_occupants() {
        let presences = [
            ("firstwitch", "owner", Affiliation::Owner),
            ("secondwitch", "admin", Affiliation::Admin),
        ];
        for (nick, affiliation, expected) in presences {
            let presence = el(&format!(
                "<presence xmlns='jabber:client'
    from='coven@chat.shakespeare.lit/{nick}'
    id='3DCB0401-D7CF-4E31-BE05-EDF8D057BFBD'
    to='hag66@shakespeare.lit/pda'>
  <x xmlns='http://jabber.org/protocol/muc#user'>
    <item affiliation='{affiliation}' role='moderator'/>
  </x>
</presence>"
            ));
            let user = user_x(&presence);
            assert_eq!(user.items, vec![UserItem::new(expected, Role::Moderator)]);
            assert!(user.status.is_empty());
            assert!(!user.is_self_presence());
            assert_eq!(MucUser::parse(&user.to_element()).unwrap(), user);
        }
    }

    /// XEP-0045 example 21 (§7.2.2, new occupant's presence to all occupants,
    /// the last one being the self-presence with status 110).
    #[test]
    fn example_21_presence_broadcast_with_self_presence() {
        let self_presence = el("<presence xmlns='jabber:client'
    from='coven@chat.shakespeare.lit/thirdwitch'
    id='026B3509-2CCE-4D69-96D6-25F41FFDC408'
    to='hag66@shakespeare.lit/pda'>
  <x xmlns='http://jabber.org/protocol/muc#user'>
    <item affiliation='member' role='participant'/>
    <status code='110'/>
  </x>
</presence>");
        let user = user_x(&self_presence);
        assert_eq!(
            user.items,
            vec![UserItem::new(Affiliation::Member, Role::Participant)]
        );
        assert_eq!(user.status, vec![Status::SELF_PRESENCE]);
        assert!(user.is_self_presence());
        assert_eq!(MucUser::parse(&user.to_element()).unwrap(), user);

        let compact = el("<x xmlns='http://jabber.org/protocol/muc#user'>\
            <item affiliation='member' role='participant'/><status code='110'/></x>");
        assert_eq!(user.to_element(), compact);
    }

    /// XEP-0045 examples 22, 24 and 32 (§7.2.2, §7.2.3, §7.2.12: self-presence
    /// with 110 and 210, plus 100 in a non-anonymous room, plus 170 in a logged room).
    #[test]
    fn examples_22_24_32_status_combinations() {
        let cases: [(&str, &[Status]); 3] = [
            (
                "<status code='110'/><status code='210'/>",
                &[Status::SELF_PRESENCE, Status::NICK_ASSIGNED],
            ),
            (
                "<status code='100'/><status code='110'/><status code='210'/>",
                &[
                    Status::NON_ANONYMOUS,
                    Status::SELF_PRESENCE,
                    Status::NICK_ASSIGNED,
                ],
            ),
            (
                "<status code='100'/><status code='110'/><status code='170'/><status code='210'/>",
                &[
                    Status::NON_ANONYMOUS,
                    Status::SELF_PRESENCE,
                    Status::LOGGING_ENABLED,
                    Status::NICK_ASSIGNED,
                ],
            ),
        ];
        for (statuses, expected) in cases {
            let x = el(&format!(
                "<x xmlns='http://jabber.org/protocol/muc#user'>\
                 <item affiliation='member' role='participant'/>{statuses}</x>"
            ));
            let user = MucUser::parse(&x).unwrap();
            assert_eq!(user.status, expected);
            assert_eq!(user.to_element(), x);
        }
    }

    /// XEP-0045 example 23 (§7.2.3, full JID sent to all occupants).
    #[test]
    fn example_23_full_jid() {
        let x = el("<x xmlns='http://jabber.org/protocol/muc#user'>
    <item affiliation='none'
          jid='hag66@shakespeare.lit/pda'
          role='participant'/>
  </x>");
        let user = MucUser::parse(&x).unwrap();
        let item = &user.items[0];
        assert_eq!(item.affiliation, Affiliation::None);
        assert_eq!(item.role, Role::Participant);
        assert_eq!(item.jid, Some(jid("hag66@shakespeare.lit/pda")));
        assert!(item.jid.as_ref().unwrap().is_full());
    }

    /// XEP-0045 example 154 (§10.1.1, service acknowledges room creation: 110 and 201).
    #[test]
    fn example_154_room_created() {
        let presence = el("<presence xmlns='jabber:client'
    from='coven@chat.shakespeare.lit/firstwitch'
    to='crone1@shakespeare.lit/desktop'>
  <x xmlns='http://jabber.org/protocol/muc#user'>
    <item affiliation='owner'
          role='moderator'/>
    <status code='110'/>
    <status code='201'/>
  </x>
</presence>");
        let user = user_x(&presence);
        assert_eq!(
            user.items,
            vec![UserItem::new(Affiliation::Owner, Role::Moderator)]
        );
        assert!(user.is_self_presence());
        assert!(user.has_status(Status::ROOM_CREATED));
        assert_eq!(MucUser::parse(&user.to_element()).unwrap(), user);
    }

    /// XEP-0045 example 50 (§7.6, nick change: unavailable presence with the new nick and 303).
    #[test]
    fn example_50_nick_change() {
        let x = el("<x xmlns='http://jabber.org/protocol/muc#user'>
    <item affiliation='member'
          jid='hag66@shakespeare.lit/pda'
          nick='oldhag'
          role='participant'/>
    <status code='303'/>
    <status code='110'/>
  </x>");
        let user = MucUser::parse(&x).unwrap();
        assert_eq!(user.items[0].nick.as_deref(), Some("oldhag"));
        assert_eq!(
            user.status,
            vec![Status::NICK_CHANGED, Status::SELF_PRESENCE]
        );
        assert_eq!(MucUser::parse(&user.to_element()).unwrap(), user);
    }

    /// XEP-0045 example 90 (§8.2, kicked occupant: actor, reason, 110 and 307).
    #[test]
    fn example_90_kick() {
        let x = el("<x xmlns='http://jabber.org/protocol/muc#user'>
    <item affiliation='none' role='none'>
      <actor nick='Fluellen'/>
      <reason>Avaunt, you cullion!</reason>
    </item>
    <status code='110'/>
    <status code='307'/>
  </x>");
        let user = MucUser::parse(&x).unwrap();
        let item = &user.items[0];
        assert_eq!(
            (item.affiliation, item.role),
            (Affiliation::None, Role::None)
        );
        assert_eq!(
            item.actor,
            Some(Actor {
                jid: None,
                nick: Some("Fluellen".to_owned())
            })
        );
        assert_eq!(item.reason.as_deref(), Some("Avaunt, you cullion!"));
        assert_eq!(user.status, vec![Status::SELF_PRESENCE, Status::KICKED]);
        let compact = el("<x xmlns='http://jabber.org/protocol/muc#user'>\
            <item affiliation='none' role='none'><actor nick='Fluellen'/><reason>Avaunt, you cullion!</reason></item>\
            <status code='110'/><status code='307'/></x>");
        assert_eq!(user.to_element(), compact);
    }

    /// XEP-0045 examples 113 and 114 (§9.1, banned user: 301, with a non-ASCII actor nick).
    #[test]
    fn examples_113_114_ban() {
        let x = el("<x xmlns='http://jabber.org/protocol/muc#user'>
    <item affiliation='outcast' role='none'>
      <actor nick='The ♚'/>
      <reason>Treason</reason>
    </item>
    <status code='301'/>
  </x>");
        let user = MucUser::parse(&x).unwrap();
        assert_eq!(user.items[0].affiliation, Affiliation::Outcast);
        assert_eq!(
            user.items[0].actor.as_ref().unwrap().nick.as_deref(),
            Some("The ♚")
        );
        assert!(user.has_status(Status::BANNED));

        let others = el("<x xmlns='http://jabber.org/protocol/muc#user'>
    <item affiliation='outcast'
          jid='earlofcambridge@shakespeare.lit/stabber'
          role='none'/>
    <status code='301'/>
  </x>");
        let user = MucUser::parse(&others).unwrap();
        assert_eq!(
            user.items[0].jid,
            Some(jid("earlofcambridge@shakespeare.lit/stabber"))
        );
    }

    /// XEP-0045 examples 56 to 59 (§7.8.2, mediated invitation and decline).
    #[test]
    fn examples_56_to_59_invite_and_decline() {
        let sent = el("<x xmlns='http://jabber.org/protocol/muc#user'>
    <invite to='hecate@shakespeare.lit'>
      <reason>
        Hey Hecate, this is the place for all good witches!
      </reason>
    </invite>
  </x>");
        let user = MucUser::parse(&sent).unwrap();
        assert_eq!(user.invites.len(), 1);
        assert_eq!(user.invites[0].to, Some(jid("hecate@shakespeare.lit")));
        assert_eq!(user.invites[0].from, None);
        assert_eq!(
            user.invites[0].reason.as_deref().map(str::trim),
            Some("Hey Hecate, this is the place for all good witches!")
        );
        assert_eq!(MucUser::parse(&user.to_element()).unwrap(), user);

        let forwarded = el("<x xmlns='http://jabber.org/protocol/muc#user'>
    <invite from='crone1@shakespeare.lit/desktop'>
      <reason>
        Hey Hecate, this is the place for all good witches!
      </reason>
    </invite>
    <password>cauldronburn</password>
  </x>");
        let user = MucUser::parse(&forwarded).unwrap();
        assert_eq!(
            user.invites[0].from,
            Some(jid("crone1@shakespeare.lit/desktop"))
        );
        assert_eq!(user.password.as_deref(), Some("cauldronburn"));
        assert_eq!(MucUser::parse(&user.to_element()).unwrap(), user);

        let declined = el("<x xmlns='http://jabber.org/protocol/muc#user'>
    <decline to='crone1@shakespeare.lit'>
      <reason>
        Sorry, I'm too busy right now.
      </reason>
    </decline>
  </x>");
        let user = MucUser::parse(&declined).unwrap();
        let decline = user.decline.as_ref().unwrap();
        assert_eq!(decline.to, Some(jid("crone1@shakespeare.lit")));
        assert_eq!(
            decline.reason.as_deref().map(str::trim),
            Some("Sorry, I'm too busy right now.")
        );
        assert_eq!(MucUser::parse(&user.to_element()).unwrap(), user);

        let informed = el("<x xmlns='http://jabber.org/protocol/muc#user'>\
            <decline from='hecate@shakespeare.lit'><reason>Sorry, I'm too busy right now.</reason></decline></x>");
        let user = MucUser::parse(&informed).unwrap();
        assert_eq!(
            user.decline.as_ref().unwrap().from,
            Some(jid("hecate@shakespeare.lit"))
        );
        assert_eq!(user.to_element(), informed);
    }

    /// XEP-0045 example 63 (§7.9, two invitations continuing a one-to-one chat).
    #[test]
    fn example_63_invitations_with_continue() {
        let x = el("<x xmlns='http://jabber.org/protocol/muc#user'>
    <invite to='wiccarocks@shakespeare.lit/laptop'>
      <reason>This coven needs both wiccarocks and hag66.</reason>
      <continue thread='e0ffe42b28561960c6b12b944a092794b9683a38'/>
    </invite>
    <invite to='hag66@shakespeare.lit'>
      <reason>This coven needs both wiccarocks and hag66.</reason>
      <continue thread='e0ffe42b28561960c6b12b944a092794b9683a38'/>
    </invite>
  </x>");
        let user = MucUser::parse(&x).unwrap();
        assert_eq!(user.invites.len(), 2);
        for invite in &user.invites {
            assert_eq!(
                invite.reason.as_deref(),
                Some("This coven needs both wiccarocks and hag66.")
            );
            assert_eq!(
                invite.continue_.as_ref().unwrap().thread.as_deref(),
                Some("e0ffe42b28561960c6b12b944a092794b9683a38")
            );
        }
        assert_eq!(MucUser::parse(&user.to_element()).unwrap(), user);
    }

    /// XEP-0045 example 134 (§9.5, invitation to a new member, no reason, with password).
    #[test]
    fn example_134_invitation_without_reason() {
        let x = el("<x xmlns='http://jabber.org/protocol/muc#user'>\
            <invite from='bard@shakespeare.lit'/><password>cauldronburn</password></x>");
        let user = MucUser::parse(&x).unwrap();
        assert_eq!(
            user.invites,
            vec![Invite {
                from: Some(jid("bard@shakespeare.lit")),
                ..Invite::default()
            }]
        );
        assert_eq!(user.to_element(), x);
    }

    /// XEP-0045 example 202 (§10.9, occupants removed from a destroyed room).
    #[test]
    fn example_202_destroy() {
        let x = el("<x xmlns='http://jabber.org/protocol/muc#user'>
    <item affiliation='none' role='none'/>
    <destroy jid='coven@chat.shakespeare.lit'>
      <reason>Macbeth doth come.</reason>
    </destroy>
  </x>");
        let user = MucUser::parse(&x).unwrap();
        assert_eq!(
            user.items,
            vec![UserItem::new(Affiliation::None, Role::None)]
        );
        assert_eq!(
            user.destroy,
            Some(Destroy {
                jid: Some(jid("coven@chat.shakespeare.lit")),
                password: None,
                reason: Some("Macbeth doth come.".to_owned()),
            })
        );
        let compact = el(
            "<x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='none' role='none'/>\
            <destroy jid='coven@chat.shakespeare.lit'><reason>Macbeth doth come.</reason></destroy></x>",
        );
        assert_eq!(user.to_element(), compact);
    }

    /// XEP-0045 examples 43, 205 and 207 (§7.2.18, §11.1, §11.2: removal with 333 and 332).
    #[test]
    fn examples_43_205_207_service_removals() {
        let cases: [(&str, &[Status]); 3] = [
            (
                "<item affiliation='none' role='none'><reason>You are not in the room.</reason></item>\
                 <status code='110'/><status code='307'/><status code='333'/>",
                &[Status::SELF_PRESENCE, Status::KICKED, Status::REMOVED_ERROR],
            ),
            (
                "<item affiliation='none' role='none'/><status code='110'/><status code='333'/>",
                &[Status::SELF_PRESENCE, Status::REMOVED_ERROR],
            ),
            (
                "<item affiliation='none' role='none'/><status code='110'/><status code='332'/>",
                &[Status::SELF_PRESENCE, Status::REMOVED_SHUTDOWN],
            ),
        ];
        for (children, expected) in cases {
            let x = el(&format!(
                "<x xmlns='http://jabber.org/protocol/muc#user'>{children}</x>"
            ));
            let user = MucUser::parse(&x).unwrap();
            assert_eq!(user.status, expected);
            assert_eq!(user.to_element(), x);
        }
    }

    /// XEP-0045 example 171 (§10.2.1, configuration change notice: a message with only a status).
    #[test]
    fn example_171_configuration_status_code() {
        let x = el("<x xmlns='http://jabber.org/protocol/muc#user'><status code='170'/></x>");
        let user = MucUser::parse(&x).unwrap();
        assert_eq!(
            user,
            MucUser {
                status: vec![Status::LOGGING_ENABLED],
                ..MucUser::default()
            }
        );
        assert_eq!(user.to_element(), x);
    }

    /// XEP-0045 examples 176 and 189 (§10.3, §10.6: affiliation notices with a bare JID).
    #[test]
    fn examples_176_189_bare_jid_items() {
        let cases = [
            (
                "member",
                "hecate@shakespeare.lit",
                "none",
                Affiliation::Member,
                Role::None,
            ),
            (
                "admin",
                "wiccarocks@shakespeare.lit",
                "moderator",
                Affiliation::Admin,
                Role::Moderator,
            ),
        ];
        for (affiliation, bare, role, expected_affiliation, expected_role) in cases {
            let x = el(&format!(
                "<x xmlns='http://jabber.org/protocol/muc#user'>\
                 <item affiliation='{affiliation}' jid='{bare}' role='{role}'/></x>"
            ));
            let user = MucUser::parse(&x).unwrap();
            let item = &user.items[0];
            assert_eq!(
                (item.affiliation, item.role),
                (expected_affiliation, expected_role)
            );
            assert_eq!(item.jid, Some(jid(bare)));
            assert!(item.jid.as_ref().unwrap().is_bare());
            assert_eq!(user.to_element(), x);
        }
    }

    /// XEP-0045 example 46 (§7.5, the empty marker of a private message).
    #[test]
    fn example_46_private_message_marker() {
        let x = el("<x xmlns='http://jabber.org/protocol/muc#user' />");
        assert_eq!(MucUser::parse(&x).unwrap(), MucUser::default());
        assert_eq!(MucUser::default().to_element(), x);
    }

    #[test]
    fn every_status_constant_is_registered_and_in_range() {
        let all = [
            Status::NON_ANONYMOUS,
            Status::AFFILIATION_CHANGED,
            Status::SHOWS_UNAVAILABLE,
            Status::HIDES_UNAVAILABLE,
            Status::CONFIGURATION_CHANGED,
            Status::SELF_PRESENCE,
            Status::LOGGING_ENABLED,
            Status::LOGGING_DISABLED,
            Status::NOW_NON_ANONYMOUS,
            Status::NOW_SEMI_ANONYMOUS,
            Status::NOW_FULLY_ANONYMOUS,
            Status::ROOM_CREATED,
            Status::NICK_ASSIGNED,
            Status::BANNED,
            Status::NICK_CHANGED,
            Status::KICKED,
            Status::REMOVED_AFFILIATION_CHANGE,
            Status::REMOVED_MEMBERS_ONLY,
            Status::REMOVED_SHUTDOWN,
            Status::REMOVED_ERROR,
        ];
        let codes: Vec<u16> = all.iter().map(|s| s.code()).collect();
        assert_eq!(
            codes,
            [
                100, 101, 102, 103, 104, 110, 170, 171, 172, 173, 174, 201, 210, 301, 303, 307,
                321, 322, 332, 333
            ]
        );
        for status in all {
            assert_eq!(Status::new(status.code()), Some(status));
            assert_eq!(status.to_string().parse::<Status>(), Ok(status));
            assert_eq!(Status::try_from(u16::from(status)), Ok(status));
        }
        assert_eq!(Status::new(99), None);
        assert_eq!(Status::new(1000), None);
        assert_eq!(Status::try_from(5), Err(5));
        assert_eq!("abc".parse::<Status>(), Err(()));
    }

    #[test]
    fn unregistered_codes_in_range_are_kept() {
        let x = el(
            "<x xmlns='http://jabber.org/protocol/muc#user'><status code='999'/><status code=' 100 '/></x>",
        );
        let user = MucUser::parse(&x).unwrap();
        assert_eq!(
            user.status,
            vec![Status::new(999).unwrap(), Status::NON_ANONYMOUS]
        );
    }

    #[test]
    fn enums_round_trip_through_strings() {
        for a in Affiliation::ALL {
            assert_eq!(a.as_str().parse::<Affiliation>(), Ok(*a));
            assert_eq!(a.to_string(), a.as_str());
        }
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(*r));
            assert_eq!(r.to_string(), r.as_str());
        }
        assert_eq!("Owner".parse::<Affiliation>(), Err(()));
        assert_eq!("".parse::<Role>(), Err(()));
    }

    #[test]
    fn malformed_user_payloads_are_typed() {
        let x = |inner: &str| {
            el(&format!(
                "<x xmlns='http://jabber.org/protocol/muc#user'>{inner}</x>"
            ))
        };
        assert_eq!(
            MucUser::parse(&x("<item role='participant'/>")),
            Err(PayloadError::MissingAttribute {
                element: "item",
                attribute: "affiliation"
            })
        );
        assert_eq!(
            MucUser::parse(&x("<item affiliation='member'/>")),
            Err(PayloadError::MissingAttribute {
                element: "item",
                attribute: "role"
            })
        );
        assert_eq!(
            MucUser::parse(&x("<item affiliation='king' role='participant'/>")),
            Err(PayloadError::InvalidValue {
                element: "item",
                what: "attribute 'affiliation'",
                value: "king".to_owned(),
            })
        );
        assert!(matches!(
            MucUser::parse(&x("<item affiliation='member' role='jester'/>")),
            Err(PayloadError::InvalidValue {
                element: "item",
                what: "attribute 'role'",
                ..
            })
        ));
        assert!(matches!(
            MucUser::parse(&x(
                "<item affiliation='member' role='participant' jid='@shakespeare.lit'/>"
            )),
            Err(PayloadError::InvalidJid {
                element: "item",
                ..
            })
        ));
        assert!(matches!(
            MucUser::parse(&x(
                "<item affiliation='none' role='none'><actor jid='a@b@c'/></item>"
            )),
            Err(PayloadError::InvalidJid {
                element: "actor",
                ..
            })
        ));
        assert!(matches!(
            MucUser::parse(&x("<invite to=''/>")),
            Err(PayloadError::InvalidJid {
                element: "invite",
                ..
            })
        ));
        assert!(matches!(
            MucUser::parse(&x("<decline from='/nodomain'/>")),
            Err(PayloadError::InvalidJid {
                element: "decline",
                ..
            })
        ));
        assert!(matches!(
            MucUser::parse(&x("<destroy jid='x@'/>")),
            Err(PayloadError::InvalidJid {
                element: "destroy",
                ..
            })
        ));
        assert_eq!(
            MucUser::parse(&x("<status/>")),
            Err(PayloadError::MissingAttribute {
                element: "status",
                attribute: "code"
            })
        );
        for code in ["99", "1000", "65536", "-110", "abc", ""] {
            assert_eq!(
                MucUser::parse(&x(&format!("<status code='{code}'/>"))),
                Err(PayloadError::InvalidValue {
                    element: "status",
                    what: "attribute 'code'",
                    value: code.to_owned(),
                }),
                "{code:?}"
            );
        }
    }

    #[test]
    fn user_parsing_is_tolerant() {
        let x = el("<x xmlns='http://jabber.org/protocol/muc#user' extra='1'>\
            <item affiliation='member' role='participant' foo='bar'><unknown/><continue/></item>\
            <status code='110' xmlns='jabber:client'/>\
            <item xmlns='urn:other'/>\
            <decline to='a@b'/><decline to='c@d'/>\
            <something-new/></x>");
        let user = MucUser::parse(&x).unwrap();
        assert_eq!(
            user.items,
            vec![UserItem::new(Affiliation::Member, Role::Participant)]
        );
        assert!(user.status.is_empty());
        assert_eq!(user.decline.unwrap().to, Some(jid("a@b")));
    }

    #[test]
    fn wrong_elements_are_refused() {
        let user_x = el("<x xmlns='http://jabber.org/protocol/muc#user'/>");
        let muc_x = el("<x xmlns='http://jabber.org/protocol/muc'/>");
        assert!(matches!(
            Muc::parse(&user_x),
            Err(PayloadError::WrongElement { .. })
        ));
        assert!(matches!(
            MucUser::parse(&muc_x),
            Err(PayloadError::WrongElement { .. })
        ));
        let other = el("<query xmlns='http://jabber.org/protocol/muc#admin'/>");
        assert!(!Muc::matches(&other) && !MucUser::matches(&other));
    }

    #[test]
    fn full_user_payload_round_trips() {
        let user = MucUser {
            items: vec![
                UserItem {
                    affiliation: Affiliation::Admin,
                    role: Role::Moderator,
                    jid: Some(jid("wiccarocks@shakespeare.lit/laptop")),
                    nick: Some("secondwitch".to_owned()),
                    actor: Some(Actor {
                        jid: Some(jid("crone1@shakespeare.lit")),
                        nick: Some("firstwitch".to_owned()),
                    }),
                    reason: Some(String::new()),
                },
                UserItem::new(Affiliation::Outcast, Role::None),
            ],
            status: vec![Status::BANNED, Status::new(555).unwrap()],
            invites: vec![Invite {
                from: None,
                to: Some(jid("hecate@shakespeare.lit")),
                reason: None,
                continue_: Some(Continue { thread: None }),
            }],
            decline: Some(Decline::default()),
            destroy: Some(Destroy {
                jid: None,
                password: Some("pw".to_owned()),
                reason: None,
            }),
            password: Some("cauldronburn".to_owned()),
        };
        assert_eq!(MucUser::parse(&user.to_element()).unwrap(), user);
    }
}
