/**
 * Requests of the filesystem API (spec §6): the query strings and bodies the server parses.
 * Paths are strings here; the server resolves and checks them (NUL bytes, PATH_MAX).
 */
import { z } from 'zod';

const flag = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
/** `0644`, `644`, `4755`: permission bits in octal, as the SDKs send them. */
const mode = z
  .string()
  .regex(/^[0-7]{3,4}$/, 'mode is an octal string such as 0644')
  .transform((m) => m.padStart(4, '0'));
const ownerId = z.union([
  z.number().int().min(0).max(4_294_967_294),
  z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}\$?$/, 'uid and gid are numbers or user and group names'),
]);

export const fsPathQuery = z.object({ path: z.string(), workingDir: z.string().optional(), asRoot: flag.optional() });
export const fsWriteQuery = fsPathQuery.extend({ mkdirParents: flag.optional(), mode: mode.optional() });
export const fsListQuery = fsPathQuery.extend({ recursive: flag.optional(), pattern: z.string().max(1024).optional() });
export const fsDeleteQuery = fsPathQuery.extend({ recursive: flag.optional() });
export const fsRenameBody = z.object({
  source: z.string(),
  dest: z.string(),
  workingDir: z.string().optional(),
  asRoot: z.boolean().optional(),
});
export const fsCopyBody = fsRenameBody.extend({ recursive: z.boolean().optional(), preserveAttrs: z.boolean().optional() });
export const fsChmodBody = z.object({
  path: z.string(),
  workingDir: z.string().optional(),
  mode,
  recursive: z.boolean().optional(),
  asRoot: z.boolean().optional(),
});
export const fsChownBody = z.object({
  path: z.string(),
  workingDir: z.string().optional(),
  uid: ownerId.optional(),
  gid: ownerId.optional(),
  recursive: z.boolean().optional(),
  asRoot: z.boolean().optional(),
});
/** The first message a client sends on `/fs/watch`. */
export const fsWatchSubscribeMessage = z.object({
  type: z.literal('subscribe'),
  paths: z.array(z.string()).min(1).max(64),
  recursive: z.boolean().optional(),
  workingDir: z.string().optional(),
});
