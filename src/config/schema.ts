/**
 * The validated, defaults-filled shape of a vipd config (DESIGN.md "Config").
 *
 * Everything here is what the daemon consumes after `parseConfig` has
 * checked it: ranges hold, addresses are canonical, references resolve.
 * The YAML spelling of each key is the same as the property name; defaults
 * are in `DEFAULTS` below and documented in docs/configuration.md.
 */
import type { ListenAddress } from '../addr.js';

export type AddressFamily = 4 | 6;

/** A canonical IP address (IPv6 compressed, lower case). */
export interface IpAddress {
  readonly address: string;
  readonly family: AddressFamily;
}

/** A virtual address with the prefix length it gets on the interface. */
export interface VirtualAddress extends IpAddress {
  readonly prefixLength: number;
  /** `address/prefixLength`, as written back to YAML. */
  readonly cidr: string;
}

export type { ListenAddress };

export type BpfMode = 'auto' | 'native' | 'generic';

export interface BpfConfig {
  /** bpffs directory the program and maps are pinned under. */
  readonly pin: string;
  readonly mode: BpfMode;
  /** Bytes of kernel memory the data-plane maps may take; a config that needs more is refused. */
  readonly maxMemory: number;
}

/** Top-level `connections`: the connection table (docs/dataplane.md "Connection table"). */
export interface ConnectionsConfig {
  /** Entries of the table per address family in use (flows4, flows6). */
  readonly max: number;
  /**
   * Entries of each pending stage (pending4, pending6: first-packet tags),
   * rounded up to a power of two. Sized for the handshakes in flight on
   * changed slots (rate x round trip), not for max.
   */
  readonly pending: number;
  /** Seconds a TCP flow may stay idle in the table (a closing one: CLOSE_TIMEOUT). */
  readonly tcpTimeout: number;
  /** Seconds a UDP flow may stay idle. */
  readonly udpTimeout: number;
  /** Absent: no sync (each host's table is its own). */
  readonly sync?: ConnectionSyncConfig;
}

/** A service's source-IP persistence (LVS persistence_timeout). */
export interface PersistenceConfig {
  /** Seconds without traffic from the client before it may land elsewhere. */
  readonly timeout: number;
}

export interface ControlConfig {
  readonly socket: string;
  /** Where /metrics listens; loopback by default. */
  readonly metrics: ListenAddress;
  /** Series per backend (vipd_backend_*); false on hosts with tens of thousands of backends. Default true. */
  readonly backendMetrics: boolean;
}

/** An argv: absolute program path first, never a shell string. */
export type Argv = readonly string[];

/**
 * Commands run on state changes. vipd appends `INSTANCE|GROUP NAME STATE
 * PRIORITY` like keepalived so existing notify scripts keep working. An
 * absent key (or `[]` in YAML) runs nothing.
 */
export interface NotifyConfig {
  readonly master?: Argv;
  readonly backup?: Argv;
  readonly fault?: Argv;
  /** Run when the daemon stops the instance (keepalived's notify_stop). */
  readonly stop?: Argv;
}

export interface TrackInterface {
  readonly name: string;
  /** keepalived's rule: negative is added while down, positive while up; 0 means FAULT while down. */
  readonly weight: number;
}

export interface TrackScript {
  readonly name: string;
  readonly command: Argv;
  readonly interval: number;
  readonly timeout: number;
  /** keepalived's rule: negative is added while failing, positive while up; 0 means FAULT while failing. */
  readonly weight: number;
  readonly rise: number;
  readonly fall: number;
}

export interface TrackConfig {
  readonly interfaces: readonly TrackInterface[];
  readonly scripts: readonly TrackScript[];
}

export interface GarpConfig {
  /** Announcements per VIP in each burst. */
  readonly repeat: number;
  /** Seconds between announcements within a burst. */
  readonly interval: number;
  /** Seconds after becoming MASTER for a second burst; 0: none. */
  readonly delay: number;
  /** Seconds between periodic re-announcements while MASTER; 0: none. */
  readonly refresh: number;
}

export interface PasswordAuth {
  readonly type: 'pass';
  /** 1..8 bytes, sent in the clear (RFC 3768 simple text). */
  readonly password: string;
}

/**
 * VRRPv3 over IPv4 checksum: `rfc` covers the IPv4 pseudo-header as
 * keepalived 2.2.7 does; `v2` covers the VRRP message only (keepalived's
 * `v3_checksum_as_v2`). Ignored for v2 and for IPv6.
 */
export type ChecksumMode = 'rfc' | 'v2';
/** instances[].advertSocket: how multicast adverts leave (InstanceConfig.advertSocket). */
export type AdvertSocket = 'packet' | 'ip';

export type VrrpVersion = 2 | 3;

