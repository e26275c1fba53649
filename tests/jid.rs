//! Integration tests for `xmpp_kit::jid`: RFC 7622 examples, edge cases,
//! XEP-0106 escaping, and property tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure

use std::collections::HashSet;

use proptest::prelude::*;
use xmpp_kit::jid::{JidPart, MAX_PART_LEN, escape_node, unescape_node};
use xmpp_kit::{BareJid, FullJid, Jid, JidError};

fn jid(s: &str) -> Jid {
    match s.parse() {
        Ok(j) => j,
        Err(e) => panic!("{s:?} should parse, got {e}"),
    }
}

fn err(s: &str) -> JidError {
    match s.parse::<Jid>() {
        Ok(j) => panic!("{s:?} should not parse, got {j}"),
        Err(e) => e,
    }
}

fn parts(j: &Jid) -> (Option<&str>, &str, Option<&str>) {
    (j.node(), j.domain(), j.resource())
}

// ---------------------------------------------------------------------------
// RFC 7622 section 3.5.1: valid examples (table numbers 1 to 15)
// ---------------------------------------------------------------------------

#[test]
fn rfc7622_valid_1_bare() {
    let j = jid("juliet@example.com");
    assert_eq!(parts(&j), (Some("juliet"), "example.com", None));
    assert!(j.is_bare());
    assert_eq!(j.to_string(), "juliet@example.com");
}

#[test]
fn rfc7622_valid_2_full() {
    let j = jid("juliet@example.com/foo");
    assert_eq!(parts(&j), (Some("juliet"), "example.com", Some("foo")));
    assert!(j.is_full());
}

#[test]
fn rfc7622_valid_3_space_in_resource() {
    let j = jid("juliet@example.com/foo bar");
    assert_eq!(j.resource(), Some("foo bar"));
    assert_eq!(j.as_str(), "juliet@example.com/foo bar");
}

#[test]
fn rfc7622_valid_4_at_in_resource() {
    let j = jid("juliet@example.com/foo@bar");
    assert_eq!(parts(&j), (Some("juliet"), "example.com", Some("foo@bar")));
}

#[test]
fn rfc7622_valid_5_escaped_localpart() {
    let j = jid("foo\\20bar@example.com");
    assert_eq!(j.node(), Some("foo\\20bar"));
    assert_eq!(j.as_str(), "foo\\20bar@example.com");
    assert_eq!(j.to_bare().unescaped_node().as_deref(), Some("foo bar"));
}

#[test]
fn rfc7622_valid_6_and_7_fussball_and_sharp_s_differ() {
    let ss = jid("fussball@example.com");
    let sharp = jid("fußball@example.com");
    assert_eq!(ss.node(), Some("fussball"));
    // Lowercasing, not case folding: ß is kept.
    assert_eq!(sharp.node(), Some("fußball"));
    assert_ne!(ss, sharp);
}

#[test]
fn rfc7622_valid_8_pi() {
    assert_eq!(jid("π@example.com").node(), Some("π"));
}

#[test]
fn rfc7622_valid_9_10_11_sigmas() {
    let capital = jid("Σ@example.com/foo");
    let small = jid("σ@example.com/foo");
    let final_sigma = jid("ς@example.com/foo");
    assert_eq!(capital.node(), Some("σ"));
    assert_eq!(capital.as_str(), "σ@example.com/foo");
    assert_eq!(capital, small);
    assert_eq!(final_sigma.node(), Some("ς"));
    assert_ne!(final_sigma, small);
}

#[test]
fn rfc7622_valid_12_symbol_in_resource() {
    assert_eq!(jid("king@example.com/♚").resource(), Some("♚"));
}

#[test]
fn rfc7622_valid_13_domain_only() {
    let j = jid("example.com");
    assert_eq!(parts(&j), (None, "example.com", None));
    assert!(j.to_bare().is_domain());
}

#[test]
fn rfc7622_valid_14_domain_and_resource() {
    let j = jid("example.com/foobar");
    assert_eq!(parts(&j), (None, "example.com", Some("foobar")));
}

#[test]
fn rfc7622_valid_15_at_after_slash_is_resource() {
    let j = jid("a.example.com/b@example.net");
    assert_eq!(parts(&j), (None, "a.example.com", Some("b@example.net")));
}

// ---------------------------------------------------------------------------
// RFC 7622 section 3.5.2: invalid examples (table numbers 16 to 23)
// ---------------------------------------------------------------------------

#[test]
fn rfc7622_invalid_16_quotes_in_localpart() {
    assert_eq!(
        err("\"juliet\"@example.com"),
        JidError::ForbiddenLocalpartChar('"')
    );
}

