//! The paths compared, shared by the criterion benches (`benches/compare.rs`)
//! and the allocation counter (`src/bin/allocs.rs`), so both measure exactly
//! the same code on exactly the same corpus.
//!
//! Every reading path takes the whole corpus (a server-to-client stream:
//! header, 2000 items, close) from memory in chunks of a given size, as a
//! socket would deliver it, and counts what it produced.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../../corpus/mod.rs"]
pub mod corpus;

use std::hint::black_box;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::BytesMut;
use futures::StreamExt;
use rxml::writer::TrackNamespace;
use tokio::io::{AsyncBufRead, AsyncRead, AsyncWrite, ReadBuf};
use tokio_xmpp::xmlstream::{
    self, FallibleStreamElement, ReadError, StreamHeader, Timeouts, XmppStreamElement,
};
use xmpp_kit::stanza::Stanza;
use xmpp_kit::xml::{Frame, StreamNamespace, StreamParser, StreamWriter};
use xso::AsXml;

/// Items in the corpus (stanzas and keepalives).
pub const ITEMS: u64 = 2000;
/// The corpus seed (the same as `benches/framing.rs`).
pub const SEED: u64 = 0x5EED_F00D;
/// The chunk sizes every reading path is fed in.
pub const CHUNKS: [usize; 3] = [1024, 4096, 65536];

/// The corpus: one whole stream.
pub fn corpus() -> Vec<u8> {
    corpus::stream(ITEMS, SEED)
}

// ---- rxml alone and xmpp-kit, reading ----------------------------------------

#[path = "../../reading/mod.rs"]
mod reading;

use reading::limits;
pub use reading::{rxml_events, xmpp_kit_frames, xmpp_kit_stanzas, xmpp_kit_stanzas_parsed};

/// Every `<message/>` of the corpus as an xmpp-kit `Stanza`, read as its
/// connections read them: payloads kept as the bytes they arrived as.
pub fn xmpp_kit_read_messages(data: &[u8]) -> Vec<Stanza> {
    messages_of(data, true)
}

/// Every `<message/>` of the corpus as an xmpp-kit `Stanza` with its
/// payloads as element trees (read through `Frame::Element`).
pub fn xmpp_kit_messages(data: &[u8]) -> Vec<Stanza> {
    messages_of(data, false)
}

fn messages_of(data: &[u8], split: bool) -> Vec<Stanza> {
    let mut parser = StreamParser::new(limits());
    parser.set_authenticated(true);
    parser.set_split_stanzas(split);
    parser.feed(data);
    let mut messages = Vec::new();
    while let Some(frame) = parser.next_frame().expect("corpus parses") {
        let stanza = match frame {
            Frame::Stanza(parts) => Stanza::try_from(parts),
            Frame::Element(element) => Stanza::try_from(element),
            _ => continue,
        };
        if let Ok(stanza @ Stanza::Message(_)) = stanza {
            messages.push(stanza);
        }
    }
    messages
}

/// xmpp-kit, typed messages to bytes, as a connection sends them: each one
/// written into the connection's output `BytesMut`.
pub fn xmpp_kit_write(messages: &[Stanza], writer: &StreamWriter, out: &mut BytesMut) -> usize {
    out.clear();
    for m in messages {
        writer
            .write_stanza(m, StreamNamespace::Client, out)
            .expect("writable");
    }
    out.len()
}

// ---- tokio-xmpp -----------------------------------------------------------

/// An in-memory transport for tokio-xmpp's XML stream: reads come from the
/// corpus, at most `chunk` bytes per `poll_fill_buf`, as a socket would
/// deliver them; writes (tokio-xmpp's own stream header) are dropped.
pub struct ChunkedIo<'a> {
    data: &'a [u8],
    pos: usize,
    chunk: usize,
}

impl<'a> ChunkedIo<'a> {
    pub fn new(data: &'a [u8], chunk: usize) -> Self {
        Self {
            data,
            pos: 0,
            chunk,
        }
    }

