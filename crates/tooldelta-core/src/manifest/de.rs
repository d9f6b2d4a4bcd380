//! Reading [`Manifest`] and [`FileEntry`] field by field.
//!
//! The derived form of a struct with `#[serde(flatten)]` buffers every
//! member of the object in serde's generic content tree before it picks the
//! fields out: for the top-level object that is the whole `files` array, a
//! second copy of a 100,000-file manifest in memory. These visitors take each
//! member as it comes; members this version does not know go to `extra` (as
//! the flattened map did), so they stay covered by the hash and signature.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::Value;

use super::{FileEntry, Manifest};

/// A member name: one of `known` (its position), or another name.
enum Key {
    Known(usize),
    Other(String),
}

struct KeySeed(&'static [&'static str]);

impl<'de> de::DeserializeSeed<'de> for KeySeed {
    type Value = Key;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Key, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for KeySeed {
    type Value = Key;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
        Ok(match self.0.iter().position(|k| *k == v) {
            Some(i) => Key::Known(i),
            None => Key::Other(v.to_owned()),
        })
    }
}

/// Sets a field once: a second member of the same name is an error.
fn once<T, E: de::Error>(slot: &mut Option<T>, name: &'static str, value: T) -> Result<(), E> {
    if slot.is_some() {
        return Err(E::duplicate_field(name));
    }
    *slot = Some(value);
    Ok(())
}

fn required<T, E: de::Error>(slot: Option<T>, name: &'static str) -> Result<T, E> {
    slot.ok_or_else(|| E::missing_field(name))
}

/// Reads a member value of an `Option` field (`null` is `None`).
fn optional<'de, T: Deserialize<'de>, A: MapAccess<'de>>(
    map: &mut A,
) -> Result<Option<T>, A::Error> {
    map.next_value::<Option<T>>()
}

const FILE_FIELDS: &[&str] = &["path", "sha256", "size", "chunks", "url"];

impl<'de> Deserialize<'de> for FileEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(FileVisitor)
    }
}

struct FileVisitor;

impl<'de> Visitor<'de> for FileVisitor {
    type Value = FileEntry;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a file entry")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FileEntry, A::Error> {
        let (mut path, mut sha256, mut size) = (None, None, None);
        let (mut chunks, mut url) = (None, None);
        let mut extra = BTreeMap::new();
        while let Some(key) = map.next_key_seed(KeySeed(FILE_FIELDS))? {
            match key {
                Key::Known(0) => once(&mut path, "path", map.next_value()?)?,
                Key::Known(1) => once(&mut sha256, "sha256", map.next_value()?)?,
                Key::Known(2) => once(&mut size, "size", map.next_value()?)?,
                Key::Known(3) => once(&mut chunks, "chunks", optional(&mut map)?)?,
                Key::Known(_) => once(&mut url, "url", optional(&mut map)?)?,
                Key::Other(name) => other(&mut extra, name, &mut map)?,
            }
        }
        Ok(FileEntry {
            path: required(path, "path")?,
            sha256: required(sha256, "sha256")?,
            size: required(size, "size")?,
            chunks: chunks.flatten(),
            url: url.flatten(),
            extra,
        })
    }
}

/// A member this version does not know, kept for the hash and signature.
fn other<'de, A: MapAccess<'de>>(
    extra: &mut BTreeMap<String, Value>,
    name: String,
    map: &mut A,
) -> Result<(), A::Error> {
    if extra.contains_key(&name) {
        return Err(de::Error::custom(format!("duplicate field `{name}`")));
    }
    extra.insert(name, map.next_value()?);
    Ok(())
}

const MANIFEST_FIELDS: &[&str] = &[
    "manifest_version",
    "tool_id",
    "tool_version",
    "created_at",
    "expires_at",
    "release_notes",
    "files",
    "packs",
    "manifest_hash",
    "signature",
];

impl<'de> Deserialize<'de> for Manifest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(ManifestVisitor)
    }
}

struct ManifestVisitor;

/// The members of a manifest as they are read. An optional field is
/// `Some(None)` once read as `null`: seen, so a second one is a duplicate.
#[derive(Default)]
#[allow(clippy::option_option)]
struct Fields {
    manifest_version: Option<String>,
    tool_id: Option<String>,
    tool_version: Option<String>,
    created_at: Option<Option<String>>,
    expires_at: Option<Option<String>>,
    release_notes: Option<Option<String>>,
    files: Option<Vec<FileEntry>>,
    packs: Option<Option<Vec<super::PackRef>>>,
    manifest_hash: Option<String>,
    signature: Option<Option<super::Signature>>,
    extra: BTreeMap<String, Value>,
}

impl Fields {
    fn read<'de, A: MapAccess<'de>>(&mut self, key: Key, map: &mut A) -> Result<(), A::Error> {
        let name = |i: usize| MANIFEST_FIELDS[i];
        match key {
            Key::Known(i @ 0) => once(&mut self.manifest_version, name(i), map.next_value()?),
            Key::Known(i @ 1) => once(&mut self.tool_id, name(i), map.next_value()?),
            Key::Known(i @ 2) => once(&mut self.tool_version, name(i), map.next_value()?),
            Key::Known(i @ 3) => once(&mut self.created_at, name(i), optional(map)?),
            Key::Known(i @ 4) => once(&mut self.expires_at, name(i), optional(map)?),
            Key::Known(i @ 5) => once(&mut self.release_notes, name(i), optional(map)?),
            Key::Known(i @ 6) => once(&mut self.files, name(i), map.next_value()?),
            Key::Known(i @ 7) => once(&mut self.packs, name(i), optional(map)?),
            Key::Known(i @ 8) => once(&mut self.manifest_hash, name(i), map.next_value()?),
            Key::Known(i) => once(&mut self.signature, name(i), optional(map)?),
            Key::Other(name) => other(&mut self.extra, name, map),
        }
    }
}

impl<'de> Visitor<'de> for ManifestVisitor {
    type Value = Manifest;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a manifest object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Manifest, A::Error> {
        let mut f = Fields::default();
        while let Some(key) = map.next_key_seed(KeySeed(MANIFEST_FIELDS))? {
            f.read(key, &mut map)?;
        }
        Ok(Manifest {
            manifest_version: required(f.manifest_version, "manifest_version")?,
            tool_id: required(f.tool_id, "tool_id")?,
            tool_version: required(f.tool_version, "tool_version")?,
            created_at: f.created_at.flatten(),
            expires_at: f.expires_at.flatten(),
            release_notes: f.release_notes.flatten(),
            files: required(f.files, "files")?,
            packs: f.packs.flatten(),
            manifest_hash: f.manifest_hash.unwrap_or_default(),
            signature: f.signature.flatten(),
            extra: f.extra,
        })
    }
}
