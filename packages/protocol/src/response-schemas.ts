/**
 * Answers declared as schemas, for the shapes the OpenAPI document spells out in full; their
 * TypeScript types are inferred from these, so the document and the types cannot differ.
 */
import { z } from 'zod';

/** A checkpoint as list and get return it (spec §5), plus burrow's `size_bytes`. */
export const checkpointSchema = z.object({
  id: z.string().describe('v0, v1, ... (v0 is taken at create); auto-1, ... for automatic ones'),
  create_time: z.iso.datetime(),
  comment: z.string(),
  history: z.array(z.string()).describe('ancestors, nearest first'),
  is_auto: z.boolean(),
  source_id: z.string().nullable().describe('the checkpoint the sandbox stood on when this one was taken'),
  health: z.string(),
  size_bytes: z.number().int().nullable().describe('bytes only this checkpoint holds (what deleting it would free); null when unknown'),
});
export type Checkpoint = z.infer<typeof checkpointSchema>;
