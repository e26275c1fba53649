//! Finding where to connect: SRV lookup and ordering for client connections.
//!
//! The rules, in the order they are applied:
//!
//! 1. **Two services, one list** (XEP-0368 section 3). A client asks for the
//!    SRV records of `_xmpp-client._tcp.<domain>` (connect, then STARTTLS)
//!    and `_xmpps-client._tcp.<domain>` (TLS from the first byte). The
//!    records of both are merged and ordered together, each keeping its
//!    [`Target::direct_tls`] flag, so a server can steer clients to either
//!    kind of port by priority and weight.
//! 2. **Ordering** (RFC 2782, "Usage rules"). Ascending priority. Within one
//!    priority, a weighted random selection: the zero-weight records are put
//!    first in the candidate list, a running sum of the weights is kept, a
//!    random number in `0..=sum` picks the first record whose running sum
//!    is at least that number, and the chosen record is removed; this
//!    repeats until the priority is exhausted. Zero-weight records are thus
//!    rarely first but always present.
//! 3. **"Decidedly not available"** (RFC 2782, RFC 6120 section 3.2.1). An
//!    answer consisting of a lone record whose target is `"."` means the
//!    service is not offered; it contributes no targets. A `"."` record
//!    among others is skipped as well (there is nothing to connect to).
//!    Trailing dots are stripped from target names.
//! 4. **Fallback** (RFC 6120 section 3.2.2). When neither service yields a
//!    record, the client connects to the domain itself on port 5222 with
//!    STARTTLS, resolving it with an ordinary A/AAAA lookup. There is no
//!    fallback when `_xmpp-client` said `"."`: then the STARTTLS service is
//!    decidedly not offered, and without usable direct TLS records the
//!    result is [`ResolveError::ServiceUnavailable`]. A `"."` for
//!    `_xmpps-client` alone does not prevent the fallback, which is a
//!    STARTTLS connection.
//!
//! [`order_srv`] and [`targets`] are pure: they take the answers and the
//! random source as arguments, so they are tested without a network. With
//! the `tokio` feature, [`resolve`] performs the two lookups with
//! hickory-resolver and applies [`targets`].
//!
//! The caller tries the returned [`Target`]s in order until one connects.
//! Per RFC 6120 section 3.2.1 and RFC 7590, the TLS certificate is checked
//! against the XMPP domain, not against an SRV target's host name.

use rand_core::Rng;

/// The port of the RFC 6120 fallback (`xmpp-client`, STARTTLS).
const FALLBACK_PORT: u16 = 5222;

/// One SRV answer record (RFC 2782).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrvRecord {
    /// Lower values are tried first.
    pub priority: u16,
    /// Relative share among the records of one priority.
    pub weight: u16,
    /// The TCP port on the target.
    pub port: u16,
    /// The host name to connect to; `"."` means "service not available".
    pub target: String,
}

impl SrvRecord {
    /// A record; a convenience for tests and hand-made answers.
    pub fn new(priority: u16, weight: u16, port: u16, target: impl Into<String>) -> Self {
        Self {
            priority,
            weight,
            port,
            target: target.into(),
        }
    }
}

/// One place to try, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The host name (or IP address literal) to connect to.
    pub host: String,
    /// The TCP port.
    pub port: u16,
    /// TLS from the first byte (XEP-0368 `_xmpps-client`), else STARTTLS.
    pub direct_tls: bool,
}

/// Why there is nowhere to connect.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// The domain's SRV records say `"."`: it decidedly offers no XMPP
    /// client service (RFC 2782, RFC 6120 section 3.2.1). Retrying will not
    /// help until the domain's DNS changes; do not fall back to port 5222.
    #[error("{0} does not offer XMPP client service (SRV target \".\")")]
    ServiceUnavailable(String),
    /// The name could not be looked up at all, for instance because the
    /// domain is not a valid DNS name. The message is the resolver's.
    #[error("DNS lookup failed: {0}")]
    Lookup(String),
}

/// A target name without its trailing dots; empty for the root `"."`.
fn strip_dots(name: &str) -> &str {
    name.trim_end_matches('.')
}

