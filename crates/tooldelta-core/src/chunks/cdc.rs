//! The publisher's chunker: FastCDC 2020 (the `fastcdc` crate's `cut`), with
//! forced cuts where a GGUF file's tensor data and each tensor start.
//!
//! Content-defined chunking restarts at every forced cut, so a chunk never
//! spans two tensors: a changed tensor costs exactly its own chunks, and
//! tensor data that moved by a few hundred bytes (a longer chat template)
//! keeps every chunk hash. The scan works through one fixed buffer, so memory
//! does not grow with the file.

use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use fastcdc::v2020::{Normalization, cut, select_masks};

use super::gguf;
use super::index::{Chunk, ChunkIndex, chunk_sha256};
use super::{AVG_CHUNK_LEN, MAX_CHUNK_LEN, MIN_CHUNK_LEN};
use crate::hash::{ContentDigest, hash_file};

/// Read buffer of the scan: several maximal chunks, so refills are rare.
const SCAN_BUF: usize = 8 * MAX_CHUNK_LEN as usize;

/// Hashes a file and builds its chunk index, on two cores: this thread
/// hashes the whole file while a second one finds the cuts and hashes each
/// chunk (both read the same pages, the second from the page cache).
pub fn index_file(path: &Path) -> io::Result<(ContentDigest, ChunkIndex)> {
    let (digest, chunks) = std::thread::scope(|s| {
        let chunker = s.spawn(|| chunk_file(path));
        let digest = hash_file(path);
        (digest, chunker.join().expect("the chunker does not panic"))
    });
    let (digest, (chunks, chunked_size)) = (digest?, chunks?);
    if chunked_size != digest.size {
        return Err(io::Error::other(format!(
            "{} changed while it was being published",
            path.display()
        )));
    }
    let file_sha256 = hex::decode(&digest.sha256)
        .expect("hex from the hasher")
        .try_into()
        .expect("32 bytes");
    let index = ChunkIndex {
        file_sha256,
        file_size: digest.size,
        chunks,
    };
    Ok((digest, index))
}

/// The chunks of a file (GGUF files get forced cuts), and the bytes read.
pub fn chunk_file(path: &Path) -> io::Result<(Vec<Chunk>, u64)> {
    let mut file = fs_err::File::open(path)?;
    let size = file.metadata()?.len();
    let cuts = gguf::read_layout(&mut file, size)?
        .map(|layout| layout.cut_points(size))
        .unwrap_or_default();
    file.seek(SeekFrom::Start(0))?;
    let chunks = chunk_reader(&mut file, size, &cuts)?;
    Ok((chunks, size))
}

/// Chunks the first `size` bytes of `reader`, cutting at each offset of
/// `cuts` (sorted) and by content in between.
pub fn chunk_reader(reader: impl Read, size: u64, cuts: &[u64]) -> io::Result<Vec<Chunk>> {
    let (mask_s, mask_l) = select_masks(AVG_CHUNK_LEN as usize, Normalization::Level1);
    let mut scan = Scan::new(reader.take(size));
    let mut chunks = Vec::new();
    let mut at = 0u64;
    let mut bounds = cuts.iter().copied().chain(std::iter::once(size));
    let mut segment_end = bounds.next().unwrap_or(size);
    while at < size {
        while segment_end <= at {
            segment_end = bounds.next().unwrap_or(size);
        }
        let want = (segment_end - at).min(u64::from(MAX_CHUNK_LEN)) as usize;
        let window = scan.window(want)?;
        if window.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("file ended at {at} of {size} bytes while chunking"),
            ));
        }
        let (_, len) = cut(
            window,
            MIN_CHUNK_LEN as usize,
            AVG_CHUNK_LEN as usize,
            MAX_CHUNK_LEN as usize,
            mask_s,
            mask_l,
            mask_s << 1,
            mask_l << 1,
        );
        chunks.push(Chunk {
            len: len as u32,
            sha256: chunk_sha256(&window[..len]),
        });
        scan.consume(len);
        at += len as u64;
    }
    Ok(chunks)
}

/// A fixed buffer over a reader that hands out windows of what is next.
struct Scan<R> {
    reader: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl<R: Read> Scan<R> {
    fn new(reader: R) -> Self {
        Self {
            reader,
            buf: vec![0; SCAN_BUF],
            start: 0,
            end: 0,
        }
    }

    /// Up to `want` next bytes (fewer only at the end of the input).
    fn window(&mut self, want: usize) -> io::Result<&[u8]> {
        if self.end - self.start < want {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            while self.end < want {
                let n = match self.reader.read(&mut self.buf[self.end..]) {
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                };
                if n == 0 {
                    break;
                }
                self.end += n;
            }
        }
        let len = want.min(self.end - self.start);
        Ok(&self.buf[self.start..self.start + len])
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic noise (xorshift), so content-defined cuts are realistic.
    fn noise(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    fn chunks_of(data: &[u8], cuts: &[u64]) -> Vec<Chunk> {
        chunk_reader(data, data.len() as u64, cuts).unwrap()
    }

    #[test]
    fn sizes_are_bounded_and_sum_to_the_file() {
        let data = noise(9 << 20, 1);
        let chunks = chunks_of(&data, &[]);
        let sum: u64 = chunks.iter().map(|c| u64::from(c.len)).sum();
        assert_eq!(sum, data.len() as u64);
        for c in &chunks[..chunks.len() - 1] {
            assert!(
                (MIN_CHUNK_LEN..=MAX_CHUNK_LEN).contains(&c.len),
                "{}",
                c.len
            );
        }
        let avg = data.len() / chunks.len();
        assert!((128 << 10..=512 << 10).contains(&avg), "average {avg}");
        assert_eq!(chunks, chunks_of(&data, &[]), "deterministic");
    }

    #[test]
    fn forced_cuts_are_chunk_boundaries_and_realign_shifted_data() {
        let head = noise(700_000, 2);
        let body = noise(6 << 20, 3);
        let tensors = [0u64, 1 << 20, 3 << 20];
        let make = |pad: usize| {
            let mut f = head.clone();
            f.resize(head.len() + pad, 0);
            let start = f.len() as u64;
            f.extend_from_slice(&body);
            let cuts: Vec<u64> = tensors.iter().map(|t| start + t).collect();
            (f, cuts)
        };
        let (a, cuts_a) = make(32);
        let (b, cuts_b) = make(32 + 256);
        let ca = chunks_of(&a, &cuts_a);
        let cb = chunks_of(&b, &cuts_b);
        let ends: Vec<u64> = ca
            .iter()
            .scan(0, |o, c| {
                *o += u64::from(c.len);
                Some(*o)
            })
            .collect();
        for cut in &cuts_a {
            assert!(ends.contains(cut), "no boundary at {cut}");
        }
        // Every chunk of the shifted tensor data is found again.
        let tail = |c: &[Chunk], n| c[c.len() - n..].to_vec();
        let n = ca.iter().rev().scan(0u64, |s, c| {
            *s += u64::from(c.len);
            Some(*s)
        });
        let data_chunks = n.take_while(|s| *s <= body.len() as u64).count();
        assert_eq!(tail(&ca, data_chunks), tail(&cb, data_chunks));
    }
}
