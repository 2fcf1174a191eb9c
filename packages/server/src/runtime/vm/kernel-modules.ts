// Which of a Debian kernel's loadable modules a guest needs, and in which order to insmod them.
// Debian's cloud kernel builds virtio and its drivers as modules (only ext4 is built in), and
// busybox's insmod loads exactly one file: dependencies first, from the kernel's modules.dep.

/** modules.dep: `kernel/a/b.ko: kernel/c.ko kernel/d.ko`, the dependencies of each module. */
export function parseModulesDep(text: string): Map<string, string[]> {
  const deps = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const module = line.slice(0, colon).trim();
    const rest = line.slice(colon + 1).trim();
    deps.set(module, rest ? rest.split(/\s+/) : []);
  }
  return deps;
}

/** A module's name as modules.dep knows it: `virtio_blk` for `kernel/drivers/block/virtio_blk.ko`. */
export function moduleName(path: string): string {
  const file = path.slice(path.lastIndexOf('/') + 1);
  return file.replace(/\.ko(\.(xz|zst|gz))?$/, '').replace(/-/g, '_');
}

/**
 * The paths (as modules.dep names them) to load for `wanted`, each after everything it needs,
 * each once. Throws on a name the kernel does not have: a guest without its disk driver would
 * only hang at boot.
 */
export function loadOrder(deps: ReadonlyMap<string, readonly string[]>, wanted: readonly string[]): string[] {
  const byName = new Map<string, string>();
  for (const path of deps.keys()) byName.set(moduleName(path), path);
  const order: string[] = [];
  const placed = new Set<string>();
  const visiting = new Set<string>();
  const visit = (path: string): void => {
    if (placed.has(path)) return;
    if (visiting.has(path)) throw new Error(`modules.dep has a cycle through ${path}`);
    visiting.add(path);
    for (const dep of deps.get(path) ?? []) visit(dep);
    visiting.delete(path);
    placed.add(path);
    order.push(path);
  };
  for (const name of wanted) {
    const path = byName.get(moduleName(name));
    if (!path) throw new Error(`the kernel has no module ${name}`);
    visit(path);
  }
  return order;
}
