import { replayCommand, replayUsage } from './replayCommand.ts';
import { UsageError } from './usageError.ts';

export interface CliIo {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

type Command = (args: string[], io: CliIo) => Promise<number>;

const commands: Record<string, { run: () => Promise<Command>; usage: string }> = {
  replay: { run: async () => replayCommand, usage: replayUsage },
  migrate: {
    run: async () => (await import('./migrateCommand.ts')).migrateCommand,
    usage: 'outcome-tracker migrate   (DATABASE_URL)',
  },
  feed: {
    run: async () => (await import('./feedCommand.ts')).feedCommand,
    usage: 'outcome-tracker feed --ticks FILE.csv[.gz] [--candles] [--speed X | --max]   (REDIS_URL)',
  },
  export: {
    run: async () => (await import('./exportCommand.ts')).exportCommand,
    usage: 'outcome-tracker export [--out FILE]   (REDIS_URL, DATABASE_URL)',
  },
  analyze: {
    run: async () => (await import('./analyzeCommand.ts')).analyzeCommand,
    usage: 'outcome-tracker analyze [--window W] [--group G] [--at ISO-TIME] [--tenant T]   (DATABASE_URL)',
  },
  metrics: {
    run: async () => (await import('./metricsCommand.ts')).metricsCommand,
    usage: 'outcome-tracker metrics [--input FILE]   (JSON on stdin by default)',
  },
};

function usage(): string {
  return ['usage:', ...Object.values(commands).map((c) => `  ${c.usage}`)].join('\n') + '\n';
}

/** The `outcome-tracker` command line. Returns the exit code. */
export async function main(argv: string[], io: CliIo = process): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  const command = commands[name];
  if (command === undefined) {
    io.stderr.write(`unknown command "${name}"\n${usage()}`);
    return 2;
  }
  try {
    return await (
      await command.run()
    )(args, io);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr.write(`${message}\nusage: ${command.usage}\n`);
      return 2;
    }
    io.stderr.write(`${name}: ${message}\n`);
    return 1;
  }
}
