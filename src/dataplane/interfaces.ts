/**
 * The interfaces the program serves: their MACs (the source of every frame
 * sent back out), their XDP attachments (pinned as links when there is a
 * pin directory), and, for a bond, its members in the iface_masters map:
 * XDP on a bond runs on the members, whose frames carry the member's
 * ifindex, so the program looks the bond up from there.
 */
import { existsSync, rmSync } from 'node:fs';
import {
  XdpLink,
  attachXdp,
  resolveIfindex,
  type BpfMap,
  type Program,
  type XdpAttachment,
  type XdpMode,
} from '../bpf/index.js';
import { parseMac } from './addr.js';
import { bondMembers } from './bond.js';
import { linkPinPath } from './pins.js';

/** An enabled interface, as an instance entry holds it. */
export interface ServingInterface {
  ifindex: number;
  mac: Buffer;
}

export class Interfaces {
  private readonly links = new Map<number, XdpAttachment>();
  /**
   * ifindex -> MAC. Not a map of the program (ABI 4): each instance entry
   * carries its interface's ifindex and MAC, written when it is activated.
   */
  private readonly macs = new Map<number, Buffer>();
  /** Interface names seen by attach(), so activation needs no lookup by name. */
  private readonly ifindexByName = new Map<string, number>();

  constructor(
    private readonly masters: BpfMap<number, number>,
    /** Size of iface_masters (limits.ifindexes): a bond member's ifindex must be below it. */
    private readonly ifindexLimit: number,
    private readonly pinDir: string | undefined,
  ) {}

  /**
   * Records an interface's MAC (and a bond's members) and attaches, or,
   * when a link pinned by an earlier process exists, swaps the program
   * into it atomically.
   */
  attach(program: Program, iface: string | number, mac: string | Buffer, mode: XdpMode): XdpAttachment {
    const ifindex = resolveIfindex(iface);
    if (typeof iface === 'string') this.ifindexByName.set(iface, ifindex);
    // XDP on a bond runs on its members, with their ifindexes.
    const members = typeof iface === 'string' ? bondMembers(iface).map((m) => m.ifindex) : [];
    this.enable(ifindex, mac, members);
    const pin = this.pinDir === undefined ? undefined : linkPinPath(this.pinDir, ifindex);
    let link: XdpAttachment;
    if (pin && existsSync(pin)) {
      link = XdpLink.openPinned(pin);
      link.update(program);
    } else {
      link = attachXdp(program, ifindex, { mode });
      if (pin && link.via === 'link') link.pin(pin);
    }
    this.links.get(ifindex)?.close();
    this.links.set(ifindex, link);
    return link;
  }

  /** Records an interface's MAC and its bond members (none for anything but a bond). */
  enable(ifindex: number, mac: string | Buffer, members: readonly number[]): void {
    if (!Number.isInteger(ifindex) || ifindex <= 0) throw new RangeError(`not an ifindex: ${ifindex}`);
    for (const m of members) {
      if (!Number.isInteger(m) || m <= 0) throw new RangeError(`not an ifindex: ${m}`);
      if (m >= this.ifindexLimit) {
        throw new RangeError(
          `bond member ifindex ${m} is too large for the data plane: iface_masters is an array indexed by ifindex ` +
            `and holds ifindexes below ${this.ifindexLimit} (limits.ifindexes)`,
        );
      }
    }
    this.macs.set(ifindex, Buffer.from(typeof mac === 'string' ? parseMac(mac) : mac));
    // Members that left the bond since the last call stop counting for it.
    for (const [m, master] of this.masterEntries()) if (master === ifindex && !members.includes(m)) this.masters.update(m, 0);
    for (const m of members) this.masters.update(m, ifindex);
  }

  /** iface_masters entries in use: [member, bond]. */
  private masterEntries(): [number, number][] {
    return this.masters.lookupBatch().filter(([, master]) => master !== 0);
  }

  /** Bond members recorded for an interface (empty for anything but a bond). */
  members(ifindex: number): number[] {
    return this.masterEntries()
      .filter(([, master]) => master === ifindex)
      .map(([m]) => m);
  }

  /** Forgets an interface and its bond members; false when it was not enabled. */
  disable(ifindex: number): boolean {
    const was = this.macs.delete(ifindex);
    for (const [name, i] of this.ifindexByName) if (i === ifindex) this.ifindexByName.delete(name);
    for (const m of this.members(ifindex)) this.masters.update(m, 0);
    return was;
  }

  /** The ifindexes the program serves (attached or enabled by this process). */
  enabled(): number[] {
    return [...this.macs.keys()].sort((a, b) => a - b);
  }

  /** ifindex and MAC of an enabled interface, for an instance entry. */
  serving(iface: string | number): ServingInterface {
    const ifindex = typeof iface === 'number' ? iface : (this.ifindexByName.get(iface) ?? resolveIfindex(iface));
    const mac = this.macs.get(ifindex);
    if (!mac) {
      throw new Error(
        `interface ${typeof iface === 'string' ? `${iface} (ifindex ${ifindex})` : `ifindex ${ifindex}`} ` +
          'is not enabled: attach() or enableInterface() it first',
      );
    }
    return { ifindex, mac };
  }

  /** Detaches the program (and removes its link pin); the caller then disables the interface. */
  detach(iface: string | number): number {
    const ifindex = resolveIfindex(iface);
    let link = this.links.get(ifindex);
    const pin = this.pinDir === undefined ? undefined : linkPinPath(this.pinDir, ifindex);
    if (!link && pin && existsSync(pin)) link = XdpLink.openPinned(pin);
    link?.detach();
    link?.close();
    this.links.delete(ifindex);
    if (pin) rmSync(pin, { force: true });
    return ifindex;
  }

  /** Drops this process's link fds; pinned links stay attached. */
  close(): void {
    for (const l of this.links.values()) l.close();
    this.links.clear();
  }
}
