#!/usr/bin/env node
// The `directdrop` command: runs the TypeScript CLI through tsx, so no build step is needed.
import process from 'node:process';
import { tsImport } from 'tsx/esm/api';

const cli = await tsImport('./cli.ts', import.meta.url);
process.exitCode = await cli.main(process.argv);