/// Whether an answer is the lone `"."` record of RFC 2782.
fn is_unavailable(records: &[SrvRecord]) -> bool {
    matches!(records, [only] if strip_dots(&only.target).is_empty())
}

/// A record that can be tried, with what the ordering needs.
struct Candidate {
    priority: u16,
    weight: u16,
    target: Target,
}

/// A uniformly distributed number in `0..=max`.
///
/// A 64-bit draw reduced modulo `max + 1`; `max` is at most a sum of
/// 65 536 `u16` weights in practice, so the bias is below 2^-32.
fn random_inclusive(rng: &mut impl Rng, max: u64) -> u64 {
    match max.checked_add(1) {
        Some(span) => rng.next_u64() % span,
        None => rng.next_u64(),
    }
}

/// Orders the records of `_xmpp-client._tcp` (STARTTLS) and
/// `_xmpps-client._tcp` (direct TLS), merged into one list, by RFC 2782.
///
/// Ascending priority; within one priority, the RFC's weighted random
/// selection (zero-weight records placed first in the candidate list, a
/// random number in `0..=sum` of the weights selects by running sum),
/// repeated until the priority is exhausted. A lone record whose target is
/// `"."` means "service not available" for that service and contributes
/// nothing; so does any other record whose target is `"."`. Trailing dots
/// are stripped from target names.
///
/// Deterministic for a given `rng` state: tests pass a seeded generator.
pub fn order_srv(
    starttls: &[SrvRecord],
    direct_tls: &[SrvRecord],
    rng: &mut impl Rng,
) -> Vec<Target> {
    let tagged = starttls
        .iter()
        .map(|r| (r, false))
        .chain(direct_tls.iter().map(|r| (r, true)));
    let mut pool: Vec<Candidate> = tagged
        .filter_map(|(record, direct_tls)| {
            let host = strip_dots(&record.target);
            (!host.is_empty()).then(|| Candidate {
                priority: record.priority,
                weight: record.weight,
                target: Target {
                    host: host.to_owned(),
                    port: record.port,
                    direct_tls,
                },
            })
        })
        .collect();
    // Stable: records of one priority keep their answer order, STARTTLS
    // before direct TLS, which is the order when all weights are zero.
    pool.sort_by_key(|c| c.priority);

    let mut ordered = Vec::with_capacity(pool.len());
    let mut rest = pool.into_iter().peekable();
    while let Some(first) = rest.next() {
        let priority = first.priority;
        let mut group = vec![first];
        while let Some(next) = rest.next_if(|c| c.priority == priority) {
            group.push(next);
        }
        select_weighted(group, rng, &mut ordered);
    }
    ordered
}

/// RFC 2782's weighted selection over the records of one priority,
/// appending them to `out` in the selected order.
fn select_weighted(group: Vec<Candidate>, rng: &mut impl Rng, out: &mut Vec<Target>) {
    // Zero-weight records first, each part in its original order.
    let (mut candidates, weighted): (Vec<Candidate>, Vec<Candidate>) =
        group.into_iter().partition(|c| c.weight == 0);
    candidates.extend(weighted);

    while !candidates.is_empty() {
        let sum: u64 = candidates.iter().map(|c| u64::from(c.weight)).sum();
        let pick = random_inclusive(rng, sum);
        let mut running = 0u64;
        let index = candidates
            .iter()
            .position(|c| {
                running += u64::from(c.weight);
                running >= pick
            })
            // The final running sum is `sum >= pick`, so a record is always
            // found; the last one is a safe answer regardless.
            .unwrap_or(candidates.len() - 1);
        out.push(candidates.remove(index).target);
    }
}

