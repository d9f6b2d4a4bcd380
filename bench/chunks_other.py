"""What two other chunked updaters would move for the same pair of files,
computed from their formats (neither tool runs here):

- desync (casync's format): content-defined chunks of 64 KiB on average; the
  client fetches the new `.caibx` index whole (a 48-byte header, a 16-byte
  table header, 40 bytes per chunk — 8-byte offset + 32-byte SHA-512/256 id —
  and a 40-byte tail), then every chunk it lacks;
- electron-builder (electron-updater's differential download): content-defined
  chunks of 16 KiB on average; the client fetches the old and the new
  `.blockmap` (gzip'ed JSON `{"version":"2","files":[{"name","offset",
  "checksums":[base64 of an 18-byte digest],"sizes":[...]}]}`), then every
  chunk it lacks.

A changed region costs its own chunks plus one (a content-defined cut resyncs
one chunk after the change, on average), each of the tool's average size.
"""

import base64
import gzip
import json
import math
import random

DESYNC_AVG = 64 << 10
ELECTRON_AVG = 16 << 10


def changed_chunks(changed: int, avg: int) -> int:
    """Bytes of the chunks one changed region of `changed` bytes costs."""
    return (math.ceil(changed / avg) + 1) * avg


def desync_bytes(new_size: int, changed: int) -> int:
    chunks = math.ceil(new_size / DESYNC_AVG)
    index = 48 + 16 + 40 * chunks + 40
    return index + changed_chunks(changed, DESYNC_AVG)


def blockmap_bytes(size: int) -> int:
    """The gzip'ed blockmap of a file of `size` bytes: a sample of 4 096
    chunks is written and compressed, the rest scaled from it."""
    chunks = math.ceil(size / ELECTRON_AVG)
    sample = min(chunks, 4096)
    rng = random.Random(size)
    doc = {"version": "2", "files": [{
        "name": "file", "offset": 0,
        "checksums": [base64.b64encode(rng.randbytes(18)).decode() for _ in range(sample)],
        # Content-defined sizes spread around the average (8–32 KiB).
        "sizes": [rng.randint(ELECTRON_AVG // 2, ELECTRON_AVG * 2) for _ in range(sample)],
    }]}
    packed = len(gzip.compress(json.dumps(doc, separators=(",", ":")).encode(), 9))
    return math.ceil(packed * chunks / sample)


def electron_bytes(old_size: int, new_size: int, changed: int) -> int:
    return blockmap_bytes(old_size) + blockmap_bytes(new_size) + changed_chunks(changed, ELECTRON_AVG)
