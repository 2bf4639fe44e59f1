/**
 * The architecture directdrop avoids, as its own process (its own "function instance"):
 * an HTTP endpoint that receives the upload body and writes it to Blob Storage itself,
 * streamed in 4 MiB blocks so memory stays bounded. It answers with the CPU and the
 * wall time it spent on the request, measured around exactly that work.
 */
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BlobServiceClient } from '@azure/storage-blob';

export interface ProxyTiming {
  cpuMs: number;
  busyMs: number;
  /** The proxy process's peak resident memory so far: what an instance serving it needs. */
  maxRssBytes: number;
}

const connectionString = process.env.BENCH_STORAGE ?? '';
const landing =
  BlobServiceClient.fromConnectionString(connectionString).getContainerClient('uploads');
const MIB = 1024 * 1024;

const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  const cpu = process.cpuUsage();
  const start = performance.now();
  const name = new URL(req.url ?? '/', 'http://proxy').searchParams.get('name') ?? '';
  landing
    .getBlockBlobClient(name)
    .uploadStream(req, 4 * MIB, 2, {
      blobHTTPHeaders: { blobContentType: req.headers['content-type'] ?? 'image/jpeg' },
    })
    .then(
      () => {
        const { user, system } = process.cpuUsage(cpu);
        const timing: ProxyTiming = {
          cpuMs: (user + system) / 1000,
          busyMs: performance.now() - start,
          maxRssBytes: process.resourceUsage().maxRSS * 1024,
        };
        res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify(timing));
      },
      (error: Error) => res.writeHead(502).end(error.message),
    );
});

server.listen(0, '127.0.0.1', () => {
  process.send?.({ port: (server.address() as AddressInfo).port });
});
process.on('disconnect', () => process.exit(0));
