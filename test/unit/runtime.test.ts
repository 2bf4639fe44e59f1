import { expect } from 'chai';
import { connectStorage, createRuntime } from '../../functions/adapters/runtime';
import { STORAGE_CONNECTION } from '../../functions/core/definitions';
import { SETTING_KEYS, SettingsError } from '../../functions/core/settings';
import { DEV_ACCOUNT_KEY, devStorageEndpoints } from '../../local/azurite';

describe('runtime: the connection decides the signer', () => {
  it('signs with the account key for a connection string (Azurite, development)', () => {
    const { signer, service } = connectStorage({
      [STORAGE_CONNECTION]: 'UseDevelopmentStorage=true',
    });
    expect(signer.kind).to.equal('account-key');
    expect(service.url).to.match(/^http:\/\/127\.0\.0\.1:10000\/devstoreaccount1/);
  });

  it('signs with a user delegation key for an identity-based connection (Azure)', () => {
    const { signer, service } = connectStorage({
      [`${STORAGE_CONNECTION}__blobServiceUri`]: 'https://acct.blob.core.windows.net',
      [`${STORAGE_CONNECTION}__queueServiceUri`]: 'https://acct.queue.core.windows.net',
      [`${STORAGE_CONNECTION}__credential`]: 'managedidentity',
    });
    expect(signer.kind).to.equal('user-delegation');
    expect(service.accountName).to.equal('acct');
  });

  it('names the missing setting when there is no connection', () => {
    expect(() => connectStorage({})).to.throw(
      SettingsError,
      `${STORAGE_CONNECTION}__blobServiceUri`,
    );
  });

  it('never echoes a connection string it cannot use', () => {
    const secret = `DefaultEndpointsProtocol=https;AccountName=acct;SharedAccessSignature=sv=2020&sig=SECRET`;
    let message = '';
    try {
      connectStorage({ [STORAGE_CONNECTION]: secret });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).to.contain(STORAGE_CONNECTION);
    expect(message).not.to.contain('SECRET');
  });

  it('fails at startup on an invalid setting, naming it', () => {
    const env = {
      [STORAGE_CONNECTION]: `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${DEV_ACCOUNT_KEY};BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;`,
      [SETTING_KEYS.maxUploadBytes]: '-3',
    };
    expect(() => createRuntime(env)).to.throw(SettingsError, SETTING_KEYS.maxUploadBytes);
  });

  it('needs the public base URL: statusUrl is never built from the request', () => {
    const env = {
      [STORAGE_CONNECTION]: devStorageEndpoints('127.0.0.1', 10000, 10001).connectionString,
    };
    expect(() => createRuntime(env)).to.throw(SettingsError, SETTING_KEYS.publicBaseUrl);
    const runtime = createRuntime({
      ...env,
      [SETTING_KEYS.publicBaseUrl]: 'https://a.example/api',
    });
    expect(runtime.settings.publicBaseUrl).to.equal('https://a.example/api');
  });
});
