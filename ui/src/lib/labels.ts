// The words the views show for engine states, in one place so views and
// tests agree.

import type { Delta, Integrity, Policy, SignatureCheck, ToolView } from './bindings';
import { bytes, count } from './format';

/** `"1 file · 24 KiB to download · 4.7 GiB saved"`. */
export function deltaSummary(delta: Delta): string {
  const parts = [`${count(delta.files_to_fetch, 'file')}`, `${bytes(delta.bytes_to_fetch)} to download`];
  if (delta.bytes_from_local_chunks > 0) parts.push(`${bytes(delta.bytes_from_local_chunks)} reused`);
  if (delta.bytes_resumable > 0) parts.push(`${bytes(delta.bytes_resumable)} resumable`);
  parts.push(`${bytes(delta.bytes_saved)} saved`);
  return parts.join(' · ');
}

export interface BadgeText {
  label: string;
  tone: 'good' | 'bad' | 'warn' | 'neutral';
  detail: string;
}

export function signatureBadge(sig: SignatureCheck | null): BadgeText {
  if (!sig) return { label: 'unknown', tone: 'neutral', detail: 'The mirror could not be checked' };
  const key = sig.public_key_id ? `key ${sig.public_key_id}` : 'no key';
  switch (sig.status) {
    case 'valid':
      return { label: 'valid', tone: 'good', detail: `Signed by trusted ${key}` };
    case 'invalid':
      return { label: 'invalid', tone: 'bad', detail: `Signature does not verify (${key})` };
    case 'unsigned':
      return { label: 'unsigned', tone: 'bad', detail: 'The manifest carries no signature' };
    case 'unknown_key':
      return { label: 'unknown key', tone: 'warn', detail: `Signed by ${key}, which is not trusted here` };
  }
}

export function integrityBadge(integrity: Integrity, paths: string[] = []): BadgeText {
  switch (integrity) {
    case 'ok':
      return { label: 'intact', tone: 'good', detail: 'Every file matches its manifest' };
    case 'modified': {
      const shown = paths.slice(0, 3).join(', ');
      const more = paths.length > 3 ? ` and ${paths.length - 3} more` : '';
      return {
        label: 'modified',
        tone: 'bad',
        detail: paths.length ? `Changed on disk: ${shown}${more}` : 'A file differs from its manifest',
      };
    }
    case 'unknown':
      return { label: 'not verified', tone: 'neutral', detail: 'Not verified since the app started' };
  }
}

/** Whether an update is worth offering: a newer manifest than the installed one. */
export function updatePending(tool: ToolView): boolean {
  return tool.up_to_date === false && tool.available_version !== null;
}

/** The agent's policies, in the order the menus list them. */
export const POLICIES: readonly Policy[] = ['auto', 'download', 'notify', 'manual'];

export const POLICY_LABELS: Record<Policy, string> = {
  auto: 'Downloads and switches inside the maintenance window',
  download: 'Downloads; you activate',
  notify: 'Only tells you an update is available',
  manual: 'Leaves the tool alone',
};
