// A VM's read-only views of its newest checkpoints (VIEWS_INSIDE/<id>). The microvm machine
// cannot plug a disk in while it runs, so each machine boots with VISIBLE_VIEWS empty read-only
// virtio-blk slots; to show a checkpoint the host swaps its disk in under a slot (QMP
// blockdev-reopen of the slot's raw node onto a new file node) while the guest has nothing of
// that slot mounted, and the guest then mounts it read-only. The host never reads the disk; the
// guest's kernel reads its own sandbox's data. A checkpoint's filesystem was frozen clean when it
// was taken (Checkpoints.take), so it mounts as it is, without replaying a journal.
import { randomBytes } from 'node:crypto';
import type { CheckpointDisk } from '../runtime.js';
import { VIEWS_INSIDE } from '../runtime.js';
import { GUEST_BUSYBOX } from './initramfs.js';
import type { Qmp } from './qmp.js';

/** One slot: the checkpoint shown from it (null: empty), and the block node under its raw node. */
export interface ViewSlot {
  view: CheckpointDisk | null;
  node: string;
}

/**
 * What an empty slot reads: zeros, at a size no disk reaches. The guest learns a slot's size
 * when it boots; each checkpoint's filesystem reads only within its own disk's.
 */
const EMPTY_SLOT_BYTES = 2 ** 40;

const slotNode = (index: number) => `view${index}`;
/** The serial the guest finds a slot's disk by (in sysfs): its device name follows probe order. */
const slotSerial = (index: number) => `burrow-view${index}`;
/** A new name for a node under a slot: the one it replaces is deleted only after the swap. */
const freshNode = (index: number) => `view${index}-${randomBytes(4).toString('hex')}`;

/** The slots of a machine that has just booted: all empty. */
export function emptySlots(count: number): ViewSlot[] {
  return Array.from({ length: count }, (_, index) => ({ view: null, node: `${slotNode(index)}-none` }));
}

/** QEMU's arguments for `count` empty slots, after the sandbox's own disk. */
export function viewSlotArgs(count: number): string[] {
  return emptySlots(count).flatMap(({ node }, index) => [
    '-blockdev',
    `driver=null-co,node-name=${node},size=${EMPTY_SLOT_BYTES},read-zeroes=on`,
    '-blockdev',
    `driver=raw,node-name=${slotNode(index)},file=${node},read-only=on`,
    '-device',
    `virtio-blk-device,drive=${slotNode(index)},serial=${slotSerial(index)}`,
  ]);
}

/**
 * Which slot shows which of `wanted` (newest first; those beyond the slots are not shown): a
 * checkpoint shown already keeps its slot, the others take the slots that free up.
 */
export function planViews(slots: readonly ViewSlot[], wanted: readonly CheckpointDisk[]): Array<CheckpointDisk | null> {
  const shown = wanted.slice(0, slots.length);
  const plan = slots.map((slot) => (slot.view && shown.some((v) => v.id === slot.view!.id && v.disk === slot.view!.disk) ? slot.view : null));
  const newcomers = shown.filter((v) => !plan.some((p) => p?.id === v.id));
  for (let i = 0; i < plan.length && newcomers.length; i++) if (plan[i] === null) plan[i] = newcomers.shift()!;
  return plan;
}

/**
 * Puts `view` (null: nothing, zeros) under slot `index` in place of what was there; the guest
 * must have nothing of the slot mounted. Returns the slot as it is now.
 */
export async function swapSlot(qmp: Qmp, index: number, slot: ViewSlot, view: CheckpointDisk | null): Promise<ViewSlot> {
  const node = freshNode(index);
  await qmp.execute(
    'blockdev-add',
    view
      ? { driver: 'file', 'node-name': node, filename: view.disk, 'read-only': true }
      : { driver: 'null-co', 'node-name': node, size: EMPTY_SLOT_BYTES, 'read-zeroes': true },
  );
  await qmp.execute('blockdev-reopen', { options: [{ driver: 'raw', 'node-name': slotNode(index), file: node, 'read-only': true }] });
  // Gone already if a daemon crashed after its swap and before it noted the slot's new node.
  await qmp.execute('blockdev-del', { 'node-name': slot.node }).catch(() => {});
  return { view, node };
}

/**
 * Run in the guest by its busybox sh with `<serial>=<id>` words: unmounts and removes every view
 * but those named, then mounts each named one that is not mounted from the slot with that
 * serial, read-only and without its journal. Names found in the directory are the sandbox's
 * own: they are only ever compared and unmounted.
 */
const VIEWS_SCRIPT = `busybox() { ${GUEST_BUSYBOX} "$@"; }
views=${VIEWS_INSIDE}
busybox mkdir -p "$views"
mounted() { busybox grep -qF " $1 " /proc/mounts; }
for d in "$views"/*; do
  [ -d "$d" ] || continue
  keep=
  for p in "$@"; do [ "$views/\${p#*=}" = "$d" ] && keep=1; done
  [ -n "$keep" ] && continue
  while mounted "$d"; do busybox umount -l "$d" || break; done
  busybox rmdir "$d" 2>/dev/null
done
status=0
for p in "$@"; do
  d="$views/\${p#*=}"
  mounted "$d" && continue
  dev=
  for s in /sys/block/vd*/serial; do [ "$(busybox cat "$s" 2>/dev/null)" = "\${p%%=*}" ] && { dev=\${s%/serial}; dev=/dev/\${dev##*/}; }; done
  busybox mkdir -p "$d"
  if [ -z "$dev" ] || ! busybox mount -t ext4 -o ro,noload "$dev" "$d"; then
    busybox echo "cannot show checkpoint \${p#*=}" >&2
    busybox rmdir "$d" 2>/dev/null
    status=1
  fi
done
exit $status`;

/** The guest command that leaves exactly `slots`' views mounted (see VIEWS_SCRIPT). */
export function viewsCommand(slots: ReadonlyArray<CheckpointDisk | null>): string[] {
  const words = slots.flatMap((view, index) => (view ? [`${slotSerial(index)}=${view.id}`] : []));
  return [GUEST_BUSYBOX, 'sh', '-c', VIEWS_SCRIPT, 'sh', ...words];
}
