/**
 * One local mode per data folder: a lock file holding the owner's pid. A second start
 * names the running one instead of failing later on a port clash; a lock left by a
 * killed process is taken over.
 */
import { open, readFile, rm } from 'node:fs/promises';

export class AlreadyRunningError extends Error {
  constructor(
    readonly pid: number,
    readonly lockPath: string,
  ) {
    super(`local mode is already running (pid ${pid}, lock ${lockPath})`);
    this.name = 'AlreadyRunningError';
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface InstanceLock {
  release(): Promise<void>;
}

export async function acquireInstanceLock(lockPath: string): Promise<InstanceLock> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(lockPath, 'wx');
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return {
        async release() {
          await rm(lockPath, { force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = Number.parseInt(await readFile(lockPath, 'utf8').catch(() => ''), 10);
    if (Number.isInteger(owner) && owner !== process.pid && isAlive(owner)) {
      throw new AlreadyRunningError(owner, lockPath);
    }
    await rm(lockPath, { force: true });
  }
  throw new Error(`Could not take the lock ${lockPath}; another start is racing this one`);
}
