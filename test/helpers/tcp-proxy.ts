/**
 * A TCP proxy in front of the test PostgreSQL for network faults: `stall()` stops forwarding bytes
 * in both directions while every connection stays open (a middlebox that hangs, no reset), and new
 * connections are accepted but never reach the server; `reset()` cuts every connection with a TCP
 * reset and refuses new ones (the database as a crashed server looks to its clients).
 */
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  /** The database URL, pointing through the proxy. */
  url: string;
  stall(): void;
  reset(): Promise<void>;
  /** Ends everything (the server sees its clients go away). */
  close(): Promise<void>;
}

export async function startTcpProxy(databaseUrl: string): Promise<TcpProxy> {
  const target = new URL(databaseUrl);
  const sockets = new Set<Socket>();
  let stalled = false;
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  };
  const server: Server = createServer((client) => {
    track(client);
    if (stalled) {
      client.pause();
      return;
    }
    const upstream = createConnection({ host: target.hostname, port: Number(target.port || 5432) });
    track(upstream);
    // Forwarding by hand (not pipe) so that stall() can stop it without closing anything.
    const forward = (from: Socket, to: Socket) => {
      from.on('data', (chunk: Buffer) => {
        if (!stalled) to.write(chunk);
      });
    };
    forward(client, upstream);
    forward(upstream, client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const proxied = new URL(databaseUrl);
  proxied.hostname = '127.0.0.1';
  proxied.port = String((server.address() as AddressInfo).port);
  const stopListening = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return {
    url: proxied.toString(),
    stall() {
      stalled = true;
    },
    async reset() {
      const closing = stopListening();
      for (const socket of sockets) socket.resetAndDestroy();
      await closing;
    },
    async close() {
      const closing = server.listening ? stopListening() : Promise.resolve();
      for (const socket of sockets) socket.destroy();
      await closing;
    },
  };
}
