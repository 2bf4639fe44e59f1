/**
 * Builds the zip Flex Consumption runs: the functions bundled by esbuild (index.js and the
 * HEIC decode worker), host.json, sharp installed for linux-x64 (glibc) whatever the
 * operator's OS, and libheif-js (WebAssembly, the same on every platform). The
 * zip is byte-for-byte reproducible, so its SHA-256 changes only when the code does.
 */
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { buildSync } from 'esbuild';
import { zipSync, type Zippable } from 'fflate';
import { CONFIG_DEFAULTS } from './config';

export interface FunctionPackage {
  zipPath: string;
  sha256: string;
  bytes: number;
}

export interface BuildFunctionPackageOptions {
  /** Repository root holding package.json, host.json and node_modules. */
  repoRoot?: string;
  /** The functions entry point, relative to repoRoot. */
  entry?: string;
  /** Where the staging folder and the zip go, relative to repoRoot. */
  outDir?: string;
  /** The Node major the function app runs (`directdrop:nodeVersion`); the bundle targets it. */
  nodeVersion?: string;
}

const REPO_ROOT = resolve(__dirname, '..');
export const FUNCTION_PACKAGE_FILE = 'directdrop-functions.zip';
/** Where sharp's native addon and libvips for the Flex workers (Linux x64, glibc) land. */
export const LINUX_SHARP_DIR = 'node_modules/@img/sharp-linux-x64/lib';
export const LINUX_LIBVIPS_DIR = 'node_modules/@img/sharp-libvips-linux-x64/lib';
/** The bundled worker-thread entry that decodes HEIC, as dist/<name>.js. */
export const HEIC_WORKER_ENTRY = 'heic-decode-worker';
/**
 * libheif-js ships three builds (asm.js, wasm with the binary inlined twice over, wasm with
 * a separate .wasm); the functions load only the last, so the other 7 MB stay out.
 */
export const UNUSED_LIBHEIF_FILES = [
  'libheif',
  'libheif-wasm/libheif-bundle.js',
  'libheif-wasm/libheif-bundle.mjs',
];

// DOS timestamps are local time: building the date from local fields keeps every
// entry's stored time identical in every time zone.
const FIXED_MTIME = new Date(2000, 0, 1);

export function buildFunctionPackage(options: BuildFunctionPackageOptions = {}): FunctionPackage {
  const repoRoot = options.repoRoot ?? REPO_ROOT;
  const outDir = resolve(repoRoot, options.outDir ?? '.local/function-package');
  const staging = join(outDir, 'staging');
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(join(staging, 'dist'), { recursive: true });

  const nodeVersion = options.nodeVersion ?? CONFIG_DEFAULTS.nodeVersion;
  bundleFunctions({
    repoRoot,
    // The HEIC decoder's worker thread runs its own file, beside index.js (heic-decode.ts).
    entryPoints: {
      index: options.entry ?? 'functions/index.ts',
      [HEIC_WORKER_ENTRY]: 'functions/core/heic-decode-worker.ts',
    },
    outdir: join(staging, 'dist'),
    nodeVersion,
  });
  writeFileSync(
    join(staging, 'package.json'),
    `${JSON.stringify(stagingManifest(repoRoot, nodeVersion), null, 2)}\n`,
  );
  copyFileSync(join(repoRoot, 'host.json'), join(staging, 'host.json'));
  installLinuxSharp(staging);
  for (const unused of UNUSED_LIBHEIF_FILES)
    rmSync(join(staging, 'node_modules', 'libheif-js', unused), { recursive: true, force: true });

  const zip = zipFolder(staging);
  const zipPath = join(outDir, FUNCTION_PACKAGE_FILE);
  writeFileSync(zipPath, zip);
  return { zipPath, sha256: sha256(zip), bytes: zip.byteLength };
}

/** Bundles the functions into one CommonJS file for the Node major the app runs on. */
export function bundleFunctions(options: {
  repoRoot: string;
  /** Output file name (without .js) → source entry. */
  entryPoints: Record<string, string>;
  outdir: string;
  nodeVersion: string;
}): void {
  buildSync({
    absWorkingDir: options.repoRoot,
    entryPoints: options.entryPoints,
    outdir: options.outdir,
    bundle: true,
    platform: 'node',
    target: `node${options.nodeVersion}`,
    format: 'cjs',
    keepNames: true,
    // sharp is native and libheif-js loads its .wasm from beside itself: both are installed
    // below. The Functions worker provides functions-core.
    external: ['sharp', 'libheif-js', '@azure/functions-core'],
    logLevel: 'warning',
  });
}

/** Hashes a package built earlier, e.g. by CI with `npm run package:functions`. */
export function describeFunctionPackage(zipPath: string): FunctionPackage {
  const zip = readFileSync(zipPath);
  return { zipPath: resolve(zipPath), sha256: sha256(zip), bytes: zip.byteLength };
}

/** The package's own package.json; `engines` records the Node major the bundle targets. */
export function stagingManifest(repoRoot: string, nodeVersion: string) {
  const repoManifest = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
    version: string;
  };
  // The exact versions the tests ran with (sharp's exports hide its package.json from require).
  const installedVersion = (name: string) =>
    (
      JSON.parse(readFileSync(join(repoRoot, 'node_modules', name, 'package.json'), 'utf8')) as {
        version: string;
      }
    ).version;
  return {
    name: 'directdrop-functions',
    version: repoManifest.version,
    private: true,
    main: 'dist/index.js',
    engines: { node: `>=${nodeVersion}` },
    dependencies: {
      sharp: installedVersion('sharp'),
      'libheif-js': installedVersion('libheif-js'),
    },
  };
}

/** sharp's documented cross-platform install (sharp.pixelplumbing.com/install#cross-platform). */
function installLinuxSharp(staging: string): void {
  const windows = process.platform === 'win32';
  const result = spawnSync(
    windows ? 'npm.cmd' : 'npm',
    [
      'install',
      '--os=linux',
      '--cpu=x64',
      '--libc=glibc',
      '--omit=dev',
      '--no-package-lock',
      '--ignore-scripts',
      '--no-audit',
      '--no-fund',
    ],
    { cwd: staging, encoding: 'utf8', shell: windows },
  );
  if (result.status !== 0) {
    throw new Error(
      `npm install of sharp for linux-x64 failed (exit ${result.status}):\n${result.stderr}`,
    );
  }
  const hasFile = (dir: string, suffix: string) =>
    existsSync(join(staging, dir)) &&
    readdirSync(join(staging, dir)).some((file) => file.includes(suffix));
  if (!hasFile(LINUX_SHARP_DIR, '.node') || !hasFile(LINUX_LIBVIPS_DIR, '.so')) {
    // npm 10.4–10.5 skipped other platforms' optional dependencies (npm/cli#7406).
    throw new Error(
      `npm did not install sharp's linux-x64 binaries into ${staging}; upgrade npm and retry`,
    );
  }
}

/** Zips a folder reproducibly: sorted entries, fixed timestamps, nothing machine-specific. */
export function zipFolder(folder: string): Uint8Array {
  const entries: Zippable = {};
  for (const file of listFiles(folder)) {
    const name = relative(folder, file).split(sep).join('/');
    // npm's hidden lockfile records this machine's registry URLs and is not needed at run time.
    if (name === 'node_modules/.package-lock.json') continue;
    entries[name] = [readFileSync(file), { mtime: FIXED_MTIME }];
  }
  return zipSync(entries, { level: 6 });
}

function listFiles(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .flatMap((entry) => {
      const path = join(folder, entry.name);
      return entry.isDirectory() ? listFiles(path) : entry.isFile() ? [path] : [];
    });
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
