/**
 * Runs the example backend: `npx tsx examples/backend/server.ts` from the repository, beside
 * `npm start -- --webhook http://127.0.0.1:3000/directdrop/events`. Settings (environment):
 * - DIRECTDROP_WEBHOOK_SECRET: the subscription's secret; by default the one local mode keeps
 *   in its data folder (DIRECTDROP_LOCAL_DATA, default .local) as `webhook-secret`;
 * - DIRECTDROP_EVENT_SOURCES: comma-separated stack sources to accept (default any);
 * - OIDC_ISSUER, OIDC_AUDIENCE: whose tokens sign users in (default local mode's provider);
 * - ENTRA_TENANT_ID, ENTRA_AUDIENCES: also require Event Grid's Entra ID token on deliveries
 *   (a subscription with Entra ID-protected delivery; entra-delivery.ts);
 * - PORT (3000), BACKEND_DB (.local/example-backend.sqlite).
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join } from 'node:path';
import { EVENTS_PATH, createBackend } from './app.js';
import { entraDeliveryAuthorizer } from './entra-delivery.js';
import { BackendStore } from './store.js';
import { oidcUsers } from './users.js';

const env = process.env;
const secret =
  env.DIRECTDROP_WEBHOOK_SECRET ??
  readFileSync(join(env.DIRECTDROP_LOCAL_DATA ?? '.local', 'webhook-secret'), 'utf8').trim();
const databasePath = env.BACKEND_DB ?? '.local/example-backend.sqlite';
mkdirSync(dirname(databasePath), { recursive: true });
const store = new BackendStore(databasePath);
const port = Number(env.PORT ?? 3000);

const server = createServer(
  createBackend({
    store,
    receiver: {
      secret,
      sources: env.DIRECTDROP_EVENT_SOURCES?.split(',').map((s) => s.trim()),
      authorize: env.ENTRA_TENANT_ID
        ? entraDeliveryAuthorizer({
            tenantId: env.ENTRA_TENANT_ID,
            audiences: (env.ENTRA_AUDIENCES ?? '').split(',').map((s) => s.trim()),
          })
        : undefined,
    },
    users: oidcUsers({
      issuer: env.OIDC_ISSUER ?? 'http://localhost:7071/dev-identity',
      audience: env.OIDC_AUDIENCE ?? 'directdrop-local',
    }),
  }),
);
server.listen(port, '127.0.0.1', () => {
  console.log(
    `example backend on http://127.0.0.1:${port}: events at ${EVENTS_PATH}, GET /my-uploads, POST /posts`,
  );
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => server.close(() => store.close()));
}
