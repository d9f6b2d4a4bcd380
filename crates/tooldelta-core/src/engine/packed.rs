//! The pack phase of an update: the missing small objects come from the
//! release's packs in a few ranged requests ([`crate::packs`]); whatever the
//! packs could not bring is left to the per-file fetch that follows.

use super::session::Session;
use crate::diff::Plan;
use crate::error::{FetchError, UpdateError};
use crate::fs::remove_tree_if_exists;
use crate::manifest::Manifest;
use crate::packs::{PACK_BELOW, PackFetch, PackTotals};

/// Packs are used when more than this many small objects per listed pack
/// are missing.
const PAYS_PER_PACK: usize = 4;

/// Fetches the plan's missing small objects from the manifest's packs.
pub(super) async fn fetch_packs(
    s: &Session<'_>,
    manifest: &Manifest,
    plan: &Plan,
) -> Result<PackTotals, UpdateError> {
    let packs = manifest.packs.as_deref().unwrap_or_default();
    if packs.is_empty() || !s.env.fetcher.has_mirrors() {
        return Ok(PackTotals::default());
    }
    let mut wanted: Vec<([u8; 32], u64)> = plan
        .objects_to_fetch()
        .iter()
        .filter(|f| f.size > 0 && f.size < PACK_BELOW)
        .filter(|f| s.store.partial_len(&f.sha256) == 0)
        .filter_map(|f| {
            let mut raw = [0; 32];
            hex::decode_to_slice(&f.sha256, &mut raw).ok()?;
            Some((raw, f.size))
        })
        .collect();
    // Each pack costs an index request before its ranges: for a handful of
    // files their own requests are as few.
    tracing::debug!(
        "{}: {} small objects wanted from {} packs",
        s.tool_id,
        wanted.len(),
        packs.len()
    );
    if wanted.len() <= PAYS_PER_PACK * packs.len() {
        return Ok(PackTotals::default());
    }
    wanted.sort_unstable();
    // Under the tool's staging folder: private to this run (the tool lock),
    // on the store's file system, and cleared by the next run if this one dies.
    let incoming = s.env.layout.staging_dir(s.tool_id).join(".incoming");
    let run = PackFetch {
        fetcher: &s.env.fetcher,
        store: &s.store,
        incoming: &incoming,
        cancel: s.cancel,
    };
    let result = run.run(packs, &wanted).await;
    let _ = remove_tree_if_exists(&incoming);
    result.map_err(|source| match source {
        FetchError::Cancelled => s.cancelled(),
        source => UpdateError::Fetch {
            tool_id: s.tool_id.to_owned(),
            path: path_of(plan, &source),
            source: Box::new(source),
        },
    })
}

/// The release path of the file a pack failure is about.
fn path_of(plan: &Plan, err: &FetchError) -> String {
    let sha = match err {
        FetchError::Integrity {
            expected_sha256, ..
        } => expected_sha256.as_str(),
        _ => "",
    };
    plan.fetch
        .iter()
        .find(|f| f.sha256 == sha)
        .map_or_else(|| "(packs)".to_owned(), |f| f.path.clone())
}
