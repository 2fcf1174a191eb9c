// What the recipes promise about the images they build, and how an image id names its image.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IMAGE_NAMES } from '@burrow/protocol';
import { describe, expect, it } from 'vitest';
import { imageId, imageLabelOf, imageNameOf, RECIPES } from '../src/storage/image-recipes.js';
import { HOST_PYTHON } from '../src/util/package-files.js';

describe('image ids', () => {
  it('name their image, a dash in the name included', () => {
    for (const name of IMAGE_NAMES) {
      const id = imageId(RECIPES[name], undefined);
      expect(id).toMatch(new RegExp(`^${name}-[0-9a-f]{12}$`));
      expect(imageNameOf(id)).toBe(name);
      expect(imageLabelOf(id)).toBe(name);
    }
  });

  it('name no burrow image when imported, and the sandbox reports the import by its id', () => {
    expect(imageNameOf('oci-0123456789ab')).toBeNull();
    expect(imageLabelOf('oci-0123456789ab')).toBe('oci-0123456789ab');
  });
});

describe('the code-interpreter image', () => {
  it('is the minimal set plus the kernel machinery and the data stack, all from Debian', () => {
    const recipe = RECIPES['code-interpreter'];
    expect(recipe.packages).toEqual(expect.arrayContaining(RECIPES.minimal.packages));
    expect(recipe.packages).toEqual(
      expect.arrayContaining(['python3-ipykernel', 'python3-jupyter-client', 'python3-numpy', 'python3-pandas', 'python3-matplotlib']),
    );
    expect(recipe.packages.filter((p) => RECIPES.dev.packages.includes(p) && !RECIPES.minimal.packages.includes(p))).toEqual([]);
    expect(recipe.npm).toEqual({});
    expect(recipe.withoutRecommends).toBe(true);
  });

  it('keeps the ids of the other images as they were (no new field in their recipes)', () => {
    expect(RECIPES.minimal.withoutRecommends).toBeUndefined();
    expect(RECIPES.dev.withoutRecommends).toBeUndefined();
  });
});

describe('the host tools', () => {
  it('run on Debian\'s python3 wherever the daemon starts one, never on the first python3 on PATH', () => {
    // A version manager's shim first on PATH costs half a second or more at every start (every
    // runc boot starts the idmapped-mount tool).
    const src = fileURLToPath(new URL('../src', import.meta.url));
    const files = (readdirSync(src, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts'));
    const onPath = files.filter((f) => /\b(run|spawn|execFile)\(\s*'python3'/.test(readFileSync(join(src, f), 'utf8')));
    expect(onPath).toEqual([]);
    expect(HOST_PYTHON).toBe('/usr/bin/python3');
  });
});
