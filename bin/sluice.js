#!/usr/bin/env -S node --max-semi-space-size=64
// --max-semi-space-size: a young generation big enough for the objects each message makes in
// flight (see the README, "Running the gateway"); npm start and the Dockerfile give it too.
// Runs the compiled CLI when the package is built (dist/), else the TypeScript sources through tsx
// (a development checkout, where `npm install` brought tsx).
import { existsSync } from 'node:fs';

const dist = new URL('../dist/cli/main.js', import.meta.url);
if (existsSync(dist)) {
  await import(dist.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(new URL('../src/cli/main.ts', import.meta.url).href);
}
