#!/usr/bin/env node
// `npx directdrop` in this repository: the client package's compiled CLI, plus the operator
// commands that need the server's code (local mode's identity provider, drop zones), which
// the published client package deliberately leaves out.
import process from 'node:process';

const OPERATOR_COMMANDS = new Set(['dev-token', 'dropzone-url', 'dropzone']);

if (OPERATOR_COMMANDS.has(process.argv[2])) {
  const { tsImport } = await import('tsx/esm/api');
  const cli = await tsImport('../local/operator-cli.ts', import.meta.url);
  process.exitCode = await cli.main(process.argv);
} else {
  await import('../client/dist/bin.js');
}
