/** What the benchmarks print: progress on stderr (stdout carries one JSON line per result), and rounded figures. */
export const log = (message: string) => process.stderr.write(`${message}\n`);

export const round = (x: number, digits: number) => Number(x.toFixed(digits));
