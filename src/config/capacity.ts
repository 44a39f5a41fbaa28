/**
 * What the daemon can hold, checked when the config is read, so that
 * `vipd --check` refuses exactly the configs that `vipd` would refuse at
 * start or reload (issue: 65 services passed --check, then the daemon died
 * with "no room for service"). The limits are the data plane's map sizes
 * (bpf/vipd_consts.h, mirrored in src/dataplane/abi.ts) and the VRRP
 * advert's one-byte address count.
 */
import { MAX_INSTANCES, MAX_REALS, MAX_SERVICES, MAX_VIPS } from '../dataplane/abi.js';
import { MAX_ADVERT_ADDRESSES } from '../vrrp/codec.js';
import type { InstanceConfig, ServiceConfig } from './schema.js';
import type { Field, FieldReader } from './yaml-reader.js';

export interface Capacity {
  /** Entries of the `instances` map. */
  readonly instances: number;
  /** VIP addresses, all instances together (the `vips` map). */
  readonly vips: number;
  /** Services, IPv4 and IPv6 together (one ring pair each). */
  readonly services: number;
  /** (service, backend) pairs (the `reals` map). */
  readonly reals: number;
  /** Addresses in one VRRP advert (the count field is one byte). */
  readonly advertAddresses: number;
}

export const CAPACITY: Capacity = {
  instances: MAX_INSTANCES,
  vips: MAX_VIPS,
  services: MAX_SERVICES,
  reals: MAX_REALS,
  advertAddresses: MAX_ADVERT_ADDRESSES,
};

interface Located<T> {
  readonly field: Field;
  readonly value: T;
}

/** Records an error for every limit the config goes past, at the first entry past it. */
export function checkCapacity(
  reader: FieldReader,
  instances: readonly Located<InstanceConfig>[],
  services: readonly Located<ServiceConfig>[],
  capacity: Capacity = CAPACITY,
): void {
  const firstInstanceOver = instances[capacity.instances];
  if (firstInstanceOver) {
    reader.error(
      firstInstanceOver.field,
      `${instances.length} instances: the data plane holds at most ${capacity.instances} (VIPD_MAX_INSTANCES)`,
    );
  }

  let vips = 0;
  for (const { field, value: instance } of instances) {
    const before = vips;
    vips += instance.vips.length;
    if (before < capacity.vips && vips > capacity.vips) {
      reader.error(
        vipField(reader, field, capacity.vips - before),
        `${totalVips(instances)} VIPs in all instances: the data plane holds at most ${capacity.vips} (VIPD_MAX_VIPS)`,
      );
    }
    // VRRP runs over the first VIP's family; the other family's VIPs are not in the advert.
    const family = instance.vips[0]?.family;
    const advertised = instance.vips.filter((vip) => vip.family === family);
    if (advertised.length > capacity.advertAddresses) {
      const over = advertised[capacity.advertAddresses];
      reader.error(
        vipField(reader, field, over ? instance.vips.indexOf(over) : 0),
        `${advertised.length} IPv${family} VIPs: a VRRP advert carries at most ${capacity.advertAddresses} addresses`,
      );
    }
  }

  const firstServiceOver = services[capacity.services];
  if (firstServiceOver) {
    reader.error(
      firstServiceOver.field,
      `${services.length} services: the data plane holds at most ${capacity.services} (VIPD_MAX_SERVICES)`,
    );
  }

  let reals = 0;
  for (const { field, value: service } of services) {
    const before = reals;
    reals += service.backends.length;
    if (before < capacity.reals && reals > capacity.reals) {
      const total = services.reduce((sum, s) => sum + s.value.backends.length, 0);
      reader.error(
        reader.peek(field, 'backends') ?? field,
        `${total} backends in all services: the data plane holds at most ${capacity.reals} (VIPD_MAX_REALS)`,
      );
    }
  }
}

function totalVips(instances: readonly Located<InstanceConfig>[]): number {
  return instances.reduce((sum, i) => sum + i.value.vips.length, 0);
}

/** The instance's VIP at `index`, or its `vips` key when the list cannot be read. */
function vipField(reader: FieldReader, instance: Field, index: number): Field {
  const vips = reader.peek(instance, 'vips');
  if (!vips) return instance;
  return reader.list(vips)?.[index] ?? vips;
}
