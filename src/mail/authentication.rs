//! Whether inbound relay mail really comes from the domain in its `From:`: DKIM, SPF and DMARC
//! checked by Sealpost itself (`verify`, with Stalwart's `mail-auth`), or read from the
//! `Authentication-Results` header of the MTA in front (`trust-mta`), or not at all (`off`).
//!
//! The DNS answers the checks need are kept in [`DnsCache`], shared by every check; tests fill
//! it with the records of their own test keys, so that no query leaves the machine.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use mail_auth::common::parse::TxtRecordParser;
use mail_auth::common::verify::DomainKey;
use mail_auth::dmarc::Dmarc;
use mail_auth::hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts,
};
use mail_auth::spf::Spf;
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{
    AuthenticatedMessage, DkimResult, DmarcResult, MX, MessageAuthenticator, Parameters, RecordSet,
    ResolverCache, SpfResult, Txt,
};

use crate::config::{InboundAuthentication, InboundSettings};

/// One kind of DNS answer, kept until it expires.
pub struct Cache<K, V>(Mutex<HashMap<K, (V, Instant)>>);

impl<K: Hash + Eq, V: Clone> Default for Cache<K, V> {
    fn default() -> Self {
        Self(Mutex::new(HashMap::new()))
    }
}

/// Answers are few and small; past this many, expired ones are swept on insert.
const CACHE_SWEEP_AT: usize = 10_000;

impl<K: Hash + Eq, V: Clone> ResolverCache<K, V> for Cache<K, V> {
    fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.get(key)
            .filter(|(_, until)| *until > Instant::now())
            .map(|(v, _)| v.clone())
    }

    fn remove<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(key).map(|(v, _)| v)
    }

    fn insert(&self, key: K, value: V, valid_until: Instant) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= CACHE_SWEEP_AT {
            let now = Instant::now();
            map.retain(|_, (_, until)| *until > now);
        }
        map.insert(key, (value, valid_until));
    }
}

/// The DNS answers of every check: TXT (DKIM keys, SPF, DMARC), MX, A and AAAA.
#[derive(Default)]
pub struct DnsCache {
    pub txt: Cache<Box<str>, Txt>,
    pub mx: Cache<Box<str>, RecordSet<MX>>,
    pub ipv4: Cache<Box<str>, RecordSet<Ipv4Addr>>,
    pub ipv6: Cache<Box<str>, RecordSet<Ipv6Addr>>,
    pub ptr: Cache<IpAddr, RecordSet<Box<str>>>,
}

fn fqdn(name: &str) -> Box<str> {
    let name = name.trim().to_ascii_lowercase();
    if name.ends_with('.') {
        name.into()
    } else {
        format!("{name}.").into()
    }
}

/// Why a TXT record could not be put in the cache.
#[derive(Debug, thiserror::Error)]
#[error("not a DKIM, SPF or DMARC record: {0}")]
pub struct TxtRecordError(String);

/// Why inbound authentication could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ResolverError {
    #[error("mail.inbound: reading the system's DNS configuration: {0}")]
    SystemConf(String),
    #[error("mail.inbound.nameserver: `{nameserver}` is not IP:PORT ({source})")]
    NotAnAddress {
        nameserver: String,
        source: std::net::AddrParseError,
    },
    #[error("mail.inbound.nameserver: {0}")]
    Resolver(String),
}

impl DnsCache {
    /// Puts a TXT record (`v=DKIM1; …`, `v=spf1 …` or `v=DMARC1; …`) in the cache for a day.
    pub fn add_txt(&self, name: &str, record: &str) -> Result<(), TxtRecordError> {
        let bytes = record.as_bytes();
        let lower = record.trim_start().to_ascii_lowercase();
        let refused = |e: mail_auth::Error| TxtRecordError(e.to_string());
        let txt: Txt = if lower.starts_with("v=spf1") {
            Spf::parse(bytes).map_err(refused)?.into()
        } else if lower.starts_with("v=dmarc1") {
            Dmarc::parse(bytes).map_err(refused)?.into()
        } else {
            DomainKey::parse(bytes).map_err(refused)?.into()
        };
        self.txt.insert(
            fqdn(name),
            txt,
            Instant::now() + Duration::from_secs(86_400),
        );
        Ok(())
    }

    /// Records that `name` has no TXT record, as an NXDOMAIN answer would.
    pub fn add_missing(&self, name: &str) {
        let missing = Txt::Error(mail_auth::Error::Dns(mail_auth::DnsError::RecordNotFound(
            mail_auth::hickory_resolver::proto::op::ResponseCode::NXDomain,
        )));
        self.txt.insert(
            fqdn(name),
            missing,
            Instant::now() + Duration::from_secs(86_400),
        );
    }
}

