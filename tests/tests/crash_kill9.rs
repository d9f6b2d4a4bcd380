//! Crash consistency (OSTree's destructive test, on tooldelta): a real
//! `tooldelta update`, slowed to about 2 s by a throttled server, is killed
//! with SIGKILL at a random moment in [0, 1.1·T). After every kill `current/`
//! must be exactly the old or the new release and verify; the next run must
//! converge on the new release and reuse the partial download it finds.
//!
//! `TOOLDELTA_KILL_ITERATIONS` (default 50; `make soak` sets 500),
//! `TOOLDELTA_KILL_WORKERS` (default 2) and `TOOLDELTA_KILL_SEED` (to replay
//! a run: the seed is printed) tune it.

mod fault_support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fault_support::{
    NEW, OLD, SplitMix, World, assert_active, assert_old_or_new, count_from_env, leftovers,
    partials, record_figures, seed_from_env,
};
use serde_json::json;
use tooldelta_testkit::{ChildGuard, Fault, FaultServer, Rule};

/// Blob bytes per second: the 2 MiB model of the new version takes ~2 s.
const THROTTLE: u64 = 1024 * 1024;

/// What one kill left behind and what the re-run made of it.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    total: u64,
    consistent: u64,
    old_after_kill: u64,
    new_after_kill: u64,
    partial_found: u64,
    resumed: u64,
}

impl Tally {
    fn add(&mut self, o: Tally) {
        self.total += o.total;
        self.consistent += o.consistent;
        self.old_after_kill += o.old_after_kill;
        self.new_after_kill += o.new_after_kill;
        self.partial_found += o.partial_found;
        self.resumed += o.resumed;
    }
}

fn throttled_server(world: &World) -> FaultServer {
    let server = world.server();
    server
        .faults()
        .set(Rule::new(Fault::Throttle(THROTTLE)).path_prefix("/api/v1/blobs/"));
    server
}

fn copy_root(from: &Path, to: &Path) {
    // `cp -a` keeps the relative `current` link and the hard links.
    let status = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .expect("run cp");
    assert!(
        status.success(),
        "cp -a {} {}",
        from.display(),
        to.display()
    );
}

/// One iteration: copy the old install, start the update, SIGKILL it at
/// `kill_at`, check, re-run, check.
fn iteration(
    world: &World,
    pristine: &Path,
    name: &str,
    slow: &FaultServer,
    fast: &FaultServer,
    kill_at: Duration,
) -> Tally {
    let root = world.root(name);
    copy_root(pristine, &root);
    let mut cmd = world.update_cmd(&root, &slow.url(), &[]);
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    let mut child = ChildGuard::spawn(&mut cmd);
    std::thread::sleep(kill_at);
    child.kill();
    drop(child);

    let mut t = Tally {
        total: 1,
        ..Tally::default()
    };
    let after_kill = assert_old_or_new(world, &root);
    if after_kill == OLD {
        t.old_after_kill = 1;
    } else {
        t.new_after_kill = 1;
    }
    let partial_bytes: u64 = partials(&root).values().sum();

    let out = world.update(&root, &fast.url(), &[]);
    out.assert_success();
    let report = out.json();
    assert_active(&root, world.tree(NEW), NEW);
    assert!(
        leftovers(&root).is_empty(),
        "{name}: leftovers {:?}",
        leftovers(&root)
    );
    assert!(
        partials(&root).is_empty(),
        "{name}: partials left after a complete run"
    );
    if partial_bytes > 0 {
        t.partial_found = 1;
        let resumed = report["bytes_resumed"].as_u64().expect("bytes_resumed");
        assert!(
            resumed > 0,
            "{name}: {partial_bytes} partial bytes were on disk but the re-run resumed none: {report}"
        );
        t.resumed = 1;
    }
    t.consistent = 1;
    std::fs::remove_dir_all(&root).expect("remove the iteration root");
    t
}

#[test]
fn sigkill_at_random_moments_leaves_old_or_new_and_the_rerun_converges_reusing_partials() {
    let iterations = count_from_env("TOOLDELTA_KILL_ITERATIONS", 50);
    let workers = count_from_env("TOOLDELTA_KILL_WORKERS", 2).max(1);
    let seed = seed_from_env("TOOLDELTA_KILL_SEED");
    eprintln!(
        "kill -9 matrix: {iterations} iterations, {workers} workers, TOOLDELTA_KILL_SEED={seed}"
    );

    let world = World::new();
    let fast = world.server();
    let pristine = world.root("pristine");
    world.install(&pristine, &fast.url(), OLD);

    // T: one throttled update from the old release, not killed.
    let slow = throttled_server(&world);
    let calib = world.root("calibration");
    copy_root(&pristine, &calib);
    let started = Instant::now();
    world.update(&calib, &slow.url(), &[]).assert_success();
    let t = started.elapsed();
    assert_active(&calib, world.tree(NEW), NEW);
    assert!(
        t > Duration::from_secs(1),
        "the throttle did not slow the update ({t:?}): kills would all land after it"
    );
    let window_ms = (t.as_millis() as u64) * 11 / 10;
    eprintln!("T = {t:?}; kills in [0, {window_ms} ms)");

    let mut total = Tally::default();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                let (world, pristine, fast) = (&world, &pristine, &fast);
                s.spawn(move || {
                    let slow = throttled_server(world);
                    let mut rng = SplitMix(seed ^ (w as u64).wrapping_mul(0x9E37_79B9));
                    let mut tally = Tally::default();
                    for i in (w..iterations).step_by(workers) {
                        let kill_at = Duration::from_millis(rng.below(window_ms));
                        let name = format!("w{w}-i{i}");
                        tally.add(iteration(world, pristine, &name, &slow, fast, kill_at));
                    }
                    tally
                })
            })
            .collect();
        for h in handles {
            total.add(h.join().expect("a worker panicked (see above)"));
        }
    });

    record_figures(
        "kill9",
        &json!({
            "iterations": total.total,
            "consistent": total.consistent,
            "old_after_kill": total.old_after_kill,
            "new_after_kill": total.new_after_kill,
            "partial_found": total.partial_found,
            "partial_resumed": total.resumed,
            "t_ms": t.as_millis() as u64,
            "seed": seed,
        }),
    );
    assert_eq!(total.total, iterations as u64);
    assert_eq!(total.consistent, total.total);
    // The window covers the download: some kills must land mid-transfer.
    if iterations >= 20 {
        assert!(
            total.partial_found > 0,
            "no kill left a partial download: {total:?}"
        );
        assert!(total.old_after_kill > 0, "{total:?}");
    }
}
