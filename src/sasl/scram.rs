//! The SCRAM message grammar (RFC 5802 section 7), shared by the client and
//! the server: saslname escaping, nonces, attributes, GS2 headers and the
//! four messages.
//!
//! Every parser here takes hostile input: nothing indexes, nothing panics,
//! and every refusal says which field was wrong.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::SaslError;
use super::mechanism::{ChannelBindingType, Gs2Flag};

/// The smallest iteration count a client accepts by default (RFC 7677
/// section 4: "at least 4096").
pub const MIN_ITERATIONS: u32 = 4096;

/// The largest iteration count a client accepts by default. A hostile server
/// could otherwise make the client spin on PBKDF2 for minutes (10 000 000
/// rounds of HMAC-SHA-512 already take seconds).
pub const MAX_ITERATIONS: u32 = 10_000_000;

type R<T> = Result<T, SaslError>;

/// Escapes a name for the `n=` and `a=` attributes (RFC 5802 section 5.1):
/// `=` becomes `=3D` and `,` becomes `=2C`; everything else is kept as is.
pub(crate) fn escape_saslname(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        match c {
            '=' => out.push_str("=3D"),
            ',' => out.push_str("=2C"),
            c => out.push(c),
        }
    }
    out
}

/// Reverses [`escape_saslname`]. A `=` not followed by `2C` or `3D`, an empty
/// name and a NUL are refused (RFC 5802: "the server MUST fail the
/// authentication" on a bad escape).
pub(crate) fn unescape_saslname(value: &str, what: &'static str) -> R<String> {
    if value.is_empty() || value.contains('\0') {
        return Err(SaslError::MalformedMessage(what));
    }
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some((before, after)) = rest.split_once('=') {
        out.push_str(before);
        if let Some(after) = after.strip_prefix("2C") {
            out.push(',');
            rest = after;
        } else if let Some(after) = after.strip_prefix("3D") {
            out.push('=');
            rest = after;
        } else {
            return Err(SaslError::MalformedMessage(what));
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Whether `nonce` is a valid SCRAM nonce: one or more printable ASCII
/// characters other than `,` (RFC 5802 `printable`).
pub(crate) fn is_valid_nonce(nonce: &str) -> bool {
    !nonce.is_empty()
        && nonce
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b',')
}

/// The value of `field` if it is `name=value` (`name` is `"r="`, ...).
fn attr<'a>(field: Option<&'a str>, name: &str, what: &'static str) -> R<&'a str> {
    field
        .and_then(|f| f.strip_prefix(name))
        .ok_or(SaslError::MalformedMessage(what))
}

/// Checks that every remaining field is an extension `x=value` (a single
/// ASCII letter, then `=`). Optional extensions are ignored.
fn extensions<'a>(fields: impl Iterator<Item = &'a str>, what: &'static str) -> R<()> {
    for field in fields {
        let mut bytes = field.bytes();
        match (bytes.next(), bytes.next()) {
            (Some(a), Some(b'=')) if a.is_ascii_alphabetic() => {}
            _ => return Err(SaslError::MalformedMessage(what)),
        }
    }
    Ok(())
}

/// Decodes standard base64 (with padding, RFC 4648 section 4).
pub(crate) fn decode_base64(value: &str, what: &'static str) -> R<Vec<u8>> {
    BASE64
        .decode(value)
        .map_err(|_| SaslError::MalformedMessage(what))
}

/// Encodes standard base64.
pub(crate) fn encode_base64(bytes: &[u8]) -> String {
    BASE64.encode(bytes)
}

/// A message as UTF-8.
pub(crate) fn utf8<'a>(data: &'a [u8], what: &'static str) -> R<&'a str> {
    std::str::from_utf8(data).map_err(|_| SaslError::MalformedMessage(what))
}

/// The GS2 header the client sends: `flag "," ["a=" saslname] ","`.
pub(crate) fn gs2_header(flag: Gs2Flag, authzid: Option<&str>) -> String {
    let mut header = flag.as_header_part();
    header.push(',');
    if let Some(authzid) = authzid {
        header.push_str("a=");
        header.push_str(&escape_saslname(authzid));
    }
    header.push(',');
    header
}

/// A parsed client-first-message.
#[derive(Debug)]
pub(crate) struct ClientFirst<'a> {
    /// The channel binding flag. `p=` with a type this crate does not know
    /// is `Err(())`.
    pub(crate) flag: Result<Gs2Flag, ()>,
    /// The GS2 header exactly as received, including the trailing comma.
    pub(crate) gs2_header: &'a str,
    /// The authorization identity, unescaped.
    pub(crate) authzid: Option<String>,
    /// The user name, unescaped.
    pub(crate) username: String,
    /// The client nonce.
    pub(crate) nonce: &'a str,
    /// client-first-message-bare, as received.
    pub(crate) bare: &'a str,
}

