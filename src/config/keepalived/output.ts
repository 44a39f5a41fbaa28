/**
 * The vipd YAML document the importer builds, in the key order it is
 * written. Optional keys are omitted when keepalived's behaviour equals
 * vipd's default, so the output stays short; the values are checked again
 * by parseConfig before they are printed.
 */
export type ArgvYaml = string[];

export interface NotifyYaml {
  master?: ArgvYaml;
  backup?: ArgvYaml;
  fault?: ArgvYaml;
  stop?: ArgvYaml;
}

export interface TrackScriptYaml {
  name: string;
  command: ArgvYaml;
  interval: number;
  timeout?: number;
  weight: number;
  rise: number;
  fall: number;
}

export interface GarpYaml {
  repeat?: number;
  interval?: number;
  delay?: number;
  refresh?: number;
}

export interface InstanceYaml {
  name: string;
  interface: string;
  vrid: number;
  version: 2 | 3;
  priority: number;
  advertInterval: number;
  preempt?: boolean;
  preemptDelay?: number;
  unicastSource?: string;
  unicastPeers?: string[];
  auth?: { type: 'pass'; password: string };
  checksumMode?: 'rfc' | 'v2';
  vips: string[];
  addAddresses: boolean;
  vmac?: boolean;
  garp?: GarpYaml;
  track?: { interfaces?: { name: string; weight: number }[]; scripts?: TrackScriptYaml[] };
  notify?: NotifyYaml;
}

export interface SyncGroupYaml {
  name: string;
  instances: string[];
  notify?: NotifyYaml;
}

export interface HealthCheckYaml {
  type: 'tcp' | 'http' | 'https' | 'command';
  port?: number;
  path?: string;
  expectStatus?: number;
  host?: string;
  command?: ArgvYaml;
  interval: number;
  timeout: number;
  rise: number;
  fall: number;
}

export interface BackendYaml {
  address: string;
  weight: number;
  /** Only where this real server's check differs from the service's. */
  healthCheck?: HealthCheckYaml;
}

export interface ServiceYaml {
  vip: string;
  port: number;
  protocol: 'tcp' | 'udp';
  instance: string;
  backends: BackendYaml[];
  healthCheck?: HealthCheckYaml;
  /** keepalived's persistence_timeout (seconds). */
  persistence?: { timeout: number };
}

export interface VipdYaml {
  instances: InstanceYaml[];
  syncGroups?: SyncGroupYaml[];
  services?: ServiceYaml[];
}