/// The targets for a domain given the two SRV answers, with the RFC 6120
/// fallback.
///
/// `None` (or an empty answer) means the lookup found no records or failed.
/// When neither service yields a usable record, the result is the domain
/// itself on port 5222 with STARTTLS, unless `_xmpp-client` answered with a
/// lone `"."`: then the STARTTLS service is decidedly not offered and the
/// result is [`ResolveError::ServiceUnavailable`] (see the module docs).
pub fn targets(
    domain: &str,
    starttls: Option<&[SrvRecord]>,
    direct_tls: Option<&[SrvRecord]>,
    rng: &mut impl Rng,
) -> Result<Vec<Target>, ResolveError> {
    let starttls = starttls.unwrap_or_default();
    let direct_tls = direct_tls.unwrap_or_default();
    let ordered = order_srv(starttls, direct_tls, rng);
    if !ordered.is_empty() {
        return Ok(ordered);
    }
    let domain = strip_dots(domain);
    if is_unavailable(starttls) {
        return Err(ResolveError::ServiceUnavailable(domain.to_owned()));
    }
    Ok(vec![fallback(domain)])
}

/// The RFC 6120 section 3.2.2 fallback: the domain itself, port 5222,
/// STARTTLS. An IPv6 literal loses its brackets, so the host can be
/// parsed as an address.
fn fallback(domain: &str) -> Target {
    let host = domain
        .strip_prefix('[')
        .and_then(|d| d.strip_suffix(']'))
        .unwrap_or(domain);
    Target {
        host: host.to_owned(),
        port: FALLBACK_PORT,
        direct_tls: false,
    }
}

/// Whether a domain is an IP address literal (`192.0.2.1`, `[2001:db8::1]`),
/// for which SRV lookups are meaningless.
#[cfg(feature = "tokio")]
fn is_ip_literal(domain: &str) -> bool {
    let host = fallback(domain).host;
    host.parse::<std::net::IpAddr>().is_ok()
}

/// Looks up both SRV names with hickory-resolver and returns [`targets`].
///
/// The two lookups run concurrently with the system resolver configuration
/// (`/etc/resolv.conf` on Unix, the registry on Windows); when it cannot be
/// read, a name server on the local host is asked, as the C library does.
///
/// A "no records" or NXDOMAIN answer counts as `None` for that service.
/// Any other resolver error (a timeout, no reachable name server) counts as
/// `None` too: when both lookups fail, the result is still the RFC 6120
/// fallback, and the A/AAAA lookup of the TCP connect reports the real
/// problem; the same holds when no resolver can be built. An IP address
/// literal skips the lookups and goes straight to the fallback.
/// [`ResolveError::Lookup`] is returned when the domain is not a valid DNS
/// name.
///
/// `seed` seeds the RFC 2782 weighted ordering; pass fresh OS randomness.
#[cfg(feature = "tokio")]
pub async fn resolve(domain: &str, seed: [u8; 32]) -> Result<Vec<Target>, ResolveError> {
    use hickory_resolver::proto::rr::Name;
    use rand_core::SeedableRng;

    let mut rng = rand_chacha::ChaCha20Rng::from_seed(seed);
    let bare = strip_dots(domain);
    if is_ip_literal(bare) {
        return targets(bare, None, None, &mut rng);
    }
    // Fully qualified: no search-list expansion.
    let name = |service: &str| {
        Name::from_utf8(format!("{service}._tcp.{bare}."))
            .map_err(|e| ResolveError::Lookup(format!("{bare}: {e}")))
    };
    let starttls_name = name("_xmpp-client")?;
    let direct_tls_name = name("_xmpps-client")?;

    let Some(resolver) = system::resolver() else {
        return targets(bare, None, None, &mut rng);
    };
    let (starttls, direct_tls) = futures::future::join(
        system::srv(&resolver, starttls_name),
        system::srv(&resolver, direct_tls_name),
    )
    .await;
    targets(bare, starttls.as_deref(), direct_tls.as_deref(), &mut rng)
}

/// The hickory-resolver side of [`resolve`].
#[cfg(feature = "tokio")]
mod system {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    use hickory_resolver::TokioResolver;
    use hickory_resolver::config::{NameServerConfig, ResolverConfig};
    use hickory_resolver::net::runtime::TokioRuntimeProvider;
    use hickory_resolver::proto::rr::{Name, RData};

    use super::SrvRecord;

