//! Integration tests of the instant-messaging payloads (`xmpp_kit::ext`:
//! delay, receipts, chatstates, stanza_id, oob, csi, forwarding, carbons,
//! version): the specifications' examples as whole stanzas, with the
//! payload found among the stanza's children, and property tests that every
//! payload survives `to_element`, serialization to text and parsing back, and
//! that the XEP-0082 date and time parser never panics and prints exactly
//! what it accepted.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure

use minidom::Element;
use proptest::prelude::*;
use xmpp_kit::Jid;
use xmpp_kit::ext::carbons::{self, Carbon, Disable, Enable, Private};
use xmpp_kit::ext::chatstates::ChatState;
use xmpp_kit::ext::csi::{self, Active, Inactive};
use xmpp_kit::ext::delay::{DateTime, DateTimeError, Delay, TimeZone};
use xmpp_kit::ext::forwarding::Forwarded;
use xmpp_kit::ext::oob::{IqOob, Oob};
use xmpp_kit::ext::receipts::{Received, Request};
use xmpp_kit::ext::stanza_id::{OriginId, StanzaId};
use xmpp_kit::ext::version::{Version, VersionQuery};
use xmpp_kit::ext::{Payload, PayloadError};

// ---- helpers ----------------------------------------------------------------

fn element(xml: &str) -> Element {
    xml.parse().unwrap()
}

/// A stanza as the specifications write it: without `xmlns`, which it
/// inherits from the stream (`jabber:client`).
fn stanza(xml: &str) -> Element {
    let stream = element(&format!("<stream xmlns='jabber:client'>{xml}</stream>"));
    stream.children().next().expect("a stanza").clone()
}

/// The only child of the stanza `xml` that is a `P`, parsed.
fn payload<P: Payload>(xml: &str) -> P {
    let stanza = stanza(xml);
    let mut found = stanza.children().filter(|c| P::matches(c));
    let child = found.next().expect("the payload is there");
    assert!(found.next().is_none(), "one payload only");
    P::parse(child).unwrap()
}

/// Whether the stanza `xml` has a child that is a `P`.
fn has<P: Payload>(xml: &str) -> bool {
    stanza(xml).children().any(|c| P::matches(c))
}

/// `to_element`, written as text and parsed again, gives the value back.
fn survives_the_wire<P: Payload + PartialEq + std::fmt::Debug>(value: &P) {
    let element = value.to_element();
    assert!(P::matches(&element));
    assert_eq!(&P::parse(&element).unwrap(), value);
    let text = String::from(&element);
    let reparsed: Element = text.parse().unwrap();
    assert_eq!(reparsed, element, "{text}");
    assert_eq!(&P::parse(&reparsed).unwrap(), value, "{text}");
}

fn jid(s: &str) -> Jid {
    s.parse().unwrap()
}

// ---- XEP-0203 Delayed Delivery, XEP-0082 -------------------------------------

/// XEP-0203 example 1: receiving a message sent while offline.
#[test]
fn xep_0203_example_1() {
    let delay: Delay = payload(
        "<message
            from='romeo@montague.net/orchard'
            to='juliet@capulet.com'
            type='chat'>
          <body>
            O blessed, blessed night! I am afeard.
            Being in night, all this is but a dream,
            Too flattering-sweet to be substantial.
          </body>
          <delay xmlns='urn:xmpp:delay'
             from='capulet.com'
             stamp='2002-09-10T23:08:25Z'>
            Offline Storage
          </delay>
        </message>",
    );
    assert_eq!(delay.stamp, DateTime::utc(2002, 9, 10, 23, 8, 25).unwrap());
    assert_eq!(delay.from, Some(jid("capulet.com")));
    assert_eq!(
        delay.reason.as_deref().map(str::trim),
        Some("Offline Storage")
    );
    survives_the_wire(&delay);
}

