/**
 * The tail of every local command run as a script (`npm start`, `npm run webhooks`): main's result becomes the exit
 * code; a rejection main did not turn into one is printed and exits 1. Each command keeps its own
 * `require.main === module` check, since only the command's own module can tell it was the one started.
 */
export function runAsScript(main: (argv: readonly string[]) => Promise<number>): void {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}
