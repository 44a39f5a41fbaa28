/**
 * The daemon's answers to vipctl (src/daemon/api.ts is the contract).
 * Parameters are checked here: the socket is root-only, but a malformed
 * request must still get a clear error and change nothing.
 *
 * Error codes the handlers add to the transport's own: NOT_FOUND (no such
 * instance, service or backend), INVALID (bad parameter), CONFIG (reload
 * rejected: the message lists every error).
 */
import { ControlError, type Handlers, type RequestContext } from './control/index.js';
import type { ConnectionsResult, DrainHostResult, DrainResult, PriorityResult, ReloadResult, Requester, StatsSnapshot, StatusResult, VipdEvent } from './api.js';
import type { EventLog } from './events.js';
import { ConfigRejected } from './read-config.js';

/** What the handlers may ask of the daemon; the Daemon implements it. */
export interface ControlTarget {
  status(): StatusResult;
  stats(): StatsSnapshot;
  /** Throws ConfigRejected when the new config has errors (nothing changed then). */
  reload(by: Requester): Promise<ReloadResult>;
  /** Sets an instance's base priority; undefined when there is no such instance. */
  setPriority(instance: string, priority: number, by: Requester): { previous: number } | undefined;
  hasService(service: string): boolean;
  /** undefined when the service has no such backend. */
  setDrained(service: string, backend: string, drained: boolean, by: Requester): Promise<{ changed: boolean } | undefined>;
  /** A backend's connections, from a sweep at most ~1 s old; undefined when there is no such backend. */
  connections(service: string, backend: string): Promise<Omit<ConnectionsResult, 'service' | 'backend'> | undefined>;
  /** `vipctl drain-host`; undefined when the config has no bgp. */
  setHostDrained(drained: boolean, by: Requester): Promise<{ changed: boolean } | undefined>;
  /** The history `vipctl events` reads. */
  readonly events: Pick<EventLog, 'follow' | 'list'>;
}

/** Who sent the request, for the event history. */
function requester(ctx: RequestContext): Requester {
  return { via: 'control', uid: ctx.peer?.uid ?? null, pid: ctx.peer?.pid ?? null };
}

function obj(params: unknown): Record<string, unknown> {
  if (params === undefined || params === null) return {};
  if (typeof params !== 'object' || Array.isArray(params)) throw new ControlError('INVALID', 'params must be a map');
  return params as Record<string, unknown>;
}

function str(p: Record<string, unknown>, key: string): string {
  const v = p[key];
  if (typeof v !== 'string' || v === '') throw new ControlError('INVALID', `${key} must be a non-empty string`);
  return v;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    });
  });

export function controlHandlers(d: ControlTarget): Handlers {
  const drain = (drained: boolean) => async (params: unknown, ctx: RequestContext): Promise<DrainResult> => {
    const p = obj(params);
    const service = str(p, 'service');
    const backend = str(p, 'backend');
    if (!d.hasService(service)) throw new ControlError('NOT_FOUND', `no service '${service}'`);
    const res = await d.setDrained(service, backend, drained, requester(ctx));
    if (!res) throw new ControlError('NOT_FOUND', `service '${service}' has no backend '${backend}'`);
    return { service, backend, drained, changed: res.changed };
  };
  const drainHost = (drained: boolean) => async (_params: unknown, ctx: RequestContext): Promise<DrainHostResult> => {
    const res = await d.setHostDrained(drained, requester(ctx));
    if (!res) throw new ControlError('NOT_FOUND', 'this vipd has no bgp configured: nothing to drain');
    return { drained, changed: res.changed };
  };
  return {
    status: (): StatusResult => d.status(),
    stats: {
      stream: async function* (params: unknown, ctx): AsyncGenerator<StatsSnapshot> {
        const p = obj(params);
        const watch = p.watch === true;
        const interval = typeof p.intervalMs === 'number' && p.intervalMs >= 100 ? p.intervalMs : 1000;
        yield d.stats();
        while (watch && !ctx.signal.aborted) {
          await sleep(interval, ctx.signal);
          if (ctx.signal.aborted) return;
          yield d.stats();
        }
      },
    },
    events: {
      stream: async function* (params: unknown, ctx): AsyncGenerator<VipdEvent> {
        const p = obj(params);
        const limit = p.limit;
        if (limit !== undefined && (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1)) {
          throw new ControlError('INVALID', 'limit must be a positive integer');
        }
        if (p.follow === true) {
          yield* d.events.follow(ctx.signal, limit);
          return;
        }
        for (const e of d.events.list(limit)) yield e;
      },
    },
    connections: async (params: unknown): Promise<ConnectionsResult> => {
      const p = obj(params);
      const service = str(p, 'service');
      const backend = str(p, 'backend');
      if (!d.hasService(service)) throw new ControlError('NOT_FOUND', `no service '${service}'`);
      const res = await d.connections(service, backend);
      if (!res) throw new ControlError('NOT_FOUND', `service '${service}' has no backend '${backend}'`);
      return { service, backend, ...res };
    },
    drain: drain(true),
    undrain: drain(false),
    drainHost: drainHost(true),
    undrainHost: drainHost(false),
    priority: (params: unknown, ctx: RequestContext): PriorityResult => {
      const p = obj(params);
      const name = str(p, 'instance');
      const priority = p.priority;
      if (typeof priority !== 'number' || !Number.isInteger(priority) || priority < 1 || priority > 254) {
        throw new ControlError('INVALID', 'priority must be an integer 1..254');
      }
      const res = d.setPriority(name, priority, requester(ctx));
      if (!res) throw new ControlError('NOT_FOUND', `no instance '${name}'`);
      return { instance: name, previous: res.previous, priority };
    },
    reload: async (_params: unknown, ctx: RequestContext): Promise<ReloadResult> => {
      try {
        return await d.reload(requester(ctx));
      } catch (err) {
        if (err instanceof ConfigRejected) throw new ControlError('CONFIG', err.errors.join('\n'));
        throw err;
      }
    },
  };
}