/// XEP-0203 example 2: receiving the last presence update of another entity.
#[test]
fn xep_0203_example_2() {
    let delay: Delay = payload(
        "<presence from='juliet@capulet.com/balcony' to='romeo@montague.net'>
          <status>anon!</status>
          <show>xa</show>
          <priority>1</priority>
          <delay xmlns='urn:xmpp:delay'
             from='juliet@capulet.com/balcony'
             stamp='2002-09-10T23:41:07Z'/>
        </presence>",
    );
    assert_eq!(delay.stamp.to_string(), "2002-09-10T23:41:07Z");
    assert_eq!(delay.from, Some(jid("juliet@capulet.com/balcony")));
    assert_eq!(delay.reason, None);
    survives_the_wire(&delay);
}

/// XEP-0203 example 3: receiving cached messages from a conference room.
#[test]
fn xep_0203_example_3() {
    let delay: Delay = payload(
        "<message
            from='coven@macbeth.shakespeare.lit/secondwitch'
            to='macbeth@shakespeare.lit/laptop'
            type='groupchat'>
          <body>
            By the pricking of my thumbs,
            Something wicked this way comes.
            Open, locks,
            Whoever knocks!
          </body>
          <delay xmlns='urn:xmpp:delay'
             from='coven@macbeth.shakespeare.lit'
             stamp='2002-09-10T23:05:37Z'/>
        </message>",
    );
    assert_eq!(delay.from, Some(jid("coven@macbeth.shakespeare.lit")));
    assert_eq!(delay.stamp.unix_timestamp(), 1_031_699_137);
    survives_the_wire(&delay);
}

/// Character data is kept as written, whitespace included.
#[test]
fn whitespace_is_kept() {
    let stamp = DateTime::utc(2002, 9, 10, 23, 8, 25).unwrap();
    survives_the_wire(&Delay::new(stamp).with_reason(" \t "));
    survives_the_wire(&Oob::new(" ").with_desc(" "));
    survives_the_wire(&Version::new(" a ", "\n1\n"));
}

/// XEP-0082 examples 2 and 3 (DateTime profile); examples 1 (Date) and 4
/// (Time) are other profiles and are refused as DateTimes.
#[test]
fn xep_0082_examples() {
    let utc: DateTime = "1969-07-21T02:56:15Z".parse().unwrap();
    let houston: DateTime = "1969-07-20T21:56:15-05:00".parse().unwrap();
    assert_eq!(utc.unix_timestamp(), houston.unix_timestamp());
    assert_eq!(houston.time_zone(), TimeZone::Offset(-5 * 60));
    assert_eq!(houston.to_string(), "1969-07-20T21:56:15-05:00");
    assert_eq!("1776-07-04".parse::<DateTime>(), Err(DateTimeError::Syntax));
    assert_eq!("16:00:00".parse::<DateTime>(), Err(DateTimeError::Syntax));
}

/// The legacy XEP-0091 stamp format in the new element is an invalid value.
#[test]
fn legacy_stamp_is_invalid() {
    let e = element("<delay xmlns='urn:xmpp:delay' stamp='20020910T23:41:07'/>");
    assert_eq!(
        Delay::parse(&e),
        Err(PayloadError::InvalidValue {
            element: "delay",
            what: "attribute 'stamp'",
            value: "20020910T23:41:07".into(),
        })
    );
}

// ---- XEP-0184 Message Delivery Receipts --------------------------------------

/// XEP-0184 examples 3 (a content message with receipt requested) and 4 (a
/// message delivery receipt).
#[test]
fn xep_0184_examples_3_and_4() {
    let content = "<message
        from='northumberland@shakespeare.lit/westminster'
        id='richard2-4.1.247'
        to='kingrichard@royalty.england.lit/throne'>
      <body>My lord, dispatch; read o'er these articles.</body>
      <request xmlns='urn:xmpp:receipts'/>
    </message>";
    assert_eq!(payload::<Request>(content), Request);
    assert!(!has::<Received>(content));
    let ack = "<message
        from='kingrichard@royalty.england.lit/throne'
        id='bi29sg183b4v'
        to='northumberland@shakespeare.lit/westminster'>
      <received xmlns='urn:xmpp:receipts' id='richard2-4.1.247'/>
    </message>";
    let received: Received = payload(ack);
    // The receipt echoes the id of the content message.
    assert_eq!(received.id.as_deref(), stanza(content).attr("id"));
    assert!(!has::<Request>(ack));
    survives_the_wire(&received);
    survives_the_wire(&Request);
}

