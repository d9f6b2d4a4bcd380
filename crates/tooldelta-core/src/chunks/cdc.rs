//! The publisher's chunker: FastCDC 2020 (the `fastcdc` crate's `cut`), with
//! forced cuts where a GGUF file's tensor data and each tensor start.
//!
//! Content-defined chunking restarts at every forced cut, so a chunk never
//! spans two tensors: a changed tensor costs exactly its own chunks, and
//! tensor data that moved by a few hundred bytes (a longer chat template)
//! keeps every chunk hash. The scan works through one bounded buffer, so
//! memory does not grow with the file.

use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use bytes::{Bytes, BytesMut};
use fastcdc::v2020::{Normalization, cut, select_masks};

use super::gguf;
use super::index::{Chunk, chunk_sha256};
use super::{AVG_CHUNK_LEN, MAX_CHUNK_LEN, MIN_CHUNK_LEN};

/// Read buffer of the scan: several maximal chunks, so refills are rare.
const SCAN_BUF: usize = 8 * MAX_CHUNK_LEN as usize;

/// The chunks of a file (GGUF files get forced cuts), and the bytes read.
pub fn chunk_file(path: &Path) -> io::Result<(Vec<Chunk>, u64)> {
    let (mut file, size, cuts) = open_with_cuts(path)?;
    let chunks = chunk_reader(&mut file, size, &cuts)?;
    Ok((chunks, size))
}

/// Opens a file for chunking: the file at offset 0, its size, and its
/// forced cuts (GGUF tensor boundaries; none for other files).
pub(super) fn open_with_cuts(path: &Path) -> io::Result<(fs_err::File, u64, Vec<u64>)> {
    let mut file = fs_err::File::open(path)?;
    let size = file.metadata()?.len();
    let cuts = gguf::read_layout(&mut file, size)?
        .map(|layout| layout.cut_points(size))
        .unwrap_or_default();
    file.seek(SeekFrom::Start(0))?;
    Ok((file, size, cuts))
}

/// Chunks the first `size` bytes of `reader`, cutting at each offset of
/// `cuts` (sorted) and by content in between.
pub fn chunk_reader(reader: impl Read, size: u64, cuts: &[u64]) -> io::Result<Vec<Chunk>> {
    let mut chunks = Vec::new();
    cut_stream(reader, size, cuts, |bytes| {
        chunks.push(Chunk {
            len: bytes.len() as u32,
            sha256: chunk_sha256(&bytes),
        });
    })?;
    Ok(chunks)
}

/// Cuts the first `size` bytes of `reader` as [`chunk_reader`] does and hands
/// each chunk's bytes, in order, to `each` (without copying them: they stay
/// valid after the scan moves on, so another thread can hash them).
pub(super) fn cut_stream(
    reader: impl Read,
    size: u64,
    cuts: &[u64],
    mut each: impl FnMut(Bytes),
) -> io::Result<()> {
    let (mask_s, mask_l) = select_masks(AVG_CHUNK_LEN as usize, Normalization::Level1);
    let mut scan = Scan::new(reader.take(size));
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
        each(scan.take(len));
        at += len as u64;
    }
    Ok(())
}

/// A buffer over a reader that hands out windows of what is next, and the
/// chunks cut from them as shared, immutable bytes. Memory stays bounded:
/// a refill reuses the buffer once every chunk handed out of it is dropped.
struct Scan<R> {
    reader: R,
    buf: BytesMut,
}

impl<R: Read> Scan<R> {
    fn new(reader: R) -> Self {
        Self {
            reader,
            buf: BytesMut::with_capacity(SCAN_BUF),
        }
    }

    /// Up to `want` next bytes (fewer only at the end of the input).
    fn window(&mut self, want: usize) -> io::Result<&[u8]> {
        if self.buf.len() < want {
            self.buf.reserve(SCAN_BUF - self.buf.len());
            while self.buf.len() < want {
                let filled = self.buf.len();
                self.buf.resize(SCAN_BUF, 0);
                let read = self.reader.read(&mut self.buf[filled..]);
                self.buf.truncate(filled + read.as_ref().map_or(0, |n| *n));
                match read {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        }
        let len = want.min(self.buf.len());
        Ok(&self.buf[..len])
    }

    /// The next `n` bytes (of the last window), as a chunk.
    fn take(&mut self, n: usize) -> Bytes {
        self.buf.split_to(n).freeze()
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