#[test]
fn rfc7622_invalid_17_space_in_localpart() {
    let e = err("foo bar@example.com");
    assert!(matches!(e, JidError::InvalidLocalpart(_)), "{e:?}");
    assert_eq!(e.part(), JidPart::Local);
    assert!(e.to_string().contains("U+0020"), "{e}");
}

/// Example 18 (`juliet@example.com/ foo`, "leading space in resourcepart")
/// was removed by verified erratum 4560: OpaqueString allows it.
#[test]
fn rfc7622_example_18_removed_by_erratum_4560() {
    let j = jid("juliet@example.com/ foo");
    assert_eq!(j.resource(), Some(" foo"));
}

#[test]
fn rfc7622_invalid_19_empty_localpart_and_resource() {
    assert_eq!(err("@example.com/"), JidError::EmptyLocalpart);
}

#[test]
fn rfc7622_invalid_20_roman_numeral_four() {
    let e = err("henry\u{2163}@example.com");
    assert!(matches!(e, JidError::InvalidLocalpart(_)), "{e:?}");
    assert!(e.to_string().contains("U+2163"), "{e}");
}

#[test]
fn rfc7622_invalid_21_symbol_localpart() {
    let e = err("♚@example.com");
    assert!(matches!(e, JidError::InvalidLocalpart(_)), "{e:?}");
    assert!(e.to_string().contains("U+265A"), "{e}");
}

#[test]
fn rfc7622_invalid_22_no_domain() {
    assert_eq!(err("juliet@"), JidError::EmptyDomain);
}

#[test]
fn rfc7622_invalid_23_resource_without_domain() {
    assert_eq!(err("/foobar"), JidError::EmptyDomain);
}

// ---------------------------------------------------------------------------
// Structure and empty parts
// ---------------------------------------------------------------------------

#[test]
fn empty_and_separator_only_inputs() {
    assert_eq!(err(""), JidError::EmptyDomain);
    assert_eq!(err("@"), JidError::EmptyLocalpart);
    assert_eq!(err("/"), JidError::EmptyDomain);
    assert_eq!(err("@/"), JidError::EmptyLocalpart);
    assert_eq!(err("@example.com"), JidError::EmptyLocalpart);
    assert_eq!(err("user@example.com/"), JidError::EmptyResource);
    assert_eq!(err("example.com/"), JidError::EmptyResource);
    assert_eq!(err("user@/res"), JidError::EmptyDomain);
}

#[test]
fn second_at_goes_into_the_domainpart() {
    let e = err("a@b@c");
    assert!(matches!(e, JidError::InvalidDomain(_)), "{e:?}");
    assert_eq!(e.part(), JidPart::Domain);
    assert!(e.to_string().contains("'@'"), "{e}");
}

#[test]
fn slashes_after_the_first_belong_to_the_resource() {
    let j = jid("juliet@example.com/foo/bar");
    assert_eq!(j.resource(), Some("foo/bar"));
    let j = jid("example.com//x");
    assert_eq!(j.resource(), Some("/x"));
}

#[test]
fn error_messages_name_the_part() {
    assert_eq!(
        JidError::ForbiddenLocalpartChar('@').to_string(),
        "invalid JID localpart: contains forbidden character '@'"
    );
    assert!(err("juliet@").to_string().contains("domainpart"));
    assert!(err("a@b/").to_string().contains("resourcepart"));
    assert_eq!(err("a@b/").part(), JidPart::Resource);
}

#[test]
fn forbidden_localpart_characters() {
    for c in ['"', '&', '\'', '/', ':', '<', '>'] {
        let raw = format!("a{c}b");
        let e = BareJid::new(Some(&raw), "example.com").unwrap_err();
        assert_eq!(e, JidError::ForbiddenLocalpartChar(c), "{raw}");
    }
    assert_eq!(
        BareJid::new(Some("a@b"), "example.com").unwrap_err(),
        JidError::ForbiddenLocalpartChar('@')
    );
    // A full-width '＠' is width-mapped to '@' and then rejected.
    assert_eq!(
        err("a\u{FF20}b@example.com"),
        JidError::ForbiddenLocalpartChar('@')
    );
    assert_eq!(
        err("d'artagnan@example.com"),
        JidError::ForbiddenLocalpartChar('\'')
    );
}

// ---------------------------------------------------------------------------
// Normalization and equality
// ---------------------------------------------------------------------------

