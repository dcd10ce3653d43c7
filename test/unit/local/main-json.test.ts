/** `npm start -- --json`: every outcome is one JSON document, startup and usage errors included. */
import { main } from '../../../infra/local/main';

async function run(argv: string[]) {
  const lines: string[] = [];
  const code = await main(argv, (line) => lines.push(line));
  return { code, text: lines.join('\n') };
}

describe('npm start -- --json errors', () => {
  it.each([
    ['an unknown flag', ['--json', '--bogus'], /bogus/],
    ['a flag before --json', ['--time-scale', 'fast', '--json'], /--time-scale must be a number/],
    ['input that is not JSON', ['--json', '--input', '{'], /--input must be JSON/],
    [
      '--users that is not a positive whole number',
      ['--json', '--users', '0'],
      /--users must be a whole number 1\.\.100000/,
    ],
    [
      'a fan-out percentage above 100',
      ['--json', '--users', '5', '--tolerated-failure-percentage', '150'],
      /--tolerated-failure-percentage/,
    ],
    ['a fan-out flag without --users', ['--json', '--max-concurrency', '4'], /need --users/],
    [
      '--users with real Powens',
      ['--json', '--users', '5', '--powens-base-url', 'https://x.biapi.pro/2.0'],
      /cannot be combined/,
    ],
  ])('%s → {status: ERROR, error: ValidationFailed}, exit 2, no usage prose', async (_case, argv, message) => {
    const { code, text } = await run(argv);
    expect(code).toBe(2);
    expect(JSON.parse(text)).toEqual({
      status: 'ERROR',
      error: 'ValidationFailed',
      message: expect.stringMatching(message),
      exitCode: 2,
    });
  });

  it('a run that cannot start → a named error as JSON, exit 1', async () => {
    const { code, text } = await run(['--json', '--powens-base-url', 'https://example.biapi.pro/2.0']);
    expect(code).toBe(1);
    expect(JSON.parse(text)).toEqual({
      status: 'ERROR',
      error: expect.any(String),
      message: expect.stringContaining('could not start'),
      exitCode: 1,
    });
  });

  it('without --json the same errors stay plain text with the usage', async () => {
    const { code, text } = await run(['--bogus']);
    expect(code).toBe(2);
    expect(text).toMatch(/^error: .*bogus[\s\S]*Usage: npm start/);
  });
});
