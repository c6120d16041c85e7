#!/usr/bin/env node
/** The `raftkit` command's entry point; the commands live in src/cli/. */
import { runCli } from './cli/main.js';

const io = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env };

runCli(process.argv.slice(2), io).then(
  (code) => (process.exitCode = code),
  (error: Error) => {
    process.stderr.write(`raftkit: ${error.message}\n`);
    process.exitCode = 1;
  },
);