#[test]
fn equality_after_normalization() {
    assert_eq!(jid("Juliet@EXAMPLE.com"), jid("juliet@example.com"));
    assert_eq!(
        jid("JULIET@EXAMPLE.COM/Balcony"),
        jid("juliet@example.com/Balcony")
    );
    // Resource case is preserved and significant.
    assert_ne!(
        jid("juliet@example.com/Balcony"),
        jid("juliet@example.com/balcony")
    );
    let mut set = HashSet::new();
    set.insert(jid("Juliet@Example.com"));
    assert!(set.contains(&jid("juliet@example.com")));
}

#[test]
fn module_doc_example() {
    let j: Jid = "Juliet@Example.com/Balcony".parse().unwrap();
    assert_eq!(j.to_string(), "juliet@example.com/Balcony");
}

#[test]
fn localpart_width_mapping() {
    // Full-width letters are mapped to ASCII, then lowercased.
    assert_eq!(jid("\u{FF2A}uliet@example.com").node(), Some("juliet"));
}

#[test]
fn localpart_compatibility_characters_rejected() {
    // U+FB01 LATIN SMALL LIGATURE FI has a compatibility decomposition.
    assert!(matches!(
        err("\u{FB01}le@example.com"),
        JidError::InvalidLocalpart(_)
    ));
    // ...but it is fine in the resourcepart (FreeformClass).
    assert_eq!(jid("a@example.com/\u{FB01}").resource(), Some("\u{FB01}"));
}

#[test]
fn resource_is_nfc_normalized() {
    let decomposed = jid("juliet@example.com/caf\u{0065}\u{0301}");
    let composed = jid("juliet@example.com/caf\u{00E9}");
    assert_eq!(decomposed.resource(), Some("caf\u{00E9}"));
    assert_eq!(decomposed, composed);
}

#[test]
fn resource_maps_non_ascii_spaces() {
    assert_eq!(jid("a@example.com/x\u{3000}y").resource(), Some("x y"));
    assert_eq!(jid("a@example.com/x\u{00A0}y").resource(), Some("x y"));
}

#[test]
fn resource_rejects_control_characters() {
    for c in ['\u{0}', '\u{1}', '\t', '\n', '\u{7F}', '\u{85}'] {
        let s = format!("juliet@example.com/foo{c}bar");
        let e = err(&s);
        assert!(matches!(e, JidError::InvalidResource(_)), "{s:?}: {e:?}");
        assert_eq!(e.part(), JidPart::Resource);
    }
}

#[test]
fn localpart_rejects_control_characters() {
    assert!(matches!(
        err("jul\u{1}iet@example.com"),
        JidError::InvalidLocalpart(_)
    ));
}

// ---------------------------------------------------------------------------
// Domainpart
// ---------------------------------------------------------------------------

#[test]
fn domain_is_lowercased() {
    assert_eq!(jid("EXAMPLE.com").domain(), "example.com");
    assert_eq!(jid("user@CaSe-InSeNsItIvE").domain(), "case-insensitive");
}

#[test]
fn domain_trailing_dot_is_stripped_once() {
    assert_eq!(jid("example.com.").as_str(), "example.com");
    assert_eq!(jid("EXAMPLE.COM.").as_str(), "example.com");
    assert_eq!(
        jid("juliet@example.com./res").as_str(),
        "juliet@example.com/res"
    );
    assert_eq!(jid("example.com."), jid("example.com"));
    assert!(matches!(err("example.com.."), JidError::InvalidDomain(_)));
    assert_eq!(err("."), JidError::EmptyDomain);
    assert_eq!(err("a@."), JidError::EmptyDomain);
}

#[test]
fn domain_empty_labels_rejected() {
    for d in [".example.com", "example..com", "a.b..", ".."] {
        let e = err(d);
        assert_eq!(e.part(), JidPart::Domain, "{d}: {e:?}");
    }
}

#[test]
fn domain_idna_u_labels() {
    let a = jid("xn--mnchen-3ya.de");
    let u = jid("MÜNCHEN.de");
    assert_eq!(a.domain(), "münchen.de");
    assert_eq!(u.domain(), "münchen.de");
    assert_eq!(a, u);
    // Ideographic full stop is a label separator.
    assert_eq!(jid("example\u{3002}com").domain(), "example.com");
    // Full-width letters are mapped.
    assert_eq!(jid("\u{FF25}xample.com").domain(), "example.com");
    // Non-transitional processing keeps ß.
    assert_eq!(jid("faß.de").domain(), "faß.de");
}

#[test]
fn domain_invalid_idna_rejected() {
    for d in [
        "xn--zz.com",
        "-example.com",
        "example-.com",
        "a\u{2163}\u{0301}\u{200D}.com",
    ] {
        let e = err(d);
        assert!(matches!(e, JidError::InvalidDomain(_)), "{d}: {e:?}");
    }
}

