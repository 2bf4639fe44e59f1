/**
 * Builds the function package Pulumi deploys (bundle + linux-x64 sharp, zipped), e.g. once
 * in CI; point `directdrop:functionPackagePath` at the zip to deploy that exact build.
 */
import { relative } from 'node:path';
import { buildFunctionPackage } from '../infra/function-package';

const started = Date.now();
const built = buildFunctionPackage();
console.log(
  `${relative(process.cwd(), built.zipPath)}  ${(built.bytes / 1024 / 1024).toFixed(1)} MiB  sha256 ${built.sha256}  (${((Date.now() - started) / 1000).toFixed(1)} s)`,
);
