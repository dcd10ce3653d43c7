/**
 * The one text-table printer, for the compiler's fidelity report (Markdown, copied into the README), `npm start`'s
 * result tables and the benchmark summary (plain, aligned columns).
 */
export interface TableColumn<T> {
  header: string;
  value: (row: T) => string;
  align?: 'left' | 'right';
}

export function renderTable<T>(
  rows: readonly T[],
  columns: readonly TableColumn<T>[],
  style: { markdown?: boolean } = {},
): string {
  const cells = rows.map((row) => columns.map((column) => column.value(row)));
  const widths = columns.map((column, i) => Math.max(column.header.length, ...cells.map((r) => (r[i] ?? '').length)));
  const pad = (values: readonly string[]): string[] =>
    values.map((value, i) =>
      columns[i]?.align === 'right' ? value.padStart(widths[i] ?? 0) : value.padEnd(widths[i] ?? 0),
    );
  const headers = columns.map((c) => c.header);
  if (style.markdown) {
    const line = (values: readonly string[]): string => `| ${pad(values).join(' | ')} |`;
    return [line(headers), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(line)].join('\n');
  }
  const line = (values: readonly string[]): string => pad(values).join('  ').trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

/** Rows given as cells, in header order. */
export function renderRows(
  headers: readonly string[],
  rows: readonly (readonly (string | number)[])[],
  options: { markdown?: boolean; align?: (column: number) => 'left' | 'right' } = {},
): string {
  const columns = headers.map((header, i) => ({
    header,
    value: (row: readonly (string | number)[]) => String(row[i] ?? ''),
    align: options.align?.(i),
  }));
  return renderTable(rows, columns, options);
}
