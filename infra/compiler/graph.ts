/** Graph helpers over a spec's steps and transitions (ids assumed unique; callers validate first). */
import type { Transition, WorkflowDefinition } from './spec';

export function entryStepId(definition: WorkflowDefinition): string | undefined {
  return definition.entryStepId ?? definition.steps[0]?.id;
}

/** Outgoing transitions of each step, in array order (ContractSpec's first-match order). */
export function outgoing(definition: WorkflowDefinition): Map<string, Transition[]> {
  const map = new Map<string, Transition[]>();
  for (const step of definition.steps) map.set(step.id, []);
  for (const t of definition.transitions) map.get(t.from)?.push(t);
  return map;
}

export function reachableFrom(definition: WorkflowDefinition, start: string): Set<string> {
  const out = outgoing(definition);
  const seen = new Set<string>([start]);
  const queue = [start];
  while (queue.length > 0) {
    const id = queue.shift() as string;
    for (const t of out.get(id) ?? []) {
      if (!seen.has(t.to)) {
        seen.add(t.to);
        queue.push(t.to);
      }
    }
  }
  return seen;
}

/** The first cycle found (as a step id path a → … → a), or undefined. */
export function findCycle(definition: WorkflowDefinition): string[] | undefined {
  const out = outgoing(definition);
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (id: string): string[] | undefined => {
    state.set(id, 'visiting');
    stack.push(id);
    for (const t of out.get(id) ?? []) {
      const s = state.get(t.to);
      if (s === 'visiting') return [...stack.slice(stack.indexOf(t.to)), t.to];
      if (s === undefined && out.has(t.to)) {
        const found = visit(t.to);
        if (found) return found;
      }
    }
    stack.pop();
    state.set(id, 'done');
    return undefined;
  };
  for (const step of definition.steps) {
    if (state.get(step.id) === undefined) {
      const found = visit(step.id);
      if (found) return found;
    }
  }
  return undefined;
}

/** Steps in a topological order (stable: ties broken by declaration order). Requires an acyclic graph. */
export function topologicalOrder(definition: WorkflowDefinition): string[] {
  const indegree = new Map<string, number>(definition.steps.map((s) => [s.id, 0]));
  for (const t of definition.transitions) indegree.set(t.to, (indegree.get(t.to) ?? 0) + 1);
  const out = outgoing(definition);
  const order: string[] = [];
  const ready = definition.steps.filter((s) => indegree.get(s.id) === 0).map((s) => s.id);
  while (ready.length > 0) {
    const id = ready.shift() as string;
    order.push(id);
    for (const t of out.get(id) ?? []) {
      const d = (indegree.get(t.to) ?? 0) - 1;
      indegree.set(t.to, d);
      if (d === 0) ready.push(t.to);
    }
  }
  return order;
}