/// Parses a client-first-message.
pub(crate) fn parse_client_first(message: &str) -> R<ClientFirst<'_>> {
    let (flag, rest) = message
        .split_once(',')
        .ok_or(SaslError::MalformedMessage("client-first: no GS2 header"))?;
    let flag = match flag {
        "n" => Ok(Gs2Flag::NotSupported),
        "y" => Ok(Gs2Flag::ClientOnly),
        _ => {
            let name = flag.strip_prefix("p=").ok_or(SaslError::MalformedMessage(
                "client-first: the channel binding flag is not n, y or p=",
            ))?;
            let valid_name = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
            if !valid_name {
                return Err(SaslError::MalformedMessage(
                    "client-first: invalid channel binding type name in p=",
                ));
            }
            name.parse::<ChannelBindingType>()
                .map(Gs2Flag::Used)
                .map_err(|_| ())
        }
    };
    let (authz, bare) = rest.split_once(',').ok_or(SaslError::MalformedMessage(
        "client-first: GS2 header not terminated",
    ))?;
    let authzid = if authz.is_empty() {
        None
    } else {
        let value = authz.strip_prefix("a=").ok_or(SaslError::MalformedMessage(
            "client-first: the second GS2 field is not a=",
        ))?;
        Some(
            unescape_saslname(value, "client-first: invalid a=")
                .map_err(|_| SaslError::InvalidAuthzid)?,
        )
    };
    let header_len = prefix_len(message, bare);
    let gs2_header = message
        .get(..header_len)
        .ok_or(SaslError::MalformedMessage("client-first: GS2 header"))?;

    let mut fields = bare.split(',');
    let first = fields.next();
    if first.is_some_and(|f| f.starts_with("m=")) {
        return Err(SaslError::MalformedMessage(
            "client-first: unsupported mandatory extension m=",
        ));
    }
    let username = unescape_saslname(
        attr(first, "n=", "client-first: missing n= (user name)")?,
        "client-first: invalid user name in n=",
    )?;
    let nonce = attr(fields.next(), "r=", "client-first: missing r= (nonce)")?;
    if !is_valid_nonce(nonce) {
        return Err(SaslError::MalformedMessage(
            "client-first: invalid nonce in r=",
        ));
    }
    extensions(fields, "client-first: invalid extension")?;
    Ok(ClientFirst {
        flag,
        gs2_header,
        authzid,
        username,
        nonce,
        bare,
    })
}

/// The length of the prefix of `message` before `suffix` (a sub-slice).
fn prefix_len(message: &str, suffix: &str) -> usize {
    message.len().saturating_sub(suffix.len())
}

/// A parsed server-first-message.
#[derive(Debug)]
pub(crate) struct ServerFirst<'a> {
    /// The combined nonce.
    pub(crate) nonce: &'a str,
    /// The salt, decoded.
    pub(crate) salt: Vec<u8>,
    /// The iteration count.
    pub(crate) iterations: u32,
}

/// Parses a server-first-message. `e=` surfaces as
/// [`SaslError::ServerError`].
pub(crate) fn parse_server_first(message: &str) -> R<ServerFirst<'_>> {
    let mut fields = message.split(',');
    let first = fields.next();
    if let Some(error) = first.and_then(|f| f.strip_prefix("e=")) {
        return Err(server_error(error));
    }
    if first.is_some_and(|f| f.starts_with("m=")) {
        return Err(SaslError::MalformedMessage(
            "server-first: unsupported mandatory extension m=",
        ));
    }
    let nonce = attr(first, "r=", "server-first: missing r= (nonce)")?;
    if !is_valid_nonce(nonce) {
        return Err(SaslError::MalformedMessage(
            "server-first: invalid nonce in r=",
        ));
    }
    let salt = decode_base64(
        attr(fields.next(), "s=", "server-first: missing s= (salt)")?,
        "server-first: s= is not base64",
    )?;
    if salt.is_empty() {
        return Err(SaslError::MalformedMessage("server-first: empty salt"));
    }
    let iterations = parse_iterations(attr(
        fields.next(),
        "i=",
        "server-first: missing i= (iteration count)",
    )?)?;
    extensions(fields, "server-first: invalid extension")?;
    Ok(ServerFirst {
        nonce,
        salt,
        iterations,
    })
}

/// Parses `i=`: decimal digits only, no sign, no spaces, fits in a u32.
fn parse_iterations(value: &str) -> R<u32> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SaslError::MalformedMessage(
            "server-first: i= is not a decimal number",
        ));
    }
    // Only digits: the only possible error is overflow, which is absurdly
    // many iterations.
    value
        .parse()
        .map_err(|_| SaslError::IterationCountTooHigh(u32::MAX))
}

/// A parsed client-final-message.
#[derive(Debug)]
pub(crate) struct ClientFinal<'a> {
    /// The decoded `c=`: GS2 header and channel binding data.
    pub(crate) channel_binding: Vec<u8>,
    /// The combined nonce.
    pub(crate) nonce: &'a str,
    /// client-final-message-without-proof, as received.
    pub(crate) without_proof: &'a str,
    /// The decoded proof.
    pub(crate) proof: Vec<u8>,
}

