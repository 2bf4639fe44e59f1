import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join, posix } from 'node:path';
import { expect } from 'chai';
import { findCoreTools } from '../../local/core-tools';

const root = join(__dirname, '../..');

async function json(path: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(join(root, path), 'utf8'));
}

describe('core-tools', () => {
  it('the build puts the app entry point where package.json main tells the host to look', async () => {
    const pkg = await json('package.json');
    const build = await json('tsconfig.build.json');
    const base = await json(build.extends as string);
    const options = {
      ...(base.compilerOptions as Record<string, string>),
      ...(build.compilerOptions as Record<string, string>),
    };
    expect(build.include).to.include('functions');
    const emitted = posix.join(
      options.outDir,
      posix.relative(options.rootDir, 'functions/index.ts').replace(/\.ts$/, '.js'),
    );
    expect(pkg.main).to.equal(emitted);
  });

  it('finds an executable func on PATH, and nothing when there is none', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'directdrop-path-'));
    try {
      expect(await findCoreTools({ PATH: dir })).to.equal(undefined);
      const name = process.platform === 'win32' ? 'func.cmd' : 'func';
      await writeFile(join(dir, name), '#!/bin/sh\n');
      await chmod(join(dir, name), 0o755);
      expect(await findCoreTools({ PATH: `/nonexistent${delimiter}${dir}` })).to.equal(
        join(dir, name),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
