//! The HTTP clients of a process and the network settings they share:
//! proxy (`proxy`, `no_proxy`, else `HTTPS_PROXY` / `HTTP_PROXY` /
//! `ALL_PROXY` / `NO_PROXY`) and extra trust roots for a private CA
//! (`ca_cert`). The CLI, the desktop app and the app's self-updater all
//! build their clients through [`NetworkConfig::apply`].

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use reqwest::{Certificate, ClientBuilder, NoProxy, Proxy};

use crate::error::SetupError;

/// Proxy and trust settings (settings `proxy`, `no_proxy`, `ca_cert`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkConfig {
    /// Proxy URL for every request (`http://proxy:3128`); `None`: the
    /// environment's `HTTPS_PROXY` / `HTTP_PROXY` / `ALL_PROXY`.
    pub proxy: Option<String>,
    /// Hosts reached directly (comma-separated, as `NO_PROXY`: `mirror.lan,.site.lan,10.0.0.0/8`);
    /// `None`: the environment's `NO_PROXY`.
    pub no_proxy: Option<String>,
    /// PEM file of extra certificate authorities trusted besides the
    /// system's (a private CA, a TLS-inspecting proxy's CA).
    pub ca_cert: Option<PathBuf>,
}

impl NetworkConfig {
    /// Reads the `ca_cert` file, if any: a bad file is refused up front,
    /// with its path, not at the first HTTPS request.
    pub fn load_roots(&self) -> Result<Vec<Certificate>, SetupError> {
        let Some(path) = &self.ca_cert else {
            return Ok(Vec::new());
        };
        read_roots(path)
    }

    /// Checks the settings — the `ca_cert` file reads, the proxy URLs
    /// parse — and returns the extra roots for [`NetworkConfig::apply`].
    pub fn check(&self) -> Result<Vec<Certificate>, SetupError> {
        let roots = self.load_roots()?;
        if self.proxy.is_some() || self.no_proxy.is_some() {
            self.proxies()?;
        }
        Ok(roots)
    }

    /// Applies the proxy settings and `roots` (from [`NetworkConfig::load_roots`]) to a client.
    pub fn apply(
        &self,
        mut builder: ClientBuilder,
        roots: &[Certificate],
    ) -> Result<ClientBuilder, SetupError> {
        if self.proxy.is_some() || self.no_proxy.is_some() {
            // Explicit settings replace reqwest's reading of the environment,
            // so `no_proxy` also exempts hosts from a proxy the environment sets.
            builder = builder.no_proxy();
            for proxy in self.proxies()? {
                builder = builder.proxy(proxy);
            }
        }
        if !roots.is_empty() {
            builder = builder.tls_certs_merge(roots.iter().cloned());
        }
        Ok(builder)
    }

    fn proxies(&self) -> Result<Vec<Proxy>, SetupError> {
        let no_proxy = match &self.no_proxy {
            Some(list) => NoProxy::from_string(list),
            None => NoProxy::from_env(),
        };
        let bad = |url: &str, source| SetupError::Proxy {
            url: url.to_owned(),
            source,
        };
        let mut out = Vec::new();
        if let Some(url) = &self.proxy {
            out.push(Proxy::all(url).map_err(|e| bad(url, e))?);
        } else {
            let pairs: [(&str, MakeProxy); 3] = [
                ("HTTPS_PROXY", |u| Proxy::https(u)),
                ("HTTP_PROXY", |u| Proxy::http(u)),
                ("ALL_PROXY", |u| Proxy::all(u)),
            ];
            for (name, make) in pairs {
                if let Some(url) = env_var(name) {
                    out.push(make(&url).map_err(|e| bad(&url, e))?);
                }
            }
        }
        Ok(out
            .into_iter()
            .map(|p| p.no_proxy(no_proxy.clone()))
            .collect())
    }
}

type MakeProxy = fn(&str) -> reqwest::Result<Proxy>;

/// A proxy variable, upper or lower case, if set and not empty.
fn env_var(name: &str) -> Option<String> {
    std::env::var(name)
        .or_else(|_| std::env::var(name.to_lowercase()))
        .ok()
        .filter(|v| !v.trim().is_empty())
}

fn read_roots(path: &Path) -> Result<Vec<Certificate>, SetupError> {
    let bad = |cause: String| SetupError::CaCert {
        path: path.to_owned(),
        cause,
    };
    let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let certs = Certificate::from_pem_bundle(&pem).map_err(|e| bad(e.to_string()))?;
    if certs.is_empty() {
        return Err(bad("no PEM certificate in it".to_owned()));
    }
    Ok(certs)
}

/// The clients of one fetcher, built on first use: plain `http` (no trust
/// roots loaded: that costs tens of milliseconds per process), `https`
/// (HTTP/2 where the server offers it), and `https` over HTTP/1.1 only for
/// the connections of a segmented download (HTTP/2 would multiplex them
/// onto one connection, the very thing a per-connection cap limits).
#[derive(Debug)]
pub(crate) struct Clients {
    connect_timeout: Duration,
    network: NetworkConfig,
    roots: Vec<Certificate>,
    plain: OnceLock<Result<reqwest::Client, String>>,
    secure: OnceLock<Result<reqwest::Client, String>>,
    secure_h1: OnceLock<Result<reqwest::Client, String>>,
}

/// Which client a request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Use {
    /// One request among others (HTTP/2 allowed).
    Shared,
    /// One of several connections of a segmented download.
    OwnConnection,
}

impl Clients {
    pub(crate) fn new(
        connect_timeout: Duration,
        network: NetworkConfig,
    ) -> Result<Self, SetupError> {
        let roots = network.load_roots()?;
        // Built now so a bad proxy setting is refused up front.
        let clients = Self {
            connect_timeout,
            network,
            roots,
            plain: OnceLock::new(),
            secure: OnceLock::new(),
            secure_h1: OnceLock::new(),
        };
        let plain = clients.build(false, false)?;
        let _ = clients.plain.set(Ok(plain));
        Ok(clients)
    }

    /// The client for `url`.
    pub(crate) fn for_url(&self, url: &str, use_: Use) -> Result<&reqwest::Client, String> {
        let (cell, tls, h1) = match (url.starts_with("https:"), use_) {
            (false, _) => (&self.plain, false, false),
            (true, Use::Shared) => (&self.secure, true, false),
            (true, Use::OwnConnection) => (&self.secure_h1, true, true),
        };
        cell.get_or_init(|| {
            self.build(tls, h1)
                .map_err(|e| crate::stream::error_chain(&e))
        })
        .as_ref()
        .map_err(Clone::clone)
    }

    fn build(&self, tls: bool, http1_only: bool) -> Result<reqwest::Client, SetupError> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .user_agent(concat!("tooldelta/", env!("CARGO_PKG_VERSION")));
        if !tls {
            builder = builder.tls_certs_only([]);
        }
        if http1_only {
            builder = builder.http1_only();
        }
        self.network
            .apply(builder, &self.roots)?
            .build()
            .map_err(SetupError::Client)
    }
}
