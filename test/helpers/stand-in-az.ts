/**
 * A stand-in `az` on PATH for the scripts that drive the Azure CLI: it records every argv it
 * receives, and answers from a script of responses (one per call, the last one repeating).
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';

export interface AzResponse {
  exitCode?: number;
  stdout?: string;
  stderr?: string;
  /** Milliseconds to wait before answering (to test timeouts). */
  delayMs?: number;
}

export interface StandInAz {
  /** The environment to run a script with: the stand-in first on PATH, then this Node. */
  env: NodeJS.ProcessEnv;
  /** Every argv the stand-in received, in order. */
  calls(): string[][];
}

const STAND_IN = `#!/usr/bin/env node
const fs = require('node:fs');
const path = require('node:path');
const dir = __dirname;
const log = path.join(dir, 'calls.jsonl');
const args = process.argv.slice(2);
fs.appendFileSync(log, JSON.stringify(args) + '\\n');
const call = fs.readFileSync(log, 'utf8').trim().split('\\n').length - 1;
const responses = JSON.parse(fs.readFileSync(path.join(dir, 'responses.json'), 'utf8'));
const byCommand = responses.byCommand;
let response;
if (byCommand) {
  const key = Object.keys(byCommand).find((prefix) => args.join(' ').startsWith(prefix));
  response = key ? byCommand[key] : { exitCode: 2, stderr: 'stand-in az: unexpected ' + args.join(' ') };
} else {
  response = responses.list[Math.min(call, responses.list.length - 1)];
}
setTimeout(() => {
  if (response.stdout) process.stdout.write(response.stdout);
  if (response.stderr) process.stderr.write(response.stderr);
  process.exit(response.exitCode ?? 0);
}, response.delayMs ?? 0);
`;

/**
 * Writes the stand-in. `responses` is a list answered in call order (the last repeating),
 * or a map from a command prefix ("account show") to its answer.
 */
export function standInAz(responses: AzResponse[] | Record<string, AzResponse>): StandInAz {
  const dir = mkdtempSync(join(tmpdir(), 'directdrop-az-'));
  writeFileSync(join(dir, 'az'), STAND_IN);
  chmodSync(join(dir, 'az'), 0o755);
  writeFileSync(
    join(dir, 'responses.json'),
    JSON.stringify(Array.isArray(responses) ? { list: responses } : { byCommand: responses }),
  );
  const log = join(dir, 'calls.jsonl');
  return {
    env: { ...process.env, PATH: [dir, dirname(process.execPath)].join(delimiter) },
    calls: () =>
      existsSync(log)
        ? readFileSync(log, 'utf8')
            .trim()
            .split('\n')
            .map((line) => JSON.parse(line) as string[])
        : [],
  };
}
