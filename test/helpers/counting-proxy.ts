/**
 * A plain HTTP proxy in front of a storage endpoint that counts what passes through, so a
 * test can tell how much storage work a request did without mocking any client.
 */
import { type Server, createServer, request } from 'node:http';

export interface CountingProxy {
  /** The proxy's endpoint, with the target's path (e.g. `/devstoreaccount1`). */
  endpoint: string;
  /** `METHOD path` of every request forwarded since the last reset. */
  requests: string[];
  reset(): void;
  close(): Promise<void>;
}

export async function startCountingProxy(target: string): Promise<CountingProxy> {
  const to = new URL(target);
  const requests: string[] = [];
  const server: Server = createServer((incoming, outgoing) => {
    requests.push(`${incoming.method} ${(incoming.url ?? '').split('?')[0]}`);
    const forwarded = request(
      {
        host: to.hostname,
        port: to.port,
        method: incoming.method,
        path: incoming.url,
        headers: incoming.headers,
      },
      (answer) => {
        outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(outgoing);
      },
    );
    forwarded.on('error', () => outgoing.destroy());
    incoming.pipe(forwarded);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    endpoint: `http://127.0.0.1:${port}${to.pathname}`,
    requests,
    reset: () => requests.splice(0),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
