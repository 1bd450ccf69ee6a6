/**
 * A value that is there now or will be. Reads that nearly always answer at
 * once return one, so the common case takes no promise and no turn of the
 * event loop.
 */
export type Eventually<T> = T | Promise<T>;

/** `next(value)`: at once when `value` is there, once it resolves when it is a promise. */
export function thenEventually<T, U>(value: Eventually<T>, next: (value: T) => Eventually<U>): Eventually<U> {
  return value instanceof Promise ? value.then(next) : next(value);
}
