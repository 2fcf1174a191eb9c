// Whether a path names anything (a link is followed): for files the daemon itself writes.
import { stat } from 'node:fs/promises';

export async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
