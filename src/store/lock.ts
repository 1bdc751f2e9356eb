/**
 * PGlite has no cross-process lock: two processes on one data directory silently lose writes
 * (PGlite runs PostgreSQL in single-user mode). A lock file holding the owner's pid keeps a second process out; a lock
 * left by a process that no longer runs is taken over.
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { OsteoWatchError } from '../errors.ts';

export class StoreLockedError extends OsteoWatchError {
  readonly pid: number;
  constructor(dir: string, pid: number) {
    super(
      'locked',
      `the data directory ${dir} is in use by process ${pid}; stop that process, or query the running service instead`,
    );
    this.pid = pid;
  }
}

export interface DirLock {
  release(): void;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function acquireDirLock(dir: string): DirLock {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'osteowatch.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        try {
          if (readFileSync(file, 'utf8').trim() === String(process.pid)) rmSync(file);
        } catch {
          // already gone
        }
      };
      process.once('exit', release);
      return { release };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number(readFileSync(file, 'utf8').trim());
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && alive(owner))
        throw new StoreLockedError(dir, owner);
      if (owner === process.pid) throw new StoreLockedError(dir, owner);
      rmSync(file, { force: true }); // stale lock from a process that is gone
    }
  }
  throw new Error(`cannot lock ${dir}`);
}