// ---- XEP-0085 Chat State Notifications ---------------------------------------

/// XEP-0085 examples 3 to 20 (the simple example and the detailed
/// conversation): each message's state, or none.
#[test]
fn xep_0085_conversation() {
    let from_juliet =
        "from='juliet@capulet.com/balcony' to='romeo@shakespeare.lit/orchard' type='chat'";
    let from_romeo =
        "from='romeo@montague.net/orchard' to='juliet@capulet.com/balcony' type='chat'";
    let cases: Vec<(u32, String, Option<ChatState>)> = vec![
        (
            3,
            "<message from='bernardo@shakespeare.lit/pda' to='francisco@shakespeare.lit' type='chat'>
              <body>Who's there?</body>
              <active xmlns='http://jabber.org/protocol/chatstates'/>
            </message>"
                .into(),
            Some(ChatState::Active),
        ),
        (
            5,
            "<message from='bernardo@shakespeare.lit/pda' to='francisco@shakespeare.lit/elsinore' type='chat'>
              <composing xmlns='http://jabber.org/protocol/chatstates'/>
            </message>"
                .into(),
            Some(ChatState::Composing),
        ),
        (
            9,
            format!(
                "<message {from_juliet}><thread>act2scene2chat1</thread>
                  <body>Art thou not Romeo, and a Montague?</body></message>"
            ),
            None,
        ),
        (
            10,
            format!(
                "<message {from_romeo}><thread>act2scene2chat1</thread>
                  <composing xmlns='http://jabber.org/protocol/chatstates'/></message>"
            ),
            Some(ChatState::Composing),
        ),
        (
            11,
            format!(
                "<message {from_romeo}><thread>act2scene2chat1</thread>
                  <paused xmlns='http://jabber.org/protocol/chatstates'/></message>"
            ),
            Some(ChatState::Paused),
        ),
        (
            13,
            format!(
                "<message {from_romeo}><thread>act2scene2chat1</thread>
                  <body>Neither, fair saint, if either thee dislike.</body>
                  <active xmlns='http://jabber.org/protocol/chatstates'/></message>"
            ),
            Some(ChatState::Active),
        ),
        (
            15,
            format!(
                "<message {from_juliet}><thread>act2scene2chat1</thread>
                  <inactive xmlns='http://jabber.org/protocol/chatstates'/></message>"
            ),
            Some(ChatState::Inactive),
        ),
        (
            16,
            format!(
                "<message {from_juliet}><thread>act2scene2chat1</thread>
                  <active xmlns='http://jabber.org/protocol/chatstates'/></message>"
            ),
            Some(ChatState::Active),
        ),
        (
            18,
            format!(
                "<message {from_juliet}><thread>act2scene2chat1</thread>
                  <gone xmlns='http://jabber.org/protocol/chatstates'/></message>"
            ),
            Some(ChatState::Gone),
        ),
    ];
    for (example, xml, state) in cases {
        match state {
            Some(state) => assert_eq!(payload::<ChatState>(&xml), state, "example {example}"),
            None => assert!(!has::<ChatState>(&xml), "example {example}"),
        }
    }
    for state in ChatState::ALL {
        survives_the_wire(&state);
    }
}

// ---- XEP-0359 Unique and Stable Stanza IDs -----------------------------------

