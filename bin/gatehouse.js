#!/usr/bin/env node
// The `gatehouse` command. dist/ is compiled by `npm install` in a clone (postprepare) and shipped in the package (prepack).
import { main } from '../dist/cli/main.js';

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  },
);
