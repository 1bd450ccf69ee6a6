/** Command-line flags of the benchmarks: `--name value`, checked before anything runs. */

export function flagValue(argv: readonly string[], name: string): string | undefined {
  const at = argv.indexOf(`--${name}`);
  if (at === -1) return undefined;
  const text = argv[at + 1];
  if (text === undefined) throw new Error(`--${name} needs a value`);
  return text;
}

/** An integer flag of at least `min`, or `fallback` when absent. */
export function integerFlag(argv: readonly string[], name: string, fallback: number, min = 1): number {
  const text = flagValue(argv, name);
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min) throw new Error(`--${name} needs an integer >= ${min}, got '${text}'`);
  return n;
}
