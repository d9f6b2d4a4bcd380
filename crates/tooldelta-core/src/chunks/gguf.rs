//! Just enough of a GGUF header to know where the tensor data and each
//! tensor start (`ggml-org/ggml`, `docs/gguf.md`): the chunker cuts there, so
//! a changed tensor costs exactly that tensor and a shifted data section
//! still lines up chunk for chunk.
//!
//! The header is untrusted input: every length and count is checked against
//! what is left of the file before it is used, arrays nest at most
//! [`MAX_ARRAY_DEPTH`] deep, and a file that does not parse simply gets no
//! forced cuts (content-defined chunking alone still works).

use std::io::{self, BufReader, Read, Seek};

/// `GGUF` in the file's first four bytes.
const GGUF_MAGIC: &[u8; 4] = b"GGUF";

/// Default `general.alignment`.
const DEFAULT_ALIGNMENT: u64 = 32;

/// Largest alignment accepted (a larger one is not a real model).
const MAX_ALIGNMENT: u64 = 1 << 20;

/// Largest number of dimensions of a tensor (ggml uses 4).
const MAX_DIMS: u32 = 8;

/// Arrays of arrays deeper than this are refused.
const MAX_ARRAY_DEPTH: u32 = 4;

/// Longest key read into memory (the format caps keys at 65 535 bytes).
const MAX_KEY_LEN: u64 = 65_535;

/// Where the tensor data of a GGUF file lies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GgufLayout {
    /// Bytes of header, KV data and tensor infos, before the alignment padding.
    pub header_len: u64,
    /// Offset of the tensor data section (aligned).
    pub data_start: u64,
    /// Absolute offset of each tensor, in the order of the tensor infos.
    pub tensor_starts: Vec<u64>,
}

impl GgufLayout {
    /// The offsets the chunker must cut at: the data start and every tensor
    /// start, sorted, without duplicates, strictly inside the file.
    pub fn cut_points(&self, file_size: u64) -> Vec<u64> {
        let mut cuts: Vec<u64> = std::iter::once(self.data_start)
            .chain(self.tensor_starts.iter().copied())
            .filter(|&at| at > 0 && at < file_size)
            .collect();
        cuts.sort_unstable();
        cuts.dedup();
        cuts
    }
}

/// Reads the layout of a GGUF file; `Ok(None)` when the file is not GGUF (or
/// not a GGUF this parser understands), an error only when reading fails.
pub fn read_layout<R: Read + Seek>(file: R, file_size: u64) -> io::Result<Option<GgufLayout>> {
    let mut r = Cursor {
        inner: BufReader::with_capacity(256 * 1024, file),
        pos: 0,
        size: file_size,
    };
    match parse(&mut r) {
        Ok(layout) => Ok(layout),
        Err(Bad::Io(e)) => Err(e),
        Err(Bad::Format) => Ok(None),
    }
}

/// A read that failed, or a header that is not what it claims.
enum Bad {
    Io(io::Error),
    Format,
}

impl From<io::Error> for Bad {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            Self::Format
        } else {
            Self::Io(e)
        }
    }
}

/// A buffered reader that knows its position and refuses to go past the file.
struct Cursor<R> {
    inner: BufReader<R>,
    pos: u64,
    size: u64,
}

impl<R: Read + Seek> Cursor<R> {
    fn array<const N: usize>(&mut self) -> Result<[u8; N], Bad> {
        let mut buf = [0; N];
        self.inner.read_exact(&mut buf)?;
        self.pos += N as u64;
        Ok(buf)
    }

    fn u32(&mut self) -> Result<u32, Bad> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, Bad> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// Checks that `n` more bytes exist in the file.
    fn need(&self, n: u64) -> Result<(), Bad> {
        if n > self.size.saturating_sub(self.pos) {
            return Err(Bad::Format);
        }
        Ok(())
    }

    fn skip(&mut self, n: u64) -> Result<(), Bad> {
        self.need(n)?;
        let step = i64::try_from(n).map_err(|_| Bad::Format)?;
        self.inner.seek_relative(step)?;
        self.pos += n;
        Ok(())
    }

    fn skip_string(&mut self) -> Result<(), Bad> {
        let len = self.u64()?;
        self.skip(len)
    }

    fn key(&mut self) -> Result<Vec<u8>, Bad> {
        let len = self.u64()?;
        if len > MAX_KEY_LEN {
            return Err(Bad::Format);
        }
        self.need(len)?;
        let mut key = vec![0; len as usize];
        self.inner.read_exact(&mut key)?;
        self.pos += len;
        Ok(key)
    }
}

fn parse<R: Read + Seek>(r: &mut Cursor<R>) -> Result<Option<GgufLayout>, Bad> {
    if r.size < 24 || &r.array::<4>()? != GGUF_MAGIC {
        return Ok(None);
    }
    let version = r.u32()?;
    if !(2..=3).contains(&version) {
        return Ok(None);
    }
    let tensor_count = r.u64()?;
    let kv_count = r.u64()?;
    // Each KV takes at least 12 bytes, each tensor info at least 24.
    r.need(kv_count.saturating_mul(12))?;
    r.need(tensor_count.saturating_mul(24))?;
    let mut alignment = DEFAULT_ALIGNMENT;
    for _ in 0..kv_count {
        let key = r.key()?;
        let kind = r.u32()?;
        if key == b"general.alignment" {
            alignment = read_uint(r, kind)?;
        } else {
            skip_value(r, kind, 0)?;
        }
    }
    if alignment == 0 || alignment > MAX_ALIGNMENT {
        return Err(Bad::Format);
    }
    let mut offsets = Vec::with_capacity(tensor_count as usize);
    for _ in 0..tensor_count {
        r.skip_string()?;
        let dims = r.u32()?;
        if dims > MAX_DIMS {
            return Err(Bad::Format);
        }
        r.skip(8 * u64::from(dims))?;
        let _ggml_type = r.u32()?;
        offsets.push(r.u64()?);
    }
    let data_start = r.pos.div_ceil(alignment) * alignment;
    if data_start > r.size {
        return Err(Bad::Format);
    }
    let tensor_starts = offsets
        .into_iter()
        .map(|o| data_start.checked_add(o).ok_or(Bad::Format))
        .collect::<Result<_, _>>()?;
    Ok(Some(GgufLayout {
        header_len: r.pos,
        data_start,
        tensor_starts,
    }))
}

