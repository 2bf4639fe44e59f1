#!/usr/bin/env node
// The `directdrop` command (package.json `bin`): the compiled CLI, no TypeScript at run time.
import { main } from './cli.js';

process.exitCode = await main(process.argv);
