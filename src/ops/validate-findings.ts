/** Problem counters for the database check, each with the first few example ids. */

export const MAX_EXAMPLES = 5;

export type ExampleId = string | number;

export class Findings {
  private readonly counts = new Map<string, number>();
  private readonly examples = new Map<string, ExampleId[]>();

  /** Makes `field` appear in the report even when nothing is found. */
  declare(...fields: string[]): void {
    for (const field of fields) if (!this.counts.has(field)) this.counts.set(field, 0);
  }

  add(field: string, id: ExampleId, count = 1): void {
    this.counts.set(field, (this.counts.get(field) ?? 0) + count);
    this.example(field, id);
  }

  /** Records an example id without counting (when a count comes from elsewhere). */
  example(field: string, id: ExampleId): void {
    const list = this.examples.get(field) ?? [];
    if (list.length < MAX_EXAMPLES && !list.includes(id)) list.push(id);
    this.examples.set(field, list);
  }

  /** Counts every id an iterable of rows yields under `field`. */
  addAll(field: string, ids: Iterable<ExampleId>): void {
    this.declare(field);
    for (const id of ids) this.add(field, id);
  }

  count(field: string): number {
    return this.counts.get(field) ?? 0;
  }

  countsObject(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }

  examplesObject(): Record<string, ExampleId[]> {
    return Object.fromEntries([...this.examples].filter(([, ids]) => ids.length > 0));
  }

  total(): number {
    let sum = 0;
    for (const n of this.counts.values()) sum += n;
    return sum;
  }
}
