/**
 * The server side of `bench smpp`, run in a child process so that client and server each have a
 * core: sluice's SmppServer answering every submit_sm at once. Talks to the parent over IPC.
 */
import { SmppServer } from '../src/smpp/index.js';

const server = new SmppServer({
  authenticate: () => 0,
  session: { window: 1000, inboundWindow: 100_000, enquireLinkIntervalMs: 0 },
});
let id = 0x10000000;
server.on('bound', (session) => {
  session.on('request', (pdu) => {
    session.respond(pdu, { message_id: (id++).toString(16) });
  });
});

const { port } = await server.listen(0, '127.0.0.1');
const cpuAtStart = process.cpuUsage();
process.send?.({ type: 'ready', port });
process.on('message', (m: { type: string }) => {
  if (m.type === 'stats') {
    const cpu = process.cpuUsage(cpuAtStart);
    process.send?.({
      type: 'stats',
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      peakRssMb: process.resourceUsage().maxRSS / 1024,
    });
  } else if (m.type === 'exit') {
    process.exit(0);
  }
});