/**
 * How an instance's VIPs reach the network:
 * - `vrrp`: one MASTER per VIP, elected by VRRP, announced with ARP/ND;
 * - `bgp`: active on every host that runs it while the daemon is healthy,
 *   each VIP announced as a /32 or /128 route to the `bgp` peers (ECMP);
 * - `vrrp+bgp`: elected by VRRP, and announced over BGP while MASTER
 *   (YAML: `announce: [vrrp, bgp]`), for a VIP that moves between L3 segments.
 */
export type AnnounceMode = 'vrrp' | 'bgp' | 'vrrp+bgp';

export interface InstanceConfig {
  readonly name: string;
  readonly interface: string;
  readonly announce: AnnounceMode;
  /** 0 for `announce: bgp` (no VRRP); 1..255 otherwise. */
  readonly vrid: number;
  readonly version: VrrpVersion;
  readonly priority: number;
  /** Seconds, as written. */
  readonly advertInterval: number;
  /** The same interval in centiseconds, exact: what goes on the wire for v3. */
  readonly advertIntervalCentis: number;
  readonly preempt: boolean;
  /** Seconds. */
  readonly preemptDelay: number;
  /** Empty: multicast (224.0.0.18 / ff02::12). */
  readonly unicastPeers: readonly IpAddress[];
  /** Source address of unicast adverts (keepalived's unicast_src_ip). */
  readonly unicastSource?: IpAddress;
  readonly auth?: PasswordAuth;
  readonly checksumMode: ChecksumMode;
  readonly vips: readonly VirtualAddress[];
  readonly addAddresses: boolean;
  /**
   * Answer for the VIPs with the VRRP virtual MAC (00:00:5e:00:01:VRID, IPv6
   * 00:00:5e:00:02:VRID) instead of the interface's: adverts, announcements,
   * ARP/NDP replies and forwarded frames carry it (keepalived use_vmac).
   */
  readonly vmac: boolean;
  /**
   * How multicast adverts leave: `packet` (default) below the IP layer,
   * with no route lookup or netfilter OUTPUT/POSTROUTING per advert; `ip`
   * through the raw IP socket, as keepalived sends them (for hosts whose
   * netfilter rules act on outgoing VRRP). docs/vrrp.md "The advert's path".
   */
  readonly advertSocket: AdvertSocket;
  readonly garp: GarpConfig;
  readonly track: TrackConfig;
  readonly notify: NotifyConfig;
  /** BFD to the peers (src/bfd, docs/vrrp.md "BFD"); absent: none. */
  readonly bfd?: BfdInstanceConfig;
}

export interface BfdInstanceConfig {
  /** Desired Min TX = Required Min RX, seconds. */
  readonly interval: number;
  /** Detect Mult. */
  readonly multiplier: number;
  /** Resolved: the configured peers, or the VRRP unicast peers when none were listed. */
  readonly peers: readonly IpAddress[];
}

export interface SyncGroupConfig {
  readonly name: string;
  /** Instance names that change state together. */
  readonly instances: readonly string[];
  readonly notify: NotifyConfig;
}

interface HealthCheckTiming {
  /** Seconds between checks. */
  readonly interval: number;
  /** Seconds before one check counts as failed. */
  readonly timeout: number;
  /** Consecutive successes to mark a backend up. */
  readonly rise: number;
  /** Consecutive failures to mark a backend down. */
  readonly fall: number;
}

export interface TcpHealthCheck extends HealthCheckTiming {
  readonly type: 'tcp';
  /** Port to connect to; the service port when absent. */
  readonly port?: number;
}

export interface HttpHealthCheck extends HealthCheckTiming {
  readonly type: 'http' | 'https';
  readonly port?: number;
  readonly path: string;
  readonly expectStatus: number;
  /** Host header; the backend address when absent. */
  readonly host?: string;
  /** https only: verify the certificate (off by default, like keepalived's SSL_GET). */
  readonly tlsVerify: boolean;
}

export interface CommandHealthCheck extends HealthCheckTiming {
  readonly type: 'command';
  /** Exit 0 means healthy. vipd appends nothing; use the env for the backend. */
  readonly command: Argv;
}

export type HealthCheckConfig = TcpHealthCheck | HttpHealthCheck | CommandHealthCheck;
export type HealthCheckType = HealthCheckConfig['type'];

export interface BackendConfig {
  readonly address: string;
  readonly family: AddressFamily;
  /** Maglev weight; 0 keeps the backend configured but sends it no new flows. */
  readonly weight: number;
  /** This backend's own check, used instead of the service's `healthCheck` for it. */
  readonly healthCheck?: HealthCheckConfig;
}

export type ServiceProtocol = 'tcp' | 'udp';

export interface ServiceConfig {
  /** Given, or `vip:port/protocol` (`[v6]:port/protocol`); unique. */
  readonly name: string;
  readonly vip: string;
  readonly family: AddressFamily;
  readonly port: number;
  readonly protocol: ServiceProtocol;
  /** Forwarded only while this instance is MASTER. */
  readonly instance: string;
  readonly backends: readonly BackendConfig[];
  /** No check: every backend counts as up. */
  readonly healthCheck?: HealthCheckConfig;
  /** Every connection of one client address goes to one real server. */
  readonly persistence?: PersistenceConfig;
}

