import { describe, expect, it } from 'vitest';
import type { Sprite } from '@burrow/sdk';
import { renderSprite } from '../src/commands/info.js';

const sprite = (patch: Partial<Sprite>): Sprite => ({ name: 'dev', id: 'abc', status: 'running', runtime: 'runc', ...patch }) as Sprite;

describe('burrow info', () => {
  it('says when a running sandbox is at its process limit, and what ends it', () => {
    expect(renderSprite(sprite({ condition: 'pids_exhausted' }))).toMatch(/^status +running, at its process limit \(nothing new can start: `burrow kill dev`\)$/m);
    expect(renderSprite(sprite({ condition: null }))).toMatch(/^status +running$/m);
  });
});
