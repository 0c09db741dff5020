//! Rules for URLs the platform stores and later sends customers or calls.
//!
//! What the platform calls on a merchant's behalf (webhook deliveries) reaches public addresses only:
//! checked when the URL is stored (literal addresses, `localhost` names, and what the name resolves
//! to then), and again at every connection and redirect by `callable_client` (DNS answers that are
//! not public are dropped, so a name that later resolves to 169.254.169.254 or 10.0.0.1 reaches
//! nothing). The address rules are `mostrador_core::net`.

use mostrador_core::net::{is_loopback, Reach};
use reqwest::Url;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// A link target: an absolute https URL on a public host (never a literal private, loopback or
/// link-local address, nor a `localhost` name).
pub(crate) fn check_target(s: &str) -> Result<(), String> {
    if s.len() > 2048 {
        return Err("at most 2048 characters".into());
    }
    let url = Url::parse(s).map_err(|_| "an absolute URL".to_owned())?;
    if url.scheme() != "https" {
        return Err("an https URL".into());
    }
    check_host(&url, Reach::PublicOnly)
}

/// A link host: the origin of a merchant's own subdomain that points at this deployment
/// (`https://go.banco.mx`), on which tracked links are written so customers see the sender's domain.
/// https, a domain name (never an address literal nor `localhost`), no port, path, query or
/// credentials. Returns the origin lowercased, without a trailing slash or dot.
pub(crate) fn check_link_host(s: &str) -> Result<String, String> {
    let url =
        Url::parse(s.trim()).map_err(|_| "an origin such as https://go.banco.mx".to_owned())?;
    if url.scheme() != "https" {
        return Err("an https origin (https://go.banco.mx)".into());
    }
    let Some(url::Host::Domain(host)) = url.host() else {
        return Err("a domain name, not an address".into());
    };
    if is_localhost_name(&url) || !host.contains('.') {
        return Err("a public domain name".into());
    }
    if url.port().is_some()
        || !url.username().is_empty()
        || url.password().is_some()
        || url.path() != "/"
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err("only the origin (https://go.banco.mx), without port, path or query".into());
    }
    Ok(format!(
        "https://{}",
        host.trim_end_matches('.').to_ascii_lowercase()
    ))
}

/// The host a request was made to (`Host` header), lowercased, without port or trailing dot.
pub(crate) fn request_host(header: &str) -> Option<String> {
    let header = header.trim();
    let host = if header.starts_with('[') {
        header.split_inclusive(']').next().unwrap_or(header)
    } else {
        header.split(':').next().unwrap_or(header)
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    (!host.is_empty()).then_some(host)
}

/// The host of an origin or URL (`https://go.banco.mx` → `go.banco.mx`).
pub(crate) fn host_of(origin: &str) -> Option<String> {
    Url::parse(origin)
        .ok()?
        .host_str()
        .map(|h| h.trim_end_matches('.').to_ascii_lowercase())
}

/// A URL the platform will call: https on a public host; with the loopback allowance, also http or
/// https to this machine.
pub(crate) fn check_callable(url: &Url, reach: Reach) -> Result<(), String> {
    let loopback = host_ip(url).is_some_and(is_loopback) || is_localhost_name(url);
    match url.scheme() {
        "https" => {}
        "http" if loopback && reach == Reach::PublicAndLoopback => {}
        _ => return Err("debe ser una dirección https:// de un servidor público".into()),
    }
    check_host(url, reach)
}

/// Refuses a URL whose host resolves (now) to an address outside `reach`. A name that does not
/// resolve is let through: every connection is checked again by [`callable_client`].
pub(crate) async fn check_resolution(url: &Url, reach: Reach) -> Result<(), String> {
    let (Some(host), None) = (url.host_str(), host_ip(url)) else {
        return Ok(());
    };
    let port = url.port_or_known_default().unwrap_or(443);
    if let Ok(addrs) = tokio::net::lookup_host((host, port)).await {
        for addr in addrs {
            if !reach.allows(addr.ip()) {
                return Err(format!(
                    "{host} apunta a {}, que no es una dirección pública",
                    addr.ip()
                ));
            }
        }
    }
    Ok(())
}

fn host_ip(url: &Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        url::Host::Domain(_) => None,
    }
}

fn is_localhost_name(url: &Url) -> bool {
    url.host_str().is_some_and(|h| {
        let h = h.trim_end_matches('.').to_ascii_lowercase();
        h == "localhost" || h.ends_with(".localhost")
    })
}

fn check_host(url: &Url, reach: Reach) -> Result<(), String> {
    match host_ip(url) {
        Some(ip) if reach.allows(ip) => Ok(()),
        Some(ip) => Err(format!("{ip} no es una dirección pública")),
        None if is_localhost_name(url) && reach != Reach::PublicAndLoopback => {
            Err("localhost no es un servidor público".into())
        }
        None if url.host_str().is_none_or(str::is_empty) => {
            Err("la dirección necesita un servidor".into())
        }
        None => Ok(()),
    }
}