/// The client that handed the mail over, as the first MTA saw it.
#[derive(Debug, Clone)]
pub struct Client {
    pub ip: IpAddr,
    /// The name it gave in HELO/EHLO.
    pub helo: String,
}

/// What the checks found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// `mail.inbound.authentication = off`.
    Unchecked,
    /// The `From:` domain is authenticated: DKIM or SPF passed for an aligned domain.
    Pass(String),
    /// It is not, or could not be told.
    Fail(String),
}

impl Verdict {
    pub fn passed(&self) -> bool {
        !matches!(self, Verdict::Fail(_))
    }

    /// What was found, for the log and the staff notice (`dmarc=pass (dkim=pass)` …).
    pub fn summary(&self) -> &str {
        match self {
            Verdict::Unchecked => "authentication off",
            Verdict::Pass(s) | Verdict::Fail(s) => s,
        }
    }
}

/// A check's input with [`DnsCache`] attached.
type Cached<'x, P> = Parameters<
    'x,
    P,
    Cache<Box<str>, Txt>,
    Cache<Box<str>, RecordSet<MX>>,
    Cache<Box<str>, RecordSet<Ipv4Addr>>,
    Cache<Box<str>, RecordSet<Ipv6Addr>>,
    Cache<IpAddr, RecordSet<Box<str>>>,
>;

/// Checks the authenticity of inbound mail as configured.
pub struct Authenticator {
    mode: InboundAuthentication,
    authserv_id: String,
    /// The host name Sealpost receives mail as, for SPF's `%{r}` macro.
    host: String,
    resolver: Option<MessageAuthenticator>,
    pub cache: DnsCache,
}

fn domain_of(address: &str) -> &str {
    address
        .trim()
        .trim_matches(['<', '>'])
        .rsplit_once('@')
        .map_or("", |(_, d)| d)
}

/// Relaxed alignment without a DMARC record at hand: the same domain, or one the parent of the
/// other.
fn aligned(a: &str, b: &str) -> bool {
    let (a, b) = (
        a.trim_end_matches('.').to_ascii_lowercase(),
        b.trim_end_matches('.').to_ascii_lowercase(),
    );
    !a.is_empty()
        && !b.is_empty()
        && (a == b || a.ends_with(&format!(".{b}")) || b.ends_with(&format!(".{a}")))
}

impl Authenticator {
    pub fn new(settings: &InboundSettings, host: &str) -> Result<Self, ResolverError> {
        let resolver = match settings.authentication {
            InboundAuthentication::Verify => Some(resolver(settings.nameserver.trim())?),
            _ => None,
        };
        Ok(Self {
            mode: settings.authentication,
            authserv_id: settings.trusted_authserv_id.trim().to_owned(),
            host: host.to_owned(),
            resolver,
            cache: DnsCache::default(),
        })
    }

    pub fn mode(&self) -> InboundAuthentication {
        self.mode
    }

    /// The SPF result for a client and envelope sender, as the policy service asks at `RCPT`.
    pub async fn spf(&self, client: &Client, sender: &str) -> Option<SpfResult> {
        let resolver = self.resolver.as_ref()?;
        if sender.is_empty() {
            return None;
        }
        let params = SpfParameters::verify_mail_from(client.ip, &client.helo, &self.host, sender);
        Some(resolver.verify_spf(self.with_cache(params)).await.result())
    }

