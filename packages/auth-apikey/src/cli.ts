#!/usr/bin/env node
import { runGenerateCommand } from './generate-command.js';

process.exitCode = runGenerateCommand(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
});
