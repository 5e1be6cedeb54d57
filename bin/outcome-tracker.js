#!/usr/bin/env node
// The CLI runs the TypeScript sources directly through tsx's loader: no build step
// stands between a clone and `npx outcome-tracker`.
import { register } from 'tsx/esm/api';

// `outcome-tracker replay … | head`: the reader went away; stop quietly as other tools do.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});
// The last line of defence for "never a stack trace": main() reports every error it sees in
// one line; anything escaping it (an error event on a stream) is reported the same way.
// OUTCOME_TRACKER_DEBUG=1 shows the stack.
process.on('uncaughtException', (err) => {
  process.stderr.write(
    process.env.OUTCOME_TRACKER_DEBUG === '1'
      ? `${err.stack}\n`
      : `outcome-tracker: ${String(err.message ?? err).replace(/\s*\n\s*/g, '; ')} (OUTCOME_TRACKER_DEBUG=1 shows where)\n`,
  );
  process.exit(1);
});

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