    fn with_cache<'x, P>(&'x self, params: P) -> Cached<'x, P> {
        Parameters::new(params)
            .with_txt_cache(&self.cache.txt)
            .with_mx_cache(&self.cache.mx)
            .with_ipv4_cache(&self.cache.ipv4)
            .with_ipv6_cache(&self.cache.ipv6)
            .with_ptr_cache(&self.cache.ptr)
    }

    /// Checks a whole mail. `envelope_from` is the SMTP `MAIL FROM`; `client` the connecting
    /// client when known (the SMTP peer, or what a trusted MTA forwarded).
    pub async fn check(
        &self,
        raw: &[u8],
        envelope_from: Option<&str>,
        client: Option<&Client>,
    ) -> Verdict {
        match self.mode {
            InboundAuthentication::Off => Verdict::Unchecked,
            InboundAuthentication::TrustMta => self.trust_mta(raw),
            InboundAuthentication::Verify => self.verify(raw, envelope_from, client).await,
        }
    }

    async fn verify(
        &self,
        raw: &[u8],
        envelope_from: Option<&str>,
        client: Option<&Client>,
    ) -> Verdict {
        let Some(resolver) = &self.resolver else {
            return Verdict::Fail("no resolver".into());
        };
        let Some(message) = AuthenticatedMessage::parse(raw) else {
            return Verdict::Fail("the mail's header cannot be read".into());
        };
        let from_domain = message
            .from
            .first()
            .map(|f| domain_of(f).to_owned())
            .unwrap_or_default();
        if from_domain.is_empty() {
            return Verdict::Fail("no From: address".into());
        }
        let dkim = resolver.verify_dkim(self.with_cache(&message)).await;
        let sender = envelope_from.unwrap_or_default();
        let mail_from_domain = if sender.is_empty() {
            client.map(|c| c.helo.as_str()).unwrap_or_default()
        } else {
            domain_of(sender)
        };
        let spf = match client {
            Some(c) if !sender.is_empty() => {
                let params = SpfParameters::verify_mail_from(c.ip, &c.helo, &self.host, sender);
                resolver.verify_spf(self.with_cache(params)).await
            }
            Some(c) => {
                let params = SpfParameters::verify_ehlo(c.ip, &c.helo, &self.host);
                resolver.verify_spf(self.with_cache(params)).await
            }
            None => mail_auth::SpfOutput::new(mail_from_domain.to_owned()),
        };
        let dmarc = resolver
            .verify_dmarc(
                self.with_cache(mail_auth::dmarc::verify::DmarcParameters::new(
                    &message,
                    &dkim,
                    mail_from_domain,
                    &spf,
                )),
            )
            .await;
        let dkim_pass: Vec<&str> = dkim
            .iter()
            .filter(|o| o.result() == &DkimResult::Pass)
            .filter_map(|o| o.signature().map(|s| s.d.as_str()))
            .collect();
        let summary = format!(
            "dkim={} spf={} dmarc(dkim={}, spf={})",
            if dkim_pass.is_empty() {
                dkim.first()
                    .map_or("none".to_owned(), |o| o.result().to_string())
            } else {
                format!("pass (d={})", dkim_pass.join(","))
            },
            spf.result(),
            dmarc.dkim_result(),
            dmarc.spf_result(),
        );
        let record_pass =
            dmarc.dkim_result() == &DmarcResult::Pass || dmarc.spf_result() == &DmarcResult::Pass;
        // Without a DMARC record the checks above say nothing about alignment; Sealpost then
        // asks for it itself, since the relay must know that a staff address wrote.
        let own_pass = dmarc.dmarc_record().is_none()
            && (dkim_pass.iter().any(|d| aligned(d, &from_domain))
                || (spf.result() == SpfResult::Pass && aligned(mail_from_domain, &from_domain)));
        if record_pass || own_pass {
            Verdict::Pass(summary)
        } else {
            Verdict::Fail(summary)
        }
    }

    /// The verdict of the MTA in front: the topmost `Authentication-Results` with the
    /// configured authserv-id (an MTA adds its own above those the mail arrived with).
    fn trust_mta(&self, raw: &[u8]) -> Verdict {
        let Some(parsed) = mail_parser::MessageParser::default().parse(raw) else {
            return Verdict::Fail("the mail cannot be parsed".into());
        };
        let from_domain = parsed
            .from()
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .map(|a| domain_of(a).to_owned())
            .unwrap_or_default();
        let header = parsed
            .headers_raw()
            .filter(|(name, _)| name.eq_ignore_ascii_case("Authentication-Results"))
            .map(|(_, value)| value.to_owned())
            .find(|value| {
                authserv_id(value).is_some_and(|id| id.eq_ignore_ascii_case(&self.authserv_id))
            });
        let Some(header) = header else {
            return Verdict::Fail(format!(
                "no Authentication-Results from {}",
                self.authserv_id
            ));
        };
        read_results(&header, &from_domain)
    }
}

fn resolver(nameserver: &str) -> Result<MessageAuthenticator, ResolverError> {
    if nameserver.is_empty() {
        return MessageAuthenticator::new_system_conf()
            .map_err(|e| ResolverError::SystemConf(e.to_string()));
    }
    let addr: SocketAddr = nameserver
        .parse()
        .map_err(|source| ResolverError::NotAnAddress {
            nameserver: nameserver.to_owned(),
            source,
        })?;
    let mut udp = ConnectionConfig::udp();
    udp.port = addr.port();
    let mut tcp = ConnectionConfig::tcp();
    tcp.port = addr.port();
    let config = ResolverConfig::from_name_servers(vec![NameServerConfig::new(
        addr.ip(),
        true,
        vec![udp, tcp],
    )]);
    let mut options = ResolverOpts::default();
    options.timeout = Duration::from_secs(3);
    options.attempts = 1;
    MessageAuthenticator::new(config, options).map_err(|e| ResolverError::Resolver(e.to_string()))
}

