/**
 * Operator commands of `npx directdrop`: `dev-token` (local mode's sign-in). They act with
 * the operator's own credentials and local files, never through the public API, so they
 * live beside local mode rather than in the client library.
 */
import { resolve } from 'node:path';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { DEV_TOKEN_HOURS, devIdentityFile, findDevIdentity, signDevToken } from './dev-identity';

function hours(max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0 || n > max)
      throw new InvalidArgumentError(`must be a number of hours above 0, at most ${max}.`);
    return n;
  };
}

export function operatorProgram(out: (text: string) => void): Command {
  const program = new Command('directdrop').exitOverride();
  program
    .command('dev-token')
    .description("print a bearer token local mode's built-in identity provider signs")
    .requiredOption('--sub <subject>', 'the user the token names, e.g. alice')
    .option('--data <folder>', 'local mode data folder (where npm start keeps its keys)', '.local')
    .option('--hours <hours>', 'lifetime', hours(24 * 7), DEV_TOKEN_HOURS)
    .option('--scope <scopes>', 'space-separated scopes for the scope claim')
    .action(async (options: { sub: string; data: string; hours: number; scope?: string }) => {
      const dataDir = resolve(options.data);
      const identity = await findDevIdentity(dataDir);
      if (!identity?.issuer) {
        throw new CommanderError(
          1,
          'directdrop.noIdentity',
          `No development identity in ${devIdentityFile(dataDir)}: start local mode once (npm start) with --data ${options.data}.`,
        );
      }
      out(
        await signDevToken(identity, {
          subject: options.sub,
          issuer: identity.issuer,
          hours: options.hours,
          scope: options.scope,
        }),
      );
    });
  return program;
}

/** Runs one operator command; resolves with the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  try {
    await operatorProgram((text) => process.stdout.write(`${text}\n`)).parseAsync([...argv]);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code !== 'commander.helpDisplayed' && error.code.startsWith('directdrop.'))
        process.stderr.write(`${error.message}\n`);
      return error.exitCode === 0 ? 0 : error.code.startsWith('directdrop.') ? 1 : 2;
    }
    process.stderr.write(`${(error as Error).message}\n`);
    return 1;
  }
}
