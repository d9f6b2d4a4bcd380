// jsdom lacks a few browser APIs the app touches.
import { afterEach } from 'vitest';
import { clearMocks } from '@tauri-apps/api/mocks';
import { cleanup } from '@testing-library/svelte';

if (!window.crypto?.getRandomValues) {
  Object.defineProperty(window, 'crypto', { value: globalThis.crypto });
}

afterEach(() => {
  cleanup();
  clearMocks();
  localStorage.clear();
});
