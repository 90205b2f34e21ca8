/**
 * The sockets of a run's main-thread connections, so that an abort can cut them at once: on a
 * stalled network, a query (or pg's polite end) would otherwise wait for an answer that never comes.
 */
import { Socket } from 'node:net';
import type pg from 'pg';

export class SocketRegistry {
  private readonly open = new Set<Socket>();

  /** The config with a socket factory that registers every socket pg opens with it. */
  track(config: pg.ClientConfig): pg.ClientConfig {
    return {
      ...config,
      stream: () => {
        const socket = new Socket();
        this.open.add(socket);
        socket.once('close', () => this.open.delete(socket));
        return socket;
      },
    };
  }

  /** Destroys every open socket: pending queries fail now, and the server rolls back their transactions. */
  destroyAll(): void {
    for (const socket of this.open) socket.destroy();
    this.open.clear();
  }
}
