#!/usr/bin/env node
// The `directdrop` command: runs the TypeScript CLI through tsx, so no build step is needed.
// Operator commands (dev-token, drop zones) live with local mode, apart from the client library.
import process from 'node:process';
import { tsImport } from 'tsx/esm/api';

const OPERATOR_COMMANDS = new Set(['dev-token', 'dropzone-url', 'dropzone']);
const module = OPERATOR_COMMANDS.has(process.argv[2]) ? '../local/operator-cli.ts' : './cli.ts';
const cli = await tsImport(module, import.meta.url);
process.exitCode = await cli.main(process.argv);
