//! Tools made of many small files (issue 21), with the real binaries: the
//! real mirror loaded by `tooldelta publish` (packs on) + `import`, or a
//! static mirror on the testkit's server.
//!
//! - a 20,000-file tool installs from a few pack requests, `current/` equal
//!   to the published tree; a one-file update links the unchanged files of
//!   the previous release and leaves the store's copies alone;
//! - kill -9 at random moments of that install and of that update: old or
//!   new, then converges;
//! - a journal left by an earlier boot makes its objects re-verified;
//! - a damaged pack on one mirror: the next mirror serves it;
//! - a pack whose signed index lies about a file: refused, nothing
//!   activated (and the mirror's import refuses it too).
//!
//! `TOOLDELTA_SMALLFILES_KILLS` sets the kill iterations (default 2 each).

mod engine_support;

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use engine_support::real_mirror::RealMirror;
use engine_support::{TOOL, World, assert_same_tree, snapshot};
use tooldelta_core::manifest::Manifest;
use tooldelta_core::packs::PackIndex;
use tooldelta_core::publish::{ChunkOptions, PublishOptions};
use tooldelta_testkit::{ChildGuard, PseudoRandom, ToolTree, bin_path, run};

const FILES: usize = 20_000;

/// `count` files of 0.5–4 KB, 40 to a folder, shaped like a venv.
fn venv(tree: &ToolTree, count: usize, seed: u64) {
    for i in 0..count {
        let size = 512 + (i * 7919 + seed as usize) % 3585;
        let rel = format!("lib/site-packages/pkg{:04}/mod{:02}.py", i / 40, i % 40);
        tree.bytes(&rel, &PseudoRandom::bytes(seed + i as u64, size));
    }
}

fn update_args<'a>(world: &'a World, mirrors: &'a str, extra: &[&'a str]) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "update".into(),
        TOOL.into(),
        "--root".into(),
        world.root.display().to_string(),
        "--mirror".into(),
        mirrors.into(),
        "--trust".into(),
        world.keys.public_pem().display().to_string(),
        "--json".into(),
    ];
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    args
}

