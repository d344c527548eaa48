//! The service's activity, for its idle timeout (podman's `--time` semantics): a
//! request counts from its headers until the last byte of its answer (so a streamed
//! answer keeps the service up as long as it streams), and a connection arriving
//! starts the wait over. Idle keep-alive connections do not count.

use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    busy: usize,
    arrivals: u64,
}

pub struct Activity {
    counts: watch::Sender<Counts>,
}

/// One request in flight; dropping it ends it.
pub struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.counts.send_modify(|c| c.busy -= 1);
    }
}

impl Activity {
    pub fn new() -> Arc<Self> {
        Arc::new(Activity {
            counts: watch::Sender::new(Counts::default()),
        })
    }

    pub fn arrived(&self) {
        self.counts.send_modify(|c| c.arrivals = c.arrivals.wrapping_add(1));
    }

    pub fn busy(self: &Arc<Self>) -> Busy {
        self.counts.send_modify(|c| c.busy += 1);
        Busy(Arc::clone(self))
    }

    /// Returns once nothing was in flight and nothing arrived for `quiet`.
    pub async fn idle_for(&self, quiet: Duration) {
        let mut counts = self.counts.subscribe();
        loop {
            // The sender lives as long as `self`: neither wait can see it closed.
            let _ = counts.wait_for(|c| c.busy == 0).await;
            tokio::select! {
                () = tokio::time::sleep(quiet) => return,
                _ = counts.changed() => {}
            }
        }
    }

    /// Returns once no request is in flight.
    pub async fn settled(&self) {
        let _ = self.counts.subscribe().wait_for(|c| c.busy == 0).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
    }

    #[test]
    fn a_request_in_flight_keeps_the_service_up() {
        runtime().block_on(async {
            let activity = Activity::new();
            let busy = activity.busy();
            let quiet = Duration::from_millis(50);
            let waited = tokio::time::timeout(Duration::from_millis(300), activity.idle_for(quiet)).await;
            assert!(waited.is_err(), "idle while a request was in flight");
            drop(busy);
            let start = Instant::now();
            activity.idle_for(quiet).await;
            assert!(start.elapsed() >= quiet);
        });
    }

    #[test]
    fn an_arrival_starts_the_wait_over() {
        runtime().block_on(async {
            let activity = Activity::new();
            let quiet = Duration::from_millis(200);
            let start = Instant::now();
            let poke = async {
                tokio::time::sleep(Duration::from_millis(150)).await;
                activity.arrived();
            };
            tokio::join!(activity.idle_for(quiet), poke);
            assert!(start.elapsed() >= Duration::from_millis(350), "{:?}", start.elapsed());
        });
    }
}
