import { execFile } from 'node:child_process';
import { mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Mounts a tmpfs of `bytes` at `dir` (root only), a small disk to fill; `cleanup` hears how to unmount it. */
export async function mountTmpfs(cleanup: (fn: () => unknown) => void, dir: string, bytes: number): Promise<void> {
  await mkdir(dir, { recursive: true });
  await run('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir]);
  cleanup(() => run('umount', ['--lazy', dir]));
}

/** Writes a file in `dir` until the filesystem is full; resolves with a function that frees it. */
export async function fillUp(dir: string): Promise<() => Promise<void>> {
  const path = join(dir, 'filler');
  const f = await open(path, 'w');
  const chunk = Buffer.alloc(256 * 1024, 1);
  try {
    for (;;) await f.write(chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    await f.close().catch(() => undefined); // closing flushes nothing more: the disk is full
  }
  return () => rm(path, { force: true });
}
