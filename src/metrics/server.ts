/**
 * The /metrics HTTP endpoint. GET (and HEAD) /metrics only; anything else is
 * 404 (or 405 for another method on /metrics). It binds exactly the
 * configured address; a non-loopback one is allowed (the operator asked for
 * it) but logged as a warning, since the metrics name every VIP and backend.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { isLoopback, parseListenAddress, type ListenAddress } from './listen-address.js';

export interface MetricsSource {
  metrics(): Promise<string>;
  readonly contentType: string;
}

export class MetricsServer {
  readonly #source: MetricsSource;
  readonly #address: ListenAddress;
  readonly #logger: Pick<Logger, 'warn' | 'error' | 'info'> | undefined;
  #server: Server | undefined;

  constructor(source: MetricsSource, address: ListenAddress | string, logger?: Pick<Logger, 'warn' | 'error' | 'info'>) {
    this.#source = source;
    this.#address = typeof address === 'string' ? parseListenAddress(address) : address;
    this.#logger = logger;
  }

  /** Resolves with the bound address (port 0 picks a free one, for tests). */
  async listen(): Promise<ListenAddress> {
    if (this.#server) throw new Error('metrics server already listening');
    const { host, port } = this.#address;
    if (!isLoopback(host)) {
      this.#logger?.warn(
        { host, port },
        `metrics endpoint listens on non-loopback address ${host || '*'}:${port}; it exposes service and backend names to that network`,
      );
    }
    const server = createServer((req, res) => void this.#handle(req, res));
    // A scrape is one small request: slow or idle clients are cut off early.
    server.headersTimeout = 10_000;
    server.requestTimeout = 15_000;
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.#server = server;
    const bound = server.address() as AddressInfo;
    this.#logger?.info({ host: bound.address, port: bound.port }, 'metrics endpoint listening');
    return { host: bound.address, port: bound.port };
  }

  async close(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found; metrics are at /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
      return;
    }
    try {
      const body = await this.#source.metrics();
      res.writeHead(200, { 'content-type': this.#source.contentType });
      res.end(req.method === 'HEAD' ? undefined : body);
    } catch (err) {
      this.#logger?.error({ err }, 'collecting metrics failed');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('collecting metrics failed\n');
    }
  }
}
