/**
 * Tiny DOM helpers. Every piece of text goes through `textContent` or `setAttribute`, so data
 * from the API (study names, worker ids, errors) is never parsed as markup.
 */

/** Something that can be appended as a child: nodes, text, or nothing. */
export type Child = Node | string | number | null | undefined | false;

/** Attribute values; `false`, `null` and `undefined` omit the attribute, `true` sets it empty. */
export type Attrs = Record<string, string | number | boolean | null | undefined>;

const SVG_NS = 'http://www.w3.org/2000/svg';

function setAttrs(el: Element, attrs: Attrs | null | undefined): void {
  if (!attrs) return;
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    el.setAttribute(name, value === true ? '' : String(value));
  }
}

function appendChildren(el: Element, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === 'number' ? String(child) : child);
  }
}

/** Creates an HTML element with attributes and children (strings become text nodes). */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs?: Attrs | null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  appendChildren(el, children);
  return el;
}

/** Creates an SVG element with attributes and children (strings become text nodes). */
export function s<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs?: Attrs | null,
  ...children: Child[]
): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  appendChildren(el, children);
  return el;
}

/** Replaces all children of `el` (nulls and `false` are skipped). */
export function setChildren(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  appendChildren(el, children);
}

/** Sets the text of `el`, touching the DOM only when it changes. */
export function setText(el: Element, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

/** Sets or removes one attribute, touching the DOM only on a change. */
export function setAttr(el: Element, name: string, value: string | null): void {
  if (value === null) {
    if (el.hasAttribute(name)) el.removeAttribute(name);
  } else if (el.getAttribute(name) !== value) {
    el.setAttribute(name, value);
  }
}

/**
 * Keeps the rows of `body` in sync with `items`, keyed by `key`. A row is rebuilt only when its
 * signature changes, and existing rows are moved rather than recreated, so scroll positions,
 * hover and focus survive a refresh.
 */
export function syncRows<T>(
  body: HTMLTableSectionElement,
  items: readonly T[],
  key: (item: T) => string,
  signature: (item: T) => string,
  create: (item: T) => HTMLTableRowElement,
): void {
  const existing = new Map<string, HTMLTableRowElement>();
  for (const row of Array.from(body.rows)) {
    const k = row.dataset['key'];
    if (k !== undefined) existing.set(k, row);
    else row.remove();
  }
  let cursor: ChildNode | null = body.firstChild;
  for (const item of items) {
    const k = key(item);
    const sig = signature(item);
    let row = existing.get(k);
    if (row && row.dataset['sig'] !== sig) {
      const fresh = create(item);
      row.replaceWith(fresh);
      if (cursor === row) cursor = fresh;
      row = fresh;
    } else if (!row) {
      row = create(item);
    }
    existing.delete(k);
    row.dataset['key'] = k;
    row.dataset['sig'] = sig;
    if (row === cursor) {
      cursor = row.nextSibling;
    } else {
      body.insertBefore(row, cursor);
    }
  }
  for (const stale of existing.values()) stale.remove();
}
