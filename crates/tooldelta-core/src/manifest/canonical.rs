//! `manifest_hash` straight from the received bytes: SHA-256 over their
//! RFC 8785 canonical form, written into the hasher as the document is
//! read, and duplicate object keys refused at any depth.
//!
//! A 100,000-file manifest is about 15 MB of JSON; as a `serde_json::Value`
//! tree it took several times that, and the canonicalizer buffered the
//! canonical `files` array again before sorting the top-level keys. Here an
//! object collects only its members' *borrowed* raw text (`&RawValue`),
//! sorts the keys and canonicalizes each member in turn, so nothing but the
//! input bytes and one object's key list is held. Leaves (strings, numbers,
//! literals) and keys are written by `serde_json_canonicalizer` itself, so
//! the bytes hashed are exactly those of `serde_json_canonicalizer::to_vec`
//! on the parsed value (the tests compare both on many documents).
//!
//! Duplicate keys are refused because `serde_json` keeps the last of two
//! equal keys without a word: a verifier and an installer that picked
//! different duplicates would see different manifests under one signature.

use std::fmt;
use std::io::{self, Write};

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

/// Nesting this deep is refused, as `serde_json` itself does (each object
/// member is read again from its raw text, which restarts its own counter).
const MAX_DEPTH: usize = 127;

/// Lowercase hex SHA-256 of the canonical form of the JSON document `bytes`,
/// without the top-level members named in `skip`; refuses duplicate keys
/// anywhere (also inside the skipped members) and trailing data.
pub(super) fn hash_without(bytes: &[u8], skip: &[&str]) -> serde_json::Result<String> {
    let mut hasher = HashWriter(Sha256::new());
    let mut de = serde_json::Deserializer::from_slice(bytes);
    Canon::new(&mut hasher, skip, 0).deserialize(&mut de)?;
    de.end()?;
    Ok(hex::encode(hasher.0.finalize()))
}

/// The canonical bytes of `bytes` (tests compare them with the reference).
#[cfg(test)]
pub(super) fn canonical_bytes(bytes: &[u8]) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut de = serde_json::Deserializer::from_slice(bytes);
    Canon::new(&mut out, &[], 0).deserialize(&mut de)?;
    de.end()?;
    Ok(out)
}

struct HashWriter(Sha256);

impl Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Writes the canonical form of one JSON value into `out`, preceded by
/// `lead` (the comma between array elements: only known once an element
/// turns out to exist).
struct Canon<'a> {
    out: &'a mut dyn Write,
    skip: &'a [&'a str],
    depth: usize,
    lead: Option<u8>,
}

impl<'a> Canon<'a> {
    fn new(out: &'a mut dyn Write, skip: &'a [&'a str], depth: usize) -> Self {
        Self {
            out,
            skip,
            depth,
            lead: None,
        }
    }

    fn raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)
    }

    /// A leaf, written by the reference canonicalizer.
    fn leaf<E: de::Error, T: serde::Serialize>(mut self, value: &T) -> Result<(), E> {
        if let Some(lead) = self.lead.take() {
            self.raw(&[lead]).map_err(E::custom)?;
        }
        serde_json_canonicalizer::to_writer(value, &mut self.out).map_err(E::custom)
    }

    fn nested<E: de::Error>(&mut self) -> Result<usize, E> {
        if self.depth >= MAX_DEPTH {
            return Err(E::custom("recursion limit exceeded"));
        }
        if let Some(lead) = self.lead.take() {
            self.raw(&[lead]).map_err(E::custom)?;
        }
        Ok(self.depth + 1)
    }
}

/// One member value, read again from its raw text.
fn member<E: de::Error>(out: &mut dyn Write, raw: &RawValue, depth: usize) -> Result<(), E> {
    let mut de = serde_json::Deserializer::from_str(raw.get());
    Canon::new(out, &[], depth)
        .deserialize(&mut de)
        .map_err(E::custom)
}

