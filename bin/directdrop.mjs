#!/usr/bin/env node
// `npx directdrop` in this repository: the client package's compiled CLI, plus the operator
// commands that need the server's code (local mode's identity provider, drop zones,
// outcome events, reprocessing, erasure), which the published client package deliberately leaves out.
import process from 'node:process';

const LOCAL_OPERATOR_COMMANDS = new Set(['dev-token', 'dropzone-url', 'dropzone', 'events']);
const command = process.argv[2];

if (LOCAL_OPERATOR_COMMANDS.has(command) || command === 'reprocess' || command === 'erase') {
  const { tsImport } = await import('tsx/esm/api');
  if (command === 'reprocess') {
    const ops = await tsImport('../ops/reprocess-command.ts', import.meta.url);
    process.exitCode = await ops.runReprocessCommand(process.argv.slice(3));
  } else if (command === 'erase') {
    const ops = await tsImport('../ops/erase-command.ts', import.meta.url);
    process.exitCode = await ops.runEraseCommand(process.argv.slice(3));
  } else {
    const cli = await tsImport('../local/operator-cli.ts', import.meta.url);
    process.exitCode = await cli.main(process.argv);
  }
} else {
  await import('../client/dist/bin.js');
}
