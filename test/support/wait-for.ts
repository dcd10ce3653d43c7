/**
 * Polls a condition the system under test reaches on its own (a released sync finishing, a request arriving), one
 * macrotask at a time: no fixed sleep, so the test does not depend on machine speed (a hang is Jest's timeout).
 */
export async function waitFor(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}
