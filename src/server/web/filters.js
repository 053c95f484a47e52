// @ts-check
// The search view's filters: "in folder" (a path prefix) and a name-search box. With an image
// query they narrow the similarity search (its k nearest among the images that pass); without
// one, the name box lists the images whose file and folder names match (GET /api/names).

/** @param {string} id */
const input = (id) => {
  const e = document.getElementById(id);
  if (!(e instanceof HTMLInputElement)) throw new Error(`#${id} is not an input`);
  return e;
};

/** The filter fields of a search request ({ in, name }), the empty ones left out. */
export function filterParams() {
  const folder = input('filter-in').value.trim();
  const name = input('filter-name').value.trim();
  return { ...(folder ? { in: folder } : {}), ...(name ? { name } : {}) };
}

/** True when the name box holds words (then, without an image, the grid lists names). */
export function hasNameQuery() {
  return input('filter-name').value.trim() !== '';
}

/**
 * Calls `onChange` when a filter is submitted (Enter, or leaving a changed field) or cleared.
 * @param {() => void} onChange
 */
export function bindFilters(onChange) {
  const form = document.getElementById('filters');
  if (!(form instanceof HTMLFormElement)) throw new Error('#filters is not a form');
  let last = JSON.stringify(filterParams());
  const changed = () => {
    const now = JSON.stringify(filterParams());
    if (now === last) return;
    last = now;
    onChange();
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    last = '';
    changed();
  });
  for (const id of ['filter-in', 'filter-name']) {
    input(id).addEventListener('change', changed);
    // the clear button of a search field
    input(id).addEventListener('search', changed);
  }
  document.getElementById('filter-clear')?.addEventListener('click', () => {
    input('filter-in').value = '';
    input('filter-name').value = '';
    changed();
  });
}

/** The title of the grid for a name search. @param {{ total: number, results: unknown[] }} r */
export function nameTitle(r) {
  const words = input('filter-name').value.trim();
  const folder = input('filter-in').value.trim();
  return `${r.total} image${r.total === 1 ? '' : 's'} named like “${words}”${folder ? ` in ${folder}` : ''}${r.total > r.results.length ? ` (first ${r.results.length})` : ''}`;
}
