/** Entry point the Azure Functions host loads (package.json "main"). */
import { app } from '@azure/functions';
import { getRuntime } from './adapters/runtime';
import { registrations } from './registrations';

// Fail at startup, naming the setting, rather than on the first request.
getRuntime();

// Request bodies arrive as streams, so a handler stops reading at its limit instead of the
// worker buffering whatever a client sends (learn.microsoft.com/azure/azure-functions/node-http-stream).
app.setup({ enableHttpStream: true });

for (const registration of registrations) {
  if (registration.kind === 'http') {
    const { name, methods, route, authLevel, handler } = registration;
    app.http(name, { methods, route, authLevel, handler });
  } else if (registration.kind === 'queue') {
    const { name, queueName, connection, handler } = registration;
    app.storageQueue(name, { queueName, connection, handler });
  } else {
    const { name, schedule, handler } = registration;
    app.timer(name, { schedule, handler });
  }
}
