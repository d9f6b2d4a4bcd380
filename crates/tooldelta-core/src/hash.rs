//! SHA-256 while streaming: reader and writer adapters, and whole-file hashing.
//!
//! sha2 picks its SHA-NI backend at run time on CPUs that have it, which is
//! what keeps hashing at openssl's speed.

use std::io::{self, Read, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

/// Read size for hashing files: large enough that syscalls do not show, small
/// enough that the buffer stays in the core's L2 cache between the kernel's
/// copy into it and the hasher reading it. Measured on 1 GiB from the page
/// cache (2-core AMD EPYC, SHA-NI): 64–128 KiB take 0.86 s, 256–512 KiB
/// 1.35 s, `openssl dgst -sha256` 0.93 s CPU.
pub const HASH_BUF_SIZE: usize = 64 * 1024;

/// The SHA-256 and size of some content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentDigest {
    /// Lowercase hex SHA-256.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
}

/// Hashes a whole file, streaming it through a fixed buffer.
pub fn hash_file(path: &Path) -> io::Result<ContentDigest> {
    let file = fs_err::File::open(path)?;
    let mut reader = HashingReader::new(file);
    let mut buf = vec![0; HASH_BUF_SIZE];
    while reader.read(&mut buf)? != 0 {}
    Ok(reader.finish())
}

/// Hashes a byte slice.
pub fn hash_bytes(bytes: &[u8]) -> ContentDigest {
    ContentDigest {
        sha256: hex::encode(Sha256::digest(bytes)),
        size: bytes.len() as u64,
    }
}

/// A reader that hashes what passes through it.
#[derive(Debug)]
pub struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    size: u64,
}

impl<R> HashingReader<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            size: 0,
        }
    }

    /// The digest of everything read so far.
    pub fn finish(self) -> ContentDigest {
        ContentDigest {
            sha256: hex::encode(self.hasher.finalize()),
            size: self.size,
        }
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
}

/// A writer that hashes what passes through it.
#[derive(Debug)]
pub struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    size: u64,
}

impl<W> HashingWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            size: 0,
        }
    }

    /// Continues from an existing hasher state (resuming a partial file).
    pub fn resume(inner: W, hasher: Sha256, size: u64) -> Self {
        Self {
            inner,
            hasher,
            size,
        }
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The inner writer.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    /// The writer and the digest of everything written.
    pub fn finish(self) -> (W, ContentDigest) {
        let digest = ContentDigest {
            sha256: hex::encode(self.hasher.finalize()),
            size: self.size,
        };
        (self.inner, digest)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        assert_eq!(
            hash_bytes(b"abc").sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let data: Vec<u8> = (0..3 * HASH_BUF_SIZE + 17)
            .map(|i| (i % 251) as u8)
            .collect();
        std::fs::write(&path, &data).unwrap();
        assert_eq!(hash_file(&path).unwrap(), hash_bytes(&data));
    }

    #[test]
    fn writer_hashes_what_it_writes() {
        let mut w = HashingWriter::new(Vec::new());
        w.write_all(b"ab").unwrap();
        w.write_all(b"c").unwrap();
        let (out, digest) = w.finish();
        assert_eq!(out, b"abc");
        assert_eq!(digest, hash_bytes(b"abc"));
    }
}
