// What a sandbox holds, read off the text of `btrfs qgroup show --raw -p` as btrfs-progs 6.2
// prints it (measured on a loop pool: 300 MiB written, checkpointed twice, deleted).
import { describe, expect, it } from 'vitest';
import { parseQgroupShow } from '../src/storage/btrfs.js';
import { spaceBySandbox } from '../src/storage/sandbox-space.js';

const MIB = 2 ** 20;

// Two checkpoints share a file the disk no longer has: neither holds it alone (exclusive 16 KiB
// each), but the sandbox's group does.
const SHOW = `Qgroupid    Referenced    Exclusive Parent     Path 
--------    ----------    --------- ------     ---- 
0/5              16384        16384 -          <toplevel>
0/256            16384        16384 1/256      sandboxes/a
0/257        314589184        16384 1/256      checkpoints/a/v1
0/258        314589184        16384 1/256      checkpoints/a/v2
0/259        104873984    104873984 -          sandboxes/fork
0/260        104873984        16384 -          checkpoints/fork/v0
0/261         52445184     52445184 -          checkpoints/fork/v1
0/262        314589184        16384 1/256      <stale>
1/256        314621952    314621952 -          <0 member qgroups>
`;

describe('the space a sandbox holds', () => {
  it('parses every row, with its parent groups', () => {
    const rows = parseQgroupShow(SHOW);
    expect(rows).toHaveLength(9);
    expect(rows[1]).toEqual({ id: '0/256', referenced: 16384, exclusive: 16384, parents: ['1/256'], path: 'sandboxes/a' });
    expect(rows[8]).toMatchObject({ id: '1/256', parents: [], exclusive: 314621952 });
  });

  it('counts what several checkpoints share once, through the sandbox quota group', () => {
    const a = spaceBySandbox(parseQgroupShow(SHOW)).get('a')!;
    expect(a.liveBytes).toBe(16384);
    expect(a.checkpointBytes).toBeGreaterThan(300 * MIB);
  });

  it('sums what each checkpoint holds alone for a sandbox without a group (a fork)', () => {
    expect(spaceBySandbox(parseQgroupShow(SHOW)).get('fork')).toEqual({ liveBytes: 104873984, checkpointBytes: 16384 + 52445184 });
  });

  it('falls back to each checkpoint alone when a fork shares the group', () => {
    const withFork = SHOW.replace('0/259        104873984    104873984 -          sandboxes/fork', '0/259        104873984    104873984 1/256      sandboxes/fork');
    expect(spaceBySandbox(parseQgroupShow(withFork)).get('a')).toEqual({ liveBytes: 16384, checkpointBytes: 2 * 16384 });
  });
});
