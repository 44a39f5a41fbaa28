/** Just enough of a keepalived.conf reader to build an AdvertPolicy from the vector configs. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { AdvertPolicy } from '../../../src/vrrp/validate.js';
import { VECTOR_DIR } from './vectors.js';

function block(text: string, name: string): string[] {
  const match = new RegExp(`${name}\\s*\\{([^}]*)\\}`).exec(text);
  return match === null ? [] : match[1].split('\n').map((l) => l.trim()).filter((l) => l !== '');
}

function setting(text: string, key: string): string | null {
  const match = new RegExp(`^\\s*${key}\\s+(\\S+)`, 'm').exec(text);
  return match === null ? null : match[1];
}

export interface VectorConf {
  policy: AdvertPolicy;
  authType: string | null;
}

export function readVectorConf(file: string): VectorConf {
  const text = readFileSync(path.join(VECTOR_DIR, file), 'utf8');
  const addresses = block(text, 'virtual_ipaddress').map((l) => l.split(/\s+/)[0]);
  const family = addresses[0].includes(':') ? 6 : 4;
  const authType = setting(text, 'auth_type');
  const password = setting(text, 'auth_pass');
  return {
    authType,
    policy: {
      version: setting(text, 'version') === '3' ? 3 : 2,
      family,
      vrid: Number(setting(text, 'virtual_router_id')),
      addresses,
      auth: authType === 'PASS' && password !== null ? { type: 'pass', password } : { type: 'none' },
      advertIntervalMs: Number(setting(text, 'advert_int')) * 1000,
      unicastPeers: block(text, 'unicast_peer'),
    },
  };
}
