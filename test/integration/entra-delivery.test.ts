/**
 * examples/backend/entra-delivery.ts as the receiver's `authorize`: Entra ID-shaped v1 and v2
 * tokens from a local stand-in for the tenant's keys, right and wrong in each claim it checks.
 */
import { expect } from 'chai';
import { createReceiver } from '../../receiver/src/index';
import {
  EVENT_GRID_APP_ID,
  EVENT_GRID_ROLE,
  entraDeliveryAuthorizer,
} from '../../examples/backend/entra-delivery';
import {
  type LocalProviders,
  type TestKey,
  signToken,
  startLocalProviders,
  testKey,
} from '../helpers/identity-providers';
import { processedEvent, webhookDelivery } from '../helpers/outcome-events';

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const APP_ID = 'a1b2c3d4-0000-4000-8000-00000000abcd';
const SECRET = 'entra-and-secret-0123456789abcdef';

describe('examples/backend: Entra ID-protected webhook delivery', function () {
  let providers: LocalProviders;
  let key: TestKey;
  let v2Issuer: string;
  let authorize: ReturnType<typeof entraDeliveryAuthorizer>;

  before(async function () {
    providers = await startLocalProviders();
    key = await testKey('entra-key', 'RS256');
    providers.keys.push(key);
    v2Issuer = `${providers.origin}/${TENANT}/v2.0`;
    authorize = entraDeliveryAuthorizer({
      tenantId: TENANT,
      audiences: [APP_ID],
      authority: providers.origin,
    });
  });
  after(() => providers.close());

  const eventGridClaims = {
    aud: APP_ID,
    azp: EVENT_GRID_APP_ID,
    roles: [EVENT_GRID_ROLE],
    sub: 'eg-sp',
  };
  const withToken = (token: string | undefined) =>
    new Request('http://localhost/events', {
      ...webhookDelivery(
        processedEvent(),
        SECRET,
        token ? { authorization: `Bearer ${token}` } : {},
      ),
    });

  it("accepts Event Grid's v2 and v1 tokens for the app", async function () {
    const v2 = await signToken({ key, issuer: v2Issuer, claims: eventGridClaims });
    const v1 = await signToken({
      key,
      issuer: `https://sts.windows.net/${TENANT}/`,
      claims: { aud: `api://${APP_ID}`, appid: EVENT_GRID_APP_ID, roles: [EVENT_GRID_ROLE] },
    });
    const authorizeUri = entraDeliveryAuthorizer({
      tenantId: TENANT,
      audiences: [APP_ID, `api://${APP_ID}`],
      authority: providers.origin,
    });
    expect([await authorizeUri(withToken(v2)), await authorizeUri(withToken(v1))]).to.deep.equal([
      true,
      true,
    ]);
  });

  it('refuses tokens that are not Event Grid’s, for this app, from this tenant, in time', async function () {
    const other = await testKey('entra-key', 'RS256');
    const cases: Array<[string, Promise<string> | undefined]> = [
      ['no token', undefined],
      [
        'another client',
        signToken({ key, issuer: v2Issuer, claims: { ...eventGridClaims, azp: APP_ID } }),
      ],
      [
        'no role',
        signToken({ key, issuer: v2Issuer, claims: { ...eventGridClaims, roles: ['Reader'] } }),
      ],
      [
        'another audience',
        signToken({ key, issuer: v2Issuer, claims: { ...eventGridClaims, aud: 'api://other' } }),
      ],
      [
        'another tenant',
        signToken({
          key,
          issuer: `${providers.origin}/other-tenant/v2.0`,
          claims: eventGridClaims,
        }),
      ],
      ['expired', signToken({ key, issuer: v2Issuer, claims: eventGridClaims, expiresIn: -120 })],
      [
        'signed by another key',
        signToken({ key: other, issuer: v2Issuer, claims: eventGridClaims }),
      ],
    ];
    for (const [what, token] of cases) {
      expect(await authorize(withToken(token && (await token))), what).to.equal(false);
    }
  });

  it('makes the receiver answer 401 to a delivery with the secret but without the token', async function () {
    const receiver = createReceiver({ secret: SECRET, authorize });
    const refused = await receiver.receive(withToken(undefined));
    expect([refused.kind, refused.response.status]).to.deep.equal(['refused', 401]);
    const token = await signToken({ key, issuer: v2Issuer, claims: eventGridClaims });
    const accepted = await receiver.receive(withToken(token));
    expect([accepted.kind, accepted.response.status]).to.deep.equal(['events', 204]);
  });
});
