/**
 * The running Lambda invocation's deadline, for code deep inside a step that must not start what cannot finish in
 * time (the Powens rate budget: a slot is only worth waiting for if the call still fits before the timeout).
 *
 * Carried in AsyncLocalStorage rather than passed through every PowensApi method: the Powens client is built once per
 * container and shared by its invocations (the local emulator even runs several at once in one process), so the
 * deadline has to follow the invocation's async call chain, not live in a module variable.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

const deadlines = new AsyncLocalStorage<number>();

/** Runs `fn` with `deadlineMs` (epoch ms) as the invocation deadline of everything it awaits. */
export function withInvocationDeadline<T>(deadlineMs: number, fn: () => T): T {
  return deadlines.run(deadlineMs, fn);
}

/** The current invocation's deadline (epoch ms), or undefined outside a step handler (tests, scripts). */
export function invocationDeadline(): number | undefined {
  return deadlines.getStore();
}

/** The Lambda context's remaining time as an epoch-ms deadline, when the context has one (direct calls may not). */
export function deadlineOf(context: unknown, now: number = Date.now()): number | undefined {
  const remaining = (context as { getRemainingTimeInMillis?: unknown } | undefined)?.getRemainingTimeInMillis;
  return typeof remaining === 'function' ? now + Number(remaining.call(context)) : undefined;
}
