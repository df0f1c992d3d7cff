// @vitest-environment happy-dom
import { describe, expect, it } from 'vitest';
import { applyTheme, nextTheme, storedTheme, storeTheme, THEME_STORAGE_KEY } from '../src/theme';

describe('theme', () => {
  it('cycles system, light, dark', () => {
    expect(nextTheme('system')).toBe('light');
    expect(nextTheme('light')).toBe('dark');
    expect(nextTheme('dark')).toBe('system');
  });

  it('is remembered, and falls back to the system when storage is empty, odd or refused', () => {
    window.localStorage.clear();
    expect(storedTheme(window.localStorage)).toBe('system');
    storeTheme(window.localStorage, 'dark');
    expect(window.localStorage.getItem(THEME_STORAGE_KEY)).toBe('dark');
    expect(storedTheme(window.localStorage)).toBe('dark');
    window.localStorage.setItem(THEME_STORAGE_KEY, 'sepia');
    expect(storedTheme(window.localStorage)).toBe('system');
    const refusing = {
      getItem: (): string => {
        throw new Error('SecurityError');
      },
      setItem: (): void => {
        throw new Error('QuotaExceededError');
      },
    };
    expect(storedTheme(refusing)).toBe('system');
    expect(() => storeTheme(refusing, 'light')).not.toThrow();
    expect(storedTheme(undefined)).toBe('system');
  });

  it('sets data-theme on the root, and removes it to follow the system', () => {
    const root = document.documentElement;
    applyTheme(root, 'dark');
    expect(root.dataset.theme).toBe('dark');
    applyTheme(root, 'system');
    expect(root.dataset.theme).toBeUndefined();
  });
});
