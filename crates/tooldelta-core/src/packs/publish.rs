//! Writing the packs of a release at publish time.

use std::collections::HashSet;
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use super::{PACK_BELOW, PACK_TARGET, PackEntry, PackIndex};
use crate::hash::hash_bytes;
use crate::manifest::{FileEntry, PackRef};

/// Groups the distinct small contents of `files` (path order) into packs of
/// about [`PACK_TARGET`] bytes, writes each pack blob and its index into
/// `out_dir` under their SHA-256, and returns the index references for the
/// manifest. Each file is re-read from `tool_dir` and must still hash to its
/// entry (a file changed since it was hashed fails the publish). Fewer than
/// two small files make no pack.
pub fn write_packs(
    tool_dir: &Path,
    files: &[FileEntry],
    out_dir: &Path,
) -> io::Result<Vec<PackRef>> {
    let mut seen = HashSet::new();
    let small: Vec<&FileEntry> = files
        .iter()
        .filter(|f| f.size > 0 && f.size < PACK_BELOW && seen.insert(f.sha256.as_str()))
        .collect();
    if small.len() < 2 {
        return Ok(Vec::new());
    }
    let mut groups: Vec<&[&FileEntry]> = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, f) in small.iter().enumerate() {
        if bytes > 0 && bytes + f.size > PACK_TARGET {
            groups.push(&small[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += f.size;
    }
    groups.push(&small[start..]);
    fs_err::create_dir_all(out_dir)?;
    groups
        .par_iter()
        .map(|group| write_pack(tool_dir, group, out_dir))
        .collect()
}

fn write_pack(tool_dir: &Path, group: &[&FileEntry], out_dir: &Path) -> io::Result<PackRef> {
    static PACKS: AtomicU64 = AtomicU64::new(0);
    let n = PACKS.fetch_add(1, Ordering::Relaxed);
    let tmp = out_dir.join(format!(".pack.tmp-{}-{n}", std::process::id()));
    let result = (|| {
        let mut out = io::BufWriter::new(fs_err::File::create(&tmp)?);
        let mut hasher = Sha256::new();
        let mut entries = Vec::with_capacity(group.len());
        let mut size = 0u64;
        for f in group {
            let path = tool_dir.join(&f.path);
            let bytes = fs_err::read(&path)?;
            let digest = hash_bytes(&bytes);
            if digest.sha256 != f.sha256 {
                return Err(io::Error::other(format!(
                    "{} changed while it was published",
                    path.display()
                )));
            }
            hasher.update(&bytes);
            out.write_all(&bytes)?;
            size += bytes.len() as u64;
            let mut sha256 = [0; 32];
            hex::decode_to_slice(&f.sha256, &mut sha256).map_err(io::Error::other)?;
            entries.push(PackEntry {
                len: bytes.len() as u32,
                sha256,
            });
        }
        out.into_inner()
            .map_err(io::IntoInnerError::into_error)?
            .sync_all()?;
        let index = PackIndex {
            pack_sha256: hasher.finalize().into(),
            pack_size: size,
            entries,
        };
        crate::fs::persist(&tmp, &out_dir.join(index.pack_hex()))?;
        let encoded = index.encode();
        let object = hash_bytes(&encoded);
        let dest = out_dir.join(&object.sha256);
        if !fs_err::metadata(&dest).is_ok_and(|m| m.len() == object.size) {
            crate::fs::write_atomic(&dest, &encoded)?;
        }
        Ok(PackRef {
            sha256: object.sha256,
            size: object.size,
        })
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(dir: &Path, path: &str, data: &[u8]) -> FileEntry {
        std::fs::write(dir.join(path), data).unwrap();
        let d = hash_bytes(data);
        FileEntry {
            path: path.into(),
            sha256: d.sha256,
            size: d.size,
            chunks: None,
            url: None,
            extra: std::collections::BTreeMap::new(),
        }
    }

    #[test]
    fn small_distinct_contents_go_into_one_pack_with_a_bound_index() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("objects");
        let files = vec![
            entry(dir.path(), "a", b"alpha"),
            entry(dir.path(), "b", b"beta"),
            entry(dir.path(), "c", b"alpha"),
            entry(dir.path(), "big", &vec![7u8; PACK_BELOW as usize]),
        ];
        let refs = write_packs(dir.path(), &files, &out).unwrap();
        assert_eq!(refs.len(), 1);
        let index_bytes = std::fs::read(out.join(&refs[0].sha256)).unwrap();
        assert_eq!(hash_bytes(&index_bytes).sha256, refs[0].sha256);
        let index = PackIndex::parse(&index_bytes).unwrap();
        assert_eq!(
            index.entries.len(),
            2,
            "one entry per distinct small content"
        );
        let pack = std::fs::read(out.join(index.pack_hex())).unwrap();
        assert_eq!(pack, b"alphabeta");
        assert_eq!(hash_bytes(&pack).sha256, index.pack_hex());
        assert!(
            write_packs(dir.path(), &files[..1], &out)
                .unwrap()
                .is_empty()
        );
    }
}
