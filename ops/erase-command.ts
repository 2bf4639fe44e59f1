/**
 * `npx directdrop erase --subject <sub> [--issuer <iss>] [--dry-run]`: erases every upload of
 * one user. Reads the stack's app settings from the environment, as the functions and
 * `npm run reprocess` do: the storage connection, DIRECTDROP_AUTH_ISSUER (the default
 * issuer) and DIRECTDROP_OWNER_KEY, without which no owner can be found (docs/deploy.md).
 */
import { InvocationContext } from '@azure/functions';
import { Command, CommanderError } from 'commander';
import { type Runtime, createRuntime } from '../functions/adapters/runtime';
import { SettingsError } from '../functions/core/settings';
import { eraseAll, ownerOf, uploadsOf } from './erase';
import type { CommandOutput } from './reprocess-command';

/** Exit codes: 1 some uploads could not be erased (their work items finish them); 2 bad flags or settings. */
export const EXIT = { ok: 0, incomplete: 1, usage: 2 } as const;

interface Options {
  subject: string;
  issuer?: string;
  dryRun: boolean;
}

export async function runEraseCommand(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>> = process.env,
  io: CommandOutput = {
    out: (line) => console.log(line),
    err: (line) => process.stderr.write(`${line}\n`),
  },
): Promise<number> {
  const { out, err } = io;
  const program = new Command('erase')
    .description('Erase every upload of one user (outputs, originals, records), with events.')
    .requiredOption('--subject <sub>', "the user's subject (the token's sub claim)")
    .option('--issuer <iss>', 'the identity provider (default: DIRECTDROP_AUTH_ISSUER)')
    .option('--dry-run', 'count and list the uploads, erase nothing', false)
    .exitOverride()
    .configureOutput({ writeErr: (s) => err(s.trimEnd()), writeOut: (s) => out(s.trimEnd()) });
  let options: Options;
  try {
    program.parse(argv, { from: 'user' });
    options = program.opts<Options>();
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    throw error;
  }

  let runtime: Runtime;
  try {
    runtime = createRuntime(env);
  } catch (error) {
    if (!(error instanceof SettingsError)) throw error;
    err(`erase: ${error.message}`);
    return EXIT.usage;
  }
  const issuer = options.issuer ?? runtime.settings.authIssuer;
  if (!issuer) {
    err('erase: --issuer is required when DIRECTDROP_AUTH_ISSUER is not set');
    return EXIT.usage;
  }
  const owner = ownerOf(runtime, issuer, options.subject);
  const records = await uploadsOf(runtime, owner);
  out(`uploads of ${options.subject} (${issuer}): ${records.length}`);
  if (options.dryRun) {
    for (const r of records) out(`  ${r.uploadId}\t${r.status}\t${r.issuedAt}\t${r.fileName}`);
    return EXIT.ok;
  }
  const context = new InvocationContext({
    functionName: 'erase',
    invocationId: `erase-${Date.now()}`,
    logHandler: (level, ...args) => {
      if (level === 'warning' || level === 'error') err(`erase: ${args.map(String).join(' ')}`);
    },
  });
  const report = await eraseAll(runtime, records, context, (done, uploadId) =>
    out(`erased ${done}/${records.length} ${uploadId}`),
  );
  out(`erased: ${report.erased.length}`);
  if (report.failed.length > 0) {
    out(`failed: ${report.failed.length} (each has a work item that finishes it)`);
    for (const { uploadId, reason } of report.failed) out(`  failed ${uploadId}: ${reason}`);
    return EXIT.incomplete;
  }
  return EXIT.ok;
}
