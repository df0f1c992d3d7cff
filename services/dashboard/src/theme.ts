/**
 * Light and dark. The page follows the reader's system setting unless they pick one with the
 * theme button; the pick is remembered in `localStorage`. Colours live in `styles.css` as
 * `light-dark()` pairs; the charts, which draw on canvas, read them back through {@link chartColors}.
 */

import type { ChartColors } from './charts';

export const THEMES = ['system', 'light', 'dark'] as const;
export type Theme = (typeof THEMES)[number];
export const THEME_STORAGE_KEY = 'cryptopulse.theme';

export function isTheme(value: unknown): value is Theme {
  return (THEMES as readonly unknown[]).includes(value);
}

/** The theme after `current` in the button's cycle: system → light → dark → system. */
export function nextTheme(current: Theme): Theme {
  return THEMES[(THEMES.indexOf(current) + 1) % THEMES.length] ?? 'system';
}

export function storedTheme(storage: Pick<Storage, 'getItem'> | undefined): Theme {
  try {
    const value = storage?.getItem(THEME_STORAGE_KEY);
    return isTheme(value) ? value : 'system';
  } catch {
    return 'system'; // storage disabled (private mode, sandboxed frame)
  }
}

export function storeTheme(storage: Pick<Storage, 'setItem'> | undefined, theme: Theme): void {
  try {
    storage?.setItem(THEME_STORAGE_KEY, theme);
  } catch {
    // not remembered: the pick still applies to this page
  }
}

/** `data-theme` on the root element: absent for `system`, so the CSS follows the system. */
export function applyTheme(root: HTMLElement, theme: Theme): void {
  if (theme === 'system') delete root.dataset.theme;
  else root.dataset.theme = theme;
}

const CHART_COLOR_VARS: Record<keyof ChartColors, string> = {
  text: '--text',
  muted: '--muted',
  grid: '--grid',
  up: '--up',
  down: '--down',
  accent: '--accent',
};

/**
 * The chart colours as the page shows them now. Custom properties holding `light-dark()` pairs
 * are not resolved by `getComputedStyle`, so each one is resolved through a probe's `color`.
 */
export function chartColors(doc: Document): ChartColors {
  const probe = doc.createElement('span');
  probe.hidden = true;
  doc.body.append(probe);
  const view = doc.defaultView;
  const resolve = (name: string): string => {
    probe.style.color = `var(${name})`;
    return view?.getComputedStyle(probe).color || 'gray';
  };
  const colors = Object.fromEntries(
    Object.entries(CHART_COLOR_VARS).map(([key, name]) => [key, resolve(name)]),
  ) as unknown as ChartColors;
  probe.remove();
  return colors;
}
