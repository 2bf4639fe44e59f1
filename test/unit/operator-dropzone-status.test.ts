/**
 * `npx directdrop dropzone status` finds a zone's records by the app's owner key, so without
 * it the command must refuse and say where the key is, never list an empty zone.
 */
import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OWNER_KEY_SETTING } from '../../functions/core/settings';
import { main } from '../../local/operator-cli';

const ZONES = JSON.stringify([{ name: 'cameras', retentionDays: 7, maxSasHours: 24 }]);

async function run(args: string[]): Promise<{ code: number; stderr: string; stdout: string }> {
  let stderr = '';
  let stdout = '';
  const write = { err: process.stderr.write, out: process.stdout.write };
  process.stderr.write = ((chunk: string) => ((stderr += chunk), true)) as typeof write.err;
  process.stdout.write = ((chunk: string) => ((stdout += chunk), true)) as typeof write.out;
  try {
    const code = await main(['node', 'directdrop', ...args]);
    return { code, stderr, stdout };
  } finally {
    process.stderr.write = write.err;
    process.stdout.write = write.out;
  }
}

describe('npx directdrop dropzone status without the owner key', function () {
  let saved: string | undefined;
  beforeEach(() => {
    saved = process.env[OWNER_KEY_SETTING];
    delete process.env[OWNER_KEY_SETTING];
  });
  afterEach(() => {
    if (saved === undefined) delete process.env[OWNER_KEY_SETTING];
    else process.env[OWNER_KEY_SETTING] = saved;
  });

  it('refuses against Azure, naming the setting and where to read it', async function () {
    const { code, stderr, stdout } = await run([
      'dropzone',
      'status',
      'cameras',
      '--zones',
      ZONES,
      '--blob-endpoint',
      'https://uploads.blob.core.windows.net',
    ]);
    expect(code).to.equal(2);
    expect(stderr).to.contain(OWNER_KEY_SETTING).and.contain('appsettings list');
    expect(stdout).to.equal('');
  });

  it('refuses locally when the data folder holds no owner key', async function () {
    const empty = await mkdtemp(join(tmpdir(), 'directdrop-no-identity-'));
    try {
      const { code, stderr } = await run([
        'dropzone',
        'status',
        'cameras',
        '--zones',
        ZONES,
        '--data',
        empty,
      ]);
      expect(code).to.equal(2);
      expect(stderr).to.contain(`No owner key in ${empty}`);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});
