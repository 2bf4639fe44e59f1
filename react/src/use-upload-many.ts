/**
 * `useUploadMany()`: a list of uploads as React state, at most `concurrency` sending at
 * once, each with its own state, progress and cancel, on top of the client's `startUpload`.
 *
 *   const { uploads, add } = useUploadMany({ apiBaseUrl: '/api', concurrency: 3 });
 *   <input type="file" multiple onChange={(e) => add(e.target.files!)} />
 *   {uploads.map((u) => <li key={u.id}>{u.fileName}: {u.state} {u.progress?.percent}</li>)}
 */
import { useEffect, useState } from 'react';
import type { UploadData, UploadOptions, UploadTask } from '@directdrop/client';
import { type UploadSnapshot, trackUpload } from './upload-state.js';

/** One file of the list. */
export interface UploadEntry extends UploadSnapshot {
  /** Stable for the hook's lifetime; use it as the React key. */
  id: string;
  fileName: string;
  /** Bytes. */
  size: number;
}

export interface UseUploadManyOptions extends Omit<UploadOptions, 'fileName'> {
  /** Uploads sending at once; the others wait `queued`. Default 3. */
  concurrency?: number;
  /** Called once per file as it settles (`processed`, `failed` or `cancelled`). */
  onOutcome?: (entry: UploadEntry) => void;
}

export interface UseUploadManyResult {
  /** Every file added and not removed, in the order added. */
  uploads: readonly UploadEntry[];
  /** Queues the files (a `FileList` works) and returns their ids. */
  add(
    files: Iterable<UploadData> | ArrayLike<UploadData>,
    options?: Partial<UploadOptions>,
  ): string[];
  /** Cancels one upload, queued or running. */
  cancel(id: string): void;
  /** Cancels every upload still queued or running. */
  cancelAll(): void;
  /** Removes the settled uploads from the list. */
  clearSettled(): void;
}

const DEFAULT_CONCURRENCY = 3;

interface Job {
  id: string;
  data: UploadData;
  options?: Partial<UploadOptions>;
  task?: UploadTask;
}

const isSettled = (entry: UploadEntry) =>
  entry.state === 'processed' || entry.state === 'failed' || entry.state === 'cancelled';

function describeData(data: UploadData): { fileName: string; size: number } {
  const named = data as { name?: unknown; size?: unknown; byteLength?: unknown };
  const fileName = typeof named.name === 'string' && named.name !== '' ? named.name : 'upload';
  const size = typeof named.size === 'number' ? named.size : Number(named.byteLength ?? 0);
  return { fileName, size };
}

type SetUploads = (update: (list: readonly UploadEntry[]) => readonly UploadEntry[]) => void;

/**
 * The queue and the uploads in flight. It lives outside React state, since it changes as
 * uploads settle, between renders; every change it makes to the list goes through `setUploads`.
 */
function createScheduler(setUploads: SetUploads, initialOptions: UseUploadManyOptions) {
  const options = { current: initialOptions };
  let nextId = 0;
  const running = new Map<string, Job>();
  const queued: Job[] = [];
  const patch = (id: string, next: Partial<UploadEntry>) =>
    setUploads((list) => list.map((entry) => (entry.id === id ? { ...entry, ...next } : entry)));

  /** Queued jobs taken off the queue settle as cancelled without ever starting. */
  const dequeue = (jobs: Job[]) => {
    for (const job of jobs) {
      patch(job.id, { state: 'cancelled' });
      options.current.onOutcome?.({ id: job.id, state: 'cancelled', ...describeData(job.data) });
    }
  };

  const pump = () => {
    const { concurrency = DEFAULT_CONCURRENCY, onOutcome, ...uploadOptions } = options.current;
    while (running.size < Math.max(1, concurrency) && queued.length > 0) {
      const job = queued.shift()!;
      running.set(job.id, job);
      job.task = trackUpload(job.data, { ...uploadOptions, ...job.options }, (snapshot) => {
        if (running.get(job.id) !== job) return; // disposed meanwhile
        patch(job.id, snapshot);
        if (snapshot.state === 'running') return;
        running.delete(job.id);
        onOutcome?.({ id: job.id, ...describeData(job.data), ...snapshot });
        pump();
      });
    }
  };

  return {
    /** The hook's latest options, read when each file's turn comes. */
    configure(latest: UseUploadManyOptions) {
      options.current = latest;
    },
    add(files: Iterable<UploadData> | ArrayLike<UploadData>, overrides?: Partial<UploadOptions>) {
      const added: UploadEntry[] = [];
      for (const data of Array.from(files)) {
        const id = String(++nextId);
        queued.push({ id, data, options: overrides });
        added.push({ id, state: 'queued', ...describeData(data) });
      }
      setUploads((list) => [...list, ...added]);
      pump();
      return added.map((entry) => entry.id);
    },
    cancel(id: string) {
      const waiting = queued.findIndex((job) => job.id === id);
      if (waiting >= 0) dequeue(queued.splice(waiting, 1));
      running.get(id)?.task?.cancel();
    },
    cancelAll() {
      dequeue(queued.splice(0));
      for (const job of running.values()) job.task?.cancel();
    },
    clearSettled() {
      setUploads((list) => list.filter((entry) => !isSettled(entry)));
    },
    /** Cancels everything and drops the late events. */
    dispose() {
      queued.length = 0;
      const jobs = [...running.values()];
      running.clear();
      for (const job of jobs) job.task?.cancel();
    },
  };
}

/**
 * `options` are `startUpload`'s plus `concurrency` and `onOutcome`, read when a file's turn
 * comes, so a new object on every render is fine. Unmounting cancels every upload.
 */
export function useUploadMany(options: UseUploadManyOptions): UseUploadManyResult {
  const [uploads, setUploads] = useState<readonly UploadEntry[]>([]);
  const [scheduler] = useState(() => createScheduler(setUploads, options));

  useEffect(() => scheduler.configure(options));
  useEffect(() => () => scheduler.dispose(), [scheduler]);

  const { add, cancel, cancelAll, clearSettled } = scheduler;
  return { uploads, add, cancel, cancelAll, clearSettled };
}
