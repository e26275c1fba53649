//! RFC 6455 WebSocket framing for RFC 7395 (XMPP over WebSocket), sans-IO.
//!
//! [`WebSocket`] sits between the plaintext of the transport (TCP, or what
//! TLS decrypted) and the XMPP stream parser. It owns no socket and reads no
//! clock: bytes in, bytes out.
//!
//! Its methods come in four kinds:
//!
//! * input: [`handle_input`](WebSocket::handle_input) takes bytes read from
//!   the transport, split anywhere;
//! * mutators: [`send`](WebSocket::send) queues XMPP bytes,
//!   [`close`](WebSocket::close) starts the closing handshake;
//! * outputs: [`poll_message`](WebSocket::poll_message) yields each text
//!   message received (one XMPP element, RFC 7395 section 3.3.3),
//!   [`poll_transmit`](WebSocket::poll_transmit) the bytes to write;
//! * getters: [`is_open`](WebSocket::is_open),
//!   [`peer_closed`](WebSocket::peer_closed).
//!
//! After every input or mutation, drain `poll_message` and `poll_transmit`
//! until they return `None`. The codec bounds what a peer can make it hold
//! (one incomplete message of at most [`WsConfig::max_message`] bytes, an
//! HTTP head of at most [`WsConfig::max_handshake`] bytes), but complete
//! messages wait for the caller: a caller that never drains lets them pile up.
//!
//! Errors are sticky: once a call fails, every later `handle_input` and
//! `send` returns the same error. Before failing, the codec queues what tells
//! the peer why (a close frame, or an HTTP error response to a bad upgrade
//! request), so drain `poll_transmit` once more, then close the transport.
//! After [`peer_closed`](WebSocket::peer_closed) the reply close frame is
//! queued too; once it is written the transport can be closed.
//!
//! ```
//! use xmpp_kit::rt::ws::{WebSocket, WsConfig};
//!
//! let mut client = WebSocket::client("example.org", "/xmpp", WsConfig::new(), [1; 32]);
//! let mut server = WebSocket::server(WsConfig::new(), [2; 32]);
//! // Queued now, sent once the upgrade handshake is done.
//! client.send(b"<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='example.org' version='1.0'/>")?;
//! // A real adapter writes to and reads from the transport instead.
//! loop {
//!     let mut moved = false;
//!     while let Some(bytes) = client.poll_transmit() {
//!         server.handle_input(&bytes)?;
//!         moved = true;
//!     }
//!     while let Some(bytes) = server.poll_transmit() {
//!         client.handle_input(&bytes)?;
//!         moved = true;
//!     }
//!     if !moved {
//!         break;
//!     }
//! }
//! assert!(client.is_open() && server.is_open());
//! assert!(server.poll_message().is_some_and(|open| open.starts_with(b"<open ")));
//! # Ok::<(), xmpp_kit::rt::ws::WsError>(())
//! ```

use std::collections::VecDeque;
use std::mem;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::{BufMut, Bytes, BytesMut};
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use sha1::{Digest, Sha1};

/// The WebSocket subprotocol name of XMPP (RFC 7395 section 3.1).
pub const XMPP_PROTOCOL: &str = "xmpp";

/// The GUID appended to the key to compute `Sec-WebSocket-Accept`.
const ACCEPT_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

const OP_CONTINUATION: u8 = 0x0;
const OP_TEXT: u8 = 0x1;
const OP_BINARY: u8 = 0x2;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;
const OP_PONG: u8 = 0xA;

const CLOSE_NORMAL: u16 = 1000;
const CLOSE_PROTOCOL: u16 = 1002;
const CLOSE_UNSUPPORTED: u16 = 1003;
const CLOSE_INVALID_DATA: u16 = 1007;
const CLOSE_TOO_BIG: u16 = 1009;
const CLOSE_INTERNAL: u16 = 1011;

/// Limits of a [`WebSocket`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WsConfig {
    /// The largest message, in bytes, received (after reassembly of
    /// fragments) or sent. Default: 1 MiB.
    pub max_message: usize,
    /// The largest HTTP head of the upgrade handshake, in bytes, up to and
    /// including the blank line. Default: 8 KiB.
    pub max_handshake: usize,
}

impl WsConfig {
    /// The default limits: 1 MiB messages, 8 KiB HTTP head.
    #[must_use]
    pub fn new() -> Self {
        Self {
            max_message: 1 << 20,
            max_handshake: 8 << 10,
        }
    }
}

