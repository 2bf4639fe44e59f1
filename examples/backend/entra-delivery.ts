/**
 * The receiver's `authorize` for an Event Grid subscription with Microsoft Entra ID-protected
 * webhook delivery: Event Grid then sends, on every delivery, a bearer token it got from Entra
 * for the webhook's app registration. The token must be signed by the tenant's keys, issued
 * by the tenant (v1 or v2 tokens, per the app's accessTokenAcceptedVersion), for the app, to
 * Event Grid's own application, with the AzureEventGridSecureWebhookSubscriber app role.
 * https://learn.microsoft.com/azure/event-grid/secure-webhook-delivery
 * https://learn.microsoft.com/entra/identity-platform/access-tokens
 */
import type { DeliveryRequest } from '@directdrop/receiver';
import { createRemoteJWKSet, jwtVerify } from 'jose';

/** Event Grid's application in the public cloud (Azure Government: 54316b56-3481-47f9-8f30-0300f5542a7b). */
export const EVENT_GRID_APP_ID = '4962773b-9cdb-44cf-a8bf-237846a00ab7';
export const EVENT_GRID_ROLE = 'AzureEventGridSecureWebhookSubscriber';

export interface EntraDeliveryOptions {
  tenantId: string;
  /** The webhook app's application (client) ID and/or Application ID URI: the tokens' `aud`. */
  audiences: string[];
  /** Default https://login.microsoftonline.com (another cloud's, or a test's, otherwise). */
  authority?: string;
  eventGridAppId?: string;
}

export function entraDeliveryAuthorizer(
  options: EntraDeliveryOptions,
): (request: DeliveryRequest) => Promise<boolean> {
  const authority = options.authority ?? 'https://login.microsoftonline.com';
  const keys = createRemoteJWKSet(new URL(`${authority}/${options.tenantId}/discovery/v2.0/keys`));
  const issuers = [
    `${authority}/${options.tenantId}/v2.0`,
    `https://sts.windows.net/${options.tenantId}/`,
  ];
  const eventGrid = options.eventGridAppId ?? EVENT_GRID_APP_ID;
  return async (request) => {
    const token = /^Bearer\s+(\S+)$/i.exec(request.headers.get('authorization') ?? '')?.[1];
    if (!token) return false;
    try {
      const { payload } = await jwtVerify(token, keys, {
        issuer: issuers,
        audience: options.audiences,
        algorithms: ['RS256'],
      });
      // v2 tokens name the client in azp, v1 tokens in appid.
      const client = payload.azp ?? payload.appid;
      const roles = Array.isArray(payload.roles) ? payload.roles : [];
      return client === eventGrid && roles.includes(EVENT_GRID_ROLE);
    } catch {
      return false;
    }
  };
}