#[test]
fn domain_rejects_non_hostname_characters() {
    for d in [
        "exa mple.com",
        "example.com ",
        "ex!ample.com",
        "exa*mple.com",
        "ex%ample.com",
        "example.com:5222",
        "exa\u{0}mple.com",
        "\u{FF3F}.com", // FULLWIDTH LOW LINE maps to '_'
    ] {
        let e = err(d);
        assert!(matches!(e, JidError::InvalidDomain(_)), "{d:?}: {e:?}");
    }
}

#[test]
fn domain_underscore_rejected() {
    for d in ["_xmpp.example.com", "ex_ample.com", "user@do_main.com"] {
        let e = err(d);
        assert_eq!(
            e,
            JidError::InvalidDomain("character '_' is not allowed in a domain name".into()),
            "{d}"
        );
    }
}

#[test]
fn domain_ipv4_literal() {
    let j = jid("user@192.168.1.1/res");
    assert_eq!(j.domain(), "192.168.1.1");
    assert_eq!(jid("127.0.0.1").as_str(), "127.0.0.1");
    assert_eq!(jid("127.0.0.1.").as_str(), "127.0.0.1");
}

#[test]
fn domain_numeric_tld_rejected() {
    for d in [
        "256.1.1.1",
        "1.2.3",
        "1.2.3.4.5",
        "123",
        "01.2.3.4",
        "example.123",
    ] {
        let e = err(d);
        assert!(matches!(e, JidError::InvalidDomain(_)), "{d}: {e:?}");
    }
    // Digits elsewhere are fine.
    assert_eq!(jid("123.example").domain(), "123.example");
    assert_eq!(jid("a1.b2c").domain(), "a1.b2c");
}

#[test]
fn domain_ipv6_literal() {
    assert_eq!(jid("[::1]").as_str(), "[::1]");
    assert_eq!(jid("juliet@[::1]/r").domain(), "[::1]");
    assert_eq!(jid("[2001:DB8::1]").domain(), "[2001:db8::1]");
    assert_eq!(jid("[2001:DB8::1]"), jid("[2001:db8::1]"));
    assert_eq!(jid("[::ffff:192.0.2.1]").domain(), "[::ffff:192.0.2.1]");
    assert_eq!(jid("a@[::1]/b/c").resource(), Some("b/c"));
}

#[test]
fn domain_invalid_ip_literals() {
    for d in [
        "[zz]",
        "[]",
        "[::1",
        "::1",
        "[::1]x",
        "[192.168.0.1]",
        "[fe80::1%eth0]",
        "[::1].",
        "x[::1]",
    ] {
        let e = err(d);
        assert!(matches!(e, JidError::InvalidDomain(_)), "{d}: {e:?}");
    }
}

#[test]
fn domain_label_length() {
    let ok = format!("{}.com", "a".repeat(63));
    assert_eq!(jid(&ok).domain(), ok);
    let e = err(&format!("{}.com", "a".repeat(64)));
    assert!(matches!(e, JidError::InvalidDomain(_)), "{e:?}");
    // A U-label whose A-label form exceeds 63 bytes.
    let long_u = "ü".repeat(60);
    assert!(matches!(
        err(&format!("{long_u}.com")),
        JidError::InvalidDomain(_)
    ));
}

// ---------------------------------------------------------------------------
// Length boundaries (1023 bytes per part after normalization)
// ---------------------------------------------------------------------------

#[test]
fn localpart_length_boundary_ascii() {
    let ok = "a".repeat(MAX_PART_LEN);
    assert_eq!(jid(&format!("{ok}@example.com")).node(), Some(ok.as_str()));
    let long = "a".repeat(MAX_PART_LEN + 1);
    assert_eq!(
        err(&format!("{long}@example.com")),
        JidError::LocalpartTooLong { len: 1024 }
    );
}

#[test]
fn localpart_length_boundary_multibyte() {
    // π is two bytes.
    let ok = format!("{}a", "π".repeat(511));
    assert_eq!(ok.len(), 1023);
    assert!(format!("{ok}@example.com").parse::<Jid>().is_ok());
    let long = "π".repeat(512);
    assert_eq!(
        err(&format!("{long}@example.com")),
        JidError::LocalpartTooLong { len: 1024 }
    );
    // Length is measured after normalization: 1023 full-width 'Ａ's (3 bytes
    // each) map to 1023 ASCII 'a's.
    let wide = "\u{FF21}".repeat(MAX_PART_LEN);
    assert_eq!(
        jid(&format!("{wide}@example.com")).node().map(str::len),
        Some(1023)
    );
}

