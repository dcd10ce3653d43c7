import { renderRows, renderTable } from '../../../infra/text-table';

describe('text tables', () => {
  it('plain: columns padded to the widest cell, right-aligned where asked, no trailing spaces', () => {
    const rows = [
      { currency: 'EUR', amount: '1,250.30' },
      { currency: 'USD', amount: '42.00' },
    ];
    expect(
      renderTable(rows, [
        { header: 'currency', value: (r) => r.currency },
        { header: 'amount', value: (r) => r.amount, align: 'right' },
      ]),
    ).toBe(['currency    amount', '--------  --------', 'EUR       1,250.30', 'USD          42.00'].join('\n'));
  });

  it('markdown: a pipe table whose separator spans each padded column', () => {
    expect(
      renderRows(
        ['step', 'waits'],
        [
          ['a', '1, 2 s'],
          ['long-name', '-'],
        ],
        { markdown: true },
      ),
    ).toBe(
      ['| step      | waits  |', '|-----------|--------|', '| a         | 1, 2 s |', '| long-name | -      |'].join(
        '\n',
      ),
    );
  });
});