impl Default for WsConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// Why a [`WebSocket`] failed. Every error is final: the codec returns it
/// again from every later call; drain [`WebSocket::poll_transmit`] (it may
/// hold a close frame or an HTTP error response) and close the transport.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WsError {
    /// The opening handshake failed; the text says what was wrong. A server
    /// has queued an HTTP 400 (or 426) response.
    #[error("WebSocket handshake failed: {0}")]
    Handshake(String),
    /// The peer broke RFC 6455 framing; a close frame (1002, or 1007 for
    /// invalid UTF-8) is queued.
    #[error("WebSocket protocol error: {0}")]
    Protocol(&'static str),
    /// A message of this many bytes (or more) is over
    /// [`WsConfig::max_message`]; a close frame 1009 is queued when the peer
    /// sent it.
    #[error("WebSocket message of {0} bytes is over the limit")]
    MessageTooBig(usize),
    /// The peer sent a binary message, which RFC 7395 does not allow; a close
    /// frame 1003 is queued.
    #[error("WebSocket binary message received; XMPP uses text messages only")]
    NotText,
    /// The bytes given to [`WebSocket::send`] are not a sequence of whole XML
    /// elements; a close frame 1011 is queued.
    #[error("cannot split the XML to send into elements: {0}")]
    Xml(&'static str),
    /// [`WebSocket::send`] after the closing handshake started.
    #[error("WebSocket is closed")]
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Client,
    Server,
}

/// A sans-IO WebSocket endpoint carrying XMPP (RFC 6455, RFC 7395).
///
/// See the [module documentation](self) for the calling contract.
#[derive(Debug)]
pub struct WebSocket {
    config: WsConfig,
    role: Role,
    rng: ChaCha20Rng,
    /// Client: the `Sec-WebSocket-Accept` value the server must answer.
    expected_accept: String,
    /// The HTTP head received so far, until the handshake completes.
    head: Vec<u8>,
    open: bool,
    error: Option<WsError>,
    /// Received frame bytes not yet consumed.
    inbuf: BytesMut,
    /// The fragments of a text message in progress.
    fragments: Option<BytesMut>,
    messages: VecDeque<Bytes>,
    peer_closed: bool,
    close_sent: bool,
    /// [`close`](Self::close) was called before the handshake completed.
    close_wanted: bool,
    /// Elements sent before the handshake completed.
    held: VecDeque<Bytes>,
    transmit: VecDeque<Bytes>,
    splitter: Splitter,
}

impl WebSocket {
    /// Client role: queues the HTTP/1.1 upgrade request (`GET path`, `Host`,
    /// `Upgrade: websocket`, `Connection: Upgrade`, `Sec-WebSocket-Key` of 16
    /// random bytes, `Sec-WebSocket-Version: 13`, `Sec-WebSocket-Protocol:
    /// xmpp`) for [`poll_transmit`](Self::poll_transmit).
    ///
    /// Control characters in `host` and `path` are dropped; an empty `path`
    /// becomes `/`. `seed` seeds the generator of the key and frame masks.
    #[must_use]
    pub fn client(host: &str, path: &str, config: WsConfig, seed: [u8; 32]) -> Self {
        let mut ws = Self::new(Role::Client, config, seed);
        let mut raw_key = [0u8; 16];
        ws.rng.fill_bytes(&mut raw_key);
        let key = BASE64.encode(raw_key);
        ws.expected_accept = accept_key(&key);
        let clean = |s: &str| s.chars().filter(|c| !c.is_control()).collect::<String>();
        let mut path = clean(path);
        if path.is_empty() {
            path.push('/');
        }
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Protocol: {XMPP_PROTOCOL}\r\n\r\n",
            clean(host),
        );
        ws.transmit.push_back(Bytes::from(request));
        ws
    }

    /// Server role: waits for the client's upgrade request. `seed` seeds the
    /// random generator (a server does not mask, so it is barely used).
    #[must_use]
    pub fn server(config: WsConfig, seed: [u8; 32]) -> Self {
        Self::new(Role::Server, config, seed)
    }

    fn new(role: Role, config: WsConfig, seed: [u8; 32]) -> Self {
        Self {
            config,
            role,
            rng: ChaCha20Rng::from_seed(seed),
            expected_accept: String::new(),
            head: Vec::new(),
            open: false,
            error: None,
            inbuf: BytesMut::new(),
            fragments: None,
            messages: VecDeque::new(),
            peer_closed: false,
            close_sent: false,
            close_wanted: false,
            held: VecDeque::new(),
            transmit: VecDeque::new(),
            splitter: Splitter::default(),
        }
    }

    /// Takes bytes read from the transport; all of them are consumed.
    ///
    /// Then drain [`poll_message`](Self::poll_message) and
    /// [`poll_transmit`](Self::poll_transmit). Data after the peer's close
    /// frame is ignored.
    ///
    /// # Errors
    ///
    /// A [`WsError`] when the peer broke the handshake or the framing, or
    /// went over a limit. The error is sticky: every later call returns it.
    /// Before failing, the codec queues a close frame (1002, 1003, 1007 or
    /// 1009), or as a server an HTTP 400 (426 for a wrong version) response,
    /// so the peer learns why.
    pub fn handle_input(&mut self, data: &[u8]) -> Result<(), WsError> {
        if let Some(error) = &self.error {
            return Err(error.clone());
        }
        let result = self.input(data);
        if let Err(error) = &result {
            self.error = Some(error.clone());
        }
        result
    }

    /// The payload of the next complete text message received: one XMPP
    /// element per RFC 7395. Drain it after each
    /// [`handle_input`](Self::handle_input): messages wait here until taken.
    #[must_use]
    pub fn poll_message(&mut self) -> Option<Bytes> {
        self.messages.pop_front()
    }

    /// Queues XMPP bytes to send.
    ///
    /// `xml` may hold several whole top-level elements back to back; each
    /// becomes one text message (RFC 7395 section 3.3.3). An element may also
    /// arrive split across calls: its start is kept until it completes.
    /// Whitespace between elements and `<?xml ...?>` declarations are
    /// dropped. Before the handshake completes, elements are held and sent
    /// after it.
    ///
    /// # Errors
    ///
    /// [`WsError::Closed`] once [`close`](Self::close) was called or a close
    /// frame was sent; the sticky error if the codec failed. Bytes that are
    /// not whole elements ([`WsError::Xml`]) or an element over
    /// [`WsConfig::max_message`] ([`WsError::MessageTooBig`]) fail the codec
    /// (sticky) and queue a close frame.
    pub fn send(&mut self, xml: &[u8]) -> Result<(), WsError> {
        if let Some(error) = &self.error {
            return Err(error.clone());
        }
        if self.close_sent || self.close_wanted {
            return Err(WsError::Closed);
        }
        let mut elements = Vec::new();
        let result = self
            .splitter
            .push(xml, self.config.max_message, &mut elements);
        for element in elements {
            if self.open {
                self.queue_frame(OP_TEXT, &element);
            } else {
                self.held.push_back(element);
            }
        }
        if let Err(error) = result {
            let code = match error {
                WsError::MessageTooBig(_) => CLOSE_TOO_BIG,
                _ => CLOSE_INTERNAL,
            };
            let error = self.fail(error, code);
            self.error = Some(error.clone());
            return Err(error);
        }
        Ok(())
    }

    /// The next bytes to write to the transport, in order.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        self.transmit.pop_front()
    }

    /// Whether the opening handshake completed (it stays true after close).
    #[must_use]
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Starts the closing handshake: queues a close frame (1000) after what
    /// is already queued, or after the opening handshake if it is not done.
    /// An element whose end was not given to [`send`](Self::send) is dropped.
    /// Does nothing if a close frame was already sent or the codec failed.
    pub fn close(&mut self) {
        if self.close_sent || self.close_wanted || self.error.is_some() {
            return;
        }
        if self.open {
            self.queue_close(Some(CLOSE_NORMAL));
        } else {
            self.close_wanted = true;
        }
    }

    /// Whether a close frame was received: the peer is done sending. The
    /// reply close frame is queued automatically (unless ours was sent).
    #[must_use]
    pub fn peer_closed(&self) -> bool {
        self.peer_closed
    }

    fn input(&mut self, data: &[u8]) -> Result<(), WsError> {
        if !self.open {
            return if self.handshake_input(data)? {
                self.read_frames()
            } else {
                Ok(())
            };
        }
        if !self.peer_closed {
            self.inbuf.extend_from_slice(data);
        }
        self.read_frames()
    }

    /// Accumulates the HTTP head; true once the handshake completed (the
    /// bytes after the head are then in `inbuf`).
    fn handshake_input(&mut self, data: &[u8]) -> Result<bool, WsError> {
        let max = self.config.max_handshake;
        let old = self.head.len();
        let room = max.saturating_sub(old);
        let (now, later) = data
            .split_at_checked(room.min(data.len()))
            .unwrap_or((data, &[]));
        self.head.extend_from_slice(now);
        let from = old.saturating_sub(3);
        let end = self
            .head
            .get(from..)
            .and_then(|h| h.windows(4).position(|w| w == b"\r\n\r\n"))
            .map(|p| from + p + 4);
        let Some(end) = end else {
            if later.is_empty() && self.head.len() < max {
                return Ok(false);
            }
            let message = format!("HTTP head has no end within the {max}-byte limit");
            return Err(self.refuse(message, false));
        };
        let head = mem::take(&mut self.head);
        let (head, rest) = head.split_at_checked(end).unwrap_or((&head, &[]));
        match self.role {
            Role::Client => {
                check_response(head, &self.expected_accept).map_err(WsError::Handshake)?
            }
            Role::Server => match check_request(head) {
                Ok(accept) => {
                    let response = format!(
                        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                         Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\
                         Sec-WebSocket-Protocol: {XMPP_PROTOCOL}\r\n\r\n"
                    );
                    self.transmit.push_back(Bytes::from(response));
                }
                Err(Refusal { message, version }) => return Err(self.refuse(message, version)),
            },
        }
        self.inbuf.extend_from_slice(rest);
        self.inbuf.extend_from_slice(later);
        self.expected_accept = String::new();
        self.open = true;
        while let Some(element) = self.held.pop_front() {
            self.queue_frame(OP_TEXT, &element);
        }
        if self.close_wanted {
            self.queue_close(Some(CLOSE_NORMAL));
        }
        Ok(true)
    }

    /// Fails the handshake; a server answers 400, or 426 for a bad version.
    fn refuse(&mut self, message: String, version: bool) -> WsError {
        if self.role == Role::Server {
            let response = if version {
                "HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\n\
                 Connection: close\r\nContent-Length: 0\r\n\r\n"
            } else {
                "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
            };
            self.transmit
                .push_back(Bytes::from_static(response.as_bytes()));
        }
        self.head = Vec::new();
        WsError::Handshake(message)
    }

    /// Queues a close frame with `code` (if open) and returns `error`.
    fn fail(&mut self, error: WsError, code: u16) -> WsError {
        if self.open {
            self.queue_close(Some(code));
        }
        error
    }

    fn read_frames(&mut self) -> Result<(), WsError> {
        while !self.peer_closed {
            let header = match self.parse_header() {
                Ok(Some(header)) => header,
                Ok(None) => break,
                Err((error, code)) => return Err(self.fail(error, code)),
            };
            let Some(total) = header.header_len.checked_add(header.len) else {
                return Err(self.fail(WsError::MessageTooBig(usize::MAX), CLOSE_TOO_BIG));
            };
            if self.inbuf.len() < total {
                break;
            }
            let mut payload = self.inbuf.split_to(total).split_off(header.header_len);
            if let Some(mask) = header.mask {
                apply_mask(&mut payload, mask);
            }
            if let Err((error, code)) = self.on_frame(header.fin, header.opcode, payload) {
                return Err(self.fail(error, code));
            }
        }
        if self.peer_closed {
            self.inbuf = BytesMut::new();
        }
        Ok(())
    }

    /// Parses and checks the next frame header, if all of it is there.
    /// Every check that the header allows happens here, before the payload
    /// arrives.
    fn parse_header(&self) -> Result<Option<FrameHeader>, (WsError, u16)> {
        let protocol = |why| Err((WsError::Protocol(why), CLOSE_PROTOCOL));
        let buf = &self.inbuf[..];
        let (Some(&b0), Some(&b1)) = (buf.first(), buf.get(1)) else {
            return Ok(None);
        };
        if b0 & 0x70 != 0 {
            return protocol("reserved bits set, but no extension was negotiated");
        }
        let fin = b0 & 0x80 != 0;
        let opcode = b0 & 0x0F;
        let control = opcode & 0x8 != 0;
        match opcode {
            OP_CONTINUATION if self.fragments.is_none() => {
                return protocol("continuation frame outside a fragmented message");
            }
            OP_TEXT | OP_BINARY if self.fragments.is_some() => {
                return protocol("new message before the fragmented one ended");
            }
            OP_BINARY => return Err((WsError::NotText, CLOSE_UNSUPPORTED)),
            OP_CONTINUATION | OP_TEXT => {}
            OP_CLOSE | OP_PING | OP_PONG if !fin => return protocol("fragmented control frame"),
            OP_CLOSE | OP_PING | OP_PONG => {}
            _ => return protocol("unknown opcode"),
        }
        let masked = b1 & 0x80 != 0;
        match self.role {
            Role::Server if !masked => return protocol("unmasked frame from the client"),
            Role::Client if masked => return protocol("masked frame from the server"),
            _ => {}
        }
        let (len, mut pos) = match b1 & 0x7F {
            126 => match buf.get(2..4).and_then(|b| <[u8; 2]>::try_from(b).ok()) {
                Some(b) => (u64::from(u16::from_be_bytes(b)), 4),
                None => return Ok(None),
            },
            127 => match buf.get(2..10).and_then(|b| <[u8; 8]>::try_from(b).ok()) {
                Some(b) if b[0] & 0x80 != 0 => {
                    return protocol("64-bit length with the top bit set");
                }
                Some(b) => (u64::from_be_bytes(b), 10),
                None => return Ok(None),
            },
            n => (u64::from(n), 2),
        };
        if control && len > 125 {
            return protocol("control frame payload over 125 bytes");
        }
        let so_far = self.fragments.as_ref().map_or(0, BytesMut::len);
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        let total = so_far.saturating_add(len);
        if !control && total > self.config.max_message {
            return Err((WsError::MessageTooBig(total), CLOSE_TOO_BIG));
        }
        let mask = if masked {
            match buf
                .get(pos..pos + 4)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
            {
                Some(mask) => {
                    pos += 4;
                    Some(mask)
                }
                None => return Ok(None),
            }
        } else {
            None
        };
        Ok(Some(FrameHeader {
            fin,
            opcode,
            len,
            header_len: pos,
            mask,
        }))
    }

    fn on_frame(&mut self, fin: bool, opcode: u8, payload: BytesMut) -> Result<(), (WsError, u16)> {
        match opcode {
            OP_TEXT | OP_CONTINUATION => {
                let message = match self.fragments.take() {
                    Some(mut fragments) => {
                        fragments.unsplit(payload);
                        fragments
                    }
                    None => payload,
                };
                if !fin {
                    self.fragments = Some(message);
                } else if std::str::from_utf8(&message).is_err() {
                    let error = WsError::Protocol("text message is not UTF-8");
                    return Err((error, CLOSE_INVALID_DATA));
                } else {
                    self.messages.push_back(message.freeze());
                }
            }
            OP_PING if !self.close_sent => self.queue_frame(OP_PONG, &payload),
            OP_CLOSE => {
                let code = match payload.get(..2) {
                    None if payload.is_empty() => None,
                    None => {
                        let error = WsError::Protocol("close frame with a 1-byte body");
                        return Err((error, CLOSE_PROTOCOL));
                    }
                    Some(&[hi, lo]) => Some(u16::from_be_bytes([hi, lo])),
                    Some(_) => None,
                };
                self.peer_closed = true;
                self.fragments = None;
                if code.is_some_and(|c| !valid_close_code(c)) {
                    let error = WsError::Protocol("invalid close status code");
                    return Err((error, CLOSE_PROTOCOL));
                }
                if payload
                    .get(2..)
                    .is_some_and(|r| std::str::from_utf8(r).is_err())
                {
                    let error = WsError::Protocol("close reason is not UTF-8");
                    return Err((error, CLOSE_INVALID_DATA));
                }
                self.queue_close(code);
            }
            _ => {} // pong, or ping after our close frame
        }
        Ok(())
    }

    /// Queues a close frame echoing `code` (empty body for `None`), once.
    fn queue_close(&mut self, code: Option<u16>) {
        if self.close_sent {
            return;
        }
        self.close_sent = true;
        let body = code.map(u16::to_be_bytes);
        self.queue_frame(OP_CLOSE, body.as_ref().map_or(&[], |b| b.as_slice()));
    }

    /// Queues one final frame; a client masks it with a fresh key.
    fn queue_frame(&mut self, opcode: u8, payload: &[u8]) {
        let len = payload.len();
        let mut out = BytesMut::with_capacity(len + 14);
        out.put_u8(0x80 | opcode);
        let mask_bit = if self.role == Role::Client { 0x80 } else { 0 };
        if let Ok(n) = u8::try_from(len)
            && n < 126
        {
            out.put_u8(mask_bit | n);
        } else if let Ok(n) = u16::try_from(len) {
            out.put_u8(mask_bit | 126);
            out.put_u16(n);
        } else {
            out.put_u8(mask_bit | 127);
            out.put_u64(u64::try_from(len).unwrap_or(u64::MAX));
        }
        if self.role == Role::Client {
            let mask = self.rng.next_u32().to_be_bytes();
            out.put_slice(&mask);
            let start = out.len();
            out.put_slice(payload);
            if let Some(body) = out.get_mut(start..) {
                apply_mask(body, mask);
            }
        } else {
            out.put_slice(payload);
        }
        self.transmit.push_back(out.freeze());
    }
}