/// XEP-0359 examples 2 (a message with an origin id) and 3 (the server added
/// a stanza id).
#[test]
fn xep_0359_examples_2_and_3() {
    let sent = "<message xmlns='jabber:client' to='room@muc.example.org' type='groupchat'>
      <body>Typical body text</body>
      <origin-id xmlns='urn:xmpp:sid:0' id='de305d54-75b4-431b-adb2-eb6b9e546013'/>
    </message>";
    let origin: OriginId = payload(sent);
    assert!(!has::<StanzaId>(sent));
    let reflected = "<message xmlns='jabber:client' to='room@muc.example.org' type='groupchat'>
      <body>Typical body text</body>
      <stanza-id xmlns='urn:xmpp:sid:0'
                 id='5f3dbc5e-e1d3-4077-a492-693f3769c7ad'
                 by='room@muc.example.org'/>
      <origin-id xmlns='urn:xmpp:sid:0' id='de305d54-75b4-431b-adb2-eb6b9e546013'/>
    </message>";
    let sid: StanzaId = payload(reflected);
    assert_eq!(sid.id, "5f3dbc5e-e1d3-4077-a492-693f3769c7ad");
    assert_eq!(sid.by, jid("room@muc.example.org"));
    // The server preserved the origin id.
    assert_eq!(payload::<OriginId>(reflected), origin);
    survives_the_wire(&sid);
    survives_the_wire(&origin);
}

// ---- XEP-0066 Out of Band Data -----------------------------------------------

/// XEP-0066 example 1 (sender initiates request-response) and example 3
/// (recipient informs sender of failure: the error echoes the query).
#[test]
fn xep_0066_iq_examples() {
    let set = "<iq type='set'
        from='stpeter@jabber.org/work'
        to='MaineBoy@jabber.org/home'
        id='oob1'>
      <query xmlns='jabber:iq:oob'>
        <url>http://www.jabber.org/images/psa-license.jpg</url>
        <desc>A license to Jabber!</desc>
      </query>
    </iq>";
    let query: IqOob = payload(set);
    assert_eq!(
        query,
        IqOob::new("http://www.jabber.org/images/psa-license.jpg")
            .with_desc("A license to Jabber!")
    );
    let error = "<iq type='error'
        from='MaineBoy@jabber.org/home'
        to='stpeter@jabber.org/work'
        id='oob1'>
      <query xmlns='jabber:iq:oob'>
        <url>http://www.jabber.org/images/psa-license.jpg</url>
        <desc>A license to Jabber!</desc>
      </query>
      <error code='404' type='cancel'>
        <item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>
      </error>
    </iq>";
    assert_eq!(payload::<IqOob>(error), query);
    survives_the_wire(&query);
}

/// XEP-0066 example 5 (sender communicates a URI) and example 10 (with a
/// stream id).
#[test]
fn xep_0066_x_and_sid_examples() {
    let message = "<message from='stpeter@jabber.org/work'
             to='MaineBoy@jabber.org/home'>
      <body>Yeah, but do you have a license to Jabber?</body>
      <x xmlns='jabber:x:oob'>
        <url>http://www.jabber.org/images/psa-license.jpg</url>
      </x>
    </message>";
    let oob: Oob = payload(message);
    assert_eq!(
        oob,
        Oob::new("http://www.jabber.org/images/psa-license.jpg")
    );
    survives_the_wire(&oob);
    let set = "<iq type='set' from='romeo@montague.net/orchard' to='juliet@capulet.com/chamber' id='send1'>
      <query xmlns='jabber:iq:oob' sid='a0'>
        <url>http://www.shakespeare.lit/files/letter.txt</url>
      </query>
    </iq>";
    let query: IqOob = payload(set);
    assert_eq!(query.sid.as_deref(), Some("a0"));
    assert_eq!(query.desc, None);
    survives_the_wire(&query);
}

// ---- XEP-0352 Client State Indication ----------------------------------------

/// XEP-0352 examples 1 to 4: the feature and the two nonzas, as top-level
/// elements of the stream.
#[test]
fn xep_0352_examples() {
    let features = element(
        "<stream:features xmlns:stream='http://etherx.jabber.org/streams'>
          <bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>
          <csi xmlns='urn:xmpp:csi:0'/>
        </stream:features>",
    );
    assert!(features.has_child(csi::FEATURE, csi::NS));
    assert!(features.children().any(csi::Feature::matches));
    assert_eq!(
        Inactive::parse(&element("<inactive xmlns='urn:xmpp:csi:0'/>")),
        Ok(Inactive)
    );
    // Example 4: the nonza is a top-level element next to a stanza.
    let active = element("<active xmlns='urn:xmpp:csi:0'/>");
    assert_eq!(Active::parse(&active), Ok(Active));
    survives_the_wire(&Active);
    survives_the_wire(&Inactive);
    survives_the_wire(&csi::Feature);
}