    /// A resolver from the system configuration, or asking the local host
    /// when that configuration cannot be read. `None` when no resolver can
    /// be built (only a DNS-over-TLS configuration can fail to build).
    pub(super) fn resolver() -> Option<TokioResolver> {
        let builder = TokioResolver::builder_tokio().unwrap_or_else(|_| {
            let local = [
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(Ipv6Addr::LOCALHOST),
            ]
            .into_iter()
            .map(NameServerConfig::udp_and_tcp)
            .collect();
            TokioResolver::builder_with_config(
                ResolverConfig::from_name_servers(local),
                TokioRuntimeProvider::default(),
            )
        });
        builder.build().ok()
    }

    /// The SRV records of `name`, or `None` when there are none or the
    /// lookup failed.
    pub(super) async fn srv(resolver: &TokioResolver, name: Name) -> Option<Vec<SrvRecord>> {
        // No records / NXDOMAIN (`is_no_records_found`, `is_nx_domain`) and
        // other failures are all "no answer" here; see `resolve`.
        let lookup = resolver.srv_lookup(name).await.ok()?;
        let records: Vec<SrvRecord> = lookup
            .answers()
            .iter()
            .filter_map(|record| match &record.data {
                RData::SRV(srv) => Some(SrvRecord {
                    priority: srv.priority,
                    weight: srv.weight,
                    port: srv.port,
                    target: srv.target.to_ascii(),
                }),
                _ => None,
            })
            .collect();
        (!records.is_empty()).then_some(records)
    }
}

