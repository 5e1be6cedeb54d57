import { version } from '../version.ts';
import { ConfigError } from '../config.ts';
import { TickFileError } from '../ticks/readTicks.ts';
import { InputError } from './inputError.ts';
import { replayCommand, replayUsage } from './replayCommand.ts';
import { UsageError } from './usageError.ts';
import { coerceError } from '../errors.ts';

export type { CliIo } from './CliIo.ts';
import type { CliIo } from './CliIo.ts';

type Command = (args: string[], io: CliIo) => Promise<number>;

/** Exit codes of every command (README "Command line"). */
export const EXIT = {
  ok: 0,
  /** A service unreachable, a file that cannot be read or written, anything unexpected. */
  failure: 1,
  /** Bad arguments, or input whose content cannot be used. */
  usageOrInput: 2,
  /** verify-audit: the audit log is not intact. */
  auditBroken: 3,
} as const;

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
    usage: 'outcome-tracker export [--tenant T] [--out FILE]   (REDIS_URL, DATABASE_URL)',
  },
  analyze: {
    run: async () => (await import('./analyzeCommand.ts')).analyzeCommand,
    usage: 'outcome-tracker analyze [--window W] [--group G] [--at ISO-TIME] [--tenant T]   (DATABASE_URL)',
  },
  'api-key': {
    run: async () => (await import('./apiKeyCommand.ts')).apiKeyCommand,
    usage:
      'outcome-tracker api-key create --tenant T --scopes submit,read,metrics,admin [--label L] [--json]\n' +
      '  outcome-tracker api-key list [--tenant T] [--json]\n' +
      '  outcome-tracker api-key revoke ID [--json]   (DATABASE_URL)',
  },
  labels: {
    run: async () => (await import('./labelsCommand.ts')).labelsCommand,
    usage:
      'outcome-tracker labels [--model M] [--model-version V] [--tenant T] [--format jsonl|csv] [--out FILE]   (DATABASE_URL)',
  },
  'verify-audit': {
    run: async () => (await import('./verifyAuditCommand.ts')).verifyAuditCommand,
    usage: 'outcome-tracker verify-audit [--tenant T] [--json]   (DATABASE_URL)',
  },
  'regulatory-report': {
    run: async () => (await import('./regulatoryReportCommand.ts')).regulatoryReportCommand,
    usage:
      'outcome-tracker regulatory-report [--tenant T] [--from DAY] [--to DAY] [--format csv|json] [--out FILE]   (DATABASE_URL)',
  },
  report: {
    run: async () => (await import('./reportCommand.ts')).reportCommand,
    usage:
      'outcome-tracker report [--out FILE] [--tenant T] [--strategy S] [--model M] [--model-version V] [--symbol SYM] ' +
      '[--window 1d|7d|30d|all [--anchor now|latest] | --from ISO --to ISO]   (DATABASE_URL)',
  },
  metrics: {
    run: async () => (await import('./metricsCommand.ts')).metricsCommand,
    usage: 'outcome-tracker metrics [--input FILE]   (JSON, or replay output lines; stdin by default)',
  },
};

const EXIT_CODES_HELP =
  'exit codes: 0 ok, 1 failure (a service unreachable, a file unreadable or unwritable), ' +
  '2 bad arguments, bad settings or unusable input, 3 verify-audit found the audit log altered';

function usage(): string {
  return (
    [
      'usage:',
      ...Object.values(commands).map((c) => `  ${c.usage}`),
      '  outcome-tracker --version',
      '  outcome-tracker [COMMAND] --help',
      EXIT_CODES_HELP,
    ].join('\n') + '\n'
  );
}

/** An error as one line: messages may carry newlines (pg, zod), a terminal line must not. */
function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, '; ').trim();
}

/** The `outcome-tracker` command line. Returns the exit code. */
export async function main(argv: string[], io: CliIo = process): Promise<number> {
  const [name, ...args] = argv;
  if (name === '--version' || name === '-V' || name === 'version') {
    io.stdout.write(`outcome-tracker ${version()}\n`);
    return EXIT.ok;
  }
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(usage());
    return name === undefined ? EXIT.usageOrInput : EXIT.ok;
  }
  const command = commands[name];
  if (command === undefined) {
    io.stderr.write(`outcome-tracker: unknown command "${name}"\n${usage()}`);
    return EXIT.usageOrInput;
  }
  // Options that every command answers the same way, before its own parsing can object to them.
  if (args.includes('--help') || args.includes('-h')) {
    io.stdout.write(`usage: ${command.usage}\n${EXIT_CODES_HELP}\n`);
    return EXIT.ok;
  }
  if (args.includes('--version')) {
    io.stdout.write(`outcome-tracker ${version()}\n`);
    return EXIT.ok;
  }
  try {
    return await (
      await command.run()
    )(args, io);
  } catch (err) {
    const message = oneLine(coerceError(err).message);
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr.write(
        `${name}: ${message} (usage: ${oneLine(command.usage.replace(/\s{2,}\(.*\)$/, ''))})\n`,
      );
      return EXIT.usageOrInput;
    }
    io.stderr.write(`${name}: ${message}\n`);
    // Bad settings (environment variables) are bad input too, as for the Procfile's processes.
    return err instanceof InputError || err instanceof TickFileError || err instanceof ConfigError
      ? EXIT.usageOrInput
      : EXIT.failure;
  }
}
