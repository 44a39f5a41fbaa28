/**
 * The one place that loads the native addon (build/Release/vipd_native.node).
 * src/bpf and src/net give it types; nothing else touches it.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout (or installed package) root: the nearest folder with binding.gyp. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'binding.gyp'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('vipd: cannot find the package root (no binding.gyp above this file)');
    dir = parent;
  }
}

let addon: object | undefined;

/** Loads the addon once; a missing build is reported with the command that makes it. */
export function nativeAddon(): object {
  if (addon) return addon;
  const path = join(packageRoot(), 'build', 'Release', 'vipd_native.node');
  if (!existsSync(path)) {
    throw new Error(`vipd: native addon not built (${path} is missing): run \`npm run build\``);
  }
  const require = createRequire(import.meta.url);
  addon = require(path) as object;
  return addon;
}