// ---- XEP-0297 Stanza Forwarding ----------------------------------------------

/// XEP-0297 examples 1 (the original message) and 2 (forwarding it).
#[test]
fn xep_0297_examples_1_and_2() {
    let original = element(
        "<message from='juliet@capulet.lit/orchard'
                 id='0202197'
                 to='romeo@montague.lit'
                 type='chat'
                 xmlns='jabber:client'>
              <body>Yet I should kill thee with much cherishing.</body>
              <mood xmlns='http://jabber.org/protocol/mood'>
                  <amorous/>
              </mood>
          </message>",
    );
    let outer = "<message to='mercutio@verona.lit' from='romeo@montague.lit/orchard' type='chat' id='28gs' xmlns='jabber:client'>
        <body>A most courteous exposition!</body>
        <forwarded xmlns='urn:xmpp:forward:0'>
          <delay xmlns='urn:xmpp:delay' stamp='2010-07-10T23:08:25Z'/>
          <message from='juliet@capulet.lit/orchard'
                 id='0202197'
                 to='romeo@montague.lit'
                 type='chat'
                 xmlns='jabber:client'>
              <body>Yet I should kill thee with much cherishing.</body>
              <mood xmlns='http://jabber.org/protocol/mood'>
                  <amorous/>
              </mood>
          </message>
        </forwarded>
      </message>";
    let forwarded: Forwarded = payload(outer);
    assert_eq!(forwarded.stanza, original);
    assert_eq!(
        forwarded.delay.as_ref().unwrap().stamp.to_string(),
        "2010-07-10T23:08:25Z"
    );
    survives_the_wire(&forwarded);
    // Built from scratch, it says the same.
    let built =
        Forwarded::new(original).with_delay(Delay::new("2010-07-10T23:08:25Z".parse().unwrap()));
    assert_eq!(built, forwarded);
}

// ---- XEP-0280 Message Carbons ------------------------------------------------

/// XEP-0280 examples 3 (enable) and 6 (disable), in their iqs.
#[test]
fn xep_0280_examples_3_and_6() {
    let enable =
        "<iq xmlns='jabber:client' from='romeo@montague.example/garden' id='enable1' type='set'>
      <enable xmlns='urn:xmpp:carbons:2'/>
    </iq>";
    assert_eq!(payload::<Enable>(enable), Enable);
    assert!(!has::<Disable>(enable));
    let disable =
        "<iq xmlns='jabber:client' from='romeo@montague.example/garden' id='disable1' type='set'>
      <disable xmlns='urn:xmpp:carbons:2'/>
    </iq>";
    assert_eq!(payload::<Disable>(disable), Disable);
    survives_the_wire(&Enable);
    survives_the_wire(&Disable);
    assert_eq!(carbons::FEATURE, "urn:xmpp:carbons:2");
}

/// XEP-0280 examples 9 and 10: Juliet's message and its carbon.
#[test]
fn xep_0280_examples_9_and_10() {
    let original = element(
        "<message xmlns='jabber:client'
                 from='juliet@capulet.example/balcony'
                 to='romeo@montague.example/garden'
                 type='chat'>
          <body>What man art thou that, thus bescreen'd in night, so stumblest on my counsel?</body>
          <thread>0e3141cd80894871a68e6fe6b1ec56fa</thread>
        </message>",
    );
    let carbon = "<message xmlns='jabber:client'
             from='romeo@montague.example'
             to='romeo@montague.example/home'
             type='chat'>
      <received xmlns='urn:xmpp:carbons:2'>
        <forwarded xmlns='urn:xmpp:forward:0'>
          <message xmlns='jabber:client'
                 from='juliet@capulet.example/balcony'
                 to='romeo@montague.example/garden'
                 type='chat'>
          <body>What man art thou that, thus bescreen'd in night, so stumblest on my counsel?</body>
          <thread>0e3141cd80894871a68e6fe6b1ec56fa</thread>
        </message>
        </forwarded>
      </received>
    </message>";
    let received: carbons::Received = payload(carbon);
    assert_eq!(received.0.stanza, original);
    assert!(!has::<carbons::Sent>(carbon));
    let either: Carbon = payload(carbon);
    assert!(matches!(either, Carbon::Received(_)));
    // Carbons are to be accepted from the user's own bare JID only.
    let wrapper = stanza(carbon);
    let from: Jid = wrapper.attr("from").unwrap().parse().unwrap();
    let to: Jid = wrapper.attr("to").unwrap().parse().unwrap();
    assert_eq!(from.as_str(), to.bare_str());
    survives_the_wire(&received);
    survives_the_wire(&either);
}