export interface BgpPeer {
  readonly address: IpAddress;
  readonly asn: number;
  /** A BFD session guards the BGP session: a dead link or host is noticed in ~300 ms instead of the hold time. */
  readonly bfd: boolean;
  /** Seconds (BGP hold time offered; 3..65535). */
  readonly holdTime: number;
}

/** Top-level `bgp`: the BGP speaker vipd runs (BIRD2, see src/bgp). */
export interface BgpConfig {
  readonly asn: number;
  readonly routerId: string;
  readonly peers: readonly BgpPeer[];
  /** Seconds between the withdrawal and the data plane stopping at a graceful stop: the routers move the flows meanwhile. */
  readonly gracePeriod: number;
  /** Private directory for BIRD's generated config and control socket. */
  readonly runDir: string;
}

/**
 * `connections.sync`: the MASTER sends the connection-table entries a
 * BACKUP could not compute itself to its peers over UDP (src/sync).
 */
export interface ConnectionSyncConfig {
  /** UDP port every host listens on and sends to. */
  readonly port: number;
  /** Where to send; empty: the instances' unicastPeers and the peers heard (BACKUPs say hello to the MASTER they hear). */
  readonly peers: readonly IpAddress[];
  /** The HMAC-SHA256 key (`key`, or the contents of `keyFile`); absent: the first VRRP instance's auth password. */
  readonly key?: string;
  /** Where the key came from, for logs (never the key itself). */
  readonly keySource: 'key' | 'keyFile' | 'vrrp-auth';
  /** Seconds between two reads of the table for new or changed entries. */
  readonly interval: number;
  /** Entries per second at most, increments and bulk together. */
  readonly rate: number;
  /** Seconds a returning host holds preemption while it waits for a bulk sync from the MASTER. */
  readonly holdTimeout: number;
}

export interface Config {
  readonly bpf: BpfConfig;
  readonly control: ControlConfig;
  readonly connections: ConnectionsConfig;
  /** Absent: no BGP (and no `announce: bgp` instance). */
  readonly bgp?: BgpConfig;
  readonly instances: readonly InstanceConfig[];
  readonly syncGroups: readonly SyncGroupConfig[];
  readonly services: readonly ServiceConfig[];
}

/** Every default in one place; docs/configuration.md lists the same values. */
export const DEFAULTS = {
  bpf: { pin: '/sys/fs/bpf/vipd', mode: 'auto', maxMemory: 1024 ** 3 },
  control: { socket: '/run/vipd/vipd.sock', metrics: '127.0.0.1:9477', backendMetrics: true },
  connections: { max: 1_000_000, pending: 65_536, tcpTimeout: 900, udpTimeout: 60 },
  bgp: { holdTime: 9, bfd: false, gracePeriod: 2, runDir: '/run/vipd/bgp' },
  connectionSync: { port: 8899, interval: 0.2, rate: 100_000, holdTimeout: 30 },
  instance: {
    announce: 'vrrp',
    version: 3,
    priority: 100,
    advertInterval: 1,
    preempt: true,
    preemptDelay: 0,
    checksumMode: 'rfc',
    addAddresses: false,
    vmac: false,
    advertSocket: 'packet' as AdvertSocket,
  },
  garp: { repeat: 5, interval: 0, delay: 5, refresh: 0 },
  trackInterfaceWeight: 0,
  trackScript: { interval: 1, weight: 0, rise: 1, fall: 1 },
  service: { protocol: 'tcp' },
  backendWeight: 1,
  healthCheck: { interval: 1, timeout: 1, rise: 2, fall: 3, path: '/', expectStatus: 200, tlsVerify: false },
} as const;

/** Limits shared by the validator and the docs. */
export const LIMITS = {
  vrid: { min: 1, max: 255 },
  asn: { min: 1, max: 4294967295 },
  holdTime: { min: 3, max: 65535 },
  priority: { min: 1, max: 255 },
  advertIntervalV3: { min: 0.01, max: 40.95 },
  advertIntervalV2: { min: 1, max: 255 },
  preemptDelay: { min: 0, max: 1000 },
  trackWeight: { min: -254, max: 254 },
  backendWeight: { min: 0, max: 65535 },
  port: { min: 1, max: 65535 },
  connections: { min: 1024, max: 100_000_000 },
  /** connections.pending: 16 B a tag, so 1 GiB per family at most. */
  pendingTags: { min: 1024, max: 2 ** 26 },
  flowTimeout: { min: 1, max: 86_400 },
  syncInterval: { min: 0.01, max: 10 },
  syncRate: { min: 100, max: 10_000_000 },
  syncHoldTimeout: { min: 0, max: 3600 },
  syncKeyBytes: 16,
  passwordBytes: 8,
  nameLength: 64,
  interfaceNameLength: 15,
} as const;
