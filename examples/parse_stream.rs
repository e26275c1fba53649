//! Parses an XMPP stream and prints its frames: the stream header, each
//! top-level element, keepalives, the close, or the stream error a server
//! would answer with.
//!
//! ```text
//! cargo run --example parse_stream                  # a built-in sample session
//! cargo run --example parse_stream -- capture.xml   # a stream saved to a file
//! printf '<stream:stream>' | cargo run --example parse_stream -- -
//! ```
//!
//! Input is fed in small chunks, as a socket would deliver it, to show that
//! the framer does not care where the bytes were split.

use std::io::Read;
use std::process::ExitCode;

use bytes::BytesMut;
use xmpp_kit::xml::{Frame, Limits, StreamParser, StreamWriter};

const SAMPLE: &str = "<?xml version='1.0'?>\
<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' \
 to='example.com' version='1.0' xml:lang='en'>\
<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGp1bGlldAByMG0zMG15cjBtMzA=</auth>\
<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' \
 to='example.com' version='1.0'>\
<iq type='set' id='bind-1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>balcony</resource></bind></iq>\
\x20\n\
<message to='romeo@example.net' type='chat' id='m1'>\
<body>Wherefore art thou, Romeo? &lt;3 — Ju&#x6C;iet 🌹</body>\
<active xmlns='http://jabber.org/protocol/chatstates'/></message>\
<presence><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='https://example.com/client' \
 ver='q07IKJEyjvHSyhy//CH0CxmKi8w='/></presence>\
<!-- comments are restricted XML: the stream ends here with a stream error -->";

/// Bytes fed per call, like small socket reads.
const CHUNK: usize = 37;

fn main() -> ExitCode {
    let input = match read_input() {
        Ok(input) => input,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut parser = StreamParser::new(Limits::default());
    let writer = StreamWriter::new();
    for chunk in input.chunks(CHUNK) {
        parser.feed(chunk);
        loop {
            match parser.next_frame() {
                Ok(Some(Frame::Header(header))) => {
                    println!("header    {header:?}");
                }
                Ok(Some(Frame::Element(element))) => {
                    let mut out = BytesMut::new();
                    match writer.write_element(&element, &mut out) {
                        Ok(()) => println!("element   {}", String::from_utf8_lossy(&out)),
                        Err(e) => println!("element   (not writable: {e})"),
                    }
                    // A real client restarts the stream after SASL success;
                    // this sample has the client side, so restart after auth.
                    if element.name() == "auth" || element.name() == "success" {
                        parser.reset();
                        parser.set_authenticated(true);
                        println!("restart   (stream restarted, buffered bytes kept)");
                    }
                }
                Ok(Some(Frame::Keepalive)) => println!("keepalive"),
                Ok(Some(Frame::Close)) => println!("close"),
                Ok(Some(other)) => println!("other     {other:?}"),
                Ok(None) => break,
                Err(e) => {
                    println!("error     {e}");
                    println!(
                        "          -> <stream:error><{} xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>",
                        e.condition()
                    );
                    return ExitCode::SUCCESS;
                }
            }
        }
    }
    if !parser.is_closed() {
        println!("(end of input; the stream is still open)");
    }
    ExitCode::SUCCESS
}

fn read_input() -> std::io::Result<Vec<u8>> {
    match std::env::args().nth(1).as_deref() {
        None => Ok(SAMPLE.as_bytes().to_vec()),
        Some("-") => {
            let mut buf = Vec::new();
            std::io::stdin().read_to_end(&mut buf)?;
            Ok(buf)
        }
        Some(path) => std::fs::read(path),
    }
}
