/**
 * The keepalived statement tree -> a vipd document. Reads in the order
 * keepalived resolves references: globals and scripts, then instances,
 * then what refers to instances (sync groups, virtual servers).
 */
import { parseCidr } from '../address.js';
import { CommandReader } from './commands.js';
import type { DiagnosticLog } from './diagnostics.js';
import { TOP_LEVEL_UNSUPPORTED, reportUnhandled } from './keywords.js';
import { convertVirtualServer } from './convert-lvs.js';
import {
  convertGlobalDefs,
  convertInstance,
  convertSyncGroup,
  convertVrrpScript,
  defaultGlobals,
  type ScriptDefinition,
} from './convert-vrrp.js';
import type { InstanceYaml, ServiceYaml, SyncGroupYaml, VipdYaml } from './output.js';
import type { Statement } from './parser.js';
import { describe } from './values.js';

const TOP_LEVEL = ['global_defs', 'vrrp_script', 'vrrp_instance', 'vrrp_sync_group', 'virtual_server'];

export interface ConversionResult {
  readonly document: VipdYaml;
  /** How many top-level blocks were keepalived blocks vipd knows; 0 suggests it is not a keepalived config. */
  readonly recognized: number;
}

/** Why `instance` cannot live next to the instances already accepted, if it cannot. */
function clashWith(accepted: readonly InstanceYaml[], instance: InstanceYaml): string | undefined {
  const addresses = new Set(instance.vips.map((vip) => (parseCidr(vip).ok ? vip.split('/')[0] : vip)));
  for (const other of accepted) {
    if (other.name === instance.name) return `instance name "${instance.name}" is already used`;
    if (other.interface === instance.interface && other.vrid === instance.vrid) {
      return `virtual_router_id ${instance.vrid} on ${instance.interface} is already used by "${other.name}"`;
    }
    const shared = other.vips.map((vip) => vip.split('/')[0]).find((address) => addresses.has(address));
    if (shared) return `VIP ${shared} already belongs to "${other.name}"`;
  }
  return undefined;
}

export interface ConversionOptions {
  /** PATH-style list where bare script names are looked up; keepalived's own PATH when it loads the config. */
  readonly searchPath?: string;
}

export function convertStatements(log: DiagnosticLog, statements: readonly Statement[], options: ConversionOptions = {}): ConversionResult {
  const commands = new CommandReader(log, options.searchPath);
  const globals = defaultGlobals();
  const scripts = new Map<string, ScriptDefinition>();
  let recognized = 0;
  for (const statement of statements) {
    if (TOP_LEVEL.includes(statement.keyword) || TOP_LEVEL_UNSUPPORTED[statement.keyword] !== undefined) recognized++;
    if (statement.keyword === 'global_defs') convertGlobalDefs(log, statement, globals);
    else if (statement.keyword === 'vrrp_script') {
      const script = convertVrrpScript(log, statement, commands);
      if (script) scripts.set(...script);
    }
  }

  const instances: InstanceYaml[] = [];
  const instanceNames = new Map<string, string>();
  for (const statement of statements.filter((s) => s.keyword === 'vrrp_instance')) {
    const instance = convertInstance(log, statement, globals, scripts, commands);
    if (!instance) continue;
    const clash = clashWith(instances, instance);
    if (clash) {
      log.dropped(statement, describe(statement), `${clash}; instance not converted`);
      continue;
    }
    instances.push(instance);
    instanceNames.set(statement.args[0] ?? instance.name, instance.name);
  }

  const vipInstance = new Map<string, string>();
  for (const instance of instances) {
    for (const vip of instance.vips) {
      const parsed = parseCidr(vip);
      if (parsed.ok) vipInstance.set(parsed.value.address, instance.name);
    }
  }
  const syncGroups: SyncGroupYaml[] = [];
  const services: ServiceYaml[] = [];
  const grouped = new Set<string>();
  for (const statement of statements) {
    if (statement.keyword === 'vrrp_sync_group') {
      const group = convertSyncGroup(log, statement, instanceNames, commands);
      if (!group) continue;
      const twice = group.instances.find((name) => grouped.has(name));
      if (twice) log.dropped(statement, describe(statement), `instance "${twice}" is already in another sync group; group not converted`);
      else if (syncGroups.some((other) => other.name === group.name)) log.dropped(statement, describe(statement), 'a sync group of this name exists; not converted');
      else {
        group.instances.forEach((name) => grouped.add(name));
        syncGroups.push(group);
      }
    } else if (statement.keyword === 'virtual_server') {
      const service = convertVirtualServer(log, statement, vipInstance, commands);
      if (!service) continue;
      if (services.some((s) => s.vip === service.vip && s.port === service.port && s.protocol === service.protocol)) {
        log.dropped(statement, describe(statement), 'the same VIP, port and protocol are already a service; not converted');
      } else services.push(service);
    } else if (!['global_defs', 'vrrp_script', 'vrrp_instance'].includes(statement.keyword)) {
      reportUnhandled(log, statement, 'the top level', TOP_LEVEL_UNSUPPORTED, TOP_LEVEL);
    }
  }
  return {
    document: {
      instances,
      ...(syncGroups.length ? { syncGroups } : {}),
      ...(services.length ? { services } : {}),
    },
    recognized,
  };
}