#[test]
fn resource_length_boundary() {
    let ok = "a".repeat(MAX_PART_LEN);
    assert_eq!(
        jid(&format!("x@example.com/{ok}")).resource(),
        Some(ok.as_str())
    );
    let long = "a".repeat(MAX_PART_LEN + 1);
    assert_eq!(
        err(&format!("x@example.com/{long}")),
        JidError::ResourceTooLong { len: 1024 }
    );
    // ♚ is three bytes.
    let ok = "♚".repeat(341);
    assert_eq!(ok.len(), 1023);
    assert!(format!("example.com/{ok}").parse::<Jid>().is_ok());
    let long = "♚".repeat(342);
    assert_eq!(
        err(&format!("example.com/{long}")),
        JidError::ResourceTooLong { len: 1026 }
    );
}

#[test]
fn domain_length_boundary_ascii() {
    let label = "a".repeat(63);
    let ok = vec![label.as_str(); 16].join(".");
    assert_eq!(ok.len(), 1023);
    assert_eq!(jid(&ok).domain(), ok);
    // With a trailing dot it is still 1023 after stripping.
    assert_eq!(jid(&format!("{ok}.")).domain(), ok);
    let mut labels = vec![label.as_str(); 15];
    labels.push("b".repeat(62).leak());
    labels.push("c");
    let long = labels.join(".");
    assert_eq!(long.len(), 1024);
    assert_eq!(err(&long), JidError::DomainTooLong { len: 1024 });
}

#[test]
fn domain_length_boundary_multibyte() {
    // "münchen" is 8 bytes as a U-label.
    let mut labels = vec!["münchen"; 113];
    labels.push("abcdef");
    let ok = labels.join(".");
    assert_eq!(ok.len(), 1023);
    assert_eq!(jid(&ok).domain(), ok);
    labels.pop();
    labels.push("abcdefg");
    let long = labels.join(".");
    assert_eq!(err(&long), JidError::DomainTooLong { len: 1024 });
}

// ---------------------------------------------------------------------------
// Types, constructors and conversions
// ---------------------------------------------------------------------------

#[test]
fn constructors() {
    let b = BareJid::new(Some("Juliet"), "Example.com").unwrap();
    assert_eq!(b.as_str(), "juliet@example.com");
    let d = BareJid::domain_only("Example.com").unwrap();
    assert_eq!(d.as_str(), "example.com");
    assert!(d.is_domain());
    assert_eq!(d.node(), None);
    let f = b.with_resource("Balcony").unwrap();
    assert_eq!(f.as_str(), "juliet@example.com/Balcony");
    assert_eq!(f.resource(), "Balcony");
    assert_eq!(f.bare_str(), "juliet@example.com");
    let f2 = FullJid::new(Some("JULIET"), "example.com", "Balcony").unwrap();
    assert_eq!(f, f2);
    let f3 = d.with_resource("r/s@t").unwrap();
    assert_eq!(f3.as_str(), "example.com/r/s@t");
    assert_eq!(f3.node(), None);
    assert_eq!(f3.domain(), "example.com");
    let j = Jid::from_parts(Some("a"), "b.c", None).unwrap();
    assert!(j.is_bare());

    assert_eq!(
        BareJid::new(Some(""), "example.com").unwrap_err(),
        JidError::EmptyLocalpart
    );
    assert_eq!(BareJid::new(None, "").unwrap_err(), JidError::EmptyDomain);
    assert_eq!(b.with_resource("").unwrap_err(), JidError::EmptyResource);
    assert!(matches!(
        b.with_resource("a\u{0}b").unwrap_err(),
        JidError::InvalidResource(_)
    ));
    // Domain arguments containing separators are rejected, not re-split.
    assert!(matches!(
        BareJid::new(Some("a"), "b/c").unwrap_err(),
        JidError::InvalidDomain(_)
    ));
    assert!(matches!(
        BareJid::new(None, "a@b").unwrap_err(),
        JidError::InvalidDomain(_)
    ));
}

