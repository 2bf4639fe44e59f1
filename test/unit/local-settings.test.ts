import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { STORAGE_CONNECTION, WORKER_PROCESS_ENV } from '../../functions/core/definitions';
import { DEFAULT_SETTINGS, parseSettings, toAppSettings } from '../../functions/core/settings';
import {
  localSettingsExample,
  localSettingsExampleText,
  readLocalSettingsValues,
} from '../../local/local-settings';

describe('local-settings', () => {
  it('the committed local.settings.example.json is generated from the shared definitions', async () => {
    const committed = await readFile(join(__dirname, '../../local.settings.example.json'), 'utf8');
    expect(committed, 'regenerate it with localSettingsExampleText()').to.equal(
      localSettingsExampleText(),
    );
  });

  it('holds what func start needs and every app setting at its default', () => {
    const { Values, Host } = localSettingsExample();
    expect(Values.FUNCTIONS_WORKER_RUNTIME).to.equal('node');
    expect(Values.AzureWebJobsStorage).to.equal('UseDevelopmentStorage=true');
    expect(Values[STORAGE_CONNECTION]).to.equal('UseDevelopmentStorage=true');
    const local = { ...DEFAULT_SETTINGS, publicBaseUrl: 'http://localhost:7071/api' };
    expect(Values).to.deep.include(toAppSettings(local));
    expect(parseSettings(Values)).to.deep.equal(local);
    expect(Host.LocalHttpPort).to.equal(7071);
  });

  it("starts func start's Node worker with the environment Azure gives the function app", () => {
    // Core Tools puts Values in the worker's environment; glibc reads MALLOC_ARENA_MAX at start.
    expect(localSettingsExample().Values).to.deep.include(WORKER_PROCESS_ENV);
  });

  describe('readLocalSettingsValues', () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'directdrop-settings-'));
    });
    afterEach(() => rm(dir, { recursive: true, force: true }));

    it('returns the Values as strings, or {} without a file', async () => {
      const path = join(dir, 'local.settings.json');
      expect(await readLocalSettingsValues(path)).to.deep.equal({});
      await writeFile(path, JSON.stringify({ Values: { A: 'x', B: 3 } }));
      expect(await readLocalSettingsValues(path)).to.deep.equal({ A: 'x', B: '3' });
    });

    it('refuses broken and encrypted files', async () => {
      const path = join(dir, 'local.settings.json');
      await writeFile(path, '{ not json');
      let error: unknown;
      await readLocalSettingsValues(path).catch((e) => (error = e));
      expect(String(error)).to.match(/not valid JSON/);
      await writeFile(path, JSON.stringify({ IsEncrypted: true, Values: { A: 'x' } }));
      error = undefined;
      await readLocalSettingsValues(path).catch((e) => (error = e));
      expect(String(error)).to.match(/encrypted/);
    });
  });
});
