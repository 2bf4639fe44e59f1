/** Runs a TypeScript module of bench/ in its own Node process with an IPC channel. */
import { type ChildProcess, spawn } from 'node:child_process';
import { join, resolve } from 'node:path';

export const BENCH_DIR = join(__dirname, '..');

/** Added to the child's copy of our environment; a name set to undefined is left out of it. */
export type ChildEnv = Readonly<Record<string, string | undefined>>;

/** What leaves every variable of `env` out of a child's environment, whatever ours holds. */
export function without(env: Readonly<Record<string, string>>): ChildEnv {
  return Object.fromEntries(Object.keys(env).map((name) => [name, undefined]));
}

function spawnBenchChild(
  file: string,
  env: ChildEnv = {},
  execArgv: string[] = ['--import', 'tsx'],
): ChildProcess {
  return spawn(process.execPath, [...execArgv, resolve(BENCH_DIR, file)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    // spawn leaves out variables whose value is undefined.
    env: { ...process.env, ...env },
  });
}

/** One request at a time to a child that answers every message with one message. */
export class ChildChannel<Req, Res> {
  private constructor(private readonly child: ChildProcess) {}

  static open<Req, Res>(file: string, env: ChildEnv = {}): ChildChannel<Req, Res> {
    return new ChildChannel<Req, Res>(spawnBenchChild(file, env));
  }

  /** The next message the child sends, whether or not we asked for it. */
  next<T = Res>(): Promise<T> {
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null) =>
        reject(new Error(`benchmark child exited with ${code} before answering`));
      this.child.once('exit', onExit);
      this.child.once('message', (reply) => {
        this.child.off('exit', onExit);
        resolve(reply as T);
      });
    });
  }

  ask(message: Req): Promise<Res> {
    const reply = this.next();
    this.child.send(message as object);
    return reply;
  }

  close(): Promise<void> {
    if (this.child.exitCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      this.child.once('exit', () => resolve());
      this.child.disconnect();
    });
  }
}

/** Runs a child to completion and returns the one message it sends. */
export function runOnce<Res>(
  file: string,
  input: unknown,
  env: ChildEnv = {},
  execArgv?: string[],
): Promise<Res> {
  const child = spawnBenchChild(file, env, execArgv);
  return new Promise((resolve, reject) => {
    let reply: Res | undefined;
    child.once('message', (message) => {
      reply = message as Res;
    });
    child.once('error', reject);
    child.once('exit', (code) =>
      reply !== undefined
        ? resolve(reply)
        : reject(new Error(`${file} exited with ${code} without a result`)),
    );
    child.send(input as object);
  });
}
