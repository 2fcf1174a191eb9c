// A checkpoint as the wire shows it (spec section 5), to the public API and to the in-sandbox API alike.
import type { Checkpoint } from '@burrow/protocol';
import type { CheckpointInfo } from '../core/checkpoints.js';

export function checkpointView(c: CheckpointInfo): Checkpoint {
  return {
    id: c.id,
    create_time: c.createdAt,
    comment: c.comment,
    history: c.history,
    is_auto: c.isAuto,
    memory: c.hasMemory,
    source_id: c.sourceId,
    health: '',
    size_bytes: c.sizeBytes,
  };
}