/// XEP-0280 examples 11 and 12: Romeo's reply and its carbon.
#[test]
fn xep_0280_examples_11_and_12() {
    let original = element(
        "<message xmlns='jabber:client'
                 from='romeo@montague.example/home'
                 to='juliet@capulet.example/balcony'
                 type='chat'>
          <body>Neither, fair saint, if either thee dislike.</body>
          <thread>0e3141cd80894871a68e6fe6b1ec56fa</thread>
        </message>",
    );
    let carbon = "<message xmlns='jabber:client'
            from='romeo@montague.example'
            to='romeo@montague.example/garden'
            type='chat'>
      <sent xmlns='urn:xmpp:carbons:2'>
        <forwarded xmlns='urn:xmpp:forward:0'>
          <message xmlns='jabber:client'
                 to='juliet@capulet.example/balcony'
                 from='romeo@montague.example/home'
                 type='chat'>
          <body>Neither, fair saint, if either thee dislike.</body>
          <thread>0e3141cd80894871a68e6fe6b1ec56fa</thread>
        </message>
        </forwarded>
      </sent>
    </message>";
    let sent: carbons::Sent = payload(carbon);
    // Same attributes in another order: equal elements.
    assert_eq!(sent.0.stanza, original);
    let either: Carbon = payload(carbon);
    assert_eq!(either.forwarded(), &sent.0);
    survives_the_wire(&sent);
}

/// XEP-0280 example 13: a message excluded from carbons.
#[test]
fn xep_0280_example_13() {
    let message = "<message xmlns='jabber:client'
             from='romeo@montague.example/home'
             to='juliet@capulet.example/home'
             type='chat'>
      <body>Neither, fair saint, if either thee dislike.</body>
      <thread>0e3141cd80894871a68e6fe6b1ec56fa</thread>
      <private xmlns='urn:xmpp:carbons:2'/>
    </message>";
    assert_eq!(payload::<Private>(message), Private);
    assert!(!has::<Carbon>(message));
    survives_the_wire(&Private);
}

// ---- XEP-0092 Software Version -----------------------------------------------

/// XEP-0092 examples 1 (the request) and 2 (the reply).
#[test]
fn xep_0092_examples_1_and_2() {
    let get = "<iq type='get' from='romeo@montague.net/orchard' to='juliet@capulet.com/balcony' id='version_1'>
      <query xmlns='jabber:iq:version'/>
    </iq>";
    let request: VersionQuery = payload(get);
    assert!(request.is_request());
    let iq = stanza(get);
    let query = iq.get_child("query", "jabber:iq:version").unwrap();
    assert_eq!(
        Version::parse(query),
        Err(PayloadError::MissingChild {
            element: "query",
            child: "name"
        })
    );
    let result = "<iq type='result' to='romeo@montague.net/orchard' from='juliet@capulet.com/balcony' id='version_1'>
      <query xmlns='jabber:iq:version'>
        <name>Exodus</name>
        <version>0.7.0.4</version>
        <os>Windows-XP 5.01.2600</os>
      </query>
    </iq>";
    let version: Version = payload(result);
    assert_eq!(
        version,
        Version::new("Exodus", "0.7.0.4").with_os("Windows-XP 5.01.2600")
    );
    let query: VersionQuery = payload(result);
    assert!(!query.is_request());
    assert_eq!(query.into_version(), Ok(version.clone()));
    survives_the_wire(&version);
    survives_the_wire(&request);
}

