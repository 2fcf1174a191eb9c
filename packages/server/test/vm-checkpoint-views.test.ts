// The host side of a VM's checkpoint views: which slot shows which checkpoint, what QEMU is
// told to swap one, and what the guest is asked to mount. The views in a real guest:
// test/integration/runtimes.test.ts.
import { describe, expect, it } from 'vitest';
import { emptySlots, planViews, swapSlot, viewsCommand, viewSlotArgs } from '../src/runtime/vm/checkpoint-views.js';
import type { Qmp } from '../src/runtime/vm/qmp.js';

const disk = (id: string) => ({ id, disk: `/pool/checkpoints/s1/${id}/disk.ext4` });

describe('planViews', () => {
  it('fills empty slots in order, newest first, and shows no more than there are slots', () => {
    expect(planViews(emptySlots(2), [disk('v3'), disk('v2'), disk('v1')])).toEqual([disk('v3'), disk('v2')]);
    expect(planViews(emptySlots(3), [])).toEqual([null, null, null]);
  });

  it('keeps a checkpoint in the slot that shows it, and gives a newcomer the slot that freed up', () => {
    const slots = [
      { view: disk('v1'), node: 'view0-a' },
      { view: disk('v2'), node: 'view1-b' },
    ];
    const plan = planViews(slots, [disk('v3'), disk('v2')]);
    expect(plan).toEqual([disk('v3'), disk('v2')]);
    // Unchanged slots keep the very same view: the guest leaves them mounted.
    expect(plan[1]).toBe(slots[1]!.view);
  });

  it('takes a checkpoint of the same name from another disk (a restored sandbox, a fork) as a new one', () => {
    const slots = [{ view: { id: 'v1', disk: '/pool/checkpoints/other/v1/disk.ext4' }, node: 'view0-a' }];
    const plan = planViews(slots, [disk('v1')]);
    expect(plan).toEqual([disk('v1')]);
    expect(plan[0]).not.toBe(slots[0]!.view);
  });
});

describe('the slots of a machine', () => {
  it('are empty read-only disks the guest tells apart by serial', () => {
    const args = viewSlotArgs(2);
    expect(args.filter((a) => a.startsWith('virtio-blk-device'))).toEqual([
      'virtio-blk-device,drive=view0,serial=burrow-view0',
      'virtio-blk-device,drive=view1,serial=burrow-view1',
    ]);
    expect(args.filter((a) => a.startsWith('driver=raw')).every((a) => a.includes('read-only=on'))).toBe(true);
    expect(viewSlotArgs(0)).toEqual([]);
  });

  it('are swapped under the guest by a new read-only node, the old one deleted after', async () => {
    const commands: Array<[string, Record<string, unknown> | undefined]> = [];
    const qmp = { execute: async (command: string, args?: Record<string, unknown>) => void commands.push([command, args]) } as unknown as Qmp;
    const slot = await swapSlot(qmp, 1, { view: null, node: 'view1-none' }, disk('v4'));
    expect(commands.map(([c]) => c)).toEqual(['blockdev-add', 'blockdev-reopen', 'blockdev-del']);
    expect(commands[0]![1]).toEqual({ driver: 'file', 'node-name': slot.node, filename: disk('v4').disk, 'read-only': true });
    expect(commands[1]![1]).toEqual({ options: [{ driver: 'raw', 'node-name': 'view1', file: slot.node, 'read-only': true }] });
    expect(commands[2]![1]).toEqual({ 'node-name': 'view1-none' });
    expect(slot.view).toEqual(disk('v4'));
  });
});

describe('viewsCommand', () => {
  it('names each shown checkpoint by its slot serial; the script is a constant', () => {
    const a = viewsCommand([disk('v3'), null, disk('v1')]);
    const b = viewsCommand([null]);
    expect(a.slice(5)).toEqual(['burrow-view0=v3', 'burrow-view2=v1']);
    expect(b.slice(5)).toEqual([]);
    expect(a.slice(0, 5)).toEqual(b.slice(0, 5));
  });
});
