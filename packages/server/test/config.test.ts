import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseSize } from '../src/config.js';

describe('configuration', () => {
  it('defaults to /var/lib/burrow, 127.0.0.1:7070, a 100 GiB loop pool and gVisor', () => {
    const c = loadConfig({ BURROW_CONFIG: '' });
    expect(c.home).toBe('/var/lib/burrow');
    expect(c.listen).toEqual({ host: '127.0.0.1', port: 7070 });
    expect(c.pool).toMatchObject({ kind: 'loop', file: '/var/lib/burrow/pool.img', sizeBytes: 100 * 2 ** 30 });
    expect(c.defaultRuntime).toBe('gvisor');
    expect(c.defaultImage).toBe('dev');
  });

  it('takes BURROW_* variables, and derives a tag unique to the home', () => {
    const a = loadConfig({ BURROW_HOME: '/tmp/a', BURROW_LISTEN: '0.0.0.0:9000', BURROW_POOL: '/mnt/btrfs', BURROW_RUNTIME: 'runc' });
    const b = loadConfig({ BURROW_HOME: '/tmp/b' });
    expect(a.listen).toEqual({ host: '0.0.0.0', port: 9000 });
    expect(a.pool).toEqual({ kind: 'dir', mountpoint: '/mnt/btrfs' });
    expect(a.defaultRuntime).toBe('runc');
    expect(a.instanceTag).not.toBe(b.instanceTag);
  });

  it('refuses values it cannot use, naming the variable', () => {
    expect(() => loadConfig({ BURROW_LISTEN: 'nope' })).toThrow(/BURROW_LISTEN/);
    expect(() => loadConfig({ BURROW_RUNTIME: 'docker' })).toThrow(ConfigError);
    expect(() => loadConfig({ BURROW_DEFAULT_CPUS: '-1' })).toThrow(/BURROW_DEFAULT_CPUS/);
    expect(() => loadConfig({ BURROW_CONFIG: '/nonexistent/config.json' })).toThrow(/cannot read config file/);
  });

  it('takes the checkpoint budget as a multiple of storage_gb and the pool reserve as a size', () => {
    const defaults = loadConfig({ BURROW_CONFIG: '' });
    expect(defaults.checkpointBudget).toBe(4);
    expect(defaults.poolReserveBytes).toBeNull();
    const set = loadConfig({ BURROW_CHECKPOINT_BUDGET: '2.5', BURROW_POOL_RESERVE: '2G' });
    expect(set.checkpointBudget).toBe(2.5);
    expect(set.poolReserveBytes).toBe(2 * 2 ** 30);
    expect(() => loadConfig({ BURROW_CHECKPOINT_BUDGET: '0.5' })).toThrow(/BURROW_CHECKPOINT_BUDGET/);
    expect(() => loadConfig({ BURROW_POOL_RESERVE: 'plenty' })).toThrow(/BURROW_POOL_RESERVE/);
  });

  it('parses sizes', () => {
    expect(parseSize('512M')).toBe(512 * 2 ** 20);
    expect(parseSize('1.5G')).toBe(1.5 * 2 ** 30);
    expect(parseSize('2TiB')).toBe(2 * 2 ** 40);
    expect(() => parseSize('lots')).toThrow(ConfigError);
  });
});
