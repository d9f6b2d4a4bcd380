// How many kiosk tiles a screen holds. The tiles are sized in em and the
// kiosk's type scales with the screen, so the same rule gives two columns on
// an 800×480 panel and three or four at 1080p and 4K.

/** Never more tiles on one page than a passer-by can take in. */
export const MAX_PER_PAGE = 12;
/** Tile height: the name, the versions and the status line. */
export const TILE_EM = 4.2;
/** Narrowest tile: keeps about 16 characters of a name before the ellipsis. */
const TILE_MIN_WIDTH_EM = 15;
const GAP_EM = 0.4;

export interface PageLayout {
  columns: number;
  rows: number;
  perPage: number;
  tileEm: number;
}

/** The grid for an area of `width`×`height` px at a font size of `fontPx`. */
export function pageLayout(width: number, height: number, fontPx: number): PageLayout {
  if (width <= 0 || height <= 0 || fontPx <= 0) {
    // Not laid out yet (or no layout engine, as in unit tests): a full page.
    return { columns: 3, rows: 4, perPage: MAX_PER_PAGE, tileEm: TILE_EM };
  }
  const gap = GAP_EM * fontPx;
  let columns = Math.max(1, Math.floor((width + gap) / (TILE_MIN_WIDTH_EM * fontPx + gap)));
  let rows = Math.max(1, Math.floor((height + gap) / (TILE_EM * fontPx + gap)));
  // Over the cap: give up rows while there are more rows than columns, then columns
  // (wider tiles show more of each name).
  while (columns * rows > MAX_PER_PAGE) {
    if (rows > columns) rows -= 1;
    else columns -= 1;
  }
  return { columns, rows, perPage: columns * rows, tileEm: TILE_EM };
}