#[test]
fn typed_parsing() {
    let b: BareJid = "Juliet@Example.com".parse().unwrap();
    assert_eq!(b.as_str(), "juliet@example.com");
    assert_eq!(
        "juliet@example.com/r".parse::<BareJid>().unwrap_err(),
        JidError::UnexpectedResource
    );
    let f: FullJid = "juliet@example.com/r".parse().unwrap();
    assert_eq!(f.resource(), "r");
    assert_eq!(
        "juliet@example.com".parse::<FullJid>().unwrap_err(),
        JidError::MissingResource
    );
    assert_eq!(
        "juliet@example.com/".parse::<FullJid>().unwrap_err(),
        JidError::EmptyResource
    );

    let t1 = BareJid::try_from("a@b.c").unwrap();
    let t2 = BareJid::try_from(String::from("A@B.C")).unwrap();
    assert_eq!(t1, t2);
    let t3 = Jid::try_from("a@b.c/d").unwrap();
    let t4 = FullJid::try_from(String::from("a@b.c/d")).unwrap();
    assert_eq!(t3, t4);
    assert_eq!(t4, t3);
    assert!(FullJid::try_from("a@b.c").is_err());
}

#[test]
fn conversions_between_types() {
    let f: FullJid = "juliet@example.com/balcony".parse().unwrap();
    let b = f.to_bare();
    assert_eq!(b.as_str(), "juliet@example.com");
    assert_eq!(f.clone().into_bare(), b);

    let jf: Jid = f.clone().into();
    let jb: Jid = b.clone().into();
    assert_eq!(jf, f);
    assert_eq!(f, jf);
    assert_eq!(jb, b);
    assert_eq!(b, jb);
    assert_ne!(jf, b);
    assert_eq!(jf.to_bare(), b);
    assert_eq!(jf.bare_str(), "juliet@example.com");
    assert_eq!(jb.bare_str(), "juliet@example.com");
    assert_eq!(jf.clone().into_bare(), b);
    assert_eq!(jb.clone().into_bare(), b);
    assert_eq!(jf.as_full(), Some(&f));
    assert_eq!(jb.as_full(), None);

    assert_eq!(FullJid::try_from(jf).unwrap(), f);
    assert_eq!(
        FullJid::try_from(jb).unwrap_err(),
        JidError::MissingResource
    );
}

#[test]
fn display_debug_and_as_ref() {
    let j = jid("Juliet@Example.com/Balcony");
    assert_eq!(format!("{j}"), "juliet@example.com/Balcony");
    assert_eq!(j.as_ref(), "juliet@example.com/Balcony");
    let b = j.to_bare();
    assert_eq!(format!("{b:?}"), "BareJid(\"juliet@example.com\")");
    assert!(format!("{j:?}").contains("juliet@example.com/Balcony"));
}

#[test]
fn ordering_is_by_normalized_string() {
    let mut v = [
        jid("b@x.org"),
        jid("A@x.org/r"),
        jid("x.org"),
        jid("a@x.org"),
    ];
    v.sort();
    let s: Vec<&str> = v.iter().map(Jid::as_str).collect();
    assert_eq!(s, ["a@x.org", "a@x.org/r", "b@x.org", "x.org"]);
}

#[test]
fn display_round_trip_examples() {
    for s in [
        "Juliet@Example.com/Balcony",
        "Σ@EXAMPLE.com/Foo",
        "fußball@example.com",
        "example.com./x",
        "xn--mnchen-3ya.de",
        "[2001:DB8::1]/r",
        "a@example.com/x\u{3000}y",
        "\u{FF2A}@\u{FF25}xample.com/caf\u{0065}\u{0301}",
    ] {
        let j = jid(s);
        let shown = j.to_string();
        let again = jid(&shown);
        assert_eq!(j, again, "{s}");
        assert_eq!(j.as_str(), again.as_str(), "{s}");
    }
}

// ---------------------------------------------------------------------------
// XEP-0106 JID escaping
// ---------------------------------------------------------------------------

/// XEP-0106 section 5.1 example table: (user input, escaped localpart) for
/// the rows where the table agrees with the business rules.
const XEP0106_TABLE: [(&str, &str); 9] = [
    ("space cadet", "space\\20cadet"),
    ("call me \"ishmael\"", "call\\20me\\20\\22ishmael\\22"),
    ("at&t guy", "at\\26t\\20guy"),
    ("d'artagnan", "d\\27artagnan"),
    ("/.fanboy", "\\2f.fanboy"),
    ("::foo::", "\\3a\\3afoo\\3a\\3a"),
    ("<foo>", "\\3cfoo\\3e"),
    ("user@host", "user\\40host"),
    ("c:\\5commas", "c\\3a\\5c5commas"),
];

