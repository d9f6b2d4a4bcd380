//! Who gets a connection slot: at most `max` connections at once, at most
//! `per_address` from one client address, and a connection that finds every
//! slot taken waits a moment for one (a bounded number of them at a time)
//! before it is refused.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use prometheus_client::metrics::gauge::Gauge;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Every slot was taken (and stayed taken while it waited).
    ConnectionLimit,
    /// Its address already held its share.
    AddressLimit,
}

impl Refusal {
    /// The metric label.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::ConnectionLimit => "connection_limit",
            Self::AddressLimit => "address_limit",
        }
    }

    /// The message of the 503 answer.
    pub(crate) fn message(self) -> &'static str {
        match self {
            Self::ConnectionLimit => {
                "the mirror is serving its maximum number of connections; retry shortly"
            }
            Self::AddressLimit => "too many connections from this address; retry shortly",
        }
    }
}

/// The limits of one server.
#[derive(Debug)]
pub(crate) struct Limits {
    slots: Arc<Semaphore>,
    per_address: Option<usize>,
    addresses: Mutex<HashMap<IpAddr, usize>>,
    waiting: AtomicUsize,
    max_waiting: usize,
    wait: Duration,
    open: Gauge,
}

/// A connection's slot: released (and its address counted down) on drop.
#[derive(Debug)]
pub(crate) struct Slot {
    _permit: OwnedSemaphorePermit,
    _address: AddressClaim,
    open: Gauge,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.open.dec();
    }
}

/// One connection counted against its address.
#[derive(Debug)]
struct AddressClaim {
    limits: Arc<Limits>,
    ip: IpAddr,
}

impl Drop for AddressClaim {
    fn drop(&mut self) {
        let mut addresses = self.limits.addresses();
        if let Some(n) = addresses.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                addresses.remove(&self.ip);
            }
        }
    }
}

/// Counts a waiting connection for as long as it waits.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Limits {
    /// `max` slots (at least 1), `per_address` (`None`: no cap), and up to
    /// `max_waiting` connections waiting up to `wait` for a slot.
    pub(crate) fn new(
        max: usize,
        per_address: Option<usize>,
        max_waiting: usize,
        wait: Duration,
        open: Gauge,
    ) -> Arc<Self> {
        Arc::new(Self {
            slots: Arc::new(Semaphore::new(max.max(1))),
            per_address,
            addresses: Mutex::default(),
            waiting: AtomicUsize::new(0),
            max_waiting,
            wait,
            open,
        })
    }

    fn addresses(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
        self.addresses
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// A slot for a connection from `ip`, or why not. Over its address's cap
    /// it is refused at once; when every slot is taken it waits (if few
    /// others already do) up to the configured time.
    pub(crate) async fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Slot, Refusal> {
        let address = self.claim(ip.to_canonical())?;
        let permit = match Arc::clone(&self.slots).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => self.wait_for_slot().await?,
        };
        self.open.inc();
        Ok(Slot {
            _permit: permit,
            _address: address,
            open: self.open.clone(),
        })
    }

    fn claim(self: &Arc<Self>, ip: IpAddr) -> Result<AddressClaim, Refusal> {
        let mut addresses = self.addresses();
        let n = addresses.entry(ip).or_insert(0);
        if self.per_address.is_some_and(|cap| *n >= cap) {
            if *n == 0 {
                addresses.remove(&ip);
            }
            return Err(Refusal::AddressLimit);
        }
        *n += 1;
        Ok(AddressClaim {
            limits: Arc::clone(self),
            ip,
        })
    }

    async fn wait_for_slot(&self) -> Result<OwnedSemaphorePermit, Refusal> {
        if self.waiting.fetch_add(1, Ordering::Relaxed) >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::Relaxed);
            return Err(Refusal::ConnectionLimit);
        }
        let _waiting = Waiting(&self.waiting);
        match tokio::time::timeout(self.wait, Arc::clone(&self.slots).acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            // Timed out, or the semaphore closed (never: it is not closed).
            _ => Err(Refusal::ConnectionLimit),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    const A: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));

    #[tokio::test]
    async fn an_address_at_its_cap_is_refused_while_another_is_served() {
        let limits = Limits::new(10, Some(2), 0, Duration::ZERO, Gauge::default());
        let first = limits.admit(A).await.unwrap();
        let _second = limits.admit(A).await.unwrap();
        assert_eq!(limits.admit(A).await.unwrap_err(), Refusal::AddressLimit);
        let _other = limits.admit(B).await.unwrap();
        drop(first);
        let _again = limits
            .admit(A)
            .await
            .expect("a slot freed by its address is reusable");
    }

    #[tokio::test]
    async fn a_full_server_lets_a_connection_wait_for_a_slot_then_refuses() {
        let open = Gauge::default();
        let limits = Limits::new(1, None, 1, Duration::from_millis(200), open.clone());
        let held = limits.admit(A).await.unwrap();
        assert_eq!(open.get(), 1);
        // Nobody frees the slot: refused after the wait.
        assert_eq!(limits.admit(B).await.unwrap_err(), Refusal::ConnectionLimit);
        // A slot freed while waiting is taken.
        let waiter = tokio::spawn({
            let limits = Arc::clone(&limits);
            async move { limits.admit(B).await.map(drop) }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        // The one waiting place is taken: a third connection is refused at once.
        assert_eq!(limits.admit(A).await.unwrap_err(), Refusal::ConnectionLimit);
        drop(held);
        assert_eq!(waiter.await.unwrap(), Ok(()));
        assert_eq!(open.get(), 0);
    }

    #[tokio::test]
    async fn ipv4_mapped_ipv6_peers_count_as_their_ipv4_address() {
        let limits = Limits::new(10, Some(1), 0, Duration::ZERO, Gauge::default());
        let _v4 = limits.admit(A).await.unwrap();
        let mapped = IpAddr::V6(Ipv4Addr::new(10, 0, 0, 1).to_ipv6_mapped());
        assert_eq!(
            limits.admit(mapped).await.unwrap_err(),
            Refusal::AddressLimit
        );
    }
}
