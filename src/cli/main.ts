#!/usr/bin/env node
/**
 * The `nitamono` command: one module per command under ./commands, each only parsing options,
 * calling the library and printing. Registration order is the order `nitamono --help` lists them.
 */
import { Command } from 'commander';
import { registerAnnBenchCommand } from './commands/ann-bench.js';
import { registerAnnBuildCommand } from './commands/ann-build.js';
import { registerAnnSearchCommand } from './commands/ann-search.js';
import { registerDemoCommand } from './commands/demo.js';
import { registerDuplicatesCommand } from './commands/duplicates.js';
import { registerEvalCommand } from './commands/eval.js';
import { registerIndexCommand } from './commands/index.js';
import { registerInfoCommand } from './commands/info.js';
import { registerLearnCommand } from './commands/learn.js';
import { registerSearchCommand } from './commands/search.js';
import { registerServeCommand } from './commands/serve.js';
import { registerShardCommand } from './commands/shard.js';
import { registerTrainQuantizerCommand } from './commands/train-quantizer.js';
import { registerWorkerCommand } from './commands/worker.js';
import { runCli } from './run.js';

const program = new Command();
program.name('nitamono').description('似たもの — find similar images: colour histograms or deep features, exact or inverted-file search').version('0.1.0');
for (const register of [
  registerAnnBenchCommand,
  registerAnnBuildCommand,
  registerAnnSearchCommand,
  registerIndexCommand,
  registerSearchCommand,
  registerEvalCommand,
  registerLearnCommand,
  registerDuplicatesCommand,
  registerInfoCommand,
  registerDemoCommand,
  registerServeCommand,
  registerShardCommand,
  registerTrainQuantizerCommand,
  registerWorkerCommand,
]) {
  register(program);
}
await runCli(program);