#[test]
fn xep0106_example_table() {
    for (raw, escaped) in XEP0106_TABLE {
        assert_eq!(escape_node(raw).unwrap(), escaped, "escape {raw:?}");
        assert_eq!(unescape_node(escaped), raw, "unescape {escaped:?}");
        let j = BareJid::new_escaped(raw, "example.com").unwrap();
        assert_eq!(j.as_str(), format!("{escaped}@example.com"));
        assert_eq!(j.unescaped_node().as_deref(), Some(raw));
        assert_eq!(jid(&format!("{escaped}@example.com")).node(), Some(escaped));
    }
}

/// Rows 9 to 11 of the XEP-0106 table escape a backslash that is *not*
/// followed by an escape code, contradicting the XEP's own rule 7 and its
/// "Exceptions" section (`foo\bar` is not modified). `escape_node` follows the
/// rules; the table's escaped forms still unescape to the user input.
#[test]
fn xep0106_backslash_rows() {
    let rows = [
        ("c:\\net", "c\\3a\\5cnet", "c\\3a\\net"),
        ("c:\\\\net", "c\\3a\\5c\\5cnet", "c\\3a\\\\net"),
        (
            "c:\\cool stuff",
            "c\\3a\\5ccool\\20stuff",
            "c\\3a\\cool\\20stuff",
        ),
    ];
    for (raw, table, ours) in rows {
        assert_eq!(unescape_node(table), raw, "table form of {raw:?}");
        assert_eq!(escape_node(raw).unwrap(), ours, "escape {raw:?}");
        assert_eq!(unescape_node(ours), raw, "our form of {raw:?}");
        assert!(BareJid::new(Some(table), "example.com").is_ok());
        assert!(BareJid::new_escaped(raw, "example.com").is_ok());
    }
}

#[test]
fn xep0106_exceptions_are_not_modified() {
    for s in ["\\2plus\\2is\\4", "foo\\bar", "foob\\41r"] {
        assert_eq!(escape_node(s).unwrap(), s);
        assert_eq!(unescape_node(s), s);
    }
}

#[test]
fn xep0106_backslash_before_escape_code_is_escaped() {
    // Address transformation example (section 4.2 and 5.5).
    assert_eq!(
        escape_node("\\3and\\2is\\5cool").unwrap(),
        "\\5c3and\\2is\\5c5cool"
    );
    assert_eq!(
        unescape_node("\\5c3and\\2is\\5c5cool"),
        "\\3and\\2is\\5cool"
    );
    assert_eq!(escape_node("\\27").unwrap(), "\\5c27");
    assert_eq!(unescape_node("\\5c27"), "\\27");
    assert_eq!(unescape_node("\\5c5c"), "\\5c");
}

#[test]
fn xep0106_gateway_examples() {
    assert_eq!(
        escape_node("here's_a_wild_&_/cr%zy/_address").unwrap(),
        "here\\27s_a_wild_\\26_\\2fcr%zy\\2f_address"
    );
    assert_eq!(
        escape_node("here's_a_wild_&_/cr%zy/_address_for:<wv>(\"IMPS\")").unwrap(),
        "here\\27s_a_wild_\\26_\\2fcr%zy\\2f_address_for\\3a\\3cwv\\3e(\\22IMPS\\22)"
    );
    assert_eq!(
        unescape_node("tr\u{e9}ville\\40musketeers.lit"),
        "tr\u{e9}ville@musketeers.lit"
    );
}

#[test]
fn xep0106_case_is_significant() {
    assert_eq!(unescape_node("a\\2Fb\\3A"), "a\\2Fb\\3A");
    assert_eq!(escape_node("a\\2Fb").unwrap(), "a\\2Fb");
}

#[test]
fn xep0106_no_leading_or_trailing_space() {
    for s in [" a", "a ", " ", "  a  "] {
        let e = escape_node(s).unwrap_err();
        assert_eq!(e, JidError::EscapeLeadingOrTrailingSpace, "{s:?}");
        assert_eq!(e.part(), JidPart::Local);
        assert_eq!(
            BareJid::new_escaped(s, "example.com").unwrap_err(),
            JidError::EscapeLeadingOrTrailingSpace
        );
    }
    assert_eq!(escape_node("a b").unwrap(), "a\\20b");
    assert_eq!(escape_node("").unwrap(), "");
}

// ---------------------------------------------------------------------------
// Property tests
// ---------------------------------------------------------------------------

