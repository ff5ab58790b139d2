#!/usr/bin/env node
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
