/** Entry point the Azure Functions host loads (package.json "main"). */
import { app } from '@azure/functions';
import { getRuntime } from './adapters/runtime';
import { registrations } from './registrations';

// Fail at startup, naming the setting, rather than on the first request.
getRuntime();

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
