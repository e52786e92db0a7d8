/**
 * A virtualised table: only the rows in view (plus a few above and below) are in the DOM, between two spacer rows
 * whose heights stand for the others, so 50,000 users scroll like 30. Rows come from the API in windows of 100 as
 * they scroll into view. Table semantics stay: aria-rowcount on the table and aria-rowindex on each row tell a screen
 * reader where it is in the whole list.
 */
export const ROW_HEIGHT = 40;
const WINDOW = 100;
const OVERSCAN = 8;

export interface Window<R> {
  total: number;
  rows: R[];
}

export class VirtualTable<R> {
  private readonly windows = new Map<number, R[]>();
  private readonly loading = new Map<number, Promise<void>>();
  private total = 0;
  private generation = 0;
  private readonly top: HTMLTableRowElement;
  private readonly bottom: HTMLTableRowElement;
  private frame = 0;
  /** Whether the total of the current listing was reported (a listing of 0 rows is reported too). */
  private reported = false;

  constructor(
    private readonly table: HTMLTableElement,
    private readonly scroller: HTMLElement,
    private readonly columns: number,
    private readonly fetchWindow: (offset: number) => Promise<Window<R> | null>,
    private readonly renderRow: (row: R, index: number) => HTMLTableRowElement,
    private readonly onTotal: (total: number) => void,
  ) {
    this.top = spacer(columns);
    this.bottom = spacer(columns);
    scroller.addEventListener('scroll', () => this.schedule());
    window.addEventListener('resize', () => this.schedule());
  }

  get count(): number {
    return this.total;
  }

  /** Everything again from the first row (a new filter, sort or customer, or after a change). */
  async reset(keepScroll = false): Promise<void> {
    this.generation++;
    this.reported = false;
    this.windows.clear();
    this.loading.clear();
    if (!keepScroll) this.scroller.scrollTop = 0;
    await this.load(Math.floor(this.firstVisible() / WINDOW) * WINDOW);
    this.render();
  }

  rowAt(index: number): R | undefined {
    return this.windows.get(Math.floor(index / WINDOW) * WINDOW)?.[index % WINDOW];
  }

  /** Rows currently loaded (for "select what is shown"). */
  loadedRows(): R[] {
    return [...this.windows.values()].flat();
  }

  rerender(): void {
    this.render();
  }

  private firstVisible(): number {
    return Math.max(0, Math.floor(this.scroller.scrollTop / ROW_HEIGHT) - OVERSCAN);
  }

  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  private load(offset: number): Promise<void> {
    if (this.windows.has(offset)) return Promise.resolve();
    const pending = this.loading.get(offset);
    if (pending) return pending;
    const generation = this.generation;
    const promise = this.fetchWindow(offset).then((w) => {
      if (generation !== this.generation || !w) return;
      this.windows.set(offset, w.rows);
      if (w.total !== this.total || !this.reported) {
        this.reported = true;
        this.total = w.total;
        this.table.setAttribute('aria-rowcount', String(w.total + 1));
        this.onTotal(w.total);
      }
    });
    this.loading.set(offset, promise);
    void promise.finally(() => this.loading.delete(offset));
    return promise;
  }

  private render(): void {
    const body = this.table.tBodies[0];
    const viewRows = Math.ceil(this.scroller.clientHeight / ROW_HEIGHT) + OVERSCAN * 2;
    const first = Math.min(this.firstVisible(), Math.max(0, this.total - 1));
    const last = Math.min(this.total, first + viewRows);
    const missing: number[] = [];
    for (let offset = Math.floor(first / WINDOW) * WINDOW; offset < last; offset += WINDOW) if (!this.windows.has(offset)) missing.push(offset);
    if (missing.length) void Promise.all(missing.map((o) => this.load(o))).then(() => this.render());
    const rows: HTMLTableRowElement[] = [this.top];
    for (let i = first; i < last; i++) {
      const row = this.rowAt(i);
      if (!row) continue;
      const tr = this.renderRow(row, i);
      tr.setAttribute('aria-rowindex', String(i + 2));
      rows.push(tr);
    }
    rows.push(this.bottom);
    // Spacer heights through the CSSOM (the CSP forbids style attributes, not style properties).
    this.top.style.height = `${first * ROW_HEIGHT}px`;
    this.bottom.style.height = `${Math.max(0, this.total - last) * ROW_HEIGHT}px`;
    const focused = document.activeElement instanceof HTMLElement && body.contains(document.activeElement) ? document.activeElement.id : '';
    body.replaceChildren(...rows);
    if (focused) document.getElementById(focused)?.focus({ preventScroll: true });
  }
}

function spacer(columns: number): HTMLTableRowElement {
  const tr = document.createElement('tr');
  tr.className = 'spacer';
  tr.setAttribute('aria-hidden', 'true');
  const td = document.createElement('td');
  td.colSpan = columns;
  tr.append(td);
  return tr;
}
