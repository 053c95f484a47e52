#!/usr/bin/env node
// Compiles assembly/kernels.ts (AssemblyScript) to build/kernels.wasm with the compiler in
// node_modules. Run by `npm run build:wasm`. Pass --wat to also write build/kernels.wat.
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import asc from 'assemblyscript/asc';

const root = fileURLToPath(new URL('..', import.meta.url));
// asc resolves the entry file against the working directory: work from the project root
process.chdir(root);
mkdirSync('build', { recursive: true });

const args = [
  'assembly/kernels.ts',
  '--outFile',
  'build/kernels.wasm',
  '-O3',
  '--noAssert',
  '--runtime',
  'stub',
  '--enable',
  'simd,threads',
  // the memory is the arena's: imported, shared, up to the whole 4 GiB wasm32 address space
  '--importMemory',
  '--sharedMemory',
  '--initialMemory',
  '1',
  '--maximumMemory',
  '65536',
  '--noExportMemory',
];
if (process.argv.includes('--wat')) args.push('--textFile', 'build/kernels.wat');

let errors = '';
const { error } = await asc.main(args, {
  stdout: {
    write() {
      return true;
    },
  },
  stderr: {
    write(s) {
      errors += String(s);
      return true;
    },
  },
});
if (error) {
  process.stderr.write(errors);
  process.stderr.write(`build-wasm: ${error.message}\n`);
  process.exit(1);
}
