/** Mermaid `flowchart TD` of a compiled state machine: states, Next / Choice / Default / Catch edges, retries. */
import type { State, StateMachineDefinition } from './asl';

function escapeLabel(text: string): string {
  return text.replace(/"/g, '#quot;').replace(/</g, '#lt;').replace(/>/g, '#gt;');
}

function node(id: string, name: string, state: State): string {
  let label = escapeLabel(name);
  if (state.Type === 'Task') {
    const retry = state.Retry?.[0];
    const parts = [`${label}`, `Task, timeout ${state.TimeoutSeconds} s`];
    if (retry) {
      parts.push(
        `retry ≤${retry.MaxAttempts}× ${retry.IntervalSeconds} s ×${retry.BackoffRate}${retry.MaxDelaySeconds !== undefined ? ` max ${retry.MaxDelaySeconds} s` : ''}`,
      );
    }
    label = parts.join('<br/>');
    return `  ${id}["${label}"]`;
  }
  switch (state.Type) {
    case 'Choice':
      return `  ${id}{"${label}"}`;
    case 'Succeed':
      return `  ${id}(["${label}"])`;
    case 'Fail':
      return `  ${id}[["${label}<br/>Fail ${escapeLabel(state.Error ?? (state.ErrorPath ? `(${state.ErrorPath})` : ''))}"]]`;
    default:
      return `  ${id}("${label}")`;
  }
}

export function renderMermaid(definition: StateMachineDefinition): string {
  const names = Object.keys(definition.States);
  const ids = new Map(names.map((n, i) => [n, `s${i}`]));
  const id = (name: string) => ids.get(name) ?? 'missing';
  const lines = ['flowchart TD', '  start((start))'];
  for (const name of names) lines.push(node(id(name), name, definition.States[name] as State));
  lines.push(`  start --> ${id(definition.StartAt)}`);
  let needsEnd = false;
  for (const name of names) {
    const state = definition.States[name] as State;
    const from = id(name);
    if (state.Type === 'Choice') {
      state.Choices.forEach((c, i) => lines.push(`  ${from} -- "#${i + 1}" --> ${id(c.Next)}`));
      lines.push(`  ${from} -- "default" --> ${id(state.Default)}`);
      continue;
    }
    if (state.Type === 'Succeed' || state.Type === 'Fail') continue;
    if (state.Next) lines.push(`  ${from} --> ${id(state.Next)}`);
    if (state.End) {
      lines.push(`  ${from} --> finish`);
      needsEnd = true;
    }
    if (state.Type === 'Task') {
      for (const c of state.Catch ?? [])
        lines.push(`  ${from} -. "catch ${escapeLabel(c.ErrorEquals.join(', '))}" .-> ${id(c.Next)}`);
    }
  }
  if (needsEnd) lines.push('  finish((end))');
  return `${lines.join('\n')}\n`;
}
