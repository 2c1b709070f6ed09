//! Homes read in parallel, handed over in their order: what lets `session list --all-homes`
//! use every core while it streams its output.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, PoisonError, mpsc};

use super::HomeRef;
use crate::error::Result;

/// `read` over `homes` on `workers` threads, results handed to `consume` in home order.
pub fn in_home_order<V: Send, O>(
    homes: &[HomeRef],
    workers: usize,
    read: impl Fn(&HomeRef) -> Result<V> + Sync,
    consume: impl FnOnce(&mut dyn Iterator<Item = Result<V>>) -> O,
) -> O {
    let workers = workers.min(homes.len());
    if workers <= 1 {
        return consume(&mut homes.iter().map(read));
    }
    let gate = Gate {
        state: Mutex::new((0, false)),
        moved: Condvar::new(),
    };
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let reader = Reader {
                homes,
                gate: &gate,
                next: &next,
                ahead: workers,
                tx: tx.clone(),
            };
            let read = &read;
            scope.spawn(move || reader.run(read));
        }
        drop(tx);
        let _stop = StopOnDrop(&gate);
        consume(&mut InOrder {
            homes,
            gate: &gate,
            rx,
            early: Default::default(),
            next: 0,
        })
    })
}

/// Homes at or after `handed + workers` wait until `consume` has taken home `handed`.
struct Gate {
    state: Mutex<(usize, bool)>, // (homes handed to `consume`, stop)
    moved: Condvar,
}

impl Gate {
    fn set(&self, f: impl FnOnce(&mut (usize, bool))) {
        f(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner));
        self.moved.notify_all();
    }

    /// Whether home `i` may be read (false: stop).
    fn wait_for(&self, i: usize, ahead: usize) -> bool {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        while !s.1 && i >= s.0 + ahead {
            s = self.moved.wait(s).unwrap_or_else(PoisonError::into_inner);
        }
        !s.1
    }
}

/// Stops the readers however `consume` ends (returning early, or unwinding).
struct StopOnDrop<'a>(&'a Gate);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.set(|s| s.1 = true);
    }
}

/// One reader thread: takes the next home not taken yet, reads it when the gate lets it,
/// and sends the result (a panic included) with the home's place.
struct Reader<'a, V> {
    homes: &'a [HomeRef],
    gate: &'a Gate,
    next: &'a AtomicUsize,
    /// How far ahead of `consume` a home may be read.
    ahead: usize,
    tx: mpsc::Sender<(usize, Result<V>)>,
}

impl<V> Reader<'_, V> {
    fn run(self, read: &(impl Fn(&HomeRef) -> Result<V> + Sync)) {
        loop {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            let Some(home) = self.homes.get(i) else { break };
            if !self.gate.wait_for(i, self.ahead) {
                break;
            }
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| read(home)))
                .unwrap_or_else(|_| {
                    Err(crate::error::Error::user(format!(
                        "reading the threads of home `{}` failed (an internal error)",
                        home.name
                    )))
                });
            if self.tx.send((i, r)).is_err() {
                break;
            }
        }
    }
}

/// The results in home order, whatever order the readers finish in.
struct InOrder<'a, V> {
    homes: &'a [HomeRef],
    gate: &'a Gate,
    rx: mpsc::Receiver<(usize, Result<V>)>,
    early: BTreeMap<usize, Result<V>>,
    next: usize,
}

impl<V> Iterator for InOrder<'_, V> {
    type Item = Result<V>;
    fn next(&mut self) -> Option<Result<V>> {
        let i = self.next;
        let home = self.homes.get(i)?;
        let got = loop {
            if let Some(r) = self.early.remove(&i) {
                break r;
            }
            match self.rx.recv() {
                Ok((j, r)) => {
                    self.early.insert(j, r);
                }
                // Every reader is gone without this home (cannot happen: a reader
                // answers every home it takes, a panic included).
                Err(_) => {
                    break Err(crate::error::Error::user(format!(
                        "the threads of home `{}` could not be read",
                        home.name
                    )));
                }
            }
        };
        self.next = i + 1;
        self.gate.set(|s| s.0 = i + 1);
        Some(got)
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn homes(n: usize) -> Vec<HomeRef> {
        (0..n)
            .map(|i| HomeRef {
                name: format!("h{i}"),
                path: PathBuf::from(format!("/nowhere/{i}")),
            })
            .collect()
    }

    /// However many readers and however long each home takes, `consume` gets the homes in
    /// their order, each once.
    #[test]
    fn parallel_reads_are_handed_over_in_home_order() {
        let homes = homes(9);
        for workers in 1..=4 {
            let got: Vec<usize> = in_home_order(
                &homes,
                workers,
                |h| {
                    let i: usize = h.name[1..].parse().unwrap();
                    // Later homes often finish first.
                    std::thread::sleep(std::time::Duration::from_millis(
                        ((9 - i) * 7 % 5) as u64 * 3,
                    ));
                    Ok(i)
                },
                |it| it.map(|r| r.unwrap()).collect(),
            );
            assert_eq!(got, (0..9).collect::<Vec<_>>(), "{workers} workers");
        }
    }

    /// A consumer that stops early (an error, a closed pipe) stops the reading: no reader
    /// runs more than `workers` homes ahead of it.
    #[test]
    fn a_consumer_that_stops_stops_the_readers() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let homes = homes(50);
        let read = AtomicUsize::new(0);
        let taken = in_home_order(
            &homes,
            3,
            |_| {
                read.fetch_add(1, Ordering::SeqCst);
                Ok(())
            },
            |it| it.take(2).count(),
        );
        assert_eq!(taken, 2);
        let read = read.load(Ordering::SeqCst);
        assert!((2..=2 + 3).contains(&read), "{read} homes read for 2 taken");
    }

    /// An error in one home reaches the consumer at that home's place; a panic in a reader
    /// is an error, not a hang.
    #[test]
    fn errors_and_panics_arrive_in_place() {
        let homes = homes(5);
        let got: Vec<std::result::Result<usize, String>> = in_home_order(
            &homes,
            2,
            |h| match h.name.as_str() {
                "h1" => Err(crate::error::Error::user("bad home")),
                "h3" => panic!("a bug"),
                n => Ok(n[1..].parse().unwrap()),
            },
            |it| it.map(|r| r.map_err(|e| e.to_string())).collect(),
        );
        assert_eq!(got[0], Ok(0));
        assert!(got[1].as_ref().unwrap_err().contains("bad home"));
        assert_eq!(got[2], Ok(2));
        assert!(got[3].as_ref().unwrap_err().contains("h3"), "{:?}", got[3]);
        assert_eq!(got[4], Ok(4));
    }
}
