/**
 * Builds the function package Pulumi deploys (bundle + linux-x64 sharp, zipped), e.g. once
 * in CI; point `directdrop:functionPackagePath` at the zip to deploy that exact build.
 * `--node 22` builds for a stack whose `directdrop:nodeVersion` is 22 (default 24).
 */
import { relative } from 'node:path';
import { parseArgs } from 'node:util';
import { NODE_VERSIONS, type NodeVersion, CONFIG_DEFAULTS } from '../infra/config';
import { buildFunctionPackage } from '../infra/function-package';

const { values } = parseArgs({ options: { node: { type: 'string' } } });
const nodeVersion = values.node ?? CONFIG_DEFAULTS.nodeVersion;
if (!(NODE_VERSIONS as readonly string[]).includes(nodeVersion)) {
  console.error(`--node ${nodeVersion}: choose one of ${NODE_VERSIONS.join(', ')}`);
  process.exit(2);
}

const started = Date.now();
const built = buildFunctionPackage({ nodeVersion: nodeVersion as NodeVersion });
console.log(
  `${relative(process.cwd(), built.zipPath)}  ${(built.bytes / 1024 / 1024).toFixed(1)} MiB  node ${nodeVersion}  sha256 ${built.sha256}  (${((Date.now() - started) / 1000).toFixed(1)} s)`,
);