// ---- property tests -----------------------------------------------------------

fn days_in_month(year: i32, month: u8) -> u8 {
    let leap = year.rem_euclid(4) == 0 && (year.rem_euclid(100) != 0 || year.rem_euclid(400) == 0);
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if leap => 29,
        _ => 28,
    }
}

fn time_zone() -> impl Strategy<Value = TimeZone> {
    prop_oneof![
        Just(TimeZone::Utc),
        Just(TimeZone::UnknownLocal),
        (-840i16..=840).prop_map(TimeZone::Offset),
    ]
}

fn year() -> impl Strategy<Value = i32> {
    prop_oneof![4 => 1900i32..2100, 2 => -9999i32..=99_999, 1 => any::<i32>()]
}

fn date_time() -> impl Strategy<Value = DateTime> {
    (
        year(),
        1u8..=12,
        1u8..=31,
        0u8..24,
        0u8..60,
        0u8..60,
        proptest::option::of("[0-9]{1,12}"),
        time_zone(),
    )
        .prop_map(|(year, month, day, hour, minute, second, fraction, tz)| {
            let day = day.min(days_in_month(year, month));
            let t = DateTime::new(year, month, day, hour, minute, second, tz).unwrap();
            match fraction {
                Some(digits) => t.with_fraction(&digits).unwrap(),
                None => t,
            }
        })
}

fn jid_strategy() -> impl Strategy<Value = Jid> {
    (
        proptest::option::of("[a-z][a-z0-9._-]{0,8}"),
        "[a-z]{1,10}\\.(lit|example|org)",
        proptest::option::of("[A-Za-z0-9 ]{1,10}"),
    )
        .prop_map(|(node, domain, resource)| {
            Jid::from_parts(
                node.as_deref(),
                &domain,
                resource.as_deref().map(str::trim).filter(|r| !r.is_empty()),
            )
            .unwrap()
        })
}

/// Printable text (no control characters, which XML cannot carry as is).
fn text() -> impl Strategy<Value = String> {
    "\\PC{0,24}"
}

fn non_empty_text() -> impl Strategy<Value = String> {
    "\\PC{1,24}"
}

fn delay() -> impl Strategy<Value = Delay> {
    (
        date_time(),
        proptest::option::of(jid_strategy()),
        proptest::option::of(non_empty_text()),
    )
        .prop_map(|(stamp, from, reason)| Delay {
            stamp,
            from,
            reason,
        })
}

fn chat_state() -> impl Strategy<Value = ChatState> {
    proptest::sample::select(ChatState::ALL.to_vec())
}

/// `<body/>` (no text node when empty, as after parsing).
fn body_element(body: String) -> Element {
    let mut element = Element::bare("body", "jabber:client");
    if !body.is_empty() {
        element.append_text_node(body);
    }
    element
}

/// A `<message xmlns='jabber:client'/>` with attributes, a body and an
/// extension payload.
fn message() -> impl Strategy<Value = Element> {
    (
        jid_strategy(),
        jid_strategy(),
        "[a-zA-Z0-9-]{1,12}",
        text(),
        chat_state(),
    )
        .prop_map(|(from, to, id, body, state)| {
            let name = |n: &str| rxml::NcName::try_from(n).unwrap();
            Element::builder("message", "jabber:client")
                .attr(name("from"), from.as_str())
                .attr(name("to"), to.as_str())
                .attr(name("id"), id)
                .attr(name("type"), "chat")
                .append(body_element(body))
                .append(state.to_element())
                .build()
        })
}