    fn available(&self) -> &'a [u8] {
        let end = (self.pos + self.chunk).min(self.data.len());
        &self.data[self.pos..end]
    }
}

impl AsyncRead for ChunkedIo<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let available = self.available();
        let n = available.len().min(buf.remaining());
        buf.put_slice(&available[..n]);
        self.pos += n;
        Poll::Ready(Ok(()))
    }
}

impl AsyncBufRead for ChunkedIo<'_> {
    fn poll_fill_buf(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        Poll::Ready(Ok(this.available()))
    }

    fn consume(mut self: Pin<&mut Self>, amt: usize) {
        self.pos += amt;
    }
}

impl AsyncWrite for ChunkedIo<'_> {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// The runtime tokio-xmpp's stream needs (its read timeouts are tokio
/// timers). Built once, outside the measured loop.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime")
}

/// tokio-xmpp 6, bytes to typed stanzas: the code path of its client. The
/// stream is initiated as a client (`initiate_stream`, which reads the
/// server's header), then read as `FallibleStreamElement`s, the type its
/// `StanzaStream` worker reads, until the stream footer.
pub async fn tokio_xmpp_stanzas_async(data: &[u8], chunk: usize) -> usize {
    let io = ChunkedIo::new(data, chunk);
    let pending = xmlstream::initiate_stream(
        io,
        "jabber:client",
        StreamHeader::default(),
        Timeouts::default(),
    )
    .await
    .expect("header");
    let mut stream = pending.skip_features::<FallibleStreamElement>();
    let mut stanzas = 0;
    loop {
        match stream.next().await {
            Some(Ok(FallibleStreamElement::Ok(XmppStreamElement::Stanza(stanza)))) => {
                black_box(&stanza);
                stanzas += 1;
            }
            Some(Ok(other)) => panic!("unexpected element {other:?}"),
            Some(Err(ReadError::StreamFooterReceived)) | None => break,
            Some(Err(e)) => panic!("tokio-xmpp failed on the corpus: {e}"),
        }
    }
    stanzas
}

/// [`tokio_xmpp_stanzas_async`] on `rt`.
pub fn tokio_xmpp_stanzas(rt: &tokio::runtime::Runtime, data: &[u8], chunk: usize) -> usize {
    rt.block_on(tokio_xmpp_stanzas_async(data, chunk))
}

/// Every `<message/>` of the corpus as an xmpp-parsers `Stanza`, read
/// through tokio-xmpp's stream.
pub fn tokio_xmpp_messages(rt: &tokio::runtime::Runtime, data: &[u8]) -> Vec<XmppStreamElement> {
    rt.block_on(async {
        let io = ChunkedIo::new(data, data.len());
        let pending = xmlstream::initiate_stream(
            io,
            "jabber:client",
            StreamHeader::default(),
            Timeouts::default(),
        )
        .await
        .expect("header");
        let mut stream = pending.skip_features::<XmppStreamElement>();
        let mut messages = Vec::new();
        while let Some(Ok(element)) = stream.next().await {
            if let XmppStreamElement::Stanza(xmpp_parsers::stanza::Stanza::Message(_)) = element {
                messages.push(element);
            }
        }
        messages
    })
}

/// tokio-xmpp's serializer: an rxml `Encoder` set up as its XML stream sets
/// it up (the stream and content namespaces declared, the stream header
/// open), each element's `AsXml` items encoded into a `BytesMut`, as its
/// `RawXmlStream::start_send_xso` does.
pub struct TokioXmppWriter {
    encoder: rxml::writer::Encoder<rxml::writer::SimpleNamespaces>,
}

impl Default for TokioXmppWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl TokioXmppWriter {
    pub fn new() -> Self {
        let mut encoder = rxml::writer::Encoder::new();
        encoder.ns_tracker_mut().declare_fixed(
            Some(rxml::xml_ncname!("stream")),
            "http://etherx.jabber.org/streams".into(),
        );
        encoder
            .ns_tracker_mut()
            .declare_fixed(None, "jabber:client".into());
        let mut header = BytesMut::new();
        for item in [
            rxml::Item::ElementHeadStart(
                rxml::Namespace::from("http://etherx.jabber.org/streams"),
                rxml::xml_ncname!("stream"),
            ),
            rxml::Item::ElementHeadEnd,
        ] {
            encoder
                .encode_into_bytes(item, &mut header)
                .expect("header");
        }
        Self { encoder }
    }