/// Parses a client-final-message.
pub(crate) fn parse_client_final(message: &str) -> R<ClientFinal<'_>> {
    let (without_proof, proof) = message
        .rsplit_once(',')
        .ok_or(SaslError::MalformedMessage("client-final: too few fields"))?;
    let proof = decode_base64(
        attr(
            Some(proof),
            "p=",
            "client-final: the last field is not p= (proof)",
        )?,
        "client-final: p= is not base64",
    )?;
    let mut fields = without_proof.split(',');
    let channel_binding = decode_base64(
        attr(
            fields.next(),
            "c=",
            "client-final: missing c= (channel binding)",
        )?,
        "client-final: c= is not base64",
    )?;
    let nonce = attr(fields.next(), "r=", "client-final: missing r= (nonce)")?;
    extensions(fields, "client-final: invalid extension")?;
    Ok(ClientFinal {
        channel_binding,
        nonce,
        without_proof,
        proof,
    })
}

/// Parses a server-final-message into the server signature. `e=` surfaces
/// as [`SaslError::ServerError`].
pub(crate) fn parse_server_final(message: &str) -> R<Vec<u8>> {
    let mut fields = message.split(',');
    let first = fields.next();
    if let Some(error) = first.and_then(|f| f.strip_prefix("e=")) {
        return Err(server_error(error));
    }
    let verifier = decode_base64(
        attr(first, "v=", "server-final: missing v= (server signature)")?,
        "server-final: v= is not base64",
    )?;
    extensions(fields, "server-final: invalid extension")?;
    Ok(verifier)
}

/// The longest server error text kept, in bytes.
const MAX_ERROR_TEXT: usize = 256;

/// [`SaslError::ServerError`] with the peer's text, truncated to a sane
/// length at a character boundary.
fn server_error(text: &str) -> SaslError {
    let mut end = text.len().min(MAX_ERROR_TEXT);
    while !text.is_char_boundary(end) {
        end = end.saturating_sub(1);
    }
    SaslError::ServerError(text.get(..end).unwrap_or_default().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saslname_escaping() {
        assert_eq!(escape_saslname("a=b,c"), "a=3Db=2Cc");
        assert_eq!(escape_saslname("juliet"), "juliet");
        assert_eq!(unescape_saslname("a=3Db=2Cc", "x").unwrap(), "a=b,c");
        assert_eq!(unescape_saslname("=3D=2C", "x").unwrap(), "=,");
        for bad in [
            "", "a=", "a=3", "a=3d", "a=2c", "a=41", "a\0b", "=", "x==3D",
        ] {
            assert!(unescape_saslname(bad, "x").is_err(), "{bad:?}");
        }
        for name in ["", "=", ",", "==,,", "ü=é,", "a=3Db"] {
            if !name.is_empty() {
                assert_eq!(
                    unescape_saslname(&escape_saslname(name), "x").unwrap(),
                    name
                );
            }
        }
    }

    #[test]
    fn nonces() {
        assert!(is_valid_nonce("fyko+d2lbbFgONRv9qkxdawL"));
        assert!(is_valid_nonce("%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"));
        for bad in ["", "a,b", "a b", "é", "a\x7f", "a\0"] {
            assert!(!is_valid_nonce(bad), "{bad:?}");
        }
    }

    #[test]
    fn client_first_parses() {
        let m = "p=tls-exporter,a=adm=2Cin,n=us=3Der,r=abc,x=ext";
        let cf = parse_client_first(m).unwrap();
        assert_eq!(cf.flag, Ok(Gs2Flag::Used(ChannelBindingType::TlsExporter)));
        assert_eq!(cf.gs2_header, "p=tls-exporter,a=adm=2Cin,");
        assert_eq!(cf.authzid.as_deref(), Some("adm,in"));
        assert_eq!(cf.username, "us=er");
        assert_eq!(cf.nonce, "abc");
        assert_eq!(cf.bare, "n=us=3Der,r=abc,x=ext");
        let cf = parse_client_first("p=tls-foo,,n=u,r=a").unwrap();
        assert_eq!(cf.flag, Err(()));
        assert_eq!(cf.gs2_header, "p=tls-foo,,");
    }

    #[test]
    fn iterations() {
        assert_eq!(parse_iterations("4096").unwrap(), 4096);
        assert_eq!(parse_iterations("0").unwrap(), 0);
        assert!(matches!(
            parse_iterations("99999999999"),
            Err(SaslError::IterationCountTooHigh(_))
        ));
        for bad in ["", "-1", "+1", " 1", "1 ", "0x10", "1e3"] {
            assert!(matches!(
                parse_iterations(bad),
                Err(SaslError::MalformedMessage(_))
            ));
        }
    }

    #[test]
    fn server_error_is_truncated_on_char_boundary() {
        let long = "é".repeat(200);
        match server_error(&long) {
            SaslError::ServerError(text) => {
                assert!(text.len() <= MAX_ERROR_TEXT);
                assert!(long.starts_with(&text));
            }
            other => panic!("{other:?}"),
        }
    }
}