fn forwarded() -> impl Strategy<Value = Forwarded> {
    (proptest::option::of(delay()), message())
        .prop_map(|(delay, stanza)| Forwarded { delay, stanza })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn date_time_display_parses_back(t in date_time()) {
        let text = t.to_string();
        let parsed: DateTime = text.parse().unwrap();
        prop_assert_eq!(&parsed, &t);
        prop_assert_eq!(parsed.to_string(), text);
    }

    #[test]
    fn date_time_parse_never_panics_and_prints_what_it_read(
        s in prop_oneof![
            "[-+0-9TZ:.]{0,32}",
            "-?[0-9]{4,6}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{0,4})?(Z|[+-][0-9]{2}:[0-9]{2})",
            "\\PC{0,32}",
        ]
    ) {
        if let Ok(t) = s.parse::<DateTime>() {
            prop_assert_eq!(t.to_string(), s);
        }
    }

    #[test]
    fn date_time_fields_are_validated(
        year in year(), month in 0u8..=13, day in 0u8..=32, hour in 0u8..=25, minute in 0u8..=61, second in 0u8..=61,
        offset in -900i16..=900,
    ) {
        let valid = (1..=12).contains(&month)
            && day >= 1
            && day <= days_in_month(year, month)
            && hour < 24
            && minute < 60
            && second < 60
            && offset.abs() <= 840;
        let result = DateTime::new(year, month, day, hour, minute, second, TimeZone::Offset(offset));
        prop_assert_eq!(result.is_ok(), valid);
        if let Ok(t) = result {
            let text = t.to_string();
            prop_assert_eq!(text.parse::<DateTime>(), Ok(t));
        }
    }

    #[test]
    fn unix_timestamps_round_trip(seconds in -10_000_000_000_000i64..10_000_000_000_000) {
        let t = DateTime::from_unix_timestamp(seconds).unwrap();
        prop_assert_eq!(t.unix_timestamp(), seconds);
        prop_assert_eq!(t.time_zone(), TimeZone::Utc);
        prop_assert_eq!(t.to_string().parse::<DateTime>(), Ok(t));
    }

    #[test]
    fn offsets_name_the_same_instant(t in date_time()) {
        // The same instant in UTC.
        let utc = DateTime::from_unix_timestamp(t.unix_timestamp());
        if let Ok(utc) = utc {
            prop_assert_eq!(utc.unix_timestamp(), t.unix_timestamp());
        }
    }

    #[test]
    fn delay_round_trips(d in delay()) {
        survives_the_wire(&d);
    }

    #[test]
    fn receipts_round_trip(id in proptest::option::of(text())) {
        survives_the_wire(&Received { id });
    }

    #[test]
    fn chat_states_round_trip(state in chat_state()) {
        survives_the_wire(&state);
        prop_assert_eq!(state.as_str().parse::<ChatState>(), Ok(state));
    }

    #[test]
    fn stanza_ids_round_trip(id in text(), by in jid_strategy(), origin in text()) {
        survives_the_wire(&StanzaId { id, by });
        survives_the_wire(&OriginId { id: origin });
    }

    #[test]
    fn oob_round_trips(
        url in non_empty_text(), desc in proptest::option::of(text()), sid in proptest::option::of(text()),
    ) {
        survives_the_wire(&Oob { url: url.clone(), desc: desc.clone() });
        survives_the_wire(&IqOob { url, desc, sid });
    }

    #[test]
    fn versions_round_trip(
        name in text(), version in text(), os in proptest::option::of(text()),
        partial in (proptest::option::of(text()), proptest::option::of(text()), proptest::option::of(text())),
    ) {
        survives_the_wire(&Version { name, version, os });
        let query = VersionQuery { name: partial.0, version: partial.1, os: partial.2 };
        survives_the_wire(&query);
        prop_assert_eq!(query.is_request(), query.name.is_none() && query.version.is_none() && query.os.is_none());
    }

    #[test]
    fn forwarded_and_carbons_round_trip(f in forwarded(), sent in any::<bool>()) {
        survives_the_wire(&f);
        let carbon = if sent { Carbon::Sent(f.clone()) } else { Carbon::Received(f.clone()) };
        survives_the_wire(&carbon);
        if sent {
            survives_the_wire(&carbons::Sent(f));
        } else {
            survives_the_wire(&carbons::Received(f));
        }
    }
}
