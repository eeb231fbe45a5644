type Child = Node | string | null | undefined | false;

/** A small element builder: `h('button', { class: 'x', type: 'button' }, 'text')`. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Record<string, string | boolean | undefined> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    element.setAttribute(name, value === true ? '' : value);
  }
  element.append(...children.filter((child): child is Node | string => child !== null && child !== undefined && child !== false));
  return element;
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`#${id} is missing from the page`);
  return element as T;
}

/** Says `message` to screen readers through the page's polite live region. */
export function announce(message: string): void {
  const live = byId('live');
  // A change of text is what gets read: clear first so the same sentence twice is read twice.
  live.textContent = '';
  window.setTimeout(() => { live.textContent = message; }, 50);
}
