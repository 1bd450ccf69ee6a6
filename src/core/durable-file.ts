/**
 * Small files that must survive a crash whole (identity key, operator token,
 * signed-head record, monitor state): written to a temporary file beside the
 * target, fsynced, then moved into place and the directory fsynced, so a
 * reader sees the old contents or the new, never a torn file.
 */
import { closeSync, fchmodSync, fsyncSync, linkSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { randomBytes } from "node:crypto";
import path from "node:path";

/** Replaces `file` atomically with `contents` (mode 0600 unless told otherwise), creating its directory (0700). */
export function writeFileDurably(file: string, contents: string, mode = 0o600): void {
  const temp = writeTemp(file, contents, mode);
  try {
    renameSync(temp, file);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
  syncDirectory(path.dirname(file));
}

/**
 * Creates `file` only if it does not exist yet: the finished temporary file is
 * hard-linked into place, which fails when another process won the race, so
 * two starters agree on one file instead of the later overwriting the earlier.
 * Returns false when the file already existed.
 */
export function createFileOnce(file: string, contents: string, mode = 0o600): boolean {
  const temp = writeTemp(file, contents, mode);
  try {
    linkSync(temp, file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return false;
    // Filesystems without hard links: a plain atomic rename, racy only against a second starter.
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP") throw error;
    renameSync(temp, file);
  } finally {
    rmSync(temp, { force: true });
  }
  syncDirectory(path.dirname(file));
  return true;
}

function writeTemp(file: string, contents: string, mode: number): string {
  const dir = path.dirname(path.resolve(file));
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const temp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  const fd = openSync(temp, "wx", mode);
  try {
    fchmodSync(fd, mode);
    writeSync(fd, contents);
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    rmSync(temp, { force: true });
    throw error;
  }
  closeSync(fd);
  return temp;
}

/** Makes a rename durable; some platforms cannot fsync a directory, and the file itself is already synced. */
export function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, "r");
    fsyncSync(fd);
  } catch {
    // best effort, see above
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
