//! A deterministic, generated corpus of realistic XMPP client traffic, for
//! benchmarks. Shared by `benches/framing.rs` and the peer comparison.
//!
//! The mix (by stanza count): 40% chat messages with non-ASCII text and
//! escapes, receipts, chat states and origin ids; 25% presence with entity
//! capabilities; 5% roster results; 5% disco#info results; 15% pubsub event
//! notifications carrying 1-2 KB Atom entries; 10% whitespace keepalives.

#![allow(dead_code, unreachable_pub)]

/// The stream header every corpus starts with.
pub const HEADER: &str = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
    xmlns:stream='http://etherx.jabber.org/streams' from='example.com' \
    to='juliet@example.com' id='c2s-4b9a' version='1.0' xml:lang='en'>";

/// A small deterministic PRNG (xorshift64*), so the corpus is the same on
/// every run and machine.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        let i = self.below(items.len() as u64) as usize;
        items.get(i).copied().unwrap_or("")
    }
}

const NAMES: &[&str] = &[
    "juliet", "romeo", "nurse", "benvolio", "mercutio", "tybalt", "élodie", "zoë", "søren", "李",
];
const DOMAINS: &[&str] = &["example.com", "example.net", "capulet.lit", "montague.lit"];
const WORDS: &[&str] = &[
    "wherefore",
    "art",
    "thou",
    "Romeo",
    "deny",
    "thy",
    "father",
    "and",
    "refuse",
    "name",
    "café",
    "naïve",
    "Grüße",
    "προσοχή",
    "привет",
    "こんにちは",
    "🎭",
    "🌹",
    "&amp;",
    "&lt;3",
    "&gt;",
    "&apos;quoted&apos;",
    "&quot;double&quot;",
    "—",
    "…",
];

fn jid(rng: &mut Rng) -> String {
    format!("{}@{}", rng.pick(NAMES), rng.pick(DOMAINS))
}

fn sentence(rng: &mut Rng, words: u64) -> String {
    let n = 3 + rng.below(words);
    (0..n)
        .map(|_| rng.pick(WORDS))
        .collect::<Vec<_>>()
        .join(" ")
}

fn chat(rng: &mut Rng, i: u64) -> String {
    let state = rng.pick(&["active", "composing", "paused"]);
    format!(
        "<message from='{from}/balcony' to='juliet@example.com/orchard' type='chat' id='m{i}' xml:lang='en'>\
         <body>{body}</body><request xmlns='urn:xmpp:receipts'/>\
         <{state} xmlns='http://jabber.org/protocol/chatstates'/>\
         <origin-id xmlns='urn:xmpp:sid:0' id='a1b2c3d4-{i:08x}'/></message>",
        from = jid(rng),
        body = sentence(rng, 20),
    )
}

fn presence(rng: &mut Rng) -> String {
    let show = rng.pick(&["away", "chat", "dnd", "xa"]);
    format!(
        "<presence from='{from}/phone'><show>{show}</show><status>{status}</status>\
         <priority>{prio}</priority><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' \
         node='https://conversations.im' ver='q07IKJEyjvHSyhy//CH0CxmKi8w='/></presence>",
        from = jid(rng),
        status = sentence(rng, 6),
        prio = rng.below(10),
    )
}

fn roster(rng: &mut Rng, i: u64) -> String {
    let mut s = format!(
        "<iq type='result' id='roster{i}' to='juliet@example.com/orchard'><query xmlns='jabber:iq:roster' ver='v{i}'>"
    );
    for _ in 0..(10 + rng.below(20)) {
        let sub = rng.pick(&["both", "to", "from", "none"]);
        s.push_str(&format!(
            "<item jid='{jid}' name='{name}' subscription='{sub}'><group>{group}</group></item>",
            jid = jid(rng),
            name = rng.pick(NAMES),
            group = rng.pick(&[
                "Friends",
                "Family",
                "Capulets",
                "Montagues",
                "Verona &amp; Mantua"
            ]),
        ));
    }
    s.push_str("</query></iq>");
    s
}

fn disco(rng: &mut Rng, i: u64) -> String {
    let mut s = format!(
        "<iq type='result' id='disco{i}' from='{from}/desktop'><query xmlns='http://jabber.org/protocol/disco#info'>\
         <identity category='client' type='pc' name='Gajim'/>",
        from = jid(rng)
    );
    for feature in [
        "http://jabber.org/protocol/caps",
        "http://jabber.org/protocol/chatstates",
        "http://jabber.org/protocol/disco#info",
        "http://jabber.org/protocol/disco#items",
        "http://jabber.org/protocol/muc",
        "http://jabber.org/protocol/ibb",
        "jabber:iq:version",
        "jabber:x:data",
        "urn:xmpp:avatar:metadata+notify",
        "urn:xmpp:carbons:2",
        "urn:xmpp:ping",
        "urn:xmpp:receipts",
        "urn:xmpp:time",
        "urn:xmpp:jingle:1",
        "urn:xmpp:mam:2",
        "urn:xmpp:message-correct:0",
        "urn:xmpp:chat-markers:0",
        "urn:xmpp:sid:0",
    ] {
        s.push_str(&format!("<feature var='{feature}'/>"));
    }
    s.push_str("</query></iq>");
    s
}

fn pubsub_event(rng: &mut Rng, i: u64) -> String {
    let mut content = String::new();
    while content.len() < 900 + rng.below(1100) as usize {
        content.push_str(&sentence(rng, 30));
        content.push_str(". ");
    }
    format!(
        "<message from='pubsub.example.com' to='juliet@example.com' id='ev{i}'>\
         <event xmlns='http://jabber.org/protocol/pubsub#event'><items node='princely_musings'>\
         <item id='ae890ac52d0df67ed7cfdf51b644e901-{i}' publisher='{publisher}'>\
         <entry xmlns='http://www.w3.org/2005/Atom'><title>{title}</title>\
         <summary>{summary}</summary><content type='text'>{content}</content>\
         <link rel='alternate' type='text/html' href='http://denmark.lit/2003/12/13/atom03?a=1&amp;b=2'/>\
         <id>tag:denmark.lit,2003:entry-{i}</id><published>2003-12-13T18:30:02Z</published>\
         <updated>2003-12-13T18:30:02Z</updated></entry></item></items></event></message>",
        publisher = jid(rng),
        title = sentence(rng, 8),
        summary = sentence(rng, 20),
    )
}

/// The top-level elements (and keepalives) of the corpus, without header.
pub fn stanzas(count: u64, seed: u64) -> Vec<String> {
    let mut rng = Rng::new(seed);
    (0..count)
        .map(|i| match rng.below(100) {
            0..40 => chat(&mut rng, i),
            40..65 => presence(&mut rng),
            65..70 => roster(&mut rng, i),
            70..75 => disco(&mut rng, i),
            75..90 => pubsub_event(&mut rng, i),
            _ => " ".to_owned(),
        })
        .collect()
}

/// A whole stream: header, `count` top-level items, stream close.
pub fn stream(count: u64, seed: u64) -> Vec<u8> {
    let mut s = HEADER.to_owned();
    for stanza in stanzas(count, seed) {
        s.push_str(&stanza);
    }
    s.push_str("</stream:stream>");
    s.into_bytes()
}
