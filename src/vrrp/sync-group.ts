/**
 * A sync group (keepalived's vrrp_sync_group): instances that must change
 * state together, e.g. the outside and inside VIPs of a router. If one member
 * faults, all are held in FAULT; if one becomes MASTER, the BACKUPs follow;
 * if a MASTER steps down to BACKUP, the other MASTERs step down too.
 *
 * The daemon forwards every stateChange action of the members to
 * onStateChange; forced transitions come back through the same path and are
 * recognised, so propagation happens once.
 */
import type { StateChangeAction, VrrpInstance, VrrpState } from './instance.js';

export class SyncGroup {
  readonly name: string;
  readonly #members: readonly VrrpInstance[];
  #propagating = false;

  constructor(name: string, members: readonly VrrpInstance[]) {
    if (new Set(members.map((m) => m.name)).size !== members.length) {
      throw new RangeError(`sync group ${name}: an instance is listed twice`);
    }
    this.name = name;
    this.#members = members;
  }

  /** MASTER/BACKUP/FAULT when all members agree, otherwise null (in transition or INIT). */
  get state(): VrrpState | null {
    const states = new Set(this.#members.map((m) => m.state));
    if (states.size !== 1) return null;
    const [only] = states;
    return only === 'INIT' ? null : only;
  }

  /** Feed every stateChange a member emits. */
  onStateChange(change: StateChangeAction): void {
    const source = this.#members.find((m) => m.name === change.instance);
    if (source === undefined || this.#propagating) return;
    this.#propagating = true;
    try {
      this.refreshFaults();
      const why = `sync group ${this.name}: ${change.instance} became ${change.to}`;
      for (const other of this.#members) {
        if (other === source) continue;
        if (change.to === 'MASTER') other.forceMaster(why);
        else if (change.to === 'BACKUP' && change.from === 'MASTER') other.forceBackup(why);
      }
    } finally {
      this.#propagating = false;
    }
  }

  /**
   * Each member is held in FAULT while any OTHER member has its own fault.
   * Runs on every state change; the daemon also calls it after a member's
   * setTrackState, because a member already held in FAULT that gets a fault
   * of its own changes no state and emits nothing.
   */
  refreshFaults(): void {
    for (const member of this.#members) {
      const faulty = this.#members.find((m) => m !== member && m.ownFaultReason !== null);
      member.setExternalFault(
        faulty === undefined ? null : `sync group ${this.name}: ${faulty.name} is FAULT (${faulty.ownFaultReason})`,
      );
    }
  }
}
