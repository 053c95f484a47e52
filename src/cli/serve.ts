import type { Command } from 'commander';

// Placeholder until this command group lands; it registers nothing.
export function registerServeCommand(_program: Command): void {}