/// `host:port` or `[v6]:port`, as the server-address options take it; an
/// unbracketed IPv6 address is ambiguous and refused.
#[cfg_attr(
    not(any(feature = "futures-io", feature = "blocking")),
    allow(dead_code)
)]
pub(crate) fn parse_host_port(address: &str) -> Option<(String, u16)> {
    let (host, port) = address.rsplit_once(':')?;
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.strip_suffix(']')?,
        None if host.contains(':') => return None,
        None => host,
    };
    if host.is_empty() {
        return None;
    }
    Some((host.to_owned(), port.parse().ok()?))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    use super::*;

    fn rng(n: u8) -> ChaCha20Rng {
        ChaCha20Rng::from_seed([n; 32])
    }

    fn srv(priority: u16, weight: u16, port: u16, target: &str) -> SrvRecord {
        SrvRecord::new(priority, weight, port, target)
    }

    fn target(host: &str, port: u16, direct_tls: bool) -> Target {
        Target {
            host: host.to_owned(),
            port,
            direct_tls,
        }
    }

    #[test]
    fn priorities_ascend_across_both_services() {
        let starttls = [
            srv(30, 0, 5222, "c.example."),
            srv(10, 0, 5222, "a.example."),
        ];
        let direct = [srv(20, 0, 5223, "b.example."), srv(5, 0, 443, "z.example.")];
        let got = order_srv(&starttls, &direct, &mut rng(1));
        assert_eq!(
            got,
            vec![
                target("z.example", 443, true),
                target("a.example", 5222, false),
                target("b.example", 5223, true),
                target("c.example", 5222, false),
            ]
        );
    }

    #[test]
    fn direct_tls_flag_follows_each_record_within_a_priority() {
        let starttls = [srv(0, 10, 5222, "x.example")];
        let direct = [srv(0, 10, 5223, "x.example")];
        for seed in 0..20 {
            let got = order_srv(&starttls, &direct, &mut rng(seed));
            assert_eq!(got.len(), 2);
            for t in got {
                assert_eq!(t.direct_tls, t.port == 5223, "{t:?}");
            }
        }
    }

    #[test]
    fn weights_are_honoured_statistically() {
        let starttls = [srv(0, 10, 5222, "light.example")];
        let direct = [srv(0, 90, 5223, "heavy.example")];
        let mut rng = rng(7);
        let draws = 2000;
        let heavy_first = (0..draws)
            .filter(|_| order_srv(&starttls, &direct, &mut rng)[0].host == "heavy.example")
            .count();
        let share = heavy_first as f64 / f64::from(draws);
        assert!((0.85..=0.95).contains(&share), "heavy first {share}");
    }

    #[test]
    fn zero_weight_records_still_appear_and_come_first_sometimes() {
        let records = [
            srv(0, 0, 5222, "zero.example"),
            srv(0, 50, 5222, "fifty.example"),
            srv(0, 50, 5222, "other.example"),
        ];
        let mut rng = rng(3);
        let mut zero_first = 0;
        for _ in 0..2000 {
            let got = order_srv(&records, &[], &mut rng);
            assert_eq!(got.len(), 3);
            assert!(got.iter().any(|t| t.host == "zero.example"));
            if got[0].host == "zero.example" {
                zero_first += 1;
            }
        }
        // Chosen first only when the draw is exactly 0 of 0..=100.
        assert!(zero_first > 0 && zero_first < 100, "{zero_first}");
    }

    #[test]
    fn all_zero_weights_keep_answer_order() {
        let records = [
            srv(0, 0, 1, "one.example"),
            srv(0, 0, 2, "two.example"),
            srv(0, 0, 3, "three.example"),
        ];
        let got = order_srv(&records, &[], &mut rng(9));
        let ports: Vec<u16> = got.iter().map(|t| t.port).collect();
        assert_eq!(ports, [1, 2, 3]);
    }

    #[test]
    fn every_record_appears_exactly_once() {
        let starttls: Vec<SrvRecord> = (0..20u16)
            .map(|i| srv(i % 3, i * 7 % 11, 5000 + i, &format!("s{i}.example")))
            .collect();
        let direct: Vec<SrvRecord> = (0..20u16)
            .map(|i| srv(i % 4, i * 5 % 13, 6000 + i, &format!("d{i}.example")))
            .collect();
        let got = order_srv(&starttls, &direct, &mut rng(11));
        assert_eq!(got.len(), 40);
        let mut ports: Vec<u16> = got.iter().map(|t| t.port).collect();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), 40);
        // Priorities never go down.
        let prio = |t: &Target| {
            starttls
                .iter()
                .chain(&direct)
                .find(|r| r.port == t.port)
                .unwrap()
                .priority
        };
        assert!(got.windows(2).all(|w| prio(&w[0]) <= prio(&w[1])));
    }

    #[test]
    fn deterministic_for_a_fixed_seed() {
        let records: Vec<SrvRecord> = (0..10u16)
            .map(|i| srv(0, 1 + i, 5222, &format!("h{i}.example")))
            .collect();
        let a = order_srv(&records, &records, &mut rng(42));
        let b = order_srv(&records, &records, &mut rng(42));
        assert_eq!(a, b);
        let others: Vec<Vec<Target>> = (0..8)
            .map(|s| order_srv(&records, &records, &mut rng(s)))
            .collect();
        assert!(others.iter().any(|o| *o != a), "seed has no effect");
    }

    #[test]
    fn trailing_dots_are_stripped() {
        let got = order_srv(
            &[srv(0, 0, 5222, "xmpp.example.org.")],
            &[srv(1, 0, 5223, "tls.example.org..")],
            &mut rng(0),
        );
        assert_eq!(
            got,
            vec![
                target("xmpp.example.org", 5222, false),
                target("tls.example.org", 5223, true),
            ]
        );
    }

    #[test]
    fn lone_dot_in_one_service_leaves_the_other() {
        let dot = [srv(0, 0, 0, ".")];
        let direct = [srv(5, 0, 5223, "tls.example")];
        let got = targets("example.org", Some(&dot), Some(&direct), &mut rng(0)).unwrap();
        assert_eq!(got, vec![target("tls.example", 5223, true)]);

        let starttls = [srv(5, 0, 5222, "xmpp.example.")];
        let got = targets("example.org", Some(&starttls), Some(&dot), &mut rng(0)).unwrap();
        assert_eq!(got, vec![target("xmpp.example", 5222, false)]);
    }

    #[test]
    fn both_dot_is_service_unavailable() {
        let dot = [srv(0, 0, 0, ".")];
        assert_eq!(
            targets("example.org.", Some(&dot), Some(&dot), &mut rng(0)),
            Err(ResolveError::ServiceUnavailable("example.org".to_owned()))
        );
        // `_xmpp-client` said ".", `_xmpps-client` has nothing: no
        // STARTTLS fallback either.
        assert_eq!(
            targets("example.org", Some(&dot), None, &mut rng(0)),
            Err(ResolveError::ServiceUnavailable("example.org".to_owned()))
        );
    }

    #[test]
    fn dot_only_for_direct_tls_still_falls_back() {
        let dot = [srv(0, 0, 0, ".")];
        assert_eq!(
            targets("example.org", None, Some(&dot), &mut rng(0)).unwrap(),
            vec![target("example.org", 5222, false)]
        );
    }

    #[test]
    fn dot_among_other_records_is_skipped() {
        let starttls = [srv(0, 0, 0, "."), srv(1, 0, 5222, "xmpp.example")];
        let got = order_srv(&starttls, &[], &mut rng(0));
        assert_eq!(got, vec![target("xmpp.example", 5222, false)]);
    }

    #[test]
    fn no_records_fall_back_to_the_domain() {
        let fallback = vec![target("example.org", 5222, false)];
        assert_eq!(
            targets("example.org", None, None, &mut rng(0)).unwrap(),
            fallback
        );
        assert_eq!(
            targets("example.org.", Some(&[]), Some(&[]), &mut rng(0)).unwrap(),
            fallback
        );
        assert_eq!(
            targets("[2001:db8::1]", None, None, &mut rng(0)).unwrap(),
            vec![target("2001:db8::1", 5222, false)]
        );
    }

    #[test]
    fn records_win_over_fallback() {
        let direct = [srv(0, 0, 443, "tls.example")];
        assert_eq!(
            targets("example.org", None, Some(&direct), &mut rng(0)).unwrap(),
            vec![target("tls.example", 443, true)]
        );
    }

    /// `.invalid` is answered locally by hickory (RFC 6761, NXDOMAIN), so
    /// this needs no network and finishes at once.
    #[cfg(feature = "tokio")]
    #[tokio::test]
    async fn resolve_invalid_tld_falls_back_without_network() {
        let started = std::time::Instant::now();
        let got = resolve("xmpp.invalid", [5; 32]).await;
        assert_eq!(got, Ok(vec![target("xmpp.invalid", 5222, false)]));
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[cfg(feature = "tokio")]
    #[tokio::test]
    async fn resolve_ip_literal_skips_lookups() {
        assert_eq!(
            resolve("192.0.2.7", [0; 32]).await,
            Ok(vec![target("192.0.2.7", 5222, false)])
        );
        assert_eq!(
            resolve("[::1]", [0; 32]).await,
            Ok(vec![target("::1", 5222, false)])
        );
    }

    #[cfg(feature = "tokio")]
    #[tokio::test]
    async fn resolve_rejects_a_name_dns_cannot_carry() {
        let long = "a".repeat(300);
        assert!(matches!(
            resolve(&long, [0; 32]).await,
            Err(ResolveError::Lookup(_))
        ));
    }

    #[test]
    fn host_port() {
        assert_eq!(
            parse_host_port("xmpp.example.org:5222"),
            Some(("xmpp.example.org".to_owned(), 5222))
        );
        assert_eq!(
            parse_host_port("[::1]:5223"),
            Some(("::1".to_owned(), 5223))
        );
        assert_eq!(
            parse_host_port("127.0.0.1:1"),
            Some(("127.0.0.1".to_owned(), 1))
        );
        assert_eq!(parse_host_port("example.org"), None);
        assert_eq!(parse_host_port(":5222"), None);
        assert_eq!(parse_host_port("[]:5222"), None);
        assert_eq!(parse_host_port("::1:5222"), None);
        assert_eq!(parse_host_port("[::1:5222"), None);
        assert_eq!(parse_host_port("example.org:http"), None);
        assert_eq!(parse_host_port("example.org:70000"), None);
    }
}
