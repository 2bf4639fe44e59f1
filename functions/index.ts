/** Entry point the Azure Functions host loads (package.json "main"). */
import { app } from '@azure/functions';
import { registrations } from './registrations';

app.setup({ enableHttpStream: false });

for (const registration of registrations) {
  if (registration.kind === 'http') {
    const { name, methods, route, authLevel, handler } = registration;
    app.http(name, { methods, route, authLevel, handler });
  } else {
    const { name, queueName, connection, handler } = registration;
    app.storageQueue(name, { queueName, connection, handler });
  }
}
