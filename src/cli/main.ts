#!/usr/bin/env node
/** The `nitamono` command. Each group of commands lives in its own module and only calls the library. */
import { Command } from 'commander';
import { registerAnnCommands } from './ann.js';
import { registerImageCommands } from './images.js';
import { registerServeCommand } from './serve.js';
import { runCli } from './run.js';

const program = new Command();
program
  .name('nitamono')
  .description('似たもの — find similar images: colour histograms or deep features, exact or inverted-file search')
  .version('0.1.0');
registerAnnCommands(program);
registerImageCommands(program);
registerServeCommand(program);
await runCli(program);
