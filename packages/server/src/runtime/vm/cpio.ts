// The cpio "newc" archive format the kernel unpacks as an initramfs (see the kernel's
// Documentation/driver-api/early-userspace/buffer-format.rst). Written here rather than by the
// cpio program so that the archive is byte-for-byte the same for the same inputs.

export type CpioEntry =
  | { kind: 'dir'; path: string; mode: number }
  | { kind: 'file'; path: string; mode: number; data: Uint8Array }
  | { kind: 'char'; path: string; mode: number; major: number; minor: number };

const TYPE_BITS = { dir: 0o040000, file: 0o100000, char: 0o020000 } as const;
const TRAILER = 'TRAILER!!!';

/** The archive of `entries` in the order given: parents must come before what they hold. */
export function cpioArchive(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  for (const entry of entries) {
    if (entry.path.startsWith('/') || entry.path.split('/').includes('..')) {
      throw new Error(`cpio entry ${entry.path}: paths are relative and stay inside the archive`);
    }
    const data = entry.kind === 'file' ? Buffer.from(entry.data) : Buffer.alloc(0);
    parts.push(record(entry.path, TYPE_BITS[entry.kind] | (entry.mode & 0o7777), data, ino++, entry.kind === 'char' ? entry : undefined));
  }
  parts.push(record(TRAILER, 0, Buffer.alloc(0), 0));
  return Buffer.concat(parts);
}

function record(name: string, mode: number, data: Buffer, ino: number, device?: { major: number; minor: number }): Buffer {
  const nameBytes = Buffer.from(`${name}\0`);
  const fields = [
    ino,
    mode,
    0, // uid
    0, // gid
    mode & 0o040000 ? 2 : 1, // nlink
    0, // mtime: fixed, so that the same inputs give the same archive
    data.length,
    0, // devmajor
    0, // devminor
    device?.major ?? 0, // rdevmajor
    device?.minor ?? 0, // rdevminor
    nameBytes.length,
    0, // check
  ];
  const header = Buffer.from(`070701${fields.map((f) => f.toString(16).padStart(8, '0')).join('')}`);
  return Buffer.concat([header, nameBytes, padding(header.length + nameBytes.length), data, padding(data.length)]);
}

/** Headers, names and file data are each padded to a multiple of four bytes. */
function padding(length: number): Buffer {
  return Buffer.alloc((4 - (length % 4)) % 4);
}