/// Byte size of a fixed-size value type; `None` for strings and arrays.
fn fixed_size(kind: u32) -> Result<Option<u64>, Bad> {
    Ok(match kind {
        0 | 1 | 7 => Some(1),
        2 | 3 => Some(2),
        4..=6 => Some(4),
        10..=12 => Some(8),
        8 | 9 => None,
        _ => return Err(Bad::Format),
    })
}

/// An unsigned integer value (for `general.alignment`).
fn read_uint<R: Read + Seek>(r: &mut Cursor<R>, kind: u32) -> Result<u64, Bad> {
    match kind {
        4 => Ok(u64::from(r.u32()?)),
        10 => r.u64(),
        _ => Err(Bad::Format),
    }
}

fn skip_value<R: Read + Seek>(r: &mut Cursor<R>, kind: u32, depth: u32) -> Result<(), Bad> {
    if let Some(n) = fixed_size(kind)? {
        return r.skip(n);
    }
    if kind == 8 {
        return r.skip_string();
    }
    if depth >= MAX_ARRAY_DEPTH {
        return Err(Bad::Format);
    }
    let item = r.u32()?;
    let count = r.u64()?;
    if let Some(n) = fixed_size(item)? {
        return r.skip(count.checked_mul(n).ok_or(Bad::Format)?);
    }
    // Strings and arrays take at least 8 bytes each.
    r.need(count.saturating_mul(8))?;
    (0..count).try_for_each(|_| skip_value(r, item, depth + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(out: &mut Vec<u8>, s: &str) {
        out.extend_from_slice(&(s.len() as u64).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
    }

    /// A GGUF v3 file: one string KV, one string-array KV, the alignment, two tensors.
    fn sample(alignment: u32) -> Vec<u8> {
        let mut f = b"GGUF".to_vec();
        f.extend_from_slice(&3u32.to_le_bytes());
        f.extend_from_slice(&2u64.to_le_bytes()); // tensors
        f.extend_from_slice(&3u64.to_le_bytes()); // KVs
        string(&mut f, "general.name");
        f.extend_from_slice(&8u32.to_le_bytes());
        string(&mut f, "demo");
        string(&mut f, "tokenizer.ggml.tokens");
        f.extend_from_slice(&9u32.to_le_bytes());
        f.extend_from_slice(&8u32.to_le_bytes());
        f.extend_from_slice(&2u64.to_le_bytes());
        string(&mut f, "a");
        string(&mut f, "bc");
        string(&mut f, "general.alignment");
        f.extend_from_slice(&4u32.to_le_bytes());
        f.extend_from_slice(&alignment.to_le_bytes());
        for (name, offset) in [("t0", 0u64), ("t1", 64)] {
            string(&mut f, name);
            f.extend_from_slice(&1u32.to_le_bytes());
            f.extend_from_slice(&16u64.to_le_bytes());
            f.extend_from_slice(&0u32.to_le_bytes());
            f.extend_from_slice(&offset.to_le_bytes());
        }
        let start = f.len().div_ceil(alignment as usize) * alignment as usize;
        f.resize(start + 128, 0xAB);
        f
    }

    fn layout(bytes: &[u8]) -> Option<GgufLayout> {
        read_layout(io::Cursor::new(bytes), bytes.len() as u64).unwrap()
    }

    #[test]
    fn finds_data_start_and_tensor_starts() {
        for alignment in [32u32, 64, 4096] {
            let f = sample(alignment);
            let got = layout(&f).unwrap();
            let a = u64::from(alignment);
            assert_eq!(got.data_start % a, 0);
            assert_eq!(got.data_start, f.len() as u64 - 128);
            assert_eq!(got.tensor_starts, [got.data_start, got.data_start + 64]);
            assert_eq!(
                got.cut_points(f.len() as u64),
                [got.data_start, got.data_start + 64]
            );
        }
    }

    #[test]
    fn refuses_what_is_not_gguf_or_lies_about_lengths() {
        assert_eq!(layout(b"not a gguf file at all, no"), None);
        let good = sample(32);
        // Every truncation of the header is refused, never a panic.
        for cut in 0..good.len() - 128 {
            assert_eq!(layout(&good[..cut]), None, "cut at {cut}");
        }
        // A string length past the end of the file.
        let mut long = good.clone();
        long[24..32].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(layout(&long), None);
        // A KV count no file of this size could hold.
        let mut many = good.clone();
        many[16..24].copy_from_slice(&(1u64 << 60).to_le_bytes());
        assert_eq!(layout(&many), None);
        // An unknown value type.
        let mut kind = good;
        kind[44..48].copy_from_slice(&99u32.to_le_bytes());
        assert_eq!(layout(&kind), None);
    }
}
