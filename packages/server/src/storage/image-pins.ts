// Newer versions of an image's npm packages than its recipe pins, chosen by `burrow image build
// dev --refresh`. They are kept in BURROW_HOME so that the daemon creates sandboxes on the image
// the command built; removing the file goes back to the recipe's pins.
import { readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AGENTS } from '@burrow/protocol';
import { z } from 'zod';
import type { ImageName } from '../config.js';
import { run } from '../util/run.js';
import type { ImageRecipe } from './image-recipes.js';

const pinsSchema = z.record(z.string(), z.record(z.string(), z.string()));
export type Pins = z.infer<typeof pinsSchema>;

/** The packages `--refresh` moves; Node.js and npm stay as pinned (a new major is a decision). */
const REFRESHED = new Set<string>(Object.values(AGENTS).map((a) => a.package));

export class ImagePins {
  private readonly file: string;

  constructor(home: string) {
    this.file = join(home, 'image-pins.json');
  }

  read(): Pins {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch {
      return {};
    }
    let parsed;
    try {
      parsed = pinsSchema.safeParse(JSON.parse(text));
    } catch {
      parsed = undefined;
    }
    if (!parsed?.success) throw new Error(`${this.file} is not a map of image -> package -> version: remove it to use the recipe's pins`);
    return parsed.data;
  }

  /** The recipe with this home's newer versions applied. */
  apply(recipe: ImageRecipe): ImageRecipe {
    const pinned = this.read()[recipe.name];
    return pinned ? { ...recipe, npm: { ...recipe.npm, ...pinned } } : recipe;
  }

  /** Asks the npm registry for the newest release of each refreshable package and keeps it. */
  async refresh(recipe: ImageRecipe, onProgress: (line: string) => void): Promise<Record<string, string>> {
    const newest: Record<string, string> = {};
    for (const name of Object.keys(recipe.npm).filter((n) => REFRESHED.has(n))) {
      newest[name] = (await run('npm', ['view', `${name}@latest`, 'version'])).stdout.trim();
      onProgress(`${name}: ${recipe.npm[name]} in the recipe, ${newest[name]} now`);
    }
    await this.write(recipe.name, newest);
    return newest;
  }

  private async write(image: ImageName, versions: Record<string, string>): Promise<void> {
    const all = { ...this.read(), [image]: versions };
    const tmp = `${this.file}.${process.pid}.tmp`;
    await writeFile(tmp, `${JSON.stringify(all, null, 2)}\n`);
    await rename(tmp, this.file);
  }
}
