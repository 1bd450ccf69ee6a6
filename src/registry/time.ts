/** Registry timestamps: integer Unix seconds in INTEGER columns, `YYYY-MM-DDTHH:MM:SSZ` everywhere else. */
export type Clock = () => number;

export const systemClock: Clock = () => Math.floor(Date.now() / 1000);

export function isoSeconds(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}
