/**
 * The uploading client, in its own process so that its CPU never counts as ours.
 * Receives one request at a time over IPC, sends `size` bytes (optionally paced like a
 * slow connection) and answers with the status, the wall time and the body's SHA-256.
 */
import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';

export interface ClientJob {
  url: string;
  method: 'PUT' | 'POST';
  headers: Record<string, string>;
  size: number;
  /** Bytes per second; undefined sends as fast as the connection takes them. */
  rate?: number;
}

export interface ClientReply {
  status: number;
  wallMs: number;
  sha256: string;
  /** The response body, for endpoints that report on themselves. */
  body: string;
  error?: string;
}

const CHUNK = 64 * 1024;
// Incompressible bytes, as photos are; one pool sliced per upload.
const pool = randomBytes(25 * 1024 * 1024 + CHUNK);
let uploads = 0;

function send(job: ClientJob): Promise<ClientReply> {
  // A different offset per upload keeps every body distinct.
  const offset = (uploads++ * 4099) % CHUNK;
  const body = pool.subarray(offset, offset + job.size);
  const sha256 = createHash('sha256').update(body).digest('hex');
  const start = performance.now();
  return new Promise((resolve) => {
    const req = request(
      job.url,
      {
        method: job.method,
        headers: { ...job.headers, 'content-length': String(job.size) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            wallMs: performance.now() - start,
            sha256,
            body: text,
          }),
        );
      },
    );
    req.on('error', (error) =>
      resolve({
        status: 0,
        wallMs: performance.now() - start,
        sha256,
        body: '',
        error: error.message,
      }),
    );
    if (job.rate === undefined) {
      req.end(body);
      return;
    }
    // Paced against the start time, so timer jitter does not accumulate.
    const rate = job.rate;
    let sent = 0;
    const pump = () => {
      const due = Math.min(job.size, Math.ceil(((performance.now() - start) / 1000) * rate));
      while (sent < due) {
        const end = Math.min(sent + CHUNK, due);
        req.write(body.subarray(sent, end));
        sent = end;
      }
      if (sent >= job.size) req.end();
      else setTimeout(pump, 10);
    };
    pump();
  });
}

process.on('message', (job: ClientJob) => {
  void send(job).then((reply) => process.send?.(reply));
});
process.on('disconnect', () => process.exit(0));