/// The authserv-id of an `Authentication-Results` value: its first token.
fn authserv_id(value: &str) -> Option<&str> {
    let head = value.split(';').next()?.trim();
    head.split_whitespace().next()
}

/// Reads `method=result` and `ptype.property=value` pairs of one header value.
fn read_results(value: &str, from_domain: &str) -> Verdict {
    let unfolded: String = value.split_whitespace().collect::<Vec<_>>().join(" ");
    let without_comments = strip_comments(&unfolded);
    let mut dmarc: Option<(String, Option<String>)> = None;
    let mut dkim_pass = Vec::new();
    let mut spf_pass = Vec::new();
    for resinfo in without_comments.split(';').skip(1) {
        let mut words = resinfo.split_whitespace();
        let Some((method, result)) = words.next().and_then(|w| w.split_once('=')) else {
            continue;
        };
        let props: HashMap<String, String> = words
            .filter_map(|w| w.split_once('='))
            .map(|(k, v)| (k.to_ascii_lowercase(), v.trim_matches('"').to_owned()))
            .collect();
        let result = result.to_ascii_lowercase();
        match method.to_ascii_lowercase().as_str() {
            "dmarc" => dmarc = Some((result, props.get("header.from").cloned())),
            "dkim" if result == "pass" => {
                if let Some(d) = props
                    .get("header.d")
                    .cloned()
                    .or_else(|| props.get("header.i").map(|i| domain_of(i).to_owned()))
                {
                    dkim_pass.push(d);
                }
            }
            "spf" if result == "pass" => {
                if let Some(d) = props
                    .get("smtp.mailfrom")
                    .map(|m| {
                        if m.contains('@') {
                            domain_of(m).to_owned()
                        } else {
                            m.clone()
                        }
                    })
                    .or_else(|| props.get("smtp.helo").cloned())
                {
                    spf_pass.push(d);
                }
            }
            _ => {}
        }
    }
    let summary = format!(
        "trusted Authentication-Results: dmarc={} dkim-pass={:?} spf-pass={:?}",
        dmarc.as_ref().map_or("none", |(r, _)| r.as_str()),
        dkim_pass,
        spf_pass
    );
    if let Some((result, header_from)) = &dmarc {
        let same_from = header_from
            .as_ref()
            .is_none_or(|f| f.eq_ignore_ascii_case(from_domain));
        return if result == "pass" && same_from {
            Verdict::Pass(summary)
        } else {
            Verdict::Fail(summary)
        };
    }
    if dkim_pass
        .iter()
        .chain(spf_pass.iter())
        .any(|d| aligned(d, from_domain))
    {
        Verdict::Pass(summary)
    } else {
        Verdict::Fail(summary)
    }
}

fn strip_comments(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut depth = 0usize;
    let mut quoted = false;
    for c in s.chars() {
        match c {
            '"' if depth == 0 => {
                quoted = !quoted;
                out.push(c);
            }
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mtas_dmarc_result_decides_when_it_is_there() {
        assert!(
            read_results(
                "mx.shop.example; dkim=pass header.d=shop.example; dmarc=pass (p=reject) header.from=shop.example",
                "shop.example"
            )
            .passed()
        );
        assert!(
            !read_results(
                "mx.shop.example; spf=pass smtp.mailfrom=evil.example; dmarc=fail header.from=shop.example",
                "shop.example"
            )
            .passed()
        );
    }

    #[test]
    fn without_dmarc_an_aligned_pass_is_needed() {
        assert!(
            read_results(
                "mx; spf=pass smtp.mailfrom=staff@mail.shop.example",
                "shop.example"
            )
            .passed()
        );
        assert!(
            !read_results(
                "mx; dkim=pass header.d=evil.example; spf=fail smtp.mailfrom=shop.example",
                "shop.example"
            )
            .passed()
        );
    }

    #[test]
    fn the_authserv_id_is_the_first_token() {
        assert_eq!(
            authserv_id("mx.shop.example 1; spf=pass"),
            Some("mx.shop.example")
        );
        assert_eq!(
            authserv_id(" mx.shop.example;dkim=pass"),
            Some("mx.shop.example")
        );
    }
}