fn update(world: &World, mirrors: &str, extra: &[&str]) -> tooldelta_testkit::CmdOutput {
    let args = update_args(world, mirrors, extra);
    world.raw(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// A small file 2.0.0 leaves unchanged.
const UNCHANGED: &str = "lib/site-packages/pkg0000/mod01.py";

/// Two versions of a 20,000-file tool on the real mirror.
struct Big {
    world: World,
    mirror: RealMirror,
    v1: ToolTree,
    v2: ToolTree,
}

fn big() -> Big {
    let mut world = World::new();
    let mirror = RealMirror::start(&world.tmp.path().join("store"));
    let v1 = world.tree("v1");
    venv(&v1, FILES, 1);
    let v2 = v1.copy_to(world.tmp.path().join("trees/v2"));
    v2.text("lib/site-packages/pkg0000/mod00.py", "# changed in 2.0.0\n");
    let m1 = mirror.publish(&v1, TOOL, "1.0.0", &world.keys);
    assert!(
        m1.packs.as_ref().is_some_and(|p| !p.is_empty()),
        "publish wrote packs"
    );
    mirror.publish(&v2, TOOL, "2.0.0", &world.keys);
    world.root = world.tmp.path().join("root");
    Big {
        world,
        mirror,
        v1,
        v2,
    }
}

#[test]
fn a_20000_file_tool_installs_from_a_few_pack_requests_and_a_one_file_update_links_the_rest() {
    let b = big();
    let url = b.mirror.url();
    let before = b.mirror.blob_gets();
    update(&b.world, &url, &["--version", "1.0.0"]).assert_success();
    let gets = b.mirror.blob_gets() - before;
    assert_same_tree(&b.world.current(), &b.v1);
    assert!(
        gets < 100,
        "{gets} blob requests for {FILES} small files: packs were not used"
    );
    assert!(
        !std::fs::read_dir(b.world.root.join("objects/journal"))
            .is_ok_and(|mut d| d.next().is_some()),
        "the journal is closed after the sync"
    );

    update(&b.world, &url, &[]).assert_success();
    assert_same_tree(&b.world.current(), &b.v2);
    let new = std::fs::metadata(b.world.release("2.0.0").join(UNCHANGED)).unwrap();
    let old = std::fs::metadata(b.world.release("1.0.0").join(UNCHANGED)).unwrap();
    assert_eq!(
        (new.dev(), new.ino()),
        (old.dev(), old.ino()),
        "an unchanged file is linked from the previous release, not written again"
    );
    let sha = tooldelta_core::hash::hash_file(&b.v1.path(UNCHANGED))
        .unwrap()
        .sha256;
    let object = b
        .world
        .root
        .join("objects/sha256")
        .join(&sha[..2])
        .join(&sha);
    assert_eq!(
        std::fs::metadata(object).unwrap().nlink(),
        1,
        "the store keeps its own clean copy of a small file"
    );
    b.world.verify().assert_success();
}

fn kills() -> usize {
    std::env::var("TOOLDELTA_SMALLFILES_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2)
}

/// Runs `args`, kills it at `at`, returns whether it had already finished.
fn kill_at(args: &[String], at: Duration) -> bool {
    let mut cmd = Command::new(bin_path("tooldelta"));
    cmd.args(args).stdout(Stdio::null()).stderr(Stdio::null());
    let mut child = ChildGuard::spawn(&mut cmd);
    let finished = child.wait_timeout(at).is_some();
    child.kill();
    finished
}

/// `current` is absent or names `old`, or names `new`; what it names verifies.
fn assert_old_or_new(world: &World, old: Option<&ToolTree>, new: &ToolTree, context: &str) {
    let Ok(target) = std::fs::read_link(world.current()) else {
        assert!(old.is_none(), "{context}: current vanished");
        return;
    };
    let got = snapshot(&world.current());
    let is_new = got == snapshot(new.root());
    let is_old = old.is_some_and(|o| got == snapshot(o.root()));
    assert!(
        is_new || is_old,
        "{context}: current ({}) is neither old nor new",
        target.display()
    );
    world.verify().assert_success();
}

#[test]
fn kill_9_at_random_moments_of_a_20000_file_install_and_update_leaves_old_or_new_and_converges() {
    let b = big();
    let url = b.mirror.url();
    let start = Instant::now();
    update(&b.world, &url, &["--version", "1.0.0"]).assert_success();
    let install = start.elapsed();
    let pristine = b.world.tmp.path().join("pristine");
    run(Command::new("cp")
        .arg("-a")
        .arg(&b.world.root)
        .arg(&pristine))
    .assert_success();
    let mut seed = std::env::var("TOOLDELTA_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| u64::from(std::process::id()));
    eprintln!("smallfiles kill seed {seed}");
    let mut next = |limit: Duration| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        limit.mul_f64((seed >> 11) as f64 / (1u64 << 53) as f64)
    };
    for i in 0..kills() {
        // A fresh install killed, then run again.
        std::fs::remove_dir_all(&b.world.root).unwrap();
        let args = update_args(&b.world, &url, &["--version", "1.0.0"]);
        let at = next(install.mul_f64(1.1));
        kill_at(&args, at);
        let context = format!("install {i}, killed at {at:?}");
        assert_old_or_new(&b.world, None, &b.v1, &context);
        update(&b.world, &url, &["--version", "1.0.0"]).assert_success();
        assert_same_tree(&b.world.current(), &b.v1);

        // The one-file update killed, then run again.
        std::fs::remove_dir_all(&b.world.root).unwrap();
        run(Command::new("cp")
            .arg("-a")
            .arg(&pristine)
            .arg(&b.world.root))
        .assert_success();
        let args = update_args(&b.world, &url, &[]);
        let at = next(Duration::from_millis(1500));
        kill_at(&args, at);
        let context = format!("update {i}, killed at {at:?}");
        assert_old_or_new(&b.world, Some(&b.v1), &b.v2, &context);
        update(&b.world, &url, &[]).assert_success();
        assert_same_tree(&b.world.current(), &b.v2);
        assert!(
            !b.world
                .root
                .join("tools")
                .join(TOOL)
                .join("staging")
                .exists()
                || std::fs::read_dir(b.world.root.join("tools").join(TOOL).join("staging"))
                    .unwrap()
                    .next()
                    .is_none(),
            "{context}: staging left behind"
        );
    }
}

/// A small tool of `count` files on the static mirror, published with packs.
fn packed(world: &mut World, count: usize, version: &str) -> (ToolTree, Manifest) {
    let tree = world.tree(version);
    venv(&tree, count, 7);
    let out = world.tmp.path().join(format!("objects-{version}"));
    let opts = PublishOptions {
        tool_dir: tree.root().to_owned(),
        tool_id: TOOL.into(),
        version: version.into(),
        base_url: None,
        created_at: None,
        expires_at: None,
        release_notes: None,
        chunks: Some(ChunkOptions {
            threshold: 1 << 30,
            out_dir: out.clone(),
            packs: true,
        }),
    };
    let manifest = world.mirror.publish_with(&opts, world.keys.signing_key());
    for entry in std::fs::read_dir(&out).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        world
            .mirror
            .write_blob_bytes(&name, &std::fs::read(entry.path()).unwrap());
    }
    (tree, manifest)
}

#[test]
fn a_journal_from_an_earlier_boot_makes_its_objects_verified_again() {
    let mut world = World::new();
    let (t1, m1) = packed(&mut world, 60, "1.0.0");
    world.update(&["--version", "1.0.0"]).assert_success();
    // A machine stop before the sync: an object named in a journal of an
    // earlier boot has the right size but lost its bytes.
    let file = &m1.files[3];
    let object = world
        .root
        .join("objects/sha256")
        .join(&file.sha256[..2])
        .join(&file.sha256);
    std::fs::set_permissions(&object, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&object, vec![0u8; file.size as usize]).unwrap();
    std::fs::create_dir_all(world.root.join("objects/journal")).unwrap();
    std::fs::write(
        world.root.join("objects/journal").join(TOOL),
        format!("tooldelta-journal-v1 an-earlier-boot\n{}\n", file.sha256),
    )
    .unwrap();
    // 2.0.0 lists the same content at another path.
    let t2 = world.tree("2.0.0");
    t2.bytes("copy.py", &std::fs::read(t1.path(&file.path)).unwrap());
    let m2 = world.publish(&t2, "2.0.0");
    world.update(&[]).assert_success();
    assert_same_tree(&world.current(), &t2);
    assert!(m2.file("copy.py").is_some());
}

#[test]
fn a_damaged_pack_on_one_mirror_is_fetched_from_the_next() {
    let mut world = World::new();
    let bad = RealMirror::start(&world.tmp.path().join("store-a"));
    let good = RealMirror::start(&world.tmp.path().join("store-b"));
    let tree = world.tree("v1");
    venv(&tree, 200, 3);
    let manifest = bad.publish(&tree, TOOL, "1.0.0", &world.keys);
    good.publish(&tree, TOOL, "1.0.0", &world.keys);
    world.root = world.tmp.path().join("root");
    // One byte of the pack blob changed on the first mirror.
    let pack = pack_blob(&world.tmp.path().join("store-a"), &manifest);
    let mut bytes = std::fs::read(&pack).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::set_permissions(&pack, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&pack, &bytes).unwrap();
    let before = good.blob_gets();
    let mirrors = format!("{},{}", bad.url(), good.url());
    update(&world, &mirrors, &[]).assert_success();
    assert_same_tree(&world.current(), &tree);
    assert!(
        good.blob_gets() - before < 10,
        "the next mirror served the rest of the pack, not file by file"
    );
    world.verify().assert_success();
}

/// The pack blob of the first pack of `manifest` in a mirror store.
fn pack_blob(store: &Path, manifest: &Manifest) -> std::path::PathBuf {
    let blob = |hex: &str| store.join("blobs/sha256").join(&hex[..2]).join(hex);
    let index_ref = &manifest.packs.as_ref().unwrap()[0];
    let index = PackIndex::parse(&std::fs::read(blob(&index_ref.sha256)).unwrap()).unwrap();
    blob(&index.pack_hex())
}

#[test]
fn a_pack_whose_index_lies_about_a_file_is_refused_and_nothing_is_activated() {
    let mut world = World::new();
    let v1 = world.tree("v1");
    v1.text("README.md", "v1\n");
    world.publish(&v1, "1.0.0");
    world.update(&[]).assert_success();

    let (tree, mut manifest) = packed(&mut world, 60, "2.0.0");
    // The index swaps two files of different sizes: its lengths still add
    // up, but each names the other's bytes.
    let reference = manifest.packs.as_ref().unwrap()[0].clone();
    let dir = world.tmp.path().join("objects-2.0.0");
    let mut index = PackIndex::parse(&std::fs::read(dir.join(&reference.sha256)).unwrap()).unwrap();
    let other = (1..index.entries.len())
        .find(|i| index.entries[*i].len != index.entries[0].len)
        .unwrap();
    index.entries.swap(0, other);
    let lying = index.encode();
    let digest = tooldelta_core::hash::hash_bytes(&lying);
    world.mirror.write_blob_bytes(&digest.sha256, &lying);
    std::fs::write(dir.join(&digest.sha256), &lying).unwrap();
    manifest.packs.as_mut().unwrap()[0] = tooldelta_core::manifest::PackRef {
        sha256: digest.sha256,
        size: digest.size,
    };
    tooldelta_core::signing::sign(&mut manifest, world.keys.signing_key());
    world.mirror.add(&manifest, tree.root());

    let out = world.update(&[]);
    out.assert_failure();
    assert!(out.stderr.contains("integrity"), "{}", out.stderr);
    assert_same_tree(&world.current(), &v1);
    world.verify().assert_success();

    // The mirror's import refuses the same manifest and names the pack.
    let manifest_path = world.tmp.path().join("lying.json");
    std::fs::write(&manifest_path, manifest.to_pretty_json()).unwrap();
    let store = world.tmp.path().join("store");
    let import = run(Command::new(bin_path("tooldelta-mirror"))
        .args(["import", "--store"])
        .arg(&store)
        .arg("--manifest")
        .arg(&manifest_path)
        .arg("--tool-dir")
        .arg(tree.root())
        .arg("--chunks-dir")
        .arg(&dir));
    import.assert_failure();
    assert!(import.stderr.contains("pack"), "{}", import.stderr);
}
