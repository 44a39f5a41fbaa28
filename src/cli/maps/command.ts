/** `vipctl maps [NAME] [--json] [--pin DIR] [--all]`: vipd's pinned maps, decoded. */
import type { Command } from 'commander';
import { MAPS, type MapName } from '../../dataplane/abi.js';
import { ExitCode } from '../../exit-codes.js';
import { optionsOf, runAction } from '../action.js';
import { describeFailure, usageError } from '../errors.js';
import { helpFooter } from '../help.js';
import { formatJson } from '../json.js';
import { processOutput, type CliOutput } from '../output.js';
import { DEFAULT_PIN_DIR, resolvePinDir, type GlobalOptions } from '../target.js';
import type { AnyMapDump } from './model.js';
import { checkPinDir } from './pins.js';
import { PinnedMapReader } from './read.js';
import { formatMapDumps } from './render.js';

export const MAP_NAMES = Object.keys(MAPS) as MapName[];

export interface MapsOptions extends GlobalOptions {
  readonly pin?: string;
  readonly json?: boolean;
  readonly all?: boolean;
}

function isMapName(name: string): name is MapName {
  return (MAP_NAMES as string[]).includes(name);
}

function selectMaps(name: string | undefined): MapName[] {
  if (name === undefined) return MAP_NAMES;
  if (!isMapName(name)) throw usageError(`no map named '${name}'; vipd pins: ${MAP_NAMES.join(', ')}`);
  return [name];
}

/**
 * Prints every map that could be read. A map that could not (not pinned,
 * or from another vipd build) is reported on stderr and makes the exit
 * code 1; a permission problem stops at once with exit 3.
 */
export async function runMaps(name: string | undefined, options: MapsOptions, output: CliOutput = processOutput): Promise<ExitCode> {
  const names = selectMaps(name);
  const dir = await resolvePinDir(options);
  checkPinDir(dir);
  const reader = new PinnedMapReader(dir, { all: options.all === true });
  const dumps: AnyMapDump[] = [];
  let exitCode: ExitCode = ExitCode.Ok;
  for (const mapName of names) {
    try {
      dumps.push(reader.read(mapName));
    } catch (err) {
      const failure = describeFailure(err);
      if (failure.exitCode === ExitCode.MissingPrivilege || names.length === 1) throw err;
      for (const line of failure.lines) output.err(`vipctl: ${line}`);
      exitCode = ExitCode.Failure;
    }
  }
  if (options.json === true) {
    output.out(formatJson({ pinDir: dir, maps: Object.fromEntries(dumps.map((d) => [d.name, d])) }));
  } else {
    output.out(formatMapDumps(dumps));
  }
  return exitCode;
}

export function addMapsCommand(program: Command): void {
  program
    .command('maps')
    .description('decode vipd\'s pinned BPF maps straight from bpffs (works with the daemon stopped; needs root)')
    .argument('[name]', `one map: ${MAP_NAMES.join(', ')}`)
    .option('--pin <dir>', `bpffs directory the maps are pinned in (default: --config's bpf.pin, else ${DEFAULT_PIN_DIR})`)
    .option('--all', 'also show empty array slots, zero counters, and every slot of each ring')
    .option('--json', 'print {"pinDir", "maps": {NAME: {path, type, maxEntries, entries, omitted}}} with per-CPU detail')
    .addHelpText(
      'after',
      helpFooter({
        details: [
          'Each map is decoded with the codecs of the running build: addresses, MACs, ports in host\n' +
            'order, flags by name (instances: active; reals: valid), instance leases as time left on\n' +
            'CLOCK_MONOTONIC with the interface and MAC they are served with, per-CPU counters summed\n' +
            '(each CPU\'s value in --json as perCpu).',
          'Rings: each Maglev ring is 65537 slots; they are shown per ring as slots per real server, for\n' +
            'the live and the idle ring of each service. --all also prints every slot.',
          'Array maps list only slots in use (non-zero) unless --all. The pin directory is --pin, else\n' +
            'bpf.pin of --config, else the default. A map missing from it is reported by path.',
        ],
        examples: [
          'vipctl maps',
          'vipctl maps services',
          'vipctl maps rings --json | jq \'.maps.rings.entries[] | {ring, role, reals}\'',
          'vipctl maps --pin /run/vipd-bpf verdicts',
          'vipctl --config /etc/vipd/vipd.yaml maps instances --all',
        ],
        exitCodes: [
          [0, 'ok'],
          [1, 'no pin directory, a map is not pinned, or it does not match this build (message names the path)'],
          [2, 'unknown map name'],
          [3, 'permission denied (run as root: CAP_BPF and read access to bpffs)'],
        ],
      }),
    )
    .action(async (name: string | undefined, _options: unknown, command: Command) =>
      runAction(() => runMaps(name, optionsOf<MapsOptions>(command))),
    );
}
