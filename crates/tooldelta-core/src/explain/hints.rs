//! Hints for the usual mistakes, from the root cause and what the chain says
//! about where it happened (the URL, the path).

use std::error::Error;
use std::path::Path;

use reqwest::Url;

use super::RootCause;

/// The generic hint of an error: its root cause and the first URL its chain names.
pub(super) fn hint(err: &(dyn Error + 'static), root: RootCause) -> Option<String> {
    let mut url = None;
    let mut next: Option<&(dyn Error + 'static)> = Some(err);
    while let Some(e) = next {
        if let Some(u) = e
            .downcast_ref::<reqwest::Error>()
            .and_then(reqwest::Error::url)
        {
            url = Some(u.to_string());
        }
        next = e.source();
    }
    for_root(root, url.as_deref(), None)
}

/// The hint for a root cause at a URL or a local path, if one is known.
pub fn for_root(root: RootCause, url: Option<&str>, path: Option<&Path>) -> Option<String> {
    let url = url.and_then(|u| Url::parse(u).ok());
    let at = url
        .as_ref()
        .map_or_else(|| "the mirror".to_owned(), host_port);
    match root {
        RootCause::Refused => Some(match url.as_ref().and_then(proxy_for) {
            Some(proxy) => format!(
                "the proxy {proxy} (from the environment) refused the connection: check that it runs, or unset the proxy variable / add {host} to NO_PROXY",
                host = url.as_ref().and_then(Url::host_str).unwrap_or("the host"),
            ),
            None => format!(
                "nothing accepts connections at {at}: check that the mirror is running and the URL is right{curl}",
                curl = url.as_ref().map(healthz).map(|h| format!(" (`curl {h}`)")).unwrap_or_default(),
            ),
        }),
        RootCause::NameResolution => Some(format!(
            "the host name {host} does not resolve: check the mirror URL for a typo, and this machine's DNS",
            host = url.as_ref().and_then(Url::host_str).unwrap_or("of the mirror"),
        )),
        RootCause::TlsToPlainHttp => Some(format!(
            "{at} answered in plain HTTP, not TLS: use http:// instead of https:// for this mirror"
        )),
        RootCause::Certificate => Some(format!(
            "the certificate of {at} is not trusted by this machine: if the mirror uses a private or company CA, give that CA's PEM file as `ca_cert` (--ca-cert FILE, TOOLDELTA_CA_CERT, or `ca_cert` in the settings file); if a TLS-inspecting proxy sits in between, give its CA"
        )),
        RootCause::Tls => Some(format!(
            "the TLS connection to {at} failed: check that its certificate is valid for this name and signed by an authority this machine trusts"
        )),
        RootCause::TimedOut => Some(format!(
            "{at} did not answer in time: check that the mirror is not overloaded and the network path to it (a firewall that drops packets looks like this)"
        )),
        RootCause::PermissionDenied => Some(format!(
            "tooldelta runs as {user}, who may not access {path}: fix its owner or mode, or choose another path",
            user = current_user(),
            path = path.map_or_else(|| "the file named above".to_owned(), |p| p.display().to_string()),
        )),
        RootCause::NotADirectory => Some(format!(
            "a part of {path} is a regular file, not a folder: choose another path",
            path = path.map_or_else(|| "the path above".to_owned(), |p| p.display().to_string()),
        )),
        RootCause::IsADirectory => Some(format!(
            "{path} is a folder, not a file: pass the file itself",
            path = path.map_or_else(|| "the path above".to_owned(), |p| p.display().to_string()),
        )),
        RootCause::NoSpace => Some(
            "free some space on that disk (`tooldelta status` lists kept releases), or choose another --root".to_owned(),
        ),
        RootCause::Other => None,
    }
}

/// The proxy the environment sets for a URL (`HTTPS_PROXY`, `HTTP_PROXY`,
/// `ALL_PROXY`, either case), unless `NO_PROXY` exempts its host: the same
/// rules reqwest applies to the requests.
pub fn proxy_for(url: &Url) -> Option<String> {
    let var = |name: &str| {
        std::env::var(name)
            .or_else(|_| std::env::var(name.to_lowercase()))
            .ok()
            .filter(|v| !v.trim().is_empty())
    };
    let host = url.host_str()?;
    if let Some(no_proxy) = var("NO_PROXY")
        && no_proxy.split(',').map(str::trim).any(|n| {
            n == "*"
                || host == n.trim_start_matches('.')
                || host.ends_with(&format!(".{}", n.trim_start_matches('.')))
        })
    {
        return None;
    }
    match url.scheme() {
        "https" => var("HTTPS_PROXY"),
        "http" => var("HTTP_PROXY"),
        _ => None,
    }
    .or_else(|| var("ALL_PROXY"))
}

/// `name (uid N)` of the user this process runs as.
pub fn current_user() -> String {
    use std::os::unix::fs::MetadataExt as _;
    // /proc/self belongs to the process's effective user: no unsafe getuid.
    let Ok(uid) = std::fs::metadata("/proc/self").map(|m| m.uid()) else {
        return std::env::var("USER").unwrap_or_else(|_| "this user".to_owned());
    };
    let name = std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|text| {
            text.lines().find_map(|line| {
                let mut fields = line.split(':');
                let name = fields.next()?;
                (fields.nth(1)?.parse::<u32>().ok()? == uid).then(|| name.to_owned())
            })
        });
    match name {
        Some(name) => format!("user {name} (uid {uid})"),
        None => format!("uid {uid}"),
    }
}

fn host_port(url: &Url) -> String {
    match (url.host_str(), url.port_or_known_default()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        _ => url.to_string(),
    }
}

/// `{mirror}/healthz` for a URL under the mirror's `api/v1/` routes.
fn healthz(url: &Url) -> String {
    let text = url.as_str();
    let base = text.find("/api/v1/").map_or_else(
        || format!("{}://{}", url.scheme(), host_port(url)),
        |i| text[..i].to_owned(),
    );
    format!("{base}/healthz")
}
