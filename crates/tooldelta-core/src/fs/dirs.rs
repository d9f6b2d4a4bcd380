//! The folders of a release, made level by level with each level's folders
//! in parallel: a 100,000-file tool has thousands of them, and `mkdir` on a
//! busy ext4 costs as much as the hard link of a file.

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::Path;

use rayon::prelude::*;

/// Creates under `base` every folder that holds one of `files` (relative
/// POSIX paths), never passing through a symlink: an existing entry that is
/// not a folder is an error.
pub fn create_parent_dirs<'a>(
    base: &Path,
    files: impl IntoIterator<Item = &'a str>,
) -> io::Result<()> {
    for level in &levels(files) {
        level
            .par_iter()
            .try_for_each(|dir| make_dir(&base.join(dir)))?;
    }
    Ok(())
}

/// The distinct folders of `files`, by depth (`a` before `a/b`).
fn levels<'a>(files: impl IntoIterator<Item = &'a str>) -> Vec<BTreeSet<&'a str>> {
    let mut levels: Vec<BTreeSet<&str>> = Vec::new();
    for path in files {
        let mut dir = path;
        while let Some((up, _)) = dir.rsplit_once('/') {
            let depth = up.matches('/').count();
            if levels.len() <= depth {
                levels.resize_with(depth + 1, BTreeSet::new);
            }
            // Already known: so are the folders above it.
            if !levels[depth].insert(up) {
                break;
            }
            dir = up;
        }
    }
    levels
}

fn make_dir(dir: &Path) -> io::Result<()> {
    match fs::create_dir(dir) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            if fs::symlink_metadata(dir)?.is_dir() {
                Ok(())
            } else {
                Err(io::Error::other(format!(
                    "{} exists and is not a folder (a symlink is never followed)",
                    dir.display()
                )))
            }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_list_each_folder_once_above_its_children() {
        let files = ["a/b/c.txt", "a/b/d.txt", "a/e/f.txt", "g.txt", "h/i.txt"];
        let levels = levels(files);
        let got: Vec<Vec<&str>> = levels.iter().map(|l| l.iter().copied().collect()).collect();
        assert_eq!(got, [vec!["a", "h"], vec!["a/b", "a/e"]]);
    }

    #[test]
    fn makes_every_folder_and_refuses_a_planted_symlink() {
        let dir = tempfile::tempdir().unwrap();
        create_parent_dirs(dir.path(), ["x/y/z/f", "x/w/f", "v/f"]).unwrap();
        for d in ["x/y/z", "x/w", "v"] {
            assert!(dir.path().join(d).is_dir(), "{d}");
        }
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("s")).unwrap();
        let err = create_parent_dirs(dir.path(), ["s/t/f"]).unwrap_err();
        assert!(err.to_string().contains("not a folder"), "{err}");
        assert_eq!(fs::read_dir(outside.path()).unwrap().count(), 0);
    }
}
