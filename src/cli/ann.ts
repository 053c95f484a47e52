import type { Command } from 'commander';

// Placeholder until this command group lands; it registers nothing.
export function registerAnnCommands(_program: Command): void {}
