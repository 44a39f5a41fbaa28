/**
 * Checks a received advertisement against one instance's config, in the
 * order of RFC 9568 section 7.1 plus the checks keepalived adds (v2 interval
 * mismatch, unicast peer list). A packet any check rejects must not reach the
 * state machine; the reason feeds vipd_vrrp_rx_invalid_total{reason}.
 */
import { canonicalIp, formatIp, parseIpOf, type IpFamily } from './addr.js';
import {
  AuthType,
  decodeAdvert,
  passwordAuthData,
  VRRP_TTL,
  type DecodeResult,
  type PacketMeta,
  type RejectReason,
  type V3ChecksumMode,
  type VrrpAdvert,
  type VrrpVersion,
} from './codec.js';

/** v2 authentication as configured. v3 has none; AH is not supported. */
export type AuthConfig = { type: 'none' } | { type: 'pass'; password: string };

/** What an instance expects of the adverts it accepts. */
export interface AdvertPolicy {
  version: VrrpVersion;
  family: IpFamily;
  vrid: number;
  /** The instance's virtual addresses (no prefix length). */
  addresses: readonly string[];
  /** v2 only; default none. */
  auth?: AuthConfig;
  /** Our own interval; v2 rejects any other (keepalived: "advertisement interval mismatch"). */
  advertIntervalMs: number;
  /** Unicast peers; empty means multicast, and any source is accepted. */
  unicastPeers?: readonly string[];
  /**
   * Require TTL/hop limit 255 on unicast too (default true). RFC 9568 always
   * requires it and keepalived sends 255; turn off only for routed peers.
   */
  unicastTtlCheck?: boolean;
  v3Checksum?: V3ChecksumMode;
}

type Check = { ok: true } | { ok: false; reason: RejectReason };
const PASS: Check = { ok: true };
const reject = (reason: RejectReason): Check => ({ ok: false, reason });

/** A policy with its addresses parsed once, so the per-packet path only compares. */
export class AdvertValidator {
  readonly #policy: AdvertPolicy;
  readonly #addresses: ReadonlySet<string>;
  readonly #peers: ReadonlySet<string>;
  readonly #authData: Buffer | null;

  constructor(policy: AdvertPolicy) {
    this.#policy = policy;
    this.#addresses = new Set(policy.addresses.map((a) => canonicalOrThrow(policy.family, a)));
    this.#peers = new Set((policy.unicastPeers ?? []).map((a) => canonicalOrThrow(policy.family, a)));
    this.#authData = policy.auth?.type === 'pass' ? passwordAuthData(policy.auth.password) : null;
  }

  /** TTL, then decode, then the config checks: the whole receive path for one payload. */
  receive(payload: Uint8Array, meta: PacketMeta): DecodeResult {
    const ttl = this.#checkTtl(meta);
    if (!ttl.ok) return ttl;
    const decoded = decodeAdvert(payload, meta, { v3Checksum: this.#policy.v3Checksum });
    if (!decoded.ok) return decoded;
    const checked = this.check(decoded.advert, meta);
    return checked.ok ? decoded : checked;
  }

  /** The config checks on an already decoded advert. */
  check(advert: VrrpAdvert, meta: PacketMeta): Check {
    const policy = this.#policy;
    if (meta.family !== policy.family) return reject('family');
    if (advert.version !== policy.version) return reject('version');
    if (advert.vrid !== policy.vrid) return reject('vrid');
    if (this.#peers.size > 0 && !this.#peers.has(canonicalIp(meta.src) ?? '')) return reject('peer');
    if (advert.version === 2) {
      const auth = this.#checkAuth(advert.authType, advert.authData);
      if (!auth.ok) return auth;
      if (advert.advertIntervalSec * 1000 !== policy.advertIntervalMs) return reject('interval');
    }
    if (advert.addresses.length !== this.#addresses.size) return reject('addr_count');
    // decodeAdvert returns canonical text, so set membership is address equality.
    if (!advert.addresses.every((a) => this.#addresses.has(a))) return reject('addr_list');
    return PASS;
  }

  #checkTtl(meta: PacketMeta): Check {
    const unicast = this.#peers.size > 0;
    if (unicast && this.#policy.unicastTtlCheck === false) return PASS;
    return meta.ttl === VRRP_TTL ? PASS : reject('ttl');
  }

  #checkAuth(authType: number, authData: Buffer): Check {
    // AH (type 2) is never accepted: we cannot verify it, so it is a type mismatch.
    const expected = this.#authData === null ? AuthType.None : AuthType.SimplePassword;
    if (authType !== expected) return reject('auth_type');
    if (this.#authData !== null && !authData.equals(this.#authData)) return reject('auth');
    return PASS;
  }
}

function canonicalOrThrow(family: IpFamily, text: string): string {
  // Config may carry a prefix length (203.0.113.42/32); adverts carry bare addresses.
  const bytes = parseIpOf(family, text.split('/')[0]);
  if (bytes === null) throw new RangeError(`${text} is not an IPv${family} address`);
  return formatIp(bytes);
}