    pub fn write(&mut self, elements: &[XmppStreamElement], out: &mut BytesMut) -> usize {
        out.clear();
        for element in elements {
            for item in element.as_xml_iter().expect("serializable") {
                let item = item.expect("serializable");
                self.encoder
                    .encode_into_bytes(item.as_rxml_item(), out)
                    .expect("encodable");
            }
        }
        out.len()
    }
}

/// How many stanzas (messages, presences, iqs) the corpus holds.
pub fn stanza_count(data: &[u8]) -> usize {
    xmpp_kit_frames(data, data.len())
}

// ---- the floor of a design without payload trees -------------------------

/// What [`lazy_floor`] keeps of a stanza.
#[derive(Debug, Default)]
struct LazyHead {
    to: Option<xmpp_kit::jid::Jid>,
    from: Option<xmpp_kit::jid::Jid>,
    id: Option<String>,
    /// `<body/>`, `<status/>` and the like: text moved out of the tokenizer.
    texts: Vec<String>,
    /// Byte ranges of the payloads within the stanza's bytes.
    payloads: Vec<(u64, u64)>,
    bytes: bytes::Bytes,
}

/// **An experiment, not a product path:** the allocation floor of typed
/// stanzas built straight from rxml `RawParser` events, with the stanza's
/// attributes typed (JIDs parsed, id moved), its simple children's text
/// moved, and each extension payload kept as a byte range of the stanza's
/// bytes (copied once per stanza) instead of an element tree, to be parsed
/// only when asked for. It checks nothing a real framer checks (limits,
/// namespaces); it answers how low the lazy-payload design could go.
pub fn lazy_floor(data: &[u8], chunk: usize) -> usize {
    use rxml::Parse;
    use rxml::parser::RawEvent;
    const SIMPLE: [&str; 6] = ["body", "subject", "thread", "show", "status", "priority"];
    let mut parser = rxml::RawParser::new();
    let mut depth = 0usize;
    let mut pos = 0u64;
    let mut stanza_start = 0u64;
    let mut child_start = 0u64;
    let mut simple = false;
    let mut head = LazyHead::default();
    let mut stanzas = 0;
    for piece in data.chunks(chunk) {
        let mut rest = piece;
        loop {
            let event = match parser.parse(&mut rest, false) {
                Ok(Some(ev)) => ev,
                Err(rxml::error::EndOrError::NeedMoreData) => break,
                other => panic!("corpus failed to parse: {other:?}"),
            };
            let start = pos;
            pos += event.metrics().len() as u64;
            match event {
                RawEvent::ElementHeadOpen(_, (_, local)) => {
                    depth += 1;
                    match depth {
                        2 => stanza_start = start,
                        3 => {
                            child_start = start;
                            simple = SIMPLE.contains(&local.as_str());
                        }
                        _ => {}
                    }
                }
                RawEvent::Attribute(_, (None, local), value) if depth == 2 => {
                    match local.as_str() {
                        "to" => head.to = value.parse().ok(),
                        "from" => head.from = value.parse().ok(),
                        "id" => head.id = Some(value),
                        _ => {}
                    }
                }
                RawEvent::Text(_, text) if depth == 3 && simple => head.texts.push(text),
                RawEvent::ElementFoot(_) => {
                    match depth {
                        3 if !simple => head
                            .payloads
                            .push((child_start - stanza_start, pos - stanza_start)),
                        2 => {
                            let range = stanza_start as usize..pos as usize;
                            head.bytes = bytes::Bytes::copy_from_slice(&data[range]);
                            black_box(std::mem::take(&mut head));
                            stanzas += 1;
                        }
                        _ => {}
                    }
                    depth -= 1;
                }
                _ => {}
            }
        }
    }
    stanzas
}