/// A parsed frame header.
#[derive(Debug)]
struct FrameHeader {
    fin: bool,
    opcode: u8,
    len: usize,
    header_len: usize,
    mask: Option<[u8; 4]>,
}

fn apply_mask(data: &mut [u8], mask: [u8; 4]) {
    for (byte, m) in data.iter_mut().zip(mask.iter().cycle()) {
        *byte ^= m;
    }
}

/// Close status codes a peer may send (RFC 6455 section 7.4, IANA registry).
fn valid_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key` (RFC 6455 section 4.2.2).
fn accept_key(key: &str) -> String {
    let digest = Sha1::new()
        .chain_update(key.as_bytes())
        .chain_update(ACCEPT_GUID.as_bytes())
        .finalize();
    BASE64.encode(digest.as_slice())
}

/// An HTTP/1.1 head: the start line and the header fields.
struct Head<'a> {
    start: &'a str,
    fields: Vec<(&'a str, &'a str)>,
}

impl<'a> Head<'a> {
    fn parse(raw: &'a [u8]) -> Result<Self, String> {
        let text = std::str::from_utf8(raw).map_err(|_| "HTTP head is not UTF-8".to_owned())?;
        let mut lines = text.split("\r\n");
        let start = lines.next().unwrap_or_default();
        let mut fields = Vec::new();
        for line in lines.filter(|l| !l.is_empty()) {
            if line.starts_with([' ', '\t']) {
                return Err("folded HTTP header lines are not supported".to_owned());
            }
            let Some((name, value)) = line.split_once(':') else {
                return Err(format!("malformed HTTP header line {line:?}"));
            };
            fields.push((name.trim(), value.trim()));
        }
        Ok(Self { start, fields })
    }

    /// All values of a field, joined with ", " as HTTP allows.
    fn value(&self, name: &str) -> Option<String> {
        let values: Vec<&str> = self
            .fields
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|&(_, v)| v)
            .collect();
        (!values.is_empty()).then(|| values.join(", "))
    }

    /// Whether a comma-separated field lists `token` (case-insensitive).
    fn has_token(&self, name: &str, token: &str) -> bool {
        self.value(name)
            .is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    }

    fn check_upgrade(&self) -> Result<(), String> {
        if !self.has_token("upgrade", "websocket") {
            return Err(format!(
                "Upgrade header is {:?}, not websocket",
                self.value("upgrade")
            ));
        }
        if !self.has_token("connection", "upgrade") {
            return Err(format!(
                "Connection header {:?} lacks upgrade",
                self.value("connection")
            ));
        }
        Ok(())
    }
}

/// Checks the server's answer to our upgrade request.
fn check_response(raw: &[u8], expected_accept: &str) -> Result<(), String> {
    let head = Head::parse(raw)?;
    let mut start = head.start.split_ascii_whitespace();
    if start.next() != Some("HTTP/1.1") || start.next() != Some("101") {
        return Err(format!(
            "expected status HTTP/1.1 101, got {:?}",
            head.start
        ));
    }
    head.check_upgrade()?;
    match head.value("sec-websocket-accept") {
        None => return Err("missing Sec-WebSocket-Accept header".to_owned()),
        Some(accept) if accept != expected_accept => {
            return Err(format!(
                "bad Sec-WebSocket-Accept {accept:?}, expected {expected_accept:?}"
            ));
        }
        Some(_) => {}
    }
    match head.value("sec-websocket-protocol") {
        None => {
            return Err(
                "missing Sec-WebSocket-Protocol header (RFC 7395 requires xmpp)".to_owned(),
            );
        }
        Some(protocol) if protocol != XMPP_PROTOCOL => {
            return Err(format!("server chose protocol {protocol:?}, not xmpp"));
        }
        Some(_) => {}
    }
    if head
        .value("sec-websocket-extensions")
        .is_some_and(|e| !e.is_empty())
    {
        return Err("server selected extensions that were not offered".to_owned());
    }
    Ok(())
}

/// Why an upgrade request is refused; `version` selects the 426 answer.
struct Refusal {
    message: String,
    version: bool,
}

impl From<String> for Refusal {
    fn from(message: String) -> Self {
        Self {
            message,
            version: false,
        }
    }
}

/// Checks a client's upgrade request; returns the `Sec-WebSocket-Accept`.
fn check_request(raw: &[u8]) -> Result<String, Refusal> {
    let head = Head::parse(raw)?;
    let start: Vec<&str> = head.start.split_ascii_whitespace().collect();
    if !matches!(start.as_slice(), ["GET", _, "HTTP/1.1"]) {
        return Err(format!("expected a GET HTTP/1.1 request, got {:?}", head.start).into());
    }
    if head.value("host").is_none() {
        return Err("missing Host header".to_owned().into());
    }
    head.check_upgrade()?;
    if head.value("sec-websocket-version").as_deref() != Some("13") {
        let message = format!(
            "Sec-WebSocket-Version is {:?}, not 13",
            head.value("sec-websocket-version")
        );
        return Err(Refusal {
            message,
            version: true,
        });
    }
    let Some(key) = head.value("sec-websocket-key") else {
        return Err("missing Sec-WebSocket-Key header".to_owned().into());
    };
    if BASE64.decode(&key).map(|k| k.len()) != Ok(16) {
        return Err(format!("Sec-WebSocket-Key {key:?} does not decode to 16 bytes").into());
    }
    let offered = head.value("sec-websocket-protocol").unwrap_or_default();
    if !offered.split(',').any(|p| p.trim() == XMPP_PROTOCOL) {
        return Err(
            format!("client did not offer the xmpp subprotocol (offered {offered:?})").into(),
        );
    }
    Ok(accept_key(&key))
}

/// Where the scan of outgoing XML stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Scan {
    /// Between tags: content, or between top-level elements.
    #[default]
    Text,
    /// Just after `<`.
    Lt,
    /// In a start tag.
    StartTag,
    /// In an end tag.
    EndTag,
    /// Just after `<!`.
    Bang,
    /// In a declaration, comment or CDATA section, until this terminator.
    Skip(&'static [u8]),
}

/// Splits the XML our writer produces into top-level elements.
#[derive(Debug, Default)]
struct Splitter {
    scan: Scan,
    depth: usize,
    /// In a start tag: the open quote of an attribute value.
    quote: Option<u8>,
    /// In a start tag: the last byte outside quotes.
    prev: u8,
    /// In `Skip`: how many bytes of the terminator matched.
    matched: usize,
    /// The start of the element in progress (empty between elements).
    tail: Vec<u8>,
}

impl Splitter {
    fn push(&mut self, input: &[u8], max: usize, out: &mut Vec<Bytes>) -> Result<(), WsError> {
        // Where the current element starts in `input`, if one is in progress.
        let mut start = (!self.tail.is_empty()).then_some(0);
        for (i, &b) in input.iter().enumerate() {
            let mut done = false;
            self.scan = match (self.scan, b) {
                (Scan::Text, b'<') => {
                    if self.depth == 0 {
                        start = Some(i);
                    }
                    Scan::Lt
                }
                (Scan::Text, _) if self.depth == 0 && !b.is_ascii_whitespace() => {
                    return Err(WsError::Xml("text outside an element"));
                }
                (Scan::Lt, b'/') if self.depth == 0 => {
                    return Err(WsError::Xml("end tag without start tag"));
                }
                (Scan::Lt, b'/') => Scan::EndTag,
                (Scan::Lt, b'?' | b'!') => {
                    if self.depth == 0 {
                        // Not an element: drop it (RFC 7395 forbids declarations).
                        start = None;
                        self.tail.clear();
                    }
                    self.matched = 0;
                    if b == b'?' {
                        Scan::Skip(b"?>")
                    } else {
                        Scan::Bang
                    }
                }
                (Scan::Lt, _) => {
                    (self.quote, self.prev) = (None, b);
                    Scan::StartTag
                }
                (Scan::Bang, b'-') => Scan::Skip(b"-->"),
                (Scan::Bang, b'[') => Scan::Skip(b"]]>"),
                (Scan::Bang, _) => {
                    return Err(WsError::Xml("document type declarations are not allowed"));
                }
                (Scan::Skip(term), _) => {
                    self.matched = advance(term, self.matched, b);
                    if self.matched == term.len() {
                        Scan::Text
                    } else {
                        Scan::Skip(term)
                    }
                }
                (Scan::StartTag, _) if self.quote.is_some() => {
                    if self.quote == Some(b) {
                        (self.quote, self.prev) = (None, b);
                    }
                    Scan::StartTag
                }
                (Scan::StartTag, b'"' | b'\'') => {
                    (self.quote, self.prev) = (Some(b), b);
                    Scan::StartTag
                }
                (Scan::StartTag, b'>') => {
                    if self.prev == b'/' {
                        done = self.depth == 0;
                    } else {
                        self.depth = self.depth.saturating_add(1);
                    }
                    Scan::Text
                }
                (Scan::StartTag, _) => {
                    self.prev = b;
                    Scan::StartTag
                }
                (Scan::EndTag, b'>') => {
                    self.depth = self.depth.saturating_sub(1);
                    done = self.depth == 0;
                    Scan::Text
                }
                (scan, _) => scan,
            };
            if done {
                let piece = input.get(start.take().unwrap_or(0)..=i);
                self.tail.extend_from_slice(piece.unwrap_or_default());
                if self.tail.len() > max {
                    return Err(WsError::MessageTooBig(self.tail.len()));
                }
                out.push(Bytes::from(mem::take(&mut self.tail)));
            }
        }
        if let Some(s) = start {
            self.tail
                .extend_from_slice(input.get(s..).unwrap_or_default());
            if self.tail.len() > max {
                return Err(WsError::MessageTooBig(self.tail.len()));
            }
        }
        Ok(())
    }
}

/// How much of `term` matches after `b`, given `matched` bytes before it.
fn advance(term: &[u8], matched: usize, b: u8) -> usize {
    // The longest prefix of `term` that is a suffix of `term[..matched] + b`.
    (1..=matched + 1)
        .rev()
        .find(|&k| {
            term.get(k - 1) == Some(&b) && term.get(..k - 1) == term.get(matched + 1 - k..matched)
        })
        .unwrap_or(0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    const OPEN: &[u8] = b"<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='a'/>";
    const FEATURES: &[u8] = b"<stream:features xmlns:stream='x'><a b='>'/></stream:features>";
    const HELLO: &[u8] = b"Hello";

    /// How [`transfer`] cuts the bytes it moves.
    #[derive(Clone, Copy)]
    enum Cut {
        Whole,
        Bytewise,
        /// Pseudo-random chunks of 1 to 40 bytes.
        Random(u64),
    }

    impl Cut {
        fn next(&mut self) -> usize {
            match self {
                Self::Whole => usize::MAX,
                Self::Bytewise => 1,
                Self::Random(state) => {
                    *state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    1 + (*state >> 33) as usize % 40
                }
            }
        }
    }

    fn drain(ws: &mut WebSocket) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(b) = ws.poll_transmit() {
            out.extend_from_slice(&b);
        }
        out
    }

    fn messages(ws: &mut WebSocket) -> Vec<Vec<u8>> {
        std::iter::from_fn(|| ws.poll_message())
            .map(|m| m.to_vec())
            .collect()
    }

    /// Moves what `from` transmits into `to`, cut by `cut`; the byte count.
    fn transfer(from: &mut WebSocket, to: &mut WebSocket, cut: &mut Cut) -> usize {
        let bytes = drain(from);
        let mut rest = &bytes[..];
        while !rest.is_empty() {
            let (chunk, tail) = rest.split_at(cut.next().min(rest.len()));
            to.handle_input(chunk).unwrap();
            rest = tail;
        }
        bytes.len()
    }

    /// Moves bytes both ways until nothing moves.
    fn pump(client: &mut WebSocket, server: &mut WebSocket, cut: &mut Cut) {
        while transfer(client, server, cut) + transfer(server, client, cut) > 0 {}
    }

    fn open_pair() -> (WebSocket, WebSocket) {
        let mut client = WebSocket::client("a", "/ws", WsConfig::new(), [1; 32]);
        let mut server = WebSocket::server(WsConfig::new(), [2; 32]);
        pump(&mut client, &mut server, &mut Cut::Whole);
        assert!(client.is_open() && server.is_open());
        (client, server)
    }

    /// Decodes frames: (first byte, masked, unmasked payload).
    fn frames(mut b: &[u8]) -> Vec<(u8, bool, Vec<u8>)> {
        let mut out = Vec::new();
        while !b.is_empty() {
            let masked = b[1] & 0x80 != 0;
            let (len, mut pos) = match b[1] & 0x7F {
                126 => (u16::from_be_bytes([b[2], b[3]]) as usize, 4),
                127 => (
                    u64::from_be_bytes(b[2..10].try_into().unwrap()) as usize,
                    10,
                ),
                n => (n as usize, 2),
            };
            let mut mask = [0; 4];
            if masked {
                mask.copy_from_slice(&b[pos..pos + 4]);
                pos += 4;
            }
            let mut payload = b[pos..pos + len].to_vec();
            apply_mask(&mut payload, mask);
            out.push((b[0], masked, payload));
            b = &b[pos + len..];
        }
        out
    }

    /// A client whose upgrade request was answered with `response`.
    fn client_answered(response: impl Fn(&str) -> String) -> (WebSocket, Result<(), WsError>) {
        let mut client = WebSocket::client("a", "/", WsConfig::new(), [3; 32]);
        let request = String::from_utf8(drain(&mut client)).unwrap();
        let key = request
            .lines()
            .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
            .unwrap();
        let result = client.handle_input(response(&accept_key(key)).as_bytes());
        (client, result)
    }

    fn request(extra: &str) -> String {
        format!(
            "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{extra}\r\n"
        )
    }

    fn conversation(mut cut: Cut) {
        let mut client = WebSocket::client("example.org", "/xmpp", WsConfig::new(), [1; 32]);
        let mut server = WebSocket::server(WsConfig::new(), [2; 32]);
        // Held until the handshake is done.
        client.send(OPEN).unwrap();
        assert!(!client.is_open());
        pump(&mut client, &mut server, &mut cut);
        assert!(client.is_open() && server.is_open());
        assert_eq!(messages(&mut server), vec![OPEN.to_vec()]);

        let mut reply = OPEN.to_vec();
        reply.extend_from_slice(FEATURES);
        server.send(&reply).unwrap();
        let big = format!("<message><body>{}</body></message>", "x".repeat(70_000));
        let (first, second) = big.as_bytes().split_at(30_000);
        client.send(first).unwrap();
        client.send(second).unwrap();
        client.send(b"<r xmlns='urn:xmpp:sm:3'/>").unwrap();
        pump(&mut client, &mut server, &mut cut);
        assert_eq!(
            messages(&mut client),
            vec![OPEN.to_vec(), FEATURES.to_vec()]
        );
        let want = vec![big.into_bytes(), b"<r xmlns='urn:xmpp:sm:3'/>".to_vec()];
        assert_eq!(messages(&mut server), want);

        server.close();
        pump(&mut client, &mut server, &mut cut);
        assert!(client.peer_closed() && server.peer_closed());
        assert_eq!(client.send(OPEN), Err(WsError::Closed));
    }

    #[test]
    fn pair_whole() {
        conversation(Cut::Whole);
    }

    #[test]
    fn pair_byte_by_byte() {
        conversation(Cut::Bytewise);
    }

    #[test]
    fn pair_random_chunks() {
        for seed in 1..6 {
            conversation(Cut::Random(seed));
        }
    }

    #[test]
    fn accept_key_rfc6455_vector() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        let mut server = WebSocket::server(WsConfig::new(), [0; 32]);
        server
            .handle_input(
                request("Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat, xmpp\r\n")
                    .as_bytes(),
            )
            .unwrap();
        let response = String::from_utf8(drain(&mut server)).unwrap();
        assert!(response.starts_with("HTTP/1.1 101 "));
        assert!(response.contains("\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
        assert!(response.contains("\r\nSec-WebSocket-Protocol: xmpp\r\n"));
    }

    #[test]
    fn rfc_single_frame_unmasked_to_client() {
        let (mut client, _) = open_pair();
        client
            .handle_input(&[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f])
            .unwrap();
        assert_eq!(messages(&mut client), vec![HELLO.to_vec()]);
    }

    #[test]
    fn rfc_single_frame_masked_to_server() {
        let (_, mut server) = open_pair();
        let frame = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        for byte in frame {
            server.handle_input(&[byte]).unwrap();
        }
        assert_eq!(messages(&mut server), vec![HELLO.to_vec()]);
    }

    #[test]
    fn rfc_fragmented_with_interleaved_ping() {
        let (mut client, _) = open_pair();
        client
            .handle_input(&[0x01, 0x03, 0x48, 0x65, 0x6c])
            .unwrap();
        assert!(client.poll_message().is_none());
        client.handle_input(&[0x89, 0x02, b'h', b'i']).unwrap();
        client.handle_input(&[0x80, 0x02, 0x6c, 0x6f]).unwrap();
        assert_eq!(messages(&mut client), vec![HELLO.to_vec()]);
        let sent = frames(&drain(&mut client));
        assert_eq!(sent, vec![(0x8A, true, b"hi".to_vec())]);
    }

    #[test]
    fn rfc_length_encodings() {
        let (mut client, mut server) = open_pair();
        for (size, head) in [
            (125, vec![0x81, 125]),
            (256, vec![0x81, 0x7E, 0x01, 0x00]),
            (65536, vec![0x81, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0]),
        ] {
            let element = format!("<a>{}</a>", "x".repeat(size - 7));
            server.send(element.as_bytes()).unwrap();
            let frame = drain(&mut server);
            assert_eq!(&frame[..head.len()], &head[..]);
            assert_eq!(frame.len(), head.len() + size);
            client.handle_input(&frame).unwrap();
            assert_eq!(messages(&mut client), vec![element.clone().into_bytes()]);
            client.send(element.as_bytes()).unwrap();
            let sent = frames(&drain(&mut client));
            assert_eq!(sent, vec![(0x81, true, element.into_bytes())]);
        }
    }

    #[test]
    fn client_masks_with_fresh_keys() {
        let (mut client, _) = open_pair();
        client.send(b"<a/><a/>").unwrap();
        let one = client.poll_transmit().unwrap();
        let two = client.poll_transmit().unwrap();
        assert_eq!(one[1], 0x80 | 4);
        assert_ne!(one[2..6], two[2..6]);
    }

    #[test]
    fn ping_answered_by_pong() {
        let (mut client, mut server) = open_pair();
        client
            .handle_input(&[0x89, 0x05, b'H', b'e', b'l', b'l', b'o'])
            .unwrap();
        let pong = drain(&mut client);
        assert_eq!(frames(&pong), vec![(0x8A, true, HELLO.to_vec())]);
        // The pong is ignored by the server, and nothing is delivered.
        server.handle_input(&pong).unwrap();
        assert!(server.poll_message().is_none() && server.poll_transmit().is_none());
    }

    #[test]
    fn close_handshake() {
        let (mut client, mut server) = open_pair();
        client.send(b"<presence/>").unwrap();
        client.close();
        assert_eq!(client.send(OPEN), Err(WsError::Closed));
        transfer(&mut client, &mut server, &mut Cut::Whole);
        assert_eq!(messages(&mut server), vec![b"<presence/>".to_vec()]);
        assert!(server.peer_closed() && !client.peer_closed());
        let reply = drain(&mut server);
        assert_eq!(frames(&reply), vec![(0x88, false, vec![0x03, 0xE8])]);
        client.handle_input(&reply).unwrap();
        assert!(client.peer_closed());
        // Nothing more to say, and data after the close frame is ignored.
        assert!(client.poll_transmit().is_none());
        client.handle_input(&[0x81, 0x01, b'x']).unwrap();
        assert!(client.poll_message().is_none());
    }

    #[test]
    fn close_before_open_waits_for_handshake() {
        let mut client = WebSocket::client("a", "/", WsConfig::new(), [1; 32]);
        let mut server = WebSocket::server(WsConfig::new(), [2; 32]);
        client.send(OPEN).unwrap();
        client.close();
        pump(&mut client, &mut server, &mut Cut::Whole);
        assert_eq!(messages(&mut server), vec![OPEN.to_vec()]);
        assert!(server.peer_closed() && client.peer_closed());
    }

    #[test]
    fn splits_elements() {
        let (_, mut server) = open_pair();
        let mut xml = OPEN.to_vec();
        xml.extend_from_slice(FEATURES);
        server.send(&xml).unwrap();
        let sent: Vec<_> = frames(&drain(&mut server))
            .into_iter()
            .map(|f| f.2)
            .collect();
        assert_eq!(sent, vec![OPEN.to_vec(), FEATURES.to_vec()]);

        // Split across calls, with whitespace, a declaration and quotes.
        server
            .send(b"<?xml version='1.0'?>\n<message to=\"x>\" b='/'><bo")
            .unwrap();
        assert!(server.poll_transmit().is_none());
        server
            .send(b"dy>a &lt; b</body><x/></message>  \n<a/")
            .unwrap();
        server.send(b">").unwrap();
        let sent: Vec<_> = frames(&drain(&mut server))
            .into_iter()
            .map(|f| f.2)
            .collect();
        let message = b"<message to=\"x>\" b='/'><body>a &lt; b</body><x/></message>";
        assert_eq!(sent, vec![message.to_vec(), b"<a/>".to_vec()]);
    }

    #[test]
    fn splitter_skips_comments_and_rejects_stray_text() {
        let mut out = Vec::new();
        let mut splitter = Splitter::default();
        splitter
            .push(b"<!-- x --><a><!-- <b> ---></a>", 100, &mut out)
            .unwrap();
        assert_eq!(out, vec![Bytes::from_static(b"<a><!-- <b> ---></a>")]);
        let err = Splitter::default().push(b"oops<a/>", 100, &mut out);
        assert_eq!(err, Err(WsError::Xml("text outside an element")));
        let err = Splitter::default().push(b"<a>xxxxxxxx", 8, &mut out);
        assert_eq!(err, Err(WsError::MessageTooBig(11)));
    }

    #[test]
    fn bad_accept_key() {
        let (_, result) = client_answered(|_| {
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: xmpp\r\n\r\n"
                .to_owned()
        });
        let Err(WsError::Handshake(message)) = result else {
            panic!("{result:?}")
        };
        assert!(message.contains("Sec-WebSocket-Accept"), "{message}");
    }

    #[test]
    fn client_handshake_checks() {
        let ok = |accept: &str| {
            format!(
                "HTTP/1.1 101 OK\r\nupgrade: WebSocket\r\nCONNECTION: keep-alive, upgrade\r\n\
                 Sec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Protocol: xmpp\r\n\r\n"
            )
        };
        let (client, result) = client_answered(ok);
        assert_eq!(result, Ok(()));
        assert!(client.is_open());
        for (from, to, want) in [
            ("101 OK", "403 Forbidden", "403"),
            ("WebSocket", "h2c", "Upgrade"),
            ("keep-alive, upgrade", "close", "Connection"),
            ("Protocol: xmpp", "Protocol: chat", "not xmpp"),
            (
                "\r\n\r\n",
                "\r\nSec-WebSocket-Extensions: x\r\n\r\n",
                "extensions",
            ),
        ] {
            let (client, result) = client_answered(|a| ok(a).replace(from, to));
            let Err(WsError::Handshake(message)) = result else {
                panic!("{result:?}")
            };
            assert!(message.contains(want), "{message}");
            assert!(!client.is_open());
        }
    }

    #[test]
    fn missing_protocol_header() {
        let (_, result) = client_answered(|accept| {
            format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
            )
        });
        let Err(WsError::Handshake(message)) = result else {
            panic!("{result:?}")
        };
        assert!(message.contains("Sec-WebSocket-Protocol"), "{message}");
        // And a server refuses a client that does not offer xmpp.
        let mut server = WebSocket::server(WsConfig::new(), [0; 32]);
        let result = server.handle_input(
            request("Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat\r\n").as_bytes(),
        );
        assert!(matches!(result, Err(WsError::Handshake(m)) if m.contains("xmpp")));
        assert!(drain(&mut server).starts_with(b"HTTP/1.1 400 Bad Request\r\n"));
    }

    #[test]
    fn server_refuses_wrong_version_and_bad_key() {
        let mut server = WebSocket::server(WsConfig::new(), [0; 32]);
        let result = server.handle_input(
            request("Sec-WebSocket-Version: 8\r\nSec-WebSocket-Protocol: xmpp\r\n").as_bytes(),
        );
        assert!(matches!(result, Err(WsError::Handshake(m)) if m.contains("Version")));
        let response = String::from_utf8(drain(&mut server)).unwrap();
        assert!(
            response.starts_with("HTTP/1.1 426 ")
                && response.contains("Sec-WebSocket-Version: 13\r\n")
        );
        let mut server = WebSocket::server(WsConfig::new(), [0; 32]);
        let bad_key = request("Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: xmpp\r\n")
            .replace("dGhlIHNhbXBsZSBub25jZQ==", "c2hvcnQ=");
        assert!(
            matches!(server.handle_input(bad_key.as_bytes()), Err(WsError::Handshake(m)) if m.contains("16 bytes"))
        );
        assert!(drain(&mut server).starts_with(b"HTTP/1.1 400 "));
    }

    #[test]
    fn bytes_after_head_are_frames() {
        let mut server = WebSocket::server(WsConfig::new(), [0; 32]);
        let mut input =
            request("Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: xmpp\r\n").into_bytes();
        input.extend_from_slice(&[
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ]);
        server.handle_input(&input).unwrap();
        assert_eq!(messages(&mut server), vec![HELLO.to_vec()]);
    }

    /// Feeds a frame to one side of an open pair; the error and close frame.
    fn fail_with(to_server: bool, frame: &[u8]) -> (WsError, WebSocket) {
        let (client, server) = open_pair();
        let mut ws = if to_server { server } else { client };
        let error = ws.handle_input(frame).unwrap_err();
        (error, ws)
    }

    fn close_code(ws: &mut WebSocket) -> u16 {
        let sent = frames(&drain(ws));
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].0, 0x88);
        u16::from_be_bytes([sent[0].2[0], sent[0].2[1]])
    }

    #[test]
    fn server_rejects_unmasked_frame() {
        let (error, mut server) = fail_with(true, &[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
        assert!(matches!(error, WsError::Protocol(_)));
        assert_eq!(close_code(&mut server), 1002);
    }

    #[test]
    fn client_rejects_masked_frame() {
        let frame = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let (error, mut client) = fail_with(false, &frame);
        assert!(matches!(error, WsError::Protocol(_)));
        assert_eq!(close_code(&mut client), 1002);
    }

    #[test]
    fn rsv_bits_rejected() {
        let (error, _) = fail_with(false, &[0xC1, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
        assert!(matches!(error, WsError::Protocol(m) if m.contains("reserved")));
    }

    #[test]
    fn bad_control_frames_and_opcodes() {
        for frame in [
            &[0x09, 0x00][..],
            &[0x89, 0x7E, 0x00, 0x7E],
            &[0x83, 0x00],
            &[0x80, 0x00],
            &[0x88, 0x01, 0x03],
            &[0x88, 0x02, 0x03, 0xED],
        ] {
            let (error, _) = fail_with(false, frame);
            assert!(
                matches!(error, WsError::Protocol(_)),
                "{frame:?}: {error:?}"
            );
        }
    }

    #[test]
    fn oversized_declared_length_fails_at_once() {
        let (error, mut client) = fail_with(false, &[0x81, 0x7F, 0, 0, 0, 1, 0, 0, 0, 0]);
        assert_eq!(error, WsError::MessageTooBig(1 << 32));
        assert!(client.inbuf.capacity() < 1 << 16);
        assert_eq!(close_code(&mut client), 1009);
        let (error, _) = fail_with(false, &[0x81, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0]);
        assert!(matches!(error, WsError::Protocol(_)));
        // Fragments count together.
        let mut config = WsConfig::new();
        config.max_message = 4;
        let (mut client, _) = open_pair();
        client.config = config;
        client
            .handle_input(&[0x01, 0x03, b'a', b'b', b'c'])
            .unwrap();
        assert_eq!(
            client.handle_input(&[0x80, 0x02]),
            Err(WsError::MessageTooBig(5))
        );
    }

    #[test]
    fn binary_frame_is_not_text() {
        let (error, mut client) = fail_with(false, &[0x82, 0x01]);
        assert_eq!(error, WsError::NotText);
        assert_eq!(close_code(&mut client), 1003);
    }

    #[test]
    fn invalid_utf8_text() {
        let (error, mut client) = fail_with(false, &[0x81, 0x02, 0xC3, 0x28]);
        assert!(matches!(error, WsError::Protocol(_)));
        assert_eq!(close_code(&mut client), 1007);
    }

    #[test]
    fn handshake_head_over_limit() {
        let mut config = WsConfig::new();
        config.max_handshake = 64;
        let mut server = WebSocket::server(config.clone(), [0; 32]);
        let mut result = Ok(());
        for byte in [b'x'; 100] {
            result = server.handle_input(&[byte]);
            if result.is_err() {
                break;
            }
        }
        assert!(matches!(result, Err(WsError::Handshake(m)) if m.contains("64-byte")));
        assert!(server.head.capacity() <= 128);
        assert!(drain(&mut server).starts_with(b"HTTP/1.1 400 "));
        let mut client = WebSocket::client("a", "/", config, [0; 32]);
        assert!(matches!(
            client.handle_input(&[b'x'; 100]),
            Err(WsError::Handshake(_))
        ));
    }

    #[test]
    fn errors_are_sticky() {
        let (error, mut server) = fail_with(true, &[0x81, 0x00]);
        assert_eq!(close_code(&mut server), 1002);
        let masked_hello = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        assert_eq!(server.handle_input(&masked_hello), Err(error.clone()));
        assert_eq!(server.send(b"<a/>"), Err(error));
        assert!(server.poll_message().is_none() && server.poll_transmit().is_none());
    }
}
