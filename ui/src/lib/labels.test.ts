import { describe, expect, it } from 'vitest';
import { deltaSummary, integrityBadge, signatureBadge } from './labels';

describe('deltaSummary', () => {
  it('reads like the issue asks: files, bytes to download, bytes saved', () => {
    expect(
      deltaSummary({
        files_to_fetch: 1,
        bytes_to_fetch: 24 * 1024,
        bytes_from_local_chunks: 0,
        bytes_resumable: 0,
        files_reused: 9,
        bytes_saved: 4.7 * 1024 ** 3,
        files_to_remove: 0,
      }),
    ).toBe('1 file · 24 KiB to download · 4.7 GiB saved');
  });
  it('counts chunks rebuilt from disk as reused, as the card reads', () => {
    expect(
      deltaSummary({
        files_to_fetch: 1,
        bytes_to_fetch: 312 * 1024,
        bytes_from_local_chunks: 4 * 1024 ** 3,
        bytes_resumable: 0,
        files_reused: 3,
        bytes_saved: 0,
        files_to_remove: 0,
      }),
    ).toBe('1 file · 312 KiB to download · 4.0 GiB reused · 0 B saved');
  });
  it('mentions resumable bytes when an interrupted run left some', () => {
    expect(
      deltaSummary({
        files_to_fetch: 2,
        bytes_to_fetch: 2048,
        bytes_from_local_chunks: 0,
        bytes_resumable: 1024,
        files_reused: 0,
        bytes_saved: 0,
        files_to_remove: 1,
      }),
    ).toBe('2 files · 2.0 KiB to download · 1.0 KiB resumable · 0 B saved');
  });
});

describe('badges', () => {
  it('names the key id for every signed verdict', () => {
    expect(signatureBadge({ status: 'valid', public_key_id: 'abcd' })).toMatchObject({
      label: 'valid',
      tone: 'good',
    });
    expect(signatureBadge({ status: 'unknown_key', public_key_id: 'abcd' }).detail).toContain('abcd');
    expect(signatureBadge({ status: 'invalid', public_key_id: 'ef01' }).tone).toBe('bad');
    expect(signatureBadge({ status: 'unsigned', public_key_id: null }).label).toBe('unsigned');
    expect(signatureBadge(null).label).toBe('unknown');
  });
  it('says modified and lists a few changed paths', () => {
    const b = integrityBadge('modified', ['a', 'b', 'c', 'd']);
    expect(b.label).toBe('modified');
    expect(b.detail).toBe('Changed on disk: a, b, c and 1 more');
    expect(integrityBadge('unknown').label).toBe('not verified');
  });
});
