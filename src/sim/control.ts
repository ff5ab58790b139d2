/**
 * The simulator's control port: one command per line, one answer line per command, for a person
 * with `nc` or a script.
 *
 *   MO <from> <to> <text>                  inject an MO message (split into parts when long)
 *   MO ORDER=3,1,2 <from> <to> <text>      the same, parts sent in the given order
 *   STATS                                  counters as one JSON line
 *   HELP, QUIT
 *
 * Lines are bounded (8 KiB) and a connection that sends ten bad commands is closed, as
 * smtp-server does with unrecognised commands.
 */
import net, { type AddressInfo, type Socket } from 'node:net';
import type { Simulator } from './simulator.js';

const MAX_LINE = 8 * 1024;
const MAX_BAD = 10;

const HELP = 'OK commands: MO [ORDER=n,n,...] <from> <to> <text> | STATS | HELP | QUIT';

export interface ControlPort {
  address: AddressInfo;
  close(): Promise<void>;
}

/** The answer to one command line, and whether it was a bad command. */
export function runControlCommand(
  sim: Simulator,
  line: string,
): { reply: string; bad: boolean; quit?: true } {
  const trimmed = line.trim();
  const space = trimmed.indexOf(' ');
  const verb = (space === -1 ? trimmed : trimmed.slice(0, space)).toUpperCase();
  const rest = space === -1 ? '' : trimmed.slice(space + 1);
  switch (verb) {
    case 'HELP':
      return { reply: HELP, bad: false };
    case 'QUIT':
      return { reply: 'OK bye', bad: false, quit: true };
    case 'STATS':
      return { reply: `OK ${JSON.stringify(sim.stats())}`, bad: false };
    case 'MO': {
      const m = /^(?:ORDER=([\d,]+)\s+)?(\S+)\s+(\S+)\s(.+)$/s.exec(rest);
      if (!m) return { reply: 'ERR usage: MO [ORDER=n,n,...] <from> <to> <text>', bad: true };
      const [, order, from, to, text] = m;
      try {
        const parts = sim.injectMo({
          from: from!,
          to: to!,
          text: text!,
          ...(order ? { order: order.split(',').map(Number) } : {}),
        });
        return { reply: `OK queued ${parts} part${parts === 1 ? '' : 's'}`, bad: false };
      } catch (err) {
        return { reply: `ERR ${(err as Error).message}`, bad: true };
      }
    }
    case '':
      return { reply: 'ERR empty command', bad: true };
    default:
      return { reply: `ERR unknown command ${verb.slice(0, 32)}; try HELP`, bad: true };
  }
}

function serve(sim: Simulator, socket: Socket): void {
  let buffered = '';
  let bad = 0;
  socket.setEncoding('utf8');
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk: string) => {
    buffered += chunk;
    for (let nl = buffered.indexOf('\n'); nl !== -1; nl = buffered.indexOf('\n')) {
      const line = buffered.slice(0, nl).replace(/\r$/, '');
      buffered = buffered.slice(nl + 1);
      const r = runControlCommand(sim, line);
      socket.write(`${r.reply}\n`);
      if (r.quit) {
        socket.end();
        return;
      }
      if (r.bad && ++bad >= MAX_BAD) {
        socket.end('ERR too many bad commands\n');
        return;
      }
    }
    if (buffered.length > MAX_LINE) socket.end(`ERR line longer than ${MAX_LINE} bytes\n`);
  });
}

export function startControlPort(sim: Simulator, host: string, port: number): Promise<ControlPort> {
  const sockets = new Set<Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    serve(sim, socket);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve({
        address: server.address() as AddressInfo,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}