/// An HTTP client for URLs merchants give: connects only to addresses within `reach` (DNS answers
/// outside it are dropped), and follows at most 3 redirects, each checked like the first URL.
pub(crate) fn callable_client(reach: Reach) -> Result<reqwest::Client, reqwest::Error> {
    let redirects = reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() >= 3 {
            attempt.error("too many redirects")
        } else if let Err(why) = check_callable(attempt.url(), reach) {
            attempt.error(format!("redirect refused: {why}"))
        } else {
            attempt.follow()
        }
    });
    reqwest::Client::builder()
        .dns_resolver(Arc::new(ReachResolver(reach)))
        .redirect(redirects)
        .connect_timeout(std::time::Duration::from_secs(5))
        .user_agent(concat!("mostrador/", env!("CARGO_PKG_VERSION")))
        .build()
}

struct ReachResolver(Reach);

impl reqwest::dns::Resolve for ReachResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let reach = self.0;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = all
                .iter()
                .copied()
                .filter(|a| reach.allows(a.ip()))
                .collect();
            if allowed.is_empty() {
                tracing::warn!(host = %host, "refused: the name resolves to no public address");
                return Err(format!("{host} resolves to no public address").into());
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_targets_are_https_on_public_hosts() {
        assert!(check_target("https://banco.mx/kyc/123").is_ok());
        for bad in [
            "http://banco.mx/x",
            "https://169.254.169.254/latest/meta-data",
            "https://10.0.0.1/x",
            "https://[::ffff:127.0.0.1]/",
            "https://0x7f000001/",
            "https://2130706433/",
            "https://localhost/x",
            "https://127.0.0.1:3000/x",
            "not a url",
        ] {
            assert!(check_target(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_link_host_is_a_bare_https_origin_on_a_domain() {
        assert_eq!(
            check_link_host("https://Go.Banco.MX/").as_deref(),
            Ok("https://go.banco.mx")
        );
        assert_eq!(
            check_link_host("https://links.banco.mx.").as_deref(),
            Ok("https://links.banco.mx")
        );
        for bad in [
            "http://go.banco.mx",
            "https://go.banco.mx/l",
            "https://go.banco.mx:8443",
            "https://go.banco.mx/?x=1",
            "https://user@go.banco.mx",
            "https://10.0.0.1",
            "https://[::1]",
            "https://localhost",
            "https://app.localhost",
            "https://intranet",
            "go.banco.mx",
        ] {
            assert!(check_link_host(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_request_host_drops_port_case_and_trailing_dot() {
        assert_eq!(
            request_host("Go.Banco.mx:443").as_deref(),
            Some("go.banco.mx")
        );
        assert_eq!(request_host("go.banco.mx.").as_deref(), Some("go.banco.mx"));
        assert_eq!(request_host("[::1]:3000").as_deref(), Some("[::1]"));
        assert_eq!(request_host(""), None);
        assert_eq!(
            host_of("http://127.0.0.1:3000").as_deref(),
            Some("127.0.0.1")
        );
    }

    #[test]
    fn callable_urls_refuse_private_spellings_and_allow_loopback_only_when_told() {
        let url = |s: &str| Url::parse(s).expect("url");
        for bad in [
            "https://169.254.169.254/",
            "https://10.0.0.1/x",
            "https://[::ffff:127.0.0.1]/",
            "https://0x7f000001/",
            "https://[fd00:ec2::254]/",
            "https://192.168.1.1/hook",
            "http://example.com/hook",
            "ftp://example.com/x",
        ] {
            assert!(
                check_callable(&url(bad), Reach::PublicOnly).is_err(),
                "{bad}"
            );
            assert!(
                check_callable(&url(bad), Reach::PublicAndLoopback).is_err()
                    || bad.contains("127.0.0.1")
                    || bad.contains("0x7f"),
                "{bad}"
            );
        }
        assert!(
            check_callable(&url("https://hooks.farmacia.mx/events"), Reach::PublicOnly).is_ok()
        );
        for local in [
            "http://127.0.0.1:9000/events",
            "http://localhost:9000/e",
            "https://[::1]/e",
        ] {
            assert!(
                check_callable(&url(local), Reach::PublicOnly).is_err(),
                "{local}"
            );
            assert!(
                check_callable(&url(local), Reach::PublicAndLoopback).is_ok(),
                "{local}"
            );
        }
    }

    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused_at_connection_time() {
        let client = callable_client(Reach::PublicOnly).expect("client");
        let err = client
            .get("http://localhost:9/")
            .send()
            .await
            .expect_err("no connection to loopback");
        assert!(err.is_connect() || err.is_request(), "{err}");
        let refused = check_resolution(
            &Url::parse("https://localhost/").expect("url"),
            Reach::PublicOnly,
        )
        .await;
        assert!(refused.is_err(), "localhost resolves to loopback");
    }
}