/// One JID part built from characters that exercise the parser: separators,
/// case, width and Unicode normalization, IDNA, escapes and controls.
fn jidish_part(max: usize) -> impl Strategy<Value = String> {
    let chars = prop_oneof![
        12 => prop::sample::select(vec!['a', 'b', 'q', 'Z', 'K', '0', '9', '.', '-']),
        4 => prop::sample::select(vec![
            '.', '@', '/', ' ', '\\', '_', '[', ']', ':', '"', '\'',
        ]),
        4 => prop::sample::select(vec![
            'Σ', 'σ', 'ς', 'ß', 'ẞ', 'İ', 'π', '♚', 'Ⅳ', 'ﬁ', 'Ａ', '＠', '／', '。', 'ü',
            '\u{301}', '\u{3000}', '\u{A0}', '\u{AD}', '\u{200D}', '\u{5D0}', '\u{627}',
            '\u{1}', '\u{FF0E}', 'ǅ', '\u{1100}', '\u{1161}', '\u{11A8}',
        ]),
        1 => any::<char>(),
    ];
    prop::collection::vec(chars, 0..max).prop_map(|v| v.into_iter().collect())
}

/// Strings shaped like `[node@]domain[/resource]` from [`jidish_part`]s
/// (the parts may themselves contain separators).
fn jidish() -> impl Strategy<Value = String> {
    (
        proptest::option::of(jidish_part(10)),
        jidish_part(14),
        proptest::option::of(jidish_part(10)),
    )
        .prop_map(|(node, domain, resource)| {
            let mut s = String::new();
            if let Some(n) = node {
                s.push_str(&n);
                s.push('@');
            }
            s.push_str(&domain);
            if let Some(r) = resource {
                s.push('/');
                s.push_str(&r);
            }
            s
        })
}

fn check_idempotent(s: &str) -> Result<(), TestCaseError> {
    if let Ok(j) = s.parse::<Jid>() {
        let shown = j.to_string();
        let again = shown.parse::<Jid>();
        prop_assert!(again.is_ok(), "{s:?} -> {shown:?} -> {again:?}");
        if let Ok(again) = again {
            prop_assert_eq!(&again, &j);
            prop_assert_eq!(again.as_str(), j.as_str());
            prop_assert_eq!(again.node(), j.node());
            prop_assert_eq!(again.domain(), j.domain());
            prop_assert_eq!(again.resource(), j.resource());
        }
        // Accessors agree with the string form.
        let mut rebuilt = String::new();
        if let Some(n) = j.node() {
            rebuilt.push_str(n);
            rebuilt.push('@');
        }
        rebuilt.push_str(j.domain());
        if let Some(r) = j.resource() {
            rebuilt.push('/');
            rebuilt.push_str(r);
        }
        prop_assert_eq!(rebuilt.as_str(), j.as_str());
        let bare = j.to_bare();
        prop_assert_eq!(bare.as_str(), j.bare_str());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn parse_arbitrary_never_panics_and_is_idempotent(s in any::<String>()) {
        check_idempotent(&s)?;
        let _ = s.parse::<BareJid>();
        let _ = s.parse::<FullJid>();
    }

    #[test]
    fn parse_jidish_is_idempotent(s in jidish()) {
        check_idempotent(&s)?;
    }

    #[test]
    fn parse_structured_is_idempotent(
        node in proptest::option::of("[a-zA-Z0-9ßΣς\\\\]{1,8}"),
        domain in "[a-zA-Z0-9ü-]{1,10}(\\.[a-zA-Z0-9-]{1,6}){0,3}\\.?",
        resource in proptest::option::of(".{1,12}"),
    ) {
        let mut s = String::new();
        if let Some(n) = &node {
            s.push_str(n);
            s.push('@');
        }
        s.push_str(&domain);
        if let Some(r) = &resource {
            s.push('/');
            s.push_str(r);
        }
        check_idempotent(&s)?;
    }

    #[test]
    fn escape_round_trip(s in any::<String>()) {
        match escape_node(&s) {
            Ok(escaped) => prop_assert_eq!(unescape_node(&escaped), s.as_str()),
            Err(e) => {
                prop_assert!(s.starts_with(' ') || s.ends_with(' '));
                prop_assert_eq!(e, JidError::EscapeLeadingOrTrailingSpace);
            }
        }
    }

    #[test]
    fn escape_round_trip_backslashy(
        s in "[a-c25\\\\ @'/:<>&\"x]{0,24}"
    ) {
        let trimmed = s.trim_matches(' ');
        let escaped = escape_node(trimmed);
        prop_assert!(escaped.is_ok());
        if let Ok(escaped) = escaped {
            prop_assert_eq!(unescape_node(&escaped), trimmed);
            // The escaped form contains none of the disallowed characters.
            prop_assert!(!escaped.contains(['"', '&', '\'', '/', ':', '<', '>', '@', ' ']));
        }
    }

    #[test]
    fn unescape_never_panics(s in any::<String>()) {
        let _ = unescape_node(&s);
    }
}