impl<'de> DeserializeSeed<'de> for Canon<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Canon<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.leaf(&v)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.leaf(&v)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.leaf(&v)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        if !v.is_finite() {
            return Err(E::custom("non-finite number"));
        }
        self.leaf(&v)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.leaf(&v)
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.leaf(&())
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        let depth = self.nested()?;
        self.raw(b"[").map_err(de::Error::custom)?;
        let mut lead = None;
        while seq
            .next_element_seed(Canon {
                out: &mut *self.out,
                skip: &[],
                depth,
                lead,
            })?
            .is_some()
        {
            lead = Some(b',');
        }
        self.raw(b"]").map_err(de::Error::custom)
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        let depth = self.nested()?;
        let mut members: Vec<(String, &'de RawValue)> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            members.push((key, map.next_value()?));
        }
        // RFC 8785 §3.2.3: members sorted by the UTF-16 code units of their keys.
        members.sort_unstable_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
        if let Some(pair) = members.windows(2).find(|p| p[0].0 == p[1].0) {
            return Err(de::Error::custom(format!("duplicate key `{}`", pair[0].0)));
        }
        self.raw(b"{").map_err(de::Error::custom)?;
        let mut first = true;
        for (key, raw) in &members {
            if self.skip.contains(&key.as_str()) {
                // Not hashed, but as strictly read as the rest.
                member(&mut io::sink(), raw, depth)?;
                continue;
            }
            if !first {
                self.raw(b",").map_err(de::Error::custom)?;
            }
            first = false;
            serde_json_canonicalizer::to_writer(key, &mut self.out).map_err(de::Error::custom)?;
            self.raw(b":").map_err(de::Error::custom)?;
            member(&mut *self.out, raw, depth)?;
        }
        self.raw(b"}").map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// The reference: a full value tree through `serde_json_canonicalizer`.
    fn reference(text: &str) -> Vec<u8> {
        let value: Value = serde_json::from_str(text).unwrap();
        serde_json_canonicalizer::to_vec(&value).unwrap()
    }

    fn same_as_reference(text: &str) {
        let ours = canonical_bytes(text.as_bytes()).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&reference(text)),
            "{text}"
        );
    }

    #[test]
    fn canonical_bytes_match_the_reference_canonicalizer() {
        for text in [
            r#"{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001,-0,-12,18446744073709551615]}"#,
            r#"{"string":"\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/","literals":[null,true,false]}"#,
            "{\"\\u20ac\":1,\"\\r\":2,\"\\ufb33\":3,\"1\":4,\"\\ud83d\\ude00\":5,\"\\u0080\":6,\"\\u00f6\":7}",
            r#"[{"b":[{"d":1,"c":{}}],"a":[]},"x",[[[]]],{"z":{"y":{"x":[1,{"w":null}]}}}]"#,
            r#""top-level string""#,
            "  42  ",
            r#"{"files":[{"path":"a b/ü","sha256":"00","size":3,"x":{"k":[1.5e300]}}],"tool_id":"t"}"#,
        ] {
            same_as_reference(text);
        }
    }

    #[test]
    fn the_hash_leaves_out_the_named_top_level_members_only() {
        let text =
            r#"{"b":1,"manifest_hash":"h","a":{"manifest_hash":"inner"},"signature":{"s":1}}"#;
        let mut value: Value = serde_json::from_str(text).unwrap();
        let map = value.as_object_mut().unwrap();
        map.remove("manifest_hash");
        map.remove("signature");
        let expected = hex::encode(Sha256::digest(
            serde_json_canonicalizer::to_vec(&value).unwrap(),
        ));
        let ours = hash_without(text.as_bytes(), &["manifest_hash", "signature"]).unwrap();
        assert_eq!(ours, expected);
    }

    #[test]
    fn refuses_duplicate_keys_at_any_depth_even_in_skipped_members() {
        assert!(hash_without(br#"{"a":1,"a":2}"#, &[]).is_err());
        let err = hash_without(br#"{"f":[{"x":{"k":1,"k":1}}]}"#, &[]).unwrap_err();
        assert!(err.to_string().contains("duplicate key `k`"), "{err}");
        let skipped = br#"{"signature":{"k":1,"k":2}}"#;
        assert!(hash_without(skipped, &["signature"]).is_err());
    }

    #[test]
    fn refuses_trailing_data_bad_json_and_runaway_nesting() {
        assert!(hash_without(b"{} x", &[]).is_err(), "trailing data");
        assert!(hash_without(br#"{"a":}"#, &[]).is_err());
        assert!(
            hash_without(br#"{"a":"\ud800"}"#, &[]).is_err(),
            "lone surrogate"
        );
        let deep = format!("{}1{}", r#"{"a":"#.repeat(200), "}".repeat(200));
        let err = hash_without(deep.as_bytes(), &[]).unwrap_err();
        assert!(err.to_string().contains("recursion limit"), "{err}");
        let fine = format!("{}1{}", r#"{"a":"#.repeat(100), "}".repeat(100));
        same_as_reference(&fine);
    }
}
